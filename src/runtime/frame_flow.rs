//! The connection a frame is about, read without checking checksums: a TCP segment's, or
//! that of the segment an ICMP destination unreachable quotes. The hand-off between workers
//! routes by it and a capture filters by its ports.

use std::net::SocketAddrV4;

use crate::flow::FlowKey;
use crate::wire::{
    ethernet, ipv4, EtherType, EthernetFrame, Icmpv4Packet, Ipv4Packet, QuotedDatagram, QuotedTcp,
    TcpPacket,
};

/// A frame's connection, from this host's side.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) struct FrameFlow {
    pub ours: FlowKey,
    /// True for an ICMP error quoting a segment of the connection (a segment we sent: its
    /// source is our side).
    pub quoted: bool,
}

impl FrameFlow {
    /// True if either port is `port`.
    pub fn has(self, port: u16) -> bool {
        self.ours.local_port == port || self.ours.remote_port == port
    }
}

/// The connection of an IPv4 frame carrying TCP or an ICMP error about TCP; `None` for
/// anything else or a frame too short to say.
pub(super) fn frame_flow(frame: &[u8]) -> Option<FrameFlow> {
    about_segment(
        frame,
        |ip, tcp| FrameFlow {
            ours: FlowKey::new(
                SocketAddrV4::new(ip.dst(), tcp.dst_port()),
                SocketAddrV4::new(ip.src(), tcp.src_port()),
            ),
            quoted: false,
        },
        |quoted, tcp| FrameFlow {
            ours: FlowKey::new(
                SocketAddrV4::new(quoted.src(), tcp.src_port()),
                SocketAddrV4::new(quoted.dst(), tcp.dst_port()),
            ),
            quoted: true,
        },
    )
}

/// This host's port of the connection [`frame_flow`] would name (a segment's destination
/// port, the source port of the segment an ICMP error quotes), without reading the rest of
/// the 4-tuple: all the port-slice hand-off rule needs.
pub(super) fn frame_local_port(frame: &[u8]) -> Option<u16> {
    about_segment(frame, |_, tcp| tcp.dst_port(), |_, tcp| tcp.src_port())
}

/// Finds the TCP segment a frame carries, or the one an ICMP destination unreachable
/// quotes, and reads it with `arrived` or `quoted`.
#[inline]
fn about_segment<T>(
    frame: &[u8],
    arrived: impl FnOnce(&Ipv4Packet<&[u8]>, &TcpPacket<&[u8]>) -> T,
    quoted: impl FnOnce(&QuotedDatagram<&[u8]>, &QuotedTcp) -> T,
) -> Option<T> {
    let ethernet = EthernetFrame::new_checked(frame).ok()?;
    if ethernet.ethertype() != EtherType::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(frame.get(ethernet::HEADER_LEN..)?).ok()?;
    match ip.protocol() {
        ipv4::PROTOCOL_TCP => {
            let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
            Some(arrived(&ip, &tcp))
        }
        ipv4::PROTOCOL_ICMP => {
            let icmp = Icmpv4Packet::new_checked(ip.payload()).ok()?;
            icmp.unreachable()?;
            let datagram = icmp.quoted().ok()?;
            let tcp = datagram.tcp()?;
            Some(quoted(&datagram, &tcp))
        }
        _ => None,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::wire::{EthernetRepr, Ipv4Repr, MacAddr, SeqNum, TcpRepr};
    use std::net::Ipv4Addr;

    /// A TCP segment from `src` to `dst` (ports), in an Ethernet frame.
    pub(in crate::runtime) fn segment(src: u16, dst: u16) -> Vec<u8> {
        let mut frame = vec![0u8; ethernet::HEADER_LEN + 40];
        EthernetRepr {
            src: MacAddr([2, 0, 0, 0, 0, 9]),
            dst: MacAddr([2, 0, 0, 0, 0, 1]),
            ethertype: EtherType::Ipv4,
        }
        .emit(&mut frame);
        Ipv4Repr {
            src: Ipv4Addr::new(10, 0, 2, 2),
            dst: Ipv4Addr::new(10, 0, 0, 1),
            protocol: ipv4::PROTOCOL_TCP,
            payload_len: 20,
            ttl: 64,
            ident: 1,
        }
        .emit(&mut frame[14..]);
        TcpRepr {
            src_port: src,
            dst_port: dst,
            seq: SeqNum(1),
            ..TcpRepr::default()
        }
        .emit(&mut frame[34..]);
        frame
    }

    /// An ICMP error from a router about a segment we sent from `port`.
    pub(in crate::runtime) fn icmp_error_about(port: u16) -> Vec<u8> {
        use crate::wire::{Unreachable, UnreachableRepr};
        let (us, peer) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 2, 2));
        let mut quoted = vec![0u8; 40];
        let ip = |src, dst, protocol, payload_len| Ipv4Repr {
            src,
            dst,
            protocol,
            payload_len,
            ttl: 64,
            ident: 1,
        };
        ip(us, peer, ipv4::PROTOCOL_TCP, 1460).emit(&mut quoted);
        TcpRepr {
            src_port: port,
            dst_port: 80,
            seq: SeqNum(1),
            ..TcpRepr::default()
        }
        .emit(&mut quoted[20..]);
        let quoted = &quoted[..28];
        let icmp_len = UnreachableRepr::message_len(quoted.len());
        let mut frame = vec![0u8; ethernet::HEADER_LEN + 20 + icmp_len];
        EthernetRepr {
            src: MacAddr([2, 0, 0, 0, 0, 9]),
            dst: MacAddr([2, 0, 0, 0, 0, 1]),
            ethertype: EtherType::Ipv4,
        }
        .emit(&mut frame);
        let router = Ipv4Addr::new(10, 0, 0, 254);
        ip(router, us, ipv4::PROTOCOL_ICMP, icmp_len as u16).emit(&mut frame[14..]);
        UnreachableRepr {
            reason: Unreachable::FragmentationNeeded,
            next_hop_mtu: 1280,
        }
        .emit(quoted, &mut frame[34..]);
        frame
    }

    #[test]
    fn a_segment_and_a_quoted_segment_give_their_connection_and_other_frames_none() {
        let tcp = frame_flow(&segment(40_000, 7)).unwrap();
        let peer = Ipv4Addr::new(10, 0, 2, 2);
        let us = Ipv4Addr::new(10, 0, 0, 1);
        assert_eq!(
            tcp.ours,
            FlowKey::new(SocketAddrV4::new(us, 7), SocketAddrV4::new(peer, 40_000))
        );
        assert!(!tcp.quoted);
        assert!(tcp.has(7) && tcp.has(40_000) && !tcp.has(8));
        let icmp = frame_flow(&icmp_error_about(62_345)).unwrap();
        assert_eq!(
            icmp.ours,
            FlowKey::new(SocketAddrV4::new(us, 62_345), SocketAddrV4::new(peer, 80))
        );
        assert!(icmp.quoted);
        let mut arp = segment(1, 2);
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(frame_flow(&arp), None);
        let mut udp = segment(1, 2);
        udp[14 + 9] = 17;
        assert_eq!(frame_flow(&udp), None);
        assert_eq!(frame_flow(&segment(1, 2)[..30]), None, "truncated");
    }

    #[test]
    fn the_local_port_is_the_one_frame_flow_names() {
        for frame in [segment(40_000, 7), icmp_error_about(62_345)] {
            assert_eq!(
                frame_local_port(&frame),
                frame_flow(&frame).map(|f| f.ours.local_port)
            );
        }
        assert_eq!(frame_local_port(&icmp_error_about(62_345)), Some(62_345));
        let mut udp = segment(1, 2);
        udp[14 + 9] = 17;
        assert_eq!(frame_local_port(&udp), None);
        assert_eq!(frame_local_port(&segment(1, 2)[..30]), None, "truncated");
    }
}
