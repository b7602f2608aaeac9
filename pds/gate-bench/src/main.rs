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
//! Each phase is timed with the governor's clock, read by a raw call with
//! label 1 that a `gate-bench` governor answers with the time in
//! nanoseconds as the label (one call per phase boundary; a governed PD
//! may not map the clock itself, `worknode system check` refuses it). The
//! runner boots QEMU with `-icount shift=0`, which makes the guest's clocks
//! count executed instructions (one per nanosecond), so the times are
//! instruction counts and the host's load does not enter them. The runner
//! takes the fastest round of each phase and prints `gate_vs_ppc`.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use sel4_microkit::{ChannelSet, Handler, Infallible, MessageInfo, protection_domain};
use worknode_abi::governor::{Reply, Request};
use worknode_pd_governed::{Governor, log};

mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

const GOVERNOR: Governor = Governor::new(system::channel::GOVERNOR);
/// Calls per phase.
const CALLS: u32 = 20_000;
/// Rounds of both phases.
const ROUNDS: u32 = 3;
/// The event each gated call records: a typical small event.
const EVENT: [u8; 16] = [0x5A; 16];

#[protection_domain]
fn init() -> GateBench {
    GOVERNOR.greet("gate_bench");
    GateBench
}

struct GateBench;

impl GateBench {
    /// The governor's clock, in nanoseconds (instructions under icount).
    fn now_ns(&self) -> u64 {
        GOVERNOR.channel().pp_call(MessageInfo::new(1, 0)).label()
    }

    /// Times `CALLS` raw round trips; `None` if one came back non-empty.
    fn ppc_phase(&self) -> Option<u64> {
        let start = self.now_ns();
        for _ in 0..CALLS {
            let reply = GOVERNOR.channel().pp_call(MessageInfo::new(0, 0));
            if reply.label() != 0 || reply.count() != 0 {
                return None;
            }
        }
        Some(self.now_ns().saturating_sub(start))
    }

    /// Times `CALLS` gated records; `None` if one was not recorded.
    fn gate_phase(&self) -> Option<u64> {
        let event = EVENT.as_slice().try_into().expect("the event fits");
        let start = self.now_ns();
        for _ in 0..CALLS {
            if !matches!(GOVERNOR.call(&Request::Record { event }), Ok(Reply::Recorded { .. })) {
                return None;
            }
        }
        Some(self.now_ns().saturating_sub(start))
    }
}

impl Handler for GateBench {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if !GOVERNOR.started(channels, "gate_bench") {
            return Ok(());
        }
        for round in 0..ROUNDS {
            match self.ppc_phase() {
                Some(ns) => log!(GOVERNOR, "round {round} ppc calls={CALLS} ns={ns}"),
                None => {
                    log!(GOVERNOR, "round {round} ppc failed: the governor did not answer a raw call empty")
                }
            }
            match self.gate_phase() {
                Some(ns) => log!(GOVERNOR, "round {round} gate calls={CALLS} ns={ns}"),
                None => log!(GOVERNOR, "round {round} gate failed: a gated record was refused"),
            }
        }
        log!(GOVERNOR, "done");
        Ok(())
    }
}
