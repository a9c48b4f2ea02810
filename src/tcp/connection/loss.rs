//! Loss detection and repair when the peer agreed on SACK: the scoreboard of what was sent
//! (RFC 6675), RACK-TLP (RFC 8985) deciding what is lost, and PRR (RFC 6937) the rate of
//! sending while recovery lasts. A connection without SACK uses NewReno recovery instead
//! (`crate::tcp::recovery::new_reno`, driven from `ack`).

use super::pending::Owed;
use super::send::FinState;
use super::Connection;
use crate::tcp::congestion::{AckEvent, CongestionControl};
use crate::tcp::recovery::tlp::{ProbeOutcome, Tlp};
use crate::tcp::recovery::SackRecovery;
use crate::tcp::timer::Timer;
use crate::time::Instant;
use crate::wire::{SackBlocks, SeqNum, TcpOptions, TcpRepr};

/// SACK blocks of one ACK, checked against what we sent (RFC 2018 §4, RFC 2883 §4).
struct CheckedBlocks {
    /// The first block reported a duplicate (D-SACK): below the cumulative ACK, or inside
    /// the second block.
    dsack: bool,
    /// The blocks naming data we sent and the peer holds beyond SND.UNA.
    blocks: [(SeqNum, SeqNum); SackBlocks::CAPACITY],
    count: usize,
}

impl Connection {
    /// Sorts an ACK's SACK blocks into a D-SACK report and usable blocks; blocks that name
    /// nothing we sent (beyond SND.MAX, reversed, or wider than any window we were offered)
    /// are ignored, so a lying peer cannot mark unsent data delivered.
    fn check_sack_blocks(&self, blocks: &SackBlocks) -> CheckedBlocks {
        let mut checked = CheckedBlocks {
            dsack: false,
            blocks: [(SeqNum(0), SeqNum(0)); SackBlocks::CAPACITY],
            count: 0,
        };
        let raw = blocks.as_slice();
        if let Some(&(left, right)) = raw.first() {
            let (left, right) = (SeqNum(left), SeqNum(right));
            let inside_second = raw
                .get(1)
                .is_some_and(|&(l, r)| SeqNum(l) <= left && right <= SeqNum(r));
            checked.dsack = left < right && (right <= self.snd.una || inside_second);
        }
        for &(left, right) in raw.iter().skip(usize::from(checked.dsack)) {
            let (left, right) = (SeqNum(left).max(self.snd.una), SeqNum(right));
            if left < right && right <= self.snd.max && right.since(left) <= self.snd.max_wnd.max(1)
            {
                checked.blocks[checked.count] = (left, right);
                checked.count += 1;
            }
        }
        checked
    }

    /// Every acceptable ACK on a SACK connection: the scoreboard learns what was delivered
    /// (cumulatively up to SND.UNA, now already advanced from `old_una`, and by SACK blocks),
    /// RACK what was sent latest among it, then loss detection, the recovery episode, PRR,
    /// the congestion controller outside recovery, and the tail loss probe.
    pub(super) fn on_sack_ack(&mut self, now: Instant, seg: &TcpRepr, old_una: SeqNum, acked: u32) {
        let checked = self.check_sack_blocks(&seg.options.sack_blocks);
        let tsecr = seg.options.timestamps.map(|(_, ecr)| ecr);
        let ts = &self.ts;
        let echo_predates = |sent: Instant| tsecr.is_some_and(|ecr| ts.predates(ecr, sent));
        let SackRecovery { board, rack, .. } = &mut self.sack;
        let mut delivered = 0;
        let mut reordered = false;
        // The RTT of the newest first transmission this ACK delivered: a sample per ACK
        // for HyStart++ (RFC 9406 §4.2), unambiguous as it was sent once.
        let mut rtt_sample: Option<u64> = None;
        let mut on_delivered = |s: &crate::tcp::recovery::scoreboard::SentSegment| {
            // RACK looks at the echo only for a retransmitted segment (RFC 8985 §6.2 step
            // 2): the first transmission of anything needs no timestamp arithmetic.
            rack.on_delivered(s, now, s.is_retransmitted() && echo_predates(s.sent));
            if !s.is_retransmitted() {
                let rtt = now.nanos_since(s.sent);
                rtt_sample = Some(rtt_sample.map_or(rtt, |r| r.min(rtt)));
            }
        };
        if self.snd.una > old_una {
            let d = board.on_cumulative_ack(self.snd.una, &mut on_delivered);
            delivered += d.bytes;
            reordered |= d.reordered;
        }
        for &(left, right) in &checked.blocks[..checked.count] {
            let d = board.on_sack_block(left, right, &mut on_delivered);
            delivered += d.bytes;
            reordered |= d.reordered;
        }
        if reordered {
            rack.on_reordering();
        }
        if checked.dsack {
            rack.on_dsack(self.snd.una, self.snd.max);
        }
        self.detect_losses(now);
        self.advance_recovery(now, delivered, acked, rtt_sample);
        let smss = u32::from(self.snd.mss);
        if self.sack.tlp.on_ack(self.snd.una, checked.dsack) == ProbeOutcome::RepairedLoss {
            // The probe repaired a loss no other signal saw: the controller must hear of it
            // (RFC 8985 §7.4.2), as for a recovery that ended at once.
            let flight = self.snd.flight_size();
            self.cc.on_congestion_event(now, flight, smss);
            self.cc.on_recovery_end(now, flight, smss);
        }
        if acked > 0 {
            // RFC 8985 §7.2: the probe timer restarts when new data is acknowledged.
            self.arm_loss_probe(now);
        }
    }

    /// RACK loss detection (RFC 8985 §6.2 step 5), the reordering timer for what is not
    /// overdue yet, and the start of a recovery episode when something was found lost.
    fn detect_losses(&mut self, now: Instant) {
        if !self.sack.board.needs_loss_detection() {
            self.timers.stop(Timer::Reorder);
            return;
        }
        let sacked_segments = self.sack.board.sacked_bytes() / u32::from(self.snd.mss).max(1);
        let srtt = self.rtx.rtt.srtt_nanos().unwrap_or(u64::MAX);
        let reo_wnd =
            self.sack
                .rack
                .reordering_window(self.sack.in_recovery(), sacked_segments, srtt);
        let SackRecovery { board, rack, .. } = &mut self.sack;
        let (lost, wait) = rack.detect_loss(now, reo_wnd, board);
        match wait {
            Some(nanos) => self
                .timers
                .set(Timer::Reorder, now.saturating_add_nanos(nanos)),
            None => self.timers.stop(Timer::Reorder),
        }
        if lost > 0 && !self.sack.in_recovery() {
            self.enter_sack_recovery(now);
        }
    }

    /// RFC 6675 §5 with RFC 6937: loss recovery begins; everything sent so far must be
    /// acknowledged before it ends, the controller sets its threshold once for the episode,
    /// and PRR paces what goes out.
    fn enter_sack_recovery(&mut self, now: Instant) {
        let flight = self.snd.flight_size();
        self.cc
            .on_congestion_event(now, flight, u32::from(self.snd.mss));
        self.sack.recovery_point = Some(self.snd.max);
        self.sack.prr.start(flight, self.cc.ssthresh());
        // The first retransmission may go at once, also when a timer found the loss.
        let pipe = self.sack.board.pipe();
        self.sack.prr.on_ack(0, pipe, u32::from(self.snd.mss));
        self.sack.tlp.cancel();
        self.timers.stop(Timer::LossProbe);
        self.stats.events().fast_retransmits += 1;
    }

    /// After an ACK's deliveries: end the recovery once SND.UNA passed the recovery point,
    /// else let PRR set what may be sent; outside recovery the controller grows the window
    /// with what was cumulatively acknowledged.
    fn advance_recovery(&mut self, now: Instant, delivered: u32, acked: u32, rtt: Option<u64>) {
        let smss = u32::from(self.snd.mss);
        let flight = self.snd.flight_size();
        match self.sack.recovery_point {
            Some(point) if self.snd.una >= point => {
                self.sack.recovery_point = None;
                self.sack.rack.on_recovery_end();
                self.cc.on_recovery_end(now, flight, smss);
            }
            Some(_) => {
                let pipe = self.sack.board.pipe();
                self.sack.prr.on_ack(delivered, pipe, smss);
            }
            None if acked > 0 => {
                let event = AckEvent {
                    now,
                    bytes_acked: acked,
                    rtt_sample_nanos: rtt,
                    bytes_in_flight: flight,
                    app_limited: !self.snd.cwnd_limited,
                    smss,
                    srtt_nanos: self.rtx.rtt.srtt_nanos().unwrap_or(0),
                    snd_una: self.snd.una,
                    snd_nxt: self.snd.nxt,
                };
                self.cc.on_ack(&event);
            }
            None => {}
        }
    }

    /// Bytes a SACK connection may add to what is in flight now: PRR's allowance during
    /// recovery, else the congestion window less the pipe (RFC 6675 §5 step 4); nothing while
    /// the scoreboard is full.
    pub(super) fn sack_send_allowance(&self) -> u32 {
        if self.sack.board.is_full() {
            return 0;
        }
        if self.sack.in_recovery() {
            // Counted in whole segments, as Linux does: any allowance lets one out.
            match self.sack.prr.allowance() {
                0 => 0,
                bytes => bytes.max(u32::from(self.snd.mss)),
            }
        } else {
            self.cc.cwnd().saturating_sub(self.sack.board.pipe())
        }
    }

    /// RFC 6675 §4 NextSeg rule 1: the first segment deemed lost and not yet sent again,
    /// if the allowance lets anything out; cut to the room this segment has.
    pub(super) fn emit_lost_retransmission(
        &mut self,
        now: Instant,
        options: TcpOptions,
        out: &mut [u8],
    ) -> Option<usize> {
        if !self.negotiated.sack || !self.state.may_send_data() {
            return None;
        }
        let lost = self.sack.board.next_lost()?;
        if self.sack_send_allowance() == 0 {
            return None;
        }
        self.emit_record(now, lost.start, lost.end, options, out)
    }

    /// Sends the recorded segment `[start, end)` again (its data, and our FIN if it holds
    /// it), split first if this segment's room is smaller.
    fn emit_record(
        &mut self,
        now: Instant,
        start: SeqNum,
        end: SeqNum,
        options: TcpOptions,
        out: &mut [u8],
    ) -> Option<usize> {
        let data_end = self.snd.data_end();
        let fin_in_record = self.snd.fin != FinState::Open && end > data_end;
        let data_len = (end.min(data_end).since(start)) as usize;
        let room = self.payload_room(out, &options);
        let len = data_len.min(room);
        if len < data_len {
            self.sack.board.split(start, len as u32);
        }
        let fin = fin_in_record && len == data_len;
        if len == 0 && !fin {
            return None;
        }
        Some(self.emit_segment(now, start, len, fin, options, out))
    }

    /// A segment went out: the scoreboard records new data and marks retransmissions, and
    /// during recovery PRR counts it.
    pub(super) fn record_transmission(&mut self, seq: SeqNum, end: SeqNum, now: Instant) {
        if !self.negotiated.sack {
            return;
        }
        let old_max = self.snd.max;
        if seq < old_max {
            self.sack
                .board
                .on_retransmit_range(seq, end.min(old_max), now);
        }
        if end > old_max {
            self.sack.board.on_send(seq.max(old_max), end, now);
        }
        if self.sack.in_recovery() {
            self.sack.prr.on_send(end.since(seq));
        }
    }

    /// The reordering timer fired: what is still missing is now overdue.
    pub(super) fn on_reorder_timeout(&mut self, now: Instant) {
        self.detect_losses(now);
    }

    /// Keeps the loss probe timer in line: armed while data is outstanding outside
    /// another probe (RFC 8985 §7.2), two SRTTs after `now`.
    ///
    /// Also during a recovery, where RFC 8985 §7.2 schedules none: RACK finds lost
    /// retransmissions there, but only from ACKs, and when the last ACKs of a recovery are
    /// lost (the peer holds everything) none come, and without a probe the connection waits
    /// for the retransmission timeout — 200 ms at least, thousands of round trips on a
    /// short path. Through the lab at 2% loss that was every stall longer than 40 ms.
    pub(super) fn arm_loss_probe(&mut self, now: Instant) {
        let wanted = self.negotiated.sack
            && self.snd.has_outstanding()
            && self.snd.syn_acked
            && self.sack.tlp.may_schedule()
            && !self.zero_window_stalled();
        if !wanted {
            self.timers.stop(Timer::LossProbe);
            return;
        }
        let pto = self.probe_timeout_nanos();
        self.timers
            .set(Timer::LossProbe, now.saturating_add_nanos(pto));
    }

    /// RFC 8985 §7.2 PTO for the flight now outstanding.
    fn probe_timeout_nanos(&self) -> u64 {
        let one_segment = self.snd.flight_size() <= u32::from(self.snd.mss);
        Tlp::probe_timeout_nanos(
            self.rtx.rtt.srtt_nanos(),
            one_segment,
            self.rtx.rtt.rto_nanos(),
        )
    }

    /// The probe timer fired: a probe is owed if the conditions still hold.
    pub(super) fn on_loss_probe_timeout(&mut self) {
        if self.negotiated.sack && self.snd.has_outstanding() && self.state.may_send_data() {
            self.pending.insert(Owed::LossProbe);
        }
    }

    /// The probe (RFC 8985 §7.3 TLP_send_probe): the last segment sent goes again, as in
    /// the original loss probe (draft-dukkipati-tcpm-tcp-loss-probe §2), even when unsent
    /// data waits; then the retransmission timer restarts.
    ///
    /// RFC 8985 prefers one new segment. We do not, because of what the probe meets most
    /// often on a lossy path: a flight that all arrived but whose last ACKs were lost. A
    /// receiver that gets one new in-order segment may hold its ACK for its delayed-ACK time
    /// (RFC 9293 §3.8.6.3; Linux's is 40 ms — measured through the lab at 2% loss, a 40 ms
    /// stall after most probes), whereas a segment it already holds is unacceptable and
    /// must be acknowledged at once (RFC 9293 §3.10.7.4), with a D-SACK that tells us
    /// nothing was lost (§7.4 below). When the tail itself was lost, the repeat repairs it
    /// directly.
    pub(super) fn emit_loss_probe(
        &mut self,
        now: Instant,
        options: TcpOptions,
        out: &mut [u8],
    ) -> Option<usize> {
        let last = *self.sack.board.last()?;
        let first = self.sack.tlp.unanswered() == 0;
        let written = self.emit_record(now, last.start, last.end, options, out)?;
        let in_recovery = self.sack.in_recovery();
        // Sending re-armed the probe timer as if no episode were open; it is set here.
        self.timers.stop(Timer::LossProbe);
        if let Some(backoff) = self.sack.tlp.on_probe_sent(self.snd.nxt, in_recovery) {
            let pto = self.probe_timeout_nanos();
            self.timers.set(
                Timer::LossProbe,
                now.saturating_add_nanos(pto.saturating_mul(backoff)),
            );
        }
        self.stats.events().loss_probes += 1;
        if first {
            self.timers
                .set(Timer::Retransmit, self.retransmit_deadline(now, 0));
        }
        Some(written)
    }

    /// The retransmission timeout on a SACK connection (RFC 6675 §5.1): every segment not
    /// SACKed is deemed lost and goes again from the scoreboard, in order, as the window
    /// allows; recovery and any probe end.
    pub(super) fn sack_on_retransmission_timeout(&mut self) {
        if !self.snd.syn_acked {
            return;
        }
        self.sack.board.mark_lost(|_| true);
        self.sack.recovery_point = None;
        self.sack.tlp.cancel();
        self.timers.stop(Timer::Reorder);
        self.timers.stop(Timer::LossProbe);
    }

    /// True in loss recovery, with either mechanism.
    pub(super) fn in_loss_recovery(&self) -> bool {
        if self.negotiated.sack {
            self.sack.in_recovery()
        } else {
            self.recovery.in_recovery()
        }
    }
}
