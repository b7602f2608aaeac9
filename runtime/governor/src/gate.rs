//! The gate: how the governor applies the authority model to its children,
//! the audit records its decisions become, and the principal's controls
//! planned on a copy of the tables.
//!
//! The boot policy: one principal ([`PRINCIPAL`]), one boot intent that
//! never ends, one boot task per child, and for each child the boot grant
//! the system chose (by default `log` and `record` on its own resource,
//! the child's index). Everything beyond that is granted by the principal
//! at the console, as leases. A request without a task acts for the
//! child's boot task.
//!
//! Plan, durable, commit: a control that changes the tables is carried out
//! on a copy ([`Gate::plan`]); the copy replaces the tables
//! ([`Gate::commit`]) only once its audit record is durable. A failed
//! append drops the copy, and nothing changed. Rejected: undoing a change
//! after a failed append (every operation would need its inverse, and a
//! revoke's transitive effects have none that is simple).

use heapless::Vec;
use worknode_abi::audit::{AUDIT_RECORD_VERSION, Actor, AuditRecord, Control, Lifecycle, What};
use worknode_abi::bounded::{Bytes, Text};
use worknode_abi::governor::MAX_EVENT;
use worknode_abi::log::MAX_SOURCE;
use worknode_authority::{
    Actions, Authority, AuthorityError, CapId, Decision, Grant, IntentId, Lineage, Millis, PrincipalId,
    Reason, Resources, Standing, Subject, TaskId,
};

use crate::control::Command;
use crate::limits::MAX_CHILDREN;

/// The principal of a single-operator node.
pub const PRINCIPAL: PrincipalId = 1;
/// A lease that does not end.
pub const FOREVER: Millis = Millis::MAX;

/// See the module documentation.
#[derive(Debug)]
pub struct Gate {
    authority: Authority,
    boot_intent: IntentId,
    boot_tasks: Vec<TaskId, MAX_CHILDREN>,
}

/// A grant or revoke carried out on a copy of the tables.
#[derive(Debug)]
pub struct Plan {
    /// The tables as they will be.
    pub authority: Authority,
    /// What the control did.
    pub done: Planned,
}

/// What a planned control does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Planned {
    /// This capability will exist.
    Granted(CapId),
    /// This many capabilities will be revoked, from this one down.
    Revoked {
        /// The capability named.
        cap: CapId,
        /// It and those delegated from it.
        count: usize,
    },
}

impl Gate {
    /// The boot policy for `children` children, each granted `boot` on its
    /// own resource.
    pub fn new(children: usize, boot: Actions) -> Result<Gate, AuthorityError> {
        let mut authority = Authority::new();
        authority.add_principal(PRINCIPAL)?;
        let boot_intent = authority.declare_intent(PRINCIPAL, FOREVER)?;
        let mut boot_tasks = Vec::new();
        for child in 0..children {
            let subject = subject(child)?;
            let task = authority.assign_task(PRINCIPAL, boot_intent, subject)?;
            boot_tasks.push(task).map_err(|_| AuthorityError::Full)?;
            if !boot.is_empty() {
                let grant = Grant {
                    holder: subject,
                    actions: boot,
                    resources: Resources::one(u32::from(subject)),
                    expires: FOREVER,
                    intent: boot_intent,
                };
                authority.grant(PRINCIPAL, grant, 0)?;
            }
        }
        Ok(Gate { authority, boot_intent, boot_tasks })
    }

    /// The authority tables.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// A child's boot task.
    pub fn boot_task(&self, child: usize) -> Option<TaskId> {
        self.boot_tasks.get(child).copied()
    }

    /// The lineage of a child's boot task: principal → boot intent → task.
    pub fn boot_lineage(&self, child: usize) -> Lineage {
        Lineage { principal: Some(PRINCIPAL), intent: Some(self.boot_intent), task: self.boot_task(child) }
    }

    /// The gate decision for child `child` (by index), whose standing is
    /// `standing`, doing `action` on `resource` for `task` (its boot task
    /// if `None`).
    pub fn decide(
        &self,
        child: usize,
        standing: Standing,
        task: Option<TaskId>,
        action: Actions,
        resource: u32,
        now: Millis,
    ) -> Decision {
        let task = task.or(self.boot_task(child)).unwrap_or(0);
        let subject = Subject::try_from(child).unwrap_or(Subject::MAX);
        self.authority.decide(subject, standing, task, action, resource, now)
    }

    /// Carries out a grant or revoke on a copy of the tables; nothing
    /// changes here. `child` is the worknode a grant names.
    pub fn plan(
        &self,
        command: &Command<'_>,
        child: Option<usize>,
        now: Millis,
    ) -> Result<Plan, ControlError> {
        let mut authority = self.authority.clone();
        let done = match *command {
            Command::Grant { actions, resources, lease_ms, .. } => {
                let holder =
                    subject(child.ok_or(ControlError::UnknownWorknode)?).map_err(ControlError::Authority)?;
                let grant = Grant {
                    holder,
                    actions,
                    resources,
                    expires: now.saturating_add(lease_ms),
                    intent: self.boot_intent,
                };
                Planned::Granted(authority.grant(PRINCIPAL, grant, now).map_err(ControlError::Authority)?)
            }
            Command::Revoke { cap } => {
                Planned::Revoked { cap, count: authority.revoke(cap).map_err(ControlError::Authority)? }
            }
            _ => return Err(ControlError::NotATableChange),
        };
        Ok(Plan { authority, done })
    }

    /// Makes a plan the tables, once its record is durable.
    pub fn commit(&mut self, plan: Plan) {
        debug_assert!(plan.authority.caps().len() <= worknode_authority::authority::MAX_CAPS);
        self.authority = plan.authority;
    }
}

/// Why a control was not carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlError {
    /// No worknode of that name.
    UnknownWorknode,
    /// A halted worknode cannot be resumed or suspended.
    Halted,
    /// `resume` of a worknode that is not suspended.
    NotSuspended,
    /// `suspend` or `halt` of a worknode that is already so.
    Already,
    /// The authority tables refused.
    Authority(AuthorityError),
    /// Not a grant or revoke (a bug in the caller).
    NotATableChange,
}

impl core::fmt::Display for ControlError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ControlError::UnknownWorknode => f.write_str("no worknode of that name (list shows them)"),
            ControlError::Halted => f.write_str("it is halted; halt is final"),
            ControlError::NotSuspended => f.write_str("it is not suspended"),
            ControlError::Already => f.write_str("it is so already"),
            ControlError::Authority(AuthorityError::NotFound) => f.write_str("no such capability"),
            ControlError::Authority(AuthorityError::Invalid) => {
                f.write_str("the grant is invalid (no actions, or it outlives its intent)")
            }
            ControlError::Authority(AuthorityError::Full) => {
                f.write_str("the capability table is full of live leases")
            }
            ControlError::Authority(e) => write!(f, "the tables refused: {e:?}"),
            ControlError::NotATableChange => f.write_str("not a table change"),
        }
    }
}

fn subject(child: usize) -> Result<Subject, AuthorityError> {
    Subject::try_from(child).map_err(|_| AuthorityError::Full)
}

/// A worknode's name as an audit record carries it (cut to fit).
pub fn actor(name: &str) -> Actor<'_> {
    let mut end = name.len().min(MAX_SOURCE);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    Actor::Worknode(Text::new(&name[..end]).unwrap_or_else(|_| unreachable!("cut to the bound")))
}

/// A payload as an audit record carries it (cut to fit: long payloads are
/// recorded in part rather than refused).
pub fn payload(bytes: &[u8]) -> Bytes<'_, MAX_EVENT> {
    Bytes::new(&bytes[..bytes.len().min(MAX_EVENT)]).unwrap_or_else(|_| unreachable!("cut to the bound"))
}

/// The record of a decision on a worknode's action.
pub fn action_record<'a>(
    name: &'a str,
    decision: &Decision,
    action: Actions,
    resource: u32,
    bytes: &'a [u8],
    now: Millis,
) -> AuditRecord<'a> {
    AuditRecord {
        version: AUDIT_RECORD_VERSION,
        at: now,
        actor: actor(name),
        principal: decision.lineage.principal,
        intent: decision.lineage.intent,
        task: decision.lineage.task,
        what: What::Action(action.0),
        resource,
        reason: decision.reason.code(),
        cap: decision.cap,
        repeats: 0,
        payload: payload(bytes),
    }
}

/// The record of a step in a worknode's life, or of a request refused
/// because it came out of turn (`reason` not allowed).
pub fn lifecycle_record<'a>(
    name: &'a str,
    lineage: Lineage,
    step: Lifecycle,
    reason: Reason,
    index: usize,
    bytes: &'a [u8],
    now: Millis,
) -> AuditRecord<'a> {
    AuditRecord {
        version: AUDIT_RECORD_VERSION,
        at: now,
        actor: actor(name),
        principal: lineage.principal,
        intent: lineage.intent,
        task: lineage.task,
        what: What::Lifecycle(step as u8),
        resource: index as u32,
        reason: reason.code(),
        cap: None,
        repeats: 0,
        payload: payload(bytes),
    }
}

/// The record of a principal's control: `resource` is the worknode's index
/// (or the capability revoked), `line` the command as typed.
pub fn control_record(
    control: Control,
    resource: u32,
    cap: Option<CapId>,
    line: &str,
    now: Millis,
) -> AuditRecord<'_> {
    AuditRecord {
        version: AUDIT_RECORD_VERSION,
        at: now,
        actor: Actor::Principal(PRINCIPAL),
        principal: Some(PRINCIPAL),
        intent: None,
        task: None,
        what: What::Control(control as u16),
        resource,
        reason: 0,
        cap,
        repeats: 0,
        payload: payload(line.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;
    use crate::control::parse;

    fn gate() -> Gate {
        Gate::new(3, Actions::LOG.with(Actions::RECORD)).unwrap()
    }

    const RUNNING: Standing = Standing::Running;

    #[test]
    fn the_boot_policy_allows_own_logging_and_recording_only() {
        let g = gate();
        assert!(g.decide(0, RUNNING, None, Actions::RECORD, 0, 5).allowed());
        assert!(g.decide(1, RUNNING, None, Actions::LOG, 1, 5).allowed());
        assert_eq!(g.decide(0, RUNNING, None, Actions::RECORD, 1, 5).reason, Reason::NoCapability);
        assert_eq!(g.decide(0, RUNNING, None, Actions::SEND, 0, 5).reason, Reason::NoCapability);
        assert_eq!(g.decide(0, RUNNING, g.boot_task(1), Actions::LOG, 0, 5).reason, Reason::NotYourTask);
        assert_eq!(g.decide(7, RUNNING, None, Actions::LOG, 7, 5).reason, Reason::UnknownTask);
        assert_eq!(g.decide(0, Standing::Halted, None, Actions::LOG, 0, 5).reason, Reason::Halted);
        let none = Gate::new(2, Actions::NONE).unwrap();
        assert_eq!(none.decide(0, RUNNING, None, Actions::LOG, 0, 5).reason, Reason::NoCapability);
        assert!(Gate::new(62, Actions::LOG).is_ok(), "the largest governor's boot policy fits");
    }

    /// Issue 11, finding 3: a plan changes nothing until it is committed.
    #[test]
    fn a_plan_changes_nothing_until_committed() {
        let mut g = gate();
        let line = "grant worknode1 send 40-49 100";
        let plan = g.plan(&parse(line).unwrap(), Some(1), 1000).unwrap();
        let Planned::Granted(cap) = plan.done else { panic!("{:?}", plan.done) };
        assert_eq!(g.decide(1, RUNNING, None, Actions::SEND, 45, 1001).reason, Reason::NoCapability);
        g.commit(plan);
        assert!(g.decide(1, RUNNING, None, Actions::SEND, 45, 1099).allowed());
        assert_eq!(g.decide(1, RUNNING, None, Actions::SEND, 45, 1100).reason, Reason::Expired);
        let revoke = g.plan(&parse(&format_revoke(cap)).unwrap(), None, 1050).unwrap();
        assert_eq!(revoke.done, Planned::Revoked { cap, count: 1 });
        assert!(g.decide(1, RUNNING, None, Actions::SEND, 45, 1060).allowed(), "not yet committed");
        g.commit(revoke);
        assert_eq!(g.decide(1, RUNNING, None, Actions::SEND, 45, 1060).reason, Reason::Revoked);
        assert_eq!(
            g.plan(&parse("revoke 999").unwrap(), None, 0).unwrap_err().to_string(),
            "no such capability"
        );
    }

    fn format_revoke(cap: CapId) -> heapless::String<32> {
        let mut s = heapless::String::new();
        core::fmt::write(&mut s, format_args!("revoke {cap}")).unwrap();
        s
    }

    #[test]
    fn records_carry_their_lineage_and_fit_a_log_append() {
        let g = gate();
        let d = g.decide(0, RUNNING, None, Actions::RECORD, 0, 42);
        let r = action_record("worknode0", &d, Actions::RECORD, 0, b"event", 42);
        assert!(r.allowed());
        assert_eq!((r.principal, r.intent, r.task), (Some(PRINCIPAL), Some(g.boot_intent), g.boot_task(0)));
        let long = [7u8; 300];
        let r = action_record(
            "a-very-long-worknode-name-beyond-thirty-two-bytes",
            &d,
            Actions::SEND,
            0,
            &long,
            43,
        );
        assert_eq!(r.payload.len(), MAX_EVENT, "long payloads are cut, not refused");
        let mut buf = [0u8; worknode_abi::log::MAX_RECORD];
        assert!(r.encode(&mut buf).is_ok());
        let l = lifecycle_record("w", g.boot_lineage(2), Lifecycle::Greeted, Reason::Allowed, 2, b"", 1);
        assert_eq!((l.what, l.resource, l.task), (What::Lifecycle(1), 2, g.boot_task(2)));
        let c = control_record(Control::Halt, 2, None, "halt spinner", 5);
        assert_eq!((c.actor, c.what), (Actor::Principal(PRINCIPAL), What::Control(3)));
    }
}
