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
//!
//! `→ STATE` is the state afterwards where it changed. In TIME-WAIT, the 2·MSL wait is
//! restarted only by the peer's FIN retransmitted, a FIN just left of the window (fifth
//! step, TIME-WAIT: "The only thing that can arrive in this state is a retransmission of
//! the remote FIN. Acknowledge it, and restart the 2 MSL timeout"); every cell ending in
//! TIME-WAIT checks when it ends.
//!
//! The rules the cells follow, step by step of §3.10.7.4:
//!
//! - A SYN is answered before the sequence number is looked at: "irrespective of the
//!   sequence number", a challenge ACK, and the segment is dropped (RFC 5961 §4.2, fourth
//!   step). SYN+ACK and SYN+FIN are SYNs: the stack drops SYN+FIN before any connection
//!   sees it (`tests/stack_input_checks.rs`), and a connection that is handed one answers
//!   it as the SYN it is, so SYN+FIN never closes anything. In TIME-WAIT a SYN may open a
//!   new incarnation (RFC 6191), which the stack decides before the connection sees it
//!   (`Connection::admits_new_incarnation`); the connection itself answers with a challenge.
//! - First, the sequence number: a segment with no byte in the window (a zero-length one:
//!   SEG.SEQ not in it) is not acceptable; it is answered `dup` unless it is a reset, which
//!   is dropped silently (RFC 5961 §3.2: "If the RST bit is set and the sequence number is
//!   outside the current receive window, silently drop the segment").
//! - Second, the RST bit: exactly at RCV.NXT it resets (CLOSED; SYN-RECEIVED from a passive
//!   OPEN returns to LISTEN), anywhere else in the window it draws a challenge ACK (RFC 5961
//!   §3.2). RST+ACK is the same: the ACK field is not looked at before. In TIME-WAIT every
//!   reset is ignored (RFC 1337 §3, remedy 1: "ignore RST segments in TIME-WAIT state"), a
//!   deliberate departure from the letter of the second step, which closes.
//! - Fifth, the ACK bit: without it the segment is dropped, so an acceptable FIN without
//!   ACK is `—`. An ACK of our FIN moves FIN-WAIT-1 to FIN-WAIT-2, CLOSING to TIME-WAIT and
//!   LAST-ACK to CLOSED (the last two end processing there); in SYN-RECEIVED an ACK of our
//!   SYN enters ESTABLISHED and processing goes on.
//! - Seventh and eighth, text and FIN: taken in order in ESTABLISHED, FIN-WAIT-1 and
//!   FIN-WAIT-2; a byte or FIN at the right edge is out of order and held, and the ACK that
//!   says what is missing goes out at once. After the peer's FIN (CLOSE-WAIT, CLOSING,
//!   LAST-ACK, TIME-WAIT) text "should not occur" and is ignored, and so is a second FIN
//!   past the first: the eighth step's "advance RCV.NXT over the FIN" is for the peer's one
//!   FIN, whose retransmission arrives left of the window. Linux ignores both the same way
//!   in CLOSE-WAIT, CLOSING and LAST-ACK.
//!
//! SYN-RECEIVED (from a passive OPEN, our SYN,ACK not yet acknowledged, SND.NXT = ISS + 1):
//! RFC 9293's fourth step returns a passive connection to LISTEN on an acceptable SYN. Just
//! left of the window is SEG.SEQ = IRS, the peer's SYN itself: without ACK it is the SYN
//! retransmitted because our SYN,ACK was lost, answered with the SYN,ACK again (as Linux
//! does; the letter of the first step would send `<SEQ=ISS+1><ACK=IRS+1><CTL=ACK>`, which a
//! peer in SYN-SENT drops); with an acceptable ACK it is the SYN,ACK of a simultaneous open
//! and completes the handshake (RFC 9293 figure 8, line 7).
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

mod common;

use std::fmt::Write as _;

use common::*;
use xdptcp::tcp::State;
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
        }
    }
}

use Answer::{AckNext, Challenge, DelayedAck, DupAck, Nothing, SynAckAgain};

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

/// One row of the matrix: the answer and the state afterwards at each position, in the
/// order of [`POSITIONS`].
type Row = [(Answer, State); 4];

/// The matrix: for each state, one row per kind, in the order of [`KINDS`].
const MATRIX: [(State, [Row; 9]); 8] = [
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

/// A connection in `state` and its sequence variables at that point.
struct Setup {
    h: Harness,
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
    let mut snd_nxt = ISS + 1;
    let mut rcv_nxt = IRS + 1;
    if state == LA {
        h.send(seg(IRS + 1, ISS + 1, FIN | ACK));
        h.expect(&[out(ISS + 1, IRS + 2, ACK, 59_999)]);
        rcv_nxt += 1;
    }
    if we_close {
        h.conn.close().unwrap();
        h.expect(&[out(ISS + 1, rcv_nxt, FIN | ACK, (60_000 - (rcv_nxt - IRS - 1)) as u16)]);
        snd_nxt += 1;
    }
    if matches!(state, FW2 | TW) {
        h.send(seg(IRS + 1, ISS + 2, ACK));
        h.expect_nothing();
    }
    if they_close && state != LA {
        h.send(seg(IRS + 1, if state == TW { ISS + 2 } else { ISS + 1 }, FIN | ACK));
        h.expect(&[out(snd_nxt, IRS + 2, ACK, 59_999)]);
        rcv_nxt += 1;
    }
    assert_eq!(h.conn.state(), state, "setup");
    assert_eq!(h.conn.snd_nxt().0, snd_nxt, "setup: SND.NXT in {state:?}");
    assert_eq!(h.conn.rcv_nxt().0, rcv_nxt, "setup: RCV.NXT in {state:?}");
    Setup {
        h,
        snd_nxt,
        rcv_nxt,
        // The right edge stays at IRS + 1 + 60,000 throughout.
        rcv_wnd: IRS + 1 + 60_000 - rcv_nxt,
    }
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

/// Runs one cell on a fresh connection; `Err` says how the answer differed.
fn run_cell(state: State, kind: Kind, pos: Pos, expected: (Answer, State)) -> Result<(), String> {
    let Setup {
        mut h,
        snd_nxt,
        rcv_nxt,
        rcv_wnd,
    } = setup(state);
    let right_edge = rcv_nxt + rcv_wnd;
    let (answer, after) = expected;
    let seq = pos.seq(rcv_nxt, rcv_wnd);
    let mut segment = seg(seq, snd_nxt, kind.flags());
    if kind == Kind::Data {
        segment = segment.payload(b"x");
    }
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
    };
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
    if after == TW {
        let expected = time_wait_deadline(state, kind, pos);
        let got = h.conn.poll_deadline();
        if got != Some(expected) {
            problems.push(format!("TIME-WAIT ends at {got:?}, expected {expected:?}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{state:?} × {} at {} (segment {segment:?}): {}",
            kind.name(),
            pos.name(),
            problems.join("; ")
        ))
    }
}

#[test]
fn every_cell_of_the_matrix_gets_the_rfc_answer() {
    let mut passed = 0;
    let mut failures = Vec::new();
    for (state, rows) in MATRIX {
        for (kind, row) in KINDS.into_iter().zip(rows) {
            for (pos, expected) in POSITIONS.into_iter().zip(row) {
                match run_cell(state, kind, pos, expected) {
                    Ok(()) => passed += 1,
                    Err(why) => failures.push(why),
                }
            }
        }
    }
    let cells = MATRIX.len() * KINDS.len() * POSITIONS.len();
    println!("{passed} of {cells} cells pass");
    assert!(
        failures.is_empty(),
        "{} of {cells} cells fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The matrix as the module documentation shows it.
fn render_matrix() -> String {
    let mut doc = String::new();
    for (state, rows) in MATRIX {
        writeln!(doc).unwrap();
        writeln!(doc, "{}:", state_name(state)).unwrap();
        writeln!(doc).unwrap();
        write!(doc, "| segment |").unwrap();
        for pos in POSITIONS {
            write!(doc, " {} |", pos.name()).unwrap();
        }
        writeln!(doc).unwrap();
        writeln!(doc, "|---|---|---|---|---|").unwrap();
        for (kind, row) in KINDS.into_iter().zip(rows) {
            write!(doc, "| {} |", kind.name()).unwrap();
            for (answer, after) in row {
                if after == state {
                    write!(doc, " {} |", answer.code()).unwrap();
                } else {
                    write!(doc, " {} → {} |", answer.code(), state_name(after)).unwrap();
                }
            }
            writeln!(doc).unwrap();
        }
    }
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

#[test]
fn the_documented_matrix_is_the_one_tested() {
    let source = include_str!("tcp_conformance.rs");
    let documented: String = source
        .lines()
        .map_while(|line| line.strip_prefix("//!"))
        .skip_while(|line| line.trim() != "<!-- matrix -->")
        .skip(1)
        .take_while(|line| line.trim() != "<!-- end of matrix -->")
        .map(|line| format!("{}\n", line.strip_prefix(' ').unwrap_or(line)))
        .collect();
    let rendered = render_matrix();
    assert!(
        documented == rendered,
        "the module documentation's matrix is stale; it should read:\n{}",
        rendered
            .lines()
            .map(|line| format!("//! {line}").trim_end().to_string() + "\n")
            .collect::<String>()
    );
}
