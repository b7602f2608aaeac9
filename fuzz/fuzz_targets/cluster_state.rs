//! Fuzzes the decoding of a cluster node's snapshot state (the ledger and
//! its journal, docs/cluster.md "The state machine") as a damaged disk or
//! a leader's chunks could present it: the ledger's head decoded, the
//! journal's bytes written in pieces of any size, then checked.
//!
//! Checks: no panic; a refused journal is left empty; an accepted one is
//! whole records, each within an entry's size, counted right, and takes
//! new records afterwards (dropping old ones as it must).

#![no_main]

use libfuzzer_sys::fuzz_target;
use worknode_cluster::journal::{Journal, MIN_JOURNAL};
use worknode_cluster::ledger::Ledger;
use worknode_cluster::limits::LEDGER_BYTES;
use worknode_raft::limits::MAX_DATA;

fuzz_target!(|data: &[u8]| {
    let Some((&piece, state)) = data.split_first() else { return };
    let head = &state[..state.len().min(LEDGER_BYTES)];
    if let Some(ledger) = Ledger::decode(head) {
        assert_eq!(ledger.encode().as_slice(), head, "one encoding per ledger");
    }
    let body = &state[head.len()..];
    let mut buf = vec![0u8; MIN_JOURNAL];
    let mut journal = Journal::new(&mut buf);
    if journal.begin_restore(body.len() as u64).is_err() {
        assert!(body.len() > MIN_JOURNAL);
        return;
    }
    let piece = usize::from(piece).max(1);
    for (k, part) in body.chunks(piece).enumerate() {
        journal.fill(k * piece, part).expect("inside the length given");
    }
    match journal.check() {
        Err(_) => assert_eq!((journal.bytes().len(), journal.records()), (0, 0)),
        Ok(()) => {
            let mut rest = journal.bytes();
            let mut records = 0;
            while let [a, b, tail @ ..] = rest {
                let len = usize::from(u16::from_le_bytes([*a, *b]));
                assert!(len <= MAX_DATA && len <= tail.len());
                rest = &tail[len..];
                records += 1;
            }
            assert!(rest.is_empty());
            assert_eq!(records, journal.records());
            for n in 0..40 {
                journal.push(&[n; MAX_DATA]);
            }
            assert!(journal.bytes().len() <= MIN_JOURNAL);
        }
    }
});
