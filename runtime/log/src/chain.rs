//! The hash chain: every record carries the BLAKE3 hash of the record before
//! it, and the first carries a genesis hash derived from the log's identity.
//!
//! The chain is what makes a log *verifiable*: rewriting, dropping or
//! reordering any acknowledged record changes every hash after it, so
//! `worknode log verify` (and recovery) can name the first record that does
//! not belong. Rejected alternative: SHA-256. Both are fine; BLAKE3 is faster
//! in pure Rust on all three targets and its crate builds without C.

use crate::format::{HEADER_LEN, RecordHeader};

/// A BLAKE3-256 digest.
pub type Hash = [u8; 32];

const GENESIS_DOMAIN: &[u8] = b"worknode-log v1 genesis";

/// The `prev_hash` of record 1 in the log with identity `log_id`.
pub fn genesis(log_id: u64) -> Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(GENESIS_DOMAIN);
    hasher.update(&log_id.to_le_bytes());
    *hasher.finalize().as_bytes()
}

/// The hash of a whole record (its encoded header, checksum included, then
/// its payload): what the next record's `prev_hash` must equal.
pub fn record_hash(header: &RecordHeader, payload: &[u8]) -> Hash {
    let encoded: [u8; HEADER_LEN] = header.encode();
    let mut hasher = blake3::Hasher::new();
    hasher.update(&encoded);
    hasher.update(payload);
    *hasher.finalize().as_bytes()
}
