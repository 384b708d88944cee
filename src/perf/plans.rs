//! Index-usage validation: the plan of the one statement the server runs for a page, checked
//! for an index range scan on the connection's table and no sort step. On PostgreSQL the plan
//! is the *generic* prepared plan the server's prepared statements end up with
//! (`plan_cache_mode = force_generic_plan`, PREPARE + EXPLAIN EXECUTE), optionally with
//! ANALYZE and BUFFERS to report the pages a request touches; on SQLite it is EXPLAIN QUERY
//! PLAN. perf-test runs it on the seeded data; the EXPLAIN test runs it on every shape.

use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::sea_query::{PostgresQueryBuilder, QueryBuilder, SelectStatement, SqliteQueryBuilder, Values};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use serde::Serialize;
use serde_json::Value;

use super::Progress;
use super::datasets::Visited;
use super::shapes::ChainModels;
use crate::error::{Error, Result};
use crate::pagination::{PageArgs, PageStatement};

static PLAN_NAMES: AtomicU64 = AtomicU64::new(0);

/// What a plan showed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PlanCheck {
    /// Index (or index-only) scans of the connection's table.
    pub index_scans: usize,
    /// What disqualifies the plan: a sort, a sequential scan, rows filtered after the index.
    pub problems: Vec<String>,
    /// Shared buffers hit and read (PostgreSQL with ANALYZE; planning excluded).
    pub shared_hit_blocks: Option<u64>,
    pub shared_read_blocks: Option<u64>,
    /// Execution time the database reported (PostgreSQL with ANALYZE).
    pub execution_ms: Option<f64>,
    /// The plan, compact: one node or SQLite detail line per entry.
    pub plan: Vec<String>,
}

impl PlanCheck {
    /// An index scan and nothing wrong.
    pub fn ok(&self) -> bool {
        self.index_scans > 0 && self.problems.is_empty()
    }

    /// Buffers the page touched (hit + read), when measured.
    pub fn buffers(&self) -> Option<u64> {
        Some(self.shared_hit_blocks? + self.shared_read_blocks?)
    }
}

/// Checks a PostgreSQL JSON plan node (and its children) for `table`.
pub fn check_pg_plan(node: &Value, table: &str, check: &mut PlanCheck) {
    let kind = node["Node Type"].as_str().unwrap_or_default();
    let relation = node["Relation Name"].as_str().unwrap_or_default();
    let index = node["Index Name"]
        .as_str()
        .map(|i| format!(" using {i}"))
        .unwrap_or_default();
    check.plan.push(format!(
        "{kind}{}{index}",
        if relation.is_empty() {
            String::new()
        } else {
            format!(" on {relation}")
        }
    ));
    if kind.contains("Sort") {
        check.problems.push(format!("{kind} node"));
    }
    if relation == table {
        match kind {
            "Index Scan" | "Index Only Scan" => {
                check.index_scans += 1;
                if let Some(filter) = node.get("Filter") {
                    check.problems.push(format!("rows filtered after the index ({filter})"));
                }
            }
            other => check.problems.push(format!("{other} on {table}")),
        }
    }
    if let Some(children) = node["Plans"].as_array() {
        for child in children {
            check_pg_plan(child, table, check);
        }
    }
}

/// Shared buffers (hit, read) of a plan: a node's figures include its children's, but not
/// those of the InitPlans and SubPlans below it (the neighbour probe and totalCount), which
/// are added.
fn buffers(root: &Value) -> (u64, u64) {
    fn own(node: &Value) -> (u64, u64) {
        let get = |key: &str| node[key].as_u64().unwrap_or(0);
        (get("Shared Hit Blocks"), get("Shared Read Blocks"))
    }
    fn subplans(node: &Value, total: &mut (u64, u64)) {
        for child in node["Plans"].as_array().into_iter().flatten() {
            if matches!(child["Parent Relationship"].as_str(), Some("InitPlan" | "SubPlan")) {
                let (hit, read) = own(child);
                total.0 += hit;
                total.1 += read;
            }
            subplans(child, total);
        }
    }
    let mut total = own(root);
    subplans(root, &mut total);
    total
}

/// Checks SQLite EXPLAIN QUERY PLAN detail lines for `table`.
pub fn check_sqlite_plan(details: &[String], table: &str) -> PlanCheck {
    let mut check = PlanCheck {
        plan: details.to_vec(),
        ..PlanCheck::default()
    };
    if details.iter().any(|d| d.contains("TEMP B-TREE")) {
        check.problems.push("sorts in a temporary b-tree".to_owned());
    }
    for access in details
        .iter()
        .filter(|d| d.contains(&format!(" {table} ")) || d.ends_with(&format!(" {table}")))
    {
        // SEARCH = index range; SCAN … USING INDEX = walking an index in order from one end
        // (only when nothing narrows the range: an unfiltered first/last page).
        if access.starts_with("SEARCH") || access.contains("USING INDEX") || access.contains("USING COVERING INDEX") {
            check.index_scans += 1;
        } else {
            check.problems.push(format!("not an index scan: {access}"));
        }
    }
    check
}

/// A statement [`explain`] can render: a plain SELECT, or the page statement the server runs.
pub trait Explainable {
    /// The SQL for `backend` and its values.
    fn render(&self, backend: DbBackend) -> (String, Values);
}

impl Explainable for SelectStatement {
    fn render(&self, backend: DbBackend) -> (String, Values) {
        match backend {
            DbBackend::Postgres => self.build(PostgresQueryBuilder),
            _ => self.build(SqliteQueryBuilder),
        }
    }
}

impl Explainable for PageStatement {
    fn render(&self, backend: DbBackend) -> (String, Values) {
        self.build(backend)
    }
}

/// Explains `statement` (see the module docs); `analyze` runs it too, for buffers and time
/// (PostgreSQL; SQLite has no such figures). Runs inside a transaction that is rolled back.
pub async fn explain(
    db: &DatabaseConnection,
    statement: &impl Explainable,
    table: &str,
    analyze: bool,
) -> Result<PlanCheck> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let (sql, values) = statement.render(DbBackend::Postgres);
            let args: Vec<String> = values
                .0
                .iter()
                .map(|v| PostgresQueryBuilder.value_to_string(v))
                .collect();
            let txn = db.begin().await?;
            txn.execute_unprepared("SET LOCAL plan_cache_mode = force_generic_plan")
                .await?;
            if table == "campaigns" {
                // A handful of campaigns fit one page, where a scan + sort is the cheaper plan;
                // what matters is that an index exists for when there are many.
                txn.execute_unprepared("SET LOCAL enable_seqscan = off").await?;
                // The penalty that setting puts on the counts table's scan would push the plan's
                // cost over jit_above_cost, and ANALYZE would time JIT compilation (~200 ms).
                txn.execute_unprepared("SET LOCAL jit = off").await?;
            }
            // Prepared statements outlive transactions: a name of its own per call, so one left
            // behind by a failed call cannot collide with the next.
            let name = format!("domainflow_plan_{}", PLAN_NAMES.fetch_add(1, Ordering::Relaxed));
            txn.execute_unprepared(&format!("PREPARE {name} AS {sql}")).await?;
            let options = if analyze { "ANALYZE, BUFFERS, " } else { "" };
            let args = if args.is_empty() {
                String::new()
            } else {
                format!("({})", args.join(", "))
            };
            let explain = format!("EXPLAIN ({options}FORMAT JSON) EXECUTE {name}{args}");
            let row = txn
                .query_one_raw(Statement::from_string(DbBackend::Postgres, explain))
                .await?
                .ok_or_else(|| Error::Internal("EXPLAIN returned no row".to_owned()))?;
            let plan: Value = row.try_get_by_index(0)?;
            txn.execute_unprepared(&format!("DEALLOCATE {name}")).await?;
            txn.rollback().await?;
            let root = &plan[0];
            let mut check = PlanCheck::default();
            check_pg_plan(&root["Plan"], table, &mut check);
            if analyze {
                let (hit, read) = buffers(&root["Plan"]);
                check.shared_hit_blocks = Some(hit);
                check.shared_read_blocks = Some(read);
                check.execution_ms = root["Execution Time"].as_f64();
            }
            Ok(check)
        }
        backend => {
            let (sql, values) = statement.render(backend);
            let rows = db
                .query_all_raw(Statement::from_sql_and_values(
                    backend,
                    format!("EXPLAIN QUERY PLAN {sql}"),
                    values,
                ))
                .await?;
            let details: Vec<String> = rows
                .iter()
                .filter_map(|r| r.try_get_by_index::<String>(3).ok())
                .collect();
            Ok(check_sqlite_plan(&details, table))
        }
    }
}

/// The plan of one shape and window on the seeded data.
#[derive(Debug, Clone, Serialize)]
pub struct IndexReport {
    pub shape: String,
    /// `first`, `first+after`, `last`, `last+before`.
    pub window: String,
    #[serde(flatten)]
    pub check: PlanCheck,
}

/// Explains (with ANALYZE on PostgreSQL) the page statement of every visited shape for its
/// four windows, with the real cursors the large-dataset component met; a plan without an
/// index scan or with a sort or a filter after the index goes to `failures`.
pub(crate) async fn validate(
    db: &DatabaseConnection,
    chain: &ChainModels,
    visited: &[Visited],
    progress: &Progress,
    failures: &mut Vec<String>,
) -> Result<Vec<IndexReport>> {
    let backend = db.get_database_backend();
    let mut reports = Vec::new();
    progress.phase("index usage", visited.len() as u64);
    for Visited { shape, after, before } in visited {
        let (scope, kind) = shape.scope(chain);
        let windows = [
            (
                "first",
                PageArgs {
                    first: Some(50),
                    ..PageArgs::default()
                },
            ),
            (
                "first+after",
                PageArgs {
                    first: Some(50),
                    after: after.clone(),
                    ..PageArgs::default()
                },
            ),
            (
                "last",
                PageArgs {
                    last: Some(50),
                    ..PageArgs::default()
                },
            ),
            (
                "last+before",
                PageArgs {
                    last: Some(50),
                    before: before.clone(),
                    ..PageArgs::default()
                },
            ),
        ];
        let mut worst: Option<u64> = None;
        for (label, args) in windows {
            if (label == "first+after" && after.is_none()) || (label == "last+before" && before.is_none()) {
                continue;
            }
            let window = args.validate(u32::MAX >> 1, &scope, kind)?;
            let statement = shape.statement(chain, &window, backend);
            let check = explain(db, &statement, shape.table(), true).await?;
            if !check.ok() {
                failures.push(format!(
                    "index usage, {} [{label}]: {} (plan: {})",
                    shape.label(),
                    if check.problems.is_empty() {
                        "no index scan".to_owned()
                    } else {
                        check.problems.join("; ")
                    },
                    check.plan.join(" > ")
                ));
            }
            worst = match (worst, check.buffers()) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            reports.push(IndexReport {
                shape: shape.label(),
                window: label.to_owned(),
                check,
            });
        }
        progress.line(format!(
            "index usage {:<96} {}",
            shape.label(),
            worst.map_or_else(
                || "index scans, no sort".to_owned(),
                |b| format!("index scans, no sort, ≤ {b} buffers per page")
            )
        ));
        progress.inc();
    }
    Ok(reports)
}
