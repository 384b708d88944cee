//! `Campaign` and the root fields that find campaigns: `campaign`, `campaignByDatabaseId`,
//! `campaigns` (a keyset connection ordered by CREATED_AT or NAME, filtered by type and status).

use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query, QueryStatementBuilder};
use sea_orm::{ColumnTrait, Condition, EntityTrait};
use uuid::Uuid;

use crate::entity::campaign::{self, Column};
use crate::entity::{CampaignStatus, CampaignType};
use crate::error::ApiResult;
use crate::pagination::cursor::filter_hash;
use crate::pagination::{
    CursorScope, Direction, KeysetQuery, PageArgs, Position, RowId, SortKind, SortValue, fetch_page,
};

use super::connection::{CampaignConnection, wants_total};
use super::node::{GlobalId, NodeType};
use super::{ApiContext, connection_codes};

/// A domain-generation, DNS-validation or HTTP-keyword-validation campaign.
#[derive(Debug, Clone)]
pub struct Campaign(pub campaign::Model);

#[Object]
impl Campaign {
    /// Opaque global id; `node(id:)` and `campaign(id:)` resolve it.
    async fn id(&self) -> ID {
        ID(GlobalId::campaign(self.0.id).encode())
    }

    /// The campaign's primary key in the database.
    async fn database_id(&self) -> Uuid {
        self.0.id
    }

    /// Human-readable name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What the campaign does.
    async fn campaign_type(&self) -> CampaignType {
        self.0.campaign_type
    }

    /// Lifecycle state.
    async fn status(&self) -> CampaignStatus {
        self.0.status
    }

    /// Database id of the campaign whose results this one processes (generation → DNS → HTTP).
    async fn source_campaign_database_id(&self) -> Option<Uuid> {
        self.0.source_campaign_id
    }

    /// Free-text description.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// Parameters the campaign was started with (pattern, character set, TLDs, keywords…).
    async fn params(&self) -> &serde_json::Value {
        &self.0.params
    }

    /// Number of items the campaign will process in all.
    async fn total_items(&self) -> i64 {
        self.0.total_items
    }

    /// Number of items processed so far.
    async fn processed_items(&self) -> i64 {
        self.0.processed_items
    }

    /// processedItems / totalItems in percent (0 when totalItems is 0).
    async fn progress_percent(&self) -> f64 {
        if self.0.total_items == 0 {
            0.0
        } else {
            self.0.processed_items as f64 * 100.0 / self.0.total_items as f64
        }
    }

    /// Why the campaign failed, when it did.
    async fn error_message(&self) -> Option<&str> {
        self.0.error_message.as_deref()
    }

    /// When processing started.
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at.map(Into::into)
    }

    /// When processing finished.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at.map(Into::into)
    }

    /// When the campaign was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.into()
    }

    /// When the campaign last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at.into()
    }
}

/// Fields campaigns can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Default)]
pub enum CampaignOrderField {
    /// Creation time (ties broken by id).
    #[default]
    CreatedAt,
    /// Name (ties broken by id).
    Name,
}

/// Ordering of the campaigns connection.
#[derive(Debug, Clone, Copy, Default, InputObject)]
pub struct CampaignOrder {
    /// The field to order by. Default CREATED_AT.
    #[graphql(default)]
    pub field: CampaignOrderField,
    /// The direction. Default ASC.
    #[graphql(default)]
    pub direction: Direction,
}

/// Filter of the campaigns connection; an absent field means no filter on it.
#[derive(Debug, Clone, Copy, Default, InputObject)]
pub struct CampaignFilter {
    /// Only campaigns of this type.
    pub campaign_type: Option<CampaignType>,
    /// Only campaigns in this state.
    pub status: Option<CampaignStatus>,
}

impl CampaignFilter {
    fn condition(&self) -> Condition {
        Condition::all()
            .add_option(self.campaign_type.map(|t| Column::CampaignType.eq(t)))
            .add_option(self.status.map(|s| Column::Status.eq(s)))
    }

    fn hash(&self) -> u64 {
        let part = |v: Option<String>| v.unwrap_or_else(|| "*".to_owned());
        filter_hash([
            part(self.campaign_type.map(|t| sea_orm::ActiveEnum::to_value(&t))).as_str(),
            part(self.status.map(|s| sea_orm::ActiveEnum::to_value(&s))).as_str(),
        ])
    }
}

fn campaign_position_created(m: &campaign::Model) -> (SortValue, RowId) {
    (SortValue::Time(m.created_at), RowId::Uuid(m.id))
}

fn campaign_position_name(m: &campaign::Model) -> (SortValue, RowId) {
    (SortValue::Text(m.name.clone()), RowId::Uuid(m.id))
}

/// Root fields about campaigns.
#[derive(Default)]
pub struct CampaignQuery;

#[Object]
impl CampaignQuery {
    /// A campaign by its global id; null when no such campaign exists.
    async fn campaign(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id (`Campaign.id`).")] id: ID,
    ) -> ApiResult<Option<Campaign>> {
        let id = GlobalId::decode_as(&id, NodeType::Campaign)?;
        find_campaign(ctx, id.id).await
    }

    /// A campaign by its database primary key; null when no such campaign exists.
    async fn campaign_by_database_id(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The campaign's primary key (`Campaign.databaseId`).")] database_id: Uuid,
    ) -> ApiResult<Option<Campaign>> {
        find_campaign(ctx, database_id).await
    }

    /// All campaigns, a page at a time (Relay cursor connection).
    #[allow(clippy::too_many_arguments)]
    async fn campaigns(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first n campaigns after `after` (default 50, at most the configured maximum).")]
        first: Option<i32>,
        #[graphql(desc = "Cursor: return campaigns after this one.")] after: Option<String>,
        #[graphql(desc = "Return the last n campaigns before `before`.")] last: Option<i32>,
        #[graphql(desc = "Cursor: return campaigns before this one.")] before: Option<String>,
        #[graphql(desc = "Ordering; default CREATED_AT ASC.")] order_by: Option<CampaignOrder>,
        #[graphql(desc = "Only campaigns matching every given field.")] filter: Option<CampaignFilter>,
    ) -> ApiResult<CampaignConnection> {
        let api = ApiContext::get(ctx)?;
        let order = order_by.unwrap_or_default();
        let filter = filter.unwrap_or_default();
        let (sort_column, sort_kind, position): (_, _, Position<campaign::Model>) = match order.field {
            CampaignOrderField::CreatedAt => (Column::CreatedAt, SortKind::Time, campaign_position_created),
            CampaignOrderField::Name => (Column::Name, SortKind::Text, campaign_position_name),
        };
        let scope = CursorScope {
            connection: connection_codes::CAMPAIGNS,
            parent: Uuid::nil(),
            ordering: order.field as u8,
            direction: order.direction,
            filter_hash: filter.hash(),
        };
        let window = PageArgs {
            first,
            after,
            last,
            before,
        }
        .validate(api.max_page_size, &scope, sort_kind)?;
        let total = wants_total(ctx).then(|| {
            let mut count = Query::select();
            count
                .expr(Expr::cust("COUNT(*)"))
                .from(campaign::Entity)
                .cond_where(filter.condition());
            Expr::SubQuery(None, Box::new(count.into_sub_query_statement())).cast_as("BIGINT")
        });
        let query = KeysetQuery::<campaign::Entity> {
            scope,
            condition: filter.condition(),
            sort_column,
            sort_kind,
            id_column: Column::Id,
            total,
            position,
        };
        let page = fetch_page(&api.db, &query, &window).await?;
        Ok(CampaignConnection::from_page(page, Campaign))
    }
}

async fn find_campaign(ctx: &Context<'_>, id: Uuid) -> ApiResult<Option<Campaign>> {
    let api = ApiContext::get(ctx)?;
    Ok(campaign::Entity::find_by_id(id).one(&api.db).await?.map(Campaign))
}
