//! Textbook sequences between two connections: the handshake's ACKs at ISN + 1, a transfer
//! whose sequence numbers wrap at 2^32, a half-close with data still flowing the other way,
//! and a close that waits for unsent and unread bytes.

mod common;

use common::*;
use std::time::Duration;
use xdptcp::tcp::{Error, Event, State};

const HOP: Duration = Duration::from_millis(1);

fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt))
        .collect()
}

/// Sends as much of `data[*sent..]` as the connection takes.
fn feed(conn: &mut xdptcp::tcp::Connection, data: &[u8], sent: &mut usize, now: xdptcp::Instant) {
    while *sent < data.len() {
        match conn.send(&data[*sent..], now) {
            Ok(n) => *sent += n,
            Err(Error::WouldBlock) => break,
            Err(e) => panic!("send failed: {e}"),
        }
    }
}

fn drain(conn: &mut xdptcp::tcp::Connection, into: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 8192];
    loop {
        match conn.recv(&mut buf) {
            Ok(0) => return true,
            Ok(n) => into.extend_from_slice(&buf[..n]),
            Err(Error::WouldBlock) => return false,
            Err(e) => panic!("recv failed: {e}"),
        }
    }
}

#[test]
fn handshake_acks_are_the_peers_isn_plus_one() {
    let mut p = Pair::new(test_config(), 100, 300);
    p.pump(HOP);
    assert_eq!(p.client.state(), State::Established);
    assert_eq!(p.server.state(), State::Established);
    let log: Vec<_> = p
        .log
        .iter()
        .map(|(d, s)| (*d, s.seq, s.ack, s.flags))
        .collect();
    assert_eq!(
        log,
        vec![
            ('>', 100, 0, SYN),
            ('<', 300, 101, SYN | ACK),
            ('>', 101, 301, ACK),
        ]
    );
    assert_eq!(p.client.poll_event(), Some(Event::Connected));
    assert_eq!(p.server.poll_event(), Some(Event::Connected));
}

#[test]
fn transfer_starting_at_isn_two_to_the_32_minus_100_wraps() {
    let iss = u32::MAX - 99; // 2^32 - 100
    let mut p = Pair::new(test_config(), iss, 7);
    p.pump(HOP);
    let data = pattern(10_000, 3);
    let mut sent = 0;
    let mut got = Vec::new();
    while got.len() < data.len() {
        feed(&mut p.client, &data, &mut sent, p.now);
        p.pump(HOP);
        drain(&mut p.server, &mut got);
        if p.client.poll_deadline().is_some() && got.len() < data.len() {
            p.advance_to_next_timer();
        }
    }
    assert_eq!(got, data);
    // The first data byte has sequence number ISS + 1 = 2^32 - 99; byte 99 is at 0.
    let data_segs: Vec<_> = p
        .log
        .iter()
        .filter(|(d, s)| *d == '>' && !s.payload.is_empty())
        .map(|(_, s)| (s.seq, s.payload.len()))
        .collect();
    assert_eq!(data_segs[0], (u32::MAX - 98, 1000));
    assert_eq!(data_segs[1], (901, 1000));
    assert!(
        data_segs.iter().any(|&(seq, _)| seq < 1000),
        "no segment past the wrap"
    );
    // Everything acknowledged: SND.UNA = ISS + 1 + 10,000 mod 2^32 = 9,901.
    p.advance_to_next_timer();
    p.pump(HOP);
    assert_eq!(p.client.snd_una().0, 9_901);
    assert_eq!(p.server.rcv_nxt().0, 9_901);
}

#[test]
fn half_close_keeps_data_flowing_the_other_way() {
    let mut p = Pair::new(test_config(), 1, 2);
    p.pump(HOP);
    // The client sends a request and closes its side.
    p.client.send(b"GET /", p.now).unwrap();
    p.client.close().unwrap();
    p.pump(HOP);
    let mut request = Vec::new();
    assert!(
        drain(&mut p.server, &mut request),
        "server sees end of stream"
    );
    assert_eq!(request, b"GET /");
    assert_eq!(p.server.state(), State::CloseWait);
    assert_eq!(p.client.state(), State::FinWait2);
    // After the first FIN the server still sends 200 KB, and the client receives it all.
    let response = pattern(200_000, 9);
    let mut sent = 0;
    let mut got = Vec::new();
    while got.len() < response.len() {
        feed(&mut p.server, &response, &mut sent, p.now);
        p.pump(HOP);
        drain(&mut p.client, &mut got);
        p.pump(HOP);
        if got.len() < response.len() && p.server.send_queue_len() > 0 && sent == response.len() {
            p.advance_to_next_timer();
        }
    }
    assert_eq!(got, response);
    assert_eq!(p.client.state(), State::FinWait2);
    p.server.close().unwrap();
    p.pump(HOP);
    assert!(drain(&mut p.client, &mut got));
    assert_eq!(p.client.state(), State::TimeWait);
    assert_eq!(p.server.state(), State::Closed);
    // TIME-WAIT ends after 2·MSL and both ends are finished.
    while p.advance_to_next_timer() {}
    assert!(p.client.is_finished() && p.server.is_finished());
}

#[test]
fn close_waits_for_unsent_and_unread_bytes() {
    let mut p = Pair::new(test_config(), 10, 20);
    p.pump(HOP);
    // The client queues 59,000 bytes and closes at once; the server's buffer holds 60,000
    // but the server does not read yet.
    let data = pattern(59_000, 1);
    let mut sent = 0;
    feed(&mut p.client, &data, &mut sent, p.now);
    assert_eq!(sent, data.len());
    p.client.close().unwrap();
    assert_eq!(p.client.state(), State::FinWait1);
    for _ in 0..20 {
        p.pump(HOP);
        if !p.advance_to_next_timer() {
            break;
        }
    }
    // The FIN went out only after the last data byte, and after all of it was acknowledged
    // the client sits in FIN-WAIT-2.
    let fin_segs: Vec<_> = p
        .log
        .iter()
        .filter(|(d, s)| *d == '>' && s.flags.fin())
        .collect();
    let last_data_end = p
        .log
        .iter()
        .filter(|(d, s)| *d == '>' && !s.payload.is_empty())
        .map(|(_, s)| s.seq.wrapping_add(s.payload.len() as u32))
        .max()
        .unwrap();
    assert!(!fin_segs.is_empty());
    assert!(fin_segs
        .iter()
        .all(|(_, s)| s.seq.wrapping_add(s.payload.len() as u32) == last_data_end));
    assert_eq!(p.client.state(), State::FinWait2);
    // The server has every byte but has read none; end of stream is not reported early.
    assert_eq!(p.server.state(), State::CloseWait);
    assert_eq!(p.server.recv_available(), 59_000);
    // The server closes its side too; its connection reaches CLOSED while data is unread,
    // and it is not finished until the data is read.
    p.server.close().unwrap();
    p.pump(HOP);
    assert_eq!(p.server.state(), State::Closed);
    assert!(!p.server.is_finished());
    let mut got = Vec::new();
    let mut buf = [0u8; 1000];
    let n = p.server.recv(&mut buf).unwrap();
    got.extend_from_slice(&buf[..n]);
    assert!(!p.server.is_finished());
    assert!(
        drain(&mut p.server, &mut got),
        "end of stream after the data"
    );
    assert_eq!(got, data);
    assert!(p.server.is_finished());
    assert_eq!(p.server.recv(&mut buf), Ok(0));
}

#[test]
fn zero_window_holds_data_until_the_reader_drains() {
    let mut p = Pair::new(test_config(), 10, 20);
    p.pump(HOP);
    // 150,000 bytes into a 60,000-byte receive buffer nobody reads for a while.
    let data = pattern(150_000, 5);
    let mut sent = 0;
    feed(&mut p.client, &data, &mut sent, p.now);
    p.pump(HOP);
    assert_eq!(p.server.recv_available(), 60_000);
    assert_eq!(p.client.send_window(), 0);
    // Refill the send buffer: these bytes now wait behind a zero window.
    feed(&mut p.client, &data, &mut sent, p.now);
    assert_eq!(sent, 120_000);
    p.pump(HOP);
    let before = p.log.len();
    // Zero-window probes go out on the persist timer, backing off, and the connection stays
    // alive however long the window stays shut (RFC 1122 §4.2.2.17).
    let mut probe_times = Vec::new();
    for _ in 0..12 {
        p.advance_to_next_timer();
        let t = p.now;
        if p.pump(HOP) > 0 {
            probe_times.push(t);
        }
    }
    let probes: Vec<_> = p.log[before..]
        .iter()
        .filter(|(d, s)| *d == '>' && s.payload.len() == 1)
        .collect();
    assert_eq!(probes.len(), 12, "one probe per persist timeout");
    assert!(
        probes.iter().all(|(_, s)| s.seq == probes[0].1.seq),
        "each probe repeats SND.UNA"
    );
    let gaps: Vec<_> = probe_times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.windows(2).all(|g| g[1] >= g[0]),
        "probe intervals back off: {gaps:?}"
    );
    assert_eq!(
        *gaps.last().unwrap(),
        Duration::from_secs(60),
        "capped at the maximum RTO"
    );
    assert_eq!(p.client.state(), State::Established);
    let mut got = Vec::new();
    while got.len() < data.len() {
        drain(&mut p.server, &mut got);
        feed(&mut p.client, &data, &mut sent, p.now);
        p.pump(HOP);
        if got.len() < data.len() && p.server.recv_available() == 0 {
            p.advance_to_next_timer();
            p.pump(HOP);
        }
    }
    assert_eq!(got, data);
}
