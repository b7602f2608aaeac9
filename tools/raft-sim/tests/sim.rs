//! The simulator's own evidence: correct Raft passes, each deliberately
//! broken variant is caught within a bounded number of seeds, lying disks
//! are caught, and a seed replays exactly.

use worknode_raft::Broken;
use worknode_raft_sim::{Options, run_one, run_seeds};

const THREADS: usize = 2;

fn first_failure(broken: Broken, lying_fsync: bool, bound: u64) -> Option<(u64, &'static str)> {
    // In chunks, stopping at the first chunk with a failure.
    for from in (0..bound).step_by(20) {
        let outcomes =
            run_seeds(from, 20, THREADS, |seed| Options { broken, lying_fsync, ..Options::new(seed) });
        if let Some(o) = outcomes.iter().find(|o| !o.violations.is_empty()) {
            return Some((o.seed, o.violations[0].property));
        }
    }
    None
}

#[test]
fn correct_raft_passes_every_check() {
    let outcomes = run_seeds(0, 60, THREADS, Options::new);
    for o in &outcomes {
        assert!(o.violations.is_empty(), "seed {}: {:?}", o.seed, o.violations);
    }
    let ops: u64 = outcomes.iter().map(|o| o.counters.ops).sum();
    let crashes: u64 = outcomes.iter().map(|o| o.counters.crashes).sum();
    let snapshots: u64 = outcomes.iter().map(|o| o.counters.snapshots).sum();
    let chunks: u64 = outcomes.iter().map(|o| o.counters.chunks).sum();
    let changes: u64 = outcomes.iter().map(|o| o.counters.conf_changes).sum();
    let padded = outcomes.iter().filter(|o| o.profile.entry_pad > 256 && o.profile.snapshot_pad > 0).count();
    // The runs exercised what they claim to: snapshots of many chunks
    // among them, and seeds whose entries are large.
    assert!(
        ops > 10_000
            && crashes > 50
            && snapshots > 20
            && chunks > 3 * snapshots
            && changes > 50
            && padded > 5,
        "{ops} {crashes} {snapshots} {chunks} {changes} {padded}"
    );
}

fn caught(variant: fn(&mut Broken), bound: u64, expect: &[&str]) {
    let mut broken = Broken::default();
    variant(&mut broken);
    let (seed, property) =
        first_failure(broken, false, bound).unwrap_or_else(|| panic!("{broken:?} survived {bound} seeds"));
    assert!(
        expect.contains(&property),
        "{broken:?}: seed {seed} broke {property}, expected one of {expect:?}"
    );
}

#[test]
fn voting_twice_in_a_term_is_caught() {
    caught(|b| b.vote_twice = true, 100, &["election safety"]);
}

#[test]
fn voting_for_a_stale_log_is_caught() {
    caught(
        |b| b.vote_ignores_log = true,
        100,
        &["leader completeness", "state machine safety", "linearizability"],
    );
}

#[test]
fn committing_without_a_quorum_is_caught() {
    caught(
        |b| b.commit_without_quorum = true,
        100,
        &["leader completeness", "state machine safety", "linearizability"],
    );
}

#[test]
fn appending_after_a_mismatched_entry_is_caught() {
    caught(
        |b| b.append_ignores_prev_term = true,
        100,
        &["log matching", "state machine safety", "leader completeness"],
    );
}

#[test]
fn reading_without_confirming_leadership_is_caught() {
    caught(|b| b.read_without_quorum = true, 400, &["linearizability"]);
}

#[test]
fn lying_fsync_is_detected_or_caught() {
    // Most lost acknowledged writes are detected by the event log, and the
    // node refuses to restart; the rest (a lost tail) breaks Raft, and the
    // checks see it.
    let outcomes = run_seeds(0, 20, THREADS, |seed| Options { lying_fsync: true, ..Options::new(seed) });
    assert!(outcomes.iter().map(|o| o.counters.refused).sum::<u64>() > 0);
    let found = first_failure(Broken::default(), true, 400);
    assert!(found.is_some(), "lying fsync never broke a property in 400 seeds");
}

#[test]
fn a_seed_replays_exactly() {
    for seed in [3, 17] {
        let a = run_one(Options::new(seed));
        let b = run_one(Options::new(seed));
        assert_eq!(format!("{:?}", a.counters), format!("{:?}", b.counters));
    }
    let a = run_one(Options::new(3));
    let b = run_one(Options::new(4));
    assert_ne!(format!("{:?}", a.counters), format!("{:?}", b.counters));
}
