//! The state machine's journal and the snapshot state's format: records
//! kept whole, the oldest dropped alike on every node, restored bytes
//! checked, and the ledger's bytes as docs/cluster.md gives them.

use worknode_cluster::journal::{Journal, MIN_JOURNAL};
use worknode_cluster::ledger::{LEDGER_MAGIC, Ledger, proposal};
use worknode_cluster::limits::LEDGER_BYTES;

fn records(journal: &Journal<'_>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = journal.bytes();
    while !rest.is_empty() {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        out.push(rest[2..2 + len].to_vec());
        rest = &rest[2 + len..];
    }
    out
}

#[test]
fn the_oldest_records_are_dropped_an_eighth_at_a_time_and_the_newest_kept_whole() {
    let mut buf = vec![0u8; MIN_JOURNAL];
    let mut journal = Journal::new(&mut buf);
    let mut scratch = [0u8; 512];
    let mut pushed = Vec::new();
    for seq in 1..=200u64 {
        let p = proposal(1, seq, 100 + (seq as usize % 200), &mut scratch).to_vec();
        journal.push(&p);
        pushed.push(p);
        let kept = records(&journal);
        assert_eq!(kept.len() as u64, journal.records());
        // What is kept is the newest proposals, in order, none cut.
        assert_eq!(kept[..], pushed[pushed.len() - kept.len()..], "after {seq}");
        assert!(journal.bytes().len() <= MIN_JOURNAL);
    }
    assert!(journal.records() < 200, "the journal dropped old records");
    assert!(journal.bytes().len() > MIN_JOURNAL / 2, "and keeps most of its buffer");
}

#[test]
fn two_journals_fed_alike_hold_the_same_bytes_whatever_their_past() {
    let mut scratch = [0u8; 512];
    let (mut a, mut b) = (vec![0u8; MIN_JOURNAL], vec![0u8; MIN_JOURNAL]);
    let (mut one, mut two) = (Journal::new(&mut a), Journal::new(&mut b));
    for seq in 1..=300u64 {
        let p = proposal(2, seq, seq as usize % 300, &mut scratch).to_vec();
        one.push(&p);
        two.push(&p);
    }
    assert_eq!(one.bytes(), two.bytes());
    assert_eq!(one.short_hash(), two.short_hash());
}

#[test]
fn restored_bytes_are_checked_and_broken_ones_refused() {
    let mut scratch = [0u8; 512];
    let mut src = vec![0u8; MIN_JOURNAL];
    let mut journal = Journal::new(&mut src);
    for seq in 1..=5 {
        journal.push(proposal(0, seq, 40, &mut scratch));
    }
    let good = journal.bytes().to_vec();
    let mut dst = vec![0u8; MIN_JOURNAL];
    let mut restored = Journal::new(&mut dst);
    restored.begin_restore(good.len() as u64).unwrap();
    // In two pieces, as chunks arrive.
    restored.fill(0, &good[..30]).unwrap();
    restored.fill(30, &good[30..]).unwrap();
    restored.check().unwrap();
    assert_eq!((restored.bytes(), restored.records()), (&good[..], 5));
    // A write past the length it was given is refused.
    restored.begin_restore(good.len() as u64).unwrap();
    assert!(restored.fill(good.len() - 1, &[0, 0]).is_err());
    // A record cut short, a length above the largest entry, a state too
    // large for the buffer: refused, and the journal left empty.
    for bad in [&good[..good.len() - 1], &[0xFF, 0xFF, 1][..]] {
        restored.begin_restore(bad.len() as u64).unwrap();
        restored.fill(0, bad).unwrap();
        assert!(restored.check().is_err());
        assert_eq!((restored.bytes().len(), restored.records()), (0, 0));
    }
    assert!(restored.begin_restore(MIN_JOURNAL as u64 + 1).is_err());
}

#[test]
fn the_ledger_encodes_as_documented() {
    let mut scratch = [0u8; 512];
    let mut ledger = Ledger::default();
    ledger.apply(1, proposal(1, 1, 0, &mut scratch));
    ledger.apply(2, proposal(1, 1, 0, &mut scratch));
    let bytes = ledger.encode();
    assert_eq!(bytes.len(), LEDGER_BYTES);
    // docs/cluster.md, "The state machine": magic and version, count,
    // skipped, hash, then the last sequence number per proposer.
    assert_eq!(&bytes[..8], b"WNLEDG\x00\x01");
    assert_eq!(LEDGER_MAGIC, *b"WNLEDG\x00\x01");
    assert_eq!(bytes[8..16], 1u64.to_le_bytes());
    assert_eq!(bytes[16..24], 1u64.to_le_bytes());
    assert_eq!(bytes[24..56], ledger.hash);
    assert_eq!(bytes[56..64], 0u64.to_le_bytes());
    assert_eq!(bytes[64..72], 1u64.to_le_bytes());
    assert_eq!(Ledger::decode(&bytes), Some(ledger));
    let mut other = bytes;
    other[7] = 2;
    assert_eq!(Ledger::decode(&other), None, "another version is refused");
}
