//! `domainflow perf-test`: measurements against the real server and database, run as a
//! command rather than as timed tests (shared machines are noisy; a timed test flakes).
//!
//! The `depth` benchmark: p50/p95/p99 latency of a 50-row page over HTTP at depth 0, 2.5 %,
//! 50 % and 97.5 % of a seeded 2,000,000-row campaign (rows 0, 50,000, 1,000,000, 1,950,000),
//! for generated domains and for every DNS filter combination, with and without totalCount.
//! Deep pages are reached the way a client reaches them — a cursor — obtained with the
//! `find*` jump API, so no OFFSET is ever measured.

pub mod load;
pub mod walk;

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::startup::Application;

/// Options of `perf-test`.
#[derive(Debug, Clone)]
pub struct PerfOptions {
    /// Rows of the generation campaign to page through (seeded when missing).
    pub domains: u64,
    /// Timed requests per (connection, filter, depth, totalCount) point.
    pub requests: usize,
    /// Untimed requests before each point.
    pub warmup: usize,
    /// Targets: deepest/first p50 ratio and absolute p50.
    pub max_depth_ratio: f64,
    pub max_p50_ms: f64,
    pub max_total_count_cost_ms: f64,
    /// Concurrent users of the load phases (0 skips them).
    pub users: usize,
    /// Requests per user.
    pub queries_per_user: usize,
    /// Also measure recording on vs off, and the adaptive limit under overload.
    pub compare: bool,
    /// Pages of the cursor walk in each direction (0 skips it).
    pub walk_pages: usize,
    /// Passes over the mixed workload for memory stability (0 skips it).
    pub memory_iterations: usize,
    /// Target: RSS growth over the memory run, percent.
    pub max_memory_growth_percent: f64,
}

/// One measured point.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub connection: String,
    pub filter: String,
    pub depth: u64,
    pub total_count: bool,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
}

/// The report of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub backend: String,
    pub rows: u64,
    pub requests_per_point: usize,
    pub points: Vec<Point>,
    pub load: Vec<load::LoadReport>,
    pub offset_baseline: Vec<walk::OffsetPoint>,
    pub walks: Vec<walk::WalkReport>,
    pub memory: Option<walk::MemoryReport>,
    pub failures: Vec<String>,
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

const NODE_FIELDS: &str = "id databaseId domainName createdAt";

/// The load generator's HTTP client for one server.
pub(crate) struct Client {
    http: reqwest::Client,
    url: String,
}

impl Client {
    pub(crate) async fn post(&self, query: &str, variables: Value) -> Result<Value> {
        let response: Value = self
            .http
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .map_err(|e| Error::Internal(format!("request failed: {e}")))?
            .json()
            .await
            .map_err(|e| Error::Internal(format!("bad response: {e}")))?;
        if let Some(errors) = response.get("errors") {
            return Err(Error::Internal(format!("GraphQL errors: {errors}")));
        }
        Ok(response)
    }
}

/// A connection under test: the GraphQL field, the campaign, a filter, and how to find the
/// row at a depth (the SQL used only in setup).
struct Target {
    name: &'static str,
    campaign: Uuid,
    filter_label: String,
    filter: Value,
    filter_sql: String,
    table: &'static str,
    campaign_column: &'static str,
    order_sql: &'static str,
}

impl Target {
    fn page_query(&self, with_total: bool) -> String {
        let (decl, arg) = match self.name {
            "dnsValidationResults" => (", $filter: DnsValidationResultFilter", ", filter: $filter"),
            _ => ("", ""),
        };
        let total = if with_total { "totalCount" } else { "" };
        format!(
            "query($c: UUID!, $after: String{decl}) {{ campaignByDatabaseId(databaseId: $c) {{
               {name}(first: 50, after: $after{arg}) {{ {total} edges {{ cursor node {{ {NODE_FIELDS} }} }}
                 pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }} }}",
            name = self.name
        )
    }

    async fn count(&self, db: &DatabaseConnection) -> Result<u64> {
        let sql = format!(
            "SELECT count(*) FROM {} WHERE {} = $1{}",
            self.table, self.campaign_column, self.filter_sql
        );
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                db.get_database_backend(),
                sql,
                [self.campaign.into()],
            ))
            .await?
            .ok_or_else(|| Error::Internal("count returned no row".into()))?;
        Ok(row.try_get_by_index::<i64>(0)? as u64)
    }

    /// The cursor of the row just before `depth` (setup only: uses OFFSET once).
    async fn cursor_at(&self, db: &DatabaseConnection, client: &Client, depth: u64) -> Result<Value> {
        if depth == 0 {
            return Ok(Value::Null);
        }
        let sql = format!(
            "SELECT domain_name FROM {} WHERE {} = $1{} ORDER BY {} LIMIT 1 OFFSET {}",
            self.table,
            self.campaign_column,
            self.filter_sql,
            self.order_sql,
            depth - 1
        );
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                db.get_database_backend(),
                sql,
                [self.campaign.into()],
            ))
            .await?
            .ok_or_else(|| Error::Internal(format!("no row at depth {depth}")))?;
        let name: String = row.try_get_by_index(0)?;
        let (field, decl, arg) = match self.name {
            "dnsValidationResults" => (
                "findDnsValidationResult",
                ", $filter: DnsValidationResultFilter",
                ", filter: $filter",
            ),
            _ => ("findGeneratedDomain", "", ""),
        };
        let query = format!(
            "query($c: UUID!, $name: String!{decl}) {{ campaignByDatabaseId(databaseId: $c) {{ {field}(domainName: $name{arg}) {{ cursor }} }} }}"
        );
        let response = client
            .post(
                &query,
                json!({ "c": self.campaign, "name": name, "filter": self.filter }),
            )
            .await?;
        Ok(response["data"]["campaignByDatabaseId"][field]["cursor"].clone())
    }
}

async fn measure(client: &Client, query: &str, variables: &Value, opts: &PerfOptions) -> Result<Vec<f64>> {
    for _ in 0..opts.warmup {
        client.post(query, variables.clone()).await?;
    }
    let mut samples = Vec::with_capacity(opts.requests);
    for _ in 0..opts.requests {
        let started = Instant::now();
        client.post(query, variables.clone()).await?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples)
}

/// Runs the depth benchmark; seeds the data first when it is missing.
pub async fn run(mut settings: Settings, opts: &PerfOptions) -> Result<Report> {
    // Setup queries need a few connections, not the server's pool.
    let mut setup = settings.clone();
    setup.db_max_open_conns = 4;
    let db = crate::db::connect(&setup).await?;
    crate::db::migrate(&db, &settings).await?;
    eprintln!(
        "perf-test: making sure the {}-domain chain is loaded (seeding resumes if needed)",
        opts.domains
    );
    let seed_report = crate::seed::seed(
        &db,
        &crate::seed::SeedOptions {
            campaigns: 1,
            domains: opts.domains,
            progress: true,
        },
    )
    .await?;
    eprintln!("{seed_report}");
    let ids = crate::seed::chain_ids(0, opts.domains);

    settings.port = 0;
    settings.host = "127.0.0.1".to_owned();
    let app = Application::build(settings.clone()).await?;
    let client = Client {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::Internal(e.to_string()))?,
        url: format!("http://127.0.0.1:{}/graphql", app.port()),
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stop_rx.await;
    }));

    let mut targets = vec![Target {
        name: "generatedDomains",
        campaign: ids.generation,
        filter_label: "-".into(),
        filter: Value::Null,
        filter_sql: String::new(),
        table: "generated_domains",
        campaign_column: "domain_generation_campaign_id",
        order_sql: "offset_index",
    }];
    let validation = [(None, "*"), (Some("valid"), "VALID")];
    let business = [
        (None, "*"),
        (Some(None), "null"),
        (Some(Some("lead_candidate")), "LEAD_CANDIDATE"),
    ];
    for (vs, vs_label) in validation {
        for (bs, bs_label) in business {
            let mut filter = serde_json::Map::new();
            let mut filter_sql = String::new();
            if let Some(vs) = vs {
                filter.insert("validationStatus".into(), json!(vs.to_uppercase()));
                filter_sql.push_str(&format!(" AND validation_status = '{vs}'"));
            }
            match bs {
                None => {}
                Some(None) => {
                    filter.insert("businessStatus".into(), Value::Null);
                    filter_sql.push_str(" AND business_status IS NULL");
                }
                Some(Some(b)) => {
                    filter.insert("businessStatus".into(), json!(b.to_uppercase()));
                    filter_sql.push_str(&format!(" AND business_status = '{b}'"));
                }
            }
            targets.push(Target {
                name: "dnsValidationResults",
                campaign: ids.dns,
                filter_label: format!("validationStatus={vs_label} businessStatus={bs_label}"),
                filter: Value::Object(filter),
                filter_sql,
                table: "dns_validation_results",
                campaign_column: "dns_campaign_id",
                order_sql: "created_at, id",
            });
        }
    }

    let mut points = Vec::new();
    let mut failures = Vec::new();
    let mut workload = Vec::new();
    for target in &targets {
        let rows = target.count(&db).await?;
        if rows == 0 {
            continue;
        }
        let depths = [0, rows / 40, rows / 2, rows - rows / 40 - 1];
        let mut p50_by_depth = Vec::new();
        for depth in depths {
            let cursor = target.cursor_at(&db, &client, depth).await?;
            let variables = json!({ "c": target.campaign, "after": cursor, "filter": target.filter });
            let mut p50s = [0.0; 2];
            for (i, with_total) in [false, true].into_iter().enumerate() {
                workload.push(load::Request {
                    query: target.page_query(with_total),
                    variables: variables.clone(),
                });
                let samples = measure(&client, &target.page_query(with_total), &variables, opts).await?;
                let point = Point {
                    connection: target.name.to_owned(),
                    filter: target.filter_label.clone(),
                    depth,
                    total_count: with_total,
                    p50_ms: percentile(&samples, 50.0),
                    p95_ms: percentile(&samples, 95.0),
                    p99_ms: percentile(&samples, 99.0),
                    mean_ms: samples.iter().sum::<f64>() / samples.len().max(1) as f64,
                };
                eprintln!(
                    "{:<22} {:<48} depth {:>9} total={:<5} p50 {:>7.3} ms  p95 {:>7.3} ms  p99 {:>7.3} ms",
                    point.connection,
                    point.filter,
                    point.depth,
                    point.total_count,
                    point.p50_ms,
                    point.p95_ms,
                    point.p99_ms
                );
                p50s[i] = point.p50_ms;
                if point.p50_ms > opts.max_p50_ms {
                    failures.push(format!(
                        "{} {} depth {}: p50 {:.3} ms > {} ms",
                        point.connection, point.filter, depth, point.p50_ms, opts.max_p50_ms
                    ));
                }
                points.push(point);
            }
            if p50s[1] - p50s[0] > opts.max_total_count_cost_ms {
                failures.push(format!(
                    "{} {} depth {depth}: totalCount costs {:.3} ms > {} ms",
                    target.name,
                    target.filter_label,
                    p50s[1] - p50s[0],
                    opts.max_total_count_cost_ms
                ));
            }
            p50_by_depth.push(p50s[0]);
        }
        let fastest = p50_by_depth.iter().copied().fold(f64::INFINITY, f64::min);
        let slowest = p50_by_depth.iter().copied().fold(0.0, f64::max);
        if fastest > 0.0 && slowest / fastest > opts.max_depth_ratio {
            failures.push(format!(
                "{} {}: p50 varies {:.2}× across depths (> {}×)",
                target.name,
                target.filter_label,
                slowest / fastest,
                opts.max_depth_ratio
            ));
        }
    }
    let offset_baseline = walk::offset_baseline(&db, &client, ids.generation, opts.domains, 5).await?;
    let mut walks = Vec::new();
    if opts.walk_pages > 0 {
        for forwards in [true, false] {
            let report = walk::walk(&client, ids.generation, opts.walk_pages, forwards).await?;
            if report.deepest_over_first > opts.max_depth_ratio {
                failures.push(format!(
                    "walk {}: deepest pages {:.2}× the first (> {}×)",
                    report.direction, report.deepest_over_first, opts.max_depth_ratio
                ));
            }
            walks.push(report);
        }
    }
    let mut memory = None;
    if opts.memory_iterations > 0 && !workload.is_empty() {
        let report = walk::memory_stability(&client.url, &workload, opts.memory_iterations).await?;
        if report.growth_percent > opts.max_memory_growth_percent {
            failures.push(format!(
                "memory grew {:.1} % over {} iterations (> {} %)",
                report.growth_percent, report.iterations, opts.max_memory_growth_percent
            ));
        }
        memory = Some(report);
    }
    let mut load_reports = Vec::new();
    if opts.users > 0 && !workload.is_empty() {
        let report = load::run(
            "concurrent access",
            &client.url,
            &workload,
            opts.users,
            opts.queries_per_user,
        )
        .await;
        eprintln!("{report}");
        if report.errors > 0 {
            failures.push(format!("concurrent access: {} errors", report.errors));
        }
        load_reports.push(report);
        if let Ok(m) = client
            .post(
                "{ metrics { pool { configuredMax peakInUse waits waitMaxMs acquireTimeouts } } }",
                json!({}),
            )
            .await
        {
            eprintln!("pool during the run: {}", m["data"]["metrics"]["pool"]);
        }
    }
    let _ = stop_tx.send(());
    let _ = server.await;

    if opts.compare && opts.users > 0 && !workload.is_empty() {
        // Recording on vs off: two servers, same data, alternating rounds.
        let mut off = settings.clone();
        off.enable_query_monitoring = false;
        off.enable_connection_monitoring = false;
        let variants = [("recording on", settings.clone()), ("recording off", off)];
        let mut throughput = [0.0f64; 2];
        for round in 0..3 {
            for (i, (label, variant)) in variants.iter().enumerate() {
                let report = load_against(variant.clone(), label, &workload, opts.users, opts.queries_per_user).await?;
                eprintln!("round {round}: {report}");
                throughput[i] += report.requests_per_second;
                load_reports.push(report);
            }
        }
        let cost = (throughput[1] - throughput[0]) / throughput[1].max(f64::EPSILON) * 100.0;
        // Reported, not a target: end to end on a shared 2-core machine this is mostly noise;
        // `cargo bench --bench hot_paths` measures the recording cost per call deterministically.
        eprintln!("recording on vs off: {cost:.2} % throughput difference (mean of 3 alternating rounds)");

        // The adaptive limit under overload: 4× the users on a small pool.
        let mut fixed = settings.clone();
        fixed.db_max_open_conns = 8;
        let mut adaptive = fixed.clone();
        adaptive.db_adaptive_limit = true;
        for (label, variant) in [("overload, fixed limit", fixed), ("overload, adaptive limit", adaptive)] {
            let report = load_against(variant, label, &workload, opts.users * 4, opts.queries_per_user).await?;
            eprintln!("{report}");
            load_reports.push(report);
        }
    }

    Ok(Report {
        backend: format!("{:?}", db.get_database_backend()),
        rows: opts.domains,
        requests_per_point: opts.requests,
        points,
        load: load_reports,
        offset_baseline,
        walks,
        memory,
        failures,
    })
}

/// Starts a server with `settings` on a free port, runs the load against it, stops it.
async fn load_against(
    mut settings: Settings,
    label: &str,
    workload: &[load::Request],
    users: usize,
    per_user: usize,
) -> Result<load::LoadReport> {
    settings.port = 0;
    settings.auto_migrate = false;
    let app = Application::build(settings).await?;
    let url = format!("http://127.0.0.1:{}/graphql", app.port());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stop_rx.await;
    }));
    let report = load::run(label, &url, workload, users, per_user).await;
    let _ = stop_tx.send(());
    let _ = server.await;
    Ok(report)
}
