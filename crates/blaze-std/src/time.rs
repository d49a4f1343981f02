//! Conversion between the host's monotonic clock and the protocols'
//! [`Instant`](blaze_wire::Instant) (microseconds since an epoch).

use blaze_wire::{Duration, Instant};

/// The furthest a deadline is placed in the future (about 30 years), so
/// that [`Instant::MAX`] ("never") maps to a time the host clock can hold.
const FAR_FUTURE: std::time::Duration = std::time::Duration::from_secs(86_400 * 365 * 30);

/// The adapter's clock: an epoch captured once, against which host time is
/// converted to and from [`Instant`].
///
/// It reads tokio's clock, so it follows tokio's paused and advanced time in
/// tests. Conversions saturate: a host time before the epoch maps to
/// [`Instant::ZERO`], and an [`Instant`] too far in the future for the host
/// clock maps to about 30 years after the epoch.
///
/// ```
/// use blaze_std::Clock;
/// use blaze_wire::{Duration, Instant};
///
/// let clock = Clock::new();
/// let deadline = clock.now() + Duration::from_millis(5);
/// let host = clock.to_tokio(deadline);
/// assert_eq!(clock.instant(host), deadline);
/// assert_eq!(clock.instant(clock.epoch()), Instant::ZERO);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    epoch: tokio::time::Instant,
}

impl Clock {
    /// A clock whose epoch is now.
    pub fn new() -> Self {
        Clock {
            epoch: tokio::time::Instant::now(),
        }
    }

    /// A clock with the given epoch (for several adapters that must share
    /// one time base).
    pub const fn with_epoch(epoch: tokio::time::Instant) -> Self {
        Clock { epoch }
    }

    /// The host time that maps to [`Instant::ZERO`].
    pub const fn epoch(self) -> tokio::time::Instant {
        self.epoch
    }

    /// The current time.
    pub fn now(self) -> Instant {
        self.instant(tokio::time::Instant::now())
    }

    /// Converts a tokio instant; microseconds are rounded down.
    pub fn instant(self, t: tokio::time::Instant) -> Instant {
        Instant::ZERO + Duration::from(t.saturating_duration_since(self.epoch))
    }

    /// Converts a std instant; microseconds are rounded down.
    pub fn instant_from_std(self, t: std::time::Instant) -> Instant {
        self.instant(tokio::time::Instant::from_std(t))
    }

    /// The tokio instant of `t`, saturating at about 30 years after the
    /// epoch.
    pub fn to_tokio(self, t: Instant) -> tokio::time::Instant {
        let since = std::time::Duration::from_micros(t.total_micros()).min(FAR_FUTURE);
        self.epoch + since
    }

    /// The std instant of `t`, saturating like [`to_tokio`](Clock::to_tokio).
    pub fn to_std(self, t: Instant) -> std::time::Instant {
        self.to_tokio(t).into_std()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_exact_in_micros() {
        let clock = Clock::new();
        for micros in [0, 1, 999, 1_000_001, 3_600_000_000] {
            let t = Instant::from_micros(micros);
            assert_eq!(clock.instant(clock.to_tokio(t)), t);
            assert_eq!(clock.instant_from_std(clock.to_std(t)), t);
        }
    }

    #[test]
    fn conversions_saturate() {
        let clock = Clock::new();
        let before = clock.epoch().checked_sub(std::time::Duration::from_secs(1));
        if let Some(before) = before {
            assert_eq!(clock.instant(before), Instant::ZERO);
        }
        assert_eq!(clock.to_tokio(Instant::MAX), clock.epoch() + FAR_FUTURE);
    }

    #[tokio::test(start_paused = true)]
    async fn follows_paused_time() {
        let clock = Clock::new();
        assert_eq!(clock.now(), Instant::ZERO);
        tokio::time::advance(std::time::Duration::from_micros(1_234)).await;
        assert_eq!(clock.now(), Instant::from_micros(1_234));
    }
}
