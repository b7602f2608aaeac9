//! Property: any byte string decodes to a message or to an error, never a
//! panic, and whatever decodes re-encodes to the same bytes (one encoding per
//! message, so a recorded frame is unambiguous).
//!
//! Random bytes rarely look like a frame, so the inputs are mostly valid
//! frames with a few bytes flipped, inserted or cut: the neighbourhood where
//! decoder bugs live.

use proptest::prelude::*;
use worknode_abi::ErrorCode;
use worknode_abi::frame::{self, MAX_FRAME_LEN};
use worknode_abi::governor::{Reply, Request, Response};

fn encoded<T: serde::Serialize>(message: &T) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME_LEN];
    let len = frame::encode(message, &mut buf).unwrap();
    buf[..len].to_vec()
}

fn valid_frames() -> Vec<Vec<u8>> {
    let mut frames =
        vec![encoded(&Request::Hello), encoded(&Request::Ready), encoded(&Response::Ok(Reply::Ack))];
    for text in ["", "hello", "é\u{1b}[2J\n", &"y".repeat(200)] {
        frames.push(encoded(&Request::Log { text: worknode_abi::bounded::Text::new(text).unwrap() }));
    }
    for (worknode, children) in [(0, 1), (2, 3), (127, 128), (300, 61), (u16::MAX, u16::MAX)] {
        frames.push(encoded(&Response::Ok(Reply::Welcome { worknode, children })));
    }
    frames.extend(ErrorCode::ALL.iter().map(|code| encoded(&Response::Err(*code))));
    frames
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Remove(usize),
}

fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let frames = valid_frames();
    let mutation = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
    ];
    (0..frames.len(), proptest::collection::vec(mutation, 0..4)).prop_map(move |(pick, mutations)| {
        let mut bytes = frames[pick].clone();
        for m in mutations {
            match m {
                Mutation::Flip(i, b) if !bytes.is_empty() => {
                    let i = i % bytes.len();
                    bytes[i] ^= b;
                }
                Mutation::Insert(i, b) => {
                    let i = i % (bytes.len() + 1);
                    bytes.insert(i, b);
                }
                Mutation::Remove(i) if !bytes.is_empty() => {
                    let i = i % bytes.len();
                    bytes.remove(i);
                }
                _ => {}
            }
        }
        bytes
    })
}

fn any_frame() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![mutated(), proptest::collection::vec(any::<u8>(), 0..16)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn requests(bytes in any_frame()) {
        if let Ok(message) = frame::decode::<Request>(&bytes) {
            prop_assert_eq!(encoded(&message), bytes);
        }
    }

    #[test]
    fn responses(bytes in any_frame()) {
        if let Ok(message) = frame::decode::<Response>(&bytes) {
            prop_assert_eq!(encoded(&message), bytes);
        }
    }
}
