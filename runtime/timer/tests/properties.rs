//! Property tests: against a model that fires timeouts one period at a
//! time, the timer fires each timeout exactly as often, never early, and
//! always leaves the comparator at the earliest armed deadline.

use proptest::prelude::*;
use worknode_timer::Timeouts;
use worknode_timer::limits::{MIN_PERIOD_NS, SLOTS};

#[derive(Clone, Debug)]
enum Op {
    Set { client: usize, slot: u8, after: u64, period: u64 },
    Cancel { client: usize, slot: u8 },
    Advance(u64),
    Take(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 0..SLOTS as u8, 0..50_000_000u64, prop_oneof![Just(0u64), MIN_PERIOD_NS..20_000_000])
            .prop_map(|(client, slot, after, period)| Op::Set { client, slot, after, period }),
        (0..3usize, 0..SLOTS as u8).prop_map(|(client, slot)| Op::Cancel { client, slot }),
        (0..30_000_000u64).prop_map(Op::Advance),
        (0..3usize).prop_map(Op::Take),
    ]
}

/// The model: deadlines walked one period at a time.
#[derive(Clone, Copy, Default)]
struct Model {
    deadline: Option<u64>,
    period: u64,
    fired: u32,
}

proptest! {
    #[test]
    fn matches_the_period_by_period_model(ops in proptest::collection::vec(op(), 1..200)) {
        let mut timer = Timeouts::new(3);
        let mut model = [[Model::default(); SLOTS]; 3];
        let mut now = 0u64;
        for op in ops {
            match op {
                Op::Set { client, slot, after, period } => {
                    timer.set(client, slot, now, after, period).unwrap();
                    model[client][usize::from(slot)] = Model { deadline: Some(now + after), period, fired: 0 };
                }
                Op::Cancel { client, slot } => {
                    timer.cancel(client, slot).unwrap();
                    model[client][usize::from(slot)].deadline = None;
                }
                Op::Advance(by) => {
                    now += by;
                    let notified = timer.expire(now);
                    for (c, slots) in model.iter_mut().enumerate() {
                        let mut fired_any = false;
                        for m in slots.iter_mut() {
                            while let Some(d) = m.deadline.filter(|&d| d <= now) {
                                m.fired += 1;
                                fired_any = true;
                                m.deadline = (m.period != 0).then(|| d + m.period);
                            }
                        }
                        prop_assert_eq!(notified & (1 << c) != 0, fired_any, "client {} notified", c);
                    }
                }
                Op::Take(client) => {
                    let got = timer.take_fired(client).unwrap();
                    let want: Vec<u32> = model[client].iter_mut().map(|m| std::mem::take(&mut m.fired)).collect();
                    prop_assert_eq!(got.to_vec(), want);
                }
            }
            let earliest = model.iter().flatten().filter_map(|m| m.deadline).min();
            prop_assert_eq!(timer.next_deadline(), earliest);
        }
    }
}
