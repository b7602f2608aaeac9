//! Worknode's authority model: the rules the governor's gate applies.
//!
//! - A **principal** is the root of all authority. It declares **intents**
//!   (purposes, each with an end), assigns **tasks** under them to
//!   worknodes, and grants **capabilities**: which action kinds, on which
//!   resources, for which intent, until when (the **lease**).
//! - Every action a worknode asks for names its task; the task names the
//!   intent, the intent the principal: the lineage principal → intent →
//!   task → action that every audit record carries.
//! - **Deny by default**: an action is allowed only if a live, unexpired
//!   capability of the caller, for the task's intent, covers it.
//! - **Delegation only narrows**: a holder may pass on part of a capability
//!   (if it includes `DELEGATE`), never more actions, resources or time.
//! - **Revocation** of a capability takes everything delegated from it;
//!   revoking an intent or a principal takes everything under it.
//! - The principal can **suspend**, **resume** and **halt** any worknode;
//!   a suspended or halted worknode is denied everything (the governor also
//!   stops it with Microkit's stop, so it cannot even ask).
//!
//! `no_std`, allocation-free, fixed-capacity tables, no `unsafe`. Tested on
//! the host, including property tests of the three promises above.
#![no_std]
#![forbid(unsafe_code)]

pub mod authority;
pub mod decision;
pub mod limits;
pub mod model;

pub use crate::authority::{Authority, AuthorityError, CapState, Capability, Intent, Standing, Task};
pub use crate::decision::{Decision, Lineage, Reason};
pub use crate::model::{Actions, CapId, Grant, IntentId, Millis, PrincipalId, Resources, Subject, TaskId};
