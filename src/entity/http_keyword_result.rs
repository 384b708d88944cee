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

impl super::DecodeRow for Model {
    const BY_POSITION: bool = true;

    fn by_position(row: &super::decode::Columns<'_>) -> Option<Result<Self, sqlx::Error>> {
        let read = || {
            Ok(Self {
                http_keyword_campaign_id: row.get(0)?,
                id: row.get(1)?,
                dns_result_id: row.get(2)?,
                domain_name: row.get(3)?,
                validation_status: super::decode::enum_from_text(row.get(4)?)?,
                http_status_code: row.get(5)?,
                page_title: row.get(6)?,
                content_snippet: row.get(7)?,
                found_keywords: row.get(8)?,
                content_hash: row.get(9)?,
                attempts: row.get(10)?,
                last_checked_at: row.get(11)?,
                created_at: row.get(12)?,
            })
        };
        Some(read())
    }
}
