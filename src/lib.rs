//! DomainFlow campaign API: a GraphQL server that pages through very large campaign result
//! sets in constant time and reports on its own health. `main.rs` only parses the CLI.

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod entity;
pub mod error;
pub mod graphql;
pub mod http;
pub mod metrics;
pub mod pagination;
pub mod perf;
pub mod seed;
pub mod startup;
pub mod telemetry;
