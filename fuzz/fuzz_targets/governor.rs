//! Fuzzes the governor's logic with any sequence of calls (well formed or
//! not) and child faults, as hostile worknodes could produce them.
//!
//! Checks: no panic; every call gets a reply; boot completes at most once,
//! and with consistent counts.

#![no_main]

use libfuzzer_sys::fuzz_target;
use worknode_abi::frame;
use worknode_abi::governor::Request;
use worknode_governor::{ChildSpec, Roster};

const CHILDREN: [ChildSpec; 3] = [
    ChildSpec { name: "worknode0", child_id: 0, channel: 1 },
    ChildSpec { name: "worknode1", child_id: 1, channel: 2 },
    ChildSpec { name: "drill", child_id: 2, channel: 3 },
];

fuzz_target!(|data: &[u8]| {
    let mut roster = Roster::new(&CHILDREN).unwrap();
    let mut completions = usize::from(roster.on_init().boot_complete.is_some());
    // Each step: one selector byte, one length byte, then that many frame bytes.
    let mut rest = data;
    while let [selector, len, tail @ ..] = rest {
        let take = usize::from(*len).min(tail.len());
        let (bytes, after) = tail.split_at(take);
        rest = after;
        let outcome = if selector & 0x80 != 0 {
            match roster.on_fault(usize::from(selector & 0x07)) {
                Some(outcome) => outcome,
                None => continue,
            }
        } else {
            let channel = usize::from(selector & 0x07);
            let outcome = match frame::decode::<Request>(bytes) {
                Ok(request) => roster.on_request(channel, &request),
                Err(error) => roster.on_malformed(error),
            };
            assert!(outcome.reply.is_some(), "every call is answered");
            outcome
        };
        if let Some(summary) = outcome.boot_complete {
            completions += 1;
            assert_eq!(summary.ready + summary.faulted, summary.children);
        }
        assert!(completions <= 1, "boot completes once");
    }
});
