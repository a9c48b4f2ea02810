//! CUBIC (RFC 9438): after a congestion event the window follows a cubic function of the
//! time since, plateauing at the window where the loss happened (W_max) and probing beyond
//! it, so it regains its rate in a time independent of the RTT; a Reno-friendly estimate
//! keeps it no slower than Reno where Reno would do better (§4.3).

use super::hystart::{HyStart, SlowStartStep};
use super::{AckEvent, CongestionControl};
use crate::time::Instant;

/// C of RFC 9438 §5: the cubic function's scale, in segments per second³.
const C: f64 = 0.4;
/// β_cubic (§4.6): the window after a congestion event, as a share of the window before.
const BETA: f64 = 0.7;
/// α_cubic (§4.3): the Reno-friendly estimate's growth, in segments per window.
const ALPHA: f64 = 3.0 * (1.0 - BETA) / (1.0 + BETA);

/// CUBIC state of one connection; windows in bytes.
#[derive(Clone, Debug)]
pub struct Cubic {
    cwnd: u32,
    ssthresh: u32,
    /// W_max: the window before the last reduction.
    w_max: f64,
    /// When the current congestion-avoidance epoch began, and the window then.
    epoch: Option<(Instant, f64)>,
    hystart: HyStart,
    /// K (§4.2): seconds from the epoch start until the window is back at W_max.
    k: f64,
    /// W_est (§4.3): the Reno-friendly estimate.
    w_est: f64,
    /// cwnd_prior: the window just before the last reduction.
    cwnd_prior: f64,
    /// Bytes acknowledged but not yet turned into growth (growth in whole bytes).
    pending: f64,
}

impl Cubic {
    pub fn new(initial_window: u32) -> Cubic {
        Cubic {
            cwnd: initial_window,
            // RFC 5681 §3.1: "arbitrarily high".
            ssthresh: u32::MAX / 2,
            w_max: 0.0,
            epoch: None,
            k: 0.0,
            w_est: 0.0,
            cwnd_prior: 0.0,
            pending: 0.0,
            hystart: HyStart::default(),
        }
    }

    /// §4.6 and §4.7: the reduction, with fast convergence (a window that did not reach
    /// the last W_max releases bandwidth sooner by remembering less).
    fn reduce(&mut self, smss: u32) {
        let cwnd = f64::from(self.cwnd);
        self.cwnd_prior = cwnd;
        self.w_max = if cwnd < self.w_max {
            cwnd * (1.0 + BETA) / 2.0
        } else {
            cwnd
        };
        self.ssthresh = ((cwnd * BETA) as u32).max(2 * smss);
        self.epoch = None;
        self.hystart.reset();
    }

    /// W_cubic(t) of §4.2 in bytes, `t` seconds into the epoch.
    fn w_cubic(&self, t: f64, smss: f64) -> f64 {
        let w_max = self.w_max / smss;
        (C * (t - self.k).powi(3) + w_max) * smss
    }

    /// §4.2–4.4: growth in congestion avoidance for an ACK of `acked` bytes.
    fn avoid_congestion(&mut self, ack: &AckEvent) {
        let smss = f64::from(ack.smss);
        let cwnd = f64::from(self.cwnd);
        let start = match self.epoch {
            Some((start, _)) => start,
            None => {
                // A new epoch: K from how far the window is below W_max (eq. 2), and the
                // Reno-friendly estimate from the current window.
                self.w_max = self.w_max.max(cwnd);
                self.k = ((self.w_max - cwnd) / smss / C).cbrt();
                self.w_est = cwnd;
                self.epoch = Some((ack.now, cwnd));
                ack.now
            }
        };
        let t = ack.now.nanos_since(start) as f64 / 1e9;
        let rtt = ack.srtt_nanos as f64 / 1e9;
        // §4.3: W_est grows by α per window of acknowledged data; once it is back at the
        // window before the reduction, by one segment per window, as Reno.
        let alpha = if self.w_est >= self.cwnd_prior {
            1.0
        } else {
            ALPHA
        };
        self.w_est += alpha * f64::from(ack.bytes_acked) / cwnd * smss;
        let cubic = self.w_cubic(t, smss);
        let grown = if cubic < self.w_est {
            // Reno-friendly region.
            self.w_est - cwnd
        } else {
            // Concave or convex region: towards W_cubic one RTT ahead, at most 1.5·cwnd.
            let target = self.w_cubic(t + rtt, smss).clamp(cwnd, 1.5 * cwnd);
            (target - cwnd) * f64::from(ack.bytes_acked) / cwnd
        };
        self.pending += grown.max(0.0);
        let whole = self.pending.floor();
        self.pending -= whole;
        self.cwnd = self.cwnd.saturating_add(whole as u32);
    }
}

impl CongestionControl for Cubic {
    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn on_ack(&mut self, ack: &AckEvent) {
        if ack.app_limited {
            // RFC 7661 / RFC 9438 §5.8: no growth from ACKs of an application-limited flight.
            return;
        }
        if self.cwnd < self.ssthresh {
            // Slow start with HyStart++ (RFC 9406), appropriate byte counting L = 2·SMSS.
            match self.hystart.on_ack(ack) {
                SlowStartStep::Grow { divisor } => {
                    let grown = ack.bytes_acked.min(2 * ack.smss) / divisor;
                    self.cwnd = self.cwnd.saturating_add(grown);
                }
                SlowStartStep::Exit => self.ssthresh = self.cwnd,
            }
            return;
        }
        self.avoid_congestion(ack);
    }

    fn on_congestion_event(&mut self, _now: Instant, _flight: u32, smss: u32) {
        self.reduce(smss);
    }

    fn on_recovery_end(&mut self, _now: Instant, _flight: u32, _smss: u32) {
        // §4.6: the window after recovery is the reduced one.
        self.cwnd = self.ssthresh;
        self.epoch = None;
        self.w_est = 0.0;
        self.k = 0.0;
    }

    fn on_retransmission_timeout(&mut self, _now: Instant, _flight: u32, smss: u32) {
        // §4.8: as for a congestion event, then the loss window.
        self.reduce(smss);
        self.cwnd = smss;
        self.w_est = 0.0;
        self.k = 0.0;
    }

    fn on_idle_restart(&mut self, _now: Instant, initial_window: u32) {
        self.cwnd = self.cwnd.min(initial_window);
        self.epoch = None;
        self.w_est = 0.0;
        self.k = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    fn ack(now_ms: u64, acked: u32) -> AckEvent {
        AckEvent {
            now: Instant::from_millis(now_ms),
            bytes_acked: acked,
            rtt_sample_nanos: None,
            srtt_nanos: 100_000_000,
            bytes_in_flight: 0,
            app_limited: false,
            smss: MSS,
            snd_una: crate::wire::SeqNum(0),
            snd_nxt: crate::wire::SeqNum(0),
        }
    }

    #[test]
    fn a_congestion_event_keeps_seven_tenths() {
        let mut cc = Cubic::new(100 * MSS);
        cc.ssthresh = 50 * MSS;
        cc.on_congestion_event(Instant::ZERO, 100 * MSS, MSS);
        cc.on_recovery_end(Instant::ZERO, 70 * MSS, MSS);
        assert_eq!(cc.cwnd(), 70 * MSS);
        assert_eq!(cc.ssthresh(), 70 * MSS);
        // A second loss before regaining W_max: fast convergence remembers less.
        cc.on_congestion_event(Instant::ZERO, 70 * MSS, MSS);
        assert!((cc.w_max - 70.0 * 1.7 / 2.0 * f64::from(MSS)).abs() < 1.0);
    }

    #[test]
    fn the_window_returns_to_w_max_after_k_seconds_then_probes_beyond() {
        let mut cc = Cubic::new(100 * MSS);
        cc.on_congestion_event(Instant::ZERO, 100 * MSS, MSS);
        cc.on_recovery_end(Instant::ZERO, 70 * MSS, MSS);
        // K = cbrt(30 / 0.4) = 4.2 s. A window of ACKs every 100 ms (the RTT, long enough
        // that the cubic function, not the Reno-friendly estimate, leads).
        let mut at_k = 0;
        for t in (0..8_000).step_by(100) {
            let cwnd = cc.cwnd();
            cc.on_ack(&ack(t, cwnd));
            if t == 4_200 {
                at_k = cc.cwnd();
            }
        }
        let w_max = 100 * MSS;
        assert!(
            at_k.abs_diff(w_max) < 3 * MSS,
            "at K the window is near W_max: {at_k}"
        );
        assert!(cc.cwnd() > w_max + 15 * MSS, "then beyond: {}", cc.cwnd());
    }

    #[test]
    fn at_a_short_rtt_the_reno_friendly_estimate_leads() {
        let mut cc = Cubic::new(100 * MSS);
        cc.on_congestion_event(Instant::ZERO, 100 * MSS, MSS);
        cc.on_recovery_end(Instant::ZERO, 70 * MSS, MSS);
        // 10 ms round trips: in one second Reno adds 100 · α ≈ 53 segments; CUBIC's curve
        // would add only about 22 (back at 0.4·(1 − 4.2)³ + 100 ≈ 87).
        for t in (0..1_000).step_by(10) {
            let cwnd = cc.cwnd();
            cc.on_ack(&AckEvent {
                srtt_nanos: 10_000_000,
                ..ack(t, cwnd)
            });
        }
        assert!(cc.cwnd() > 115 * MSS, "{}", cc.cwnd());
    }

    #[test]
    fn application_limited_acks_do_not_grow_the_window() {
        let mut cc = Cubic::new(10 * MSS);
        cc.ssthresh = 100 * MSS;
        cc.on_ack(&AckEvent {
            app_limited: true,
            ..ack(0, MSS)
        });
        assert_eq!(cc.cwnd(), 10 * MSS);
        cc.on_ack(&ack(1, MSS));
        assert_eq!(cc.cwnd(), 11 * MSS);
    }
}
