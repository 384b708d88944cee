//! The HTTP surface: `/graphql` (POST and GET, GraphiQL for browsers), `/healthz`, `/readyz`,
//! `/metrics`. Building the router does no I/O, so tests can drive it with `oneshot` too.
//! /graphql and /metrics pass the [`guard`](guard::guard) (rate limits, tokens, timeout);
//! the health probes do not, so load balancers never need a token.

pub mod assets;
pub mod export;
pub mod guard;
pub mod rate_limit;
mod request_id;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{DefaultBodyLimit, Extension, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sea_orm::DatabaseConnection;
use serde_json::json;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::{Principal, Scope};
use crate::config::Settings;
use crate::error::{Error, limit};
use crate::graphql::Executor;

use guard::{error_response, error_response_with_status};

/// Everything a request handler needs: one shared [`Shared`], so the clone axum makes for every
/// extractor and middleware is one reference-count increment, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct Shared {
    pub db: DatabaseConnection,
    /// Database calls made outside GraphQL (exports) go through it too.
    pub observer: crate::db::Observer,
    /// Whether the database is reachable (see `db::health`).
    pub health: crate::db::health::Health,
    pub metrics: crate::metrics::Metrics,
    pub monitor: crate::graphql::metrics::MonitorContext,
    /// The GraphQL schema with the query limits, document cache and error codes around it.
    pub schema: Executor,
    pub settings: Arc<Settings>,
    /// Tokens, rate limits and the request timeout.
    pub gate: Arc<guard::Gatekeeper>,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The application's router.
pub fn router(state: AppState) -> Router {
    let router_settings = state.settings.clone();
    let guarded = axum::middleware::from_fn_with_state(state.clone(), guard::guard);
    let cors = guard::cors_layer(&state.settings.cors_allowed_origins);
    let router = Router::new()
        .route(
            "/graphql",
            get(graphql_get)
                .post(graphql_post)
                .layer(DefaultBodyLimit::max(state.settings.max_request_body_bytes)),
        )
        .route("/graphql/ws", get(graphql_ws))
        .route("/export", get(export::export))
        .route("/metrics", get(prometheus_metrics))
        .route_layer(guarded)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        // The pages are static and hold no data: no token needed to load them.
        .route("/", get(|| async { axum::response::Redirect::to("/dashboard") }))
        .route("/dashboard", get(assets::dashboard))
        .route("/explorer", get(assets::explorer))
        .route("/assets/{*path}", get(assets::asset))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), count_requests))
        .with_state(state);
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    let router = match state_compression(&router_settings) {
        Some(compression) => router.layer(compression),
        None => router,
    };
    router
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let request_id = request
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            // Never the headers or the query string: they may carry a token. `token` is the
            // matched token's configured name, recorded by the guard.
            tracing::info_span!(
                "request",
                method = %request.method(),
                path = %request.uri().path(),
                request_id,
                token = tracing::field::Empty
            )
        }))
        .layer(SetRequestIdLayer::new(
            REQUEST_ID,
            request_id::SequentialRequestId::new(),
        ))
}

/// Response compression (gzip or br, as negotiated) for bodies of at least
/// `HTTP_COMPRESSION_MIN_BYTES`; None when it is off (the default: on loopback it only costs CPU).
fn state_compression(
    settings: &Settings,
) -> Option<tower_http::compression::CompressionLayer<tower_http::compression::predicate::SizeAbove>> {
    (settings.compression_min_bytes > 0).then(|| {
        tower_http::compression::CompressionLayer::new().compress_when(
            tower_http::compression::predicate::SizeAbove::new(settings.compression_min_bytes),
        )
    })
}

async fn graphql_post(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.starts_with("application/json") || ct.starts_with("application/graphql-response+json"));
    if !is_json {
        return error_response_with_status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::BadUserInput("POST /graphql expects Content-Type: application/json".to_owned()),
        );
    }
    let body = match body {
        Ok(body) => body,
        Err(BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_))) => {
            return error_response(Error::LimitExceeded {
                limit: limit::BODY_SIZE.to_owned(),
                max: state.settings.max_request_body_bytes as u64,
            });
        }
        Err(_) => return error_response(Error::BadUserInput("the request body could not be read".to_owned())),
    };
    let request: async_graphql::BatchRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => {
            return error_response(Error::BadUserInput(format!(
                "the body is not a GraphQL request (JSON with a \"query\" string): {err}"
            )));
        }
    };
    if let async_graphql::BatchRequest::Batch(requests) = &request {
        let max = state.settings.query_limits.max_batch_size;
        if requests.is_empty() {
            return error_response(Error::BadUserInput("a batch needs at least one request".to_owned()));
        }
        if requests.len() > max {
            return error_response(Error::LimitExceeded {
                limit: limit::BATCH_SIZE.to_owned(),
                max: max as u64,
            });
        }
    }
    let request = match principal {
        Some(Extension(principal)) => request.data(principal),
        None => request,
    };
    answer_response(state.schema.answer(request).await)
}

/// The HTTP response of a GraphQL answer (`application/json`, as `Json` writes it).
fn answer_response(answer: crate::graphql::execute::Answer) -> Response {
    match answer {
        crate::graphql::execute::Answer::Json(body) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            body,
        )
            .into_response(),
        crate::graphql::execute::Answer::Response(response) => Json(response).into_response(),
    }
}

async fn graphql_get(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if query.is_empty() && wants_html {
        if !state.settings.graphiql {
            return error_response(Error::NotFound("GraphiQL (disabled on this server)".to_owned()));
        }
        return assets::graphiql(&headers);
    }
    match async_graphql::http::parse_query_string(&query) {
        Ok(request) => {
            let request = match principal {
                Some(Extension(principal)) => request.data(principal),
                None => request,
            };
            answer_response(state.schema.answer(async_graphql::BatchRequest::Single(request)).await)
        }
        Err(err) => error_response(Error::BadUserInput(format!(
            "GET /graphql expects ?query=…[&variables=…&operationName=…]: {err}"
        ))),
    }
}

/// GraphQL over WebSocket (subscriptions), protocols `graphql-transport-ws` and `graphql-ws`.
/// Browsers cannot set headers on a WebSocket, so the token may come in the `connection_init`
/// payload instead (`{"Authorization": "Bearer <token>"}`); an Authorization header, when
/// sent, is checked by the guard and wins.
async fn graphql_ws(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    protocol: async_graphql_axum::GraphQLProtocol,
    upgrade: axum::extract::WebSocketUpgrade,
) -> Response {
    let schema = state.schema.clone();
    let gate = state.gate.clone();
    let from_header = principal.map(|Extension(principal)| principal);
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            async_graphql_axum::GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let principal = match from_header {
                        Some(principal) => principal,
                        None => gate.access().authenticate_connection_init(&payload).map_err(|err| {
                            tracing::warn!(reason = %err, "WebSocket refused: not authenticated");
                            async_graphql::Error::new(err.to_string())
                        })?,
                    };
                    let mut data = async_graphql::Data::default();
                    data.insert(principal);
                    Ok(data)
                })
                .serve()
        })
}

/// Counts every request and its outcome for `Query.metrics.requests`.
async fn count_requests(
    State(state): State<AppState>,
    request: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> Response {
    let requests = state.metrics.requests();
    requests.start();
    let response = next.run(request).await;
    requests.finish(response.status().as_u16());
    response
}

/// Liveness: the process is up and serving HTTP.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers. 503 while it does not, so a load balancer routes around us.
async fn readyz(State(state): State<AppState>) -> Response {
    // A probe of its own (on the health probe's connection, so a saturated pool is not
    // mistaken for an outage); its answer also updates the state requests consult.
    if state.health.status().started && state.health.probe(std::time::Duration::from_secs(2)).await {
        return Json(json!({ "status": "ready", "database": "up" })).into_response();
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
/// Needs the `metrics` scope when tokens are configured.
async fn prometheus_metrics(State(state): State<AppState>, principal: Option<Extension<Principal>>) -> Response {
    // The guard always attaches a principal; without one, refuse rather than serve.
    let allowed = principal.ok_or_else(|| Error::Unauthenticated("authentication required".to_owned()));
    if let Err(err) = allowed.and_then(|Extension(principal)| principal.require(Scope::Metrics)) {
        return error_response(err);
    }
    let (open, idle) = crate::db::pool_open_idle(&state.db);
    let pool = state.metrics.pool().snapshot(open, idle);
    let window = state.metrics.alert_thresholds().memory_growth_window;
    let memory = state.metrics.memory().snapshot(window, std::time::Instant::now());
    let alerts = state.monitor.alerts(&state.metrics, &pool, &memory);
    let body = crate::metrics::prometheus::render(&state.metrics, &pool, &alerts);
    ([(header::CONTENT_TYPE, crate::metrics::prometheus::CONTENT_TYPE)], body).into_response()
}

async fn not_found() -> Response {
    error_response(Error::NotFound("endpoint (GraphQL is served at /graphql)".to_owned()))
}
