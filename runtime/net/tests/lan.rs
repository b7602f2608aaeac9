//! A simulated LAN driving the real network logic (`worknode_net::Node`
//! over smoltcp): nodes joined by a switch that drops, duplicates,
//! delays and reorders frames, and restarts nodes. Deterministic: each
//! case is a seed.
//!
//! Checked: every message delivered is delivered exactly once and in
//! order per stream (its sequence number is the next one), nothing is
//! delivered that was not sent, everything sent on a stream that stayed
//! up is delivered, and streams reconnect after a node restarts.

use std::collections::VecDeque;

use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use worknode_net::{Config, Frame, Node, SendError, Storage, classify};

/// A node's NIC: frames in from the switch, frames out to it.
#[derive(Default)]
struct Nic {
    rx: VecDeque<Vec<u8>>,
    tx: Vec<Vec<u8>>,
}

struct RxToken(Vec<u8>);
struct TxToken<'a>(&'a mut Vec<Vec<u8>>);

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let r = f(&mut frame);
        self.0.push(frame);
        r
    }
}

impl Device for Nic {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _: Instant) -> Option<(RxToken, TxToken<'_>)> {
        let frame = self.rx.pop_front()?;
        Some((RxToken(frame), TxToken(&mut self.tx)))
    }

    fn transmit(&mut self, _: Instant) -> Option<TxToken<'_>> {
        Some(TxToken(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        caps
    }
}

/// xorshift64*: deterministic faults.
struct Random(u64);
impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

#[derive(Clone, Copy, Default)]
struct Faults {
    drop: u64,
    duplicate: u64,
    reorder: u64,
    /// A node cut off from the others: every frame to or from it is lost.
    cut: Option<usize>,
}

/// The cluster the test nodes belong to.
const CLUSTER: u64 = 0x5EED_C1A5_7E12_0001;

fn config(me: u8, nodes: u8) -> Config {
    Config {
        me,
        nodes,
        subnet: [10, 0, 0, 0],
        prefix_len: 24,
        port: 7100,
        mac_prefix: [2, 0x57, 0x4e, 0, 0],
        cluster: CLUSTER,
    }
}

struct Lan {
    nodes: Vec<(Node<'static>, Nic)>,
    /// Frames in the switch: (deliver at µs, to node, frame).
    wire: Vec<(u64, usize, Vec<u8>)>,
    now: u64,
    random: Random,
    faults: Faults,
    /// Per (from, to): the next sequence number expected, and counts.
    expected: Vec<Vec<Option<u64>>>,
    delivered: u64,
    /// Messages each node's client takes per millisecond (a slow client
    /// leaves its inbox full most of the time).
    drain: usize,
    /// Messages delivered, per (from, to).
    per_stream: std::collections::BTreeMap<(u8, usize), u64>,
    /// Nodes poll as the network PD does (pds/net), not every
    /// millisecond: when a frame arrives, when [`Node::next_poll_us`]
    /// comes, after a send to a stream with nothing unacknowledged, and
    /// after the client took from a full inbox.
    lazy: bool,
    /// Per node, in lazy mode: when it asked to be woken, and whether a
    /// call asked for a pass.
    wake_at: Vec<u64>,
    kick: Vec<bool>,
    /// Frames the nodes sent.
    frames: u64,
    /// ARP requests among them.
    arp_requests: u64,
    /// The last TCP segment each node sent, per (from, to, source port):
    /// what someone on the wire saw.
    last_sent: std::collections::BTreeMap<(usize, usize, u16), Vec<u8>>,
}

fn node(me: u8, nodes: u8, now: u64, seed: u64) -> (Node<'static>, Nic) {
    node_of(config(me, nodes), now, seed)
}

fn node_of(config: Config, now: u64, seed: u64) -> (Node<'static>, Nic) {
    let mut nic = Nic::default();
    // The buffers (a MiB) are built on a stack before they are boxed: a
    // thread with room for them builds them.
    let storage: &'static mut Storage = std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(|| Box::leak(Box::new(Storage::new())))
        .expect("a thread")
        .join()
        .expect("built");
    (Node::new(config, storage, &mut nic, now, seed), nic)
}

impl Lan {
    fn new(n: u8, seed: u64) -> Lan {
        Lan {
            nodes: (0..n).map(|k| node(k, n, 0, seed ^ u64::from(k) << 40)).collect(),
            wire: Vec::new(),
            now: 0,
            random: Random(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
            faults: Faults::default(),
            expected: vec![vec![None; n as usize]; n as usize],
            delivered: 0,
            drain: usize::MAX,
            per_stream: Default::default(),
            lazy: false,
            wake_at: vec![0; n as usize],
            kick: vec![false; n as usize],
            frames: 0,
            arp_requests: 0,
            last_sent: Default::default(),
        }
    }

    /// Sends as a client of the network PD does: a pass follows every
    /// send, or in lazy mode only a send to a stream with nothing
    /// unacknowledged.
    fn send(&mut self, from: usize, to: u8, body: &[u8]) -> Result<u64, SendError> {
        let quiet = self.nodes[from].0.unacknowledged(to) == 0;
        let seq = self.nodes[from].0.send(to, 1, body)?;
        if !self.lazy || quiet {
            self.pass(from);
        }
        Ok(seq)
    }

    /// A pass of node `k`'s stack; the frames it sent go on the wire.
    fn pass(&mut self, k: usize) {
        let now = self.now;
        let count = self.nodes.len();
        let (n, nic) = &mut self.nodes[k];
        n.poll(now, nic);
        self.wake_at[k] = n.next_poll_us(now);
        self.kick[k] = false;
        let sent: Vec<Vec<u8>> = nic.tx.drain(..).collect();
        self.frames += sent.len() as u64;
        for frame in sent {
            // ARP (0x0806), operation 1: a request.
            if frame.len() >= 22 && frame[12..14] == [8, 6] && frame[20..22] == [0, 1] {
                self.arp_requests += 1;
            }
            for to in 0..count {
                // IPv4 (20-byte header) carrying TCP: the source port.
                if to != k && frame.len() > 36 && frame[12..14] == [8, 0] && frame[23] == 6 {
                    self.last_sent.insert((k, to, u16::from_be_bytes([frame[34], frame[35]])), frame.clone());
                }
                let cut = self.faults.cut.is_some_and(|c| c == k || c == to);
                if to == k || cut || self.random.chance(self.faults.drop) {
                    continue;
                }
                let delay = 1000 + if self.faults.reorder > 0 { self.random.next() % 3000 } else { 0 };
                if self.random.chance(self.faults.duplicate) {
                    self.wire.push((now + delay + 500, to, frame.clone()));
                }
                self.wire.push((now + delay, to, frame.clone()));
            }
        }
    }

    /// One millisecond: every node polls; frames cross the switch.
    fn step(&mut self) {
        self.now += 1000;
        let now = self.now;
        let (mut due, later): (Vec<_>, Vec<_>) = self.wire.drain(..).partition(|(at, _, _)| *at <= now);
        self.wire = later;
        if self.faults.reorder > 0 && due.len() > 1 && self.random.chance(self.faults.reorder) {
            let i = (self.random.next() % due.len() as u64) as usize;
            let last = due.len() - 1;
            due.swap(i, last);
        }
        for (_, to, frame) in due {
            let (n, nic) = &mut self.nodes[to];
            let mac = n.config().mac(n.config().me);
            let ip = n.config().address(n.config().me);
            match classify(&frame, mac, ip) {
                Frame::Accept => nic.rx.push_back(frame),
                verdict => n.count_dropped(verdict),
            }
        }
        let count = self.nodes.len();
        for k in 0..count {
            let due = {
                let nic = &self.nodes[k].1;
                !self.lazy || !nic.rx.is_empty() || now >= self.wake_at[k] || self.kick[k]
            };
            if due {
                self.pass(k);
            }
            // Take every delivered message and check its numbering.
            let mut budget = self.drain;
            for port in 0..worknode_net::limits::PORTS as u8 {
                self.kick[k] |= self.nodes[k].0.waiting(port) >= worknode_net::limits::INBOX && budget > 0;
                while budget > 0
                    && let Some(m) = self.nodes[k].0.receive(port, |m| Taken {
                        from: m.from,
                        seq: m.seq,
                        body: m.body.to_vec(),
                    })
                {
                    budget -= 1;
                    *self.per_stream.entry((m.from, k)).or_default() += 1;
                    let slot = &mut self.expected[m.from as usize][k];
                    if let Some(want) = *slot {
                        assert_eq!(m.seq, want, "node {k} got seq {} from {} (want {want})", m.seq, m.from);
                    }
                    assert_eq!(
                        m.body.as_slice(),
                        body(m.from, k as u8, m.seq).as_slice(),
                        "the body that was sent"
                    );
                    *slot = Some(m.seq + 1);
                    self.delivered += 1;
                }
            }
        }
    }

    fn all_connected(&self) -> bool {
        let n = self.nodes.len();
        self.nodes.iter().enumerate().all(|(k, (node, _))| node.connected() == ((1u64 << n) - 1) & !(1 << k))
    }

    fn run_until(&mut self, max_ms: u64, mut done: impl FnMut(&mut Lan) -> bool) -> bool {
        for _ in 0..max_ms {
            if done(self) {
                return true;
            }
            self.step();
        }
        done(self)
    }
}

/// A message a node's client took.
struct Taken {
    from: u8,
    seq: u64,
    body: Vec<u8>,
}

fn body(from: u8, to: u8, seq: u64) -> Vec<u8> {
    let len = 1 + (seq % 300) as usize;
    (0..len).map(|i| (i as u64 ^ seq ^ u64::from(from) << 3 ^ u64::from(to)) as u8).collect()
}

/// Sends `count` messages from every node to every other, retrying on
/// back-pressure; returns how many were sent.
#[allow(clippy::needless_range_loop)] // node numbers index two tables
fn exchange(lan: &mut Lan, count: u64, max_ms: u64) -> u64 {
    let n = lan.nodes.len();
    let mut sent = vec![vec![0u64; n]; n];
    let mut total = 0;
    let target = count * (n * (n - 1)) as u64;
    let delivered_before = lan.delivered;
    for _ in 0..max_ms {
        for from in 0..n {
            for to in 0..n {
                if from == to {
                    continue;
                }
                // Bounded: a few messages per pair per millisecond.
                for _ in 0..4 {
                    if sent[from][to] >= count {
                        break;
                    }
                    let seq = lan.nodes[from].0.next_seq(to as u8).expect("a node of the LAN");
                    let seq_body = body(from as u8, to as u8, seq);
                    match lan.send(from, to as u8, &seq_body) {
                        Ok(_) => {
                            sent[from][to] += 1;
                            total += 1;
                        }
                        Err(SendError::Full | SendError::NotConnected) => break,
                        Err(e) => panic!("send refused: {e:?}"),
                    }
                }
            }
        }
        lan.step();
        if total == target && lan.delivered - delivered_before == target {
            break;
        }
    }
    total
}

/// Nodes that make a pass only when something calls for one (as the
/// network PD does) still deliver everything, in order, on a lossy,
/// duplicating, reordering LAN: a send to a busy stream waits for the
/// peer's acknowledgement or the stack's timers, never forever. On a clean
/// LAN they send fewer frames than nodes that pass after every send: what
/// is sent while a stream is busy leaves together.
#[test]
fn nodes_that_pass_only_when_called_for_deliver_everything_in_fewer_frames() {
    for seed in [1, 2, 3] {
        let mut lan = Lan::new(3, seed);
        lan.lazy = true;
        lan.faults = Faults { drop: 5, duplicate: 5, reorder: 20, cut: None };
        assert!(lan.run_until(5000, |l| l.all_connected()), "seed {seed}: streams open");
        let target = 300 * 6;
        assert_eq!(exchange(&mut lan, 300, 60_000), target, "seed {seed}: every message was sent");
        assert_eq!(lan.delivered, target, "seed {seed}: every message arrived");
    }
    let frames = |lazy: bool| {
        let mut lan = Lan::new(2, 9);
        lan.lazy = lazy;
        assert!(lan.run_until(2000, |l| l.all_connected()), "streams open");
        let before = lan.frames;
        assert_eq!(exchange(&mut lan, 2000, 60_000), 4000);
        assert_eq!(lan.delivered, 4000);
        lan.frames - before
    };
    let (lazy, eager) = (frames(true), frames(false));
    assert!(lazy * 10 < eager * 8, "{lazy} frames when lazy, {eager} when passing after every send");
}

#[test]
fn every_node_exchanges_messages_with_every_other() {
    let mut lan = Lan::new(3, 7);
    assert!(lan.run_until(2000, |l| l.all_connected()), "streams open");
    let sent = exchange(&mut lan, 1000, 60_000);
    assert_eq!(sent, 6000);
    assert_eq!(lan.delivered, sent, "everything sent is delivered, once");
    for (node, _) in &lan.nodes {
        assert_eq!(node.stats().bad_messages, 0);
    }
}

#[test]
fn a_lossy_duplicating_reordering_lan_loses_and_repeats_nothing() {
    for seed in [1, 2, 3] {
        let mut lan = Lan::new(3, seed);
        lan.faults = Faults { drop: 20, duplicate: 5, reorder: 30, cut: None };
        assert!(lan.run_until(20_000, |l| l.all_connected()), "seed {seed}: streams open despite loss");
        let sent = exchange(&mut lan, 200, 600_000);
        assert_eq!(sent, 1200, "seed {seed}");
        assert_eq!(lan.delivered, sent, "seed {seed}: exactly once, in order (checked per message)");
        let broken: u64 = lan.nodes.iter().map(|(n, _)| n.stats().disconnects).sum();
        assert_eq!(broken, 0, "seed {seed}: loss alone breaks no stream");
    }
}

#[test]
fn streams_reconnect_after_a_node_restarts() {
    let mut lan = Lan::new(3, 11);
    assert!(lan.run_until(2000, |l| l.all_connected()));
    exchange(&mut lan, 50, 10_000);
    let peers = |lan: &Lan| lan.nodes[..2].iter().map(|(n, _)| n.stats().connects).sum::<u64>();
    let before = peers(&lan);
    // Node 2 loses its memory: a fresh node on the same addresses.
    let now = lan.now;
    lan.nodes[2] = node(2, 3, now, 0xfeed);
    lan.wire.retain(|(_, to, _)| *to != 2);
    // Its peers' old streams into and out of it must be replaced.
    for slot in lan.expected.iter_mut().flatten() {
        *slot = None;
    }
    // The stale streams into node 2 break at their next keep-alive, which
    // the new node answers with a reset, and reopen.
    let reopened = lan.run_until(20_000, |l| l.all_connected() && peers(l) >= before + 2);
    assert!(
        reopened,
        "streams to and from the restarted node reopen (peers' connects {before} -> {})",
        peers(&lan)
    );
    assert_eq!(lan.nodes[2].0.stats().connects, 2, "the restarted node opened its streams");
    let delivered = lan.delivered;
    let sent = exchange(&mut lan, 50, 20_000);
    assert_eq!(lan.delivered - delivered, sent, "the reopened streams carry everything");
}

/// A node that restarts while another is cut off reaches the third at
/// once, and no node asks for a peer's address: the stack is told them
/// (`worknode_net`'s module documentation, Neighbours). With ARP alone,
/// smoltcp's one request a second for all addresses delayed the streams
/// here by 1.6 s (now 0.6: the peer's keep-alive finds the stale stream),
/// and on QEMU by a minute.
#[test]
fn a_node_restarted_while_another_is_cut_off_reaches_the_third_at_once() {
    for seed in 0..4 {
        let mut lan = Lan::new(3, seed);
        lan.lazy = true;
        assert!(lan.run_until(2000, |l| l.all_connected()));
        exchange(&mut lan, 20, 10_000);
        lan.faults.cut = Some(0);
        let now = lan.now;
        lan.nodes[2] = node(2, 3, now, 0xbeef ^ seed);
        lan.wire.retain(|(_, to, _)| *to != 2);
        for slot in lan.expected.iter_mut().flatten() {
            *slot = None;
        }
        let both_ways =
            |l: &mut Lan| l.nodes[1].0.connected() & 1 << 2 != 0 && l.nodes[2].0.connected() & 1 << 1 != 0;
        let started = lan.now;
        let reached = lan.run_until(90_000, both_ways);
        let took_ms = (lan.now - started) / 1000;
        assert!(
            reached && took_ms < 1000,
            "seed {seed}: nodes 1 and 2 took {took_ms} ms to reach each other"
        );
        assert_eq!(lan.arp_requests, 0, "seed {seed}: the nodes know each other's addresses");
    }
}

#[test]
fn garbage_frames_are_counted_and_dropped() {
    let mut lan = Lan::new(2, 5);
    assert!(lan.run_until(2000, |l| l.all_connected()));
    let mac = lan.nodes[1].0.config().mac(1);
    let mut other_mac = vec![0u8; 60];
    other_mac[..6].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
    let mut other_ip = vec![0u8; 60];
    other_ip[..6].copy_from_slice(&mac);
    other_ip[12..14].copy_from_slice(&[8, 0]);
    other_ip[30..34].copy_from_slice(&[10, 0, 0, 99]);
    let mut random = Random(99);
    let mut junk: Vec<Vec<u8>> = vec![vec![1; 5], vec![0; 1600], other_mac, other_ip];
    for len in [14, 20, 60, 300, 1514] {
        let mut f: Vec<u8> = (0..len).map(|_| random.next() as u8).collect();
        f[..6].copy_from_slice(&mac);
        junk.push(f);
    }
    for frame in junk {
        lan.wire.push((lan.now, 1, frame));
    }
    lan.step();
    let stats = lan.nodes[1].0.stats();
    assert_eq!((stats.runt, stats.oversized, stats.other_mac, stats.other_ip), (1, 1, 1, 1));
    let sent = exchange(&mut lan, 20, 5000);
    assert_eq!(lan.delivered, sent, "still working");
}

/// Someone on the wire writes a message into an established stream, in
/// the sending node's name and at the very place the receiver expects
/// next (`worknode_net::probe`): one of another version, one naming a
/// node that is not the stream's. Each is counted and the stream reset,
/// never delivered; the streams reopen and carry messages again.
#[test]
fn messages_forged_into_a_stream_are_refused_and_the_stream_reopens() {
    use worknode_net::probe::{self, Bad};
    let mut lan = Lan::new(2, 13);
    assert!(lan.run_until(2000, |l| l.all_connected()), "streams open");
    assert_eq!(exchange(&mut lan, 10, 5000), 20);
    // Idle long enough for keep-alives to cross.
    for _ in 0..1200 {
        lan.step();
    }
    for (to, bad) in [(1usize, Bad::Version), (0, Bad::Sender)] {
        let from = 1 - to;
        // The receiving end's last segment to the sender, from the
        // receiver's listening port for that sender.
        let port = lan.nodes[to].0.config().port + from as u16;
        let seen = lan.last_sent[&(to, from, port)].clone();
        // Numbered as the stream's next message: only what is bad about it
        // can refuse it.
        let seq = lan.nodes[from].0.next_seq(to as u8).expect("a peer");
        let (payload, len) = probe::bad_message(bad, from as u8, to as u8, seq);
        let mut frame = [0u8; probe::FORGED_LEN];
        let n = probe::forge_into_stream(&seen, &payload[..len], &mut frame).expect("a TCP segment");
        let before = lan.nodes[to].0.stats();
        lan.nodes[to].1.rx.push_back(frame[..n].to_vec());
        lan.step();
        let after = lan.nodes[to].0.stats();
        assert_eq!(after.bad_messages, before.bad_messages + 1, "{bad:?}: counted");
        assert_eq!(after.delivered, before.delivered, "{bad:?}: nothing delivered");
        // The sender learns of the reset at its next segment (a
        // keep-alive at the latest) and opens the stream again.
        let cut = lan.nodes[from].0.stats().disconnects;
        let reopened =
            lan.run_until(5000, |l| l.nodes[from].0.stats().disconnects > cut && l.all_connected());
        assert!(reopened, "{bad:?}: the stream was reset and reopened");
    }
    let delivered = lan.delivered;
    assert_eq!(exchange(&mut lan, 10, 5000), 20);
    assert_eq!(lan.delivered, delivered + 20, "the reopened streams carry messages");
}

#[test]
#[ignore]
fn phases_like_test_net() {
    for seed in 1..6 {
        let mut lan = Lan::new(3, seed);
        assert!(lan.run_until(2000, |l| l.all_connected()));
        let a = exchange(&mut lan, 1000, 60_000);
        let t0 = lan.now;
        lan.faults = Faults { drop: 20, duplicate: 5, reorder: 20, cut: None };
        let b = exchange(&mut lan, 200, 600_000);
        let t1 = lan.now;
        lan.faults = Faults::default();
        let c = exchange(&mut lan, 800, 600_000);
        eprintln!("lossy {} ms, clean after {} ms", (t1 - t0) / 1000, (lan.now - t1) / 1000);
        eprintln!("seed {seed}: sent {} delivered {} at {} ms", a + b + c, lan.delivered, lan.now / 1000);
        assert_eq!(lan.delivered, a + b + c);
    }
}

#[test]
fn streams_into_one_slow_client_share_it() {
    let mut lan = Lan::new(3, 21);
    assert!(lan.run_until(2000, |l| l.all_connected()));
    // Node 2's client takes one message a millisecond; nodes 0 and 1 send
    // to it as fast as their streams take.
    lan.drain = 1;
    for _ in 0..3000 {
        for from in 0..2u8 {
            for _ in 0..4 {
                let seq = lan.nodes[usize::from(from)].0.next_seq(2).unwrap();
                if lan.nodes[usize::from(from)].0.send(2, 1, &body(from, 2, seq)).is_err() {
                    break;
                }
            }
        }
        lan.step();
    }
    let a = lan.per_stream.get(&(0, 2)).copied().unwrap_or(0);
    let b = lan.per_stream.get(&(1, 2)).copied().unwrap_or(0);
    assert!(a + b > 2000, "the client was kept busy ({a} + {b})");
    assert!(a.abs_diff(b) * 10 <= a + b, "both streams get their share: {a} from node 0, {b} from node 1");
}

/// A node at rest asks to be woken only when something is due: its own
/// slot among the outbound streams (never opened) once made every
/// wake-up immediate, and the network PD polled without pause, starving
/// every PD below it (found by `make bench-net`, where node 0 with an
/// absent peer starved its governor and its client).
#[test]
fn an_idle_node_sleeps_until_something_is_due() {
    let mut lan = Lan::new(3, 11);
    assert!(lan.run_until(2000, |l| l.all_connected()), "streams open");
    for _ in 0..100 {
        lan.step();
    }
    let now = lan.now;
    for (k, (node, _)) in lan.nodes.iter_mut().enumerate() {
        let next = node.next_poll_us(now);
        assert!(next > now, "node {k} asks for an immediate wake-up at rest");
    }
    // A node alone, its peers absent: woken for its reconnection backoff,
    // not at once.
    let (mut alone, mut nic) = node(0, 3, 0, 5);
    let mut at = 0;
    for _ in 0..50 {
        at += 1000;
        alone.poll(at, &mut nic);
        nic.tx.clear();
    }
    assert!(alone.next_poll_us(at) > at, "a lone node waits for its backoff");
}

/// A stranger's SYN to a stream port (from an address outside the
/// cluster) is refused and counted at once; it does not hold the port, so
/// the rightful peer's stream still opens. It held the port before:
/// smoltcp waits in SYN-RECEIVED for as long as the stranger keeps quiet,
/// and only the address of an established connection was checked.
#[test]
fn a_strangers_syn_is_refused_and_does_not_hold_the_port() {
    let mut lan = Lan::new(3, 21);
    let target = lan.nodes[1].0.config();
    let (mac, ip, port) = (target.mac(1), target.address(1), target.port);
    let stranger = ([0x02, 0x57, 0x4e, 0, 0, 200], smoltcp::wire::Ipv4Address::new(10, 0, 0, 200), 40_000);
    // At port + 0: node 0's stream to node 1 comes there.
    let syn = worknode_net::probe::syn(stranger, (mac, ip, port), 1);
    lan.nodes[1].1.rx.push_back(syn.to_vec());
    assert!(lan.run_until(3000, |l| l.all_connected()), "node 0's stream to node 1 opens");
    assert_eq!(lan.nodes[1].0.stats().unknown_node, 1, "the stranger is counted once");
    let sent = exchange(&mut lan, 50, 10_000);
    assert_eq!(lan.delivered, sent, "and the streams carry everything");
}

/// A node built from another cluster's system.xml, on the same LAN with the
/// same addresses, never exchanges a message with this cluster: each side
/// resets the other's streams at their Hello and counts it, and the nodes
/// of one cluster talk on. Without the check, node 2 would deliver to 0
/// and 1 like any peer.
#[test]
fn a_node_of_another_cluster_is_refused_and_counted() {
    let mut lan = Lan::new(3, 33);
    lan.nodes[2] = node_of(Config { cluster: CLUSTER ^ 1, ..config(2, 3) }, 0, 33);
    let refused = |l: &mut Lan| (0..3).all(|k| l.nodes[k].0.stats().other_cluster > 0);
    assert!(lan.run_until(5000, refused), "every node refused the other cluster's Hello");
    for _ in 0..2000 {
        for (from, to) in [(0, 1), (1, 0), (2, 0), (2, 1), (0, 2), (1, 2)] {
            let seq = lan.nodes[from].0.next_seq(to).expect("a node of the LAN");
            let _ = lan.send(from, to, &body(from as u8, to, seq));
        }
        lan.step();
    }
    let streams = &lan.per_stream;
    assert!(streams.get(&(0, 1)).is_some_and(|&n| n > 0) && streams.get(&(1, 0)).is_some_and(|&n| n > 0));
    for (from, to) in [(2, 0), (2, 1), (0, 2), (1, 2)] {
        assert_eq!(streams.get(&(from, to)), None, "nothing crossed from {from} to {to}");
    }
    assert_eq!(lan.nodes[0].0.stats().bad_messages, 0, "counted as another cluster, not as a bad message");
}
