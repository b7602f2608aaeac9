//! DMA for virtio-drivers in a Microkit PD: which physical address the
//! device must use for a buffer, and where queue memory comes from. Every
//! virtio driver PD (virtio-blk, virtio-net) uses it.
//!
//! A driver owns a private DMA region (virtqueue rings, request headers,
//! status bytes; the first [`RESERVED`] bytes are the driver's own, the
//! rest is handed out for virtqueues) and up to [`MAX_SHARED`] regions it
//! shares with its client (data buffers), all declared in system.xml with
//! `setvar region_paddr`, so their physical addresses are patched into the
//! binary by the Microkit tool. Translation is "offset within a region";
//! a buffer outside every region cannot be given to the device, and
//! asking for one is a bug in the driver, so it panics.
//!
//! Rejected alternative: an identity-mapped DMA pool. Microkit maps regions
//! at the virtual addresses the description chooses, not at their
//! physical ones, and the description is clearer when it says both.

#![no_std]

use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PhysAddr};

/// Finds the virtio-mmio device of type `kind` in the register window
/// `regs`. QEMU's `virt` machines place virtio-mmio slots 0x200 (aarch64)
/// or 0x1000 (riscv64) apart, so a page holds 8 slots or 1; qemu/ puts
/// each device in a slot of the page system.xml maps for its driver.
///
/// # Safety
/// `regs` must be a mapping, uncached and in this PD, of virtio-mmio
/// device registers, used by nothing else in this PD.
pub unsafe fn find_mmio(regs: Region, kind: DeviceType) -> Option<MmioTransport<'static>> {
    for offset in (0..regs.size).step_by(0x200) {
        let header = NonNull::new((regs.vaddr + offset) as *mut VirtIOHeader)?;
        // SAFETY: the caller's contract: [regs, regs + size) is the device
        // window, and offset + 0x200 stays inside it.
        if let Ok(transport) = unsafe { MmioTransport::new(header, 0x200) }
            && transport.device_type() == kind
        {
            return Some(transport);
        }
    }
    None
}

/// A region mapped at `vaddr` whose physical address is `paddr`.
#[derive(Clone, Copy, Debug)]
pub struct Region {
    /// Where the region is mapped in this PD.
    pub vaddr: usize,
    /// Its physical address, as the device sees it.
    pub paddr: usize,
    /// Its size in bytes.
    pub size: usize,
}

impl Region {
    /// The region at `vaddr`, physical address `paddr`, of `size` bytes.
    pub const fn new(vaddr: usize, paddr: usize, size: usize) -> Region {
        Region { vaddr, paddr, size }
    }

    fn translate(&self, vaddr: usize, len: usize) -> Option<PhysAddr> {
        let offset = vaddr.checked_sub(self.vaddr)?;
        (offset.checked_add(len)? <= self.size).then(|| (self.paddr + offset) as PhysAddr)
    }
}

/// Shared data regions a driver may have.
pub const MAX_SHARED: usize = 2;

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: [AtomicUsize; 3] = [AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0)];
static PRIVATE: [AtomicUsize; 3] = EMPTY;
static SHARED: [[AtomicUsize; 3]; MAX_SHARED] = [EMPTY; MAX_SHARED];
static REGISTERS: [AtomicUsize; 3] = EMPTY;
/// Bytes of the private region handed out so far (never freed: the driver
/// allocates its queue once at start).
static NEXT: AtomicUsize = AtomicUsize::new(0);
/// Bytes at the start of the private region the driver keeps for itself
/// (request headers, status bytes); virtqueues are allocated after them.
pub const RESERVED: usize = 4096;

fn store(cell: &[AtomicUsize; 3], r: Region) {
    cell[0].store(r.vaddr, Ordering::Relaxed);
    cell[1].store(r.paddr, Ordering::Relaxed);
    cell[2].store(r.size, Ordering::Relaxed);
}

fn load(cell: &[AtomicUsize; 3]) -> Region {
    Region {
        vaddr: cell[0].load(Ordering::Relaxed),
        paddr: cell[1].load(Ordering::Relaxed),
        size: cell[2].load(Ordering::Relaxed),
    }
}

/// Records the DMA regions and the device register window; call once
/// before creating a transport.
pub fn set_regions(private: Region, shared: &[Region], registers: Region) {
    assert!(shared.len() <= MAX_SHARED, "at most {MAX_SHARED} shared DMA regions");
    store(&PRIVATE, private);
    for (cell, region) in SHARED.iter().zip(shared) {
        store(cell, *region);
    }
    store(&REGISTERS, registers);
    NEXT.store(RESERVED, Ordering::Relaxed);
}

/// The HAL virtio-drivers calls into.
pub struct DmaHal;

// SAFETY: dma_alloc returns zeroed, page-aligned memory from a region that
// is mapped in this PD, whose physical address the device can use, and that
// nothing else allocates from; share() returns the physical address of the
// exact buffer passed in; nothing is ever freed, so no memory is reused
// while the device may still access it.
unsafe impl Hal for DmaHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let region = load(&PRIVATE);
        let len = pages * 4096;
        let start = NEXT.fetch_add(len, Ordering::Relaxed);
        assert!(start + len <= region.size, "private DMA region too small for the virtqueues");
        let vaddr = region.vaddr + start;
        // SAFETY: [vaddr, vaddr + len) lies inside the private DMA region
        // (checked above), which is mapped read-write in this PD and handed
        // out at most once.
        unsafe { core::ptr::write_bytes(vaddr as *mut u8, 0, len) };
        ((region.paddr + start) as PhysAddr, NonNull::new(vaddr as *mut u8).expect("region at address 0"))
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, _vaddr: NonNull<u8>, _pages: usize) -> i32 {
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, size: usize) -> NonNull<u8> {
        // virtio-pci asks for its capability windows inside the register
        // BAR, which the driver placed at the mapped window's address.
        let window = load(&REGISTERS);
        let offset = (paddr as usize).checked_sub(window.paddr).filter(|o| o + size <= window.size);
        let offset = offset
            .unwrap_or_else(|| panic!("device registers {paddr:#x}+{size} are not in the mapped window"));
        NonNull::new((window.vaddr + offset) as *mut u8).expect("window at address 0")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        let vaddr = buffer.cast::<u8>().as_ptr() as usize;
        let len = buffer.len();
        load(&PRIVATE)
            .translate(vaddr, len)
            .or_else(|| SHARED.iter().find_map(|cell| load(cell).translate(vaddr, len)))
            .unwrap_or_else(|| panic!("buffer {vaddr:#x}+{len} is not in a DMA region"))
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

/// The channel id of a driver's one client among its channels `all`
/// (peer name, id): every channel but the PCI PD's, which a driver of a
/// PCI device also has. Fails the build when there is not exactly one.
pub const fn client_channel(all: &[(&str, usize)]) -> usize {
    const fn is_pci(name: &str) -> bool {
        let b = name.as_bytes();
        b.len() == 3 && b[0] == b'p' && b[1] == b'c' && b[2] == b'i'
    }
    let mut found = usize::MAX;
    let mut i = 0;
    while i < all.len() {
        if !is_pci(all[i].0) {
            assert!(found == usize::MAX, "a driver serves exactly one client");
            found = all[i].1;
        }
        i += 1;
    }
    assert!(found != usize::MAX, "a driver serves exactly one client");
    found
}
