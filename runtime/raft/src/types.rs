//! The values Raft replicates and persists: entries, hard state, cluster
//! membership and snapshots.

use heapless::Vec;
use serde::{Deserialize, Serialize};

use crate::limits::MAX_NODES;

/// A node's identity in its cluster. Any value but [`NO_NODE`] is usable.
pub type NodeId = u64;
/// Reserved: "no node" on the wire is spelled `Option::None`, never 0, but
/// 0 is refused as an identity so logs and dumps cannot confuse the two.
pub const NO_NODE: NodeId = 0;
/// A Raft term.
pub type Term = u64;
/// A position in the replicated log; the first entry has index 1.
pub type Index = u64;

/// What an entry means to the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryKind {
    /// Application data, handed to the state machine when committed.
    Normal,
    /// A membership change (`data` is an encoded [`ConfChange`]), applied
    /// by the core when the application reports it applied.
    ConfChange,
    /// The entry a new leader appends to commit everything before it
    /// (Raft §5.4.2). Carries no data.
    Empty,
    /// The founding membership (`data` is an encoded [`Membership`]): the
    /// first entry of every founder's log, identical on all of them. It
    /// applies only to an empty membership; anywhere else it is counted as
    /// a bad configuration entry and ignored.
    Bootstrap,
}

impl EntryKind {
    /// Whether the entry changes the membership.
    pub fn is_membership(self) -> bool {
        matches!(self, EntryKind::ConfChange | EntryKind::Bootstrap)
    }
}

/// One log entry, its data borrowed from wherever it lives: the node's
/// window, a received message or a stored record. Nothing copies an entry's
/// bytes but the window, which owns them (at most
/// [`crate::limits::MAX_DATA`]; longer data is refused when proposed and
/// when decoded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry<'a> {
    /// Term of the leader that created it.
    pub term: Term,
    /// Its position.
    pub index: Index,
    /// What it means.
    pub kind: EntryKind,
    /// Its payload.
    #[serde(borrow)]
    pub data: &'a [u8],
}

/// What must survive a crash besides the log: the current term, the vote
/// cast in it, and the commit index (persisting commit saves re-applying
/// work after a restart; it is never trusted beyond the durable log).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardState {
    /// The latest term this node has seen.
    pub term: Term,
    /// The candidate it voted for in `term`.
    pub vote: Option<NodeId>,
    /// Highest index known committed.
    pub commit: Index,
}

/// A sorted set of node identities.
pub type NodeSet = Vec<NodeId, MAX_NODES>;

/// Who is in the cluster.
///
/// Changes are one server at a time ([`ConfChange`]), applied when the
/// change entry is applied, with at most one change pending (etcd-raft's
/// "simple" change). Any majority of the old voters and any majority of
/// the new ones intersect when they differ by one voter, which is what
/// keeps two leaders out of one term across a change. Rejected: joint
/// consensus, which allows arbitrary changes in one step but doubles the
/// quorum logic; one-at-a-time covers adding, promoting and removing
/// nodes, which is all a Worknode cluster needs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// Nodes that vote and count towards quorums.
    pub voters: NodeSet,
    /// Nodes that receive the log but neither vote nor count.
    pub learners: NodeSet,
}

impl Membership {
    /// A cluster of `voters` and no learners. Duplicates and [`NO_NODE`]
    /// are refused; so is an empty list.
    pub fn with_voters(voters: &[NodeId]) -> Option<Membership> {
        let mut m = Membership::default();
        if voters.is_empty() {
            return None;
        }
        for &id in voters {
            if id == NO_NODE || m.contains(id) {
                return None;
            }
            insert_sorted(&mut m.voters, id).ok()?;
        }
        Some(m)
    }

    /// Whether both lists are strictly ascending, free of [`NO_NODE`] and
    /// disjoint (what [`Membership::apply`] always produces; a decoded one
    /// is checked before use).
    pub fn is_well_formed(&self) -> bool {
        let ascending = |set: &NodeSet| set.windows(2).all(|w| w[0] < w[1]) && !set.contains(&NO_NODE);
        ascending(&self.voters)
            && ascending(&self.learners)
            && !self.voters.iter().any(|v| self.learners.contains(v))
    }

    /// Whether `id` votes.
    pub fn is_voter(&self, id: NodeId) -> bool {
        self.voters.contains(&id)
    }

    /// Whether `id` is a member in any role.
    pub fn contains(&self, id: NodeId) -> bool {
        self.voters.contains(&id) || self.learners.contains(&id)
    }

    /// Votes needed for a majority of the voters.
    pub fn quorum(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    /// Every member, voters first.
    pub fn members(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.voters.iter().chain(self.learners.iter()).copied()
    }

    /// Checks `change` against this membership and returns the result.
    pub fn apply(&self, change: ConfChange) -> Result<Membership, ConfChangeError> {
        let mut next = self.clone();
        match change {
            ConfChange::AddLearner(id) => {
                if id == NO_NODE || self.contains(id) {
                    return Err(ConfChangeError::AlreadyMember);
                }
                insert_sorted(&mut next.learners, id).map_err(|_| ConfChangeError::TooManyNodes)?;
            }
            ConfChange::AddVoter(id) => {
                if id == NO_NODE || self.is_voter(id) {
                    return Err(ConfChangeError::AlreadyMember);
                }
                next.learners.retain(|&l| l != id);
                insert_sorted(&mut next.voters, id).map_err(|_| ConfChangeError::TooManyNodes)?;
            }
            ConfChange::Remove(id) => {
                if !self.contains(id) {
                    return Err(ConfChangeError::NotMember);
                }
                next.voters.retain(|&v| v != id);
                next.learners.retain(|&l| l != id);
                if next.voters.is_empty() {
                    return Err(ConfChangeError::LastVoter);
                }
            }
        }
        Ok(next)
    }
}

fn insert_sorted(set: &mut NodeSet, id: NodeId) -> Result<(), NodeId> {
    let at = set.iter().position(|&x| x > id).unwrap_or(set.len());
    set.insert(at, id)
}

/// One membership change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConfChange {
    /// Add a node that receives the log without voting.
    AddLearner(NodeId),
    /// Add a voter, or promote a learner to voter.
    AddVoter(NodeId),
    /// Remove a voter or learner.
    Remove(NodeId),
}

/// Why a membership change was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfChangeError {
    /// The node is already in that role.
    AlreadyMember,
    /// The node is not a member.
    NotMember,
    /// The change would leave no voter.
    LastVoter,
    /// The cluster would exceed [`MAX_NODES`].
    TooManyNodes,
}

/// Where a snapshot sits in the log, and the membership at that point.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    /// Last index the snapshot covers.
    pub index: Index,
    /// Term of that entry.
    pub term: Term,
    /// Membership after applying every entry up to `index`.
    pub membership: Membership,
}

/// A snapshot: its position, and the length of the application's state at
/// that position. The state itself is never in the core: the application
/// writes it to storage in [`crate::limits::SNAPSHOT_CHUNK`]-byte chunks
/// ([`crate::storage`]), the leader sends it chunk by chunk, read back from
/// there, and a follower stores each chunk as it arrives. So a snapshot can
/// be of any size.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Its position.
    pub meta: SnapshotMeta,
    /// Bytes of application state.
    pub len: u64,
}

impl Snapshot {
    /// Length of the chunk at `offset`: [`crate::limits::SNAPSHOT_CHUNK`]
    /// bytes, or what remains; `None` if `offset` is not where a chunk
    /// starts. A zero-length snapshot has one empty chunk, at 0.
    pub fn chunk_len(&self, offset: u64) -> Option<usize> {
        let chunk = crate::limits::SNAPSHOT_CHUNK as u64;
        if !offset.is_multiple_of(chunk) || (offset >= self.len && !(offset == 0 && self.len == 0)) {
            return None;
        }
        Some((self.len - offset).min(chunk) as usize)
    }

    /// Whether the chunk at `offset` is the last one.
    pub fn is_last_chunk(&self, offset: u64) -> bool {
        offset.saturating_add(crate::limits::SNAPSHOT_CHUNK as u64) >= self.len
    }
}
