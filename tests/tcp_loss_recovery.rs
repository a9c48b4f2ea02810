//! Loss recovery with SACK, exact segments in and out: RACK deciding a hole is lost once
//! three segments past it were SACKed (RFC 8985 §6.2), only the hole sent again (RFC 6675),
//! PRR pacing the rest of recovery (RFC 6937), a lost tail repaired by the loss probe
//! instead of a retransmission timeout (RFC 8985 §7), and a timeout resending only what the
//! peer does not hold (RFC 6675 §5.1).
//!
//! Our ISS is 1000, the peer's 5000, MSS 1000, SACK on and timestamps off. The handshake
//! takes 10 ms, so SRTT starts at 10 ms and the RTO at its 200 ms floor.

mod common;

use common::*;
use xdptcp::tcp::{Config, State};

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn sack_config() -> Config {
    Config {
        sack: true,
        nodelay: true,
        ..test_config()
    }
}

/// ESTABLISHED with SACK agreed; SYN at 0 ms, the ACK of our SYN,ACK at 10 ms.
fn established() -> Harness {
    let mut h = Harness::with_config(sack_config(), ISS);
    h.conn.listen(None).unwrap();
    h.send(seg(IRS, 0, SYN).mss(1000).wscale(0).sack_permitted());
    h.expect(&[out(ISS, IRS + 1, SYN | ACK, 60_000)
        .mss(1000)
        .wscale(0)
        .sack_permitted()]);
    h.at(10).send(seg(IRS + 1, ISS + 1, ACK));
    assert_eq!(h.conn.state(), State::Established);
    h.conn.poll_event();
    h
}

/// Data segment `i` (from 0) of a 1,000-byte-segment stream starting at ISS + 1.
fn data(i: u32, stream: &[u8]) -> Seg {
    let at = (i * 1000) as usize;
    out(ISS + 1 + i * 1000, IRS + 1, ACK, 60_000).payload(&stream[at..at + 1000])
}

fn with_psh(s: Seg) -> Seg {
    Seg {
        flags: s.flags | PSH,
        ..s
    }
}

/// The peer's ACK of ISS + 1 + `acked` thousand bytes with one SACK block of segments
/// `from..to`.
fn sack_ack(acked: u32, from: u32, to: u32) -> Seg {
    seg(IRS + 1, ISS + 1 + acked * 1000, ACK).sack(&[(ISS + 1 + from * 1000, ISS + 1 + to * 1000)])
}

#[test]
fn only_the_hole_is_sent_again_once_three_segments_past_it_are_sacked() {
    let mut h = established();
    let stream = bytes(10_000);
    h.at(20);
    h.conn.send(&stream, h.now).unwrap();
    let sent = h.output();
    assert_eq!(sent.len(), 10, "the initial window: ten segments");
    // Segment 0 is lost. The first two SACKs leave it within the reordering window
    // (a quarter of the minimum RTT); the third makes three SACKed segments, which closes
    // the window (RFC 8985 §6.2 step 4): it is lost, recovery begins, and PRR lets the
    // retransmission out at once.
    h.at(30).send(sack_ack(0, 1, 2));
    h.expect_nothing();
    h.send(sack_ack(0, 1, 3));
    h.expect_nothing();
    h.send(sack_ack(0, 1, 4));
    h.expect(&[data(0, &stream)]);
    assert!(h.conn.in_fast_recovery());
    // The rest of the SACKs: nothing else is missing, nothing more is sent.
    for to in 5..=10 {
        h.send(sack_ack(0, 1, to));
        h.expect_nothing();
    }
    assert_eq!(h.conn.stats().retransmitted_segments, 1);
    // The retransmission's ACK covers everything: recovery ends below the old window.
    h.at(40).send(seg(IRS + 1, ISS + 10_001, ACK));
    assert!(!h.conn.in_fast_recovery());
    assert!(h.conn.congestion_window() < 10_000);
    assert_eq!(h.conn.slow_start_threshold(), 5_000);
}

#[test]
fn the_reordering_timer_declares_a_hole_lost_when_few_segments_follow_it() {
    let mut h = established();
    let stream = bytes(3_000);
    h.at(20);
    h.conn.send(&stream, h.now).unwrap();
    assert_eq!(h.output().len(), 3);
    // Segment 0 is lost, 1 and 2 SACKed at 30 ms: fewer than three, so RACK waits a quarter
    // of the minimum RTT (2.5 ms) past RTT + send time: 20 + 10 + 2.5 ms.
    h.at(30).send(sack_ack(0, 1, 3));
    h.expect_nothing();
    assert_eq!(
        h.conn.poll_deadline(),
        Some(xdptcp::Instant::from_micros(32_500))
    );
    h.now = xdptcp::Instant::from_micros(32_500);
    h.tick().expect(&[data(0, &stream)]);
}

#[test]
fn a_lost_tail_is_repaired_by_the_loss_probe_not_a_timeout() {
    let mut h = established();
    let stream = bytes(3_000);
    h.at(20);
    h.conn.send(&stream, h.now).unwrap();
    assert_eq!(h.output().len(), 3);
    // Segments 1 and 2 are lost; the ACK of segment 0 arrives at 30 ms. Two segments stay in
    // flight, so the probe timeout is two SRTTs: 30 + 20 ms, long before the RTO (230 ms).
    h.at(30).send(seg(IRS + 1, ISS + 1001, ACK));
    h.expect_nothing();
    assert_eq!(h.conn.poll_deadline(), Some(ms(50)));
    // No new data: the probe repeats the last segment (RFC 8985 §7.3).
    h.at(50).tick().expect(&[with_psh(data(2, &stream))]);
    assert_eq!(h.conn.stats().loss_probes, 1);
    // Its SACK shows segment 1 missing behind a later-sent delivered segment: lost at once.
    h.at(60).send(sack_ack(1, 2, 3));
    h.expect(&[data(1, &stream)]);
    h.at(70).send(seg(IRS + 1, ISS + 3001, ACK));
    assert_eq!(h.conn.stats().timeouts, 0);
    assert!(!h.conn.in_fast_recovery());
}

#[test]
fn a_timeout_resends_only_what_the_peer_does_not_hold() {
    let mut h = established();
    let stream = bytes(5_000);
    h.at(20);
    h.conn.send(&stream, h.now).unwrap();
    assert_eq!(h.output().len(), 5);
    // Segment 3 SACKed at 30 ms: 0, 1 and 2 are lost once the reordering window has
    // passed (32.5 ms); recovery resends segment 0, and that copy is lost too.
    h.at(30).send(sack_ack(0, 3, 4));
    h.now = xdptcp::Instant::from_micros(32_500);
    h.tick().expect(&[data(0, &stream)]);
    // No ACK comes. Two SRTTs later (52.5 ms) the loss probe repeats the last segment,
    // also in recovery, and twice more when unanswered, after 40 and 80 ms; all are lost,
    // and the RTO the first probe restarted fires at 252.5 ms: every segment not SACKed
    // is deemed lost and resent from the scoreboard as the one-segment window allows.
    for at in [52_500, 92_500, 172_500] {
        assert_eq!(
            h.conn.poll_deadline(),
            Some(xdptcp::Instant::from_micros(at))
        );
        h.now = xdptcp::Instant::from_micros(at);
        h.tick().expect(&[with_psh(data(4, &stream))]);
    }
    assert_eq!(h.conn.stats().loss_probes, 3);
    assert_eq!(
        h.conn.poll_deadline(),
        Some(xdptcp::Instant::from_micros(252_500))
    );
    h.now = xdptcp::Instant::from_micros(252_500);
    h.tick().expect(&[data(0, &stream)]);
    assert_eq!(h.conn.stats().timeouts, 1);
    // Its ACK (still SACKing segment 3) opens the window to two: segments 1 and 2 go,
    // segment 3 (held by the peer) does not.
    h.at(260)
        .send(seg(IRS + 1, ISS + 1001, ACK).sack(&[(ISS + 3001, ISS + 4001)]));
    let next: Vec<u32> = h.output().iter().map(|s| s.seq - ISS - 1).collect();
    assert_eq!(next, vec![1000, 2000]);
}

#[test]
fn a_flight_whose_acks_were_lost_is_probed_with_its_last_segment_not_new_data() {
    let mut h = established();
    let stream = bytes(15_000);
    h.at(20);
    h.conn.send(&stream, h.now).unwrap();
    assert_eq!(h.output().len(), 10, "the initial window: ten segments");
    // All ten arrive, every ACK of them is lost. Five segments wait unsent, but the probe
    // at 20 + 2 × 10 ms repeats segment 9: the peer holds it, so it must answer at once
    // (RFC 9293 §3.10.7.4), where one new segment may wait for its delayed ACK.
    assert_eq!(h.conn.poll_deadline(), Some(ms(40)));
    h.at(40).tick().expect(&[data(9, &stream)]);
    assert_eq!(h.conn.stats().loss_probes, 1);
    // The answer: everything acknowledged, the repeat reported as a duplicate (D-SACK):
    // nothing was lost, the window is not cut, the waiting data goes.
    let window = h.conn.congestion_window();
    h.at(50)
        .send(seg(IRS + 1, ISS + 10_001, ACK).sack(&[(ISS + 9001, ISS + 10_001)]));
    assert_eq!(h.output().len(), 5);
    assert!(h.conn.congestion_window() >= window);
    assert_eq!(h.conn.stats().timeouts, 0);
}

#[test]
fn a_recovery_whose_last_ack_was_lost_ends_by_a_probe_not_a_timeout() {
    let mut h = established();
    let stream = bytes(5_000);
    h.at(20);
    h.conn.send(&stream, h.now).unwrap();
    assert_eq!(h.output().len(), 5);
    // Segment 0 lost; 1..4 SACKed at 30 ms: RACK declares it lost at once (three
    // SACKed segments past it), recovery resends it.
    h.at(30).send(sack_ack(0, 1, 2));
    h.send(sack_ack(0, 1, 3));
    h.send(sack_ack(0, 1, 4));
    h.expect(&[data(0, &stream)]);
    h.send(sack_ack(0, 1, 5));
    h.expect_nothing();
    assert!(h.conn.in_fast_recovery());
    // The repeat arrives but its ACK (of everything) is lost. Two SRTTs after the last
    // segment sent, the probe repeats the last segment instead of waiting for the RTO.
    assert_eq!(h.conn.poll_deadline(), Some(ms(50)));
    h.at(50).tick().expect(&[with_psh(data(4, &stream))]);
    // Its answer, a D-SACK for the duplicate, ends the recovery; no timeout, and no
    // second cut of the window for the same episode.
    let ssthresh = h.conn.slow_start_threshold();
    h.at(60)
        .send(seg(IRS + 1, ISS + 5001, ACK).sack(&[(ISS + 4001, ISS + 5001)]));
    assert!(!h.conn.in_fast_recovery());
    assert_eq!(h.conn.slow_start_threshold(), ssthresh);
    assert_eq!(h.conn.stats().timeouts, 0);
    assert_eq!(h.conn.stats().loss_probes, 1);
}
