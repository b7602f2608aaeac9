//! The governor PD: parent of every worknode and the only PD they can reach.
//!
//! This file is glue. seL4 events (protected calls, notifications, child
//! faults) become calls on [`worknode_governor::Roster`] and, for every
//! action a worknode asks for, on the gate ([`worknode_governor::Gate`]);
//! their answers become replies, notifications, audit records in the event
//! log and console lines. The decisions are made, and tested, in
//! `runtime/governor` and `runtime/authority`.
//!
//! Every action (a console line, an event) is decided by the gate and its
//! audit record is made durable in the log before the action takes effect,
//! allowed or denied; an undecodable call is audited too. An event's record
//! is the audit record itself. Rejected: numbering a console line's record
//! at once and letting the log's next flush make it durable (group commit):
//! a line printed just before a power loss would then have no record,
//! and the first version did lose the last line of every boot that way.
//!
//! Console lines start with `governor|` (or the name of the worknode the
//! governor writes for) and are part of the interface the QEMU tests read;
//! see `docs/architecture.md` ("Console markers").

#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod fault;

use heapless::Vec;
use sel4_microkit::{
    Channel, ChannelSet, Child, Handler, Infallible, MessageInfo, debug_println, protection_domain,
};
use worknode_abi::ErrorCode;
use worknode_abi::audit::AuditRecord;
use worknode_abi::console::{ConsoleReply, ConsoleRequest, ConsoleResponse};
use worknode_abi::governor::{MAX_EVENT, Reply, Request, Response};
use worknode_abi::log::{EventRecord, LogReply, LogRequest, LogResponse, MAX_RECORD};
use worknode_authority::Actions;
use worknode_driver_clock::Clock;
use worknode_governor::console::Escaped;
use worknode_governor::control;
use worknode_governor::denials::{Denials, Shown};
use worknode_governor::roster::MAX_CHILDREN;
use worknode_governor::trail::{Encoded, Trail};
use worknode_governor::{ChildSpec, Controlled, Gate, Outcome, Roster};

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
    let gate = Gate::new(specs.len(), Actions::LOG.with(Actions::RECORD))
        .unwrap_or_else(|e| panic!("the boot policy does not fit the authority tables: {e:?}"));
    // SAFETY: system.xml maps the clock device (goldfish RTC, HPET) at
    // `clock_vaddr`, uncached, for the governor alone; aarch64 needs none.
    #[allow(unsafe_code)]
    let clock = unsafe { Clock::open(*sel4_microkit::var!(clock_vaddr: usize = 0)) };
    let serial = channel_to("serial");
    let mut governor = Governor {
        roster,
        log,
        serial,
        gate,
        clock,
        trail: Trail::new(),
        log_ready: false,
        denials: Denials::new(),
        #[cfg(feature = "gate-bench")]
        bench_records: 0,
    };
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
    channel_to("log")
}

/// The channel to `peer`, if the system has one.
fn channel_to(peer: &str) -> Option<Channel> {
    system::channel::ALL.iter().find(|(p, _)| *p == peer).map(|&(_, id)| Channel::new(id))
}

/// Command lines read per notification from the serial driver (its queue
/// holds no more).
const LINES_PER_NOTIFICATION: usize = 4;

struct Governor {
    roster: Roster,
    log: Option<Channel>,
    /// The principal's console input.
    serial: Option<Channel>,
    gate: Gate,
    clock: Clock,
    /// Audit records made before the log was ready.
    trail: Trail,
    log_ready: bool,
    /// Which denials get a console line (all are audited).
    denials: Denials,
    /// Audit records kept in memory by a `gate-bench` build.
    #[cfg(feature = "gate-bench")]
    bench_records: u64,
}

/// Where an audit record landed, for console lines: its sequence number in
/// the event log, or 0 while it waits in the trail for the log.
struct Audited(u64);

impl core::fmt::Display for Audited {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            0 => f.write_str("audit pending"),
            seq => write!(f, "audit seq={seq}"),
        }
    }
}

const _: () = assert!(MAX_EVENT + 96 <= MAX_RECORD, "an event and its audit envelope must fit a log record");

fn action_name(action: Actions) -> &'static str {
    match action {
        Actions::RECORD => "record",
        Actions::LOG => "log",
        _ => "action",
    }
}

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

    /// Decides `action` on `resource` (the child's own, its index, if
    /// `None`) for the child on `channel`, writes the audit record, and
    /// answers: the reply to give (the caller performs a console line only
    /// on `Ok`).
    fn gated(
        &mut self,
        channel: usize,
        who: &str,
        action: Actions,
        resource: Option<u32>,
        payload: &[u8],
    ) -> Response {
        let index = self.roster.index_of_channel(channel).ok_or(ErrorCode::Internal)?;
        let now = self.clock.now_ms();
        let resource = resource.unwrap_or(index as u32);
        let decision = self.gate.decide(index, None, action, resource, now);
        let record = self.gate.audit(who, &decision, action, resource, payload, now);
        let seq = self.write_audit(&record, action == Actions::RECORD).inspect_err(|e| {
            debug_println!(
                "governor| {who}'s {} not done: its audit record could not be written: {e}",
                action_name(action)
            )
        })?;
        if let Some(error) = decision.reason.error() {
            if let Shown::Print { repeats } = self.denials.denied(index, decision.reason, action, resource) {
                let reason = decision.reason.name();
                let action = action_name(action);
                match repeats {
                    0 => debug_println!(
                        "governor| denied {who}: {reason} ({action} on {resource}), {}",
                        Audited(seq)
                    ),
                    n => debug_println!(
                        "governor| denied {who}: {reason} ({action} on {resource}), {} \
                         ({n} repeats of the previous denial audited, not printed)",
                        Audited(seq)
                    ),
                }
            }
            return Err(error);
        }
        self.denials.allowed(index, action, resource);
        Ok(if action == Actions::RECORD { Reply::Recorded { seq } } else { Reply::Ack })
    }

    /// Appends an audit record to the log, durably. Before the log is
    /// ready the record waits in the trail (sequence number 0), unless
    /// `must_land` (an event: its reply promises durability).
    fn write_audit(&mut self, record: &AuditRecord, must_land: bool) -> Result<u64, ErrorCode> {
        let mut encoded = Encoded::new();
        record.encode_into(&mut encoded).map_err(|_| ErrorCode::TooLarge)?;
        self.land(encoded, must_land)
    }

    /// Where an encoded audit record goes: the event log.
    #[cfg(not(feature = "gate-bench"))]
    fn land(&mut self, encoded: Encoded, must_land: bool) -> Result<u64, ErrorCode> {
        let Some(log) = self.log.filter(|_| self.log_ready) else {
            // No log yet: the record waits. An event cannot, and on a
            // system without a log (the bench profile) it has nowhere to go;
            // console lines wait there until the trail is full, then are
            // refused: no line without its record.
            if must_land {
                return Err(if self.log.is_none() { ErrorCode::NotFound } else { ErrorCode::InvalidState });
            }
            return self.trail.hold(encoded).map(|()| 0).map_err(|_| ErrorCode::Exhausted);
        };
        match worknode_pd_ipc::call::<LogRequest, LogResponse>(log, &LogRequest::Append { payload: encoded })?
        {
            Ok(LogReply::Appended { seq, .. }) => Ok(seq),
            Ok(_) => Err(ErrorCode::Internal),
            Err(e) => Err(e),
        }
    }

    /// Where an encoded audit record goes in a `gate-bench` build: nowhere
    /// but memory, counted (the measure stops there; see Cargo.toml).
    #[cfg(feature = "gate-bench")]
    #[inline(always)]
    fn land(&mut self, encoded: Encoded, _must_land: bool) -> Result<u64, ErrorCode> {
        core::hint::black_box(&encoded);
        self.bench_records += 1;
        Ok(self.bench_records)
    }

    /// Writes the records that waited for the log, oldest first, durably.
    fn flush_trail(&mut self, log: Channel) {
        let waiting = self.trail.len();
        // Bounded by the trail's capacity.
        while let Some(payload) = self.trail.take_oldest() {
            let request = LogRequest::AppendLater { payload };
            if let Err(e) = worknode_pd_ipc::call::<LogRequest, LogResponse>(log, &request).and_then(|r| r) {
                debug_println!("governor| an audit record that waited for the log was refused: {e}");
            }
        }
        if waiting > 0 {
            match worknode_pd_ipc::call::<LogRequest, LogResponse>(log, &LogRequest::Sync).and_then(|r| r) {
                Ok(_) => debug_println!("governor| wrote {waiting} audit records that waited for the log"),
                Err(e) => debug_println!("governor| could not flush the waiting audit records: {e}"),
            }
        }
    }

    /// Reads the last event back from the log and names its source: the
    /// record the log recovered is the one a restarted worknode would
    /// resume from.
    fn report_last_event(&self, log: Channel, seq: u64) {
        match worknode_pd_ipc::call::<LogRequest, LogResponse>(log, &LogRequest::Read { seq }) {
            Ok(Ok(LogReply::Record { seq, payload })) => {
                if let Some(record) = AuditRecord::decode(&payload) {
                    let actor = match &record.actor {
                        worknode_abi::audit::Actor::Worknode(name) => name.as_str(),
                        worknode_abi::audit::Actor::Principal(_) => "the principal",
                    };
                    debug_println!(
                        "governor| last event seq={seq} from {} ({} bytes, {})",
                        Escaped(actor),
                        record.payload.len(),
                        if record.allowed() { "allowed" } else { "denied" }
                    );
                } else if let Ok(record) = postcard::from_bytes::<EventRecord>(&payload) {
                    debug_println!(
                        "governor| last event seq={seq} from {} ({} bytes)",
                        Escaped(&record.source),
                        record.event.len()
                    );
                } else {
                    debug_println!("governor| last event seq={seq} is not a governor record");
                }
            }
            other => debug_println!("governor| cannot read back event {seq}: {other:?}"),
        }
    }

    /// Reads and carries out the principal's complete command lines.
    fn read_console(&mut self, serial: Channel) {
        for _ in 0..LINES_PER_NOTIFICATION {
            match worknode_pd_ipc::call::<ConsoleRequest, ConsoleResponse>(serial, &ConsoleRequest::ReadLine)
            {
                Ok(Ok(ConsoleReply::Line { text })) => self.command(&text),
                Ok(Ok(ConsoleReply::Empty)) => break,
                other => {
                    debug_println!("governor| console read failed: {other:?}");
                    break;
                }
            }
        }
    }

    /// Carries out one command of the principal: the gate changes its
    /// tables and hands back the audit record, which is made durable before
    /// the effect (a thread stopped or resumed) happens.
    fn command(&mut self, line: &str) {
        debug_println!("principal> {}", Escaped(line));
        let command = match control::parse(line) {
            Ok(command) => command,
            Err(e) => {
                debug_println!("governor| principal: {}", e.message());
                return;
            }
        };
        if command == control::Command::List {
            self.list();
            return;
        }
        let now = self.clock.now_ms();
        let roster = &self.roster;
        let named = |name: &str| roster.children().position(|(spec, _)| spec.name == name);
        let (done, record) = match self.gate.control(&command, line, named, now) {
            Ok(result) => result,
            Err(e) => {
                debug_println!("governor| principal: refused: {e:?}");
                return;
            }
        };
        let audited = match record.map(|record| self.write_audit(&record, true)) {
            None => Audited(0),
            Some(Ok(seq)) => Audited(seq),
            Some(Err(e)) => {
                debug_println!("governor| principal: not done, the audit record could not be written: {e}");
                return;
            }
        };
        match done {
            Controlled::Nothing => {}
            Controlled::Granted(cap) => debug_println!("governor| principal: granted cap {cap}; {audited}"),
            Controlled::Revoked(n) => {
                debug_println!("governor| principal: revoked {n} capabilities; {audited}")
            }
            Controlled::Stop(index) | Controlled::Resume(index) => {
                let Some((spec, _)) = self.roster.children().nth(index) else { return };
                let (name, tcb) = (spec.name, Child::new(spec.child_id).tcb());
                let stop = matches!(done, Controlled::Stop(_));
                let result = if stop { tcb.tcb_suspend() } else { tcb.tcb_resume() };
                let verb = match (stop, command) {
                    (true, control::Command::Halt { .. }) => "halted",
                    (true, _) => "suspended",
                    (false, _) => "resumed",
                };
                match result {
                    Ok(()) => debug_println!("governor| principal: {verb} {name}; {audited}"),
                    Err(e) => debug_println!("governor| principal: could not stop or resume {name}: {e:?}"),
                }
            }
        }
    }

    /// `list`: every worknode, its standing and its live capabilities.
    fn list(&self) {
        let now = self.clock.now_ms();
        for (index, (spec, state)) in self.roster.children().enumerate() {
            let subject = index as u16;
            debug_println!(
                "governor| {} #{index}: {state:?}, {:?}",
                spec.name,
                self.gate.authority().standing(subject)
            );
            for cap in self.gate.authority().live_caps(subject, now) {
                let g = cap.grant;
                let actions = g.actions.0;
                let (first, last) = (g.resources.first, g.resources.last);
                if g.expires == worknode_governor::gate::FOREVER {
                    debug_println!(
                        "governor|   cap {}: actions {actions:#x} resources {first}-{last} forever",
                        cap.id
                    );
                } else {
                    debug_println!(
                        "governor|   cap {}: actions {actions:#x} resources {first}-{last} until {} ms (now {now})",
                        cap.id,
                        g.expires
                    );
                }
            }
        }
    }

    /// An undecodable call is audited as a denied action of no kind.
    fn audit_malformed(&mut self, channel: usize, who: &str) {
        let now = self.clock.now_ms();
        let index = self.roster.index_of_channel(channel).unwrap_or(usize::MAX);
        let mut decision = self.gate.decide(index, None, Actions::NONE, 0, now);
        decision.reason = worknode_authority::Reason::Malformed;
        decision.cap = None;
        let record = self.gate.audit(who, &decision, Actions::NONE, 0, &[], now);
        if let Err(e) = self.write_audit(&record, false) {
            debug_println!("governor| could not audit {who}'s undecodable call: {e}");
        }
    }

    fn report(&self, who: &str, request: &Request<'_>, reply: &Response) {
        match (request, reply) {
            (Request::Log { text }, Ok(_)) => debug_println!("{who}| {}", Escaped(text)),
            (Request::Hello, Ok(Reply::Welcome { worknode, .. })) => {
                debug_println!("governor| hello from {who}, welcomed as #{worknode}")
            }
            (Request::Ready, Ok(_)) => debug_println!("governor| {who} is ready"),
            (Request::Record { .. } | Request::RecordTo { .. }, Ok(Reply::Recorded { seq })) => {
                // A gate-bench build records tens of thousands of events
                // whose lines would be most of what it measures.
                if !cfg!(feature = "gate-bench") {
                    debug_println!("governor| recorded {who} seq={seq}")
                }
            }
            (request, reply) => debug_println!("governor| {who}: {request:?} -> {reply:?}"),
        }
    }
}

impl Handler for Governor {
    type Error = Infallible;

    fn protected(&mut self, channel: Channel, info: MessageInfo) -> Result<MessageInfo, Self::Error> {
        // The raw round trip of `make bench-gate` (see Cargo.toml): an empty
        // call, answered empty before anything looks at it.
        #[cfg(feature = "gate-bench")]
        if info.label() == 0 && info.count() == 0 {
            return Ok(MessageInfo::new(0, 0));
        }
        let who = self.name_of_channel(channel.index());
        let mut frame = worknode_pd_ipc::FrameBuf::new();
        let request = worknode_pd_ipc::receive_frame(&info, &mut frame)
            .and_then(worknode_abi::frame::decode::<Request>);
        let outcome = match request {
            Ok(request) => {
                let mut outcome = self.roster.on_request(channel.index(), &request);
                let action = match &request {
                    Request::Record { event } => Some((Actions::RECORD, None, event.as_slice())),
                    Request::RecordTo { resource, event } => {
                        Some((Actions::RECORD, Some(*resource), event.as_slice()))
                    }
                    Request::Log { text } => Some((Actions::LOG, None, text.as_str().as_bytes())),
                    Request::Hello | Request::Ready => None,
                };
                // The roster said the call is valid in the caller's state;
                // now the gate decides the action. The gate's refusals are
                // reported by `gated` (and not every one: see Denials).
                let gated = matches!(outcome.reply, Some(Ok(_))) && action.is_some();
                if let (true, Some((action, resource, payload))) = (gated, action) {
                    outcome.reply = Some(self.gated(channel.index(), who, action, resource, payload));
                }
                match &outcome.reply {
                    Some(Err(_)) if gated => {}
                    Some(reply) => self.report(who, &request, reply),
                    None => {}
                }
                outcome
            }
            Err(error) => {
                debug_println!("governor| {who} sent an undecodable call: {error}");
                self.audit_malformed(channel.index(), who);
                self.roster.on_malformed(error)
            }
        };
        self.apply(&outcome);
        let reply: Response = outcome.reply.unwrap_or(Err(ErrorCode::Internal));
        Ok(worknode_pd_ipc::reply(&reply))
    }

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if let Some(serial) = self.serial.filter(|s| channels.contains(*s)) {
            self.read_console(serial);
            return Ok(());
        }
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
                self.log_ready = true;
                self.flush_trail(log);
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
