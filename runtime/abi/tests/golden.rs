//! Golden encodings: the exact bytes of every governor message.
//!
//! These bytes are the ABI. If a test here fails, the change broke every
//! deployed worknode: bump `ABI_VERSION` and add new goldens instead of
//! editing these.

use worknode_abi::ErrorCode;
use worknode_abi::bounded::{Bytes, Text};
use worknode_abi::frame::{self, ABI_VERSION, MAX_FRAME_LEN};
use worknode_abi::governor::{Reply, Request, Response, StrongRead};

fn encoded<T: serde::Serialize>(message: &T) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME_LEN];
    let len = frame::encode(message, &mut buf).expect("golden messages fit");
    buf[..len].to_vec()
}

#[test]
fn abi_version_is_one() {
    assert_eq!(ABI_VERSION, 1);
}

fn log(text: &str) -> Request<'_> {
    Request::Log { text: Text::new(text).unwrap() }
}

fn record_to(resource: u32) -> Request<'static> {
    Request::RecordTo { resource, event: Bytes::new(&[0xAB]).unwrap() }
}

fn send() -> Request<'static> {
    Request::Send { node: 2, worknode: 7, body: Bytes::new(b"hi").unwrap() }
}

fn mail() -> Reply {
    Reply::Mail { node: 1, worknode: 7, body: heapless::Vec::from_slice(b"hi").unwrap() }
}

#[test]
fn requests() {
    let cases: &[(Request<'_>, &[u8])] = &[
        (Request::Hello, &[1, 0]),
        (Request::Ready, &[1, 1]),
        (log(""), &[1, 2, 0]),
        (log("hi"), &[1, 2, 2, b'h', b'i']),
        (Request::Record { event: Bytes::new(&[0xAB]).unwrap() }, &[1, 3, 1, 0xAB]),
        (record_to(100), &[1, 4, 100, 1, 0xAB]),
        (record_to(300), &[1, 4, 0xAC, 0x02, 1, 0xAB]),
        (send(), &[1, 5, 2, 7, 2, b'h', b'i']),
        (Request::Receive, &[1, 6]),
        (Request::RecordStrong { event: Bytes::new(&[0xAB]).unwrap() }, &[1, 7, 1, 0xAB]),
        (Request::Outcome, &[1, 8]),
        (Request::ReadStrong { number: 300 }, &[1, 9, 0xAC, 0x02]),
    ];
    for (message, bytes) in cases {
        assert_eq!(encoded(message), *bytes, "{message:?}");
        assert_eq!(frame::decode::<Request>(bytes).as_ref(), Ok(message));
    }
}

#[test]
fn log_text_is_bounded_and_utf8() {
    let longest = "x".repeat(worknode_abi::governor::MAX_LOG_TEXT);
    let bytes = encoded(&log(&longest));
    assert_eq!(bytes.len(), 2 + 2 + longest.len(), "length is a two-byte varint");
    assert_eq!(frame::decode::<Request>(&bytes), Ok(log(&longest)));

    // One byte more than the bound: the decoder refuses it.
    let mut too_long = vec![1, 2, 0x81, 0x02];
    too_long.extend(std::iter::repeat_n(b'x', 257));
    assert_eq!(frame::decode::<Request>(&too_long), Err(ErrorCode::Malformed));

    // Not UTF-8.
    assert_eq!(frame::decode::<Request>(&[1, 2, 1, 0xFF]), Err(ErrorCode::Malformed));
    // Length longer than the bytes that follow.
    assert_eq!(frame::decode::<Request>(&[1, 2, 3, b'a']), Err(ErrorCode::Malformed));
}

#[test]
fn responses() {
    let cases: &[(Response, &[u8])] = &[
        (Ok(Reply::Welcome { worknode: 2, children: 3 }), &[1, 0, 0, 2, 3]),
        (Ok(Reply::Welcome { worknode: 300, children: 61 }), &[1, 0, 0, 0xAC, 0x02, 61]),
        (Ok(Reply::Ack), &[1, 0, 1]),
        (Ok(Reply::Recorded { seq: 300 }), &[1, 0, 2, 0xAC, 0x02]),
        (Ok(Reply::Sent { seq: 300 }), &[1, 0, 3, 0xAC, 0x02]),
        (Ok(mail()), &[1, 0, 4, 1, 7, 2, b'h', b'i']),
        (Ok(Reply::Empty), &[1, 0, 5]),
        (Ok(Reply::Pending { ticket: 3, seq: 300 }), &[1, 0, 6, 3, 0xAC, 0x02]),
        (Ok(Reply::Committed { ticket: 3, index: 300 }), &[1, 0, 7, 3, 0xAC, 0x02]),
        (Ok(Reply::Failed { ticket: 3, error: ErrorCode::Malformed }), &[1, 0, 8, 3, 1]),
        (Ok(read_event()), &[1, 0, 9, 3, 0xAC, 0x02, 0xAD, 0x02, 7, 0, 1, 2, 7, 2, b'h', b'i']),
        (Ok(read_not_yet()), &[1, 0, 9, 3, 0xAC, 0x02, 0xAD, 0x02, 7, 1]),
        (Err(ErrorCode::Malformed), &[1, 1, 1]),
        (Err(ErrorCode::InvalidState), &[1, 1, 3]),
        (Err(ErrorCode::Denied), &[1, 1, 4]),
        (Err(ErrorCode::Internal), &[1, 1, 12]),
    ];
    for (message, bytes) in cases {
        assert_eq!(encoded(message), *bytes, "{message:?}");
        assert_eq!(frame::decode::<Response>(bytes).as_ref(), Ok(message));
    }
}

#[test]
fn every_error_code_encodes_as_its_number() {
    for &code in ErrorCode::ALL {
        let bytes = encoded(&Response::Err(code));
        assert_eq!(bytes, [1, 1, code.code() as u8]);
    }
}

#[test]
fn unknown_tags_are_malformed() {
    assert_eq!(frame::decode::<Request>(&[1, 3]), Err(ErrorCode::Malformed));
    assert_eq!(frame::decode::<Request>(&[1, 10]), Err(ErrorCode::Malformed), "no tag 10 yet");
    assert_eq!(frame::decode::<Response>(&[1, 2]), Err(ErrorCode::Malformed));
    assert_eq!(frame::decode::<Response>(&[1, 0, 2]), Err(ErrorCode::Malformed));
    assert_eq!(frame::decode::<Response>(&[1, 0, 10]), Err(ErrorCode::Malformed), "no reply tag 10 yet");
    // A read's answer with no found tag 3.
    assert_eq!(frame::decode::<Response>(&[1, 0, 9, 3, 1, 1, 1, 3]), Err(ErrorCode::Malformed));
    // Error code 0 and 14 name nothing.
    assert_eq!(frame::decode::<Response>(&[1, 1, 0]), Err(ErrorCode::Malformed));
    assert_eq!(frame::decode::<Response>(&[1, 1, 14]), Err(ErrorCode::Malformed));
}

#[test]
fn overlong_varints_are_not_a_second_encoding() {
    // 2 written as a two-byte varint: a decoder that accepted it would let
    // one message have two encodings.
    let overlong = [1, 0, 0, 0x82, 0x00, 3];
    assert_eq!(frame::decode::<Response>(&overlong), Err(ErrorCode::Malformed));
}

/// docs/abi.md is the user-facing copy of these goldens; it must not drift.
#[test]
fn docs_agree_with_the_code() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/abi.md")).unwrap();
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(" ");
    let row_with = |needles: &[&str]| doc.lines().any(|line| needles.iter().all(|n| line.contains(n)));

    for &code in ErrorCode::ALL {
        let cells = [format!("| {} |", code.code()), format!("`{}`", code.name())];
        assert!(row_with(&[&cells[0], &cells[1]]), "docs/abi.md lacks the row for {code}");
    }
    let record = Request::Record { event: Bytes::new(&[0xAB]).unwrap() };
    let requests: [(&str, Request<'_>); 10] = [
        ("`Hello`", Request::Hello),
        ("`Ready`", Request::Ready),
        ("`Log`", log("hi")),
        ("`Record`", record),
        ("`RecordTo`", record_to(100)),
        ("`Send`", send()),
        ("`Receive`", Request::Receive),
        ("`RecordStrong`", Request::RecordStrong { event: Bytes::new(&[0xAB]).unwrap() }),
        ("`Outcome`", Request::Outcome),
        ("`ReadStrong`", Request::ReadStrong { number: 300 }),
    ];
    for (name, message) in requests {
        let bytes = format!("`{}`", hex(&encoded(&message)));
        assert!(row_with(&[name, &bytes]), "docs/abi.md: {name} should show {bytes}");
    }
    let responses: [(&str, Response); 15] = [
        ("`Ok(Pending { ticket: 3, seq: 300 })`", Ok(Reply::Pending { ticket: 3, seq: 300 })),
        ("`Ok(Committed { ticket: 3, index: 300 })`", Ok(Reply::Committed { ticket: 3, index: 300 })),
        (
            "`Ok(Failed { ticket: 3, error: malformed })`",
            Ok(Reply::Failed { ticket: 3, error: ErrorCode::Malformed }),
        ),
        ("`Ok(Read { ticket: 3, number: 300, count: 301, index: 7, found: Event", Ok(read_event())),
        ("`Ok(Read { ticket: 3, number: 300, count: 301, index: 7, found: NotYet", Ok(read_not_yet())),
        ("`Ok(Recorded { seq: 300 })`", Ok(Reply::Recorded { seq: 300 })),
        ("`Ok(Sent { seq: 300 })`", Ok(Reply::Sent { seq: 300 })),
        ("`Ok(Mail { node: 1, worknode: 7, body: \"hi\" })`", Ok(mail())),
        ("`Ok(Empty)`", Ok(Reply::Empty)),
        ("`Ok(Welcome { worknode: 2, children: 3 })`", Ok(Reply::Welcome { worknode: 2, children: 3 })),
        ("`Ok(Welcome { worknode: 300, children: 61 })`", Ok(Reply::Welcome { worknode: 300, children: 61 })),
        ("`Ok(Ack)`", Ok(Reply::Ack)),
        ("`Err(malformed)`", Err(ErrorCode::Malformed)),
        ("`Err(invalid-state)`", Err(ErrorCode::InvalidState)),
        ("`Err(denied)`", Err(ErrorCode::Denied)),
    ];
    for (name, message) in responses {
        let bytes = format!("`{}`", hex(&encoded(&message)));
        assert!(row_with(&[name, &bytes]), "docs/abi.md: {name} should show {bytes}");
    }
    let bytes = format!("`{}`", hex(&postcard::to_allocvec(&golden_mail()).unwrap()));
    assert!(
        row_with(&["`Mail { version: 1, from: 7, to: 300", &bytes]),
        "docs/abi.md: Mail should show {bytes}"
    );
    for (name, bytes) in [
        ("`Proposal { version: 1, worknode: 2, ticket: 300", golden_proposal_bytes()),
        ("`Outcome { version: 1, worknode: 2, ticket: 300", golden_outcome_bytes()),
        ("`Applied { version: 1, number: 300, proposer: 1", golden_applied_bytes()),
        ("`ReadRequest { version: 1, worknode: 2, ticket: 300", golden_read_request_bytes()),
        ("`ReadAnswer { version: 1, worknode: 2, ticket: 300", golden_read_answer_bytes()),
        ("`ReplicatedRecord { version: 16, applied:", golden_replicated_bytes()),
    ] {
        let bytes = format!("`{}`", hex(&bytes));
        assert!(row_with(&[name, &bytes]), "docs/abi.md: {name} should show {bytes}");
    }
}

fn read_event() -> Reply {
    let event = heapless::Vec::from_slice(b"hi").unwrap();
    let found = StrongRead::Event { node: 1, seq: 2, worknode: 7, event };
    Reply::Read { ticket: 3, number: 300, count: 301, index: 7, found }
}

fn read_not_yet() -> Reply {
    Reply::Read { ticket: 3, number: 300, count: 301, index: 7, found: StrongRead::NotYet }
}

fn golden_read_request() -> worknode_abi::strong::ReadRequest {
    worknode_abi::strong::ReadRequest { version: 1, worknode: 2, ticket: 300, number: 5 }
}

fn golden_read_request_bytes() -> Vec<u8> {
    postcard::to_allocvec(&golden_read_request()).unwrap()
}

fn golden_read_answer() -> worknode_abi::strong::ReadAnswer<'static> {
    let event = Bytes::new(b"hi").unwrap();
    let found = worknode_abi::strong::ReadFound::Event { proposer: 1, seq: 7, worknode: 2, event };
    worknode_abi::strong::ReadAnswer {
        version: 1,
        worknode: 2,
        ticket: 300,
        number: 5,
        count: 9,
        index: 11,
        found,
    }
}

fn golden_read_answer_bytes() -> Vec<u8> {
    postcard::to_allocvec(&golden_read_answer()).unwrap()
}

/// Reads of Strong events between the governor and the Raft PD.
#[test]
fn reads_between_governor_and_raft() {
    use worknode_abi::strong::{MAX_READ_ANSWER, MAX_READ_REQUEST, ReadAnswer, ReadFound, ReadRequest};
    assert_eq!(golden_read_request_bytes(), [1, 2, 0xAC, 0x02, 5]);
    assert_eq!(golden_read_answer_bytes(), [1, 2, 0xAC, 0x02, 5, 9, 11, 0, 1, 7, 2, 2, b'h', b'i']);
    assert_eq!(ReadRequest::decode(&golden_read_request_bytes()), Ok(golden_read_request()));
    assert_eq!(ReadAnswer::decode(&golden_read_answer_bytes()), Ok(golden_read_answer()));
    let mut buf = [0u8; MAX_READ_ANSWER];
    assert_eq!(golden_read_request().encode(&mut buf).unwrap(), &golden_read_request_bytes()[..]);
    assert_eq!(golden_read_answer().encode(&mut buf).unwrap(), &golden_read_answer_bytes()[..]);
    // The largest of each fits its bound.
    let largest = ReadRequest { version: 1, worknode: u16::MAX, ticket: u64::MAX, number: u64::MAX };
    assert_eq!(largest.encode(&mut buf).unwrap().len(), MAX_READ_REQUEST);
    let event = [0xFFu8; worknode_abi::governor::MAX_EVENT];
    let found = ReadFound::Event {
        proposer: u8::MAX,
        seq: u64::MAX,
        worknode: u16::MAX,
        event: Bytes::new(&event).unwrap(),
    };
    let largest = ReadAnswer {
        version: 1,
        worknode: u16::MAX,
        ticket: u64::MAX,
        number: u64::MAX,
        count: u64::MAX,
        index: u64::MAX,
        found,
    };
    assert_eq!(largest.encode(&mut buf).unwrap().len(), MAX_READ_ANSWER);
    // The other answers: found tags 1 and 2; no tag 3.
    let gone = ReadAnswer { found: ReadFound::Gone, ..golden_read_answer() };
    assert_eq!(gone.encode(&mut buf).unwrap(), &[1, 2, 0xAC, 0x02, 5, 9, 11, 2]);
    assert_eq!(ReadAnswer::decode(&[1, 2, 0xAC, 0x02, 5, 9, 11, 3]), Err(ErrorCode::Malformed));
    // Another version, a trailing byte: refused.
    assert_eq!(ReadRequest::decode(&[2, 2, 0xAC, 0x02, 5]), Err(ErrorCode::UnsupportedVersion));
    assert_eq!(ReadRequest::decode(&[1, 2, 0xAC, 0x02, 5, 0]), Err(ErrorCode::Malformed));
}

fn golden_proposal() -> worknode_abi::strong::Proposal<'static> {
    worknode_abi::strong::Proposal { version: 1, worknode: 2, ticket: 300, event: Bytes::new(b"hi").unwrap() }
}

fn golden_proposal_bytes() -> Vec<u8> {
    postcard::to_allocvec(&golden_proposal()).unwrap()
}

fn golden_outcome() -> worknode_abi::strong::Outcome {
    worknode_abi::strong::Outcome { version: 1, worknode: 2, ticket: 300, index: 7 }
}

fn golden_outcome_bytes() -> Vec<u8> {
    postcard::to_allocvec(&golden_outcome()).unwrap()
}

fn golden_applied() -> worknode_abi::strong::Applied<'static> {
    worknode_abi::strong::Applied {
        version: 1,
        number: 300,
        proposer: 1,
        seq: 7,
        worknode: 2,
        event: Bytes::new(b"hi").unwrap(),
    }
}

fn golden_applied_bytes() -> Vec<u8> {
    postcard::to_allocvec(&golden_applied()).unwrap()
}

fn golden_replicated() -> worknode_abi::log::ReplicatedRecord<'static> {
    worknode_abi::log::ReplicatedRecord { version: 16, applied: golden_applied() }
}

fn golden_replicated_bytes() -> Vec<u8> {
    postcard::to_allocvec(&golden_replicated()).unwrap()
}

/// Committed Strong events, from the Raft PD to the governor and from the
/// governor to the event log.
#[test]
fn applied_events_and_their_records() {
    use worknode_abi::log::{MAX_RECORD, REPLICATED_RECORD_VERSION, ReplicatedRecord};
    use worknode_abi::strong::{Applied, MAX_APPLIED};
    assert_eq!(golden_applied_bytes(), [1, 0xAC, 0x02, 1, 7, 2, 2, b'h', b'i']);
    assert_eq!(golden_replicated_bytes(), [16, 1, 0xAC, 0x02, 1, 7, 2, 2, b'h', b'i']);
    assert_eq!(golden_replicated().version, REPLICATED_RECORD_VERSION);
    assert_eq!(Applied::decode(&golden_applied_bytes()), Ok(golden_applied()));
    assert_eq!(ReplicatedRecord::decode(&golden_replicated_bytes()), Some(golden_replicated()));
    let mut buf = [0u8; MAX_RECORD];
    assert_eq!(golden_replicated().encode(&mut buf).unwrap(), &golden_replicated_bytes()[..]);
    let event = [0xFFu8; worknode_abi::governor::MAX_EVENT];
    let largest = Applied {
        version: 1,
        number: u64::MAX,
        proposer: u8::MAX,
        seq: u64::MAX,
        worknode: u16::MAX,
        event: Bytes::new(&event).unwrap(),
    };
    assert_eq!(largest.encode(&mut buf).unwrap().len(), MAX_APPLIED);
    let record = ReplicatedRecord { version: REPLICATED_RECORD_VERSION, applied: largest };
    assert_eq!(record.encode(&mut buf).unwrap().len(), worknode_abi::log::MAX_REPLICATED_RECORD);
    // Another version (of either layer), a trailing byte, an overlong
    // varint: refused. So are the other envelopes (an audit record's
    // first byte is 3).
    assert_eq!(Applied::decode(&[2, 0xAC, 0x02, 1, 7, 2, 2, b'h', b'i']), Err(ErrorCode::UnsupportedVersion));
    assert_eq!(Applied::decode(&[1, 0xAC, 0x02, 1, 7, 2, 2, b'h', b'i', 0]), Err(ErrorCode::Malformed));
    assert_eq!(ReplicatedRecord::decode(&[16, 2, 0xAC, 0x02, 1, 7, 2, 2, b'h', b'i']), None);
    assert_eq!(ReplicatedRecord::decode(&[16, 1, 0xAC, 0x82, 0x00, 1, 7, 2, 2, b'h', b'i']), None);
    assert_eq!(ReplicatedRecord::decode(&[3, 1, 0xAC, 0x02, 1, 7, 2, 2, b'h', b'i']), None);
}

/// Strong events between the governor and the Raft PD, inside queued
/// messages (no frame header: they carry their own version).
#[test]
fn strong_events_between_governor_and_raft() {
    use worknode_abi::strong::{MAX_PROPOSAL, Outcome, Proposal, STRONG_VERSION};
    assert_eq!(golden_proposal_bytes(), [1, 2, 0xAC, 0x02, 2, b'h', b'i']);
    assert_eq!(golden_outcome_bytes(), [1, 2, 0xAC, 0x02, 7]);
    assert_eq!(golden_proposal().version, STRONG_VERSION);
    assert_eq!(Proposal::decode(&golden_proposal_bytes()), Ok(golden_proposal()));
    assert_eq!(Outcome::decode(&golden_outcome_bytes()), Ok(golden_outcome()));
    let mut buf = [0u8; MAX_PROPOSAL];
    assert_eq!(golden_proposal().encode(&mut buf).unwrap(), &golden_proposal_bytes()[..]);
    assert_eq!(golden_outcome().encode(&mut buf).unwrap(), &golden_outcome_bytes()[..]);
    // The largest proposal fits MAX_PROPOSAL.
    let event = [0xFFu8; worknode_abi::governor::MAX_EVENT];
    let largest =
        Proposal { version: 1, worknode: u16::MAX, ticket: u64::MAX, event: Bytes::new(&event).unwrap() };
    assert_eq!(largest.encode(&mut buf).unwrap().len(), MAX_PROPOSAL);
    let largest = Outcome { version: 1, worknode: u16::MAX, ticket: u64::MAX, index: u64::MAX };
    assert_eq!(largest.encode(&mut buf).unwrap().len(), worknode_abi::strong::MAX_OUTCOME);
    // Another version, a trailing byte, an overlong varint: refused.
    assert_eq!(Proposal::decode(&[2, 2, 0xAC, 0x02, 2, b'h', b'i']), Err(ErrorCode::UnsupportedVersion));
    assert_eq!(Proposal::decode(&[1, 2, 0xAC, 0x02, 2, b'h', b'i', 0]), Err(ErrorCode::Malformed));
    assert_eq!(Outcome::decode(&[1, 0x82, 0x00, 0xAC, 0x02, 7]), Err(ErrorCode::Malformed));
    assert_eq!(Outcome::decode(&[2, 2, 0xAC, 0x02, 7]), Err(ErrorCode::UnsupportedVersion));
}

fn golden_mail() -> worknode_abi::governor::Mail<'static> {
    worknode_abi::governor::Mail { version: 1, from: 7, to: 300, body: Bytes::new(b"hi").unwrap() }
}

/// The governors' mail, inside a network message (no frame header: the
/// network message carries its own version).
#[test]
fn mail_between_governors() {
    use worknode_abi::governor::{MAIL_VERSION, Mail};
    let bytes = postcard::to_allocvec(&golden_mail()).unwrap();
    assert_eq!(bytes, [1, 7, 0xAC, 0x02, 2, b'h', b'i']);
    assert_eq!(golden_mail().version, MAIL_VERSION);
    assert_eq!(Mail::decode(&bytes), Ok(golden_mail()));
    let mut buf = [0u8; 16];
    assert_eq!(golden_mail().encode(&mut buf).unwrap(), &bytes[..]);
    // Another version, an overlong varint, a trailing byte: refused.
    assert_eq!(Mail::decode(&[2, 7, 0xAC, 0x02, 2, b'h', b'i']), Err(ErrorCode::UnsupportedVersion));
    assert_eq!(Mail::decode(&[1, 0x87, 0x00, 0xAC, 0x02, 2, b'h', b'i']), Err(ErrorCode::Malformed));
    assert_eq!(Mail::decode(&[1, 7, 0xAC, 0x02, 2, b'h', b'i', 0]), Err(ErrorCode::Malformed));
    assert_eq!(worknode_abi::governor::node_resource(2), 0x1_0002);
}

fn payload<const N: usize>(bytes: &[u8]) -> heapless::Vec<u8, N> {
    heapless::Vec::from_slice(bytes).unwrap()
}

/// Checks a PD interface's goldens: each message encodes to its bytes,
/// decodes back from them, and docs/abi.md shows those bytes on the line
/// that names the message.
fn check_api<'a, Q, R>(requests: &[(&str, Q, &'a [u8])], responses: &[(&str, R, &'a [u8])])
where
    Q: serde::Serialize + serde::Deserialize<'a> + PartialEq + std::fmt::Debug,
    R: serde::Serialize + serde::Deserialize<'a> + PartialEq + std::fmt::Debug,
{
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/abi.md")).unwrap();
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(" ");
    let shown = |name: &str, bytes: &[u8]| {
        let bytes = format!("`{}`", hex(bytes));
        doc.lines().any(|l| l.contains(name) && l.contains(&bytes))
    };
    for (name, message, bytes) in requests {
        assert_eq!(encoded(message), *bytes, "{message:?}");
        assert_eq!(frame::decode::<Q>(bytes).as_ref(), Ok(message));
        assert!(shown(name, bytes), "docs/abi.md: {name} should show {}", hex(bytes));
    }
    for (name, message, bytes) in responses {
        assert_eq!(encoded(message), *bytes, "{message:?}");
        assert_eq!(frame::decode::<R>(bytes).as_ref(), Ok(message));
        assert!(shown(name, bytes), "docs/abi.md: {name} should show {}", hex(bytes));
    }
}

/// The log PD's API (governor to log), pinned and shown in docs/abi.md.
#[test]
fn log_api() {
    use worknode_abi::log::{EventRecord, LogReply, LogRequest, LogResponse};
    let requests: [(&str, LogRequest, &[u8]); 7] = [
        ("`Append`", LogRequest::Append { payload: payload(b"hi") }, &[1, 0, 2, b'h', b'i']),
        ("`AppendLater`", LogRequest::AppendLater { payload: payload(b"hi") }, &[1, 1, 2, b'h', b'i']),
        ("`Sync`", LogRequest::Sync, &[1, 2]),
        ("`Read`", LogRequest::Read { seq: 5 }, &[1, 3, 5]),
        ("`Status`", LogRequest::Status, &[1, 4]),
        ("`AppendReserved`", LogRequest::AppendReserved { payload: payload(b"hi") }, &[1, 5, 2, b'h', b'i']),
        ("`Claim`", LogRequest::Claim { node: 2 }, &[1, 6, 2]),
    ];
    let responses: [(&str, LogResponse, &[u8]); 6] = [
        (
            "`Ok(Appended { seq: 7, durable: 7 })`",
            Ok(LogReply::Appended { seq: 7, durable: 7 }),
            &[1, 0, 0, 7, 7],
        ),
        ("`Ok(Synced { durable: 9 })`", Ok(LogReply::Synced { durable: 9 }), &[1, 0, 1, 9]),
        (
            "`Ok(Record { seq: 5, payload: \"hi\" })`",
            Ok(LogReply::Record { seq: 5, payload: payload(b"hi") }),
            &[1, 0, 2, 5, 2, b'h', b'i'],
        ),
        (
            "`Ok(Status { last_seq: 3, durable: 3, recovered: 2, log_id: 1 })`",
            Ok(LogReply::Status { last_seq: 3, durable: 3, recovered: 2, log_id: 1 }),
            &[1, 0, 3, 3, 3, 2, 1],
        ),
        ("`Ok(Claimed)`", Ok(LogReply::Claimed), &[1, 0, 4]),
        ("`Err(io)`", Err(ErrorCode::Io), &[1, 1, 9]),
    ];
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/abi.md")).unwrap();
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(" ");
    let shown = |name: &str, bytes: &[u8]| {
        let bytes = format!("`{}`", hex(bytes));
        doc.lines().any(|l| l.contains(name) && l.contains(&bytes))
    };
    check_api(&requests, &responses);
    let envelope = EventRecord {
        version: 1,
        source: "w".try_into().unwrap(),
        event: heapless::Vec::from_slice(b"x").unwrap(),
    };
    let mut buf = [0u8; 64];
    let bytes = postcard::to_slice(&envelope, &mut buf).unwrap();
    assert_eq!(bytes, &[1, 1, b'w', 1, b'x']);
    assert!(shown("`EventRecord", bytes), "docs/abi.md: EventRecord should show {}", hex(bytes));
}

mod audit {
    use worknode_abi::audit::{AUDIT_RECORD_VERSION, Actor, AuditRecord, Control, Lifecycle, What};
    use worknode_abi::bounded::{Bytes, Text};
    use worknode_abi::log::MAX_RECORD;

    fn sample(reason: u8) -> AuditRecord<'static> {
        AuditRecord {
            version: AUDIT_RECORD_VERSION,
            at: 300,
            actor: Actor::Worknode(Text::new("wn0").unwrap()),
            principal: Some(1),
            intent: Some(2),
            task: Some(3),
            what: What::Action(1),
            resource: 7,
            reason,
            cap: if reason == 0 { Some(5) } else { None },
            repeats: 0,
            payload: Bytes::new(b"hi").unwrap(),
        }
    }

    pub fn goldens() -> Vec<(&'static str, AuditRecord<'static>, Vec<u8>)> {
        let control = AuditRecord {
            actor: Actor::Principal(1),
            principal: Some(1),
            intent: None,
            task: None,
            what: What::Control(Control::Halt as u16),
            resource: 1,
            reason: 0,
            cap: None,
            payload: Bytes::new(b"halt wn1").unwrap(),
            ..sample(0)
        };
        let coalesced =
            AuditRecord { repeats: 1000, cap: None, payload: Bytes::new(b"").unwrap(), ..sample(1) };
        let lifecycle = AuditRecord {
            what: What::Lifecycle(Lifecycle::Greeted as u8),
            resource: 0,
            cap: None,
            payload: Bytes::new(b"").unwrap(),
            ..sample(0)
        };
        vec![
            (
                "audit allowed",
                sample(0),
                vec![
                    3, 0xAC, 0x02, 0, 3, b'w', b'n', b'0', 1, 1, 1, 2, 1, 3, 0, 1, 7, 0, 1, 5, 0, 2, b'h',
                    b'i',
                ],
            ),
            (
                "audit denied",
                sample(1),
                vec![
                    3, 0xAC, 0x02, 0, 3, b'w', b'n', b'0', 1, 1, 1, 2, 1, 3, 0, 1, 7, 1, 0, 0, 2, b'h', b'i',
                ],
            ),
            (
                "audit repeats",
                coalesced,
                vec![3, 0xAC, 0x02, 0, 3, b'w', b'n', b'0', 1, 1, 1, 2, 1, 3, 0, 1, 7, 1, 0, 0xE8, 0x07, 0],
            ),
            (
                "audit control",
                control,
                vec![
                    3, 0xAC, 0x02, 1, 1, 1, 1, 0, 0, 1, 3, 1, 0, 0, 0, 8, b'h', b'a', b'l', b't', b' ', b'w',
                    b'n', b'1',
                ],
            ),
            (
                "audit lifecycle",
                lifecycle,
                vec![3, 0xAC, 0x02, 0, 3, b'w', b'n', b'0', 1, 1, 1, 2, 1, 3, 2, 1, 0, 0, 0, 0, 0],
            ),
        ]
    }

    /// Version 2 records, as disks written before version 3 hold them,
    /// and what they decode to.
    fn version_2() -> Vec<(&'static str, Vec<u8>, AuditRecord<'static>)> {
        vec![
            (
                "audit v2 allowed",
                vec![2, 0xAC, 0x02, 0, 3, b'w', b'n', b'0', 1, 1, 1, 2, 1, 3, 1, 7, 0, 1, 5, 2, b'h', b'i'],
                AuditRecord { version: 2, ..sample(0) },
            ),
            (
                "audit v2 control",
                vec![
                    2, 0xAC, 0x02, 1, 1, 1, 1, 0, 0, 3, 0, 0, 0, 8, b'h', b'a', b'l', b't', b' ', b'w', b'n',
                    b'1',
                ],
                AuditRecord {
                    version: 2,
                    actor: Actor::Principal(1),
                    principal: Some(1),
                    intent: None,
                    task: None,
                    what: What::Control(3),
                    resource: 0,
                    reason: 0,
                    cap: None,
                    payload: Bytes::new(b"halt wn1").unwrap(),
                    ..sample(0)
                },
            ),
        ]
    }

    #[test]
    fn audit_records_encode_as_pinned() {
        for (name, record, bytes) in goldens() {
            let mut buf = [0u8; MAX_RECORD];
            assert_eq!(record.encode(&mut buf).unwrap(), bytes.as_slice(), "{name}");
            assert_eq!(AuditRecord::decode(&bytes), Some(record), "{name}");
        }
    }

    #[test]
    fn version_2_records_still_decode() {
        for (name, bytes, record) in version_2() {
            assert_eq!(AuditRecord::decode(&bytes), Some(record), "{name}");
        }
    }

    #[test]
    fn docs_show_the_audit_goldens() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/abi.md")).unwrap();
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(" ");
        let goldens = goldens().into_iter().map(|(n, _, b)| (n, b));
        for (name, bytes) in goldens.chain(version_2().into_iter().map(|(n, b, _)| (n, b))) {
            let row = format!("| `{name}` | `{}` |", hex(&bytes));
            assert!(doc.contains(&row), "docs/abi.md lacks {row}");
        }
    }

    #[test]
    fn codes_are_stable() {
        let controls: Vec<&str> = Control::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(controls, ["list", "grant", "revoke", "halt", "suspend", "resume"]);
        for (code, control) in Control::ALL.iter().enumerate() {
            assert_eq!((*control as u16, Control::from_code(code as u16)), (code as u16, Some(*control)));
        }
        let steps: Vec<&str> = Lifecycle::ALL.iter().map(|l| l.name()).collect();
        assert_eq!(steps, ["started", "greeted", "ready", "faulted"]);
        for (code, step) in Lifecycle::ALL.iter().enumerate() {
            assert_eq!((*step as u8, Lifecycle::from_code(code as u8)), (code as u8, Some(*step)));
        }
        assert_eq!((Control::from_code(6), Lifecycle::from_code(4)), (None, None));
    }

    #[test]
    fn the_largest_audit_record_fits_a_log_append() {
        let name = "x".repeat(worknode_abi::log::MAX_SOURCE);
        let payload = [0xFF; worknode_abi::governor::MAX_EVENT];
        let big = AuditRecord {
            at: u64::MAX,
            actor: Actor::Worknode(Text::new(&name).unwrap()),
            principal: Some(u16::MAX),
            intent: Some(u32::MAX),
            task: Some(u32::MAX),
            what: What::Control(u16::MAX),
            resource: u32::MAX,
            cap: Some(u32::MAX),
            repeats: u32::MAX,
            payload: Bytes::new(&payload).unwrap(),
            ..sample(255)
        };
        let mut buf = [0u8; MAX_RECORD];
        assert!(big.encode(&mut buf).is_ok());
    }

    #[test]
    fn other_payloads_are_not_audit_records() {
        let (_, _, mut bytes) = goldens().remove(0);
        assert_eq!(AuditRecord::decode(&[]), None);
        assert_eq!(AuditRecord::decode(&[1, 3, b'w', b'n', b'0', 0]), None, "an EventRecord");
        assert_eq!(AuditRecord::decode(&[4, 0]), None, "a version not yet written");
        bytes.push(0);
        assert_eq!(AuditRecord::decode(&bytes), None, "trailing byte");
        bytes.truncate(bytes.len() - 3);
        assert_eq!(AuditRecord::decode(&bytes), None, "truncated");
    }
}

/// The timer PD's API (any client to the timer), pinned and shown in
/// docs/abi.md.
#[test]
fn timer_api() {
    use worknode_abi::timer::{TimerReply, TimerRequest, TimerResponse};
    let requests: [(&str, TimerRequest, &[u8]); 4] = [
        ("`Now`", TimerRequest::Now, &[1, 0]),
        (
            "`Set { slot: 1, after_ns: 300, period_ns: 0 }`",
            TimerRequest::Set { slot: 1, after_ns: 300, period_ns: 0 },
            &[1, 1, 1, 0xAC, 0x02, 0],
        ),
        ("`Cancel { slot: 1 }`", TimerRequest::Cancel { slot: 1 }, &[1, 2, 1]),
        ("`Fired`", TimerRequest::Fired, &[1, 3]),
    ];
    let responses: [(&str, TimerResponse, &[u8]); 4] = [
        ("`Ok(Now { ns: 5 })`", Ok(TimerReply::Now { ns: 5 }), &[1, 0, 0, 5]),
        ("`Ok(Done { ns: 5 })`", Ok(TimerReply::Done { ns: 5 }), &[1, 0, 1, 5]),
        (
            "`Ok(Fired { counts: [1, 0, 2, 0], ns: 5 })`",
            Ok(TimerReply::Fired { counts: [1, 0, 2, 0], ns: 5 }),
            &[1, 0, 2, 1, 0, 2, 0, 5],
        ),
        ("`Err(malformed)`", Err(ErrorCode::Malformed), &[1, 1, 1]),
    ];
    check_api(&requests, &responses);
}

/// The network PD's API (a client to the network PD), pinned and shown in
/// docs/abi.md.
#[test]
fn net_api() {
    use worknode_abi::net::{NetReply, NetRequest, NetResponse};
    let requests: [(&str, NetRequest, &[u8]); 3] = [
        (
            "`Send { to: 2, body: \"hi\" }`",
            NetRequest::Send { to: 2, body: Bytes::new(b"hi").unwrap() },
            &[1, 0, 2, 2, b'h', b'i'],
        ),
        ("`Receive`", NetRequest::Receive, &[1, 1]),
        ("`Status`", NetRequest::Status, &[1, 2]),
    ];
    let responses: [(&str, NetResponse, &[u8]); 5] = [
        ("`Ok(Sent { seq: 5 })`", Ok(NetReply::Sent { seq: 5 }), &[1, 0, 0, 5]),
        (
            "`Ok(Message { from: 1, seq: 5, body: \"hi\" })`",
            Ok(NetReply::Message { from: 1, seq: 5, body: Bytes::new(b"hi").unwrap() }),
            &[1, 0, 1, 1, 5, 2, b'h', b'i'],
        ),
        ("`Ok(Empty)`", Ok(NetReply::Empty), &[1, 0, 2]),
        (
            "`Ok(Status { node: 0, connected: 6, connects: 2, disconnects: 0, refused: 1 })`",
            Ok(NetReply::Status { node: 0, connected: 6, connects: 2, disconnects: 0, refused: 1 }),
            &[1, 0, 3, 0, 6, 2, 0, 1],
        ),
        ("`Err(exhausted)`", Err(ErrorCode::Exhausted), &[1, 1, 6]),
    ];
    check_api(&requests, &responses);
}

/// The PCI PD's API (a driver to the PCI PD), pinned and shown in
/// docs/abi.md.
#[test]
fn pci_api() {
    use worknode_abi::pci::{PciReply, PciRequest, PciResponse};
    let requests: [(&str, PciRequest, &[u8]); 3] = [
        ("`Locate`", PciRequest::Locate, &[1, 0]),
        ("`Read { offset: 60 }`", PciRequest::Read { offset: 60 }, &[1, 1, 60]),
        ("`Write { offset: 4, value: 6 }`", PciRequest::Write { offset: 4, value: 6 }, &[1, 2, 4, 6]),
    ];
    let responses: [(&str, PciResponse, &[u8]); 4] = [
        (
            "`Ok(Located { bus: 0, device: 4, function: 0 })`",
            Ok(PciReply::Located { bus: 0, device: 4, function: 0 }),
            &[1, 0, 0, 0, 4, 0],
        ),
        ("`Ok(Value { value: 11 })`", Ok(PciReply::Value { value: 11 }), &[1, 0, 1, 11]),
        ("`Ok(Written)`", Ok(PciReply::Written), &[1, 0, 2]),
        ("`Err(denied)`", Err(ErrorCode::Denied), &[1, 1, 4]),
    ];
    check_api(&requests, &responses);
}

/// The head of a queued message (the network PD's message queues), pinned
/// and shown in docs/abi.md.
#[test]
fn queued_header() {
    use worknode_abi::net::QueuedHeader;
    let cases: [(&str, QueuedHeader, [u8; 16]); 2] = [
        (
            "`{ peer: 2, seq: 5, refused: None }`",
            QueuedHeader { peer: 2, seq: 5, refused: None },
            [1, 2, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0],
        ),
        (
            "`{ peer: 3, seq: 0, refused: Some(not-found) }`",
            QueuedHeader { peer: 3, seq: 0, refused: Some(ErrorCode::NotFound) },
            [1, 3, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
    ];
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/abi.md")).unwrap();
    for (name, header, bytes) in cases {
        assert_eq!(header.to_bytes(), bytes, "{name}");
        assert_eq!(QueuedHeader::from_bytes(&bytes), Ok(header), "{name}");
        let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let row = format!("| {name} | `{}` |", hex.join(" "));
        assert!(doc.contains(&row), "docs/abi.md lacks the row {row}");
    }
    let mut bad = cases_bytes();
    bad[0] = 2;
    assert_eq!(QueuedHeader::from_bytes(&bad), Err(ErrorCode::UnsupportedVersion));
    let mut bad = cases_bytes();
    bad[5] = 1;
    assert_eq!(QueuedHeader::from_bytes(&bad), Err(ErrorCode::Malformed), "padding must be zero");
    let mut bad = cases_bytes();
    bad[2] = 0xff;
    assert_eq!(QueuedHeader::from_bytes(&bad), Err(ErrorCode::Malformed), "an unknown status");
}

fn cases_bytes() -> [u8; 16] {
    [1, 2, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]
}
