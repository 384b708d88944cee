//! `http_keyword_results` table.

use super::{Timestamp, ValidationStatus};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "http_keyword_results")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub http_keyword_campaign_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub dns_result_id: Option<Uuid>,
    pub domain_name: String,
    pub validation_status: ValidationStatus,
    pub http_status_code: Option<i32>,
    pub page_title: Option<String>,
    pub content_snippet: Option<String>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub found_keywords: Option<Json>,
    pub content_hash: Option<String>,
    pub attempts: i32,
    #[sea_orm(column_type = "TimestampWithTimeZone", nullable)]
    pub last_checked_at: Option<Timestamp>,
    #[sea_orm(column_type = "TimestampWithTimeZone")]
    pub created_at: Timestamp,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Read by name (not on a hot page path).
impl super::DecodeRow for Model {}
