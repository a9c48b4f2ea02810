//! Output: the next segment the connection owes, built into the caller's buffer.

use super::pending::Owed;
use super::reset::ResetReply;
use super::send::FinState;
use super::{Connection, State};
use crate::tcp::timer::Timer;
use crate::time::Instant;
use crate::wire::tcp::{HEADER_LEN, MAX_HEADER_LEN};
use crate::wire::{SeqNum, TcpFlags, TcpOptions, TcpRepr};

impl Connection {
    /// Writes the next segment to send into `out` — TCP header (checksum zero) and payload —
    /// and returns its length, or `None` when nothing is due. `out` should hold at least
    /// 60 bytes of header plus one MSS; a smaller buffer gets smaller segments. Call it until
    /// it returns `None`.
    pub fn poll_transmit(&mut self, now: Instant, out: &mut [u8]) -> Option<usize> {
        if out.len() < MAX_HEADER_LEN || self.owes_nothing() {
            // Nothing owed: nothing changed since the timers were last brought in line.
            return None;
        }
        let written = self.next_segment(now, out);
        if written.is_some() {
            self.probes.last_send = now;
            self.stats.segments_out += 1;
        }
        self.update_timers(now);
        written
    }

    /// True when no segment can be due: no reset, SYN, retransmission, probe or ACK is owed,
    /// nothing is queued past SND.NXT and the scoreboard holds nothing lost to resend. Decided without building anything — the answer
    /// to most polls on a receiving connection.
    #[inline]
    fn owes_nothing(&self) -> bool {
        self.rst_pending.is_none()
            && self.pending.is_empty()
            && self.snd.nxt != self.snd.iss
            && self.snd.nxt >= self.snd.data_end()
            && self.snd.fin != FinState::Queued
            && !self.sack.board.has_lost_unsent()
    }

    /// The owed segments in order of precedence: a reset, our SYN, a retransmission, a
    /// persist-timer send, new data, a keepalive probe, a bare ACK.
    fn next_segment(&mut self, now: Instant, out: &mut [u8]) -> Option<usize> {
        if let Some(reply) = self.rst_pending.take() {
            return Some(reply.header(self.local_port).emit(out));
        }
        match self.state {
            State::Closed | State::Listen => return None,
            State::SynSent if self.snd.nxt == self.snd.iss => {
                return Some(self.emit_syn(now, out));
            }
            State::SynSent => return None,
            _ => {}
        }
        if !self.snd.syn_acked && self.snd.nxt == self.snd.iss {
            return Some(self.emit_syn(now, out));
        }
        let options = self.segment_options(now);
        if self.pending.take(Owed::LossProbe) {
            if let Some(n) = self.emit_loss_probe(now, options, out) {
                return Some(n);
            }
        }
        if let Some(n) = self.emit_lost_retransmission(now, options, out) {
            return Some(n);
        }
        if self.pending.take(Owed::RetransmitHead) {
            if let Some(n) = self.emit_retransmission(now, options, out) {
                return Some(n);
            }
        }
        let persist = self.pending.take(Owed::PersistSend);
        if persist && self.snd.wnd == 0 {
            if let Some(n) = self.emit_window_probe(now, options, out) {
                return Some(n);
            }
        }
        if let Some(n) = self.emit_new_data(now, persist, options, out) {
            return Some(n);
        }
        if self.pending.take(Owed::KeepaliveProbe) {
            // RFC 1122 §4.2.3.6: SEG.SEQ = SND.NXT - 1, no data; the peer answers with an ACK.
            return Some(self.emit_control(self.snd.una - 1u32, options, out));
        }
        if self.pending.contains(Owed::Ack) {
            // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, where RFC 9293's SND.NXT is our highest
            // sequence number sent: after a timeout rewinds `snd.nxt` (go-back-N), an ACK at
            // the rewound value would lie below the peer's RCV.NXT, be found unacceptable and
            // answered with another ACK, and the two ends would trade ACKs forever without
            // either processing the other's acknowledgment.
            return Some(self.emit_control(self.snd.max, options, out));
        }
        None
    }

    /// The options of a segment after the handshake: timestamps once agreed (RFC 7323
    /// §3.2: on every segment), and SACK blocks while out-of-order data is held or a
    /// duplicate is to be reported (RFC 2018 §4, RFC 2883).
    fn segment_options(&self, now: Instant) -> TcpOptions {
        let mut options = TcpOptions::default();
        if self.negotiated.timestamps {
            options.timestamps = Some((self.ts.value(now), self.ts.echo()));
        }
        if self.negotiated.sack {
            options.sack_blocks = self.rcv.sack_blocks();
        }
        options
    }

    /// Room for payload in `out` in a segment carrying `options`: what the buffer holds
    /// after the header, and no more than the peer's MSS less the options (RFC 6691).
    pub(super) fn payload_room(&self, out: &[u8], options: &TcpOptions) -> usize {
        let options_len = options.emitted_len();
        let mss_room =
            usize::from(self.snd.mss + self.snd.option_allowance).saturating_sub(options_len);
        (out.len() - HEADER_LEN - options_len).min(mss_room)
    }

    fn header(&self, seq: SeqNum, flags: TcpFlags, ack: bool, options: TcpOptions) -> TcpRepr {
        TcpRepr {
            src_port: self.local_port,
            dst_port: self.remote_port,
            seq,
            ack: ack.then_some(self.rcv.nxt),
            flags,
            window: 0,
            urgent: 0,
            options,
        }
    }

    /// Every segment we send acknowledges RCV.NXT: what was owed is paid, a D-SACK reported
    /// once is not repeated (RFC 2883 §4), and RCV.NXT becomes Last.ACK.sent (RFC 7323 §4.3).
    fn on_ack_sent(&mut self) {
        self.pending.remove(Owed::Ack);
        self.rcv.unacked_bytes = 0;
        self.timers.stop(Timer::DelayedAck);
        self.ts.last_ack_sent = self.rcv.nxt;
        if self.rcv.dsack.take().is_some() {
            self.stats.events().dsacks_sent += 1;
        }
    }

    /// SYN (SYN-SENT) or SYN,ACK (SYN-RECEIVED), first transmission or retransmission.
    fn emit_syn(&mut self, now: Instant, out: &mut [u8]) -> usize {
        let is_syn_ack = self.state != State::SynSent;
        let options = self.syn_options(now, is_syn_ack);
        let mut repr = self.header(self.snd.iss, TcpFlags::SYN, is_syn_ack, options);
        repr.window = self.rcv.syn_window() as u16;
        if is_syn_ack {
            let edge = self.rcv.nxt + self.rcv.syn_window();
            if edge > self.rcv.adv {
                self.rcv.adv = edge;
            }
            self.on_ack_sent();
        }
        let first_transmission = self.snd.max == self.snd.iss;
        if first_transmission && !self.rtx.syn_retransmitted {
            self.rtx.time_segment(self.snd.iss + 1u32, now);
        } else {
            // Karn's rule (RFC 6298 §3): an ACK may answer either copy of a SYN sent again
            // (after a timeout, or because the peer repeated its SYN); it gives no sample.
            self.rtx.probe = None;
        }
        if first_transmission {
            self.rtx.last_progress = now;
        }
        self.snd.nxt = self.snd.iss + 1u32;
        if first_transmission {
            self.snd.max = self.snd.nxt;
        }
        if !self.timers.is_armed(Timer::Retransmit) {
            self.timers
                .set(Timer::Retransmit, self.retransmit_deadline(now, 0));
        }
        repr.emit(out)
    }

    /// The options of our SYN (what we offer) or SYN,ACK (what both offered): MSS, window
    /// scale, SACK-permitted and timestamps (TSecr zero in a SYN, RFC 7323 §3.2).
    fn syn_options(&self, now: Instant, is_syn_ack: bool) -> TcpOptions {
        let (scale, timestamps, sack) = if is_syn_ack {
            (
                self.negotiated.window_scaling,
                self.negotiated.timestamps,
                self.negotiated.sack,
            )
        } else {
            (
                self.config.window_scaling,
                self.config.timestamps,
                self.config.sack,
            )
        };
        TcpOptions {
            mss: Some(self.config.mss),
            window_scale: scale.then(|| self.config.window_scale_shift()),
            sack_permitted: sack,
            timestamps: timestamps.then(|| {
                let echo = if is_syn_ack { self.ts.echo() } else { 0 };
                (self.ts.value(now), echo)
            }),
            ..TcpOptions::default()
        }
    }

    /// A pure ACK (or keepalive probe) at `seq`, carrying the current window.
    fn emit_control(&mut self, seq: SeqNum, options: TcpOptions, out: &mut [u8]) -> usize {
        let mut repr = self.header(seq, TcpFlags::NONE, true, options);
        repr.window = self.rcv.advertise(self.config.mss);
        self.on_ack_sent();
        repr.emit(out)
    }

    /// Builds a segment of `len` bytes from the send buffer at `seq`, optionally with FIN,
    /// and updates the send sequence variables.
    pub(super) fn emit_segment(
        &mut self,
        now: Instant,
        seq: SeqNum,
        len: usize,
        fin: bool,
        options: TcpOptions,
        out: &mut [u8],
    ) -> usize {
        let mut flags = TcpFlags::NONE;
        if len > 0 && seq + len == self.snd.data_end() {
            flags |= TcpFlags::PSH;
        }
        if fin {
            flags |= TcpFlags::FIN;
        }
        let mut repr = self.header(seq, flags, true, options);
        repr.window = self.rcv.advertise(self.config.mss);
        let header_len = repr.emit(out);
        if len > 0 {
            let offset = seq.since(self.snd.data_start()) as usize;
            let copied = self
                .snd
                .buf
                .read_at(offset, &mut out[header_len..header_len + len]);
            debug_assert_eq!(copied, len);
        }
        let end = seq + len + usize::from(fin);
        self.stats.bytes_out += len as u64;
        self.probes.last_data_send = now;
        if !self.snd.has_outstanding() {
            self.rtx.last_progress = now;
        }
        self.record_transmission(seq, end, now);
        if self.in_flight() + end.since(seq) >= self.congestion_window() {
            // The window is in full use: ACKs of this flight may grow it (RFC 7661).
            self.snd.cwnd_limited = true;
        }
        if seq < self.snd.max {
            self.stats.events().retransmitted_segments += 1;
            self.stats.events().retransmitted_bytes += u64::from(end.min(self.snd.max).since(seq));
            self.rtx.forget_probe_from(seq);
        }
        if end > self.snd.max {
            if seq >= self.snd.max {
                self.rtx.time_segment(end, now);
            }
            self.snd.max = end;
        }
        if end > self.snd.nxt {
            self.snd.nxt = end;
        }
        self.on_ack_sent();
        if !self.zero_window_stalled() && !self.timers.is_armed(Timer::Retransmit) {
            // RFC 6298 §5.1.
            self.timers
                .set(Timer::Retransmit, self.retransmit_deadline(now, 0));
        }
        if self.negotiated.sack {
            self.arm_loss_probe(now);
        }
        header_len + len
    }

    /// A reset in answer to one segment, sent before anything else.
    pub(super) fn owe_reset(&mut self, reply: ResetReply) {
        self.rst_pending = Some(reply);
    }
}
