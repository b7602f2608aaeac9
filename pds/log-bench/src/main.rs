//! The `make bench-log` workload, in the bench profile only: the driver's
//! client instead of the log PD, it runs two phases back to back in one
//! boot and marks each on the console; `worknode-qemu bench` times the
//! marks on the host and prints `log_vs_raw`.
//!
//! 1. raw: [`RECORDS`] sequential writes of one record's size (one sector)
//!    to the upper half of the disk, each waited for, then one flush;
//! 2. log: the same number of records appended to a `worknode-log` log on
//!    the lower half, committed every [`GROUP`] appends (group commit: one
//!    batch write and one flush per commit), each commit waited for.
//!
//! Both phases use the same driver, queue and wait path as the log PD
//! (`drivers/blk-client`), so the ratio isolates what the log adds and what
//! group commit saves. The governor-to-log call is not in the loop.
//! Timing happens on the host because no counter is readable from user
//! mode on every board (aarch64 traps the virtual counter).

#![no_std]
#![no_main]

use sel4_microkit::{Channel, ChannelSet, Handler, Infallible, debug_println, protection_domain};
use worknode_driver_blk_client::QueueDisk;
use worknode_log::format::SECTOR;
use worknode_log::limits::BATCH;
use worknode_log::{BlockDevice, IoError, Log};

mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

const DRIVER: Channel = Channel::new(system::channel::BLK);
/// Records per phase.
const RECORDS: u64 = 2000;
/// Payload bytes per record: a typical audit event.
const PAYLOAD: usize = 128;
/// Appends per commit.
const GROUP: u64 = 64;

/// The lower `sectors` sectors of a device.
struct Window<'a> {
    disk: &'a mut QueueDisk,
    sectors: u64,
}

impl BlockDevice for Window<'_> {
    fn sectors(&self) -> u64 {
        self.sectors
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        worknode_log::device::check_range(self.sectors, sector, buf.len())?;
        self.disk.read(sector, buf)
    }
    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), IoError> {
        worknode_log::device::check_range(self.sectors, sector, data.len())?;
        self.disk.write(sector, data)
    }
    fn flush(&mut self) -> Result<(), IoError> {
        self.disk.flush()
    }
}

fn raw_phase(disk: &mut QueueDisk, first: u64) -> Result<(), IoError> {
    let sector = [0x5Au8; SECTOR];
    debug_println!(
        "log_bench| raw begin records={RECORDS} bytes={}",
        worknode_log::format::HEADER_LEN + PAYLOAD
    );
    for i in 0..RECORDS {
        disk.write(first + i, &sector)?;
    }
    disk.flush()?;
    debug_println!("log_bench| raw end");
    Ok(())
}

fn log_phase(disk: &mut QueueDisk, sectors: u64) -> Result<u64, worknode_log::LogError> {
    let window = Window { disk, sectors };
    let mut log = Log::<_, BATCH>::format_over(window, 0xBE4C)?;
    let payload = [0xA5u8; PAYLOAD];
    debug_println!("log_bench| log begin records={RECORDS} group={GROUP}");
    for i in 1..=RECORDS {
        log.append(&payload)?;
        if i % GROUP == 0 {
            log.commit()?;
        }
    }
    let durable = log.commit()?;
    debug_println!("log_bench| log end durable={durable}");
    Ok(durable)
}

#[protection_domain]
fn init() -> Bench {
    let mut disk = QueueDisk::from_system(DRIVER);
    let half = disk.sectors() / 2;
    if let Err(e) = raw_phase(&mut disk, half) {
        panic!("raw phase failed: {e:?}");
    }
    if let Err(e) = log_phase(&mut disk, half) {
        panic!("log phase failed: {e:?}");
    }
    Bench
}

struct Bench;

impl Handler for Bench {
    type Error = Infallible;

    fn notified(&mut self, _channels: ChannelSet) -> Result<(), Self::Error> {
        Ok(())
    }
}
