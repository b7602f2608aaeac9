//! The in-memory log window: indexing and entry bytes stay right when the
//! ring of entries and the ring of bytes wrap, whatever the entries' sizes.

use worknode_raft::limits::{LOG_WINDOW, MAX_DATA, WINDOW_BYTES};
use worknode_raft::log::{RaftLog, Window};
use worknode_raft::{Entry, EntryKind, SnapshotMeta};

/// Entry `index`'s data: a length and bytes that depend on the index, so a
/// byte read from the wrong place shows.
fn data(index: u64, sizes: u64) -> Vec<u8> {
    let len = (index.wrapping_mul(0x9E37_79B9) % (sizes + 1)) as usize;
    (0..len).map(|i| (index as usize * 31 + i) as u8).collect()
}

fn fill_compact_check(sizes: u64) {
    let mut log = RaftLog::new(SnapshotMeta::default());
    let mut next = 1;
    // Fill, apply and compact repeatedly so both rings wrap.
    for round in 0..7 {
        loop {
            let bytes = data(next, sizes);
            if !log.fits(bytes.len()) {
                let entry = Entry { term: 1, index: next, kind: EntryKind::Normal, data: &bytes };
                assert!(log.push(entry).is_err(), "a full window refuses");
                break;
            }
            log.push(Entry { term: 1, index: next, kind: EntryKind::Normal, data: &bytes }).unwrap();
            next += 1;
        }
        let last = log.last_index();
        let held = last - log.snapshot().index;
        assert!(held as usize <= LOG_WINDOW);
        log.stable_to(last);
        log.commit_to(last);
        log.applied_to(last);
        let cut = last - held / 3 - round;
        let meta = SnapshotMeta { index: cut, term: 1, membership: Default::default() };
        log.compact(meta);
        for index in log.first_index()..=log.last_index() {
            let e = log.entry(index).unwrap();
            assert_eq!((e.index, e.data), (index, data(index, sizes).as_slice()), "entry {index}");
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

#[test]
fn small_entries_fill_the_window_by_count() {
    fill_compact_check(8);
}

#[test]
fn large_entries_fill_the_window_by_bytes() {
    fill_compact_check(MAX_DATA as u64);
}

#[test]
fn dropping_from_the_back_gives_the_bytes_back() {
    let mut w = Box::new(Window::new());
    let big = vec![7u8; MAX_DATA];
    let mut index = 1;
    while w.fits(MAX_DATA) {
        w.push_back(Entry { term: 1, index, kind: EntryKind::Normal, data: &big }).unwrap();
        index += 1;
    }
    assert_eq!(w.len(), WINDOW_BYTES / MAX_DATA, "full entries pack the ring exactly");
    assert!(w.fits(0), "an empty entry still fits");
    assert_eq!(w.pop_back(), Some(EntryKind::Normal));
    assert!(w.fits(MAX_DATA), "the last entry's bytes are free again");
    assert!(!w.fits(MAX_DATA + 1), "longer than an entry may be");
    assert!(w.pop_front());
    w.push_back(Entry { term: 1, index: index - 1, kind: EntryKind::Normal, data: &big }).unwrap();
    assert!(w.fits(MAX_DATA), "the ring wraps into the first entry's bytes");
}
