//! `generated_domains`: the domains a generation campaign produced, one per offset in its
//! generation space. (campaign, offset_index) is unique and is itself a total order for keyset.

use crate::ddl::PerBackend;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: PerBackend = PerBackend {
    postgres: &[r#"
CREATE TABLE generated_domains (
    id                            UUID NOT NULL,
    domain_generation_campaign_id UUID NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    domain_name                   TEXT NOT NULL CHECK (length(domain_name) BETWEEN 1 AND 253),
    offset_index                  BIGINT NOT NULL CHECK (offset_index >= 0),
    tld                           TEXT,
    source_keyword                TEXT,
    source_pattern                TEXT,
    generated_at                  TIMESTAMPTZ NOT NULL,
    created_at                    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (domain_generation_campaign_id, id),
    CONSTRAINT idx_generated_domains_campaign_offset UNIQUE (domain_generation_campaign_id, offset_index)
)"#],
    sqlite: &[r#"
CREATE TABLE generated_domains (
    id                            BLOB NOT NULL CHECK (typeof(id) = 'blob' AND length(id) = 16),
    domain_generation_campaign_id BLOB NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE
        CHECK (typeof(domain_generation_campaign_id) = 'blob' AND length(domain_generation_campaign_id) = 16),
    domain_name                   TEXT NOT NULL CHECK (length(domain_name) BETWEEN 1 AND 253),
    offset_index                  INTEGER NOT NULL CHECK (typeof(offset_index) = 'integer' AND offset_index >= 0),
    tld                           TEXT,
    source_keyword                TEXT,
    source_pattern                TEXT,
    generated_at                  INTEGER NOT NULL CHECK (typeof(generated_at) = 'integer'),
    created_at                    INTEGER NOT NULL CHECK (typeof(created_at) = 'integer'),
    PRIMARY KEY (domain_generation_campaign_id, id),
    CONSTRAINT idx_generated_domains_campaign_offset UNIQUE (domain_generation_campaign_id, offset_index)
) WITHOUT ROWID"#],
};

const DOWN: PerBackend = PerBackend {
    postgres: &["DROP TABLE generated_domains"],
    sqlite: &["DROP TABLE generated_domains"],
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
