//! A cluster-profile worknode that records Strong events without pause:
//! the load of `make test-cluster` and `make bench-cluster`
//! (docs/cluster.md).
//!
//! First it records [`LOCAL_EVENTS`] events `Local` (each durable on this
//! node before its call returns), one after the other, the baseline
//! `make bench-cluster` compares with; then Strong events, for good.
//!
//! Each event goes worknode → governor (the gate decides `record`, the
//! audit record is made durable on this node) → the Raft PD's queue →
//! Raft (a majority has it durable, committed) → applied on this node →
//! its outcome back through the governor. It keeps up to [`IN_FLIGHT`]
//! events pending; a `RecordStrong` answered `exhausted` (the queue or
//! its share of the governor's table is full) waits for the governor's
//! next notification, which also brings outcomes. Events are 200 to 256
//! bytes, so the cluster's entries have real sizes.
//!
//! Lines (through the governor): `strong local recorded=N` for the first
//! Local event and every [`LINE_EVERY`]th, `strong local done
//! recorded=N` at the end of them, `strong committed=N ticket=T index=I`
//! for the first outcome and every [`LINE_EVERY`]th, `strong failed
//! ticket=T: <error>` for an event that will never be committed, and
//! `strong refused: <error>` when a record is refused for another reason
//! than room (said once per change). It never waits by spinning: every
//! loop is bounded, and it sleeps until notified.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use sel4_microkit::{ChannelSet, Handler, Infallible, protection_domain};
use worknode_abi::ErrorCode;
use worknode_abi::governor::MAX_EVENT;
use worknode_pd_governed::{Governor, log};

mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

const GOVERNOR: Governor = Governor::new(system::channel::GOVERNOR);
/// Events pending at once (the governor allows each worknode 8).
const IN_FLIGHT: usize = 8;
/// Outcomes between two `committed` lines.
const LINE_EVERY: u64 = 100;
/// The smallest event; sizes go up to [`MAX_EVENT`].
const SMALLEST: usize = 200;
/// Local events recorded before the Strong ones: a few in the cluster
/// test (each restart records them again), enough to time in the bench
/// image (feature `bench`, `make bench-cluster`).
const LOCAL_EVENTS: u64 = if cfg!(feature = "bench") { 2000 } else { 100 };

#[protection_domain]
fn init() -> Strong {
    GOVERNOR.greet("strong");
    Strong { started: false, next: 0, pending: heapless::Vec::new(), committed: 0, said: None }
}

struct Strong {
    started: bool,
    /// The next event's number (from 0 at each start).
    next: u64,
    /// Tickets of the events pending.
    pending: heapless::Vec<u64, IN_FLIGHT>,
    committed: u64,
    /// The last refusal said.
    said: Option<ErrorCode>,
}

/// Event `k`: its number, then a pattern, `SMALLEST + k % 57` bytes.
fn event(k: u64, buf: &mut [u8; MAX_EVENT]) -> &[u8] {
    let len = SMALLEST + (k % 57) as usize;
    buf[..8].copy_from_slice(&k.to_le_bytes());
    for (i, b) in buf[8..len].iter_mut().enumerate() {
        *b = (k as u8).wrapping_mul(13) ^ (i as u8);
    }
    &buf[..len]
}

const _: () = assert!(SMALLEST + 56 <= MAX_EVENT, "every event fits a record");

impl Strong {
    /// Takes the outcomes that are known (at most a table's worth).
    fn take_outcomes(&mut self) {
        for _ in 0..2 * IN_FLIGHT {
            let (ticket, outcome) = match GOVERNOR.outcome() {
                Ok(Some(taken)) => taken,
                Ok(None) => return,
                Err(e) => {
                    log!(GOVERNOR, "strong outcome refused: {}", e.name());
                    return;
                }
            };
            let Some(at) = self.pending.iter().position(|&t| t == ticket) else {
                log!(GOVERNOR, "strong outcome for ticket {ticket}, which is not pending");
                continue;
            };
            self.pending.swap_remove(at);
            match outcome {
                Ok(index) => {
                    self.committed += 1;
                    if self.committed == 1 || self.committed.is_multiple_of(LINE_EVERY) {
                        log!(GOVERNOR, "strong committed={} ticket={ticket} index={index}", self.committed);
                    }
                }
                Err(e) => log!(GOVERNOR, "strong failed ticket={ticket}: {}", e.name()),
            }
        }
    }

    /// Records events until [`IN_FLIGHT`] are pending or the governor
    /// says to wait.
    fn record(&mut self) {
        let mut buf = [0u8; MAX_EVENT];
        while !self.pending.is_full() {
            match GOVERNOR.record_strong(event(self.next, &mut buf)) {
                Ok((ticket, _seq)) => {
                    // Cannot fail: the loop stops when it is full.
                    let _ = self.pending.push(ticket);
                    self.next += 1;
                    self.said = None;
                }
                // No room: the governor notifies when there is.
                Err(ErrorCode::Exhausted) => return,
                Err(e) => {
                    if self.said != Some(e) {
                        log!(GOVERNOR, "strong refused: {}", e.name());
                        self.said = Some(e);
                    }
                    return;
                }
            }
        }
    }
}

/// The Local events, one call each (bounded: [`LOCAL_EVENTS`]); a refusal
/// is said and ends the phase.
fn record_local() {
    let mut buf = [0u8; MAX_EVENT];
    for k in 1..=LOCAL_EVENTS {
        if let Err(e) = GOVERNOR.record(event(k, &mut buf)) {
            log!(GOVERNOR, "strong local refused: {}", e.name());
            return;
        }
        if k == 1 || k.is_multiple_of(LINE_EVERY) {
            log!(GOVERNOR, "strong local recorded={k}");
        }
    }
    log!(GOVERNOR, "strong local done recorded={LOCAL_EVENTS}");
}

impl Handler for Strong {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if GOVERNOR.started(channels, "strong") {
            self.started = true;
            record_local();
        }
        if self.started {
            self.take_outcomes();
            self.record();
        }
        Ok(())
    }
}
