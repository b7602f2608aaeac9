//! Fuzzes the record header decoder with untrusted bytes.
//!
//! Checks: no panic; a header that decodes re-encodes to the same 72 bytes
//! (one encoding per header); the checksum check never panics on any
//! payload.

#![no_main]

use libfuzzer_sys::fuzz_target;
use worknode_log::format::{HEADER_LEN, MAX_PAYLOAD, RecordHeader};

fuzz_target!(|data: &[u8]| {
    if data.len() < HEADER_LEN {
        return;
    }
    let raw: [u8; HEADER_LEN] = data[..HEADER_LEN].try_into().unwrap();
    if let Ok(header) = RecordHeader::decode(&raw) {
        assert_eq!(header.encode(), raw, "non-canonical record header accepted");
        assert!(header.len as usize <= MAX_PAYLOAD);
        let _ = header.crc_matches(&data[HEADER_LEN..]);
    }
});
