//! `stack_frames`: two stacks in the simulator (`xdptcp::sim`), a client 10.0.0.1 and a
//! server 10.0.0.2 listening on port 80, with one connection established between them
//! (client port 40000), fed records decoded from the input:
//!
//! | opcode (top two bits) | record |
//! |---|---|
//! | `00` / `01` | a frame for the server / the client: bit 5 mends its IPv4 and TCP checksums, bit 4 adds the receiver's RCV.NXT and SND.NXT to the sequence and acknowledgment numbers; then a u16 length and the frame |
//! | `10` | the clock moves on by [`STEPS_MS`]`[low three bits]`, the network delivering and the stacks' timers firing |
//! | `11` | an application call ([`app`]), the low six bits modulo 11 |
//!
//! Checked: nothing panics; every frame either stack receives (from the input or from the
//! other stack) is counted once, under exactly one of the outcomes of [`outcomes`]; every
//! frame a stack sends is a well-formed ARP packet or TCP segment with valid checksums; each
//! connection's sequence numbers and buffers stay within bounds; the number of connections
//! stays within the limit; clock steps end.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use super::input::Input;
use xdptcp::sim::{Network, NodeId};
use xdptcp::stack::{ConnId, Stack, StackEvent, StackStats};
use xdptcp::tcp::State;
use xdptcp::wire::checksum::checksum;
use xdptcp::wire::tcp::fill_checksum;
use xdptcp::wire::{ethernet, ArpPacket, EtherType, EthernetFrame, MacAddr, TcpChecksum, TcpFrame};
use xdptcp::Instant;

pub const CLIENT: NodeId = 0;
pub const SERVER: NodeId = 1;
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const CLIENT_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
pub const SERVER_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);
pub const PORT: u16 = 80;
pub const CLIENT_PORT: u16 = 40_000;
pub const MAX_CONNECTIONS: usize = 16;
pub const BUFFER: usize = 16_384;
const STEPS_MS: [u64; 8] = [0, 1, 10, 40, 200, 1_000, 10_000, 120_000];
/// Most records one input runs, and most network steps one record may take.
const MAX_RECORDS: usize = 1_000;
const MAX_STEPS: usize = 200_000;

/// Bits of a frame record's opcode.
pub const TO_CLIENT: u8 = 0x40;
pub const MEND_CHECKSUMS: u8 = 0x20;
pub const REBASE: u8 = 0x10;
pub const STEP: u8 = 0x80;
pub const APP: u8 = 0xc0;

/// Application calls (the low six bits of an `11` opcode, modulo 11).
pub mod app {
    pub const CLIENT_SEND: u8 = 0;
    pub const SERVER_SEND: u8 = 1;
    pub const SERVER_RECV: u8 = 2;
    pub const CLIENT_RECV: u8 = 3;
    pub const CLIENT_CLOSE: u8 = 4;
    pub const SERVER_CLOSE: u8 = 5;
    pub const SERVER_ABORT: u8 = 6;
    pub const SERVER_RELEASE: u8 = 7;
    pub const CLIENT_CONNECT: u8 = 8;
    pub const CLIENT_SHUTDOWN: u8 = 9;
    pub const RELISTEN: u8 = 10;
}

/// The network, with the connections it holds.
pub struct Sim {
    pub net: Network,
    /// The client's connections; the first is the established one.
    pub client_conns: Vec<ConnId>,
    /// The server's accepted connections; the first is the established one.
    pub server_conns: Vec<ConnId>,
}

fn node_config(n: u8) -> xdptcp::stack::StackConfig {
    let mut config = Network::node_config(n);
    config.max_connections = MAX_CONNECTIONS;
    config.tcp.send_buffer = BUFFER;
    config.tcp.recv_buffer = BUFFER;
    config.tcp.msl = Duration::from_secs(1);
    config
}

/// The starting point of every input: the connection established, nothing in flight.
pub fn setup() -> Sim {
    let mut net = Network::new(1);
    let client = net.add_node(node_config(1)).expect("valid client");
    let server = net.add_node(node_config(2)).expect("valid server");
    assert_eq!((client, server), (CLIENT, SERVER));
    net.stack(CLIENT).add_neighbor(SERVER_IP, SERVER_MAC);
    net.stack(SERVER).add_neighbor(CLIENT_IP, CLIENT_MAC);
    net.stack(SERVER).listen(PORT, 4).expect("listen");
    let now = net.now();
    let conn = net
        .stack(CLIENT)
        .connect_from(now, CLIENT_PORT, SocketAddrV4::new(SERVER_IP, PORT))
        .expect("connect");
    let mut sim = Sim {
        net,
        client_conns: vec![conn],
        server_conns: Vec::new(),
    };
    sim.run_for(Duration::from_millis(10));
    assert_eq!(sim.server_conns.len(), 1, "the handshake completes");
    let server_conn = sim.server_conns[0];
    let state = sim
        .net
        .stack(SERVER)
        .connection(server_conn)
        .map(|c| c.state());
    assert_eq!(state, Ok(State::Established));
    sim
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut sim = setup();
    let mut input = Input::new(data);
    for _ in 0..MAX_RECORDS {
        let Some(code) = input.u8() else {
            break;
        };
        if sim.record(code, &mut input).is_none() {
            break;
        }
        sim.run_for(Duration::ZERO);
        sim.check();
    }
}

/// The counters one received frame ends in, exactly one of which it adds to.
pub fn outcomes(s: &StackStats) -> [(&'static str, u64); 18] {
    [
        ("rx_tcp_segments", s.rx_tcp_segments),
        ("rx_arp", s.rx_arp),
        ("rx_icmp", s.rx_icmp),
        ("drop_bad_icmp", s.drop_bad_icmp),
        ("drop_bad_icmp_checksum", s.drop_bad_icmp_checksum),
        ("drop_truncated", s.drop_truncated),
        ("drop_not_for_us", s.drop_not_for_us),
        ("drop_unsupported_ethertype", s.drop_unsupported_ethertype),
        ("drop_unsupported_protocol", s.drop_unsupported_protocol),
        ("drop_bad_ip_header", s.drop_bad_ip_header),
        ("drop_bad_ip_checksum", s.drop_bad_ip_checksum),
        ("drop_ip_fragment", s.drop_ip_fragment),
        ("drop_bad_tcp_header", s.drop_bad_tcp_header),
        ("drop_bad_tcp_checksum", s.drop_bad_tcp_checksum),
        ("drop_bad_tcp_option", s.drop_bad_tcp_option),
        ("drop_bad_source_address", s.drop_bad_source_address),
        ("drop_illegal_flags", s.drop_illegal_flags),
        ("drop_bad_arp", s.drop_bad_arp),
    ]
}

/// Hands `frame` to `stack` and returns the one outcome counter it was counted under.
pub fn receive_counted(stack: &mut Stack, now: Instant, frame: &[u8]) -> &'static str {
    let before = stack.stats().clone();
    stack.receive(now, frame);
    let after = stack.stats().clone();
    assert_eq!(after.rx_frames, before.rx_frames + 1);
    let moved: Vec<_> = outcomes(&before)
        .iter()
        .zip(outcomes(&after).iter())
        .filter(|(b, a)| a.1 != b.1)
        .map(|(b, a)| (a.0, a.1 - b.1))
        .collect();
    assert!(
        matches!(moved.as_slice(), [(_, 1)]),
        "a frame counted under {moved:?}: {}",
        xdptcp::sim::describe_frame(frame)
    );
    // What happens to a segment after it is taken is counted within rx_tcp_segments.
    let later =
        |s: &StackStats| s.drop_no_connection + s.drop_listen_overflow + s.drop_connection_limit;
    assert!(later(&after) - later(&before) <= after.rx_tcp_segments - before.rx_tcp_segments);
    // And what an ICMP message taken in became, within rx_icmp.
    let icmp_later = |s: &StackStats| {
        s.drop_icmp_unhandled
            + s.drop_icmp_no_connection
            + s.drop_icmp_out_of_window
            + s.drop_icmp_mtu_not_lower
            + s.path_mtu_lowered
            + s.icmp_soft_errors
            + s.icmp_opens_aborted
    };
    assert!(icmp_later(&after) - icmp_later(&before) <= after.rx_icmp - before.rx_icmp);
    moved[0].0
}

/// A frame one of the stacks sent: ARP or TCP, well-formed, checksums right.
fn check_sent(frame: &[u8]) {
    let eth = EthernetFrame::new_checked(frame).expect("a whole Ethernet header");
    match eth.ethertype() {
        EtherType::Arp => {
            ArpPacket::new_checked(eth.payload()).expect("well-formed ARP");
        }
        _ => {
            let parsed = TcpFrame::parse(frame).expect("a well-formed TCP frame");
            assert_eq!(parsed.tcp_checksum(), TcpChecksum::Valid);
            xdptcp::wire::TcpRepr::parse(parsed.tcp()).expect("options parse");
            assert!(frame.len() <= ethernet::HEADER_LEN + 1500);
        }
    }
}

impl Sim {
    fn record(&mut self, code: u8, input: &mut Input<'_>) -> Option<()> {
        match code & 0xc0 {
            0x00 | TO_CLIENT => {
                let len = usize::from(input.u16()?);
                let mut frame = input.bytes(len).to_vec();
                let (node, conn) = if code & TO_CLIENT != 0 {
                    (CLIENT, self.client_conns[0])
                } else {
                    (SERVER, self.server_conns[0])
                };
                if code & REBASE != 0 {
                    if let Ok(c) = self.net.stack(node).connection(conn) {
                        let (rcv_nxt, snd_nxt) = (c.rcv_nxt().0, c.snd_nxt().0);
                        rebase(&mut frame, rcv_nxt, snd_nxt);
                    }
                }
                if code & MEND_CHECKSUMS != 0 {
                    mend_checksums(&mut frame);
                }
                let now = self.net.now();
                receive_counted(self.net.stack(node), now, &frame);
            }
            STEP => self.run_for(Duration::from_millis(STEPS_MS[usize::from(code & 7)])),
            _ => self.app_call(code & 0x3f, input)?,
        }
        Some(())
    }

    fn app_call(&mut self, call: u8, input: &mut Input<'_>) -> Option<()> {
        let now = self.net.now();
        let (client, server) = (self.client_conns[0], self.server_conns[0]);
        let mut buf = vec![0u8; 2 * BUFFER];
        match call % 11 {
            app::CLIENT_SEND | app::SERVER_SEND => {
                let n = usize::from(input.u16()?) % (2 * BUFFER);
                let (node, conn) = if call % 11 == app::CLIENT_SEND {
                    (CLIENT, client)
                } else {
                    (SERVER, server)
                };
                let data: Vec<u8> = (0..n).map(|i| i as u8).collect();
                let _ = self.net.stack(node).send(conn, &data, now);
            }
            app::SERVER_RECV => {
                let _ = self.net.stack(SERVER).recv(server, &mut buf);
            }
            app::CLIENT_RECV => {
                let _ = self.net.stack(CLIENT).recv(client, &mut buf);
            }
            app::CLIENT_CLOSE => {
                let _ = self.net.stack(CLIENT).close(client);
            }
            app::SERVER_CLOSE => {
                let _ = self.net.stack(SERVER).close(server);
            }
            app::SERVER_ABORT => {
                let _ = self.net.stack(SERVER).abort(server);
            }
            app::SERVER_RELEASE => self.net.stack(SERVER).release(server, now),
            app::CLIENT_CONNECT => {
                if self.client_conns.len() < 2 * MAX_CONNECTIONS {
                    let to = SocketAddrV4::new(SERVER_IP, PORT);
                    if let Ok(id) = self.net.stack(CLIENT).connect(now, to) {
                        self.client_conns.push(id);
                    }
                }
            }
            app::CLIENT_SHUTDOWN => {
                let _ = self.net.stack(CLIENT).shutdown_write(client);
            }
            _ => {
                let server = self.net.stack(SERVER);
                server.unlisten(PORT);
                server.listen(PORT, 4).expect("listen again");
            }
        }
        Some(())
    }

    /// Runs the network for `duration` (zero: what is due now), checking every delivery.
    pub fn run_for(&mut self, duration: Duration) {
        let limit = self.net.now() + duration;
        let mut steps = 0;
        while self.net.step_with(limit, &mut |_, stack, now, frame| {
            check_sent(frame);
            receive_counted(stack, now, frame);
        }) {
            steps += 1;
            assert!(steps < MAX_STEPS, "the network never quietens");
            self.take_events();
        }
        self.take_events();
    }

    fn take_events(&mut self) {
        while let Some((id, event)) = self.net.stack(SERVER).poll_event() {
            if matches!(event, StackEvent::Accepted { .. }) && self.server_conns.len() < 64 {
                self.server_conns.push(id);
            }
        }
        while self.net.stack(CLIENT).poll_event().is_some() {}
    }

    /// The invariants of every connection either stack still holds for the application.
    fn check(&mut self) {
        for (node, ids) in [(CLIENT, &self.client_conns), (SERVER, &self.server_conns)] {
            let stack = self.net.stack(node);
            assert!(stack.connection_count() <= MAX_CONNECTIONS);
            for &id in ids.iter() {
                let Ok(c) = stack.connection(id) else {
                    continue;
                };
                assert!(c.snd_una() <= c.snd_nxt() && c.snd_nxt() <= c.snd_max());
                assert!(c.send_queue_len() <= BUFFER && c.recv_available() <= BUFFER);
                let (a, b) = c.window_scales();
                assert!(a <= 14 && b <= 14);
            }
        }
    }
}

/// Adds `rcv_nxt` and `snd_nxt` to the TCP sequence and acknowledgment numbers of a frame
/// whose IPv4 header length points at a TCP header inside it.
pub fn rebase(frame: &mut [u8], rcv_nxt: u32, snd_nxt: u32) {
    let Some(tcp) = tcp_offset(frame) else {
        return;
    };
    if frame.len() < tcp + 12 {
        return;
    }
    for (at, add) in [(tcp + 4, rcv_nxt), (tcp + 8, snd_nxt)] {
        let v = u32::from_be_bytes([frame[at], frame[at + 1], frame[at + 2], frame[at + 3]]);
        frame[at..at + 4].copy_from_slice(&v.wrapping_add(add).to_be_bytes());
    }
}

fn tcp_offset(frame: &[u8]) -> Option<usize> {
    let ip = ethernet::HEADER_LEN;
    let ihl = usize::from(*frame.get(ip)? & 0x0f) * 4;
    (ihl >= 20 && frame.len() >= ip + ihl).then_some(ip + ihl)
}

/// Sets the IPv4 header checksum, and the TCP checksum when the total length covers a TCP
/// header inside the frame: what a sender would have computed for these bytes.
pub fn mend_checksums(frame: &mut [u8]) {
    let ip = ethernet::HEADER_LEN;
    let Some(tcp) = tcp_offset(frame) else {
        return;
    };
    frame[ip + 10..ip + 12].fill(0);
    let sum = checksum(&frame[ip..tcp]);
    frame[ip + 10..ip + 12].copy_from_slice(&sum.to_be_bytes());
    let total = usize::from(u16::from_be_bytes([frame[ip + 2], frame[ip + 3]]));
    let end = ip + total;
    if frame[ip + 9] == 6 && end >= tcp + 20 && end <= frame.len() {
        let addr =
            |at: usize| Ipv4Addr::new(frame[at], frame[at + 1], frame[at + 2], frame[at + 3]);
        let (src, dst) = (addr(ip + 12), addr(ip + 16));
        fill_checksum(&mut frame[tcp..end], src, dst);
    }
}
