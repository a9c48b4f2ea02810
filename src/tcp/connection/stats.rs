//! Counters of one connection.
//!
//! A connection keeps five counters inline, those every segment moves (segments and bytes
//! each way, bytes acknowledged). The other thirteen count events of loss, reordering and
//! odd or hostile peers (retransmissions, timeouts, duplicate ACKs, challenge ACKs, PAWS
//! drops, ...): zero for most connections all their life, so they live in a box allocated
//! at the first such event ([`Counters::events`]). An idle connection that never saw one so
//! carries 48 bytes of counters instead of 144; one that did carries the same 144 plus the
//! pointer, the box counted in `Connection::control_heap_bytes`. Every counter stays a u64:
//! none can wrap in a connection's life, so `ss` and the stack's totals stay exact.

use std::ops::Deref;

/// Counters of one connection, as reported (see [`Counters`] for how they are kept).
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

/// The counters a connection keeps: the per-segment ones inline, the event ones (see the
/// module comment) boxed on first use.
#[derive(Clone, Debug, Default)]
pub(super) struct Counters {
    pub segments_in: u64,
    pub segments_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub bytes_acked: u64,
    events: Option<Box<EventCounters>>,
}

/// The counters of [`ConnStats`] that count rare events; their meaning is there.
#[derive(Clone, Debug, Default)]
pub(super) struct EventCounters {
    pub retransmitted_segments: u64,
    pub retransmitted_bytes: u64,
    pub loss_probes: u64,
    pub timeouts: u64,
    pub fast_retransmits: u64,
    pub duplicate_acks_in: u64,
    pub out_of_order_segments_in: u64,
    pub challenge_acks: u64,
    pub acks_rate_limited: u64,
    pub window_probes: u64,
    pub paws_rejected: u64,
    pub missing_timestamps: u64,
    pub dsacks_sent: u64,
}

impl Counters {
    /// The event counters, allocated (zero) the first time one is counted.
    #[inline]
    pub fn events(&mut self) -> &mut EventCounters {
        self.events.get_or_insert_with(Box::default)
    }

    /// Bytes of heap the event counters hold: none until the first event.
    pub fn heap_bytes(&self) -> usize {
        self.events
            .as_ref()
            .map_or(0, |_| std::mem::size_of::<EventCounters>())
    }

    /// Every counter, as reported.
    pub fn snapshot(&self) -> ConnStats {
        let e = self.events.as_deref().cloned().unwrap_or_default();
        ConnStats {
            segments_in: self.segments_in,
            segments_out: self.segments_out,
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            bytes_acked: self.bytes_acked,
            retransmitted_segments: e.retransmitted_segments,
            retransmitted_bytes: e.retransmitted_bytes,
            loss_probes: e.loss_probes,
            timeouts: e.timeouts,
            fast_retransmits: e.fast_retransmits,
            duplicate_acks_in: e.duplicate_acks_in,
            out_of_order_segments_in: e.out_of_order_segments_in,
            challenge_acks: e.challenge_acks,
            acks_rate_limited: e.acks_rate_limited,
            window_probes: e.window_probes,
            paws_rejected: e.paws_rejected,
            missing_timestamps: e.missing_timestamps,
            dsacks_sent: e.dsacks_sent,
        }
    }
}

/// A connection's counters, assembled when asked ([`crate::tcp::Connection::stats`]); reads
/// as a [`ConnStats`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ConnStatsSnapshot(pub ConnStats);

impl Deref for ConnStatsSnapshot {
    type Target = ConnStats;

    fn deref(&self) -> &ConnStats {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::{ConnStats, Counters, EventCounters};

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

    #[test]
    fn event_counters_are_boxed_at_the_first_event_and_reported_whole() {
        let mut counters = Counters {
            bytes_in: 7,
            ..Counters::default()
        };
        assert_eq!(counters.heap_bytes(), 0);
        assert_eq!(counters.snapshot().timeouts, 0);
        counters.events().timeouts += 1;
        counters.events().dsacks_sent += 2;
        assert_eq!(counters.heap_bytes(), std::mem::size_of::<EventCounters>());
        let stats = counters.snapshot();
        assert_eq!(
            (stats.bytes_in, stats.timeouts, stats.dsacks_sent),
            (7, 1, 2)
        );
    }
}
