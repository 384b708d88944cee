//! Database outages: the server starts while the database is down (not ready, requests fail
//! fast with SERVICE_UNAVAILABLE), serves once it comes up, fails fast again when it goes
//! away, and recovers by itself when it returns — on a throwaway PostgreSQL cluster this test
//! starts and stops itself (not the shared one), and on SQLite with another connection
//! holding an exclusive lock. A statement running past DB_STATEMENT_TIMEOUT_SECONDS ends as
//! TIMEOUT and leaves its connection healthy.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use domainflow::config::Settings;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestDb};

const BIN: &str = "/usr/lib/postgresql/15/bin";
const QUERY: &str = "{ campaigns(first: 5) { totalCount edges { cursor } } }";
/// Longer than any fail-fast answer may take, far shorter than the acquire timeout the
/// tests configure (30 s): an answer within it was not a wait for a connection.
const FAST: Duration = Duration::from_secs(5);

/// A PostgreSQL cluster of the test's own: initdb into a temporary directory, a free port,
/// a temporary socket directory; run as the postgres user (initdb refuses root).
struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
}

impl Cluster {
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn as_postgres(args: &[&str]) -> std::process::Output {
        let output = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .args(args)
            .output()
            .expect("runuser runs");
        assert!(
            output.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn init() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("domainflow-pg-")
            .tempdir()
            .expect("temp dir");
        Command::new("chown")
            .args(["postgres:postgres", &dir.path().display().to_string()])
            .status()
            .expect("chown");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let cluster = Self { dir, port };
        let data = cluster.data().display().to_string();
        Self::as_postgres(&[
            &format!("{BIN}/initdb"),
            "-D",
            &data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ]);
        cluster
    }

    fn start(&self) {
        let data = self.data().display().to_string();
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        Self::as_postgres(&[
            &format!("{BIN}/pg_ctl"),
            "-D",
            &data,
            "-o",
            &options,
            "-l",
            &log,
            "-w",
            "start",
        ]);
    }

    fn stop(&self) {
        let data = self.data().display().to_string();
        Self::as_postgres(&[&format!("{BIN}/pg_ctl"), "-D", &data, "-m", "fast", "-w", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data().display().to_string();
        let _ = Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                &format!("{BIN}/pg_ctl"),
                "-D",
                &data,
                "-m",
                "immediate",
                "stop",
            ])
            .output();
    }
}

fn settings(url: &str) -> Settings {
    let env = HashMap::from([
        ("DATABASE_URL".to_owned(), url.to_owned()),
        ("HOST".to_owned(), "127.0.0.1".to_owned()),
        ("PORT".to_owned(), "0".to_owned()),
        ("DB_MAX_OPEN_CONNS".to_owned(), "4".to_owned()),
        ("DB_CONNECT_TIMEOUT_SECONDS".to_owned(), "1".to_owned()),
        ("DB_ACQUIRE_TIMEOUT_SECONDS".to_owned(), "30".to_owned()),
        ("SHUTDOWN_GRACE_SECONDS".to_owned(), "5".to_owned()),
        ("RUST_LOG".to_owned(), "error".to_owned()),
    ]);
    Settings::load(&env, None).expect("settings")
}

/// Sends the query; (its error code if any, how long the answer took).
async fn ask(app: &TestApp) -> (Option<String>, Duration) {
    let started = Instant::now();
    let body = app.graphql(QUERY, json!({})).await;
    let code = body["errors"][0]["extensions"]["code"].as_str().map(str::to_owned);
    if code.is_none() {
        assert!(body["data"]["campaigns"]["totalCount"].is_i64(), "{body}");
    }
    (code, started.elapsed())
}

/// Polls until the query succeeds (the server recovered by itself).
async fn until_served(app: &TestApp, limit: Duration) {
    let started = Instant::now();
    loop {
        if ask(app).await.0.is_none() {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "not serving {limit:?} after the database returned"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn ready(app: &TestApp) -> (u16, Value) {
    let (status, body) = app.get("/readyz").await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_at_start_then_up_then_down_then_back() {
    if Command::new("runuser").arg("--help").output().is_err() {
        panic!("runuser is needed to run a throwaway PostgreSQL as the postgres user");
    }
    let cluster = Cluster::init();

    // Down at start: the server starts anyway, is not ready, and fails fast.
    let app = TestApp::spawn(settings(&cluster.url())).await;
    let (status, body) = ready(&app).await;
    assert_eq!((status, body["database"].as_str()), (503, Some("starting")), "{body}");
    for _ in 0..3 {
        let (code, took) = ask(&app).await;
        assert_eq!(code.as_deref(), Some("SERVICE_UNAVAILABLE"));
        assert!(took < FAST, "failed fast, not after the acquire timeout: {took:?}");
    }

    // Up: start-up finishes by itself (migrations run), requests are served.
    cluster.start();
    until_served(&app, Duration::from_secs(30)).await;
    assert_eq!(ready(&app).await.0, 200);

    // Down while serving: requests fail with SERVICE_UNAVAILABLE, then fast.
    cluster.stop();
    let started = Instant::now();
    loop {
        let (code, _) = ask(&app).await;
        if code.is_some() {
            assert_eq!(code.as_deref(), Some("SERVICE_UNAVAILABLE"));
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the outage was never noticed"
        );
    }
    for _ in 0..3 {
        let (code, took) = ask(&app).await;
        assert_eq!(code.as_deref(), Some("SERVICE_UNAVAILABLE"));
        assert!(took < FAST, "failed fast during the outage: {took:?}");
    }
    let (status, body) = ready(&app).await;
    assert_eq!((status, body["database"].as_str()), (503, Some("down")), "{body}");

    // Back: recovers without a restart, data intact.
    cluster.start();
    until_served(&app, Duration::from_secs(30)).await;
    assert_eq!(ready(&app).await.0, 200);
    app.stop().await;
}

/// A connection to the SQLite file that takes the database's exclusive lock and holds it
/// until dropped (rollback-journal locking: no other connection can read or write).
async fn hold_exclusive_lock(url: &str) -> sqlx::SqliteConnection {
    use sqlx::{ConnectOptions, Executor};
    let mut conn = url
        .parse::<sqlx::sqlite::SqliteConnectOptions>()
        .expect("sqlite url")
        .connect()
        .await
        .expect("lock holder connects");
    conn.execute("PRAGMA journal_mode = DELETE")
        .await
        .expect("journal mode");
    conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        .await
        .expect("locking mode");
    conn.execute("BEGIN EXCLUSIVE").await.expect("exclusive lock");
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_locked_at_start_then_released() {
    let Some(db) = TestDb::new(Backend::Sqlite).await else {
        return;
    };
    let url = db.url.clone();
    db.db.clone().close().await.expect("close the harness connection");
    let lock = hold_exclusive_lock(&url).await;

    let mut settings = settings(&url);
    settings.db_acquire_timeout = Duration::from_secs(1);
    let app = TestApp::spawn(settings).await;
    let (status, body) = ready(&app).await;
    assert_eq!(status, 503, "{body}");
    for _ in 0..3 {
        let (code, took) = ask(&app).await;
        assert_eq!(code.as_deref(), Some("SERVICE_UNAVAILABLE"));
        assert!(took < FAST, "{took:?}");
    }

    drop(lock);
    until_served(&app, Duration::from_secs(30)).await;
    assert_eq!(ready(&app).await.0, 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_past_the_timeout_is_a_timeout_and_the_pool_stays_healthy() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    // One connection: if the cancelled statement broke it, the next query would fail.
    let settings = db.settings(&[("DB_STATEMENT_TIMEOUT_SECONDS", "1"), ("DB_MAX_OPEN_CONNS", "1")]);
    let app = TestApp::spawn(settings.clone()).await;
    // Make the next count slow: a lock on the counts table held by another session makes the
    // totalCount subquery wait past the statement timeout.
    let blocker = db.another_connection().await;
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let txn = blocker.begin().await.expect("begin");
    txn.execute_unprepared("LOCK TABLE campaigns IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let started = Instant::now();
    let (code, took) = ask(&app).await;
    assert_eq!(code.as_deref(), Some("TIMEOUT"));
    assert!(took >= Duration::from_millis(900) && took < FAST, "{took:?}");
    let _ = started;
    txn.rollback().await.expect("release");
    let (code, _) = ask(&app).await;
    assert_eq!(code, None, "the connection went back to the pool healthy");
    app.stop().await;
}
