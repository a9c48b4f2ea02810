//! A bidirectional bulk transfer between two stacks over a simulated link, checked byte by
//! byte: the workload of the lossy-network property test and of `xdptcp sim`.
//!
//! Each direction sends a pseudorandom stream whose every byte can be recomputed from
//! `(seed, direction, offset)`, so the receiver checks in place without storing anything.
//! Each side writes as the send buffer allows, closes its direction once everything is
//! queued, reads until end of stream, and releases the connection once it is CLOSED.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use super::{LinkConfig, NetStats, Network, NodeId};
use crate::stack::{ConnId, StackEvent, StackStats};
use crate::tcp::ConnectionError;
use crate::time::Instant;

/// What to transfer and over what.
#[derive(Clone, Debug)]
pub struct TransferSpec {
    pub seed: u64,
    /// Bytes from client to server.
    pub upload: u64,
    /// Bytes from server to client.
    pub download: u64,
    pub link: LinkConfig,
    /// Maximum segment lifetime; TIME-WAIT lasts twice this.
    pub msl: Duration,
    /// Virtual time after which the transfer counts as stalled.
    pub time_limit: Duration,
    /// Print every frame delivered.
    pub trace: bool,
}

impl TransferSpec {
    /// The link of the property test: 0.5 ms ± 0.2 ms, 5% loss, 10% reordering (by 2 ms),
    /// 1% duplication, 0.1% corruption.
    pub fn lossy_link() -> LinkConfig {
        LinkConfig {
            delay: Duration::from_micros(500),
            jitter: Duration::from_micros(200),
            loss: 0.05,
            reorder: 0.10,
            reorder_delay: Duration::from_millis(2),
            duplicate: 0.01,
            corrupt: 0.001,
        }
    }
}

/// What happened.
#[derive(Clone, Debug)]
pub struct TransferReport {
    pub seed: u64,
    pub upload: u64,
    pub download: u64,
    /// Bytes that differed from what was sent, or arrived beyond it.
    pub mismatches: u64,
    /// Virtual time from the first SYN until both connections were freed.
    pub virtual_time: Duration,
    pub net: NetStats,
    pub client: StackStats,
    pub server: StackStats,
}

impl TransferReport {
    /// Frames dropped by a checksum, header or address check on either side.
    pub fn frames_rejected(&self) -> u64 {
        [&self.client, &self.server]
            .iter()
            .map(|s| s.malformed() + s.drop_not_for_us + s.drop_unsupported_ethertype)
            .sum()
    }
}

/// Byte `offset` of the stream for `(seed, direction)` (splitmix64 over 8-byte blocks).
pub fn stream_byte(seed: u64, direction: u64, offset: u64) -> u8 {
    let mut z = seed
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(direction << 56)
        .wrapping_add(offset / 8);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> (8 * (offset % 8))) as u8
}

/// One end of the transfer.
struct Side {
    node: NodeId,
    conn: Option<ConnId>,
    direction: u64,
    to_send: u64,
    sent: u64,
    closed_write: bool,
    expect: u64,
    received: u64,
    mismatches: u64,
    eof: bool,
    closed: Option<Option<ConnectionError>>,
    released: bool,
}

impl Side {
    fn new(node: NodeId, direction: u64, to_send: u64, expect: u64) -> Side {
        Side {
            node,
            conn: None,
            direction,
            to_send,
            sent: 0,
            closed_write: false,
            expect,
            received: 0,
            mismatches: 0,
            eof: false,
            closed: None,
            released: false,
        }
    }

    fn describe(&self) -> String {
        format!(
            "sent {}/{} received {}/{} eof {} closed {:?}",
            self.sent, self.to_send, self.received, self.expect, self.eof, self.closed
        )
    }

    /// Reacts to events, writes what fits, reads what is there, closes when done.
    fn drive(&mut self, net: &mut Network, seed: u64, peer_direction: u64) {
        let now = net.now();
        while let Some((id, event)) = net.stack(self.node).poll_event() {
            match event {
                StackEvent::Accepted { .. } | StackEvent::Connected => self.conn = Some(id),
                StackEvent::Closed { error } => self.closed = Some(error),
                _ => {}
            }
        }
        let Some(id) = self.conn else { return };
        if self.released {
            return;
        }
        let stack = net.stack(self.node);
        let mut chunk = [0u8; 16 * 1024];
        while self.sent < self.to_send {
            let n = ((self.to_send - self.sent) as usize).min(chunk.len());
            for (k, b) in chunk[..n].iter_mut().enumerate() {
                *b = stream_byte(seed, self.direction, self.sent + k as u64);
            }
            match stack.send(id, &chunk[..n], now) {
                Ok(taken) => self.sent += taken as u64,
                Err(_) => break,
            }
        }
        if self.sent == self.to_send
            && !self.closed_write
            && self.closed.is_none()
            && stack.close(id).is_ok()
        {
            self.closed_write = true;
        }
        while !self.eof {
            match stack.recv(id, &mut chunk) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    for (k, &b) in chunk[..n].iter().enumerate() {
                        let pos = self.received + k as u64;
                        if pos >= self.expect || b != stream_byte(seed, peer_direction, pos) {
                            self.mismatches += 1;
                        }
                    }
                    self.received += n as u64;
                }
                Err(_) => break,
            }
        }
        if self.closed.is_some() && self.eof {
            stack.release(id, now);
            self.released = true;
        }
    }
}

const PORT: u16 = 5001;

/// Runs one transfer. `Err` describes a stall, a failed connection or a short delivery;
/// byte mismatches are reported in the `Ok` value for the caller to judge.
pub fn run_transfer(spec: &TransferSpec) -> Result<TransferReport, String> {
    let seed = spec.seed;
    let mut net = Network::new(seed);
    net.set_trace(spec.trace);
    net.set_default_link(spec.link);
    let mut client_config = Network::node_config(1);
    let mut server_config = Network::node_config(2);
    for c in [&mut client_config, &mut server_config] {
        c.tcp.msl = spec.msl;
        c.tcp.data_retries = 30;
        c.tcp.syn_retries = 30;
        c.tcp.synack_retries = 30;
    }
    let client_node = net.add_node(client_config).map_err(|e| e.to_string())?;
    let server_node = net.add_node(server_config).map_err(|e| e.to_string())?;
    net.stack(server_node)
        .listen(PORT, 64)
        .map_err(|e| e.to_string())?;
    let server_addr = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), PORT);
    let mut client = Side::new(client_node, 1, spec.upload, spec.download);
    let mut server = Side::new(server_node, 2, spec.download, spec.upload);
    let now = net.now();
    net.stack(client_node)
        .connect(now, server_addr)
        .map_err(|e| e.to_string())?;

    let limit = Instant::ZERO + spec.time_limit;
    let finished = net.run_until(limit, |net| {
        client.drive(net, seed, 2);
        server.drive(net, seed, 1);
        client.released && server.released && net.stacks().iter().all(|s| s.connection_count() == 0)
    });
    if !finished {
        return Err(format!(
            "seed {seed}: stalled at {:?}; client {}; server {}; connections {} / {}",
            net.now(),
            client.describe(),
            server.describe(),
            net.stacks()[0].connection_count(),
            net.stacks()[1].connection_count()
        ));
    }
    for side in [&client, &server] {
        if side.received != side.expect || side.closed != Some(None) {
            return Err(format!("seed {seed}: {}", side.describe()));
        }
    }
    Ok(TransferReport {
        seed,
        upload: spec.upload,
        download: spec.download,
        mismatches: client.mismatches + server.mismatches,
        virtual_time: net.now() - Instant::ZERO,
        net: net.stats().clone(),
        client: net.stacks()[0].stats().clone(),
        server: net.stacks()[1].stats().clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ideal_link_transfer_is_exact() {
        let report = run_transfer(&TransferSpec {
            seed: 3,
            upload: 100_000,
            download: 7,
            link: LinkConfig::ideal(Duration::from_micros(100)),
            msl: Duration::from_millis(100),
            time_limit: Duration::from_secs(60),
            trace: false,
        })
        .unwrap();
        assert_eq!(report.mismatches, 0);
        assert_eq!(report.net.lost, 0);
        assert_eq!(report.frames_rejected(), 0);
    }

    #[test]
    fn stream_bytes_differ_by_direction_and_seed() {
        let a: Vec<u8> = (0..64).map(|i| stream_byte(1, 1, i)).collect();
        let b: Vec<u8> = (0..64).map(|i| stream_byte(1, 2, i)).collect();
        let c: Vec<u8> = (0..64).map(|i| stream_byte(2, 1, i)).collect();
        assert_ne!(a, b);
        assert_ne!(a, c);
    }
}
