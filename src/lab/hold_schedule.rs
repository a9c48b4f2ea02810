//! When the forwarder lets each held frame go: the sans-IO part of the forwarder, time passed
//! in, frame ids out, so that delay, jitter and reordering are tested without a kernel.
//!
//! Each frame waits `delay ± jitter` (drawn uniformly, not below zero) after it came, but
//! never leaves before the frame that came before it: jitter stretches the gaps between
//! frames and does not reorder them (netem reorders under jitter unless a rate is set; here
//! reordering is only ever what was asked for). A frame chosen for reordering (probability
//! `reorder`) is held back when it is due, until `reorder_depth` later frames have left, or
//! until [`REORDER_WAIT_LIMIT`] passed if traffic stops, so a lone frame is not stuck.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::time::{duration_nanos, Instant};

/// The longest a held-back frame waits for later frames to overtake it.
pub const REORDER_WAIT_LIMIT: Duration = Duration::from_millis(2);

/// What the forwarder does to one direction.
#[derive(Clone, Debug, PartialEq)]
pub struct Hold {
    pub delay: Duration,
    pub jitter: Duration,
    pub reorder: f64,
    pub reorder_depth: u32,
}

/// A frame waiting for its time.
#[derive(Copy, Clone, Debug)]
struct Waiting {
    id: u32,
    due: Instant,
}

/// A frame held back for others to overtake.
#[derive(Copy, Clone, Debug)]
struct HeldBack {
    id: u32,
    overtakers_left: u32,
    overtaken: bool,
    deadline: Instant,
}

/// What a schedule has done so far.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ScheduleCounts {
    /// Frames that came in.
    pub arrived: u64,
    /// Frames let go.
    pub released: u64,
    /// Frames that left after a frame that came later.
    pub reordered: u64,
}

/// The release schedule of one direction.
pub struct HoldSchedule {
    hold: Hold,
    rng: ChaCha8Rng,
    waiting: VecDeque<Waiting>,
    held_back: Vec<HeldBack>,
    last_due: Instant,
    counts: ScheduleCounts,
}

impl HoldSchedule {
    pub fn new(hold: Hold, seed: u64) -> HoldSchedule {
        HoldSchedule {
            hold,
            rng: ChaCha8Rng::seed_from_u64(seed),
            waiting: VecDeque::new(),
            held_back: Vec::new(),
            last_due: Instant::ZERO,
            counts: ScheduleCounts::default(),
        }
    }

    /// Frame `id` came in at `now`.
    pub fn arrive(&mut self, now: Instant, id: u32) {
        let delay = self.draw_delay();
        let due = now
            .saturating_add_nanos(duration_nanos(delay))
            .max(self.last_due);
        self.last_due = due;
        self.waiting.push_back(Waiting { id, due });
        self.counts.arrived += 1;
    }

    fn draw_delay(&mut self) -> Duration {
        let (delay, jitter) = (self.hold.delay, self.hold.jitter);
        if jitter.is_zero() {
            return delay;
        }
        let low = delay.saturating_sub(jitter);
        let high = delay + jitter;
        Duration::from_nanos(
            self.rng
                .random_range(duration_nanos(low)..=duration_nanos(high)),
        )
    }

    /// Appends to `out`, in order, the frames to let go at `now`.
    pub fn release(&mut self, now: Instant, out: &mut Vec<u32>) {
        while let Some(&Waiting { id, due }) = self.waiting.front() {
            if due > now {
                break;
            }
            self.waiting.pop_front();
            if self.hold.reorder > 0.0 && self.rng.random_bool(self.hold.reorder) {
                self.held_back.push(HeldBack {
                    id,
                    overtakers_left: self.hold.reorder_depth,
                    overtaken: false,
                    deadline: due.saturating_add_nanos(duration_nanos(REORDER_WAIT_LIMIT)),
                });
                continue;
            }
            self.let_go(id, out);
            for held in &mut self.held_back {
                held.overtakers_left = held.overtakers_left.saturating_sub(1);
                held.overtaken = true;
            }
            self.release_held_back(|h| h.overtakers_left == 0, out);
        }
        self.release_held_back(|h| h.deadline <= now, out);
    }

    fn let_go(&mut self, id: u32, out: &mut Vec<u32>) {
        out.push(id);
        self.counts.released += 1;
    }

    /// Lets go, in the order they were held, the held-back frames that `ready` picks.
    fn release_held_back(&mut self, ready: impl Fn(&HeldBack) -> bool, out: &mut Vec<u32>) {
        let mut index = 0;
        while index < self.held_back.len() {
            if ready(&self.held_back[index]) {
                let held = self.held_back.remove(index);
                if held.overtaken {
                    self.counts.reordered += 1;
                }
                self.let_go(held.id, out);
            } else {
                index += 1;
            }
        }
    }

    /// Appends every frame still held, in order (waiting ones first): for a forwarder that
    /// stops and must not strand what it holds.
    pub fn release_all(&mut self, out: &mut Vec<u32>) {
        while let Some(w) = self.waiting.pop_front() {
            self.let_go(w.id, out);
        }
        self.release_held_back(|_| true, out);
    }

    /// The next time [`HoldSchedule::release`] has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        let waiting = self.waiting.front().map(|w| w.due);
        let held = self.held_back.iter().map(|h| h.deadline).min();
        waiting.into_iter().chain(held).min()
    }

    pub fn counts(&self) -> ScheduleCounts {
        self.counts
    }
}

/// `delay_us=D,jitter_us=J,reorder=P,depth=N`: how the lab hands a direction's hold to the
/// forwarder process on its command line.
impl fmt::Display for Hold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "delay_us={},jitter_us={},reorder={},depth={}",
            self.delay.as_micros(),
            self.jitter.as_micros(),
            self.reorder,
            self.reorder_depth
        )
    }
}

/// A hold that does not read as [`Hold`]'s `Display` writes it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad hold {0:?}: expected delay_us=D,jitter_us=J,reorder=P,depth=N")]
pub struct BadHold(String);

impl FromStr for Hold {
    type Err = BadHold;

    fn from_str(s: &str) -> Result<Hold, BadHold> {
        let bad = || BadHold(s.into());
        let mut fields = [None; 4];
        for part in s.split(',') {
            let (key, value) = part.split_once('=').ok_or_else(bad)?;
            let slot = ["delay_us", "jitter_us", "reorder", "depth"]
                .iter()
                .position(|k| *k == key)
                .ok_or_else(bad)?;
            fields[slot] = Some(value);
        }
        let [Some(delay), Some(jitter), Some(reorder), Some(depth)] = fields else {
            return Err(bad());
        };
        let micros = |v: &str| v.parse().map(Duration::from_micros).map_err(|_| bad());
        Ok(Hold {
            delay: micros(delay)?,
            jitter: micros(jitter)?,
            reorder: reorder.parse().map_err(|_| bad())?,
            reorder_depth: depth.parse().map_err(|_| bad())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(delay_us: u64, jitter_us: u64, reorder: f64) -> Hold {
        Hold {
            delay: Duration::from_micros(delay_us),
            jitter: Duration::from_micros(jitter_us),
            reorder,
            reorder_depth: 3,
        }
    }

    /// Feeds frames 0..n, one every `gap_us`, and releases at every microsecond until all
    /// left; returns (id, release time in µs) in release order.
    fn run(schedule: &mut HoldSchedule, n: u32, gap_us: u64) -> Vec<(u32, u64)> {
        let mut out = Vec::new();
        let mut released = Vec::new();
        let mut t = 0;
        let mut next = 0;
        while released.len() < n as usize {
            if next < n && t == u64::from(next) * gap_us {
                schedule.arrive(Instant::from_micros(t), next);
                next += 1;
            }
            schedule.release(Instant::from_micros(t), &mut out);
            released.extend(out.drain(..).map(|id| (id, t)));
            t += 1;
            assert!(t < 1_000_000, "frames stuck: {released:?}");
        }
        released
    }

    #[test]
    fn a_delay_holds_every_frame_that_long_and_keeps_order() {
        let mut s = HoldSchedule::new(hold(1000, 0, 0.0), 7);
        let released = run(&mut s, 50, 10);
        for (i, &(id, t)) in released.iter().enumerate() {
            assert_eq!(id, i as u32);
            assert_eq!(t, u64::from(id) * 10 + 1000);
        }
        assert_eq!(s.counts().reordered, 0);
        assert_eq!(s.next_deadline(), None);
    }

    #[test]
    fn jitter_spreads_delays_but_never_reorders() {
        // Frames further apart than the jitter's range: each wait is its own draw.
        let mut sparse = HoldSchedule::new(hold(500, 400, 0.0), 3);
        let released = run(&mut sparse, 500, 1000);
        let waits: Vec<u64> = released
            .iter()
            .map(|&(id, t)| t - u64::from(id) * 1000)
            .collect();
        assert!(waits.iter().all(|&w| (100..=900).contains(&w)), "{waits:?}");
        let (min, max) = (waits.iter().min().unwrap(), waits.iter().max().unwrap());
        assert!(*min < 120 && *max > 880, "spread {min}..{max}");
        let mean = waits.iter().sum::<u64>() / waits.len() as u64;
        assert!((470..530).contains(&mean), "mean wait {mean}");
        // Frames closer than that: a frame never leaves before the one ahead of it.
        let mut dense = HoldSchedule::new(hold(500, 400, 0.0), 3);
        let released = run(&mut dense, 2000, 20);
        let ids: Vec<u32> = released.iter().map(|r| r.0).collect();
        assert_eq!(ids, (0..2000).collect::<Vec<_>>());
        assert_eq!(dense.counts().reordered, 0);
    }

    #[test]
    fn held_back_frames_are_overtaken_by_the_depth() {
        let mut s = HoldSchedule::new(hold(0, 0, 0.1), 11);
        let released = run(&mut s, 5000, 5);
        let ids: Vec<u32> = released.iter().map(|r| r.0).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            (0..5000).collect::<Vec<_>>(),
            "each frame exactly once"
        );
        let late = ids.windows(2).filter(|w| w[0] > w[1]).count();
        let reordered = s.counts().reordered;
        assert!((350..650).contains(&reordered), "reordered {reordered}");
        assert!(late > 0 && late as u64 <= reordered);
        // A frame held back leaves right after the third frame that came after it.
        let position = |id: u32| ids.iter().position(|&x| x == id).unwrap();
        let held = (0..4990)
            .find(|&id| position(id) > position(id + 1))
            .unwrap();
        assert!(position(held) >= position(held + 3));
    }

    #[test]
    fn a_lone_held_back_frame_leaves_after_the_wait_limit() {
        let mut s = HoldSchedule::new(hold(100, 0, 1.0), 1);
        let mut out = Vec::new();
        s.arrive(Instant::ZERO, 9);
        s.release(Instant::from_micros(100), &mut out);
        assert!(out.is_empty());
        let limit = 100 + REORDER_WAIT_LIMIT.as_micros() as u64;
        assert_eq!(s.next_deadline(), Some(Instant::from_micros(limit)));
        s.release(Instant::from_micros(limit), &mut out);
        assert_eq!(out, vec![9]);
        assert_eq!(s.counts().reordered, 0, "nothing overtook it");
    }

    #[test]
    fn release_all_empties_the_schedule_in_order() {
        let mut s = HoldSchedule::new(hold(1000, 0, 0.0), 1);
        for id in 0..4 {
            s.arrive(Instant::from_micros(id.into()), id);
        }
        let mut out = Vec::new();
        s.release_all(&mut out);
        assert_eq!(out, vec![0, 1, 2, 3]);
        assert_eq!(s.next_deadline(), None);
    }

    #[test]
    fn a_hold_reads_back_what_it_writes() {
        let h = Hold {
            delay: Duration::from_micros(1500),
            jitter: Duration::from_micros(20),
            reorder: 0.025,
            reorder_depth: 4,
        };
        assert_eq!(h.to_string().parse::<Hold>(), Ok(h));
        assert!("delay_us=1".parse::<Hold>().is_err());
        assert!("delay_us=1,jitter_us=0,reorder=x,depth=3"
            .parse::<Hold>()
            .is_err());
    }
}
