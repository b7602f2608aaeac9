//! Fuzzes the principal's console: any bytes as command lines, parsed and
//! carried out on a gate, interleaved with worknode actions, as a careless
//! or hostile operator (or line noise on the serial port) could produce.
//!
//! Checks: no panic; a line that does not parse changes nothing; a halted
//! or suspended worknode is never allowed anything; an allowed decision
//! always names a capability and a full lineage.

#![no_main]

use libfuzzer_sys::fuzz_target;
use worknode_authority::{Actions, Reason, Standing};
use worknode_governor::control::parse;
use worknode_governor::Gate;

const NAMES: [&str; 3] = ["worknode0", "worknode1", "spinner"];

fuzz_target!(|data: &[u8]| {
    let mut gate = Gate::new(NAMES.len(), Actions::LOG.with(Actions::RECORD)).unwrap();
    let mut now = 0u64;
    for line in data.split(|&b| b == b'\n') {
        now += 7;
        let Ok(text) = core::str::from_utf8(line) else { continue };
        match parse(text) {
            Ok(command) => {
                let _ = gate.control(&command, text, |n| NAMES.iter().position(|x| *x == n), now);
            }
            Err(_) => continue,
        }
        for child in 0..NAMES.len() {
            for bit in 0..5 {
                let action = Actions(1 << bit);
                for resource in [0u32, 1, 2, 7, 40] {
                    let d = gate.decide(child, None, action, resource, now);
                    let standing = gate.authority().standing(child as u16);
                    if standing != Standing::Running {
                        assert!(!d.allowed());
                        assert!(matches!(d.reason, Reason::Halted | Reason::Suspended));
                    }
                    if d.allowed() {
                        assert!(d.cap.is_some() && d.lineage.principal.is_some() && d.lineage.task.is_some());
                    }
                }
            }
        }
    }
});
