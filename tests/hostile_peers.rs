//! Hostile peers in the simulator (issue 15). Each test runs a server stack (10.0.0.2) that
//! serves a well-behaved client (10.0.0.1, moving [`GOOD_BYTES`] each way) and a hostile one
//! (10.0.0.3), and checks two things: the memory the hostile connection makes the server
//! hold stays within the configured bounds — per connection and for the whole stack — and
//! the well-behaved connection keeps its throughput: its transfer beside the hostile peer
//! takes, in virtual time, at most 1 / [`MIN_RATIO`] of what the same transfer takes in the
//! same setup with the hostile peer idle.
//!
//! The peers, and the rule each one tests:
//!
//! 1. **holes**: sends every other segment across the whole window the server offers, again
//!    and again, and never the ones between. The out-of-order text sits in the receive
//!    buffer past RCV.NXT (RFC 9293 §3.10.7.4), so it is bounded by `recv_buffer`, and the
//!    assembler tracks at most `Assembler::MAX_RANGES` disjoint ranges (a segment needing
//!    one more is dropped, to be retransmitted). Once the peer fills its holes the bytes
//!    read are the ones it sent.
//! 2. **SACK nonsense**: a real receiver of the server's data, whose ACKs are joined by
//!    forged ones carrying SACK blocks beyond SND.NXT, reversed, wrapping past 2^31, below
//!    SND.UNA, wider than any window and four tiny ones at a time — the "SACK panic" class.
//!    Blocks that name nothing we sent are ignored, and the scoreboard of RFC 6675 §3 keeps
//!    one record per segment sent — no block splits one or adds one — at most
//!    `Scoreboard::CAPACITY`. Nothing is sent again for them, and every byte still arrives
//!    once, in order.
//! 3. **zero window, then gone**: never reads, so its window closes while the server's
//!    application has `send_buffer` bytes queued; then it vanishes and answers no persist
//!    probe. A peer that answers probes may hold its window closed forever (RFC 9293
//!    §3.8.6.1, RFC 1122 §4.2.2.17), but unanswered probes count against the retry budget
//!    of RFC 1122 §4.2.3.5 (R2, `data_retries`): the connection ends with `TimedOut` and
//!    its buffer goes back.
//! 4. **never reads, many connections**: opens more connections than `max_connections`
//!    leaves room for and reads nothing the server writes to them. Each stays at its
//!    `send_buffer`, whose capacity is fixed (`xdptcp::tcp::buffer`), and lives on because
//!    the peer answers the zero-window probes (RFC 9293 §3.8.6.1); the connections beyond
//!    the limit are refused, and the whole stack's buffer memory stays within
//!    `max_connections` × (`send_buffer` + `recv_buffer`).
//!
//! The hostile node is a real stack, which opens its connections; what it sends beyond
//! that (cases 1 and 2) is forged and handed straight to the server. The simulated link has
//! no bandwidth limit and processing takes no virtual time, so the throughput ratio shows
//! whether the hostile connection reaches into another through what the stack shares —
//! timers, queues, buffer pools, the connection limit — not how a shared link is divided.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use xdptcp::sim::{LinkConfig, Network, NodeId};
use xdptcp::stack::{ConnId, StackEvent};
use xdptcp::tcp::buffer::Assembler;
use xdptcp::tcp::recovery::scoreboard::Scoreboard;
use xdptcp::tcp::{self, ConnectionError, State};
use xdptcp::wire::checksum::checksum;
use xdptcp::wire::tcp::fill_checksum;
use xdptcp::wire::{SackBlocks, SeqNum, TcpFlags, TcpOptions, TcpRepr};
use xdptcp::Instant;

const PORT: u16 = 80;
const GOOD: u8 = 1;
const SERVER: u8 = 2;
const HOSTILE: u8 = 3;
/// Bytes the well-behaved connection moves each way.
const GOOD_BYTES: usize = 2 << 20;
/// Least share of its lone throughput the well-behaved connection must keep.
const MIN_RATIO: f64 = 0.8;
/// Text per forged segment (an Ethernet MSS less 12 bytes, as with timestamps).
const SEGMENT: usize = 1448;
const MIB: f64 = 1024.0 * 1024.0;

fn ip(node: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, node)
}

/// Byte `i` of every stream: a pattern with a period (251) prime to any segment size.
fn byte(i: usize) -> u8 {
    (i * 7 % 251) as u8
}

/// The pattern from byte `from` on, `len` bytes.
fn pattern(from: usize, len: usize) -> Vec<u8> {
    (from..from + len).map(byte).collect()
}

/// The server, the well-behaved client and the hostile node.
struct Lab {
    net: Network,
    server: NodeId,
    good: NodeId,
    hostile: NodeId,
}

impl Lab {
    /// The three nodes; the server has `server_tcp` and `max_connections`, the hostile node
    /// offers no timestamps (so the segments forged for it need none).
    fn new(server_tcp: &tcp::Config, max_connections: usize) -> Lab {
        let mut net = Network::new(15);
        let mut good = Network::node_config(GOOD);
        good.tcp = server_tcp.clone();
        let mut server = Network::node_config(SERVER);
        server.tcp = server_tcp.clone();
        server.max_connections = max_connections;
        let mut hostile = Network::node_config(HOSTILE);
        hostile.tcp = tcp::Config {
            timestamps: false,
            ..server_tcp.clone()
        };
        let good = net.add_node(good).unwrap();
        let server = net.add_node(server).unwrap();
        let hostile = net.add_node(hostile).unwrap();
        net.stack(server).listen(PORT, 64).unwrap();
        Lab {
            net,
            server,
            good,
            hostile,
        }
    }

    /// Opens a connection from `from`'s `port`: (client handle, server handle).
    fn connect(&mut self, from: NodeId, port: u16) -> (ConnId, ConnId) {
        let now = self.net.now();
        let client = self
            .net
            .stack(from)
            .connect_from(now, port, SocketAddrV4::new(ip(SERVER), PORT))
            .unwrap();
        let server = self.server;
        let mut accepted = None;
        let connected = self.net.run_until(now + Duration::from_secs(5), |net| {
            while let Some((id, event)) = net.stack(server).poll_event() {
                if let StackEvent::Accepted { .. } = event {
                    accepted = Some(id);
                }
            }
            accepted.is_some()
                && net.stack(from).connection(client).unwrap().state() == State::Established
        });
        assert!(connected, "port {port} never connected");
        (client, accepted.unwrap())
    }

    /// Moves [`GOOD_BYTES`] each way over the well-behaved connection `(client, server)`,
    /// calling `beside` at every step; returns the virtual time it took.
    fn good_transfer(
        &mut self,
        (client, server): (ConnId, ConnId),
        beside: &mut dyn FnMut(&mut Network),
    ) -> Duration {
        let start = self.net.now();
        let mut up = Stream::new(self.good, client, self.server, server, GOOD_BYTES);
        let mut down = Stream::new(self.server, server, self.good, client, GOOD_BYTES);
        let done = self.net.run_until(start + Duration::from_secs(60), |net| {
            beside(net);
            let up_done = up.pump(net);
            let down_done = down.pump(net);
            up_done && down_done
        });
        assert!(
            done,
            "the well-behaved transfer stalled: {} and {} of {GOOD_BYTES} bytes",
            up.got, down.got
        );
        self.net.now() - start
    }

    /// Lets `d` of virtual time pass, calling `beside` at every step.
    fn idle(&mut self, d: Duration, beside: &mut dyn FnMut(&mut Network)) {
        let until = self.net.now() + d;
        self.net.run_until(until, |net| {
            beside(net);
            false
        });
    }
}

/// The well-behaved transfer's time with the hostile node connected but idle.
fn lone_transfer(server_tcp: &tcp::Config, max_connections: usize) -> Duration {
    let mut lab = Lab::new(server_tcp, max_connections);
    let good = lab.connect(lab.good, 40_000);
    lab.good_transfer(good, &mut |_| ())
}

/// Prints the well-behaved connection's two times and checks their ratio.
fn assert_throughput_kept(case: &str, alone: Duration, beside: Duration) {
    let ratio = alone.as_secs_f64() / beside.as_secs_f64();
    println!(
        "{case}: well-behaved connection moved {:.0} MiB each way in {:.2} ms alone, {:.2} ms \
         beside the hostile peer: throughput ratio {ratio:.2} (at least {MIN_RATIO})",
        GOOD_BYTES as f64 / MIB,
        alone.as_secs_f64() * 1e3,
        beside.as_secs_f64() * 1e3,
    );
    assert!(
        ratio >= MIN_RATIO,
        "{case}: throughput ratio {ratio:.2} below {MIN_RATIO}"
    );
}

/// One direction of a connection: `len` bytes of the pattern written at one end as fast as
/// the send buffer takes them, read and checked at the other.
struct Stream {
    from: NodeId,
    tx: ConnId,
    to: NodeId,
    rx: ConnId,
    len: usize,
    sent: usize,
    got: usize,
}

impl Stream {
    fn new(from: NodeId, tx: ConnId, to: NodeId, rx: ConnId, len: usize) -> Stream {
        Stream {
            from,
            tx,
            to,
            rx,
            len,
            sent: 0,
            got: 0,
        }
    }

    /// Writes what fits, reads what arrived; true once every byte arrived.
    fn pump(&mut self, net: &mut Network) -> bool {
        let now = net.now();
        while self.sent < self.len {
            let chunk = pattern(self.sent, (self.len - self.sent).min(16 * 1024));
            match net.stack(self.from).send(self.tx, &chunk, now) {
                Ok(n) if n > 0 => self.sent += n,
                _ => break,
            }
        }
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = net.stack(self.to).recv(self.rx, &mut buf) {
            if n == 0 {
                break;
            }
            assert!(
                buf[..n] == pattern(self.got, n)[..],
                "bytes from {} differ",
                self.got
            );
            self.got += n;
        }
        self.got >= self.len
    }
}

/// A segment from the hostile node to the server, built whole: Ethernet, IPv4 and TCP
/// headers with their checksums, then `text`.
fn forge(repr: &TcpRepr, text: &[u8]) -> Vec<u8> {
    const IP: usize = 14;
    const TCP: usize = IP + 20;
    let mut f = vec![0u8; TCP + repr.header_len() + text.len()];
    f[..6].copy_from_slice(&[2, 0, 0, 0, 0, SERVER]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, HOSTILE]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let total = (f.len() - IP) as u16;
    f[IP] = 0x45;
    f[IP + 2..IP + 4].copy_from_slice(&total.to_be_bytes());
    f[IP + 6] = 0x40; // don't fragment
    f[IP + 8] = 64;
    f[IP + 9] = 6;
    f[IP + 12..IP + 16].copy_from_slice(&ip(HOSTILE).octets());
    f[IP + 16..IP + 20].copy_from_slice(&ip(SERVER).octets());
    let sum = checksum(&f[IP..TCP]);
    f[IP + 10..IP + 12].copy_from_slice(&sum.to_be_bytes());
    let header = repr.emit(&mut f[TCP..]);
    f[TCP + header..].copy_from_slice(text);
    fill_checksum(&mut f[TCP..], ip(HOSTILE), ip(SERVER));
    f
}

/// What the hostile connection's sequence spaces are, as its peer knows them.
#[derive(Copy, Clone)]
struct Forger {
    port: u16,
    /// Its next sequence number (the server's RCV.NXT once the handshake is done).
    seq: SeqNum,
    /// The window field it advertises.
    window: u16,
}

impl Forger {
    fn of(net: &mut Network, hostile: NodeId, conn: ConnId) -> Forger {
        let config = net.stack(hostile).config().tcp.clone();
        let c = net.stack(hostile).connection(conn).unwrap();
        // The whole receive buffer, in units of the shift its SYN offered (RFC 7323 §2.3).
        let window = config.recv_buffer >> config.window_scale_shift();
        Forger {
            port: c.local_port(),
            seq: c.snd_nxt(),
            window: window.min(0xffff) as u16,
        }
    }

    fn segment(&self, seq: SeqNum, ack: SeqNum, sack: SackBlocks) -> TcpRepr {
        TcpRepr {
            src_port: self.port,
            dst_port: PORT,
            seq,
            ack: Some(ack),
            flags: TcpFlags::PSH,
            window: self.window,
            urgent: 0,
            options: TcpOptions {
                sack_blocks: sack,
                ..TcpOptions::default()
            },
        }
    }
}

/// The highest value `value` took, kept as it is sampled.
#[derive(Default)]
struct Peak(usize);

impl Peak {
    fn see(&mut self, value: usize) {
        self.0 = self.0.max(value);
    }
}

#[test]
fn holes_fill_the_out_of_order_queue_only_to_its_bounds() {
    let config = tcp::Config::default();
    let alone = lone_transfer(&config, 64);

    let mut lab = Lab::new(&config, 64);
    let good = lab.connect(lab.good, 40_000);
    let (hostile_conn, victim) = lab.connect(lab.hostile, 50_000);
    let forger = Forger::of(&mut lab.net, lab.hostile, hostile_conn);
    let ack = lab
        .net
        .stack(lab.hostile)
        .connection(hostile_conn)
        .unwrap()
        .rcv_nxt();
    let (server, hostile, window) = (lab.server, lab.hostile, config.recv_buffer);
    let segments = window / SEGMENT;
    let burst_every = Duration::from_micros(200);
    let (mut ooo, mut ranges, mut memory, mut held) = (
        Peak::default(),
        Peak::default(),
        Peak::default(),
        Peak::default(),
    );
    let mut next_burst = Instant::ZERO;
    let mut forged = 0u64;
    let mut holes = |net: &mut Network| {
        let now = net.now();
        if now >= next_burst {
            next_burst = now + burst_every;
            // Every other segment across the whole window: the 2nd, 4th, ... never the 1st.
            for k in (1..segments).step_by(2) {
                let seq = forger.seq + (k * SEGMENT) as u32;
                let frame = forge(
                    &forger.segment(seq, ack, SackBlocks::default()),
                    &pattern(k * SEGMENT, SEGMENT),
                );
                net.inject(hostile, &frame);
                forged += 1;
            }
        }
        let stack = net.stack(server);
        let c = stack.connection(victim).unwrap();
        ooo.see(c.out_of_order_bytes());
        ranges.see(c.out_of_order_ranges());
        memory.see(c.buffer_memory());
        held.see(stack.buffer_memory().held);
    };
    let beside = lab.good_transfer(good, &mut holes);

    let stack = lab.net.stack(server);
    let bound = stack.buffer_memory_bound();
    let stats = *stack.connection(victim).unwrap().stats();
    println!(
        "holes: {forged} segments forged, {} arrived out of order; out-of-order queue peaked at {} \
         bytes in {} ranges, bounds {} bytes (recv_buffer) and {} ranges; the connection held at \
         most {} bytes of buffers, bound {}; the stack {} bytes, bound {bound}",
        stats.out_of_order_segments_in,
        ooo.0,
        ranges.0,
        config.recv_buffer,
        Assembler::MAX_RANGES,
        memory.0,
        config.send_buffer + config.recv_buffer,
        held.0,
    );
    assert!(ooo.0 > 0, "the holes never reached the queue");
    assert!(ooo.0 <= config.recv_buffer);
    assert_eq!(ranges.0, Assembler::MAX_RANGES, "the assembler filled");
    assert!(memory.0 <= config.send_buffer + config.recv_buffer);
    assert!(held.0 <= bound);
    assert_eq!(stack.connection(victim).unwrap().rcv_nxt(), forger.seq);
    assert_throughput_kept("holes", alone, beside);

    // The peer fills its holes: the queue drains, and what is read is what it sent.
    for k in 0..segments {
        let seq = forger.seq + (k * SEGMENT) as u32;
        let frame = forge(
            &forger.segment(seq, ack, SackBlocks::default()),
            &pattern(k * SEGMENT, SEGMENT),
        );
        lab.net.inject(hostile, &frame);
    }
    let mut read = Stream::new(
        lab.hostile,
        hostile_conn,
        server,
        victim,
        segments * SEGMENT,
    );
    read.sent = read.len; // already forged
    lab.idle(Duration::from_millis(1), &mut |_| ());
    assert!(read.pump(&mut lab.net), "{} bytes read", read.got);
    assert_eq!(
        lab.net
            .stack(server)
            .connection(victim)
            .unwrap()
            .out_of_order_bytes(),
        0
    );
}

/// SACK blocks no honest receiver sends, relative to the cumulative ACK `una`: `round`
/// picks one set.
fn nonsense(una: SeqNum, round: usize) -> SackBlocks {
    let u = una.0;
    let mut blocks = SackBlocks::default();
    let set: &[(u32, u32)] = match round % 6 {
        // Beyond SND.NXT: data never sent.
        0 => &[(16 << 20, (16 << 20) + 1448), (1 << 30, (1 << 30) + 1)],
        // Reversed, and wrapping past 2^31 around the sequence space.
        1 => &[(5000, 10), ((1 << 31) + 10, 1448), (u32::MAX - 100, 100)],
        // Below SND.UNA: stale (a D-SACK first, then one that is no D-SACK).
        2 => &[
            (0u32.wrapping_sub(10_000), 0u32.wrapping_sub(5000)),
            (2896, 4344),
            (0u32.wrapping_sub(3000), 0u32.wrapping_sub(1000)),
        ],
        // Wider than any window.
        3 => &[(0, (1 << 31) - 1)],
        // Many tiny blocks: one byte each, covering no whole segment.
        4 => &[(100, 101), (1600, 1601), (3100, 3101), (4600, 4601)],
        // Straddling SND.NXT: starts at data in flight, ends far beyond.
        _ => &[(1448, 64 << 20)],
    };
    for &(left, right) in set {
        blocks.push(u.wrapping_add(left), u.wrapping_add(right));
    }
    blocks
}

#[test]
fn nonsense_sack_blocks_leave_the_scoreboard_bounded_and_the_data_whole() {
    let config = tcp::Config::default();
    let alone = lone_transfer(&config, 64);

    let mut lab = Lab::new(&config, 64);
    let good = lab.connect(lab.good, 40_000);
    let (hostile_conn, victim) = lab.connect(lab.hostile, 50_000);
    let forger = Forger::of(&mut lab.net, lab.hostile, hostile_conn);
    let (server, hostile) = (lab.server, lab.hostile);
    // The server sends to the hostile peer, which reads it all and acknowledges honestly —
    // and forges ACKs with nonsense SACK blocks beside.
    let hostile_bytes = 16 * GOOD_BYTES;
    let mut download = Stream::new(server, victim, hostile, hostile_conn, hostile_bytes);
    let (mut board, mut queue, mut memory) = (Peak::default(), Peak::default(), Peak::default());
    let mut forged = 0usize;
    let mut sack_nonsense = |net: &mut Network| {
        let c = net.stack(server).connection(victim).unwrap();
        board.see(c.scoreboard_len());
        queue.see(c.send_queue_len());
        memory.see(c.buffer_memory());
        let done = download.pump(net);
        // Every set of nonsense at each step, beside the honest ACKs.
        let una = net
            .stack(hostile)
            .connection(hostile_conn)
            .unwrap()
            .rcv_nxt();
        for round in 0..6 {
            let frame = forge(&forger.segment(forger.seq, una, nonsense(una, round)), &[]);
            net.inject(hostile, &frame);
            forged += 1;
        }
        done
    };
    let beside = lab.good_transfer(good, &mut |net| {
        sack_nonsense(net);
    });
    // The hostile peer's own transfer completes whole: no block made the server skip data.
    let limit = lab.net.now() + Duration::from_secs(60);
    assert!(
        lab.net.run_until(limit, &mut sack_nonsense),
        "the transfer to the hostile peer stalled"
    );

    let c = lab.net.stack(server).connection(victim).unwrap();
    let stats = *c.stats();
    println!(
        "sack: {forged} ACKs with nonsense SACK blocks; scoreboard peaked at {} segments, bound \
         {}; send queue at {} bytes, bound {} (send_buffer); buffers {} bytes, bound {}; \
         {:.0} MiB to the hostile peer arrived whole ({} segments retransmitted)",
        board.0,
        Scoreboard::CAPACITY,
        queue.0,
        config.send_buffer,
        memory.0,
        config.send_buffer + config.recv_buffer,
        hostile_bytes as f64 / MIB,
        stats.retransmitted_segments,
    );
    assert!(forged > 1000, "too few forged ACKs: {forged}");
    assert!(board.0 > 0 && board.0 <= Scoreboard::CAPACITY);
    // One record per segment in flight: no block split one, and none stood for data
    // never sent.
    assert!(board.0 <= config.send_buffer / usize::from(c.send_mss()) + 1);
    assert!(queue.0 <= config.send_buffer);
    assert!(memory.0 <= config.send_buffer + config.recv_buffer);
    assert_eq!(stats.retransmitted_segments, 0, "nonsense made us resend");
    assert_throughput_kept("sack", alone, beside);
}

#[test]
fn a_zero_window_peer_that_vanishes_times_out_and_gives_its_memory_back() {
    let config = tcp::Config::default();
    let alone = lone_transfer(&config, 64);

    let mut lab = Lab::new(&config, 64);
    let good = lab.connect(lab.good, 40_000);
    let (_hostile_conn, victim) = lab.connect(lab.hostile, 50_000);
    let (server, hostile) = (lab.server, lab.hostile);
    // The application writes until the send buffer is full; the peer reads nothing, so
    // its window closes.
    let mut written = 0usize;
    let limit = lab.net.now() + Duration::from_secs(10);
    let stalled = lab.net.run_until(limit, |net| {
        let now = net.now();
        let stack = net.stack(server);
        if let Ok(n) = stack.send(victim, &pattern(written, 16 * 1024), now) {
            written += n;
        }
        let c = stack.connection(victim).unwrap();
        c.send_window() == 0 && c.send_capacity() == 0
    });
    assert!(stalled, "the window never closed");
    let victim_before = lab
        .net
        .stack(server)
        .connection(victim)
        .unwrap()
        .buffer_memory();
    let pooled_before = lab.net.stack(server).buffer_memory().pooled;
    let probes_before = lab
        .net
        .stack(server)
        .connection(victim)
        .unwrap()
        .stats()
        .window_probes;

    // The peer vanishes: nothing goes either way any more.
    let gone = LinkConfig {
        loss: 1.0,
        ..LinkConfig::default()
    };
    lab.net.set_link(server, hostile, gone);
    lab.net.set_link(hostile, server, gone);
    let vanished = lab.net.now();
    let mut memory = Peak::default();
    let mut watch = |net: &mut Network| {
        memory.see(
            net.stack(server)
                .connection(victim)
                .unwrap()
                .buffer_memory(),
        );
    };
    let beside = lab.good_transfer(good, &mut watch);
    let limit = vanished + Duration::from_secs(3600);
    let closed = lab.net.run_until(limit, |net| {
        let c = net.stack(server).connection(victim).unwrap();
        memory.see(c.buffer_memory());
        c.state() == State::Closed
    });
    assert!(
        closed,
        "still {:?} an hour later",
        lab.net.stack(server).connection(victim).unwrap().state()
    );
    let timed_out_after = lab.net.now() - vanished;

    let now = lab.net.now();
    let stack = lab.net.stack(server);
    let c = stack.connection(victim).unwrap();
    let (error, probes) = (c.error(), c.stats().window_probes - probes_before);
    let memory_at_close = c.buffer_memory();
    let count = stack.connection_count();
    lab.net.stack(server).release(victim, now);
    lab.idle(Duration::from_millis(10), &mut |_| ());
    let stack = lab.net.stack(server);
    let pooled_after = stack.buffer_memory().pooled;
    println!(
        "zero window: {written} bytes queued behind a closed window; the peer vanished and the \
         connection ended with {error:?} after {probes} unanswered probes (data_retries {}) and \
         {:.0} s; its buffers held {victim_before} bytes behind the closed window, peaked at {} \
         bytes, bound {}, and held {memory_at_close} once closed; the stack's pools went from \
         {pooled_before} to {pooled_after} idle bytes",
        config.data_retries,
        timed_out_after.as_secs_f64(),
        memory.0,
        config.send_buffer + config.recv_buffer,
    );
    assert_eq!(error, Some(ConnectionError::TimedOut));
    assert_eq!(probes, u64::from(config.data_retries));
    // RFC 1122 §4.2.3.5: R2 no sooner than 100 seconds.
    assert!(timed_out_after >= Duration::from_secs(100));
    assert!(memory.0 <= config.send_buffer + config.recv_buffer);
    assert_eq!(memory_at_close, 0);
    assert_eq!(
        victim_before, config.send_buffer,
        "a full send buffer, nothing received"
    );
    assert!(
        pooled_after >= pooled_before + config.send_buffer,
        "its buffer went back"
    );
    assert_eq!(stack.connection_count(), count - 1, "released and freed");
    assert_throughput_kept("zero window", alone, beside);
}

#[test]
fn a_peer_that_never_reads_stays_within_the_send_buffers_and_the_connection_limit() {
    let config = tcp::Config {
        send_buffer: 64 * 1024,
        recv_buffer: 64 * 1024,
        ..tcp::Config::default()
    };
    const MAX_CONNECTIONS: usize = 24;
    const ATTEMPTS: u16 = 32;
    let alone = lone_transfer(&config, MAX_CONNECTIONS);

    let mut lab = Lab::new(&config, MAX_CONNECTIONS);
    let good = lab.connect(lab.good, 40_000);
    let (server, hostile) = (lab.server, lab.hostile);
    let now = lab.net.now();
    for i in 0..ATTEMPTS {
        lab.net
            .stack(hostile)
            .connect_from(now, 50_000 + i, SocketAddrV4::new(ip(SERVER), PORT))
            .unwrap();
    }
    // The server's application writes to every connection it accepts, as much as fits.
    let mut accepted: Vec<ConnId> = Vec::new();
    let mut written = 0usize;
    let (mut queue, mut memory, mut held) = (Peak::default(), Peak::default(), Peak::default());
    let chunk = pattern(0, 16 * 1024);
    let mut never_read = |net: &mut Network| {
        let now = net.now();
        let stack = net.stack(server);
        while let Some((id, event)) = stack.poll_event() {
            if let StackEvent::Accepted { .. } = event {
                accepted.push(id);
            }
        }
        for &id in &accepted {
            while let Ok(n) = stack.send(id, &chunk, now) {
                if n == 0 {
                    break;
                }
                written += n;
            }
            let c = stack.connection(id).unwrap();
            queue.see(c.send_queue_len());
            memory.see(c.buffer_memory());
        }
        held.see(stack.buffer_memory().held);
    };
    lab.idle(Duration::from_secs(1), &mut never_read);
    let beside = lab.good_transfer(good, &mut never_read);
    lab.idle(Duration::from_secs(1), &mut never_read);

    let stack = lab.net.stack(server);
    let bound = stack.buffer_memory_bound();
    let refused = stack.stats().drop_connection_limit;
    let full = accepted
        .iter()
        .filter(|&&id| stack.connection(id).unwrap().send_capacity() == 0)
        .count();
    println!(
        "never reads: {ATTEMPTS} connections tried, {} accepted (max_connections {MAX_CONNECTIONS}, \
         one is the well-behaved client's), {refused} SYNs refused at the limit; {written} bytes \
         written to them, {full} with a full send buffer; send queue peaked at {} bytes per \
         connection, bound {}; buffers {} per connection, bound {}; the stack held at most {} \
         bytes, bound {bound}",
        accepted.len(),
        queue.0,
        config.send_buffer,
        memory.0,
        config.send_buffer + config.recv_buffer,
        held.0,
    );
    assert_eq!(accepted.len(), MAX_CONNECTIONS - 1);
    assert!(refused > 0);
    assert!(stack.connection_count() <= MAX_CONNECTIONS);
    assert_eq!(
        full,
        accepted.len(),
        "every hostile connection is stuck at its send buffer"
    );
    assert!(queue.0 <= config.send_buffer);
    assert!(memory.0 <= config.send_buffer + config.recv_buffer);
    assert!(held.0 <= bound);
    assert_throughput_kept("never reads", alone, beside);
}
