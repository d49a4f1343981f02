//! The per-sender FIFO checker.

use crate::{Violation, ViolationKind};
use core::fmt::Debug;
use std::collections::BTreeMap;

/// Checks that `node` delivered each sender's items in strictly increasing
/// order of their sequence numbers. `delivered` holds `(sender, seq)` in
/// delivery order; gaps are allowed here (see
/// [`check_exactly_once`](crate::check_exactly_once)), going back or
/// repeating is not. Map wrapping sequence numbers to `u64` first.
///
/// ```
/// use blaze_sim::{ViolationKind, check_fifo};
/// assert!(check_fifo(0, &[('a', 1), ('b', 1), ('a', 2), ('b', 5)]).is_ok());
/// let v = check_fifo(0, &[('a', 1), ('a', 3), ('a', 2)]).unwrap_err();
/// assert_eq!(v.kind, ViolationKind::OutOfOrder);
/// ```
pub fn check_fifo<S: Ord + Debug, Q: Ord + Debug>(
    node: usize,
    delivered: &[(S, Q)],
) -> Result<(), Violation> {
    let mut last: BTreeMap<&S, (&Q, usize)> = BTreeMap::new();
    for (i, (sender, seq)) in delivered.iter().enumerate() {
        if let Some((prev, at)) = last.get(sender)
            && seq <= *prev
        {
            return Err(Violation::new(
                ViolationKind::OutOfOrder,
                Some(node),
                format!(
                    "from sender {sender:?}: {seq:?} at position {i} after {prev:?} at position {at}"
                ),
            ));
        }
        last.insert(sender, (seq, i));
    }
    Ok(())
}
