//! The server's measurements of itself: query recording, pool statistics and leak detection,
//! the adaptive concurrency limit, memory tracking, alerts and recommendations.
//!
//! Everything here is pure Rust with no database and no GraphQL: the server wires it into the
//! query path, the pool gate, the sampler that persists snapshots, Query.metrics and
//! Prometheus. Live state updates with relaxed atomics on the hot paths; readers take
//! snapshots (plain data), which can be diffed into interval figures and fed to
//! [`alerts::evaluate`] and [`recommendations::recommend`].

pub mod alerts;
pub mod histogram;
pub mod limiter;
pub mod memory;
mod names;
pub mod pool;
pub mod prometheus;
pub mod queries;
pub mod recommendations;
pub mod requests;
pub mod sampler;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

pub use alerts::{Alert, AlertInputs, AlertThresholds, Severity, evaluate};
pub use histogram::{HistogramSnapshot, LatencyHistogram};
pub use limiter::{
    AdaptiveGate, AdaptiveLimit, ChangeCause, GateClosed, GatePermit, LimitChange, LimiterConfig, LimiterSnapshot,
    WindowSummary,
};
pub use memory::{
    GrowthFigure, MemoryReading, MemorySnapshot, MemoryTracker, MemoryTrackerConfig, parse_proc_status, read_memory,
};
pub use pool::{DEFAULT_LEAK_BOUND, HeldConnection, LongHeld, PoolSnapshot, PoolStats};
pub use queries::{QueryRecorder, QueryTypeSnapshot, RecordOutcome, delta_all, merged_latency};
pub use recommendations::{LimiterFigures, PoolFigures, QueryFigures, Recommendation, RecommendationInputs, recommend};
pub use requests::{RequestSnapshot, RequestStats};

/// Everything [`Metrics::new`] needs; the settings module fills it from `Settings`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsConfig {
    /// ENABLE_QUERY_MONITORING.
    pub query_monitoring: bool,
    /// ENABLE_CONNECTION_MONITORING.
    pub connection_monitoring: bool,
    /// PERFORMANCE_LOG_THRESHOLD_MS.
    pub slow_query_threshold: Duration,
    /// DB_MAX_OPEN_CONNS: the utilization denominator and the limiter's ceiling.
    pub pool_max: u32,
    /// A connection held longer than this is a leak (default 30 s).
    pub leak_bound: Duration,
    /// The adaptive concurrency limit (on by default).
    pub limiter: LimiterConfig,
    /// Memory sampling cadence and retention.
    pub memory: MemoryTrackerConfig,
    /// Alert thresholds.
    pub alerts: AlertThresholds,
}

impl MetricsConfig {
    /// The original system's defaults for a pool of `pool_max` connections.
    pub fn for_pool(pool_max: u32) -> Self {
        Self {
            query_monitoring: true,
            connection_monitoring: true,
            slow_query_threshold: Duration::from_millis(100),
            pool_max,
            leak_bound: DEFAULT_LEAK_BOUND,
            limiter: LimiterConfig::for_pool(pool_max, true),
            memory: MemoryTrackerConfig::default(),
            alerts: AlertThresholds::default(),
        }
    }
}

impl Default for MetricsConfig {
    /// Defaults for the original's default pool of 100.
    fn default() -> Self {
        Self::for_pool(100)
    }
}

struct MetricsInner {
    config: MetricsConfig,
    queries: QueryRecorder,
    pool: PoolStats,
    memory: MemoryTracker,
    limiter: AdaptiveGate,
    requests: RequestStats,
    started_at: DateTime<Utc>,
    started: Instant,
}

/// All of the server's live measurements; cheap to clone (one `Arc`), so it lives in the
/// application state and is handed to whatever records or reads.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<MetricsInner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("started_at", &self.inner.started_at)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(MetricsConfig::default())
    }
}

impl Metrics {
    /// Fresh measurements; the start time is now.
    pub fn new(config: MetricsConfig) -> Self {
        let limiter = AdaptiveGate::new(LimiterConfig {
            max: config.pool_max,
            ..config.limiter.clone()
        });
        Self {
            inner: Arc::new(MetricsInner {
                queries: QueryRecorder::new(config.query_monitoring, config.slow_query_threshold),
                pool: PoolStats::new(config.pool_max, config.connection_monitoring, config.leak_bound),
                memory: MemoryTracker::new(config.memory),
                limiter,
                requests: RequestStats::default(),
                started_at: Utc::now(),
                started: Instant::now(),
                config,
            }),
        }
    }

    /// The configuration the metrics were built with.
    pub fn config(&self) -> &MetricsConfig {
        &self.inner.config
    }

    /// Per-query-type recording.
    pub fn queries(&self) -> &QueryRecorder {
        &self.inner.queries
    }

    /// Pool statistics kept at the gate, and leak detection.
    pub fn pool(&self) -> &PoolStats {
        &self.inner.pool
    }

    /// Memory samples and growth.
    pub fn memory(&self) -> &MemoryTracker {
        &self.inner.memory
    }

    /// The gate in front of the pool and its (optionally adaptive) limit.
    pub fn limiter(&self) -> &AdaptiveGate {
        &self.inner.limiter
    }

    /// HTTP requests served.
    pub fn requests(&self) -> &RequestStats {
        &self.inner.requests
    }

    /// Alert thresholds in force.
    pub fn alert_thresholds(&self) -> &AlertThresholds {
        &self.inner.config.alerts
    }

    /// Wall-clock start time (for `startedAt`).
    pub fn started_at(&self) -> DateTime<Utc> {
        self.inner.started_at
    }

    /// Monotonic start time, to turn `Instant`s (limit changes) into offsets from start.
    pub fn started_instant(&self) -> Instant {
        self.inner.started
    }

    /// Time since start (for `uptimeSeconds`); monotonic, unaffected by clock changes.
    pub fn uptime(&self) -> Duration {
        self.inner.started.elapsed()
    }

    /// Wall-clock time of a monotonic `instant` (e.g. [`LimitChange::at`]), via the start time.
    pub fn wall_time(&self, instant: Instant) -> DateTime<Utc> {
        let offset = instant.saturating_duration_since(self.inner.started);
        let offset = chrono::Duration::from_std(offset).unwrap_or(chrono::TimeDelta::MAX);
        self.inner
            .started_at
            .checked_add_signed(offset)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

#[cfg(test)]
pub(crate) mod testing {
    /// SplitMix64: a tiny deterministic generator so tests need no `rand` dependency.
    pub(crate) struct Rng(u64);

    impl Rng {
        pub(crate) fn new(seed: u64) -> Self {
            Self(seed)
        }

        pub(crate) fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// Uniform in [0, 1).
        pub(crate) fn unit(&mut self) -> f64 {
            (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_ties_the_parts_together_and_clones_share_state() {
        let config = MetricsConfig {
            slow_query_threshold: Duration::ZERO,
            ..MetricsConfig::for_pool(8)
        };
        let metrics = Metrics::new(config);
        let clone = metrics.clone();
        assert!(
            clone
                .queries()
                .record("node.load", Duration::from_millis(1), 1, true)
                .slow
        );
        let held = clone.pool().acquired("node.load");
        assert_eq!(metrics.queries().snapshot()[0].count(), 1);
        assert_eq!(metrics.pool().snapshot(1, 0).in_use, 1);
        drop(held);
        assert_eq!(metrics.limiter().current(), 8, "limiter ceiling is the pool max");
        assert!(
            metrics.limiter().snapshot().enabled,
            "the adaptive limit is on by default"
        );
        assert_eq!(metrics.alert_thresholds(), &AlertThresholds::default());
        assert!(metrics.uptime() < Duration::from_secs(60));
        let later = metrics.started_instant() + Duration::from_secs(90);
        assert_eq!(
            metrics.wall_time(later) - metrics.started_at(),
            chrono::Duration::seconds(90)
        );
    }

    #[test]
    fn monitoring_switches_reach_the_parts() {
        let metrics = Metrics::new(MetricsConfig {
            query_monitoring: false,
            connection_monitoring: false,
            ..MetricsConfig::default()
        });
        metrics.queries().record("a", Duration::from_millis(1), 1, true);
        drop(metrics.pool().acquired("a"));
        assert!(metrics.queries().snapshot().is_empty());
        assert_eq!(metrics.pool().snapshot(0, 0).acquisitions, 0);
    }

    #[test]
    fn end_to_end_figures_feed_alerts_and_recommendations() {
        let metrics = Metrics::new(MetricsConfig::for_pool(4));
        let earlier = metrics.queries().snapshot();
        for _ in 0..10 {
            metrics
                .queries()
                .record("generated_domains.page", Duration::from_millis(150), 50, true);
        }
        let interval = delta_all(&metrics.queries().snapshot(), &earlier);
        let pool = metrics.pool().snapshot(4, 0);
        let alerts = evaluate(
            metrics.alert_thresholds(),
            &AlertInputs::from_figures(&interval, Some(&pool), None),
        );
        let slow = alerts
            .iter()
            .find(|a| a.code == alerts::SLOW_QUERIES)
            .map(|a| (a.firing, a.value));
        assert_eq!(slow, Some((true, Some(150.0))));
        let inputs = RecommendationInputs {
            observed_for: metrics.uptime(),
            pool: Some(PoolFigures::from(&pool)),
            queries: interval.iter().map(QueryFigures::from).collect(),
            slow_threshold_ms: 100.0,
            memory_growth_threshold_percent: 10.0,
            limiter: Some(LimiterFigures::from(&metrics.limiter().snapshot())),
            ..RecommendationInputs::default()
        };
        let recommendations = recommend(&inputs);
        assert_eq!(recommendations.len(), 1);
        assert_eq!(recommendations[0].code, recommendations::SLOW_QUERY_TYPE);
        assert!(recommendations[0].evidence.starts_with("generated_domains.page: p95 1"));
    }
}
