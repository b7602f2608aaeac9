//! The roster of the governor's children and the boot protocol they follow.
//!
//! Each child moves through
//!
//! ```text
//! Declared --Hello--> Greeted --(start)--> Greeted --Ready--> Ready
//!     \                  \                                      \
//!      `------------------`----------- fault ------------------->`--> Faulted
//! ```
//!
//! "start" is sent once, to every greeted child, when no child is still
//! `Declared`: a worknode may rely on all its peers having been set up before
//! it runs. Boot is complete once no child is `Declared` or `Greeted`.
//!
//! Invariants (checked by `debug_assert!` and by the property tests):
//! - start is announced at most once, boot completion at most once;
//! - a `Faulted` child never leaves `Faulted` (restart policy is the
//!   supervisor's job, added with the principal's controls);
//! - at boot completion `ready + faulted == children`.

use heapless::Vec;
use worknode_abi::ErrorCode;
use worknode_abi::governor::{Reply, Request, Response};

/// Microkit allows at most 63 protection domains in a system, so a governor
/// can never have more than 62 children.
pub const MAX_CHILDREN: usize = 62;

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

/// Where a child is in the boot protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildState {
    /// Declared in the system description, not heard from yet.
    Declared,
    /// Said `Hello`; waiting for "start" or for its `Ready`.
    Greeted,
    /// Said `Ready` after "start".
    Ready,
    /// Faulted; the kernel stopped it and the governor did not resume it.
    Faulted,
}

/// Counts reported when boot completes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Children in the roster.
    pub children: usize,
    /// Children that reached `Ready`.
    pub ready: usize,
    /// Children that faulted.
    pub faulted: usize,
}

/// What the governor must do after an event, besides logging it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Outcome {
    /// The reply to the protected procedure call, if the event was one.
    pub reply: Option<Response>,
    /// Governor channel ids to notify ("start"), as a bit mask.
    pub notify: u64,
    /// Set on the one event that completes boot.
    pub boot_complete: Option<Summary>,
}

/// Why a roster could not be built from a system description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RosterError {
    /// More than [`MAX_CHILDREN`] children.
    TooManyChildren,
    /// Two children share a child id or a channel id.
    Duplicate {
        /// Index of the second of the two in the description.
        index: usize,
    },
    /// A channel id outside Microkit's range 0..=61.
    ChannelOutOfRange {
        /// Index of the child in the description.
        index: usize,
    },
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    spec: ChildSpec,
    state: ChildState,
}

/// The governor's children and their boot states.
#[derive(Debug)]
pub struct Roster {
    entries: Vec<Entry, MAX_CHILDREN>,
    start_sent: bool,
    boot_done: bool,
    /// Services (the log) that must report ready before "start" is sent:
    /// a worknode may use them as soon as it has started.
    services_pending: u8,
}

impl Roster {
    /// Builds the roster, rejecting descriptions the governor cannot serve.
    pub fn new(children: &[ChildSpec]) -> Result<Self, RosterError> {
        let mut entries: Vec<Entry, MAX_CHILDREN> = Vec::new();
        for (index, spec) in children.iter().enumerate() {
            if spec.channel >= 62 {
                return Err(RosterError::ChannelOutOfRange { index });
            }
            let clash =
                entries.iter().any(|e| e.spec.child_id == spec.child_id || e.spec.channel == spec.channel);
            if clash {
                return Err(RosterError::Duplicate { index });
            }
            entries
                .push(Entry { spec: *spec, state: ChildState::Declared })
                .map_err(|_| RosterError::TooManyChildren)?;
        }
        Ok(Roster { entries, start_sent: false, boot_done: false, services_pending: 0 })
    }

    /// The children, in description order, with their states.
    pub fn children(&self) -> impl Iterator<Item = (&ChildSpec, ChildState)> {
        self.entries.iter().map(|e| (&e.spec, e.state))
    }

    /// The child whose channel this is, if any.
    pub fn by_channel(&self, channel: usize) -> Option<(&ChildSpec, ChildState)> {
        self.entries.iter().find(|e| e.spec.channel == channel).map(|e| (&e.spec, e.state))
    }

    /// The position (in description order) of the child on `channel`: the
    /// worknode's index in `Welcome`, its subject in the gate.
    pub fn index_of_channel(&self, channel: usize) -> Option<usize> {
        self.entries.iter().position(|e| e.spec.channel == channel)
    }

    /// The child with this Microkit child id, if any.
    pub fn by_child_id(&self, child_id: usize) -> Option<(&ChildSpec, ChildState)> {
        self.entries.iter().find(|e| e.spec.child_id == child_id).map(|e| (&e.spec, e.state))
    }

    /// Whether boot has completed.
    pub fn boot_complete(&self) -> bool {
        self.boot_done
    }

    /// Holds back "start" until [`Roster::on_service_ready`] has been called
    /// once more. Call before [`Roster::on_init`], once per service.
    pub fn await_service(&mut self) {
        self.services_pending += 1;
    }

    /// A service the worknodes depend on reported ready.
    pub fn on_service_ready(&mut self) -> Outcome {
        self.services_pending = self.services_pending.saturating_sub(1);
        self.advance()
    }

    /// Called once when the governor starts: with no children, boot is
    /// complete at once.
    pub fn on_init(&mut self) -> Outcome {
        self.advance()
    }

    /// Handles a decoded request that arrived on `channel`.
    pub fn on_request(&mut self, channel: usize, request: &Request<'_>) -> Outcome {
        let children = self.entries.len();
        let Some(index) = self.entries.iter().position(|e| e.spec.channel == channel) else {
            // A call on a channel that is not a child's: the system
            // description gave some other PD a `pp` end into the governor.
            return Outcome { reply: Some(Err(ErrorCode::Denied)), ..Outcome::default() };
        };
        let state = self.entries[index].state;
        let reply = match (request, state) {
            (Request::Hello, ChildState::Declared) => {
                self.entries[index].state = ChildState::Greeted;
                // Both fit in u16: at most MAX_CHILDREN entries.
                Ok(Reply::Welcome { worknode: index as u16, children: children as u16 })
            }
            (Request::Ready, ChildState::Greeted) if self.start_sent => {
                self.entries[index].state = ChildState::Ready;
                Ok(Reply::Ack)
            }
            (Request::Log { .. }, ChildState::Greeted | ChildState::Ready) => Ok(Reply::Ack),
            // Allowed; the governor forwards it to the log and replies with
            // the log's answer.
            (Request::Record { .. } | Request::RecordTo { .. }, ChildState::Ready) => Ok(Reply::Ack),
            (_, ChildState::Faulted) => Err(ErrorCode::Internal),
            _ => Err(ErrorCode::InvalidState),
        };
        let mut outcome = self.advance();
        outcome.reply = Some(reply);
        outcome
    }

    /// Answers a call whose frame could not be decoded.
    pub fn on_malformed(&mut self, error: ErrorCode) -> Outcome {
        Outcome { reply: Some(Err(error)), ..Outcome::default() }
    }

    /// Records that the child with Microkit id `child_id` faulted.
    ///
    /// Returns `None` for an id that is not in the roster (the kernel only
    /// delivers faults of real children, so this means the description and
    /// the image disagree).
    pub fn on_fault(&mut self, child_id: usize) -> Option<Outcome> {
        let entry = self.entries.iter_mut().find(|e| e.spec.child_id == child_id)?;
        entry.state = ChildState::Faulted;
        Some(self.advance())
    }

    /// Moves the boot protocol forward after any state change.
    fn advance(&mut self) -> Outcome {
        let mut outcome = Outcome::default();
        let declared = self.count(ChildState::Declared);
        if !self.start_sent && declared == 0 && self.services_pending == 0 {
            self.start_sent = true;
            outcome.notify = self
                .entries
                .iter()
                .filter(|e| e.state == ChildState::Greeted)
                .fold(0u64, |mask, e| mask | (1u64 << e.spec.channel));
        }
        let pending = declared + self.count(ChildState::Greeted);
        if !self.boot_done && self.start_sent && pending == 0 {
            self.boot_done = true;
            let summary = Summary {
                children: self.entries.len(),
                ready: self.count(ChildState::Ready),
                faulted: self.count(ChildState::Faulted),
            };
            debug_assert_eq!(summary.ready + summary.faulted, summary.children);
            outcome.boot_complete = Some(summary);
        }
        outcome
    }

    fn count(&self, state: ChildState) -> usize {
        self.entries.iter().filter(|e| e.state == state).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: [ChildSpec; 2] = [
        ChildSpec { name: "worknode0", child_id: 1, channel: 1 },
        ChildSpec { name: "worknode1", child_id: 2, channel: 2 },
    ];

    fn reply(outcome: &Outcome) -> Response {
        outcome.reply.expect("a call always gets a reply")
    }

    #[test]
    fn happy_boot() {
        let mut roster = Roster::new(&TWO).unwrap();
        let first = roster.on_request(1, &Request::Hello);
        assert_eq!(reply(&first), Ok(Reply::Welcome { worknode: 0, children: 2 }));
        assert_eq!(first.notify, 0, "start waits for every child");

        let second = roster.on_request(2, &Request::Hello);
        assert_eq!(reply(&second), Ok(Reply::Welcome { worknode: 1, children: 2 }));
        assert_eq!(second.notify, 0b110, "start goes to both greeted children");

        assert_eq!(reply(&roster.on_request(1, &Request::Ready)), Ok(Reply::Ack));
        let last = roster.on_request(2, &Request::Ready);
        assert_eq!(reply(&last), Ok(Reply::Ack));
        assert_eq!(last.boot_complete, Some(Summary { children: 2, ready: 2, faulted: 0 }));
        assert!(roster.boot_complete());
    }

    #[test]
    fn out_of_order_requests_are_refused_without_state_change() {
        let mut roster = Roster::new(&TWO).unwrap();
        assert_eq!(reply(&roster.on_request(1, &Request::Ready)), Err(ErrorCode::InvalidState));
        assert_eq!(roster.by_channel(1).unwrap().1, ChildState::Declared);
        roster.on_request(1, &Request::Hello);
        assert_eq!(reply(&roster.on_request(1, &Request::Hello)), Err(ErrorCode::InvalidState));
        // Ready before start (worknode1 has not greeted yet).
        assert_eq!(reply(&roster.on_request(1, &Request::Ready)), Err(ErrorCode::InvalidState));
        assert_eq!(roster.by_channel(1).unwrap().1, ChildState::Greeted);
    }

    #[test]
    fn log_needs_a_hello_first() {
        let mut roster = Roster::new(&TWO).unwrap();
        let line = Request::Log { text: "hi".try_into().unwrap() };
        assert_eq!(reply(&roster.on_request(1, &line)), Err(ErrorCode::InvalidState));
        roster.on_request(1, &Request::Hello);
        assert_eq!(reply(&roster.on_request(1, &line)), Ok(Reply::Ack));
        assert_eq!(roster.by_channel(1).unwrap().1, ChildState::Greeted);
    }

    #[test]
    fn start_waits_for_services_and_record_needs_ready() {
        let mut roster = Roster::new(&TWO).unwrap();
        roster.await_service();
        roster.on_init();
        roster.on_request(1, &Request::Hello);
        assert_eq!(roster.on_request(2, &Request::Hello).notify, 0, "start before the log is ready");
        let record = Request::Record { event: worknode_abi::bounded::Bytes::new(b"e").unwrap() };
        assert_eq!(reply(&roster.on_request(1, &record)), Err(ErrorCode::InvalidState));
        assert_eq!(roster.on_service_ready().notify, 0b110);
        roster.on_request(1, &Request::Ready);
        assert_eq!(reply(&roster.on_request(1, &record)), Ok(Reply::Ack));
    }

    #[test]
    fn unknown_channel_is_denied() {
        let mut roster = Roster::new(&TWO).unwrap();
        assert_eq!(reply(&roster.on_request(7, &Request::Hello)), Err(ErrorCode::Denied));
    }

    #[test]
    fn a_fault_before_hello_still_lets_the_others_start_and_boot_complete() {
        let mut roster = Roster::new(&TWO).unwrap();
        roster.on_request(1, &Request::Hello);
        let fault = roster.on_fault(2).unwrap();
        assert_eq!(fault.notify, 0b010);
        assert_eq!(fault.boot_complete, None);
        let last = roster.on_request(1, &Request::Ready);
        assert_eq!(last.boot_complete, Some(Summary { children: 2, ready: 1, faulted: 1 }));
    }

    #[test]
    fn fault_of_an_unknown_child_is_reported() {
        let mut roster = Roster::new(&TWO).unwrap();
        assert_eq!(roster.on_fault(9), None);
    }

    #[test]
    fn faulted_children_get_an_error_reply() {
        let mut roster = Roster::new(&TWO).unwrap();
        roster.on_fault(1);
        assert_eq!(reply(&roster.on_request(1, &Request::Hello)), Err(ErrorCode::Internal));
    }

    #[test]
    fn empty_roster_completes_at_init() {
        let mut roster = Roster::new(&[]).unwrap();
        let outcome = roster.on_init();
        assert_eq!(outcome.boot_complete, Some(Summary { children: 0, ready: 0, faulted: 0 }));
        assert_eq!(reply(&roster.on_request(0, &Request::Hello)), Err(ErrorCode::Denied));
    }

    #[test]
    fn init_with_children_waits_for_them() {
        let mut roster = Roster::new(&TWO).unwrap();
        assert_eq!(roster.on_init(), Outcome::default());
    }

    #[test]
    fn bad_descriptions_are_rejected() {
        let dup_channel = [TWO[0], ChildSpec { name: "x", child_id: 5, channel: 1 }];
        assert_eq!(Roster::new(&dup_channel).unwrap_err(), RosterError::Duplicate { index: 1 });
        let dup_id = [TWO[0], ChildSpec { name: "x", child_id: 1, channel: 5 }];
        assert_eq!(Roster::new(&dup_id).unwrap_err(), RosterError::Duplicate { index: 1 });
        let far = [ChildSpec { name: "x", child_id: 0, channel: 62 }];
        assert_eq!(Roster::new(&far).unwrap_err(), RosterError::ChannelOutOfRange { index: 0 });
        let many: [ChildSpec; 63] =
            core::array::from_fn(|i| ChildSpec { name: "x", child_id: i, channel: i % 62 });
        assert!(Roster::new(&many).is_err());
    }
}
