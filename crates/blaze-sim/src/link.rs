//! The fault model of one path: loss, bursts, duplication, reordering,
//! delay, jitter and a bandwidth cap.

use blaze_wire::Duration;

/// Bursty loss after Gilbert and Elliott: a two-state Markov chain per
/// directed link, stepped once per datagram.
///
/// In the *good* state a datagram is lost with probability `loss_good`, in
/// the *bad* state with `loss_bad`. Before each datagram the chain moves
/// good → bad with probability `good_to_bad` and bad → good with
/// `bad_to_good`, so the mean burst (bad-state run) lasts
/// `1 / bad_to_good` datagrams.
///
/// ```
/// use blaze_sim::GilbertElliott;
/// let ge = GilbertElliott::bursts(0.01, 8.0);
/// assert!((ge.mean_burst_len() - 8.0).abs() < 1e-9);
/// assert!(ge.stationary_loss() > 0.0 && ge.stationary_loss() < 0.1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GilbertElliott {
    /// Probability of moving from good to bad, per datagram.
    pub good_to_bad: f64,
    /// Probability of moving from bad to good, per datagram.
    pub bad_to_good: f64,
    /// Loss probability in the good state.
    pub loss_good: f64,
    /// Loss probability in the bad state.
    pub loss_bad: f64,
}

impl GilbertElliott {
    /// Bursts that start with probability `start` per datagram, last
    /// `mean_len` datagrams on average, and lose everything while they last;
    /// nothing is lost between bursts.
    pub fn bursts(start: f64, mean_len: f64) -> Self {
        GilbertElliott {
            good_to_bad: start,
            bad_to_good: if mean_len > 1.0 { 1.0 / mean_len } else { 1.0 },
            loss_good: 0.0,
            loss_bad: 1.0,
        }
    }

    /// Mean length of a stay in the bad state, in datagrams.
    pub fn mean_burst_len(&self) -> f64 {
        1.0 / self.bad_to_good
    }

    /// Long-run fraction of datagrams lost.
    pub fn stationary_loss(&self) -> f64 {
        let sum = self.good_to_bad + self.bad_to_good;
        if sum <= 0.0 {
            return self.loss_good;
        }
        let p_bad = self.good_to_bad / sum;
        p_bad * self.loss_bad + (1.0 - p_bad) * self.loss_good
    }
}

/// A bandwidth cap with a bounded queue in front of it.
///
/// A datagram waits until the link is free, then takes
/// `len / bytes_per_sec` to serialise. When the bytes already waiting plus
/// the new datagram would exceed `queue_bytes`, the datagram is tail-dropped
/// ([`DropReason::QueueFull`](crate::DropReason::QueueFull)).
///
/// ```
/// use blaze_sim::Bandwidth;
/// let b = Bandwidth::new(1_000_000, 64 * 1024);
/// assert_eq!(b.serialization(1_000).total_micros(), 1_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bandwidth {
    /// Capacity in bytes per second (0 means the link carries nothing).
    pub bytes_per_sec: u64,
    /// Bytes that may wait for the link before tail drop.
    pub queue_bytes: usize,
}

impl Bandwidth {
    /// A cap of `bytes_per_sec` with `queue_bytes` of queue.
    pub const fn new(bytes_per_sec: u64, queue_bytes: usize) -> Self {
        Bandwidth {
            bytes_per_sec,
            queue_bytes,
        }
    }

    /// Time to serialise `len` bytes, rounded up to the microsecond.
    pub fn serialization(&self, len: usize) -> Duration {
        if self.bytes_per_sec == 0 {
            return Duration::MAX;
        }
        let bits = u128::try_from(len)
            .unwrap_or(u128::MAX)
            .saturating_mul(1_000_000);
        let micros = bits.div_ceil(u128::from(self.bytes_per_sec));
        Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
    }
}

/// The fault model of a path: applied independently to each copy of a
/// datagram (each receiver of a multicast gets its own draw).
///
/// The order of effects for one copy: the bandwidth queue (tail drop, then
/// serialisation), loss (uniform `loss`, then the Gilbert–Elliott chain if
/// any), then propagation delay `delay + U[0, jitter]`, plus
/// `U[0, reorder_delay]` for a fraction `reorder` of copies; with
/// probability `duplicate` a second copy follows with its own delay.
///
/// ```
/// use blaze_sim::LinkConfig;
/// use blaze_wire::Duration;
/// let wan = LinkConfig::default()
///     .with_loss(0.02)
///     .with_delay(Duration::from_millis(20), Duration::from_millis(5))
///     .with_reorder(0.1, Duration::from_millis(10))
///     .with_duplicate(0.01);
/// assert_eq!(wan.loss, 0.02);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    /// Probability that a datagram is lost (uniform, independent).
    pub loss: f64,
    /// Bursty loss on top of `loss`, if any.
    pub burst: Option<GilbertElliott>,
    /// Probability that a datagram arrives twice.
    pub duplicate: f64,
    /// Fraction of datagrams that get an extra `U[0, reorder_delay]` delay.
    pub reorder: f64,
    /// The largest extra delay of a reordered datagram.
    pub reorder_delay: Duration,
    /// Base one-way propagation delay.
    pub delay: Duration,
    /// Extra uniform delay `U[0, jitter]` on every datagram.
    pub jitter: Duration,
    /// A bandwidth cap, if any.
    pub bandwidth: Option<Bandwidth>,
}

impl Default for LinkConfig {
    /// A perfect LAN: 100 µs delay, no jitter, no faults.
    fn default() -> Self {
        LinkConfig {
            loss: 0.0,
            burst: None,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
            delay: Duration::from_micros(100),
            jitter: Duration::ZERO,
            bandwidth: None,
        }
    }
}

impl LinkConfig {
    /// A perfect link with the given delay.
    pub fn perfect(delay: Duration) -> Self {
        LinkConfig {
            delay,
            ..LinkConfig::default()
        }
    }

    /// A lossy LAN: 1% loss, 100 µs ± 50 µs delay, 1% reordered by up to
    /// 500 µs, 0.1% duplicated.
    pub fn lossy_lan() -> Self {
        LinkConfig::default()
            .with_loss(0.01)
            .with_delay(Duration::from_micros(100), Duration::from_micros(50))
            .with_reorder(0.01, Duration::from_micros(500))
            .with_duplicate(0.001)
    }

    /// A WAN path: 2% loss in bursts, 20 ms ± 5 ms, 2% reordered by up to
    /// 10 ms, 0.5% duplicated.
    pub fn wan() -> Self {
        LinkConfig::default()
            .with_loss(0.01)
            .with_burst(GilbertElliott::bursts(0.002, 5.0))
            .with_delay(Duration::from_millis(20), Duration::from_millis(5))
            .with_reorder(0.02, Duration::from_millis(10))
            .with_duplicate(0.005)
    }

    /// Sets uniform loss.
    pub fn with_loss(mut self, loss: f64) -> Self {
        self.loss = loss;
        self
    }

    /// Sets bursty loss.
    pub fn with_burst(mut self, burst: GilbertElliott) -> Self {
        self.burst = Some(burst);
        self
    }

    /// Sets the duplication probability.
    pub fn with_duplicate(mut self, duplicate: f64) -> Self {
        self.duplicate = duplicate;
        self
    }

    /// Reorders a fraction of datagrams by up to `extra` more delay.
    pub fn with_reorder(mut self, fraction: f64, extra: Duration) -> Self {
        self.reorder = fraction;
        self.reorder_delay = extra;
        self
    }

    /// Sets base delay and jitter.
    pub fn with_delay(mut self, delay: Duration, jitter: Duration) -> Self {
        self.delay = delay;
        self.jitter = jitter;
        self
    }

    /// Caps bandwidth.
    pub fn with_bandwidth(mut self, bandwidth: Bandwidth) -> Self {
        self.bandwidth = Some(bandwidth);
        self
    }
}
