//! Loss recovery: what is lost, what to send again, and at what rate.
//!
//! Two mechanisms, chosen by what the peer supports:
//! - [`NewReno`](new_reno::Recovery), for peers without SACK: duplicate-ACK counting, fast
//!   retransmit (RFC 5681 §3.2) and NewReno fast recovery (RFC 6582 §3.2);
//! - with SACK, a [`Scoreboard`](scoreboard::Scoreboard) of the segments sent (RFC 2018,
//!   RFC 6675), time-based loss detection with a tail loss probe ([`rack`], [`tlp`]:
//!   RFC 8985), and Proportional Rate Reduction ([`prr`], RFC 6937) setting the sending
//!   rate while recovery lasts.
//!
//! The congestion controller ([`super::congestion`]) hears when a loss was detected, when
//! recovery ends and when the retransmission timer fired; the window is its business.

pub mod new_reno;
pub mod prr;
pub mod rack;
pub mod scoreboard;
pub mod tlp;

pub use new_reno::{AckAction, Recovery};

use crate::wire::SeqNum;

/// Loss recovery state of a connection whose peer agreed on SACK.
#[derive(Clone, Debug, Default)]
pub struct SackRecovery {
    pub board: scoreboard::Scoreboard,
    pub rack: rack::Rack,
    pub tlp: tlp::Tlp,
    pub prr: prr::Prr,
    /// RFC 6675 RecoveryPoint: in loss recovery until SND.UNA reaches it.
    pub recovery_point: Option<SeqNum>,
}

impl SackRecovery {
    pub fn in_recovery(&self) -> bool {
        self.recovery_point.is_some()
    }
}
