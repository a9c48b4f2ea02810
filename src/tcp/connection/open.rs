//! Opening: the OPEN calls (RFC 9293 §3.10.1), arrival in LISTEN and SYN-SENT (§3.10.7.2–3),
//! a repeated SYN in SYN-RECEIVED, the options of the SYN exchange, and the end of the
//! handshake.

use std::ops::ControlFlow;

use super::arrival::Reply;
use super::pending::Owed;
use super::reset::ResetReply;
use super::send::FinState;
use super::{Connection, ConnectionError, Event, State, DEFAULT_PEER_MSS, MIN_PEER_MSS};
use crate::tcp::congestion::{self, Congestion};
use crate::tcp::syn_cookie::CookieOptions;
use crate::tcp::timer::Timer;
use crate::tcp::Config;
use crate::tcp::Error;
use crate::time::Instant;
use crate::wire::{TcpFlags, TcpOptions, TcpRepr};

/// Bytes the timestamps option takes in every segment: two NOPs and ten (RFC 7323 §3.2).
pub(super) const TIMESTAMPS_OPTION_LEN: u16 = 12;

/// The options our SYN carries (active open) or our SYN,ACK may carry (passive open).
#[derive(Copy, Clone, Debug)]
struct Offered {
    window_scale: bool,
    timestamps: bool,
    sack: bool,
}

impl Offered {
    fn by_config(config: &Config) -> Offered {
        Offered {
            window_scale: config.window_scaling,
            timestamps: config.timestamps,
            sack: config.sack,
        }
    }
}

impl Connection {
    /// Passive OPEN: CLOSED → LISTEN. `remote_port` names the peer for a fully specified
    /// passive open; `None` accepts a SYN from any port.
    pub fn listen(&mut self, remote_port: Option<u16>) -> Result<(), Error> {
        if self.state != State::Closed {
            return Err(Error::InvalidState(self.state));
        }
        self.set_state(State::Listen);
        self.passive = true;
        self.remote_specified = remote_port.is_some();
        self.remote_port = remote_port.unwrap_or(0);
        Ok(())
    }

    /// Active OPEN: CLOSED → SYN-SENT; the SYN goes out on the next `poll_transmit`.
    pub fn connect(&mut self, remote_port: u16, now: Instant) -> Result<(), Error> {
        if self.state != State::Closed {
            return Err(Error::InvalidState(self.state));
        }
        self.remote_port = remote_port;
        self.remote_specified = true;
        self.start_active_open(now);
        Ok(())
    }

    /// → SYN-SENT, with the SYN owed.
    pub(super) fn start_active_open(&mut self, now: Instant) {
        self.set_state(State::SynSent);
        self.snd.una = self.snd.iss;
        self.snd.nxt = self.snd.iss;
        self.snd.max = self.snd.iss;
        self.probes.last_recv = now;
    }

    /// §3.10.7.2 LISTEN.
    pub(super) fn on_segment_listen(&mut self, now: Instant, seg: &TcpRepr) {
        // First: an incoming RST is ignored.
        if seg.flags.rst() {
            return;
        }
        // Second: any acknowledgment is bad in LISTEN: <SEQ=SEG.ACK><CTL=RST>.
        if let Some(ack) = seg.ack {
            self.owe_reset(ResetReply::to_ack(seg, ack));
            return;
        }
        // Third: a SYN. (Data carried on the SYN is not accepted; the peer retransmits it.)
        if !seg.flags.syn() {
            return;
        }
        if self.remote_specified && seg.src_port != self.remote_port {
            self.owe_reset(ResetReply::to_segment(seg, 0));
            return;
        }
        self.remote_port = seg.src_port;
        self.rcv.on_syn(seg.seq);
        // Answer with what the peer offered, within what we allow.
        self.apply_syn_options(now, &seg.options, Offered::by_config(&self.config));
        // The window of a SYN is never scaled (RFC 7323 §2.2).
        self.snd
            .update_window(u32::from(seg.window), self.rcv.irs, self.snd.iss);
        self.snd.una = self.snd.iss;
        self.snd.nxt = self.snd.iss; // SYN,ACK owed
        self.snd.max = self.snd.iss;
        self.set_state(State::SynReceived);
        self.probes.last_recv = now;
    }

    /// A connection completed by a SYN cookie ([`crate::tcp::syn_cookie`]): the listener
    /// kept no state, so this connection, made with the cookie as its ISS, rebuilds the SYN
    /// from what the cookie and the echoed TSval remember, counts its SYN,ACK as sent — with
    /// no RTT sample, as nothing recorded when (RFC 6298 §3) — and then takes `ack`, the
    /// handshake's ACK that brought the cookie back, as SYN-RECEIVED does.
    pub fn accept_syn_cookie(
        &mut self,
        now: Instant,
        ack: &TcpRepr,
        payload: &[u8],
        options: CookieOptions,
    ) -> Result<(), Error> {
        if self.state == State::Closed {
            self.listen(None)?;
        }
        if self.state != State::Listen || ack.ack != Some(self.snd.iss + 1u32) {
            return Err(Error::InvalidState(self.state));
        }
        let syn = TcpRepr {
            seq: ack.seq - 1u32,
            ack: None,
            flags: TcpFlags::SYN,
            options: TcpOptions {
                mss: Some(options.mss),
                window_scale: options.window_scale,
                sack_permitted: options.sack_permitted,
                timestamps: ack
                    .options
                    .timestamps
                    .filter(|_| options.timestamps)
                    .map(|(tsval, _)| (tsval, 0)),
                ..TcpOptions::default()
            },
            ..*ack
        };
        self.on_segment_listen(now, &syn);
        if self.state != State::SynReceived {
            return Err(Error::InvalidState(self.state));
        }
        // What sending the SYN,ACK did (see `emit_syn`), untimed.
        self.rcv.adv = self.rcv.nxt + self.rcv.syn_window();
        self.ts.last_ack_sent = self.rcv.nxt;
        self.pending.remove(Owed::Ack);
        self.snd.nxt = self.snd.iss + 1u32;
        self.snd.max = self.snd.nxt;
        self.rtx.last_progress = now;
        self.handle_segment(now, ack, payload);
        Ok(())
    }

    /// §3.10.7.3 SYN-SENT.
    pub(super) fn on_segment_syn_sent(&mut self, now: Instant, seg: &TcpRepr, payload: &[u8]) {
        // First: check the ACK bit.
        if let Some(ack) = seg
            .ack
            .filter(|&ack| ack <= self.snd.iss || ack > self.snd.max)
        {
            if !seg.flags.rst() {
                self.owe_reset(ResetReply::to_ack(seg, ack));
            }
            return;
        }
        let acceptable_ack = seg
            .ack
            .filter(|&ack| self.snd.una < ack && ack <= self.snd.max);
        // Second: the RST bit (acceptable only with an acceptable ACK; RFC 5961 §3.2).
        if seg.flags.rst() {
            if acceptable_ack.is_some() {
                self.enter_closed(Some(ConnectionError::Refused));
            }
            return;
        }
        // Fourth: the SYN bit.
        if !seg.flags.syn() {
            return;
        }
        self.rcv.on_syn(seg.seq);
        // The window our SYN offered, relative to their first data byte.
        self.rcv.adv = self.rcv.nxt + self.rcv.syn_window();
        self.apply_syn_options(now, &seg.options, Offered::by_config(&self.config));
        self.snd.update_window(
            u32::from(seg.window),
            self.rcv.irs,
            seg.ack.unwrap_or(self.snd.una),
        );
        self.probes.last_recv = now;
        let Some(ack) = acceptable_ack else {
            // Simultaneous open: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> and SYN-RECEIVED.
            self.set_state(State::SynReceived);
            self.snd.nxt = self.snd.iss;
            return;
        };
        self.snd.una = ack;
        self.rtx.take_sample(now, ack);
        self.on_syn_acknowledged();
        self.rtx.retries = 0;
        self.rtx.last_progress = now;
        self.enter_established(now);
        self.pending.insert(Owed::Ack);
        // Data or FIN on the SYN,ACK are processed as in ESTABLISHED.
        if !payload.is_empty() {
            let urgency = self.receive_text(self.rcv.nxt, payload);
            self.request_ack(now, urgency);
        }
        if seg.flags.fin() {
            self.rcv.peer_fin = Some(self.rcv.irs + 1u32 + payload.len());
            let urgency = self.process_fin_if_reached(now);
            self.request_ack(now, urgency);
        }
    }

    /// In SYN-RECEIVED, the peer's SYN again (SEG.SEQ = IRS): either its SYN,ACK of a
    /// simultaneous open (RFC 9293 figure 7), which acknowledges ours and completes the
    /// handshake, or its SYN retransmitted because our SYN,ACK was lost, which we answer
    /// with the SYN,ACK again.
    #[inline]
    pub(super) fn on_repeated_syn(&mut self, now: Instant, seg: &TcpRepr) -> ControlFlow<Reply> {
        if self.state != State::SynReceived
            || !seg.flags.syn()
            || seg.flags.rst()
            || seg.seq != self.rcv.irs
        {
            return ControlFlow::Continue(());
        }
        match seg
            .ack
            .filter(|&ack| self.snd.una < ack && ack <= self.snd.max)
        {
            Some(ack) => {
                // Its window is that of a SYN, never scaled (RFC 7323 §2.2).
                self.probes.last_recv = now;
                self.enter_established(now);
                let _acked =
                    self.on_new_ack(now, ack, seg.options.timestamps.map(|(_, tsecr)| tsecr));
                self.snd.update_window(u32::from(seg.window), seg.seq, ack);
            }
            None => self.snd.nxt = self.snd.iss,
        }
        ControlFlow::Break(Reply::Nothing)
    }

    /// The options of the peer's SYN: its MSS (RFC 9293 §3.7.1, raised to a floor), window
    /// scaling, timestamps and SACK-permitted, each agreed only when both SYNs carry it
    /// (RFC 7323 §2.2 and §3.2, RFC 2018 §2); `offered` is what our SYN carries or may carry.
    /// Timestamps ride on every later segment, so their 12 bytes come off the segment size
    /// (RFC 6691). The initial window follows from the segment size (RFC 6928).
    fn apply_syn_options(&mut self, now: Instant, options: &TcpOptions, offered: Offered) {
        let peer_mss = options.mss.unwrap_or(DEFAULT_PEER_MSS).max(MIN_PEER_MSS);
        match options.window_scale {
            Some(shift) if offered.window_scale => {
                // RFC 7323 §2.3: a shift above 14 is treated as 14.
                self.snd.wscale = shift.min(14);
                self.rcv.wscale = self.config.window_scale_shift();
                self.negotiated.window_scaling = true;
            }
            _ => {
                self.negotiated.window_scaling = false;
                self.snd.wscale = 0;
                self.rcv.wscale = 0;
            }
        }
        let timestamps = options.timestamps.filter(|_| offered.timestamps);
        self.negotiated.timestamps = timestamps.is_some();
        if let Some((tsval, _)) = timestamps {
            self.ts.on_syn(tsval, now);
        }
        self.negotiated.sack = offered.sack && options.sack_permitted;
        self.snd.option_allowance = if self.negotiated.timestamps {
            TIMESTAMPS_OPTION_LEN
        } else {
            0
        };
        self.snd.mss = peer_mss.min(self.config.mss) - self.snd.option_allowance;
        let iw = congestion::initial_window(
            self.config.initial_window_segments,
            u32::from(self.snd.mss),
        );
        self.cc = Congestion::new(self.config.congestion, iw);
        self.recovery = crate::tcp::recovery::Recovery::default();
    }

    /// The handshake completed: ESTABLISHED, or FIN-WAIT-1 if the application already
    /// half-closed in SYN-SENT.
    pub(super) fn enter_established(&mut self, now: Instant) {
        if self.snd.fin == FinState::Queued {
            self.set_state(State::FinWait1);
        } else {
            self.set_state(State::Established);
        }
        self.raise(Event::Connected);
        if let Some(keepalive) = self.config.keepalive {
            self.timers.set(Timer::Keepalive, now + keepalive.idle);
        }
    }

    /// SYN-RECEIVED → LISTEN (figure 5, note 1): forget the peer, keep the passive OPEN.
    pub(super) fn return_to_listen(&mut self) {
        let fresh = Connection {
            // The fresh value takes over from the state it replaces.
            state: self.state,
            passive: true,
            remote_specified: self.remote_specified,
            remote_port: if self.remote_specified {
                self.remote_port
            } else {
                0
            },
            ..Connection::new(self.config.clone(), self.local_port, self.snd.iss)
        };
        let nodelay = self.app.nodelay;
        // The stack's per-connection timestamp offset outlives the peer it was forgotten
        // with: without it the next SYN,ACK's TSval is the bare clock, which tells anyone
        // the host's uptime (RFC 7323 §7.1). Found by the `connection` fuzz target.
        let ts_offset = self.ts.offset();
        *self = fresh;
        self.app.nodelay = nodelay;
        self.ts.set_offset(ts_offset);
        self.set_state(State::Listen);
    }
}
