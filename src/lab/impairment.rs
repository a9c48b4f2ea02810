//! What the router of a routed lab does to the traffic it forwards: per direction, a share of
//! TCP segments lost or duplicated, a share of frames held back so that later ones overtake
//! them, and a delay with jitter. See the parent module for how each is carried out.

use std::fmt;
use std::time::Duration;

use super::hold_schedule::Hold;

/// The longest delay or jitter accepted: far beyond any path the lab models, and short
/// enough that the forwarder's queue (65,536 frames) is not outgrown by a modest flow.
pub const MAX_DELAY: Duration = Duration::from_secs(1);

/// Frames that overtake a held-back frame when no depth is given: three, the duplicate-ACK
/// threshold of fast retransmit (RFC 5681 §3.2), so the receiver's reaction is visible.
pub const DEFAULT_REORDER_DEPTH: u32 = 3;

/// A direction through the router.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the stack's namespace toward the peer's (in on `rt-stack`, out on `rt-peer`).
    ToPeer,
    /// From the peer's namespace toward the stack's (in on `rt-peer`, out on `rt-stack`).
    ToStack,
}

impl Direction {
    pub const BOTH: [Direction; 2] = [Direction::ToPeer, Direction::ToStack];

    /// The name used in counters: `to_peer` or `to_stack`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::ToPeer => "to_peer",
            Direction::ToStack => "to_stack",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::ToPeer => "toward the peer",
            Direction::ToStack => "toward the stack",
        })
    }
}

/// The impairment of one direction. [`PathImpairment::default`] is a clean path.
#[derive(Clone, Debug, PartialEq)]
pub struct PathImpairment {
    /// The probability that a TCP segment is dropped.
    pub loss: f64,
    /// The probability that a TCP segment (one not dropped) is sent twice.
    pub duplicate: f64,
    /// The probability that a frame is held back until `reorder_depth` later frames of the
    /// same direction have overtaken it.
    pub reorder: f64,
    pub reorder_depth: u32,
    /// Added to every frame's path through the router.
    pub delay: Duration,
    /// Each frame's delay is drawn uniformly from `delay ± jitter` (not below zero); frames
    /// still leave in the order they came, unless reordering is asked for.
    pub jitter: Duration,
}

impl Default for PathImpairment {
    fn default() -> PathImpairment {
        PathImpairment {
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_depth: DEFAULT_REORDER_DEPTH,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
        }
    }
}

impl PathImpairment {
    /// What the user-space forwarder must do for this direction, if anything: delay, jitter
    /// and reordering need it, loss and duplication do not.
    pub fn hold(&self) -> Option<Hold> {
        let needed = self.reorder > 0.0 || !self.delay.is_zero() || !self.jitter.is_zero();
        needed.then_some(Hold {
            delay: self.delay,
            jitter: self.jitter,
            reorder: self.reorder,
            reorder_depth: self.reorder_depth,
        })
    }

    pub fn is_clean(&self) -> bool {
        self.loss == 0.0 && self.duplicate == 0.0 && self.hold().is_none()
    }

    fn validate(&self, direction: Direction) -> Result<(), ImpairmentError> {
        for (what, value) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(ImpairmentError::Probability {
                    what,
                    direction,
                    value,
                });
            }
        }
        for (what, value) in [("delay", self.delay), ("jitter", self.jitter)] {
            if value > MAX_DELAY {
                return Err(ImpairmentError::TooLong {
                    what,
                    direction,
                    value,
                });
            }
        }
        if self.reorder > 0.0 && self.reorder_depth == 0 {
            return Err(ImpairmentError::ReorderDepth(direction));
        }
        Ok(())
    }
}

/// The impairment of both directions, and the seed of the forwarder's random choices.
#[derive(Clone, Debug, PartialEq)]
pub struct Impairment {
    pub to_peer: PathImpairment,
    pub to_stack: PathImpairment,
    /// Seeds the forwarder's delays and reordering choices (nftables' `numgen random`, which
    /// decides loss and duplication, takes no seed).
    pub seed: u64,
}

impl Default for Impairment {
    fn default() -> Impairment {
        Impairment::none()
    }
}

impl Impairment {
    /// A clean path both ways (the counters still count).
    pub fn none() -> Impairment {
        Impairment {
            to_peer: PathImpairment::default(),
            to_stack: PathImpairment::default(),
            seed: 1,
        }
    }

    /// The same impairment in both directions.
    pub fn both(path: PathImpairment) -> Impairment {
        Impairment {
            to_peer: path.clone(),
            to_stack: path,
            seed: 1,
        }
    }

    pub fn path(&self, direction: Direction) -> &PathImpairment {
        match direction {
            Direction::ToPeer => &self.to_peer,
            Direction::ToStack => &self.to_stack,
        }
    }

    pub fn path_mut(&mut self, direction: Direction) -> &mut PathImpairment {
        match direction {
            Direction::ToPeer => &mut self.to_peer,
            Direction::ToStack => &mut self.to_stack,
        }
    }

    pub fn is_clean(&self) -> bool {
        self.to_peer.is_clean() && self.to_stack.is_clean()
    }

    /// True when some direction needs the user-space forwarder.
    pub fn needs_forwarder(&self) -> bool {
        Direction::BOTH
            .iter()
            .any(|&d| self.path(d).hold().is_some())
    }

    /// Checks every value: probabilities in [0, 1], delays up to [`MAX_DELAY`].
    pub fn validate(&self) -> Result<(), ImpairmentError> {
        for direction in Direction::BOTH {
            self.path(direction).validate(direction)?;
        }
        Ok(())
    }
}

impl fmt::Display for PathImpairment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_clean() {
            return write!(f, "clean");
        }
        let mut parts = Vec::new();
        if self.loss > 0.0 {
            parts.push(format!("loss {}", self.loss));
        }
        if self.duplicate > 0.0 {
            parts.push(format!("duplicate {}", self.duplicate));
        }
        if self.reorder > 0.0 {
            parts.push(format!(
                "reorder {} (depth {})",
                self.reorder, self.reorder_depth
            ));
        }
        if !self.delay.is_zero() || !self.jitter.is_zero() {
            parts.push(format!(
                "delay {} us ± {} us",
                self.delay.as_micros(),
                self.jitter.as_micros()
            ));
        }
        write!(f, "{}", parts.join(", "))
    }
}

impl fmt::Display for Impairment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "to peer: {}; to stack: {}", self.to_peer, self.to_stack)
    }
}

/// A value of an [`Impairment`] out of range.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ImpairmentError {
    #[error("{what} ({direction}) must be a probability between 0 and 1, not {value}")]
    Probability {
        what: &'static str,
        direction: Direction,
        value: f64,
    },
    #[error("{what} ({direction}) of {value:?} is longer than the limit of {MAX_DELAY:?}")]
    TooLong {
        what: &'static str,
        direction: Direction,
        value: Duration,
    },
    #[error("reordering ({0}) needs a depth of at least one overtaking frame")]
    ReorderDepth(Direction),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_outside_zero_to_one_are_refused() {
        for bad in [-0.1, 1.5, f64::NAN] {
            let mut imp = Impairment::none();
            imp.to_stack.duplicate = bad;
            assert!(matches!(
                imp.validate(),
                Err(ImpairmentError::Probability {
                    what: "duplicate",
                    direction: Direction::ToStack,
                    ..
                })
            ));
        }
        let edges = Impairment::both(PathImpairment {
            loss: 1.0,
            reorder: 0.0,
            ..PathImpairment::default()
        });
        assert_eq!(edges.validate(), Ok(()));
    }

    #[test]
    fn only_delay_jitter_and_reordering_need_the_forwarder() {
        let loss_only = Impairment::both(PathImpairment {
            loss: 0.02,
            duplicate: 0.01,
            ..PathImpairment::default()
        });
        assert!(!loss_only.needs_forwarder());
        assert!(!loss_only.is_clean());
        let mut delayed = Impairment::none();
        delayed.to_peer.jitter = Duration::from_micros(5);
        assert!(delayed.needs_forwarder());
        assert!(delayed.to_stack.hold().is_none());
        assert!(Impairment::none().is_clean());
    }

    #[test]
    fn delays_beyond_the_limit_are_refused() {
        let imp = Impairment::both(PathImpairment {
            delay: MAX_DELAY + Duration::from_micros(1),
            ..PathImpairment::default()
        });
        assert!(matches!(
            imp.validate(),
            Err(ImpairmentError::TooLong { what: "delay", .. })
        ));
    }
}
