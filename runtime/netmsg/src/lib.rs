//! Messages between nodes, and how they travel on a TCP stream.
//!
//! A stream carries frames: a 2-byte little-endian length, then that many
//! bytes of a postcard-encoded [`Envelope`]. The envelope is versioned
//! ([`VERSION`]) and names its sender and recipient node and its sequence
//! number on the stream, so a receiver can check, without trusting the
//! network, that a message comes from the node the connection belongs to,
//! is for this node, and follows the one before it.
//!
//! Rejected alternative: UDP with our own framing, acknowledgements and
//! retransmission. TCP (smoltcp's) already gives ordered, exactly-once
//! delivery over a lossy, duplicating, reordering LAN; redoing that would
//! be more code to trust for nothing the Raft transport needs
//! (docs/network.md argues it in full).
//!
//! [`Deframer`] is sans IO: the network PD pushes whatever bytes the
//! socket gave and takes whole frames out. A length above
//! [`MAX_MESSAGE`] or of zero makes the stream unusable (it cannot be
//! resynchronised): the PD resets the connection and counts it.
#![no_std]
#![forbid(unsafe_code)]

use heapless::Vec;
use serde::{Deserialize, Serialize};
pub use worknode_abi::bounded::Bytes;

/// Version of the envelope. Version 2: a Hello's body is the sender's
/// cluster identity ([`hello_body`]), so a node refuses a stream from a
/// node of another cluster; version 1's Hello had an empty body.
pub const VERSION: u8 = 2;
/// Bytes of a cluster identity in a Hello's body.
pub const CLUSTER_ID_LEN: usize = 8;

/// A Hello's body: the cluster identity, little-endian.
pub fn hello_body(cluster: u64) -> [u8; CLUSTER_ID_LEN] {
    cluster.to_le_bytes()
}

/// The cluster a Hello's body names, if it is one.
pub fn cluster_of_hello(body: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(body.try_into().ok()?))
}
/// Largest encoded envelope on a stream.
pub const MAX_MESSAGE: usize = 2048;
/// Largest body in an envelope (the rest of [`MAX_MESSAGE`] is header).
pub const MAX_BODY: usize = MAX_MESSAGE - 32;
/// Bytes of the length prefix.
pub const PREFIX: usize = 2;

const _: () = assert!(MAX_MESSAGE <= u16::MAX as usize, "the length prefix is 16 bits");

/// What a message is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// The first message of a connection: who connects, the sequence
    /// number its next message will have, and (the body) the cluster it
    /// belongs to.
    Hello,
    /// Data for the recipient's client (the body).
    Data,
}

/// A message between nodes. Its body borrows from the frame it was
/// decoded from (or the bytes a sender passed): an owned body of
/// [`MAX_BODY`] bytes made every envelope 2 KiB however short, and moving
/// those made copying most of a message's cost in the network PD (`make
/// bench-net`'s profile: 41 % of a receiving node's instructions in
/// `memcpy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope<'a> {
    /// [`VERSION`].
    pub version: u8,
    /// What it is.
    pub kind: Kind,
    /// The sending node.
    pub from: u8,
    /// The receiving node.
    pub to: u8,
    /// The client on the receiving node the message is for (0 for a
    /// Hello).
    pub port: u8,
    /// Its number on this stream: each message's is one more than the
    /// one before it.
    pub seq: u64,
    /// The payload, for [`Kind::Data`].
    #[serde(borrow)]
    pub body: Bytes<'a, MAX_BODY>,
}

/// Why a frame or an envelope was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// A length of zero or above [`MAX_MESSAGE`]: the stream is unusable.
    BadLength(u16),
    /// The envelope does not decode, or has bytes after it.
    Malformed,
    /// The envelope is of a version this side does not speak.
    UnsupportedVersion(u8),
    /// The envelope does not fit [`MAX_MESSAGE`] (encoding).
    TooLarge,
}

/// Encodes `envelope` as a frame into `out`; returns the frame's length.
pub fn encode(envelope: &Envelope, out: &mut [u8]) -> Result<usize, FrameError> {
    let (prefix, body) = out.split_at_mut_checked(PREFIX).ok_or(FrameError::TooLarge)?;
    let limit = body.len().min(MAX_MESSAGE);
    let len = postcard::to_slice(envelope, &mut body[..limit]).map_err(|_| FrameError::TooLarge)?.len();
    prefix.copy_from_slice(&(len as u16).to_le_bytes());
    Ok(PREFIX + len)
}

/// Decodes one envelope (a frame's bytes after the prefix). The whole
/// input must be the envelope, of [`VERSION`], in its one canonical
/// encoding (postcard also reads overlong varints; a message with two
/// encodings could pass a check on its bytes and mean the same, or the
/// reverse), as the ABI between PDs requires (`worknode_abi::frame`).
/// The fuzz target `netmsg` found the overlong encodings this refuses.
pub fn decode(bytes: &[u8]) -> Result<Envelope<'_>, FrameError> {
    let (envelope, rest): (Envelope, _) =
        postcard::take_from_bytes(bytes).map_err(|_| FrameError::Malformed)?;
    if !rest.is_empty() {
        return Err(FrameError::Malformed);
    }
    if envelope.version != VERSION {
        return Err(FrameError::UnsupportedVersion(envelope.version));
    }
    match postcard::serialize_with_flavor(&envelope, worknode_abi::flavors::Compare::new(bytes)) {
        Ok(true) => Ok(envelope),
        _ => Err(FrameError::Malformed),
    }
}

/// Reassembles frames from a byte stream.
#[derive(Clone, Debug, Default)]
pub struct Deframer {
    buf: Vec<u8, { PREFIX + MAX_MESSAGE }>,
    broken: Option<FrameError>,
}

impl Deframer {
    /// An empty deframer, for a new connection.
    pub const fn new() -> Deframer {
        Deframer { buf: Vec::new(), broken: None }
    }

    /// How many bytes [`Deframer::push`] would take now: never more than
    /// the rest of the current frame, so a frame is taken out before the
    /// next one's bytes are read (the socket keeps them: back-pressure).
    pub fn wants(&self) -> usize {
        if self.broken.is_some() {
            return 0;
        }
        match self.frame_len() {
            None => PREFIX - self.buf.len(),
            Some(Ok(len)) => (PREFIX + len).saturating_sub(self.buf.len()),
            Some(Err(_)) => 0,
        }
    }

    fn frame_len(&self) -> Option<Result<usize, FrameError>> {
        let prefix: [u8; PREFIX] = self.buf.get(..PREFIX)?.try_into().ok()?;
        let len = u16::from_le_bytes(prefix);
        Some(if len == 0 || usize::from(len) > MAX_MESSAGE {
            Err(FrameError::BadLength(len))
        } else {
            Ok(len.into())
        })
    }

    /// Takes up to [`Deframer::wants`] bytes of `bytes`; returns how many.
    pub fn push(&mut self, bytes: &[u8]) -> usize {
        let take = bytes.len().min(self.wants());
        self.buf.extend_from_slice(&bytes[..take]).expect("wants() leaves room");
        if let Some(Err(e)) = self.frame_len() {
            self.broken = Some(e);
        }
        take
    }

    /// The next whole frame's envelope bytes, if one is complete; after
    /// an error the stream is unusable and every call returns it.
    pub fn frame(&mut self) -> Option<Result<&[u8], FrameError>> {
        if let Some(e) = self.broken {
            return Some(Err(e));
        }
        let len = self.frame_len()?.ok()?;
        (self.buf.len() == PREFIX + len).then(|| Ok(&self.buf[PREFIX..]))
    }

    /// Forgets the frame [`Deframer::frame`] returned.
    pub fn consume(&mut self) {
        if self.broken.is_none() && self.wants() == 0 {
            self.buf.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(seq: u64, body: &[u8]) -> Envelope<'_> {
        Envelope {
            version: VERSION,
            kind: Kind::Data,
            from: 1,
            to: 2,
            port: 3,
            seq,
            body: Bytes::new(body).unwrap(),
        }
    }

    /// The wire format, pinned: docs/network.md shows these bytes.
    #[test]
    fn golden() {
        let mut out = [0u8; 64];
        let len = encode(&data(5, b"hi"), &mut out).unwrap();
        assert_eq!(&out[..len], &[9, 0, 2, 1, 1, 2, 3, 5, 2, b'h', b'i']);
        let cluster = hello_body(0x0807_0605_0403_0201);
        let hello = Envelope {
            version: VERSION,
            kind: Kind::Hello,
            from: 0,
            to: 1,
            port: 0,
            seq: 300,
            body: Bytes::new(&cluster).unwrap(),
        };
        let len = encode(&hello, &mut out).unwrap();
        assert_eq!(&out[..len], &[16, 0, 2, 0, 0, 1, 0, 0xAC, 0x02, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(cluster_of_hello(&hello.body), Some(0x0807_0605_0403_0201));
        assert_eq!(cluster_of_hello(&[]), None, "a version 1 Hello names no cluster");
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/network.md")).unwrap();
        assert!(doc.contains("`09 00 02 01 01 02 03 05 02 68 69`"), "docs/network.md shows the Data golden");
        assert!(
            doc.contains("`10 00 02 00 00 01 00 AC 02 08 01 02 03 04 05 06 07 08`"),
            "docs/network.md shows the Hello golden"
        );
    }

    extern crate std;

    #[test]
    fn frames_split_anywhere_come_out_whole() {
        let mut stream = std::vec::Vec::new();
        for seq in 0..20u64 {
            let mut out = [0u8; 128];
            let len = encode(&data(seq, &[seq as u8; 40]), &mut out).unwrap();
            stream.extend_from_slice(&out[..len]);
        }
        for chunk in [1, 3, 7, 64, 1000] {
            let mut d = Deframer::new();
            let mut got = 0u64;
            for piece in stream.chunks(chunk) {
                let mut rest = piece;
                while !rest.is_empty() {
                    let n = d.push(rest);
                    rest = &rest[n..];
                    if let Some(frame) = d.frame() {
                        assert_eq!(decode(frame.unwrap()).unwrap().seq, got);
                        got += 1;
                        d.consume();
                    }
                }
            }
            assert_eq!(got, 20, "chunks of {chunk}");
        }
    }

    #[test]
    fn bad_lengths_break_the_stream_and_bad_envelopes_are_refused() {
        let mut d = Deframer::new();
        d.push(&[0, 0]);
        assert_eq!(d.frame(), Some(Err(FrameError::BadLength(0))));
        assert_eq!(d.wants(), 0);
        let mut d = Deframer::new();
        d.push(&(MAX_MESSAGE as u16 + 1).to_le_bytes());
        assert!(matches!(d.frame(), Some(Err(FrameError::BadLength(_)))));
        assert_eq!(decode(&[1, 1, 1, 2, 0, 5, 0]), Err(FrameError::UnsupportedVersion(1)));
        assert_eq!(decode(&[2, 1, 1, 2, 0, 5, 0, 9]), Err(FrameError::Malformed), "trailing byte");
        assert_eq!(decode(&[2, 7, 1, 2, 0, 5, 0]), Err(FrameError::Malformed), "unknown kind");
        assert_eq!(decode(&[2, 1, 1, 2, 0, 0x85, 0x00, 0]), Err(FrameError::Malformed), "overlong varint");
        assert!(decode(&[2, 1, 1, 2, 0, 5, 0]).is_ok());
    }
}
