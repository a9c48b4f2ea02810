//! Loss recovery for peers without SACK: duplicate-ACK counting, fast retransmit
//! (RFC 5681 §3.2) and NewReno fast recovery (RFC 6582 §3.2).
//!
//! Recovery decides what to retransmit and, while it lasts, how large the window is; the
//! congestion controller ([`super::congestion`]) hears when a loss was detected, when
//! recovery ends and when the retransmission timer fired.

use crate::time::Instant;
use crate::wire::SeqNum;

use crate::tcp::congestion::{AckEvent, CongestionControl};

/// What the connection must do after an acknowledgment.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AckAction {
    /// Nothing beyond sending what the window now allows.
    None,
    /// Retransmit the first unacknowledged segment now (fast retransmit, or a NewReno
    /// partial acknowledgment). `restart_timer` is set for the events after which RFC 6582
    /// §3.2 step 5 says to reset the retransmission timer.
    RetransmitFirstUnacked { restart_timer: bool },
}

/// NewReno recovery state of one connection (RFC 6582 §3.2 step 1: `recover` starts at
/// the ISS, which the first acknowledgment covers: `None`).
#[derive(Clone, Debug, Default)]
pub struct Recovery {
    dupacks: u8,
    /// In fast recovery until an ACK covers `recover`.
    in_recovery: bool,
    /// One past the highest sequence number sent when the last recovery or timeout began
    /// (RFC 6582 `recover` plus one, so "covers recover" is `ack >= recover`), until an ACK
    /// covers it; then `None`. Forgotten once covered, it cannot go stale: compared modulo
    /// 2^32 it would read as ahead again after 2^31 bytes and block fast retransmit.
    recover: Option<SeqNum>,
    /// A partial ACK in this recovery already restarted the timer (RFC 6582 §3.2 step 5).
    partial_ack_seen: bool,
    /// The window while in recovery: ssthresh plus the segments that left the network
    /// (RFC 5681 §3.2 steps 3 and 4), deflated by partial ACKs (RFC 6582 §3.2 step 4).
    window: u32,
}

impl Recovery {
    pub fn in_recovery(&self) -> bool {
        self.in_recovery
    }

    /// The congestion window in force: recovery's while it lasts, else the controller's.
    #[inline]
    pub fn window(&self, cc: &impl CongestionControl) -> u32 {
        if self.in_recovery {
            self.window
        } else {
            cc.cwnd()
        }
    }

    /// An ACK that advanced SND.UNA by `ack.bytes_acked` bytes to `snd_una`.
    #[inline]
    pub fn on_new_ack(
        &mut self,
        snd_una: SeqNum,
        ack: &AckEvent,
        cc: &mut impl CongestionControl,
    ) -> AckAction {
        self.dupacks = 0;
        let covered = self.recover.is_none_or(|recover| snd_una >= recover);
        if !self.in_recovery {
            if covered {
                self.recover = None;
            }
            cc.on_ack(ack);
            return AckAction::None;
        }
        let smss = ack.smss;
        if covered {
            self.recover = None;
            // Full acknowledgment (RFC 6582 §3.2 step 3).
            self.in_recovery = false;
            cc.on_recovery_end(ack.now, ack.bytes_in_flight, smss);
            return AckAction::None;
        }
        // Partial acknowledgment (step 4): retransmit the next hole, deflate the window by
        // what was acknowledged and add back one SMSS if at least that much was.
        self.window = self.window.saturating_sub(ack.bytes_acked);
        if ack.bytes_acked >= smss {
            self.window += smss;
        }
        self.window = self.window.max(smss);
        let restart_timer = !self.partial_ack_seen;
        self.partial_ack_seen = true;
        AckAction::RetransmitFirstUnacked { restart_timer }
    }

    /// A duplicate acknowledgment as RFC 5681 §2 defines it. `snd_una` is the duplicated ACK
    /// value, `snd_max` one past the highest byte sent, `flight` the bytes outstanding.
    pub fn on_duplicate_ack(
        &mut self,
        now: Instant,
        snd_una: SeqNum,
        snd_max: SeqNum,
        flight: u32,
        smss: u32,
        cc: &mut impl CongestionControl,
    ) -> AckAction {
        self.dupacks = self.dupacks.saturating_add(1);
        if self.in_recovery {
            // RFC 5681 §3.2 step 4: inflate by one SMSS per additional duplicate.
            self.window = self.window.saturating_add(smss);
            return AckAction::None;
        }
        // RFC 6582 §3.2 step 2: only when the ACK covers more than the previous `recover`,
        // so a timeout's stale duplicates do not trigger a second window reduction.
        if self.dupacks == 3 && self.recover.is_none_or(|recover| snd_una >= recover) {
            cc.on_congestion_event(now, flight, smss);
            self.window = cc.ssthresh() + 3 * smss;
            self.recover = Some(snd_max);
            self.in_recovery = true;
            self.partial_ack_seen = false;
            return AckAction::RetransmitFirstUnacked {
                restart_timer: false,
            };
        }
        AckAction::None
    }

    /// The retransmission timer fired: recovery ends, and duplicates of what was outstanding
    /// must not start another (RFC 6582 §3.2 step 2: `recover` is the highest byte sent).
    pub fn on_retransmission_timeout(&mut self, snd_max: SeqNum) {
        self.dupacks = 0;
        self.in_recovery = false;
        self.recover = Some(snd_max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::congestion::NewReno;

    const MSS: u32 = 1000;

    fn ack(bytes_acked: u32, flight: u32) -> AckEvent {
        AckEvent {
            now: Instant::ZERO,
            bytes_acked,
            rtt_sample_nanos: None,
            bytes_in_flight: flight,
            app_limited: false,
            smss: MSS,
            srtt_nanos: 0,
            snd_una: SeqNum(0),
            snd_nxt: SeqNum(0),
        }
    }

    #[test]
    fn three_dupacks_then_partial_then_full_ack() {
        let mut cc = NewReno::new(20 * MSS);
        let mut r = Recovery::default();
        let una = SeqNum(1);
        let max = SeqNum(20_001);
        let now = Instant::ZERO;
        for _ in 0..2 {
            assert_eq!(
                r.on_duplicate_ack(now, una, max, 20 * MSS, MSS, &mut cc),
                AckAction::None
            );
        }
        assert_eq!(
            r.on_duplicate_ack(now, una, max, 20 * MSS, MSS, &mut cc),
            AckAction::RetransmitFirstUnacked {
                restart_timer: false
            }
        );
        assert!(r.in_recovery());
        assert_eq!(cc.ssthresh(), 10 * MSS);
        assert_eq!(r.window(&cc), 13 * MSS);
        r.on_duplicate_ack(now, una, max, 20 * MSS, MSS, &mut cc);
        assert_eq!(r.window(&cc), 14 * MSS);
        // Partial ACK of 5 segments: deflate by 5, add back one.
        assert_eq!(
            r.on_new_ack(SeqNum(5001), &ack(5 * MSS, 15 * MSS), &mut cc),
            AckAction::RetransmitFirstUnacked {
                restart_timer: true
            }
        );
        assert_eq!(r.window(&cc), 10 * MSS);
        assert_eq!(
            r.on_new_ack(SeqNum(6001), &ack(MSS, 14 * MSS), &mut cc),
            AckAction::RetransmitFirstUnacked {
                restart_timer: false
            }
        );
        // Full ACK: cwnd = min(ssthresh, flight + SMSS).
        assert_eq!(
            r.on_new_ack(max, &ack(14 * MSS, 0), &mut cc),
            AckAction::None
        );
        assert!(!r.in_recovery());
        assert_eq!(r.window(&cc), MSS * 2);
    }

    #[test]
    fn recover_does_not_go_stale_after_two_gigabytes() {
        // The review's sequence: recover at the ISS, then three duplicate ACKs 2^31 bytes on.
        let mut cc = NewReno::new(20_000);
        let mut r = Recovery::default();
        let una = SeqNum(0x8000_0001);
        for _ in 0..2 {
            r.on_duplicate_ack(Instant::ZERO, una, una + 20_000u32, 20_000, MSS, &mut cc);
        }
        assert!(matches!(
            r.on_duplicate_ack(Instant::ZERO, una, una + 20_000u32, 20_000, MSS, &mut cc),
            AckAction::RetransmitFirstUnacked { .. }
        ));
        assert!(r.in_recovery());
    }

    #[test]
    fn timeout_blocks_stale_fast_retransmit() {
        let mut cc = NewReno::new(10 * MSS);
        let mut r = Recovery::default();
        cc.on_retransmission_timeout(Instant::ZERO, 8 * MSS, MSS);
        r.on_retransmission_timeout(SeqNum(8001));
        for _ in 0..3 {
            assert_eq!(
                r.on_duplicate_ack(
                    Instant::ZERO,
                    SeqNum(1),
                    SeqNum(8001),
                    8 * MSS,
                    MSS,
                    &mut cc
                ),
                AckAction::None
            );
        }
        assert!(!r.in_recovery());
    }
}
