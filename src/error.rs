//! The one error type of the server, and its single mapping to GraphQL errors with
//! `extensions.code` (DESIGN.md, "The API contract"). Internal details are logged, never sent.

use async_graphql::ErrorExtensions;
use axum::http::StatusCode;
use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};

use crate::config::ConfigError;

/// Error codes clients can rely on; the full list of DESIGN.md.
pub mod code {
    pub const GRAPHQL_PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    pub const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const INVALID_CURSOR: &str = "INVALID_CURSOR";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const LIMIT_EXCEEDED: &str = "LIMIT_EXCEEDED";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    pub const TIMEOUT: &str = "TIMEOUT";
    pub const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const INTERNAL: &str = "INTERNAL";
}

/// Names of the request limits, as clients see them in `extensions.limit` of a LIMIT_EXCEEDED
/// error (README, "Running in production").
pub mod limit {
    /// Deepest nesting of fields (and, before parsing, of brackets) in a query.
    pub const DEPTH: &str = "depth";
    /// Estimated cost of a query: connections cost their page size × what they select.
    pub const COMPLEXITY: &str = "complexity";
    /// Aliased fields in one query document.
    pub const ALIASES: &str = "aliases";
    /// Fields selected at the root of an operation.
    pub const ROOT_FIELDS: &str = "rootFields";
    /// Directives on one field.
    pub const DIRECTIVES: &str = "directives";
    /// Operations in one batched request.
    pub const BATCH_SIZE: &str = "batchSize";
    /// Bytes of one query text.
    pub const QUERY_LENGTH: &str = "queryLength";
    /// Bytes of one request body.
    pub const BODY_SIZE: &str = "bodySize";
}

/// Everything that can go wrong while serving or starting up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client sent an argument we cannot accept; the message says what is allowed.
    #[error("{0}")]
    BadUserInput(String),
    /// A cursor that is not one of ours for this connection, ordering and filter.
    #[error("`{argument}` is not a valid cursor for this connection: {reason}")]
    InvalidCursor { argument: &'static str, reason: String },
    /// A lookup by id found nothing where something was required.
    #[error("{0} not found")]
    NotFound(String),
    /// A configured limit was exceeded. `limit` is the limit's name as clients see it in
    /// `extensions.limit` (`depth`, `complexity`, `bodySize`, …), `max` its configured value.
    #[error("{limit} exceeds the maximum of {max}")]
    LimitExceeded { limit: String, max: u64 },
    /// Too many requests from one token or address; try again after `retry_after_seconds`.
    #[error("too many requests; retry after {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    /// The database did not answer in time, or the whole request outlived its timeout.
    #[error("the operation timed out")]
    Timeout,
    /// No valid credentials: tokens are configured and the request has none that matches.
    /// The message never repeats what the client sent.
    #[error("{0}")]
    Unauthenticated(String),
    /// Valid credentials that lack the scope the operation needs.
    #[error("{0}")]
    Forbidden(String),
    /// The database cannot be reached.
    #[error("the database is unavailable; try again shortly")]
    ServiceUnavailable,
    /// The database is reachable but no connection came free in time (also
    /// SERVICE_UNAVAILABLE to clients; not an outage, so it does not trip the health state).
    #[error("the database is busy; try again shortly")]
    Overloaded,
    /// Any other database error: logged in full, reported to clients as INTERNAL.
    #[error("database error: {0}")]
    Database(DbErr),
    /// Bad configuration at start-up.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Anything else that is our fault.
    #[error("{0}")]
    Internal(String),
}

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        match &err {
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) => Self::Overloaded,
            DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed) | DbErr::Conn(_) => Self::ServiceUnavailable,
            DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e)) => match classify(e) {
                Some(mapped) => mapped,
                None => Self::Database(err),
            },
            _ => Self::Database(err),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        classify(&err).unwrap_or_else(|| Self::Database(DbErr::Custom(err.to_string())))
    }
}

/// The driver errors that mean "the database is unreachable or busy" (SERVICE_UNAVAILABLE)
/// or "the statement ran out of time" (TIMEOUT) rather than a fault of ours.
fn classify(err: &sqlx::Error) -> Option<Error> {
    match err {
        sqlx::Error::PoolTimedOut => Some(Error::Overloaded),
        sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed => {
            Some(Error::ServiceUnavailable)
        }
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // PostgreSQL: query_canceled (statement_timeout), lock_not_available.
            Some("57014") | Some("55P03") => Some(Error::Timeout),
            // PostgreSQL: admin/crash shutdown, cannot connect now, connection exceptions (08…).
            Some("57P01") | Some("57P02") | Some("57P03") => Some(Error::ServiceUnavailable),
            Some(code) if code.starts_with("08") => Some(Error::ServiceUnavailable),
            // SQLite: SQLITE_BUSY / SQLITE_LOCKED (and their extended codes): another
            // connection holds the lock past the busy timeout.
            Some(code) if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() => {
                match code.parse::<i32>().map(|c| c & 0xff) {
                    Ok(5) | Ok(6) => Some(Error::ServiceUnavailable),
                    _ => None,
                }
            }
            _ => None,
        },
        _ => None,
    }
}

impl Error {
    /// The `extensions.code` of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadUserInput(_) => code::BAD_USER_INPUT,
            Self::InvalidCursor { .. } => code::INVALID_CURSOR,
            Self::NotFound(_) => code::NOT_FOUND,
            Self::LimitExceeded { .. } => code::LIMIT_EXCEEDED,
            Self::RateLimited { .. } => code::RATE_LIMITED,
            Self::Timeout => code::TIMEOUT,
            Self::Unauthenticated(_) => code::UNAUTHENTICATED,
            Self::Forbidden(_) => code::FORBIDDEN,
            Self::ServiceUnavailable | Self::Overloaded => code::SERVICE_UNAVAILABLE,
            Self::Database(_) | Self::Config(_) | Self::Internal(_) => code::INTERNAL,
        }
    }

    /// The HTTP status of a request this error ends before GraphQL execution starts. (Inside a
    /// GraphQL response an error is one entry of `errors` and the status stays 200.)
    pub fn http_status(&self) -> StatusCode {
        match self {
            Self::BadUserInput(_) | Self::InvalidCursor { .. } => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::LimitExceeded { limit: name, .. } if name == limit::BODY_SIZE => StatusCode::PAYLOAD_TOO_LARGE,
            Self::LimitExceeded { .. } => StatusCode::BAD_REQUEST,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Self::ServiceUnavailable | Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Database(_) | Self::Config(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// This error as one entry of a GraphQL response's `errors`, with its `extensions`.
    pub fn into_server_error(self) -> async_graphql::ServerError {
        let mut err = async_graphql::Error::from(ApiError::from(self)).into_server_error(async_graphql::Pos::default());
        // Not tied to a place in the query text.
        err.locations.clear();
        err
    }

    /// The message a client may see: ours for client errors, a generic line for our faults.
    fn public_message(&self) -> String {
        match self {
            Self::Database(_) | Self::Config(_) | Self::Internal(_) => {
                "internal server error; it has been logged".to_owned()
            }
            other => other.to_string(),
        }
    }
}

/// The error type of GraphQL resolvers: our [`Error`] on its way to the client.
///
/// It deliberately does not implement `Display`: async-graphql converts every `Display` type
/// into an error *without* a code, so a resolver returning `Result<T, ApiError>` can only ever
/// produce errors that went through [`Error::code`] and [`Error::public_message`].
#[derive(Debug, Clone)]
pub struct ApiError(std::sync::Arc<Error>);

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        Self(std::sync::Arc::new(err))
    }
}

impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        Error::from(err).into()
    }
}

/// Result of a GraphQL resolver.
pub type ApiResult<T> = std::result::Result<T, ApiError>;

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        let err = &*err.0;
        if err.code() == code::INTERNAL {
            tracing::error!(error = %err, "internal error while resolving a GraphQL request");
        }
        let code = err.code();
        let mut gql = async_graphql::Error::new(err.public_message()).extend_with(|_, e| e.set("code", code));
        match err {
            Error::LimitExceeded { limit, max } => {
                gql = gql.extend_with(|_, e| {
                    e.set("limit", limit.as_str());
                    e.set("max", *max);
                });
            }
            Error::InvalidCursor { argument, .. } => {
                gql = gql.extend_with(|_, e| e.set("argument", *argument));
            }
            Error::RateLimited { retry_after_seconds } => {
                gql = gql.extend_with(|_, e| e.set("retryAfterSeconds", *retry_after_seconds));
            }
            _ => {}
        }
        gql
    }
}

/// Result with the server's error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
