//! The gate's decisions, one reason at a time.

use worknode_authority::{Actions, Authority, AuthorityError, Grant, Reason, Resources, Standing};

const P: u16 = 7;

fn setup() -> (Authority, u32, u32, u32) {
    let mut a = Authority::new();
    a.add_principal(P).unwrap();
    let intent = a.declare_intent(P, 10_000).unwrap();
    let task0 = a.assign_task(P, intent, 0).unwrap();
    let task1 = a.assign_task(P, intent, 1).unwrap();
    (a, intent, task0, task1)
}

fn grant(holder: u16, actions: Actions, intent: u32, expires: u64) -> Grant {
    Grant { holder, actions, resources: Resources { first: 10, last: 19 }, expires, intent }
}

#[test]
fn deny_by_default() {
    let (a, _, task0, _) = setup();
    let d = a.decide(0, Standing::Running, task0, Actions::RECORD, 10, 0);
    assert_eq!(d.reason, Reason::NoCapability);
    assert_eq!(d.lineage.principal, Some(P), "the denial still names its lineage");
}

#[test]
fn a_covering_capability_allows_and_names_itself() {
    let (mut a, intent, task0, _) = setup();
    let cap = a.grant(P, grant(0, Actions::RECORD.with(Actions::LOG), intent, 1000), 0).unwrap();
    let d = a.decide(0, Standing::Running, task0, Actions::RECORD, 15, 999);
    assert!(d.allowed());
    assert_eq!(d.cap, Some(cap));
    assert_eq!((d.lineage.intent, d.lineage.task), (Some(intent), Some(task0)));
    // Outside the resources, another action kind, at the lease's end.
    assert_eq!(a.decide(0, Standing::Running, task0, Actions::RECORD, 20, 0).reason, Reason::NoCapability);
    assert_eq!(a.decide(0, Standing::Running, task0, Actions::SEND, 15, 0).reason, Reason::NoCapability);
    assert_eq!(a.decide(0, Standing::Running, task0, Actions::RECORD, 15, 1000).reason, Reason::Expired);
}

#[test]
fn tasks_belong_to_one_worknode() {
    let (mut a, intent, task0, task1) = setup();
    a.grant(P, grant(0, Actions::RECORD, intent, 1000), 0).unwrap();
    assert_eq!(a.decide(0, Standing::Running, task1, Actions::RECORD, 15, 0).reason, Reason::NotYourTask);
    assert_eq!(a.decide(0, Standing::Running, 999, Actions::RECORD, 15, 0).reason, Reason::UnknownTask);
    assert!(a.decide(0, Standing::Running, task0, Actions::RECORD, 15, 0).allowed());
}

#[test]
fn revocation_denies_with_its_own_reason() {
    let (mut a, intent, task0, task1) = setup();
    let root = a.grant(P, grant(0, Actions::RECORD.with(Actions::DELEGATE), intent, 1000), 0).unwrap();
    let child = a.delegate(0, root, grant(1, Actions::RECORD, intent, 500), 0).unwrap();
    assert!(a.decide(1, Standing::Running, task1, Actions::RECORD, 12, 0).allowed());
    assert_eq!(a.revoke(root), Ok(2));
    assert_eq!(a.decide(0, Standing::Running, task0, Actions::RECORD, 12, 0).reason, Reason::Revoked);
    let d = a.decide(1, Standing::Running, task1, Actions::RECORD, 12, 0);
    assert_eq!((d.reason, d.cap), (Reason::Revoked, Some(child)));
    assert_eq!(Reason::Revoked.error(), Some(worknode_abi::ErrorCode::Revoked));
}

#[test]
fn delegation_refuses_to_widen_or_to_start_from_a_dead_parent() {
    let (mut a, intent, _, _) = setup();
    let root = a.grant(P, grant(0, Actions::RECORD.with(Actions::DELEGATE), intent, 1000), 0).unwrap();
    let plain = a.grant(P, grant(0, Actions::RECORD, intent, 1000), 0).unwrap();
    assert_eq!(
        a.delegate(0, plain, grant(1, Actions::RECORD, intent, 10), 0),
        Err(AuthorityError::NotDelegable)
    );
    assert_eq!(a.delegate(0, root, grant(1, Actions::SEND, intent, 10), 0), Err(AuthorityError::Widens));
    assert_eq!(a.delegate(0, root, grant(1, Actions::RECORD, intent, 1001), 0), Err(AuthorityError::Widens));
    let mut wide = grant(1, Actions::RECORD, intent, 10);
    wide.resources = Resources { first: 9, last: 12 };
    assert_eq!(a.delegate(0, root, wide, 0), Err(AuthorityError::Widens));
    assert_eq!(a.delegate(1, root, grant(2, Actions::RECORD, intent, 10), 0), Err(AuthorityError::NotOwner));
    assert_eq!(
        a.delegate(0, root, grant(1, Actions::RECORD, intent, 10), 1000),
        Err(AuthorityError::NotLive)
    );
    let other = a.declare_intent(P, 2000).unwrap();
    assert_eq!(a.delegate(0, root, grant(1, Actions::RECORD, other, 10), 0), Err(AuthorityError::Widens));
}

#[test]
fn grants_stay_within_their_intent() {
    let (mut a, intent, _, _) = setup();
    assert_eq!(a.grant(P, grant(0, Actions::RECORD, intent, 10_001), 0), Err(AuthorityError::Invalid));
    assert_eq!(a.grant(P, grant(0, Actions::NONE, intent, 10), 0), Err(AuthorityError::Invalid));
    assert_eq!(a.grant(P, grant(0, Actions(1 << 9), intent, 10), 0), Err(AuthorityError::Invalid));
    assert_eq!(a.grant(P + 1, grant(0, Actions::RECORD, intent, 10), 0), Err(AuthorityError::NotOwner));
    assert_eq!(a.grant(P, grant(0, Actions::RECORD, 12345, 10), 0), Err(AuthorityError::NotFound));
}

#[test]
fn revoking_an_intent_or_a_principal_takes_everything_under_it() {
    let (mut a, intent, task0, _) = setup();
    a.grant(P, grant(0, Actions::RECORD, intent, 1000), 0).unwrap();
    assert_eq!(a.revoke_intent(intent), Ok(1));
    assert_eq!(a.decide(0, Standing::Running, task0, Actions::RECORD, 12, 0).reason, Reason::IntentRevoked);

    let (mut a, intent, task0, _) = setup();
    a.grant(P, grant(0, Actions::RECORD, intent, 1000), 0).unwrap();
    a.grant(P, grant(1, Actions::RECORD, intent, 1000), 0).unwrap();
    assert_eq!(a.revoke_principal(P), 2);
    assert_eq!(a.decide(0, Standing::Running, task0, Actions::RECORD, 12, 0).reason, Reason::IntentRevoked);
}

#[test]
fn suspended_and_halted_worknodes_are_denied_everything() {
    let (mut a, intent, task0, _) = setup();
    a.grant(P, grant(0, Actions::RECORD, intent, 1000), 0).unwrap();
    assert_eq!(a.decide(0, Standing::Suspended, task0, Actions::RECORD, 12, 0).reason, Reason::Suspended);
    assert!(a.decide(0, Standing::Running, task0, Actions::RECORD, 12, 0).allowed());
    assert_eq!(a.decide(0, Standing::Halted, task0, Actions::RECORD, 12, 0).reason, Reason::Halted);
}

#[test]
fn a_full_table_reuses_dead_slots_but_never_live_capabilities() {
    let (mut a, intent, _, _) = setup();
    let mut ids = Vec::new();
    while let Ok(id) = a.grant(P, grant(0, Actions::RECORD, intent, 1000), 0) {
        ids.push(id);
    }
    assert_eq!(ids.len(), worknode_authority::authority::MAX_CAPS);
    assert_eq!(a.grant(P, grant(0, Actions::RECORD, intent, 1000), 0), Err(AuthorityError::Full));
    a.revoke(ids[5]).unwrap();
    let new = a.grant(P, grant(0, Actions::RECORD, intent, 1000), 0).unwrap();
    assert!(a.cap(new).is_some() && a.cap(ids[5]).is_none());
    assert!(ids.iter().filter(|&&id| id != ids[5]).all(|&id| a.cap(id).is_some()));
}

/// Issue 11, finding 7: expired leases are dead for good, so their slots
/// are reused; a principal granting short leases forever never wedges the
/// table, and `caps_of` shows the dead ones until they are reused.
#[test]
fn expired_capabilities_give_their_slots_to_new_grants() {
    let (mut a, intent, task0, _) = setup();
    // The intent ends at 10 s: 999 leases of 5 ms, 10 ms apart.
    for round in 0..999u64 {
        let now = round * 10;
        let cap = a
            .grant(P, grant(0, Actions::SEND, intent, now + 5), now)
            .unwrap_or_else(|e| panic!("grant {round} refused: {e:?}"));
        assert!(a.decide(0, Standing::Running, task0, Actions::SEND, 12, now + 4).allowed());
        let shown = a.caps_of(0).find(|c| c.id == cap).unwrap();
        assert_eq!(a.state(shown, now + 5), worknode_authority::CapState::Expired);
    }
    assert_eq!(a.caps().len(), worknode_authority::authority::MAX_CAPS);
    // Tombstones still explain the denial.
    assert_eq!(a.decide(0, Standing::Running, task0, Actions::SEND, 12, 9_995).reason, Reason::Expired);
}

#[test]
fn the_tables_hold_the_boot_policy_of_62_children_and_more() {
    let mut a = Authority::new();
    a.add_principal(P).unwrap();
    let intent = a.declare_intent(P, u64::MAX).unwrap();
    for child in 0..62u16 {
        a.assign_task(P, intent, child).unwrap();
        a.grant(P, grant(child, Actions::LOG, intent, u64::MAX), 0).unwrap();
    }
    for extra in 0..62u16 {
        a.grant(P, grant(extra, Actions::SEND, intent, 1000), 0).unwrap();
    }
}

#[test]
fn reason_codes_are_stable() {
    for (code, reason) in Reason::ALL.iter().enumerate() {
        assert_eq!(reason.code() as usize, code);
        assert_eq!(Reason::from_code(code as u8), Some(*reason));
    }
    assert_eq!(Reason::from_code(Reason::ALL.len() as u8), None);
    let names: Vec<&str> = Reason::ALL.iter().map(|r| r.name()).collect();
    assert_eq!(
        names,
        [
            "allowed",
            "no-capability",
            "expired",
            "revoked",
            "unknown-task",
            "not-your-task",
            "intent-revoked",
            "intent-expired",
            "suspended",
            "halted",
            "malformed",
            "out-of-turn"
        ]
    );
}

#[test]
fn action_sets_have_names() {
    assert_eq!(format!("{}", Actions::LOG.with(Actions::RECORD)), "record,log");
    assert_eq!(format!("{}", Actions::NONE), "none");
    assert_eq!(format!("{}", Actions(0b100_0001)), "record,0x40");
    for (kind, name) in Actions::NAMES {
        assert_eq!(Actions::from_name(name), Some(kind));
    }
    assert_eq!(Actions::from_name("fly"), None);
}
