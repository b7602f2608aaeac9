//! The vocabulary of authority: who (principals, subjects), why (intents,
//! tasks), what (actions on resources) and until when (leases).

use serde::{Deserialize, Serialize};

/// A principal: a root of authority (an operator). Every action traces back
/// to exactly one.
pub type PrincipalId = u16;
/// A worknode, by its index among the governor's children. seL4 fixes which
/// channel a call arrives on, so the governor always knows the subject.
pub type Subject = u16;
/// A purpose a principal declared; the authority for it can be revoked as
/// a whole.
pub type IntentId = u32;
/// A unit of work under an intent, assigned to one worknode.
pub type TaskId = u32;
/// A capability.
pub type CapId = u32;
/// System time in milliseconds since boot (the timer PD's clock).
pub type Millis = u64;

/// A set of action kinds, as bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actions(pub u16);

impl Actions {
    /// Write an event to the node's event log.
    pub const RECORD: Actions = Actions(1 << 0);
    /// Write a line on the console.
    pub const LOG: Actions = Actions(1 << 1);
    /// Read state the governor holds for the resource.
    pub const READ: Actions = Actions(1 << 2);
    /// Send a message to another worknode (through the governor).
    pub const SEND: Actions = Actions(1 << 3);
    /// Pass a narrower part of a capability to another worknode.
    pub const DELEGATE: Actions = Actions(1 << 4);
    /// Every kind defined so far.
    pub const ALL: Actions = Actions(0b1_1111);
    /// No kind.
    pub const NONE: Actions = Actions(0);

    /// Whether every kind in `other` is in `self`.
    pub fn covers(self, other: Actions) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union.
    pub fn with(self, other: Actions) -> Actions {
        Actions(self.0 | other.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether only defined kinds are set.
    pub fn is_known(self) -> bool {
        Actions::ALL.covers(self)
    }

    /// Each kind with its name, as the console and the exports spell it.
    pub const NAMES: [(Actions, &'static str); 5] = [
        (Actions::RECORD, "record"),
        (Actions::LOG, "log"),
        (Actions::READ, "read"),
        (Actions::SEND, "send"),
        (Actions::DELEGATE, "delegate"),
    ];

    /// The kind called `name`.
    pub fn from_name(name: &str) -> Option<Actions> {
        Actions::NAMES.iter().find(|(_, n)| *n == name).map(|&(a, _)| a)
    }
}

/// `record,log`; `none` for the empty set; bits no kind is defined for as
/// `0x..`.
impl core::fmt::Display for Actions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let mut first = true;
        let mut sep = |f: &mut core::fmt::Formatter<'_>| {
            let s = if first { "" } else { "," };
            first = false;
            f.write_str(s)
        };
        for (kind, name) in Actions::NAMES {
            if self.covers(kind) {
                sep(f)?;
                f.write_str(name)?;
            }
        }
        let unknown = self.0 & !Actions::ALL.0;
        if unknown != 0 {
            sep(f)?;
            write!(f, "{unknown:#x}")?;
        }
        Ok(())
    }
}

/// An inclusive range of resource numbers. What a number names is the
/// governor's business (an event stream, a peer, a key space); authority
/// only compares ranges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Resources {
    /// First resource covered.
    pub first: u32,
    /// Last resource covered.
    pub last: u32,
}

impl Resources {
    /// Every resource.
    pub const ALL: Resources = Resources { first: 0, last: u32::MAX };

    /// One resource.
    pub const fn one(r: u32) -> Resources {
        Resources { first: r, last: r }
    }

    /// Whether the range is well formed (first ≤ last).
    pub fn is_valid(self) -> bool {
        self.first <= self.last
    }

    /// Whether `r` is in the range.
    pub fn contains(self, r: u32) -> bool {
        self.first <= r && r <= self.last
    }

    /// Whether `other` lies entirely inside this range.
    pub fn covers(self, other: Resources) -> bool {
        self.first <= other.first && other.last <= self.last
    }
}

/// What a capability allows, for how long, under which intent: the
/// argument of a grant or a delegation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The worknode that will hold it.
    pub holder: Subject,
    /// The action kinds.
    pub actions: Actions,
    /// The resources.
    pub resources: Resources,
    /// The lease: the capability expires at this time.
    pub expires: Millis,
    /// The intent it serves.
    pub intent: IntentId,
}
