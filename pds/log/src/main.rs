//! The log PD: the only owner of the node's event log.
//!
//! Glue over `worknode_log::service` (tested on the host): at start it
//! recovers the log from the disk (formatting a blank disk, refusing and
//! leaving untouched anything else) and notifies the governor that it is
//! ready; the governor asks for its status, which says whether there is a
//! log. Then it serves the governor's [`LogRequest`]s: `Append` and `Sync`
//! reply once the record's batch is written *and* flushed, so the governor
//! acknowledges nothing that is not durable.
//!
//! It prints nothing: it outranks the governor, so a line of its own could
//! cut into the middle of one of the governor's; the governor reports.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use sel4_microkit::{Channel, ChannelSet, Handler, Infallible, MessageInfo, protection_domain};
use worknode_abi::ErrorCode;
use worknode_abi::log::{LogRequest, LogResponse};
use worknode_driver_blk_client::QueueDisk;
use worknode_log::format::Owner;
use worknode_log::service::Service;

/// Channel ids generated from the rendered system.xml.
mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

const GOVERNOR: Channel = Channel::new(system::channel::GOVERNOR);
const DRIVER: Channel = Channel::new(system::channel::BLK);

#[protection_domain]
fn init() -> LogPd {
    // The event log is opened for this cluster, any node of it: this PD
    // cannot learn its node's number (it runs above the network PD and
    // cannot call it). On a node with a network the governor claims it for
    // its node before writing anything (`LogRequest::Claim`): another
    // node's log is then refused (docs/log-format.md, "The owner").
    let owner = Owner { cluster: system::network::CLUSTER_ID, node: Owner::ANY_NODE };
    let service = Service::start(QueueDisk::from_system(DRIVER), owner);
    GOVERNOR.notify();
    LogPd { service }
}

struct LogPd {
    service: Service<QueueDisk>,
}

impl Handler for LogPd {
    type Error = Infallible;

    fn protected(&mut self, channel: Channel, info: MessageInfo) -> Result<MessageInfo, Self::Error> {
        let response: LogResponse = if channel != GOVERNOR {
            Err(ErrorCode::Denied)
        } else {
            worknode_pd_ipc::receive::<LogRequest>(&info).and_then(|request| self.service.serve(&request))
        };
        Ok(worknode_pd_ipc::reply(&response))
    }

    fn notified(&mut self, _channels: ChannelSet) -> Result<(), Self::Error> {
        // The driver notifies once per batch of responses; the disk client
        // consumes responses as it waits, so a notification that arrives
        // after its response was taken finds nothing to do.
        Ok(())
    }
}
