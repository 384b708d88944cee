//! The persisted metrics history (`query_performance_metrics`, `connection_pool_metrics`) as
//! Relay connections on `Query.metrics`, through the same keyset engine as every other
//! connection, filterable by query type and time range.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query, QueryStatementBuilder};
use sea_orm::{ColumnTrait, Condition, DbBackend};
use uuid::Uuid;

use crate::entity::{Timestamp, connection_pool_metric, query_performance_metric};
use crate::error::{ApiResult, Error};
use crate::pagination::cursor::filter_hash;
use crate::pagination::{Direction, PageArgs, Position, RowId, SortKind, SortValue};

use super::connection::{
    ConnectionPoolMetricConnection, ConnectionRequest, OrderField, QueryPerformanceMetricConnection, wants_total,
};
use super::{ApiContext, connection_codes};

/// One query type's figures over one sampling interval.
#[derive(Debug, Clone, SimpleObject)]
pub struct QueryPerformanceMetric {
    /// The row's id (BIGSERIAL).
    pub database_id: i64,
    pub query_type: String,
    /// Length of the interval, in seconds.
    pub interval_seconds: f64,
    pub count: i64,
    pub errors: i64,
    pub slow_count: i64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub rows_returned: i64,
    /// End of the interval.
    pub recorded_at: DateTime<Utc>,
}

impl From<query_performance_metric::Model> for QueryPerformanceMetric {
    fn from(m: query_performance_metric::Model) -> Self {
        Self {
            database_id: m.id,
            query_type: m.query_type,
            interval_seconds: m.interval_seconds,
            count: m.query_count,
            errors: m.error_count,
            slow_count: m.slow_count,
            mean_ms: m.mean_ms,
            p50_ms: m.p50_ms,
            p95_ms: m.p95_ms,
            p99_ms: m.p99_ms,
            max_ms: m.max_ms,
            rows_returned: m.rows_returned,
            recorded_at: m.recorded_at.into(),
        }
    }
}

/// One pool's figures at the end of one sampling interval.
#[derive(Debug, Clone, SimpleObject)]
pub struct ConnectionPoolMetric {
    /// The row's id (BIGSERIAL).
    pub database_id: i64,
    pub pool_name: String,
    /// Connections in use.
    pub active_connections: i32,
    pub idle_connections: i32,
    pub max_connections: i32,
    /// Acquisitions that waited during the interval.
    pub wait_count: i64,
    /// Time spent waiting during the interval, in milliseconds.
    pub wait_duration_ms: f64,
    pub acquire_timeouts: i64,
    pub connection_errors: i64,
    pub utilization_percent: f64,
    pub recorded_at: DateTime<Utc>,
}

impl From<connection_pool_metric::Model> for ConnectionPoolMetric {
    fn from(m: connection_pool_metric::Model) -> Self {
        Self {
            database_id: m.id,
            pool_name: m.pool_name,
            active_connections: m.active_connections,
            idle_connections: m.idle_connections,
            max_connections: m.max_connections,
            wait_count: m.wait_count,
            wait_duration_ms: m.wait_duration_ms,
            acquire_timeouts: m.acquire_timeouts,
            connection_errors: m.connection_errors,
            utilization_percent: m.pool_utilization_percent,
            recorded_at: m.recorded_at.into(),
        }
    }
}

/// The only ordering of metrics history: by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Default)]
pub enum MetricsHistoryOrderField {
    /// End of the sampling interval (ties broken by id).
    #[default]
    RecordedAt,
}

/// Ordering of a metrics history connection.
#[derive(Debug, Clone, Copy, Default, InputObject)]
pub struct MetricsHistoryOrder {
    /// Default RECORDED_AT.
    #[graphql(default)]
    pub field: MetricsHistoryOrderField,
    /// Default ASC (oldest first); DESC for newest first.
    #[graphql(default)]
    pub direction: Direction,
}

/// Filter of a metrics history connection; absent fields do not filter.
#[derive(Debug, Clone, Default, InputObject)]
pub struct MetricsHistoryFilter {
    /// Only this query type (ignored by the pool history).
    pub query_type: Option<String>,
    /// Only rows recorded at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only rows recorded before this instant.
    pub to: Option<DateTime<Utc>>,
}

impl MetricsHistoryFilter {
    fn hash(&self, with_type: bool) -> u64 {
        let time = |t: Option<DateTime<Utc>>| t.map_or_else(|| "*".to_owned(), |t| t.timestamp_micros().to_string());
        let query_type = if with_type { self.query_type.clone() } else { None };
        filter_hash([
            query_type.unwrap_or_else(|| "*".to_owned()).as_str(),
            time(self.from).as_str(),
            time(self.to).as_str(),
        ])
    }

    fn validate(&self) -> Result<(), Error> {
        for (name, bound) in [("from", self.from), ("to", self.to)] {
            if bound.is_some_and(|t| !Timestamp::from(t).in_database_range()) {
                return Err(Error::BadUserInput(format!(
                    "`filter.{name}` is outside the range of stored times"
                )));
            }
        }
        if let Some(query_type) = &self.query_type {
            super::lookup_text("filter.queryType", query_type)?;
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from > to
        {
            return Err(Error::BadUserInput(
                "`filter.from` must not be after `filter.to`".to_owned(),
            ));
        }
        Ok(())
    }
}

macro_rules! history_order {
    ($module:ident) => {
        impl OrderField<$module::Entity> for MetricsHistoryOrderField {
            fn code(self) -> u8 {
                0
            }
            fn column(self) -> $module::Column {
                $module::Column::RecordedAt
            }
            fn kind(self) -> SortKind {
                SortKind::Time
            }
            fn position(self) -> Position<$module::Model> {
                |m| (SortValue::Time(m.recorded_at), RowId::Int(m.id))
            }
        }
    };
}
history_order!(query_performance_metric);
history_order!(connection_pool_metric);

/// `COUNT(*)` of the filtered history as a BIGINT scalar: history tables are bounded by
/// retention (thousands of rows a day), so an index range count is cheap.
fn count(table: &'static str, condition: Condition) -> Expr {
    let mut query = Query::select();
    query
        .expr(Expr::cust("CAST(COUNT(*) AS BIGINT)"))
        .from(sea_orm::sea_query::Alias::new(table))
        .cond_where(condition);
    Expr::SubQuery(None, Box::new(query.into_sub_query_statement()))
}

fn time_condition<C: ColumnTrait>(column: C, filter: &MetricsHistoryFilter, backend: DbBackend) -> Condition {
    Condition::all()
        .add_option(
            filter
                .from
                .map(|from| column.gte(Timestamp::from(from).to_value(backend))),
        )
        .add_option(filter.to.map(|to| column.lt(Timestamp::from(to).to_value(backend))))
}

/// History fields of `Query.metrics`.
pub struct MetricsHistory;

#[Object]
impl MetricsHistory {
    /// Per query type and sampling interval, as persisted by the sampler.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "super::limits::connection_cost(first, last, child_complexity)")]
    async fn query_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first n rows after `after`.")] first: Option<i32>,
        #[graphql(desc = "Cursor: rows after this one.")] after: Option<String>,
        #[graphql(desc = "Return the last n rows before `before`.")] last: Option<i32>,
        #[graphql(desc = "Cursor: rows before this one.")] before: Option<String>,
        #[graphql(desc = "Ordering; default RECORDED_AT ASC.")] order_by: Option<MetricsHistoryOrder>,
        #[graphql(desc = "Query type and time range.")] filter: Option<MetricsHistoryFilter>,
    ) -> ApiResult<QueryPerformanceMetricConnection> {
        use query_performance_metric::Column;
        let api = ApiContext::get(ctx)?;
        let filter = filter.unwrap_or_default();
        filter.validate()?;
        let order = order_by.unwrap_or_default();
        let condition = Condition::all()
            .add_option(filter.query_type.clone().map(|t| Column::QueryType.eq(t)))
            .add(time_condition(
                Column::RecordedAt,
                &filter,
                api.db.get_database_backend(),
            ));
        let request = ConnectionRequest::<query_performance_metric::Entity, _> {
            connection: connection_codes::QUERY_PERFORMANCE_METRICS,
            parent: Uuid::nil(),
            order: order.field,
            direction: order.direction,
            filter_hash: filter.hash(true),
            total: wants_total(ctx).then(|| count("query_performance_metrics", condition.clone())),
            condition,
            id_column: Column::Id,
            guard: None,
            applicable: true,
        };
        let page = request
            .fetch(
                ctx,
                PageArgs {
                    first,
                    after,
                    last,
                    before,
                },
            )
            .await?;
        Ok(QueryPerformanceMetricConnection::from_page(page, Into::into))
    }

    /// Pool figures per sampling interval, as persisted by the sampler.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "super::limits::connection_cost(first, last, child_complexity)")]
    async fn pool_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first n rows after `after`.")] first: Option<i32>,
        #[graphql(desc = "Cursor: rows after this one.")] after: Option<String>,
        #[graphql(desc = "Return the last n rows before `before`.")] last: Option<i32>,
        #[graphql(desc = "Cursor: rows before this one.")] before: Option<String>,
        #[graphql(desc = "Ordering; default RECORDED_AT ASC.")] order_by: Option<MetricsHistoryOrder>,
        #[graphql(desc = "Time range (queryType is ignored here).")] filter: Option<MetricsHistoryFilter>,
    ) -> ApiResult<ConnectionPoolMetricConnection> {
        use connection_pool_metric::Column;
        let api = ApiContext::get(ctx)?;
        let filter = filter.unwrap_or_default();
        filter.validate()?;
        let order = order_by.unwrap_or_default();
        let condition = time_condition(Column::RecordedAt, &filter, api.db.get_database_backend());
        let request = ConnectionRequest::<connection_pool_metric::Entity, _> {
            connection: connection_codes::CONNECTION_POOL_METRICS,
            parent: Uuid::nil(),
            order: order.field,
            direction: order.direction,
            filter_hash: filter.hash(false),
            total: wants_total(ctx).then(|| count("connection_pool_metrics", condition.clone())),
            condition,
            id_column: Column::Id,
            guard: None,
            applicable: true,
        };
        let page = request
            .fetch(
                ctx,
                PageArgs {
                    first,
                    after,
                    last,
                    before,
                },
            )
            .await?;
        Ok(ConnectionPoolMetricConnection::from_page(page, Into::into))
    }
}
