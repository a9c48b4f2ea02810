//! The per-connection timer table: one deadline slot per timer kind, no allocation.

use crate::time::Instant;

/// The timers a connection runs.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Timer {
    /// Retransmission of the oldest unacknowledged segment (RFC 6298).
    Retransmit = 0,
    /// Zero-window probe (RFC 9293 §3.8.6.1).
    Persist = 1,
    /// Delayed acknowledgment (RFC 1122 §4.2.3.2).
    DelayedAck = 2,
    /// Keepalive probe (RFC 1122 §4.2.3.6).
    Keepalive = 3,
    /// TIME-WAIT (2·MSL) and the orphaned FIN-WAIT-2 limit; never both at once.
    Close = 4,
    /// RACK's reordering window ran out for a segment not yet deemed lost (RFC 8985 §6.2).
    Reorder = 5,
    /// The tail loss probe (RFC 8985 §7.2).
    LossProbe = 6,
}

impl Timer {
    pub const ALL: [Timer; 7] = [
        Timer::Retransmit,
        Timer::Persist,
        Timer::DelayedAck,
        Timer::Keepalive,
        Timer::Close,
        Timer::Reorder,
        Timer::LossProbe,
    ];
}

const UNSET: u64 = u64::MAX;

/// Deadlines indexed by [`Timer`]. 56 bytes.
#[derive(Clone, Debug)]
pub struct TimerTable {
    deadlines: [u64; Timer::ALL.len()],
}

impl Default for TimerTable {
    fn default() -> TimerTable {
        TimerTable {
            deadlines: [UNSET; Timer::ALL.len()],
        }
    }
}

impl TimerTable {
    pub fn set(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer as usize] = at.as_nanos().min(UNSET - 1);
    }

    /// The deadline of `timer`, if armed.
    pub fn get(&self, timer: Timer) -> Option<Instant> {
        let at = self.deadlines[timer as usize];
        (at != UNSET).then(|| Instant::from_nanos(at))
    }

    pub fn stop(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = UNSET;
    }

    pub fn stop_all(&mut self) {
        self.deadlines = [UNSET; Timer::ALL.len()];
    }

    pub fn is_armed(&self, timer: Timer) -> bool {
        self.deadlines[timer as usize] != UNSET
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        match self.deadlines.iter().copied().min() {
            Some(UNSET) | None => None,
            Some(at) => Some(Instant::from_nanos(at)),
        }
    }

    /// Removes and returns one timer whose deadline is at or before `now`, earliest first.
    pub fn pop_expired(&mut self, now: Instant) -> Option<Timer> {
        let (index, &at) = self
            .deadlines
            .iter()
            .enumerate()
            .min_by_key(|&(_, &at)| at)?;
        if at == UNSET || at > now.as_nanos() {
            return None;
        }
        self.deadlines[index] = UNSET;
        Some(Timer::ALL[index])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expire_in_deadline_order() {
        let mut t = TimerTable::default();
        assert_eq!(t.next(), None);
        t.set(Timer::Keepalive, Instant::from_millis(30));
        t.set(Timer::DelayedAck, Instant::from_millis(10));
        t.set(Timer::Retransmit, Instant::from_millis(20));
        assert_eq!(t.next(), Some(Instant::from_millis(10)));
        assert_eq!(t.pop_expired(Instant::from_millis(5)), None);
        assert_eq!(
            t.pop_expired(Instant::from_millis(25)),
            Some(Timer::DelayedAck)
        );
        assert_eq!(
            t.pop_expired(Instant::from_millis(25)),
            Some(Timer::Retransmit)
        );
        assert_eq!(t.pop_expired(Instant::from_millis(25)), None);
        t.stop(Timer::Keepalive);
        assert_eq!(t.next(), None);
        assert!(!t.is_armed(Timer::Keepalive));
    }
}
