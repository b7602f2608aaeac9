//! A linearizability checker for the key-value workload, in the style of
//! Porcupine: Wing & Gong's search with Lowe's memoization (WGL), run per
//! key (linearizability is compositional, so each register is checked on
//! its own).
//!
//! An operation that never returned (the client timed out) may have taken
//! effect at any time after its call: a write is kept with a return time
//! of infinity if some read saw its value, and dropped otherwise; a read is
//! dropped. Neither kind of drop changes the verdict (see [`relevant`]). Rejected
//! alternative: `stateright`'s linearizability tester, which checks a
//! history it records itself through its own actor model; ours comes from
//! the simulator's clients, and the search below is small.

use std::collections::HashSet;

/// What a client did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Wrote a unique value.
    Put(u64),
    /// Read this result (`None`: the register was never written).
    Get(Option<u64>),
}

/// One operation of a history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Op {
    /// Register.
    pub key: u8,
    /// What it did.
    pub action: Action,
    /// When the client called.
    pub call: u64,
    /// When the answer arrived; `None` if it never did.
    pub ret: Option<u64>,
}

/// Checks a history; on failure returns the key whose history is not
/// linearizable.
pub fn check(history: &[Op]) -> Result<(), u8> {
    let mut keys: Vec<u8> = history.iter().map(|op| op.key).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        let read: std::collections::HashSet<u64> = history
            .iter()
            .filter_map(|op| match op.action {
                Action::Get(Some(v)) if op.key == key && op.ret.is_some() => Some(v),
                _ => None,
            })
            .collect();
        let ops: Vec<Op> =
            history.iter().filter(|op| op.key == key && relevant(op, &read)).copied().collect();
        if !register_linearizable(&ops) {
            return Err(key);
        }
    }
    Ok(())
}

/// Whether an operation constrains the search. A read that never returned
/// does not; neither does a write that never returned and whose value no
/// read saw: it can always be placed after everything else, so dropping it
/// changes no verdict, and keeping it makes the search exponential in the
/// number of timed-out writes.
fn relevant(op: &Op, read: &std::collections::HashSet<u64>) -> bool {
    match (op.action, op.ret) {
        (_, Some(_)) => true,
        (Action::Put(v), None) => read.contains(&v),
        (Action::Get(_), None) => false,
    }
}

#[derive(Clone, Copy)]
struct Event {
    op: usize,
    is_call: bool,
    /// The matching event (a call's return, a return's call).
    peer: usize,
    prev: usize,
    next: usize,
}

const HEAD: usize = 0;

/// WGL over one register's operations.
fn register_linearizable(ops: &[Op]) -> bool {
    // Events sorted by time, calls before returns at equal times (so an
    // answer and a call in the same millisecond count as concurrent).
    let mut order: Vec<(u64, bool, usize)> = Vec::with_capacity(ops.len() * 2);
    for (i, op) in ops.iter().enumerate() {
        order.push((op.call, false, i));
        order.push((op.ret.unwrap_or(u64::MAX), true, i));
    }
    order.sort_unstable();
    // Node 0 is the list head; event k lives at node k + 1.
    let mut events = vec![Event { op: 0, is_call: false, peer: 0, prev: 0, next: 1 }];
    let mut call_at = vec![0; ops.len()];
    let mut ret_at = vec![0; ops.len()];
    for (k, &(_, is_ret, op)) in order.iter().enumerate() {
        let node = k + 1;
        events.push(Event { op, is_call: !is_ret, peer: 0, prev: node - 1, next: node + 1 });
        if is_ret { ret_at[op] = node } else { call_at[op] = node }
    }
    let end = events.len();
    events.last_mut().expect("head").next = end;
    for op in 0..ops.len() {
        events[call_at[op]].peer = ret_at[op];
        events[ret_at[op]].peer = call_at[op];
    }

    let lift = |events: &mut Vec<Event>, call: usize| {
        let ret = events[call].peer;
        for node in [call, ret] {
            let Event { prev, next, .. } = events[node];
            events[prev].next = next;
            if next != end {
                events[next].prev = prev;
            }
        }
    };
    let unlift = |events: &mut Vec<Event>, call: usize| {
        let ret = events[call].peer;
        for node in [ret, call] {
            let Event { prev, next, .. } = events[node];
            events[prev].next = node;
            if next != end {
                events[next].prev = node;
            }
        }
    };

    let words = ops.len().div_ceil(64);
    let mut linearized = vec![0u64; words];
    let mut state: Option<u64> = None;
    let mut seen: HashSet<(Vec<u64>, Option<u64>)> = HashSet::new();
    let mut stack: Vec<(usize, Option<u64>)> = Vec::new();
    let mut entry = events[HEAD].next;
    // Bounded by the memo table: every forward step adds a new (set, state)
    // pair, and there are finitely many.
    loop {
        if events[HEAD].next == end {
            return true;
        }
        if entry == end {
            // Unreachable: the list's last event is always a return, which
            // is handled below before the scan can run off the end.
            return false;
        }
        let ev = events[entry];
        if ev.is_call {
            let op = ops[ev.op];
            let next_state = match op.action {
                Action::Put(v) => Some(Some(v)),
                Action::Get(r) if r == state => Some(state),
                Action::Get(_) => None,
            };
            if let Some(next_state) = next_state {
                let mut set = linearized.clone();
                set[ev.op / 64] |= 1 << (ev.op % 64);
                if seen.insert((set.clone(), next_state)) {
                    stack.push((entry, state));
                    linearized = set;
                    state = next_state;
                    lift(&mut events, entry);
                    entry = events[HEAD].next;
                    continue;
                }
            }
            entry = ev.next;
        } else {
            // A return whose call is not linearized yet: backtrack.
            let Some((call, prev_state)) = stack.pop() else {
                return false;
            };
            let op = events[call].op;
            linearized[op / 64] &= !(1 << (op % 64));
            state = prev_state;
            unlift(&mut events, call);
            entry = events[call].next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(v: u64, call: u64, ret: Option<u64>) -> Op {
        Op { key: 0, action: Action::Put(v), call, ret }
    }
    fn get(r: Option<u64>, call: u64, ret: u64) -> Op {
        Op { key: 0, action: Action::Get(r), call, ret: Some(ret) }
    }

    #[test]
    fn sequential_history_passes() {
        assert_eq!(
            check(&[put(1, 0, Some(1)), get(Some(1), 2, 3), put(2, 4, Some(5)), get(Some(2), 6, 7)]),
            Ok(())
        );
    }

    #[test]
    fn stale_read_fails() {
        // The read starts after the second write returned but sees the first.
        assert_eq!(check(&[put(1, 0, Some(1)), put(2, 2, Some(3)), get(Some(1), 4, 5)]), Err(0));
    }

    #[test]
    fn read_of_a_value_never_written_fails() {
        assert_eq!(check(&[put(1, 0, Some(1)), get(Some(7), 2, 3)]), Err(0));
        assert_eq!(check(&[put(1, 0, Some(1)), get(None, 2, 3)]), Err(0));
    }

    #[test]
    fn concurrent_operations_may_order_either_way() {
        let h = [put(1, 0, Some(10)), put(2, 1, Some(9)), get(Some(1), 11, 12)];
        assert_eq!(check(&h), Ok(()));
        let h = [put(1, 0, Some(10)), put(2, 1, Some(9)), get(Some(2), 11, 12)];
        assert_eq!(check(&h), Ok(()));
    }

    #[test]
    fn a_write_that_never_returned_may_take_effect_late() {
        let h = [put(1, 0, None), get(None, 1, 2), get(Some(1), 50, 51)];
        assert_eq!(check(&h), Ok(()));
        // ...but once seen it cannot be unseen.
        let h =
            [put(1, 0, None), put(2, 1, Some(2)), get(Some(1), 3, 4), get(Some(2), 5, 6), get(Some(1), 7, 8)];
        assert_eq!(check(&h), Err(0));
    }

    #[test]
    fn a_read_that_never_returned_is_ignored() {
        let h = [put(1, 0, Some(1)), Op { key: 0, action: Action::Get(Some(9)), call: 2, ret: None }];
        assert_eq!(check(&h), Ok(()));
    }

    #[test]
    fn keys_are_checked_separately() {
        let mut other = put(5, 0, Some(1));
        other.key = 1;
        let bad_read = Op { key: 1, action: Action::Get(Some(4)), call: 2, ret: Some(3) };
        assert_eq!(check(&[put(1, 0, Some(1)), other, bad_read]), Err(1));
    }
}
