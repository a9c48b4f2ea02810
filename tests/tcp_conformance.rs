//! Conformance matrix, in the spirit of FreeBSD's tcp-testsuite: each kind of segment, in
//! each state from SYN-RECEIVED on, at four places against the receive window, with the
//! answer RFC 9293 §3.10.7.4 and RFC 5961 give it asserted exactly: what goes out (now, and
//! after the delayed-ACK time), whether it counts as a challenge ACK, and the state after.
//!
//! Each cell runs on a fresh connection driven into its state from a passive open (our ISS
//! 1000, the peer's IRS 5000, a 60,000-byte window at shift 0, no timestamps or SACK), so
//! neither the challenge-ACK limit (`Config::challenge_ack_limit`, RFC 5961 §7) nor the
//! limit on ACKs to unacceptable pure ACKs (`Config::invalid_ack_interval`) can interfere;
//! both have tests of their own at the end of this file. The right edge of the window stays
//! at IRS + 1 + 60,000 throughout, so RCV.WND is 60,000, or 59,999 once the peer's FIN took
//! a sequence number. Every kind with ACK carries SEG.ACK = SND.NXT, acknowledging all we
//! sent (our SYN in SYN-RECEIVED, our FIN where we closed); `data` is ACK with one byte of
//! text. The segment arrives at 10 ms; what the connection sends then, and at 50 ms when a
//! delayed ACK is due, is compared whole (sequence, acknowledgment, flags and window).
//!
//! Positions (SEG.SEQ): RCV.NXT-1, just left of the window; RCV.NXT, its left edge;
//! RCV.NXT+RCV.WND-1, its right edge; RCV.NXT+RCV.WND, just right of it.
//!
//! Answers:
//!
//! | code | segment sent | why |
//! |---|---|---|
//! | `—` | nothing | dropped, or taken without anything to acknowledge |
//! | `ch` | `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>`, counted as a challenge ACK | RFC 5961 §3.2 (RST in the window but not at RCV.NXT), §4.2 (any SYN) |
//! | `dup` | `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>` at once | not acceptable (§3.10.7.4 first step: "an acknowledgment should be sent in reply"), or out of order (RFC 5681 §4.2) |
//! | `ack` | `<SEQ=SND.NXT><ACK=RCV.NXT+1><CTL=ACK>` at once | the FIN was taken (eighth step) |
//! | `dly` | `<SEQ=SND.NXT><ACK=RCV.NXT+1><CTL=ACK>` after 40 ms | the byte was taken; its ACK may be delayed (RFC 1122 §4.2.3.2) |
//! | `syn-ack` | `<SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>` | our SYN,ACK again, for the peer's SYN again |
//! | `rst` | `<SEQ=SEG.ACK><CTL=RST>` | an unacceptable ACK in SYN-RECEIVED (fifth step; second matrix only) |
//!
//! `→ STATE` is the state afterwards where it changed. In TIME-WAIT, the 2·MSL wait is
//! restarted only by the peer's FIN retransmitted, a FIN just left of the window (fifth
//! step, TIME-WAIT: "The only thing that can arrive in this state is a retransmission of
//! the remote FIN. Acknowledge it, and restart the 2 MSL timeout"); every cell ending in
//! TIME-WAIT checks when it ends. Every cell ending in CLOSED checks the error the
//! application is given: "connection reset" where a reset closed ESTABLISHED, FIN-WAIT-1,
//! FIN-WAIT-2 or CLOSE-WAIT (second step: "Users should also receive an unsolicited
//! general 'connection reset' signal"), none where it closed CLOSING or LAST-ACK (there the
//! step only says "enter the CLOSED state, delete the TCB, and return"), nor where the ACK
//! of our FIN closed LAST-ACK.
//!
//! The rules the cells follow, step by step of §3.10.7.4:
//!
//! - Fourth, "check the SYN bit", comes first: "irrespective of the sequence number", a
//!   challenge ACK, and the segment is dropped (RFC 5961 §4.2, as RFC 9293 took it in).
//!   SYN+ACK and SYN+FIN are SYNs: the stack drops SYN+FIN before any connection sees it
//!   (`tests/stack_input_checks.rs`), and a connection that is handed one answers it as the
//!   SYN it is, so SYN+FIN never closes anything. In TIME-WAIT a SYN may open a new
//!   incarnation (RFC 6191), which the stack decides before the connection sees it
//!   (`Connection::admits_new_incarnation`); the connection itself answers with a
//!   challenge.
//! - First, "check sequence number": a segment with no byte in the window (a zero-length
//!   one: SEG.SEQ not in it) is not acceptable; it is answered `dup` unless it is a reset,
//!   which is dropped silently (RFC 5961 §3.2: "If the RST bit is set and the sequence
//!   number is outside the current receive window, silently drop the segment").
//! - Second, "check the RST bit": exactly at RCV.NXT it resets (CLOSED; SYN-RECEIVED from a
//!   passive OPEN returns to LISTEN), anywhere else in the window it draws a challenge ACK
//!   (RFC 5961 §3.2). RST+ACK is the same: the ACK field is not looked at before. In
//!   TIME-WAIT every reset is ignored (RFC 1337 §3, fix (F1): "Ignore RST segments in
//!   TIME-WAIT state"), a deliberate departure from the letter of the second step, which
//!   closes.
//! - Fifth, "check the ACK field": without the ACK bit the segment is dropped, so an
//!   acceptable FIN without ACK is `—`. An ACK of our FIN moves FIN-WAIT-1 to FIN-WAIT-2,
//!   CLOSING to TIME-WAIT and LAST-ACK to CLOSED (the last two end processing there); in
//!   SYN-RECEIVED an ACK of our SYN enters ESTABLISHED and processing goes on.
//! - Seventh, "process the segment text", and eighth, "check the FIN bit": taken in order
//!   in ESTABLISHED, FIN-WAIT-1 and FIN-WAIT-2; a byte or FIN at the right edge is out of
//!   order and held, and the ACK that says what is missing goes out at once. After the
//!   peer's FIN (CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT) text "should not occur" and is
//!   ignored, and so is a second FIN past the first: the eighth step's "advance RCV.NXT
//!   over the FIN" is for the peer's one FIN, whose retransmission arrives left of the
//!   window. Linux ignores both the same way in CLOSE-WAIT, CLOSING and LAST-ACK (its
//!   `tcp_rcv_state_process` stops at the seventh step for SEG.SEQ >= RCV.NXT there).
//!
//! SYN-RECEIVED (from a passive OPEN, our SYN,ACK not yet acknowledged, SND.NXT = ISS + 1):
//! RFC 9293's fourth step returns a passive connection to LISTEN on an acceptable SYN. Just
//! left of the window is SEG.SEQ = IRS, the peer's SYN itself: without ACK it is the SYN
//! retransmitted because our SYN,ACK was lost, answered with the SYN,ACK again (as Linux
//! does; the letter of the first step would send `<SEQ=ISS+1><ACK=IRS+1><CTL=ACK>`, which a
//! peer in SYN-SENT drops); with an acceptable ACK it is the SYN,ACK of a simultaneous open
//! and completes the handshake (RFC 9293 figure 8, line 7).
//!
//! 395 cells in all: 288 in the matrix by SEG.SEQ below, 80 in the one by SEG.ACK, 27 with a
//! zero window; the test prints how many pass and names every one that fails by its
//! coordinates.
//!
//! The matrix, one table per state (rows: the segment; columns: SEG.SEQ):
//!
//! <!-- matrix -->
//!
//! SYN-RECEIVED:
//!
//! | segment | RCV.NXT-1 | RCV.NXT | RCV.NXT+RCV.WND-1 | RCV.NXT+RCV.WND |
//! |---|---|---|---|---|
//! | RST | — | — → LISTEN | ch | — |
//! | RST+ACK | — | — → LISTEN | ch | — |
//! | SYN | syn-ack | — → LISTEN | — → LISTEN | ch |
//! | SYN+ACK | — → ESTABLISHED | — → LISTEN | — → LISTEN | ch |
//! | SYN+FIN | syn-ack | — → LISTEN | — → LISTEN | ch |
//! | FIN | dup | — | — | dup |
//! | FIN+ACK | dup | ack → CLOSE-WAIT | dup → ESTABLISHED | dup |
//! | ACK | dup | — → ESTABLISHED | — → ESTABLISHED | dup |
//! | data | dup | dly → ESTABLISHED | dup → ESTABLISHED | dup |
//!
//! ESTABLISHED:
//!
//! | segment | RCV.NXT-1 | RCV.NXT | RCV.NXT+RCV.WND-1 | RCV.NXT+RCV.WND |
//! |---|---|---|---|---|
//! | RST | — | — → CLOSED | ch | — |
//! | RST+ACK | — | — → CLOSED | ch | — |
//! | SYN | ch | ch | ch | ch |
//! | SYN+ACK | ch | ch | ch | ch |
//! | SYN+FIN | ch | ch | ch | ch |
//! | FIN | dup | — | — | dup |
//! | FIN+ACK | dup | ack → CLOSE-WAIT | dup | dup |
//! | ACK | dup | — | — | dup |
//! | data | dup | dly | dup | dup |
//!
//! FIN-WAIT-1:
//!
//! | segment | RCV.NXT-1 | RCV.NXT | RCV.NXT+RCV.WND-1 | RCV.NXT+RCV.WND |
//! |---|---|---|---|---|
//! | RST | — | — → CLOSED | ch | — |
//! | RST+ACK | — | — → CLOSED | ch | — |
//! | SYN | ch | ch | ch | ch |
//! | SYN+ACK | ch | ch | ch | ch |
//! | SYN+FIN | ch | ch | ch | ch |
//! | FIN | dup | — | — | dup |
//! | FIN+ACK | dup | ack → TIME-WAIT | dup → FIN-WAIT-2 | dup |
//! | ACK | dup | — → FIN-WAIT-2 | — → FIN-WAIT-2 | dup |
//! | data | dup | dly → FIN-WAIT-2 | dup → FIN-WAIT-2 | dup |
//!
//! FIN-WAIT-2:
//!
//! | segment | RCV.NXT-1 | RCV.NXT | RCV.NXT+RCV.WND-1 | RCV.NXT+RCV.WND |
//! |---|---|---|---|---|
//! | RST | — | — → CLOSED | ch | — |
//! | RST+ACK | — | — → CLOSED | ch | — |
//! | SYN | ch | ch | ch | ch |
//! | SYN+ACK | ch | ch | ch | ch |
//! | SYN+FIN | ch | ch | ch | ch |
//! | FIN | dup | — | — | dup |
//! | FIN+ACK | dup | ack → TIME-WAIT | dup | dup |
//! | ACK | dup | — | — | dup |
//! | data | dup | dly | dup | dup |
//!
//! CLOSE-WAIT:
//!
//! | segment | RCV.NXT-1 | RCV.NXT | RCV.NXT+RCV.WND-1 | RCV.NXT+RCV.WND |
//! |---|---|---|---|---|
//! | RST | — | — → CLOSED | ch | — |
//! | RST+ACK | — | — → CLOSED | ch | — |
//! | SYN | ch | ch | ch | ch |
//! | SYN+ACK | ch | ch | ch | ch |
//! | SYN+FIN | ch | ch | ch | ch |
//! | FIN | dup | — | — | dup |
//! | FIN+ACK | dup | — | — | dup |
//! | ACK | dup | — | — | dup |
//! | data | dup | — | — | dup |
//!
//! CLOSING:
//!
//! | segment | RCV.NXT-1 | RCV.NXT | RCV.NXT+RCV.WND-1 | RCV.NXT+RCV.WND |
//! |---|---|---|---|---|
//! | RST | — | — → CLOSED | ch | — |
//! | RST+ACK | — | — → CLOSED | ch | — |
//! | SYN | ch | ch | ch | ch |
//! | SYN+ACK | ch | ch | ch | ch |
//! | SYN+FIN | ch | ch | ch | ch |
//! | FIN | dup | — | — | dup |
//! | FIN+ACK | dup | — → TIME-WAIT | — → TIME-WAIT | dup |
//! | ACK | dup | — → TIME-WAIT | — → TIME-WAIT | dup |
//! | data | dup | — → TIME-WAIT | — → TIME-WAIT | dup |
//!
//! LAST-ACK:
//!
//! | segment | RCV.NXT-1 | RCV.NXT | RCV.NXT+RCV.WND-1 | RCV.NXT+RCV.WND |
//! |---|---|---|---|---|
//! | RST | — | — → CLOSED | ch | — |
//! | RST+ACK | — | — → CLOSED | ch | — |
//! | SYN | ch | ch | ch | ch |
//! | SYN+ACK | ch | ch | ch | ch |
//! | SYN+FIN | ch | ch | ch | ch |
//! | FIN | dup | — | — | dup |
//! | FIN+ACK | dup | — → CLOSED | — → CLOSED | dup |
//! | ACK | dup | — → CLOSED | — → CLOSED | dup |
//! | data | dup | — → CLOSED | — → CLOSED | dup |
//!
//! TIME-WAIT:
//!
//! | segment | RCV.NXT-1 | RCV.NXT | RCV.NXT+RCV.WND-1 | RCV.NXT+RCV.WND |
//! |---|---|---|---|---|
//! | RST | — | — | — | — |
//! | RST+ACK | — | — | — | — |
//! | SYN | ch | ch | ch | ch |
//! | SYN+ACK | ch | ch | ch | ch |
//! | SYN+FIN | ch | ch | ch | ch |
//! | FIN | dup | — | — | dup |
//! | FIN+ACK | dup | — | — | dup |
//! | ACK | dup | — | — | dup |
//! | data | dup | — | — | dup |
//! <!-- end of matrix -->
//!
//! The second matrix moves SEG.ACK instead, with SEG.SEQ = RCV.NXT, for a pure ACK and
//! for one byte of data (RFC 9293 §3.10.7.4 fifth step, RFC 5961 §5.2): SEG.ACK beyond
//! SND.NXT ("acks something not yet sent") or older than SND.UNA − MAX.SND.WND draws a
//! challenge ACK and the segment is dropped, its text with it; from SND.UNA − MAX.SND.WND
//! to SND.UNA it is a duplicate that "can be ignored", and the rest of the segment is
//! processed. In SYN-RECEIVED only SND.UNA < SEG.ACK =< SND.NXT is acceptable; anything else
//! is answered `<SEQ=SEG.ACK><CTL=RST>` (`rst`) and the state stays. MAX.SND.WND is the
//! peer's 60,000; SND.UNA is SND.NXT − 1 where our SYN or FIN is unacknowledged.
//!
//! <!-- ack matrix -->
//!
//! SYN-RECEIVED:
//!
//! | segment | SND.UNA-MAX.SND.WND-1 | SND.UNA-MAX.SND.WND | SND.UNA | SND.NXT | SND.NXT+1 |
//! |---|---|---|---|---|---|
//! | ACK | rst | rst | rst | — → ESTABLISHED | rst |
//! | data | rst | rst | rst | dly → ESTABLISHED | rst |
//!
//! ESTABLISHED:
//!
//! | segment | SND.UNA-MAX.SND.WND-1 | SND.UNA-MAX.SND.WND | SND.UNA | SND.NXT | SND.NXT+1 |
//! |---|---|---|---|---|---|
//! | ACK | ch | — | — | — | ch |
//! | data | ch | dly | dly | dly | ch |
//!
//! FIN-WAIT-1:
//!
//! | segment | SND.UNA-MAX.SND.WND-1 | SND.UNA-MAX.SND.WND | SND.UNA | SND.NXT | SND.NXT+1 |
//! |---|---|---|---|---|---|
//! | ACK | ch | — | — | — → FIN-WAIT-2 | ch |
//! | data | ch | dly | dly | dly → FIN-WAIT-2 | ch |
//!
//! FIN-WAIT-2:
//!
//! | segment | SND.UNA-MAX.SND.WND-1 | SND.UNA-MAX.SND.WND | SND.UNA | SND.NXT | SND.NXT+1 |
//! |---|---|---|---|---|---|
//! | ACK | ch | — | — | — | ch |
//! | data | ch | dly | dly | dly | ch |
//!
//! CLOSE-WAIT:
//!
//! | segment | SND.UNA-MAX.SND.WND-1 | SND.UNA-MAX.SND.WND | SND.UNA | SND.NXT | SND.NXT+1 |
//! |---|---|---|---|---|---|
//! | ACK | ch | — | — | — | ch |
//! | data | ch | — | — | — | ch |
//!
//! CLOSING:
//!
//! | segment | SND.UNA-MAX.SND.WND-1 | SND.UNA-MAX.SND.WND | SND.UNA | SND.NXT | SND.NXT+1 |
//! |---|---|---|---|---|---|
//! | ACK | ch | — | — | — → TIME-WAIT | ch |
//! | data | ch | — | — | — → TIME-WAIT | ch |
//!
//! LAST-ACK:
//!
//! | segment | SND.UNA-MAX.SND.WND-1 | SND.UNA-MAX.SND.WND | SND.UNA | SND.NXT | SND.NXT+1 |
//! |---|---|---|---|---|---|
//! | ACK | ch | — | — | — → CLOSED | ch |
//! | data | ch | — | — | — → CLOSED | ch |
//!
//! TIME-WAIT:
//!
//! | segment | SND.UNA-MAX.SND.WND-1 | SND.UNA-MAX.SND.WND | SND.UNA | SND.NXT | SND.NXT+1 |
//! |---|---|---|---|---|---|
//! | ACK | ch | — | — | — | ch |
//! | data | ch | — | — | — | ch |
//! <!-- end of ack matrix -->
//!
//! The third matrix is ESTABLISHED with a zero receive window (the buffer full and unread,
//! RCV.NXT = IRS + 60,001). "If the RCV.WND is zero, no segments will be acceptable, but
//! special allowance should be made to accept valid ACKs, URGs, and RSTs" (first step): a
//! pure ACK at RCV.NXT is acceptable; a segment with text or FIN at RCV.NXT has its ACK
//! (or RST) processed and its text and FIN dropped, and is answered like any unacceptable
//! one (for text, that is the answer to a zero-window probe); one with neither ACK nor RST
//! has nothing the allowance accepts and is just unacceptable. A reset resets only exactly
//! at RCV.NXT; on either side it is outside the (empty) window and dropped silently.
//!
//! <!-- zero-window matrix -->
//!
//! ESTABLISHED:
//!
//! | segment | RCV.NXT-1 | RCV.NXT | RCV.NXT+1 |
//! |---|---|---|---|
//! | RST | — | — → CLOSED | — |
//! | RST+ACK | — | — → CLOSED | — |
//! | SYN | ch | ch | ch |
//! | SYN+ACK | ch | ch | ch |
//! | SYN+FIN | ch | ch | ch |
//! | FIN | dup | dup | dup |
//! | FIN+ACK | dup | dup | dup |
//! | ACK | dup | — | dup |
//! | data | dup | dup | dup |
//! <!-- end of zero-window matrix -->

mod common;

use std::fmt::Write as _;

use common::*;
use xdptcp::tcp::{ConnectionError, State};
use xdptcp::wire::TcpFlags;

/// The kinds of segment the matrix sends: their control bits, and one byte of text for
/// `Data`. Every kind with ACK carries SEG.ACK = SND.NXT, an acceptable acknowledgment of
/// everything we sent (our SYN in SYN-RECEIVED, our FIN once we closed).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Kind {
    Rst,
    RstAck,
    Syn,
    SynAck,
    SynFin,
    Fin,
    FinAck,
    Ack,
    Data,
}

const KINDS: [Kind; 9] = [
    Kind::Rst,
    Kind::RstAck,
    Kind::Syn,
    Kind::SynAck,
    Kind::SynFin,
    Kind::Fin,
    Kind::FinAck,
    Kind::Ack,
    Kind::Data,
];

impl Kind {
    fn flags(self) -> TcpFlags {
        match self {
            Kind::Rst => RST,
            Kind::RstAck => RST | ACK,
            Kind::Syn => SYN,
            Kind::SynAck => SYN | ACK,
            Kind::SynFin => SYN | FIN,
            Kind::Fin => FIN,
            Kind::FinAck => FIN | ACK,
            Kind::Ack | Kind::Data => ACK,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Rst => "RST",
            Kind::RstAck => "RST+ACK",
            Kind::Syn => "SYN",
            Kind::SynAck => "SYN+ACK",
            Kind::SynFin => "SYN+FIN",
            Kind::Fin => "FIN",
            Kind::FinAck => "FIN+ACK",
            Kind::Ack => "ACK",
            Kind::Data => "data",
        }
    }
}

/// Where SEG.SEQ sits against the receive window [RCV.NXT, RCV.NXT + RCV.WND).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Pos {
    /// RCV.NXT − 1: just left of the window.
    Left,
    /// RCV.NXT: the left edge.
    Next,
    /// RCV.NXT + RCV.WND − 1: the right edge.
    Edge,
    /// RCV.NXT + RCV.WND: just right of the window.
    Right,
}

const POSITIONS: [Pos; 4] = [Pos::Left, Pos::Next, Pos::Edge, Pos::Right];

impl Pos {
    fn seq(self, rcv_nxt: u32, rcv_wnd: u32) -> u32 {
        match self {
            Pos::Left => rcv_nxt - 1,
            Pos::Next => rcv_nxt,
            Pos::Edge => rcv_nxt + rcv_wnd - 1,
            Pos::Right => rcv_nxt + rcv_wnd,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Pos::Left => "RCV.NXT-1",
            Pos::Next => "RCV.NXT",
            Pos::Edge => "RCV.NXT+RCV.WND-1",
            Pos::Right => "RCV.NXT+RCV.WND",
        }
    }
}

/// What the connection sends in answer, checked now and once more after the delayed-ACK
/// time (so a late ACK where none is due fails the cell too).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Answer {
    /// Nothing, now or later.
    Nothing,
    /// A challenge ACK `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>`, counted as one
    /// (RFC 5961 §3.2, §4.2).
    Challenge,
    /// `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>` at once, not a challenge: the answer to an
    /// unacceptable segment (RFC 9293 §3.10.7.4 first step) or to one that arrived out of
    /// order (RFC 5681 §4.2).
    DupAck,
    /// `<SEQ=SND.NXT><ACK=RCV.NXT+1><CTL=ACK>` at once: the FIN was taken.
    AckNext,
    /// `<SEQ=SND.NXT><ACK=RCV.NXT+1><CTL=ACK>` after the delayed-ACK time (40 ms), nothing
    /// before: the byte of text was taken (RFC 1122 §4.2.3.2).
    DelayedAck,
    /// Our SYN,ACK again, `<SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>`.
    SynAckAgain,
    /// `<SEQ=SEG.ACK><CTL=RST>`: the answer to an unacceptable ACK in SYN-RECEIVED.
    Reset,
}

impl Answer {
    fn code(self) -> &'static str {
        match self {
            Answer::Nothing => "—",
            Answer::Challenge => "ch",
            Answer::DupAck => "dup",
            Answer::AckNext => "ack",
            Answer::DelayedAck => "dly",
            Answer::SynAckAgain => "syn-ack",
            Answer::Reset => "rst",
        }
    }
}

use Answer::{AckNext, Challenge, DelayedAck, DupAck, Nothing, Reset, SynAckAgain};

const SR: State = State::SynReceived;
const ES: State = State::Established;
const FW1: State = State::FinWait1;
const FW2: State = State::FinWait2;
const CW: State = State::CloseWait;
const CG: State = State::Closing;
const LA: State = State::LastAck;
const TW: State = State::TimeWait;
const CL: State = State::Closed;
const LI: State = State::Listen;

/// One row of a matrix: the answer and the state afterwards at each of `N` positions.
type Row<const N: usize> = [(Answer, State); N];

/// The matrix by SEG.SEQ: for each state, the rows of [`KINDS`], the columns of
/// [`POSITIONS`].
#[rustfmt::skip]
const MATRIX: [(State, [Row<4>; 9]); 8] = [
    (
        SR,
        [
            /* RST     */ [(Nothing, SR), (Nothing, LI), (Challenge, SR), (Nothing, SR)],
            /* RST+ACK */ [(Nothing, SR), (Nothing, LI), (Challenge, SR), (Nothing, SR)],
            /* SYN     */ [(SynAckAgain, SR), (Nothing, LI), (Nothing, LI), (Challenge, SR)],
            /* SYN+ACK */ [(Nothing, ES), (Nothing, LI), (Nothing, LI), (Challenge, SR)],
            /* SYN+FIN */ [(SynAckAgain, SR), (Nothing, LI), (Nothing, LI), (Challenge, SR)],
            /* FIN     */ [(DupAck, SR), (Nothing, SR), (Nothing, SR), (DupAck, SR)],
            /* FIN+ACK */ [(DupAck, SR), (AckNext, CW), (DupAck, ES), (DupAck, SR)],
            /* ACK     */ [(DupAck, SR), (Nothing, ES), (Nothing, ES), (DupAck, SR)],
            /* data    */ [(DupAck, SR), (DelayedAck, ES), (DupAck, ES), (DupAck, SR)],
        ],
    ),
    (
        ES,
        [
            /* RST     */ [(Nothing, ES), (Nothing, CL), (Challenge, ES), (Nothing, ES)],
            /* RST+ACK */ [(Nothing, ES), (Nothing, CL), (Challenge, ES), (Nothing, ES)],
            /* SYN     */ [(Challenge, ES); 4],
            /* SYN+ACK */ [(Challenge, ES); 4],
            /* SYN+FIN */ [(Challenge, ES); 4],
            /* FIN     */ [(DupAck, ES), (Nothing, ES), (Nothing, ES), (DupAck, ES)],
            /* FIN+ACK */ [(DupAck, ES), (AckNext, CW), (DupAck, ES), (DupAck, ES)],
            /* ACK     */ [(DupAck, ES), (Nothing, ES), (Nothing, ES), (DupAck, ES)],
            /* data    */ [(DupAck, ES), (DelayedAck, ES), (DupAck, ES), (DupAck, ES)],
        ],
    ),
    (
        FW1,
        [
            /* RST     */ [(Nothing, FW1), (Nothing, CL), (Challenge, FW1), (Nothing, FW1)],
            /* RST+ACK */ [(Nothing, FW1), (Nothing, CL), (Challenge, FW1), (Nothing, FW1)],
            /* SYN     */ [(Challenge, FW1); 4],
            /* SYN+ACK */ [(Challenge, FW1); 4],
            /* SYN+FIN */ [(Challenge, FW1); 4],
            /* FIN     */ [(DupAck, FW1), (Nothing, FW1), (Nothing, FW1), (DupAck, FW1)],
            /* FIN+ACK */ [(DupAck, FW1), (AckNext, TW), (DupAck, FW2), (DupAck, FW1)],
            /* ACK     */ [(DupAck, FW1), (Nothing, FW2), (Nothing, FW2), (DupAck, FW1)],
            /* data    */ [(DupAck, FW1), (DelayedAck, FW2), (DupAck, FW2), (DupAck, FW1)],
        ],
    ),
    (
        FW2,
        [
            /* RST     */ [(Nothing, FW2), (Nothing, CL), (Challenge, FW2), (Nothing, FW2)],
            /* RST+ACK */ [(Nothing, FW2), (Nothing, CL), (Challenge, FW2), (Nothing, FW2)],
            /* SYN     */ [(Challenge, FW2); 4],
            /* SYN+ACK */ [(Challenge, FW2); 4],
            /* SYN+FIN */ [(Challenge, FW2); 4],
            /* FIN     */ [(DupAck, FW2), (Nothing, FW2), (Nothing, FW2), (DupAck, FW2)],
            /* FIN+ACK */ [(DupAck, FW2), (AckNext, TW), (DupAck, FW2), (DupAck, FW2)],
            /* ACK     */ [(DupAck, FW2), (Nothing, FW2), (Nothing, FW2), (DupAck, FW2)],
            /* data    */ [(DupAck, FW2), (DelayedAck, FW2), (DupAck, FW2), (DupAck, FW2)],
        ],
    ),
    (
        CW,
        [
            /* RST     */ [(Nothing, CW), (Nothing, CL), (Challenge, CW), (Nothing, CW)],
            /* RST+ACK */ [(Nothing, CW), (Nothing, CL), (Challenge, CW), (Nothing, CW)],
            /* SYN     */ [(Challenge, CW); 4],
            /* SYN+ACK */ [(Challenge, CW); 4],
            /* SYN+FIN */ [(Challenge, CW); 4],
            /* FIN     */ [(DupAck, CW), (Nothing, CW), (Nothing, CW), (DupAck, CW)],
            /* FIN+ACK */ [(DupAck, CW), (Nothing, CW), (Nothing, CW), (DupAck, CW)],
            /* ACK     */ [(DupAck, CW), (Nothing, CW), (Nothing, CW), (DupAck, CW)],
            /* data    */ [(DupAck, CW), (Nothing, CW), (Nothing, CW), (DupAck, CW)],
        ],
    ),
    (
        CG,
        [
            /* RST     */ [(Nothing, CG), (Nothing, CL), (Challenge, CG), (Nothing, CG)],
            /* RST+ACK */ [(Nothing, CG), (Nothing, CL), (Challenge, CG), (Nothing, CG)],
            /* SYN     */ [(Challenge, CG); 4],
            /* SYN+ACK */ [(Challenge, CG); 4],
            /* SYN+FIN */ [(Challenge, CG); 4],
            /* FIN     */ [(DupAck, CG), (Nothing, CG), (Nothing, CG), (DupAck, CG)],
            /* FIN+ACK */ [(DupAck, CG), (Nothing, TW), (Nothing, TW), (DupAck, CG)],
            /* ACK     */ [(DupAck, CG), (Nothing, TW), (Nothing, TW), (DupAck, CG)],
            /* data    */ [(DupAck, CG), (Nothing, TW), (Nothing, TW), (DupAck, CG)],
        ],
    ),
    (
        LA,
        [
            /* RST     */ [(Nothing, LA), (Nothing, CL), (Challenge, LA), (Nothing, LA)],
            /* RST+ACK */ [(Nothing, LA), (Nothing, CL), (Challenge, LA), (Nothing, LA)],
            /* SYN     */ [(Challenge, LA); 4],
            /* SYN+ACK */ [(Challenge, LA); 4],
            /* SYN+FIN */ [(Challenge, LA); 4],
            /* FIN     */ [(DupAck, LA), (Nothing, LA), (Nothing, LA), (DupAck, LA)],
            /* FIN+ACK */ [(DupAck, LA), (Nothing, CL), (Nothing, CL), (DupAck, LA)],
            /* ACK     */ [(DupAck, LA), (Nothing, CL), (Nothing, CL), (DupAck, LA)],
            /* data    */ [(DupAck, LA), (Nothing, CL), (Nothing, CL), (DupAck, LA)],
        ],
    ),
    (
        TW,
        [
            /* RST     */ [(Nothing, TW); 4],
            /* RST+ACK */ [(Nothing, TW); 4],
            /* SYN     */ [(Challenge, TW); 4],
            /* SYN+ACK */ [(Challenge, TW); 4],
            /* SYN+FIN */ [(Challenge, TW); 4],
            /* FIN     */ [(DupAck, TW), (Nothing, TW), (Nothing, TW), (DupAck, TW)],
            /* FIN+ACK */ [(DupAck, TW), (Nothing, TW), (Nothing, TW), (DupAck, TW)],
            /* ACK     */ [(DupAck, TW), (Nothing, TW), (Nothing, TW), (DupAck, TW)],
            /* data    */ [(DupAck, TW), (Nothing, TW), (Nothing, TW), (DupAck, TW)],
        ],
    ),
];

/// Where SEG.ACK sits against the acceptable range of RFC 5961 §5.2,
/// SND.UNA − MAX.SND.WND =< SEG.ACK =< SND.NXT (in SYN-RECEIVED, RFC 9293's
/// SND.UNA < SEG.ACK =< SND.NXT). MAX.SND.WND is the peer's 60,000.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum AckPos {
    /// SND.UNA − MAX.SND.WND − 1: older than any acknowledgment the peer can still send.
    TooOld,
    /// SND.UNA − MAX.SND.WND: the oldest acceptable.
    Oldest,
    /// SND.UNA: acknowledges nothing new.
    Una,
    /// SND.NXT: acknowledges everything (the main matrix's SEG.ACK).
    Nxt,
    /// SND.NXT + 1: acknowledges something not yet sent.
    Unsent,
}

const ACK_POSITIONS: [AckPos; 5] = [
    AckPos::TooOld,
    AckPos::Oldest,
    AckPos::Una,
    AckPos::Nxt,
    AckPos::Unsent,
];

/// The peer's window, MAX.SND.WND for every connection the matrices set up.
const MAX_SND_WND: u32 = 60_000;

impl AckPos {
    fn ack(self, snd_una: u32, snd_nxt: u32) -> u32 {
        match self {
            AckPos::TooOld => snd_una.wrapping_sub(MAX_SND_WND + 1),
            AckPos::Oldest => snd_una.wrapping_sub(MAX_SND_WND),
            AckPos::Una => snd_una,
            AckPos::Nxt => snd_nxt,
            AckPos::Unsent => snd_nxt + 1,
        }
    }

    fn name(self) -> &'static str {
        match self {
            AckPos::TooOld => "SND.UNA-MAX.SND.WND-1",
            AckPos::Oldest => "SND.UNA-MAX.SND.WND",
            AckPos::Una => "SND.UNA",
            AckPos::Nxt => "SND.NXT",
            AckPos::Unsent => "SND.NXT+1",
        }
    }
}

/// The kinds the SEG.ACK matrix sends, at SEG.SEQ = RCV.NXT.
const ACK_KINDS: [Kind; 2] = [Kind::Ack, Kind::Data];

/// The SEG.ACK matrix: for each state, the rows of [`ACK_KINDS`], the columns of
/// [`ACK_POSITIONS`].
#[rustfmt::skip]
const ACK_MATRIX: [(State, [Row<5>; 2]); 8] = [
    (
        SR,
        [
            /* ACK  */ [(Reset, SR), (Reset, SR), (Reset, SR), (Nothing, ES), (Reset, SR)],
            /* data */ [(Reset, SR), (Reset, SR), (Reset, SR), (DelayedAck, ES), (Reset, SR)],
        ],
    ),
    (
        ES,
        [
            /* ACK  */ [(Challenge, ES), (Nothing, ES), (Nothing, ES), (Nothing, ES), (Challenge, ES)],
            /* data */ [(Challenge, ES), (DelayedAck, ES), (DelayedAck, ES), (DelayedAck, ES), (Challenge, ES)],
        ],
    ),
    (
        FW1,
        [
            /* ACK  */ [(Challenge, FW1), (Nothing, FW1), (Nothing, FW1), (Nothing, FW2), (Challenge, FW1)],
            /* data */ [(Challenge, FW1), (DelayedAck, FW1), (DelayedAck, FW1), (DelayedAck, FW2), (Challenge, FW1)],
        ],
    ),
    (
        FW2,
        [
            /* ACK  */ [(Challenge, FW2), (Nothing, FW2), (Nothing, FW2), (Nothing, FW2), (Challenge, FW2)],
            /* data */ [(Challenge, FW2), (DelayedAck, FW2), (DelayedAck, FW2), (DelayedAck, FW2), (Challenge, FW2)],
        ],
    ),
    (
        CW,
        [
            /* ACK  */ [(Challenge, CW), (Nothing, CW), (Nothing, CW), (Nothing, CW), (Challenge, CW)],
            /* data */ [(Challenge, CW), (Nothing, CW), (Nothing, CW), (Nothing, CW), (Challenge, CW)],
        ],
    ),
    (
        CG,
        [
            /* ACK  */ [(Challenge, CG), (Nothing, CG), (Nothing, CG), (Nothing, TW), (Challenge, CG)],
            /* data */ [(Challenge, CG), (Nothing, CG), (Nothing, CG), (Nothing, TW), (Challenge, CG)],
        ],
    ),
    (
        LA,
        [
            /* ACK  */ [(Challenge, LA), (Nothing, LA), (Nothing, LA), (Nothing, CL), (Challenge, LA)],
            /* data */ [(Challenge, LA), (Nothing, LA), (Nothing, LA), (Nothing, CL), (Challenge, LA)],
        ],
    ),
    (
        TW,
        [
            /* ACK  */ [(Challenge, TW), (Nothing, TW), (Nothing, TW), (Nothing, TW), (Challenge, TW)],
            /* data */ [(Challenge, TW), (Nothing, TW), (Nothing, TW), (Nothing, TW), (Challenge, TW)],
        ],
    ),
];

/// SEG.SEQ against a zero window, as offsets from RCV.NXT: with RCV.WND = 0 the four
/// positions of the main matrix fold into RCV.NXT − 1 and RCV.NXT, so one past is added.
const ZERO_WINDOW_POSITIONS: [(&str, i32); 3] =
    [("RCV.NXT-1", -1), ("RCV.NXT", 0), ("RCV.NXT+1", 1)];

/// ESTABLISHED with a zero receive window: the rows of [`KINDS`], the columns of
/// [`ZERO_WINDOW_POSITIONS`].
#[rustfmt::skip]
const ZERO_WINDOW_MATRIX: [Row<3>; 9] = [
    /* RST     */ [(Nothing, ES), (Nothing, CL), (Nothing, ES)],
    /* RST+ACK */ [(Nothing, ES), (Nothing, CL), (Nothing, ES)],
    /* SYN     */ [(Challenge, ES); 3],
    /* SYN+ACK */ [(Challenge, ES); 3],
    /* SYN+FIN */ [(Challenge, ES); 3],
    /* FIN     */ [(DupAck, ES); 3],
    /* FIN+ACK */ [(DupAck, ES); 3],
    /* ACK     */ [(DupAck, ES), (Nothing, ES), (DupAck, ES)],
    /* data    */ [(DupAck, ES); 3],
];

/// A connection in `state` and its sequence variables at that point.
struct Setup {
    h: Harness,
    /// SND.UNA.
    snd_una: u32,
    /// SND.NXT.
    snd_nxt: u32,
    /// RCV.NXT.
    rcv_nxt: u32,
    /// RCV.WND: the right edge of the window last advertised, less RCV.NXT.
    rcv_wnd: u32,
}

/// Drives a fresh connection into `state` at time 0, by the shortest path through the
/// state diagram from a passive open (ISS 1000, IRS 5000, a 60,000-byte window).
fn setup(state: State) -> Setup {
    let mut h = Harness::new();
    h.conn.listen(None).unwrap();
    h.send(seg(IRS, 0, SYN).mss(1000).wscale(0));
    h.expect(&[out(ISS, IRS + 1, SYN | ACK, 60_000).mss(1000).wscale(0)]);
    if state == SR {
        return Setup {
            h,
            snd_una: ISS,
            snd_nxt: ISS + 1,
            rcv_nxt: IRS + 1,
            rcv_wnd: 60_000,
        };
    }
    h.send(seg(IRS + 1, ISS + 1, ACK));
    h.expect_nothing();
    // Our FIN (at ISS + 1) and the peer's (at IRS + 1), as the path to `state` needs them.
    let we_close = matches!(state, FW1 | FW2 | CG | LA | TW);
    let they_close = matches!(state, CW | CG | LA | TW);
    let our_fin_acked = matches!(state, FW2 | TW);
    let mut snd_nxt = ISS + 1;
    let mut rcv_nxt = IRS + 1;
    if state == LA {
        h.send(seg(IRS + 1, ISS + 1, FIN | ACK));
        h.expect(&[out(ISS + 1, IRS + 2, ACK, 59_999)]);
        rcv_nxt += 1;
    }
    if we_close {
        h.conn.close().unwrap();
        let window = (60_000 - (rcv_nxt - IRS - 1)) as u16;
        h.expect(&[out(ISS + 1, rcv_nxt, FIN | ACK, window)]);
        snd_nxt += 1;
    }
    if our_fin_acked {
        h.send(seg(IRS + 1, ISS + 2, ACK));
        h.expect_nothing();
    }
    if they_close && state != LA {
        // In CLOSING the peer's FIN crossed ours: it acknowledges only our SYN.
        let ack = ISS + 1 + u32::from(our_fin_acked);
        h.send(seg(IRS + 1, ack, FIN | ACK));
        h.expect(&[out(snd_nxt, IRS + 2, ACK, 59_999)]);
        rcv_nxt += 1;
    }
    let snd_una = if we_close && !our_fin_acked {
        snd_nxt - 1
    } else {
        snd_nxt
    };
    assert_eq!(h.conn.state(), state, "setup");
    assert_eq!(h.conn.snd_una().0, snd_una, "setup: SND.UNA in {state:?}");
    assert_eq!(h.conn.snd_nxt().0, snd_nxt, "setup: SND.NXT in {state:?}");
    assert_eq!(h.conn.rcv_nxt().0, rcv_nxt, "setup: RCV.NXT in {state:?}");
    Setup {
        h,
        snd_una,
        snd_nxt,
        rcv_nxt,
        // The right edge stays at IRS + 1 + 60,000 throughout.
        rcv_wnd: IRS + 1 + 60_000 - rcv_nxt,
    }
}

/// ESTABLISHED with the receive buffer full and unread: 60 segments of 1,000 bytes, the
/// last ACK advertising a zero window (RCV.NXT = IRS + 60,001, RCV.WND = 0).
fn setup_zero_window() -> Setup {
    let mut s = setup(ES);
    for i in 0..60 {
        let text = vec![b'x'; 1000];
        s.h.send(seg(s.rcv_nxt + i * 1000, s.snd_nxt, ACK).payload(&text));
    }
    s.rcv_nxt += 60_000;
    assert_eq!(
        s.h.output().last(),
        Some(&out(s.snd_nxt, s.rcv_nxt, ACK, 0)),
        "setup: a zero window"
    );
    assert_eq!(s.h.conn.rcv_nxt().0, s.rcv_nxt, "setup: RCV.NXT");
    s.rcv_wnd = 0;
    s
}

/// When the cell's segment arrives, and when the delayed ACK it may owe is due.
const ARRIVAL: u64 = 10;
const DELAYED_ACK_DUE: u64 = ARRIVAL + 40;

/// When TIME-WAIT ends after a cell that leaves the connection in it: 2·MSL (2 s) after
/// it began, restarted only by the peer's FIN retransmitted, that is a FIN just left of
/// the window (RFC 9293 §3.10.7.4 fifth step, TIME-WAIT: "The only thing that can arrive
/// in this state is a retransmission of the remote FIN. Acknowledge it, and restart the
/// 2 MSL timeout"). A SYN+FIN is answered as a SYN and restarts nothing.
fn time_wait_deadline(state: State, kind: Kind, pos: Pos) -> xdptcp::Instant {
    let retransmitted_fin = matches!(kind, Kind::Fin | Kind::FinAck) && pos == Pos::Left;
    if state != TW || retransmitted_fin {
        ms(ARRIVAL + 2_000)
    } else {
        ms(2_000)
    }
}

/// The segment of `kind` at SEG.SEQ `seq` with SEG.ACK `ack` (sent only with ACK).
fn segment(kind: Kind, seq: u32, ack: u32) -> Seg {
    let s = seg(seq, ack, kind.flags());
    if kind == Kind::Data {
        s.payload(b"x")
    } else {
        s
    }
}

/// Delivers `segment` to the connection of `setup` and compares the answer with
/// `expected`; `time_wait_ends` is when TIME-WAIT must end if the connection is left in it.
/// `Err` lists every difference.
fn check_answer(
    setup: Setup,
    segment: &Seg,
    expected: (Answer, State),
    time_wait_ends: xdptcp::Instant,
) -> Result<(), String> {
    let Setup {
        mut h,
        snd_nxt,
        rcv_nxt,
        rcv_wnd,
        ..
    } = setup;
    let right_edge = rcv_nxt + rcv_wnd;
    let (answer, after) = expected;
    let ack_of = |ack: u32| out(snd_nxt, ack, ACK, (right_edge - ack) as u16);
    let (now, later) = match answer {
        Nothing => (vec![], vec![]),
        Challenge | DupAck => (vec![ack_of(rcv_nxt)], vec![]),
        AckNext => (vec![ack_of(rcv_nxt + 1)], vec![]),
        DelayedAck => (vec![], vec![ack_of(rcv_nxt + 1)]),
        SynAckAgain => (
            vec![out(ISS, IRS + 1, SYN | ACK, 60_000).mss(1000).wscale(0)],
            vec![],
        ),
        Reset => (vec![out(segment.ack, 0, RST, 0)], vec![]),
    };
    let before = h.conn.state();
    let challenges = h.conn.stats().challenge_acks;
    h.at(ARRIVAL).send(segment.clone());
    let mut problems = Vec::new();
    let got_now = h.output();
    if got_now != now {
        problems.push(format!("sent {got_now:?}, expected {now:?}"));
    }
    let counted = h.conn.stats().challenge_acks - challenges;
    let expected_count = u64::from(answer == Challenge);
    if counted != expected_count {
        problems.push(format!(
            "{counted} challenge ACKs counted, expected {expected_count}"
        ));
    }
    let state_now = h.conn.state();
    h.at(DELAYED_ACK_DUE).tick();
    let got_later = h.output();
    if got_later != later {
        problems.push(format!(
            "after the delayed-ACK time sent {got_later:?}, expected {later:?}"
        ));
    }
    if state_now != after {
        problems.push(format!("state {state_now:?}, expected {after:?}"));
    }
    let reset_error = segment.flags.rst() && matches!(before, ES | FW1 | FW2 | CW);
    let error = reset_error.then_some(ConnectionError::Reset);
    if after == CL && h.conn.error() != error {
        problems.push(format!(
            "closed with error {:?}, expected {error:?}",
            h.conn.error()
        ));
    }
    if after == TW && h.conn.poll_deadline() != Some(time_wait_ends) {
        problems.push(format!(
            "TIME-WAIT ends at {:?}, expected {time_wait_ends:?}",
            h.conn.poll_deadline()
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("(segment {segment:?}): {}", problems.join("; ")))
    }
}

/// Runs every cell of both matrices; returns the number that passed and the failures, each
/// with its coordinates.
fn run_matrices() -> (usize, Vec<String>) {
    let mut passed = 0;
    let mut failures = Vec::new();
    let mut record = |coordinates: String, result: Result<(), String>| match result {
        Ok(()) => passed += 1,
        Err(why) => failures.push(format!("{coordinates} {why}")),
    };
    for (state, rows) in MATRIX {
        for (kind, row) in KINDS.into_iter().zip(rows) {
            for (pos, expected) in POSITIONS.into_iter().zip(row) {
                let s = setup(state);
                let segment = segment(kind, pos.seq(s.rcv_nxt, s.rcv_wnd), s.snd_nxt);
                let deadline = time_wait_deadline(state, kind, pos);
                record(
                    format!(
                        "{} × {} at SEG.SEQ={}",
                        state_name(state),
                        kind.name(),
                        pos.name()
                    ),
                    check_answer(s, &segment, expected, deadline),
                );
            }
        }
    }
    for (state, rows) in ACK_MATRIX {
        for (kind, row) in ACK_KINDS.into_iter().zip(rows) {
            for (pos, expected) in ACK_POSITIONS.into_iter().zip(row) {
                let s = setup(state);
                let segment = segment(kind, s.rcv_nxt, pos.ack(s.snd_una, s.snd_nxt));
                let deadline = time_wait_deadline(state, kind, Pos::Next);
                record(
                    format!(
                        "{} × {} at SEG.SEQ=RCV.NXT, SEG.ACK={}",
                        state_name(state),
                        kind.name(),
                        pos.name()
                    ),
                    check_answer(s, &segment, expected, deadline),
                );
            }
        }
    }
    for (kind, row) in KINDS.into_iter().zip(ZERO_WINDOW_MATRIX) {
        for ((name, offset), expected) in ZERO_WINDOW_POSITIONS.into_iter().zip(row) {
            let s = setup_zero_window();
            let seq = s.rcv_nxt.wrapping_add_signed(offset);
            let segment = segment(kind, seq, s.snd_nxt);
            record(
                format!("ESTABLISHED, RCV.WND=0 × {} at SEG.SEQ={name}", kind.name()),
                check_answer(s, &segment, expected, ms(0)),
            );
        }
    }
    (passed, failures)
}

#[test]
fn every_cell_of_the_matrices_gets_the_rfc_answer() {
    let cells = MATRIX.len() * KINDS.len() * POSITIONS.len()
        + ACK_MATRIX.len() * ACK_KINDS.len() * ACK_POSITIONS.len()
        + ZERO_WINDOW_MATRIX.len() * ZERO_WINDOW_POSITIONS.len();
    let (passed, failures) = run_matrices();
    println!("{passed} of {cells} cells pass");
    assert_eq!(passed + failures.len(), cells);
    assert!(
        failures.is_empty(),
        "{} of {cells} cells fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// One table of the module documentation: a header row of `columns`, then one row per
/// kind, each cell the answer's code and the state afterwards where it changed.
fn render_table<const N: usize>(
    doc: &mut String,
    state: State,
    columns: [&str; N],
    rows: &[(Kind, Row<N>)],
) {
    writeln!(doc).unwrap();
    writeln!(doc, "{}:", state_name(state)).unwrap();
    writeln!(doc).unwrap();
    write!(doc, "| segment |").unwrap();
    for column in columns {
        write!(doc, " {column} |").unwrap();
    }
    writeln!(doc).unwrap();
    writeln!(doc, "|---|{}", "---|".repeat(N)).unwrap();
    for (kind, row) in rows {
        write!(doc, "| {} |", kind.name()).unwrap();
        for (answer, after) in row {
            if *after == state {
                write!(doc, " {} |", answer.code()).unwrap();
            } else {
                write!(doc, " {} → {} |", answer.code(), state_name(*after)).unwrap();
            }
        }
        writeln!(doc).unwrap();
    }
}

/// The matrix by SEG.SEQ as the module documentation shows it.
fn render_matrix() -> String {
    let mut doc = String::new();
    for (state, rows) in MATRIX {
        let rows: Vec<_> = KINDS.into_iter().zip(rows).collect();
        render_table(&mut doc, state, POSITIONS.map(Pos::name), &rows);
    }
    doc
}

/// The matrix by SEG.ACK as the module documentation shows it.
fn render_ack_matrix() -> String {
    let mut doc = String::new();
    for (state, rows) in ACK_MATRIX {
        let rows: Vec<_> = ACK_KINDS.into_iter().zip(rows).collect();
        render_table(&mut doc, state, ACK_POSITIONS.map(AckPos::name), &rows);
    }
    doc
}

/// The zero-window matrix as the module documentation shows it.
fn render_zero_window_matrix() -> String {
    let mut doc = String::new();
    let rows: Vec<_> = KINDS.into_iter().zip(ZERO_WINDOW_MATRIX).collect();
    render_table(
        &mut doc,
        ES,
        ZERO_WINDOW_POSITIONS.map(|(name, _)| name),
        &rows,
    );
    doc
}

fn state_name(state: State) -> &'static str {
    match state {
        State::Closed => "CLOSED",
        State::Listen => "LISTEN",
        State::SynSent => "SYN-SENT",
        State::SynReceived => "SYN-RECEIVED",
        State::Established => "ESTABLISHED",
        State::FinWait1 => "FIN-WAIT-1",
        State::FinWait2 => "FIN-WAIT-2",
        State::CloseWait => "CLOSE-WAIT",
        State::Closing => "CLOSING",
        State::LastAck => "LAST-ACK",
        State::TimeWait => "TIME-WAIT",
    }
}

/// The module documentation between `<!-- {marker} -->` and `<!-- end of {marker} -->`.
fn documented(marker: &str) -> String {
    let (start, end) = (
        format!("<!-- {marker} -->"),
        format!("<!-- end of {marker} -->"),
    );
    include_str!("tcp_conformance.rs")
        .lines()
        .map_while(|line| line.strip_prefix("//!"))
        .skip_while(|line| line.trim() != start)
        .skip(1)
        .take_while(|line| line.trim() != end)
        .map(|line| format!("{}\n", line.strip_prefix(' ').unwrap_or(line)))
        .collect()
}

#[track_caller]
fn assert_documented(marker: &str, rendered: &str) {
    assert!(
        documented(marker) == rendered,
        "the module documentation's {marker} is stale; it should read:\n{}",
        rendered
            .lines()
            .map(|line| format!("//! {line}").trim_end().to_string() + "\n")
            .collect::<String>()
    );
}

#[test]
fn the_documented_matrices_are_the_ones_tested() {
    assert_documented("matrix", &render_matrix());
    assert_documented("ack matrix", &render_ack_matrix());
    assert_documented("zero-window matrix", &render_zero_window_matrix());
}

/// RFC 5961 §7: at most `Config::challenge_ack_limit` challenge ACKs per connection per
/// second, whatever draws them (a reset in the window, a SYN, an ACK of data not sent);
/// past it they are not sent, and the segments are still dropped. An exact reset still
/// resets. The matrices run each cell on a fresh connection, so they never meet the limit.
#[test]
fn challenge_acks_are_limited_per_connection_per_second() {
    let Setup {
        mut h,
        snd_nxt,
        rcv_nxt,
        ..
    } = setup(ES);
    let limit = test_config().challenge_ack_limit;
    assert!(limit > 0);
    let challenge = out(snd_nxt, rcv_nxt, ACK, 60_000);
    let drawers = [
        seg(rcv_nxt + 100, 0, RST),
        seg(rcv_nxt, 0, SYN),
        seg(rcv_nxt, snd_nxt + 1, ACK),
    ];
    let mut t = ARRIVAL;
    for i in 0..limit as usize {
        h.at(t).send(drawers[i % drawers.len()].clone());
        h.expect(std::slice::from_ref(&challenge));
        t += 1;
    }
    for drawer in drawers.iter().cycle().take(30) {
        h.at(t).send(drawer.clone());
        h.expect_nothing();
        t += 1;
    }
    assert_eq!(h.conn.stats().challenge_acks, u64::from(limit));
    assert_eq!(h.conn.state(), ES);
    // A second after the first, the budget is back.
    h.at(ARRIVAL + 1_000).send(drawers[0].clone());
    h.expect(std::slice::from_ref(&challenge));
    assert_eq!(h.conn.stats().challenge_acks, u64::from(limit) + 1);
    // Spent again, the budget does not stop an exact reset.
    for i in 1..limit as usize {
        h.send(drawers[i % drawers.len()].clone());
    }
    h.output();
    h.send(seg(rcv_nxt, 0, RST));
    h.expect_nothing();
    assert_eq!(h.conn.state(), CL);
}

/// The limit on ACKs to unacceptable segments without text or FIN
/// (`Config::invalid_ack_interval`) is a budget of its own: a spent challenge budget does
/// not silence the first of them, and unacceptable text is answered whatever either says.
#[test]
fn out_of_window_acks_have_a_limit_of_their_own() {
    let Setup {
        mut h,
        snd_nxt,
        rcv_nxt,
        rcv_wnd,
        ..
    } = setup(ES);
    let answer = out(snd_nxt, rcv_nxt, ACK, 60_000);
    for t in 0..u64::from(test_config().challenge_ack_limit) + 5 {
        h.at(ARRIVAL + t).send(seg(rcv_nxt, 0, SYN));
    }
    h.output();
    let beyond = rcv_nxt + rcv_wnd;
    h.at(100).send(seg(beyond, snd_nxt, ACK));
    h.expect(std::slice::from_ref(&answer));
    h.at(101).send(seg(beyond, snd_nxt, ACK));
    h.expect_nothing();
    h.at(102).send(segment(Kind::Data, beyond, snd_nxt));
    h.expect(std::slice::from_ref(&answer));
    let interval = test_config().invalid_ack_interval.as_millis() as u64;
    h.at(100 + interval).send(seg(beyond, snd_nxt, ACK));
    h.expect(std::slice::from_ref(&answer));
}
