//! The audit record: what the governor writes to the event log for every
//! decision of its gate, before the action takes effect.
//!
//! One record per decision, allowed or denied: who asked (a worknode, named
//! by the channel its call arrived on, or the principal at the console), on
//! whose authority (principal → intent → task), what (action kinds and
//! resource), the outcome and its reason, the capability that decided it,
//! the governor's clock, and the action's own bytes (the event for a
//! record, the text for a console line, the command for a control). The
//! event log chains every record to the one before it with BLAKE3, so the
//! audit trail is hash-linked without a chain of its own.
//!
//! Its first byte, [`AUDIT_RECORD_VERSION`], differs from the first byte of
//! every older envelope ([`crate::log::EventRecord`] starts with 1), so a
//! reader tells the two apart.

use heapless::{String, Vec};
use serde::{Deserialize, Serialize};

use crate::governor::MAX_EVENT;
use crate::log::MAX_SOURCE;

/// Version of the [`AuditRecord`] envelope.
pub const AUDIT_RECORD_VERSION: u8 = 2;

/// Who asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Actor {
    /// A worknode, by name.
    Worknode(String<MAX_SOURCE>),
    /// The principal, at the console.
    Principal(u16),
}

/// One gate decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// [`AUDIT_RECORD_VERSION`].
    pub version: u8,
    /// Governor clock, milliseconds since boot.
    pub at: u64,
    /// Who asked.
    pub actor: Actor,
    /// The principal at the root of the authority used (if known).
    pub principal: Option<u16>,
    /// The intent (if known).
    pub intent: Option<u32>,
    /// The task (if known).
    pub task: Option<u32>,
    /// Action kinds asked for (`worknode_authority::Actions` bits; for the
    /// principal, the control's number).
    pub action: u16,
    /// The resource acted on.
    pub resource: u32,
    /// The outcome: 0 allowed, otherwise the reason it was denied
    /// (`worknode_authority::Reason` codes).
    pub reason: u8,
    /// The capability that decided (or would have).
    pub cap: Option<u32>,
    /// The action's bytes: the event, the console text, the command.
    #[serde(with = "crate::bytes")]
    pub payload: Vec<u8, MAX_EVENT>,
}

impl AuditRecord {
    /// Whether the action was allowed.
    pub fn allowed(&self) -> bool {
        self.reason == 0
    }

    /// Encodes into `buf` (at most [`crate::log::MAX_RECORD`] bytes
    /// suffice), returning the used prefix.
    pub fn encode<'a>(&self, buf: &'a mut [u8]) -> Result<&'a mut [u8], postcard::Error> {
        postcard::to_slice(self, buf)
    }

    /// Appends the encoding to `out`, as [`AuditRecord::encode`] writes it;
    /// on error `out` may hold part of it.
    pub fn encode_into<const N: usize>(&self, out: &mut heapless::Vec<u8, N>) -> Result<(), postcard::Error> {
        postcard::serialize_with_flavor(self, crate::flavors::Append::new(out))
    }

    /// Decodes a log payload; `None` if it is not an audit record.
    pub fn decode(payload: &[u8]) -> Option<AuditRecord> {
        if payload.first() != Some(&AUDIT_RECORD_VERSION) {
            return None;
        }
        match postcard::take_from_bytes::<AuditRecord>(payload) {
            Ok((record, [])) if record.version == AUDIT_RECORD_VERSION => Some(record),
            _ => None,
        }
    }
}
