//! Time as the sans-IO core sees it: a monotonic instant passed in by the caller.
//!
//! The TCP core never reads a clock. Workers read the monotonic clock once per loop turn and
//! hand that [`Instant`] to everything they call; the simulator hands out virtual time.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::time::Duration;

/// A point on a monotonic clock, in nanoseconds since an arbitrary origin.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant {
    nanos: u64,
}

impl Instant {
    /// The origin of the clock.
    pub const ZERO: Instant = Instant { nanos: 0 };

    /// An instant `nanos` nanoseconds after the origin.
    pub const fn from_nanos(nanos: u64) -> Instant {
        Instant { nanos }
    }

    /// An instant `micros` microseconds after the origin.
    pub const fn from_micros(micros: u64) -> Instant {
        Instant {
            nanos: micros * 1_000,
        }
    }

    /// An instant `millis` milliseconds after the origin.
    pub const fn from_millis(millis: u64) -> Instant {
        Instant {
            nanos: millis * 1_000_000,
        }
    }

    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.nanos
    }

    /// Microseconds since the origin (truncated).
    pub const fn as_micros(self) -> u64 {
        self.nanos / 1_000
    }

    /// Time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.nanos.saturating_sub(earlier.nanos))
    }

    /// Nanoseconds elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub const fn nanos_since(self, earlier: Instant) -> u64 {
        self.nanos.saturating_sub(earlier.nanos)
    }

    /// `self` plus `nanos` nanoseconds, saturating at the end of time.
    pub const fn saturating_add_nanos(self, nanos: u64) -> Instant {
        Instant {
            nanos: self.nanos.saturating_add(nanos),
        }
    }

    /// Reads the host's monotonic clock (`CLOCK_MONOTONIC`, time since boot). Only the I/O
    /// layers call this; the sans-IO core always receives time as an argument. The value is
    /// the same for every process on the host, which the ISN clock of RFC 6528 relies on:
    /// sequence numbers of a 4-tuple must keep increasing when a program restarts.
    pub fn now_monotonic() -> Instant {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        Instant::from_nanos(
            (t.tv_sec as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(t.tv_nsec as u64),
        )
    }
}

/// `d` in nanoseconds, saturating at `u64::MAX` (584 years).
pub(crate) fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        Instant {
            nanos: self.nanos.saturating_add(duration_nanos(rhs)),
        }
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturating: an earlier minus a later instant is zero.
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}s",
            self.nanos / 1_000_000_000,
            self.nanos % 1_000_000_000
        )
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_counts_from_boot_not_from_process_start() {
        // The same origin in every process (RFC 6528's ISN clock depends on it).
        let uptime: f64 = std::fs::read_to_string("/proc/uptime")
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let now = Instant::now_monotonic().as_nanos() as f64 / 1e9;
        assert!(
            (now - uptime).abs() < 2.0,
            "clock {now} s, uptime {uptime} s"
        );
        assert!(Instant::now_monotonic() >= Instant::from_nanos((now * 1e9) as u64));
    }

    #[test]
    fn arithmetic_saturates() {
        let a = Instant::from_millis(5);
        assert_eq!(a + Duration::from_millis(5), Instant::from_millis(10));
        assert_eq!(Instant::from_millis(10) - a, Duration::from_millis(5));
        assert_eq!(a - Instant::from_millis(10), Duration::ZERO);
        assert_eq!(
            Instant::from_nanos(u64::MAX) + Duration::from_secs(1),
            Instant::from_nanos(u64::MAX)
        );
        assert_eq!(a.saturating_add_nanos(7), Instant::from_nanos(5_000_007));
        assert_eq!(
            Instant::from_nanos(u64::MAX - 1).saturating_add_nanos(9),
            Instant::from_nanos(u64::MAX)
        );
        assert_eq!(Instant::from_millis(10).nanos_since(a), 5_000_000);
        assert_eq!(a.nanos_since(Instant::from_millis(10)), 0);
        assert_eq!(
            format!("{:?}", Instant::from_micros(1_500_000)),
            "1.500000000s"
        );
    }
}
