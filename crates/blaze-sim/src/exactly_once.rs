//! Exactly-once and at-most-once delivery checkers.

use crate::violation::list;
use crate::{Violation, ViolationKind};
use core::fmt::Debug;
use std::collections::{BTreeMap, BTreeSet};

/// How many items a violation lists before "… and N more".
const SHOWN: usize = 8;

/// Checks that `node` delivered every item of `expected` exactly once and
/// nothing else (order is not checked; see [`check_fifo`](crate::check_fifo)).
///
/// Reports the first duplicate, then what is missing, then what was not
/// expected.
///
/// ```
/// use blaze_sim::{ViolationKind, check_exactly_once};
/// assert!(check_exactly_once(0, &[3, 1, 2], &[1, 2, 3]).is_ok());
/// let gap = check_exactly_once(0, &[1, 3], &[1, 2, 3]).unwrap_err();
/// assert_eq!(gap.kind, ViolationKind::Missing);
/// assert!(gap.detail.contains('2'));
/// ```
pub fn check_exactly_once<T: Ord + Debug>(
    node: usize,
    delivered: &[T],
    expected: &[T],
) -> Result<(), Violation> {
    check_at_most_once(node, delivered, expected)?;
    let got: BTreeSet<&T> = delivered.iter().collect();
    let missing: Vec<&T> = expected.iter().filter(|e| !got.contains(e)).collect();
    if !missing.is_empty() {
        return Err(Violation::new(
            ViolationKind::Missing,
            Some(node),
            format!(
                "{} of {} expected items never delivered: {}",
                missing.len(),
                expected.len(),
                list(&missing, SHOWN)
            ),
        ));
    }
    Ok(())
}

/// Checks that `node` delivered no item twice and only items of `allowed`
/// (some may be missing: for runs where senders crash with data unsent).
///
/// ```
/// use blaze_sim::{ViolationKind, check_at_most_once};
/// assert!(check_at_most_once(0, &[1, 3], &[1, 2, 3]).is_ok());
/// let v = check_at_most_once(0, &[1, 9], &[1, 2, 3]).unwrap_err();
/// assert_eq!(v.kind, ViolationKind::Unexpected);
/// ```
pub fn check_at_most_once<T: Ord + Debug>(
    node: usize,
    delivered: &[T],
    allowed: &[T],
) -> Result<(), Violation> {
    let mut first_at: BTreeMap<&T, usize> = BTreeMap::new();
    for (i, item) in delivered.iter().enumerate() {
        if let Some(prev) = first_at.insert(item, i) {
            return Err(Violation::new(
                ViolationKind::Duplicate,
                Some(node),
                format!("{item:?} delivered at positions {prev} and {i}"),
            ));
        }
    }
    let allowed: BTreeSet<&T> = allowed.iter().collect();
    let unexpected: Vec<&T> = delivered.iter().filter(|d| !allowed.contains(d)).collect();
    if !unexpected.is_empty() {
        return Err(Violation::new(
            ViolationKind::Unexpected,
            Some(node),
            format!(
                "{} delivered items were never sent: {}",
                unexpected.len(),
                list(&unexpected, SHOWN)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_in_order_duplicate_missing_unexpected() {
        let v = check_exactly_once(1, &[5, 5, 7], &[5, 6]).unwrap_err();
        assert_eq!(v.kind, ViolationKind::Duplicate);
        assert!(v.detail.contains("positions 0 and 1"), "{v}");
        let v = check_exactly_once(1, &[5, 7], &[5, 6, 7]).unwrap_err();
        assert_eq!(v.kind, ViolationKind::Missing);
        let v = check_exactly_once(1, &[5, 6, 8], &[5, 6]).unwrap_err();
        assert_eq!(v.kind, ViolationKind::Unexpected);
        assert!(v.detail.contains('8'));
    }

    #[test]
    fn long_lists_are_cut() {
        let expected: Vec<u32> = (0..100).collect();
        let v = check_exactly_once(0, &[], &expected).unwrap_err();
        assert!(v.detail.contains("and 92 more"), "{v}");
    }
}
