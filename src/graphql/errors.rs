//! Gives every error an `extensions.code`, including async-graphql's own parse, validation and
//! limit errors (DESIGN.md, "The API contract"). Called by the [executor](super::execute) on
//! every answer.

use async_graphql::{Response, ServerError, Value};

use crate::error::code;

use super::limits::{QueryLimits, builtin_limit, exceeded};

/// An error with a message and a code, for refusals that are not one of our [`Error`]s
/// (`crate::error::Error`) — e.g. a validation failure found by our own checks.
pub(super) fn coded(message: String, code: &str) -> ServerError {
    let mut err = ServerError::new(message, None);
    set_code(&mut err, code);
    err
}

/// Beginnings of the messages async-graphql gives, outside parsing and validation, to a
/// request that is at fault (it has no error kinds for them): input coercion of arguments
/// (`InputValueError`: "Expected input type …", "Failed to parse …", "Invalid value …"),
/// the choice of the operation, an undefined variable or fragment. Variables are coerced by
/// the server before execution (`variables`), so these are the rare leftovers; the test
/// `every_client_mistake_has_a_client_code` sends every kind of wrong input to every
/// argument of the schema and fails when one comes back INTERNAL.
const CLIENT_ERRORS: [&str; 10] = [
    "Expected input type",
    "Failed to parse",
    "Invalid value",
    "Invalid number",
    "Only integers",
    "Unknown operation named",
    "Operation name required",
    "Variable ",
    "Subscriptions are not supported",
    "Unknown fragment",
];

fn is_client_error(message: &str) -> bool {
    CLIENT_ERRORS.iter().any(|prefix| message.starts_with(prefix))
}

/// Replaces one of async-graphql's limit errors by ours (same limit, uniform message, `limit`
/// and `max`); None when `err` is not one.
fn limit_error(err: &ServerError, limits: &QueryLimits) -> Option<ServerError> {
    let name = builtin_limit(&err.message)?;
    let mut ours = exceeded(name, limits.max_of(name));
    ours.locations.clone_from(&err.locations);
    Some(ours)
}

fn has_code(err: &ServerError) -> bool {
    err.extensions.as_ref().is_some_and(|ext| ext.get("code").is_some())
}

fn set_code(err: &mut ServerError, code: &str) {
    err.extensions
        .get_or_insert_with(Default::default)
        .set("code", Value::from(code));
}

/// Beginnings of the messages async-graphql gives, before executing, to a request whose
/// operation cannot be chosen or run (no validation rule's messages start so).
const OPERATION_ERRORS: [&str; 3] = [
    "Unknown operation named",
    "Operation name required",
    "Subscriptions are not supported",
];

/// Codes a parse failure: GRAPHQL_PARSE_FAILED, or LIMIT_EXCEEDED for the parser's own
/// recursion limit.
pub(super) fn code_parse_error(mut err: ServerError, limits: &QueryLimits) -> ServerError {
    if let Some(limit) = limit_error(&err, limits) {
        return limit;
    }
    if !has_code(&err) {
        set_code(&mut err, code::GRAPHQL_PARSE_FAILED);
    }
    err
}

/// Gives every error of a finished response a code. Resolver errors come coded (ApiError);
/// what is left is async-graphql's: before execution (an answer with no data whose errors have
/// no path) its limit checks, its validation and the choice of the operation; during execution
/// a request at fault (an argument value, a variable) or, failing all that, our fault.
pub(super) fn code_response(mut response: Response, limits: &QueryLimits) -> Response {
    let before_execution = response.data == Value::Null && response.errors.iter().all(|e| e.path.is_empty());
    for err in response.errors.iter_mut().filter(|e| !has_code(e)) {
        if before_execution {
            if OPERATION_ERRORS.iter().any(|prefix| err.message.starts_with(prefix)) {
                set_code(err, code::BAD_USER_INPUT);
            } else if let Some(limit) = limit_error(err, limits) {
                *err = limit;
            } else {
                set_code(err, code::GRAPHQL_VALIDATION_FAILED);
            }
        } else if is_client_error(&err.message) {
            set_code(err, code::BAD_USER_INPUT);
        } else {
            tracing::error!(message = %err.message, "uncoded GraphQL error");
            err.message = "internal server error; it has been logged".to_owned();
            set_code(err, code::INTERNAL);
        }
    }
    response
}
