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
