//! The replicated state machine: a ledger of numbered proposals, folded in
//! log order into a count and a hash.
//!
//! A proposal is a head (its proposer and sequence number) and a payload:
//! on the nodes, a worknode's Strong event ([`strong_event`]: the
//! worknode's index on its node, then the event); in host tests, filler
//! ([`proposal`]). The ledger reads only the head.
//!
//! Each proposer (a node) numbers its proposals 1, 2, 3, ... and proposes
//! the next only once the previous one is applied on its own node (its
//! acknowledgement). A proposal may be committed twice (a retry after a
//! lost answer) or, before an acknowledgement, not at all: the ledger
//! takes proposal `seq` of proposer `p` only when it is `last[p] + 1`, so
//! duplicates are counted and skipped and nothing is taken out of order.
//! The hash covers every proposal taken, with the index it was taken at:
//! two nodes whose hashes agree took the same proposals at the same
//! places of the log. Rejected: hashing every entry applied, skipped ones
//! included, which makes a node that reports later (after more
//! duplicates) disagree with one that reported earlier although neither
//! diverged.

use worknode_raft::limits::MAX_NODES;

use crate::limits::{LEDGER_BYTES, PROPOSAL_HEAD};

/// The first 8 bytes of an encoded ledger: "WNLEDG", then the format's
/// version (1) as a u16, big-endian. A snapshot's state starts with them,
/// so a state of another format or version is refused, never misread.
pub const LEDGER_MAGIC: [u8; 8] = *b"WNLEDG\x00\x01";

/// See the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ledger {
    /// Proposals taken.
    pub count: u64,
    /// Proposals skipped as duplicates or out of order.
    pub skipped: u64,
    /// Hash of every proposal taken, with its index, in order.
    pub hash: [u8; 32],
    /// The last proposal taken from each proposer (index: node number).
    pub last: [u64; MAX_NODES],
}

impl Default for Ledger {
    fn default() -> Ledger {
        Ledger { count: 0, skipped: 0, hash: [0; 32], last: [0; MAX_NODES] }
    }
}

/// A proposal's bytes: proposer, sequence number, then `pad` filler bytes
/// (to exercise entries of real sizes), into `buf`.
pub fn proposal(proposer: u8, seq: u64, pad: usize, buf: &mut [u8]) -> &[u8] {
    let len = PROPOSAL_HEAD + pad;
    buf[0] = proposer;
    buf[1..PROPOSAL_HEAD].copy_from_slice(&seq.to_le_bytes());
    for (i, b) in buf[PROPOSAL_HEAD..len].iter_mut().enumerate() {
        *b = filler(seq, i);
    }
    &buf[..len]
}

fn filler(seq: u64, i: usize) -> u8 {
    (seq as u8).wrapping_mul(31) ^ (i as u8)
}

/// A Strong event's proposal: proposer, sequence number, then the
/// recording worknode's index on the proposer's node (u16,
/// little-endian) and the event, into `buf`; `None` if it does not fit.
pub fn strong_event<'b>(
    proposer: u8,
    seq: u64,
    worknode: u16,
    event: &[u8],
    buf: &'b mut [u8],
) -> Option<&'b [u8]> {
    let len = PROPOSAL_HEAD + 2 + event.len();
    let out = buf.get_mut(..len)?;
    out[0] = proposer;
    out[1..PROPOSAL_HEAD].copy_from_slice(&seq.to_le_bytes());
    out[PROPOSAL_HEAD..PROPOSAL_HEAD + 2].copy_from_slice(&worknode.to_le_bytes());
    out[PROPOSAL_HEAD + 2..].copy_from_slice(event);
    Some(out)
}

/// A Strong event proposal's worknode and event, if `data` has room for
/// them after the head.
pub fn strong_payload(data: &[u8]) -> Option<(u16, &[u8])> {
    let worknode = data.get(PROPOSAL_HEAD..PROPOSAL_HEAD + 2)?;
    Some((u16::from_le_bytes([worknode[0], worknode[1]]), &data[PROPOSAL_HEAD + 2..]))
}

/// A proposal's proposer and sequence number, if `data` has a whole head
/// naming a proposer there can be. Rejected: checking the payload (the
/// filler, once the only payload), which left the ledger knowing each
/// kind of payload; the hash covers it whatever it is.
pub fn parse(data: &[u8]) -> Option<(u8, u64)> {
    let head = data.get(..PROPOSAL_HEAD)?;
    let proposer = head[0];
    let seq = u64::from_le_bytes(head[1..].try_into().ok()?);
    (usize::from(proposer) < MAX_NODES).then_some((proposer, seq))
}

impl Ledger {
    /// Applies the entry at `index` with bytes `data`; the proposal taken,
    /// if one was.
    pub fn apply(&mut self, index: u64, data: &[u8]) -> Option<(u8, u64)> {
        match parse(data) {
            Some((p, seq)) if seq == self.last[usize::from(p)] + 1 => {
                let mut hasher = blake3::Hasher::new();
                hasher.update(&self.hash);
                hasher.update(&index.to_le_bytes());
                hasher.update(data);
                self.hash = *hasher.finalize().as_bytes();
                self.last[usize::from(p)] = seq;
                self.count += 1;
                Some((p, seq))
            }
            _ => {
                self.skipped += 1;
                None
            }
        }
    }

    /// The ledger's bytes, the head of a snapshot's state (its journal
    /// follows): [`LEDGER_MAGIC`], then count, skipped, hash and the last
    /// sequence number of each proposer, integers little-endian
    /// (docs/cluster.md, "The state machine").
    pub fn encode(&self) -> [u8; LEDGER_BYTES] {
        let mut out = [0u8; LEDGER_BYTES];
        out[..8].copy_from_slice(&LEDGER_MAGIC);
        out[8..16].copy_from_slice(&self.count.to_le_bytes());
        out[16..24].copy_from_slice(&self.skipped.to_le_bytes());
        out[24..56].copy_from_slice(&self.hash);
        for (k, last) in self.last.iter().enumerate() {
            out[56 + 8 * k..64 + 8 * k].copy_from_slice(&last.to_le_bytes());
        }
        out
    }

    /// A ledger from a snapshot's bytes; `None` unless they are exactly
    /// [`Ledger::encode`]'s.
    pub fn decode(bytes: &[u8]) -> Option<Ledger> {
        if bytes.len() != LEDGER_BYTES || bytes[..8] != LEDGER_MAGIC {
            return None;
        }
        let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let mut ledger = Ledger { count: word(8), skipped: word(16), ..Ledger::default() };
        ledger.hash.copy_from_slice(&bytes[24..56]);
        for (k, last) in ledger.last.iter_mut().enumerate() {
            *last = word(56 + 8 * k);
        }
        Some(ledger)
    }

    /// A short form of the hash for console lines.
    pub fn short_hash(&self) -> u64 {
        u64::from_le_bytes(self.hash[..8].try_into().expect("8 bytes"))
    }
}
