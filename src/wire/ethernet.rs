//! Ethernet II frames (no FCS: NICs and AF_XDP hand frames over without it).

use super::WireError;
use std::fmt;

/// A 48-bit MAC address.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    /// 00:00:00:00:00:00.
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// True for group (multicast or broadcast) addresses.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 != 0
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::str::FromStr for MacAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<MacAddr, String> {
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut out {
            let part = parts
                .next()
                .ok_or_else(|| format!("bad MAC address {s:?}"))?;
            *byte = u8::from_str_radix(part, 16).map_err(|_| format!("bad MAC address {s:?}"))?;
        }
        if parts.next().is_some() {
            return Err(format!("bad MAC address {s:?}"));
        }
        Ok(MacAddr(out))
    }
}

/// EtherType values this stack understands.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EtherType {
    Ipv4,
    Arp,
    Other(u16),
}

impl From<u16> for EtherType {
    fn from(v: u16) -> EtherType {
        match v {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            other => EtherType::Other(other),
        }
    }
}

impl From<EtherType> for u16 {
    fn from(v: EtherType) -> u16 {
        match v {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Other(other) => other,
        }
    }
}

/// Byte ranges of the Ethernet II header.
mod field {
    use std::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
}

/// Length of the Ethernet II header.
pub const HEADER_LEN: usize = 14;

/// A view of an Ethernet II frame.
#[derive(Debug, Clone)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps `buffer` after checking that it holds a whole header.
    pub fn new_checked(buffer: T) -> Result<EthernetFrame<T>, WireError> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(EthernetFrame { buffer })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn dst(&self) -> MacAddr {
        let mut mac = [0; 6];
        mac.copy_from_slice(&self.bytes()[field::DST]);
        MacAddr(mac)
    }

    pub fn src(&self) -> MacAddr {
        let mut mac = [0; 6];
        mac.copy_from_slice(&self.bytes()[field::SRC]);
        MacAddr(mac)
    }

    pub fn ethertype(&self) -> EtherType {
        let b = &self.bytes()[field::ETHERTYPE];
        EtherType::from(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Everything after the header (may include Ethernet padding).
    pub fn payload(&self) -> &[u8] {
        &self.bytes()[HEADER_LEN..]
    }
}

/// An Ethernet II header to emit.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct EthernetRepr {
    pub src: MacAddr,
    pub dst: MacAddr,
    pub ethertype: EtherType,
}

impl EthernetRepr {
    /// Writes the header into the first [`HEADER_LEN`] bytes of `buf` (which must hold them).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[field::DST].copy_from_slice(&self.dst.0);
        buf[field::SRC].copy_from_slice(&self.src.0);
        buf[field::ETHERTYPE].copy_from_slice(&u16::from(self.ethertype).to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_emit_round_trip() {
        let repr = EthernetRepr {
            src: MacAddr([2, 0, 0, 0, 0, 1]),
            dst: MacAddr::BROADCAST,
            ethertype: EtherType::Arp,
        };
        let mut buf = [0u8; 20];
        repr.emit(&mut buf);
        let frame = EthernetFrame::new_checked(&buf[..]).unwrap();
        assert_eq!(frame.src(), repr.src);
        assert_eq!(frame.dst(), MacAddr::BROADCAST);
        assert_eq!(frame.ethertype(), EtherType::Arp);
        assert_eq!(frame.payload().len(), 6);
        assert!(frame.dst().is_multicast());
    }

    #[test]
    fn short_frame_is_truncated() {
        assert_eq!(
            EthernetFrame::new_checked(&[0u8; 13][..]).unwrap_err(),
            WireError::Truncated
        );
    }

    #[test]
    fn mac_parse() {
        let mac: MacAddr = "02:00:0a:ff:00:01".parse().unwrap();
        assert_eq!(mac.0, [2, 0, 0x0a, 0xff, 0, 1]);
        assert_eq!(mac.to_string(), "02:00:0a:ff:00:01");
        assert!("02:00:0a".parse::<MacAddr>().is_err());
        assert!("02:00:0a:ff:00:01:02".parse::<MacAddr>().is_err());
    }
}
