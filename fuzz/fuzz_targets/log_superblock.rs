//! Fuzzes the superblock parser with untrusted sectors.
//!
//! Checks: no panic; an accepted superblock re-encodes to the same sector
//! and has a geometry whose arithmetic cannot overflow.

#![no_main]

use libfuzzer_sys::fuzz_target;
use worknode_log::format::{SECTOR, Superblock};

fuzz_target!(|data: &[u8]| {
    let mut sector = [0u8; SECTOR];
    let n = data.len().min(SECTOR);
    sector[..n].copy_from_slice(&data[..n]);
    for slot in 0..2 {
        if let Ok(sb) = Superblock::decode(&sector, slot) {
            assert_eq!(sb.encode(), sector, "non-canonical superblock accepted");
            assert!(sb.data_start.checked_add(sb.data_sectors).is_some());
        }
    }
});
