//! `GET /export`: a whole connection of a campaign (generated domains, DNS results or HTTP
//! results, with the GraphQL connection's ordering and filters) streamed as CSV or NDJSON.
//!
//! It pages with the same keyset engine and statements as the API, [`EXPORT_PAGE_SIZE`] rows
//! at a time, and writes each page out before fetching the next: memory stays constant
//! whatever the size, and every page costs what the first one costs. The response starts once
//! the first page (fetched together with the exact total) is read, so a bad request or an
//! outage is a clean JSON error; the total is sent as `X-Total-Count` for progress. An error
//! after that aborts the response (the client sees a broken transfer, never a silently short
//! file).

use std::borrow::Cow;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use futures::Stream;
use sea_orm::{DatabaseConnection, EntityTrait};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::{Principal, Scope};
use crate::db::Observer;
use crate::entity::{campaign, dns_validation_result, generated_domain, http_keyword_result};
use crate::error::Error;
use crate::graphql::campaign_rows::{
    self, DnsValidationResultFilter, DnsValidationResultOrder, GeneratedDomainOrder, HttpKeywordResultFilter,
    HttpKeywordResultOrder,
};
use crate::graphql::connection::{ConnectionRequest, OrderField, observed_page};
use crate::graphql::node::{GlobalId, NodeType};
use crate::pagination::args::{From as PageFrom, PageWindow};
use crate::pagination::keyset::{KeysetQuery, Page};

use super::AppState;
use super::guard::error_response;

/// Rows fetched (and written out) per statement.
pub const EXPORT_PAGE_SIZE: u32 = 1000;

/// The query string of `/export`. Names as in the GraphQL API; unknown names are refused,
/// so a misspelt filter never exports rows it should have left out.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExportParams {
    /// `Campaign.id` (global id) or `Campaign.databaseId`.
    campaign: String,
    /// GENERATED_DOMAINS, DNS_VALIDATION_RESULTS or HTTP_KEYWORD_RESULTS.
    connection: String,
    /// csv (default) or ndjson.
    format: Option<String>,
    /// The connection's order field, e.g. OFFSET_INDEX; its default when absent.
    order_by: Option<String>,
    /// ASC (default) or DESC.
    direction: Option<String>,
    /// DNS and HTTP results: a validation status, e.g. VALID.
    validation_status: Option<String>,
    /// DNS results: a business status, or NULL for results not classified yet.
    business_status: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Ndjson,
}

/// `GET /export?campaign=…&connection=…[&format=csv|ndjson][&orderBy=…][&direction=…][&validationStatus=…][&businessStatus=…]`.
pub async fn export(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    params: Result<Query<ExportParams>, QueryRejection>,
) -> Response {
    match start(&state, principal, params).await {
        Ok(response) => response,
        Err(err) => error_response(err),
    }
}

async fn start(
    state: &AppState,
    principal: Option<Extension<Principal>>,
    params: Result<Query<ExportParams>, QueryRejection>,
) -> Result<Response, Error> {
    let Extension(principal) = principal.ok_or_else(|| Error::Unauthenticated("authentication required".to_owned()))?;
    principal.require(Scope::Read)?;
    let Query(params) = params.map_err(|rejection| {
        Error::BadUserInput(format!(
            "GET /export expects ?campaign=…&connection=…[&format=csv|ndjson][&orderBy=…][&direction=ASC|DESC]\
             [&validationStatus=…][&businessStatus=…]: {}",
            rejection.body_text()
        ))
    })?;
    let format = match params.format.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("csv") => Format::Csv,
        Some("ndjson") => Format::Ndjson,
        Some(other) => {
            return Err(Error::BadUserInput(format!(
                "`format` must be csv or ndjson, got {:?}",
                truncated(other)
            )));
        }
    };
    let campaign_id = match Uuid::parse_str(&params.campaign) {
        Ok(id) => id,
        Err(_) => GlobalId::decode_as(&params.campaign, NodeType::Campaign)?.id,
    };
    let exporter = Exporter {
        db: state.db.clone(),
        observer: state.observer.clone(),
        format,
    };
    let campaign = exporter.campaign(campaign_id).await?;
    let order = |name: &str| enum_arg::<crate::pagination::Direction>("direction", name);
    let direction = params.direction.as_deref().map(order).transpose()?.unwrap_or_default();
    let validation_status = params
        .validation_status
        .as_deref()
        .map(|v| enum_arg("validationStatus", v))
        .transpose()?;
    let connection = params.connection.as_str();
    let no_filter = |name: &str, given: bool| {
        if given {
            Err(Error::BadUserInput(format!("{connection} has no `{name}` filter")))
        } else {
            Ok(())
        }
    };
    match connection {
        "GENERATED_DOMAINS" => {
            no_filter("validationStatus", validation_status.is_some())?;
            no_filter("businessStatus", params.business_status.is_some())?;
            let order = GeneratedDomainOrder {
                field: params
                    .order_by
                    .as_deref()
                    .map(|f| enum_arg("orderBy", f))
                    .transpose()?
                    .unwrap_or_default(),
                direction,
            };
            let request = campaign_rows::generated_domains(&campaign, order, true);
            exporter.stream(&campaign, "generated_domains", request).await
        }
        "DNS_VALIDATION_RESULTS" => {
            let order = DnsValidationResultOrder {
                field: params
                    .order_by
                    .as_deref()
                    .map(|f| enum_arg("orderBy", f))
                    .transpose()?
                    .unwrap_or_default(),
                direction,
            };
            let business_status = match params.business_status.as_deref() {
                None => async_graphql::MaybeUndefined::Undefined,
                Some("NULL") => async_graphql::MaybeUndefined::Null,
                Some(value) => async_graphql::MaybeUndefined::Value(enum_arg("businessStatus", value)?),
            };
            let filter = DnsValidationResultFilter {
                validation_status,
                business_status,
            };
            let request = campaign_rows::dns_validation_results(&campaign, order, &filter, true);
            exporter.stream(&campaign, "dns_validation_results", request).await
        }
        "HTTP_KEYWORD_RESULTS" => {
            no_filter("businessStatus", params.business_status.is_some())?;
            let order = HttpKeywordResultOrder {
                field: params
                    .order_by
                    .as_deref()
                    .map(|f| enum_arg("orderBy", f))
                    .transpose()?
                    .unwrap_or_default(),
                direction,
            };
            let filter = HttpKeywordResultFilter { validation_status };
            let request = campaign_rows::http_keyword_results(&campaign, order, filter, true);
            exporter.stream(&campaign, "http_keyword_results", request).await
        }
        other => Err(Error::BadUserInput(format!(
            "`connection` must be GENERATED_DOMAINS, DNS_VALIDATION_RESULTS or HTTP_KEYWORD_RESULTS, got {:?}",
            truncated(other)
        ))),
    }
}

/// At most 64 characters of a client's value, for an error message.
fn truncated(value: &str) -> String {
    value.chars().take(64).collect()
}

/// Parses a value of a GraphQL enum by its GraphQL name (e.g. `LEAD_CANDIDATE`), exactly as
/// the API would.
fn enum_arg<T: async_graphql::InputType>(argument: &str, value: &str) -> Result<T, Error> {
    let name = async_graphql::Name::new(value);
    T::parse(Some(async_graphql::Value::Enum(name))).map_err(|_| {
        Error::BadUserInput(format!(
            "`{argument}` does not accept {:?}; see the {} enum in the schema",
            truncated(value),
            T::type_name()
        ))
    })
}

struct Exporter {
    db: DatabaseConnection,
    observer: Observer,
    format: Format,
}

impl Exporter {
    async fn campaign(&self, id: Uuid) -> Result<campaign::Model, Error> {
        let select = campaign::Entity::find_by_id(id);
        let found = self
            .observer
            .run(
                "campaigns.find",
                |found: &Option<campaign::Model>| u64::from(found.is_some()),
                || {
                    crate::graphql::sql_shape(
                        &sea_orm::QueryTrait::into_query(select.clone()),
                        self.db.get_database_backend(),
                    )
                },
                || async { Ok(select.clone().one(&self.db).await?) },
            )
            .await?;
        found.ok_or_else(|| Error::NotFound(format!("campaign {id}")))
    }

    /// Fetches the first page with the total, then answers with a body that streams the rest.
    async fn stream<E, O>(
        self,
        campaign: &campaign::Model,
        name: &str,
        request: ConnectionRequest<E, O>,
    ) -> Result<Response, Error>
    where
        E: EntityTrait,
        E::Model: crate::entity::DecodeRow + ExportRow + Send + Sync,
        O: OrderField<E>,
    {
        let applicable = request.applicable;
        let query = request.keyset();
        let (total, first) = if applicable {
            let first = self.page(&query, None).await?;
            (first.total_count.unwrap_or(0), Some(first))
        } else {
            (0, None)
        };
        let extension = match self.format {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
        };
        let content_type = match self.format {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Ndjson => "application/x-ndjson",
        };
        let filename = format!("campaign-{}-{name}.{extension}", campaign.id);
        let body = Body::from_stream(self.body(query, first));
        let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
        let headers = response.headers_mut();
        let mut insert = |name: header::HeaderName, value: String| {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        };
        insert(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        );
        insert(header::CACHE_CONTROL, "no-store".to_owned());
        insert(header::HeaderName::from_static(TOTAL_COUNT), total.to_string());
        Ok(response)
    }

    /// The page after `after` (the first page, with the total, when None).
    async fn page<E>(
        &self,
        query: &KeysetQuery<E>,
        after: Option<crate::pagination::Cursor>,
    ) -> Result<Page<E::Model>, Error>
    where
        E: EntityTrait,
        E::Model: crate::entity::DecodeRow,
    {
        let window = PageWindow {
            size: EXPORT_PAGE_SIZE,
            from: PageFrom::Start,
            after,
            before: None,
        };
        observed_page(&self.db, &self.observer, query, &window).await
    }

    /// The body: the header line (CSV), then each page as one chunk. Pages after the first are
    /// fetched without the total.
    fn body<E>(
        self,
        mut query: KeysetQuery<E>,
        first: Option<Page<E::Model>>,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send
    where
        E: EntityTrait,
        E::Model: crate::entity::DecodeRow + ExportRow + Send + Sync,
    {
        query.total = None;
        let header = match self.format {
            Format::Csv => {
                let mut out = Vec::new();
                write_csv_line(
                    &mut out,
                    E::Model::COLUMNS.iter().map(|c| Cell::Text(Cow::Borrowed(*c))),
                );
                Some(Bytes::from(out))
            }
            Format::Ndjson => None,
        };
        let state = Step::Header { header, first };
        futures::stream::unfold((self, query, state), |(exporter, query, state)| async move {
            let page = match state {
                Step::Header {
                    header: Some(header),
                    first,
                } => {
                    return Some((Ok(header), (exporter, query, Step::Header { header: None, first })));
                }
                Step::Header {
                    header: None,
                    first: Some(first),
                } => first,
                Step::Header {
                    header: None,
                    first: None,
                }
                | Step::Done => return None,
                Step::After(cursor) => match exporter.page(&query, Some(cursor)).await {
                    Ok(page) => page,
                    Err(err) => {
                        tracing::warn!(error = %err, "export aborted");
                        return Some((
                            Err(std::io::Error::other(err.to_string())),
                            (exporter, query, Step::Done),
                        ));
                    }
                },
            };
            let chunk = exporter.encode(&page);
            let state = match (page.has_next_page, page.rows.last()) {
                (true, Some((_, cursor))) => Step::After(cursor.clone()),
                _ => Step::Done,
            };
            Some((Ok(chunk), (exporter, query, state)))
        })
    }

    fn encode<M: ExportRow>(&self, page: &Page<M>) -> Bytes {
        let mut out = Vec::with_capacity(page.rows.len() * 160);
        for (row, _) in &page.rows {
            match self.format {
                Format::Csv => write_csv_line(&mut out, row.cells().into_iter()),
                Format::Ndjson => write_ndjson_line(&mut out, M::COLUMNS, row.cells()),
            }
        }
        Bytes::from(out)
    }
}

/// Response header carrying the exact number of rows the export holds when it starts.
pub const TOTAL_COUNT: &str = "x-total-count";

/// Where an export's body stands.
enum Step<M> {
    /// Before anything is sent: the CSV header line (if any), then the first page.
    Header {
        header: Option<Bytes>,
        first: Option<Page<M>>,
    },
    /// The last row sent; the next page starts after it.
    After(crate::pagination::Cursor),
    Done,
}

/// One value of an exported row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Null,
    Text(Cow<'a, str>),
    Int(i64),
    Time(DateTime<Utc>),
    Json(&'a serde_json::Value),
}

impl<'a> From<&'a str> for Cell<'a> {
    fn from(value: &'a str) -> Self {
        Cell::Text(Cow::Borrowed(value))
    }
}

impl<'a> From<Option<&'a str>> for Cell<'a> {
    fn from(value: Option<&'a str>) -> Self {
        value.map_or(Cell::Null, Cell::from)
    }
}

impl From<Uuid> for Cell<'_> {
    fn from(value: Uuid) -> Self {
        Cell::Text(Cow::Owned(value.to_string()))
    }
}

impl From<Option<Uuid>> for Cell<'_> {
    fn from(value: Option<Uuid>) -> Self {
        value.map_or(Cell::Null, Cell::from)
    }
}

impl From<crate::entity::Timestamp> for Cell<'_> {
    fn from(value: crate::entity::Timestamp) -> Self {
        Cell::Time(value.into())
    }
}

impl From<Option<crate::entity::Timestamp>> for Cell<'_> {
    fn from(value: Option<crate::entity::Timestamp>) -> Self {
        value.map_or(Cell::Null, Cell::from)
    }
}

impl<'a> From<Option<&'a serde_json::Value>> for Cell<'a> {
    fn from(value: Option<&'a serde_json::Value>) -> Self {
        value.map_or(Cell::Null, Cell::Json)
    }
}

/// An enum column by its GraphQL name, e.g. `LEAD_CANDIDATE`, as the API shows it.
fn enum_cell<T: async_graphql::InputType>(value: &T) -> Cell<'static> {
    match value.to_value() {
        async_graphql::Value::Enum(name) => Cell::Text(Cow::Owned(name.to_string())),
        _ => Cell::Null,
    }
}

/// A row as the export writes it: the GraphQL node's fields, snake_case.
pub trait ExportRow {
    const COLUMNS: &'static [&'static str];
    /// The values, in `COLUMNS` order.
    fn cells(&self) -> Vec<Cell<'_>>;
}

impl ExportRow for generated_domain::Model {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "database_id",
        "campaign_database_id",
        "domain_name",
        "offset_index",
        "tld",
        "source_keyword",
        "source_pattern",
        "generated_at",
        "created_at",
    ];

    fn cells(&self) -> Vec<Cell<'_>> {
        let id = GlobalId::row(NodeType::GeneratedDomain, self.domain_generation_campaign_id, self.id);
        vec![
            Cell::Text(Cow::Owned(id.encode())),
            self.id.into(),
            self.domain_generation_campaign_id.into(),
            self.domain_name.as_str().into(),
            Cell::Int(self.offset_index),
            self.tld.as_deref().into(),
            self.source_keyword.as_deref().into(),
            self.source_pattern.as_deref().into(),
            self.generated_at.into(),
            self.created_at.into(),
        ]
    }
}

impl ExportRow for dns_validation_result::Model {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "database_id",
        "campaign_database_id",
        "generated_domain_database_id",
        "domain_name",
        "validation_status",
        "business_status",
        "dns_records",
        "attempts",
        "last_checked_at",
        "created_at",
    ];

    fn cells(&self) -> Vec<Cell<'_>> {
        let id = GlobalId::row(NodeType::DnsValidationResult, self.dns_campaign_id, self.id);
        vec![
            Cell::Text(Cow::Owned(id.encode())),
            self.id.into(),
            self.dns_campaign_id.into(),
            self.generated_domain_id.into(),
            self.domain_name.as_str().into(),
            enum_cell(&self.validation_status),
            self.business_status.as_ref().map_or(Cell::Null, enum_cell),
            self.dns_records.as_ref().into(),
            Cell::Int(self.attempts.into()),
            self.last_checked_at.into(),
            self.created_at.into(),
        ]
    }
}

impl ExportRow for http_keyword_result::Model {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "database_id",
        "campaign_database_id",
        "dns_result_database_id",
        "domain_name",
        "validation_status",
        "http_status_code",
        "page_title",
        "content_snippet",
        "found_keywords",
        "content_hash",
        "attempts",
        "last_checked_at",
        "created_at",
    ];

    fn cells(&self) -> Vec<Cell<'_>> {
        let id = GlobalId::row(NodeType::HttpKeywordResult, self.http_keyword_campaign_id, self.id);
        vec![
            Cell::Text(Cow::Owned(id.encode())),
            self.id.into(),
            self.http_keyword_campaign_id.into(),
            self.dns_result_id.into(),
            self.domain_name.as_str().into(),
            enum_cell(&self.validation_status),
            self.http_status_code.map_or(Cell::Null, |c| Cell::Int(c.into())),
            self.page_title.as_deref().into(),
            self.content_snippet.as_deref().into(),
            self.found_keywords.as_ref().into(),
            self.content_hash.as_deref().into(),
            Cell::Int(self.attempts.into()),
            self.last_checked_at.into(),
            self.created_at.into(),
        ]
    }
}

fn time_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// One CSV record (RFC 4180): fields quoted when they hold a comma, quote or line break,
/// quotes doubled; null is an empty field; JSON values as JSON text; CRLF line ends.
fn write_csv_line<'a>(out: &mut Vec<u8>, cells: impl Iterator<Item = Cell<'a>>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let text: Cow<'_, str> = match cell {
            Cell::Null => continue,
            Cell::Text(text) => text,
            Cell::Int(v) => Cow::Owned(v.to_string()),
            Cell::Time(at) => Cow::Owned(time_text(at)),
            Cell::Json(value) => Cow::Owned(value.to_string()),
        };
        if text.contains([',', '"', '\n', '\r']) {
            out.push(b'"');
            out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
            out.push(b'"');
        } else {
            out.extend_from_slice(text.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// One JSON object per line, keys in column order.
fn write_ndjson_line(out: &mut Vec<u8>, columns: &[&str], cells: Vec<Cell<'_>>) {
    out.push(b'{');
    for (i, (column, cell)) in columns.iter().zip(cells).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Serializing a str or a Value into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, column);
        out.push(b':');
        let _ = match cell {
            Cell::Null => serde_json::to_writer(&mut *out, &()),
            Cell::Text(text) => serde_json::to_writer(&mut *out, text.as_ref()),
            Cell::Int(v) => serde_json::to_writer(&mut *out, &v),
            Cell::Time(at) => serde_json::to_writer(&mut *out, &time_text(at)),
            Cell::Json(value) => serde_json::to_writer(&mut *out, value),
        };
    }
    out.extend_from_slice(b"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(cells: Vec<Cell<'_>>) -> String {
        let mut out = Vec::new();
        write_csv_line(&mut out, cells.into_iter());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_quotes_what_needs_quoting_only() {
        let json = serde_json::json!({"a": [1, "x,y"]});
        let line = csv(vec![
            "plain".into(),
            "a,b".into(),
            "say \"hi\"".into(),
            "two\nlines".into(),
            Cell::Null,
            Cell::Int(-7),
            Cell::Json(&json),
        ]);
        assert_eq!(
            line,
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",,-7,\"{\"\"a\"\":[1,\"\"x,y\"\"]}\"\r\n"
        );
    }

    #[test]
    fn ndjson_is_one_valid_object_per_line_in_column_order() {
        let json = serde_json::json!(["k1", "k2"]);
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.123456Z")
            .unwrap()
            .to_utc();
        let mut out = Vec::new();
        write_ndjson_line(
            &mut out,
            &["name", "n", "none", "at", "json"],
            vec![
                "line\nbreak \"q\"".into(),
                Cell::Int(3),
                Cell::Null,
                Cell::Time(at),
                Cell::Json(&json),
            ],
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with('\n') && text.matches('\n').count() == 1, "{text:?}");
        assert_eq!(
            text,
            "{\"name\":\"line\\nbreak \\\"q\\\"\",\"n\":3,\"none\":null,\"at\":\"2026-01-02T03:04:05.123456Z\",\"json\":[\"k1\",\"k2\"]}\n"
        );
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["name"], "line\nbreak \"q\"");
    }

    #[test]
    fn enum_values_use_graphql_names() {
        assert_eq!(
            enum_cell(&crate::entity::BusinessStatus::LeadCandidate),
            Cell::Text(Cow::Owned("LEAD_CANDIDATE".to_owned()))
        );
        let parsed: crate::entity::ValidationStatus = enum_arg("validationStatus", "VALID").unwrap();
        assert_eq!(parsed, crate::entity::ValidationStatus::Valid);
        assert!(enum_arg::<crate::entity::ValidationStatus>("validationStatus", "valid").is_err());
    }
}
