//! perf-test's load-adaptive concurrency component (issue 16, item 4): does the server, as
//! configured (by default: pool 100, adaptive limit on), keep its throughput and latency when
//! offered more concurrent requests than the database can serve?
//!
//! Three measurements, each run after a short untimed warm-up at the same concurrency, through
//! the one load generator ([`super::load`]) with the pool and the gate's limit sampled from
//! Query.metrics:
//! 1. **users sweep** against the server under test: 1, 2, 4 … 64 users, a few seconds each;
//!    the best throughput and the p99 there;
//! 2. **overload**: 200 users against the same server, for longer;
//! 3. **fixed limits**: 200 users against a server of its own per fixed limit (adaptive limit
//!    off, `DB_MAX_OPEN_CONNS` = 2, 4 … 32): what hand-tuning the pool would give.
//!
//! Targets: the overload run's throughput ≥ 90 % of the best of (1) and ≥ 90 % of the best of
//! (3); its p99 ≤ 4 × the p99 of the best fixed limit; no errors anywhere.
//!
//! Why the p99 is held against (3) and only *reported* against (1): the users are a closed
//! loop (each sends its next request when the last is answered), so by Little's law their mean
//! latency is users ÷ throughput, whatever the server does. 200 users at the best throughput X
//! wait at least 200 / X on average; the p99 of n users at X is typically about 2 × n / X. The
//! ratio cannot fall below (200 / X) ÷ p99ₙ, about 100 / n — more than 4 whenever the sweep's
//! best is at fewer than about 25 users, as it is on a database that saturates at a few
//! concurrent queries. Against a fixed limit at the same 200 users the ratio measures what the
//! adaptive limit adds to the tail, which is the question. [`little_floor`], the ratio no
//! server could beat, is printed next to the sweep's.

use std::time::Duration;

use serde::Serialize;

use super::Progress;
use super::load::{self, LoadReport, Request};
use super::server::{Server, ServerMode};
use crate::config::Settings;

/// Options of the component (perf-test flags).
#[derive(Debug, Clone, clap::Args)]
pub struct ConcurrencyOptions {
    /// Load-adaptive concurrency: seconds per run of the sweeps (0 skips the component) …
    #[arg(long, default_value_t = 5)]
    pub concurrency_seconds: u64,
    /// … the concurrencies (users) of the sweep against the server under test …
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16,32,64")]
    pub concurrency_sweep: Vec<usize>,
    /// … the users offered more than the database can serve …
    #[arg(long, default_value_t = 200)]
    pub concurrency_users: usize,
    /// … for this many seconds against the server under test …
    #[arg(long, default_value_t = 20)]
    pub concurrency_load_seconds: u64,
    /// … and the fixed limits (DB_MAX_OPEN_CONNS with DB_ADAPTIVE_LIMIT=false, a server each)
    /// those users are also run against (0: none).
    #[arg(long, value_delimiter = ',', default_value = "2,4,8,16,32")]
    pub concurrency_fixed_limits: Vec<u32>,
    /// Target: overload throughput over the best of each sweep.
    #[arg(long, default_value_t = 0.9)]
    pub min_concurrency_throughput_ratio: f64,
    /// Target: overload p99 over the p99 of the best fixed limit.
    #[arg(long, default_value_t = 4.0)]
    pub max_concurrency_p99_ratio: f64,
}

/// One run of the fixed-limit sweep.
#[derive(Debug, Clone, Serialize)]
pub struct FixedLimitRun {
    /// DB_MAX_OPEN_CONNS of its server (adaptive limit off).
    pub limit: u32,
    pub load: LoadReport,
}

/// What the component measured.
#[derive(Debug, Clone, Serialize)]
pub struct ConcurrencyReport {
    /// The users sweep against the server under test, in order.
    pub sweep: Vec<LoadReport>,
    /// Users of the sweep's best throughput.
    pub best_users: usize,
    /// More users than the database can serve, against the server under test.
    pub overload: LoadReport,
    /// Its throughput over the sweep's best.
    pub throughput_ratio: f64,
    /// Its p99 over the p99 at the sweep's best (reported; see the module doc).
    pub p99_ratio: f64,
    /// The least that ratio can be for a closed loop ([`little_floor`]).
    pub p99_ratio_floor: f64,
    /// The same users against fixed limits, in order.
    pub fixed: Vec<FixedLimitRun>,
    /// The fixed limit of the best throughput, when that sweep ran.
    pub best_fixed_limit: Option<u32>,
    /// The overload run's throughput and p99 over that best fixed limit's.
    pub fixed_throughput_ratio: Option<f64>,
    pub fixed_p99_ratio: Option<f64>,
}

/// Untimed warm-up before each timed run: the limit adapts to the new concurrency and the
/// pool opens what it needs before the clock starts.
fn warm_up(seconds: u64) -> Duration {
    Duration::from_secs(seconds).div_f64(5.0).max(Duration::from_secs(1))
}

/// The p99 ratio `users` closed-loop users would show against `best` even at `best`'s
/// throughput with every request taking exactly the mean: by Little's law the mean is
/// users ÷ throughput, and a p99 is at least the mean. No server can do better.
pub fn little_floor(users: usize, best: &LoadReport) -> f64 {
    let mean_ms = users as f64 / best.requests_per_second.max(f64::EPSILON) * 1000.0;
    mean_ms / best.p99_ms.max(f64::EPSILON)
}

async fn timed(url: &str, workload: &[Request], label: &str, users: usize, seconds: u64) -> LoadReport {
    load::run_for(&format!("{label} warm-up"), url, workload, users, warm_up(seconds)).await;
    load::run_for(label, url, workload, users, Duration::from_secs(seconds.max(1))).await
}

fn show(progress: &Progress, report: &LoadReport) {
    progress.line(report.to_string());
    if let Some(pool) = &report.pool {
        progress.line(format!("  {pool}"));
    }
}

/// The server under test's settings with a fixed limit of `limit` connections.
fn fixed(mode: &ServerMode, settings: &Settings, limit: u32) -> (ServerMode, Settings) {
    let mut settings = settings.clone();
    settings.db_max_open_conns = limit;
    settings.db_adaptive_limit = false;
    let mode = match mode {
        ServerMode::InProcess => ServerMode::InProcess,
        ServerMode::Child { binary, env, config } => {
            let mut env = env.clone();
            env.insert("DB_MAX_OPEN_CONNS".to_owned(), limit.to_string());
            env.insert("DB_ADAPTIVE_LIMIT".to_owned(), "false".to_owned());
            ServerMode::Child {
                binary: binary.clone(),
                env,
                config: config.clone(),
            }
        }
    };
    (mode, settings)
}

/// Runs the sweeps and the overload run; missed targets go to `failures`. `url` is the server
/// under test; `mode` and `settings` start the fixed-limit servers. `None` when there is
/// nothing to run (no workload, no sweep, 0 seconds).
pub(crate) async fn run(
    url: &str,
    mode: &ServerMode,
    settings: &Settings,
    workload: &[Request],
    progress: &Progress,
    opts: &ConcurrencyOptions,
    failures: &mut Vec<String>,
) -> crate::error::Result<Option<ConcurrencyReport>> {
    if opts.concurrency_seconds == 0 || opts.concurrency_sweep.is_empty() || workload.is_empty() {
        return Ok(None);
    }
    let seconds = opts.concurrency_seconds;
    let users = opts.concurrency_users.max(1);
    let limits: Vec<u32> = opts
        .concurrency_fixed_limits
        .iter()
        .copied()
        .filter(|&l| l > 0)
        .collect();
    let steps = opts.concurrency_sweep.len() + 1 + limits.len();
    progress.phase("concurrency sweeps", steps as u64);
    let mut sweep = Vec::with_capacity(opts.concurrency_sweep.len());
    for &n in &opts.concurrency_sweep {
        let n = n.max(1);
        let report = timed(url, workload, &format!("sweep, {n} users"), n, seconds).await;
        show(progress, &report);
        if report.errors > 0 {
            failures.push(format!("concurrency sweep, {n} users: {} errors", report.errors));
        }
        progress.inc();
        sweep.push(report);
    }
    let Some(best) = sweep
        .iter()
        .max_by(|a, b| a.requests_per_second.total_cmp(&b.requests_per_second))
        .cloned()
    else {
        return Ok(None);
    };

    let overload = timed(
        url,
        workload,
        &format!("{users} users"),
        users,
        opts.concurrency_load_seconds,
    )
    .await;
    show(progress, &overload);
    progress.inc();
    let throughput_ratio = overload.requests_per_second / best.requests_per_second.max(f64::EPSILON);
    let p99_ratio = overload.p99_ms / best.p99_ms.max(f64::EPSILON);
    let p99_ratio_floor = little_floor(users, &best);
    progress.line(format!(
        "{users} users: {:.0} req/s = {:.0} % of the sweep's best ({:.0} req/s at {} users); p99 {:.1} ms = {:.1} × \
         the p99 there ({:.1} ms; Little's law alone makes it ≥ {p99_ratio_floor:.1} ×)",
        overload.requests_per_second,
        throughput_ratio * 100.0,
        best.requests_per_second,
        best.users,
        overload.p99_ms,
        p99_ratio,
        best.p99_ms
    ));
    if throughput_ratio < opts.min_concurrency_throughput_ratio {
        failures.push(format!(
            "concurrency: {users} users {:.0} req/s, {:.0} % of the sweep's best {:.0} req/s at {} users (< {:.0} %)",
            overload.requests_per_second,
            throughput_ratio * 100.0,
            best.requests_per_second,
            best.users,
            opts.min_concurrency_throughput_ratio * 100.0
        ));
    }
    if overload.errors > 0 {
        failures.push(format!("concurrency: {users} users: {} errors", overload.errors));
    }

    let mut fixed_runs = Vec::with_capacity(limits.len());
    for limit in limits {
        let (mode, settings) = fixed(mode, settings, limit);
        let server = Server::start(&mode, &settings).await?;
        let label = format!("{users} users, fixed limit {limit}");
        let report = timed(&server.graphql_url(), workload, &label, users, seconds).await;
        server.stop().await?;
        show(progress, &report);
        if report.errors > 0 {
            failures.push(format!("concurrency, fixed limit {limit}: {} errors", report.errors));
        }
        progress.inc();
        fixed_runs.push(FixedLimitRun { limit, load: report });
    }
    let best_fixed = fixed_runs
        .iter()
        .max_by(|a, b| a.load.requests_per_second.total_cmp(&b.load.requests_per_second));
    let (mut fixed_throughput_ratio, mut fixed_p99_ratio) = (None, None);
    if let Some(best_fixed) = best_fixed {
        let throughput = overload.requests_per_second / best_fixed.load.requests_per_second.max(f64::EPSILON);
        let p99 = overload.p99_ms / best_fixed.load.p99_ms.max(f64::EPSILON);
        progress.line(format!(
            "{users} users: {:.0} % of the best fixed limit's throughput ({:.0} req/s at {}), p99 {p99:.1} × its {:.1} ms",
            throughput * 100.0,
            best_fixed.load.requests_per_second,
            best_fixed.limit,
            best_fixed.load.p99_ms
        ));
        if throughput < opts.min_concurrency_throughput_ratio {
            failures.push(format!(
                "concurrency: {users} users {:.0} req/s, {:.0} % of the best fixed limit's {:.0} req/s at {} (< {:.0} %)",
                overload.requests_per_second,
                throughput * 100.0,
                best_fixed.load.requests_per_second,
                best_fixed.limit,
                opts.min_concurrency_throughput_ratio * 100.0
            ));
        }
        if p99 > opts.max_concurrency_p99_ratio {
            failures.push(format!(
                "concurrency: {users} users p99 {:.1} ms, {p99:.1} × the p99 {:.1} ms of the best fixed limit {} (> {}×)",
                overload.p99_ms, best_fixed.load.p99_ms, best_fixed.limit, opts.max_concurrency_p99_ratio
            ));
        }
        fixed_throughput_ratio = Some(throughput);
        fixed_p99_ratio = Some(p99);
    }
    Ok(Some(ConcurrencyReport {
        best_users: best.users,
        best_fixed_limit: best_fixed.map(|f| f.limit),
        sweep,
        overload,
        throughput_ratio,
        p99_ratio,
        p99_ratio_floor,
        fixed: fixed_runs,
        fixed_throughput_ratio,
        fixed_p99_ratio,
    }))
}
