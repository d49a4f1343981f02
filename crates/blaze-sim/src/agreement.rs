//! Agreement checkers: nodes agree on each decided value, and end equal.

use crate::{Violation, ViolationKind};
use core::fmt::Debug;
use std::collections::BTreeMap;

/// Checks that nodes agree on every key they decided: all records
/// `(node, key, value)` with the same key carry equal values. For example
/// every node that installed view 7 installed the same member list.
///
/// ```
/// use blaze_sim::{ViolationKind, check_consistent};
/// let views = [(0, 7, vec![0, 1, 2]), (1, 7, vec![0, 1, 2]), (2, 8, vec![1, 2])];
/// assert!(check_consistent(&views).is_ok());
/// let split = [(0, 7, vec![0, 1]), (2, 7, vec![0, 2])];
/// let v = check_consistent(&split).unwrap_err();
/// assert_eq!(v.kind, ViolationKind::Disagreement);
/// assert_eq!(v.node, Some(2));
/// ```
pub fn check_consistent<K: Ord + Debug, V: PartialEq + Debug>(
    records: &[(usize, K, V)],
) -> Result<(), Violation> {
    let mut first: BTreeMap<&K, (usize, &V)> = BTreeMap::new();
    for (node, key, value) in records {
        match first.get(key) {
            Some((other, v)) if *v != value => {
                return Err(Violation::new(
                    ViolationKind::Disagreement,
                    Some(*node),
                    format!("for {key:?}: node {node} has {value:?}, node {other} has {v:?}"),
                ));
            }
            Some(_) => {}
            None => {
                first.insert(key, (*node, value));
            }
        }
    }
    Ok(())
}

/// Checks that every node ended in the same state (a replicated map that
/// converged): `finals` holds `(node, state)`.
///
/// ```
/// use blaze_sim::check_converged;
/// let a = vec![("k", 1)];
/// assert!(check_converged(&[(0, &a), (1, &a)]).is_ok());
/// let b = vec![("k", 2)];
/// assert!(check_converged(&[(0, &a), (1, &b)]).is_err());
/// ```
pub fn check_converged<T: PartialEq + Debug>(finals: &[(usize, &T)]) -> Result<(), Violation> {
    let Some((ref_node, reference)) = finals.first() else {
        return Ok(());
    };
    for (node, state) in finals {
        if state != reference {
            return Err(Violation::new(
                ViolationKind::Disagreement,
                Some(*node),
                format!("node {node} ended with {state:?}, node {ref_node} with {reference:?}"),
            ));
        }
    }
    Ok(())
}

/// One node's hold on a resource over `[start, end)` (any ordered time
/// type, usually [`Instant`](blaze_wire::Instant)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold<K, T> {
    /// The resource (a lock name, a queue message).
    pub key: K,
    /// The holder.
    pub node: usize,
    /// When the hold began.
    pub start: T,
    /// When it ended (exclusive).
    pub end: T,
}

/// Checks mutual exclusion: no two holds on the same key by different
/// nodes overlap in time (at most one holder per lock).
///
/// ```
/// use blaze_sim::{Hold, ViolationKind, check_exclusive};
/// let h = |node, start, end| Hold { key: "lock", node, start, end };
/// assert!(check_exclusive(&[h(0, 0, 10), h(1, 10, 20)]).is_ok());
/// let v = check_exclusive(&[h(0, 0, 10), h(1, 5, 20)]).unwrap_err();
/// assert_eq!(v.kind, ViolationKind::Overlap);
/// ```
pub fn check_exclusive<K: Ord + Debug, T: Ord + Copy + Debug>(
    holds: &[Hold<K, T>],
) -> Result<(), Violation> {
    let mut by_key: BTreeMap<&K, Vec<&Hold<K, T>>> = BTreeMap::new();
    for h in holds {
        by_key.entry(&h.key).or_default().push(h);
    }
    for (key, mut list) in by_key {
        list.sort_by_key(|h| (h.start, h.end));
        // The hold reaching furthest so far; any later start before its
        // end by another node overlaps it.
        let mut reach: Option<&Hold<K, T>> = None;
        for h in list {
            if let Some(r) = reach
                && h.start < r.end
                && h.node != r.node
            {
                return Err(Violation::new(
                    ViolationKind::Overlap,
                    Some(h.node),
                    format!(
                        "{key:?} held by node {} over {:?}..{:?} and by node {} from {:?}",
                        r.node, r.start, r.end, h.node, h.start
                    ),
                ));
            }
            if reach.is_none_or(|r| h.end > r.end) {
                reach = Some(h);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_hold_overlaps_a_later_short_one() {
        let h = |node, start, end| Hold {
            key: 1,
            node,
            start,
            end,
        };
        // Node 0 holds 0..100; node 1's 10..20 and node 2's 50..60 overlap.
        let v = check_exclusive(&[h(0, 0, 100), h(1, 10, 20), h(2, 50, 60)]).unwrap_err();
        assert_eq!(v.node, Some(1));
        // The same node re-entering is not a conflict.
        assert!(check_exclusive(&[h(0, 0, 100), h(0, 10, 20)]).is_ok());
        // Different keys never conflict.
        let other = Hold {
            key: 2,
            node: 1,
            start: 0,
            end: 100,
        };
        assert!(check_exclusive(&[h(0, 0, 100), other]).is_ok());
    }

    #[test]
    fn empty_inputs_pass() {
        let none: [(usize, u8, u8); 0] = [];
        assert!(check_consistent(&none).is_ok());
        let none: [(usize, &u8); 0] = [];
        assert!(check_converged(&none).is_ok());
    }
}
