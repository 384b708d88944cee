//! Database access shared by the GraphQL resolvers.

pub mod counts;
