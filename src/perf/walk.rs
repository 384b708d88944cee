//! perf-test components beyond the depth points: the OFFSET baseline measured side by side
//! with keyset on the same data, a 1,000+ page cursor walk forwards and backwards over HTTP,
//! and memory stability over many iterations of the mixed workload.

use std::time::Instant;

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Client, Progress, load, percentile};
use crate::error::{Error, Result};

/// OFFSET vs keyset at one page of the generation campaign.
#[derive(Debug, Clone, Serialize)]
pub struct OffsetPoint {
    pub page: u64,
    pub offset_sql_ms: f64,
    pub keyset_sql_ms: f64,
    pub keyset_http_ms: f64,
}

async fn time_sql(db: &DatabaseConnection, sql: &str, values: Vec<sea_orm::Value>, runs: usize) -> Result<f64> {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        db.query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            values.clone(),
        ))
        .await?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    Ok(percentile(&samples, 50.0))
}

/// Plain SQL `LIMIT 50 OFFSET k` against the keyset statement and the GraphQL page at pages
/// 1, 10, 100, 1000, 5000, 10000, 20000, 30000 and the last page (median of `runs` each).
pub(crate) async fn offset_baseline(
    db: &DatabaseConnection,
    client: &Client,
    progress: &Progress,
    campaign: Uuid,
    rows: u64,
    runs: usize,
) -> Result<Vec<OffsetPoint>> {
    let last_page = rows.div_ceil(50).max(1);
    let placeholder = |n: usize| match db.get_database_backend() {
        sea_orm::DbBackend::Sqlite => "?".to_owned(),
        _ => format!("${n}"),
    };
    let mut points = Vec::new();
    let pages = [1, 10, 100, 1000, 5000, 10_000, 20_000, 30_000, last_page];
    progress.phase("OFFSET baseline", pages.len() as u64);
    for page in pages {
        progress.inc();
        if page > last_page || (page == last_page && points.iter().any(|p: &OffsetPoint| p.page == page)) {
            continue;
        }
        let offset = (page - 1) * 50;
        let offset_sql = format!(
            "SELECT * FROM generated_domains WHERE domain_generation_campaign_id = {} ORDER BY offset_index LIMIT 50 OFFSET {offset}",
            placeholder(1)
        );
        let offset_ms = time_sql(db, &offset_sql, vec![campaign.into()], runs).await?;
        let keyset_sql = format!(
            "SELECT * FROM generated_domains WHERE domain_generation_campaign_id = {} AND offset_index > {} ORDER BY offset_index LIMIT 51",
            placeholder(1),
            placeholder(2)
        );
        let keyset_ms = time_sql(db, &keyset_sql, vec![campaign.into(), (offset as i64 - 1).into()], runs).await?;
        let cursor = if offset == 0 {
            Value::Null
        } else {
            let r = client
                .post(
                    "query($c: UUID!, $o: Int!) { campaignByDatabaseId(databaseId: $c) { findGeneratedDomain(offsetIndex: $o) { cursor } } }",
                    json!({ "c": campaign, "o": offset - 1 }),
                )
                .await?;
            r["data"]["campaignByDatabaseId"]["findGeneratedDomain"]["cursor"].clone()
        };
        let query = "query($c: UUID!, $after: String) { campaignByDatabaseId(databaseId: $c) {
            generatedDomains(first: 50, after: $after) { edges { cursor node { id databaseId domainName offsetIndex createdAt } }
            pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }";
        let mut samples = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            client.post(query, json!({ "c": campaign, "after": cursor })).await?;
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        samples.sort_by(f64::total_cmp);
        let point = OffsetPoint {
            page,
            offset_sql_ms: offset_ms,
            keyset_sql_ms: keyset_ms,
            keyset_http_ms: percentile(&samples, 50.0),
        };
        progress.line(format!(
            "page {:>6}: OFFSET SQL {:>9.3} ms   keyset SQL {:>7.3} ms   keyset over HTTP {:>7.3} ms   OFFSET/keyset {:>8.1}×",
            point.page,
            point.offset_sql_ms,
            point.keyset_sql_ms,
            point.keyset_http_ms,
            point.offset_sql_ms / point.keyset_sql_ms.max(1e-6)
        ));
        points.push(point);
    }
    Ok(points)
}

/// Latency of a cursor walk, by where in the walk a page was.
#[derive(Debug, Clone, Serialize)]
pub struct WalkReport {
    pub direction: String,
    pub pages: usize,
    pub first_100_p50_ms: f64,
    pub last_100_p50_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// p50 of the deepest 100 pages over p50 of the first 100.
    pub deepest_over_first: f64,
}

/// Walks `pages` pages of 50 over HTTP, forwards from the start (`first`/`after`) or
/// backwards from the end (`last`/`before`).
pub(crate) async fn walk(
    client: &Client,
    progress: &Progress,
    campaign: Uuid,
    pages: usize,
    forwards: bool,
) -> Result<WalkReport> {
    progress.phase(if forwards { "walk forwards" } else { "walk backwards" }, pages as u64);
    let query = if forwards {
        "query($c: UUID!, $cur: String) { campaignByDatabaseId(databaseId: $c) {
           generatedDomains(first: 50, after: $cur) { edges { cursor node { id databaseId domainName offsetIndex createdAt } }
           pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"
    } else {
        "query($c: UUID!, $cur: String) { campaignByDatabaseId(databaseId: $c) {
           generatedDomains(last: 50, before: $cur) { edges { cursor node { id databaseId domainName offsetIndex createdAt } }
           pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"
    };
    let mut cursor = Value::Null;
    let mut latencies = Vec::with_capacity(pages);
    for _ in 0..pages {
        let started = Instant::now();
        let r = client.post(query, json!({ "c": campaign, "cur": cursor })).await?;
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        progress.inc();
        let info = &r["data"]["campaignByDatabaseId"]["generatedDomains"]["pageInfo"];
        let (more, next) = if forwards {
            (&info["hasNextPage"], &info["endCursor"])
        } else {
            (&info["hasPreviousPage"], &info["startCursor"])
        };
        if more != &Value::Bool(true) {
            break;
        }
        cursor = next.clone();
    }
    if latencies.is_empty() {
        return Err(Error::Internal("the walk returned no page".to_owned()));
    }
    let p50_of = |slice: &[f64]| {
        let mut s = slice.to_vec();
        s.sort_by(f64::total_cmp);
        percentile(&s, 50.0)
    };
    // The first and the deepest 100 pages (a tenth of a shorter walk).
    let window = (latencies.len() / 10).clamp(1, 100);
    let first = p50_of(&latencies[..window]);
    let last = p50_of(&latencies[latencies.len() - window..]);
    let mut sorted = latencies.clone();
    sorted.sort_by(f64::total_cmp);
    let report = WalkReport {
        direction: if forwards { "forwards" } else { "backwards" }.to_owned(),
        pages: latencies.len(),
        first_100_p50_ms: first,
        last_100_p50_ms: last,
        p50_ms: percentile(&sorted, 50.0),
        p95_ms: percentile(&sorted, 95.0),
        p99_ms: percentile(&sorted, 99.0),
        deepest_over_first: last / first.max(1e-6),
    };
    progress.line(format!(
        "walk {:<9} {:>5} pages: p50 {:.3} ms p95 {:.3} ms p99 {:.3} ms; first 100 pages p50 {:.3} ms, last 100 p50 {:.3} ms ({:.2}×)",
        report.direction,
        report.pages,
        report.p50_ms,
        report.p95_ms,
        report.p99_ms,
        report.first_100_p50_ms,
        report.last_100_p50_ms,
        report.deepest_over_first
    ));
    Ok(report)
}

/// Server RSS before and after `iterations` passes over the mixed workload.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryReport {
    pub iterations: usize,
    pub requests: usize,
    pub errors: usize,
    /// After the warm-up, then after each quarter of the run.
    pub rss_samples_bytes: Vec<u64>,
    pub rss_before_bytes: u64,
    pub rss_after_bytes: u64,
    pub growth_percent: f64,
}

/// Runs the workload `iterations` times (each request once per iteration, 4 users) after a
/// warm-up of a tenth as many (at least 4 passes: pools, statement caches and allocator arenas
/// fill up first), sampling the server's RSS (`rss`) after the warm-up and after each quarter
/// of the run; growth is the last sample against the first. A leak grows every quarter; a
/// warm-up effect does not.
pub async fn memory_stability(
    url: &str,
    workload: &[load::Request],
    iterations: usize,
    rss: impl Fn() -> u64,
) -> Result<MemoryReport> {
    let per_pass = workload.len().max(1);
    let warmup_passes = (iterations / 10).max(4);
    load::run("memory warm-up", url, workload, 4, per_pass * warmup_passes / 4).await;
    let before = rss();
    let mut samples = vec![before];
    let (mut requests, mut errors) = (0, 0);
    for _ in 0..4 {
        let report = load::run(
            "memory stability",
            url,
            workload,
            4,
            (per_pass * iterations / 16).max(1),
        )
        .await;
        requests += report.requests;
        errors += report.errors;
        samples.push(rss());
    }
    let after = samples.last().copied().unwrap_or(before);
    let growth = if before == 0 {
        0.0
    } else {
        (after as f64 - before as f64) / before as f64 * 100.0
    };
    Ok(MemoryReport {
        iterations,
        requests,
        errors,
        rss_samples_bytes: samples,
        rss_before_bytes: before,
        rss_after_bytes: after,
        growth_percent: growth,
    })
}
