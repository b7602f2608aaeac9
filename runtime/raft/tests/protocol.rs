//! Scenario tests of the Raft core, in the manner of etcd-raft's
//! `raft_test.go`: a few nodes wired by an in-memory network that the test
//! controls message by message.

use std::collections::{BTreeMap, HashSet, VecDeque};

use worknode_raft::limits::{MAX_DATA, MAX_WIRE, SNAPSHOT_CHUNK};
use worknode_raft::{
    Body, ConfChange, Config, Entry, EntryKind, Membership, Message, NodeId, Raft, ReadMode, Refused,
    Rejected, Role,
};

/// An entry that owns its data, for keeping after the node moves on.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Owned {
    term: u64,
    index: u64,
    kind: EntryKind,
    data: Vec<u8>,
}

impl Owned {
    fn of(e: Entry<'_>) -> Owned {
        Owned { term: e.term, index: e.index, kind: e.kind, data: e.data.to_vec() }
    }
    fn entry(&self) -> Entry<'_> {
        Entry { term: self.term, index: self.index, kind: self.kind, data: &self.data }
    }
}

struct Net {
    nodes: BTreeMap<NodeId, Raft>,
    /// Encoded messages in flight.
    queue: VecDeque<Vec<u8>>,
    /// Directed links that drop everything.
    cut: HashSet<(NodeId, NodeId)>,
    /// Entries each node applied.
    applied: BTreeMap<NodeId, Vec<Owned>>,
    /// Each node's latest snapshot state ("storage"), and the chunks of one
    /// arriving.
    states: BTreeMap<NodeId, Vec<u8>>,
    arriving: BTreeMap<NodeId, Vec<u8>>,
    /// Reads each node confirmed: (ctx, index).
    reads: BTreeMap<NodeId, Vec<(u64, u64)>>,
}

fn config(id: NodeId) -> Config {
    let mut cfg = Config::new(id);
    cfg.seed = 7;
    cfg
}

impl Net {
    fn new(ids: &[NodeId], tweak: impl Fn(&mut Config)) -> Net {
        let membership = Membership::with_voters(ids).unwrap();
        let nodes = ids
            .iter()
            .map(|&id| {
                let mut cfg = config(id);
                tweak(&mut cfg);
                (id, Raft::new(cfg, membership.clone()).unwrap())
            })
            .collect();
        Net {
            nodes,
            queue: VecDeque::new(),
            cut: HashSet::new(),
            applied: BTreeMap::new(),
            states: BTreeMap::new(),
            arriving: BTreeMap::new(),
            reads: BTreeMap::new(),
        }
    }

    /// Compacts `id` at its applied index with `state` as its snapshot.
    fn compact(&mut self, id: NodeId, state: &[u8]) -> worknode_raft::Snapshot {
        let snapshot = self.node(id).compact(state.len() as u64).unwrap().clone();
        self.states.insert(id, state.to_vec());
        snapshot
    }

    fn node(&mut self, id: NodeId) -> &mut Raft {
        self.nodes.get_mut(&id).unwrap()
    }

    /// Runs every node's ready loop once ("persisting" by advancing).
    fn flush(&mut self) {
        for (&id, node) in self.nodes.iter_mut() {
            while node.has_ready() {
                let rd = node.ready();
                if let Some((_, offset)) = &rd.chunk {
                    let arriving = self.arriving.entry(id).or_default();
                    arriving.truncate(*offset as usize);
                    arriving.extend_from_slice(node.pending_chunk());
                }
                if rd.snapshot.is_some() {
                    let state = self.arriving.remove(&id).unwrap_or_default();
                    assert_eq!(state.len() as u64, node.snapshot().len, "every chunk arrived");
                    self.states.insert(id, state);
                }
                for m in node.messages() {
                    let state = self.states.get(&id).map(Vec::as_slice).unwrap_or(&[]);
                    let m = match m.chunk_wanted() {
                        Some((_, offset, len)) => m.with_chunk(&state[offset as usize..][..len]),
                        None => m,
                    };
                    let mut buf = [0u8; MAX_WIRE];
                    self.queue.push_back(m.encode(&mut buf).unwrap().to_vec());
                }
                for index in rd.apply.0..=rd.apply.1 {
                    self.applied.entry(id).or_default().push(Owned::of(node.log().entry(index).unwrap()));
                }
                self.reads.entry(id).or_default().extend(node.read_states().iter().map(|r| (r.ctx, r.index)));
                node.advance(rd);
            }
        }
    }

    /// Runs the ready loops, then delivers one message (unless cut or
    /// refused by `deliver`); false when none was queued.
    fn deliver_one(&mut self, deliver: impl Fn(&Message) -> bool) -> bool {
        self.flush();
        let Some(bytes) = self.queue.pop_front() else { return false };
        let m = Message::decode(&bytes).expect("what a node sends decodes");
        if !self.cut.contains(&(m.from, m.to))
            && deliver(&m)
            && let Some(node) = self.nodes.get_mut(&m.to)
        {
            let _ = node.step(m);
        }
        true
    }

    /// Delivers messages until the network is quiet (bounded).
    fn settle(&mut self) {
        self.settle_where(|_| true);
    }

    /// Same, dropping messages that `deliver` refuses.
    fn settle_where(&mut self, deliver: impl Fn(&Message) -> bool) {
        for _ in 0..10_000 {
            if !self.deliver_one(&deliver) {
                return;
            }
        }
        panic!("network never settled");
    }

    fn tick_all(&mut self, ticks: u32) {
        for _ in 0..ticks {
            for node in self.nodes.values_mut() {
                node.tick();
            }
            self.settle();
        }
    }

    fn isolate(&mut self, id: NodeId) {
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for other in ids {
            self.cut.insert((id, other));
            self.cut.insert((other, id));
        }
    }

    fn heal(&mut self) {
        self.cut.clear();
    }

    fn leader(&self) -> Option<NodeId> {
        self.nodes.values().filter(|n| n.role() == Role::Leader).max_by_key(|n| n.term()).map(|n| n.id())
    }

    fn elect(&mut self, id: NodeId) {
        self.node(id).campaign_now();
        self.settle();
        assert_eq!(self.node(id).role(), Role::Leader, "node {id} won");
    }

    fn data_applied(&self, id: NodeId) -> Vec<Vec<u8>> {
        let entries = self.applied.get(&id).map(Vec::as_slice).unwrap_or(&[]);
        entries.iter().filter(|e| e.kind == EntryKind::Normal).map(|e| e.data.to_vec()).collect()
    }
}

#[test]
fn a_single_node_elects_itself_and_commits() {
    let mut net = Net::new(&[1], |_| {});
    net.tick_all(25);
    assert_eq!(net.node(1).role(), Role::Leader);
    net.node(1).propose(b"x").unwrap();
    net.settle();
    assert_eq!(net.data_applied(1), vec![b"x".to_vec()]);
}

#[test]
fn three_nodes_elect_one_leader_and_replicate() {
    let mut net = Net::new(&[1, 2, 3], |_| {});
    net.tick_all(25);
    let leader = net.leader().expect("a leader within two election timeouts");
    let leaders = net.nodes.values().filter(|n| n.role() == Role::Leader).count();
    assert_eq!(leaders, 1);
    for i in 0..100u8 {
        net.node(leader).propose(&[i]).unwrap();
    }
    net.settle();
    net.tick_all(2);
    let want: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i]).collect();
    for id in 1..=3 {
        assert_eq!(net.data_applied(id), want, "node {id}");
    }
}

#[test]
fn proposals_between_readies_share_one_append() {
    let mut net = Net::new(&[1, 2, 3], |_| {});
    net.elect(1);
    for i in 0..10u8 {
        net.node(1).propose(&[i]).unwrap();
    }
    let rd = net.node(1).ready();
    let appends: Vec<usize> = net
        .node(1)
        .messages()
        .filter_map(|m| match &m.body {
            Body::Append { entries, .. } => Some(entries.len()),
            _ => None,
        })
        .collect();
    assert_eq!(appends, vec![10, 10], "one batched append per follower");
    net.node(1).advance(rd);
}

#[test]
fn followers_refuse_proposals_and_name_the_leader() {
    let mut net = Net::new(&[1, 2, 3], |_| {});
    net.elect(2);
    assert_eq!(net.node(1).propose(b"x"), Err(Refused::NotLeader(Some(2))));
    assert_eq!(net.node(1).propose(b"x").unwrap_err().code(), worknode_abi::ErrorCode::NotLeader);
    assert_eq!(net.node(2).propose(&[0; MAX_DATA + 1]), Err(Refused::TooLarge));
}

#[test]
fn back_pressure_when_too_much_is_uncommitted() {
    let mut net = Net::new(&[1, 2, 3], |c| c.max_uncommitted = 8);
    net.elect(1);
    net.isolate(1);
    let accepted = (0..20).filter(|_| net.node(1).propose(b"x").is_ok()).count();
    assert_eq!(accepted, 8);
    assert_eq!(net.node(1).propose(b"x"), Err(Refused::Busy));
}

#[test]
fn pre_vote_keeps_a_rejoining_node_from_raising_the_term() {
    let mut net = Net::new(&[1, 2, 3], |_| {});
    net.elect(1);
    let term = net.node(1).term();
    net.isolate(3);
    net.tick_all(100);
    // Node 3 campaigned (pre-vote) over and over without winning: no term
    // change anywhere.
    assert_eq!(net.node(3).term(), term);
    net.heal();
    net.tick_all(5);
    assert_eq!(net.node(1).role(), Role::Leader);
    assert_eq!(net.node(1).term(), term);
}

#[test]
fn without_pre_vote_a_rejoining_node_forces_an_election() {
    let mut net = Net::new(&[1, 2, 3], |c| {
        c.pre_vote = false;
        c.check_quorum = false;
    });
    net.elect(1);
    let term = net.node(1).term();
    net.isolate(3);
    net.tick_all(100);
    assert!(net.node(3).term() > term, "isolated node raised its term");
    net.heal();
    net.tick_all(50);
    // The higher term deposes the leader through the stale-term answers;
    // the cluster elects someone in a newer term.
    let leader = net.leader().unwrap();
    assert!(net.node(leader).term() > term);
}

#[test]
fn check_quorum_makes_an_isolated_leader_step_down() {
    let mut net = Net::new(&[1, 2, 3], |_| {});
    net.elect(1);
    net.isolate(1);
    net.tick_all(25);
    assert_ne!(net.node(1).role(), Role::Leader);
    assert!(matches!(net.leader(), Some(2 | 3)));
}

#[test]
fn leadership_transfer_hands_over_to_an_up_to_date_voter() {
    let mut net = Net::new(&[1, 2, 3], |_| {});
    net.elect(1);
    net.node(1).propose(b"a").unwrap();
    net.settle();
    let term = net.node(1).term();
    net.node(1).transfer_leader(3).unwrap();
    assert_eq!(net.node(1).propose(b"b"), Err(Refused::Transferring));
    net.settle();
    assert_eq!(net.node(3).role(), Role::Leader);
    assert_eq!(net.node(3).term(), term + 1);
    assert_eq!(net.node(1).role(), Role::Follower);
}

#[test]
fn read_index_waits_for_a_quorum_of_heartbeat_answers() {
    let mut net = Net::new(&[1, 2, 3], |_| {});
    net.elect(1);
    net.node(1).propose(b"a").unwrap();
    net.settle();
    net.node(1).read_index(42).unwrap();
    // Not confirmed before anyone answered.
    assert!(net.node(1).read_states().is_empty());
    net.settle();
    let reads = net.reads.get(&1).cloned().unwrap_or_default();
    assert_eq!(reads, vec![(42, net.node(1).log().committed())]);
}

#[test]
fn an_isolated_leader_never_confirms_a_read() {
    let mut net = Net::new(&[1, 2, 3], |_| {});
    net.elect(1);
    net.isolate(1);
    net.node(1).read_index(7).unwrap();
    net.tick_all(5);
    assert!(net.reads.get(&1).is_none_or(|r| r.is_empty()));
}

#[test]
fn a_new_leader_refuses_reads_until_it_commits_in_its_term() {
    let mut net = Net::new(&[1, 2, 3], |_| {});
    net.node(1).campaign_now();
    // Elections only: no append reaches anyone, so the no-op of the new
    // term does not commit.
    net.settle_where(|m| !matches!(m.body, Body::Append { .. } | Body::AppendResp { .. }));
    assert_eq!(net.node(1).role(), Role::Leader);
    assert_eq!(net.node(1).read_index(1), Err(Refused::NotYet));
    net.settle();
    net.tick_all(1);
    assert_eq!(net.node(1).read_index(1), Ok(()));
}

#[test]
fn lease_reads_answer_at_once_while_the_lease_holds() {
    let mut net = Net::new(&[1, 2, 3], |c| c.read_mode = ReadMode::Lease { drift_ticks: 2 });
    net.elect(1);
    net.tick_all(2);
    net.node(1).read_index(9).unwrap();
    assert_eq!(net.node(1).read_states().len(), 1, "served from the lease");
    net.flush();
    // Isolated for longer than the lease: back to a quorum round trip,
    // which cannot complete.
    net.isolate(1);
    for _ in 0..9 {
        net.node(1).tick();
    }
    net.node(1).read_index(10).unwrap();
    assert!(net.node(1).read_states().is_empty());
}

#[test]
fn lease_reads_need_check_quorum_and_a_sane_drift_bound() {
    let mut cfg = Config::new(1);
    cfg.read_mode = ReadMode::Lease { drift_ticks: 2 };
    cfg.check_quorum = false;
    assert!(cfg.validate().is_err());
    cfg.check_quorum = true;
    cfg.read_mode = ReadMode::Lease { drift_ticks: 10 };
    assert!(cfg.validate().is_err());
}

/// Founders 1, 2 and 3, and node 4 started empty (no membership), as a
/// node that will join.
fn founders_and_a_newcomer() -> Net {
    let mut net = Net::new(&[1, 2, 3], |_| {});
    let mut cfg = config(4);
    cfg.seed = 1;
    net.nodes.insert(4, Raft::new(cfg, Membership::default()).unwrap());
    net
}

#[test]
fn learners_replicate_but_neither_vote_nor_campaign() {
    let mut net = founders_and_a_newcomer();
    net.elect(1);
    net.node(1).propose(b"a").unwrap();
    net.settle();
    net.node(1).propose_conf_change(ConfChange::AddLearner(4)).unwrap();
    net.settle();
    net.node(1).propose(b"b").unwrap();
    net.settle();
    net.tick_all(2);
    assert_eq!(
        net.data_applied(4),
        vec![b"a".to_vec(), b"b".to_vec()],
        "the learner got the founders' history too"
    );
    assert_eq!(net.node(4).membership().learners.as_slice(), &[4]);
    // A learner never campaigns, however long it waits.
    net.isolate(4);
    net.tick_all(100);
    assert_eq!(net.node(4).role(), Role::Follower);
    net.heal();
    // Promotion makes it a voter.
    net.tick_all(3);
    net.node(1).propose_conf_change(ConfChange::AddVoter(4)).unwrap();
    net.settle();
    net.tick_all(2);
    assert!(net.node(4).membership().is_voter(4));
    assert_eq!(net.node(1).membership().quorum(), 3);
}

/// A voter that holds nothing votes in no election (the joiner's rule);
/// counted in the quorum, it could leave a cluster that lost its leader
/// with no electable node (raft-sim seed 3344). So only a learner that
/// holds everything committed is promoted; a node is never added straight
/// as a voter.
#[test]
fn only_a_caught_up_learner_becomes_a_voter() {
    let mut net = founders_and_a_newcomer();
    net.elect(1);
    assert_eq!(net.node(1).propose_conf_change(ConfChange::AddVoter(4)), Err(Refused::LearnerBehind));
    assert_eq!(Refused::LearnerBehind.code(), worknode_abi::ErrorCode::InvalidState);
    net.isolate(4);
    net.node(1).propose_conf_change(ConfChange::AddLearner(4)).unwrap();
    net.settle();
    net.node(1).propose(b"a").unwrap();
    net.settle();
    assert_eq!(net.node(4).log().last_index(), 0, "the learner is cut off");
    assert_eq!(net.node(1).propose_conf_change(ConfChange::AddVoter(4)), Err(Refused::LearnerBehind));
    assert!(!net.node(1).membership().is_voter(4));
    net.heal();
    net.tick_all(3);
    net.settle();
    net.node(1).propose_conf_change(ConfChange::AddVoter(4)).unwrap();
    net.settle();
    assert!(net.node(4).membership().is_voter(4));
}

#[test]
fn one_membership_change_at_a_time() {
    let mut net = Net::new(&[1, 2, 3], |_| {});
    net.elect(1);
    net.isolate(1);
    net.node(1).propose_conf_change(ConfChange::AddLearner(4)).unwrap();
    assert_eq!(net.node(1).propose_conf_change(ConfChange::AddLearner(5)), Err(Refused::ConfChangePending));
    assert!(matches!(
        net.node(1).propose_conf_change(ConfChange::Remove(9)),
        Err(Refused::ConfChangePending)
    ));
}

#[test]
fn a_removed_leader_steps_down_once_its_removal_commits() {
    let mut net = Net::new(&[1, 2, 3], |_| {});
    net.elect(1);
    net.tick_all(2);
    net.node(1).propose_conf_change(ConfChange::Remove(1)).unwrap();
    net.settle();
    assert_ne!(net.node(1).role(), Role::Leader);
    net.tick_all(40);
    let leader = net.leader().unwrap();
    assert!(leader == 2 || leader == 3);
    assert_eq!(net.node(leader).membership().voters.as_slice(), &[2, 3]);
}

/// Node 1 leads and has applied `entries` entries of `len` bytes (entry
/// `i` filled with `i`) that node 3, cut off, never got: compacting now
/// leaves node 3 behind the compaction point.
fn left_behind(entries: u8, len: usize) -> Net {
    let mut net = Net::new(&[1, 2, 3], |_| {});
    net.elect(1);
    net.isolate(3);
    for i in 0..entries {
        net.node(1).propose(&vec![i; len]).unwrap();
    }
    net.settle();
    net.tick_all(1);
    net
}

#[test]
fn a_follower_behind_the_compaction_point_gets_the_snapshot() {
    let mut net = left_behind(50, 1);
    assert_eq!(net.node(1).log().applied(), net.node(1).log().last_index());
    let snapshot = net.compact(1, b"state after 50");
    assert!(snapshot.meta.index > 50);
    assert!(net.node(1).log().entry(10).is_none(), "compacted");
    net.heal();
    net.tick_all(5);
    assert_eq!(net.node(3).snapshot(), &snapshot);
    assert_eq!(net.states[&3], b"state after 50");
    assert_eq!(net.node(3).log().committed(), net.node(1).log().committed());
    assert_eq!(net.node(3).membership().voters.as_slice(), &[1, 2, 3]);
}

/// A follower whose disk is replaced by an empty one prepared to join
/// (`worknode disk join`: same id, no log, no membership) refuses the
/// leader's appends from where it had matched; the leader must probe it
/// again from nothing and send it the snapshot. Before the fix the leader
/// kept its old match, and then the snapshot's index as the probe point,
/// and appended there for ever, each refused (a storm of refusals).
#[test]
fn a_follower_back_on_an_empty_disk_gets_the_snapshot() {
    let mut net = Net::new(&[1, 2, 3], |_| {});
    net.elect(1);
    for i in 0..30u8 {
        net.node(1).propose(&[i; 8]).unwrap();
    }
    net.settle();
    net.tick_all(1);
    assert_eq!(net.node(3).log().committed(), net.node(1).log().committed(), "node 3 matched everything");
    let snapshot = net.compact(1, b"state after 30");
    net.nodes.insert(3, Raft::new(config(3), Membership::default()).unwrap());
    net.states.remove(&3);
    net.applied.remove(&3);
    for i in 0..5u8 {
        net.node(1).propose(&[100 + i; 8]).unwrap();
        net.tick_all(1);
    }
    net.tick_all(5);
    assert_eq!(net.node(3).snapshot(), &snapshot, "the wiped follower got the snapshot");
    assert_eq!(net.states[&3], b"state after 30");
    assert_eq!(net.node(3).log().committed(), net.node(1).log().committed());
    assert_eq!(net.data_applied(3), (0..5u8).map(|i| vec![100 + i; 8]).collect::<Vec<_>>());
}

/// A snapshot of many chunks arrives whole, in order, even when chunks and
/// their answers are lost and duplicated on the way; entries of the largest
/// size replicate alongside.
#[test]
fn a_large_snapshot_travels_in_chunks_through_loss() {
    let mut net = left_behind(20, MAX_DATA);
    assert_eq!(net.node(1).propose(&[0; MAX_DATA + 1]), Err(Refused::TooLarge));
    let state: Vec<u8> = (0..40 * SNAPSHOT_CHUNK + 17).map(|i| (i * 7 % 251) as u8).collect();
    let snapshot = net.compact(1, &state);
    net.heal();
    // Drop a fifth of the chunks and a seventh of the answers to them, at
    // pseudo-random (a fixed pattern could hit the same chunk every time).
    let mut seen = 0u32;
    let lossy = std::cell::Cell::new(0x9E37_79B9u32);
    for _ in 0..200 {
        for node in net.nodes.values_mut() {
            node.tick();
        }
        net.settle_where(|m| {
            let n = lossy.get() ^ (lossy.get() << 13);
            let n = n ^ (n >> 17);
            let n = n ^ (n << 5);
            lossy.set(n);
            match m.body {
                Body::InstallSnapshot { .. } => !n.is_multiple_of(5),
                Body::SnapshotResp { .. } => !n.is_multiple_of(7),
                _ => true,
            }
        });
        seen += 1;
        if net.node(3).snapshot() == &snapshot && net.node(3).log().applied() == net.node(1).log().applied() {
            break;
        }
    }
    assert!(seen < 200, "the snapshot arrived");
    assert_eq!(net.states[&3], state, "byte for byte");
    for i in 0..3u8 {
        net.node(1).propose(&[100 + i; MAX_DATA]).unwrap();
    }
    net.tick_all(2);
    let tail: Vec<Vec<u8>> = net.data_applied(3);
    assert_eq!(tail, (0..3u8).map(|i| vec![100 + i; MAX_DATA]).collect::<Vec<_>>());
}

/// The leader says it is sending a snapshot while a follower receives one
/// and answers, and stops once the follower has gone quiet for an
/// election timeout or has the snapshot (the cluster's nodes do not
/// compact meanwhile, which would restart the transfer).
#[test]
fn a_leader_knows_a_snapshot_transfer_is_under_way() {
    let mut net = left_behind(20, 64);
    let state = vec![7u8; 30 * SNAPSHOT_CHUNK];
    let snapshot = net.compact(1, &state);
    assert!(!net.node(1).sending_snapshot(), "nobody is being sent it yet");
    net.heal();
    // The follower's answers to chunks are lost: the transfer stalls, but
    // the follower still answers heartbeats.
    for _ in 0..3 {
        for node in net.nodes.values_mut() {
            node.tick();
        }
        net.settle_where(|m| !matches!(m.body, Body::SnapshotResp { .. }));
    }
    assert!(net.node(1).sending_snapshot(), "under way, to a follower that answers");
    assert!(!net.node(2).sending_snapshot(), "a follower sends none");
    net.isolate(3);
    net.tick_all(config(1).election_tick);
    assert!(!net.node(1).sending_snapshot(), "the follower went quiet");
    net.heal();
    net.tick_all(5);
    assert_eq!(net.node(3).snapshot(), &snapshot);
    assert!(!net.node(1).sending_snapshot(), "over");
}

/// Node 1 leads; node 3, cut off while 60 entries committed (none
/// compacted), is back: messages are delivered one at a time until the
/// leader has found it behind and holds its compaction for it.
fn catching_up() -> Net {
    let mut net = left_behind(60, 64);
    assert!(!net.node(1).follower_catching_up(), "node 3 is cut off: not answering");
    net.heal();
    for _ in 0..10_000 {
        if net.node(1).follower_catching_up() {
            return net;
        }
        if !net.deliver_one(|_| true) {
            net.node(1).tick();
        }
    }
    panic!("the leader never found node 3 behind");
}

/// A follower back from a partition, behind but within the leader's log,
/// catches up by appends: the leader, compacting whenever the cluster's
/// nodes would, holds back while the follower advances (compacting would
/// drop entries it still needs and send it a snapshot), then compacts once
/// it has caught up. Without the hold the follower gets a snapshot.
#[test]
fn a_leader_holds_compaction_while_a_follower_catches_up() {
    let mut net = catching_up();
    let mut held = 0;
    for _ in 0..20 {
        for node in net.nodes.values_mut() {
            node.tick();
        }
        // Compacting between messages whenever the cluster's nodes would
        // (`worknode_cluster::node`: after a ready's messages are sent, not
        // while sending a snapshot or while a follower catches up).
        loop {
            net.flush();
            let leader = net.node(1);
            if leader.log().applied() > leader.snapshot().meta.index {
                if leader.sending_snapshot() || leader.follower_catching_up() {
                    held += 1;
                } else {
                    net.compact(1, b"state");
                }
            }
            if !net.deliver_one(|_| true) {
                break;
            }
        }
        if net.node(3).log().applied() == net.node(1).log().applied() {
            break;
        }
    }
    assert!(held > 0, "the leader held its compaction back");
    assert_eq!(net.node(3).log().applied(), net.node(1).log().applied(), "node 3 caught up");
    assert_eq!(net.node(3).snapshot().meta.index, 0, "by appends, with no snapshot");
    assert_eq!(net.data_applied(3).len(), 60);
    assert!(!net.node(1).follower_catching_up(), "caught up: nothing held");
    let leader = net.node(1);
    assert_eq!(leader.snapshot().meta.index, leader.log().applied(), "compacted since");
}

/// A follower that stops advancing stops holding compaction back after
/// `catch_up_ticks`, though it still answers heartbeats.
#[test]
fn a_follower_that_does_not_advance_stops_holding_compaction() {
    let mut net = catching_up();
    // From now on no append reaches node 3: it answers heartbeats only.
    for _ in 0..config(1).catch_up_ticks {
        for node in net.nodes.values_mut() {
            node.tick();
        }
        net.settle_where(|m| !matches!(m.body, Body::Append { .. }));
    }
    assert!(!net.node(1).follower_catching_up(), "let go after catch_up_ticks without progress");
    assert!(net.node(3).log().applied() < net.node(1).log().applied(), "node 3 is still behind");
}

/// Raft §5.4.2, Figure 8: a leader must not commit an entry of an earlier
/// term by counting replicas; only an entry of its own term commits (and
/// with it, everything before).
#[test]
fn a_leader_commits_old_entries_only_through_one_of_its_own_term() {
    // Node 1 holds an entry of term 2 that nobody else has; every node is
    // in term 3. Rebuilt from "storage" so the scenario is exact.
    let founders = Net::new(&[1, 2, 3], |_| {});
    let bootstrap: Vec<Owned> =
        (1..=1).map(|i| Owned::of(founders.nodes[&1].log().entry(i).unwrap())).collect();
    let old = Owned { index: 2, term: 2, kind: EntryKind::Normal, data: b"old".to_vec() };
    let mut net = Net::new(&[1, 2, 3], |_| {});
    for id in 1..=3u64 {
        let mut log = bootstrap.clone();
        if id == 1 {
            log.push(old.clone());
        }
        let hs = worknode_raft::HardState { term: 3, vote: None, commit: 1 };
        let mut cfg = config(id);
        cfg.max_batch = 1;
        net.nodes.insert(
            id,
            Raft::recover(cfg, hs, Default::default(), &mut log.iter().map(Owned::entry)).unwrap(),
        );
    }
    net.isolate(3);
    net.node(1).campaign_now();
    // One message at a time; after each, the Figure 8 property: index 2
    // commits only once the term-4 entry after it is on a majority.
    let mut held_old_uncommitted = false;
    for _ in 0..1000 {
        net.flush();
        let Some(bytes) = net.queue.pop_front() else { break };
        let m = Message::decode(&bytes).unwrap();
        if net.cut.contains(&(m.from, m.to)) {
            continue;
        }
        let _ = net.node(m.to).step(m);
        net.flush();
        let committed = net.node(1).log().committed();
        let on_two = net.node(2).log().last_index();
        if on_two == 2 && committed < 2 {
            held_old_uncommitted = true;
        }
        if committed >= 2 {
            assert!(
                on_two >= 3 && net.node(2).log().term(3) == Some(4),
                "old-term entry committed by counting replicas"
            );
        }
    }
    assert!(held_old_uncommitted, "the scenario happened: the old entry was on a majority, uncommitted");
    assert_eq!(net.node(1).role(), Role::Leader);
    assert_eq!(net.node(1).log().committed(), 3);
}

#[test]
fn misaddressed_and_stale_messages_are_counted_not_obeyed() {
    let mut net = Net::new(&[1, 2, 3], |_| {});
    net.elect(1);
    let term = net.node(2).term();
    let hb = |from, to, term| Message { from, to, term, body: Body::Heartbeat { commit: 0, read: 0 } };
    assert_eq!(net.node(2).step(hb(1, 3, term)), Err(Rejected::Misaddressed));
    assert_eq!(net.node(2).step(hb(2, 2, term)), Err(Rejected::Misaddressed));
    assert_eq!(net.node(2).step(hb(1, 2, term - 1)), Err(Rejected::StaleTerm));
    let resp = Message { from: 9, to: 1, term, body: Body::HeartbeatResp { read: 0 } };
    assert_eq!(net.node(1).step(resp), Err(Rejected::UnknownSender));
    let stray = Message { from: 3, to: 2, term, body: Body::VoteResp { reject: false } };
    assert_eq!(net.node(2).step(stray), Err(Rejected::Unexpected));
    let stats = *net.node(2).stats();
    assert_eq!((stats.misaddressed, stats.stale, stats.unexpected), (2, 1, 1));
    assert_eq!(net.node(1).stats().unknown_sender, 1);
    assert_eq!(net.node(2).term(), term);
    assert_eq!(net.node(1).role(), Role::Leader);
}

#[test]
fn recovery_restores_term_vote_log_and_membership() {
    let mut net = Net::new(&[1, 2, 3], |_| {});
    net.elect(1);
    for i in 0..5u8 {
        net.node(1).propose(&[i]).unwrap();
    }
    net.settle();
    let node = net.node(2);
    let (hs, snapshot) = (node.hard_state(), node.snapshot().clone());
    let entries: Vec<Owned> =
        (1..=node.log().last_index()).map(|i| Owned::of(node.log().entry(i).unwrap())).collect();
    let back = Raft::recover(config(2), hs, snapshot, &mut entries.iter().map(Owned::entry)).unwrap();
    assert_eq!(back.term(), hs.term);
    assert_eq!(back.hard_state().vote, hs.vote);
    assert_eq!(back.log().last_index(), entries.len() as u64);
    assert_eq!(back.membership().voters.as_slice(), &[1, 2, 3]);
    assert_eq!(back.role(), Role::Follower);
}

#[test]
fn impossible_appends_are_refused_without_harm() {
    let mut net = Net::new(&[1, 2, 3], |_| {});
    net.elect(1);
    net.node(1).propose(b"a").unwrap();
    net.settle();
    let term = net.node(2).term();
    let committed = net.node(2).log().committed();
    let last = net.node(2).log().last_index();
    let e = |index, term| Entry { term, index, kind: EntryKind::Normal, data: &[] };
    let append = |prev_index, prev_term, entries: &[Entry<'static>]| Message {
        from: 1,
        to: 2,
        term,
        body: Body::Append {
            prev_index,
            prev_term,
            commit: 0,
            entries: heapless::Vec::from_slice(entries).unwrap(),
        },
    };
    // Gap, decreasing terms, a future term.
    let cases = [
        append(last, term, &[e(last + 2, term)]),
        append(last, term, &[e(last + 1, term), e(last + 2, term - 1)]),
        append(last, term, &[e(last + 1, term + 1)]),
    ];
    for (i, m) in cases.into_iter().enumerate() {
        assert_eq!(net.node(2).step(m), Err(Rejected::Invalid), "case {i}");
    }
    // A leader of a later term rewriting an entry this node knows committed.
    let prev = committed - 1;
    let mut rewrite = append(prev, net.node(2).log().term(prev).unwrap(), &[e(committed, term + 1)]);
    rewrite.term = term + 1;
    assert_eq!(net.node(2).step(rewrite), Err(Rejected::Invalid));
    assert_eq!(net.node(2).stats().invalid, 4);
    assert_eq!(net.node(2).log().last_index(), last);
    assert_eq!(net.node(2).log().committed(), committed);
}

/// The founding membership is one entry, so a node never holds part of it;
/// a second founding entry later in the log is ignored and counted, and a
/// malformed founding membership is refused.
#[test]
fn the_founding_membership_is_one_entry_applied_only_once() {
    let mut net = Net::new(&[1, 2, 3], |_| {});
    let first = net.node(2).log().entry(1).unwrap();
    assert_eq!((first.kind, net.node(2).log().last_index()), (EntryKind::Bootstrap, 1));
    net.elect(1);
    let term = net.node(2).term();
    let last = net.node(2).log().last_index();
    let mut buf = [0u8; 64];
    let alone = Membership::with_voters(&[2]).unwrap();
    let data = postcard::to_slice(&alone, &mut buf).unwrap();
    let rogue = Entry { term, index: last + 1, kind: EntryKind::Bootstrap, data };
    let append = Message {
        from: 1,
        to: 2,
        term,
        body: Body::Append {
            prev_index: last,
            prev_term: term,
            commit: 0,
            entries: heapless::Vec::from_slice(&[rogue]).unwrap(),
        },
    };
    net.node(2).step(append).unwrap();
    assert_eq!(net.node(2).membership().voters.as_slice(), &[1, 2, 3]);
    assert!(net.node(2).stats().bad_conf_change > 0);
    let mut twice = Membership::with_voters(&[1]).unwrap();
    twice.learners.push(1).unwrap();
    assert_eq!(Raft::new(config(1), twice).err(), Some(worknode_raft::ConfigError::Membership));
}

/// A node whose disk was replaced starts empty (no membership). It may
/// have voted in the current term before it lost its disk, so it grants
/// no vote until a leader has given it a membership; then it votes again.
#[test]
fn a_node_that_knows_no_voters_grants_no_vote() {
    let mut net = Net::new(&[1, 2, 3], |_| {});
    net.elect(1);
    // Node 3's disk is replaced: it starts as a joiner.
    net.nodes.insert(3, Raft::new(config(3), Membership::default()).unwrap());
    let ask = |net: &mut Net, term| {
        let (last_index, last_term) = (net.node(2).log().last_index(), net.node(2).log().last_term());
        let vote =
            Message { from: 2, to: 3, term, body: Body::Vote { last_index, last_term, transfer: false } };
        let _ = net.node(3).step(vote);
        net.flush();
        let answer = net.queue.iter().rev().map(|b| Message::decode(b).unwrap()).find(|m| m.from == 3);
        let granted = matches!(answer.map(|m| m.body), Some(Body::VoteResp { reject: false }));
        net.queue.clear();
        granted
    };
    let term = net.node(1).term() + 1;
    assert!(!ask(&mut net, term), "an empty node voted");
    assert_eq!(net.node(3).membership().voters.len(), 0);
    // The leader's heartbeats and appends give it the log and membership.
    net.node(1).propose(b"after the wipe").unwrap();
    net.tick_all(30);
    assert_eq!(net.node(3).membership().voters.len(), 3);
    // Without the old leader, nodes 2 and 3 elect one of them, which takes
    // both their votes: node 3 votes again.
    net.isolate(1);
    net.tick_all(60);
    assert!(
        net.nodes.iter().any(|(&id, n)| id != 1 && n.role() == Role::Leader),
        "nodes 2 and 3 elected a leader"
    );
}
