//! One response hook that gives every error an `extensions.code`, including async-graphql's
//! own parse, validation and limit errors (DESIGN.md, "The API contract").

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Value, Variables};

use crate::error::code;

use super::limits::{QueryLimits, builtin_limit, exceeded};

/// Factory of the error-code extension. It knows the query limits so that async-graphql's own
/// limit errors carry `extensions.limit` and `max` like ours.
pub struct ErrorCodes {
    pub limits: QueryLimits,
}

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension { limits: self.limits })
    }
}

struct ErrorCodesExtension {
    limits: QueryLimits,
}

/// An error with a message and a code, for refusals that are not one of our [`Error`]s
/// (`crate::error::Error`) — e.g. a validation failure found by our own checks.
pub(super) fn coded(message: String, code: &str) -> ServerError {
    let mut err = ServerError::new(message, None);
    set_code(&mut err, code);
    err
}

/// Beginnings of the messages async-graphql gives, outside parsing and validation, to a
/// request that is at fault (it has no error kinds for them).
const CLIENT_ERRORS: [&str; 7] = [
    "Failed to parse",
    "Invalid value",
    "Unknown operation named",
    "Operation name required",
    "Variable ",
    "Subscriptions are not supported",
    "Unknown fragment",
];

fn is_client_error(message: &str) -> bool {
    CLIENT_ERRORS.iter().any(|prefix| message.starts_with(prefix))
}

impl ErrorCodesExtension {
    /// Replaces one of async-graphql's limit errors by ours (same limit, uniform message,
    /// `limit` and `max`); None when `err` is not one.
    fn limit_error(&self, err: &ServerError) -> Option<ServerError> {
        let name = builtin_limit(&err.message)?;
        let mut ours = exceeded(name, self.limits.max_of(name));
        ours.locations.clone_from(&err.locations);
        Some(ours)
    }
}

fn has_code(err: &ServerError) -> bool {
    err.extensions.as_ref().is_some_and(|ext| ext.get("code").is_some())
}

fn set_code(err: &mut ServerError, code: &str) {
    err.extensions
        .get_or_insert_with(Default::default)
        .set("code", Value::from(code));
}

#[async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        for err in response.errors.iter_mut().filter(|e| !has_code(e)) {
            // Resolver errors always come coded (ApiError); what is left is async-graphql
            // rejecting the request itself (an argument value, the operation to run, a missing
            // variable) after validation.
            if is_client_error(&err.message) {
                set_code(err, code::BAD_USER_INPUT);
            } else {
                tracing::error!(message = %err.message, "uncoded GraphQL error");
                err.message = "internal server error; it has been logged".to_owned();
                set_code(err, code::INTERNAL);
            }
        }
        response
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables).await.map_err(|mut err| {
            if let Some(limit) = self.limit_error(&err) {
                return limit;
            }
            if !has_code(&err) {
                set_code(&mut err, code::GRAPHQL_PARSE_FAILED);
            }
            err
        })
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|mut errors| {
            for err in errors.iter_mut().filter(|e| !has_code(e)) {
                match self.limit_error(err) {
                    Some(limit) => *err = limit,
                    None => set_code(err, code::GRAPHQL_VALIDATION_FAILED),
                }
            }
            errors
        })
    }
}
