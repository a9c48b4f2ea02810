//! Acknowledgments of segments that arrive in one batch (as an AF_XDP worker takes up to 64
//! frames before it sends anything): the receiver still acknowledges at least every second
//! full-sized segment (RFC 5681 §4.2), each ACK its own frame with its own acknowledgment
//! number, and reports each duplicate in its own D-SACK block (RFC 2883 §4) — where one ACK
//! per batch used to cover them all, so that a single lost ACK stalled the sender.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use xdptcp::sim::{Network, NodeId};
use xdptcp::stack::{ConnId, StackEvent};
use xdptcp::wire::{MacAddr, TcpFlags, TcpFrame, TcpRepr};

const PORT: u16 = 80;
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// A connection from node 1 to node 2, established, with nothing in flight.
fn connected() -> (Network, NodeId, ConnId, NodeId) {
    let mut net = Network::new(5);
    let client = net.add_node(Network::node_config(1)).unwrap();
    let server = net.add_node(Network::node_config(2)).unwrap();
    net.stack(client)
        .add_neighbor(SERVER_IP, MacAddr([2, 0, 0, 0, 0, 2]));
    net.stack(server)
        .add_neighbor(Ipv4Addr::new(10, 0, 0, 1), MacAddr([2, 0, 0, 0, 0, 1]));
    net.stack(server).listen(PORT, 16).unwrap();
    let now = net.now();
    let conn = net
        .stack(client)
        .connect_from(now, 40_000, SocketAddrV4::new(SERVER_IP, PORT))
        .unwrap();
    let limit = now + Duration::from_secs(5);
    let mut accepted = false;
    assert!(net.run_until(limit, |net| {
        while let Some((_, e)) = net.stack(server).poll_event() {
            accepted |= matches!(e, StackEvent::Accepted { .. });
        }
        accepted
    }));
    let idle = net.now() + Duration::from_millis(100);
    net.run_until(idle, |_| false);
    (net, client, conn, server)
}

/// Every frame `node` has to send now.
fn frames_out(net: &mut Network, node: NodeId) -> Vec<Vec<u8>> {
    let now = net.now();
    let mut frames = Vec::new();
    let mut buf = vec![0u8; 1514];
    while let Some(n) = net.stack(node).poll_transmit(now, &mut buf) {
        frames.push(buf[..n].to_vec());
    }
    frames
}

/// (ACK number, D-SACK block if any) of each pure ACK among `frames`.
fn acks(frames: &[Vec<u8>]) -> Vec<(u32, Option<(u32, u32)>)> {
    frames
        .iter()
        .filter_map(|f| {
            let parsed = TcpFrame::parse(f).ok()?;
            let repr = TcpRepr::parse(parsed.tcp()).ok()?;
            // The ACK bit is `repr.ack`; a pure ACK has no other flag and no data.
            let pure = parsed.payload().is_empty() && repr.flags == TcpFlags::NONE;
            let ack = repr.ack?.0;
            let first = repr.options.sack_blocks.as_slice().first().copied();
            let dsack = first.filter(|&(left, _)| left < ack);
            pure.then_some((ack, dsack))
        })
        .collect()
}

fn seq_of(frame: &[u8]) -> u32 {
    let parsed = TcpFrame::parse(frame).unwrap();
    TcpRepr::parse(parsed.tcp()).unwrap().seq.0
}

#[test]
fn a_batch_of_ten_segments_draws_five_acks() {
    let (mut net, client, conn, server) = connected();
    let now = net.now();
    let data = vec![7u8; 10 * 1448];
    assert_eq!(net.stack(client).send(conn, &data, now), Ok(data.len()));
    let segments = frames_out(&mut net, client);
    assert_eq!(segments.len(), 10, "the initial window, in one burst");
    // The server takes the whole burst before it sends anything.
    for frame in &segments {
        net.stack(server).receive(now, frame);
    }
    let replies = acks(&frames_out(&mut net, server));
    let first = seq_of(&segments[0]);
    let expected: Vec<(u32, Option<(u32, u32)>)> = (1..=5)
        .map(|i| (first.wrapping_add(i * 2 * 1448), None))
        .collect();
    assert_eq!(replies, expected, "an ACK every second segment, in order");
}

#[test]
fn each_duplicate_in_a_batch_gets_its_own_d_sack() {
    let (mut net, client, conn, server) = connected();
    let now = net.now();
    let data = vec![9u8; 4 * 1448];
    assert_eq!(net.stack(client).send(conn, &data, now), Ok(data.len()));
    let segments = frames_out(&mut net, client);
    assert_eq!(segments.len(), 4);
    for frame in &segments {
        net.stack(server).receive(now, frame);
    }
    frames_out(&mut net, server);
    // Two old segments arrive again in one batch, each between two new ones.
    let more = vec![9u8; 2 * 1448];
    assert_eq!(net.stack(client).send(conn, &more, now), Ok(more.len()));
    let new = frames_out(&mut net, client);
    let batch = [&segments[0], &new[0], &segments[1], &new[1]];
    for frame in batch {
        net.stack(server).receive(now, frame);
    }
    let replies = acks(&frames_out(&mut net, server));
    let seq = |f: &Vec<u8>| seq_of(f);
    let dsacks: Vec<(u32, u32)> = replies.iter().filter_map(|&(_, d)| d).collect();
    assert_eq!(
        dsacks,
        vec![
            (seq(&segments[0]), seq(&segments[0]).wrapping_add(1448)),
            (seq(&segments[1]), seq(&segments[1]).wrapping_add(1448)),
        ],
        "one D-SACK per duplicate: {replies:?}"
    );
    // The last new segment came alone after an ACK: its acknowledgment may wait for the
    // delayed-ACK timer (RFC 9293 §3.8.6.3).
    assert_eq!(
        replies.last().map(|&(ack, _)| ack),
        Some(seq(&new[1])),
        "the ACK before the last segment"
    );
}
