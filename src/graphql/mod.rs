//! The GraphQL schema: one module per object, merged into one query root. `build_schema`
//! takes its dependencies as arguments; it never reads the environment or touches the database.

pub mod campaign;
pub mod campaign_rows;
pub mod connection;
mod errors;
pub mod loader;
pub mod node;
pub mod results;

use async_graphql::{Context, EmptyMutation, EmptySubscription, MergedObject, Schema};
use sea_orm::DatabaseConnection;

use crate::error::{ApiResult, Error};

pub use errors::ErrorCodes;

/// Codes of the connections, carried in every cursor so one connection's cursor is refused
/// by another.
pub mod connection_codes {
    pub const CAMPAIGNS: u8 = 1;
    pub const GENERATED_DOMAINS: u8 = 2;
    pub const DNS_VALIDATION_RESULTS: u8 = 3;
    pub const HTTP_KEYWORD_RESULTS: u8 = 4;
}

/// The query root.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(node::NodeQuery, campaign::CampaignQuery);

/// The executable schema.
pub type AppSchema = Schema<QueryRoot, EmptyMutation, EmptySubscription>;

/// Limits the schema enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest `first`/`last` a connection accepts.
    pub max_page_size: u32,
}

/// What resolvers need, stored once in the schema's data.
pub struct ApiContext {
    pub db: DatabaseConnection,
    pub max_page_size: u32,
    /// Batches loads of rows by primary key (links between objects, `node`/`nodes`).
    pub loader: loader::AppLoader,
}

impl ApiContext {
    /// The context of the running schema.
    pub fn get<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a ApiContext> {
        ctx.data::<ApiContext>()
            .map_err(|_| Error::Internal("schema built without ApiContext".to_owned()).into())
    }
}

/// Builds the schema around an open database connection.
pub fn build_schema(db: DatabaseConnection, limits: Limits) -> AppSchema {
    Schema::build(QueryRoot::default(), EmptyMutation, EmptySubscription)
        .data(ApiContext {
            loader: loader::DbLoader::new_loader(db.clone()),
            db,
            max_page_size: limits.max_page_size,
        })
        .extension(ErrorCodes)
        .finish()
}

/// The schema's SDL, as committed in `schema.graphql`. Needs no database.
pub fn export_sdl() -> String {
    Schema::build(QueryRoot::default(), EmptyMutation, EmptySubscription)
        .finish()
        .sdl()
}
