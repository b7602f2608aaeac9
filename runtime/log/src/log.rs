//! The log itself: format, open (recovery), append, group commit, checkpoint,
//! retention, read.
//!
//! Appends go into an in-memory batch and get sequence numbers at once;
//! [`Log::commit`] writes the whole batch with one device write and makes it
//! durable with one flush. A record is acknowledged (counted in
//! [`Log::durable_seq`]) only after that flush completed. After any failed
//! write or flush the log is *poisoned*: what reached the disk is unknown,
//! so it refuses appends until reopened, and recovery decides.
//!
//! Retention (format version 2): the record area is a ring. When an append
//! finds no room, the log reclaims its oldest batches, but never a record
//! at or after the retention floor its owner set ([`Log::set_retention`]):
//! it first writes a superblock whose tail anchor names the oldest record
//! kept and the hash of the last one reclaimed, flushes it, and only then
//! lets new batches overwrite the reclaimed sectors. So recovery never
//! meets a half-overwritten region it still counts as the log, and
//! `worknode log verify` proves the kept part continues the reclaimed one.
//! Ordinary appends leave a reserve free ([`Log::set_reserve`]); appends in
//! [`Room::Reserved`] (the principal's controls) may use it, so they still
//! land when the floor keeps the log full.

use crate::chain::{Hash, genesis, record_hash};
use crate::device::{BlockDevice, IoError};
use crate::format::{
    Checkpoint, DATA_START, HEADER_LEN, MAX_PAYLOAD, Owner, RECORD_ALIGN, RecordHeader, SECTOR,
    SUPERBLOCK_SECTORS, Superblock, SuperblockError, VERSION, align_up,
};
use crate::index::SparseIndex;
use crate::scan::{Defect, Geometry, LaterBatch, Position, Scanner, Step, Stop};

/// Why a log operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogError {
    /// The device failed.
    Io(IoError),
    /// Both superblock sectors are blank: the device was never formatted.
    Unformatted,
    /// The device holds something that is not a Worknode log; it is left
    /// untouched.
    NotALog,
    /// [`Log::format`] found a log already there; it is left untouched.
    AlreadyFormatted,
    /// Neither superblock copy is valid (the first copy's problem).
    Superblock(SuperblockError),
    /// Acknowledged data is damaged: the record `seq` is invalid although a
    /// later, intact batch proves it had been made durable.
    Corrupt {
        /// The first damaged record.
        seq: u64,
        /// What is wrong with it.
        defect: DamageKind,
        /// The later batch that proves it had been acknowledged.
        later: LaterBatch,
    },
    /// A payload longer than [`MAX_PAYLOAD`] (or the volume's limit).
    TooLarge,
    /// The record area has no room for the record (in its room: see
    /// [`Room`]), and nothing more may be reclaimed.
    Full,
    /// The record was reclaimed: the oldest record kept is `oldest`.
    Reclaimed {
        /// The oldest record the log still holds.
        oldest: u64,
    },
    /// A write or flush failed earlier; reopen the log.
    Poisoned,
    /// The log belongs to another cluster or another node (`owner`); it is
    /// left untouched.
    Foreign {
        /// Whom the log's superblock names.
        owner: Owner,
    },
    /// No durable record with that sequence number.
    NotFound,
    /// A durable record no longer reads back (damaged after recovery).
    Unreadable {
        /// The record asked for.
        seq: u64,
        /// Why the scan towards it stopped.
        stop: Stop,
    },
    /// The device is too small to hold a log.
    DeviceTooSmall,
}

/// What recovery found at the first damaged record: a defect, or nothing at
/// all where a record had been (a lost write).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DamageKind {
    /// The record is there but invalid.
    Defect(Defect),
    /// No record where one must be: the write was lost.
    Missing,
}

impl From<IoError> for LogError {
    fn from(e: IoError) -> LogError {
        LogError::Io(e)
    }
}

impl From<LogError> for worknode_abi::ErrorCode {
    fn from(e: LogError) -> worknode_abi::ErrorCode {
        use worknode_abi::ErrorCode as E;
        match e {
            LogError::Io(_) | LogError::Poisoned => E::Io,
            LogError::Unformatted | LogError::NotALog | LogError::AlreadyFormatted => E::InvalidState,
            LogError::Superblock(_) | LogError::Corrupt { .. } | LogError::Unreadable { .. } => E::Corrupt,
            LogError::TooLarge => E::TooLarge,
            LogError::Full | LogError::DeviceTooSmall => E::Exhausted,
            LogError::NotFound | LogError::Reclaimed { .. } => E::NotFound,
            LogError::Foreign { .. } => E::Denied,
        }
    }
}

/// What [`Log::open`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// Sequence number of the last record in the log (0 if empty).
    pub last_seq: u64,
    /// Records scanned (from the checkpoint).
    pub scanned: u64,
    /// Why the scan stopped.
    pub stop: Stop,
    /// Generation of the superblock used.
    pub generation: u64,
}

/// Reads both superblocks and returns the valid one with the higher
/// generation.
pub fn read_superblock<D: BlockDevice>(dev: &mut D) -> Result<Superblock, LogError> {
    let mut results = [Err(SuperblockError::Blank); 2];
    for (slot, result) in results.iter_mut().enumerate() {
        let mut sector = [0u8; SECTOR];
        dev.read(SUPERBLOCK_SECTORS[slot], &mut sector)?;
        *result = Superblock::decode(&sector, slot as u16);
    }
    match results {
        [Ok(a), Ok(b)] => Ok(if b.generation > a.generation { b } else { a }),
        [Ok(sb), Err(_)] | [Err(_), Ok(sb)] => Ok(sb),
        [Err(SuperblockError::Blank), Err(SuperblockError::Blank)] => Err(LogError::Unformatted),
        [Err(SuperblockError::NotALog), Err(SuperblockError::NotALog | SuperblockError::Blank)] => {
            Err(LogError::NotALog)
        }
        [Err(SuperblockError::Blank), Err(e)] | [Err(e), Err(_)] => Err(LogError::Superblock(e)),
    }
}

/// An identity for a new log on `dev` owned by `owner`, derived from the
/// owner, from `entropy` (a clock reading, where the caller has one) and
/// from what the disk holds before formatting: both superblock sectors and
/// the first record sector.
///
/// Identity matters first between logs on the same disk: the records of
/// an earlier log must never pass as the new one's. Hashing the earlier
/// log's traces (its superblocks, its record 1 with its `log_id`) gives the
/// new log a different identity even with no clock or random number
/// generator, which not every board has. The owner makes the logs of
/// different nodes and clusters differ even on blank disks; two blank
/// disks formatted for the same owner with the same `entropy` get the same
/// identity, and that is harmless: one owner uses one disk at a time, and
/// its records never meet another's.
pub fn derive_log_id<D: BlockDevice>(dev: &mut D, owner: Owner, entropy: u64) -> Result<u64, LogError> {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"worknode-log v1 identity");
    hasher.update(&owner.cluster.to_le_bytes());
    hasher.update(&owner.node.to_le_bytes());
    hasher.update(&entropy.to_le_bytes());
    let mut sector = [0u8; SECTOR];
    for at in [SUPERBLOCK_SECTORS[0], SUPERBLOCK_SECTORS[1], DATA_START] {
        if at < dev.sectors() {
            dev.read(at, &mut sector)?;
            hasher.update(&sector);
        }
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&hasher.finalize().as_bytes()[..8]);
    Ok(u64::from_le_bytes(id))
}

/// The geometry a superblock describes.
pub fn geometry(sb: &Superblock) -> Geometry {
    Geometry {
        log_id: sb.log_id,
        data_start: sb.data_start,
        data_end: sb.data_end(),
        max_batch_sectors: sb.max_batch_sectors,
        ring: sb.is_ring(),
    }
}

/// The position of the oldest record the log keeps: record 1, until
/// records were reclaimed; then the superblock's tail anchor.
pub fn origin(sb: &Superblock) -> Position {
    position(&sb.tail)
}

fn position(point: &Checkpoint) -> Position {
    Position {
        next_seq: point.next_seq,
        byte: point.sector * SECTOR as u64,
        prev_hash: point.prev_hash,
        batch_first_seq: 0,
    }
}

/// Scans from `from` to the stop and classifies it; `visit` sees every
/// accepted record. Shared by recovery and verification.
pub fn scan_to_end<D: BlockDevice>(
    dev: &mut D,
    sb: &Superblock,
    from: Position,
    mut visit: impl FnMut(&crate::scan::Accepted, &[u8]),
) -> Result<(Position, Stop, u64), LogError> {
    let mut scanner = Scanner::new(geometry(sb), from);
    let mut payload = [0u8; MAX_PAYLOAD];
    let mut scanned = 0u64;
    // Bounded by the record area: every accepted record advances the
    // position by at least one header.
    let stop = loop {
        match scanner.step(dev, &mut payload)? {
            Step::Record(accepted) => {
                scanned += 1;
                visit(&accepted, &payload[..accepted.header.len as usize]);
            }
            Step::Stopped(stop) => break stop,
        }
    };
    let at = scanner.position();
    if let Some(later) = scanner.probe_beyond(dev, &mut payload)? {
        let defect = match stop {
            Stop::Invalid(defect) => DamageKind::Defect(defect),
            Stop::End | Stop::Full => DamageKind::Missing,
        };
        return Err(LogError::Corrupt { seq: at.next_seq, defect, later });
    }
    Ok((at, stop, scanned))
}

pub use worknode_abi::log::Room;

/// A crash-consistent, hash-chained log on a block device. `BATCH` is the
/// batch buffer size in bytes, a multiple of 512.
pub struct Log<D: BlockDevice, const BATCH: usize> {
    dev: D,
    sb: Superblock,
    batch: [u8; BATCH],
    batch_len: usize,
    /// Usable part of `batch` (the volume's batch limit may be smaller).
    batch_cap: usize,
    /// Where the pending batch will be written (already placed: see
    /// [`Superblock::place`]).
    batch_sector: u64,
    batch_first_seq: u64,
    /// Next sequence number to hand out; prev hash = hash of the last
    /// appended record (pending or durable).
    next_seq: u64,
    prev_hash: Hash,
    durable_seq: u64,
    poisoned: bool,
    index: SparseIndex,
    /// Where the record after the last one read starts: a read of a later
    /// record scans on from there. Reads in order (a snapshot's chunks,
    /// a replay) then cost one step each, where scanning from the sparse
    /// index's nearest entry each time costs a gap's worth per read.
    read_next: Option<Position>,
    /// Records before this sequence number may be reclaimed.
    floor: u64,
    /// Sectors ordinary appends leave free.
    reserve: u64,
}

impl<D: BlockDevice, const BATCH: usize> Log<D, BATCH> {
    const BATCH_OK: () = assert!(BATCH.is_multiple_of(SECTOR) && BATCH >= HEADER_LEN + MAX_PAYLOAD + SECTOR);

    /// Formats `dev` as an empty log with identity `log_id`, bound to no
    /// cluster or node ([`Owner::UNBOUND`]), overwriting both superblocks.
    /// Refuses a device that already holds something; use
    /// [`Log::format_over`] to overwrite deliberately.
    pub fn format(dev: D, log_id: u64) -> Result<Self, LogError> {
        Self::format_for(dev, log_id, Owner::UNBOUND)
    }

    /// [`Log::format`], for `owner`: the log is then refused to any other
    /// node ([`Log::open_as`]).
    pub fn format_for(mut dev: D, log_id: u64, owner: Owner) -> Result<Self, LogError> {
        match read_superblock(&mut dev) {
            Err(LogError::Unformatted) => Self::format_over_for(dev, log_id, owner),
            Err(LogError::Io(e)) => Err(LogError::Io(e)),
            Ok(_) => Err(LogError::AlreadyFormatted),
            Err(_) => Err(LogError::NotALog),
        }
    }

    /// Formats `dev`, whatever it holds, as an unbound log (a ring).
    pub fn format_over(dev: D, log_id: u64) -> Result<Self, LogError> {
        Self::format_over_for(dev, log_id, Owner::UNBOUND)
    }

    /// Formats `dev`, whatever it holds, as a version 3 log (a ring) owned
    /// by `owner`.
    pub fn format_over_for(dev: D, log_id: u64, owner: Owner) -> Result<Self, LogError> {
        Self::format_over_with(dev, log_id, owner, 0)
    }

    /// [`Log::format_over_for`] with superblock `flags`
    /// ([`crate::format::FLAG_JOIN`]).
    pub fn format_over_with(mut dev: D, log_id: u64, owner: Owner, flags: u16) -> Result<Self, LogError> {
        let () = Self::BATCH_OK;
        let sectors = dev.sectors();
        let batch_sectors = (BATCH / SECTOR) as u64;
        if sectors < DATA_START + 2 * batch_sectors {
            return Err(LogError::DeviceTooSmall);
        }
        let origin = Checkpoint { next_seq: 1, sector: DATA_START, prev_hash: genesis(log_id) };
        let mut sb = Superblock {
            version: VERSION,
            slot: 0,
            log_id,
            data_start: DATA_START,
            data_sectors: sectors - DATA_START,
            max_batch_sectors: batch_sectors as u32,
            max_payload: MAX_PAYLOAD as u32,
            generation: 1,
            checkpoint: origin,
            tail: origin,
            owner,
            flags,
        };
        // Blank the first batch position so no earlier log's data is there.
        dev.write(DATA_START, &[0u8; SECTOR])?;
        for slot in 0..2u16 {
            sb.slot = slot;
            dev.write(SUPERBLOCK_SECTORS[slot as usize], &sb.encode())?;
        }
        dev.flush()?;
        Self::open(dev).map(|(log, _)| log)
    }

    /// Opens the log on `dev`: picks the newest valid superblock and scans
    /// from its checkpoint to the last valid record. Any owner's log opens:
    /// a node opens with [`Log::open_as`].
    pub fn open(dev: D) -> Result<(Self, Recovery), LogError> {
        Self::open_as(dev, Owner::UNBOUND)
    }

    /// [`Log::open`] for the node `me`: a log whose owner does not admit
    /// it ([`Owner::admits`]) is refused with [`LogError::Foreign`] before
    /// anything past its superblocks is read, and left untouched.
    /// `Owner::UNBOUND` opens every log (the tools do).
    pub fn open_as(mut dev: D, me: Owner) -> Result<(Self, Recovery), LogError> {
        let () = Self::BATCH_OK;
        let sb = read_superblock(&mut dev)?;
        if me != Owner::UNBOUND && !sb.owner.admits(me) {
            return Err(LogError::Foreign { owner: sb.owner });
        }
        if sb.data_end() > dev.sectors() {
            return Err(LogError::DeviceTooSmall);
        }
        let mut index = SparseIndex::new();
        let from = position(&sb.checkpoint);
        index.note(from);
        let (end, stop, scanned) = scan_to_end(&mut dev, &sb, from, |accepted, _| {
            if accepted.starts_batch {
                index.note(accepted.at);
            }
        })?;
        // Records recovered from the last batch may have been read from the
        // device's volatile cache; make them durable before anything new is
        // chained to them.
        dev.flush()?;
        // The next batch starts at a sector boundary after the last record.
        let batch_sector = sb.place(align_up(end.byte, SECTOR as u64) / SECTOR as u64);
        let last_seq = end.next_seq - 1;
        let log = Log {
            dev,
            sb,
            batch: [0; BATCH],
            batch_len: 0,
            batch_cap: BATCH.min(sb.max_batch_sectors as usize * SECTOR),
            batch_sector,
            batch_first_seq: end.next_seq,
            next_seq: end.next_seq,
            prev_hash: end.prev_hash,
            durable_seq: last_seq,
            poisoned: false,
            index,
            read_next: None,
            floor: 1,
            reserve: 0,
        };
        Ok((log, Recovery { last_seq, scanned, stop, generation: sb.generation }))
    }

    /// The superblock in effect.
    pub fn superblock(&self) -> &Superblock {
        &self.sb
    }

    /// Lets the log reclaim records before `floor` when it needs room
    /// (oldest first, whole batches). The default, 1, keeps everything: a
    /// full log then refuses appends with [`LogError::Full`]. `u64::MAX`
    /// lets it reclaim whatever it must. Version 1 logs never reclaim.
    pub fn set_retention(&mut self, floor: u64) {
        self.floor = floor;
    }

    /// Keeps `sectors` of the record area free for [`Room::Reserved`]
    /// appends (at most a quarter of the area).
    pub fn set_reserve(&mut self, sectors: u64) {
        self.reserve = sectors.min(self.sb.data_sectors / 4);
    }

    /// The oldest record the log still holds (1 until something was
    /// reclaimed).
    pub fn oldest_seq(&self) -> u64 {
        self.sb.tail.next_seq
    }

    /// Sectors of the record area an ordinary append could still use
    /// without reclaiming anything.
    pub fn free_sectors(&self) -> u64 {
        self.free().saturating_sub(self.reserve + 1)
    }

    /// Highest sequence number that is durable (0 if none).
    pub fn durable_seq(&self) -> u64 {
        self.durable_seq
    }

    /// Highest sequence number handed out (durable or pending).
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Number of appended records not yet committed.
    pub fn pending(&self) -> u64 {
        self.next_seq - 1 - self.durable_seq
    }

    /// The device, for callers that need to inspect it (tests, the CLI).
    pub fn device(&mut self) -> &mut D {
        &mut self.dev
    }

    /// Gives the device back.
    pub fn into_device(self) -> D {
        self.dev
    }

    /// Appends a record to the pending batch and returns its sequence
    /// number. It is durable once [`Log::commit`] returns a durable sequence
    /// number at or above it. If the batch is full, commits it first; if
    /// the area is, reclaims what the retention floor allows first.
    pub fn append(&mut self, payload: &[u8]) -> Result<u64, LogError> {
        self.append_in(payload, Room::Ordinary)
    }

    /// [`Log::append`], in the given part of the free space.
    pub fn append_in(&mut self, payload: &[u8], room: Room) -> Result<u64, LogError> {
        if self.poisoned {
            return Err(LogError::Poisoned);
        }
        if payload.len() > self.sb.max_payload as usize {
            return Err(LogError::TooLarge);
        }
        let stride = align_up((HEADER_LEN + payload.len()) as u64, RECORD_ALIGN) as usize;
        if self.batch_len + stride > self.batch_cap {
            self.commit()?;
        }
        let sectors = |len: usize| align_up(len as u64, SECTOR as u64) / SECTOR as u64;
        if !self.fits(sectors(self.batch_len + stride), room) {
            // Room is made between batches: commit what is pending, then
            // reclaim for the new record alone.
            self.commit()?;
            if !self.fits(sectors(stride), room) {
                self.reclaim(sectors(stride), room)?;
                if !self.fits(sectors(stride), room) {
                    return Err(LogError::Full);
                }
            }
        }
        if self.batch_len == 0 {
            self.batch_first_seq = self.next_seq;
        }
        let mut header = RecordHeader {
            len: payload.len() as u32,
            crc: 0,
            log_id: self.sb.log_id,
            seq: self.next_seq,
            batch_first_seq: self.batch_first_seq,
            prev_hash: self.prev_hash,
        };
        header.crc = header.compute_crc(payload);
        let at = self.batch_len;
        self.batch[at..at + HEADER_LEN].copy_from_slice(&header.encode());
        self.batch[at + HEADER_LEN..at + HEADER_LEN + payload.len()].copy_from_slice(payload);
        self.batch[at + HEADER_LEN + payload.len()..at + stride].fill(0);
        self.batch_len += stride;
        self.prev_hash = record_hash(&header, payload);
        self.next_seq += 1;
        Ok(header.seq)
    }

    /// Ring distance from sector `from` forward to sector `to`.
    fn distance(&self, from: u64, to: u64) -> u64 {
        let size = self.sb.data_sectors;
        let (from, to) = ((from - self.sb.data_start) % size, (to - self.sb.data_start) % size);
        (to + size - from) % size
    }

    /// Sectors from the pending batch's place forward to the oldest record
    /// kept (the whole area when nothing is kept).
    fn free(&self) -> u64 {
        if !self.sb.is_ring() {
            return self.sb.data_end() - self.batch_sector;
        }
        if self.sb.tail.next_seq > self.durable_seq {
            return self.sb.data_sectors;
        }
        self.sb.data_sectors - self.distance(self.sb.tail.sector, self.batch_sector)
    }

    /// Whether a pending batch of `sectors` fits in front of the oldest
    /// record kept, leaving the reserve for ordinary appends. In a ring,
    /// what a batch uses is the distance from its place to where the next
    /// batch will be placed (the gap at the end of the area included), and
    /// at least one sector must stay free, so the front never meets the
    /// tail: an empty and a full ring must not look alike.
    fn fits(&self, sectors: u64, room: Room) -> bool {
        let keep = match room {
            Room::Ordinary => self.reserve,
            Room::Reserved => 0,
        };
        if !self.sb.is_ring() {
            return sectors + keep <= self.free();
        }
        let next = self.sb.place(self.batch_sector + sectors);
        self.distance(self.batch_sector, next).max(sectors) + keep < self.free()
    }

    /// Moves the tail anchor forward over whole batches, oldest first, as
    /// far as the retention floor allows and until at least an eighth of
    /// the ring (or what `sectors` needs) is free, and makes the new anchor
    /// durable before anything may overwrite what it releases. Needs an
    /// empty batch.
    fn reclaim(&mut self, sectors: u64, room: Room) -> Result<(), LogError> {
        debug_assert_eq!(self.batch_len, 0, "reclaim between batches only");
        if !self.sb.is_ring() || self.floor <= self.sb.tail.next_seq {
            return Ok(());
        }
        let keep = if room == Room::Ordinary { self.reserve } else { 0 };
        let head = self.batch_sector;
        // What `fits` will ask for (the gap before a wrap included), or an
        // eighth of the ring, so superblock writes stay rare.
        let uses = self.distance(head, self.sb.place(head + sectors)).max(sectors);
        let want = (uses + keep + 1).max(self.sb.data_sectors / 8);
        let freed = |log: &Self, tail: u64| log.sb.data_sectors - log.distance(tail, head);
        let mut anchor = None;
        let mut scanner = Scanner::new(geometry(&self.sb), origin(&self.sb));
        let mut payload = [0u8; MAX_PAYLOAD];
        // Bounded: one step per durable record kept.
        for _ in self.sb.tail.next_seq..=self.durable_seq {
            let Step::Record(accepted) = scanner.step(&mut self.dev, &mut payload)? else { break };
            let seq = accepted.header.seq;
            if seq > self.floor || seq > self.durable_seq {
                break;
            }
            if accepted.starts_batch && seq > self.sb.tail.next_seq {
                let at = accepted.at;
                anchor = Some(Checkpoint { next_seq: seq, sector: at.sector(), prev_hash: at.prev_hash });
                if freed(self, at.sector()) >= want {
                    break;
                }
            }
        }
        let enough = anchor.is_some_and(|a| freed(self, a.sector) >= want);
        if !enough && self.durable_seq < self.floor {
            // Everything kept may go: the log becomes empty at its head.
            anchor = Some(Checkpoint { next_seq: self.next_seq, sector: head, prev_hash: self.prev_hash });
        }
        let Some(tail) = anchor else { return Ok(()) };
        debug_assert!(tail.next_seq > self.sb.tail.next_seq && tail.next_seq <= self.next_seq);
        self.write_superblock(tail)?;
        self.index.forget_below(tail.next_seq);
        Ok(())
    }

    /// Writes the pending batch with one write, makes it durable with one
    /// flush, and returns the durable sequence number.
    pub fn commit(&mut self) -> Result<u64, LogError> {
        if self.poisoned {
            return Err(LogError::Poisoned);
        }
        if self.batch_len == 0 {
            return Ok(self.durable_seq);
        }
        let padded = align_up(self.batch_len as u64, SECTOR as u64) as usize;
        debug_assert!(self.batch_sector + (padded / SECTOR) as u64 <= self.sb.data_end());
        self.batch[self.batch_len..padded].fill(0);
        let result = self.dev.write(self.batch_sector, &self.batch[..padded]).and_then(|()| self.dev.flush());
        if let Err(e) = result {
            self.poisoned = true;
            return Err(LogError::Io(e));
        }
        self.index.note(Position {
            next_seq: self.batch_first_seq,
            byte: self.batch_sector * SECTOR as u64,
            prev_hash: self.batch_prev_hash(),
            batch_first_seq: 0,
        });
        self.batch_sector = self.sb.place(self.batch_sector + (padded / SECTOR) as u64);
        self.batch_len = 0;
        self.durable_seq = self.next_seq - 1;
        self.batch_first_seq = self.next_seq;
        Ok(self.durable_seq)
    }

    /// The `prev_hash` of the first record of the pending batch.
    fn batch_prev_hash(&self) -> Hash {
        let mut raw = [0u8; HEADER_LEN];
        raw.copy_from_slice(&self.batch[..HEADER_LEN]);
        RecordHeader::decode(&raw).map(|h| h.prev_hash).unwrap_or(self.prev_hash)
    }

    /// Commits, then records the current end of the log as the recovery
    /// starting point in the older superblock copy (the newer one stays
    /// intact if this write is torn).
    pub fn checkpoint(&mut self) -> Result<(), LogError> {
        self.commit()?;
        self.write_superblock(self.sb.tail)
    }

    /// Binds the log to node `me`, once its user has learned its node's
    /// number (the event log's PD opens the log at start, before anyone
    /// knows it). A log of any node of `me`'s cluster
    /// ([`Owner::ANY_NODE`]) is bound to `me`: the superblock says so from
    /// now on (written as a checkpoint, into the older slot, so a torn
    /// write leaves the log as it was, unbound). A log of `me` stays as it
    /// is, and so does an unbound log (cluster 0, which opens anywhere). A
    /// log of another node or cluster is refused with
    /// [`LogError::Foreign`], and nothing is written.
    ///
    /// Rejected: the node's number at formatting, which the event log's PD
    /// cannot learn (it runs above the network PD and cannot call it).
    pub fn claim(&mut self, me: Owner) -> Result<(), LogError> {
        debug_assert!(me.node != Owner::ANY_NODE, "a claim names a node");
        let owner = self.sb.owner;
        if !owner.admits(me) {
            return Err(LogError::Foreign { owner });
        }
        if owner.cluster == 0 || owner.node == me.node {
            return Ok(());
        }
        self.commit()?;
        self.sb.owner = me;
        let result = self.write_superblock(self.sb.tail);
        if result.is_err() {
            // Not written: the log in memory says what the disk says.
            self.sb.owner = owner;
        }
        debug_assert!(result.is_err() || self.sb.owner == me, "bound once written");
        result
    }

    /// Writes the older superblock slot with the current end of the log as
    /// its checkpoint and `tail` as its anchor, then flushes. Needs an
    /// empty batch.
    fn write_superblock(&mut self, tail: Checkpoint) -> Result<(), LogError> {
        let mut sb = self.sb;
        sb.slot = self.sb.slot ^ 1;
        sb.generation += 1;
        sb.checkpoint =
            Checkpoint { next_seq: self.next_seq, sector: self.batch_sector, prev_hash: self.prev_hash };
        sb.tail = tail;
        let result = self
            .dev
            .write(SUPERBLOCK_SECTORS[sb.slot as usize], &sb.encode())
            .and_then(|()| self.dev.flush());
        if let Err(e) = result {
            self.poisoned = true;
            return Err(LogError::Io(e));
        }
        self.sb = sb;
        Ok(())
    }

    /// Reads durable record `seq` into `payload`; returns its header.
    pub fn read(&mut self, seq: u64, payload: &mut [u8; MAX_PAYLOAD]) -> Result<RecordHeader, LogError> {
        let hint = self.read_next;
        self.read_after(seq, hint, payload).map(|(header, _)| header)
    }

    /// [`Log::read`] for a reader that keeps its own place: the scan starts
    /// at `hint` (where a record after an earlier one this reader read
    /// starts, as returned here) when it lies before `seq` and is kept.
    /// Returns the header and where the record after it starts. Readers
    /// that interleave (two snapshot transfers) each read in order this
    /// way; sharing [`Log::read`]'s one place, each would scan from the
    /// sparse index's nearest entry every time.
    pub fn read_after(
        &mut self,
        seq: u64,
        hint: Option<Position>,
        payload: &mut [u8; MAX_PAYLOAD],
    ) -> Result<(RecordHeader, Position), LogError> {
        if seq == 0 || seq > self.durable_seq {
            return Err(LogError::NotFound);
        }
        if seq < self.sb.tail.next_seq {
            return Err(LogError::Reclaimed { oldest: self.sb.tail.next_seq });
        }
        let mut from = self.index.floor(seq).unwrap_or_else(|| origin(&self.sb));
        if from.next_seq > seq {
            // Before the checkpoint recovery started from: scan from the
            // oldest record kept.
            from = origin(&self.sb);
        }
        // A record at or after the tail is never moved or overwritten.
        if let Some(next) = hint
            && next.next_seq <= seq
            && next.next_seq > from.next_seq
            && next.next_seq >= self.sb.tail.next_seq
        {
            from = next;
        }
        self.read_from(from, seq, payload)
    }

    fn read_from(
        &mut self,
        from: Position,
        seq: u64,
        payload: &mut [u8; MAX_PAYLOAD],
    ) -> Result<(RecordHeader, Position), LogError> {
        let mut scanner = Scanner::new(geometry(&self.sb), from);
        // Bounded: `seq - from.next_seq + 1` accepted records at most.
        for _ in from.next_seq..=seq {
            match scanner.step(&mut self.dev, payload)? {
                Step::Record(accepted) if accepted.header.seq == seq => {
                    self.read_next = Some(scanner.position());
                    return Ok((accepted.header, scanner.position()));
                }
                Step::Record(_) => {}
                // A durable record that no longer reads back.
                Step::Stopped(stop) => return Err(LogError::Unreadable { seq, stop }),
            }
        }
        Err(LogError::NotFound)
    }
}
