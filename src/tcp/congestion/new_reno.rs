//! NewReno's window rule: slow start and congestion avoidance (RFC 5681 §3.1) with
//! appropriate byte counting (RFC 3465), the window at the end of recovery (RFC 6582 §3.2),
//! and the loss window after a timeout.

use super::{halved_threshold, AckEvent, CongestionControl};
use crate::time::Instant;

/// NewReno's window state of one connection.
#[derive(Clone, Debug)]
pub struct NewReno {
    cwnd: u32,
    ssthresh: u32,
    /// Bytes acknowledged since cwnd last grew in congestion avoidance (RFC 3465).
    bytes_acked: u32,
}

impl NewReno {
    pub fn new(initial_window: u32) -> NewReno {
        NewReno {
            cwnd: initial_window,
            // RFC 5681 §3.1: "arbitrarily high", e.g. the size of the largest window.
            ssthresh: u32::MAX / 2,
            bytes_acked: 0,
        }
    }
}

impl CongestionControl for NewReno {
    #[inline]
    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    #[inline]
    fn on_ack(&mut self, ack: &AckEvent) {
        if ack.app_limited {
            // RFC 7661: an application-limited flight does not show the window is usable.
            return;
        }
        let smss = ack.smss;
        if self.cwnd < self.ssthresh {
            // Slow start with appropriate byte counting, L = 2·SMSS (RFC 3465 §2.2).
            self.cwnd = self.cwnd.saturating_add(ack.bytes_acked.min(2 * smss));
        } else {
            // Congestion avoidance: one SMSS per window of acknowledged bytes (RFC 5681 §3.1).
            self.bytes_acked = self.bytes_acked.saturating_add(ack.bytes_acked);
            if self.bytes_acked >= self.cwnd {
                self.bytes_acked -= self.cwnd;
                self.cwnd = self.cwnd.saturating_add(smss);
            }
        }
    }

    fn on_congestion_event(&mut self, _now: Instant, flight: u32, smss: u32) {
        self.ssthresh = halved_threshold(flight, smss);
    }

    fn on_recovery_end(&mut self, _now: Instant, flight: u32, smss: u32) {
        // RFC 6582 §3.2 step 3, option 1: min(ssthresh, max(FlightSize, SMSS) + SMSS).
        self.cwnd = self.ssthresh.min(flight.max(smss) + smss);
        self.bytes_acked = 0;
    }

    fn on_retransmission_timeout(&mut self, _now: Instant, flight: u32, smss: u32) {
        self.ssthresh = halved_threshold(flight, smss);
        self.cwnd = smss;
        self.bytes_acked = 0;
    }

    fn on_idle_restart(&mut self, _now: Instant, initial_window: u32) {
        // No more than the initial window is sent at once after idle (RFC 5681 §4.1).
        self.cwnd = self.cwnd.min(initial_window);
    }
}

#[cfg(test)]
mod tests {
    use super::super::initial_window;
    use super::*;

    const MSS: u32 = 1000;

    fn ack(bytes_acked: u32) -> AckEvent {
        AckEvent {
            now: Instant::ZERO,
            bytes_acked,
            rtt_sample_nanos: None,
            bytes_in_flight: 0,
            app_limited: false,
            smss: MSS,
            srtt_nanos: 0,
            snd_una: crate::wire::SeqNum(0),
            snd_nxt: crate::wire::SeqNum(0),
        }
    }

    #[test]
    fn slow_start_then_avoidance() {
        let mut cc = NewReno::new(initial_window(10, MSS));
        assert_eq!(cc.cwnd(), 10 * MSS);
        cc.ssthresh = 12 * MSS;
        cc.on_ack(&ack(MSS));
        assert_eq!(cc.cwnd(), 11 * MSS);
        cc.on_ack(&ack(2 * MSS));
        assert_eq!(cc.cwnd(), 13 * MSS);
        // Now in congestion avoidance: a whole window of ACKs adds one SMSS.
        for _ in 0..12 {
            cc.on_ack(&ack(MSS));
        }
        assert_eq!(cc.cwnd(), 13 * MSS);
        cc.on_ack(&ack(MSS));
        assert_eq!(cc.cwnd(), 14 * MSS);
    }

    #[test]
    fn timeout_sets_the_loss_window() {
        let mut cc = NewReno::new(10 * MSS);
        cc.on_retransmission_timeout(Instant::ZERO, 8 * MSS, MSS);
        assert_eq!(cc.cwnd(), MSS);
        assert_eq!(cc.ssthresh(), 4 * MSS);
    }
}
