//! The machines' microsecond [`Instant`] to and from embassy-time's ticks.

use blaze_wire::Instant;
use embassy_time::TICK_HZ;

const MICROS_PER_SEC: u64 = 1_000_000;

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

/// `value * to / from`, rounded up or down, saturating at `u64::MAX`, in
/// 64-bit arithmetic: whole `from`s and the remainder are scaled apart
/// (the remainder times `to` fits 64 bits for any tick rate below
/// 18 THz), which a 32-bit target does without 128-bit division.
/// A rate that divides the other (embassy-time's 1 kHz to 1 MHz ticks and
/// the microseconds) takes one multiplication or one division; `from`
/// and `to` are constants, so the test folds away.
fn rescale(value: u64, from: u64, to: u64, round_up: bool) -> u64 {
    if to.is_multiple_of(from) {
        return value.saturating_mul(to / from);
    }
    if from.is_multiple_of(to) {
        let d = from / to;
        return if round_up {
            value.div_ceil(d)
        } else {
            value / d
        };
    }
    let (whole, rest) = (value / from, value % from);
    let scaled = rest * to;
    let part = if round_up {
        scaled.div_ceil(from)
    } else {
        scaled / from
    };
    whole.saturating_mul(to).saturating_add(part)
}

/// An embassy instant in microseconds, rounded down.
pub(crate) fn from_embassy(t: embassy_time::Instant) -> Instant {
    Instant::from_micros(rescale(t.as_ticks(), TICK_HZ, MICROS_PER_SEC, false))
}

/// The first tick at or after `t`, so that a timer armed for it never
/// fires before the machine's deadline (a tick of 1 ms would otherwise
/// wake the machine up to a millisecond early, for nothing).
pub(crate) fn to_embassy(t: Instant) -> embassy_time::Instant {
    embassy_time::Instant::from_ticks(rescale(t.total_micros(), MICROS_PER_SEC, TICK_HZ, true))
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

    /// The 64-bit scaling equals the exact 128-bit one (saturated), for
    /// common tick rates and values around every boundary.
    #[test]
    fn rescale_matches_128_bit_arithmetic() {
        let exact = |v: u64, from: u64, to: u64, up: bool| {
            let p = u128::from(v) * u128::from(to);
            let q = if up {
                p.div_ceil(u128::from(from))
            } else {
                p / u128::from(from)
            };
            u64::try_from(q).unwrap_or(u64::MAX)
        };
        let rates = [1, 1_000, 32_768, 1_000_000, 80_000_000, 1_000_000_000];
        let mut values = std::vec![0, 1, 999, 1_000, 1_001, 999_999, 1_000_000, 1_000_001];
        values.extend([
            u64::MAX,
            u64::MAX - 1,
            u64::MAX / 1_000,
            u64::MAX / 32_768 + 1,
        ]);
        values.extend((0..64).map(|b| 1u64 << b));
        values.extend((0..64).map(|b| (1u64 << b).wrapping_sub(1)));
        values.extend((1..200u64).map(|k| k.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
        for &hz in &rates {
            for &v in &values {
                for up in [false, true] {
                    assert_eq!(
                        rescale(v, MICROS_PER_SEC, hz, up),
                        exact(v, MICROS_PER_SEC, hz, up),
                        "{v} us at {hz} Hz"
                    );
                    assert_eq!(
                        rescale(v, hz, MICROS_PER_SEC, up),
                        exact(v, hz, MICROS_PER_SEC, up),
                        "{v} ticks at {hz} Hz"
                    );
                }
            }
        }
    }
}
