//! ARP for IPv4 over Ethernet (RFC 826).

use super::{MacAddr, WireError};
use std::net::Ipv4Addr;

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;

mod field {
    use std::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// The ARP operation.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ArpOperation {
    Request,
    Reply,
    Other(u16),
}

impl From<u16> for ArpOperation {
    fn from(v: u16) -> ArpOperation {
        match v {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            other => ArpOperation::Other(other),
        }
    }
}

impl From<ArpOperation> for u16 {
    fn from(v: ArpOperation) -> u16 {
        match v {
            ArpOperation::Request => 1,
            ArpOperation::Reply => 2,
            ArpOperation::Other(other) => other,
        }
    }
}

/// A view of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Wraps `buffer` after checking its length and that it is Ethernet/IPv4 ARP.
    pub fn new_checked(buffer: T) -> Result<ArpPacket<T>, WireError> {
        let b = buffer.as_ref();
        if b.len() < PACKET_LEN {
            return Err(WireError::Truncated);
        }
        if b[field::HTYPE] != [0, 1]
            || b[field::PTYPE] != [8, 0]
            || b[field::HLEN] != 6
            || b[field::PLEN] != 4
        {
            return Err(WireError::UnsupportedArp);
        }
        Ok(ArpPacket { buffer })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn operation(&self) -> ArpOperation {
        let b = &self.bytes()[field::OPER];
        ArpOperation::from(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn sender_mac(&self) -> MacAddr {
        let mut m = [0; 6];
        m.copy_from_slice(&self.bytes()[field::SHA]);
        MacAddr(m)
    }

    pub fn sender_ip(&self) -> Ipv4Addr {
        let b = &self.bytes()[field::SPA];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    pub fn target_mac(&self) -> MacAddr {
        let mut m = [0; 6];
        m.copy_from_slice(&self.bytes()[field::THA]);
        MacAddr(m)
    }

    pub fn target_ip(&self) -> Ipv4Addr {
        let b = &self.bytes()[field::TPA];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }
}

/// An ARP packet to emit.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ArpRepr {
    pub operation: ArpOperation,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}

impl ArpRepr {
    /// Parses a checked packet into a value.
    pub fn parse<T: AsRef<[u8]>>(packet: &ArpPacket<T>) -> ArpRepr {
        ArpRepr {
            operation: packet.operation(),
            sender_mac: packet.sender_mac(),
            sender_ip: packet.sender_ip(),
            target_mac: packet.target_mac(),
            target_ip: packet.target_ip(),
        }
    }

    /// Writes the packet into the first [`PACKET_LEN`] bytes of `buf`.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[field::HTYPE].copy_from_slice(&[0, 1]);
        buf[field::PTYPE].copy_from_slice(&[8, 0]);
        buf[field::HLEN] = 6;
        buf[field::PLEN] = 4;
        buf[field::OPER].copy_from_slice(&u16::from(self.operation).to_be_bytes());
        buf[field::SHA].copy_from_slice(&self.sender_mac.0);
        buf[field::SPA].copy_from_slice(&self.sender_ip.octets());
        buf[field::THA].copy_from_slice(&self.target_mac.0);
        buf[field::TPA].copy_from_slice(&self.target_ip.octets());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let repr = ArpRepr {
            operation: ArpOperation::Request,
            sender_mac: MacAddr([2, 0, 0, 0, 0, 1]),
            sender_ip: Ipv4Addr::new(10, 0, 0, 1),
            target_mac: MacAddr::ZERO,
            target_ip: Ipv4Addr::new(10, 0, 0, 2),
        };
        let mut buf = [0u8; PACKET_LEN];
        repr.emit(&mut buf);
        let packet = ArpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(ArpRepr::parse(&packet), repr);
    }

    #[test]
    fn rejects_short_and_foreign() {
        assert_eq!(
            ArpPacket::new_checked(&[0u8; 27][..]).unwrap_err(),
            WireError::Truncated
        );
        let mut buf = [0u8; PACKET_LEN];
        buf[1] = 6; // IEEE 802 hardware type
        assert_eq!(
            ArpPacket::new_checked(&buf[..]).unwrap_err(),
            WireError::UnsupportedArp
        );
    }
}
