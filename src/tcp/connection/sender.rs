//! What data may go out: retransmission of the first unacknowledged segment, zero-window
//! probes, and new data within the send and congestion windows under Nagle's algorithm and
//! sender silly-window avoidance (RFC 1122 §4.2.3.4).

use super::send::FinState;
use super::{Connection, State};
use crate::tcp::congestion::{self, CongestionControl};
use crate::time::Instant;
use crate::wire::{SeqNum, TcpOptions};

/// What new data (or a FIN) may leave from SND.NXT now.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum NewData {
    /// `len` bytes from `seq`, with FIN if `fin`; `cwnd_limited` when the congestion window
    /// cut it short of what was queued (RFC 7661).
    Send {
        seq: SeqNum,
        len: u32,
        fin: bool,
        cwnd_limited: bool,
    },
    /// Nothing to send, or not in this state.
    Nothing,
    /// Data is waiting but the windows leave no room; `cwnd` when the congestion window
    /// is the tighter one.
    HeldByWindow { cwnd: bool },
    /// Nagle's algorithm holds a small segment while data is unacknowledged (RFC 896).
    HeldByNagle,
    /// The usable window is too small to be worth using (RFC 1122 §4.2.3.4): wait for a
    /// larger window or the override timeout.
    HeldBySillyWindow,
}

impl Connection {
    /// The decision of RFC 1122 §4.2.3.4 for the next segment of new data, at most `room`
    /// bytes of payload. With `override_timeout` (the persist timer fired) a small segment
    /// may fill what window there is.
    #[inline(always)]
    pub(super) fn new_data(&self, room: usize, override_timeout: bool) -> NewData {
        let end = self.snd.data_end();
        if self.snd.nxt >= end && self.snd.fin != FinState::Queued {
            return NewData::Nothing; // nothing queued past SND.NXT: decided inline
        }
        self.new_data_queued(end, room, override_timeout)
    }

    /// [`Connection::new_data`] with data or a FIN queued up to `end`.
    #[inline(always)]
    fn new_data_queued(&self, end: SeqNum, room: usize, override_timeout: bool) -> NewData {
        let seq = self.snd.nxt;
        let unsent = if seq < end {
            end.since(seq) as usize
        } else {
            0
        };
        let fin_due = self.snd.fin == FinState::Queued && seq <= end;
        if unsent == 0 && !fin_due {
            return NewData::Nothing;
        }
        let fin_only_allowed = self.state == State::FinWait1
            && !self.snd.syn_acked
            && self.snd.buf.is_empty()
            && self.snd.nxt == self.snd.iss + 1u32;
        if !(fin_only_allowed || self.snd.syn_acked && self.state.may_send_data()) {
            return NewData::Nothing;
        }
        let (usable, cwnd_bound) = self.usable_window(seq);
        // A full-sized segment: the MSS, or what this segment's room allows.
        let mss = usize::from(self.snd.mss).min(room);
        let len = unsent.min(usable).min(mss);
        let fin = fin_due && len == unsent;
        if len == 0 && !fin {
            // Data waits for a window: the congestion window's, or the peer's.
            return NewData::HeldByWindow { cwnd: cwnd_bound };
        }
        if len > 0 && len < mss {
            // A maximum-sized segment may always go; a smaller one only when it carries all
            // that is queued (and Nagle allows it), when it is at least half the largest
            // window the peer offered, or when the override timeout fired.
            let nothing_in_flight = self.snd.nxt == self.snd.una;
            let sends_all = len == unsent;
            let nagle_allows =
                self.app.nodelay || nothing_in_flight || self.snd.fin != FinState::Open;
            let half_window = self.snd.max_wnd > 0 && len as u32 >= self.snd.max_wnd / 2;
            if sends_all && !nagle_allows && !half_window {
                return NewData::HeldByNagle;
            }
            if !sends_all && !half_window && !override_timeout {
                return NewData::HeldBySillyWindow;
            }
        }
        NewData::Send {
            seq,
            len: len as u32,
            fin,
            cwnd_limited: cwnd_bound && unsent > usable,
        }
    }

    /// Bytes the congestion window counts as in flight: the pipe with SACK (RFC 6675),
    /// else everything outstanding.
    pub(super) fn in_flight(&self) -> u32 {
        if self.negotiated.sack {
            self.sack.board.pipe()
        } else {
            self.snd.flight_size()
        }
    }

    /// Bytes from `seq` the windows let out now, and whether the congestion window (not
    /// the peer's) is the tighter bound. With SACK the congestion side is what
    /// [`Connection::sack_send_allowance`] allows; without, SND.UNA + min(SND.WND, cwnd).
    fn usable_window(&self, seq: SeqNum) -> (usize, bool) {
        let from = |limit: SeqNum| {
            if limit > seq {
                limit.since(seq) as usize
            } else {
                0
            }
        };
        if self.negotiated.sack {
            let peer = from(self.snd.una + self.snd.wnd);
            let allowance = self.sack_send_allowance() as usize;
            (peer.min(allowance), allowance < peer)
        } else {
            let cwnd = self.recovery.window(&self.cc);
            (
                from(self.snd.una + self.snd.wnd.min(cwnd)),
                cwnd <= self.snd.wnd,
            )
        }
    }

    /// New data (or data again after a timeout) within the send and congestion windows.
    #[inline]
    pub(super) fn emit_new_data(
        &mut self,
        now: Instant,
        override_timeout: bool,
        options: TcpOptions,
        out: &mut [u8],
    ) -> Option<usize> {
        let room = self.payload_room(out, &options);
        self.restart_after_idle(now, room, override_timeout);
        match self.new_data(room, override_timeout) {
            NewData::Send {
                seq,
                len,
                fin,
                cwnd_limited,
            } => {
                self.snd.cwnd_limited |= cwnd_limited;
                Some(self.emit_segment(now, seq, len as usize, fin, options, out))
            }
            NewData::Nothing => {
                // Everything queued is out. Using less than half the window makes the
                // flight application-limited (RFC 7661; Linux's test in slow start).
                if self.in_flight() < self.congestion_window() / 2 {
                    self.snd.cwnd_limited = false;
                }
                None
            }
            NewData::HeldByWindow { cwnd } => {
                self.snd.cwnd_limited |= cwnd;
                None
            }
            NewData::HeldByNagle | NewData::HeldBySillyWindow => None,
        }
    }

    /// RFC 5681 §4.1: when data is about to go out after an idle period longer than the
    /// RTO, restart from the initial window.
    fn restart_after_idle(&mut self, now: Instant, room: usize, override_timeout: bool) {
        let idle = self.snd.nxt == self.snd.una && !self.snd.has_outstanding();
        if idle
            && self.probes.last_data_send != Instant::ZERO
            && now.nanos_since(self.probes.last_data_send) > self.rtx.rtt.rto_nanos()
            && matches!(self.new_data(room, override_timeout), NewData::Send { .. })
        {
            let iw = congestion::initial_window(
                self.config.initial_window_segments,
                u32::from(self.snd.mss),
            );
            self.cc.on_idle_restart(now, iw);
        }
    }

    /// Fast retransmit or NewReno partial-ACK retransmission: one segment from SND.UNA,
    /// regardless of the congestion window (RFC 5681 §3.2 step 2, RFC 6582 §3.2 step 4).
    pub(super) fn emit_retransmission(
        &mut self,
        now: Instant,
        options: TcpOptions,
        out: &mut [u8],
    ) -> Option<usize> {
        if !self.state.may_send_data() || !self.snd.has_outstanding() {
            return None;
        }
        let seq = self.snd.una;
        let data_end = self.snd.data_end();
        let len = self
            .snd
            .queued_from(seq)
            .min(usize::from(self.snd.mss))
            .min(self.payload_room(out, &options));
        let fin =
            self.snd.fin == FinState::Queued && seq + len == data_end && self.snd.max > data_end;
        if len == 0 && !fin {
            return None;
        }
        Some(self.emit_segment(now, seq, len, fin, options, out))
    }

    /// A zero-window probe: one byte at SND.UNA past the closed window (RFC 9293 §3.8.6.1).
    pub(super) fn emit_window_probe(
        &mut self,
        now: Instant,
        options: TcpOptions,
        out: &mut [u8],
    ) -> Option<usize> {
        if !self.state.may_send_data() || self.snd.wnd != 0 {
            return None;
        }
        let seq = self.snd.una;
        if seq >= self.snd.data_end() {
            return None;
        }
        self.snd.nxt = seq;
        self.snd.probing = true;
        self.stats.events().window_probes += 1;
        self.probes.window_probes_unanswered =
            self.probes.window_probes_unanswered.saturating_add(1);
        Some(self.emit_segment(now, seq, 1, false, options, out))
    }
}
