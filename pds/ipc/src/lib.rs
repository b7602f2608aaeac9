//! Moves [`worknode_abi::frame`]s in and out of the message registers.
//!
//! Every PD that makes or serves protected procedure calls goes through these
//! functions, so the framing rules (label = frame length, count =
//! registers used, canonical encoding) are applied in exactly one place.

#![no_std]
#![forbid(unsafe_code)]

use sel4_microkit::{Channel, MessageInfo, with_msg_bytes, with_msg_bytes_mut};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use worknode_abi::ErrorCode;
use worknode_abi::frame;

/// Writes `message` into the message registers and returns the message
/// info that describes it, ready to send or to return as a reply.
pub fn frame_message<T: Serialize>(message: &T) -> Result<MessageInfo, ErrorCode> {
    let len = with_msg_bytes_mut(|regs| frame::encode(message, regs))?;
    Ok(MessageInfo::new(len as u64, frame::words_for(len)))
}

/// Decodes the message described by `info` from the message registers.
/// Every field of `info` and every byte is untrusted.
pub fn receive<T: DeserializeOwned + Serialize>(info: &MessageInfo) -> Result<T, ErrorCode> {
    let len = frame::frame_len(info.label(), info.count())?;
    with_msg_bytes(|regs| regs.get(..len).ok_or(ErrorCode::Malformed).and_then(frame::decode))
}

/// A received frame, copied out of the message registers.
pub type FrameBuf = heapless::Vec<u8, { frame::MAX_FRAME_LEN }>;

/// Copies the frame described by `info` out of the message registers into
/// `buf` and returns it, for a message that borrows from its frame (a
/// governor `Request`). The copy matters: the receiver's own calls reuse
/// the message registers while it still holds the message.
pub fn receive_frame<'b>(info: &MessageInfo, buf: &'b mut FrameBuf) -> Result<&'b [u8], ErrorCode> {
    let len = frame::frame_len(info.label(), info.count())?;
    buf.clear();
    with_msg_bytes(|regs| {
        let frame = regs.get(..len).ok_or(ErrorCode::Malformed)?;
        buf.extend_from_slice(frame).map_err(|_| ErrorCode::Malformed)
    })?;
    Ok(buf)
}

/// Calls the protected procedure on `channel` with `request` and decodes
/// the reply.
pub fn call<Q: Serialize, R: DeserializeOwned + Serialize>(
    channel: Channel,
    request: &Q,
) -> Result<R, ErrorCode> {
    let info = frame_message(request)?;
    let reply = channel.pp_call(info);
    receive(&reply)
}

/// Calls the protected procedure on `channel` with `request` and decodes
/// a reply that borrows from its frame (a network `NetReply`), copied
/// into `buf` first: the caller's next call reuses the message registers.
pub fn call_borrowed<'b, Q: Serialize, R: Deserialize<'b> + Serialize>(
    channel: Channel,
    request: &Q,
    buf: &'b mut FrameBuf,
) -> Result<R, ErrorCode> {
    let info = frame_message(request)?;
    let reply = channel.pp_call(info);
    frame::decode(receive_frame(&reply, buf)?)
}

/// The reply for a call from a frame encoded earlier (a PD that makes
/// calls of its own between decoding a request and replying, which reuse
/// the message registers); an empty or oversized frame makes the empty
/// reply every receiver rejects.
pub fn reply_frame(encoded: &[u8]) -> MessageInfo {
    if encoded.is_empty() || encoded.len() > frame::MAX_FRAME_LEN {
        return MessageInfo::new(0, 0);
    }
    with_msg_bytes_mut(|regs| regs[..encoded.len()].copy_from_slice(encoded));
    MessageInfo::new(encoded.len() as u64, frame::words_for(encoded.len()))
}

/// The reply for a call: `message` framed, or, if it cannot be framed, an
/// empty message (label 0), which every receiver rejects as malformed.
pub fn reply<T: Serialize>(message: &T) -> MessageInfo {
    frame_message(message).unwrap_or_else(|_| MessageInfo::new(0, 0))
}
