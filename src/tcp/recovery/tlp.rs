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
    /// TLP.is_retrans: the probe repeated a segment (no new data was available).
    is_retrans: bool,
}

/// What the ACK of a probe says.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// No probe is open, or the ACK does not reach it yet.
    Pending,
    /// The probe's ACK shows nothing was lost: new data probed, or a D-SACK reported the
    /// repeated segment as a duplicate.
    NothingLost,
    /// A repeated segment was acknowledged without a D-SACK: the original was lost and
    /// the probe repaired it; the congestion controller must hear of the loss.
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

    /// A probe may be scheduled only outside recovery and outside another probe's episode.
    pub fn may_schedule(&self) -> bool {
        self.end_seq.is_none()
    }

    /// The probe went out; `snd_nxt` is SND.NXT after it.
    pub fn on_probe_sent(&mut self, snd_nxt: SeqNum, is_retrans: bool) {
        self.end_seq = Some(snd_nxt);
        self.is_retrans = is_retrans;
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
        if !self.is_retrans || dsack {
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
        tlp.on_probe_sent(SeqNum(5000), true);
        assert!(!tlp.may_schedule());
        assert_eq!(tlp.on_ack(SeqNum(4000), false), ProbeOutcome::Pending);
        assert_eq!(tlp.on_ack(SeqNum(5000), false), ProbeOutcome::RepairedLoss);
        tlp.on_probe_sent(SeqNum(6000), true);
        assert_eq!(tlp.on_ack(SeqNum(6000), true), ProbeOutcome::NothingLost);
        tlp.on_probe_sent(SeqNum(7000), false);
        assert_eq!(tlp.on_ack(SeqNum(7000), false), ProbeOutcome::NothingLost);
        assert!(tlp.may_schedule());
    }
}
