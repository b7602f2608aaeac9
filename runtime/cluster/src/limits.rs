//! Every capacity and period of a cluster node, in one place.

use worknode_raft::limits::MAX_NODES;

/// The Raft log's batch buffer: the most one group commit writes at once.
pub const BATCH: usize = 16 * 1024;

/// Ready rounds one [`crate::node::Node::pump`] runs at most; each round
/// persists, sends and applies one ready.
pub const PUMP_ROUNDS: usize = 8;

/// Entries applied between snapshots: the window (1024 entries) never
/// fills while a majority is up.
pub const COMPACT_EVERY: u64 = 256;

/// Bytes of an encoded ledger: count, duplicates, hash, and the last
/// sequence number of each proposer.
pub const LEDGER_BYTES: usize = 8 + 8 + 32 + 8 * MAX_NODES;

/// Bytes of a proposal's head: proposer and sequence number.
pub const PROPOSAL_HEAD: usize = 1 + 8;

const _: () = assert!(
    COMPACT_EVERY * 2 <= worknode_raft::limits::LOG_WINDOW as u64,
    "compaction keeps the window half free"
);
const _: () =
    assert!(LEDGER_BYTES <= worknode_raft::limits::SNAPSHOT_CHUNK, "a ledger's snapshot is one chunk");
