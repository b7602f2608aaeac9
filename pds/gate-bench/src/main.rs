//! The `make bench-gate` workload (bench-gate profile only): what the gate
//! costs a worknode, against the bare kernel path it rides on.
//!
//! It is an ordinary worknode, a child of the governor with one channel to
//! it, and alternates two phases of [`CALLS`] protected calls to the
//! governor, [`ROUNDS`] times each:
//!
//! - `ppc`: an empty message (label 0, no registers). A governor built with
//!   the `gate-bench` feature answers it with an empty reply before looking
//!   at it: a raw Microkit protected procedure call round trip.
//! - `gate`: [`Request::Record`] with a 16-byte event. The governor decodes
//!   the frame, checks the caller's state, decides on the gate, builds and
//!   encodes the audit record and answers `Recorded`. The `gate-bench`
//!   build keeps the record in memory instead of the event log (the
//!   issue's measure is the gate, not the disk: `make bench-log` measures
//!   that).
//!
//! Each phase is timed here with the board's clock (drivers/clock). The
//! runner boots QEMU with `-icount shift=0`, which makes the guest's clocks
//! count executed instructions (one per nanosecond), so the times are
//! instruction counts and the host's load does not enter them. The runner
//! takes the fastest round of each phase and prints `gate_vs_ppc`.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

use sel4_microkit::{Channel, ChannelSet, Handler, Infallible, MessageInfo, protection_domain};
use worknode_abi::ErrorCode;
use worknode_abi::governor::{Reply, Request, log_text};
use worknode_driver_clock::Clock;

mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

const GOVERNOR: Channel = Channel::new(system::channel::GOVERNOR);
/// Calls per phase.
const CALLS: u32 = 20_000;
/// Rounds of both phases.
const ROUNDS: u32 = 3;
/// The event each gated call records: a typical small event.
const EVENT: [u8; 16] = [0x5A; 16];

fn call(request: &Request<'_>) -> Result<Reply, ErrorCode> {
    worknode_pd_ipc::ask_governor(GOVERNOR, request)
}

macro_rules! log {
    ($($arg:tt)*) => {{
        let _ = call(&Request::Log { text: (&log_text(format_args!($($arg)*))).into() });
    }};
}

#[protection_domain]
fn init() -> GateBench {
    match call(&Request::Hello) {
        Ok(Reply::Welcome { .. }) => {}
        other => panic!("gate_bench: hello refused: {other:?}"),
    }
    // SAFETY: the bench-gate profile maps the clock device (goldfish RTC,
    // HPET) at `clock_vaddr`, uncached; opening it only sets the HPET's
    // enable bit, which the governor has set already. aarch64 needs none.
    #[allow(unsafe_code)]
    let clock = unsafe { Clock::open(*sel4_microkit::var!(clock_vaddr: usize = 0)) };
    GateBench { clock }
}

struct GateBench {
    clock: Clock,
}

impl GateBench {
    /// Times `CALLS` raw round trips; `None` if one came back non-empty.
    fn ppc_phase(&self) -> Option<u64> {
        let start = self.clock.now_ns();
        for _ in 0..CALLS {
            let reply = GOVERNOR.pp_call(MessageInfo::new(0, 0));
            if reply.label() != 0 || reply.count() != 0 {
                return None;
            }
        }
        Some(self.clock.now_ns().saturating_sub(start))
    }

    /// Times `CALLS` gated records; `None` if one was not recorded.
    fn gate_phase(&self) -> Option<u64> {
        let event = EVENT.as_slice().try_into().expect("the event fits");
        let start = self.clock.now_ns();
        for _ in 0..CALLS {
            if !matches!(call(&Request::Record { event }), Ok(Reply::Recorded { .. })) {
                return None;
            }
        }
        Some(self.clock.now_ns().saturating_sub(start))
    }
}

impl Handler for GateBench {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if !channels.contains(GOVERNOR) {
            return Ok(());
        }
        if let Err(e) = call(&Request::Ready) {
            panic!("gate_bench: ready refused: {e:?}");
        }
        log!("start received, ready acknowledged");
        for round in 0..ROUNDS {
            match self.ppc_phase() {
                Some(ns) => log!("round {round} ppc calls={CALLS} ns={ns}"),
                None => log!("round {round} ppc failed: the governor did not answer a raw call empty"),
            }
            match self.gate_phase() {
                Some(ns) => log!("round {round} gate calls={CALLS} ns={ns}"),
                None => log!("round {round} gate failed: a gated record was refused"),
            }
        }
        log!("done");
        Ok(())
    }
}
