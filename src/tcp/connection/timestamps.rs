//! TCP timestamps (RFC 7323 §3–5): the clock we stamp segments with, the peer's value we
//! echo (TS.Recent), and PAWS, which rejects old duplicates whose sequence numbers wrapped.

use std::time::Duration;

use crate::time::Instant;
use crate::wire::SeqNum;

/// How long TS.Recent stays valid without being refreshed (RFC 7323 §5.5: 24 days, as the
/// 1 ms clock wraps its sign bit after 24.8 days).
const TS_RECENT_VALID: Duration = Duration::from_secs(24 * 24 * 3600);

/// Nanoseconds per tick of our timestamp clock: 1 ms, the finest RFC 7323 §5.4 allows for
/// PAWS to work (the clock must not wrap within an MSL).
const TICK_NANOS: u64 = 1_000_000;

/// Our timestamp clock at `now` for a connection whose offset is `offset`: a TSval.
pub fn clock_value(now: Instant, offset: u32) -> u32 {
    ((now.as_nanos() / TICK_NANOS) as u32).wrapping_add(offset)
}

/// Timestamp state of one connection, used once both SYNs carried the option.
#[derive(Clone, Debug, Default)]
pub(super) struct Timestamps {
    /// Added to our clock so the values say nothing about the host's uptime (RFC 7323 §7.1).
    offset: u32,
    /// TS.Recent: the peer's TSval to echo in TSecr (§4.3).
    recent: u32,
    /// When TS.Recent was last set.
    recent_at: Instant,
    /// Last.ACK.sent: the RCV.NXT our latest segment acknowledged (§4.3).
    pub last_ack_sent: SeqNum,
}

impl Timestamps {
    pub fn set_offset(&mut self, offset: u32) {
        self.offset = offset;
    }

    pub fn offset(&self) -> u32 {
        self.offset
    }

    /// TSval for a segment sent at `now`.
    pub fn value(&self, now: Instant) -> u32 {
        clock_value(now, self.offset)
    }

    /// The value to echo (TSecr).
    pub fn echo(&self) -> u32 {
        self.recent
    }

    /// The peer's SYN (or SYN,ACK) carried `tsval`: the first TS.Recent.
    pub fn on_syn(&mut self, tsval: u32, now: Instant) {
        self.recent = tsval;
        self.recent_at = now;
    }

    /// PAWS (§5.3 R1): a segment whose TSval is older than TS.Recent is an old duplicate —
    /// unless TS.Recent itself is older than 24 days (§5.5), when it proves nothing.
    pub fn is_old_duplicate(&self, tsval: u32, now: Instant) -> bool {
        let older = (tsval.wrapping_sub(self.recent) as i32) < 0;
        older && now.saturating_duration_since(self.recent_at) < TS_RECENT_VALID
    }

    /// §4.3: TS.Recent takes SEG.TSval when the segment is not older and covers
    /// Last.ACK.sent (SEG.SEQ =< Last.ACK.sent), so the echo times the oldest unacknowledged
    /// segment and delayed ACKs do not shorten the measured RTT.
    pub fn on_acceptable_segment(&mut self, tsval: u32, seq: SeqNum, now: Instant) {
        let not_older = (tsval.wrapping_sub(self.recent) as i32) >= 0;
        if not_older && seq <= self.last_ack_sent {
            self.recent = tsval;
            self.recent_at = now;
        }
    }

    /// True when the echoed `tsecr` is older than a segment sent at `sent`: the ACK answers
    /// an earlier transmission of it.
    pub fn predates(&self, tsecr: u32, sent: Instant) -> bool {
        (self.value(sent).wrapping_sub(tsecr) as i32) > 0
    }

    /// The RTT an echoed `tsecr` measures at `now`, in nanoseconds (1 ms resolution), if the
    /// echo is one of ours (not zero, not from the future).
    pub fn rtt_nanos(&self, tsecr: u32, now: Instant) -> Option<u64> {
        if tsecr == 0 {
            return None;
        }
        let ticks = self.value(now).wrapping_sub(tsecr);
        (ticks as i32 >= 0).then(|| u64::from(ticks) * TICK_NANOS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_tick_every_millisecond_from_the_offset() {
        let mut ts = Timestamps::default();
        ts.set_offset(u32::MAX - 1);
        assert_eq!(ts.value(Instant::ZERO), u32::MAX - 1);
        assert_eq!(ts.value(Instant::from_millis(3)), 1);
        assert_eq!(
            ts.rtt_nanos(u32::MAX, Instant::from_millis(3)),
            Some(2_000_000)
        );
        assert_eq!(ts.rtt_nanos(0, Instant::from_millis(3)), None);
    }

    #[test]
    fn paws_rejects_older_values_across_the_wrap() {
        let mut ts = Timestamps::default();
        ts.on_syn(u32::MAX - 5, Instant::ZERO);
        assert!(ts.is_old_duplicate(u32::MAX - 6, Instant::ZERO));
        assert!(
            !ts.is_old_duplicate(3, Instant::ZERO),
            "3 is after the wrap"
        );
        // After 24 days without an update TS.Recent proves nothing.
        assert!(!ts.is_old_duplicate(u32::MAX - 6, Instant::ZERO + TS_RECENT_VALID));
    }

    #[test]
    fn ts_recent_follows_the_segment_at_last_ack_sent() {
        let mut ts = Timestamps::default();
        ts.on_syn(100, Instant::ZERO);
        ts.last_ack_sent = SeqNum(1000);
        // A later segment beyond Last.ACK.sent (delayed ACK pending) does not move it.
        ts.on_acceptable_segment(110, SeqNum(2000), Instant::ZERO);
        assert_eq!(ts.echo(), 100);
        ts.on_acceptable_segment(105, SeqNum(1000), Instant::ZERO);
        assert_eq!(ts.echo(), 105);
        // Never backwards.
        ts.on_acceptable_segment(101, SeqNum(900), Instant::ZERO);
        assert_eq!(ts.echo(), 105);
    }
}
