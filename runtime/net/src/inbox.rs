//! A port's inbox: the messages delivered to one client and not yet
//! taken, oldest first, in fixed slots written in place.
//!
//! A message is copied once, from the frame it was decoded from into its
//! slot, and read where it lies. Rejected: a `heapless::Deque` of owned
//! messages, each of which carries room for the largest body (2 KiB):
//! building, pushing, popping and returning one moved those 2 KiB four or
//! five times over, whatever the body's length (`make bench-net`'s
//! profile: most of a receiving node's instructions in `memcpy`).

use worknode_netmsg::MAX_BODY;

use crate::limits::INBOX;

/// A message delivered to a port, as the client reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// The sending node.
    pub from: u8,
    /// Its number on the sender's stream.
    pub seq: u64,
    /// The payload.
    pub body: &'a [u8],
}

struct Slot {
    from: u8,
    seq: u64,
    len: usize,
    body: [u8; MAX_BODY],
}

/// At most [`INBOX`] messages, in the order they were delivered.
pub struct Inbox {
    slots: [Slot; INBOX],
    /// The oldest message's slot, and how many there are.
    head: usize,
    len: usize,
}

/// The inbox is full: the message stays where it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

impl Inbox {
    /// An empty inbox.
    pub const fn new() -> Inbox {
        const EMPTY: Slot = Slot { from: 0, seq: 0, len: 0, body: [0; MAX_BODY] };
        Inbox { slots: [EMPTY; INBOX], head: 0, len: 0 }
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no message waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether another message would not fit.
    pub fn is_full(&self) -> bool {
        self.len == INBOX
    }

    /// Appends a message, copying its body into the next free slot.
    pub fn push(&mut self, from: u8, seq: u64, body: &[u8]) -> Result<(), Full> {
        assert!(body.len() <= MAX_BODY, "an envelope's body is bounded by MAX_BODY when decoded");
        if self.is_full() {
            return Err(Full);
        }
        let slot = &mut self.slots[(self.head + self.len) % INBOX];
        slot.from = from;
        slot.seq = seq;
        slot.len = body.len();
        slot.body[..body.len()].copy_from_slice(body);
        self.len += 1;
        Ok(())
    }

    /// The oldest message, left in place.
    pub fn front(&self) -> Option<Message<'_>> {
        if self.is_empty() {
            return None;
        }
        let slot = &self.slots[self.head];
        Some(Message { from: slot.from, seq: slot.seq, body: &slot.body[..slot.len] })
    }

    /// Forgets the oldest message.
    pub fn pop(&mut self) {
        if !self.is_empty() {
            self.head = (self.head + 1) % INBOX;
            self.len -= 1;
        }
        debug_assert!(self.head < INBOX && self.len <= INBOX);
    }
}

impl Default for Inbox {
    fn default() -> Self {
        Inbox::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_come_out_in_order_and_whole_across_the_wrap() {
        let mut inbox = Inbox::new();
        let mut next_in = 0u64;
        let mut next_out = 0u64;
        for round in 0..5 {
            while inbox.push(1, next_in, &[next_in as u8; 3][..(next_in % 4) as usize]).is_ok() {
                next_in += 1;
            }
            assert!(inbox.is_full(), "round {round}");
            for _ in 0..INBOX / 2 + round % 2 {
                let m = inbox.front().expect("not empty");
                assert_eq!((m.from, m.seq), (1, next_out));
                assert_eq!(m.body, &[next_out as u8; 3][..(next_out % 4) as usize]);
                inbox.pop();
                next_out += 1;
            }
        }
        assert_eq!(inbox.len() as u64, next_in - next_out);
        assert_eq!(inbox.push(2, 0, &[0; 1]), if inbox.is_full() { Err(Full) } else { Ok(()) });
    }

    #[test]
    fn a_full_inbox_refuses_and_keeps_what_it_holds() {
        let mut inbox = Inbox::new();
        for seq in 0..INBOX as u64 {
            inbox.push(0, seq, b"x").unwrap();
        }
        assert_eq!(inbox.push(0, 99, b"y"), Err(Full));
        assert_eq!(inbox.front().map(|m| m.seq), Some(0));
        for _ in 0..INBOX {
            inbox.pop();
        }
        assert!(inbox.is_empty() && inbox.front().is_none());
        inbox.pop();
        assert!(inbox.is_empty(), "popping an empty inbox changes nothing");
    }
}
