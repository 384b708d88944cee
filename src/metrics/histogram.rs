//! Lock-free, fixed-size latency histogram with log-linear buckets (≤ 3.2 % relative error).
//!
//! Layout (HDR-style, unit = 1 ns): values below 32 ns get one bucket each; above that every
//! power-of-two range `[2^e, 2^(e+1))` is split into [`SUB_BUCKETS`] = 16 equal sub-buckets.
//! A bucket's width is therefore at most 1/16 of its lower edge, and reporting the bucket's
//! midpoint is within 1/32 ≈ 3.1 % of any value in it. The ranges run up to 2^36 ns ≈ 68.7 s;
//! anything longer lands in the last bucket (the exact sum and max still see it).
//! That is [`BUCKETS`] = 528 `AtomicU64`s (4.2 KiB) per histogram, allocated once.
//!
//! Recording is three relaxed atomic RMWs (bucket, sum, max) and no allocation; the count is
//! the sum of the buckets, so it never disagrees with the percentiles. A snapshot reads the
//! atomics one by one: under concurrent recording it may see a record's bucket but not yet its
//! sum (or vice versa) — a transient skew of at most the records in flight, acceptable for
//! monitoring and why [`HistogramSnapshot::delta`] saturates instead of underflowing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Linear sub-buckets per power-of-two range; 16 keeps the midpoint error ≤ 1/32.
pub const SUB_BUCKETS: usize = 16;
const SUB_BITS: u32 = 4;
/// First power of two that is split (values below `2^(SUB_BITS+1)` = 32 ns are exact).
const LINEAR_LIMIT: u64 = 1 << (SUB_BITS + 1);
/// Highest power-of-two exponent covered: `[2^35, 2^36)` ns ≈ 34 s … 68.7 s.
const MAX_EXPONENT: u32 = 35;
/// Number of buckets: 32 exact ones plus 16 per range for exponents 5 ..= 35.
pub const BUCKETS: usize = LINEAR_LIMIT as usize + (MAX_EXPONENT - SUB_BITS) as usize * SUB_BUCKETS;

/// Upper bounds (seconds, inclusive) of the coarse Prometheus-style buckets that
/// [`HistogramSnapshot::buckets`] exports, `+Inf` implied after the last one. Chosen around the
/// 100 ms slow-query threshold and the 200 ms p95 target of the original system.
pub const PROMETHEUS_BOUNDS_SECONDS: [f64; 19] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.5, 1.0, 2.5, 10.0,
    60.0,
];

const NANOS_PER_MS: f64 = 1_000_000.0;

/// Bucket index of a value in nanoseconds.
#[inline]
fn bucket_index(nanos: u64) -> usize {
    if nanos < LINEAR_LIMIT {
        return nanos as usize;
    }
    // floor(log2(nanos)) ≥ SUB_BITS + 1 here.
    let exponent = 63 - nanos.leading_zeros();
    if exponent > MAX_EXPONENT {
        return BUCKETS - 1;
    }
    let sub = (nanos >> (exponent - SUB_BITS)) as usize & (SUB_BUCKETS - 1);
    LINEAR_LIMIT as usize + (exponent - SUB_BITS - 1) as usize * SUB_BUCKETS + sub
}

/// Lowest value (ns) of a bucket and its width (ns).
fn bucket_range(index: usize) -> (u64, u64) {
    if index < LINEAR_LIMIT as usize {
        return (index as u64, 1);
    }
    let offset = index - LINEAR_LIMIT as usize;
    let exponent = (offset / SUB_BUCKETS) as u32 + SUB_BITS + 1;
    let sub = (offset % SUB_BUCKETS) as u64;
    let width = 1u64 << (exponent - SUB_BITS);
    ((1u64 << exponent) + sub * width, width)
}

/// Highest value (ns, inclusive) a bucket holds.
fn bucket_high(index: usize) -> u64 {
    let (low, width) = bucket_range(index);
    low + width - 1
}

/// The value reported for a bucket: its midpoint, which bounds the relative error by 1/32.
fn bucket_mid(index: usize) -> f64 {
    let (low, width) = bucket_range(index);
    low as f64 + (width as f64 - 1.0) / 2.0
}

fn duration_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// A latency distribution that many threads record into without locks or allocation.
///
/// Why not a crate: the figures must also be persisted per interval and exported per query
/// type, so we need deltas between snapshots, which a fixed, known layout makes trivial.
pub struct LatencyHistogram {
    buckets: Box<[AtomicU64]>,
    sum_nanos: AtomicU64,
    max_nanos: AtomicU64,
}

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let snapshot = self.snapshot();
        f.debug_struct("LatencyHistogram")
            .field("count", &snapshot.count())
            .field("sum_ms", &snapshot.sum_ms())
            .field("max_ms", &snapshot.max_ms())
            .finish()
    }
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram; allocates its fixed bucket array once.
    pub fn new() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
            max_nanos: AtomicU64::new(0),
        }
    }

    /// Records one observation. Lock-free and allocation-free: the per-query hot path.
    #[inline]
    pub fn record(&self, duration: Duration) {
        let nanos = duration_nanos(duration);
        // `bucket_index` is < BUCKETS by construction; `get` keeps a bad index from panicking.
        if let Some(bucket) = self.buckets.get(bucket_index(nanos)) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.max_nanos.fetch_max(nanos, Ordering::Relaxed);
    }

    /// Zeroes every counter. Not atomic as a whole: meant for a single owner (the limiter's
    /// private window), not for a histogram others record into.
    pub fn reset(&self) {
        for bucket in self.buckets.iter() {
            bucket.store(0, Ordering::Relaxed);
        }
        self.sum_nanos.store(0, Ordering::Relaxed);
        self.max_nanos.store(0, Ordering::Relaxed);
    }

    /// Copies the current figures into plain data (allocates one `Vec` of [`BUCKETS`]).
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            counts: self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect(),
            sum_nanos: self.sum_nanos.load(Ordering::Relaxed),
            max_nanos: self.max_nanos.load(Ordering::Relaxed),
        }
    }
}

/// A point-in-time copy of a [`LatencyHistogram`], or the difference of two (an interval).
///
/// Plain data so it can be kept by the sampler, diffed, merged across query types and read
/// without touching the live atomics again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistogramSnapshot {
    counts: Vec<u64>,
    sum_nanos: u64,
    max_nanos: u64,
}

impl Default for HistogramSnapshot {
    fn default() -> Self {
        Self::empty()
    }
}

impl HistogramSnapshot {
    /// A snapshot with no observations (the neutral element of [`merge`](Self::merge)).
    pub fn empty() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            sum_nanos: 0,
            max_nanos: 0,
        }
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Total of all observations, in milliseconds (exact, not bucketed).
    pub fn sum_ms(&self) -> f64 {
        self.sum_nanos as f64 / NANOS_PER_MS
    }

    /// Mean in milliseconds; 0 when empty (callers that must tell "no data" apart check
    /// [`count`](Self::count)).
    pub fn mean_ms(&self) -> f64 {
        match self.count() {
            0 => 0.0,
            count => self.sum_ms() / count as f64,
        }
    }

    /// Largest observation in milliseconds: exact for a live snapshot; for a
    /// [`delta`](Self::delta) the top of the highest non-empty bucket (≤ 6.25 % high).
    pub fn max_ms(&self) -> f64 {
        self.max_nanos as f64 / NANOS_PER_MS
    }

    /// The `p`-th percentile (`p` in 0 ..= 100, e.g. 95.0 for p95) in milliseconds, by the
    /// nearest-rank rule; 0 when empty. Within 3.2 % of the exact nearest-rank value: it is the
    /// midpoint of the bucket that holds that value, capped at the maximum.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        let count = self.count();
        if count == 0 {
            return 0.0;
        }
        let p = if p.is_nan() { 100.0 } else { p.clamp(0.0, 100.0) };
        // Nearest rank: the smallest observation with at least p % of the data at or below it.
        let rank = ((p / 100.0) * count as f64).ceil().max(1.0) as u64;
        let mut cumulative = 0u64;
        for (index, &n) in self.counts.iter().enumerate() {
            cumulative += n;
            if cumulative >= rank {
                let value = bucket_mid(index).min(self.max_nanos as f64);
                return value / NANOS_PER_MS;
            }
        }
        self.max_ms()
    }

    /// Interval figures: this snapshot minus an `earlier` one of the same histogram.
    /// Counters saturate at zero (see the module note on skew); the maximum, which a
    /// difference cannot recover, is approximated by the top of the highest non-empty bucket
    /// of the difference, capped at this snapshot's (all-time) maximum.
    pub fn delta(&self, earlier: &HistogramSnapshot) -> HistogramSnapshot {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .zip(earlier.counts.iter())
            .map(|(now, before)| now.saturating_sub(*before))
            .collect();
        let max_nanos = counts
            .iter()
            .rposition(|&n| n > 0)
            .map_or(0, |index| bucket_high(index).min(self.max_nanos));
        HistogramSnapshot {
            counts,
            sum_nanos: self.sum_nanos.saturating_sub(earlier.sum_nanos),
            max_nanos,
        }
    }

    /// Adds `other` into this snapshot, e.g. to get one latency figure across query types.
    pub fn merge(&mut self, other: &HistogramSnapshot) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine = mine.saturating_add(*theirs);
        }
        self.sum_nanos = self.sum_nanos.saturating_add(other.sum_nanos);
        self.max_nanos = self.max_nanos.max(other.max_nanos);
    }

    /// Cumulative counts at the [`PROMETHEUS_BOUNDS_SECONDS`] boundaries, then `+Inf`
    /// (`f64::INFINITY`) with the total: what a Prometheus histogram's `_bucket{le=…}` series
    /// needs. A fine bucket that straddles a boundary is attributed by its midpoint, so a count
    /// can be off only by observations within ±3.2 % of that boundary.
    pub fn buckets(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let mut index = 0usize;
        let mut cumulative = 0u64;
        PROMETHEUS_BOUNDS_SECONDS
            .iter()
            .copied()
            .map(move |le| {
                let le_nanos = le * 1e9;
                while index < self.counts.len() && bucket_mid(index) <= le_nanos {
                    cumulative += self.counts[index];
                    index += 1;
                }
                (le, cumulative)
            })
            .chain(std::iter::once((f64::INFINITY, self.count())))
    }

    /// Total of all observations in seconds, for a Prometheus histogram's `_sum`.
    pub fn sum_seconds(&self) -> f64 {
        self.sum_nanos as f64 / 1e9
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::testing::Rng;

    fn exact_percentile(sorted: &[u64], p: f64) -> u64 {
        let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
        sorted[rank - 1]
    }

    #[test]
    fn layout_is_contiguous_and_covers_a_minute() {
        assert_eq!(BUCKETS, 528);
        let mut expected_low = 0u64;
        for index in 0..BUCKETS {
            let (low, width) = bucket_range(index);
            assert_eq!(low, expected_low, "bucket {index} starts where the previous ended");
            assert!(width as f64 <= (low.max(1) as f64) / 16.0 || low < LINEAR_LIMIT);
            assert_eq!(bucket_index(low), index);
            assert_eq!(bucket_index(low + width - 1), index);
            expected_low = low + width;
        }
        assert!(expected_low as f64 / 1e9 > 60.0, "covers at least 60 s");
        assert_eq!(bucket_index(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn midpoint_error_is_within_bound_from_one_microsecond_up() {
        for nanos in (1_000u64..100_000).chain((1..2000).map(|i| i * 29_999_977)) {
            let mid = bucket_mid(bucket_index(nanos));
            let error = (mid - nanos as f64).abs() / nanos as f64;
            assert!(error <= 1.0 / 32.0 + 1e-9, "{nanos} ns → {mid} ({error})");
        }
    }

    #[test]
    fn percentiles_match_exact_values_on_random_data() {
        let mut rng = Rng::new(42);
        // Log-uniform from 1 µs to 60 s: every range of the layout gets exercised.
        let (low, high) = (1_000f64.ln(), 60e9f64.ln());
        let mut values: Vec<u64> = (0..200_000)
            .map(|_| (low + rng.unit() * (high - low)).exp() as u64)
            .collect();
        let histogram = LatencyHistogram::new();
        for &v in &values {
            histogram.record(Duration::from_nanos(v));
        }
        values.sort_unstable();
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.count(), values.len() as u64);
        for p in [0.0, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0] {
            let exact = exact_percentile(&values, p) as f64 / 1e6;
            let estimate = snapshot.percentile_ms(p);
            let error = (estimate - exact).abs() / exact;
            assert!(
                error <= 0.05,
                "p{p}: exact {exact} ms, estimate {estimate} ms, error {error}"
            );
        }
        let exact_sum: u64 = values.iter().sum();
        assert!((snapshot.sum_ms() - exact_sum as f64 / 1e6).abs() < 1e-3);
        assert_eq!(snapshot.max_ms(), *values.last().unwrap_or(&0) as f64 / 1e6);
        assert!(snapshot.percentile_ms(100.0) <= snapshot.max_ms());
    }

    #[test]
    fn percentiles_on_a_narrow_realistic_distribution() {
        // Millisecond-scale query latencies: 0.5 ms … 20 ms, skewed.
        let mut rng = Rng::new(7);
        let mut values: Vec<u64> = (0..50_000)
            .map(|_| (500_000.0 + 19_500_000.0 * rng.unit().powi(4)) as u64)
            .collect();
        let histogram = LatencyHistogram::new();
        values.iter().for_each(|&v| histogram.record(Duration::from_nanos(v)));
        values.sort_unstable();
        let snapshot = histogram.snapshot();
        for p in [50.0, 95.0, 99.0] {
            let exact = exact_percentile(&values, p) as f64 / 1e6;
            let error = (snapshot.percentile_ms(p) - exact).abs() / exact;
            assert!(error <= 0.05, "p{p}: {error}");
        }
        let exact_mean = values.iter().sum::<u64>() as f64 / values.len() as f64 / 1e6;
        assert!((snapshot.mean_ms() - exact_mean).abs() < 1e-9);
    }

    #[test]
    fn empty_snapshot_reports_zeros() {
        let snapshot = LatencyHistogram::new().snapshot();
        assert_eq!(snapshot.count(), 0);
        assert_eq!(snapshot.mean_ms(), 0.0);
        assert_eq!(snapshot.percentile_ms(99.0), 0.0);
        assert_eq!(snapshot.max_ms(), 0.0);
        assert_eq!(snapshot, HistogramSnapshot::empty());
    }

    #[test]
    fn single_value_percentiles_are_capped_at_max() {
        let histogram = LatencyHistogram::new();
        histogram.record(Duration::from_micros(1500));
        let snapshot = histogram.snapshot();
        for p in [0.0, 50.0, 100.0] {
            let value = snapshot.percentile_ms(p);
            assert!((1.5 * (1.0 - 1.0 / 32.0)..=1.5).contains(&value), "{value}");
        }
    }

    #[test]
    fn very_long_durations_land_in_the_last_bucket_with_exact_max() {
        let histogram = LatencyHistogram::new();
        histogram.record(Duration::from_secs(600));
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.count(), 1);
        assert_eq!(snapshot.max_ms(), 600_000.0);
        assert_eq!(snapshot.sum_ms(), 600_000.0);
        assert_eq!(snapshot.buckets().last(), Some((f64::INFINITY, 1)));
        assert_eq!(
            snapshot.buckets().nth(PROMETHEUS_BOUNDS_SECONDS.len() - 1),
            Some((60.0, 0))
        );
    }

    #[test]
    fn delta_gives_interval_figures() {
        let histogram = LatencyHistogram::new();
        for ms in [1, 2, 3, 500] {
            histogram.record(Duration::from_millis(ms));
        }
        let earlier = histogram.snapshot();
        for ms in [10, 20, 30] {
            histogram.record(Duration::from_millis(ms));
        }
        let now = histogram.snapshot();
        let interval = now.delta(&earlier);
        assert_eq!(interval.count(), 3);
        assert!((interval.sum_ms() - 60.0).abs() < 1e-9);
        assert!((interval.mean_ms() - 20.0).abs() < 1e-9);
        // Max of the interval: the top of the 30 ms bucket, not the all-time 500 ms.
        assert!(
            interval.max_ms() >= 30.0 && interval.max_ms() <= 30.0 * 1.0625,
            "{}",
            interval.max_ms()
        );
        let median = interval.percentile_ms(50.0);
        assert!((median - 20.0).abs() / 20.0 <= 0.032, "{median}");
        // Nothing new: an empty interval.
        let empty = now.delta(&now);
        assert_eq!(empty.count(), 0);
        assert_eq!(empty.max_ms(), 0.0);
        // Reversed arguments saturate instead of wrapping.
        assert_eq!(earlier.delta(&now).count(), 0);
    }

    #[test]
    fn merge_adds_counts_and_keeps_the_larger_max() {
        let a = LatencyHistogram::new();
        let b = LatencyHistogram::new();
        a.record(Duration::from_millis(10));
        b.record(Duration::from_millis(30));
        b.record(Duration::from_millis(50));
        let mut merged = HistogramSnapshot::empty();
        merged.merge(&a.snapshot());
        merged.merge(&b.snapshot());
        assert_eq!(merged.count(), 3);
        assert!((merged.mean_ms() - 30.0).abs() < 1e-9);
        assert_eq!(merged.max_ms(), 50.0);
    }

    #[test]
    fn prometheus_buckets_are_cumulative_and_end_with_the_total() {
        let histogram = LatencyHistogram::new();
        // 0.2 ms, 3 ms, 80 ms, 3 s.
        for micros in [200, 3_000, 80_000, 3_000_000] {
            histogram.record(Duration::from_micros(micros));
        }
        let snapshot = histogram.snapshot();
        let buckets: Vec<(f64, u64)> = snapshot.buckets().collect();
        assert_eq!(buckets.len(), PROMETHEUS_BOUNDS_SECONDS.len() + 1);
        assert!(buckets.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
        let at = |le: f64| buckets.iter().find(|(b, _)| *b == le).map(|(_, c)| *c);
        assert_eq!(at(0.0001), Some(0));
        assert_eq!(at(0.00025), Some(1));
        assert_eq!(at(0.0025), Some(1));
        assert_eq!(at(0.005), Some(2));
        assert_eq!(at(0.075), Some(2));
        assert_eq!(at(0.1), Some(3));
        assert_eq!(at(2.5), Some(3));
        assert_eq!(at(10.0), Some(4));
        assert_eq!(at(f64::INFINITY), Some(4));
        assert!((snapshot.sum_seconds() - 3.0832).abs() < 1e-9);
    }

    #[test]
    fn concurrent_recording_loses_nothing() {
        let histogram = std::sync::Arc::new(LatencyHistogram::new());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let histogram = histogram.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000u64 {
                        histogram.record(Duration::from_micros(1 + (i * 7 + t) % 5000));
                    }
                })
            })
            .collect();
        for thread in threads {
            assert!(thread.join().is_ok());
        }
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.count(), 40_000);
    }

    #[test]
    fn reset_clears_everything() {
        let histogram = LatencyHistogram::new();
        histogram.record(Duration::from_millis(5));
        histogram.reset();
        assert_eq!(histogram.snapshot(), HistogramSnapshot::empty());
    }
}
