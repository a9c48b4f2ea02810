//! A connection's life in the stack, run in the simulator between two stacks:
//!
//! - the timer structure holds at most one entry per connection, however many timers fired
//!   (with keepalive on, every delayed ACK or retransmission timeout used to leave a two-hour
//!   entry behind), and a freed connection leaves none;
//! - a new SYN that reuses the 4-tuple of a connection in TIME-WAIT (RFC 1122 §4.2.2.13)
//!   leaves that connection to the application while it holds it, unread data and all;
//! - a connection that reached CLOSED leaves the flow table at once, so a new SYN on its
//!   4-tuple reaches the listener even while the application still holds the old handle;
//! - while the listener's accept queue is full (handshakes completed, `Accepted` not yet
//!   taken), the ACK completing another handshake is dropped and counted, established
//!   connections keep transferring, and once the application takes the queued ones the
//!   refused handshake completes on the retransmitted SYN,ACK.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use xdptcp::sim::{Network, NodeId};
use xdptcp::stack::{ConnId, StackError, StackEvent};
use xdptcp::tcp::{self, ConnectionError, Keepalive, State};
use xdptcp::Instant;

const PORT: u16 = 80;
const CLIENT_PORT: u16 = 40_000;

/// A client node (10.0.0.1) and a server node (10.0.0.2) listening on [`PORT`], both with
/// the TCP settings `tcp`.
struct Pair {
    net: Network,
    client: NodeId,
    server: NodeId,
}

impl Pair {
    fn new(tcp: tcp::Config) -> Pair {
        Pair::with_accept_queue(tcp, Network::node_config(2).accept_queue)
    }

    /// As [`Pair::new`], the server holding at most `accept_queue` connections untaken.
    fn with_accept_queue(tcp: tcp::Config, accept_queue: usize) -> Pair {
        let mut net = Network::new(1);
        let mut client = Network::node_config(1);
        client.tcp = tcp.clone();
        let mut server = Network::node_config(2);
        server.tcp = tcp;
        server.accept_queue = accept_queue;
        let client = net.add_node(client).unwrap();
        let server = net.add_node(server).unwrap();
        net.stack(server).listen(PORT, 16).unwrap();
        Pair {
            net,
            client,
            server,
        }
    }

    fn server_addr() -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), PORT)
    }

    /// Steps until `done` or one virtual minute has passed; panics if `done` never holds.
    #[track_caller]
    fn run_until(&mut self, what: &str, done: impl FnMut(&mut Network) -> bool) {
        let limit = self.net.now() + Duration::from_secs(60);
        assert!(self.net.run_until(limit, done), "never: {what}");
    }

    /// Lets `d` of virtual time pass, running whatever falls due.
    fn idle(&mut self, d: Duration) {
        let until = self.net.now() + d;
        self.net.run_until(until, |_| false);
    }

    /// Every event `node` has now.
    fn events(&mut self, node: NodeId) -> Vec<(ConnId, StackEvent)> {
        std::iter::from_fn(|| self.net.stack(node).poll_event()).collect()
    }

    /// Steps until `node` reports an event; returns every event it has then.
    #[track_caller]
    fn next_events(&mut self, node: NodeId) -> Vec<(ConnId, StackEvent)> {
        let mut events = Vec::new();
        self.run_until("an event", |net| {
            events.extend(std::iter::from_fn(|| net.stack(node).poll_event()));
            !events.is_empty()
        });
        events
    }

    /// Opens a connection from [`CLIENT_PORT`]: (client handle, server handle).
    fn connect(&mut self) -> (ConnId, ConnId) {
        let now = self.net.now();
        let client = self
            .net
            .stack(self.client)
            .connect_from(now, CLIENT_PORT, Pair::server_addr())
            .unwrap();
        assert_eq!(
            self.next_events(self.client),
            vec![(client, StackEvent::Connected)]
        );
        let accepted = self.next_events(self.server);
        assert_eq!(accepted.len(), 1, "{accepted:?}");
        let (server, event) = accepted[0];
        assert_eq!(event, StackEvent::Accepted { listen_port: PORT });
        (client, server)
    }

    /// Opens a connection from `port` and steps until the client has it established; the
    /// server's application is not asked for anything.
    fn open_from(&mut self, port: u16) -> ConnId {
        let now = self.net.now();
        let conn = self
            .net
            .stack(self.client)
            .connect_from(now, port, Pair::server_addr())
            .unwrap();
        let client = self.client;
        self.run_until("the client is established", |net| {
            net.stack(client).connection(conn).map(|c| c.state()) == Ok(State::Established)
        });
        conn
    }

    /// Steps until the server's application has been handed `count` `Accepted` events (its
    /// other events are consumed); returns the connections.
    #[track_caller]
    fn take_accepted(&mut self, count: usize) -> Vec<ConnId> {
        let server = self.server;
        let mut taken = Vec::new();
        self.run_until("connections accepted", |net| {
            while let Some((id, event)) = net.stack(server).poll_event() {
                if let StackEvent::Accepted { .. } = event {
                    taken.push(id);
                }
            }
            taken.len() >= count
        });
        assert_eq!(taken.len(), count);
        taken
    }

    fn state(&mut self, node: NodeId, conn: ConnId) -> State {
        self.net.stack(node).connection(conn).unwrap().state()
    }

    fn send(&mut self, node: NodeId, conn: ConnId, data: &[u8]) {
        let now = self.net.now();
        assert_eq!(self.net.stack(node).send(conn, data, now), Ok(data.len()));
    }

    /// Steps until `conn` of `node` has read exactly `len` bytes, and returns them.
    fn read_exactly(&mut self, node: NodeId, conn: ConnId, len: usize) -> Vec<u8> {
        let mut got = Vec::new();
        self.run_until("the data arrives", |net| {
            let mut buf = [0u8; 2048];
            while let Ok(n) = net.stack(node).recv(conn, &mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            got.len() >= len
        });
        assert_eq!(got.len(), len);
        got
    }
}

#[test]
fn timer_entries_stay_bounded_with_keepalive() {
    let config = tcp::Config {
        keepalive: Some(Keepalive::default()),
        ..tcp::Config::default()
    };
    config.validate().unwrap();
    let mut p = Pair::new(config);
    let (client, server) = p.connect();
    let request = [0x5au8; 64];
    for _ in 0..1000 {
        p.send(p.client, client, &request);
        let got = p.read_exactly(p.server, server, request.len());
        p.send(p.server, server, &got);
        assert_eq!(p.read_exactly(p.client, client, request.len()), request);
        // Longer than the delayed ACK (40 ms): every exchange ends with timers firing.
        p.idle(Duration::from_millis(50));
    }
    for node in [p.client, p.server] {
        let stack = p.net.stack(node);
        assert_eq!(stack.connection_count(), 1);
        assert!(
            stack.scheduled_timers() <= stack.connection_count(),
            "{} timer entries for {} connection(s)",
            stack.scheduled_timers(),
            stack.connection_count()
        );
    }
    assert_eq!(p.state(p.client, client), State::Established);
    assert_eq!(p.state(p.server, server), State::Established);
    assert!(p.net.now() > Instant::from_millis(50_000));
}

#[test]
fn freed_connections_leave_no_timer_entries() {
    let config = tcp::Config {
        keepalive: Some(Keepalive::default()),
        msl: Duration::from_secs(1),
        ..tcp::Config::default()
    };
    let mut p = Pair::new(config);
    for _ in 0..50 {
        let (client, server) = p.connect();
        p.send(p.client, client, b"ping");
        assert_eq!(p.read_exactly(p.server, server, 4), b"ping");
        assert_eq!(p.events(p.server), vec![(server, StackEvent::Readable)]);
        // Past the delayed ACK: the keepalive is then each end's earliest deadline.
        p.idle(Duration::from_millis(50));
        let now = p.net.now();
        p.net.stack(p.client).close(client).unwrap();
        p.net.stack(p.client).release(client, now);
        assert_eq!(
            p.next_events(p.server),
            vec![(server, StackEvent::ReadClosed)]
        );
        let now = p.net.now();
        p.net.stack(p.server).close(server).unwrap();
        p.net.stack(p.server).release(server, now);
        // The client waits 2·MSL in TIME-WAIT before its port can serve again.
        p.idle(Duration::from_secs(3));
        for node in [p.client, p.server] {
            let stack = p.net.stack(node);
            assert_eq!(stack.connection_count(), 0);
            assert_eq!(stack.scheduled_timers(), 0, "entries of freed connections");
        }
    }
    assert_eq!(p.net.stack(p.server).stats().connections_freed, 50);
}

#[test]
fn time_wait_reuse_keeps_the_held_connection_and_its_unread_data() {
    let config = tcp::Config {
        msl: Duration::from_secs(1),
        ..tcp::Config::default()
    };
    let mut p = Pair::new(config);
    let (client, old) = p.connect();
    // The server closes first, so it is the one to wait in TIME-WAIT; the client's last data
    // and FIN arrive and are acknowledged there, and its application does not read them.
    p.net.stack(p.server).close(old).unwrap();
    assert_eq!(
        p.next_events(p.client),
        vec![(client, StackEvent::ReadClosed)]
    );
    p.send(p.client, client, b"hello");
    let now = p.net.now();
    p.net.stack(p.client).close(client).unwrap();
    p.net.stack(p.client).release(client, now);
    let client_node = p.client;
    p.run_until("the client is freed", |net| {
        net.stack(client_node).connection_count() == 0
    });
    assert_eq!(p.state(p.server, old), State::TimeWait);
    assert_eq!(
        p.events(p.server),
        vec![(old, StackEvent::Readable), (old, StackEvent::ReadClosed)]
    );

    // The same 4-tuple again: the SYN opens a new connection at once.
    let (client, new) = p.connect();
    assert_ne!(new, old);
    // The old one is still the application's, with its data, and still in TIME-WAIT.
    assert_eq!(p.state(p.server, old), State::TimeWait);
    let mut buf = [0u8; 16];
    assert_eq!(p.net.stack(p.server).recv(old, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(p.net.stack(p.server).recv(old, &mut buf), Ok(0));
    assert_eq!(p.net.stack(p.server).connection_count(), 2);

    // Its TIME-WAIT timer still runs: after 2·MSL it is CLOSED, and freed once released.
    p.idle(Duration::from_secs(2));
    assert_eq!(
        p.events(p.server),
        vec![(old, StackEvent::Closed { error: None })]
    );
    let now = p.net.now();
    p.net.stack(p.server).release(old, now);
    assert_eq!(p.net.stack(p.server).connection_count(), 1);
    assert_eq!(
        p.net.stack(p.server).recv(old, &mut buf),
        Err(StackError::NoSuchConnection)
    );
    // Freeing the old connection left the new one's flow entry alone.
    p.send(p.client, client, b"again");
    assert_eq!(p.read_exactly(p.server, new, 5), b"again");
}

#[test]
fn a_closed_unreleased_connection_does_not_block_a_new_syn() {
    let mut p = Pair::new(tcp::Config::default());
    let (client, old) = p.connect();
    p.net.stack(p.client).abort(client).unwrap();
    let now = p.net.now();
    p.net.stack(p.client).release(client, now);
    assert_eq!(
        p.next_events(p.server),
        vec![(
            old,
            StackEvent::Closed {
                error: Some(ConnectionError::Reset)
            }
        )]
    );
    // The server's application keeps its handle to the reset connection.
    assert_eq!(p.state(p.server, old), State::Closed);

    // A new SYN on the same 4-tuple reaches the listener (it used to draw a reset from the
    // CLOSED connection).
    let (client, new) = p.connect();
    assert_ne!(new, old);
    assert_eq!(p.net.stack(p.server).stats().rst_sent, 0);
    assert_eq!(p.state(p.server, old), State::Closed);
    assert_eq!(
        p.net.stack(p.server).connection(old).unwrap().error(),
        Some(ConnectionError::Reset)
    );
    assert_eq!(
        p.events(p.server),
        vec![],
        "nothing more for the old handle"
    );
    let now = p.net.now();
    p.net.stack(p.server).release(old, now);
    assert_eq!(p.net.stack(p.server).connection_count(), 1);
    assert_eq!(
        p.net.stack(p.server).connection(old).err(),
        Some(StackError::NoSuchConnection)
    );
    // Freeing the old connection left the new one's flow entry alone.
    p.send(p.client, client, b"again");
    assert_eq!(p.read_exactly(p.server, new, 5), b"again");
}

#[test]
fn a_full_accept_queue_drops_the_last_ack_until_the_application_takes_connections() {
    let mut p = Pair::with_accept_queue(tcp::Config::default(), 2);
    let (client, server) = p.connect();
    let node = p.server;
    assert_eq!(
        p.net.stack(node).accept_queue_len(),
        0,
        "taken by poll_event"
    );

    // The application takes nothing now: two completed handshakes fill the queue.
    for port in [CLIENT_PORT + 1, CLIENT_PORT + 2] {
        p.open_from(port);
    }
    p.run_until("two connections wait in the accept queue", |net| {
        net.stack(node).accept_queue_len() == 2
    });
    // A third: the client is established, the server drops the ACK that would complete it
    // and keeps it in SYN-RECEIVED.
    let third = p.open_from(CLIENT_PORT + 3);
    p.run_until("the third handshake's ACK is dropped", |net| {
        net.stack(node).stats().drop_accept_queue_full >= 1
    });
    let stats = p.net.stack(node).stats().clone();
    assert_eq!(stats.connections_accepted, 3);
    assert_eq!(stats.rst_sent, 0, "refused by a drop, not a reset");
    assert_eq!(p.net.stack(node).accept_queue_len(), 2);
    assert_eq!(p.net.stack(node).state_counts().get(State::SynReceived), 1);

    // The connection the application holds keeps transferring, exactly, both ways.
    let data: Vec<u8> = (0..30_000u32).map(|i| (i * 7 % 251) as u8).collect();
    p.send(p.client, client, &data);
    assert_eq!(p.read_exactly(node, server, data.len()), data);
    p.send(node, server, b"still here");
    assert_eq!(p.read_exactly(p.client, client, 10), b"still here");
    assert_eq!(p.net.stack(node).accept_queue_len(), 2);

    // Taking the two queued connections makes room: the refused handshake completes when
    // the client acknowledges the retransmitted SYN,ACK, and a new one is accepted at once.
    assert_eq!(p.take_accepted(2).len(), 2);
    let late = p.take_accepted(1)[0];
    p.send(p.client, third, b"third");
    assert_eq!(p.read_exactly(node, late, 5), b"third");
    let fourth = p.open_from(CLIENT_PORT + 4);
    let fresh = p.take_accepted(1)[0];
    p.send(p.client, fourth, b"fourth");
    assert_eq!(p.read_exactly(node, fresh, 6), b"fourth");
    assert_eq!(p.net.stack(node).accept_queue_len(), 0);
    assert_eq!(p.net.stack(node).stats().connections_accepted, 5);
}
