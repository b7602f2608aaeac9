//! The governor's logic, sans IO, so it runs and is tested on the host.
//!
//! [`Governor`] takes every input the governor PD receives (a worknode's
//! call, notifications, a fault) and decides: with the authority gate, the
//! record per child, and the event log's durability, it works out each
//! change, has its audit record made durable through the [`World`], and
//! only then commits it. The PD (`pds/governor`) implements the [`World`]
//! with seL4 calls and is glue; everything that decides *what* happens
//! lives here.

#![no_std]
#![forbid(unsafe_code)]

pub mod children;
pub mod coalesce;
pub mod console;
pub mod control;
pub mod gate;
pub mod governor;
pub mod limits;
pub mod mail;
pub mod replicated;
#[cfg(feature = "sim")]
pub mod sim;
pub mod strong;
pub mod supervise;
pub mod world;

pub use children::{Child, ChildSpec, Children, Stage, Summary};
pub use gate::Gate;
pub use governor::{Config, Governor, LogState, SetupError};
pub use world::{LogStatus, World};
