//! DomainFlow campaign API: a GraphQL server that pages through very large campaign result
//! sets in constant time and reports on its own health. `main.rs` only parses the CLI.

pub mod db;
pub mod entity;
