//! The PCI PD's protected procedure (x86_64): configuration space for the
//! drivers of PCI devices (drivers/pci).
//!
//! PCI configuration mechanism #1 is one pair of I/O ports for every
//! device, and seL4 issues an I/O port range to one PD only, so one PD
//! owns them and serves the drivers. Each driver reaches exactly one
//! device function, the one system.xml's PCI table gives its channel
//! (drivers/pci): it asks where that is ([`PciRequest::Locate`]), then
//! reads and writes that function's configuration dwords, and nothing
//! else.
//!
//! Errors: `not-found` (the device is not on bus 0), `denied` (an offset
//! that is not a dword of the 256-byte configuration space), `malformed`.
//!
//! Variants are only ever appended: their position is their wire tag.

use serde::{Deserialize, Serialize};

use crate::ErrorCode;

/// What a driver asks of the PCI PD.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PciRequest {
    /// Where this driver's device function is.
    Locate,
    /// Read the configuration dword at `offset` (a multiple of 4, < 256).
    Read {
        /// Byte offset in the configuration space.
        offset: u8,
    },
    /// Write the configuration dword at `offset`.
    Write {
        /// Byte offset in the configuration space.
        offset: u8,
        /// The dword.
        value: u32,
    },
}

/// A successful answer from the PCI PD.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PciReply {
    /// Answer to `Locate`.
    Located {
        /// Bus number.
        bus: u8,
        /// Device number.
        device: u8,
        /// Function number.
        function: u8,
    },
    /// Answer to `Read`.
    Value {
        /// The dword read.
        value: u32,
    },
    /// Answer to `Write`.
    Written,
}

/// What the PCI PD sends back for every call.
pub type PciResponse = Result<PciReply, ErrorCode>;
