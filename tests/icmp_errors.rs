//! ICMP errors about our TCP segments, in the simulator: what a router (or a forger) sends is
//! built from the frames the stack sent and injected.
//!
//! - a path MTU smaller than the link's: a "router" on the way to the peer drops every
//!   frame over 1280 bytes and answers with "fragmentation needed" (RFC 1191); the sender
//!   lowers its MSS, sends what was lost again at once in the smaller size without a
//!   timeout or a congestion response, and the transfer completes byte for byte, with SACK
//!   and without;
//! - RFC 5927 §4.1: an error quoting a sequence number outside SND.UNA..SND.NXT changes
//!   nothing and is counted; so does one reporting an MTU that would not lower ours (RFC
//!   1191 §3); a report below 576 bytes is raised to it, a report of 0 steps down the
//!   plateau table (§5);
//! - unreachable errors (RFC 1122 §4.2.3.9, RFC 5461): a port unreachable never aborts an
//!   established connection and is reported if the connection later times out; in SYN-SENT
//!   one quoting our SYN ends the open, and none draws a reset;
//! - malformed ICMP (truncated, bad checksum, a quote too short) and ICMP the stack does not
//!   act on are counted and dropped.
//!
//! Run: `cargo test --test icmp_errors`.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use xdptcp::sim::{LinkConfig, Network, NodeId};
use xdptcp::stack::{ConnId, StackEvent, StackStats};
use xdptcp::tcp::{ConnectionError, State, UnreachableReason, MIN_PATH_MTU};
use xdptcp::wire::checksum::checksum;
use xdptcp::wire::{
    ethernet, ipv4, EtherType, EthernetFrame, EthernetRepr, Ipv4Packet, Ipv4Repr, MacAddr,
    TcpFrame, Unreachable, UnreachableRepr,
};
use xdptcp::Instant;

const PORT: u16 = 5001;
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// The router that reports the small link (any address a host may have).
const ROUTER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 254);
const IP: usize = ethernet::HEADER_LEN;
/// IPv4 + TCP headers and the timestamps option every segment carries.
const HEADERS: u16 = 20 + 20 + 12;

/// The ICMP error `reason` (next-hop MTU `mtu`) a router sends about `frame`, one of ours:
/// to its sender's MAC and address, quoting its IP header and the first 8 bytes after it
/// (RFC 792). `quote` bytes past the IP header are quoted (8 unless a test wants fewer).
fn icmp_about(frame: &[u8], reason: Unreachable, mtu: u16, quote: usize) -> Vec<u8> {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    let ip = Ipv4Packet::new_checked(&frame[IP..]).unwrap();
    let quoted = &frame[IP..IP + ip.header_len() + quote];
    let icmp_len = UnreachableRepr::message_len(quoted.len());
    let mut out = vec![0u8; IP + ipv4::HEADER_LEN + icmp_len];
    EthernetRepr {
        src: eth.dst(),
        dst: eth.src(),
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut out);
    Ipv4Repr {
        src: ROUTER_IP,
        dst: ip.src(),
        protocol: ipv4::PROTOCOL_ICMP,
        payload_len: icmp_len as u16,
        ttl: 64,
        ident: 1,
    }
    .emit(&mut out[IP..]);
    UnreachableRepr {
        reason,
        next_hop_mtu: mtu,
    }
    .emit(quoted, &mut out[IP + ipv4::HEADER_LEN..]);
    out
}

/// "Fragmentation needed" with next-hop MTU `mtu` about `frame`.
fn frag_needed(frame: &[u8], mtu: u16) -> Vec<u8> {
    icmp_about(frame, Unreachable::FragmentationNeeded, mtu, 8)
}

/// `frame` with the TCP sequence number `seq` (only the quote is read: no TCP checksum).
fn with_seq(frame: &[u8], seq: u32) -> Vec<u8> {
    let ip = Ipv4Packet::new_checked(&frame[IP..]).unwrap();
    let at = IP + ip.header_len() + 4;
    let mut f = frame.to_vec();
    f[at..at + 4].copy_from_slice(&seq.to_be_bytes());
    f
}

fn ip_total_len(frame: &[u8]) -> Option<usize> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EtherType::Ipv4 {
        return None;
    }
    Some(Ipv4Packet::new_checked(&frame[IP..]).ok()?.total_len())
}

/// A client (10.0.0.1, the sender under test) and a server (10.0.0.2) listening on PORT,
/// both on 1500-byte links, with SACK or not.
struct Lab {
    net: Network,
    client: NodeId,
    server: NodeId,
    conn: ConnId,
    server_conn: Option<ConnId>,
}

impl Lab {
    fn new(sack: bool) -> Lab {
        let mut net = Network::new(7);
        net.set_default_link(LinkConfig::ideal(Duration::from_millis(1)));
        let mut nodes = [Network::node_config(1), Network::node_config(2)];
        for config in &mut nodes {
            config.tcp.sack = sack;
            config.tcp.send_buffer = 256 * 1024;
            config.tcp.recv_buffer = 256 * 1024;
        }
        let [client_config, server_config] = nodes;
        let client = net.add_node(client_config).unwrap();
        let server = net.add_node(server_config).unwrap();
        net.stack(client)
            .add_neighbor(SERVER_IP, MacAddr([2, 0, 0, 0, 0, 2]));
        net.stack(server)
            .add_neighbor(CLIENT_IP, MacAddr([2, 0, 0, 0, 0, 1]));
        net.stack(server).listen(PORT, 16).unwrap();
        let conn = net
            .stack(client)
            .connect(Instant::ZERO, SocketAddrV4::new(SERVER_IP, PORT))
            .unwrap();
        Lab {
            net,
            client,
            server,
            conn,
            server_conn: None,
        }
    }

    /// Runs until the handshake is done both ways.
    fn established(sack: bool) -> Lab {
        let mut lab = Lab::new(sack);
        let limit = Instant::from_millis(1000);
        let (client, server, conn) = (lab.client, lab.server, lab.conn);
        let mut server_conn = None;
        let done = lab.net.run_until(limit, |net| {
            while let Some((id, event)) = net.stack(server).poll_event() {
                if let StackEvent::Accepted { .. } = event {
                    server_conn = Some(id);
                }
            }
            while net.stack(client).poll_event().is_some() {}
            server_conn.is_some()
                && net.stack(client).connection(conn).unwrap().state() == State::Established
        });
        assert!(done, "no handshake");
        lab.server_conn = server_conn;
        lab
    }

    fn client_stats(&mut self) -> StackStats {
        self.net.stack(self.client).stats().clone()
    }

    fn mss(&mut self) -> u16 {
        self.net
            .stack(self.client)
            .connection(self.conn)
            .unwrap()
            .send_mss()
    }

    /// Queues `bytes` on the client's connection and takes the frames it sends now off the
    /// wire (they never reach the server).
    fn frames_for(&mut self, bytes: usize) -> Vec<Vec<u8>> {
        let now = self.net.now();
        let data = vec![0x42u8; bytes];
        let taken = self
            .net
            .stack(self.client)
            .send(self.conn, &data, now)
            .unwrap();
        assert_eq!(taken, bytes);
        self.take_client_frames()
    }

    fn take_client_frames(&mut self) -> Vec<Vec<u8>> {
        let now = self.net.now();
        let mut frames = Vec::new();
        let mut buf = vec![0u8; 1514];
        while let Some(n) = self.net.stack(self.client).poll_transmit(now, &mut buf) {
            frames.push(buf[..n].to_vec());
        }
        frames
    }

    /// Hands `frame` to the client at once, and returns what it sends in answer.
    fn hand_client(&mut self, frame: &[u8]) -> Vec<Vec<u8>> {
        let now = self.net.now();
        self.net.stack(self.client).receive(now, frame);
        self.take_client_frames()
    }
}

fn stream(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 1000) as u8).collect()
}

/// Sends `data` from the client to the server through a path whose link toward the server
/// carries at most `path_mtu` bytes: a larger frame is dropped there and the router answers
/// with "fragmentation needed" quoting it. Returns what the server read, and the largest
/// IP datagram the server received.
fn transfer_through_small_link(lab: &mut Lab, data: &[u8], path_mtu: u16) -> (Vec<u8>, usize) {
    let (client, server, conn) = (lab.client, lab.server, lab.conn);
    let server_conn = lab.server_conn.unwrap();
    let mut sent = 0;
    let mut received = Vec::new();
    let mut largest = 0;
    let mut errors: Vec<Vec<u8>> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let limit = Instant::from_millis(60_000);
    loop {
        let now = lab.net.now();
        if sent < data.len() {
            if let Ok(n) = lab.net.stack(client).send(conn, &data[sent..], now) {
                sent += n;
            }
        }
        while lab.net.stack(client).poll_event().is_some() {}
        while lab.net.stack(server).poll_event().is_some() {}
        while let Ok(n) = lab.net.stack(server).recv(server_conn, &mut buf) {
            if n == 0 {
                break;
            }
            received.extend_from_slice(&buf[..n]);
        }
        if received.len() >= data.len() {
            return (received, largest);
        }
        let mut deliver = |to: NodeId, stack: &mut xdptcp::stack::Stack, now, frame: &[u8]| {
            let len = ip_total_len(frame);
            if to == server && len.is_some_and(|len| len > usize::from(path_mtu)) {
                errors.push(frag_needed(frame, path_mtu));
                return;
            }
            if to == server {
                largest = largest.max(len.unwrap_or(0));
            }
            stack.receive(now, frame);
        };
        let stepped = lab.net.step_with(limit, &mut deliver);
        for error in errors.drain(..) {
            lab.net.inject(server, &error);
        }
        assert!(
            stepped || lab.net.frames_in_flight() > 0,
            "the transfer stalled at {} of {} bytes",
            received.len(),
            data.len()
        );
    }
}

fn path_mtu_transfer(sack: bool) {
    let mut lab = Lab::established(sack);
    assert_eq!(lab.mss(), 1500 - HEADERS);
    let ssthresh = {
        let c = lab.net.stack(lab.client).connection(lab.conn).unwrap();
        c.slow_start_threshold()
    };
    let data = stream(2 << 20);
    let (received, largest) = transfer_through_small_link(&mut lab, &data, 1280);
    assert!(
        received == data,
        "the bytes received differ from those sent"
    );
    assert_eq!(largest, 1280, "full-sized segments of the new size");
    let stats = lab.client_stats();
    assert_eq!(stats.path_mtu_lowered, 1, "sack {sack}");
    assert!(
        stats.drop_icmp_mtu_not_lower > 0,
        "the errors about the rest of the first flight lower nothing further"
    );
    assert_eq!(stats.drop_icmp_out_of_window, 0);
    assert_eq!(lab.mss(), 1280 - HEADERS);
    let c = lab.net.stack(lab.client).connection(lab.conn).unwrap();
    let tcp = *c.stats();
    // Sent again at once: no timeout, no fast retransmit, no congestion response.
    assert_eq!(tcp.timeouts, 0, "sack {sack}");
    assert_eq!(tcp.fast_retransmits, 0, "sack {sack}");
    assert!(tcp.retransmitted_segments > 0);
    assert_eq!(c.slow_start_threshold(), ssthresh, "sack {sack}");
    assert_eq!(c.state(), State::Established);
    assert_eq!(c.soft_error(), None);
}

#[test]
fn fragmentation_needed_lowers_the_mss_and_the_transfer_completes_with_sack() {
    path_mtu_transfer(true);
}

#[test]
fn fragmentation_needed_lowers_the_mss_and_the_transfer_completes_without_sack() {
    path_mtu_transfer(false);
}

#[test]
fn an_error_quoting_a_sequence_number_not_in_flight_changes_nothing() {
    let mut lab = Lab::established(true);
    let frames = lab.frames_for(3 * 1448);
    assert_eq!(frames.len(), 3);
    let c = lab.net.stack(lab.client).connection(lab.conn).unwrap();
    let (una, max) = (c.snd_una().0, c.snd_max().0);
    assert_eq!(max - una, 3 * 1448);
    // RFC 5927 §4.1: SND.UNA <= SEG.SEQ < SND.NXT, and nothing else.
    for seq in [
        una.wrapping_sub(1),
        una.wrapping_sub(100_000),
        max,
        max.wrapping_add(1),
        max.wrapping_add(1_000_000),
        una ^ 0x8000_0000,
    ] {
        let forged = frag_needed(&with_seq(&frames[0], seq), 576);
        assert!(
            lab.hand_client(&forged).is_empty(),
            "an answer to seq {seq}"
        );
    }
    let stats = lab.client_stats();
    assert_eq!(stats.drop_icmp_out_of_window, 6);
    assert_eq!(stats.rx_icmp, 6);
    assert_eq!(stats.path_mtu_lowered, 0);
    assert_eq!(stats.rst_sent, 0);
    assert_eq!(lab.mss(), 1500 - HEADERS);
    // The same error about the last byte in flight is acted on.
    let valid = frag_needed(&with_seq(&frames[0], max.wrapping_sub(1)), 576);
    let resent = lab.hand_client(&valid);
    assert_eq!(lab.client_stats().path_mtu_lowered, 1);
    assert_eq!(lab.mss(), MIN_PATH_MTU - HEADERS);
    assert!(!resent.is_empty());
}

#[test]
fn a_reported_mtu_that_would_not_lower_ours_is_ignored() {
    let mut lab = Lab::established(true);
    let frames = lab.frames_for(1448);
    let before = lab.net.stack(lab.client).stats().tx_frames;
    // Larger than the link, equal to it, and one the quoted 1500-byte datagram fits.
    for mtu in [9000, 65_535, 1500, 1501] {
        assert!(
            lab.hand_client(&frag_needed(&frames[0], mtu)).is_empty(),
            "{mtu}"
        );
    }
    let stats = lab.client_stats();
    assert_eq!(stats.drop_icmp_mtu_not_lower, 4);
    assert_eq!(stats.path_mtu_lowered, 0);
    assert_eq!(stats.tx_frames, before);
    assert_eq!(lab.mss(), 1500 - HEADERS);
    // Lowered once, it is not raised again by a later report.
    lab.hand_client(&frag_needed(&frames[0], 1400));
    assert_eq!(lab.mss(), 1400 - HEADERS);
    lab.hand_client(&frag_needed(&frames[0], 1450));
    assert_eq!(lab.mss(), 1400 - HEADERS);
    let stats = lab.client_stats();
    assert_eq!(
        (stats.path_mtu_lowered, stats.drop_icmp_mtu_not_lower),
        (1, 5)
    );
}

#[test]
fn a_tiny_mtu_is_raised_to_the_floor_and_a_missing_one_steps_down_the_plateaus() {
    let mut lab = Lab::established(true);
    let frames = lab.frames_for(1448);
    for mtu in [68, 300, 575] {
        lab.hand_client(&frag_needed(&frames[0], mtu));
        assert_eq!(lab.mss(), MIN_PATH_MTU - HEADERS, "{mtu}");
    }
    assert_eq!(lab.client_stats().path_mtu_lowered, 1);

    let mut lab = Lab::established(true);
    let frames = lab.frames_for(1448);
    // RFC 1191 §5: no MTU said; the quoted datagram was 1500 bytes, the plateau below 1492.
    let resent = lab.hand_client(&frag_needed(&frames[0], 0));
    assert_eq!(lab.mss(), 1492 - HEADERS);
    let sizes: Vec<_> = resent.iter().filter_map(|f| ip_total_len(f)).collect();
    assert_eq!(sizes, [1492, 1500 - 1492 + 52], "the segment again, in two");
}

#[test]
fn a_port_unreachable_does_not_abort_an_established_connection() {
    let mut lab = Lab::established(true);
    let frames = lab.frames_for(1000);
    for reason in [Unreachable::Port, Unreachable::Protocol, Unreachable::Host] {
        let error = icmp_about(&frames[0], reason, 0, 8);
        assert!(
            lab.hand_client(&error).is_empty(),
            "{reason:?}: no reset, nothing"
        );
    }
    let stats = lab.client_stats();
    assert_eq!((stats.icmp_soft_errors, stats.rst_sent), (3, 0));
    let c = lab.net.stack(lab.client).connection(lab.conn).unwrap();
    assert_eq!(c.state(), State::Established);
    assert_eq!(c.soft_error(), Some(UnreachableReason::Host));
    // The data still arrives (the frame taken off is sent again on the timeout).
    let data = stream(20_000);
    let (received, _) = transfer_through_small_link(&mut lab, &data, 1500);
    assert_eq!(received.len(), 1000 + data.len());
    assert!(received[1000..] == data[..]);
    // Acknowledged data since: the soft error is no longer reported.
    let c = lab.net.stack(lab.client).connection(lab.conn).unwrap();
    assert_eq!(c.soft_error(), None);
}

#[test]
fn a_soft_error_is_what_a_connection_that_times_out_reports() {
    let mut lab = Lab::established(true);
    let frames = lab.frames_for(1000);
    lab.hand_client(&icmp_about(&frames[0], Unreachable::Host, 0, 8));
    // The peer is gone: nothing it is sent arrives any more.
    let (client, server, conn) = (lab.client, lab.server, lab.conn);
    lab.net.set_link(
        client,
        server,
        LinkConfig {
            loss: 1.0,
            ..LinkConfig::ideal(Duration::from_millis(1))
        },
    );
    let mut error = None;
    let done = lab.net.run_until(Instant::from_millis(3_600_000), |net| {
        while let Some((id, event)) = net.stack(client).poll_event() {
            if let (true, StackEvent::Closed { error: e }) = (id == conn, event) {
                error = Some(e);
            }
        }
        error.is_some()
    });
    assert!(done, "the connection did not time out");
    assert_eq!(
        error.unwrap(),
        Some(ConnectionError::Unreachable(UnreachableReason::Host))
    );
}

#[test]
fn a_hard_error_quoting_our_syn_ends_the_open_without_a_reset() {
    for (reason, seq_offset, aborted) in [
        (Unreachable::Port, 0, true),
        (Unreachable::Protocol, 0, true),
        // A soft error leaves the open to its retries.
        (Unreachable::Host, 0, false),
        // A hard error quoting any other sequence number than our ISS is not about our SYN.
        (Unreachable::Port, 1, false),
    ] {
        let mut lab = Lab::new(true);
        let syn = lab.take_client_frames();
        assert_eq!(syn.len(), 1);
        let iss = lab
            .net
            .stack(lab.client)
            .connection(lab.conn)
            .unwrap()
            .iss();
        let quote = with_seq(&syn[0], iss.0.wrapping_add(seq_offset));
        let answer = lab.hand_client(&icmp_about(&quote, reason, 0, 8));
        assert!(answer.is_empty(), "{reason:?}: no reset");
        let mut closed = None;
        while let Some((_, event)) = lab.net.stack(lab.client).poll_event() {
            if let StackEvent::Closed { error } = event {
                closed = Some(error);
            }
        }
        let stats = lab.client_stats();
        if aborted {
            assert_eq!(
                closed,
                Some(Some(ConnectionError::Unreachable(match reason {
                    Unreachable::Port => UnreachableReason::Port,
                    _ => UnreachableReason::Protocol,
                })))
            );
            assert_eq!(stats.icmp_opens_aborted, 1);
        } else {
            assert_eq!(closed, None, "{reason:?} {seq_offset}");
            let c = lab.net.stack(lab.client).connection(lab.conn).unwrap();
            assert_eq!(c.state(), State::SynSent);
        }
        assert_eq!(stats.rst_sent, 0);
    }
}

#[test]
fn malformed_and_unhandled_icmp_is_counted_and_dropped() {
    let mut lab = Lab::established(true);
    let frames = lab.frames_for(1448);
    let good = frag_needed(&frames[0], 576);
    let icmp_at = IP + ipv4::HEADER_LEN;

    // Shorter than the 8-byte ICMP header (the IPv4 total length says so).
    let mut truncated = good[..icmp_at + 6].to_vec();
    set_total_len(&mut truncated);
    // A flipped bit under the ICMP checksum.
    let mut bad_checksum = good.clone();
    bad_checksum[icmp_at + 30] ^= 0x04;
    // The IP header and only 4 bytes of the TCP header quoted: no sequence number.
    let short_quote = icmp_about(&frames[0], Unreachable::FragmentationNeeded, 576, 4);
    // An echo request, and an error about UDP from us.
    let mut echo = good.clone();
    echo[icmp_at] = 8;
    fix_icmp_checksum(&mut echo);
    let mut udp = good.clone();
    udp[icmp_at + 8 + 9] = 17;
    fix_icmp_checksum(&mut udp);
    // An error about a 4-tuple we have no connection on.
    let mut other_port = good.clone();
    other_port[icmp_at + 8 + 20..icmp_at + 8 + 22].copy_from_slice(&40_001u16.to_be_bytes());
    fix_icmp_checksum(&mut other_port);

    for frame in [
        &truncated,
        &bad_checksum,
        &short_quote,
        &echo,
        &udp,
        &other_port,
    ] {
        assert!(lab.hand_client(frame).is_empty());
    }
    let stats = lab.client_stats();
    assert_eq!(stats.drop_bad_icmp, 2, "truncated, short quote");
    assert_eq!(stats.drop_bad_icmp_checksum, 1);
    assert_eq!(stats.drop_icmp_unhandled, 2, "echo, UDP");
    assert_eq!(stats.drop_icmp_no_connection, 1);
    assert_eq!(
        stats.rx_icmp, 3,
        "each counted once: taken in, or malformed"
    );
    assert_eq!(stats.path_mtu_lowered, 0);
    assert_eq!(stats.malformed(), 3);
    assert_eq!(lab.mss(), 1500 - HEADERS);

    // Every truncation of a valid error, and any byte of it changed, is taken or dropped
    // without a panic, and never draws a reset.
    for len in 0..good.len() {
        let mut cut = good[..len].to_vec();
        if len > IP + ipv4::HEADER_LEN {
            set_total_len(&mut cut);
        }
        lab.hand_client(&cut);
    }
    for at in IP..good.len() {
        for value in [0u8, 0x45, 0xff] {
            let mut changed = good.clone();
            changed[at] = value;
            lab.hand_client(&changed);
        }
    }
    assert_eq!(lab.client_stats().rst_sent, 0);
    assert!(TcpFrame::parse(&good).is_err(), "ICMP is not TCP");
}

/// Sets the IPv4 total length to the frame's length and mends the header checksum.
fn set_total_len(frame: &mut [u8]) {
    let total = (frame.len() - IP) as u16;
    frame[IP + 2..IP + 4].copy_from_slice(&total.to_be_bytes());
    frame[IP + 10..IP + 12].fill(0);
    let sum = checksum(&frame[IP..IP + ipv4::HEADER_LEN]);
    frame[IP + 10..IP + 12].copy_from_slice(&sum.to_be_bytes());
}

fn fix_icmp_checksum(frame: &mut [u8]) {
    let at = IP + ipv4::HEADER_LEN;
    frame[at + 2..at + 4].fill(0);
    let sum = checksum(&frame[at..]);
    frame[at + 2..at + 4].copy_from_slice(&sum.to_be_bytes());
}
