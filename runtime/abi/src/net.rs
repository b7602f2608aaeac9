//! The network PD's protected procedure: how a PD on this node sends
//! messages to its counterpart on another node, and takes the messages
//! that arrived for it (pds/net, `worknode_net`).
//!
//! A client is named by the channel it calls on; its *port* (the same
//! number on every node, from system.xml) is where messages for it
//! arrive. [`NetRequest::Send`] queues a message on the stream to node
//! `to` and answers at once: delivery is the stream's business (TCP,
//! exactly once and in order while the stream lives, reopened after a
//! peer restarts). When messages arrive for a client, or a stream it
//! waited for opens or gains room, the network PD notifies it; the client
//! then calls [`NetRequest::Receive`] until it answers `Empty`.
//!
//! Errors: `invalid-state` (no open stream to that node yet: try again
//! after a notification), `exhausted` (the stream's buffer is full:
//! back-pressure, try again after a notification), `not-found` (no such
//! node, or this node), `too-large`, `malformed`.
//!
//! Variants are only ever appended: their position is their wire tag.

use serde::{Deserialize, Serialize};

use crate::bounded::Bytes;

use crate::ErrorCode;

/// Largest message body a client sends or receives in one call: what a
/// frame of [`crate::frame::MAX_FRAME_LEN`] (960 bytes) holds besides the
/// request's or reply's own fields, rounded down. Larger messages go
/// through message queues in shared memory ([`MAX_QUEUED_BODY`]). (384
/// while frames were 512 bytes.)
pub const MAX_NET_BODY: usize = 896;
const _: () = assert!(
    MAX_NET_BODY + 32 <= crate::frame::MAX_FRAME_LEN,
    "a Send and a Message reply with a full body fit a frame"
);

/// What a client asks of the network PD. A body borrows from the frame
/// it was decoded from (`crate::bounded`): an owned body made every
/// request and reply the size of the largest, and decoding one copied the
/// body and then compared it, byte by byte, with the frame it came from
/// (`make bench-net`'s profile: a seventh of each end's instructions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetRequest<'a> {
    /// Send `body` to this client's port on node `to`.
    Send {
        /// The receiving node.
        to: u8,
        /// The message.
        #[serde(borrow)]
        body: Bytes<'a, MAX_NET_BODY>,
    },
    /// Take the oldest message that arrived for this client.
    Receive,
    /// The node's network state.
    Status,
}

/// A successful answer from the network PD; a body borrows, as in
/// [`NetRequest`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetReply<'a> {
    /// Answer to `Send`: its number on the stream.
    Sent {
        /// The message's sequence number on the stream to that node.
        seq: u64,
    },
    /// Answer to `Receive`: a message.
    Message {
        /// The sending node.
        from: u8,
        /// Its sequence number on that node's stream to this one.
        seq: u64,
        /// The message.
        #[serde(borrow)]
        body: Bytes<'a, MAX_NET_BODY>,
    },
    /// Answer to `Receive`: nothing waiting.
    Empty,
    /// Answer to `Status`.
    Status {
        /// This node's number.
        node: u8,
        /// Bit k: the stream to node k is open.
        connected: u64,
        /// Streams opened, and broken, since boot.
        connects: u64,
        /// Greeted streams that broke.
        disconnects: u64,
        /// Frames and streams refused: bad frames (runt, oversized, for
        /// another MAC or address), unknown nodes, broken messages.
        refused: u64,
    },
}

/// What the network PD sends back for every call.
pub type NetResponse<'a> = Result<NetReply<'a>, ErrorCode>;

/// Largest message body a client passes through its message queues
/// (below): what a stream carries in one message (`worknode_netmsg`'s
/// `MAX_BODY`; the network stack asserts that the two agree).
pub const MAX_QUEUED_BODY: usize = 2016;
/// Bytes of [`QueuedHeader`] at the start of every queued message's buffer.
pub const QUEUED_HEADER_LEN: usize = 16;
/// Version of [`QueuedHeader`]'s layout, its first byte.
pub const QUEUED_VERSION: u8 = 1;

/// The head of a message in a client's message queues (`worknode_netq`'s
/// `messages`: rings in memory the client shares with the network PD, for
/// clients that move many messages; the calls above stay for everyone).
/// The body follows it in the same buffer.
///
/// | bytes | field |
/// |---|---|
/// | 0 | [`QUEUED_VERSION`] |
/// | 1 | `peer`: the receiving node (to send) or the sending node (received) |
/// | 2..4 | `status`, u16 little-endian: 0, or the [`ErrorCode`] a send was refused with |
/// | 4..8 | zero |
/// | 8..16 | `seq`, u64 little-endian: the message's number on its stream (0 until sent) |
///
/// Rejected: postcard, as in the calls. A fixed layout is read where it
/// lies, without a decoder, by both ends on every message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueuedHeader {
    /// The other node.
    pub peer: u8,
    /// The message's number on its stream (0 until sent).
    pub seq: u64,
    /// Why the network PD refused to send it; `None` if it did not.
    pub refused: Option<ErrorCode>,
}

impl QueuedHeader {
    /// The header's bytes.
    pub fn to_bytes(&self) -> [u8; QUEUED_HEADER_LEN] {
        let mut bytes = [0; QUEUED_HEADER_LEN];
        bytes[0] = QUEUED_VERSION;
        bytes[1] = self.peer;
        bytes[2..4].copy_from_slice(&self.refused.map_or(0, ErrorCode::code).to_le_bytes());
        bytes[8..].copy_from_slice(&self.seq.to_le_bytes());
        bytes
    }

    /// Reads a header: `unsupported-version` for another version,
    /// `malformed` for non-zero padding or an unknown status.
    pub fn from_bytes(bytes: &[u8; QUEUED_HEADER_LEN]) -> Result<QueuedHeader, ErrorCode> {
        if bytes[0] != QUEUED_VERSION {
            return Err(ErrorCode::UnsupportedVersion);
        }
        if bytes[4..8] != [0; 4] {
            return Err(ErrorCode::Malformed);
        }
        let status = u16::from_le_bytes([bytes[2], bytes[3]]);
        let refused = match status {
            0 => None,
            code => Some(ErrorCode::try_from(code).map_err(|_| ErrorCode::Malformed)?),
        };
        let seq = u64::from_le_bytes(bytes[8..].try_into().expect("8 bytes"));
        Ok(QueuedHeader { peer: bytes[1], seq, refused })
    }
}
