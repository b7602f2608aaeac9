//! The governor's logic, written without any seL4 calls so it runs on the host.
//!
//! The governor PD (`pds/governor`) turns seL4 events into calls on a
//! [`Roster`] and turns the [`Outcome`]s back into replies, notifications and
//! console lines. Everything that decides *what* happens lives here and is
//! tested on the host; the PD only decides *how* it reaches the kernel.

#![no_std]
#![forbid(unsafe_code)]

pub mod console;
pub mod control;
pub mod denials;
pub mod gate;
pub mod roster;
pub mod trail;

pub use gate::{ControlError, Controlled, Gate};
pub use roster::{ChildSpec, ChildState, Outcome, Roster, RosterError, Summary};
