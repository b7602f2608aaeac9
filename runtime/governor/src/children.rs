//! The governor's one record per child: who it is (from the system
//! description), where it is in its life, and its standing with the
//! principal.
//!
//! ```text
//! Held --(log ready)--> Started --Hello--> Greeted --Ready--> Ready
//!                          \                  \                 \
//!                           `------------------`----- fault ------`--> Faulted
//! ```
//!
//! Every child starts `Held`: the governor stops each child's thread before
//! it first runs and lets it run only once the log can record what it does
//! (so no worknode acts ungoverned, and a boot with no usable log starts
//! none). The standing (running, suspended, halted) is the principal's
//! and independent of the stage; a child's thread runs exactly when its
//! stage is `Started`, `Greeted` or `Ready` and its standing is running.
//! Rejected: the roster and the authority tables each keeping half of this
//! (the tables held a standing for 16 subjects, the roster up to 62
//! children): one record cannot disagree with itself.

use heapless::Vec;
use worknode_authority::Standing;

use crate::limits::{MAX_CHANNEL, MAX_CHILDREN};

/// A child as the system description declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildSpec {
    /// The PD's name in `system.xml`.
    pub name: &'static str,
    /// The Microkit child id (what the fault entry point reports).
    pub child_id: usize,
    /// The governor's end of the channel to this child.
    pub channel: usize,
}

/// Where a child is in its life (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Its thread has not run yet; the governor holds it.
    Held,
    /// Let run; it has not said `Hello` yet.
    Started,
    /// Said `Hello`; the governor notified it "start".
    Greeted,
    /// Said `Ready`.
    Ready,
    /// Faulted; its thread is stopped for good.
    Faulted,
}

/// One child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Child {
    /// From the system description.
    pub spec: ChildSpec,
    /// Its stage.
    pub stage: Stage,
    /// Its standing with the principal.
    pub standing: Standing,
    /// Notifications it sent the governor, which acts on none.
    pub notifications: u32,
}

impl Child {
    /// Whether its thread may run now.
    pub fn runs(&self) -> bool {
        matches!(self.stage, Stage::Started | Stage::Greeted | Stage::Ready)
            && self.standing == Standing::Running
    }

    /// Whether boot no longer waits for it.
    pub fn settled(&self) -> bool {
        matches!(self.stage, Stage::Ready | Stage::Faulted) || self.standing == Standing::Halted
    }
}

/// Why the children of a system description cannot be governed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildrenError {
    /// More than [`MAX_CHILDREN`] children.
    TooMany,
    /// Two children share a child id, a channel id or a name.
    Duplicate {
        /// Index of the second of the two in the description.
        index: usize,
    },
    /// A channel id outside Microkit's range.
    ChannelOutOfRange {
        /// Index of the child in the description.
        index: usize,
    },
}

/// Counts for the boot summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Children in all.
    pub children: usize,
    /// Children that said `Ready`.
    pub ready: usize,
    /// Children that faulted.
    pub faulted: usize,
    /// Children the principal halted before they were ready.
    pub halted: usize,
}

/// Every child, in description order (its index is its subject in the
/// authority tables and the number `Welcome` gives it).
#[derive(Clone, Debug)]
pub struct Children {
    entries: Vec<Child, MAX_CHILDREN>,
}

impl Children {
    /// The children of a description, all `Held` and running.
    pub fn new(specs: &[ChildSpec]) -> Result<Children, ChildrenError> {
        let mut entries: Vec<Child, MAX_CHILDREN> = Vec::new();
        for (index, spec) in specs.iter().enumerate() {
            if spec.channel > MAX_CHANNEL {
                return Err(ChildrenError::ChannelOutOfRange { index });
            }
            let clash = entries.iter().any(|e| {
                e.spec.child_id == spec.child_id || e.spec.channel == spec.channel || e.spec.name == spec.name
            });
            if clash {
                return Err(ChildrenError::Duplicate { index });
            }
            let child =
                Child { spec: *spec, stage: Stage::Held, standing: Standing::Running, notifications: 0 };
            entries.push(child).map_err(|_| ChildrenError::TooMany)?;
        }
        Ok(Children { entries })
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Child `index`.
    pub fn get(&self, index: usize) -> Option<&Child> {
        self.entries.get(index)
    }

    pub(crate) fn get_mut(&mut self, index: usize) -> Option<&mut Child> {
        self.entries.get_mut(index)
    }

    /// Every child, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Child> {
        self.entries.iter()
    }

    /// The index of the child on `channel`.
    pub fn by_channel(&self, channel: usize) -> Option<usize> {
        self.entries.iter().position(|c| c.spec.channel == channel)
    }

    /// The index of the child with Microkit id `child_id`.
    pub fn by_child_id(&self, child_id: usize) -> Option<usize> {
        self.entries.iter().position(|c| c.spec.child_id == child_id)
    }

    /// The index of the child called `name`.
    pub fn by_name(&self, name: &str) -> Option<usize> {
        self.entries.iter().position(|c| c.spec.name == name)
    }

    /// The channels of every child, as a mask.
    pub fn channel_mask(&self) -> u64 {
        self.entries.iter().fold(0, |mask, c| mask | (1u64 << c.spec.channel))
    }

    /// The boot counts.
    pub fn summary(&self) -> Summary {
        let count = |f: &dyn Fn(&Child) -> bool| self.entries.iter().filter(|c| f(c)).count();
        Summary {
            children: self.entries.len(),
            ready: count(&|c| c.stage == Stage::Ready),
            faulted: count(&|c| c.stage == Stage::Faulted),
            halted: count(&|c| {
                c.standing == Standing::Halted && !matches!(c.stage, Stage::Ready | Stage::Faulted)
            }),
        }
    }

    /// Whether boot no longer waits for any child.
    pub fn settled(&self) -> bool {
        self.entries.iter().all(Child::settled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: [ChildSpec; 2] = [
        ChildSpec { name: "worknode0", child_id: 1, channel: 1 },
        ChildSpec { name: "worknode1", child_id: 2, channel: 2 },
    ];

    #[test]
    fn bad_descriptions_are_rejected() {
        let dup_channel = [TWO[0], ChildSpec { name: "x", child_id: 5, channel: 1 }];
        assert_eq!(Children::new(&dup_channel).unwrap_err(), ChildrenError::Duplicate { index: 1 });
        let dup_id = [TWO[0], ChildSpec { name: "x", child_id: 1, channel: 5 }];
        assert_eq!(Children::new(&dup_id).unwrap_err(), ChildrenError::Duplicate { index: 1 });
        let dup_name = [TWO[0], ChildSpec { name: "worknode0", child_id: 7, channel: 5 }];
        assert_eq!(Children::new(&dup_name).unwrap_err(), ChildrenError::Duplicate { index: 1 });
        let far = [ChildSpec { name: "x", child_id: 0, channel: 62 }];
        assert_eq!(Children::new(&far).unwrap_err(), ChildrenError::ChannelOutOfRange { index: 0 });
        const NAMES: [&str; 63] = {
            let mut n = [""; 63];
            let mut i = 0;
            while i < 63 {
                n[i] = match i % 3 {
                    0 => "a",
                    1 => "b",
                    _ => "c",
                };
                i += 1;
            }
            n
        };
        let many: [ChildSpec; 63] =
            core::array::from_fn(|i| ChildSpec { name: NAMES[i], child_id: i, channel: i });
        assert!(Children::new(&many).is_err());
    }

    #[test]
    fn lookups_and_summary() {
        let mut c = Children::new(&TWO).unwrap();
        assert_eq!((c.by_channel(2), c.by_child_id(1), c.by_name("worknode1")), (Some(1), Some(0), Some(1)));
        assert_eq!(c.channel_mask(), 0b110);
        assert!(!c.settled());
        c.get_mut(0).unwrap().stage = Stage::Ready;
        c.get_mut(1).unwrap().standing = Standing::Halted;
        assert!(c.settled());
        assert_eq!(c.summary(), Summary { children: 2, ready: 1, faulted: 0, halted: 1 });
        assert!(!c.get(1).unwrap().runs());
    }
}
