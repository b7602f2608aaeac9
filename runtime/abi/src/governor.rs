//! The governor's protected procedure: what a worknode may ask of it.
//!
//! A worknode has exactly one channel, to the governor, and calls it with a
//! [`Request`] frame; the governor answers every call with a [`Response`]
//! frame, including calls it cannot decode (then `Err(Malformed)`).
//!
//! The caller's identity is never part of a request. The governor learns who
//! called from the channel the call arrived on, which seL4 fixes when the
//! system is built; a worknode cannot claim to be another.
//!
//! Boot protocol (see `docs/architecture.md`):
//!
//! 1. each worknode calls [`Request::Hello`] from its `init` (which runs
//!    once the governor lets its thread run: when the log is ready); the
//!    governor answers [`Reply::Welcome`] and notifies it on its channel,
//!    at once: "start";
//! 2. on that notification the worknode calls [`Request::Ready`]; the
//!    governor answers [`Reply::Ack`]. When every child is ready, faulted
//!    or halted, boot is complete.
//!
//! Every answer waits until its audit record is durable.
//!
//! A worknode has no console of its own: it asks the governor to write a
//! line for it ([`Request::Log`]). Output is an effect like any other, so it
//! passes the gate too, and the governor prefixes each line with the
//! caller's name (from the channel) and escapes control characters, so no
//! worknode can forge another PD's lines.
//!
//! A worknode sends a message to a worknode on another node with
//! [`Request::Send`], decided by the gate as `send` on the resource naming
//! that node ([`node_resource`]) and recorded before it leaves; the
//! governors carry it between nodes as a [`Mail`] through the network PD.
//! A governor puts mail that arrives into its addressee's mailbox and
//! notifies it; the worknode takes it with [`Request::Receive`]. A message
//! from the network is data for a worknode, never authority: it acts as
//! nobody, and the gate decides the answer like any other send.
//!
//! Variants are only ever appended: their position is their wire tag.

use core::fmt;

use heapless::{String, Vec};
use serde::{Deserialize, Serialize};

use crate::ErrorCode;
use crate::bounded::{Bytes, Text};

/// The longest line a worknode may log, in bytes of UTF-8.
pub const MAX_LOG_TEXT: usize = 256;
/// The largest event a worknode may record, in bytes. The governor adds
/// its own envelope ([`crate::log::EventRecord`]) and the result must fit a
/// log append frame.
pub const MAX_EVENT: usize = 256;

/// The largest message a worknode may send to another node, in bytes. The
/// governors' [`Mail`] around it must fit the network PD's
/// [`crate::net::MAX_NET_BODY`].
pub const MAX_MESSAGE: usize = 128;
/// Resources `NODE_RESOURCES + k` name node `k` of the cluster: a grant of
/// `send` on them lets a worknode send to that node's worknodes.
pub const NODE_RESOURCES: u32 = 0x1_0000;
/// The version of [`Mail`]'s layout.
pub const MAIL_VERSION: u8 = 1;

/// A [`Mail`]'s fields around its body take at most 9 bytes (version 1,
/// two indexes 3 each, the body's length 2).
const _: () = assert!(MAX_MESSAGE + 9 <= crate::net::MAX_NET_BODY, "mail fits a network message");
const _: () = assert!(MAX_MESSAGE + 16 <= crate::frame::MAX_FRAME_LEN, "a send fits a frame");

/// The resource that names node `node`.
pub const fn node_resource(node: u8) -> u32 {
    NODE_RESOURCES + node as u32
}

/// A worknode's message between governors, as the network PD carries it
/// (the body of a stream message on the governor's port).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail<'a> {
    /// [`MAIL_VERSION`]; a governor drops mail of another version.
    pub version: u8,
    /// The sending worknode's index on its node.
    pub from: u16,
    /// The addressee's index on the receiving node.
    pub to: u16,
    /// The message.
    #[serde(borrow)]
    pub body: Bytes<'a, MAX_MESSAGE>,
}

impl<'a> Mail<'a> {
    /// Decodes mail that arrived from the network: the whole of `bytes`,
    /// canonical, of [`MAIL_VERSION`].
    pub fn decode(bytes: &'a [u8]) -> Result<Mail<'a>, ErrorCode> {
        crate::frame::decode_versioned(bytes, MAIL_VERSION, |m: &Mail<'a>| m.version)
    }

    /// Encodes the mail into `buf`, returning the bytes written.
    pub fn encode<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8], ErrorCode> {
        crate::frame::encode_body(self, buf)
    }
}

/// An operation a worknode asks of the governor.
///
/// Its bytes and text are borrowed (from the caller's buffers when it is
/// made, from the received frame when it is decoded: see
/// [`crate::bounded`]), so a request is a few words whatever it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request<'a> {
    /// First contact after the worknode starts. Valid once per start.
    Hello,
    /// The worknode received "start" and is running. Valid once, after
    /// "start".
    Ready,
    /// Write one line on the console on the worknode's behalf. Valid after
    /// `Hello`.
    Log {
        /// The line, without a trailing newline.
        #[serde(borrow)]
        text: Text<'a, MAX_LOG_TEXT>,
    },
    /// Record an event in the node's event log. The reply,
    /// [`Reply::Recorded`], comes only once the record is durable. Valid
    /// after `Ready`.
    Record {
        /// The event, opaque to the governor and the log.
        #[serde(borrow)]
        event: Bytes<'a, MAX_EVENT>,
    },
    /// Record an event under `resource`: like [`Request::Record`], but
    /// decided as `record` on the named resource rather than on the
    /// worknode's own (its index). Resources beyond its own are the
    /// principal's to grant, as leases. A denied call is answered with its
    /// reason's code (`denied`, `expired`, `revoked`...) and audited.
    RecordTo {
        /// The resource the event belongs to.
        resource: u32,
        /// The event, opaque to the governor and the log.
        #[serde(borrow)]
        event: Bytes<'a, MAX_EVENT>,
    },
    /// Send `body` to worknode `worknode` on node `node`: decided as
    /// `send` on [`node_resource`]`(node)`, recorded, then handed to the
    /// network PD; answered [`Reply::Sent`] once it is on the stream to
    /// that node. `invalid-state`: no stream to that node is open yet, and
    /// `exhausted`: its buffer is full; the governor notifies the worknode
    /// when the network has news, and it may try again. `not-found`: no
    /// network, or no such node (this node is not one). Valid after
    /// `Ready`.
    Send {
        /// The receiving node.
        node: u8,
        /// The addressee's index on that node.
        worknode: u16,
        /// The message.
        #[serde(borrow)]
        body: Bytes<'a, MAX_MESSAGE>,
    },
    /// Take the oldest message in this worknode's mailbox: [`Reply::Mail`],
    /// or [`Reply::Empty`]. Valid after `Ready`.
    Receive,
    /// Record an event `Strong`: decided as `record` on the worknode's own
    /// resource and audited on this node, like [`Request::Record`], then
    /// handed to the node's Raft PD, which replicates it (docs/cluster.md).
    /// Answered [`Reply::Pending`] once the audit record is durable and the
    /// Raft PD's queue holds the event; the worknode is notified when its
    /// outcome is known and takes it with [`Request::Outcome`].
    /// `not-found`: this node is in no cluster; `exhausted`: the queue to
    /// the Raft PD, or this node's table of pending events, is full (the
    /// worknode is notified when there is room). Valid after `Ready`.
    RecordStrong {
        /// The event, opaque to the governor, Raft and the log.
        #[serde(borrow)]
        event: Bytes<'a, MAX_EVENT>,
    },
    /// Take the oldest known outcome of this worknode's Strong events:
    /// [`Reply::Committed`], [`Reply::Failed`], or [`Reply::Empty`] (none
    /// yet: the worknode is notified when one is known). Valid after
    /// `Ready`.
    Outcome,
    /// Read the cluster's Strong event `number` (1 is the first the
    /// cluster committed), linearizably: the answer reflects every Strong
    /// event committed, on any node, before this request. Decided as
    /// `read` on the worknode's own resource and audited like a record,
    /// then handed to the Raft PD (docs/cluster.md). Answered
    /// [`Reply::Pending`]; the worknode is notified when the read is
    /// answered and takes the answer with [`Request::Outcome`]
    /// ([`Reply::Read`]). `not-found` and `exhausted` as for
    /// `RecordStrong`, whose tickets and bounds it shares. Valid after
    /// `Ready`.
    ReadStrong {
        /// The event's number.
        number: u64,
    },
}

/// What a worknode's read of the cluster's Strong event found
/// ([`Request::ReadStrong`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(
    clippy::large_enum_variant,
    reason = "a wire type, one per reply; no_std callers have no allocator to box it"
)]
pub enum StrongRead {
    /// The event.
    Event {
        /// The node whose worknode recorded it (0-based).
        node: u8,
        /// That node's sequence number for it (its proposals are numbered
        /// 1, 2, 3, ... in the order its Raft PD proposed them).
        seq: u64,
        /// The recording worknode's index on that node.
        worknode: u16,
        /// The event.
        #[serde(with = "crate::bytes")]
        event: Vec<u8, MAX_EVENT>,
    },
    /// The cluster had committed fewer events than the number.
    NotYet,
    /// Committed, but older than the node's Raft PD keeps (the newest
    /// 1.25 MiB of events): it is in the node's event log.
    Gone,
}

/// A successful answer from the governor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// Answer to [`Request::Hello`].
    Welcome {
        /// The worknode's index among the governor's children (0-based,
        /// in system description order).
        worknode: u16,
        /// How many children the governor supervises.
        children: u16,
    },
    /// The request was carried out; nothing more to say.
    Ack,
    /// Answer to [`Request::Record`]: the event is durable in the log.
    Recorded {
        /// Its sequence number in the log.
        seq: u64,
    },
    /// Answer to [`Request::Send`]: the message is on its way.
    Sent {
        /// The sequence number of the send's audit record.
        seq: u64,
    },
    /// Answer to [`Request::Receive`]: a message.
    Mail {
        /// The sending node.
        node: u8,
        /// The sending worknode's index on that node.
        worknode: u16,
        /// The message.
        #[serde(with = "crate::bytes")]
        body: Vec<u8, MAX_MESSAGE>,
    },
    /// Answer to [`Request::Receive`]: the mailbox is empty; to
    /// [`Request::Outcome`]: no outcome is known yet.
    Empty,
    /// Answer to [`Request::RecordStrong`]: audited here and queued for
    /// Raft; its outcome comes later, under `ticket`.
    Pending {
        /// The event's ticket, unique among this node's since it booted.
        ticket: u64,
        /// The sequence number of its audit record on this node.
        seq: u64,
    },
    /// Answer to [`Request::Outcome`]: the Strong event `ticket` is
    /// committed (a majority of the cluster has it durable) and applied on
    /// this node, at Raft log index `index` (or, if this node learned it
    /// from a snapshot, in the snapshot that ends at `index`).
    Committed {
        /// The event's ticket.
        ticket: u64,
        /// Where it is in the cluster's log.
        index: u64,
    },
    /// Answer to [`Request::Outcome`]: the Strong event `ticket` will never
    /// be committed, for `error`'s reason.
    Failed {
        /// The event's ticket.
        ticket: u64,
        /// Why.
        error: ErrorCode,
    },
    /// Answer to [`Request::Outcome`]: the read `ticket` of Strong event
    /// `number` ([`Request::ReadStrong`]) completed, with `count` events
    /// committed and Raft log index `index` applied on this node.
    Read {
        /// The read's ticket.
        ticket: u64,
        /// The number it named.
        number: u64,
        /// Strong events the cluster had committed: at least every one
        /// committed before the read was asked.
        count: u64,
        /// The Raft log index applied on this node when it completed.
        index: u64,
        /// What it found.
        found: StrongRead,
    },
}

/// What the governor sends back for every call.
pub type Response = Result<Reply, ErrorCode>;

/// Formats `args` into log text, cutting it at [`MAX_LOG_TEXT`] bytes (on a
/// character boundary) and marking the cut with a trailing `~`.
///
/// A worknode formats into a fixed buffer, so an over-long line is cut
/// rather than refused: losing its tail is better than losing all of it.
pub fn log_text(args: fmt::Arguments<'_>) -> String<MAX_LOG_TEXT> {
    struct Cut {
        text: String<MAX_LOG_TEXT>,
        cut: bool,
    }
    impl fmt::Write for Cut {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            for c in s.chars() {
                if self.text.push(c).is_err() {
                    self.cut = true;
                    return Err(fmt::Error);
                }
            }
            Ok(())
        }
    }
    let mut out = Cut { text: String::new(), cut: false };
    let _ = fmt::write(&mut out, args);
    if out.cut {
        // Make room for the marker; at most 4 bytes of one character go.
        while out.text.len() > MAX_LOG_TEXT - 1 {
            out.text.pop();
        }
        let _ = out.text.push('~');
    }
    out.text
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;

    #[test]
    fn short_text_is_kept() {
        assert_eq!(log_text(format_args!("ready {}", 3)).as_str(), "ready 3");
    }

    #[test]
    fn long_text_is_cut_and_marked() {
        let long = "é".repeat(200); // 400 bytes
        let text = log_text(format_args!("{long}"));
        assert!(text.len() <= MAX_LOG_TEXT);
        assert!(text.ends_with('~'));
        assert!(long.starts_with(text.trim_end_matches('~')));
        let exact = "a".repeat(MAX_LOG_TEXT);
        assert_eq!(log_text(format_args!("{exact}")).to_string(), exact);
        let over = "a".repeat(MAX_LOG_TEXT + 1);
        let cut = log_text(format_args!("{over}"));
        assert_eq!(cut.len(), MAX_LOG_TEXT);
        assert!(cut.ends_with("a~"));
    }
}
