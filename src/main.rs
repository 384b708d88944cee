//! `domainflow`: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: a GraphQL page allocates a few thousand small
/// objects per request, and glibc malloc/free was a fifth of the server's CPU (BENCHMARKS.md,
/// issue 8).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = domainflow::cli::Cli::parse();
    let env = std::env::vars().collect();
    match domainflow::cli::run(cli, env).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
