//! Scalar SQL expressions giving a connection's exact totalCount, embedded in the page's own
//! statement (one round trip). They wrap the maintained-count queries of [`super::counts`], so
//! they cost O(number of status combinations), never O(rows).

use sea_orm::sea_query::{Expr, QueryStatementBuilder, SelectStatement};
use uuid::Uuid;

use super::counts;
use crate::entity::{BusinessStatus, CampaignStatus, CampaignType, ValidationStatus};

fn scalar(query: SelectStatement) -> Expr {
    Expr::SubQuery(None, Box::new(query.into_sub_query_statement()))
}

/// totalCount of `campaigns` with the given filter.
pub fn campaigns(campaign_type: Option<CampaignType>, status: Option<CampaignStatus>) -> Expr {
    scalar(counts::campaigns_total_query(campaign_type, status))
}

/// totalCount of a generation campaign's `generatedDomains`.
pub fn generated_domains(campaign: Uuid) -> Expr {
    scalar(counts::generated_domains_total_query(campaign))
}

/// totalCount of a DNS campaign's `dnsValidationResults`; `business_status: Some(None)` means
/// IS NULL.
pub fn dns_results(
    campaign: Uuid,
    validation_status: Option<ValidationStatus>,
    business_status: Option<Option<BusinessStatus>>,
) -> Expr {
    scalar(counts::dns_results_total_query(
        campaign,
        validation_status,
        business_status,
    ))
}

/// totalCount of an HTTP campaign's `httpKeywordResults`.
pub fn http_results(campaign: Uuid, validation_status: Option<ValidationStatus>) -> Expr {
    scalar(counts::http_results_total_query(campaign, validation_status))
}
