//! The PCI PD (x86_64): owns PCI configuration mechanism #1 (I/O ports
//! 0xCF8..0xD00) and serves configuration space to the drivers of PCI
//! devices (`worknode_abi::pci`).
//!
//! seL4 issues an I/O port range to one PD only, and those two ports reach
//! every device on the bus, so no driver may hold them: a driver that did
//! could reprogram any other device (move its registers, turn off its bus
//! mastering). Here each driver reaches one device function, the one
//! [`DEVICES`] assigns to its PD by name, found on bus 0 at start.
//! Rejected alternatives: QEMU's q35 machine, whose memory-mapped
//! configuration space would let each driver map its own function's page
//! (it would also move every interrupt and slot this system was tested
//! with); and one driver configuring both devices for the other.
//!
//! Priority 160: above the drivers that call it. Nothing here runs after
//! the drivers' start, and every call is bounded.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

/// Channel ids generated from the rendered system.xml.
mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

use heapless::Vec;
use sel4_microkit::{Channel, Handler, Infallible, MessageInfo, debug_println, protection_domain, var};
use worknode_abi::ErrorCode;
use worknode_abi::pci::{PciReply, PciRequest, PciResponse};

/// Which device function each driver PD may reach: its vendor and device
/// ID (modern virtio: 0x1040 + the virtio device type).
const DEVICES: &[(&str, u16, u16)] = &[("blk", 0x1AF4, 0x1042), ("nic", 0x1AF4, 0x1041)];
/// First Microkit I/O port capability slot (libmicrokit's BASE_IOPORT_CAP).
const BASE_IOPORT_CAP: u64 = 394;
const CONFIG_ADDRESS: u64 = 0xCF8;
const CONFIG_DATA: u16 = 0xCFC;

/// A device function on bus 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Function {
    device: u8,
    function: u8,
}

struct Pci {
    cap: u64,
    /// Each client channel and its device function, if found.
    clients: Vec<(usize, Option<Function>), 8>,
}

impl Pci {
    fn select(&self, f: Function, offset: u8) {
        let address = 0x8000_0000u32
            | u32::from(f.device) << 11
            | u32::from(f.function) << 8
            | u32::from(offset & 0xFC);
        let error = sel4::with_ipc_buffer_mut(|ib| {
            ib.inner_mut().seL4_X86_IOPort_Out32(self.cap, CONFIG_ADDRESS, u64::from(address))
        });
        assert_eq!(error, 0, "I/O port write refused: system.xml gives the PCI PD no <ioport>");
    }

    fn read(&self, f: Function, offset: u8) -> u32 {
        self.select(f, offset);
        let ret = sel4::with_ipc_buffer_mut(|ib| ib.inner_mut().seL4_X86_IOPort_In32(self.cap, CONFIG_DATA));
        assert_eq!(ret.error, 0, "I/O port read refused");
        ret.result
    }

    fn write(&self, f: Function, offset: u8, value: u32) {
        self.select(f, offset);
        let error = sel4::with_ipc_buffer_mut(|ib| {
            ib.inner_mut().seL4_X86_IOPort_Out32(self.cap, u64::from(CONFIG_DATA), u64::from(value))
        });
        assert_eq!(error, 0, "I/O port write refused");
    }

    /// The function on bus 0 with this vendor and device ID.
    fn find(&self, vendor: u16, device: u16) -> Option<Function> {
        // Bounded: 32 devices of at most 8 functions.
        for d in 0..32u8 {
            for func in 0..8u8 {
                let f = Function { device: d, function: func };
                let id = self.read(f, 0);
                if func == 0 && id == 0xFFFF_FFFF {
                    break; // no device in this slot
                }
                if id & 0xFFFF == u32::from(vendor) && id >> 16 == u32::from(device) {
                    return Some(f);
                }
                // Functions 1..8 exist only on a multi-function device.
                if func == 0 && self.read(f, 0x0C) >> 16 & 0x80 == 0 {
                    break;
                }
            }
        }
        None
    }
}

#[protection_domain]
fn init() -> Pci {
    let mut pci =
        Pci { cap: BASE_IOPORT_CAP + *var!(pci_ioport_id: usize = usize::MAX) as u64, clients: Vec::new() };
    for &(peer, channel) in system::channel::ALL {
        let function = DEVICES.iter().find(|(name, ..)| *name == peer).and_then(|&(_, v, d)| pci.find(v, d));
        match function {
            Some(f) => debug_println!("pci| {peer}: 00:{:02x}.{}", f.device, f.function),
            None => debug_println!("pci| {peer}: no device for it on bus 0"),
        }
        pci.clients.push((channel, function)).expect("at most 8 PCI drivers");
    }
    pci
}

impl Handler for Pci {
    type Error = Infallible;

    fn protected(&mut self, channel: Channel, info: MessageInfo) -> Result<MessageInfo, Self::Error> {
        let function = self.clients.iter().find(|(c, _)| *c == channel.index()).and_then(|(_, f)| *f);
        let response: PciResponse = match (worknode_pd_ipc::receive::<PciRequest>(&info), function) {
            (Err(e), _) => Err(e),
            (Ok(_), None) => Err(ErrorCode::NotFound),
            (Ok(PciRequest::Locate), Some(f)) => {
                Ok(PciReply::Located { bus: 0, device: f.device, function: f.function })
            }
            (Ok(PciRequest::Read { offset } | PciRequest::Write { offset, .. }), _) if offset % 4 != 0 => {
                Err(ErrorCode::Denied)
            }
            (Ok(PciRequest::Read { offset }), Some(f)) => Ok(PciReply::Value { value: self.read(f, offset) }),
            (Ok(PciRequest::Write { offset, value }), Some(f)) => {
                self.write(f, offset, value);
                Ok(PciReply::Written)
            }
        };
        Ok(worknode_pd_ipc::reply(&response))
    }
}
