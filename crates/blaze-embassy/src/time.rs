//! The machines' microsecond [`Instant`] to and from embassy-time's ticks.

use blaze_wire::Instant;
use embassy_time::TICK_HZ;

const MICROS_PER_SEC: u128 = 1_000_000;

/// Now, on embassy-time's clock, in the machines' microseconds (rounded
/// down to the tick): the time the runner gives the machine, for
/// building one (`Node::new`).
///
/// ```
/// # // embassy-time's std driver, as the host tests use it.
/// let t = blaze_embassy::now();
/// assert!(blaze_embassy::now() >= t);
/// ```
pub fn now() -> Instant {
    from_embassy(embassy_time::Instant::now())
}

/// An embassy instant in microseconds, rounded down.
pub(crate) fn from_embassy(t: embassy_time::Instant) -> Instant {
    let micros = u128::from(t.as_ticks()) * MICROS_PER_SEC / u128::from(TICK_HZ);
    Instant::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
}

/// The first tick at or after `t`, so that a timer armed for it never
/// fires before the machine's deadline (a tick of 1 ms would otherwise
/// wake the machine up to a millisecond early, for nothing).
pub(crate) fn to_embassy(t: Instant) -> embassy_time::Instant {
    let ticks = (u128::from(t.total_micros()) * u128::from(TICK_HZ)).div_ceil(MICROS_PER_SEC);
    embassy_time::Instant::from_ticks(u64::try_from(ticks).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_and_now_rounds_down() {
        let t = Instant::from_micros(1_500);
        let e = to_embassy(t);
        assert!(from_embassy(e) >= t);
        let back = from_embassy(embassy_time::Instant::from_ticks(e.as_ticks() - 1));
        assert!(back < t);
        // The far future saturates instead of overflowing.
        assert!(to_embassy(Instant::from_micros(u64::MAX)).as_ticks() > 0);
    }
}
