//! The TCP state machine's cost per in-order data segment, without any I/O.
//!
//! Receive side: `handle_segment` for a full-sized in-order segment, the application's
//! zero-copy read, and the ACK the connection emits every second segment. Send side: the
//! application's `send`, `poll_transmit` building the data segment, and the ACK processed.
//!
//! `cargo bench --bench tcp`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use xdptcp::tcp::{Config, Connection, SeqNum, State};
use xdptcp::wire::{TcpFlags, TcpOptions, TcpRepr};
use xdptcp::Instant;

const MSS: usize = 1460;

fn header(seq: u32, ack: u32, flags: TcpFlags, window: u16) -> TcpRepr {
    TcpRepr {
        src_port: 40000,
        dst_port: 80,
        seq,
        ack,
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

criterion_group!(benches, bench_tcp);
criterion_main!(benches);
