//! The supervision rules' properties, over random histories: no restart
//! storm beyond the intensity limit, a backoff that doubles within a burst
//! and stays within its bounds, giving up for good, and scheduled runs
//! never started twice or early.

use proptest::prelude::*;
use worknode_governor::limits::MAX_RESTARTS;
use worknode_governor::supervise::{Decision, Policy, PolicyError, Schedule, Supervisor, Tick};

fn policy() -> impl Strategy<Value = Policy> {
    (1..=MAX_RESTARTS as u8, 1u64..20_000, 1u64..200, 0u64..5_000).prop_map(
        |(max_restarts, window_ms, min, extra)| Policy {
            max_restarts,
            window_ms,
            backoff_min_ms: min,
            backoff_max_ms: min + extra,
        },
    )
}

proptest! {
    /// A service that runs for a random time after each restart: within
    /// any window, at most `max_restarts` restarts; each delay is the
    /// minimum doubled once per restart already in the window, capped;
    /// and once given up, always given up.
    #[test]
    fn restarts_keep_to_the_policy(p in policy(), runs in proptest::collection::vec(0u64..3_000, 1..60)) {
        let mut s = Supervisor::new(p).unwrap();
        let mut restarts: Vec<u64> = Vec::new();
        let mut now = 0u64;
        for run in runs {
            now += run;
            let before = s.recent_restarts(now);
            match s.stopped(now) {
                Decision::Restart { at_ms } => {
                    prop_assert!(!s.given_up());
                    let want = p.backoff_min_ms.saturating_mul(1 << before).min(p.backoff_max_ms);
                    prop_assert_eq!(at_ms - now, want);
                    prop_assert!(at_ms - now >= p.backoff_min_ms && at_ms - now <= p.backoff_max_ms);
                    restarts.push(now);
                    // It runs again only once restarted.
                    now = at_ms;
                }
                Decision::GiveUp => {
                    prop_assert!(s.given_up());
                    prop_assert_eq!(s.stopped(now + 1_000_000), Decision::GiveUp, "final");
                    break;
                }
            }
        }
        for &t in &restarts {
            let in_window = restarts.iter().filter(|&&r| r <= t && r + p.window_ms > t).count();
            prop_assert!(in_window <= usize::from(p.max_restarts), "{} restarts within {} ms", in_window, p.window_ms);
        }
    }

    /// Whatever the times the governor asks at and however long runs take:
    /// a run starts only when none is going, never before it is due, at
    /// most once per due time, and the next due time is always ahead.
    #[test]
    fn scheduled_runs_never_overlap_or_start_early(
        first in 0u64..1_000, period in 1u64..500,
        steps in proptest::collection::vec((1u64..700, any::<bool>()), 1..200),
    ) {
        let mut schedule = Schedule::new(first, period).unwrap();
        let mut now = 0u64;
        let mut starts = Vec::new();
        for (advance, finish) in steps {
            now += advance;
            let due = schedule.next_ms();
            let was_running = schedule.running();
            match schedule.tick(now) {
                Tick::Wait => prop_assert!(now < due),
                Tick::Start => {
                    prop_assert!(now >= due && !was_running);
                    starts.push(now);
                }
                Tick::Skip => prop_assert!(now >= due && was_running),
            }
            prop_assert!(schedule.next_ms() > now);
            prop_assert_eq!((schedule.next_ms() - first) % period, 0, "due times stay on the grid");
            if finish {
                schedule.finished();
            }
        }
        let (runs, _) = schedule.counts();
        prop_assert_eq!(runs as usize, starts.len());
        // Never two starts for one due time: each start belongs to a later
        // due time than the one before.
        let slot = |t: u64| (t - first) / period;
        prop_assert!(starts.windows(2).all(|w| slot(w[1]) > slot(w[0])));
    }
}

#[test]
fn a_service_that_faults_at_once_is_given_up_after_the_limit() {
    let p = Policy { max_restarts: 3, window_ms: 10_000, backoff_min_ms: 100, backoff_max_ms: 250 };
    let mut s = Supervisor::new(p).unwrap();
    let mut now = 0;
    let mut delays = Vec::new();
    while let Decision::Restart { at_ms } = s.stopped(now) {
        delays.push(at_ms - now);
        now = at_ms;
    }
    assert_eq!(delays, [100, 200, 250], "doubling, capped");
    assert!(s.given_up());
    // A service that keeps running longer than the window gets the
    // minimum backoff again.
    let mut calm = Supervisor::new(p).unwrap();
    for k in 0..10 {
        assert_eq!(calm.stopped(k * 20_000), Decision::Restart { at_ms: k * 20_000 + 100 });
    }
}

#[test]
fn bad_policies_and_schedules_are_refused() {
    let ok = Policy { max_restarts: 3, window_ms: 1000, backoff_min_ms: 10, backoff_max_ms: 100 };
    assert_eq!(Supervisor::new(Policy { max_restarts: 0, ..ok }).err(), Some(PolicyError::Restarts));
    let many = Policy { max_restarts: MAX_RESTARTS as u8 + 1, ..ok };
    assert_eq!(Supervisor::new(many).err(), Some(PolicyError::Restarts));
    assert_eq!(Supervisor::new(Policy { window_ms: 0, ..ok }).err(), Some(PolicyError::Times));
    assert_eq!(Supervisor::new(Policy { backoff_min_ms: 200, ..ok }).err(), Some(PolicyError::Times));
    assert!(Schedule::new(0, 0).is_none());
}

#[test]
fn a_slow_run_skips_the_next_due_time_instead_of_piling_up() {
    let mut schedule = Schedule::new(0, 100).unwrap();
    assert_eq!(schedule.tick(0), Tick::Start);
    assert_eq!(schedule.tick(100), Tick::Skip, "still running at the next due time");
    assert_eq!(schedule.tick(150), Tick::Wait);
    schedule.finished();
    // Asked late: the missed due times are skipped, not replayed.
    assert_eq!(schedule.tick(450), Tick::Start);
    assert_eq!(schedule.next_ms(), 500);
    schedule.finished();
    assert_eq!(schedule.tick(460), Tick::Wait);
    assert_eq!(schedule.counts(), (2, 1));
}
