//! The accept queue: passive connections that completed their handshake and that the
//! application has not taken yet, bounded per listener.
//!
//! A connection joins its listener's accept queue when it leaves SYN-RECEIVED for a
//! synchronized state, and leaves it when the application takes it — when
//! [`Stack::poll_event`] hands out its `Accepted` event, this API's `accept()` — or when it
//! is freed first. While the queue is full, the ACK that would complete another handshake is
//! dropped and counted (`drop_accept_queue_full`), as Linux does with its default
//! `net.ipv4.tcp_abort_on_overflow = 0` (`tcp_check_req`, `listen_overflow`; ip-sysctl.rst:
//! "if overflow occurred due to a burst, connection will recover"): the connection stays in
//! SYN-RECEIVED, counted in the backlog, its SYN,ACK is retransmitted (RFC 9293 §3.8.1),
//! the peer acknowledges it again and the handshake completes once the application has
//! taken connections off the queue. A reset instead (`tcp_abort_on_overflow = 1`) would
//! turn a burst into failed connections. An ACK carrying a valid SYN cookie is dropped the
//! same way (Linux's `tcp_v4_syn_recv_sock`, `sk_acceptq_is_full`); the peer's retransmission
//! brings it back while the cookie is still accepted.

use super::{ConnId, Stack};
use crate::tcp;
use crate::wire::TcpRepr;

impl Stack {
    /// True if the listener on `port` holds as many accepted, untaken connections as the
    /// stack's `accept_queue` allows.
    pub(super) fn accept_queue_full(&self, port: u16) -> bool {
        self.listener_index(port)
            .is_some_and(|index| self.listeners[index].accept_queue >= self.config.accept_queue)
    }

    /// True, counted, if `repr` is the ACK that would complete the handshake of `id` (in
    /// SYN-RECEIVED, acknowledging our SYN, RFC 9293 §3.10.7.4) while its listener's accept
    /// queue is full: the caller drops it.
    pub(super) fn refuses_handshake_completion(&mut self, id: ConnId, repr: &TcpRepr) -> bool {
        let Some(slot) = self.conns.get(id) else {
            return false;
        };
        let (Some(port), true) = (slot.listen_port, slot.half_open) else {
            return false;
        };
        let completes = slot.conn.state() == tcp::State::SynReceived
            && !repr.flags.rst()
            && !repr.flags.syn()
            && repr.ack == Some(slot.conn.snd_max());
        if !completes || !self.accept_queue_full(port) {
            return false;
        }
        self.stats.drop_accept_queue_full += 1;
        true
    }

    /// Connection `id` completed its passive open: it waits in its listener's accept queue
    /// until the application takes it.
    pub(super) fn enter_accept_queue(&mut self, id: ConnId) {
        let Some(slot) = self.conns.get_mut(id) else {
            return;
        };
        if slot.visible || slot.awaiting_accept {
            return;
        }
        let Some(port) = slot.listen_port else {
            return;
        };
        slot.awaiting_accept = true;
        if let Some(index) = self.listener_index(port) {
            self.listeners[index].accept_queue += 1;
        }
    }

    /// Connection `id` was taken by the application or freed: off its listener's accept
    /// queue, if it was on it.
    pub(super) fn leave_accept_queue(&mut self, id: ConnId) {
        let Some(slot) = self.conns.get_mut(id) else {
            return;
        };
        if !std::mem::take(&mut slot.awaiting_accept) {
            return;
        }
        let Some(port) = slot.listen_port else {
            return;
        };
        if let Some(index) = self.listener_index(port) {
            let l = &mut self.listeners[index];
            l.accept_queue = l.accept_queue.saturating_sub(1);
        }
    }

    /// Accepted connections the application has not taken yet, over every listener.
    pub fn accept_queue_len(&self) -> usize {
        self.listeners.iter().map(|l| l.accept_queue).sum()
    }
}
