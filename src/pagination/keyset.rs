//! The one keyset engine. A page is one SQL statement:
//!
//! ```sql
//! SELECT t.*, (<neighbour probe> LIMIT 1) IS NOT NULL AS __probe, (<maintained count>) AS __total
//! FROM t WHERE <connection rows> AND (sort, id) > ($v, $id) [AND (sort, id) < (…)]
//! ORDER BY sort, id LIMIT n + 1
//! ```
//!
//! Both LIMITs are literals, not parameters: with a parameter PostgreSQL cannot cost the
//! statement's generic plan (it assumes a tenth of the rows) and re-plans it on every
//! execution (a custom plan, ~0.08 ms of its CPU per page); with literals it switches to the
//! cached generic plan after five executions. Page sizes are bounded, so the statement cache
//! holds a few variants at most.
//!
//! The row-value comparison lets PostgreSQL and SQLite start an index range scan exactly at
//! the cursor (sea-orm's `cursor_by` spells it `(a = x AND b > y) OR a > x`, which PostgreSQL
//! answers by scanning from the connection's first row, so deep pages get slower). `LIMIT n+1`
//! tells whether more rows follow; `last`/`before` runs the same query in reverse order and
//! flips the result. The probe and the count are uncorrelated scalar subqueries that each
//! backend evaluates once; only an empty page needs a second (tiny) statement for them.

use sea_orm::sea_query::{
    Alias, Expr, ExprTrait, Order, PostgresQueryBuilder, Query, SelectStatement, SqliteQueryBuilder, Values,
};
use sea_orm::{
    AccessMode, ConnectionTrait, DbBackend, EntityTrait, IsolationLevel, QueryFilter, QueryOrder, QueryTrait,
    Statement, TransactionSession, TransactionTrait, Value,
};

use crate::entity::Timestamp;
use crate::error::Result;

use super::Direction;
use super::args::{From, PageWindow};
use super::cursor::{Cursor, CursorScope, RowId, SortKind, SortValue};

/// Reads a row's position (sort value and id) for its cursor.
pub type Position<M> = fn(&M) -> (SortValue, RowId);

/// What a table supplies for one connection request: which rows, in which order, how to
/// count them and how to read a row's position. Built per request from plain data.
pub struct KeysetQuery<E: EntityTrait> {
    /// Scope every cursor of this connection carries.
    pub scope: CursorScope,
    /// The connection's rows: its campaign column and its filter, as a WHERE condition.
    pub condition: sea_orm::Condition,
    /// The ordering's column.
    pub sort_column: E::Column,
    /// What the ordering's column holds.
    pub sort_kind: SortKind,
    /// The tiebreaker (primary key) column; None when the sort column is itself unique within
    /// the connection (e.g. `offset_index`), so the index order alone is a total order and
    /// no sort step is needed for a tiebreaker the index does not contain.
    pub id_column: Option<E::Column>,
    /// A scalar BIGINT expression giving totalCount, present only when the client selected it.
    pub total: Option<Expr>,
    /// Reads a row's position (sort value and id) for its cursor.
    pub position: Position<E::Model>,
    /// A scalar text expression evaluated with the page (on an empty page, with the probe and
    /// the count), returned as [`Page::guard`]: e.g. the parent campaign's type, so one
    /// statement tells whether the campaign exists.
    pub guard: Option<Expr>,
}

/// One page of rows, in the connection's order, with the facts `pageInfo` needs.
#[derive(Debug)]
pub struct Page<M> {
    pub rows: Vec<(M, Cursor)>,
    pub has_previous_page: bool,
    pub has_next_page: bool,
    pub total_count: Option<i64>,
    /// The value of [`KeysetQuery::guard`] (None when not asked for, or NULL).
    pub guard: Option<String>,
}

const PROBE: &str = "__probe";
const TOTAL: &str = "__total";
const GUARD: &str = "__guard";

fn sort_value(value: &SortValue, backend: DbBackend) -> Value {
    match value {
        SortValue::Int(v) => Value::BigInt(Some(*v)),
        SortValue::Text(v) => Value::String(Some(v.clone())),
        SortValue::Time(v) => Timestamp::to_value(*v, backend),
    }
}

fn id_value(id: RowId) -> Value {
    match id {
        RowId::Uuid(v) => Value::Uuid(Some(v)),
        RowId::Int(v) => Value::BigInt(Some(v)),
    }
}

/// Where a row lies relative to a cursor, in the connection's order.
#[derive(Clone, Copy)]
enum Side {
    After,
    AtOrAfter,
    Before,
    AtOrBefore,
}

impl<E: EntityTrait> KeysetQuery<E> {
    fn compare(&self, cursor: &Cursor, side: Side, backend: DbBackend) -> Expr {
        let (key, at) = match self.id_column {
            Some(id_column) => (
                Expr::tuple([Expr::col(self.sort_column), Expr::col(id_column)]),
                Expr::tuple([
                    Expr::val(sort_value(&cursor.value, backend)),
                    Expr::val(id_value(cursor.id)),
                ]),
            ),
            None => (
                Expr::col(self.sort_column),
                Expr::val(sort_value(&cursor.value, backend)),
            ),
        };
        let ascending = self.scope.direction == Direction::Asc;
        match (side, ascending) {
            (Side::After, true) | (Side::Before, false) => key.gt(at),
            (Side::After, false) | (Side::Before, true) => key.lt(at),
            (Side::AtOrAfter, true) | (Side::AtOrBefore, false) => key.gte(at),
            (Side::AtOrAfter, false) | (Side::AtOrBefore, true) => key.lte(at),
        }
    }

    /// Whether the connection has a row on `side` of `cursor`: the exact neighbour probe.
    ///
    /// A scalar subquery ordered from the cursor outwards with `LIMIT 1`, so the planner walks
    /// the connection's index from the cursor and stops at the first entry. Not `EXISTS`:
    /// PostgreSQL drops an EXISTS subquery's ORDER BY and LIMIT, estimates that half the
    /// campaign matches, and scans the heap until it meets a matching row — 72 ms for a
    /// `before:` cursor in the middle of a 2M-row campaign, and as long for every campaign
    /// whose rows lie behind another's in the heap.
    fn probe(&self, cursor: &Cursor, side: Side, backend: DbBackend) -> Expr {
        let ascending = self.scope.direction == Direction::Asc;
        let towards_end = matches!(side, Side::After | Side::AtOrAfter);
        let order = if towards_end == ascending {
            Order::Asc
        } else {
            Order::Desc
        };
        let mut probe = Query::select();
        probe
            .expr(Expr::cust("1"))
            .from(E::default())
            .cond_where(self.condition.clone())
            .and_where(self.compare(cursor, side, backend))
            .order_by(self.sort_column, order.clone());
        if let Some(id_column) = self.id_column {
            probe.order_by(id_column, order);
        }
        // sea-query writes LIMIT as a parameter: render the subquery with the backend's
        // placeholders and add the literal, the values staying parameters of the statement.
        let (sql, values) = build(&probe, backend);
        Expr::cust_with_exprs(
            format!("({sql} LIMIT 1) IS NOT NULL"),
            values.0.into_iter().map(Expr::val),
        )
    }
}

/// The statement of one page and whether it carries the neighbour probe.
pub struct PageStatement {
    /// `SELECT …` with the probe and total as extra columns, without its LIMIT.
    statement: SelectStatement,
    /// `n + 1`, written as a literal by [`PageStatement::build`].
    limit: u64,
    /// The probe, also needed alone when the page comes back empty.
    probe: Option<Expr>,
    forward: bool,
}

impl PageStatement {
    /// The SQL of the page for `backend` (LIMIT included) and its values.
    pub fn build(&self, backend: DbBackend) -> (String, Values) {
        let (mut sql, values) = build(&self.statement, backend);
        use std::fmt::Write;
        let _ = write!(sql, " LIMIT {}", self.limit);
        (sql, values)
    }

    /// [`PageStatement::build`] as a statement to run.
    pub fn to_statement(&self, backend: DbBackend) -> Statement {
        let (sql, values) = self.build(backend);
        Statement::from_sql_and_values(backend, sql, values)
    }
}

/// Renders `select` with `backend`'s placeholders.
fn build(select: &SelectStatement, backend: DbBackend) -> (String, Values) {
    match backend {
        DbBackend::Postgres => select.build(PostgresQueryBuilder),
        _ => select.build(SqliteQueryBuilder),
    }
}

/// Builds the one statement of a page (see the module docs).
pub fn page_statement<E: EntityTrait>(
    query: &KeysetQuery<E>,
    window: &PageWindow,
    backend: DbBackend,
) -> PageStatement {
    let forward = window.from == From::Start;
    let ascending = query.scope.direction == Direction::Asc;
    let order = if forward == ascending { Order::Asc } else { Order::Desc };

    // The probe answers the "may" half of pageInfo exactly (Relay spec: HasPreviousPage step 2,
    // HasNextPage step 2); the other half comes from LIMIT n + 1.
    let probe = match (forward, &window.after, &window.before) {
        (true, Some(after), _) => Some(query.probe(after, Side::AtOrBefore, backend)),
        (false, _, Some(before)) => Some(query.probe(before, Side::AtOrAfter, backend)),
        _ => None,
    };

    let mut select = E::find().filter(query.condition.clone());
    if let Some(after) = &window.after {
        select = select.filter(query.compare(after, Side::After, backend));
    }
    if let Some(before) = &window.before {
        select = select.filter(query.compare(before, Side::Before, backend));
    }
    select = select.order_by(query.sort_column, order.clone());
    if let Some(id_column) = query.id_column {
        select = select.order_by(id_column, order);
    }
    let mut statement: SelectStatement = select.into_query();
    if let Some(probe) = &probe {
        statement.expr_as(probe.clone(), Alias::new(PROBE));
    }
    if let Some(total) = &query.total {
        statement.expr_as(total.clone(), Alias::new(TOTAL));
    }
    if let Some(guard) = &query.guard {
        statement.expr_as(guard.clone(), Alias::new(GUARD));
    }
    PageStatement {
        statement,
        limit: u64::from(window.size) + 1,
        probe,
        forward,
    }
}

/// Fetches one page of `query` for `window` (see the module docs for the statement).
#[tracing::instrument(level = "debug", skip_all, fields(connection = query.scope.connection, size = window.size))]
pub async fn fetch_page<E, C>(db: &C, query: &KeysetQuery<E>, window: &PageWindow) -> Result<Page<E::Model>>
where
    E: EntityTrait,
    E::Model: crate::entity::DecodeRow,
    C: ConnectionTrait + TransactionTrait,
{
    let backend = db.get_database_backend();
    let page = page_statement(query, window, backend);
    let mut results = db.query_all_raw(page.to_statement(backend)).await?;
    let (probe, forward) = (&page.probe, page.forward);
    let (mut probe_hit, mut total_count, mut guard) = (false, None, None);
    if let Some(first) = results.first() {
        if probe.is_some() {
            probe_hit = first.try_get::<bool>("", PROBE)?;
        }
        if query.total.is_some() {
            total_count = Some(first.try_get::<i64>("", TOTAL)?);
        }
        if query.guard.is_some() {
            guard = first.try_get::<Option<String>>("", GUARD)?;
        }
    } else if probe.is_some() || query.total.is_some() || query.guard.is_some() {
        // An empty page carries no row to hang the scalars on: ask for them alone. Both
        // statements run again in one read-only snapshot so the page, the probe and the count
        // agree even while rows are being written (this path is rare: empty pages only).
        let mut meta = Query::select();
        meta.expr_as(probe.clone().unwrap_or_else(|| Expr::val(false)), Alias::new(PROBE));
        meta.expr_as(
            query.total.clone().unwrap_or_else(|| Expr::val(0i64)),
            Alias::new(TOTAL),
        );
        if let Some(expr) = &query.guard {
            meta.expr_as(expr.clone(), Alias::new(GUARD));
        }
        let txn = match db.get_database_backend() {
            DbBackend::Postgres => {
                db.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly))
                    .await?
            }
            _ => db.begin().await?,
        };
        results = txn.query_all_raw(page.to_statement(backend)).await?;
        let meta_row = txn.query_one(&meta).await?;
        txn.commit().await?;
        if let Some(row) = results.first().or(meta_row.as_ref()) {
            probe_hit = probe.is_some() && row.try_get::<bool>("", PROBE)?;
            if query.total.is_some() {
                total_count = Some(row.try_get::<i64>("", TOTAL)?);
            }
            if query.guard.is_some() {
                guard = row.try_get::<Option<String>>("", GUARD)?;
            }
        }
    }

    let size = window.size as usize;
    let has_more = results.len() > size;
    let mut rows = Vec::with_capacity(results.len().min(size));
    for result in results.iter().take(size) {
        let model = <E::Model as crate::entity::DecodeRow>::decode_row(result)?;
        let (value, id) = (query.position)(&model);
        rows.push((
            model,
            Cursor {
                scope: query.scope,
                value,
                id,
            },
        ));
    }
    if !forward {
        rows.reverse();
    }
    let (has_previous_page, has_next_page) = if forward {
        (probe_hit, has_more)
    } else {
        (has_more, probe_hit)
    };
    Ok(Page {
        rows,
        has_previous_page,
        has_next_page,
        total_count,
        guard,
    })
}
