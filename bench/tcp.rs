//! The TCP path's cost per in-order data segment, without any I/O.
//!
//! - `tcp/receive_in_order_segment_direct_1460B`: the path the runtime takes for in-order
//!   data: `handle_segment_direct` for a full-sized segment, the application reading the
//!   payload in place (zero copy), `finish_direct`, and the ACK emitted every second segment.
//! - `tcp/receive_in_order_segment_1460B`: the same through the receive buffer (a copy in,
//!   the application's read in place from the ring).
//! - `tcp/send_in_order_segment_1460B`: the application's `send`, `poll_transmit` building
//!   the data segment, and the ACK processed.
//! - `stack/echo_round_trip_64B`: two whole stacks, frames and all: the client's 64-byte
//!   request leaves as an Ethernet frame, the server stack parses and checks it, finds the
//!   flow, hands the bytes to the application in place, which echoes them; the response
//!   frame goes back the same way. Four stack passes per iteration: what a 64-byte
//!   ping-pong costs in xdptcp beyond the frames' trip through the kernel.
//!
//! `cargo bench --bench tcp`

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use criterion::{criterion_group, Criterion, Throughput};
use xdptcp::stack::{ConnId, Stack, StackConfig, StackEvent};
use xdptcp::tcp::buffer::BufferPool;
use xdptcp::tcp::{Config, Connection, IsnGenerator, SeqNum, State};
use xdptcp::wire::{MacAddr, TcpFlags, TcpOptions, TcpRepr};
use xdptcp::Instant;

const MSS: usize = 1460;

fn header(seq: u32, ack: u32, flags: TcpFlags, window: u16) -> TcpRepr {
    TcpRepr {
        src_port: 40000,
        dst_port: 80,
        seq: SeqNum(seq),
        ack: flags.ack().then_some(SeqNum(ack)),
        flags,
        window,
        urgent: 0,
        options: TcpOptions::default(),
    }
}

/// A passive connection in ESTABLISHED with ISS 1000 and peer ISS 5000, its buffers drawn
/// from pools as a stack's connections are (`Stack::new_connection`).
fn established() -> Connection {
    let config = Config::default();
    let pools = (
        BufferPool::new(config.send_buffer, 64),
        BufferPool::new(config.recv_buffer, 64),
    );
    let mut conn = Connection::new(Arc::new(config), 80, SeqNum(1000));
    conn.set_buffer_pools(pools.0, pools.1);
    conn.listen(None).unwrap();
    let mut syn = header(5000, 0, TcpFlags::SYN, 65535);
    syn.options.mss = Some(MSS as u16);
    syn.options.window_scale = Some(7);
    conn.handle_segment(Instant::ZERO, &syn, &[]);
    let mut out = [0u8; 2048];
    while conn.poll_transmit(Instant::ZERO, &mut out).is_some() {}
    conn.handle_segment(
        Instant::ZERO,
        &header(5001, 1001, TcpFlags::ACK, 65535),
        &[],
    );
    assert_eq!(conn.state(), State::Established);
    conn
}

/// A receiver in ESTABLISHED fed in-order full-sized segments.
struct Receiver {
    conn: Connection,
    payload: Vec<u8>,
    out: [u8; 2048],
    seq: u32,
    now: u64,
}

impl Receiver {
    fn new() -> Receiver {
        Receiver {
            conn: established(),
            payload: vec![0x42u8; MSS],
            out: [0u8; 2048],
            seq: 5001,
            now: 0,
        }
    }

    /// One segment through the receive buffer, read in place from the ring.
    fn buffered(&mut self) {
        self.now += 1_000;
        let t = Instant::from_nanos(self.now);
        let seg = header(self.seq, 1001, TcpFlags::ACK, 65535);
        self.conn
            .handle_segment(t, black_box(&seg), black_box(&self.payload));
        self.seq = self.seq.wrapping_add(MSS as u32);
        let _ = self.conn.recv_with(|data| black_box(data).len());
        while let Some(n) = self.conn.poll_transmit(t, &mut self.out) {
            black_box(&self.out[..n]);
        }
    }

    /// One segment shown to the application in place and consumed there.
    fn direct(&mut self) {
        self.now += 1_000;
        let t = Instant::from_nanos(self.now);
        let seg = header(self.seq, 1001, TcpFlags::ACK, 65535);
        let range = self
            .conn
            .handle_segment_direct(t, black_box(&seg), black_box(&self.payload))
            .expect("in-order data is delivered in place");
        // The application consumes everything in place.
        black_box(&self.payload[range]);
        self.conn.finish_direct(&[]);
        self.seq = self.seq.wrapping_add(MSS as u32);
        while let Some(n) = self.conn.poll_transmit(t, &mut self.out) {
            black_box(&self.out[..n]);
        }
    }
}

/// A sender in ESTABLISHED whose every full-sized segment the peer acknowledges.
struct Sender {
    conn: Connection,
    data: Vec<u8>,
    out: [u8; 2048],
    now: u64,
}

impl Sender {
    fn new() -> Sender {
        let mut conn = established();
        conn.set_nodelay(true);
        Sender {
            conn,
            data: vec![0x17u8; MSS],
            out: [0u8; 2048],
            now: 0,
        }
    }

    fn segment(&mut self) {
        self.now += 1_000;
        let t = Instant::from_nanos(self.now);
        self.conn.send(black_box(&self.data), t).unwrap();
        let n = self
            .conn
            .poll_transmit(t, &mut self.out)
            .expect("a data segment");
        black_box(&self.out[..n]);
        let acked = self.conn.snd_nxt().0;
        self.conn
            .handle_segment(t, &header(5001, acked, TcpFlags::ACK, 65535), &[]);
    }
}

fn bench_tcp(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcp");
    g.throughput(Throughput::Elements(1));
    g.bench_function("receive_in_order_segment_1460B", |b| {
        let mut r = Receiver::new();
        b.iter(|| r.buffered());
        assert_eq!(r.conn.state(), State::Established);
    });
    g.bench_function("receive_in_order_segment_direct_1460B", |b| {
        let mut r = Receiver::new();
        b.iter(|| r.direct());
        assert_eq!(r.conn.state(), State::Established);
    });
    g.bench_function("send_in_order_segment_1460B", |b| {
        let mut s = Sender::new();
        b.iter(|| s.segment());
        assert_eq!(s.conn.state(), State::Established);
    });
    g.finish();
}

/// Two stacks, 10.0.0.1 (client) and 10.0.0.2 (server), with an established connection.
struct Pair {
    client: Stack,
    server: Stack,
    client_conn: ConnId,
    server_conn: ConnId,
    frame: Vec<u8>,
}

fn stack(n: u8) -> Stack {
    let mut config = StackConfig::new(MacAddr([2, 0, 0, 0, 0, n]), Ipv4Addr::new(10, 0, 0, n), 24);
    config.arp = false;
    config.tcp.nodelay = true;
    let mut stack = Stack::new(config, IsnGenerator::with_key([n; 16]), u64::from(n)).unwrap();
    let other = 3 - n;
    stack.add_neighbor(
        Ipv4Addr::new(10, 0, 0, other),
        MacAddr([2, 0, 0, 0, 0, other]),
    );
    stack
}

impl Pair {
    fn new() -> Pair {
        let (mut client, mut server) = (stack(1), stack(2));
        server.listen(7, 16).unwrap();
        let client_conn = client
            .connect(
                Instant::ZERO,
                SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 7),
            )
            .unwrap();
        let mut pair = Pair {
            client,
            server,
            client_conn,
            server_conn: client_conn,
            frame: vec![0u8; 2048],
        };
        let mut accepted = None;
        for _ in 0..4 {
            pair.exchange(Instant::ZERO);
            while let Some((id, event)) = pair.server.poll_event() {
                if let StackEvent::Accepted { .. } = event {
                    accepted = Some(id);
                }
            }
            while pair.client.poll_event().is_some() {}
        }
        pair.server_conn = accepted.expect("the handshake completes");
        pair
    }

    /// Moves frames both ways until neither stack has one to send.
    fn exchange(&mut self, now: Instant) {
        loop {
            let mut moved = false;
            while let Some(n) = self.client.poll_transmit(now, &mut self.frame) {
                self.server.receive(now, &self.frame[..n]);
                moved = true;
            }
            while let Some(n) = self.server.poll_transmit(now, &mut self.frame) {
                self.client.receive(now, &self.frame[..n]);
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }
}

impl Pair {
    /// One 64-byte request and its echo, each read in place.
    fn echo(&mut self, now: &mut u64) {
        *now += 1_000;
        let t = Instant::from_nanos(*now);
        let request = [0x5au8; 64];
        // Client: the request goes out as a frame.
        self.client.send(self.client_conn, &request, t).unwrap();
        let n = self.client.poll_transmit(t, &mut self.frame).unwrap();
        // Server: parse, check, find the flow, read in place, echo.
        let direct = self
            .server
            .receive_direct(t, &self.frame[..n])
            .expect("in place");
        let data = &self.frame[direct.range.clone()];
        self.server.send(direct.conn, black_box(data), t).unwrap();
        self.server.finish_direct(direct.conn, &[]);
        let n = self.server.poll_transmit(t, &mut self.frame).unwrap();
        // Client: the response, read in place.
        let direct = self
            .client
            .receive_direct(t, &self.frame[..n])
            .expect("in place");
        black_box(&self.frame[direct.range.clone()]);
        self.client.finish_direct(direct.conn, &[]);
        while self.server.poll_event().is_some() {}
        while self.client.poll_event().is_some() {}
        debug_assert!(self.server.poll_transmit(t, &mut self.frame).is_none());
    }

    fn assert_established(&mut self) {
        assert_eq!(
            self.client.connection(self.client_conn).unwrap().state(),
            State::Established
        );
        assert_eq!(
            self.server.connection(self.server_conn).unwrap().state(),
            State::Established
        );
    }
}

fn bench_stack(c: &mut Criterion) {
    let mut g = c.benchmark_group("stack");
    g.throughput(Throughput::Elements(1));
    g.bench_function("echo_round_trip_64B", |b| {
        let mut p = Pair::new();
        let mut now = 0u64;
        b.iter(|| p.echo(&mut now));
        p.assert_established();
    });
    g.finish();
}

/// `XDPTCP_BENCH_LOOP=<case>:<iterations>` runs one case that many times without criterion,
/// for counting instructions under `valgrind --tool=callgrind` (repeatable where timings on
/// a shared VM are not; see `bench/instructions.sh`). Cases: `receive`, `receive_direct`,
/// `send`, `echo`.
fn run_loop(spec: &str) {
    let (case, iterations) = spec
        .split_once(':')
        .and_then(|(c, n)| Some((c, n.parse::<u64>().ok()?)))
        .expect("XDPTCP_BENCH_LOOP=<case>:<iterations>");
    match case {
        "receive" => {
            let mut r = Receiver::new();
            (0..iterations).for_each(|_| r.buffered());
        }
        "receive_direct" => {
            let mut r = Receiver::new();
            (0..iterations).for_each(|_| r.direct());
        }
        "send" => {
            let mut s = Sender::new();
            (0..iterations).for_each(|_| s.segment());
        }
        "echo" => {
            let mut p = Pair::new();
            let mut now = 0;
            (0..iterations).for_each(|_| p.echo(&mut now));
            p.assert_established();
        }
        other => panic!("unknown case {other}: receive, receive_direct, send or echo"),
    }
}

criterion_group!(benches, bench_tcp, bench_stack);

fn main() {
    if let Ok(spec) = std::env::var("XDPTCP_BENCH_LOOP") {
        run_loop(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
