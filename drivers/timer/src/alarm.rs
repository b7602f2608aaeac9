//! The hardware comparator, per board (`cfg(clock)`, tools/sysdesc
//! `BOARDS`): an interrupt when the clock device's counter reaches a
//! value. One comparator serves every client; `worknode_timer` decides
//! which deadline it holds.
//!
//! - `generic-timer` (aarch64): the EL1 physical timer, `CNTP_CVAL_EL0`
//!   and `CNTP_CTL_EL0`. The kernel runs at EL2 with its own (hypervisor)
//!   timer and exports the EL1 physical timer to user level
//!   (`KernelArmExportPTMRUser`); its interrupt is PPI 14, INTID 30, level
//!   triggered while the counter is at or past the compare value.
//! - `goldfish-rtc` (riscv64): the RTC's alarm (ALARM_HIGH, then
//!   ALARM_LOW, which arms it), PLIC source 11. An alarm at or before the
//!   current time fires at once.
//! - `hpet` (x86_64): comparator 0 of the HPET in one-shot 64-bit mode,
//!   in legacy replacement mode, which routes it to ISA IRQ 0 (IOAPIC pin
//!   2) and disconnects the PIT from that line. QEMU's `pc` machine allows
//!   comparators no other route (its route capability is IRQ 2 only), and
//!   sharing the line with a running PIT would lose edges. The governor
//!   reads the HPET's main counter; this PD starts it (it runs first: its
//!   priority is higher).
//!
//! Each `set` replaces the compare value; `disarm` stops interrupts until
//! the next `set`; `acknowledge` clears a latched interrupt where the
//! device latches one.

#![allow(unsafe_code)]

/// The comparator.
pub struct Alarm {
    /// Where the device is mapped (unused on aarch64).
    #[allow(dead_code)]
    regs: usize,
}

#[cfg(clock = "generic-timer")]
pub const DEVICE: &str = "EL1 physical timer";

#[cfg(clock = "generic-timer")]
impl Alarm {
    /// # Safety
    /// None beyond the kernel exporting the timer; `regs` is unused.
    pub unsafe fn open(regs: usize) -> Alarm {
        let mut alarm = Alarm { regs };
        alarm.disarm();
        alarm
    }

    pub fn set(&mut self, ticks: u64) {
        // SAFETY: writes the EL1 physical timer's compare value, then
        // enables it with its interrupt unmasked (CTL = ENABLE); the kernel
        // exports these registers to EL0 and uses a different timer.
        unsafe {
            core::arch::asm!(
                "msr cntp_cval_el0, {cval}",
                "msr cntp_ctl_el0, {ctl}",
                "isb",
                cval = in(reg) ticks,
                ctl = in(reg) 1u64,
                options(nomem, nostack)
            );
        }
    }

    pub fn disarm(&mut self) {
        // SAFETY: disables the EL1 physical timer, which lowers its
        // interrupt; see `set`.
        unsafe { core::arch::asm!("msr cntp_ctl_el0, {}", "isb", in(reg) 0u64, options(nomem, nostack)) };
    }

    /// The interrupt is a level: it falls when `set` moves the compare
    /// value ahead or `disarm` disables the timer, so nothing to clear.
    pub fn acknowledge(&mut self) {}
}

#[cfg(clock = "goldfish-rtc")]
pub const DEVICE: &str = "goldfish RTC alarm";

#[cfg(clock = "goldfish-rtc")]
impl Alarm {
    const ALARM_LOW: usize = 0x08;
    const ALARM_HIGH: usize = 0x0c;
    const IRQ_ENABLED: usize = 0x10;
    const CLEAR_ALARM: usize = 0x14;
    const CLEAR_INTERRUPT: usize = 0x1c;

    fn write(&self, offset: usize, value: u32) {
        // SAFETY: `open`'s contract: `regs` maps the goldfish RTC's page,
        // and these offsets are its 32-bit alarm registers.
        unsafe { ((self.regs + offset) as *mut u32).write_volatile(value) };
    }

    /// # Safety
    /// `regs` maps the goldfish RTC's register page, uncached, and no other
    /// PD writes it.
    pub unsafe fn open(regs: usize) -> Alarm {
        let mut alarm = Alarm { regs };
        alarm.disarm();
        alarm.acknowledge();
        alarm.write(Self::IRQ_ENABLED, 1);
        alarm
    }

    pub fn set(&mut self, ticks: u64) {
        self.write(Self::ALARM_HIGH, (ticks >> 32) as u32);
        self.write(Self::ALARM_LOW, ticks as u32);
    }

    pub fn disarm(&mut self) {
        self.write(Self::CLEAR_ALARM, 1);
    }

    pub fn acknowledge(&mut self) {
        self.write(Self::CLEAR_INTERRUPT, 1);
    }
}

#[cfg(clock = "hpet")]
pub const DEVICE: &str = "HPET comparator 0";

#[cfg(clock = "hpet")]
impl Alarm {
    const CONFIGURATION: usize = 0x10;
    const INTERRUPT_STATUS: usize = 0x20;
    const TIMER0_CONFIG: usize = 0x100;
    const TIMER0_COMPARATOR: usize = 0x108;
    /// General configuration: counter running, legacy replacement routes.
    const ENABLE: u64 = 1 << 0;
    const LEGACY_ROUTES: u64 = 1 << 1;
    /// Timer configuration: interrupt enabled; 64-bit capable.
    const INT_ENABLE: u64 = 1 << 2;
    const SIZE_64: u64 = 1 << 5;

    fn read(&self, offset: usize) -> u64 {
        // SAFETY: `open`'s contract: `regs` maps the HPET's page; its
        // registers are 64-bit and 8-byte aligned at these offsets.
        unsafe { ((self.regs + offset) as *const u64).read_volatile() }
    }

    fn write(&self, offset: usize, value: u64) {
        // SAFETY: as in `read`.
        unsafe { ((self.regs + offset) as *mut u64).write_volatile(value) };
    }

    /// # Safety
    /// `regs` maps the HPET's register page, uncached, and no other PD
    /// writes it.
    pub unsafe fn open(regs: usize) -> Alarm {
        let alarm = Alarm { regs };
        assert!(
            alarm.read(Self::TIMER0_CONFIG) & Self::SIZE_64 != 0,
            "HPET comparator 0 is not 64-bit capable"
        );
        // One-shot, edge, 64-bit, interrupt off until the first `set`;
        // counter running, legacy replacement routes.
        alarm.write(Self::TIMER0_CONFIG, 0);
        let general = alarm.read(Self::CONFIGURATION);
        alarm.write(Self::CONFIGURATION, general | Self::ENABLE | Self::LEGACY_ROUTES);
        alarm
    }

    pub fn set(&mut self, ticks: u64) {
        self.write(Self::TIMER0_COMPARATOR, ticks);
        self.write(Self::TIMER0_CONFIG, Self::INT_ENABLE);
    }

    pub fn disarm(&mut self) {
        self.write(Self::TIMER0_CONFIG, 0);
    }

    /// Edge-triggered: nothing latches but the status bit, cleared here
    /// (writing 1 clears it).
    pub fn acknowledge(&mut self) {
        self.write(Self::INTERRUPT_STATUS, 1);
    }
}

#[cfg(not(any(clock = "generic-timer", clock = "goldfish-rtc", clock = "hpet")))]
compile_error!("no comparator for this board (tools/sysdesc BOARDS)");
