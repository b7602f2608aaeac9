//! Walking the record area: recovery at boot, reads, `worknode log verify`.
//!
//! A [`Scanner`] starts at a known-good position (the genesis, or a
//! checkpoint) and accepts a record only if every check passes: magic,
//! version, length, checksum, log identity, the expected sequence number,
//! the hash link to the record before it, and batch bookkeeping. The first
//! record that fails stops the scan; nothing after it is ever returned.
//!
//! Where the scan stops is then classified by [`Scanner::probe_beyond`]:
//! the log is written one batch at a time and each batch is flushed before
//! the next is written, so at most the last batch can be torn by a crash.
//! If an intact record of a *later* batch lies beyond the stop, the stopping
//! record was in a batch that had been flushed and acknowledged: that is
//! damage, not a torn tail, and recovery refuses to truncate it away.

use crate::chain::{Hash, record_hash};
use crate::device::{BlockDevice, IoError};
use crate::format::{HEADER_LEN, HeaderError, MAX_PAYLOAD, RECORD_ALIGN, RecordHeader, SECTOR, align_up};
use crate::limits::SCAN_CACHE_SECTORS as CACHE_SECTORS;

/// A place in the log: where the record with `next_seq` starts (or would
/// start) and the hash it must link to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// Sequence number expected next.
    pub next_seq: u64,
    /// Absolute byte address on the device.
    pub byte: u64,
    /// Hash of record `next_seq - 1` (or the genesis hash).
    pub prev_hash: Hash,
    /// `batch_first_seq` of the batch the previous record belonged to
    /// (0 before the first record).
    pub batch_first_seq: u64,
}

impl Position {
    /// The sector this position is in.
    pub fn sector(&self) -> u64 {
        self.byte / SECTOR as u64
    }
}

/// What the log's records must agree with, and where batches may start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// [`crate::format::Superblock::log_id`].
    pub log_id: u64,
    /// First sector of the record area.
    pub data_start: u64,
    /// One past the last sector of the record area.
    pub data_end: u64,
    /// [`crate::format::Superblock::max_batch_sectors`].
    pub max_batch_sectors: u32,
    /// The area is a ring ([`crate::format::Superblock::is_ring`]).
    pub ring: bool,
}

impl Geometry {
    /// [`crate::format::Superblock::place`]: where a batch that would start
    /// at `sector` starts.
    pub fn place(&self, sector: u64) -> u64 {
        if self.ring && sector + u64::from(self.max_batch_sectors) > self.data_end {
            self.data_start
        } else {
            sector
        }
    }
}

/// Why the record at a position was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Defect {
    /// The header is malformed.
    Header(HeaderError),
    /// The record would extend past the record area.
    PastEnd,
    /// The checksum does not match: a torn write or a bit flip.
    Checksum,
    /// A record of another log (an earlier format of this disk).
    ForeignLog,
    /// A valid record with the wrong sequence number: misdirected or
    /// stale, or, in a ring, a record of the previous pass (the end).
    Sequence {
        /// The sequence number the record carries.
        found: u64,
    },
    /// A valid record whose `prev_hash` does not match its predecessor.
    Chain,
    /// `batch_first_seq` inconsistent with the previous record.
    Batch,
}

impl Defect {
    /// A short reason, for CLI output and logs.
    pub fn describe(&self) -> &'static str {
        match self {
            Defect::Header(HeaderError::NoMagic) => "no record header",
            Defect::Header(HeaderError::Version(_)) => "unknown record version",
            Defect::Header(HeaderError::Reserved) => "reserved header bytes are not zero",
            Defect::Header(HeaderError::Length(_)) => "payload length above the format limit",
            Defect::Header(HeaderError::BatchOrder) => "batch sequence after record sequence",
            Defect::PastEnd => "record extends past the end of the log area",
            Defect::Checksum => "checksum mismatch (torn write or bit flip)",
            Defect::ForeignLog => "record belongs to another log",
            Defect::Sequence { .. } => {
                "unexpected sequence number (an older record: misdirected, stale, or the ring's previous pass)"
            }
            Defect::Chain => "hash link does not match the previous record",
            Defect::Batch => "batch bookkeeping inconsistent with the previous record",
        }
    }
}

/// Where and why a scan stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Nothing at the next batch position: the clean end of the log.
    End,
    /// The record area is full.
    Full,
    /// An invalid record at the stop position.
    Invalid(Defect),
}

/// A record the scanner accepted. Its payload is in the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The decoded header.
    pub header: RecordHeader,
    /// The record's own hash (the next record's `prev_hash`).
    pub hash: Hash,
    /// Where the record starts.
    pub at: Position,
    /// True if a new batch starts with this record.
    pub starts_batch: bool,
}

/// One scanning step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A valid record; the scanner has moved past it.
    Record(Accepted),
    /// The scan is over; the scanner stays at the stop position.
    Stopped(Stop),
}

/// Evidence that a stop is damage rather than a torn tail: an intact record
/// of a later batch beyond it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaterBatch {
    /// Sector where the later batch's record was found.
    pub sector: u64,
    /// That record's sequence number.
    pub seq: u64,
    /// The first sequence number of its batch (after the stop's).
    pub batch_first_seq: u64,
}

/// Reads bytes from the device through a small sector cache.
struct Cursor {
    cache: [u8; CACHE_SECTORS * SECTOR],
    first: u64,
    count: u64,
}

impl Cursor {
    const fn new() -> Cursor {
        Cursor { cache: [0; CACHE_SECTORS * SECTOR], first: 0, count: 0 }
    }

    /// Reads `out.len()` bytes at absolute byte `byte`; the caller keeps
    /// the range below `end_sector`.
    fn read<D: BlockDevice>(
        &mut self,
        dev: &mut D,
        end_sector: u64,
        mut byte: u64,
        out: &mut [u8],
    ) -> Result<(), IoError> {
        let mut done = 0;
        // Bounded: each pass copies at least one byte of `out`.
        while done < out.len() {
            let sector = byte / SECTOR as u64;
            if sector < self.first || sector >= self.first + self.count {
                let count = (end_sector.saturating_sub(sector)).min(CACHE_SECTORS as u64);
                if count == 0 {
                    return Err(IoError::OutOfRange);
                }
                self.count = 0;
                dev.read(sector, &mut self.cache[..count as usize * SECTOR])?;
                self.first = sector;
                self.count = count;
            }
            let offset = (byte - self.first * SECTOR as u64) as usize;
            let available = self.count as usize * SECTOR - offset;
            let n = available.min(out.len() - done);
            out[done..done + n].copy_from_slice(&self.cache[offset..offset + n]);
            done += n;
            byte += n as u64;
        }
        Ok(())
    }
}

/// Walks records forward from a known-good position.
pub struct Scanner {
    geometry: Geometry,
    at: Position,
    cursor: Cursor,
}

impl Scanner {
    /// A scanner at `from`, which must be a position where a record starts.
    pub fn new(geometry: Geometry, from: Position) -> Scanner {
        Scanner { geometry, at: from, cursor: Cursor::new() }
    }

    /// The current position: after the last accepted record, or the stop.
    pub fn position(&self) -> Position {
        self.at
    }

    /// Accepts the next record into `payload`, or says why the scan stops.
    ///
    /// After a record, the next one is either right behind it (same batch)
    /// or where the next batch starts: the next sector boundary, moved to
    /// the start of the area when a ring's batch would not fit before its
    /// end ([`Geometry::place`]). The gap is padding, or the torn remains of
    /// a batch that a crash cut short and recovery truncated. The hash
    /// chain makes the choice unambiguous: only one record can carry the
    /// expected sequence number *and* link to its predecessor.
    pub fn step<D: BlockDevice>(
        &mut self,
        dev: &mut D,
        payload: &mut [u8; MAX_PAYLOAD],
    ) -> Result<Step, IoError> {
        let here = self.at.byte;
        let sector = SECTOR as u64;
        let placed = self.geometry.place(align_up(here, sector) / sector) * sector;
        let first = self.try_at(dev, here, here == placed, true, payload)?;
        let outcome = match first {
            Ok(header) => Ok((header, here)),
            Err(stop) if placed != here => match self.try_at(dev, placed, true, false, payload)? {
                Ok(header) => Ok((header, placed)),
                // Padding (or the end of the area) then nothing: report what
                // is where the next batch would be.
                Err(second)
                    if matches!(stop, Stop::Full | Stop::Invalid(Defect::Header(HeaderError::NoMagic))) =>
                {
                    Err(second)
                }
                Err(_) => Err(stop),
            },
            Err(stop) => Err(stop),
        };
        let (header, at) = match outcome {
            Ok(found) => found,
            Err(stop) => return Ok(Step::Stopped(stop)),
        };
        let body = &payload[..header.len as usize];
        let accepted = Accepted {
            header,
            hash: record_hash(&header, body),
            at: Position { byte: at, ..self.at },
            starts_batch: header.batch_first_seq == header.seq,
        };
        self.at = Position {
            next_seq: header.seq + 1,
            byte: at + header.stride(),
            prev_hash: accepted.hash,
            batch_first_seq: header.batch_first_seq,
        };
        Ok(Step::Record(accepted))
    }

    /// Decodes and checks the record at `byte` against the current
    /// expectations, reading its payload into `payload`. A new batch may
    /// start there only if `may_start`; the previous record's batch may
    /// continue there only if `may_continue`.
    fn try_at<D: BlockDevice>(
        &mut self,
        dev: &mut D,
        byte: u64,
        may_start: bool,
        may_continue: bool,
        payload: &mut [u8; MAX_PAYLOAD],
    ) -> Result<Result<RecordHeader, Stop>, IoError> {
        let stop = |s| Ok(Err(s));
        let invalid = |d| Ok(Err(Stop::Invalid(d)));
        let end_byte = self.geometry.data_end * SECTOR as u64;
        let starts_sector = byte.is_multiple_of(SECTOR as u64);
        if byte + HEADER_LEN as u64 > end_byte {
            return if starts_sector { stop(Stop::Full) } else { invalid(Defect::PastEnd) };
        }
        let mut raw = [0u8; HEADER_LEN];
        self.cursor.read(dev, self.geometry.data_end, byte, &mut raw)?;
        let header = match RecordHeader::decode(&raw) {
            Ok(header) => header,
            Err(HeaderError::NoMagic) if starts_sector => return stop(Stop::End),
            Err(e) => return invalid(Defect::Header(e)),
        };
        if byte + header.stride() > end_byte {
            return invalid(Defect::PastEnd);
        }
        let body = &mut payload[..header.len as usize];
        self.cursor.read(dev, self.geometry.data_end, byte + HEADER_LEN as u64, body)?;
        match self.check(&header, body, may_start && starts_sector, may_continue) {
            Some(defect) => invalid(defect),
            None => Ok(Ok(header)),
        }
    }

    fn check(
        &self,
        header: &RecordHeader,
        body: &[u8],
        may_start: bool,
        may_continue: bool,
    ) -> Option<Defect> {
        if !header.crc_matches(body) {
            return Some(Defect::Checksum);
        }
        if header.log_id != self.geometry.log_id {
            return Some(Defect::ForeignLog);
        }
        if header.seq != self.at.next_seq {
            return Some(Defect::Sequence { found: header.seq });
        }
        if header.prev_hash != self.at.prev_hash {
            return Some(Defect::Chain);
        }
        // A record continues the previous record's batch, or (only where a
        // batch may start) starts a new one.
        let continues = may_continue && header.batch_first_seq == self.at.batch_first_seq;
        let starts = may_start && header.batch_first_seq == header.seq;
        if !(continues || starts) {
            return Some(Defect::Batch);
        }
        None
    }

    /// After a stop, looks for an intact record of a later batch where one
    /// could start: within one batch length beyond the stop, or, in a ring,
    /// at the start of the area if the next batch would have wrapped.
    /// Bounded: at most `max_batch_sectors + 1` sector probes.
    pub fn probe_beyond<D: BlockDevice>(
        &mut self,
        dev: &mut D,
        payload: &mut [u8; MAX_PAYLOAD],
    ) -> Result<Option<LaterBatch>, IoError> {
        let stop_seq = self.at.next_seq;
        let from = self.at.sector();
        let end_byte = self.geometry.data_end * SECTOR as u64;
        for k in 1..=u64::from(self.geometry.max_batch_sectors) + 1 {
            let next = from + k;
            let sector = self.geometry.place(next);
            if sector >= self.geometry.data_end {
                break;
            }
            let byte = sector * SECTOR as u64;
            let mut raw = [0u8; HEADER_LEN];
            self.cursor.read(dev, self.geometry.data_end, byte, &mut raw)?;
            if let Ok(header) = RecordHeader::decode(&raw)
                && header.log_id == self.geometry.log_id
                && header.batch_first_seq > stop_seq
                && byte + header.stride() <= end_byte
            {
                let body = &mut payload[..header.len as usize];
                self.cursor.read(dev, self.geometry.data_end, byte + HEADER_LEN as u64, body)?;
                if header.crc_matches(body) {
                    return Ok(Some(LaterBatch {
                        sector,
                        seq: header.seq,
                        batch_first_seq: header.batch_first_seq,
                    }));
                }
            }
            if sector != next {
                // The wrap: the start of the area was the last place left.
                break;
            }
        }
        Ok(None)
    }
}

const _: () = assert!((SECTOR as u64).is_multiple_of(RECORD_ALIGN));
