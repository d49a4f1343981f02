//! Which requests of each member were already sequenced, so a resent
//! request is not applied twice.

use blaze_wire::MemberId;

/// Members a replica remembers at once by default (its `ORIGINS`).
pub const MAX_ORIGINS: usize = 32;
/// Requests of one member recognised below its highest.
const WINDOW: u64 = 64;

#[derive(Debug, Clone, Copy)]
struct Origin {
    id: MemberId,
    high: u64,
    /// Bit i: request `high - i` was sequenced.
    bits: u64,
    last_use: u64,
}

/// Per member: the highest sequenced request id and a 64-bit window below
/// it. Part of the replicated state (every replica records the operations
/// it applies); a full table forgets the member used longest ago.
#[derive(Debug)]
pub(crate) struct Dedup<const ORIGINS: usize> {
    origins: heapless::Vec<Origin, ORIGINS>,
    clock: u64,
}

impl<const ORIGINS: usize> Dedup<ORIGINS> {
    pub(crate) fn new() -> Self {
        Dedup {
            origins: heapless::Vec::new(),
            clock: 0,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.origins.clear();
    }

    /// The `i`-th remembered member: (id, highest request, window bits).
    pub(crate) fn get(&self, i: usize) -> Option<(MemberId, u64, u64)> {
        self.origins.get(i).map(|o| (o.id, o.high, o.bits))
    }

    /// Restores a remembered member from a snapshot.
    pub(crate) fn restore(&mut self, id: MemberId, high: u64, bits: u64) {
        self.clock += 1;
        let o = Origin {
            id,
            high,
            bits,
            last_use: self.clock,
        };
        if let Some(x) = self.origins.iter_mut().find(|x| x.id == id) {
            *x = o;
        } else {
            let _ = self.origins.push(o);
        }
    }

    pub(crate) fn seen(&self, id: MemberId, request: u64) -> bool {
        let Some(o) = self.origins.iter().find(|o| o.id == id) else {
            return false;
        };
        if request > o.high {
            return false;
        }
        let back = o.high - request;
        back >= WINDOW || o.bits & (1 << back) != 0
    }

    pub(crate) fn record(&mut self, id: MemberId, request: u64) {
        if request == 0 {
            return;
        }
        self.clock += 1;
        let clock = self.clock;
        if let Some(o) = self.origins.iter_mut().find(|o| o.id == id) {
            o.last_use = clock;
            if request > o.high {
                let shift = request - o.high;
                o.bits = if shift >= WINDOW { 0 } else { o.bits << shift };
                o.high = request;
                o.bits |= 1;
            } else if o.high - request < WINDOW {
                o.bits |= 1 << (o.high - request);
            }
            return;
        }
        let fresh = Origin {
            id,
            high: request,
            bits: 1,
            last_use: clock,
        };
        if self.origins.push(fresh).is_err()
            && let Some(oldest) = self.origins.iter_mut().min_by_key(|o| o.last_use)
        {
            *oldest = fresh;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_tracks_out_of_order_requests() {
        let mut d: Dedup<MAX_ORIGINS> = Dedup::new();
        let m = MemberId::from_u128(1);
        d.record(m, 5);
        d.record(m, 3);
        assert!(d.seen(m, 5) && d.seen(m, 3));
        assert!(!d.seen(m, 4) && !d.seen(m, 6));
        d.record(m, 100);
        assert!(d.seen(m, 5), "far below the window counts as seen");
        assert!(!d.seen(m, 99));
        assert!(!d.seen(MemberId::from_u128(2), 5));
    }

    #[test]
    fn full_table_forgets_the_oldest() {
        const ORIGINS: usize = 4;
        let mut d: Dedup<ORIGINS> = Dedup::new();
        for i in 0..ORIGINS as u128 + 1 {
            d.record(MemberId::from_u128(i + 1), 1);
        }
        assert!(!d.seen(MemberId::from_u128(1), 1));
        assert!(d.seen(MemberId::from_u128(ORIGINS as u128 + 1), 1));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, rng_seed: proptest::test_runner::RngSeed::Fixed(7), ..ProptestConfig::default() })]

        /// Against a set of every recorded id: within the window the answer
        /// is exact; below it, "seen" (the safe side: a request that old is
        /// never resent, see `MAX_PENDING`).
        #[test]
        fn matches_a_set_within_the_window(ids in proptest::collection::vec(1u64..200, 1..100), probe in 1u64..220) {
            let mut d: Dedup<MAX_ORIGINS> = Dedup::new();
            let mut model = BTreeSet::new();
            let m = MemberId::from_u128(1);
            for id in ids {
                d.record(m, id);
                model.insert(id);
            }
            let high = *model.iter().next_back().unwrap_or(&0);
            let expected = model.contains(&probe) || (probe <= high && high - probe >= WINDOW);
            prop_assert_eq!(d.seen(m, probe), expected);
        }
    }
}
