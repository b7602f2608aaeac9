//! The Raft PD: one node of the cluster (docs/cluster.md).
//!
//! Glue over `worknode_cluster::node` (tested on the host): the Raft log
//! lives in the disk's Raft part, which the block driver serves to this PD
//! through its own queue (`worknode_abi::disk`); messages to other nodes
//! go through the network PD's calls, each an envelope of at most one
//! call's body; a 10 ms periodic timeout is the node's tick. Every
//! notification, whichever channel it names, is handled the same way:
//! take the tick count, take the messages that arrived, propose, run the
//! ready loop. So a notification consumed while this PD waited for the
//! disk (the disk client waits on the PD's one notification word) loses
//! nothing: the next tick, 10 ms later at most, finds what it announced.
//!
//! Priority 102: above the governor (100) and below the network PD (105)
//! and the timer (140), which it calls. Nothing calls it, which the disk
//! client's waits rely on (a protected call arriving during such a wait
//! could not be answered): the governor hands it Strong events on a
//! message queue in `strong_queue` (`worknode_abi::strong`) and notifies.
//!
//! What it hands back: each proposal's outcome, and every Strong event
//! the state machine takes, any node's, in order, for the governor's
//! event log (`worknode_abi::strong::Applied`; the state machine applies
//! no further while the governor is behind: back-pressure).
//!
//! What it proposes: its worknodes' Strong events, from the governor's
//! queue, numbered 1, 2, 3, ... by this node (`worknode_cluster::ledger`),
//! up to `PIPELINE` (8) in flight (`worknode_cluster::proposer`): each is
//! acknowledged once applied here (its outcome goes back to the
//! governor), and those unanswered for a while are resent in order (the
//! ledger skips duplicates and takes none out of order). After a restart
//! it first reads linearizably (ReadIndex) where its proposals stand, and
//! numbers on from there: a proposal acknowledged before the restart and
//! then lost would be numbered again, under a number the runner saw
//! acknowledged. It takes at most
//! [`TARGET`] (the cluster test's run; the governor's queue then stays
//! full and its worknodes are told `exhausted`).
//! Lines: `raft| node=K formatted|joining|recovered ...` at start (or
//! `REFUSED its disk`, for a disk of another node or cluster), `raft| node=K
//! resumed at=S` once the read answered, `raft| node=K leader term=T` on
//! each election won, `raft| node=K acked=S` for each acknowledgement,
//! `raft| node=K installed snapshot index=I bytes=N` for each snapshot
//! from the leader, `raft| node=K no leader: ...` every 2 s while it knows
//! no leader (its Raft state, streams and counters: why it may be stuck),
//! and `raft| done node=K ...` (with the ledger's and the
//! journal's hashes) once every node's proposals are all applied here and
//! handed to the governor;
//! the runner's `cluster-test` checks the acknowledgements never go
//! back and compares the nodes' `done` lines. Two features break this on
//! purpose for `make bite-check-cluster` (Cargo.toml).

#![no_std]
#![no_main]
#![deny(unsafe_code)]

/// Channel ids and the network, generated from the rendered system.xml.
mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

use heapless::Deque;
use sel4_microkit::{Channel, ChannelSet, Handler, Infallible, debug_println, protection_domain};
use static_cell::{ConstStaticCell, StaticCell};
use worknode_abi::bounded::Bytes;
use worknode_abi::net::{MAX_NET_BODY, NetReply, NetRequest, NetResponse};
use worknode_abi::strong::{
    APPLIED, Applied, MAX_APPLIED, MAX_READ_ANSWER, OUTCOME, Outcome, Proposal, READ, READ_ANSWER,
    ReadAnswer, ReadFound, ReadRequest, STRONG_VERSION,
};
use worknode_abi::timer::{TimerReply, TimerRequest, TimerResponse};
use worknode_cluster::ledger::{parse, strong_event, strong_payload};
use worknode_cluster::limits::{JOURNAL_BYTES, PIPELINE, READS};
use worknode_cluster::node::{Found, Node, NodeError, Transport};
use worknode_cluster::proposer::Proposer;
use worknode_cluster::reader::{Answer, Found as ReadFoundHere, Reader};
use worknode_driver_blk_client::QueueDisk;
use worknode_driver_shared_region::{SharedRegion, message_queues};
use worknode_log::LogError;
use worknode_log::format::Owner;
use worknode_netq::messages::{self, Offer, Server};
use worknode_pd_ipc::FrameBuf;
use worknode_raft::storage::{Recovered, StorageError};
use worknode_raft::{Config, Membership, NodeId, Role};

const NET: Channel = Channel::new(system::channel::NET);
const GOVERNOR: Channel = Channel::new(system::channel::GOVERNOR);
const TIMER: Channel = Channel::new(system::channel::TIMER);
const DRIVER: Channel = Channel::new(system::channel::BLK);
const NODES: usize = system::network::NODES;
/// The node's tick: Raft's election and heartbeat timeouts count these.
const TICK_NS: u64 = 10_000_000;
/// Ticks taken per notification at most: after a long stall, the node
/// catches up this far, not by firing every missed election at once.
/// Below the election timeout (`Config::election_tick`, 10), so that no
/// batch of ticks times out an election by itself: a stall only stretches
/// the node's clock, which Raft's safety does not rest on (reads are
/// confirmed by a heartbeat round, not by a lease).
const MAX_TICKS: u32 = 5;
/// Messages taken from the network per notification at most.
const RECEIVE_BATCH: usize = 64;
/// Proposals each node makes in the cluster test: enough for a state of
/// more than 1 MiB before the runner wipes a node (at 4,800 of the
/// 6,000), and for the wiped node to catch up on more after its snapshot.
const TARGET: u64 = 2000;
/// Ticks without a known leader between two `no leader` lines (2 s).
const LEADERLESS_LINE_TICKS: u32 = 200;

const _: () = assert!(NODES <= worknode_raft::limits::MAX_NODES, "the cluster fits the Raft core");

/// Messages leave through the network PD's calls. A refused call (no
/// stream yet, a full stream) is a lost message, which Raft tolerates.
struct Net;

impl Transport for Net {
    fn send(&mut self, to: NodeId, bytes: &[u8]) -> bool {
        let (Ok(to), Ok(body)) = (u8::try_from(to - 1), Bytes::new(bytes)) else { return false };
        let request = NetRequest::Send { to, body };
        matches!(net_call(&request, &mut FrameBuf::new()), Ok(NetReply::Sent { .. }))
    }
}

fn net_call<'b>(request: &NetRequest, buf: &'b mut FrameBuf) -> NetResponse<'b> {
    worknode_pd_ipc::call_borrowed(NET, request, buf).unwrap_or_else(Err)
}

fn timer_call(request: &TimerRequest) -> TimerResponse {
    worknode_pd_ipc::call::<_, TimerResponse>(TIMER, request).unwrap_or_else(Err)
}

/// A 64-bit mix (splitmix64's finaliser), for the election seed.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What was taken off the governor's queue, with the governor's names
/// for it (the proposer's or the reader's tag).
#[allow(
    clippy::large_enum_variant,
    reason = "one at a time, on the stack, used at once; no allocator to box it"
)]
enum Taken {
    /// A Strong event, as proposal bytes.
    Event { worknode: u16, ticket: u64, data: heapless::Vec<u8, { worknode_raft::limits::MAX_DATA }> },
    /// A read of event `number`.
    Read { worknode: u16, ticket: u64, number: u64 },
}

/// The governor's queues of Strong events (`worknode_abi::strong`): this
/// PD is their server.
struct Queues {
    words: &'static [core::sync::atomic::AtomicU64],
    region: &'static SharedRegion,
    server: Option<Server<'static, SharedRegion>>,
    scratch: [u8; messages::MAX_LEN],
    /// Whether an answer or an outcome went to the governor since it was
    /// last notified.
    pushed: bool,
}

impl Queues {
    /// The queues, once the governor has initialised them.
    fn server(&mut self) -> Option<&mut Server<'static, SharedRegion>> {
        if self.server.is_none() {
            self.server = Server::attach(self.words, self.region).ok();
        }
        self.server.as_mut()
    }
}

struct RaftPd {
    node: Option<&'static mut Node<'static, QueueDisk>>,
    me: u8,
    queues: Queues,
    /// This node's Strong events in flight, tagged with the governor's
    /// worknode and ticket.
    proposer: Proposer<(u16, u64)>,
    /// Outcomes the governor had no buffer for yet: (seq, outcome).
    undelivered: Deque<(u64, Outcome), PIPELINE>,
    /// Worknodes' reads waiting for their confirmation or their apply,
    /// tagged with the governor's worknode and ticket.
    reader: Reader<(u16, u64)>,
    /// Read answers the governor had no buffer for yet: (number, bytes).
    answers: Deque<(u64, heapless::Vec<u8, MAX_READ_ANSWER>), READS>,
    /// The term whose leadership was said.
    said_leader: u64,
    done_said: bool,
    /// Snapshots installed from the leader, as last said.
    said_installed: u64,
    /// Ticks since a leader was last known (or the last `no leader` line).
    leaderless: u32,
    /// Records of the state machine passed over as not Strong events.
    passed: u64,
}

/// The cluster test's second bite check: acknowledge a proposal as soon as
/// it is proposed, before a majority has it durable.
const ACK_ON_PROPOSE: bool = cfg!(feature = "bite-ack-on-propose");

#[protection_domain]
fn init() -> RaftPd {
    let tick = TimerRequest::Set { slot: 0, after_ns: TICK_NS, period_ns: TICK_NS };
    if let Err(e) = timer_call(&tick) {
        panic!("the timer refused the tick: {e}");
    }
    let me = match net_call(&NetRequest::Status, &mut FrameBuf::new()) {
        Ok(NetReply::Status { node, .. }) => node,
        other => panic!("the network PD did not say which node this is: {other:?}"),
    };
    let now = match timer_call(&TimerRequest::Now) {
        Ok(TimerReply::Now { ns }) => ns,
        _ => 0,
    };
    let id = NodeId::from(me) + 1;
    let mut cfg = Config::new(id);
    assert!(MAX_TICKS < cfg.election_tick, "a batch of ticks never times out an election by itself");
    // An append must fit one network call's body with its envelope byte.
    cfg.max_append_bytes = MAX_NET_BODY - 1;
    // Heartbeats every 30 ms, against an election after 100-200 ms: a
    // follower misses three in a row before it asks for votes. Every
    // heartbeat is a message and its answer through both nodes' network
    // PDs, and under QEMU the cost of a message is its context switches,
    // not its instructions: an idle cluster of three took 80 % of two host
    // cores with a heartbeat every tick (10 ms), 42 % with one every third.
    // Rejected: a longer tick for everything, which stretches elections
    // and the proposer's retries with it.
    cfg.heartbeat_tick = 3;
    // A follower catching up holds the leader's compaction until it goes
    // 5 s without advancing. Chunks and appends advance it many times a
    // second, so 5 s means it stopped, or is restoring its snapshot after
    // the last chunk, which must take less (Config::catch_up_ticks).
    cfg.catch_up_ticks = 500;
    // A node cut off, or back from a wipe, asks before it campaigns and
    // does not raise the term of a cluster that has a leader; a leader
    // that no longer hears a majority steps down.
    cfg.pre_vote = true;
    cfg.check_quorum = true;
    cfg.seed = mix(system::network::CLUSTER_ID ^ now);
    let voters: heapless::Vec<NodeId, NODES> = (1..=NODES as NodeId).collect();
    let founders = Membership::with_voters(&voters).expect("the cluster's nodes are distinct");
    // The Raft log belongs to this node of this cluster: a disk moved here
    // from another node or cluster is refused and left as it is. A new
    // log's identity mixes the owner and the moment.
    let owner = Owner { cluster: system::network::CLUSTER_ID, node: u16::from(me) };
    static SCRATCH: StaticCell<Recovered> = StaticCell::new();
    let scratch = SCRATCH.init_with(Recovered::default);
    let disk = QueueDisk::from_system(DRIVER);
    // The state machine's journal, in zeroed static memory: built on the
    // stack first, as `StaticCell::init_with` may, it would not fit there.
    static JOURNAL: ConstStaticCell<[u8; JOURNAL_BYTES]> = ConstStaticCell::new([0; JOURNAL_BYTES]);
    static NODE: StaticCell<Node<'static, QueueDisk>> = StaticCell::new();
    let node = match Node::start(disk, cfg, &founders, owner, now, scratch, JOURNAL.take()) {
        Ok((node, found)) => {
            match found {
                Found::Formatted => debug_println!("raft| node={me} formatted its Raft log"),
                Found::Joining => debug_println!("raft| node={me} joining: waiting for the leader"),
                Found::Recovered { snapshot, last } => {
                    debug_println!("raft| node={me} recovered its Raft log snapshot={snapshot} last={last}")
                }
            }
            let node = NODE.init(node);
            // Every Strong event goes to the governor's event log too,
            // from the oldest the journal holds: after a restart the
            // governor skips by number what it already wrote.
            node.deliver_from_journal();
            Some(node)
        }
        Err(e) => {
            stopped(me, e);
            None
        }
    };
    static REGION: StaticCell<SharedRegion> = StaticCell::new();
    let (vaddr, size) = system::region::STRONG_QUEUE;
    // SAFETY: system.xml maps `strong_queue` read-write here and in the
    // governor (its size from the same description), at a page boundary;
    // this PD reaches it only through the queues.
    #[allow(unsafe_code)]
    let (words, region) = unsafe { message_queues(vaddr, size) }.expect("strong_queue holds message queues");
    let queues = Queues {
        words,
        region: REGION.init(region),
        server: None,
        scratch: [0; messages::MAX_LEN],
        pushed: false,
    };
    RaftPd {
        node,
        me,
        queues,
        // The bite check's broken image numbers from 1 without the read.
        proposer: Proposer::new(me, cfg!(feature = "bite-no-resume-read").then_some(0)),
        undelivered: Deque::new(),
        reader: Reader::default(),
        answers: Deque::new(),
        said_leader: 0,
        done_said: false,
        said_installed: 0,
        leaderless: 0,
        passed: 0,
    }
}

/// Says why the node stopped taking part in the cluster.
fn stopped(me: u8, e: NodeError) {
    if let NodeError::Storage(StorageError::Log(LogError::Foreign { owner })) = e {
        debug_println!(
            "raft| node={me} REFUSED its disk: the Raft log belongs to cluster={:016x} node={}; left untouched",
            owner.cluster,
            owner.node
        );
    } else {
        debug_println!("raft| node={me} STOPPED: its Raft log cannot be used: {e:?}");
    }
}

impl RaftPd {
    /// Before sleeping: tells the governor of what this end pushed, and
    /// asks to hear of what it queues next. The governor is told of every
    /// answer and outcome, asked for or not (a few a second): it reads the
    /// rings only when notified, and one it did not ask for (it looked,
    /// found them empty, then the answer came before it asked) would
    /// otherwise wait forever. Rejected: only when asked, which stalled a
    /// node's Strong events for good in `make test-cluster`.
    fn wake_governor(&mut self) {
        let pushed = core::mem::take(&mut self.queues.pushed);
        let Some(server) = self.queues.server() else { return };
        if server.take_notification() | pushed {
            GOVERNOR.notify();
        }
        // False: something came meanwhile; the next tick (10 ms) takes it.
        let _ = server.want_notifications(false);
    }

    fn step(&mut self) -> Result<(), NodeError> {
        let me = self.me;
        let Some(node) = self.node.as_deref_mut() else { return Ok(()) };
        let ticks = match timer_call(&TimerRequest::Fired) {
            Ok(TimerReply::Fired { counts, .. }) => counts[0].min(MAX_TICKS),
            _ => 0,
        };
        // Messages first, then the ticks: after a stall, the answers that
        // waited meanwhile count before the ticks do. Ticking first made
        // a leader back from a stall step down (check-quorum saw no
        // answers in its election timeout, though they were waiting) and a
        // follower campaign against a leader whose heartbeats were waiting.
        for _ in 0..RECEIVE_BATCH {
            let mut buf = FrameBuf::new();
            let Ok(NetReply::Message { from, body, .. }) = net_call(&NetRequest::Receive, &mut buf) else {
                break;
            };
            node.receive(NodeId::from(from) + 1, &body);
        }
        for _ in 0..ticks {
            node.tick();
        }
        // First where this node's proposals stand, then the governor's
        // Strong events, up to PIPELINE in flight (and as many outcomes
        // waiting for the governor: their buffers).
        if let Some(at) = self.proposer.poll(node, ticks, &mut Net) {
            debug_println!("raft| node={me} resumed at={at}");
        }
        // Bounded: each pass takes one message, PIPELINE proposals and
        // READS reads at most.
        for _ in 0..PIPELINE + READS {
            let seq = self.proposer.next_seq().filter(|&seq| {
                seq <= TARGET && self.proposer.in_flight() + self.undelivered.len() < PIPELINE
            });
            let read_room = self.reader.waiting() + self.answers.len() < READS;
            let Some(taken) = take_next(&mut self.queues, me, seq, read_room) else { break };
            match taken {
                Taken::Event { worknode, ticket, data } => {
                    let seq = seq.unwrap_or_default();
                    match self.proposer.propose(node, (worknode, ticket), &data, &mut Net) {
                        Ok(seq) if ACK_ON_PROPOSE => debug_println!("raft| node={me} acked={seq}"),
                        Ok(_) => {}
                        // Taken off the queue as `seq`, built for `seq`: cannot be.
                        Err(e) => debug_println!("raft| node={me} could not propose {seq}: {e:?}"),
                    }
                }
                Taken::Read { worknode, ticket, number } => {
                    // Room was checked before it was taken: cannot fail.
                    let _ = self.reader.ask(node, (worknode, ticket), number, &mut Net);
                }
            }
        }
        node.pump(&mut Net)?;
        let answers = &mut self.answers;
        self.reader.poll(node, ticks, &mut Net, |answer| {
            let encoded = encode_answer(&answer);
            // Room: reads are taken only while those waiting and their
            // answers together are fewer than READS.
            let pushed = encoded.is_some_and(|bytes| answers.push_back((answer.number, bytes)).is_ok());
            debug_assert!(pushed, "a read's answer always has room and encodes");
        });
        let undelivered = &mut self.undelivered;
        self.proposer.settle(node, &mut Net, |acked| {
            if !ACK_ON_PROPOSE {
                debug_println!("raft| node={me} acked={}", acked.seq);
            }
            let (worknode, ticket) = acked.tag;
            let outcome = Outcome { version: STRONG_VERSION, worknode, ticket, index: acked.index };
            // Room: proposals are taken only while in flight and waiting
            // outcomes together are fewer than PIPELINE.
            let pushed = undelivered.push_back((acked.seq, outcome));
            debug_assert!(pushed.is_ok(), "an outcome always has room");
        });
        deliver(&mut self.queues, &mut self.undelivered);
        deliver_answers(&mut self.queues, &mut self.answers);
        deliver_applied(&mut self.queues, node, &mut self.passed);
        let led = node.raft().leader().is_some();
        self.leaderless = if led { 0 } else { self.leaderless.saturating_add(ticks) };
        if self.leaderless >= LEADERLESS_LINE_TICKS {
            self.leaderless = 0;
            leaderless_line(me, node);
        }
        let raft = node.raft();
        if raft.role() == Role::Leader && raft.term() != self.said_leader {
            self.said_leader = raft.term();
            debug_println!("raft| node={me} leader term={}", raft.term());
        }
        if node.stats().installed != self.said_installed {
            self.said_installed = node.stats().installed;
            let snapshot = raft.snapshot();
            debug_println!(
                "raft| node={me} installed snapshot index={} bytes={}",
                snapshot.meta.index,
                snapshot.len
            );
        }
        let ledger = node.ledger();
        let all = ledger.last[..NODES].iter().all(|&last| last >= TARGET);
        // Only once this node's own acknowledgements are all said (they are
        // said at the next step after the apply): the runner stops reading
        // at the last `done`, and must have seen every `acked` before it.
        // And once the governor was handed every one of them.
        if all && self.proposer.acked() >= TARGET && node.behind() == 0 && !self.done_said {
            self.done_said = true;
            let stats = node.stats();
            debug_println!(
                "raft| done node={me} count={} skipped={} hash={:016x} journal={:016x} state={} applied={} term={} installed={} compactions={} forwarded={} dropped={} held_back={} passed={}",
                ledger.count,
                ledger.skipped,
                ledger.short_hash(),
                node.journal().short_hash(),
                node.state_len(),
                raft.log().applied(),
                raft.term(),
                stats.installed,
                stats.compactions,
                stats.forwarded,
                stats.dropped,
                stats.held_back,
                self.passed
            );
        }
        Ok(())
    }
}

/// Hands the governor the outcome waiting for it, if it has a buffer for
/// it (else it waits: the governor gives one back as it reads).
fn deliver(queues: &mut Queues, undelivered: &mut Deque<(u64, Outcome), PIPELINE>) {
    let Some(server) = queues.server() else { return };
    let mut pushed = false;
    // Bounded: PIPELINE.
    while let Some(&(seq, outcome)) = undelivered.front() {
        let mut buf = [0u8; worknode_abi::strong::MAX_OUTCOME];
        let Ok(bytes) = outcome.encode(&mut buf) else { break };
        if server.ready_to_deliver() != Ok(true) || server.deliver(OUTCOME, seq, bytes).is_err() {
            break;
        }
        undelivered.pop_front();
        pushed = true;
    }
    queues.pushed |= pushed;
}

/// Hands the governor the Strong events the state machine took and it has
/// not been handed, in order, while it has buffers for them
/// (`worknode_abi::strong::Applied`; the state machine stops applying
/// while the governor is behind: `worknode_cluster::node`). A record that
/// is not a Strong event (none is, on these nodes) is passed over and
/// counted. Returns how many were handed over.
fn deliver_applied(queues: &mut Queues, node: &mut Node<'static, QueueDisk>, passed: &mut u64) -> usize {
    let Some(server) = queues.server() else { return 0 };
    let mut handed = 0;
    // Bounded: one per buffer of the ring, which the governor gives back
    // only as it reads.
    for _ in 0..worknode_netq::CAPACITY {
        let Some((number, data)) = node.undelivered() else { break };
        let event = parse(data).zip(strong_payload(data)).and_then(|((proposer, seq), (worknode, event))| {
            Some(Applied {
                version: STRONG_VERSION,
                number,
                proposer,
                seq,
                worknode,
                event: Bytes::new(event).ok()?,
            })
        });
        let Some(applied) = event else {
            *passed += 1;
            node.delivered(number);
            continue;
        };
        let mut buf = [0u8; MAX_APPLIED];
        let Ok(bytes) = applied.encode(&mut buf) else {
            *passed += 1;
            node.delivered(number);
            continue;
        };
        if server.ready_to_deliver() != Ok(true) || server.deliver(APPLIED, number, bytes).is_err() {
            break;
        }
        node.delivered(number);
        handed += 1;
    }
    queues.pushed |= handed > 0;
    handed
}

/// Takes the governor's next message off the queue: a Strong event, as
/// proposal `seq` of node `me` (if `seq` is some: room for a proposal),
/// or a read (if `read_room`); refuses (hands back with the error) those
/// that do not decode. The rest stay on the queue, in order.
fn take_next(queues: &mut Queues, me: u8, seq: Option<u64>, read_room: bool) -> Option<Taken> {
    queues.server()?;
    let Queues { server, scratch, pushed, .. } = queues;
    let server = server.as_mut()?;
    let mut taken: Option<Taken> = None;
    let moved = server.take_sends(scratch, |to, body| {
        if taken.is_some() {
            return Offer::Wait;
        }
        if to == READ {
            if !read_room {
                return Offer::Wait;
            }
            let request = match ReadRequest::decode(body) {
                Ok(r) => r,
                Err(e) => return Offer::Refuse(e),
            };
            taken = Some(Taken::Read {
                worknode: request.worknode,
                ticket: request.ticket,
                number: request.number,
            });
            return Offer::Sent(request.number);
        }
        let Some(seq) = seq else { return Offer::Wait };
        let proposal = match Proposal::decode(body) {
            Ok(p) => p,
            Err(e) => return Offer::Refuse(e),
        };
        let mut data = heapless::Vec::new();
        let _ = data.resize_default(worknode_raft::limits::MAX_DATA);
        let Some(len) = strong_event(me, seq, proposal.worknode, &proposal.event, &mut data).map(<[u8]>::len)
        else {
            return Offer::Refuse(worknode_abi::ErrorCode::TooLarge);
        };
        data.truncate(len);
        taken = Some(Taken::Event { worknode: proposal.worknode, ticket: proposal.ticket, data });
        Offer::Sent(seq)
    });
    *pushed |= moved.is_ok_and(|n| n > 0);
    taken
}

/// A completed read's answer for the governor, encoded; `None` if it
/// cannot be (an event longer than a worknode's: none is on these nodes).
fn encode_answer(answer: &Answer<'_, (u16, u64)>) -> Option<heapless::Vec<u8, MAX_READ_ANSWER>> {
    let found = match answer.found {
        ReadFoundHere::Event(data) => {
            let ((proposer, seq), (worknode, event)) = parse(data).zip(strong_payload(data))?;
            ReadFound::Event { proposer, seq, worknode, event: Bytes::new(event).ok()? }
        }
        ReadFoundHere::NotYet => ReadFound::NotYet,
        ReadFoundHere::Gone => ReadFound::Gone,
    };
    let (worknode, ticket) = answer.tag;
    let message = ReadAnswer {
        version: STRONG_VERSION,
        worknode,
        ticket,
        number: answer.number,
        count: answer.count,
        index: answer.index,
        found,
    };
    let mut buf = [0u8; MAX_READ_ANSWER];
    let bytes = message.encode(&mut buf).ok()?;
    heapless::Vec::from_slice(bytes).ok()
}

/// Hands the governor the read answers waiting for it, while it has
/// buffers for them.
fn deliver_answers(
    queues: &mut Queues,
    answers: &mut Deque<(u64, heapless::Vec<u8, MAX_READ_ANSWER>), READS>,
) {
    let Some(server) = queues.server() else { return };
    let mut pushed = false;
    // Bounded: READS.
    while let Some((number, bytes)) = answers.front() {
        if server.ready_to_deliver() != Ok(true) || server.deliver(READ_ANSWER, *number, bytes).is_err() {
            break;
        }
        answers.pop_front();
        pushed = true;
    }
    queues.pushed |= pushed;
}

/// Says why a node that knows no leader may be stuck: its Raft state, its
/// streams and what it sent and took (no `at`/`acked` keys: the cluster
/// test reads those).
fn leaderless_line(me: u8, node: &Node<'static, QueueDisk>) {
    let (raft, stats) = (node.raft(), node.stats());
    let (connected, connects, disconnects, refused) =
        match net_call(&NetRequest::Status, &mut FrameBuf::new()) {
            Ok(NetReply::Status { connected, connects, disconnects, refused, .. }) => {
                (connected, connects, disconnects, refused)
            }
            _ => (0, 0, 0, 0),
        };
    let why = raft.stats();
    debug_println!(
        "raft| node={me} no leader: role={:?} term={} last={} commit={} sent={} failed={} received={} dropped={} stale={} in_lease={} unexpected={} streams={connected:#x} connects={connects} disconnects={disconnects} refused={refused}",
        raft.role(),
        raft.term(),
        raft.log().last_index(),
        raft.log().committed(),
        stats.sent,
        stats.send_failed,
        stats.received,
        stats.dropped,
        why.stale,
        why.in_lease,
        why.unexpected
    );
}

impl Handler for RaftPd {
    type Error = Infallible;

    fn notified(&mut self, _channels: ChannelSet) -> Result<(), Self::Error> {
        if let Err(e) = self.step() {
            stopped(self.me, e);
            self.node = None;
        }
        self.wake_governor();
        Ok(())
    }
}
