//! The project's one load generator: `users` concurrent clients, each sending
//! `queries_per_user` GraphQL requests drawn from a mixed workload (every connection, filter,
//! depth, with and without totalCount), measuring latency per request. perf-test's concurrent
//! access, recording-overhead and adaptive-limit measurements all run through it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One request of the workload.
#[derive(Debug, Clone)]
pub struct Request {
    pub query: String,
    pub variables: Value,
}

/// What a load run measured.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub label: String,
    pub users: usize,
    pub requests: usize,
    pub errors: usize,
    pub seconds: f64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The server's pool as Query.metrics reported it while the load ran (None when the
    /// metrics could not be read).
    pub pool: Option<PoolDuringRun>,
}

/// Pool figures sampled from Query.metrics every 100 ms during a load run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PoolDuringRun {
    pub samples: usize,
    pub configured_max: u64,
    pub max_open: u64,
    pub max_in_use: u64,
    pub max_utilization_percent: f64,
    /// Acquisitions that waited, and acquire timeouts, during the run.
    pub waits: u64,
    pub acquire_timeouts: u64,
    /// The gate's concurrency limit (`adaptiveLimit.current`): lowest, highest and last seen.
    pub limit_min: u64,
    pub limit_max: u64,
    pub limit_last: u64,
}

impl std::fmt::Display for PoolDuringRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pool during the run ({} samples): in use ≤ {}/{} ({:.0} %), open ≤ {}, {} waits, {} acquire timeouts, \
             limit {}–{} (last {})",
            self.samples,
            self.max_in_use,
            self.configured_max,
            self.max_utilization_percent,
            self.max_open,
            self.waits,
            self.acquire_timeouts,
            self.limit_min,
            self.limit_max,
            self.limit_last
        )
    }
}

const POOL_QUERY: &str = "{ metrics { pool { configuredMax open inUse utilizationPercent waits acquireTimeouts adaptiveLimit { current } } } }";

/// Polls Query.metrics until `done`; the pool figures seen meanwhile.
async fn watch_pool(client: reqwest::Client, url: String, done: Arc<AtomicBool>) -> Option<PoolDuringRun> {
    let body = serde_json::to_vec(&json!({ "query": POOL_QUERY })).ok()?;
    let mut report = PoolDuringRun::default();
    let mut first: Option<(u64, u64)> = None;
    let mut last = (0, 0);
    while !done.load(Ordering::Relaxed) {
        let response = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await;
        if let Ok(response) = response
            && let Ok(value) = response.json::<Value>().await
        {
            let pool = &value["data"]["metrics"]["pool"];
            let int = |name: &str| pool[name].as_u64().unwrap_or(0);
            if pool.is_object() {
                report.samples += 1;
                report.configured_max = int("configuredMax");
                report.max_open = report.max_open.max(int("open"));
                report.max_in_use = report.max_in_use.max(int("inUse"));
                report.max_utilization_percent = report
                    .max_utilization_percent
                    .max(pool["utilizationPercent"].as_f64().unwrap_or(0.0));
                last = (int("waits"), int("acquireTimeouts"));
                first.get_or_insert(last);
                let limit = pool["adaptiveLimit"]["current"].as_u64().unwrap_or(0);
                report.limit_min = if report.samples == 1 {
                    limit
                } else {
                    report.limit_min.min(limit)
                };
                report.limit_max = report.limit_max.max(limit);
                report.limit_last = limit;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first = first?;
    report.waits = last.0 - first.0.min(last.0);
    report.acquire_timeouts = last.1 - first.1.min(last.1);
    Some(report)
}

/// Only whether a response carried errors; the rest of the body is skipped, not built.
#[derive(Deserialize)]
struct Reply {
    errors: Option<serde::de::IgnoredAny>,
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<34} {:>3} users {:>6} req {:>3} err {:>8.1} req/s  p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
            self.label,
            self.users,
            self.requests,
            self.errors,
            self.requests_per_second,
            self.p50_ms,
            self.p95_ms,
            self.p99_ms,
            self.max_ms
        )
    }
}

/// Runs `users` clients × `per_user` requests against `url`, cycling through `workload`.
pub async fn run(label: &str, url: &str, workload: &[Request], users: usize, per_user: usize) -> LoadReport {
    run_until(label, url, workload, users, Until::Requests(per_user)).await
}

/// Like [`run`], each user sending requests until `duration` has passed (a bounded soak).
pub async fn run_for(label: &str, url: &str, workload: &[Request], users: usize, duration: Duration) -> LoadReport {
    run_until(label, url, workload, users, Until::Deadline(Instant::now() + duration)).await
}

/// When a user stops.
#[derive(Clone, Copy)]
enum Until {
    Requests(usize),
    Deadline(Instant),
}

async fn run_until(label: &str, url: &str, workload: &[Request], users: usize, until: Until) -> LoadReport {
    // Bodies serialized once: the generator's own CPU is taken from the server on a small machine.
    let bodies: Vec<axum::body::Bytes> = workload
        .iter()
        .map(|r| {
            serde_json::to_vec(&json!({ "query": r.query, "variables": r.variables }))
                .unwrap_or_default()
                .into()
        })
        .collect();
    let workload = Arc::new(bodies);
    let client = reqwest::Client::new();
    let done = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch_pool(client.clone(), url.to_owned(), done.clone()));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(users);
    for user in 0..users {
        let workload = workload.clone();
        let client = client.clone();
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            for i in 0.. {
                match until {
                    Until::Requests(n) if i >= n => break,
                    Until::Deadline(at) if Instant::now() >= at => break,
                    _ => {}
                }
                let Some(body) = workload.get((user * 7 + i) % workload.len().max(1)) else {
                    break;
                };
                let sent = Instant::now();
                let ok = match client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                {
                    Ok(response) if response.status().is_success() => match response.bytes().await {
                        Ok(bytes) => serde_json::from_slice::<Reply>(&bytes).is_ok_and(|r| r.errors.is_none()),
                        Err(_) => false,
                    },
                    _ => false,
                };
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                if !ok {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        if let Ok((l, e)) = task.await {
            latencies.extend(l);
            errors += e;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let pool = watcher.await.ok().flatten();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| super::percentile(&latencies, p);
    LoadReport {
        label: label.to_owned(),
        users,
        requests: latencies.len(),
        errors,
        seconds,
        requests_per_second: latencies.len() as f64 / seconds.max(f64::EPSILON),
        p50_ms: pct(50.0),
        p95_ms: pct(95.0),
        p99_ms: pct(99.0),
        max_ms: latencies.last().copied().unwrap_or(0.0),
        pool,
    }
}
