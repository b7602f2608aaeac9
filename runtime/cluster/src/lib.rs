//! The Raft PD's logic, sans IO: one node of a Worknode cluster.
//!
//! [`node::Node`] owns the Raft core (`worknode_raft`), its durable state
//! in the Raft log's part of the disk (`worknode_raft::storage` over any
//! [`worknode_log::BlockDevice`]) and the replicated state machine
//! ([`ledger::Ledger`] and its [`journal::Journal`]), and runs the ready loop the simulator proves:
//! persist, then send, then apply; [`proposer::Proposer`] numbers this
//! node's proposals and keeps a few in flight. `pds/raft` is the glue that hands it
//! the disk, the network and the clock; the tests here drive three nodes
//! through lost messages and restarts on the host.

#![no_std]
#![forbid(unsafe_code)]

pub mod journal;
pub mod ledger;
pub mod limits;
pub mod node;
pub mod proposer;
pub mod reader;
