//! Timestamps (RFC 7323) and selective acknowledgments (RFC 2018, D-SACK RFC 2883), exact
//! segments in and out: negotiation in the SYN exchange, the option on every segment and
//! its echo, the segment size it costs, PAWS, RTT measured from an echo after a
//! retransmission, and the SACK blocks a receiver reports.

mod common;

use common::*;
use std::time::Duration;
use xdptcp::tcp::State;

/// Our timestamp clock's offset in these tests: TSval = OFFSET + milliseconds.
const OFFSET: u32 = 7000;

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// A listener with timestamps and SACK offered.
fn listener() -> Harness {
    let mut h = Harness::with_config(options_config(), ISS);
    h.conn.set_timestamp_offset(OFFSET);
    h.conn.listen(None).unwrap();
    h
}

/// ESTABLISHED by a passive open at t = 0 with a peer that offered timestamps (its TSval
/// 500 on the SYN, 501 on the ACK) and SACK.
fn established_with_options() -> Harness {
    let mut h = listener();
    h.send(
        seg(IRS, 0, SYN)
            .mss(1000)
            .wscale(0)
            .sack_permitted()
            .ts(500, 0),
    );
    h.expect(&[out(ISS, IRS + 1, SYN | ACK, 60_000)
        .mss(1000)
        .wscale(0)
        .sack_permitted()
        .ts(OFFSET, 500)]);
    h.send(seg(IRS + 1, ISS + 1, ACK).ts(501, OFFSET));
    assert_eq!(h.conn.state(), State::Established);
    h.conn.poll_event();
    h
}

#[test]
fn a_syn_ack_offers_timestamps_and_sack_only_when_the_syn_did() {
    established_with_options();
    let mut h = listener();
    h.send(seg(IRS, 0, SYN).mss(1000).wscale(0));
    h.expect(&[out(ISS, IRS + 1, SYN | ACK, 60_000).mss(1000).wscale(0)]);
    h.send(seg(IRS + 1, ISS + 1, ACK));
    assert_eq!(h.conn.send_mss(), 1000, "no timestamps: no option overhead");
}

#[test]
fn an_active_open_offers_timestamps_and_sack() {
    let mut h = Harness::with_config(options_config(), ISS);
    h.conn.set_timestamp_offset(OFFSET);
    h.at(3);
    h.conn.connect(REMOTE_PORT, h.now).unwrap();
    // RFC 7323 §3.2: TSecr is zero in a SYN.
    h.expect(&[out(ISS, 0, SYN, 60_000)
        .mss(1000)
        .wscale(0)
        .sack_permitted()
        .ts(OFFSET + 3, 0)]);
}

#[test]
fn every_segment_carries_timestamps_echoing_ts_recent() {
    let mut h = established_with_options();
    // Data: the delayed ACK echoes the TSval of the segment at Last.ACK.sent.
    h.at(7).send(
        seg(IRS + 1, ISS + 1, ACK | PSH)
            .ts(502, OFFSET)
            .payload(b"hello"),
    );
    h.at(47)
        .tick()
        .expect(&[out(ISS + 1, IRS + 6, ACK, 59_995).ts(OFFSET + 47, 502)]);
    // Two segments before our next ACK: the echo is the first's (RFC 7323 §4.3), so the
    // peer's RTT includes the ACK delay.
    h.at(50).send(
        seg(IRS + 6, ISS + 1, ACK)
            .ts(510, OFFSET + 47)
            .payload(&bytes(1000)),
    );
    h.at(51).send(
        seg(IRS + 1006, ISS + 1, ACK)
            .ts(511, OFFSET + 47)
            .payload(&bytes(1000)),
    );
    let acks = h.output();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].ack, IRS + 2006);
    assert_eq!(acks[0].options.timestamps, Some((OFFSET + 51, 510)));
}

#[test]
fn timestamps_take_twelve_bytes_off_every_segment() {
    let mut h = established_with_options();
    assert_eq!(h.conn.send_mss(), 988);
    h.conn.set_nodelay(true);
    h.conn.send(&bytes(3000), h.now).unwrap();
    let sizes: Vec<usize> = h.output().iter().map(|s| s.payload.len()).collect();
    assert_eq!(sizes, vec![988, 988, 988, 36]);
}

#[test]
fn paws_drops_an_old_duplicate_and_acknowledges() {
    let mut h = established_with_options();
    h.at(5).send(
        seg(IRS + 1, ISS + 1, ACK | PSH)
            .ts(502, OFFSET)
            .payload(b"new"),
    );
    h.output();
    h.at(100).tick().output();
    // A segment stamped before TS.Recent (502): an old duplicate whose sequence numbers
    // may have wrapped (RFC 7323 §5.3). Answered with an ACK, its text not taken.
    h.at(101).send(
        seg(IRS + 4, ISS + 1, ACK | PSH)
            .ts(400, OFFSET)
            .payload(b"old"),
    );
    h.expect(&[out(ISS + 1, IRS + 4, ACK, 59_997).ts(OFFSET + 101, 502)]);
    assert_eq!(h.conn.recv_available(), 3);
    assert_eq!(h.conn.stats().paws_rejected, 1);
}

#[test]
fn a_segment_without_timestamps_is_dropped_once_they_were_agreed() {
    let mut h = established_with_options();
    h.at(5)
        .send(seg(IRS + 1, ISS + 1, ACK | PSH).payload(b"bare"));
    h.expect_nothing();
    assert_eq!(h.conn.recv_available(), 0);
    assert_eq!(h.conn.stats().missing_timestamps, 1);
    // A reset needs none.
    h.send(seg(IRS + 1, 0, RST));
    assert_eq!(h.conn.state(), State::Closed);
}

#[test]
fn an_echoed_timestamp_measures_the_rtt_of_retransmitted_data() {
    let mut h = established_with_options();
    assert_eq!(h.conn.srtt(), Some(Duration::ZERO));
    h.at(10);
    h.conn.send(b"ping", h.now).unwrap();
    assert_eq!(h.output().len(), 1);
    // The RTO (200 ms floor) resends it with TSval OFFSET + 210; Karn's rule allows no
    // sample from the ACK, but its echo names the copy it answers.
    h.at(210).tick();
    let again = h.output();
    assert_eq!(again[0].options.timestamps, Some((OFFSET + 210, 501)));
    h.at(260)
        .send(seg(IRS + 1, ISS + 5, ACK).ts(520, OFFSET + 210));
    // SRTT = 7/8 · 0 + 1/8 · 50 ms (RFC 6298 §2.3).
    assert_eq!(h.conn.srtt(), Some(Duration::from_micros(6_250)));
}

#[test]
fn sack_blocks_report_out_of_order_data_most_recent_first() {
    let mut h = established_with_options();
    let data = bytes(4000);
    h.at(5).send(
        seg(IRS + 1001, ISS + 1, ACK)
            .ts(502, OFFSET)
            .payload(&data[1000..2000]),
    );
    h.expect(&[out(ISS + 1, IRS + 1, ACK, 60_000)
        .ts(OFFSET + 5, 501)
        .sack(&[(IRS + 1001, IRS + 2001)])]);
    h.at(6).send(
        seg(IRS + 3001, ISS + 1, ACK)
            .ts(503, OFFSET)
            .payload(&data[3000..4000]),
    );
    h.expect(&[out(ISS + 1, IRS + 1, ACK, 60_000)
        .ts(OFFSET + 6, 501)
        .sack(&[(IRS + 3001, IRS + 4001), (IRS + 1001, IRS + 2001)])]);
    // The hole at the front fills: the cumulative ACK moves, one block is left.
    h.at(7).send(
        seg(IRS + 1, ISS + 1, ACK)
            .ts(504, OFFSET)
            .payload(&data[..1000]),
    );
    h.expect(&[out(ISS + 1, IRS + 2001, ACK, 58_000)
        .ts(OFFSET + 7, 504)
        .sack(&[(IRS + 3001, IRS + 4001)])]);
}

#[test]
fn a_duplicate_segment_is_reported_in_a_dsack_block() {
    let mut h = established_with_options();
    let data = bytes(3000);
    h.at(5).send(
        seg(IRS + 1, ISS + 1, ACK)
            .ts(502, OFFSET)
            .payload(&data[..1000]),
    );
    h.at(45).tick().output();
    // The same segment again (its ACK was lost): D-SACK of it, once (RFC 2883 §4.1).
    h.at(50).send(
        seg(IRS + 1, ISS + 1, ACK)
            .ts(503, OFFSET)
            .payload(&data[..1000]),
    );
    h.expect(&[out(ISS + 1, IRS + 1001, ACK, 59_000)
        .ts(OFFSET + 50, 502)
        .sack(&[(IRS + 1, IRS + 1001)])]);
    // A duplicate of out-of-order data: D-SACK first, then the block holding it.
    h.at(60).send(
        seg(IRS + 2001, ISS + 1, ACK)
            .ts(504, OFFSET)
            .payload(&data[2000..3000]),
    );
    h.output();
    h.at(61).send(
        seg(IRS + 2001, ISS + 1, ACK)
            .ts(505, OFFSET)
            .payload(&data[2000..3000]),
    );
    h.expect(&[out(ISS + 1, IRS + 1001, ACK, 59_000)
        .ts(OFFSET + 61, 502)
        .sack(&[(IRS + 2001, IRS + 3001), (IRS + 2001, IRS + 3001)])]);
    assert_eq!(h.conn.stats().dsacks_sent, 2);
}

/// Closes `h` from our side first: our FIN, then the peer's ACK and FIN with `tsval`
/// (TS.Recent then), so we wait in TIME-WAIT with RCV.NXT = IRS + 2.
fn into_time_wait(mut h: Harness, tsval: Option<u32>) -> Harness {
    h.at(10);
    h.conn.close().unwrap();
    h.output();
    let fin = seg(IRS + 1, ISS + 2, ACK | FIN);
    h.send(match tsval {
        Some(v) => fin.ts(v, OFFSET + 10),
        None => fin,
    });
    assert_eq!(h.conn.state(), State::TimeWait);
    h
}

#[test]
fn time_wait_admits_a_new_syn_by_its_timestamp_as_rfc_6191_says() {
    let h = into_time_wait(established_with_options(), Some(900));
    let admits = |seq: u32, tsval: Option<u32>| {
        let syn = seg(seq, 0, SYN).mss(1000);
        let syn = match tsval {
            Some(v) => syn.ts(v, 0),
            None => syn,
        };
        h.conn.admits_new_incarnation(&syn.repr())
    };
    // A newer TSval admits the SYN whatever its sequence number (a client's ISN may well
    // lie below the old connection's, as Linux clients' per-4-tuple clocks allow).
    assert!(admits(IRS - 5000, Some(901)));
    assert!(admits(IRS + 5000, Some(901)));
    // An older TSval is an old duplicate even with a higher sequence number.
    assert!(!admits(IRS + 5000, Some(899)));
    // The same TSval falls back to the sequence number.
    assert!(admits(IRS + 5000, Some(900)));
    assert!(!admits(IRS + 1, Some(900)));
    // A SYN without timestamps: only by its sequence number, above RCV.NXT.
    assert!(admits(IRS + 3, None));
    assert!(!admits(IRS + 2, None));
    assert!(!admits(IRS - 5000, None));
    // Not a plain SYN: never.
    let syn_ack = seg(IRS + 5000, ISS, SYN | ACK).ts(901, 0);
    assert!(!h.conn.admits_new_incarnation(&syn_ack.repr()));
}

#[test]
fn time_wait_without_timestamps_admits_a_syn_that_will_use_them() {
    let mut h = listener();
    h.send(seg(IRS, 0, SYN).mss(1000).wscale(0));
    h.output();
    h.send(seg(IRS + 1, ISS + 1, ACK));
    assert_eq!(h.conn.state(), State::Established);
    let h = into_time_wait(h, None);
    let syn = |seq: u32| seg(seq, 0, SYN).mss(1000);
    // RFC 6191 §2: PAWS will guard the new incarnation, so its sequence number is free.
    assert!(h
        .conn
        .admits_new_incarnation(&syn(IRS - 5000).ts(1, 0).repr()));
    assert!(!h.conn.admits_new_incarnation(&syn(IRS - 5000).repr()));
    assert!(h.conn.admits_new_incarnation(&syn(IRS + 3).repr()));
}
