//! Random inputs (calls, faults, notifications, the principal's commands,
//! a log that fills up or fails) through the governor core, checked after
//! every input and as a whole (`worknode_governor::sim`): no effect before
//! its record is durable; a failed append changes nothing; every console
//! line a worknode causes was decided; the principal's stop always takes
//! effect.

use proptest::prelude::*;
use worknode_governor::sim::drive;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn every_effect_waits_for_its_record_and_stops_always_work(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Err(why) = drive(&bytes) {
            prop_assert!(false, "{}", why);
        }
    }
}
