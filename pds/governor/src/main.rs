//! The governor PD: parent of every worknode and the only PD they can reach.
//!
//! Glue. seL4 events (protected calls, notifications, child faults) become
//! inputs of the governor core ([`worknode_governor::Governor`]), and its
//! effects become seL4 calls: appends and reads on the log PD, console
//! lines, notifications, stopping and starting child threads, mail
//! through the network PD on nodes that have one, and Strong events
//! through the queue to the Raft PD on cluster nodes ([`Kernel`], its
//! [`World`]). What happens, and in which order, is the
//! core's, tested on the host (`runtime/governor`).

#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod fault;

use core::fmt;

use heapless::{String, Vec};
use sel4_microkit::{
    Channel, ChannelSet, Child, Handler, Infallible, MessageInfo, debug_println, protection_domain,
};
use static_cell::StaticCell;
use worknode_abi::ErrorCode;
use worknode_abi::bounded::Bytes;
use worknode_abi::console::{ConsoleReply, ConsoleRequest, ConsoleResponse, MAX_LINE};
use worknode_abi::governor::MAX_EVENT;
use worknode_abi::log::{LogReply, LogRequest, LogResponse, MAX_RECORD, Room};
use worknode_abi::net::{MAX_NET_BODY, NetReply, NetRequest, NetResponse};
use worknode_authority::Actions;
use worknode_driver_clock::Clock;
use worknode_driver_shared_region::{SharedRegion, message_queues};
use worknode_governor::limits::MAX_CHILDREN;
use worknode_governor::world::MAX_ARRIVED;
use worknode_governor::{ChildSpec, Config, Governor, LogStatus, World};
use worknode_netq::messages::{self, Client};

/// Channel ids and the child table, generated from the rendered system.xml.
mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

/// The channel to `peer`, if the system has one.
fn channel_to(peer: &str) -> Option<usize> {
    system::channel::ALL.iter().find(|(p, _)| *p == peer).map(|&(_, id)| id)
}

#[protection_domain]
fn init() -> Pd {
    let specs: Vec<ChildSpec, MAX_CHILDREN> = system::CHILDREN
        .iter()
        .map(|&(name, child_id, channel)| ChildSpec { name, child_id, channel })
        .collect();
    let config = Config {
        log: channel_to("log"),
        serial: channel_to("serial"),
        net: channel_to("net"),
        raft: channel_to("raft"),
        // On a cluster node, also `read` on its own resource: the
        // cluster's Strong events (`ReadStrong`), which every worknode of
        // the cluster writes to and may read, as the principal may revoke.
        boot: match channel_to("raft") {
            Some(_) => Actions::LOG.with(Actions::RECORD).with(Actions::READ),
            None => Actions::LOG.with(Actions::RECORD),
        },
        print_records: !cfg!(feature = "gate-bench"),
    };
    // The description was checked when it was rendered; a failure here means
    // the image and the description disagree, which no runtime action fixes.
    let governor = Governor::new(&specs, config)
        .unwrap_or_else(|e| panic!("the system description cannot be governed: {e:?}"));
    // SAFETY: system.xml maps the clock device (goldfish RTC, HPET) at
    // `clock_vaddr`, uncached and read-only; its one writer is the timer
    // PD (the checker's rule 9 refuses any other); the generic timer
    // needs none.
    #[allow(unsafe_code)]
    let clock = unsafe { Clock::open(*sel4_microkit::var!(clock_vaddr: usize = 0)) };
    let kernel = Kernel {
        log: config.log.map(Channel::new),
        serial: config.serial.map(Channel::new),
        net: config.net.map(Channel::new),
        raft: config.raft.map(Channel::new),
        strong: strong_queues(),
        records: 0,
    };
    if let (Some(raft), Some(_)) = (kernel.raft, &kernel.strong) {
        // The Raft PD attaches to the queues at its next pass.
        raft.notify();
    }
    let mut pd = Pd { governor, kernel, clock };
    pd.governor.init(&mut pd.kernel);
    pd
}

/// The message queues to the Raft PD, in `strong_queue`, on a cluster
/// node (initialised here: the governor is the queues' client).
fn strong_queues() -> Option<Client<'static, SharedRegion>> {
    static REGION: StaticCell<SharedRegion> = StaticCell::new();
    let &(_, vaddr, size) = system::region::ALL.iter().find(|(name, ..)| *name == "strong_queue")?;
    // SAFETY: system.xml maps `strong_queue` read-write here and in the
    // Raft PD, at a page boundary, with this size; this PD reaches it
    // only through the queues.
    #[allow(unsafe_code)]
    let (words, region) = unsafe { message_queues(vaddr, size) }.expect("strong_queue holds message queues");
    Some(Client::init(words, REGION.init(region)).expect("the region holds the rings"))
}

struct Pd {
    governor: Governor,
    kernel: Kernel,
    clock: Clock,
}

/// The governor core's world, in seL4 calls.
struct Kernel {
    log: Option<Channel>,
    serial: Option<Channel>,
    net: Option<Channel>,
    raft: Option<Channel>,
    /// The queues of Strong events to the Raft PD.
    strong: Option<Client<'static, SharedRegion>>,
    /// Audit records a `gate-bench` build kept in memory.
    #[cfg_attr(not(feature = "gate-bench"), allow(dead_code))]
    records: u64,
}

impl Kernel {
    fn ask_log(&self, request: &LogRequest) -> Result<LogReply, ErrorCode> {
        let log = self.log.ok_or(ErrorCode::NotFound)?;
        worknode_pd_ipc::call::<LogRequest, LogResponse>(log, request).and_then(|response| response)
    }

    /// Asks the network PD; the reply borrows from `buf`.
    fn ask_net<'b>(
        &self,
        request: &NetRequest,
        buf: &'b mut worknode_pd_ipc::FrameBuf,
    ) -> Result<NetReply<'b>, ErrorCode> {
        let net = self.net.ok_or(ErrorCode::NotFound)?;
        worknode_pd_ipc::call_borrowed::<NetRequest, NetResponse>(net, request, buf)
            .and_then(|response| response)
    }

    /// Notifies the Raft PD if it asked to hear of what this end pushed.
    fn nudge_raft(&mut self) {
        if let (Some(raft), Some(queues)) = (self.raft, self.strong.as_mut())
            && queues.take_notification()
        {
            raft.notify();
        }
    }
}

impl World for Kernel {
    #[cfg(not(feature = "gate-bench"))]
    fn append(&mut self, record: &[u8], room: Room) -> Result<u64, ErrorCode> {
        let payload = Vec::from_slice(record).map_err(|_| ErrorCode::TooLarge)?;
        let request = match room {
            Room::Ordinary => LogRequest::Append { payload },
            Room::Reserved => LogRequest::AppendReserved { payload },
        };
        match self.ask_log(&request)? {
            LogReply::Appended { seq, durable } if durable >= seq => Ok(seq),
            _ => Err(ErrorCode::Internal),
        }
    }

    /// A `gate-bench` build keeps its records in memory: the measure is the
    /// gate, not the disk (see Cargo.toml).
    #[cfg(feature = "gate-bench")]
    #[inline(always)]
    fn append(&mut self, record: &[u8], _room: Room) -> Result<u64, ErrorCode> {
        core::hint::black_box(record);
        self.records += 1;
        Ok(self.records)
    }

    fn append_later(&mut self, record: &[u8]) -> Result<u64, ErrorCode> {
        let payload = Vec::from_slice(record).map_err(|_| ErrorCode::TooLarge)?;
        match self.ask_log(&LogRequest::AppendLater { payload })? {
            LogReply::Appended { seq, .. } => Ok(seq),
            _ => Err(ErrorCode::Internal),
        }
    }

    fn sync(&mut self) -> Result<u64, ErrorCode> {
        match self.ask_log(&LogRequest::Sync)? {
            LogReply::Synced { durable } => Ok(durable),
            _ => Err(ErrorCode::Internal),
        }
    }

    fn log_status(&mut self) -> Result<LogStatus, ErrorCode> {
        match self.ask_log(&LogRequest::Status)? {
            LogReply::Status { recovered, log_id, .. } => Ok(LogStatus { recovered, log_id }),
            _ => Err(ErrorCode::Internal),
        }
    }

    fn log_claim(&mut self) -> Result<(), ErrorCode> {
        let mut buf = worknode_pd_ipc::FrameBuf::new();
        let node = match self.ask_net(&NetRequest::Status, &mut buf)? {
            NetReply::Status { node, .. } => node,
            _ => return Err(ErrorCode::Internal),
        };
        match self.ask_log(&LogRequest::Claim { node: u16::from(node) })? {
            LogReply::Claimed => Ok(()),
            _ => Err(ErrorCode::Internal),
        }
    }

    fn read_record(&mut self, seq: u64) -> Result<Vec<u8, MAX_RECORD>, ErrorCode> {
        match self.ask_log(&LogRequest::Read { seq })? {
            LogReply::Record { payload, .. } => Ok(payload),
            _ => Err(ErrorCode::Internal),
        }
    }

    fn console_line(&mut self) -> Result<Option<String<MAX_LINE>>, ErrorCode> {
        let serial = self.serial.ok_or(ErrorCode::NotFound)?;
        match worknode_pd_ipc::call::<ConsoleRequest, ConsoleResponse>(serial, &ConsoleRequest::ReadLine)?? {
            ConsoleReply::Line { text } => Ok(Some(text)),
            ConsoleReply::Empty => Ok(None),
        }
    }

    fn print(&mut self, line: fmt::Arguments<'_>) {
        debug_println!("{line}");
    }

    fn notify(&mut self, channel: usize) {
        Channel::new(channel).notify();
    }

    fn stop(&mut self, child_id: usize) -> Result<(), ErrorCode> {
        Child::new(child_id).tcb().tcb_suspend().map_err(|_| ErrorCode::Internal)
    }

    fn start(&mut self, child_id: usize) -> Result<(), ErrorCode> {
        Child::new(child_id).tcb().tcb_resume().map_err(|_| ErrorCode::Internal)
    }

    fn net_open(&mut self, node: u8) -> Result<bool, ErrorCode> {
        if usize::from(node) >= system::network::NODES {
            return Err(ErrorCode::NotFound);
        }
        let mut buf = worknode_pd_ipc::FrameBuf::new();
        match self.ask_net(&NetRequest::Status, &mut buf)? {
            NetReply::Status { node: me, .. } if me == node => Err(ErrorCode::NotFound),
            NetReply::Status { connected, .. } => Ok(connected & (1 << node) != 0),
            _ => Err(ErrorCode::Internal),
        }
    }

    fn net_send(&mut self, node: u8, mail: &[u8]) -> Result<(), ErrorCode> {
        let body = Bytes::new(mail).map_err(|_| ErrorCode::TooLarge)?;
        let mut buf = worknode_pd_ipc::FrameBuf::new();
        match self.ask_net(&NetRequest::Send { to: node, body }, &mut buf)? {
            NetReply::Sent { .. } => Ok(()),
            _ => Err(ErrorCode::Internal),
        }
    }

    fn net_receive(&mut self) -> Result<Option<(u8, Vec<u8, MAX_NET_BODY>)>, ErrorCode> {
        let mut buf = worknode_pd_ipc::FrameBuf::new();
        match self.ask_net(&NetRequest::Receive, &mut buf)? {
            NetReply::Message { from, body, .. } => {
                Ok(Some((from, Vec::from_slice(&body).map_err(|_| ErrorCode::TooLarge)?)))
            }
            NetReply::Empty => Ok(None),
            _ => Err(ErrorCode::Internal),
        }
    }

    fn strong_room(&mut self) -> bool {
        self.strong.as_ref().is_some_and(|q| q.free_buffers() > 0)
    }

    fn strong_send(&mut self, to: u8, message: &[u8]) -> Result<(), ErrorCode> {
        let queues = self.strong.as_mut().ok_or(ErrorCode::NotFound)?;
        queues.send(to, message).map_err(|e| match e {
            worknode_netq::QueueError::Full => ErrorCode::Exhausted,
            _ => ErrorCode::Internal,
        })?;
        self.nudge_raft();
        // Its answer and outcome will come: ask to hear of them (the
        // governor may not have waited on these rings since it last read).
        let _ = self.strong.as_ref().map(|q| q.want_notifications());
        Ok(())
    }

    fn strong_taken(&mut self, taken: &mut dyn FnMut(Result<u64, ErrorCode>)) {
        let Some(queues) = self.strong.as_mut() else { return };
        // A broken ring (the Raft PD's bug) leaves the buffers out: the
        // governor's Strong events then wait, and nothing else does.
        let _ = queues.reclaim(|outcome| match outcome {
            messages::Outcome::Sent { seq, .. } => taken(Ok(seq)),
            messages::Outcome::Refused { error, .. } => taken(Err(error)),
        });
    }

    fn strong_arrived(&mut self) -> Result<Option<(u8, Vec<u8, MAX_ARRIVED>)>, ErrorCode> {
        let queues = self.strong.as_mut().ok_or(ErrorCode::NotFound)?;
        let mut body = [0u8; worknode_abi::net::MAX_QUEUED_BODY];
        let arrived = queues.receive(&mut body).map_err(|_| ErrorCode::Internal)?;
        self.nudge_raft();
        match arrived {
            // A message too long to be one is passed on as an empty one,
            // which does not decode. Its kind is its header's `peer`.
            Some(a) => Ok(Some((a.from, Vec::from_slice(&body[..a.len]).unwrap_or_default()))),
            None => Ok(None),
        }
    }

    fn strong_wait(&mut self) -> bool {
        self.nudge_raft();
        self.strong.as_ref().is_none_or(|q| q.want_notifications())
    }
}

impl Handler for Pd {
    type Error = Infallible;

    fn protected(&mut self, channel: Channel, info: MessageInfo) -> Result<MessageInfo, Self::Error> {
        #[cfg(feature = "gate-bench")]
        if info.count() == 0 && info.label() <= 1 {
            return Ok(bench_answer(&info, &self.clock));
        }
        let now = self.clock.now_ms();
        let mut frame = worknode_pd_ipc::FrameBuf::new();
        let received = worknode_pd_ipc::receive_frame(&info, &mut frame);
        let reply = self.governor.call(&mut self.kernel, channel.index(), received, now);
        Ok(worknode_pd_ipc::reply(&reply))
    }

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        let mask = channels.iter().fold(0u64, |mask, c| mask | (1u64 << c.index()));
        self.governor.notified(&mut self.kernel, mask, self.clock.now_ms());
        Ok(())
    }

    fn fault(&mut self, child: Child, info: MessageInfo) -> Result<Option<MessageInfo>, Self::Error> {
        let mut description: String<MAX_EVENT> = String::new();
        let _ = fmt::write(&mut description, format_args!("{}", fault::Describe(&info.fault())));
        self.governor.fault(&mut self.kernel, child.index(), &description, self.clock.now_ms());
        // No reply: the child was stopped, which cancels its fault reply.
        Ok(None)
    }
}

/// `make bench-gate`'s raw round trip and its clock (see Cargo.toml): an
/// empty call (label 0) is answered empty before anything looks at it; a
/// call with label 1 is answered with the clock's reading in nanoseconds
/// as the label, so the benchmark times itself without a clock of its own.
#[cfg(feature = "gate-bench")]
fn bench_answer(info: &MessageInfo, clock: &Clock) -> MessageInfo {
    match info.label() {
        0 => MessageInfo::new(0, 0),
        // Labels carry 52 bits: 52 days of nanoseconds.
        _ => MessageInfo::new(clock.now_ns() & ((1 << 52) - 1), 0),
    }
}
