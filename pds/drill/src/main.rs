//! A test-profile PD that misbehaves on purpose.
//!
//! It exists only in images built from `profiles="test"` elements, so the
//! QEMU tests can check what the governor does when a child goes wrong:
//! it greets the governor like a worknode, then, on "start", stores to an
//! unmapped address. The kernel turns that into a VM fault delivered to the
//! governor, its parent.

#![no_std]
#![no_main]

use sel4_microkit::{ChannelSet, Handler, Infallible, protection_domain};
use worknode_pd_governed::{Governor, log};

mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

const GOVERNOR: Governor = Governor::new(system::channel::GOVERNOR);

/// Below every PD's program image on every supported architecture, and never
/// mapped by Microkit.
const UNMAPPED: usize = 0x10;

#[protection_domain]
fn init() -> Drill {
    GOVERNOR.greet("drill");
    Drill
}

struct Drill;

impl Handler for Drill {
    type Error = Infallible;

    fn notified(&mut self, _channels: ChannelSet) -> Result<(), Self::Error> {
        log!(GOVERNOR, "storing to {UNMAPPED:#x} on purpose");
        // SAFETY: not safe, and meant not to be: the store faults before it
        // can change any memory, and the kernel stops this PD and reports the
        // fault to the governor. Volatile so the store is not elided.
        unsafe { core::ptr::write_volatile(UNMAPPED as *mut u64, 0xdead) };
        log!(GOVERNOR, "the store did not fault");
        Ok(())
    }
}
