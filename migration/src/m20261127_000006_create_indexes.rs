//! Secondary indexes, one migration each.
//!
//! Every keyset ordering needs a total order, so each index ends in `id` unless its leading
//! columns are already unique. Every documented filter × ordering of DESIGN.md has an index
//! whose leading columns are the campaign, then the filter's equality columns, then the sort
//! key, so a page is one index range scan with no sort step.
//!
//! On PostgreSQL each index is built with `CREATE INDEX CONCURRENTLY` outside a transaction,
//! so adding one to a live 2M-row table never blocks writers. A build that was interrupted
//! leaves an INVALID index behind; it is dropped first, so re-running the migration repairs it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

/// One secondary index: the migration that creates it, its name, its table and its columns.
pub struct IndexSpec {
    pub migration: &'static str,
    pub name: &'static str,
    pub table: &'static str,
    pub columns: &'static [&'static str],
}

macro_rules! index {
    ($mig:literal, $name:literal, $table:literal, [$($col:literal),+ $(,)?]) => {
        IndexSpec {
            migration: concat!("m20261127_", $mig, "_create_", $name),
            name: $name,
            table: $table,
            columns: &[$($col),+],
        }
    };
}

/// All secondary indexes, in the order their migrations run.
pub const INDEXES: &[IndexSpec] = &[
    // campaigns: orderings CREATED_AT, NAME; filters campaignType, status (each optional).
    index!("000101", "idx_campaigns_created", "campaigns", ["created_at", "id"]),
    index!("000102", "idx_campaigns_name", "campaigns", ["name", "id"]),
    index!(
        "000103",
        "idx_campaigns_type_created",
        "campaigns",
        ["campaign_type", "created_at", "id"]
    ),
    index!(
        "000104",
        "idx_campaigns_type_name",
        "campaigns",
        ["campaign_type", "name", "id"]
    ),
    index!(
        "000105",
        "idx_campaigns_status_created",
        "campaigns",
        ["status", "created_at", "id"]
    ),
    index!(
        "000106",
        "idx_campaigns_status_name",
        "campaigns",
        ["status", "name", "id"]
    ),
    index!(
        "000107",
        "idx_campaigns_type_status_created",
        "campaigns",
        ["campaign_type", "status", "created_at", "id"]
    ),
    index!(
        "000108",
        "idx_campaigns_type_status_name",
        "campaigns",
        ["campaign_type", "status", "name", "id"]
    ),
    index!("000109", "idx_campaigns_source", "campaigns", ["source_campaign_id"]),
    // generated_domains: OFFSET_INDEX is served by the unique (campaign, offset_index) constraint.
    index!(
        "000201",
        "idx_generated_domains_campaign_created",
        "generated_domains",
        ["domain_generation_campaign_id", "created_at", "id"]
    ),
    index!(
        "000202",
        "idx_generated_domains_campaign_domain_name",
        "generated_domains",
        ["domain_generation_campaign_id", "domain_name", "id"]
    ),
    // dns_validation_results: orderings CREATED_AT, DOMAIN_NAME × filters none / validationStatus /
    // businessStatus / both. business_status is indexed as COALESCE(business_status, '') and
    // filtered with the same expression: `IS NULL` does not make a column constant for the
    // planner's ordering logic, so PostgreSQL would rather scan the unfiltered index and
    // filter; an equality does, so the filtered index serves the ORDER BY directly.
    index!(
        "000301",
        "idx_dns_results_campaign_created",
        "dns_validation_results",
        ["dns_campaign_id", "created_at", "id"]
    ),
    index!(
        "000302",
        "idx_dns_results_campaign_domain_name",
        "dns_validation_results",
        ["dns_campaign_id", "domain_name", "id"]
    ),
    index!(
        "000303",
        "idx_dns_results_campaign_status_created",
        "dns_validation_results",
        [
            "dns_campaign_id",
            "validation_status",
            "(COALESCE(business_status, ''))",
            "created_at",
            "id"
        ]
    ),
    index!(
        "000304",
        "idx_dns_results_campaign_status_domain_name",
        "dns_validation_results",
        [
            "dns_campaign_id",
            "validation_status",
            "(COALESCE(business_status, ''))",
            "domain_name",
            "id"
        ]
    ),
    index!(
        "000305",
        "idx_dns_results_campaign_validation_created",
        "dns_validation_results",
        ["dns_campaign_id", "validation_status", "created_at", "id"]
    ),
    index!(
        "000306",
        "idx_dns_results_campaign_validation_domain_name",
        "dns_validation_results",
        ["dns_campaign_id", "validation_status", "domain_name", "id"]
    ),
    index!(
        "000307",
        "idx_dns_results_campaign_business_created",
        "dns_validation_results",
        ["dns_campaign_id", "(COALESCE(business_status, ''))", "created_at", "id"]
    ),
    index!(
        "000308",
        "idx_dns_results_campaign_business_domain_name",
        "dns_validation_results",
        [
            "dns_campaign_id",
            "(COALESCE(business_status, ''))",
            "domain_name",
            "id"
        ]
    ),
    // http_keyword_results: orderings CREATED_AT, DOMAIN_NAME × filters none / validationStatus.
    index!(
        "000401",
        "idx_http_results_campaign_created",
        "http_keyword_results",
        ["http_keyword_campaign_id", "created_at", "id"]
    ),
    index!(
        "000402",
        "idx_http_results_campaign_domain_name",
        "http_keyword_results",
        ["http_keyword_campaign_id", "domain_name", "id"]
    ),
    index!(
        "000403",
        "idx_http_results_campaign_status_created",
        "http_keyword_results",
        ["http_keyword_campaign_id", "validation_status", "created_at", "id"]
    ),
    index!(
        "000404",
        "idx_http_results_campaign_status_domain_name",
        "http_keyword_results",
        ["http_keyword_campaign_id", "validation_status", "domain_name", "id"]
    ),
    // metrics history, newest first or by query type.
    index!(
        "000501",
        "idx_query_performance_metrics_recorded",
        "query_performance_metrics",
        ["recorded_at", "id"]
    ),
    index!(
        "000502",
        "idx_query_performance_metrics_type_recorded",
        "query_performance_metrics",
        ["query_type", "recorded_at", "id"]
    ),
    index!(
        "000503",
        "idx_connection_pool_metrics_recorded",
        "connection_pool_metrics",
        ["recorded_at", "id"]
    ),
];

/// The index migrations, in order.
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    INDEXES
        .iter()
        .map(|spec| Box::new(CreateIndex(spec)) as Box<dyn MigrationTrait>)
        .collect()
}

struct CreateIndex(&'static IndexSpec);

impl MigrationName for CreateIndex {
    // The migration's name, not the index's: they differ on purpose.
    #[allow(clippy::misnamed_getters)]
    fn name(&self) -> &str {
        self.0.migration
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateIndex {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let spec = self.0;
        let conn = manager.get_connection();
        let columns = spec.columns.join(", ");
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                let invalid = conn
                    .query_one_raw(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        "SELECT 1 FROM pg_index WHERE indexrelid = to_regclass($1) AND NOT indisvalid",
                        [spec.name.into()],
                    ))
                    .await?;
                if invalid.is_some() {
                    conn.execute_unprepared(&format!("DROP INDEX CONCURRENTLY IF EXISTS {}", spec.name))
                        .await?;
                }
                conn.execute_unprepared(&format!(
                    "CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} ({columns})",
                    spec.name, spec.table
                ))
                .await?;
            }
            _ => {
                conn.execute_unprepared(&format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {} ({columns})",
                    spec.name, spec.table
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let concurrently = match manager.get_database_backend() {
            DbBackend::Postgres => "CONCURRENTLY ",
            _ => "",
        };
        manager
            .get_connection()
            .execute_unprepared(&format!("DROP INDEX {concurrently}IF EXISTS {}", self.0.name))
            .await?;
        Ok(())
    }

    /// CREATE INDEX CONCURRENTLY cannot run inside a transaction block.
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }
}
