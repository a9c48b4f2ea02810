//! The stack's timers: one entry per connection in a [`TimerWheel`] at the connection's
//! earliest deadline, moved only when that deadline changes; and the ARP retry.

use super::{ConnId, Stack, TimerId};
use crate::time::Instant;

/// Consecutive retransmission timeouts after which a connection's next hop is asked again.
const NEIGHBOR_SUSPECT_TIMEOUTS: u8 = 2;

/// A connection's entry in the timer wheel and the deadline it is scheduled for.
#[derive(Copy, Clone, Debug)]
pub(super) struct ArmedTimer {
    id: TimerId,
    deadline: Instant,
}

impl Stack {
    /// Entries in the timer wheel: at most one per connection.
    pub fn scheduled_timers(&self) -> usize {
        self.timers.len()
    }

    /// When [`Stack::handle_timeout`] must run next. May be early (the earliest timer was
    /// moved or cancelled since), never late.
    pub fn poll_deadline(&self) -> Option<Instant> {
        match (self.timers.next_wakeup(), self.arp_retry_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.arp_retry_at.is_some_and(|at| at <= now) {
            self.unpark_all();
        }
        let mut expired = std::mem::take(&mut self.expired_timers);
        self.timers.poll(now, &mut expired);
        for id in expired.drain(..) {
            let Some(slot) = self.conns.get_mut(id) else {
                continue;
            };
            slot.timer = None;
            if slot.conn.poll_deadline().is_some_and(|d| d <= now) {
                slot.conn.handle_timeout(now);
                if slot.conn.consecutive_timeouts() >= NEIGHBOR_SUSPECT_TIMEOUTS {
                    let remote = slot.key.remote_ip;
                    self.revalidate_neighbor(now, remote);
                }
            }
            self.after_change(id);
        }
        self.expired_timers = expired;
    }

    /// Brings the timer of `id` in line with the connection's earliest deadline; the wheel
    /// is touched only when that deadline changed.
    pub(super) fn schedule(&mut self, id: ConnId) {
        let Some(slot) = self.conns.get_mut(id) else {
            return;
        };
        slot.timer = match (slot.timer, slot.conn.poll_deadline()) {
            (Some(armed), Some(deadline)) if armed.deadline == deadline => return,
            (None, None) => return,
            (Some(armed), Some(deadline)) => {
                let moved = self.timers.reschedule(armed.id, deadline);
                debug_assert!(moved, "the wheel lost the timer of {id:?}");
                Some(ArmedTimer {
                    id: armed.id,
                    deadline,
                })
            }
            (None, Some(deadline)) => Some(ArmedTimer {
                id: self.timers.insert(deadline, id),
                deadline,
            }),
            (Some(armed), None) => {
                self.timers.cancel(armed.id);
                None
            }
        };
    }

    /// Removes the timer of `id`, which is being freed.
    pub(super) fn cancel_timer(&mut self, id: ConnId) {
        if let Some(armed) = self.conns.get_mut(id).and_then(|slot| slot.timer.take()) {
            self.timers.cancel(armed.id);
        }
    }
}
