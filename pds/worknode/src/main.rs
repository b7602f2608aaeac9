//! A worknode PD: one governed actor.
//!
//! Its only channel leads to the governor (seL4 enforces that; the system
//! description checker refuses anything else), so everything it does,
//! writing a console line included, is a request to the governor. For now it
//! follows the boot protocol of `worknode_abi::governor`: `Hello` from
//! `init`, then `Ready` when the governor's "start" notification arrives.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use sel4_microkit::{Channel, ChannelSet, Handler, Infallible, pd_name, protection_domain};
use worknode_abi::ErrorCode;
use worknode_abi::governor::{Reply, Request, log_text};

/// Channel ids generated from the rendered system.xml.
mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

const GOVERNOR: Channel = Channel::new(system::channel::GOVERNOR);

fn call(request: &Request<'_>) -> Result<Reply, ErrorCode> {
    worknode_pd_ipc::ask_governor(GOVERNOR, request)
}

/// Asks the governor to print a line for us. A refused line is not worth
/// failing for: the governor already knows why it refused.
macro_rules! log {
    ($($arg:tt)*) => {{
        let _ = call(&Request::Log { text: (&log_text(format_args!($($arg)*))).into() });
    }};
}

#[protection_domain]
fn init() -> Worknode {
    let name = pd_name().unwrap_or("worknode?");
    match call(&Request::Hello) {
        Ok(Reply::Welcome { worknode, children }) => {
            log!("welcomed by the governor as #{worknode} of {children}");
        }
        other => panic!("{name}: hello refused: {other:?}"),
    }
    Worknode { name }
}

struct Worknode {
    name: &'static str,
}

impl Handler for Worknode {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if !channels.contains(GOVERNOR) {
            log!("ignored notification on channels {}", channels.display());
            return Ok(());
        }
        match call(&Request::Ready) {
            Ok(Reply::Ack) => log!("start received, ready acknowledged"),
            other => panic!("{}: ready refused: {other:?}", self.name),
        }
        // One durable event per start, so every boot leaves a trace in the log.
        let event = b"started".as_slice().try_into().expect("a short event fits");
        match call(&Request::Record { event }) {
            Ok(Reply::Recorded { seq }) => log!("recorded 'started' as event {seq}"),
            Err(ErrorCode::NotFound) => log!("no event log on this node"),
            other => log!("record refused: {other:?}"),
        }
        Ok(())
    }
}
