//! Retransmission: the RTT measurement that sets the RTO (RFC 6298, with Karn's rule), the
//! retransmission timeout with go-back-N, and the limits after which a connection gives up
//! (RFC 1122 §4.2.3.5, and a user timeout as Linux's `TCP_USER_TIMEOUT`).

use super::Connection;
use crate::tcp::congestion::CongestionControl;
use crate::tcp::rtt::RttEstimator;
use crate::tcp::timer::Timer;
use crate::time::Instant;
use crate::wire::SeqNum;

/// The segment being timed: the sequence number that acknowledges it and when it was sent.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) struct RttProbe {
    pub end: SeqNum,
    pub sent: Instant,
}

/// Retransmission state of one connection.
#[derive(Debug)]
pub(super) struct Retransmission {
    pub rtt: RttEstimator,
    /// Karn's rule: cleared whenever anything it covers is retransmitted (RFC 6298 §3).
    pub probe: Option<RttProbe>,
    /// Data was retransmitted since the last RTT sample: until the next one, an echoed
    /// timestamp is the only unambiguous measure (RFC 7323 §4.1 and appendix G).
    pub retransmitted_unsampled: bool,
    /// Retransmission timeouts since the peer last acknowledged anything.
    pub retries: u8,
    /// The SYN (or SYN,ACK) was retransmitted after a timeout (RFC 6298 §5.7).
    pub syn_retransmitted: bool,
    /// The last time the peer acknowledged new data, or data started to be outstanding
    /// after none was: where a user timeout is counted from.
    pub last_progress: Instant,
}

impl Retransmission {
    pub fn new(rtt: RttEstimator) -> Retransmission {
        Retransmission {
            rtt,
            probe: None,
            retransmitted_unsampled: false,
            retries: 0,
            syn_retransmitted: false,
            last_progress: Instant::ZERO,
        }
    }

    /// Starts timing the segment ending at `end`, sent at `now`, unless one is being timed.
    pub fn time_segment(&mut self, end: SeqNum, now: Instant) {
        if self.probe.is_none() {
            self.probe = Some(RttProbe { end, sent: now });
        }
    }

    /// Karn's rule: a retransmission starting at `seq` spoils the sample of any probe it
    /// repeats.
    pub fn forget_probe_from(&mut self, seq: SeqNum) {
        self.retransmitted_unsampled = true;
        if self.probe.is_some_and(|p| seq < p.end) {
            self.probe = None;
        }
    }

    /// The RTT sample an ACK of `ack` at `now` gives, in nanoseconds, fed to the estimator.
    pub fn take_sample(&mut self, now: Instant, ack: SeqNum) -> Option<u64> {
        let probe = self.probe.filter(|p| ack >= p.end)?;
        self.probe = None;
        let sample = now.nanos_since(probe.sent);
        self.take_sample_nanos(sample);
        Some(sample)
    }

    /// Feeds a measured RTT to the estimator.
    pub fn take_sample_nanos(&mut self, sample: u64) {
        self.rtt.sample_nanos(sample);
        self.retransmitted_unsampled = false;
    }
}

impl Connection {
    /// When the retransmission or persist timer armed at `now` fires: one RTO later (RFC
    /// 6298 §5), times `2^backoff` for persist, never after the user timeout runs out.
    pub(super) fn retransmit_deadline(&self, now: Instant, backoff: u8) -> Instant {
        let at = now.saturating_add_nanos(self.rtx.rtt.backed_off_rto_nanos(backoff));
        match self.user_deadline() {
            Some(limit) => at.min(limit.max(now)),
            None => at,
        }
    }

    /// The time the user timeout runs out, if one is configured.
    fn user_deadline(&self) -> Option<Instant> {
        let timeout = self.config.user_timeout?;
        Some(
            self.rtx
                .last_progress
                .saturating_add_nanos(crate::time::duration_nanos(timeout)),
        )
    }

    /// True when the connection has waited for progress longer than it may: the user
    /// timeout when one is set (it then replaces the retry counts, as in Linux), else
    /// `retries` beyond `limit`.
    pub(super) fn gives_up(&self, now: Instant, retries: u8, limit: u8) -> bool {
        match self.user_deadline() {
            Some(deadline) => now >= deadline,
            None => retries > limit,
        }
    }

    /// RFC 6298 §5.4–5.7 with go-back-N: back off, shrink the window to one segment and send
    /// again from SND.UNA; past the retry limit (RFC 1122 §4.2.3.5: R2) the connection ends.
    pub(super) fn on_retransmit_timeout(&mut self, now: Instant) {
        if !self.snd.has_outstanding() {
            return;
        }
        self.rtx.retries = self.rtx.retries.saturating_add(1);
        self.stats.events().timeouts += 1;
        let limit = match (self.snd.syn_acked, self.passive) {
            (true, _) => self.config.data_retries,
            (false, false) => self.config.syn_retries,
            (false, true) => self.config.synack_retries,
        };
        if self.gives_up(now, self.rtx.retries, limit) {
            self.enter_closed(Some(self.timed_out_error()));
            return;
        }
        self.rtx.rtt.back_off();
        self.rtx.probe = None;
        if !self.snd.syn_acked {
            self.rtx.syn_retransmitted = true;
        }
        let flight = self.snd.flight_size();
        let smss = u32::from(self.snd.mss);
        self.cc.on_retransmission_timeout(now, flight, smss);
        if self.negotiated.sack && self.snd.syn_acked {
            // The scoreboard resends what is missing; SND.NXT stays. It holds data only: an
            // unacknowledged SYN (a passive open negotiates SACK before its SYN,ACK is
            // acknowledged) goes again from SND.UNA below, as RFC 6298 §5.4 asks.
            self.sack_on_retransmission_timeout();
        } else {
            self.recovery.on_retransmission_timeout(self.snd.max);
            self.snd.nxt = self.snd.una;
        }
        self.pending.remove(super::pending::Owed::RetransmitHead);
        self.timers
            .set(Timer::Retransmit, self.retransmit_deadline(now, 0));
    }

    /// Our SYN was acknowledged. RFC 6298 §5.7: when the SYN was retransmitted and no
    /// sample was taken, data transfer starts with an RTO of three times the initial one.
    pub(super) fn on_syn_acknowledged(&mut self) {
        self.snd.syn_acked = true;
        if self.rtx.syn_retransmitted {
            self.rtx
                .rtt
                .reset_after_syn_timeout(self.config.initial_rto);
        }
    }
}
