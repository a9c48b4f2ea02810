//! What the application does with connections: open them, read and write, close, release.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::{ConnId, Stack, StackError};
use crate::flow::FlowKey;
use crate::tcp::Connection;
use crate::time::Instant;

impl Stack {
    /// Active open toward `remote` from an ephemeral port of one of our addresses (taken in
    /// turn when there are several: [`StackConfig::more_ipv4`]).
    ///
    /// [`StackConfig::more_ipv4`]: super::StackConfig::more_ipv4
    pub fn connect(&mut self, now: Instant, remote: SocketAddrV4) -> Result<ConnId, StackError> {
        self.check_remote(remote)?;
        let addresses = 1 + self.config.more_ipv4.len();
        for step in 0..addresses {
            let turn = (self.next_local_address + step) % addresses;
            let local_ip = match turn {
                0 => self.config.ipv4,
                n => self.config.more_ipv4[n - 1],
            };
            if let Some(port) = self.free_ephemeral_port(local_ip, remote) {
                self.next_local_address = (turn + 1) % addresses;
                return self.open(now, SocketAddrV4::new(local_ip, port), remote);
            }
        }
        Err(StackError::NoEphemeralPort(remote))
    }

    /// An ephemeral port of `local_ip` free toward `remote`, chosen as RFC 6056 §3.3.3
    /// (Algorithm 3) does: a keyed hash of the addresses, plus a counter, within the range.
    /// Ports are therefore neither predictable nor the same from one run of a program to the
    /// next (which would reopen 4-tuples the peer may still hold). With
    /// [`StackConfig::reply_queue`] set, ports whose replies the NIC would deliver to another
    /// queue are passed over.
    ///
    /// [`StackConfig::reply_queue`]: super::StackConfig::reply_queue
    fn free_ephemeral_port(&mut self, local_ip: Ipv4Addr, remote: SocketAddrV4) -> Option<u16> {
        let range = self.config.ephemeral_ports.clone();
        let span = u32::from(*range.end() - *range.start()) + 1;
        let offset = self.isn.port_offset(SocketAddrV4::new(local_ip, 0), remote);
        for _ in 0..span {
            let port = *range.start()
                + (offset.wrapping_add(u32::from(self.next_ephemeral)) % span) as u16;
            self.next_ephemeral = self.next_ephemeral.wrapping_add(1);
            let key = FlowKey::new(SocketAddrV4::new(local_ip, port), remote);
            let reaches_us = match &self.config.reply_queue {
                Some(reply) => reply.rss.reply_queue(&key) == reply.queue,
                None => true,
            };
            if reaches_us && self.flows.get(&key).is_none() && self.listener_index(port).is_none() {
                return Some(port);
            }
        }
        None
    }

    /// Active open toward `remote` from `local_port` of our address `ipv4`.
    pub fn connect_from(
        &mut self,
        now: Instant,
        local_port: u16,
        remote: SocketAddrV4,
    ) -> Result<ConnId, StackError> {
        self.check_remote(remote)?;
        self.open(now, SocketAddrV4::new(self.config.ipv4, local_port), remote)
    }

    /// Active open from `local` (one of our addresses) toward `remote`.
    fn open(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
    ) -> Result<ConnId, StackError> {
        let key = FlowKey::new(local, remote);
        if self.flows.get(&key).is_some() {
            return Err(StackError::PortInUse(local.port()));
        }
        if self.conns.len() >= self.config.max_connections {
            return Err(StackError::TooManyConnections(self.config.max_connections));
        }
        if let (true, Some(limit)) = (self.buffer_memory_full(), self.config.buffer_memory_limit) {
            return Err(StackError::BufferMemoryLimit(limit));
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::flow::RssSteering;
    use crate::stack::{ReplyQueue, StackConfig};
    use crate::tcp::IsnGenerator;
    use crate::wire::MacAddr;

    #[test]
    fn with_a_reply_queue_every_ephemeral_port_brings_replies_to_that_queue() {
        let key: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(73) ^ 0xa5).collect();
        let table: Vec<u32> = (0..128).map(|i| i % 4).collect();
        let rss = Arc::new(RssSteering::new(&key, &table).unwrap());
        let mut config =
            StackConfig::new(MacAddr([2, 0, 0, 0, 0, 1]), Ipv4Addr::new(10, 0, 0, 1), 24);
        config.ephemeral_ports = 61_000..=61_999;
        config.reply_queue = Some(ReplyQueue {
            rss: rss.clone(),
            queue: 2,
        });
        let mut stack = Stack::new(config, IsnGenerator::with_key([7; 16]), 1).unwrap();
        let server: SocketAddrV4 = "10.0.0.2:80".parse().unwrap();
        let now = Instant::from_nanos(0);
        let mut ports = std::collections::BTreeSet::new();
        // About a quarter of the range reaches queue 2; take them all, then run out.
        loop {
            match stack.connect(now, server) {
                Ok(id) => {
                    let key = stack.flow_key(id).unwrap();
                    assert_eq!(rss.reply_queue(&key), 2, "port {}", key.local_port);
                    assert!(ports.insert(key.local_port));
                }
                Err(StackError::NoEphemeralPort(remote)) => {
                    assert_eq!(remote, server);
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        let reaching = (61_000..=61_999u16)
            .filter(|&p| {
                let key = FlowKey::new(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), p), server);
                rss.reply_queue(&key) == 2
            })
            .count();
        assert_eq!(ports.len(), reaching);
        assert!((150..350).contains(&reaching), "{reaching}");
    }
}
