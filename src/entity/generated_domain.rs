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
