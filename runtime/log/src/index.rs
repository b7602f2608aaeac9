//! A fixed-size sparse index from sequence numbers to batch positions, so a
//! read does not scan the log from the start.
//!
//! It keeps at most [`ENTRIES`] batch starts, `stride` batches apart. When it
//! fills, it drops every other entry and doubles the stride, so memory stays
//! fixed and a read scans at most about `2 * log_size / ENTRIES` of the log.
//! Rejected alternative: an on-disk index. It would be one more structure to
//! keep crash-consistent, for reads that are rare (replay at boot, audits).

use crate::scan::Position;

/// Capacity of the index.
pub const ENTRIES: usize = crate::limits::INDEX_ENTRIES;

/// Batch start positions in increasing sequence order.
pub struct SparseIndex {
    entries: [Option<Position>; ENTRIES],
    len: usize,
    stride: u64,
    seen: u64,
}

impl Default for SparseIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl SparseIndex {
    /// An empty index.
    pub const fn new() -> SparseIndex {
        SparseIndex { entries: [None; ENTRIES], len: 0, stride: 1, seen: 0 }
    }

    /// Notes a batch start (positions must come in increasing order).
    pub fn note(&mut self, at: Position) {
        if let Some(Some(last)) = self.len.checked_sub(1).map(|i| self.entries[i]) {
            debug_assert!(at.next_seq > last.next_seq || at == last, "index positions out of order");
            if at.next_seq <= last.next_seq {
                return;
            }
        }
        self.seen += 1;
        if !(self.seen - 1).is_multiple_of(self.stride) {
            return;
        }
        if self.len == ENTRIES {
            // Keep entries 0, 2, 4, ...: still sorted, half as dense.
            for i in 0..ENTRIES / 2 {
                self.entries[i] = self.entries[2 * i];
            }
            self.entries[ENTRIES / 2..].fill(None);
            self.len = ENTRIES / 2;
            self.stride *= 2;
        }
        self.entries[self.len] = Some(at);
        self.len += 1;
    }

    /// The last noted position at or before `seq`.
    pub fn floor(&self, seq: u64) -> Option<Position> {
        self.entries[..self.len].iter().flatten().take_while(|p| p.next_seq <= seq).last().copied()
    }

    /// Drops the positions before `seq` (their records were reclaimed).
    pub fn forget_below(&mut self, seq: u64) {
        let gone = self.entries[..self.len].iter().flatten().take_while(|p| p.next_seq < seq).count();
        self.entries.copy_within(gone..self.len, 0);
        self.entries[self.len - gone..self.len].fill(None);
        self.len -= gone;
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if no position has been noted.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
