//! SYN cookies at a listener (RFC 4987 §3.6, the cookie itself in
//! [`crate::tcp::syn_cookie`]): a SYN the backlog has no room for is answered with a cookie
//! SYN,ACK and forgotten; the ACK that brings a valid cookie back opens the connection.

use std::time::Duration;

use super::Stack;
use crate::flow::FlowKey;
use crate::tcp::{syn_cookie, Connection};
use crate::time::Instant;
use crate::wire::TcpRepr;

/// How long after the last cookie sent an ACK is checked for one: two cookie periods, the
/// age up to which a cookie is accepted.
const COOKIE_ACCEPTANCE: Duration = Duration::from_secs(128);

/// RFC 9293 §3.7.1: the MSS assumed when a SYN carries none.
const DEFAULT_PEER_MSS: u16 = 536;

impl Stack {
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
        if self.conns.len() >= self.config.max_connections {
            self.stats.drop_connection_limit += 1;
            return true;
        }
        let options = syn_cookie::options_from_echo(mss, ack.options.timestamps.map(|(_, e)| e));
        let port = self.listeners[index].port;
        let mut conn = Connection::new(self.tcp_config.clone(), port, cookie);
        conn.set_buffer_pools(self.send_pool.clone(), self.recv_pool.clone());
        conn.set_timestamp_offset(self.isn.timestamp_offset(local, remote));
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
