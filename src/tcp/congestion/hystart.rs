//! HyStart++ (RFC 9406): slow start that notices the queue building — the round's minimum
//! RTT rising above the previous round's — and leaves through Conservative Slow Start
//! before the loss a plain slow start would end with.

use super::AckEvent;
use crate::wire::SeqNum;

/// RTT samples a round needs before its minimum is trusted (N_RTT_SAMPLE).
const RTT_SAMPLES: u32 = 8;
/// Bounds of the RTT rise that counts (MIN_RTT_THRESH, MAX_RTT_THRESH), in nanoseconds.
const MIN_RTT_THRESH: u64 = 4_000_000;
const MAX_RTT_THRESH: u64 = 16_000_000;
/// The rise threshold as a share of the last round's minimum (MIN_RTT_DIVISOR).
const MIN_RTT_DIVISOR: u64 = 8;
/// Growth divisor in Conservative Slow Start (CSS_GROWTH_DIVISOR).
pub const CSS_GROWTH_DIVISOR: u32 = 4;
/// Rounds of Conservative Slow Start before congestion avoidance (CSS_ROUNDS).
const CSS_ROUNDS: u32 = 5;

/// What slow start does with this ACK.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SlowStartStep {
    /// Grow by the acknowledged bytes divided by `divisor` (1 in slow start, 4 in CSS).
    Grow { divisor: u32 },
    /// Leave slow start: the threshold becomes the current window.
    Exit,
}

/// HyStart++ state of one connection.
#[derive(Clone, Debug)]
pub struct HyStart {
    /// The current round ends when SND.UNA reaches this.
    window_end: Option<SeqNum>,
    last_round_min_rtt: u64,
    current_round_min_rtt: u64,
    samples: u32,
    /// In Conservative Slow Start: the minimum RTT that triggered it, and its rounds.
    css: Option<(u64, u32)>,
}

impl Default for HyStart {
    fn default() -> HyStart {
        HyStart {
            window_end: None,
            last_round_min_rtt: u64::MAX,
            current_round_min_rtt: u64::MAX,
            samples: 0,
            css: None,
        }
    }
}

impl HyStart {
    /// RFC 9406 §4.2 for one ACK during slow start.
    pub fn on_ack(&mut self, ack: &AckEvent) -> SlowStartStep {
        let round_ended = self.window_end.is_none_or(|end| ack.snd_una >= end);
        if round_ended {
            self.window_end = Some(ack.snd_nxt);
            self.last_round_min_rtt = self.current_round_min_rtt;
            self.current_round_min_rtt = u64::MAX;
            self.samples = 0;
            if let Some((baseline, rounds)) = self.css {
                if rounds + 1 >= CSS_ROUNDS {
                    self.css = None;
                    return SlowStartStep::Exit;
                }
                self.css = Some((baseline, rounds + 1));
            }
        }
        if let Some(rtt) = ack.rtt_sample_nanos {
            self.current_round_min_rtt = self.current_round_min_rtt.min(rtt);
            self.samples += 1;
        }
        let enough = self.samples >= RTT_SAMPLES
            && self.current_round_min_rtt != u64::MAX
            && self.last_round_min_rtt != u64::MAX;
        match self.css {
            None if enough => {
                let thresh = (self.last_round_min_rtt / MIN_RTT_DIVISOR)
                    .clamp(MIN_RTT_THRESH, MAX_RTT_THRESH);
                if self.current_round_min_rtt >= self.last_round_min_rtt + thresh {
                    self.css = Some((self.current_round_min_rtt, 0));
                }
            }
            Some((baseline, _)) if enough && self.current_round_min_rtt < baseline => {
                // The rise was spurious: back to slow start.
                self.css = None;
            }
            _ => {}
        }
        SlowStartStep::Grow {
            divisor: if self.css.is_some() {
                CSS_GROWTH_DIVISOR
            } else {
                1
            },
        }
    }

    /// A congestion event or timeout ended slow start; a later slow start begins afresh.
    pub fn reset(&mut self) {
        *self = HyStart::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Instant;

    const MS: u64 = 1_000_000;

    fn ack(una: u32, nxt: u32, rtt_ms: u64) -> AckEvent {
        AckEvent {
            now: Instant::ZERO,
            bytes_acked: 1000,
            rtt_sample_nanos: Some(rtt_ms * MS),
            srtt_nanos: rtt_ms * MS,
            bytes_in_flight: 0,
            app_limited: false,
            smss: 1000,
            snd_una: SeqNum(una),
            snd_nxt: SeqNum(nxt),
        }
    }

    #[test]
    fn a_rising_round_minimum_leads_through_css_to_avoidance() {
        let mut hs = HyStart::default();
        // Round 1 (ends at 10,000): RTT 20 ms.
        for i in 0..10 {
            assert_eq!(
                hs.on_ack(&ack(i * 1000, 10_000, 20)),
                SlowStartStep::Grow { divisor: 1 }
            );
        }
        // Round 2: RTT 30 ms, above 20 + max(20/8, 4) = 24 ms after eight samples: CSS.
        let mut steps = Vec::new();
        for i in 10..20 {
            steps.push(hs.on_ack(&ack(i * 1000, 30_000, 30)));
        }
        assert_eq!(steps[6], SlowStartStep::Grow { divisor: 1 });
        assert_eq!(
            steps[7],
            SlowStartStep::Grow {
                divisor: CSS_GROWTH_DIVISOR
            }
        );
        // Five rounds of CSS, then slow start ends.
        let mut end = 30_000;
        let mut exited = false;
        for _ in 0..6 {
            let step = hs.on_ack(&ack(end, end + 10_000, 30));
            end += 10_000;
            if step == SlowStartStep::Exit {
                exited = true;
                break;
            }
        }
        assert!(exited);
    }

    #[test]
    fn an_rtt_back_below_the_baseline_resumes_slow_start() {
        let mut hs = HyStart::default();
        for i in 0..10 {
            hs.on_ack(&ack(i * 1000, 10_000, 20));
        }
        for i in 10..20 {
            hs.on_ack(&ack(i * 1000, 30_000, 30));
        }
        assert!(hs.css.is_some());
        for i in 30..40 {
            hs.on_ack(&ack(i * 1000, 50_000, 21));
        }
        assert!(hs.css.is_none());
    }
}
