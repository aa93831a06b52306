//! Latency samples and their percentiles.
//!
//! A run keeps every sample (8 bytes each: a few MB for a 5-second round at
//! tens of thousands of calls a second), so percentiles are exact and rounds
//! merge by concatenation; an HDR histogram would save memory we do not
//! need to save and round every figure.

use std::time::Duration;

use serde::Serialize;

/// Latency samples in nanoseconds.
#[derive(Clone, Debug, Default)]
pub struct Latencies {
    samples: Vec<u64>,
    sorted: bool,
}

/// The percentiles a report shows, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// How many samples.
    pub count: u64,
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Largest sample.
    pub max_us: f64,
}

impl Latencies {
    /// No samples.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one sample (saturating at `u64::MAX` nanoseconds).
    pub fn record(&mut self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.samples.push(nanos);
        self.sorted = false;
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Latencies) {
        self.samples.extend_from_slice(&other.samples);
        self.sorted = self.samples.len() == other.samples.len() && other.sorted;
    }

    /// How many samples.
    pub fn count(&self) -> u64 {
        self.samples.len() as u64
    }

    /// The `q`-quantile (`0.0..=1.0`) by nearest rank: the smallest sample
    /// with at least `q` of all samples at or below it. Zero when empty.
    pub fn quantile(&mut self, q: f64) -> Duration {
        self.sort();
        let n = self.samples.len();
        if n == 0 {
            return Duration::ZERO;
        }
        let q = q.clamp(0.0, 1.0);
        // Nearest rank: ceil(q * n), at least 1, as a 1-based index.
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        Duration::from_nanos(self.samples[rank - 1])
    }

    /// The largest sample, zero when empty.
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.samples.iter().copied().max().unwrap_or(0))
    }

    /// p50, p90, p99 and max.
    pub fn summary(&mut self) -> Summary {
        Summary {
            count: self.count(),
            p50_us: micros(self.quantile(0.50)),
            p90_us: micros(self.quantile(0.90)),
            p99_us: micros(self.quantile(0.99)),
            max_us: micros(self.max()),
        }
    }

    fn sort(&mut self) {
        if !self.sorted {
            self.samples.sort_unstable();
            self.sorted = true;
        }
    }
}

/// A duration in (fractional) microseconds.
pub fn micros(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(us: &[u64]) -> Latencies {
        let mut l = Latencies::new();
        for &u in us {
            l.record(Duration::from_micros(u));
        }
        l
    }

    #[test]
    fn empty_is_zero() {
        let mut l = Latencies::new();
        assert_eq!(l.quantile(0.5), Duration::ZERO);
        assert_eq!(l.summary(), Summary::default());
    }

    #[test]
    fn nearest_rank_on_one_to_hundred() {
        // 1..=100 µs shuffled: the q-quantile is q*100 µs exactly.
        let mut v: Vec<u64> = (1..=100).collect();
        v.reverse();
        v.swap(3, 70);
        let mut l = of(&v);
        assert_eq!(l.quantile(0.50), Duration::from_micros(50));
        assert_eq!(l.quantile(0.90), Duration::from_micros(90));
        assert_eq!(l.quantile(0.99), Duration::from_micros(99));
        assert_eq!(l.quantile(1.0), Duration::from_micros(100));
        assert_eq!(l.quantile(0.0), Duration::from_micros(1));
        assert_eq!(l.max(), Duration::from_micros(100));
    }

    #[test]
    fn one_sample_is_every_percentile() {
        let mut l = of(&[7]);
        let s = l.summary();
        assert_eq!((s.p50_us, s.p99_us, s.max_us), (7.0, 7.0, 7.0));
        assert_eq!(s.count, 1);
    }

    #[test]
    fn tail_is_not_hidden_by_the_median() {
        // 98 fast calls and 2 slow ones: p50 fast, p99 slow.
        let mut v = vec![100; 98];
        v.extend([5_000, 9_000]);
        let mut l = of(&v);
        let s = l.summary();
        assert_eq!(s.p50_us, 100.0);
        assert_eq!(s.p90_us, 100.0);
        assert_eq!(s.p99_us, 5_000.0);
        assert_eq!(s.max_us, 9_000.0);
    }

    #[test]
    fn merge_keeps_every_sample() {
        let mut a = of(&[1, 2, 3]);
        let _ = a.quantile(0.5); // sorted before the merge
        let b = of(&[10, 20]);
        a.merge(&b);
        assert_eq!(a.count(), 5);
        assert_eq!(a.quantile(1.0), Duration::from_micros(20));
        assert_eq!(a.quantile(0.5), Duration::from_micros(3));
    }

    #[test]
    fn sub_microsecond_precision() {
        let mut l = Latencies::new();
        l.record(Duration::from_nanos(1_500));
        assert_eq!(l.summary().p50_us, 1.5);
    }
}
