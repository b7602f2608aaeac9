//! Memory a PD shares with a device (by DMA) or with another PD (a
//! driver), reached only by copies.
//!
//! Such memory changes behind the compiler's back, so it is never a Rust
//! reference here (a `&mut [u8]` would promise the compiler nothing else
//! changes it): [`SharedRegion`] copies in and out through raw pointers,
//! and the orderings of the queue that hands a buffer over (its release
//! and acquire) put the copies before the handover and after it.
#![no_std]

use core::ptr::NonNull;
use core::sync::atomic::AtomicU64;

use worknode_netq::messages::{Layout, RINGS_LEN};

/// Memory shared with a device (and its driver): reached only by copies.
pub struct SharedRegion {
    base: NonNull<u8>,
    len: usize,
}

impl SharedRegion {
    /// The region of `len` bytes at `vaddr`.
    ///
    /// # Safety
    /// `[vaddr, vaddr + len)` must be mapped read-write in this PD for as
    /// long as the region is used, and nothing in this PD may reach it
    /// other than through this value.
    pub unsafe fn new(vaddr: usize, len: usize) -> SharedRegion {
        let base = NonNull::new(vaddr as *mut u8).expect("a shared region at address 0");
        SharedRegion { base, len }
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies `data` in at `offset`; panics if it does not fit (a bug here,
    /// not an input).
    pub fn copy_in(&self, offset: usize, data: &[u8]) {
        assert!(offset.checked_add(data.len()).is_some_and(|end| end <= self.len), "copy outside the region");
        // SAFETY: the range is inside the region (checked above), which
        // `new`'s contract maps read-write; `data` is ordinary memory, so
        // the two do not overlap.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), self.base.as_ptr().add(offset), data.len()) }
    }

    /// Copies `out.len()` bytes out from `offset`; panics if they are not
    /// all inside.
    pub fn copy_out(&self, offset: usize, out: &mut [u8]) {
        assert!(offset.checked_add(out.len()).is_some_and(|end| end <= self.len), "copy outside the region");
        // SAFETY: as for `copy_in`, reading instead of writing.
        unsafe { core::ptr::copy_nonoverlapping(self.base.as_ptr().add(offset), out.as_mut_ptr(), out.len()) }
    }
}

/// The message queues in the region of `len` bytes at `vaddr` (shared
/// with the network PD, `worknode_netq::messages`): the rings' words and
/// the region, through which only the buffers after the rings are reached.
/// `None` if the region is too small to hold a buffer each way.
///
/// # Safety
/// As for [`SharedRegion::new`]; `vaddr` is page-aligned, and the rings'
/// words are reached only atomically (here and in the other PD).
pub unsafe fn message_queues(vaddr: usize, len: usize) -> Option<(&'static [AtomicU64], SharedRegion)> {
    Layout::of(len)?;
    assert!(vaddr.is_multiple_of(4096), "a region starts on a page");
    // SAFETY: the caller's contract: mapped, page-aligned (so aligned for
    // u64), at least RINGS_LEN bytes (Layout::of), reached atomically.
    let words = unsafe { core::slice::from_raw_parts(vaddr as *const AtomicU64, RINGS_LEN / 8) };
    // SAFETY: the caller's contract; the queues reach the buffers only
    // through this value, and never the rings' bytes.
    Some((words, unsafe { SharedRegion::new(vaddr, len) }))
}

/// A region shared between two PDs carries message queues
/// (`worknode_netq::messages`: a client and the network PD).
impl worknode_netq::messages::Data for SharedRegion {
    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn read(&self, offset: usize, out: &mut [u8]) {
        self.copy_out(offset, out);
    }

    fn write(&self, offset: usize, data: &[u8]) {
        self.copy_in(offset, data);
    }
}
