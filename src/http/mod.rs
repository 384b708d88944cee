//! The HTTP surface: `/graphql` (POST and GET as GraphQL over HTTP says, media types settled in
//! [`negotiate`]; GraphiQL for browsers), `/healthz`, `/readyz`, `/metrics`. Building the router
//! does no I/O, so tests can drive it with `oneshot` too.
//! /graphql and /metrics pass the [`guard`](guard::guard) (rate limits, tokens, timeout);
//! the health probes do not, so load balancers never need a token.

pub mod assets;
pub mod export;
pub mod guard;
pub mod negotiate;
pub mod rate_limit;
mod request_id;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{DefaultBodyLimit, Extension, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, Uri, header};
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
use crate::graphql::execute::Answer;

use guard::{error_response, error_response_with_status};
use negotiate::ResponseType;

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

/// The message of a request without a query (and not a persisted query's hash): a parser error
/// at 1:1 would only puzzle whoever opened /graphql with curl.
pub const MISSING_QUERY_MESSAGE: &str = "no GraphQL query in the request; open /graphql in a browser for GraphiQL";

/// The request extension of Automatic Persisted Queries (`graphql::persisted`): a request with
/// it may leave out its text, which the executor then fills in from its cache.
const PERSISTED_QUERY_EXTENSION: &str = "persistedQuery";

/// GraphQL over HTTP, POST (<https://graphql.github.io/graphql-over-http/draft/#sec-POST>):
/// checks in the order an HTTP server decides them (415, 413, 400, then 406), then runs the
/// request, answering in the negotiated type.
async fn graphql_post(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let media = negotiate::response_type(&headers);
    let refuse = |response: Response| vary_accept(labelled(response, media));
    if !negotiate::is_json_request(&headers) {
        return refuse(error_response_with_status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::BadUserInput("POST /graphql expects Content-Type: application/json".to_owned()),
        ));
    }
    let body = match body {
        Ok(body) => body,
        Err(BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_))) => {
            return refuse(error_response(Error::LimitExceeded {
                limit: limit::BODY_SIZE.to_owned(),
                max: state.settings.max_request_body_bytes as u64,
            }));
        }
        Err(_) => {
            return refuse(error_response(Error::BadUserInput(
                "the request body could not be read".to_owned(),
            )));
        }
    };
    let request: async_graphql::BatchRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => {
            return refuse(error_response(Error::BadUserInput(format!(
                "the body is not a GraphQL request (JSON with a \"query\" string): {err}"
            ))));
        }
    };
    let missing_in_batch = match &request {
        async_graphql::BatchRequest::Single(single) => {
            if is_missing_query(single) {
                return refuse(missing_query());
            }
            false
        }
        async_graphql::BatchRequest::Batch(requests) => {
            let max = state.settings.query_limits.max_batch_size;
            if requests.is_empty() {
                return refuse(error_response(Error::BadUserInput(
                    "a batch needs at least one request".to_owned(),
                )));
            }
            if requests.len() > max {
                return refuse(error_response(Error::LimitExceeded {
                    limit: limit::BATCH_SIZE.to_owned(),
                    max: max as u64,
                }));
            }
            requests.iter().any(is_missing_query)
        }
    };
    let Some(media) = media else {
        return vary_accept(not_acceptable());
    };
    let request = match principal {
        Some(Extension(principal)) => request.data(principal),
        None => request,
    };
    let answer = match request {
        // A batch is one 200 whatever its elements say, so an element without a query gets
        // the error a single request would, in its place, and the others still run.
        async_graphql::BatchRequest::Batch(requests) if missing_in_batch => {
            let mut responses = Vec::with_capacity(requests.len());
            for request in requests {
                responses.push(if is_missing_query(&request) {
                    async_graphql::Response::from_errors(vec![
                        Error::BadUserInput(MISSING_QUERY_MESSAGE.to_owned()).into_server_error(),
                    ])
                } else {
                    state.schema.execute(request).await
                });
            }
            Answer::Response(async_graphql::BatchResponse::Batch(responses))
        }
        request => state.schema.answer(request).await,
    };
    answer_response(answer, media)
}

/// The HTTP response of a GraphQL answer in the negotiated type (GraphQL over HTTP,
/// "Response"): under `application/graphql-response+json` a request error — the request
/// failed before execution, so the body has no `data` — is a 400; everything else, and
/// everything under the legacy `application/json`, is a 200.
fn answer_response(answer: Answer, media: ResponseType) -> Response {
    let status = if media == ResponseType::GraphQLResponseJson && answer.is_request_error() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    vary_accept(
        (
            status,
            [(header::CONTENT_TYPE, media.content_type())],
            answer.into_body(),
        )
            .into_response(),
    )
}

/// A refusal in the negotiated type, so a client that only accepts
/// `application/graphql-response+json` is not sent another one (the body is the same
/// `{"errors": [...]}`); without a negotiated type it stays `application/json`.
fn labelled(mut response: Response, media: Option<ResponseType>) -> Response {
    if let Some(media) = media {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, media.content_type());
    }
    response
}

/// Answers depend on `Accept` (the media type, and GraphiQL or JSON for GET): caches must
/// key on it. Appended, so the `Vary` of the compression and CORS layers is kept.
fn vary_accept(mut response: Response) -> Response {
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("accept"));
    response
}

/// 406: the request's `Accept` allows neither response type.
fn not_acceptable() -> Response {
    error_response_with_status(
        StatusCode::NOT_ACCEPTABLE,
        Error::BadUserInput(
            "/graphql answers with application/graphql-response+json or application/json; the Accept header allows neither"
                .to_owned(),
        ),
    )
}

/// 400 for a request without a query, whatever its `Accept`: it is not a GraphQL request.
fn missing_query() -> Response {
    error_response(Error::BadUserInput(MISSING_QUERY_MESSAGE.to_owned()))
}

/// A request with no query text (or only whitespace) that is not a persisted query's hash.
fn is_missing_query(request: &async_graphql::Request) -> bool {
    request.query.trim().is_empty() && !request.extensions.0.contains_key(PERSISTED_QUERY_EXTENSION)
}

/// The parameters of GET /graphql (GraphQL over HTTP, "GET"); `variables` and `extensions`
/// are JSON texts.
#[derive(serde::Deserialize)]
struct GetParameters {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

impl GetParameters {
    /// The request these parameters describe, read by the same rules as a POST body.
    fn into_request(self) -> Result<async_graphql::Request, String> {
        let json = |name: &str, text: Option<String>| match text {
            Some(text) => {
                serde_json::from_str::<serde_json::Value>(&text).map_err(|err| format!("invalid {name}: {err}"))
            }
            None => Ok(serde_json::Value::Null),
        };
        let body = json!({
            "query": self.query.unwrap_or_default(),
            "operationName": self.operation_name,
            "variables": json("variables", self.variables)?,
            "extensions": json("extensions", self.extensions)?,
        });
        serde_json::from_value(body).map_err(|err| err.to_string())
    }
}

/// GraphQL over HTTP, GET (<https://graphql.github.io/graphql-over-http/draft/#sec-GET>):
/// GraphiQL for a browser asking for HTML without a query; otherwise queries only (a
/// mutation or subscription is 405, since GET must be safe), answered in the negotiated type.
async fn graphql_get(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if uri.query().unwrap_or_default().is_empty() && wants_html {
        if !state.settings.graphiql {
            return vary_accept(error_response(Error::NotFound(
                "GraphiQL (disabled on this server)".to_owned(),
            )));
        }
        return vary_accept(assets::graphiql(&headers));
    }
    let media = negotiate::response_type(&headers);
    let refuse = |response: Response| vary_accept(labelled(response, media));
    let parsed = Query::<GetParameters>::try_from_uri(&uri)
        .map_err(|err| err.body_text())
        .and_then(|Query(parameters)| parameters.into_request());
    let mut request = match parsed {
        Ok(request) => request,
        Err(err) => {
            return refuse(error_response(Error::BadUserInput(format!(
                "GET /graphql expects ?query=…[&variables=…&operationName=…]: {err}"
            ))));
        }
    };
    if is_missing_query(&request) {
        return refuse(missing_query());
    }
    let Some(media) = media else {
        return vary_accept(not_acceptable());
    };
    // A hash alone is resolved here rather than by the executor, so the operation it stands
    // for is checked like any other; the executor then sees a plain request.
    let requests = state.metrics.requests();
    if let Err(err) = state
        .schema
        .persisted()
        .resolve_counted(&mut request, &state.settings.query_limits, |what| {
            requests.persisted(what)
        })
    {
        let response = async_graphql::Response::from_errors(vec![err]);
        return answer_response(Answer::Response(async_graphql::BatchResponse::Single(response)), media);
    }
    if !is_query(&state, &request) {
        let mut response = refuse(error_response_with_status(
            StatusCode::METHOD_NOT_ALLOWED,
            Error::BadUserInput(
                "GET /graphql runs queries only; send mutations with POST, and subscriptions over the WebSocket at /graphql/ws"
                    .to_owned(),
            ),
        ));
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let request = match principal {
        Some(Extension(principal)) => request.data(principal),
        None => request,
    };
    answer_response(
        state.schema.answer(async_graphql::BatchRequest::Single(request)).await,
        media,
    )
}

/// False when the operation `request` runs is a mutation or a subscription. A text the limits
/// refuse, one that does not parse, and one whose operation cannot be chosen count as a query:
/// the executor then answers with the error, as it does for POST.
fn is_query(state: &AppState, request: &async_graphql::Request) -> bool {
    use async_graphql::parser::types::OperationType;
    // The limits on the text come before parsing: a deeply nested text must never reach the
    // parser. A document the executor has cached is not parsed again.
    if crate::graphql::limits::check_text(&request.query, &state.settings.query_limits).is_err() {
        return true;
    }
    let cached = state.schema.documents().entry(&request.query);
    let parsed;
    let document = match &cached {
        Some(cached) => &cached.document,
        None => match async_graphql::parser::parse_query(&request.query) {
            Ok(document) => {
                parsed = document;
                &parsed
            }
            Err(_) => return true,
        },
    };
    // The operation async-graphql would run (`Schema::execute`): by name, or the only one.
    crate::graphql::complete::operation(document, request.operation_name.as_deref())
        .is_none_or(|operation| operation.ty == OperationType::Query)
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
