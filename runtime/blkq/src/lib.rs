//! The block queue: request and response rings in one shared page between
//! the virtio-blk driver PD and its one client (the log PD).
//!
//! Each ring is single-producer, single-consumer. Data never travels in the
//! rings: a request names a byte range of the shared DMA data region, whose
//! physical address only the driver knows. After pushing, a side notifies
//! the other on their channel; a notification only means "look again".
//!
//! Back-pressure: a full ring refuses the push ([`QueueFull`]) and the
//! producer waits for the consumer's notification; nothing is dropped. The
//! client never has more requests outstanding than the response ring holds,
//! so the driver can always post a response.
//!
//! Layout (version 1, 64-bit little-endian words, all accessed atomically):
//!
//! | Word | Contents |
//! |---|---|
//! | 0 | magic and version: [`MAGIC`] |
//! | 1, 2 | request ring: head (consumer), tail (producer) |
//! | 3, 4 | response ring: head, tail |
//! | 5 | device capacity in sectors, published by the driver (0: not yet) |
//! | 8 .. 8 + 4 * [`CAPACITY`] | request slots, 4 words each |
//! | then 2 * [`CAPACITY`] words | response slots, 2 words each |
//!
//! Indices are free-running counters; a slot is `index % CAPACITY`.
//! Rejected alternative: sDDF's queue layout. Same idea; ours carries
//! fewer fields and a version word, and is written with atomics only, so
//! this crate needs no `unsafe` (the PD shells turn the shared page into a
//! slice of atomics, with one `SAFETY` comment each).
//!
//! Memory ordering: a producer writes a slot's words (relaxed), then
//! publishes them by storing the tail with release; the consumer loads the
//! tail with acquire before reading the slot, and frees it by storing the
//! head with release, which the producer's acquire load of the head
//! orders before it reuses the slot. The loom tests (tests/loom.rs) check
//! exactly that, and that the page's initialisation is published by its
//! magic word.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(not(loom))]
use core::sync::atomic::{AtomicU64, Ordering};
#[cfg(loom)]
use loom::sync::atomic::{AtomicU64, Ordering};

/// Words 0..: "WNBQ" and format version 1.
pub const MAGIC: u64 = 0x5742_4e57_0000_0001;
/// Slots per ring.
#[cfg(not(loom))]
pub const CAPACITY: u64 = 32;
/// Under loom, a small ring: every atomic access is a branch of the model,
/// and the protocol does not depend on the capacity.
#[cfg(loom)]
pub const CAPACITY: u64 = 2;
/// First word of the request slots.
const REQUESTS: usize = 8;
const REQUEST_WORDS: usize = 4;
/// First word of the response slots.
const RESPONSES: usize = REQUESTS + REQUEST_WORDS * CAPACITY as usize;
const RESPONSE_WORDS: usize = 2;
/// Words the queue occupies (fits in one 4 KiB page).
pub const WORDS: usize = RESPONSES + RESPONSE_WORDS * CAPACITY as usize;

/// What a request asks of the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Op {
    /// Read sectors into the data region.
    Read = 1,
    /// Write sectors from the data region.
    Write = 2,
    /// Make completed writes durable. Answered only after the device did.
    Flush = 3,
}

/// A request from the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// Client-chosen tag, echoed in the response.
    pub id: u32,
    /// The operation.
    pub op: Op,
    /// First sector (ignored for flushes).
    pub sector: u64,
    /// Number of 512-byte sectors (0 for flushes).
    pub count: u32,
    /// Byte offset of the buffer in the shared data region.
    pub offset: u64,
}

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    /// Done (for a flush: the device reported the data durable).
    Ok = 0,
    /// The device reported an error.
    DeviceError = 1,
    /// The request was malformed (bad op, range outside the data region or
    /// the device); nothing was done.
    Invalid = 2,
    /// The device cannot flush, so durability cannot be promised.
    Unsupported = 3,
}

/// The bytes of the data region a read or write uses, after checking the
/// request against the device and the region: at least one sector, inside
/// the device, buffer inside the region. `None` for flushes (no data).
/// The driver answers `Err` with [`Status::Invalid`] and does nothing.
pub fn data_range(r: &Request, device_sectors: u64, region_len: u64) -> Result<Option<(u64, u64)>, Status> {
    if r.op == Op::Flush {
        return Ok(None);
    }
    let len = u64::from(r.count).checked_mul(SECTOR).ok_or(Status::Invalid)?;
    let in_device = r.sector.checked_add(u64::from(r.count)).is_some_and(|end| end <= device_sectors);
    let in_region = r.offset.checked_add(len).is_some_and(|end| end <= region_len);
    if r.count == 0 || !in_device || !in_region {
        return Err(Status::Invalid);
    }
    Ok(Some((r.offset, len)))
}

/// Whether `r`'s buffer overlaps the buffer of a request in `in_flight`.
/// The driver refuses such a request ([`Status::Invalid`]): a device must
/// never write (or read) one range of the data region for two requests at
/// once, and the driver hands the device each buffer as its own slice. A
/// flush has no buffer and overlaps nothing. Requests whose ranges the
/// driver already refused are never in flight, so ranges here are valid.
pub fn overlaps_in_flight<'a>(r: &Request, in_flight: impl IntoIterator<Item = &'a Request>) -> bool {
    let span = |r: &Request| match r.op {
        Op::Flush => None,
        _ => Some((r.offset, r.offset.saturating_add(u64::from(r.count).saturating_mul(SECTOR)))),
    };
    let Some((start, end)) = span(r) else { return false };
    in_flight.into_iter().filter_map(span).any(|(s, e)| start < e && s < end)
}

/// Bytes per sector.
pub const SECTOR: u64 = 512;

/// A response from the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response {
    /// The request's `id`.
    pub id: u32,
    /// The outcome.
    pub status: Status,
}

/// The ring is full; try again after the peer's notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueFull;

/// The shared page is not a version-1 block queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadQueue;

/// Driver: publishes the device's capacity. Works before the client has
/// initialised the page ([`Queue::init`] leaves this word alone).
pub fn publish_capacity(words: &[AtomicU64], sectors: u64) {
    words[5].store(sectors, Ordering::Release);
}

/// Client: the device capacity the driver published, if it has.
pub fn capacity(words: &[AtomicU64]) -> Option<u64> {
    match words.get(5)?.load(Ordering::Acquire) {
        0 => None,
        sectors => Some(sectors),
    }
}

/// A view of the shared queue page.
#[derive(Clone, Copy)]
pub struct Queue<'a> {
    words: &'a [AtomicU64],
}

impl<'a> Queue<'a> {
    /// Initialises a zeroed page as an empty queue (the client does this
    /// once, before the first notification).
    pub fn init(words: &'a [AtomicU64]) -> Result<Queue<'a>, BadQueue> {
        if words.len() < WORDS {
            return Err(BadQueue);
        }
        for word in &words[1..5] {
            word.store(0, Ordering::Relaxed);
        }
        words[0].store(MAGIC, Ordering::Release);
        Ok(Queue { words })
    }

    /// Attaches to a queue the peer initialised.
    pub fn attach(words: &'a [AtomicU64]) -> Result<Queue<'a>, BadQueue> {
        if words.len() < WORDS || words[0].load(Ordering::Acquire) != MAGIC {
            return Err(BadQueue);
        }
        Ok(Queue { words })
    }

    fn push(&self, ring: usize, slots: usize, width: usize, entry: &[u64]) -> Result<(), QueueFull> {
        let head = self.words[ring].load(Ordering::Acquire);
        let tail = self.words[ring + 1].load(Ordering::Relaxed);
        if tail.wrapping_sub(head) >= CAPACITY {
            return Err(QueueFull);
        }
        let base = slots + width * (tail % CAPACITY) as usize;
        for (i, word) in entry.iter().enumerate() {
            self.words[base + i].store(*word, Ordering::Relaxed);
        }
        self.words[ring + 1].store(tail.wrapping_add(1), Ordering::Release);
        Ok(())
    }

    fn pop<const N: usize>(&self, ring: usize, slots: usize) -> Option<[u64; N]> {
        let head = self.words[ring].load(Ordering::Relaxed);
        let tail = self.words[ring + 1].load(Ordering::Acquire);
        if head == tail {
            return None;
        }
        let base = slots + N * (head % CAPACITY) as usize;
        let mut entry = [0u64; N];
        for (i, word) in entry.iter_mut().enumerate() {
            *word = self.words[base + i].load(Ordering::Relaxed);
        }
        self.words[ring].store(head.wrapping_add(1), Ordering::Release);
        Some(entry)
    }

    /// Client: queues a request.
    pub fn push_request(&self, r: &Request) -> Result<(), QueueFull> {
        let word0 = u64::from(r.id) | (r.op as u64) << 32;
        let entry = [word0, r.sector, u64::from(r.count), r.offset];
        self.push(1, REQUESTS, REQUEST_WORDS, &entry)
    }

    /// Driver: takes the next request. A slot with an unknown op decodes
    /// as `Err(id)` so the driver can answer it [`Status::Invalid`].
    pub fn pop_request(&self) -> Option<Result<Request, u32>> {
        let [word0, sector, count, offset] = self.pop::<REQUEST_WORDS>(1, REQUESTS)?;
        let id = word0 as u32;
        let op = match (word0 >> 32) as u8 {
            1 => Op::Read,
            2 => Op::Write,
            3 => Op::Flush,
            _ => return Some(Err(id)),
        };
        if word0 >> 40 != 0 || count > u64::from(u32::MAX) {
            return Some(Err(id));
        }
        Some(Ok(Request { id, op, sector, count: count as u32, offset }))
    }

    /// True if the request ring is full.
    pub fn requests_full(&self) -> bool {
        let head = self.words[1].load(Ordering::Acquire);
        self.words[2].load(Ordering::Relaxed).wrapping_sub(head) >= CAPACITY
    }

    /// Driver: posts a response.
    pub fn push_response(&self, r: Response) -> Result<(), QueueFull> {
        self.push(3, RESPONSES, RESPONSE_WORDS, &[u64::from(r.id), r.status as u64])
    }

    /// Client: takes the next response. An unknown status reads as
    /// [`Status::DeviceError`]: the client must not assume success.
    pub fn pop_response(&self) -> Option<Response> {
        let [id, status] = self.pop::<RESPONSE_WORDS>(3, RESPONSES)?;
        let status = match status {
            0 => Status::Ok,
            2 => Status::Invalid,
            3 => Status::Unsupported,
            _ => Status::DeviceError,
        };
        Some(Response { id: id as u32, status })
    }
}

const _: () = assert!(WORDS * 8 <= 4096);
