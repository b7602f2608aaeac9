//! Fuzzes the Raft message decoder and the core's handling of whatever
//! decodes: a stream of datagrams, as a hostile or broken network could
//! deliver them, into a node of a three-node cluster. The same bytes also
//! go through the storage record decoder and replay, as a damaged disk
//! whose log checksums still matched could present them.
//!
//! Checks: no panic, in the decoders, the replay or the node; every decoded
//! message re-encodes to the same bytes; the node's invariants (commit
//! within the log) hold after each message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use worknode_raft::message::MAX_WIRE;
use worknode_raft::storage::{Record, Recovered};
use worknode_raft::{Config, Membership, Message, Raft};

fuzz_target!(|data: &[u8]| {
    let membership = Membership::with_voters(&[1, 2, 3]).unwrap();
    let mut node = Box::new(Raft::new(Config::new(2), membership).unwrap());
    let mut replay = Box::new(Recovered::default());
    let mut seq = 0;
    // Each datagram: one length byte, then that many bytes; a zero length
    // means "tick".
    let mut rest = data;
    while let [len, tail @ ..] = rest {
        let take = usize::from(*len).min(tail.len());
        let (bytes, after) = tail.split_at(take);
        rest = after;
        if let Some(record) = Record::decode(bytes) {
            seq += 1;
            let _ = replay.replay(seq, record);
        }
        if take == 0 {
            node.tick();
        } else if let Ok(mut m) = Message::decode(bytes) {
            let mut buf = [0u8; MAX_WIRE];
            assert_eq!(m.encode(&mut buf).unwrap(), bytes, "one encoding per message");
            // Mostly address it to the node, so it gets past the first check.
            if m.to != 2 && m.from != 2 && bytes[0] & 1 == 0 {
                m.to = 2;
            }
            let _ = node.step(m);
        }
        let rd = node.ready();
        for m in node.messages() {
            // A chunk wants its bytes from storage; everything else encodes.
            if m.chunk_wanted().is_none() {
                let mut buf = [0u8; MAX_WIRE];
                assert!(m.encode(&mut buf).is_ok(), "what a node sends fits MAX_WIRE");
            }
        }
        node.advance(rd);
        let log = node.log();
        assert!(log.committed() <= log.last_index());
        assert!(log.applied() <= log.committed());
    }
});
