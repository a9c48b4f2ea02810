//! The load generator behind `xdptcp load`: the same workloads over xdptcp or over Linux
//! sockets, closed or open loop, with HdrHistogram latency reports.
//!
//! [`engine`] decides what to send when and records what it measured (sans-IO); [`codec`]
//! encodes requests and recognizes responses; [`xdptcp`] and [`linux`] are the two drivers;
//! [`report`] prints results, writes `.hgrm` files and SVG charts.

pub mod codec;
pub mod engine;
pub mod error;
pub mod held;
pub mod linux;
pub mod report;
pub mod xdptcp;

pub use codec::{UnknownWorkload, Workload};
pub use engine::{Engine, Tally};
pub use error::{LoadError, SpecError};
pub use report::Report;

use std::net::SocketAddrV4;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// The largest request (or bulk write): 1 MiB.
pub const MAX_SIZE: usize = 1 << 20;

/// What to run.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadSpec {
    pub workload: Workload,
    /// Request (or bulk write) size in bytes.
    pub size: usize,
    /// Concurrent connections (for `connect`: concurrent users, each opening one
    /// connection per request).
    pub connections: usize,
    /// Requests outstanding per connection.
    pub depth: usize,
    /// Open loop: requests per second over all connections; closed loop when `None`.
    pub rate: Option<f64>,
    /// How long requests are sent.
    pub duration: Duration,
    /// How long to wait for outstanding answers after `duration`.
    pub grace: Duration,
    pub target: SocketAddrV4,
    /// Idle connections opened before the workload starts and held open through it (xdptcp
    /// stack only; see [`held`]).
    pub hold: usize,
}

impl LoadSpec {
    /// How long opening the held connections may take: 10 s, and a second for every 5,000.
    pub fn hold_allowance(&self) -> Duration {
        if self.hold == 0 {
            return Duration::ZERO;
        }
        Duration::from_secs(10 + self.hold as u64 / 5_000)
    }

    /// Checks the spec; the error names the bad setting.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.connections == 0 {
            return Err(SpecError::NoConnections);
        }
        if self.depth == 0 {
            return Err(SpecError::NoDepth);
        }
        if self.size == 0 || self.size > MAX_SIZE {
            return Err(SpecError::Size(self.size));
        }
        if let Some(rate) = self.rate {
            if !(rate > 0.0 && rate.is_finite()) {
                return Err(SpecError::Rate(rate));
            }
            if self.workload == Workload::Bulk {
                return Err(SpecError::RateOnBulk);
            }
        }
        if self.duration.is_zero() {
            return Err(SpecError::NoDuration);
        }
        Ok(())
    }
}

/// Live counters for the progress line, shared by every engine.
#[derive(Debug, Default)]
pub struct Progress {
    pub answered: AtomicU64,
    pub errors: AtomicU64,
    pub bytes: AtomicU64,
}

/// A warning that may repeat thousands of times a second under load (every failed connect,
/// every bad response): the first is logged, then at most one a second with the number held
/// back, so a misconfigured run reports its problem without flooding the terminal.
#[derive(Debug, Default)]
pub struct RateLimitedWarning {
    last_logged: Option<std::time::Instant>,
    held_back: u64,
}

impl RateLimitedWarning {
    pub fn warn(&mut self, message: std::fmt::Arguments<'_>) {
        let now = std::time::Instant::now();
        match self.last_logged {
            Some(at) if now.duration_since(at) < Duration::from_secs(1) => self.held_back += 1,
            _ => {
                if self.held_back > 0 {
                    log::warn!("{message} (and {} more like it)", self.held_back);
                } else {
                    log::warn!("{message}");
                }
                self.last_logged = Some(now);
                self.held_back = 0;
            }
        }
    }
}
