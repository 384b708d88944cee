//! The /dashboard and /explorer pages in a real browser: the real server on a seeded database,
//! driven by `tests/browser/run.mjs` (playwright-core + Debian's Chromium). Skipped with a
//! notice when Chromium, node or `tests/browser/node_modules` is missing, unless
//! DOMAINFLOW_REQUIRE_BROWSER=1 (as CI sets it), which fails instead.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::helpers::{Backend, TestDb};

/// Where the browser tests live, and the Chromium they drive.
fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// What is missing to run the browser tests (empty: nothing).
fn missing_prerequisites() -> Vec<String> {
    let mut missing = Vec::new();
    if !chromium().exists() {
        missing.push(format!("{} (apt-get install chromium)", chromium().display()));
    }
    if !browser_dir().join("node_modules/playwright-core").exists() {
        missing.push("tests/browser/node_modules (npm ci --prefix tests/browser)".to_owned());
    }
    let node = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !node.is_ok_and(|s| s.success()) {
        missing.push("node".to_owned());
    }
    missing
}

/// Whether the browser tests can run: with DOMAINFLOW_REQUIRE_BROWSER=1 a missing piece fails
/// the test; otherwise the test is skipped with a notice the harness does not capture.
fn browser_available() -> bool {
    let missing = missing_prerequisites();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("DOMAINFLOW_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!(
            "DOMAINFLOW_REQUIRE_BROWSER=1 but the browser tests cannot run: missing {}",
            missing.join(", ")
        );
    }
    use std::io::Write;
    let _ = std::io::stderr().write_all(
        format!(
            "\nNOTICE: browser tests SKIPPED: missing {} (DOMAINFLOW_REQUIRE_BROWSER=1 fails instead)\n",
            missing.join(", ")
        )
        .as_bytes(),
    );
    false
}

/// One Chromium at a time: the SQLite and PostgreSQL variants run in parallel otherwise, and
/// two browsers plus two servers on a small machine make the timing checks flaky.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Seeds one campaign chain, starts the server with `extra` settings and runs
/// `tests/browser/run.mjs` against it (with `token` as API_TOKEN); panics when it fails.
async fn run_browser_tests(db: &TestDb, extra: &[(&str, &str)], token: Option<&str>, label: &str) {
    // One campaign chain (generation → DNS → HTTP) of 3,000 domains: 120 pages of 25.
    db.seed_chain(3_000).await;
    let _browser = ONE_BROWSER.lock().await;
    // A threshold of 0 ms makes "Slow Database Queries" fire on any measured query; a
    // 1 s sampler writes history rows (the latency chart) within the test's seconds.
    let mut settings = vec![
        ("ALERT_SLOW_QUERY_MEAN_MS", "0"),
        ("METRICS_SAMPLE_INTERVAL_SECONDS", "1"),
    ];
    settings.extend_from_slice(extra);
    let app = db.spawn_app_with(&settings).await;
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser").join(label);
    let mut command = tokio::process::Command::new("node");
    command
        .arg(browser_dir().join("run.mjs"))
        .env("BASE_URL", &app.address)
        .env("ARTIFACTS_DIR", &artifacts)
        .env_remove("API_TOKEN")
        .env_remove("ONLY")
        .kill_on_drop(true);
    if let Some(token) = token {
        command.env("API_TOKEN", token);
    }
    // docs/screenshots come from the PostgreSQL run only.
    if label != "postgres" {
        command.env_remove("UPDATE_SCREENSHOTS");
    }
    let output = tokio::time::timeout(Duration::from_secs(240), command.output())
        .await
        .expect("the browser tests finish within 4 minutes")
        .expect("node runs");
    println!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    app.stop().await;
    assert!(
        output.status.success(),
        "tests/browser/run.mjs failed on {label} ({}); screenshots in {}",
        output.status,
        artifacts.display()
    );
}

db_test!(
    async fn dashboard_and_explorer_work_in_chromium(db) {
        if !browser_available() {
            return;
        }
        let label = match db.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        run_browser_tests(&db, &[], None, label).await;
    }
);

/// The same pages with access control on: the token box, the token in the WebSocket's
/// `connection_init` and on the export. SQLite only: token handling does not touch the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_work_with_api_tokens_in_chromium() {
    if !browser_available() {
        return;
    }
    let Some(db) = TestDb::new(Backend::Sqlite).await else {
        return;
    };
    let token = "browser-test-token-0123456789";
    let tokens = format!("browser:read+metrics:{token}");
    run_browser_tests(&db, &[("API_TOKENS", tokens.as_str())], Some(token), "sqlite-tokens").await;
}
