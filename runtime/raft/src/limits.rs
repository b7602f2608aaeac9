//! Every capacity in the Raft core, in one place.
//!
//! The core allocates nothing: each structure below is a fixed-capacity
//! `heapless` container or array sized by these constants, and every loop
//! is bounded by one of them. A PD that embeds a node pays for all of them
//! up front (about 170 KiB per node with these values, 160 KiB of it the
//! window). Rejected alternative: const generics on `Raft`, which
//! would let each user pick sizes but spread seven parameters through every
//! type signature and make the wire format depend on a caller's choice.

use worknode_abi::log::MAX_RECORD;
use worknode_abi::net::{MAX_NET_BODY, MAX_QUEUED_BODY};

/// Voters plus learners in one cluster, including this node.
pub const MAX_NODES: usize = 7;
/// Bytes of application data in one log entry: a worknode's largest event
/// record ([`MAX_RECORD`]) plus the envelope a replicated event carries
/// (origin node, worknode, request), with room to spare.
pub const MAX_DATA: usize = 512;
/// Entries in one append message. Appends are also bounded in bytes
/// ([`crate::Config::max_append_bytes`]).
pub const MAX_BATCH: usize = 32;
/// Entries held in memory after the last snapshot. The application compacts
/// (snapshots) to make room; a leader whose window is full refuses proposals.
pub const LOG_WINDOW: usize = 1024;
/// Bytes of entry data held in memory after the last snapshot: the window
/// is full when either this or [`LOG_WINDOW`] is reached. 128 bytes per
/// entry on average, or 256 entries of [`MAX_DATA`].
///
/// Rejected: a fixed [`MAX_DATA`]-byte slot per entry, which costs 512 KiB
/// for a window of 1024 entries that mostly carry a few dozen bytes.
pub const WINDOW_BYTES: usize = 128 * 1024;
/// Append messages in flight to one follower in the replicate state.
pub const MAX_INFLIGHT: usize = 16;
/// Messages produced between two [`crate::Raft::ready`] calls.
pub const MAX_OUTBOX: usize = 64;
/// Linearizable reads waiting for a quorum's confirmation.
pub const MAX_READS: usize = 32;
/// Bytes of snapshot data in one message and in one stored chunk record.
/// A snapshot of any size travels as consecutive chunks of this size (the
/// last may be shorter), one in flight at a time, and is stored as one
/// record per chunk. A chunk's message fits one network call with a byte
/// to spare for the application's envelope: it was 896 bytes once, whose
/// messages (up to 1,043 bytes) the Raft PD's calls could not carry, so
/// no snapshot of more than one chunk reached a follower on QEMU.
pub const SNAPSHOT_CHUNK: usize = 736;
/// Largest encoded message. A leader cuts appends to
/// [`crate::Config::max_append_bytes`], at most this.
pub const MAX_WIRE: usize = MAX_QUEUED_BODY;
/// Bytes of an encoded append besides its entries: version, addresses,
/// term, kind, previous index and term, commit and entry count, each at
/// its longest varint.
pub const APPEND_OVERHEAD: usize = 1 + 3 * 10 + 1 + 3 * 10 + 2;
/// Bytes of one encoded entry besides its data: term, index, kind, length.
pub const ENTRY_OVERHEAD: usize = 10 + 10 + 1 + 3;
/// Bytes of an encoded snapshot chunk besides its data: version,
/// addresses, term, kind, the snapshot's position and membership (every
/// node at its longest varint), its length, the offset and the data's
/// length.
pub const CHUNK_OVERHEAD: usize = 1 + 3 * 10 + 1 + 2 * 10 + 2 + MAX_NODES * 10 + 2 * 10 + 3;

const _: () = assert!(MAX_RECORD + 64 <= MAX_DATA, "an event record and its envelope fit one entry");
const _: () = assert!(
    APPEND_OVERHEAD + ENTRY_OVERHEAD + MAX_DATA <= MAX_NET_BODY,
    "an append of one full entry fits a network call, whichever transport a PD picks"
);
const _: () = assert!(
    CHUNK_OVERHEAD + SNAPSHOT_CHUNK < MAX_NET_BODY,
    "a snapshot chunk fits a network call, with a byte for the application's envelope"
);
const _: () = assert!(MAX_NET_BODY <= MAX_WIRE, "a call's body is one message");
const _: () = assert!(MAX_DATA <= WINDOW_BYTES / 4, "the window holds several full entries");
