//! Retransmission timeout estimation (RFC 6298).

use std::time::Duration;

/// Clock granularity G of RFC 6298 §2: the sans-IO clock has nanosecond resolution, but RTT
/// samples are taken per flight, so 1 ms is a safe floor for the variance term.
const CLOCK_GRANULARITY: Duration = Duration::from_millis(1);

/// SRTT, RTTVAR and the current RTO of one connection.
#[derive(Clone, Debug)]
pub struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    /// The RTO computed from the estimate (without backoff).
    base_rto: Duration,
    /// Exponent of the backoff applied after timeouts (RFC 6298 §5.5).
    backoff: u8,
    min_rto: Duration,
    max_rto: Duration,
}

impl RttEstimator {
    pub fn new(initial_rto: Duration, min_rto: Duration, max_rto: Duration) -> RttEstimator {
        RttEstimator {
            srtt: None,
            rttvar: Duration::ZERO,
            base_rto: initial_rto,
            backoff: 0,
            min_rto,
            max_rto,
        }
    }

    /// The smoothed RTT, once a sample exists.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// The RTO to arm the retransmission timer with, backoff included.
    pub fn rto(&self) -> Duration {
        let factor = 1u32 << self.backoff.min(16);
        self.base_rto.saturating_mul(factor).min(self.max_rto)
    }

    /// Takes one RTT measurement (RFC 6298 §2.2 and §2.3) and clears the backoff.
    pub fn sample(&mut self, rtt: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                // RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|, beta = 1/4
                let delta = srtt.abs_diff(rtt);
                self.rttvar = (self.rttvar * 3 + delta) / 4;
                // SRTT <- (1 - alpha) * SRTT + alpha * R', alpha = 1/8
                self.srtt = Some((srtt * 7 + rtt) / 8);
            }
        }
        let srtt = self.srtt.unwrap_or(rtt);
        let rto = srtt + CLOCK_GRANULARITY.max(self.rttvar * 4);
        self.base_rto = rto.clamp(self.min_rto, self.max_rto);
        self.backoff = 0;
    }

    /// Doubles the RTO after a timeout (RFC 6298 §5.5), up to the maximum.
    pub fn back_off(&mut self) {
        if self.rto() < self.max_rto {
            self.backoff = self.backoff.saturating_add(1);
        }
    }

    /// RFC 6298 §5.7: when the SYN was retransmitted and no sample was taken, data transfer
    /// starts with an RTO of 3 s (here: three times the initial RTO).
    pub fn reset_after_syn_timeout(&mut self, initial_rto: Duration) {
        if self.srtt.is_none() {
            self.base_rto = (initial_rto * 3).clamp(self.min_rto, self.max_rto);
        }
        self.backoff = 0;
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
    fn syn_timeout_rule() {
        let mut e = est();
        e.back_off();
        e.reset_after_syn_timeout(Duration::from_secs(1));
        assert_eq!(e.rto(), Duration::from_secs(3));
    }
}
