//! The serial driver PD: the principal's console input.
//!
//! It owns the receive side of the board's UART (`uart.rs`), turns
//! received bytes into command lines (`worknode_abi::console::LineEditor`),
//! keeps up to [`QUEUED`] complete lines and notifies the governor, which
//! fetches them with `ConsoleRequest::ReadLine` calls. Output is not its
//! business: the console's output is the kernel's debug console.
//!
//! It sits above the governor (priority 110) because the governor calls it,
//! and Microkit allows calls only into higher priorities. It never calls
//! anyone.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod uart;

/// Channel ids generated from the rendered system.xml.
mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

use heapless::{Deque, String};
use sel4_microkit::{
    Channel, ChannelSet, Handler, Infallible, MessageInfo, debug_println, protection_domain, var,
};
use worknode_abi::ErrorCode;
use worknode_abi::console::{ConsoleReply, ConsoleRequest, ConsoleResponse, Edit, LineEditor, MAX_LINE};

use crate::uart::Uart;

/// Complete lines kept for the governor; a line beyond them is dropped and
/// the principal told.
const QUEUED: usize = 4;
/// Bytes drained per interrupt at most (the 16550 FIFO holds 16, the
/// PL011's 32); the rest raise the interrupt again.
const DRAIN: usize = 64;

#[protection_domain]
fn init() -> Serial {
    // SAFETY: system.xml maps the UART's register page at `uart_vaddr`,
    // uncached, for this PD alone (aarch64, riscv64), or gives it COM1's
    // I/O ports as `uart_ioport_id` (x86_64).
    #[allow(unsafe_code)]
    let uart = unsafe { Uart::open(*var!(uart_vaddr: usize = 0), *var!(uart_ioport_id: usize = 0)) };
    Serial {
        uart,
        editor: LineEditor::new(),
        lines: Deque::new(),
        irq: Channel::new(*var!(irq_channel: usize = 1)),
        governor: Channel::new(system::channel::GOVERNOR),
    }
}

impl Serial {
    /// Reads what the UART holds (at most [`DRAIN`] bytes) into lines;
    /// returns whether a line completed.
    fn drain(&mut self) -> bool {
        let mut complete = false;
        for _ in 0..DRAIN {
            let Some(byte) = self.uart.read_byte() else { break };
            match self.editor.feed(byte) {
                Edit::Pending => {}
                Edit::Line(line) => {
                    if self.lines.push_back(line).is_err() {
                        debug_println!("serial| {QUEUED} lines wait already; line dropped");
                    }
                    complete = true;
                }
                Edit::TooLong => debug_println!("serial| line longer than {MAX_LINE} bytes dropped"),
            }
        }
        complete
    }
}

struct Serial {
    uart: Uart,
    editor: LineEditor,
    lines: Deque<String<MAX_LINE>, QUEUED>,
    irq: Channel,
    governor: Channel,
}

impl Handler for Serial {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if !channels.contains(self.irq) {
            return Ok(());
        }
        let mut complete = self.drain();
        let _ = self.irq.irq_ack();
        // Bytes that arrived between the last read and the acknowledgement
        // raised no new edge (x86_64's IRQ 4 is edge triggered): read again.
        complete |= self.drain();
        if complete {
            self.governor.notify();
        }
        Ok(())
    }

    fn protected(&mut self, channel: Channel, info: MessageInfo) -> Result<MessageInfo, Self::Error> {
        let response: ConsoleResponse = if channel != self.governor {
            Err(ErrorCode::Denied)
        } else {
            match worknode_pd_ipc::receive::<ConsoleRequest>(&info) {
                Ok(ConsoleRequest::ReadLine) => Ok(match self.lines.pop_front() {
                    Some(text) => ConsoleReply::Line { text },
                    None => ConsoleReply::Empty,
                }),
                Err(e) => Err(e),
            }
        };
        Ok(worknode_pd_ipc::reply(&response))
    }
}
