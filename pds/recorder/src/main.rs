//! A test-profile worknode that records events as fast as the gate lets it.
//!
//! The QEMU crash test (`worknode-qemu crash`) kills QEMU while this PD is
//! recording, boots again on the same disk, and checks that every event the
//! governor acknowledged (`recorded recorder seq=N` on the console) was
//! recovered. It records [`EVENTS`] events per boot, then stops.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use sel4_microkit::{Channel, ChannelSet, Handler, Infallible, protection_domain};
use worknode_abi::ErrorCode;
use worknode_abi::governor::{Reply, Request, log_text};

mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

const GOVERNOR: Channel = Channel::new(system::channel::GOVERNOR);
/// Events per boot: enough to outlast the crash test's kill window.
const EVENTS: u32 = 20_000;

fn call(request: &Request<'_>) -> Result<Reply, ErrorCode> {
    worknode_pd_ipc::ask_governor(GOVERNOR, request)
}

#[protection_domain]
fn init() -> Recorder {
    match call(&Request::Hello) {
        Ok(Reply::Welcome { .. }) => Recorder,
        other => panic!("recorder: hello refused: {other:?}"),
    }
}

struct Recorder;

impl Handler for Recorder {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if !channels.contains(GOVERNOR) {
            return Ok(());
        }
        if let Err(e) = call(&Request::Ready) {
            panic!("recorder: ready refused: {e:?}");
        }
        let _ = call(&Request::Log {
            text: (&log_text(format_args!("start received, ready acknowledged"))).into(),
        });
        for k in 0..EVENTS {
            let text = log_text(format_args!("recorder event {k}"));
            let event = text.as_bytes().try_into().expect("event text fits");
            if let Err(e) = call(&Request::Record { event }) {
                let _ =
                    call(&Request::Log { text: (&log_text(format_args!("record {k} refused: {e}"))).into() });
                break;
            }
        }
        Ok(())
    }
}
