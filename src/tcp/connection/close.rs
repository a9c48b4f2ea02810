//! Closing: CLOSE and ABORT (RFC 9293 §3.10.4–5), release by the application, the peer's
//! FIN (§3.10.7.4 eighth step), resets, TIME-WAIT and CLOSED.

use super::arrival::Admitted;
use super::receive::AckUrgency;
use super::reset::ResetReply;
use super::send::FinState;
use super::{Connection, ConnectionError, Event, State};
use crate::tcp::time_wait::TimeWait;
use crate::tcp::timer::Timer;
use crate::tcp::Error;
use crate::time::Instant;
use crate::wire::TcpRepr;

impl Connection {
    /// RFC 6191 §2: whether a SYN for this connection's 4-tuple, received while it is in
    /// TIME-WAIT, may open a new incarnation (see [`TimeWait::admits_new_incarnation`]).
    /// Anything else is dropped and TIME-WAIT stays.
    pub fn admits_new_incarnation(&self, syn: &TcpRepr) -> bool {
        let new_uses_timestamps = self.config.timestamps && syn.options.timestamps.is_some();
        self.time_wait_view()
            .is_some_and(|tw| tw.admits_new_incarnation(syn, new_uses_timestamps))
    }

    /// The compact record that can stand in for this connection while it is in TIME-WAIT
    /// (see [`TimeWait`]); `None` in any other state, or while a segment is still owed
    /// (the ACK of the peer's FIN has to go first). The ACK it sends is the one this
    /// connection would send: SND.NXT past our FIN, RCV.NXT past the peer's, the window as
    /// last advertised, and our timestamp clock with TS.Recent (RFC 7323 §3.2).
    pub fn time_wait_record(&self) -> Option<TimeWait> {
        if !self.pending.is_empty() || self.rst_pending.is_some() {
            return None;
        }
        self.time_wait_view()
    }

    /// What a TIME-WAIT record of this connection holds, in TIME-WAIT.
    fn time_wait_view(&self) -> Option<TimeWait> {
        if self.state != State::TimeWait {
            return None;
        }
        let window = if self.rcv.adv > self.rcv.nxt {
            (self.rcv.adv.since(self.rcv.nxt) >> self.rcv.wscale).min(u32::from(u16::MAX)) as u16
        } else {
            0
        };
        Some(TimeWait {
            local_port: self.local_port,
            remote_port: self.remote_port,
            snd_nxt: self.snd.max,
            rcv_nxt: self.rcv.nxt,
            window,
            timestamps: self.negotiated.timestamps,
            ts_offset: self.ts.offset(),
            ts_recent: self.ts.echo(),
            expires: self.timers.get(Timer::Close)?,
        })
    }

    /// CLOSE (RFC 9293 §3.10.4): "I have no more to send". Queued data is sent first, then a
    /// FIN; receiving continues until the peer closes too (half-close).
    pub fn close(&mut self) -> Result<(), Error> {
        match self.state {
            State::Closed => Err(self.closed_error()),
            State::Listen | State::SynSent => {
                self.enter_closed(None);
                Ok(())
            }
            State::SynReceived | State::Established => {
                self.snd.fin = FinState::Queued;
                self.set_state(State::FinWait1);
                Ok(())
            }
            State::CloseWait => {
                self.snd.fin = FinState::Queued;
                self.set_state(State::LastAck);
                Ok(())
            }
            State::FinWait1
            | State::FinWait2
            | State::Closing
            | State::LastAck
            | State::TimeWait => Err(Error::WriteClosed),
        }
    }

    /// Half-close as applications mean it (`shutdown(SHUT_WR)`): a FIN follows the queued
    /// data, and reading goes on. Unlike [`Connection::close`] in SYN-SENT, which deletes the
    /// connection (RFC 9293 §3.10.4), this queues the FIN until the handshake completes.
    pub fn shutdown_write(&mut self) -> Result<(), Error> {
        match self.state {
            State::SynSent => {
                if self.snd.fin != FinState::Open {
                    return Err(Error::WriteClosed);
                }
                self.snd.fin = FinState::Queued;
                Ok(())
            }
            State::Listen => Err(Error::InvalidState(State::Listen)),
            _ => self.close(),
        }
    }

    /// ABORT (RFC 9293 §3.10.5): `<SEQ=SND.NXT><CTL=RST>` where the peer holds state, and
    /// everything is dropped. SND.NXT is the highest sequence number sent: after a
    /// go-back-N rewind a lower one could fall below the peer's RCV.NXT, and an RFC 5961
    /// peer would drop the reset.
    pub fn abort(&mut self) {
        if matches!(
            self.state,
            State::SynReceived
                | State::Established
                | State::FinWait1
                | State::FinWait2
                | State::CloseWait
        ) {
            self.owe_reset(ResetReply {
                seq: self.snd.max,
                ack: None,
                dst_port: self.remote_port,
            });
        }
        self.rcv.buf.consume(self.rcv.buf.len());
        self.enter_closed(None);
    }

    /// Marks the connection as released by its application: once CLOSED it can be freed,
    /// and data that arrives from now on is answered with a reset (RFC 1122 §4.2.2.13).
    /// Unread received data also makes the close a reset; otherwise it is a graceful CLOSE.
    pub fn release(&mut self, now: Instant) {
        self.app.orphaned = true;
        if !self.rcv.buf.is_empty() {
            self.abort();
            return;
        }
        match self.state {
            State::Established
            | State::CloseWait
            | State::SynReceived
            | State::Listen
            | State::SynSent => {
                // Each of these states accepts CLOSE.
                let _ = self.close();
            }
            State::FinWait2 => self.arm_orphan_timer(now),
            _ => {}
        }
    }

    /// What calls on a CLOSED connection return: why it failed, or that it was closed.
    pub(super) fn closed_error(&self) -> Error {
        self.app.error.map_or(Error::Closed, Error::Connection)
    }

    /// Eighth: the FIN bit. A FIN beyond a hole is remembered and processed once the hole
    /// fills; until then the duplicate ACK says what is missing (RFC 5681 §4.2).
    #[inline(always)]
    pub(super) fn on_fin(&mut self, now: Instant, admitted: &Admitted<'_>) -> AckUrgency {
        if !admitted.fin && self.rcv.peer_fin.is_none() {
            return AckUrgency::None; // no FIN seen: nothing to do (the common case)
        }
        self.on_fin_seen(now, admitted)
    }

    fn on_fin_seen(&mut self, now: Instant, admitted: &Admitted<'_>) -> AckUrgency {
        let mut urgency = AckUrgency::None;
        if admitted.fin && !self.rcv.fin_received {
            let fin_seq = admitted.start + admitted.text.len();
            self.rcv.peer_fin = Some(fin_seq);
            if fin_seq != self.rcv.nxt {
                urgency = AckUrgency::Immediate;
            }
        }
        urgency.max(self.process_fin_if_reached(now))
    }

    /// Processes the peer's FIN once every byte before it has arrived (§3.10.7.4 eighth).
    pub(super) fn process_fin_if_reached(&mut self, now: Instant) -> AckUrgency {
        if self.rcv.fin_received || self.rcv.peer_fin != Some(self.rcv.nxt) {
            return AckUrgency::None;
        }
        self.rcv.fin_received = true;
        self.rcv.nxt += 1u32;
        self.raise(Event::ReadClosed);
        match self.state {
            State::SynReceived | State::Established => self.set_state(State::CloseWait),
            State::FinWait1 if self.snd.fin == FinState::Acked => self.enter_time_wait(now),
            State::FinWait1 => self.set_state(State::Closing),
            State::FinWait2 => self.enter_time_wait(now),
            _ => {}
        }
        AckUrgency::Immediate
    }

    /// RFC 9293 §3.10.7.4 second step, for a RST whose sequence number is exactly RCV.NXT.
    pub(super) fn on_acceptable_reset(&mut self) {
        match self.state {
            State::SynReceived if self.passive => self.return_to_listen(),
            State::SynReceived => self.enter_closed(Some(ConnectionError::Refused)),
            State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                // "All segment queues should be flushed."
                self.rcv.buf.consume(self.rcv.buf.len());
                self.enter_closed(Some(ConnectionError::Reset));
            }
            _ => self.enter_closed(None),
        }
    }

    /// → TIME-WAIT for 2·MSL (RFC 9293 §3.4.2).
    pub(super) fn enter_time_wait(&mut self, now: Instant) {
        self.set_state(State::TimeWait);
        self.timers.stop_all();
        self.restart_time_wait(now);
        self.snd.buf.release_if_empty();
    }

    /// A retransmitted FIN in TIME-WAIT restarts the 2·MSL wait (RFC 9293 §3.10.7.4).
    pub(super) fn restart_time_wait(&mut self, now: Instant) {
        self.timers.set(Timer::Close, now + self.config.msl * 2);
    }

    /// A released connection may wait in FIN-WAIT-2 only so long for the peer's FIN.
    pub(super) fn arm_orphan_timer(&mut self, now: Instant) {
        self.timers
            .set(Timer::Close, now + self.config.fin_wait_2_timeout);
    }

    /// → CLOSED: timers stop, nothing more is owed but a reset already queued, the buffers
    /// go back (the receive buffer once read), and the application hears `Closed`.
    pub(super) fn enter_closed(&mut self, error: Option<ConnectionError>) {
        self.set_state(State::Closed);
        if error.is_some() {
            self.app.error = error;
        }
        self.timers.stop_all();
        self.pending.clear();
        self.snd.buf.consume(self.snd.buf.len());
        self.snd.buf.release_if_empty();
        self.rcv.assembler.clear();
        if self.rcv.buf.is_empty() {
            self.rcv.buf.release_if_empty();
        }
        self.raise(Event::Closed);
    }
}
