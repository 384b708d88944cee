//! `domainflow seed`: a deterministic, resumable, fast generator of realistic campaign data, for
//! demos (the embedded default's first start) and for benchmarks (2,000,000-row campaigns).
//!
//! `C` chains; chain `i` is three campaigns, each a pure function of (`i`, `N`):
//! - a `domain_generation` campaign with `N` domains, built the way such a campaign builds them:
//!   a constant ("shop", "cloud", …) + `k` characters of `[a-z0-9]` + a TLD, `k` the smallest
//!   length whose space × TLDs covers `N`; `offset_index` = position `p` in the generation space,
//!   decoded in mixed radix (TLD = `p mod 4` is the fastest digit), so name order ≠ offset order;
//! - its `dns_validation` campaign: one result per domain, ~70 % valid (of which ~55 %
//!   `valid_dns`, ~30 % `lead_candidate`, ~15 % `excluded`), 18 % invalid, 6 % error, 4 %
//!   pending, 2 % skipped, with A/AAAA/MX/NS records for the valid ones;
//! - its `http_keyword_validation` campaign: one result per DNS result whose business status is
//!   `lead_candidate` or `valid_dns` (the domains that resolved and are not excluded by policy),
//!   mostly 200 pages, some 301/403/404/5xx; valid when a 200 page contains keywords.
//!
//! **Deterministic**: campaign ids are UUIDv5 of (chain, N); row ids are UUIDv7 whose timestamp is
//! the row's created_at (a fixed base per campaign + position ms) and whose random bits are a
//! splitmix64 hash of (campaign, position). Same arguments, byte-identical rows.
//!
//! **Resumable**: rows are written in chunks, one transaction each, strictly in order per table,
//! so the rows present always form a prefix; a run counts them and continues after them, and a
//! finished chain is recognised by the presence of its last row (one primary-key probe).
//! Campaign rows go in first (ON CONFLICT DO NOTHING), already `completed` with their final
//! counts. Two seeds of the same chain at the same time: one fails on a primary key, nothing is
//! duplicated, and running it again finishes the job.
//!
//! **Fast**: binary COPY on PostgreSQL in three balanced concurrent lanes, generation overlapped
//! with ingest ([`postgres`]); multi-row INSERTs in large transactions on SQLite
//! ([`sqlite`]).

mod generate;
mod pgcopy;
mod postgres;
mod sqlite;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use sea_orm::{ActiveEnum, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, RuntimeErr, Statement, Value};
use uuid::Uuid;

use crate::entity::{CampaignStatus, CampaignType, Timestamp};
use generate::{CHARSET, ChainPlan, RowCursor, TLDS};
pub use generate::{ChainIds, MAX_DOMAINS, SeedTable, chain_ids};

/// Chains loaded into an empty embedded database so GraphiQL shows data at once.
pub const DEMO_CHAINS: u32 = 3;
/// Generated domains per demo chain: small enough to load in well under a second.
pub const DEMO_DOMAINS: u64 = 1_000;

/// Rows per chunk (one COPY or one transaction): large enough that per-statement overhead
/// vanishes, small enough that an interrupted run loses little and memory stays flat.
pub const DEFAULT_CHUNK_ROWS: u64 = 50_000;

/// What to seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedOptions {
    /// Number of campaign chains (generation → DNS → HTTP).
    pub campaigns: u32,
    /// Generated domains per chain; different sizes are different campaigns.
    pub domains: u64,
    /// Draw progress bars on stderr (hidden when false, e.g. in tests and for `--quiet`).
    pub progress: bool,
}

/// Knobs for tests and tuning; [`seed`] uses the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedLimits {
    /// Stop after writing this many rows in total (campaign rows not counted), leaving the
    /// database exactly as an interrupted run would: tests use it to check resumption.
    pub max_rows: u64,
    /// Rows per chunk (one COPY / one transaction).
    pub chunk_rows: u64,
}

impl Default for SeedLimits {
    fn default() -> Self {
        Self {
            max_rows: u64::MAX,
            chunk_rows: DEFAULT_CHUNK_ROWS,
        }
    }
}

/// What one table got during a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    /// Table name.
    pub table: &'static str,
    /// Rows this run inserted.
    pub written: u64,
    /// Rows that were already there when the run started (a previous, possibly interrupted, run).
    pub present: u64,
    /// Wall time spent writing this table (for `campaigns`: upserting them and counting the rows
    /// present). On PostgreSQL the row tables load concurrently, so their times overlap.
    pub elapsed: Duration,
}

impl TableReport {
    fn new(table: &'static str) -> Self {
        Self {
            table,
            written: 0,
            present: 0,
            elapsed: Duration::ZERO,
        }
    }
}

/// Summary of a seed run: per table, rows written now and rows found, and the times — what the
/// CLI prints and what the README's benchmark figures come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedReport {
    /// Backend written to.
    pub backend: &'static str,
    /// Chains requested.
    pub chains: u32,
    /// Generated domains per chain.
    pub domains: u64,
    /// `campaigns`, then the three row tables.
    pub tables: Vec<TableReport>,
    /// Wall time of the whole run, including counting and ANALYZE.
    pub elapsed: Duration,
}

impl SeedReport {
    /// Rows inserted by this run, all tables.
    pub fn written(&self) -> u64 {
        self.tables.iter().map(|t| t.written).sum()
    }

    /// Rows found present at the start, all tables.
    pub fn present(&self) -> u64 {
        self.tables.iter().map(|t| t.present).sum()
    }

    /// The report of one table.
    pub fn table(&self, name: &str) -> Option<&TableReport> {
        self.tables.iter().find(|t| t.table == name)
    }
}

/// `1234567` → `"1,234,567"`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn rate(rows: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if rows == 0 || secs <= 0.0 {
        String::new()
    } else {
        thousands((rows as f64 / secs).round() as u64)
    }
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed: {} chain(s) × {} domains on {}",
            self.chains,
            thousands(self.domains),
            self.backend
        )?;
        if self.written() == 0 {
            return write!(
                f,
                "nothing to do: all {} rows were already present ({:.2} s)",
                thousands(self.present()),
                self.elapsed.as_secs_f64()
            );
        }
        writeln!(
            f,
            "  {:<24} {:>13} {:>13} {:>10} {:>10}",
            "table", "written", "present", "seconds", "rows/s"
        )?;
        for t in &self.tables {
            writeln!(
                f,
                "  {:<24} {:>13} {:>13} {:>10.2} {:>10}",
                t.table,
                thousands(t.written),
                thousands(t.present),
                t.elapsed.as_secs_f64(),
                rate(t.written, t.elapsed)
            )?;
        }
        write!(
            f,
            "  {:<24} {:>13} {:>13} {:>10.2} {:>10}",
            "total",
            thousands(self.written()),
            thousands(self.present()),
            self.elapsed.as_secs_f64(),
            rate(self.written(), self.elapsed)
        )
    }
}

pub(crate) fn sqlx_err(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(e)))
}

/// Seeds `opts.campaigns` chains of `opts.domains` domains, continuing any earlier run.
#[tracing::instrument(skip(db), fields(backend = ?db.get_database_backend()))]
pub async fn seed(db: &DatabaseConnection, opts: &SeedOptions) -> Result<SeedReport, DbErr> {
    seed_with_limits(db, opts, SeedLimits::default()).await
}

/// Loads the demo dataset ([`DEMO_CHAINS`] chains of [`DEMO_DOMAINS`] domains) when `campaigns`
/// is empty, so a first `cargo run` shows real data; returns whether it did.
pub async fn load_demo_if_empty(db: &DatabaseConnection) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let any = db
        .query_one_raw(Statement::from_string(backend, "SELECT 1 FROM campaigns LIMIT 1"))
        .await?;
    if any.is_some() {
        return Ok(false);
    }
    let report = seed(
        db,
        &SeedOptions {
            campaigns: DEMO_CHAINS,
            domains: DEMO_DOMAINS,
            progress: false,
        },
    )
    .await?;
    tracing::info!(
        rows = report.written(),
        elapsed_ms = report.elapsed.as_millis() as u64,
        "demo data loaded"
    );
    Ok(true)
}

/// The pool behind `db`, for the bulk writers.
enum Pool<'a> {
    Postgres(&'a sqlx::PgPool),
    Sqlite(&'a sqlx::SqlitePool),
}

/// One table of one chain: where it stands and where it must get to.
struct Job {
    plan: Arc<ChainPlan>,
    table: SeedTable,
    present: u64,
    total: u64,
}

/// [`seed`] with explicit [`SeedLimits`].
pub async fn seed_with_limits(
    db: &DatabaseConnection,
    opts: &SeedOptions,
    limits: SeedLimits,
) -> Result<SeedReport, DbErr> {
    let started = Instant::now();
    if opts.domains == 0 || opts.domains > MAX_DOMAINS {
        return Err(DbErr::Custom(format!(
            "seed: --domains must be between 1 and {}, got {}",
            thousands(MAX_DOMAINS),
            opts.domains
        )));
    }
    let chunk_rows = limits.chunk_rows.max(1);
    let backend = db.get_database_backend();
    let pool = match backend {
        DbBackend::Postgres => Pool::Postgres(db.get_postgres_connection_pool()),
        DbBackend::Sqlite => Pool::Sqlite(db.get_sqlite_connection_pool()),
        _ => {
            return Err(DbErr::BackendNotSupported {
                db: "MySQL",
                ctx: "seed",
            });
        }
    };
    let backend_name = match pool {
        Pool::Postgres(_) => "PostgreSQL",
        Pool::Sqlite(_) => "SQLite",
    };

    let domains = opts.domains;
    let plans: Vec<Arc<ChainPlan>> = tokio::task::spawn_blocking({
        let chains = opts.campaigns;
        move || (0..chains).map(|c| Arc::new(ChainPlan::new(c, domains))).collect()
    })
    .await
    .map_err(|e| DbErr::Custom(format!("seed planning failed: {e}")))?;

    let mut tables: Vec<TableReport> = std::iter::once("campaigns")
        .chain(SeedTable::ALL.iter().map(|t| t.name()))
        .map(TableReport::new)
        .collect();

    // Campaign rows first: the row tables reference them.
    let campaigns_started = Instant::now();
    let mut jobs = Vec::new();
    let http_totals: Vec<u64> = tokio::task::spawn_blocking({
        let plans = plans.clone();
        move || plans.iter().map(|p| p.http_total()).collect()
    })
    .await
    .map_err(|e| DbErr::Custom(format!("seed planning failed: {e}")))?;
    for (plan, http_total) in plans.iter().zip(http_totals) {
        let (written, present) = upsert_campaigns(db, plan, http_total).await?;
        tables[0].written += written;
        tables[0].present += present;
        for table in SeedTable::ALL {
            let total = match table {
                SeedTable::HttpKeywordResults => http_total,
                _ => plan.domains,
            };
            let present = rows_present(db, plan, table, total).await?;
            jobs.push(Job {
                plan: plan.clone(),
                table,
                present,
                total,
            });
        }
    }
    tables[0].elapsed = campaigns_started.elapsed();

    let multi = MultiProgress::with_draw_target(if opts.progress {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    // indicatif's `{per_sec}` takes a width as its precision, so the rate is a key of our own.
    let style =
        ProgressStyle::with_template("{prefix:<24} [{bar:32}] {human_pos:>11}/{human_len:<11} {rate} eta {eta}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn fmt::Write| {
                let _ = write!(w, "{:>9} rows/s", thousands(state.per_sec() as u64));
            });
    let bars: Vec<ProgressBar> = SeedTable::ALL
        .iter()
        .map(|&table| {
            let (present, total) = jobs
                .iter()
                .filter(|j| j.table == table)
                .fold((0, 0), |(p, t), j| (p + j.present, t + j.total));
            let bar = multi.add(
                ProgressBar::new(total)
                    .with_style(style.clone())
                    .with_prefix(table.name()),
            );
            bar.set_position(present);
            bar.reset_eta();
            bar
        })
        .collect();

    for job in &jobs {
        tables[1 + job.table.stage()].present += job.present;
    }
    // On PostgreSQL the jobs (one table of one chain each) run in concurrent lanes, one
    // connection each: the server is the bottleneck, one COPY keeps one server core busy, and the
    // jobs do not depend on each other's rows (every row is a pure function of its position).
    // Within a job chunks stay strictly in order, so each table's rows still form a prefix.
    // A row budget (tests) needs a deterministic stopping point, so it runs one lane; SQLite has
    // a single writer anyway.
    let lanes: Vec<Vec<&Job>> = match pool {
        Pool::Postgres(_) if limits.max_rows == u64::MAX => balance(&jobs, PG_LANES),
        _ => vec![jobs.iter().collect()],
    };
    let lane_results = futures::future::try_join_all(
        lanes
            .into_iter()
            .map(|lane| run_lane(&pool, lane, limits.max_rows, chunk_rows, &bars)),
    )
    .await?;
    for (stage, written, elapsed) in lane_results.into_iter().flatten() {
        tables[1 + stage].written += written;
        tables[1 + stage].elapsed += elapsed;
    }
    for bar in &bars {
        bar.finish();
    }

    // Fresh statistics, so the planner knows the new rows before autovacuum gets to them.
    if matches!(pool, Pool::Postgres(_)) {
        for t in tables.iter().filter(|t| t.written > 0) {
            db.execute_unprepared(&format!("ANALYZE {}", t.table)).await?;
        }
    }

    let report = SeedReport {
        backend: backend_name,
        chains: opts.campaigns,
        domains,
        tables,
        elapsed: started.elapsed(),
    };
    tracing::info!(
        written = report.written(),
        present = report.present(),
        elapsed_ms = report.elapsed.as_millis() as u64,
        "seed finished"
    );
    Ok(report)
}

/// Concurrent COPY streams on PostgreSQL. Measured on the 2-core machine the targets were set
/// on (2M chain, all indexes and count triggers): three streams 76–86 s, two 87–110 s, one
/// 111 s. A stream is not always on the CPU (commit flushes, round trips, buffer evictions),
/// so one more stream than cores keeps both busy.
const PG_LANES: usize = 3;

/// Relative server cost of one row, measured on PostgreSQL with every index in place:
/// generated domains (4 indexes) 1, HTTP results (5 indexes, long texts) 2, DNS results
/// (9 indexes) 3.
fn row_cost(table: SeedTable) -> u64 {
    match table {
        SeedTable::GeneratedDomains => 1,
        SeedTable::HttpKeywordResults => 2,
        SeedTable::DnsValidationResults => 3,
    }
}

/// Spreads the jobs over `lanes` lanes so they finish together: longest job first, each to
/// the least loaded lane.
fn balance(jobs: &[Job], lanes: usize) -> Vec<Vec<&Job>> {
    let cost = |j: &Job| (j.total - j.present.min(j.total)) * row_cost(j.table);
    let mut order: Vec<&Job> = jobs.iter().filter(|j| cost(j) > 0).collect();
    // Stable sort: equal costs keep chain and table order.
    order.sort_by_key(|j| std::cmp::Reverse(cost(j)));
    let mut out: Vec<(u64, Vec<&Job>)> = (0..lanes.max(1)).map(|_| (0, Vec::new())).collect();
    for job in order {
        if let Some(lane) = out.iter_mut().min_by_key(|(load, _)| *load) {
            lane.0 += cost(job);
            lane.1.push(job);
        }
    }
    out.into_iter()
        .map(|(_, lane)| lane)
        .filter(|lane| !lane.is_empty())
        .collect()
}

/// Writes the missing rows of each job in order, at most `budget` rows in all; returns
/// (table stage, rows written, time taken) per job.
async fn run_lane(
    pool: &Pool<'_>,
    lane: Vec<&Job>,
    mut budget: u64,
    chunk_rows: u64,
    bars: &[ProgressBar],
) -> Result<Vec<(usize, u64, Duration)>, DbErr> {
    let mut results = Vec::new();
    for job in lane {
        if job.present >= job.total || budget == 0 {
            continue;
        }
        let end = job.total.min(job.present.saturating_add(budget));
        let bar = &bars[job.table.stage()];
        tracing::info!(
            table = job.table.name(),
            chain = job.plan.chain,
            from = job.present,
            to = end,
            "seeding"
        );
        let started = Instant::now();
        let cursor = RowCursor::new(job.plan.clone(), job.table, job.present);
        let written = match pool {
            Pool::Postgres(pool) => postgres::write_rows(pool, cursor, end, chunk_rows, bar).await?,
            Pool::Sqlite(pool) => sqlite::write_rows(pool, cursor, end, chunk_rows, bar).await?,
        };
        let elapsed = started.elapsed();
        if bar.length().is_some_and(|len| bar.position() >= len) {
            bar.finish();
        }
        tracing::info!(
            table = job.table.name(),
            chain = job.plan.chain,
            rows = written,
            elapsed_ms = elapsed.as_millis() as u64,
            "seeded"
        );
        if written != end - job.present {
            return Err(DbErr::Custom(format!(
                "seed: {} of chain {} stopped at row {} of {}",
                job.table.name(),
                job.plan.chain,
                job.present + written,
                end
            )));
        }
        budget -= written.min(budget);
        results.push((job.table.stage(), written, elapsed));
    }
    Ok(results)
}

/// Rows of `table` already present for `plan`'s campaign. Rows always form a prefix, so the
/// last row's presence (one primary-key probe) proves the table complete; otherwise count.
async fn rows_present(db: &DatabaseConnection, plan: &ChainPlan, table: SeedTable, total: u64) -> Result<u64, DbErr> {
    if total == 0 {
        return Ok(0);
    }
    let backend = db.get_database_backend();
    let campaign = match table {
        SeedTable::GeneratedDomains => plan.ids.generation,
        SeedTable::DnsValidationResults => plan.ids.dns,
        SeedTable::HttpKeywordResults => plan.ids.http,
    };
    let last_id = match table {
        SeedTable::GeneratedDomains => plan.domain_id(total - 1),
        SeedTable::DnsValidationResults => plan.dns_id(total - 1),
        SeedTable::HttpKeywordResults => plan.http_id(total - 1),
    };
    let (name, column) = (table.name(), table.campaign_column());
    let last = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!("SELECT 1 FROM {name} WHERE {column} = $1 AND id = $2"),
            [campaign.into(), last_id.into()],
        ))
        .await?;
    if last.is_some() {
        return Ok(total);
    }
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!("SELECT count(*) FROM {name} WHERE {column} = $1"),
            [campaign.into()],
        ))
        .await?;
    let count = match row {
        Some(row) => row.try_get_by_index::<i64>(0)?,
        None => 0,
    };
    let count = u64::try_from(count).unwrap_or(0);
    if count >= total {
        // More rows than the chain has, yet not its last one: not rows this generator wrote.
        return Err(DbErr::Custom(format!(
            "seed: {name} holds {count} rows for campaign {campaign} but not the seed's last row; \
             it was not written by this seed (delete the campaign to reseed it)"
        )));
    }
    Ok(count)
}

/// Inserts the chain's three campaigns unless present; returns (inserted, already present).
async fn upsert_campaigns(db: &DatabaseConnection, plan: &ChainPlan, http_total: u64) -> Result<(u64, u64), DbErr> {
    let backend = db.get_database_backend();
    let params = match backend {
        DbBackend::Postgres => "CAST($7 AS jsonb)",
        _ => "$7",
    };
    let sql = format!(
        "INSERT INTO campaigns (id, name, campaign_type, status, source_campaign_id, description, params, \
         total_items, processed_items, started_at, completed_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, {params}, $8, $9, $10, $11, $12, $13) ON CONFLICT (id) DO NOTHING"
    );
    let n = thousands(plan.domains);
    let chain = plan.chain + 1;
    let quoted = |items: &[&str]| items.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(",");
    let stages: [(Uuid, CampaignType, Option<Uuid>, String, String, u64); 3] = [
        (
            plan.ids.generation,
            CampaignType::DomainGeneration,
            None,
            "generation".to_owned(),
            format!(
                "{{\"patternType\":\"prefix\",\"constantString\":\"{}\",\"characterSet\":\"{}\",\
                 \"variableLength\":{},\"tlds\":[{}],\"sourcePattern\":\"{}\",\
                 \"numDomainsToGenerate\":{},\"totalPossibleCombinations\":{}}}",
                plan.constant,
                String::from_utf8_lossy(CHARSET),
                plan.length,
                quoted(TLDS),
                plan.pattern,
                plan.domains,
                plan.space()
            ),
            plan.domains,
        ),
        (
            plan.ids.dns,
            CampaignType::DnsValidation,
            Some(plan.ids.generation),
            "DNS validation".to_owned(),
            format!(
                "{{\"sourceCampaignId\":\"{}\",\"resolvers\":[\"1.1.1.1\",\"8.8.8.8\",\"9.9.9.9\"],\
                 \"recordTypes\":[\"A\",\"AAAA\",\"MX\",\"NS\"],\"batchSize\":500,\"retryAttempts\":3,\
                 \"timeoutSeconds\":5}}",
                plan.ids.generation
            ),
            plan.domains,
        ),
        (
            plan.ids.http,
            CampaignType::HttpKeywordValidation,
            Some(plan.ids.dns),
            "HTTP keywords".to_owned(),
            format!(
                "{{\"sourceCampaignId\":\"{}\",\"sourceBusinessStatuses\":[\"lead_candidate\",\"valid_dns\"],\
                 \"keywords\":[{}],\"batchSize\":100,\"timeoutSeconds\":10,\"followRedirects\":false}}",
                plan.ids.dns,
                quoted(plan.keywords())
            ),
            http_total,
        ),
    ];
    let mut inserted = 0;
    for (stage, (id, campaign_type, source, label, params, items)) in stages.into_iter().enumerate() {
        let base_us = plan.base_ms[stage] * 1000;
        let started_at = Timestamp(base_us - 1_000_000);
        let completed_at = Timestamp(base_us + items as i64 * 1000 + 1_000_000);
        let created_at = Timestamp(started_at.0 - 300_000_000);
        let values: Vec<Value> = vec![
            id.into(),
            format!("Seed chain {chain} · {n} domains · {label}").into(),
            campaign_type.to_value().into(),
            CampaignStatus::Completed.to_value().into(),
            source.into(),
            format!("Deterministic demo data from `domainflow seed`: chain {chain}, {n} generated domains.").into(),
            params.into(),
            (items as i64).into(),
            (items as i64).into(),
            started_at.to_value(backend),
            completed_at.to_value(backend),
            created_at.to_value(backend),
            completed_at.to_value(backend),
        ];
        let result = db
            .execute_raw(Statement::from_sql_and_values(backend, &sql, values))
            .await?;
        inserted += result.rows_affected();
    }
    Ok((inserted, 3 - inserted.min(3)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(chain: u32, table: SeedTable, present: u64, total: u64) -> Job {
        Job {
            plan: Arc::new(ChainPlan::new(chain, total)),
            table,
            present,
            total,
        }
    }

    #[test]
    fn lanes_are_balanced() {
        let lanes_of = |jobs: &[Job]| -> Vec<Vec<(u32, &'static str)>> {
            balance(jobs, 2)
                .iter()
                .map(|lane| lane.iter().map(|j| (j.plan.chain, j.table.name())).collect())
                .collect()
        };
        let one_chain = [
            job(0, SeedTable::GeneratedDomains, 0, 2_000_000),
            job(0, SeedTable::DnsValidationResults, 0, 2_000_000),
            job(0, SeedTable::HttpKeywordResults, 0, 1_190_000),
        ];
        assert_eq!(
            lanes_of(&one_chain),
            vec![
                vec![(0, "dns_validation_results")],
                vec![(0, "http_keyword_results"), (0, "generated_domains")]
            ]
        );
        // Finished jobs are dropped; a lone remaining job gets one lane.
        let resumed = [
            job(0, SeedTable::GeneratedDomains, 2_000_000, 2_000_000),
            job(0, SeedTable::DnsValidationResults, 1_000, 2_000_000),
        ];
        assert_eq!(lanes_of(&resumed), vec![vec![(0, "dns_validation_results")]]);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(2_000_000), "2,000,000");
    }

    #[test]
    fn report_says_when_there_was_nothing_to_do() {
        let mut t = TableReport::new("generated_domains");
        t.present = 10;
        let report = SeedReport {
            backend: "SQLite",
            chains: 1,
            domains: 10,
            tables: vec![t],
            elapsed: Duration::from_millis(5),
        };
        assert!(
            report
                .to_string()
                .contains("nothing to do: all 10 rows were already present")
        );
    }
}
