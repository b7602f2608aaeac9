//! Golden encodings of the log format: version 2 superblocks (what this
//! code writes), version 1 superblocks (still read), and records. A change
//! here is a format change: bump the version, keep reading the old one,
//! and update docs/log-format.md, whose example dumps this test also checks.

use worknode_log::chain::{genesis, record_hash};
use worknode_log::format::{Checkpoint, DATA_START, RecordHeader, Superblock, VERSION, VERSION_1};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex in 32-byte lines, as docs/log-format.md shows it.
fn dump(bytes: &[u8]) -> String {
    bytes.chunks(32).map(hex).collect::<Vec<_>>().join("\n")
}

/// Version 1: checkpoint at record 1, no tail anchor (implied: record 1).
fn golden_superblock_v1() -> Superblock {
    let origin = Checkpoint { next_seq: 1, sector: DATA_START, prev_hash: genesis(0x0123_4567_89ab_cdef) };
    Superblock {
        version: VERSION_1,
        slot: 1,
        log_id: 0x0123_4567_89ab_cdef,
        data_start: DATA_START,
        data_sectors: 2040,
        max_batch_sectors: 128,
        max_payload: 1024,
        generation: 2,
        checkpoint: origin,
        tail: origin,
    }
}

/// Version 2: records 1..=299 reclaimed (the anchor: record 300 at sector
/// 1000, after a record whose hash is 0x11 repeated), checkpoint at record
/// 500 in sector 1500 (after 0x22 repeated).
fn golden_superblock() -> Superblock {
    Superblock {
        version: VERSION,
        generation: 9,
        checkpoint: Checkpoint { next_seq: 500, sector: 1500, prev_hash: [0x22; 32] },
        tail: Checkpoint { next_seq: 300, sector: 1000, prev_hash: [0x11; 32] },
        ..golden_superblock_v1()
    }
}

fn golden_record() -> (RecordHeader, &'static [u8]) {
    let payload: &[u8] = b"hello";
    let mut header = RecordHeader {
        len: payload.len() as u32,
        crc: 0,
        log_id: 0x0123_4567_89ab_cdef,
        seq: 1,
        batch_first_seq: 1,
        prev_hash: genesis(0x0123_4567_89ab_cdef),
    };
    header.crc = header.compute_crc(payload);
    (header, payload)
}

const SUPERBLOCK_V1: &str = "\
574e4f44454c4f470100010000020000efcdab89674523010800000000000000
f807000000000000800000000004000002000000000000000100000000000000
0800000000000000d8dd48dc39a8235f33259ea17530354efc348132b52c628a
2afbfeb22abe372a3006a97f";

const SUPERBLOCK: &str = "\
574e4f44454c4f470200010000020000efcdab89674523010800000000000000
f80700000000000080000000000400000900000000000000f401000000000000
dc05000000000000222222222222222222222222222222222222222222222222
22222222222222222c01000000000000e8030000000000001111111111111111
11111111111111111111111111111111111111111111111120b2603e";

const RECORD: &str = "\
574e4c52010000000500000067b54961efcdab89674523010100000000000000
0100000000000000d8dd48dc39a8235f33259ea17530354efc348132b52c628a
2afbfeb22abe372a68656c6c6f";

const RECORD_HASH: &str = "29e58395485592813d343c8c4a5ae50d912de1307f1a35bf4ee1ed105030cf0b";

fn doc() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/log-format.md")).unwrap()
}

#[test]
fn checksum_is_crc32c() {
    // The CRC-32C check value from the CRC catalogue.
    assert_eq!(worknode_log::format::crc32c(&[b"1234", b"56789"]), 0xe306_9283);
}

#[test]
fn superblock_encoding_is_stable() {
    let sector = golden_superblock().encode();
    assert_eq!(dump(&sector[..156]), SUPERBLOCK);
    assert!(sector[156..].iter().all(|&b| b == 0));
    assert_eq!(Superblock::decode(&sector, 1).unwrap(), golden_superblock());
    assert!(doc().contains(SUPERBLOCK), "docs/log-format.md does not show the golden superblock");
}

#[test]
fn version_1_superblocks_still_read() {
    let sector = golden_superblock_v1().encode();
    assert_eq!(dump(&sector[..108]), SUPERBLOCK_V1);
    assert!(sector[108..].iter().all(|&b| b == 0));
    let decoded = Superblock::decode(&sector, 1).unwrap();
    assert_eq!(decoded, golden_superblock_v1());
    assert!(!decoded.is_ring(), "a version 1 log never wraps");
    assert!(doc().contains(SUPERBLOCK_V1), "docs/log-format.md does not show the version 1 superblock");
}

#[test]
fn record_encoding_is_stable() {
    let (header, payload) = golden_record();
    let mut bytes = header.encode().to_vec();
    bytes.extend_from_slice(payload);
    assert_eq!(dump(&bytes), RECORD);
    assert_eq!(hex(&record_hash(&header, payload)), RECORD_HASH);
    assert!(doc().contains(RECORD), "docs/log-format.md does not show the golden record");
    assert!(doc().contains(RECORD_HASH), "docs/log-format.md does not show the golden record hash");
}
