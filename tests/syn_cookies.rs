//! SYN cookies at a listener (RFC 4987 §3.6), run in the simulator between two stacks with
//! forged frames beside the real ones:
//!
//! - a flood of SYNs beyond the backlog keeps the half-open connections at the backlog and is
//!   answered with cookie SYN,ACKs, while a real client still connects through a cookie,
//!   with its MSS, window scale, SACK and timestamps recovered, and moves data both ways;
//! - an ACK with a wrong or stale cookie is answered with a reset and counted; an ACK when
//!   no cookie was sent lately is not even checked;
//! - a client without timestamps gets a cookie connection with its MSS only;
//! - `SynCookies::Always` keeps no half-open connection at all; `SynCookies::Off` drops
//!   what the backlog has no room for;
//! - the stack asks for its SYNs to be answered before it (by the XDP program) while a
//!   listener's backlog is full and for `OFFLOAD_HOLD` after, or always with
//!   `SynCookies::Always`, and takes the cookies made there.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use xdptcp::sim::{Network, NodeId};
use xdptcp::stack::{ConnId, StackEvent, SynCookies};
use xdptcp::tcp::{self, State};
use xdptcp::wire::checksum::checksum;
use xdptcp::wire::tcp::fill_checksum;
use xdptcp::wire::{ethernet, ipv4, MacAddr, TcpFlags};

const PORT: u16 = 80;
const BACKLOG: usize = 4;
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const IP: usize = ethernet::HEADER_LEN;
const TCP: usize = IP + ipv4::HEADER_LEN;

struct Lab {
    net: Network,
    client: NodeId,
    server: NodeId,
    /// Added to the network's clock for the frames `server_replies` hands over (the
    /// simulator's clock only moves with events).
    skew: Duration,
}

impl Lab {
    fn new(cookies: SynCookies, client_tcp: tcp::Config) -> Lab {
        let mut net = Network::new(3);
        let mut client = Network::node_config(1);
        client.tcp = client_tcp;
        let mut server = Network::node_config(2);
        server.syn_cookies = cookies;
        let client = net.add_node(client).unwrap();
        let server = net.add_node(server).unwrap();
        // Each knows the other's MAC address, so the first frame of each is TCP.
        net.stack(client)
            .add_neighbor(SERVER_IP, MacAddr([2, 0, 0, 0, 0, 2]));
        net.stack(server)
            .add_neighbor(CLIENT_IP, MacAddr([2, 0, 0, 0, 0, 1]));
        net.stack(server).listen(PORT, BACKLOG).unwrap();
        Lab {
            net,
            client,
            server,
            skew: Duration::ZERO,
        }
    }

    /// A SYN the real client would send, taken off before it reaches the wire (its
    /// connection is then aborted, so nothing answers the server).
    fn client_syn(&mut self) -> Vec<u8> {
        let now = self.net.now();
        let id = self
            .net
            .stack(self.client)
            .connect_from(now, 1, SocketAddrV4::new(SERVER_IP, PORT))
            .unwrap();
        let mut buf = vec![0u8; 1514];
        let n = self
            .net
            .stack(self.client)
            .poll_transmit(now, &mut buf)
            .unwrap();
        buf.truncate(n);
        self.net.stack(self.client).abort(id).unwrap();
        self.net.stack(self.client).release(id, now);
        let mut sink = vec![0u8; 1514];
        while self
            .net
            .stack(self.client)
            .poll_transmit(now, &mut sink)
            .is_some()
        {}
        buf
    }

    /// Hands `frame` to the server and returns the TCP segments it answers with.
    fn server_replies(&mut self, frame: &[u8]) -> Vec<Vec<u8>> {
        let now = self.net.now() + self.skew;
        self.net.stack(self.server).receive(now, frame);
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1514];
        while let Some(n) = self.net.stack(self.server).poll_transmit(now, &mut buf) {
            out.push(buf[TCP..n].to_vec());
        }
        out
    }

    fn run_until(&mut self, what: &str, done: impl FnMut(&mut Network) -> bool) {
        let limit = self.net.now() + Duration::from_secs(60);
        assert!(self.net.run_until(limit, done), "never: {what}");
    }

    /// Opens a connection from the real client on `port`: (client handle, server handle).
    fn connect(&mut self, port: u16) -> (ConnId, ConnId) {
        let now = self.net.now();
        let client = self
            .net
            .stack(self.client)
            .connect_from(now, port, SocketAddrV4::new(SERVER_IP, PORT))
            .unwrap();
        let (c, s) = (self.client, self.server);
        let mut accepted = None;
        self.run_until("both ends connected", |net| {
            while let Some((id, e)) = net.stack(s).poll_event() {
                if e == (StackEvent::Accepted { listen_port: PORT }) {
                    accepted = Some(id);
                }
            }
            accepted.is_some()
                && net.stack(c).connection(client).unwrap().state() == State::Established
        });
        (client, accepted.unwrap())
    }

    /// `len` bytes from `from`'s `a` to `to`'s `b`, read there and compared.
    fn transfer(&mut self, from: NodeId, a: ConnId, to: NodeId, b: ConnId, len: usize) {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let mut sent = 0;
        let mut got = Vec::new();
        let limit = self.net.now() + Duration::from_secs(60);
        let done = self.net.run_until(limit, |net| {
            let now = net.now();
            if sent < len {
                if let Ok(n) = net.stack(from).send(a, &data[sent..], now) {
                    sent += n;
                }
            }
            let mut buf = [0u8; 4096];
            while let Ok(n) = net.stack(to).recv(b, &mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            got.len() >= len
        });
        assert!(done, "{} of {len} bytes arrived", got.len());
        assert!(got == data, "the bytes differ");
    }
}

/// `frame` with its TCP source port set to `port` (and the checksums mended).
fn from_port(frame: &[u8], port: u16) -> Vec<u8> {
    let mut f = frame.to_vec();
    f[TCP..TCP + 2].copy_from_slice(&port.to_be_bytes());
    mend(&mut f);
    f
}

fn mend(f: &mut [u8]) {
    f[IP + 10..IP + 12].fill(0);
    let sum = checksum(&f[IP..TCP]);
    f[IP + 10..IP + 12].copy_from_slice(&sum.to_be_bytes());
    let total = usize::from(u16::from_be_bytes([f[IP + 2], f[IP + 3]]));
    fill_checksum(&mut f[TCP..IP + total], CLIENT_IP, SERVER_IP);
}

/// The handshake's ACK for a SYN,ACK `syn_ack` (TCP bytes) answering `syn` (a frame): a copy
/// of the SYN's frame turned into <SEQ=ISN+1><ACK=`ack`><CTL=ACK>, without options.
fn handshake_ack(syn: &[u8], ack: u32) -> Vec<u8> {
    let mut f = syn[..TCP + 20].to_vec();
    let seq = u32::from_be_bytes(f[TCP + 4..TCP + 8].try_into().unwrap());
    f[TCP + 4..TCP + 8].copy_from_slice(&seq.wrapping_add(1).to_be_bytes());
    f[TCP + 8..TCP + 12].copy_from_slice(&ack.to_be_bytes());
    f[TCP + 12] = 5 << 4;
    f[TCP + 13] = TcpFlags::ACK.0;
    f[IP + 2..IP + 4].copy_from_slice(&40u16.to_be_bytes());
    mend(&mut f);
    f
}

fn flags(segment: &[u8]) -> TcpFlags {
    TcpFlags(segment[13])
}

fn seq_of(segment: &[u8]) -> u32 {
    u32::from_be_bytes(segment[4..8].try_into().unwrap())
}

#[test]
fn a_syn_flood_beyond_the_backlog_gets_cookies_and_a_real_client_still_connects() {
    let mut lab = Lab::new(SynCookies::WhenBacklogFull, tcp::Config::default());
    let syn = lab.client_syn();
    // 1,000 SYNs from ports nobody answers from: the first BACKLOG wait half-open, every
    // other one is answered with a cookie and forgotten.
    for port in 2000..3000 {
        let replies = lab.server_replies(&from_port(&syn, port));
        assert_eq!(replies.len(), 1, "port {port}");
        assert_eq!(flags(&replies[0]), TcpFlags::SYN | TcpFlags::ACK);
    }
    let stats = lab.net.stack(lab.server).stats().clone();
    assert_eq!(lab.net.stack(lab.server).connection_count(), BACKLOG);
    assert_eq!(stats.syn_cookies_sent, 1000 - BACKLOG as u64);
    assert_eq!(stats.drop_listen_overflow, 0);

    // The real client: its SYN, the cookie SYN,ACK, its ACK, and the connection is there,
    // with the options of both SYNs.
    let (client, server) = lab.connect(40_000);
    let stats = lab.net.stack(lab.server).stats().clone();
    assert_eq!(stats.syn_cookies_accepted, 1);
    assert_eq!(stats.syn_cookies_sent, 1000 - BACKLOG as u64 + 1);
    let (c, s) = (lab.client, lab.server);
    let server_conn = lab.net.stack(s).connection(server).unwrap();
    assert_eq!(server_conn.state(), State::Established);
    // The client's MSS (1460 less 12 bytes of timestamps), and window scaling both ways:
    // each end's shift for its 256 KiB buffer.
    assert_eq!(server_conn.send_mss(), 1448);
    let server_scales = server_conn.window_scales();
    let client_scales = lab.net.stack(c).connection(client).unwrap().window_scales();
    assert_eq!(server_scales, (client_scales.1, client_scales.0));
    assert_eq!(server_scales, (3, 3));
    // A megabyte each way, larger than either window, so scaling is exercised.
    lab.transfer(c, client, s, server, 1 << 20);
    lab.transfer(s, server, c, client, 1 << 20);
    let server_stats = *lab.net.stack(s).connection(server).unwrap().stats();
    assert_eq!(server_stats.retransmitted_segments, 0, "a clean link");
}

#[test]
fn a_wrong_or_stale_cookie_draws_a_reset_and_no_connection() {
    let mut lab = Lab::new(SynCookies::Always, tcp::Config::default());
    let syn = lab.client_syn();
    let replies = lab.server_replies(&syn);
    assert_eq!(replies.len(), 1);
    let cookie = seq_of(&replies[0]);
    assert_eq!(
        lab.net.stack(lab.server).connection_count(),
        0,
        "no state kept"
    );

    // A wrong cookie: a reset, counted, no connection.
    let wrong = lab.server_replies(&handshake_ack(&syn, cookie.wrapping_add(2)));
    assert_eq!(wrong.len(), 1);
    assert!(flags(&wrong[0]).rst());
    assert_eq!(lab.net.stack(lab.server).stats().syn_cookies_rejected, 1);
    assert_eq!(lab.net.stack(lab.server).connection_count(), 0);

    // The right one 130 s later: too old.
    lab.skew = Duration::from_secs(130);
    let stale = lab.server_replies(&handshake_ack(&syn, cookie.wrapping_add(1)));
    assert!(flags(&stale[0]).rst());
    assert_eq!(lab.net.stack(lab.server).connection_count(), 0);

    // A fresh cookie, used at once: the connection opens, without timestamps or scaling
    // as this ACK carries no TSecr to recover them from.
    let replies = lab.server_replies(&syn);
    let cookie = seq_of(&replies[0]);
    assert!(lab
        .server_replies(&handshake_ack(&syn, cookie.wrapping_add(1)))
        .is_empty());
    assert_eq!(lab.net.stack(lab.server).connection_count(), 1);
    assert_eq!(lab.net.stack(lab.server).stats().syn_cookies_accepted, 1);
}

#[test]
fn an_ack_is_not_checked_for_a_cookie_when_none_was_sent_lately() {
    let mut lab = Lab::new(SynCookies::WhenBacklogFull, tcp::Config::default());
    let syn = lab.client_syn();
    let replies = lab.server_replies(&handshake_ack(&syn, 12345));
    assert!(flags(&replies[0]).rst());
    assert_eq!(lab.net.stack(lab.server).stats().syn_cookies_rejected, 0);
}

#[test]
fn a_client_without_timestamps_gets_a_cookie_connection_with_its_mss_only() {
    let client_tcp = tcp::Config {
        timestamps: false,
        ..tcp::Config::default()
    };
    let mut lab = Lab::new(SynCookies::Always, client_tcp);
    let (client, server) = lab.connect(40_000);
    let (c, s) = (lab.client, lab.server);
    let server_conn = lab.net.stack(s).connection(server).unwrap();
    assert_eq!(server_conn.send_mss(), 1460);
    assert_eq!(server_conn.window_scales(), (0, 0));
    assert_eq!(lab.net.stack(s).stats().syn_cookies_accepted, 1);
    lab.transfer(c, client, s, server, 200_000);
    lab.transfer(s, server, c, client, 200_000);
}

#[test]
fn with_cookies_off_a_full_backlog_drops_the_syn() {
    let mut lab = Lab::new(SynCookies::Off, tcp::Config::default());
    let syn = lab.client_syn();
    for port in 2000..2000 + BACKLOG as u16 {
        assert_eq!(lab.server_replies(&from_port(&syn, port)).len(), 1);
    }
    assert!(lab.server_replies(&from_port(&syn, 3000)).is_empty());
    let stats = lab.net.stack(lab.server).stats().clone();
    assert_eq!(stats.drop_listen_overflow, 1);
    assert_eq!(stats.syn_cookies_sent, 0);
}

/// What `publish_cookie_offload` reports at `now`, in order.
fn offload_changes(lab: &mut Lab, now: xdptcp::time::Instant) -> Vec<(u16, bool)> {
    let mut changes = Vec::new();
    lab.net
        .stack(lab.server)
        .publish_cookie_offload(now, |port, on| changes.push((port, on)));
    changes
}

#[test]
fn the_stack_asks_for_cookies_before_it_while_the_backlog_is_full_and_a_hold_after() {
    use xdptcp::stack::OFFLOAD_HOLD;
    let mut lab = Lab::new(SynCookies::WhenBacklogFull, tcp::Config::default());
    let t0 = lab.net.now();
    assert_eq!(
        offload_changes(&mut lab, t0),
        [],
        "an empty backlog wants nothing"
    );
    let syn = lab.client_syn();
    for port in 2000..2000 + BACKLOG as u16 {
        lab.server_replies(&from_port(&syn, port));
    }
    // The backlog is full: the port is published once, however often the stack is asked.
    assert_eq!(offload_changes(&mut lab, t0), [(PORT, true)]);
    assert_eq!(offload_changes(&mut lab, t0), []);
    // An ACK with a cookie made before the stack (here: by this stack's function, as the
    // XDP program makes it) opens a connection although the stack itself sent no cookie.
    let now = lab.net.now();
    let replies = lab.server_replies(&from_port(&syn, 1999));
    let cookie = seq_of(&replies[0]);
    assert_eq!(lab.net.stack(lab.server).stats().syn_cookies_sent, 1);
    assert!(lab
        .server_replies(&handshake_ack(
            &from_port(&syn, 1999),
            cookie.wrapping_add(1)
        ))
        .is_empty());
    assert_eq!(lab.net.stack(lab.server).stats().syn_cookies_accepted, 1);
    // The half-open connections give up (SYN,ACK retries exhausted) while the stack is
    // asked every 100 ms, as a worker asks every loop turn: the port stays published until
    // a hold after the backlog last was full, then SYNs reach the stack again.
    let server = lab.server;
    let limit = now + Duration::from_secs(300);
    while lab.net.stack(server).connection_count() > 1 {
        assert!(
            lab.net.now() < limit,
            "the half-open connections never ended"
        );
        let step = lab.net.now() + Duration::from_millis(100);
        lab.net.run_until(step, |_| false);
        let at = lab.net.now();
        assert_eq!(
            offload_changes(&mut lab, at),
            [],
            "while the backlog is full"
        );
    }
    let drained = lab.net.now();
    assert_eq!(offload_changes(&mut lab, drained), [], "within the hold");
    assert_eq!(
        offload_changes(&mut lab, drained + OFFLOAD_HOLD),
        [(PORT, false)]
    );
    assert_eq!(offload_changes(&mut lab, drained + OFFLOAD_HOLD * 2), []);
}

#[test]
fn with_cookies_always_every_listener_asks_at_once_and_one_that_stops_is_withdrawn() {
    let mut lab = Lab::new(SynCookies::Always, tcp::Config::default());
    let now = lab.net.now();
    lab.net.stack(lab.server).listen(8080, BACKLOG).unwrap();
    assert_eq!(offload_changes(&mut lab, now), [(PORT, true), (8080, true)]);
    lab.net.stack(lab.server).unlisten(8080);
    assert_eq!(offload_changes(&mut lab, now), [(8080, false)]);
    assert_eq!(offload_changes(&mut lab, now), []);
}

#[test]
fn challenge_acks_of_many_connections_stay_under_the_stacks_ceiling() {
    // 200 connections (through cookies, the quickest way to open them here), each sent
    // twelve resets inside the window but not at RCV.NXT, in the same instant: RFC 5961 §3.2
    // answers each with a challenge ACK, at most ten per connection a second (§7), and all
    // together at most the stack's ceiling (1,000 a second, drawn in [500, 1,500)).
    let mut lab = Lab::new(SynCookies::Always, tcp::Config::default());
    let syn = lab.client_syn();
    let mut acks = Vec::new();
    for port in 3000..3200 {
        let syn = from_port(&syn, port);
        let cookie = seq_of(&lab.server_replies(&syn)[0]);
        let ack = handshake_ack(&syn, cookie.wrapping_add(1));
        assert!(lab.server_replies(&ack).is_empty());
        acks.push(ack);
    }
    assert_eq!(lab.net.stack(lab.server).connection_count(), 200);
    let (mut challenged, mut most_on_one) = (0, 0);
    for ack in &acks {
        let seq = u32::from_be_bytes(ack[TCP + 4..TCP + 8].try_into().unwrap());
        let mut on_this = 0;
        for k in 0..12u32 {
            let mut rst = ack.clone();
            rst[TCP + 4..TCP + 8].copy_from_slice(&seq.wrapping_add(1000 + k).to_be_bytes());
            rst[TCP + 13] = TcpFlags::RST.0;
            mend(&mut rst);
            on_this += lab
                .server_replies(&rst)
                .iter()
                .filter(|r| flags(r) == TcpFlags::ACK)
                .count();
        }
        most_on_one = most_on_one.max(on_this);
        challenged += on_this;
    }
    println!("challenge ACKs: {challenged} for 2,400 resets on 200 connections, at most {most_on_one} on one");
    assert!(most_on_one <= 10, "the per-connection limit: {most_on_one}");
    assert!(
        (500..1500).contains(&challenged),
        "the stack's ceiling: {challenged}"
    );
    assert_eq!(
        lab.net.stack(lab.server).connection_count(),
        200,
        "no reset outside RCV.NXT closes a connection"
    );
}
