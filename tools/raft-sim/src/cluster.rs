//! One simulated run: N nodes of the real Raft core, each with its storage
//! in a real event log on a simulated disk, a simulated network, clients
//! running a key-value workload, and a fault schedule, all driven by one
//! seeded random number generator so that a seed replays exactly.
//!
//! Time advances in steps of 1 ms. Each node ticks every 10 ms (at its own
//! phase). The run has a fault phase followed by a heal phase (no new
//! faults, every node up, a perfect network) at whose end the cluster must
//! be serving clients again.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use worknode_log::LogError;
use worknode_log::format::Owner;
use worknode_log::sim::{Rng, SimDisk};
use worknode_raft::limits::{MAX_DATA, MAX_WIRE, SNAPSHOT_CHUNK};
use worknode_raft::storage::{LogStorage, Recovered, StorageError};
use worknode_raft::{
    Broken, ConfChange, Config, EntryKind, Membership, Message, NodeId, Raft, ReadMode, Refused, Role,
    Snapshot,
};

use crate::check::{Checker, Violation};
use crate::kv::{KEYS, Kv, Put};
use crate::linearize::{self, Action, Op};

/// Sectors per simulated disk (16 MiB, allocated lazily by the host).
const DISK_SECTORS: u64 = 32 * 1024;
/// Sectors of a small disk (256 KiB): most runs' records wrap it.
const SMALL_DISK: u64 = 512;
/// Batch buffer of each node's event log.
const BATCH: usize = 16 * 1024;
/// Milliseconds per tick.
const TICK_MS: u64 = 10;
/// A client gives up on an answer after this long.
const CLIENT_TIMEOUT_MS: u64 = 300;
/// Clients of the key-value service.
const CLIENTS: u64 = 4;

/// What to run.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The seed; everything else derives from it.
    pub seed: u64,
    /// Broken protocol variants, switched on in every node.
    pub broken: Broken,
    /// Disks whose flush reports success without persisting (outside the
    /// fault model Raft is safe under; see docs/raft.md).
    pub lying_fsync: bool,
    /// Length of the fault phase.
    pub fault_ms: u64,
    /// Length of the heal phase.
    pub heal_ms: u64,
}

impl Options {
    /// The defaults `make sim` uses for `seed`.
    pub fn new(seed: u64) -> Options {
        Options { seed, broken: Broken::default(), lying_fsync: false, fault_ms: 3000, heal_ms: 1500 }
    }
}

/// Counters of one run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    /// Client operations that completed.
    pub ops: u64,
    /// Client operations that timed out (indeterminate).
    pub timeouts: u64,
    /// Messages sent.
    pub messages: u64,
    /// Messages dropped by loss or partitions.
    pub dropped: u64,
    /// Damaged messages the decoder rejected.
    pub garbage: u64,
    /// Messages the nodes rejected (stale term, unknown sender...).
    pub rejected: u64,
    /// Node crashes (power losses).
    pub crashes: u64,
    /// Crashes in the middle of a storage write.
    pub torn: u64,
    /// Snapshots installed from a leader.
    pub snapshots: u64,
    /// Snapshot chunks received and stored.
    pub chunks: u64,
    /// Membership changes committed (and applied somewhere).
    pub conf_changes: u64,
    /// Leaders elected.
    pub leaders: u64,
    /// Restarts the storage refused (lost acknowledged writes detected).
    pub refused: u64,
    /// Nodes whose Raft log had reclaimed its oldest records by the end.
    pub reclaimed: u64,
    /// Compactions put off because a snapshot travelled or a follower
    /// caught up (profiles with `held_compaction`).
    pub held: u64,
}

/// What a run found.
#[derive(Debug)]
pub struct Outcome {
    /// The seed.
    pub seed: u64,
    /// Broken properties (empty: the run passed).
    pub violations: Vec<Violation>,
    /// Counters.
    pub counters: Counters,
    /// The fault profile, for the replay message.
    pub profile: Profile,
}

/// The faults and settings a seed chose.
#[derive(Clone, Copy, Debug)]
pub struct Profile {
    /// Nodes in the simulation.
    pub nodes: u64,
    /// Founding voters (the rest join through membership changes).
    pub founders: u64,
    /// Message loss, percent.
    pub loss: u64,
    /// Message duplication, percent.
    pub dup: u64,
    /// Largest one-way delay, ms.
    pub max_delay: u64,
    /// Mean time between partitions, ms (0: none).
    pub partition_every: u64,
    /// Mean time between crashes, ms (0: none).
    pub crash_every: u64,
    /// Leader churn: every crash hits the leader, and nodes come back fast.
    pub leader_churn: bool,
    /// Membership changes.
    pub conf_changes: bool,
    /// Leadership transfers.
    pub transfers: bool,
    /// Applied entries between snapshots.
    pub compact_every: u64,
    /// Compaction held as the nodes hold it (`worknode_cluster::Node`):
    /// not while a snapshot is sent or arrives, nor while a follower that
    /// answers catches up. Else a node compacts whenever `compact_every`
    /// entries have been applied, which Raft's safety must survive too.
    pub held_compaction: bool,
    /// Pre-vote and check-quorum.
    pub pre_vote: bool,
    /// Lease reads (with check-quorum).
    pub lease_reads: bool,
    /// Damaged messages injected, percent of messages.
    pub garbage: u64,
    /// Pipelined appends per follower.
    pub max_inflight: usize,
    /// Entries per append.
    pub max_batch: usize,
    /// Filler bytes in each write's entry (0 to the most an entry holds).
    pub entry_pad: usize,
    /// Filler bytes in each snapshot, so snapshots span many chunks.
    pub snapshot_pad: usize,
    /// Sectors of each node's disk: [`SMALL_DISK`] for some seeds, so
    /// that the Raft log wraps and reclaims what snapshots made obsolete
    /// (crashes and recovery included), else [`DISK_SECTORS`].
    pub disk_sectors: u64,
}

impl Profile {
    /// The profile seed `rng` chooses (the first draws of a run). The sizes
    /// come from a second generator of the same `seed`, so adding them left
    /// every earlier knob and the whole schedule of each seed as it was.
    pub fn draw(rng: &mut Rng, seed: u64) -> Profile {
        let mut sizes = Rng::new(seed ^ 0x5EED_0F51_2E5A_11E5);
        // A third generator, for the same reason.
        let mut disks = Rng::new(seed ^ 0xD15C_5EED_0000_0003);
        // A fourth, for the same reason.
        let mut holds = Rng::new(seed ^ 0x401D_5EED_0000_0004);
        let nodes = if rng.chance(50) { 3 } else { 5 };
        let conf_changes = nodes == 5 && rng.chance(60);
        let pre_vote = rng.chance(75);
        Profile {
            nodes,
            founders: if conf_changes { 3 } else { nodes },
            loss: rng.below(16),
            dup: rng.below(6),
            max_delay: 1 + rng.below(30),
            partition_every: if rng.chance(70) { 200 + rng.below(600) } else { 0 },
            crash_every: if rng.chance(70) { 150 + rng.below(600) } else { 0 },
            leader_churn: rng.chance(20),
            conf_changes,
            transfers: rng.chance(40),
            compact_every: 8 + rng.below(120),
            held_compaction: holds.chance(50),
            pre_vote,
            lease_reads: pre_vote && rng.chance(30),
            garbage: rng.below(3),
            max_inflight: 1 + rng.below(8) as usize,
            // One entry per append a quarter of the time: it separates a new
            // leader's no-op from the old entries before it, which is what
            // the Figure 8 scenario (Raft §5.4.2) needs.
            max_batch: if rng.chance(25) { 1 } else { 1 + rng.below(32) as usize },
            entry_pad: if sizes.chance(50) {
                0
            } else {
                sizes.below((MAX_DATA - Put::LEN + 1) as u64) as usize
            },
            snapshot_pad: if sizes.chance(30) { 0 } else { sizes.below(12 * SNAPSHOT_CHUNK as u64) as usize },
            disk_sectors: if disks.chance(40) { SMALL_DISK } else { DISK_SECTORS },
        }
    }
}

struct Node {
    id: NodeId,
    raft: Option<Box<Raft>>,
    store: Option<Box<LogStorage<SimDisk, BATCH>>>,
    /// The disk while the node is down.
    disk: Option<SimDisk>,
    kv: Kv,
    up_at: u64,
    phase: u64,
    /// Proposals this node accepted: log index → operation.
    writes: HashMap<u64, u64>,
    /// Reads this node accepted: (operation, key, confirmed index).
    reads: Vec<(u64, u8, Option<u64>)>,
    /// Role and term last reported by the trace.
    traced: (Role, u64, usize),
}

#[derive(Clone, Copy)]
struct Pending {
    op: u64,
    history: usize,
    sent: u64,
}

struct Client {
    target: NodeId,
    next_at: u64,
    seq: u64,
    pending: Option<Pending>,
}

/// A datagram in flight: (delivery time, send order, addressee, bytes).
type InFlight = Reverse<(u64, u64, NodeId, Vec<u8>)>;

struct Net {
    queue: BinaryHeap<InFlight>,
    seq: u64,
    blocked: HashSet<(NodeId, NodeId)>,
    heal_at: u64,
}

/// The whole simulated world of one run.
struct World {
    opts: Options,
    profile: Profile,
    rng: Rng,
    now: u64,
    nodes: Vec<Node>,
    clients: Vec<Client>,
    net: Net,
    history: Vec<Op>,
    checker: Checker,
    counters: Counters,
    next_partition: u64,
    next_crash: u64,
    next_conf: u64,
    next_transfer: u64,
    last_success: u64,
    /// Print role changes, crashes and membership (RAFT_SIM_TRACE=1).
    trace: bool,
}

fn config(opts: &Options, profile: &Profile, id: NodeId) -> Config {
    let mut cfg = Config::new(id);
    cfg.seed = opts.seed;
    cfg.pre_vote = profile.pre_vote;
    cfg.check_quorum = profile.pre_vote;
    cfg.max_inflight = profile.max_inflight;
    cfg.max_batch = profile.max_batch;
    cfg.max_uncommitted = 256;
    if profile.lease_reads {
        cfg.read_mode = ReadMode::Lease { drift_ticks: 2 };
    }
    cfg.broken = opts.broken;
    cfg
}

/// Runs one seed.
pub fn run(opts: Options) -> Outcome {
    let mut rng = Rng::new(opts.seed);
    let profile = Profile::draw(&mut rng, opts.seed);
    let founders: Vec<NodeId> = (1..=profile.founders).collect();
    let membership = Membership::with_voters(&founders).expect("valid founders");
    let mut nodes = Vec::new();
    for id in 1..=profile.nodes {
        let mut disk = SimDisk::new(profile.disk_sectors);
        disk.lying_flush = opts.lying_fsync;
        let store =
            Box::new(LogStorage::create(disk, opts.seed ^ id, owner(id)).expect("blank disk formats"));
        let initial = if id <= profile.founders { membership.clone() } else { Membership::default() };
        let raft = Box::new(Raft::new(config(&opts, &profile, id), initial).expect("valid config"));
        nodes.push(Node {
            id,
            raft: Some(raft),
            store: Some(store),
            disk: None,
            kv: Kv::default(),
            up_at: 0,
            phase: rng.below(TICK_MS),
            writes: HashMap::new(),
            reads: Vec::new(),
            traced: (Role::Follower, 0, 0),
        });
    }
    let clients = (0..CLIENTS)
        .map(|_| Client {
            target: 1 + rng.below(profile.founders),
            next_at: rng.below(20),
            seq: 0,
            pending: None,
        })
        .collect();
    let mut world = World {
        opts,
        profile,
        rng,
        now: 0,
        nodes,
        clients,
        net: Net { queue: BinaryHeap::new(), seq: 0, blocked: HashSet::new(), heal_at: 0 },
        history: Vec::new(),
        checker: Checker::default(),
        counters: Counters::default(),
        next_partition: 0,
        next_crash: 0,
        next_conf: 0,
        next_transfer: 0,
        last_success: 0,
        trace: std::env::var_os("RAFT_SIM_TRACE").is_some(),
    };
    world.schedule_faults();
    world.run();
    let mut violations = std::mem::take(&mut world.checker.violations);
    if let Err(key) = linearize::check(&world.history) {
        violations.push(Violation { property: "linearizability", detail: format!("history of key {key}") });
    }
    world.counters.ops = world.history.iter().filter(|op| op.ret.is_some()).count() as u64;
    for node in &mut world.nodes {
        if let Some(store) = node.store.as_mut() {
            world.counters.reclaimed += u64::from(store.log().oldest_seq() > 1);
        }
    }
    Outcome { seed: opts.seed, violations, counters: world.counters, profile }
}

impl World {
    fn schedule_faults(&mut self) {
        let p = self.profile;
        self.next_partition =
            if p.partition_every > 0 { self.rng.below(2 * p.partition_every) } else { u64::MAX };
        if self.profile.leader_churn {
            self.profile.crash_every = 40 + self.rng.below(100);
        }
        let p = self.profile;
        self.next_crash = if p.crash_every > 0 { self.rng.below(2 * p.crash_every) } else { u64::MAX };
        self.next_conf = if p.conf_changes { 200 + self.rng.below(300) } else { u64::MAX };
        self.next_transfer = if p.transfers { 300 + self.rng.below(500) } else { u64::MAX };
    }

    fn run(&mut self) {
        let end = self.opts.fault_ms + self.opts.heal_ms;
        while self.now < end && self.checker.violations.is_empty() {
            if self.now == self.opts.fault_ms {
                self.heal();
            }
            self.deliver();
            self.tick();
            if self.now < self.opts.fault_ms {
                self.inject_faults();
            }
            self.restart_due();
            self.clients_act();
            for i in 0..self.nodes.len() {
                self.pump(i);
            }
            self.now += 1;
        }
        // With lying disks, nodes that refused to restart may leave no
        // quorum: only safety is checked then.
        if !self.opts.lying_fsync
            && self.checker.violations.is_empty()
            && self.now - self.last_success.max(self.opts.fault_ms) > self.opts.heal_ms / 2
        {
            self.checker.violations.push(Violation {
                property: "liveness",
                detail: format!(
                    "no client operation completed in the last {} ms of the heal phase",
                    self.now - self.last_success.max(self.opts.fault_ms)
                ),
            });
        }
    }

    fn heal(&mut self) {
        self.net.blocked.clear();
        self.profile.loss = 0;
        self.profile.dup = 0;
        self.profile.garbage = 0;
        for node in &mut self.nodes {
            if node.up_at != u64::MAX {
                node.up_at = node.up_at.min(self.now);
            }
        }
    }

    // ---- network ----

    /// Sends an encoded message from `from` to `to`.
    fn send(&mut self, from: NodeId, to: NodeId, bytes: Vec<u8>) {
        self.counters.messages += 1;
        debug_assert!(bytes.len() <= MAX_WIRE);
        if self.net.blocked.contains(&(from, to)) || self.rng.chance(self.profile.loss) {
            self.counters.dropped += 1;
            return;
        }
        let copies = if self.rng.chance(self.profile.dup) { 2 } else { 1 };
        for _ in 0..copies {
            let mut bytes = bytes.clone();
            if self.rng.chance(self.profile.garbage) {
                // Damage in transit: a strict prefix (a torn datagram), or
                // a bad version byte. Neither may decode.
                if self.rng.chance(50) {
                    bytes.truncate(self.rng.below(bytes.len() as u64) as usize);
                } else {
                    bytes[0] = 0x80 | self.rng.next() as u8;
                }
            }
            let at = self.now + 1 + self.rng.below(self.profile.max_delay);
            self.net.seq += 1;
            self.net.queue.push(Reverse((at, self.net.seq, to, bytes)));
        }
    }

    fn deliver(&mut self) {
        // Bounded by the queue, which only holds messages sent so far.
        while let Some(Reverse((at, _, _, _))) = self.net.queue.peek() {
            if *at > self.now {
                break;
            }
            let Some(Reverse((_, _, to, bytes))) = self.net.queue.pop() else { break };
            let message = match Message::decode(&bytes) {
                Ok(m) => m,
                Err(_) => {
                    self.counters.garbage += 1;
                    continue;
                }
            };
            let Some(node) = self.nodes.get_mut(to as usize - 1) else { continue };
            let Some(raft) = node.raft.as_mut() else { continue };
            if raft.step(message).is_err() {
                self.counters.rejected += 1;
            }
            self.observe(to as usize - 1);
        }
    }

    fn tick(&mut self) {
        for i in 0..self.nodes.len() {
            if (self.now + self.nodes[i].phase).is_multiple_of(TICK_MS)
                && let Some(raft) = self.nodes[i].raft.as_mut()
            {
                raft.tick();
                self.observe(i);
            }
        }
    }

    fn observe(&mut self, i: usize) {
        if self.trace
            && let Some(raft) = self.nodes[i].raft.as_deref()
        {
            let now = (
                raft.role(),
                raft.term(),
                raft.membership().voters.len() * 10 + raft.membership().learners.len(),
            );
            if now != self.nodes[i].traced {
                let log = raft.log();
                eprintln!(
                    "{:>5} ms node {} {:?} term {} last {}/{} commit {} voters {:?} learners {:?}",
                    self.now,
                    raft.id(),
                    raft.role(),
                    raft.term(),
                    log.last_index(),
                    log.last_term(),
                    log.committed(),
                    raft.membership().voters,
                    raft.membership().learners
                );
                self.nodes[i].traced = now;
            }
        }
        if let Some(raft) = self.nodes[i].raft.as_deref()
            && raft.role() == Role::Leader
            && self.checker.leader(raft)
        {
            self.counters.leaders += 1;
        }
    }

    // ---- faults ----

    fn inject_faults(&mut self) {
        let n = self.profile.nodes;
        if self.now >= self.net.heal_at && !self.net.blocked.is_empty() {
            self.net.blocked.clear();
        }
        if self.now >= self.next_partition {
            self.next_partition = self.now + 1 + self.rng.below(2 * self.profile.partition_every);
            self.net.blocked.clear();
            self.net.heal_at = self.now + 100 + self.rng.below(500);
            match self.rng.below(3) {
                0 => {
                    // Isolate one node, often the leader.
                    let lone = match self.leader_index() {
                        Some(l) if self.rng.chance(50) => l as NodeId + 1,
                        _ => 1 + self.rng.below(n),
                    };
                    for other in (1..=n).filter(|&o| o != lone) {
                        self.net.blocked.insert((lone, other));
                        self.net.blocked.insert((other, lone));
                    }
                }
                1 => {
                    // Split in two random groups.
                    let side: Vec<bool> = (0..n).map(|_| self.rng.chance(50)).collect();
                    for a in 1..=n {
                        for b in 1..=n {
                            if side[a as usize - 1] != side[b as usize - 1] {
                                self.net.blocked.insert((a, b));
                            }
                        }
                    }
                }
                _ => {
                    // Asymmetric links: some directions only.
                    for _ in 0..1 + self.rng.below(n) {
                        let (a, b) = (1 + self.rng.below(n), 1 + self.rng.below(n));
                        if a != b {
                            self.net.blocked.insert((a, b));
                        }
                    }
                }
            }
        }
        if self.now >= self.next_crash {
            self.next_crash = self.now + 1 + self.rng.below(2 * self.profile.crash_every);
            // Half the crashes hit the leader (leader failure is where the
            // subtle cases live), the rest any node.
            let i = match self.leader_index() {
                Some(l) if self.profile.leader_churn || self.rng.chance(50) => l,
                _ => self.rng.below(n) as usize,
            };
            if self.nodes[i].raft.is_some() {
                if self.rng.chance(50) {
                    self.crash(i);
                } else if let Some(store) = self.nodes[i].store.as_mut() {
                    // Crash during one of its next storage operations: the
                    // write in progress is torn, unflushed ones are lost.
                    let dev = store.log().device();
                    dev.crash_at = Some(dev.ops + 1 + self.rng.below(4));
                    self.counters.torn += 1;
                }
            }
        }
        if self.now >= self.next_conf {
            self.next_conf = self.now + 150 + self.rng.below(300);
            self.change_membership();
        }
        if self.now >= self.next_transfer {
            self.next_transfer = self.now + 200 + self.rng.below(600);
            if let Some(l) = self.leader_index() {
                let voters = self.nodes[l].raft.as_ref().expect("leader is up").membership().voters.clone();
                let to = voters[self.rng.below(voters.len() as u64) as usize];
                let _ = self.nodes[l].raft.as_mut().expect("leader is up").transfer_leader(to);
            }
        }
    }

    fn leader_index(&self) -> Option<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].raft.as_ref().is_some_and(|r| r.role() == Role::Leader))
            .max_by_key(|&i| self.nodes[i].raft.as_ref().map(|r| r.term()))
    }

    /// The operator: adds a node as learner, promotes a learner, or removes
    /// a voter (keeping at least three), one change at a time.
    fn change_membership(&mut self) {
        let Some(l) = self.leader_index() else { return };
        let m = self.nodes[l].raft.as_ref().expect("leader is up").membership().clone();
        let outsiders: Vec<NodeId> = (1..=self.profile.nodes).filter(|&id| !m.contains(id)).collect();
        let change = if let Some(&learner) = m.learners.first() {
            ConfChange::AddVoter(learner)
        } else if !outsiders.is_empty() && (m.voters.len() < 4 || self.rng.chance(50)) {
            ConfChange::AddLearner(outsiders[self.rng.below(outsiders.len() as u64) as usize])
        } else if m.voters.len() > 3 {
            ConfChange::Remove(m.voters[self.rng.below(m.voters.len() as u64) as usize])
        } else {
            return;
        };
        let _ = self.nodes[l].raft.as_mut().expect("leader is up").propose_conf_change(change);
    }

    /// Power loss: the node stops, its disk keeps what was flushed (and, of
    /// what was not, some sectors whole, some torn, some not at all).
    fn crash(&mut self, i: usize) {
        self.counters.crashes += 1;
        if self.trace {
            eprintln!("{:>5} ms node {} CRASH", self.now, i + 1);
        }
        let node = &mut self.nodes[i];
        node.raft = None;
        node.writes.clear();
        node.reads.clear();
        if let Some(store) = node.store.take() {
            let mut disk = store.into_device();
            disk.crash(&mut self.rng);
            node.disk = Some(disk);
        }
        node.up_at = self.now
            + if self.profile.leader_churn { 5 + self.rng.below(40) } else { 20 + self.rng.below(300) };
    }

    fn restart_due(&mut self) {
        for i in 0..self.nodes.len() {
            if self.nodes[i].raft.is_some() || self.nodes[i].up_at > self.now {
                continue;
            }
            let Some(disk) = self.nodes[i].disk.take() else { continue };
            let id = self.nodes[i].id;
            let mut recovered = Box::<Recovered>::default();
            match LogStorage::<SimDisk, BATCH>::open(disk, &mut recovered, owner(id)) {
                Ok(store) => {
                    let mut store = Box::new(store);
                    let cfg = config(&self.opts, &self.profile, id);
                    let kv = match restore(&mut store, &recovered.snapshot) {
                        Ok(kv) => kv,
                        Err(e) => {
                            self.snapshot_violation(id, &recovered.snapshot, &e);
                            continue;
                        }
                    };
                    let snapshot = recovered.snapshot.clone();
                    let raft = Raft::recover(cfg, recovered.hard_state, snapshot, &mut recovered.entries())
                        .expect("valid config");
                    let node = &mut self.nodes[i];
                    node.raft = Some(Box::new(raft));
                    node.store = Some(store);
                    node.kv = kv;
                }
                Err(e) if self.opts.lying_fsync => {
                    // The event log noticed lost acknowledged writes and
                    // refuses to start: the node stays out (an operator
                    // would replace it), which is the safe outcome.
                    if self.trace {
                        eprintln!("{:>5} ms node {id} refuses to restart: {e:?}", self.now);
                    }
                    self.counters.refused += 1;
                    self.nodes[i].up_at = u64::MAX;
                }
                Err(e) => self
                    .checker
                    .violations
                    .push(Violation { property: "storage recovery", detail: format!("node {id}: {e:?}") }),
            }
        }
    }

    // ---- clients ----

    fn clients_act(&mut self) {
        for c in 0..self.clients.len() {
            if let Some(p) = self.clients[c].pending
                && self.now - p.sent > CLIENT_TIMEOUT_MS
            {
                // Give up: the operation stays open-ended in the history.
                self.counters.timeouts += 1;
                self.clients[c].pending = None;
                self.clients[c].target = 1 + self.rng.below(self.profile.nodes);
            }
            if self.clients[c].pending.is_some() || self.clients[c].next_at > self.now {
                continue;
            }
            self.issue(c);
        }
    }

    fn issue(&mut self, c: usize) {
        let client = &mut self.clients[c];
        client.seq += 1;
        let op = ((c as u64 + 1) << 32) | client.seq;
        let key = self.rng.below(u64::from(KEYS)) as u8;
        let is_put = self.rng.chance(50);
        let target = client.target;
        let pad = self.profile.entry_pad;
        let Some(raft) = self.nodes[target as usize - 1].raft.as_mut() else {
            self.retry(c, None);
            return;
        };
        let result =
            if is_put { raft.propose(&Put { op, key }.encode(pad)) } else { raft.read_index(op).map(|()| 0) };
        match result {
            Ok(index) => {
                let node = &mut self.nodes[target as usize - 1];
                if is_put {
                    node.writes.insert(index, op);
                } else {
                    node.reads.push((op, key, None));
                }
                let action = if is_put { Action::Put(op) } else { Action::Get(None) };
                self.history.push(Op { key, action, call: self.now, ret: None });
                self.clients[c].pending =
                    Some(Pending { op, history: self.history.len() - 1, sent: self.now });
            }
            Err(Refused::NotLeader(hint)) => self.retry(c, hint),
            Err(_) => self.retry(c, Some(target)),
        }
    }

    fn retry(&mut self, c: usize, target: Option<NodeId>) {
        let client = &mut self.clients[c];
        client.target = target.unwrap_or_else(|| 1 + self.rng.below(self.profile.nodes));
        client.next_at = self.now + 1 + self.rng.below(10);
    }

    /// A node answers operation `op`: `Some(result)` for a read, `None` for
    /// a write.
    fn answer(&mut self, op: u64, read: Option<Option<u64>>) {
        let c = (op >> 32) as usize - 1;
        let Some(p) = self.clients[c].pending.filter(|p| p.op == op) else { return };
        let entry = &mut self.history[p.history];
        entry.ret = Some(self.now);
        if let Some(result) = read {
            entry.action = Action::Get(result);
        }
        self.clients[c].pending = None;
        self.clients[c].next_at = self.now + self.rng.below(10);
        self.last_success = self.now;
    }

    // ---- the node loop ----

    /// Runs node `i`'s ready loop: persist, send, apply, advance.
    fn pump(&mut self, i: usize) {
        // Bounded: each round either finds nothing to do or advances.
        for _ in 0..8 {
            let Some(raft) = self.nodes[i].raft.as_mut() else { return };
            if !raft.has_ready() {
                break;
            }
            let rd = raft.ready();
            let node = &mut self.nodes[i];
            let (raft, store) = (node.raft.as_deref().expect("up"), node.store.as_mut().expect("up"));
            if store.save(raft, &rd).is_err() {
                self.crash(i);
                return;
            }
            if rd.persist.0 <= rd.persist.1 {
                self.checker.persisted(raft, rd.persist.0, rd.persist.1);
            }
            if rd.chunk.is_some() {
                self.counters.chunks += 1;
            }
            let mut out = Vec::new();
            let mut failed = None;
            let mut chunk = [0u8; SNAPSHOT_CHUNK];
            for m in raft.messages() {
                let mut buf = [0u8; MAX_WIRE];
                match store.fill_chunk(m, &mut chunk) {
                    Ok(m) => {
                        out.push((m.from, m.to, m.encode(&mut buf).expect("messages fit MAX_WIRE").to_vec()))
                    }
                    Err(e) => failed = Some(Restore::Storage(e)),
                }
            }
            let snapshot = raft.snapshot().clone();
            if failed.is_none() && rd.snapshot.is_some() {
                self.counters.snapshots += 1;
                match restore(store, &snapshot) {
                    Ok(kv) => node.kv = kv,
                    Err(e) => failed = Some(e),
                }
            }
            if let Some(e) = failed {
                if matches!(e, Restore::Storage(StorageError::Log(LogError::Io(_)))) {
                    // The disk failed (power loss): a crash, not a bug.
                    self.crash(i);
                    return;
                }
                let id = self.nodes[i].id;
                self.snapshot_violation(id, &snapshot, &e);
            }
            for (from, to, bytes) in out {
                self.send(from, to, bytes);
            }
            self.apply(i, rd.apply);
            let raft = self.nodes[i].raft.as_mut().expect("up");
            let confirmed: Vec<_> = raft.read_states().to_vec();
            raft.advance(rd);
            for rs in confirmed {
                if let Some(read) = self.nodes[i].reads.iter_mut().find(|r| r.0 == rs.ctx) {
                    read.2 = Some(rs.index);
                }
            }
            self.answer_reads(i);
            self.observe(i);
            self.maybe_compact(i);
        }
    }

    fn apply(&mut self, i: usize, (from, to): (u64, u64)) {
        for index in from..=to {
            let raft = self.nodes[i].raft.as_deref().expect("up");
            let entry = raft.log().entry(index).expect("entries to apply are in the window");
            let first = self.checker.applied(self.nodes[i].id, &entry);
            let put = match entry.kind {
                EntryKind::Normal => Put::decode(entry.data),
                EntryKind::ConfChange => {
                    // Term 1 holds the founders' bootstrap entries.
                    if first && entry.term > 1 {
                        self.counters.conf_changes += 1;
                    }
                    None
                }
                EntryKind::Empty | EntryKind::Bootstrap => None,
            };
            if let Some(put) = put {
                self.nodes[i].kv.put(put);
            }
            // If our entry was replaced, the client times out and the write
            // stays open-ended in the history.
            if let Some(op) = self.nodes[i].writes.remove(&index)
                && put.is_some_and(|p| p.op == op)
            {
                self.answer(op, None);
            }
        }
    }

    fn answer_reads(&mut self, i: usize) {
        let applied = self.nodes[i].raft.as_ref().map_or(0, |r| r.log().applied());
        let ready: Vec<(u64, u8)> = self.nodes[i]
            .reads
            .iter()
            .filter(|r| r.2.is_some_and(|at| at <= applied))
            .map(|r| (r.0, r.1))
            .collect();
        self.nodes[i].reads.retain(|r| r.2.is_none_or(|at| at > applied));
        for (op, key) in ready {
            let value = self.nodes[i].kv.get(key);
            self.answer(op, Some(value));
        }
    }

    fn maybe_compact(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let Some(raft) = node.raft.as_mut() else { return };
        if raft.log().applied() < raft.log().snapshot().index + self.profile.compact_every {
            return;
        }
        let held = raft.sending_snapshot() || raft.follower_catching_up() || raft.receiving_snapshot();
        if self.profile.held_compaction && held {
            self.counters.held += 1;
            return;
        }
        let data = node.kv.encode(self.profile.snapshot_pad);
        if raft.compact(data.len() as u64).is_err() {
            return;
        }
        let fill =
            |offset: u64, chunk: &mut [u8]| chunk.copy_from_slice(&data[offset as usize..][..chunk.len()]);
        if node.store.as_mut().expect("up").save_snapshot(raft, fill).is_err() {
            self.crash(i);
        }
    }

    fn snapshot_violation(&mut self, id: NodeId, snapshot: &Snapshot, e: &Restore) {
        let detail = format!("node {id}: snapshot at {}: {e:?}", snapshot.meta.index);
        self.checker.violations.push(Violation { property: "snapshot storage", detail });
    }
}

/// Why a stored snapshot did not come back.
#[derive(Debug)]
enum Restore {
    /// Reading it failed.
    Storage(StorageError),
    /// It read back, but is not what was stored.
    Undecodable,
}

/// Rebuilds a map from the stored snapshot: it must read back whole and
/// decode (filler included).
fn restore(store: &mut LogStorage<SimDisk, BATCH>, snapshot: &Snapshot) -> Result<Kv, Restore> {
    if snapshot.meta.index == 0 {
        return Ok(Kv::default());
    }
    let mut data = Vec::with_capacity(snapshot.len as usize);
    store.read_snapshot(snapshot, |_, bytes| data.extend_from_slice(bytes)).map_err(Restore::Storage)?;
    Kv::decode(&data).ok_or(Restore::Undecodable)
}

/// Node `id`'s disk belongs to it: a restarted node opens its own disk as
/// its owner (a mix-up of disks would be refused and fail the run).
fn owner(id: NodeId) -> Owner {
    Owner { cluster: 0x5157, node: u16::try_from(id).expect("a node number fits the owner") }
}
