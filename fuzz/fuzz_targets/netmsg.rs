//! Fuzzes the message framing between nodes: a byte stream from the
//! network, cut into pieces of any size, through the deframer and the
//! envelope decoder, as the network PD reads a TCP stream.
//!
//! Checks: no panic; the deframer never takes more than it asked for and
//! never holds more than one frame; a frame it hands out is 1 to
//! MAX_MESSAGE bytes; an envelope that decodes re-encodes to the same
//! bytes (no two encodings of one message).

#![no_main]

use libfuzzer_sys::fuzz_target;
use worknode_netmsg::{Deframer, MAX_MESSAGE, PREFIX};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the piece size, the rest is the stream.
    let Some((&piece, stream)) = data.split_first() else { return };
    let piece = usize::from(piece).max(1);
    let mut deframer = Deframer::new();
    for chunk in stream.chunks(piece) {
        let mut rest = chunk;
        // Bounded: each pass takes at least one byte or stops.
        while !rest.is_empty() {
            let wants = deframer.wants();
            let taken = deframer.push(rest);
            assert!(taken <= wants && taken <= rest.len());
            rest = &rest[taken..];
            match deframer.frame() {
                Some(Ok(frame)) => {
                    assert!(!frame.is_empty() && frame.len() <= MAX_MESSAGE);
                    if let Ok(envelope) = worknode_netmsg::decode(frame) {
                        let mut out = [0u8; PREFIX + MAX_MESSAGE];
                        let len =
                            worknode_netmsg::encode(&envelope, &mut out).expect("a decoded envelope fits");
                        assert_eq!(&out[PREFIX..len], frame, "one encoding per message");
                    }
                    deframer.consume();
                }
                Some(Err(_)) => return, // the stream is unusable: the PD resets it
                None if taken == 0 => return,
                None => {}
            }
        }
    }
});
