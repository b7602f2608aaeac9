//! Raft state through the event log: what is saved comes back on replay,
//! superseded entries stay superseded, and a crash loses only what was
//! never made durable.

use worknode_log::sim::{Rng, SimDisk};
use worknode_raft::storage::{LogStorage, Record, Recovered, StorageError};
use worknode_raft::{Config, Entry, EntryKind, HardState, Membership, Raft, Snapshot, SnapshotMeta};

const BATCH: usize = 16 * 1024;

fn entry(term: u64, index: u64) -> Entry {
    Entry {
        term,
        index,
        kind: EntryKind::Normal,
        data: heapless::Vec::from_slice(&index.to_le_bytes()).unwrap(),
    }
}

fn entries(list: &[(u64, u64)]) -> Record {
    Record::Entries(list.iter().map(|&(t, i)| entry(t, i)).collect())
}

#[test]
fn later_entries_supersede_earlier_ones_from_their_index_on() {
    let mut r = Recovered::default();
    r.replay(entries(&[(1, 1), (1, 2), (1, 3), (1, 4)])).unwrap();
    r.replay(entries(&[(2, 3)])).unwrap();
    let got: Vec<(u64, u64)> = r.entries.iter().map(|e| (e.term, e.index)).collect();
    assert_eq!(got, vec![(1, 1), (1, 2), (2, 3)]);
    // A gap means the records contradict each other.
    assert!(matches!(r.replay(entries(&[(2, 9)])), Err(StorageError::BadRecord { .. })));
}

#[test]
fn a_compaction_snapshot_keeps_the_entries_after_it() {
    let mut r = Recovered::default();
    r.replay(entries(&[(1, 1), (1, 2), (2, 3), (2, 4)])).unwrap();
    let meta = SnapshotMeta { index: 3, term: 2, membership: Membership::with_voters(&[1]).unwrap() };
    r.replay(Record::Snapshot(Snapshot { meta, data: Default::default() })).unwrap();
    let got: Vec<u64> = r.entries.iter().map(|e| e.index).collect();
    assert_eq!(got, vec![4]);
}

#[test]
fn an_installed_snapshot_replaces_a_conflicting_log() {
    let mut r = Recovered::default();
    r.replay(entries(&[(1, 1), (1, 2), (1, 3), (1, 4)])).unwrap();
    let meta = SnapshotMeta { index: 3, term: 3, membership: Membership::with_voters(&[1]).unwrap() };
    r.replay(Record::Snapshot(Snapshot { meta, data: Default::default() })).unwrap();
    assert!(r.entries.is_empty(), "entries of the old history after the snapshot are dropped");
    // Entries at or below the snapshot are ignored afterwards.
    r.replay(entries(&[(3, 3), (3, 4)])).unwrap();
    assert_eq!(r.entries.iter().map(|e| e.index).collect::<Vec<_>>(), vec![4]);
}

/// Runs a single-node cluster through the event log, crashing the disk at
/// random operations, and checks that every acknowledged (applied) entry
/// survives and the node keeps its term.
#[test]
fn a_node_survives_crashes_with_everything_it_applied() {
    for seed in 0..40 {
        let mut rng = Rng::new(seed);
        let mut disk = Some(SimDisk::new(4096));
        let mut cfg = Config::new(1);
        cfg.seed = seed;
        let membership = Membership::with_voters(&[1]).unwrap();
        let mut raft = Raft::new(cfg, membership).unwrap();
        let mut store = LogStorage::<SimDisk, BATCH>::create(disk.take().unwrap(), seed).unwrap();
        let mut applied: Vec<Entry> = Vec::new();
        for round in 0..600u64 {
            // Crash at a random storage operation now and then.
            if rng.chance(2) {
                let dev = store.log().device();
                dev.crash_at = Some(dev.ops + 1 + rng.below(3));
            }
            raft.tick();
            if raft.role() == worknode_raft::Role::Leader && rng.chance(60) {
                let _ = raft.propose(&round.to_le_bytes());
            }
            let rd = raft.ready();
            if store.save(&raft, &rd).is_err() {
                let mut dev = store.into_device();
                dev.crash(&mut rng);
                let (reopened, recovered) = LogStorage::<SimDisk, BATCH>::open(dev).unwrap();
                store = reopened;
                let hs = recovered.hard_state;
                let mut list = recovered.entries.into_iter();
                raft = Raft::recover(cfg, hs, recovered.snapshot, &mut list).unwrap();
                // Everything applied before the crash is still there.
                for e in &applied {
                    assert_eq!(
                        raft.log().entry(e.index),
                        Some(e),
                        "seed {seed}: lost applied entry {}",
                        e.index
                    );
                }
                assert!(raft.term() >= applied.last().map_or(0, |e| e.term), "seed {seed}: term went back");
                applied.retain(|e| e.index <= raft.log().committed());
                continue;
            }
            for index in rd.apply.0..=rd.apply.1 {
                let e = raft.log().entry(index).unwrap().clone();
                if let Some(prev) = applied.iter().find(|p| p.index == e.index) {
                    assert_eq!(prev, &e, "seed {seed}: applied twice differently");
                } else {
                    applied.push(e);
                }
            }
            raft.advance(rd);
            if raft.log().applied() >= raft.log().snapshot().index + 50 {
                let snapshot = raft.compact(b"state").unwrap().clone();
                if store.save_snapshot(&snapshot).is_err() {
                    // The crash is resolved at the next save.
                }
                applied.retain(|e| e.index > snapshot.meta.index);
            }
        }
        assert!(raft.log().committed() > 50, "seed {seed}: made progress");
    }
}

#[test]
fn a_foreign_record_is_refused_by_sequence_number() {
    let mut store = LogStorage::<SimDisk, BATCH>::create(SimDisk::new(256), 1).unwrap();
    store.log().append(b"not a raft record").unwrap();
    store.log().commit().unwrap();
    let dev = store.into_device();
    assert_eq!(LogStorage::<SimDisk, BATCH>::open(dev).err(), Some(StorageError::BadRecord { seq: 1 }));
    let _ = HardState::default();
}
