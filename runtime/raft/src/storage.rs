//! Raft's durable state as records in Worknode's event log.
//!
//! A node's storage is one [`worknode_log::Log`]: the same crash-consistent,
//! hash-chained format as the governor's event log (docs/log-format.md), so
//! torn and lost writes are handled once, by the log's recovery, and the
//! simulator exercises that recovery under Raft. Each record's payload is a
//! version byte ([`RECORD_VERSION`]) and the postcard encoding of
//! [`Record`]:
//!
//! - `HardState`: the latest term, vote and commit index;
//! - `Entries`: consecutive entries, as many as fit one record; they replace
//!   every entry stored from the first one's index on (a follower's
//!   conflicting suffix is never rewritten in place, only superseded);
//! - `Chunk`: [`SNAPSHOT_CHUNK`] bytes of a snapshot's state at an offset.
//!   A snapshot's chunks are written in order from offset 0; a later chunk
//!   at offset 0 starts the snapshot over (a transfer restarted after a
//!   crash);
//! - `Snapshot`: the snapshot whose chunks were just written is complete.
//!   Entries after it survive replay only if the log held the snapshot's
//!   own last entry (local compaction); a snapshot installed from the
//!   leader replaces the whole log.
//!
//! So a snapshot of any size is stored as several records, and is read
//! back a chunk at a time, by sequence number, from its first chunk on:
//! to restore the state machine ([`LogStorage::read_snapshot`]) and to send
//! it to a follower ([`LogStorage::fill_chunk`], with a cursor per follower
//! so that a transfer reads the log once).
//!
//! [`LogStorage::save`] writes one [`Ready`]'s records and commits them with
//! one flush; [`LogStorage::open`] replays the log into what
//! [`crate::Raft::recover`] needs. Rejected alternative: a storage trait with
//! random-access entry reads (etcd-raft's `Storage`); the core keeps its
//! window in memory, so storage is append-and-replay only, which is exactly
//! what the event log offers.

use heapless::Vec;
use serde::{Deserialize, Serialize};
use worknode_log::format::{MAX_PAYLOAD, Owner};
use worknode_log::scan::Position;
use worknode_log::{BlockDevice, Log, LogError, origin, scan_to_end};

use crate::limits::{ENTRY_OVERHEAD, MAX_NODES, SNAPSHOT_CHUNK};
use crate::log::Window;
use crate::message::Message;
use crate::raft::{Raft, Ready};
use crate::types::{Entry, HardState, Index, NodeId, Snapshot, Term};

/// Version of the record encoding; bump on any change. Version 2: entries
/// up to [`crate::limits::MAX_DATA`] bytes, snapshots as chunk records of
/// 896 bytes. Version 3: chunk records of
/// [`crate::limits::SNAPSHOT_CHUNK`] (736) bytes, the size they travel in.
pub const RECORD_VERSION: u8 = 3;
/// Most entries in one `Entries` record; fewer when their bytes fill it.
pub const RECORD_ENTRIES: usize = 64;
/// Bytes of entries (data plus [`ENTRY_OVERHEAD`] each) in one record: the
/// payload less the version byte, the tag and the count.
const RECORD_ENTRY_BYTES: usize = MAX_PAYLOAD - 3;
/// Bytes of a chunk record besides its data: version, tag, index, term,
/// offset, data length.
const CHUNK_RECORD_OVERHEAD: usize = 2 + 3 * 10 + 3;

const _: () =
    assert!(ENTRY_OVERHEAD + crate::limits::MAX_DATA <= RECORD_ENTRY_BYTES, "a full entry fits a record");
const _: () = assert!(CHUNK_RECORD_OVERHEAD + SNAPSHOT_CHUNK <= MAX_PAYLOAD, "a chunk fits a record");

/// One durable record.
// No allocator to box the entries: a record is as big as its largest kind,
// and one lives at a time.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record<'a> {
    /// See the module documentation.
    HardState(HardState),
    /// See the module documentation.
    Entries(#[serde(borrow)] Vec<Entry<'a>, RECORD_ENTRIES>),
    /// See the module documentation.
    Snapshot(Snapshot),
    /// See the module documentation.
    Chunk {
        /// The snapshot's index.
        index: Index,
        /// The snapshot's term.
        term: Term,
        /// Where the bytes go in its state.
        offset: u64,
        /// The bytes.
        data: &'a [u8],
    },
}

/// Why storage failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageError {
    /// The event log failed (device error, corruption, full).
    Log(LogError),
    /// A record did not decode, or the records contradict each other (a gap
    /// in the entries). The log verified, so this is a bug or a foreign log.
    BadRecord {
        /// Its sequence number in the event log.
        seq: u64,
    },
    /// More entries after the last snapshot than the window holds.
    WindowOverflow,
    /// The snapshot asked for is not the one stored complete (the caller
    /// asked for an older one), or one of its chunks is missing.
    SnapshotMissing,
}

impl From<LogError> for StorageError {
    fn from(e: LogError) -> StorageError {
        StorageError::Log(e)
    }
}

impl StorageError {
    /// Where this error sits in the shared error taxonomy.
    pub fn code(self) -> worknode_abi::ErrorCode {
        match self {
            StorageError::Log(e) => e.into(),
            StorageError::BadRecord { .. } => worknode_abi::ErrorCode::Corrupt,
            StorageError::WindowOverflow => worknode_abi::ErrorCode::Exhausted,
            StorageError::SnapshotMissing => worknode_abi::ErrorCode::NotFound,
        }
    }
}

impl<'a> Record<'a> {
    /// Encodes into `buf`, returning the used prefix.
    pub fn encode<'b>(&self, buf: &'b mut [u8; MAX_PAYLOAD]) -> &'b [u8] {
        buf[0] = RECORD_VERSION;
        let used = postcard::to_slice(self, &mut buf[1..]).expect("a record always fits a log record").len();
        &buf[..1 + used]
    }

    /// Decodes a record payload; `None` if it is not one (including a
    /// non-canonical encoding, as for messages, and data beyond the limits).
    pub fn decode(payload: &'a [u8]) -> Option<Record<'a>> {
        let record = match payload.split_first() {
            Some((&RECORD_VERSION, body)) => match postcard::take_from_bytes::<Record>(body) {
                Ok((record, [])) => record,
                _ => return None,
            },
            _ => return None,
        };
        let within = match &record {
            Record::Entries(entries) => entries.iter().all(|e| e.data.len() <= crate::limits::MAX_DATA),
            Record::Chunk { offset, data, .. } => {
                data.len() <= SNAPSHOT_CHUNK && offset.is_multiple_of(SNAPSHOT_CHUNK as u64)
            }
            _ => true,
        };
        let mut canonical = [0u8; MAX_PAYLOAD];
        (within && record.encode(&mut canonical) == payload).then_some(record)
    }
}

/// Chunks of one snapshot being replayed or written: which snapshot, the
/// sequence number of its chunk at offset 0, and the offset expected next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    index: Index,
    term: Term,
    first_seq: u64,
    next: u64,
}

impl Run {
    /// Follows one chunk record: offset 0 starts a run; the next offset of
    /// the same snapshot extends it; anything else ends it.
    fn follow(run: Option<Run>, seq: u64, index: Index, term: Term, offset: u64, len: usize) -> Option<Run> {
        let len = len as u64;
        match run {
            _ if offset == 0 => Some(Run { index, term, first_seq: seq, next: len }),
            Some(r) if r.index == index && r.term == term && r.next == offset => {
                Some(Run { next: offset + len, ..r })
            }
            _ => None,
        }
    }

    /// Whether this run holds all of `snapshot`.
    fn completes(run: Option<Run>, snapshot: &Snapshot) -> Option<u64> {
        let r = run?;
        let m = &snapshot.meta;
        (r.index == m.index && r.term == m.term && r.next == snapshot.len).then_some(r.first_seq)
    }
}

/// What replay recovered: the arguments of [`crate::Raft::recover`], and
/// where the snapshot's chunks start.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The last hard state written.
    pub hard_state: HardState,
    /// The last complete snapshot written (index 0 and empty if none).
    pub snapshot: Snapshot,
    /// Sequence number of that snapshot's first chunk (0: none stored).
    pub snapshot_seq: u64,
    /// The entries after it.
    pub entries: Window,
    run: Option<Run>,
    /// Whether the log's oldest records were reclaimed: replay then starts
    /// at the first complete snapshot (see [`LogStorage::save_snapshot`]).
    reclaimed: bool,
}

impl Recovered {
    /// Applies record number `seq`, in log order.
    pub fn replay(&mut self, seq: u64, record: Record<'_>) -> Result<(), StorageError> {
        if self.reclaimed && self.snapshot_seq == 0 {
            // Before the first complete snapshot of a reclaimed log: what
            // is left of older records (a batch's rest, an older snapshot
            // cut short) is superseded by that snapshot and the hard state
            // and entries written after it.
            match record {
                Record::Chunk { .. } => {}
                Record::Snapshot(ref snapshot) if Run::completes(self.run, snapshot).is_some() => {}
                _ => return Ok(()),
            }
        }
        match record {
            Record::HardState(hs) => self.hard_state = hs,
            Record::Chunk { index, term, offset, data } => {
                self.run = Run::follow(self.run, seq, index, term, offset, data.len());
            }
            Record::Snapshot(snapshot) => {
                let first_seq = Run::completes(self.run, &snapshot).ok_or(StorageError::BadRecord { seq })?;
                let at = snapshot.meta.index;
                let held = at.checked_sub(self.first_index()).and_then(|o| self.entries.get(o as usize));
                if held.is_some_and(|e| e.term == snapshot.meta.term) {
                    while self.entries.front().is_some_and(|e| e.index <= at) {
                        self.entries.pop_front();
                    }
                } else {
                    self.entries.clear();
                }
                self.snapshot = snapshot;
                self.snapshot_seq = first_seq;
                self.run = None;
            }
            Record::Entries(entries) => {
                for entry in entries {
                    if entry.index <= self.snapshot.meta.index {
                        continue;
                    }
                    while self.entries.back().is_some_and(|e| e.index >= entry.index) {
                        self.entries.pop_back();
                    }
                    let last = self.entries.back().map_or(self.snapshot.meta.index, |e| e.index);
                    if entry.index != last + 1 {
                        return Err(StorageError::BadRecord { seq });
                    }
                    self.entries.push_back(entry).map_err(|_| StorageError::WindowOverflow)?;
                }
            }
        }
        Ok(())
    }

    fn first_index(&self) -> Index {
        self.entries.front().map_or(self.snapshot.meta.index + 1, |e| e.index)
    }

    /// The recovered entries, in order.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'_>> {
        self.entries.iter_from(0)
    }
}

/// Where a follower's snapshot transfer reads next: the chunk at `offset`
/// of the snapshot at `index` is at or after record `seq`, which starts at
/// `at` on the disk (so each transfer scans on from its own place).
#[derive(Clone, Copy, Debug)]
struct Cursor {
    peer: NodeId,
    index: Index,
    offset: u64,
    seq: u64,
    at: Option<Position>,
}

/// A node's durable state in an event log. `BATCH` is the log's batch buffer
/// (see [`worknode_log::Log`]).
pub struct LogStorage<D: BlockDevice, const BATCH: usize> {
    log: Log<D, BATCH>,
    buf: [u8; MAX_PAYLOAD],
    /// The latest complete snapshot, and the sequence number of its first
    /// chunk (0 for the empty one a new node starts from).
    snapshot: Snapshot,
    snapshot_seq: u64,
    /// Chunks written since the last complete snapshot.
    run: Option<Run>,
    /// Read positions of the snapshot transfers under way, one per peer.
    cursors: Vec<Cursor, MAX_NODES>,
}

impl<D: BlockDevice, const BATCH: usize> LogStorage<D, BATCH> {
    fn with_log(log: Log<D, BATCH>, snapshot: Snapshot, snapshot_seq: u64) -> Self {
        LogStorage { log, buf: [0; MAX_PAYLOAD], snapshot, snapshot_seq, run: None, cursors: Vec::new() }
    }

    /// Formats a blank device for `owner` (the cluster and this node).
    pub fn create(dev: D, log_id: u64, owner: Owner) -> Result<Self, StorageError> {
        Ok(Self::with_log(Log::format_for(dev, log_id, owner)?, Snapshot::default(), 0))
    }

    /// Opens a device as `owner` and replays it into `recovered` (a
    /// caller-provided place, as it holds a whole window). A log formatted
    /// for another cluster or node is refused ([`LogError::Foreign`]) before
    /// anything is replayed.
    pub fn open(dev: D, recovered: &mut Recovered, owner: Owner) -> Result<Self, StorageError> {
        let (mut log, _) = Log::open_as(dev, owner)?;
        let sb = *log.superblock();
        *recovered = Recovered { reclaimed: log.oldest_seq() > 1, ..Recovered::default() };
        let mut failure = None;
        scan_to_end(log.device(), &sb, origin(&sb), |accepted, payload| {
            if failure.is_some() {
                return;
            }
            let seq = accepted.header.seq;
            let result = Record::decode(payload)
                .ok_or(StorageError::BadRecord { seq })
                .and_then(|r| recovered.replay(seq, r));
            failure = result.err();
        })?;
        match failure {
            Some(e) => Err(e),
            None => Ok(Self::with_log(log, recovered.snapshot.clone(), recovered.snapshot_seq)),
        }
    }

    /// Makes `rd` durable: a snapshot chunk and completion, entries and hard
    /// state, in one commit (one write and one flush, unless they overflow
    /// the log's batch).
    pub fn save(&mut self, node: &Raft, rd: &Ready) -> Result<(), StorageError> {
        if let Some((snapshot, offset)) = &rd.chunk {
            let (index, term) = (snapshot.meta.index, snapshot.meta.term);
            let data = node.pending_chunk();
            let seq = self.append(&Record::Chunk { index, term, offset: *offset, data })?;
            self.run = Run::follow(self.run, seq, index, term, *offset, data.len());
        }
        if rd.snapshot.is_some() {
            // Installed from the leader: it replaced the whole log, so no
            // entry is carried over.
            self.complete_snapshot(node)?;
        }
        self.append_entries(node, rd.persist.0, rd.persist.1)?;
        if let Some(hs) = rd.hard_state {
            self.append(&Record::HardState(hs))?;
        }
        self.commit()
    }

    /// Appends the entries `from..=to` of `node`'s window, as few records
    /// as they fit.
    fn append_entries(&mut self, node: &Raft, from: Index, to: Index) -> Result<(), StorageError> {
        let mut batch: Vec<Entry<'_>, RECORD_ENTRIES> = Vec::new();
        let mut bytes = 0;
        // Bounded by the window: callers name entries in it.
        for index in from..=to {
            let entry = node.log().entry(index).expect("entries to store are in the window");
            let cost = ENTRY_OVERHEAD + entry.data.len();
            if batch.is_full() || bytes + cost > RECORD_ENTRY_BYTES {
                self.append(&Record::Entries(core::mem::take(&mut batch)))?;
                bytes = 0;
            }
            let _ = batch.push(entry);
            bytes += cost;
        }
        if !batch.is_empty() {
            self.append(&Record::Entries(batch))?;
        }
        Ok(())
    }

    /// Commits what was appended; once a complete snapshot is durable
    /// (written by this storage, with the hard state after it), the log
    /// may reclaim every record before its first chunk when it needs room.
    fn commit(&mut self) -> Result<(), StorageError> {
        self.log.commit()?;
        if self.snapshot_seq > 0 {
            self.log.set_retention(self.snapshot_seq);
        }
        Ok(())
    }

    /// Completes the snapshot `node` holds, whose chunks were just
    /// written, and writes the hard state after it: everything recovery
    /// needs then follows the snapshot's first chunk.
    fn complete_snapshot(&mut self, node: &Raft) -> Result<(), StorageError> {
        let snapshot = node.snapshot();
        let first_seq = Run::completes(self.run, snapshot).ok_or(StorageError::SnapshotMissing)?;
        self.append(&Record::Snapshot(snapshot.clone()))?;
        self.append(&Record::HardState(node.hard_state()))?;
        self.snapshot = snapshot.clone();
        self.snapshot_seq = first_seq;
        self.run = None;
        self.cursors.clear();
        Ok(())
    }

    /// Makes the snapshot `node` just took ([`crate::Raft::compact`])
    /// durable: its state in chunks, each filled by `fill(offset, chunk)`,
    /// then its completion, the hard state, and again the durable entries
    /// after it. So nothing before its first chunk is needed any more, and
    /// the log reclaims it when it needs room: a node's Raft log stays
    /// within its part of the disk however long it runs. Rejected:
    /// reclaiming only up to the oldest record still holding a needed
    /// entry, which keeps no copy but makes recovery start in the middle
    /// of the entries, and needs a map from entries to records.
    pub fn save_snapshot(
        &mut self,
        node: &Raft,
        mut fill: impl FnMut(u64, &mut [u8]),
    ) -> Result<(), StorageError> {
        let snapshot = node.snapshot();
        let (index, term) = (snapshot.meta.index, snapshot.meta.term);
        let mut offset = 0;
        let mut chunk = [0u8; SNAPSHOT_CHUNK];
        // One chunk per round; a zero-length snapshot still writes one.
        while let Some(len) = snapshot.chunk_len(offset) {
            fill(offset, &mut chunk[..len]);
            let seq = self.append(&Record::Chunk { index, term, offset, data: &chunk[..len] })?;
            self.run = Run::follow(self.run, seq, index, term, offset, len);
            offset += SNAPSHOT_CHUNK as u64;
        }
        self.complete_snapshot(node)?;
        let stable = node.log().stable();
        if stable > index {
            self.append_entries(node, index + 1, stable)?;
        }
        self.commit()
    }

    /// Reads the stored snapshot's state in order, a chunk at a time, into
    /// `visit(offset, bytes)`.
    pub fn read_snapshot(
        &mut self,
        snapshot: &Snapshot,
        mut visit: impl FnMut(u64, &[u8]),
    ) -> Result<(), StorageError> {
        if *snapshot != self.snapshot {
            return Err(StorageError::SnapshotMissing);
        }
        let mut chunk = [0u8; SNAPSHOT_CHUNK];
        let (mut offset, mut seq, mut at) = (0, self.snapshot_seq, None);
        while let Some(len) = snapshot.chunk_len(offset) {
            let (next, next_at) = self.read_chunk_from(seq, at, offset, &mut chunk[..len])?;
            (seq, at) = (next, Some(next_at));
            visit(offset, &chunk[..len]);
            offset += SNAPSHOT_CHUNK as u64;
        }
        Ok(())
    }

    /// Gives a snapshot chunk from [`Raft::messages`] its bytes, read from
    /// the stored snapshot into `buf`; other messages pass unchanged.
    pub fn fill_chunk<'b>(
        &mut self,
        m: Message<'b>,
        buf: &'b mut [u8; SNAPSHOT_CHUNK],
    ) -> Result<Message<'b>, StorageError> {
        let Some((snapshot, offset, len)) = m.chunk_wanted() else {
            return Ok(m);
        };
        if snapshot != self.snapshot {
            return Err(StorageError::SnapshotMissing);
        }
        let index = snapshot.meta.index;
        let at = self.cursors.iter().position(|c| c.peer == m.to);
        let (from, hint) = match at.map(|i| self.cursors[i]) {
            Some(c) if c.index == index && c.offset == offset => (c.seq, c.at),
            _ => (self.snapshot_seq, None),
        };
        let (next, next_at) = self.read_chunk_from(from, hint, offset, &mut buf[..len])?;
        let cursor = Cursor { peer: m.to, index, offset: offset + len as u64, seq: next, at: Some(next_at) };
        match at {
            Some(i) => self.cursors[i] = cursor,
            // At most one cursor per peer, and at most MAX_NODES peers.
            None => {
                let _ = self.cursors.push(cursor);
            }
        }
        Ok(m.with_chunk(&buf[..len]))
    }

    /// Finds, at or after record `from` (which starts at `hint`, if
    /// known), the stored snapshot's chunk at `offset`, copies it into
    /// `out` (which has its length), and returns the record number after
    /// it and where that record starts.
    fn read_chunk_from(
        &mut self,
        from: u64,
        mut hint: Option<Position>,
        offset: u64,
        out: &mut [u8],
    ) -> Result<(u64, Position), StorageError> {
        let (index, term) = (self.snapshot.meta.index, self.snapshot.meta.term);
        let last = self.log.durable_seq();
        let mut payload = [0u8; MAX_PAYLOAD];
        // Bounded by the durable log.
        for seq in from.max(1)..=last {
            let (header, next) = self.log.read_after(seq, hint, &mut payload)?;
            hint = Some(next);
            let Some(record) = payload.get(..header.len as usize).and_then(Record::decode) else { continue };
            if let Record::Chunk { index: i, term: t, offset: o, data } = record
                && (i, t, o) == (index, term, offset)
            {
                if data.len() != out.len() {
                    return Err(StorageError::BadRecord { seq });
                }
                out.copy_from_slice(data);
                return Ok((seq + 1, next));
            }
        }
        Err(StorageError::SnapshotMissing)
    }

    fn append(&mut self, record: &Record<'_>) -> Result<u64, StorageError> {
        let payload = record.encode(&mut self.buf);
        // `encode` borrows `buf`; copy the length out before appending.
        let len = payload.len();
        let buf = self.buf;
        Ok(self.log.append(&buf[..len])?)
    }
    /// The underlying event log.
    pub fn log(&mut self) -> &mut Log<D, BATCH> {
        &mut self.log
    }

    /// Gives the device back (the simulator's crash).
    pub fn into_device(self) -> D {
        self.log.into_device()
    }
}
