//! `Query.metrics`: the server's health as the API reports it — connection pool, per query
//! type latency, memory, the adaptive limit, alerts with the values that decided them,
//! recommendations with their evidence, and the persisted history as Relay connections.

use std::time::Instant;

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use crate::error::ApiResult;
use crate::metrics::{
    Alert, AlertInputs, LimiterSnapshot, MemorySnapshot, Metrics, PoolSnapshot, QueryTypeSnapshot, Recommendation,
    RecommendationInputs, evaluate, recommend,
};

use super::ApiContext;

/// What `Query.metrics` reads besides the live recorders.
#[derive(Clone, Default)]
pub struct MonitorContext {
    /// PostgreSQL's usable `max_connections` (max minus reserved), read at start-up.
    /// Set once the database has answered (the server may start without it).
    pub server_max_connections: std::sync::Arc<std::sync::OnceLock<u32>>,
    /// The sampler's last completed interval, when the sampler runs.
    pub latest_interval: Option<crate::metrics::sampler::LatestInterval>,
}

impl MonitorContext {
    /// The query figures alerts judge: the sampler's last completed interval (recent
    /// behaviour) when there is one, otherwise `since_start`; plus the interval's end and length.
    pub fn judged_queries(
        &self,
        since_start: &[QueryTypeSnapshot],
    ) -> (Vec<QueryTypeSnapshot>, Option<(DateTime<Utc>, f64)>) {
        match self.latest_interval.as_ref().and_then(|l| l.get()) {
            Some(figures) => (figures.queries, Some((figures.at, figures.over.as_secs_f64()))),
            None => (since_start.to_vec(), None),
        }
    }

    /// Every alert, judged as `Query.metrics` and `/metrics` both report it.
    pub fn alerts(&self, metrics: &Metrics, pool: &PoolSnapshot, memory: &MemorySnapshot) -> Vec<Alert> {
        let (queries, _) = self.judged_queries(&metrics.queries().snapshot());
        evaluate(
            metrics.alert_thresholds(),
            &AlertInputs::from_figures(&queries, Some(pool), memory.growth.as_ref()),
        )
    }
}

/// Root field of the metrics; it needs the `metrics` scope.
#[derive(Default)]
pub struct MetricsQuery;

#[Object(guard = "super::access::RequireScope(crate::auth::Scope::Metrics)")]
impl MetricsQuery {
    /// The server's health: pool, queries, memory, alerts, recommendations, history.
    async fn metrics(&self, ctx: &Context<'_>) -> ApiResult<MetricsReport> {
        let api = ApiContext::get(ctx)?;
        Ok(MetricsReport::capture(&api.db, &api.observer, &api.monitor))
    }
}

/// A consistent snapshot of every figure, taken when `metrics` is resolved.
pub struct MetricsReport {
    metrics: Metrics,
    pool: PoolSnapshot,
    queries: Vec<QueryTypeSnapshot>,
    memory: MemorySnapshot,
    limiter: LimiterSnapshot,
    alerts: Vec<Alert>,
    recommendations: Vec<Recommendation>,
    interval: Option<(DateTime<Utc>, f64)>,
    slow: Vec<crate::db::observe::SlowQuery>,
    requests: crate::metrics::RequestSnapshot,
    taken_at: DateTime<Utc>,
}

impl MetricsReport {
    /// Everything now. `db` is read for the pool's open and idle connections only.
    pub(super) fn capture(db: &DatabaseConnection, observer: &crate::db::Observer, monitor: &MonitorContext) -> Self {
        let metrics = observer.metrics();
        let (open, idle) = crate::db::pool_open_idle(db);
        let pool = metrics.pool().snapshot(open, idle);
        let queries = metrics.queries().snapshot();
        let thresholds = *metrics.alert_thresholds();
        let memory = metrics
            .memory()
            .snapshot(thresholds.memory_growth_window, Instant::now());
        let limiter = metrics.limiter().snapshot();
        // Alerts judge the last completed sampling interval when there is one (recent
        // behaviour), otherwise everything since start.
        let (interval_queries, interval) = monitor.judged_queries(&queries);
        let alerts = evaluate(
            &thresholds,
            &AlertInputs::from_figures(&interval_queries, Some(&pool), memory.growth.as_ref()),
        );
        let recommendations = recommend(&RecommendationInputs {
            observed_for: metrics.uptime(),
            pool: Some((&pool).into()),
            server_max_connections: monitor.server_max_connections.get().copied(),
            replicas: None,
            queries: interval_queries.iter().map(Into::into).collect(),
            slow_threshold_ms: metrics.queries().slow_threshold().as_secs_f64() * 1000.0,
            memory_growth: memory.growth,
            memory_growth_threshold_percent: thresholds.memory_growth_percent,
            limiter: Some((&limiter).into()),
        });
        Self {
            metrics: metrics.clone(),
            pool,
            queries,
            memory,
            limiter,
            alerts,
            recommendations,
            interval,
            slow: observer.recent_slow(),
            requests: metrics.requests().snapshot(),
            taken_at: Utc::now(),
        }
    }
}

/// Connection-pool figures. "In use" counts connections held through the server's gate.
#[derive(SimpleObject)]
pub struct PoolMetrics {
    /// Whether connection monitoring is on (ENABLE_CONNECTION_MONITORING).
    pub enabled: bool,
    /// DB_MAX_OPEN_CONNS.
    pub configured_max: u32,
    /// Connections the pool has open.
    pub open: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// Connections in use right now.
    pub in_use: u32,
    /// Most connections in use at once since start.
    pub peak_in_use: u32,
    /// inUse / configuredMax × 100.
    pub utilization_percent: f64,
    /// Connections handed out since start.
    pub acquisitions: u64,
    /// Acquisitions that had to wait for a connection.
    pub waits: u64,
    /// Total time spent waiting, in milliseconds.
    pub wait_total_ms: f64,
    /// Longest wait, in milliseconds.
    pub wait_max_ms: f64,
    /// Acquisitions that gave up after DB_ACQUIRE_TIMEOUT_SECONDS.
    pub acquire_timeouts: u64,
    /// Failed connections (database unreachable).
    pub connection_errors: u64,
    /// Connections held longer than DB_CONN_LEAK_THRESHOLD_SECONDS, counted once each.
    pub leaks_detected: u64,
    /// Connections held longer than the bound right now, with what holds them.
    pub long_held: Vec<HeldConnectionMetrics>,
    /// The adaptive concurrency limit (DB_ADAPTIVE_LIMIT).
    pub adaptive_limit: AdaptiveLimitMetrics,
}

/// A connection held for a long time.
#[derive(SimpleObject)]
pub struct HeldConnectionMetrics {
    /// The query type or operation holding it.
    pub operation: String,
    /// How long it has been held, in seconds.
    pub held_seconds: f64,
}

/// The limit on concurrent database work inside DB_MAX_OPEN_CONNS: how many queries the
/// gate lets run at once, the rest waiting their turn (README, "Metrics and monitoring").
#[derive(SimpleObject)]
pub struct AdaptiveLimitMetrics {
    /// Whether the limit adapts (DB_ADAPTIVE_LIMIT, default on; otherwise it stays at the
    /// maximum).
    pub enabled: bool,
    /// The limit now.
    pub current: u32,
    /// Lowest it may go.
    pub min: u32,
    /// Highest it may go (DB_MAX_OPEN_CONNS).
    pub max: u32,
    /// The no-load latency the rule compares against (median of the last probe, or of a
    /// quicker window), in milliseconds.
    pub baseline_ms: Option<f64>,
    /// Median query latency of the last decision window, in milliseconds.
    pub latency_ms: Option<f64>,
    /// Queries estimated to be queued inside the database in the last decision window:
    /// current × (1 − baselineMs / latencyMs).
    pub queue_estimate: Option<f64>,
    /// Times it was raised.
    pub raises: u64,
    /// Times it was lowered.
    pub lowers: u64,
    /// Times the no-load latency was measured by running queries one at a time.
    pub probes: u64,
    /// Whether such a probe runs right now.
    pub probing: bool,
    /// The last change: why the limit is what it is (null until it first moves).
    pub last_change: Option<LimitChangeMetrics>,
    /// The most recent changes, newest last, with the reason for each.
    pub recent_changes: Vec<LimitChangeMetrics>,
}

/// One change of the adaptive limit.
#[derive(SimpleObject)]
pub struct LimitChangeMetrics {
    pub from: u32,
    pub to: u32,
    /// Why, as a stable code: `latency_flat` (raised: work waited while the database showed
    /// no queue) or `queue_building` (lowered: queries queued inside the database).
    pub cause: String,
    /// Why, with the figures that decided it.
    pub reason: String,
    pub at: DateTime<Utc>,
}

impl LimitChangeMetrics {
    fn new(metrics: &Metrics, change: &crate::metrics::LimitChange) -> Self {
        Self {
            from: change.from,
            to: change.to,
            cause: change.cause.as_str().to_owned(),
            reason: change.reason.clone(),
            at: metrics.wall_time(change.at),
        }
    }
}

/// Figures of one query type since start.
#[derive(SimpleObject)]
pub struct QueryTypeMetrics {
    /// E.g. `generated_domains.page`, `dns_validation_results.find`, `campaigns.load`.
    pub query_type: String,
    pub count: u64,
    pub errors: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Queries slower than PERFORMANCE_LOG_THRESHOLD_MS.
    pub slow_count: u64,
    /// Rows returned in all.
    pub rows: u64,
}

/// Memory of the server process.
#[derive(SimpleObject)]
pub struct MemoryMetrics {
    /// Resident set size now, in bytes (null where /proc is unavailable).
    pub rss_bytes: Option<u64>,
    /// Highest RSS since start, in bytes.
    pub peak_rss_bytes: Option<u64>,
    /// RSS growth in percent against a sample at least `growthWindowSeconds` old; null until
    /// the process has run that long.
    pub growth_percent: Option<f64>,
    /// The growth window, in seconds.
    pub growth_window_seconds: f64,
    /// Recent readings, oldest first: one kept per sampling interval (at most a minute apart)
    /// over the last two hours, then the sampler's latest, then this report's own (`rssBytes`).
    /// Held in memory, so they start anew with the process.
    pub samples: Vec<MemorySampleMetrics>,
}

/// One reading of the resident set.
#[derive(SimpleObject)]
pub struct MemorySampleMetrics {
    pub at: DateTime<Utc>,
    pub rss_bytes: u64,
}

/// HTTP requests answered by this process since it started (every endpoint). Throughput is
/// the difference of two readings over the time between them.
#[derive(SimpleObject)]
pub struct RequestMetrics {
    /// Requests answered.
    pub total: u64,
    /// Of those, answered with an HTTP status of 400 or more.
    pub errors: u64,
    /// Requests received and not answered yet (this one included).
    pub in_flight: u64,
    /// GraphQL requests answered by a compiled page plan rather than the general executor
    /// (`GRAPHQL_COMPILED_PAGES`): pages of a campaign's rows with plain fields.
    pub compiled: u64,
    /// Automatic Persisted Queries (`GRAPHQL_APQ_CACHE_SIZE`): requests sent as a hash alone
    /// and answered from the kept text.
    pub persisted_hits: u64,
    /// Requests sent as a hash alone whose text was not kept (the client sends it next).
    pub persisted_misses: u64,
    /// Query texts registered under their hash.
    pub persisted_registered: u64,
}

/// One entry of the slow-query log (queries slower than PERFORMANCE_LOG_THRESHOLD_MS).
#[derive(SimpleObject)]
pub struct SlowQueryMetrics {
    pub query_type: String,
    pub duration_ms: f64,
    pub rows: u64,
    /// False when the query failed.
    pub ok: bool,
    /// The SQL with placeholders; parameter values are never shown.
    pub sql: String,
    pub at: DateTime<Utc>,
}

/// One alert, always listed, firing or not.
#[derive(SimpleObject)]
pub struct AlertMetrics {
    /// Stable code, e.g. `slow_queries`.
    pub code: String,
    /// The original system's name, e.g. "Slow Database Queries".
    pub name: String,
    /// `warning` or `critical`.
    pub severity: String,
    pub firing: bool,
    /// The measured value that decided it (null when not measurable yet).
    pub value: Option<f64>,
    pub threshold: f64,
    pub message: String,
}

/// Something to change, with the measurements behind it.
#[derive(SimpleObject)]
pub struct RecommendationMetrics {
    pub code: String,
    pub message: String,
    /// The figures that led to it.
    pub evidence: String,
    /// The setting to change, if any.
    pub setting: Option<String>,
}

#[Object]
impl MetricsReport {
    /// When the server started.
    async fn started_at(&self) -> DateTime<Utc> {
        self.metrics.started_at()
    }

    /// Seconds since the server started.
    async fn uptime_seconds(&self) -> f64 {
        self.metrics.uptime().as_secs_f64()
    }

    /// End of the last completed sampling interval the alerts judged (null before the first).
    async fn interval_end(&self) -> Option<DateTime<Utc>> {
        self.interval.map(|(at, _)| at)
    }

    /// The persisted history (sampler rows), as connections.
    async fn history(&self) -> super::metrics_history::MetricsHistory {
        super::metrics_history::MetricsHistory
    }

    /// Connection pool.
    async fn pool(&self) -> PoolMetrics {
        let p = &self.pool;
        let l = &self.limiter;
        PoolMetrics {
            enabled: p.enabled,
            configured_max: p.configured_max,
            open: p.open,
            idle: p.idle,
            in_use: p.in_use,
            peak_in_use: p.peak_in_use,
            utilization_percent: p.utilization_percent,
            acquisitions: p.acquisitions,
            waits: p.waits(),
            wait_total_ms: p.wait_total_ms(),
            wait_max_ms: p.wait_max_ms(),
            acquire_timeouts: p.acquire_timeouts,
            connection_errors: p.connection_errors,
            leaks_detected: p.leaks_detected,
            long_held: p
                .long_held
                .iter()
                .map(|h| HeldConnectionMetrics {
                    operation: h.operation.to_owned(),
                    held_seconds: h.held.as_secs_f64(),
                })
                .collect(),
            adaptive_limit: AdaptiveLimitMetrics {
                enabled: l.enabled,
                current: l.current,
                min: l.min,
                max: l.max,
                baseline_ms: l.baseline_ms,
                latency_ms: l.last_window.map(|w| w.latency.as_secs_f64() * 1000.0),
                queue_estimate: l.queue_estimate,
                raises: l.raises,
                lowers: l.lowers,
                probes: l.probes,
                probing: l.probing,
                last_change: l.last_change().map(|c| LimitChangeMetrics::new(&self.metrics, c)),
                recent_changes: l
                    .recent_changes
                    .iter()
                    .map(|c| LimitChangeMetrics::new(&self.metrics, c))
                    .collect(),
            },
        }
    }

    /// Per query type, since start, sorted by type.
    async fn queries(&self) -> Vec<QueryTypeMetrics> {
        self.queries
            .iter()
            .map(|q| QueryTypeMetrics {
                query_type: q.query_type.to_owned(),
                count: q.count(),
                errors: q.errors,
                mean_ms: q.latency.mean_ms(),
                p50_ms: q.latency.percentile_ms(50.0),
                p95_ms: q.latency.percentile_ms(95.0),
                p99_ms: q.latency.percentile_ms(99.0),
                max_ms: q.latency.max_ms(),
                slow_count: q.slow,
                rows: q.rows,
            })
            .collect()
    }

    /// The most recent slow queries (at most 50, newest last), as the slow-query log wrote them.
    async fn slow_queries(&self) -> Vec<SlowQueryMetrics> {
        self.slow
            .iter()
            .map(|q| SlowQueryMetrics {
                query_type: q.query_type.to_owned(),
                duration_ms: q.duration.as_secs_f64() * 1000.0,
                rows: q.rows,
                ok: q.ok,
                sql: q.sql.clone(),
                at: q.at,
            })
            .collect()
    }

    /// Memory.
    async fn memory(&self) -> MemoryMetrics {
        MemoryMetrics {
            rss_bytes: self.memory.rss_bytes,
            peak_rss_bytes: self.memory.peak_rss_bytes,
            growth_percent: self.memory.growth.as_ref().map(|g| g.percent),
            growth_window_seconds: self.memory.window.as_secs_f64(),
            samples: self
                .metrics
                .memory()
                .samples()
                .into_iter()
                .map(|sample| MemorySampleMetrics {
                    at: self.metrics.wall_time(sample.at),
                    rss_bytes: sample.rss_bytes,
                })
                // The reading of this report comes last.
                .chain(self.memory.rss_bytes.map(|rss_bytes| MemorySampleMetrics {
                    at: self.taken_at,
                    rss_bytes,
                }))
                .collect(),
        }
    }

    /// HTTP requests answered since start.
    async fn requests(&self) -> RequestMetrics {
        let r = self.requests;
        RequestMetrics {
            total: r.total,
            errors: r.errors,
            in_flight: r.in_flight,
            compiled: r.compiled,
            persisted_hits: r.persisted_hits,
            persisted_misses: r.persisted_misses,
            persisted_registered: r.persisted_registered,
        }
    }

    /// Every alert, firing or not, with the value that decided it.
    async fn alerts(&self) -> Vec<AlertMetrics> {
        self.alerts
            .iter()
            .map(|a| AlertMetrics {
                code: a.code.to_owned(),
                name: a.name.to_owned(),
                severity: a.severity.as_str().to_owned(),
                firing: a.firing,
                value: a.value,
                threshold: a.threshold,
                message: a.message.clone(),
            })
            .collect()
    }

    /// What to change, derived from the measurements, each with its evidence.
    async fn recommendations(&self) -> Vec<RecommendationMetrics> {
        self.recommendations
            .iter()
            .map(|r| RecommendationMetrics {
                code: r.code.to_owned(),
                message: r.message.clone(),
                evidence: r.evidence.clone(),
                setting: r.setting.map(str::to_owned),
            })
            .collect()
    }
}
