//! The gate's answer: allowed or denied, why, and on whose authority.

use serde::{Deserialize, Serialize};
use worknode_abi::ErrorCode;

use crate::model::{CapId, IntentId, PrincipalId, TaskId};

/// Why an action was allowed or denied. The numbers are stable: they are
/// written into audit records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u8)]
pub enum Reason {
    /// A live, unexpired capability covers the action.
    Allowed = 0,
    /// No capability of the caller covers the action (deny by default).
    NoCapability = 1,
    /// A capability covered it but its lease has expired.
    Expired = 2,
    /// A capability covered it but it (or one it was delegated from) was
    /// revoked.
    Revoked = 3,
    /// The task is unknown.
    UnknownTask = 4,
    /// The task belongs to another worknode.
    NotYourTask = 5,
    /// The task's intent was revoked.
    IntentRevoked = 6,
    /// The task's intent has expired.
    IntentExpired = 7,
    /// The principal suspended the worknode.
    Suspended = 8,
    /// The principal halted the worknode.
    Halted = 9,
    /// The request itself was malformed (recorded with the decode error).
    Malformed = 10,
    /// A well-formed request out of turn in the boot protocol (a second
    /// `Hello`, `Record` before `Ready`...): refused without asking the
    /// capabilities.
    OutOfTurn = 11,
}

impl Reason {
    /// Every reason, in code order.
    pub const ALL: [Reason; 12] = [
        Reason::Allowed,
        Reason::NoCapability,
        Reason::Expired,
        Reason::Revoked,
        Reason::UnknownTask,
        Reason::NotYourTask,
        Reason::IntentRevoked,
        Reason::IntentExpired,
        Reason::Suspended,
        Reason::Halted,
        Reason::Malformed,
        Reason::OutOfTurn,
    ];

    /// The stable code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// A short name for logs and exports.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Allowed => "allowed",
            Reason::NoCapability => "no-capability",
            Reason::Expired => "expired",
            Reason::Revoked => "revoked",
            Reason::UnknownTask => "unknown-task",
            Reason::NotYourTask => "not-your-task",
            Reason::IntentRevoked => "intent-revoked",
            Reason::IntentExpired => "intent-expired",
            Reason::Suspended => "suspended",
            Reason::Halted => "halted",
            Reason::Malformed => "malformed",
            Reason::OutOfTurn => "out-of-turn",
        }
    }

    /// The reason with code `code`.
    pub fn from_code(code: u8) -> Option<Reason> {
        Reason::ALL.get(usize::from(code)).copied()
    }

    /// The error a denied caller receives, from the shared taxonomy.
    pub fn error(self) -> Option<ErrorCode> {
        match self {
            Reason::Allowed => None,
            Reason::Expired | Reason::IntentExpired => Some(ErrorCode::Expired),
            Reason::Revoked | Reason::IntentRevoked => Some(ErrorCode::Revoked),
            Reason::UnknownTask => Some(ErrorCode::NotFound),
            Reason::Malformed => Some(ErrorCode::Malformed),
            Reason::OutOfTurn => Some(ErrorCode::InvalidState),
            Reason::NoCapability | Reason::NotYourTask | Reason::Suspended | Reason::Halted => {
                Some(ErrorCode::Denied)
            }
        }
    }
}

/// The chain of authority an action carries: principal → intent → task.
/// Unknown links are `None` (a denial can happen before they are known).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lineage {
    /// The principal at the root.
    pub principal: Option<PrincipalId>,
    /// The intent.
    pub intent: Option<IntentId>,
    /// The task.
    pub task: Option<TaskId>,
}

/// The gate's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Why.
    pub reason: Reason,
    /// The capability that allowed it, or that would have, had it been
    /// live.
    pub cap: Option<CapId>,
    /// On whose authority.
    pub lineage: Lineage,
}

impl Decision {
    /// Whether the action may proceed.
    pub fn allowed(&self) -> bool {
        self.reason == Reason::Allowed
    }
}
