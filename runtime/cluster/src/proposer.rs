//! This node's proposals: numbered, up to [`PIPELINE`] in flight,
//! acknowledged once applied on this node, resent when unanswered, and
//! resumed after a restart from a linearizable read.
//!
//! The ledger takes proposal `seq` of a proposer only when it is the one
//! after its last (`crate::ledger`), so proposals in flight are proposed
//! in order and one that overtakes a lost predecessor is skipped, not
//! taken out of order; after [`RETRY_TICKS`] without an acknowledgement
//! every proposal in flight is proposed again, in order (duplicates are
//! skipped). An acknowledgement is this node's own state machine taking
//! the proposal: a majority has it durable and committed.
//!
//! After a restart the proposer knows nothing of what it proposed. It
//! first reads linearizably (ReadIndex, [`Node::read`]) where its
//! proposals stand in the cluster, and numbers on from there: numbering
//! from its own node's ledger instead (its snapshot until the leader says
//! what is committed) would give an acknowledged proposal's number to a
//! new one (`make bite-check-cluster` shows it).
//!
//! The Raft PD (`pds/raft`) and the host test (`tests/three_nodes.rs`)
//! drive the same code. Rejected: one proposal in flight, the PD's first
//! form, which paid a commit round trip per event.

use heapless::{Deque, Vec};
use worknode_log::BlockDevice;
use worknode_raft::Index;
use worknode_raft::limits::MAX_DATA;

use crate::ledger::parse;
use crate::limits::{PIPELINE, RETRY_TICKS};
use crate::node::{Node, Transport};

/// The read context of the resume read; a node's other reads use others.
pub const RESUME_READ: u32 = 1;

/// A proposal in flight: its number, the caller's tag for it and its
/// bytes (kept to resend).
#[derive(Clone, Debug)]
struct Flight<T> {
    seq: u64,
    tag: T,
    data: Vec<u8, MAX_DATA>,
}

/// An acknowledged proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acked<T> {
    /// Its number.
    pub seq: u64,
    /// The caller's tag for it.
    pub tag: T,
    /// The Raft log index it was taken at (or of the snapshot it came in).
    pub index: Index,
}

/// Why a proposal was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotTaken {
    /// Not resumed yet, or [`PIPELINE`] in flight: wait.
    Busy,
    /// Its bytes are not this node's proposal numbered
    /// [`Proposer::next_seq`] (the caller's bug), or too long.
    Invalid,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Proposer<T> {
    me: u8,
    resumed: bool,
    /// The last proposal acknowledged (or resumed at).
    acked: u64,
    flights: Deque<Flight<T>, PIPELINE>,
    /// Ticks since the last acknowledgement, send or resend.
    since: u32,
}

impl<T: Copy> Proposer<T> {
    /// The proposer of node `me` (its proposer number: its Raft id less
    /// one), not resumed: its first [`Proposer::poll`] asks where its
    /// proposals stand. `resumed_at` skips the read and numbers on from
    /// there: a node that knows (a test), or a broken image (the bite
    /// check).
    pub fn new(me: u8, resumed_at: Option<u64>) -> Proposer<T> {
        Proposer {
            me,
            resumed: resumed_at.is_some(),
            acked: resumed_at.unwrap_or(0),
            flights: Deque::new(),
            since: RETRY_TICKS,
        }
    }

    /// Whether the resume read answered.
    pub fn resumed(&self) -> bool {
        self.resumed
    }

    /// The last proposal acknowledged.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Proposals in flight.
    pub fn in_flight(&self) -> usize {
        self.flights.len()
    }

    /// The number the next proposal must carry, if one may be made now.
    pub fn next_seq(&self) -> Option<u64> {
        (self.resumed && !self.flights.is_full()).then(|| self.acked + self.flights.len() as u64 + 1)
    }

    /// Before the ready loop, with the ticks since the last call: until
    /// resumed, asks (and asks again every [`RETRY_TICKS`]) where this
    /// node's proposals stand. Returns the number resumed at, once.
    pub fn poll<D: BlockDevice>(
        &mut self,
        node: &mut Node<'_, D>,
        ticks: u32,
        out: &mut impl Transport,
    ) -> Option<u64> {
        self.since = self.since.saturating_add(ticks);
        if self.resumed {
            return None;
        }
        if node.take_read(RESUME_READ) {
            self.resumed = true;
            self.acked = node.ledger().last.get(usize::from(self.me)).copied().unwrap_or(0);
            self.since = RETRY_TICKS;
            return Some(self.acked);
        }
        if self.since >= RETRY_TICKS && node.read(RESUME_READ, out).is_ok() {
            self.since = 0;
        }
        None
    }

    /// Proposes `data`, which must be this node's proposal numbered
    /// [`Proposer::next_seq`]; it stays in flight, resent as needed,
    /// until acknowledged. A proposal the node cannot make now (no known
    /// leader) is in flight all the same, and resent.
    pub fn propose<D: BlockDevice>(
        &mut self,
        node: &mut Node<'_, D>,
        tag: T,
        data: &[u8],
        out: &mut impl Transport,
    ) -> Result<u64, NotTaken> {
        let seq = self.next_seq().ok_or(NotTaken::Busy)?;
        if parse(data) != Some((self.me, seq)) {
            return Err(NotTaken::Invalid);
        }
        let data = Vec::from_slice(data).map_err(|_| NotTaken::Invalid)?;
        let sent = node.propose(&data, out).is_ok();
        self.flights.push_back(Flight { seq, tag, data }).map_err(|_| NotTaken::Busy)?;
        if sent && self.flights.len() == 1 {
            self.since = 0;
        }
        debug_assert!(
            self.flights.iter().zip(self.acked + 1..).all(|(f, s)| f.seq == s),
            "in order, no hole"
        );
        Ok(seq)
    }

    /// After the ready loop: hands `acked` every proposal in flight now
    /// taken on this node, oldest first, and resends the rest if none was
    /// acknowledged for [`RETRY_TICKS`]. Returns how many were
    /// acknowledged.
    pub fn settle<D: BlockDevice>(
        &mut self,
        node: &mut Node<'_, D>,
        out: &mut impl Transport,
        mut acked: impl FnMut(Acked<T>),
    ) -> usize {
        let last = node.ledger().last.get(usize::from(self.me)).copied().unwrap_or(0);
        let mut count = 0;
        if self.resumed && last > self.acked {
            // Bounded: at most PIPELINE in flight.
            while let Some(flight) = self.flights.front() {
                if flight.seq > last {
                    break;
                }
                let index = node.taken_index(flight.seq);
                acked(Acked { seq: flight.seq, tag: flight.tag, index });
                self.flights.pop_front();
                count += 1;
            }
            self.acked = last;
            self.since = 0;
        }
        if self.since >= RETRY_TICKS && !self.flights.is_empty() {
            self.since = 0;
            for flight in &self.flights {
                if node.propose(&flight.data, out).is_err() {
                    break;
                }
            }
        }
        debug_assert!(self.flights.front().is_none_or(|f| f.seq == self.acked + 1), "the oldest is next");
        count
    }
}
