//! Merging the deadlines of several machines.

use blaze_wire::Instant;

/// The earliest of several deadlines, ignoring `None` ("no deadline").
///
/// A composed machine's `poll_timeout` is the earliest of its parts'.
///
/// ```
/// use blaze_node::{earliest, Instant};
/// let a = Some(Instant::from_millis(20));
/// let b = Some(Instant::from_millis(5));
/// assert_eq!(earliest([a, None, b]), b);
/// assert_eq!(earliest([None, None]), None);
/// ```
#[must_use]
pub fn earliest(deadlines: impl IntoIterator<Item = Option<Instant>>) -> Option<Instant> {
    deadlines.into_iter().flatten().min()
}
