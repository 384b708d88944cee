//! `generated_domains` table.

use super::Timestamp;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "generated_domains")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub domain_generation_campaign_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub domain_name: String,
    pub offset_index: i64,
    pub tld: Option<String>,
    pub source_keyword: Option<String>,
    pub source_pattern: Option<String>,
    #[sea_orm(column_type = "TimestampWithTimeZone")]
    pub generated_at: Timestamp,
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
                domain_generation_campaign_id: row.get(0)?,
                id: row.get(1)?,
                domain_name: row.get(2)?,
                offset_index: row.get(3)?,
                tld: row.get(4)?,
                source_keyword: row.get(5)?,
                source_pattern: row.get(6)?,
                generated_at: row.get(7)?,
                created_at: row.get(8)?,
            })
        };
        Some(read())
    }
}
