//! Latency recording in an HDR histogram, its transfer from a receiver
//! process to the coordinator, and its summary.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// The largest latency recorded: 60 s (larger values are clamped).
const MAX_NS: u64 = 60_000_000_000;

/// Latencies in nanoseconds, three significant digits.
#[derive(Debug, Clone)]
pub(crate) struct Latency(Histogram<u64>);

/// The percentiles printed for a run, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct LatencySummary {
    /// Samples.
    pub(crate) count: u64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) p999_us: f64,
    pub(crate) max_us: f64,
}

impl Latency {
    pub(crate) fn new() -> Self {
        Latency(Histogram::new_with_bounds(1, MAX_NS, 3).expect("constant, valid bounds"))
    }

    /// Records one latency (clamped to 1 ns ..= 60 s).
    pub(crate) fn record(&mut self, ns: u64) {
        self.0.saturating_record(ns.clamp(1, MAX_NS));
    }

    /// Adds another histogram's samples.
    pub(crate) fn merge(&mut self, other: &Latency) {
        // Both share the bounds, so adding cannot fail.
        let _ = self.0.add(&other.0);
    }

    /// The recorded values and their counts, for transfer.
    pub(crate) fn to_pairs(&self) -> Vec<(u64, u64)> {
        self.0
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect()
    }

    /// The histogram made from [`to_pairs`](Latency::to_pairs).
    pub(crate) fn from_pairs(pairs: &[(u64, u64)]) -> Self {
        let mut latency = Latency::new();
        for &(value, count) in pairs {
            let _ = latency.0.record_n(value.clamp(1, MAX_NS), count);
        }
        latency
    }

    pub(crate) fn summary(&self) -> LatencySummary {
        let us = |ns: u64| ns as f64 / 1_000.0;
        if self.0.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: self.0.len(),
            p50_us: us(self.0.value_at_quantile(0.50)),
            p99_us: us(self.0.value_at_quantile(0.99)),
            p999_us: us(self.0.value_at_quantile(0.999)),
            max_us: us(self.0.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_survive_transfer_and_merge() {
        let mut a = Latency::new();
        for ns in 1..=1_000u64 {
            a.record(ns * 1_000);
        }
        let b = Latency::from_pairs(&a.to_pairs());
        let (sa, sb) = (a.summary(), b.summary());
        assert_eq!(sa, sb);
        assert_eq!(sa.count, 1_000);
        assert!((sa.p50_us - 500.0).abs() < 1.0, "{sa:?}");
        assert!((sa.max_us - 1_000.0).abs() < 1.0, "{sa:?}");
        let mut merged = a.clone();
        merged.merge(&b);
        assert_eq!(merged.summary().count, 2_000);
        assert_eq!(Latency::new().summary(), LatencySummary::default());
    }
}
