//! The ticker (test profile): a client of the timer PD that checks what
//! Raft's elections and heartbeats will rely on.
//!
//! - A 10 ms periodic timeout (slot 0) must fire 100 times in 1 s of the
//!   timer's clock, within 10 %: a timer that re-armed from "now" would
//!   drift late, one that lost firings would count fewer.
//! - One-shot timeouts (slot 1, 7 ms apart, re-armed on each firing) must
//!   never fire before their deadline.
//!
//! It prints `ticker| start` when it arms the timeouts and, once the
//! periodic one has fired at least 100 times, one line the QEMU runner
//! checks: `ticker| done ticks=N elapsed_us=E oneshots=K early=0
//! worst_late_us=L` (no `|` after the prefix, so the runner can take out
//! another PD's line printed into the middle of it). The runner also
//! times the two lines by the host's clock, which catches a clock running
//! at the wrong rate.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

/// Channel ids generated from the rendered system.xml.
mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

use sel4_microkit::{Channel, ChannelSet, Handler, Infallible, debug_println, protection_domain};
use worknode_abi::timer::{TimerReply, TimerRequest, TimerResponse};

const TIMER: Channel = Channel::new(system::channel::TIMER);
const PERIOD_NS: u64 = 10_000_000;
const ONE_SHOT_NS: u64 = 7_000_000;
/// Periodic firings to count.
const TICKS: u32 = 100;

fn call(request: TimerRequest) -> TimerReply {
    let response: TimerResponse = worknode_pd_ipc::call(TIMER, &request).unwrap_or_else(Err);
    response.unwrap_or_else(|e| panic!("timer refused {request:?}: {e}"))
}

/// The clock reading in a reply.
fn ns(reply: TimerReply) -> u64 {
    match reply {
        TimerReply::Now { ns } | TimerReply::Done { ns } | TimerReply::Fired { ns, .. } => ns,
    }
}

struct Ticker {
    started: u64,
    ticks: u32,
    /// When the armed one-shot is due.
    one_shot_due: u64,
    one_shots: u32,
    early: u32,
    worst_late: u64,
    done: bool,
}

#[protection_domain]
fn init() -> Ticker {
    let started = ns(call(TimerRequest::Set { slot: 0, after_ns: PERIOD_NS, period_ns: PERIOD_NS }));
    let armed = ns(call(TimerRequest::Set { slot: 1, after_ns: ONE_SHOT_NS, period_ns: 0 }));
    debug_println!("ticker| start");
    Ticker {
        started,
        ticks: 0,
        one_shot_due: armed + ONE_SHOT_NS,
        one_shots: 0,
        early: 0,
        worst_late: 0,
        done: false,
    }
}

impl Handler for Ticker {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if !channels.contains(TIMER) || self.done {
            return Ok(());
        }
        let TimerReply::Fired { counts, ns: now } = call(TimerRequest::Fired) else {
            panic!("the timer answered Fired with another reply");
        };
        if counts[1] > 0 {
            // A one-shot fires once per arming.
            self.one_shots += counts[1];
            if now < self.one_shot_due {
                self.early += 1;
            }
            self.worst_late = self.worst_late.max(now.saturating_sub(self.one_shot_due));
            let armed = ns(call(TimerRequest::Set { slot: 1, after_ns: ONE_SHOT_NS, period_ns: 0 }));
            self.one_shot_due = armed + ONE_SHOT_NS;
        }
        self.ticks += counts[0];
        if self.ticks >= TICKS {
            self.done = true;
            call(TimerRequest::Cancel { slot: 0 });
            call(TimerRequest::Cancel { slot: 1 });
            debug_println!(
                "ticker| done ticks={} elapsed_us={} oneshots={} early={} worst_late_us={}",
                self.ticks,
                (now - self.started) / 1000,
                self.one_shots,
                self.early,
                self.worst_late / 1000
            );
        }
        Ok(())
    }
}
