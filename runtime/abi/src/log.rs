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
use crate::strong::Applied;

/// Largest record payload that travels in one call (the frame is 512
/// bytes; the on-disk format allows up to 1024).
pub const MAX_RECORD: usize = 384;
/// Longest worknode name in an [`EventRecord`].
pub const MAX_SOURCE: usize = 32;
/// Version of the [`EventRecord`] envelope.
pub const EVENT_RECORD_VERSION: u8 = 1;
/// Version of the [`ReplicatedRecord`] envelope, its first byte: apart
/// from every other envelope's (1: [`EventRecord`], 2 and 3:
/// `crate::audit::AuditRecord`), so a reader tells them apart.
pub const REPLICATED_RECORD_VERSION: u8 = 16;

/// The largest encoded [`ReplicatedRecord`]: its version, then the
/// largest `Applied`.
pub const MAX_REPLICATED_RECORD: usize = 1 + crate::strong::MAX_APPLIED;

const _: () = assert!(MAX_REPLICATED_RECORD <= MAX_RECORD, "a replicated event's record fits one append");

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
    /// Bind the log to node `node` of the cluster the log PD was built
    /// for, as soon as the governor has learned its node's number and
    /// before it writes anything: a log of any node of the cluster is
    /// bound (its superblock says so from now on), one of `node` stays as
    /// it is, and one of another node is refused (`denied`) and from then
    /// on every request is (docs/log-format.md, "The owner"). Answered
    /// [`LogReply::Claimed`].
    Claim {
        /// This node's number in the cluster.
        node: u16,
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
    /// Answer to `Claim`: the log is this node's.
    Claimed,
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

/// The payload the governor writes for each Strong event the cluster
/// committed and this node applied, its own worknodes' and the other
/// nodes' alike: the event, as the Raft PD delivered it. Not a decision
/// (it was decided and audited by the proposer's governor, on its node):
/// a copy of the cluster's order, so every node's event log holds the
/// same events under the same numbers (`worknode log replicated` lists
/// them). Numbers only grow along a log; one missing says the node
/// learned those events from a Raft snapshot and never held them one by
/// one (a node that joined late, or was behind by more than its Raft
/// PD's journal).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicatedRecord<'a> {
    /// [`REPLICATED_RECORD_VERSION`].
    pub version: u8,
    /// The event.
    #[serde(borrow)]
    pub applied: Applied<'a>,
}

impl<'a> ReplicatedRecord<'a> {
    /// Decodes a log payload; `None` unless it is exactly a replicated
    /// event's record (canonical, of this version, its event's too).
    pub fn decode(payload: &'a [u8]) -> Option<ReplicatedRecord<'a>> {
        if payload.first() != Some(&REPLICATED_RECORD_VERSION) {
            return None;
        }
        let record: ReplicatedRecord<'a> = crate::frame::decode_canonical(payload).ok()?;
        (record.applied.version == crate::strong::STRONG_VERSION).then_some(record)
    }

    /// Encodes into `buf` (at most [`MAX_RECORD`] bytes suffice),
    /// returning the used prefix.
    pub fn encode<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8], ErrorCode> {
        crate::frame::encode_body(self, buf)
    }
}
