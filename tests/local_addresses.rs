//! A stack with further addresses (`StackConfig::more_ipv4`), run in the simulator: its
//! active opens take its addresses in turn, each connection's segments leave from the
//! address it was opened from, the peer's ARP for a further address is answered, and data
//! flows both ways on every one. This is how one load generator reaches more 4-tuples toward
//! one server than its ephemeral range allows from a single address.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use xdptcp::sim::{LinkConfig, Network};
use xdptcp::stack::StackEvent;
use xdptcp::Instant;

const PORT: u16 = 7;

#[test]
fn active_opens_take_every_address_in_turn_and_each_carries_data() {
    let mut net = Network::new(3);
    net.set_default_link(LinkConfig::ideal(Duration::from_micros(50)));
    let mut client_config = Network::node_config(1);
    let more = [Ipv4Addr::new(10, 0, 0, 101), Ipv4Addr::new(10, 0, 0, 102)];
    client_config.more_ipv4 = more.to_vec();
    let client = net.add_node(client_config).unwrap();
    let server = net.add_node(Network::node_config(2)).unwrap();
    net.stack(server).listen(PORT, 64).unwrap();
    let target = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), PORT);

    let now = net.now();
    let conns: Vec<_> = (0..9)
        .map(|_| net.stack(client).connect(now, target).unwrap())
        .collect();
    let mut by_address = BTreeMap::new();
    for &c in &conns {
        let key = net.stack(client).flow_key(c).unwrap();
        *by_address.entry(key.local_ip).or_insert(0) += 1;
    }
    assert_eq!(
        by_address,
        BTreeMap::from([(Ipv4Addr::new(10, 0, 0, 1), 3), (more[0], 3), (more[1], 3)]),
        "three opens from each address"
    );

    // Handshakes complete; the server accepts nine connections from three addresses.
    let limit = Instant::from_millis(2_000);
    let mut accepted = Vec::new();
    let mut connected = 0;
    assert!(net.run_until(limit, |net| {
        while let Some((id, ev)) = net.stack(server).poll_event() {
            if let StackEvent::Accepted { .. } = ev {
                accepted.push(id);
            }
        }
        while let Some((_, ev)) = net.stack(client).poll_event() {
            if ev == StackEvent::Connected {
                connected += 1;
            }
        }
        accepted.len() == 9 && connected == 9
    }));
    let mut peers: Vec<Ipv4Addr> = accepted
        .iter()
        .map(|&id| net.stack(server).flow_key(id).unwrap().remote_ip)
        .collect();
    peers.sort();
    peers.dedup();
    assert_eq!(peers, vec![Ipv4Addr::new(10, 0, 0, 1), more[0], more[1]]);

    // Each connection sends its own bytes; the server echoes them back on the same one.
    let now = net.now();
    for (i, &c) in conns.iter().enumerate() {
        let data = format!("connection {i}");
        assert_eq!(
            net.stack(client).send(c, data.as_bytes(), now).unwrap(),
            data.len()
        );
    }
    let mut echoed = 0;
    let mut received: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
    assert!(net.run_until(Instant::from_millis(4_000), |net| {
        let now = net.now();
        for &id in &accepted {
            let mut buf = [0u8; 64];
            while let Ok(n) = net.stack(server).recv(id, &mut buf) {
                if n == 0 {
                    break;
                }
                net.stack(server).send(id, &buf[..n], now).unwrap();
                echoed += n;
            }
        }
        for (i, &c) in conns.iter().enumerate() {
            let mut buf = [0u8; 64];
            while let Ok(n) = net.stack(client).recv(c, &mut buf) {
                if n == 0 {
                    break;
                }
                received.entry(i).or_default().extend_from_slice(&buf[..n]);
            }
        }
        received.len() == 9
            && received
                .iter()
                .all(|(i, got)| got == format!("connection {i}").as_bytes())
    }));
    assert!(echoed > 0);
}
