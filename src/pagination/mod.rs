//! Keyset (seek) pagination behind every Relay connection: validated page arguments, opaque
//! versioned cursors, and one generic engine that turns them into a single SQL statement per
//! page. Tables supply their columns, orderings and filters as data; no GraphQL types here.

pub mod args;
pub mod cursor;
pub mod keyset;

pub use args::{PageArgs, PageWindow};
pub use cursor::{Cursor, CursorScope, RowId, SortKind, SortValue};
pub use keyset::{KeysetQuery, Page, PageStatement, Position, fetch_page, page_statement};

/// Sort direction of a connection's ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, async_graphql::Enum)]
pub enum Direction {
    /// Ascending: smallest first.
    #[default]
    Asc,
    /// Descending: largest first.
    Desc,
}
