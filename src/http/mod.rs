//! The HTTP surface: `/graphql` (POST and GET, GraphiQL for browsers), `/healthz`, `/readyz`.
//! Building the router does no I/O, so tests can drive it with `oneshot` too.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderName, Request, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sea_orm::DatabaseConnection;
use serde_json::json;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::config::Settings;
use crate::error::code;
use crate::graphql::AppSchema;

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    /// Whether the database is reachable (see `db::health`).
    pub health: crate::db::health::Health,
    pub metrics: crate::metrics::Metrics,
    pub monitor: crate::graphql::metrics::MonitorContext,
    pub schema: AppSchema,
    pub settings: Arc<Settings>,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The application's router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(prometheus_metrics))
        .fallback(not_found)
        .with_state(state)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let request_id = request
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// A GraphQL-shaped error response for requests that never reached the executor.
fn request_error(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        Json(json!({ "errors": [{ "message": message, "extensions": { "code": code } }] })),
    )
        .into_response()
}

async fn graphql_post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.starts_with("application/json") || ct.starts_with("application/graphql-response+json"));
    if !is_json {
        return request_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code::BAD_USER_INPUT,
            "POST /graphql expects Content-Type: application/json".to_owned(),
        );
    }
    let request: async_graphql::BatchRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                code::BAD_USER_INPUT,
                format!("the body is not a GraphQL request (JSON with a \"query\" string): {err}"),
            );
        }
    };
    Json(state.schema.execute_batch(request).await).into_response()
}

async fn graphql_get(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if query.is_empty() && wants_html {
        if !state.settings.graphiql {
            return request_error(
                StatusCode::NOT_FOUND,
                code::NOT_FOUND,
                "GraphiQL is disabled".to_owned(),
            );
        }
        return Html(
            async_graphql::http::GraphiQLSource::build()
                .endpoint("/graphql")
                .finish(),
        )
        .into_response();
    }
    match async_graphql::http::parse_query_string(&query) {
        Ok(request) => Json(state.schema.execute(request).await).into_response(),
        Err(err) => request_error(
            StatusCode::BAD_REQUEST,
            code::BAD_USER_INPUT,
            format!("GET /graphql expects ?query=…[&variables=…&operationName=…]: {err}"),
        ),
    }
}

/// Liveness: the process is up and serving HTTP.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers. 503 while it does not, so a load balancer routes around us.
async fn readyz(State(state): State<AppState>) -> Response {
    let status = state.health.status();
    if status.up {
        let ping = tokio::time::timeout(std::time::Duration::from_secs(2), crate::db::ping(&state.db));
        if ping.await.unwrap_or(false) {
            return Json(json!({ "status": "ready", "database": "up" })).into_response();
        }
        state.health.report_failure();
    }
    let status = state.health.status();
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({
            "status": "unavailable",
            "database": if status.started { "down" } else { "starting" },
            "downForSeconds": status.down_for.map(|d| d.as_secs()),
        })),
    )
        .into_response()
}

/// Prometheus scrape endpoint: the same figures as `Query.metrics`, in the text format.
async fn prometheus_metrics(State(state): State<AppState>) -> Response {
    let (open, idle) = crate::db::pool_open_idle(&state.db);
    let pool = state.metrics.pool().snapshot(open, idle);
    let window = state.metrics.alert_thresholds().memory_growth_window;
    let memory = state.metrics.memory().snapshot(window, std::time::Instant::now());
    let alerts = state.monitor.alerts(&state.metrics, &pool, &memory);
    let body = crate::metrics::prometheus::render(&state.metrics, &pool, &alerts);
    ([(header::CONTENT_TYPE, crate::metrics::prometheus::CONTENT_TYPE)], body).into_response()
}

async fn not_found() -> Response {
    request_error(
        StatusCode::NOT_FOUND,
        code::NOT_FOUND,
        "no such endpoint; GraphQL is served at /graphql".to_owned(),
    )
}
