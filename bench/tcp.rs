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

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use xdptcp::stack::{ConnId, Stack, StackConfig, StackEvent};
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

/// A passive connection in ESTABLISHED with ISS 1000 and peer ISS 5000.
fn established() -> Connection {
    let mut conn = Connection::new(Arc::new(Config::default()), 80, SeqNum(1000));
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

fn bench_tcp(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcp");
    g.throughput(Throughput::Elements(1));

    g.bench_function("receive_in_order_segment_1460B", |b| {
        let mut conn = established();
        let payload = vec![0x42u8; MSS];
        let mut out = [0u8; 2048];
        let mut seq = 5001u32;
        let mut now = 0u64;
        b.iter(|| {
            now += 1_000;
            let t = Instant::from_nanos(now);
            let seg = header(seq, 1001, TcpFlags::ACK, 65535);
            conn.handle_segment(t, black_box(&seg), black_box(&payload));
            seq = seq.wrapping_add(MSS as u32);
            let _ = conn.recv_with(|data| black_box(data).len());
            while let Some(n) = conn.poll_transmit(t, &mut out) {
                black_box(&out[..n]);
            }
        });
        assert_eq!(conn.state(), State::Established);
    });

    g.bench_function("receive_in_order_segment_direct_1460B", |b| {
        let mut conn = established();
        let payload = vec![0x42u8; MSS];
        let mut out = [0u8; 2048];
        let mut seq = 5001u32;
        let mut now = 0u64;
        b.iter(|| {
            now += 1_000;
            let t = Instant::from_nanos(now);
            let seg = header(seq, 1001, TcpFlags::ACK, 65535);
            let range = conn
                .handle_segment_direct(t, black_box(&seg), black_box(&payload))
                .expect("in-order data is delivered in place");
            // The application consumes everything in place.
            black_box(&payload[range]);
            conn.finish_direct(&[]);
            seq = seq.wrapping_add(MSS as u32);
            while let Some(n) = conn.poll_transmit(t, &mut out) {
                black_box(&out[..n]);
            }
        });
        assert_eq!(conn.state(), State::Established);
    });

    g.bench_function("send_in_order_segment_1460B", |b| {
        let mut conn = established();
        conn.set_nodelay(true);
        let data = vec![0x17u8; MSS];
        let mut out = [0u8; 2048];
        let mut now = 0u64;
        b.iter(|| {
            now += 1_000;
            let t = Instant::from_nanos(now);
            conn.send(black_box(&data), t).unwrap();
            let n = conn.poll_transmit(t, &mut out).expect("a data segment");
            black_box(&out[..n]);
            let acked = conn.snd_nxt().0;
            conn.handle_segment(t, &header(5001, acked, TcpFlags::ACK, 65535), &[]);
        });
        assert_eq!(conn.state(), State::Established);
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

fn bench_stack(c: &mut Criterion) {
    let mut g = c.benchmark_group("stack");
    g.throughput(Throughput::Elements(1));
    g.bench_function("echo_round_trip_64B", |b| {
        let mut p = Pair::new();
        let request = [0x5au8; 64];
        let mut now = 0u64;
        b.iter(|| {
            now += 1_000;
            let t = Instant::from_nanos(now);
            // Client: the request goes out as a frame.
            p.client.send(p.client_conn, &request, t).unwrap();
            let n = p.client.poll_transmit(t, &mut p.frame).unwrap();
            // Server: parse, check, find the flow, read in place, echo.
            let direct = p.server.receive_direct(t, &p.frame[..n]).expect("in place");
            let data = &p.frame[direct.range.clone()];
            p.server.send(direct.conn, black_box(data), t).unwrap();
            p.server.finish_direct(direct.conn, &[]);
            let n = p.server.poll_transmit(t, &mut p.frame).unwrap();
            // Client: the response, read in place.
            let direct = p.client.receive_direct(t, &p.frame[..n]).expect("in place");
            black_box(&p.frame[direct.range.clone()]);
            p.client.finish_direct(direct.conn, &[]);
            while p.server.poll_event().is_some() {}
            while p.client.poll_event().is_some() {}
            debug_assert!(p.server.poll_transmit(t, &mut p.frame).is_none());
        });
        assert_eq!(
            p.client.connection(p.client_conn).unwrap().state(),
            State::Established
        );
        assert_eq!(
            p.server.connection(p.server_conn).unwrap().state(),
            State::Established
        );
    });
    g.finish();
}

criterion_group!(benches, bench_tcp, bench_stack);
criterion_main!(benches);
