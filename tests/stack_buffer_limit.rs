//! The limit on payload buffer memory (`StackConfig::buffer_memory_limit`, issue 12), run
//! in the simulator. The server's limit is the receive rings of four connections; four
//! clients fill it with data the server leaves unread. Then
//!
//! - a fifth client's SYN is dropped unanswered and counted (`drop_buffer_memory`), and the
//!   server's own `connect` fails with `StackError::BufferMemoryLimit`;
//! - the four established connections still get every buffer they need: the server reads
//!   and echoes 64 KiB on each (going past the limit by their send rings), and every byte
//!   comes back in order;
//! - once they went idle and gave their rings back, the fifth client's retransmitted SYN
//!   gets in, and the server may open connections again.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use xdptcp::sim::{Network, NodeId};
use xdptcp::stack::{ConnId, StackError, StackEvent};
use xdptcp::tcp::State;

const PORT: u16 = 7;
const RING: usize = 16 * 1024;
const HOLDERS: usize = 4;
const LIMIT: usize = HOLDERS * RING;
/// What each holder sends before the server reads anything: it stays in the server's
/// receive ring, which so stays taken.
const HELD: usize = 1000;
/// What each holder sends in all, echoed back whole.
const TOTAL: usize = 64 * 1024;

fn byte(conn: usize, i: usize) -> u8 {
    ((i * 7 + conn * 13) % 251) as u8
}

struct Holder {
    id: ConnId,
    sent: usize,
    echoed: usize,
    connected: bool,
}

struct Lab {
    net: Network,
    client: NodeId,
    server: NodeId,
    holders: Vec<Holder>,
    /// The server's connections, as accepted.
    served: Vec<ConnId>,
}

fn lab() -> Lab {
    let mut net = Network::new(12);
    let mut client_config = Network::node_config(1);
    client_config.tcp.send_buffer = RING;
    client_config.tcp.recv_buffer = RING;
    let mut server_config = Network::node_config(2);
    server_config.tcp.send_buffer = RING;
    server_config.tcp.recv_buffer = RING;
    server_config.buffer_memory_limit = Some(LIMIT);
    let client = net.add_node(client_config).unwrap();
    let server = net.add_node(server_config).unwrap();
    net.stack(server).listen(PORT, 64).unwrap();
    net.stack(client).listen(PORT, 64).unwrap();
    let to = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), PORT);
    let now = net.now();
    let holders = (0..HOLDERS)
        .map(|i| Holder {
            id: net
                .stack(client)
                .connect_from(now, 42_000 + i as u16, to)
                .unwrap(),
            sent: 0,
            echoed: 0,
            connected: false,
        })
        .collect();
    Lab {
        net,
        client,
        server,
        holders,
        served: Vec::new(),
    }
}

impl Lab {
    /// Runs until `done` or `secs` seconds passed. Holders send up to `send_limit` bytes
    /// each and check what comes back; the server echoes what it reads while `serve`.
    fn run(
        &mut self,
        secs: u64,
        send_limit: usize,
        serve: bool,
        mut done: impl FnMut(&mut Lab) -> bool,
    ) -> bool {
        let limit = self.net.now() + Duration::from_secs(secs);
        loop {
            self.turn(send_limit, serve);
            if done(self) {
                return true;
            }
            if !self.net.step(limit) {
                self.turn(send_limit, serve);
                return done(self);
            }
        }
    }

    fn turn(&mut self, send_limit: usize, serve: bool) {
        let (client, server) = (self.client, self.server);
        let now = self.net.now();
        while let Some((id, event)) = self.net.stack(client).poll_event() {
            let Some(c) = self.holders.iter().position(|h| h.id == id) else {
                continue;
            };
            if event == StackEvent::Connected {
                self.holders[c].connected = true;
            }
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = self.net.stack(client).recv(id, &mut buf) {
                let h = &mut self.holders[c];
                for (k, &b) in buf[..n].iter().enumerate() {
                    assert_eq!(
                        b,
                        byte(c, h.echoed + k),
                        "holder {c}, byte {}",
                        h.echoed + k
                    );
                }
                h.echoed += n;
            }
        }
        for (c, h) in self.holders.iter_mut().enumerate() {
            while h.connected && h.sent < send_limit {
                let chunk: Vec<u8> = (h.sent..send_limit.min(h.sent + 4096))
                    .map(|i| byte(c, i))
                    .collect();
                match self.net.stack(client).send(h.id, &chunk, now) {
                    Ok(n @ 1..) => h.sent += n,
                    _ => break,
                }
            }
        }
        while let Some((id, event)) = self.net.stack(server).poll_event() {
            if matches!(event, StackEvent::Accepted { .. }) {
                self.served.push(id);
            }
        }
        if serve {
            for &id in &self.served {
                let mut buf = [0u8; 4096];
                loop {
                    let room = self
                        .net
                        .stack(server)
                        .connection(id)
                        .unwrap()
                        .send_capacity();
                    let want = room.min(buf.len());
                    match self.net.stack(server).recv(id, &mut buf[..want]) {
                        Ok(n @ 1..) => {
                            let sent = self.net.stack(server).send(id, &buf[..n], now).unwrap();
                            assert_eq!(sent, n, "the echo fits the room it was read for");
                        }
                        _ => break,
                    }
                }
            }
        }
    }
}

#[test]
fn new_connections_are_refused_at_the_limit_while_established_ones_keep_every_byte() {
    let mut lab = lab();
    let (client, server) = (lab.client, lab.server);

    // Fill: each holder's first bytes sit unread in the server's receive ring.
    let filled = lab.run(5, HELD, false, |lab| {
        lab.net.stack(server).buffer_memory_in_use() >= LIMIT
    });
    assert!(
        filled,
        "in use: {}",
        lab.net.stack(server).buffer_memory_in_use()
    );
    assert_eq!(lab.net.stack(server).buffer_memory_in_use(), LIMIT);
    assert_eq!(lab.net.stack(server).buffer_memory().held, LIMIT);
    assert_eq!(
        lab.net.stack(server).state_counts().get(State::Established),
        HOLDERS as u64
    );

    // A fifth client's SYN: dropped and counted, never answered.
    let now = lab.net.now();
    let to = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), PORT);
    let late = lab.net.stack(client).connect_from(now, 43_000, to).unwrap();
    let refused_before = lab.net.stack(server).stats().drop_buffer_memory;
    lab.run(2, HELD, false, |_| false);
    let refused = lab.net.stack(server).stats().drop_buffer_memory - refused_before;
    assert!(refused >= 1, "the SYN and its retransmission were dropped");
    assert_eq!(
        lab.net.stack(client).connection(late).unwrap().state(),
        State::SynSent,
        "no SYN,ACK came back"
    );
    assert_eq!(lab.net.stack(server).connection_count(), HOLDERS);

    // The server's own active open fails with the typed error, and opens nothing.
    let back = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), PORT);
    let now = lab.net.now();
    assert_eq!(
        lab.net.stack(server).connect(now, back),
        Err(StackError::BufferMemoryLimit(LIMIT))
    );
    assert_eq!(lab.net.stack(server).connection_count(), HOLDERS);

    // The established connections keep getting buffers past the limit: every byte echoes.
    let mut peak = 0;
    let echoed = lab.run(60, TOTAL, true, |lab| {
        peak = peak.max(lab.net.stack(server).buffer_memory_in_use());
        lab.holders.iter().all(|h| h.echoed == TOTAL)
    });
    let progress: Vec<_> = lab.holders.iter().map(|h| (h.sent, h.echoed)).collect();
    assert!(echoed, "sent and echoed per holder: {progress:?}");
    assert!(
        peak > LIMIT,
        "the open connections took send rings beyond the limit (peak {peak})"
    );
    assert!(peak <= LIMIT + HOLDERS * 2 * RING, "peak {peak}");
    println!("limit {LIMIT} B: SYNs refused {refused}, peak in use while echoing {peak} B");

    // Idle, the rings go back; the fifth client's next SYN gets in and works.
    let admitted = lab.run(30, TOTAL, true, |lab| {
        lab.net.stack(client).connection(late).unwrap().state() == State::Established
    });
    assert!(
        admitted,
        "the late client was admitted once memory was given back"
    );
    assert!(lab.net.stack(server).buffer_memory_in_use() < LIMIT);
    lab.holders.push(Holder {
        id: late,
        sent: 0,
        echoed: 0,
        connected: true,
    });
    let late_echoed = lab.run(30, TOTAL, true, |lab| lab.holders[HOLDERS].echoed == TOTAL);
    assert!(late_echoed, "the late connection echoes every byte");
    let now = lab.net.now();
    let reopened = lab.net.stack(server).connect(now, back);
    assert!(reopened.is_ok(), "{reopened:?}");
}
