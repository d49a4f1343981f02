//! A small insertion sort for the short tables of this crate (views,
//! joiners, a peer's outgoing messages).
//!
//! `core`'s `sort_unstable` links about 1.8 KiB of code per element type
//! (quicksort, heapsort fallback, pivot selection), which is more than a
//! whole feature of this crate on a microcontroller. These tables hold at
//! most a few dozen entries and every key used with them is unique (it
//! ends in a member id or a slot index), so the order is the same as any
//! other sort's.

/// Sorts `items` by `key`, ascending; equal keys keep their order.
/// Quadratic: for short slices only.
pub(crate) fn sort_by_key<T, K: Ord>(items: &mut [T], key: impl Fn(&T) -> K) {
    for end in 1..items.len() {
        let mut i = end;
        while i > 0 {
            let (Some(a), Some(b)) = (items.get(i - 1), items.get(i)) else {
                break;
            };
            if key(a) <= key(b) {
                break;
            }
            items.swap(i - 1, i);
            i -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, rng_seed: proptest::test_runner::RngSeed::Fixed(11), ..ProptestConfig::default() })]

        /// The same order as `core`'s sort for unique keys, and a stable
        /// order for repeated ones.
        #[test]
        fn sorts_like_core(mut v in proptest::collection::vec((0u8..8, any::<u16>()), 0..40)) {
            let mut expected = v.clone();
            expected.sort_by_key(|e| e.0);
            sort_by_key(&mut v, |e| e.0);
            prop_assert_eq!(v, expected);
        }
    }
}
