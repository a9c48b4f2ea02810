//! Zero-copy views over frames and small value types to emit them.
//!
//! Each protocol has a view type, `XPacket<T: AsRef<[u8]>>`, built with `new_checked`, which
//! validates every length field against the buffer once; after that, accessors cannot panic.
//! Emitting goes through a `XRepr` value that writes a header into a caller's buffer, so a
//! frame is built in place (for AF_XDP: directly in UMEM).

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod frame;
pub mod icmp;
pub mod ipv4;
pub mod seq;
pub mod tcp;

pub use arp::{ArpOperation, ArpPacket, ArpRepr};
pub use checksum::Checksum;
pub use ethernet::{EtherType, EthernetFrame, EthernetRepr, MacAddr};
pub use frame::{FrameError, IpHeader, TcpChecksum, TcpFrame};
pub use icmp::{Icmpv4Packet, QuotedDatagram, QuotedTcp, Unreachable, UnreachableRepr};
pub use ipv4::{Ipv4Packet, Ipv4Repr};
pub use seq::SeqNum;
pub use tcp::{SackBlocks, TcpFlags, TcpOptions, TcpPacket, TcpRepr};

/// Why a frame could not be parsed. Each variant is a malformed-input class the stack counts.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum WireError {
    #[error("frame shorter than its header")]
    Truncated,
    #[error("IP version is not 4")]
    BadIpVersion,
    #[error("IPv4 header length below 20 bytes or beyond the packet")]
    BadIpHeaderLength,
    #[error("IPv4 total length inconsistent with the frame")]
    BadIpTotalLength,
    #[error("IPv4 header checksum mismatch")]
    BadIpChecksum,
    #[error("IPv4 fragment (not reassembled)")]
    IpFragment,
    #[error("TCP data offset below 20 bytes or beyond the segment")]
    BadTcpHeaderLength,
    #[error("TCP checksum mismatch")]
    BadTcpChecksum,
    #[error("TCP option with a length of 0 or 1, or running past the header")]
    BadTcpOption,
    #[error("ARP packet is not Ethernet/IPv4")]
    UnsupportedArp,
    #[error("ICMP message shorter than its 8-byte header")]
    TruncatedIcmp,
    #[error("ICMP checksum mismatch")]
    BadIcmpChecksum,
    #[error("ICMP error quoting less than an IPv4 header and 8 bytes of its payload")]
    BadIcmpQuote,
}
