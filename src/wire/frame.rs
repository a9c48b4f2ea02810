//! An Ethernet frame that carries a TCP segment, validated once, layer by layer, for every
//! reader: the stack's receive path, the runtime's hand-off between workers and the
//! simulator's traces.
//!
//! [`TcpFrame::parse`] checks the Ethernet header, the IP header (lengths, version, the
//! IPv4 header checksum, fragments) and the TCP header length, and keeps the views. What only
//! some readers want is left to them: the TCP checksum ([`TcpFrame::tcp_checksum`], which
//! reads the whole payload), the options ([`super::TcpRepr::parse`]) and the addresses.
//! The network layer is an enum, [`IpHeader`], so that IPv6 can join IPv4 as a variant
//! without changing what the readers of ports, addresses and payload call.

use std::net::IpAddr;

use super::{ethernet, ipv4, EtherType, EthernetFrame, Ipv4Packet, TcpPacket, WireError};

/// The network layer of a [`TcpFrame`].
#[derive(Clone, Debug)]
pub enum IpHeader<'a> {
    V4(Ipv4Packet<&'a [u8]>),
}

impl IpHeader<'_> {
    pub fn src(&self) -> IpAddr {
        match self {
            IpHeader::V4(ip) => IpAddr::V4(ip.src()),
        }
    }

    pub fn dst(&self) -> IpAddr {
        match self {
            IpHeader::V4(ip) => IpAddr::V4(ip.dst()),
        }
    }
}

/// Why a frame is not a TCP segment to take.
#[derive(Copy, Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("EtherType {0:?} does not carry IP")]
    UnsupportedEtherType(EtherType),
    #[error("IP protocol {0} is not TCP")]
    UnsupportedProtocol(u8),
    #[error(transparent)]
    Malformed(#[from] WireError),
}

/// What the TCP checksum of a frame says.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TcpChecksum {
    Valid,
    /// The field holds only the pseudo-header sum: a local sender's unfinished checksum
    /// offload (`CHECKSUM_PARTIAL`), as it arrives over veth.
    Partial,
    Invalid,
}

/// The views of an Ethernet frame carrying TCP, each checked against the frame.
#[derive(Clone, Debug)]
pub struct TcpFrame<'a> {
    ip: IpHeader<'a>,
    tcp: TcpPacket<&'a [u8]>,
    payload: &'a [u8],
    payload_offset: usize,
}

impl<'a> TcpFrame<'a> {
    /// Validates Ethernet → IPv4 → TCP. A bad IPv4 header checksum and a fragment (which
    /// is not reassembled) are malformed; the IP header checksum is checked before any
    /// field it covers is believed (RFC 1122 §3.2.1.2).
    #[inline]
    pub fn parse(frame: &'a [u8]) -> Result<TcpFrame<'a>, FrameError> {
        let ethertype = EthernetFrame::new_checked(frame)?.ethertype();
        if ethertype != EtherType::Ipv4 {
            return Err(FrameError::UnsupportedEtherType(ethertype));
        }
        let packet = &frame[ethernet::HEADER_LEN..];
        let ip = Ipv4Packet::new_checked(packet)?;
        if !ip.verify_checksum() {
            return Err(WireError::BadIpChecksum.into());
        }
        if ip.is_fragment() {
            return Err(WireError::IpFragment.into());
        }
        if ip.protocol() != ipv4::PROTOCOL_TCP {
            return Err(FrameError::UnsupportedProtocol(ip.protocol()));
        }
        // The segment runs to the IP total length, not to the end of a padded frame.
        let tcp_start = ethernet::HEADER_LEN + ip.header_len();
        let segment = &frame[tcp_start..ethernet::HEADER_LEN + ip.total_len()];
        let tcp = TcpPacket::new_checked(segment)?;
        let tcp_header_len = tcp.header_len();
        Ok(TcpFrame {
            payload: &segment[tcp_header_len..],
            payload_offset: tcp_start + tcp_header_len,
            ip: IpHeader::V4(ip),
            tcp,
        })
    }

    pub fn ip(&self) -> &IpHeader<'a> {
        &self.ip
    }

    pub fn tcp(&self) -> &TcpPacket<&'a [u8]> {
        &self.tcp
    }

    /// The TCP payload, in the frame.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Where the TCP payload starts in the frame (for reading it in place).
    pub fn payload_offset(&self) -> usize {
        self.payload_offset
    }

    /// Verifies the TCP checksum over the pseudo-header, header and payload; only when it
    /// fails is the unfinished-offload case looked for.
    #[inline]
    pub fn tcp_checksum(&self) -> TcpChecksum {
        let IpHeader::V4(ip) = &self.ip;
        let (src, dst) = (ip.src(), ip.dst());
        if self.tcp.verify_checksum(src, dst) {
            TcpChecksum::Valid
        } else if self.tcp.has_partial_checksum(src, dst) {
            TcpChecksum::Partial
        } else {
            TcpChecksum::Invalid
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checksum::{checksum, Checksum};
    use crate::wire::tcp::fill_checksum;
    use crate::wire::{EthernetRepr, Ipv4Repr, MacAddr, SeqNum, TcpFlags, TcpRepr};
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const IP: usize = ethernet::HEADER_LEN;
    const TCP: usize = IP + ipv4::HEADER_LEN;

    /// A frame from SRC:40000 to DST:80 with `payload` and `padding` bytes after the packet.
    fn frame(payload: &[u8], padding: usize) -> Vec<u8> {
        let repr = TcpRepr {
            src_port: 40_000,
            dst_port: 80,
            seq: SeqNum(1),
            ack: Some(SeqNum(2)),
            flags: TcpFlags::PSH,
            window: 1000,
            ..TcpRepr::default()
        };
        let tcp_len = repr.header_len() + payload.len();
        let mut buf = vec![0u8; TCP + tcp_len + padding];
        EthernetRepr {
            src: MacAddr([2, 0, 0, 0, 0, 1]),
            dst: MacAddr([2, 0, 0, 0, 0, 2]),
            ethertype: EtherType::Ipv4,
        }
        .emit(&mut buf);
        Ipv4Repr {
            src: SRC,
            dst: DST,
            protocol: ipv4::PROTOCOL_TCP,
            payload_len: tcp_len as u16,
            ttl: 64,
            ident: 1,
        }
        .emit(&mut buf[IP..]);
        let header_len = repr.emit(&mut buf[TCP..]);
        buf[TCP + header_len..TCP + tcp_len].copy_from_slice(payload);
        fill_checksum(&mut buf[TCP..TCP + tcp_len], SRC, DST);
        buf
    }

    /// Changes IPv4 header byte `at` to `value` and mends the header checksum.
    fn set_ip_byte(buf: &mut [u8], at: usize, value: u8) {
        buf[IP + at] = value;
        buf[IP + 10..IP + 12].fill(0);
        let sum = checksum(&buf[IP..TCP]);
        buf[IP + 10..IP + 12].copy_from_slice(&sum.to_be_bytes());
    }

    #[test]
    fn a_padded_segment_is_found_in_place() {
        let buf = frame(b"hello", 7);
        let f = TcpFrame::parse(&buf).unwrap();
        assert_eq!(f.ip().src(), IpAddr::V4(SRC));
        assert_eq!(f.ip().dst(), IpAddr::V4(DST));
        assert_eq!(f.tcp().dst_port(), 80);
        assert_eq!(f.payload(), b"hello");
        assert_eq!(f.payload_offset(), TCP + 20);
        assert_eq!(&buf[f.payload_offset()..][..5], b"hello");
        assert_eq!(f.tcp_checksum(), TcpChecksum::Valid);
    }

    #[test]
    fn each_layer_rejects_what_it_cannot_take() {
        let good = frame(b"data", 0);
        let reject = |buf: &[u8]| TcpFrame::parse(buf).unwrap_err();
        assert_eq!(reject(&good[..13]), WireError::Truncated.into());
        let mut arp = good.clone();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(
            reject(&arp),
            FrameError::UnsupportedEtherType(EtherType::Arp)
        );
        assert_eq!(reject(&good[..TCP - 1]), WireError::Truncated.into());
        let mut bad_sum = good.clone();
        bad_sum[IP + 8] ^= 1; // the TTL, under the header checksum
        assert_eq!(reject(&bad_sum), WireError::BadIpChecksum.into());
        let mut fragment = good.clone();
        set_ip_byte(&mut fragment, 6, 0x20); // more fragments
        assert_eq!(reject(&fragment), WireError::IpFragment.into());
        let mut udp = good.clone();
        set_ip_byte(&mut udp, 9, 17);
        assert_eq!(reject(&udp), FrameError::UnsupportedProtocol(17));
        let mut offset = good.clone();
        offset[TCP + 12] = 0xf0; // a 60-byte TCP header in a 24-byte segment
        assert_eq!(reject(&offset), WireError::BadTcpHeaderLength.into());
    }

    #[test]
    fn a_tcp_checksum_is_valid_partial_or_invalid() {
        let mut corrupt = frame(b"data", 0);
        let last = corrupt.len() - 1;
        corrupt[last] ^= 0xff;
        assert_eq!(
            TcpFrame::parse(&corrupt).unwrap().tcp_checksum(),
            TcpChecksum::Invalid
        );
        let mut partial = frame(b"data", 0);
        let len = (partial.len() - TCP) as u16;
        let pseudo_header = Checksum::new()
            .add_pseudo_header(SRC, DST, ipv4::PROTOCOL_TCP, len)
            .sum();
        partial[TCP + 16..TCP + 18].copy_from_slice(&pseudo_header.to_be_bytes());
        assert_eq!(
            TcpFrame::parse(&partial).unwrap().tcp_checksum(),
            TcpChecksum::Partial
        );
    }

    proptest! {
        /// Whatever the bytes, parsing does not panic, and an accepted frame's payload lies
        /// inside it where `payload_offset` says.
        #[test]
        fn any_bytes_parse_or_are_rejected(
            payload in proptest::collection::vec(any::<u8>(), 0..64),
            padding in 0usize..16,
            flips in proptest::collection::vec((0usize..128, any::<u8>()), 0..4),
        ) {
            let mut buf = frame(&payload, padding);
            for (at, value) in flips {
                let at = at % buf.len();
                buf[at] = value;
            }
            if let Ok(f) = TcpFrame::parse(&buf) {
                let start = f.payload_offset();
                prop_assert!(start + f.payload().len() <= buf.len());
                prop_assert_eq!(&buf[start..start + f.payload().len()], f.payload());
                let _ = f.tcp_checksum();
            }
        }
    }
}
