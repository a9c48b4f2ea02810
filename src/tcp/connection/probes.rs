//! Probing a silent or closed path: the persist timer (zero-window probes, RFC 9293
//! §3.8.6.1, and the sender silly-window override, RFC 1122 §4.2.3.4) and keepalive
//! (RFC 1122 §4.2.3.6).

use super::pending::Owed;
use super::{Connection, State};
use crate::tcp::timer::Timer;
use crate::time::Instant;

/// Probe counters and the liveness times they are judged by.
#[derive(Debug, Default)]
pub(super) struct Probes {
    /// Exponent of the persist interval's backoff.
    pub persist_backoff: u8,
    /// Zero-window probes sent since the peer last acknowledged anything.
    pub window_probes_unanswered: u8,
    /// Keepalive probes sent since the peer was last heard from.
    pub keepalive_probes_sent: u8,
    /// When the last acceptable segment arrived.
    pub last_recv: Instant,
    /// When we last sent a segment.
    pub last_send: Instant,
    /// When we last sent data (or a FIN): what "idle" means for the restart of RFC 5681
    /// §4.1 — pure ACKs do not count.
    pub last_data_send: Instant,
}

impl Connection {
    /// The persist timer fired. Against a zero window it sends a probe; a peer that answers
    /// probes keeps the connection however long its window stays closed (RFC 9293
    /// §3.8.6.1, RFC 1122 §4.2.2.17), but probes that go unanswered count against the
    /// retransmission budget (RFC 1122 §4.2.3.5) so a vanished peer does not pin the
    /// connection and its buffers forever. Against a small open window it lets a segment
    /// smaller than the silly-window rule allows go out (the override timeout).
    pub(super) fn on_persist_timeout(&mut self, now: Instant) {
        let unanswered = self.probes.window_probes_unanswered.saturating_add(1);
        if self.snd.wnd == 0 && self.gives_up(now, unanswered, self.config.data_retries) {
            self.enter_closed(Some(self.timed_out_error()));
            return;
        }
        self.pending.insert(Owed::PersistSend);
        self.probes.persist_backoff = self.probes.persist_backoff.saturating_add(1);
    }

    /// RFC 1122 §4.2.3.6: probe after `idle` without traffic, give up after `probes`.
    pub(super) fn on_keepalive_timer(&mut self, now: Instant) {
        let Some(keepalive) = self.config.keepalive else {
            return;
        };
        if !matches!(self.state, State::Established | State::CloseWait) {
            return;
        }
        let idle_since = self.probes.last_recv.max(self.probes.last_send);
        if self.probes.keepalive_probes_sent == 0
            && now.saturating_duration_since(idle_since) < keepalive.idle
        {
            self.timers
                .set(Timer::Keepalive, idle_since + keepalive.idle);
            return;
        }
        if self.snd.has_outstanding() {
            // Data outstanding: the retransmission timer watches the peer.
            self.timers.set(Timer::Keepalive, now + keepalive.idle);
            return;
        }
        if self.probes.keepalive_probes_sent >= keepalive.probes {
            self.enter_closed(Some(self.timed_out_error()));
            return;
        }
        self.probes.keepalive_probes_sent += 1;
        self.pending.insert(Owed::KeepaliveProbe);
        self.timers.set(Timer::Keepalive, now + keepalive.interval);
    }
}
