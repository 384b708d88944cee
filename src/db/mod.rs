//! Connecting to the database (PostgreSQL or SQLite) with the configured pool, retrying with
//! backoff while it is not up yet, and migrating under an advisory lock so that replicas
//! starting together never run the same migration twice.

pub mod counts;
pub mod health;
pub mod observe;
pub mod totals;

pub use observe::Observer;

use std::str::FromStr;
use std::time::{Duration, Instant};

use migration::{Migrator, MigratorTrait};
use sea_orm::{DatabaseConnection, DbBackend, SqlxPostgresConnector, SqlxSqliteConnector};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};

use crate::config::{DatabaseTarget, Settings};
use crate::error::{Error, Result};

/// Key of the PostgreSQL advisory lock held while migrating ("domainflow" in ASCII, truncated).
const MIGRATION_LOCK_KEY: i64 = 0x646f_6d61_696e_666c;

/// Connects with the configured pool, retrying with exponential backoff until
/// `db_connect_timeout` has passed. A bad URL fails at once: retrying cannot fix it.
pub async fn connect(settings: &Settings) -> Result<DatabaseConnection> {
    let deadline = Instant::now() + settings.db_connect_timeout;
    let mut delay = Duration::from_millis(100);
    loop {
        match connect_once(settings).await {
            Ok(db) => return Ok(db),
            Err(ConnectError::Fatal(err)) => return Err(err),
            Err(ConnectError::Retry(err)) => {
                if Instant::now() + delay > deadline {
                    tracing::error!(error = %err, database = %settings.database.display_url(), "giving up connecting to the database");
                    return Err(Error::ServiceUnavailable);
                }
                tracing::warn!(error = %err, retry_in_ms = delay.as_millis() as u64, "database not reachable yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}

enum ConnectError {
    /// The configuration is wrong; retrying cannot help.
    Fatal(Error),
    /// The database is not reachable (yet).
    Retry(sqlx::Error),
}

fn fatal(setting: &str, err: impl std::fmt::Display) -> ConnectError {
    ConnectError::Fatal(Error::Config(crate::config::ConfigError::Invalid {
        setting: setting.to_owned(),
        value: String::new(),
        reason: err.to_string(),
    }))
}

/// The pool of either backend, configured from the settings but not yet connected.
enum PoolPlan {
    Postgres(PgPoolOptions, PgConnectOptions),
    Sqlite(SqlitePoolOptions, SqliteConnectOptions),
}

fn plan(settings: &Settings) -> Result<PoolPlan, ConnectError> {
    match &settings.database {
        DatabaseTarget::Postgres { url } => {
            let mut options = PgConnectOptions::from_str(url)
                .map_err(|e| fatal("DATABASE_URL", e))?
                .application_name("domainflow")
                .statement_cache_capacity(settings.db_statement_cache_capacity)
                .log_statements(tracing::log::LevelFilter::Trace);
            if !settings.db_statement_timeout.is_zero() {
                // Set per connection at start-up, so a runaway statement ends server-side and
                // its connection goes back to the pool healthy.
                let ms = settings.db_statement_timeout.as_millis().to_string();
                options = options.options([("statement_timeout", ms.as_str())]);
            }
            let pool = PgPoolOptions::new()
                .max_connections(settings.db_max_open_conns)
                .max_lifetime(Some(settings.db_conn_max_lifetime).filter(|d| !d.is_zero()))
                .idle_timeout(Some(settings.db_conn_max_idle_time).filter(|d| !d.is_zero()))
                .acquire_timeout(settings.db_acquire_timeout)
                .test_before_acquire(false)
                .before_acquire(|conn, meta| Box::pin(ping_if_idle(conn, meta)));
            Ok(PoolPlan::Postgres(pool, options))
        }
        DatabaseTarget::Sqlite { url } => {
            let options = SqliteConnectOptions::from_str(url).map_err(|e| fatal("DATABASE_URL", e))?;
            Ok(sqlite_plan(settings, options))
        }
        DatabaseTarget::EmbeddedDefault { path } => {
            Ok(sqlite_plan(settings, SqliteConnectOptions::new().filename(path)))
        }
    }
}

fn sqlite_plan(settings: &Settings, options: SqliteConnectOptions) -> PoolPlan {
    let options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(settings.db_acquire_timeout)
        .statement_cache_capacity(settings.db_statement_cache_capacity)
        .log_statements(tracing::log::LevelFilter::Trace);
    let pool = SqlitePoolOptions::new()
        .max_connections(settings.db_max_open_conns)
        .max_lifetime(Some(settings.db_conn_max_lifetime).filter(|d| !d.is_zero()))
        .idle_timeout(Some(settings.db_conn_max_idle_time).filter(|d| !d.is_zero()))
        .acquire_timeout(settings.db_acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| Box::pin(ping_if_idle(conn, meta)));
    PoolPlan::Sqlite(pool, options)
}

/// A connection idle at least this long is pinged before it is handed out.
pub const PING_IF_IDLE_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// Checks a pooled connection before use only when it sat idle for [`PING_IF_IDLE_FOR`]: one
/// that was just used is known good, and sqlx pings every connection again when it comes back
/// to the pool anyway. sqlx's default (`test_before_acquire`) pings on every checkout — a
/// second database round trip for every query (BENCHMARKS.md, issue 8). Go's database/sql,
/// which the original used, never pings on checkout.
async fn ping_if_idle<C: Connection>(conn: &mut C, meta: sqlx::pool::PoolConnectionMetadata) -> sqlx::Result<bool> {
    if meta.idle_for >= PING_IF_IDLE_FOR {
        conn.ping().await?;
    }
    Ok(true)
}

async fn connect_once(settings: &Settings) -> Result<DatabaseConnection, ConnectError> {
    match plan(settings)? {
        PoolPlan::Postgres(pool, options) => Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(
            pool.connect_with(options).await.map_err(ConnectError::Retry)?,
        )),
        PoolPlan::Sqlite(pool, options) => Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(
            pool.connect_with(options).await.map_err(ConnectError::Retry)?,
        )),
    }
}

/// The configured pool without connecting: for a server that starts while the database is
/// down (connections open on first use). A bad URL is still an error.
pub fn connect_lazy(settings: &Settings) -> Result<DatabaseConnection> {
    let plan = match plan(settings) {
        Ok(plan) => plan,
        Err(ConnectError::Fatal(err)) => return Err(err),
        Err(ConnectError::Retry(err)) => return Err(err.into()),
    };
    Ok(match plan {
        PoolPlan::Postgres(pool, options) => {
            SqlxPostgresConnector::from_sqlx_postgres_pool(pool.connect_lazy_with(options))
        }
        PoolPlan::Sqlite(pool, options) => SqlxSqliteConnector::from_sqlx_sqlite_pool(pool.connect_lazy_with(options)),
    })
}

/// Go's `MaxIdleConns` for sqlx, which has no cap on idle connections: every few seconds
/// close idle connections above `max_idle` (taking only idle ones, never waiting, so demand
/// is never delayed). Together with `idle_timeout` this keeps what the original kept.
pub fn spawn_idle_reaper(db: DatabaseConnection, max_idle: u32) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let closed = match backend(&db) {
                DbBackend::Postgres => reap(db.get_postgres_connection_pool(), max_idle).await,
                DbBackend::Sqlite => reap(db.get_sqlite_connection_pool(), max_idle).await,
                _ => 0,
            };
            if closed > 0 {
                tracing::debug!(closed, max_idle, "closed idle connections above DB_MAX_IDLE_CONNS");
            }
        }
    })
}

async fn reap<DB: sqlx::Database>(pool: &sqlx::Pool<DB>, max_idle: u32) -> u32 {
    let mut closed = 0;
    while pool.num_idle() > max_idle as usize {
        match pool.try_acquire() {
            Some(conn) => {
                let _ = conn.close().await;
                closed += 1;
            }
            None => break,
        }
    }
    closed
}

/// Applies pending migrations. On PostgreSQL a session-level advisory lock, held on a
/// connection of its own (so even a one-connection pool cannot deadlock), serialises replicas.
pub async fn migrate(db: &DatabaseConnection, settings: &Settings) -> Result<()> {
    let _lock = MigrationLock::acquire(settings).await?;
    if settings.database.is_postgres() && !settings.db_statement_timeout.is_zero() {
        // Building an index on a large table takes longer than any request may: migrate on
        // connections of their own without the statement timeout.
        let mut unbounded = settings.clone();
        unbounded.db_statement_timeout = Duration::ZERO;
        unbounded.db_max_open_conns = 1;
        let own = connect(&unbounded).await?;
        let result = Migrator::up(&own, None).await;
        let _ = own.close().await;
        result?;
    } else {
        Migrator::up(db, None).await?;
    }
    Ok(())
}

/// Holds the migration advisory lock until dropped (closing the session releases it).
struct MigrationLock(Option<sqlx::PgConnection>);

impl MigrationLock {
    async fn acquire(settings: &Settings) -> Result<Self> {
        let DatabaseTarget::Postgres { url } = &settings.database else {
            return Ok(Self(None));
        };
        let mut conn = sqlx::PgConnection::connect(url).await?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK_KEY)
            .execute(&mut conn)
            .await?;
        Ok(Self(Some(conn)))
    }
}

impl Drop for MigrationLock {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            // Closing the session releases the lock; do it off the caller's path.
            tokio::spawn(async move {
                let _ = conn.close().await;
            });
        }
    }
}

/// On PostgreSQL, compares the configured pool with the server's `max_connections` and warns
/// when this one pool could exhaust it (other replicas and tools need connections too).
/// Returns the server's `max_connections` when known.
pub async fn check_server_capacity(db: &DatabaseConnection, settings: &Settings) -> Option<u32> {
    use sea_orm::ConnectionTrait;
    if backend(db) != DbBackend::Postgres {
        return None;
    }
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_setting('max_connections')::int4 - current_setting('superuser_reserved_connections')::int4",
        ))
        .await
        .ok()??;
    let available = row.try_get_by_index::<i32>(0).ok()?.max(0) as u32;
    if settings.db_max_open_conns >= available {
        tracing::warn!(
            pool = settings.db_max_open_conns,
            server_available = available,
            "DB_MAX_OPEN_CONNS can take every connection PostgreSQL allows (max_connections minus reserved); \
             lower it or raise max_connections, especially with several replicas"
        );
    } else if settings.db_max_open_conns * 2 > available {
        tracing::warn!(
            pool = settings.db_max_open_conns,
            server_available = available,
            "two replicas with this DB_MAX_OPEN_CONNS would exhaust PostgreSQL's max_connections"
        );
    }
    Some(available)
}

/// Connections the pool has open and how many of them are idle, as the pool reports them.
pub fn pool_open_idle(db: &DatabaseConnection) -> (u32, u32) {
    match backend(db) {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle() as u32)
        }
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle() as u32)
        }
        _ => (0, 0),
    }
}

/// Whether the database answers a query that reads it (the migrations table) right now,
/// for /readyz. `SELECT 1` alone would succeed on SQLite without touching the file.
pub async fn ping(db: &DatabaseConnection) -> bool {
    use sea_orm::ConnectionTrait;
    db.execute_unprepared("SELECT count(*) FROM seaql_migrations")
        .await
        .is_ok()
}

/// The backend of a connection, for the few places that write backend-specific SQL.
pub fn backend(db: &DatabaseConnection) -> DbBackend {
    sea_orm::ConnectionTrait::get_database_backend(db)
}
