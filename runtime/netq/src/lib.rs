//! The network frame queues: how a NIC driver PD and its one client (the
//! network PD) hand each other Ethernet frames through shared memory.
//!
//! The design is sDDF's: buffers of [`BUF_SIZE`] bytes live in a data
//! region per direction, and four single-producer single-consumer rings
//! of buffer descriptors move their ownership:
//!
//! | ring | producer | consumer | carries |
//! |---|---|---|---|
//! | `rx_free` | client | driver | empty buffers the driver may receive into |
//! | `rx_active` | driver | client | received frames |
//! | `tx_active` | client | driver | frames to send |
//! | `tx_free` | driver | client | sent buffers, empty again |
//!
//! Rules, for every ring: only the producer moves the tail, only the
//! consumer moves the head; a descriptor belongs to whoever last took it
//! off a ring, and only its owner touches its buffer. A notification on
//! the channel only means "look again".
//!
//! Receive never blocks the driver: with no free buffer, it drops the
//! frame and counts it (the client's queue is the back-pressure). Transmit
//! never drops: a full `tx_active` makes the client wait for `tx_free`.
//!
//! Nothing from the other side is trusted: a head or tail more than
//! [`CAPACITY`] apart reads as a broken queue ([`QueueError::Corrupt`]),
//! and every descriptor popped is checked against the region
//! ([`Desc::check`]) before its bytes are used; the PD copies a received
//! frame out of the shared buffer before parsing it.
//!
//! Signalling: a consumer that found its ring empty sets the ring's
//! `wanted` word before it sleeps; a producer notifies only when it finds
//! the word set (and clears it). Both sides order these with `SeqCst`
//! fences so a wake-up cannot be lost between "empty" and "wanted"; the
//! loom tests (tests/loom.rs) check exactly that.
//!
//! The driver also publishes the MAC address and its counters ([`Info`])
//! in the first page, after ring 0.
//!
//! Layout of one ring (version 1), 64-bit words, all accessed atomically:
//!
//! | Word | Contents |
//! |---|---|
//! | 0 | [`MAGIC`]: "WNNQ" and the version |
//! | 1 | head: descriptors consumed (free-running) |
//! | 2 | tail: descriptors produced (free-running) |
//! | 3 | wanted: 1 when the consumer waits for a notification |
//! | 4 .. 4 + [`CAPACITY`] | descriptors: offset in the high 32 bits, length in the low 32 |
//!
//! Rejected alternative: rust-sel4's `sel4-shared-ring-buffer`, sDDF's
//! queues in Rust. It carries no version word and trusts the peer's
//! indices more than we want; this crate is small enough to own.
#![no_std]
#![forbid(unsafe_code)]

pub mod messages;

#[cfg(not(loom))]
use core::sync::atomic::{AtomicU64, Ordering, fence};
#[cfg(loom)]
use loom::sync::atomic::{AtomicU64, Ordering, fence};

/// "WNNQ" and format version 1.
pub const MAGIC: u64 = 0x574e_4e51_0000_0001;
/// Descriptors per ring.
#[cfg(not(loom))]
pub const CAPACITY: u64 = 256;
/// Under loom, a small ring: every atomic access is a branch of the model,
/// and the protocol does not depend on the capacity.
#[cfg(loom)]
pub const CAPACITY: u64 = 4;
/// Bytes per buffer: a whole Ethernet frame (1514 bytes without FCS)
/// with room to spare, and a power of two so buffers never straddle pages.
pub const BUF_SIZE: u64 = 2048;
/// Words of one ring.
pub const RING_WORDS: usize = 4 + CAPACITY as usize;
/// Largest frame carried: Ethernet header plus a 1500-byte payload.
pub const MAX_FRAME: u64 = 1514;
/// Smallest frame a driver hands on: an Ethernet header.
pub const MIN_FRAME: u64 = 14;

const _: () = assert!(RING_WORDS * 8 <= 4096, "a ring fits one page");
const _: () = assert!(MAX_FRAME <= BUF_SIZE, "a frame fits a buffer");
const _: () = assert!(BUF_SIZE.is_power_of_two() && 4096 % BUF_SIZE == 0, "buffers never straddle pages");
const _: () = assert!(CAPACITY.is_power_of_two(), "free-running indices wrap onto the same slot");

/// A buffer descriptor: where the buffer is in its data region and how
/// many bytes of it hold a frame (0 for an empty buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Desc {
    /// Byte offset of the buffer in the data region; a multiple of
    /// [`BUF_SIZE`].
    pub offset: u32,
    /// Bytes of frame in it.
    pub len: u32,
}

impl Desc {
    fn word(self) -> u64 {
        u64::from(self.offset) << 32 | u64::from(self.len)
    }

    fn from_word(word: u64) -> Desc {
        Desc { offset: (word >> 32) as u32, len: word as u32 }
    }

    /// Checks a descriptor the peer handed over against a data region of
    /// `region_len` bytes: a whole buffer inside the region, at a buffer
    /// boundary, with at most [`MAX_FRAME`] bytes. Returns the byte range
    /// of the frame.
    pub fn check(self, region_len: u64) -> Result<core::ops::Range<usize>, QueueError> {
        self.check_within(region_len, MAX_FRAME)
    }

    /// As [`Desc::check`], with at most `max_len` bytes (at most
    /// [`BUF_SIZE`]) instead of a frame's.
    pub fn check_within(self, region_len: u64, max_len: u64) -> Result<core::ops::Range<usize>, QueueError> {
        debug_assert!(max_len <= BUF_SIZE, "a buffer holds at most BUF_SIZE bytes");
        let offset = u64::from(self.offset);
        let in_region = offset.checked_add(BUF_SIZE).is_some_and(|end| end <= region_len);
        if offset % BUF_SIZE != 0 || !in_region || u64::from(self.len) > max_len {
            return Err(QueueError::BadDescriptor(self));
        }
        Ok(offset as usize..(offset + u64::from(self.len)) as usize)
    }
}

/// Why a ring operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueError {
    /// The ring is full: the producer waits for the consumer's
    /// notification. Nothing was written.
    Full,
    /// The words are not an initialised version-1 ring.
    NotARing,
    /// The peer's index is impossible (more than [`CAPACITY`] apart from
    /// ours): the peer is broken or hostile. Nothing was read or written.
    Corrupt,
    /// A descriptor the peer handed over is outside the region or not a
    /// whole buffer.
    BadDescriptor(Desc),
}

/// One ring, over its words in shared memory.
#[derive(Clone, Copy)]
pub struct Ring<'a> {
    words: &'a [AtomicU64],
}

const HEAD: usize = 1;
const TAIL: usize = 2;
const WANTED: usize = 3;
const SLOTS: usize = 4;

impl<'a> Ring<'a> {
    /// Initialises `words` as an empty ring. Exactly one side does this,
    /// once, before it first notifies the other (the client, in the
    /// network PD: it also fills `rx_free`).
    pub fn init(words: &'a [AtomicU64]) -> Result<Ring<'a>, QueueError> {
        Self::init_as(words, MAGIC)
    }

    /// As [`Ring::init`], marking the ring with `magic` (another use of
    /// the same protocol, such as [`messages`]).
    pub fn init_as(words: &'a [AtomicU64], magic: u64) -> Result<Ring<'a>, QueueError> {
        let words = words.get(..RING_WORDS).ok_or(QueueError::NotARing)?;
        for word in &words[HEAD..=WANTED] {
            word.store(0, Ordering::Relaxed);
        }
        words[0].store(magic, Ordering::Release);
        Ok(Ring { words })
    }

    /// Attaches to a ring the peer initialised.
    pub fn attach(words: &'a [AtomicU64]) -> Result<Ring<'a>, QueueError> {
        Self::attach_as(words, MAGIC)
    }

    /// Attaches to a ring the peer initialised with `magic`.
    pub fn attach_as(words: &'a [AtomicU64], magic: u64) -> Result<Ring<'a>, QueueError> {
        let words = words.get(..RING_WORDS).ok_or(QueueError::NotARing)?;
        if words[0].load(Ordering::Acquire) != magic {
            return Err(QueueError::NotARing);
        }
        Ok(Ring { words })
    }

    /// Descriptors in the ring, or `Corrupt` if the indices are impossible.
    fn depth(&self, head: u64, tail: u64) -> Result<u64, QueueError> {
        let depth = tail.wrapping_sub(head);
        if depth > CAPACITY { Err(QueueError::Corrupt) } else { Ok(depth) }
    }

    /// Producer: appends `desc`. `Full` when the consumer has not made room.
    pub fn push(&self, desc: Desc) -> Result<(), QueueError> {
        let head = self.words[HEAD].load(Ordering::Acquire);
        let tail = self.words[TAIL].load(Ordering::Relaxed);
        if self.depth(head, tail)? == CAPACITY {
            return Err(QueueError::Full);
        }
        self.words[SLOTS + (tail % CAPACITY) as usize].store(desc.word(), Ordering::Relaxed);
        self.words[TAIL].store(tail.wrapping_add(1), Ordering::Release);
        Ok(())
    }

    /// Consumer: takes the oldest descriptor, unchecked: the caller checks
    /// it with [`Desc::check`] before touching its buffer.
    pub fn pop(&self) -> Result<Option<Desc>, QueueError> {
        let head = self.words[HEAD].load(Ordering::Relaxed);
        let tail = self.words[TAIL].load(Ordering::Acquire);
        if self.depth(head, tail)? == 0 {
            return Ok(None);
        }
        let desc = Desc::from_word(self.words[SLOTS + (head % CAPACITY) as usize].load(Ordering::Relaxed));
        self.words[HEAD].store(head.wrapping_add(1), Ordering::Release);
        Ok(Some(desc))
    }

    /// Consumer: the oldest descriptor, left in the ring (a consumer that
    /// may have to wait before it can use it, and pops it once it has).
    pub fn peek(&self) -> Result<Option<Desc>, QueueError> {
        let head = self.words[HEAD].load(Ordering::Relaxed);
        let tail = self.words[TAIL].load(Ordering::Acquire);
        if self.depth(head, tail)? == 0 {
            return Ok(None);
        }
        Ok(Some(Desc::from_word(self.words[SLOTS + (head % CAPACITY) as usize].load(Ordering::Relaxed))))
    }

    /// Descriptors waiting (0 for a corrupt ring, which `pop` reports).
    pub fn len(&self) -> u64 {
        let head = self.words[HEAD].load(Ordering::Acquire);
        let tail = self.words[TAIL].load(Ordering::Acquire);
        self.depth(head, tail).unwrap_or(0)
    }

    /// Whether no descriptor waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Consumer, before sleeping: asks for a notification on the next
    /// push. Returns whether the ring is still empty; if not, the consumer
    /// must not sleep (a push raced with the request) and pops again.
    pub fn want_notification(&self) -> bool {
        self.words[WANTED].store(1, Ordering::Relaxed);
        // Orders the store above before the emptiness check below; pairs
        // with the fence in `take_notification`.
        fence(Ordering::SeqCst);
        let empty = self.is_empty();
        if !empty {
            self.words[WANTED].store(0, Ordering::Relaxed);
        }
        empty
    }

    /// Producer, after pushing: whether the consumer asked to be notified
    /// (and clears the request). Notify the peer when this is true.
    pub fn take_notification(&self) -> bool {
        // Orders the tail store of `push` before reading `wanted`.
        fence(Ordering::SeqCst);
        self.words[WANTED].load(Ordering::Relaxed) == 1 && self.words[WANTED].swap(0, Ordering::Relaxed) == 1
    }
}

/// What the driver publishes for its client in the first page of the
/// queue region, after ring 0 (words [`INFO`]..): the MAC address and the
/// driver's counters. Only the driver writes these words; the client's
/// `Queues::init` leaves them alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Info {
    /// The interface's MAC address, once the driver knows it.
    pub mac: Option<[u8; 6]>,
    /// Frames received and handed to the client.
    pub rx_frames: u64,
    /// Frames received while the client had no free buffer: dropped.
    pub rx_dropped: u64,
    /// Frames the device delivered malformed (shorter than an Ethernet
    /// header, longer than a buffer): dropped.
    pub rx_errors: u64,
    /// Frames sent.
    pub tx_frames: u64,
    /// Descriptors from the client that failed [`Desc::check`]: returned
    /// unsent (transmit) or not used (receive).
    pub bad_descriptors: u64,
}

/// First word of the driver's [`Info`] in the queue region.
pub const INFO: usize = 384;
const INFO_WORDS: usize = 6;
const _: () = assert!(INFO >= RING_WORDS && INFO + INFO_WORDS <= 512, "the info follows ring 0 in its page");
/// Marks a published MAC in its word (a MAC is 48 bits).
const MAC_PRESENT: u64 = 1 << 63;

impl Info {
    /// Driver: publishes `self`. Works before the client initialised the
    /// rings.
    pub fn publish(&self, words: &[AtomicU64]) {
        let Some(info) = words.get(INFO..INFO + INFO_WORDS) else { return };
        let counters =
            [self.rx_frames, self.rx_dropped, self.rx_errors, self.tx_frames, self.bad_descriptors];
        for (word, value) in info[1..].iter().zip(counters) {
            word.store(value, Ordering::Relaxed);
        }
        let mac = self.mac.map_or(0, |m| MAC_PRESENT | m.iter().fold(0, |acc, &b| acc << 8 | u64::from(b)));
        info[0].store(mac, Ordering::Release);
    }

    /// Client: what the driver published (counters are advisory: a driver
    /// is trusted with them, not with memory safety).
    pub fn read(words: &[AtomicU64]) -> Info {
        let Some(info) = words.get(INFO..INFO + INFO_WORDS) else { return Info::default() };
        let mac_word = info[0].load(Ordering::Acquire);
        let load = |i: usize| info[i].load(Ordering::Relaxed);
        Info {
            mac: (mac_word & MAC_PRESENT != 0).then(|| {
                let bytes = mac_word.to_be_bytes();
                [bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]]
            }),
            rx_frames: load(1),
            rx_dropped: load(2),
            rx_errors: load(3),
            tx_frames: load(4),
            bad_descriptors: load(5),
        }
    }
}

/// The four rings of one driver–client pair, in one shared region of
/// [`QUEUES_WORDS`] words: ring `i` starts at word `i * 512` (one page).
#[derive(Clone, Copy)]
pub struct Queues<'a> {
    /// Empty receive buffers, client to driver.
    pub rx_free: Ring<'a>,
    /// Received frames, driver to client.
    pub rx_active: Ring<'a>,
    /// Frames to send, client to driver.
    pub tx_active: Ring<'a>,
    /// Sent buffers, driver to client.
    pub tx_free: Ring<'a>,
}

/// Words per page; each ring starts on its own page.
const PAGE_WORDS: usize = 512;
/// Words of the shared queue region: four pages.
pub const QUEUES_WORDS: usize = 4 * PAGE_WORDS;

impl<'a> Queues<'a> {
    fn split(words: &'a [AtomicU64]) -> Result<[&'a [AtomicU64]; 4], QueueError> {
        if words.len() < QUEUES_WORDS {
            return Err(QueueError::NotARing);
        }
        Ok(core::array::from_fn(|i| &words[i * PAGE_WORDS..(i + 1) * PAGE_WORDS]))
    }

    /// Client: initialises all four rings.
    pub fn init(words: &'a [AtomicU64]) -> Result<Queues<'a>, QueueError> {
        Self::init_as(words, MAGIC)
    }

    /// Client: initialises all four rings, marked with `magic`.
    pub fn init_as(words: &'a [AtomicU64], magic: u64) -> Result<Queues<'a>, QueueError> {
        let [a, b, c, d] = Self::split(words)?;
        Ok(Queues {
            rx_free: Ring::init_as(a, magic)?,
            rx_active: Ring::init_as(b, magic)?,
            tx_active: Ring::init_as(c, magic)?,
            tx_free: Ring::init_as(d, magic)?,
        })
    }

    /// Driver: attaches to rings the client initialised.
    pub fn attach(words: &'a [AtomicU64]) -> Result<Queues<'a>, QueueError> {
        Self::attach_as(words, MAGIC)
    }

    /// Driver: attaches to rings the client initialised with `magic`.
    pub fn attach_as(words: &'a [AtomicU64], magic: u64) -> Result<Queues<'a>, QueueError> {
        let [a, b, c, d] = Self::split(words)?;
        Ok(Queues {
            rx_free: Ring::attach_as(a, magic)?,
            rx_active: Ring::attach_as(b, magic)?,
            tx_active: Ring::attach_as(c, magic)?,
            tx_free: Ring::attach_as(d, magic)?,
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn words(n: usize) -> std::vec::Vec<AtomicU64> {
        (0..n).map(|_| AtomicU64::new(0)).collect()
    }

    extern crate std;

    #[test]
    fn fifo_until_full_then_full() {
        let w = words(RING_WORDS);
        let ring = Ring::init(&w).unwrap();
        for i in 0..CAPACITY as u32 {
            ring.push(Desc { offset: i * 2048, len: 60 }).unwrap();
        }
        assert_eq!(ring.push(Desc { offset: 0, len: 0 }), Err(QueueError::Full));
        for i in 0..CAPACITY as u32 {
            assert_eq!(ring.pop().unwrap(), Some(Desc { offset: i * 2048, len: 60 }));
        }
        assert_eq!(ring.pop().unwrap(), None);
    }

    #[test]
    fn peek_shows_the_head_and_leaves_it() {
        let w = words(RING_WORDS);
        let ring = Ring::init(&w).unwrap();
        assert_eq!(ring.peek().unwrap(), None);
        ring.push(Desc { offset: 2048, len: 9 }).unwrap();
        ring.push(Desc { offset: 0, len: 1 }).unwrap();
        assert_eq!(ring.peek().unwrap(), Some(Desc { offset: 2048, len: 9 }));
        assert_eq!(ring.peek().unwrap(), Some(Desc { offset: 2048, len: 9 }), "still there");
        assert_eq!(ring.pop().unwrap(), Some(Desc { offset: 2048, len: 9 }));
        assert_eq!(ring.peek().unwrap(), Some(Desc { offset: 0, len: 1 }));
        w[TAIL].store(CAPACITY + 7, Ordering::Relaxed);
        assert_eq!(ring.peek(), Err(QueueError::Corrupt));
    }

    #[test]
    fn impossible_indices_read_as_corrupt_and_change_nothing() {
        let w = words(RING_WORDS);
        let ring = Ring::init(&w).unwrap();
        w[TAIL].store(CAPACITY + 1, Ordering::Relaxed);
        assert_eq!(ring.pop(), Err(QueueError::Corrupt));
        assert_eq!(ring.push(Desc { offset: 0, len: 1 }), Err(QueueError::Corrupt));
        assert_eq!(w[HEAD].load(Ordering::Relaxed), 0, "head untouched");
        assert_eq!(ring.len(), 0);
    }

    #[test]
    fn descriptors_are_checked_against_the_region() {
        let region = 4 * BUF_SIZE;
        assert_eq!(Desc { offset: 2048, len: 1514 }.check(region), Ok(2048..3562));
        for bad in [
            Desc { offset: 1, len: 10 },
            Desc { offset: 4 * 2048, len: 10 },
            Desc { offset: u32::MAX, len: 10 },
            Desc { offset: 0, len: 1515 },
        ] {
            assert_eq!(bad.check(region), Err(QueueError::BadDescriptor(bad)));
        }
    }

    #[test]
    fn a_ring_the_peer_did_not_initialise_is_refused() {
        let w = words(RING_WORDS);
        assert!(matches!(Ring::attach(&w), Err(QueueError::NotARing)));
        assert!(matches!(Ring::init(&w[..10]), Err(QueueError::NotARing)));
        let q = words(QUEUES_WORDS);
        Queues::init(&q).unwrap();
        Queues::attach(&q).unwrap();
    }

    #[test]
    fn info_round_trips_and_survives_init() {
        let q = words(QUEUES_WORDS);
        assert_eq!(Info::read(&q).mac, None, "nothing published yet");
        let info = Info {
            mac: Some([2, 0x57, 0x4e, 0, 0, 3]),
            rx_frames: 5,
            rx_dropped: 1,
            rx_errors: 2,
            tx_frames: 7,
            bad_descriptors: 9,
        };
        info.publish(&q);
        Queues::init(&q).unwrap();
        assert_eq!(Info::read(&q), info);
    }

    #[test]
    fn notification_only_when_wanted() {
        let w = words(RING_WORDS);
        let ring = Ring::init(&w).unwrap();
        ring.push(Desc { offset: 0, len: 1 }).unwrap();
        assert!(!ring.take_notification(), "nobody waits");
        assert!(!ring.want_notification(), "not empty: the consumer must pop, not sleep");
        ring.pop().unwrap();
        assert!(ring.want_notification());
        ring.push(Desc { offset: 0, len: 1 }).unwrap();
        assert!(ring.take_notification());
        assert!(!ring.take_notification(), "one notification per request");
    }
}
