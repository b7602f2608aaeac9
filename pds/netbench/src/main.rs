//! `make bench-net`'s stream phase: node 0 sends [`MESSAGES`] messages of
//! [`MAX_NET_BODY`] bytes to node 1 through the network PD (its streams,
//! smoltcp, the rings, the driver) as fast as the stream's back-pressure
//! lets it; node 1 times their arrival with the timer's clock, from the
//! first to the last. The raw phase before it (pds/net, feature `bench`)
//! sent frames between the same two nodes without the stack.
//!
//! Line (node 1): `netbench| received=N bytes=B ns=T`; node 0 prints
//! `netbench| sent=N` once it has queued them all.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

/// Channel ids and the network, generated from the rendered system.xml.
mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

use sel4_microkit::{Channel, ChannelSet, Handler, Infallible, debug_println, protection_domain};
use worknode_abi::ErrorCode;
use worknode_abi::bounded::Bytes;
use worknode_abi::net::{MAX_NET_BODY, NetReply, NetRequest, NetResponse};
use worknode_abi::timer::{TimerReply, TimerRequest, TimerResponse};
use worknode_pd_ipc::FrameBuf;

const NET: Channel = Channel::new(system::channel::NET);
const TIMER: Channel = Channel::new(system::channel::TIMER);
/// Messages node 0 sends.
const MESSAGES: u64 = 20_000;
/// Calls per notification at most (bounded work; the network PD notifies
/// again on news).
const BATCH: usize = 128;

/// Calls the network PD; a reply's body borrows from `buf`.
fn call<'b>(request: &NetRequest, buf: &'b mut FrameBuf) -> NetResponse<'b> {
    worknode_pd_ipc::call_borrowed(NET, request, buf).unwrap_or_else(Err)
}

fn now_ns() -> u64 {
    match worknode_pd_ipc::call::<_, TimerResponse>(TIMER, &TimerRequest::Now) {
        Ok(Ok(TimerReply::Now { ns })) => ns,
        other => panic!("the timer PD did not answer Now: {other:?}"),
    }
}

struct Bench {
    me: Option<u8>,
    sent: u64,
    received: u64,
    bytes: u64,
    first_ns: Option<u64>,
    last_ns: u64,
    reported: bool,
}

#[protection_domain]
fn init() -> Bench {
    Bench { me: None, sent: 0, received: 0, bytes: 0, first_ns: None, last_ns: 0, reported: false }
}

impl Bench {
    fn send(&mut self) {
        let bytes: [u8; MAX_NET_BODY] = core::array::from_fn(|i| i as u8);
        let body = Bytes::new(&bytes).expect("MAX_NET_BODY bytes");
        for _ in 0..BATCH {
            if self.sent == MESSAGES {
                if !self.reported {
                    self.reported = true;
                    debug_println!("netbench| sent={}", self.sent);
                }
                return;
            }
            match call(&NetRequest::Send { to: 1, body }, &mut FrameBuf::new()) {
                Ok(_) => self.sent += 1,
                // No stream yet, or a full one: the network PD notifies.
                Err(ErrorCode::InvalidState | ErrorCode::Exhausted) => return,
                Err(e) => panic!("netbench: the network PD refused a send: {e}"),
            }
        }
    }

    fn receive(&mut self) {
        // One reading per notification: a call to the timer per message
        // would be part of what is measured.
        let now = now_ns();
        for _ in 0..BATCH {
            let mut buf = FrameBuf::new();
            let Ok(NetReply::Message { body, .. }) = call(&NetRequest::Receive, &mut buf) else { return };
            self.first_ns.get_or_insert(now);
            self.last_ns = now;
            self.received += 1;
            self.bytes += body.len() as u64;
            if self.received == MESSAGES && !self.reported {
                self.reported = true;
                let ns = self.last_ns - self.first_ns.unwrap_or(self.last_ns);
                debug_println!("netbench| received={} bytes={} ns={ns}", self.received, self.bytes);
            }
        }
    }
}

impl Handler for Bench {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if !channels.contains(NET) {
            return Ok(());
        }
        let me = match self.me {
            Some(me) => me,
            None => match call(&NetRequest::Status, &mut FrameBuf::new()) {
                Ok(NetReply::Status { node, .. }) => *self.me.insert(node),
                _ => return Ok(()),
            },
        };
        match me {
            0 => self.send(),
            1 => self.receive(),
            _ => {}
        }
        Ok(())
    }
}
