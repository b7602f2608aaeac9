//! Strong events in flight: the governor's side of the queue to the node's
//! Raft PD (`worknode_abi::strong`).
//!
//! A Strong event is decided and audited like any record; then it gets a
//! *ticket* and goes to the Raft PD's queue. From there it is *queued*
//! (on the ring, not yet taken), *proposed* (taken: Raft knows it by a
//! sequence number), then *settled* (committed, or refused) until its
//! worknode takes the outcome. Every ticket held counts against two
//! bounds: [`STRONG_PENDING`] for the node and [`STRONG_PER_WORKNODE`] for
//! its worknode, so a worknode that never takes its outcomes blocks only
//! itself. Past either, `RecordStrong` is `exhausted`, and the worknode is
//! notified when an outcome frees room.
//!
//! The Raft PD takes proposals in ring order and says what became of each
//! in that order ([`Strong::taken`]): a refusal names no ticket, so it is
//! matched to the oldest queued one. An outcome names its ticket, and one
//! naming a ticket not proposed here is dropped and counted.
//!
//! A worknode's read of a Strong event (`ReadStrong`) holds a ticket the
//! same way, on the same ring and under the same bounds: it is settled by
//! the Raft PD's answer ([`Strong::answered`]) instead of an outcome, and
//! neither settles a ticket of the other kind.

use heapless::{Deque, Vec};
use worknode_abi::ErrorCode;
use worknode_abi::governor::StrongRead;
use worknode_authority::Millis;

use crate::limits::{LATENCY_BUCKET_MS, LATENCY_BUCKETS, STRONG_PENDING, STRONG_PER_WORKNODE};

/// A ticket's state.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant, reason = "in a fixed table of STRONG_PENDING; no allocator to box it")]
enum State {
    Queued,
    Proposed,
    Settled(Outcome),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Held {
    worknode: u16,
    ticket: u64,
    /// A read's ticket, not an event's.
    read: bool,
    state: State,
    /// When it was queued (the governor's clock).
    queued_at: Millis,
}

/// What became of a ticket.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant, reason = "in a fixed table of STRONG_PENDING; no allocator to box it")]
pub enum Outcome {
    /// The event was committed at this Raft log index.
    Committed(u64),
    /// The read was answered.
    Read(ReadResult),
    /// The Raft PD refused the event or the read.
    Failed(ErrorCode),
}

/// A read's answer, as the worknode takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadResult {
    /// The number it named.
    pub number: u64,
    /// Strong events committed, as applied on this node.
    pub count: u64,
    /// The Raft log index applied on this node.
    pub index: u64,
    /// What it found.
    pub found: StrongRead,
}

/// An outcome a worknode takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settled {
    /// The event's or the read's ticket.
    pub ticket: u64,
    /// What became of it.
    pub outcome: Outcome,
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Strong {
    /// Every ticket held, oldest first.
    held: Vec<Held, STRONG_PENDING>,
    /// Tickets on the ring, oldest first (the order the Raft PD answers in).
    queued: Deque<u64, STRONG_PENDING>,
    /// The last ticket given.
    last_ticket: u64,
    /// Worknodes (bits: their index) to notify at the next news.
    waiting: u64,
    /// Outcomes that named no ticket proposed here, and answers to a ring
    /// this end had no proposal on.
    pub dropped: u64,
    /// Events committed since boot.
    pub committed: u64,
    /// Reads answered since boot.
    pub reads: u64,
    /// How long committed events took, from the queue to their outcome:
    /// counts per [`LATENCY_BUCKET_MS`] bucket, the last for all longer.
    latency: Latency,
}

/// A histogram of latencies in fixed buckets (no allocation, bounded).
#[derive(Debug)]
struct Latency([u32; LATENCY_BUCKETS]);

impl Default for Latency {
    fn default() -> Latency {
        Latency([0; LATENCY_BUCKETS])
    }
}

impl Strong {
    /// Whether `worknode` may queue another event.
    pub fn room(&self, worknode: u16) -> bool {
        let mine = self.held.iter().filter(|h| h.worknode == worknode).count();
        !self.held.is_full() && mine < STRONG_PER_WORKNODE
    }

    /// The next ticket (unique since boot; the first is 1).
    pub fn ticket(&mut self) -> u64 {
        self.last_ticket += 1;
        self.last_ticket
    }

    /// `ticket` of `worknode` is on the ring, for an event or a `read`.
    /// Checked by [`Strong::room`] before: an error here is the caller's
    /// bug.
    pub fn queued(&mut self, worknode: u16, ticket: u64, read: bool, now: Millis) -> Result<(), ErrorCode> {
        debug_assert!(self.room(worknode), "room was checked before the record");
        let held = Held { worknode, ticket, read, state: State::Queued, queued_at: now };
        self.held.push(held).map_err(|_| ErrorCode::Exhausted)?;
        self.queued.push_back(ticket).map_err(|_| ErrorCode::Internal)?;
        debug_assert!(self.queued.len() <= self.held.len(), "every queued ticket is held");
        Ok(())
    }

    /// The Raft PD took the oldest queued proposal (`Ok`: its sequence
    /// number) or refused it. Returns the worknode whose event was refused.
    pub fn taken(&mut self, answer: Result<u64, ErrorCode>) -> Option<u16> {
        let Some(ticket) = self.queued.pop_front() else {
            self.dropped += 1;
            return None;
        };
        // Settled already (its outcome overtook this answer), or taken by
        // its worknode since: nothing left to do.
        let held = self.held.iter_mut().find(|h| h.ticket == ticket && h.state == State::Queued)?;
        match answer {
            Ok(_) => {
                held.state = State::Proposed;
                None
            }
            Err(error) => {
                held.state = State::Settled(Outcome::Failed(error));
                Some(held.worknode)
            }
        }
    }

    /// The outcome of `ticket`, proposed by `worknode`, came: committed at
    /// `index`, at `now`. Returns whether it named a ticket proposed here.
    pub fn committed(&mut self, worknode: u16, ticket: u64, index: u64, now: Millis) -> bool {
        let Some(held) = self.unsettled(worknode, ticket, false) else {
            self.dropped += 1;
            return false;
        };
        // If still queued, the ring's answer is moot: it still pops this
        // ticket (the order stays) and finds it settled.
        held.state = State::Settled(Outcome::Committed(index));
        let queued_at = held.queued_at;
        self.committed += 1;
        let bucket = now.saturating_sub(queued_at) / LATENCY_BUCKET_MS;
        let bucket = usize::try_from(bucket).unwrap_or(usize::MAX).min(LATENCY_BUCKETS - 1);
        self.latency.0[bucket] = self.latency.0[bucket].saturating_add(1);
        true
    }

    /// The answer to the read `ticket` of `worknode` came. Returns whether
    /// it named a read asked here and not yet answered.
    pub fn answered(&mut self, worknode: u16, ticket: u64, result: ReadResult) -> bool {
        let Some(held) = self.unsettled(worknode, ticket, true) else {
            self.dropped += 1;
            return false;
        };
        held.state = State::Settled(Outcome::Read(result));
        self.reads += 1;
        true
    }

    /// The ticket of `worknode`, of the kind `read` says, not settled yet.
    fn unsettled(&mut self, worknode: u16, ticket: u64, read: bool) -> Option<&mut Held> {
        // Proposed, or still queued: the outcome may overtake the ring's
        // answer (the Raft PD hands the buffer back when it takes it, but
        // this end reads the two rings in either order).
        self.held.iter_mut().find(|h| {
            h.ticket == ticket
                && h.worknode == worknode
                && h.read == read
                && matches!(h.state, State::Queued | State::Proposed)
        })
    }

    /// The latency (ms, its bucket's upper bound) that `percent` % of the
    /// committed events took at most; `None` before any. The last bucket
    /// stands for every longer one: its bound is a floor.
    pub fn latency_percentile(&self, percent: u64) -> Option<Millis> {
        let total: u64 = self.latency.0.iter().map(|&n| u64::from(n)).sum();
        if total == 0 {
            return None;
        }
        let want = (total * percent).div_ceil(100).max(1);
        let mut seen = 0;
        for (bucket, &n) in self.latency.0.iter().enumerate() {
            seen += u64::from(n);
            if seen >= want {
                return Some((bucket as Millis + 1) * LATENCY_BUCKET_MS);
            }
        }
        None
    }

    /// Takes the oldest settled outcome of `worknode`.
    pub fn take(&mut self, worknode: u16) -> Option<Settled> {
        let at =
            self.held.iter().position(|h| h.worknode == worknode && matches!(h.state, State::Settled(_)))?;
        let held = self.held.remove(at);
        let State::Settled(outcome) = held.state else { return None };
        debug_assert!(!matches!(outcome, Outcome::Read(_)) || held.read, "only a read is answered");
        Some(Settled { ticket: held.ticket, outcome })
    }

    /// `worknode` waits for news: room, or an outcome.
    pub fn wait(&mut self, worknode: usize) {
        if worknode < 64 {
            self.waiting |= 1 << worknode;
        }
    }

    /// The worknodes waiting for news, forgotten.
    pub fn take_waiting(&mut self) -> u64 {
        core::mem::take(&mut self.waiting)
    }

    /// Tickets held: on the ring, proposed, or settled and not yet taken.
    pub fn held(&self) -> usize {
        self.held.len()
    }
}
