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

use common::{Rng, SimDisk};
use worknode_log::format::MAX_PAYLOAD;
use worknode_log::{Log, LogError, origin, scan_to_end};

const BATCH: usize = 4096;
const DISK_SECTORS: u64 = 512;
const SEEDS: u64 = 1500;
const INCARNATIONS: usize = 3;

/// Reads every record of an open log, from record 1, in one pass.
fn contents(log: &mut Log<SimDisk, BATCH>) -> Vec<Vec<u8>> {
    let sb = *log.superblock();
    let mut out = Vec::new();
    let (end, _, _) = scan_to_end(log.device(), &sb, origin(&sb), |_, payload| out.push(payload.to_vec()))
        .unwrap_or_else(|e| panic!("full scan: {e:?}"));
    assert_eq!(end.next_seq - 1, log.durable_seq(), "full scan and recovery disagree on the end");
    out
}

/// One seed: returns the number of crash points exercised.
fn run(seed: u64) -> usize {
    let mut rng = Rng::new(seed);
    let mut log = Log::<SimDisk, BATCH>::format(SimDisk::new(DISK_SECTORS), rng.next()).unwrap();
    // The records the system may rely on: acknowledged, or recovered after a
    // crash (once recovered, later records chain to them).
    let mut truth: Vec<Vec<u8>> = Vec::new();
    let mut crashes = 0;
    for _ in 0..INCARNATIONS {
        let mut attempts: Vec<Vec<Vec<u8>>> = Vec::new();
        let ops_before = log.device().ops;
        log.device().crash_at = Some(ops_before + 1 + rng.below(60));
        // Append and commit until the crash stops the log.
        let mut until_commit = 1 + rng.below(20);
        loop {
            let len = rng.below(MAX_PAYLOAD as u64 / 4 + 1) as usize;
            let payload: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let result = log.append(&payload).and_then(|seq| {
                let idx = (seq - 1) as usize - truth.len();
                if attempts.len() <= idx {
                    attempts.resize(idx + 1, Vec::new());
                }
                attempts[idx].push(payload.clone());
                until_commit -= 1;
                if until_commit == 0 {
                    until_commit = 1 + rng.below(20);
                    if rng.chance(10) { log.checkpoint().map(|()| log.durable_seq()) } else { log.commit() }
                } else {
                    Ok(0)
                }
            });
            match result {
                Ok(durable) if durable > truth.len() as u64 => {
                    // Acknowledged: these records are now part of the truth.
                    let fresh = (durable as usize) - truth.len();
                    for a in attempts.drain(..fresh) {
                        truth.push(a.last().unwrap().clone());
                    }
                }
                Ok(_) => {}
                Err(LogError::Io(_)) | Err(LogError::Poisoned) => break,
                Err(LogError::Full) => break,
                Err(e) => panic!("seed {seed}: append failed: {e:?}"),
            }
        }
        crashes += 1;
        let mut disk = log.into_device();
        disk.crash(&mut rng);
        let (reopened, recovery) = Log::<SimDisk, BATCH>::open(disk)
            .unwrap_or_else(|e| panic!("seed {seed}: recovery failed after crash: {e:?}"));
        log = reopened;
        let recovered = contents(&mut log);
        assert!(
            recovered.len() >= truth.len(),
            "seed {seed}: lost acknowledged records: {} recovered, {} acknowledged ({recovery:?})",
            recovered.len(),
            truth.len()
        );
        for (i, record) in recovered.iter().enumerate() {
            if i < truth.len() {
                assert_eq!(record, &truth[i], "seed {seed}: acknowledged record {} changed", i + 1);
            } else {
                let tried = attempts.get(i - truth.len()).map(Vec::as_slice).unwrap_or(&[]);
                assert!(tried.contains(record), "seed {seed}: record {} was never appended", i + 1);
            }
        }
        truth = recovered;
    }
    crashes
}

#[test]
fn recovery_keeps_every_acknowledged_record() {
    let crash_points: usize = (0..SEEDS).map(run).sum();
    assert!(crash_points >= 1000, "only {crash_points} crash points");
    println!("crash points: {crash_points}");
}
