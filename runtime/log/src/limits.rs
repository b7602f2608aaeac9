//! Every capacity and period of the event log as the log PD runs it, in
//! one place, with how they relate checked at compile time.

use crate::format::{HEADER_LEN, MAX_PAYLOAD, SECTOR};

/// The batch buffer of the log PD (and of the log benchmark): the most one
/// group commit writes at once, and so the volume's `max_batch_sectors`.
pub const BATCH: usize = 16 * 1024;

/// Commits between checkpoints: bounds the part of the log recovery scans.
pub const CHECKPOINT_EVERY: u32 = 64;

/// Sectors of the ring kept free for the principal's stops
/// (`LogRequest::AppendReserved`): 64 one-sector records.
pub const RESERVE_SECTORS: u64 = 64;

/// Sectors the scanner reads per device request.
pub const SCAN_CACHE_SECTORS: usize = 8;

/// Batch start positions the sparse read index keeps.
pub const INDEX_ENTRIES: usize = 64;

const _: () = assert!(BATCH.is_multiple_of(SECTOR), "a batch is whole sectors");
const _: () = assert!(BATCH >= HEADER_LEN + MAX_PAYLOAD + SECTOR, "the largest record fits a batch");
const _: () =
    assert!(RESERVE_SECTORS * (SECTOR as u64) >= 2 * (BATCH as u64), "the reserve holds two full batches");
