//! Segment arrival (RFC 9293 §3.10.7): the entry points, the dispatch by state, and for the
//! synchronized states the steps of §3.10.7.4 in their order, each a function of its own
//! that lets processing go on or ends it with the answer the segment gets.

use std::ops::{ControlFlow, Range};

use super::pending::Owed;
use super::receive::AckUrgency;
use super::reset::{reset_for_unexpected, ResetReply};
use super::sequence_check::{self, Admission, SegmentSpan};
use super::{Connection, State};
use crate::time::Instant;
use crate::wire::{SeqNum, TcpRepr};

/// How a segment is answered when processing stops early.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Reply {
    /// Drop it silently.
    Nothing,
    /// `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>`.
    Ack,
    /// The same ACK for an unacceptable segment without text or FIN, rate-limited (see
    /// [`super::ack_limits`]).
    OutOfWindowAck,
    /// A challenge ACK (RFC 5961 §3.2, §4.2, §5.2), rate-limited per connection.
    ChallengeAck,
    /// `<SEQ=seq><CTL=RST>` to the peer (the answer to an unacceptable ACK, `seq` = SEG.ACK).
    Reset { seq: SeqNum },
}

/// The part of a segment that passed the sequence check.
#[derive(Copy, Clone, Debug)]
pub(super) struct Admitted<'a> {
    /// Sequence number of the first byte of `text`.
    pub start: SeqNum,
    /// The text inside the window.
    pub text: &'a [u8],
    /// The FIN, kept only if the text before it fit.
    pub fin: bool,
    /// A zero-window probe whose text was dropped: it must be answered.
    pub probe: bool,
}

impl Connection {
    /// Processes one arriving segment whose checksum was verified.
    pub fn handle_segment(&mut self, now: Instant, seg: &TcpRepr, payload: &[u8]) {
        self.arrive(now, seg, payload);
    }

    /// The body of [`Connection::handle_segment`], inlined into both entry points so that
    /// the direct path pays no call between them.
    #[inline(always)]
    fn arrive(&mut self, now: Instant, seg: &TcpRepr, payload: &[u8]) {
        self.stats.segments_in += 1;
        match self.state {
            State::Closed => self.on_segment_closed(seg, payload.len()),
            State::Listen => self.on_segment_listen(now, seg),
            State::SynSent => self.on_segment_syn_sent(now, seg, payload),
            _ => self.on_segment_synchronized(now, seg, payload),
        }
        self.update_timers(now);
    }

    /// Like [`Connection::handle_segment`], but new in-order data arriving to an empty receive
    /// buffer is not copied into it: the returned range of `payload` holds bytes already
    /// acknowledged and counted as received, which the caller shows the application in place
    /// (zero copy) and then passes, minus what was consumed, to [`Connection::finish_direct`].
    /// No [`super::Event::Readable`] is raised for them; the caller reports them itself.
    pub fn handle_segment_direct(
        &mut self,
        now: Instant,
        seg: &TcpRepr,
        payload: &[u8],
    ) -> Option<Range<usize>> {
        self.direct.allowed = !self.app.orphaned;
        self.direct.len = 0;
        self.arrive(now, seg, payload);
        self.direct.allowed = false;
        if self.direct.len == 0 {
            return None;
        }
        let payload_seq = seg.seq + u32::from(seg.flags.syn());
        let offset = self.direct.seq.since(payload_seq) as usize;
        Some(offset..offset + self.direct.len as usize)
    }

    /// Ends a direct delivery: `unread` (the tail of the range the application did not
    /// consume) goes into the receive buffer, where it always fits.
    pub fn finish_direct(&mut self, unread: &[u8]) {
        let pending = std::mem::take(&mut self.direct.len) as usize;
        let unread = &unread[..unread.len().min(pending)];
        if unread.is_empty() || self.state == State::Closed {
            return; // consumed, or the application aborted the connection meanwhile
        }
        if self.app.orphaned {
            // Released with data it never read: RFC 1122 §4.2.2.13.
            self.abort();
            return;
        }
        let stored = self.rcv.buf.push(unread);
        debug_assert_eq!(stored, unread.len());
    }

    /// §3.10.7.1 CLOSED: answer anything but a reset with a reset.
    fn on_segment_closed(&mut self, seg: &TcpRepr, payload_len: usize) {
        if let Some(reply) = reset_for_unexpected(seg, payload_len) {
            self.owe_reset(reply);
        }
    }

    /// §3.10.7.4: every state from SYN-RECEIVED on.
    fn on_segment_synchronized(&mut self, now: Instant, seg: &TcpRepr, payload: &[u8]) {
        if let ControlFlow::Break(reply) = self.synchronized_steps(now, seg, payload) {
            self.answer(now, reply);
        }
    }

    /// The steps of RFC 9293 §3.10.7.4 in order. A SYN is looked at before the sequence
    /// number because RFC 5961 §4.2 answers it "irrespective of the sequence number".
    fn synchronized_steps(
        &mut self,
        now: Instant,
        seg: &TcpRepr,
        payload: &[u8],
    ) -> ControlFlow<Reply> {
        self.on_repeated_syn(now, seg)?;
        self.on_syn(seg, payload)?;
        self.check_timestamp(now, seg, payload)?;
        let admitted = self.check_sequence(now, seg, payload)?;
        if let Some((tsval, _)) = seg
            .options
            .timestamps
            .filter(|_| self.negotiated.timestamps)
        {
            self.ts.on_acceptable_segment(tsval, seg.seq, now);
        }
        self.probes.last_recv = now;
        self.probes.keepalive_probes_sent = 0;
        self.on_rst(seg)?;
        self.on_ack(now, seg, payload)?;
        // Sixth, the URG bit: urgent data is delivered in line with the rest of the stream.
        let text = self.on_text(&admitted)?;
        let fin = self.on_fin(now, &admitted);
        let probe = if admitted.probe {
            AckUrgency::Immediate
        } else {
            AckUrgency::None
        };
        self.request_ack(now, text.max(fin).max(probe));
        ControlFlow::Continue(())
    }

    /// Before the sequence number, once both ends agreed on timestamps (RFC 7323 §5.3):
    /// PAWS rejects a segment whose TSval is older than TS.Recent as an old duplicate
    /// (answered like any unacceptable segment), and a segment without timestamps is
    /// dropped (§3.2: "SHOULD silently drop"). Resets are exempt from both.
    #[inline]
    fn check_timestamp(
        &mut self,
        now: Instant,
        seg: &TcpRepr,
        payload: &[u8],
    ) -> ControlFlow<Reply> {
        if !self.negotiated.timestamps || seg.flags.rst() {
            return ControlFlow::Continue(());
        }
        match seg.options.timestamps {
            None => {
                self.stats.events().missing_timestamps += 1;
                ControlFlow::Break(Reply::Nothing)
            }
            Some((tsval, _)) if self.ts.is_old_duplicate(tsval, now) => {
                self.stats.events().paws_rejected += 1;
                ControlFlow::Break(if seg.segment_len(payload.len()) == 0 {
                    Reply::OutOfWindowAck
                } else {
                    Reply::Ack
                })
            }
            Some(_) => ControlFlow::Continue(()),
        }
    }

    /// First: check the sequence number. An unacceptable segment is answered with an ACK
    /// (unless it is a reset) and dropped; an acceptable one is trimmed to the window.
    #[inline]
    fn check_sequence<'a>(
        &mut self,
        now: Instant,
        seg: &TcpRepr,
        payload: &'a [u8],
    ) -> ControlFlow<Reply, Admitted<'a>> {
        let span = SegmentSpan {
            seq: seg.seq,
            syn: seg.flags.syn(),
            text_len: payload.len(),
            fin: seg.flags.fin(),
        };
        let window = self.rcv.window();
        if span.seq == self.rcv.nxt && !span.syn && span.len() <= window as usize {
            // The next bytes expected, all inside the window (or nothing at RCV.NXT in a
            // zero window): acceptable by every case of §3.10.7.4's first step, and
            // nothing to trim, so `admit`'s general arithmetic has nothing to add.
            return ControlFlow::Continue(Admitted {
                start: span.seq,
                text: payload,
                fin: span.fin,
                probe: false,
            });
        }
        match sequence_check::admit(span, self.rcv.nxt, window) {
            Admission::Accept { start, text, fin } => {
                if text.start > 0 {
                    // Its head was received before: report it (RFC 2883 §4.1).
                    self.rcv.note_duplicate(start - text.start as u32, start);
                }
                ControlFlow::Continue(Admitted {
                    start,
                    text: &payload[text],
                    fin,
                    probe: false,
                })
            }
            Admission::ZeroWindowControl { carried: true }
                if seg.ack.is_none() && !seg.flags.rst() =>
            {
                // Text or FIN with neither ACK nor RST: nothing the zero-window allowance
                // accepts ("valid ACKs, URGs, and RSTs"), so simply not acceptable, and
                // answered like any such segment (RFC 9293 §3.10.7.4 first step).
                ControlFlow::Break(Reply::Ack)
            }
            Admission::ZeroWindowControl { carried } => ControlFlow::Continue(Admitted {
                start: self.rcv.nxt,
                text: &[],
                fin: false,
                probe: carried,
            }),
            Admission::Reject if seg.flags.rst() => ControlFlow::Break(Reply::Nothing),
            Admission::Reject => {
                let text_start = seg.seq + u32::from(seg.flags.syn());
                if !payload.is_empty() && text_start + payload.len() <= self.rcv.nxt {
                    // All of it was received before: a duplicate (RFC 2883 §4.1).
                    self.rcv
                        .note_duplicate(text_start, text_start + payload.len());
                }
                if self.state == State::TimeWait
                    && seg.flags.fin()
                    && seg.seq + seg.segment_len(payload.len()) == self.rcv.nxt
                {
                    // The peer's FIN retransmitted, ending where its first copy did:
                    // acknowledge it and restart 2·MSL (RFC 9293 §3.10.7.4 fifth step,
                    // TIME-WAIT). A FIN anywhere else is not one the peer sent, and
                    // restarting for it would let anyone hold the wait open for ever.
                    self.restart_time_wait(now);
                }
                ControlFlow::Break(if span.len() == 0 {
                    Reply::OutOfWindowAck
                } else {
                    Reply::Ack
                })
            }
        }
    }

    /// Second: the RST bit (RFC 5961 §3.2: exactly at RCV.NXT resets, anywhere else in the
    /// window draws a challenge ACK). In TIME-WAIT a reset is ignored, so a stray one cannot
    /// cut the wait short (RFC 1337, "TIME-WAIT assassination").
    fn on_rst(&mut self, seg: &TcpRepr) -> ControlFlow<Reply> {
        if !seg.flags.rst() {
            return ControlFlow::Continue(());
        }
        if self.state == State::TimeWait {
            return ControlFlow::Break(Reply::Nothing);
        }
        if seg.seq != self.rcv.nxt {
            return ControlFlow::Break(Reply::ChallengeAck);
        }
        self.on_acceptable_reset();
        ControlFlow::Break(Reply::Nothing)
    }

    /// Fourth: a SYN without RST in a synchronized state. RFC 5961 §4.2: "irrespective of
    /// the sequence number", a challenge ACK, and the segment is dropped (its text is not
    /// taken); only a passive open's SYN-RECEIVED returns to LISTEN on an acceptable SYN
    /// (RFC 9293 §3.10.7.4).
    fn on_syn(&mut self, seg: &TcpRepr, payload: &[u8]) -> ControlFlow<Reply> {
        if !seg.flags.syn() || seg.flags.rst() {
            return ControlFlow::Continue(());
        }
        if self.state == State::SynReceived
            && self.passive
            && sequence_check::acceptable(
                seg.seq,
                seg.segment_len(payload.len()),
                self.rcv.nxt,
                self.rcv.window(),
            )
        {
            self.return_to_listen();
            return ControlFlow::Break(Reply::Nothing);
        }
        ControlFlow::Break(Reply::ChallengeAck)
    }

    /// Seventh: the segment text, in the states that still receive.
    #[inline(always)]
    fn on_text(&mut self, admitted: &Admitted<'_>) -> ControlFlow<Reply, AckUrgency> {
        if admitted.text.is_empty() {
            return ControlFlow::Continue(AckUrgency::None);
        }
        match self.state {
            State::Established | State::FinWait1 | State::FinWait2 => {
                if self.app.orphaned {
                    // Data after the application released the connection: RFC 1122
                    // §4.2.2.13 says reset, so the peer learns it was not read.
                    self.abort();
                    return ControlFlow::Break(Reply::Nothing);
                }
                ControlFlow::Continue(self.receive_text(admitted.start, admitted.text))
            }
            // After the peer's FIN, more text "should not occur" (§3.10.7.4): ignore it.
            _ => ControlFlow::Continue(AckUrgency::None),
        }
    }

    /// The one place the answer to a dropped segment is turned into owed output.
    pub(super) fn answer(&mut self, now: Instant, reply: Reply) {
        match reply {
            Reply::Nothing => {}
            Reply::Ack => self.pending.insert(Owed::Ack),
            Reply::OutOfWindowAck => {
                if self
                    .ack_limits
                    .allow_out_of_window_ack(now, self.config.invalid_ack_interval)
                {
                    self.pending.insert(Owed::Ack);
                } else {
                    self.stats.events().acks_rate_limited += 1;
                }
            }
            Reply::ChallengeAck => {
                // RFC 5961 §7: the connection's own budget first, then the stack's ceiling
                // (see `challenge_ceiling`), so one connection cannot spend the ceiling.
                if self
                    .ack_limits
                    .allow_challenge(now, self.config.challenge_ack_limit)
                    && self
                        .challenge_ceiling
                        .as_ref()
                        .is_none_or(|ceiling| ceiling.allow(now))
                {
                    self.stats.events().challenge_acks += 1;
                    self.pending.insert(Owed::Ack);
                } else {
                    self.stats.events().acks_rate_limited += 1;
                }
            }
            Reply::Reset { seq } => self.owe_reset(ResetReply {
                seq,
                ack: None,
                dst_port: self.remote_port,
            }),
        }
    }
}
