//! Regression tests for defects a line-by-line review of the TCP core found, one scenario
//! each (exact segments at exact times), named after the rule that was broken. Each failed
//! before its fix.
//!
//! | Defect                                                              | Test(s)                                                     |
//! |---------------------------------------------------------------------|-------------------------------------------------------------|
//! | A scaled receive window grew past the buffer; a full buffer sent no ACK (RFC 7323 §2.4, RFC 9293 §3.8.6.2.2) | `a_full_receive_buffer_advertises_a_zero_window_at_shift_0`, `_3`, `_7`, `_14` |
//! | Persist probing never gave up (RFC 1122 §4.2.3.5)                   | `unanswered_zero_window_probes_end_the_connection`, `a_released_connection_facing_a_vanished_zero_window_peer_times_out`, `user_timeout_ends_unacknowledged_data`, `user_timeout_ends_a_zero_window_stall_even_with_answered_probes` |
//! | Karn's rule broken on a SYN,ACK sent again for a duplicate SYN (RFC 6298 §3) | `a_syn_ack_sent_again_for_a_duplicate_syn_gives_no_rtt_sample` |
//! | A SYN in a synchronized state was taken as data (RFC 5961 §4.2)     | `a_syn_reaching_into_the_window_draws_a_challenge_ack_and_its_text_is_dropped`, `a_syn_at_rcv_nxt_into_a_zero_window_draws_a_challenge_ack` |
//! | Sender silly-window avoidance let small segments out every RTT (RFC 1122 §4.2.3.4) | `a_small_window_gets_small_segments_only_on_the_override_timeout` |
//! | The RST of an abort after go-back-N used the rewound SND.NXT         | `abort_after_go_back_n_resets_from_the_highest_sequence_sent` |
//! | An ACK below SND.UNA updated SND.WND (RFC 9293 §3.10.7.4)           | `an_ack_below_snd_una_does_not_update_the_send_window`      |
//! | ACKs answering unacceptable segments were not rate-limited          | `acks_answering_unacceptable_pure_acks_are_rate_limited`    |
//! | An active open gave up after 127 s (RFC 1122 §4.2.3.5: at least 3 minutes) | `an_active_open_retries_its_syn_for_at_least_three_minutes` |
//! | An exact RST closed TIME-WAIT (RFC 1337)                            | `time_wait_ignores_a_reset`                                 |
//! | "Every second full-sized segment" counted against our MSS, not the peer's segments (RFC 5681 §4.2) | `every_second_segment_of_a_small_segment_peer_is_acked_at_once` |
//! | (issue 14) Replies to zero-window probes counted as duplicate ACKs (RFC 5681 §2) | `answers_to_zero_window_probes_are_not_duplicate_acks`, `answered_zero_window_probes_keep_the_connection_open` |
//! | (issue 14) A zero-window probe byte left a hole once the window opened | `sending_resumes_at_snd_una_when_the_window_opens_after_a_probe` |
//! | (issue 14) Filling part of a gap was not acknowledged at once (RFC 5681 §4.2) | `a_segment_filling_part_of_a_gap_is_acknowledged_at_once` |
//! | (issue 14) Restart after idle counted pure ACKs as sending (RFC 5681 §4.1) | `restart_after_idle_ignores_pure_acks` |
//! | (issue 14) NewReno's `recover` went stale after 2^31 bytes | `recover_does_not_go_stale_after_two_gigabytes` (unit test in `src/tcp/recovery/new_reno.rs`) |
//! | (issue 15) Any FIN outside the window restarted TIME-WAIT's 2·MSL, not only the peer's FIN retransmitted (RFC 9293 §3.10.7.4 fifth step) | cells TIME-WAIT × FIN, FIN+ACK at SEG.SEQ=RCV.NXT+RCV.WND of `tests/tcp_conformance.rs` |
//! | (issue 15) A FIN without ACK at RCV.NXT into a zero window went unanswered (RFC 9293 §3.10.7.4 first step) | cell ESTABLISHED, RCV.WND=0 × FIN at SEG.SEQ=RCV.NXT of `tests/tcp_conformance.rs` |
//! | (fuzzing, `fuzz/regressions/connection/`) A passive open sent back to LISTEN by a reset forgot its timestamp offset: the next SYN,ACK's TSval was the raw clock (RFC 7323 §7.1) | `a_reset_in_syn_received_keeps_the_timestamp_offset` |

mod common;

use common::*;
use std::time::Duration;
use xdptcp::tcp::{Config, ConnectionError, State};

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// A passive open whose peer offers window scale 0, with our receive buffer of
/// `recv_buffer` bytes, MSS `mss` and delayed ACKs of `delayed_ack`; returns the harness in
/// ESTABLISHED and the right edge the SYN,ACK advertised.
fn established_with_buffer(recv_buffer: usize, mss: u16, delayed_ack: Duration) -> (Harness, u32) {
    let config = Config {
        recv_buffer,
        mss,
        delayed_ack,
        ..test_config()
    };
    let mut h = Harness::with_config(config, ISS);
    h.conn.listen(None).unwrap();
    h.send(seg(IRS, 0, SYN).mss(mss).wscale(0).window(65_535));
    let synack = h.output();
    assert_eq!(synack.len(), 1);
    let edge = IRS + 1 + u32::from(synack[0].window);
    h.send(seg(IRS + 1, ISS + 1, ACK).window(65_535));
    assert_eq!(h.conn.state(), State::Established);
    (h, edge)
}

/// The peer sends full segments as fast as the windows we advertise let it, and the
/// application never reads; once with every segment acknowledged at once (each ACK then
/// computes the window anew, which is where a rounded-up window crept past the buffer) and
/// once with delayed ACKs. Every ACK must promise no room beyond the buffer (the scaled
/// window is rounded down, RFC 7323 §2.4); once the buffer is full the ACK says WND=0; and a
/// further segment at RCV.NXT draws `<ACK=RCV.NXT><WND=0>` (an acceptable segment that
/// cannot be queued is still acknowledged).
fn fill_the_receive_buffer(recv_buffer: usize, mss: u16, shift: u8) {
    for delayed_ack in [Duration::ZERO, Duration::from_millis(40)] {
        fill_the_receive_buffer_with(recv_buffer, mss, shift, delayed_ack);
    }
}

fn fill_the_receive_buffer_with(recv_buffer: usize, mss: u16, shift: u8, delayed_ack: Duration) {
    let (mut h, mut right_edge) = established_with_buffer(recv_buffer, mss, delayed_ack);
    assert_eq!(h.conn.window_scales().1, shift);
    let buffer_end = IRS + 1 + recv_buffer as u32;
    let payload = vec![0x5au8; usize::from(mss)];
    let mut seq = IRS + 1;
    let mut last_ack = None;
    let mut t = 0;
    while seq < right_edge {
        t += 1;
        h.at(t).send(seg(seq, ISS + 1, ACK).payload(&payload));
        seq += u32::from(mss);
        // Delayed ACKs fire too: the peer waits for them when its window is used up.
        if seq >= right_edge {
            h.at(t + 500).tick();
            t += 500;
        }
        for ack in h.output() {
            let edge = ack.ack + (u32::from(ack.window) << shift);
            assert!(
                edge <= buffer_end,
                "shift {shift}, delayed ACK {delayed_ack:?}: ACK {ack:?} promises room up to \
                 {edge}, the buffer ends at {buffer_end}"
            );
            right_edge = right_edge.max(edge);
            last_ack = Some(ack);
        }
    }
    let granularity = 1usize << shift;
    assert!(
        h.conn.recv_available() + granularity > recv_buffer,
        "shift {shift}: {} of {recv_buffer} bytes buffered",
        h.conn.recv_available()
    );
    let last = last_ack.expect("ACKs were sent");
    assert_eq!(last.window, 0, "shift {shift}: the last ACK {last:?}");
    let rcv_nxt = h.conn.rcv_nxt().0;
    h.at(t + 1)
        .send(seg(rcv_nxt, ISS + 1, ACK).payload(&payload));
    h.expect(&[out(ISS + 1, rcv_nxt, ACK, 0)]);
}

#[test]
fn a_full_receive_buffer_advertises_a_zero_window_at_shift_0() {
    fill_the_receive_buffer(60_000, 1460, 0);
}

#[test]
fn a_full_receive_buffer_advertises_a_zero_window_at_shift_3() {
    // The review's sequence: a 256 KiB buffer, MSS 1460, the peer's SYN with window scale
    // 0; 180 segments of 1,460 bytes.
    fill_the_receive_buffer(262_144, 1460, 3);
}

#[test]
fn a_full_receive_buffer_advertises_a_zero_window_at_shift_7() {
    fill_the_receive_buffer(8_000_000, 1460, 7);
}

#[test]
fn a_full_receive_buffer_advertises_a_zero_window_at_shift_14() {
    fill_the_receive_buffer(1 << 30, 9000, 14);
}

/// ESTABLISHED, 4 bytes queued, and the peer's window shut.
fn stalled_by_a_zero_window(config: Config) -> Harness {
    let mut h = Harness::with_config(config, ISS);
    h.conn.listen(None).unwrap();
    h.send(seg(IRS, 0, SYN).mss(1000).wscale(0));
    h.output();
    h.send(seg(IRS + 1, ISS + 1, ACK).window(0));
    h.conn.poll_event();
    h.conn.send(b"data", h.now).unwrap();
    h.expect_nothing();
    h
}

#[test]
fn unanswered_zero_window_probes_end_the_connection() {
    let mut h = stalled_by_a_zero_window(test_config());
    let probe = out(ISS + 1, IRS + 1, ACK, 60_000).payload(b"d");
    // Probes at 200 ms, then backing off; data_retries = 4 unanswered probes, and the
    // next persist timeout ends the connection (RFC 1122 §4.2.3.5).
    let mut t = 0;
    for backoff in 0..4 {
        t += 200 << backoff;
        assert_eq!(h.conn.poll_deadline(), Some(ms(t)));
        h.at(t).tick().expect(std::slice::from_ref(&probe));
    }
    t += 200 << 4;
    h.at(t).tick().expect_nothing();
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.conn.error(), Some(ConnectionError::TimedOut));
    assert!(h.conn.is_finished());
}

#[test]
fn a_released_connection_facing_a_vanished_zero_window_peer_times_out() {
    let mut h = stalled_by_a_zero_window(test_config());
    // The application gives the connection back: a FIN is queued behind the data.
    h.conn.release(h.now);
    assert_eq!(h.conn.state(), State::FinWait1);
    let mut probes = 0;
    while h.conn.state() != State::Closed {
        let next = h.conn.poll_deadline().expect("a timer runs");
        assert!(next < ms(60_000), "still probing at {next:?}");
        h.now = next;
        h.tick();
        probes += h.output().len();
    }
    assert_eq!(probes, 4);
    assert_eq!(h.conn.error(), Some(ConnectionError::TimedOut));
    assert!(h.conn.is_finished());
}

#[test]
fn answered_zero_window_probes_keep_the_connection_open() {
    let mut h = stalled_by_a_zero_window(test_config());
    // Thirty probes, each answered with the window still shut: alive (RFC 9293 §3.8.6.1).
    for _ in 0..30 {
        let next = h.conn.poll_deadline().expect("persist timer");
        h.now = next;
        h.tick();
        assert_eq!(h.output().len(), 1);
        h.send(seg(IRS + 1, ISS + 1, ACK).window(0));
    }
    assert_eq!(h.conn.state(), State::Established);
}

#[test]
fn answers_to_zero_window_probes_are_not_duplicate_acks() {
    let mut h = stalled_by_a_zero_window(test_config());
    let probe = out(ISS + 1, IRS + 1, ACK, 60_000).payload(b"d");
    for _ in 0..4 {
        let next = h.conn.poll_deadline().expect("persist timer");
        h.now = next;
        h.tick().expect(std::slice::from_ref(&probe));
        // The answer repeats SND.UNA with the window still shut: no fast retransmit.
        h.send(seg(IRS + 1, ISS + 1, ACK).window(0));
        h.expect_nothing();
    }
    assert_eq!(h.conn.stats().duplicate_acks_in, 0);
    assert_eq!(h.conn.stats().fast_retransmits, 0);
}

#[test]
fn user_timeout_ends_unacknowledged_data() {
    let config = Config {
        user_timeout: Some(Duration::from_secs(1)),
        ..test_config()
    };
    let mut h = Harness::with_config(config, ISS);
    h.conn.listen(None).unwrap();
    h.send(seg(IRS, 0, SYN).mss(1000));
    h.output();
    h.send(seg(IRS + 1, ISS + 1, ACK));
    h.conn.send(b"ping", h.now).unwrap();
    let data = out(ISS + 1, IRS + 1, ACK | PSH, 60_000).payload(b"ping");
    h.expect(std::slice::from_ref(&data));
    // Retransmissions at 200 and 600 ms; the next would be at 1,400 ms, but the user
    // timeout runs out at 1 s (as Linux's TCP_USER_TIMEOUT).
    h.at(200).tick().expect(std::slice::from_ref(&data));
    h.at(600).tick().expect(std::slice::from_ref(&data));
    assert_eq!(h.conn.poll_deadline(), Some(ms(1_000)));
    h.at(1_000).tick().expect_nothing();
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.conn.error(), Some(ConnectionError::TimedOut));
}

#[test]
fn user_timeout_ends_a_zero_window_stall_even_with_answered_probes() {
    let config = Config {
        user_timeout: Some(Duration::from_secs(2)),
        ..test_config()
    };
    let mut h = stalled_by_a_zero_window(config);
    // Probes at 200, 600 and 1,400 ms, each answered with the window shut; the stall is
    // counted from the first probe, so the user timeout ends it at 2,200 ms.
    for t in [200, 600, 1_400] {
        assert_eq!(h.conn.poll_deadline(), Some(ms(t)));
        h.at(t).tick();
        assert_eq!(h.output().len(), 1);
        h.send(seg(IRS + 1, ISS + 1, ACK).window(0));
    }
    assert_eq!(h.conn.poll_deadline(), Some(ms(2_200)));
    h.at(2_200).tick().expect_nothing();
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.conn.error(), Some(ConnectionError::TimedOut));
}

#[test]
fn a_syn_ack_sent_again_for_a_duplicate_syn_gives_no_rtt_sample() {
    let mut h = Harness::new();
    h.conn.listen(None).unwrap();
    // t=0: SYN; our SYN,ACK is lost. t=900 ms: the same SYN; the SYN,ACK again.
    h.send(seg(IRS, 0, SYN).mss(1000).wscale(0));
    let synack = h.output();
    assert_eq!(synack.len(), 1);
    h.at(900).send(seg(IRS, 0, SYN).mss(1000).wscale(0));
    h.expect(&synack);
    // t=901 ms: the ACK may answer either copy (RFC 6298 §3, Karn): no sample.
    h.at(901).send(seg(IRS + 1, ISS + 1, ACK));
    assert_eq!(h.conn.state(), State::Established);
    assert_eq!(h.conn.srtt(), None);
    assert_eq!(h.conn.rto(), Duration::from_secs(1));
}

#[test]
fn a_syn_reaching_into_the_window_draws_a_challenge_ack_and_its_text_is_dropped() {
    let mut h = Harness::established_passive();
    // SEG.SEQ below RCV.NXT, its text reaching into the window: RFC 5961 §4.2, a challenge
    // ACK "irrespective of the sequence number", and the segment is dropped.
    h.at(1)
        .send(seg(IRS - 2, ISS + 1, SYN | ACK).payload(b"0123456789"));
    h.expect(&[out(ISS + 1, IRS + 1, ACK, 60_000)]);
    assert_eq!(h.conn.recv_available(), 0);
    assert_eq!(h.conn.rcv_nxt().0, IRS + 1);
    assert_eq!(h.conn.state(), State::Established);
    assert_eq!(h.conn.stats().challenge_acks, 1);
}

#[test]
fn a_syn_at_rcv_nxt_into_a_zero_window_draws_a_challenge_ack() {
    let mut h = Harness::established_passive();
    for i in 0..60u32 {
        h.send(seg(IRS + 1 + i * 1000, ISS + 1, ACK).payload(&bytes(1000)));
    }
    assert_eq!(
        h.output().last().unwrap(),
        &out(ISS + 1, IRS + 60_001, ACK, 0)
    );
    h.at(1).send(seg(IRS + 60_001, 0, SYN));
    h.expect(&[out(ISS + 1, IRS + 60_001, ACK, 0)]);
    assert_eq!(h.conn.state(), State::Established);
}

#[test]
fn a_small_window_gets_small_segments_only_on_the_override_timeout() {
    let mut h = Harness::established_passive();
    // The peer's largest window was 60,000; now it offers 100. 5,000 bytes are queued.
    h.send(seg(IRS + 1, ISS + 1, ACK).window(100));
    h.conn.send(&bytes(5000), h.now).unwrap();
    // 100 bytes are neither a full segment, nor all the data, nor half the peer's largest
    // window (RFC 1122 §4.2.3.4): nothing goes out...
    h.expect_nothing();
    // ...until the override timeout (the persist timer, one RTO).
    assert_eq!(h.conn.poll_deadline(), Some(ms(200)));
    h.at(200)
        .tick()
        .expect(&[out(ISS + 1, IRS + 1, ACK, 60_000).payload(&bytes(5000)[..100])]);
    // The peer takes them and offers 100 again: no small segment at once this time either.
    h.at(210).send(seg(IRS + 1, ISS + 101, ACK).window(100));
    h.expect_nothing();
    assert_eq!(h.conn.poll_deadline(), Some(ms(410)));
    h.at(410)
        .tick()
        .expect(&[out(ISS + 101, IRS + 1, ACK, 60_000).payload(&bytes(5000)[100..200])]);
}

#[test]
fn abort_after_go_back_n_resets_from_the_highest_sequence_sent() {
    let mut h = Harness::established_passive();
    h.conn.send(&bytes(3000), h.now).unwrap();
    assert_eq!(h.output().len(), 3);
    // The retransmission timeout rewinds SND.NXT to SND.UNA and sends the first segment
    // again (go-back-N).
    h.at(200).tick();
    assert_eq!(h.output().len(), 1);
    assert_eq!(h.conn.snd_nxt().0, ISS + 1001);
    // The reset must carry the highest sequence number sent, which the peer's RCV.NXT may
    // have reached: anything lower an RFC 5961 peer drops.
    h.conn.abort();
    h.expect(&[out(ISS + 3001, 0, RST, 0)]);
}

#[test]
fn an_ack_below_snd_una_does_not_update_the_send_window() {
    let mut h = Harness::established_passive();
    h.conn.send(&bytes(2000), h.now).unwrap();
    h.output();
    h.at(1)
        .send(seg(IRS + 1, ISS + 2001, ACK | PSH).payload(b"ab"));
    assert_eq!(h.conn.send_window(), 60_000);
    // A reordered segment from the peer: newer sequence number, older acknowledgment, a
    // window of 0. SND.UNA =< SEG.ACK does not hold: the window stays.
    h.at(2)
        .send(seg(IRS + 3, ISS + 1001, ACK | PSH).window(0).payload(b"cd"));
    assert_eq!(h.conn.send_window(), 60_000);
}

#[test]
fn acks_answering_unacceptable_pure_acks_are_rate_limited() {
    let mut h = Harness::established_passive();
    let answer = out(ISS + 1, IRS + 1, ACK, 60_000);
    // A peer that disagrees about the window keeps sending pure ACKs outside it.
    h.at(1).send(seg(IRS + 100_000, ISS + 1, ACK));
    h.expect(std::slice::from_ref(&answer));
    for t in 2..=500 {
        h.at(t).send(seg(IRS + 100_000, ISS + 1, ACK));
        h.expect_nothing();
    }
    assert_eq!(h.conn.stats().acks_rate_limited, 499);
    // Half a second later one more is answered.
    h.at(501).send(seg(IRS + 100_000, ISS + 1, ACK));
    h.expect(std::slice::from_ref(&answer));
    // Unacceptable data is always answered: its sender retransmits because our ACK was lost.
    h.at(502)
        .send(seg(IRS - 999, ISS + 1, ACK).payload(&bytes(1000)));
    h.expect(std::slice::from_ref(&answer));
}

#[test]
fn an_active_open_retries_its_syn_for_at_least_three_minutes() {
    let mut h = Harness::with_config(Config::default(), ISS);
    h.conn.connect(REMOTE_PORT, h.now).unwrap();
    let mut syns = h.output().len();
    while h.conn.state() == State::SynSent {
        h.now = h.conn.poll_deadline().expect("SYN retransmission timer");
        h.tick();
        syns += h.output().len();
    }
    assert_eq!(h.conn.error(), Some(ConnectionError::TimedOut));
    assert!(
        h.now >= ms(180_000),
        "gave up after {:?} and {syns} SYNs",
        h.now
    );
}

#[test]
fn time_wait_ignores_a_reset() {
    let mut h = Harness::established_passive();
    h.conn.close().unwrap();
    h.expect(&[out(ISS + 1, IRS + 1, FIN | ACK, 60_000)]);
    h.at(1).send(seg(IRS + 1, ISS + 2, FIN | ACK));
    h.expect(&[out(ISS + 2, IRS + 2, ACK, 59_999)]);
    assert_eq!(h.conn.state(), State::TimeWait);
    // A reset exactly at RCV.NXT: ignored in TIME-WAIT (RFC 1337).
    h.at(2).send(seg(IRS + 2, 0, RST));
    h.expect_nothing();
    assert_eq!(h.conn.state(), State::TimeWait);
    // TIME-WAIT still ends after 2·MSL from the FIN.
    h.at(2_001).tick();
    assert_eq!(h.conn.state(), State::Closed);
}

#[test]
fn every_second_segment_of_a_small_segment_peer_is_acked_at_once() {
    let mut h = Harness::established_passive();
    // The peer sends 536-byte segments (its MSS); ours is 1,000.
    h.at(1)
        .send(seg(IRS + 1, ISS + 1, ACK).payload(&bytes(536)));
    h.expect_nothing();
    h.at(2)
        .send(seg(IRS + 537, ISS + 1, ACK).payload(&bytes(536)));
    h.expect(&[out(ISS + 1, IRS + 1073, ACK, 58_928)]);
}

#[test]
fn sending_resumes_at_snd_una_when_the_window_opens_after_a_probe() {
    let mut h = stalled_by_a_zero_window(test_config());
    h.at(200)
        .tick()
        .expect(&[out(ISS + 1, IRS + 1, ACK, 60_000).payload(b"d")]);
    // The window opens; the probe byte was not taken (the ACK is still ISS + 1).
    h.at(210).send(seg(IRS + 1, ISS + 1, ACK).window(60_000));
    h.expect(&[out(ISS + 1, IRS + 1, ACK | PSH, 60_000).payload(b"data")]);
}

#[test]
fn a_segment_filling_part_of_a_gap_is_acknowledged_at_once() {
    let mut h = Harness::established_passive();
    // Segment 3 arrives first (a duplicate ACK at once), then segment 1: it fills part of
    // the gap (segment 2 is still missing), so it is acknowledged at once too.
    h.at(1)
        .send(seg(IRS + 2001, ISS + 1, ACK).payload(&bytes(1000)));
    h.expect(&[out(ISS + 1, IRS + 1, ACK, 60_000)]);
    h.at(2)
        .send(seg(IRS + 1, ISS + 1, ACK).payload(&bytes(1000)));
    h.expect(&[out(ISS + 1, IRS + 1001, ACK, 59_000)]);
}

#[test]
fn restart_after_idle_ignores_pure_acks() {
    let mut h = Harness::established_passive();
    h.conn.set_nodelay(true);
    // Grow the window: 20 segments, each acknowledged on its own (slow start: one segment
    // of growth per ACK).
    h.conn.send(&bytes(20_000), h.now).unwrap();
    let mut t = 0;
    while h.conn.send_queue_len() > 0 {
        for s in h.output() {
            t += 1;
            h.at(t).send(seg(IRS + 1, s.seq + 1000, ACK));
        }
    }
    assert!(h.conn.congestion_window() > 20_000);
    // Idle for a second, but the peer sends data at 1,400 ms, which we acknowledge (a pure
    // ACK at 1,440 ms, delayed). At 1,500 ms we send again: no data for longer than the RTO
    // means the initial window again (RFC 5681 §4.1), pure ACKs notwithstanding.
    h.at(1_400)
        .send(seg(IRS + 1, ISS + 20_001, ACK).payload(b"ping"));
    h.at(1_440)
        .tick()
        .expect(&[out(ISS + 20_001, IRS + 5, ACK, 59_996)]);
    h.at(1_500);
    h.conn.send(&bytes(40_000), h.now).unwrap();
    assert_eq!(h.output().len(), 10, "the initial window of ten segments");
}

/// Found by the `connection` fuzz target (`fuzz/regressions/connection/`): a reset in
/// SYN-RECEIVED sends a passive open back to LISTEN (RFC 9293 §3.10.7.4, first step), and
/// the SYN,ACK that answers the next SYN must still carry TSval = offset + clock, not the
/// bare clock, which tells anyone the host's uptime (RFC 7323 §7.1).
#[test]
fn a_reset_in_syn_received_keeps_the_timestamp_offset() {
    const OFFSET: u32 = 7000;
    let mut h = Harness::with_config(options_config(), ISS);
    h.conn.set_timestamp_offset(OFFSET);
    h.conn.listen(None).unwrap();
    let syn = |irs: u32, tsval: u32| seg(irs, 0, SYN).mss(1000).wscale(0).ts(tsval, 0);
    h.send(syn(IRS, 500));
    h.expect(&[out(ISS, IRS + 1, SYN | ACK, 60_000)
        .mss(1000)
        .wscale(0)
        .ts(OFFSET, 500)]);
    h.send(seg(IRS + 1, 0, RST));
    assert_eq!(h.conn.state(), State::Listen);
    h.at(5).send(syn(IRS + 10_000, 505));
    h.expect(&[out(ISS, IRS + 10_001, SYN | ACK, 60_000)
        .mss(1000)
        .wscale(0)
        .ts(OFFSET + 5, 505)]);
}
