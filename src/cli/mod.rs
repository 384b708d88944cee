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
// Parsed once per process: the perf-test variant being large costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
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
        #[command(flatten)]
        options: crate::perf::PerfOptions,
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
            mut options,
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
            options.server = server;
            options.progress = !quiet;
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
