//! Scenario tests: one per arrow of the RFC 9293 state diagram (figure 5), each feeding exact
//! segments at exact times and checking the exact segments that come out.
//!
//! Our ISS is 1000 and the peer's 5000; our receive buffer is 60,000 bytes (window scale
//! shift 0, so window fields read as bytes); MSS 1000; MSL 1 s. Once the peer's FIN has
//! consumed a sequence number the window reads 59,999: the right edge stays where it was, as
//! receiver silly-window avoidance (RFC 1122 §4.2.3.3) does not move it by one byte.
//!
//! | Arrow (RFC 9293 figure 5)                              | Test                                   |
//! |--------------------------------------------------------|----------------------------------------|
//! | CLOSED → LISTEN: passive OPEN                          | `closed_to_listen_on_passive_open`     |
//! | CLOSED → SYN-SENT: active OPEN / snd SYN               | `closed_to_syn_sent_on_active_open`    |
//! | LISTEN → CLOSED: CLOSE                                 | `listen_to_closed_on_close`            |
//! | LISTEN → SYN-RCVD: rcv SYN / snd SYN,ACK               | `listen_to_syn_received_on_syn`        |
//! | LISTEN → SYN-SENT: SEND / snd SYN                      | `listen_to_syn_sent_on_send`           |
//! | SYN-SENT → CLOSED: CLOSE                               | `syn_sent_to_closed_on_close`          |
//! | SYN-SENT → SYN-RCVD: rcv SYN / snd SYN,ACK             | `syn_sent_to_syn_received_on_simultaneous_syn` |
//! | SYN-SENT → ESTAB: rcv SYN,ACK / snd ACK                | `syn_sent_to_established_on_syn_ack`   |
//! | SYN-RCVD → LISTEN: rcv RST (passive OPEN)              | `syn_received_to_listen_on_rst`        |
//! | SYN-RCVD → ESTAB: rcv ACK of SYN                       | `syn_received_to_established_on_ack`   |
//! | SYN-RCVD → FIN-WAIT-1: CLOSE / snd FIN                 | `syn_received_to_fin_wait_1_on_close`  |
//! | ESTAB → FIN-WAIT-1: CLOSE / snd FIN                    | `established_to_fin_wait_1_on_close`   |
//! | ESTAB → CLOSE-WAIT: rcv FIN / snd ACK                  | `established_to_close_wait_on_fin`     |
//! | FIN-WAIT-1 → FIN-WAIT-2: rcv ACK of FIN                | `fin_wait_1_to_fin_wait_2_on_ack_of_fin` |
//! | FIN-WAIT-1 → CLOSING: rcv FIN / snd ACK                | `fin_wait_1_to_closing_on_fin`         |
//! | FIN-WAIT-2 → TIME-WAIT: rcv FIN / snd ACK              | `fin_wait_2_to_time_wait_on_fin`       |
//! | CLOSING → TIME-WAIT: rcv ACK of FIN                    | `closing_to_time_wait_on_ack_of_fin`   |
//! | CLOSE-WAIT → LAST-ACK: CLOSE / snd FIN                 | `close_wait_to_last_ack_on_close`      |
//! | LAST-ACK → CLOSED: rcv ACK of FIN                      | `last_ack_to_closed_on_ack_of_fin`     |
//! | TIME-WAIT → CLOSED: timeout 2·MSL                      | `time_wait_to_closed_after_two_msl`    |
//!
//! Transitions the figure leaves to the text (RFC 9293 §3.10):
//!
//! | Transition                                             | Test                                   |
//! |--------------------------------------------------------|----------------------------------------|
//! | FIN-WAIT-1 → TIME-WAIT: rcv FIN with ACK of our FIN    | `fin_wait_1_to_time_wait_on_fin_and_ack` |
//! | SYN-SENT → CLOSED: rcv RST with acceptable ACK         | `syn_sent_to_closed_on_rst_is_refused` |
//! | SYN-SENT → CLOSED: SYN retransmissions exhausted       | `syn_sent_to_closed_after_retries_times_out` |
//! | SYN-RCVD → CLOSED: rcv RST (active OPEN)               | `syn_received_to_closed_on_rst_after_simultaneous_open` |
//! | ESTAB → CLOSED: rcv RST at RCV.NXT                     | `established_to_closed_on_exact_rst`   |
//! | ESTAB → CLOSED: ABORT / snd RST                        | `established_to_closed_on_abort`       |
//! | ESTAB → CLOSED: data retransmissions exhausted         | `established_to_closed_after_data_retries_times_out` |
//! | TIME-WAIT: rcv FIN again / snd ACK, restart 2·MSL      | `time_wait_acks_retransmitted_fin_and_restarts` |
//!
//! The textbook sequences (handshake ACKs at ISN + 1, a transfer across 2^32, half-close, a
//! close that waits for unsent and unread bytes) are in `tests/tcp_sequences.rs`.

mod common;

use common::*;
use xdptcp::tcp::{ConnectionError, Error, Event, State};

fn syn_from_peer() -> Seg {
    seg(IRS, 0, SYN).mss(1000).wscale(0)
}

fn our_syn() -> Seg {
    out(ISS, 0, SYN, 60_000).mss(1000).wscale(0)
}

fn our_syn_ack() -> Seg {
    out(ISS, IRS + 1, SYN | ACK, 60_000).mss(1000).wscale(0)
}

/// ESTABLISHED, then CLOSE: our FIN (SEQ=ISS+1) is out, state FIN-WAIT-1.
fn fin_wait_1() -> Harness {
    let mut h = Harness::established_passive();
    h.conn.close().unwrap();
    h.expect(&[out(ISS + 1, IRS + 1, FIN | ACK, 60_000)]);
    assert_eq!(h.conn.state(), State::FinWait1);
    h
}

/// ESTABLISHED, then the peer's FIN: state CLOSE-WAIT.
fn close_wait() -> Harness {
    let mut h = Harness::established_passive();
    h.send(seg(IRS + 1, ISS + 1, FIN | ACK));
    h.expect(&[out(ISS + 1, IRS + 2, ACK, 59_999)]);
    assert_eq!(h.conn.state(), State::CloseWait);
    h
}

#[test]
fn closed_to_listen_on_passive_open() {
    let mut h = Harness::new();
    assert_eq!(h.conn.state(), State::Closed);
    h.conn.listen(None).unwrap();
    assert_eq!(h.conn.state(), State::Listen);
    h.expect_nothing();
    assert_eq!(h.conn.poll_deadline(), None);
    // A second OPEN on the same connection is refused.
    assert_eq!(h.conn.listen(None), Err(Error::InvalidState(State::Listen)));
}

#[test]
fn closed_to_syn_sent_on_active_open() {
    let mut h = Harness::new();
    h.conn.connect(REMOTE_PORT, h.now).unwrap();
    assert_eq!(h.conn.state(), State::SynSent);
    h.expect(&[our_syn()]);
    // RFC 6298 §2.1: the first retransmission after 1 s, then backed off to 2 s.
    h.at(999).tick().expect_nothing();
    h.at(1000).tick().expect(&[our_syn()]);
    h.at(2999).tick().expect_nothing();
    h.at(3000).tick().expect(&[our_syn()]);
}

#[test]
fn listen_to_closed_on_close() {
    let mut h = Harness::new();
    h.conn.listen(None).unwrap();
    h.conn.close().unwrap();
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.conn.poll_event(), Some(Event::Closed));
    assert_eq!(h.conn.error(), None);
    h.expect_nothing();
}

#[test]
fn listen_to_syn_received_on_syn() {
    let mut h = Harness::new();
    h.conn.listen(None).unwrap();
    h.send(syn_from_peer());
    assert_eq!(h.conn.state(), State::SynReceived);
    // <SEQ=ISS><ACK=RCV.NXT = IRS+1><CTL=SYN,ACK>, our MSS and window scale.
    h.expect(&[our_syn_ack()]);
    assert_eq!(h.conn.remote_port(), REMOTE_PORT);
    // Lost SYN,ACK: retransmitted after the initial RTO.
    h.at(1000).tick().expect(&[our_syn_ack()]);
}

#[test]
fn listen_to_syn_sent_on_send() {
    let mut h = Harness::new();
    h.conn.listen(Some(REMOTE_PORT)).unwrap();
    assert_eq!(h.conn.send(b"hello", h.now), Ok(5));
    assert_eq!(h.conn.state(), State::SynSent);
    h.expect(&[our_syn()]);
    // The queued data goes out with the handshake's ACK.
    h.at(10)
        .send(seg(IRS, ISS + 1, SYN | ACK).mss(1000).wscale(0));
    assert_eq!(h.conn.state(), State::Established);
    h.expect(&[out(ISS + 1, IRS + 1, ACK | PSH, 60_000).payload(b"hello")]);
}

#[test]
fn listen_without_peer_refuses_send() {
    let mut h = Harness::new();
    h.conn.listen(None).unwrap();
    assert_eq!(
        h.conn.send(b"x", h.now),
        Err(Error::InvalidState(State::Listen))
    );
    assert_eq!(h.conn.state(), State::Listen);
}

#[test]
fn syn_sent_to_closed_on_close() {
    let mut h = Harness::new();
    h.conn.connect(REMOTE_PORT, h.now).unwrap();
    h.expect(&[our_syn()]);
    h.conn.close().unwrap();
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.conn.poll_deadline(), None);
    h.expect_nothing();
    // A late SYN,ACK meets a closed connection and is answered with <SEQ=SEG.ACK><CTL=RST>.
    h.at(5).send(seg(IRS, ISS + 1, SYN | ACK));
    h.expect(&[out(ISS + 1, 0, RST, 0)]);
}

#[test]
fn shutdown_write_in_syn_sent_sends_fin_after_the_handshake() {
    // Unlike CLOSE, an application's half-close before the handshake completes is kept:
    // the FIN follows the queued data once ESTABLISHED (which becomes FIN-WAIT-1 at once).
    let mut h = Harness::new();
    h.conn.connect(REMOTE_PORT, h.now).unwrap();
    h.conn.send(b"req", h.now).unwrap();
    h.conn.shutdown_write().unwrap();
    assert_eq!(h.conn.state(), State::SynSent);
    h.expect(&[our_syn()]);
    h.at(10)
        .send(seg(IRS, ISS + 1, SYN | ACK).mss(1000).wscale(0));
    assert_eq!(h.conn.state(), State::FinWait1);
    assert_eq!(h.conn.poll_event(), Some(Event::Connected));
    h.expect(&[out(ISS + 1, IRS + 1, FIN | ACK | PSH, 60_000).payload(b"req")]);
    // Reading goes on after our FIN.
    h.at(11)
        .send(seg(IRS + 1, ISS + 5, ACK | PSH).payload(b"resp"));
    assert_eq!(h.conn.state(), State::FinWait2);
    assert_eq!(h.read_all(), b"resp");
}

#[test]
fn syn_sent_to_syn_received_on_simultaneous_syn() {
    let mut h = Harness::new();
    h.conn.connect(REMOTE_PORT, h.now).unwrap();
    h.expect(&[our_syn()]);
    // Their SYN crosses ours (RFC 9293 figure 7).
    h.at(5).send(syn_from_peer());
    assert_eq!(h.conn.state(), State::SynReceived);
    h.expect(&[our_syn_ack()]);
    // Their SYN,ACK (SEQ=IRS, ACK=ISS+1) completes the handshake.
    h.at(10)
        .send(seg(IRS, ISS + 1, SYN | ACK).mss(1000).wscale(0));
    assert_eq!(h.conn.state(), State::Established);
    assert_eq!(h.conn.poll_event(), Some(Event::Connected));
    h.expect_nothing();
    assert_eq!(h.conn.snd_una().0, ISS + 1);
    assert_eq!(h.conn.rcv_nxt().0, IRS + 1);
}

#[test]
fn syn_sent_to_established_on_syn_ack() {
    let mut h = Harness::new();
    h.conn.connect(REMOTE_PORT, h.now).unwrap();
    h.expect(&[our_syn()]);
    h.at(20)
        .send(seg(IRS, ISS + 1, SYN | ACK).mss(1000).wscale(0));
    assert_eq!(h.conn.state(), State::Established);
    assert_eq!(h.conn.poll_event(), Some(Event::Connected));
    // <SEQ=ISS+1><ACK=IRS+1><CTL=ACK>
    h.expect(&[out(ISS + 1, IRS + 1, ACK, 60_000)]);
    assert_eq!(h.conn.srtt(), Some(std::time::Duration::from_millis(20)));
    assert_eq!(h.conn.poll_deadline(), None);
}

#[test]
fn syn_received_to_listen_on_rst() {
    let mut h = Harness::new();
    h.conn.listen(None).unwrap();
    h.send(syn_from_peer());
    h.expect(&[our_syn_ack()]);
    h.at(5).send(seg(IRS + 1, 0, RST));
    assert_eq!(h.conn.state(), State::Listen);
    // "The user need not be informed."
    assert_eq!(h.conn.poll_event(), None);
    h.expect_nothing();
    assert_eq!(h.conn.poll_deadline(), None);
    // Still listening: a new SYN starts over.
    h.at(6).send(seg(IRS + 100, 0, SYN).mss(1000).wscale(0));
    assert_eq!(h.conn.state(), State::SynReceived);
    h.expect(&[out(ISS, IRS + 101, SYN | ACK, 60_000).mss(1000).wscale(0)]);
}

#[test]
fn syn_received_to_established_on_ack() {
    let mut h = Harness::new();
    h.conn.listen(None).unwrap();
    h.send(syn_from_peer());
    h.expect(&[our_syn_ack()]);
    h.at(3).send(seg(IRS + 1, ISS + 1, ACK));
    assert_eq!(h.conn.state(), State::Established);
    assert_eq!(h.conn.poll_event(), Some(Event::Connected));
    h.expect_nothing();
    assert_eq!(h.conn.poll_deadline(), None);
}

#[test]
fn syn_received_rejects_bad_ack_with_reset() {
    let mut h = Harness::new();
    h.conn.listen(None).unwrap();
    h.send(syn_from_peer());
    h.expect(&[our_syn_ack()]);
    // An ACK of something we never sent: <SEQ=SEG.ACK><CTL=RST>.
    h.send(seg(IRS + 1, ISS + 77, ACK));
    h.expect(&[out(ISS + 77, 0, RST, 0)]);
    assert_eq!(h.conn.state(), State::SynReceived);
}

#[test]
fn syn_received_to_fin_wait_1_on_close() {
    let mut h = Harness::new();
    h.conn.listen(None).unwrap();
    h.send(syn_from_peer());
    h.expect(&[our_syn_ack()]);
    h.conn.close().unwrap();
    assert_eq!(h.conn.state(), State::FinWait1);
    h.expect(&[out(ISS + 1, IRS + 1, FIN | ACK, 60_000)]);
    // One ACK covers SYN and FIN.
    h.at(4).send(seg(IRS + 1, ISS + 2, ACK));
    assert_eq!(h.conn.state(), State::FinWait2);
}

#[test]
fn established_to_fin_wait_1_on_close() {
    let mut h = Harness::established_passive();
    h.conn.close().unwrap();
    assert_eq!(h.conn.state(), State::FinWait1);
    h.expect(&[out(ISS + 1, IRS + 1, FIN | ACK, 60_000)]);
    assert_eq!(h.conn.send(b"late", h.now), Err(Error::WriteClosed));
    // The FIN is retransmitted like data.
    h.at(1000)
        .tick()
        .expect(&[out(ISS + 1, IRS + 1, FIN | ACK, 60_000)]);
}

#[test]
fn established_to_close_wait_on_fin() {
    let mut h = Harness::established_passive();
    h.at(7).send(seg(IRS + 1, ISS + 1, FIN | ACK));
    assert_eq!(h.conn.state(), State::CloseWait);
    // The FIN consumes one sequence number: ACK = IRS + 2.
    h.expect(&[out(ISS + 1, IRS + 2, ACK, 59_999)]);
    assert_eq!(h.conn.poll_event(), Some(Event::ReadClosed));
    let mut buf = [0u8; 8];
    assert_eq!(h.conn.recv(&mut buf), Ok(0));
}

#[test]
fn fin_wait_1_to_fin_wait_2_on_ack_of_fin() {
    let mut h = fin_wait_1();
    h.at(5).send(seg(IRS + 1, ISS + 2, ACK));
    assert_eq!(h.conn.state(), State::FinWait2);
    h.expect_nothing();
    assert_eq!(h.conn.poll_deadline(), None);
}

#[test]
fn fin_wait_1_to_closing_on_fin() {
    let mut h = fin_wait_1();
    // Their FIN crosses ours: it does not acknowledge our FIN.
    h.at(5).send(seg(IRS + 1, ISS + 1, FIN | ACK));
    assert_eq!(h.conn.state(), State::Closing);
    h.expect(&[out(ISS + 2, IRS + 2, ACK, 59_999)]);
}

#[test]
fn fin_wait_1_to_time_wait_on_fin_and_ack() {
    let mut h = fin_wait_1();
    h.at(5).send(seg(IRS + 1, ISS + 2, FIN | ACK));
    assert_eq!(h.conn.state(), State::TimeWait);
    h.expect(&[out(ISS + 2, IRS + 2, ACK, 59_999)]);
    assert_eq!(h.conn.poll_deadline(), Some(ms(2005)));
}

#[test]
fn fin_wait_2_to_time_wait_on_fin() {
    let mut h = fin_wait_1();
    h.at(5).send(seg(IRS + 1, ISS + 2, ACK));
    assert_eq!(h.conn.state(), State::FinWait2);
    h.at(50).send(seg(IRS + 1, ISS + 2, FIN | ACK));
    assert_eq!(h.conn.state(), State::TimeWait);
    h.expect(&[out(ISS + 2, IRS + 2, ACK, 59_999)]);
    assert_eq!(h.conn.poll_deadline(), Some(ms(2050)));
}

#[test]
fn closing_to_time_wait_on_ack_of_fin() {
    let mut h = fin_wait_1();
    h.at(5).send(seg(IRS + 1, ISS + 1, FIN | ACK));
    h.expect(&[out(ISS + 2, IRS + 2, ACK, 59_999)]);
    assert_eq!(h.conn.state(), State::Closing);
    h.at(9).send(seg(IRS + 2, ISS + 2, ACK));
    assert_eq!(h.conn.state(), State::TimeWait);
    h.expect_nothing();
    assert_eq!(h.conn.poll_deadline(), Some(ms(2009)));
}

#[test]
fn close_wait_to_last_ack_on_close() {
    let mut h = close_wait();
    // Half-close: after their FIN we can still send.
    assert_eq!(h.conn.send(b"bye", h.now), Ok(3));
    h.conn.close().unwrap();
    assert_eq!(h.conn.state(), State::LastAck);
    h.expect(&[out(ISS + 1, IRS + 2, FIN | ACK | PSH, 59_999).payload(b"bye")]);
}

#[test]
fn last_ack_to_closed_on_ack_of_fin() {
    let mut h = close_wait();
    h.conn.close().unwrap();
    h.expect(&[out(ISS + 1, IRS + 2, FIN | ACK, 59_999)]);
    assert_eq!(h.conn.poll_event(), Some(Event::ReadClosed));
    h.at(3).send(seg(IRS + 2, ISS + 2, ACK));
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.conn.poll_event(), Some(Event::Closed));
    assert_eq!(h.conn.error(), None);
    assert!(h.conn.is_finished());
    assert_eq!(h.conn.poll_deadline(), None);
}

#[test]
fn time_wait_to_closed_after_two_msl() {
    let mut h = fin_wait_1();
    h.at(100).send(seg(IRS + 1, ISS + 2, FIN | ACK));
    h.expect(&[out(ISS + 2, IRS + 2, ACK, 59_999)]);
    assert_eq!(h.conn.state(), State::TimeWait);
    h.at(2099).tick();
    assert_eq!(h.conn.state(), State::TimeWait);
    h.at(2100).tick();
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.conn.error(), None);
    assert!(h.conn.is_finished());
}

#[test]
fn time_wait_acks_retransmitted_fin_and_restarts() {
    let mut h = fin_wait_1();
    h.at(100).send(seg(IRS + 1, ISS + 2, FIN | ACK));
    h.expect(&[out(ISS + 2, IRS + 2, ACK, 59_999)]);
    // Our ACK was lost; the peer repeats its FIN.
    h.at(1500).send(seg(IRS + 1, ISS + 2, FIN | ACK));
    h.expect(&[out(ISS + 2, IRS + 2, ACK, 59_999)]);
    assert_eq!(h.conn.poll_deadline(), Some(ms(3500)));
    h.at(3499).tick();
    assert_eq!(h.conn.state(), State::TimeWait);
    h.at(3500).tick();
    assert_eq!(h.conn.state(), State::Closed);
}

#[test]
fn syn_sent_to_closed_on_rst_is_refused() {
    let mut h = Harness::new();
    h.conn.connect(REMOTE_PORT, h.now).unwrap();
    h.expect(&[our_syn()]);
    // A RST without an acceptable ACK is ignored (RFC 9293 §3.10.7.3).
    h.at(1).send(seg(0, ISS + 1, RST));
    assert_eq!(h.conn.state(), State::SynSent);
    h.at(2).send(seg(0, ISS + 1, RST | ACK));
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.conn.error(), Some(ConnectionError::Refused));
    assert_eq!(h.conn.poll_event(), Some(Event::Closed));
    h.expect_nothing();
    assert_eq!(
        h.conn.send(b"x", h.now),
        Err(Error::Connection(ConnectionError::Refused))
    );
}

#[test]
fn syn_sent_rejects_bad_ack_with_reset() {
    let mut h = Harness::new();
    h.conn.connect(REMOTE_PORT, h.now).unwrap();
    h.expect(&[our_syn()]);
    h.send(seg(IRS, ISS + 9, SYN | ACK));
    h.expect(&[out(ISS + 9, 0, RST, 0)]);
    assert_eq!(h.conn.state(), State::SynSent);
}

#[test]
fn syn_sent_to_closed_after_retries_times_out() {
    let mut h = Harness::new();
    h.conn.connect(REMOTE_PORT, h.now).unwrap();
    h.expect(&[our_syn()]);
    // syn_retries = 3: retransmissions at 1, 3 and 7 s, failure at 15 s.
    for t in [1000, 3000, 7000] {
        assert_eq!(h.conn.poll_deadline(), Some(ms(t)));
        h.at(t).tick().expect(&[our_syn()]);
    }
    assert_eq!(h.conn.poll_deadline(), Some(ms(15_000)));
    h.at(15_000).tick().expect_nothing();
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.conn.error(), Some(ConnectionError::TimedOut));
}

#[test]
fn syn_received_to_closed_on_rst_after_simultaneous_open() {
    let mut h = Harness::new();
    h.conn.connect(REMOTE_PORT, h.now).unwrap();
    h.expect(&[our_syn()]);
    h.at(5).send(syn_from_peer());
    h.expect(&[our_syn_ack()]);
    h.at(6).send(seg(IRS + 1, 0, RST));
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.conn.error(), Some(ConnectionError::Refused));
}

#[test]
fn established_to_closed_on_exact_rst() {
    let mut h = Harness::established_passive();
    // RFC 5961 §3.2: in the window but not at RCV.NXT: a challenge ACK, no reset.
    h.at(1).send(seg(IRS + 10, 0, RST));
    assert_eq!(h.conn.state(), State::Established);
    h.expect(&[out(ISS + 1, IRS + 1, ACK, 60_000)]);
    // Outside the window: silently dropped.
    h.at(2).send(seg(IRS + 100_000, 0, RST));
    h.expect_nothing();
    // Exactly at RCV.NXT: reset.
    h.at(3).send(seg(IRS + 1, 0, RST));
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.conn.error(), Some(ConnectionError::Reset));
    let mut buf = [0u8; 4];
    assert_eq!(
        h.conn.recv(&mut buf),
        Err(Error::Connection(ConnectionError::Reset))
    );
    h.expect_nothing();
}

#[test]
fn synchronized_syn_gets_rate_limited_challenge_ack() {
    let mut h = Harness::established_passive();
    // RFC 5961 §4.2: a SYN in a synchronized state draws a challenge ACK, no reset.
    h.at(1).send(seg(IRS + 3, 0, SYN));
    h.expect(&[out(ISS + 1, IRS + 1, ACK, 60_000)]);
    assert_eq!(h.conn.state(), State::Established);
    // The limit is 10 per second; the 11th in the same second gets nothing.
    for _ in 0..9 {
        h.send(seg(IRS + 3, 0, SYN));
        h.expect(&[out(ISS + 1, IRS + 1, ACK, 60_000)]);
    }
    h.send(seg(IRS + 3, 0, SYN));
    h.expect_nothing();
    // A second later the budget is back.
    h.at(1001).send(seg(IRS + 3, 0, SYN));
    h.expect(&[out(ISS + 1, IRS + 1, ACK, 60_000)]);
}

#[test]
fn established_to_closed_on_abort() {
    let mut h = Harness::established_passive();
    h.conn.send(b"unsent", h.now).unwrap();
    h.conn.abort();
    assert_eq!(h.conn.state(), State::Closed);
    // The RST comes from SND.NXT; the unsent data is dropped.
    h.expect(&[out(ISS + 1, 0, RST, 0)]);
    assert_eq!(h.conn.error(), None);
    assert_eq!(h.conn.poll_event(), Some(Event::Closed));
}

#[test]
fn established_to_closed_after_data_retries_times_out() {
    let mut h = Harness::established_passive();
    h.conn.send(b"ping", h.now).unwrap();
    let data = out(ISS + 1, IRS + 1, ACK | PSH, 60_000).payload(b"ping");
    h.expect(std::slice::from_ref(&data));
    // The handshake took no time, so the RTO is the 200 ms floor, doubling after each
    // timeout (RFC 6298 §5.5); data_retries = 4.
    let mut t = 0;
    for backoff in 0..4 {
        t += 200 << backoff;
        assert_eq!(h.conn.poll_deadline(), Some(ms(t)));
        h.at(t).tick().expect(std::slice::from_ref(&data));
    }
    t += 200 << 4;
    h.at(t).tick().expect_nothing();
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.conn.error(), Some(ConnectionError::TimedOut));
}

#[test]
fn listen_answers_ack_with_reset_and_ignores_rst() {
    let mut h = Harness::new();
    h.conn.listen(None).unwrap();
    h.send(seg(IRS, 777, ACK));
    h.expect(&[out(777, 0, RST, 0)]);
    h.send(seg(IRS, 0, RST));
    h.expect_nothing();
    assert_eq!(h.conn.state(), State::Listen);
}
