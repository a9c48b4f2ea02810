//! The TCP ports a frame is about, read without checking checksums: a segment's own ports,
//! or those of the segment an ICMP destination unreachable quotes. The hand-off between
//! workers routes by them and a capture filters by them.

use crate::wire::{ethernet, ipv4, EtherType, EthernetFrame, Icmpv4Packet, Ipv4Packet, TcpPacket};

/// Where a frame's TCP ports come from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum FramePorts {
    /// A TCP segment's source and destination ports.
    Segment { src: u16, dst: u16 },
    /// The ports of the TCP segment an ICMP destination unreachable quotes (a segment sent
    /// the other way: its source port is the port of ours).
    Quoted { src: u16, dst: u16 },
}

impl FramePorts {
    /// True if either port is `port`.
    pub fn has(self, port: u16) -> bool {
        let (FramePorts::Segment { src, dst } | FramePorts::Quoted { src, dst }) = self;
        src == port || dst == port
    }
}

/// The ports of an IPv4 frame carrying TCP or an ICMP error about TCP; `None` for anything
/// else or a frame too short to say.
pub(super) fn frame_ports(frame: &[u8]) -> Option<FramePorts> {
    let ethernet = EthernetFrame::new_checked(frame).ok()?;
    if ethernet.ethertype() != EtherType::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(frame.get(ethernet::HEADER_LEN..)?).ok()?;
    match ip.protocol() {
        ipv4::PROTOCOL_TCP => {
            let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
            Some(FramePorts::Segment {
                src: tcp.src_port(),
                dst: tcp.dst_port(),
            })
        }
        ipv4::PROTOCOL_ICMP => {
            let icmp = Icmpv4Packet::new_checked(ip.payload()).ok()?;
            icmp.unreachable()?;
            let quoted = icmp.quoted().ok()?.tcp()?;
            Some(FramePorts::Quoted {
                src: quoted.src_port(),
                dst: quoted.dst_port(),
            })
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
    fn a_segment_and_a_quoted_segment_give_their_ports_and_other_frames_none() {
        let tcp = frame_ports(&segment(40_000, 7)).unwrap();
        assert_eq!(
            tcp,
            FramePorts::Segment {
                src: 40_000,
                dst: 7
            }
        );
        assert!(tcp.has(7) && tcp.has(40_000) && !tcp.has(8));
        let icmp = frame_ports(&icmp_error_about(62_345)).unwrap();
        assert_eq!(
            icmp,
            FramePorts::Quoted {
                src: 62_345,
                dst: 80
            }
        );
        let mut arp = segment(1, 2);
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(frame_ports(&arp), None);
        let mut udp = segment(1, 2);
        udp[14 + 9] = 17;
        assert_eq!(frame_ports(&udp), None);
        assert_eq!(frame_ports(&segment(1, 2)[..30]), None, "truncated");
    }
}
