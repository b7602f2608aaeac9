//! Frames a test sends at a node from outside the cluster: the host LAN
//! test (tests/lan.rs) and the runner's switch (`make test-net`) build
//! them here, so both attack the node the same way.
//!
//! [`syn`] opens a connection to a node's stream port from an address the
//! cluster does not have, as a stranger on the LAN (or a spoofer) would.
//! The node must refuse it and count it (`unknown_node`) without letting
//! it hold the port: a half-open handshake that waited on the listener
//! kept the real peer out for as long as the stranger kept quiet.
//!
//! [`forge_into_stream`] goes further, as someone on the wire who sees a
//! stream's segments can: it writes bytes into an established stream, in
//! the peer's name, at exactly the place the receiver expects next.
//! [`bad_message`] makes those bytes a well-framed message the receiver
//! must refuse: of another version, or naming a node that is not the
//! stream's (`bad_messages`; the stream is reset and reopens).

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpProtocol, Ipv4Address, Ipv4Packet,
    Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
};
use worknode_netmsg::{Bytes, Envelope, Kind, PREFIX, VERSION};

/// Bytes of a [`syn`] frame: Ethernet 14, IPv4 20, TCP 20.
pub const SYN_LEN: usize = 54;

/// A TCP SYN from `from` (MAC, address, port) to `to` (MAC, address,
/// port), with valid checksums.
pub fn syn(from: Endpoint, to: Endpoint, seq: u32) -> [u8; SYN_LEN] {
    let mut frame = [0u8; SYN_LEN];
    let len = segment(from, to, TcpControl::Syn, TcpSeqNumber(seq as i32), None, &[], &mut frame);
    debug_assert_eq!(len, SYN_LEN);
    frame
}

/// One end of a connection: MAC, address, port.
pub type Endpoint = ([u8; 6], Ipv4Address, u16);

/// Writes into `out` an Ethernet frame holding a TCP segment from `from`
/// to `to`, with valid checksums; returns its length. `out` must hold the
/// headers and `payload`.
fn segment(
    from: Endpoint,
    to: Endpoint,
    control: TcpControl,
    seq_number: TcpSeqNumber,
    ack_number: Option<TcpSeqNumber>,
    payload: &[u8],
    out: &mut [u8],
) -> usize {
    let tcp = TcpRepr {
        src_port: from.2,
        dst_port: to.2,
        control,
        seq_number,
        ack_number,
        window_len: 1024,
        window_scale: None,
        max_seg_size: None,
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload,
    };
    let ip = Ipv4Repr {
        src_addr: from.1,
        dst_addr: to.1,
        next_header: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        hop_limit: 64,
    };
    let ethernet = EthernetRepr {
        src_addr: EthernetAddress(from.0),
        dst_addr: EthernetAddress(to.0),
        ethertype: EthernetProtocol::Ipv4,
    };
    let len = ethernet.buffer_len() + ip.buffer_len() + tcp.buffer_len();
    let checksums = ChecksumCapabilities::default();
    let mut eth = EthernetFrame::new_unchecked(&mut out[..len]);
    ethernet.emit(&mut eth);
    let mut ipv4 = Ipv4Packet::new_unchecked(eth.payload_mut());
    ip.emit(&mut ipv4, &checksums);
    let mut packet = TcpPacket::new_unchecked(ipv4.payload_mut());
    tcp.emit(&mut packet, &from.1.into(), &to.1.into(), &checksums);
    len
}

/// Bytes of the largest frame [`forge_into_stream`] builds: headers and a
/// payload of up to [`FORGED_PAYLOAD`] bytes.
pub const FORGED_LEN: usize = SYN_LEN + FORGED_PAYLOAD;
/// Most payload bytes [`forge_into_stream`] carries.
pub const FORGED_PAYLOAD: usize = 64;

/// Given `seen`, a TCP segment one end of a connection sent (the
/// receiving end of a stream: it acknowledges what it has), builds into
/// `out` a segment from the other end carrying `payload` at the sequence
/// number `seen` acknowledged: the next bytes the receiver takes into the
/// stream, as long as the real sender has sent nothing since. Returns
/// the frame's length; `None` if `seen` is not an acknowledging TCP
/// segment over IPv4 or `payload` is too long.
pub fn forge_into_stream(seen: &[u8], payload: &[u8], out: &mut [u8; FORGED_LEN]) -> Option<usize> {
    if payload.len() > FORGED_PAYLOAD {
        return None;
    }
    let eth = EthernetFrame::new_checked(seen).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.next_header() != IpProtocol::Tcp {
        return None;
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    let ack = tcp.ack().then(|| tcp.ack_number())?;
    // What the receiving end sent up to: its next sequence number.
    let its_next = tcp.seq_number() + tcp.segment_len();
    let sender = (eth.dst_addr().0, dst, tcp.dst_port());
    let receiver = (eth.src_addr().0, src, tcp.src_port());
    Some(segment(sender, receiver, TcpControl::Psh, ack, Some(its_next), payload, out))
}

/// What is wrong with a [`bad_message`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bad {
    /// A version this node does not speak.
    Version,
    /// A sending node that is not the stream's.
    Sender,
}

/// Bytes of a [`bad_message`].
pub const BAD_MESSAGE_LEN: usize = 32;

/// A framed message on the stream from node `from` to node `to`, numbered
/// `seq` (the stream's next, for a forger who read it off the wire), that
/// the receiver must refuse for `bad`. Returns its bytes and their length.
pub fn bad_message(bad: Bad, from: u8, to: u8, seq: u64) -> ([u8; BAD_MESSAGE_LEN], usize) {
    let envelope = Envelope {
        version: if bad == Bad::Version { VERSION + 1 } else { VERSION },
        kind: Kind::Data,
        from: if bad == Bad::Sender { from.wrapping_add(100) } else { from },
        to,
        port: 1,
        seq,
        body: Bytes::new(b"forged").expect("short"),
    };
    let mut out = [0u8; BAD_MESSAGE_LEN];
    let len = worknode_netmsg::encode(&envelope, &mut out).expect("a short envelope fits");
    debug_assert!(len > PREFIX);
    (out, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syn_parses_back_with_valid_checksums() {
        let from = ([2, 0, 0, 0, 0, 0xc8], Ipv4Address::new(10, 0, 0, 200), 40000);
        let to = ([2, 0x57, 0x4e, 0, 0, 1], Ipv4Address::new(10, 0, 0, 2), 7100);
        let frame = syn(from, to, 7);
        let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
        assert_eq!(eth.dst_addr(), EthernetAddress(to.0));
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(ip.src_addr(), from.1);
        let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
        assert!(tcp.verify_checksum(&from.1.into(), &to.1.into()));
        assert!(tcp.syn() && !tcp.ack());
        assert_eq!((tcp.src_port(), tcp.dst_port()), (40000, 7100));
    }

    #[test]
    fn a_forged_segment_continues_the_stream_it_answers() {
        // A segment of the sender (10.0.0.1:50000) to the receiving end
        // (10.0.0.2:7100): seq 77, acknowledging 1000. Forged into its
        // connection, an empty one is what the receiver would answer:
        // seq 1000, acknowledging 77; that is the segment a forger sees.
        let receiver = ([2, 0x57, 0x4e, 0, 0, 1], Ipv4Address::new(10, 0, 0, 2), 7100);
        let sender = ([2, 0x57, 0x4e, 0, 0, 0], Ipv4Address::new(10, 0, 0, 1), 50000);
        let mut segment = syn(sender, receiver, 77);
        let mut packet = TcpPacket::new_unchecked(&mut segment[34..]);
        packet.set_syn(false);
        packet.set_ack(true);
        packet.set_ack_number(TcpSeqNumber(1000));
        let mut seen = [0u8; FORGED_LEN];
        let n = forge_into_stream(&segment, b"", &mut seen).unwrap();
        let (payload, len) = bad_message(Bad::Version, 0, 1, 5);
        let mut out = [0u8; FORGED_LEN];
        let m = forge_into_stream(&seen[..n], &payload[..len], &mut out).unwrap();
        let eth = EthernetFrame::new_checked(&out[..m]).unwrap();
        assert_eq!(eth.dst_addr(), EthernetAddress(receiver.0));
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!((ip.src_addr(), ip.dst_addr()), (sender.1, receiver.1));
        let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
        assert!(tcp.verify_checksum(&sender.1.into(), &receiver.1.into()));
        assert_eq!((tcp.src_port(), tcp.dst_port()), (50000, 7100));
        assert_eq!(tcp.seq_number(), TcpSeqNumber(77), "where the receiver expects the next byte");
        assert_eq!(tcp.ack_number(), TcpSeqNumber(1000), "all the receiver sent");
        assert_eq!(tcp.payload(), &payload[..len]);
        assert_eq!(
            worknode_netmsg::decode(&payload[PREFIX..len]),
            Err(worknode_netmsg::FrameError::UnsupportedVersion(VERSION + 1))
        );
        assert!(forge_into_stream(&out[..10], b"", &mut [0; FORGED_LEN]).is_none(), "not a segment");
    }
}
