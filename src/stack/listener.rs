//! Listening ports: accepting SYNs (RFC 9293 §3.10.7.2), the backlog of half-open
//! connections, and a new SYN taking over a 4-tuple in TIME-WAIT (RFC 1122 §4.2.2.13).

use super::{ConnId, Stack, StackError, SynCookies};
use crate::flow::FlowKey;
use crate::tcp;
use crate::time::Instant;
use crate::wire::TcpRepr;

#[derive(Debug)]
pub(super) struct Listener {
    pub(super) port: u16,
    pub(super) backlog: usize,
    /// Connections from this listener not yet ESTABLISHED.
    pub(super) half_open: usize,
    /// Connections from this listener established and not yet taken by the application
    /// (see `accept_queue`).
    pub(super) accept_queue: usize,
    /// Whether its SYNs are answered with cookies before they reach the stack (see
    /// [`Stack::publish_cookie_offload`]), as last published.
    pub(super) cookies_offloaded: bool,
    /// When its backlog was last seen full.
    pub(super) backlog_full_at: Option<Instant>,
}

impl Stack {
    /// Accepts connections on `port`, holding at most `backlog` half-open ones.
    pub fn listen(&mut self, port: u16, backlog: usize) -> Result<(), StackError> {
        if port == 0 || self.listener_index(port).is_some() {
            return Err(StackError::PortInUse(port));
        }
        self.listeners.push(Listener {
            port,
            backlog: backlog.max(1),
            half_open: 0,
            accept_queue: 0,
            cookies_offloaded: false,
            backlog_full_at: None,
        });
        Ok(())
    }

    /// Stops accepting on `port`; established connections are not affected.
    pub fn unlisten(&mut self, port: u16) {
        if let Some(index) = self.listener_index(port) {
            if self.listeners.remove(index).cookies_offloaded {
                self.cookie_offload_ended.push(port);
            }
        }
    }

    /// Ports this stack listens on.
    pub fn listening_ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.listeners.iter().map(|l| l.port)
    }

    /// The listener on `port`, by index.
    pub(super) fn listener_index(&self, port: u16) -> Option<usize> {
        self.listeners.iter().position(|l| l.port == port)
    }

    /// A connection from the listener on `port` left SYN-RECEIVED (or was freed in it).
    pub(super) fn end_half_open(&mut self, port: u16) {
        if let Some(l) = self.listeners.iter_mut().find(|l| l.port == port) {
            l.half_open = l.half_open.saturating_sub(1);
        }
    }

    /// A segment for the listener at `index` and no connection: RFC 9293 §3.10.7.2 LISTEN
    /// ignores a RST, resets an ACK and opens on a SYN.
    pub(super) fn segment_for_listener(
        &mut self,
        now: Instant,
        index: usize,
        key: FlowKey,
        repr: &TcpRepr,
        payload: &[u8],
    ) {
        if repr.flags.rst() {
            self.stats.drop_no_connection += 1;
        } else if repr.ack.is_some() {
            if repr.flags.syn() || !self.accept_cookie_ack(now, index, key, repr, payload) {
                self.queue_reset(key, repr, payload.len());
            }
        } else if repr.flags.syn() {
            self.accept_syn(now, index, key, repr, payload);
        } else {
            self.stats.drop_no_connection += 1;
        }
    }

    /// RFC 1122 §4.2.2.13 and RFC 6191: a new SYN may reopen a connection from TIME-WAIT
    /// when no segment of the old connection can be mistaken for one of the new, in either
    /// direction. The old connection then gives up the 4-tuple and the SYN goes to the
    /// listener.
    pub(super) fn reopens_time_wait(
        &self,
        now: Instant,
        id: ConnId,
        key: &FlowKey,
        repr: &TcpRepr,
    ) -> bool {
        self.conns.get(id).is_some_and(|slot| {
            slot.conn.admits_new_incarnation(repr)
                && self.may_reuse_time_wait(now, key, repr, slot.conn.snd_max())
        })
    }

    /// Our side of reusing a 4-tuple in TIME-WAIT whose SYN the peer's side admits (RFC 6191
    /// §2 decides on that): a listener must take the SYN, and without timestamps the new ISN
    /// must lie above everything the old incarnation sent (`snd_max`, RFC 1122 §4.2.2.13),
    /// so its delayed segments fall outside the new window; with them our TSvals keep rising
    /// on the 4-tuple and the peer's PAWS rejects the old segments.
    pub(super) fn may_reuse_time_wait(
        &self,
        now: Instant,
        key: &FlowKey,
        repr: &TcpRepr,
        snd_max: tcp::SeqNum,
    ) -> bool {
        let new_uses_timestamps = self.tcp_config.timestamps && repr.options.timestamps.is_some();
        self.listener_index(key.local_port).is_some()
            && (new_uses_timestamps || self.isn.isn(now, key.local(), key.remote()) > snd_max)
    }

    fn accept_syn(
        &mut self,
        now: Instant,
        listener: usize,
        key: FlowKey,
        repr: &TcpRepr,
        payload: &[u8],
    ) {
        if self.buffer_memory_full() {
            // Not answered, not even with a cookie: the peer retries its SYN, and one of
            // those gets in once connections have given buffers back (see `memory`).
            self.stats.drop_buffer_memory += 1;
            return;
        }
        let l = &mut self.listeners[listener];
        let backlog_full = l.half_open >= l.backlog;
        if backlog_full {
            l.backlog_full_at = Some(now);
        }
        match self.config.syn_cookies {
            SynCookies::Always => return self.answer_with_cookie(now, key, repr),
            SynCookies::WhenBacklogFull if backlog_full => {
                return self.answer_with_cookie(now, key, repr)
            }
            _ if backlog_full => {
                self.stats.drop_listen_overflow += 1;
                return;
            }
            _ => {}
        }
        if self.conns.len() >= self.config.max_connections {
            self.stats.drop_connection_limit += 1;
            return;
        }
        let port = l.port;
        let iss = self.isn.isn(now, key.local(), key.remote());
        let mut conn = self.new_connection(key, iss);
        if conn.listen(None).is_err() {
            return;
        }
        conn.handle_segment(now, repr, payload);
        if conn.state() != tcp::State::SynReceived {
            return;
        }
        match self.insert(key, conn, Some(port), false) {
            Ok(id) => {
                self.listeners[listener].half_open += 1;
                self.after_change(id);
            }
            Err(_) => self.stats.drop_connection_limit += 1,
        }
    }
}
