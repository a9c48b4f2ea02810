//! Data transfer rules, exact segments in and out: delayed ACKs (RFC 1122 §4.2.3.2),
//! out-of-order arrival (RFC 5681 §4.2), Nagle (RFC 896), retransmission (RFC 6298), fast
//! retransmit and NewReno recovery (RFC 5681 §3.2, RFC 6582), window scaling and MSS
//! (RFC 7323, RFC 9293 §3.7.1), blind-injection defences (RFC 5961 §5) and keepalive.

mod common;

use common::*;
use std::time::Duration;
use xdptcp::tcp::{Config, ConnectionError, Error, Event, Keepalive, State};

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

#[test]
fn delayed_ack_waits_40_ms() {
    let mut h = Harness::established_passive();
    h.at(10)
        .send(seg(IRS + 1, ISS + 1, ACK | PSH).payload(&bytes(500)));
    h.expect_nothing();
    assert_eq!(h.conn.poll_event(), Some(Event::Readable));
    assert_eq!(h.conn.poll_deadline(), Some(ms(50)));
    h.at(49).tick().expect_nothing();
    h.at(50)
        .tick()
        .expect(&[out(ISS + 1, IRS + 501, ACK, 59_500)]);
}

#[test]
fn every_second_full_segment_is_acked_at_once() {
    let mut h = Harness::established_passive();
    h.at(1)
        .send(seg(IRS + 1, ISS + 1, ACK).payload(&bytes(1000)));
    h.expect_nothing();
    h.at(2)
        .send(seg(IRS + 1001, ISS + 1, ACK).payload(&bytes(1000)));
    h.expect(&[out(ISS + 1, IRS + 2001, ACK, 58_000)]);
    assert_eq!(h.conn.poll_deadline(), None);
}

#[test]
fn a_reply_carries_the_ack() {
    let mut h = Harness::established_passive();
    h.at(1)
        .send(seg(IRS + 1, ISS + 1, ACK | PSH).payload(b"ping"));
    assert_eq!(h.read_all(), b"ping");
    h.conn.send(b"pong", h.now).unwrap();
    // Reading 4 bytes does not move the right edge (receiver SWS avoidance), so the window
    // reads 60,000 - 4.
    h.expect(&[out(ISS + 1, IRS + 5, ACK | PSH, 59_996).payload(b"pong")]);
}

#[test]
fn out_of_order_data_is_held_and_acked_at_once() {
    let mut h = Harness::established_passive();
    // Second segment first: a duplicate ACK at once (RFC 5681 §4.2); window unchanged.
    h.at(1)
        .send(seg(IRS + 1001, ISS + 1, ACK).payload(&bytes(2000)[1000..]));
    h.expect(&[out(ISS + 1, IRS + 1, ACK, 60_000)]);
    assert_eq!(h.conn.recv_available(), 0);
    // The first segment fills the hole: ACK at once, both readable in order.
    h.at(2)
        .send(seg(IRS + 1, ISS + 1, ACK).payload(&bytes(2000)[..1000]));
    h.expect(&[out(ISS + 1, IRS + 2001, ACK, 58_000)]);
    assert_eq!(h.read_all(), bytes(2000));
}

#[test]
fn duplicate_and_overlapping_segments_deliver_each_byte_once() {
    let mut h = Harness::established_passive();
    let data = bytes(3000);
    h.at(1)
        .send(seg(IRS + 1, ISS + 1, ACK).payload(&data[..1500]));
    h.send(seg(IRS + 1, ISS + 1, ACK).payload(&data[..1500]));
    h.send(seg(IRS + 1001, ISS + 1, ACK).payload(&data[1000..3000]));
    h.output();
    assert_eq!(h.read_all(), data);
}

#[test]
fn data_beyond_the_window_is_trimmed() {
    let mut h = Harness::established_passive();
    let big = bytes(61_000);
    for (i, chunk) in big.chunks(1000).enumerate() {
        h.send(seg(IRS + 1 + (i as u32) * 1000, ISS + 1, ACK).payload(chunk));
    }
    // 60,000 bytes fit; the last segment lies past the right edge.
    let acks = h.output();
    assert_eq!(acks.last().unwrap(), &out(ISS + 1, IRS + 60_001, ACK, 0));
    assert_eq!(h.conn.recv_available(), 60_000);
    // Reading opens the window again; the update goes out (RFC 1122 §4.2.3.3).
    let mut buf = vec![0u8; 30_000];
    assert_eq!(h.conn.recv(&mut buf), Ok(30_000));
    h.expect(&[out(ISS + 1, IRS + 60_001, ACK, 30_000)]);
    assert_eq!(&buf[..], &big[..30_000]);
}

#[test]
fn zero_window_probe_is_answered_without_taking_data() {
    let mut h = Harness::established_passive();
    for i in 0..60u32 {
        h.send(seg(IRS + 1 + i * 1000, ISS + 1, ACK).payload(&bytes(1000)));
    }
    h.output();
    // A one-byte probe at RCV.NXT against a zero window: ACK with window 0, byte dropped.
    h.at(300)
        .send(seg(IRS + 60_001, ISS + 1, ACK).payload(b"x"));
    h.expect(&[out(ISS + 1, IRS + 60_001, ACK, 0)]);
    assert_eq!(h.conn.recv_available(), 60_000);
}

#[test]
fn nagle_holds_a_small_segment_while_data_is_unacked() {
    let mut h = Harness::established_passive();
    h.conn.send(b"a", h.now).unwrap();
    h.expect(&[out(ISS + 1, IRS + 1, ACK | PSH, 60_000).payload(b"a")]);
    h.conn.send(b"b", h.now).unwrap();
    h.expect_nothing();
    h.conn.send(b"c", h.now).unwrap();
    h.at(5).send(seg(IRS + 1, ISS + 2, ACK));
    h.expect(&[out(ISS + 2, IRS + 1, ACK | PSH, 60_000).payload(b"bc")]);
}

#[test]
fn nodelay_sends_small_segments_at_once() {
    let mut h = Harness::established_passive();
    h.conn.set_nodelay(true);
    h.conn.send(b"a", h.now).unwrap();
    h.conn.send(b"b", h.now).unwrap();
    h.expect(&[out(ISS + 1, IRS + 1, ACK | PSH, 60_000).payload(b"ab")]);
    h.conn.send(b"c", h.now).unwrap();
    h.expect(&[out(ISS + 3, IRS + 1, ACK | PSH, 60_000).payload(b"c")]);
}

#[test]
fn full_segments_fill_the_initial_window() {
    let mut h = Harness::established_passive();
    h.conn.send(&bytes(20_000), h.now).unwrap();
    let segs = h.output();
    // RFC 6928: 10 segments of 1000 bytes.
    assert_eq!(segs.len(), 10);
    for (i, s) in segs.iter().enumerate() {
        assert_eq!(s.seq, ISS + 1 + 1000 * i as u32);
        assert_eq!(s.payload.len(), 1000);
    }
    assert_eq!(h.conn.congestion_window(), 10_000);
    // Slow start: each ACK of 2 segments adds 2 SMSS (RFC 3465, L = 2).
    h.at(10).send(seg(IRS + 1, ISS + 2001, ACK));
    assert_eq!(h.conn.congestion_window(), 12_000);
    assert_eq!(h.output().len(), 4);
}

#[test]
fn timeout_retransmits_from_snd_una_with_one_segment() {
    let mut h = Harness::established_passive();
    h.conn.send(&bytes(3000), h.now).unwrap();
    assert_eq!(h.output().len(), 3);
    // RTO 200 ms (the handshake sampled an RTT of 0): go back to SND.UNA, one segment.
    h.at(200).tick();
    let retransmitted = h.output();
    assert_eq!(retransmitted.len(), 1);
    assert_eq!(retransmitted[0].seq, ISS + 1);
    assert_eq!(h.conn.congestion_window(), 1000);
    assert_eq!(h.conn.slow_start_threshold(), 2000);
    // The retransmission timer was backed off to 400 ms.
    assert_eq!(h.conn.poll_deadline(), Some(ms(600)));
    // The ACK covers the first segment: cwnd 2000, the next two go out.
    h.at(210).send(seg(IRS + 1, ISS + 1001, ACK));
    let next = h.output();
    assert_eq!(
        next.iter().map(|s| s.seq).collect::<Vec<_>>(),
        vec![ISS + 1001, ISS + 2001]
    );
}

#[test]
fn three_duplicate_acks_trigger_fast_retransmit_and_newreno() {
    let mut h = Harness::established_passive();
    h.conn.send(&bytes(10_000), h.now).unwrap();
    assert_eq!(h.output().len(), 10);
    // Segment 1 lost: the peer acknowledges nothing new, three times.
    h.at(10);
    for _ in 0..2 {
        h.send(seg(IRS + 1, ISS + 1, ACK));
        h.expect_nothing();
    }
    h.send(seg(IRS + 1, ISS + 1, ACK));
    h.expect(&[out(ISS + 1, IRS + 1, ACK, 60_000).payload(&bytes(1000))]);
    assert!(h.conn.in_fast_recovery());
    assert_eq!(h.conn.slow_start_threshold(), 5000);
    assert_eq!(h.conn.congestion_window(), 8000);
    // Partial ACK up to segment 6 (also lost): retransmit it at once (RFC 6582 step 4).
    h.at(15).send(seg(IRS + 1, ISS + 5001, ACK));
    h.expect(&[out(ISS + 5001, IRS + 1, ACK, 60_000).payload(&bytes(10_000)[5000..6000])]);
    assert!(h.conn.in_fast_recovery());
    // Full ACK: recovery ends with cwnd = min(ssthresh, flight + SMSS).
    h.at(20).send(seg(IRS + 1, ISS + 10_001, ACK));
    assert!(!h.conn.in_fast_recovery());
    assert_eq!(h.conn.congestion_window(), 2000);
}

#[test]
fn ack_of_unsent_data_draws_a_challenge_ack_and_the_data_is_dropped() {
    let mut h = Harness::established_passive();
    h.at(1)
        .send(seg(IRS + 1, ISS + 500, ACK).payload(b"spoofed"));
    h.expect(&[out(ISS + 1, IRS + 1, ACK, 60_000)]);
    assert_eq!(h.conn.recv_available(), 0);
    // Too old (before SND.UNA - MAX.SND.WND) is rejected the same way (RFC 5961 §5.2).
    h.at(2)
        .send(seg(IRS + 1, ISS.wrapping_sub(100_000), ACK).payload(b"old"));
    h.expect(&[out(ISS + 1, IRS + 1, ACK, 60_000)]);
    assert_eq!(h.conn.recv_available(), 0);
}

#[test]
fn window_scale_is_negotiated_in_the_syn_exchange() {
    let config = Config {
        recv_buffer: 256 * 1024,
        ..test_config()
    };
    let mut h = Harness::with_config(config, ISS);
    h.conn.listen(None).unwrap();
    h.send(seg(IRS, 0, SYN).mss(1460).wscale(7).window(65_535));
    // SYN,ACK: our shift 3, window field unscaled and capped at 65,535 (RFC 7323 §2.2).
    h.expect(&[out(ISS, IRS + 1, SYN | ACK, 65_535).mss(1000).wscale(3)]);
    h.send(seg(IRS + 1, ISS + 1, ACK).window(100));
    assert_eq!(h.conn.window_scales(), (7, 3));
    assert_eq!(h.conn.send_window(), 100 << 7);
    // The whole 256 KiB buffer is now advertised, less the byte held: 262,143 >> 3.
    h.at(1)
        .send(seg(IRS + 1, ISS + 1, ACK | PSH).window(100).payload(b"x"));
    h.at(41)
        .tick()
        .expect(&[out(ISS + 1, IRS + 2, ACK, 32_767)]);
}

#[test]
fn without_the_peers_window_scale_nothing_is_scaled() {
    let config = Config {
        recv_buffer: 256 * 1024,
        ..test_config()
    };
    let mut h = Harness::with_config(config, ISS);
    h.conn.listen(None).unwrap();
    h.send(seg(IRS, 0, SYN).window(8_000));
    // No window scale in the SYN,ACK; no MSS from the peer means 536 (RFC 9293 §3.7.1).
    h.expect(&[out(ISS, IRS + 1, SYN | ACK, 65_535).mss(1000)]);
    h.send(seg(IRS + 1, ISS + 1, ACK).window(8_000));
    assert_eq!(h.conn.window_scales(), (0, 0));
    assert_eq!(h.conn.send_mss(), 536);
    h.conn.send(&bytes(2000), h.now).unwrap();
    let segs = h.output();
    // Nagle holds the 392-byte tail until the data in flight is acknowledged.
    assert_eq!(
        segs.iter().map(|s| s.payload.len()).collect::<Vec<_>>(),
        vec![536, 536, 536]
    );
    assert!(segs.iter().all(|s| s.window == 65_535));
    h.at(5)
        .send(seg(IRS + 1, ISS + 1 + 1608, ACK).window(8_000));
    let tail = h.output();
    assert_eq!(tail.len(), 1);
    assert_eq!((tail[0].seq, tail[0].payload.len()), (ISS + 1 + 1608, 392));
}

#[test]
fn tiny_peer_mss_is_raised_to_the_floor() {
    let mut h = Harness::new();
    h.conn.listen(None).unwrap();
    h.send(seg(IRS, 0, SYN).mss(1));
    h.output();
    h.send(seg(IRS + 1, ISS + 1, ACK));
    assert_eq!(h.conn.send_mss(), 88);
}

#[test]
fn keepalive_probes_and_times_out() {
    let config = Config {
        keepalive: Some(Keepalive {
            idle: Duration::from_secs(10),
            interval: Duration::from_secs(1),
            probes: 3,
        }),
        ..test_config()
    };
    let mut h = Harness::with_config(config, ISS);
    h.conn.listen(None).unwrap();
    h.send(seg(IRS, 0, SYN));
    h.output();
    h.send(seg(IRS + 1, ISS + 1, ACK));
    // Probe: <SEQ=SND.NXT-1><ACK=RCV.NXT>, no data (RFC 1122 §4.2.3.6).
    let probe = out(ISS, IRS + 1, ACK, 60_000);
    h.at(9_999).tick().expect_nothing();
    h.at(10_000).tick().expect(std::slice::from_ref(&probe));
    // An answer resets the count; the next probe comes after another idle period.
    h.at(10_001).send(seg(IRS + 1, ISS + 1, ACK));
    h.at(11_000).tick().expect_nothing();
    h.at(20_001).tick().expect(std::slice::from_ref(&probe));
    h.at(21_001).tick().expect(std::slice::from_ref(&probe));
    h.at(22_001).tick().expect(std::slice::from_ref(&probe));
    h.at(23_001).tick().expect_nothing();
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.conn.error(), Some(ConnectionError::TimedOut));
}

#[test]
fn a_closed_connection_answers_with_the_rfc_resets() {
    let mut h = Harness::new();
    h.conn.connect(REMOTE_PORT, h.now).unwrap();
    h.output();
    h.conn.close().unwrap();
    // ACK off: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
    h.send(seg(IRS, 0, SYN));
    h.expect(&[out(0, IRS + 1, RST | ACK, 0)]);
    h.send(seg(IRS, 0, FIN).payload(b"abc"));
    h.expect(&[out(0, IRS + 4, RST | ACK, 0)]);
    // ACK on: <SEQ=SEG.ACK><CTL=RST>.
    h.send(seg(IRS, 4242, ACK));
    h.expect(&[out(4242, 0, RST, 0)]);
    // A RST is never answered.
    h.send(seg(IRS, 0, RST));
    h.expect_nothing();
}

#[test]
fn releasing_with_unread_data_resets() {
    let mut h = Harness::established_passive();
    h.send(seg(IRS + 1, ISS + 1, ACK | PSH).payload(b"unread"));
    h.conn.release(h.now);
    h.expect(&[out(ISS + 1, 0, RST, 0)]);
    assert_eq!(h.conn.state(), State::Closed);
    assert!(h.conn.is_finished());
}

#[test]
fn releasing_after_reading_closes_gracefully_and_data_after_that_resets() {
    let mut h = Harness::established_passive();
    h.conn.release(h.now);
    h.expect(&[out(ISS + 1, IRS + 1, FIN | ACK, 60_000)]);
    h.at(5).send(seg(IRS + 1, ISS + 2, ACK));
    assert_eq!(h.conn.state(), State::FinWait2);
    // An orphan in FIN-WAIT-2 is bounded by fin_wait_2_timeout (60 s).
    assert_eq!(h.conn.poll_deadline(), Some(ms(60_005)));
    h.at(6)
        .send(seg(IRS + 1, ISS + 2, ACK | PSH).payload(b"more"));
    h.expect(&[out(ISS + 2, 0, RST, 0)]);
    assert_eq!(h.conn.state(), State::Closed);
}

#[test]
fn filling_the_send_buffer_exactly_still_reports_writable() {
    // A writer that never asks for more than fits (as echo does) must still hear when
    // space frees up, or it waits forever.
    let mut h = Harness::established_passive();
    assert_eq!(h.conn.send_capacity(), 60_000);
    assert_eq!(h.conn.send(&bytes(60_000), h.now), Ok(60_000));
    h.output();
    h.at(5).send(seg(IRS + 1, ISS + 1001, ACK));
    assert_eq!(h.conn.poll_event(), Some(Event::Writable));
    // Not after a send that leaves room.
    assert_eq!(h.conn.send(&bytes(10), h.now), Ok(10));
    h.output();
    h.at(6).send(seg(IRS + 1, ISS + 2001, ACK));
    assert_eq!(h.conn.poll_event(), None);
}

#[test]
fn send_buffer_full_pushes_back_then_reports_writable() {
    let mut h = Harness::established_passive();
    assert_eq!(h.conn.send(&bytes(70_000), h.now), Ok(60_000));
    assert_eq!(h.conn.send(b"x", h.now), Err(Error::WouldBlock));
    h.output();
    h.at(5).send(seg(IRS + 1, ISS + 1001, ACK));
    assert_eq!(h.conn.poll_event(), Some(Event::Writable));
    assert_eq!(h.conn.send(&bytes(5000), h.now), Ok(1000));
}
