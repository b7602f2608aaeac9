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
//! - `Entries`: consecutive entries; they replace every entry stored from the
//!   first one's index on (a follower's conflicting suffix is never
//!   rewritten in place, only superseded);
//! - `Snapshot`: a snapshot. Entries after it survive replay only if the log
//!   held the snapshot's own last entry (local compaction); a snapshot
//!   installed from the leader replaces the whole log.
//!
//! [`LogStorage::save`] writes one [`Ready`]'s records and commits them with
//! one flush; [`LogStorage::open`] replays the log into what
//! [`crate::Raft::recover`] needs. Rejected alternative: a storage trait with
//! random-access entry reads (etcd-raft's `Storage`); the core keeps its
//! window in memory, so storage is append-and-replay only, which is exactly
//! what the event log offers.

use heapless::{Deque, Vec};
use serde::{Deserialize, Serialize};
use worknode_log::format::MAX_PAYLOAD;
use worknode_log::{BlockDevice, Log, LogError, origin, scan_to_end};

use crate::limits::LOG_WINDOW;
use crate::raft::{Raft, Ready};
use crate::types::{Entry, HardState, Snapshot};

/// Version of the record encoding; bump on any change.
pub const RECORD_VERSION: u8 = 1;
/// Entries per `Entries` record: ten full entries fit a log record.
pub const ENTRIES_PER_RECORD: usize = 10;

/// One durable record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    /// See the module documentation.
    HardState(HardState),
    /// See the module documentation.
    Entries(Vec<Entry, ENTRIES_PER_RECORD>),
    /// See the module documentation.
    Snapshot(Snapshot),
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
        }
    }
}

impl Record {
    /// Encodes into `buf`, returning the used prefix.
    pub fn encode<'a>(&self, buf: &'a mut [u8; MAX_PAYLOAD]) -> &'a [u8] {
        buf[0] = RECORD_VERSION;
        let used = postcard::to_slice(self, &mut buf[1..]).expect("a record always fits a log record").len();
        &buf[..1 + used]
    }

    /// Decodes a record payload; `None` if it is not one (including a
    /// non-canonical encoding, as for messages).
    pub fn decode(payload: &[u8]) -> Option<Record> {
        let record = match payload.split_first() {
            Some((&RECORD_VERSION, body)) => match postcard::take_from_bytes::<Record>(body) {
                Ok((record, [])) => record,
                _ => return None,
            },
            _ => return None,
        };
        let mut canonical = [0u8; MAX_PAYLOAD];
        (record.encode(&mut canonical) == payload).then_some(record)
    }
}

/// What replay recovered: the arguments of [`crate::Raft::recover`].
#[derive(Debug, Default)]
pub struct Recovered {
    /// The last hard state written.
    pub hard_state: HardState,
    /// The last snapshot written (index 0 if none).
    pub snapshot: Snapshot,
    /// The entries after it.
    pub entries: Deque<Entry, LOG_WINDOW>,
}

impl Recovered {
    /// Applies one record, in log order.
    pub fn replay(&mut self, record: Record) -> Result<(), StorageError> {
        match record {
            Record::HardState(hs) => self.hard_state = hs,
            Record::Snapshot(snapshot) => {
                let at = snapshot.meta.index;
                let keeps_suffix = self.entries.iter().any(|e| e.index == at && e.term == snapshot.meta.term);
                if keeps_suffix {
                    while self.entries.front().is_some_and(|e| e.index <= at) {
                        self.entries.pop_front();
                    }
                } else {
                    self.entries.clear();
                }
                self.snapshot = snapshot;
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
                        return Err(StorageError::BadRecord { seq: 0 });
                    }
                    self.entries.push_back(entry).map_err(|_| StorageError::WindowOverflow)?;
                }
            }
        }
        Ok(())
    }
}

/// A node's durable state in an event log. `BATCH` is the log's batch buffer
/// (see [`worknode_log::Log`]).
pub struct LogStorage<D: BlockDevice, const BATCH: usize> {
    log: Log<D, BATCH>,
    buf: [u8; MAX_PAYLOAD],
}

impl<D: BlockDevice, const BATCH: usize> LogStorage<D, BATCH> {
    /// Formats a blank device.
    pub fn create(dev: D, log_id: u64) -> Result<Self, StorageError> {
        Ok(LogStorage { log: Log::format(dev, log_id)?, buf: [0; MAX_PAYLOAD] })
    }

    /// Opens a device and replays it.
    pub fn open(dev: D) -> Result<(Self, Recovered), StorageError> {
        let (mut log, _) = Log::open(dev)?;
        let sb = *log.superblock();
        let mut recovered = Recovered::default();
        let mut failure = None;
        scan_to_end(log.device(), &sb, origin(&sb), |accepted, payload| {
            if failure.is_some() {
                return;
            }
            let seq = accepted.header.seq;
            let result = Record::decode(payload)
                .ok_or(StorageError::BadRecord { seq })
                .and_then(|r| recovered.replay(r));
            failure = result.err().map(|e| match e {
                StorageError::BadRecord { .. } => StorageError::BadRecord { seq },
                other => other,
            });
        })?;
        match failure {
            Some(e) => Err(e),
            None => Ok((LogStorage { log, buf: [0; MAX_PAYLOAD] }, recovered)),
        }
    }

    /// Makes `rd` durable: its snapshot, entries and hard state, in one
    /// commit (one write and one flush).
    pub fn save(&mut self, node: &Raft, rd: &Ready) -> Result<(), StorageError> {
        if rd.snapshot.is_some() {
            self.append(&Record::Snapshot(node.snapshot().clone()))?;
        }
        let mut chunk: Vec<Entry, ENTRIES_PER_RECORD> = Vec::new();
        // Bounded by the window: `persist` covers entries in it.
        for index in rd.persist.0..=rd.persist.1 {
            let entry = node.log().entry(index).expect("entries to persist are in the window");
            if chunk.push(entry.clone()).is_err() {
                self.append(&Record::Entries(core::mem::take(&mut chunk)))?;
                let _ = chunk.push(entry.clone());
            }
        }
        if !chunk.is_empty() {
            self.append(&Record::Entries(chunk))?;
        }
        if let Some(hs) = rd.hard_state {
            self.append(&Record::HardState(hs))?;
        }
        self.log.commit()?;
        Ok(())
    }

    /// Makes a snapshot taken with [`crate::Raft::compact`] durable.
    pub fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), StorageError> {
        self.append(&Record::Snapshot(snapshot.clone()))?;
        self.log.commit()?;
        Ok(())
    }

    fn append(&mut self, record: &Record) -> Result<(), StorageError> {
        let payload = record.encode(&mut self.buf);
        // `encode` borrows `buf`; copy the length out before appending.
        let len = payload.len();
        let buf = self.buf;
        self.log.append(&buf[..len])?;
        Ok(())
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
