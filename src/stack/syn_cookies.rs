//! SYN cookies at a listener (RFC 4987 §3.6, the cookie itself in
//! [`crate::tcp::syn_cookie`]): a SYN the backlog has no room for is answered with a cookie
//! SYN,ACK and forgotten; the ACK that brings a valid cookie back opens the connection.
//!
//! Where the datapath can answer SYNs before they reach the stack (the XDP program), the
//! stack says which listeners want that ([`Stack::publish_cookie_offload`]): those whose
//! backlog was full within [`OFFLOAD_HOLD`], or all with [`SynCookies::Always`]. The cookies
//! made there are the stack's own (same key, same function), so their ACKs come back here.

use std::time::Duration;

use super::{Stack, SynCookies};
use crate::flow::FlowKey;
use crate::tcp::syn_cookie;
use crate::time::Instant;
use crate::wire::TcpRepr;

/// How long after the last cookie sent an ACK is checked for one: two cookie periods, the
/// age up to which a cookie is accepted.
const COOKIE_ACCEPTANCE: Duration = Duration::from_secs(128);

/// How long after its backlog was last seen full a listener keeps its SYNs answered with
/// cookies before the stack. While they are, the backlog only drains (no SYN reaches it);
/// once it has room and this time has passed, SYNs reach the stack again.
pub const OFFLOAD_HOLD: Duration = Duration::from_secs(1);

/// RFC 9293 §3.7.1: the MSS assumed when a SYN carries none.
const DEFAULT_PEER_MSS: u16 = 536;

impl Stack {
    /// Calls `publish(port, on)` for each listening port whose wish to have its SYNs answered
    /// with cookies before they reach the stack changed since the last call (`on`: answer
    /// them; else: let them through). A datapath that can answer SYNs calls this every loop
    /// turn; it costs a pass over the listeners. While any port is published on, ACKs are
    /// checked for cookies as if the stack had sent them.
    pub fn publish_cookie_offload(&mut self, now: Instant, mut publish: impl FnMut(u16, bool)) {
        for port in self.cookie_offload_ended.drain(..) {
            publish(port, false);
        }
        let mode = self.config.syn_cookies;
        let mut any = false;
        for l in &mut self.listeners {
            if l.half_open >= l.backlog {
                l.backlog_full_at = Some(now);
            }
            let wanted = match mode {
                SynCookies::Off => false,
                SynCookies::Always => true,
                SynCookies::WhenBacklogFull => l
                    .backlog_full_at
                    .is_some_and(|at| now.saturating_duration_since(at) < OFFLOAD_HOLD),
            };
            if wanted != l.cookies_offloaded {
                l.cookies_offloaded = wanted;
                publish(l.port, wanted);
            }
            any |= wanted;
        }
        if any {
            self.last_cookie_sent = Some(now);
        }
    }

    /// Answers `syn` from `key`'s peer with a cookie SYN,ACK, keeping nothing.
    pub(super) fn answer_with_cookie(&mut self, now: Instant, key: FlowKey, syn: &TcpRepr) {
        let (local, remote) = (key.local(), key.remote());
        let peer_mss = syn.options.mss.unwrap_or(DEFAULT_PEER_MSS);
        let cookie = self.isn.syn_cookie(now, local, remote, syn.seq, peer_mss);
        let offset = self.isn.timestamp_offset(local, remote);
        let reply = syn_cookie::syn_ack(&self.tcp_config, syn, cookie, now, offset);
        if self.queue_stateless_reply(key, reply) {
            self.stats.syn_cookies_sent += 1;
            self.last_cookie_sent = Some(now);
        }
    }

    /// An ACK to the listener at `index` with no connection: if cookies were sent lately and
    /// it carries a valid one, opens the connection the cookie stands for and returns true
    /// (the segment is then taken); else false, and the caller answers as for any ACK.
    pub(super) fn accept_cookie_ack(
        &mut self,
        now: Instant,
        index: usize,
        key: FlowKey,
        ack: &TcpRepr,
        payload: &[u8],
    ) -> bool {
        let recent = self
            .last_cookie_sent
            .is_some_and(|sent| now.saturating_duration_since(sent) < COOKIE_ACCEPTANCE);
        let (Some(ack_number), true) = (ack.ack, recent) else {
            return false;
        };
        let (local, remote) = (key.local(), key.remote());
        let cookie = ack_number - 1u32;
        let Some(mss) = self
            .isn
            .check_syn_cookie(now, local, remote, ack.seq - 1u32, cookie)
        else {
            self.stats.syn_cookies_rejected += 1;
            return false;
        };
        let port = self.listeners[index].port;
        if self.accept_queue_full(port) {
            // Dropped, not reset (see `accept_queue`): the peer's retransmission returns.
            self.stats.drop_accept_queue_full += 1;
            return true;
        }
        if self.conns.len() >= self.config.max_connections {
            self.stats.drop_connection_limit += 1;
            return true;
        }
        if self.buffer_memory_full() {
            // A cookie sent before the limit was reached (or by the datapath, which answers
            // SYNs without the stack): dropped like a full accept queue's, so the peer's
            // retransmission gets in once memory is given back, while the cookie is valid.
            self.stats.drop_buffer_memory += 1;
            return true;
        }
        let options = syn_cookie::options_from_echo(mss, ack.options.timestamps.map(|(_, e)| e));
        let mut conn = self.new_connection(key, cookie);
        if conn.accept_syn_cookie(now, ack, payload, options).is_err()
            || !conn.state().is_synchronized()
        {
            self.stats.syn_cookies_rejected += 1;
            return false;
        }
        match self.insert(key, conn, Some(port), false) {
            Ok(id) => {
                // Counted as half-open for the moment `refresh` takes to see it established
                // (which counts it accepted), as a connection through SYN-RECEIVED is.
                self.listeners[index].half_open += 1;
                self.stats.syn_cookies_accepted += 1;
                self.after_change(id);
            }
            Err(_) => self.stats.drop_connection_limit += 1,
        }
        true
    }
}
