//! IPv4 headers (RFC 791). Options (IHL > 5) are parsed past and ignored.

use super::checksum::{checksum, Checksum};
use super::WireError;
use std::net::Ipv4Addr;

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = 20;
/// IP protocol number of ICMP (RFC 792).
pub const PROTOCOL_ICMP: u8 = 1;
/// IP protocol number of TCP.
pub const PROTOCOL_TCP: u8 = 6;

mod field {
    use std::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const TOTAL_LEN: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLAGS_FRAG: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
}

const FLAG_DONT_FRAGMENT: u16 = 0x4000;
const FLAG_MORE_FRAGMENTS: u16 = 0x2000;
const FRAGMENT_OFFSET_MASK: u16 = 0x1fff;

/// A view of an IPv4 packet whose lengths have been checked against the buffer.
///
/// The buffer may be longer than the packet (Ethernet pads short frames); [`Ipv4Packet::payload`]
/// stops at the total length.
#[derive(Debug, Clone)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Checks version, header length and total length against the buffer. Does not verify the
    /// header checksum (see [`Ipv4Packet::verify_checksum`]) nor reject fragments.
    pub fn new_checked(buffer: T) -> Result<Ipv4Packet<T>, WireError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if b[field::VER_IHL] >> 4 != 4 {
            return Err(WireError::BadIpVersion);
        }
        let header_len = usize::from(b[field::VER_IHL] & 0x0f) * 4;
        if header_len < HEADER_LEN || header_len > b.len() {
            return Err(WireError::BadIpHeaderLength);
        }
        let total_len = usize::from(u16::from_be_bytes([b[2], b[3]]));
        if total_len < header_len || total_len > b.len() {
            return Err(WireError::BadIpTotalLength);
        }
        Ok(Ipv4Packet { buffer })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn be16(&self, r: std::ops::Range<usize>) -> u16 {
        let b = &self.bytes()[r];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Header length in bytes, options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.bytes()[field::VER_IHL] & 0x0f) * 4
    }

    pub fn dscp_ecn(&self) -> u8 {
        self.bytes()[field::DSCP_ECN]
    }

    pub fn total_len(&self) -> usize {
        usize::from(self.be16(field::TOTAL_LEN))
    }

    pub fn ident(&self) -> u16 {
        self.be16(field::IDENT)
    }

    pub fn dont_fragment(&self) -> bool {
        self.be16(field::FLAGS_FRAG) & FLAG_DONT_FRAGMENT != 0
    }

    /// True if this packet is a fragment (more-fragments set or a non-zero offset).
    pub fn is_fragment(&self) -> bool {
        let v = self.be16(field::FLAGS_FRAG);
        v & FLAG_MORE_FRAGMENTS != 0 || v & FRAGMENT_OFFSET_MASK != 0
    }

    pub fn ttl(&self) -> u8 {
        self.bytes()[field::TTL]
    }

    pub fn protocol(&self) -> u8 {
        self.bytes()[field::PROTOCOL]
    }

    pub fn header_checksum(&self) -> u16 {
        self.be16(field::CHECKSUM)
    }

    pub fn src(&self) -> Ipv4Addr {
        let b = &self.bytes()[field::SRC];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    pub fn dst(&self) -> Ipv4Addr {
        let b = &self.bytes()[field::DST];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// True when the header checksum is correct.
    pub fn verify_checksum(&self) -> bool {
        Checksum::new()
            .add_bytes(&self.bytes()[..self.header_len()])
            .is_valid()
    }

    /// The bytes after the header, up to the total length.
    pub fn payload(&self) -> &[u8] {
        &self.bytes()[self.header_len()..self.total_len()]
    }
}

/// An IPv4 header to emit: no options, Don't Fragment set (TCP does its own sizing).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Ipv4Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub payload_len: u16,
    pub ttl: u8,
    pub ident: u16,
}

impl Ipv4Repr {
    /// Writes a 20-byte header with its checksum into the start of `buf`.
    pub fn emit(&self, buf: &mut [u8]) {
        let total = self.payload_len.saturating_add(HEADER_LEN as u16);
        buf[field::VER_IHL] = 0x45;
        buf[field::DSCP_ECN] = 0;
        buf[field::TOTAL_LEN].copy_from_slice(&total.to_be_bytes());
        buf[field::IDENT].copy_from_slice(&self.ident.to_be_bytes());
        buf[field::FLAGS_FRAG].copy_from_slice(&FLAG_DONT_FRAGMENT.to_be_bytes());
        buf[field::TTL] = self.ttl;
        buf[field::PROTOCOL] = self.protocol;
        buf[field::CHECKSUM].copy_from_slice(&[0, 0]);
        buf[field::SRC].copy_from_slice(&self.src.octets());
        buf[field::DST].copy_from_slice(&self.dst.octets());
        let sum = checksum(&buf[..HEADER_LEN]);
        buf[field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let repr = Ipv4Repr {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            protocol: PROTOCOL_TCP,
            payload_len: 4,
            ttl: 64,
            ident: 7,
        };
        let mut buf = vec![0u8; 24];
        repr.emit(&mut buf);
        buf[20..].copy_from_slice(b"abcd");
        buf
    }

    #[test]
    fn round_trip() {
        let buf = sample();
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(p.src(), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(p.dst(), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(p.protocol(), PROTOCOL_TCP);
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.ident(), 7);
        assert!(p.dont_fragment());
        assert!(!p.is_fragment());
        assert_eq!(p.payload(), b"abcd");
    }

    #[test]
    fn padding_after_total_length_is_ignored() {
        let mut buf = sample();
        buf.extend_from_slice(&[0u8; 10]);
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.payload(), b"abcd");
    }

    #[test]
    fn options_are_skipped() {
        // IHL 6: one 4-byte option word (four NOPs).
        let mut buf = sample();
        buf.splice(20..20, [1u8, 1, 1, 1]);
        buf[0] = 0x46;
        buf[2..4].copy_from_slice(&28u16.to_be_bytes());
        buf[10..12].copy_from_slice(&[0, 0]);
        let sum = checksum(&buf[..24]);
        buf[10..12].copy_from_slice(&sum.to_be_bytes());
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.payload(), b"abcd");
    }

    #[test]
    fn every_length_field_is_checked() {
        let good = sample();
        assert_eq!(
            Ipv4Packet::new_checked(&good[..19]).unwrap_err(),
            WireError::Truncated
        );

        let mut b = good.clone();
        b[0] = 0x65;
        assert_eq!(
            Ipv4Packet::new_checked(&b[..]).unwrap_err(),
            WireError::BadIpVersion
        );

        for ihl in [0u8, 4, 15] {
            let mut b = good.clone();
            b[0] = 0x40 | ihl;
            assert_eq!(
                Ipv4Packet::new_checked(&b[..]).unwrap_err(),
                WireError::BadIpHeaderLength,
                "ihl {ihl}"
            );
        }
        for total in [0u16, 19, 25, 0xffff] {
            let mut b = good.clone();
            b[2..4].copy_from_slice(&total.to_be_bytes());
            assert_eq!(
                Ipv4Packet::new_checked(&b[..]).unwrap_err(),
                WireError::BadIpTotalLength,
                "total {total}"
            );
        }
    }

    #[test]
    fn checksum_catches_corruption_and_fragments_are_flagged() {
        let mut b = sample();
        b[8] ^= 0x10;
        assert!(!Ipv4Packet::new_checked(&b[..]).unwrap().verify_checksum());
        let mut b = sample();
        b[6] = 0x20; // more fragments
        assert!(Ipv4Packet::new_checked(&b[..]).unwrap().is_fragment());
        let mut b = sample();
        b[6] = 0x40;
        b[7] = 0x01; // DF and offset 1
        assert!(Ipv4Packet::new_checked(&b[..]).unwrap().is_fragment());
    }
}
