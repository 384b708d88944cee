//! Per-query-type statistics: count, errors, rows, slow count and a latency histogram.
//!
//! Hot path: [`QueryRecorder::record`] finds the type's stats in a lock-free [`NameTable`]
//! (hash + compare, no lock, no allocation once the type has been seen) and updates relaxed
//! atomics. A fixed enum of query types would save the hash but would tie this module to the
//! list of queries the API happens to make; the table keeps `metrics` independent of the
//! resolvers at a cost of a few nanoseconds. The first record of a new type allocates its
//! histogram once. If more than [`MAX_QUERY_TYPES`] distinct types ever appear (a bug: types
//! are code constants), the extra ones are counted under [`OVERFLOW_QUERY_TYPE`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::histogram::{HistogramSnapshot, LatencyHistogram};
use super::names::{DEFAULT_CAPACITY, NameTable};

/// Distinct query types the recorder tracks before folding the rest into the overflow type.
pub const MAX_QUERY_TYPES: usize = DEFAULT_CAPACITY;
/// Where records of types beyond [`MAX_QUERY_TYPES`] go, so nothing is silently dropped.
pub const OVERFLOW_QUERY_TYPE: &str = "other";

/// Live counters of one query type.
#[derive(Debug, Default)]
struct QueryStats {
    errors: AtomicU64,
    rows: AtomicU64,
    slow: AtomicU64,
    /// Every query, successful or not: a failed query held a connection for this long too.
    latency: LatencyHistogram,
}

impl QueryStats {
    #[inline]
    fn record(&self, duration: Duration, rows: u64, ok: bool, slow: bool) {
        self.latency.record(duration);
        if rows > 0 {
            self.rows.fetch_add(rows, Ordering::Relaxed);
        }
        if !ok {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        if slow {
            self.slow.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What the caller needs to know about the query it just recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordOutcome {
    /// The query exceeded the slow threshold: the caller writes the slow-query log line.
    /// Computed even while recording is disabled, because the slow-query log has its own
    /// switch (LOG_SLOW_QUERIES) independent of ENABLE_QUERY_MONITORING.
    pub slow: bool,
}

/// Records every database query by type; shared by all requests (cheap `&self` methods).
pub struct QueryRecorder {
    table: NameTable<QueryStats>,
    overflow: QueryStats,
    enabled: AtomicBool,
    slow_threshold_nanos: AtomicU64,
}

impl std::fmt::Debug for QueryRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryRecorder")
            .field("enabled", &self.enabled())
            .field("slow_threshold", &self.slow_threshold())
            .finish_non_exhaustive()
    }
}

impl QueryRecorder {
    /// A recorder; `enabled` is ENABLE_QUERY_MONITORING, `slow_threshold` is
    /// PERFORMANCE_LOG_THRESHOLD_MS.
    pub fn new(enabled: bool, slow_threshold: Duration) -> Self {
        Self {
            table: NameTable::with_capacity(MAX_QUERY_TYPES),
            overflow: QueryStats::default(),
            enabled: AtomicBool::new(enabled),
            slow_threshold_nanos: AtomicU64::new(u64::try_from(slow_threshold.as_nanos()).unwrap_or(u64::MAX)),
        }
    }

    /// Whether [`record`](Self::record) keeps statistics.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Turns recording on or off at run time; counters already kept are left as they are.
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Relaxed);
    }

    /// The current slow-query threshold.
    pub fn slow_threshold(&self) -> Duration {
        Duration::from_nanos(self.slow_threshold_nanos.load(Ordering::Relaxed))
    }

    /// Changes the slow-query threshold (e.g. a test sets 0 to make every query slow).
    pub fn set_slow_threshold(&self, threshold: Duration) {
        let nanos = u64::try_from(threshold.as_nanos()).unwrap_or(u64::MAX);
        self.slow_threshold_nanos.store(nanos, Ordering::Relaxed);
    }

    /// Whether `duration` counts as slow: longer than the threshold, or any query at all when
    /// the threshold is 0 ("log everything", even a query the clock measured as 0 ns).
    #[inline]
    pub fn is_slow(&self, duration: Duration) -> bool {
        let threshold = self.slow_threshold_nanos.load(Ordering::Relaxed);
        threshold == 0 || duration.as_nanos() > u128::from(threshold)
    }

    /// Records one query of `query_type` that took `duration`, returned `rows` rows and
    /// succeeded (`ok`) or failed. Lock-free and allocation-free once the type has been seen.
    #[inline]
    pub fn record(&self, query_type: &'static str, duration: Duration, rows: u64, ok: bool) -> RecordOutcome {
        let slow = self.is_slow(duration);
        if self.enabled() {
            self.stats(query_type).record(duration, rows, ok, slow);
        }
        RecordOutcome { slow }
    }

    fn stats(&self, query_type: &'static str) -> &QueryStats {
        match self.table.get_or_insert_with(query_type, QueryStats::default) {
            Some((_, stats)) => stats,
            None => &self.overflow,
        }
    }

    /// Figures of every query type seen so far (cumulative since start), sorted by type.
    pub fn snapshot(&self) -> Vec<QueryTypeSnapshot> {
        let overflow = (self.overflow.latency.snapshot().count() > 0).then_some((OVERFLOW_QUERY_TYPE, &self.overflow));
        let mut snapshots: Vec<QueryTypeSnapshot> = self
            .table
            .iter()
            .chain(overflow)
            .map(|(query_type, stats)| QueryTypeSnapshot {
                query_type,
                errors: stats.errors.load(Ordering::Relaxed),
                rows: stats.rows.load(Ordering::Relaxed),
                slow: stats.slow.load(Ordering::Relaxed),
                latency: stats.latency.snapshot(),
            })
            .collect();
        snapshots.sort_by(|a, b| a.query_type.cmp(b.query_type));
        snapshots
    }
}

/// One query type's figures: cumulative (from [`QueryRecorder::snapshot`]) or for an interval
/// (from [`QueryTypeSnapshot::delta`] / [`delta_all`]).
#[derive(Debug, Clone, PartialEq)]
pub struct QueryTypeSnapshot {
    /// The query type, e.g. "generated_domains.page".
    pub query_type: &'static str,
    /// Queries that failed.
    pub errors: u64,
    /// Rows returned in total.
    pub rows: u64,
    /// Queries over the slow threshold in force when each was recorded.
    pub slow: u64,
    /// Latency of every query (successful or not); its count is the query count.
    pub latency: HistogramSnapshot,
}

impl QueryTypeSnapshot {
    /// An all-zero snapshot of `query_type`.
    pub fn empty(query_type: &'static str) -> Self {
        Self {
            query_type,
            errors: 0,
            rows: 0,
            slow: 0,
            latency: HistogramSnapshot::empty(),
        }
    }

    /// Number of queries (successful and failed).
    pub fn count(&self) -> u64 {
        self.latency.count()
    }

    /// Interval figures: this snapshot minus an `earlier` one of the same type.
    pub fn delta(&self, earlier: &QueryTypeSnapshot) -> QueryTypeSnapshot {
        QueryTypeSnapshot {
            query_type: self.query_type,
            errors: self.errors.saturating_sub(earlier.errors),
            rows: self.rows.saturating_sub(earlier.rows),
            slow: self.slow.saturating_sub(earlier.slow),
            latency: self.latency.delta(&earlier.latency),
        }
    }
}

/// Interval figures of every type in `current` against `earlier` (both as returned by
/// [`QueryRecorder::snapshot`]); a type absent from `earlier` counts from zero. Types with no
/// query in the interval are kept (count 0) — the caller decides whether to persist them.
pub fn delta_all(current: &[QueryTypeSnapshot], earlier: &[QueryTypeSnapshot]) -> Vec<QueryTypeSnapshot> {
    current
        .iter()
        .map(|now| {
            match earlier
                .binary_search_by(|e| e.query_type.cmp(now.query_type))
                .ok()
                .and_then(|i| earlier.get(i))
            {
                Some(before) => now.delta(before),
                None => now.clone(),
            }
        })
        .collect()
}

/// One latency distribution across all query types (count-weighted), e.g. for the
/// "Slow Database Queries" alert's overall mean.
pub fn merged_latency(snapshots: &[QueryTypeSnapshot]) -> HistogramSnapshot {
    let mut merged = HistogramSnapshot::empty();
    for snapshot in snapshots {
        merged.merge(&snapshot.latency);
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "generated_domains.page";
    const COUNT: &str = "dns_results.count";
    const NODE: &str = "node.load";

    fn recorder() -> QueryRecorder {
        QueryRecorder::new(true, Duration::from_millis(100))
    }

    #[test]
    fn counts_are_exact_after_known_records() {
        let recorder = recorder();
        for i in 0..250u64 {
            recorder.record(PAGE, Duration::from_millis(2), 50, true);
            if i % 5 == 0 {
                recorder.record(COUNT, Duration::from_millis(1), 1, i % 10 != 0);
            }
        }
        recorder.record(NODE, Duration::from_millis(3), 0, false);
        let snapshot = recorder.snapshot();
        let types: Vec<&str> = snapshot.iter().map(|s| s.query_type).collect();
        assert_eq!(types, [COUNT, PAGE, NODE], "sorted by type");
        let page = &snapshot[1];
        assert_eq!((page.count(), page.rows, page.errors, page.slow), (250, 12_500, 0, 0));
        let count = &snapshot[0];
        assert_eq!((count.count(), count.rows, count.errors), (50, 50, 25));
        let node = &snapshot[2];
        assert_eq!((node.count(), node.rows, node.errors), (1, 0, 1));
        assert!((page.latency.mean_ms() - 2.0).abs() < 1e-9);
    }

    #[test]
    fn slow_flag_follows_the_threshold() {
        let recorder = recorder();
        assert!(
            !recorder.record(PAGE, Duration::from_millis(100), 1, true).slow,
            "not slower than 100 ms"
        );
        assert!(recorder.record(PAGE, Duration::from_micros(100_001), 1, true).slow);
        recorder.set_slow_threshold(Duration::ZERO);
        assert!(recorder.record(PAGE, Duration::from_nanos(1), 1, true).slow);
        assert!(
            recorder.record(PAGE, Duration::ZERO, 1, true).slow,
            "threshold 0 logs every query"
        );
        let page = &recorder.snapshot()[0];
        assert_eq!((page.count(), page.slow), (4, 3));
        assert_eq!(recorder.slow_threshold(), Duration::ZERO);
    }

    #[test]
    fn disabled_recorder_keeps_nothing_but_still_flags_slow_queries() {
        let recorder = QueryRecorder::new(false, Duration::from_millis(1));
        let outcome = recorder.record(PAGE, Duration::from_millis(5), 10, true);
        assert!(outcome.slow);
        assert!(recorder.snapshot().is_empty());
        recorder.set_enabled(true);
        recorder.record(PAGE, Duration::from_millis(5), 10, true);
        assert_eq!(recorder.snapshot()[0].count(), 1);
    }

    #[test]
    fn delta_all_gives_interval_figures_and_new_types() {
        let recorder = recorder();
        recorder.record(PAGE, Duration::from_millis(2), 10, true);
        let earlier = recorder.snapshot();
        recorder.record(PAGE, Duration::from_millis(4), 20, false);
        recorder.record(NODE, Duration::from_millis(200), 1, true);
        let interval = delta_all(&recorder.snapshot(), &earlier);
        assert_eq!(interval.len(), 2);
        assert_eq!(interval[0].query_type, PAGE);
        assert_eq!((interval[0].count(), interval[0].rows, interval[0].errors), (1, 20, 1));
        assert!((interval[0].latency.mean_ms() - 4.0).abs() < 1e-9);
        assert_eq!(interval[1].query_type, NODE);
        assert_eq!((interval[1].count(), interval[1].slow), (1, 1));
        let overall = merged_latency(&interval);
        assert_eq!(overall.count(), 2);
        assert!((overall.mean_ms() - 102.0).abs() < 1e-9);
    }

    #[test]
    fn types_beyond_capacity_fold_into_overflow() {
        let recorder = recorder();
        let names: Vec<&'static str> = (0..MAX_QUERY_TYPES + 5)
            .map(|i| &*format!("type.{i:03}").leak())
            .collect();
        for name in &names {
            recorder.record(name, Duration::from_millis(1), 1, true);
        }
        let snapshot = recorder.snapshot();
        assert_eq!(snapshot.len(), MAX_QUERY_TYPES + 1);
        let overflow = snapshot.iter().find(|s| s.query_type == OVERFLOW_QUERY_TYPE).unwrap();
        assert_eq!(overflow.count(), 5);
        assert_eq!(
            snapshot.iter().map(QueryTypeSnapshot::count).sum::<u64>(),
            names.len() as u64
        );
    }

    #[test]
    fn concurrent_records_are_all_counted() {
        let recorder = std::sync::Arc::new(recorder());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let recorder = recorder.clone();
                std::thread::spawn(move || {
                    for i in 0..5000u64 {
                        let query_type = [PAGE, COUNT, NODE][(i % 3) as usize];
                        recorder.record(query_type, Duration::from_micros(100 + i), 2, true);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let snapshot = recorder.snapshot();
        assert_eq!(snapshot.iter().map(QueryTypeSnapshot::count).sum::<u64>(), 20_000);
        assert_eq!(snapshot.iter().map(|s| s.rows).sum::<u64>(), 40_000);
    }
}
