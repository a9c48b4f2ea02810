//! Deadlines: when the connection must be called again, what runs when a timer fires, and
//! keeping the retransmission and persist timers in line with what is outstanding.

use super::pending::Owed;
use super::sender::NewData;
use super::{Connection, State};
use crate::tcp::timer::Timer;
use crate::time::Instant;

impl Connection {
    /// The next time [`Connection::handle_timeout`] must be called, if any.
    pub fn poll_deadline(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Runs every timer whose deadline is at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_expired(now) {
            match timer {
                Timer::Retransmit => self.on_retransmit_timeout(now),
                Timer::Persist => self.on_persist_timeout(now),
                Timer::DelayedAck => self.pending.insert(Owed::Ack),
                Timer::Keepalive => self.on_keepalive_timer(now),
                Timer::Close => {
                    if matches!(self.state, State::TimeWait | State::FinWait2) {
                        self.enter_closed(None);
                    }
                }
                Timer::Reorder => self.on_reorder_timeout(now),
                Timer::LossProbe => self.on_loss_probe_timeout(),
            }
        }
        self.update_timers(now);
    }

    /// Data is waiting but the peer's window is zero: probe instead of retransmitting.
    #[inline]
    pub(super) fn zero_window_stalled(&self) -> bool {
        self.snd.wnd == 0
            && self.snd.syn_acked
            && self.state.may_send_data()
            && self.snd.una < self.snd.data_end()
    }

    /// Nothing is outstanding and unsent data waits only because the peer's window is too
    /// small for the sender's silly-window rule: without the persist timer's override
    /// (RFC 1122 §4.2.3.4) nothing would ever move it.
    #[inline]
    fn silly_window_stalled(&self) -> bool {
        // With nothing outstanding the usable window is the peer's (the congestion window
        // is at least one segment), so only a window below one MSS can hold data back.
        self.snd.wnd > 0
            && self.snd.wnd < u32::from(self.snd.mss)
            && !self.snd.has_outstanding()
            && matches!(
                self.new_data(usize::from(self.snd.mss), false),
                NewData::HeldBySillyWindow
            )
    }

    /// Brings the retransmission and persist timers in line with what is outstanding. Runs
    /// after every arrival and transmission, so the common case — a window of at least one
    /// segment, where the persist timer has no business — is decided inline.
    #[inline]
    pub(super) fn update_timers(&mut self, now: Instant) {
        if self.snd.wnd >= u32::from(self.snd.mss)
            && !matches!(self.state, State::Closed | State::TimeWait)
        {
            self.arm_retransmit_only(now);
        } else {
            self.update_timers_small_window(now);
        }
    }

    /// [`Connection::update_timers`] when the window is below one segment (or the
    /// connection is CLOSED or in TIME-WAIT): the persist timer may be due.
    fn update_timers_small_window(&mut self, now: Instant) {
        if self.state == State::Closed || self.state == State::TimeWait {
            return;
        }
        if self.zero_window_stalled() || self.silly_window_stalled() {
            self.timers.stop(Timer::Retransmit);
            if !self.timers.is_armed(Timer::Persist) && !self.pending.contains(Owed::PersistSend) {
                let at = self.retransmit_deadline(now, self.probes.persist_backoff);
                self.timers.set(Timer::Persist, at);
            }
        } else {
            self.arm_retransmit_only(now);
        }
    }

    /// No persist timer: the retransmission timer runs exactly while something is
    /// outstanding (RFC 6298 §5.1–5.2).
    #[inline]
    fn arm_retransmit_only(&mut self, now: Instant) {
        self.timers.stop(Timer::Persist);
        self.pending.remove(Owed::PersistSend);
        if !self.snd.has_outstanding() {
            self.timers.stop(Timer::Retransmit);
        } else if !self.timers.is_armed(Timer::Retransmit) {
            self.timers
                .set(Timer::Retransmit, self.retransmit_deadline(now, 0));
        }
    }
}
