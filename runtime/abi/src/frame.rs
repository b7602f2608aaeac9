//! How a message travels in the message registers of a protected procedure call.
//!
//! A *frame* is the byte string a PD writes into its IPC buffer's message
//! registers before `seL4_Call` (or before replying):
//!
//! ```text
//! byte 0      ABI version (ABI_VERSION)
//! byte 1..n   postcard encoding of the message
//! ```
//!
//! The seL4 message label carries the frame length `n` in bytes and the
//! message length (`count`) is the number of 8-byte registers that hold it,
//! `ceil(n / 8)`. The label is redundant with `count` except for the padding
//! in the last register; carrying the exact length lets the receiver reject
//! trailing garbage instead of guessing where the message ends.
//!
//! Rejected alternatives: the label as an operation number (the operation is
//! already the postcard enum discriminant, and two sources of truth can
//! disagree); COBS framing (postcard's own, meant for byte streams, not for a
//! buffer whose length is known).
//!
//! Every decode checks, in order: the length fits the registers that were
//! sent, the version, the body, that the body consumed every byte, and that
//! the bytes are the canonical encoding of what they decoded to. postcard
//! itself accepts overlong varints (`0x82 0x00` for 2); refusing them gives
//! every message exactly one encoding, so a recorded frame and a re-encoded
//! one can never disagree.

use serde::{Deserialize, Serialize};

use crate::ErrorCode;

/// The version byte every frame starts with.
pub const ABI_VERSION: u8 = 1;

/// Bytes in one seL4 message register. Worknode supports only the 64-bit
/// seL4 architectures (aarch64, riscv64, x86_64).
pub const WORD_BYTES: usize = 8;

/// Message registers a Microkit protected procedure call can carry: all
/// of seL4's (`seL4_MsgMaxLength`), 120 on every 64-bit architecture.
/// ABI 1 began with 64 (512-byte frames, still valid): the network PD's
/// clients then passed 384-byte bodies, and a protected call per 384
/// bytes was most of what a message through the streams cost (`make
/// bench-net`, docs/network.md).
pub const MAX_WORDS: usize = 120;

/// The largest frame, in bytes.
pub const MAX_FRAME_LEN: usize = MAX_WORDS * WORD_BYTES;

/// Encodes `message` as a frame into `buf`, returning the frame's length.
///
/// Fails with [`ErrorCode::TooLarge`] if the frame does not fit `buf` or
/// exceeds [`MAX_FRAME_LEN`].
pub fn encode<T: Serialize + ?Sized>(message: &T, buf: &mut [u8]) -> Result<usize, ErrorCode> {
    let limit = buf.len().min(MAX_FRAME_LEN);
    let (version, body) = buf[..limit].split_first_mut().ok_or(ErrorCode::TooLarge)?;
    *version = ABI_VERSION;
    let used = postcard::to_slice(message, body).map_err(|_| ErrorCode::TooLarge)?.len();
    Ok(1 + used)
}

/// Decodes a frame that occupies exactly `frame` and is canonical.
pub fn decode<'a, T: Deserialize<'a> + Serialize>(frame: &'a [u8]) -> Result<T, ErrorCode> {
    if frame.len() > MAX_FRAME_LEN {
        return Err(ErrorCode::Malformed);
    }
    let (&version, body) = frame.split_first().ok_or(ErrorCode::Malformed)?;
    if version != ABI_VERSION {
        return Err(ErrorCode::UnsupportedVersion);
    }
    decode_canonical(body)
}

/// Decodes a postcard value that occupies exactly `body` and is its one
/// encoding (no overlong varints, no trailing bytes): a frame's body, or
/// a message carried inside another (`governor::Mail`).
pub fn decode_canonical<'a, T: Deserialize<'a> + Serialize>(body: &'a [u8]) -> Result<T, ErrorCode> {
    let (message, rest) = postcard::take_from_bytes(body).map_err(|_| ErrorCode::Malformed)?;
    if !rest.is_empty() {
        return Err(ErrorCode::Malformed);
    }
    // Re-encoding must give back exactly the body: compared as it is
    // produced, without a scratch buffer (crate::flavors).
    match postcard::serialize_with_flavor(&message, crate::flavors::Compare::new(body)) {
        Ok(true) => Ok(message),
        _ => Err(ErrorCode::Malformed),
    }
}

/// Decodes a versioned message carried inside another or on a ring
/// (`strong::Applied`, `governor::Mail`, ...): the whole of `bytes`,
/// canonical ([`decode_canonical`]), and of version `want` as its
/// `version` reads it; another version is `UnsupportedVersion`.
///
/// Rejected alternative: a trait with a `VERSION` constant and default
/// methods. Every caller would have to import it to call `decode`, and a
/// forgotten import reads as a missing method, not a wrong version.
pub fn decode_versioned<'a, T: Deserialize<'a> + Serialize>(
    bytes: &'a [u8],
    want: u8,
    version: impl Fn(&T) -> u8,
) -> Result<T, ErrorCode> {
    let message: T = decode_canonical(bytes)?;
    if version(&message) != want {
        return Err(ErrorCode::UnsupportedVersion);
    }
    Ok(message)
}

/// Encodes `message` (postcard, no frame byte) into `buf`, returning the
/// bytes written; `TooLarge` when `buf` is too small.
pub fn encode_body<'b, T: Serialize + ?Sized>(message: &T, buf: &'b mut [u8]) -> Result<&'b [u8], ErrorCode> {
    postcard::to_slice(message, buf).map(|b| &*b).map_err(|_| ErrorCode::TooLarge)
}

/// The number of message registers a frame of `len` bytes occupies.
pub const fn words_for(len: usize) -> usize {
    len.div_ceil(WORD_BYTES)
}

/// Checks a received message's label (the claimed frame length) against the
/// number of registers actually sent and returns the frame length.
///
/// Both values come from the sender and are untrusted.
pub fn frame_len(label: u64, count: usize) -> Result<usize, ErrorCode> {
    let len = usize::try_from(label).map_err(|_| ErrorCode::Malformed)?;
    if len == 0 || len > MAX_FRAME_LEN || count > MAX_WORDS || words_for(len) != count {
        return Err(ErrorCode::Malformed);
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_len_accepts_exact_word_counts_only() {
        assert_eq!(frame_len(1, 1), Ok(1));
        assert_eq!(frame_len(8, 1), Ok(8));
        assert_eq!(frame_len(9, 2), Ok(9));
        assert_eq!(frame_len(512, 64), Ok(512));
        assert_eq!(frame_len(960, 120), Ok(960));
        assert_eq!(frame_len(0, 0), Err(ErrorCode::Malformed));
        assert_eq!(frame_len(9, 1), Err(ErrorCode::Malformed));
        assert_eq!(frame_len(8, 2), Err(ErrorCode::Malformed));
        assert_eq!(frame_len(961, 121), Err(ErrorCode::Malformed));
        assert_eq!(frame_len(u64::MAX, 64), Err(ErrorCode::Malformed));
    }

    #[test]
    fn encode_refuses_a_buffer_too_small() {
        let mut empty = [0u8; 0];
        assert_eq!(encode(&7u32, &mut empty), Err(ErrorCode::TooLarge));
        let mut one = [0u8; 1];
        assert_eq!(encode(&7u32, &mut one), Err(ErrorCode::TooLarge));
        let mut two = [0u8; 2];
        assert_eq!(encode(&7u32, &mut two), Ok(2));
        assert_eq!(two, [ABI_VERSION, 7]);
    }

    #[test]
    fn encode_never_exceeds_the_register_file() {
        let mut big = [0u8; 2 * MAX_FRAME_LEN];
        let payload = [0xAAu8; MAX_FRAME_LEN];
        assert_eq!(encode(&payload[..], &mut big), Err(ErrorCode::TooLarge));
    }

    #[test]
    fn decode_rejects_wrong_version_trailing_bytes_and_truncation() {
        assert_eq!(decode::<u8>(&[]), Err(ErrorCode::Malformed));
        assert_eq!(decode::<u8>(&[2, 0]), Err(ErrorCode::UnsupportedVersion));
        assert_eq!(decode::<u8>(&[ABI_VERSION, 5]), Ok(5));
        assert_eq!(decode::<u8>(&[ABI_VERSION, 5, 0]), Err(ErrorCode::Malformed));
        assert_eq!(decode::<u32>(&[ABI_VERSION, 0x80]), Err(ErrorCode::Malformed));
    }
}
