//! Denials: which are recorded at once, which are counted, and which get a
//! console line.
//!
//! A denial is part of no action (nothing happened), but it is evidence,
//! so it is recorded, and a worknode can ask for what it may not have as
//! fast as it can call. So denials come in *runs*: consecutive identical
//! denials of one worknode (same reason, action, resource and capability;
//! the payload may differ). The first of a run is recorded before the
//! refusal is answered, like any decision. The repeats are counted, and
//! their count is written as one record (`repeats = N`) when the run ends:
//! when the worknode's next record is written (anything else it does, or a
//! different denial), when the principal acts on it or lists, or every
//! [`REPEAT_FLUSH`] repeats. So a flooding worknode costs one record per
//! `REPEAT_FLUSH` requests, and a power cut loses the count of at most
//! `REPEAT_FLUSH - 1` repeats of one run per worknode, never a decision
//! that allowed anything.
//!
//! Console lines are rarer still: a denial is printed when it is news for
//! its worknode (a new reason, action or resource, or the first since the
//! same action on the same resource was allowed), with how many were not
//! printed since the last line. Rejected: a rate limit in time (needs a
//! timer in the decision and still prints the same line over and over).

use worknode_abi::audit::What;
use worknode_authority::{CapId, Lineage, Millis, Reason};

use crate::limits::{MAX_CHILDREN, REPEAT_FLUSH};

/// What makes two denials the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    /// Why.
    pub reason: Reason,
    /// What was asked.
    pub what: What,
    /// On which resource.
    pub resource: u32,
    /// The capability that would have allowed it.
    pub cap: Option<CapId>,
}

/// An open run: its key, the lineage its records carry, and the repeats
/// not yet written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    /// The denial repeated.
    pub key: Key,
    /// Its lineage.
    pub lineage: Lineage,
    /// Repeats since the last record of the run.
    pub repeats: u32,
    /// When the last of them was decided.
    pub last_at: Millis,
}

/// What to do with a denial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// A repeat of the open run, counted; answer the refusal at once.
    Repeat {
        /// The count reached [`REPEAT_FLUSH`]: write it now
        /// ([`Coalescer::take_repeats`]).
        flush: bool,
    },
    /// Not a repeat: write its record (after closing the open run, if
    /// any), then [`Coalescer::open`] its run.
    New,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Coalescer {
    runs: [Option<Run>; MAX_CHILDREN],
    /// The last denial printed per worknode, and the unprinted ones since.
    printed: [Option<(Reason, What, u32)>; MAX_CHILDREN],
    unprinted: [u32; MAX_CHILDREN],
}

impl Default for Coalescer {
    fn default() -> Self {
        Coalescer::new()
    }
}

impl Coalescer {
    /// Nothing denied yet.
    pub const fn new() -> Coalescer {
        Coalescer { runs: [None; MAX_CHILDREN], printed: [None; MAX_CHILDREN], unprinted: [0; MAX_CHILDREN] }
    }

    /// Child `child` was denied as `key` at `now`.
    pub fn denied(&mut self, child: usize, key: Key, now: Millis) -> Seen {
        match self.runs.get_mut(child) {
            Some(Some(run)) if run.key == key => {
                run.repeats += 1;
                run.last_at = now;
                debug_assert!(run.repeats <= REPEAT_FLUSH);
                Seen::Repeat { flush: run.repeats >= REPEAT_FLUSH }
            }
            _ => Seen::New,
        }
    }

    /// The first denial of a run was recorded: later identical ones are
    /// its repeats.
    pub fn open(&mut self, child: usize, key: Key, lineage: Lineage, now: Millis) {
        if let Some(slot) = self.runs.get_mut(child) {
            debug_assert!(slot.is_none_or(|r| r.repeats == 0), "a run with unwritten repeats was replaced");
            *slot = Some(Run { key, lineage, repeats: 0, last_at: now });
        }
    }

    /// The child's open run if it has repeats to write; its count starts
    /// again from zero, the run stays open.
    pub fn take_repeats(&mut self, child: usize) -> Option<Run> {
        let run = self.runs.get_mut(child)?.as_mut()?;
        if run.repeats == 0 {
            return None;
        }
        let taken = *run;
        run.repeats = 0;
        Some(taken)
    }

    /// Puts back repeats whose record could not be written.
    pub fn restore(&mut self, child: usize, taken: Run) {
        if let Some(Some(run)) = self.runs.get_mut(child)
            && run.key == taken.key
        {
            run.repeats += taken.repeats;
        }
    }

    /// Ends the child's run (its repeats must have been taken).
    pub fn close(&mut self, child: usize) {
        if let Some(slot) = self.runs.get_mut(child) {
            debug_assert!(slot.is_none_or(|r| r.repeats == 0), "a run closed with unwritten repeats");
            *slot = None;
        }
    }

    /// Every child with repeats not yet written.
    pub fn pending(&self) -> impl Iterator<Item = usize> + '_ {
        self.runs.iter().enumerate().filter(|(_, r)| r.is_some_and(|r| r.repeats > 0)).map(|(i, _)| i)
    }

    /// Whether this denial gets a console line; if so, how many went
    /// unprinted since the last.
    pub fn news(&mut self, child: usize, reason: Reason, what: What, resource: u32) -> Option<u32> {
        let (Some(last), Some(unprinted)) = (self.printed.get_mut(child), self.unprinted.get_mut(child))
        else {
            return Some(0);
        };
        if *last == Some((reason, what, resource)) {
            *unprinted = unprinted.saturating_add(1);
            return None;
        }
        *last = Some((reason, what, resource));
        Some(core::mem::take(unprinted))
    }

    /// Child `child` was allowed `what` on `resource`: a denial of the same
    /// is news again.
    pub fn allowed(&mut self, child: usize, what: What, resource: u32) {
        if let Some(last) = self.printed.get_mut(child)
            && last.is_some_and(|(_, w, r)| w == what && r == resource)
        {
            *last = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: Key = Key { reason: Reason::NoCapability, what: What::Action(1), resource: 100, cap: None };

    #[test]
    fn a_run_counts_its_repeats_and_flushes_at_the_bound() {
        let mut c = Coalescer::new();
        assert_eq!(c.denied(2, KEY, 1), Seen::New);
        c.open(2, KEY, Lineage::default(), 1);
        for i in 1..REPEAT_FLUSH {
            assert_eq!(c.denied(2, KEY, 1 + u64::from(i)), Seen::Repeat { flush: false });
        }
        assert_eq!(c.denied(2, KEY, 9999), Seen::Repeat { flush: true });
        let run = c.take_repeats(2).unwrap();
        assert_eq!((run.repeats, run.last_at), (REPEAT_FLUSH, 9999));
        assert_eq!(c.take_repeats(2), None, "counted again from zero");
        assert_eq!(c.denied(2, KEY, 10_000), Seen::Repeat { flush: false }, "the run stays open");
        let other = Key { resource: 101, ..KEY };
        assert_eq!(c.denied(2, other, 10_001), Seen::New);
        assert_eq!(c.denied(1, KEY, 10_001), Seen::New, "runs are per worknode");
        assert_eq!(c.pending().collect::<heapless::Vec<usize, 4>>().as_slice(), &[2]);
        let taken = c.take_repeats(2).unwrap();
        c.restore(2, taken);
        assert_eq!(c.take_repeats(2).map(|r| r.repeats), Some(1), "restored after a failed write");
        c.close(2);
        assert_eq!(c.denied(2, KEY, 10_002), Seen::New);
    }

    #[test]
    fn repeats_are_counted_not_printed_and_news_is_printed() {
        let mut d = Coalescer::new();
        let r = What::Action(1);
        assert_eq!(d.news(2, Reason::NoCapability, r, 100), Some(0));
        assert_eq!(d.news(2, Reason::NoCapability, r, 100), None);
        assert_eq!(d.news(2, Reason::NoCapability, r, 100), None);
        assert_eq!(d.news(1, Reason::NoCapability, r, 100), Some(0), "per worknode");
        assert_eq!(d.news(2, Reason::NoCapability, r, 101), Some(2), "another resource");
        assert_eq!(d.news(2, Reason::Expired, r, 101), Some(0), "a new reason");
        d.allowed(2, What::Action(2), 2);
        assert_eq!(d.news(2, Reason::Expired, r, 101), None, "other actions are not news");
        d.allowed(2, r, 101);
        assert_eq!(d.news(2, Reason::Expired, r, 101), Some(1), "news once the same action was allowed");
        assert_eq!(d.news(MAX_CHILDREN, Reason::Halted, r, 0), Some(0));
    }
}
