//! A fair cursor for merging the output of several machines.

/// A round-robin cursor over `N` sources, for merging the `poll_transmit`
/// (or `poll_event`) output of `N` machines fairly.
///
/// [`poll`](RoundRobin::poll) asks the sources in turn, starting with the
/// one after the source that produced the previous item, and stops at the
/// first that produces something. While several sources have output, each
/// produces one item per round, so a machine with a long backlog cannot
/// starve the others; a source with nothing to send costs one call per
/// round.
///
/// The cursor holds no items and no references: it is one index, `Copy`,
/// and usable from `static` storage.
///
/// ```
/// use blaze_node::RoundRobin;
///
/// // Three sources with 3, 1 and 2 pending items.
/// let mut pending = [3u8, 1, 2];
/// let mut rr = RoundRobin::<3>::new();
/// let mut order = [0usize; 6];
/// for slot in &mut order {
///     let (source, ()) = rr
///         .poll(|i| {
///             let p = &mut pending[i];
///             (*p > 0).then(|| *p -= 1)
///         })
///         .unwrap();
///     *slot = source;
/// }
/// assert_eq!(order, [0, 1, 2, 0, 2, 0]);
/// assert!(rr.poll(|_| None::<()>).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RoundRobin<const N: usize> {
    /// The source asked first by the next `poll`; always `< N` when `N > 0`.
    next: usize,
}

impl<const N: usize> RoundRobin<N> {
    /// A cursor that asks source 0 first.
    pub const fn new() -> Self {
        RoundRobin { next: 0 }
    }

    /// The source that the next [`poll`](RoundRobin::poll) asks first.
    pub const fn next_source(&self) -> usize {
        self.next
    }

    /// Asks sources `next, next + 1, …` (wrapping) until one returns
    /// `Some`, and returns that source's index with its item. The cursor
    /// moves to the source after it.
    ///
    /// Returns `None`, leaving the cursor where it was, when every source
    /// returned `None`: each source is asked at most once per call.
    pub fn poll<T>(&mut self, mut source: impl FnMut(usize) -> Option<T>) -> Option<(usize, T)> {
        for step in 0..N {
            let i = self.wrap(self.next + step);
            if let Some(item) = source(i) {
                self.next = self.wrap(i + 1);
                return Some((i, item));
            }
        }
        None
    }

    /// `i` reduced modulo `N` (0 when `N` is 0). `i < 2 * N` always holds
    /// for the callers, so this never loops.
    fn wrap(&self, i: usize) -> usize {
        i.checked_rem(N).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// Polls until every source is empty; returns the source of each item.
    fn drain<const N: usize>(rr: &mut RoundRobin<N>, pending: &mut [u16; N]) -> Vec<usize> {
        let mut order = Vec::new();
        while let Some((i, ())) = rr.poll(|i| {
            let p = &mut pending[i];
            (*p > 0).then(|| *p -= 1)
        }) {
            order.push(i);
        }
        order
    }

    /// The reference: rounds over the sources starting at `start`, one item
    /// from each non-empty source per round.
    fn model<const N: usize>(start: usize, mut pending: [u16; N]) -> Vec<usize> {
        let mut order = Vec::new();
        let mut cursor = start;
        while pending.iter().any(|p| *p > 0) {
            let i = (0..N)
                .map(|s| (cursor + s) % N)
                .find(|i| pending[*i] > 0)
                .unwrap();
            pending[i] -= 1;
            order.push(i);
            cursor = (i + 1) % N;
        }
        order
    }

    #[test]
    fn zero_sources_yield_nothing() {
        let mut rr = RoundRobin::<0>::new();
        assert!(rr.poll(|_| Some(1)).is_none());
        assert_eq!(rr.next_source(), 0);
    }

    #[test]
    fn one_source_is_always_asked() {
        let mut rr = RoundRobin::<1>::new();
        assert_eq!(rr.poll(Some), Some((0, 0)));
        assert_eq!(rr.poll(Some), Some((0, 0)));
    }

    #[test]
    fn empty_round_leaves_the_cursor() {
        let mut rr = RoundRobin::<4>::new();
        let mut pending = [0u16, 0, 1, 0];
        assert_eq!(drain(&mut rr, &mut pending), [2]);
        assert_eq!(rr.next_source(), 3);
        let mut asked = Vec::new();
        assert!(
            rr.poll(|i| {
                asked.push(i);
                None::<()>
            })
            .is_none()
        );
        assert_eq!(asked, [3, 0, 1, 2]);
        assert_eq!(rr.next_source(), 3);
    }

    #[test]
    fn a_backlog_does_not_starve_the_others() {
        let mut rr = RoundRobin::<3>::new();
        let mut pending = [1000u16, 2, 2];
        let order = drain(&mut rr, &mut pending);
        assert_eq!(&order[..6], &[0, 1, 2, 0, 1, 2]);
        assert!(order[6..].iter().all(|i| *i == 0));
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x5EED_0001),
            ..ProptestConfig::default()
        })]

        /// Matches the reference rounds from any starting cursor, and every
        /// pending item comes out exactly once.
        #[test]
        fn matches_round_model(pending in proptest::array::uniform5(0u16..20), start in 0usize..5) {
            let mut rr = RoundRobin::<5> { next: start };
            let mut left = pending;
            let order = drain(&mut rr, &mut left);
            prop_assert_eq!(&order, &model(start, pending));
            prop_assert!(left.iter().all(|p| *p == 0));
            for (i, n) in pending.iter().enumerate() {
                prop_assert_eq!(order.iter().filter(|s| **s == i).count(), usize::from(*n));
            }
        }

        /// Between two items of one source, every other source that still
        /// had items produced at most one.
        #[test]
        fn at_most_one_item_per_round(pending in proptest::array::uniform4(0u16..12)) {
            let mut rr = RoundRobin::<4>::new();
            let mut left = pending;
            let order = drain(&mut rr, &mut left);
            for i in 0..4 {
                let positions: Vec<usize> = order.iter().enumerate().filter(|(_, s)| **s == i).map(|(p, _)| p).collect();
                for w in positions.windows(2) {
                    let between = &order[w[0] + 1..w[1]];
                    for j in 0..4 {
                        prop_assert!(between.iter().filter(|s| **s == j).count() <= 1);
                    }
                }
            }
        }
    }
}
