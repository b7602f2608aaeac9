//! The client side of the block driver protocol (`runtime/blkq`), for the
//! PDs that use a disk (the log PD, the log benchmark): a
//! [`BlockDevice`] whose requests go through the shared queue page to the
//! driver PD and whose data moves through the shared data region.
//!
//! Each call waits for its own response before returning, which is what
//! [`BlockDevice`] asks. Waiting is `seL4_Wait` on this PD's input endpoint
//! *without* a reply object, so a protected call being served (the
//! governor's, waiting for durability) keeps its reply capability. That is
//! sound because the only PD that calls a disk's client is blocked in that
//! very call, and the only PD that notifies it is the driver: a
//! notification consumed here has no other meaning the event loop could
//! miss.
//!
//! The data region is memory the device reads and writes by DMA behind the
//! compiler's back, so it is never a Rust reference here (a `&mut [u8]`
//! would promise the compiler nothing else changes it): [`SharedRegion`]
//! copies in and out through raw pointers, and the queue's release and
//! acquire orderings put the copies before the request and after the
//! response.

#![no_std]

use core::sync::atomic::AtomicU64;

use sel4_microkit::Channel;
use worknode_blkq::{Op, Queue, Request, Status};
use worknode_log::format::SECTOR;
use worknode_log::{BlockDevice, IoError};

const IS_ENDPOINT_BADGE_BIT: u64 = 1 << 63;

pub use worknode_driver_shared_region::SharedRegion;

/// The driver, seen as a block device.
pub struct QueueDisk {
    queue: Queue<'static>,
    data: SharedRegion,
    driver: Channel,
    sectors: u64,
    next_id: u32,
    /// Flushes asked for (the bite check's broken log counts them).
    #[cfg_attr(not(feature = "bite-unflushed"), allow(dead_code))]
    flushes: u64,
}

impl QueueDisk {
    /// The disk as system.xml gives it to the driver's client: the shared
    /// queue page and data region at the addresses Microkit patched into
    /// `queue_vaddr`, `data_vaddr` and `data_size`.
    pub fn from_system(driver: Channel) -> QueueDisk {
        let queue_vaddr = *sel4_microkit::var!(queue_vaddr: usize = 0);
        let data_vaddr = *sel4_microkit::var!(data_vaddr: usize = 0);
        let data_size = *sel4_microkit::var!(data_size: usize = 0);
        // SAFETY: the queue page is mapped read-write here and in the driver
        // only (system.xml), is 4 KiB and page-aligned, and both sides access
        // it only through these atomics.
        let words =
            unsafe { core::slice::from_raw_parts(queue_vaddr as *const AtomicU64, worknode_blkq::WORDS) };
        // SAFETY: the data region is mapped read-write here and in the
        // driver only (system.xml), and this is the one value over it in
        // this PD (called once, at init).
        let data = unsafe { SharedRegion::new(data_vaddr, data_size) };
        QueueDisk::new(words, data, driver)
    }

    /// Initialises the shared queue page, then waits until the driver has
    /// published the disk's size (it notifies us when it has).
    pub fn new(words: &'static [AtomicU64], data: SharedRegion, driver: Channel) -> QueueDisk {
        let queue = Queue::init(words).expect("block queue page too small");
        // Bounded by the driver's start-up: it publishes once, then notifies.
        let sectors = loop {
            if let Some(sectors) = worknode_blkq::capacity(words) {
                break sectors;
            }
            wait_for_driver();
        };
        QueueDisk { queue, data, driver, sectors, next_id: 0, flushes: 0 }
    }

    /// Sends one request and waits for its response.
    fn submit(&mut self, op: Op, sector: u64, count: u32) -> Result<(), IoError> {
        self.next_id = self.next_id.wrapping_add(1);
        let request = Request { id: self.next_id, op, sector, count, offset: 0 };
        // Back-pressure: the ring is never full with one request in flight,
        // but a full ring means wait for the driver, not drop.
        while self.queue.push_request(&request).is_err() {
            self.driver.notify();
            wait_for_driver();
        }
        self.driver.notify();
        loop {
            if let Some(response) = self.queue.pop_response() {
                if response.id != request.id {
                    // A response to an earlier request we gave up on cannot
                    // exist (we never give up); treat it as a device fault.
                    return Err(IoError::Device);
                }
                return match response.status {
                    Status::Ok => Ok(()),
                    Status::Unsupported => Err(IoError::NoFlush),
                    Status::Invalid => Err(IoError::OutOfRange),
                    Status::DeviceError => Err(IoError::Device),
                };
            }
            wait_for_driver();
        }
    }

    fn chunk(&self) -> usize {
        self.data.len() / SECTOR * SECTOR
    }
}

impl BlockDevice for QueueDisk {
    fn sectors(&self) -> u64 {
        self.sectors
    }

    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        worknode_log::device::check_range(self.sectors, sector, buf.len())?;
        let chunk = self.chunk();
        for (i, part) in buf.chunks_mut(chunk).enumerate() {
            let at = sector + (i * chunk / SECTOR) as u64;
            self.submit(Op::Read, at, (part.len() / SECTOR) as u32)?;
            self.data.copy_out(0, part);
        }
        Ok(())
    }

    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), IoError> {
        worknode_log::device::check_range(self.sectors, sector, data.len())?;
        let chunk = self.chunk();
        for (i, part) in data.chunks(chunk).enumerate() {
            let at = sector + (i * chunk / SECTOR) as u64;
            self.data.copy_in(0, part);
            self.submit(Op::Write, at, (part.len() / SECTOR) as u32)?;
        }
        Ok(())
    }

    #[cfg(not(feature = "bite-unflushed"))]
    fn flush(&mut self) -> Result<(), IoError> {
        self.submit(Op::Flush, 0, 0)
    }

    /// The bite check's broken log: it flushes while the log is formatted
    /// and recovered (the first two flushes of a boot), then acknowledges
    /// every record without a flush.
    #[cfg(feature = "bite-unflushed")]
    fn flush(&mut self) -> Result<(), IoError> {
        self.flushes += 1;
        if self.flushes <= 2 { self.submit(Op::Flush, 0, 0) } else { Ok(()) }
    }
}

/// Blocks until the driver notifies us.
fn wait_for_driver() {
    let input = sel4::cap::Notification::from_bits(1);
    let (_, badge) = input.wait();
    assert!(badge & IS_ENDPOINT_BADGE_BIT == 0, "a protected call arrived while waiting for the disk");
}
