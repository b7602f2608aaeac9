//! A part of a device as a device of its own: how the host tools and tests
//! see one part of a node's disk (`worknode_abi::disk`), as the driver PD
//! serves it to its owner. On the nodes the driver does this cut itself,
//! per client queue; this is its host-side twin for images and tests.

use core::cell::RefCell;

use crate::device::{BlockDevice, IoError, check_range};

/// Sectors `start..start + sectors` of a device, as a device of their own:
/// sector 0 is the device's sector `start`, and nothing outside the range
/// can be reached through it.
pub struct Partition<D: BlockDevice> {
    dev: D,
    start: u64,
    sectors: u64,
}

impl<D: BlockDevice> Partition<D> {
    /// The range of `dev`, or `OutOfRange` if it does not fit the device.
    pub fn new(dev: D, start: u64, sectors: u64) -> Result<Partition<D>, IoError> {
        match start.checked_add(sectors) {
            Some(end) if end <= dev.sectors() => Ok(Partition { dev, start, sectors }),
            _ => Err(IoError::OutOfRange),
        }
    }

    /// The device back.
    pub fn into_device(self) -> D {
        self.dev
    }
}

impl<D: BlockDevice> BlockDevice for Partition<D> {
    fn sectors(&self) -> u64 {
        self.sectors
    }

    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_range(self.sectors, sector, buf.len())?;
        self.dev.read(self.start + sector, buf)
    }

    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), IoError> {
        check_range(self.sectors, sector, data.len())?;
        self.dev.write(self.start + sector, data)
    }

    fn flush(&mut self) -> Result<(), IoError> {
        self.dev.flush()
    }
}

/// One device, used in turn by the owners of its parts (a test's two logs
/// on one image). A second borrow while one is in progress would be a bug
/// that panics at once rather than interleaving two requests.
impl<D: BlockDevice> BlockDevice for &RefCell<D> {
    fn sectors(&self) -> u64 {
        self.borrow().sectors()
    }

    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.borrow_mut().read(sector, buf)
    }

    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), IoError> {
        self.borrow_mut().write(sector, data)
    }

    fn flush(&mut self) -> Result<(), IoError> {
        self.borrow_mut().flush()
    }
}
