//! Linearizable reads of the cluster's Strong events, asked for by this
//! node's worknodes (through the governor) and answered from this node.
//!
//! A read names a Strong event by its number (1, 2, 3, ... in the
//! cluster's order, as [`crate::ledger`] counts them). It is confirmed
//! with ReadIndex ([`Node::read`]: the leader notes its commit index and
//! confirms it still leads with a round of heartbeats to a quorum; a
//! follower asks the leader for that index), and answered once this
//! node has applied up to the confirmed index. So it sees every Strong
//! event acknowledged to any worknode, on any node, before it was asked:
//! the answer's `count` is at least that event's number, and its `index`
//! at least that event's index.
//!
//! The event's bytes come from the state machine's journal, which holds
//! the newest ones ([`crate::limits::JOURNAL_BYTES`]); an older one is
//! [`Found::Gone`] (it is in every node's event log, as a
//! `ReplicatedRecord`, and in the audit trail of the node it was recorded
//! on), a newer one [`Found::NotYet`].
//!
//! A read lost on the way (a leader that fell, a dropped message) is asked
//! again every [`RETRY_TICKS`] until it completes; up to [`READS`] wait at
//! once. Rejected: a lease read (no round trip), which is safe only while
//! the nodes' clocks drift less than a bound nobody checks under QEMU.

use heapless::Vec;
use worknode_log::BlockDevice;
use worknode_raft::Index;

use crate::limits::{READS, RETRY_TICKS};
use crate::node::{Node, Transport};
use crate::proposer::RESUME_READ;

/// What a completed read found for the number it named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found<'a> {
    /// The proposal as the state machine took it ([`crate::ledger::parse`]
    /// and [`crate::ledger::strong_payload`] read it).
    Event(&'a [u8]),
    /// The cluster had committed fewer events than the number when the
    /// read completed.
    NotYet,
    /// Committed, but older than this node's journal holds.
    Gone,
}

/// A completed read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer<'a, T> {
    /// The caller's tag for it.
    pub tag: T,
    /// The number it named.
    pub number: u64,
    /// Strong events the cluster had committed, as applied here when the
    /// read completed: at least every one acknowledged before it was asked.
    pub count: u64,
    /// The Raft log index applied here then.
    pub index: Index,
    /// What it found.
    pub found: Found<'a>,
}

/// Why a read was not asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotAsked {
    /// [`READS`] wait already.
    Busy,
}

#[derive(Clone, Copy, Debug)]
struct Waiting<T> {
    ctx: u32,
    tag: T,
    number: u64,
    /// Ticks since it was last asked.
    since: u32,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Reader<T> {
    waiting: Vec<Waiting<T>, READS>,
    /// The last read context given (never [`RESUME_READ`]).
    last_ctx: u32,
}

impl<T: Copy> Default for Reader<T> {
    fn default() -> Reader<T> {
        Reader { waiting: Vec::new(), last_ctx: RESUME_READ }
    }
}

impl<T: Copy> Reader<T> {
    /// Reads waiting for their confirmation or their apply.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Asks for a read of event `number` under the caller's `tag`. A read
    /// the node cannot send now (no known leader) waits all the same, and
    /// is asked again.
    pub fn ask<D: BlockDevice>(
        &mut self,
        node: &mut Node<'_, D>,
        tag: T,
        number: u64,
        out: &mut impl Transport,
    ) -> Result<(), NotAsked> {
        if self.waiting.is_full() {
            return Err(NotAsked::Busy);
        }
        let ctx = self.next_ctx();
        let sent = node.read(ctx, out).is_ok();
        let since = if sent { 0 } else { RETRY_TICKS };
        self.waiting.push(Waiting { ctx, tag, number, since }).map_err(|_| NotAsked::Busy)?;
        debug_assert!(self.waiting.iter().filter(|w| w.ctx == ctx).count() == 1, "contexts are unique");
        Ok(())
    }

    /// After the ready loop, with the ticks since the last call: hands
    /// `answer` every read now complete, and asks again those unanswered
    /// for [`RETRY_TICKS`]. Returns how many completed.
    pub fn poll<D: BlockDevice>(
        &mut self,
        node: &mut Node<'_, D>,
        ticks: u32,
        out: &mut impl Transport,
        mut answer: impl FnMut(Answer<'_, T>),
    ) -> usize {
        let mut done = 0;
        let mut at = 0;
        // Bounded: at most READS waiting, and each pass removes one or
        // moves on.
        while at < self.waiting.len() {
            let w = &mut self.waiting[at];
            if node.take_read(w.ctx) {
                let w = self.waiting.swap_remove(at);
                answer(complete(node, w.tag, w.number));
                done += 1;
                continue;
            }
            w.since = w.since.saturating_add(ticks);
            if w.since >= RETRY_TICKS && node.read(w.ctx, out).is_ok() {
                w.since = 0;
            }
            at += 1;
        }
        done
    }

    /// A context no waiting read has, never [`RESUME_READ`] nor 0.
    fn next_ctx(&mut self) -> u32 {
        // Bounded: at most READS + 2 contexts are skipped.
        loop {
            self.last_ctx = self.last_ctx.wrapping_add(1);
            let ctx = self.last_ctx;
            if ctx > RESUME_READ && !self.waiting.iter().any(|w| w.ctx == ctx) {
                return ctx;
            }
        }
    }
}

/// The answer to a read of `number` confirmed and applied on `node`.
fn complete<'n, D: BlockDevice, T>(node: &'n Node<'_, D>, tag: T, number: u64) -> Answer<'n, T> {
    let count = node.ledger().count;
    let found = match node.taken(number) {
        Some(data) => Found::Event(data),
        None if number > count => Found::NotYet,
        None => Found::Gone,
    };
    Answer { tag, number, count, index: node.applied(), found }
}
