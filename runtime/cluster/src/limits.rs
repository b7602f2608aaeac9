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

/// Bytes of an encoded ledger: its magic and version, count, duplicates,
/// hash, and the last sequence number of each proposer.
pub const LEDGER_BYTES: usize = 8 + 8 + 8 + 32 + 8 * MAX_NODES;

/// Bytes of the Raft PD's journal (`crate::journal`): the most recent
/// proposals taken, which the state machine keeps and its snapshots carry.
/// 1.25 MiB: `make test-cluster` moves a snapshot of more than 1 MiB
/// (some 1,700 chunks) to its wiped node. What it took on QEMU: a leader
/// that holds its compaction while a follower catches up
/// (`Raft::follower_catching_up`); before it, a follower that installed a
/// snapshot that size was cut off again by the compaction that followed
/// and sent snapshot after snapshot. The cost: every compaction writes the
/// whole state, some 4.8 KiB of snapshot per entry applied at
/// [`COMPACT_EVERY`] (64 KiB gave 0.25 KiB).
pub const JOURNAL_BYTES: usize = 1280 * 1024;

/// Proposals of one node in flight at once (`crate::proposer`): as many
/// as the governor's queue to the Raft PD holds.
pub const PIPELINE: usize = 8;

/// Ticks (10 ms on the nodes) without an acknowledgement after which the
/// proposals in flight are proposed again, and the resume read asked
/// again.
pub const RETRY_TICKS: u32 = 50;

/// Worknodes' reads waiting at once on a node (`crate::reader`): as many
/// as the governor's table of Strong tickets lets one worknode hold.
pub const READS: usize = 8;

/// This node's own proposals whose log index a node remembers
/// (`Node::taken_index`): more than are in flight at once.
pub const OWN_TAKEN: usize = 16;

/// Bytes of a proposal's head: proposer and sequence number.
pub const PROPOSAL_HEAD: usize = 1 + 8;

const _: () = assert!(
    COMPACT_EVERY * 2 <= worknode_raft::limits::LOG_WINDOW as u64,
    "compaction keeps the window half free"
);
const _: () = assert!(LEDGER_BYTES <= worknode_raft::limits::SNAPSHOT_CHUNK, "a ledger's head is one chunk");
const _: () = assert!(JOURNAL_BYTES >= crate::journal::MIN_JOURNAL, "the PD's journal takes every record");
const _: () = assert!(OWN_TAKEN >= 2 * PIPELINE, "the index of every proposal in flight is remembered");
const _: () = assert!(
    READS < worknode_raft::limits::MAX_READS,
    "a node keeps its resume read and every worknode read confirmed at once"
);
