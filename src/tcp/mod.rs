//! The sans-IO TCP core (RFC 9293): one [`Connection`] per flow, driven by segments and time.
//!
//! See [`connection`] for the state machine. Sequence numbers are [`SeqNum`] values compared
//! modulo 2^32; buffers are bounded rings; timers are a fixed table; loss recovery
//! ([`recovery`]) and the congestion controller ([`congestion`], NewReno) are apart. Tests of every arrow of the RFC 9293 state diagram live in
//! `tests/tcp_state_diagram.rs`; its module documentation maps each arrow to its test.

pub mod buffer;
pub mod challenge_ceiling;
pub mod config;
pub mod congestion;
pub mod connection;
pub mod error;
pub mod isn;
pub mod recovery;
pub mod rtt;
pub mod syn_cookie;
pub mod time_wait;
pub mod timer;

pub use crate::wire::SeqNum;
pub use challenge_ceiling::ChallengeAckCeiling;
pub use config::{Config, ConfigError, Keepalive};
pub use connection::{
    reset_reply, ConnStats, ConnStatsSnapshot, Connection, Event, PathError, PathErrorKind,
    PathErrorOutcome, State, UnknownState, UnreachableReason, MIN_PATH_MTU,
};
pub use error::{ConnectionError, Error};
pub use isn::IsnGenerator;
pub use time_wait::{TimeWait, TimeWaitReply};
