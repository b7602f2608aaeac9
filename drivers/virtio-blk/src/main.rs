//! The virtio-blk driver PD: serves block requests from its clients on a
//! virtio block device, completing them by interrupt.
//!
//! The disk is cut in two parts (`worknode_abi::disk`): the event log's,
//! served to the log PD (or, in the bench profile, the log benchmark), and
//! the Raft log's, served to the Raft PD where the system has one. Each
//! client has its own block queue (`worknode-blkq`) and its own data
//! region, which the device reads and writes directly; it sees its part as
//! a whole disk numbered from 0, and a request outside it is answered
//! `Invalid` without reaching the device. Rejected: a separate
//! virtualiser PD between clients and driver (as sDDF has), one more PD
//! and one more copy on every write for a cut this driver makes by adding
//! a number. A flush is sent to the device as `VIRTIO_BLK_T_FLUSH` and is
//! answered only after the device completed it; a device without the flush
//! feature gets `Unsupported` answers, never a pretend success.
//!
//! Back-pressure: a request stays in its ring until one of its client's
//! [`PER_CLIENT`] in-flight slots is free; the client waits for our
//! notification. A client cannot take the other's slots, so a busy Raft
//! log never delays the governor's durable appends by more than the
//! device's own queueing. Nothing
//! is dropped, and no loop here is unbounded: each pass handles at most the
//! ring's capacity.
//!
//! Transport, chosen per board (`cfg(virtio)`, tools/sysdesc `BOARDS`):
//! virtio-mmio on the aarch64 and riscv64 `virt` machines (the device is
//! found by scanning the mapped register page); virtio-pci on
//! `x86_64_generic` (see `pci.rs`), with the legacy INTx interrupt through
//! the IOAPIC.

#![no_std]
#![no_main]

use core::sync::atomic::AtomicU64;

use heapless::Vec;
use sel4_microkit::{Channel, ChannelSet, Handler, Infallible, debug_println, protection_domain, var};
use virtio_drivers::queue::VirtQueue;
#[cfg(virtio = "mmio")]
use virtio_drivers::transport::DeviceType;
use virtio_drivers::transport::Transport;
#[cfg(virtio = "mmio")]
use virtio_drivers::transport::mmio::MmioTransport;
use worknode_abi::disk::{Layout, Part};
use worknode_blkq::{Op, Queue, Request, Response, Status};

use worknode_driver_virtio_hal::{DmaHal, Region};

/// Channel ids generated from the rendered system.xml.
mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

/// The clients: the event log's owner, then the Raft log's.
const CLIENTS: usize = 2;
/// The Raft PD's channel, if the system has one; every other channel but
/// the PCI PD's is the event log's owner's.
const RAFT: Option<usize> = channel_of(system::channel::ALL, "raft");
/// Requests in flight at once, per client; each uses 3 descriptors.
const PER_CLIENT: usize = 4;
const SLOTS: usize = CLIENTS * PER_CLIENT;
const QUEUE_SIZE: usize = 32;
const VIRTIO_BLK_T_IN: u32 = 0;
const VIRTIO_BLK_T_OUT: u32 = 1;
const VIRTIO_BLK_T_FLUSH: u32 = 4;

bitflags::bitflags! {
    /// The virtio-blk features this driver asks for.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Features: u64 {
        const FLUSH = 1 << 9;
        const VERSION_1 = 1 << 32;
    }
}

const _: () = assert!(SLOTS * 3 <= QUEUE_SIZE, "every slot's descriptors fit the virtqueue");

/// The channel to PD `name`, if there is one.
const fn channel_of(all: &[(&str, usize)], name: &str) -> Option<usize> {
    let mut i = 0;
    while i < all.len() {
        if const_eq(all[i].0, name) {
            return Some(all[i].1);
        }
        i += 1;
    }
    None
}

const fn const_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The event log's owner's channel: the one that is neither the PCI PD's
/// nor the Raft PD's.
const fn events_channel(all: &[(&str, usize)]) -> usize {
    let mut found = usize::MAX;
    let mut i = 0;
    while i < all.len() {
        if !const_eq(all[i].0, "pci") && !const_eq(all[i].0, "raft") {
            assert!(found == usize::MAX, "one client owns the event log's part");
            found = all[i].1;
        }
        i += 1;
    }
    assert!(found != usize::MAX, "one client owns the event log's part");
    found
}

/// One client: its queue, data region and part of the disk.
struct Client {
    channel: Channel,
    shared: &'static [AtomicU64],
    data: Region,
    part: Part,
    /// Responses the ring had no room for; posted first next time.
    unposted: Vec<Response, PER_CLIENT>,
    /// A response was posted since the client was last notified.
    posted: bool,
}

/// One request in flight: whose, which request, which virtqueue token.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    client: usize,
    request: Request,
    token: u16,
}

#[cfg(virtio = "mmio")]
type DeviceTransport = MmioTransport<'static>;
#[cfg(virtio = "pci")]
type DeviceTransport = virtio_drivers::transport::pci::PciTransport;

struct Driver {
    transport: DeviceTransport,
    queue: VirtQueue<DmaHal, QUEUE_SIZE>,
    can_flush: bool,
    irq: Channel,
    private: Region,
    clients: Vec<Client, CLIENTS>,
    slots: [Option<InFlight>; SLOTS],
}

/// Finds the block device in the mapped virtio-mmio page.
#[cfg(virtio = "mmio")]
fn find_device(regs: Region) -> DeviceTransport {
    // SAFETY: system.xml maps the device's register page at `regs`,
    // uncached, for this PD alone.
    unsafe { worknode_driver_virtio_hal::find_mmio(regs, DeviceType::Block) }.unwrap_or_else(|| {
        panic!("no virtio-blk device in the register page: QEMU needs -device virtio-blk-device (see qemu/)")
    })
}

/// The block device, through the PCI PD, its registers placed where
/// system.xml maps them; its INTA is routed by the firmware to ISA IRQ 11.
#[cfg(virtio = "pci")]
fn find_device(regs: Region) -> DeviceTransport {
    let pci = Channel::new(system::channel::PCI);
    worknode_driver_pci_client::transport(pci, regs.paddr as u64, 11, "virtio-blk")
}

#[protection_domain]
fn init() -> Driver {
    let regs =
        Region::new(*var!(regs_vaddr: usize = 0), *var!(regs_paddr: usize = 0), *var!(regs_size: usize = 0));
    let private =
        Region::new(*var!(dma_vaddr: usize = 0), *var!(dma_paddr: usize = 0), *var!(dma_size: usize = 0));
    let data =
        Region::new(*var!(data_vaddr: usize = 0), *var!(data_paddr: usize = 0), *var!(data_size: usize = 0));
    let queue_vaddr = *var!(queue_vaddr: usize = 0);
    let raft_data = Region::new(
        *var!(raft_data_vaddr: usize = 0),
        *var!(raft_data_paddr: usize = 0),
        *var!(raft_data_size: usize = 0),
    );
    let raft_queue_vaddr = *var!(raft_queue_vaddr: usize = 0);
    let irq = Channel::new(*var!(irq_channel: usize = 0));
    assert!(queue_vaddr != 0 && data.size != 0, "system.xml gives the driver the event log's queue and data");
    assert!(
        RAFT.is_none() || (raft_queue_vaddr != 0 && raft_data.size != 0),
        "system.xml gives the driver the Raft PD's queue and data along with its channel"
    );
    worknode_driver_virtio_hal::set_regions(private, &[data, raft_data], regs);

    let mut transport = find_device(regs);
    let negotiated = transport.begin_init(Features::FLUSH | Features::VERSION_1);
    let low: u32 = transport.read_config_space(0).expect("virtio-blk config space");
    let high: u32 = transport.read_config_space(4).expect("virtio-blk config space");
    let queue = VirtQueue::<DmaHal, QUEUE_SIZE>::new(&mut transport, 0, false, false)
        .unwrap_or_else(|e| panic!("virtqueue setup failed: {e:?}"));
    transport.finish_init();
    let capacity = u64::from(low) | u64::from(high) << 32;
    let can_flush = negotiated.contains(Features::FLUSH);
    let layout = Layout::of(capacity);
    debug_println!(
        "blk| {} sectors (event log {}, Raft log {}), flush {}",
        capacity,
        layout.events,
        layout.raft,
        if can_flush { "supported" } else { "NOT supported" }
    );
    let mut clients = Vec::new();
    let events = Channel::new(events_channel(system::channel::ALL));
    let mut add = |channel: Channel, queue_vaddr: usize, data: Region, part: Part| {
        // SAFETY: each queue page is mapped read-write in this PD and its
        // one client (system.xml), is 4 KiB and page-aligned, and both
        // sides only ever access it through these atomics.
        let shared =
            unsafe { core::slice::from_raw_parts(queue_vaddr as *const AtomicU64, worknode_blkq::WORDS) };
        worknode_blkq::publish_capacity(shared, part.sectors);
        channel.notify();
        let client = Client { channel, shared, data, part, unposted: Vec::new(), posted: false };
        clients.push(client).unwrap_or_else(|_| panic!("at most {CLIENTS} clients"));
    };
    add(events, queue_vaddr, data, layout.events_part());
    if let Some(raft) = RAFT {
        add(Channel::new(raft), raft_queue_vaddr, raft_data, layout.raft_part());
    }
    Driver { transport, queue, can_flush, irq, private, clients, slots: [None; SLOTS] }
}

impl Driver {
    /// The request header and status byte of slot `i`, in DMA memory.
    fn header_and_status(&self, i: usize) -> (&'static mut [u8], &'static mut [u8]) {
        let header = self.private.vaddr + i * 16;
        let status = self.private.vaddr + 2048 + i;
        // SAFETY: both ranges lie in the first `worknode_driver_virtio_hal::RESERVED` bytes of the
        // private DMA region, which the HAL never hands out, and slot i's
        // bytes are used only by the one request in slot i.
        unsafe {
            (
                core::slice::from_raw_parts_mut(header as *mut u8, 16),
                core::slice::from_raw_parts_mut(status as *mut u8, 1),
            )
        }
    }

    /// Client `c`'s data buffer for `r` (`None` for a flush), or why the
    /// request is invalid (`worknode_blkq::data_range`, tested on the
    /// host, against the client's part and data region). virtio-drivers
    /// takes buffers as slices, so this is the one place a shared region
    /// becomes Rust references: one per request in flight, over ranges that
    /// never overlap (`submit` refuses a request that would overlap one of
    /// the same client in flight; clients' regions are disjoint).
    fn buffer(&self, c: usize, r: &Request) -> Result<Option<&'static mut [u8]>, Status> {
        let client = &self.clients[c];
        let range = worknode_blkq::data_range(r, client.part.sectors, client.data.size as u64)?;
        // SAFETY: `data_range` checked the range lies inside the client's
        // data region; by the queue protocol the client leaves it alone
        // until the response is posted, and no other request in flight
        // covers any of it.
        Ok(range.map(|(offset, len)| unsafe {
            core::slice::from_raw_parts_mut((client.data.vaddr as u64 + offset) as *mut u8, len as usize)
        }))
    }

    fn post(&mut self, c: usize, response: Response) {
        let client = &mut self.clients[c];
        let queue = Queue::attach(client.shared).expect("attached before use");
        client.posted = true;
        if !client.unposted.is_empty() || queue.push_response(response).is_err() {
            // Room is guaranteed: `submit` keeps a client's requests in
            // flight plus its unposted responses at most PER_CLIENT, and
            // each response here comes from one of them. A client that
            // stops taking responses therefore stalls its own requests; it
            // cannot overflow this, nor take the other client's slots.
            client.unposted.push(response).expect("in flight + unposted <= PER_CLIENT");
        }
    }

    fn in_flight(&self, c: usize) -> usize {
        self.slots.iter().flatten().filter(|f| f.client == c).count()
    }

    /// Moves requests from the clients' rings to the device while their
    /// slots are free.
    fn submit(&mut self) {
        let mut added = false;
        for c in 0..self.clients.len() {
            added |= self.submit_from(c);
        }
        if added && self.queue.should_notify() {
            self.transport.notify(0);
        }
    }

    /// [`Driver::submit`] for client `c`; whether a request was added.
    fn submit_from(&mut self, c: usize) -> bool {
        let Ok(queue) = Queue::attach(self.clients[c].shared) else { return false };
        let mut added = false;
        // Bounded by PER_CLIENT + the ring capacity.
        while let Some(free) = self.slots.iter().position(Option::is_none) {
            if self.in_flight(c) + self.clients[c].unposted.len() >= PER_CLIENT {
                break;
            }
            let Some(next) = queue.pop_request() else { break };
            // A buffer in the client's data region, not shared with one of
            // its requests in flight: the device gets each range for one
            // request only.
            let admissible = |r: &Request| {
                let mine = self.slots.iter().flatten().filter(|f| f.client == c).map(|f| &f.request);
                self.buffer(c, r).is_ok() && !worknode_blkq::overlaps_in_flight(r, mine)
            };
            let request = match next {
                Ok(r) if admissible(&r) => r,
                Ok(r) => {
                    self.post(c, Response { id: r.id, status: Status::Invalid });
                    continue;
                }
                Err(id) => {
                    self.post(c, Response { id, status: Status::Invalid });
                    continue;
                }
            };
            if request.op == Op::Flush && !self.can_flush {
                self.post(c, Response { id: request.id, status: Status::Unsupported });
                continue;
            }
            let (header, status) = self.header_and_status(free);
            let kind = match request.op {
                Op::Read => VIRTIO_BLK_T_IN,
                Op::Write => VIRTIO_BLK_T_OUT,
                Op::Flush => VIRTIO_BLK_T_FLUSH,
            };
            // The client's sector, moved into its part: `data_range`
            // checked it lies within the part, so this cannot leave it.
            let sector = self.clients[c].part.start + request.sector;
            header[0..4].copy_from_slice(&kind.to_le_bytes());
            header[4..8].fill(0);
            header[8..16].copy_from_slice(&sector.to_le_bytes());
            status[0] = 0xff;
            // SAFETY: header, status and the data buffer stay untouched
            // until the device returns this token (see `complete`).
            let token = unsafe {
                match (request.op, self.buffer(c, &request)) {
                    (Op::Write, Ok(Some(data))) => self.queue.add(&[header, data], &mut [status]),
                    (Op::Read, Ok(Some(data))) => self.queue.add(&[header], &mut [data, status]),
                    _ => self.queue.add(&[header], &mut [status]),
                }
            }
            .unwrap_or_else(|e| panic!("virtqueue refused a request with a free slot: {e:?}"));
            self.slots[free] = Some(InFlight { client: c, request, token });
            added = true;
        }
        added
    }

    /// Takes completed requests off the device and answers them.
    fn complete(&mut self) {
        let _ = self.transport.ack_interrupt();
        // Bounded: each pass frees one of SLOTS slots.
        while let Some(token) = self.queue.peek_used() {
            let i = self
                .slots
                .iter()
                .position(|s| s.is_some_and(|f| f.token == token))
                .unwrap_or_else(|| panic!("device returned unknown token {token}"));
            let flight = self.slots[i].take().expect("slot found above");
            let (header, status) = self.header_and_status(i);
            let buffer = self.buffer(flight.client, &flight.request);
            // SAFETY: the same buffers that were passed to `add` for this token.
            let popped = unsafe {
                match (flight.request.op, buffer) {
                    (Op::Write, Ok(Some(data))) => self.queue.pop_used(token, &[header, data], &mut [status]),
                    (Op::Read, Ok(Some(data))) => self.queue.pop_used(token, &[header], &mut [data, status]),
                    _ => self.queue.pop_used(token, &[header], &mut [status]),
                }
            };
            let ok = popped.is_ok() && status[0] == 0;
            self.post(
                flight.client,
                Response { id: flight.request.id, status: if ok { Status::Ok } else { Status::DeviceError } },
            );
        }
    }

    fn flush_unposted(&mut self) {
        for client in &mut self.clients {
            let Ok(queue) = Queue::attach(client.shared) else { continue };
            // Bounded: at most PER_CLIENT entries.
            while let Some(&first) = client.unposted.first() {
                if queue.push_response(first).is_err() {
                    break;
                }
                client.unposted.remove(0);
            }
        }
    }
}

impl Handler for Driver {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        self.flush_unposted();
        if channels.contains(self.irq) {
            self.complete();
            if let Err(e) = self.irq.irq_ack() {
                debug_println!("blk| irq ack failed: {e}");
            }
        }
        self.submit();
        self.flush_unposted();
        for client in &mut self.clients {
            if core::mem::take(&mut client.posted) {
                client.channel.notify();
            }
        }
        Ok(())
    }
}
