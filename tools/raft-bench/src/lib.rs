//! The workload `make bench-raft` runs, and our Raft's side of it.
//!
//! A three-node cluster in one process, one thread, messages encoded into
//! one reused buffer and decoded on delivery (our messages borrow entry
//! bytes from the sender's window, so they cannot outlive the sender's
//! turn; the encoding is what a PD sends anyway), storage in memory
//! (entries copied into a per-node store, as every in-memory storage of the
//! compared libraries does). The leader receives `batch` proposals of `payload` bytes at a
//! time and the cluster runs until the leader has applied all of them;
//! `ops` proposals in all. The same workload runs on openraft and raft-rs
//! in `benches/cluster.rs`.

use std::time::{Duration, Instant};

use worknode_raft::limits::MAX_WIRE;
use worknode_raft::{Config, HardState, Index, Membership, Message, NodeId, Raft, Role};

/// What every implementation runs.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    /// Proposals in all.
    pub ops: u64,
    /// Proposals handed to the leader before waiting for them to apply.
    pub batch: usize,
    /// Bytes per proposal.
    pub payload: usize,
    /// Entries per append message.
    pub entries_per_message: usize,
    /// Append messages in flight per follower.
    pub inflight: usize,
}

impl Workload {
    /// The workload of `make bench-raft` (its proposals split evenly over
    /// openraft's 256 clients).
    pub const STANDARD: Workload =
        Workload { ops: 204_800, batch: 64, payload: 32, entries_per_message: 32, inflight: 8 };
}

/// One node with its in-memory storage: each stored entry's index, term
/// and where its data starts in `data`.
struct Node {
    raft: Box<Raft>,
    stored: Vec<(Index, u64, usize)>,
    data: Vec<u8>,
    hard_state: HardState,
    applied: u64,
}

/// Messages in flight: their addressees and encodings, end to end in one
/// buffer.
#[derive(Default)]
struct Wire {
    bytes: Vec<u8>,
    spans: Vec<(NodeId, usize, usize)>,
}

/// Entries between snapshots: the window holds 1024 entries or 128 KiB of
/// data, and 256 entries of 256 bytes are half of that.
const COMPACT_EVERY: u64 = 256;

/// Runs the workload on our Raft; returns the time from the first proposal
/// to the last apply on the leader.
pub fn run_ours(w: Workload) -> Duration {
    let membership = Membership::with_voters(&[1, 2, 3]).expect("three voters");
    let mut nodes: Vec<Node> = (1..=3)
        .map(|id| {
            let mut cfg = Config::new(id);
            cfg.max_batch = w.entries_per_message;
            cfg.max_inflight = w.inflight;
            cfg.max_uncommitted = w.batch as u64 * 4;
            let raft = Box::new(Raft::new(cfg, membership.clone()).expect("valid config"));
            Node { raft, stored: Vec::new(), data: Vec::new(), hard_state: HardState::default(), applied: 0 }
        })
        .collect();
    let mut queue = Wire::default();
    nodes[0].raft.campaign_now();
    for _ in 0..10 {
        pump(&mut nodes, &mut queue);
    }
    assert_eq!(nodes[0].raft.role(), Role::Leader);
    let payload = vec![0xA5u8; w.payload];
    let start = Instant::now();
    let mut proposed = 0;
    let base = nodes[0].applied;
    while proposed < w.ops {
        let n = (w.ops - proposed).min(w.batch as u64);
        for _ in 0..n {
            nodes[0].raft.propose(&payload).expect("leader accepts");
        }
        proposed += n;
        // Bounded: each round delivers every message; a batch needs a few.
        for _ in 0..1000 {
            if nodes[0].applied - base >= proposed
                && nodes[0].raft.log().applied() >= nodes[0].raft.log().last_index()
            {
                break;
            }
            pump(&mut nodes, &mut queue);
        }
    }
    let elapsed = start.elapsed();
    // Not timed: let the followers learn the last commit, then check that
    // every node applied everything.
    for _ in 0..5 {
        pump(&mut nodes, &mut queue);
    }
    let last = nodes[0].raft.log().last_index();
    assert!(nodes[0].applied - base >= w.ops);
    for node in &nodes {
        assert_eq!(node.raft.log().applied(), last, "node {} applied everything", node.raft.id());
    }
    elapsed
}

/// One round: every node's ready loop, then every message delivered.
fn pump(nodes: &mut [Node], queue: &mut Wire) {
    for node in nodes.iter_mut() {
        while node.raft.has_ready() {
            let rd = node.raft.ready();
            if let Some(hs) = rd.hard_state {
                node.hard_state = hs;
            }
            if rd.persist.0 <= rd.persist.1 {
                let keep = node.stored.partition_point(|e| e.0 < rd.persist.0);
                node.data.truncate(node.stored.get(keep).map_or(node.data.len(), |e| e.2));
                node.stored.truncate(keep);
                for index in rd.persist.0..=rd.persist.1 {
                    let entry = node.raft.log().entry(index).expect("in the window");
                    node.stored.push((entry.index, entry.term, node.data.len()));
                    node.data.extend_from_slice(entry.data);
                }
            }
            for m in node.raft.messages() {
                let start = queue.bytes.len();
                queue.bytes.resize(start + MAX_WIRE, 0);
                let used = m.encode(&mut queue.bytes[start..]).expect("messages fit MAX_WIRE").len();
                queue.bytes.truncate(start + used);
                queue.spans.push((m.to, start, start + used));
            }
            if rd.apply.0 <= rd.apply.1 {
                node.applied += rd.apply.1 - rd.apply.0 + 1;
            }
            node.raft.advance(rd);
            let log = node.raft.log();
            if log.applied() >= log.snapshot().index + COMPACT_EVERY {
                let at = log.applied();
                node.raft.compact(5).expect("applied entries compact");
                let keep = node.stored.partition_point(|e| e.0 <= at);
                let cut = node.stored.get(keep).map_or(node.data.len(), |e| e.2);
                node.stored.drain(..keep);
                node.data.drain(..cut);
                for e in &mut node.stored {
                    e.2 -= cut;
                }
            }
        }
    }
    for &(to, start, end) in &queue.spans {
        let m = Message::decode(&queue.bytes[start..end]).expect("what a node sends decodes");
        let _ = nodes[to as usize - 1].raft.step(m);
    }
    queue.spans.clear();
    queue.bytes.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workload_commits_everything() {
        let w = Workload { ops: 5_000, ..Workload::STANDARD };
        assert!(run_ours(w) > Duration::ZERO);
    }
}
