//! The stack's timers: the earliest deadline of each connection, and ARP retries.

use std::cmp::Reverse;

use super::{ConnId, Stack};
use crate::time::Instant;

/// Consecutive retransmission timeouts after which a connection's next hop is asked again.
const NEIGHBOR_SUSPECT_TIMEOUTS: u8 = 2;

impl Stack {
    /// When [`Stack::handle_timeout`] must run next. May be early (a stale entry), never late.
    pub fn poll_deadline(&self) -> Option<Instant> {
        let conn_timer = self.timers.peek().map(|Reverse((at, _))| *at);
        match (conn_timer, self.arp_retry_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.arp_retry_at.is_some_and(|at| at <= now) {
            self.unpark_all();
        }
        while let Some(&Reverse((at, id))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(slot) = self.conns.get_mut(id) else {
                continue;
            };
            if slot.scheduled != Some(at) {
                continue; // stale entry; a current one exists
            }
            slot.scheduled = None;
            if slot.conn.poll_deadline().is_some_and(|d| d <= now) {
                slot.conn.handle_timeout(now);
                if slot.conn.consecutive_timeouts() >= NEIGHBOR_SUSPECT_TIMEOUTS {
                    let remote = slot.key.remote_ip;
                    self.revalidate_neighbor(now, remote);
                }
            }
            self.after_change(id);
        }
    }

    /// Brings the timer of `id` in line with the connection's earliest deadline.
    pub(super) fn schedule(&mut self, id: ConnId) {
        let Some(slot) = self.conns.get_mut(id) else {
            return;
        };
        if let Some(deadline) = slot.conn.poll_deadline() {
            if slot.scheduled.is_none_or(|s| deadline < s) {
                slot.scheduled = Some(deadline);
                self.timers.push(Reverse((deadline, id)));
            }
        }
    }
}
