//! Scalar SQL expressions giving a connection's exact totalCount, embedded in the page's own
//! statement (one round trip). They read the maintained counts of `db::counts`, so they cost
//! O(number of status combinations), never O(rows).

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, QueryStatementBuilder};
use sea_orm::{ActiveEnum, Value};
use uuid::Uuid;

use crate::entity::{BusinessStatus, CampaignStatus, CampaignType, ValidationStatus};

/// `(SELECT CAST(COALESCE(SUM(row_count), 0) AS BIGINT) FROM <table> WHERE <conditions>)`.
fn sum(table: &'static str, conditions: Vec<(&'static str, Value)>) -> Expr {
    let mut query = Query::select();
    query
        .expr(Expr::cust("CAST(COALESCE(SUM(row_count), 0) AS BIGINT)"))
        .from(Alias::new(table));
    for (column, value) in conditions {
        query.and_where(Expr::col(Alias::new(column)).eq(value));
    }
    Expr::SubQuery(None, Box::new(query.into_sub_query_statement()))
}

/// totalCount of `campaigns` with the given filter.
pub fn campaigns(campaign_type: Option<CampaignType>, status: Option<CampaignStatus>) -> Expr {
    let mut conditions = Vec::new();
    if let Some(t) = campaign_type {
        conditions.push(("campaign_type", t.to_value().into()));
    }
    if let Some(s) = status {
        conditions.push(("status", s.to_value().into()));
    }
    sum("campaign_counts", conditions)
}

/// totalCount of a generation campaign's `generatedDomains`.
pub fn generated_domains(campaign: Uuid) -> Expr {
    sum(
        "generated_domain_counts",
        vec![("domain_generation_campaign_id", campaign.into())],
    )
}

/// totalCount of a DNS campaign's `dnsValidationResults`; `business_status: Some(None)` means
/// IS NULL, which the counts table stores as `''` (a key column cannot be NULL).
pub fn dns_results(
    campaign: Uuid,
    validation_status: Option<ValidationStatus>,
    business_status: Option<Option<BusinessStatus>>,
) -> Expr {
    let mut conditions = vec![("dns_campaign_id", campaign.into())];
    if let Some(v) = validation_status {
        conditions.push(("validation_status", v.to_value().into()));
    }
    if let Some(b) = business_status {
        let key = b.map_or_else(String::new, |b| b.to_value());
        conditions.push(("business_status", key.into()));
    }
    sum("dns_validation_result_counts", conditions)
}

/// totalCount of an HTTP campaign's `httpKeywordResults`.
pub fn http_results(campaign: Uuid, validation_status: Option<ValidationStatus>) -> Expr {
    let mut conditions = vec![("http_keyword_campaign_id", campaign.into())];
    if let Some(v) = validation_status {
        conditions.push(("validation_status", v.to_value().into()));
    }
    sum("http_keyword_result_counts", conditions)
}
