//! Compiled page plans: the request every pager sends — one campaign and pages of its rows with
//! plain fields — answered without async-graphql's general executor.
//!
//! Why: for a 50-row page the general executor resolves ~400 fields, each as a boxed future
//! writing into a map of a `Value` tree that is then serialized (about 70 % of the server's
//! instructions per request, BENCHMARKS.md, issue 8). A plan is compiled once per document
//! (kept beside the parsed document in the executor's cache) into a list of what to write,
//! and a request runs it: coerce the arguments, load the campaign, fetch each page through
//! the same keyset engine and observer as the resolvers, and write the JSON straight into one
//! buffer.
//!
//! One answer per request, whichever path runs it:
//! - A document is compiled only after the general executor has answered it without a request
//!   error — i.e. async-graphql validated it against the schema — and only from what the
//!   schema's registry says: every field, argument and type of the plan is looked up there and
//!   must have exactly the GraphQL type of the Rust value the plan writes or parses (a field
//!   renamed, retyped or given a new argument in a resolver is no longer compiled). Shapes a
//!   plan does not cover (fragments, directives, duplicate keys, other fields) are not compiled.
//! - A request runs its plan only after the server has coerced its variables (`variables`).
//!   Everything a plan checks without the database — operation name, complexity, scope,
//!   arguments, page sizes, cursors — is checked before any database work; a plan that
//!   declines there leaves the request to the general executor, which gives the error.
//! - Once its database work has started a plan answers itself, errors included: a failed or
//!   timed-out statement becomes the field error the general executor would give (same
//!   message, code, location and path, null propagated to the campaign), so no request runs
//!   its database work twice.
//!
//! `tests/api/compiled.rs` compares the bytes with the general executor's for generated
//! requests on both backends.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationType, Selection, SelectionSet,
};
use async_graphql::registry::{MetaField, MetaType, Registry};
use async_graphql::{ID, InputType, Name, OutputType, PathSegment, Pos, Positioned, Value, Variables};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::entity::{CampaignType, Timestamp, campaign, dns_validation_result, generated_domain, http_keyword_result};
use crate::error::ApiError;
use crate::pagination::{Cursor, Page, PageArgs, PageWindow};

use super::ApiContext;
use super::campaign_rows::{
    self, DnsValidationResultFilter, DnsValidationResultOrder, GeneratedDomainOrder, HttpKeywordResultFilter,
    HttpKeywordResultOrder, Parent,
};
use super::connection::{
    ConnectionRequest, DnsValidationResultConnection, DnsValidationResultEdge, GeneratedDomainConnection,
    GeneratedDomainEdge, HttpKeywordResultConnection, HttpKeywordResultEdge, OrderField, PageInfo,
};
use super::limits::{QueryLimits, connection_cost};
use super::node::{GlobalId, NodeType};
use super::results::{DnsValidationResult, GeneratedDomain, HttpKeywordResult};

// ---------------------------------------------------------------------------------------------
// Plans

/// A compiled document: what to check and fetch, and what to write in which order.
#[derive(Debug)]
pub struct Plan {
    /// Default values of the operation's variables.
    defaults: Vec<(Name, Value)>,
    root: FieldKey,
    root_arg: Root,
    items: Vec<CampaignItem>,
    /// Length of the last answer (a capacity hint for the next one).
    answer_size: AtomicUsize,
}

/// Where a field's value goes: its response key, `"key":` as written, and its position in
/// the document (for the locations of its errors).
#[derive(Debug)]
struct FieldKey {
    name: Name,
    json: String,
    pos: Pos,
}

impl FieldKey {
    fn of(field: &Positioned<Field>) -> Self {
        let name = field.node.alias.as_ref().unwrap_or(&field.node.name).node.clone();
        // GraphQL names need no escaping.
        let json = format!("\"{name}\":");
        Self {
            name,
            json,
            pos: field.pos,
        }
    }
}

/// An argument: absent, a literal, or a variable.
#[derive(Debug, Clone)]
enum Arg {
    Absent,
    Literal(Value),
    Variable(Name),
}

/// The variables of a request with the operation's defaults behind them.
struct Vars<'a> {
    given: &'a Variables,
    defaults: &'a [(Name, Value)],
}

impl Arg {
    /// The argument's value, as async-graphql hands it to `InputType::parse` (a variable that
    /// is neither given nor defaulted makes the argument absent).
    fn value(&self, vars: &Vars<'_>) -> Option<Value> {
        match self {
            Arg::Absent => None,
            Arg::Literal(value) => Some(value.clone()),
            Arg::Variable(name) => vars.given.get(name).cloned().or_else(|| {
                vars.defaults
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, value)| value.clone())
            }),
        }
    }

    fn parse<T: InputType>(&self, vars: &Vars<'_>) -> Option<T> {
        T::parse(self.value(vars)).ok()
    }
}

#[derive(Debug)]
enum Root {
    /// `campaign(id: ID!)`
    ById(Arg),
    /// `campaignByDatabaseId(databaseId: UUID!)`
    ByDatabaseId(Arg),
}

/// A field of a plan's object, as the plan writes it: the name it has in the schema and the
/// GraphQL type of the Rust value written, which the registry must confirm.
trait PlanField: Copy + Sized {
    fn named(name: &str) -> Option<Self>;
    fn graphql_type(self) -> String;

    /// The field `name` of the registry's `object`, when the plan writes it with the type the
    /// registry has for it and it takes no arguments.
    fn resolve(object: &MetaType, name: &str) -> Option<Self> {
        let field = Self::named(name)?;
        let meta = object.field_by_name(name)?;
        (meta.args.is_empty() && meta.ty == field.graphql_type()).then_some(field)
    }
}

/// Declares the fields a plan writes of one object type: variant, GraphQL name and the Rust
/// type of the value written (whose GraphQL type the registry must have for the field).
macro_rules! plan_fields {
    ($enum:ident { $($variant:ident = $name:literal : $ty:ty),* $(,)? }) => {
        #[derive(Debug, Clone, Copy)]
        enum $enum { $($variant),* }

        impl $enum {
            /// Every field, with its GraphQL name (for the test that holds them against the
            /// schema).
            #[cfg(test)]
            const ALL: &[(&str, Self)] = &[$(($name, Self::$variant)),*];
        }

        impl PlanField for $enum {
            fn named(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(Self::$variant),)*
                    _ => None,
                }
            }

            fn graphql_type(self) -> String {
                match self {
                    $(Self::$variant => <$ty as OutputType>::qualified_type_name(),)*
                }
            }
        }
    };
}

plan_fields!(CampaignField {
    Id = "id": ID,
    DatabaseId = "databaseId": Uuid,
    Name = "name": String,
    CampaignType = "campaignType": crate::entity::CampaignType,
    Status = "status": crate::entity::CampaignStatus,
    SourceCampaignDatabaseId = "sourceCampaignDatabaseId": Option<Uuid>,
    Description = "description": Option<String>,
    TotalItems = "totalItems": i64,
    ProcessedItems = "processedItems": i64,
    ProgressPercent = "progressPercent": f64,
    ErrorMessage = "errorMessage": Option<String>,
    StartedAt = "startedAt": Option<DateTime<Utc>>,
    CompletedAt = "completedAt": Option<DateTime<Utc>>,
    CreatedAt = "createdAt": DateTime<Utc>,
    UpdatedAt = "updatedAt": DateTime<Utc>,
});

plan_fields!(PageInfoField {
    HasNextPage = "hasNextPage": bool,
    HasPreviousPage = "hasPreviousPage": bool,
    StartCursor = "startCursor": Option<String>,
    EndCursor = "endCursor": Option<String>,
});

#[derive(Debug)]
enum CampaignItem {
    Typename(String),
    Field(String, CampaignField),
    GeneratedDomains(ConnectionPlan<generated_domain::Model>),
    DnsValidationResults(ConnectionPlan<dns_validation_result::Model>),
    HttpKeywordResults(ConnectionPlan<http_keyword_result::Model>),
}

/// One connection field of the campaign.
#[derive(Debug)]
struct ConnectionPlan<M: RowNode> {
    key: FieldKey,
    first: Arg,
    after: Arg,
    last: Arg,
    before: Arg,
    order_by: Arg,
    filter: Arg,
    /// Complexity of the connection's selection (async-graphql's `child_complexity`).
    child_complexity: usize,
    items: Vec<ConnectionItem<M::Field>>,
}

#[derive(Debug)]
enum ConnectionItem<F> {
    Typename(String),
    TotalCount(String),
    PageInfo(String, Vec<(String, Option<PageInfoField>)>),
    Edges(String, Vec<EdgeItem<F>>),
    Nodes(String, Vec<NodeItem<F>>),
}

#[derive(Debug)]
enum EdgeItem<F> {
    Typename(String),
    Cursor(String),
    Node(String, Vec<NodeItem<F>>),
}

#[derive(Debug)]
enum NodeItem<F> {
    Typename(String),
    Field(String, F),
}

// ---------------------------------------------------------------------------------------------
// Compiling

/// The fields of a selection set, or None when it holds anything but plain fields without
/// directives, or two fields with one response key.
fn fields(set: &SelectionSet) -> Option<Vec<&Positioned<Field>>> {
    let mut fields = Vec::with_capacity(set.items.len());
    let mut keys: Vec<&str> = Vec::with_capacity(set.items.len());
    for item in &set.items {
        let Selection::Field(field) = &item.node else {
            return None;
        };
        let key = field.node.alias.as_ref().unwrap_or(&field.node.name).node.as_str();
        if !field.node.directives.is_empty() || keys.contains(&key) {
            return None;
        }
        keys.push(key);
        fields.push(field);
    }
    Some(fields)
}

/// A leaf: no arguments, no selection set.
fn leaf(field: &Field) -> bool {
    field.arguments.is_empty() && field.selection_set.node.items.is_empty()
}

/// An object field: no arguments, a non-empty selection set.
fn object(field: &Field) -> bool {
    field.arguments.is_empty() && !field.selection_set.node.items.is_empty()
}

/// `"key":` of a field.
fn json_key(field: &Field) -> String {
    format!("\"{}\":", field.alias.as_ref().unwrap_or(&field.name).node)
}

/// The argument `name` of `field` (literal or variable; validation has checked its type).
fn arg(field: &Field, name: &str) -> Arg {
    match field.get_argument(name).map(|value| &value.node) {
        None => Arg::Absent,
        Some(async_graphql_value::Value::Variable(var)) => Arg::Variable(var.clone()),
        Some(literal) => literal.clone().into_const().map_or(Arg::Absent, Arg::Literal),
    }
}

/// True when the registry's `meta` takes exactly the arguments `expected` (name, Rust type of
/// what the plan parses it into, as a GraphQL type), and the document passes no others.
fn takes_exactly(meta: &MetaField, field: &Field, expected: &[(&str, String)]) -> bool {
    meta.args.len() == expected.len()
        && expected
            .iter()
            .all(|(name, ty)| meta.args.get(*name).is_some_and(|arg| arg.ty == *ty))
        && field
            .arguments
            .iter()
            .all(|(name, _)| expected.iter().any(|(known, _)| *known == name.node.as_str()))
}

/// The registry's object type `name`.
fn object_type<'r>(registry: &'r Registry, name: &str) -> Option<&'r MetaType> {
    registry
        .types
        .get(name)
        .filter(|meta| matches!(meta, MetaType::Object { .. }))
}

/// Compiles `document` into a plan, or None when the general executor must answer it. The
/// document has passed validation; `limits` are the executor's (fixed for its life).
pub fn compile(document: &ExecutableDocument, limits: &QueryLimits, registry: &Registry) -> Option<Plan> {
    if !document.fragments.is_empty() {
        return None;
    }
    // One operation: the executor runs the plan only for a request that selects it
    // (`complete::operation`, async-graphql's rules).
    let operation = match &document.operations {
        DocumentOperations::Single(operation) => &operation.node,
        DocumentOperations::Multiple(operations) if operations.len() == 1 => &operations.values().next()?.node,
        DocumentOperations::Multiple(_) => return None,
    };
    if operation.ty != OperationType::Query || !operation.directives.is_empty() {
        return None;
    }
    let mut defaults = Vec::new();
    for definition in &operation.variable_definitions {
        let definition = &definition.node;
        if !definition.directives.is_empty() {
            return None;
        }
        if let Some(default) = &definition.default_value {
            defaults.push((definition.name.node.clone(), default.node.clone()));
        }
    }
    // Depth: the plan's deepest field is at most 5 (campaign › connection › edges › node ›
    // field); one below the limit keeps clear of any difference in how depth is counted.
    if limits.max_depth <= 5 {
        return None;
    }
    let roots = fields(&operation.selection_set.node)?;
    let [root] = roots.as_slice() else {
        return None;
    };
    let query = object_type(registry, &registry.query_type)?;
    let root_meta = query.field_by_name(root.node.name.node.as_str())?;
    let (argument, root_arg, argument_type) = match root.node.name.node.as_str() {
        "campaign" => (
            "id",
            Root::ById(arg(&root.node, "id")),
            <ID as InputType>::qualified_type_name(),
        ),
        "campaignByDatabaseId" => (
            "databaseId",
            Root::ByDatabaseId(arg(&root.node, "databaseId")),
            <Uuid as InputType>::qualified_type_name(),
        ),
        _ => return None,
    };
    if root_meta.ty != <Option<super::campaign::Campaign> as OutputType>::qualified_type_name()
        || !takes_exactly(root_meta, &root.node, &[(argument, argument_type)])
        || root.node.selection_set.node.items.is_empty()
    {
        return None;
    }
    let campaign = object_type(registry, &<super::campaign::Campaign as OutputType>::type_name())?;
    let mut items = Vec::new();
    for field in fields(&root.node.selection_set.node)? {
        let name = field.node.name.node.as_str();
        let item = match name {
            "__typename" if leaf(&field.node) => CampaignItem::Typename(json_key(&field.node)),
            "generatedDomains" => CampaignItem::GeneratedDomains(connection(registry, campaign, field)?),
            "dnsValidationResults" => CampaignItem::DnsValidationResults(connection(registry, campaign, field)?),
            "httpKeywordResults" => CampaignItem::HttpKeywordResults(connection(registry, campaign, field)?),
            _ if leaf(&field.node) => {
                CampaignItem::Field(json_key(&field.node), CampaignField::resolve(campaign, name)?)
            }
            _ => return None,
        };
        items.push(item);
    }
    Some(Plan {
        defaults,
        root: FieldKey::of(root),
        root_arg,
        items,
        answer_size: AtomicUsize::new(16 * 1024),
    })
}

/// The connection field `field` of the campaign, for row type `M`.
fn connection<M: RowNode>(
    registry: &Registry,
    campaign: &MetaType,
    field: &Positioned<Field>,
) -> Option<ConnectionPlan<M>> {
    let meta = campaign.field_by_name(field.node.name.node.as_str())?;
    if meta.ty != <M::Connection as OutputType>::qualified_type_name()
        || !takes_exactly(meta, &field.node, &M::arguments())
        || field.node.selection_set.node.items.is_empty()
    {
        return None;
    }
    let connection_type = object_type(registry, &<M::Connection as OutputType>::type_name())?;
    let page_info_type = object_type(registry, &<PageInfo as OutputType>::type_name())?;
    let edge_type = object_type(registry, &<M::Edge as OutputType>::type_name())?;
    let node_type = object_type(registry, &<M::Node as OutputType>::type_name())?;
    // The structure the plan writes, as the registry must have it.
    let typed = |object: &MetaType, name: &str, ty: String| {
        object
            .field_by_name(name)
            .is_some_and(|meta| meta.args.is_empty() && meta.ty == ty)
    };
    let node = &field.node;
    let mut plan = ConnectionPlan {
        key: FieldKey::of(field),
        first: arg(node, "first"),
        after: arg(node, "after"),
        last: arg(node, "last"),
        before: arg(node, "before"),
        order_by: arg(node, "orderBy"),
        filter: arg(node, "filter"),
        child_complexity: 0,
        items: Vec::new(),
    };
    // async-graphql's complexity: 1 per field plus its children's (connections use
    // `connection_cost` at run time, with the page size).
    let mut complexity = 0usize;
    for item in fields(&node.selection_set.node)? {
        let item = &item.node;
        let key = json_key(item);
        let compiled = match item.name.node.as_str() {
            "__typename" if leaf(item) => ConnectionItem::Typename(key),
            "totalCount"
                if leaf(item)
                    && typed(
                        connection_type,
                        "totalCount",
                        <i64 as OutputType>::qualified_type_name(),
                    ) =>
            {
                ConnectionItem::TotalCount(key)
            }
            "pageInfo"
                if object(item)
                    && typed(
                        connection_type,
                        "pageInfo",
                        <PageInfo as OutputType>::qualified_type_name(),
                    ) =>
            {
                let mut page_info = Vec::new();
                for info in fields(&item.selection_set.node)? {
                    let info = &info.node;
                    if !leaf(info) {
                        return None;
                    }
                    let field = match info.name.node.as_str() {
                        "__typename" => None,
                        name => Some(PageInfoField::resolve(page_info_type, name)?),
                    };
                    page_info.push((json_key(info), field));
                }
                complexity += page_info.len();
                ConnectionItem::PageInfo(key, page_info)
            }
            "edges"
                if object(item)
                    && typed(
                        connection_type,
                        "edges",
                        <Vec<M::Edge> as OutputType>::qualified_type_name(),
                    ) =>
            {
                let mut edge = Vec::new();
                for part in fields(&item.selection_set.node)? {
                    let part = &part.node;
                    let part_key = json_key(part);
                    match part.name.node.as_str() {
                        "__typename" if leaf(part) => edge.push(EdgeItem::Typename(part_key)),
                        "cursor"
                            if leaf(part)
                                && typed(edge_type, "cursor", <String as OutputType>::qualified_type_name()) =>
                        {
                            edge.push(EdgeItem::Cursor(part_key))
                        }
                        "node"
                            if object(part)
                                && typed(edge_type, "node", <M::Node as OutputType>::qualified_type_name()) =>
                        {
                            let node = node_items::<M>(node_type, part)?;
                            complexity += node.len();
                            edge.push(EdgeItem::Node(part_key, node));
                        }
                        _ => return None,
                    }
                    complexity += 1;
                }
                ConnectionItem::Edges(key, edge)
            }
            "nodes"
                if object(item)
                    && typed(
                        connection_type,
                        "nodes",
                        <Vec<M::Node> as OutputType>::qualified_type_name(),
                    ) =>
            {
                let node = node_items::<M>(node_type, item)?;
                complexity += node.len();
                ConnectionItem::Nodes(key, node)
            }
            _ => return None,
        };
        complexity += 1;
        plan.items.push(compiled);
    }
    plan.child_complexity = complexity;
    Some(plan)
}

fn node_items<M: RowNode>(node_type: &MetaType, field: &Field) -> Option<Vec<NodeItem<M::Field>>> {
    fields(&field.selection_set.node)?
        .into_iter()
        .map(|item| {
            let item = &item.node;
            if !leaf(item) {
                return None;
            }
            let key = json_key(item);
            match item.name.node.as_str() {
                "__typename" => Some(NodeItem::Typename(key)),
                name => M::Field::resolve(node_type, name).map(|field| NodeItem::Field(key, field)),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Running

/// A JSON response being written.
struct Out(String);

impl Out {
    fn raw(&mut self, text: &str) {
        self.0.push_str(text);
    }

    fn str(&mut self, text: &str) {
        // Most texts (names, ids) need no escaping: copied as they are. Otherwise serde_json's
        // escaping, as the general executor's serialization uses (it escapes exactly these).
        // A branch-free scan (the compiler vectorizes it), not an early-exit one.
        let special = text
            .bytes()
            .fold(false, |found, b| found | (b < 0x20) | (b == b'"') | (b == b'\\'));
        if !special {
            self.0.push('"');
            self.0.push_str(text);
            self.0.push('"');
        } else {
            self.0.push_str(&serde_json::to_string(text).unwrap_or_default());
        }
    }

    /// A global id, encoded straight into the response.
    fn global_id(&mut self, id: GlobalId) {
        self.0.push('"');
        id.encode_into(&mut self.0);
        self.0.push('"');
    }

    /// A cursor, encoded straight into the response.
    fn cursor(&mut self, cursor: &Cursor) {
        self.0.push('"');
        cursor.encode_into(&mut self.0);
        self.0.push('"');
    }

    fn opt_str(&mut self, text: Option<&str>) {
        match text {
            Some(text) => self.str(text),
            None => self.raw("null"),
        }
    }

    fn int(&mut self, value: i64) {
        let _ = write!(self.0, "{value}");
    }

    fn opt_int(&mut self, value: Option<i32>) {
        match value {
            Some(value) => self.int(value.into()),
            None => self.raw("null"),
        }
    }

    fn bool(&mut self, value: bool) {
        self.raw(if value { "true" } else { "false" });
    }

    fn uuid(&mut self, id: Uuid) {
        let mut buffer = Uuid::encode_buffer();
        self.0.push('"');
        self.0.push_str(id.hyphenated().encode_lower(&mut buffer));
        self.0.push('"');
    }

    fn opt_uuid(&mut self, id: Option<Uuid>) {
        match id {
            Some(id) => self.uuid(id),
            None => self.raw("null"),
        }
    }

    fn time(&mut self, at: Timestamp) {
        self.0.push('"');
        write_rfc3339(at.into(), &mut self.0);
        self.0.push('"');
    }

    fn opt_time(&mut self, at: Option<Timestamp>) {
        match at {
            Some(at) => self.time(at),
            None => self.raw("null"),
        }
    }

    /// An enum value: its GraphQL name.
    fn enumeration<T: InputType>(&mut self, value: &T) {
        match value.to_value() {
            Value::Enum(name) => self.str(name.as_str()),
            other => self.raw(&other.to_string()),
        }
    }

    fn json(&mut self, value: Option<&serde_json::Value>) {
        match value {
            // Through async-graphql's Value, as the general executor outputs JSON fields.
            Some(value) => match Value::from_json(value.clone()) {
                Ok(value) => self.raw(&serde_json::to_string(&value).unwrap_or_default()),
                Err(_) => self.raw("null"),
            },
            None => self.raw("null"),
        }
    }
}

/// Appends `at` as `DateTime::<Utc>::to_rfc3339` writes it (what the general executor outputs
/// for a `DateTime` field): `2026-01-01T00:04:59.120+00:00`, with 0, 3, 6 or 9 digits of
/// fraction, whichever is shortest exact. Without chrono's formatting machinery and its
/// intermediate `String`.
fn write_rfc3339(at: DateTime<Utc>, out: &mut String) {
    use chrono::{Datelike, Timelike};
    let year = at.year();
    if !(0..=9999).contains(&year) {
        out.push_str(&at.to_rfc3339());
        return;
    }
    push_digits(out, year.unsigned_abs(), 4);
    out.push('-');
    push_digits(out, at.month(), 2);
    out.push('-');
    push_digits(out, at.day(), 2);
    out.push('T');
    push_digits(out, at.hour(), 2);
    out.push(':');
    push_digits(out, at.minute(), 2);
    out.push(':');
    push_digits(out, at.second(), 2);
    let nanos = at.nanosecond();
    if nanos != 0 {
        out.push('.');
        if nanos.is_multiple_of(1_000_000) {
            push_digits(out, nanos / 1_000_000, 3);
        } else if nanos.is_multiple_of(1_000) {
            push_digits(out, nanos / 1_000, 6);
        } else {
            push_digits(out, nanos, 9);
        }
    }
    out.push_str("+00:00");
}

/// Appends `value` zero-padded to `width` (at most 9) digits.
fn push_digits(out: &mut String, value: u32, width: usize) {
    let mut rest = value;
    let mut buf = ['0'; 9];
    for slot in buf[..width].iter_mut().rev() {
        *slot = char::from(b'0' + (rest % 10) as u8);
        rest /= 10;
    }
    out.extend(&buf[..width]);
}

/// A row type a compiled connection can write.
trait RowNode: crate::entity::DecodeRow + Send + Sync + Sized + 'static {
    /// The node's fields the plan writes.
    type Field: PlanField + std::fmt::Debug + Send + Sync;
    /// The GraphQL types of the connection, its edges and its nodes.
    type Connection: OutputType;
    type Edge: OutputType;
    type Node: OutputType;
    type Table: sea_orm::EntityTrait<Model = Self>;
    type Order: OrderField<Self::Table>;
    /// The campaign type whose rows these are.
    const CAMPAIGN_TYPE: CampaignType;

    /// The connection field's arguments: name and the GraphQL type of what the plan parses.
    fn arguments() -> Vec<(&'static str, String)>;

    /// The connection request for `parent` with the plan's ordering and filter arguments.
    fn request(
        parent: Parent,
        plan: &ConnectionPlan<Self>,
        vars: &Vars<'_>,
        with_total: bool,
    ) -> Option<ConnectionRequest<Self::Table, Self::Order>>;

    fn write(&self, field: Self::Field, out: &mut Out);
}

/// The arguments every row connection takes (first, after, last, before, orderBy) plus its
/// filter, typed as the plan parses them.
fn page_arguments<O: InputType>(filter: Option<String>) -> Vec<(&'static str, String)> {
    let mut arguments = vec![
        ("first", <Option<i32> as InputType>::qualified_type_name()),
        ("after", <Option<String> as InputType>::qualified_type_name()),
        ("last", <Option<i32> as InputType>::qualified_type_name()),
        ("before", <Option<String> as InputType>::qualified_type_name()),
        ("orderBy", <Option<O> as InputType>::qualified_type_name()),
    ];
    arguments.extend(filter.map(|filter| ("filter", filter)));
    arguments
}

plan_fields!(GeneratedField {
    Id = "id": ID,
    DatabaseId = "databaseId": Uuid,
    CampaignDatabaseId = "campaignDatabaseId": Uuid,
    DomainName = "domainName": String,
    OffsetIndex = "offsetIndex": i64,
    Tld = "tld": Option<String>,
    SourceKeyword = "sourceKeyword": Option<String>,
    SourcePattern = "sourcePattern": Option<String>,
    GeneratedAt = "generatedAt": DateTime<Utc>,
    CreatedAt = "createdAt": DateTime<Utc>,
});

impl RowNode for generated_domain::Model {
    type Field = GeneratedField;
    type Connection = GeneratedDomainConnection;
    type Edge = GeneratedDomainEdge;
    type Node = GeneratedDomain;
    type Table = generated_domain::Entity;
    type Order = campaign_rows::GeneratedDomainOrderField;
    const CAMPAIGN_TYPE: CampaignType = CampaignType::DomainGeneration;

    fn arguments() -> Vec<(&'static str, String)> {
        page_arguments::<GeneratedDomainOrder>(None)
    }

    fn request(
        parent: Parent,
        plan: &ConnectionPlan<Self>,
        vars: &Vars<'_>,
        with_total: bool,
    ) -> Option<ConnectionRequest<Self::Table, Self::Order>> {
        let order = plan.order_by.parse::<Option<GeneratedDomainOrder>>(vars)?;
        Some(campaign_rows::generated_domains(
            parent,
            order.unwrap_or_default(),
            with_total,
        ))
    }

    fn write(&self, field: GeneratedField, out: &mut Out) {
        match field {
            GeneratedField::Id => out.global_id(GlobalId::row(
                NodeType::GeneratedDomain,
                self.domain_generation_campaign_id,
                self.id,
            )),
            GeneratedField::DatabaseId => out.uuid(self.id),
            GeneratedField::CampaignDatabaseId => out.uuid(self.domain_generation_campaign_id),
            GeneratedField::DomainName => out.str(&self.domain_name),
            GeneratedField::OffsetIndex => out.int(self.offset_index),
            GeneratedField::Tld => out.opt_str(self.tld.as_deref()),
            GeneratedField::SourceKeyword => out.opt_str(self.source_keyword.as_deref()),
            GeneratedField::SourcePattern => out.opt_str(self.source_pattern.as_deref()),
            GeneratedField::GeneratedAt => out.time(self.generated_at),
            GeneratedField::CreatedAt => out.time(self.created_at),
        }
    }
}

plan_fields!(DnsField {
    Id = "id": ID,
    DatabaseId = "databaseId": Uuid,
    CampaignDatabaseId = "campaignDatabaseId": Uuid,
    GeneratedDomainDatabaseId = "generatedDomainDatabaseId": Option<Uuid>,
    DomainName = "domainName": String,
    ValidationStatus = "validationStatus": crate::entity::ValidationStatus,
    BusinessStatus = "businessStatus": Option<crate::entity::BusinessStatus>,
    DnsRecords = "dnsRecords": Option<async_graphql::Json<serde_json::Value>>,
    Attempts = "attempts": i32,
    LastCheckedAt = "lastCheckedAt": Option<DateTime<Utc>>,
    CreatedAt = "createdAt": DateTime<Utc>,
});

impl RowNode for dns_validation_result::Model {
    type Field = DnsField;
    type Connection = DnsValidationResultConnection;
    type Edge = DnsValidationResultEdge;
    type Node = DnsValidationResult;
    type Table = dns_validation_result::Entity;
    type Order = campaign_rows::DnsValidationResultOrderField;
    const CAMPAIGN_TYPE: CampaignType = CampaignType::DnsValidation;

    fn arguments() -> Vec<(&'static str, String)> {
        page_arguments::<DnsValidationResultOrder>(Some(
            <Option<DnsValidationResultFilter> as InputType>::qualified_type_name(),
        ))
    }

    fn request(
        parent: Parent,
        plan: &ConnectionPlan<Self>,
        vars: &Vars<'_>,
        with_total: bool,
    ) -> Option<ConnectionRequest<Self::Table, Self::Order>> {
        let order = plan.order_by.parse::<Option<DnsValidationResultOrder>>(vars)?;
        let filter = plan.filter.parse::<Option<DnsValidationResultFilter>>(vars)?;
        Some(campaign_rows::dns_validation_results(
            parent,
            order.unwrap_or_default(),
            &filter.unwrap_or_default(),
            with_total,
        ))
    }

    fn write(&self, field: DnsField, out: &mut Out) {
        match field {
            DnsField::Id => out.global_id(GlobalId::row(
                NodeType::DnsValidationResult,
                self.dns_campaign_id,
                self.id,
            )),
            DnsField::DatabaseId => out.uuid(self.id),
            DnsField::CampaignDatabaseId => out.uuid(self.dns_campaign_id),
            DnsField::GeneratedDomainDatabaseId => out.opt_uuid(self.generated_domain_id),
            DnsField::DomainName => out.str(&self.domain_name),
            DnsField::ValidationStatus => out.enumeration(&self.validation_status),
            DnsField::BusinessStatus => match &self.business_status {
                Some(status) => out.enumeration(status),
                None => out.raw("null"),
            },
            DnsField::DnsRecords => out.json(self.dns_records.as_ref()),
            DnsField::Attempts => out.int(self.attempts.into()),
            DnsField::LastCheckedAt => out.opt_time(self.last_checked_at),
            DnsField::CreatedAt => out.time(self.created_at),
        }
    }
}

plan_fields!(HttpField {
    Id = "id": ID,
    DatabaseId = "databaseId": Uuid,
    CampaignDatabaseId = "campaignDatabaseId": Uuid,
    DnsResultDatabaseId = "dnsResultDatabaseId": Option<Uuid>,
    DomainName = "domainName": String,
    ValidationStatus = "validationStatus": crate::entity::ValidationStatus,
    HttpStatusCode = "httpStatusCode": Option<i32>,
    PageTitle = "pageTitle": Option<String>,
    ContentSnippet = "contentSnippet": Option<String>,
    FoundKeywords = "foundKeywords": Option<async_graphql::Json<serde_json::Value>>,
    ContentHash = "contentHash": Option<String>,
    Attempts = "attempts": i32,
    LastCheckedAt = "lastCheckedAt": Option<DateTime<Utc>>,
    CreatedAt = "createdAt": DateTime<Utc>,
});

impl RowNode for http_keyword_result::Model {
    type Field = HttpField;
    type Connection = HttpKeywordResultConnection;
    type Edge = HttpKeywordResultEdge;
    type Node = HttpKeywordResult;
    type Table = http_keyword_result::Entity;
    type Order = campaign_rows::HttpKeywordResultOrderField;
    const CAMPAIGN_TYPE: CampaignType = CampaignType::HttpKeywordValidation;

    fn arguments() -> Vec<(&'static str, String)> {
        page_arguments::<HttpKeywordResultOrder>(Some(
            <Option<HttpKeywordResultFilter> as InputType>::qualified_type_name(),
        ))
    }

    fn request(
        parent: Parent,
        plan: &ConnectionPlan<Self>,
        vars: &Vars<'_>,
        with_total: bool,
    ) -> Option<ConnectionRequest<Self::Table, Self::Order>> {
        let order = plan.order_by.parse::<Option<HttpKeywordResultOrder>>(vars)?;
        let filter = plan.filter.parse::<Option<HttpKeywordResultFilter>>(vars)?;
        Some(campaign_rows::http_keyword_results(
            parent,
            order.unwrap_or_default(),
            filter.unwrap_or_default(),
            with_total,
        ))
    }

    fn write(&self, field: HttpField, out: &mut Out) {
        match field {
            HttpField::Id => out.global_id(GlobalId::row(
                NodeType::HttpKeywordResult,
                self.http_keyword_campaign_id,
                self.id,
            )),
            HttpField::DatabaseId => out.uuid(self.id),
            HttpField::CampaignDatabaseId => out.uuid(self.http_keyword_campaign_id),
            HttpField::DnsResultDatabaseId => out.opt_uuid(self.dns_result_id),
            HttpField::DomainName => out.str(&self.domain_name),
            HttpField::ValidationStatus => out.enumeration(&self.validation_status),
            HttpField::HttpStatusCode => out.opt_int(self.http_status_code),
            HttpField::PageTitle => out.opt_str(self.page_title.as_deref()),
            HttpField::ContentSnippet => out.opt_str(self.content_snippet.as_deref()),
            HttpField::FoundKeywords => out.json(self.found_keywords.as_ref()),
            HttpField::ContentHash => out.opt_str(self.content_hash.as_deref()),
            HttpField::Attempts => out.int(self.attempts.into()),
            HttpField::LastCheckedAt => out.opt_time(self.last_checked_at),
            HttpField::CreatedAt => out.time(self.created_at),
        }
    }
}

/// What a plan answers: the JSON it wrote, or — when the database failed it after it had
/// started — the response the general executor would give, to be completed and serialized
/// the same way.
pub enum PlanAnswer {
    Json(String),
    Response(async_graphql::Response),
}

impl<M: RowNode> ConnectionPlan<M> {
    fn page_args(&self, vars: &Vars<'_>) -> Option<PageArgs> {
        Some(PageArgs {
            first: self.first.parse(vars)?,
            after: self.after.parse(vars)?,
            last: self.last.parse(vars)?,
            before: self.before.parse(vars)?,
        })
    }

    fn complexity(&self, vars: &Vars<'_>) -> Option<usize> {
        let first: Option<i32> = self.first.parse(vars)?;
        let last: Option<i32> = self.last.parse(vars)?;
        Some(connection_cost(first, last, self.child_complexity))
    }

    fn wants_total(&self) -> bool {
        self.items
            .iter()
            .any(|item| matches!(item, ConnectionItem::TotalCount(_)))
    }

    /// The request and its validated window for the campaign `id`, checked without the
    /// database; None when an argument is refused (the general executor then says why).
    fn prepare(&self, api: &ApiContext, id: Uuid, vars: &Vars<'_>) -> Option<Prepared<M>> {
        let parent = Parent {
            id,
            campaign_type: M::CAMPAIGN_TYPE,
        };
        let request = M::request(parent, self, vars, self.wants_total())?;
        let window = request.window(api, &self.page_args(vars)?).ok()?;
        Some(Prepared { request, window })
    }

    fn write(&self, page: &Page<M>, out: &mut Out) {
        let (connection_type, edge_type, node_type) = (
            <M::Connection as OutputType>::type_name(),
            <M::Edge as OutputType>::type_name(),
            <M::Node as OutputType>::type_name(),
        );
        out.raw("{");
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                out.raw(",");
            }
            match item {
                ConnectionItem::Typename(key) => {
                    out.raw(key);
                    out.str(&connection_type);
                }
                ConnectionItem::TotalCount(key) => {
                    out.raw(key);
                    match page.total_count {
                        Some(total) => out.int(total),
                        None => out.raw("null"),
                    }
                }
                ConnectionItem::PageInfo(key, fields) => {
                    out.raw(key);
                    out.raw("{");
                    for (j, (key, field)) in fields.iter().enumerate() {
                        if j > 0 {
                            out.raw(",");
                        }
                        out.raw(key);
                        match field {
                            None => out.str(&<PageInfo as OutputType>::type_name()),
                            Some(PageInfoField::HasNextPage) => out.bool(page.has_next_page),
                            Some(PageInfoField::HasPreviousPage) => out.bool(page.has_previous_page),
                            Some(PageInfoField::StartCursor) => match page.rows.first() {
                                Some((_, cursor)) => out.cursor(cursor),
                                None => out.raw("null"),
                            },
                            Some(PageInfoField::EndCursor) => match page.rows.last() {
                                Some((_, cursor)) => out.cursor(cursor),
                                None => out.raw("null"),
                            },
                        }
                    }
                    out.raw("}");
                }
                ConnectionItem::Edges(key, edge) => {
                    out.raw(key);
                    out.raw("[");
                    for (row, (model, cursor)) in page.rows.iter().enumerate() {
                        if row > 0 {
                            out.raw(",");
                        }
                        out.raw("{");
                        for (j, part) in edge.iter().enumerate() {
                            if j > 0 {
                                out.raw(",");
                            }
                            match part {
                                EdgeItem::Typename(key) => {
                                    out.raw(key);
                                    out.str(&edge_type);
                                }
                                EdgeItem::Cursor(key) => {
                                    out.raw(key);
                                    out.cursor(cursor);
                                }
                                EdgeItem::Node(key, fields) => {
                                    out.raw(key);
                                    write_node(model, fields, &node_type, out);
                                }
                            }
                        }
                        out.raw("}");
                    }
                    out.raw("]");
                }
                ConnectionItem::Nodes(key, fields) => {
                    out.raw(key);
                    out.raw("[");
                    for (row, (model, _)) in page.rows.iter().enumerate() {
                        if row > 0 {
                            out.raw(",");
                        }
                        write_node(model, fields, &node_type, out);
                    }
                    out.raw("]");
                }
            }
        }
        out.raw("}");
    }
}

fn write_node<M: RowNode>(model: &M, fields: &[NodeItem<M::Field>], typename: &str, out: &mut Out) {
    out.raw("{");
    for (i, item) in fields.iter().enumerate() {
        if i > 0 {
            out.raw(",");
        }
        match item {
            NodeItem::Typename(key) => {
                out.raw(key);
                out.str(typename);
            }
            NodeItem::Field(key, field) => {
                out.raw(key);
                model.write(*field, out);
            }
        }
    }
    out.raw("}");
}

fn write_campaign_field(campaign: &campaign::Model, field: CampaignField, out: &mut Out) {
    match field {
        CampaignField::Id => out.global_id(GlobalId::campaign(campaign.id)),
        CampaignField::DatabaseId => out.uuid(campaign.id),
        CampaignField::Name => out.str(&campaign.name),
        CampaignField::CampaignType => out.enumeration(&campaign.campaign_type),
        CampaignField::Status => out.enumeration(&campaign.status),
        CampaignField::SourceCampaignDatabaseId => out.opt_uuid(campaign.source_campaign_id),
        CampaignField::Description => out.opt_str(campaign.description.as_deref()),
        CampaignField::TotalItems => out.int(campaign.total_items),
        CampaignField::ProcessedItems => out.int(campaign.processed_items),
        CampaignField::ProgressPercent => {
            let percent = if campaign.total_items == 0 {
                0.0
            } else {
                campaign.processed_items as f64 * 100.0 / campaign.total_items as f64
            };
            // As async-graphql writes a float (through serde_json's Number).
            match serde_json::Number::from_f64(percent) {
                Some(number) => out.raw(&number.to_string()),
                None => out.raw("null"),
            }
        }
        CampaignField::ErrorMessage => out.opt_str(campaign.error_message.as_deref()),
        CampaignField::StartedAt => out.opt_time(campaign.started_at),
        CampaignField::CompletedAt => out.opt_time(campaign.completed_at),
        CampaignField::CreatedAt => out.time(campaign.created_at),
        CampaignField::UpdatedAt => out.time(campaign.updated_at),
    }
}

/// A connection's request with its validated page window, ready to fetch.
struct Prepared<M: RowNode> {
    request: ConnectionRequest<M::Table, M::Order>,
    window: PageWindow,
}

impl<M: RowNode> Prepared<M> {
    /// Fetches the page; a campaign of another type has an empty connection (no SQL).
    async fn fetch(self, api: &ApiContext, campaign_type: CampaignType) -> crate::error::Result<Page<M>> {
        let mut request = self.request;
        request.applicable = campaign_type == M::CAMPAIGN_TYPE;
        request.fetch_window(api, &self.window).await
    }

    /// Fetches the page together with the campaign's type (the guard column).
    async fn fetch_guarded(self, api: &ApiContext, id: Uuid) -> crate::error::Result<Page<M>> {
        let mut request = self.request;
        request.guard = Some(campaign_rows::campaign_type_guard(id));
        request.fetch_window(api, &self.window).await
    }
}

/// A connection of the campaign, prepared, then fetched (or failed).
enum Connection {
    Generated(Prepared<generated_domain::Model>),
    Dns(Prepared<dns_validation_result::Model>),
    Http(Prepared<http_keyword_result::Model>),
}

enum Fetched {
    Generated(Page<generated_domain::Model>),
    Dns(Page<dns_validation_result::Model>),
    Http(Page<http_keyword_result::Model>),
}

impl Connection {
    async fn fetch(self, api: &ApiContext, campaign_type: CampaignType) -> crate::error::Result<Fetched> {
        Ok(match self {
            Connection::Generated(prepared) => Fetched::Generated(prepared.fetch(api, campaign_type).await?),
            Connection::Dns(prepared) => Fetched::Dns(prepared.fetch(api, campaign_type).await?),
            Connection::Http(prepared) => Fetched::Http(prepared.fetch(api, campaign_type).await?),
        })
    }

    async fn fetch_guarded(self, api: &ApiContext, id: Uuid) -> crate::error::Result<Fetched> {
        Ok(match self {
            Connection::Generated(prepared) => Fetched::Generated(prepared.fetch_guarded(api, id).await?),
            Connection::Dns(prepared) => Fetched::Dns(prepared.fetch_guarded(api, id).await?),
            Connection::Http(prepared) => Fetched::Http(prepared.fetch_guarded(api, id).await?),
        })
    }

    fn campaign_type(&self) -> CampaignType {
        match self {
            Connection::Generated(_) => CampaignType::DomainGeneration,
            Connection::Dns(_) => CampaignType::DnsValidation,
            Connection::Http(_) => CampaignType::HttpKeywordValidation,
        }
    }
}

impl Fetched {
    /// The page's guard (the campaign's type), when the page was fetched with one.
    fn guard(&self) -> Option<&str> {
        match self {
            Fetched::Generated(page) => page.guard.as_deref(),
            Fetched::Dns(page) => page.guard.as_deref(),
            Fetched::Http(page) => page.guard.as_deref(),
        }
    }

    /// The empty page of a connection of `campaign_type`'s rows (a campaign of another
    /// type has an empty connection; no SQL runs for it).
    fn empty(campaign_type: CampaignType) -> Fetched {
        match campaign_type {
            CampaignType::DomainGeneration => Fetched::Generated(empty_page()),
            CampaignType::DnsValidation => Fetched::Dns(empty_page()),
            CampaignType::HttpKeywordValidation => Fetched::Http(empty_page()),
        }
    }
}

/// How a plan's database work ended.
enum Outcome {
    /// The campaign does not exist: the root field is null.
    Missing,
    /// The campaign (when it was loaded) and every connection's page, in the plan's order.
    Found(Option<Box<campaign::Model>>, Vec<Fetched>),
    /// Field errors, each with the index in the plan's items of its connection (None: the
    /// root field itself).
    Failed(Vec<(ApiError, Option<usize>)>),
}

impl Plan {
    /// Runs the plan for a request that selects its document's operation, with `variables`
    /// (already coerced): its answer, or None when it declines before any database work (see
    /// the module docs).
    pub async fn run(&self, api: &ApiContext, limits: &QueryLimits, variables: &Variables) -> Option<PlanAnswer> {
        let vars = Vars {
            given: variables,
            defaults: &self.defaults,
        };
        // The complexity with these variables, as async-graphql computes it.
        let mut complexity = 1usize;
        for item in &self.items {
            complexity = complexity.saturating_add(match item {
                CampaignItem::Typename(_) | CampaignItem::Field(..) => 1,
                CampaignItem::GeneratedDomains(plan) => plan.complexity(&vars)?,
                CampaignItem::DnsValidationResults(plan) => plan.complexity(&vars)?,
                CampaignItem::HttpKeywordResults(plan) => plan.complexity(&vars)?,
            });
        }
        if complexity > limits.max_complexity {
            return None;
        }
        let campaign_id = match &self.root_arg {
            Root::ById(arg) => {
                let id: ID = arg.parse(&vars)?;
                GlobalId::decode_as(&id, NodeType::Campaign).ok()?.id
            }
            Root::ByDatabaseId(arg) => arg.parse::<Uuid>(&vars)?,
        };
        // Every argument of every connection, before any database work.
        let mut connections = Vec::new();
        for item in &self.items {
            match item {
                CampaignItem::Typename(_) | CampaignItem::Field(..) => {}
                CampaignItem::GeneratedDomains(plan) => {
                    connections.push(Connection::Generated(plan.prepare(api, campaign_id, &vars)?))
                }
                CampaignItem::DnsValidationResults(plan) => {
                    connections.push(Connection::Dns(plan.prepare(api, campaign_id, &vars)?))
                }
                CampaignItem::HttpKeywordResults(plan) => {
                    connections.push(Connection::Http(plan.prepare(api, campaign_id, &vars)?))
                }
            }
        }
        let outcome = self.fetch(api, campaign_id, connections).await;
        Some(match outcome {
            Outcome::Missing => {
                let mut out = Out(String::with_capacity(64));
                out.raw("{\"data\":{");
                out.raw(&self.root.json);
                out.raw("null}}");
                PlanAnswer::Json(out.0)
            }
            Outcome::Found(campaign, fetched) => PlanAnswer::Json(self.write(campaign.as_deref(), &fetched)?),
            Outcome::Failed(errors) => PlanAnswer::Response(self.errors(errors)),
        })
    }

    /// The database work: the campaign (unless one page statement tells all) and the pages.
    async fn fetch(&self, api: &ApiContext, id: Uuid, mut connections: Vec<Connection>) -> Outcome {
        let only_connection = self.items.len() == 1 && connections.len() == 1;
        if only_connection && let Some(connection) = connections.pop() {
            // A plan selecting one connection and nothing else of the campaign needs only to
            // know the campaign exists and has that connection's type: the page statement
            // tells that itself (a guard column), saving a round trip.
            let expected = connection.campaign_type();
            let failed = match connection.fetch_guarded(api, id).await {
                Ok(fetched) => {
                    let Some(found) = fetched.guard() else {
                        return Outcome::Missing;
                    };
                    return match <CampaignType as sea_orm::ActiveEnum>::try_from_value(&found.to_owned()) {
                        Ok(found) if found == expected => Outcome::Found(None, vec![fetched]),
                        // A campaign of another type: its connection is empty.
                        Ok(_) => Outcome::Found(None, vec![Fetched::empty(expected)]),
                        Err(err) => Outcome::Failed(vec![(ApiError::from(err), None)]),
                    };
                }
                Err(err) => err,
            };
            // The statement failed: what the general executor would have met. It loads the
            // campaign first, then the page (only for a campaign of this type).
            return match super::campaign::load_campaign(api, id).await {
                Err(err) => Outcome::Failed(vec![(err, None)]),
                Ok(None) => Outcome::Missing,
                Ok(Some(campaign)) if campaign.campaign_type != expected => {
                    Outcome::Found(None, vec![Fetched::empty(expected)])
                }
                Ok(Some(_)) => Outcome::Failed(vec![(failed.into(), Some(self.connection_index(0)))]),
            };
        }
        let campaign = match super::campaign::load_campaign(api, id).await {
            Err(err) => return Outcome::Failed(vec![(err, None)]),
            Ok(None) => return Outcome::Missing,
            Ok(Some(campaign)) => campaign,
        };
        let mut fetched = Vec::with_capacity(connections.len());
        let mut errors = Vec::new();
        for (n, connection) in connections.into_iter().enumerate() {
            // Every connection runs, as the general executor resolves every field: the errors
            // are all the failed ones.
            match connection.fetch(api, campaign.campaign_type).await {
                Ok(page) => fetched.push(page),
                Err(err) => errors.push((err.into(), Some(self.connection_index(n)))),
            }
        }
        if errors.is_empty() {
            Outcome::Found(Some(Box::new(campaign)), fetched)
        } else {
            Outcome::Failed(errors)
        }
    }

    /// The index in `items` of the `n`-th connection.
    fn connection_index(&self, n: usize) -> usize {
        self.items
            .iter()
            .enumerate()
            .filter(|(_, item)| !matches!(item, CampaignItem::Typename(_) | CampaignItem::Field(..)))
            .nth(n)
            .map_or(0, |(i, _)| i)
    }

    /// The response of failed database work, as the general executor gives it: each error at
    /// its field (message, code, location, path) and the campaign null (its connections are
    /// non-null, so their null propagates to it).
    fn errors(&self, errors: Vec<(ApiError, Option<usize>)>) -> async_graphql::Response {
        let root = self.root.name.to_string();
        let errors = errors
            .into_iter()
            .map(|(err, item)| {
                let key = item.and_then(|i| match &self.items[i] {
                    CampaignItem::GeneratedDomains(plan) => Some(&plan.key),
                    CampaignItem::DnsValidationResults(plan) => Some(&plan.key),
                    CampaignItem::HttpKeywordResults(plan) => Some(&plan.key),
                    _ => None,
                });
                let pos = key.map_or(self.root.pos, |key| key.pos);
                let mut server = async_graphql::Error::from(err).into_server_error(pos);
                server.path.push(PathSegment::Field(root.clone()));
                if let Some(key) = key {
                    server.path.push(PathSegment::Field(key.name.to_string()));
                }
                server
            })
            .collect();
        let mut data = async_graphql::indexmap::IndexMap::new();
        data.insert(self.root.name.clone(), Value::Null);
        let mut response = async_graphql::Response::new(Value::Object(data));
        response.errors = errors;
        response
    }

    /// Writes the answer of a found campaign.
    fn write(&self, campaign: Option<&campaign::Model>, fetched: &[Fetched]) -> Option<String> {
        // Sized from the plan's previous answer, so the buffer rarely grows (and copies).
        let mut out = Out(String::with_capacity(
            self.answer_size.load(Ordering::Relaxed).clamp(1024, 1 << 20) + 512,
        ));
        out.raw("{\"data\":{");
        out.raw(&self.root.json);
        out.raw("{");
        let mut pages = fetched.iter();
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                out.raw(",");
            }
            match item {
                CampaignItem::Typename(key) => {
                    out.raw(key);
                    out.str(&<super::campaign::Campaign as OutputType>::type_name());
                }
                CampaignItem::Field(key, field) => {
                    out.raw(key);
                    write_campaign_field(campaign?, *field, &mut out);
                }
                CampaignItem::GeneratedDomains(plan) => {
                    let Some(Fetched::Generated(page)) = pages.next() else {
                        return None;
                    };
                    out.raw(&plan.key.json);
                    plan.write(page, &mut out);
                }
                CampaignItem::DnsValidationResults(plan) => {
                    let Some(Fetched::Dns(page)) = pages.next() else {
                        return None;
                    };
                    out.raw(&plan.key.json);
                    plan.write(page, &mut out);
                }
                CampaignItem::HttpKeywordResults(plan) => {
                    let Some(Fetched::Http(page)) = pages.next() else {
                        return None;
                    };
                    out.raw(&plan.key.json);
                    plan.write(page, &mut out);
                }
            }
        }
        out.raw("}}}");
        self.answer_size.store(out.0.len(), Ordering::Relaxed);
        Some(out.0)
    }
}

fn empty_page<M>() -> Page<M> {
    Page {
        rows: Vec::new(),
        has_previous_page: false,
        has_next_page: false,
        total_count: Some(0),
        guard: None,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    #[test]
    fn every_field_a_plan_writes_is_in_the_schema_with_its_type() {
        // A field renamed, retyped or given arguments in a resolver is never compiled (the
        // registry check); this says so at once instead of by a plan quietly stepping aside.
        use super::{CampaignField, DnsField, GeneratedField, HttpField, PageInfoField, PlanField};
        let registry = crate::graphql::schema_registry();
        fn check<F: PlanField + std::fmt::Debug>(
            registry: &async_graphql::registry::Registry,
            object: &str,
            all: &[(&str, F)],
        ) {
            let meta = registry
                .types
                .get(object)
                .unwrap_or_else(|| panic!("{object} in the schema"));
            for (name, field) in all {
                assert!(
                    F::resolve(meta, name).is_some(),
                    "{object}.{name} ({field:?}): not in the schema as {}",
                    field.graphql_type()
                );
            }
        }
        check(&registry, "Campaign", CampaignField::ALL);
        check(&registry, "PageInfo", PageInfoField::ALL);
        check(&registry, "GeneratedDomain", GeneratedField::ALL);
        check(&registry, "DnsValidationResult", DnsField::ALL);
        check(&registry, "HttpKeywordResult", HttpField::ALL);
    }

    use super::write_rfc3339;
    use crate::entity::Timestamp;

    #[test]
    fn times_are_written_as_chrono_writes_them() {
        let mut micros: i64 = 1_767_225_899_120_000; // 2026-01-01T00:04:59.120Z
        let mut samples = vec![0, 1, 999, 1_000, 1_000_000, -1, -1_000_001, 253_402_300_799_999_999];
        for i in 0..20_000i64 {
            micros = micros
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let sample = micros.rem_euclid(400 * 365 * 86_400 * 1_000_000);
            // Every precision: whole seconds, milliseconds, microseconds.
            samples.push(match i % 3 {
                0 => sample - sample % 1_000_000,
                1 => sample - sample % 1_000,
                _ => sample,
            });
        }
        for sample in samples {
            let at: DateTime<Utc> = Timestamp(sample).into();
            let mut written = String::new();
            write_rfc3339(at, &mut written);
            assert_eq!(written, at.to_rfc3339(), "{sample}");
        }
    }
}
