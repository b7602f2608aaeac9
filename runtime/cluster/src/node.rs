//! One cluster node: the Raft core, its storage and the ledger, and the
//! ready loop that ties them together (persist, then send, then apply).
//!
//! The node does no IO of its own: the disk is a [`BlockDevice`] (the Raft
//! log's part, through the driver's queue in the PD), and messages leave
//! through a [`Transport`] the PD implements over the network PD. Every
//! message between nodes is an *envelope*: one byte saying what follows
//! ([`RAFT`]: a Raft message, `worknode_raft::message`; [`FORWARD`]: a
//! follower's proposal for the leader), then the bytes. Both decoders
//! take any bytes from the network: a message that does not decode is
//! counted and dropped, never trusted.
//!
//! Reads: [`Node::read`] is a linearizable read (ReadIndex) on any node.
//! The leader confirms its leadership with a heartbeat round and takes
//! its commit index at the time; a follower asks the leader for it
//! ([`READ`], answered by [`READ_ANSWER`]). The read completes
//! ([`Node::take_read`]) once this node has applied up to that index, so
//! it sees everything committed before it was asked, whatever node it
//! runs on.
//!
//! Delivery: a node may hand every proposal its state machine takes, in
//! order, to a reader (the Raft PD's: the governor, which writes each to
//! the node's event log): [`Node::deliver_from_journal`], then
//! [`Node::undelivered`] and [`Node::delivered`]. The proposals are
//! numbered by the ledger's count (the n-th taken is number n, on every
//! node) and served from the journal, which holds the newest; so the
//! state machine stops applying while the reader is behind by as many as
//! one push of the journal could drop ([`Journal::kept_by_any_push`]):
//! back-pressure down to Raft (which goes on committing; this node's
//! apply index waits). A snapshot from the leader replaces the journal,
//! and delivery goes on from its oldest record if the reader was behind
//! it: the reader sees the numbers jump, and those events are in this
//! node's Raft snapshot only. Rejected: keeping undelivered proposals in
//! a queue of their own, which would copy what the journal already holds
//! and still need a bound that stops the apply.
//!
//! Forwarding: a proposal made on a follower goes to the leader it knows,
//! which proposes it as its own; the follower learns the outcome the way
//! the leader does, by applying the entry. A forward lost on the way is
//! the proposer's to retry (the ledger skips a duplicate). Rejected:
//! answering the proposer with a leader hint, which would put Raft's
//! leadership into every proposer's state machine.

use worknode_log::format::{FLAG_JOIN, Owner};
use worknode_log::{BlockDevice, LogError, derive_log_id, read_superblock};
use worknode_raft::limits::{MAX_READS, MAX_WIRE, SNAPSHOT_CHUNK};
use worknode_raft::storage::{LogStorage, Recovered, StorageError};
use worknode_raft::{
    Config, ConfigError, EntryKind, HardState, Index, Membership, Message, NodeId, Raft, Refused,
};

use crate::journal::Journal;
use crate::ledger::Ledger;
use crate::limits::{BATCH, COMPACT_EVERY, LEDGER_BYTES, OWN_TAKEN, PUMP_ROUNDS};

/// Envelope tag: a Raft message follows.
pub const RAFT: u8 = 0;
/// Envelope tag: a proposal forwarded to the leader follows.
pub const FORWARD: u8 = 1;
/// Envelope tag: a follower asks the leader for a read index; `ctx`
/// (8 bytes) follows, its upper half the follower's id.
pub const READ: u8 = 2;
/// Envelope tag: the leader's answer to [`READ`]: `ctx`, then the read
/// index (8 bytes each).
pub const READ_ANSWER: u8 = 3;
/// The largest envelope: its tag and the largest Raft message.
pub const MAX_ENVELOPE: usize = 1 + MAX_WIRE;

/// Where messages leave. A send may fail (no stream to that node, or it
/// is full): Raft tolerates the loss, and waiting would make every later
/// message wait behind a dead peer's.
pub trait Transport {
    /// Sends `bytes` to node `to`; whether it was taken.
    fn send(&mut self, to: NodeId, bytes: &[u8]) -> bool;
}

/// Why a node cannot start or go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeError {
    /// The Raft log's storage failed or holds something else; the node
    /// stops taking part (its log refuses further writes until reopened).
    Storage(StorageError),
    /// The stored snapshot does not decode as a ledger and its journal
    /// (or the journal does not fit this node's buffer).
    Snapshot,
    /// The configuration is invalid.
    Config(ConfigError),
}

impl From<StorageError> for NodeError {
    fn from(e: StorageError) -> NodeError {
        NodeError::Storage(e)
    }
}

/// How the node found its part of the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// Blank: formatted, and the node starts as a founder.
    Formatted,
    /// Prepared for a joining node and still empty: it starts with no
    /// membership and waits for the leader.
    Joining,
    /// A Raft log: recovered with this many entries after its snapshot.
    Recovered {
        /// The snapshot's index.
        snapshot: Index,
        /// The last entry's index.
        last: Index,
    },
}

/// Counters a PD reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Messages sent.
    pub sent: u64,
    /// Sends the transport refused.
    pub send_failed: u64,
    /// Envelopes received.
    pub received: u64,
    /// Envelopes dropped: undecodable, misaddressed or rejected.
    pub dropped: u64,
    /// Proposals forwarded to the leader.
    pub forwarded: u64,
    /// Forwarded proposals taken, as the leader.
    pub taken: u64,
    /// Snapshots installed from the leader.
    pub installed: u64,
    /// Snapshots taken here (compactions).
    pub compactions: u64,
    /// Ready rounds whose apply stopped because the reader of delivered
    /// proposals was behind.
    pub held_back: u64,
}

/// See the module documentation.
pub struct Node<'j, D: BlockDevice> {
    raft: Raft,
    store: LogStorage<D, BATCH>,
    ledger: Ledger,
    journal: Journal<'j>,
    stats: NodeStats,
    /// Reads of this node confirmed by the leader: (ctx, read index),
    /// waiting until this node has applied up to the index.
    reads: heapless::Vec<(u64, Index), MAX_READS>,
    /// The last index the state machine reflects. Not the core's applied
    /// index: the core takes a snapshot's last chunk (and moves its
    /// applied index there) when the message arrives, and the state
    /// machine is restored from it only in the next ready; a read
    /// completed in between saw a state from before the snapshot (seen
    /// on QEMU: a wiped node resumed at 0 after acknowledging 1,500).
    applied: Index,
    /// The number of the last proposal handed to the reader; `None`
    /// while delivery is off.
    delivered: Option<u64>,
    /// This node's own proposals taken most recently: (sequence number,
    /// index), oldest first; and the last of them the latest snapshot
    /// restored covers, with its index.
    own: heapless::Deque<(u64, Index), OWN_TAKEN>,
    own_in_snapshot: (u64, Index),
}

impl<'j, D: BlockDevice> Node<'j, D> {
    /// Opens the node's Raft log on `dev` as `owner` (this cluster and
    /// node: a log of another is refused, `LogError::Foreign`), or formats
    /// a blank one for `owner`, its identity mixed from the owner,
    /// `entropy` (a clock reading) and the part's earlier contents, and
    /// starts as one of `founders`. A Raft log prepared for a joining
    /// node (`worknode disk join`: empty, [`FLAG_JOIN`]) starts with no
    /// membership, learns it from the leader and votes in no election
    /// until then. `scratch` holds the replay (a whole window: the caller
    /// gives it a place); `journal` is the state machine's journal's
    /// buffer ([`crate::journal`]).
    pub fn start(
        mut dev: D,
        cfg: Config,
        founders: &Membership,
        owner: Owner,
        entropy: u64,
        scratch: &mut Recovered,
        journal: &'j mut [u8],
    ) -> Result<(Node<'j, D>, Found), NodeError> {
        let mut journal = Journal::new(journal);
        let flags = match read_superblock(&mut dev) {
            Err(LogError::Unformatted) => {
                let log_id = derive_log_id(&mut dev, owner, entropy).map_err(StorageError::Log)?;
                let store = LogStorage::create(dev, log_id, owner)?;
                return Self::empty(cfg, founders.clone(), store, journal, Found::Formatted);
            }
            Ok(sb) => sb.flags,
            Err(_) => 0, // the open below says why
        };
        let mut store = LogStorage::open(dev, scratch, owner)?;
        if scratch.hard_state == HardState::default()
            && scratch.snapshot.meta.index == 0
            && scratch.entries().next().is_none()
        {
            // Nothing durable yet: a joiner that has heard from no leader
            // starts as one again; a founder formatted and stopped before
            // its first ready was durable has cast no vote and
            // acknowledged nothing, and starts again as the founder it was
            // (recovering it would make it a node of no membership, which
            // no leader knows to call).
            return if flags & FLAG_JOIN != 0 {
                Self::empty(cfg, Membership::default(), store, journal, Found::Joining)
            } else {
                Self::empty(cfg, founders.clone(), store, journal, Found::Formatted)
            };
        }
        let ledger = restore(&mut store, &scratch.snapshot, &mut journal)?;
        let found = Found::Recovered {
            snapshot: scratch.snapshot.meta.index,
            last: scratch.entries().last().map_or(scratch.snapshot.meta.index, |e| e.index),
        };
        let snapshot = scratch.snapshot.clone();
        let raft = Raft::recover(cfg, scratch.hard_state, snapshot, &mut scratch.entries())
            .map_err(NodeError::Config)?;
        let applied = scratch.snapshot.meta.index;
        Ok((Self::assemble(raft, store, ledger, journal, applied), found))
    }

    /// A node on an empty Raft log: a founder (`membership` the founders)
    /// or a joiner (no membership).
    fn empty(
        cfg: Config,
        membership: Membership,
        store: LogStorage<D, BATCH>,
        journal: Journal<'j>,
        found: Found,
    ) -> Result<(Node<'j, D>, Found), NodeError> {
        let raft = Raft::new(cfg, membership).map_err(NodeError::Config)?;
        Ok((Self::assemble(raft, store, Ledger::default(), journal, 0), found))
    }

    /// A node whose state machine reflects the log up to `applied` (its
    /// snapshot's index), with no read, delivery or own proposal yet.
    fn assemble(
        raft: Raft,
        store: LogStorage<D, BATCH>,
        ledger: Ledger,
        journal: Journal<'j>,
        applied: Index,
    ) -> Node<'j, D> {
        let own_in_snapshot = (own_last(&ledger, raft.id()), applied);
        Node {
            raft,
            store,
            ledger,
            journal,
            stats: NodeStats::default(),
            reads: heapless::Vec::new(),
            applied,
            delivered: None,
            own: heapless::Deque::new(),
            own_in_snapshot,
        }
    }

    /// The Raft core (role, term, leader, log positions).
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// The state machine, as applied so far.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The Raft log index where this node's own proposal `seq` (this
    /// node's proposer number is its id less one) was taken, if it is one
    /// of the last [`OWN_TAKEN`] taken here; for one that came in the
    /// latest snapshot restored, that snapshot's index (it was taken at
    /// or before).
    ///
    /// A proposal taken here but neither remembered nor in the snapshot
    /// gets the last index applied (it was taken at or before): the
    /// proposer asks only for its proposals in flight, at most
    /// [`PIPELINE`](crate::limits::PIPELINE) and so fewer than
    /// [`OWN_TAKEN`] (asserted in `limits.rs`), so this does not happen.
    pub fn taken_index(&self, seq: u64) -> Index {
        debug_assert!(seq <= own_last(&self.ledger, self.raft.id()), "only a proposal taken has an index");
        if let Some(&(_, index)) = self.own.iter().find(|&&(s, _)| s == seq) {
            return index;
        }
        if seq <= self.own_in_snapshot.0 {
            return self.own_in_snapshot.1;
        }
        debug_assert!(false, "proposal {seq} taken but not remembered: OWN_TAKEN too small");
        self.applied
    }

    /// The state machine's journal: the proposals it took, oldest first.
    pub fn journal(&self) -> &Journal<'j> {
        &self.journal
    }

    /// The proposal numbered `number` (1 is the first the cluster took),
    /// if the journal still holds it.
    pub fn taken(&self, number: u64) -> Option<&[u8]> {
        if number == 0 || number > self.ledger.count {
            return None;
        }
        self.journal.get(number.checked_sub(self.oldest_held())?)
    }

    /// The last Raft log index the state machine reflects.
    pub fn applied(&self) -> Index {
        self.applied
    }

    /// Turns delivery on (see the module documentation), from the oldest
    /// proposal the journal holds: after a restart, the reader is handed
    /// again what it may have had, and skips by number what it has.
    pub fn deliver_from_journal(&mut self) {
        self.delivered = Some(self.oldest_held().saturating_sub(1));
    }

    /// The next proposal to deliver: its number and bytes, if delivery is
    /// on and one was taken that the reader has not been handed.
    pub fn undelivered(&self) -> Option<(u64, &[u8])> {
        let next = (self.delivered? + 1).max(self.oldest_held());
        let data = self.journal.get(next - self.oldest_held())?;
        debug_assert!(next <= self.ledger.count, "only proposals taken are delivered");
        Some((next, data))
    }

    /// The reader took proposal `number` (the one [`Node::undelivered`]
    /// named).
    pub fn delivered(&mut self, number: u64) {
        debug_assert!(number <= self.ledger.count, "only proposals taken are delivered");
        if let Some(last) = self.delivered.as_mut() {
            *last = number.max(*last);
        }
    }

    /// Proposals taken and not delivered (0 while delivery is off).
    pub fn behind(&self) -> u64 {
        self.delivered.map_or(0, |last| self.ledger.count.saturating_sub(last.max(self.oldest_held() - 1)))
    }

    /// The number of the oldest proposal the journal holds (one past the
    /// count when it holds none).
    fn oldest_held(&self) -> u64 {
        (self.ledger.count + 1).saturating_sub(self.journal.records())
    }

    /// Bytes of the state machine's state: what a snapshot taken now holds.
    pub fn state_len(&self) -> u64 {
        (LEDGER_BYTES + self.journal.bytes().len()) as u64
    }

    /// Counters.
    pub fn stats(&self) -> NodeStats {
        self.stats
    }

    /// A tick of the node's clock (the PD's 10 ms period).
    pub fn tick(&mut self) {
        self.raft.tick();
    }

    /// Proposes `data`: on the leader, into its log; on a follower, sent to
    /// the leader it knows. `Err(NotLeader(None))` when there is no known
    /// leader: the caller retries later.
    pub fn propose(&mut self, data: &[u8], out: &mut impl Transport) -> Result<(), Refused> {
        match self.raft.propose(data) {
            Ok(_) => Ok(()),
            Err(Refused::NotLeader(Some(leader))) if leader != self.raft.id() => {
                let mut buf = [0u8; MAX_ENVELOPE];
                buf[0] = FORWARD;
                let len = 1 + data.len();
                buf.get_mut(1..len).ok_or(Refused::TooLarge)?.copy_from_slice(data);
                self.stats.forwarded += 1;
                self.transmit(out, leader, &buf[..len]);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Asks for a linearizable read with this caller's `ctx`; it completes
    /// through [`Node::take_read`]. A read lost on the way (a leader that
    /// fell, a dropped message) never completes: the caller asks again.
    pub fn read(&mut self, ctx: u32, out: &mut impl Transport) -> Result<(), Refused> {
        let full = (self.raft.id() << 32) | u64::from(ctx);
        match self.raft.read_index(full) {
            Err(Refused::NotLeader(Some(leader))) if leader != self.raft.id() => {
                let mut buf = [0u8; 9];
                buf[0] = READ;
                buf[1..].copy_from_slice(&full.to_le_bytes());
                self.transmit(out, leader, &buf);
                Ok(())
            }
            other => other,
        }
    }

    /// Whether this node's read `ctx` has completed (confirmed, and
    /// applied up to its index); taken if so.
    pub fn take_read(&mut self, ctx: u32) -> bool {
        let applied = self.applied;
        let want = (self.raft.id() << 32) | u64::from(ctx);
        let Some(at) = self.reads.iter().position(|&(c, index)| c == want && index <= applied) else {
            return false;
        };
        self.reads.swap_remove(at);
        true
    }

    /// Keeps a confirmed read of this node (dropped when too many wait:
    /// its caller asks again).
    fn confirmed(&mut self, ctx: u64, index: Index) {
        if ctx >> 32 == self.raft.id() && !self.reads.iter().any(|&(c, _)| c == ctx) {
            let _ = self.reads.push((ctx, index));
        }
    }

    /// Takes an envelope from node `from` (as the network says: the Raft
    /// message's own sender must agree).
    pub fn receive(&mut self, from: NodeId, bytes: &[u8]) {
        self.stats.received += 1;
        let taken = match bytes.split_first() {
            Some((&RAFT, body)) => match Message::decode(body) {
                Ok(m) if m.from == from && m.to == self.raft.id() => self.raft.step(m).is_ok(),
                _ => false,
            },
            // A forwarded proposal is only ever proposed here, by the
            // leader: a follower that gets one (leadership moved) drops
            // it, and its proposer retries.
            Some((&FORWARD, data)) => {
                let ok = self.raft.propose(data).is_ok();
                self.stats.taken += u64::from(ok);
                ok
            }
            // A read for `from` only: the context names its asker.
            Some((&READ, body)) => match <[u8; 8]>::try_from(body).map(u64::from_le_bytes) {
                Ok(ctx) if ctx >> 32 == from => self.raft.read_index(ctx).is_ok(),
                _ => false,
            },
            Some((&READ_ANSWER, body)) if body.len() == 16 => {
                let ctx = u64::from_le_bytes(body[..8].try_into().expect("8 bytes"));
                let index = u64::from_le_bytes(body[8..].try_into().expect("8 bytes"));
                self.confirmed(ctx, index);
                true
            }
            _ => false,
        };
        self.stats.dropped += u64::from(!taken);
    }

    fn transmit(&mut self, out: &mut impl Transport, to: NodeId, bytes: &[u8]) {
        if out.send(to, bytes) {
            self.stats.sent += 1;
        } else {
            self.stats.send_failed += 1;
        }
    }

    /// Runs the ready loop: persist (durable before anything leaves), send,
    /// install a snapshot, apply, compact. An error means the Raft log
    /// failed: the node must stop taking part.
    pub fn pump(&mut self, out: &mut impl Transport) -> Result<(), NodeError> {
        // Bounded: each round either finds nothing to do or advances.
        for _ in 0..PUMP_ROUNDS {
            if !self.raft.has_ready() {
                break;
            }
            let rd = self.raft.ready();
            self.store.save(&self.raft, &rd)?;
            let mut chunk = [0u8; SNAPSHOT_CHUNK];
            let mut buf = [0u8; MAX_ENVELOPE];
            for m in self.raft.messages() {
                let m = self.store.fill_chunk(m, &mut chunk)?;
                buf[0] = RAFT;
                let len = m.encode(&mut buf[1..]).map_or(0, |b| b.len());
                debug_assert!(len > 0, "every message fits MAX_WIRE");
                if len > 0 && out.send(m.to, &buf[..1 + len]) {
                    self.stats.sent += 1;
                } else {
                    self.stats.send_failed += 1;
                }
            }
            // Confirmed reads: this node's are kept, a follower's answered.
            for i in 0..self.raft.read_states().len() {
                let rs = self.raft.read_states()[i];
                let asker = rs.ctx >> 32;
                if asker == self.raft.id() {
                    self.confirmed(rs.ctx, rs.index);
                } else {
                    let mut answer = [0u8; 17];
                    answer[0] = READ_ANSWER;
                    answer[1..9].copy_from_slice(&rs.ctx.to_le_bytes());
                    answer[9..].copy_from_slice(&rs.index.to_le_bytes());
                    self.transmit(out, asker, &answer);
                }
            }
            if rd.snapshot.is_some() {
                let snapshot = self.raft.snapshot().clone();
                self.ledger = restore(&mut self.store, &snapshot, &mut self.journal)?;
                self.applied = snapshot.meta.index;
                self.own.clear();
                self.own_in_snapshot = (own_last(&self.ledger, self.raft.id()), snapshot.meta.index);
                self.stats.installed += 1;
            }
            let mut rd = rd;
            let mut held_back = false;
            for index in rd.apply.0..=rd.apply.1 {
                // The reader is as far behind as a push may drop: this
                // entry and the rest wait (the core applies from here
                // at the next ready).
                if self.behind() >= self.journal.kept_by_any_push() {
                    rd.apply.1 = index - 1;
                    held_back = true;
                    self.stats.held_back += 1;
                    break;
                }
                let entry = self.raft.log().entry(index).expect("entries to apply are in the window");
                if entry.kind == EntryKind::Normal
                    && let Some((proposer, seq)) = self.ledger.apply(index, entry.data)
                {
                    self.journal.push(entry.data);
                    if u64::from(proposer) + 1 == self.raft.id() {
                        if self.own.is_full() {
                            self.own.pop_front();
                        }
                        let _ = self.own.push_back((seq, index));
                    }
                }
                self.applied = index;
            }
            self.raft.advance(rd);
            self.maybe_compact()?;
            if held_back {
                // Nothing more applies until the reader takes some.
                break;
            }
        }
        Ok(())
    }

    fn maybe_compact(&mut self) -> Result<(), NodeError> {
        let log = self.raft.log();
        // Not while a follower is being sent the current snapshot: the new
        // one would restart its transfer, and with a large state under
        // steady load it would never end (seen: a follower 500 entries
        // behind a 0.4 MiB state never caught up). The window fills
        // meanwhile and proposals wait (`Busy`).
        // Nor while a follower catches up on entries it was not sent yet
        // (`Raft::follower_catching_up`): compacting would drop them and
        // send it a snapshot again.
        // Nor while a snapshot arrives: its chunks are stored as they come,
        // and a snapshot of this node's own written among them would end
        // the arriving one's run of chunks, which then never completes
        // (`SnapshotMissing`, and the node stops). Seen once a follower
        // held back by its reader applied its backlog during a transfer.
        if log.applied() < log.snapshot().index + COMPACT_EVERY
            || self.raft.sending_snapshot()
            || self.raft.follower_catching_up()
            || self.raft.receiving_snapshot()
        {
            return Ok(());
        }
        let head = self.ledger.encode();
        let journal = self.journal.bytes();
        if self.raft.compact(self.state_len()).is_err() {
            return Ok(());
        }
        self.store.save_snapshot(&self.raft, |offset, chunk| {
            state_bytes(&head, journal, offset as usize, chunk);
        })?;
        self.stats.compactions += 1;
        Ok(())
    }

    /// Gives the disk back (a test's crash).
    pub fn into_device(self) -> D {
        self.store.into_device()
    }
}

/// The last proposal of node `id` (proposer `id - 1`) the ledger took.
fn own_last(ledger: &Ledger, id: NodeId) -> u64 {
    usize::try_from(id.saturating_sub(1)).ok().and_then(|p| ledger.last.get(p)).copied().unwrap_or(0)
}

/// Copies the state's bytes at `offset` into `out`: the ledger's `head`,
/// then the `journal` (the snapshot's length is theirs: `out` ends inside).
fn state_bytes(head: &[u8; LEDGER_BYTES], journal: &[u8], offset: usize, out: &mut [u8]) {
    let split = LEDGER_BYTES.saturating_sub(offset).min(out.len());
    let (in_head, in_journal) = out.split_at_mut(split);
    if split > 0 {
        in_head.copy_from_slice(&head[offset..offset + split]);
    }
    let from = (offset + split).saturating_sub(LEDGER_BYTES);
    in_journal.copy_from_slice(&journal[from..from + in_journal.len()]);
}

/// The ledger of the stored snapshot (the empty ledger for none), its
/// journal restored into `journal`. The state is checked whole: a ledger
/// of the right format, a journal of whole records that fits.
fn restore<D: BlockDevice>(
    store: &mut LogStorage<D, BATCH>,
    snapshot: &worknode_raft::Snapshot,
    journal: &mut Journal<'_>,
) -> Result<Ledger, NodeError> {
    journal.clear();
    if snapshot.meta.index == 0 {
        return Ok(Ledger::default());
    }
    let len = snapshot.len.checked_sub(LEDGER_BYTES as u64).ok_or(NodeError::Snapshot)?;
    journal.begin_restore(len).map_err(|_| NodeError::Snapshot)?;
    let mut head = [0u8; LEDGER_BYTES];
    let mut fits = true;
    store.read_snapshot(snapshot, |offset, data| {
        let offset = offset as usize;
        let split = LEDGER_BYTES.saturating_sub(offset).min(data.len());
        if split > 0 {
            head[offset..offset + split].copy_from_slice(&data[..split]);
        }
        if split < data.len() {
            fits &= journal.fill(offset + split - LEDGER_BYTES, &data[split..]).is_ok();
        }
    })?;
    if !fits || journal.check().is_err() {
        journal.clear();
        return Err(NodeError::Snapshot);
    }
    Ledger::decode(&head).ok_or(NodeError::Snapshot)
}
