//! Property test over many seeds: a transfer of 1 B to 4 MiB in each direction between two
//! stacks over a link with 5% loss, 10% reordering, 1% duplication and 0.1% corruption.
//! Every byte must arrive exactly once and in order, both ends must reach CLOSED and be freed,
//! and nothing may panic.
//!
//! `XDPTCP_SIM_SEEDS=N` sets how many seeds run (default 1000) and `XDPTCP_SIM_FIRST_SEED`
//! where they start; `XDPTCP_SIM_SEED=S` replays one, and `XDPTCP_SIM_TRACE=1` prints its
//! frames.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use xdptcp::sim::{LinkConfig, Network, NodeId};
use xdptcp::stack::{ConnId, StackEvent};
use xdptcp::tcp::Error;
use xdptcp::Instant;

const MAX_TRANSFER: u64 = 4 * 1024 * 1024;
const PORT: u16 = 5001;

/// Byte `i` of the stream for `(seed, direction)`: splitmix64, so any position is cheap.
fn stream_byte(seed: u64, direction: u64, i: u64) -> u8 {
    let mut z = seed
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(direction << 56)
        .wrapping_add(i / 8);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> (8 * (i % 8))) as u8
}

/// One side of the transfer: what it sends, what it has received, how far each got.
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
    closed: Option<Option<Error>>,
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

    fn done(&self) -> bool {
        self.released
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
        if self.sent == self.to_send && !self.closed_write && self.closed.is_none() {
            stack
                .close(id, now)
                .expect("close after sending everything");
            self.closed_write = true;
        }
        while !self.eof {
            match stack.recv(id, &mut chunk) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    for (k, &b) in chunk[..n].iter().enumerate() {
                        let pos = self.received + k as u64;
                        if pos >= self.expect || b != stream_byte(seed, peer_direction, pos) {
                            if self.mismatches == 0 && std::env::var("XDPTCP_SIM_DEBUG").is_ok() {
                                eprintln!("seed {seed} dir {peer_direction}: first mismatch at {pos} of {} (got {b}, want {})", self.expect, stream_byte(seed, peer_direction, pos));
                            }
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

struct Outcome {
    bytes: u64,
    mismatches: u64,
    virtual_time: Duration,
    corrupted: u64,
    checksum_drops: u64,
}

fn log_uniform_size(rng: &mut ChaCha8Rng) -> u64 {
    let exp: f64 = rng.random_range(0.0..(MAX_TRANSFER as f64).ln());
    (exp.exp() as u64).clamp(1, MAX_TRANSFER)
}

fn run_transfer(seed: u64) -> Result<Outcome, String> {
    let mut sizes = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    let up = log_uniform_size(&mut sizes);
    let down = log_uniform_size(&mut sizes);

    let mut net = Network::new(seed);
    net.set_trace(std::env::var("XDPTCP_SIM_TRACE").is_ok());
    if std::env::var("XDPTCP_SIM_IDEAL").is_ok() {
        net.set_default_link(LinkConfig::ideal(Duration::from_micros(500)));
    } else {
        net.set_default_link(LinkConfig {
            delay: Duration::from_micros(500),
            jitter: Duration::from_micros(200),
            loss: 0.05,
            reorder: 0.10,
            reorder_delay: Duration::from_millis(2),
            duplicate: 0.01,
            corrupt: 0.001,
        });
    }
    let mut client_config = Network::node_config(1);
    let mut server_config = Network::node_config(2);
    for c in [&mut client_config, &mut server_config] {
        c.tcp.msl = Duration::from_secs(1);
        c.tcp.data_retries = 30;
        c.tcp.syn_retries = 30;
    }
    let client_node = net.add_node(client_config).map_err(|e| e.to_string())?;
    let server_node = net.add_node(server_config).map_err(|e| e.to_string())?;
    net.stack(server_node)
        .listen(PORT, 64)
        .map_err(|e| e.to_string())?;
    let server_addr = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), PORT);
    let mut client = Side::new(client_node, 1, up, down);
    let mut server = Side::new(server_node, 2, down, up);
    let now = net.now();
    net.stack(client_node)
        .connect(now, server_addr)
        .map_err(|e| e.to_string())?;

    let limit = Instant::from_millis(3_600_000);
    let finished = net.run_until(limit, |net| {
        client.drive(net, seed, 2);
        server.drive(net, seed, 1);
        client.done() && server.done() && net.stacks().iter().all(|s| s.connection_count() == 0)
    });
    let describe = |s: &Side| {
        format!(
            "sent {}/{} received {}/{} eof {} closed {:?}",
            s.sent, s.to_send, s.received, s.expect, s.eof, s.closed
        )
    };
    if !finished {
        return Err(format!(
            "seed {seed}: stalled at {:?}; client {}; server {}; connections {} / {}",
            net.now(),
            describe(&client),
            describe(&server),
            net.stacks()[0].connection_count(),
            net.stacks()[1].connection_count()
        ));
    }
    for side in [&client, &server] {
        if side.received != side.expect || side.closed != Some(None) {
            return Err(format!("seed {seed}: {}", describe(side)));
        }
    }
    let checksum_drops: u64 = net
        .stacks()
        .iter()
        .map(|s| {
            let st = s.stats();
            st.malformed() + st.drop_not_for_us + st.drop_unsupported_ethertype
        })
        .sum();
    Ok(Outcome {
        bytes: up + down,
        mismatches: client.mismatches + server.mismatches,
        virtual_time: net.now() - Instant::ZERO,
        corrupted: net.stats().corrupted,
        checksum_drops,
    })
}

#[test]
fn lossy_transfers_deliver_every_byte_once_in_order() {
    let seeds: Vec<u64> = match std::env::var("XDPTCP_SIM_SEED") {
        Ok(s) => vec![s.parse().expect("XDPTCP_SIM_SEED is a number")],
        Err(_) => {
            let n: u64 = std::env::var("XDPTCP_SIM_SEEDS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(1000);
            let first: u64 = std::env::var("XDPTCP_SIM_FIRST_SEED")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            (first..first + n).collect()
        }
    };
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let results: Vec<Result<Outcome, String>> = std::thread::scope(|scope| {
        let chunks: Vec<Vec<u64>> = (0..workers)
            .map(|w| seeds.iter().copied().skip(w).step_by(workers).collect())
            .collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|seed| {
                            std::panic::catch_unwind(|| run_transfer(seed)).unwrap_or_else(|_| {
                                Err(format!(
                                    "seed {seed}: panicked (replay: XDPTCP_SIM_SEED={seed})"
                                ))
                            })
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker thread"))
            .collect()
    });
    let mut failures = Vec::new();
    let (mut transfers, mut bytes, mut mismatches, mut corrupted, mut caught) =
        (0, 0u64, 0u64, 0u64, 0u64);
    let mut longest = Duration::ZERO;
    for r in results {
        match r {
            Ok(o) => {
                transfers += 1;
                bytes += o.bytes;
                mismatches += o.mismatches;
                corrupted += o.corrupted;
                caught += o.checksum_drops;
                longest = longest.max(o.virtual_time);
            }
            Err(e) => failures.push(e),
        }
    }
    println!(
        "netsim: {transfers} transfers ({} seeds), {bytes} bytes ({:.1} MiB), {mismatches} mismatches, \
         {corrupted} frames corrupted on the wire, {caught} dropped by checksum/header/address checks \
         (the rest hit bytes no checksum covers: Ethernet source, padding, ARP), longest {:.1} s virtual",
        seeds.len(),
        bytes as f64 / (1024.0 * 1024.0),
        longest.as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(mismatches, 0);
    assert_eq!(transfers, seeds.len());
}
