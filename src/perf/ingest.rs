//! perf-test `ingest`: the campaign engine's write pattern against the maintained counts.
//!
//! W writers, each on its own connection, write into ONE campaign chain (a DNS-validation and
//! an HTTP-keyword campaign) for T seconds. Each transaction is 3–5 statements in random order
//! — batch inserts of B DNS or HTTP results with random statuses, status updates that move up
//! to B/2 of the writer's rows between count keys (and bump `attempts`), deletes of up to B/4
//! — the mix the engine produces. Writers own disjoint rows, so without the count triggers
//! they never touch a row another writer touches: any lock wait or deadlock in the maintained
//! run is the counts' doing.
//!
//! The same workload runs twice in one invocation, side by side: with the counts maintained
//! (the triggers as migrated) and with them off for the writers' transactions
//! (`SET LOCAL session_replication_role = replica`: the baseline; PostgreSQL only, needs a
//! superuser). Reported per run: rows/s, transaction (commit) p50/p99, deadlocks and
//! serialization failures (the writers' own errors, and the database's `pg_stat_database`
//! deadlock counter), and lock waits (writer backends sampled every 5 ms in `pg_stat_activity`
//! waiting on a lock). Afterwards every count key of the maintained campaigns is compared with
//! `count(*)`.
//!
//! While the maintained run writes, R readers page every connection of the campaigns (with
//! `totalCount` and the per-status counts) and of the large campaign's generated domains over
//! HTTP; the same readers run alone first, so both latencies come from the same run. Last, on
//! PostgreSQL, the cost of a `totalCount` whose key holds pending (un-compacted) deltas: a
//! campaign whose group is held at the compaction bound (its compaction kept off by holding
//! its advisory lock) against a compacted one, requests alternating.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sea_orm::sea_query::{Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, IsolationLevel, RuntimeErr, Statement, TransactionTrait,
};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Client, Progress, percentile};
use crate::config::Settings;
use crate::entity::{BusinessStatus, CampaignStatus, CampaignType, Timestamp, ValidationStatus};
use crate::error::{Error, Result};

/// Options of the component (perf-test flags), with the targets as defaults.
#[derive(Debug, Clone, clap::Args)]
pub struct IngestOptions {
    /// Seconds each ingest run writes (0 skips the component).
    #[arg(long = "ingest-seconds", default_value_t = 10.0)]
    pub seconds: f64,
    /// Concurrent writers, each on its own connection, all into one campaign chain.
    #[arg(long = "ingest-writers", default_value_t = 8)]
    pub writers: usize,
    /// Rows per insert statement (updates move up to half as many, deletes a quarter).
    #[arg(long = "ingest-batch", default_value_t = 100)]
    pub batch: u32,
    /// Readers paging over HTTP while the maintained run writes (0: none).
    #[arg(long = "ingest-readers", default_value_t = 8)]
    pub readers: usize,
    /// Isolation level of the writers' transactions.
    #[arg(long = "ingest-isolation", value_enum, default_value_t = Isolation::ReadCommitted)]
    pub isolation: Isolation,
    /// Also run the workload with the count triggers off, the baseline (PostgreSQL).
    #[arg(long = "ingest-baseline", default_value_t = true, action = clap::ArgAction::Set)]
    pub baseline: bool,
    /// Requests of the pending-deltas totalCount comparison (PostgreSQL; 0 skips it).
    #[arg(long = "ingest-pending-requests", default_value_t = 1000)]
    pub pending_requests: usize,
    /// Target: maintained rows/s over the baseline's.
    #[arg(long = "min-ingest-ratio", default_value_t = 0.85)]
    pub min_ratio: f64,
    /// Target: p99 of the readers' pages during the ingest, in milliseconds (or, when higher,
    /// 1.25 × their p99 during the trigger-free baseline: what the machine allows).
    #[arg(long = "max-ingest-read-p99-ms", default_value_t = 5.0)]
    pub max_read_p99_ms: f64,
    /// Target: p50 cost of totalCount over pending deltas, in milliseconds.
    #[arg(long = "max-pending-total-ms", default_value_t = 0.1)]
    pub max_pending_ms: f64,
    /// Rounds: each runs the baseline and then the maintained workload for `--ingest-seconds`,
    /// so the two modes alternate and share the machine's drift.
    #[arg(long = "ingest-rounds", default_value_t = 2)]
    pub rounds: usize,
    /// Run only this component (after making sure the data is seeded).
    #[arg(long = "only-ingest")]
    pub only: bool,
}

impl IngestOptions {
    fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.seconds.max(0.0))
    }
}

/// Isolation level of the writers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    ReadCommitted,
    RepeatableRead,
}

/// One run of the workload.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestRun {
    pub mode: String,
    pub transactions: u64,
    /// Rows inserted, updated and deleted by committed transactions.
    pub rows: u64,
    pub rows_per_second: f64,
    pub commit_p50_ms: f64,
    pub commit_p99_ms: f64,
    pub deadlocks: u64,
    pub serialization_failures: u64,
    pub other_errors: u64,
    /// `pg_stat_database.deadlocks` over the run.
    pub database_deadlocks: u64,
    /// Writer backends seen waiting on a lock, summed over the samples …
    pub lock_waits: u64,
    /// … of which on a counts table (or on a row lock: writers share no rows but counter rows).
    pub counts_lock_waits: u64,
    pub lock_samples: u64,
    /// Waits by kind (`wait_event` on relation).
    pub lock_wait_kinds: std::collections::BTreeMap<String, u64>,
    pub first_error: Option<String>,
}

impl std::fmt::Display for IngestRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<28} {:>7} tx {:>9.0} rows/s  commit p50 {:>6.2} ms p99 {:>7.2} ms  deadlocks {} (db {})  \
             serialization failures {}  lock waits {} (counts {}) in {} samples {:?}  other errors {}",
            self.mode,
            self.transactions,
            self.rows_per_second,
            self.commit_p50_ms,
            self.commit_p99_ms,
            self.deadlocks,
            self.database_deadlocks,
            self.serialization_failures,
            self.lock_waits,
            self.counts_lock_waits,
            self.lock_samples,
            self.lock_wait_kinds,
            self.other_errors
        )
    }
}

/// Page latencies of the readers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReadFigures {
    pub label: String,
    pub readers: usize,
    pub requests: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl std::fmt::Display for ReadFigures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "reads {:<22} {} readers: {} requests, p50 {:.2} ms, p99 {:.2} ms, {} errors",
            self.label, self.readers, self.requests, self.p50_ms, self.p99_ms, self.errors
        )
    }
}

/// `totalCount` over a key with pending deltas vs a compacted one.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PendingCost {
    pub requests: usize,
    pub pending_rows: i64,
    pub compacted_rows: i64,
    pub pending_p50_ms: f64,
    pub compacted_p50_ms: f64,
    pub cost_ms: f64,
}

/// The component's report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestReport {
    pub backend: String,
    /// How the database keeps the counts (read from its schema).
    pub design: String,
    pub writers: usize,
    pub seconds: f64,
    pub batch: u32,
    pub isolation: String,
    pub maintained: IngestRun,
    pub baseline: Option<IngestRun>,
    /// Maintained rows/s over the baseline's.
    pub throughput_ratio: Option<f64>,
    /// Every count key of the ingest campaigns equals `count(*)`.
    pub counts_exact: bool,
    pub mismatches: Vec<String>,
    pub reads_alone: Option<ReadFigures>,
    /// The same readers while the baseline writes (no counts maintained) …
    pub reads_during_baseline: Option<ReadFigures>,
    /// … and while the maintained workload writes.
    pub reads_during_ingest: Option<ReadFigures>,
    pub pending: Option<PendingCost>,
}

/// The readers' GraphQL requests: query and variables.
type Requests = Arc<Vec<(String, Value)>>;

/// The two campaigns the writers write into.
#[derive(Debug, Clone, Copy)]
struct Chain {
    dns: Uuid,
    http: Uuid,
}

/// SQLSTATE of a database error, when there is one.
fn sqlstate(err: &DbErr) -> Option<String> {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            e.as_database_error().and_then(|d| d.code()).map(|c| c.into_owned())
        }
        _ => None,
    }
}

/// SplitMix64: each writer's own random stream (no `rand` dependency for a workload mix).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % Ord::max(n, 1)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

const VALIDATION: [ValidationStatus; 5] = [
    ValidationStatus::Pending,
    ValidationStatus::Valid,
    ValidationStatus::Invalid,
    ValidationStatus::Error,
    ValidationStatus::Skipped,
];
const BUSINESS: [Option<BusinessStatus>; 4] = [
    None,
    Some(BusinessStatus::ValidDns),
    Some(BusinessStatus::LeadCandidate),
    Some(BusinessStatus::Excluded),
];

#[derive(Debug, Clone, Copy)]
enum Step {
    InsertDns,
    InsertHttp,
    UpdateDns,
    UpdateHttp,
    DeleteDns,
    DeleteHttp,
}

const STEPS: [Step; 6] = [
    Step::InsertDns,
    Step::InsertHttp,
    Step::UpdateDns,
    Step::UpdateHttp,
    Step::DeleteDns,
    Step::DeleteHttp,
];

/// One writer: its connection, its rows, its figures.
struct Writer {
    id: usize,
    db: DatabaseConnection,
    backend: DbBackend,
    chain: Chain,
    batch: u32,
    rng: Rng,
    dns_rows: Vec<Uuid>,
    http_rows: Vec<Uuid>,
    sequence: u64,
    /// Tells this run's rows from another run's in their names.
    run: u64,
}

/// What one committed transaction changed, applied to the writer's rows only on commit.
#[derive(Default)]
struct Pending {
    rows: u64,
    dns_added: Vec<Uuid>,
    http_added: Vec<Uuid>,
    dns_removed: Vec<Uuid>,
    http_removed: Vec<Uuid>,
}

#[derive(Default)]
struct WriterFigures {
    transactions: u64,
    rows: u64,
    commit_ms: Vec<f64>,
    deadlocks: u64,
    serialization_failures: u64,
    other_errors: u64,
    first_error: Option<String>,
}

impl Writer {
    fn statement(&self, stmt: &impl sea_orm::sea_query::QueryStatementWriter) -> Statement {
        let (sql, values) = match self.backend {
            DbBackend::Postgres => stmt.build(sea_orm::sea_query::PostgresQueryBuilder),
            _ => stmt.build(sea_orm::sea_query::SqliteQueryBuilder),
        };
        Statement::from_sql_and_values(self.backend, sql, values)
    }

    fn name(&mut self, kind: &str) -> String {
        self.sequence += 1;
        format!("w{}-{:x}-{}-{kind}.ingest.example", self.id, self.run, self.sequence)
    }

    /// Up to `n` of `rows`, taken at random (a random order of keys too).
    fn sample(&mut self, rows: &[Uuid], n: usize) -> Vec<Uuid> {
        if rows.is_empty() {
            return Vec::new();
        }
        let start = self.rng.below(rows.len() as u64) as usize;
        rows.iter()
            .cycle()
            .skip(start)
            .take(n.min(rows.len()))
            .copied()
            .collect()
    }

    async fn step(
        &mut self,
        txn: &impl ConnectionTrait,
        step: Step,
        pending: &mut Pending,
    ) -> std::result::Result<(), DbErr> {
        let now = Timestamp::now().to_value(self.backend);
        let batch = self.batch as usize;
        let stmt = match step {
            Step::InsertDns => {
                let mut insert = Query::insert();
                insert.into_table("dns_validation_results").columns([
                    "id",
                    "dns_campaign_id",
                    "domain_name",
                    "validation_status",
                    "business_status",
                    "created_at",
                ]);
                for _ in 0..batch {
                    let id = Uuid::now_v7();
                    let name = self.name("dns");
                    let validation = self.rng.pick(&VALIDATION);
                    let business = self.rng.pick(&BUSINESS);
                    insert.values_panic([
                        id.into(),
                        self.chain.dns.into(),
                        name.into(),
                        sea_orm::ActiveEnum::to_value(&validation).into(),
                        business.map(|b| sea_orm::ActiveEnum::to_value(&b)).into(),
                        SimpleExpr::from(now.clone()),
                    ]);
                    pending.dns_added.push(id);
                }
                self.statement(&insert)
            }
            Step::InsertHttp => {
                let mut insert = Query::insert();
                insert.into_table("http_keyword_results").columns([
                    "id",
                    "http_keyword_campaign_id",
                    "domain_name",
                    "validation_status",
                    "http_status_code",
                    "created_at",
                ]);
                for _ in 0..batch {
                    let id = Uuid::now_v7();
                    let name = self.name("http");
                    let validation = self.rng.pick(&VALIDATION);
                    let code = self.rng.pick(&[200, 301, 404, 500]);
                    insert.values_panic([
                        id.into(),
                        self.chain.http.into(),
                        name.into(),
                        sea_orm::ActiveEnum::to_value(&validation).into(),
                        code.into(),
                        SimpleExpr::from(now.clone()),
                    ]);
                    pending.http_added.push(id);
                }
                self.statement(&insert)
            }
            Step::UpdateDns | Step::UpdateHttp => {
                let dns = matches!(step, Step::UpdateDns);
                let rows = if dns {
                    self.dns_rows.clone()
                } else {
                    self.http_rows.clone()
                };
                let ids = self.sample(&rows, batch / 2);
                if ids.is_empty() {
                    return Ok(());
                }
                let validation = self.rng.pick(&VALIDATION);
                let mut update = Query::update();
                let (table, campaign_column, campaign) = if dns {
                    ("dns_validation_results", "dns_campaign_id", self.chain.dns)
                } else {
                    ("http_keyword_results", "http_keyword_campaign_id", self.chain.http)
                };
                update
                    .table(table)
                    .value("validation_status", sea_orm::ActiveEnum::to_value(&validation))
                    .value("attempts", Expr::col("attempts").add(1))
                    .value("last_checked_at", now.clone())
                    .and_where(Expr::col(campaign_column).eq(campaign))
                    .and_where(Expr::col("id").is_in(ids));
                if dns {
                    let business = self.rng.pick(&BUSINESS);
                    update.value("business_status", business.map(|b| sea_orm::ActiveEnum::to_value(&b)));
                }
                self.statement(&update)
            }
            Step::DeleteDns | Step::DeleteHttp => {
                let dns = matches!(step, Step::DeleteDns);
                let rows = if dns {
                    self.dns_rows.clone()
                } else {
                    self.http_rows.clone()
                };
                let ids = self.sample(&rows, batch / 4);
                if ids.is_empty() {
                    return Ok(());
                }
                let (table, campaign_column, campaign) = if dns {
                    ("dns_validation_results", "dns_campaign_id", self.chain.dns)
                } else {
                    ("http_keyword_results", "http_keyword_campaign_id", self.chain.http)
                };
                let delete = Query::delete()
                    .from_table(table)
                    .and_where(Expr::col(campaign_column).eq(campaign))
                    .and_where(Expr::col("id").is_in(ids.clone()))
                    .to_owned();
                if dns {
                    pending.dns_removed.extend(ids);
                } else {
                    pending.http_removed.extend(ids);
                }
                self.statement(&delete)
            }
        };
        pending.rows += txn.execute_raw(stmt).await?.rows_affected();
        Ok(())
    }

    /// One transaction of 3–5 steps in random order; `counts` false turns the count triggers
    /// off for it (the baseline).
    async fn transaction(&mut self, isolation: Isolation, counts: bool) -> std::result::Result<Pending, DbErr> {
        let level = match (self.backend, isolation) {
            (DbBackend::Postgres, Isolation::RepeatableRead) => Some(IsolationLevel::RepeatableRead),
            _ => None,
        };
        let txn = self.db.begin_with_config(level, None).await?;
        if self.backend == DbBackend::Postgres {
            // The same round trip in both modes; `origin` is the default (triggers fire).
            let role = if counts { "origin" } else { "replica" };
            txn.execute_unprepared(&format!("SET LOCAL session_replication_role = {role}"))
                .await?;
        }
        let mut steps = STEPS;
        self.rng.shuffle(&mut steps);
        let n = 3 + self.rng.below(3) as usize;
        let mut pending = Pending::default();
        for step in &steps[..n] {
            self.step(&txn, *step, &mut pending).await?;
        }
        txn.commit().await?;
        Ok(pending)
    }

    fn apply(&mut self, pending: Pending) {
        self.dns_rows.extend(pending.dns_added);
        self.http_rows.extend(pending.http_added);
        if !pending.dns_removed.is_empty() {
            let gone: std::collections::HashSet<Uuid> = pending.dns_removed.into_iter().collect();
            self.dns_rows.retain(|id| !gone.contains(id));
        }
        if !pending.http_removed.is_empty() {
            let gone: std::collections::HashSet<Uuid> = pending.http_removed.into_iter().collect();
            self.http_rows.retain(|id| !gone.contains(id));
        }
    }

    async fn run(mut self, until: Instant, isolation: Isolation, counts: bool) -> WriterFigures {
        let mut figures = WriterFigures::default();
        while Instant::now() < until {
            let started = Instant::now();
            match self.transaction(isolation, counts).await {
                Ok(pending) => {
                    figures.commit_ms.push(started.elapsed().as_secs_f64() * 1000.0);
                    figures.transactions += 1;
                    figures.rows += pending.rows;
                    self.apply(pending);
                }
                Err(err) => {
                    match sqlstate(&err).as_deref() {
                        Some("40P01") => figures.deadlocks += 1,
                        Some("40001") => figures.serialization_failures += 1,
                        _ => figures.other_errors += 1,
                    }
                    figures.first_error.get_or_insert_with(|| err.to_string());
                }
            }
        }
        figures
    }
}

/// Connections for `n` writers (one each, no statement timeout) and their backend pids.
async fn writer_connections(settings: &Settings, n: usize) -> Result<Vec<(DatabaseConnection, Option<i32>)>> {
    let mut one = settings.clone();
    one.db_max_open_conns = 1;
    one.db_max_idle_conns = 1;
    one.db_statement_timeout = Duration::ZERO;
    let mut connections = Vec::with_capacity(n);
    for _ in 0..n {
        let db = crate::db::connect(&one).await?;
        let pid = if db.get_database_backend() == DbBackend::Postgres {
            Some(scalar(&db, "SELECT CAST(pg_backend_pid() AS BIGINT)").await? as i32)
        } else {
            None
        };
        connections.push((db, pid));
    }
    Ok(connections)
}

async fn scalar(db: &impl ConnectionTrait, sql: &str) -> Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .ok_or_else(|| Error::Internal(format!("{sql}: no row")))?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

async fn new_campaign(db: &DatabaseConnection, campaign_type: CampaignType, name: &str) -> Result<Uuid> {
    let id = Uuid::now_v7();
    let backend = db.get_database_backend();
    let now = Timestamp::now().to_value(backend);
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        "INSERT INTO campaigns (id, name, campaign_type, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
        [
            id.into(),
            format!("{name} {id}").into(),
            sea_orm::ActiveEnum::to_value(&campaign_type).into(),
            sea_orm::ActiveEnum::to_value(&CampaignStatus::Running).into(),
            now,
        ],
    ))
    .await?;
    Ok(id)
}

async fn new_chain(db: &DatabaseConnection, label: &str) -> Result<Chain> {
    Ok(Chain {
        dns: new_campaign(db, CampaignType::DnsValidation, &format!("ingest {label} (DNS)")).await?,
        http: new_campaign(
            db,
            CampaignType::HttpKeywordValidation,
            &format!("ingest {label} (HTTP)"),
        )
        .await?,
    })
}

/// Removes a chain. A baseline chain's rows were written without counts, so they go without
/// counts too (or their deletes would subtract what was never added).
async fn drop_chain(db: &DatabaseConnection, chain: Chain, counted: bool) -> Result<()> {
    let backend = db.get_database_backend();
    let txn = db.begin().await?;
    if !counted && backend == DbBackend::Postgres {
        txn.execute_unprepared("SET LOCAL session_replication_role = replica")
            .await?;
    }
    for (table, column, id) in [
        ("dns_validation_results", "dns_campaign_id", chain.dns),
        ("http_keyword_results", "http_keyword_campaign_id", chain.http),
    ] {
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            format!("DELETE FROM {table} WHERE {column} = $1"),
            [id.into()],
        ))
        .await?;
    }
    txn.commit().await?;
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        "DELETE FROM campaigns WHERE id IN ($1, $2)",
        [chain.dns.into(), chain.http.into()],
    ))
    .await?;
    Ok(())
}

/// Lock waits of the writers, sampled.
#[derive(Debug, Default)]
struct LockWaits {
    samples: u64,
    total: u64,
    on_counts: u64,
    kinds: std::collections::BTreeMap<String, u64>,
}

impl LockWaits {
    fn add(&mut self, other: LockWaits) {
        self.samples += other.samples;
        self.total += other.total;
        self.on_counts += other.on_counts;
        for (kind, n) in other.kinds {
            *self.kinds.entry(kind).or_default() += n;
        }
    }
}

/// Samples writer backends waiting on a lock every 5 ms until `done`: what they wait for and
/// on which relation. Writers own disjoint rows, so a row lock (`transactionid`, `tuple`) can
/// only be a counter row's, and a wait for a lock on a counts table is the counts' by
/// definition (relation extension aside, see below).
async fn sample_lock_waits(db: DatabaseConnection, pids: Vec<i32>, done: Arc<AtomicBool>) -> LockWaits {
    let mut waits = LockWaits::default();
    if pids.is_empty() {
        return waits;
    }
    let list = pids.iter().map(i32::to_string).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT a.wait_event || ' ' || COALESCE(CAST(CAST(l.relation AS regclass) AS text), '') \
         FROM pg_stat_activity a LEFT JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted \
         WHERE a.wait_event_type = 'Lock' AND a.pid IN ({list})"
    );
    while !done.load(Ordering::Relaxed) {
        if let Ok(rows) = db
            .query_all_raw(Statement::from_string(DbBackend::Postgres, sql.clone()))
            .await
        {
            waits.samples += 1;
            for row in rows {
                let kind: String = row.try_get_by_index(0).unwrap_or_default();
                waits.total += 1;
                // A relation-extension lock (`extend`: adding a page, held for microseconds, never
                // to the end of a transaction) is every insert-heavy table's, the result tables'
                // as much; it is listed but not held against the counts.
                let on_counts = kind.contains("_counts") && !kind.starts_with("extend");
                if on_counts || kind.starts_with("transactionid") || kind.starts_with("tuple") {
                    waits.on_counts += 1;
                }
                *waits.kinds.entry(kind.trim().to_owned()).or_default() += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    waits
}

async fn database_deadlocks(db: &DatabaseConnection) -> u64 {
    if db.get_database_backend() != DbBackend::Postgres {
        return 0;
    }
    let _ = db.execute_unprepared("SELECT pg_stat_clear_snapshot()").await;
    scalar(
        db,
        "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
    )
    .await
    .map_or(0, |n| n as u64)
}

/// What the runs of one mode added up to (the rounds alternate modes).
#[derive(Default)]
struct Totals {
    figures: WriterFigures,
    seconds: f64,
    database_deadlocks: u64,
    lock_waits: LockWaits,
    reads: Vec<f64>,
    read_errors: u64,
}

impl Totals {
    fn add(&mut self, run: Totals) {
        let f = &mut self.figures;
        f.transactions += run.figures.transactions;
        f.rows += run.figures.rows;
        f.commit_ms.extend(run.figures.commit_ms);
        f.deadlocks += run.figures.deadlocks;
        f.serialization_failures += run.figures.serialization_failures;
        f.other_errors += run.figures.other_errors;
        if f.first_error.is_none() {
            f.first_error = run.figures.first_error;
        }
        self.seconds += run.seconds;
        self.database_deadlocks += run.database_deadlocks;
        self.lock_waits.add(run.lock_waits);
        self.reads.extend(run.reads);
        self.read_errors += run.read_errors;
    }

    fn into_report(mut self, counts: bool, readers: usize) -> (IngestRun, Option<ReadFigures>) {
        self.figures.commit_ms.sort_by(f64::total_cmp);
        self.reads.sort_by(f64::total_cmp);
        let mode = if counts {
            "counts maintained"
        } else {
            "baseline (count triggers off)"
        };
        let reads = (readers > 0).then(|| ReadFigures {
            label: format!("during {mode}"),
            readers,
            requests: self.reads.len() as u64,
            errors: self.read_errors,
            p50_ms: percentile(&self.reads, 50.0),
            p99_ms: percentile(&self.reads, 99.0),
        });
        let f = self.figures;
        let run = IngestRun {
            mode: mode.to_owned(),
            transactions: f.transactions,
            rows: f.rows,
            rows_per_second: f.rows as f64 / self.seconds.max(1e-9),
            commit_p50_ms: percentile(&f.commit_ms, 50.0),
            commit_p99_ms: percentile(&f.commit_ms, 99.0),
            deadlocks: f.deadlocks,
            serialization_failures: f.serialization_failures,
            other_errors: f.other_errors,
            database_deadlocks: self.database_deadlocks,
            lock_waits: self.lock_waits.total,
            counts_lock_waits: self.lock_waits.on_counts,
            lock_samples: self.lock_waits.samples,
            lock_wait_kinds: self.lock_waits.kinds,
            first_error: f.first_error,
        };
        (run, reads)
    }
}

/// Runs the workload once into `chain` with `opts.writers` writers, and the readers (if any)
/// meanwhile.
async fn run_writers(
    db: &DatabaseConnection,
    settings: &Settings,
    chain: Chain,
    opts: &IngestOptions,
    counts: bool,
    readers: Option<(&Arc<Client>, &Requests)>,
) -> Result<Totals> {
    let connections = writer_connections(settings, opts.writers).await?;
    let pids: Vec<i32> = connections.iter().filter_map(|(_, pid)| *pid).collect();
    let deadlocks_before = database_deadlocks(db).await;
    let done = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn(sample_lock_waits(db.clone(), pids, done.clone()));
    let reading = readers.map(|(client, requests)| {
        tokio::spawn(run_readers(
            client.clone(),
            requests.clone(),
            opts.readers,
            done.clone(),
        ))
    });
    let started = Instant::now();
    let until = started + opts.duration();
    let tasks: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(i, (conn, _))| {
            let writer = Writer {
                id: i,
                backend: conn.get_database_backend(),
                db: conn,
                chain,
                batch: Ord::max(opts.batch, 4),
                rng: Rng(0x5EED ^ ((i as u64 + 1) << 32) ^ started.elapsed().as_nanos() as u64),
                dns_rows: Vec::new(),
                http_rows: Vec::new(),
                sequence: 0,
                run: u64::from(counts) << 32 | u64::from(started.elapsed().subsec_nanos()),
            };
            tokio::spawn(writer.run(until, opts.isolation, counts))
        })
        .collect();
    let mut totals = Totals::default();
    for task in tasks {
        let figures = task.await.map_err(|e| Error::Internal(format!("ingest writer: {e}")))?;
        totals.add(Totals {
            figures,
            ..Totals::default()
        });
    }
    totals.seconds = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    totals.lock_waits = sampler.await.unwrap_or_default();
    if let Some(reading) = reading
        && let Ok((reads, errors)) = reading.await
    {
        totals.reads = reads;
        totals.read_errors = errors;
    }
    // The statistics collector reports a backend's counters when its transaction ends.
    tokio::time::sleep(Duration::from_millis(600)).await;
    totals.database_deadlocks = database_deadlocks(db).await.saturating_sub(deadlocks_before);
    Ok(totals)
}

/// Every count key of the chain against `count(*)`; the differences, described.
async fn compare_counts(db: &DatabaseConnection, chain: Chain) -> Result<Vec<String>> {
    use std::collections::BTreeMap;
    let backend = db.get_database_backend();
    let keyed = |sql: String, id: Uuid| async move {
        let mut keys = BTreeMap::new();
        for row in db
            .query_all_raw(Statement::from_sql_and_values(backend, sql, [id.into()]))
            .await?
        {
            let key: (String, String) = (row.try_get_by_index(0)?, row.try_get_by_index(1)?);
            keys.insert(key, row.try_get_by_index::<i64>(2)?);
        }
        Ok::<_, Error>(keys)
    };
    let mut mismatches = Vec::new();
    for (table, counts, column, business, id) in [
        (
            "dns_validation_results",
            "dns_validation_result_counts",
            "dns_campaign_id",
            "business_status",
            chain.dns,
        ),
        (
            "http_keyword_results",
            "http_keyword_result_counts",
            "http_keyword_campaign_id",
            "''",
            chain.http,
        ),
    ] {
        let stored = keyed(
            format!(
                "SELECT validation_status, {business}, CAST(SUM(row_count) AS BIGINT) FROM {counts} \
                 WHERE {column} = $1 GROUP BY 1, 2 HAVING SUM(row_count) <> 0"
            ),
            id,
        )
        .await?;
        let truth = keyed(
            format!(
                "SELECT validation_status, COALESCE({business}, ''), count(*) FROM {table} \
                 WHERE {column} = $1 GROUP BY 1, 2"
            ),
            id,
        )
        .await?;
        for key in stored
            .keys()
            .chain(truth.keys())
            .collect::<std::collections::BTreeSet<_>>()
        {
            let (counted, real) = (
                stored.get(key).copied().unwrap_or(0),
                truth.get(key).copied().unwrap_or(0),
            );
            if counted != real {
                mismatches.push(format!("{counts} {key:?}: counted {counted}, count(*) {real}"));
            }
        }
    }
    Ok(mismatches)
}

/// The readers' requests: every connection of the chain with totalCount and per-status counts,
/// and the large campaign's generated domains with totalCount.
fn read_requests(chain: Chain, generation: Uuid) -> Vec<(String, Value)> {
    let page = "totalCount edges { cursor node { id domainName createdAt } } pageInfo { hasNextPage endCursor }";
    vec![
        (
            format!(
                "query($c: UUID!) {{ campaignByDatabaseId(databaseId: $c) {{ dnsValidationResults(first: 50) {{ {page} }} \
                 dnsStatusCounts {{ validationStatus businessStatus count }} }} }}"
            ),
            json!({ "c": chain.dns }),
        ),
        (
            format!(
                "query($c: UUID!) {{ campaignByDatabaseId(databaseId: $c) {{ dnsValidationResults(first: 50, \
                 filter: {{ validationStatus: VALID }}) {{ {page} }} }} }}"
            ),
            json!({ "c": chain.dns }),
        ),
        (
            format!(
                "query($c: UUID!) {{ campaignByDatabaseId(databaseId: $c) {{ httpKeywordResults(first: 50) {{ {page} }} \
                 httpStatusCounts {{ validationStatus count }} }} }}"
            ),
            json!({ "c": chain.http }),
        ),
        (
            format!(
                "query($c: UUID!) {{ campaignByDatabaseId(databaseId: $c) {{ generatedDomains(first: 50) {{ {page} }} }} }}"
            ),
            json!({ "c": generation }),
        ),
    ]
}

/// `readers` clients sending the requests round-robin until `done`: latencies in ms, errors.
async fn run_readers(
    client: Arc<Client>,
    requests: Requests,
    readers: usize,
    done: Arc<AtomicBool>,
) -> (Vec<f64>, u64) {
    let tasks: Vec<_> = (0..readers)
        .map(|r| {
            let (client, requests, done) = (client.clone(), requests.clone(), done.clone());
            tokio::spawn(async move {
                let (mut samples, mut errors) = (Vec::new(), 0u64);
                let mut i = r;
                while !done.load(Ordering::Relaxed) {
                    let (query, variables) = &requests[i % requests.len()];
                    i += 1;
                    let started = Instant::now();
                    match client.post(query, variables.clone()).await {
                        Ok(_) => samples.push(started.elapsed().as_secs_f64() * 1000.0),
                        Err(_) => errors += 1,
                    }
                }
                (samples, errors)
            })
        })
        .collect();
    let (mut samples, mut errors) = (Vec::new(), 0);
    for task in tasks {
        if let Ok((s, e)) = task.await {
            samples.extend(s);
            errors += e;
        }
    }
    (samples, errors)
}

/// The cost of a total whose key holds pending deltas (see the module doc). PostgreSQL only.
async fn pending_cost(
    db: &DatabaseConnection,
    client: &Client,
    compacted: Uuid,
    requests: usize,
) -> Result<PendingCost> {
    let backend = DbBackend::Postgres;
    let pending = new_campaign(db, CampaignType::DnsValidation, "ingest pending deltas").await?;
    let bound = i64::from(migration::COMPACT_ABOVE);
    // Keep compaction off the pending campaign: its group's advisory lock, held open.
    let holder = db.begin().await?;
    holder
        .execute_raw(Statement::from_sql_and_values(
            backend,
            "SELECT pg_advisory_xact_lock(hashtext('dns_validation_result_counts'), hashtext($1::text))",
            [pending.into()],
        ))
        .await?;
    let insert = "INSERT INTO dns_validation_results (id, dns_campaign_id, domain_name, validation_status, business_status, created_at) \
                  VALUES (gen_random_uuid(), $1, 'pending-' || $2 || '.ingest.example', $3, NULL, now())";
    for i in 0..bound {
        let status = sea_orm::ActiveEnum::to_value(&VALIDATION[i as usize % VALIDATION.len()]);
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            insert,
            [pending.into(), i.to_string().into(), status.into()],
        ))
        .await?;
    }
    crate::db::counts::compact(db).await?;
    let rows = |campaign: Uuid| async move {
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                "SELECT count(*) FROM dns_validation_result_counts WHERE dns_campaign_id = $1",
                [campaign.into()],
            ))
            .await?
            .ok_or_else(|| Error::Internal("count returned no row".into()))?;
        Ok::<i64, Error>(row.try_get_by_index(0)?)
    };
    let (pending_rows, compacted_rows) = (rows(pending).await?, rows(compacted).await?);
    let query =
        "query($c: UUID!) { campaignByDatabaseId(databaseId: $c) { dnsValidationResults(first: 1) { totalCount } } }";
    let (mut on_pending, mut on_compacted) = (Vec::new(), Vec::new());
    for i in 0..(requests * 2 + 40) {
        let (campaign, samples) = if i % 2 == 0 {
            (pending, &mut on_pending)
        } else {
            (compacted, &mut on_compacted)
        };
        let started = Instant::now();
        client.post(query, json!({ "c": campaign })).await?;
        if i >= 40 {
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    holder.rollback().await?;
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        "DELETE FROM campaigns WHERE id = $1",
        [pending.into()],
    ))
    .await?;
    on_pending.sort_by(f64::total_cmp);
    on_compacted.sort_by(f64::total_cmp);
    let (pending_p50_ms, compacted_p50_ms) = (percentile(&on_pending, 50.0), percentile(&on_compacted, 50.0));
    Ok(PendingCost {
        requests,
        pending_rows,
        compacted_rows,
        pending_p50_ms,
        compacted_p50_ms,
        cost_ms: pending_p50_ms - compacted_p50_ms,
    })
}

/// Which design the database's counts follow, from its schema.
async fn design(db: &DatabaseConnection) -> String {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            match scalar(
                db,
                "SELECT count(*) FROM pg_constraint WHERE conname = 'dns_validation_result_counts_pkey'",
            )
            .await
            {
                Ok(0) => "append-only deltas + compaction".to_owned(),
                Ok(_) => "one row per key, upserted (primary key)".to_owned(),
                Err(_) => "unknown".to_owned(),
            }
        }
        _ => "SQLite row triggers, one writer at a time".to_owned(),
    }
}

/// The whole component: the baseline run (PostgreSQL, when asked), then the maintained run
/// with readers, the counts check, the pending-deltas cost; the campaigns it made are removed.
pub(crate) async fn run(
    db: &DatabaseConnection,
    settings: &Settings,
    client: Option<Arc<Client>>,
    generation: Uuid,
    opts: &IngestOptions,
    progress: &Progress,
) -> Result<IngestReport> {
    let backend = db.get_database_backend();
    let postgres = backend == DbBackend::Postgres;
    let mut report = IngestReport {
        backend: format!("{backend:?}"),
        design: design(db).await,
        writers: opts.writers,
        seconds: opts.seconds,
        batch: opts.batch,
        isolation: format!("{:?}", opts.isolation),
        ..IngestReport::default()
    };
    progress.line(format!(
        "ingest: {} writers × {:.0} s, batches of {}, {:?}, counts: {}",
        opts.writers, report.seconds, opts.batch, opts.isolation, report.design
    ));
    let baseline_chain = if opts.baseline && postgres {
        Some(new_chain(db, "baseline").await?)
    } else {
        None
    };
    let chain = new_chain(db, "maintained").await?;
    let readers = client
        .as_ref()
        .filter(|_| opts.readers > 0)
        .map(|client| (client.clone(), Arc::new(read_requests(chain, generation))));
    let measured = async {
        if let Some((client, requests)) = &readers {
            let done = Arc::new(AtomicBool::new(false));
            let alone = tokio::spawn(run_readers(
                client.clone(),
                requests.clone(),
                opts.readers,
                done.clone(),
            ));
            tokio::time::sleep(opts.duration().min(Duration::from_secs(5))).await;
            done.store(true, Ordering::Relaxed);
            if let Ok((mut samples, errors)) = alone.await {
                samples.sort_by(f64::total_cmp);
                report.reads_alone = Some(ReadFigures {
                    label: "alone".to_owned(),
                    readers: opts.readers,
                    requests: samples.len() as u64,
                    errors,
                    p50_ms: percentile(&samples, 50.0),
                    p99_ms: percentile(&samples, 99.0),
                });
            }
        }
        let (mut baseline, mut maintained) = (Totals::default(), Totals::default());
        for _ in 0..opts.rounds.max(1) {
            let readers = readers.as_ref().map(|(c, r)| (c, r));
            if let Some(baseline_chain) = baseline_chain {
                baseline.add(run_writers(db, settings, baseline_chain, opts, false, readers).await?);
            }
            maintained.add(run_writers(db, settings, chain, opts, true, readers).await?);
        }
        Ok::<_, Error>((baseline, maintained))
    }
    .await;
    if let Some(baseline_chain) = baseline_chain {
        drop_chain(db, baseline_chain, false).await?;
    }
    let maintained = measured.map(|(baseline, maintained)| {
        if baseline_chain.is_some() {
            let (run, reads) = baseline.into_report(false, opts.readers);
            progress.line(format!("ingest: {run}"));
            report.baseline = Some(run);
            report.reads_during_baseline = reads;
        }
        let (run, reads) = maintained.into_report(true, opts.readers);
        report.reads_during_ingest = reads;
        run
    });
    let result = async {
        report.maintained = maintained?;
        progress.line(format!("ingest: {}", report.maintained));
        if let Some(baseline) = &report.baseline {
            report.throughput_ratio = Some(report.maintained.rows_per_second / baseline.rows_per_second.max(1e-9));
        }
        for reads in [
            &report.reads_alone,
            &report.reads_during_baseline,
            &report.reads_during_ingest,
        ]
        .into_iter()
        .flatten()
        {
            progress.line(format!("ingest: {reads}"));
        }
        report.mismatches = compare_counts(db, chain).await?;
        crate::db::counts::compact(db).await?;
        report.mismatches.extend(compare_counts(db, chain).await?);
        report.counts_exact = report.mismatches.is_empty();
        progress.line(format!(
            "ingest: counts {} ({} rows/s maintained{})",
            if report.counts_exact { "exact" } else { "WRONG" },
            report.maintained.rows_per_second.round(),
            report
                .throughput_ratio
                .map(|r| format!(", {:.1} % of the baseline", r * 100.0))
                .unwrap_or_default()
        ));
        if let (true, Some(client), true) = (postgres, &client, opts.pending_requests > 0) {
            let cost = pending_cost(db, client, chain.dns, opts.pending_requests).await?;
            progress.line(format!(
                "ingest: totalCount over {} pending delta rows p50 {:.3} ms vs {} compacted rows {:.3} ms: {:+.3} ms",
                cost.pending_rows, cost.pending_p50_ms, cost.compacted_rows, cost.compacted_p50_ms, cost.cost_ms
            ));
            report.pending = Some(cost);
        }
        Ok::<(), Error>(())
    }
    .await;
    drop_chain(db, chain, true).await?;
    result?;
    Ok(report)
}

/// The targets of the component, as failure lines.
pub fn failures(report: &IngestReport, opts: &IngestOptions) -> Vec<String> {
    let (min_ratio, max_read_p99_ms, max_pending_ms) = (opts.min_ratio, opts.max_read_p99_ms, opts.max_pending_ms);
    let mut failures = Vec::new();
    let run = &report.maintained;
    if run.deadlocks + run.database_deadlocks > 0 {
        failures.push(format!(
            "ingest: {} deadlocks ({} in pg_stat_database)",
            run.deadlocks, run.database_deadlocks
        ));
    }
    if run.serialization_failures > 0 {
        failures.push(format!("ingest: {} serialization failures", run.serialization_failures));
    }
    if run.other_errors > 0 {
        failures.push(format!(
            "ingest: {} failed transactions ({})",
            run.other_errors,
            run.first_error.as_deref().unwrap_or("")
        ));
    }
    if report.backend == "Postgres" && run.counts_lock_waits > 0 {
        failures.push(format!(
            "ingest: writers waited on the counts' locks {} times in {} samples ({:?})",
            run.counts_lock_waits, run.lock_samples, run.lock_wait_kinds
        ));
    }
    if !report.counts_exact {
        failures.push(format!("ingest: counts wrong: {}", report.mismatches.join("; ")));
    }
    if let Some(ratio) = report.throughput_ratio
        && ratio < min_ratio
    {
        failures.push(format!(
            "ingest: {:.1} % of the trigger-free baseline's rows/s (< {:.0} %)",
            ratio * 100.0,
            min_ratio * 100.0
        ));
    }
    if let Some(reads) = &report.reads_during_ingest {
        if reads.errors > 0 {
            failures.push(format!("ingest: {} failed reads", reads.errors));
        }
        // What the counts control is what they add: the same readers during the trigger-free
        // baseline set the floor (on a machine the writers saturate, both are far above 5 ms).
        let floor = report
            .reads_during_baseline
            .as_ref()
            .map_or(0.0, |baseline| baseline.p99_ms * 1.25);
        if reads.p99_ms > max_read_p99_ms.max(floor) {
            failures.push(format!(
                "ingest: read p99 {:.2} ms during ingest (> {max_read_p99_ms} ms, and > 1.25 × the {:.2} ms \
                 during the baseline)",
                reads.p99_ms,
                floor / 1.25
            ));
        }
    }
    if let Some(pending) = &report.pending
        && pending.cost_ms > max_pending_ms
    {
        failures.push(format!(
            "ingest: totalCount over pending deltas costs {:+.3} ms p50 (> {max_pending_ms} ms)",
            pending.cost_ms
        ));
    }
    failures
}
