//! Frames a test sends at a node from outside the cluster: the host LAN
//! test (tests/lan.rs) and the runner's switch (`make test-net`) build
//! them here, so both attack the node the same way.
//!
//! [`syn`] opens a connection to a node's stream port from an address the
//! cluster does not have, as a stranger on the LAN (or a spoofer) would.
//! The node must refuse it and count it (`unknown_node`) without letting
//! it hold the port: a half-open handshake that waited on the listener
//! kept the real peer out for as long as the stranger kept quiet.

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpProtocol, Ipv4Address, Ipv4Packet,
    Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
};

/// Bytes of a [`syn`] frame: Ethernet 14, IPv4 20, TCP 20.
pub const SYN_LEN: usize = 54;

/// A TCP SYN from `from` (MAC, address, port) to `to` (MAC, address,
/// port), with valid checksums.
pub fn syn(from: ([u8; 6], Ipv4Address, u16), to: ([u8; 6], Ipv4Address, u16), seq: u32) -> [u8; SYN_LEN] {
    let mut frame = [0u8; SYN_LEN];
    let tcp = TcpRepr {
        src_port: from.2,
        dst_port: to.2,
        control: TcpControl::Syn,
        seq_number: TcpSeqNumber(seq as i32),
        ack_number: None,
        window_len: 1024,
        window_scale: None,
        max_seg_size: None,
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload: &[],
    };
    let ip = Ipv4Repr {
        src_addr: from.1,
        dst_addr: to.1,
        next_header: IpProtocol::Tcp,
        payload_len: tcp.header_len(),
        hop_limit: 64,
    };
    let ethernet = EthernetRepr {
        src_addr: EthernetAddress(from.0),
        dst_addr: EthernetAddress(to.0),
        ethertype: EthernetProtocol::Ipv4,
    };
    let checksums = ChecksumCapabilities::default();
    let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
    ethernet.emit(&mut eth);
    let mut ipv4 = Ipv4Packet::new_unchecked(eth.payload_mut());
    ip.emit(&mut ipv4, &checksums);
    let mut packet = TcpPacket::new_unchecked(ipv4.payload_mut());
    tcp.emit(&mut packet, &from.1.into(), &to.1.into(), &checksums);
    frame
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
}
