//! A worknode PD: one governed actor.
//!
//! Its only channel leads to the governor (seL4 enforces that; the system
//! description checker refuses anything else), so everything it does,
//! writing a console line included, is a request to the governor. For now
//! it follows the boot handshake (`Hello` from `init`, `Ready` when the
//! governor's "start" notification arrives) and records one `started`
//! event per start, so every boot leaves a trace in the log.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use sel4_microkit::{ChannelSet, Handler, Infallible, pd_name, protection_domain};
use worknode_abi::ErrorCode;
use worknode_pd_governed::{Governor, log, markers};

/// Channel ids generated from the rendered system.xml.
mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

const GOVERNOR: Governor = Governor::new(system::channel::GOVERNOR);

#[protection_domain]
fn init() -> Worknode {
    let name = pd_name().unwrap_or("worknode?");
    let welcome = GOVERNOR.greet(name);
    log!(GOVERNOR, "welcomed by the governor as #{} of {}", welcome.worknode, welcome.children);
    Worknode { name }
}

struct Worknode {
    name: &'static str,
}

impl Handler for Worknode {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if !GOVERNOR.started(channels, self.name) {
            return Ok(());
        }
        match GOVERNOR.record(b"started") {
            Ok(seq) => log!(GOVERNOR, "{}{seq}", markers::STARTED_EVENT),
            Err(ErrorCode::NotFound) => log!(GOVERNOR, "no event log on this node"),
            Err(e) => log!(GOVERNOR, "record refused: {e}"),
        }
        Ok(())
    }
}
