//! The background sampler: every interval it turns the live, cumulative figures into interval
//! figures, persists them to `query_performance_metrics` (one row per query type that saw
//! activity) and `connection_pool_metrics` (one row per pool), publishes them as the
//! [`LatestInterval`] that alerts and `Query.metrics` read, samples memory, reports connection
//! leaks, and enforces retention in batches.
//!
//! It runs on its own task and its own connections, so it never blocks a request; a database
//! error is logged and the work is retried on the next tick, never fatal.
//!
//! Its own writes are deliberately *not* recorded as a query type: they go straight to the
//! `DatabaseConnection`, not through the recording path. Recording them (say as
//! `metrics.persist`) would give every interval activity, so "a row per active type" would
//! always include a row about the sampler itself, and the history would partly measure its own
//! measuring.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Query, SimpleExpr};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait, Value};

use super::{DEFAULT_LEAK_BOUND, LongHeld, Metrics, PoolSnapshot, QueryTypeSnapshot};
use crate::entity::Timestamp;

/// Rows deleted per retention statement: small enough that one statement holds SQLite's write
/// lock (or PostgreSQL's row locks) only briefly, so requests interleave with a big clean-up.
pub const RETENTION_BATCH: u64 = 1_000;

const QUERY_TABLE: &str = "query_performance_metrics";
const POOL_TABLE: &str = "connection_pool_metrics";

/// How often to sample, how long to keep rows, and what to call the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamplerConfig {
    /// Time between samples; also the granularity of the persisted history and of leak
    /// reports. Default 60 s.
    pub interval: Duration,
    /// Rows older than this are deleted. Default 7 days.
    pub retention: Duration,
    /// `pool_name` of the pool rows; "primary" (the only pool today).
    pub pool_name: String,
    /// A connection held longer than this is reported as a leak; [`Sampler::new`] applies it to
    /// the pool statistics so the log and the `leaks_detected` counter agree. Default 30 s.
    pub leak_bound: Duration,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(60),
            retention: Duration::from_secs(7 * 24 * 60 * 60),
            pool_name: "primary".to_owned(),
            leak_bound: DEFAULT_LEAK_BOUND,
        }
    }
}

/// The figures of one completed interval.
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalFigures {
    /// When the interval ended (the rows' `recorded_at`).
    pub at: DateTime<Utc>,
    /// The interval's length: since the previous successfully persisted sample, or since start
    /// for the first one.
    pub over: Duration,
    /// Interval figures of each query type that ran in the interval, sorted by type.
    pub queries: Vec<QueryTypeSnapshot>,
    /// Pool figures: counters over the interval, gauges (open, idle, in use, utilization) at
    /// its end; see [`PoolSnapshot::delta`].
    pub pool: PoolSnapshot,
}

/// The last completed interval, shared with readers (alerts, `Query.metrics`): they want "the
/// last minute", which cumulative-since-start figures cannot give. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct LatestInterval(Arc<RwLock<Option<IntervalFigures>>>);

impl LatestInterval {
    /// A copy of the last completed interval; `None` before the first sample.
    pub fn get(&self) -> Option<IntervalFigures> {
        // A poisoned lock only means a writer panicked mid-assignment of a whole value.
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn set(&self, figures: IntervalFigures) {
        *self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(figures);
    }
}

/// What one [`Sampler::sample_once`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleOutcome {
    /// Rows written to `query_performance_metrics` (one per active query type).
    pub query_rows: u64,
    /// Rows written to `connection_pool_metrics` (one).
    pub pool_rows: u64,
    /// Connections newly found held past the leak bound (also logged).
    pub leaks: Vec<LongHeld>,
}

/// The cumulative figures of the last persisted sample, to diff the next one against.
struct Previous {
    at: Instant,
    queries: Vec<QueryTypeSnapshot>,
    pool: PoolSnapshot,
}

/// Persists interval figures; see the module docs. Owned by its task once [`spawned`](Self::spawn).
pub struct Sampler {
    db: DatabaseConnection,
    metrics: Metrics,
    config: SamplerConfig,
    previous: Option<Previous>,
    latest: LatestInterval,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Sampler {
    /// A sampler whose first interval runs from the server's start (so activity before the
    /// sampler existed is not lost).
    pub fn new(db: DatabaseConnection, metrics: Metrics, config: SamplerConfig) -> Self {
        metrics.pool().set_leak_bound(config.leak_bound);
        Self {
            db,
            metrics,
            config,
            previous: None,
            latest: LatestInterval::default(),
        }
    }

    /// The handle readers use to see the last completed interval.
    pub fn latest(&self) -> LatestInterval {
        self.latest.clone()
    }

    /// Takes one sample: reports new leaks, samples memory, diffs the figures against the
    /// previous sample, publishes them as the latest interval and writes them (one multi-row
    /// INSERT per table, in one transaction so a failure leaves neither half behind).
    ///
    /// On a database error the previous snapshot is kept, so the next successful sample's rows
    /// cover the failed interval too (its `interval_seconds` says so) instead of losing it.
    pub async fn sample_once(&mut self) -> Result<SampleOutcome, DbErr> {
        let now = Instant::now();
        let at = Utc::now();

        // Independent of the database: done first so an outage cannot hide a leak.
        let leaks = self.metrics.pool().take_new_leaks();
        for leak in &leaks {
            tracing::warn!(
                operation = leak.operation,
                held_ms = leak.held.as_millis() as u64,
                bound_ms = self.metrics.pool().leak_bound().as_millis() as u64,
                "database connection held longer than the leak bound"
            );
        }
        self.metrics.memory().sample(now);

        let (open, idle) = crate::db::pool_open_idle(&self.db);
        let queries_now = self.metrics.queries().snapshot();
        let pool_now = self.metrics.pool().snapshot_at(open, idle, now);
        let (over, queries, pool) = match &self.previous {
            Some(previous) => (
                now.saturating_duration_since(previous.at),
                super::delta_all(&queries_now, &previous.queries),
                pool_now.delta(&previous.pool),
            ),
            None => (
                now.saturating_duration_since(self.metrics.started_instant()),
                queries_now.clone(),
                pool_now.clone(),
            ),
        };
        let queries: Vec<QueryTypeSnapshot> = queries.into_iter().filter(|q| q.count() > 0).collect();
        let figures = IntervalFigures {
            at,
            over,
            queries,
            pool,
        };
        self.latest.set(figures.clone());

        let (query_rows, pool_rows) = self.persist(&figures).await?;
        self.previous = Some(Previous {
            at: now,
            queries: queries_now,
            pool: pool_now,
        });
        tracing::debug!(query_rows, pool_rows, "metrics sample persisted");
        Ok(SampleOutcome {
            query_rows,
            pool_rows,
            leaks,
        })
    }

    async fn persist(&self, figures: &IntervalFigures) -> Result<(u64, u64), DbErr> {
        let backend = self.db.get_database_backend();
        let query_insert = query_rows_statement(backend, figures)?;
        let pool_insert = pool_row_statement(backend, figures, &self.config.pool_name)?;
        let txn = self.db.begin().await?;
        let query_rows = match query_insert {
            Some(statement) => txn.execute_raw(statement).await?.rows_affected(),
            None => 0,
        };
        let pool_rows = txn.execute_raw(pool_insert).await?.rows_affected();
        txn.commit().await?;
        Ok((query_rows, pool_rows))
    }

    /// Deletes rows older than the retention period from both tables, [`RETENTION_BATCH`] rows
    /// per statement (each its own short transaction), until none are left; returns how many.
    pub async fn enforce_retention(&self) -> Result<u64, DbErr> {
        let retention = chrono::Duration::from_std(self.config.retention).unwrap_or(chrono::TimeDelta::MAX);
        let cutoff = Utc::now()
            .checked_sub_signed(retention)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let backend = self.db.get_database_backend();
        let cutoff = Timestamp::from(cutoff).to_value(backend);
        let mut deleted = 0;
        for table in [QUERY_TABLE, POOL_TABLE] {
            // Oldest first, so an interrupted clean-up still leaves a contiguous history.
            let sql = format!(
                "DELETE FROM {table} WHERE id IN \
                 (SELECT id FROM {table} WHERE recorded_at < $1 ORDER BY recorded_at LIMIT {RETENTION_BATCH})"
            );
            loop {
                let statement = Statement::from_sql_and_values(backend, &sql, [cutoff.clone()]);
                let affected = self.db.execute_raw(statement).await?.rows_affected();
                deleted += affected;
                if affected < RETENTION_BATCH {
                    break;
                }
                // Let requests waiting on the database in between batches.
                tokio::task::yield_now().await;
            }
        }
        if deleted > 0 {
            tracing::info!(deleted, "metrics history older than the retention period deleted");
        }
        Ok(deleted)
    }

    /// Runs the sampler on its own task: every `interval` (missed ticks skipped, the first one
    /// an interval after start) it samples, then enforces retention. Errors are logged and
    /// retried on the next tick. Abort the handle to stop it.
    pub fn spawn(mut self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            // tokio panics on a zero period; a configured 0 means "as often as sensible".
            let period = self.config.interval.max(Duration::from_millis(10));
            let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                ticker.tick().await;
                if let Err(error) = self.sample_once().await {
                    tracing::warn!(%error, "metrics sampler could not persist a sample; retrying next interval");
                }
                if let Err(error) = self.enforce_retention().await {
                    tracing::warn!(%error, "metrics retention failed; retrying next interval");
                }
            }
        })
    }
}

/// Counters are BIGINT: a u64 beyond i64 (never reached in practice) saturates.
fn count(value: u64) -> SimpleExpr {
    Value::BigInt(Some(i64::try_from(value).unwrap_or(i64::MAX))).into()
}

fn real(value: f64) -> SimpleExpr {
    // NaN/inf cannot be stored portably; 0 is the columns' default "no figure".
    Value::Double(Some(if value.is_finite() { value } else { 0.0 })).into()
}

fn int(value: u32) -> SimpleExpr {
    Value::Int(Some(i32::try_from(value).unwrap_or(i32::MAX))).into()
}

fn insert_error(error: sea_orm::sea_query::error::Error) -> DbErr {
    DbErr::Custom(format!("building a metrics insert: {error}"))
}

/// One multi-row INSERT for the interval's query types; `None` when no type was active.
fn query_rows_statement(backend: DbBackend, figures: &IntervalFigures) -> Result<Option<Statement>, DbErr> {
    if figures.queries.is_empty() {
        return Ok(None);
    }
    let recorded_at: SimpleExpr = Timestamp::from(figures.at).to_value(backend).into();
    let mut insert = Query::insert();
    insert.into_table(Alias::new(QUERY_TABLE)).columns(
        [
            "query_type",
            "interval_seconds",
            "query_count",
            "error_count",
            "slow_count",
            "mean_ms",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "max_ms",
            "rows_returned",
            "recorded_at",
        ]
        .map(Alias::new),
    );
    for q in &figures.queries {
        let latency = &q.latency;
        insert
            .values([
                Value::from(q.query_type).into(),
                real(figures.over.as_secs_f64()),
                count(q.count()),
                count(q.errors),
                count(q.slow),
                real(latency.mean_ms()),
                real(latency.percentile_ms(50.0)),
                real(latency.percentile_ms(95.0)),
                real(latency.percentile_ms(99.0)),
                real(latency.max_ms()),
                count(q.rows),
                recorded_at.clone(),
            ])
            .map_err(insert_error)?;
    }
    Ok(Some(backend.build(&insert)))
}

/// The interval's pool row.
fn pool_row_statement(backend: DbBackend, figures: &IntervalFigures, pool_name: &str) -> Result<Statement, DbErr> {
    let pool = &figures.pool;
    let mut insert = Query::insert();
    insert
        .into_table(Alias::new(POOL_TABLE))
        .columns(
            [
                "pool_name",
                "active_connections",
                "idle_connections",
                "max_connections",
                "wait_count",
                "wait_duration_ms",
                "acquire_timeouts",
                "connection_errors",
                "pool_utilization_percent",
                "recorded_at",
            ]
            .map(Alias::new),
        )
        .values([
            Value::from(pool_name).into(),
            int(pool.in_use),
            int(pool.idle),
            int(pool.configured_max),
            count(pool.waits()),
            real(pool.wait_total_ms()),
            count(pool.acquire_timeouts),
            count(pool.connection_errors),
            real(pool.utilization_percent),
            Timestamp::from(figures.at).to_value(backend).into(),
        ])
        .map_err(insert_error)?;
    Ok(backend.build(&insert))
}
