//! The net-profile load client (`make test-net`): exchanges numbered
//! messages with every other node through the network PD and checks what
//! arrives.
//!
//! To each peer it sends [`TARGET`] messages, numbered from 0 (a round),
//! paced by a 10 ms periodic timeout ([`PER_TICK`] per tick per stream).
//! Each message carries its number and a pattern derived from it; the
//! receiver checks the pattern and the numbering per sender: the next
//! number is one more than the last, a number below that is a duplicate
//! (`duplicated`), a number above a gap (`gaps`: something lost or
//! overtaken). A
//! message numbered 0 after others means the sender restarted: that is
//! counted (`restarts`), and a new round with that peer begins (this node
//! sends it [`TARGET`] more), so a restarted node gets its full round.
//!
//! Lines the QEMU runner reads (tools/qemu-runner, test-net):
//! `netload| node=K peer=P delivered=N` every 100 messages from a peer,
//! and once a round is complete with every peer, `netload| done node=K
//! sent=S delivered=D duplicated=U gaps=G skipped=K restarts=R refused=F`
//! (totals since boot; `skipped`: numbers before the first message seen
//! from a peer, which its stream carried before a restart broke it;
//! `refused`: the network PD's count of frames and streams it refused).

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

/// Channel ids and the network, generated from the rendered system.xml.
mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

use heapless::Vec;
use sel4_microkit::{Channel, ChannelSet, Handler, Infallible, debug_println, protection_domain};
use worknode_abi::ErrorCode;
use worknode_abi::bounded::Bytes;
use worknode_abi::net::{NetReply, NetRequest, NetResponse};
use worknode_abi::timer::{TimerReply, TimerRequest, TimerResponse};
use worknode_pd_ipc::FrameBuf;

const NET: Channel = Channel::new(system::channel::NET);
const TIMER: Channel = Channel::new(system::channel::TIMER);
/// Messages each stream may carry per 10 ms tick of the timer: a steady
/// 200 a second on every stream, so all streams reach the runner's marks
/// together and the faults meet every stream mid-round.
const PER_TICK: u64 = 2;
const TICK_NS: u64 = 10_000_000;
const NODES: usize = system::network::NODES;
/// Messages per peer per round: enough for the runner to watch 1,000 on
/// every stream of a clean LAN, then 200 more under faults, before a
/// round ends.
const TARGET: u64 = 3000;
/// A progress line every this many messages from a peer.
const PROGRESS: u64 = 100;
/// Body bytes: the number, then a pattern.
const BODY: usize = 64;
/// Messages sent and received per notification at most (bounded work).
const BATCH: usize = 64;

#[derive(Clone, Copy, Default)]
struct Peer {
    /// The next number to send in this round.
    sent: u64,
    /// Messages the pace allows to send now.
    allowance: u64,
    /// The next number expected from the peer (`None` before its first).
    expected: Option<u64>,
    delivered: u64,
    duplicated: u64,
    gaps: u64,
    /// Numbers before the first one seen from this peer: messages its
    /// stream carried before a restart broke it (at most once across a
    /// reconnection, docs/network.md).
    skipped: u64,
    restarts: u64,
}

struct Load {
    me: Option<u8>,
    /// Sending starts once the streams to every peer are open, so all
    /// streams run together (a node that booted late would otherwise
    /// lag a whole phase behind).
    started: bool,
    peers: [Peer; NODES],
    /// Totals of finished rounds plus this one (never reset).
    total_sent: u64,
    total_delivered: u64,
    done_printed: bool,
}

fn body(from: u8, n: u64) -> Vec<u8, { worknode_abi::net::MAX_NET_BODY }> {
    let mut out = Vec::new();
    out.extend_from_slice(&n.to_le_bytes()).expect("fits");
    for i in 8..BODY {
        out.push((n as u8) ^ (i as u8) ^ from.wrapping_mul(31)).expect("fits");
    }
    out
}

/// Calls the network PD; a reply's body borrows from `buf`.
fn call<'b>(request: &NetRequest, buf: &'b mut FrameBuf) -> NetResponse<'b> {
    worknode_pd_ipc::call_borrowed(NET, request, buf).unwrap_or_else(Err)
}

#[protection_domain]
fn init() -> Load {
    let tick = TimerRequest::Set { slot: 0, after_ns: TICK_NS, period_ns: TICK_NS };
    match worknode_pd_ipc::call::<_, TimerResponse>(TIMER, &tick) {
        Ok(Ok(_)) => {}
        other => panic!("the timer refused the pace: {other:?}"),
    }
    Load {
        me: None,
        started: false,
        peers: [Peer::default(); NODES],
        total_sent: 0,
        total_delivered: 0,
        done_printed: false,
    }
}

impl Load {
    fn receive(&mut self, me: u8) {
        for _ in 0..BATCH {
            let mut buf = FrameBuf::new();
            let Ok(NetReply::Message { from, body: got, .. }) = call(&NetRequest::Receive, &mut buf) else {
                return;
            };
            let Some(peer) = self.peers.get_mut(usize::from(from)) else { continue };
            let n = got.get(..8).map_or(u64::MAX, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
            if *got != *body(from, n) {
                debug_println!("netload| node={me} BAD BODY from={from} n={n}");
                peer.duplicated += 1;
                continue;
            }
            match peer.expected {
                Some(e) if n == e => {}
                Some(e) if n == 0 && e > 0 => {
                    // The peer restarted: a new round with it, whose first
                    // messages may go into the stream the restart broke.
                    peer.restarts += 1;
                    peer.sent = 0;
                    self.done_printed = false;
                }
                Some(e) if n < e => peer.duplicated += 1,
                Some(e) => peer.gaps += n - e,
                None => peer.skipped += n,
            }
            peer.expected = Some(n + 1);
            peer.delivered += 1;
            self.total_delivered += 1;
            if peer.delivered % PROGRESS == 0 {
                debug_println!("netload| node={me} peer={from} delivered={}", peer.delivered);
            }
        }
    }

    /// Sends to every peer in turn, one message each per pass, so every
    /// stream moves at the pace of its own back-pressure.
    fn send(&mut self, me: u8) {
        let mut blocked = [false; NODES];
        blocked[usize::from(me)] = true;
        for _ in 0..BATCH {
            for (k, peer) in self.peers.iter_mut().enumerate() {
                if blocked[k] || peer.sent >= TARGET || peer.allowance == 0 {
                    continue;
                }
                let message = body(me, peer.sent);
                let request =
                    NetRequest::Send { to: k as u8, body: Bytes::new(&message).expect("a body that fits") };
                match call(&request, &mut FrameBuf::new()) {
                    Ok(_) => {
                        peer.sent += 1;
                        peer.allowance -= 1;
                        self.total_sent += 1;
                    }
                    // Not connected yet, or the stream is full: the network
                    // PD notifies when that changes.
                    Err(ErrorCode::InvalidState | ErrorCode::Exhausted) => blocked[k] = true,
                    Err(e) => panic!("the network PD refused a send to node {k}: {e}"),
                }
            }
        }
    }

    fn report(&mut self, me: u8) {
        let others = self.peers.iter().enumerate().filter(|(k, _)| *k != usize::from(me));
        let complete =
            others.clone().all(|(_, p)| p.sent >= TARGET && p.expected.is_some_and(|e| e >= TARGET));
        if complete && !self.done_printed {
            self.done_printed = true;
            let sum = |f: fn(&Peer) -> u64| others.clone().map(|(_, p)| f(p)).sum::<u64>();
            let refused = match call(&NetRequest::Status, &mut FrameBuf::new()) {
                Ok(NetReply::Status { refused, .. }) => refused,
                _ => 0,
            };
            debug_println!(
                "netload| done node={me} sent={} delivered={} duplicated={} gaps={} skipped={} restarts={} refused={refused}",
                self.total_sent,
                self.total_delivered,
                sum(|p| p.duplicated),
                sum(|p| p.gaps),
                sum(|p| p.skipped),
                sum(|p| p.restarts)
            );
        }
    }
}

impl Handler for Load {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if channels.contains(TIMER)
            && let Ok(Ok(TimerReply::Fired { counts, .. })) =
                worknode_pd_ipc::call::<_, TimerResponse>(TIMER, &TimerRequest::Fired)
        {
            for peer in &mut self.peers {
                // At most a second's worth saved up.
                peer.allowance = (peer.allowance + u64::from(counts[0]) * PER_TICK).min(100 * PER_TICK);
            }
        }
        let me = match self.me {
            Some(me) => me,
            None => match call(&NetRequest::Status, &mut FrameBuf::new()) {
                Ok(NetReply::Status { node, .. }) => {
                    self.me = Some(node);
                    node
                }
                _ => return Ok(()),
            },
        };
        if !self.started {
            let everyone = ((1u64 << NODES) - 1) & !(1 << me);
            match call(&NetRequest::Status, &mut FrameBuf::new()) {
                Ok(NetReply::Status { connected, .. }) if connected & everyone == everyone => {
                    self.started = true;
                    for peer in &mut self.peers {
                        peer.allowance = 0;
                    }
                    debug_println!("netload| node={me} streams open");
                }
                _ => {}
            }
        }
        self.receive(me);
        if self.started {
            self.send(me);
        }
        self.report(me);
        Ok(())
    }
}
