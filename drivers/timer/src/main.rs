//! The timer driver PD: the node's clock, and one-shot and periodic
//! timeouts for any PD with a channel to it, completed by interrupt.
//!
//! Clients call it ([`worknode_abi::timer::TimerRequest`]); the logic of
//! which timeout fires when is `worknode_timer::Timeouts`, tested on the
//! host. This file is the glue: it reads the clock
//! (`worknode_driver_clock`), programs the one hardware comparator for the
//! earliest deadline (`alarm.rs`), and on its interrupt notifies each
//! client whose timeouts fired. Nothing polls: between interrupts and
//! calls the PD is blocked.
//!
//! Priority 140: above every client (Microkit allows calls only into a
//! higher priority), so a client's call never waits behind that client's
//! own work, and below the disk driver, whose interrupts are shorter.
//!
//! The clock device is shared with the governor, which maps it read-only
//! to read the lease clock without a call (system.xml, rule 9 in
//! tools/sysdesc): this PD is the only one that writes it.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod alarm;

/// Channel ids generated from the rendered system.xml.
mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

use sel4_microkit::{
    Channel, ChannelSet, Handler, Infallible, MessageInfo, debug_println, protection_domain, var,
};
use worknode_abi::ErrorCode;
use worknode_abi::timer::{TimerReply, TimerRequest, TimerResponse};
use worknode_driver_clock::Clock;
use worknode_timer::Timeouts;
use worknode_timer::limits::MAX_CLIENTS;

use crate::alarm::Alarm;

/// The clients: every channel of this PD (the interrupt is not a channel
/// in the generated table). A client's index is its position here.
const CLIENTS: &[(&str, usize)] = system::channel::ALL;
const _: () = assert!(CLIENTS.len() <= MAX_CLIENTS, "more timer clients than worknode_timer allows");
/// Expiries handled in one pass when the comparator is set to a deadline
/// that has already passed: each pass fires every expired timeout, so a
/// second pass only runs when handling took longer than a period.
const PASSES: usize = 4;

struct Timer {
    clock: Clock,
    alarm: Alarm,
    timeouts: Timeouts,
    irq: Channel,
}

#[protection_domain]
fn init() -> Timer {
    let regs = *var!(clock_vaddr: usize = 0);
    // SAFETY: system.xml maps the clock device (goldfish RTC, HPET) at
    // `clock_vaddr`, uncached; this PD is its only writer and the governor
    // only reads its counter (aarch64 needs no mapping: the generic
    // timer's registers are system registers the kernel exports).
    #[allow(unsafe_code)]
    let alarm = unsafe { Alarm::open(regs) };
    // SAFETY: as above; the clock reads the same device's counter.
    #[allow(unsafe_code)]
    let clock = unsafe { Clock::open(regs) };
    debug_println!("timer| {} clients, {}", CLIENTS.len(), alarm::DEVICE);
    Timer {
        clock,
        alarm,
        timeouts: Timeouts::new(CLIENTS.len()),
        irq: Channel::new(*var!(irq_channel: usize = usize::MAX)),
    }
}

impl Timer {
    /// Fires what is due, notifies those clients, and sets the comparator
    /// to the next deadline. If that deadline has passed by the time the
    /// comparator is set (a device may not interrupt for a compare value
    /// already behind its counter), fires again, at most [`PASSES`] times;
    /// the comparator is then set in the past and the device interrupts
    /// at once, or the next call re-arms it.
    fn run(&mut self) {
        for _ in 0..PASSES {
            let due = self.timeouts.expire(self.clock.now_ns());
            for (index, (_, channel)) in CLIENTS.iter().enumerate() {
                if due & (1 << index) != 0 {
                    Channel::new(*channel).notify();
                }
            }
            match self.timeouts.next_deadline() {
                None => {
                    self.alarm.disarm();
                    return;
                }
                Some(deadline) => {
                    self.alarm.set(self.clock.ticks_at(deadline));
                    if self.clock.now_ns() < deadline {
                        return;
                    }
                }
            }
        }
    }

    fn serve(&mut self, client: usize, request: TimerRequest) -> TimerResponse {
        let now = self.clock.now_ns();
        let reply = match request {
            TimerRequest::Now => return Ok(TimerReply::Now { ns: now }),
            TimerRequest::Set { slot, after_ns, period_ns } => self
                .timeouts
                .set(client, slot, now, after_ns, period_ns)
                .map(|()| TimerReply::Done { ns: now }),
            TimerRequest::Cancel { slot } => {
                self.timeouts.cancel(client, slot).map(|()| TimerReply::Done { ns: now })
            }
            TimerRequest::Fired => {
                return self.timeouts.take_fired(client).map(|counts| TimerReply::Fired { counts, ns: now });
            }
        };
        self.run();
        reply
    }
}

impl Handler for Timer {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if channels.contains(self.irq) {
            self.alarm.acknowledge();
            self.run();
            if let Err(e) = self.irq.irq_ack() {
                debug_println!("timer| irq ack failed: {e}");
            }
            // The kernel masks the line from the interrupt until this ack,
            // and x86_64's IOAPIC does not keep an edge that comes while
            // its pin is masked: a deadline that passed between `run`
            // setting the comparator and the ack (a PD above this one ran
            // in between) would never interrupt, and every timeout would
            // stall (seen in `make test-qemu ARCH=x86_64`: the ticker
            // never finished). Now unmasked, run again for such a
            // deadline; the comparator it sets interrupts normally.
            // Rejected: acking before `run`, which on aarch64's level
            // triggered timer interrupts once more for every interrupt.
            if self.timeouts.next_deadline().is_some_and(|due| due <= self.clock.now_ns()) {
                self.run();
            }
        }
        Ok(())
    }

    fn protected(&mut self, channel: Channel, info: MessageInfo) -> Result<MessageInfo, Self::Error> {
        // The caller is named by the channel it called on, never by the
        // message; a channel not in the table cannot call (Microkit), but
        // the table is checked rather than trusted.
        let response = match CLIENTS.iter().position(|&(_, id)| id == channel.index()) {
            None => Err(ErrorCode::Internal),
            Some(client) => match worknode_pd_ipc::receive::<TimerRequest>(&info) {
                Ok(request) => self.serve(client, request),
                Err(e) => Err(e),
            },
        };
        Ok(worknode_pd_ipc::reply(&response))
    }
}
