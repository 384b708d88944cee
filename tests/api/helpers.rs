//! Test harness: a fresh database per test (a UUID-named PostgreSQL database dropped
//! afterwards, or a temp-file SQLite), the real application on a random port, and the
//! `db_test!` macro that runs one test body on both backends.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::sync::OnceLock;

use domainflow::config::Settings;
use domainflow::startup::Application;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};

/// Runs the body once on SQLite and once on PostgreSQL, each with a fresh migrated database:
/// `db_test!(async fn name(db) { … })` defines `name::sqlite` and `name::postgres`.
macro_rules! db_test {
    ($(#[$meta:meta])* async fn $name:ident($db:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($db: $crate::helpers::TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(db) = $crate::helpers::TestDb::new($crate::helpers::Backend::Sqlite).await {
                    run(db).await
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::helpers::TestDb::new($crate::helpers::Backend::Postgres).await {
                    run(db).await
                }
            }
        }
    };
}

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Maintenance database URL of the PostgreSQL server tests create their databases on.
pub fn admin_url() -> String {
    std::env::var("DOMAINFLOW_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn with_database(url: &str, name: &str) -> String {
    match url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => format!("{url}/{name}"),
    }
}

fn init_test_log() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info,sqlx=warn".into()))
                .with_test_writer()
                .try_init();
        }
    });
}

/// Whether PostgreSQL tests can run. With DOMAINFLOW_REQUIRE_POSTGRES=1 an unreachable server
/// fails the test; otherwise the test is skipped with a notice the harness does not capture.
async fn postgres_available() -> bool {
    static REACHABLE: tokio::sync::OnceCell<bool> = tokio::sync::OnceCell::const_new();
    let reachable = *REACHABLE
        .get_or_init(|| async {
            match Database::connect(admin_url()).await {
                Ok(db) => {
                    let _ = db.close().await;
                    true
                }
                Err(_) => false,
            }
        })
        .await;
    if !reachable {
        if std::env::var("DOMAINFLOW_REQUIRE_POSTGRES").as_deref() == Ok("1") {
            panic!(
                "DOMAINFLOW_REQUIRE_POSTGRES=1 but PostgreSQL is not reachable at {}",
                admin_url()
            );
        }
        static NOTICE: OnceLock<()> = OnceLock::new();
        NOTICE.get_or_init(|| {
            let _ = std::io::stderr().write_all(
                format!(
                    "\nNOTICE: PostgreSQL is not reachable at {}; PostgreSQL tests were SKIPPED (set DOMAINFLOW_TEST_POSTGRES_URL, or DOMAINFLOW_REQUIRE_POSTGRES=1 to fail instead)\n",
                    admin_url()
                )
                .as_bytes(),
            );
        });
    }
    reachable
}

/// A fresh database for one test, removed when dropped.
pub struct TestDb {
    pub backend: Backend,
    /// URL the application connects with.
    pub url: String,
    /// An open, migrated connection for direct SQL.
    pub db: DatabaseConnection,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh, migrated database; None when PostgreSQL is unavailable and not required.
    pub async fn new(backend: Backend) -> Option<Self> {
        let test_db = Self::unmigrated(backend).await?;
        Migrator::up(&test_db.db, None).await.expect("migrations apply");
        Some(test_db)
    }

    /// A fresh, empty database with no tables.
    pub async fn unmigrated(backend: Backend) -> Option<Self> {
        init_test_log();
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                let db = Database::connect(&url).await.expect("open sqlite");
                Some(Self {
                    backend,
                    url,
                    db,
                    pg_name: None,
                    _dir: Some(dir),
                })
            }
            Backend::Postgres => {
                if !postgres_available().await {
                    return None;
                }
                let name = format!("domainflow_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(admin_url()).await.expect("connect admin");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create test database");
                let _ = admin.close().await;
                let url = with_database(&admin_url(), &name);
                let db = Database::connect(&url).await.expect("connect test database");
                Some(Self {
                    backend,
                    url,
                    db,
                    pg_name: Some(name),
                    _dir: None,
                })
            }
        }
    }

    /// The environment the application under test starts with.
    pub fn env(&self) -> HashMap<String, String> {
        HashMap::from([
            ("DATABASE_URL".to_owned(), self.url.clone()),
            ("HOST".to_owned(), "127.0.0.1".to_owned()),
            ("PORT".to_owned(), "0".to_owned()),
            ("DB_MAX_OPEN_CONNS".to_owned(), "5".to_owned()),
            ("DB_MAX_IDLE_CONNS".to_owned(), "0".to_owned()),
            ("DB_CONNECT_TIMEOUT_SECONDS".to_owned(), "5".to_owned()),
            ("SHUTDOWN_GRACE_SECONDS".to_owned(), "5".to_owned()),
            ("SHUTDOWN_DELAY_MS".to_owned(), "0".to_owned()),
        ])
    }

    /// Settings for the application under test, with `extra` overriding the defaults above.
    pub fn settings(&self, extra: &[(&str, &str)]) -> Settings {
        let mut env = self.env();
        for (k, v) in extra {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        Settings::load(&env, None).expect("test settings load")
    }

    /// Runs one SQL statement with values, panicking on error (test setup only).
    pub async fn exec(&self, sql: &str, values: Vec<sea_orm::Value>) {
        self.db
            .execute_raw(Statement::from_sql_and_values(self.backend(), sql, values))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Runs a query returning one i64 in column 0.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(Statement::from_string(self.backend(), sql))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .expect("one row");
        row.try_get_by_index::<i64>(0).expect("an integer")
    }

    /// A second, independent connection to the same database (one connection, so statements
    /// on it are serial; SQLite waits up to 30 s for the write lock).
    pub async fn another_connection(&self) -> DatabaseConnection {
        let mut options = sea_orm::ConnectOptions::new(self.url.clone());
        options
            .max_connections(1)
            .min_connections(1)
            .map_sqlx_sqlite_opts(|o| o.busy_timeout(std::time::Duration::from_secs(30)));
        Database::connect(options).await.expect("second connection")
    }

    /// Runs SQL on the PostgreSQL server's maintenance database (not this test's database).
    pub async fn admin_exec(&self, sql: &str) {
        let admin = Database::connect(admin_url()).await.expect("connect admin");
        admin
            .execute_unprepared(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = admin.close().await;
    }

    /// The PostgreSQL database name of this test (None on SQLite).
    pub fn pg_name(&self) -> Option<&str> {
        self.pg_name.as_deref()
    }

    pub fn backend(&self) -> DbBackend {
        match self.backend {
            Backend::Sqlite => DbBackend::Sqlite,
            Backend::Postgres => DbBackend::Postgres,
        }
    }

    /// Seeds one campaign chain (generation → DNS → HTTP) of `domains` generated domains.
    pub async fn seed_chain(&self, domains: u64) -> domainflow::seed::ChainIds {
        let options = domainflow::seed::SeedOptions {
            campaigns: 1,
            domains,
            progress: false,
        };
        domainflow::seed::seed(&self.db, &options).await.expect("seed");
        domainflow::seed::chain_ids(0, domains)
    }

    /// Starts the real application against this database on a random port.
    pub async fn spawn_app(&self) -> TestApp {
        self.spawn_app_with(&[]).await
    }

    /// Like [`TestDb::spawn_app`] with extra settings.
    pub async fn spawn_app_with(&self, extra: &[(&str, &str)]) -> TestApp {
        TestApp::spawn(self.settings(extra)).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Drop can't be async: drop the database on a thread with its own runtime.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                    return;
                };
                rt.block_on(async move {
                    if let Ok(admin) = Database::connect(admin_url()).await {
                        let _ = admin
                            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                            .await;
                        let _ = admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// The running application under test.
pub struct TestApp {
    /// Base URL, e.g. http://127.0.0.1:43117
    pub address: String,
    pub client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    /// Starts the real application with `settings` on a random port.
    pub async fn spawn(settings: Settings) -> TestApp {
        let app = Application::build(settings).await.expect("application builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(app.run_until(async move {
            let _ = stop_rx.await;
        }));
        TestApp {
            address,
            client: reqwest::Client::new(),
            stop: Some(stop_tx),
            handle: Some(handle),
        }
    }

    /// POSTs a GraphQL request and returns the JSON response.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.client
            .post(format!("{}/graphql", self.address))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request sent")
            .json()
            .await
            .expect("JSON response")
    }

    /// POSTs a JSON body to /graphql, returning status and the raw body (for byte-exact checks).
    pub async fn post_raw(&self, body: &Value) -> (u16, String) {
        let response = self
            .client
            .post(format!("{}/graphql", self.address))
            .json(body)
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// GETs a path, returning status and body text.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            let _ = handle.await;
        }
    }
}

/// The `extensions.code` of the first error of a response.
pub fn error_code(response: &Value) -> &str {
    response["errors"][0]["extensions"]["code"].as_str().unwrap_or("<none>")
}

/// Inserts a campaign with plain SQL (as another program would) and returns its id.
pub async fn insert_campaign(
    db: &TestDb,
    name: &str,
    campaign_type: &str,
    status: &str,
    created_micros: i64,
) -> uuid::Uuid {
    let id = uuid::Uuid::now_v7();
    let created = domainflow::entity::Timestamp(created_micros).to_value(db.backend());
    db.exec(
        "INSERT INTO campaigns (id, name, campaign_type, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
        vec![id.into(), name.into(), campaign_type.into(), status.into(), created],
    )
    .await;
    id
}
