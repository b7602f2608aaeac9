//! A simulated world for the governor core, and the checks its effects
//! must pass: for the tests, the property tests and the fuzz target. Only
//! with the `sim` feature (it needs an allocator); never in a PD build.
//!
//! [`SimWorld`] keeps an event log in memory that can be told to refuse
//! (as a failing disk, or a full one that still takes reserved appends),
//! the console's pending lines, and which child threads run; it records
//! every effect in order. [`check`] then judges the trace:
//!
//! - no effect before its record is durable: every worknode console line,
//!   every governor line about a worknode, every "start" notification,
//!   every thread let run, and every successful reply is covered by a
//!   record appended before it, that says exactly that;
//! - each record covers one effect of its kind (a line printed twice on
//!   one record is caught).
//!
//! [`Driver`] runs random inputs (bytes, for the fuzzer; a seed, for the
//! property tests) through a governor and a world, checks the trace, and
//! checks per input that a failed append changed nothing and that the
//! principal's stop took effect.

extern crate alloc;

use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use worknode_abi::ErrorCode;
use worknode_abi::audit::{Actor, AuditRecord, Control, Lifecycle, What};
use worknode_abi::frame;
use worknode_abi::governor::{Reply, Request, Response};
use worknode_abi::log::{MAX_RECORD, ReplicatedRecord, Room};
use worknode_abi::markers as m;
use worknode_authority::{Actions, Standing};

use crate::children::{ChildSpec, Stage};
use crate::governor::{Config, Governor};
use crate::world::{LogStatus, World};

/// One effect, in the order the core caused it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant, reason = "host-only traces, kept in a Vec: their size does not matter")]
pub enum Effect {
    /// A record became durable at `seq`.
    Appended {
        /// Its sequence number.
        seq: u64,
        /// Its room.
        room: Room,
        /// Its bytes.
        record: Vec<u8>,
    },
    /// An append was refused.
    Refused {
        /// Its room.
        room: Room,
        /// Why.
        error: ErrorCode,
    },
    /// A console line.
    Print(String),
    /// A notification to the child on this channel.
    Notify(usize),
    /// A child's thread stopped.
    Stop(usize),
    /// A child's thread let run.
    Start(usize),
    /// Mail handed to the network PD for `node`.
    NetSend {
        /// The receiving node.
        node: u8,
        /// The encoded mail.
        mail: Vec<u8>,
    },
    /// A Strong event's proposal put on the queue to the Raft PD.
    Propose {
        /// The encoded proposal.
        proposal: Vec<u8>,
    },
    /// A read of a Strong event put on the queue to the Raft PD.
    ReadAsked {
        /// The encoded read request.
        request: Vec<u8>,
    },
    /// The reply to a call from the child on this channel (the driver
    /// adds it).
    Reply {
        /// The caller's channel.
        channel: usize,
        /// What it asked ([`asked`]).
        asked: u8,
        /// The answer.
        response: Response,
    },
}

/// How the simulated log answers appends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogMode {
    /// Every append is durable.
    Healthy,
    /// Ordinary appends are refused as full; reserved ones succeed.
    Full,
    /// Every append fails with this error.
    Failing(ErrorCode),
}

/// See the module documentation.
pub struct SimWorld {
    /// Everything the core did.
    pub effects: Vec<Effect>,
    /// The durable records, from seq `first_seq`.
    pub records: Vec<Vec<u8>>,
    /// Sequence number of `records[0]`.
    pub first_seq: u64,
    /// How appends are answered.
    pub mode: LogMode,
    /// What the log says when asked for its status.
    pub status: Result<LogStatus, ErrorCode>,
    /// What a claim of the log answers (`Err(Denied)`: another node's).
    pub claim: Result<(), ErrorCode>,
    /// Claims made.
    pub claims: u32,
    /// Lines the principal typed, not yet read.
    pub console: VecDeque<String>,
    /// Children whose threads run, by child id.
    pub running: BTreeMap<usize, bool>,
    /// The nodes with an open stream (bit = node); this node is node 0.
    pub net_open: u64,
    /// Why the network PD refuses the next sends, if it does.
    pub net_refuses: Option<ErrorCode>,
    /// Messages that arrived for the governor: (node, bytes).
    pub net_inbox: VecDeque<(u8, Vec<u8>)>,
    /// The queue to the Raft PD: proposals and reads not yet taken, with
    /// their `to`.
    pub strong_ring: VecDeque<(u8, Vec<u8>)>,
    /// Proposals the Raft PD took and has not settled, oldest first.
    pub strong_proposed: VecDeque<Vec<u8>>,
    /// Reads the Raft PD took and has not answered, oldest first.
    pub strong_reading: VecDeque<Vec<u8>>,
    /// The Raft PD's answers to proposals it took, not yet read.
    pub strong_answers: VecDeque<Result<u64, ErrorCode>>,
    /// Messages that arrived from the Raft PD, not yet read: (kind,
    /// bytes), outcomes and the cluster's events.
    pub strong_inbox: VecDeque<(u8, Vec<u8>)>,
    /// Records appended without waiting, not yet durable (a `sync` or an
    /// `append` makes them so; the log PD's group commit).
    pub later: Vec<Vec<u8>>,
}

/// Proposals the simulated queue to the Raft PD holds.
pub const STRONG_RING: usize = 4;

/// What a request asks, as [`Effect::Reply`] says it: its variant's tag,
/// or [`UNDECODABLE`].
pub fn asked(request: &Request<'_>) -> u8 {
    match request {
        Request::Hello => 0,
        Request::Ready => 1,
        Request::Log { .. } => 2,
        Request::Record { .. } => 3,
        Request::RecordTo { .. } => 4,
        Request::Send { .. } => 5,
        Request::Receive => 6,
        Request::RecordStrong { .. } => 7,
        Request::Outcome => 8,
        Request::ReadStrong { .. } => 9,
    }
}

/// What an undecodable call asked.
pub const UNDECODABLE: u8 = 255;

impl SimWorld {
    /// A world whose log recovered `recovered` records (they are not
    /// governor records) and answers as `status` says.
    pub fn new(status: Result<LogStatus, ErrorCode>) -> SimWorld {
        let recovered = status.map_or(0, |s| s.recovered);
        SimWorld {
            effects: Vec::new(),
            records: (0..recovered).map(|_| b"older".to_vec()).collect(),
            first_seq: 1,
            mode: LogMode::Healthy,
            status,
            claim: Ok(()),
            claims: 0,
            console: VecDeque::new(),
            running: BTreeMap::new(),
            net_open: 0,
            net_refuses: None,
            net_inbox: VecDeque::new(),
            strong_ring: VecDeque::new(),
            strong_proposed: VecDeque::new(),
            strong_reading: VecDeque::new(),
            strong_answers: VecDeque::new(),
            strong_inbox: VecDeque::new(),
            later: Vec::new(),
        }
    }

    /// The simulated Raft PD takes the oldest proposal or read off the
    /// queue: proposes or asks it (under sequence number `seq`) or refuses
    /// it.
    pub fn raft_takes(&mut self, seq: u64, refuse: bool) {
        let Some((to, message)) = self.strong_ring.pop_front() else { return };
        if refuse {
            self.strong_answers.push_back(Err(ErrorCode::Malformed));
        } else if to == worknode_abi::strong::READ {
            self.strong_answers.push_back(Ok(seq));
            self.strong_reading.push_back(message);
        } else {
            self.strong_answers.push_back(Ok(seq));
            self.strong_proposed.push_back(message);
        }
    }

    /// The simulated Raft PD answers its oldest read: `count` events
    /// committed, `index` applied, and the event if `event` is some (else
    /// not yet).
    pub fn raft_answers(&mut self, count: u64, index: u64, event: Option<&[u8]>) {
        use worknode_abi::strong::{ReadAnswer, ReadFound, ReadRequest};
        let Some(bytes) = self.strong_reading.pop_front() else { return };
        let Ok(r) = ReadRequest::decode(&bytes) else { return };
        let found = match event {
            Some(event) => ReadFound::Event {
                proposer: 1,
                seq: 2,
                worknode: 3,
                event: event.try_into().unwrap_or_default(),
            },
            None => ReadFound::NotYet,
        };
        let answer = ReadAnswer {
            version: r.version,
            worknode: r.worknode,
            ticket: r.ticket,
            number: r.number,
            count,
            index,
            found,
        };
        let mut buf = [0u8; worknode_abi::strong::MAX_READ_ANSWER];
        if let Ok(bytes) = answer.encode(&mut buf) {
            self.strong_inbox.push_back((worknode_abi::strong::READ_ANSWER, bytes.to_vec()));
        }
    }

    /// The simulated Raft PD commits its oldest proposal at `index`.
    pub fn raft_commits(&mut self, index: u64) {
        let Some(bytes) = self.strong_proposed.pop_front() else { return };
        let Ok(p) = worknode_abi::strong::Proposal::decode(&bytes) else { return };
        let outcome = worknode_abi::strong::Outcome {
            version: p.version,
            worknode: p.worknode,
            ticket: p.ticket,
            index,
        };
        let mut buf = [0u8; worknode_abi::strong::MAX_OUTCOME];
        if let Ok(bytes) = outcome.encode(&mut buf) {
            self.strong_inbox.push_back((worknode_abi::strong::OUTCOME, bytes.to_vec()));
        }
    }

    /// The simulated Raft PD hands over the cluster's event `number`
    /// (proposed by node `proposer`, its `seq`-th), with `event`.
    pub fn raft_applies(&mut self, number: u64, proposer: u8, seq: u64, event: &[u8]) {
        let applied = worknode_abi::strong::Applied {
            version: worknode_abi::strong::STRONG_VERSION,
            number,
            proposer,
            seq,
            worknode: 0,
            event: event.try_into().unwrap_or_default(),
        };
        let mut buf = [0u8; worknode_abi::strong::MAX_APPLIED];
        if let Ok(bytes) = applied.encode(&mut buf) {
            self.strong_inbox.push_back((worknode_abi::strong::APPLIED, bytes.to_vec()));
        }
    }

    /// Makes the records appended without waiting durable, in order.
    fn flush_later(&mut self) {
        for record in core::mem::take(&mut self.later) {
            self.records.push(record.clone());
            let seq = self.first_seq + self.records.len() as u64 - 1;
            self.effects.push(Effect::Appended { seq, room: Room::Ordinary, record });
        }
    }

    /// Every console line so far.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.effects.iter().filter_map(|e| match e {
            Effect::Print(line) => Some(line.as_str()),
            _ => None,
        })
    }

    /// The durable record `seq`, decoded as an audit record.
    pub fn audit(&self, seq: u64) -> Option<AuditRecord<'_>> {
        let at = usize::try_from(seq.checked_sub(self.first_seq)?).ok()?;
        AuditRecord::decode(self.records.get(at)?)
    }

    /// Whether the thread of `child_id` runs.
    pub fn runs(&self, child_id: usize) -> bool {
        self.running.get(&child_id).copied().unwrap_or(true)
    }
}

impl World for SimWorld {
    fn append(&mut self, record: &[u8], room: Room) -> Result<u64, ErrorCode> {
        let refused = match (self.mode, room) {
            (LogMode::Healthy, _) | (LogMode::Full, Room::Reserved) => None,
            (LogMode::Full, Room::Ordinary) => Some(ErrorCode::Exhausted),
            (LogMode::Failing(e), _) => Some(e),
        };
        if let Some(error) = refused {
            self.effects.push(Effect::Refused { room, error });
            return Err(error);
        }
        assert!(record.len() <= MAX_RECORD, "a record the log PD could not take");
        self.flush_later();
        self.records.push(record.to_vec());
        let seq = self.first_seq + self.records.len() as u64 - 1;
        self.effects.push(Effect::Appended { seq, room, record: record.to_vec() });
        Ok(seq)
    }

    fn append_later(&mut self, record: &[u8]) -> Result<u64, ErrorCode> {
        let refused = match self.mode {
            LogMode::Healthy => None,
            LogMode::Full => Some(ErrorCode::Exhausted),
            LogMode::Failing(e) => Some(e),
        };
        if let Some(error) = refused {
            self.effects.push(Effect::Refused { room: Room::Ordinary, error });
            return Err(error);
        }
        assert!(record.len() <= MAX_RECORD, "a record the log PD could not take");
        self.later.push(record.to_vec());
        Ok(self.first_seq + (self.records.len() + self.later.len()) as u64 - 1)
    }

    fn sync(&mut self) -> Result<u64, ErrorCode> {
        if let LogMode::Failing(error) = self.mode {
            // The batch is lost with the flush.
            self.later.clear();
            self.effects.push(Effect::Refused { room: Room::Ordinary, error });
            return Err(error);
        }
        self.flush_later();
        Ok(self.first_seq + self.records.len() as u64 - 1)
    }

    fn log_status(&mut self) -> Result<LogStatus, ErrorCode> {
        self.status
    }

    fn log_claim(&mut self) -> Result<(), ErrorCode> {
        self.claims += 1;
        self.claim
    }

    fn read_record(&mut self, seq: u64) -> Result<heapless::Vec<u8, MAX_RECORD>, ErrorCode> {
        let at = seq.checked_sub(self.first_seq).ok_or(ErrorCode::NotFound)?;
        let record = self.records.get(at as usize).ok_or(ErrorCode::NotFound)?;
        heapless::Vec::from_slice(record).map_err(|_| ErrorCode::TooLarge)
    }

    fn console_line(
        &mut self,
    ) -> Result<Option<heapless::String<{ worknode_abi::console::MAX_LINE }>>, ErrorCode> {
        Ok(self.console.pop_front().map(|line| heapless::String::try_from(line.as_str()).unwrap_or_default()))
    }

    fn print(&mut self, line: fmt::Arguments<'_>) {
        self.effects.push(Effect::Print(line.to_string()));
    }

    fn notify(&mut self, channel: usize) {
        self.effects.push(Effect::Notify(channel));
    }

    fn stop(&mut self, child_id: usize) -> Result<(), ErrorCode> {
        self.running.insert(child_id, false);
        self.effects.push(Effect::Stop(child_id));
        Ok(())
    }

    fn start(&mut self, child_id: usize) -> Result<(), ErrorCode> {
        self.running.insert(child_id, true);
        self.effects.push(Effect::Start(child_id));
        Ok(())
    }

    fn net_open(&mut self, node: u8) -> Result<bool, ErrorCode> {
        match node {
            0 | 8.. => Err(ErrorCode::NotFound),
            _ => Ok(self.net_open & (1 << node) != 0),
        }
    }

    fn net_send(&mut self, node: u8, mail: &[u8]) -> Result<(), ErrorCode> {
        if let Some(e) = self.net_refuses {
            return Err(e);
        }
        assert!(mail.len() <= worknode_abi::net::MAX_NET_BODY, "mail the network PD could not take");
        self.effects.push(Effect::NetSend { node, mail: mail.to_vec() });
        Ok(())
    }

    fn net_receive(
        &mut self,
    ) -> Result<Option<(u8, heapless::Vec<u8, { worknode_abi::net::MAX_NET_BODY }>)>, ErrorCode> {
        Ok(self
            .net_inbox
            .pop_front()
            .map(|(node, bytes)| (node, heapless::Vec::from_slice(&bytes).unwrap_or_default())))
    }

    fn strong_room(&mut self) -> bool {
        self.strong_ring.len() < STRONG_RING
    }

    fn strong_send(&mut self, to: u8, message: &[u8]) -> Result<(), ErrorCode> {
        if !self.strong_room() {
            return Err(ErrorCode::Exhausted);
        }
        assert!(message.len() <= worknode_abi::net::MAX_QUEUED_BODY, "a message the queue could not take");
        self.strong_ring.push_back((to, message.to_vec()));
        self.effects.push(if to == worknode_abi::strong::READ {
            Effect::ReadAsked { request: message.to_vec() }
        } else {
            Effect::Propose { proposal: message.to_vec() }
        });
        Ok(())
    }

    fn strong_taken(&mut self, taken: &mut dyn FnMut(Result<u64, ErrorCode>)) {
        while let Some(answer) = self.strong_answers.pop_front() {
            taken(answer);
        }
    }

    fn strong_arrived(
        &mut self,
    ) -> Result<Option<(u8, heapless::Vec<u8, { crate::world::MAX_ARRIVED }>)>, ErrorCode> {
        Ok(self
            .strong_inbox
            .pop_front()
            .map(|(kind, b)| (kind, heapless::Vec::from_slice(&b).unwrap_or_default())))
    }

    fn strong_wait(&mut self) -> bool {
        self.strong_answers.is_empty() && self.strong_inbox.is_empty()
    }
}

/// What a durable record allows to happen once.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Cover {
    /// A worknode's console line with this text.
    Line { who: String, text: Vec<u8> },
    /// A governor line that names this record.
    Named(u64),
    /// A "start" notification to this worknode.
    Notify(String),
    /// Letting this worknode's thread run.
    Start(String),
    /// Handing this worknode's mail to the network PD.
    NetSend(String),
    /// Handing this worknode's Strong event to the Raft PD.
    Propose(String),
    /// Handing this worknode's read to the Raft PD.
    Read(String),
    /// A successful reply of this kind to this worknode (`seq` for
    /// `Recorded`).
    Reply { who: String, asked: u8, seq: Option<u64> },
}

/// Judges a trace (see the module documentation); `specs` names the
/// children. Returns the first effect that nothing durable covers.
pub fn check(effects: &[Effect], specs: &[ChildSpec]) -> Result<(), String> {
    let by_channel = |c: usize| specs.iter().find(|s| s.channel == c).map(|s| s.name);
    let by_id = |c: usize| specs.iter().find(|s| s.child_id == c).map(|s| s.name);
    let mut covers: Vec<Cover> = Vec::new();
    let mut durable: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut replicated = 0u64;
    let mut started: alloc::collections::BTreeSet<&str> = alloc::collections::BTreeSet::new();
    let take = |covers: &mut Vec<Cover>, want: &Cover| match covers.iter().position(|c| c == want) {
        Some(at) => {
            covers.remove(at);
            true
        }
        None => false,
    };
    for (at, effect) in effects.iter().enumerate() {
        let fail = |why: String| Err(format!("effect {at} ({effect:?}): {why}"));
        match effect {
            Effect::Appended { seq, record, .. } => {
                durable.insert(*seq, record.clone());
                // The cluster's events: a copy, no decision; their numbers
                // only grow along the log.
                if let Some(copy) = ReplicatedRecord::decode(record) {
                    if copy.applied.number <= replicated {
                        return fail(format!("replicated event {} after {replicated}", copy.applied.number));
                    }
                    replicated = copy.applied.number;
                    continue;
                }
                let Some(audit) = AuditRecord::decode(record) else {
                    return fail("the governor appended something that is not an audit record".into());
                };
                let Actor::Worknode(name) = audit.actor else {
                    covers.push(Cover::Named(*seq));
                    if audit.what == What::Control(Control::Resume as u16)
                        && let Some(spec) = specs.get(audit.resource as usize)
                    {
                        covers.push(Cover::Start(spec.name.into()));
                    }
                    continue;
                };
                let who: String = name.as_str().into();
                covers.push(Cover::Named(*seq));
                match (audit.what, audit.allowed()) {
                    (What::Action(bits), true) if bits == Actions::LOG.0 => {
                        covers.push(Cover::Line { who: who.clone(), text: audit.payload.to_vec() });
                        covers.push(Cover::Reply { who, asked: 2, seq: None });
                    }
                    (What::Action(bits), true) if bits == Actions::RECORD.0 => {
                        covers.push(Cover::Reply { who: who.clone(), asked: 3, seq: Some(*seq) });
                        covers.push(Cover::Reply { who: who.clone(), asked: 4, seq: Some(*seq) });
                        covers.push(Cover::Reply { who: who.clone(), asked: 7, seq: Some(*seq) });
                        covers.push(Cover::Propose(who));
                    }
                    (What::Action(bits), true) if bits == Actions::READ.0 => {
                        covers.push(Cover::Reply { who: who.clone(), asked: 9, seq: Some(*seq) });
                        covers.push(Cover::Read(who));
                    }
                    (What::Action(bits), true) if bits == Actions::SEND.0 => {
                        covers.push(Cover::NetSend(who.clone()));
                        covers.push(Cover::Reply { who, asked: 5, seq: Some(*seq) });
                    }
                    (What::Lifecycle(step), true) if step == Lifecycle::Greeted as u8 => {
                        covers.push(Cover::Notify(who.clone()));
                        covers.push(Cover::Reply { who, asked: 0, seq: None });
                    }
                    (What::Lifecycle(step), true) if step == Lifecycle::Ready as u8 => {
                        covers.push(Cover::Reply { who, asked: 1, seq: None });
                    }
                    (What::Lifecycle(step), true) if step == Lifecycle::Started as u8 => {
                        covers.push(Cover::Start(who));
                    }
                    _ => {}
                }
            }
            Effect::Refused { .. } | Effect::Stop(_) => {}
            Effect::Notify(channel) => {
                // The first notification is "start", which its greeting's
                // record covers; later ones are news (mail, the network),
                // which carry no authority.
                let who = by_channel(*channel).unwrap_or("?");
                if !take(&mut covers, &Cover::Notify(who.into())) && !started.contains(who) {
                    return fail(format!("{who} was notified without a durable greeting"));
                }
                started.insert(who);
            }
            Effect::NetSend { mail, .. } => {
                let from = worknode_abi::governor::Mail::decode(mail).map(|m| usize::from(m.from));
                let who = from.ok().and_then(|i| specs.get(i)).map_or("?", |s| s.name);
                if !take(&mut covers, &Cover::NetSend(who.into())) {
                    return fail(format!("{who}'s mail left without a durable `send` record"));
                }
            }
            Effect::Propose { proposal } => {
                let from = worknode_abi::strong::Proposal::decode(proposal).map(|p| usize::from(p.worknode));
                let who = from.ok().and_then(|i| specs.get(i)).map_or("?", |s| s.name);
                if !take(&mut covers, &Cover::Propose(who.into())) {
                    return fail(format!("{who}'s Strong event left without a durable `record` record"));
                }
            }
            Effect::ReadAsked { request } => {
                let from =
                    worknode_abi::strong::ReadRequest::decode(request).map(|r| usize::from(r.worknode));
                let who = from.ok().and_then(|i| specs.get(i)).map_or("?", |s| s.name);
                if !take(&mut covers, &Cover::Read(who.into())) {
                    return fail(format!("{who}'s read left without a durable `read` record"));
                }
            }
            Effect::Start(child_id) => {
                let who = by_id(*child_id).unwrap_or("?");
                if !take(&mut covers, &Cover::Start(who.into())) {
                    return fail(format!("{who} was let run without a durable record"));
                }
            }
            Effect::Reply { channel, asked, response } => {
                let who: String = by_channel(*channel).unwrap_or("?").into();
                let seq = match response {
                    Ok(Reply::Recorded { seq } | Reply::Sent { seq } | Reply::Pending { seq, .. }) => {
                        Some(*seq)
                    }
                    // Taking one's own mail or outcomes changes nothing but
                    // the mailbox or the table of outcomes.
                    Ok(
                        Reply::Mail { .. }
                        | Reply::Empty
                        | Reply::Committed { .. }
                        | Reply::Failed { .. }
                        | Reply::Read { .. },
                    ) => {
                        continue;
                    }
                    Ok(_) => None,
                    Err(_) => continue,
                };
                if !take(&mut covers, &Cover::Reply { who: who.clone(), asked: *asked, seq }) {
                    return fail(format!("{who} was answered {response:?} without a durable record"));
                }
            }
            Effect::Print(line) => {
                if let Some(number) = line.strip_prefix(m::GOVERNOR).and_then(durable_up_to)
                    && number > replicated
                {
                    return fail(format!("the line says {number} is durable; the log has {replicated}"));
                }
                if line.starts_with(m::GOVERNOR)
                    && let Some(seq) = named_seq(line)
                {
                    if !durable.contains_key(&seq) {
                        return fail(format!("the line names record {seq}, which is not durable"));
                    }
                    if !take(&mut covers, &Cover::Named(seq)) {
                        return fail(format!("a second line names record {seq}"));
                    }
                    continue;
                }
                if let Some((who, text)) = worknode_line(line, specs) {
                    let unescaped = unescape(text);
                    let want = Cover::Line { who: who.into(), text: unescaped.clone() };
                    if !take(&mut covers, &want) {
                        // An escaped line may have been cut: match by prefix.
                        let found = covers.iter().position(|c| {
                            matches!(c, Cover::Line { who: w, text: t } if w == who && t.starts_with(&unescaped))
                        });
                        match found {
                            Some(i) => {
                                covers.remove(i);
                            }
                            None => {
                                return fail(format!(
                                    "{who}'s line was printed without a durable `log` record"
                                ));
                            }
                        }
                    }
                    continue;
                }
                if let Some(rest) = line.strip_prefix(m::GOVERNOR) {
                    // Lines about a worknode must name their record, except
                    // a stop's whose record is missing or pending.
                    let about_worknode =
                        [m::RECORDED, m::DENIED, m::HELLO, m::STARTED].iter().any(|p| line.starts_with(p))
                            || line.contains(m::IS_READY);
                    if about_worknode {
                        return fail("a line about a worknode that names no durable record".into());
                    }
                    let stop = rest.starts_with("principal: halted ")
                        || rest.starts_with("principal: suspended ")
                        || line.starts_with(m::CHILD);
                    if line.contains(m::AUDIT_SEQ) && !stop {
                        return fail("a line names a record it does not".into());
                    }
                }
            }
        }
    }
    Ok(())
}

/// The record a governor line names (`audit seq=N`, `recorded X seq=N`).
/// The number a `replicated events durable up to number=N` line says.
fn durable_up_to(text: &str) -> Option<u64> {
    text.strip_prefix("replicated events durable up to number=")?.parse().ok()
}

fn named_seq(line: &str) -> Option<u64> {
    let after = if let Some(at) = line.find(m::AUDIT_SEQ) {
        &line[at + m::AUDIT_SEQ.len()..]
    } else if let Some(rest) = line.strip_prefix(m::RECORDED) {
        &rest[rest.rfind(" seq=")? + 5..]
    } else {
        return None;
    };
    after.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// `<child>| <text>` for a child's name.
fn worknode_line<'a>(line: &'a str, specs: &[ChildSpec]) -> Option<(&'a str, &'a str)> {
    let (who, text) = line.split_once("| ")?;
    specs.iter().any(|s| s.name == who).then_some((who, text))
}

/// Undoes [`crate::console::Escaped`].
fn unescape(text: &str) -> Vec<u8> {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let code: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                out.push(u32::from_str_radix(&code, 16).ok().and_then(char::from_u32).unwrap_or('?'));
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out.into_bytes()
}

/// The children every driver run governs.
pub const SPECS: [ChildSpec; 4] = [
    ChildSpec { name: "worknode0", child_id: 0, channel: 1 },
    ChildSpec { name: "worknode1", child_id: 1, channel: 2 },
    ChildSpec { name: "spinner", child_id: 4, channel: 5 },
    ChildSpec { name: "prober", child_id: 5, channel: 6 },
];
/// The log's channel in driver runs.
pub const LOG: usize = 0;
/// The console's channel in driver runs.
pub const SERIAL: usize = 61;
/// The network PD's channel in driver runs.
pub const NET: usize = 60;
/// The Raft PD's channel in driver runs.
pub const RAFT: usize = 59;

/// What the tables and children look like, to tell whether an input
/// changed anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    stages: Vec<(Stage, Standing)>,
    caps: Vec<(u32, bool)>,
}

/// A snapshot of `g`.
pub fn snapshot(g: &Governor) -> Snapshot {
    Snapshot {
        stages: g.children().iter().map(|c| (c.stage, c.standing)).collect(),
        caps: g.gate().authority().caps().iter().map(|c| (c.id, c.revoked)).collect(),
    }
}

/// Runs inputs drawn from `bytes` through a governor of [`SPECS`] and a
/// [`SimWorld`], checking every property after every input and the whole
/// trace at the end. Returns the world, for more checks.
pub fn drive(bytes: &[u8]) -> Result<SimWorld, String> {
    let mut input = Bytes(bytes);
    let status = match input.next() % 8 {
        0 => Err(ErrorCode::Corrupt),
        _ => Ok(LogStatus { recovered: u64::from(input.next() % 3), log_id: 7 }),
    };
    let config = Config {
        log: Some(LOG),
        serial: Some(SERIAL),
        net: Some(NET),
        raft: Some(RAFT),
        // As a cluster node's governor grants at boot.
        boot: Actions::LOG.with(Actions::RECORD).with(Actions::READ),
        print_records: true,
    };
    let mut g = Governor::new(&SPECS, config).map_err(|e| format!("{e:?}"))?;
    let mut w = SimWorld::new(status);
    let mut now = 0u64;
    g.init(&mut w);
    // Bounded by the input: every step takes at least one byte.
    while !input.0.is_empty() {
        now += u64::from(input.next()) * 7;
        let before = snapshot(&g);
        let effects_before = w.effects.len();
        let op = input.next();
        let mut stop_wanted: Option<(usize, Standing)> = None;
        let mut fail_safe = false;
        match op % 11 {
            0 => g.notified(&mut w, 1 << LOG, now),
            1..=4 => {
                let spec = SPECS[usize::from(input.next()) % SPECS.len()];
                if !w.runs(spec.child_id) {
                    continue;
                }
                let (asked, frame) = request(&mut input);
                let response = g.call(&mut w, spec.channel, Ok(&frame), now);
                w.effects.push(Effect::Reply { channel: spec.channel, asked, response });
            }
            5 => {
                let spec = SPECS[usize::from(input.next()) % SPECS.len()];
                if !w.runs(spec.child_id)
                    || g.children().get(index(spec)).is_some_and(|c| c.stage == Stage::Held)
                {
                    continue;
                }
                fail_safe = true;
                g.fault(&mut w, spec.child_id, "vm-fault addr=0x10 ip=0x1", now);
                if w.runs(spec.child_id) {
                    return Err(format!("{} faulted and still runs", spec.name));
                }
            }
            6 | 7 => {
                let line = command(&mut input, &g);
                let words: Vec<&str> = line.split(' ').collect();
                if let [verb @ ("halt" | "suspend"), name] = words.as_slice()
                    && let Some(i) = SPECS.iter().position(|s| s.name == *name)
                {
                    fail_safe = true;
                    let standing = g.children().get(i).map(|c| c.standing);
                    let next = if *verb == "halt" { Standing::Halted } else { Standing::Suspended };
                    if standing == Some(Standing::Running)
                        || (next == Standing::Halted && standing == Some(Standing::Suspended))
                    {
                        stop_wanted = Some((i, next));
                    }
                }
                w.console.push_back(line);
                g.notified(&mut w, 1 << SERIAL, now);
            }
            8 => {
                let mask = u64::from(input.next()) | (u64::from(input.next()) << 56);
                g.notified(&mut w, mask, now);
            }
            9 if input.next() % 2 == 0 => {
                // The network: streams open and close, the network PD
                // refuses sends, mail (or garbage) arrives.
                match input.next() % 4 {
                    0 => w.net_open = u64::from(input.next()),
                    1 => w.net_refuses = [None, Some(ErrorCode::Exhausted)][usize::from(input.next() % 2)],
                    _ => {
                        let node = input.next() % 4;
                        w.net_inbox.push_back((node, mail(&mut input)));
                    }
                }
                g.notified(&mut w, 1 << NET, now);
            }
            10 => {
                // The Raft PD: takes a proposal or read (or refuses it),
                // commits one, answers a read, sends an outcome that names
                // no ticket or does not decode, or hands over one of the
                // cluster's events.
                match input.next() % 6 {
                    0 => w.raft_takes(u64::from(input.next()), input.next() % 4 == 0),
                    1 => w.raft_commits(u64::from(input.next())),
                    2 => {
                        let kind = input.next() % 3;
                        w.strong_inbox
                            .push_back((kind, (0..input.next() % 8).map(|_| input.next()).collect()));
                    }
                    // The cluster's events, numbers repeated and out of
                    // order as a restarted Raft PD hands them over.
                    3 => w.raft_applies(u64::from(input.next() % 64), input.next() % 3, 1, b"ev"),
                    4 => {
                        let event = input.next().is_multiple_of(2).then_some(&b"ev"[..]);
                        w.raft_answers(u64::from(input.next()), u64::from(input.next()), event);
                    }
                    _ => {
                        w.raft_takes(u64::from(input.next()), false);
                        w.raft_commits(u64::from(input.next()));
                    }
                }
                g.notified(&mut w, 1 << RAFT, now);
            }
            _ => {
                w.mode = match input.next() % 4 {
                    0 => LogMode::Full,
                    1 => LogMode::Failing(ErrorCode::Io),
                    _ => LogMode::Healthy,
                };
                continue;
            }
        }
        let new = &w.effects[effects_before..];
        let failed = new.iter().any(|e| matches!(e, Effect::Refused { .. }));
        let appended = new.iter().any(|e| matches!(e, Effect::Appended { .. }));
        if failed && !appended && !fail_safe && snapshot(&g) != before {
            return Err(format!("input {op} changed the tables though its append failed: {new:?}"));
        }
        if let Some((i, standing)) = stop_wanted {
            let child = g.children().get(i).copied();
            if child.map(|c| c.standing) != Some(standing) {
                return Err(format!(
                    "the principal's stop of {} did not take effect: {new:?}",
                    SPECS[i].name
                ));
            }
            if w.runs(SPECS[i].child_id) {
                return Err(format!("{} still runs after the principal stopped it", SPECS[i].name));
            }
        }
    }
    check(&w.effects, &SPECS)?;
    Ok(w)
}

fn index(spec: ChildSpec) -> usize {
    SPECS.iter().position(|s| *s == spec).unwrap_or(usize::MAX)
}

/// A request frame: what it asks (0..=4, or 5 for bytes that may not
/// decode) and its bytes.
fn request(input: &mut Bytes<'_>) -> (u8, Vec<u8>) {
    let mut buf = [0u8; frame::MAX_FRAME_LEN];
    let text = ["hi", "started", "x\ngovernor| boot complete", "é", ""][usize::from(input.next()) % 5];
    let event = text.as_bytes().try_into().unwrap_or_else(|_| unreachable!());
    let request = match input.next() % 11 {
        0 => Request::Hello,
        1 => Request::Ready,
        2 => Request::Log { text: text.try_into().unwrap_or_else(|_| unreachable!()) },
        3 => Request::Record { event },
        4 | 5 => Request::RecordTo { resource: u32::from(input.next() % 4) * 50, event },
        6 => Request::Send {
            node: input.next() % 4,
            worknode: u16::from(input.next() % 5),
            body: text.as_bytes().try_into().unwrap_or_else(|_| unreachable!()),
        },
        7 => Request::Receive,
        8 => match input.next() % 3 {
            0 => Request::RecordStrong { event },
            1 => Request::ReadStrong { number: u64::from(input.next()) },
            _ => Request::Outcome,
        },
        _ => {
            // Bytes that may or may not decode: what they ask is what they
            // decode to.
            let len = usize::from(input.next() % 12);
            let bytes: Vec<u8> = (0..len).map(|_| input.next()).collect();
            let asked = frame::decode::<Request>(&bytes).map_or(UNDECODABLE, |r| asked(&r));
            return (asked, bytes);
        }
    };
    let len = frame::encode(&request, &mut buf).unwrap_or_else(|e| panic!("{e}"));
    (asked(&request), buf[..len].to_vec())
}

/// Mail as it may arrive: for one of the children or for none, of this
/// version or another, or bytes that may not decode.
fn mail(input: &mut Bytes<'_>) -> Vec<u8> {
    use worknode_abi::governor::Mail;
    let body = [input.next()];
    let mail = Mail {
        version: if input.next().is_multiple_of(8) { 2 } else { 1 },
        from: u16::from(input.next() % 5),
        to: u16::from(input.next() % 6),
        body: worknode_abi::bounded::Bytes::new(&body).unwrap_or_else(|_| unreachable!()),
    };
    match input.next() % 8 {
        0 => (0..input.next() % 8).map(|_| input.next()).collect(),
        _ => {
            let mut buf = [0u8; 64];
            mail.encode(&mut buf).map(<[u8]>::to_vec).unwrap_or_default()
        }
    }
}

/// A console line: mostly well formed, about the children and the
/// capabilities that exist.
fn command(input: &mut Bytes<'_>, g: &Governor) -> String {
    let name = SPECS[usize::from(input.next()) % SPECS.len()].name;
    let caps: Vec<u32> = g.gate().authority().caps().iter().map(|c| c.id).collect();
    let cap = caps.get(usize::from(input.next()) % caps.len().max(1)).copied().unwrap_or(999);
    match input.next() % 10 {
        0 => format!("halt {name}"),
        1 => format!("suspend {name}"),
        2 => format!("resume {name}"),
        3 => format!("grant {name} record,log 50 {}", u32::from(input.next()) * 10),
        4 => format!("grant {name} send 65536-65539 100000"),
        5 => format!("revoke {cap}"),
        6 => "list".into(),
        7 => "help".into(),
        8 => format!("halt {name} now"),
        _ => "reboot".into(),
    }
}

/// Bytes read one at a time, zeros when they run out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn next(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
}

/// Does this control's record say a stop (for tests that look at the log).
pub fn is_stop(record: &AuditRecord<'_>) -> bool {
    matches!(record.what, What::Control(c) if c == Control::Halt as u16 || c == Control::Suspend as u16)
}
