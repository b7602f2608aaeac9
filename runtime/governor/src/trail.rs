//! Audit records waiting for the event log.
//!
//! A worknode may ask for something (a console line) before the log PD has
//! recovered the disk. Its audit record is made at once, as the decision
//! is, and waits here, in order, until the log is ready; then the governor
//! writes them all before anything newer. The queue is bounded: when it is
//! full the action is refused, because an action whose record cannot be
//! kept must not happen.

use heapless::{Deque, Vec};
use worknode_abi::log::MAX_RECORD;

/// Records the queue holds.
pub const WAITING: usize = 16;

/// An encoded audit record.
pub type Encoded = Vec<u8, MAX_RECORD>;

/// The trail holds [`WAITING`] records already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Trail {
    waiting: Deque<Encoded, WAITING>,
}

impl Trail {
    /// An empty queue.
    pub const fn new() -> Trail {
        Trail { waiting: Deque::new() }
    }

    /// Keeps `record` until the log is ready; `Err` (and nothing kept) when
    /// the queue is full.
    pub fn hold(&mut self, record: Encoded) -> Result<(), Full> {
        self.waiting.push_back(record).map_err(|_| Full)
    }

    /// The oldest waiting record, removed.
    pub fn take_oldest(&mut self) -> Option<Encoded> {
        self.waiting.pop_front()
    }

    /// How many records wait.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_leave_in_order_and_a_full_queue_refuses() {
        let mut t = Trail::new();
        for i in 0..WAITING as u8 {
            t.hold(Vec::from_slice(&[i]).unwrap()).unwrap();
        }
        assert_eq!(t.hold(Vec::from_slice(&[99]).unwrap()), Err(Full));
        assert_eq!(t.len(), WAITING);
        for i in 0..WAITING as u8 {
            assert_eq!(t.take_oldest().unwrap().as_slice(), &[i]);
        }
        assert!(t.is_empty() && t.take_oldest().is_none());
    }
}
