//! Sequence numbers with wrap-around comparison.

use core::cmp::Ordering;
use core::fmt;

/// A 64-bit sequence number compared by serial-number arithmetic
/// (RFC 1982): `a < b` when `b - a` (mod 2^64) is in `1..2^63`.
///
/// 64 bits never wrap in practice, but the arithmetic makes the protocols
/// correct for any starting point, and tests start streams near `u64::MAX`
/// to prove it. Two numbers exactly 2^63 apart are unordered
/// ([`Seq::partial_cmp`] returns `None`).
///
/// ```
/// use blaze_wire::Seq;
/// let a = Seq::new(u64::MAX);
/// let b = a + 1;
/// assert_eq!(b, Seq::new(0));
/// assert!(a < b);
/// assert_eq!(b.distance_from(a), 1);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Seq(u64);

impl Seq {
    /// A sequence number from its raw value.
    pub const fn new(raw: u64) -> Self {
        Seq(raw)
    }

    /// The raw value, as carried on the wire.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// `self - earlier` as a signed count: positive when `self` is after
    /// `earlier`.
    pub const fn distance_from(self, earlier: Seq) -> i64 {
        self.0.wrapping_sub(earlier.0) as i64
    }

    /// The next sequence number.
    pub const fn next(self) -> Seq {
        Seq(self.0.wrapping_add(1))
    }

    /// The previous sequence number.
    pub const fn prev(self) -> Seq {
        Seq(self.0.wrapping_sub(1))
    }

    /// The later of two numbers (by serial arithmetic); `self` if unordered.
    pub fn max_serial(self, other: Seq) -> Seq {
        if other > self { other } else { self }
    }

    /// The earlier of two numbers (by serial arithmetic); `self` if unordered.
    pub fn min_serial(self, other: Seq) -> Seq {
        if other < self { other } else { self }
    }
}

impl PartialOrd for Seq {
    #[cfg_attr(target_pointer_width = "32", inline(never))]
    fn partial_cmp(&self, other: &Seq) -> Option<Ordering> {
        let d = self.0.wrapping_sub(other.0);
        if d == 0 {
            Some(Ordering::Equal)
        } else if d == 1 << 63 {
            None
        } else if d < 1 << 63 {
            Some(Ordering::Greater)
        } else {
            Some(Ordering::Less)
        }
    }
}

impl core::ops::Add<u64> for Seq {
    type Output = Seq;
    /// Wraps modulo 2^64.
    fn add(self, rhs: u64) -> Seq {
        Seq(self.0.wrapping_add(rhs))
    }
}

impl core::ops::Sub<u64> for Seq {
    type Output = Seq;
    /// Wraps modulo 2^64.
    fn sub(self, rhs: u64) -> Seq {
        Seq(self.0.wrapping_sub(rhs))
    }
}

impl core::ops::AddAssign<u64> for Seq {
    fn add_assign(&mut self, rhs: u64) {
        self.0 = self.0.wrapping_add(rhs);
    }
}

impl fmt::Debug for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Seq({})", self.0)
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn order_is_antisymmetric_and_shift_invariant(a: u64, d in 1u64..(1 << 63), shift: u64) {
            let x = Seq::new(a);
            let y = x + d;
            prop_assert!(x < y);
            prop_assert!(y > x);
            prop_assert!(Seq::new(a.wrapping_add(shift)) < Seq::new(a.wrapping_add(shift).wrapping_add(d)));
            prop_assert_eq!(y.distance_from(x), d as i64);
        }
    }

    #[test]
    fn half_range_is_unordered() {
        assert_eq!(Seq::new(0).partial_cmp(&Seq::new(1 << 63)), None);
    }
}
