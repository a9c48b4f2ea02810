//! Retransmission timeout estimation (RFC 6298).

use std::time::Duration;

use crate::time::duration_nanos;

/// Clock granularity G of RFC 6298 §2, in nanoseconds: the sans-IO clock has nanosecond
/// resolution, but RTT samples are taken per flight, so 1 ms is a safe floor for the
/// variance term.
const CLOCK_GRANULARITY_NANOS: u64 = 1_000_000;

/// SRTT, RTTVAR and the current RTO of one connection, kept in integer nanoseconds: every
/// acknowledgment may take a sample and every transmission reads the RTO, so the arithmetic
/// is shifts and adds (the gains 1/8 and 1/4 of RFC 6298 are powers of two) rather than
/// `Duration`'s second-and-nanosecond pairs.
/// `srtt_nanos` before the first sample.
const NO_SAMPLE: u64 = u64::MAX;

#[derive(Clone, Debug)]
pub struct RttEstimator {
    /// Smoothed RTT; [`NO_SAMPLE`] until the first sample (a sentinel rather than an
    /// `Option`: 8 bytes less per connection; samples are capped far below it).
    srtt_nanos: u64,
    rttvar_nanos: u64,
    /// The RTO computed from the estimate (without backoff).
    base_rto_nanos: u64,
    /// The RTO with the backoff applied, clamped to the maximum: what timers are armed with.
    rto_nanos: u64,
    /// Exponent of the backoff applied after timeouts (RFC 6298 §5.5).
    backoff: u8,
    min_rto_nanos: u64,
    max_rto_nanos: u64,
}

impl RttEstimator {
    pub fn new(initial_rto: Duration, min_rto: Duration, max_rto: Duration) -> RttEstimator {
        let mut estimator = RttEstimator {
            srtt_nanos: NO_SAMPLE,
            rttvar_nanos: 0,
            base_rto_nanos: duration_nanos(initial_rto),
            rto_nanos: 0,
            backoff: 0,
            min_rto_nanos: duration_nanos(min_rto),
            max_rto_nanos: duration_nanos(max_rto),
        };
        estimator.apply_backoff();
        estimator
    }

    /// The smoothed RTT, once a sample exists.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt_nanos().map(Duration::from_nanos)
    }

    /// The RTT variation (RTTVAR of RFC 6298 §2); zero until the first sample.
    pub fn rttvar(&self) -> Duration {
        Duration::from_nanos(self.rttvar_nanos)
    }

    /// [`RttEstimator::srtt`] in nanoseconds.
    pub fn srtt_nanos(&self) -> Option<u64> {
        (self.srtt_nanos != NO_SAMPLE).then_some(self.srtt_nanos)
    }

    /// The RTO to arm the retransmission timer with, backoff included.
    pub fn rto(&self) -> Duration {
        Duration::from_nanos(self.rto_nanos)
    }

    /// [`RttEstimator::rto`] in nanoseconds.
    pub fn rto_nanos(&self) -> u64 {
        self.rto_nanos
    }

    /// The RTO times `2^extra_backoff` (the persist timer backs off on top of the
    /// estimate), clamped to the maximum, in nanoseconds.
    pub fn backed_off_rto_nanos(&self, extra_backoff: u8) -> u64 {
        if extra_backoff == 0 {
            return self.rto_nanos;
        }
        self.rto_nanos
            .saturating_mul(1 << extra_backoff.min(16))
            .min(self.max_rto_nanos)
    }

    fn apply_backoff(&mut self) {
        let factor = 1u64 << self.backoff.min(16);
        self.rto_nanos = self
            .base_rto_nanos
            .saturating_mul(factor)
            .min(self.max_rto_nanos);
    }

    /// Takes one RTT measurement (RFC 6298 §2.2 and §2.3) and clears the backoff.
    pub fn sample(&mut self, rtt: Duration) {
        self.sample_nanos(duration_nanos(rtt));
    }

    /// [`RttEstimator::sample`] with the measurement in nanoseconds.
    pub fn sample_nanos(&mut self, rtt: u64) {
        // Headroom for `* 7` below; 2^60 ns is 36 years.
        let rtt = rtt.min(u64::MAX >> 4);
        let srtt = match self.srtt_nanos() {
            None => {
                self.rttvar_nanos = rtt / 2;
                rtt
            }
            Some(srtt) => {
                // RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|, beta = 1/4
                let delta = srtt.abs_diff(rtt);
                self.rttvar_nanos = (self.rttvar_nanos * 3 + delta) / 4;
                // SRTT <- (1 - alpha) * SRTT + alpha * R', alpha = 1/8
                (srtt * 7 + rtt) / 8
            }
        };
        self.srtt_nanos = srtt;
        let rto = srtt + CLOCK_GRANULARITY_NANOS.max(self.rttvar_nanos * 4);
        self.base_rto_nanos = rto.clamp(self.min_rto_nanos, self.max_rto_nanos);
        self.backoff = 0;
        self.rto_nanos = self.base_rto_nanos;
    }

    /// Doubles the RTO after a timeout (RFC 6298 §5.5), up to the maximum.
    pub fn back_off(&mut self) {
        if self.rto_nanos < self.max_rto_nanos {
            self.backoff = self.backoff.saturating_add(1);
            self.apply_backoff();
        }
    }

    /// RFC 6298 §5.7: when the SYN was retransmitted and no sample was taken, data transfer
    /// starts with an RTO of 3 s (here: three times the initial RTO).
    pub fn reset_after_syn_timeout(&mut self, initial_rto: Duration) {
        if self.srtt_nanos().is_none() {
            self.base_rto_nanos = duration_nanos(initial_rto)
                .saturating_mul(3)
                .clamp(self.min_rto_nanos, self.max_rto_nanos);
        }
        self.backoff = 0;
        self.apply_backoff();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est() -> RttEstimator {
        RttEstimator::new(
            Duration::from_secs(1),
            Duration::from_millis(200),
            Duration::from_secs(60),
        )
    }

    #[test]
    fn initial_rto_then_first_sample() {
        let mut e = est();
        assert_eq!(e.rto(), Duration::from_secs(1));
        e.sample(Duration::from_millis(100));
        // SRTT = 100 ms, RTTVAR = 50 ms, RTO = 100 + 4 * 50 = 300 ms.
        assert_eq!(e.srtt(), Some(Duration::from_millis(100)));
        assert_eq!(e.rto(), Duration::from_millis(300));
    }

    #[test]
    fn second_sample_smooths() {
        let mut e = est();
        e.sample(Duration::from_millis(100));
        e.sample(Duration::from_millis(200));
        // RTTVAR = 3/4 * 50 + 1/4 * 100 = 62.5; SRTT = 7/8 * 100 + 1/8 * 200 = 112.5
        assert_eq!(e.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(e.rto(), Duration::from_micros(112_500 + 250_000));
    }

    #[test]
    fn min_and_backoff_and_max() {
        let mut e = est();
        e.sample(Duration::from_micros(20));
        assert_eq!(e.rto(), Duration::from_millis(200));
        e.back_off();
        assert_eq!(e.rto(), Duration::from_millis(400));
        for _ in 0..20 {
            e.back_off();
        }
        assert_eq!(e.rto(), Duration::from_secs(60));
        e.sample(Duration::from_micros(20));
        assert_eq!(e.rto(), Duration::from_millis(200));
    }

    #[test]
    fn extreme_samples_stay_within_min_and_max() {
        let mut e = est();
        e.sample_nanos(u64::MAX);
        assert_eq!(e.rto(), Duration::from_secs(60));
        e.sample_nanos(0);
        assert!(e.rto() <= Duration::from_secs(60));
        // SRTT decays by 7/8 per sample: from 2^60 ns, 400 samples reach zero.
        for _ in 0..400 {
            e.sample_nanos(0);
        }
        assert_eq!(e.rto(), Duration::from_millis(200));
        assert_eq!(e.rto_nanos(), 200_000_000);
    }

    #[test]
    fn syn_timeout_rule() {
        let mut e = est();
        e.back_off();
        e.reset_after_syn_timeout(Duration::from_secs(1));
        assert_eq!(e.rto(), Duration::from_secs(3));
    }
}
