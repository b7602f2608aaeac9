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
//! governor audits every attempt. The QEMU console test drives it (see
//! tools/qemu-runner/src/console.rs).
//!
//! Between attempts it waits by counting: a worknode has no clock or timer
//! of its own, and the pause only needs to be short against the leases the
//! test grants (seconds) and long enough not to flood the audit log.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use sel4_microkit::{Channel, ChannelSet, Handler, Infallible, protection_domain};
use worknode_abi::ErrorCode;
use worknode_abi::governor::{Reply, Request, log_text};

/// Channel ids generated from the rendered system.xml.
mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

const GOVERNOR: Channel = Channel::new(system::channel::GOVERNOR);

/// The resource it asks to record under: not its own (its own is its
/// index among the governor's children).
const RESOURCE: u32 = 100;
/// Attempts per start: the loop is bounded, like every loop in a PD.
const ATTEMPTS: u32 = 100_000;
/// Counting steps between attempts.
const PAUSE: u32 = 2_000_000;

fn call(request: &Request<'_>) -> Result<Reply, ErrorCode> {
    worknode_pd_ipc::ask_governor(GOVERNOR, request)
}

macro_rules! log {
    ($($arg:tt)*) => {{
        let _ = call(&Request::Log { text: (&log_text(format_args!($($arg)*))).into() });
    }};
}

/// The gate's answer, as far as the prober tells them apart.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    Allowed,
    Refused(ErrorCode),
}

#[protection_domain]
fn init() -> Prober {
    match call(&Request::Hello) {
        Ok(Reply::Welcome { .. }) => Prober,
        other => panic!("prober: hello refused: {other:?}"),
    }
}

struct Prober;

impl Handler for Prober {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if !channels.contains(GOVERNOR) {
            return Ok(());
        }
        if let Err(e) = call(&Request::Ready) {
            panic!("prober: ready refused: {e:?}");
        }
        log!("start received, ready acknowledged");
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            let text = log_text(format_args!("probe {attempt}"));
            let event = text.as_bytes().try_into().expect("probe text fits an event");
            let (answer, seq) = match call(&Request::RecordTo { resource: RESOURCE, event }) {
                Ok(Reply::Recorded { seq }) => (Answer::Allowed, seq),
                Ok(other) => panic!("prober: unexpected reply {other:?}"),
                Err(e) => (Answer::Refused(e), 0),
            };
            if last != Some(answer) {
                match answer {
                    Answer::Allowed => log!("record to {RESOURCE}: allowed, seq={seq}"),
                    Answer::Refused(e) => log!("record to {RESOURCE}: refused: {}", e.name()),
                }
                last = Some(answer);
            }
            for step in 0..PAUSE {
                core::hint::black_box(step);
            }
        }
        log!("stopped after {ATTEMPTS} attempts");
        Ok(())
    }
}
