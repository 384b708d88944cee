//! Our gate in front of the pool: every database call of the request path goes through
//! [`Observer::run`], which waits for a permit of the concurrency gate (adaptive by default,
//! `metrics::limiter`) —
//! where pool waits and acquire timeouts are measured, since sqlx reports only size and idle —
//! marks the connection as held by a query type (leak detection), times the call, records it
//! per query type, and logs it once when slow, with a parameter-free SQL shape.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::metrics::Metrics;

/// How many recent slow queries are kept for `Query.metrics`.
const RECENT_SLOW: usize = 50;

/// One entry of the slow-query log, as logged.
#[derive(Clone, Debug)]
pub struct SlowQuery {
    pub query_type: &'static str,
    pub duration: Duration,
    pub rows: u64,
    pub ok: bool,
    /// SQL with placeholders, never values.
    pub sql: String,
    pub at: DateTime<Utc>,
}

/// Runs database calls through the gate and records them.
#[derive(Clone, Debug)]
pub struct Observer {
    metrics: Metrics,
    log_slow: bool,
    acquire_timeout: Duration,
    /// Whether the database is reachable; requests fail fast while it is not.
    health: super::health::Health,
    /// The last slow queries logged (bounded; only the slow path takes the lock).
    recent_slow: Arc<Mutex<VecDeque<SlowQuery>>>,
}

impl Observer {
    /// An observer recording into `metrics`; `log_slow` is LOG_SLOW_QUERIES, `acquire_timeout`
    /// DB_ACQUIRE_TIMEOUT_SECONDS (also the longest wait at the gate).
    pub fn new(metrics: Metrics, log_slow: bool, acquire_timeout: Duration, health: super::health::Health) -> Self {
        Self {
            metrics,
            log_slow,
            acquire_timeout,
            health,
            recent_slow: Arc::new(Mutex::new(VecDeque::with_capacity(RECENT_SLOW))),
        }
    }

    /// The most recent slow queries logged, newest last.
    pub fn recent_slow(&self) -> Vec<SlowQuery> {
        match self.recent_slow.lock() {
            Ok(recent) => recent.iter().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().iter().cloned().collect(),
        }
    }

    /// The metrics recorded into.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Runs `call` as one query of `query_type`. `rows` counts the rows of a result; `shape`
    /// renders the SQL with placeholders (never values), only when the query was slow.
    pub async fn run<T, Fut>(
        &self,
        query_type: &'static str,
        rows: impl FnOnce(&T) -> u64,
        shape: impl FnOnce() -> String,
        call: impl FnOnce() -> Fut,
    ) -> Result<T>
    where
        Fut: Future<Output = Result<T>>,
    {
        if !self.health.is_up() {
            // An outage: answer at once rather than wait out the acquire timeout.
            return Err(Error::ServiceUnavailable);
        }
        let gate_started = Instant::now();
        let permit = match tokio::time::timeout(self.acquire_timeout, self.metrics.limiter().acquire()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_closed)) => return Err(Error::ServiceUnavailable),
            Err(_elapsed) => {
                self.metrics.pool().record_timeout(gate_started.elapsed());
                tracing::warn!(
                    query_type,
                    waited_ms = gate_started.elapsed().as_millis() as u64,
                    "no database connection free within the acquire timeout"
                );
                return Err(Error::Overloaded);
            }
        };
        let waited = permit.waited();
        let held = match waited {
            Some(wait) => self.metrics.pool().acquired_after_wait(query_type, wait),
            None => self.metrics.pool().acquired(query_type),
        };
        let started = Instant::now();
        // A request waiting on a database that has gone away gives up when the outage is
        // noticed instead of waiting out the acquire timeout.
        let result = tokio::select! {
            biased;
            result = call() => result,
            () = self.health.outage() => Err(Error::ServiceUnavailable),
        };
        let elapsed = started.elapsed();
        drop(held);
        if self.metrics.limiter().available_permits() == 0 {
            // Someone may be waiting for this permit. The connection's return to the pool
            // (sqlx pings it first) was spawned as the call ended: let it run before the next
            // query is admitted, or that query finds no idle connection and the pool opens one
            // more than the limit needs.
            tokio::task::yield_now().await;
        }
        drop(permit);

        let (ok, count) = match &result {
            Ok(value) => (true, rows(value)),
            Err(Error::ServiceUnavailable) => {
                self.metrics.pool().record_connection_error();
                self.health.report_failure();
                (false, 0)
            }
            Err(Error::Overloaded) => {
                self.metrics.pool().record_timeout(started.elapsed());
                (false, 0)
            }
            Err(_) => (false, 0),
        };
        let outcome = self.metrics.queries().record(query_type, elapsed, count, ok);
        // Only answered queries say how long the database takes: a refused connection fails
        // in microseconds and would read as a database with no load at all.
        if ok && let Some(change) = self.metrics.limiter().record(elapsed, waited.is_some()) {
            tracing::info!(from = change.from, to = change.to, cause = change.cause.as_str(), reason = %change.reason, "adaptive database concurrency limit changed");
        }
        if outcome.slow && self.log_slow {
            let sql = shape();
            tracing::warn!(
                query_type,
                duration_ms = elapsed.as_secs_f64() * 1000.0,
                rows = count,
                ok,
                sql = %sql,
                "slow query"
            );
            let entry = SlowQuery {
                query_type,
                duration: elapsed,
                rows: count,
                ok,
                sql,
                at: Utc::now(),
            };
            let mut recent = match self.recent_slow.lock() {
                Ok(recent) => recent,
                Err(poisoned) => poisoned.into_inner(),
            };
            if recent.len() == RECENT_SLOW {
                recent.pop_front();
            }
            recent.push_back(entry);
        }
        result
    }
}
