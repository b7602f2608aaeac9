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
/// request's or reply's own fields, rounded down. Larger messages would
/// need shared memory. (384 while frames were 512 bytes.)
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
