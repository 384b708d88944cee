//! The value sets of DESIGN.md, stored as snake_case TEXT (with CHECK constraints) and exposed
//! as GraphQL enums in SCREAMING_SNAKE_CASE (`lead_candidate` ↔ `LEAD_CANDIDATE`).

use sea_orm::entity::prelude::*;

/// What a campaign does; each kind feeds the next (generation → DNS → HTTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, async_graphql::Enum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum CampaignType {
    /// Generates domain names from a pattern (constant + generated characters + TLD).
    #[sea_orm(string_value = "domain_generation")]
    DomainGeneration,
    /// Resolves the domains of a generation campaign.
    #[sea_orm(string_value = "dns_validation")]
    DnsValidation,
    /// Fetches the domains that resolved and scans their pages for keywords.
    #[sea_orm(string_value = "http_keyword_validation")]
    HttpKeywordValidation,
}

/// Lifecycle state of a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, async_graphql::Enum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum CampaignStatus {
    /// Created, not yet scheduled.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Scheduled, waiting for a worker.
    #[sea_orm(string_value = "queued")]
    Queued,
    /// Being processed.
    #[sea_orm(string_value = "running")]
    Running,
    /// Stopped by an operator; can resume.
    #[sea_orm(string_value = "paused")]
    Paused,
    /// Finished successfully.
    #[sea_orm(string_value = "completed")]
    Completed,
    /// Stopped by an error.
    #[sea_orm(string_value = "failed")]
    Failed,
    /// Stopped by an operator for good.
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

/// Outcome of one DNS or HTTP check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, async_graphql::Enum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum ValidationStatus {
    /// Not checked yet.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// The check passed.
    #[sea_orm(string_value = "valid")]
    Valid,
    /// The check ran and failed (no records, HTTP error, no keywords).
    #[sea_orm(string_value = "invalid")]
    Invalid,
    /// The check could not complete (timeout, network error).
    #[sea_orm(string_value = "error")]
    Error,
    /// Deliberately not checked.
    #[sea_orm(string_value = "skipped")]
    Skipped,
}

/// What a DNS result means for the business; null until classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, async_graphql::Enum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum BusinessStatus {
    /// Resolves, nothing more known.
    #[sea_orm(string_value = "valid_dns")]
    ValidDns,
    /// Resolves and looks like a prospect: goes on to HTTP keyword validation.
    #[sea_orm(string_value = "lead_candidate")]
    LeadCandidate,
    /// Resolves but is excluded by policy.
    #[sea_orm(string_value = "excluded")]
    Excluded,
}
