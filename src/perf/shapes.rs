//! Every connection shape a client can ask for — connection × ordering field × direction ×
//! filter — as data, so perf-test's large-dataset and index-usage components and the
//! EXPLAIN test cover the same list, and a new ordering or filter joins all three at once.

use async_graphql::{InputType, MaybeUndefined};
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{DatabaseConnection, DbBackend, EntityTrait};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::entity::{BusinessStatus, CampaignStatus, CampaignType, ValidationStatus, campaign};
use crate::error::{Error, Result};
use crate::graphql::campaign::{CampaignFilter, CampaignOrder, CampaignOrderField, campaigns};
use crate::graphql::campaign_rows::{
    self, DnsValidationResultFilter, DnsValidationResultOrder, DnsValidationResultOrderField, GeneratedDomainOrder,
    GeneratedDomainOrderField, HttpKeywordResultFilter, HttpKeywordResultOrder, HttpKeywordResultOrderField,
};
use crate::graphql::connection::{ConnectionRequest, OrderField};
use crate::pagination::{CursorScope, Direction, PageStatement, PageWindow, SortKind, page_statement};
use crate::seed::ChainIds;

/// The three campaigns of one seeded chain, as the connections need them.
#[derive(Debug, Clone)]
pub struct ChainModels {
    pub generation: campaign::Model,
    pub dns: campaign::Model,
    pub http: campaign::Model,
}

impl ChainModels {
    /// Reads the chain's campaigns; an error when one is missing.
    pub async fn load(db: &DatabaseConnection, ids: &ChainIds) -> Result<Self> {
        let find = |id: Uuid| async move {
            campaign::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or_else(|| Error::Internal(format!("campaign {id} is not in the database")))
        };
        Ok(Self {
            generation: find(ids.generation).await?,
            dns: find(ids.dns).await?,
            http: find(ids.http).await?,
        })
    }
}

/// One connection shape.
#[derive(Debug, Clone)]
pub enum Shape {
    Campaigns(CampaignOrder, CampaignFilter),
    GeneratedDomains(GeneratedDomainOrder),
    DnsValidationResults(DnsValidationResultOrder, DnsValidationResultFilter),
    HttpKeywordResults(HttpKeywordResultOrder, HttpKeywordResultFilter),
}

/// Runs `$body` with `$request` bound to the shape's `ConnectionRequest` (with totalCount):
/// one match, however many generic things are done with the request.
macro_rules! with_request {
    ($shape:expr, $chain:expr, |$request:ident| $body:expr) => {
        match $shape {
            Shape::Campaigns(order, filter) => {
                let $request = campaigns(*order, *filter, true);
                $body
            }
            Shape::GeneratedDomains(order) => {
                let $request = campaign_rows::generated_domains(&$chain.generation, *order, true);
                $body
            }
            Shape::DnsValidationResults(order, filter) => {
                let $request = campaign_rows::dns_validation_results(&$chain.dns, *order, filter, true);
                $body
            }
            Shape::HttpKeywordResults(order, filter) => {
                let $request = campaign_rows::http_keyword_results(&$chain.http, *order, *filter, true);
                $body
            }
        }
    };
}

/// A GraphQL enum value's name (`OFFSET_INDEX`, `DESC`, …).
fn name<T: InputType>(value: &T) -> Value {
    value.to_value().into_json().unwrap_or(Value::Null)
}

fn order_json<F: InputType>(field: &F, direction: Direction) -> Value {
    json!({ "field": name(field), "direction": name(&direction) })
}

/// Every shape: each connection × each ordering field × both directions × the filters that
/// select differently (none, one value per filter field, and their combinations).
pub fn all_shapes() -> Vec<Shape> {
    let directions = [Direction::Asc, Direction::Desc];
    let mut shapes = Vec::new();
    for field in [CampaignOrderField::CreatedAt, CampaignOrderField::Name] {
        for direction in directions {
            for campaign_type in [None, Some(CampaignType::DnsValidation)] {
                for status in [None, Some(CampaignStatus::Running)] {
                    shapes.push(Shape::Campaigns(
                        CampaignOrder { field, direction },
                        CampaignFilter { campaign_type, status },
                    ));
                }
            }
        }
    }
    for field in [
        GeneratedDomainOrderField::OffsetIndex,
        GeneratedDomainOrderField::CreatedAt,
        GeneratedDomainOrderField::DomainName,
    ] {
        for direction in directions {
            shapes.push(Shape::GeneratedDomains(GeneratedDomainOrder { field, direction }));
        }
    }
    let business = [
        MaybeUndefined::Undefined,
        MaybeUndefined::Null,
        MaybeUndefined::Value(BusinessStatus::LeadCandidate),
    ];
    for field in [
        DnsValidationResultOrderField::CreatedAt,
        DnsValidationResultOrderField::DomainName,
    ] {
        for direction in directions {
            for validation_status in [None, Some(ValidationStatus::Valid)] {
                for business_status in business {
                    shapes.push(Shape::DnsValidationResults(
                        DnsValidationResultOrder { field, direction },
                        DnsValidationResultFilter {
                            validation_status,
                            business_status,
                        },
                    ));
                }
            }
        }
    }
    for field in [
        HttpKeywordResultOrderField::CreatedAt,
        HttpKeywordResultOrderField::DomainName,
    ] {
        for direction in directions {
            for validation_status in [None, Some(ValidationStatus::Valid), Some(ValidationStatus::Invalid)] {
                shapes.push(Shape::HttpKeywordResults(
                    HttpKeywordResultOrder { field, direction },
                    HttpKeywordResultFilter { validation_status },
                ));
            }
        }
    }
    shapes
}

/// Node fields each connection's page selects.
const ROW_FIELDS: &str = "id databaseId domainName createdAt";

impl Shape {
    /// The GraphQL field of the connection.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Campaigns(..) => "campaigns",
            Self::GeneratedDomains(..) => "generatedDomains",
            Self::DnsValidationResults(..) => "dnsValidationResults",
            Self::HttpKeywordResults(..) => "httpKeywordResults",
        }
    }

    /// The table the connection reads.
    pub fn table(&self) -> &'static str {
        match self {
            Self::Campaigns(..) => "campaigns",
            Self::GeneratedDomains(..) => "generated_domains",
            Self::DnsValidationResults(..) => "dns_validation_results",
            Self::HttpKeywordResults(..) => "http_keyword_results",
        }
    }

    /// `orderBy` as GraphQL variables send it.
    pub fn order_by(&self) -> Value {
        match self {
            Self::Campaigns(o, _) => order_json(&o.field, o.direction),
            Self::GeneratedDomains(o) => order_json(&o.field, o.direction),
            Self::DnsValidationResults(o, _) => order_json(&o.field, o.direction),
            Self::HttpKeywordResults(o, _) => order_json(&o.field, o.direction),
        }
    }

    /// `filter` as GraphQL variables send it (absent fields left out; `null` kept).
    pub fn filter(&self) -> Value {
        let mut map = Map::new();
        match self {
            Self::Campaigns(_, f) => {
                if let Some(t) = f.campaign_type {
                    map.insert("campaignType".into(), name(&t));
                }
                if let Some(s) = f.status {
                    map.insert("status".into(), name(&s));
                }
            }
            Self::GeneratedDomains(_) => return Value::Null,
            Self::DnsValidationResults(_, f) => {
                if let Some(v) = f.validation_status {
                    map.insert("validationStatus".into(), name(&v));
                }
                match &f.business_status {
                    MaybeUndefined::Undefined => {}
                    MaybeUndefined::Null => {
                        map.insert("businessStatus".into(), Value::Null);
                    }
                    MaybeUndefined::Value(b) => {
                        map.insert("businessStatus".into(), name(b));
                    }
                }
            }
            Self::HttpKeywordResults(_, f) => {
                if let Some(v) = f.validation_status {
                    map.insert("validationStatus".into(), name(&v));
                }
            }
        }
        Value::Object(map)
    }

    /// A readable name: `dnsValidationResults DOMAIN_NAME DESC {"validationStatus":"VALID"}`.
    pub fn label(&self) -> String {
        let order = self.order_by();
        let filter = match self.filter() {
            Value::Null => String::new(),
            Value::Object(m) if m.is_empty() => " (no filter)".to_owned(),
            other => format!(" {other}"),
        };
        format!(
            "{} {} {}{filter}",
            self.field(),
            order["field"].as_str().unwrap_or("?"),
            order["direction"].as_str().unwrap_or("?")
        )
    }

    /// The page query: `$first/$after/$last/$before`, `$orderBy`, `$filter` and, for campaign
    /// rows, `$c` (the campaign's database id).
    pub fn query(&self, with_total: bool) -> String {
        let total = if with_total { "totalCount" } else { "" };
        let (order_type, filter_type, fields) = match self {
            Self::Campaigns(..) => ("CampaignOrder", Some("CampaignFilter"), "id databaseId name createdAt"),
            Self::GeneratedDomains(..) => ("GeneratedDomainOrder", None, ROW_FIELDS),
            Self::DnsValidationResults(..) => (
                "DnsValidationResultOrder",
                Some("DnsValidationResultFilter"),
                ROW_FIELDS,
            ),
            Self::HttpKeywordResults(..) => ("HttpKeywordResultOrder", Some("HttpKeywordResultFilter"), ROW_FIELDS),
        };
        let (filter_decl, filter_arg) = filter_type.map_or((String::new(), ""), |t| {
            (format!(", $filter: {t}"), ", filter: $filter")
        });
        let connection = format!(
            "{field}(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy{filter_arg}) {{
               {total} edges {{ cursor node {{ {fields} }} }}
               pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }}",
            field = self.field()
        );
        let args =
            format!("$first: Int, $after: String, $last: Int, $before: String, $orderBy: {order_type}{filter_decl}");
        match self {
            Self::Campaigns(..) => format!("query({args}) {{ {connection} }}"),
            _ => format!("query($c: UUID!, {args}) {{ campaignByDatabaseId(databaseId: $c) {{ {connection} }} }}"),
        }
    }

    /// The variables of [`Self::query`] without the page arguments.
    pub fn variables(&self, chain: &ChainModels) -> Map<String, Value> {
        let mut vars = Map::new();
        let campaign = match self {
            Self::Campaigns(..) => None,
            Self::GeneratedDomains(..) => Some(chain.generation.id),
            Self::DnsValidationResults(..) => Some(chain.dns.id),
            Self::HttpKeywordResults(..) => Some(chain.http.id),
        };
        if let Some(id) = campaign {
            vars.insert("c".into(), json!(id));
        }
        vars.insert("orderBy".into(), self.order_by());
        let filter = self.filter();
        if !Value::is_null(&filter) {
            vars.insert("filter".into(), filter);
        }
        vars
    }

    /// The connection object inside a response of [`Self::query`].
    pub fn connection<'a>(&self, response: &'a Value) -> &'a Value {
        match self {
            Self::Campaigns(..) => &response["data"]["campaigns"],
            _ => &response["data"]["campaignByDatabaseId"][self.field()],
        }
    }

    /// The cursor scope and sort kind of the shape's cursors.
    pub fn scope(&self, chain: &ChainModels) -> (CursorScope, SortKind) {
        with_request!(self, chain, |request| (request.scope(), request.order.kind()))
    }

    /// The one SQL statement the server runs for `window` (page, probe and totalCount).
    pub fn statement(&self, chain: &ChainModels, window: &PageWindow, backend: DbBackend) -> PageStatement {
        with_request!(self, chain, |request| page_statement(
            &request.keyset(),
            window,
            backend
        ))
    }

    /// `SELECT COUNT(*)` of the connection's rows, as plain SQL (what totalCount must equal).
    pub fn count_statement(&self, chain: &ChainModels) -> SelectStatement {
        with_request!(self, chain, |request| count_of(request))
    }
}

fn count_of<E: EntityTrait, O: OrderField<E>>(request: ConnectionRequest<E, O>) -> SelectStatement
where
    E::Model: crate::entity::DecodeRow,
{
    Query::select()
        .expr(Expr::col(Asterisk).count())
        .from(E::default())
        .cond_where(request.condition)
        .to_owned()
}
