//! Raft's safety properties (Raft paper, Figure 3), checked on every event
//! of a simulated run against what every node has done so far.
//!
//! - Election safety: at most one leader per term.
//! - Log matching: two entries with the same index and term hold the same
//!   data and follow the same history. Checked inductively: the first
//!   entry seen at (index, term) fixes its data and its predecessor's term,
//!   and every later copy must agree.
//! - Leader completeness: a new leader holds every entry already committed.
//! - State machine safety: no two nodes apply different entries at an index.

use std::collections::{BTreeMap, HashMap};

use worknode_raft::{Entry, Index, NodeId, Raft, Term};

/// A broken property, with enough detail to start debugging.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Which property.
    pub property: &'static str,
    /// What was seen.
    pub detail: String,
}

/// A digest of an entry's content.
fn digest(entry: &Entry<'_>) -> u64 {
    // FNV-1a: the checker needs equality, not cryptography.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in entry.data.iter().chain(&[entry.kind as u8]) {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// The global record the checks compare against.
#[derive(Default)]
pub struct Checker {
    leaders: HashMap<Term, NodeId>,
    /// (index, term) → (data digest, predecessor's term).
    entries: HashMap<(Index, Term), (u64, Term)>,
    /// index → (term, digest) of the entry applied there.
    applied: BTreeMap<Index, (Term, u64)>,
    /// Violations found.
    pub violations: Vec<Violation>,
}

impl Checker {
    fn fail(&mut self, property: &'static str, detail: String) {
        self.violations.push(Violation { property, detail });
    }

    /// A node is leader of its term. Returns whether that is news.
    pub fn leader(&mut self, node: &Raft) -> bool {
        let (term, id) = (node.term(), node.id());
        match self.leaders.insert(term, id) {
            Some(other) if other != id => {
                self.fail("election safety", format!("term {term}: leaders {other} and {id}"));
                return true;
            }
            Some(_) => return false,
            None => {}
        }
        // Leader completeness, checked once per new leader.
        let log = node.log();
        let from = log.snapshot().index + 1;
        let missing: Vec<_> = self
            .applied
            .range(from..)
            .filter(|&(&index, &(term, want))| {
                log.entry(index).is_none_or(|e| e.term != term || digest(&e) != want)
            })
            .map(|(&index, _)| index)
            .take(1)
            .collect();
        if let Some(index) = missing.first() {
            self.fail(
                "leader completeness",
                format!("node {id}, leader of term {term}, lacks committed index {index}"),
            );
        }
        true
    }

    /// A node made entries durable.
    pub fn persisted(&mut self, node: &Raft, from: Index, to: Index) {
        let log = node.log();
        for index in from..=to {
            let Some(entry) = log.entry(index) else { continue };
            let prev_term = log.term(index - 1).unwrap_or(u64::MAX);
            let seen = (digest(&entry), prev_term);
            match self.entries.insert((index, entry.term), seen) {
                Some(first)
                    if first.0 != seen.0
                        || (first.1 != seen.1 && prev_term != u64::MAX && first.1 != u64::MAX) =>
                {
                    self.fail(
                        "log matching",
                        format!(
                            "node {} index {index} term {}: differs from an earlier copy",
                            node.id(),
                            entry.term
                        ),
                    );
                }
                _ => {}
            }
        }
    }

    /// A node applied an entry. Returns whether no node had applied that
    /// index before.
    pub fn applied(&mut self, node: NodeId, entry: &Entry<'_>) -> bool {
        let seen = (entry.term, digest(entry));
        match self.applied.insert(entry.index, seen) {
            Some(first) if first != seen => {
                self.fail(
                    "state machine safety",
                    format!(
                        "node {node} applied term {} at index {}, another node term {}",
                        seen.0, entry.index, first.0
                    ),
                );
                false
            }
            Some(_) => false,
            None => true,
        }
    }

    /// Highest index any node applied.
    pub fn applied_index(&self) -> Index {
        self.applied.keys().next_back().copied().unwrap_or(0)
    }
}
