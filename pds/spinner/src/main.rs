//! A worknode that runs away: once started it spins forever, never calls
//! the governor again and ignores every message. Test profile only.
//!
//! It exists to show that the principal's stop does not depend on the
//! worknode's cooperation: `halt spinner` at the console stops its thread
//! (Microkit's pd_stop), and the other worknodes keep working meanwhile.
//! The endless loop breaks the rule that PDs have none, deliberately, as
//! the drill's fault does.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use sel4_microkit::{ChannelSet, Handler, Infallible, protection_domain};
use worknode_pd_governed::{Governor, log};

/// Channel ids generated from the rendered system.xml.
mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

const GOVERNOR: Governor = Governor::new(system::channel::GOVERNOR);

/// What it says before it spins; the console session waits for it.
pub const SPINNING: &str = "spinning forever";

#[protection_domain]
fn init() -> Spinner {
    GOVERNOR.greet("spinner");
    Spinner
}

struct Spinner;

impl Handler for Spinner {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if !GOVERNOR.started(channels, "spinner") {
            return Ok(());
        }
        log!(GOVERNOR, "{SPINNING}");
        loop {
            core::hint::spin_loop();
        }
    }
}
