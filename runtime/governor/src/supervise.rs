//! Supervision rules for worknodes that the governor keeps running: the
//! restart decision after a fault or an exit, in the manner of Erlang/OTP
//! supervisors, and the start decision for scheduled runs. Pure functions
//! of time and history, so the rules are tested on the host (properties in
//! `tests/supervise.rs`) before the governor PD acts on them. Not wired
//! into [`crate::Governor`] yet: the lifecycles `system.xml` will declare
//! (service, scheduled) come next.
//!
//! **Restarts.** After each stop a service is restarted, first after
//! `backoff_min_ms`, each further restart within the intensity window
//! after twice as long as the one before, up to `backoff_max_ms`. At most
//! `max_restarts` restarts may fall within any `window_ms`: the stop that
//! would need one more ends the service for good ([`Decision::GiveUp`]),
//! and the principal is told. Rejected: OTP's "restart at once", which
//! turns a service that faults at start into a busy loop of restarts that
//! each cost an audit record; and a backoff that never resets, which
//! punishes a service for faults long past.
//!
//! **Scheduled runs.** A run is due every `period_ms` from `first_ms`. A
//! run still going when the next is due is not started twice: that run is
//! skipped and counted, and the next one is due a period later, so a slow
//! run never piles up a backlog. Rejected: running the missed ones back to
//! back afterwards, which makes a slow job slower still.

use heapless::Deque;

use crate::limits::MAX_RESTARTS;

/// How a supervised worknode is restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Restarts allowed within any `window_ms` (at most [`MAX_RESTARTS`]).
    pub max_restarts: u8,
    /// The intensity window.
    pub window_ms: u64,
    /// Delay before the first restart of a burst.
    pub backoff_min_ms: u64,
    /// Longest delay before a restart.
    pub backoff_max_ms: u64,
}

/// Why a policy was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyError {
    /// No restart allowed, or more than [`MAX_RESTARTS`].
    Restarts,
    /// A zero window, or a backoff of zero or above its maximum.
    Times,
}

impl Policy {
    /// Checks the policy.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.max_restarts == 0 || usize::from(self.max_restarts) > MAX_RESTARTS {
            return Err(PolicyError::Restarts);
        }
        if self.window_ms == 0 || self.backoff_min_ms == 0 || self.backoff_min_ms > self.backoff_max_ms {
            return Err(PolicyError::Times);
        }
        Ok(())
    }
}

/// What to do after a supervised worknode stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Start it again at this time.
    Restart {
        /// When (ms, the governor's clock).
        at_ms: u64,
    },
    /// The intensity limit is reached: stop it for good and tell the
    /// principal.
    GiveUp,
}

/// The restart history of one supervised worknode.
#[derive(Clone, Debug)]
pub struct Supervisor {
    policy: Policy,
    /// When each restart within the window was decided, oldest first.
    recent: Deque<u64, MAX_RESTARTS>,
    given_up: bool,
}

impl Supervisor {
    /// A worknode under `policy`, which must be valid.
    pub fn new(policy: Policy) -> Result<Supervisor, PolicyError> {
        policy.validate()?;
        Ok(Supervisor { policy, recent: Deque::new(), given_up: false })
    }

    /// The worknode stopped (a fault or an exit) at `now_ms`: restart it,
    /// or give up. Giving up is final.
    pub fn stopped(&mut self, now_ms: u64) -> Decision {
        if self.given_up {
            return Decision::GiveUp;
        }
        let window = self.policy.window_ms;
        // Forget restarts that left the window. Bounded by the deque's
        // capacity. (Not `t <= now - window`: early in the clock's life
        // that subtraction would have to saturate, forgetting everything.)
        while self.recent.front().is_some_and(|&t| now_ms.saturating_sub(t) >= window) {
            self.recent.pop_front();
        }
        if self.recent.len() >= usize::from(self.policy.max_restarts) {
            self.given_up = true;
            return Decision::GiveUp;
        }
        // The n-th restart of a burst waits min * 2^n, capped.
        let doublings = self.recent.len().min(63) as u32;
        let delay =
            self.policy.backoff_min_ms.saturating_mul(1u64 << doublings).min(self.policy.backoff_max_ms);
        // Not full: fewer than max_restarts <= MAX_RESTARTS are held.
        let _ = self.recent.push_back(now_ms);
        debug_assert!(self.recent.len() <= usize::from(self.policy.max_restarts));
        Decision::Restart { at_ms: now_ms.saturating_add(delay) }
    }

    /// Restarts decided within the window that ends at `now_ms`.
    pub fn recent_restarts(&self, now_ms: u64) -> usize {
        self.recent.iter().filter(|&&t| now_ms.saturating_sub(t) < self.policy.window_ms).count()
    }

    /// Whether the intensity limit stopped it for good.
    pub fn given_up(&self) -> bool {
        self.given_up
    }
}

/// What to do for a scheduled worknode at a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tick {
    /// Nothing is due.
    Wait,
    /// Start a run now.
    Start,
    /// A run was due but the previous one is still going: this one is
    /// skipped (and counted).
    Skip,
}

/// The schedule of one scheduled worknode.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    period_ms: u64,
    next_ms: u64,
    running: bool,
    skipped: u64,
    runs: u64,
}

impl Schedule {
    /// Runs every `period_ms` (non-zero) from `first_ms`.
    pub fn new(first_ms: u64, period_ms: u64) -> Option<Schedule> {
        (period_ms > 0).then_some(Schedule {
            period_ms,
            next_ms: first_ms,
            running: false,
            skipped: 0,
            runs: 0,
        })
    }

    /// Decides at `now_ms`. At most one decision per due time: the next one
    /// is due a period later (several periods later if the governor was
    /// not asked for a while: missed times are skipped, not replayed).
    pub fn tick(&mut self, now_ms: u64) -> Tick {
        if now_ms < self.next_ms {
            return Tick::Wait;
        }
        let periods = (now_ms - self.next_ms) / self.period_ms + 1;
        self.next_ms = self.next_ms.saturating_add(periods.saturating_mul(self.period_ms));
        debug_assert!(self.next_ms > now_ms, "the next run is in the future");
        if self.running {
            self.skipped += 1;
            return Tick::Skip;
        }
        self.running = true;
        self.runs += 1;
        Tick::Start
    }

    /// The run started by the last [`Tick::Start`] ended.
    pub fn finished(&mut self) {
        self.running = false;
    }

    /// When the next run is due.
    pub fn next_ms(&self) -> u64 {
        self.next_ms
    }

    /// Runs started and due times skipped so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.runs, self.skipped)
    }

    /// Whether a run is going.
    pub fn running(&self) -> bool {
        self.running
    }
}
