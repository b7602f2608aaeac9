//! Fuzzes the governor's logic with any sequence of calls (well formed or
//! not) and child faults, as hostile worknodes could produce them, through
//! the roster and, as the governor PD does, the gate and its audit records.
//!
//! Checks: no panic; every call gets a reply; boot completes at most once,
//! and with consistent counts; every console line or event the roster lets
//! through, and every undecodable call, yields an audit record that fits a
//! log append and decodes back to itself.

#![no_main]

use libfuzzer_sys::fuzz_target;
use worknode_abi::frame;
use worknode_abi::governor::Request;
use worknode_abi::audit::AuditRecord;
use worknode_abi::log::MAX_RECORD;
use worknode_authority::{Actions, Reason};
use worknode_governor::{ChildSpec, Gate, Roster};

fn audited(record: &AuditRecord) {
    let mut buf = [0u8; MAX_RECORD];
    let bytes = record.encode(&mut buf).expect("an audit record fits a log append");
    assert_eq!(AuditRecord::decode(bytes).as_ref(), Some(record));
}

const CHILDREN: [ChildSpec; 3] = [
    ChildSpec { name: "worknode0", child_id: 0, channel: 1 },
    ChildSpec { name: "worknode1", child_id: 1, channel: 2 },
    ChildSpec { name: "drill", child_id: 2, channel: 3 },
];

fuzz_target!(|data: &[u8]| {
    let mut roster = Roster::new(&CHILDREN).unwrap();
    let gate = Gate::new(CHILDREN.len(), Actions::LOG.with(Actions::RECORD)).unwrap();
    let mut now = 0u64;
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
            now += 1;
            let index = CHILDREN.iter().position(|c| c.channel == channel).unwrap_or(usize::MAX);
            let outcome = match frame::decode::<Request>(bytes) {
                Ok(request) => {
                    let outcome = roster.on_request(channel, &request);
                    let own = index as u32;
                    let act = match &request {
                        Request::Log { text } => Some((Actions::LOG, own, text.as_bytes())),
                        Request::Record { event } => Some((Actions::RECORD, own, event.as_slice())),
                        Request::RecordTo { resource, event } => Some((Actions::RECORD, *resource, event.as_slice())),
                        Request::Hello | Request::Ready => None,
                    };
                    if let (Some(Ok(_)), Some((action, resource, payload))) = (&outcome.reply, act) {
                        let decision = gate.decide(index, None, action, resource, now);
                        assert_eq!(
                            decision.allowed(),
                            resource == own,
                            "the boot policy allows a child its own log and events, nothing else"
                        );
                        audited(&gate.audit("worknode", &decision, action, resource, payload, now));
                    }
                    outcome
                }
                Err(error) => {
                    let mut decision = gate.decide(index, None, Actions::NONE, 0, now);
                    decision.reason = Reason::Malformed;
                    audited(&gate.audit("worknode", &decision, Actions::NONE, 0, &[], now));
                    roster.on_malformed(error)
                }
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
