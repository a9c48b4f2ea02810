//! Loss recovery compared in the simulator: a 64 MiB upload over a link with 1% random loss
//! each way and a 10 ms round trip, once with SACK and RACK-TLP (and PRR) and once with
//! NewReno alone (the peers do not offer SACK). Goodput and retransmitted bytes of both are
//! printed; SACK+RACK must finish sooner and send less again.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use xdptcp::sim::{LinkConfig, Network};
use xdptcp::stack::StackEvent;
use xdptcp::tcp::congestion::Algorithm;
use xdptcp::tcp::ConnStats;
use xdptcp::Instant;

const BYTES: u64 = 64 << 20;
const BUFFER: usize = 4 << 20;

struct Outcome {
    time: Duration,
    sender: ConnStats,
}

fn upload(sack: bool, congestion: Algorithm, seed: u64) -> Outcome {
    let mut net = Network::new(seed);
    net.set_default_link(LinkConfig {
        loss: 0.01,
        ..LinkConfig::ideal(Duration::from_millis(5))
    });
    let mut nodes = [Network::node_config(1), Network::node_config(2)];
    for config in &mut nodes {
        config.tcp.sack = sack;
        config.tcp.congestion = congestion;
        config.tcp.send_buffer = BUFFER;
        config.tcp.recv_buffer = BUFFER;
    }
    let [client_config, server_config] = nodes;
    let client = net.add_node(client_config).unwrap();
    let server = net.add_node(server_config).unwrap();
    net.stack(server).listen(9, 16).unwrap();
    let conn = net
        .stack(client)
        .connect(
            Instant::ZERO,
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 9),
        )
        .unwrap();
    let chunk = vec![0x5au8; 64 * 1024];
    let mut sent = 0u64;
    let mut received = 0u64;
    let mut server_conn = None;
    let mut buf = vec![0u8; 64 * 1024];
    let limit = Instant::from_millis(600_000);
    let done = net.run_until(limit, |net| {
        let now = net.now();
        while sent < BYTES {
            let n = chunk.len().min((BYTES - sent) as usize);
            match net.stack(client).send(conn, &chunk[..n], now) {
                Ok(taken) => sent += taken as u64,
                Err(_) => break,
            }
        }
        while let Some((id, event)) = net.stack(server).poll_event() {
            if let StackEvent::Accepted { .. } = event {
                server_conn = Some(id);
            }
        }
        while net.stack(client).poll_event().is_some() {}
        if let Some(id) = server_conn {
            while let Ok(n) = net.stack(server).recv(id, &mut buf) {
                if n == 0 {
                    break;
                }
                received += n as u64;
            }
        }
        received == BYTES
    });
    assert!(
        done,
        "the upload did not finish in 600 s of virtual time (sack {sack})"
    );
    let time = net.now().saturating_duration_since(Instant::ZERO);
    let sender = *net.stack(client).connection(conn).unwrap().stats();
    Outcome { time, sender }
}

fn describe(name: &str, o: &Outcome) -> String {
    let mbit = BYTES as f64 * 8.0 / o.time.as_secs_f64() / 1e6;
    format!(
        "{name}: {:.2} s, {mbit:.1} Mbit/s, {:.2} MiB retransmitted in {} segments, {} timeouts, {} loss probes",
        o.time.as_secs_f64(),
        o.sender.retransmitted_bytes as f64 / (1 << 20) as f64,
        o.sender.retransmitted_segments,
        o.sender.timeouts,
        o.sender.loss_probes,
    )
}

#[test]
fn sack_and_rack_beat_newreno_at_one_percent_loss() {
    for seed in [1, 2] {
        let sack = upload(true, Algorithm::Cubic, seed);
        let sack_reno = upload(true, Algorithm::NewReno, seed);
        let newreno = upload(false, Algorithm::NewReno, seed);
        println!(
            "loss recovery, 64 MiB at 1% loss and 10 ms RTT, seed {seed}:\n  {}\n  {}\n  {}",
            describe("SACK+RACK-TLP, CUBIC", &sack),
            describe("SACK+RACK-TLP, NewReno window", &sack_reno),
            describe("NewReno alone", &newreno)
        );
        assert!(sack.time < newreno.time, "SACK+RACK finishes sooner");
        assert!(
            sack.sender.retransmitted_bytes < newreno.sender.retransmitted_bytes,
            "SACK+RACK retransmits fewer bytes"
        );
    }
}
