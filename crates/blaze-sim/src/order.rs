//! Total-order checkers: prefix agreement and pairwise agreed order.

use crate::{Violation, ViolationKind};
use core::fmt::Debug;
use std::collections::BTreeMap;

/// Checks total order in the strong form: every node's sequence is a prefix
/// of one common sequence (the longest). `sequences` holds
/// `(node, delivered items in order)`.
///
/// Use it when every node delivers from the same start (no joiners) and a
/// node may only fall behind or stop.
///
/// ```
/// use blaze_sim::{ViolationKind, check_total_order};
/// let a = [1, 2, 3, 4];
/// let b = [1, 2, 3];
/// assert!(check_total_order(&[(0, &a[..]), (1, &b[..])]).is_ok());
/// let c = [1, 3, 2];
/// let v = check_total_order(&[(0, &a[..]), (2, &c[..])]).unwrap_err();
/// assert_eq!(v.kind, ViolationKind::Disagreement);
/// ```
pub fn check_total_order<T: PartialEq + Debug>(
    sequences: &[(usize, &[T])],
) -> Result<(), Violation> {
    let Some((ref_node, reference)) = sequences.iter().max_by_key(|(_, s)| s.len()) else {
        return Ok(());
    };
    for (node, seq) in sequences {
        if let Some(i) = seq.iter().zip(reference.iter()).position(|(a, b)| a != b) {
            return Err(Violation::new(
                ViolationKind::Disagreement,
                Some(*node),
                format!(
                    "position {i}: node {node} delivered {:?}, node {ref_node} delivered {:?}",
                    seq.get(i),
                    reference.get(i)
                ),
            ));
        }
    }
    Ok(())
}

/// Checks that every node delivered exactly the same sequence.
///
/// ```
/// use blaze_sim::check_same_sequence;
/// let a = [1, 2];
/// assert!(check_same_sequence(&[(0, &a[..]), (1, &a[..])]).is_ok());
/// assert!(check_same_sequence(&[(0, &a[..]), (1, &a[..1])]).is_err());
/// ```
pub fn check_same_sequence<T: PartialEq + Debug>(
    sequences: &[(usize, &[T])],
) -> Result<(), Violation> {
    check_total_order(sequences)?;
    let Some((ref_node, reference)) = sequences.iter().max_by_key(|(_, s)| s.len()) else {
        return Ok(());
    };
    for (node, seq) in sequences {
        if seq.len() != reference.len() {
            return Err(Violation::new(
                ViolationKind::Missing,
                Some(*node),
                format!(
                    "delivered {} items, node {ref_node} delivered {}; first missing: {:?}",
                    seq.len(),
                    reference.len(),
                    reference.get(seq.len())
                ),
            ));
        }
    }
    Ok(())
}

/// Checks total order in the weak form: any two items delivered by two
/// nodes are delivered in the same relative order by both. Nodes may miss
/// items, join late or stop early (virtual synchrony across views). Each
/// node must deliver each item at most once.
///
/// ```
/// use blaze_sim::{ViolationKind, check_agreed_order};
/// let a = [1, 2, 3, 4];
/// let late_joiner = [3, 4];
/// let with_gap = [1, 3];
/// assert!(check_agreed_order(&[(0, &a[..]), (1, &late_joiner[..]), (2, &with_gap[..])]).is_ok());
/// let swapped = [4, 3];
/// let v = check_agreed_order(&[(0, &a[..]), (3, &swapped[..])]).unwrap_err();
/// assert_eq!(v.kind, ViolationKind::Disagreement);
/// ```
pub fn check_agreed_order<T: Ord + Debug>(sequences: &[(usize, &[T])]) -> Result<(), Violation> {
    let mut positions: Vec<BTreeMap<&T, usize>> = Vec::with_capacity(sequences.len());
    for (node, seq) in sequences {
        let mut pos = BTreeMap::new();
        for (i, item) in seq.iter().enumerate() {
            if let Some(prev) = pos.insert(item, i) {
                return Err(Violation::new(
                    ViolationKind::Duplicate,
                    Some(*node),
                    format!("{item:?} delivered at positions {prev} and {i}"),
                ));
            }
        }
        positions.push(pos);
    }
    for (a, (node_a, seq_a)) in sequences.iter().enumerate() {
        for (b, (node_b, _)) in sequences.iter().enumerate().skip(a + 1) {
            let Some(pos_b) = positions.get(b) else {
                continue;
            };
            // Walk a's order; the positions of the common items in b must
            // increase.
            let mut last: Option<(&T, usize)> = None;
            for item in seq_a.iter() {
                let Some(&pb) = pos_b.get(item) else { continue };
                if let Some((prev, prev_pb)) = last
                    && pb < prev_pb
                {
                    return Err(Violation::new(
                        ViolationKind::Disagreement,
                        Some(*node_b),
                        format!(
                            "node {node_a} delivered {prev:?} before {item:?}, node {node_b} delivered them the other way round"
                        ),
                    ));
                }
                last = Some((item, pb));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_is_fine() {
        let none: [(usize, &[u8]); 0] = [];
        assert!(check_total_order(&none).is_ok());
        assert!(check_agreed_order(&none).is_ok());
        assert!(check_same_sequence(&none).is_ok());
    }

    #[test]
    fn agreed_order_rejects_duplicates() {
        let a = [1, 2, 1];
        let v = check_agreed_order(&[(4, &a[..])]).unwrap_err();
        assert_eq!((v.kind, v.node), (ViolationKind::Duplicate, Some(4)));
    }

    #[test]
    fn total_order_names_the_position() {
        let a = [1, 2, 3];
        let b = [1, 2, 4];
        let v = check_total_order(&[(0, &a[..]), (1, &b[..])]).unwrap_err();
        assert!(v.detail.contains("position 2"), "{v}");
    }
}
