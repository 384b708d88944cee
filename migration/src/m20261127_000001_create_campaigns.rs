//! `campaigns`: one row per domain-generation, DNS-validation or HTTP-keyword campaign.

use crate::ddl::PerBackend;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: PerBackend = PerBackend {
    postgres: &[r#"
CREATE TABLE campaigns (
    id                 UUID PRIMARY KEY,
    name               TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    campaign_type      TEXT NOT NULL
        CHECK (campaign_type IN ('domain_generation', 'dns_validation', 'http_keyword_validation')),
    status             TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'queued', 'running', 'paused', 'completed', 'failed', 'cancelled')),
    source_campaign_id UUID REFERENCES campaigns (id) ON DELETE SET NULL,
    description        TEXT,
    params             JSONB NOT NULL DEFAULT '{}'::jsonb,
    total_items        BIGINT NOT NULL DEFAULT 0 CHECK (total_items >= 0),
    processed_items    BIGINT NOT NULL DEFAULT 0 CHECK (processed_items >= 0),
    error_message      TEXT,
    started_at         TIMESTAMPTZ,
    completed_at       TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
)"#],
    sqlite: &[r#"
CREATE TABLE campaigns (
    id                 BLOB PRIMARY KEY CHECK (typeof(id) = 'blob' AND length(id) = 16),
    name               TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    campaign_type      TEXT NOT NULL
        CHECK (campaign_type IN ('domain_generation', 'dns_validation', 'http_keyword_validation')),
    status             TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'queued', 'running', 'paused', 'completed', 'failed', 'cancelled')),
    source_campaign_id BLOB REFERENCES campaigns (id) ON DELETE SET NULL
        CHECK (source_campaign_id IS NULL OR (typeof(source_campaign_id) = 'blob' AND length(source_campaign_id) = 16)),
    description        TEXT,
    params             TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(params)),
    total_items        INTEGER NOT NULL DEFAULT 0 CHECK (total_items >= 0),
    processed_items    INTEGER NOT NULL DEFAULT 0 CHECK (processed_items >= 0),
    error_message      TEXT,
    started_at         INTEGER CHECK (started_at IS NULL OR typeof(started_at) = 'integer'),
    completed_at       INTEGER CHECK (completed_at IS NULL OR typeof(completed_at) = 'integer'),
    created_at         INTEGER NOT NULL CHECK (typeof(created_at) = 'integer'),
    updated_at         INTEGER NOT NULL CHECK (typeof(updated_at) = 'integer')
)"#],
};

const DOWN: PerBackend = PerBackend {
    postgres: &["DROP TABLE campaigns"],
    sqlite: &["DROP TABLE campaigns"],
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
