//! Large dataset handling: every connection shape (see [`super::shapes`]) on a small and a
//! large seeded campaign — the first page, the next one, the last one and the one before it,
//! over HTTP — checked for exact page sizes, pageInfo and totalCount against plain SQL, and
//! timed (p50 per window). The cursors it meets feed the index-usage component.

use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::shapes::{ChainModels, Shape};
use super::{Client, Progress, load, percentile};
use crate::error::{Error, Result};

/// One shape on one dataset.
#[derive(Debug, Clone, Serialize)]
pub struct ShapeReport {
    pub dataset: String,
    pub shape: String,
    /// Rows of the connection (plain SQL count; totalCount must equal it).
    pub rows: u64,
    /// p50 of each window, in milliseconds (None when the connection has no second page).
    pub first_page_ms: f64,
    pub next_page_ms: Option<f64>,
    pub last_page_ms: f64,
    pub previous_page_ms: Option<f64>,
    /// The slowest of the four.
    pub slowest_p50_ms: f64,
}

/// Cursors met while paging one shape: the end of its first page and the start of its last.
#[derive(Debug, Clone)]
pub(crate) struct Visited {
    pub shape: Shape,
    pub after: Option<String>,
    pub before: Option<String>,
}

/// What one window must look like.
struct Expect {
    len: u64,
    has_next: bool,
    has_previous: bool,
}

/// The differences between a connection object and what it must be.
fn check(connection: &Value, expect: &Expect, rows: u64) -> Vec<String> {
    let mut problems = Vec::new();
    let len = connection["edges"].as_array().map_or(0, |e| e.len() as u64);
    if len != expect.len {
        problems.push(format!("{len} edges, expected {}", expect.len));
    }
    let info = &connection["pageInfo"];
    if info["hasNextPage"] != Value::Bool(expect.has_next) {
        problems.push(format!(
            "hasNextPage {}, expected {}",
            info["hasNextPage"], expect.has_next
        ));
    }
    if info["hasPreviousPage"] != Value::Bool(expect.has_previous) {
        problems.push(format!(
            "hasPreviousPage {}, expected {}",
            info["hasPreviousPage"], expect.has_previous
        ));
    }
    if connection["totalCount"].as_u64() != Some(rows) {
        problems.push(format!("totalCount {}, SQL count {rows}", connection["totalCount"]));
    }
    problems
}

fn ids(connection: &Value) -> Vec<String> {
    connection["edges"]
        .as_array()
        .map(|edges| edges.iter().map(|e| e["node"]["id"].to_string()).collect())
        .unwrap_or_default()
}

/// Sends `variables` once for the response to check, then `runs` timed times; (response, p50).
async fn window(client: &Client, query: &str, variables: Value, runs: usize) -> Result<(Value, f64)> {
    let response = client.post(query, variables.clone()).await?;
    let mut samples = super::measure(client, query, &variables, 0, runs).await?;
    samples.sort_by(f64::total_cmp);
    Ok((response, percentile(&samples, 50.0)))
}

/// Runs every shape on one dataset; problems go to `failures`, the slowest p50 is held to
/// `max_p50_ms` (when given). Returns the reports, the visited cursors and workload requests.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run(
    db: &DatabaseConnection,
    client: &Client,
    progress: &Progress,
    dataset: &str,
    chain: &ChainModels,
    shapes: &[Shape],
    runs: usize,
    max_p50_ms: Option<f64>,
    failures: &mut Vec<String>,
) -> Result<(Vec<ShapeReport>, Vec<Visited>, Vec<load::Request>)> {
    let mut reports = Vec::with_capacity(shapes.len());
    let mut visited = Vec::with_capacity(shapes.len());
    let mut workload = Vec::new();
    progress.phase(&format!("large dataset {dataset}"), shapes.len() as u64);
    for shape in shapes {
        let label = shape.label();
        let row = db
            .query_one(&shape.count_statement(chain))
            .await?
            .ok_or_else(|| Error::Internal("COUNT returned no row".to_owned()))?;
        let rows = row.try_get_by_index::<i64>(0)? as u64;
        let query = shape.query(true);
        let base = shape.variables(chain);
        let with = |pairs: &[(&str, Value)]| {
            let mut vars: Map<String, Value> = base.clone();
            for (k, v) in pairs {
                vars.insert((*k).to_owned(), v.clone());
            }
            Value::Object(vars)
        };
        let mut problems = Vec::new();
        let more = rows > 50;

        let first_vars = with(&[("first", json!(50))]);
        let (first, first_ms) = window(client, &query, first_vars.clone(), runs).await?;
        let first = shape.connection(&first).clone();
        let expect = Expect {
            len: rows.min(50),
            has_next: more,
            has_previous: false,
        };
        problems.extend(
            check(&first, &expect, rows)
                .into_iter()
                .map(|p| format!("first page: {p}")),
        );
        workload.push(load::Request {
            query: query.clone(),
            variables: first_vars,
        });

        let after = first["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        let mut next_ms = None;
        if more && let Some(after) = &after {
            let vars = with(&[("first", json!(50)), ("after", json!(after))]);
            let (next, ms) = window(client, &query, vars.clone(), runs).await?;
            let next = shape.connection(&next).clone();
            let expect = Expect {
                len: (rows - 50).min(50),
                has_next: rows > 100,
                has_previous: true,
            };
            problems.extend(
                check(&next, &expect, rows)
                    .into_iter()
                    .map(|p| format!("next page: {p}")),
            );
            let seen = ids(&first);
            if ids(&next).iter().any(|id| seen.contains(id)) {
                problems.push("next page repeats rows of the first".to_owned());
            }
            next_ms = Some(ms);
            workload.push(load::Request {
                query: shape.query(false),
                variables: vars,
            });
        }

        let (last, last_ms) = window(client, &query, with(&[("last", json!(50))]), runs).await?;
        let last = shape.connection(&last).clone();
        let expect = Expect {
            len: rows.min(50),
            has_next: false,
            has_previous: more,
        };
        problems.extend(
            check(&last, &expect, rows)
                .into_iter()
                .map(|p| format!("last page: {p}")),
        );

        let before = last["pageInfo"]["startCursor"].as_str().map(str::to_owned);
        let mut previous_ms = None;
        if more && let Some(before) = &before {
            let vars = with(&[("last", json!(50)), ("before", json!(before))]);
            let (previous, ms) = window(client, &query, vars, runs).await?;
            let previous = shape.connection(&previous).clone();
            let expect = Expect {
                len: (rows - 50).min(50),
                has_next: true,
                has_previous: rows > 100,
            };
            problems.extend(
                check(&previous, &expect, rows)
                    .into_iter()
                    .map(|p| format!("page before the last: {p}")),
            );
            let seen = ids(&last);
            if ids(&previous).iter().any(|id| seen.contains(id)) {
                problems.push("page before the last repeats rows of the last".to_owned());
            }
            previous_ms = Some(ms);
        }

        let slowest = [Some(first_ms), next_ms, Some(last_ms), previous_ms]
            .into_iter()
            .flatten()
            .fold(0.0, f64::max);
        if let Some(max) = max_p50_ms
            && slowest > max
        {
            problems.push(format!("slowest window p50 {slowest:.3} ms > {max} ms"));
        }
        for problem in problems {
            failures.push(format!("large dataset {dataset}, {label}: {problem}"));
        }
        progress.line(format!(
            "{dataset:>4} {label:<96} {rows:>9} rows  first {first_ms:>6.2}  next {:>6}  last {last_ms:>6.2}  previous {:>6} ms",
            next_ms.map_or("-".to_owned(), |m| format!("{m:.2}")),
            previous_ms.map_or("-".to_owned(), |m| format!("{m:.2}")),
        ));
        reports.push(ShapeReport {
            dataset: dataset.to_owned(),
            shape: label,
            rows,
            first_page_ms: first_ms,
            next_page_ms: next_ms,
            last_page_ms: last_ms,
            previous_page_ms: previous_ms,
            slowest_p50_ms: slowest,
        });
        visited.push(Visited {
            shape: shape.clone(),
            after,
            before,
        });
        progress.inc();
    }
    Ok((reports, visited, workload))
}
