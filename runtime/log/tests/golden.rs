//! Golden encodings of the log format: version 3 superblocks (what this
//! code writes), version 2 and 1 superblocks (still read), and records. A change
//! here is a format change: bump the version, keep reading the old one,
//! and update docs/log-format.md, whose example dumps this test also checks.

use worknode_log::chain::{genesis, record_hash};
use worknode_log::format::{
    Checkpoint, DATA_START, FLAG_JOIN, Owner, RecordHeader, Superblock, VERSION, VERSION_1, VERSION_2,
};

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
        owner: Owner::UNBOUND,
        flags: 0,
    }
}

/// Version 2: records 1..=299 reclaimed (the anchor: record 300 at sector
/// 1000, after a record whose hash is 0x11 repeated), checkpoint at record
/// 500 in sector 1500 (after 0x22 repeated).
fn golden_superblock_v2() -> Superblock {
    Superblock {
        version: VERSION_2,
        generation: 9,
        checkpoint: Checkpoint { next_seq: 500, sector: 1500, prev_hash: [0x22; 32] },
        tail: Checkpoint { next_seq: 300, sector: 1000, prev_hash: [0x11; 32] },
        ..golden_superblock_v1()
    }
}

/// Version 3: version 2's example, owned by node 2 of the cluster named
/// "dev" (`3c9a7eae09dbe3f9`).
fn golden_superblock() -> Superblock {
    Superblock {
        version: VERSION,
        owner: Owner { cluster: 0x3c9a_7eae_09db_e3f9, node: 2 },
        ..golden_superblock_v2()
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

const SUPERBLOCK_V2: &str = "\
574e4f44454c4f470200010000020000efcdab89674523010800000000000000
f80700000000000080000000000400000900000000000000f401000000000000
dc05000000000000222222222222222222222222222222222222222222222222
22222222222222222c01000000000000e8030000000000001111111111111111
11111111111111111111111111111111111111111111111120b2603e";

const SUPERBLOCK: &str = "\
574e4f44454c4f470300010000020000efcdab89674523010800000000000000
f80700000000000080000000000400000900000000000000f401000000000000
dc05000000000000222222222222222222222222222222222222222222222222
22222222222222222c01000000000000e8030000000000001111111111111111
111111111111111111111111111111111111111111111111f9e3db09ae7e9a3c
020000005d8dc248";

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
    assert_eq!(dump(&sector[..168]), SUPERBLOCK);
    assert!(sector[168..].iter().all(|&b| b == 0));
    assert_eq!(Superblock::decode(&sector, 1).unwrap(), golden_superblock());
    assert!(doc().contains(SUPERBLOCK), "docs/log-format.md does not show the golden superblock");
}

#[test]
fn version_2_superblocks_still_read() {
    let sector = golden_superblock_v2().encode();
    assert_eq!(dump(&sector[..156]), SUPERBLOCK_V2);
    assert!(sector[156..].iter().all(|&b| b == 0));
    let decoded = Superblock::decode(&sector, 1).unwrap();
    assert_eq!(decoded, golden_superblock_v2());
    assert!(decoded.is_ring() && decoded.owner == Owner::UNBOUND, "a ring of no owner");
    assert!(doc().contains(SUPERBLOCK_V2), "docs/log-format.md does not show the version 2 superblock");
}

#[test]
fn the_join_flag_is_bit_0_of_bytes_162_163() {
    let join = Superblock { flags: FLAG_JOIN, ..golden_superblock() };
    let sector = join.encode();
    assert_eq!(sector[162..164], [1, 0]);
    assert_eq!(Superblock::decode(&sector, 1).unwrap(), join);
}

#[test]
fn unknown_flags_are_refused() {
    let mut sector = golden_superblock().encode();
    sector[163] = 1;
    let crc = worknode_log::format::crc32c(&[&sector[..164]]);
    sector[164..168].copy_from_slice(&crc.to_le_bytes());
    assert!(Superblock::decode(&sector, 1).is_err());
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
