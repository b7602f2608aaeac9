//! The timer PD's protected procedure: the node's clock and timeouts for
//! any client that has a channel to it (drivers/timer).
//!
//! A client arms one of its timeout slots with [`TimerRequest::Set`]; when
//! timeouts fire, the timer PD notifies the client on the same channel, and
//! the client asks [`TimerRequest::Fired`] which ones and how often. A
//! notification carries no data and several coalesce into one, so the
//! counts, not the notifications, are what a client trusts: a periodic
//! timeout that fired 3 times while the client was busy reports 3.
//!
//! Slots are per client (the channel it called on); one client cannot see
//! or change another's. Rules for `Set` (the timer answers `malformed` and
//! changes nothing otherwise): `after_ns` at most 2^62, `period_ns` 0 (one
//! shot) or between 100 µs and 2^62 (`worknode_timer::limits`).
//!
//! Variants are only ever appended: their position is their wire tag.

use serde::{Deserialize, Serialize};

use crate::ErrorCode;

/// What a client asks of the timer PD.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimerRequest {
    /// The clock: nanoseconds since the timer PD started (monotonic).
    Now,
    /// Arm timeout `slot`: fire `after_ns` from now, then every
    /// `period_ns` (0: once). Replaces what the slot held.
    Set {
        /// The client's timeout slot.
        slot: u8,
        /// Delay before the first firing.
        after_ns: u64,
        /// Period of later firings; 0 for a one-shot timeout.
        period_ns: u64,
    },
    /// Disarm timeout `slot` (its firings not yet taken stay).
    Cancel {
        /// The client's timeout slot.
        slot: u8,
    },
    /// Which timeouts fired since the last `Fired`, and how often.
    Fired,
}

/// Timeout slots per client in [`TimerReply::Fired`]; the timer's
/// `limits::SLOTS` is checked against it at compile time.
pub const TIMER_SLOTS: usize = 4;

/// A successful answer from the timer PD.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimerReply {
    /// Answer to `Now`.
    Now {
        /// Nanoseconds since the timer PD started.
        ns: u64,
    },
    /// Answer to `Set` and `Cancel`, with the clock reading the timer used.
    Done {
        /// Nanoseconds since the timer PD started.
        ns: u64,
    },
    /// Answer to `Fired`: per slot, the firings since the last `Fired`.
    Fired {
        /// Firing counts, slot by slot.
        counts: [u32; TIMER_SLOTS],
        /// Nanoseconds since the timer PD started.
        ns: u64,
    },
}

/// What the timer PD sends back for every call.
pub type TimerResponse = Result<TimerReply, ErrorCode>;
