//! `http_keyword_results`: one HTTP fetch + keyword scan of a domain whose DNS check passed.
//! `dns_result_id` is a plain column for the same reason as `generated_domain_id`.

use crate::ddl::PerBackend;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: PerBackend = PerBackend {
    postgres: &[r#"
CREATE TABLE http_keyword_results (
    id                       UUID NOT NULL,
    http_keyword_campaign_id UUID NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    dns_result_id            UUID,
    domain_name              TEXT NOT NULL CHECK (length(domain_name) BETWEEN 1 AND 253),
    validation_status        TEXT NOT NULL DEFAULT 'pending'
        CHECK (validation_status IN ('pending', 'valid', 'invalid', 'error', 'skipped')),
    http_status_code         INTEGER CHECK (http_status_code BETWEEN 100 AND 599),
    page_title               TEXT,
    content_snippet          TEXT,
    found_keywords           JSONB,
    content_hash             TEXT,
    attempts                 INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_checked_at          TIMESTAMPTZ,
    created_at               TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (http_keyword_campaign_id, id)
)"#],
    sqlite: &[r#"
CREATE TABLE http_keyword_results (
    id                       BLOB NOT NULL CHECK (typeof(id) = 'blob' AND length(id) = 16),
    http_keyword_campaign_id BLOB NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE
        CHECK (typeof(http_keyword_campaign_id) = 'blob' AND length(http_keyword_campaign_id) = 16),
    dns_result_id            BLOB
        CHECK (dns_result_id IS NULL OR (typeof(dns_result_id) = 'blob' AND length(dns_result_id) = 16)),
    domain_name              TEXT NOT NULL CHECK (length(domain_name) BETWEEN 1 AND 253),
    validation_status        TEXT NOT NULL DEFAULT 'pending'
        CHECK (validation_status IN ('pending', 'valid', 'invalid', 'error', 'skipped')),
    http_status_code         INTEGER CHECK (http_status_code BETWEEN 100 AND 599),
    page_title               TEXT,
    content_snippet          TEXT,
    found_keywords           TEXT CHECK (found_keywords IS NULL OR json_valid(found_keywords)),
    content_hash             TEXT,
    attempts                 INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_checked_at          INTEGER CHECK (last_checked_at IS NULL OR typeof(last_checked_at) = 'integer'),
    created_at               INTEGER NOT NULL CHECK (typeof(created_at) = 'integer'),
    PRIMARY KEY (http_keyword_campaign_id, id)
) WITHOUT ROWID"#],
};

const DOWN: PerBackend = PerBackend {
    postgres: &["DROP TABLE http_keyword_results"],
    sqlite: &["DROP TABLE http_keyword_results"],
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
