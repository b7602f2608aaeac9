//! The virtio-blk driver PD: serves block requests from its one client (the
//! log PD) on a virtio block device, completing them by interrupt.
//!
//! Requests arrive in the shared block queue (`worknode-blkq`); data moves
//! through the shared `blk_data` region, which the device reads and writes
//! directly. A flush is sent to the device as `VIRTIO_BLK_T_FLUSH` and is
//! answered only after the device completed it; a device without the flush
//! feature gets `Unsupported` answers, never a pretend success.
//!
//! Back-pressure: a request stays in the ring until one of [`SLOTS`]
//! in-flight slots is free; the client waits for our notification. Nothing
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
use worknode_blkq::{Op, Queue, Request, Response, Status};

use worknode_driver_virtio_hal::{DmaHal, Region};

/// Channel ids generated from the rendered system.xml.
mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

/// The driver's one client (the log PD; in the bench profile, the
/// benchmark): its channel besides the interrupt and, on PCI boards, the
/// PCI PD's.
const CLIENT: Channel = Channel::new(worknode_driver_virtio_hal::client_channel(system::channel::ALL));
/// Requests in flight at once; each uses 3 descriptors.
const SLOTS: usize = 8;
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

/// One request in flight: which client request, which virtqueue token.
#[derive(Clone, Copy, Debug)]
struct InFlight {
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
    capacity: u64,
    can_flush: bool,
    irq: Channel,
    shared: &'static [AtomicU64],
    data: Region,
    private: Region,
    slots: [Option<InFlight>; SLOTS],
    /// Responses the ring had no room for; posted first next time.
    unposted: Vec<Response, SLOTS>,
    /// A response was posted since the client was last notified.
    posted: bool,
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
    let irq = Channel::new(*var!(irq_channel: usize = 0));
    worknode_driver_virtio_hal::set_regions(private, &[data], regs);

    let mut transport = find_device(regs);
    let negotiated = transport.begin_init(Features::FLUSH | Features::VERSION_1);
    let low: u32 = transport.read_config_space(0).expect("virtio-blk config space");
    let high: u32 = transport.read_config_space(4).expect("virtio-blk config space");
    let queue = VirtQueue::<DmaHal, QUEUE_SIZE>::new(&mut transport, 0, false, false)
        .unwrap_or_else(|e| panic!("virtqueue setup failed: {e:?}"));
    transport.finish_init();
    let capacity = u64::from(low) | u64::from(high) << 32;
    let can_flush = negotiated.contains(Features::FLUSH);
    debug_println!(
        "blk| {} sectors, flush {}",
        capacity,
        if can_flush { "supported" } else { "NOT supported" }
    );
    // SAFETY: the queue page is mapped read-write in this PD and the log PD
    // (system.xml), is 4 KiB and page-aligned, and both sides only ever
    // access it through these atomics.
    let shared =
        unsafe { core::slice::from_raw_parts(queue_vaddr as *const AtomicU64, worknode_blkq::WORDS) };
    worknode_blkq::publish_capacity(shared, capacity);
    CLIENT.notify();
    Driver {
        transport,
        queue,
        capacity,
        can_flush,
        irq,
        shared,
        data,
        private,
        slots: [None; SLOTS],
        unposted: Vec::new(),
        posted: false,
    }
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

    /// The client's data buffer for `r` (`None` for a flush), or why the
    /// request is invalid (`worknode_blkq::data_range`, tested on the host).
    /// virtio-drivers takes buffers as slices, so this is the one place the
    /// shared region becomes Rust references: one per request in flight,
    /// over ranges that never overlap (`submit` refuses a request that
    /// would overlap one in flight).
    fn buffer(&self, r: &Request) -> Result<Option<&'static mut [u8]>, Status> {
        let range = worknode_blkq::data_range(r, self.capacity, self.data.size as u64)?;
        // SAFETY: `data_range` checked the range lies inside the shared data
        // region; by the queue protocol the client leaves it alone until the
        // response is posted, and no other request in flight covers any of
        // it.
        Ok(range.map(|(offset, len)| unsafe {
            core::slice::from_raw_parts_mut((self.data.vaddr as u64 + offset) as *mut u8, len as usize)
        }))
    }

    fn post(&mut self, response: Response) {
        let queue = Queue::attach(self.shared).expect("attached before use");
        self.posted = true;
        if !self.unposted.is_empty() || queue.push_response(response).is_err() {
            // Room is guaranteed: `submit` keeps requests in flight plus
            // unposted responses at most SLOTS, and each response here
            // comes from one of them. A client that stops taking responses
            // therefore stalls its own requests; it cannot overflow this.
            self.unposted.push(response).expect("in flight + unposted <= SLOTS");
        }
    }

    /// Moves requests from the ring to the device while slots are free.
    fn submit(&mut self) {
        let Ok(queue) = Queue::attach(self.shared) else { return };
        let mut added = false;
        // Bounded by SLOTS + the ring capacity.
        while let Some(free) = self.slots.iter().position(Option::is_none) {
            let busy = self.slots.iter().filter(|s| s.is_some()).count();
            if busy + self.unposted.len() >= SLOTS {
                break;
            }
            let Some(next) = queue.pop_request() else { break };
            // A buffer in the data region, not shared with a request in
            // flight: the device gets each range for one request only.
            let admissible = |r: &Request| {
                self.buffer(r).is_ok()
                    && !worknode_blkq::overlaps_in_flight(r, self.slots.iter().flatten().map(|f| &f.request))
            };
            let request = match next {
                Ok(r) if admissible(&r) => r,
                Ok(r) => {
                    self.post(Response { id: r.id, status: Status::Invalid });
                    continue;
                }
                Err(id) => {
                    self.post(Response { id, status: Status::Invalid });
                    continue;
                }
            };
            if request.op == Op::Flush && !self.can_flush {
                self.post(Response { id: request.id, status: Status::Unsupported });
                continue;
            }
            let (header, status) = self.header_and_status(free);
            let kind = match request.op {
                Op::Read => VIRTIO_BLK_T_IN,
                Op::Write => VIRTIO_BLK_T_OUT,
                Op::Flush => VIRTIO_BLK_T_FLUSH,
            };
            header[0..4].copy_from_slice(&kind.to_le_bytes());
            header[4..8].fill(0);
            header[8..16].copy_from_slice(&request.sector.to_le_bytes());
            status[0] = 0xff;
            // SAFETY: header, status and the data buffer stay untouched
            // until the device returns this token (see `complete`).
            let token = unsafe {
                match (request.op, self.buffer(&request)) {
                    (Op::Write, Ok(Some(data))) => self.queue.add(&[header, data], &mut [status]),
                    (Op::Read, Ok(Some(data))) => self.queue.add(&[header], &mut [data, status]),
                    _ => self.queue.add(&[header], &mut [status]),
                }
            }
            .unwrap_or_else(|e| panic!("virtqueue refused a request with a free slot: {e:?}"));
            self.slots[free] = Some(InFlight { request, token });
            added = true;
        }
        if added && self.queue.should_notify() {
            self.transport.notify(0);
        }
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
            let buffer = self.buffer(&flight.request);
            // SAFETY: the same buffers that were passed to `add` for this token.
            let popped = unsafe {
                match (flight.request.op, buffer) {
                    (Op::Write, Ok(Some(data))) => self.queue.pop_used(token, &[header, data], &mut [status]),
                    (Op::Read, Ok(Some(data))) => self.queue.pop_used(token, &[header], &mut [data, status]),
                    _ => self.queue.pop_used(token, &[header], &mut [status]),
                }
            };
            let ok = popped.is_ok() && status[0] == 0;
            self.post(Response {
                id: flight.request.id,
                status: if ok { Status::Ok } else { Status::DeviceError },
            });
        }
    }

    fn flush_unposted(&mut self) {
        let Ok(queue) = Queue::attach(self.shared) else { return };
        // Bounded: at most SLOTS entries.
        while let Some(&first) = self.unposted.first() {
            if queue.push_response(first).is_err() {
                break;
            }
            self.unposted.remove(0);
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
        if core::mem::take(&mut self.posted) {
            CLIENT.notify();
        }
        Ok(())
    }
}
