//! `Campaign` and the root fields that find campaigns: `campaign`, `campaignByDatabaseId`,
//! `campaigns` (a keyset connection ordered by CREATED_AT or NAME, filtered by type and status).

use async_graphql::dataloader::Loader;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition};
use uuid::Uuid;

use crate::db::{counts, totals};
use crate::entity::campaign::{self, Column};
use crate::entity::{
    BusinessStatus, CampaignStatus, CampaignType, ValidationStatus, dns_validation_result, generated_domain,
    http_keyword_result,
};
use crate::error::{ApiResult, Error};
use crate::pagination::cursor::filter_hash;
use crate::pagination::{Direction, PageArgs, Position, RowId, SortKind, SortValue};

use super::access::RequireScope;
use super::campaign_rows::{
    self, DnsValidationResultFilter, DnsValidationResultOrder, GeneratedDomainOrder, HttpKeywordResultFilter,
    HttpKeywordResultOrder,
};
use super::connection::{
    CampaignConnection, ConnectionRequest, DnsValidationResultConnection, DnsValidationResultEdge,
    GeneratedDomainConnection, GeneratedDomainEdge, HttpKeywordResultConnection, HttpKeywordResultEdge, OrderField,
    wants_total,
};
use super::loader::CampaignKey;
use super::node::{GlobalId, NodeType};
use super::results::{DnsValidationResult, GeneratedDomain, HttpKeywordResult};
use super::{ApiContext, connection_codes};
use crate::auth::Scope;

/// A domain-generation, DNS-validation or HTTP-keyword-validation campaign.
#[derive(Debug, Clone)]
pub struct Campaign(pub campaign::Model);

#[Object]
impl Campaign {
    /// Opaque global id; `node(id:)` and `campaign(id:)` resolve it.
    pub async fn id(&self) -> ID {
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

    /// The campaign whose results this one processes (a DNS campaign's generation campaign,
    /// an HTTP campaign's DNS campaign); null for a generation campaign.
    async fn source_campaign(&self, ctx: &Context<'_>) -> ApiResult<Option<Campaign>> {
        let Some(source) = self.0.source_campaign_id else {
            return Ok(None);
        };
        Ok(ApiContext::get(ctx)?
            .loader
            .load_one(CampaignKey(source))
            .await?
            .map(Campaign))
    }

    /// Rows of this DNS campaign per (validationStatus, businessStatus), from the maintained
    /// counts: what a results page shows beside its filters. Empty for other campaign types.
    async fn dns_status_counts(&self, ctx: &Context<'_>) -> ApiResult<Vec<DnsStatusCount>> {
        if self.0.campaign_type != CampaignType::DnsValidation {
            return Ok(Vec::new());
        }
        let api = ApiContext::get(ctx)?;
        let campaign = self.0.id;
        Ok(api
            .observer
            .run(
                "dns_validation_results.status_counts",
                |rows: &Vec<_>| rows.len() as u64,
                || "SELECT … FROM dns_validation_result_counts WHERE dns_campaign_id = $1".to_owned(),
                || async { Ok(counts::dns_status_breakdown(&api.db, campaign).await?) },
            )
            .await?
            .into_iter()
            .map(|(validation_status, business_status, count)| DnsStatusCount {
                validation_status,
                business_status,
                count,
            })
            .collect())
    }

    /// Rows of this HTTP campaign per validationStatus, from the maintained counts. Empty for
    /// other campaign types.
    async fn http_status_counts(&self, ctx: &Context<'_>) -> ApiResult<Vec<HttpStatusCount>> {
        if self.0.campaign_type != CampaignType::HttpKeywordValidation {
            return Ok(Vec::new());
        }
        let api = ApiContext::get(ctx)?;
        let campaign = self.0.id;
        Ok(api
            .observer
            .run(
                "http_keyword_results.status_counts",
                |rows: &Vec<_>| rows.len() as u64,
                || "SELECT … FROM http_keyword_result_counts WHERE http_keyword_campaign_id = $1".to_owned(),
                || async { Ok(counts::http_status_breakdown(&api.db, campaign).await?) },
            )
            .await?
            .into_iter()
            .map(|(validation_status, count)| HttpStatusCount {
                validation_status,
                count,
            })
            .collect())
    }

    /// The domains this campaign generated (empty unless it is a domain-generation campaign).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "super::limits::connection_cost(first, last, child_complexity)")]
    async fn generated_domains(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first n rows after `after` (default 50, at most the configured maximum).")]
        first: Option<i32>,
        #[graphql(desc = "Cursor: return rows after this one.")] after: Option<String>,
        #[graphql(desc = "Return the last n rows before `before`.")] last: Option<i32>,
        #[graphql(desc = "Cursor: return rows before this one.")] before: Option<String>,
        #[graphql(desc = "Ordering; default OFFSET_INDEX ASC.")] order_by: Option<GeneratedDomainOrder>,
    ) -> ApiResult<GeneratedDomainConnection> {
        let request = campaign_rows::generated_domains(&self.0, order_by.unwrap_or_default(), wants_total(ctx));
        let page = request
            .fetch(
                ctx,
                PageArgs {
                    first,
                    after,
                    last,
                    before,
                },
            )
            .await?;
        Ok(GeneratedDomainConnection::from_page(page, GeneratedDomain))
    }

    /// Jump to one generated domain — by its position in the generation space or by name —
    /// with one index lookup. The edge's cursor belongs to `orderBy`: pass it as `after` (or
    /// as `before` with `last`) to page on from there. Null when there is no such domain.
    async fn find_generated_domain(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The domain's offsetIndex.")] offset_index: Option<i64>,
        #[graphql(desc = "The domain's exact name.")] domain_name: Option<String>,
        #[graphql(desc = "Ordering the returned cursor is for; default OFFSET_INDEX ASC.")] order_by: Option<
            GeneratedDomainOrder,
        >,
    ) -> ApiResult<Option<GeneratedDomainEdge>> {
        use generated_domain::Column;
        let lookup = match (offset_index, domain_name) {
            (Some(offset), None) => Condition::all().add(Column::OffsetIndex.eq(offset)),
            (None, Some(name)) => Condition::all().add(Column::DomainName.eq(super::lookup_text("domainName", &name)?)),
            _ => {
                return Err(Error::BadUserInput("pass exactly one of `offsetIndex` or `domainName`".to_owned()).into());
            }
        };
        let request = campaign_rows::generated_domains(&self.0, order_by.unwrap_or_default(), false);
        Ok(request
            .find(ctx, lookup)
            .await?
            .map(|(model, cursor)| GeneratedDomainEdge {
                cursor: cursor.encode(),
                node: GeneratedDomain(model),
            }))
    }

    /// The DNS validation results of this campaign (empty unless it is a DNS-validation campaign).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "super::limits::connection_cost(first, last, child_complexity)")]
    async fn dns_validation_results(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first n rows after `after` (default 50, at most the configured maximum).")]
        first: Option<i32>,
        #[graphql(desc = "Cursor: return rows after this one.")] after: Option<String>,
        #[graphql(desc = "Return the last n rows before `before`.")] last: Option<i32>,
        #[graphql(desc = "Cursor: return rows before this one.")] before: Option<String>,
        #[graphql(desc = "Ordering; default CREATED_AT ASC.")] order_by: Option<DnsValidationResultOrder>,
        #[graphql(desc = "Only results matching every given field.")] filter: Option<DnsValidationResultFilter>,
    ) -> ApiResult<DnsValidationResultConnection> {
        let filter = filter.unwrap_or_default();
        let request =
            campaign_rows::dns_validation_results(&self.0, order_by.unwrap_or_default(), &filter, wants_total(ctx));
        let page = request
            .fetch(
                ctx,
                PageArgs {
                    first,
                    after,
                    last,
                    before,
                },
            )
            .await?;
        Ok(DnsValidationResultConnection::from_page(page, DnsValidationResult))
    }

    /// Find one DNS result by domain name (one index lookup); its cursor belongs to `orderBy`
    /// and `filter`. Null when no result of this campaign matches.
    async fn find_dns_validation_result(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The domain's exact name.")] domain_name: String,
        #[graphql(desc = "Ordering the returned cursor is for; default CREATED_AT ASC.")] order_by: Option<
            DnsValidationResultOrder,
        >,
        #[graphql(desc = "Filter the returned cursor is for; the result must match it.")] filter: Option<
            DnsValidationResultFilter,
        >,
    ) -> ApiResult<Option<DnsValidationResultEdge>> {
        let filter = filter.unwrap_or_default();
        let request = campaign_rows::dns_validation_results(&self.0, order_by.unwrap_or_default(), &filter, false);
        let name = super::lookup_text("domainName", &domain_name)?;
        let lookup = Condition::all().add(dns_validation_result::Column::DomainName.eq(name));
        Ok(request
            .find(ctx, lookup)
            .await?
            .map(|(model, cursor)| DnsValidationResultEdge {
                cursor: cursor.encode(),
                node: DnsValidationResult(model),
            }))
    }

    /// The HTTP keyword results of this campaign (empty unless it is an HTTP-keyword campaign).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "super::limits::connection_cost(first, last, child_complexity)")]
    async fn http_keyword_results(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first n rows after `after` (default 50, at most the configured maximum).")]
        first: Option<i32>,
        #[graphql(desc = "Cursor: return rows after this one.")] after: Option<String>,
        #[graphql(desc = "Return the last n rows before `before`.")] last: Option<i32>,
        #[graphql(desc = "Cursor: return rows before this one.")] before: Option<String>,
        #[graphql(desc = "Ordering; default CREATED_AT ASC.")] order_by: Option<HttpKeywordResultOrder>,
        #[graphql(desc = "Only results matching every given field.")] filter: Option<HttpKeywordResultFilter>,
    ) -> ApiResult<HttpKeywordResultConnection> {
        let request = campaign_rows::http_keyword_results(
            &self.0,
            order_by.unwrap_or_default(),
            filter.unwrap_or_default(),
            wants_total(ctx),
        );
        let page = request
            .fetch(
                ctx,
                PageArgs {
                    first,
                    after,
                    last,
                    before,
                },
            )
            .await?;
        Ok(HttpKeywordResultConnection::from_page(page, HttpKeywordResult))
    }

    /// Find one HTTP result by domain name (one index lookup); its cursor belongs to
    /// `orderBy` and `filter`. Null when no result of this campaign matches.
    async fn find_http_keyword_result(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The domain's exact name.")] domain_name: String,
        #[graphql(desc = "Ordering the returned cursor is for; default CREATED_AT ASC.")] order_by: Option<
            HttpKeywordResultOrder,
        >,
        #[graphql(desc = "Filter the returned cursor is for; the result must match it.")] filter: Option<
            HttpKeywordResultFilter,
        >,
    ) -> ApiResult<Option<HttpKeywordResultEdge>> {
        let request = campaign_rows::http_keyword_results(
            &self.0,
            order_by.unwrap_or_default(),
            filter.unwrap_or_default(),
            false,
        );
        let name = super::lookup_text("domainName", &domain_name)?;
        let lookup = Condition::all().add(http_keyword_result::Column::DomainName.eq(name));
        Ok(request
            .find(ctx, lookup)
            .await?
            .map(|(model, cursor)| HttpKeywordResultEdge {
                cursor: cursor.encode(),
                node: HttpKeywordResult(model),
            }))
    }
}

/// How many DNS results of a campaign have one combination of statuses.
#[derive(Debug, Clone, SimpleObject)]
pub struct DnsStatusCount {
    /// The validation status.
    pub validation_status: ValidationStatus,
    /// The business status; null for results not classified.
    pub business_status: Option<BusinessStatus>,
    /// Number of results with exactly these statuses.
    pub count: i64,
}

/// How many HTTP results of a campaign have one validation status.
#[derive(Debug, Clone, SimpleObject)]
pub struct HttpStatusCount {
    /// The validation status.
    pub validation_status: ValidationStatus,
    /// Number of results with this status.
    pub count: i64,
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

impl OrderField<campaign::Entity> for CampaignOrderField {
    fn code(self) -> u8 {
        self as u8
    }

    fn column(self) -> Column {
        match self {
            Self::CreatedAt => Column::CreatedAt,
            Self::Name => Column::Name,
        }
    }

    fn kind(self) -> SortKind {
        match self {
            Self::CreatedAt => SortKind::Time,
            Self::Name => SortKind::Text,
        }
    }

    fn position(self) -> Position<campaign::Model> {
        match self {
            Self::CreatedAt => |m| (SortValue::Time(m.created_at), RowId::Uuid(m.id)),
            Self::Name => |m| (SortValue::Text(m.name.clone()), RowId::Uuid(m.id)),
        }
    }
}

/// Root fields about campaigns; they need the `read` scope.
#[derive(Default)]
pub struct CampaignQuery;

#[Object(guard = "RequireScope(Scope::Read)")]
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
    #[graphql(complexity = "super::limits::connection_cost(first, last, child_complexity)")]
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
        let request = campaigns(
            order_by.unwrap_or_default(),
            filter.unwrap_or_default(),
            wants_total(ctx),
        );
        let page = request
            .fetch(
                ctx,
                PageArgs {
                    first,
                    after,
                    last,
                    before,
                },
            )
            .await?;
        Ok(CampaignConnection::from_page(page, Campaign))
    }
}

/// The campaigns connection for `order` and `filter`.
pub fn campaigns(
    order: CampaignOrder,
    filter: CampaignFilter,
    with_total: bool,
) -> ConnectionRequest<campaign::Entity, CampaignOrderField> {
    ConnectionRequest {
        connection: connection_codes::CAMPAIGNS,
        parent: Uuid::nil(),
        order: order.field,
        direction: order.direction,
        filter_hash: filter.hash(),
        condition: filter.condition(),
        id_column: Column::Id,
        total: with_total.then(|| totals::campaigns(filter.campaign_type, filter.status)),
        guard: None,
        applicable: true,
    }
}

async fn find_campaign(ctx: &Context<'_>, id: Uuid) -> ApiResult<Option<Campaign>> {
    // A root lookup is one key: loaded at once (same statement, same query type) rather than
    // through the batching DataLoader, whose 1 ms batching delay was most of a page's latency
    // at one connection (BENCHMARKS.md, issue 8). Links between objects still batch.
    Ok(load_campaign(ApiContext::get(ctx)?, id).await?.map(Campaign))
}

/// The campaign `id`, loaded at once (see `find_campaign`).
pub async fn load_campaign(api: &ApiContext, id: Uuid) -> ApiResult<Option<campaign::Model>> {
    let key = CampaignKey(id);
    let mut found = api.loader.loader().load(&[key]).await?;
    Ok(found.remove(&key))
}
