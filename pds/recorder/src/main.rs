//! A test-profile worknode that records events as fast as the gate lets it.
//!
//! The QEMU crash test (`worknode-qemu-runner crash`) kills QEMU while this
//! PD is recording, boots again on the same disk, and checks that every
//! record the governor acknowledged (`recorded recorder seq=N` and every
//! `audit seq=N` on the console) was recovered. It records [`EVENTS`]
//! events per boot, then stops.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use sel4_microkit::{ChannelSet, Handler, Infallible, protection_domain};
use worknode_abi::governor::log_text;
use worknode_pd_governed::{Governor, log};

mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

const GOVERNOR: Governor = Governor::new(system::channel::GOVERNOR);
/// Events per boot: enough to outlast the crash test's kill window.
const EVENTS: u32 = 20_000;

#[protection_domain]
fn init() -> Recorder {
    GOVERNOR.greet("recorder");
    Recorder
}

struct Recorder;

impl Handler for Recorder {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if !GOVERNOR.started(channels, "recorder") {
            return Ok(());
        }
        for k in 0..EVENTS {
            let text = log_text(format_args!("recorder event {k}"));
            if let Err(e) = GOVERNOR.record(text.as_bytes()) {
                log!(GOVERNOR, "record {k} refused: {e}");
                break;
            }
        }
        Ok(())
    }
}
