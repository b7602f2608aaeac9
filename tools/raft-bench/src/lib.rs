//! The workload `make bench-raft` runs, and our Raft's side of it.
//!
//! A three-node cluster in one process, one thread, messages passed in
//! memory without serialization, storage in memory (entries copied into a
//! per-node store, as every in-memory storage of the compared libraries
//! does). The leader receives `batch` proposals of `payload` bytes at a
//! time and the cluster runs until the leader has applied all of them;
//! `ops` proposals in all. The same workload runs on openraft and raft-rs
//! in `benches/cluster.rs`.

use std::time::{Duration, Instant};

use worknode_raft::{Config, Entry, HardState, Membership, Message, NodeId, Raft, Role};

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
    /// The workload of `make bench-raft`.
    pub const STANDARD: Workload =
        Workload { ops: 200_000, batch: 64, payload: 32, entries_per_message: 32, inflight: 8 };
}

/// One node with its in-memory storage.
struct Node {
    raft: Box<Raft>,
    stored: Vec<Entry>,
    hard_state: HardState,
    applied: u64,
}

/// Entries between snapshots (the window holds 1024).
const COMPACT_EVERY: u64 = 512;

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
            Node { raft, stored: Vec::new(), hard_state: HardState::default(), applied: 0 }
        })
        .collect();
    let mut queue: Vec<Message> = Vec::new();
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
fn pump(nodes: &mut [Node], queue: &mut Vec<Message>) {
    for node in nodes.iter_mut() {
        while node.raft.has_ready() {
            let rd = node.raft.ready();
            if let Some(hs) = rd.hard_state {
                node.hard_state = hs;
            }
            if rd.persist.0 <= rd.persist.1 {
                let keep = node.stored.partition_point(|e| e.index < rd.persist.0);
                node.stored.truncate(keep);
                for index in rd.persist.0..=rd.persist.1 {
                    node.stored.push(node.raft.log().entry(index).expect("in the window").clone());
                }
            }
            queue.extend(node.raft.messages());
            if rd.apply.0 <= rd.apply.1 {
                node.applied += rd.apply.1 - rd.apply.0 + 1;
            }
            node.raft.advance(rd);
            let log = node.raft.log();
            if log.applied() >= log.snapshot().index + COMPACT_EVERY {
                let at = log.applied();
                node.raft.compact(b"state").expect("applied entries compact");
                let keep = node.stored.partition_point(|e| e.index <= at);
                node.stored.drain(..keep);
            }
        }
    }
    for m in queue.drain(..) {
        let to: NodeId = m.to;
        let _ = nodes[to as usize - 1].raft.step(m);
    }
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
