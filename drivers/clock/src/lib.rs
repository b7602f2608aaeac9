//! A monotonic clock in nanoseconds since the clock was opened, for the
//! governor's leases and the timer PD (drivers/timer), which owns the
//! device and its comparator. The governor reads the counter itself, from
//! a read-only mapping: reading a clock needs no interrupt, so no call per
//! reading.
//!
//! The source per board (`cfg(clock)`, from tools/sysdesc `BOARDS`):
//! - aarch64 (`qemu_virt_aarch64`): the ARM generic timer's physical
//!   counter, `CNTPCT_EL0`, and its frequency, `CNTFRQ_EL0`. The Microkit
//!   kernel exports the physical counter to user level
//!   (`KernelArmExportPCNTUser`), so no device mapping is needed. (The
//!   virtual counter is not exported and traps.)
//! - riscv64 (`qemu_virt_riscv64`): the goldfish RTC at 0x101000, a
//!   nanosecond counter. The `time` CSR would do, but seL4 leaves
//!   `scounteren` clear, so reading it from user level traps.
//! - x86_64 (`x86_64_generic`): the HPET at 0xfed00000, whose main counter
//!   ticks at the period its capabilities register states. The TSC's
//!   frequency is unknown to a PD (seL4 keeps it in the boot info).
//!
//! Rejected: the timer PD answering "now" by protected call, which would
//! add a call to every gate decision (the gate's budget is two round
//! trips, issue 5). The timer PD serves timeouts, which need interrupts.

#![no_std]
#![deny(unsafe_code)]

/// See the module documentation. Its readings never go back: each is at
/// least the one before (a lease clock must be monotonic; the sources are,
/// when the board is set up right, and this holds even if one is not).
pub struct Clock {
    /// Where the clock device is mapped (unused on aarch64).
    #[allow(dead_code)]
    regs: usize,
    /// The raw reading at `open`, in nanoseconds.
    origin: u64,
    /// Nanoseconds per tick, in 32.32 fixed point.
    scale: u64,
    /// The latest reading handed out.
    last: core::cell::Cell<u64>,
}

impl Clock {
    /// Opens the clock. `regs` is the virtual address of the clock
    /// device's registers as `system.xml` maps them (uncached), or 0 on
    /// aarch64, which needs none.
    ///
    /// # Safety
    /// On riscv64 and x86_64, `regs` must be the address of a mapping of the
    /// goldfish RTC or HPET register page, which the caller does not use
    /// otherwise.
    #[allow(unsafe_code)]
    pub unsafe fn open(regs: usize) -> Clock {
        let mut clock = Clock { regs, origin: 0, scale: 0, last: core::cell::Cell::new(0) };
        clock.scale = clock.arch_scale();
        clock.origin = clock.raw_ns();
        clock
    }

    /// Nanoseconds since [`Clock::open`], never less than the last reading.
    pub fn now_ns(&self) -> u64 {
        let now = self.raw_ns().saturating_sub(self.origin).max(self.last.get());
        self.last.set(now);
        now
    }

    /// The raw device reading at which this clock reads `ns`, rounded up,
    /// so a comparator set to it never fires before the clock reads `ns`.
    pub fn ticks_at(&self, ns: u64) -> u64 {
        let raw_ns = u128::from(self.origin.saturating_add(ns));
        let scale = u128::from(self.scale);
        u64::try_from((raw_ns << 32).div_ceil(scale)).unwrap_or(u64::MAX)
    }

    /// Milliseconds since [`Clock::open`].
    pub fn now_ms(&self) -> u64 {
        self.now_ns() / 1_000_000
    }

    fn ticks_to_ns(&self, ticks: u64) -> u64 {
        ((u128::from(ticks) * u128::from(self.scale)) >> 32) as u64
    }
}

#[cfg(clock = "generic-timer")]
#[allow(unsafe_code)]
impl Clock {
    fn arch_scale(&self) -> u64 {
        let frequency: u64;
        // SAFETY: reading CNTFRQ_EL0 has no side effect; it is readable at
        // EL0 because the kernel enables EL0 access to the physical counter.
        unsafe { core::arch::asm!("mrs {}, cntfrq_el0", out(reg) frequency, options(nomem, nostack)) };
        assert!(frequency > 0, "the generic timer reports no frequency");
        ((1_000_000_000u128 << 32) / u128::from(frequency)) as u64
    }

    fn raw_ns(&self) -> u64 {
        let ticks: u64;
        // SAFETY: reading CNTPCT_EL0 has no side effect; the kernel exports
        // it to EL0 (KernelArmExportPCNTUser). The ISB keeps the read from
        // being hoisted above earlier instructions.
        unsafe { core::arch::asm!("isb", "mrs {}, cntpct_el0", out(reg) ticks, options(nomem, nostack)) };
        self.ticks_to_ns(ticks)
    }
}

#[cfg(clock = "goldfish-rtc")]
#[allow(unsafe_code)]
impl Clock {
    fn arch_scale(&self) -> u64 {
        1 << 32
    }

    /// One reading: TIME_LOW (offset 0), which latches TIME_HIGH (offset
    /// 4) for the next read of it.
    fn read_pair(&self) -> u64 {
        let base = self.regs as *const u32;
        // SAFETY: `open`'s contract: `regs` maps the goldfish RTC.
        let (low, high) = unsafe { (base.read_volatile(), base.add(1).read_volatile()) };
        (u64::from(high) << 32) | u64::from(low)
    }

    /// Two PDs read this RTC: the governor and the timer PD, which runs at
    /// a higher priority and can preempt the governor between the two
    /// halves of a reading. Its own reading then latches a later high
    /// half, which is one more than the governor's low half belongs with
    /// if the low half carried in between: a reading about 4.3 s ahead.
    /// A preempting reading comes after the carry, so the governor's next
    /// reading is whole: take a reading only when the one before it is at
    /// most 1 ms older. At most four tries (each torn reading needs
    /// another carry, 4.3 s later); then no reading (0), which `now_ns`
    /// turns into the last reading handed out.
    fn raw_ns(&self) -> u64 {
        let mut before = self.read_pair();
        for _ in 0..4 {
            let after = self.read_pair();
            if after.checked_sub(before).is_some_and(|d| d < 1_000_000) {
                // Already nanoseconds: the scale is one.
                return self.ticks_to_ns(after);
            }
            before = after;
        }
        0
    }
}

#[cfg(clock = "hpet")]
#[allow(unsafe_code)]
impl Clock {
    /// HPET registers (offsets in bytes).
    const CAPABILITIES: usize = 0x00;
    const CONFIGURATION: usize = 0x10;
    const MAIN_COUNTER: usize = 0xF0;

    fn arch_scale(&self) -> u64 {
        let base = self.regs as *mut u64;
        // SAFETY: `open`'s contract: `regs` maps the HPET, whose registers
        // are 64-bit and 8-byte aligned at these offsets.
        let capabilities = unsafe { base.byte_add(Self::CAPABILITIES).read_volatile() };
        let period_fs = capabilities >> 32;
        assert!(period_fs > 0 && period_fs <= 100_000_000, "HPET period {period_fs} fs out of range");
        // SAFETY: as above. The timer PD, the device's owner, starts the
        // main counter (ENABLE_CNF, bit 0) before any reader opens it (it
        // runs first, at a higher priority); the governor's mapping is
        // read-only.
        let config = unsafe { base.byte_add(Self::CONFIGURATION).read_volatile() };
        assert!(config & 1 != 0, "the HPET's counter is stopped: the timer PD starts it and must run first");
        // ns per tick = period_fs / 1e6, in 32.32 fixed point.
        ((u128::from(period_fs) << 32) / 1_000_000) as u64
    }

    fn raw_ns(&self) -> u64 {
        let base = self.regs as *const u64;
        // SAFETY: `open`'s contract: `regs` maps the HPET.
        let ticks = unsafe { base.byte_add(Self::MAIN_COUNTER).read_volatile() };
        self.ticks_to_ns(ticks)
    }
}

#[cfg(not(any(clock = "generic-timer", clock = "goldfish-rtc", clock = "hpet")))]
compile_error!("no clock source for this board (tools/sysdesc BOARDS)");
