//! Exact row totals for `totalCount` and the per-status breakdowns, read from the counts tables
//! the database maintains itself (migrations `m20261127_000007_create_row_counts` and, on
//! PostgreSQL, `m20261204_000008_append_only_counts`).
//!
//! A key of a counts table may hold several rows: on PostgreSQL each writing statement appends
//! its deltas and a compaction folds them (see [`compact`]), so every read is a SUM over the
//! rows of the keys it wants — exact in the reader's snapshot whether or not the deltas are
//! folded yet. Each function is one parameterised statement over a bounded number of rows (of
//! one campaign, found through the counts table's index whose leading column is the campaign;
//! or, for the campaigns list, of all campaigns). So a total costs the same for a campaign of
//! ten rows and one of two million, and stays exact for rows written by other programs.
//!
//! The `*_total_query` builders return the same statements unexecuted, so a connection can
//! embed its total as a scalar subquery of its page statement (one round trip per page).

use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement};
use std::time::Duration;

use sea_orm::{ActiveEnum, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, QueryResult, Statement};
use uuid::Uuid;

use crate::entity::{BusinessStatus, CampaignStatus, CampaignType, ValidationStatus};

/// How a NULL `business_status` is stored in `dns_validation_result_counts`: a key column
/// that is never NULL lets SQLite's upsert and every GROUP BY treat all unclassified rows as
/// one key, and `''` is outside the value set the result table's CHECK allows.
const NULL_BUSINESS_STATUS: &str = "";

/// Total number of campaigns, optionally only those of one type and/or one status.
#[tracing::instrument(level = "debug", skip(db))]
pub async fn campaigns_total(
    db: &impl ConnectionTrait,
    campaign_type: Option<CampaignType>,
    status: Option<CampaignStatus>,
) -> Result<i64, DbErr> {
    total(db, &campaigns_total_query(campaign_type, status)).await
}

/// The statement behind [`campaigns_total`]: one BIGINT column, one row.
pub fn campaigns_total_query(campaign_type: Option<CampaignType>, status: Option<CampaignStatus>) -> SelectStatement {
    let mut stmt = sum_of_row_counts("campaign_counts");
    if let Some(campaign_type) = campaign_type {
        stmt.and_where(Expr::col("campaign_type").eq(campaign_type.to_value()));
    }
    if let Some(status) = status {
        stmt.and_where(Expr::col("status").eq(status.to_value()));
    }
    stmt
}

/// Number of domains a generation campaign produced.
#[tracing::instrument(level = "debug", skip(db))]
pub async fn generated_domains_total(db: &impl ConnectionTrait, campaign_id: Uuid) -> Result<i64, DbErr> {
    total(db, &generated_domains_total_query(campaign_id)).await
}

/// The statement behind [`generated_domains_total`]: one BIGINT column, one row.
pub fn generated_domains_total_query(campaign_id: Uuid) -> SelectStatement {
    let mut stmt = sum_of_row_counts("generated_domain_counts");
    stmt.and_where(Expr::col("domain_generation_campaign_id").eq(campaign_id));
    stmt
}

/// Number of DNS results of a campaign matching the filter. `business_status`: `None` means no
/// filter, `Some(None)` only results not classified yet (NULL), as in the GraphQL filter.
#[tracing::instrument(level = "debug", skip(db))]
pub async fn dns_results_total(
    db: &impl ConnectionTrait,
    campaign_id: Uuid,
    validation_status: Option<ValidationStatus>,
    business_status: Option<Option<BusinessStatus>>,
) -> Result<i64, DbErr> {
    total(
        db,
        &dns_results_total_query(campaign_id, validation_status, business_status),
    )
    .await
}

/// The statement behind [`dns_results_total`]: one BIGINT column, one row.
pub fn dns_results_total_query(
    campaign_id: Uuid,
    validation_status: Option<ValidationStatus>,
    business_status: Option<Option<BusinessStatus>>,
) -> SelectStatement {
    let mut stmt = sum_of_row_counts("dns_validation_result_counts");
    stmt.and_where(Expr::col("dns_campaign_id").eq(campaign_id));
    if let Some(validation_status) = validation_status {
        stmt.and_where(Expr::col("validation_status").eq(validation_status.to_value()));
    }
    if let Some(business_status) = business_status {
        let stored = business_status.map_or_else(|| NULL_BUSINESS_STATUS.to_owned(), |b| b.to_value());
        stmt.and_where(Expr::col("business_status").eq(stored));
    }
    stmt
}

/// Number of HTTP keyword results of a campaign, optionally only those of one status.
#[tracing::instrument(level = "debug", skip(db))]
pub async fn http_results_total(
    db: &impl ConnectionTrait,
    campaign_id: Uuid,
    validation_status: Option<ValidationStatus>,
) -> Result<i64, DbErr> {
    total(db, &http_results_total_query(campaign_id, validation_status)).await
}

/// The statement behind [`http_results_total`]: one BIGINT column, one row.
pub fn http_results_total_query(campaign_id: Uuid, validation_status: Option<ValidationStatus>) -> SelectStatement {
    let mut stmt = sum_of_row_counts("http_keyword_result_counts");
    stmt.and_where(Expr::col("http_keyword_campaign_id").eq(campaign_id));
    if let Some(validation_status) = validation_status {
        stmt.and_where(Expr::col("validation_status").eq(validation_status.to_value()));
    }
    stmt
}

/// How many DNS results of a campaign have each (validation status, business status), for the
/// counts a results page shows beside its filters. Only combinations that occur are listed,
/// in declaration order of the enums, unclassified (NULL) business status last.
#[tracing::instrument(level = "debug", skip(db))]
pub async fn dns_status_breakdown(
    db: &impl ConnectionTrait,
    campaign_id: Uuid,
) -> Result<Vec<(ValidationStatus, Option<BusinessStatus>, i64)>, DbErr> {
    let stmt = Query::select()
        .columns(["validation_status", "business_status"])
        .expr_as(Expr::cust(SUM_OF_ROW_COUNTS), "row_count")
        .from("dns_validation_result_counts")
        .and_where(Expr::col("dns_campaign_id").eq(campaign_id))
        .group_by_columns(["validation_status", "business_status"])
        .and_having(Expr::cust(SUM_IS_NOT_ZERO))
        .to_owned();
    let mut breakdown = db
        .query_all(&stmt)
        .await?
        .iter()
        .map(|row| {
            let business_status: String = row.try_get("", "business_status")?;
            let business_status = if business_status == NULL_BUSINESS_STATUS {
                None
            } else {
                Some(BusinessStatus::try_from_value(&business_status)?)
            };
            Ok((validation_status(row)?, business_status, row.try_get("", "row_count")?))
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    breakdown.sort_by_key(|(v, b, _)| (position(v), b.as_ref().map_or(usize::MAX, position)));
    Ok(breakdown)
}

/// How many HTTP keyword results of a campaign have each validation status; only statuses that
/// occur, in declaration order.
#[tracing::instrument(level = "debug", skip(db))]
pub async fn http_status_breakdown(
    db: &impl ConnectionTrait,
    campaign_id: Uuid,
) -> Result<Vec<(ValidationStatus, i64)>, DbErr> {
    let stmt = Query::select()
        .column("validation_status")
        .expr_as(Expr::cust(SUM_OF_ROW_COUNTS), "row_count")
        .from("http_keyword_result_counts")
        .and_where(Expr::col("http_keyword_campaign_id").eq(campaign_id))
        .group_by_col("validation_status")
        .and_having(Expr::cust(SUM_IS_NOT_ZERO))
        .to_owned();
    let mut breakdown = db
        .query_all(&stmt)
        .await?
        .iter()
        .map(|row| Ok((validation_status(row)?, row.try_get("", "row_count")?)))
        .collect::<Result<Vec<_>, DbErr>>()?;
    breakdown.sort_by_key(|(v, _)| position(v));
    Ok(breakdown)
}

/// `SUM(row_count)` as a BIGINT on both backends (PostgreSQL's SUM(bigint) is NUMERIC), 0 when
/// no counter row matches.
const SUM_OF_ROW_COUNTS: &str = "CAST(COALESCE(SUM(row_count), 0) AS BIGINT)";

/// A key whose deltas sum to 0 has no rows (its last rows were deleted; compaction has not
/// removed it yet).
const SUM_IS_NOT_ZERO: &str = "SUM(row_count) <> 0";

fn sum_of_row_counts(table: &'static str) -> SelectStatement {
    Query::select()
        .expr(Expr::cust(SUM_OF_ROW_COUNTS))
        .from(table)
        .to_owned()
}

/// Folds the counts' pending deltas into one row per key and removes emptied keys, skipping
/// any group another transaction is folding; returns the rows removed. PostgreSQL only (a
/// no-op returning 0 on SQLite, whose single writer keeps one row per key itself). The server
/// runs it every [`COMPACTION_INTERVAL`] (and vacuums the counts tables every
/// [`VACUUM_INTERVAL`] after it removed rows); writers under READ COMMITTED also fold the
/// groups they crowd, so this bounds what REPEATABLE READ writers leave behind.
#[tracing::instrument(level = "debug", skip(db))]
pub async fn compact(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(0);
    }
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT domainflow_compact_counts()",
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("domainflow_compact_counts() returned no row".to_owned()))?;
    Ok(u64::try_from(row.try_get_by_index::<i64>(0)?).unwrap_or(0))
}

/// How often the server runs [`compact`].
pub const COMPACTION_INTERVAL: Duration = Duration::from_secs(1);

/// How often, at most, the server vacuums the counts tables after compactions removed rows.
/// Every delta row is deleted by a compaction sooner or later; without vacuum those dead rows
/// would stay in the key index until autovacuum's next visit (a minute apart by default, if
/// it is on), and every SUM and compaction of a busy campaign would step over them. The tables
/// are small (rows per key × keys), so a vacuum takes milliseconds and blocks no reader or
/// writer.
pub const VACUUM_INTERVAL: Duration = Duration::from_secs(10);

const VACUUM_COUNTS: &str = "VACUUM (SKIP_LOCKED) campaign_counts, generated_domain_counts, \
                             dns_validation_result_counts, http_keyword_result_counts";

/// Runs [`compact`] every [`COMPACTION_INTERVAL`] until the task is aborted, on PostgreSQL
/// (SQLite needs none). A failure is logged and retried on the next tick.
pub fn spawn_compaction(db: DatabaseConnection) -> Option<tokio::task::JoinHandle<()>> {
    if db.get_database_backend() != DbBackend::Postgres {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(COMPACTION_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // One WARN per run of failures (a database outage would otherwise log every second).
        let mut failing = false;
        let (mut removed_since_vacuum, mut last_vacuum) = (0u64, tokio::time::Instant::now());
        loop {
            tick.tick().await;
            match compact(&db).await {
                Ok(removed) => {
                    if failing {
                        tracing::info!("counts compaction works again");
                    }
                    failing = false;
                    if removed > 0 {
                        tracing::debug!(removed, "counts compacted");
                    }
                    removed_since_vacuum += removed;
                    if removed_since_vacuum > 0 && last_vacuum.elapsed() >= VACUUM_INTERVAL {
                        if let Err(error) = db.execute_unprepared(VACUUM_COUNTS).await {
                            tracing::debug!(%error, "vacuuming the counts tables failed");
                        }
                        (removed_since_vacuum, last_vacuum) = (0, tokio::time::Instant::now());
                    }
                }
                Err(error) if failing => tracing::debug!(%error, "counts compaction failed again"),
                Err(error) => {
                    failing = true;
                    tracing::warn!(%error, "counts compaction failed; retrying every second");
                }
            }
        }
    }))
}

async fn total(db: &impl ConnectionTrait, stmt: &SelectStatement) -> Result<i64, DbErr> {
    // An aggregate without GROUP BY always yields exactly one row.
    db.query_one(stmt)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("SUM over a counts table returned no row".to_owned()))?
        .try_get_by_index(0)
}

fn validation_status(row: &QueryResult) -> Result<ValidationStatus, DbErr> {
    ValidationStatus::try_from_value(&row.try_get::<String>("", "validation_status")?)
}

/// Index of a value in its enum's declaration order, the order a page lists statuses in.
fn position<E: ActiveEnum + PartialEq>(value: &E) -> usize {
    E::iter().position(|e| &e == value).unwrap_or(usize::MAX)
}
