//! The gate: how the governor applies the authority model to its children,
//! and the audit record each decision produces.
//!
//! The boot policy: one principal ([`PRINCIPAL`]), one boot intent that
//! never ends, one boot task per child, and for each child the boot grant
//! the system chose (by default `log` and `record` on its own resource,
//! the child's index). Everything beyond that is granted by the principal
//! at the console, as leases. A request without a task acts for the
//! child's boot task.
//!
//! What is audited: every decision on a worknode's action, allowed or
//! denied, and every principal control that changed something (grant,
//! revoke, suspend, resume, halt). `list` changes nothing and a control
//! that failed did nothing; both are answered on the console only.

use heapless::Vec;
use worknode_abi::audit::{AUDIT_RECORD_VERSION, Actor, AuditRecord};
use worknode_abi::governor::MAX_EVENT;
use worknode_authority::{
    Actions, Authority, AuthorityError, CapId, Decision, Grant, IntentId, Millis, PrincipalId, Resources,
    Standing, Subject, TaskId,
};

use crate::control::Command;
use crate::roster::MAX_CHILDREN;

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

/// What a principal control did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Controlled {
    /// Nothing to do (list).
    Nothing,
    /// A capability was granted.
    Granted(CapId),
    /// Capabilities were revoked (how many).
    Revoked(usize),
    /// Stop this child (suspend or halt): the PD suspends its thread.
    Stop(usize),
    /// Let this child run again.
    Resume(usize),
}

/// Why a control failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlError {
    /// No worknode of that name.
    UnknownWorknode,
    /// A halted worknode cannot be resumed.
    Halted,
    /// The authority tables refused.
    Authority(AuthorityError),
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
                authority.grant(PRINCIPAL, grant)?;
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

    /// The gate decision for child `child` (by index) doing `action` on
    /// `resource` for `task` (its boot task if `None`).
    pub fn decide(
        &self,
        child: usize,
        task: Option<TaskId>,
        action: Actions,
        resource: u32,
        now: Millis,
    ) -> Decision {
        let task = task.or(self.boot_task(child)).unwrap_or(0);
        let subject = Subject::try_from(child).unwrap_or(Subject::MAX);
        self.authority.decide(subject, task, action, resource, now)
    }

    /// The audit record of a decision on a worknode's action.
    pub fn audit(
        &self,
        worknode: &str,
        decision: &Decision,
        action: Actions,
        resource: u32,
        payload: &[u8],
        now: Millis,
    ) -> AuditRecord {
        AuditRecord {
            version: AUDIT_RECORD_VERSION,
            at: now,
            actor: Actor::Worknode(truncated(worknode)),
            principal: decision.lineage.principal,
            intent: decision.lineage.intent,
            task: decision.lineage.task,
            action: action.0,
            resource,
            reason: decision.reason.code(),
            cap: decision.cap,
            payload: Vec::from_slice(&payload[..payload.len().min(MAX_EVENT)]).unwrap_or_default(),
        }
    }

    /// Carries out a principal control. On success, also the audit record
    /// to write before its effect (none for `list`).
    pub fn control(
        &mut self,
        command: &Command<'_>,
        line: &str,
        child_named: impl Fn(&str) -> Option<usize>,
        now: Millis,
    ) -> Result<(Controlled, Option<AuditRecord>), ControlError> {
        let child = |name: &str| child_named(name).ok_or(ControlError::UnknownWorknode);
        let (done, resource) = match *command {
            Command::List => return Ok((Controlled::Nothing, None)),
            Command::Grant { worknode, actions, resources, lease_ms } => {
                let holder = subject(child(worknode)?).map_err(ControlError::Authority)?;
                let grant = Grant {
                    holder,
                    actions,
                    resources,
                    expires: now.saturating_add(lease_ms),
                    intent: self.boot_intent,
                };
                let cap = self.authority.grant(PRINCIPAL, grant).map_err(ControlError::Authority)?;
                (Controlled::Granted(cap), u32::from(holder))
            }
            Command::Revoke { cap } => {
                let count = self.authority.revoke(cap).map_err(ControlError::Authority)?;
                (Controlled::Revoked(count), cap)
            }
            Command::Suspend { worknode } | Command::Halt { worknode } | Command::Resume { worknode } => {
                let index = child(worknode)?;
                let s = subject(index).map_err(ControlError::Authority)?;
                let standing = self.authority.standing(s);
                let (next, done) = match command {
                    Command::Halt { .. } => (Standing::Halted, Controlled::Stop(index)),
                    _ if standing == Standing::Halted => return Err(ControlError::Halted),
                    Command::Suspend { .. } => (Standing::Suspended, Controlled::Stop(index)),
                    _ => (Standing::Running, Controlled::Resume(index)),
                };
                self.authority.set_standing(s, next).map_err(ControlError::Authority)?;
                (done, u32::from(s))
            }
        };
        let record = AuditRecord {
            version: AUDIT_RECORD_VERSION,
            at: now,
            actor: Actor::Principal(PRINCIPAL),
            principal: Some(PRINCIPAL),
            intent: None,
            task: None,
            action: command.number(),
            resource,
            reason: 0,
            cap: match done {
                Controlled::Granted(cap) => Some(cap),
                _ => None,
            },
            payload: Vec::from_slice(&line.as_bytes()[..line.len().min(MAX_EVENT)]).unwrap_or_default(),
        };
        Ok((done, Some(record)))
    }
}

fn subject(child: usize) -> Result<Subject, AuthorityError> {
    Subject::try_from(child).map_err(|_| AuthorityError::Full)
}

fn truncated<const N: usize>(s: &str) -> heapless::String<N> {
    let mut out = heapless::String::new();
    for c in s.chars() {
        if out.push(c).is_err() {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;

    use super::*;
    use crate::control::parse;
    use worknode_authority::Reason;

    fn names(name: &str) -> Option<usize> {
        ["worknode0", "worknode1", "spinner"].iter().position(|n| *n == name)
    }

    fn gate() -> Gate {
        Gate::new(3, Actions::LOG.with(Actions::RECORD)).unwrap()
    }

    fn run(g: &mut Gate, line: &str, now: Millis) -> Result<(Controlled, Option<AuditRecord>), ControlError> {
        g.control(&parse(line).unwrap(), line, names, now)
    }

    #[test]
    fn the_boot_policy_allows_own_logging_and_recording_only() {
        let g = gate();
        assert!(g.decide(0, None, Actions::RECORD, 0, 5).allowed());
        assert!(g.decide(1, None, Actions::LOG, 1, 5).allowed());
        assert_eq!(
            g.decide(0, None, Actions::RECORD, 1, 5).reason,
            Reason::NoCapability,
            "another's resource"
        );
        assert_eq!(g.decide(0, None, Actions::SEND, 0, 5).reason, Reason::NoCapability);
        assert_eq!(g.decide(0, g.boot_task(1), Actions::LOG, 0, 5).reason, Reason::NotYourTask);
        assert_eq!(g.decide(7, None, Actions::LOG, 7, 5).reason, Reason::UnknownTask);
        let none = Gate::new(2, Actions::NONE).unwrap();
        assert_eq!(none.decide(0, None, Actions::LOG, 0, 5).reason, Reason::NoCapability);
    }

    #[test]
    fn a_granted_lease_allows_until_it_expires_and_until_revoked() {
        let mut g = gate();
        let (done, record) = run(&mut g, "grant worknode1 send 40-49 100", 1000).unwrap();
        let Controlled::Granted(cap) = done else { panic!("{done:?}") };
        let record = record.unwrap();
        assert_eq!((record.actor.clone(), record.action, record.cap), (Actor::Principal(1), 1, Some(cap)));
        assert_eq!(record.payload.as_slice(), b"grant worknode1 send 40-49 100");
        assert!(g.decide(1, None, Actions::SEND, 45, 1099).allowed());
        assert_eq!(g.decide(1, None, Actions::SEND, 45, 1100).reason, Reason::Expired);
        let (done, _) = run(&mut g, "grant worknode1 send 40-49 100", 2000).unwrap();
        let Controlled::Granted(cap2) = done else { panic!() };
        assert_eq!(run(&mut g, &format!("revoke {cap2}"), 2010).unwrap().0, Controlled::Revoked(1));
        assert_eq!(g.decide(1, None, Actions::SEND, 45, 2020).reason, Reason::Revoked);
    }

    #[test]
    fn suspend_resume_and_halt() {
        let mut g = gate();
        assert_eq!(run(&mut g, "suspend spinner", 0).unwrap().0, Controlled::Stop(2));
        assert_eq!(g.decide(2, None, Actions::LOG, 2, 1).reason, Reason::Suspended);
        assert_eq!(run(&mut g, "resume spinner", 0).unwrap().0, Controlled::Resume(2));
        assert!(g.decide(2, None, Actions::LOG, 2, 1).allowed());
        assert_eq!(run(&mut g, "halt spinner", 0).unwrap().0, Controlled::Stop(2));
        assert_eq!(g.decide(2, None, Actions::LOG, 2, 1).reason, Reason::Halted);
        assert_eq!(run(&mut g, "resume spinner", 0), Err(ControlError::Halted));
        assert_eq!(run(&mut g, "halt nobody", 0), Err(ControlError::UnknownWorknode));
        assert_eq!(run(&mut g, "list", 0), Ok((Controlled::Nothing, None)));
        // The rest keep working.
        assert!(g.decide(0, None, Actions::LOG, 0, 1).allowed());
    }

    #[test]
    fn decisions_become_audit_records_with_their_lineage() {
        let g = gate();
        let d = g.decide(0, None, Actions::RECORD, 0, 42);
        let r = g.audit("worknode0", &d, Actions::RECORD, 0, b"event", 42);
        assert!(r.allowed());
        assert_eq!((r.principal, r.intent, r.task), (Some(PRINCIPAL), Some(g.boot_intent), g.boot_task(0)));
        assert_eq!((r.at, r.payload.as_slice()), (42, &b"event"[..]));
        let d = g.decide(0, None, Actions::SEND, 0, 43);
        let r = g.audit("worknode0", &d, Actions::SEND, 0, &[0; 300], 43);
        assert_eq!(r.reason, Reason::NoCapability.code());
        assert_eq!(r.payload.len(), MAX_EVENT, "long payloads are cut, not refused");
        let mut buf = [0u8; worknode_abi::log::MAX_RECORD];
        assert!(r.encode(&mut buf).is_ok());
    }
}
