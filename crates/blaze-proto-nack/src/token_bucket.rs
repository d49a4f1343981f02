//! Rate limiting by token bucket.

use blaze_wire::{Duration, Instant};

const MICROS_PER_SEC: u128 = 1_000_000;

/// A token bucket that admits `rate` bytes per second with bursts of up to
/// `burst` bytes.
///
/// Tokens are kept in millionths of a byte so that any rate is exact at
/// microsecond resolution.
///
/// ```
/// use blaze_proto_nack::TokenBucket;
/// use blaze_wire::{Duration, Instant};
/// let t0 = Instant::ZERO;
/// let mut b = TokenBucket::new(t0, 1_000_000, 1_500); // 1 MB/s
/// assert!(b.try_take(t0, 1_500));
/// assert!(!b.try_take(t0, 100));
/// assert_eq!(b.ready_at(t0, 100), t0 + Duration::from_micros(100));
/// assert!(b.try_take(t0 + Duration::from_micros(100), 100));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TokenBucket {
    rate: u64,
    burst: u64,
    micro_tokens: u128,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket. A `rate` of 0 never admits anything beyond the
    /// initial burst.
    pub fn new(now: Instant, rate: u64, burst: u64) -> Self {
        TokenBucket {
            rate,
            burst,
            micro_tokens: u128::from(burst) * MICROS_PER_SEC,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        if now <= self.last {
            return;
        }
        let elapsed = u128::from((now - self.last).total_micros());
        let cap = u128::from(self.burst) * MICROS_PER_SEC;
        self.micro_tokens = self
            .micro_tokens
            .saturating_add(elapsed * u128::from(self.rate))
            .min(cap);
        self.last = now;
    }

    /// Takes `bytes` tokens if they are all there; otherwise takes nothing.
    /// A request larger than the burst is admitted when the bucket is full.
    pub fn try_take(&mut self, now: Instant, bytes: u64) -> bool {
        self.refill(now);
        let need = u128::from(bytes.min(self.burst)) * MICROS_PER_SEC;
        if self.micro_tokens >= need {
            self.micro_tokens -= need;
            true
        } else {
            false
        }
    }

    /// When `bytes` tokens will be there ([`Instant::MAX`] at rate 0).
    pub fn ready_at(&mut self, now: Instant, bytes: u64) -> Instant {
        self.refill(now);
        let need = u128::from(bytes.min(self.burst)) * MICROS_PER_SEC;
        if self.micro_tokens >= need {
            return now;
        }
        if self.rate == 0 {
            return Instant::MAX;
        }
        let missing = need - self.micro_tokens;
        now + Duration::from_micros(div_ceil_saturating(missing, self.rate))
    }
}

/// `ceil(n / d)`, saturated to `u64::MAX`, for `d > 0`.
///
/// Exact without a 128-bit division: the shortfall fits in 64 bits in
/// practice (a burst below 18 TB), which is one 64-bit division;
/// otherwise a 64-step shift-and-subtract division. A 128-bit
/// division inlined here is about 1 KB of flash on a 32-bit target.
fn div_ceil_saturating(n: u128, d: u64) -> u64 {
    let hi = (n >> 64) as u64;
    let lo = n as u64;
    if hi == 0 {
        return lo.div_ceil(d);
    }
    if hi >= d {
        // The quotient is at least 2^64.
        return u64::MAX;
    }
    // Long division of `hi:lo` by `d`; `rem < d` throughout, so the
    // quotient fits in 64 bits.
    let mut rem = hi;
    let mut q = 0u64;
    for i in (0..64).rev() {
        let carry = rem >> 63;
        rem = (rem << 1) | ((lo >> i) & 1);
        q <<= 1;
        if carry != 0 || rem >= d {
            rem = rem.wrapping_sub(d);
            q |= 1;
        }
    }
    if rem == 0 { q } else { q.saturating_add(1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_run_rate_is_exact() {
        let mut b = TokenBucket::new(Instant::ZERO, 3_000, 10);
        let mut sent = 0u64;
        let mut now = Instant::ZERO;
        for _ in 0..100_000 {
            now += Duration::from_micros(10);
            while b.try_take(now, 7) {
                sent += 7;
            }
        }
        // One second at 3000 B/s plus the initial burst, minus rounding.
        assert!((2_990..=3_010).contains(&sent), "sent {sent}");
    }

    /// The exact result, by 128-bit division.
    fn div_ceil_exact(n: u128, d: u64) -> u64 {
        u64::try_from(n.div_ceil(u128::from(d))).unwrap_or(u64::MAX)
    }

    #[test]
    fn division_matches_the_exact_result_at_the_edges() {
        let ns = [
            0,
            1,
            999_999,
            1_000_000,
            u128::from(u64::MAX) - 1,
            u128::from(u64::MAX),
            u128::from(u64::MAX) + 1,
            u128::from(u64::MAX) * 1_000_000,
            u128::from(u64::MAX) * 1_000_000 - 1,
            (u128::from(u64::MAX) << 64) - 1,
            u128::from(u64::MAX) << 64,
            u128::MAX,
        ];
        let ds = [1, 2, 3, 7, 1_000_000, u64::MAX / 3, u64::MAX - 1, u64::MAX];
        for n in ns {
            for d in ds {
                assert_eq!(div_ceil_saturating(n, d), div_ceil_exact(n, d), "{n} / {d}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x7b),
            ..proptest::test_runner::Config::default()
        })]
        #[test]
        fn division_matches_the_exact_result(n: u128, shift in 0u32..128, d in 1u64..) {
            // Shifted, so every magnitude of shortfall is drawn.
            let n = n >> shift;
            proptest::prop_assert_eq!(div_ceil_saturating(n, d), div_ceil_exact(n, d));
            let small = n >> 64;
            proptest::prop_assert_eq!(div_ceil_saturating(small, d), div_ceil_exact(small, d));
        }

        #[test]
        fn ready_at_is_the_first_instant_with_the_tokens(
            rate in 1u64..10_000_000,
            burst in 1u64..100_000,
            taken in 0u64..100_000,
            bytes in 1u64..100_000,
        ) {
            let mut b = TokenBucket::new(Instant::ZERO, rate, burst);
            let _ = b.try_take(Instant::ZERO, taken);
            let at = b.ready_at(Instant::ZERO, bytes);
            let (mut on_time, mut early) = (b, b);
            proptest::prop_assert!(on_time.try_take(at, bytes));
            if at > Instant::ZERO {
                let before = Instant::from_micros(at.total_micros() - 1);
                proptest::prop_assert!(!early.try_take(before, bytes));
            }
        }
    }

    #[test]
    fn zero_rate_never_refills() {
        let mut b = TokenBucket::new(Instant::ZERO, 0, 5);
        assert!(b.try_take(Instant::ZERO, 5));
        assert_eq!(b.ready_at(Instant::from_micros(9), 1), Instant::MAX);
    }
}
