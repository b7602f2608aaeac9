//! The stable boundary between Worknode protection domains.
//!
//! Everything that crosses a PD boundary is defined here and nowhere else:
//!
//! - [`error::ErrorCode`]: the one error taxonomy every reply uses, with codes
//!   that never change meaning once released;
//! - [`frame`]: how a message is laid out in the seL4 message registers of a
//!   protected procedure call (a version byte, then a postcard body);
//! - [`governor`]: the operations a worknode may ask of the governor;
//! - [`log`]: the operations the governor may ask of the log PD;
//! - [`disk`]: the disk's parts: the event log's and the Raft log's;
//! - [`timer`]: the clock and timeouts the timer PD offers its clients;
//! - [`net`]: messages to other nodes, through the network PD;
//! - [`strong`]: Strong events, from the governor to the Raft PD and back;
//! - [`pci`]: PCI configuration space for the drivers of PCI devices (x86_64);
//! - [`audit`]: the record the governor writes for every gate decision;
//! - [`console`]: the principal's command lines, from the serial driver;
//! - [`markers`]: the console lines other programs read.
//!
//! The encodings are pinned by golden tests (`tests/golden.rs`): changing a
//! byte of an existing message is a breaking change and needs a new
//! [`frame::ABI_VERSION`]. See `docs/abi.md` for the prose version.
//!
//! The crate is `no_std`, allocation-free and has no `unsafe`: it runs in the
//! PDs and in host tools alike.

#![no_std]
#![forbid(unsafe_code)]

pub mod audit;
pub mod bounded;
pub mod bytes;
pub mod console;
pub mod disk;
pub mod error;
pub mod flavors;
pub mod frame;
pub mod governor;
pub mod log;
pub mod markers;
pub mod net;
pub mod pci;
pub mod strong;
pub mod timer;

pub use error::ErrorCode;
