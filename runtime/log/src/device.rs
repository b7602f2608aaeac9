//! The block-device interface the log is written against.
//!
//! The log never sees a virtqueue, a file or a fault injector; it sees this
//! trait. The log PD implements it over the virtio-blk driver's shared rings,
//! the CLI over a disk-image file, the tests over memory with injected faults.
//! Rejected alternative: a fully event-driven (poll/complete) interface. The
//! log issues one batch write and one flush at a time, and its only caller
//! waits for durability anyway, so a blocking trait loses no concurrency and
//! keeps recovery a plain loop that is easy to bound and to reason about.

use crate::format::SECTOR;

/// A device failure. The log does not try to interpret it: after a failed
/// write or flush the on-disk state is unknown, so the log refuses further
/// appends until it is reopened (recovery then decides what is there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoError {
    /// The request addressed sectors beyond the device.
    OutOfRange,
    /// The device reported an error.
    Device,
    /// The device does not support flushes, so nothing could be made durable.
    NoFlush,
}

/// A device of 512-byte sectors. Buffers are whole sectors.
pub trait BlockDevice {
    /// Number of sectors.
    fn sectors(&self) -> u64;
    /// Reads `buf.len() / 512` sectors starting at `sector`.
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError>;
    /// Writes `data.len() / 512` sectors starting at `sector`. Returns when
    /// the device has completed the write; it is durable only after a
    /// following [`BlockDevice::flush`] completes.
    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), IoError>;
    /// Makes every completed write durable.
    fn flush(&mut self) -> Result<(), IoError>;
}

/// Checks that `len` bytes starting at `sector` are whole sectors on a device
/// of `sectors` sectors. Shared by the device implementations.
pub fn check_range(sectors: u64, sector: u64, len: usize) -> Result<(), IoError> {
    if len == 0 || !len.is_multiple_of(SECTOR) {
        return Err(IoError::OutOfRange);
    }
    let count = (len / SECTOR) as u64;
    match sector.checked_add(count) {
        Some(end) if end <= sectors => Ok(()),
        _ => Err(IoError::OutOfRange),
    }
}

/// A device over a byte slice (whole sectors), with flushes that always
/// succeed: for tools that read an image already in memory, for tests and
/// for fuzzing. Trailing bytes short of a sector are ignored.
pub struct SliceDevice<'a>(pub &'a mut [u8]);

impl BlockDevice for SliceDevice<'_> {
    fn sectors(&self) -> u64 {
        (self.0.len() / SECTOR) as u64
    }

    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_range(self.sectors(), sector, buf.len())?;
        let at = sector as usize * SECTOR;
        buf.copy_from_slice(&self.0[at..at + buf.len()]);
        Ok(())
    }

    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), IoError> {
        check_range(self.sectors(), sector, data.len())?;
        let at = sector as usize * SECTOR;
        self.0[at..at + data.len()].copy_from_slice(data);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), IoError> {
        Ok(())
    }
}
