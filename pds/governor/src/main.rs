//! The governor PD: parent of every worknode and the only PD they can reach.
//!
//! This file is glue. seL4 events (protected calls, notifications, child
//! faults) become calls on [`worknode_governor::Roster`]; its
//! [`Outcome`]s become replies, notifications and console lines. The
//! decisions are made, and tested, in `runtime/governor`.
//!
//! Console lines start with `governor|` (or the name of the worknode the
//! governor writes for) and are part of the interface the QEMU tests read;
//! see `docs/architecture.md` ("Console markers").

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

mod fault;

use heapless::Vec;
use sel4_microkit::{
    Channel, ChannelSet, Child, Handler, Infallible, MessageInfo, debug_println, protection_domain,
};
use worknode_abi::ErrorCode;
use worknode_abi::governor::{MAX_EVENT, Reply, Request, Response};
use worknode_abi::log::{EVENT_RECORD_VERSION, EventRecord, LogReply, LogRequest, LogResponse, MAX_RECORD};
use worknode_governor::console::Escaped;
use worknode_governor::roster::MAX_CHILDREN;
use worknode_governor::{ChildSpec, Outcome, Roster};

/// Channel ids and the child table, generated from the rendered system.xml.
mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

#[protection_domain]
fn init() -> Governor {
    let specs: Vec<ChildSpec, MAX_CHILDREN> = system::CHILDREN
        .iter()
        .map(|&(name, child_id, channel)| ChildSpec { name, child_id, channel })
        .collect();
    // The description was checked when it was rendered; a failure here means
    // the image and the description disagree, which no runtime action fixes.
    let roster =
        Roster::new(&specs).unwrap_or_else(|e| panic!("system description rejected by the roster: {e:?}"));
    debug_println!("governor| supervising {} children", specs.len());
    let log = log_channel();
    let mut governor = Governor { roster, log };
    if log.is_some() {
        // Worknodes may record events as soon as they start.
        governor.roster.await_service();
        debug_println!("governor| waiting for the log");
    }
    let outcome = governor.roster.on_init();
    governor.apply(&outcome);
    governor
}

/// The channel to the log PD, on systems that have one.
fn log_channel() -> Option<Channel> {
    system::channel::ALL.iter().find(|(peer, _)| *peer == "log").map(|&(_, id)| Channel::new(id))
}

struct Governor {
    roster: Roster,
    log: Option<Channel>,
}

const _: () = assert!(MAX_EVENT + 64 <= MAX_RECORD, "an event and its envelope must fit a log record");

impl Governor {
    fn name_of_channel(&self, channel: usize) -> &'static str {
        self.roster.by_channel(channel).map_or("<unknown>", |(spec, _)| spec.name)
    }

    /// Carries out what the roster decided besides the reply.
    fn apply(&self, outcome: &Outcome) {
        let mut mask = outcome.notify;
        // At most 64 iterations: one per bit.
        while mask != 0 {
            let channel = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            debug_println!("governor| start -> {}", self.name_of_channel(channel));
            Channel::new(channel).notify();
        }
        if let Some(summary) = outcome.boot_complete {
            debug_println!(
                "governor| boot complete children={} ready={} faulted={}",
                summary.children,
                summary.ready,
                summary.faulted
            );
        }
    }

    /// Writes a worknode's event to the log, durably, in an envelope that
    /// names the worknode (from the channel, never from the request).
    fn record(&self, who: &str, event: &[u8]) -> Response {
        let log = self.log.ok_or(ErrorCode::NotFound)?;
        let envelope = EventRecord {
            version: EVENT_RECORD_VERSION,
            source: heapless::String::try_from(who).map_err(|_| ErrorCode::Internal)?,
            event: Vec::from_slice(event).map_err(|_| ErrorCode::TooLarge)?,
        };
        let mut payload = [0u8; MAX_RECORD];
        let len = postcard::to_slice(&envelope, &mut payload).map_err(|_| ErrorCode::TooLarge)?.len();
        let request = LogRequest::Append {
            payload: Vec::from_slice(&payload[..len]).map_err(|_| ErrorCode::TooLarge)?,
        };
        match worknode_pd_ipc::call::<LogRequest, LogResponse>(log, &request)? {
            Ok(LogReply::Appended { seq, .. }) => Ok(Reply::Recorded { seq }),
            Ok(_) => Err(ErrorCode::Internal),
            Err(e) => Err(e),
        }
    }

    /// Reads the last event back from the log and names its source: the
    /// record the log recovered is the one a restarted worknode would
    /// resume from.
    fn report_last_event(&self, log: Channel, seq: u64) {
        match worknode_pd_ipc::call::<LogRequest, LogResponse>(log, &LogRequest::Read { seq }) {
            Ok(Ok(LogReply::Record { seq, payload })) => {
                match postcard::from_bytes::<EventRecord>(&payload) {
                    Ok(record) => debug_println!(
                        "governor| last event seq={seq} from {} ({} bytes)",
                        Escaped(&record.source),
                        record.event.len()
                    ),
                    Err(_) => debug_println!("governor| last event seq={seq} is not a governor record"),
                }
            }
            other => debug_println!("governor| cannot read back event {seq}: {other:?}"),
        }
    }

    fn report(&self, who: &str, request: &Request, reply: &Response) {
        match (request, reply) {
            (Request::Log { text }, Ok(_)) => debug_println!("{who}| {}", Escaped(text)),
            (Request::Hello, Ok(Reply::Welcome { worknode, .. })) => {
                debug_println!("governor| hello from {who}, welcomed as #{worknode}")
            }
            (Request::Ready, Ok(_)) => debug_println!("governor| {who} is ready"),
            (Request::Record { .. }, Ok(Reply::Recorded { seq })) => {
                debug_println!("governor| recorded {who} seq={seq}")
            }
            (request, reply) => debug_println!("governor| {who}: {request:?} -> {reply:?}"),
        }
    }
}

impl Handler for Governor {
    type Error = Infallible;

    fn protected(&mut self, channel: Channel, info: MessageInfo) -> Result<MessageInfo, Self::Error> {
        let who = self.name_of_channel(channel.index());
        let outcome = match worknode_pd_ipc::receive::<Request>(&info) {
            Ok(request) => {
                let mut outcome = self.roster.on_request(channel.index(), &request);
                if let (Request::Record { event }, Some(Ok(_))) = (&request, &outcome.reply) {
                    outcome.reply = Some(self.record(who, event));
                }
                if let Some(reply) = &outcome.reply {
                    self.report(who, &request, reply);
                }
                outcome
            }
            Err(error) => {
                debug_println!("governor| {who} sent an undecodable call: {error}");
                self.roster.on_malformed(error)
            }
        };
        self.apply(&outcome);
        let reply: Response = outcome.reply.unwrap_or(Err(ErrorCode::Internal));
        Ok(worknode_pd_ipc::reply(&reply))
    }

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        match self.log {
            // The log notifies once, when it has recovered and is ready.
            Some(log) if channels.contains(log) => {
                match worknode_pd_ipc::call::<LogRequest, LogResponse>(log, &LogRequest::Status) {
                    Ok(Ok(LogReply::Status { recovered, log_id, .. })) => {
                        debug_println!(
                            "governor| log ready: recovered last_seq={recovered} log_id={log_id:016x}"
                        );
                        if recovered > 0 {
                            self.report_last_event(log, recovered);
                        }
                    }
                    other => debug_println!("governor| log ready, but its status is {other:?}"),
                }
                let outcome = self.roster.on_service_ready();
                self.apply(&outcome);
            }
            _ => debug_println!("governor| ignored notification on channels {}", channels.display()),
        }
        Ok(())
    }

    fn fault(&mut self, child: Child, info: MessageInfo) -> Result<Option<MessageInfo>, Self::Error> {
        let name = self.roster.by_child_id(child.index()).map_or("<unknown>", |(spec, _)| spec.name);
        debug_println!("governor| child {name} faulted: {}", fault::Describe(&info.fault()));
        // Stop the child explicitly (Microkit's pd_stop). Suspending also
        // cancels the pending fault reply, so the child stays down until the
        // principal decides otherwise, and the kernel holds no stale reply.
        if let Err(error) = child.tcb().tcb_suspend() {
            debug_println!("governor| could not stop {name}: {error:?}");
        }
        match self.roster.on_fault(child.index()) {
            Some(outcome) => self.apply(&outcome),
            None => debug_println!("governor| child id {} is not in the roster", child.index()),
        }
        Ok(None)
    }
}
