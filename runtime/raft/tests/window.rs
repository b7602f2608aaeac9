//! The in-memory log window: indexing stays right when the ring wraps.

use worknode_raft::limits::LOG_WINDOW;
use worknode_raft::log::RaftLog;
use worknode_raft::{Entry, EntryKind, SnapshotMeta};

fn entry(index: u64) -> Entry {
    Entry {
        term: 1,
        index,
        kind: EntryKind::Normal,
        data: heapless::Vec::from_slice(&index.to_le_bytes()).unwrap(),
    }
}

#[test]
fn lookups_follow_the_ring_across_its_wrap() {
    let mut log = RaftLog::new(SnapshotMeta::default());
    let mut next = 1;
    // Fill, apply and compact repeatedly so the ring's storage wraps.
    for round in 0..5 {
        while log.room() > 0 {
            log.push(entry(next)).unwrap();
            next += 1;
        }
        assert!(log.push(entry(next)).is_err(), "a full window refuses");
        let last = log.last_index();
        log.stable_to(last);
        log.commit_to(last);
        log.applied_to(last);
        let cut = last - (LOG_WINDOW as u64) / 3 - round;
        let meta = SnapshotMeta { index: cut, term: 1, membership: Default::default() };
        log.compact(meta);
        for index in log.first_index()..=log.last_index() {
            assert_eq!(log.entry(index).map(|e| e.index), Some(index));
        }
        assert!(log.entry(cut).is_none() && log.entry(last + 1).is_none());
        assert_eq!(log.term(cut), Some(1), "the snapshot's own term is known");
        for from in [log.first_index(), log.first_index() + 7, last - 3, last, last + 1] {
            let got: Vec<u64> = log.entries_from(from, 5).unwrap().map(|e| e.index).collect();
            let want: Vec<u64> = (from..=last).take(5).collect();
            assert_eq!(got, want, "from {from}");
        }
        assert!(log.entries_from(cut, 5).is_none(), "compacted");
    }
}
