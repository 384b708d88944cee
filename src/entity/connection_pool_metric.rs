//! `connection_pool_metrics` table: one row per pool per sampling interval.

use super::Timestamp;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "connection_pool_metrics")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub pool_name: String,
    pub active_connections: i32,
    pub idle_connections: i32,
    pub max_connections: i32,
    pub wait_count: i64,
    pub wait_duration_ms: f64,
    pub acquire_timeouts: i64,
    pub connection_errors: i64,
    pub pool_utilization_percent: f64,
    #[sea_orm(column_type = "TimestampWithTimeZone")]
    pub recorded_at: Timestamp,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Read by name (not on a hot page path).
impl super::DecodeRow for Model {}
