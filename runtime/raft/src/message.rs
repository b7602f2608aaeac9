//! The messages Raft nodes exchange, and their versioned wire encoding.
//!
//! A message on the wire is one version byte ([`WIRE_VERSION`]) followed by
//! the postcard encoding of [`Message`]. The decoder refuses an unknown
//! version, a truncated body and trailing bytes; it never panics, whatever
//! the input (fuzzed by `fuzz/fuzz_targets/raft_message.rs`). Semantic
//! checks (stale term, unknown sender, wrong addressee) are the core's, in
//! [`crate::Raft::step`], which counts what it rejects.

use heapless::Vec;
use serde::{Deserialize, Serialize};

use crate::limits::MAX_BATCH;
use crate::types::{Entry, Index, NodeId, Snapshot, Term};

/// Version of the encoding below; bump on any change to it.
pub const WIRE_VERSION: u8 = 1;

/// Largest encoded message: an append of [`MAX_BATCH`] full entries, or a
/// full snapshot, plus headers.
pub const MAX_WIRE: usize = 4096;

/// A message between two nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Sender.
    pub from: NodeId,
    /// Addressee.
    pub to: NodeId,
    /// Sender's term (for pre-votes: the term it would campaign in).
    pub term: Term,
    /// What it says.
    pub body: Body,
}

/// The message kinds.
// No allocator to box the large variants: a message is as big as its
// largest kind, and the outbox is sized for that.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// "Would you vote for me in `term`?" Changes nobody's term (pre-vote,
    /// Raft thesis §9.6), so a partitioned node rejoining cannot depose a
    /// working leader.
    PreVote {
        /// Candidate's last log index.
        last_index: Index,
        /// Term of that entry.
        last_term: Term,
    },
    /// Answer to [`Body::PreVote`].
    PreVoteResp {
        /// True when refused.
        reject: bool,
    },
    /// A request for a vote.
    Vote {
        /// Candidate's last log index.
        last_index: Index,
        /// Term of that entry.
        last_term: Term,
        /// Set by a leadership transfer: voters ignore their leader lease.
        transfer: bool,
    },
    /// Answer to [`Body::Vote`].
    VoteResp {
        /// True when refused.
        reject: bool,
    },
    /// Log entries following `prev_index`, and the leader's commit index.
    Append {
        /// Index of the entry before the first one sent.
        prev_index: Index,
        /// Its term.
        prev_term: Term,
        /// Leader's commit index.
        commit: Index,
        /// The entries; may be empty.
        entries: Vec<Entry, MAX_BATCH>,
    },
    /// Answer to [`Body::Append`] and [`Body::InstallSnapshot`].
    AppendResp {
        /// True when `prev_index`/`prev_term` did not match.
        reject: bool,
        /// On success, the follower's last index matching the leader; on
        /// refusal, the `prev_index` that did not match.
        index: Index,
        /// On refusal: the follower's guess of the last index that may
        /// match, letting the leader skip a whole term per round trip.
        hint_index: Index,
        /// On refusal: the term at `hint_index`.
        hint_term: Term,
    },
    /// Leader liveness and commit propagation; `read` confirms leadership
    /// for pending linearizable reads up to that sequence number.
    Heartbeat {
        /// The commit index, capped at what the follower is known to hold.
        commit: Index,
        /// Read sequence number being confirmed (0: none).
        read: u64,
    },
    /// Answer to [`Body::Heartbeat`].
    HeartbeatResp {
        /// Echo of the heartbeat's `read`.
        read: u64,
    },
    /// The leader's snapshot, for a follower whose next entry was compacted.
    InstallSnapshot {
        /// The snapshot.
        snapshot: Snapshot,
    },
    /// Leadership transfer: "campaign now".
    TimeoutNow,
}

/// Why bytes did not decode into a [`Message`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Empty input.
    Empty,
    /// First byte is not [`WIRE_VERSION`].
    Version(u8),
    /// The body is truncated, has trailing bytes or is otherwise invalid.
    Malformed,
}

impl DecodeError {
    /// Where this error sits in the shared error taxonomy.
    pub fn code(self) -> worknode_abi::ErrorCode {
        match self {
            DecodeError::Version(_) => worknode_abi::ErrorCode::UnsupportedVersion,
            DecodeError::Empty | DecodeError::Malformed => worknode_abi::ErrorCode::Malformed,
        }
    }
}

impl Message {
    /// Encodes into `buf`, returning the used prefix. Fails only when `buf`
    /// is too small; [`MAX_WIRE`] bytes always suffice.
    pub fn encode<'a>(&self, buf: &'a mut [u8]) -> Result<&'a mut [u8], postcard::Error> {
        let (first, rest) = buf.split_first_mut().ok_or(postcard::Error::SerializeBufferFull)?;
        *first = WIRE_VERSION;
        let used = postcard::to_slice(self, rest)?.len();
        Ok(&mut buf[..1 + used])
    }

    /// Decodes one message occupying all of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        let (&version, body) = bytes.split_first().ok_or(DecodeError::Empty)?;
        if version != WIRE_VERSION {
            return Err(DecodeError::Version(version));
        }
        let message = match postcard::take_from_bytes::<Message>(body) {
            Ok((message, [])) => message,
            _ => return Err(DecodeError::Malformed),
        };
        // postcard accepts overlong varints; refusing them gives every
        // message exactly one encoding (as the PD frames do), so a message
        // cannot be altered without changing its meaning or failing here.
        let mut canonical = [0u8; MAX_WIRE];
        match message.encode(&mut canonical) {
            Ok(again) if *again == *bytes => Ok(message),
            _ => Err(DecodeError::Malformed),
        }
    }
}
