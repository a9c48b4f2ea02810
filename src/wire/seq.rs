//! Sequence numbers: 32-bit, compared modulo 2^32 (RFC 9293 §3.4).
//!
//! `a < b` means "b is ahead of a by less than 2^31". This is not a total order over all of
//! u32 (no such order exists on a circle), but it is exact for any two numbers within 2^31 of
//! each other, which TCP's window rules guarantee for every comparison it makes.

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A TCP sequence (or acknowledgment) number.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Default)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// The distance from `earlier` forward to `self`, assuming `earlier <= self`.
    #[inline]
    pub fn since(self, earlier: SeqNum) -> u32 {
        self.0.wrapping_sub(earlier.0)
    }

    /// The later of two numbers.
    #[inline]
    pub fn max(self, other: SeqNum) -> SeqNum {
        if self < other {
            other
        } else {
            self
        }
    }

    /// The earlier of two numbers.
    #[inline]
    pub fn min(self, other: SeqNum) -> SeqNum {
        if self < other {
            self
        } else {
            other
        }
    }

    /// True if `low <= self < high` (modulo 2^32), the half-open window test.
    #[inline]
    pub fn in_window(self, low: SeqNum, high: SeqNum) -> bool {
        self.since(low) < high.since(low)
    }
}

impl PartialOrd for SeqNum {
    #[inline]
    fn partial_cmp(&self, other: &SeqNum) -> Option<Ordering> {
        Some((self.0.wrapping_sub(other.0) as i32).cmp(&0))
    }
}

impl Add<u32> for SeqNum {
    type Output = SeqNum;
    #[inline]
    fn add(self, rhs: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(rhs))
    }
}

impl Add<usize> for SeqNum {
    type Output = SeqNum;
    #[inline]
    fn add(self, rhs: usize) -> SeqNum {
        // Lengths added to sequence numbers are window-bounded (< 2^31); truncation is the
        // modular arithmetic TCP wants.
        SeqNum(self.0.wrapping_add(rhs as u32))
    }
}

impl AddAssign<u32> for SeqNum {
    #[inline]
    fn add_assign(&mut self, rhs: u32) {
        self.0 = self.0.wrapping_add(rhs);
    }
}

impl Sub<u32> for SeqNum {
    type Output = SeqNum;
    #[inline]
    fn sub(self, rhs: u32) -> SeqNum {
        SeqNum(self.0.wrapping_sub(rhs))
    }
}

impl Sub<SeqNum> for SeqNum {
    type Output = i32;
    /// Signed distance `self - rhs`.
    #[inline]
    fn sub(self, rhs: SeqNum) -> i32 {
        self.0.wrapping_sub(rhs.0) as i32
    }
}

impl fmt::Debug for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wraps_at_two_to_the_32() {
        let a = SeqNum(u32::MAX - 10);
        let b = a + 20u32;
        assert_eq!(b, SeqNum(9));
        assert!(a < b);
        assert!(b > a);
        assert_eq!(b - a, 20);
        assert_eq!(a - b, -20);
        assert_eq!(b.since(a), 20);
        assert!(SeqNum(5).in_window(a, b));
        assert!(a.in_window(a, b));
        assert!(!b.in_window(a, b));
        assert_eq!(a.max(b), b);
        assert_eq!(a.min(b), a);
    }

    proptest! {
        #[test]
        fn order_matches_offset(base: u32, delta in 1u32..(1 << 31)) {
            let a = SeqNum(base);
            let b = a + delta;
            prop_assert!(a < b);
            prop_assert!(b > a);
            prop_assert!(a != b);
            prop_assert_eq!(b.since(a), delta);
            prop_assert_eq!((b - a) as i64, delta as i64);
        }

        #[test]
        fn window_test_is_half_open(base: u32, size in 1u32..(1 << 31), x in 0u32..(1 << 31)) {
            let low = SeqNum(base);
            let high = low + size;
            prop_assert_eq!((low + x).in_window(low, high), x < size);
        }

        #[test]
        fn antisymmetric_within_half_space(base: u32, delta in 0u32..(1 << 31)) {
            let a = SeqNum(base);
            let b = a + delta;
            prop_assert_eq!(a <= b, true);
            prop_assert_eq!(b < a, false);
            prop_assert_eq!(a.partial_cmp(&b) == Some(Ordering::Equal), delta == 0);
        }
    }
}
