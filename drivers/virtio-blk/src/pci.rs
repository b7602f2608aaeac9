//! virtio-pci on x86_64: PCI configuration space through the legacy I/O
//! ports 0xCF8/0xCFC, and the device's register BAR placed where
//! system.xml maps it.
//!
//! The firmware (SeaBIOS under QEMU) assigns BARs at boot, but a Microkit
//! memory region needs its physical address when the image is built. So
//! the driver moves the device's memory BAR to the address the description
//! gives it (`virtio_blk_regs`), with memory decoding off while it does.
//! Rejected alternative: reading the firmware's choice and mapping it at
//! run time. Microkit PDs cannot map memory they were not given.

use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::pci::bus::{Command, ConfigurationAccess, DeviceFunction, PciRoot};

use worknode_driver_virtio_hal::DmaHal;

const CONFIG_ADDRESS: u64 = 0xCF8;
const CONFIG_DATA: u16 = 0xCFC;
const VIRTIO_VENDOR: u16 = 0x1AF4;
/// Modern (virtio 1.0) block device: QEMU `virtio-blk-pci,disable-legacy=on`.
const VIRTIO_BLK_MODERN: u16 = 0x1042;
/// QEMU's modern virtio-pci devices keep their registers in BAR 4.
const REGISTER_BAR: u8 = 4;
/// The IOAPIC pin system.xml declares for the device's interrupt: PCI
/// slot 4's INTA, which SeaBIOS routes to ISA IRQ 11.
const IRQ_PIN: u8 = 11;
/// First Microkit I/O port capability slot (libmicrokit's BASE_IOPORT_CAP).
const BASE_IOPORT_CAP: u64 = 394;

/// PCI configuration mechanism #1 through a Microkit I/O port capability.
pub struct PortCam {
    cap: u64,
}

impl PortCam {
    /// Uses the I/O port range with Microkit id `id` (0xCF8..0xD00).
    pub fn new(id: usize) -> PortCam {
        PortCam { cap: BASE_IOPORT_CAP + id as u64 }
    }

    fn select(&self, df: DeviceFunction, offset: u8) {
        let address = 0x8000_0000u32
            | u32::from(df.bus) << 16
            | u32::from(df.device) << 11
            | u32::from(df.function) << 8
            | u32::from(offset & 0xFC);
        let error = sel4::with_ipc_buffer_mut(|ib| {
            ib.inner_mut().seL4_X86_IOPort_Out32(self.cap, CONFIG_ADDRESS, u64::from(address))
        });
        assert_eq!(error, 0, "I/O port write refused: the ioport element in system.xml is missing");
    }
}

impl ConfigurationAccess for PortCam {
    fn read_word(&self, df: DeviceFunction, offset: u8) -> u32 {
        self.select(df, offset);
        let ret = sel4::with_ipc_buffer_mut(|ib| ib.inner_mut().seL4_X86_IOPort_In32(self.cap, CONFIG_DATA));
        assert_eq!(ret.error, 0, "I/O port read refused");
        ret.result
    }

    fn write_word(&mut self, df: DeviceFunction, offset: u8, data: u32) {
        self.select(df, offset);
        let error = sel4::with_ipc_buffer_mut(|ib| {
            ib.inner_mut().seL4_X86_IOPort_Out32(self.cap, u64::from(CONFIG_DATA), u64::from(data))
        });
        assert_eq!(error, 0, "I/O port write refused");
    }

    unsafe fn unsafe_clone(&self) -> PortCam {
        PortCam { cap: self.cap }
    }
}

/// Finds the virtio-blk device on bus 0, moves its register BAR to
/// `regs_paddr`, checks its interrupt line is [`IRQ_PIN`], and returns its
/// transport.
pub fn find_device(ioport_id: usize, regs_paddr: u64) -> PciTransport {
    let probe = PortCam::new(ioport_id);
    let mut root = PciRoot::new(PortCam::new(ioport_id));
    let found = root
        .enumerate_bus(0)
        .find(|(_, info)| info.vendor_id == VIRTIO_VENDOR && info.device_id == VIRTIO_BLK_MODERN);
    let Some((df, _)) = found else {
        panic!(
            "no modern virtio-blk PCI device on bus 0: QEMU needs -device virtio-blk-pci,disable-legacy=on (see qemu/)"
        );
    };
    root.set_command(df, Command::empty());
    root.set_bar_64(df, REGISTER_BAR, regs_paddr);
    root.set_command(df, Command::MEMORY_SPACE | Command::BUS_MASTER);
    let line = probe.read_word(df, 0x3C) as u8;
    assert_eq!(line, IRQ_PIN, "virtio-blk interrupt line is {line}, system.xml expects IOAPIC pin {IRQ_PIN}");
    PciTransport::new::<DmaHal, _>(&mut root, df).unwrap_or_else(|e| panic!("virtio-pci transport: {e:?}"))
}
