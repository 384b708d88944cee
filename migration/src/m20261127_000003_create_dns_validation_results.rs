//! `dns_validation_results`: one DNS check of one generated domain within a DNS campaign.
//! `generated_domain_id` is a plain column, not a foreign key: the generated domain belongs to
//! another campaign and, on a distributed PostgreSQL, possibly to another shard.

use crate::ddl::PerBackend;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: PerBackend = PerBackend {
    postgres: &[r#"
CREATE TABLE dns_validation_results (
    id                  UUID NOT NULL,
    dns_campaign_id     UUID NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    generated_domain_id UUID,
    domain_name         TEXT NOT NULL CHECK (length(domain_name) BETWEEN 1 AND 253),
    validation_status   TEXT NOT NULL DEFAULT 'pending'
        CHECK (validation_status IN ('pending', 'valid', 'invalid', 'error', 'skipped')),
    business_status     TEXT
        CHECK (business_status IN ('valid_dns', 'lead_candidate', 'excluded')),
    dns_records         JSONB,
    attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_checked_at     TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (dns_campaign_id, id)
)"#],
    sqlite: &[r#"
CREATE TABLE dns_validation_results (
    id                  BLOB NOT NULL CHECK (typeof(id) = 'blob' AND length(id) = 16),
    dns_campaign_id     BLOB NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE
        CHECK (typeof(dns_campaign_id) = 'blob' AND length(dns_campaign_id) = 16),
    generated_domain_id BLOB
        CHECK (generated_domain_id IS NULL OR (typeof(generated_domain_id) = 'blob' AND length(generated_domain_id) = 16)),
    domain_name         TEXT NOT NULL CHECK (length(domain_name) BETWEEN 1 AND 253),
    validation_status   TEXT NOT NULL DEFAULT 'pending'
        CHECK (validation_status IN ('pending', 'valid', 'invalid', 'error', 'skipped')),
    business_status     TEXT
        CHECK (business_status IN ('valid_dns', 'lead_candidate', 'excluded')),
    dns_records         TEXT CHECK (dns_records IS NULL OR json_valid(dns_records)),
    attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_checked_at     INTEGER CHECK (last_checked_at IS NULL OR typeof(last_checked_at) = 'integer'),
    created_at          INTEGER NOT NULL CHECK (typeof(created_at) = 'integer'),
    PRIMARY KEY (dns_campaign_id, id)
) WITHOUT ROWID"#],
};

const DOWN: PerBackend = PerBackend {
    postgres: &["DROP TABLE dns_validation_results"],
    sqlite: &["DROP TABLE dns_validation_results"],
};

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        UP.run(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        DOWN.run(manager).await
    }
}
