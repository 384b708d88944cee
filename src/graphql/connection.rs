//! The Relay connection shapes shared by every connection: `edges { cursor node }`, `nodes`,
//! `pageInfo` and `totalCount`, built from a keyset [`Page`].
//! Spec: <https://relay.dev/graphql/connections.htm>

use async_graphql::{ComplexObject, Context, SimpleObject};
use sea_orm::sea_query::Expr;
use sea_orm::{Condition, EntityTrait, QueryFilter, QueryTrait};
use uuid::Uuid;

use crate::error::{ApiResult, Error};
use crate::pagination::{
    Cursor, CursorScope, Direction, KeysetQuery, Page, PageArgs, Position, SortKind, fetch_page, page_statement,
};

use super::ApiContext;

use super::campaign::Campaign;
use super::metrics_history::{ConnectionPoolMetric, QueryPerformanceMetric};
use super::results::{DnsValidationResult, GeneratedDomain, HttpKeywordResult};

/// Information about pagination in a connection (Relay `PageInfo`).
#[derive(Debug, Clone, SimpleObject)]
pub struct PageInfo {
    /// True when more rows follow this page in the connection's order (exact, never a guess).
    pub has_next_page: bool,
    /// True when rows precede this page in the connection's order (exact, never a guess).
    pub has_previous_page: bool,
    /// Cursor of the first edge; null on an empty page.
    pub start_cursor: Option<String>,
    /// Cursor of the last edge; null on an empty page.
    pub end_cursor: Option<String>,
}

/// Defines the connection and edge types of one node type. A macro rather than a generic
/// struct because async-graphql only implements `OutputType` for concrete instantiations.
macro_rules! connection_types {
    ($connection:ident, $edge:ident, $node:ty, $what:literal) => {
        #[doc = concat!("An edge in a connection of ", $what, ".")]
        #[derive(Debug, Clone, SimpleObject)]
        pub struct $edge {
            /// Opaque cursor of this row: pass it as `after` or `before` to page from here.
            pub cursor: String,
            /// The row at the end of the edge.
            pub node: $node,
        }

        #[doc = concat!("A page of ", $what, ", with cursors, page info and the exact total.")]
        #[derive(Debug, Clone, SimpleObject)]
        #[graphql(complex)]
        pub struct $connection {
            /// The page's edges, in the connection's order.
            pub edges: Vec<$edge>,
            /// Where this page lies in the connection.
            pub page_info: PageInfo,
            #[graphql(skip)]
            pub total: Option<i64>,
        }

        #[ComplexObject]
        impl $connection {
            /// The page's nodes, in the connection's order (the edges without cursors).
            async fn nodes(&self) -> Vec<&$node> {
                // The edges' nodes, borrowed: each row is built once, whichever is selected.
                self.edges.iter().map(|edge| &edge.node).collect()
            }

            /// Exact number of rows in the connection with its filter (ignoring
            /// first/last/after/before). Read from counts the database maintains, so it costs
            /// the same at any size.
            async fn total_count(&self) -> ApiResult<i64> {
                self.total
                    .ok_or_else(|| Error::Internal("totalCount was selected but not computed".to_owned()).into())
            }
        }

        impl $connection {
            /// Builds the connection from a page, converting each row into its node.
            pub fn from_page<M>(page: Page<M>, mut node: impl FnMut(M) -> $node) -> Self {
                let edges: Vec<$edge> = page
                    .rows
                    .into_iter()
                    .map(|(model, cursor)| $edge {
                        cursor: cursor.encode(),
                        node: node(model),
                    })
                    .collect();
                let page_info = PageInfo {
                    has_next_page: page.has_next_page,
                    has_previous_page: page.has_previous_page,
                    start_cursor: edges.first().map(|e| e.cursor.clone()),
                    end_cursor: edges.last().map(|e| e.cursor.clone()),
                };
                Self {
                    edges,
                    page_info,
                    total: page.total_count,
                }
            }
        }
    };
}

connection_types!(CampaignConnection, CampaignEdge, Campaign, "campaigns");
connection_types!(
    GeneratedDomainConnection,
    GeneratedDomainEdge,
    GeneratedDomain,
    "generated domains"
);
connection_types!(
    DnsValidationResultConnection,
    DnsValidationResultEdge,
    DnsValidationResult,
    "DNS validation results"
);
connection_types!(
    HttpKeywordResultConnection,
    HttpKeywordResultEdge,
    HttpKeywordResult,
    "HTTP keyword results"
);
connection_types!(
    QueryPerformanceMetricConnection,
    QueryPerformanceMetricEdge,
    QueryPerformanceMetric,
    "persisted query metrics"
);
connection_types!(
    ConnectionPoolMetricConnection,
    ConnectionPoolMetricEdge,
    ConnectionPoolMetric,
    "persisted pool metrics"
);

/// Whether the client selected `totalCount` on the connection being resolved.
pub fn wants_total(ctx: &Context<'_>) -> bool {
    ctx.look_ahead().field("totalCount").exists()
}

/// One ordering field of a table's connection, described as data for the keyset engine.
pub trait OrderField<E: EntityTrait>: Copy {
    /// Code carried in cursors (distinct per field within a connection).
    fn code(self) -> u8;
    /// The column rows are sorted by.
    fn column(self) -> E::Column;
    /// What the column holds.
    fn kind(self) -> SortKind;
    /// Reads a row's position for its cursor.
    fn position(self) -> Position<E::Model>;
    /// True when the column alone orders the connection totally (no id tiebreaker needed).
    fn unique(self) -> bool {
        false
    }
}

/// One connection request of one table, minus the page arguments.
pub struct ConnectionRequest<E: EntityTrait, O> {
    /// Connection code (see `connection_codes`).
    pub connection: u8,
    /// The campaign the connection hangs off; nil for root connections.
    pub parent: Uuid,
    /// Ordering field and direction.
    pub order: O,
    pub direction: Direction,
    /// Hash of the canonical filter (cursors remember it).
    pub filter_hash: u64,
    /// The connection's rows as a WHERE condition (campaign column first, then the filter).
    pub condition: Condition,
    /// The table's id column (the tiebreaker).
    pub id_column: E::Column,
    /// totalCount expression, when selected.
    pub total: Option<Expr>,
    /// An extra scalar the page statement carries (see [`KeysetQuery::guard`]).
    pub guard: Option<Expr>,
    /// False when the connection cannot hold rows (it does not match the campaign's type):
    /// the page is empty and no SQL runs. Arguments are still validated.
    pub applicable: bool,
}

impl<E: EntityTrait, O: OrderField<E>> ConnectionRequest<E, O> {
    /// The scope cursors of this request carry.
    pub fn scope(&self) -> CursorScope {
        CursorScope {
            connection: self.connection,
            parent: self.parent,
            ordering: self.order.code(),
            direction: self.direction,
            filter_hash: self.filter_hash,
        }
    }

    /// The request as the keyset engine's query.
    pub fn keyset(self) -> KeysetQuery<E> {
        KeysetQuery {
            scope: self.scope(),
            sort_column: self.order.column(),
            sort_kind: self.order.kind(),
            id_column: (!self.order.unique()).then_some(self.id_column),
            position: self.order.position(),
            condition: self.condition,
            total: self.total,
            guard: self.guard,
        }
    }

    /// Validates `args` and fetches the page.
    pub async fn fetch(self, ctx: &Context<'_>, args: PageArgs) -> ApiResult<Page<E::Model>>
    where
        E::Model: crate::entity::DecodeRow,
    {
        self.fetch_in(ApiContext::get(ctx)?, args).await.map_err(Into::into)
    }

    /// [`ConnectionRequest::fetch`] outside a resolver.
    pub async fn fetch_in(self, api: &ApiContext, args: PageArgs) -> crate::error::Result<Page<E::Model>>
    where
        E::Model: crate::entity::DecodeRow,
    {
        let window = self.window(api, &args)?;
        self.fetch_window(api, &window).await
    }

    /// Validates `args` for this request (sizes, cursors): no database work, so compiled page
    /// plans check every argument before they start any.
    pub fn window(&self, api: &ApiContext, args: &PageArgs) -> crate::error::Result<crate::pagination::PageWindow> {
        args.validate(api.max_page_size, &self.scope(), self.order.kind())
    }

    /// Fetches the page of a validated `window`.
    pub async fn fetch_window(
        self,
        api: &ApiContext,
        window: &crate::pagination::PageWindow,
    ) -> crate::error::Result<Page<E::Model>>
    where
        E::Model: crate::entity::DecodeRow,
    {
        if !self.applicable {
            return Ok(Page {
                rows: Vec::new(),
                has_previous_page: false,
                has_next_page: false,
                total_count: Some(0),
                guard: None,
            });
        }
        observed_page(&api.db, &api.observer, &self.keyset(), window).await
    }

    /// The row of the connection matching `lookup` (one index lookup), with its cursor for
    /// this ordering — pass it as `after`/`before` to page on from there.
    pub async fn find(self, ctx: &Context<'_>, lookup: Condition) -> ApiResult<Option<(E::Model, Cursor)>>
    where
        E::Model: crate::entity::DecodeRow,
    {
        if !self.applicable {
            return Ok(None);
        }
        let api = ApiContext::get(ctx)?;
        let query = self.keyset();
        let (_, query_type) = super::connection_codes::query_types(query.scope.connection);
        let select = E::find().filter(query.condition.clone()).filter(lookup);
        let backend = api.db.get_database_backend();
        let found = api
            .observer
            .run(
                query_type,
                |found: &Option<E::Model>| u64::from(found.is_some()),
                || super::sql_shape(&select.clone().into_query(), backend),
                || async { Ok(select.clone().one(&api.db).await?) },
            )
            .await?;
        Ok(found.map(|model| {
            let (value, id) = (query.position)(&model);
            let cursor = Cursor {
                scope: query.scope,
                value,
                id,
            };
            (model, cursor)
        }))
    }
}

/// One page of `query` through the observer (gate, metrics, slow-query log): the one way a
/// connection page is fetched, by GraphQL and by `/export`.
pub async fn observed_page<E>(
    db: &sea_orm::DatabaseConnection,
    observer: &crate::db::Observer,
    query: &KeysetQuery<E>,
    window: &crate::pagination::PageWindow,
) -> crate::error::Result<Page<E::Model>>
where
    E: EntityTrait,
    E::Model: crate::entity::DecodeRow,
{
    let (query_type, _) = super::connection_codes::query_types(query.scope.connection);
    let backend = db.get_database_backend();
    observer
        .run(
            query_type,
            |page: &Page<E::Model>| page.rows.len() as u64,
            || page_statement(query, window, backend).build(backend).0,
            || fetch_page(db, query, window),
        )
        .await
}
