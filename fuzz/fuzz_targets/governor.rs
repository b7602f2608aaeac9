//! Fuzzes the governor core with any sequence of inputs, as hostile
//! worknodes, a careless principal and a failing disk could produce them:
//! calls (well formed or not, in turn or not), faults, notifications on
//! any channels, console lines, a log that fills or fails
//! (`worknode_governor::sim::drive` reads them from the bytes).
//!
//! Checks, after every input and on the whole trace: no panic; no effect
//! before its audit record is durable; a failed append changes nothing;
//! every console line a worknode causes was decided; the principal's stop
//! always takes effect.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(why) = worknode_governor::sim::drive(data) {
        panic!("{why}");
    }
});
