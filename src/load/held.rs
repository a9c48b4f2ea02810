//! Idle connections a load worker opens and keeps open beside its workload's
//! (`xdptcp load --hold N`): the server then carries that many established connections while
//! the workload is measured, and the time to open them gives the connection setup rate.
//!
//! At most [`OPENING_AT_ONCE`] handshakes are outstanding per worker, so the server's backlog
//! sees a steady stream rather than one burst of SYNs. A held connection that fails is
//! counted, not reopened.

use std::time::Duration;

use slotmap::SecondaryMap;

use crate::stack::ConnId;
use crate::time::Instant;

/// Handshakes one worker keeps outstanding while it opens its held connections.
pub const OPENING_AT_ONCE: usize = 256;

/// What the held connections of one or more workers came to.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HeldTally {
    pub wanted: u64,
    pub established: u64,
    pub failed: u64,
    /// From the start until the last one was established (the slowest worker's).
    pub setup: Duration,
}

impl HeldTally {
    pub fn merge(&mut self, other: &HeldTally) {
        self.wanted += other.wanted;
        self.established += other.established;
        self.failed += other.failed;
        self.setup = self.setup.max(other.setup);
    }

    /// Connections established per second while they were opened.
    pub fn per_second(&self) -> f64 {
        let seconds = self.setup.as_secs_f64();
        if seconds > 0.0 {
            self.established as f64 / seconds
        } else {
            0.0
        }
    }
}

/// One worker's held connections.
#[derive(Debug)]
pub struct HeldConnections {
    /// Each held connection, and whether its handshake completed.
    conns: SecondaryMap<ConnId, bool>,
    wanted: usize,
    /// Connections asked of the stack so far (established, opening or failed).
    asked: usize,
    opening: usize,
    established: usize,
    failed: usize,
    started: Instant,
    done_at: Option<Instant>,
}

impl HeldConnections {
    pub fn new(wanted: usize, now: Instant) -> HeldConnections {
        HeldConnections {
            conns: SecondaryMap::new(),
            wanted,
            asked: 0,
            opening: 0,
            established: 0,
            failed: 0,
            started: now,
            done_at: (wanted == 0).then_some(now),
        }
    }

    /// How many more to open now.
    pub fn to_open(&self) -> usize {
        (self.wanted - self.asked).min(OPENING_AT_ONCE.saturating_sub(self.opening))
    }

    /// The stack took an open (`Some`) or refused one (`None`).
    pub fn opened(&mut self, conn: Option<ConnId>, now: Instant) {
        self.asked += 1;
        match conn {
            Some(conn) => {
                self.conns.insert(conn, false);
                self.opening += 1;
            }
            None => self.fail(now),
        }
    }

    pub fn holds(&self, conn: ConnId) -> bool {
        self.conns.contains_key(conn)
    }

    /// The handshake of `conn` completed.
    pub fn connected(&mut self, conn: ConnId, now: Instant) {
        if let Some(established) = self.conns.get_mut(conn) {
            if !*established {
                *established = true;
                self.opening -= 1;
                self.established += 1;
                self.check_done(now);
            }
        }
    }

    /// `conn` closed or failed (the server should never close an idle connection).
    pub fn closed(&mut self, conn: ConnId, now: Instant) {
        match self.conns.remove(conn) {
            Some(true) => self.established -= 1,
            Some(false) => self.opening -= 1,
            None => return,
        }
        self.fail(now);
    }

    fn fail(&mut self, now: Instant) {
        self.failed += 1;
        self.check_done(now);
    }

    fn check_done(&mut self, now: Instant) {
        if self.done_at.is_none() && self.asked == self.wanted && self.opening == 0 {
            self.done_at = Some(now);
        }
    }

    /// True once every held connection is established or has failed.
    pub fn done(&self) -> bool {
        self.done_at.is_some()
    }

    /// Every connection held, to release at the end.
    pub fn connections(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.conns.keys()
    }

    pub fn tally(&self) -> HeldTally {
        HeldTally {
            wanted: self.wanted as u64,
            established: self.established as u64,
            failed: self.failed as u64,
            setup: self.done_at.map_or(Duration::ZERO, |at| {
                at.saturating_duration_since(self.started)
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotmap::SlotMap;

    #[test]
    fn opens_in_waves_counts_failures_and_finishes_when_none_is_opening() {
        let mut ids: SlotMap<ConnId, ()> = SlotMap::with_key();
        let t0 = Instant::from_millis(0);
        let mut held = HeldConnections::new(300, t0);
        assert_eq!(held.to_open(), OPENING_AT_ONCE);
        let first: Vec<ConnId> = (0..OPENING_AT_ONCE).map(|_| ids.insert(())).collect();
        for &c in &first {
            held.opened(Some(c), t0);
        }
        assert_eq!(held.to_open(), 0, "a wave is outstanding");
        for &c in &first[..100] {
            held.connected(c, Instant::from_millis(5));
        }
        assert_eq!(held.to_open(), 44, "the 44 left of 300");
        for _ in 0..43 {
            let c = ids.insert(());
            held.opened(Some(c), Instant::from_millis(6));
            held.connected(c, Instant::from_millis(7));
        }
        held.opened(None, Instant::from_millis(7)); // the stack refused one
        for &c in &first[100..255] {
            held.connected(c, Instant::from_millis(8));
        }
        assert!(!held.done());
        held.closed(first[255], Instant::from_millis(9)); // reset before it was established
        assert!(held.done());
        let tally = held.tally();
        assert_eq!(
            (tally.wanted, tally.established, tally.failed),
            (300, 298, 2)
        );
        assert_eq!(tally.setup, Duration::from_millis(9));
        assert!((tally.per_second() - 298.0 / 0.009).abs() < 1.0);
    }

    #[test]
    fn nothing_to_hold_is_done_at_once() {
        let held = HeldConnections::new(0, Instant::from_millis(3));
        assert!(held.done());
        assert_eq!(held.to_open(), 0);
    }
}
