//! Message queues: how a client PD that moves many messages hands them to
//! the network PD, and takes the ones that arrived, without a protected
//! call per message (`worknode_abi::net` has the calls, for everyone).
//!
//! The same four rings as the frame queues, marked [`MAGIC`], in one
//! region the client shares with the network PD. The client plays the
//! NIC driver's client (it initialises the rings and owns the buffers);
//! the network PD plays the driver:
//!
//! | ring | producer | consumer | carries |
//! |---|---|---|---|
//! | `tx_active` | client | network PD | messages to send |
//! | `tx_free` | network PD | client | sent (or refused) messages: the header says which |
//! | `rx_free` | client | network PD | empty buffers for messages that arrive |
//! | `rx_active` | network PD | client | messages that arrived |
//!
//! Every buffer starts with a [`QueuedHeader`] (16 bytes) and the body
//! follows it: a descriptor's length is the header's and the body's.
//!
//! Rules besides the rings' own (only the producer moves the tail, only
//! the consumer moves the head, only a buffer's owner touches it):
//! - **Order and back-pressure.** The network PD sends messages in ring
//!   order. One whose stream is full or not open yet stays at the head of
//!   `tx_active` until the stream takes it: the client waits, nothing is
//!   dropped, and later messages wait behind it (to any node: a client
//!   that must not wait behind a slow peer sends by call instead, where
//!   such a send fails at once).
//! - **Refusals.** A message the network PD cannot send at all (no such
//!   node, too large, a bad header) comes back on `tx_free` with the
//!   error in its header's status; a sent one comes back with its number
//!   on the stream.
//! - **Arrivals.** A message arrives only into a buffer from `rx_free`;
//!   while there is none, the message stays in the network PD's inbox and
//!   then in its stream (TCP's window closes: back-pressure to the sender,
//!   nothing dropped).
//! - **Trust.** The network PD trusts nothing from the client: a
//!   descriptor is checked before its buffer is touched, a message is
//!   copied out before its header is read, a broken ring stops the
//!   client's queues and nothing else. The client checks what comes back
//!   the same way (it is cheap, and a bug in either end stays visible).
//! - **Wake-ups.** As in the frame queues: a consumer that finds its ring
//!   empty asks for a notification before it sleeps, and a producer
//!   notifies only when asked. The network PD also waits for `rx_free`
//!   (when messages wait for a buffer) and the client for `tx_free` (when
//!   it has no buffer left to send with).
//!
//! Layout of the region (version 1): the four rings (pages 0-3, as
//! [`Queues`]), then `n` receive buffers, then `n` transmit buffers, of
//! [`BUF_SIZE`] bytes each, `n` = [`Layout::of`]. Offsets in descriptors
//! count from the start of their direction's buffers.

use core::ops::Range;

#[cfg(not(loom))]
use core::sync::atomic::AtomicU64;
#[cfg(loom)]
use loom::sync::atomic::AtomicU64;

use worknode_abi::ErrorCode;
use worknode_abi::net::{MAX_QUEUED_BODY, QUEUED_HEADER_LEN, QueuedHeader};

use crate::{BUF_SIZE, CAPACITY, Desc, QUEUES_WORDS, QueueError, Queues};

/// "WNMQ" and format version 1: a ring of message queues (the frame
/// queues' rings are "WNNQ").
pub const MAGIC: u64 = 0x574e_4d51_0000_0001;
/// Bytes of a message in a buffer, at most: its header and body.
pub const MAX_LEN: usize = QUEUED_HEADER_LEN + MAX_QUEUED_BODY;
/// Bytes of the rings at the start of the region.
pub const RINGS_LEN: usize = QUEUES_WORDS * 8;

const _: () = assert!(MAX_LEN as u64 <= BUF_SIZE, "a message fits a buffer");

/// Memory shared with the other end, reached only by copies (a PD's
/// shared region; plain memory in host tests).
pub trait Data {
    /// Its size in bytes.
    fn len(&self) -> usize;
    /// Whether it has no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Copies `out.len()` bytes out from `offset` (inside: callers check).
    fn read(&self, offset: usize, out: &mut [u8]);
    /// Copies `data` in at `offset` (inside: callers check).
    fn write(&self, offset: usize, data: &[u8]);
}

/// Plain memory as the shared data: host tests and fuzz targets play both
/// ends over it in one thread.
impl Data for [core::cell::Cell<u8>] {
    fn len(&self) -> usize {
        <[_]>::len(self)
    }

    fn read(&self, offset: usize, out: &mut [u8]) {
        let cells = &self[offset..offset + out.len()];
        for (byte, cell) in out.iter_mut().zip(cells) {
            *byte = cell.get();
        }
    }

    fn write(&self, offset: usize, data: &[u8]) {
        for (cell, &byte) in self[offset..offset + data.len()].iter().zip(data) {
            cell.set(byte);
        }
    }
}

/// Where the buffers are in a region of a given size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Buffers per direction.
    pub buffers: u64,
    /// Bytes of the receive buffers in the region.
    pub rx: Range<usize>,
    /// Bytes of the transmit buffers in the region.
    pub tx: Range<usize>,
}

impl Layout {
    /// The layout of a region of `len` bytes: as many buffers per
    /// direction as fit (at most [`CAPACITY`]); `None` if not one does.
    pub fn of(len: usize) -> Option<Layout> {
        let room = len.checked_sub(RINGS_LEN)? as u64 / 2;
        let buffers = (room / BUF_SIZE).min(CAPACITY);
        if buffers == 0 {
            return None;
        }
        let bytes = (buffers * BUF_SIZE) as usize;
        Some(Layout {
            buffers,
            rx: RINGS_LEN..RINGS_LEN + bytes,
            tx: RINGS_LEN + bytes..RINGS_LEN + 2 * bytes,
        })
    }
}

impl Layout {
    fn rx<'d, D: Data + ?Sized>(&self, data: &'d D) -> Buffers<'d, D> {
        Buffers { data, range: self.rx.clone() }
    }

    fn tx<'d, D: Data + ?Sized>(&self, data: &'d D) -> Buffers<'d, D> {
        Buffers { data, range: self.tx.clone() }
    }
}

/// One direction's buffers: a window onto the shared data.
struct Buffers<'d, D: Data + ?Sized> {
    data: &'d D,
    range: Range<usize>,
}

impl<D: Data + ?Sized> Buffers<'_, D> {
    /// Checks `desc` and copies its message out into `out`: the header
    /// and the body's length.
    fn take(&self, desc: Desc, out: &mut [u8; MAX_LEN]) -> Result<(QueuedHeader, usize), Refusal> {
        let bytes =
            desc.check_within(self.range.len() as u64, MAX_LEN as u64).map_err(|_| Refusal::Descriptor)?;
        if bytes.len() < QUEUED_HEADER_LEN {
            return Err(Refusal::Message(ErrorCode::Malformed));
        }
        let out = &mut out[..bytes.len()];
        self.data.read(self.range.start + bytes.start, out);
        let head: &[u8; QUEUED_HEADER_LEN] = out[..QUEUED_HEADER_LEN].try_into().expect("16 bytes");
        let header = QueuedHeader::from_bytes(head).map_err(Refusal::Message)?;
        Ok((header, bytes.len() - QUEUED_HEADER_LEN))
    }

    /// Writes a message into the buffer of `desc` (checked) and returns
    /// its descriptor.
    fn put(&self, desc: Desc, header: &QueuedHeader, body: &[u8]) -> Result<Desc, QueueError> {
        assert!(body.len() <= MAX_QUEUED_BODY, "bodies are checked before they are written");
        let at = self.range.start + desc.check_within(self.range.len() as u64, MAX_LEN as u64)?.start;
        self.data.write(at, &header.to_bytes());
        self.data.write(at + QUEUED_HEADER_LEN, body);
        Ok(Desc { offset: desc.offset, len: (QUEUED_HEADER_LEN + body.len()) as u32 })
    }
}

/// Why a message taken off a ring was not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// The descriptor is outside the buffers: its buffer is not touched.
    Descriptor,
    /// The message is broken (its header, its length).
    Message(ErrorCode),
}

/// What became of a message the client queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Sent to `to`: its number on the stream.
    Sent {
        /// The receiving node.
        to: u8,
        /// The message's number on the stream.
        seq: u64,
    },
    /// Refused by the network PD (`not-found`, `too-large`, `malformed`).
    Refused {
        /// The node it was for.
        to: u8,
        /// Why.
        error: ErrorCode,
    },
}

/// A message that arrived, as the client receives it (its body copied into
/// the client's buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrived {
    /// The sending node.
    pub from: u8,
    /// Its number on that node's stream to this one.
    pub seq: u64,
    /// Bytes of body.
    pub len: usize,
}

/// The client's end: initialises the region and owns its buffers.
pub struct Client<'a, D: Data + ?Sized> {
    queues: Queues<'a>,
    data: &'a D,
    layout: Layout,
    /// Transmit buffers this end holds (offsets): free to fill.
    free: [u32; CAPACITY as usize],
    free_len: usize,
    /// Rings this end pushed to since it last looked for a request
    /// (`tx_active`, `rx_free`): only a producer that produced notifies.
    pushed: [bool; 2],
    /// Descriptors the network PD handed back broken (a bug there).
    pub bad_descriptors: u64,
}

impl<'a, D: Data + ?Sized> Client<'a, D> {
    /// Initialises the region: rings over `words` (the region's first
    /// [`RINGS_LEN`] bytes), buffers in `data` (the whole region), every
    /// receive buffer handed to the network PD. Notify it afterwards.
    pub fn init(words: &'a [AtomicU64], data: &'a D) -> Result<Client<'a, D>, QueueError> {
        let layout = Layout::of(data.len()).ok_or(QueueError::NotARing)?;
        let queues = Queues::init_as(words, MAGIC)?;
        for i in 0..layout.buffers {
            queues.rx_free.push(Desc { offset: (i * BUF_SIZE) as u32, len: 0 })?;
        }
        let mut free = [0; CAPACITY as usize];
        for (i, slot) in free.iter_mut().enumerate().take(layout.buffers as usize) {
            *slot = (i as u64 * BUF_SIZE) as u32;
        }
        let free_len = layout.buffers as usize;
        Ok(Client { queues, data, layout, free, free_len, pushed: [false; 2], bad_descriptors: 0 })
    }

    /// Takes back the buffers of messages the network PD is done with,
    /// telling `outcome` what became of each. Bounded by the ring.
    pub fn reclaim(&mut self, mut outcome: impl FnMut(Outcome)) -> Result<(), QueueError> {
        let mut head = [0u8; MAX_LEN];
        for _ in 0..CAPACITY {
            // The network PD hands back a header alone (16 bytes).
            let Some(desc) = self.queues.tx_free.pop()? else { break };
            // A buffer this end holds already, or one too many, is the
            // network PD's bug: counted, never a second owner.
            let held = &self.free[..self.free_len];
            if self.free_len as u64 >= self.layout.buffers || held.contains(&desc.offset) {
                self.bad_descriptors += 1;
                continue;
            }
            match self.layout.tx(self.data).take(desc, &mut head) {
                Ok((header, _)) => outcome(match header.refused {
                    None => Outcome::Sent { to: header.peer, seq: header.seq },
                    Some(error) => Outcome::Refused { to: header.peer, error },
                }),
                Err(Refusal::Descriptor) => {
                    self.bad_descriptors += 1;
                    continue;
                }
                Err(Refusal::Message(_)) => self.bad_descriptors += 1,
            }
            self.free[self.free_len] = desc.offset;
            self.free_len += 1;
        }
        Ok(())
    }

    /// Queues `body` for node `to`: `Full` while every transmit buffer is
    /// with the network PD ([`Client::reclaim`] takes them back).
    pub fn send(&mut self, to: u8, body: &[u8]) -> Result<(), QueueError> {
        if body.len() > MAX_QUEUED_BODY {
            return Err(QueueError::BadDescriptor(Desc { offset: 0, len: body.len() as u32 }));
        }
        if self.free_len == 0 {
            return Err(QueueError::Full);
        }
        let offset = self.free[self.free_len - 1];
        let header = QueuedHeader { peer: to, seq: 0, refused: None };
        let desc = self.layout.tx(self.data).put(Desc { offset, len: 0 }, &header, body)?;
        // Cannot be full: there are no more buffers than slots.
        self.queues.tx_active.push(desc)?;
        self.free_len -= 1;
        self.pushed[0] = true;
        Ok(())
    }

    /// Takes the oldest message that arrived, its body copied into `body`,
    /// and hands its buffer back at once.
    pub fn receive(&mut self, body: &mut [u8; MAX_QUEUED_BODY]) -> Result<Option<Arrived>, QueueError> {
        let mut message = [0u8; MAX_LEN];
        for _ in 0..CAPACITY {
            let Some(desc) = self.queues.rx_active.pop()? else { return Ok(None) };
            let taken = self.layout.rx(self.data).take(desc, &mut message);
            if !matches!(taken, Err(Refusal::Descriptor)) {
                self.queues.rx_free.push(Desc { offset: desc.offset, len: 0 })?;
                self.pushed[1] = true;
            }
            let Ok((header, len)) = taken else {
                self.bad_descriptors += 1;
                continue;
            };
            body[..len].copy_from_slice(&message[QUEUED_HEADER_LEN..QUEUED_HEADER_LEN + len]);
            return Ok(Some(Arrived { from: header.peer, seq: header.seq, len }));
        }
        Ok(None)
    }

    /// Transmit buffers this end holds.
    pub fn free_buffers(&self) -> usize {
        self.free_len
    }

    /// Before sleeping: asks to be woken when a message arrives, and when
    /// a buffer comes back while any is out (every outcome is heard).
    /// False if something came meanwhile: receive (or reclaim) again
    /// instead of sleeping.
    pub fn want_notifications(&self) -> bool {
        let all_home = self.free_len as u64 == self.layout.buffers;
        let tx_ok = all_home || self.queues.tx_free.want_notification();
        self.queues.rx_active.want_notification() && tx_ok
    }

    /// After queueing and receiving: whether the network PD asked to be
    /// notified of what this end pushed since it last asked (notify it
    /// when this is true). Rejected: looking at both requests every time,
    /// which woke the network PD for a ring this end had not touched, and
    /// the two then woke each other without end (`make bench-net`: 20
    /// wake-ups per message).
    pub fn take_notification(&mut self) -> bool {
        let [sends, buffers] = core::mem::take(&mut self.pushed);
        let sends = sends && self.queues.tx_active.take_notification();
        (buffers && self.queues.rx_free.take_notification()) | sends
    }
}

/// What the network PD's stream said to a message it was offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    /// Taken: its number on the stream.
    Sent(u64),
    /// Not now (the stream is full or not open): it stays at the head.
    Wait,
    /// Never (no such node, too large).
    Refuse(ErrorCode),
}

/// The network PD's end, attached to a region the client initialised.
pub struct Server<'a, D: Data + ?Sized> {
    queues: Queues<'a>,
    data: &'a D,
    layout: Layout,
    /// A receive buffer taken off `rx_free` and checked, not yet filled.
    reserved: Option<Desc>,
    /// Whether the head of `tx_active` waits for its stream.
    waiting: bool,
    /// Rings this end pushed to since it last looked for a request
    /// (`tx_free`, `rx_active`).
    pushed: [bool; 2],
    /// Descriptors and messages from the client that were refused.
    pub refused: u64,
}

impl<'a, D: Data + ?Sized> Server<'a, D> {
    /// Attaches to the rings in `words` and the buffers in `data` (the
    /// whole region); `NotARing` until the client has initialised them.
    pub fn attach(words: &'a [AtomicU64], data: &'a D) -> Result<Server<'a, D>, QueueError> {
        let layout = Layout::of(data.len()).ok_or(QueueError::NotARing)?;
        let queues = Queues::attach_as(words, MAGIC)?;
        Ok(Server { queues, data, layout, reserved: None, waiting: false, pushed: [false; 2], refused: 0 })
    }

    /// Offers queued messages to `offer`, oldest first, until one must
    /// wait or the ring is empty (at most a ring's worth). `scratch` takes
    /// each message's copy. Returns how many left the ring.
    pub fn take_sends(
        &mut self,
        scratch: &mut [u8; MAX_LEN],
        mut offer: impl FnMut(u8, &[u8]) -> Offer,
    ) -> Result<usize, QueueError> {
        self.waiting = false;
        let mut taken = 0;
        for _ in 0..CAPACITY {
            let Some(desc) = self.queues.tx_active.peek()? else { break };
            let (peer, outcome) = match self.layout.tx(self.data).take(desc, scratch) {
                Ok((header, len)) => {
                    (header.peer, offer(header.peer, &scratch[QUEUED_HEADER_LEN..QUEUED_HEADER_LEN + len]))
                }
                Err(Refusal::Descriptor) => {
                    // Its buffer is not touched: handed back as it came.
                    self.refused += 1;
                    self.queues.tx_active.pop()?;
                    self.queues.tx_free.push(desc)?;
                    self.pushed[0] = true;
                    taken += 1;
                    continue;
                }
                // A broken header names no node for sure.
                Err(Refusal::Message(error)) => (u8::MAX, Offer::Refuse(error)),
            };
            let header = match outcome {
                Offer::Wait => {
                    self.waiting = true;
                    break;
                }
                Offer::Sent(seq) => QueuedHeader { peer, seq, refused: None },
                Offer::Refuse(error) => {
                    self.refused += 1;
                    QueuedHeader { peer, seq: 0, refused: Some(error) }
                }
            };
            let done = self.layout.tx(self.data).put(desc, &header, &[])?;
            self.queues.tx_active.pop()?;
            self.queues.tx_free.push(done)?;
            self.pushed[0] = true;
            taken += 1;
        }
        Ok(taken)
    }

    /// Whether a message can be delivered now: a checked receive buffer is
    /// reserved for it (taken off `rx_free`, bad descriptors skipped).
    pub fn ready_to_deliver(&mut self) -> Result<bool, QueueError> {
        for _ in 0..CAPACITY {
            if self.reserved.is_some() {
                break;
            }
            let Some(desc) = self.queues.rx_free.pop()? else { break };
            if desc.check_within(self.layout.rx.len() as u64, MAX_LEN as u64).is_ok() {
                self.reserved = Some(desc);
            } else {
                self.refused += 1;
            }
        }
        Ok(self.reserved.is_some())
    }

    /// Delivers a message into the reserved buffer ([`Server::ready_to_deliver`]
    /// must have said yes). A body longer than [`MAX_QUEUED_BODY`] is cut
    /// (none can arrive: the streams carry no longer ones).
    pub fn deliver(&mut self, from: u8, seq: u64, body: &[u8]) -> Result<(), QueueError> {
        let desc = self.reserved.take().expect("a buffer was reserved");
        let body = &body[..body.len().min(MAX_QUEUED_BODY)];
        let filled =
            self.layout.rx(self.data).put(desc, &QueuedHeader { peer: from, seq, refused: None }, body)?;
        self.queues.rx_active.push(filled)?;
        self.pushed[1] = true;
        Ok(())
    }

    /// Whether the head of `tx_active` waits for its stream (the stream's
    /// news, not the client's, brings the next try).
    pub fn sends_waiting(&self) -> bool {
        self.waiting
    }

    /// Before sleeping: asks the client for a notification when it queues
    /// a message (unless the head waits for its stream), and when it hands
    /// back a receive buffer if messages wait in the inbox
    /// (`inbox_waiting`) and none is reserved.
    /// False if the client did either meanwhile: serve it again.
    pub fn want_notifications(&self, inbox_waiting: bool) -> bool {
        let rx_ok = !inbox_waiting || self.reserved.is_some() || self.queues.rx_free.want_notification();
        let tx_ok = self.waiting || self.queues.tx_active.want_notification();
        rx_ok && tx_ok
    }

    /// After serving: whether the client asked to be notified of what
    /// this end pushed since it last asked (see [`Client::take_notification`]).
    pub fn take_notification(&mut self) -> bool {
        let [sent, arrived] = core::mem::take(&mut self.pushed);
        let sent = sent && self.queues.tx_free.take_notification();
        (arrived && self.queues.rx_active.take_notification()) | sent
    }
}
