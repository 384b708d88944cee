//! The GraphQL schema: one module per object, merged into one query root. `build_schema`
//! takes its dependencies as arguments; it never reads the environment or touches the database.

mod access;
pub mod bounded;
pub mod campaign;
pub mod campaign_rows;
pub mod compiled;
pub mod complete;
pub mod connection;
mod errors;
pub mod execute;
pub mod limits;
pub mod loader;
pub mod metrics;
pub mod metrics_history;
pub mod node;
pub mod overlap;
pub mod persisted;
pub mod results;
pub mod subscription;
pub mod variable_positions;
pub mod variables;

use std::sync::Arc;

use async_graphql::{Context, EmptyMutation, MergedObject, Schema};
use sea_orm::DatabaseConnection;

use crate::error::{ApiResult, Error};

pub use execute::Executor;
pub use limits::QueryLimits;

/// Codes of the connections, carried in every cursor so one connection's cursor is refused
/// by another.
pub mod connection_codes {
    pub const CAMPAIGNS: u8 = 1;
    pub const GENERATED_DOMAINS: u8 = 2;
    pub const DNS_VALIDATION_RESULTS: u8 = 3;
    pub const HTTP_KEYWORD_RESULTS: u8 = 4;
    pub const QUERY_PERFORMANCE_METRICS: u8 = 5;
    pub const CONNECTION_POOL_METRICS: u8 = 6;

    /// Query types (for metrics) of a connection's page and find queries.
    pub fn query_types(connection: u8) -> (&'static str, &'static str) {
        match connection {
            CAMPAIGNS => ("campaigns.page", "campaigns.find"),
            GENERATED_DOMAINS => ("generated_domains.page", "generated_domains.find"),
            DNS_VALIDATION_RESULTS => ("dns_validation_results.page", "dns_validation_results.find"),
            HTTP_KEYWORD_RESULTS => ("http_keyword_results.page", "http_keyword_results.find"),
            QUERY_PERFORMANCE_METRICS => ("query_performance_metrics.page", "query_performance_metrics.find"),
            CONNECTION_POOL_METRICS => ("connection_pool_metrics.page", "connection_pool_metrics.find"),
            _ => ("other.page", "other.find"),
        }
    }
}

/// The SQL of a statement with placeholders instead of values: safe to log.
pub fn sql_shape(statement: &sea_orm::sea_query::SelectStatement, backend: sea_orm::DbBackend) -> String {
    use sea_orm::sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};
    match backend {
        sea_orm::DbBackend::Sqlite => statement.build(SqliteQueryBuilder).0,
        _ => statement.build(PostgresQueryBuilder).0,
    }
}

/// Longest text a lookup argument (`domainName`, `queryType`) accepts; a domain name has at
/// most 253 bytes.
pub const MAX_LOOKUP_TEXT: usize = 1024;

/// Checks a text argument compared with a column: one that no stored value can equal (a NUL
/// character, which PostgreSQL text cannot hold, or more than [`MAX_LOOKUP_TEXT`] bytes) is
/// BAD_USER_INPUT here rather than an error or a wasted query in the database.
pub fn lookup_text<'a>(argument: &str, value: &'a str) -> Result<&'a str, Error> {
    if value.len() > MAX_LOOKUP_TEXT {
        return Err(Error::BadUserInput(format!(
            "`{argument}` is {} bytes long; at most {MAX_LOOKUP_TEXT} are accepted",
            value.len()
        )));
    }
    if value.contains('\0') {
        return Err(Error::BadUserInput(format!(
            "`{argument}` must not contain NUL characters"
        )));
    }
    Ok(value)
}

/// The query root.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(node::NodeQuery, campaign::CampaignQuery, metrics::MetricsQuery);

/// The executable schema.
pub type AppSchema = Schema<QueryRoot, EmptyMutation, subscription::SubscriptionRoot>;

/// Limits the schema enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Depth, complexity, aliases, root fields and query length of one request.
    pub query: QueryLimits,
    /// Whether `__schema` and `__type` are answered.
    pub introspection: bool,
}

/// What resolvers need, stored once in the schema's data.
pub struct ApiContext {
    pub db: DatabaseConnection,
    /// Every database call goes through it (gate, metrics, slow-query log).
    pub observer: crate::db::Observer,
    /// What `Query.metrics` needs beyond the recorders.
    pub monitor: metrics::MonitorContext,
    pub max_page_size: u32,
    /// Batches loads of rows by primary key (links between objects, `node`/`nodes`).
    pub loader: loader::AppLoader,
}

impl ApiContext {
    /// The context resolvers share (the schema's data, and the compiled page plans').
    pub fn new(
        db: DatabaseConnection,
        observer: crate::db::Observer,
        monitor: metrics::MonitorContext,
        max_page_size: u32,
    ) -> Arc<Self> {
        Arc::new(ApiContext {
            loader: loader::DbLoader::new_loader(db.clone(), observer.clone()),
            observer,
            monitor,
            db,
            max_page_size,
        })
    }

    /// The context of the running schema.
    pub fn get<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a ApiContext> {
        ctx.data::<Arc<ApiContext>>()
            .map(|api| api.as_ref())
            .map_err(|_| Error::Internal("schema built without ApiContext".to_owned()).into())
    }
}

/// Builds the schema around the resolvers' context (database, observer, loaders).
pub fn build_schema(api: Arc<ApiContext>, limits: Limits) -> AppSchema {
    let query = limits.query;
    let builder = Schema::build(QueryRoot::default(), EmptyMutation, subscription::SubscriptionRoot)
        .data(api)
        .limit_depth(query.max_depth)
        .limit_recursive_depth(query.max_nesting())
        .limit_complexity(query.max_complexity)
        .limit_directives(limits::MAX_DIRECTIVES_PER_FIELD);
    // No extensions: with any, async-graphql resolves every field through them. The query
    // limits and the error codes run around execution instead (`execute::Executor`).
    if limits.introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}

/// The schema's type system as async-graphql registers it (types, fields, arguments, input
/// fields, interfaces): what the server's own checks of a document (overlapping fields,
/// variable coercion, compiled plans) consult, so they can never disagree with the resolvers.
/// Introspection types (`__Schema`, …) are not in it; `__typename` is implicit.
pub fn schema_registry() -> async_graphql::registry::Registry {
    use async_graphql::IntrospectionMode;
    use async_graphql::OutputType;
    use async_graphql::registry::Registry;
    let mut registry = Registry {
        types: Default::default(),
        directives: Default::default(),
        implements: Default::default(),
        query_type: <QueryRoot as OutputType>::type_name().into_owned(),
        mutation_type: None,
        subscription_type: Some(
            <subscription::SubscriptionRoot as async_graphql::SubscriptionType>::type_name().into_owned(),
        ),
        introspection_mode: IntrospectionMode::Enabled,
        enable_federation: false,
        federation_subscription: false,
        ignore_name_conflicts: Default::default(),
        enable_suggestions: true,
    };
    <QueryRoot as OutputType>::create_type_info(&mut registry);
    <subscription::SubscriptionRoot as async_graphql::SubscriptionType>::create_type_info(&mut registry);
    registry
}

/// The schema's SDL, as committed in `schema.graphql`. Needs no database.
pub fn export_sdl() -> String {
    Schema::build(QueryRoot::default(), EmptyMutation, subscription::SubscriptionRoot)
        .finish()
        .sdl()
}
