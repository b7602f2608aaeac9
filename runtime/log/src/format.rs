//! The on-disk format, version 1: superblocks and record headers.
//!
//! Everything here is pure byte layout: encode, decode, checksum. Nothing
//! touches a device, so the decoders can be fuzzed directly and the layout is
//! pinned by golden tests (`tests/golden.rs`). docs/log-format.md is the
//! prose version of this file and is checked against it by those tests.
//!
//! Version 2 makes the record area a ring and adds the *tail anchor* to
//! the superblock: where the oldest retained record starts and the hash of
//! the last reclaimed one, so a log that reclaimed its oldest records still
//! verifies from the anchor on. Version 3 (written for every new log) adds
//! the log's [`Owner`]: the cluster and the node it was formatted for, so a
//! disk moved to another node or another cluster is refused. Version 1
//! superblocks (no anchor, no ring) and version 2 superblocks (no owner)
//! are still read, and a log keeps the rules of the version it was
//! formatted with.
//!
//! All integers are little-endian. Checksums are CRC-32C (Castagnoli); the
//! chain hash is BLAKE3-256.

use crate::chain::Hash;

/// The device sector size the format is defined over.
pub const SECTOR: usize = 512;
/// Format version of every log this code formats.
pub const VERSION: u16 = 3;
/// An older format version this code still reads and continues: a ring
/// with no owner (every such log is [`Owner::UNBOUND`]).
pub const VERSION_2: u16 = 2;
/// The oldest format version this code still reads and continues (its logs
/// never wrap, never reclaim and have no owner).
pub const VERSION_1: u16 = 1;

/// First bytes of a superblock.
pub const SUPERBLOCK_MAGIC: [u8; 8] = *b"WNODELOG";
/// Bytes of a version 3 superblock that carry data; the rest of its sector
/// is zero.
pub const SUPERBLOCK_LEN: usize = 168;
/// Bytes of a version 2 superblock that carry data.
pub const SUPERBLOCK_V2_LEN: usize = 156;
/// Bytes of a version 1 superblock that carry data.
pub const SUPERBLOCK_V1_LEN: usize = 108;
/// Sectors holding the two superblock copies (slot 0 and slot 1).
pub const SUPERBLOCK_SECTORS: [u64; 2] = [0, 1];
/// First sector of the record area on a volume this code formats. Sectors
/// 2..8 are reserved (zero) so a future version can grow the superblock area.
pub const DATA_START: u64 = 8;

/// First bytes of a record.
pub const RECORD_MAGIC: [u8; 4] = *b"WNLR";
/// Record format version.
pub const RECORD_VERSION: u8 = 1;
/// Length of a record header; the payload follows it.
pub const HEADER_LEN: usize = 72;
/// Records start at multiples of this many bytes.
pub const RECORD_ALIGN: u64 = 8;
/// Largest payload a record may carry (version 1).
pub const MAX_PAYLOAD: usize = 1024;

const CASTAGNOLI: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// CRC-32C of `parts`, in order.
pub fn crc32c(parts: &[&[u8]]) -> u32 {
    let mut digest = CASTAGNOLI.digest();
    for part in parts {
        digest.update(part);
    }
    digest.finalize()
}

/// Where recovery starts scanning: the position of the record with sequence
/// number `next_seq` (or of the end of the log) and the hash it must link to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Sequence number of the record expected at `sector`.
    pub next_seq: u64,
    /// Absolute sector where that record (a batch) starts.
    pub sector: u64,
    /// Hash of record `next_seq - 1` (the genesis hash when `next_seq` is 1).
    pub prev_hash: Hash,
}

/// Whom a log belongs to, fixed at format time (version 3): the cluster
/// (`worknode_netmsg`'s cluster identity, from system.xml) and the node
/// number in it. A log is used only by a node that it [admits]
/// (Owner::admits); anything else is refused and left untouched.
///
/// Rejected: the owner in a first record, which compaction and retention
/// would reclaim; a separate identity sector, one more structure for
/// recovery to agree with the superblocks about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The cluster's identity; 0 for a log bound to none.
    pub cluster: u64,
    /// The node's number in the cluster, or [`Owner::ANY_NODE`].
    pub node: u16,
}

impl Owner {
    /// A log that any node of its cluster may use: the event log, whose PD
    /// does not know its node's number.
    pub const ANY_NODE: u16 = u16::MAX;
    /// Bound to no cluster and no node: every log formatted before version
    /// 3, and logs of tools and tests.
    pub const UNBOUND: Owner = Owner { cluster: 0, node: Owner::ANY_NODE };

    /// Whether a log owned by `self` may be used by `node`: an unbound log
    /// by anyone, else only within its cluster, and a log of one node
    /// only by that node (or by a user that does not know its node).
    pub fn admits(&self, node: Owner) -> bool {
        let cluster = self.cluster == 0 || self.cluster == node.cluster;
        let one = self.node == Owner::ANY_NODE || node.node == Owner::ANY_NODE || self.node == node.node;
        cluster && one
    }
}

/// One superblock copy. Both slots hold the volume's constants; they differ
/// in `slot`, `generation`, `checkpoint` and `tail`. The valid copy with the
/// highest generation wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Superblock {
    /// Format version of the volume: [`VERSION`], or [`VERSION_1`] for a log
    /// formatted before rings.
    pub version: u16,
    /// Which copy this is (0 or 1); a copy found in the other slot's sector
    /// is a misdirected write and is rejected.
    pub slot: u16,
    /// Identity of this log, fixed at format time. Every record carries it,
    /// so records of an earlier log on the same disk never pass.
    pub log_id: u64,
    /// First sector of the record area.
    pub data_start: u64,
    /// Number of sectors in the record area.
    pub data_sectors: u64,
    /// Most sectors one batch (one write before a flush) may span.
    pub max_batch_sectors: u32,
    /// Largest record payload.
    pub max_payload: u32,
    /// Incremented on every superblock write.
    pub generation: u64,
    /// Where recovery may start.
    pub checkpoint: Checkpoint,
    /// The tail anchor: the oldest retained record (`next_seq`), the sector
    /// where its batch starts (before [ring placement](Superblock::place)),
    /// and the hash of the last reclaimed record (the genesis hash while
    /// nothing was reclaimed). Version 1: always record 1 at `data_start`.
    pub tail: Checkpoint,
    /// Whom the log belongs to. Versions 1 and 2: [`Owner::UNBOUND`].
    pub owner: Owner,
    /// How the owner starts on this log: [`FLAG_JOIN`] or 0 (version 3;
    /// 0 before).
    pub flags: u16,
}

/// [`Superblock::flags`]: the log was prepared (by `worknode disk join`)
/// for a node that joins an existing cluster, rather than found one: its
/// Raft PD starts with no membership and learns it from the leader. A
/// blank part, formatted by the node itself, founds.
pub const FLAG_JOIN: u16 = 1;

/// Why a superblock sector was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuperblockError {
    /// The sector is all zeros: never written.
    Blank,
    /// No superblock magic: not a Worknode log.
    NotALog,
    /// A format version this code does not read.
    Version(u16),
    /// The checksum does not match.
    Checksum,
    /// Well-formed but inconsistent (wrong slot, bad geometry, nonzero tail).
    Invalid(&'static str),
}

impl Superblock {
    /// Encodes into one sector, in the layout of its `version`.
    pub fn encode(&self) -> [u8; SECTOR] {
        let mut s = [0u8; SECTOR];
        s[0..8].copy_from_slice(&SUPERBLOCK_MAGIC);
        s[8..10].copy_from_slice(&self.version.to_le_bytes());
        s[10..12].copy_from_slice(&self.slot.to_le_bytes());
        s[12..16].copy_from_slice(&(SECTOR as u32).to_le_bytes());
        s[16..24].copy_from_slice(&self.log_id.to_le_bytes());
        s[24..32].copy_from_slice(&self.data_start.to_le_bytes());
        s[32..40].copy_from_slice(&self.data_sectors.to_le_bytes());
        s[40..44].copy_from_slice(&self.max_batch_sectors.to_le_bytes());
        s[44..48].copy_from_slice(&self.max_payload.to_le_bytes());
        s[48..56].copy_from_slice(&self.generation.to_le_bytes());
        put_checkpoint(&mut s[56..104], &self.checkpoint);
        let crc_at = if self.version == VERSION_1 {
            104
        } else {
            put_checkpoint(&mut s[104..152], &self.tail);
            if self.version == VERSION_2 {
                152
            } else {
                s[152..160].copy_from_slice(&self.owner.cluster.to_le_bytes());
                s[160..162].copy_from_slice(&self.owner.node.to_le_bytes());
                s[162..164].copy_from_slice(&self.flags.to_le_bytes());
                164
            }
        };
        let crc = crc32c(&[&s[0..crc_at]]);
        s[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
        s
    }

    /// Decodes the sector read from slot `slot`.
    pub fn decode(sector: &[u8; SECTOR], slot: u16) -> Result<Superblock, SuperblockError> {
        if sector.iter().all(|&b| b == 0) {
            return Err(SuperblockError::Blank);
        }
        if sector[0..8] != SUPERBLOCK_MAGIC {
            return Err(SuperblockError::NotALog);
        }
        let version = u16_at(sector, 8);
        let len = match version {
            VERSION => SUPERBLOCK_LEN,
            VERSION_2 => SUPERBLOCK_V2_LEN,
            VERSION_1 => SUPERBLOCK_V1_LEN,
            other => return Err(SuperblockError::Version(other)),
        };
        if crc32c(&[&sector[0..len - 4]]) != u32_at(sector, len - 4) {
            return Err(SuperblockError::Checksum);
        }
        if sector[len..].iter().any(|&b| b != 0) {
            return Err(SuperblockError::Invalid("bytes after the superblock are not zero"));
        }
        let log_id = u64_at(sector, 16);
        let data_start = u64_at(sector, 24);
        let sb = Superblock {
            version,
            slot: u16_at(sector, 10),
            log_id,
            data_start,
            data_sectors: u64_at(sector, 32),
            max_batch_sectors: u32_at(sector, 40),
            max_payload: u32_at(sector, 44),
            generation: u64_at(sector, 48),
            checkpoint: checkpoint_at(sector, 56),
            tail: if version == VERSION_1 {
                Checkpoint { next_seq: 1, sector: data_start, prev_hash: crate::chain::genesis(log_id) }
            } else {
                checkpoint_at(sector, 104)
            },
            owner: if version == VERSION {
                Owner { cluster: u64_at(sector, 152), node: u16_at(sector, 160) }
            } else {
                Owner::UNBOUND
            },
            flags: if version == VERSION { u16_at(sector, 162) } else { 0 },
        };
        if sb.flags & !FLAG_JOIN != 0 {
            return Err(SuperblockError::Invalid("unknown flags"));
        }
        if sb.slot != slot {
            return Err(SuperblockError::Invalid("copy found in the other slot's sector"));
        }
        if u32_at(sector, 12) as usize != SECTOR {
            return Err(SuperblockError::Invalid("sector size is not 512"));
        }
        sb.check_geometry().map(|()| sb).map_err(SuperblockError::Invalid)
    }

    fn check_geometry(&self) -> Result<(), &'static str> {
        if self.data_start < SUPERBLOCK_SECTORS.len() as u64 {
            return Err("record area overlaps the superblocks");
        }
        if self.data_sectors == 0 || self.data_start.checked_add(self.data_sectors).is_none() {
            return Err("record area is empty or out of range");
        }
        if self.max_batch_sectors == 0 || u64::from(self.max_batch_sectors) > self.data_sectors {
            return Err("batch size out of range");
        }
        if self.is_ring() && u64::from(self.max_batch_sectors) * 2 > self.data_sectors {
            return Err("a ring must hold two batches of the largest size");
        }
        if self.max_payload as usize > MAX_PAYLOAD {
            return Err("payload limit above the format's");
        }
        for (point, what) in [(&self.checkpoint, "checkpoint"), (&self.tail, "tail anchor")] {
            if point.next_seq == 0 || point.sector < self.data_start || point.sector > self.data_end() {
                return Err(match what {
                    "checkpoint" => "checkpoint outside the record area",
                    _ => "tail anchor outside the record area",
                });
            }
        }
        if self.tail.next_seq > self.checkpoint.next_seq {
            return Err("tail anchor after the checkpoint");
        }
        Ok(())
    }

    /// One past the last sector of the record area.
    pub fn data_end(&self) -> u64 {
        self.data_start + self.data_sectors
    }

    /// Whether the record area is a ring (version 2): batches wrap around
    /// to `data_start` and the oldest records can be reclaimed.
    pub fn is_ring(&self) -> bool {
        self.version != VERSION_1
    }

    /// Where a batch that would start at `sector` does start: there, or, in
    /// a ring, at `data_start` when a batch of the largest size would not
    /// fit before the end of the area. Writer and scanner apply the same
    /// rule, so a batch never straddles the end and is found where it was
    /// written.
    pub fn place(&self, sector: u64) -> u64 {
        if self.is_ring() && sector + u64::from(self.max_batch_sectors) > self.data_end() {
            self.data_start
        } else {
            sector
        }
    }
}

fn put_checkpoint(out: &mut [u8], point: &Checkpoint) {
    out[0..8].copy_from_slice(&point.next_seq.to_le_bytes());
    out[8..16].copy_from_slice(&point.sector.to_le_bytes());
    out[16..48].copy_from_slice(&point.prev_hash);
}

fn checkpoint_at(sector: &[u8], at: usize) -> Checkpoint {
    Checkpoint {
        next_seq: u64_at(sector, at),
        sector: u64_at(sector, at + 8),
        prev_hash: hash_at(sector, at + 16),
    }
}

/// The fixed-size part of a record. The payload follows it; the next record
/// starts at the following multiple of [`RECORD_ALIGN`] bytes, or, after the
/// last record of a batch, at the next sector (the gap is zero-filled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// Payload length in bytes.
    pub len: u32,
    /// CRC-32C over the whole record (header and payload) with this field
    /// taken as zero.
    pub crc: u32,
    /// The log this record belongs to ([`Superblock::log_id`]).
    pub log_id: u64,
    /// Sequence number: 1 for the first record, then +1 each.
    pub seq: u64,
    /// Sequence number of the first record of the batch this record was
    /// written in. Lets recovery tell a torn last batch (tolerated) from a
    /// damaged record that a later batch proves was acknowledged (an error).
    pub batch_first_seq: u64,
    /// Hash of the previous record, or the log's genesis hash.
    pub prev_hash: Hash,
}

/// Why bytes at a record position are not a valid record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// No record magic: padding or the end of the log.
    NoMagic,
    /// Unknown record version.
    Version(u8),
    /// Reserved bytes are not zero.
    Reserved,
    /// Length above the format's limit.
    Length(u32),
    /// `batch_first_seq` after `seq`.
    BatchOrder,
}

impl RecordHeader {
    /// Encodes the header with its `crc` field as given.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..4].copy_from_slice(&RECORD_MAGIC);
        h[4] = RECORD_VERSION;
        h[8..12].copy_from_slice(&self.len.to_le_bytes());
        h[12..16].copy_from_slice(&self.crc.to_le_bytes());
        h[16..24].copy_from_slice(&self.log_id.to_le_bytes());
        h[24..32].copy_from_slice(&self.seq.to_le_bytes());
        h[32..40].copy_from_slice(&self.batch_first_seq.to_le_bytes());
        h[40..72].copy_from_slice(&self.prev_hash);
        h
    }

    /// Decodes and sanity-checks a header. The checksum needs the payload
    /// and is checked by [`RecordHeader::crc_matches`].
    pub fn decode(h: &[u8; HEADER_LEN]) -> Result<RecordHeader, HeaderError> {
        if h[0..4] != RECORD_MAGIC {
            return Err(HeaderError::NoMagic);
        }
        if h[4] != RECORD_VERSION {
            return Err(HeaderError::Version(h[4]));
        }
        if h[5..8] != [0, 0, 0] {
            return Err(HeaderError::Reserved);
        }
        let header = RecordHeader {
            len: u32_at(h, 8),
            crc: u32_at(h, 12),
            log_id: u64_at(h, 16),
            seq: u64_at(h, 24),
            batch_first_seq: u64_at(h, 32),
            prev_hash: hash_at(h, 40),
        };
        if header.len as usize > MAX_PAYLOAD {
            return Err(HeaderError::Length(header.len));
        }
        if header.batch_first_seq > header.seq || header.batch_first_seq == 0 {
            return Err(HeaderError::BatchOrder);
        }
        Ok(header)
    }

    /// The checksum this header and `payload` should carry.
    pub fn compute_crc(&self, payload: &[u8]) -> u32 {
        let mut zeroed = *self;
        zeroed.crc = 0;
        crc32c(&[&zeroed.encode(), payload])
    }

    /// True if `crc` matches the header and `payload`.
    pub fn crc_matches(&self, payload: &[u8]) -> bool {
        payload.len() == self.len as usize && self.compute_crc(payload) == self.crc
    }

    /// Bytes from this record's start to where the next record of the same
    /// batch may start.
    pub fn stride(&self) -> u64 {
        align_up(HEADER_LEN as u64 + u64::from(self.len), RECORD_ALIGN)
    }
}

/// Rounds `value` up to a multiple of `align` (a power of two).
pub const fn align_up(value: u64, align: u64) -> u64 {
    (value + align - 1) & !(align - 1)
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut v = [0u8; 4];
    v.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(v)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}

fn hash_at(b: &[u8], at: usize) -> Hash {
    let mut v = [0u8; 32];
    v.copy_from_slice(&b[at..at + 32]);
    v
}
