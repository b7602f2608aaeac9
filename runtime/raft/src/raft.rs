//! The Raft state machine: elections, replication, commit, reads,
//! membership changes and leadership transfer.
//!
//! Sans IO, in the style of etcd-raft. Inputs: [`Raft::tick`],
//! [`Raft::step`] (a message from a peer), proposals, read requests and
//! [`Raft::advance`] (the caller's report that it persisted and applied what
//! [`Raft::ready`] handed out). Outputs, collected by [`Raft::ready`]: hard
//! state and entries to persist, a received snapshot to persist and
//! restore, messages to send ([`Raft::messages`]), committed entries to
//! apply and confirmed reads ([`Raft::read_states`]).
//!
//! The caller's loop, which the simulator and a PD both run:
//! 1. `let rd = node.ready();`
//! 2. persist `rd.chunk` (its bytes are [`Raft::pending_chunk`]),
//!    `rd.snapshot`, the entries in `rd.persist` and `rd.hard_state`, and
//!    wait until they are durable;
//! 3. send [`Raft::messages`] (only now: a vote or an append answer must not
//!    leave before the state it promises is durable), filling each snapshot
//!    chunk with its bytes from storage ([`Message::chunk_wanted`]);
//! 4. apply the entries in `rd.apply`, serve [`Raft::read_states`];
//! 5. `node.advance(rd)`.
//!
//! Nothing else may be called between 1 and 5.

use heapless::{Deque, Vec};

use crate::config::{Config, ConfigError, ReadMode};
use crate::limits::{
    APPEND_OVERHEAD, ENTRY_OVERHEAD, MAX_BATCH, MAX_DATA, MAX_NODES, MAX_OUTBOX, MAX_READS, SNAPSHOT_CHUNK,
};
use crate::log::RaftLog;
use crate::message::{Body, Message};
use crate::progress::{Progress, State};
use crate::types::{
    ConfChange, ConfChangeError, Entry, EntryKind, HardState, Index, Membership, NodeId, Snapshot,
    SnapshotMeta, Term,
};

/// Bytes of an encoded [`ConfChange`]: a tag and a varint.
const CONF_CHANGE_BYTES: usize = 16;
const _: () = assert!(2 + 2 * MAX_NODES * 10 <= MAX_DATA, "a founding membership fits one entry");

/// A node's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Follows a leader (or waits for one).
    Follower,
    /// Asking whether it could win an election, without changing terms.
    PreCandidate,
    /// Campaigning in a new term.
    Candidate,
    /// Leading its term.
    Leader,
}

/// Work for the caller; see the module documentation for the order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ready {
    /// Hard state to persist, when it changed.
    pub hard_state: Option<HardState>,
    /// A chunk of a snapshot arriving from the leader, to persist: which
    /// snapshot and where in it; the bytes are [`Raft::pending_chunk`].
    pub chunk: Option<(Snapshot, u64)>,
    /// The last chunk of a snapshot from the leader has arrived (and is
    /// `chunk`): persist that the snapshot is complete, then restore the
    /// state machine from its stored chunks before applying anything.
    pub snapshot: Option<SnapshotMeta>,
    /// Entries to persist, first and last index inclusive (empty when
    /// first > last). They replace anything stored from the first index on.
    pub persist: (Index, Index),
    /// Committed entries to apply, inclusive.
    pub apply: (Index, Index),
}

impl Ready {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.hard_state.is_none()
            && self.chunk.is_none()
            && self.snapshot.is_none()
            && self.persist.0 > self.persist.1
            && self.apply.0 > self.apply.1
    }
}

/// A read confirmed linearizable: answer it once the application has
/// applied everything up to `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadState {
    /// Commit index at the time of the request.
    pub index: Index,
    /// The caller's context, from [`Raft::read_index`].
    pub ctx: u64,
}

/// Why a proposal, read or transfer was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Not the leader; the known leader, if any.
    NotLeader(Option<NodeId>),
    /// A leadership transfer is under way.
    Transferring,
    /// Too much is uncommitted, or a queue is full: retry later.
    Busy,
    /// A new leader has not yet committed an entry of its term, so its
    /// commit index is not known to be current: retry later.
    NotYet,
    /// The data exceeds [`MAX_DATA`].
    TooLarge,
    /// A membership change is already pending.
    ConfChangePending,
    /// The membership change is invalid.
    ConfChange(ConfChangeError),
    /// A voter is added only from a learner that holds everything
    /// committed: this one is behind (or not a learner): retry later.
    LearnerBehind,
}

impl Refused {
    /// Where this refusal sits in the shared error taxonomy.
    pub fn code(self) -> worknode_abi::ErrorCode {
        use worknode_abi::ErrorCode;
        match self {
            Refused::NotLeader(_) => ErrorCode::NotLeader,
            Refused::Transferring | Refused::NotYet | Refused::ConfChangePending | Refused::LearnerBehind => {
                ErrorCode::InvalidState
            }
            Refused::Busy => ErrorCode::Exhausted,
            Refused::TooLarge => ErrorCode::TooLarge,
            Refused::ConfChange(ConfChangeError::NotMember) => ErrorCode::NotFound,
            Refused::ConfChange(ConfChangeError::TooManyNodes) => ErrorCode::Exhausted,
            Refused::ConfChange(_) => ErrorCode::InvalidState,
        }
    }
}

/// Why a message was dropped by [`Raft::step`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejected {
    /// Addressed to another node, or claiming to come from this one.
    Misaddressed,
    /// From an older term.
    StaleTerm,
    /// A leader got an answer from a node that is not a member.
    UnknownSender,
    /// Not meaningful in this node's role (for example a vote answer to a
    /// follower).
    Unexpected,
    /// A vote request ignored under the leader lease.
    InLease,
    /// Well formed but impossible from a correct peer: entries out of
    /// order or from a future term, a change to an entry this node knows is
    /// committed, a malformed membership. Raft does not tolerate lying
    /// peers; this only keeps one from crashing the node.
    Invalid,
}

/// Counters of what the node refused or dropped; never reset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages dropped as misaddressed.
    pub misaddressed: u64,
    /// Messages from older terms.
    pub stale: u64,
    /// Answers from non-members.
    pub unknown_sender: u64,
    /// Messages meaningless in the current role.
    pub unexpected: u64,
    /// Vote requests ignored under the leader lease.
    pub in_lease: u64,
    /// Impossible messages (see [`Rejected::Invalid`]).
    pub invalid: u64,
    /// Outgoing messages dropped because the outbox was full (Raft treats
    /// them as lost; the next heartbeat or timeout recovers).
    pub outbox_full: u64,
    /// Configuration entries that failed to decode or apply, counted each
    /// time the membership is derived from the log (only a lying or broken
    /// peer produces them).
    pub bad_conf_change: u64,
}

/// A message in the outbox: its addressee, term and body, with appends and
/// snapshots as coordinates into the log instead of copies (a full append
/// is 3 KiB; the outbox would otherwise dominate the node's size).
#[derive(Clone, Copy, Debug)]
struct Queued {
    to: NodeId,
    term: Term,
    body: Out,
}

/// [`Body`], with the large kinds by reference. See [`Body`] for fields.
#[derive(Clone, Copy, Debug)]
enum Out {
    PreVote {
        last_index: Index,
        last_term: Term,
    },
    PreVoteResp {
        reject: bool,
    },
    Vote {
        last_index: Index,
        last_term: Term,
        transfer: bool,
    },
    VoteResp {
        reject: bool,
    },
    Append {
        prev_index: Index,
        prev_term: Term,
        commit: Index,
        count: usize,
    },
    AppendResp {
        reject: bool,
        index: Index,
        hint_index: Index,
        hint_term: Term,
    },
    Heartbeat {
        commit: Index,
        read: u64,
    },
    HeartbeatResp {
        read: u64,
    },
    /// A chunk of the snapshot at `index` (dropped if the leader compacted
    /// past it before the message was built).
    InstallSnapshot {
        index: Index,
        offset: u64,
    },
    TimeoutNow,
    SnapshotResp {
        index: Index,
        next: u64,
    },
}

/// A snapshot arriving in chunks: which one, and the offset wanted next.
#[derive(Clone, Debug)]
struct Incoming {
    snapshot: Snapshot,
    next: u64,
}

#[derive(Clone, Debug)]
struct PendingRead {
    seq: u64,
    index: Index,
    ctx: u64,
    acks: Vec<NodeId, MAX_NODES>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Campaign {
    PreVote,
    Election,
    Transfer,
}

/// One Raft node. See the module documentation.
pub struct Raft {
    cfg: Config,
    role: Role,
    term: Term,
    vote: Option<NodeId>,
    leader: Option<NodeId>,
    log: RaftLog,
    /// The latest snapshot (the window starts after it).
    snapshot: Snapshot,
    /// Follower: the snapshot arriving from the leader, if any.
    incoming: Option<Incoming>,
    /// Follower: a received chunk not yet persisted (its snapshot and
    /// offset), and its bytes. One at a time: the leader sends the next
    /// only when this one is acknowledged, after it is durable.
    chunk: Option<(Snapshot, u64)>,
    chunk_bytes: Vec<u8, SNAPSHOT_CHUNK>,
    /// Membership as of the last configuration entry in the log (Raft
    /// thesis §4.1: a server uses the latest configuration it holds,
    /// committed or not).
    membership: Membership,
    /// Leader only: one per member, this node included.
    progress: Vec<Progress, MAX_NODES>,
    /// Candidates only: (voter, granted).
    votes: Vec<(NodeId, bool), MAX_NODES>,
    election_elapsed: u32,
    heartbeat_elapsed: u32,
    election_timeout: u32,
    ticks: u64,
    heartbeat_seq: u64,
    transferee: Option<NodeId>,
    /// Index of that configuration entry (or of the snapshot).
    conf_index: Index,
    reads: Deque<PendingRead, MAX_READS>,
    read_states: Vec<ReadState, MAX_READS>,
    outbox: Vec<Queued, MAX_OUTBOX>,
    persisted: HardState,
    append_pending: bool,
    rng: u64,
    stats: Stats,
}

impl Raft {
    /// A new node of a new cluster whose initial members are `membership`
    /// (the same on every founding node). A node that will join an existing
    /// cluster starts with `Membership::default()` and learns the rest from
    /// the leader.
    ///
    /// Founders start with one identical bootstrap entry at term 1 holding
    /// the whole founding membership ([`EntryKind::Bootstrap`]), already
    /// committed (as etcd bootstraps): a node that joins later receives the
    /// founding membership the same way as every later change, by
    /// replication. Rejected: keeping the founding membership only in an
    /// index-0 snapshot, which is never sent, so a joiner never learned it;
    /// and one `AddVoter` entry per founder, with which a node holding only
    /// the first of them believed itself the only voter and elected itself
    /// (the simulator found that, seed 8004).
    pub fn new(cfg: Config, membership: Membership) -> Result<Raft, ConfigError> {
        let snapshot = Snapshot::default();
        let mut buf = [0u8; MAX_DATA];
        let founding = postcard::to_slice(&membership, &mut buf).map_err(|_| ConfigError::Membership)?;
        let founded = membership.is_well_formed() && !membership.voters.is_empty();
        if !founded && membership != Membership::default() {
            return Err(ConfigError::Membership);
        }
        let entry = Entry { term: 1, index: 1, kind: EntryKind::Bootstrap, data: founding };
        let mut entries = founded.then_some(entry).into_iter();
        let hard_state =
            if founded { HardState { term: 1, vote: None, commit: 1 } } else { HardState::default() };
        let mut raft = Raft::recover(cfg, hard_state, snapshot, &mut entries)?;
        // Nothing of this is durable yet: the first `ready` persists it.
        raft.log.forget_stable();
        raft.persisted = HardState::default();
        Ok(raft)
    }

    /// A node rebuilt from storage: its hard state, its latest snapshot and
    /// the durable entries after it, in order.
    pub fn recover(
        cfg: Config,
        hard_state: HardState,
        snapshot: Snapshot,
        entries: &mut dyn Iterator<Item = Entry<'_>>,
    ) -> Result<Raft, ConfigError> {
        cfg.validate()?;
        let log = RaftLog::recovered(snapshot.meta.clone(), entries, hard_state.commit);
        let mut raft = Raft {
            role: Role::Follower,
            term: hard_state.term,
            vote: hard_state.vote,
            leader: None,
            membership: snapshot.meta.membership.clone(),
            log,
            snapshot,
            incoming: None,
            chunk: None,
            chunk_bytes: Vec::new(),
            progress: Vec::new(),
            votes: Vec::new(),
            election_elapsed: 0,
            heartbeat_elapsed: 0,
            election_timeout: cfg.election_tick,
            ticks: 0,
            heartbeat_seq: 0,
            transferee: None,
            conf_index: 0,
            reads: Deque::new(),
            read_states: Vec::new(),
            outbox: Vec::new(),
            persisted: HardState { commit: 0, ..hard_state },
            append_pending: false,
            rng: cfg.seed ^ cfg.id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x2545_F491_4F6C_DD1D,
            stats: Stats::default(),
            cfg,
        };
        raft.persisted.commit = raft.log.committed();
        raft.refresh_membership();
        raft.randomize_timeout();
        Ok(raft)
    }

    // ---- accessors ----

    /// This node.
    pub fn id(&self) -> NodeId {
        self.cfg.id
    }
    /// Current role.
    pub fn role(&self) -> Role {
        self.role
    }
    /// Current term.
    pub fn term(&self) -> Term {
        self.term
    }
    /// Known leader of the current term.
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }
    /// The in-memory log.
    pub fn log(&self) -> &RaftLog {
        &self.log
    }
    /// The membership this node uses: that of the last configuration entry
    /// in its log.
    pub fn membership(&self) -> &Membership {
        &self.membership
    }
    /// The latest snapshot.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }
    /// The bytes of [`Ready::chunk`], until [`Raft::advance`].
    pub fn pending_chunk(&self) -> &[u8] {
        &self.chunk_bytes
    }
    /// Refusal counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
    /// The current hard state.
    pub fn hard_state(&self) -> HardState {
        HardState { term: self.term, vote: self.vote, commit: self.log.committed() }
    }
    /// Messages to send after persisting the current [`Ready`]. Appends
    /// and snapshot chunks are built from the log as the iterator reaches
    /// them (the outbox holds only their coordinates); a chunk comes
    /// without its bytes, which the caller reads from storage
    /// ([`Message::chunk_wanted`], [`crate::storage::LogStorage::fill_chunk`]).
    pub fn messages(&self) -> impl Iterator<Item = Message<'_>> + '_ {
        self.outbox.iter().filter_map(|q| self.materialize(q))
    }

    /// Number of messages waiting.
    pub fn message_count(&self) -> usize {
        self.outbox.len()
    }

    fn materialize(&self, q: &Queued) -> Option<Message<'_>> {
        let body = match q.body {
            Out::PreVote { last_index, last_term } => Body::PreVote { last_index, last_term },
            Out::PreVoteResp { reject } => Body::PreVoteResp { reject },
            Out::Vote { last_index, last_term, transfer } => Body::Vote { last_index, last_term, transfer },
            Out::VoteResp { reject } => Body::VoteResp { reject },
            Out::Append { prev_index, prev_term, commit, count } => {
                let entries = self.log.entries_from(prev_index + 1, count)?.collect();
                Body::Append { prev_index, prev_term, commit, entries }
            }
            Out::AppendResp { reject, index, hint_index, hint_term } => {
                Body::AppendResp { reject, index, hint_index, hint_term }
            }
            Out::Heartbeat { commit, read } => Body::Heartbeat { commit, read },
            Out::HeartbeatResp { read } => Body::HeartbeatResp { read },
            Out::InstallSnapshot { index, offset } => {
                if index != self.snapshot.meta.index {
                    return None;
                }
                let (meta, len) = (self.snapshot.meta.clone(), self.snapshot.len);
                Body::InstallSnapshot { meta, len, offset, data: &[] }
            }
            Out::TimeoutNow => Body::TimeoutNow,
            Out::SnapshotResp { index, next } => Body::SnapshotResp { index, next },
        };
        Some(Message { from: self.cfg.id, to: q.to, term: q.term, body })
    }
    /// Reads confirmed since the last [`Raft::advance`].
    pub fn read_states(&self) -> &[ReadState] {
        &self.read_states
    }
    /// The leader's record of `id`'s replication (leader only).
    pub fn progress(&self, id: NodeId) -> Option<&Progress> {
        self.progress.iter().find(|p| p.id == id)
    }

    /// Whether this leader is sending its current snapshot to a follower
    /// that answered within an election timeout. Compacting now would
    /// restart that transfer from the new snapshot: the application waits
    /// (its window then fills and proposals are refused as `Busy` until
    /// the transfer ends), so that under steady load a follower far behind
    /// still catches up. A follower that stops answering stops counting
    /// after an election timeout.
    pub fn sending_snapshot(&self) -> bool {
        let (at, now, timeout) = (self.snapshot.meta.index, self.ticks, u64::from(self.cfg.election_tick));
        self.role == Role::Leader
            && self
                .progress
                .iter()
                .any(|p| p.state == State::Snapshot(at) && now.saturating_sub(p.last_heard) < timeout)
    }

    /// Whether this leader holds entries a follower still needs and has
    /// not been sent: a follower that advanced within
    /// [`Config::catch_up_ticks`], whose match is in the log (at or after
    /// the snapshot) and whose next entry is at or below the applied index,
    /// which compacting now would drop. The application waits (the window
    /// fills and proposals are refused as `Busy`, as during a transfer):
    /// else a follower that just installed a large snapshot, or came back
    /// from a partition, is cut off again by the compaction that follows,
    /// and sent snapshot after snapshot, each taking longer than the
    /// window takes to fill (seen on QEMU, riscv64, a 1.2 MiB state: ten
    /// in a row). A follower that stops advancing stops counting, so one
    /// that answers without catching up does not stop the cluster for long.
    /// Rejected: compacting to the slowest follower's match, which the
    /// state machine cannot (its state is as of the applied index).
    pub fn follower_catching_up(&self) -> bool {
        let (at, applied, now) = (self.snapshot.meta.index, self.log.applied(), self.ticks);
        let window = u64::from(self.cfg.catch_up_ticks);
        self.role == Role::Leader
            && self.progress.iter().any(|p| {
                p.id != self.cfg.id
                    && !matches!(p.state, State::Snapshot(_))
                    && p.matched >= at
                    && p.next <= applied
                    && now.saturating_sub(p.advanced_at) < window
            })
    }

    /// Whether a snapshot is arriving from the leader (a chunk taken and
    /// more to come, or one not yet persisted). A follower must not
    /// compact meanwhile: its own snapshot's chunks would cut into the
    /// arriving one's in storage.
    pub fn receiving_snapshot(&self) -> bool {
        self.incoming.is_some() || self.chunk.is_some()
    }

    fn promotable(&self) -> bool {
        self.membership.is_voter(self.cfg.id)
    }

    // ---- inputs ----

    /// Advances logical time by one tick.
    pub fn tick(&mut self) {
        self.ticks += 1;
        if self.role == Role::Leader {
            self.tick_leader();
        } else {
            self.election_elapsed += 1;
            if self.promotable() && self.election_elapsed >= self.election_timeout {
                self.election_elapsed = 0;
                self.campaign(if self.cfg.pre_vote { Campaign::PreVote } else { Campaign::Election });
            }
        }
    }

    fn tick_leader(&mut self) {
        self.heartbeat_elapsed += 1;
        self.election_elapsed += 1;
        if self.election_elapsed >= self.cfg.election_tick {
            self.election_elapsed = 0;
            if self.cfg.check_quorum {
                let me = self.cfg.id;
                let active = self.count_voters(|p| p.id == me || p.recent_active);
                if active < self.membership.quorum() {
                    self.become_follower(self.term, None);
                    return;
                }
                for p in self.progress.iter_mut().filter(|p| p.id != me) {
                    p.recent_active = false;
                }
            }
            // A transfer that has not finished within an election timeout
            // has failed (the target is down or far behind).
            self.transferee = None;
        }
        if self.heartbeat_elapsed >= self.cfg.heartbeat_tick {
            self.heartbeat_elapsed = 0;
            self.broadcast_heartbeat();
        }
    }

    /// Handles one message from a peer. A refused message changes nothing
    /// but the counters.
    pub fn step(&mut self, m: Message) -> Result<(), Rejected> {
        let result = self.step_inner(m);
        if let Err(why) = result {
            let counter = match why {
                Rejected::Misaddressed => &mut self.stats.misaddressed,
                Rejected::StaleTerm => &mut self.stats.stale,
                Rejected::UnknownSender => &mut self.stats.unknown_sender,
                Rejected::Unexpected => &mut self.stats.unexpected,
                Rejected::InLease => &mut self.stats.in_lease,
                Rejected::Invalid => &mut self.stats.invalid,
            };
            *counter += 1;
        }
        result
    }

    fn step_inner(&mut self, m: Message) -> Result<(), Rejected> {
        if m.to != self.cfg.id || m.from == self.cfg.id {
            return Err(Rejected::Misaddressed);
        }
        let is_vote_request = matches!(m.body, Body::PreVote { .. } | Body::Vote { .. });
        if m.term > self.term {
            if is_vote_request {
                let transfer = matches!(m.body, Body::Vote { transfer: true, .. });
                let in_lease = self.leader.is_some() && self.election_elapsed < self.cfg.election_tick;
                if in_lease && !transfer {
                    // A leader we heard from within an election timeout is
                    // alive: a node that thinks otherwise is partitioned, or
                    // was removed and never heard of it (Raft thesis §4.2.3),
                    // and must not depose it. etcd-raft applies this only
                    // with check-quorum; the simulator showed a removed
                    // voter livelocking a cluster without it.
                    return Err(Rejected::InLease);
                }
            }
            match m.body {
                // A pre-vote changes nobody's term; a granted pre-vote comes
                // back with the term the candidate would campaign in.
                Body::PreVote { .. } | Body::PreVoteResp { reject: false } => {}
                Body::Append { .. } | Body::Heartbeat { .. } | Body::InstallSnapshot { .. } => {
                    self.become_follower(m.term, Some(m.from))
                }
                _ => self.become_follower(m.term, None),
            }
        } else if m.term < self.term {
            match m.body {
                Body::Append { .. } | Body::Heartbeat { .. } => {
                    // Tell a deposed leader about the new term. Vote requests
                    // cannot carry it (voters in lease ignore them), so
                    // without this a node that raised its term in a partition
                    // could neither win nor rejoin, and the leader would
                    // never learn (etcd-raft does this with check-quorum or
                    // pre-vote; our lease is unconditional, so always).
                    self.send(
                        m.from,
                        self.term,
                        Out::AppendResp { reject: false, index: 0, hint_index: 0, hint_term: 0 },
                    );
                }
                Body::PreVote { .. } => {
                    self.send(m.from, self.term, Out::PreVoteResp { reject: true });
                }
                _ => {}
            }
            return Err(Rejected::StaleTerm);
        }

        match m.body {
            Body::PreVote { last_index, last_term } => {
                self.handle_vote_request(m.from, m.term, true, last_index, last_term)
            }
            Body::Vote { last_index, last_term, .. } => {
                self.handle_vote_request(m.from, m.term, false, last_index, last_term)
            }
            _ => match self.role {
                Role::Leader => self.step_leader(m),
                Role::PreCandidate | Role::Candidate => self.step_candidate(m),
                Role::Follower => self.step_follower(m),
            },
        }
    }

    fn handle_vote_request(
        &mut self,
        from: NodeId,
        term: Term,
        pre: bool,
        last_index: Index,
        last_term: Term,
    ) -> Result<(), Rejected> {
        // A node that knows no voters has heard from no leader since it
        // started empty: a joiner, or a node whose disk was replaced. It
        // may have voted in this term before it lost its disk, so it votes
        // in no election until a leader's entries or snapshot give it a
        // membership (docs/cluster.md, "a replaced disk joins").
        let knows_voters = !self.membership.voters.is_empty();
        #[allow(unused_mut)]
        let mut can_vote = knows_voters
            && (self.vote == Some(from)
                || (self.vote.is_none() && self.leader.is_none())
                || (pre && term > self.term));
        #[allow(unused_mut)]
        let mut up_to_date = self.log.is_up_to_date(last_index, last_term);
        #[cfg(feature = "broken-variants")]
        {
            can_vote |= self.cfg.broken.vote_twice;
            up_to_date |= self.cfg.broken.vote_ignores_log;
        }
        let granted = can_vote && up_to_date;
        let body =
            if pre { Out::PreVoteResp { reject: !granted } } else { Out::VoteResp { reject: !granted } };
        if granted {
            // Answer in the candidate's term, so the grant is not mistaken
            // for a stale message.
            self.send(from, term, body);
            if !pre {
                self.election_elapsed = 0;
                self.vote = Some(from);
            }
        } else {
            self.send(from, self.term, body);
        }
        Ok(())
    }

    fn step_follower(&mut self, m: Message) -> Result<(), Rejected> {
        match m.body {
            Body::Append { prev_index, prev_term, commit, entries } => {
                if !self.append_is_possible(m.term, prev_index, prev_term, &entries) {
                    return Err(Rejected::Invalid);
                }
                self.election_elapsed = 0;
                self.leader = Some(m.from);
                self.handle_append(m.from, prev_index, prev_term, commit, &entries);
            }
            Body::Heartbeat { commit, read } => {
                self.election_elapsed = 0;
                self.leader = Some(m.from);
                self.log.commit_to(commit.min(self.log.last_index()));
                self.send(m.from, self.term, Out::HeartbeatResp { read });
            }
            Body::InstallSnapshot { meta, len, offset, data } => {
                let snapshot = Snapshot { meta, len };
                if snapshot.meta.term > m.term
                    || !snapshot.meta.membership.is_well_formed()
                    || snapshot.chunk_len(offset) != Some(data.len())
                {
                    return Err(Rejected::Invalid);
                }
                self.election_elapsed = 0;
                self.leader = Some(m.from);
                self.handle_snapshot(m.from, snapshot, offset, data);
            }
            Body::TimeoutNow => {
                if !self.promotable() {
                    return Err(Rejected::Unexpected);
                }
                self.campaign(Campaign::Transfer);
            }
            _ => return Err(Rejected::Unexpected),
        }
        Ok(())
    }

    fn step_candidate(&mut self, m: Message) -> Result<(), Rejected> {
        match (self.role, &m.body) {
            (_, Body::Append { .. } | Body::Heartbeat { .. } | Body::InstallSnapshot { .. }) => {
                // Someone won this term.
                self.become_follower(self.term, Some(m.from));
                self.step_follower(m)
            }
            (Role::PreCandidate, &Body::PreVoteResp { reject })
            | (Role::Candidate, &Body::VoteResp { reject }) => {
                if !self.membership.is_voter(m.from) {
                    return Err(Rejected::UnknownSender);
                }
                self.record_vote(m.from, !reject);
                let (granted, refused) = self.tally();
                if granted >= self.membership.quorum() {
                    if self.role == Role::PreCandidate {
                        self.campaign(Campaign::Election);
                    } else {
                        self.become_leader();
                    }
                } else if refused >= self.membership.quorum() {
                    self.become_follower(self.term, None);
                }
                Ok(())
            }
            _ => Err(Rejected::Unexpected),
        }
    }

    fn step_leader(&mut self, m: Message) -> Result<(), Rejected> {
        let Some(pr) = self.progress.iter_mut().find(|p| p.id == m.from) else {
            return Err(Rejected::UnknownSender);
        };
        pr.recent_active = true;
        match m.body {
            Body::AppendResp { reject, index, hint_index, hint_term } => {
                if reject {
                    // A follower whose log ends before this leader's
                    // snapshot needs the snapshot: its own index, not the
                    // snapshot's (from which an append would be refused
                    // again, for ever: the follower has none of it).
                    let hint = if hint_index < self.log.snapshot().index {
                        hint_index
                    } else {
                        self.log.conflict_hint(hint_index, hint_term).0
                    };
                    let ticks = self.ticks;
                    let pr = self.progress_mut(m.from);
                    if pr.decrease_to(index, hint) {
                        // Its place is found: it is catching up.
                        pr.advanced_at = ticks;
                        if pr.state == State::Replicate {
                            pr.become_probe();
                        }
                        self.send_append(m.from, true);
                    }
                } else {
                    self.handle_append_ok(m.from, index);
                }
            }
            Body::HeartbeatResp { read } => {
                pr.last_heard = pr.last_heard.max(read >> 16);
                pr.probe_sent = false;
                // A lost append would hold its in-flight slot forever: free
                // the oldest, so the next append goes out and either lands
                // or is refused (and the follower is probed again).
                pr.free_oldest_if_full(self.cfg.max_inflight);
                if let State::Snapshot(_) = pr.state {
                    // It answers a heartbeat sent after the chunk in flight
                    // and not the chunk: the chunk (or its answer) was lost,
                    // so send it again.
                    if read >> 16 > pr.chunk_tick {
                        self.send_chunk(m.from);
                    }
                    self.ack_reads(m.from, read);
                    return Ok(());
                }
                let behind = pr.matched < self.log.last_index();
                if behind {
                    // Even an empty append: if earlier ones were lost, its
                    // refusal is how the leader finds out.
                    self.send_append(m.from, true);
                }
                self.ack_reads(m.from, read);
            }
            Body::SnapshotResp { index, next } => {
                let State::Snapshot(at) = pr.state else {
                    // A late answer from a transfer that is over.
                    return Ok(());
                };
                if at != self.snapshot.meta.index {
                    // We compacted since: send the new snapshot instead.
                    self.send_chunk(m.from);
                } else if index == at && next != pr.snapshot_offset {
                    if self.snapshot.chunk_len(next).is_none() {
                        return Err(Rejected::Invalid);
                    }
                    pr.snapshot_offset = next;
                    pr.advanced_at = self.ticks;
                    self.send_chunk(m.from);
                }
                // Otherwise a duplicate answer: the chunk it asks for is
                // already on its way (or is resent after a heartbeat).
            }
            _ => return Err(Rejected::Unexpected),
        }
        Ok(())
    }

    /// Sends `to` the chunk of the current snapshot its progress points at;
    /// restarts the transfer at 0 if that was for an older snapshot.
    fn send_chunk(&mut self, to: NodeId) {
        let at = self.snapshot.meta.index;
        let ticks = self.ticks;
        let pr = self.progress_mut(to);
        if pr.state != State::Snapshot(at) {
            pr.become_snapshot(at);
        }
        pr.chunk_tick = ticks;
        let offset = pr.snapshot_offset;
        self.send(to, self.term, Out::InstallSnapshot { index: at, offset });
    }

    fn handle_append_ok(&mut self, from: NodeId, index: Index) {
        if index > self.log.last_index() {
            // A follower cannot match beyond our log in our own term.
            self.stats.unexpected += 1;
            return;
        }
        let ticks = self.ticks;
        let pr = self.progress_mut(from);
        if !pr.update(index) {
            return;
        }
        pr.advanced_at = ticks;
        match pr.state {
            State::Probe => pr.become_replicate(),
            State::Snapshot(at) if pr.matched >= at => pr.become_probe(),
            _ => {}
        }
        if self.maybe_commit() {
            self.broadcast_append(true);
        }
        for _ in 0..crate::limits::MAX_INFLIGHT {
            if !self.send_append(from, false) {
                break;
            }
        }
        if self.transferee == Some(from) && self.progress_mut(from).matched == self.log.last_index() {
            self.send(from, self.term, Out::TimeoutNow);
        }
    }

    /// Whether an append could come from a correct leader of `term`:
    /// contiguous entries after `prev_index`, terms never decreasing and
    /// never beyond `term`, and nothing that rewrites an entry this node
    /// knows is committed.
    fn append_is_possible(
        &self,
        term: Term,
        prev_index: Index,
        prev_term: Term,
        entries: &[Entry<'_>],
    ) -> bool {
        let (mut index, mut last_term) = (prev_index, prev_term);
        if prev_term > term {
            return false;
        }
        for e in entries {
            let Some(next) = index.checked_add(1) else { return false };
            if e.index != next || e.term < last_term || e.term > term || e.data.len() > MAX_DATA {
                return false;
            }
            if e.index <= self.log.committed() && self.log.term(e.index).is_some_and(|t| t != e.term) {
                return false;
            }
            (index, last_term) = (e.index, e.term);
        }
        true
    }

    fn handle_append(
        &mut self,
        from: NodeId,
        prev_index: Index,
        prev_term: Term,
        commit: Index,
        entries: &[Entry<'_>],
    ) {
        #[cfg(feature = "broken-variants")]
        let prev_term = match self.log.term(prev_index) {
            Some(term) if self.cfg.broken.append_ignores_prev_term => term,
            _ => prev_term,
        };
        if prev_index < self.log.committed() {
            // Everything up to our commit index matches the leader already.
            let committed = self.log.committed();
            self.send(
                from,
                self.term,
                Out::AppendResp { reject: false, index: committed, hint_index: 0, hint_term: 0 },
            );
            return;
        }
        match self.log.maybe_append(prev_index, prev_term, entries) {
            Some((last_match, conf_touched)) => {
                if conf_touched {
                    self.refresh_membership();
                }
                self.log.commit_to(commit.min(last_match));
                self.send(
                    from,
                    self.term,
                    Out::AppendResp { reject: false, index: last_match, hint_index: 0, hint_term: 0 },
                );
            }
            None => {
                let (hint_index, hint_term) = self.log.conflict_hint(prev_index, prev_term);
                self.send(
                    from,
                    self.term,
                    Out::AppendResp { reject: true, index: prev_index, hint_index, hint_term },
                );
            }
        }
    }

    /// A chunk of the leader's snapshot. Chunks are taken in order, one per
    /// [`Ready`]; the last completes the snapshot, which then replaces the
    /// log. Answers: the offset wanted next, or, once there is nothing to
    /// take, the index this log now matches the leader at.
    fn handle_snapshot(&mut self, from: NodeId, snapshot: Snapshot, offset: u64, data: &[u8]) {
        let meta = &snapshot.meta;
        let done = if meta.index <= self.log.committed() || self.log.snapshot_pending() {
            Some(self.log.committed())
        } else if self.log.matches(meta.index, meta.term) {
            // We hold the snapshot's last entry: only the commit index moves.
            self.log.commit_to(meta.index);
            Some(self.log.committed())
        } else {
            None
        };
        if let Some(index) = done {
            self.incoming = None;
            self.send(from, self.term, Out::AppendResp { reject: false, index, hint_index: 0, hint_term: 0 });
            return;
        }
        if self.chunk.is_some() {
            // The previous chunk is not durable yet; this one is a resend
            // and comes again if still needed.
            self.stats.unexpected += 1;
            return;
        }
        let expected = match &self.incoming {
            Some(incoming) if incoming.snapshot == snapshot => incoming.next,
            _ => 0,
        };
        let index = meta.index;
        if offset != expected {
            self.send(from, self.term, Out::SnapshotResp { index, next: expected });
            return;
        }
        self.chunk_bytes.clear();
        // `step` checked the length against the snapshot's chunk size.
        let _ = self.chunk_bytes.extend_from_slice(data);
        self.chunk = Some((snapshot.clone(), offset));
        if snapshot.is_last_chunk(offset) {
            self.incoming = None;
            self.log.restore(meta.clone());
            self.membership = meta.membership.clone();
            self.conf_index = index;
            self.snapshot = snapshot;
            self.send(from, self.term, Out::AppendResp { reject: false, index, hint_index: 0, hint_term: 0 });
        } else {
            let next = offset + data.len() as u64;
            self.incoming = Some(Incoming { snapshot, next });
            self.send(from, self.term, Out::SnapshotResp { index, next });
        }
    }

    /// Proposes application data. Returns the index it will have if
    /// committed; it may still be lost if leadership changes first.
    pub fn propose(&mut self, data: &[u8]) -> Result<Index, Refused> {
        if data.len() > MAX_DATA {
            return Err(Refused::TooLarge);
        }
        self.append_entry(EntryKind::Normal, data)
    }

    /// Proposes a membership change. It takes effect on every node as soon
    /// as the node holds the entry; one may be uncommitted at a time, and
    /// only once this leader has committed an entry of its own term
    /// (Ongaro's fix to single-server changes: otherwise a change from a
    /// deposed leader's uncommitted tail could combine with this one into
    /// two steps whose majorities need not intersect).
    pub fn propose_conf_change(&mut self, change: ConfChange) -> Result<Index, Refused> {
        self.check_can_propose()?;
        if self.conf_index > self.log.committed() {
            return Err(Refused::ConfChangePending);
        }
        if self.log.term(self.log.committed()) != Some(self.term) {
            return Err(Refused::NotYet);
        }
        let next = self.membership.apply(change).map_err(Refused::ConfChange)?;
        // A new voter must know the membership and hold what is committed.
        // One that held nothing (a voter added straight, or a learner
        // promoted before its first append) votes in no election (see
        // `handle_vote_request`), and with it counted in the quorum a
        // cluster that loses its leader could elect no other: the
        // simulator found that (seed 3344). So a voter is only ever a
        // learner that has caught up, as etcd promotes only a ready one.
        if let ConfChange::AddVoter(id) = change {
            let caught_up = self.membership.learners.contains(&id)
                && self.progress(id).is_some_and(|p| p.matched >= self.log.committed());
            if !caught_up {
                return Err(Refused::LearnerBehind);
            }
        }
        let mut buf = [0u8; CONF_CHANGE_BYTES];
        let used = postcard::to_slice(&change, &mut buf).map_err(|_| Refused::TooLarge)?.len();
        let index = self.append_entry(EntryKind::ConfChange, &buf[..used])?;
        self.membership = next;
        self.conf_index = index;
        self.sync_progress();
        Ok(index)
    }

    fn check_can_propose(&self) -> Result<(), Refused> {
        if self.role != Role::Leader {
            return Err(Refused::NotLeader(self.leader));
        }
        if self.transferee.is_some() {
            return Err(Refused::Transferring);
        }
        Ok(())
    }

    fn append_entry(&mut self, kind: EntryKind, data: &[u8]) -> Result<Index, Refused> {
        self.check_can_propose()?;
        if self.log.last_index() - self.log.committed() >= self.cfg.max_uncommitted
            || !self.log.fits(data.len())
        {
            return Err(Refused::Busy);
        }
        let index = self.log.last_index() + 1;
        self.log.push(Entry { term: self.term, index, kind, data }).map_err(|_| Refused::Busy)?;
        // Sent from `ready`, so proposals between two readies share appends.
        self.append_pending = true;
        Ok(index)
    }

    /// Asks for a linearizable read. When confirmed, a [`ReadState`] with
    /// `ctx` appears in [`Raft::read_states`].
    pub fn read_index(&mut self, ctx: u64) -> Result<(), Refused> {
        if self.role != Role::Leader {
            return Err(Refused::NotLeader(self.leader));
        }
        if self.log.term(self.log.committed()) != Some(self.term) {
            return Err(Refused::NotYet);
        }
        if self.read_states.is_full() {
            return Err(Refused::Busy);
        }
        let index = self.log.committed();
        #[allow(unused_mut)]
        let mut at_once = self.membership.voters.len() == 1 && self.membership.is_voter(self.cfg.id);
        if let ReadMode::Lease { drift_ticks } = self.cfg.read_mode {
            at_once |= self.lease_valid(drift_ticks);
        }
        #[cfg(feature = "broken-variants")]
        {
            at_once |= self.cfg.broken.read_without_quorum;
        }
        if at_once {
            let _ = self.read_states.push(ReadState { index, ctx });
            return Ok(());
        }
        if self.reads.is_full() {
            return Err(Refused::Busy);
        }
        let seq = self.next_heartbeat_seq();
        let mut acks = Vec::new();
        let _ = acks.push(self.cfg.id);
        let _ = self.reads.push_back(PendingRead { seq, index, ctx, acks });
        self.send_heartbeats(seq);
        Ok(())
    }

    fn lease_valid(&self, drift_ticks: u32) -> bool {
        let lease = u64::from(self.cfg.election_tick - drift_ticks);
        let me = self.cfg.id;
        let now = self.ticks;
        self.count_voters(|p| p.id == me || now.saturating_sub(p.last_heard) < lease)
            >= self.membership.quorum()
    }

    /// Hands leadership to `to`, which must be a voter: brings it up to date,
    /// then tells it to campaign at once. Proposals are refused meanwhile;
    /// the transfer is abandoned after an election timeout.
    pub fn transfer_leader(&mut self, to: NodeId) -> Result<(), Refused> {
        if self.role != Role::Leader {
            return Err(Refused::NotLeader(self.leader));
        }
        if to == self.cfg.id {
            return Ok(());
        }
        if !self.membership.is_voter(to) {
            return Err(Refused::ConfChange(ConfChangeError::NotMember));
        }
        self.transferee = Some(to);
        self.election_elapsed = 0;
        if self.progress_mut(to).matched == self.log.last_index() {
            self.send(to, self.term, Out::TimeoutNow);
        } else {
            self.send_append(to, true);
        }
        Ok(())
    }

    /// Starts an election now (a test and operator hook; normally the
    /// election timeout does it).
    pub fn campaign_now(&mut self) {
        if self.role != Role::Leader {
            self.campaign(Campaign::Election);
        }
    }

    /// Takes a snapshot at the applied index of the application's state,
    /// `len` bytes long, and drops the entries it covers. Persist the
    /// state with [`Raft::snapshot`]'s position
    /// ([`crate::storage::LogStorage::save_snapshot`]) before the next
    /// [`Raft::messages`]: chunks are read back from storage.
    pub fn compact(&mut self, len: u64) -> Result<&Snapshot, Refused> {
        let index = self.log.applied();
        let Some(term) = self.log.term(index) else {
            return Err(Refused::NotYet);
        };
        if index > self.log.snapshot().index {
            let (membership, _) = self.membership_at(index);
            let meta = SnapshotMeta { index, term, membership };
            self.log.compact(meta.clone());
            self.snapshot = Snapshot { meta, len };
        }
        Ok(&self.snapshot)
    }

    // ---- outputs ----

    /// Collects the work to do now (see the module documentation).
    pub fn ready(&mut self) -> Ready {
        if self.append_pending && self.role == Role::Leader {
            self.broadcast_append(false);
        }
        self.append_pending = false;
        let hard_state = self.hard_state();
        Ready {
            hard_state: (hard_state != self.persisted).then_some(hard_state),
            chunk: self.chunk.clone(),
            snapshot: self.log.snapshot_pending().then(|| self.log.snapshot().clone()),
            persist: (self.log.stable() + 1, self.log.last_index()),
            apply: (self.log.applied() + 1, self.log.committed()),
        }
    }

    /// Whether [`Raft::ready`] would hand out work or messages are waiting.
    pub fn has_ready(&self) -> bool {
        !self.outbox.is_empty()
            || !self.read_states.is_empty()
            || self.append_pending
            || self.chunk.is_some()
            || self.hard_state() != self.persisted
            || self.log.snapshot_pending()
            || self.log.stable() < self.log.last_index()
            || self.log.applied() < self.log.committed()
    }

    /// Reports that `rd` was persisted, its messages sent and its entries
    /// applied.
    pub fn advance(&mut self, rd: Ready) {
        self.outbox.clear();
        self.read_states.clear();
        if let Some(hs) = rd.hard_state {
            self.persisted = hs;
        }
        if rd.chunk.is_some() {
            self.chunk = None;
        }
        if rd.snapshot.is_some() {
            self.log.snapshot_persisted();
        }
        if rd.persist.0 <= rd.persist.1 {
            self.log.stable_to(rd.persist.1);
        }
        if rd.apply.0 <= rd.apply.1 {
            self.log.applied_to(rd.apply.1);
        }
        if self.role == Role::Leader {
            let stable = self.log.stable();
            let me = self.cfg.id;
            if let Some(pr) = self.progress.iter_mut().find(|p| p.id == me) {
                pr.update(stable);
            }
            if self.maybe_commit() {
                self.broadcast_append(true);
            }
        }
    }

    /// The membership after every configuration entry up to `upto`, and
    /// the index of the last such entry.
    fn membership_at(&mut self, upto: Index) -> (Membership, Index) {
        let snapshot = self.log.snapshot();
        let (mut membership, mut at) = (snapshot.membership.clone(), snapshot.index);
        let mut bad = 0;
        // Bounded by the window.
        for entry in
            self.log.entries_from(self.log.first_index(), crate::limits::LOG_WINDOW).into_iter().flatten()
        {
            if entry.index > upto {
                break;
            }
            let next = match entry.kind {
                EntryKind::ConfChange => {
                    postcard::from_bytes::<ConfChange>(entry.data).ok().and_then(|c| membership.apply(c).ok())
                }
                // Only in place of an empty membership.
                EntryKind::Bootstrap => postcard::from_bytes::<Membership>(entry.data).ok().filter(|m| {
                    membership == Membership::default() && m.is_well_formed() && !m.voters.is_empty()
                }),
                EntryKind::Normal | EntryKind::Empty => continue,
            };
            match next {
                Some(next) => membership = next,
                None => bad += 1,
            }
            at = entry.index;
        }
        self.stats.bad_conf_change += bad;
        (membership, at)
    }

    /// Re-derives the membership from the log (after the log changed).
    fn refresh_membership(&mut self) {
        let (membership, at) = self.membership_at(self.log.last_index());
        self.membership = membership;
        self.conf_index = at;
        self.sync_progress();
    }

    /// Leader: one progress record per member (and one for itself).
    fn sync_progress(&mut self) {
        if self.role != Role::Leader {
            return;
        }
        let me = self.cfg.id;
        let members = self.membership.clone();
        self.progress.retain(|p| p.id == me || members.contains(p.id));
        let next = self.log.last_index() + 1;
        for id in members.members() {
            if !self.progress.iter().any(|p| p.id == id) {
                let _ = self.progress.push(Progress::new(id, next));
            }
        }
        if self.transferee.is_some_and(|t| !members.is_voter(t)) {
            self.transferee = None;
        }
    }

    /// A leader that is not among the voters of a committed configuration
    /// hands over by stepping down (Raft thesis §4.2.2: it keeps leading
    /// until the change that removed it commits).
    fn step_down_if_removed(&mut self) {
        if self.role == Role::Leader && !self.promotable() && self.log.committed() >= self.conf_index {
            self.become_follower(self.term, None);
        }
    }

    // ---- role changes ----

    fn reset(&mut self, term: Term) {
        if term != self.term {
            self.term = term;
            self.vote = None;
            // A new leader may build its snapshot at the same index with
            // other bytes: its transfer starts over.
            self.incoming = None;
        }
        self.leader = None;
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;
        self.randomize_timeout();
        self.votes.clear();
        self.progress.clear();
        self.transferee = None;
        self.reads.clear();
        self.append_pending = false;
        // Appends and snapshots of a leadership that is over refer to a log
        // that may now change; dropping them is a message loss, which Raft
        // tolerates.
        self.outbox.retain(|q| !matches!(q.body, Out::Append { .. } | Out::InstallSnapshot { .. }));
    }

    fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        self.reset(term);
        self.role = Role::Follower;
        self.leader = leader;
    }

    fn become_leader(&mut self) {
        debug_assert_eq!(self.role, Role::Candidate);
        self.reset(self.term);
        self.role = Role::Leader;
        self.leader = Some(self.cfg.id);
        let next = self.log.last_index() + 1;
        let me = self.cfg.id;
        let stable = self.log.stable();
        for id in self.membership.members() {
            let mut pr = Progress::new(id, next);
            if id == me {
                pr.matched = stable;
                pr.become_replicate();
                pr.recent_active = true;
            }
            let _ = self.progress.push(pr);
        }
        let index = self.log.last_index() + 1;
        let empty = Entry { term: self.term, index, kind: EntryKind::Empty, data: &[] };
        if self.log.push(empty).is_err() {
            // A full window cannot take the entry that commits this term;
            // leading without it would never commit, so give up the term.
            self.become_follower(self.term, None);
            return;
        }
        self.broadcast_append(true);
    }

    fn campaign(&mut self, kind: Campaign) {
        if !self.promotable() {
            return;
        }
        let vote_term = if kind == Campaign::PreVote {
            self.reset(self.term);
            self.role = Role::PreCandidate;
            self.term + 1
        } else {
            let term = self.term + 1;
            self.reset(term);
            self.role = Role::Candidate;
            self.vote = Some(self.cfg.id);
            term
        };
        self.record_vote(self.cfg.id, true);
        if self.tally().0 >= self.membership.quorum() {
            // A single voter: it wins at once.
            if kind == Campaign::PreVote {
                self.campaign(Campaign::Election);
            } else {
                self.become_leader();
            }
            return;
        }
        let (last_index, last_term) = (self.log.last_index(), self.log.last_term());
        let me = self.cfg.id;
        let voters = self.membership.voters.clone();
        for &to in voters.iter().filter(|&&v| v != me) {
            let body = if kind == Campaign::PreVote {
                Out::PreVote { last_index, last_term }
            } else {
                Out::Vote { last_index, last_term, transfer: kind == Campaign::Transfer }
            };
            self.send(to, vote_term, body);
        }
    }

    fn record_vote(&mut self, from: NodeId, granted: bool) {
        if !self.votes.iter().any(|&(id, _)| id == from) {
            let _ = self.votes.push((from, granted));
        }
    }

    fn tally(&self) -> (usize, usize) {
        let counted = self.votes.iter().filter(|(id, _)| self.membership.is_voter(*id));
        let granted = counted.clone().filter(|(_, g)| *g).count();
        (granted, counted.count() - granted)
    }

    // ---- replication ----

    fn progress_mut(&mut self, id: NodeId) -> &mut Progress {
        self.progress.iter_mut().find(|p| p.id == id).expect("progress exists for every member")
    }

    fn count_voters(&self, f: impl Fn(&Progress) -> bool) -> usize {
        self.progress.iter().filter(|p| self.membership.is_voter(p.id) && f(p)).count()
    }

    /// Raises the commit index to the highest index a quorum holds, if that
    /// entry is from this term (Raft §5.4.2).
    fn maybe_commit(&mut self) -> bool {
        let moved = self.advance_commit();
        if moved {
            self.step_down_if_removed();
        }
        moved && self.role == Role::Leader
    }

    fn advance_commit(&mut self) -> bool {
        let mut matched: Vec<Index, MAX_NODES> = Vec::new();
        for p in self.progress.iter().filter(|p| self.membership.is_voter(p.id)) {
            let _ = matched.push(p.matched);
        }
        if matched.len() < self.membership.quorum() {
            return false;
        }
        matched.sort_unstable_by(|a, b| b.cmp(a));
        #[allow(unused_mut)]
        let mut candidate = matched[self.membership.quorum() - 1];
        #[allow(unused_mut)]
        let mut term_ok = self.log.term(candidate) == Some(self.term);
        #[cfg(feature = "broken-variants")]
        {
            if self.cfg.broken.commit_without_quorum {
                candidate = self.log.stable();
                term_ok = true;
            }
        }
        if candidate > self.log.committed() && term_ok {
            self.log.commit_to(candidate);
            return true;
        }
        false
    }

    fn broadcast_append(&mut self, allow_empty: bool) {
        let me = self.cfg.id;
        let ids: Vec<NodeId, MAX_NODES> = self.progress.iter().map(|p| p.id).filter(|&id| id != me).collect();
        for id in ids {
            self.send_append(id, allow_empty);
        }
    }

    /// Sends `to` the next entries (or a snapshot when they were compacted).
    /// Returns whether anything was sent.
    fn send_append(&mut self, to: NodeId, allow_empty: bool) -> bool {
        let max_inflight = self.cfg.max_inflight;
        let max_batch = self.cfg.max_batch.min(MAX_BATCH);
        let Some(pr) = self.progress.iter().find(|p| p.id == to) else {
            return false;
        };
        if pr.is_paused(max_inflight) {
            return false;
        }
        let (next, recent_active) = (pr.next, pr.recent_active);
        let prev_index = next - 1;
        let (Some(prev_term), Some(iter)) =
            (self.log.term(prev_index), self.log.entries_from(next, max_batch))
        else {
            if !recent_active {
                return false;
            }
            let at = self.snapshot.meta.index;
            self.progress_mut(to).become_snapshot(at);
            self.send_chunk(to);
            return true;
        };
        // As many entries as fit the byte budget, and at least one.
        let budget = self.cfg.max_append_bytes - APPEND_OVERHEAD;
        let (mut count, mut used) = (0, 0);
        for entry in iter {
            let cost = ENTRY_OVERHEAD + entry.data.len();
            if count > 0 && used + cost > budget {
                break;
            }
            (count, used) = (count + 1, used + cost);
        }
        if count == 0 && !allow_empty {
            return false;
        }
        let last = prev_index + count as Index;
        let commit = self.log.committed();
        self.progress_mut(to).sent(last, count);
        self.send(to, self.term, Out::Append { prev_index, prev_term, commit, count });
        true
    }

    fn next_heartbeat_seq(&mut self) -> u64 {
        // The tick it was sent in, then a counter within the tick: answers
        // confirm reads by sequence and date the lease by tick.
        self.heartbeat_seq = (self.heartbeat_seq + 1).max(self.ticks << 16);
        self.heartbeat_seq
    }

    fn broadcast_heartbeat(&mut self) {
        let seq = self.next_heartbeat_seq();
        self.send_heartbeats(seq);
    }

    fn send_heartbeats(&mut self, read: u64) {
        let me = self.cfg.id;
        let committed = self.log.committed();
        let targets: Vec<(NodeId, Index), MAX_NODES> =
            self.progress.iter().filter(|p| p.id != me).map(|p| (p.id, p.matched.min(committed))).collect();
        for (to, commit) in targets {
            self.send(to, self.term, Out::Heartbeat { commit, read });
        }
    }

    fn ack_reads(&mut self, from: NodeId, seq: u64) {
        if !self.membership.is_voter(from) {
            return;
        }
        for read in self.reads.iter_mut().filter(|r| r.seq <= seq) {
            if !read.acks.contains(&from) {
                let _ = read.acks.push(from);
            }
        }
        // A confirmed read confirms every read queued before it.
        let quorum = self.membership.quorum();
        let Some(last) = self
            .reads
            .iter()
            .rposition(|r| r.acks.iter().filter(|&&id| self.membership.is_voter(id)).count() >= quorum)
        else {
            return;
        };
        for _ in 0..=last {
            if self.read_states.is_full() {
                // Confirmed again by a later heartbeat answer.
                break;
            }
            let Some(read) = self.reads.pop_front() else { break };
            let _ = self.read_states.push(ReadState { index: read.index, ctx: read.ctx });
        }
    }

    fn send(&mut self, to: NodeId, term: Term, body: Out) {
        if self.outbox.push(Queued { to, term, body }).is_err() {
            self.stats.outbox_full += 1;
        }
    }

    fn randomize_timeout(&mut self) {
        // xorshift64: deterministic per (seed, id), enough to break ties.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.election_timeout =
            self.cfg.election_tick + (self.rng % u64::from(self.cfg.election_tick)) as u32;
    }
}
