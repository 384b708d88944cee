//! Integration tests: the real router against real databases (SQLite and PostgreSQL).

#[macro_use]
mod helpers;

mod browser;
mod compiled;
mod config;
mod counts;
mod explain;
mod graphql;
mod hardening;
mod health;
mod http_spec;
mod metrics;
mod migrations;
mod outage;
mod pagination;
mod perf;
mod persisted;
mod prometheus;
mod sampler;
mod schema;
mod seed;
mod shutdown;
mod spec;
mod web;
