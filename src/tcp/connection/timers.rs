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
            }
        }
        self.update_timers(now);
    }

    /// Data is waiting but the peer's window is zero: probe instead of retransmitting.
    pub(super) fn zero_window_stalled(&self) -> bool {
        self.snd.wnd == 0
            && self.snd.syn_acked
            && self.state.may_send_data()
            && self.snd.una < self.snd.data_end()
    }

    /// Nothing is outstanding and unsent data waits only because the peer's window is too
    /// small for the sender's silly-window rule: without the persist timer's override
    /// (RFC 1122 §4.2.3.4) nothing would ever move it.
    fn silly_window_stalled(&self) -> bool {
        self.snd.wnd > 0
            && !self.snd.has_outstanding()
            && matches!(
                self.new_data(usize::from(self.snd.mss), false),
                NewData::HeldBySillyWindow
            )
    }

    /// Brings the retransmission and persist timers in line with what is outstanding.
    pub(super) fn update_timers(&mut self, now: Instant) {
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
            self.timers.stop(Timer::Persist);
            self.pending.remove(Owed::PersistSend);
            if self.snd.has_outstanding() {
                if !self.timers.is_armed(Timer::Retransmit) {
                    self.timers
                        .set(Timer::Retransmit, self.retransmit_deadline(now, 0));
                }
            } else {
                self.timers.stop(Timer::Retransmit);
            }
        }
    }
}
