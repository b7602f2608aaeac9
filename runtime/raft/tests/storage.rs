//! Raft state through the event log: what is saved comes back on replay,
//! superseded entries stay superseded, and a crash loses only what was
//! never made durable.

use worknode_log::format::Owner;
use worknode_log::sim::{Rng, SimDisk};
use worknode_raft::limits::SNAPSHOT_CHUNK;
use worknode_raft::storage::{LogStorage, Record, Recovered, StorageError};
use worknode_raft::{Config, Entry, EntryKind, HardState, Membership, Raft, Snapshot, SnapshotMeta};

const BATCH: usize = 16 * 1024;

/// The bytes every test entry carries: what a lookup by index must return.
const DATA: &[u8] = b"0123456789abcdef";

fn entry(term: u64, index: u64) -> Entry<'static> {
    Entry { term, index, kind: EntryKind::Normal, data: &DATA[..(index % 16) as usize] }
}

fn entries(list: &[(u64, u64)]) -> Record<'static> {
    Record::Entries(list.iter().map(|&(t, i)| entry(t, i)).collect())
}

/// A snapshot's chunk records then its completion, as stored.
fn snapshot_records(snapshot: &Snapshot) -> Vec<Record<'static>> {
    let (index, term) = (snapshot.meta.index, snapshot.meta.term);
    let mut records = Vec::new();
    let mut offset = 0;
    while let Some(len) = snapshot.chunk_len(offset) {
        records.push(Record::Chunk { index, term, offset, data: &[0; SNAPSHOT_CHUNK][..len] });
        offset += SNAPSHOT_CHUNK as u64;
    }
    records.push(Record::Snapshot(snapshot.clone()));
    records
}

fn replay_all(r: &mut Recovered, records: Vec<Record<'_>>, seq: &mut u64) -> Result<(), StorageError> {
    for record in records {
        *seq += 1;
        r.replay(*seq, record)?;
    }
    Ok(())
}

fn indexes(r: &Recovered) -> Vec<u64> {
    r.entries().map(|e| e.index).collect()
}

#[test]
fn later_entries_supersede_earlier_ones_from_their_index_on() {
    let mut r = Box::<Recovered>::default();
    r.replay(1, entries(&[(1, 1), (1, 2), (1, 3), (1, 4)])).unwrap();
    r.replay(2, entries(&[(2, 3)])).unwrap();
    let got: Vec<(u64, u64)> = r.entries().map(|e| (e.term, e.index)).collect();
    assert_eq!(got, vec![(1, 1), (1, 2), (2, 3)]);
    assert!(r.entries().all(|e| e.data == entry(e.term, e.index).data));
    // A gap means the records contradict each other.
    assert_eq!(r.replay(3, entries(&[(2, 9)])), Err(StorageError::BadRecord { seq: 3 }));
}

#[test]
fn a_compaction_snapshot_keeps_the_entries_after_it() {
    let mut r = Box::<Recovered>::default();
    let mut seq = 0;
    replay_all(&mut r, vec![entries(&[(1, 1), (1, 2), (2, 3), (2, 4)])], &mut seq).unwrap();
    let meta = SnapshotMeta { index: 3, term: 2, membership: Membership::with_voters(&[1]).unwrap() };
    let snapshot = Snapshot { meta, len: 3 * SNAPSHOT_CHUNK as u64 - 1 };
    replay_all(&mut r, snapshot_records(&snapshot), &mut seq).unwrap();
    assert_eq!(indexes(&r), vec![4]);
    assert_eq!((r.snapshot.clone(), r.snapshot_seq), (snapshot, 2), "its chunks start at record 2");
}

#[test]
fn an_installed_snapshot_replaces_a_conflicting_log() {
    let mut r = Box::<Recovered>::default();
    let mut seq = 0;
    replay_all(&mut r, vec![entries(&[(1, 1), (1, 2), (1, 3), (1, 4)])], &mut seq).unwrap();
    let meta = SnapshotMeta { index: 3, term: 3, membership: Membership::with_voters(&[1]).unwrap() };
    replay_all(&mut r, snapshot_records(&Snapshot { meta, len: 0 }), &mut seq).unwrap();
    assert_eq!(indexes(&r), Vec::<u64>::new(), "entries of the old history after the snapshot are dropped");
    // Entries at or below the snapshot are ignored afterwards.
    replay_all(&mut r, vec![entries(&[(3, 3), (3, 4)])], &mut seq).unwrap();
    assert_eq!(indexes(&r), vec![4]);
}

#[test]
fn a_snapshot_missing_chunks_is_refused() {
    let meta = SnapshotMeta { index: 3, term: 3, membership: Membership::with_voters(&[1]).unwrap() };
    let snapshot = Snapshot { meta, len: 2 * SNAPSHOT_CHUNK as u64 };
    let mut records = snapshot_records(&snapshot);
    records.remove(1);
    let mut r = Box::<Recovered>::default();
    assert_eq!(replay_all(&mut r, records, &mut 0), Err(StorageError::BadRecord { seq: 2 }));
    // A transfer that restarted: the last run from offset 0 counts.
    let mut records = snapshot_records(&snapshot);
    records.insert(0, Record::Chunk { index: 3, term: 3, offset: 0, data: &[1; SNAPSHOT_CHUNK] });
    let mut r = Box::<Recovered>::default();
    replay_all(&mut r, records, &mut 0).unwrap();
    assert_eq!(r.snapshot_seq, 2);
}

/// A 1 MiB state is saved as chunk records and read back whole, after a
/// reopen, by restore and by a transfer to a follower.
#[test]
fn a_large_snapshot_is_stored_in_chunks_and_read_back() {
    let state: Vec<u8> =
        (0..(1 << 20) + 123).map(|i: usize| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let membership = Membership::with_voters(&[1, 2]).unwrap();
    let mut raft = Raft::new(Config::new(1), membership).unwrap();
    let mut store = LogStorage::<SimDisk, BATCH>::create(SimDisk::new(8192), 7, Owner::UNBOUND).unwrap();
    let rd = raft.ready();
    store.save(&raft, &rd).unwrap();
    raft.advance(rd);
    let snapshot = raft.compact(state.len() as u64).unwrap().clone();
    store
        .save_snapshot(&raft, |offset, chunk| chunk.copy_from_slice(&state[offset as usize..][..chunk.len()]))
        .unwrap();
    let mut recovered = Box::<Recovered>::default();
    let mut store =
        LogStorage::<SimDisk, BATCH>::open(store.into_device(), &mut recovered, Owner::UNBOUND).unwrap();
    assert_eq!(recovered.snapshot, snapshot);
    let mut back = Vec::new();
    store
        .read_snapshot(&snapshot, |offset, bytes| {
            assert_eq!(offset as usize, back.len());
            back.extend_from_slice(bytes)
        })
        .unwrap();
    assert!(back == state, "restored byte for byte");
    let older = Snapshot { len: 1, ..snapshot.clone() };
    assert_eq!(store.read_snapshot(&older, |_, _| {}), Err(StorageError::SnapshotMissing));
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
        let mut store =
            LogStorage::<SimDisk, BATCH>::create(disk.take().unwrap(), seed, Owner::UNBOUND).unwrap();
        let mut applied: Vec<(u64, u64, Vec<u8>)> = Vec::new();
        let mut recovered = Box::<Recovered>::default();
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
                store = LogStorage::<SimDisk, BATCH>::open(dev, &mut recovered, Owner::UNBOUND).unwrap();
                let hs = recovered.hard_state;
                let snapshot = recovered.snapshot.clone();
                raft = Raft::recover(cfg, hs, snapshot, &mut recovered.entries()).unwrap();
                // Everything applied before the crash is still there.
                for (term, index, data) in &applied {
                    let e = raft.log().entry(*index);
                    assert_eq!(
                        e.map(|e| (e.term, e.data)),
                        Some((*term, data.as_slice())),
                        "seed {seed}: lost {index}"
                    );
                }
                assert!(raft.term() >= applied.last().map_or(0, |e| e.0), "seed {seed}: term went back");
                applied.retain(|e| e.1 <= raft.log().committed());
                continue;
            }
            for index in rd.apply.0..=rd.apply.1 {
                let e = raft.log().entry(index).unwrap();
                let e = (e.term, e.index, e.data.to_vec());
                if let Some(prev) = applied.iter().find(|p| p.1 == e.1) {
                    assert_eq!(prev, &e, "seed {seed}: applied twice differently");
                } else {
                    applied.push(e);
                }
            }
            raft.advance(rd);
            if raft.log().applied() >= raft.log().snapshot().index + 50 {
                let snapshot = raft.compact(5).unwrap().clone();
                if store.save_snapshot(&raft, |_, chunk| chunk.copy_from_slice(b"state")).is_err() {
                    // The crash is resolved at the next save.
                }
                applied.retain(|e| e.1 > snapshot.meta.index);
            }
        }
        assert!(raft.log().committed() > 50, "seed {seed}: made progress");
    }
}

#[test]
fn a_foreign_record_is_refused_by_sequence_number() {
    let mut store = LogStorage::<SimDisk, BATCH>::create(SimDisk::new(256), 1, Owner::UNBOUND).unwrap();
    store.log().append(b"not a raft record").unwrap();
    store.log().commit().unwrap();
    let dev = store.into_device();
    let mut recovered = Box::<Recovered>::default();
    let refused = LogStorage::<SimDisk, BATCH>::open(dev, &mut recovered, Owner::UNBOUND).err();
    assert_eq!(refused, Some(StorageError::BadRecord { seq: 1 }));
    let _ = HardState::default();
}
