//! `make bench-net`'s stream phase: node 0 sends [`MESSAGES`] messages of
//! [`MAX_QUEUED_BODY`] bytes to node 1 through the network PD (its streams,
//! smoltcp, the rings, the driver) as fast as the stream's back-pressure
//! lets it; node 1 times their arrival with the timer's clock, from the
//! first to the last. The raw phase before it (pds/net, feature `bench`)
//! sent frames between the same two nodes without the stack.
//!
//! Messages go through this PD's message queues (`worknode_netq::messages`,
//! the region `netbench_messages`), a notification per batch rather than
//! a call per message; the calls serve only to learn the node number.
//!
//! Line (node 1): `netbench| received=N bytes=B ns=T`; node 0 prints
//! `netbench| sent=N` once the network PD has sent them all.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

/// Channel ids and the network, generated from the rendered system.xml.
mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

use sel4_microkit::{Channel, ChannelSet, Handler, Infallible, debug_println, protection_domain};
use static_cell::StaticCell;
use worknode_abi::net::{MAX_QUEUED_BODY, NetReply, NetRequest, NetResponse};
use worknode_abi::timer::{TimerReply, TimerRequest, TimerResponse};
use worknode_driver_shared_region::{SharedRegion, message_queues};
use worknode_netq::QueueError;
use worknode_netq::messages::{Client, Outcome};
use worknode_pd_ipc::FrameBuf;

const NET: Channel = Channel::new(system::channel::NET);
const TIMER: Channel = Channel::new(system::channel::TIMER);
/// Messages node 0 sends.
const MESSAGES: u64 = 20_000;
/// Rounds of sending and receiving per notification at most (bounded
/// work; each round moves up to a ring's worth).
const ROUNDS: usize = 16;

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
    queues: Client<'static, SharedRegion>,
    me: Option<u8>,
    queued: u64,
    sent: u64,
    received: u64,
    bytes: u64,
    first_ns: Option<u64>,
    last_ns: u64,
    reported: bool,
}

#[protection_domain]
fn init() -> Bench {
    static REGION: StaticCell<SharedRegion> = StaticCell::new();
    let (vaddr, size) = system::region::NETBENCH_MESSAGES;
    // SAFETY: system.xml maps `netbench_messages` read-write here and in
    // the network PD, at a page boundary, with this size; this PD reaches
    // it only through the queues.
    #[allow(unsafe_code)]
    let (words, region) =
        unsafe { message_queues(vaddr, size) }.expect("netbench_messages holds message queues");
    let queues = Client::init(words, REGION.init(region)).expect("the region holds the rings");
    // The network PD attaches at its next pass.
    NET.notify();
    Bench {
        queues,
        me: None,
        queued: 0,
        sent: 0,
        received: 0,
        bytes: 0,
        first_ns: None,
        last_ns: 0,
        reported: false,
    }
}

impl Bench {
    /// Queues messages while buffers are free; counts those sent.
    fn send(&mut self) -> Result<(), QueueError> {
        let sent = &mut self.sent;
        self.queues.reclaim(|outcome| match outcome {
            Outcome::Sent { .. } => *sent += 1,
            Outcome::Refused { error, .. } => panic!("netbench: the network PD refused a send: {error}"),
        })?;
        let bytes: [u8; MAX_QUEUED_BODY] = core::array::from_fn(|i| i as u8);
        while self.queued < MESSAGES {
            match self.queues.send(1, &bytes) {
                Ok(()) => self.queued += 1,
                Err(QueueError::Full) => break,
                Err(e) => return Err(e),
            }
        }
        if self.sent == MESSAGES && !self.reported {
            self.reported = true;
            debug_println!("netbench| sent={}", self.sent);
        }
        Ok(())
    }

    /// Takes every message that arrived. One reading of the clock per
    /// round: a call to the timer per message would be part of what is
    /// measured.
    fn receive(&mut self) -> Result<(), QueueError> {
        let now = now_ns();
        let mut body = [0u8; MAX_QUEUED_BODY];
        while let Some(message) = self.queues.receive(&mut body)? {
            self.first_ns.get_or_insert(now);
            self.last_ns = now;
            self.received += 1;
            self.bytes += message.len as u64;
        }
        if self.received == MESSAGES && !self.reported {
            self.reported = true;
            let ns = self.last_ns - self.first_ns.unwrap_or(self.last_ns);
            debug_println!("netbench| received={} bytes={} ns={ns}", self.received, self.bytes);
        }
        Ok(())
    }
}

impl Handler for Bench {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if channels.contains(TIMER) {
            // The wake-up asked for below; drain the timer's count.
            let _ = worknode_pd_ipc::call::<_, TimerResponse>(TIMER, &TimerRequest::Fired);
        } else if !channels.contains(NET) {
            return Ok(());
        }
        let me = match self.me {
            Some(me) => me,
            None => match call(&NetRequest::Status, &mut FrameBuf::new()) {
                Ok(NetReply::Status { node, .. }) => *self.me.insert(node),
                _ => return Ok(()),
            },
        };
        for _ in 0..ROUNDS {
            let moved = match me {
                0 => self.send(),
                1 => self.receive(),
                _ => return Ok(()),
            };
            if let Err(e) = moved {
                panic!("netbench: the message queues broke: {e:?}");
            }
            if self.queues.take_notification() {
                NET.notify();
            }
            // Sleep once asked for a wake-up with nothing come meanwhile.
            if self.queues.want_notifications() {
                return Ok(());
            }
        }
        // Still busy after every round: the network PD will not notify
        // for what is already queued, so the timer wakes us at once
        // (other PDs run in between).
        let set = TimerRequest::Set { slot: 0, after_ns: 0, period_ns: 0 };
        if !matches!(worknode_pd_ipc::call::<_, TimerResponse>(TIMER, &set), Ok(Ok(_))) {
            panic!("netbench: the timer refused a wake-up");
        }
        Ok(())
    }
}
