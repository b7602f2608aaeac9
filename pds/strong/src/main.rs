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
//! After every [`LINE_EVERY`]th outcome it reads one of the cluster's
//! Strong events (`ReadStrong`, linearizable: docs/cluster.md), the
//! newest it knows of (the count the last read saw), and every fifth read
//! one far past the count, which must come back `not-yet`. It checks each
//! answer: an event found must be one a `strong` worknode made (every
//! node runs this one, and [`event`] says its bytes from its number);
//! the count never goes back, and covers the events this worknode saw
//! committed. Line: `strong read number=N count=C index=I found=..`, or
//! `strong read BAD ...` when a check fails (the cluster test fails on
//! it).
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
use worknode_abi::governor::{MAX_EVENT, Reply, StrongRead};
use worknode_pd_governed::{Governor, log};

mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

const GOVERNOR: Governor = Governor::new(system::channel::GOVERNOR);
/// Events and reads pending at once (the governor allows each worknode 8).
const IN_FLIGHT: usize = 8;
/// Of the reads, every this many asks for a number far past the count.
const NOT_YET_EVERY: u64 = 5;
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
    Strong {
        started: false,
        next: 0,
        pending: heapless::Vec::new(),
        committed: 0,
        said: None,
        reading: None,
        read_due: false,
        reads: 0,
        known: 0,
    }
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
    /// The ticket of the read pending, and the count of events this
    /// worknode had seen committed when it asked.
    reading: Option<(u64, u64)>,
    /// A read is to be asked.
    read_due: bool,
    /// Reads asked.
    reads: u64,
    /// The count of the cluster's events the last read saw.
    known: u64,
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
            let outcome = match GOVERNOR.outcome() {
                Ok(Some(taken)) => taken,
                Ok(None) => return,
                Err(e) => {
                    log!(GOVERNOR, "strong outcome refused: {}", e.name());
                    return;
                }
            };
            let ticket = match outcome {
                Reply::Committed { ticket, .. }
                | Reply::Failed { ticket, .. }
                | Reply::Read { ticket, .. } => ticket,
                // `outcome` answers no other.
                _ => continue,
            };
            if let Some((read, seen)) = self.reading.filter(|&(t, _)| t == ticket) {
                debug_assert_eq!(read, ticket);
                self.reading = None;
                self.check_read(&outcome, seen);
                continue;
            }
            let Some(at) = self.pending.iter().position(|&t| t == ticket) else {
                log!(GOVERNOR, "strong outcome for ticket {ticket}, which is not pending");
                continue;
            };
            self.pending.swap_remove(at);
            match outcome {
                Reply::Committed { index, .. } => {
                    self.committed += 1;
                    if self.committed == 1 || self.committed.is_multiple_of(LINE_EVERY) {
                        log!(GOVERNOR, "strong committed={} ticket={ticket} index={index}", self.committed);
                        self.read_due = true;
                    }
                }
                Reply::Failed { error, .. } => {
                    log!(GOVERNOR, "strong failed ticket={ticket}: {}", error.name())
                }
                _ => log!(GOVERNOR, "strong read BAD ticket={ticket}: an event's ticket answered as a read"),
            }
        }
    }

    /// Checks a read's answer (see the module documentation), asked when
    /// this worknode had seen `seen` of its events committed, and says it.
    fn check_read(&mut self, outcome: &Reply, seen: u64) {
        let Reply::Read { ticket, number, count, index, found } = outcome else {
            if let Reply::Failed { ticket, error } = outcome {
                log!(GOVERNOR, "strong read failed ticket={ticket}: {}", error.name());
            } else {
                log!(GOVERNOR, "strong read BAD: a read answered as an event");
            }
            return;
        };
        let (name, bad) = match found {
            StrongRead::Event { event: bytes, .. } => {
                let k = bytes.get(..8).and_then(|b| b.try_into().ok()).map_or(u64::MAX, u64::from_le_bytes);
                let mut buf = [0u8; MAX_EVENT];
                let made = k != u64::MAX && event(k, &mut buf) == &bytes[..];
                (
                    "event",
                    if !made {
                        Some("not an event a strong worknode made")
                    } else if *number > *count {
                        Some("found past the count")
                    } else {
                        None
                    },
                )
            }
            StrongRead::NotYet => ("not-yet", (*number <= *count).then_some("not yet, within the count")),
            StrongRead::Gone => ("gone", (*number > *count).then_some("gone, past the count")),
        };
        let bad = bad
            .or((*count < self.known).then_some("the count went back"))
            .or((*count < seen).then_some("fewer than this worknode saw committed"));
        match bad {
            None => log!(GOVERNOR, "strong read number={number} count={count} index={index} found={name}"),
            Some(why) => log!(
                GOVERNOR,
                "strong read BAD ticket={ticket} number={number} count={count} known={} seen={seen} found={name}: {why}",
                self.known
            ),
        }
        self.known = self.known.max(*count);
    }

    /// Asks the read that is due, if none is pending and there is room.
    fn read(&mut self) {
        if !self.read_due || self.reading.is_some() || self.pending.len() + 1 > IN_FLIGHT {
            return;
        }
        self.reads += 1;
        let number =
            if self.reads.is_multiple_of(NOT_YET_EVERY) { self.known + (1 << 40) } else { self.known.max(1) };
        match GOVERNOR.read_strong(number) {
            Ok((ticket, _seq)) => {
                self.reading = Some((ticket, self.committed));
                self.read_due = false;
            }
            // No room: the governor notifies when there is.
            Err(ErrorCode::Exhausted) => {}
            Err(e) => {
                log!(GOVERNOR, "strong read refused: {}", e.name());
                self.read_due = false;
            }
        }
    }

    /// Records events until [`IN_FLIGHT`] are pending (a read pending
    /// included) or the governor says to wait.
    fn record(&mut self) {
        let mut buf = [0u8; MAX_EVENT];
        while self.pending.len() + usize::from(self.reading.is_some()) < IN_FLIGHT {
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
            self.read();
            self.record();
        }
        Ok(())
    }
}
