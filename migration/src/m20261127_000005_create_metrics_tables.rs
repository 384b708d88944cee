//! `query_performance_metrics` and `connection_pool_metrics`: the sampler's persisted history,
//! one row per query type (resp. per pool) per sampling interval. Not Nodes; BIGSERIAL ids.

use crate::ddl::PerBackend;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: PerBackend = PerBackend {
    postgres: &[
        r#"
CREATE TABLE query_performance_metrics (
    id               BIGSERIAL PRIMARY KEY,
    query_type       TEXT NOT NULL,
    campaign_id      UUID,
    interval_seconds DOUBLE PRECISION NOT NULL CHECK (interval_seconds >= 0),
    query_count      BIGINT NOT NULL DEFAULT 0 CHECK (query_count >= 0),
    error_count      BIGINT NOT NULL DEFAULT 0 CHECK (error_count >= 0),
    slow_count       BIGINT NOT NULL DEFAULT 0 CHECK (slow_count >= 0),
    mean_ms          DOUBLE PRECISION NOT NULL DEFAULT 0,
    p50_ms           DOUBLE PRECISION NOT NULL DEFAULT 0,
    p95_ms           DOUBLE PRECISION NOT NULL DEFAULT 0,
    p99_ms           DOUBLE PRECISION NOT NULL DEFAULT 0,
    max_ms           DOUBLE PRECISION NOT NULL DEFAULT 0,
    rows_returned    BIGINT NOT NULL DEFAULT 0 CHECK (rows_returned >= 0),
    recorded_at      TIMESTAMPTZ NOT NULL
)"#,
        r#"
CREATE TABLE connection_pool_metrics (
    id                       BIGSERIAL PRIMARY KEY,
    pool_name                TEXT NOT NULL DEFAULT 'primary',
    active_connections       INTEGER NOT NULL CHECK (active_connections >= 0),
    idle_connections         INTEGER NOT NULL CHECK (idle_connections >= 0),
    max_connections          INTEGER NOT NULL CHECK (max_connections >= 0),
    wait_count               BIGINT NOT NULL DEFAULT 0 CHECK (wait_count >= 0),
    wait_duration_ms         DOUBLE PRECISION NOT NULL DEFAULT 0,
    acquire_timeouts         BIGINT NOT NULL DEFAULT 0 CHECK (acquire_timeouts >= 0),
    connection_errors        BIGINT NOT NULL DEFAULT 0 CHECK (connection_errors >= 0),
    pool_utilization_percent DOUBLE PRECISION NOT NULL DEFAULT 0,
    recorded_at              TIMESTAMPTZ NOT NULL
)"#,
    ],
    sqlite: &[
        r#"
CREATE TABLE query_performance_metrics (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    query_type       TEXT NOT NULL,
    campaign_id      BLOB CHECK (campaign_id IS NULL OR (typeof(campaign_id) = 'blob' AND length(campaign_id) = 16)),
    interval_seconds REAL NOT NULL CHECK (interval_seconds >= 0),
    query_count      INTEGER NOT NULL DEFAULT 0 CHECK (query_count >= 0),
    error_count      INTEGER NOT NULL DEFAULT 0 CHECK (error_count >= 0),
    slow_count       INTEGER NOT NULL DEFAULT 0 CHECK (slow_count >= 0),
    mean_ms          REAL NOT NULL DEFAULT 0,
    p50_ms           REAL NOT NULL DEFAULT 0,
    p95_ms           REAL NOT NULL DEFAULT 0,
    p99_ms           REAL NOT NULL DEFAULT 0,
    max_ms           REAL NOT NULL DEFAULT 0,
    rows_returned    INTEGER NOT NULL DEFAULT 0 CHECK (rows_returned >= 0),
    recorded_at      INTEGER NOT NULL CHECK (typeof(recorded_at) = 'integer')
)"#,
        r#"
CREATE TABLE connection_pool_metrics (
    id                       INTEGER PRIMARY KEY AUTOINCREMENT,
    pool_name                TEXT NOT NULL DEFAULT 'primary',
    active_connections       INTEGER NOT NULL CHECK (active_connections >= 0),
    idle_connections         INTEGER NOT NULL CHECK (idle_connections >= 0),
    max_connections          INTEGER NOT NULL CHECK (max_connections >= 0),
    wait_count               INTEGER NOT NULL DEFAULT 0 CHECK (wait_count >= 0),
    wait_duration_ms         REAL NOT NULL DEFAULT 0,
    acquire_timeouts         INTEGER NOT NULL DEFAULT 0 CHECK (acquire_timeouts >= 0),
    connection_errors        INTEGER NOT NULL DEFAULT 0 CHECK (connection_errors >= 0),
    pool_utilization_percent REAL NOT NULL DEFAULT 0,
    recorded_at              INTEGER NOT NULL CHECK (typeof(recorded_at) = 'integer')
)"#,
    ],
};

const DOWN: PerBackend = PerBackend {
    postgres: &[
        "DROP TABLE connection_pool_metrics",
        "DROP TABLE query_performance_metrics",
    ],
    sqlite: &[
        "DROP TABLE connection_pool_metrics",
        "DROP TABLE query_performance_metrics",
    ],
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
