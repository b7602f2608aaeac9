//! Strong events between the governor and the node's Raft PD.
//!
//! A worknode's `RecordStrong` (`crate::governor::Request::RecordStrong`)
//! is decided and audited by the governor, then handed to the Raft PD as a
//! [`Proposal`] on a message queue (`worknode_netq::messages`, the same
//! rings as a network client's, in a region only these two PDs map: the
//! governor is the client, the Raft PD the server). The Raft PD answers
//! twice:
//!
//! - when it takes the proposal off the ring: the buffer comes back on
//!   `tx_free` with the sequence number Raft will know it by (its
//!   `QueuedHeader`'s `seq`), or refused with the error (`malformed`: the
//!   proposal did not decode; `too-large`). Proposals are taken in ring
//!   order, a few in flight at a time (`worknode_cluster::limits::PIPELINE`):
//!   the rest stay on the ring until one in flight is committed
//!   (back-pressure to the governor, and through it to the worknode:
//!   nothing is dropped);
//! - when the proposal is committed and applied on this node: an
//!   [`Outcome`] arrives on `rx_active` (its header's `seq` is the same
//!   sequence number, its `peer` [`OUTCOME`]).
//!
//! A worknode's read of a Strong event (`crate::governor::Request::ReadStrong`)
//! goes the same way as a [`ReadRequest`] (its queued message's `to` is
//! [`READ`]; a proposal's is 0): taken in ring order and answered on
//! `tx_free` like a proposal, then confirmed by ReadIndex and answered
//! with a [`ReadAnswer`] on `rx_active` (`peer` [`READ_ANSWER`]) once
//! this node has applied up to the confirmed index.
//!
//! And every Strong event the cluster commits, this node's and the other
//! nodes', arrives once applied here as an [`Applied`] on `rx_active`
//! (`peer` [`APPLIED`], `seq` its number), in the cluster's order, for
//! the governor to write to this node's event log. The Raft PD waits for
//! the governor's buffers (and its state machine stops applying while the
//! governor is behind): back-pressure, nothing dropped.
//!
//! Neither end trusts the other's bytes: both decode canonically and drop
//! (counting them) what does not decode or names a ticket they do not
//! hold. Variants are only ever appended; a change of layout is a new
//! [`STRONG_VERSION`].

use serde::{Deserialize, Serialize};

use crate::ErrorCode;
use crate::bounded::Bytes;
use crate::governor::MAX_EVENT;

/// The version of [`Proposal`]'s and [`Outcome`]'s layouts, their first
/// byte; an end drops messages of another version.
pub const STRONG_VERSION: u8 = 1;

/// The largest encoded [`Proposal`]: version 1, worknode 3, ticket 10,
/// the event's length 2 and the event.
pub const MAX_PROPOSAL: usize = 1 + 3 + 10 + 2 + MAX_EVENT;

/// The largest encoded [`Outcome`]: version 1, worknode 3, ticket 10,
/// index 10.
pub const MAX_OUTCOME: usize = 1 + 3 + 10 + 10;

/// The largest encoded [`Applied`]: version 1, number 10, proposer 1,
/// seq 10, worknode 3, the event's length 2 and the event.
pub const MAX_APPLIED: usize = 1 + 10 + 1 + 10 + 3 + 2 + MAX_EVENT;

/// The largest encoded [`ReadRequest`]: version 1, worknode 3, ticket
/// 10, number 10.
pub const MAX_READ_REQUEST: usize = 1 + 3 + 10 + 10;

/// The largest encoded [`ReadAnswer`]: version 1, worknode 3, ticket 10,
/// number 10, count 10, index 10, then the largest [`ReadFound`]: its tag
/// 1, proposer 1, seq 10, worknode 3, the event's length 2 and the event.
pub const MAX_READ_ANSWER: usize = 1 + 3 + 10 + 10 + 10 + 10 + 1 + 1 + 10 + 3 + 2 + MAX_EVENT;

/// `rx_active`'s `peer` for an [`Outcome`].
pub const OUTCOME: u8 = 0;
/// `rx_active`'s `peer` for an [`Applied`].
pub const APPLIED: u8 = 1;
/// `rx_active`'s `peer` for a [`ReadAnswer`].
pub const READ_ANSWER: u8 = 2;
/// The queued message's `to` for a [`ReadRequest`] (0 for a [`Proposal`]).
pub const READ: u8 = 1;

const _: () = assert!(MAX_PROPOSAL <= crate::net::MAX_QUEUED_BODY, "a proposal fits a queued message");
const _: () = assert!(MAX_APPLIED <= crate::net::MAX_QUEUED_BODY, "an applied event fits a queued message");
const _: () =
    assert!(MAX_READ_ANSWER <= crate::net::MAX_QUEUED_BODY, "a read's answer fits a queued message");

/// A Strong event, from the governor to the Raft PD.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal<'a> {
    /// [`STRONG_VERSION`].
    pub version: u8,
    /// The recording worknode's index on this node.
    pub worknode: u16,
    /// The governor's ticket for it.
    pub ticket: u64,
    /// The event.
    #[serde(borrow)]
    pub event: Bytes<'a, MAX_EVENT>,
}

/// A proposal's outcome, from the Raft PD to the governor: committed at
/// `index` and applied on this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// [`STRONG_VERSION`].
    pub version: u8,
    /// The recording worknode's index, as proposed.
    pub worknode: u16,
    /// The ticket, as proposed.
    pub ticket: u64,
    /// The Raft log index it was applied at (or the index of the snapshot
    /// this node learned it from).
    pub index: u64,
}

/// A Strong event the cluster committed, applied on this node: from the
/// Raft PD to the governor, which writes it to the event log (wrapped in a
/// [`crate::log::ReplicatedRecord`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied<'a> {
    /// [`STRONG_VERSION`].
    pub version: u8,
    /// Its place in the cluster's order of Strong events: 1, 2, 3, ...,
    /// the same on every node (the state machine's count of events taken).
    pub number: u64,
    /// The node that proposed it (0-based, as the network numbers nodes).
    pub proposer: u8,
    /// The proposer's sequence number for it.
    pub seq: u64,
    /// The recording worknode's index on the proposer's node.
    pub worknode: u16,
    /// The event.
    #[serde(borrow)]
    pub event: Bytes<'a, MAX_EVENT>,
}

/// A worknode's read of the cluster's Strong event `number`, from the
/// governor to the Raft PD (decided and audited by the governor first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadRequest {
    /// [`STRONG_VERSION`].
    pub version: u8,
    /// The reading worknode's index on this node.
    pub worknode: u16,
    /// The governor's ticket for it.
    pub ticket: u64,
    /// The event's number (1 is the cluster's first).
    pub number: u64,
}

/// What a read found under its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReadFound<'a> {
    /// The event, as [`Applied`] names it.
    Event {
        /// The node that proposed it (0-based).
        proposer: u8,
        /// The proposer's sequence number for it.
        seq: u64,
        /// The recording worknode's index on the proposer's node.
        worknode: u16,
        /// The event.
        #[serde(borrow)]
        event: Bytes<'a, MAX_EVENT>,
    },
    /// The cluster had committed fewer events than the number.
    NotYet,
    /// Committed, but older than the Raft PD's journal holds: it is in
    /// this node's event log (a `ReplicatedRecord`), unless this node
    /// learned it from a snapshot.
    Gone,
}

/// A read's answer, from the Raft PD to the governor: confirmed with a
/// quorum (ReadIndex) and answered once this node applied up to the
/// confirmed index, so it reflects every Strong event committed before
/// the read was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadAnswer<'a> {
    /// [`STRONG_VERSION`].
    pub version: u8,
    /// The reading worknode's index, as asked.
    pub worknode: u16,
    /// The ticket, as asked.
    pub ticket: u64,
    /// The number, as asked.
    pub number: u64,
    /// Strong events the cluster had committed, as applied on this node.
    pub count: u64,
    /// The Raft log index applied on this node then.
    pub index: u64,
    /// What it found.
    #[serde(borrow)]
    pub found: ReadFound<'a>,
}

impl ReadRequest {
    /// Decodes a read request: the whole of `bytes`, canonical, of
    /// [`STRONG_VERSION`].
    pub fn decode(bytes: &[u8]) -> Result<ReadRequest, ErrorCode> {
        crate::frame::decode_versioned(bytes, STRONG_VERSION, |m: &ReadRequest| m.version)
    }

    /// Encodes the read request into `buf`, returning the bytes written.
    pub fn encode<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8], ErrorCode> {
        crate::frame::encode_body(self, buf)
    }
}

impl<'a> ReadAnswer<'a> {
    /// Decodes a read's answer: the whole of `bytes`, canonical, of
    /// [`STRONG_VERSION`].
    pub fn decode(bytes: &'a [u8]) -> Result<ReadAnswer<'a>, ErrorCode> {
        crate::frame::decode_versioned(bytes, STRONG_VERSION, |m: &ReadAnswer<'a>| m.version)
    }

    /// Encodes the answer into `buf`, returning the bytes written.
    pub fn encode<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8], ErrorCode> {
        crate::frame::encode_body(self, buf)
    }
}

impl<'a> Applied<'a> {
    /// Decodes an applied event: the whole of `bytes`, canonical, of
    /// [`STRONG_VERSION`].
    pub fn decode(bytes: &'a [u8]) -> Result<Applied<'a>, ErrorCode> {
        crate::frame::decode_versioned(bytes, STRONG_VERSION, |m: &Applied<'a>| m.version)
    }

    /// Encodes the applied event into `buf`, returning the bytes written.
    pub fn encode<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8], ErrorCode> {
        crate::frame::encode_body(self, buf)
    }
}

impl<'a> Proposal<'a> {
    /// Decodes a proposal: the whole of `bytes`, canonical, of
    /// [`STRONG_VERSION`].
    pub fn decode(bytes: &'a [u8]) -> Result<Proposal<'a>, ErrorCode> {
        crate::frame::decode_versioned(bytes, STRONG_VERSION, |m: &Proposal<'a>| m.version)
    }

    /// Encodes the proposal into `buf`, returning the bytes written.
    pub fn encode<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8], ErrorCode> {
        crate::frame::encode_body(self, buf)
    }
}

impl Outcome {
    /// Decodes an outcome: the whole of `bytes`, canonical, of
    /// [`STRONG_VERSION`].
    pub fn decode(bytes: &[u8]) -> Result<Outcome, ErrorCode> {
        crate::frame::decode_versioned(bytes, STRONG_VERSION, |m: &Outcome| m.version)
    }

    /// Encodes the outcome into `buf`, returning the bytes written.
    pub fn encode<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8], ErrorCode> {
        crate::frame::encode_body(self, buf)
    }
}
