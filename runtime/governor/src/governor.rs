//! The governor core: every input the governor PD receives, decided.
//!
//! Inputs are the methods of [`Governor`]: a worknode's protected call
//! ([`Governor::call`]), notifications ([`Governor::notified`]: the
//! principal's console, the log's "ready", worknodes), a child's fault
//! ([`Governor::fault`]), and the start ([`Governor::init`]); each carries
//! the clock's reading. Effects are calls on the [`World`].
//!
//! Every change is *plan → durable → commit*: the change is worked out
//! without touching anything, its audit record is appended and the log
//! answers that it is durable, and only then do the tables change and the
//! world see it (a reply that reports success, a console line, a
//! notification, a thread let run). A failed append leaves everything as
//! it was, and the caller is told why.
//!
//! The one exception is the fail-safe one: a *stop* (the principal's halt
//! or suspend, a fault) reduces authority, so it is never blocked. Its
//! record goes to the log's reserved room first; if even that fails, or no
//! log is ready, the stop happens anyway and the console says the record
//! is missing (or pending: made before the log was ready, it waits and is
//! written first when the log is).
//!
//! Mail between nodes: a worknode's `Send` is a gated action like a
//! record (decided as `send` on the resource naming the node, recorded,
//! then handed to the network PD); mail that arrives is placed in its
//! addressee's mailbox ([`crate::mail`]) and the addressee notified.
//! Mail is data: it acts as nobody, so placing it needs no record.
//!
//! Every console line a worknode causes is a decision's: its own lines
//! are printed after their allowed `log` record is durable; the governor's
//! lines about it name the audit record they report. Requests out of turn
//! and undecodable calls are denials like any other, recorded and
//! coalesced (see [`crate::coalesce`]); notifications from worknodes are
//! counted and shown by `list`, never printed.

use core::fmt;

use heapless::{Deque, Vec};
use worknode_abi::ErrorCode;
use worknode_abi::audit::{AUDIT_RECORD_VERSION, Actor, AuditRecord, Control, Lifecycle, What};
use worknode_abi::bounded::Bytes;
use worknode_abi::frame;
use worknode_abi::governor::{MAIL_VERSION, Mail, Reply, Request, Response, StrongRead, node_resource};
use worknode_abi::log::{MAX_RECORD, REPLICATED_RECORD_VERSION, ReplicatedRecord, Room};
use worknode_abi::markers as m;
use worknode_abi::strong::{
    APPLIED, Applied, MAX_PROPOSAL, MAX_READ_REQUEST, OUTCOME, Outcome as StrongOutcome, Proposal, READ,
    READ_ANSWER, ReadAnswer, ReadFound, ReadRequest, STRONG_VERSION,
};
use worknode_authority::{Actions, AuthorityError, Lineage, Millis, Reason, Standing};

use crate::children::{ChildSpec, Children, ChildrenError, Stage};
use crate::coalesce::{Coalescer, Key, Run, Seen};
use crate::console::Escaped;
use crate::control::{self, Command};
use crate::gate::{self, ControlError, FOREVER, Gate, Planned};
use crate::limits::{LINES_PER_NOTIFICATION, MAIL_PER_PULL, MAX_CHANNEL, OUTCOMES_PER_PULL, PENDING_STOPS};
use crate::mail::{Mailboxes, Mailed};
use crate::replicated::Replicated;
use crate::strong::{Outcome, ReadResult, Settled, Strong};
use crate::world::World;

/// The longest message the governor puts on the queue to the Raft PD.
const MAX_TO_RAFT: usize = if MAX_PROPOSAL > MAX_READ_REQUEST { MAX_PROPOSAL } else { MAX_READ_REQUEST };

/// How a governor is set up, from the system description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The governor's channel to the log PD; `None` on a system without
    /// an event log, where no worknode can start (nothing could be
    /// recorded).
    pub log: Option<usize>,
    /// The governor's channel to the serial driver (the principal's
    /// console), if the system has one.
    pub serial: Option<usize>,
    /// The governor's channel to the network PD, if the node has one;
    /// without it a `Send` is `not-found`.
    pub net: Option<usize>,
    /// What every child may do from boot, on its own resource.
    pub boot: Actions,
    /// The governor's channel to the node's Raft PD (a cluster node's),
    /// with the queue of Strong events; without it a `RecordStrong` is
    /// `not-found`.
    pub raft: Option<usize>,
    /// Print `recorded <worknode> seq=N` for every event. Off only in the
    /// gate benchmark, whose lines would be most of what it measures.
    pub print_records: bool,
}

/// Why a governor cannot be set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupError {
    /// The children cannot be governed.
    Children(ChildrenError),
    /// The boot policy does not fit the authority tables.
    Authority(AuthorityError),
    /// The log's or the console's channel is out of range or a child's.
    Channel(usize),
}

/// Where the event log is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogState {
    /// The system has no event log.
    Absent,
    /// The log PD has not said it is ready.
    Waiting,
    /// The log takes records.
    Ready,
    /// The log PD found no usable log on its disk.
    Refused(ErrorCode),
}

/// Where a stop's record went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Audited {
    /// Durable at this sequence number.
    Seq(u64),
    /// Waiting for the log.
    Pending,
    /// Not written; the stop happened anyway.
    Missing(ErrorCode),
}

impl fmt::Display for Audited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Audited::Seq(seq) => write!(f, "{}{seq}", m::AUDIT_SEQ),
            Audited::Pending => f.write_str("audit pending (written when the log is ready)"),
            Audited::Missing(e) => write!(f, "{} ({e})", m::RECORD_MISSING),
        }
    }
}

/// What a [`What`] asked for, in a denial's console line.
struct Asked(What);

impl fmt::Display for Asked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            What::Action(0) => f.write_str("a call"),
            What::Action(bits) => write!(f, "{}", Actions(bits)),
            What::Lifecycle(step) if step == Lifecycle::Greeted as u8 => f.write_str("hello"),
            What::Lifecycle(step) if step == Lifecycle::Ready as u8 => f.write_str("ready"),
            What::Lifecycle(step) => write!(f, "lifecycle {step}"),
            What::Control(code) => write!(f, "control {code}"),
        }
    }
}

/// A request refused because it came out of turn in the boot protocol.
fn out_of_turn(what: What, resource: u32) -> Key {
    Key { reason: Reason::OutOfTurn, what, resource, cap: None }
}

/// A resource range as the console writes it: `7` or `40-49`.
struct Span(u32, u32);

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Span(first, last) if first == last => write!(f, "{first}"),
            Span(first, last) => write!(f, "{first}-{last}"),
        }
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct Governor {
    config: Config,
    children: Children,
    gate: Gate,
    denials: Coalescer,
    log: LogState,
    /// The last append failure the console was told of (once per change).
    log_error: Option<ErrorCode>,
    /// Stop records made before the log was ready.
    pending: Deque<Vec<u8, MAX_RECORD>, PENDING_STOPS>,
    /// The encoding of the record being appended.
    buf: Vec<u8, MAX_RECORD>,
    boot_reported: bool,
    /// Notifications on channels that are no child's, nor the log's or
    /// the console's, and "ready" from a log that was not waiting.
    stray: u32,
    mail: Mailboxes,
    strong: Strong,
    replicated: Replicated,
}

impl Governor {
    /// A governor for `children` as `config` says.
    pub fn new(children: &[ChildSpec], config: Config) -> Result<Governor, SetupError> {
        let children = Children::new(children).map_err(SetupError::Children)?;
        let services = [config.log, config.serial, config.net, config.raft];
        for (i, channel) in services.iter().enumerate() {
            let Some(channel) = *channel else { continue };
            let shared = services.iter().enumerate().any(|(j, other)| j != i && *other == Some(channel));
            if channel > MAX_CHANNEL || children.by_channel(channel).is_some() || shared {
                return Err(SetupError::Channel(channel));
            }
        }
        let gate = Gate::new(children.len(), config.boot).map_err(SetupError::Authority)?;
        Ok(Governor {
            config,
            children,
            gate,
            denials: Coalescer::new(),
            log: if config.log.is_some() { LogState::Waiting } else { LogState::Absent },
            log_error: None,
            pending: Deque::new(),
            buf: Vec::new(),
            boot_reported: false,
            stray: 0,
            mail: Mailboxes::default(),
            strong: Strong::default(),
            replicated: Replicated::default(),
        })
    }

    /// The Strong events in flight.
    pub fn strong(&self) -> &Strong {
        &self.strong
    }

    /// The cluster's Strong events written to this node's event log.
    pub fn replicated(&self) -> &Replicated {
        &self.replicated
    }

    /// The children and their records.
    pub fn children(&self) -> &Children {
        &self.children
    }

    /// The gate and its tables.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// Where the event log is.
    pub fn log_state(&self) -> LogState {
        self.log
    }

    /// The mailboxes.
    pub fn mail(&self) -> &Mailboxes {
        &self.mail
    }

    /// Whether the boot summary has been printed.
    pub fn boot_reported(&self) -> bool {
        self.boot_reported
    }

    /// The start: holds every child (no thread runs before the log can
    /// record what it does).
    pub fn init(&mut self, w: &mut impl World) {
        w.print(format_args!("{}{} children", m::SUPERVISING, self.children.len()));
        for child in self.children.iter() {
            if let Err(e) = w.stop(child.spec.child_id) {
                w.print(format_args!("{}could not hold {}: {e}", m::GOVERNOR, child.spec.name));
            }
        }
        match self.log {
            LogState::Absent => w.print(format_args!(
                "{}this system has no event log: no worknode will start (nothing could be recorded)",
                m::GOVERNOR
            )),
            _ => w.print(format_args!("{}", m::WAITING_FOR_LOG)),
        }
    }

    /// Notifications arrived on the channels in `channels` (bit N: channel
    /// N). All of them are handled, whatever else arrived with them.
    pub fn notified(&mut self, w: &mut impl World, channels: u64, now: Millis) {
        let is = |channel: Option<usize>| channel.is_some_and(|c| channels & (1u64 << c) != 0);
        if is(self.config.log) {
            self.log_ready(w, now);
        }
        if is(self.config.serial) {
            self.read_console(w, now);
        }
        if is(self.config.net) {
            self.network_news(w);
        }
        if is(self.config.raft) {
            self.raft_news(w, now);
        }
        let services = [self.config.log, self.config.serial, self.config.net, self.config.raft];
        let others = services.iter().fold(channels, |rest, c| rest & !c.map_or(0, |c| 1u64 << c));
        // At most 64 iterations: one per bit.
        let mut mask = others & ((1u64 << (MAX_CHANNEL + 1)) - 1);
        self.stray += (others & !mask).count_ones();
        while mask != 0 {
            let channel = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            match self.children.by_channel(channel).and_then(|i| self.children.get_mut(i)) {
                Some(child) => child.notifications = child.notifications.saturating_add(1),
                None => self.stray = self.stray.saturating_add(1),
            }
        }
    }

    /// A protected call on `channel`, whose frame is `frame` (or the error
    /// its message info already showed). Returns the reply.
    pub fn call(
        &mut self,
        w: &mut impl World,
        channel: usize,
        frame: Result<&[u8], ErrorCode>,
        now: Millis,
    ) -> Response {
        // The system description gives no other PD a way to call us (the
        // checker refuses it), so this is unreachable in a checked image.
        let Some(index) = self.children.by_channel(channel) else { return Err(ErrorCode::Denied) };
        let request = match frame.and_then(frame::decode::<Request>) {
            Ok(request) => request,
            Err(error) => {
                let lineage = self.gate.boot_lineage(index);
                let key = Key { reason: Reason::Malformed, what: What::Action(0), resource: 0, cap: None };
                self.deny(w, index, key, lineage, &[], now);
                return Err(error);
            }
        };
        match request {
            Request::Hello => self.hello(w, index, now),
            Request::Ready => self.ready(w, index, now),
            Request::Log { text } => self.act(w, index, Actions::LOG, index as u32, text.as_bytes(), now),
            Request::Record { event } => self.act(w, index, Actions::RECORD, index as u32, &event, now),
            Request::RecordTo { resource, event } => {
                self.act(w, index, Actions::RECORD, resource, &event, now)
            }
            Request::Send { node, worknode, body } => self.send(w, index, node, worknode, &body, now),
            Request::Receive => self.receive(w, index, now),
            Request::RecordStrong { event } => self.record_strong(w, index, &event, now),
            Request::Outcome => self.outcome(w, index, now),
            Request::ReadStrong { number } => self.read_strong(w, index, number, now),
        }
    }

    /// The child with Microkit id `child_id` faulted; `fault` describes it.
    pub fn fault(&mut self, w: &mut impl World, child_id: usize, fault: &str, now: Millis) {
        let Some(index) = self.children.by_child_id(child_id) else {
            w.print(format_args!("{}child id {child_id} faulted, but it is not a child", m::GOVERNOR));
            return;
        };
        let _ = self.settle_run(w, index);
        let name = self.name(index);
        let record = gate::lifecycle_record(
            name,
            self.gate.boot_lineage(index),
            Lifecycle::Faulted,
            Reason::Allowed,
            index,
            fault.as_bytes(),
            now,
        );
        let audited = self.append_stop(w, &record);
        // The kernel has stopped the thread already (it waits for a fault
        // reply); stopping it cancels that reply, so it stays down.
        let stopped = w.stop(child_id);
        if let Some(child) = self.children.get_mut(index) {
            child.stage = Stage::Faulted;
        }
        w.print(format_args!("{}{name}{}{}; {audited}", m::CHILD, m::FAULTED, Escaped(fault)));
        if let Err(e) = stopped {
            w.print(format_args!("{}could not stop {name}: {e}", m::GOVERNOR));
        }
        self.check_boot(w);
    }

    fn name(&self, index: usize) -> &'static str {
        self.children.get(index).map_or("<unknown>", |c| c.spec.name)
    }

    // --- worknode requests ---------------------------------------------

    fn hello(&mut self, w: &mut impl World, index: usize, now: Millis) -> Response {
        let (spec, seq) = self.advance(w, index, Stage::Started, Stage::Greeted, Lifecycle::Greeted, now)?;
        w.print(format_args!("{}{}, welcomed as #{index}; {}{seq}", m::HELLO, spec.name, m::AUDIT_SEQ));
        // "start": the worknode may act once it has seen it.
        w.notify(spec.channel);
        // Both fit in u16: at most MAX_CHILDREN children.
        Ok(Reply::Welcome { worknode: index as u16, children: self.children.len() as u16 })
    }

    fn ready(&mut self, w: &mut impl World, index: usize, now: Millis) -> Response {
        let (spec, seq) = self.advance(w, index, Stage::Greeted, Stage::Ready, Lifecycle::Ready, now)?;
        w.print(format_args!("{}{}{}{seq}", m::GOVERNOR, spec.name, m::IS_READY));
        self.check_boot(w);
        Ok(Reply::Ack)
    }

    /// Moves child `index` from stage `from` to `to`, recorded as `step`
    /// before it moves. A request in any other stage is out of turn: a
    /// denial, recorded and coalesced like any other.
    fn advance(
        &mut self,
        w: &mut impl World,
        index: usize,
        from: Stage,
        to: Stage,
        step: Lifecycle,
        now: Millis,
    ) -> Result<(ChildSpec, u64), ErrorCode> {
        let lineage = self.gate.boot_lineage(index);
        let Some(&child) = self.children.get(index) else { return Err(ErrorCode::Internal) };
        if child.stage != from {
            let key = out_of_turn(What::Lifecycle(step as u8), index as u32);
            return Err(self.deny(w, index, key, lineage, &[], now));
        }
        self.settle_run(w, index)?;
        let record = gate::lifecycle_record(child.spec.name, lineage, step, Reason::Allowed, index, &[], now);
        let seq = self.append(w, &record, Room::Ordinary)?;
        if let Some(child) = self.children.get_mut(index) {
            debug_assert_eq!(child.stage, from, "nothing moved it while its record was written");
            child.stage = to;
        }
        Ok((child.spec, seq))
    }

    /// A worknode asks to `action` on `resource` with `bytes` (its line or
    /// its event): decided, recorded, then done.
    fn act(
        &mut self,
        w: &mut impl World,
        index: usize,
        action: Actions,
        resource: u32,
        bytes: &[u8],
        now: Millis,
    ) -> Response {
        let (name, seq) = self.gated(w, index, action, resource, bytes, now, |_| Ok(()))?;
        if action == Actions::LOG {
            // Text from a Log request is UTF-8 (checked when decoded).
            let text = core::str::from_utf8(bytes).unwrap_or("<not UTF-8>");
            w.print(format_args!("{name}| {}", Escaped(text)));
            return Ok(Reply::Ack);
        }
        if self.config.print_records {
            w.print(format_args!("{}{name} seq={seq}", m::RECORDED));
        }
        Ok(Reply::Recorded { seq })
    }

    /// The gate's part of an action: in turn, decided, and recorded
    /// durably, or refused (and the refusal recorded, coalesced). `able`
    /// runs once the gate allowed and before the record is written: an
    /// error from it (the effect cannot happen now) refuses the request
    /// with nothing recorded, as nothing was done. Returns the worknode's
    /// name and the record's sequence number.
    #[allow(clippy::too_many_arguments)]
    fn gated<W: World>(
        &mut self,
        w: &mut W,
        index: usize,
        action: Actions,
        resource: u32,
        bytes: &[u8],
        now: Millis,
        able: impl FnOnce(&mut W) -> Result<(), ErrorCode>,
    ) -> Result<(&'static str, u64), ErrorCode> {
        let Some(&child) = self.children.get(index) else { return Err(ErrorCode::Internal) };
        let in_turn = match child.stage {
            Stage::Greeted => action == Actions::LOG,
            Stage::Ready => true,
            Stage::Held | Stage::Started | Stage::Faulted => false,
        };
        let what = What::Action(action.0);
        if !in_turn {
            let lineage = self.gate.boot_lineage(index);
            return Err(self.deny(w, index, out_of_turn(what, resource), lineage, bytes, now));
        }
        let decision = self.gate.decide(index, child.standing, None, action, resource, now);
        if !decision.allowed() {
            let key = Key { reason: decision.reason, what, resource, cap: decision.cap };
            return Err(self.deny(w, index, key, decision.lineage, bytes, now));
        }
        able(w)?;
        self.settle_run(w, index)?;
        let name = child.spec.name;
        let seq = self.append(
            w,
            &gate::action_record(name, &decision, action, resource, bytes, now),
            Room::Ordinary,
        )?;
        self.denials.allowed(index, what, resource);
        Ok((name, seq))
    }

    /// A worknode sends `body` to worknode `to` on node `node`: decided
    /// as `send` on the node's resource, recorded, then handed to the
    /// network PD as [`Mail`]. A node without an open stream is refused
    /// before anything is recorded; the sender is notified when the
    /// network has news.
    fn send(
        &mut self,
        w: &mut impl World,
        index: usize,
        node: u8,
        to: u16,
        body: &[u8],
        now: Millis,
    ) -> Response {
        let net = self.config.net;
        let mut wait = false;
        let result = self.gated(w, index, Actions::SEND, node_resource(node), body, now, |w| {
            net.ok_or(ErrorCode::NotFound)?;
            match w.net_open(node)? {
                true => Ok(()),
                false => {
                    wait = true;
                    Err(ErrorCode::InvalidState)
                }
            }
        });
        if wait {
            self.mail.wait(index);
        }
        let (name, seq) = result?;
        let mail = Mail {
            version: MAIL_VERSION,
            // Both fit: at most MAX_CHILDREN children.
            from: index as u16,
            to,
            body: body.try_into().map_err(|_| ErrorCode::TooLarge)?,
        };
        let mut buf = [0u8; worknode_abi::net::MAX_NET_BODY];
        let sent = mail.encode(&mut buf).and_then(|bytes| w.net_send(node, bytes));
        match sent {
            Ok(()) => Ok(Reply::Sent { seq }),
            Err(e) => {
                // Recorded as allowed, but the stream broke or filled
                // between the check and the send: the record stands for a
                // decision whose message did not leave, and the console
                // says so.
                if matches!(e, ErrorCode::InvalidState | ErrorCode::Exhausted) {
                    self.mail.wait(index);
                }
                w.print(format_args!(
                    "{}{name}'s send to node {node} ({}{seq}) did not leave: {e}",
                    m::GOVERNOR,
                    m::AUDIT_SEQ
                ));
                Err(e)
            }
        }
    }

    /// Whether worknode `index` may take what is its own (mail, outcomes):
    /// only once ready; out of turn it is a denial like any other, decided
    /// as `read` and recorded.
    fn taking_in_turn(&mut self, w: &mut impl World, index: usize, now: Millis) -> Result<(), ErrorCode> {
        let Some(&child) = self.children.get(index) else { return Err(ErrorCode::Internal) };
        if child.stage != Stage::Ready {
            let lineage = self.gate.boot_lineage(index);
            let key = out_of_turn(What::Action(Actions::READ.0), index as u32);
            return Err(self.deny(w, index, key, lineage, &[], now));
        }
        Ok(())
    }

    /// A worknode takes the oldest message in its mailbox. Not gated: the
    /// mailbox is its own, and taking from it changes nothing but it. One
    /// that finds it empty is notified of the network's next news.
    fn receive(&mut self, w: &mut impl World, index: usize, now: Millis) -> Response {
        self.taking_in_turn(w, index, now)?;
        let mail = self.mail.take(index);
        if mail.is_none() {
            // An empty mailbox: the worknode hears of the network's next
            // news (it may be waiting for an answer).
            self.mail.wait(index);
        }
        // Room was made: the held message, and more, may go in now.
        self.pull(w);
        Ok(match mail {
            Some(Mailed { node, from, body }) => Reply::Mail { node, worknode: from, body },
            None => Reply::Empty,
        })
    }

    /// A worknode records an event Strong: decided and recorded as a
    /// `record` on its own resource, then handed to the Raft PD under a
    /// new ticket ([`Governor::hand_to_raft`]).
    fn record_strong(&mut self, w: &mut impl World, index: usize, event: &[u8], now: Millis) -> Response {
        self.hand_to_raft(w, index, Actions::RECORD, event, now, |worknode, ticket, buf| {
            let event = event.try_into().map_err(|_| ErrorCode::TooLarge)?;
            let proposal = Proposal { version: STRONG_VERSION, worknode, ticket, event };
            proposal.encode(buf).map(|bytes| (0, bytes))
        })
    }

    /// A worknode reads the cluster's Strong event `number`: decided and
    /// recorded as a `read` on its own resource (the record's payload is
    /// the number, 8 bytes little-endian), then handed to the Raft PD
    /// under a new ticket ([`Governor::hand_to_raft`]). Rejected: reads that
    /// pass no gate, which would make a suspended or halted worknode's
    /// reads the one thing the principal cannot stop.
    fn read_strong(&mut self, w: &mut impl World, index: usize, number: u64, now: Millis) -> Response {
        self.hand_to_raft(w, index, Actions::READ, &number.to_le_bytes(), now, |worknode, ticket, buf| {
            let request = ReadRequest { version: STRONG_VERSION, worknode, ticket, number };
            request.encode(buf).map(|bytes| (READ, bytes))
        })
    }

    /// Decides `action` on the worknode's own resource with `payload` in
    /// its record; once that is durable, puts the message `message`
    /// encodes (its `to` and bytes, for a worknode and a new ticket) on
    /// the queue to the Raft PD, and answers `Pending`. Refused before
    /// anything is recorded when the node has no Raft PD (`not-found`) or
    /// no room for it (`exhausted`: the worknode is notified at the Raft
    /// PD's next news).
    fn hand_to_raft(
        &mut self,
        w: &mut impl World,
        index: usize,
        action: Actions,
        payload: &[u8],
        now: Millis,
        message: impl for<'b> FnOnce(u16, u64, &'b mut [u8]) -> Result<(u8, &'b [u8]), ErrorCode>,
    ) -> Response {
        let raft = self.config.raft;
        // At most MAX_CHILDREN children: an index fits a u16.
        let worknode = index as u16;
        let room = self.strong.room(worknode);
        let mut wait = false;
        let result = self.gated(w, index, action, index as u32, payload, now, |w| {
            raft.ok_or(ErrorCode::NotFound)?;
            if room && w.strong_room() {
                Ok(())
            } else {
                wait = true;
                Err(ErrorCode::Exhausted)
            }
        });
        if wait {
            self.strong.wait(index);
        }
        let (name, seq) = result?;
        let ticket = self.strong.ticket();
        let read = action == Actions::READ;
        let mut buf = [0u8; MAX_TO_RAFT];
        let queued = message(worknode, ticket, &mut buf).and_then(|(to, bytes)| w.strong_send(to, bytes));
        match queued.and_then(|()| self.strong.queued(worknode, ticket, read, now)) {
            Ok(()) => {
                if self.config.print_records && !read {
                    w.print(format_args!("{}{name} seq={seq} strong ticket={ticket}", m::RECORDED));
                }
                Ok(Reply::Pending { ticket, seq })
            }
            Err(e) => {
                // Recorded as allowed, but the queue refused it after the
                // check: the record stands for a decision whose message
                // did not leave, and the console says so.
                let what = if read { "read" } else { "strong event" };
                w.print(format_args!(
                    "{}{name}'s {what} ({}{seq}) did not reach Raft: {e}",
                    m::GOVERNOR,
                    m::AUDIT_SEQ
                ));
                Err(e)
            }
        }
    }

    /// A worknode takes the oldest known outcome of its Strong events. Not
    /// gated: the outcomes are its own. One that finds none is notified at
    /// the Raft PD's next news.
    fn outcome(&mut self, w: &mut impl World, index: usize, now: Millis) -> Response {
        self.taking_in_turn(w, index, now)?;
        Ok(match self.strong.take(index as u16) {
            Some(Settled { ticket, outcome: Outcome::Committed(at) }) => {
                Reply::Committed { ticket, index: at }
            }
            Some(Settled { ticket, outcome: Outcome::Failed(error) }) => Reply::Failed { ticket, error },
            Some(Settled { ticket, outcome: Outcome::Read(r) }) => {
                Reply::Read { ticket, number: r.number, count: r.count, index: r.index, found: r.found }
            }
            None => {
                self.strong.wait(index);
                Reply::Empty
            }
        })
    }

    /// The Raft PD has news: what it took off the queue, and outcomes.
    /// Each worknode an outcome is for is notified, and so is every one
    /// that waits for room or news. Bounded: [`OUTCOMES_PER_PULL`]
    /// outcomes, and two looks before the governor waits.
    fn raft_news(&mut self, w: &mut impl World, now: Millis) {
        let mut notify = self.strong.take_waiting();
        for _ in 0..2 {
            let strong = &mut self.strong;
            w.strong_taken(&mut |answer| {
                if let Some(worknode) = strong.taken(answer) {
                    notify |= 1u64 << (worknode & 63);
                }
            });
            for _ in 0..OUTCOMES_PER_PULL {
                // The cluster's events wait for the log's tail to be
                // looked at (none come before: no worknode runs until the
                // log is ready).
                if self.log == LogState::Waiting {
                    break;
                }
                let Ok(Some((kind, bytes))) = w.strong_arrived() else { break };
                match (kind, StrongOutcome::decode(&bytes)) {
                    (APPLIED, _) => self.write_replicated(w, &bytes),
                    (OUTCOME, Ok(o)) if self.strong.committed(o.worknode, o.ticket, o.index, now) => {
                        notify |= 1u64 << (o.worknode & 63);
                    }
                    // Counted by `committed`.
                    (OUTCOME, Ok(_)) => {}
                    (READ_ANSWER, _) => {
                        if let Some(worknode) = self.read_answered(&bytes) {
                            notify |= 1u64 << (worknode & 63);
                        }
                    }
                    _ => self.strong.dropped += 1,
                }
            }
            self.sync_replicated(w);
            if w.strong_wait() {
                break;
            }
        }
        // At most 64 iterations: one per bit.
        while notify != 0 {
            let index = notify.trailing_zeros() as usize;
            notify &= notify - 1;
            if let Some(child) = self.children.get(index).filter(|c| c.stage == Stage::Ready) {
                w.notify(child.spec.channel);
            }
        }
    }

    /// The Raft PD answered a read: settles its ticket. Returns the
    /// worknode to notify; one that does not decode, or names no read
    /// asked here, is dropped and counted.
    fn read_answered(&mut self, bytes: &[u8]) -> Option<u16> {
        let Ok(answer) = ReadAnswer::decode(bytes) else {
            self.strong.dropped += 1;
            return None;
        };
        let found = match answer.found {
            ReadFound::Event { proposer, seq, worknode, event } => {
                // Bounded alike (MAX_EVENT): cannot fail.
                let event = heapless::Vec::from_slice(&event).ok()?;
                StrongRead::Event { node: proposer, seq, worknode, event }
            }
            ReadFound::NotYet => StrongRead::NotYet,
            ReadFound::Gone => StrongRead::Gone,
        };
        let result = ReadResult { number: answer.number, count: answer.count, index: answer.index, found };
        self.strong.answered(answer.worknode, answer.ticket, result).then_some(answer.worknode)
    }

    /// Appends one of the cluster's Strong events to the event log (see
    /// [`crate::replicated`]), unless it was written already. Without a
    /// usable log it is counted and dropped: the Raft PD must not wait
    /// for a log that will never take it (its state machine would stop).
    fn write_replicated(&mut self, w: &mut impl World, bytes: &[u8]) {
        let Ok(applied) = Applied::decode(bytes) else {
            self.replicated.undecodable += 1;
            return;
        };
        if self.log != LogState::Ready || !self.replicated.ready() {
            self.replicated.unwritten += 1;
            return;
        }
        if !self.replicated.wanted(applied.number) {
            self.replicated.skipped(applied.number);
            return;
        }
        let record = ReplicatedRecord { version: REPLICATED_RECORD_VERSION, applied };
        let mut buf = [0u8; MAX_RECORD];
        let appended = record.encode(&mut buf).and_then(|bytes| w.append_later(bytes));
        match appended {
            Ok(_) => self.replicated.appended(applied.number),
            Err(e) => {
                self.replicated.unwritten += 1;
                self.log_failed(w, e);
            }
        }
    }

    /// Flushes the cluster's events appended since the last flush, and
    /// says how far they are durable every [`crate::replicated::LINE_EVERY`].
    fn sync_replicated(&mut self, w: &mut impl World) {
        if !self.replicated.unsynced() {
            return;
        }
        match w.sync() {
            Ok(_) => {
                if let Some(number) = self.replicated.synced() {
                    w.print(format_args!("{}replicated events durable up to number={number}", m::GOVERNOR));
                }
            }
            Err(e) => self.log_failed(w, e),
        }
    }

    /// Reads the log's last records for the last of the cluster's events
    /// written (bounded: [`crate::limits::REPLICATED_LOOKBACK`] reads, in
    /// log order, which the log PD serves from its place).
    fn find_replicated(&mut self, w: &mut impl World, recovered: u64) {
        let mut last = 0;
        for seq in Replicated::lookback(recovered) {
            let Ok(payload) = w.read_record(seq) else { continue };
            if let Some(record) = ReplicatedRecord::decode(&payload) {
                last = record.applied.number;
            }
        }
        self.replicated.found(last);
    }

    /// The network PD has news: the children waiting for it are told, and
    /// the mail that arrived is placed.
    fn network_news(&mut self, w: &mut impl World) {
        let mut waiting = self.mail.take_waiting();
        // At most 64 iterations: one per bit.
        while waiting != 0 {
            let index = waiting.trailing_zeros() as usize;
            waiting &= waiting - 1;
            if let Some(child) = self.children.get(index).filter(|c| c.stage == Stage::Ready) {
                w.notify(child.spec.channel);
            }
        }
        self.pull(w);
    }

    /// Takes mail from the network PD while it can be placed (at most
    /// [`MAIL_PER_PULL`] messages), and notifies each addressee.
    fn pull(&mut self, w: &mut impl World) {
        if self.config.net.is_none() {
            return;
        }
        let children = &self.children;
        let deliverable = |index: usize| {
            children.get(index).is_some_and(|c| c.stage == Stage::Ready && c.standing != Standing::Halted)
        };
        for _ in 0..MAIL_PER_PULL {
            if self.mail.holding() {
                match self.mail.place_held(deliverable) {
                    Some(index) => {
                        if let Some(child) = children.get(index) {
                            w.notify(child.spec.channel);
                        }
                    }
                    None if self.mail.holding() => return,
                    None => {}
                }
            }
            let Ok(Some((node, bytes))) = w.net_receive() else { return };
            match Mail::decode(&bytes) {
                Ok(mail) => {
                    let body = heapless::Vec::from_slice(&mail.body).unwrap_or_default();
                    self.mail.hold(usize::from(mail.to), Mailed { node, from: mail.from, body });
                }
                Err(_) => self.mail.dropped = self.mail.dropped.saturating_add(1),
            }
        }
        // The last message taken is placed if it can be; otherwise it
        // waits for room, and nothing more is taken meanwhile.
        if let Some(index) = self.mail.place_held(deliverable)
            && let Some(child) = children.get(index)
        {
            w.notify(child.spec.channel);
        }
    }

    /// Refuses a request: records the first of a run of identical
    /// denials, counts the rest ([`crate::coalesce`]). Returns the error
    /// the worknode is answered with; the refusal stands whether or not the
    /// record could be written.
    fn deny(
        &mut self,
        w: &mut impl World,
        index: usize,
        key: Key,
        lineage: Lineage,
        bytes: &[u8],
        now: Millis,
    ) -> ErrorCode {
        let Key { reason, what, resource, cap } = key;
        debug_assert_ne!(reason, Reason::Allowed, "only refusals are denials");
        let error = reason.error().unwrap_or(ErrorCode::Internal);
        match self.denials.denied(index, key, now) {
            Seen::Repeat { flush: false } => return error,
            Seen::Repeat { flush: true } => {
                let _ = self.write_repeats(w, index);
                return error;
            }
            Seen::New => {}
        }
        if self.settle_run(w, index).is_err() {
            return error;
        }
        let name = self.name(index);
        let record = AuditRecord {
            version: AUDIT_RECORD_VERSION,
            at: now,
            actor: gate::actor(name),
            principal: lineage.principal,
            intent: lineage.intent,
            task: lineage.task,
            what,
            resource,
            reason: reason.code(),
            cap,
            repeats: 0,
            payload: gate::payload(bytes),
        };
        if let Ok(seq) = self.append(w, &record, Room::Ordinary) {
            self.denials.close(index);
            self.denials.open(index, key, lineage, now);
            if let Some(unprinted) = self.denials.news(index, reason, what, resource) {
                let asked = Asked(what);
                match unprinted {
                    0 => w.print(format_args!(
                        "{}{name}: {} ({asked} on {resource}), {}{seq}",
                        m::DENIED,
                        reason.name(),
                        m::AUDIT_SEQ
                    )),
                    n => w.print(format_args!(
                        "{}{name}: {} ({asked} on {resource}), {}{seq} ({n} denials since the last printed \
                         were audited, not printed)",
                        m::DENIED,
                        reason.name(),
                        m::AUDIT_SEQ
                    )),
                }
            }
        }
        error
    }

    /// Writes the count of child `index`'s unrecorded repeats, if any, and
    /// ends its run: before any other record of that child.
    fn settle_run(&mut self, w: &mut impl World, index: usize) -> Result<(), ErrorCode> {
        self.write_repeats(w, index)?;
        self.denials.close(index);
        Ok(())
    }

    /// Writes the count of child `index`'s unrecorded repeats, if any; the
    /// run stays open. On failure the count is kept for the next try.
    fn write_repeats(&mut self, w: &mut impl World, index: usize) -> Result<(), ErrorCode> {
        let Some(run) = self.denials.take_repeats(index) else { return Ok(()) };
        let record = self.repeats_record(index, &run);
        match self.append(w, &record, Room::Ordinary) {
            Ok(_) => Ok(()),
            Err(e) => {
                self.denials.restore(index, run);
                Err(e)
            }
        }
    }

    fn repeats_record(&self, index: usize, run: &Run) -> AuditRecord<'static> {
        AuditRecord {
            version: AUDIT_RECORD_VERSION,
            at: run.last_at,
            actor: gate::actor(self.name(index)),
            principal: run.lineage.principal,
            intent: run.lineage.intent,
            task: run.lineage.task,
            what: run.key.what,
            resource: run.key.resource,
            reason: run.key.reason.code(),
            cap: run.key.cap,
            repeats: run.repeats,
            payload: Bytes::new(&[]).unwrap_or_else(|_| unreachable!("empty fits")),
        }
    }

    // --- the log -------------------------------------------------------

    /// Appends a record durably; reports a failure on the console once per
    /// change of error.
    fn append(&mut self, w: &mut impl World, record: &AuditRecord<'_>, room: Room) -> Result<u64, ErrorCode> {
        match self.log {
            LogState::Ready => {}
            LogState::Absent => return Err(ErrorCode::NotFound),
            LogState::Waiting => return Err(ErrorCode::InvalidState),
            LogState::Refused(e) => return Err(e),
        }
        self.buf.clear();
        record.encode_into(&mut self.buf).map_err(|_| ErrorCode::TooLarge)?;
        match w.append(&self.buf, room) {
            Ok(seq) => {
                self.log_error = None;
                Ok(seq)
            }
            Err(e) => {
                self.log_failed(w, e);
                Err(e)
            }
        }
    }

    /// Tells the console the log refused a write, once per change of error.
    fn log_failed(&mut self, w: &mut impl World, e: ErrorCode) {
        if self.log_error != Some(e) {
            self.log_error = Some(e);
            w.print(format_args!("{}{e}; what needs a record is refused meanwhile", m::LOG_FAILED));
        }
    }

    /// Appends a stop's record in the reserved room, or keeps it for the
    /// log if it is not ready yet. Never fails: the answer says where the
    /// record went.
    fn append_stop(&mut self, w: &mut impl World, record: &AuditRecord<'_>) -> Audited {
        match self.log {
            LogState::Ready => match self.append(w, record, Room::Reserved) {
                Ok(seq) => Audited::Seq(seq),
                Err(e) => Audited::Missing(e),
            },
            LogState::Waiting => {
                let mut encoded = Vec::new();
                if record.encode_into(&mut encoded).is_err() {
                    return Audited::Missing(ErrorCode::TooLarge);
                }
                match self.pending.push_back(encoded) {
                    Ok(()) => Audited::Pending,
                    Err(_) => Audited::Missing(ErrorCode::Exhausted),
                }
            }
            LogState::Absent => Audited::Missing(ErrorCode::NotFound),
            LogState::Refused(e) => Audited::Missing(e),
        }
    }

    /// The log PD said it is ready: learn whether it has a log, and if so
    /// write what waited and start the held children.
    fn log_ready(&mut self, w: &mut impl World, now: Millis) {
        if self.log != LogState::Waiting {
            self.stray = self.stray.saturating_add(1);
            return;
        }
        // On a node with a network, the log is bound to this node before
        // anything is written to it: another node's is refused like a
        // foreign disk. The claim comes before the status: a blank disk's
        // new log is formatted again for this node by it, and the status
        // then gives the new identity.
        let claimed = if self.config.net.is_some() { w.log_claim() } else { Ok(()) };
        let opened = claimed.and_then(|()| w.log_status());
        let status = match opened {
            Ok(status) => status,
            Err(e) => {
                self.log = LogState::Refused(e);
                w.print(format_args!(
                    "{}{e}): it was left as it was, and `worknode log inspect <disk image>` shows what it \
                     holds. No worknode will start; the console works, and the principal's stops work \
                     without their records.",
                    m::LOG_REFUSED
                ));
                let lost = self.pending.len();
                self.pending.clear();
                if lost > 0 {
                    w.print(format_args!(
                        "{}{lost} stop records that waited for the log are lost",
                        m::GOVERNOR
                    ));
                }
                return;
            }
        };
        self.log = LogState::Ready;
        w.print(format_args!("{}{} log_id={:016x}", m::LOG_READY, status.recovered, status.log_id));
        if status.recovered > 0 {
            self.report_last(w, status.recovered);
        }
        if self.config.raft.is_some() {
            self.find_replicated(w, status.recovered);
        }
        let waited = self.pending.len();
        let mut written = 0;
        // Bounded by the queue's capacity.
        while let Some(record) = self.pending.pop_front() {
            match w.append(&record, Room::Reserved) {
                Ok(_) => written += 1,
                Err(e) => w.print(format_args!(
                    "{}a stop record that waited for the log was refused: {e}",
                    m::GOVERNOR
                )),
            }
        }
        if waited > 0 {
            w.print(format_args!(
                "{}wrote {written} of {waited} stop records that waited for the log",
                m::GOVERNOR
            ));
        }
        for index in 0..self.children.len() {
            if self
                .children
                .get(index)
                .is_some_and(|c| c.stage == Stage::Held && c.standing == Standing::Running)
            {
                self.start_child(w, index, now);
            }
        }
        self.check_boot(w);
    }

    /// Reads the last record back from the log and names its source: the
    /// record recovery ended with.
    fn report_last(&mut self, w: &mut impl World, seq: u64) {
        match w.read_record(seq) {
            Ok(payload) => match AuditRecord::decode(&payload) {
                Some(record) => {
                    let outcome = if record.allowed() { "allowed" } else { "denied" };
                    let len = record.payload.len();
                    match record.actor {
                        Actor::Worknode(name) => w.print(format_args!(
                            "{}{seq} from {} ({len} bytes, {outcome})",
                            m::LAST_EVENT,
                            Escaped(&name)
                        )),
                        Actor::Principal(_) => w.print(format_args!(
                            "{}{seq} from the principal ({len} bytes, {outcome})",
                            m::LAST_EVENT
                        )),
                    }
                }
                None => w.print(format_args!("{}{seq} is not a governor record", m::LAST_EVENT)),
            },
            Err(e) => w.print(format_args!("{}cannot read back record {seq}: {e}", m::GOVERNOR)),
        }
    }

    /// Records that a held child starts, then lets its thread run.
    fn start_child(&mut self, w: &mut impl World, index: usize, now: Millis) {
        let Some(&child) = self.children.get(index) else { return };
        debug_assert_eq!(child.stage, Stage::Held);
        let name = child.spec.name;
        let record = gate::lifecycle_record(
            name,
            self.gate.boot_lineage(index),
            Lifecycle::Started,
            Reason::Allowed,
            index,
            &[],
            now,
        );
        let Ok(seq) = self.append(w, &record, Room::Ordinary) else { return };
        match w.start(child.spec.child_id) {
            Ok(()) => {
                if let Some(child) = self.children.get_mut(index) {
                    child.stage = Stage::Started;
                }
                w.print(format_args!("{}{name}; {}{seq}", m::STARTED, m::AUDIT_SEQ));
            }
            Err(e) => w.print(format_args!("{}could not start {name} (audit seq={seq}): {e}", m::GOVERNOR)),
        }
    }

    fn check_boot(&mut self, w: &mut impl World) {
        if self.boot_reported || self.log != LogState::Ready || !self.children.settled() {
            return;
        }
        self.boot_reported = true;
        let s = self.children.summary();
        debug_assert_eq!(s.ready + s.faulted + s.halted, s.children);
        w.print(format_args!(
            "{}children={} ready={} faulted={} halted={}",
            m::BOOT_COMPLETE,
            s.children,
            s.ready,
            s.faulted,
            s.halted
        ));
    }

    // --- the principal's console ---------------------------------------

    fn read_console(&mut self, w: &mut impl World, now: Millis) {
        for _ in 0..LINES_PER_NOTIFICATION {
            match w.console_line() {
                Ok(Some(line)) => self.command(w, &line, now),
                Ok(None) => break,
                Err(e) => {
                    w.print(format_args!("{}console read failed: {e}", m::GOVERNOR));
                    break;
                }
            }
        }
    }

    /// Carries out one line the principal typed.
    pub fn command(&mut self, w: &mut impl World, line: &str, now: Millis) {
        w.print(format_args!("{}{}", m::ECHO, Escaped(line)));
        let command = match control::parse(line) {
            Ok(command) => command,
            Err(e) => {
                w.print(format_args!("{}{} (help lists the commands)", m::PRINCIPAL, e.message()));
                return;
            }
        };
        let named = |name: &str| self.children.by_name(name).ok_or(ControlError::UnknownWorknode);
        let result = match command {
            Command::Help => {
                for syntax in control::HELP {
                    w.print(format_args!("{}  {syntax}", m::GOVERNOR));
                }
                Ok(())
            }
            Command::List => {
                self.list(w, now);
                Ok(())
            }
            Command::Grant { worknode, .. } => {
                named(worknode).and_then(|child| self.table_change(w, &command, Some(child), line, now))
            }
            Command::Revoke { .. } => self.table_change(w, &command, None, line, now),
            Command::Suspend { worknode } => {
                named(worknode).and_then(|i| self.stop_control(w, i, Control::Suspend, line, now))
            }
            Command::Halt { worknode } => {
                named(worknode).and_then(|i| self.stop_control(w, i, Control::Halt, line, now))
            }
            Command::Resume { worknode } => named(worknode).and_then(|i| self.resume(w, i, line, now)),
        };
        if let Err(e) = result {
            w.print(format_args!("{}refused: {e}", m::PRINCIPAL));
        }
    }

    /// A grant or revoke: planned on a copy, recorded, then committed.
    fn table_change(
        &mut self,
        w: &mut impl World,
        command: &Command<'_>,
        child: Option<usize>,
        line: &str,
        now: Millis,
    ) -> Result<(), ControlError> {
        let plan = self.gate.plan(command, child, now)?;
        let (control, resource, cap) = match plan.done {
            Planned::Granted(cap) => (Control::Grant, child.unwrap_or(0) as u32, Some(cap)),
            Planned::Revoked { cap, .. } => (Control::Revoke, cap, Some(cap)),
        };
        if let Some(child) = child {
            let _ = self.settle_run(w, child);
        }
        match self.append(w, &gate::control_record(control, resource, cap, line, now), Room::Ordinary) {
            Ok(seq) => {
                let done = plan.done;
                self.gate.commit(plan);
                match done {
                    Planned::Granted(cap) => {
                        w.print(format_args!("{}granted cap {cap}; {}{seq}", m::PRINCIPAL, m::AUDIT_SEQ));
                        // News for the holder: what it was refused may be
                        // allowed now.
                        if let Some(holder) = child.and_then(|i| self.children.get(i))
                            && holder.stage == Stage::Ready
                        {
                            w.notify(holder.spec.channel);
                        }
                    }
                    Planned::Revoked { count, .. } => w.print(format_args!(
                        "{}revoked {count} capabilities; {}{seq}",
                        m::PRINCIPAL,
                        m::AUDIT_SEQ
                    )),
                }
            }
            Err(e) => w.print(format_args!("{}: the audit record could not be written ({e})", m::NOT_DONE)),
        }
        Ok(())
    }

    /// Halt or suspend: never blocked (see the module documentation).
    fn stop_control(
        &mut self,
        w: &mut impl World,
        index: usize,
        control: Control,
        line: &str,
        now: Millis,
    ) -> Result<(), ControlError> {
        let Some(&child) = self.children.get(index) else { return Err(ControlError::UnknownWorknode) };
        let (standing, verb) = match (control, child.standing) {
            (_, Standing::Halted) if control == Control::Halt => return Err(ControlError::Already),
            (_, Standing::Halted) => return Err(ControlError::Halted),
            (Control::Suspend, Standing::Suspended) => return Err(ControlError::Already),
            (Control::Halt, _) => (Standing::Halted, "halted"),
            _ => (Standing::Suspended, "suspended"),
        };
        // Its repeats are recorded before its stop (best effort: the stop
        // does not wait for them).
        let _ = self.settle_run(w, index);
        let audited = self.append_stop(w, &gate::control_record(control, index as u32, None, line, now));
        let stopped = if child.runs() { w.stop(child.spec.child_id) } else { Ok(()) };
        if let Some(child) = self.children.get_mut(index) {
            child.standing = standing;
        }
        let name = child.spec.name;
        match stopped {
            Ok(()) => w.print(format_args!("{}{verb} {name}; {audited}", m::PRINCIPAL)),
            Err(e) => w.print(format_args!(
                "{}{verb} {name}; {audited}; its thread could not be stopped: {e}",
                m::PRINCIPAL
            )),
        }
        self.check_boot(w);
        Ok(())
    }

    fn resume(
        &mut self,
        w: &mut impl World,
        index: usize,
        line: &str,
        now: Millis,
    ) -> Result<(), ControlError> {
        let Some(&child) = self.children.get(index) else { return Err(ControlError::UnknownWorknode) };
        match child.standing {
            Standing::Halted => return Err(ControlError::Halted),
            Standing::Running => return Err(ControlError::NotSuspended),
            Standing::Suspended => {}
        }
        let record = gate::control_record(Control::Resume, index as u32, None, line, now);
        let seq = match self.append(w, &record, Room::Ordinary) {
            Ok(seq) => seq,
            Err(e) => {
                w.print(format_args!("{}: the audit record could not be written ({e})", m::NOT_DONE));
                return Ok(());
            }
        };
        if let Some(child) = self.children.get_mut(index) {
            child.standing = Standing::Running;
        }
        let name = child.spec.name;
        w.print(format_args!("{}resumed {name}; {}{seq}", m::PRINCIPAL, m::AUDIT_SEQ));
        match child.stage {
            Stage::Started | Stage::Greeted | Stage::Ready => {
                if let Err(e) = w.start(child.spec.child_id) {
                    w.print(format_args!("{}could not let {name} run: {e}", m::GOVERNOR));
                }
            }
            Stage::Held if self.log == LogState::Ready => self.start_child(w, index, now),
            Stage::Held | Stage::Faulted => {}
        }
        Ok(())
    }

    /// `list`: the log, then every worknode with its stage, standing and
    /// capabilities (dead ones too, while the table keeps them). Writes the
    /// counts of denials still in memory first, so the trail is exact.
    fn list(&mut self, w: &mut impl World, now: Millis) {
        if self.log == LogState::Ready {
            let mut waiting: Vec<usize, { crate::limits::MAX_CHILDREN }> = self.denials.pending().collect();
            for index in waiting.drain(..) {
                let _ = self.write_repeats(w, index);
            }
        }
        match self.log {
            LogState::Ready => w.print(format_args!("{}log: ready", m::GOVERNOR)),
            LogState::Waiting => w.print(format_args!("{}log: not ready yet", m::GOVERNOR)),
            LogState::Absent => w.print(format_args!("{}log: none on this system", m::GOVERNOR)),
            LogState::Refused(e) => {
                w.print(format_args!("{}log: the disk holds no usable log ({e})", m::GOVERNOR))
            }
        }
        let authority = self.gate.authority();
        for (index, child) in self.children.iter().enumerate() {
            w.print(format_args!(
                "{}{} #{index}: {:?}, {:?}",
                m::GOVERNOR,
                child.spec.name,
                child.stage,
                child.standing
            ));
            let subject = index as u16;
            for cap in authority.caps_of(subject) {
                let g = cap.grant;
                let on = Span(g.resources.first, g.resources.last);
                let state = authority.state(cap, now).name();
                if g.expires == FOREVER {
                    w.print(format_args!(
                        "{}  cap {}: {} on {on}, forever ({state})",
                        m::GOVERNOR,
                        cap.id,
                        g.actions
                    ));
                } else {
                    w.print(format_args!(
                        "{}  cap {}: {} on {on}, until {} ms, now {now} ({state})",
                        m::GOVERNOR,
                        cap.id,
                        g.actions,
                        g.expires
                    ));
                }
            }
            if child.notifications > 0 {
                w.print(format_args!(
                    "{}  {} notifications from it ignored",
                    m::GOVERNOR,
                    child.notifications
                ));
            }
        }
        if self.stray > 0 {
            w.print(format_args!("{}{} stray notifications ignored", m::GOVERNOR, self.stray));
        }
        if self.config.raft.is_some() {
            self.list_cluster(w);
        }
    }

    /// `list`'s lines about the cluster: Strong events and their latency
    /// (queued to outcome), and the copy of the cluster's events.
    fn list_cluster(&self, w: &mut impl World) {
        let s = &self.strong;
        let (p50, p99) = (s.latency_percentile(50).unwrap_or(0), s.latency_percentile(99).unwrap_or(0));
        w.print(format_args!(
            "{}strong: committed={} held={} dropped={} latency_p50_ms={p50} latency_p99_ms={p99}",
            m::GOVERNOR,
            s.committed,
            s.held(),
            s.dropped
        ));
        let r = &self.replicated;
        w.print(format_args!(
            "{}replicated: last={} again={} undecodable={} unwritten={}",
            m::GOVERNOR,
            r.last(),
            r.again,
            r.undecodable,
            r.unwritten
        ));
    }
}
