//! What every request to /graphql and /metrics passes before its handler runs, in this order:
//! the per-address rate limit (before authentication, so guessing tokens is throttled too),
//! authentication (bearer token → [`Principal`](crate::auth::Principal)), the per-token rate limit, and the request
//! timeout around everything after that. Also the one place that turns an [`Error`] into an
//! HTTP response for requests that never reach the GraphQL executor.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::AccessControl;
use crate::config::Settings;
use crate::error::Error;

use super::AppState;
use super::rate_limit::KeyedLimiter;

/// Access control, rate limits and the request timeout, built once from the settings.
#[derive(Debug)]
pub struct Gatekeeper {
    access: AccessControl,
    per_address: Option<KeyedLimiter<IpAddr>>,
    per_token: Option<KeyedLimiter<Arc<str>>>,
    timeout: Duration,
}

impl Gatekeeper {
    /// The gatekeeper the settings describe.
    pub fn new(settings: &Settings) -> Self {
        Self {
            access: AccessControl::new(settings.api_tokens.clone()),
            per_address: settings.rate_limit_per_address.map(KeyedLimiter::new),
            per_token: settings.rate_limit_per_token.map(KeyedLimiter::new),
            timeout: settings.request_timeout,
        }
    }

    /// The configured tokens, e.g. for checking a WebSocket `connection_init` payload with
    /// [`AccessControl::authenticate_connection_init`] once subscriptions exist.
    pub fn access(&self) -> &AccessControl {
        &self.access
    }
}

/// The middleware in front of /graphql and /metrics (see the module documentation).
pub async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let gate = &state.gate;
    let now = Instant::now();
    if let Some(limiter) = &gate.per_address
        && let Some(ConnectInfo(address)) = request.extensions().get::<ConnectInfo<SocketAddr>>()
        && let Err(wait) = limiter.check(&address.ip(), now)
    {
        tracing::warn!(address = %address.ip(), "rate limited (per address)");
        return error_response(rate_limited(wait));
    }
    let deferred = is_websocket_without_token(&request);
    if !is_graphiql_page(&request) && !deferred {
        let header = request.headers().get(header::AUTHORIZATION).map(HeaderValue::as_bytes);
        let principal = match gate.access.authenticate_header(header) {
            Ok(principal) => principal,
            Err(err) => {
                // The reason is ours ("missing", "not valid"), never the token itself.
                tracing::warn!(reason = %err, "request refused: not authenticated");
                return error_response(err);
            }
        };
        if let Some(name) = &principal.token {
            tracing::Span::current().record("token", name.as_ref());
            if let Some(limiter) = &gate.per_token
                && let Err(wait) = limiter.check(name, now)
            {
                tracing::warn!(token = name.as_ref(), "rate limited (per token)");
                return error_response(rate_limited(wait));
            }
        }
        request.extensions_mut().insert(principal);
    }
    match tokio::time::timeout(gate.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_elapsed) => {
            tracing::warn!(timeout_ms = gate.timeout.as_millis() as u64, "request timed out");
            error_response(Error::Timeout)
        }
    }
}

fn rate_limited(wait: Duration) -> Error {
    Error::RateLimited {
        // `as` saturates: Duration::MAX becomes u64::MAX seconds.
        retry_after_seconds: wait.as_secs_f64().ceil().max(1.0) as u64,
    }
}

/// True for a browser asking GET /graphql for the GraphiQL page (no query): the page is static
/// and holds no data, so it is served without a token — the token goes into GraphiQL's headers.
pub fn is_graphiql_page(request: &Request) -> bool {
    request.method() == Method::GET
        && request.uri().path() == "/graphql"
        && request.uri().query().is_none_or(str::is_empty)
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
}

/// True for a WebSocket upgrade of /graphql/ws without an Authorization header: browsers
/// cannot send one, so the token is checked in the `connection_init` message instead (see
/// `graphql_ws`); nothing is served before that check.
pub fn is_websocket_without_token(request: &Request) -> bool {
    request.uri().path() == "/graphql/ws"
        && !request.headers().contains_key(header::AUTHORIZATION)
        && request
            .headers()
            .get(header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// A request-level error as a GraphQL-shaped JSON response with the status the error implies.
pub fn error_response(err: Error) -> Response {
    let status = err.http_status();
    error_response_with_status(status, err)
}

/// Like [`error_response`] with an explicit status (e.g. 415 for a wrong content type).
pub fn error_response_with_status(status: StatusCode, err: Error) -> Response {
    let extra_header = match &err {
        Error::RateLimited { retry_after_seconds } => Some((header::RETRY_AFTER, retry_after_seconds.to_string())),
        Error::Unauthenticated(_) => Some((header::WWW_AUTHENTICATE, "Bearer".to_owned())),
        _ => None,
    };
    let body = Json(json!({ "errors": [err.into_server_error()] }));
    let mut response = (status, body).into_response();
    if let Some((name, value)) = extra_header
        && let Ok(value) = HeaderValue::from_str(&value)
    {
        response.headers_mut().insert(name, value);
    }
    response
}

/// The CORS layer for the configured origins; None when none are configured (browsers then
/// allow same-origin pages only).
pub fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        // Settings validated every origin as a header value; one that is not is skipped.
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
            .expose_headers([
                header::RETRY_AFTER,
                super::REQUEST_ID,
                header::HeaderName::from_static(super::export::TOTAL_COUNT),
            ])
            .max_age(Duration::from_secs(600)),
    )
}
