//! One TCP connection as a sans-IO value (RFC 9293).
//!
//! Inputs: [`Connection::handle_segment`] (a parsed header and a payload slice, checksum
//! already verified), [`Connection::handle_timeout`], and the application calls
//! ([`Connection::send`], [`Connection::recv`], [`Connection::close`], [`Connection::abort`]).
//! Outputs: [`Connection::poll_transmit`] writes the next segment (header and payload, checksum
//! left zero for the IP layer to fill) into a caller's buffer; [`Connection::poll_deadline`]
//! says when to call `handle_timeout` next; [`Connection::poll_event`] reports what the
//! application should look at. Nothing here reads a clock, allocates per segment or makes a
//! system call.
//!
//! One concern per file:
//!
//! | file | what it owns |
//! |---|---|
//! | `state` | the [`State`] enum and `set_state`, the one place a state changes |
//! | `send`, `receive` | the send and receive sequence spaces, buffers, the advertised window, reassembly and ACK policy |
//! | `sequence_check` | the pure first step of arrival: acceptability and trimming to the window |
//! | `arrival` | `handle_segment` and the steps of RFC 9293 §3.10.7.4 for synchronized states |
//! | `open` | OPEN calls, LISTEN and SYN-SENT arrivals, SYN options, the handshake's end |
//! | `ack` | the fifth step: acknowledgments, RTT samples, window updates, recovery hooks |
//! | `close` | CLOSE, ABORT, release, the peer's FIN, TIME-WAIT and CLOSED |
//! | `app` | SEND and RECEIVE, events |
//! | `timestamps` | RFC 7323 timestamps: our clock, TS.Recent, PAWS |
//! | `loss` | with SACK: the scoreboard, RACK-TLP, PRR (RFC 6675, 8985, 6937) |
//! | `path_error`, `path_mtu` | ICMP errors about our segments: the RFC 5927 check, soft and hard errors, path MTU discovery (RFC 1191) |
//! | `timers`, `retransmit`, `probes` | deadlines; the retransmission timeout; zero-window, override and keepalive probes |
//! | `output`, `sender` | segment building; what data may go out (Nagle, silly-window avoidance) |
//! | `idle_buffers` | payload rings kept while busy, given back at the owner's sweep once idle |
//! | `reset`, `ack_limits`, `pending`, `events`, `stats` | resets for unexpected segments; ACK rate limits; owed output; events; counters |

mod accessors;
mod ack;
mod ack_limits;
mod app;
mod arrival;
mod close;
mod events;
mod idle_buffers;
mod loss;
mod open;
mod output;
mod path_error;
mod path_mtu;
mod pending;
mod probes;
mod receive;
mod reset;
mod retransmit;
mod send;
mod sender;
mod sequence_check;
mod state;
mod stats;
mod timers;
mod timestamps;

pub use events::Event;
pub use path_error::{PathError, PathErrorKind, PathErrorOutcome, UnreachableReason};
pub use path_mtu::MIN_PATH_MTU;
pub use reset::reset_reply;
pub use state::{State, UnknownState};
pub use stats::{ConnStats, ConnStatsSnapshot};
pub(crate) use timestamps::clock_value;

use std::sync::Arc;

use self::ack_limits::AckRateLimits;
use self::events::EventSet;
use self::pending::PendingOutput;
use self::probes::Probes;
use self::receive::ReceiveSequence;
use self::reset::ResetReply;
use self::retransmit::Retransmission;
use self::send::SendSequence;
use self::stats::Counters;
use self::timestamps::Timestamps;
use super::config::Config;
use super::congestion::{self, Congestion};
use super::error::ConnectionError;
use super::recovery::{Recovery, SackRecovery};
use super::rtt::RttEstimator;
use super::timer::TimerTable;
use crate::wire::SeqNum;

/// Options both ends agreed on in the SYN exchange.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
struct Negotiated {
    /// Both SYNs carried the window scale option (RFC 7323 §2.2).
    window_scaling: bool,
    /// Both SYNs carried timestamps (RFC 7323 §3.2): every segment then carries them.
    timestamps: bool,
    /// Both SYNs carried SACK-permitted (RFC 2018 §2).
    sack: bool,
}

/// New in-order text accepted during [`Connection::handle_segment_direct`] but not yet
/// buffered: the caller shows it to the application in place.
#[derive(Copy, Clone, Debug, Default)]
struct DirectDelivery {
    /// `handle_segment_direct` is running: new in-order text may skip the receive buffer.
    allowed: bool,
    /// Bytes accepted but not buffered, starting at `seq`.
    len: u32,
    seq: SeqNum,
}

/// The application's side of the connection.
#[derive(Debug, Default)]
struct Application {
    events: EventSet,
    /// Why the connection ended, if it failed.
    error: Option<ConnectionError>,
    /// Nagle's algorithm off (RFC 896, RFC 1122 §4.2.3.4).
    nodelay: bool,
    /// A send was refused or cut short, or filled the buffer: `Writable` follows.
    writer_blocked: bool,
    /// The application released its handle.
    orphaned: bool,
    /// The last ICMP soft error (RFC 1122 §4.2.3.9), reported if the connection times out.
    soft_error: Option<UnreachableReason>,
}

/// One TCP connection.
#[derive(Debug)]
pub struct Connection {
    config: Arc<Config>,
    state: State,
    /// Created by a passive OPEN (RFC 9293 figure 5, note 1).
    passive: bool,
    local_port: u16,
    remote_port: u16,
    /// A passive OPEN may name its peer; otherwise the SYN sets it.
    remote_specified: bool,
    negotiated: Negotiated,
    ts: Timestamps,
    snd: SendSequence,
    rcv: ReceiveSequence,
    rtx: Retransmission,
    cc: Congestion,
    /// Loss recovery without SACK (NewReno).
    recovery: Recovery,
    /// Loss recovery with SACK (scoreboard, RACK-TLP, PRR).
    sack: SackRecovery,
    probes: Probes,
    timers: TimerTable,
    /// Segments owed to the peer.
    pending: PendingOutput,
    /// A reset owed in answer to one segment.
    rst_pending: Option<ResetReply>,
    ack_limits: AckRateLimits,
    /// The stack's ceiling on challenge ACKs, shared by its connections (RFC 5961 §7).
    challenge_ceiling: Option<Arc<crate::tcp::ChallengeAckCeiling>>,
    direct: DirectDelivery,
    /// A payload ring drained since the last idle sweep (see `idle_buffers`).
    rings_used: bool,
    app: Application,
    stats: Counters,
}

/// Lowest MSS accepted from a peer (as Linux: smaller values are raised to this).
const MIN_PEER_MSS: u16 = 88;
/// MSS assumed when the peer sends no MSS option (RFC 9293 §3.7.1).
const DEFAULT_PEER_MSS: u16 = 536;

impl Connection {
    /// A connection in CLOSED, ready for a passive or active OPEN. `iss` is its initial send
    /// sequence number (see [`super::IsnGenerator`]).
    pub fn new(config: Arc<Config>, local_port: u16, iss: SeqNum) -> Connection {
        let mss = DEFAULT_PEER_MSS.min(config.mss);
        let initial_window =
            congestion::initial_window(config.initial_window_segments, u32::from(mss));
        Connection {
            state: State::Closed,
            passive: false,
            local_port,
            remote_port: 0,
            remote_specified: false,
            negotiated: Negotiated::default(),
            ts: Timestamps::default(),
            snd: SendSequence::new(iss, config.send_buffer, mss),
            rcv: ReceiveSequence::new(config.recv_buffer, config.mss),
            rtx: Retransmission::new(RttEstimator::new(
                config.initial_rto,
                config.min_rto,
                config.max_rto,
            )),
            cc: Congestion::new(config.congestion, initial_window),
            recovery: Recovery::default(),
            sack: SackRecovery::default(),
            probes: Probes::default(),
            timers: TimerTable::default(),
            pending: PendingOutput::default(),
            rst_pending: None,
            ack_limits: AckRateLimits::default(),
            challenge_ceiling: None,
            direct: DirectDelivery::default(),
            rings_used: false,
            app: Application {
                nodelay: config.nodelay,
                ..Application::default()
            },
            stats: Counters::default(),
            config,
        }
    }

    fn raise(&mut self, event: Event) {
        self.app.events.raise(event);
    }

    /// The offset added to this connection's timestamp clock, chosen by the stack per
    /// connection so TSvals reveal nothing of the host's uptime (RFC 7323 §7.1). Set before
    /// the SYN exchange.
    pub fn set_timestamp_offset(&mut self, offset: u32) {
        self.ts.set_offset(offset);
    }
}
