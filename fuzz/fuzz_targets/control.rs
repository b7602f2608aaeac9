//! Fuzzes the principal's console: any bytes as command lines, carried out
//! by a booted governor core, as a careless or hostile operator (or line
//! noise on the serial port) could type them.
//!
//! Checks: no panic; a line that does not parse changes nothing and
//! appends nothing; the whole trace passes `worknode_governor::sim::check`
//! (no effect before its record).

#![no_main]

use libfuzzer_sys::fuzz_target;
use worknode_authority::Actions;
use worknode_governor::sim::{Effect, LOG, NET, SERIAL, SPECS, SimWorld, check, snapshot};
use worknode_governor::{Config, Governor, LogStatus};

fuzz_target!(|data: &[u8]| {
    let config = Config {
        log: Some(LOG),
        serial: Some(SERIAL),
        net: Some(NET),
        raft: None,
        boot: Actions::LOG.with(Actions::RECORD),
        print_records: true,
    };
    let mut g = Governor::new(&SPECS, config).unwrap();
    let mut w = SimWorld::new(Ok(LogStatus { recovered: 0, log_id: 1 }));
    g.init(&mut w);
    g.notified(&mut w, 1 << LOG, 1);
    let mut now = 1u64;
    for line in data.split(|&b| b == b'\n') {
        now += 7;
        let Ok(text) = core::str::from_utf8(line) else { continue };
        let before = snapshot(&g);
        let appended = w.effects.iter().filter(|e| matches!(e, Effect::Appended { .. })).count();
        let parses = worknode_governor::control::parse(text).is_ok();
        g.command(&mut w, text, now);
        if !parses {
            assert_eq!(snapshot(&g), before, "a line that does not parse changed something");
            let after = w.effects.iter().filter(|e| matches!(e, Effect::Appended { .. })).count();
            assert_eq!(after, appended, "a line that does not parse was recorded");
        }
    }
    if let Err(why) = check(&w.effects, &SPECS) {
        panic!("{why}");
    }
});
