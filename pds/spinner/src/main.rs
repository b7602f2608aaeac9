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

use sel4_microkit::{Channel, ChannelSet, Handler, Infallible, protection_domain};
use worknode_abi::governor::{Reply, Request, log_text};

/// Channel ids generated from the rendered system.xml.
mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

const GOVERNOR: Channel = Channel::new(system::channel::GOVERNOR);

fn call(request: &Request<'_>) -> Option<Reply> {
    worknode_pd_ipc::ask_governor(GOVERNOR, request).ok()
}

#[protection_domain]
fn init() -> Spinner {
    call(&Request::Hello);
    Spinner
}

struct Spinner;

impl Handler for Spinner {
    type Error = Infallible;

    fn notified(&mut self, _channels: ChannelSet) -> Result<(), Self::Error> {
        call(&Request::Ready);
        call(&Request::Log { text: (&log_text(format_args!("start received, ready acknowledged"))).into() });
        call(&Request::Log { text: (&log_text(format_args!("spinning forever"))).into() });
        loop {
            core::hint::spin_loop();
        }
    }
}
