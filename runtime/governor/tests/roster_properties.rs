//! Property tests: the roster's invariants hold under any interleaving of
//! requests and faults, including nonsense ones.

use proptest::prelude::*;
use worknode_abi::governor::Request;
use worknode_governor::{ChildSpec, ChildState, Roster};

const NAMES: [&str; 6] = ["w0", "w1", "w2", "w3", "w4", "w5"];

#[derive(Clone, Debug)]
enum Event {
    Call { channel: usize, kind: u8 },
    Fault { child_id: usize },
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (0usize..8, 0u8..3).prop_map(|(channel, kind)| Event::Call { channel, kind }),
        (0usize..8).prop_map(|child_id| Event::Fault { child_id }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    #[test]
    fn invariants_hold(children in 0usize..6, events in proptest::collection::vec(event(), 0..40)) {
        // Channels 1.., child ids 2.. so that they differ from each other.
        let specs: Vec<ChildSpec> = (0..children)
            .map(|i| ChildSpec { name: NAMES[i], child_id: i + 2, channel: i + 1 })
            .collect();
        let mut roster = Roster::new(&specs).unwrap();
        let init = roster.on_init();
        let mut starts = 0;
        let mut completions = usize::from(init.boot_complete.is_some());
        prop_assert_eq!(init.boot_complete.is_some(), children == 0);
        let mut started_mask = 0u64;
        for event in events {
            let before: Vec<ChildState> = roster.children().map(|(_, s)| s).collect();
            let outcome = match event {
                Event::Call { channel, kind } => {
                    let request = match kind {
                        0 => Request::Hello,
                        1 => Request::Ready,
                        _ => Request::Log { text: "x".try_into().unwrap() },
                    };
                    let outcome = roster.on_request(channel, &request);
                    prop_assert!(outcome.reply.is_some());
                    outcome
                }
                Event::Fault { child_id } => match roster.on_fault(child_id) {
                    Some(outcome) => outcome,
                    None => continue,
                },
            };
            let after: Vec<ChildState> = roster.children().map(|(_, s)| s).collect();
            for (b, a) in before.iter().zip(&after) {
                if *b == ChildState::Faulted {
                    prop_assert_eq!(*a, ChildState::Faulted, "faulted children stay faulted");
                }
            }
            if outcome.notify != 0 {
                starts += 1;
                started_mask = outcome.notify;
                for (spec, state) in roster.children() {
                    let notified = outcome.notify & (1 << spec.channel) != 0;
                    prop_assert_eq!(notified, state == ChildState::Greeted);
                }
            }
            if let Some(summary) = outcome.boot_complete {
                completions += 1;
                prop_assert_eq!(summary.ready + summary.faulted, summary.children);
            }
        }
        prop_assert!(starts <= 1);
        prop_assert!(completions <= 1);
        // Only children that were sent "start" can be ready.
        for (spec, state) in roster.children() {
            if state == ChildState::Ready {
                prop_assert!(started_mask & (1 << spec.channel) != 0);
            }
        }
    }
}
