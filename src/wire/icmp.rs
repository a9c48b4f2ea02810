//! ICMP for IPv4 (RFC 792): the error messages about our own datagrams that TCP acts on.
//!
//! Of the message types only destination unreachable (type 3) is read here: its codes
//! (RFC 792, RFC 1122 §3.2.2.1, RFC 1812 §5.2.7.1), the next-hop MTU of "fragmentation
//! needed" (code 4, RFC 1191 §4), and the datagram it quotes — the IP header and at least
//! the first 64 bits of its payload (RFC 792), for TCP the ports and the sequence number.
//! The quoted datagram is viewed by [`QuotedDatagram`] and its transport header by
//! [`QuotedTcp`], named without the IP version so that ICMPv6 (Packet Too Big, RFC 8201) can
//! hand the same views to the same readers.

use super::checksum::{checksum, Checksum};
use super::ipv4::{self, PROTOCOL_TCP};
use super::{SeqNum, WireError};
use std::net::Ipv4Addr;

/// Length of the ICMP header: type, code, checksum and the 32-bit field that follows.
pub const HEADER_LEN: usize = 8;
/// Bytes of the quoted datagram's payload every error carries at least (RFC 792: "the
/// first 64 bits"): for TCP the ports and the sequence number.
pub const QUOTED_TRANSPORT_LEN: usize = 8;
/// ICMP message type of destination unreachable (RFC 792).
pub const TYPE_DESTINATION_UNREACHABLE: u8 = 3;

mod field {
    use std::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    /// "Fragmentation needed": unused (2 bytes), then the next-hop MTU (RFC 1191 §4).
    pub const NEXT_HOP_MTU: Range<usize> = 6..8;
}

/// The code of a destination unreachable message: RFC 792 (0–5), RFC 1122 §3.2.2.1 (6–12),
/// RFC 1812 §5.2.7.1 (13–15).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Unreachable {
    Net,
    Host,
    Protocol,
    Port,
    /// The datagram had Don't Fragment set and was too big for the next hop (RFC 1191).
    FragmentationNeeded,
    SourceRouteFailed,
    NetUnknown,
    HostUnknown,
    SourceHostIsolated,
    NetProhibited,
    HostProhibited,
    NetUnreachableForTos,
    HostUnreachableForTos,
    CommunicationProhibited,
    HostPrecedenceViolation,
    PrecedenceCutoff,
    /// A code no RFC assigns.
    Unassigned(u8),
}

impl Unreachable {
    pub fn from_code(code: u8) -> Unreachable {
        match code {
            0 => Unreachable::Net,
            1 => Unreachable::Host,
            2 => Unreachable::Protocol,
            3 => Unreachable::Port,
            4 => Unreachable::FragmentationNeeded,
            5 => Unreachable::SourceRouteFailed,
            6 => Unreachable::NetUnknown,
            7 => Unreachable::HostUnknown,
            8 => Unreachable::SourceHostIsolated,
            9 => Unreachable::NetProhibited,
            10 => Unreachable::HostProhibited,
            11 => Unreachable::NetUnreachableForTos,
            12 => Unreachable::HostUnreachableForTos,
            13 => Unreachable::CommunicationProhibited,
            14 => Unreachable::HostPrecedenceViolation,
            15 => Unreachable::PrecedenceCutoff,
            other => Unreachable::Unassigned(other),
        }
    }

    pub fn code(self) -> u8 {
        match self {
            Unreachable::Net => 0,
            Unreachable::Host => 1,
            Unreachable::Protocol => 2,
            Unreachable::Port => 3,
            Unreachable::FragmentationNeeded => 4,
            Unreachable::SourceRouteFailed => 5,
            Unreachable::NetUnknown => 6,
            Unreachable::HostUnknown => 7,
            Unreachable::SourceHostIsolated => 8,
            Unreachable::NetProhibited => 9,
            Unreachable::HostProhibited => 10,
            Unreachable::NetUnreachableForTos => 11,
            Unreachable::HostUnreachableForTos => 12,
            Unreachable::CommunicationProhibited => 13,
            Unreachable::HostPrecedenceViolation => 14,
            Unreachable::PrecedenceCutoff => 15,
            Unreachable::Unassigned(code) => code,
        }
    }
}

/// A view of an ICMPv4 message whose header fits the buffer. The buffer is the IPv4
/// payload: the message runs to its end, and the checksum covers all of it (RFC 792).
#[derive(Debug, Clone)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    /// Checks that the 8-byte header is there. Does not verify the checksum (see
    /// [`Icmpv4Packet::verify_checksum`]).
    pub fn new_checked(buffer: T) -> Result<Icmpv4Packet<T>, WireError> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::TruncatedIcmp);
        }
        Ok(Icmpv4Packet { buffer })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn msg_type(&self) -> u8 {
        self.bytes()[field::TYPE]
    }

    pub fn code(&self) -> u8 {
        self.bytes()[field::CODE]
    }

    pub fn checksum(&self) -> u16 {
        let b = &self.bytes()[field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// True when the checksum over the whole message is correct (RFC 792).
    pub fn verify_checksum(&self) -> bool {
        Checksum::new().add_bytes(self.bytes()).is_valid()
    }

    /// The code, when this is a destination unreachable message.
    pub fn unreachable(&self) -> Option<Unreachable> {
        (self.msg_type() == TYPE_DESTINATION_UNREACHABLE)
            .then(|| Unreachable::from_code(self.code()))
    }

    /// The next-hop MTU of a "fragmentation needed" message (RFC 1191 §4); 0 from a router
    /// that predates RFC 1191 (§5). Meaningless for other messages.
    pub fn next_hop_mtu(&self) -> u16 {
        let b = &self.bytes()[field::NEXT_HOP_MTU];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The datagram an error message quotes, checked (see [`QuotedDatagram::new_checked`]).
    pub fn quoted(&self) -> Result<QuotedDatagram<&[u8]>, WireError> {
        QuotedDatagram::new_checked(&self.bytes()[HEADER_LEN..])
    }
}

/// The datagram quoted by an ICMP error: its IP header in full and the first
/// [`QUOTED_TRANSPORT_LEN`] bytes of its payload. Its total length field is the original
/// datagram's, longer than what is quoted, so it is read, not checked against the buffer.
#[derive(Debug, Clone)]
pub struct QuotedDatagram<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> QuotedDatagram<T> {
    /// Checks that the buffer holds an IPv4 header (version 4, header length 20 bytes or
    /// more) and 8 bytes after it.
    pub fn new_checked(buffer: T) -> Result<QuotedDatagram<T>, WireError> {
        let b = buffer.as_ref();
        let Some(&ver_ihl) = b.first() else {
            return Err(WireError::BadIcmpQuote);
        };
        let header_len = usize::from(ver_ihl & 0x0f) * 4;
        if ver_ihl >> 4 != 4
            || header_len < ipv4::HEADER_LEN
            || b.len() < header_len + QUOTED_TRANSPORT_LEN
        {
            return Err(WireError::BadIcmpQuote);
        }
        Ok(QuotedDatagram { buffer })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn header_len(&self) -> usize {
        usize::from(self.bytes()[0] & 0x0f) * 4
    }

    /// The total length of the datagram as it was sent.
    pub fn total_len(&self) -> u16 {
        u16::from_be_bytes([self.bytes()[2], self.bytes()[3]])
    }

    pub fn protocol(&self) -> u8 {
        self.bytes()[9]
    }

    pub fn src(&self) -> Ipv4Addr {
        let b = self.bytes();
        Ipv4Addr::new(b[12], b[13], b[14], b[15])
    }

    pub fn dst(&self) -> Ipv4Addr {
        let b = self.bytes();
        Ipv4Addr::new(b[16], b[17], b[18], b[19])
    }

    /// The quoted TCP header's first 8 bytes, when the datagram was TCP.
    pub fn tcp(&self) -> Option<QuotedTcp> {
        if self.protocol() != PROTOCOL_TCP {
            return None;
        }
        let at = self.header_len();
        let mut quoted = [0u8; QUOTED_TRANSPORT_LEN];
        quoted.copy_from_slice(&self.bytes()[at..at + QUOTED_TRANSPORT_LEN]);
        Some(QuotedTcp(quoted))
    }
}

/// The first 8 bytes of a quoted TCP header: the ports and the sequence number (RFC 9293
/// §3.1), all an ICMP error is sure to carry.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct QuotedTcp([u8; QUOTED_TRANSPORT_LEN]);

impl QuotedTcp {
    pub fn src_port(&self) -> u16 {
        u16::from_be_bytes([self.0[0], self.0[1]])
    }

    pub fn dst_port(&self) -> u16 {
        u16::from_be_bytes([self.0[2], self.0[3]])
    }

    pub fn seq(&self) -> SeqNum {
        SeqNum(u32::from_be_bytes([
            self.0[4], self.0[5], self.0[6], self.0[7],
        ]))
    }
}

/// A destination unreachable message to emit: how a router's or a forger's message is
/// built in tests, the simulator and the fuzz seeds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct UnreachableRepr {
    pub reason: Unreachable,
    /// The next-hop MTU field (RFC 1191 §4); written whatever the code, as routers do.
    pub next_hop_mtu: u16,
}

impl UnreachableRepr {
    /// Bytes of a message quoting `quoted_len` bytes.
    pub fn message_len(quoted_len: usize) -> usize {
        HEADER_LEN + quoted_len
    }

    /// Writes the message quoting `quoted` (the IP header and what follows of the datagram)
    /// into the start of `buf`, checksum included; returns its length.
    pub fn emit(&self, quoted: &[u8], buf: &mut [u8]) -> usize {
        let len = Self::message_len(quoted.len());
        let b = &mut buf[..len];
        b[field::TYPE] = TYPE_DESTINATION_UNREACHABLE;
        b[field::CODE] = self.reason.code();
        b[field::CHECKSUM].fill(0);
        b[4..6].fill(0);
        b[field::NEXT_HOP_MTU].copy_from_slice(&self.next_hop_mtu.to_be_bytes());
        b[HEADER_LEN..].copy_from_slice(quoted);
        let sum = checksum(b);
        b[field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
        len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Ipv4Repr, TcpFlags, TcpRepr};

    const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);

    /// A 1500-byte datagram's IPv4 header and its TCP header, from US:40000 to PEER:80.
    fn sent_datagram() -> Vec<u8> {
        let mut buf = vec![0u8; ipv4::HEADER_LEN + 20];
        Ipv4Repr {
            src: US,
            dst: PEER,
            protocol: PROTOCOL_TCP,
            payload_len: 1480,
            ttl: 64,
            ident: 9,
        }
        .emit(&mut buf);
        TcpRepr {
            src_port: 40_000,
            dst_port: 80,
            seq: SeqNum(0xdead_beef),
            ack: Some(SeqNum(1)),
            flags: TcpFlags::PSH,
            window: 100,
            ..TcpRepr::default()
        }
        .emit(&mut buf[ipv4::HEADER_LEN..]);
        buf
    }

    fn message(reason: Unreachable, mtu: u16, quoted: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; UnreachableRepr::message_len(quoted.len())];
        let n = UnreachableRepr {
            reason,
            next_hop_mtu: mtu,
        }
        .emit(quoted, &mut buf);
        assert_eq!(n, buf.len());
        buf
    }

    #[test]
    fn fragmentation_needed_round_trips_with_its_quote() {
        let sent = sent_datagram();
        // RFC 792: the IP header and 64 bits of data, as a router quotes.
        let buf = message(Unreachable::FragmentationNeeded, 1280, &sent[..28]);
        let icmp = Icmpv4Packet::new_checked(&buf[..]).unwrap();
        assert!(icmp.verify_checksum());
        assert_eq!(icmp.msg_type(), 3);
        assert_eq!(icmp.code(), 4);
        assert_eq!(icmp.unreachable(), Some(Unreachable::FragmentationNeeded));
        assert_eq!(icmp.next_hop_mtu(), 1280);
        let quoted = icmp.quoted().unwrap();
        assert_eq!(quoted.total_len(), 1500);
        assert_eq!((quoted.src(), quoted.dst()), (US, PEER));
        assert_eq!(quoted.protocol(), PROTOCOL_TCP);
        let tcp = quoted.tcp().unwrap();
        assert_eq!((tcp.src_port(), tcp.dst_port()), (40_000, 80));
        assert_eq!(tcp.seq(), SeqNum(0xdead_beef));
    }

    #[test]
    fn every_code_maps_back_to_itself() {
        for code in 0..=u8::MAX {
            assert_eq!(Unreachable::from_code(code).code(), code);
        }
        assert_eq!(Unreachable::from_code(3), Unreachable::Port);
        assert_eq!(Unreachable::from_code(16), Unreachable::Unassigned(16));
    }

    #[test]
    fn a_short_message_a_short_quote_and_a_corrupt_one_are_each_caught() {
        let sent = sent_datagram();
        let buf = message(Unreachable::Port, 0, &sent[..28]);
        for len in 0..HEADER_LEN {
            assert_eq!(
                Icmpv4Packet::new_checked(&buf[..len]).unwrap_err(),
                WireError::TruncatedIcmp
            );
        }
        // The header and less than 28 bytes of quote: not enough for the ports and seq.
        for len in HEADER_LEN..buf.len() {
            let short = message(Unreachable::Port, 0, &sent[..len - HEADER_LEN]);
            let icmp = Icmpv4Packet::new_checked(&short[..]).unwrap();
            assert!(icmp.verify_checksum());
            assert_eq!(icmp.quoted().unwrap_err(), WireError::BadIcmpQuote, "{len}");
        }
        let mut not_v4 = sent[..28].to_vec();
        not_v4[0] = 0x65;
        let icmp_buf = message(Unreachable::Port, 0, &not_v4);
        let icmp = Icmpv4Packet::new_checked(&icmp_buf[..]).unwrap();
        assert_eq!(icmp.quoted().unwrap_err(), WireError::BadIcmpQuote);
        // An IHL of 6 needs 4 more bytes before the TCP header's 8.
        let mut long_header = sent[..28].to_vec();
        long_header[0] = 0x46;
        let icmp_buf = message(Unreachable::Port, 0, &long_header);
        let icmp = Icmpv4Packet::new_checked(&icmp_buf[..]).unwrap();
        assert_eq!(icmp.quoted().unwrap_err(), WireError::BadIcmpQuote);
        for at in 0..buf.len() {
            let mut corrupt = buf.clone();
            corrupt[at] ^= 0x01;
            let icmp = Icmpv4Packet::new_checked(&corrupt[..]).unwrap();
            assert!(!icmp.verify_checksum(), "byte {at}");
        }
    }

    #[test]
    fn only_destination_unreachable_quoting_tcp_is_read() {
        let sent = sent_datagram();
        let mut echo = message(Unreachable::Net, 0, &sent[..28]);
        echo[0] = 8;
        let icmp = Icmpv4Packet::new_checked(&echo[..]).unwrap();
        assert_eq!(icmp.unreachable(), None);
        let mut udp = sent[..28].to_vec();
        udp[9] = 17;
        let buf = message(Unreachable::Port, 0, &udp);
        let icmp = Icmpv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(icmp.quoted().unwrap().tcp(), None);
    }
}
