//! The virtio-net driver PD: moves Ethernet frames between the NIC and its
//! one client (the network PD), through the frame queues of
//! `worknode-netq`, completing by interrupt. Never reached by a protected
//! call: rings and notifications only.
//!
//! Receive: the device receives into the driver's private buffers, which
//! it always has (the device itself never runs dry); the driver copies
//! each frame into a buffer the client offered on `rx_free` and hands it
//! over on `rx_active`. With no free buffer, the frame is dropped and
//! counted (`Info::rx_dropped`): the driver never waits for the client.
//! Rejected alternative: receiving straight into the client's buffers
//! (no copy), where a slow client makes the *device* drop frames, which
//! virtio does not count, and the client's buffers would need room for
//! the virtio header in front of every frame.
//!
//! Transmit: zero copy. Each frame on `tx_active` goes to the device as a
//! two-part chain, the driver's 12-byte virtio-net header and the client's
//! buffer; once sent, the buffer goes back on `tx_free`. A full device
//! queue leaves frames on `tx_active`: the client waits, nothing is
//! dropped.
//!
//! Everything the client writes is checked (`Desc::check`) before use.
//! Every loop is bounded by a ring's or a queue's capacity.
//!
//! Transport, per board (`cfg(virtio)`): virtio-mmio on the `virt`
//! machines, found by scanning the mapped register page; virtio-pci on
//! `x86_64_generic`, through the PCI PD (drivers/pci), with the legacy
//! INTx interrupt through the IOAPIC.

#![no_std]
#![no_main]

use core::sync::atomic::AtomicU64;

use sel4_microkit::{Channel, ChannelSet, Handler, Infallible, debug_println, protection_domain, var};
use virtio_drivers::Hal;
use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::Transport;
#[cfg(virtio = "mmio")]
use virtio_drivers::transport::{DeviceType, mmio::MmioTransport};
use worknode_driver_virtio_hal::{DmaHal, Region};
use worknode_netq::{BUF_SIZE, Desc, Info, MAX_FRAME, MIN_FRAME, QUEUES_WORDS, Queues};

/// Channel ids generated from the rendered system.xml.
mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

/// The driver's one client (the network PD): its channel besides the
/// interrupt and, on PCI boards, the PCI PD's.
const CLIENT: Channel = Channel::new(worknode_driver_virtio_hal::client_channel(system::channel::ALL));

/// Receive buffers the device holds (one descriptor each).
const RX_BUFFERS: usize = 128;
/// Frames in flight to the device (two descriptors each).
const TX_SLOTS: usize = 128;
const RX_QUEUE: u16 = 0;
const TX_QUEUE: u16 = 1;
/// The virtio-net header with VIRTIO_F_VERSION_1 (`num_buffers` included).
const HEADER: usize = 12;
const _: () = assert!(HEADER + MAX_FRAME as usize <= BUF_SIZE as usize, "a received frame fits a buffer");
const _: () =
    assert!(TX_SLOTS * 16 <= worknode_driver_virtio_hal::RESERVED, "TX headers fit the reserved bytes");

bitflags::bitflags! {
    /// The virtio-net features this driver asks for.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Features: u64 {
        const MAC = 1 << 5;
        const VERSION_1 = 1 << 32;
    }
}

#[cfg(virtio = "mmio")]
type DeviceTransport = MmioTransport<'static>;
#[cfg(virtio = "pci")]
type DeviceTransport = virtio_drivers::transport::pci::PciTransport;

struct Driver {
    transport: DeviceTransport,
    rx: VirtQueue<DmaHal, { RX_BUFFERS }>,
    tx: VirtQueue<DmaHal, { 2 * TX_SLOTS }>,
    irq: Channel,
    shared: &'static [AtomicU64],
    rx_data: Region,
    tx_data: Region,
    private: Region,
    /// The private receive buffers: virtual address of buffer 0.
    rx_pool: usize,
    /// Which private buffer each receive token holds.
    rx_tokens: [u16; RX_BUFFERS],
    /// The client's descriptor each transmit slot carries, with its token.
    tx_slots: [Option<(u16, Desc)>; TX_SLOTS],
    info: Info,
}

/// Finds the network device in the mapped virtio-mmio page.
#[cfg(virtio = "mmio")]
fn find_device(regs: Region) -> DeviceTransport {
    // SAFETY: system.xml maps the device's register page at `regs`,
    // uncached, for this PD alone.
    unsafe { worknode_driver_virtio_hal::find_mmio(regs, DeviceType::Network) }.unwrap_or_else(|| {
        panic!("no virtio-net device in the register page: QEMU needs -device virtio-net-device (see qemu/)")
    })
}

/// The network device, through the PCI PD, its registers placed where
/// system.xml maps them; its INTA (PCI slot 5) is routed by the firmware
/// to ISA IRQ 10.
#[cfg(virtio = "pci")]
fn find_device(regs: Region) -> DeviceTransport {
    let pci = Channel::new(system::channel::PCI);
    worknode_driver_pci_client::transport(pci, regs.paddr as u64, 10, "virtio-net")
}

#[protection_domain]
fn init() -> Driver {
    let regs =
        Region::new(*var!(regs_vaddr: usize = 0), *var!(regs_paddr: usize = 0), *var!(regs_size: usize = 0));
    let private =
        Region::new(*var!(dma_vaddr: usize = 0), *var!(dma_paddr: usize = 0), *var!(dma_size: usize = 0));
    let rx_data = Region::new(
        *var!(rx_data_vaddr: usize = 0),
        *var!(rx_data_paddr: usize = 0),
        *var!(rx_data_size: usize = 0),
    );
    let tx_data = Region::new(
        *var!(tx_data_vaddr: usize = 0),
        *var!(tx_data_paddr: usize = 0),
        *var!(tx_data_size: usize = 0),
    );
    let queues_vaddr = *var!(queues_vaddr: usize = 0);
    let irq = Channel::new(*var!(irq_channel: usize = usize::MAX));
    // The device reads transmitted frames straight from the client's
    // buffers; it never writes the receive data region (the driver copies).
    worknode_driver_virtio_hal::set_regions(private, &[tx_data], regs);

    let mut transport = find_device(regs);
    let negotiated = transport.begin_init(Features::MAC | Features::VERSION_1);
    assert!(negotiated.contains(Features::VERSION_1), "virtio-net device is legacy-only (need VERSION_1)");
    assert!(
        negotiated.contains(Features::MAC),
        "virtio-net device offers no MAC address (QEMU: -device ...,mac=)"
    );
    let mut mac = [0u8; 6];
    for (i, byte) in mac.iter_mut().enumerate() {
        *byte = transport.read_config_space(i).expect("virtio-net config space");
    }
    let mut rx = VirtQueue::<DmaHal, { RX_BUFFERS }>::new(&mut transport, RX_QUEUE, false, false)
        .unwrap_or_else(|e| panic!("receive virtqueue: {e:?}"));
    let tx = VirtQueue::<DmaHal, { 2 * TX_SLOTS }>::new(&mut transport, TX_QUEUE, false, false)
        .unwrap_or_else(|e| panic!("transmit virtqueue: {e:?}"));
    // The private receive buffers, allocated once.
    let pages = RX_BUFFERS * BUF_SIZE as usize / 4096;
    let (_, pool) = DmaHal::dma_alloc(pages, virtio_drivers::BufferDirection::DeviceToDriver);
    let rx_pool = pool.as_ptr() as usize;
    let mut rx_tokens = [0u16; RX_BUFFERS];
    for (i, token) in rx_tokens.iter_mut().enumerate() {
        // SAFETY: buffer i lies in the pool just allocated, is handed to
        // the device once, and is touched again only after the device
        // returns its token (`receive`).
        *token = unsafe { rx.add(&[], &mut [pool_buffer(rx_pool, i)]) }
            .unwrap_or_else(|e| panic!("receive virtqueue refused buffer {i}: {e:?}"));
    }
    transport.finish_init();
    if rx.should_notify() {
        transport.notify(RX_QUEUE);
    }
    // SAFETY: the queue region is mapped read-write in this PD and the
    // client (system.xml), page-aligned, QUEUES_WORDS words long, and both
    // sides only ever access it through these atomics.
    let shared = unsafe { core::slice::from_raw_parts(queues_vaddr as *const AtomicU64, QUEUES_WORDS) };
    let info = Info { mac: Some(mac), ..Info::default() };
    info.publish(shared);
    debug_println!(
        "nic| mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, {} receive buffers",
        mac[0],
        mac[1],
        mac[2],
        mac[3],
        mac[4],
        mac[5],
        RX_BUFFERS
    );
    CLIENT.notify();
    Driver {
        transport,
        rx,
        tx,
        irq,
        shared,
        rx_data,
        tx_data,
        private,
        rx_pool,
        rx_tokens,
        tx_slots: [None; TX_SLOTS],
        info,
    }
}

/// Private receive buffer `i` of the pool at `pool`.
fn pool_buffer(pool: usize, i: usize) -> &'static mut [u8] {
    assert!(i < RX_BUFFERS, "receive buffer {i} out of the pool");
    // SAFETY: the pool is RX_BUFFERS buffers of BUF_SIZE bytes in the
    // private DMA region, mapped read-write in this PD; buffer i is used
    // for one request at a time (the caller's contract, see `init` and
    // `receive`).
    unsafe { core::slice::from_raw_parts_mut((pool + i * BUF_SIZE as usize) as *mut u8, BUF_SIZE as usize) }
}

impl Driver {
    /// The client's buffer `desc` names in `region`, checked.
    fn client_buffer(region: Region, desc: Desc) -> Option<&'static mut [u8]> {
        let range = desc.check(region.size as u64).ok()?;
        // SAFETY: `check` put the whole buffer inside the region, which is
        // mapped read-write in this PD; by the queue protocol the client
        // leaves a buffer alone while the driver owns it.
        Some(unsafe { core::slice::from_raw_parts_mut((region.vaddr + range.start) as *mut u8, range.len()) })
    }

    /// The virtio-net header of transmit slot `i`, in the reserved bytes of
    /// the private region.
    fn tx_header(&self, i: usize) -> &'static mut [u8] {
        assert!(i < TX_SLOTS, "transmit slot {i}");
        // SAFETY: slot i's 16 bytes lie in the first RESERVED bytes of the
        // private region (asserted at compile time), which the HAL never
        // hands out, and are used by the one frame in slot i.
        unsafe { core::slice::from_raw_parts_mut((self.private.vaddr + i * 16) as *mut u8, HEADER) }
    }

    /// Hands received frames to the client; re-posts every private buffer.
    fn receive(&mut self, queues: Option<&Queues>) {
        // Bounded: each pass returns one of RX_BUFFERS tokens.
        for _ in 0..RX_BUFFERS {
            let Some(token) = self.rx.peek_used() else { break };
            let i =
                self.rx_tokens.iter().position(|&t| t == token).expect("device returned an unknown token");
            let buffer = pool_buffer(self.rx_pool, i);
            // SAFETY: the same buffer that was added with this token.
            let written = unsafe { self.rx.pop_used(token, &[], &mut [buffer]) }.unwrap_or(0) as usize;
            let buffer = pool_buffer(self.rx_pool, i);
            let frame =
                buffer.get(HEADER..written).filter(|f| (MIN_FRAME..=MAX_FRAME).contains(&(f.len() as u64)));
            match (frame, queues) {
                (None, _) => self.info.rx_errors += 1,
                (Some(_), None) => self.info.rx_dropped += 1,
                (Some(frame), Some(q)) => match q.rx_free.pop() {
                    Ok(Some(desc)) => {
                        match Self::client_buffer(self.rx_data, Desc { len: frame.len() as u32, ..desc }) {
                            Some(target) => {
                                target.copy_from_slice(frame);
                                let handed = Desc { offset: desc.offset, len: frame.len() as u32 };
                                // Cannot be full: the client owns at most as
                                // many buffers as the ring holds.
                                if q.rx_active.push(handed).is_ok() {
                                    self.info.rx_frames += 1;
                                } else {
                                    self.info.rx_dropped += 1;
                                }
                            }
                            None => self.info.bad_descriptors += 1,
                        }
                    }
                    _ => self.info.rx_dropped += 1,
                },
            }
            // SAFETY: buffer i goes back to the device, untouched until it
            // returns the new token.
            self.rx_tokens[i] = unsafe { self.rx.add(&[], &mut [pool_buffer(self.rx_pool, i)]) }
                .unwrap_or_else(|e| panic!("receive virtqueue refused a returned buffer: {e:?}"));
        }
        if self.rx.should_notify() {
            self.transport.notify(RX_QUEUE);
        }
    }

    /// Returns sent buffers to the client.
    fn transmitted(&mut self, queues: &Queues) {
        // Bounded: each pass frees one of TX_SLOTS slots.
        for _ in 0..TX_SLOTS {
            let Some(token) = self.tx.peek_used() else { break };
            let i = self
                .tx_slots
                .iter()
                .position(|s| s.is_some_and(|(t, _)| t == token))
                .expect("device returned an unknown token");
            let (_, desc) = self.tx_slots[i].take().expect("slot found above");
            let header = self.tx_header(i);
            let frame = Self::client_buffer(self.tx_data, desc).expect("checked when sent");
            // SAFETY: the same buffers that were added with this token.
            let _ = unsafe { self.tx.pop_used(token, &[header, frame], &mut []) };
            self.info.tx_frames += 1;
            let _ = queues.tx_free.push(Desc { offset: desc.offset, len: 0 });
        }
    }

    /// Sends the client's frames while the device has room.
    fn transmit(&mut self, queues: &Queues) {
        let mut added = false;
        // Bounded: each pass takes one descriptor off the ring or stops.
        for _ in 0..TX_SLOTS {
            let Some(free) = self.tx_slots.iter().position(Option::is_none) else { break };
            let Ok(Some(desc)) = queues.tx_active.pop() else { break };
            let frame = Self::client_buffer(self.tx_data, desc).filter(|f| f.len() as u64 >= MIN_FRAME);
            let Some(frame) = frame else {
                self.info.bad_descriptors += 1;
                let _ = queues.tx_free.push(Desc { offset: desc.offset, len: 0 });
                continue;
            };
            let header = self.tx_header(free);
            header.fill(0);
            // SAFETY: header and frame stay untouched until the device
            // returns this token (`transmitted`).
            let token = unsafe { self.tx.add(&[header, frame], &mut []) }
                .unwrap_or_else(|e| panic!("transmit virtqueue refused a frame with a free slot: {e:?}"));
            self.tx_slots[free] = Some((token, desc));
            added = true;
        }
        if added && self.tx.should_notify() {
            self.transport.notify(TX_QUEUE);
        }
    }
}

impl Handler for Driver {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        let queues = Queues::attach(self.shared).ok();
        if channels.contains(self.irq) {
            let _ = self.transport.ack_interrupt();
            self.receive(queues.as_ref());
            if let Err(e) = self.irq.irq_ack() {
                debug_println!("nic| irq ack failed: {e}");
            }
        }
        if let Some(q) = queues {
            // Bounded: a client that keeps the ring non-empty is served on
            // its next notification, not in a loop here.
            for _ in 0..2 {
                self.transmitted(&q);
                self.transmit(&q);
                if q.tx_active.want_notification() {
                    break;
                }
            }
            if q.rx_active.take_notification() | q.tx_free.take_notification() {
                CLIENT.notify();
            }
        }
        self.info.publish(self.shared);
        Ok(())
    }
}
