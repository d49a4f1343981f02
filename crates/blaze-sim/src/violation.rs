//! What an invariant checker reports.

use core::fmt;

/// Which invariant broke.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViolationKind {
    /// An item was delivered more than once.
    Duplicate,
    /// An expected item was never delivered.
    Missing,
    /// An item was delivered that nobody sent (or that was not allowed).
    Unexpected,
    /// A sender's items were delivered out of order.
    OutOfOrder,
    /// Two nodes delivered common items in different orders.
    Disagreement,
    /// A bounded quantity went over its bound.
    OverBound,
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ViolationKind::Duplicate => "duplicate delivery",
            ViolationKind::Missing => "missing delivery",
            ViolationKind::Unexpected => "unexpected delivery",
            ViolationKind::OutOfOrder => "FIFO order broken",
            ViolationKind::Disagreement => "order disagreement",
            ViolationKind::OverBound => "bound exceeded",
        })
    }
}

/// A broken invariant, with a readable description of the first evidence.
///
/// ```
/// use blaze_sim::{ViolationKind, check_exactly_once};
/// let v = check_exactly_once(2, &[1, 2, 2], &[1, 2]).unwrap_err();
/// assert_eq!(v.kind, ViolationKind::Duplicate);
/// assert_eq!(v.node, Some(2));
/// assert!(v.to_string().contains("node 2"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Which invariant.
    pub kind: ViolationKind,
    /// The node where it showed, if one node is to blame.
    pub node: Option<usize>,
    /// What was seen.
    pub detail: String,
}

impl Violation {
    /// A violation at `node` (or the whole world with `None`).
    pub fn new(kind: ViolationKind, node: Option<usize>, detail: impl Into<String>) -> Self {
        Violation {
            kind,
            node,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.node {
            Some(n) => write!(f, "{} at node {n}: {}", self.kind, self.detail),
            None => write!(f, "{}: {}", self.kind, self.detail),
        }
    }
}

impl std::error::Error for Violation {}

/// Formats at most `limit` items of a list, then how many more.
pub(crate) fn list<T: fmt::Debug>(items: &[T], limit: usize) -> String {
    let shown: Vec<String> = items.iter().take(limit).map(|i| format!("{i:?}")).collect();
    let more = items.len().saturating_sub(limit);
    if more > 0 {
        format!("[{}, … and {more} more]", shown.join(", "))
    } else {
        format!("[{}]", shown.join(", "))
    }
}
