//! `campaigns` table.

use super::{CampaignStatus, CampaignType, Timestamp};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "campaigns")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub campaign_type: CampaignType,
    pub status: CampaignStatus,
    pub source_campaign_id: Option<Uuid>,
    pub description: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub params: Json,
    pub total_items: i64,
    pub processed_items: i64,
    pub error_message: Option<String>,
    #[sea_orm(column_type = "TimestampWithTimeZone", nullable)]
    pub started_at: Option<Timestamp>,
    #[sea_orm(column_type = "TimestampWithTimeZone", nullable)]
    pub completed_at: Option<Timestamp>,
    #[sea_orm(column_type = "TimestampWithTimeZone")]
    pub created_at: Timestamp,
    #[sea_orm(column_type = "TimestampWithTimeZone")]
    pub updated_at: Timestamp,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Read by name (not on a hot page path).
impl super::DecodeRow for Model {}
