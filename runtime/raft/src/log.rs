//! The in-memory log window: the last snapshot's position, the entries
//! after it, and the commit, apply and persistence marks.
//!
//! Invariants (checked by `debug_assert!` in every mutator):
//! `snapshot.index <= applied <= committed <= last_index()`,
//! `committed <= stable` except while a received snapshot is unpersisted,
//! and the entries are contiguous from `snapshot.index + 1`.
//! `stable` is the last index known durable; it moves back when a
//! conflicting suffix is replaced, so the replacement is persisted again.
//!
//! The entries' bytes live in [`Window`]'s ring of [`WINDOW_BYTES`] bytes,
//! each entry's contiguous, so an entry costs its own length and not the
//! largest an entry can be.

use heapless::Deque;

use crate::limits::{LOG_WINDOW, MAX_DATA, WINDOW_BYTES};
use crate::types::{Entry, EntryKind, Index, SnapshotMeta, Term};

/// The window has no room for an entry (or its data exceeds [`MAX_DATA`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowFull;

/// An entry's coordinates and where its bytes are in the ring.
#[derive(Clone, Copy, Debug)]
struct Slot {
    term: Term,
    index: Index,
    kind: EntryKind,
    /// Absolute position of the first byte: it only grows, and the byte
    /// sits at `at % WINDOW_BYTES`.
    at: u64,
    len: u16,
}

/// Consecutive entries and their bytes, in fixed memory: at most
/// [`LOG_WINDOW`] entries and [`WINDOW_BYTES`] bytes of data.
///
/// Positions are absolute (they only grow, and one never wraps in practice:
/// 2^64 bytes), so the live bytes are `[front.at, end)` and "full" and
/// "empty" cannot be confused. An entry whose bytes would straddle the end
/// of the ring starts at the ring's beginning instead; the skipped bytes
/// count as used until the entries before them leave. Rejected: splitting
/// an entry's bytes in two, which would make every reader join them.
#[derive(Debug)]
pub struct Window {
    slots: Deque<Slot, LOG_WINDOW>,
    bytes: [u8; WINDOW_BYTES],
    /// Absolute position after the last entry's bytes.
    end: u64,
}

impl Default for Window {
    fn default() -> Window {
        Window::new()
    }
}

impl Window {
    /// An empty window.
    pub const fn new() -> Window {
        Window { slots: Deque::new(), bytes: [0; WINDOW_BYTES], end: 0 }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn start(&self) -> u64 {
        self.slots.front().map_or(self.end, |s| s.at)
    }

    /// Where `len` bytes would go, if they fit.
    fn place(&self, len: usize) -> Option<u64> {
        if self.slots.is_full() || len > MAX_DATA {
            return None;
        }
        let ring = WINDOW_BYTES as u64;
        let mut at = self.end;
        let offset = at % ring;
        if offset + len as u64 > ring {
            at += ring - offset;
        }
        (at + len as u64 - self.start() <= ring).then_some(at)
    }

    /// Whether an entry of `len` data bytes fits now.
    pub fn fits(&self, len: usize) -> bool {
        self.place(len).is_some()
    }

    /// Appends a copy of `entry`; fails, changing nothing, when it does not
    /// fit (or its data exceeds [`MAX_DATA`]).
    pub fn push_back(&mut self, entry: Entry<'_>) -> Result<(), WindowFull> {
        let at = self.place(entry.data.len()).ok_or(WindowFull)?;
        let from = (at % WINDOW_BYTES as u64) as usize;
        self.bytes[from..from + entry.data.len()].copy_from_slice(entry.data);
        let len = entry.data.len() as u16;
        let slot = Slot { term: entry.term, index: entry.index, kind: entry.kind, at, len };
        self.slots.push_back(slot).map_err(|_| WindowFull)?;
        self.end = at + u64::from(len);
        debug_assert!(self.end - self.start() <= WINDOW_BYTES as u64, "live bytes fit the ring");
        Ok(())
    }

    /// Drops the first entry.
    pub fn pop_front(&mut self) -> bool {
        self.slots.pop_front().is_some()
    }

    /// Drops the last entry and returns its kind.
    pub fn pop_back(&mut self) -> Option<EntryKind> {
        let slot = self.slots.pop_back()?;
        self.end = self.slots.back().map_or(slot.at, |s| s.at + u64::from(s.len));
        Some(slot.kind)
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        self.slots.clear();
    }

    fn view(&self, slot: &Slot) -> Entry<'_> {
        let from = (slot.at % WINDOW_BYTES as u64) as usize;
        let data = &self.bytes[from..from + usize::from(slot.len)];
        Entry { term: slot.term, index: slot.index, kind: slot.kind, data }
    }

    /// The `offset`-th entry.
    pub fn get(&self, offset: usize) -> Option<Entry<'_>> {
        let (front, back) = self.slots.as_slices();
        let slot = front.get(offset).or_else(|| back.get(offset.checked_sub(front.len())?))?;
        Some(self.view(slot))
    }

    /// The first entry.
    pub fn front(&self) -> Option<Entry<'_>> {
        self.slots.front().map(|s| self.view(s))
    }

    /// The last entry.
    pub fn back(&self) -> Option<Entry<'_>> {
        self.slots.back().map(|s| self.view(s))
    }

    /// The entries from the `offset`-th on.
    pub fn iter_from(&self, offset: usize) -> impl Iterator<Item = Entry<'_>> {
        let (front, back) = self.slots.as_slices();
        let (front, back) = if offset <= front.len() {
            (&front[offset..], back)
        } else {
            (&front[..0], back.get(offset - front.len()..).unwrap_or(&[]))
        };
        front.iter().chain(back).map(|s| self.view(s))
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct RaftLog {
    snapshot: SnapshotMeta,
    entries: Window,
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
            entries: Window::new(),
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
    /// Whether an entry of `len` data bytes fits the window now.
    pub fn fits(&self, len: usize) -> bool {
        self.entries.fits(len)
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
    pub fn entry(&self, index: Index) -> Option<Entry<'_>> {
        let offset = usize::try_from(index.checked_sub(self.first_index())?).ok()?;
        self.entries.get(offset)
    }

    /// Up to `max` entries from `from` on, or `None` if `from` was compacted.
    pub fn entries_from(&self, from: Index, max: usize) -> Option<impl Iterator<Item = Entry<'_>>> {
        let offset = usize::try_from(from.checked_sub(self.first_index())?).ok()?;
        Some(self.entries.iter_from(offset).take(max))
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

    /// Appends a copy of one entry at the end. Fails when the window is
    /// full.
    pub fn push(&mut self, entry: Entry<'_>) -> Result<(), WindowFull> {
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
        entries: &[Entry<'_>],
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
                    conf_touched |= entry.kind.is_membership();
                    if self.push(*entry).is_err() {
                        break;
                    }
                }
                None => {
                    if entry.index <= self.snapshot.index {
                        // Already covered by our snapshot: matches by
                        // definition (only committed entries are compacted).
                    } else if self.push(*entry).is_err() {
                        break;
                    } else {
                        conf_touched |= entry.kind.is_membership();
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
            conf |= self.entries.pop_back().is_some_and(EntryKind::is_membership);
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
        entries: &mut dyn Iterator<Item = Entry<'_>>,
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
