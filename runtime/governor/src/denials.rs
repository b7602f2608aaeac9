//! Which denials the governor prints on the console.
//!
//! Every denial is audited, durably, whatever happens here: this only
//! decides which ones also get a console line. A worknode that retries a
//! refused action in a loop would otherwise turn the console into a log of
//! its retries and push the principal's own output out of sight. So a
//! denial is printed when it is news: the first for its worknode, one that
//! differs from the last printed (reason, action or resource), or the
//! first after the same action on the same resource was allowed. The line
//! then says how many repeats went unprinted since the last one. Other
//! allowed actions in between (the worknode logging that it was refused)
//! do not make a repeat news. Rejected: a rate limit in time (needs a
//! timer in the decision and still prints the same line over and over).

use worknode_authority::{Actions, Reason};

use crate::roster::MAX_CHILDREN;

/// What the console should show of a denial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    /// Print it; `repeats` earlier denials of this worknode were audited
    /// without a line since the last one printed.
    Print {
        /// Unprinted repeats before this one.
        repeats: u32,
    },
    /// A repeat of the last printed denial: audited only.
    Repeat,
}

/// A denial, as far as telling repeats apart goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Denial {
    reason: Reason,
    action: Actions,
    resource: u32,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Denials {
    last: [Option<Denial>; MAX_CHILDREN],
    repeats: [u32; MAX_CHILDREN],
}

impl Default for Denials {
    fn default() -> Self {
        Denials::new()
    }
}

impl Denials {
    /// Nothing denied yet.
    pub const fn new() -> Denials {
        Denials { last: [None; MAX_CHILDREN], repeats: [0; MAX_CHILDREN] }
    }

    /// Child `child` was denied `action` on `resource` for `reason`.
    /// Children beyond the table (none exist: the roster has the same
    /// bound) are always printed.
    pub fn denied(&mut self, child: usize, reason: Reason, action: Actions, resource: u32) -> Shown {
        let (Some(last), Some(repeats)) = (self.last.get_mut(child), self.repeats.get_mut(child)) else {
            return Shown::Print { repeats: 0 };
        };
        let denial = Denial { reason, action, resource };
        if *last == Some(denial) {
            *repeats = repeats.saturating_add(1);
            return Shown::Repeat;
        }
        *last = Some(denial);
        Shown::Print { repeats: core::mem::take(repeats) }
    }

    /// Child `child` was allowed `action` on `resource`: a denial of the
    /// same is news again.
    pub fn allowed(&mut self, child: usize, action: Actions, resource: u32) {
        if let Some(last) = self.last.get_mut(child)
            && last.is_some_and(|d| d.action == action && d.resource == resource)
        {
            *last = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: Actions = Actions::RECORD;

    #[test]
    fn repeats_are_counted_not_printed_and_news_is_printed() {
        let mut d = Denials::new();
        assert_eq!(d.denied(2, Reason::NoCapability, R, 100), Shown::Print { repeats: 0 });
        assert_eq!(d.denied(2, Reason::NoCapability, R, 100), Shown::Repeat);
        assert_eq!(d.denied(2, Reason::NoCapability, R, 100), Shown::Repeat);
        assert_eq!(d.denied(1, Reason::NoCapability, R, 100), Shown::Print { repeats: 0 }, "per worknode");
        assert_eq!(
            d.denied(2, Reason::NoCapability, R, 101),
            Shown::Print { repeats: 2 },
            "another resource"
        );
        assert_eq!(d.denied(2, Reason::NoCapability, Actions::SEND, 101), Shown::Print { repeats: 0 });
        assert_eq!(
            d.denied(2, Reason::Expired, Actions::SEND, 101),
            Shown::Print { repeats: 0 },
            "a new reason"
        );
        d.allowed(2, Actions::LOG, 2);
        assert_eq!(
            d.denied(2, Reason::Expired, Actions::SEND, 101),
            Shown::Repeat,
            "other actions are not news"
        );
        d.allowed(2, Actions::SEND, 101);
        assert_eq!(
            d.denied(2, Reason::Expired, Actions::SEND, 101),
            Shown::Print { repeats: 1 },
            "news once the same action was allowed"
        );
        assert_eq!(d.denied(MAX_CHILDREN, Reason::Halted, R, 0), Shown::Print { repeats: 0 });
    }
}
