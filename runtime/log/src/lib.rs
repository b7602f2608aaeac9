//! Worknode's event log: crash-consistent, hash-chained, sans IO.
//!
//! The log is written against the [`BlockDevice`] trait and knows nothing of
//! virtio, files or PDs. Its on-disk format ([`format`]) is a stable
//! boundary, described for users in docs/log-format.md together with the
//! storage fault model: what recovery does about torn writes, bit flips,
//! misdirected writes and lost writes.
//!
//! - [`Log::append`] hands out sequence numbers into an in-memory batch;
//!   [`Log::commit`] writes the batch with one write and one flush (group
//!   commit); only then are its records acknowledged.
//! - [`Log::open`] recovers: newest valid superblock, scan from its
//!   checkpoint, stop at the first record that fails any check, and refuse
//!   (instead of truncating) when a later intact batch proves the failed
//!   record had been acknowledged.
//! - [`scan`] walks the log for reads, replay and verification.
//! - [`partition`]: one part of a disk (`worknode_abi::disk`) as a device.
//! - [`service`] is the log PD's logic: start (recover, format or refuse
//!   the disk) and the governor's requests.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(feature = "sim")]
extern crate alloc;

pub mod chain;
pub mod device;
pub mod format;
pub mod index;
pub mod limits;
mod log;
pub mod partition;
pub mod scan;
pub mod service;
#[cfg(feature = "sim")]
pub mod sim;

pub use crate::device::{BlockDevice, IoError, SliceDevice};
pub use crate::log::{
    DamageKind, Log, LogError, Recovery, Room, derive_log_id, geometry, origin, read_superblock, scan_to_end,
};
