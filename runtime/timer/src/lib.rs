//! The timer PD's logic, sans IO: one-shot and periodic timeouts for
//! several clients, over one hardware comparator.
//!
//! The driver (drivers/timer) reads the clock, programs the comparator with
//! [`Timeouts::next_deadline`], and on each interrupt calls
//! [`Timeouts::expire`] and notifies the clients it names; a client then
//! asks which of its timeouts fired ([`Timeouts::take_fired`]).
//!
//! No drift: a periodic timeout's next deadline is its previous deadline
//! plus the period, never "now plus the period", so lateness in handling
//! one expiry does not shift the next. When the timer is so late that
//! several periods passed, each passed period counts as one firing (the
//! client learns how many it missed), and the next deadline is the first
//! one still in the future. Rejected alternative: re-arming from the time
//! the interrupt was handled, which loses a little time on every period (a
//! 10 ms tick then fires about 98 times a second under QEMU).
#![no_std]
#![forbid(unsafe_code)]

pub mod limits;

use limits::{MAX_CLIENTS, MAX_DELAY_NS, MIN_PERIOD_NS, SLOTS};
use worknode_abi::ErrorCode;

/// One client's timeout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Slot {
    /// When it fires next; `None` when not armed.
    deadline: Option<u64>,
    /// 0 for a one-shot timeout.
    period: u64,
    /// Firings not yet taken by the client.
    fired: u32,
}

/// Which clients have firings to take: bit `i` is client `i`.
pub type ClientMask = u64;

const _: () = assert!(MAX_CLIENTS <= ClientMask::BITS as usize, "one bit per client");

/// Every client's timeouts. Time is in nanoseconds on the driver's
/// monotonic clock.
#[derive(Clone, Debug)]
pub struct Timeouts {
    slots: [[Slot; SLOTS]; MAX_CLIENTS],
    clients: usize,
}

impl Timeouts {
    /// Timeouts for `clients` clients, none armed.
    pub fn new(clients: usize) -> Timeouts {
        assert!(clients <= MAX_CLIENTS, "{clients} clients, at most {MAX_CLIENTS}");
        Timeouts { slots: [[Slot::default(); SLOTS]; MAX_CLIENTS], clients }
    }

    fn slot(&mut self, client: usize, slot: u8) -> Result<&mut Slot, ErrorCode> {
        if client >= self.clients {
            return Err(ErrorCode::Internal);
        }
        self.slots[client].get_mut(usize::from(slot)).ok_or(ErrorCode::NotFound)
    }

    /// Arms `client`'s timeout `slot` to fire `after` nanoseconds after
    /// `now`, then every `period` nanoseconds (0: once). Replaces what the
    /// slot held, firings not yet taken included.
    ///
    /// Refused with `malformed`: a delay above [`MAX_DELAY_NS`], a period
    /// between 0 and [`MIN_PERIOD_NS`] or above the maximum delay;
    /// `not-found`: no such slot.
    pub fn set(
        &mut self,
        client: usize,
        slot: u8,
        now: u64,
        after: u64,
        period: u64,
    ) -> Result<(), ErrorCode> {
        if after > MAX_DELAY_NS || (period != 0 && !(MIN_PERIOD_NS..=MAX_DELAY_NS).contains(&period)) {
            return Err(ErrorCode::Malformed);
        }
        // `now` is a clock reading, far below u64::MAX - MAX_DELAY_NS for
        // centuries; saturate rather than trust that.
        let deadline = now.saturating_add(after);
        *self.slot(client, slot)? = Slot { deadline: Some(deadline), period, fired: 0 };
        Ok(())
    }

    /// Disarms `client`'s timeout `slot`; firings not yet taken are kept.
    pub fn cancel(&mut self, client: usize, slot: u8) -> Result<(), ErrorCode> {
        self.slot(client, slot)?.deadline = None;
        Ok(())
    }

    /// The earliest armed deadline: what the comparator must be set to.
    pub fn next_deadline(&self) -> Option<u64> {
        self.slots[..self.clients].iter().flatten().filter_map(|s| s.deadline).min()
    }

    /// Fires every timeout whose deadline is at or before `now` and returns
    /// the clients to notify. Afterwards every armed deadline is after
    /// `now`.
    pub fn expire(&mut self, now: u64) -> ClientMask {
        let mut notify: ClientMask = 0;
        for (client, slots) in self.slots[..self.clients].iter_mut().enumerate() {
            for slot in slots.iter_mut() {
                let Some(deadline) = slot.deadline.filter(|&d| d <= now) else { continue };
                // Every period that ended by `now` is one firing; the next
                // deadline stays on the grid `deadline + k*period`. A
                // one-shot timeout (period 0) fires once and is disarmed.
                let firings = match (now - deadline).checked_div(slot.period) {
                    None => {
                        slot.deadline = None;
                        1
                    }
                    Some(whole) => {
                        let passed = whole + 1;
                        slot.deadline = Some(deadline.saturating_add(passed.saturating_mul(slot.period)));
                        passed
                    }
                };
                slot.fired = slot.fired.saturating_add(u32::try_from(firings).unwrap_or(u32::MAX));
                notify |= 1 << client;
            }
        }
        debug_assert!(self.next_deadline().is_none_or(|d| d > now), "an expired deadline survived");
        notify
    }

    /// How many times each of `client`'s timeouts fired since the last
    /// call, and resets those counts.
    pub fn take_fired(&mut self, client: usize) -> Result<[u32; SLOTS], ErrorCode> {
        if client >= self.clients {
            return Err(ErrorCode::Internal);
        }
        let mut out = [0; SLOTS];
        for (count, slot) in out.iter_mut().zip(self.slots[client].iter_mut()) {
            *count = core::mem::take(&mut slot.fired);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn one_shot_fires_once_at_its_deadline() {
        let mut t = Timeouts::new(2);
        t.set(1, 0, 1_000, 5 * MS, 0).unwrap();
        assert_eq!(t.next_deadline(), Some(1_000 + 5 * MS));
        assert_eq!(t.expire(1_000 + 5 * MS - 1), 0, "not before its deadline");
        assert_eq!(t.expire(1_000 + 5 * MS), 0b10);
        assert_eq!(t.take_fired(1).unwrap(), [1, 0, 0, 0]);
        assert_eq!(t.take_fired(1).unwrap(), [0; SLOTS], "taken once");
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn periodic_does_not_drift_when_handled_late() {
        let mut t = Timeouts::new(1);
        t.set(0, 2, 0, 10 * MS, 10 * MS).unwrap();
        // Every expiry is handled 3 ms late; the grid stays at 10 ms.
        let mut fired = 0;
        for k in 1..=100 {
            let late = k * 10 * MS + 3 * MS;
            assert_eq!(t.expire(late), 1);
            fired += t.take_fired(0).unwrap()[2];
            assert_eq!(t.next_deadline(), Some((k + 1) * 10 * MS));
        }
        assert_eq!(fired, 100);
    }

    #[test]
    fn missed_periods_count_as_firings() {
        let mut t = Timeouts::new(1);
        t.set(0, 0, 0, 10 * MS, 10 * MS).unwrap();
        assert_eq!(t.expire(35 * MS), 1);
        assert_eq!(t.take_fired(0).unwrap()[0], 3, "10, 20 and 30 ms passed");
        assert_eq!(t.next_deadline(), Some(40 * MS));
    }

    #[test]
    fn bad_requests_are_refused_and_change_nothing() {
        let mut t = Timeouts::new(1);
        assert_eq!(t.set(0, SLOTS as u8, 0, MS, 0), Err(ErrorCode::NotFound));
        assert_eq!(t.set(0, 0, 0, MS, MIN_PERIOD_NS - 1), Err(ErrorCode::Malformed));
        assert_eq!(t.set(0, 0, 0, MAX_DELAY_NS + 1, 0), Err(ErrorCode::Malformed));
        assert_eq!(t.set(1, 0, 0, MS, 0), Err(ErrorCode::Internal), "no such client");
        assert_eq!(t.cancel(0, 9), Err(ErrorCode::NotFound));
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn cancel_disarms_and_keeps_firings() {
        let mut t = Timeouts::new(1);
        t.set(0, 1, 0, MS, MS).unwrap();
        t.expire(MS);
        t.cancel(0, 1).unwrap();
        assert_eq!(t.next_deadline(), None);
        assert_eq!(t.take_fired(0).unwrap()[1], 1);
    }
}
