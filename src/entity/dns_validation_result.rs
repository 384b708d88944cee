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

impl super::DecodeRow for Model {
    const BY_POSITION: bool = true;

    fn by_position(row: &super::decode::Columns<'_>) -> Option<Result<Self, sqlx::Error>> {
        use super::decode::enum_from_text;
        let read = || {
            Ok(Self {
                dns_campaign_id: row.get(0)?,
                id: row.get(1)?,
                generated_domain_id: row.get(2)?,
                domain_name: row.get(3)?,
                validation_status: enum_from_text(row.get(4)?)?,
                business_status: row.get::<Option<String>>(5)?.map(enum_from_text).transpose()?,
                dns_records: row.get(6)?,
                attempts: row.get(7)?,
                last_checked_at: row.get(8)?,
                created_at: row.get(9)?,
            })
        };
        Some(read())
    }
}
