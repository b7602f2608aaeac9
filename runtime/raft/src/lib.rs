//! Worknode's Raft consensus core.
//!
//! `no_std`, allocation-free and sans IO, in the style of etcd-raft: the
//! caller feeds in clock ticks, messages from peers and reports of what it
//! persisted, and takes out messages to send, state to persist and
//! committed entries to apply ([`Raft`], [`Ready`]). The same code runs in
//! a PD, in the deterministic cluster simulator (`tools/raft-sim`) and in
//! the benchmark.
//!
//! What it implements: leader election with pre-vote and check-quorum,
//! log replication with batching, pipelining and per-follower flow control,
//! commit and apply, snapshots and log compaction, one-server-at-a-time
//! membership changes, learners, leadership transfer, and linearizable
//! reads by ReadIndex (lease reads only behind an explicit clock-drift
//! bound). Persistence goes through Worknode's event log ([`storage`]).
//! docs/raft.md describes the protocol choices and their reasons.
#![no_std]
#![forbid(unsafe_code)]

pub mod config;
pub mod limits;
pub mod log;
pub mod message;
pub mod progress;
mod raft;
pub mod storage;
pub mod types;

#[cfg(feature = "broken-variants")]
pub use crate::config::Broken;
pub use crate::config::{Config, ConfigError, ReadMode};
pub use crate::message::{Body, DecodeError, Message};
pub use crate::raft::{Raft, ReadState, Ready, Refused, Rejected, Role, Stats};
pub use crate::types::{
    ConfChange, ConfChangeError, Entry, EntryKind, HardState, Index, Membership, NodeId, Snapshot,
    SnapshotMeta, Term,
};
