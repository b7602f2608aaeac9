//! Every capacity in the Raft core, in one place.
//!
//! The core allocates nothing: each structure below is a fixed-capacity
//! `heapless` container sized by these constants, and every loop is bounded
//! by one of them. A PD that embeds a node pays for all of them up front
//! (about 160 KiB per node with these values, dominated by the log window).
//! Rejected alternative: const generics on `Raft`, which would let each user
//! pick sizes but spread seven parameters through every type signature and
//! make the wire format depend on a caller's choice.

/// Voters plus learners in one cluster, including this node.
pub const MAX_NODES: usize = 7;
/// Bytes of application data in one log entry.
pub const MAX_DATA: usize = 64;
/// Entries in one append message.
pub const MAX_BATCH: usize = 32;
/// Entries held in memory after the last snapshot. The application compacts
/// (snapshots) to make room; a leader whose window is full refuses proposals.
pub const LOG_WINDOW: usize = 1024;
/// Append messages in flight to one follower in the replicate state.
pub const MAX_INFLIGHT: usize = 16;
/// Messages produced between two [`crate::Raft::ready`] calls.
pub const MAX_OUTBOX: usize = 64;
/// Linearizable reads waiting for a quorum's confirmation.
pub const MAX_READS: usize = 32;
/// Bytes of application state in one snapshot. A snapshot travels as one
/// message and is stored as one event-log record, so it must fit both.
pub const MAX_SNAPSHOT: usize = 768;
