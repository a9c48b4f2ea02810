//! Counters of one connection.

/// Counters of one connection.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnStats {
    pub segments_in: u64,
    pub segments_out: u64,
    /// Payload bytes received in order (each byte once).
    pub bytes_in: u64,
    /// Payload bytes sent, retransmissions included.
    pub bytes_out: u64,
    /// Segments sent again (timeouts, fast retransmit, partial ACKs, loss probes).
    pub retransmitted_segments: u64,
    /// Payload bytes sent again.
    pub retransmitted_bytes: u64,
    /// Tail loss probes sent (RFC 8985 §7).
    pub loss_probes: u64,
    pub timeouts: u64,
    pub fast_retransmits: u64,
    pub duplicate_acks_in: u64,
    pub out_of_order_segments_in: u64,
    pub challenge_acks: u64,
    /// ACKs not sent in answer to unacceptable zero-length segments (rate limit).
    pub acks_rate_limited: u64,
    pub window_probes: u64,
    /// Segments dropped by PAWS: a timestamp older than TS.Recent (RFC 7323 §5.3).
    pub paws_rejected: u64,
    /// Segments dropped for lacking timestamps after both ends agreed on them (§3.2).
    pub missing_timestamps: u64,
    /// D-SACK blocks sent: duplicates reported to the peer (RFC 2883).
    pub dsacks_sent: u64,
}
