//! The three connections of a campaign's rows — generated domains, DNS validation results,
//! HTTP keyword results — as data for the one keyset engine: their orderings, filters, counts
//! and the condition that keeps every query inside one campaign.

use async_graphql::{Enum, InputObject, MaybeUndefined};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveEnum, ColumnTrait, Condition};

use crate::db::totals;
use uuid::Uuid;

use crate::entity::{
    BusinessStatus, CampaignType, ValidationStatus, campaign, dns_validation_result, generated_domain,
    http_keyword_result,
};
use crate::pagination::cursor::filter_hash;
use crate::pagination::{Direction, Position, RowId, SortKind, SortValue};

use super::connection::{ConnectionRequest, OrderField};
use super::connection_codes;

/// The campaign a connection hangs off: all a connection needs of it.
#[derive(Debug, Clone, Copy)]
pub struct Parent {
    pub id: Uuid,
    pub campaign_type: CampaignType,
}

impl From<&campaign::Model> for Parent {
    fn from(campaign: &campaign::Model) -> Self {
        Self {
            id: campaign.id,
            campaign_type: campaign.campaign_type,
        }
    }
}

/// `(SELECT campaign_type FROM campaigns WHERE id = …)`: a page statement carrying it as its
/// guard tells in the same statement whether the campaign exists and what it is (compiled
/// page plans use it instead of loading the campaign first).
pub fn campaign_type_guard(id: Uuid) -> Expr {
    use sea_orm::sea_query::Query;
    let mut select = Query::select();
    select
        .column(campaign::Column::CampaignType)
        .from(campaign::Entity)
        .and_where(campaign::Column::Id.eq(id));
    Expr::SubQuery(None, Box::new(select.into()))
}

fn filter_part<T: ActiveEnum<Value = String>>(value: Option<T>) -> String {
    value.map_or_else(|| "*".to_owned(), |v| v.to_value())
}

// ---------------------------------------------------------------------------------------------
// Generated domains

/// Fields generated domains can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Default)]
pub enum GeneratedDomainOrderField {
    /// Position in the generation space (unique within the campaign).
    #[default]
    OffsetIndex,
    /// Creation time (ties broken by id).
    CreatedAt,
    /// Domain name (ties broken by id).
    DomainName,
}

/// Ordering of a campaign's generated domains.
#[derive(Debug, Clone, Copy, Default, InputObject)]
pub struct GeneratedDomainOrder {
    /// The field to order by. Default OFFSET_INDEX.
    #[graphql(default)]
    pub field: GeneratedDomainOrderField,
    /// The direction. Default ASC.
    #[graphql(default)]
    pub direction: Direction,
}

impl OrderField<generated_domain::Entity> for GeneratedDomainOrderField {
    fn code(self) -> u8 {
        self as u8
    }

    fn column(self) -> generated_domain::Column {
        match self {
            Self::OffsetIndex => generated_domain::Column::OffsetIndex,
            Self::CreatedAt => generated_domain::Column::CreatedAt,
            Self::DomainName => generated_domain::Column::DomainName,
        }
    }

    fn kind(self) -> SortKind {
        match self {
            Self::OffsetIndex => SortKind::Int,
            Self::CreatedAt => SortKind::Time,
            Self::DomainName => SortKind::Text,
        }
    }

    fn position(self) -> Position<generated_domain::Model> {
        match self {
            Self::OffsetIndex => |m| (SortValue::Int(m.offset_index), RowId::Uuid(m.id)),
            Self::CreatedAt => |m| (SortValue::Time(m.created_at), RowId::Uuid(m.id)),
            Self::DomainName => |m| (SortValue::Text(m.domain_name.clone()), RowId::Uuid(m.id)),
        }
    }

    fn unique(self) -> bool {
        self == Self::OffsetIndex
    }
}

/// The generated domains of `campaign` (empty unless it is a domain-generation campaign).
pub fn generated_domains(
    campaign: impl Into<Parent>,
    order: GeneratedDomainOrder,
    with_total: bool,
) -> ConnectionRequest<generated_domain::Entity, GeneratedDomainOrderField> {
    let campaign: Parent = campaign.into();
    ConnectionRequest {
        connection: connection_codes::GENERATED_DOMAINS,
        parent: campaign.id,
        order: order.field,
        direction: order.direction,
        filter_hash: filter_hash([]),
        condition: Condition::all().add(generated_domain::Column::DomainGenerationCampaignId.eq(campaign.id)),
        id_column: generated_domain::Column::Id,
        total: with_total.then(|| totals::generated_domains(campaign.id)),
        guard: None,
        applicable: campaign.campaign_type == CampaignType::DomainGeneration,
    }
}

// ---------------------------------------------------------------------------------------------
// DNS validation results

/// Fields DNS validation results can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Default)]
pub enum DnsValidationResultOrderField {
    /// Creation time (ties broken by id).
    #[default]
    CreatedAt,
    /// Domain name (ties broken by id).
    DomainName,
}

/// Ordering of a campaign's DNS validation results.
#[derive(Debug, Clone, Copy, Default, InputObject)]
pub struct DnsValidationResultOrder {
    /// The field to order by. Default CREATED_AT.
    #[graphql(default)]
    pub field: DnsValidationResultOrderField,
    /// The direction. Default ASC.
    #[graphql(default)]
    pub direction: Direction,
}

impl OrderField<dns_validation_result::Entity> for DnsValidationResultOrderField {
    fn code(self) -> u8 {
        self as u8
    }

    fn column(self) -> dns_validation_result::Column {
        match self {
            Self::CreatedAt => dns_validation_result::Column::CreatedAt,
            Self::DomainName => dns_validation_result::Column::DomainName,
        }
    }

    fn kind(self) -> SortKind {
        match self {
            Self::CreatedAt => SortKind::Time,
            Self::DomainName => SortKind::Text,
        }
    }

    fn position(self) -> Position<dns_validation_result::Model> {
        match self {
            Self::CreatedAt => |m| (SortValue::Time(m.created_at), RowId::Uuid(m.id)),
            Self::DomainName => |m| (SortValue::Text(m.domain_name.clone()), RowId::Uuid(m.id)),
        }
    }
}

/// Filter of a campaign's DNS validation results; an absent field means no filter on it.
#[derive(Debug, Clone, Default, InputObject)]
pub struct DnsValidationResultFilter {
    /// Only results with this validation status.
    pub validation_status: Option<ValidationStatus>,
    /// Only results with this business status; `null` means results not classified yet.
    pub business_status: MaybeUndefined<BusinessStatus>,
}

impl DnsValidationResultFilter {
    /// None = no filter; Some(None) = IS NULL.
    fn business(&self) -> Option<Option<BusinessStatus>> {
        match &self.business_status {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(v) => Some(Some(*v)),
        }
    }

    fn hash(&self) -> u64 {
        let business = match self.business() {
            None => "*".to_owned(),
            Some(None) => "null".to_owned(),
            Some(Some(b)) => b.to_value(),
        };
        filter_hash([filter_part(self.validation_status).as_str(), business.as_str()])
    }
}

/// `business_status` as the indexes hold it; the literal must match the index expression
/// exactly (a bound parameter would not).
const BUSINESS_STATUS_KEY: &str = "COALESCE(business_status, '')";

/// The DNS results of `campaign` (empty unless it is a DNS-validation campaign).
pub fn dns_validation_results(
    campaign: impl Into<Parent>,
    order: DnsValidationResultOrder,
    filter: &DnsValidationResultFilter,
    with_total: bool,
) -> ConnectionRequest<dns_validation_result::Entity, DnsValidationResultOrderField> {
    let campaign: Parent = campaign.into();
    use dns_validation_result::Column;
    let business = filter.business();
    let condition = Condition::all()
        .add(Column::DnsCampaignId.eq(campaign.id))
        .add_option(filter.validation_status.map(|v| Column::ValidationStatus.eq(v)))
        .add_option(business.map(|b| {
            // Same expression as the indexes (see the index migration): equality, so the
            // filtered index also provides the ORDER BY; '' stands for NULL.
            Expr::cust(BUSINESS_STATUS_KEY).eq(b.map_or_else(String::new, |b| b.to_value()))
        }));
    ConnectionRequest {
        connection: connection_codes::DNS_VALIDATION_RESULTS,
        parent: campaign.id,
        order: order.field,
        direction: order.direction,
        filter_hash: filter.hash(),
        condition,
        id_column: Column::Id,
        total: with_total.then(|| totals::dns_results(campaign.id, filter.validation_status, business)),
        guard: None,
        applicable: campaign.campaign_type == CampaignType::DnsValidation,
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP keyword results

/// Fields HTTP keyword results can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Default)]
pub enum HttpKeywordResultOrderField {
    /// Creation time (ties broken by id).
    #[default]
    CreatedAt,
    /// Domain name (ties broken by id).
    DomainName,
}

/// Ordering of a campaign's HTTP keyword results.
#[derive(Debug, Clone, Copy, Default, InputObject)]
pub struct HttpKeywordResultOrder {
    /// The field to order by. Default CREATED_AT.
    #[graphql(default)]
    pub field: HttpKeywordResultOrderField,
    /// The direction. Default ASC.
    #[graphql(default)]
    pub direction: Direction,
}

impl OrderField<http_keyword_result::Entity> for HttpKeywordResultOrderField {
    fn code(self) -> u8 {
        self as u8
    }

    fn column(self) -> http_keyword_result::Column {
        match self {
            Self::CreatedAt => http_keyword_result::Column::CreatedAt,
            Self::DomainName => http_keyword_result::Column::DomainName,
        }
    }

    fn kind(self) -> SortKind {
        match self {
            Self::CreatedAt => SortKind::Time,
            Self::DomainName => SortKind::Text,
        }
    }

    fn position(self) -> Position<http_keyword_result::Model> {
        match self {
            Self::CreatedAt => |m| (SortValue::Time(m.created_at), RowId::Uuid(m.id)),
            Self::DomainName => |m| (SortValue::Text(m.domain_name.clone()), RowId::Uuid(m.id)),
        }
    }
}

/// Filter of a campaign's HTTP keyword results; an absent field means no filter on it.
#[derive(Debug, Clone, Copy, Default, InputObject)]
pub struct HttpKeywordResultFilter {
    /// Only results with this validation status.
    pub validation_status: Option<ValidationStatus>,
}

/// The HTTP results of `campaign` (empty unless it is an HTTP-keyword campaign).
pub fn http_keyword_results(
    campaign: impl Into<Parent>,
    order: HttpKeywordResultOrder,
    filter: HttpKeywordResultFilter,
    with_total: bool,
) -> ConnectionRequest<http_keyword_result::Entity, HttpKeywordResultOrderField> {
    let campaign: Parent = campaign.into();
    use http_keyword_result::Column;
    ConnectionRequest {
        connection: connection_codes::HTTP_KEYWORD_RESULTS,
        parent: campaign.id,
        order: order.field,
        direction: order.direction,
        filter_hash: filter_hash([filter_part(filter.validation_status).as_str()]),
        condition: Condition::all()
            .add(Column::HttpKeywordCampaignId.eq(campaign.id))
            .add_option(filter.validation_status.map(|v| Column::ValidationStatus.eq(v))),
        id_column: Column::Id,
        total: with_total.then(|| totals::http_results(campaign.id, filter.validation_status)),
        guard: None,
        applicable: campaign.campaign_type == CampaignType::HttpKeywordValidation,
    }
}
