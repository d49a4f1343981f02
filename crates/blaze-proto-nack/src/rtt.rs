//! Round-trip time estimation.

use blaze_wire::Duration;

/// A smoothed round-trip estimator (SRTT and RTTVAR, after RFC 6298).
///
/// Samples come from heartbeat timestamp echoes and from the time between
/// a first NACK and the repair that answers it.
///
/// ```
/// use blaze_proto_nack::RttEstimator;
/// use blaze_wire::Duration;
/// let mut rtt = RttEstimator::new(Duration::from_millis(1));
/// assert_eq!(rtt.srtt(), Duration::from_millis(1));
/// rtt.sample(Duration::from_micros(100));
/// assert_eq!(rtt.srtt(), Duration::from_micros(100));
/// assert_eq!(rtt.rttvar(), Duration::from_micros(50));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RttEstimator {
    srtt: Duration,
    rttvar: Duration,
    measured: bool,
}

impl RttEstimator {
    /// An estimator that reports `initial` until the first sample.
    pub const fn new(initial: Duration) -> Self {
        RttEstimator {
            srtt: initial,
            rttvar: Duration::from_micros(initial.total_micros() / 2),
            measured: false,
        }
    }

    /// Feeds one round-trip sample.
    pub fn sample(&mut self, rtt: Duration) {
        // Never let a zero sample make every derived timer zero.
        let rtt = rtt.max(Duration::from_micros(1));
        if self.measured {
            let err = if self.srtt > rtt {
                self.srtt - rtt
            } else {
                rtt - self.srtt
            };
            self.rttvar = (self.rttvar * 3 + err) / 4;
            self.srtt = (self.srtt * 7 + rtt) / 8;
        } else {
            self.srtt = rtt;
            self.rttvar = rtt / 2;
            self.measured = true;
        }
    }

    /// The smoothed round-trip time.
    pub const fn srtt(&self) -> Duration {
        self.srtt
    }

    /// The round-trip variation.
    pub const fn rttvar(&self) -> Duration {
        self.rttvar
    }

    /// True once a sample has been taken.
    pub const fn is_measured(&self) -> bool {
        self.measured
    }

    /// Time to wait for an answer before asking again: `srtt + 4 * rttvar`,
    /// at least `floor`.
    pub fn timeout(&self, floor: Duration) -> Duration {
        (self.srtt + self.rttvar * 4).max(floor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converges_towards_steady_samples() {
        let mut r = RttEstimator::new(Duration::from_millis(100));
        for _ in 0..64 {
            r.sample(Duration::from_micros(200));
        }
        assert_eq!(r.srtt(), Duration::from_micros(200));
        assert!(r.rttvar() < Duration::from_micros(5));
        assert!(r.timeout(Duration::from_micros(10)) >= Duration::from_micros(200));
        assert!(r.is_measured());
    }
}
