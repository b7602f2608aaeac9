//! Property tests of the three promises: delegation never widens,
//! revocation is transitive, an expired lease never passes. Each test
//! drives the tables with a random sequence of grants, delegations and
//! revocations, then checks the promise against every capability and a
//! spread of questions to the gate.

use proptest::prelude::*;
use worknode_authority::{Actions, Authority, CapId, Grant, Reason, Resources, Standing};

const PRINCIPAL: u16 = 1;
const SUBJECTS: u16 = 4;

#[derive(Clone, Debug)]
enum Op {
    Grant { holder: u16, actions: u16, first: u32, span: u32, expires: u64 },
    Delegate { from_cap: usize, holder: u16, actions: u16, first: u32, span: u32, expires: u64 },
    Revoke { cap: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..SUBJECTS, 1u16..32, 0u32..100, 0u32..100, 1u64..2000).prop_map(
            |(holder, actions, first, span, expires)| Op::Grant { holder, actions, first, span, expires }
        ),
        (any::<usize>(), 0..SUBJECTS, 1u16..32, 0u32..100, 0u32..100, 1u64..2000).prop_map(
            |(from_cap, holder, actions, first, span, expires)| Op::Delegate {
                from_cap,
                holder,
                actions,
                first,
                span,
                expires
            }
        ),
        any::<usize>().prop_map(|cap| Op::Revoke { cap }),
    ]
}

fn grant(holder: u16, actions: u16, first: u32, span: u32, expires: u64, intent: u32) -> Grant {
    Grant {
        holder,
        actions: Actions(actions),
        resources: Resources { first, last: first + span },
        expires,
        intent,
    }
}

struct World {
    auth: Authority,
    intent: u32,
    tasks: Vec<u32>,
    /// Revoked explicitly.
    revoked: Vec<CapId>,
}

fn world(ops: &[Op]) -> World {
    let mut auth = Authority::new();
    auth.add_principal(PRINCIPAL).unwrap();
    let intent = auth.declare_intent(PRINCIPAL, 5000).unwrap();
    let tasks = (0..SUBJECTS).map(|s| auth.assign_task(PRINCIPAL, intent, s).unwrap()).collect();
    let mut revoked = Vec::new();
    for op in ops {
        let ids: Vec<CapId> = auth.caps().iter().map(|c| c.id).collect();
        match *op {
            Op::Grant { holder, actions, first, span, expires } => {
                let _ = auth.grant(PRINCIPAL, grant(holder, actions, first, span, expires, intent), 0);
            }
            Op::Delegate { from_cap, holder, actions, first, span, expires } if !ids.is_empty() => {
                let parent = ids[from_cap % ids.len()];
                let from = auth.cap(parent).unwrap().grant.holder;
                let _ = auth.delegate(from, parent, grant(holder, actions, first, span, expires, intent), 0);
            }
            Op::Revoke { cap } if !ids.is_empty() => {
                let id = ids[cap % ids.len()];
                auth.revoke(id).unwrap();
                revoked.push(id);
            }
            _ => {}
        }
    }
    World { auth, intent, tasks, revoked }
}

fn ancestors(auth: &Authority, id: CapId) -> Vec<CapId> {
    let mut out = Vec::new();
    let mut at = auth.cap(id).and_then(|c| c.parent);
    while let Some(p) = at {
        out.push(p);
        at = auth.cap(p).and_then(|c| c.parent);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn delegation_never_widens(ops in proptest::collection::vec(op(), 1..60), now in 0u64..2500, resource in 0u32..220, action in 0u32..5) {
        let w = world(&ops);
        for c in w.auth.caps() {
            if let Some(parent) = c.parent.and_then(|p| w.auth.cap(p)) {
                prop_assert!(parent.grant.actions.covers(c.grant.actions), "actions widened: {c:?} from {parent:?}");
                prop_assert!(parent.grant.actions.covers(Actions::DELEGATE));
                prop_assert!(parent.grant.resources.covers(c.grant.resources), "resources widened");
                prop_assert!(c.grant.expires <= parent.grant.expires, "lease lengthened");
                prop_assert_eq!(c.grant.intent, parent.grant.intent);
                prop_assert_eq!(c.principal, parent.principal);
            }
        }
        // Whatever a delegated capability allows, its whole chain allowed
        // at that moment.
        let action = Actions(1 << action);
        for subject in 0..SUBJECTS {
            let d = w.auth.decide(subject, Standing::Running, w.tasks[subject as usize], action, resource, now);
            if let (true, Some(cap)) = (d.allowed(), d.cap) {
                for a in ancestors(&w.auth, cap) {
                    let p = w.auth.cap(a).unwrap();
                    prop_assert!(!p.revoked && p.grant.expires > now);
                    prop_assert!(p.grant.actions.covers(action) && p.grant.resources.contains(resource));
                }
                prop_assert_eq!(d.lineage.principal, Some(PRINCIPAL));
                prop_assert_eq!(d.lineage.intent, Some(w.intent));
            }
        }
    }

    #[test]
    fn revocation_is_transitive(ops in proptest::collection::vec(op(), 1..60), now in 0u64..2500, resource in 0u32..220, action in 0u32..5) {
        let w = world(&ops);
        let action = Actions(1 << action);
        for c in w.auth.caps() {
            let chain = ancestors(&w.auth, c.id);
            if w.revoked.iter().any(|r| *r == c.id || chain.contains(r)) {
                prop_assert!(c.revoked, "descendant of a revoked capability still live: {c:?}");
                prop_assert!(w.auth.live_caps(c.grant.holder, now).all(|l| l.id != c.id));
            }
        }
        for subject in 0..SUBJECTS {
            let d = w.auth.decide(subject, Standing::Running, w.tasks[subject as usize], action, resource, now);
            if let Some(cap) = d.cap.filter(|_| d.allowed()) {
                let chain = ancestors(&w.auth, cap);
                prop_assert!(!w.revoked.iter().any(|r| *r == cap || chain.contains(r)), "allowed through a revoked chain");
            }
        }
    }

    #[test]
    fn an_expired_lease_never_passes(ops in proptest::collection::vec(op(), 1..60), resource in 0u32..220, action in 0u32..5) {
        let w = world(&ops);
        let action = Actions(1 << action);
        for c in w.auth.caps() {
            for now in [c.grant.expires, c.grant.expires + 1, u64::MAX] {
                let d = w.auth.decide(c.grant.holder, Standing::Running, w.tasks[c.grant.holder as usize], action, resource, now);
                prop_assert!(!(d.allowed() && d.cap == Some(c.id)), "expired capability {c:?} allowed at {now}");
            }
        }
        // After the intent's end nothing passes at all.
        for subject in 0..SUBJECTS {
            let d = w.auth.decide(subject, Standing::Running, w.tasks[subject as usize], action, resource, 5000);
            prop_assert_eq!(d.reason, Reason::IntentExpired);
        }
    }
}
