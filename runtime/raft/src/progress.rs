//! The leader's view of each follower: how much of the log it holds and how
//! much may be sent to it now (flow control, as in etcd-raft).
//!
//! A follower is in one of three states:
//! - `Probe`: its position is unknown; one append at a time, then wait for
//!   the answer (or the next heartbeat answer) before sending another;
//! - `Replicate`: its position is known; appends are pipelined, optimistically
//!   advancing `next`, up to [`MAX_INFLIGHT`] unacknowledged messages;
//! - `Snapshot`: a snapshot is on its way, one chunk at a time from
//!   `snapshot_offset`; nothing else is sent until the follower holds it. A
//!   chunk unanswered by the time a later heartbeat is answered is sent
//!   again.

use heapless::Deque;

use crate::limits::MAX_INFLIGHT;
use crate::types::{Index, NodeId};

/// Replication state of one follower.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// See the module documentation.
    Probe,
    /// See the module documentation.
    Replicate,
    /// See the module documentation; holds the snapshot's index.
    Snapshot(Index),
}

/// What the leader knows about one follower.
#[derive(Clone, Debug)]
pub struct Progress {
    /// The node.
    pub id: NodeId,
    /// Highest index known to match the leader's log.
    pub matched: Index,
    /// Next index to send.
    pub next: Index,
    /// Replication state.
    pub state: State,
    /// In `Probe`: an append was sent and not yet answered.
    pub probe_sent: bool,
    /// Last index of each unacknowledged append, oldest first.
    inflight: Deque<Index, MAX_INFLIGHT>,
    /// Heard from since the last check-quorum round.
    pub recent_active: bool,
    /// Leader tick at which this follower last answered (lease reads).
    pub last_heard: u64,
    /// In `Snapshot`: the offset of the chunk in flight.
    pub snapshot_offset: u64,
    /// In `Snapshot`: the leader tick at which that chunk was sent.
    pub chunk_tick: u64,
    /// Leader tick at which this follower last advanced: a higher match,
    /// a chunk of its snapshot taken, or its place found by a refusal.
    pub advanced_at: u64,
}

impl Progress {
    /// A follower about to be probed from `next`.
    pub fn new(id: NodeId, next: Index) -> Progress {
        Progress {
            id,
            matched: 0,
            next,
            state: State::Probe,
            probe_sent: false,
            inflight: Deque::new(),
            recent_active: false,
            last_heard: 0,
            snapshot_offset: 0,
            chunk_tick: 0,
            advanced_at: 0,
        }
    }

    /// Whether nothing more may be sent for now.
    pub fn is_paused(&self, max_inflight: usize) -> bool {
        match self.state {
            State::Probe => self.probe_sent,
            State::Replicate => self.inflight.len() >= max_inflight.min(MAX_INFLIGHT),
            State::Snapshot(_) => true,
        }
    }

    /// Switches to probing from just after the known match.
    pub fn become_probe(&mut self) {
        if let State::Snapshot(at) = self.state {
            self.next = self.matched.max(at) + 1;
        } else {
            self.next = self.matched + 1;
        }
        self.state = State::Probe;
        self.probe_sent = false;
        self.inflight.clear();
    }

    /// Switches to pipelining.
    pub fn become_replicate(&mut self) {
        self.state = State::Replicate;
        self.next = self.matched + 1;
        self.probe_sent = false;
        self.inflight.clear();
    }

    /// Switches to waiting for a snapshot at `index`.
    pub fn become_snapshot(&mut self, index: Index) {
        self.state = State::Snapshot(index);
        self.snapshot_offset = 0;
        self.probe_sent = false;
        self.inflight.clear();
    }

    /// Records that an append ending at `last` was sent.
    pub fn sent(&mut self, last: Index, entries: usize) {
        match self.state {
            State::Replicate => {
                if entries > 0 {
                    self.next = last + 1;
                    // Not full: the caller checked `is_paused` first.
                    let _ = self.inflight.push_back(last);
                }
            }
            State::Probe => self.probe_sent = true,
            State::Snapshot(_) => unreachable!("nothing is appended while a snapshot is in flight"),
        }
    }

    /// In `Replicate` with a full window, forgets the oldest in-flight append.
    pub fn free_oldest_if_full(&mut self, max_inflight: usize) {
        if self.state == State::Replicate && self.inflight.len() >= max_inflight.min(MAX_INFLIGHT) {
            self.inflight.pop_front();
        }
    }

    /// A successful answer up to `index`. Returns whether it was news.
    pub fn update(&mut self, index: Index) -> bool {
        let news = index > self.matched;
        if news {
            self.matched = index;
            self.probe_sent = false;
        }
        self.next = self.next.max(index + 1);
        while self.inflight.front().is_some_and(|&last| last <= index) {
            self.inflight.pop_front();
        }
        news
    }

    /// A refusal of an append at `rejected` with the follower's hint.
    /// Returns false for a stale refusal, which is ignored.
    pub fn decrease_to(&mut self, rejected: Index, hint: Index) -> bool {
        if rejected >= self.matched && hint < self.matched {
            // It refuses its match or past it, and says its log ends
            // before it: it lost its log (a node back on a new disk
            // prepared with `worknode disk join`, under the same id),
            // or the refusal is stale. Probe it from its
            // hint. Safe: `matched` only counts toward commits, and the
            // commit index never goes back. Rejected: ignoring it as
            // stale, which probed above the empty log for ever (a storm
            // of refused appends on the wiped node, seen once on QEMU
            // and in the host test that holds the apply back).
            self.matched = hint;
            self.next = hint + 1;
            if self.state == State::Replicate {
                self.state = State::Probe;
                self.inflight.clear();
            }
            self.probe_sent = false;
            return true;
        }
        if self.state == State::Replicate {
            // Only the refusal of the first unmatched index is news.
            if rejected <= self.matched {
                return false;
            }
            self.next = self.matched + 1;
            return true;
        }
        if rejected + 1 != self.next {
            return false;
        }
        self.next = (hint + 1).min(rejected).max(self.matched + 1);
        self.probe_sent = false;
        true
    }
}
