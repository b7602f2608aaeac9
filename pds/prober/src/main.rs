//! A test-profile worknode that keeps asking for something it was not
//! given at boot: to record events under resource [`RESOURCE`], which is
//! not its own. Whether it may is the principal's decision, made at the
//! console while it runs, so the gate's answers change under it: no
//! capability, then allowed under a lease, then expired, allowed again,
//! then revoked.
//!
//! It prints a line only when the answer changes (`record to 100:
//! allowed, seq=N` or `record to 100: refused: <error>`), so a console
//! session can follow the decisions without a line per attempt; the
//! governor audits every attempt (coalescing the repeated refusals). The
//! QEMU console test drives it (see tools/qemu-runner/src/console.rs).
//!
//! Between attempts it waits by counting: a worknode has no clock or timer
//! of its own, and the pause only needs to be short against the leases the
//! test grants (seconds).

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use sel4_microkit::{ChannelSet, Handler, Infallible, protection_domain};
use worknode_abi::ErrorCode;
use worknode_abi::governor::log_text;
use worknode_pd_governed::{Governor, log};

/// Channel ids generated from the rendered system.xml.
mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

const GOVERNOR: Governor = Governor::new(system::channel::GOVERNOR);

/// The resource it asks to record under: not its own (its own is its
/// index among the governor's children).
const RESOURCE: u32 = 100;
/// Attempts per start: the loop is bounded, like every loop in a PD.
const ATTEMPTS: u32 = 100_000;
/// Counting steps between attempts.
const PAUSE: u32 = 2_000_000;

/// The gate's answer, as far as the prober tells them apart.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    Allowed,
    Refused(ErrorCode),
}

#[protection_domain]
fn init() -> Prober {
    GOVERNOR.greet("prober");
    Prober
}

struct Prober;

impl Handler for Prober {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if !GOVERNOR.started(channels, "prober") {
            return Ok(());
        }
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            let text = log_text(format_args!("probe {attempt}"));
            let (answer, seq) = match GOVERNOR.record_to(RESOURCE, text.as_bytes()) {
                Ok(seq) => (Answer::Allowed, seq),
                Err(e) => (Answer::Refused(e), 0),
            };
            if last != Some(answer) {
                match answer {
                    Answer::Allowed => log!(GOVERNOR, "record to {RESOURCE}: allowed, seq={seq}"),
                    Answer::Refused(e) => log!(GOVERNOR, "record to {RESOURCE}: refused: {}", e.name()),
                }
                last = Some(answer);
            }
            for step in 0..PAUSE {
                core::hint::black_box(step);
            }
        }
        log!(GOVERNOR, "stopped after {ATTEMPTS} attempts");
        Ok(())
    }
}
