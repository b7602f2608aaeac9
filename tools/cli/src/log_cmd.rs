//! `worknode log inspect|verify|export [--part events|raft] <disk image>`:
//! read a Worknode log from a raw disk image, without the system running.
//! A node's disk holds two logs (`worknode_abi::disk`): the event log from
//! sector 0 (the default) and, on a cluster node, the Raft log in the
//! disk's last quarter (`--part raft`).
//!
//! The image is opened read-only; nothing here can change it. The same
//! `worknode-log` scanner the log PD recovers with does the reading, so the
//! CLI and the system cannot disagree about what is in the log.

use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde_json::json;
use worknode_abi::disk::Layout;
use worknode_abi::log::{EVENT_RECORD_VERSION, EventRecord, ReplicatedRecord};
use worknode_log::chain::Hash;
use worknode_log::format::{FLAG_JOIN, Owner, SECTOR, SUPERBLOCK_SECTORS, Superblock, SuperblockError};
use worknode_log::scan::{Accepted, Defect, Stop};
use worknode_log::{BlockDevice, DamageKind, IoError, LogError, origin, read_superblock, scan_to_end};

/// Which log of a node's disk to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PartName {
    /// The event log, from sector 0 (a disk written before the cut holds
    /// only this one).
    Events,
    /// The Raft log of a cluster node: the disk's last quarter
    /// ([`Layout::raft_part`]).
    Raft,
}

/// One log on a disk image: the file and the part of it.
pub struct Disk<'a> {
    /// The raw image.
    pub path: &'a Path,
    /// Which log.
    pub part: PartName,
}

impl Disk<'_> {
    /// How messages name it: the path, and the part when not the default.
    pub fn display(&self) -> impl fmt::Display + '_ {
        struct Shown<'d, 'a>(&'d Disk<'a>);
        impl fmt::Display for Shown<'_, '_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.0.part {
                    PartName::Events => write!(f, "{}", self.0.path.display()),
                    PartName::Raft => write!(f, "{} (Raft part)", self.0.path.display()),
                }
            }
        }
        Shown(self)
    }
}

/// One log of a raw disk image: sector 0 is the part's first. Read-only
/// unless opened with [`ImageFile::open_writable`].
pub struct ImageFile {
    file: File,
    /// The part's first sector in the file.
    start: u64,
    sectors: u64,
    writable: bool,
}

impl ImageFile {
    /// Opens the part of `disk` read-only, refusing files that cannot be a
    /// raw log image.
    pub fn open(disk: &Disk) -> Result<ImageFile, String> {
        Self::open_with(disk, false)
    }

    /// Opens the part of `disk` for writing (`worknode disk join`, the one
    /// command that writes to an image).
    pub fn open_writable(disk: &Disk) -> Result<ImageFile, String> {
        Self::open_with(disk, true)
    }

    fn open_with(disk: &Disk, writable: bool) -> Result<ImageFile, String> {
        let path = disk.path;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(writable)
            .open(path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let len = file.metadata().map_err(|e| format!("cannot stat {}: {e}", path.display()))?.len();
        let mut magic = [0u8; 4];
        if len >= 4 {
            file.read_exact(&mut magic).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        }
        if &magic == b"QFI\xfb" {
            return Err(format!(
                "{} is a qcow2 image; convert it first: qemu-img convert -O raw {} disk.raw",
                path.display(),
                path.display()
            ));
        }
        if len < 2 * SECTOR as u64 {
            return Err(format!("{}: {len} bytes is too short for a log (no superblocks)", path.display()));
        }
        let sectors = len / SECTOR as u64;
        let (start, sectors) = match disk.part {
            PartName::Events => (0, sectors),
            PartName::Raft => {
                let part = Layout::of(sectors).raft_part();
                (part.start, part.sectors)
            }
        };
        if sectors < 2 {
            return Err(format!("{}: too short for a log (no superblocks)", disk.display()));
        }
        Ok(ImageFile { file, start, sectors, writable })
    }
}

impl BlockDevice for ImageFile {
    fn sectors(&self) -> u64 {
        self.sectors
    }

    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        worknode_log::device::check_range(self.sectors, sector, buf.len())?;
        let at = (self.start + sector) * SECTOR as u64;
        self.file.seek(SeekFrom::Start(at)).map_err(|_| IoError::Device)?;
        self.file.read_exact(buf).map_err(|_| IoError::Device)
    }

    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), IoError> {
        if !self.writable {
            return Err(IoError::Device);
        }
        worknode_log::device::check_range(self.sectors, sector, data.len())?;
        let at = (self.start + sector) * SECTOR as u64;
        self.file.seek(SeekFrom::Start(at)).map_err(|_| IoError::Device)?;
        self.file.write_all(data).map_err(|_| IoError::Device)
    }

    fn flush(&mut self) -> Result<(), IoError> {
        match self.writable {
            true => self.file.sync_data().map_err(|_| IoError::Device),
            false => Ok(()),
        }
    }
}

/// What `verify` and `export` found walking the whole log.
pub(crate) struct Walk {
    sb: Superblock,
    pub(crate) last_seq: u64,
    pub(crate) last_hash: Hash,
    pub(crate) stop: Stop,
}

impl Walk {
    /// The oldest record the log keeps (1 unless records were reclaimed).
    pub(crate) fn first_seq(&self) -> u64 {
        self.sb.tail.next_seq
    }

    /// Where the walk started, in words: the genesis, or the tail anchor
    /// with the hash of the last reclaimed record, which an archive of the
    /// reclaimed part (an earlier export) must end with.
    pub(crate) fn origin(&self) -> String {
        match self.first_seq() {
            1 => "genesis".into(),
            first => format!(
                "the anchor after reclaimed records 1..={} (their last hash {})",
                first - 1,
                hex(&self.sb.tail.prev_hash)
            ),
        }
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How a walk ended, in words.
pub(crate) fn stop_name(stop: &Stop) -> String {
    match stop {
        Stop::End => "end".into(),
        Stop::Full => "full".into(),
        Stop::Invalid(defect) => format!("torn tail: {}", defect.describe()),
    }
}

impl Walk {
    /// How the walk ended, in words: a record of an earlier pass of the
    /// ring where the next one would be is the normal end of a log that
    /// wrapped, not a torn tail.
    pub(crate) fn end(&self) -> String {
        match self.stop {
            Stop::Invalid(Defect::Sequence { found }) if found <= self.last_seq => {
                "end (then an older record of the ring's previous pass)".into()
            }
            stop => stop_name(&stop),
        }
    }
}

fn load(path: &Disk) -> Result<(ImageFile, Superblock), String> {
    let mut image = ImageFile::open(path)?;
    let sb = read_superblock(&mut image).map_err(|e| describe_error(path, &e))?;
    if sb.data_end() > image.sectors {
        return Err(format!(
            "{}: truncated image: the log needs {} sectors, the file has {}",
            path.display(),
            sb.data_end(),
            image.sectors
        ));
    }
    Ok((image, sb))
}

fn describe_error(path: &Disk, e: &LogError) -> String {
    let p = path.display();
    match e {
        LogError::Unformatted => format!("{p}: not a Worknode log (both superblock sectors are blank)"),
        LogError::NotALog => format!("{p}: not a Worknode log (no superblock magic)"),
        LogError::Superblock(SuperblockError::Version(v)) => {
            format!("{p}: log format version {v}; this tool reads versions 1 to 3")
        }
        LogError::Superblock(why) => format!("{p}: both superblocks are damaged (first: {why:?})"),
        LogError::Io(e) => format!("{p}: read failed: {e:?}"),
        LogError::Corrupt { seq, defect, later } => {
            let what = match defect {
                DamageKind::Defect(d) => d.describe(),
                DamageKind::Missing => "missing (lost write)",
            };
            format!(
                "{p}: record {seq} is bad: {what}; the intact batch starting at record {} \
                 (sector {}) proves it had been acknowledged",
                later.batch_first_seq, later.sector
            )
        }
        other => format!("{p}: {other:?}"),
    }
}

/// Walks the whole chain from the oldest record kept (record 1, or the
/// tail anchor), handing each record to `visit`.
pub(crate) fn walk(path: &Disk, visit: impl FnMut(&Accepted, &[u8])) -> Result<Walk, String> {
    let (mut image, sb) = load(path)?;
    let from = origin(&sb);
    let (end, stop, _) = scan_to_end(&mut image, &sb, from, visit).map_err(|e| describe_error(path, &e))?;
    let walk = Walk { sb, last_seq: end.next_seq - 1, last_hash: end.prev_hash, stop };
    // The checkpoint claims records before it were durable; the chain must
    // reach it and agree with it.
    let ck = sb.checkpoint;
    if ck.next_seq > end.next_seq {
        return Err(format!(
            "{}: record {} is bad: the chain ends there ({}), but the superblock checkpoint \
             says records up to {} were durable",
            path.display(),
            end.next_seq,
            stop_name(&stop),
            ck.next_seq - 1
        ));
    }
    Ok(walk)
}

/// `worknode log inspect`.
pub fn inspect(path: &Disk) -> Result<(), String> {
    let mut image = ImageFile::open(path)?;
    println!("image: {} ({} sectors)", path.display(), image.sectors);
    for (slot, &sector) in SUPERBLOCK_SECTORS.iter().enumerate() {
        let mut raw = [0u8; SECTOR];
        image.read(sector, &mut raw).map_err(|e| format!("{}: read failed: {e:?}", path.display()))?;
        match Superblock::decode(&raw, slot as u16) {
            Ok(sb) => println!(
                "superblock {slot}: version {} generation {} log_id {:016x} owner {} data sectors {}..{}{} \
                 batch <= {} sectors, checkpoint seq {} at sector {}, oldest kept seq {} at sector {}",
                sb.version,
                sb.generation,
                sb.log_id,
                owner_name(sb.owner, sb.flags),
                sb.data_start,
                sb.data_end(),
                if sb.is_ring() { " (ring)" } else { "" },
                sb.max_batch_sectors,
                sb.checkpoint.next_seq,
                sb.checkpoint.sector,
                sb.tail.next_seq,
                sb.tail.sector
            ),
            Err(why) => println!("superblock {slot}: invalid ({why:?})"),
        }
    }
    let mut bytes = 0u64;
    let mut batches = 0u64;
    let mut used = 0u64;
    let walk = walk(path, |accepted, payload| {
        bytes += payload.len() as u64;
        batches += u64::from(accepted.starts_batch);
        used += accepted.header.stride();
    })?;
    let kept = (walk.last_seq + 1).saturating_sub(walk.first_seq());
    println!(
        "records: {kept} kept ({}..={}) in {batches} batches, {bytes} payload bytes, about {} of {} sectors used",
        walk.first_seq(),
        walk.last_seq,
        used.div_ceil(SECTOR as u64),
        walk.sb.data_sectors
    );
    println!("start: {}", walk.origin());
    println!("last record: {} hash {}", walk.last_seq, hex(&walk.last_hash));
    println!("end: {}", walk.end());
    Ok(())
}

/// How `inspect` names a log's owner, and whether it was prepared to join.
fn owner_name(owner: Owner, flags: u16) -> String {
    let join = if flags & FLAG_JOIN != 0 { " (prepared to join)" } else { "" };
    match (owner.cluster, owner.node) {
        (0, _) => "none".into(),
        (cluster, Owner::ANY_NODE) => format!("cluster {cluster:016x} any node{join}"),
        (cluster, node) => format!("cluster {cluster:016x} node {node}{join}"),
    }
}

/// `worknode log verify`: exits non-zero naming the first bad record.
pub fn verify(path: &Disk) -> Result<(), String> {
    let walk = walk(path, |_, _| {})?;
    println!(
        "{}: ok: records {}..={}, hash chain verified from {} to {} ({})",
        path.display(),
        walk.first_seq(),
        walk.last_seq,
        walk.origin(),
        hex(&walk.last_hash),
        walk.end()
    );
    Ok(())
}

/// What a record's payload holds, for `export`: a governor's
/// [`EventRecord`] (source and event, the event as text if it is UTF-8), an
/// audit record (`{"audit": ...}`, as `worknode audit export` writes it),
/// one of the cluster's Strong events (`{"replicated": ...}`), or `null`
/// for payloads of any other writer.
fn describe_payload(payload: &[u8]) -> serde_json::Value {
    if let Some(record) = worknode_abi::audit::AuditRecord::decode(payload) {
        return json!({"audit": crate::audit_cmd::audit_json(&record)});
    }
    if let Some(record) = ReplicatedRecord::decode(payload) {
        let a = record.applied;
        return json!({"replicated": {
            "number": a.number,
            "proposer": a.proposer,
            "seq": a.seq,
            "worknode": a.worknode,
            "hex": hex(&a.event),
        }});
    }
    match postcard::from_bytes::<EventRecord>(payload) {
        Ok(record) if record.version == EVENT_RECORD_VERSION => {
            let mut event = json!({"source": record.source.as_str(), "hex": hex(&record.event)});
            if let Ok(text) = std::str::from_utf8(&record.event) {
                event["text"] = json!(text);
            }
            event
        }
        _ => serde_json::Value::Null,
    }
}

/// `worknode log replicated`: the cluster's Strong events in the event
/// log (`worknode_abi::log::ReplicatedRecord`), one line each, in log
/// order; then `replicated: records=N first=F last=L gaps=G back=B` (gaps:
/// numbers skipped, which this node learned from a Raft snapshot only;
/// back: records whose number is not above the one before, which a
/// governor writes only if it could not find where its copy stood).
pub fn replicated(path: &Disk) -> Result<(), String> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    let (mut records, mut first, mut last, mut gaps, mut back) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut failure = None;
    let walk = walk(path, |_, payload| {
        let Some(record) = ReplicatedRecord::decode(payload) else { return };
        let a = record.applied;
        if records == 0 {
            first = a.number;
        } else if a.number <= last {
            back += 1;
        } else {
            gaps += a.number - last - 1;
        }
        records += 1;
        last = a.number;
        let line = format!(
            "number={} proposer={} seq={} worknode={} event={}",
            a.number,
            a.proposer,
            a.seq,
            a.worknode,
            hex(&a.event)
        );
        if let Err(e) = writeln!(out, "{line}") {
            failure.get_or_insert(e);
        }
    })?;
    if let Some(e) = failure {
        return Err(format!("cannot write the list: {e}"));
    }
    writeln!(
        out,
        "replicated: records={records} first={first} last={last} gaps={gaps} back={back} (hash chain verified over records {}..={}, {})",
        walk.first_seq(),
        walk.last_seq,
        walk.end()
    )
    .map_err(|e| format!("cannot write the list: {e}"))
}

/// `worknode log export`: JSON Lines on standard output or into `output`.
pub fn export(path: &Disk, output: Option<&PathBuf>) -> Result<(), String> {
    export_lines(
        path,
        output,
        |accepted, payload| {
            let h = &accepted.header;
            let mut line = json!({
                "seq": h.seq,
                "batch_first_seq": h.batch_first_seq,
                "len": h.len,
                "hash": hex(&accepted.hash),
                "prev_hash": hex(&h.prev_hash),
                "payload_hex": hex(payload),
            });
            line["event"] = describe_payload(payload);
            Some(line)
        },
        |walk, _| {
            json!({"end": {
                "first_seq": walk.first_seq(),
                "anchor": hex(&walk.sb.tail.prev_hash),
                "last_seq": walk.last_seq,
                "stop": walk.end(),
            }})
        },
    )
}

/// The shape of every export: walks the chain, writes the JSON line
/// `line_for` makes of each record (none for `None`), then the summary
/// `summary` makes of the walk and the number of lines written, to
/// standard output or `output`.
pub(crate) fn export_lines(
    path: &Disk,
    output: Option<&PathBuf>,
    mut line_for: impl FnMut(&Accepted, &[u8]) -> Option<serde_json::Value>,
    summary: impl FnOnce(&Walk, u64) -> serde_json::Value,
) -> Result<(), String> {
    let sink: Box<dyn Write> = match output {
        Some(out) => {
            Box::new(File::create(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut sink = BufWriter::new(sink);
    let mut failure = None;
    let mut written = 0u64;
    let walk = walk(path, |accepted, payload| {
        if failure.is_some() {
            return;
        }
        let Some(line) = line_for(accepted, payload) else { return };
        written += 1;
        if let Err(e) = writeln!(sink, "{line}") {
            failure = Some(e);
        }
    })?;
    let summary = summary(&walk, written);
    let result = match failure {
        Some(e) => Err(e),
        None => writeln!(sink, "{summary}").and_then(|()| sink.flush()),
    };
    result.map_err(|e| format!("cannot write the export: {e}"))
}
