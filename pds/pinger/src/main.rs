//! A net-profile worknode that pings its counterpart (the worknode with
//! its own index) on every other node, through the governor: worknode →
//! governor (the gate decides `send` on the node's resource, and records
//! it) → network PD → NIC driver → the LAN → the other node's governor,
//! which puts the mail in its pinger's mailbox; that pinger answers with a
//! pong the same way.
//!
//! It starts with a send to a node outside the cluster ([`OUTSIDE`]),
//! which no grant covers, so the gate's refusal is on record on every
//! node. Its pings are refused too until the principal grants it `send`
//! on the cluster's nodes (`grant pinger send 65536-65538 <lease>`); the
//! grant's notification makes it try again. A send refused for want of a
//! stream (`invalid-state`, `exhausted`) is retried when the governor
//! passes on the network's news, and so is a ping unanswered for a while
//! (a stream carries a message at most once across a reconnection). It
//! never waits by spinning.
//!
//! Lines (through the governor): `send to node N: refused: <error>` when
//! the answer to its sends changes, `pong from node K n=I` for each pong,
//! and `done node=K pings=P pongs=Q answered=A resent=R` once every peer
//! answered [`ROUNDS`] pings (`answered`: the pings of others it answered;
//! `resent`: pings it sent again).

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use heapless::Vec;
use sel4_microkit::{ChannelSet, Handler, Infallible, protection_domain};
use worknode_abi::ErrorCode;
use worknode_pd_governed::{Governor, Welcome, log};

/// Channel ids and the network, generated from the rendered system.xml.
mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

const GOVERNOR: Governor = Governor::new(system::channel::GOVERNOR);
const NODES: usize = system::network::NODES;
/// Pings per peer.
const ROUNDS: u32 = 5;
/// A node number no cluster of this system has.
const OUTSIDE: u8 = 200;
/// Messages taken from the mailbox per notification at most.
const BATCH: usize = 16;
/// Notifications without its pong after which a ping is sent again. A
/// worknode whose mailbox was empty hears of the network's news, which
/// comes at least with every keepalive (500 ms).
const RESEND: u32 = 100;

#[derive(Clone, Copy, Default)]
struct Peer {
    /// Pings sent, and the one awaiting its pong.
    sent: u32,
    waiting: Option<u32>,
    pongs: u32,
    /// A pong owed to this peer's ping, not yet sent.
    owed: Option<u32>,
    /// Notifications since the waiting ping was sent.
    since: u32,
}

struct Pinger {
    me: Welcome,
    /// This node, learned from the `not-found` a send to it gets.
    node: Option<u8>,
    peers: [Peer; NODES],
    answered: u32,
    /// Pings sent again.
    resent: u32,
    /// The last refusal said, so each change is said once.
    said: Option<ErrorCode>,
    done: bool,
}

#[protection_domain]
fn init() -> Pinger {
    let me = GOVERNOR.greet("pinger");
    Pinger {
        me,
        node: None,
        peers: [Peer::default(); NODES],
        answered: 0,
        resent: 0,
        said: None,
        done: false,
    }
}

/// `ping 3`, `pong 3`.
fn message(kind: &str, n: u32) -> Vec<u8, 16> {
    let mut out = Vec::new();
    let _ = out.extend_from_slice(kind.as_bytes());
    let _ = out.push(b' ');
    let mut digits = [0u8; 10];
    let mut len = 0;
    let mut rest = n;
    // At most 10 digits in a u32.
    loop {
        digits[len] = b'0' + (rest % 10) as u8;
        len += 1;
        rest /= 10;
        if rest == 0 || len == digits.len() {
            break;
        }
    }
    for &d in digits[..len].iter().rev() {
        let _ = out.push(d);
    }
    out
}

/// `(kind, n)` of `ping 3` or `pong 3`.
fn parse(body: &[u8]) -> Option<(&[u8], u32)> {
    let text = core::str::from_utf8(body).ok()?;
    let (kind, n) = text.split_once(' ')?;
    Some((kind.as_bytes(), n.parse().ok()?))
}

impl Pinger {
    /// Sends `kind n` to node `node`; `Ok(false)` if it must wait for
    /// news (no stream yet, a full one, or no grant yet).
    fn send(&mut self, node: u8, kind: &str, n: u32) -> Result<bool, ErrorCode> {
        match GOVERNOR.send(node, self.me.worknode, &message(kind, n)) {
            Ok(_) => Ok(true),
            Err(ErrorCode::NotFound) if usize::from(node) < NODES => {
                self.node = Some(node);
                Err(ErrorCode::NotFound)
            }
            Err(e) => {
                if self.said != Some(e) {
                    log!(GOVERNOR, "send to node {node}: refused: {}", e.name());
                    self.said = Some(e);
                }
                match e {
                    ErrorCode::InvalidState
                    | ErrorCode::Exhausted
                    | ErrorCode::Denied
                    | ErrorCode::Expired => Ok(false),
                    other => Err(other),
                }
            }
        }
    }

    /// Takes the mail: answers pings, counts pongs.
    fn read_mail(&mut self) {
        for _ in 0..BATCH {
            let mail = match GOVERNOR.receive() {
                Ok(Some(mail)) => mail,
                Ok(None) => return,
                Err(e) => {
                    log!(GOVERNOR, "receive refused: {}", e.name());
                    return;
                }
            };
            let Some(peer) = self.peers.get_mut(usize::from(mail.node)) else { continue };
            match parse(&mail.body) {
                Some((b"ping", n)) => {
                    peer.owed = Some(n);
                    self.answered += 1;
                }
                Some((b"pong", n)) if peer.waiting == Some(n) => {
                    peer.waiting = None;
                    peer.pongs += 1;
                    log!(GOVERNOR, "pong from node {} n={n}", mail.node);
                }
                // A pong to a ping sent again, answered twice.
                Some((b"pong", _)) => {}
                _ => log!(GOVERNOR, "unexpected mail from node {}", mail.node),
            }
        }
    }

    /// Sends what can be sent: owed pongs, then the next pings.
    fn work(&mut self) {
        self.read_mail();
        for k in 0..NODES {
            let node = k as u8;
            if Some(node) == self.node {
                continue;
            }
            let peer = self.peers[k];
            if let Some(n) = peer.owed
                && matches!(self.send(node, "pong", n), Ok(true))
            {
                self.peers[k].owed = None;
            }
            if peer.waiting.is_none() && peer.sent < ROUNDS {
                if let Ok(true) = self.send(node, "ping", peer.sent) {
                    self.peers[k].waiting = Some(peer.sent);
                    self.peers[k].sent += 1;
                    self.peers[k].since = 0;
                }
            } else if let Some(n) = peer.waiting {
                // A stream carries a message at most once across a
                // reconnection (docs/network.md): a ping unanswered for
                // RESEND notifications goes again (a second pong is
                // ignored).
                self.peers[k].since += 1;
                if self.peers[k].since >= RESEND && matches!(self.send(node, "ping", n), Ok(true)) {
                    self.peers[k].since = 0;
                    self.resent += 1;
                }
            }
        }
        let finished = self.node.is_some()
            && (0..NODES).all(|k| Some(k as u8) == self.node || self.peers[k].pongs == ROUNDS);
        if finished && !self.done {
            self.done = true;
            let pings: u32 = self.peers.iter().map(|p| p.sent).sum();
            let pongs: u32 = self.peers.iter().map(|p| p.pongs).sum();
            let node = self.node.unwrap_or(u8::MAX);
            log!(
                GOVERNOR,
                "done node={node} pings={pings} pongs={pongs} answered={} resent={}",
                self.answered,
                self.resent
            );
        }
    }
}

impl Handler for Pinger {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if GOVERNOR.started(channels, "pinger") {
            // On record on every node: the gate refuses a node no grant
            // covers.
            let _ = self.send(OUTSIDE, "ping", 0);
        } else if !channels.contains(GOVERNOR.channel()) {
            return Ok(());
        }
        self.work();
        Ok(())
    }
}
