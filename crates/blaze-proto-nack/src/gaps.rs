//! Gap tracking: which offsets of a receive window have arrived.

use core::fmt;

/// The set of received offsets of a window, relative to its base, kept as
/// at most `N` disjoint runs.
///
/// Offset 0 is the base (the next sequence number to deliver). Runs are
/// sorted, never overlap and never touch, so `N` runs describe up to `N`
/// holes. Adding an offset that would need an `N + 1`-th run is refused with
/// [`GapsFull`] and changes nothing; the caller drops the datagram and lets
/// the NACK machinery fetch it again once holes have closed.
///
/// ```
/// use blaze_proto_nack::Gaps;
/// let mut g: Gaps<4> = Gaps::new();
/// g.insert(2, 4).unwrap(); // offsets 2 and 3
/// g.insert(0, 1).unwrap(); // offset 0
/// assert_eq!(g.front(), 1);
/// let holes: Vec<(u64, u64)> = g.missing(6).collect();
/// assert_eq!(holes, [(1, 2), (4, 6)]);
/// g.advance(1);
/// assert!(g.contains(1) && g.contains(2));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Gaps<const N: usize> {
    /// Received runs `[start, end)`, sorted; only `..len` are meaningful.
    runs: [(u64, u64); N],
    len: usize,
}

/// The gap tracker has no room for another run; nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct GapsFull;

impl fmt::Display for GapsFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("too many holes in the receive window")
    }
}

impl core::error::Error for GapsFull {}

impl<const N: usize> Default for Gaps<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Debug for Gaps<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.runs()).finish()
    }
}

impl<const N: usize> Gaps<N> {
    /// An empty tracker: nothing received.
    pub const fn new() -> Self {
        Gaps {
            runs: [(0, 0); N],
            len: 0,
        }
    }

    /// True when nothing is recorded.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of runs in use.
    pub const fn run_count(&self) -> usize {
        self.len
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The received runs `[start, end)`, ascending.
    pub fn runs(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.runs.iter().take(self.len).copied()
    }

    /// True when `offset` has been received.
    pub fn contains(&self, offset: u64) -> bool {
        self.runs().any(|(s, e)| s <= offset && offset < e)
    }

    /// Number of consecutive received offsets starting at 0.
    pub fn front(&self) -> u64 {
        match self.runs().next() {
            Some((0, e)) => e,
            _ => 0,
        }
    }

    /// One past the highest received offset, or 0 when empty.
    pub fn end(&self) -> u64 {
        self.runs().last().map_or(0, |(_, e)| e)
    }

    /// The lowest received offset at or after `from`.
    pub fn next_received(&self, from: u64) -> Option<u64> {
        self.runs()
            .find(|&(_, e)| e > from)
            .map(|(s, _)| s.max(from))
    }

    /// Records offsets `start..end` as received. An empty range is a no-op.
    ///
    /// # Errors
    ///
    /// [`GapsFull`] when the range would need one run more than `N`; the
    /// tracker is unchanged.
    pub fn insert(&mut self, start: u64, end: u64) -> Result<(), GapsFull> {
        if start >= end {
            return Ok(());
        }
        // Runs before `first` end strictly before `start` (not touching);
        // runs from `last` on start strictly after `end`.
        let first = self
            .runs()
            .position(|(_, e)| e >= start)
            .unwrap_or(self.len);
        let last = self.runs().position(|(s, _)| s > end).unwrap_or(self.len);
        if first == last {
            // No run merges: a new one goes in at `first`.
            if self.len == N {
                return Err(GapsFull);
            }
            // In bounds: first <= len < N.
            self.runs.copy_within(first..self.len, first + 1);
            if let Some(slot) = self.runs.get_mut(first) {
                *slot = (start, end);
            }
            self.len += 1;
            return Ok(());
        }
        // Merge runs first..last into one.
        let lo = self.runs.get(first).map_or(start, |r| r.0.min(start));
        let hi = self.runs.get(last - 1).map_or(end, |r| r.1.max(end));
        if let Some(slot) = self.runs.get_mut(first) {
            *slot = (lo, hi);
        }
        // In bounds: first < last <= len <= N.
        self.runs.copy_within(last..self.len, first + 1);
        self.len -= last - first - 1;
        Ok(())
    }

    /// Moves the base forward by `n`: offsets below `n` are forgotten and
    /// every other offset is reduced by `n`.
    pub fn advance(&mut self, n: u64) {
        if n == 0 {
            return;
        }
        let mut out = 0;
        for i in 0..self.len {
            let Some((s, e)) = self.runs.get(i).copied() else {
                break;
            };
            if e <= n {
                continue;
            }
            if let Some(slot) = self.runs.get_mut(out) {
                *slot = (s.saturating_sub(n), e - n);
            }
            out += 1;
        }
        self.len = out;
    }

    /// The holes `[start, end)` below `upto`, ascending: every offset in
    /// `0..upto` that has not been received lies in exactly one of them.
    pub fn missing(&self, upto: u64) -> Missing<'_, N> {
        Missing {
            gaps: self,
            at: 0,
            run: 0,
            upto,
        }
    }
}

/// Iterator over the holes of a [`Gaps`], from [`Gaps::missing`].
#[derive(Debug, Clone)]
pub struct Missing<'a, const N: usize> {
    gaps: &'a Gaps<N>,
    at: u64,
    run: usize,
    upto: u64,
}

impl<const N: usize> Iterator for Missing<'_, N> {
    type Item = (u64, u64);

    fn next(&mut self) -> Option<(u64, u64)> {
        while self.at < self.upto {
            match self.gaps.runs().nth(self.run) {
                Some((s, e)) if s <= self.at => {
                    self.at = self.at.max(e);
                    self.run += 1;
                }
                Some((s, e)) => {
                    let hole = (self.at, s.min(self.upto));
                    self.at = e;
                    self.run += 1;
                    return Some(hole);
                }
                None => {
                    let hole = (self.at, self.upto);
                    self.at = self.upto;
                    return Some(hole);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;
    use std::vec::Vec;

    /// The brute-force model: a plain set of offsets.
    #[derive(Default, Clone)]
    struct Model(BTreeSet<u64>);

    impl Model {
        fn runs(&self) -> Vec<(u64, u64)> {
            let mut out: Vec<(u64, u64)> = Vec::new();
            for &o in &self.0 {
                match out.last_mut() {
                    Some(r) if r.1 == o => r.1 = o + 1,
                    _ => out.push((o, o + 1)),
                }
            }
            out
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u64, u64),
        Advance(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u64..64, 1u64..6).prop_map(|(s, l)| Op::Insert(s, s + l)),
            1 => (0u64..8).prop_map(Op::Advance),
        ]
    }

    fn check(ops: &[Op]) -> Result<(), TestCaseError> {
        let mut g: Gaps<4> = Gaps::new();
        let mut m = Model::default();
        for op in ops {
            match *op {
                Op::Insert(s, e) => {
                    let mut next = m.clone();
                    next.0.extend(s..e);
                    let r = g.insert(s, e);
                    if next.runs().len() > 4 {
                        prop_assert_eq!(r, Err(GapsFull));
                    } else {
                        prop_assert_eq!(r, Ok(()));
                        m = next;
                    }
                }
                Op::Advance(n) => {
                    g.advance(n);
                    m.0 = m.0.iter().filter(|&&o| o >= n).map(|&o| o - n).collect();
                }
            }
            let runs: Vec<_> = g.runs().collect();
            prop_assert_eq!(&runs, &m.runs());
            for o in 0..80 {
                prop_assert_eq!(g.contains(o), m.0.contains(&o));
                prop_assert_eq!(g.next_received(o), m.0.range(o..).next().copied());
            }
            let front = (0..).take_while(|o| m.0.contains(o)).count() as u64;
            prop_assert_eq!(g.front(), front);
            let holes: Vec<u64> = g.missing(70).flat_map(|(s, e)| s..e).collect();
            let want: Vec<u64> = (0..70).filter(|o| !m.0.contains(o)).collect();
            prop_assert_eq!(holes, want);
            prop_assert!(g.missing(70).all(|(s, e)| s < e));
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, rng_seed: proptest::test_runner::RngSeed::Fixed(7), ..ProptestConfig::default() })]
        #[test]
        fn matches_brute_force_model(ops in proptest::collection::vec(op(), 1..40)) {
            check(&ops)?;
        }
    }

    #[test]
    fn full_refuses_and_keeps_state() {
        let mut g: Gaps<2> = Gaps::new();
        g.insert(1, 2).unwrap();
        g.insert(3, 4).unwrap();
        let before = g.clone();
        assert_eq!(g.insert(5, 6), Err(GapsFull));
        assert_eq!(g, before);
        // Filling a hole still works: it merges runs.
        g.insert(2, 3).unwrap();
        assert_eq!(g.runs().collect::<Vec<_>>(), [(1, 4)]);
    }

    #[test]
    fn missing_beyond_runs() {
        let mut g: Gaps<2> = Gaps::new();
        g.insert(0, 2).unwrap();
        assert_eq!(g.missing(5).collect::<Vec<_>>(), [(2, 5)]);
        assert_eq!(g.missing(1).count(), 0);
    }
}
