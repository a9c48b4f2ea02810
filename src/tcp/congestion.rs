//! Congestion control: slow start and congestion avoidance (RFC 5681 §3.1), fast retransmit
//! and NewReno fast recovery (RFC 5681 §3.2, RFC 6582 §3.2), and the loss window after a
//! retransmission timeout.
//!
//! The connection feeds it acknowledgment events and asks it what to retransmit; the window
//! growth rule is kept apart from the recovery logic so another rule (CUBIC, RFC 9438) can
//! replace it without touching loss detection.

use crate::wire::SeqNum;

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

/// NewReno state of one connection.
#[derive(Clone, Debug)]
pub struct NewReno {
    cwnd: u32,
    ssthresh: u32,
    /// Bytes acknowledged since cwnd last grew in congestion avoidance (RFC 3465).
    bytes_acked: u32,
    dupacks: u8,
    /// In fast recovery until an ACK covers `recover`.
    in_recovery: bool,
    /// One past the highest sequence number sent when recovery began (RFC 6582 `recover`
    /// plus one, so "covers recover" is `ack >= recover`).
    recover: SeqNum,
    /// A partial ACK in this recovery already restarted the timer (RFC 6582 §3.2 step 5).
    partial_ack_seen: bool,
}

impl NewReno {
    /// Initial state for a connection whose first sequence number is `iss`.
    pub fn new(initial_window: u32, iss: SeqNum) -> NewReno {
        NewReno {
            cwnd: initial_window,
            // RFC 5681 §3.1: "arbitrarily high", e.g. the size of the largest window.
            ssthresh: u32::MAX / 2,
            bytes_acked: 0,
            dupacks: 0,
            in_recovery: false,
            // RFC 6582 §3.2 step 1: recover is initialised to the ISS.
            recover: iss + 1u32,
            partial_ack_seen: false,
        }
    }

    /// RFC 6928 initial window: min(10·MSS, max(2·MSS, 14600)) for 10 segments.
    pub fn initial_window(segments: u32, smss: u32) -> u32 {
        if segments >= 10 {
            (segments * smss).min((2 * smss).max(14_600))
        } else {
            segments * smss
        }
    }

    pub fn cwnd(&self) -> u32 {
        self.cwnd
    }

    pub fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    pub fn in_recovery(&self) -> bool {
        self.in_recovery
    }

    pub fn duplicate_acks(&self) -> u8 {
        self.dupacks
    }

    /// RFC 5681 §3.1 equation (4): ssthresh = max(FlightSize / 2, 2·SMSS).
    fn halve(flight: u32, smss: u32) -> u32 {
        (flight / 2).max(2 * smss)
    }

    /// An ACK that advanced SND.UNA by `acked` bytes to `ack`; `flight` is what remains
    /// outstanding after it.
    pub fn on_new_ack(&mut self, ack: SeqNum, acked: u32, flight: u32, smss: u32) -> AckAction {
        self.dupacks = 0;
        if self.in_recovery {
            if ack >= self.recover {
                // Full acknowledgment (RFC 6582 §3.2 step 3, option 1).
                self.cwnd = self.ssthresh.min(flight.max(smss) + smss);
                self.in_recovery = false;
                self.bytes_acked = 0;
                return AckAction::None;
            }
            // Partial acknowledgment (step 4): retransmit the next hole, deflate the window
            // by what was acknowledged and add back one SMSS if at least that much was.
            self.cwnd = self.cwnd.saturating_sub(acked);
            if acked >= smss {
                self.cwnd += smss;
            }
            self.cwnd = self.cwnd.max(smss);
            let restart_timer = !self.partial_ack_seen;
            self.partial_ack_seen = true;
            return AckAction::RetransmitFirstUnacked { restart_timer };
        }
        if self.cwnd < self.ssthresh {
            // Slow start with appropriate byte counting, L = 2·SMSS (RFC 3465 §2.2).
            self.cwnd = self.cwnd.saturating_add(acked.min(2 * smss));
        } else {
            // Congestion avoidance: one SMSS per window of acknowledged bytes (RFC 5681 §3.1).
            self.bytes_acked = self.bytes_acked.saturating_add(acked);
            if self.bytes_acked >= self.cwnd {
                self.bytes_acked -= self.cwnd;
                self.cwnd = self.cwnd.saturating_add(smss);
            }
        }
        AckAction::None
    }

    /// A duplicate acknowledgment as RFC 5681 §2 defines it. `snd_una` is the duplicated ACK
    /// value, `snd_max` one past the highest byte sent, `flight` the bytes outstanding.
    pub fn on_duplicate_ack(
        &mut self,
        snd_una: SeqNum,
        snd_max: SeqNum,
        flight: u32,
        smss: u32,
    ) -> AckAction {
        self.dupacks = self.dupacks.saturating_add(1);
        if self.in_recovery {
            // RFC 5681 §3.2 step 4: inflate by one SMSS per additional duplicate.
            self.cwnd = self.cwnd.saturating_add(smss);
            return AckAction::None;
        }
        // RFC 6582 §3.2 step 2: only when the ACK covers more than the previous `recover`,
        // so a timeout's stale duplicates do not trigger a second window reduction.
        if self.dupacks == 3 && snd_una >= self.recover {
            self.ssthresh = Self::halve(flight, smss);
            self.cwnd = self.ssthresh + 3 * smss;
            self.recover = snd_max;
            self.in_recovery = true;
            self.partial_ack_seen = false;
            return AckAction::RetransmitFirstUnacked {
                restart_timer: false,
            };
        }
        AckAction::None
    }

    /// The retransmission timer fired (RFC 5681 §3.1 equation (4) and the loss window).
    pub fn on_timeout(&mut self, flight: u32, smss: u32, snd_max: SeqNum) {
        self.ssthresh = Self::halve(flight, smss);
        self.cwnd = smss;
        self.bytes_acked = 0;
        self.dupacks = 0;
        self.in_recovery = false;
        // RFC 6582 §3.2 step 2 (after a timeout, `recover` is the highest byte sent).
        self.recover = snd_max;
    }

    /// Restart after idle (RFC 5681 §4.1): no more than the initial window is sent at once.
    pub fn on_idle_restart(&mut self, initial_window: u32) {
        self.cwnd = self.cwnd.min(initial_window);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    #[test]
    fn slow_start_then_avoidance() {
        let mut cc = NewReno::new(NewReno::initial_window(10, MSS), SeqNum(0));
        assert_eq!(cc.cwnd(), 10 * MSS);
        cc.ssthresh = 12 * MSS;
        cc.on_new_ack(SeqNum(1000), MSS, 0, MSS);
        assert_eq!(cc.cwnd(), 11 * MSS);
        cc.on_new_ack(SeqNum(3000), 2 * MSS, 0, MSS);
        assert_eq!(cc.cwnd(), 13 * MSS);
        // Now in congestion avoidance: a whole window of ACKs adds one SMSS.
        for _ in 0..12 {
            cc.on_new_ack(SeqNum(0), MSS, 0, MSS);
        }
        assert_eq!(cc.cwnd(), 13 * MSS);
        cc.on_new_ack(SeqNum(0), MSS, 0, MSS);
        assert_eq!(cc.cwnd(), 14 * MSS);
    }

    #[test]
    fn three_dupacks_then_partial_then_full_ack() {
        let mut cc = NewReno::new(20 * MSS, SeqNum(0));
        let una = SeqNum(1);
        let max = SeqNum(20_001);
        assert_eq!(
            cc.on_duplicate_ack(una, max, 20 * MSS, MSS),
            AckAction::None
        );
        assert_eq!(
            cc.on_duplicate_ack(una, max, 20 * MSS, MSS),
            AckAction::None
        );
        assert_eq!(
            cc.on_duplicate_ack(una, max, 20 * MSS, MSS),
            AckAction::RetransmitFirstUnacked {
                restart_timer: false
            }
        );
        assert!(cc.in_recovery());
        assert_eq!(cc.ssthresh(), 10 * MSS);
        assert_eq!(cc.cwnd(), 13 * MSS);
        cc.on_duplicate_ack(una, max, 20 * MSS, MSS);
        assert_eq!(cc.cwnd(), 14 * MSS);
        // Partial ACK of 5 segments: deflate by 5, add back one.
        assert_eq!(
            cc.on_new_ack(SeqNum(5001), 5 * MSS, 15 * MSS, MSS),
            AckAction::RetransmitFirstUnacked {
                restart_timer: true
            }
        );
        assert_eq!(cc.cwnd(), 10 * MSS);
        assert_eq!(
            cc.on_new_ack(SeqNum(6001), MSS, 14 * MSS, MSS),
            AckAction::RetransmitFirstUnacked {
                restart_timer: false
            }
        );
        // Full ACK: cwnd = min(ssthresh, flight + SMSS).
        assert_eq!(cc.on_new_ack(max, 14 * MSS, 0, MSS), AckAction::None);
        assert!(!cc.in_recovery());
        assert_eq!(cc.cwnd(), MSS * 2);
    }

    #[test]
    fn timeout_sets_loss_window_and_blocks_stale_fast_retransmit() {
        let mut cc = NewReno::new(10 * MSS, SeqNum(0));
        cc.on_timeout(8 * MSS, MSS, SeqNum(8001));
        assert_eq!(cc.cwnd(), MSS);
        assert_eq!(cc.ssthresh(), 4 * MSS);
        for _ in 0..3 {
            assert_eq!(
                cc.on_duplicate_ack(SeqNum(1), SeqNum(8001), 8 * MSS, MSS),
                AckAction::None
            );
        }
        assert!(!cc.in_recovery());
    }
}
