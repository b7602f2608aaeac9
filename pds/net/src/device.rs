//! smoltcp's frame device over the NIC driver's queues (`worknode_netq`).
//!
//! Receive: a frame is copied out of the shared buffer into the PD's own
//! memory before anything reads it (the driver could still write the
//! buffer), the buffer goes straight back on `rx_free`, and the copy is
//! checked by `worknode_net::classify` (runt, oversized, another MAC or
//! address: counted and dropped) before smoltcp parses it.
//!
//! Transmit: smoltcp writes into the PD's own memory, which is copied
//! into a buffer from `tx_free` and queued on `tx_active`. The device
//! offers a transmit token only when a buffer is free, so nothing is
//! dropped here; smoltcp keeps the packet (or TCP its data) and tries
//! again after the driver's notification.

use core::sync::atomic::AtomicU64;

use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use smoltcp::wire::Ipv4Address;
use worknode_driver_shared_region::SharedRegion;
use worknode_net::{Frame, Node};
use worknode_netq::{BUF_SIZE, Desc, Info, MAX_FRAME, QUEUES_WORDS, Queues};

/// The device.
pub struct QueueDevice {
    words: &'static [AtomicU64],
    rx: SharedRegion,
    tx: SharedRegion,
    /// Our addresses, for the pre-filter, once known.
    mac: Option<[u8; 6]>,
    ip: Ipv4Address,
    /// Frames the pre-filter dropped, not yet counted into the node.
    dropped: [u64; 4],
    /// Descriptors from the driver that failed their check.
    pub bad_descriptors: u64,
}

/// A received frame, copied out.
pub struct RxToken {
    frame: [u8; MAX_FRAME as usize],
    len: usize,
}

/// Room for one frame to send.
pub struct TxToken<'a> {
    device: &'a QueueDevice,
}

impl QueueDevice {
    /// The device over the queue region at `queues` and the data regions
    /// `rx` and `tx` (address, size).
    ///
    /// # Safety
    /// The three regions are mapped read-write in this PD, the queue
    /// region is [`QUEUES_WORDS`] words, and nothing else in this PD
    /// touches them.
    #[allow(unsafe_code)]
    pub unsafe fn new(queues: usize, rx: (usize, usize), tx: (usize, usize)) -> QueueDevice {
        // SAFETY: the caller's contract; the words are only ever accessed
        // atomically, here and in the driver.
        let words = unsafe { core::slice::from_raw_parts(queues as *const AtomicU64, QUEUES_WORDS) };
        let queues = Queues::init(words).expect("the queue region holds four rings");
        // SAFETY: the caller's contract.
        let (rx, tx) = unsafe { (SharedRegion::new(rx.0, rx.1), SharedRegion::new(tx.0, tx.1)) };
        // Every receive buffer goes to the driver; every transmit buffer
        // starts free (on our side of `tx_free`).
        for i in 0..(rx.len() as u64 / BUF_SIZE).min(worknode_netq::CAPACITY) {
            queues
                .rx_free
                .push(Desc { offset: (i * BUF_SIZE) as u32, len: 0 })
                .expect("fewer buffers than slots");
        }
        for i in 0..(tx.len() as u64 / BUF_SIZE).min(worknode_netq::CAPACITY) {
            queues
                .tx_free
                .push(Desc { offset: (i * BUF_SIZE) as u32, len: 0 })
                .expect("fewer buffers than slots");
        }
        QueueDevice {
            words,
            rx,
            tx,
            mac: None,
            ip: Ipv4Address::UNSPECIFIED,
            dropped: [0; 4],
            bad_descriptors: 0,
        }
    }

    fn queues(&self) -> Queues<'static> {
        Queues::attach(self.words).expect("initialised in new")
    }

    /// The MAC the driver published, if it has.
    pub fn mac(&mut self) -> Option<[u8; 6]> {
        self.mac = self.mac.or(Info::read(self.words).mac);
        self.mac
    }

    /// Hands the pre-filter's counts to the node.
    pub fn count_into(&mut self, node: &mut Node<'_>) {
        self.ip = node.config().address(node.config().me);
        for (count, verdict) in
            self.dropped.iter_mut().zip([Frame::Runt, Frame::Oversized, Frame::OtherMac, Frame::OtherIp])
        {
            for _ in 0..core::mem::take(count) {
                node.count_dropped(verdict);
            }
        }
    }

    /// Before sleeping: asks the driver to notify when frames arrive, and
    /// when sent buffers come back if none is free (smoltcp then waits
    /// for one). False if frames arrived after all: poll again instead of
    /// sleeping.
    pub fn want_notifications(&self) -> bool {
        let q = self.queues();
        if q.tx_free.is_empty() {
            // Whether a buffer came back meanwhile does not matter: the
            // next poll finds it either way.
            let _ = q.tx_free.want_notification();
        }
        q.rx_active.want_notification()
    }

    /// The next received frame that passes the pre-filter, copied out.
    fn next_frame(&mut self) -> Option<RxToken> {
        let q = self.queues();
        // Bounded: each pass takes one descriptor off the ring.
        for _ in 0..worknode_netq::CAPACITY {
            let desc = q.rx_active.pop().ok()??;
            let Ok(range) = desc.check(self.rx.len() as u64) else {
                self.bad_descriptors += 1;
                continue;
            };
            let mut token = RxToken { frame: [0; MAX_FRAME as usize], len: range.len() };
            self.rx.copy_out(range.start, &mut token.frame[..range.len()]);
            // The buffer is ours again: back to the driver at once.
            let _ = q.rx_free.push(Desc { offset: desc.offset, len: 0 });
            let verdict = match self.mac {
                Some(mac) => worknode_net::classify(&token.frame[..token.len], mac, self.ip),
                None => Frame::OtherMac,
            };
            match verdict {
                Frame::Accept => return Some(token),
                Frame::Runt => self.dropped[0] += 1,
                Frame::Oversized => self.dropped[1] += 1,
                Frame::OtherMac => self.dropped[2] += 1,
                Frame::OtherIp => self.dropped[3] += 1,
            }
        }
        None
    }

    fn tx_room(&self) -> bool {
        !self.queues().tx_free.is_empty()
    }
}

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.frame[..self.len])
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = [0u8; MAX_FRAME as usize];
        let len = len.min(frame.len());
        let result = f(&mut frame[..len]);
        let q = self.device.queues();
        // Present: the token was offered only with a free buffer, and this
        // PD is the only consumer of `tx_free`.
        if let Ok(Some(desc)) = q.tx_free.pop()
            && desc.check(self.device.tx.len() as u64).is_ok()
        {
            self.device.tx.copy_in(desc.offset as usize, &frame[..len]);
            let sent = Desc { offset: desc.offset, len: len as u32 };
            // Cannot be full: there are no more buffers than slots.
            let _ = q.tx_active.push(sent);
            if q.tx_active.take_notification() {
                crate::DRIVER.notify();
            }
        }
        result
    }
}

impl Device for QueueDevice {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _: Instant) -> Option<(RxToken, TxToken<'_>)> {
        if !self.tx_room() {
            return None;
        }
        let frame = self.next_frame()?;
        Some((frame, TxToken { device: self }))
    }

    fn transmit(&mut self, _: Instant) -> Option<TxToken<'_>> {
        self.tx_room().then_some(TxToken { device: self })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MAX_FRAME as usize;
        caps.max_burst_size = Some(worknode_netq::CAPACITY as usize);
        caps
    }
}
