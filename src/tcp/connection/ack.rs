//! The fifth step of arrival in a synchronized state (RFC 9293 §3.10.7.4, "check the ACK
//! field"): which acknowledgments are acceptable, what a new one releases, duplicates for
//! loss recovery, the send-window update, and the states an acknowledged FIN leads to.

use std::ops::ControlFlow;

use super::arrival::Reply;
use super::pending::Owed;
use super::send::FinState;
use super::{Connection, Event, State};
use crate::tcp::congestion::AckEvent;
use crate::tcp::recovery::AckAction;
use crate::tcp::timer::Timer;
use crate::time::Instant;
use crate::wire::{SeqNum, TcpRepr};

impl Connection {
    /// Fifth: the ACK field. Without it the segment is dropped.
    #[inline]
    pub(super) fn on_ack(
        &mut self,
        now: Instant,
        seg: &TcpRepr,
        payload: &[u8],
    ) -> ControlFlow<Reply> {
        let Some(ack) = seg.ack else {
            return ControlFlow::Break(Reply::Nothing);
        };
        self.check_ack(ack)?;
        // The peer answered: a zero-window probe is not unanswered any more.
        self.probes.window_probes_unanswered = 0;
        let window = u32::from(seg.window) << self.snd.wscale;
        let old_una = self.snd.una;
        let mut acked = 0;
        if ack > self.snd.una {
            if self.state == State::SynReceived {
                self.enter_established(now);
            }
            acked = self.on_new_ack(now, ack, seg.options.timestamps.map(|(_, tsecr)| tsecr));
        } else if !self.negotiated.sack
            && ack == self.snd.una
            && payload.is_empty()
            && !seg.flags.syn()
            && !seg.flags.fin()
            && window == self.snd.wnd
            && window > 0
            && self.snd.has_outstanding()
        {
            // A duplicate acknowledgment as RFC 5681 §2 defines it, counted only in an open
            // window: the answers to zero-window probes repeat SND.UNA too, and three of
            // them must not send a full segment into the closed window.
            self.on_duplicate_ack(now);
        }
        if self.negotiated.sack && self.snd.syn_acked {
            self.on_sack_ack(now, seg, old_una, acked);
        }
        self.update_send_window(seg.seq, ack, window);
        self.on_fin_acked(now)
    }

    /// Which acknowledgments are acceptable. In SYN-RECEIVED the ACK must cover our SYN
    /// (else `<SEQ=SEG.ACK><CTL=RST>`); from then on an ACK of data not yet sent, or older
    /// than SND.UNA − MAX.SND.WND, draws a challenge ACK and the segment is dropped
    /// (RFC 9293 §3.10.7.4, RFC 5961 §5.2).
    #[inline]
    fn check_ack(&self, ack: SeqNum) -> ControlFlow<Reply> {
        if !self.snd.syn_acked {
            if !(self.snd.una < ack && ack <= self.snd.max) {
                return ControlFlow::Break(Reply::Reset { seq: ack });
            }
        } else if ack > self.snd.max || ack < self.snd.una - self.snd.max_wnd {
            return ControlFlow::Break(Reply::ChallengeAck);
        }
        ControlFlow::Continue(())
    }

    /// "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be updated", from the
    /// newest segment only: SND.WL1 < SEG.SEQ, or SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK.
    /// An ACK below SND.UNA says nothing about the window.
    #[inline]
    fn update_send_window(&mut self, seq: SeqNum, ack: SeqNum, window: u32) {
        let newer = self.snd.wl1 < seq || (self.snd.wl1 == seq && self.snd.wl2 <= ack);
        if ack >= self.snd.una && newer {
            if self.snd.wnd == 0 && window > 0 {
                self.probes.persist_backoff = 0;
                if std::mem::take(&mut self.snd.probing) && self.snd.nxt > self.snd.una {
                    // The probe byte went past a closed window and was dropped: send on
                    // from SND.UNA, not after it, or it leaves a hole that costs a fast
                    // retransmit or a timeout.
                    self.snd.nxt = self.snd.una;
                }
            }
            self.snd.update_window(window, seq, ack);
        }
        // Zero-window: while the peer keeps answering, the connection is alive (RFC 1122
        // §4.2.2.17), so retransmission attempts are not held against it.
        if self.snd.wnd == 0 {
            self.rtx.retries = 0;
        }
    }

    /// The states an acknowledgment of our FIN leads to (RFC 9293 §3.10.7.4, fifth step).
    #[inline]
    fn on_fin_acked(&mut self, now: Instant) -> ControlFlow<Reply> {
        if self.snd.fin != FinState::Acked {
            return ControlFlow::Continue(());
        }
        match self.state {
            State::FinWait1 => {
                self.set_state(State::FinWait2);
                if self.app.orphaned {
                    self.arm_orphan_timer(now);
                }
                ControlFlow::Continue(())
            }
            State::Closing => {
                self.enter_time_wait(now);
                ControlFlow::Break(Reply::Nothing)
            }
            State::LastAck => {
                self.enter_closed(None);
                ControlFlow::Break(Reply::Nothing)
            }
            _ => ControlFlow::Continue(()),
        }
    }

    /// An ACK that advances SND.UNA (§3.10.7.4 fifth step; RFC 6298 §5.3; RFC 6582);
    /// `tsecr` is the timestamp it echoes, if any. Returns the bytes of data (and FIN) it
    /// acknowledged.
    pub(super) fn on_new_ack(&mut self, now: Instant, ack: SeqNum, tsecr: Option<u32>) -> u32 {
        // Bytes of data (and our FIN) acknowledged; the SYN does not count toward window
        // growth (RFC 5681 §3.1 counts acknowledged data).
        let mut acked = ack.since(self.snd.una);
        if !self.snd.syn_acked {
            self.on_syn_acknowledged();
            acked -= 1;
        }
        let data_acked = (acked as usize).min(self.snd.buf.len());
        self.snd.buf.consume(data_acked);
        self.stats.bytes_acked += data_acked as u64;
        if acked as usize > data_acked && self.snd.fin == FinState::Queued {
            self.snd.fin = FinState::Acked;
        }
        self.snd.una = ack;
        self.snd.probing = false;
        if self.snd.nxt < ack {
            self.snd.nxt = ack;
        }
        let rtt_sample_nanos = self
            .rtx
            .take_sample(now, ack)
            .or_else(|| self.timestamp_rtt_sample(now, tsecr));
        self.rtx.retries = 0;
        self.rtx.last_progress = now;
        self.probes.persist_backoff = 0;
        // The path delivered since: an earlier ICMP soft error is no longer news (as Linux
        // clears its soft error on an acknowledgment).
        self.app.soft_error = None;
        let flight = self.snd.flight_size();
        let event = AckEvent {
            now,
            bytes_acked: acked,
            rtt_sample_nanos,
            bytes_in_flight: flight,
            app_limited: !self.snd.cwnd_limited,
            smss: u32::from(self.snd.mss),
            srtt_nanos: self.rtx.rtt.srtt_nanos().unwrap_or(0),
            snd_una: self.snd.una,
            snd_nxt: self.snd.nxt,
        };
        if let Some(rtt) = rtt_sample_nanos {
            self.sack.rack.on_rtt_sample(rtt);
        }
        // With SACK, recovery and window growth follow in `on_sack_ack`.
        let action = if self.negotiated.sack {
            AckAction::None
        } else {
            self.recovery.on_new_ack(ack, &event, &mut self.cc)
        };
        let restart_timer = match action {
            AckAction::None => true,
            AckAction::RetransmitFirstUnacked { restart_timer } => {
                self.pending.insert(Owed::RetransmitHead);
                restart_timer
            }
        };
        if flight == 0 {
            self.timers.stop(Timer::Retransmit);
        } else if restart_timer {
            self.timers
                .set(Timer::Retransmit, self.retransmit_deadline(now, 0));
        }
        if data_acked > 0 && self.app.writer_blocked {
            self.app.writer_blocked = false;
            self.raise(Event::Writable);
        }
        if self.snd.buf.is_empty() {
            // Everything sent was acknowledged: the storage stays for the next send, and
            // goes back to the pool once the connection is idle (`idle_buffers`).
            self.ring_drained();
        }
        acked
    }

    /// After a retransmission Karn's rule leaves no timed segment, but an echoed timestamp
    /// still says when the acknowledged copy was sent (RFC 7323 §4.1).
    fn timestamp_rtt_sample(&mut self, now: Instant, tsecr: Option<u32>) -> Option<u64> {
        if !self.negotiated.timestamps || !self.rtx.retransmitted_unsampled {
            return None;
        }
        let sample = self.ts.rtt_nanos(tsecr?, now)?;
        self.rtx.take_sample_nanos(sample);
        Some(sample)
    }

    fn on_duplicate_ack(&mut self, now: Instant) {
        let action = self.recovery.on_duplicate_ack(
            now,
            self.snd.una,
            self.snd.max,
            self.snd.flight_size(),
            u32::from(self.snd.mss),
            &mut self.cc,
        );
        self.stats.events().duplicate_acks_in += 1;
        if let AckAction::RetransmitFirstUnacked { .. } = action {
            self.stats.events().fast_retransmits += 1;
            self.pending.insert(Owed::RetransmitHead);
            self.rtx.probe = None;
        }
    }
}
