//! Schema of the DomainFlow campaign API: tables, constraints and indexes, each with a real `down`.
//!
//! DDL is written per backend as plain SQL because the two backends store the same values
//! differently (DESIGN.md, "Data"): PostgreSQL uses UUID, TIMESTAMPTZ and JSONB; SQLite uses
//! 16-byte BLOBs, INTEGER microseconds since the Unix epoch and JSON text, each guarded by a
//! CHECK so a wrongly encoded write fails instead of corrupting the sort order.

pub use sea_orm_migration::prelude::*;

mod ddl;
mod m20261127_000001_create_campaigns;
mod m20261127_000002_create_generated_domains;
mod m20261127_000003_create_dns_validation_results;
mod m20261127_000004_create_http_keyword_results;
mod m20261127_000005_create_metrics_tables;
mod m20261127_000006_create_indexes;
mod m20261127_000007_create_row_counts;
mod m20261204_000008_append_only_counts;

pub use m20261127_000006_create_indexes::{INDEXES, IndexSpec};
pub use m20261204_000008_append_only_counts::COMPACT_ABOVE;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut migrations: Vec<Box<dyn MigrationTrait>> = vec![
            Box::new(m20261127_000001_create_campaigns::Migration),
            Box::new(m20261127_000002_create_generated_domains::Migration),
            Box::new(m20261127_000003_create_dns_validation_results::Migration),
            Box::new(m20261127_000004_create_http_keyword_results::Migration),
            Box::new(m20261127_000005_create_metrics_tables::Migration),
        ];
        migrations.extend(m20261127_000006_create_indexes::migrations());
        migrations.push(Box::new(m20261127_000007_create_row_counts::Migration));
        migrations.push(Box::new(m20261204_000008_append_only_counts::Migration));
        migrations
    }
}
