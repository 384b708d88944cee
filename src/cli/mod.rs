//! The command line: `serve` (the default), `migrate`, `seed`, `export-schema`.

use std::collections::HashMap;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use migration::{Migrator, MigratorTrait};

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::startup::Application;

/// DomainFlow campaign API: a GraphQL server for paging through very large campaign result
/// sets (generated domains, DNS results, HTTP keyword results) in constant time.
///
/// With no DATABASE_URL it uses an embedded SQLite file (./domainflow.db) and fills it with
/// demo data, so `domainflow` alone serves GraphiQL at http://127.0.0.1:8080/graphql.
/// Settings come from the environment, then the JSON file given with --config (or
/// DOMAINFLOW_CONFIG), then defaults; README.md lists them all.
#[derive(Debug, Parser)]
#[command(name = "domainflow", version, about, long_about)]
pub struct Cli {
    /// JSON config file (shape: {"server":{…},"database":{…},"graphql":{…},"log":{…}}).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the GraphQL server (the default): POST/GET /graphql, GraphiQL in a browser at
    /// GET /graphql, /healthz (alive) and /readyz (database reachable). Stops gracefully on
    /// SIGINT/SIGTERM.
    Serve,
    /// Manage the database schema.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Load deterministic demo/benchmark data: C chains of a domain-generation campaign with
    /// N domains, its DNS-validation campaign and its HTTP-keyword campaign. Re-running
    /// resumes where a previous run stopped and never duplicates a row.
    Seed {
        /// Number of campaign chains.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
        campaigns: u32,
        /// Generated domains per chain.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
        domains: u64,
        /// Hide the progress bars.
        #[arg(long)]
        quiet: bool,
    },
    /// The performance suite against the configured database and a server started from this
    /// binary: page latency by depth, every connection shape on a 10K and the large campaign,
    /// index usage (EXPLAIN ANALYZE), OFFSET vs cursor, 1000-page walks, memory stability and
    /// concurrent access. Seeds the data when missing. Exits non-zero when a target is missed.
    PerfTest {
        /// Generated domains in the campaign paged through (seeded when missing).
        #[arg(long, default_value_t = 2_000_000)]
        domains: u64,
        /// Timed requests per point.
        #[arg(long, default_value_t = 200)]
        requests: usize,
        /// Untimed warm-up requests per point.
        #[arg(long, default_value_t = 20)]
        warmup: usize,
        /// Target: slowest/fastest p50 across depths.
        #[arg(long, default_value_t = 1.5)]
        max_depth_ratio: f64,
        /// Target: p50 of every point, in milliseconds.
        #[arg(long, default_value_t = 5.0)]
        max_p50_ms: f64,
        /// Target: p50 cost of adding totalCount, in milliseconds.
        #[arg(long, default_value_t = 1.0)]
        max_total_count_ms: f64,
        /// Concurrent users of the load phase (0 skips it).
        #[arg(long, default_value_t = 20)]
        users: usize,
        /// Requests per user in the load phase.
        #[arg(long, default_value_t = 100)]
        queries_per_user: usize,
        /// Also compare recording on vs off (target < 2 % of throughput) and the adaptive
        /// limit vs a fixed one under overload (4× the users on an 8-connection pool).
        #[arg(long)]
        compare: bool,
        /// Pages of the cursor walk, forwards from the start and backwards from the end.
        #[arg(long, default_value_t = 1000)]
        walk_pages: usize,
        /// Passes over the mixed workload for the memory-stability check (0 skips it).
        #[arg(long, default_value_t = 1000)]
        memory_iterations: usize,
        /// Target: server RSS growth over the memory-stability run, in percent.
        #[arg(long, default_value_t = 10.0)]
        max_memory_growth_percent: f64,
        /// Generated domains of the small campaign of the large-dataset component (seeded
        /// when missing; 0 skips it).
        #[arg(long, default_value_t = 10_000)]
        small_domains: u64,
        /// Timed requests per page window of each connection shape (large-dataset component).
        #[arg(long, default_value_t = 10)]
        shape_requests: usize,
        /// Target: OFFSET/keyset SQL time at page 1000 (row 50,000).
        #[arg(long, default_value_t = 25.0)]
        min_offset_ratio_page_1000: f64,
        /// Target: OFFSET/keyset SQL time at page 20,000 (row 1,000,000).
        #[arg(long, default_value_t = 100.0)]
        min_offset_ratio_row_1m: f64,
        /// Target: p99 of the concurrent-access run, in milliseconds.
        #[arg(long, default_value_t = 50.0)]
        max_load_p99_ms: f64,
        /// Target: the server's peak RSS, in MiB.
        #[arg(long, default_value_t = 64.0)]
        max_server_rss_mib: f64,
        /// Bounded soak after the concurrent-access run: seconds (0 skips it) …
        #[arg(long, default_value_t = 60)]
        soak_seconds: u64,
        /// … and concurrent users (connections on loopback).
        #[arg(long, default_value_t = 200)]
        soak_users: usize,
        /// Run the server inside the perf-test process instead of as a child process
        /// (latency and RSS then include the load generator's).
        #[arg(long)]
        in_process: bool,
        /// Hide the progress bar.
        #[arg(long)]
        quiet: bool,
        /// Also write the report as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Print the GraphQL schema (SDL); `schema.graphql` is its committed output.
    ExportSchema {
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply all pending migrations.
    Up,
    /// Roll back migrations (the last one by default).
    Down {
        /// How many migrations to roll back.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
    /// Drop every table and apply all migrations from scratch (destroys data).
    Fresh,
}

/// Runs the parsed command with the given environment.
pub async fn run(cli: Cli, env: HashMap<String, String>) -> Result<()> {
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::ExportSchema { output } = &command {
        let sdl = crate::graphql::export_sdl();
        return match output {
            Some(path) => {
                std::fs::write(path, sdl).map_err(|e| Error::Internal(format!("cannot write {}: {e}", path.display())))
            }
            None => {
                print!("{sdl}");
                Ok(())
            }
        };
    }
    let mut settings = Settings::load(&env, cli.config.as_deref())?;
    if !matches!(command, Command::Serve) {
        // Migrations, seeding and measurements run long statements on purpose.
        settings.db_statement_timeout = std::time::Duration::ZERO;
    }
    crate::telemetry::init(&settings);
    match command {
        Command::Serve => {
            let app = Application::build(settings).await?;
            app.run_until_stopped()
                .await
                .map_err(|e| Error::Internal(format!("server error: {e}")))
        }
        Command::Migrate { action } => {
            let db = crate::db::connect(&settings).await?;
            match action {
                MigrateAction::Up => crate::db::migrate(&db, &settings).await?,
                MigrateAction::Down { steps } => Migrator::down(&db, Some(steps)).await?,
                MigrateAction::Fresh => Migrator::fresh(&db).await?,
                MigrateAction::Status => {
                    for migration in Migrator::get_migration_with_status(&db).await? {
                        println!("{:<10} {}", format!("{:?}", migration.status()), migration.name());
                    }
                }
            }
            Ok(())
        }
        Command::Seed {
            campaigns,
            domains,
            quiet,
        } => {
            let db = crate::db::connect(&settings).await?;
            if settings.auto_migrate {
                crate::db::migrate(&db, &settings).await?;
            }
            let options = crate::seed::SeedOptions {
                campaigns,
                domains,
                progress: !quiet,
            };
            let report = crate::seed::seed(&db, &options).await?;
            println!("{report}");
            Ok(())
        }
        Command::PerfTest {
            domains,
            requests,
            warmup,
            max_depth_ratio,
            max_p50_ms,
            max_total_count_ms,
            users,
            queries_per_user,
            compare,
            walk_pages,
            memory_iterations,
            max_memory_growth_percent,
            small_domains,
            shape_requests,
            min_offset_ratio_page_1000,
            min_offset_ratio_row_1m,
            max_load_p99_ms,
            max_server_rss_mib,
            soak_seconds,
            soak_users,
            in_process,
            quiet,
            json,
        } => {
            let server = if in_process {
                crate::perf::server::ServerMode::InProcess
            } else {
                crate::perf::server::ServerMode::Child {
                    binary: std::env::current_exe()
                        .map_err(|e| Error::Internal(format!("cannot find this program's binary: {e}")))?,
                    env: env.clone(),
                    config: cli.config.clone(),
                }
            };
            let options = crate::perf::PerfOptions {
                domains,
                requests,
                warmup,
                max_depth_ratio,
                max_p50_ms,
                max_total_count_cost_ms: max_total_count_ms,
                users,
                queries_per_user,
                compare,
                walk_pages,
                memory_iterations,
                max_memory_growth_percent,
                small_domains,
                shape_requests,
                min_offset_ratio_page_1000,
                min_offset_ratio_row_1m,
                max_load_p99_ms,
                max_server_rss_mib,
                soak_seconds,
                soak_users,
                server,
                progress: !quiet,
            };
            let report = crate::perf::run(settings, &options).await?;
            if let Some(path) = json {
                let text = serde_json::to_string_pretty(&report).map_err(|e| Error::Internal(e.to_string()))?;
                std::fs::write(&path, text)
                    .map_err(|e| Error::Internal(format!("cannot write {}: {e}", path.display())))?;
            }
            if report.failures.is_empty() {
                println!(
                    "perf-test: all targets met ({} depth points, {} connection shapes, {} plans)",
                    report.points.len(),
                    report.datasets.len(),
                    report.index_usage.len()
                );
                Ok(())
            } else {
                for failure in &report.failures {
                    println!("MISSED: {failure}");
                }
                Err(Error::Internal(format!(
                    "{} perf-test target(s) missed",
                    report.failures.len()
                )))
            }
        }
        Command::ExportSchema { .. } => Ok(()),
    }
}
