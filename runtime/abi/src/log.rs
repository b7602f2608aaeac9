//! The log PD's protected procedure: how the governor appends to and reads
//! from the node's event log.
//!
//! Only the governor has a channel to the log PD; worknodes reach the log
//! through [`crate::governor::Request::Record`], and the governor writes
//! each event wrapped in an [`EventRecord`] naming the worknode (from the
//! channel it called on, never from the request).
//!
//! Durability: [`LogRequest::Append`], [`LogRequest::AppendReserved`] and
//! [`LogRequest::Sync`] reply only after the log's batch write *and* the
//! device flush completed. [`LogRequest::AppendLater`] only numbers the
//! record; a later `Append` or `Sync` makes it durable together with
//! everything before it (group commit: many appends, one flush).
//!
//! Room: the log keeps a reserve of its space for
//! [`LogRequest::AppendReserved`], which the governor uses for the
//! principal's stops, so they are recorded even when the log refuses
//! ordinary appends as full (docs/log-format.md, "Retention").
//!
//! A log PD that found no usable log on its disk answers every request,
//! `Status` included, with the error that says why (`corrupt`,
//! `invalid-state` for a disk that holds something else, `io`), and leaves
//! the disk as it was.
//!
//! Variants are only ever appended: their position is their wire tag.

use heapless::{String, Vec};
use serde::{Deserialize, Serialize};

use crate::ErrorCode;
use crate::governor::MAX_EVENT;

/// Largest record payload that travels in one call (the frame is 512
/// bytes; the on-disk format allows up to 1024).
pub const MAX_RECORD: usize = 384;
/// Longest worknode name in an [`EventRecord`].
pub const MAX_SOURCE: usize = 32;
/// Version of the [`EventRecord`] envelope.
pub const EVENT_RECORD_VERSION: u8 = 1;

/// Which part of the log's free space an append may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Room {
    /// Everything but the reserve.
    Ordinary,
    /// The reserve too: for the records that must land when nothing else
    /// can (the principal's stops; [`LogRequest::AppendReserved`]).
    Reserved,
}

/// An operation the governor asks of the log PD.
// The payload variants make the enum ~400 bytes; without an allocator there
// is no boxing, and a request lives on the stack once per call.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogRequest {
    /// Append a record and reply once it is durable.
    Append {
        /// The record's payload.
        #[serde(with = "crate::bytes")]
        payload: Vec<u8, MAX_RECORD>,
    },
    /// Append a record to the pending batch and reply at once.
    AppendLater {
        /// The record's payload.
        #[serde(with = "crate::bytes")]
        payload: Vec<u8, MAX_RECORD>,
    },
    /// Make every appended record durable.
    Sync,
    /// Read a durable record.
    Read {
        /// Its sequence number.
        seq: u64,
    },
    /// Report the log's counters.
    Status,
    /// Append a record and reply once it is durable, using the reserved
    /// room if the rest is full: for the principal's stops only.
    AppendReserved {
        /// The record's payload.
        #[serde(with = "crate::bytes")]
        payload: Vec<u8, MAX_RECORD>,
    },
}

/// A successful answer from the log PD.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogReply {
    /// Answer to `Append` and `AppendLater`.
    Appended {
        /// The record's sequence number.
        seq: u64,
        /// Every record up to this one is durable.
        durable: u64,
    },
    /// Answer to `Sync`.
    Synced {
        /// Every record up to this one is durable.
        durable: u64,
    },
    /// Answer to `Read`.
    Record {
        /// The record's sequence number.
        seq: u64,
        /// Its payload.
        #[serde(with = "crate::bytes")]
        payload: Vec<u8, MAX_RECORD>,
    },
    /// Answer to `Status`.
    Status {
        /// Last sequence number handed out.
        last_seq: u64,
        /// Last durable sequence number.
        durable: u64,
        /// Last sequence number found at boot.
        recovered: u64,
        /// The log's identity (from its superblock).
        log_id: u64,
    },
}

/// What the log PD sends back for every call.
pub type LogResponse = Result<LogReply, ErrorCode>;

/// The payload the governor writes for a worknode's `Record` request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// [`EVENT_RECORD_VERSION`].
    pub version: u8,
    /// The worknode that recorded it.
    pub source: String<MAX_SOURCE>,
    /// The event as the worknode sent it.
    #[serde(with = "crate::bytes")]
    pub event: Vec<u8, MAX_EVENT>,
}
