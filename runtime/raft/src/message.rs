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

pub use crate::limits::MAX_WIRE;
use crate::limits::{MAX_BATCH, MAX_DATA};
use crate::types::{Entry, Index, NodeId, Snapshot, SnapshotMeta, Term};

/// Version of the encoding below; bump on any change to it. Version 2:
/// entries up to [`MAX_DATA`] bytes, snapshots in chunks
/// ([`Body::InstallSnapshot`], [`Body::SnapshotResp`]) of 896 bytes.
/// Version 3: chunks of [`crate::limits::SNAPSHOT_CHUNK`] (736) bytes, so
/// that a chunk's message fits one network call.
pub const WIRE_VERSION: u8 = 3;

/// A message between two nodes. Entries and snapshot chunks borrow their
/// bytes: from the sender's window and storage when it is built, from the
/// received bytes when it is decoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message<'a> {
    /// Sender.
    pub from: NodeId,
    /// Addressee.
    pub to: NodeId,
    /// Sender's term (for pre-votes: the term it would campaign in).
    pub term: Term,
    /// What it says.
    #[serde(borrow)]
    pub body: Body<'a>,
}

/// The message kinds.
// No allocator to box the large variants: a message is as big as its
// largest kind, and the outbox is sized for that.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body<'a> {
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
        #[serde(borrow)]
        entries: Vec<Entry<'a>, MAX_BATCH>,
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
    /// One chunk of the leader's snapshot, for a follower whose next entry
    /// was compacted. Chunks go in order, one in flight at a time; the
    /// follower answers each but the last with [`Body::SnapshotResp`] and
    /// the last, once the whole snapshot is durable, with
    /// [`Body::AppendResp`] at the snapshot's index.
    InstallSnapshot {
        /// Which snapshot, and the membership at its index.
        meta: SnapshotMeta,
        /// Its length in bytes.
        len: u64,
        /// Where this chunk starts: a multiple of
        /// [`crate::limits::SNAPSHOT_CHUNK`].
        offset: u64,
        /// The chunk: [`crate::limits::SNAPSHOT_CHUNK`] bytes, fewer only
        /// for the last.
        data: &'a [u8],
    },
    /// Leadership transfer: "campaign now".
    TimeoutNow,
    /// Answer to a chunk of [`Body::InstallSnapshot`] that is not the last:
    /// the offset the follower expects next of the snapshot at `index` (0
    /// when it holds none of it, which restarts the transfer).
    SnapshotResp {
        /// The snapshot's index.
        index: Index,
        /// The next offset wanted.
        next: u64,
    },
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
    /// Well formed, but an entry's data exceeds [`MAX_DATA`], or a snapshot
    /// chunk is not where a chunk of that snapshot can be or not as long.
    TooLarge,
}

impl DecodeError {
    /// Where this error sits in the shared error taxonomy.
    pub fn code(self) -> worknode_abi::ErrorCode {
        match self {
            DecodeError::Version(_) => worknode_abi::ErrorCode::UnsupportedVersion,
            DecodeError::Empty | DecodeError::Malformed => worknode_abi::ErrorCode::Malformed,
            DecodeError::TooLarge => worknode_abi::ErrorCode::TooLarge,
        }
    }
}

impl<'a> Message<'a> {
    /// Encodes into `buf`, returning the used prefix. Fails only when `buf`
    /// is too small; [`MAX_WIRE`] bytes suffice for every message a node
    /// builds.
    pub fn encode<'b>(&self, buf: &'b mut [u8]) -> Result<&'b mut [u8], postcard::Error> {
        let (first, rest) = buf.split_first_mut().ok_or(postcard::Error::SerializeBufferFull)?;
        *first = WIRE_VERSION;
        let used = postcard::to_slice(self, rest)?.len();
        Ok(&mut buf[..1 + used])
    }

    /// For a snapshot chunk from [`crate::Raft::messages`], which comes
    /// without its bytes: the snapshot and the offset and length of the
    /// bytes to put in it ([`Message::with_chunk`]).
    pub fn chunk_wanted(&self) -> Option<(Snapshot, u64, usize)> {
        match &self.body {
            Body::InstallSnapshot { meta, len, offset, data: [] } => {
                let snapshot = Snapshot { meta: meta.clone(), len: *len };
                let want = snapshot.chunk_len(*offset)?;
                Some((snapshot, *offset, want))
            }
            _ => None,
        }
    }

    /// This message with `bytes` as its snapshot chunk's data (unchanged if
    /// it carries no chunk).
    pub fn with_chunk<'b>(self, bytes: &'b [u8]) -> Message<'b>
    where
        'a: 'b,
    {
        let Message { from, to, term, body } = self;
        let body = match body {
            Body::InstallSnapshot { meta, len, offset, .. } => {
                Body::InstallSnapshot { meta, len, offset, data: bytes }
            }
            other => other,
        };
        Message { from, to, term, body }
    }

    /// Decodes one message occupying all of `bytes`, borrowing its entries'
    /// and chunk's data from them.
    pub fn decode(bytes: &'a [u8]) -> Result<Message<'a>, DecodeError> {
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
            Ok(again) if *again == *bytes => {}
            _ => return Err(DecodeError::Malformed),
        }
        match &message.body {
            Body::Append { entries, .. } if entries.iter().any(|e| e.data.len() > MAX_DATA) => {
                Err(DecodeError::TooLarge)
            }
            Body::InstallSnapshot { meta, len, offset, data } => {
                let snapshot = Snapshot { meta: meta.clone(), len: *len };
                match snapshot.chunk_len(*offset) {
                    Some(want) if want == data.len() => Ok(message),
                    _ => Err(DecodeError::TooLarge),
                }
            }
            _ => Ok(message),
        }
    }
}
