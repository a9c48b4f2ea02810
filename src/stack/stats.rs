//! The stack's counters.

use crate::tcp::PathErrorOutcome;
use crate::wire::{FrameError, WireError};

/// Counters of one stack. Every dropped frame is counted under exactly one reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct StackStats {
    pub rx_frames: u64,
    pub tx_frames: u64,
    pub rx_tcp_segments: u64,
    pub tx_tcp_segments: u64,
    pub rx_arp: u64,
    pub tx_arp: u64,
    /// ICMP messages taken in: checksum verified and, for an error, a whole quote.
    pub rx_icmp: u64,
    pub drop_truncated: u64,
    pub drop_not_for_us: u64,
    pub drop_unsupported_ethertype: u64,
    pub drop_unsupported_protocol: u64,
    pub drop_bad_ip_header: u64,
    pub drop_bad_ip_checksum: u64,
    pub drop_ip_fragment: u64,
    pub drop_bad_tcp_header: u64,
    pub drop_bad_tcp_checksum: u64,
    /// Segments accepted with an unfinished (offload pending) checksum on veth.
    pub rx_partial_checksum: u64,
    /// Segments whose data the application was shown in place, in the frame (zero copy).
    pub rx_zero_copy_segments: u64,
    pub drop_bad_tcp_option: u64,
    /// Segments from a source address no host may send from, or from our own (RFC 1122
    /// §3.2.1.3).
    pub drop_bad_source_address: u64,
    /// Segments with both SYN and FIN.
    pub drop_illegal_flags: u64,
    pub drop_bad_arp: u64,
    /// ICMP messages shorter than their header, and errors quoting less than an IPv4 header
    /// and 8 bytes of its payload (RFC 792).
    pub drop_bad_icmp: u64,
    pub drop_bad_icmp_checksum: u64,
    /// ICMP messages the stack does not act on: other types than destination unreachable,
    /// and errors about a datagram that was not TCP from our address.
    pub drop_icmp_unhandled: u64,
    /// ICMP errors quoting a 4-tuple no connection has.
    pub drop_icmp_no_connection: u64,
    /// ICMP errors quoting a sequence number that is not in flight (RFC 5927 §4.1).
    pub drop_icmp_out_of_window: u64,
    /// "Fragmentation needed" errors that would not lower the path MTU, or about a
    /// datagram that would have fitted the MTU they report (RFC 1191 §§3–4).
    pub drop_icmp_mtu_not_lower: u64,
    pub drop_listen_overflow: u64,
    /// ACKs that would have completed a handshake while the listener's accept queue was
    /// full (dropped, so the handshake completes on a retransmission; see `accept_queue`).
    pub drop_accept_queue_full: u64,
    pub drop_connection_limit: u64,
    /// SYNs (and SYN cookie ACKs) to a listener dropped because the connections held the
    /// payload buffer memory `StackConfig::buffer_memory_limit` allows.
    pub drop_buffer_memory: u64,
    pub drop_no_connection: u64,
    /// Connections in TIME-WAIT freed for a compact record (see `time_wait`).
    pub time_wait_compacted: u64,
    /// TIME-WAIT records that a new SYN ended (RFC 6191).
    pub time_wait_reopened: u64,
    /// Resets and cookie SYN,ACKs not sent because their queue was full.
    pub drop_reset_queue_full: u64,
    pub rst_sent: u64,
    /// SYN,ACKs sent with a SYN cookie instead of a half-open connection.
    pub syn_cookies_sent: u64,
    /// Handshake ACKs whose cookie was valid: connections opened from a cookie.
    pub syn_cookies_accepted: u64,
    /// ACKs to a listener whose cookie was not valid (answered with a reset).
    pub syn_cookies_rejected: u64,
    /// "Fragmentation needed" errors that lowered a connection's path MTU (RFC 1191).
    pub path_mtu_lowered: u64,
    /// Destination unreachable errors kept by a connection as soft errors (RFC 1122
    /// §4.2.3.9): never an abort of a synchronized connection.
    pub icmp_soft_errors: u64,
    /// Active opens ended by a protocol or port unreachable error in SYN-SENT.
    pub icmp_opens_aborted: u64,
    pub connections_opened: u64,
    pub connections_accepted: u64,
    pub connections_freed: u64,
}

impl StackStats {
    pub(super) fn count_malformed(&mut self, err: WireError) {
        match err {
            WireError::Truncated => self.drop_truncated += 1,
            WireError::BadIpVersion
            | WireError::BadIpHeaderLength
            | WireError::BadIpTotalLength => self.drop_bad_ip_header += 1,
            WireError::BadIpChecksum => self.drop_bad_ip_checksum += 1,
            WireError::IpFragment => self.drop_ip_fragment += 1,
            WireError::BadTcpHeaderLength => self.drop_bad_tcp_header += 1,
            WireError::BadTcpChecksum => self.drop_bad_tcp_checksum += 1,
            WireError::BadTcpOption => self.drop_bad_tcp_option += 1,
            WireError::UnsupportedArp => self.drop_bad_arp += 1,
            WireError::TruncatedIcmp | WireError::BadIcmpQuote => self.drop_bad_icmp += 1,
            WireError::BadIcmpChecksum => self.drop_bad_icmp_checksum += 1,
        }
    }

    /// Counts what a connection did with an ICMP error.
    pub(super) fn count_path_error(&mut self, outcome: PathErrorOutcome) {
        match outcome {
            PathErrorOutcome::OutOfWindow => self.drop_icmp_out_of_window += 1,
            PathErrorOutcome::MtuLowered { .. } => self.path_mtu_lowered += 1,
            PathErrorOutcome::MtuNotLower => self.drop_icmp_mtu_not_lower += 1,
            PathErrorOutcome::SoftError => self.icmp_soft_errors += 1,
            PathErrorOutcome::OpenAborted => self.icmp_opens_aborted += 1,
        }
    }

    /// Counts a frame [`crate::wire::TcpFrame::parse`] turned down.
    pub(super) fn count_rejected(&mut self, err: FrameError) {
        match err {
            FrameError::UnsupportedEtherType(_) => self.drop_unsupported_ethertype += 1,
            FrameError::UnsupportedProtocol(_) => self.drop_unsupported_protocol += 1,
            FrameError::Malformed(e) => self.count_malformed(e),
        }
    }

    /// Frames dropped as malformed (any class).
    pub fn malformed(&self) -> u64 {
        self.drop_truncated
            + self.drop_bad_ip_header
            + self.drop_bad_ip_checksum
            + self.drop_ip_fragment
            + self.drop_bad_tcp_header
            + self.drop_bad_tcp_checksum
            + self.drop_bad_tcp_option
            + self.drop_bad_arp
            + self.drop_bad_icmp
            + self.drop_bad_icmp_checksum
    }
}
