//! The audit record: what the governor writes to the event log for every
//! decision it makes, before the decision takes effect.
//!
//! One record per decision, allowed or denied: who asked (a worknode, named
//! by the channel its call arrived on, or the principal at the console), on
//! whose authority (principal → intent → task), what (an action of the
//! worknode's, a control of the principal's, or a step in the worknode's
//! life: started, greeted, ready, faulted), on which resource, the outcome
//! and its reason, the capability that decided it, the governor's clock,
//! and the action's own bytes (the event for a record, the text for a
//! console line, the command for a control, the fault for a fault). The
//! event log chains every record to the one before it with BLAKE3, so the
//! audit trail is hash-linked without a chain of its own.
//!
//! Coalescing: a record with `repeats = 0` is one decision. A record with
//! `repeats = N > 0` is not a decision of its own but a count: N more
//! decisions identical to it (same actor, what, resource, outcome and
//! capability), made after the last record of the same run, the last of
//! them at `at`. The governor writes the first denial of a run at once and
//! the count of its repeats when the run ends (docs/authority.md), so a
//! worknode that asks for what it may not have in a loop cannot fill the
//! disk at the rate it asks.
//!
//! The record borrows its name and payload (from the governor's request
//! frame when it is made, from the log record when it is decoded), so
//! making one copies nothing but the encoding.
//!
//! Its first byte is its version: [`AUDIT_RECORD_VERSION`] (3) or version 2,
//! still read. Both differ from the first byte of the older event envelope
//! ([`crate::log::EventRecord`] starts with 1), so a reader tells them apart.

use serde::{Deserialize, Serialize};

use crate::bounded::{Bytes, Text};
use crate::governor::MAX_EVENT;
use crate::log::MAX_SOURCE;

/// Version of the [`AuditRecord`] envelope written today.
pub const AUDIT_RECORD_VERSION: u8 = 3;
/// The previous version, still decoded (into the version 3 form).
pub const AUDIT_RECORD_V2: u8 = 2;

/// Who asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Actor<'a> {
    /// A worknode, by name.
    Worknode(#[serde(borrow)] Text<'a, MAX_SOURCE>),
    /// The principal, at the console.
    Principal(u16),
}

/// What was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum What {
    /// An action of a worknode: action kinds as `worknode_authority::Actions`
    /// bits (1 record, 2 log, 4 read, 8 send, 16 delegate).
    Action(u16),
    /// A control of the principal: a [`Control`] code.
    Control(u16),
    /// A step in a worknode's life: a [`Lifecycle`] code.
    Lifecycle(u8),
}

/// The principal's controls, by their stable codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Control {
    /// `list` (never audited: it changes nothing).
    List = 0,
    /// `grant`: a capability granted.
    Grant = 1,
    /// `revoke`: a capability (and everything delegated from it) revoked.
    Revoke = 2,
    /// `halt`: a worknode stopped for good.
    Halt = 3,
    /// `suspend`: a worknode stopped until resumed.
    Suspend = 4,
    /// `resume`: a suspended worknode let run again.
    Resume = 5,
}

impl Control {
    /// Every control, in code order.
    pub const ALL: [Control; 6] =
        [Control::List, Control::Grant, Control::Revoke, Control::Halt, Control::Suspend, Control::Resume];

    /// The name the console and the exports use.
    pub fn name(self) -> &'static str {
        match self {
            Control::List => "list",
            Control::Grant => "grant",
            Control::Revoke => "revoke",
            Control::Halt => "halt",
            Control::Suspend => "suspend",
            Control::Resume => "resume",
        }
    }

    /// The control with code `code`.
    pub fn from_code(code: u16) -> Option<Control> {
        Control::ALL.get(usize::from(code)).copied()
    }
}

/// The steps of a worknode's life the governor records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Lifecycle {
    /// The governor let the worknode's thread run (at boot, once the log
    /// can record what it does).
    Started = 0,
    /// The worknode said `Hello` and was welcomed.
    Greeted = 1,
    /// The worknode said `Ready`.
    Ready = 2,
    /// The worknode faulted; the governor stopped it. The payload describes
    /// the fault.
    Faulted = 3,
}

impl Lifecycle {
    /// Every step, in code order.
    pub const ALL: [Lifecycle; 4] =
        [Lifecycle::Started, Lifecycle::Greeted, Lifecycle::Ready, Lifecycle::Faulted];

    /// The name the exports use.
    pub fn name(self) -> &'static str {
        match self {
            Lifecycle::Started => "started",
            Lifecycle::Greeted => "greeted",
            Lifecycle::Ready => "ready",
            Lifecycle::Faulted => "faulted",
        }
    }

    /// The step with code `code`.
    pub fn from_code(code: u8) -> Option<Lifecycle> {
        Lifecycle::ALL.get(usize::from(code)).copied()
    }
}

/// One decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord<'a> {
    /// [`AUDIT_RECORD_VERSION`].
    pub version: u8,
    /// Governor clock, milliseconds since boot (for a coalesced record, the
    /// time of the last decision it stands for).
    pub at: u64,
    /// Who asked.
    #[serde(borrow)]
    pub actor: Actor<'a>,
    /// The principal at the root of the authority used (if known).
    pub principal: Option<u16>,
    /// The intent (if known).
    pub intent: Option<u32>,
    /// The task (if known).
    pub task: Option<u32>,
    /// What was decided.
    pub what: What,
    /// The resource acted on (for a control or a step in a worknode's
    /// life, the worknode's index or the capability).
    pub resource: u32,
    /// The outcome: 0 allowed, otherwise the reason it was denied
    /// (`worknode_authority::Reason` codes).
    pub reason: u8,
    /// The capability that decided (or would have).
    pub cap: Option<u32>,
    /// 0: this record is one decision. N > 0: it counts N identical
    /// decisions made since the run's last record (see the module
    /// documentation).
    pub repeats: u32,
    /// The action's bytes: the event, the console text, the command.
    #[serde(borrow)]
    pub payload: Bytes<'a, MAX_EVENT>,
}

/// Version 2, as it was written: no `what` (the action bits, or for the
/// principal the control's code), no `repeats`.
#[derive(Deserialize)]
struct V2<'a> {
    version: u8,
    at: u64,
    #[serde(borrow)]
    actor: Actor<'a>,
    principal: Option<u16>,
    intent: Option<u32>,
    task: Option<u32>,
    action: u16,
    resource: u32,
    reason: u8,
    cap: Option<u32>,
    #[serde(borrow)]
    payload: Bytes<'a, MAX_EVENT>,
}

impl<'a> AuditRecord<'a> {
    /// Whether the action was allowed.
    pub fn allowed(&self) -> bool {
        self.reason == 0
    }

    /// Encodes into `buf` (at most [`crate::log::MAX_RECORD`] bytes
    /// suffice), returning the used prefix.
    pub fn encode<'b>(&self, buf: &'b mut [u8]) -> Result<&'b mut [u8], postcard::Error> {
        postcard::to_slice(self, buf)
    }

    /// Appends the encoding to `out`, as [`AuditRecord::encode`] writes it;
    /// on error `out` may hold part of it.
    pub fn encode_into<const N: usize>(&self, out: &mut heapless::Vec<u8, N>) -> Result<(), postcard::Error> {
        postcard::serialize_with_flavor(self, crate::flavors::Append::new(out))
    }

    /// Decodes a log payload, version 3 or 2; `None` if it is not an audit
    /// record (or has bytes after one).
    pub fn decode(payload: &'a [u8]) -> Option<AuditRecord<'a>> {
        match payload.first() {
            Some(&AUDIT_RECORD_VERSION) => match postcard::take_from_bytes::<AuditRecord>(payload) {
                Ok((record, [])) if record.version == AUDIT_RECORD_VERSION => Some(record),
                _ => None,
            },
            Some(&AUDIT_RECORD_V2) => match postcard::take_from_bytes::<V2>(payload) {
                Ok((old, [])) if old.version == AUDIT_RECORD_V2 => Some(AuditRecord {
                    version: old.version,
                    at: old.at,
                    actor: old.actor,
                    principal: old.principal,
                    intent: old.intent,
                    task: old.task,
                    what: match old.actor {
                        Actor::Principal(_) => What::Control(old.action),
                        Actor::Worknode(_) => What::Action(old.action),
                    },
                    resource: old.resource,
                    reason: old.reason,
                    cap: old.cap,
                    repeats: 0,
                    payload: old.payload,
                }),
                _ => None,
            },
            _ => None,
        }
    }
}
