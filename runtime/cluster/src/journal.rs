//! The ledger's journal: the proposals the ledger took, oldest first, kept
//! whole in a buffer the caller gives (the Raft PD's is
//! [`crate::limits::JOURNAL_BYTES`]; host tests give smaller ones). It is
//! the bulk of the state machine, so a snapshot carries it: a node back
//! from a wipe gets the same journal, byte for byte, as the nodes that
//! took every proposal themselves.
//!
//! Each record is a proposal's length (u16 little-endian) and its bytes.
//! When a proposal does not fit, the oldest records are dropped, at least
//! an eighth of the buffer at a time, and the rest moved to the front: an
//! append costs at most eight bytes moved per byte appended, and what is
//! dropped depends only on the proposals taken, so every node drops the
//! same. Rejected: a ring that wraps records around the buffer's end,
//! which spares the move but makes every reader (the snapshot's chunks,
//! the checks on restore) handle a record cut in two; dropping one record
//! per append, which moves the whole buffer every time.

use worknode_raft::limits::MAX_DATA;

/// Bytes of a record's length.
const LEN: usize = 2;

/// The smallest buffer a journal takes: the eighth dropped at a time holds
/// the largest record, so one drop always makes room.
pub const MIN_JOURNAL: usize = 8 * (LEN + MAX_DATA);

const _: () = assert!(MAX_DATA <= u16::MAX as usize, "a record's length fits its field");

/// Why journal bytes (from a snapshot) were refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadJournal;

/// See the module documentation.
pub struct Journal<'a> {
    buf: &'a mut [u8],
    /// Bytes of records held, from the buffer's start.
    len: usize,
    /// Records held.
    records: u64,
}

impl<'a> Journal<'a> {
    /// An empty journal in `buf` (at least [`MIN_JOURNAL`] bytes).
    pub fn new(buf: &'a mut [u8]) -> Journal<'a> {
        assert!(buf.len() >= MIN_JOURNAL, "a journal's buffer holds eight of the largest records");
        Journal { buf, len: 0, records: 0 }
    }

    /// Bytes held: the journal's part of a snapshot.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Records held.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The record `k` places after the oldest held (0: the oldest), if
    /// there is one. Walks the records before it: at most
    /// [`Journal::records`] steps.
    pub fn get(&self, k: u64) -> Option<&[u8]> {
        if k >= self.records {
            return None;
        }
        let mut at = 0;
        for _ in 0..k {
            at += LEN + self.record_len(at);
        }
        let len = self.record_len(at);
        debug_assert!(at + LEN + len <= self.len, "held records are whole");
        Some(&self.buf[at + LEN..at + LEN + len])
    }

    /// How many of the newest records any one [`Journal::push`] keeps, the
    /// largest record's included: those within half the buffer. (A push
    /// that does not fit drops the oldest eighth, and a record more at
    /// most, from a buffer at least seven eighths full.)
    pub fn kept_by_any_push(&self) -> u64 {
        (self.buf.len() / (2 * (LEN + MAX_DATA))) as u64
    }

    /// Empties the journal.
    pub fn clear(&mut self) {
        self.len = 0;
        self.records = 0;
    }

    /// Appends a proposal's bytes (at most [`MAX_DATA`]), dropping the
    /// oldest records if it does not fit.
    pub fn push(&mut self, data: &[u8]) {
        assert!(data.len() <= MAX_DATA, "the Raft core carries no longer entry");
        let need = LEN + data.len();
        if self.len + need > self.buf.len() {
            self.drop_oldest(self.buf.len() / 8);
        }
        debug_assert!(self.len + need <= self.buf.len(), "a drop makes room for the largest record");
        self.buf[self.len..self.len + LEN].copy_from_slice(&(data.len() as u16).to_le_bytes());
        self.buf[self.len + LEN..self.len + need].copy_from_slice(data);
        self.len += need;
        self.records += 1;
    }

    /// Drops whole records from the front until at least `at_least` bytes
    /// are gone, and moves the rest to the front.
    fn drop_oldest(&mut self, at_least: usize) {
        let mut cut = 0;
        // Bounded: every record is at least `LEN` bytes.
        for _ in 0..=self.buf.len() / LEN {
            if cut >= at_least || cut >= self.len {
                break;
            }
            cut += LEN + self.record_len(cut);
            self.records -= 1;
        }
        self.buf.copy_within(cut..self.len, 0);
        self.len -= cut;
    }

    /// The length field of the record at `at` (inside: callers check).
    fn record_len(&self, at: usize) -> usize {
        usize::from(u16::from_le_bytes([self.buf[at], self.buf[at + 1]]))
    }

    /// The place for `len` bytes of a journal arriving from a snapshot,
    /// written in order through [`Journal::fill`]; [`Journal::check`] once
    /// they are all there. `Err` if they cannot fit this buffer.
    pub fn begin_restore(&mut self, len: u64) -> Result<(), BadJournal> {
        let len = usize::try_from(len).map_err(|_| BadJournal)?;
        if len > self.buf.len() {
            return Err(BadJournal);
        }
        self.len = len;
        self.records = 0;
        Ok(())
    }

    /// Writes restored bytes at `offset` of the journal (inside the length
    /// [`Journal::begin_restore`] was given, else `Err`).
    pub fn fill(&mut self, offset: usize, data: &[u8]) -> Result<(), BadJournal> {
        let end = offset.checked_add(data.len()).filter(|&end| end <= self.len).ok_or(BadJournal)?;
        self.buf[offset..end].copy_from_slice(data);
        Ok(())
    }

    /// Checks restored bytes: whole records, each no longer than
    /// [`MAX_DATA`], and counts them. Nothing from the disk is trusted.
    pub fn check(&mut self) -> Result<(), BadJournal> {
        let mut at = 0;
        for records in 0..=(self.buf.len() / LEN) as u64 {
            if at == self.len {
                self.records = records;
                return Ok(());
            }
            if at + LEN > self.len {
                break;
            }
            let len = self.record_len(at);
            if len > MAX_DATA || at + LEN + len > self.len {
                break;
            }
            at += LEN + len;
        }
        self.clear();
        Err(BadJournal)
    }

    /// A hash of the bytes held, for console lines: two nodes whose
    /// journals hash the same hold the same proposals.
    pub fn short_hash(&self) -> u64 {
        let hash = blake3::hash(self.bytes());
        u64::from_le_bytes(hash.as_bytes()[..8].try_into().expect("8 bytes"))
    }
}
