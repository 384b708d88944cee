//! Scopes on GraphQL fields: `read` for data, `metrics` for `Query.metrics`. The HTTP layer
//! authenticates the request and attaches its [`Principal`]; these guards sit on the root
//! objects, so every field below a root field is covered by the root field's check.

use async_graphql::{Context, Guard};

use crate::auth::{Principal, Scope};
use crate::error::{ApiError, Error};

/// Refuses the field with FORBIDDEN unless the request's principal has the scope.
pub struct RequireScope(pub Scope);

impl Guard for RequireScope {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        // Fail closed: a request executed without going through the HTTP layer's
        // authentication has no principal, and gets nothing.
        let principal = ctx
            .data::<Principal>()
            .map_err(|_| ApiError::from(Error::Internal("request executed without a principal".to_owned())))?;
        principal.require(self.0).map_err(|err| ApiError::from(err).into())
    }
}
