//! The UART's receive side, per board (`cfg(uart)`, tools/sysdesc `BOARDS`):
//! a PL011 on `qemu_virt_aarch64`, a 16550 on `qemu_virt_riscv64`
//! (memory mapped) and on `x86_64_generic` (COM1, through I/O ports).
//! Transmission stays with the kernel's debug console, which every PD
//! prints through; this driver never writes a character.

/// The receive side of the board's UART.
pub struct Uart {
    #[allow(dead_code)]
    base: usize,
}

#[cfg(uart = "pl011")]
#[allow(unsafe_code)]
impl Uart {
    const DR: usize = 0x00;
    const FR: usize = 0x18;
    const IMSC: usize = 0x38;
    const FR_RXFE: u32 = 1 << 4;
    const RX_INTERRUPTS: u32 = (1 << 4) | (1 << 6); // RXIM, RTIM

    /// Opens the PL011 mapped at `base` and unmasks its receive interrupts.
    ///
    /// # Safety
    /// `base` maps the PL011's register page, uncached.
    pub unsafe fn open(base: usize, _ioport: usize) -> Uart {
        let uart = Uart { base };
        // SAFETY: the caller's contract; IMSC only gates interrupts.
        unsafe { uart.write(Self::IMSC, uart.read(Self::IMSC) | Self::RX_INTERRUPTS) };
        uart
    }

    /// The next received byte, if any. Reading the data register clears
    /// the receive interrupt once the FIFO is empty. Rejected: clearing it
    /// through ICR after finding the FIFO empty, which races with a byte
    /// arriving in between: its interrupt was cleared unseen, and with the
    /// FIFO off no further byte could arrive, so the console went deaf
    /// (seen once in a QEMU test on aarch64).
    pub fn read_byte(&mut self) -> Option<u8> {
        // SAFETY: `open`'s contract.
        unsafe { (self.read(Self::FR) & Self::FR_RXFE == 0).then(|| self.read(Self::DR) as u8) }
    }

    unsafe fn read(&self, offset: usize) -> u32 {
        // SAFETY: the caller holds `open`'s contract; offsets are in the page.
        unsafe { ((self.base + offset) as *const u32).read_volatile() }
    }

    unsafe fn write(&self, offset: usize, value: u32) {
        // SAFETY: as for `read`.
        unsafe { ((self.base + offset) as *mut u32).write_volatile(value) }
    }
}

/// 16550 registers (byte offsets; register shift 0).
#[cfg(any(uart = "ns16550-mmio", uart = "ns16550-ioport"))]
mod ns16550 {
    pub const RBR: usize = 0;
    pub const IER: usize = 1;
    pub const MCR: usize = 4;
    pub const LSR: usize = 5;
    pub const IER_RX: u8 = 1;
    /// OUT2 gates the UART's interrupt line on PC-compatible boards.
    pub const MCR_OUT2: u8 = 1 << 3;
    pub const LSR_DATA_READY: u8 = 1;
}

#[cfg(uart = "ns16550-mmio")]
#[allow(unsafe_code)]
impl Uart {
    /// Opens the 16550 mapped at `base` and enables its receive interrupt.
    ///
    /// # Safety
    /// `base` maps the 16550's register page, uncached.
    pub unsafe fn open(base: usize, _ioport: usize) -> Uart {
        let uart = Uart { base };
        // SAFETY: the caller's contract.
        unsafe {
            uart.write(ns16550::IER, ns16550::IER_RX);
            uart.write(ns16550::MCR, uart.read(ns16550::MCR) | ns16550::MCR_OUT2);
        }
        uart
    }

    /// The next received byte, if any.
    pub fn read_byte(&mut self) -> Option<u8> {
        // SAFETY: `open`'s contract.
        unsafe { (self.read(ns16550::LSR) & ns16550::LSR_DATA_READY != 0).then(|| self.read(ns16550::RBR)) }
    }

    unsafe fn read(&self, offset: usize) -> u8 {
        // SAFETY: the caller holds `open`'s contract.
        unsafe { ((self.base + offset) as *const u8).read_volatile() }
    }

    unsafe fn write(&self, offset: usize, value: u8) {
        // SAFETY: as for `read`.
        unsafe { ((self.base + offset) as *mut u8).write_volatile(value) }
    }
}

#[cfg(uart = "ns16550-ioport")]
impl Uart {
    /// COM1's first port.
    const COM1: u16 = 0x3F8;
    /// First Microkit I/O port capability slot (libmicrokit's BASE_IOPORT_CAP).
    const BASE_IOPORT_CAP: u64 = 394;

    /// Opens COM1 through the Microkit I/O port capability `ioport` and
    /// enables its receive interrupt.
    ///
    /// # Safety
    /// `ioport` is the id of an `ioport` element covering COM1.
    #[allow(unsafe_code)]
    pub unsafe fn open(_base: usize, ioport: usize) -> Uart {
        let uart = Uart { base: ioport };
        uart.out8(ns16550::IER, ns16550::IER_RX);
        uart.out8(ns16550::MCR, uart.in8(ns16550::MCR) | ns16550::MCR_OUT2);
        uart
    }

    /// The next received byte, if any.
    pub fn read_byte(&mut self) -> Option<u8> {
        (self.in8(ns16550::LSR) & ns16550::LSR_DATA_READY != 0).then(|| self.in8(ns16550::RBR))
    }

    fn cap(&self) -> u64 {
        Self::BASE_IOPORT_CAP + self.base as u64
    }

    fn in8(&self, offset: usize) -> u8 {
        let port = Self::COM1 + offset as u16;
        let ret = sel4::with_ipc_buffer_mut(|ib| ib.inner_mut().seL4_X86_IOPort_In8(self.cap(), port));
        assert_eq!(ret.error, 0, "I/O port read refused: system.xml must give the serial PD COM1");
        ret.result
    }

    fn out8(&self, offset: usize, value: u8) {
        let port = Self::COM1 + offset as u16;
        let error = sel4::with_ipc_buffer_mut(|ib| {
            ib.inner_mut().seL4_X86_IOPort_Out8(self.cap(), u64::from(port), u64::from(value))
        });
        assert_eq!(error, 0, "I/O port write refused: system.xml must give the serial PD COM1");
    }
}
