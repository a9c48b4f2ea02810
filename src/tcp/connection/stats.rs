//! Counters of one connection.

/// Counters of one connection.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ConnStats {
    pub segments_in: u64,
    pub segments_out: u64,
    /// Payload bytes received in order (each byte once).
    pub bytes_in: u64,
    /// Payload bytes sent, retransmissions included.
    pub bytes_out: u64,
    /// Payload bytes the peer acknowledged (each byte once; as Linux's `tcpi_bytes_acked`).
    pub bytes_acked: u64,
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
    /// ACKs withheld by a rate limit: answers to unacceptable zero-length segments, and
    /// challenge ACKs beyond the connection's or the stack's budget (RFC 5961 §7).
    pub acks_rate_limited: u64,
    pub window_probes: u64,
    /// Segments dropped by PAWS: a timestamp older than TS.Recent (RFC 7323 §5.3).
    pub paws_rejected: u64,
    /// Segments dropped for lacking timestamps after both ends agreed on them (§3.2).
    pub missing_timestamps: u64,
    /// D-SACK blocks sent: duplicates reported to the peer (RFC 2883).
    pub dsacks_sent: u64,
}

impl ConnStats {
    /// Adds every counter of `other` to this one (a stack's totals over its connections).
    pub fn accumulate(&mut self, other: &ConnStats) {
        let ConnStats {
            segments_in,
            segments_out,
            bytes_in,
            bytes_out,
            bytes_acked,
            retransmitted_segments,
            retransmitted_bytes,
            loss_probes,
            timeouts,
            fast_retransmits,
            duplicate_acks_in,
            out_of_order_segments_in,
            challenge_acks,
            acks_rate_limited,
            window_probes,
            paws_rejected,
            missing_timestamps,
            dsacks_sent,
        } = other;
        self.segments_in += segments_in;
        self.segments_out += segments_out;
        self.bytes_in += bytes_in;
        self.bytes_out += bytes_out;
        self.bytes_acked += bytes_acked;
        self.retransmitted_segments += retransmitted_segments;
        self.retransmitted_bytes += retransmitted_bytes;
        self.loss_probes += loss_probes;
        self.timeouts += timeouts;
        self.fast_retransmits += fast_retransmits;
        self.duplicate_acks_in += duplicate_acks_in;
        self.out_of_order_segments_in += out_of_order_segments_in;
        self.challenge_acks += challenge_acks;
        self.acks_rate_limited += acks_rate_limited;
        self.window_probes += window_probes;
        self.paws_rejected += paws_rejected;
        self.missing_timestamps += missing_timestamps;
        self.dsacks_sent += dsacks_sent;
    }
}

#[cfg(test)]
mod tests {
    use super::ConnStats;

    #[test]
    fn accumulating_adds_every_counter() {
        let one = ConnStats {
            bytes_acked: 5,
            timeouts: 1,
            challenge_acks: 2,
            dsacks_sent: 3,
            ..ConnStats::default()
        };
        let mut total = one;
        total.accumulate(&one);
        assert_eq!(total.bytes_acked, 10);
        assert_eq!(total.timeouts, 2);
        assert_eq!(total.challenge_acks, 4);
        assert_eq!(total.dsacks_sent, 6);
        assert_eq!(total.segments_in, 0);
    }
}
