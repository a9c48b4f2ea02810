//! The ceiling on challenge ACKs shared by the connections of one stack (RFC 5961 §7: "an
//! upper limit on the number of challenge ACKs sent per second"), beside each connection's
//! own limit.
//!
//! A single host-wide counter is a side channel (CVE-2016-5696, "Off-Path TCP Exploits",
//! USENIX Security 2016): an attacker who exhausts it through its own connection learns, from
//! the challenge ACKs it then gets, whether another connection drew some. Here the ceiling
//! is per stack (per worker), a connection first spends its own budget (ten a second by
//! default, so one connection cannot reach the ceiling), and the ceiling of each second is
//! drawn at random from [limit/2, 3·limit/2), as Linux does since that disclosure, so even an
//! attacker with many connections cannot read another connection's use from what is left.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::time::Instant;

/// Challenge ACKs left this second for all connections of one stack.
#[derive(Debug)]
pub struct ChallengeAckCeiling {
    limit: u32,
    /// Start of the current one-second window (nanoseconds of [`Instant`]).
    window_start: AtomicU64,
    left: AtomicU32,
    /// xorshift64 state for each second's draw.
    random: AtomicU64,
}

impl ChallengeAckCeiling {
    /// A ceiling of about `limit` challenge ACKs a second (0: none at all), its draws
    /// seeded by `seed`.
    pub fn new(limit: u32, seed: u64) -> ChallengeAckCeiling {
        ChallengeAckCeiling {
            limit,
            window_start: AtomicU64::new(0),
            left: AtomicU32::new(0),
            random: AtomicU64::new(seed | 1),
        }
    }

    fn draw(&self) -> u32 {
        let mut x = self.random.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.random.store(x, Ordering::Relaxed);
        let span = u64::from(self.limit.max(1));
        self.limit / 2 + (x % span) as u32
    }

    /// Takes one challenge ACK from this second's ceiling, if any is left. Only the
    /// worker owning the stack calls it, so relaxed atomics suffice (they only make the
    /// ceiling shareable between its connections).
    pub fn allow(&self, now: Instant) -> bool {
        let start = self.window_start.load(Ordering::Relaxed);
        let fresh = start == 0
            || now.as_nanos().saturating_sub(start) >= Duration::from_secs(1).as_nanos() as u64;
        if fresh {
            self.window_start
                .store(now.as_nanos().max(1), Ordering::Relaxed);
            self.left.store(self.draw(), Ordering::Relaxed);
        }
        let left = self.left.load(Ordering::Relaxed);
        if left == 0 {
            return false;
        }
        self.left.store(left - 1, Ordering::Relaxed);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed_in_one_second(c: &ChallengeAckCeiling, second: u64) -> u32 {
        (0..10_000)
            .filter(|i| c.allow(Instant::from_nanos(second * 1_000_000_000 + i * 1000)))
            .count() as u32
    }

    #[test]
    fn each_second_allows_a_random_count_around_the_limit() {
        let c = ChallengeAckCeiling::new(1000, 42);
        let counts: Vec<u32> = (1..=20).map(|s| allowed_in_one_second(&c, s)).collect();
        assert!(
            counts.iter().all(|&n| (500..1500).contains(&n)),
            "{counts:?}"
        );
        let distinct: std::collections::BTreeSet<_> = counts.iter().collect();
        assert!(distinct.len() > 10, "drawn afresh each second: {counts:?}");
    }

    #[test]
    fn a_zero_limit_allows_none() {
        let c = ChallengeAckCeiling::new(0, 1);
        assert_eq!(allowed_in_one_second(&c, 1), 0);
    }
}
