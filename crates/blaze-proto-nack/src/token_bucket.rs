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
        let wait = missing.div_ceil(u128::from(self.rate));
        now + Duration::from_micros(u64::try_from(wait).unwrap_or(u64::MAX))
    }
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

    #[test]
    fn zero_rate_never_refills() {
        let mut b = TokenBucket::new(Instant::ZERO, 0, 5);
        assert!(b.try_take(Instant::ZERO, 5));
        assert_eq!(b.ready_at(Instant::from_micros(9), 1), Instant::MAX);
    }
}
