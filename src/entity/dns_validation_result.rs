//! `dns_validation_results` table.

use super::{BusinessStatus, Timestamp, ValidationStatus};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "dns_validation_results")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub dns_campaign_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub generated_domain_id: Option<Uuid>,
    pub domain_name: String,
    pub validation_status: ValidationStatus,
    pub business_status: Option<BusinessStatus>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub dns_records: Option<Json>,
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
