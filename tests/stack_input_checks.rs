//! What the stack ignores before any connection or listener sees it, run in the simulator
//! with frames a real peer sent and one field changed:
//!
//! - TCP from a source address no host may send from — broadcast, the subnet's broadcast,
//!   multicast, 0.0.0.0, loopback — or from our own address is dropped silently and counted
//!   (RFC 1122 §3.2.1.3 and §4.2.3.10); an application may not open a connection to one;
//! - a segment with both SYN and FIN is dropped and counted.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use xdptcp::sim::{Network, NodeId};
use xdptcp::stack::{ConnId, StackError, StackEvent};
use xdptcp::tcp::State;
use xdptcp::wire::checksum::checksum;
use xdptcp::wire::tcp::fill_checksum;
use xdptcp::wire::{ethernet, ipv4, MacAddr, TcpFlags};
use xdptcp::Instant;

const PORT: u16 = 80;
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const IP: usize = ethernet::HEADER_LEN;
const TCP: usize = IP + ipv4::HEADER_LEN;

/// A client (10.0.0.1) and a server (10.0.0.2/24) listening on [`PORT`]; each knows the
/// other's MAC address, so no ARP is in the way.
fn two_nodes() -> (Network, NodeId, NodeId) {
    let mut net = Network::new(1);
    let client = net.add_node(Network::node_config(1)).unwrap();
    let server = net.add_node(Network::node_config(2)).unwrap();
    net.stack(client)
        .add_neighbor(SERVER_IP, MacAddr([2, 0, 0, 0, 0, 2]));
    net.stack(server)
        .add_neighbor(Ipv4Addr::new(10, 0, 0, 1), MacAddr([2, 0, 0, 0, 0, 1]));
    net.stack(server).listen(PORT, 16).unwrap();
    (net, client, server)
}

/// The next frame `node` sends, taken off before it reaches the wire.
fn next_frame(net: &mut Network, node: NodeId) -> Vec<u8> {
    let mut buf = vec![0u8; 1514];
    let now = net.now();
    let n = net
        .stack(node)
        .poll_transmit(now, &mut buf)
        .expect("a frame");
    buf.truncate(n);
    buf
}

/// `frame` after `change` to its bytes, with the IPv4 and TCP checksums mended.
fn rewritten(frame: &[u8], change: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let mut f = frame.to_vec();
    change(&mut f);
    f[IP + 10..IP + 12].fill(0);
    let sum = checksum(&f[IP..TCP]);
    f[IP + 10..IP + 12].copy_from_slice(&sum.to_be_bytes());
    let total = usize::from(u16::from_be_bytes([f[IP + 2], f[IP + 3]]));
    let src = Ipv4Addr::from(<[u8; 4]>::try_from(&f[IP + 12..IP + 16]).unwrap());
    fill_checksum(&mut f[TCP..IP + total], src, SERVER_IP);
    f
}

fn from_source(frame: &[u8], src: Ipv4Addr) -> Vec<u8> {
    rewritten(frame, |f| {
        f[IP + 12..IP + 16].copy_from_slice(&src.octets())
    })
}

fn with_flags(frame: &[u8], flags: TcpFlags) -> Vec<u8> {
    rewritten(frame, |f| f[TCP + 13] = flags.0)
}

/// Hands `frame` to `node` and returns every frame it sends in reply.
fn replies(net: &mut Network, node: NodeId, frame: &[u8]) -> usize {
    let now = net.now();
    let before = net.stack(node).stats().tx_frames;
    net.stack(node).receive(now, frame);
    let mut buf = vec![0u8; 1514];
    while net.stack(node).poll_transmit(now, &mut buf).is_some() {}
    if net.stack(node).poll_deadline().is_some_and(|d| d <= now) {
        net.stack(node).handle_timeout(now);
    }
    (net.stack(node).stats().tx_frames - before) as usize
}

#[test]
fn tcp_from_a_broadcast_multicast_zero_loopback_or_own_source_is_silently_dropped() {
    let (mut net, client, server) = two_nodes();
    let now = net.now();
    net.stack(client)
        .connect_from(now, 40_000, SocketAddrV4::new(SERVER_IP, PORT))
        .unwrap();
    let syn = next_frame(&mut net, client);
    let bogus = [
        Ipv4Addr::BROADCAST,
        Ipv4Addr::new(10, 0, 0, 255), // the broadcast address of 10.0.0.0/24
        Ipv4Addr::new(224, 0, 0, 5),
        Ipv4Addr::new(239, 255, 255, 250),
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::LOCALHOST,
        SERVER_IP,
    ];
    for (i, src) in bogus.into_iter().enumerate() {
        // A SYN would open a connection and draw a SYN-ACK; a bare ACK would draw a reset.
        let ack = with_flags(&syn, TcpFlags::ACK);
        for frame in [from_source(&syn, src), from_source(&ack, src)] {
            assert_eq!(replies(&mut net, server, &frame), 0, "an answer to {src}");
        }
        let stats = net.stack(server).stats().clone();
        assert_eq!(stats.drop_bad_source_address, 2 * (i as u64 + 1), "{src}");
        assert_eq!(stats.rx_tcp_segments, 0, "{src}");
        assert_eq!(net.stack(server).connection_count(), 0, "{src}");
    }
    // The same SYN from the client's own address opens a connection.
    assert_eq!(replies(&mut net, server, &syn), 1, "a SYN-ACK");
    assert_eq!(net.stack(server).connection_count(), 1);
    assert_eq!(net.stack(server).stats().drop_bad_source_address, 14);

    // Nor may the application open a connection to such an address (RFC 1122 §4.2.3.10).
    for remote in [Ipv4Addr::BROADCAST, Ipv4Addr::new(224, 0, 0, 5)] {
        let to = SocketAddrV4::new(remote, PORT);
        assert_eq!(
            net.stack(client).connect(now, to),
            Err(StackError::InvalidRemoteAddress(remote))
        );
    }
}

#[test]
fn a_segment_with_syn_and_fin_is_dropped_before_any_connection_or_listener() {
    let (mut net, client, server) = two_nodes();
    let now = net.now();
    let conn = net
        .stack(client)
        .connect_from(now, 40_000, SocketAddrV4::new(SERVER_IP, PORT))
        .unwrap();
    let syn = next_frame(&mut net, client);
    // To the listener: no connection, no SYN-ACK.
    let syn_fin = with_flags(&syn, TcpFlags::SYN | TcpFlags::FIN);
    assert_eq!(replies(&mut net, server, &syn_fin), 0);
    assert_eq!(net.stack(server).connection_count(), 0);
    assert_eq!(net.stack(server).stats().drop_illegal_flags, 1);

    // To an established connection, in its window: no challenge ACK, no change of state.
    net.stack(server).receive(now, &syn);
    let mut accepted = None::<ConnId>;
    assert!(net.run_until(Instant::from_millis(100), |net| {
        while let Some((c, e)) = net.stack(server).poll_event() {
            if e == (StackEvent::Accepted { listen_port: PORT }) {
                accepted = Some(c);
            }
        }
        accepted.is_some()
    }));
    let server_conn = accepted.unwrap();
    let now = net.now();
    net.stack(client).send(conn, b"data", now).unwrap();
    let data = next_frame(&mut net, client);
    let data_syn_fin = with_flags(&data, TcpFlags::SYN | TcpFlags::FIN | TcpFlags::ACK);
    assert_eq!(replies(&mut net, server, &data_syn_fin), 0);
    assert_eq!(net.stack(server).stats().drop_illegal_flags, 2);
    let state = net.stack(server).connection(server_conn).unwrap().state();
    assert_eq!(state, State::Established);
    // The data itself still arrives.
    assert_eq!(replies(&mut net, server, &data), 0, "the ACK is delayed");
    net.run_until(net.now() + Duration::from_millis(50), |_| false);
    let mut buf = [0u8; 8];
    assert_eq!(net.stack(server).recv(server_conn, &mut buf), Ok(4));
}
