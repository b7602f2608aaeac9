//! The governor's authority tables and the operations on them: declaring
//! intents, assigning tasks, granting, delegating (only ever narrower),
//! revoking (transitively), suspending and halting, and the gate decision.
//!
//! Every table has a fixed capacity ([`crate::limits`]); a full table
//! refuses with [`AuthorityError::Full`]. Dead capabilities (revoked, or
//! expired: a lease is never extended, so an expired capability is dead
//! for good) stay as tombstones, so a later denial can say "revoked" or
//! "expired" rather than "no capability", until their slot is needed: a
//! new capability takes the oldest dead one's slot. Live capabilities are
//! never evicted.
//!
//! A worknode's standing (running, suspended, halted) is not kept here:
//! the governor keeps it in its one record per child and hands it to
//! [`Authority::decide`].

use heapless::Vec;

use crate::decision::{Decision, Lineage, Reason};
use crate::model::{Actions, CapId, Grant, IntentId, Millis, PrincipalId, Subject, TaskId};

pub use crate::limits::{MAX_CAPS, MAX_INTENTS, MAX_PRINCIPALS, MAX_TASKS};

/// Why an operation on the tables was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthorityError {
    /// The principal, intent, task or capability does not exist.
    NotFound,
    /// The caller does not own what it tried to use (another principal's
    /// intent, another worknode's capability).
    NotOwner,
    /// A delegation asked for more than the parent capability holds: more
    /// actions, more resources, a longer lease or another intent.
    Widens,
    /// The parent capability does not include [`Actions::DELEGATE`].
    NotDelegable,
    /// The grant is empty, names unknown action kinds, has an inverted
    /// range, or outlives its intent.
    Invalid,
    /// The parent capability or intent is revoked or expired.
    NotLive,
    /// A table is full.
    Full,
}

impl AuthorityError {
    /// Where this error sits in the shared error taxonomy.
    pub fn code(self) -> worknode_abi::ErrorCode {
        use worknode_abi::ErrorCode as E;
        match self {
            AuthorityError::NotFound => E::NotFound,
            AuthorityError::NotOwner | AuthorityError::Widens | AuthorityError::NotDelegable => E::Denied,
            AuthorityError::Invalid => E::InvalidState,
            AuthorityError::NotLive => E::Revoked,
            AuthorityError::Full => E::Exhausted,
        }
    }
}

/// A worknode's standing with the principal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Running; its capabilities apply.
    Running,
    /// Suspended: every action is denied until resumed.
    Suspended,
    /// Halted: every action is denied; only a restart (by the principal)
    /// brings it back.
    Halted,
}

/// A declared intent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Intent {
    /// Its id.
    pub id: IntentId,
    /// The principal that declared it.
    pub principal: PrincipalId,
    /// When it ends.
    pub expires: Millis,
    /// Revoked by the principal.
    pub revoked: bool,
}

/// A task under an intent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Task {
    /// Its id.
    pub id: TaskId,
    /// The intent it serves.
    pub intent: IntentId,
    /// The worknode doing it.
    pub subject: Subject,
}

/// A capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capability {
    /// Its id (never reused).
    pub id: CapId,
    /// What it allows, to whom, until when, for what intent.
    pub grant: Grant,
    /// The principal at the root of its delegation chain.
    pub principal: PrincipalId,
    /// The capability it was delegated from (`None`: granted by the
    /// principal).
    pub parent: Option<CapId>,
    /// Revoked (a tombstone).
    pub revoked: bool,
}

/// Where a capability stands at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapState {
    /// It allows what it covers.
    Live,
    /// Its lease ended.
    Expired,
    /// It, or a capability it was delegated from, was revoked.
    Revoked,
}

impl CapState {
    /// A short name for the console.
    pub fn name(self) -> &'static str {
        match self {
            CapState::Live => "live",
            CapState::Expired => "expired",
            CapState::Revoked => "revoked",
        }
    }
}

impl Capability {
    fn covers(&self, action: Actions, resource: u32) -> bool {
        self.grant.actions.covers(action) && self.grant.resources.contains(resource)
    }
}

/// The tables. See the module documentation. `Clone`, so a change can be
/// planned on a copy and committed by replacing the original once its
/// audit record is durable.
#[derive(Clone, Debug, Default)]
pub struct Authority {
    principals: Vec<PrincipalId, MAX_PRINCIPALS>,
    intents: Vec<Intent, MAX_INTENTS>,
    tasks: Vec<Task, MAX_TASKS>,
    caps: Vec<Capability, MAX_CAPS>,
    next_id: u32,
}

impl Authority {
    /// Empty tables: no principal, so nothing is allowed.
    pub fn new() -> Authority {
        Authority { next_id: 1, ..Authority::default() }
    }

    fn fresh_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Registers a principal.
    pub fn add_principal(&mut self, principal: PrincipalId) -> Result<(), AuthorityError> {
        if !self.principals.contains(&principal) {
            self.principals.push(principal).map_err(|_| AuthorityError::Full)?;
        }
        Ok(())
    }

    /// A principal declares an intent lasting until `expires`.
    pub fn declare_intent(
        &mut self,
        principal: PrincipalId,
        expires: Millis,
    ) -> Result<IntentId, AuthorityError> {
        if !self.principals.contains(&principal) {
            return Err(AuthorityError::NotFound);
        }
        if self.intents.is_full() {
            return Err(AuthorityError::Full);
        }
        let id = self.fresh_id();
        let _ = self.intents.push(Intent { id, principal, expires, revoked: false });
        Ok(id)
    }

    /// The principal assigns a task under its intent to a worknode.
    pub fn assign_task(
        &mut self,
        principal: PrincipalId,
        intent: IntentId,
        subject: Subject,
    ) -> Result<TaskId, AuthorityError> {
        let i = self.intent(intent).ok_or(AuthorityError::NotFound)?;
        if i.principal != principal {
            return Err(AuthorityError::NotOwner);
        }
        if i.revoked {
            return Err(AuthorityError::NotLive);
        }
        if self.tasks.is_full() {
            return Err(AuthorityError::Full);
        }
        let id = self.fresh_id();
        let _ = self.tasks.push(Task { id, intent, subject });
        Ok(id)
    }

    /// The principal grants a capability under one of its intents. The
    /// lease may not outlive the intent. A full table gives the new one the
    /// slot of the oldest capability dead at `now`.
    pub fn grant(
        &mut self,
        principal: PrincipalId,
        grant: Grant,
        now: Millis,
    ) -> Result<CapId, AuthorityError> {
        let intent = *self.intent(grant.intent).ok_or(AuthorityError::NotFound)?;
        if intent.principal != principal {
            return Err(AuthorityError::NotOwner);
        }
        if intent.revoked {
            return Err(AuthorityError::NotLive);
        }
        if !grant_is_valid(&grant) || grant.expires > intent.expires {
            return Err(AuthorityError::Invalid);
        }
        self.insert(Capability { id: 0, grant, principal, parent: None, revoked: false }, now)
    }

    /// `from`, holding `parent`, passes on a part of it. The part must be
    /// narrower or equal in every respect: actions, resources, lease, and
    /// the same intent; and `parent` must allow delegation.
    pub fn delegate(
        &mut self,
        from: Subject,
        parent: CapId,
        grant: Grant,
        now: Millis,
    ) -> Result<CapId, AuthorityError> {
        let p = *self.cap(parent).ok_or(AuthorityError::NotFound)?;
        if p.grant.holder != from {
            return Err(AuthorityError::NotOwner);
        }
        if !self.chain_live(&p) || p.grant.expires <= now {
            return Err(AuthorityError::NotLive);
        }
        if !p.grant.actions.covers(Actions::DELEGATE) {
            return Err(AuthorityError::NotDelegable);
        }
        if !grant_is_valid(&grant) {
            return Err(AuthorityError::Invalid);
        }
        let narrower = p.grant.actions.covers(grant.actions)
            && p.grant.resources.covers(grant.resources)
            && grant.expires <= p.grant.expires
            && grant.intent == p.grant.intent;
        if !narrower {
            return Err(AuthorityError::Widens);
        }
        self.insert(
            Capability { id: 0, grant, principal: p.principal, parent: Some(parent), revoked: false },
            now,
        )
    }

    fn insert(&mut self, mut cap: Capability, now: Millis) -> Result<CapId, AuthorityError> {
        if self.caps.is_full() {
            // Reuse the oldest dead slot; live capabilities are never evicted.
            let at = self
                .caps
                .iter()
                .position(|c| self.state(c, now) != CapState::Live)
                .ok_or(AuthorityError::Full)?;
            let gone = self.caps.remove(at);
            // Descendants of a dead capability are dead too (revocation is
            // transitive, and a delegated lease ends no later than its
            // parent's); they keep their parent link, which now names
            // nothing: still not live.
            debug_assert!(
                self.caps
                    .iter()
                    .filter(|c| c.parent == Some(gone.id))
                    .all(|c| self.state(c, now) != CapState::Live)
            );
        }
        cap.id = self.fresh_id();
        let id = cap.id;
        let _ = self.caps.push(cap);
        Ok(id)
    }

    /// Revokes a capability and everything delegated from it. Returns how
    /// many capabilities became revoked.
    pub fn revoke(&mut self, cap: CapId) -> Result<usize, AuthorityError> {
        let c = self.caps.iter_mut().find(|c| c.id == cap).ok_or(AuthorityError::NotFound)?;
        let mut count = usize::from(!c.revoked);
        c.revoked = true;
        count += self.revoke_descendants();
        Ok(count)
    }

    /// Revokes everything granted on `principal`'s authority, and its
    /// intents.
    pub fn revoke_principal(&mut self, principal: PrincipalId) -> usize {
        let mut count = 0;
        for c in self.caps.iter_mut().filter(|c| c.principal == principal && !c.revoked) {
            c.revoked = true;
            count += 1;
        }
        for i in self.intents.iter_mut().filter(|i| i.principal == principal) {
            i.revoked = true;
        }
        count
    }

    /// Revokes an intent and every capability serving it.
    pub fn revoke_intent(&mut self, intent: IntentId) -> Result<usize, AuthorityError> {
        let i = self.intents.iter_mut().find(|i| i.id == intent).ok_or(AuthorityError::NotFound)?;
        i.revoked = true;
        let mut count = 0;
        for c in self.caps.iter_mut().filter(|c| c.grant.intent == intent && !c.revoked) {
            c.revoked = true;
            count += 1;
        }
        Ok(count)
    }

    /// Marks every capability whose parent is revoked (or gone), to a fixed
    /// point. Bounded: each pass either marks one more or stops, and there
    /// are at most [`MAX_CAPS`].
    fn revoke_descendants(&mut self) -> usize {
        let mut count = 0;
        for _ in 0..MAX_CAPS {
            let dead = self.caps.iter().position(|c| {
                !c.revoked
                    && c.parent
                        .is_some_and(|p| self.caps.iter().find(|x| x.id == p).is_none_or(|x| x.revoked))
            });
            match dead {
                Some(at) => {
                    self.caps[at].revoked = true;
                    count += 1;
                }
                None => break,
            }
        }
        count
    }

    /// Whether `cap` and every capability it was delegated from are
    /// unrevoked and present. Bounded by [`MAX_CAPS`] steps.
    fn chain_live(&self, cap: &Capability) -> bool {
        let mut at = *cap;
        for _ in 0..MAX_CAPS {
            if at.revoked {
                return false;
            }
            match at.parent {
                None => return true,
                Some(p) => match self.cap(p) {
                    Some(parent) => at = *parent,
                    None => return false,
                },
            }
        }
        false
    }

    /// Where `cap` stands at `now`.
    pub fn state(&self, cap: &Capability, now: Millis) -> CapState {
        if cap.revoked {
            CapState::Revoked
        } else if now >= cap.grant.expires {
            CapState::Expired
        } else if !self.chain_live(cap) {
            CapState::Revoked
        } else {
            CapState::Live
        }
    }

    /// The gate: may `subject`, whose standing with the principal is
    /// `standing`, working on `task`, do `action` on `resource` at time
    /// `now`? Deny by default.
    pub fn decide(
        &self,
        subject: Subject,
        standing: Standing,
        task: TaskId,
        action: Actions,
        resource: u32,
        now: Millis,
    ) -> Decision {
        let mut lineage = Lineage::default();
        let deny = |reason, cap, lineage| Decision { reason, cap, lineage };
        match standing {
            Standing::Halted => return deny(Reason::Halted, None, lineage),
            Standing::Suspended => return deny(Reason::Suspended, None, lineage),
            Standing::Running => {}
        }
        let Some(t) = self.task(task) else {
            return deny(Reason::UnknownTask, None, lineage);
        };
        lineage.task = Some(t.id);
        if t.subject != subject {
            return deny(Reason::NotYourTask, None, lineage);
        }
        let Some(intent) = self.intent(t.intent) else {
            return deny(Reason::UnknownTask, None, lineage);
        };
        lineage.intent = Some(intent.id);
        lineage.principal = Some(intent.principal);
        if intent.revoked {
            return deny(Reason::IntentRevoked, None, lineage);
        }
        if now >= intent.expires {
            return deny(Reason::IntentExpired, None, lineage);
        }
        if action.is_empty() || !action.is_known() {
            return deny(Reason::NoCapability, None, lineage);
        }
        let mut expired = None;
        let mut revoked = None;
        for c in self.caps.iter().filter(|c| c.grant.holder == subject && c.grant.intent == intent.id) {
            if !c.covers(action, resource) {
                continue;
            }
            match self.state(c, now) {
                CapState::Revoked => revoked = revoked.or(Some(c.id)),
                CapState::Expired => expired = expired.or(Some(c.id)),
                CapState::Live => return Decision { reason: Reason::Allowed, cap: Some(c.id), lineage },
            }
        }
        match (revoked, expired) {
            (Some(cap), _) => deny(Reason::Revoked, Some(cap), lineage),
            (None, Some(cap)) => deny(Reason::Expired, Some(cap), lineage),
            (None, None) => deny(Reason::NoCapability, None, lineage),
        }
    }

    /// An intent by id.
    pub fn intent(&self, id: IntentId) -> Option<&Intent> {
        self.intents.iter().find(|i| i.id == id)
    }

    /// A task by id.
    pub fn task(&self, id: TaskId) -> Option<&Task> {
        self.tasks.iter().find(|t| t.id == id)
    }

    /// A capability by id.
    pub fn cap(&self, id: CapId) -> Option<&Capability> {
        self.caps.iter().find(|c| c.id == id)
    }

    /// Every capability (tombstones included), oldest first.
    pub fn caps(&self) -> &[Capability] {
        &self.caps
    }

    /// Capabilities a worknode holds that are live at `now`.
    pub fn live_caps(&self, subject: Subject, now: Millis) -> impl Iterator<Item = &Capability> + '_ {
        self.caps_of(subject).filter(move |c| self.state(c, now) == CapState::Live)
    }

    /// Every capability a worknode holds, dead ones (still in the table)
    /// included, oldest first.
    pub fn caps_of(&self, subject: Subject) -> impl Iterator<Item = &Capability> + '_ {
        self.caps.iter().filter(move |c| c.grant.holder == subject)
    }
}

fn grant_is_valid(g: &Grant) -> bool {
    !g.actions.is_empty() && g.actions.is_known() && g.resources.is_valid()
}
