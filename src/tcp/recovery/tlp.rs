//! The tail loss probe (RFC 8985 §7): when the last segments of a flight are lost no later
//! segment can reveal it, so after about two round trips without an acknowledgment one
//! segment is sent to draw one, turning what would be a retransmission timeout into a
//! fast recovery.

use std::time::Duration;

use crate::wire::SeqNum;

/// Worst-case delayed ACK time of the peer (RFC 8985 §7.2: WCDelAckT, 200 ms), added to
/// the probe timeout when only one segment is in flight, as its ACK may be delayed.
pub const WORST_CASE_DELAYED_ACK: Duration = Duration::from_millis(200);

/// Least probe timeout: the clock granularity of RFC 8985 §7.2's formula, 1 ms here.
const MIN_PTO_NANOS: u64 = 1_000_000;

/// TLP state of one connection.
#[derive(Clone, Debug, Default)]
pub struct Tlp {
    /// TLP.end_seq: SND.NXT when the probe went out, while its episode is open.
    end_seq: Option<SeqNum>,
    /// The probe went out during a loss recovery, whose congestion response already
    /// covers whatever loss the probe repairs.
    sent_in_recovery: bool,
    /// Probes sent in the open episode, none answered yet.
    unanswered: u32,
}

/// Probes one episode may send before it leaves the connection to the retransmission
/// timeout: the first and two repeats, each after twice the wait of the one before.
pub const PROBES_PER_EPISODE: u32 = 3;

/// What the ACK of a probe says.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// No probe is open, or the ACK does not reach it yet.
    Pending,
    /// The probe's ACK shows nothing was lost (a D-SACK reported the repeated segment as
    /// a duplicate), or the loss it repaired is already answered by a recovery.
    NothingLost,
    /// The repeated segment was acknowledged without a D-SACK outside recovery: the
    /// original was lost and the probe repaired it; the congestion controller must hear
    /// of the loss.
    RepairedLoss,
}

impl Tlp {
    /// RFC 8985 §7.2 TLP_calc_PTO: two smoothed RTTs, plus the worst-case delayed ACK
    /// when a single segment is in flight, and never later than the RTO would fire.
    pub fn probe_timeout_nanos(srtt_nanos: Option<u64>, one_segment: bool, rto_nanos: u64) -> u64 {
        let Some(srtt) = srtt_nanos else {
            return rto_nanos.min(1_000_000_000);
        };
        let mut pto = (2 * srtt).max(MIN_PTO_NANOS);
        if one_segment {
            pto += WORST_CASE_DELAYED_ACK.as_nanos() as u64;
        }
        pto.min(rto_nanos)
    }

    /// A probe may be scheduled only outside another probe's episode.
    pub fn may_schedule(&self) -> bool {
        self.end_seq.is_none()
    }

    /// The probe (a repeated segment) went out; `snd_nxt` is SND.NXT after it. Returns how
    /// long after it, as a multiple of the probe timeout, the episode's next probe is due
    /// if none is answered — `None` once [`PROBES_PER_EPISODE`] are out.
    ///
    /// RFC 8985 §7 sends one probe and then waits for the RTO. Our probe is a segment the
    /// peer may already hold, so its answer is immediate (not delayed) and a probe that
    /// meets silence was lost or its answer was: through the lab at 2% loss, that was the
    /// cause of every remaining 200 ms stall. A repeat costs one segment; the RTO still
    /// fires when the first probe set it.
    pub fn on_probe_sent(&mut self, snd_nxt: SeqNum, in_recovery: bool) -> Option<u64> {
        if self.end_seq.is_none() {
            self.sent_in_recovery = in_recovery;
            self.unanswered = 0;
        }
        self.end_seq = Some(snd_nxt);
        self.unanswered += 1;
        (self.unanswered < PROBES_PER_EPISODE).then(|| 1 << self.unanswered)
    }

    /// Probes of the open episode sent so far (0 outside one).
    pub fn unanswered(&self) -> u32 {
        if self.end_seq.is_some() {
            self.unanswered
        } else {
            0
        }
    }

    /// RFC 8985 §7.4 TLP_process_ack: an ACK of `ack`, with `dsack` set when it reported a
    /// duplicate.
    pub fn on_ack(&mut self, ack: SeqNum, dsack: bool) -> ProbeOutcome {
        let Some(end) = self.end_seq else {
            return ProbeOutcome::Pending;
        };
        if ack < end {
            return ProbeOutcome::Pending;
        }
        self.end_seq = None;
        if dsack || self.sent_in_recovery {
            ProbeOutcome::NothingLost
        } else {
            ProbeOutcome::RepairedLoss
        }
    }

    /// Recovery or a timeout takes over: the episode ends.
    pub fn cancel(&mut self) {
        self.end_seq = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn the_timeout_is_two_rtts_plus_the_delayed_ack_for_one_segment() {
        assert_eq!(
            Tlp::probe_timeout_nanos(Some(10 * MS), false, 300 * MS),
            20 * MS
        );
        assert_eq!(
            Tlp::probe_timeout_nanos(Some(10 * MS), true, 300 * MS),
            220 * MS
        );
        assert_eq!(
            Tlp::probe_timeout_nanos(Some(10 * MS), true, 200 * MS),
            200 * MS
        );
        assert_eq!(Tlp::probe_timeout_nanos(Some(10_000), false, 200 * MS), MS);
        assert_eq!(
            Tlp::probe_timeout_nanos(None, false, 3_000 * MS),
            1_000 * MS
        );
    }

    #[test]
    fn a_repeated_segment_acknowledged_without_dsack_was_a_repaired_loss() {
        let mut tlp = Tlp::default();
        assert_eq!(tlp.on_probe_sent(SeqNum(5000), false), Some(2));
        assert!(!tlp.may_schedule());
        assert_eq!(tlp.on_ack(SeqNum(4000), false), ProbeOutcome::Pending);
        assert_eq!(tlp.on_ack(SeqNum(5000), false), ProbeOutcome::RepairedLoss);
        let _ = tlp.on_probe_sent(SeqNum(6000), false);
        assert_eq!(tlp.on_ack(SeqNum(6000), true), ProbeOutcome::NothingLost);
        // In recovery the loss is answered already.
        let _ = tlp.on_probe_sent(SeqNum(7000), true);
        assert_eq!(tlp.on_ack(SeqNum(7000), false), ProbeOutcome::NothingLost);
        assert!(tlp.may_schedule());
    }

    #[test]
    fn an_unanswered_probe_is_repeated_twice_with_doubling_waits() {
        let mut tlp = Tlp::default();
        assert_eq!(tlp.on_probe_sent(SeqNum(5000), false), Some(2));
        assert_eq!(tlp.on_probe_sent(SeqNum(5000), false), Some(4));
        assert_eq!(tlp.on_probe_sent(SeqNum(5000), false), None);
        assert_eq!(tlp.unanswered(), PROBES_PER_EPISODE);
        assert_eq!(tlp.on_ack(SeqNum(5000), true), ProbeOutcome::NothingLost);
        assert_eq!(tlp.unanswered(), 0);
        assert_eq!(tlp.on_probe_sent(SeqNum(6000), false), Some(2));
    }
}
