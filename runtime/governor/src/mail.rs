//! Mail from other nodes: each worknode's mailbox, the message that waits
//! for room, and the children that wait for the network.
//!
//! Mail is taken from the network PD only while it can be placed: a
//! message whose addressee's mailbox is full is *held*, and nothing more
//! is taken until the addressee makes room, so the network PD's buffer
//! and then the TCP window fill and the sender waits (back-pressure; one
//! full mailbox holds up the node's mail, which is the price of never
//! dropping). Rejected: one queue for every child, where a child that
//! never receives would hold the others up the same way, with less room.

use heapless::{Deque, Vec};
use worknode_abi::governor::MAX_MESSAGE;

use crate::limits::{MAILBOX, MAX_CHILDREN};

/// A message in a mailbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mailed {
    /// The sending node.
    pub node: u8,
    /// The sending worknode's index on that node.
    pub from: u16,
    /// The message.
    pub body: Vec<u8, MAX_MESSAGE>,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Mailboxes {
    boxes: [Deque<Mailed, MAILBOX>; MAX_CHILDREN],
    /// Taken from the network, waiting for room in its addressee's box.
    held: Option<(usize, Mailed)>,
    /// Children told `invalid-state` or `exhausted` by a send, to be
    /// notified when the network has news (bit = index).
    waiting: u64,
    /// Mail dropped: undecodable, of another version, or for no ready
    /// child.
    pub dropped: u32,
    /// Mail placed in a mailbox.
    pub delivered: u32,
}

impl Default for Mailboxes {
    fn default() -> Self {
        Mailboxes {
            boxes: [const { Deque::new() }; MAX_CHILDREN],
            held: None,
            waiting: 0,
            dropped: 0,
            delivered: 0,
        }
    }
}

impl Mailboxes {
    /// Takes the oldest message in child `index`'s mailbox.
    pub fn take(&mut self, index: usize) -> Option<Mailed> {
        self.boxes.get_mut(index)?.pop_front()
    }

    /// Messages waiting in child `index`'s mailbox.
    pub fn len(&self, index: usize) -> usize {
        self.boxes.get(index).map_or(0, Deque::len)
    }

    /// Whether every mailbox is empty and nothing is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_none() && self.boxes.iter().all(Deque::is_empty)
    }

    /// Holds `mail` for child `index` until [`Mailboxes::place_held`]
    /// finds room. Only when nothing is held.
    pub fn hold(&mut self, index: usize, mail: Mailed) {
        debug_assert!(self.held.is_none(), "one held message at most");
        self.held = Some((index, mail));
    }

    /// Whether a message is held.
    pub fn holding(&self) -> bool {
        self.held.is_some()
    }

    /// Places the held message: `Some(index)` if it went into child
    /// `index`'s box; `None` if its box is still full (it stays held) or
    /// nothing was held. `deliverable` says whether a child may still get
    /// mail (a message for one that may not is dropped).
    pub fn place_held(&mut self, deliverable: impl Fn(usize) -> bool) -> Option<usize> {
        let (index, mail) = self.held.take()?;
        if !deliverable(index) {
            self.dropped = self.dropped.saturating_add(1);
            return None;
        }
        let Some(mailbox) = self.boxes.get_mut(index) else {
            self.dropped = self.dropped.saturating_add(1);
            return None;
        };
        if mailbox.is_full() {
            self.held = Some((index, mail));
            return None;
        }
        let _ = mailbox.push_back(mail);
        self.delivered = self.delivered.saturating_add(1);
        Some(index)
    }

    /// Notes that child `index` waits for news from the network.
    pub fn wait(&mut self, index: usize) {
        if index < 64 {
            self.waiting |= 1 << index;
        }
    }

    /// The children waiting for news, forgotten as they are returned.
    pub fn take_waiting(&mut self) -> u64 {
        core::mem::take(&mut self.waiting)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    fn mail(n: u8) -> Mailed {
        Mailed { node: 1, from: 2, body: Vec::from_slice(&[n]).unwrap() }
    }

    #[test]
    fn a_full_box_holds_the_message_until_there_is_room() {
        let mut m = Mailboxes::default();
        for n in 0..MAILBOX as u8 {
            m.hold(3, mail(n));
            assert_eq!(m.place_held(|_| true), Some(3));
        }
        m.hold(3, mail(9));
        assert_eq!(m.place_held(|_| true), None, "full: held");
        assert!(m.holding());
        assert_eq!(m.take(3), Some(mail(0)));
        assert_eq!(m.place_held(|_| true), Some(3), "room: placed");
        assert_eq!((m.delivered, m.dropped), (MAILBOX as u32 + 1, 0));
        let order: std::vec::Vec<_> = core::iter::from_fn(|| m.take(3)).collect();
        assert_eq!(order.last(), Some(&mail(9)), "in the order taken from the network");
        assert!(m.is_empty());
    }

    #[test]
    fn mail_for_a_child_that_may_not_have_it_is_dropped_and_counted() {
        let mut m = Mailboxes::default();
        m.hold(1, mail(0));
        assert_eq!(m.place_held(|i| i != 1), None);
        assert!(!m.holding());
        m.hold(MAX_CHILDREN + 5, mail(0));
        assert_eq!(m.place_held(|_| true), None, "no such box");
        assert_eq!(m.dropped, 2);
    }

    #[test]
    fn waiting_children_are_told_once() {
        let mut m = Mailboxes::default();
        m.wait(0);
        m.wait(5);
        m.wait(200);
        assert_eq!(m.take_waiting(), 0b10_0001);
        assert_eq!(m.take_waiting(), 0);
    }
}
