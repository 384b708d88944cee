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
//! Same answers, byte for byte: a document is compiled only when everything in it is known to
//! be valid whatever the variables (known fields and arguments, literals of the right types,
//! variables declared with exactly the argument's type and used, no duplicate response keys,
//! no fragments or directives), and a request runs its plan only when every step succeeds —
//! variables coerce with async-graphql's own `InputType::parse`, the complexity with these
//! values is within the limit, the principal has the `read` scope, arguments validate and the
//! database answers. Anything else returns `None` and the request goes to the general
//! executor, which produces the error (so a failed request may run its database calls
//! twice; errors are the rare path). `tests/api/compiled.rs` checks the bytes against the
//! general executor for hundreds of generated queries on both backends.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, Field, OperationType, Selection, SelectionSet, Type,
};
use async_graphql::{ID, InputType, Name, Value, Variables};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::entity::{CampaignType, Timestamp, campaign, dns_validation_result, generated_domain, http_keyword_result};
use crate::pagination::{Cursor, Page, PageArgs};

use super::ApiContext;
use super::campaign_rows::{
    self, DnsValidationResultFilter, DnsValidationResultOrder, GeneratedDomainOrder, HttpKeywordResultFilter,
    HttpKeywordResultOrder, Parent,
};
use super::limits::{QueryLimits, connection_cost};
use super::node::{GlobalId, NodeType};

// ---------------------------------------------------------------------------------------------
// Plans

/// A compiled document: what to check and fetch, and what to write in which order.
#[derive(Debug)]
pub struct Plan {
    /// Name of the document's one operation (a request naming another one is not ours).
    operation_name: Option<Name>,
    /// True when the document's operation is anonymous (then no name may be requested).
    anonymous: bool,
    /// Declared variables that must be given and non-null.
    required_variables: Vec<Name>,
    /// `"key":` of the root field.
    key: String,
    root: Root,
    items: Vec<CampaignItem>,
    /// Length of the last answer (a capacity hint for the next one).
    answer_size: AtomicUsize,
}

/// An argument: absent, a literal, or a variable.
#[derive(Debug, Clone)]
enum Arg {
    Absent,
    Literal(Value),
    Variable(Name),
}

impl Arg {
    /// The argument's value for `variables`, as async-graphql hands it to `InputType::parse`.
    fn value(&self, variables: &Variables) -> Option<Value> {
        match self {
            Arg::Absent => None,
            Arg::Literal(value) => Some(value.clone()),
            Arg::Variable(name) => variables.get(name).cloned(),
        }
    }

    fn parse<T: InputType>(&self, variables: &Variables) -> Option<T> {
        T::parse(self.value(variables)).ok()
    }
}

#[derive(Debug)]
enum Root {
    /// `campaign(id: ID!)`
    ById(Arg),
    /// `campaignByDatabaseId(databaseId: UUID!)`
    ByDatabaseId(Arg),
}

#[derive(Debug, Clone, Copy)]
enum CampaignField {
    Typename,
    Id,
    DatabaseId,
    Name,
    CampaignType,
    Status,
    SourceCampaignDatabaseId,
    Description,
    TotalItems,
    ProcessedItems,
    ProgressPercent,
    ErrorMessage,
    StartedAt,
    CompletedAt,
    CreatedAt,
    UpdatedAt,
}

impl CampaignField {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "__typename" => Self::Typename,
            "id" => Self::Id,
            "databaseId" => Self::DatabaseId,
            "name" => Self::Name,
            "campaignType" => Self::CampaignType,
            "status" => Self::Status,
            "sourceCampaignDatabaseId" => Self::SourceCampaignDatabaseId,
            "description" => Self::Description,
            "totalItems" => Self::TotalItems,
            "processedItems" => Self::ProcessedItems,
            "progressPercent" => Self::ProgressPercent,
            "errorMessage" => Self::ErrorMessage,
            "startedAt" => Self::StartedAt,
            "completedAt" => Self::CompletedAt,
            "createdAt" => Self::CreatedAt,
            "updatedAt" => Self::UpdatedAt,
            _ => return None,
        })
    }
}

#[derive(Debug)]
enum CampaignItem {
    Field(String, CampaignField),
    GeneratedDomains(String, ConnectionPlan<generated_domain::Model>),
    DnsValidationResults(String, ConnectionPlan<dns_validation_result::Model>),
    HttpKeywordResults(String, ConnectionPlan<http_keyword_result::Model>),
}

/// One connection field of the campaign.
#[derive(Debug)]
struct ConnectionPlan<M: RowNode> {
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
    PageInfo(String, Vec<(String, PageInfoField)>),
    Edges(String, Vec<EdgeItem<F>>),
    Nodes(String, Vec<NodeItem<F>>),
}

#[derive(Debug, Clone, Copy)]
enum PageInfoField {
    Typename,
    HasNextPage,
    HasPreviousPage,
    StartCursor,
    EndCursor,
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

/// What the compiler learned about the operation's variables.
struct VariableUse {
    /// Declared: name, type name, non-null.
    declared: Vec<(Name, Name, bool)>,
    used: Vec<Name>,
}

/// The argument types a variable may be declared with, by argument.
#[derive(Clone, Copy)]
enum ArgType {
    Int,
    String,
    Id,
    Uuid,
    GeneratedDomainOrder,
    DnsValidationResultOrder,
    DnsValidationResultFilter,
    HttpKeywordResultOrder,
    HttpKeywordResultFilter,
}

impl ArgType {
    fn name(self) -> &'static str {
        match self {
            Self::Int => "Int",
            Self::String => "String",
            Self::Id => "ID",
            Self::Uuid => "UUID",
            Self::GeneratedDomainOrder => "GeneratedDomainOrder",
            Self::DnsValidationResultOrder => "DnsValidationResultOrder",
            Self::DnsValidationResultFilter => "DnsValidationResultFilter",
            Self::HttpKeywordResultOrder => "HttpKeywordResultOrder",
            Self::HttpKeywordResultFilter => "HttpKeywordResultFilter",
        }
    }

    /// The fields of an input object type and whether each may be null.
    fn input_fields(self) -> &'static [(&'static str, bool)] {
        match self {
            Self::GeneratedDomainOrder | Self::DnsValidationResultOrder | Self::HttpKeywordResultOrder => {
                &[("field", false), ("direction", false)]
            }
            Self::DnsValidationResultFilter => &[("validationStatus", true), ("businessStatus", true)],
            Self::HttpKeywordResultFilter => &[("validationStatus", true)],
            _ => &[],
        }
    }

    /// True when a literal `value` is valid for this type as written in a document (the
    /// GraphQL literal rules: enums as enum literals, never strings).
    fn literal_ok(self, value: &Value, nullable: bool) -> bool {
        match (self, value) {
            (_, Value::Null) => nullable,
            (Self::Int, Value::Number(n)) => n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
            (Self::String, Value::String(_)) => true,
            (Self::Id, Value::String(_)) => true,
            (Self::Id, Value::Number(n)) => n.is_i64() || n.is_u64(),
            (Self::Uuid, Value::String(s)) => Uuid::parse_str(s).is_ok(),
            (_, Value::Object(fields)) if !self.input_fields().is_empty() => {
                fields.iter().all(|(name, value)| {
                    self.input_fields()
                        .iter()
                        .find(|(known, _)| *known == name.as_str())
                        .is_some_and(|(_, nullable)| match value {
                            Value::Null => *nullable,
                            Value::Enum(_) => true,
                            _ => false,
                        })
                }) && self.parses(value)
            }
            _ => false,
        }
    }

    /// True when a variable's value has only known input fields, and null only where allowed
    /// (the checks async-graphql makes of a variable before `InputType::parse`).
    fn variable_ok(self, value: &Value) -> bool {
        let fields = self.input_fields();
        if fields.is_empty() {
            return true;
        }
        match value {
            Value::Null => true,
            Value::Object(object) => object.iter().all(|(name, value)| {
                fields
                    .iter()
                    .find(|(known, _)| *known == name.as_str())
                    .is_some_and(|(_, nullable)| match value {
                        Value::Null => *nullable,
                        Value::Enum(_) | Value::String(_) => true,
                        _ => false,
                    })
            }),
            _ => false,
        }
    }

    /// True when async-graphql's own parsing accepts `value` for this type.
    fn parses(self, value: &Value) -> bool {
        let value = Some(value.clone());
        match self {
            Self::Int => Option::<i32>::parse(value).is_ok(),
            Self::String => Option::<String>::parse(value).is_ok(),
            Self::Id => ID::parse(value).is_ok(),
            Self::Uuid => Uuid::parse(value).is_ok(),
            Self::GeneratedDomainOrder => Option::<GeneratedDomainOrder>::parse(value).is_ok(),
            Self::DnsValidationResultOrder => Option::<DnsValidationResultOrder>::parse(value).is_ok(),
            Self::DnsValidationResultFilter => Option::<DnsValidationResultFilter>::parse(value).is_ok(),
            Self::HttpKeywordResultOrder => Option::<HttpKeywordResultOrder>::parse(value).is_ok(),
            Self::HttpKeywordResultFilter => Option::<HttpKeywordResultFilter>::parse(value).is_ok(),
        }
    }
}

/// `"key":` of a field: its alias or its name (GraphQL names need no escaping).
fn response_key(field: &Field) -> String {
    let name = field.alias.as_ref().unwrap_or(&field.name);
    format!("\"{}\":", name.node)
}

/// The fields of a selection set, or None when it holds anything but plain fields without
/// directives, or two fields with one response key.
fn fields(set: &SelectionSet) -> Option<Vec<&Field>> {
    let mut fields = Vec::with_capacity(set.items.len());
    let mut keys: Vec<&str> = Vec::with_capacity(set.items.len());
    for item in &set.items {
        let Selection::Field(field) = &item.node else {
            return None;
        };
        let field = &field.node;
        let key = field.alias.as_ref().unwrap_or(&field.name).node.as_str();
        if !field.directives.is_empty() || keys.contains(&key) {
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

impl VariableUse {
    /// The argument `name` of `field` of type `ty` (nullable or not), or None when it is not
    /// valid whatever the variables are.
    fn arg(&mut self, field: &Field, name: &str, ty: ArgType, nullable: bool) -> Option<Arg> {
        let Some((_, value)) = field.arguments.iter().find(|(n, _)| n.node.as_str() == name) else {
            return nullable.then_some(Arg::Absent);
        };
        match &value.node {
            async_graphql_value::Value::Variable(var) => {
                let (_, declared, non_null) = self.declared.iter().find(|(n, _, _)| n == var)?;
                // The variable's type must be the argument's (non-null where it must be).
                if declared.as_str() != ty.name() || (!nullable && !non_null) {
                    return None;
                }
                self.used.push(var.clone());
                Some(Arg::Variable(var.clone()))
            }
            literal => {
                let value = literal.clone().into_const()?;
                ty.literal_ok(&value, nullable).then_some(Arg::Literal(value))
            }
        }
    }

    /// Checks the arguments of `field` are exactly among `known`, each once.
    fn only_args(field: &Field, known: &[&str]) -> bool {
        field.arguments.iter().enumerate().all(|(i, (name, _))| {
            known.contains(&name.node.as_str()) && !field.arguments[..i].iter().any(|(n, _)| n.node == name.node)
        })
    }
}

/// Compiles `document` into a plan, or None when the general executor must answer it.
/// `limits` are the executor's (fixed for its life); the depth checked here is conservative.
pub fn compile(document: &ExecutableDocument, limits: &QueryLimits) -> Option<Plan> {
    if !document.fragments.is_empty() {
        return None;
    }
    let (operation_name, anonymous, operation) = match &document.operations {
        DocumentOperations::Single(operation) => (None, true, &operation.node),
        DocumentOperations::Multiple(operations) if operations.len() == 1 => {
            let (name, operation) = operations.iter().next()?;
            (Some(name.clone()), false, &operation.node)
        }
        DocumentOperations::Multiple(_) => return None,
    };
    if operation.ty != OperationType::Query || !operation.directives.is_empty() {
        return None;
    }
    let mut variables = VariableUse {
        declared: Vec::new(),
        used: Vec::new(),
    };
    let mut required_variables = Vec::new();
    for definition in &operation.variable_definitions {
        let definition = &definition.node;
        let Type {
            base: BaseType::Named(type_name),
            nullable,
        } = &definition.var_type.node
        else {
            return None;
        };
        let name = definition.name.node.clone();
        if definition.default_value.is_some()
            || !definition.directives.is_empty()
            || variables.declared.iter().any(|(n, _, _)| *n == name)
        {
            return None;
        }
        if !nullable {
            required_variables.push(name.clone());
        }
        variables.declared.push((name, type_name.clone(), !nullable));
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
    let root_arg = match root.name.node.as_str() {
        "campaign" if VariableUse::only_args(root, &["id"]) => {
            Root::ById(variables.arg(root, "id", ArgType::Id, false)?)
        }
        "campaignByDatabaseId" if VariableUse::only_args(root, &["databaseId"]) => {
            Root::ByDatabaseId(variables.arg(root, "databaseId", ArgType::Uuid, false)?)
        }
        _ => return None,
    };
    if root.selection_set.node.items.is_empty() {
        return None;
    }
    let mut items = Vec::new();
    for field in fields(&root.selection_set.node)? {
        let key = response_key(field);
        let item = match field.name.node.as_str() {
            "generatedDomains" => CampaignItem::GeneratedDomains(
                key,
                connection(field, &mut variables, ArgType::GeneratedDomainOrder, None)?,
            ),
            "dnsValidationResults" => CampaignItem::DnsValidationResults(
                key,
                connection(
                    field,
                    &mut variables,
                    ArgType::DnsValidationResultOrder,
                    Some(ArgType::DnsValidationResultFilter),
                )?,
            ),
            "httpKeywordResults" => CampaignItem::HttpKeywordResults(
                key,
                connection(
                    field,
                    &mut variables,
                    ArgType::HttpKeywordResultOrder,
                    Some(ArgType::HttpKeywordResultFilter),
                )?,
            ),
            name if leaf(field) => CampaignItem::Field(key, CampaignField::named(name)?),
            _ => return None,
        };
        items.push(item);
    }
    // Every declared variable is used (GraphQL's NoUnusedVariables).
    if !variables
        .declared
        .iter()
        .all(|(name, _, _)| variables.used.contains(name))
    {
        return None;
    }
    Some(Plan {
        operation_name,
        anonymous,
        required_variables,
        key: response_key(root),
        root: root_arg,
        items,
        answer_size: AtomicUsize::new(16 * 1024),
    })
}

fn connection<M: RowNode>(
    field: &Field,
    variables: &mut VariableUse,
    order: ArgType,
    filter: Option<ArgType>,
) -> Option<ConnectionPlan<M>> {
    let known: &[&str] = if filter.is_some() {
        &["first", "after", "last", "before", "orderBy", "filter"]
    } else {
        &["first", "after", "last", "before", "orderBy"]
    };
    if !VariableUse::only_args(field, known) || field.selection_set.node.items.is_empty() {
        return None;
    }
    let plan_filter = match filter {
        Some(ty) => variables.arg(field, "filter", ty, true)?,
        None => Arg::Absent,
    };
    let mut plan = ConnectionPlan {
        first: variables.arg(field, "first", ArgType::Int, true)?,
        after: variables.arg(field, "after", ArgType::String, true)?,
        last: variables.arg(field, "last", ArgType::Int, true)?,
        before: variables.arg(field, "before", ArgType::String, true)?,
        order_by: variables.arg(field, "orderBy", order, true)?,
        filter: plan_filter,
        child_complexity: 0,
        items: Vec::new(),
    };
    // async-graphql's complexity: 1 per field plus its children's (connections use
    // `connection_cost` at run time, with the page size).
    let mut complexity = 0usize;
    for item in fields(&field.selection_set.node)? {
        let key = response_key(item);
        let compiled = match item.name.node.as_str() {
            "__typename" if leaf(item) => {
                complexity += 1;
                ConnectionItem::Typename(key)
            }
            "totalCount" if leaf(item) => {
                complexity += 1;
                ConnectionItem::TotalCount(key)
            }
            "pageInfo" if object(item) => {
                let mut page_info = Vec::new();
                for info in fields(&item.selection_set.node)? {
                    if !leaf(info) {
                        return None;
                    }
                    let field = match info.name.node.as_str() {
                        "__typename" => PageInfoField::Typename,
                        "hasNextPage" => PageInfoField::HasNextPage,
                        "hasPreviousPage" => PageInfoField::HasPreviousPage,
                        "startCursor" => PageInfoField::StartCursor,
                        "endCursor" => PageInfoField::EndCursor,
                        _ => return None,
                    };
                    page_info.push((response_key(info), field));
                }
                complexity += 1 + page_info.len();
                ConnectionItem::PageInfo(key, page_info)
            }
            "edges" if object(item) => {
                let mut edge = Vec::new();
                complexity += 1;
                for part in fields(&item.selection_set.node)? {
                    let part_key = response_key(part);
                    match part.name.node.as_str() {
                        "__typename" if leaf(part) => edge.push(EdgeItem::Typename(part_key)),
                        "cursor" if leaf(part) => edge.push(EdgeItem::Cursor(part_key)),
                        "node" if object(part) => {
                            let node = node_items::<M>(part)?;
                            complexity += node.len();
                            edge.push(EdgeItem::Node(part_key, node));
                        }
                        _ => return None,
                    }
                    complexity += 1;
                }
                ConnectionItem::Edges(key, edge)
            }
            "nodes" if object(item) => {
                let node = node_items::<M>(item)?;
                complexity += 1 + node.len();
                ConnectionItem::Nodes(key, node)
            }
            _ => return None,
        };
        plan.items.push(compiled);
    }
    plan.child_complexity = complexity;
    Some(plan)
}

fn node_items<M: RowNode>(field: &Field) -> Option<Vec<NodeItem<M::Field>>> {
    fields(&field.selection_set.node)?
        .into_iter()
        .map(|item| {
            if !leaf(item) {
                return None;
            }
            let key = response_key(item);
            match item.name.node.as_str() {
                "__typename" => Some(NodeItem::Typename(key)),
                name => M::field(name).map(|field| NodeItem::Field(key, field)),
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
    /// The node's fields, as the compiler resolves them by name.
    type Field: Copy + std::fmt::Debug + Send + Sync;
    /// GraphQL type names: connection, edge, node.
    const TYPENAMES: (&'static str, &'static str, &'static str);
    fn field(name: &str) -> Option<Self::Field>;
    fn write(&self, field: Self::Field, out: &mut Out);
}

macro_rules! node_fields {
    ($enum:ident { $($variant:ident = $name:literal),* $(,)? }) => {
        #[derive(Debug, Clone, Copy)]
        enum $enum { $($variant),* }

        impl $enum {
            fn named(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

node_fields!(GeneratedField {
    Id = "id",
    DatabaseId = "databaseId",
    CampaignDatabaseId = "campaignDatabaseId",
    DomainName = "domainName",
    OffsetIndex = "offsetIndex",
    Tld = "tld",
    SourceKeyword = "sourceKeyword",
    SourcePattern = "sourcePattern",
    GeneratedAt = "generatedAt",
    CreatedAt = "createdAt",
});

impl RowNode for generated_domain::Model {
    type Field = GeneratedField;
    const TYPENAMES: (&'static str, &'static str, &'static str) =
        ("GeneratedDomainConnection", "GeneratedDomainEdge", "GeneratedDomain");

    fn field(name: &str) -> Option<GeneratedField> {
        GeneratedField::named(name)
    }

    fn write(&self, field: GeneratedField, out: &mut Out) {
        match field {
            GeneratedField::Id => {
                out.str(&GlobalId::row(NodeType::GeneratedDomain, self.domain_generation_campaign_id, self.id).encode())
            }
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

node_fields!(DnsField {
    Id = "id",
    DatabaseId = "databaseId",
    CampaignDatabaseId = "campaignDatabaseId",
    GeneratedDomainDatabaseId = "generatedDomainDatabaseId",
    DomainName = "domainName",
    ValidationStatus = "validationStatus",
    BusinessStatus = "businessStatus",
    DnsRecords = "dnsRecords",
    Attempts = "attempts",
    LastCheckedAt = "lastCheckedAt",
    CreatedAt = "createdAt",
});

impl RowNode for dns_validation_result::Model {
    type Field = DnsField;
    const TYPENAMES: (&'static str, &'static str, &'static str) = (
        "DnsValidationResultConnection",
        "DnsValidationResultEdge",
        "DnsValidationResult",
    );

    fn field(name: &str) -> Option<DnsField> {
        DnsField::named(name)
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

node_fields!(HttpField {
    Id = "id",
    DatabaseId = "databaseId",
    CampaignDatabaseId = "campaignDatabaseId",
    DnsResultDatabaseId = "dnsResultDatabaseId",
    DomainName = "domainName",
    ValidationStatus = "validationStatus",
    HttpStatusCode = "httpStatusCode",
    PageTitle = "pageTitle",
    ContentSnippet = "contentSnippet",
    FoundKeywords = "foundKeywords",
    ContentHash = "contentHash",
    Attempts = "attempts",
    LastCheckedAt = "lastCheckedAt",
    CreatedAt = "createdAt",
});

impl RowNode for http_keyword_result::Model {
    type Field = HttpField;
    const TYPENAMES: (&'static str, &'static str, &'static str) = (
        "HttpKeywordResultConnection",
        "HttpKeywordResultEdge",
        "HttpKeywordResult",
    );

    fn field(name: &str) -> Option<HttpField> {
        HttpField::named(name)
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

/// A connection's page once fetched.
struct Fetched<M> {
    page: Page<M>,
}

impl<M: RowNode> ConnectionPlan<M> {
    fn page_args(&self, variables: &Variables) -> Option<PageArgs> {
        Some(PageArgs {
            first: self.first.parse(variables)?,
            after: self.after.parse(variables)?,
            last: self.last.parse(variables)?,
            before: self.before.parse(variables)?,
        })
    }

    fn complexity(&self, variables: &Variables) -> Option<usize> {
        let first: Option<i32> = self.first.parse(variables)?;
        let last: Option<i32> = self.last.parse(variables)?;
        Some(connection_cost(first, last, self.child_complexity))
    }

    fn wants_total(&self) -> bool {
        self.items
            .iter()
            .any(|item| matches!(item, ConnectionItem::TotalCount(_)))
    }

    fn write(&self, fetched: &Fetched<M>, out: &mut Out) {
        let page = &fetched.page;
        let (connection_type, edge_type, node_type) = M::TYPENAMES;
        out.raw("{");
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                out.raw(",");
            }
            match item {
                ConnectionItem::Typename(key) => {
                    out.raw(key);
                    out.str(connection_type);
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
                            PageInfoField::Typename => out.str("PageInfo"),
                            PageInfoField::HasNextPage => out.bool(page.has_next_page),
                            PageInfoField::HasPreviousPage => out.bool(page.has_previous_page),
                            PageInfoField::StartCursor => match page.rows.first() {
                                Some((_, cursor)) => out.cursor(cursor),
                                None => out.raw("null"),
                            },
                            PageInfoField::EndCursor => match page.rows.last() {
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
                                    out.str(edge_type);
                                }
                                EdgeItem::Cursor(key) => {
                                    out.raw(key);
                                    out.cursor(cursor);
                                }
                                EdgeItem::Node(key, fields) => {
                                    out.raw(key);
                                    write_node(model, fields, node_type, out);
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
                        write_node(model, fields, node_type, out);
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
        CampaignField::Typename => out.str("Campaign"),
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

/// A fetched connection of the campaign, in the plan's order.
enum FetchedItem {
    Generated(Fetched<generated_domain::Model>),
    Dns(Fetched<dns_validation_result::Model>),
    Http(Fetched<http_keyword_result::Model>),
    None,
}

impl FetchedItem {
    /// The page's guard (the campaign's type), when the page was fetched with one.
    fn guard(&self) -> Option<&str> {
        match self {
            FetchedItem::Generated(fetched) => fetched.page.guard.as_deref(),
            FetchedItem::Dns(fetched) => fetched.page.guard.as_deref(),
            FetchedItem::Http(fetched) => fetched.page.guard.as_deref(),
            FetchedItem::None => None,
        }
    }
}

impl CampaignItem {
    /// The campaign type whose rows a connection item holds.
    fn campaign_type(&self) -> Option<CampaignType> {
        match self {
            CampaignItem::Field(..) => None,
            CampaignItem::GeneratedDomains(..) => Some(CampaignType::DomainGeneration),
            CampaignItem::DnsValidationResults(..) => Some(CampaignType::DnsValidation),
            CampaignItem::HttpKeywordResults(..) => Some(CampaignType::HttpKeywordValidation),
        }
    }
}

/// Fetches the page of one connection item of `parent`; with `guarded`, the statement also
/// reads the campaign's type ([`campaign_rows::campaign_type_guard`]).
async fn fetch(
    api: &ApiContext,
    item: &CampaignItem,
    parent: Parent,
    guarded: bool,
    variables: &Variables,
) -> Option<FetchedItem> {
    let guard = || guarded.then(|| campaign_rows::campaign_type_guard(parent.id));
    Some(match item {
        CampaignItem::Field(..) => FetchedItem::None,
        CampaignItem::GeneratedDomains(_, plan) => {
            let order = plan.order_by.parse::<Option<GeneratedDomainOrder>>(variables)?;
            let mut request = campaign_rows::generated_domains(parent, order.unwrap_or_default(), plan.wants_total());
            request.guard = guard();
            let page = request.fetch_in(api, plan.page_args(variables)?).await.ok()?;
            FetchedItem::Generated(Fetched { page })
        }
        CampaignItem::DnsValidationResults(_, plan) => {
            let order = plan.order_by.parse::<Option<DnsValidationResultOrder>>(variables)?;
            let filter = plan.filter.parse::<Option<DnsValidationResultFilter>>(variables)?;
            let mut request = campaign_rows::dns_validation_results(
                parent,
                order.unwrap_or_default(),
                &filter.unwrap_or_default(),
                plan.wants_total(),
            );
            request.guard = guard();
            let page = request.fetch_in(api, plan.page_args(variables)?).await.ok()?;
            FetchedItem::Dns(Fetched { page })
        }
        CampaignItem::HttpKeywordResults(_, plan) => {
            let order = plan.order_by.parse::<Option<HttpKeywordResultOrder>>(variables)?;
            let filter = plan.filter.parse::<Option<HttpKeywordResultFilter>>(variables)?;
            let mut request = campaign_rows::http_keyword_results(
                parent,
                order.unwrap_or_default(),
                filter.unwrap_or_default(),
                plan.wants_total(),
            );
            request.guard = guard();
            let page = request.fetch_in(api, plan.page_args(variables)?).await.ok()?;
            FetchedItem::Http(Fetched { page })
        }
    })
}

impl Plan {
    /// Runs the plan for `operation_name` and `variables`: the response's JSON, or None when
    /// the general executor must answer (see the module docs).
    pub async fn run(
        &self,
        api: &ApiContext,
        limits: &QueryLimits,
        operation_name: Option<&str>,
        variables: &Variables,
    ) -> Option<String> {
        match (operation_name, &self.operation_name) {
            (None, _) => {}
            (Some(requested), Some(name)) if !self.anonymous && requested == name.as_str() => {}
            _ => return None,
        }
        for name in &self.required_variables {
            if variables.get(name).is_none_or(|value| *value == Value::Null) {
                return None;
            }
        }
        if !self.variables_ok(variables) {
            return None;
        }
        // The complexity with these variables, as async-graphql computes it.
        let mut complexity = 1usize;
        for item in &self.items {
            complexity = complexity.saturating_add(match item {
                CampaignItem::Field(..) => 1,
                CampaignItem::GeneratedDomains(_, plan) => plan.complexity(variables)?,
                CampaignItem::DnsValidationResults(_, plan) => plan.complexity(variables)?,
                CampaignItem::HttpKeywordResults(_, plan) => plan.complexity(variables)?,
            });
        }
        if complexity > limits.max_complexity {
            return None;
        }
        let campaign_id = match &self.root {
            Root::ById(arg) => {
                let id: ID = arg.parse(variables)?;
                GlobalId::decode_as(&id, NodeType::Campaign).ok()?.id
            }
            Root::ByDatabaseId(arg) => arg.parse::<Uuid>(variables)?,
        };
        // Sized from the plan's previous answer, so the buffer rarely grows (and copies).
        let mut out = Out(String::with_capacity(
            self.answer_size.load(Ordering::Relaxed).clamp(1024, 1 << 20) + 512,
        ));
        out.raw("{\"data\":{");
        out.raw(&self.key);
        // A plan selecting one connection and nothing else of the campaign needs only to know
        // the campaign exists and has that connection's type: the page statement tells that
        // itself (a guard column), saving a round trip. Otherwise the campaign is loaded first.
        let (campaign, fetched) = match self.items.as_slice() {
            [item] if !matches!(item, CampaignItem::Field(..)) => {
                let expected = item.campaign_type()?;
                let parent = Parent {
                    id: campaign_id,
                    campaign_type: expected,
                };
                let fetched = fetch(api, item, parent, true, variables).await?;
                let found = match fetched.guard() {
                    None => {
                        out.raw("null}}");
                        return Some(out.0);
                    }
                    Some(found) => <CampaignType as sea_orm::ActiveEnum>::try_from_value(&found.to_owned()).ok()?,
                };
                if found == expected {
                    (None, vec![fetched])
                } else {
                    // A campaign of another type: its connection is empty (no SQL runs for it).
                    let parent = Parent {
                        id: campaign_id,
                        campaign_type: found,
                    };
                    (None, vec![fetch(api, item, parent, false, variables).await?])
                }
            }
            _ => {
                let Some(campaign) = super::campaign::load_campaign(api, campaign_id).await.ok()? else {
                    out.raw("null}}");
                    return Some(out.0);
                };
                let mut fetched = Vec::with_capacity(self.items.len());
                for item in &self.items {
                    fetched.push(fetch(api, item, Parent::from(&campaign), false, variables).await?);
                }
                (Some(campaign), fetched)
            }
        };
        out.raw("{");
        for (i, (item, fetched)) in self.items.iter().zip(&fetched).enumerate() {
            if i > 0 {
                out.raw(",");
            }
            match (item, fetched) {
                (CampaignItem::Field(key, field), _) => {
                    out.raw(key);
                    write_campaign_field(campaign.as_ref()?, *field, &mut out);
                }
                (CampaignItem::GeneratedDomains(key, plan), FetchedItem::Generated(page)) => {
                    out.raw(key);
                    plan.write(page, &mut out);
                }
                (CampaignItem::DnsValidationResults(key, plan), FetchedItem::Dns(page)) => {
                    out.raw(key);
                    plan.write(page, &mut out);
                }
                (CampaignItem::HttpKeywordResults(key, plan), FetchedItem::Http(page)) => {
                    out.raw(key);
                    plan.write(page, &mut out);
                }
                _ => return None,
            }
        }
        out.raw("}}}");
        self.answer_size.store(out.0.len(), Ordering::Relaxed);
        Some(out.0)
    }

    /// Object-typed variables hold only known fields (null only where allowed).
    fn variables_ok(&self, variables: &Variables) -> bool {
        let check = |arg: &Arg, ty: ArgType| match arg {
            Arg::Variable(name) => variables.get(name).is_none_or(|value| ty.variable_ok(value)),
            _ => true,
        };
        self.items.iter().all(|item| match item {
            CampaignItem::Field(..) => true,
            CampaignItem::GeneratedDomains(_, plan) => check(&plan.order_by, ArgType::GeneratedDomainOrder),
            CampaignItem::DnsValidationResults(_, plan) => {
                check(&plan.order_by, ArgType::DnsValidationResultOrder)
                    && check(&plan.filter, ArgType::DnsValidationResultFilter)
            }
            CampaignItem::HttpKeywordResults(_, plan) => {
                check(&plan.order_by, ArgType::HttpKeywordResultOrder)
                    && check(&plan.filter, ArgType::HttpKeywordResultFilter)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

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
