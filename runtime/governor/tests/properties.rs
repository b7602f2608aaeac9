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

/// The random runs reach what they are meant to check: mail handed to the
/// network and mail taken from a mailbox, Strong events handed to the Raft
/// PD, the cluster's events written to the log, besides records. (Few runs get a worknode far enough to take its
/// Strong outcomes too: `tests/scenarios.rs` takes them.)
#[test]
fn random_runs_reach_sends_and_mail() {
    use worknode_abi::governor::Reply;
    use worknode_governor::sim::Effect;
    let (mut sent, mut taken, mut proposed, mut copied, mut answered) = (0, 0, 0, 0, 0);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    // Until each was reached, at most 20,000 runs (some 3,000 are enough).
    for _ in 0..20_000 {
        if sent > 0 && taken > 0 && proposed > 0 && copied > 0 && answered > 0 {
            break;
        }
        let bytes: Vec<u8> = (0..600)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let w = drive(&bytes).unwrap_or_else(|why| panic!("{why}"));
        sent += w.effects.iter().filter(|e| matches!(e, Effect::NetSend { .. })).count();
        taken += w
            .effects
            .iter()
            .filter(|e| matches!(e, Effect::Reply { response: Ok(Reply::Mail { .. }), .. }))
            .count();
        proposed += w.effects.iter().filter(|e| matches!(e, Effect::Propose { .. })).count();
        answered += w
            .effects
            .iter()
            .filter(|e| matches!(e, Effect::Reply { response: Ok(Reply::Read { .. }), .. }))
            .count();
        copied += w
            .effects
            .iter()
            .filter(|e| matches!(e, Effect::Appended { record, .. } if record.first() == Some(&16)))
            .count();
    }
    assert!(
        sent > 0 && taken > 0 && proposed > 0 && copied > 0 && answered > 0,
        "sends {sent}, mail taken {taken}, proposed {proposed}, the cluster's events written {copied}, reads answered {answered}"
    );
}
