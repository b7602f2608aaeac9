//! Golden encodings of the Raft wire messages and storage records: the
//! stable boundary between nodes (possibly of different versions) and
//! between a node and its own disk. Changing a byte here is a breaking
//! change and needs a new WIRE_VERSION / RECORD_VERSION. docs/raft.md shows
//! the same bytes; `docs_show_the_goldens` keeps them in step.

use proptest::prelude::*;
use worknode_log::format::MAX_PAYLOAD;
use worknode_raft::limits::{
    APPEND_OVERHEAD, CHUNK_OVERHEAD, ENTRY_OVERHEAD, MAX_DATA, MAX_NODES, SNAPSHOT_CHUNK,
};
use worknode_raft::message::{DecodeError, MAX_WIRE, WIRE_VERSION};
use worknode_raft::storage::{RECORD_VERSION, Record};
use worknode_raft::{
    Body, ConfChange, Entry, EntryKind, HardState, Membership, Message, Snapshot, SnapshotMeta,
};

fn encode(m: &Message) -> Vec<u8> {
    let mut buf = [0u8; MAX_WIRE];
    m.encode(&mut buf).unwrap().to_vec()
}

fn msg(body: Body<'_>) -> Message<'_> {
    Message { from: 1, to: 2, term: 5, body }
}

fn entry(index: u64, data: &[u8]) -> Entry<'_> {
    Entry { term: 5, index, kind: EntryKind::Normal, data }
}

/// Each golden starts with the version byte, 2.
fn message_goldens() -> Vec<(&'static str, Message<'static>, Vec<u8>)> {
    let mut entries = heapless::Vec::new();
    entries.push(entry(8, b"hi")).unwrap();
    let meta = SnapshotMeta { index: 9, term: 4, membership: Membership::with_voters(&[1, 2, 3]).unwrap() };
    vec![
        ("PreVote", msg(Body::PreVote { last_index: 7, last_term: 4 }), vec![3, 1, 2, 5, 0, 7, 4]),
        ("PreVoteResp", msg(Body::PreVoteResp { reject: true }), vec![3, 1, 2, 5, 1, 1]),
        (
            "Vote",
            msg(Body::Vote { last_index: 7, last_term: 4, transfer: false }),
            vec![3, 1, 2, 5, 2, 7, 4, 0],
        ),
        ("VoteResp", msg(Body::VoteResp { reject: false }), vec![3, 1, 2, 5, 3, 0]),
        (
            "Append",
            msg(Body::Append { prev_index: 7, prev_term: 4, commit: 6, entries }),
            vec![3, 1, 2, 5, 4, 7, 4, 6, 1, 5, 8, 0, 2, b'h', b'i'],
        ),
        (
            "AppendResp",
            msg(Body::AppendResp { reject: true, index: 9, hint_index: 7, hint_term: 4 }),
            vec![3, 1, 2, 5, 5, 1, 9, 7, 4],
        ),
        ("Heartbeat", msg(Body::Heartbeat { commit: 6, read: 300 }), vec![3, 1, 2, 5, 6, 6, 0xAC, 0x02]),
        ("HeartbeatResp", msg(Body::HeartbeatResp { read: 300 }), vec![3, 1, 2, 5, 7, 0xAC, 0x02]),
        (
            "InstallSnapshot",
            msg(Body::InstallSnapshot { meta, len: 2, offset: 0, data: b"kv" }),
            vec![3, 1, 2, 5, 8, 9, 4, 3, 1, 2, 3, 0, 2, 0, 2, b'k', b'v'],
        ),
        ("TimeoutNow", msg(Body::TimeoutNow), vec![3, 1, 2, 5, 9]),
        (
            "SnapshotResp",
            msg(Body::SnapshotResp { index: 9, next: 736 }),
            vec![3, 1, 2, 5, 10, 9, 0xE0, 0x05],
        ),
    ]
}

#[test]
fn messages_encode_as_pinned() {
    assert_eq!(WIRE_VERSION, 3);
    for (name, m, bytes) in message_goldens() {
        assert_eq!(encode(&m), bytes, "{name}");
        assert_eq!(Message::decode(&bytes), Ok(m), "{name}");
    }
}

#[test]
fn data_beyond_the_limits_is_refused() {
    let big = [0u8; MAX_DATA + 1];
    let mut entries = heapless::Vec::new();
    entries.push(entry(8, &big)).unwrap();
    let m = msg(Body::Append { prev_index: 7, prev_term: 4, commit: 6, entries });
    assert_eq!(Message::decode(&encode(&m)), Err(DecodeError::TooLarge));
    // A chunk that is not where a chunk starts, or not as long as a chunk
    // there must be.
    let meta = SnapshotMeta { index: 9, term: 4, membership: Membership::with_voters(&[1]).unwrap() };
    let len = 2 * SNAPSHOT_CHUNK as u64;
    let chunk = [0u8; SNAPSHOT_CHUNK];
    for (offset, data) in [(1, &chunk[..]), (0, &chunk[..10]), (len, &chunk[..0])] {
        let m = msg(Body::InstallSnapshot { meta: meta.clone(), len, offset, data });
        assert_eq!(Message::decode(&encode(&m)), Err(DecodeError::TooLarge), "offset {offset}");
    }
    let m = msg(Body::InstallSnapshot { meta, len, offset: SNAPSHOT_CHUNK as u64, data: &chunk });
    assert!(Message::decode(&encode(&m)).is_ok());
    assert_eq!(DecodeError::TooLarge.code(), worknode_abi::ErrorCode::TooLarge);
    let mut buf = [0u8; MAX_PAYLOAD];
    let mut entries = heapless::Vec::new();
    entries.push(entry(8, &big)).unwrap();
    let record = Record::Entries(entries);
    let bytes = record.encode(&mut buf).to_vec();
    assert_eq!(Record::decode(&bytes), None, "an entry beyond MAX_DATA on disk");
}

#[test]
fn bad_bytes_are_refused_with_a_reason() {
    let good = encode(&msg(Body::Heartbeat { commit: 6, read: 300 }));
    assert_eq!(Message::decode(&[]), Err(DecodeError::Empty));
    assert_eq!(Message::decode(&[1, 1, 2, 5, 9]), Err(DecodeError::Version(1)));
    assert_eq!(Message::decode(&[2, 1, 2, 5, 9]), Err(DecodeError::Version(2)), "896-byte chunks");
    for cut in 1..good.len() {
        assert_eq!(Message::decode(&good[..cut]), Err(DecodeError::Malformed), "prefix of {cut} bytes");
    }
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(Message::decode(&trailing), Err(DecodeError::Malformed));
    // An overlong varint (term 5 as two bytes) is a second encoding: refused.
    assert_eq!(Message::decode(&[3, 1, 2, 0x85, 0x00, 9]), Err(DecodeError::Malformed));
    assert_eq!(Record::decode(&[3, 0, 0x85, 0x00, 0, 7]), None);
    // Unknown body kind.
    assert_eq!(Message::decode(&[3, 1, 2, 5, 11]), Err(DecodeError::Malformed));
    // More entries than an append may carry.
    let mut many = vec![3, 1, 2, 5, 4, 0, 0, 0, 33];
    for i in 0..33u8 {
        many.extend([5, i + 1, 0, 0]);
    }
    assert_eq!(Message::decode(&many), Err(DecodeError::Malformed));
    assert_eq!(DecodeError::Version(9).code(), worknode_abi::ErrorCode::UnsupportedVersion);
    assert_eq!(DecodeError::Malformed.code(), worknode_abi::ErrorCode::Malformed);
}

/// The overheads in `limits.rs` are upper bounds: an append of one full
/// entry and a full chunk, with every number at its longest, fit them, and
/// the records fit a log record.
#[test]
fn the_largest_messages_fit_the_stated_overheads() {
    let full = [0xFF; MAX_DATA];
    let mut entries = heapless::Vec::new();
    entries
        .push(Entry { term: u64::MAX, index: u64::MAX, kind: EntryKind::ConfChange, data: &full })
        .unwrap();
    let m = Message {
        from: u64::MAX,
        to: u64::MAX,
        term: u64::MAX,
        body: Body::Append { prev_index: u64::MAX, prev_term: u64::MAX, commit: u64::MAX, entries },
    };
    assert!(encode(&m).len() <= APPEND_OVERHEAD + ENTRY_OVERHEAD + MAX_DATA);
    let mut voters = heapless::Vec::new();
    for i in 0..MAX_NODES as u64 {
        voters.push(u64::MAX - i).unwrap();
    }
    let meta = SnapshotMeta {
        index: u64::MAX,
        term: u64::MAX,
        membership: Membership { voters, learners: heapless::Vec::new() },
    };
    let chunk = [0xFF; SNAPSHOT_CHUNK];
    let offset = u64::MAX - u64::MAX % SNAPSHOT_CHUNK as u64 - SNAPSHOT_CHUNK as u64;
    let body = Body::InstallSnapshot { meta: meta.clone(), len: u64::MAX, offset, data: &chunk };
    let encoded = encode(&Message { body, ..m });
    assert!(encoded.len() <= CHUNK_OVERHEAD + SNAPSHOT_CHUNK, "{} bytes", encoded.len());
    let mut buf = [0u8; MAX_PAYLOAD];
    let record = Record::Chunk { index: u64::MAX, term: u64::MAX, offset, data: &chunk };
    assert!(record.encode(&mut buf).len() <= MAX_PAYLOAD);
    let record = Record::Snapshot(Snapshot { meta, len: u64::MAX });
    assert!(record.encode(&mut buf).len() <= MAX_PAYLOAD);
}

fn record_goldens() -> Vec<(&'static str, Record<'static>, Vec<u8>)> {
    let mut buf = [0u8; 8];
    let change = postcard::to_slice(&ConfChange::AddLearner(4), &mut buf).unwrap();
    assert_eq!(change, [0, 4]);
    let mut entries = heapless::Vec::new();
    entries.push(entry(8, b"hi")).unwrap();
    entries.push(Entry { term: 5, index: 9, kind: EntryKind::ConfChange, data: &[0, 4] }).unwrap();
    let meta = SnapshotMeta { index: 9, term: 4, membership: Membership::with_voters(&[1]).unwrap() };
    vec![
        (
            "HardState",
            Record::HardState(HardState { term: 5, vote: Some(2), commit: 7 }),
            vec![3, 0, 5, 1, 2, 7],
        ),
        (
            "HardState (no vote)",
            Record::HardState(HardState { term: 5, vote: None, commit: 7 }),
            vec![3, 0, 5, 0, 7],
        ),
        ("Entries", Record::Entries(entries), vec![3, 1, 2, 5, 8, 0, 2, b'h', b'i', 5, 9, 1, 2, 0, 4]),
        ("Snapshot", Record::Snapshot(Snapshot { meta, len: 1 }), vec![3, 2, 9, 4, 1, 1, 0, 1]),
        ("Chunk", Record::Chunk { index: 9, term: 4, offset: 0, data: b"s" }, vec![3, 3, 9, 4, 0, 1, b's']),
    ]
}

#[test]
fn records_encode_as_pinned() {
    assert_eq!(RECORD_VERSION, 3);
    for (name, record, bytes) in record_goldens() {
        let mut buf = [0u8; MAX_PAYLOAD];
        assert_eq!(record.encode(&mut buf), bytes.as_slice(), "{name}");
        assert_eq!(Record::decode(&bytes), Some(record), "{name}");
    }
    assert_eq!(Record::decode(&[2, 0, 5, 0, 7]), None, "an older version");
    assert_eq!(Record::decode(&[3, 0, 5, 0, 7, 0]), None, "trailing byte");
    assert_eq!(Record::decode(&[3, 3, 9, 4, 1, 1, b's']), None, "a chunk off the chunk grid");
    assert_eq!(Record::decode(&[]), None);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

#[test]
fn docs_show_the_goldens() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/raft.md")).unwrap();
    for (name, _, bytes) in message_goldens() {
        let row = format!("| `{name}` | `{}` |", hex(&bytes));
        assert!(doc.contains(&row), "docs/raft.md lacks the row {row}");
    }
    for (name, _, bytes) in record_goldens() {
        let row = format!("| `{name}` | `{}` |", hex(&bytes));
        assert!(doc.contains(&row), "docs/raft.md lacks the row {row}");
    }
}

proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = Message::decode(&bytes);
        let _ = Record::decode(&bytes);
    }

    #[test]
    fn every_encoded_message_decodes_to_itself(
        from in 1u64.., to in 1u64.., term in any::<u64>(), a in any::<u64>(), b in any::<u64>(),
        data in proptest::collection::vec(any::<u8>(), 0..32), n in 0usize..32, kind in 0u8..3,
    ) {
        let mut entries = heapless::Vec::new();
        for i in 0..n {
            let kind = [EntryKind::Normal, EntryKind::ConfChange, EntryKind::Empty][kind as usize];
            entries.push(Entry { term, index: a.wrapping_add(i as u64), kind, data: &data }).unwrap();
        }
        let m = Message { from, to, term, body: Body::Append { prev_index: a, prev_term: b, commit: a ^ b, entries } };
        let bytes = encode(&m);
        prop_assert_eq!(Message::decode(&bytes), Ok(m));
    }
}
