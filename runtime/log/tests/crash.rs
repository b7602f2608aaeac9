//! Crash consistency: thousands of seeded crash points, each followed by
//! recovery, which must return every acknowledged record, byte for byte,
//! and nothing that was never appended.
//!
//! A run appends records of random sizes, commits at random points (group
//! commit: 1 to 20 records per flush), checkpoints now and then, and crashes
//! at a random device operation. The simulated disk then loses, keeps or
//! tears each unflushed sector. The run reopens the log, checks it, and goes
//! on appending on the same disk, three incarnations per seed, so recovery
//! also meets the stale tails that earlier crashes left behind.

mod common;

use std::collections::BTreeMap;

use common::{Rng, SimDisk};
use worknode_log::chain::Hash;
use worknode_log::format::MAX_PAYLOAD;
use worknode_log::{Log, LogError, origin, scan_to_end};

const BATCH: usize = 4096;
const DISK_SECTORS: u64 = 512;
const SEEDS: u64 = 1500;
const INCARNATIONS: usize = 3;

/// Every record an open log holds, from the oldest kept, in one pass:
/// (sequence number, payload, hash).
fn contents(log: &mut Log<SimDisk, BATCH>) -> Vec<(u64, Vec<u8>, Hash)> {
    let sb = *log.superblock();
    let mut out = Vec::new();
    let (end, _, _) = scan_to_end(log.device(), &sb, origin(&sb), |accepted, payload| {
        out.push((accepted.header.seq, payload.to_vec(), accepted.hash))
    })
    .unwrap_or_else(|e| panic!("full scan: {e:?}"));
    assert_eq!(end.next_seq - 1, log.durable_seq(), "full scan and recovery disagree on the end");
    out
}

/// How a run treats a full log.
#[derive(Clone, Copy)]
struct Shape {
    sectors: u64,
    /// Crash within this many device operations of each incarnation.
    crash_within: u64,
    /// Let the log reclaim its oldest records (a ring that wraps).
    reclaim: bool,
}

/// One seed: returns the number of crash points exercised and how many
/// records were reclaimed in all.
fn run(seed: u64, shape: Shape) -> (usize, u64) {
    let mut rng = Rng::new(seed);
    let mut log = Log::<SimDisk, BATCH>::format(SimDisk::new(shape.sectors), rng.next()).unwrap();
    if shape.reclaim {
        log.set_retention(u64::MAX);
    }
    // The records the system may rely on, by sequence number: acknowledged,
    // or recovered after a crash (once recovered, later records chain to
    // them), with their hashes once a scan has seen them.
    let mut truth: BTreeMap<u64, (Vec<u8>, Option<Hash>)> = BTreeMap::new();
    let mut crashes = 0;
    for _ in 0..INCARNATIONS {
        let mut attempts: BTreeMap<u64, Vec<Vec<u8>>> = BTreeMap::new();
        let ops_before = log.device().ops;
        log.device().crash_at = Some(ops_before + 1 + rng.below(shape.crash_within));
        // Append and commit until the crash stops the log.
        let mut until_commit = 1 + rng.below(20);
        loop {
            let len = rng.below(MAX_PAYLOAD as u64 / 4 + 1) as usize;
            let payload: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let result = log.append(&payload).and_then(|seq| {
                attempts.entry(seq).or_default().push(payload.clone());
                until_commit -= 1;
                if until_commit == 0 {
                    until_commit = 1 + rng.below(20);
                    if rng.chance(10) { log.checkpoint().map(|()| log.durable_seq()) } else { log.commit() }
                } else {
                    Ok(0)
                }
            });
            match result {
                Ok(durable) => {
                    // Acknowledged: these records are now part of the truth.
                    while let Some(entry) = attempts.first_entry().filter(|e| *e.key() <= durable) {
                        let (seq, tried) = entry.remove_entry();
                        truth.insert(seq, (tried.last().unwrap().clone(), None));
                    }
                }
                Err(LogError::Io(_)) | Err(LogError::Poisoned) => break,
                Err(LogError::Full) if !shape.reclaim => break,
                Err(e) => panic!("seed {seed}: append failed: {e:?}"),
            }
        }
        crashes += 1;
        let acknowledged = truth.keys().next_back().copied().unwrap_or(0);
        let mut disk = log.into_device();
        disk.crash(&mut rng);
        let (reopened, recovery) = Log::<SimDisk, BATCH>::open(disk)
            .unwrap_or_else(|e| panic!("seed {seed}: recovery failed after crash: {e:?}"));
        log = reopened;
        if shape.reclaim {
            log.set_retention(u64::MAX);
        }
        let oldest = log.oldest_seq();
        let recovered = contents(&mut log);
        assert!(
            log.durable_seq() >= acknowledged,
            "seed {seed}: lost acknowledged records: recovered up to {}, acknowledged {acknowledged} ({recovery:?})",
            log.durable_seq()
        );
        // The reclaimed part ends where the anchor says, and the anchor
        // holds the hash of the last record reclaimed: the kept part
        // continues the history it replaced.
        if let Some((_, Some(hash))) = truth.get(&(oldest - 1)) {
            assert_eq!(&log.superblock().tail.prev_hash, hash, "seed {seed}: the anchor does not chain");
        }
        assert!(
            recovered.first().is_none_or(|r| r.0 == oldest),
            "seed {seed}: the scan starts at the anchor"
        );
        for (seq, record, hash) in &recovered {
            match truth.get(seq) {
                Some((known, _)) => {
                    assert_eq!(record, known, "seed {seed}: acknowledged record {seq} changed")
                }
                None => {
                    let tried = attempts.get(seq).map(Vec::as_slice).unwrap_or(&[]);
                    assert!(tried.contains(record), "seed {seed}: record {seq} was never appended");
                }
            }
            truth.insert(*seq, (record.clone(), Some(*hash)));
        }
        truth.retain(|seq, _| *seq <= log.durable_seq());
    }
    (crashes, log.oldest_seq() - 1)
}

#[test]
fn recovery_keeps_every_acknowledged_record() {
    let shape = Shape { sectors: DISK_SECTORS, crash_within: 60, reclaim: false };
    let crash_points: usize = (0..SEEDS).map(|seed| run(seed, shape).0).sum();
    assert!(crash_points >= 1000, "only {crash_points} crash points");
    println!("crash points: {crash_points}");
}

/// A ring a few batches long, reclaiming as it must: crashes land in
/// reclamation, in wrapping batches and in the superblock writes that
/// move the anchor.
#[test]
fn a_ring_that_wraps_keeps_every_acknowledged_record_it_did_not_reclaim() {
    let shape = Shape { sectors: 8 + 48, crash_within: 400, reclaim: true };
    let (crash_points, reclaimed) =
        (0..SEEDS).map(|seed| run(seed, shape)).fold((0, 0), |(c, r), (dc, dr)| (c + dc, r + dr));
    assert!(crash_points >= 1000, "only {crash_points} crash points");
    assert!(reclaimed > 100 * SEEDS, "the ring should wrap many times: {reclaimed} records reclaimed");
    println!("crash points: {crash_points}, records reclaimed: {reclaimed}");
}
