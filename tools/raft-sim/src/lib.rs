//! The deterministic cluster simulator for Worknode's Raft core.
//!
//! [`cluster::run`] runs one seed: real Raft nodes with real event-log
//! storage on simulated disks, a simulated network, simulated clients and
//! a fault schedule, all derived from the seed. [`check`] holds Raft's
//! safety properties, checked on every event; [`linearize`] checks the
//! clients' history. The `worknode-raft-sim` binary runs many seeds and prints the
//! summary `make sim` reports.

pub mod check;
pub mod cluster;
pub mod kv;
pub mod linearize;

pub use cluster::{Options, Outcome, run};

/// Runs seeds `from..from + count` on `threads` threads, in order of seed.
pub fn run_seeds(
    from: u64,
    count: u64,
    threads: usize,
    make: impl Fn(u64) -> Options + Sync,
) -> Vec<Outcome> {
    let next = std::sync::atomic::AtomicU64::new(from);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            // Raft nodes are a few hundred KiB each; runs get a roomy stack.
            std::thread::Builder::new()
                .stack_size(64 << 20)
                .spawn_scoped(scope, || {
                    loop {
                        let seed = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if seed >= from + count {
                            break;
                        }
                        let outcome = run_one(make(seed));
                        results.lock().expect("no worker panics while holding the lock").push(outcome);
                    }
                })
                .expect("spawn a simulation thread");
        }
    });
    let mut results = results.into_inner().expect("workers finished");
    results.sort_by_key(|o| o.seed);
    results
}

/// Runs one seed, turning a panic in the code under test into a violation.
pub fn run_one(opts: Options) -> Outcome {
    match std::panic::catch_unwind(|| run(opts)) {
        Ok(outcome) => outcome,
        Err(panic) => {
            let detail = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "non-string panic".into());
            let mut rng = worknode_log::sim::Rng::new(opts.seed);
            Outcome {
                seed: opts.seed,
                violations: vec![check::Violation { property: "panic", detail }],
                counters: Default::default(),
                profile: cluster::Profile::draw(&mut rng, opts.seed),
            }
        }
    }
}
