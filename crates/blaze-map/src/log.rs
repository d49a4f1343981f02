//! The bounded log of sequenced operations: a ring indexed by order number.

use crate::op::Op;

/// The last `L` operations by order number, for retransmission (re-requests
/// from members and from a new coordinator) and for holding operations that
/// arrived ahead of a gap.
#[derive(Debug)]
pub(crate) struct Log<const L: usize, const K: usize, const V: usize> {
    ring: [Option<Op<K, V>>; L],
}

impl<const L: usize, const K: usize, const V: usize> Log<L, K, V> {
    pub(crate) fn new() -> Self {
        Log {
            ring: core::array::from_fn(|_| None),
        }
    }

    fn index(order: u64) -> usize {
        // L >= 1 is checked when the replica is made.
        usize::try_from(order % (L as u64)).unwrap_or(0)
    }

    pub(crate) fn get(&self, order: u64) -> Option<&Op<K, V>> {
        self.ring
            .get(Self::index(order))?
            .as_ref()
            .filter(|op| op.order == order)
    }

    pub(crate) fn contains(&self, order: u64) -> bool {
        self.get(order).is_some()
    }

    /// Stores `op`, replacing whatever shared its ring position.
    pub(crate) fn insert(&mut self, op: Op<K, V>) {
        if let Some(s) = self.ring.get_mut(Self::index(op.order)) {
            *s = Some(op);
        }
    }

    pub(crate) fn clear(&mut self) {
        for s in self.ring.iter_mut() {
            *s = None;
        }
    }

    /// Drops every operation past `order` (not applied, from an old leader).
    pub(crate) fn purge_above(&mut self, order: u64) {
        for s in self.ring.iter_mut() {
            if s.as_ref().is_some_and(|op| op.order > order) {
                *s = None;
            }
        }
    }

    /// Lowest order held that is greater than `after`.
    pub(crate) fn next_after(&self, after: u64) -> Option<u64> {
        self.ring
            .iter()
            .flatten()
            .map(|op| op.order)
            .filter(|o| *o > after)
            .min()
    }
}
