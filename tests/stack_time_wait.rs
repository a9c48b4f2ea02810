//! TIME-WAIT held as a compact record (RFC 9293 §3.10.7.4, RFC 1337, RFC 6191), between two
//! stacks driven by hand with a virtual clock, every frame from the client kept so it can
//! be sent again:
//!
//! - once its application released it, a connection that enters TIME-WAIT is freed and a
//!   record takes its 4-tuple; the peer's retransmitted FIN gets the same ACK from the
//!   record the connection sent, and a reset leaves the record alone;
//! - a new SYN whose sequence number lies above RCV.NXT reopens the 4-tuple at once, one
//!   below it does not;
//! - the record expires after 2·MSL, after which the FIN draws the reset for no connection;
//! - `ss` rows and the counts by state still show the 4-tuple in TIME-WAIT.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use xdptcp::sim::Network;
use xdptcp::stack::{ConnectionFilter, Stack, StackEvent};
use xdptcp::tcp::{self, IsnGenerator, State};
use xdptcp::wire::checksum::checksum;
use xdptcp::wire::tcp::fill_checksum;
use xdptcp::wire::{ethernet, ipv4, MacAddr, SeqNum, TcpFrame, TcpRepr};
use xdptcp::Instant;

const PORT: u16 = 80;
const CLIENT_PORT: u16 = 40_000;
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const MSL: Duration = Duration::from_secs(1);
const IP: usize = ethernet::HEADER_LEN;
const TCP: usize = IP + ipv4::HEADER_LEN;

/// A client and a server stack joined by a lossless wire, with the frames the client sent.
struct Wire {
    client: Stack,
    server: Stack,
    now: Instant,
    from_client: Vec<Vec<u8>>,
}

impl Wire {
    fn new(timestamps: bool) -> Wire {
        let tcp = tcp::Config {
            msl: MSL,
            timestamps,
            ..tcp::Config::default()
        };
        let stack = |n: u8| {
            let mut config = Network::node_config(n);
            config.tcp = tcp.clone();
            Stack::new(config, IsnGenerator::with_key([n; 16]), u64::from(n)).unwrap()
        };
        let mut client = stack(1);
        let mut server = stack(2);
        client.add_neighbor(SERVER_IP, MacAddr([2, 0, 0, 0, 0, 2]));
        server.add_neighbor(CLIENT_IP, MacAddr([2, 0, 0, 0, 0, 1]));
        server.listen(PORT, 16).unwrap();
        Wire {
            client,
            server,
            now: Instant::from_millis(1),
            from_client: Vec::new(),
        }
    }

    /// Moves frames both ways until neither stack has one to send.
    fn pump(&mut self) {
        let mut buf = vec![0u8; 1514];
        loop {
            let mut moved = false;
            while let Some(n) = self.client.poll_transmit(self.now, &mut buf) {
                self.from_client.push(buf[..n].to_vec());
                self.server.receive(self.now, &buf[..n]);
                moved = true;
            }
            while let Some(n) = self.server.poll_transmit(self.now, &mut buf) {
                self.client.receive(self.now, &buf[..n]);
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    /// Lets `d` pass in 10 ms steps, running the timers and moving frames.
    fn idle(&mut self, d: Duration) {
        let until = self.now + d;
        while self.now < until {
            self.now = (self.now + Duration::from_millis(10)).min(until);
            self.client.handle_timeout(self.now);
            self.server.handle_timeout(self.now);
            self.pump();
        }
    }

    /// Opens a connection from [`CLIENT_PORT`], has the server close it first and release
    /// it, and the client close and release it once it read the server's FIN: the server
    /// ends in TIME-WAIT. Returns the time it got there.
    fn close_into_time_wait(&mut self) -> Instant {
        let server_addr = SocketAddrV4::new(SERVER_IP, PORT);
        let client = self
            .client
            .connect_from(self.now, CLIENT_PORT, server_addr)
            .unwrap();
        self.pump();
        let (server, event) = self.server.poll_event().expect("an accepted connection");
        assert_eq!(event, StackEvent::Accepted { listen_port: PORT });
        self.server.close(server).unwrap();
        self.server.release(server, self.now);
        self.pump();
        while let Some((_, event)) = self.client.poll_event() {
            if event == StackEvent::ReadClosed {
                self.client.close(client).unwrap();
                self.client.release(client, self.now);
            }
        }
        self.pump();
        self.idle(Duration::from_millis(100));
        assert_eq!(self.client.connection_count(), 0, "the client is freed");
        self.now
    }

    /// The last FIN the client sent.
    fn clients_fin(&self) -> Vec<u8> {
        self.from_client
            .iter()
            .rev()
            .find(|f| repr(f).flags.fin())
            .expect("the client's FIN")
            .clone()
    }

    /// Hands `frame` to the server; returns the segments it sends in answer.
    fn answers_from_server(&mut self, frame: &[u8]) -> Vec<TcpRepr> {
        self.server.receive(self.now, frame);
        let mut buf = vec![0u8; 1514];
        let mut replies = Vec::new();
        while let Some(n) = self.server.poll_transmit(self.now, &mut buf) {
            replies.push(repr(&buf[..n]));
        }
        replies
    }
}

/// The TCP header of a frame.
fn repr(frame: &[u8]) -> TcpRepr {
    let parsed = TcpFrame::parse(frame).unwrap();
    TcpRepr::parse(parsed.tcp()).unwrap()
}

/// `frame` (from the client) with its sequence number and flags replaced, checksums mended.
fn rewritten(frame: &[u8], seq: SeqNum, flags: u8) -> Vec<u8> {
    let mut f = frame.to_vec();
    f[TCP + 4..TCP + 8].copy_from_slice(&seq.0.to_be_bytes());
    f[TCP + 13] = flags;
    f[IP + 10..IP + 12].fill(0);
    let sum = checksum(&f[IP..TCP]);
    f[IP + 10..IP + 12].copy_from_slice(&sum.to_be_bytes());
    let total = usize::from(u16::from_be_bytes([f[IP + 2], f[IP + 3]]));
    fill_checksum(&mut f[TCP..IP + total], CLIENT_IP, SERVER_IP);
    f
}

#[test]
fn a_retransmitted_fin_in_time_wait_is_acknowledged_by_the_compact_record() {
    for timestamps in [true, false] {
        let mut w = Wire::new(timestamps);
        w.close_into_time_wait();
        assert_eq!(w.server.connection_count(), 0, "the connection is freed");
        assert_eq!(w.server.time_wait_records(), 1);
        assert_eq!(w.server.stats().time_wait_compacted, 1);
        assert_eq!(w.server.buffer_memory().held, 0);

        let fin = w.clients_fin();
        let fin_repr = repr(&fin);
        let replies = w.answers_from_server(&fin);
        assert_eq!(replies.len(), 1, "{replies:?}");
        let ack = &replies[0];
        assert_eq!(
            ack.ack,
            Some(fin_repr.seq + 1u32),
            "ACK=RCV.NXT past the FIN"
        );
        assert_eq!(Some(ack.seq), fin_repr.ack, "SEQ=SND.NXT past our FIN");
        assert!(!ack.flags.fin() && !ack.flags.rst() && !ack.flags.syn());
        assert_eq!((ack.src_port, ack.dst_port), (PORT, CLIENT_PORT));
        match (
            timestamps,
            ack.options.timestamps,
            fin_repr.options.timestamps,
        ) {
            (true, Some((_, echo)), Some((tsval, _))) => assert_eq!(echo, tsval, "TS.Recent"),
            (false, None, None) => {}
            other => panic!("timestamps: {other:?}"),
        }

        // RFC 1337: a reset, even at RCV.NXT, does not end the wait.
        let rst = rewritten(&fin, fin_repr.seq + 1u32, 0x04);
        assert!(w.answers_from_server(&rst).is_empty());
        assert_eq!(w.server.time_wait_records(), 1);
    }
}

#[test]
fn a_new_syn_with_a_higher_sequence_number_reopens_time_wait() {
    let mut w = Wire::new(false);
    w.close_into_time_wait();
    let old_fin = repr(&w.clients_fin());
    w.idle(Duration::from_millis(200));

    // The same 4-tuple again. First a copy of the new SYN moved below the old RCV.NXT: the
    // record keeps the 4-tuple and answers with an ACK (RFC 5961 §4.2).
    let now = w.now;
    w.client
        .connect_from(now, CLIENT_PORT, SocketAddrV4::new(SERVER_IP, PORT))
        .unwrap();
    let mut buf = vec![0u8; 1514];
    let n = w.client.poll_transmit(now, &mut buf).unwrap();
    let syn = buf[..n].to_vec();
    assert!(
        repr(&syn).seq > old_fin.seq + 1u32,
        "the new ISN lies above"
    );
    let old_syn = rewritten(&syn, old_fin.seq - 1000u32, 0x02);
    let replies = w.answers_from_server(&old_syn);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0].ack, Some(old_fin.seq + 1u32));
    assert_eq!(w.server.time_wait_records(), 1);

    // The real SYN, above RCV.NXT, reopens at once.
    w.server.receive(now, &syn);
    assert_eq!(w.server.time_wait_records(), 0);
    assert_eq!(w.server.stats().time_wait_reopened, 1);
    w.pump();
    assert!(std::iter::from_fn(|| w.client.poll_event()).any(|(_, e)| e == StackEvent::Connected));
    assert_eq!(w.server.state_counts().get(State::Established), 1);
}

#[test]
fn the_time_wait_record_expires_after_two_msl() {
    let mut w = Wire::new(true);
    let entered = w.close_into_time_wait();
    let fin = w.clients_fin();
    // The wait started when the FIN arrived, before `entered`; it lasts 2·MSL from then.
    assert!(w
        .server
        .poll_deadline()
        .is_some_and(|d| d <= entered + MSL * 2));
    w.idle(MSL * 2 - Duration::from_millis(300));
    assert_eq!(w.server.time_wait_records(), 1, "still waiting");
    w.idle(Duration::from_millis(300));
    assert_eq!(w.server.time_wait_records(), 0, "expired after 2·MSL");
    assert_eq!(w.server.state_counts().get(State::TimeWait), 0);
    assert_eq!(w.server.poll_deadline(), None, "nothing left to time");
    // The FIN now meets no connection: the listener answers its ACK with a reset.
    let replies = w.answers_from_server(&fin);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(replies[0].flags.rst());
}

#[test]
fn ss_and_state_counts_show_time_wait_records() {
    let mut w = Wire::new(true);
    w.close_into_time_wait();
    assert_eq!(w.server.state_counts().get(State::TimeWait), 1);
    let filter = ConnectionFilter {
        state: Some(State::TimeWait),
        port: None,
    };
    let mut rows = Vec::new();
    assert_eq!(w.server.list_connections(&filter, 10, &mut rows), 0);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].state, State::TimeWait);
    assert_eq!(rows[0].local, SocketAddrV4::new(SERVER_IP, PORT));
    assert_eq!(rows[0].remote, SocketAddrV4::new(CLIENT_IP, CLIENT_PORT));
    // A limit of zero leaves it off, counted.
    let mut none = Vec::new();
    assert_eq!(w.server.list_connections(&filter, 0, &mut none), 1);
}
