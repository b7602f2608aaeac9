//! A test-profile worknode that floods the governor with requests it may
//! not grant: records under resource [`RESOURCE`], which nobody is ever
//! granted, as fast as it can call.
//!
//! Before coalescing, every refusal was one durable audit record, so a
//! flood like this filled the disk, and then the principal's own controls
//! could not be recorded and the flooder could not be stopped. The QEMU
//! test lets it make more requests than the log had records for, then
//! halts it at the console, lists it halted and verifies the audit trail
//! (tools/qemu-runner/src/console.rs). It says how far it got every
//! [`REPORT`] requests.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use sel4_microkit::{ChannelSet, Handler, Infallible, protection_domain};
use worknode_pd_governed::{Governor, log};

mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

const GOVERNOR: Governor = Governor::new(system::channel::GOVERNOR);

/// Never granted to anyone.
pub const RESOURCE: u32 = 200;
/// Requests per start: bounded, like every loop in a PD, and far more
/// than the test waits for.
const REQUESTS: u32 = 10_000_000;
/// Requests between progress lines.
pub const REPORT: u32 = 20_000;

#[protection_domain]
fn init() -> Flooder {
    GOVERNOR.greet("flooder");
    Flooder
}

struct Flooder;

impl Handler for Flooder {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if !GOVERNOR.started(channels, "flooder") {
            return Ok(());
        }
        let mut refused = 0u32;
        for n in 1..=REQUESTS {
            if GOVERNOR.record_to(RESOURCE, b"flood").is_err() {
                refused += 1;
            }
            if n % REPORT == 0 {
                log!(GOVERNOR, "flooded {n} requests, {refused} refused");
            }
        }
        log!(GOVERNOR, "flood over");
        Ok(())
    }
}
