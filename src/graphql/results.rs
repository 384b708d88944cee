//! The rows of a campaign: `GeneratedDomain`, `DnsValidationResult`, `HttpKeywordResult`.

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::entity::{BusinessStatus, ValidationStatus, dns_validation_result, generated_domain, http_keyword_result};
use async_graphql::dataloader::Loader;

use crate::error::{ApiError, ApiResult};

use super::ApiContext;
use super::campaign::Campaign;
use super::loader::{CampaignKey, DbLoader, RowKey};
use super::node::{GlobalId, NodeType};

/// The row `id` of table `E` that belongs to the source campaign of `campaign` (a DNS result's
/// generated domain, an HTTP result's DNS result): two batched loads, campaign then row.
async fn in_source_campaign<E: 'static>(
    ctx: &Context<'_>,
    campaign: Uuid,
    id: Option<Uuid>,
) -> ApiResult<Option<<DbLoader as Loader<RowKey<E>>>::Value>>
where
    DbLoader: Loader<RowKey<E>, Error = ApiError>,
{
    let Some(id) = id else {
        return Ok(None);
    };
    let loader = &ApiContext::get(ctx)?.loader;
    let Some(source) = loader
        .load_one::<CampaignKey>(CampaignKey(campaign))
        .await?
        .and_then(|c| c.source_campaign_id)
    else {
        return Ok(None);
    };
    loader.load_one(RowKey::<E>::new(source, id)).await
}

async fn campaign(ctx: &Context<'_>, id: Uuid) -> ApiResult<Option<Campaign>> {
    Ok(ApiContext::get(ctx)?
        .loader
        .load_one(CampaignKey(id))
        .await?
        .map(Campaign))
}

/// A domain name produced by a domain-generation campaign.
#[derive(Debug, Clone)]
pub struct GeneratedDomain(pub generated_domain::Model);

#[Object]
impl GeneratedDomain {
    /// Opaque global id; `node(id:)` resolves it.
    pub async fn id(&self) -> ID {
        ID(GlobalId::row(
            NodeType::GeneratedDomain,
            self.0.domain_generation_campaign_id,
            self.0.id,
        )
        .encode())
    }

    /// The row's primary key (unique within its campaign).
    async fn database_id(&self) -> Uuid {
        self.0.id
    }

    /// Database id of the generation campaign that produced it.
    async fn campaign_database_id(&self) -> Uuid {
        self.0.domain_generation_campaign_id
    }

    /// The fully qualified domain name.
    async fn domain_name(&self) -> &str {
        &self.0.domain_name
    }

    /// Position in the campaign's generation space (unique within the campaign).
    async fn offset_index(&self) -> i64 {
        self.0.offset_index
    }

    /// Top-level domain, e.g. ".com".
    async fn tld(&self) -> Option<&str> {
        self.0.tld.as_deref()
    }

    /// The constant keyword the name was built around.
    async fn source_keyword(&self) -> Option<&str> {
        self.0.source_keyword.as_deref()
    }

    /// The generation pattern that produced the name.
    async fn source_pattern(&self) -> Option<&str> {
        self.0.source_pattern.as_deref()
    }

    /// The generation campaign that produced it.
    async fn campaign(&self, ctx: &Context<'_>) -> ApiResult<Option<Campaign>> {
        campaign(ctx, self.0.domain_generation_campaign_id).await
    }

    /// When the name was generated.
    async fn generated_at(&self) -> DateTime<Utc> {
        self.0.generated_at.into()
    }

    /// When the row was stored.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.into()
    }
}

/// The DNS check of one generated domain within a DNS-validation campaign.
#[derive(Debug, Clone)]
pub struct DnsValidationResult(pub dns_validation_result::Model);

#[Object]
impl DnsValidationResult {
    /// Opaque global id; `node(id:)` resolves it.
    pub async fn id(&self) -> ID {
        ID(GlobalId::row(NodeType::DnsValidationResult, self.0.dns_campaign_id, self.0.id).encode())
    }

    /// The row's primary key (unique within its campaign).
    async fn database_id(&self) -> Uuid {
        self.0.id
    }

    /// Database id of the DNS-validation campaign.
    async fn campaign_database_id(&self) -> Uuid {
        self.0.dns_campaign_id
    }

    /// Database id of the generated domain that was checked.
    async fn generated_domain_database_id(&self) -> Option<Uuid> {
        self.0.generated_domain_id
    }

    /// The DNS-validation campaign.
    async fn campaign(&self, ctx: &Context<'_>) -> ApiResult<Option<Campaign>> {
        campaign(ctx, self.0.dns_campaign_id).await
    }

    /// The generated domain that was checked (it belongs to this campaign's source campaign).
    async fn generated_domain(&self, ctx: &Context<'_>) -> ApiResult<Option<GeneratedDomain>> {
        Ok(
            in_source_campaign::<generated_domain::Entity>(ctx, self.0.dns_campaign_id, self.0.generated_domain_id)
                .await?
                .map(GeneratedDomain),
        )
    }

    /// The domain that was checked.
    async fn domain_name(&self) -> &str {
        &self.0.domain_name
    }

    /// Outcome of the check.
    async fn validation_status(&self) -> ValidationStatus {
        self.0.validation_status
    }

    /// Business classification; null until classified.
    async fn business_status(&self) -> Option<BusinessStatus> {
        self.0.business_status
    }

    /// The DNS records found (A, AAAA, MX, NS…), as JSON.
    async fn dns_records(&self) -> Option<&serde_json::Value> {
        self.0.dns_records.as_ref()
    }

    /// How many times the domain was checked.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }

    /// When the domain was last checked.
    async fn last_checked_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_checked_at.map(Into::into)
    }

    /// When the row was stored.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.into()
    }
}

/// The HTTP fetch and keyword scan of one domain within an HTTP-keyword campaign.
#[derive(Debug, Clone)]
pub struct HttpKeywordResult(pub http_keyword_result::Model);

#[Object]
impl HttpKeywordResult {
    /// Opaque global id; `node(id:)` resolves it.
    pub async fn id(&self) -> ID {
        ID(GlobalId::row(NodeType::HttpKeywordResult, self.0.http_keyword_campaign_id, self.0.id).encode())
    }

    /// The row's primary key (unique within its campaign).
    async fn database_id(&self) -> Uuid {
        self.0.id
    }

    /// Database id of the HTTP-keyword campaign.
    async fn campaign_database_id(&self) -> Uuid {
        self.0.http_keyword_campaign_id
    }

    /// Database id of the DNS result this check followed.
    async fn dns_result_database_id(&self) -> Option<Uuid> {
        self.0.dns_result_id
    }

    /// The HTTP-keyword campaign.
    async fn campaign(&self, ctx: &Context<'_>) -> ApiResult<Option<Campaign>> {
        campaign(ctx, self.0.http_keyword_campaign_id).await
    }

    /// The DNS result this check followed (it belongs to this campaign's source campaign).
    async fn dns_validation_result(&self, ctx: &Context<'_>) -> ApiResult<Option<DnsValidationResult>> {
        Ok(in_source_campaign::<dns_validation_result::Entity>(
            ctx,
            self.0.http_keyword_campaign_id,
            self.0.dns_result_id,
        )
        .await?
        .map(DnsValidationResult))
    }

    /// The domain that was fetched.
    async fn domain_name(&self) -> &str {
        &self.0.domain_name
    }

    /// Outcome of the check.
    async fn validation_status(&self) -> ValidationStatus {
        self.0.validation_status
    }

    /// HTTP status code of the response.
    async fn http_status_code(&self) -> Option<i32> {
        self.0.http_status_code
    }

    /// The page's <title>.
    async fn page_title(&self) -> Option<&str> {
        self.0.page_title.as_deref()
    }

    /// A short excerpt of the page around the keywords.
    async fn content_snippet(&self) -> Option<&str> {
        self.0.content_snippet.as_deref()
    }

    /// Keywords found on the page, as JSON.
    async fn found_keywords(&self) -> Option<&serde_json::Value> {
        self.0.found_keywords.as_ref()
    }

    /// Hash of the page content (detects unchanged pages).
    async fn content_hash(&self) -> Option<&str> {
        self.0.content_hash.as_deref()
    }

    /// How many times the domain was fetched.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }

    /// When the domain was last fetched.
    async fn last_checked_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_checked_at.map(Into::into)
    }

    /// When the row was stored.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.into()
    }
}
