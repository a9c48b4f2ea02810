//! The stack's timers: one entry per connection in a [`TimerWheel`] at the connection's
//! earliest deadline, moved only when that deadline changes; and the ARP retry.

use super::{ConnId, ConnSlot, Stack, TimerId, TimerWheel};
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
        [
            self.timers.next_wakeup(),
            self.arp_retry_at,
            self.time_waits.next_deadline(),
            self.idle_buffers.sweep_at(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.idle_buffers.tick(now);
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
        self.expire_time_waits(now);
        self.sweep_idle_buffers(now);
    }
}

impl ConnSlot {
    /// Brings the timer of this slot (connection `id`) in line with the connection's
    /// earliest deadline; the wheel is touched only when that deadline changed.
    #[inline]
    pub(super) fn schedule_timer(&mut self, id: ConnId, timers: &mut TimerWheel<ConnId>) {
        let deadline = self.conn.poll_deadline();
        if self.timer.map(|armed| armed.deadline) != deadline {
            self.move_timer(id, deadline, timers);
        }
    }

    /// The rarer part of [`ConnSlot::schedule_timer`], kept out of line: the deadline
    /// changed, so the entry is inserted, moved or cancelled.
    #[inline(never)]
    fn move_timer(
        &mut self,
        id: ConnId,
        deadline: Option<Instant>,
        timers: &mut TimerWheel<ConnId>,
    ) {
        self.timer = match (self.timer, deadline) {
            (Some(armed), Some(deadline)) => {
                let moved = timers.reschedule(armed.id, deadline);
                debug_assert!(moved, "the wheel lost the timer of {id:?}");
                Some(ArmedTimer {
                    id: armed.id,
                    deadline,
                })
            }
            (None, Some(deadline)) => Some(ArmedTimer {
                id: timers.insert(deadline, id),
                deadline,
            }),
            (Some(armed), None) => {
                timers.cancel(armed.id);
                None
            }
            (None, None) => None,
        };
    }

    /// Removes the timer of this slot (before it is freed).
    pub(super) fn cancel_timer(&mut self, timers: &mut TimerWheel<ConnId>) {
        if let Some(armed) = self.timer.take() {
            timers.cancel(armed.id);
        }
    }
}
