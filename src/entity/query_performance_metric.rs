//! `query_performance_metrics` table: one row per query type per sampling interval.

use super::Timestamp;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "query_performance_metrics")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub query_type: String,
    pub campaign_id: Option<Uuid>,
    pub interval_seconds: f64,
    pub query_count: i64,
    pub error_count: i64,
    pub slow_count: i64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub rows_returned: i64,
    #[sea_orm(column_type = "TimestampWithTimeZone")]
    pub recorded_at: Timestamp,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Read by name (not on a hot page path).
impl super::DecodeRow for Model {}
