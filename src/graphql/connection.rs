//! The Relay connection shapes shared by every connection: `edges { cursor node }`, `nodes`,
//! `pageInfo` and `totalCount`, built from a keyset [`Page`].
//! Spec: <https://relay.dev/graphql/connections.htm>

use async_graphql::{ComplexObject, Context, SimpleObject};

use crate::error::{ApiResult, Error};
use crate::pagination::Page;

use super::campaign::Campaign;
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
            /// The page's nodes, in the connection's order (the edges without cursors).
            pub nodes: Vec<$node>,
            /// Where this page lies in the connection.
            pub page_info: PageInfo,
            #[graphql(skip)]
            pub total: Option<i64>,
        }

        #[ComplexObject]
        impl $connection {
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
                let mut edges = Vec::with_capacity(page.rows.len());
                let mut nodes = Vec::with_capacity(page.rows.len());
                for (model, cursor) in page.rows {
                    let n = node(model);
                    nodes.push(n.clone());
                    edges.push($edge {
                        cursor: cursor.encode(),
                        node: n,
                    });
                }
                let page_info = PageInfo {
                    has_next_page: page.has_next_page,
                    has_previous_page: page.has_previous_page,
                    start_cursor: edges.first().map(|e| e.cursor.clone()),
                    end_cursor: edges.last().map(|e| e.cursor.clone()),
                };
                Self {
                    edges,
                    nodes,
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

/// Whether the client selected `totalCount` on the connection being resolved.
pub fn wants_total(ctx: &Context<'_>) -> bool {
    ctx.look_ahead().field("totalCount").exists()
}
