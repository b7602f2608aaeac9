//! Three nodes on the host, driven as the Raft PD drives one: ticks,
//! envelopes through a lossy network, proposals on every node, crashes
//! that lose what was not flushed, and a wiped disk that catches up by
//! snapshot. Every acknowledged proposal (applied on its proposer's node)
//! must be on every node at the end, and the ledgers must agree. Each
//! node delivers what its state machine takes to a reader (the governor,
//! on the nodes) that pauses now and then: every reader must end with
//! every number, in order, the same bytes under each on every node, and
//! skip numbers only over a snapshot its node installed. Every node's
//! reader of Strong events (`worknode_cluster::reader`, as the Raft PD
//! drives it) reads events by number all along: each read must see every
//! proposal acknowledged before it was asked, and the bytes it finds must
//! be those every node delivered under that number.

use std::collections::VecDeque;

use worknode_cluster::ledger::{Ledger, parse, proposal, strong_event, strong_payload};
use worknode_cluster::node::{Found, Node, NodeError, Transport};
use worknode_cluster::proposer::Proposer;
use worknode_cluster::reader::{Found as Read, Reader};
use worknode_log::format::{FLAG_JOIN, Owner};
use worknode_log::sim::{Rng, SimDisk};
use worknode_log::{Log, LogError};
use worknode_raft::storage::{Recovered, StorageError};
use worknode_raft::{Config, Membership, NodeId, Role};

const DISK_SECTORS: u64 = 8192;
/// Bytes of each node's journal: small, so that a run fills it and drops
/// its oldest records several times.
const JOURNAL: usize = 24 * 1024;

/// A journal buffer that lives as long as the test (leaked: a test's few).
fn journal() -> &'static mut [u8] {
    Box::leak(vec![0u8; JOURNAL].into_boxed_slice())
}

struct Net<'a> {
    from: NodeId,
    queue: &'a mut VecDeque<(NodeId, NodeId, Vec<u8>)>,
    rng: &'a mut Rng,
    loss: u64,
    cut: Option<NodeId>,
}

impl Transport for Net<'_> {
    fn send(&mut self, to: NodeId, bytes: &[u8]) -> bool {
        if self.cut == Some(self.from) || self.cut == Some(to) {
            return false;
        }
        if !self.rng.chance(self.loss) {
            self.queue.push_back((self.from, to, bytes.to_vec()));
        }
        true
    }
}

struct Sim {
    nodes: Vec<Option<Node<'static, SimDisk>>>,
    disks: Vec<Option<SimDisk>>,
    queue: VecDeque<(NodeId, NodeId, Vec<u8>)>,
    rng: Rng,
    loss: u64,
    cut: Option<NodeId>,
    /// Per node: its proposer (a new one after a restart), and the highest
    /// proposal acknowledged over all its boots.
    proposers: Vec<Proposer<()>>,
    acked: Vec<u64>,
    scratch: Box<Recovered>,
    reads: Reads,
    steps: u64,
    /// Per node: what its reader of delivered proposals (the governor, on
    /// the nodes) wrote, by number, and the snapshots installed when it
    /// last looked.
    logs: Vec<Vec<(u64, Vec<u8>)>>,
    installed_seen: Vec<u64>,
    /// The readers' pace (apart from `rng`, which drives the network).
    reader_rng: Rng,
    /// A node whose reader takes nothing meanwhile.
    stalled: Option<usize>,
}

fn membership() -> Membership {
    Membership::with_voters(&[1, 2, 3]).unwrap()
}

/// Node `id` of the test's cluster.
fn owner(id: NodeId) -> Owner {
    Owner { cluster: 0xC1, node: id as u16 }
}

fn config(id: NodeId) -> Config {
    let mut cfg = Config::new(id);
    cfg.seed = 7;
    cfg.max_append_bytes = 895;
    cfg
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let mut scratch = Box::<Recovered>::default();
        let nodes = (1..=3)
            .map(|id| {
                let (node, found) = Node::start(
                    SimDisk::new(DISK_SECTORS),
                    config(id),
                    &membership(),
                    owner(id),
                    100,
                    &mut scratch,
                    journal(),
                )
                .unwrap();
                assert_eq!(found, Found::Formatted);
                let mut node = node;
                node.deliver_from_journal();
                Some(node)
            })
            .collect();
        Sim {
            nodes,
            disks: vec![None, None, None],
            queue: VecDeque::new(),
            rng: Rng::new(seed),
            loss: 0,
            cut: None,
            // Founders: nothing proposed yet, so no read to resume from.
            proposers: (0..3u8).map(|i| Proposer::new(i, Some(0))).collect(),
            acked: vec![0; 3],
            scratch,
            reads: Reads {
                readers: (0..3).map(|_| Reader::default()).collect(),
                asked: std::collections::HashMap::new(),
                next_tag: 0,
                found: Vec::new(),
                answered: 0,
                not_yet: 0,
                gone: 0,
                rng: Rng::new(seed ^ 0x2EAD),
            },
            steps: 0,
            logs: vec![Vec::new(); 3],
            installed_seen: vec![0; 3],
            reader_rng: Rng::new(seed ^ 0x5EED),
            stalled: None,
        }
    }

    fn step(&mut self, propose: bool) {
        self.steps += 1;
        for i in 0..3 {
            let Some(node) = self.nodes[i].as_mut() else { continue };
            let mut net = Net {
                from: i as NodeId + 1,
                queue: &mut self.queue,
                rng: &mut self.rng,
                loss: self.loss,
                cut: self.cut,
            };
            node.tick();
            // A read every few steps on every node, of an event the
            // cluster may have taken (some not yet): when it completes, the
            // node must hold everything acknowledged before it was asked.
            if self.steps.is_multiple_of(7) {
                self.reads.ask(i, node, &self.acked, &mut net);
            }
            let me = i as u8;
            // The proposer: resumed from a read after a restart (never
            // below what was acknowledged), then up to PIPELINE in flight.
            if let Some(at) = self.proposers[i].poll(node, 1, &mut net) {
                assert!(
                    at >= self.acked[i],
                    "node {i} resumed at {at} after acknowledging {}",
                    self.acked[i]
                );
            }
            while propose && let Some(seq) = self.proposers[i].next_seq() {
                let mut buf = [0u8; 512];
                let data = proposal(me, seq, 300, &mut buf).to_vec();
                self.proposers[i].propose(node, (), &data, &mut net).unwrap();
            }
            // Reads are taken before the ready loop too, as the Raft PD
            // does: a read must not complete on what the core has taken
            // (a snapshot's last chunk) before the state machine has it.
            self.reads.take(i, node, &mut net);
            node.pump(&mut net).unwrap();
            self.reads.take(i, node, &mut net);
            // Acknowledged, each where the proposer says: the entry there
            // is the proposal (or compacted since, into the snapshot).
            let mut acked = Vec::new();
            self.proposers[i].settle(node, &mut net, |a| acked.push(a));
            for a in acked {
                let snapshot = node.raft().snapshot().meta.index;
                let entry = node.raft().log().entry(a.index).map(|e| parse(e.data));
                assert!(
                    entry == Some(Some((me, a.seq))) || (entry.is_none() && a.index <= snapshot),
                    "node {i}'s proposal {} taken at {}: the log has {entry:?} (snapshot {snapshot})",
                    a.seq,
                    a.index
                );
                assert!(a.seq > self.acked[i], "node {i} acknowledged {} again", a.seq);
                self.acked[i] = a.seq;
            }
            // The reader: up to two a step, and none for stretches, so
            // that the node must hold its apply back.
            let take =
                if self.steps % 101 < 30 || self.stalled == Some(i) { 0 } else { self.reader_rng.below(3) };
            read_delivered(i, node, take, &mut self.logs[i], &mut self.installed_seen[i]);
        }
        // Deliver what is in flight, in random order within a step.
        let mut batch: Vec<_> = self.queue.drain(..).collect();
        for k in (1..batch.len()).rev() {
            batch.swap(k, self.rng.below(k as u64 + 1) as usize);
        }
        for (from, to, bytes) in batch {
            if let Some(node) = self.nodes[to as usize - 1].as_mut() {
                node.receive(from, &bytes);
            }
        }
    }

    fn crash(&mut self, i: usize) {
        self.reads.readers[i] = Reader::default();
        let mut disk = self.nodes[i].take().unwrap().into_device();
        disk.crash(&mut self.rng);
        self.disks[i] = Some(disk);
    }

    fn restart(&mut self, i: usize) -> Found {
        let disk = self.disks[i].take().unwrap();
        let (node, found) = Node::start(
            disk,
            config(i as NodeId + 1),
            &membership(),
            owner(i as NodeId + 1),
            999,
            &mut self.scratch,
            journal(),
        )
        .unwrap();
        let mut node = node;
        node.deliver_from_journal();
        self.installed_seen[i] = 0;
        // It knows nothing of its proposals: it reads where they stand.
        self.proposers[i] = Proposer::new(i as u8, None);
        self.nodes[i] = Some(node);
        found
    }

    fn leader(&self) -> Option<usize> {
        (0..3).find(|&i| self.nodes[i].as_ref().is_some_and(|n| n.raft().role() == Role::Leader))
    }

    fn ledgers(&self) -> Vec<Ledger> {
        self.nodes.iter().flatten().map(|n| *n.ledger()).collect()
    }

    fn journals(&self) -> Vec<Vec<u8>> {
        self.nodes.iter().flatten().map(|n| n.journal().bytes().to_vec()).collect()
    }
}

/// Every node's reader of Strong events, and what their reads found.
struct Reads {
    /// Per node (a new one after a restart).
    readers: Vec<Reader<u64>>,
    /// Every read asked and not answered, by tag, with what was
    /// acknowledged when it was asked.
    asked: std::collections::HashMap<u64, Vec<u64>>,
    next_tag: u64,
    /// The events reads found, by number.
    found: Vec<(u64, Vec<u8>)>,
    answered: u64,
    not_yet: u64,
    gone: u64,
    /// The numbers reads ask for (apart from the network's generator).
    rng: Rng,
}

impl Reads {
    /// Node `i` asks for an event the cluster may have taken (some not
    /// yet), with `acked` acknowledged so far.
    fn ask(&mut self, i: usize, node: &mut Node<'static, SimDisk>, acked: &[u64], net: &mut Net<'_>) {
        let number = 1 + self.rng.below(node.ledger().count + 8);
        let tag = self.next_tag;
        if self.readers[i].ask(node, tag, number, net).is_ok() {
            self.asked.insert(tag, acked.to_vec());
            self.next_tag += 1;
        }
    }

    /// Takes node `i`'s completed reads: each must see every proposal
    /// that was acknowledged when it was asked, and be what was taken
    /// under its number.
    fn take(&mut self, i: usize, node: &mut Node<'static, SimDisk>, net: &mut Net<'_>) {
        let mut answers = Vec::new();
        self.readers[i].poll(node, 1, net, |a| {
            let found = match a.found {
                Read::Event(data) => Some(data.to_vec()),
                Read::NotYet | Read::Gone => None,
            };
            answers.push((a.tag, a.number, a.count, a.index, a.found == Read::NotYet, found));
        });
        // Nothing applied since the answers: the ledger is as they saw it.
        let ledger = node.ledger();
        for (tag, number, count, index, not_yet, found) in answers {
            let acked = self.asked.remove(&tag).expect("a read answered once");
            for (p, &a) in acked.iter().enumerate() {
                assert!(ledger.last[p] >= a, "node {i}: read {tag} missed proposer {p}'s acknowledged {a}");
            }
            assert_eq!(count, ledger.count, "node {i}: read {tag} counts what is applied");
            assert!(count >= acked.iter().sum(), "node {i}: read {tag} counted fewer than acknowledged");
            assert!(index <= node.raft().log().applied(), "node {i}: read {tag} at an index not applied");
            assert_eq!(not_yet, number > count, "node {i}: read {tag} of {number} with {count} taken");
            match found {
                Some(data) => {
                    assert!(parse(&data).is_some(), "node {i}: read {tag} found a proposal");
                    self.found.push((number, data));
                }
                None if !not_yet => self.gone += 1,
                None => self.not_yet += 1,
            }
            self.answered += 1;
        }
    }
}

/// Node `i`'s reader takes up to `take` delivered proposals into `log`,
/// skipping by number those it has (a restarted node hands its journal
/// over again). Numbers may jump only over a snapshot the node installed
/// since the reader last looked.
fn read_delivered(
    i: usize,
    node: &mut Node<'static, SimDisk>,
    take: u64,
    log: &mut Vec<(u64, Vec<u8>)>,
    installed_seen: &mut u64,
) {
    for _ in 0..take {
        let Some((number, data)) = node.undelivered() else { break };
        let last = log.last().map_or(0, |&(n, _)| n);
        if number > last {
            assert!(
                number == last + 1 || node.stats().installed > *installed_seen,
                "node {i}: delivery jumped from {last} to {number} with no snapshot installed"
            );
            log.push((number, data.to_vec()));
        }
        node.delivered(number);
        *installed_seen = node.stats().installed;
    }
}

/// Runs `f` on a thread with room for three nodes on its stack (a node
/// is 200 KB, and unoptimised builds move it several times).
fn with_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new().stack_size(64 << 20).spawn(f).unwrap().join().unwrap();
}

#[test]
fn acknowledged_proposals_survive_crashes_loss_and_a_wiped_disk() {
    with_stack(|| {
        for seed in 0..6 {
            one_run(seed);
        }
    });
}

fn one_run(seed: u64) {
    {
        let mut sim = Sim::new(seed);
        for _ in 0..300 {
            sim.step(true);
        }
        assert!(sim.leader().is_some(), "seed {seed}: a leader");
        // Kill the leader three times, mid-load, under 10 % loss.
        sim.loss = 10;
        for _ in 0..3 {
            let leader = sim.leader().expect("a leader");
            sim.crash(leader);
            for _ in 0..200 {
                sim.step(true);
            }
            assert!(matches!(sim.restart(leader), Found::Recovered { .. }));
            for _ in 0..200 {
                sim.step(true);
            }
        }
        // Cut one node off, then wipe a follower's disk and bring it back.
        sim.cut = Some(1);
        for _ in 0..200 {
            sim.step(true);
        }
        sim.cut = None;
        let follower = (0..3).find(|&i| Some(i) != sim.leader()).unwrap();
        sim.crash(follower);
        // Its new disk is prepared to join (as `worknode disk join` does):
        // it must not found a second cluster, nor vote before the leader
        // gives it the membership.
        let me = owner(follower as NodeId + 1);
        let disk = Log::<_, 4096>::format_over_with(SimDisk::new(DISK_SECTORS), 1, me, FLAG_JOIN).unwrap();
        sim.disks[follower] = Some(disk.into_device());
        sim.logs[follower].clear();
        assert_eq!(sim.restart(follower), Found::Joining);
        sim.loss = 0;
        for _ in 0..1500 {
            sim.step(true);
        }
        // Quiesce: no new proposals, let everything commit and apply.
        for _ in 0..400 {
            sim.step(false);
        }
        let ledgers = sim.ledgers();
        assert_eq!(ledgers.len(), 3);
        assert!(ledgers.windows(2).all(|w| w[0] == w[1]), "seed {seed}: ledgers diverged: {ledgers:?}");
        // The journals too, the wiped node's included (it got its journal
        // from the snapshot): byte for byte, oldest records dropped alike.
        let journals = sim.journals();
        assert!(journals.windows(2).all(|w| w[0] == w[1]), "seed {seed}: journals diverged");
        let kept = sim.nodes[0].as_ref().unwrap().journal().records();
        assert!(kept > 0 && kept < ledgers[0].count, "seed {seed}: the journal dropped old records");
        assert!(journals[0].len() > JOURNAL / 2, "seed {seed}: the journal filled");
        for p in 0..3 {
            assert!(
                ledgers[0].last[p] >= sim.acked[p],
                "seed {seed}: proposer {p} lost acknowledged proposals"
            );
        }
        let total: u64 = sim.acked.iter().sum();
        assert!(total > 1000, "seed {seed}: only {total} proposals acknowledged");
        assert!(sim.reads.answered > 100, "seed {seed}: only {} reads answered", sim.reads.answered);
        assert!(
            sim.reads.not_yet > 0 && sim.reads.gone > 0 && sim.reads.found.len() > 100,
            "seed {seed}: reads found {} events, {} not yet taken, {} gone",
            sim.reads.found.len(),
            sim.reads.not_yet,
            sim.reads.gone
        );
        let wiped = sim.nodes[follower].as_ref().unwrap().stats();
        assert!(wiped.installed >= 1, "seed {seed}: the wiped node caught up by snapshot: {wiped:?}");
        let all: Vec<_> = sim.nodes.iter().flatten().map(|n| n.stats()).collect();
        assert!(all.iter().map(|s| s.taken).sum::<u64>() > 0, "followers' proposals were forwarded");
        // Delivery: every node's reader has everything up to the count,
        // in order; the same bytes under the same number on every node;
        // and the reader's pauses held the apply back.
        assert!(
            all.iter().map(|s| s.held_back).sum::<u64>() > 0,
            "seed {seed}: the reader never held the apply"
        );
        let mut by_number = std::collections::BTreeMap::new();
        for (i, log) in sim.logs.iter().enumerate() {
            assert_eq!(
                log.last().map(|l| l.0),
                Some(ledgers[0].count),
                "seed {seed}: node {i}'s reader is behind"
            );
            assert!(log.windows(2).all(|w| w[0].0 < w[1].0), "seed {seed}: node {i}'s numbers go back");
            for (number, data) in log {
                let first = by_number.entry(*number).or_insert(data);
                assert_eq!(*first, data, "seed {seed}: node {i}'s proposal {number} differs");
            }
        }
        // What each read found is what the nodes delivered under its
        // number (every number delivered somewhere is checked).
        for (number, data) in &sim.reads.found {
            if let Some(first) = by_number.get(number) {
                assert_eq!(*first, data, "seed {seed}: a read of {number} found other bytes");
            }
        }
        let wiped_first = sim.logs[follower][0].0;
        assert!(wiped_first > 1, "seed {seed}: the wiped node starts after its snapshot");
        let whole = (0..3).filter(|&i| sim.logs[i].len() as u64 == ledgers[0].count).count();
        assert!(whole >= 1, "seed {seed}: some node's reader has every proposal");
    }
}

#[test]
fn proposals_parse_back_and_damaged_ones_do_not() {
    let mut buf = [0u8; 512];
    let p = proposal(2, 77, 100, &mut buf).to_vec();
    assert_eq!(parse(&p), Some((2, 77)));
    assert_eq!(parse(&p[..5]), None, "a head cut short");
    let mut stranger = p.clone();
    stranger[0] = worknode_raft::limits::MAX_NODES as u8;
    assert_eq!(parse(&stranger), None, "a proposer there cannot be");
    // A Strong event: its head, then its worknode and event.
    let event = strong_event(1, 5, 300, b"moved 3 apples", &mut buf).unwrap().to_vec();
    assert_eq!(event.len(), 9 + 2 + 14);
    assert_eq!(parse(&event), Some((1, 5)));
    assert_eq!(strong_payload(&event), Some((300, &b"moved 3 apples"[..])));
    assert_eq!(strong_payload(&event[..10]), None);
    assert!(strong_event(1, 5, 300, &[0; 600], &mut buf).is_none(), "too large for the buffer");
    let mut ledger = Ledger::default();
    assert_eq!(ledger.apply(1, &p), None, "77 is not proposer 2's first");
    let first = proposal(2, 1, 0, &mut buf).to_vec();
    assert_eq!(ledger.apply(2, &first), Some((2, 1)));
    assert_eq!(ledger.apply(3, &first), None, "a duplicate is skipped");
    assert_eq!((ledger.count, ledger.skipped), (1, 2));
    assert_eq!(Ledger::decode(&ledger.encode()), Some(ledger));
    assert_eq!(Ledger::decode(&ledger.encode()[1..]), None);
}

#[test]
fn garbage_from_the_network_is_dropped_and_counted() {
    with_stack(garbage);
}

fn garbage() {
    let mut scratch = Box::<Recovered>::default();
    let (mut node, _) = Node::start(
        SimDisk::new(DISK_SECTORS),
        config(1),
        &membership(),
        owner(1),
        5,
        &mut scratch,
        journal(),
    )
    .unwrap();
    for bytes in [&[][..], &[0], &[0, 1, 2, 3], &[9, 9], &[0xFF; 40]] {
        node.receive(2, bytes);
    }
    assert_eq!(node.stats().dropped, 5);
    assert_eq!(node.stats().received, 5);
}

#[test]
fn a_disk_of_another_node_or_cluster_is_refused() {
    with_stack(foreign);
}

fn foreign() {
    let mut scratch = Box::<Recovered>::default();
    let start = |disk, me: Owner, scratch: &mut Recovered| {
        Node::start(disk, config(NodeId::from(me.node)), &membership(), me, 5, scratch, journal())
    };
    /// Loses every message.
    struct Nowhere;
    impl Transport for Nowhere {
        fn send(&mut self, _: NodeId, _: &[u8]) -> bool {
            false
        }
    }
    let (mut node, found) = start(SimDisk::new(DISK_SECTORS), owner(1), &mut scratch).unwrap();
    assert_eq!(found, Found::Formatted);
    node.pump(&mut Nowhere).unwrap();
    let disk = node.into_device();
    let (node, found) = start(disk, owner(1), &mut scratch).unwrap();
    assert!(matches!(found, Found::Recovered { .. }), "its own node opens it");
    let mut disk = node.into_device();
    let before = disk.durable.clone();
    for me in [owner(2), Owner { cluster: 0xC2, node: 1 }] {
        let refused = start(disk, me, &mut scratch).map(|_| ()).unwrap_err();
        let NodeError::Storage(StorageError::Log(LogError::Foreign { owner: named })) = refused else {
            panic!("{refused:?}")
        };
        assert_eq!(named, owner(1));
        disk = SimDisk::new(DISK_SECTORS);
        disk.durable = before.clone();
    }
    // Formatted and stopped before anything was durable: still a founder.
    let (node, _) = start(SimDisk::new(DISK_SECTORS), owner(3), &mut scratch).unwrap();
    let (node, found) = start(node.into_device(), owner(3), &mut scratch).unwrap();
    assert_eq!(found, Found::Formatted);
    assert_eq!(node.raft().membership(), &membership());
    // Two nodes' blank disks get different identities.
    let id = |me| start(SimDisk::new(DISK_SECTORS), me, &mut Recovered::default()).unwrap().0.into_device();
    let (one, two) = (id(owner(1)), id(owner(2)));
    assert_ne!(one.durable[0][16..24], two.durable[0][16..24]);
}

#[test]
fn a_node_fits_a_pd() {
    // The Raft PD keeps the node and the replay scratch in static memory;
    // its stack holds neither. This pins what they cost.
    let node = std::mem::size_of::<Node<'static, SimDisk>>();
    let scratch = std::mem::size_of::<Recovered>();
    eprintln!("node {node} bytes, scratch {scratch} bytes");
    assert!(node < 256 * 1024 && scratch < 256 * 1024);
}

/// A follower whose reader stops for a long while (its governor busy)
/// holds its apply back while the others go on, falls behind the leader's
/// snapshot, and applies its backlog while snapshots arrive: nothing
/// fails, and every reader ends with every number. (It failed with
/// `SnapshotMissing` while a node compacted during an arriving snapshot:
/// seen first under QEMU, in `make bench-cluster`.)
#[test]
fn a_reader_that_stops_for_long_holds_its_node_back_without_harm() {
    with_stack(|| {
        for seed in 0..4 {
            let mut sim = Sim::new(seed);
            for _ in 0..300 {
                sim.step(true);
            }
            let follower = (0..3).find(|&i| Some(i) != sim.leader()).unwrap();
            sim.stalled = Some(follower);
            for _ in 0..4000 {
                sim.step(true);
            }
            // Held back long enough that its log fell behind the leader's
            // snapshot: snapshots arrive while it applies its backlog.
            let held = sim.nodes[follower].as_ref().unwrap().stats();
            assert!(
                held.held_back > 0 && held.installed > 0,
                "seed {seed}: held back, and sent snapshots: {held:?}"
            );
            sim.stalled = None;
            for _ in 0..1500 {
                sim.step(true);
            }
            for _ in 0..600 {
                sim.step(false);
            }
            let ledgers = sim.ledgers();
            assert!(ledgers.windows(2).all(|w| w[0] == w[1]), "seed {seed}: ledgers diverged");
            for (i, log) in sim.logs.iter().enumerate() {
                assert_eq!(log.last().map(|l| l.0), Some(ledgers[0].count), "seed {seed}: node {i}'s reader");
            }
        }
    });
}
