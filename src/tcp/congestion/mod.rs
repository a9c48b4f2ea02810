//! Congestion control: how much a connection may have in flight (RFC 5681).
//!
//! A controller sees hooks with what it needs to decide — the time, the bytes acknowledged,
//! the RTT sample, the bytes in flight, whether the sender was application-limited — and
//! answers with a congestion window and a slow-start threshold. What is lost and what to
//! retransmit is decided elsewhere ([`super::recovery`]); the controller only hears that a
//! loss was detected (a congestion event) or that the retransmission timer fired. NewReno's
//! window rule ([`NewReno`]) is one implementation; others (CUBIC, RFC 9438) take the same
//! hooks.

mod cubic;
pub mod hystart;
mod new_reno;

pub use cubic::Cubic;
pub use new_reno::NewReno;

use crate::time::Instant;
use crate::wire::SeqNum;

/// The congestion control algorithms a stack can run (`tcp::Config::congestion`).
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// CUBIC (RFC 9438) with HyStart++ (RFC 9406): the default, as in Linux.
    #[default]
    Cubic,
    /// NewReno's window rule (RFC 5681, RFC 6582).
    NewReno,
}

impl std::str::FromStr for Algorithm {
    type Err = UnknownAlgorithm;
    fn from_str(name: &str) -> Result<Algorithm, UnknownAlgorithm> {
        match name {
            "cubic" => Ok(Algorithm::Cubic),
            "newreno" | "reno" => Ok(Algorithm::NewReno),
            _ => Err(UnknownAlgorithm(name.to_string())),
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Algorithm::Cubic => "cubic",
            Algorithm::NewReno => "newreno",
        })
    }
}

/// A congestion control name that is not one of ours.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown congestion control {0:?} (cubic or newreno)")]
pub struct UnknownAlgorithm(pub String);

/// One acknowledgment that advanced SND.UNA, outside loss recovery.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct AckEvent {
    pub now: Instant,
    /// Bytes of data (and FIN) newly acknowledged.
    pub bytes_acked: u32,
    /// The RTT measured from this ACK, in nanoseconds, if it gave one.
    pub rtt_sample_nanos: Option<u64>,
    /// Bytes still outstanding after this ACK.
    pub bytes_in_flight: u32,
    /// The sender did not fill the congestion window: no unsent data was waiting when it last
    /// sent (RFC 7661). A controller should not grow the window on such ACKs.
    pub app_limited: bool,
    /// The sender's maximum segment size.
    pub smss: u32,
    /// The smoothed RTT in nanoseconds (CUBIC looks one RTT ahead).
    pub srtt_nanos: u64,
    /// SND.UNA after this ACK and SND.NXT: round boundaries for HyStart++.
    pub snd_una: SeqNum,
    pub snd_nxt: SeqNum,
}

/// The hooks a congestion controller implements.
pub trait CongestionControl {
    /// Bytes that may be outstanding.
    fn cwnd(&self) -> u32;

    /// The slow-start threshold.
    fn ssthresh(&self) -> u32;

    /// New data was acknowledged outside loss recovery.
    fn on_ack(&mut self, ack: &AckEvent);

    /// A loss was detected by acknowledgments (fast retransmit); `flight` bytes were
    /// outstanding. Sets the threshold recovery ends on (RFC 5681 §3.2 step 2).
    fn on_congestion_event(&mut self, now: Instant, flight: u32, smss: u32);

    /// Loss recovery ended with an ACK covering everything outstanding when it began;
    /// `flight` bytes are still outstanding (RFC 6582 §3.2 step 3).
    fn on_recovery_end(&mut self, now: Instant, flight: u32, smss: u32);

    /// The retransmission timer fired with `flight` bytes outstanding (RFC 5681 §3.1: the
    /// threshold drops and the window becomes the loss window).
    fn on_retransmission_timeout(&mut self, now: Instant, flight: u32, smss: u32);

    /// Sending restarts after an idle period longer than the RTO (RFC 5681 §4.1).
    fn on_idle_restart(&mut self, now: Instant, initial_window: u32);
}

/// The controller of one connection: one variant per algorithm, dispatched without a box.
#[derive(Clone, Debug)]
pub enum Congestion {
    Cubic(Cubic),
    NewReno(NewReno),
}

impl Congestion {
    /// The controller a new connection starts with, for an initial window of
    /// `initial_window` bytes.
    pub fn new(algorithm: Algorithm, initial_window: u32) -> Congestion {
        match algorithm {
            Algorithm::Cubic => Congestion::Cubic(Cubic::new(initial_window)),
            Algorithm::NewReno => Congestion::NewReno(NewReno::new(initial_window)),
        }
    }
}

/// Calls `$method` on whichever controller `$self` holds: a match, not a virtual call, on
/// the per-ACK and per-segment paths.
macro_rules! dispatch {
    ($self:ident.$method:ident($($arg:expr),*)) => {
        match $self {
            Congestion::Cubic(c) => c.$method($($arg),*),
            Congestion::NewReno(c) => c.$method($($arg),*),
        }
    };
}

impl CongestionControl for Congestion {
    #[inline]
    fn cwnd(&self) -> u32 {
        dispatch!(self.cwnd())
    }
    #[inline]
    fn ssthresh(&self) -> u32 {
        dispatch!(self.ssthresh())
    }
    #[inline]
    fn on_ack(&mut self, ack: &AckEvent) {
        dispatch!(self.on_ack(ack))
    }
    fn on_congestion_event(&mut self, now: Instant, flight: u32, smss: u32) {
        dispatch!(self.on_congestion_event(now, flight, smss))
    }
    fn on_recovery_end(&mut self, now: Instant, flight: u32, smss: u32) {
        dispatch!(self.on_recovery_end(now, flight, smss))
    }
    fn on_retransmission_timeout(&mut self, now: Instant, flight: u32, smss: u32) {
        dispatch!(self.on_retransmission_timeout(now, flight, smss))
    }
    fn on_idle_restart(&mut self, now: Instant, initial_window: u32) {
        dispatch!(self.on_idle_restart(now, initial_window))
    }
}

/// RFC 6928 initial window: min(10·MSS, max(2·MSS, 14600)) for 10 segments; fewer segments
/// give `segments`·MSS.
pub fn initial_window(segments: u32, smss: u32) -> u32 {
    if segments >= 10 {
        (segments * smss).min((2 * smss).max(14_600))
    } else {
        segments * smss
    }
}

/// RFC 5681 §3.1 equation (4): ssthresh = max(FlightSize / 2, 2·SMSS).
pub fn halved_threshold(flight: u32, smss: u32) -> u32 {
    (flight / 2).max(2 * smss)
}
