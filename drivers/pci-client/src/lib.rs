//! A PCI driver's side of the PCI PD (drivers/pci): configuration space by
//! protected call, and the virtio-pci transport built on it.
//!
//! The firmware (SeaBIOS under QEMU) assigns BARs at boot, but a Microkit
//! memory region needs its physical address when the image is built. So
//! the driver moves its device's register BAR to the address the
//! description gives it, with memory decoding off while it does.
//! Rejected alternative: reading the firmware's choice and mapping it at
//! run time. Microkit PDs cannot map memory they were not given.

#![no_std]
#![deny(unsafe_code)]

use sel4_microkit::Channel;
use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::pci::bus::{Command, ConfigurationAccess, DeviceFunction, PciRoot};
use worknode_abi::pci::{PciReply, PciRequest, PciResponse};
use worknode_driver_virtio_hal::DmaHal;

/// QEMU's modern virtio-pci devices keep their registers in BAR 4.
const REGISTER_BAR: u8 = 4;
/// The interrupt line register.
const INTERRUPT_LINE: u8 = 0x3C;

/// Configuration space through the PCI PD: only the caller's function.
pub struct PpcCam {
    pci: Channel,
    own: DeviceFunction,
}

fn call(pci: Channel, request: PciRequest) -> PciReply {
    match worknode_pd_ipc::call::<_, PciResponse>(pci, &request) {
        Ok(Ok(reply)) => reply,
        other => panic!("the PCI PD refused {request:?}: {other:?}"),
    }
}

impl ConfigurationAccess for PpcCam {
    fn read_word(&self, df: DeviceFunction, offset: u8) -> u32 {
        assert_eq!(df, self.own, "a driver reads its own device function only");
        match call(self.pci, PciRequest::Read { offset }) {
            PciReply::Value { value } => value,
            other => panic!("the PCI PD answered a read with {other:?}"),
        }
    }

    fn write_word(&mut self, df: DeviceFunction, offset: u8, data: u32) {
        assert_eq!(df, self.own, "a driver writes its own device function only");
        call(self.pci, PciRequest::Write { offset, value: data });
    }

    // SAFETY: nothing to uphold: a clone holds no hardware state, only the
    // channel to the PCI PD, which serialises every access.
    #[allow(unsafe_code)]
    unsafe fn unsafe_clone(&self) -> PpcCam {
        PpcCam { pci: self.pci, own: self.own }
    }
}

/// The driver's device, found by the PCI PD on channel `pci`: its register
/// BAR moved to `regs_paddr` (where system.xml maps it), bus mastering
/// on, its interrupt line checked to be `irq_pin` (system.xml's IOAPIC
/// pin), and its virtio-pci transport. `what` names the device in panics.
pub fn transport(pci: Channel, regs_paddr: u64, irq_pin: u8, what: &str) -> PciTransport {
    let own = match call(pci, PciRequest::Locate) {
        PciReply::Located { bus, device, function } => DeviceFunction { bus, device, function },
        other => panic!("the PCI PD answered Locate with {other:?}"),
    };
    let mut root = PciRoot::new(PpcCam { pci, own });
    root.set_command(own, Command::empty());
    root.set_bar_64(own, REGISTER_BAR, regs_paddr);
    root.set_command(own, Command::MEMORY_SPACE | Command::BUS_MASTER);
    let line = PpcCam { pci, own }.read_word(own, INTERRUPT_LINE) as u8;
    assert_eq!(line, irq_pin, "{what} interrupt line is {line}, system.xml expects IOAPIC pin {irq_pin}");
    PciTransport::new::<DmaHal, _>(&mut root, own)
        .unwrap_or_else(|e| panic!("{what}: virtio-pci transport: {e:?}"))
}
