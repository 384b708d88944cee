//! The project's one load generator: `users` concurrent clients, each sending
//! `queries_per_user` GraphQL requests drawn from a mixed workload (every connection, filter,
//! depth, with and without totalCount), measuring latency per request. perf-test's concurrent
//! access, recording-overhead and adaptive-limit measurements all run through it.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

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
    let workload = Arc::new(workload.to_vec());
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(users);
    for user in 0..users {
        let workload = workload.clone();
        let client = client.clone();
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_user);
            let mut errors = 0usize;
            for i in 0..per_user {
                let Some(request) = workload.get((user * 7 + i) % workload.len().max(1)) else {
                    break;
                };
                let sent = Instant::now();
                let ok = match client
                    .post(&url)
                    .json(&serde_json::json!({ "query": request.query, "variables": request.variables }))
                    .send()
                    .await
                {
                    Ok(response) => match response.json::<Value>().await {
                        Ok(body) => body.get("errors").is_none(),
                        Err(_) => false,
                    },
                    Err(_) => false,
                };
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                if !ok {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::with_capacity(users * per_user);
    let mut errors = 0;
    for task in tasks {
        if let Ok((l, e)) = task.await {
            latencies.extend(l);
            errors += e;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
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
    }
}
