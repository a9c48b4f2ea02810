//! The embedding API's edges, run deterministically in the simulator: a handler hosted by
//! [`HandlerHost`] (exactly as an AF_XDP worker hosts it, zero-copy reads included) serves a
//! client stack driven directly.
//!
//! - a write after shutdown_write is an error;
//! - after the peer's FIN, reads return end of stream only once all data was read;
//! - a full send buffer pushes back (WouldBlock), and Writable follows;
//! - releasing a connection closes it gracefully, or resets it if data was left unread;
//! - a handler that panics loses only the connection it was handling;
//! - new in-order data is read in place, in the frame it arrived in;
//! - the echo server keeps the bytes that arrive with the FIN while its send buffer is full.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use xdptcp::runtime::{Context, Handler, HandlerHost};
use xdptcp::sim::{LinkConfig, Network, NodeId};
use xdptcp::stack::{ConnId, Stack, StackError, StackEvent};
use xdptcp::tcp::{ConnectionError, Error};
use xdptcp::Instant;

const PORT: u16 = 4000;

/// A server node running `H` through a `HandlerHost`, and a client node driven by the test.
struct World<H: Handler> {
    net: Network,
    host: HandlerHost<H>,
    server: NodeId,
    client: NodeId,
    /// Client events seen while waiting for another one.
    client_events: Vec<(ConnId, StackEvent)>,
}

impl<H: Handler> World<H> {
    fn new(handler: H) -> World<H> {
        World::with_link(handler, LinkConfig::ideal(Duration::from_micros(100)))
    }

    fn with_link(handler: H, link: LinkConfig) -> World<H> {
        let mut net = Network::new(1);
        net.set_default_link(link);
        let mut server_config = Network::node_config(2);
        server_config.tcp.send_buffer = 64 * 1024;
        server_config.tcp.recv_buffer = 64 * 1024;
        let client = net.add_node(Network::node_config(1)).unwrap();
        let server = net.add_node(server_config).unwrap();
        net.stack(server).listen(PORT, 16).unwrap();
        World {
            net,
            host: HandlerHost::new(handler, 0, Arc::new(AtomicBool::new(false))),
            server,
            client,
            client_events: Vec::new(),
        }
    }

    fn step(&mut self, limit: Instant) -> bool {
        let World {
            net, host, server, ..
        } = self;
        let server = *server;
        let moved = net.step_with(limit, &mut |node, stack, now, frame| {
            if node == server {
                host.receive(stack, now, frame);
            } else {
                stack.receive(now, frame);
            }
        });
        let now = net.now();
        host.dispatch(net.stack(server), now);
        moved
    }

    /// Steps until `done` (checked between steps) or 60 s of virtual time.
    fn run_until(&mut self, mut done: impl FnMut(&mut World<H>) -> bool) -> bool {
        let limit = self.net.now() + Duration::from_secs(60);
        loop {
            if done(self) {
                return true;
            }
            if !self.step(limit) {
                return done(self);
            }
        }
    }

    fn client(&mut self) -> &mut Stack {
        self.net.stack(self.client)
    }

    fn server_stack(&mut self) -> &mut Stack {
        self.net.stack(self.server)
    }

    fn connect(&mut self) -> ConnId {
        let now = self.net.now();
        self.client()
            .connect(now, SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), PORT))
            .unwrap()
    }

    /// Steps until the client has an event for `conn` that `pick` accepts; returns it. Other
    /// events are kept for later calls.
    fn client_event(
        &mut self,
        conn: ConnId,
        mut pick: impl FnMut(&StackEvent) -> bool,
    ) -> StackEvent {
        let mut found = None;
        let ok = self.run_until(|w| {
            while let Some(ev) = w.client().poll_event() {
                w.client_events.push(ev);
            }
            if let Some(i) = w
                .client_events
                .iter()
                .position(|(c, e)| *c == conn && pick(e))
            {
                found = Some(w.client_events.remove(i).1);
            }
            found.is_some()
        });
        assert!(ok, "no such client event");
        found.unwrap()
    }

    /// Reads everything the client can read now; `Some(data)` once end of stream is reached.
    fn client_read(&mut self, conn: ConnId, into: &mut Vec<u8>) -> bool {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.client().recv(conn, &mut buf) {
                Ok(0) => return true,
                Ok(n) => into.extend_from_slice(&buf[..n]),
                Err(_) => return false,
            }
        }
    }
}

/// Records what happened to it.
#[derive(Default)]
struct Probe {
    conn: Option<ConnId>,
    log: Vec<String>,
    read: Vec<u8>,
    eof_after: Option<usize>,
}

#[test]
fn write_after_shutdown_is_an_error() {
    #[derive(Default)]
    struct ShutThenWrite(Probe);
    impl Handler for ShutThenWrite {
        type Message = ();
        fn on_event(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: StackEvent) {
            if let StackEvent::Accepted { .. } = event {
                self.0.conn = Some(conn);
                ctx.write(conn, b"bye").unwrap();
                ctx.shutdown_write(conn).unwrap();
                let err = ctx.write(conn, b"more").unwrap_err();
                self.0.log.push(format!("{err:?}"));
                let again = ctx.shutdown_write(conn).unwrap_err();
                self.0.log.push(format!("{again:?}"));
            }
        }
    }
    let mut w = World::new(ShutThenWrite::default());
    let conn = w.connect();
    let mut got = Vec::new();
    assert!(w.run_until(|w| w.client_read(conn, &mut got)));
    assert_eq!(got, b"bye");
    assert_eq!(
        w.host.handler().0.log,
        vec![
            format!("{:?}", StackError::Tcp(Error::WriteClosed)),
            format!("{:?}", StackError::Tcp(Error::WriteClosed)),
        ]
    );
}

#[test]
fn end_of_stream_comes_only_after_every_byte() {
    /// Reads nothing until the peer's FIN is reported, then reads in 1,000-byte steps: every
    /// byte must come before the end of stream, though the FIN arrived after all of them.
    #[derive(Default)]
    struct ReadAtTheEnd(Probe);
    impl Handler for ReadAtTheEnd {
        type Message = ();
        fn on_event(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: StackEvent) {
            if let StackEvent::ReadClosed = event {
                let mut buf = [0u8; 1000];
                loop {
                    match ctx.read(conn, &mut buf) {
                        Ok(0) => {
                            self.0.eof_after = Some(self.0.read.len());
                            break;
                        }
                        Ok(n) => self.0.read.extend_from_slice(&buf[..n]),
                        Err(e) => panic!("read failed before end of stream: {e}"),
                    }
                }
            }
        }
    }
    let mut w = World::new(ReadAtTheEnd::default());
    let conn = w.connect();
    w.client_event(conn, |e| *e == StackEvent::Connected);
    let data: Vec<u8> = (0..50_000u32).map(|i| (i * 7) as u8).collect();
    let now = w.net.now();
    assert_eq!(w.client().send(conn, &data, now).unwrap(), data.len());
    w.client().close(conn).unwrap();
    assert!(w.run_until(|w| w.host.handler().0.eof_after.is_some()));
    let probe = &w.host.handler().0;
    assert_eq!(
        probe.eof_after,
        Some(50_000),
        "end of stream before all data"
    );
    assert_eq!(probe.read, data);
}

#[test]
fn a_full_send_buffer_pushes_back_then_reports_writable() {
    /// Writes until pushed back, then again on every Writable, 200 KB in all.
    #[derive(Default)]
    struct Writer {
        sent: usize,
        would_block: usize,
        writable: usize,
    }
    const TOTAL: usize = 200_000;
    impl Writer {
        fn fill(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
            let chunk = [0x5au8; 8192];
            while self.sent < TOTAL {
                let n = chunk.len().min(TOTAL - self.sent);
                match ctx.write(conn, &chunk[..n]) {
                    Ok(k) => self.sent += k,
                    Err(StackError::Tcp(Error::WouldBlock)) => {
                        self.would_block += 1;
                        return;
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            let _ = ctx.shutdown_write(conn);
        }
    }
    impl Handler for Writer {
        type Message = ();
        fn on_event(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: StackEvent) {
            match event {
                StackEvent::Accepted { .. } => self.fill(ctx, conn),
                StackEvent::Writable => {
                    self.writable += 1;
                    self.fill(ctx, conn);
                }
                _ => {}
            }
        }
    }
    let mut w = World::new(Writer::default());
    let conn = w.connect();
    let mut got = Vec::new();
    assert!(w.run_until(|w| w.client_read(conn, &mut got)));
    assert_eq!(got.len(), TOTAL);
    let writer = w.host.handler();
    assert!(
        writer.would_block >= 1,
        "the 64 KiB send buffer never pushed back"
    );
    assert!(
        writer.writable >= writer.would_block,
        "a push-back without a later Writable"
    );
}

/// Releases each connection once it has seen `after` bytes, reading them or not.
struct Releaser {
    read_first: bool,
}

impl Handler for Releaser {
    type Message = ();
    fn on_event(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: StackEvent) {
        if let StackEvent::Readable = event {
            if self.read_first {
                let mut buf = [0u8; 4096];
                while let Ok(n) = ctx.read(conn, &mut buf) {
                    if n == 0 {
                        break;
                    }
                }
            }
            ctx.release(conn);
        }
    }
}

#[test]
fn releasing_closes_gracefully_or_resets_when_data_was_left_unread() {
    // Read, then released: a FIN (the client sees end of stream, no error).
    let mut w = World::new(Releaser { read_first: true });
    let conn = w.connect();
    w.client_event(conn, |e| *e == StackEvent::Connected);
    let now = w.net.now();
    w.client().send(conn, b"hello", now).unwrap();
    let mut got = Vec::new();
    assert!(w.run_until(|w| w.client_read(conn, &mut got)));
    assert!(got.is_empty());

    // Released unread: a reset (RFC 1122 §4.2.2.13).
    let mut w = World::new(Releaser { read_first: false });
    let conn = w.connect();
    w.client_event(conn, |e| *e == StackEvent::Connected);
    let now = w.net.now();
    w.client().send(conn, b"hello", now).unwrap();
    let closed = w.client_event(conn, |e| matches!(e, StackEvent::Closed { .. }));
    assert_eq!(
        closed,
        StackEvent::Closed {
            error: Some(ConnectionError::Reset)
        }
    );
    // And the server freed it.
    assert!(w.run_until(|w| w.server_stack().connection_count() == 0));
}

#[test]
fn a_panicking_handler_loses_only_its_connection() {
    /// Echoes, but panics on "boom".
    struct Fragile;
    impl Handler for Fragile {
        type Message = ();
        fn on_event(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: StackEvent) {
            if let StackEvent::Readable = event {
                let mut buf = [0u8; 64];
                let n = ctx.read(conn, &mut buf).unwrap_or(0);
                if &buf[..n] == b"boom" {
                    panic!("the handler does not like boom");
                }
                ctx.write(conn, &buf[..n]).unwrap();
            }
        }
    }
    let mut w = World::new(Fragile);
    let good = w.connect();
    let bad = w.connect();
    w.client_event(good, |e| *e == StackEvent::Connected);
    w.client_event(bad, |e| *e == StackEvent::Connected);
    let now = w.net.now();
    w.client().send(bad, b"boom", now).unwrap();
    let closed = w.client_event(bad, |e| matches!(e, StackEvent::Closed { .. }));
    assert_eq!(
        closed,
        StackEvent::Closed {
            error: Some(ConnectionError::Reset)
        }
    );
    assert_eq!(w.host.panics(), 1);
    // The other connection still works.
    let now = w.net.now();
    w.client().send(good, b"fine", now).unwrap();
    let mut got = Vec::new();
    assert!(w.run_until(|w| {
        let mut buf = [0u8; 16];
        if let Ok(n) = w.client().recv(good, &mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        got == b"fine"
    }));
    assert!(!w.host.stop_requested());
}

#[test]
fn new_in_order_data_is_read_in_place() {
    /// Sums what it reads with read_with.
    #[derive(Default)]
    struct Summer {
        bytes: usize,
        checksum: u64,
    }
    impl Handler for Summer {
        type Message = ();
        fn on_event(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: StackEvent) {
            if let StackEvent::Readable | StackEvent::ReadClosed = event {
                loop {
                    let (mut bytes, mut sum) = (0usize, 0u64);
                    let r = ctx.read_with(conn, |data| {
                        bytes = data.len();
                        sum = data.iter().map(|&b| u64::from(b)).sum();
                        data.len()
                    });
                    match r {
                        Ok(n) if n > 0 => {
                            self.bytes += bytes;
                            self.checksum += sum;
                        }
                        _ => break,
                    }
                }
            }
        }
    }
    let mut w = World::new(Summer::default());
    let conn = w.connect();
    w.client_event(conn, |e| *e == StackEvent::Connected);
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let mut sent = 0;
    assert!(w.run_until(|w| {
        let now = w.net.now();
        if sent < data.len() {
            if let Ok(n) = w.client().send(conn, &data[sent..], now) {
                sent += n;
            }
        }
        w.host.handler().bytes == data.len()
    }));
    let want: u64 = data.iter().map(|&b| u64::from(b)).sum();
    assert_eq!(w.host.handler().checksum, want);
    let zero_copy = w.server_stack().stats().rx_zero_copy_segments;
    assert!(
        zero_copy > 100,
        "only {zero_copy} segments were read in place"
    );
}

#[test]
fn messages_reach_the_handler_and_can_open_connections() {
    /// On a message, connects to the client node's listener.
    #[derive(Default)]
    struct Dialer {
        connected: bool,
    }
    impl Handler for Dialer {
        type Message = SocketAddrV4;
        fn on_event(&mut self, _ctx: &mut Context<'_>, _conn: ConnId, event: StackEvent) {
            if event == StackEvent::Connected {
                self.connected = true;
            }
        }
        fn on_message(&mut self, ctx: &mut Context<'_>, to: SocketAddrV4) {
            ctx.connect(to).unwrap();
        }
    }
    let mut w = World::new(Dialer::default());
    w.client().listen(9, 4).unwrap();
    let now = w.net.now();
    let World {
        net, host, server, ..
    } = &mut w;
    host.message(
        net.stack(*server),
        now,
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 9),
    );
    assert!(w.run_until(|w| w.host.handler().connected));
}

/// The echo server keeps every byte of a segment that brings the peer's FIN while its send
/// buffer has room for only part of it: the unread rest (delivered in place, not yet in the
/// receive buffer) must still be echoed before the server closes its side.
#[test]
fn echo_keeps_the_bytes_that_arrive_with_the_fin() {
    // The client reads nothing until it has sent everything, so the server's echo fills
    // the client's 256 KiB receive window and then its own 64 KiB send buffer; sizes
    // around that sum put the FIN on the segment that finds the send buffer nearly full.
    let full = 256 * 1024 + 64 * 1024;
    for total in (full - 3000..full + 3000).step_by(97) {
        let mut w = World::new(xdptcp::apps::Echo::default());
        let conn = w.connect();
        w.client_event(conn, |e| matches!(e, StackEvent::Connected));
        let data: Vec<u8> = (0..total).map(|i| (i * 7 + i / 251) as u8).collect();
        let mut sent = 0;
        let pushed = w.run_until(|w| {
            let now = w.net.now();
            if let Ok(n) = w.client().send(conn, &data[sent..], now) {
                sent += n;
            }
            if sent == total {
                w.client().shutdown_write(conn).unwrap();
            }
            sent == total
        });
        assert!(pushed, "{total} bytes: the client could not send them all");
        // Still without reading: until the server has acknowledged everything.
        let delivered = w.run_until(|w| {
            w.client()
                .connection(conn)
                .is_ok_and(|c| c.send_queue_len() == 0)
        });
        assert!(delivered, "{total} bytes: the server did not take them all");
        let mut got = Vec::new();
        assert!(
            w.run_until(|w| w.client_read(conn, &mut got)),
            "{total} bytes: no end of stream"
        );
        assert_eq!(got.len(), total, "{total} bytes sent, {} echoed", got.len());
        assert!(got == data, "{total} bytes: the echo differs");
    }
}
