//! The in-memory log window: the last snapshot's position, the entries
//! after it, and the commit, apply and persistence marks.
//!
//! Invariants (checked by `debug_assert!` in every mutator):
//! `snapshot.index <= applied <= committed <= last_index()`,
//! `committed <= stable` except while a received snapshot is unpersisted,
//! and the entries are contiguous from `snapshot.index + 1`.
//! `stable` is the last index known durable; it moves back when a
//! conflicting suffix is replaced, so the replacement is persisted again.

use heapless::Deque;

use crate::limits::LOG_WINDOW;
use crate::types::{Entry, EntryKind, Index, SnapshotMeta, Term};

/// See the module documentation.
#[derive(Debug)]
pub struct RaftLog {
    snapshot: SnapshotMeta,
    entries: Deque<Entry, LOG_WINDOW>,
    committed: Index,
    applied: Index,
    stable: Index,
    /// A snapshot received from the leader that the application has not yet
    /// persisted and restored.
    snapshot_pending: bool,
}

impl RaftLog {
    /// A log starting after `snapshot`, with nothing else in it.
    pub fn new(snapshot: SnapshotMeta) -> RaftLog {
        let at = snapshot.index;
        RaftLog {
            snapshot,
            entries: Deque::new(),
            committed: at,
            applied: at,
            stable: at,
            snapshot_pending: false,
        }
    }

    /// The snapshot the window starts after.
    pub fn snapshot(&self) -> &SnapshotMeta {
        &self.snapshot
    }
    /// Index of the first entry that can be in the window.
    pub fn first_index(&self) -> Index {
        self.snapshot.index + 1
    }
    /// Index of the last entry (the snapshot's when the window is empty).
    pub fn last_index(&self) -> Index {
        self.snapshot.index + self.entries.len() as Index
    }
    /// Term of the last entry.
    pub fn last_term(&self) -> Term {
        self.entries.back().map_or(self.snapshot.term, |e| e.term)
    }
    /// Highest committed index.
    pub fn committed(&self) -> Index {
        self.committed
    }
    /// Highest applied index.
    pub fn applied(&self) -> Index {
        self.applied
    }
    /// Highest durable index.
    pub fn stable(&self) -> Index {
        self.stable
    }
    /// Whether a received snapshot still has to be persisted and restored.
    pub fn snapshot_pending(&self) -> bool {
        self.snapshot_pending
    }
    /// Free slots in the window.
    pub fn room(&self) -> usize {
        LOG_WINDOW - self.entries.len()
    }

    /// Term of the entry at `index`; `None` if compacted or beyond the end.
    pub fn term(&self, index: Index) -> Option<Term> {
        if index == self.snapshot.index {
            return Some(self.snapshot.term);
        }
        self.entry(index).map(|e| e.term)
    }

    /// The entry at `index`, if in the window. Constant time: the ring's
    /// two slices are indexed directly.
    pub fn entry(&self, index: Index) -> Option<&Entry> {
        let offset = usize::try_from(index.checked_sub(self.first_index())?).ok()?;
        let (front, back) = self.entries.as_slices();
        front.get(offset).or_else(|| back.get(offset.checked_sub(front.len())?))
    }

    /// Up to `max` entries from `from` on, or `None` if `from` was compacted.
    pub fn entries_from(&self, from: Index, max: usize) -> Option<impl Iterator<Item = &Entry>> {
        let offset = usize::try_from(from.checked_sub(self.first_index())?).ok()?;
        let (front, back) = self.entries.as_slices();
        let (front, back) = if offset <= front.len() {
            (&front[offset..], back)
        } else {
            (&front[..0], back.get(offset - front.len()..).unwrap_or(&[]))
        };
        Some(front.iter().chain(back).take(max))
    }

    /// Whether a log ending at (`index`, `term`) is at least as up to date
    /// as this one (Raft §5.4.1).
    pub fn is_up_to_date(&self, index: Index, term: Term) -> bool {
        term > self.last_term() || (term == self.last_term() && index >= self.last_index())
    }

    /// Whether the entry at `index` has term `term`.
    pub fn matches(&self, index: Index, term: Term) -> bool {
        self.term(index) == Some(term)
    }

    /// Appends one entry at the end. Fails when the window is full.
    pub fn push(&mut self, entry: Entry) -> Result<(), Entry> {
        debug_assert_eq!(entry.index, self.last_index() + 1, "entries are contiguous");
        debug_assert!(entry.term >= self.last_term(), "terms never decrease along the log");
        self.entries.push_back(entry)
    }

    /// Follower side of an append: if the log holds (`prev_index`,
    /// `prev_term`), adds `entries` after it, replacing a conflicting
    /// suffix, and returns the last index now known to match the leader,
    /// and whether a configuration entry was added or removed.
    /// Entries that do not fit the window are left for a later append.
    pub fn maybe_append(
        &mut self,
        prev_index: Index,
        prev_term: Term,
        entries: &[Entry],
    ) -> Option<(Index, bool)> {
        if !self.matches(prev_index, prev_term) {
            return None;
        }
        let mut last_match = prev_index;
        let mut conf_touched = false;
        for entry in entries {
            debug_assert_eq!(entry.index, last_match + 1, "sender's entries are contiguous");
            match self.term(entry.index) {
                Some(term) if term == entry.term => {}
                Some(_) => {
                    // A conflict: everything from here on was never
                    // committed (Log Matching), so it can be replaced.
                    assert!(entry.index > self.committed, "conflict at a committed index {}", entry.index);
                    conf_touched |= self.truncate_from(entry.index);
                    conf_touched |= entry.kind == EntryKind::ConfChange;
                    if self.push(entry.clone()).is_err() {
                        break;
                    }
                }
                None => {
                    if entry.index <= self.snapshot.index {
                        // Already covered by our snapshot: matches by
                        // definition (only committed entries are compacted).
                    } else if self.push(entry.clone()).is_err() {
                        break;
                    } else {
                        conf_touched |= entry.kind == EntryKind::ConfChange;
                    }
                }
            }
            last_match = entry.index;
        }
        Some((last_match, conf_touched))
    }

    /// Drops every entry at `index` and after; returns whether a
    /// configuration entry was among them.
    fn truncate_from(&mut self, index: Index) -> bool {
        let mut conf = false;
        while self.last_index() >= index && !self.entries.is_empty() {
            conf |= self.entries.pop_back().is_some_and(|e| e.kind == EntryKind::ConfChange);
        }
        self.stable = self.stable.min(index - 1);
        conf
    }

    /// Finds, for a refused append at (`index`, `term`), the last index at
    /// or before `index` whose term is at most `term`: no entry after it
    /// can match the leader (etcd-raft's findConflictByTerm).
    pub fn conflict_hint(&self, index: Index, term: Term) -> (Index, Term) {
        let mut at = index.min(self.last_index());
        // Bounded by the window: each step moves one entry back.
        while at > self.snapshot.index {
            match self.term(at) {
                Some(t) if t <= term => return (at, t),
                _ => at -= 1,
            }
        }
        (self.snapshot.index, self.snapshot.term)
    }

    /// Raises the commit index (never lowers it).
    pub fn commit_to(&mut self, index: Index) {
        if index > self.committed {
            assert!(index <= self.last_index(), "commit {} beyond last index {}", index, self.last_index());
            self.committed = index;
        }
    }

    /// Records that everything up to `index` is durable.
    pub fn stable_to(&mut self, index: Index) {
        if index <= self.last_index() && index > self.stable {
            self.stable = index;
        }
    }

    /// Marks every entry as not yet durable (a new node's bootstrap entries).
    pub fn forget_stable(&mut self) {
        self.stable = self.snapshot.index;
    }

    /// Records that the application applied everything up to `index`.
    pub fn applied_to(&mut self, index: Index) {
        assert!(index <= self.committed, "applied {} beyond commit {}", index, self.committed);
        if index > self.applied {
            self.applied = index;
        }
    }

    /// Highest index the application may apply now: committed and durable
    /// here (applying ahead of local durability would let a crash lose an
    /// applied entry from this node's own log).
    pub fn applicable(&self) -> Index {
        self.committed.min(self.stable)
    }

    /// Drops the entries up to the snapshot at `meta.index`, which must be
    /// applied, and starts the window after it.
    pub fn compact(&mut self, meta: SnapshotMeta) {
        assert!(meta.index <= self.applied, "compacting beyond what is applied");
        assert_eq!(self.term(meta.index), Some(meta.term), "snapshot term matches the log");
        while self.snapshot.index < meta.index {
            self.entries.pop_front();
            self.snapshot.index += 1;
        }
        self.snapshot = meta;
    }

    /// Replaces the whole log with a snapshot received from the leader.
    pub fn restore(&mut self, meta: SnapshotMeta) {
        debug_assert!(meta.index > self.committed, "only snapshots ahead of commit are restored");
        self.entries.clear();
        self.committed = meta.index;
        self.applied = meta.index;
        self.stable = meta.index;
        self.snapshot = meta;
        self.snapshot_pending = true;
    }

    /// The application has persisted and restored the pending snapshot.
    pub fn snapshot_persisted(&mut self) {
        self.snapshot_pending = false;
    }

    /// Rebuilds a log from storage: its snapshot, its durable entries (in
    /// order) and the durable commit index.
    pub fn recovered(
        snapshot: SnapshotMeta,
        entries: &mut dyn Iterator<Item = Entry>,
        commit: Index,
    ) -> RaftLog {
        let mut log = RaftLog::new(snapshot);
        for entry in entries {
            if entry.index != log.last_index() + 1 || log.push(entry).is_err() {
                break;
            }
        }
        log.stable = log.last_index();
        log.committed = commit.clamp(log.snapshot.index, log.last_index());
        log
    }
}
