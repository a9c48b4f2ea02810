//! What the application does with connections: open them, read and write, close, release.

use std::net::SocketAddrV4;

use super::{ConnId, Stack, StackError};
use crate::flow::FlowKey;
use crate::tcp::Connection;
use crate::time::Instant;

impl Stack {
    /// Active open toward `remote` from an ephemeral port.
    ///
    /// The port is chosen as RFC 6056 §3.3.3 (Algorithm 3) does: a keyed hash of the
    /// destination, plus a counter, within the range. Ports are therefore neither
    /// predictable nor the same from one run of a program to the next (which would reopen
    /// 4-tuples the peer may still hold).
    pub fn connect(&mut self, now: Instant, remote: SocketAddrV4) -> Result<ConnId, StackError> {
        self.check_remote(remote)?;
        let range = self.config.ephemeral_ports.clone();
        let span = u32::from(*range.end() - *range.start()) + 1;
        let local = SocketAddrV4::new(self.config.ipv4, 0);
        let offset = self.isn.port_offset(local, remote);
        for _ in 0..span {
            let port = *range.start()
                + (offset.wrapping_add(u32::from(self.next_ephemeral)) % span) as u16;
            self.next_ephemeral = self.next_ephemeral.wrapping_add(1);
            let key = FlowKey::new(SocketAddrV4::new(self.config.ipv4, port), remote);
            if self.flows.get(&key).is_none() && self.listener_index(port).is_none() {
                return self.connect_from(now, port, remote);
            }
        }
        Err(StackError::NoEphemeralPort(remote))
    }

    /// Active open toward `remote` from `local_port`.
    pub fn connect_from(
        &mut self,
        now: Instant,
        local_port: u16,
        remote: SocketAddrV4,
    ) -> Result<ConnId, StackError> {
        self.check_remote(remote)?;
        let key = FlowKey::new(SocketAddrV4::new(self.config.ipv4, local_port), remote);
        if self.flows.get(&key).is_some() {
            return Err(StackError::PortInUse(local_port));
        }
        if self.conns.len() >= self.config.max_connections {
            return Err(StackError::TooManyConnections(self.config.max_connections));
        }
        let iss = self.isn.isn(now, key.local(), key.remote());
        let mut conn = self.new_connection(key, iss);
        conn.connect(remote.port(), now)?;
        let id = self.insert(key, conn, None, true)?;
        self.stats.connections_opened += 1;
        self.after_change(id);
        Ok(id)
    }

    /// The connection behind `id`. Anything done to it is picked up by the next
    /// `poll_transmit`, `poll_event` and `poll_deadline`.
    pub fn connection(&mut self, id: ConnId) -> Result<&mut Connection, StackError> {
        if !self.conns.contains_key(id) {
            return Err(StackError::NoSuchConnection);
        }
        self.after_change(id);
        match self.conns.get_mut(id) {
            Some(slot) => Ok(&mut slot.conn),
            None => Err(StackError::NoSuchConnection),
        }
    }

    /// The 4-tuple of `id`.
    pub fn flow_key(&self, id: ConnId) -> Option<FlowKey> {
        self.conns.get(id).map(|s| s.key)
    }

    pub fn send(&mut self, id: ConnId, data: &[u8], now: Instant) -> Result<usize, StackError> {
        Ok(self.on_connection(id, |c| c.send(data, now))??)
    }

    pub fn recv(&mut self, id: ConnId, buf: &mut [u8]) -> Result<usize, StackError> {
        Ok(self.on_connection(id, |c| c.recv(buf))??)
    }

    /// Half-close: no more data from us (RFC 9293 CLOSE).
    pub fn close(&mut self, id: ConnId) -> Result<(), StackError> {
        Ok(self.on_connection(id, Connection::close)??)
    }

    /// Half-close as applications mean it: FIN after the queued data, also from SYN-SENT
    /// (see [`tcp::Connection::shutdown_write`]).
    pub fn shutdown_write(&mut self, id: ConnId) -> Result<(), StackError> {
        Ok(self.on_connection(id, Connection::shutdown_write)??)
    }

    pub fn abort(&mut self, id: ConnId) -> Result<(), StackError> {
        self.on_connection(id, Connection::abort)
    }

    /// The application is done with `id`: the stack finishes the close on its own (a reset
    /// if received data was left unread) and frees the connection when it is CLOSED.
    pub fn release(&mut self, id: ConnId, now: Instant) {
        if let Some(slot) = self.conns.get_mut(id) {
            slot.released = true;
            slot.conn.release(now);
            self.after_change(id);
            self.maybe_free(id);
        }
    }

    /// RFC 1122 §4.2.3.10: an OPEN toward an address no peer may have is an error.
    fn check_remote(&self, remote: SocketAddrV4) -> Result<(), StackError> {
        if self.is_invalid_peer(*remote.ip()) {
            return Err(StackError::InvalidRemoteAddress(*remote.ip()));
        }
        Ok(())
    }

    /// Runs `call` on connection `id`, then picks up what it changed: output, events, the
    /// timer, the end of the connection.
    fn on_connection<R>(
        &mut self,
        id: ConnId,
        call: impl FnOnce(&mut Connection) -> R,
    ) -> Result<R, StackError> {
        let slot = self.conns.get_mut(id).ok_or(StackError::NoSuchConnection)?;
        let result = call(&mut slot.conn);
        self.after_change(id);
        Ok(result)
    }
}
