//! Fuzzes the frame decoder the way a PD meets it: an untrusted label and
//! register count, then untrusted register contents.
//!
//! Checks: no panic; whatever decodes re-encodes to exactly the same bytes
//! (one encoding per message); the frame length never exceeds the registers
//! the sender claimed to fill. Messages: the governor's requests and
//! responses, and the network PD's (`NetRequest`, `NetResponse`, whose
//! bodies borrow from the frame). The registers are also fed, as they
//! come, to the governors' mail decoder (mail arrives from the network)
//! and to the decoders of Strong events between the governor and the
//! Raft PD (`worknode_abi::strong`: each trusts nothing of the other),
//! and to the decoder of the event log's replicated records.

#![no_main]

use libfuzzer_sys::fuzz_target;
use worknode_abi::frame::{self, MAX_FRAME_LEN, WORD_BYTES};
use worknode_abi::governor::{Mail, Request, Response};
use worknode_abi::log::ReplicatedRecord;
use worknode_abi::net::{NetRequest, NetResponse};
use worknode_abi::strong::{Applied, Outcome, Proposal};

fn check<'a, T: serde::Serialize + serde::Deserialize<'a>>(bytes: &'a [u8]) {
    if let Ok(message) = frame::decode::<T>(bytes) {
        let mut again = [0u8; MAX_FRAME_LEN];
        let len = frame::encode(&message, &mut again).expect("a decoded message re-encodes");
        assert_eq!(&again[..len], bytes, "non-canonical frame accepted");
    }
}

fuzz_target!(|data: &[u8]| {
    // First 9 bytes: the message info a sender controls (label, count).
    if data.len() < 9 {
        return;
    }
    let label = u64::from_le_bytes(data[..8].try_into().unwrap());
    let count = usize::from(data[8]);
    let registers = &data[9..];
    if let Ok(len) = frame::frame_len(label, count) {
        assert!(len <= count * WORD_BYTES && len <= MAX_FRAME_LEN);
        if let Some(frame) = registers.get(..len) {
            check::<Request>(frame);
            check::<Response>(frame);
            check::<NetRequest>(frame);
            check::<NetResponse>(frame);
        }
    }
    // And the registers as a frame of their own length, label unchecked.
    check::<Request>(registers);
    check::<Response>(registers);
    check::<NetRequest>(registers);
    check::<NetResponse>(registers);
    if let Ok(mail) = Mail::decode(registers) {
        let mut again = [0u8; MAX_FRAME_LEN];
        assert_eq!(
            mail.encode(&mut again).expect("decoded mail re-encodes"),
            registers,
            "non-canonical mail"
        );
    }
    let mut again = [0u8; MAX_FRAME_LEN];
    if let Ok(proposal) = Proposal::decode(registers) {
        assert_eq!(proposal.encode(&mut again).expect("re-encodes"), registers, "non-canonical proposal");
    }
    if let Ok(outcome) = Outcome::decode(registers) {
        assert_eq!(outcome.encode(&mut again).expect("re-encodes"), registers, "non-canonical outcome");
    }
    if let Ok(applied) = Applied::decode(registers) {
        assert_eq!(applied.encode(&mut again).expect("re-encodes"), registers, "non-canonical applied event");
    }
    // The event log's copy of one, read back from a disk.
    if let Some(record) = ReplicatedRecord::decode(registers) {
        assert_eq!(record.encode(&mut again).expect("re-encodes"), registers, "non-canonical record");
    }
});
