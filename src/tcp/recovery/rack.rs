//! RACK (RFC 8985 §6): a segment is lost when a segment sent after it was delivered and it
//! is still missing a reordering window later. Time, not a count of duplicate ACKs, decides,
//! so a lost retransmission or a lost tail is found as soon as something later arrives.

use crate::time::Instant;
use crate::wire::SeqNum;

use super::scoreboard::{Scoreboard, SentSegment};

/// Recoveries after the last D-SACK over which a widened reordering window persists
/// (RFC 8985 §6.2, step 4: 16).
const REO_WND_PERSIST: u8 = 16;

/// RACK state of one connection.
#[derive(Clone, Debug, Default)]
pub struct Rack {
    /// RACK.xmit_ts and RACK.end_seq: the most recently sent segment delivered so far.
    latest: Option<(Instant, SeqNum)>,
    /// RACK.rtt: the RTT of that segment, in nanoseconds.
    rtt_nanos: u64,
    /// RACK.min_RTT: the smallest RTT measured, in nanoseconds (0 until one is).
    min_rtt_nanos: u64,
    /// RACK.reordering_seen.
    reordering_seen: bool,
    /// RACK.reo_wnd_mult: the reordering window in quarters of the minimum RTT.
    reo_wnd_mult: u32,
    /// RACK.dsack_round: a D-SACK before SND.UNA passes this is in the same round trip.
    dsack_round: Option<SeqNum>,
    /// RACK.reo_wnd_persist.
    reo_wnd_persist: u8,
}

impl Rack {
    /// RFC 8985 step 1: the minimum RTT, from every RTT sample the connection takes.
    pub fn on_rtt_sample(&mut self, rtt_nanos: u64) {
        if self.min_rtt_nanos == 0 || rtt_nanos < self.min_rtt_nanos {
            self.min_rtt_nanos = rtt_nanos.max(1);
        }
    }

    /// Step 2: `segment` was newly delivered (cumulatively acknowledged or SACKed). If it
    /// was sent after the latest delivered one, it becomes RACK's reference — unless it was
    /// retransmitted and the ACK may answer the original (the timestamp echo predates the
    /// retransmission, or the RTT would be below the minimum).
    /// `echo_predates` says whether the ACK's timestamp echo is older than `segment`'s last
    /// transmission (false without timestamps).
    pub fn on_delivered(&mut self, segment: &SentSegment, now: Instant, echo_predates: bool) {
        let rtt = now.nanos_since(segment.sent);
        if segment.is_retransmitted() && (echo_predates || rtt < self.min_rtt_nanos) {
            return;
        }
        if self
            .latest
            .is_none_or(|(ts, end)| sent_after(segment.sent, segment.end, ts, end))
        {
            self.latest = Some((segment.sent, segment.end));
            self.rtt_nanos = rtt;
        }
    }

    /// Step 3: a newly delivered segment below the highest SACKed one means reordering.
    pub fn on_reordering(&mut self) {
        self.reordering_seen = true;
    }

    /// Step 4, D-SACK part: the peer reported a duplicate, so our window was too small
    /// (a spurious retransmission): widen it, once per round trip.
    pub fn on_dsack(&mut self, snd_una: SeqNum, snd_max: SeqNum) {
        if self.dsack_round.is_none_or(|round| snd_una >= round) {
            self.dsack_round = Some(snd_max);
            self.reo_wnd_mult += 1;
            self.reo_wnd_persist = REO_WND_PERSIST;
        }
    }

    /// Step 4, at the end of a recovery: after 16 recoveries without a D-SACK the window
    /// returns to its base.
    pub fn on_recovery_end(&mut self) {
        if self.reo_wnd_persist > 0 {
            self.reo_wnd_persist -= 1;
            if self.reo_wnd_persist == 0 {
                self.reo_wnd_mult = 1;
            }
        }
    }

    /// Step 4: RACK.reo_wnd, in nanoseconds. Zero before any reordering was seen once
    /// recovery started or three segments' worth were SACKed (it then acts like the
    /// duplicate-ACK threshold); otherwise a quarter of the minimum RTT per multiple, at
    /// most SRTT.
    pub fn reordering_window(
        &self,
        in_recovery: bool,
        sacked_segments: u32,
        srtt_nanos: u64,
    ) -> u64 {
        if !self.reordering_seen && (in_recovery || sacked_segments >= 3) {
            return 0;
        }
        let mult = u64::from(self.reo_wnd_mult.max(1));
        (self.min_rtt_nanos / 4 * mult).min(srtt_nanos)
    }

    /// Step 5: marks lost every segment sent before RACK's reference and still missing
    /// RACK.rtt + `reo_wnd` after it was sent. Returns the bytes newly marked and, if some
    /// candidates are not overdue yet, how long until the next one is (the reordering
    /// timer).
    pub fn detect_loss(
        &self,
        now: Instant,
        reo_wnd_nanos: u64,
        board: &mut Scoreboard,
    ) -> (u32, Option<u64>) {
        let Some((latest_ts, latest_end)) = self.latest else {
            return (0, None);
        };
        let mut wait: Option<u64> = None;
        let marked = board.mark_lost(|segment| {
            if !sent_after(latest_ts, latest_end, segment.sent, segment.end) {
                return false;
            }
            let deadline = segment
                .sent
                .saturating_add_nanos(self.rtt_nanos.saturating_add(reo_wnd_nanos));
            if deadline <= now {
                return true;
            }
            let remaining = deadline.nanos_since(now);
            wait = Some(wait.map_or(remaining, |w| w.max(remaining)));
            false
        });
        (marked, wait)
    }

    /// The RTT of RACK's reference segment, in nanoseconds.
    pub fn rtt_nanos(&self) -> u64 {
        self.rtt_nanos
    }

    pub fn min_rtt_nanos(&self) -> u64 {
        self.min_rtt_nanos
    }
}

/// RACK_sent_after: was (t1, seq1) sent after (t2, seq2)? Equal times are ordered by
/// sequence number.
fn sent_after(t1: Instant, seq1: SeqNum, t2: Instant, seq2: SeqNum) -> bool {
    t1 > t2 || (t1 == t2 && seq1 > seq2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    const MS: u64 = 1_000_000;

    /// Five 100-byte segments from 1000, sent at 0..4 ms.
    fn five() -> Scoreboard {
        let mut board = Scoreboard::default();
        for i in 0..5u32 {
            board.on_send(
                SeqNum(1000 + i * 100),
                SeqNum(1100 + i * 100),
                at(u64::from(i)),
            );
        }
        board
    }

    #[test]
    fn a_segment_sent_before_a_delivered_one_is_lost_after_the_reordering_window() {
        let mut board = five();
        let mut rack = Rack::default();
        rack.on_rtt_sample(10 * MS);
        // The fourth segment (sent at 3 ms) is SACKed at 13 ms: RTT 10 ms.
        board.on_sack_block(SeqNum(1300), SeqNum(1400), |s| {
            rack.on_delivered(s, at(13), false)
        });
        let reo = rack.reordering_window(false, 1, 10 * MS);
        assert_eq!(reo, 10 * MS / 4);
        // At 13 ms the first segment (sent at 0) is due at 0 + 10 + 2.5 = 12.5 ms: lost;
        // the second (1 ms) at 13.5 and the third (2 ms) at 14.5: the timer waits 1.5 ms.
        let (lost, wait) = rack.detect_loss(at(13), reo, &mut board);
        assert_eq!(lost, 100);
        assert_eq!(wait, Some(MS + MS / 2));
        let (lost, wait) = rack.detect_loss(at(15), reo, &mut board);
        assert_eq!((lost, wait), (200, None));
        // The fifth, sent after the reference, is not judged.
        assert_eq!(board.next_lost().map(|s| s.start), Some(SeqNum(1000)));
        assert_eq!(board.lost_bytes(), 300);
    }

    #[test]
    fn without_reordering_the_window_closes_once_three_segments_are_sacked() {
        let mut rack = Rack::default();
        rack.on_rtt_sample(8 * MS);
        assert_eq!(rack.reordering_window(false, 2, 8 * MS), 2 * MS);
        assert_eq!(rack.reordering_window(false, 3, 8 * MS), 0);
        assert_eq!(rack.reordering_window(true, 0, 8 * MS), 0);
        rack.on_reordering();
        assert_eq!(rack.reordering_window(true, 5, 8 * MS), 2 * MS);
    }

    #[test]
    fn a_dsack_widens_the_window_once_per_round_trip() {
        let mut rack = Rack::default();
        rack.on_rtt_sample(8 * MS);
        rack.on_reordering();
        rack.on_dsack(SeqNum(0), SeqNum(1000));
        rack.on_dsack(SeqNum(500), SeqNum(1500));
        assert_eq!(rack.reordering_window(false, 0, 100 * MS), 2 * MS);
        rack.on_dsack(SeqNum(1000), SeqNum(2000));
        assert_eq!(rack.reordering_window(false, 0, 100 * MS), 4 * MS);
        // Capped at SRTT.
        assert_eq!(rack.reordering_window(false, 0, 3 * MS), 3 * MS);
        for _ in 0..16 {
            rack.on_recovery_end();
        }
        assert_eq!(rack.reordering_window(false, 0, 100 * MS), 2 * MS);
    }

    #[test]
    fn an_ack_of_the_original_does_not_date_a_retransmission() {
        let mut board = five();
        let mut rack = Rack::default();
        rack.on_rtt_sample(10 * MS);
        board.mark_lost(|s| s.start == SeqNum(1000));
        board.on_retransmit(SeqNum(1000), at(20));
        // An ACK at 21 ms whose echo dates from before the retransmission answers the
        // original: ignored.
        board.on_cumulative_ack(SeqNum(1100), |s| rack.on_delivered(s, at(21), true));
        assert_eq!(rack.latest, None);
    }
}
