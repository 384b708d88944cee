//! Settings: environment first, then an optional JSON file, then defaults — loaded once by
//! [`Settings::load`], which takes the environment as a map so tests never touch the process
//! environment. Every bad value stops start-up with one line naming the setting and the value.

mod duration;
mod file;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

pub use duration::parse_duration;
use file::FileConfig;

/// Where the embedded default database lives when no DATABASE_URL is given.
pub const DEFAULT_SQLITE_PATH: &str = "./domainflow.db";

/// Log filter when RUST_LOG is not set: our info, the database driver's warnings only.
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn";

/// A configuration problem, reported as one line naming the setting and the offending value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid value {value:?} for {setting}: {reason}")]
    Invalid {
        setting: String,
        value: String,
        reason: String,
    },
    #[error("cannot read config file {path}: {reason}")]
    File { path: String, reason: String },
}

impl ConfigError {
    fn invalid(setting: &str, value: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            setting: setting.to_owned(),
            value: value.into(),
            reason: reason.into(),
        }
    }
}

/// Which database the server talks to, decided once from the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// PostgreSQL, the production database (`postgres://` or `postgresql://`).
    Postgres { url: String },
    /// A SQLite file given explicitly (`sqlite://…`). Never receives demo data.
    Sqlite { url: String },
    /// No DATABASE_URL at all: the embedded SQLite file, which gets demo data when empty.
    EmbeddedDefault { path: PathBuf },
}

impl DatabaseTarget {
    fn parse(setting: &str, url: &str) -> Result<Self, ConfigError> {
        let scheme = url.split_once("://").map(|(scheme, _)| scheme);
        match scheme {
            Some("postgres" | "postgresql") => Ok(Self::Postgres { url: url.to_owned() }),
            Some("sqlite") => Ok(Self::Sqlite { url: url.to_owned() }),
            _ if url.starts_with("sqlite:") => Ok(Self::Sqlite { url: url.to_owned() }),
            _ => Err(ConfigError::invalid(
                setting,
                redact_url(url),
                "unsupported database URL scheme (use postgres://, postgresql:// or sqlite://)",
            )),
        }
    }

    /// True for PostgreSQL targets.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres { .. })
    }

    /// The URL with any password replaced, safe to log.
    pub fn display_url(&self) -> String {
        match self {
            Self::Postgres { url } | Self::Sqlite { url } => redact_url(url),
            Self::EmbeddedDefault { path } => format!("sqlite://{} (embedded default)", path.display()),
        }
    }
}

/// Replaces the password of `scheme://user:password@host` with `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Every setting of the server. README keeps the table of env names, JSON paths and defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Interface to listen on. `HOST`, JSON `server.host`. Default 127.0.0.1.
    pub host: String,
    /// Port to listen on; 0 picks a free port. `PORT`, JSON `server.port`. Default 8080.
    pub port: u16,
    /// The database. `DATABASE_URL` (or the original `POSTGRES_DSN`), JSON `database.url`.
    /// Absent: the embedded SQLite default `./domainflow.db`.
    pub database: DatabaseTarget,
    /// Upper bound on open connections (sqlx `max_connections`). `DB_MAX_OPEN_CONNS`,
    /// JSON `database.maxOpenConnections`. Default 100, the original system's tuned value.
    pub db_max_open_conns: u32,
    /// Most connections kept open while idle; more are closed by the idle reaper (sqlx has no
    /// such cap). `DB_MAX_IDLE_CONNS`, JSON `database.maxIdleConnections`. Default 50.
    pub db_max_idle_conns: u32,
    /// A connection is closed and replaced after this long (sqlx `max_lifetime`).
    /// `DB_CONN_MAX_LIFETIME_MINUTES`, JSON `database.connectionMaxLifetime` ("30m"). Default 30 min.
    pub db_conn_max_lifetime: Duration,
    /// An idle connection is closed after this long (sqlx `idle_timeout`).
    /// `DB_CONN_MAX_IDLE_TIME_MINUTES`, JSON `database.connectionMaxIdleTime` ("15m"). Default 15 min.
    pub db_conn_max_idle_time: Duration,
    /// How long a request waits for a pooled connection before failing.
    /// `DB_ACQUIRE_TIMEOUT_SECONDS`, JSON `database.acquireTimeout`. Default 5 s.
    pub db_acquire_timeout: Duration,
    /// PostgreSQL `statement_timeout` on the server's pool connections: a statement running
    /// longer is cancelled by the database (TIMEOUT to the client) and its connection stays
    /// usable. 0 disables it. Migrations, seeding and perf-test setup run without it.
    /// `DB_STATEMENT_TIMEOUT_SECONDS`, JSON `database.statementTimeout`. Default 30 s.
    pub db_statement_timeout: Duration,
    /// Prepared statements each pooled connection keeps (the driver's LRU cache; PostgreSQL
    /// keeps their plans per session too). `DB_STATEMENT_CACHE_CAPACITY`, JSON
    /// `database.statementCacheCapacity`. Default 100 (the driver's).
    pub db_statement_cache_capacity: usize,
    /// How long start-up keeps retrying (with backoff) to reach the database.
    /// `DB_CONNECT_TIMEOUT_SECONDS`, JSON `database.connectTimeout`. Default 30 s.
    pub db_connect_timeout: Duration,
    /// Run pending migrations at start-up (under an advisory lock on PostgreSQL).
    /// `DOMAINFLOW_AUTO_MIGRATE`, JSON `database.autoMigrate`. Default true.
    pub auto_migrate: bool,
    /// Record per-query-type latency and counts. `ENABLE_QUERY_MONITORING`,
    /// JSON `database.performanceMonitoring.enabled`. Default true.
    pub enable_query_monitoring: bool,
    /// Log each query slower than the threshold. JSON
    /// `database.performanceMonitoring.logSlowQueries` (env `LOG_SLOW_QUERIES`). Default true.
    pub log_slow_queries: bool,
    /// Threshold for the slow-query log, in milliseconds. `PERFORMANCE_LOG_THRESHOLD_MS`,
    /// JSON `database.performanceMonitoring.slowQueryThresholdMs`. Default 100.
    pub performance_log_threshold_ms: u64,
    /// Record connection-pool statistics. `ENABLE_CONNECTION_MONITORING`,
    /// JSON `database.connectionMonitoring.enabled`. Default true.
    pub enable_connection_monitoring: bool,
    /// A connection held longer than this is reported as a leak (log + metrics).
    /// `DB_CONN_LEAK_THRESHOLD_SECONDS`, JSON `database.connectionMonitoring.leakThreshold`. Default 30 s.
    pub db_conn_leak_threshold: Duration,
    /// Adapt the limit on concurrent database work inside DB_MAX_OPEN_CONNS to the database's
    /// latency (a Vegas rule, `metrics::limiter`): queries beyond what the database serves at
    /// once wait at the gate instead of queueing inside it. False makes the gate a fixed
    /// semaphore of DB_MAX_OPEN_CONNS. `DB_ADAPTIVE_LIMIT`, JSON
    /// `database.connectionMonitoring.adaptiveLimit`. Default true.
    pub db_adaptive_limit: bool,
    /// How often the sampler persists metrics. `METRICS_SAMPLE_INTERVAL_SECONDS`,
    /// JSON `metrics.sampleInterval`. Default 60 s.
    pub metrics_sample_interval: Duration,
    /// How long persisted metrics are kept. `METRICS_RETENTION_DAYS`, JSON `metrics.retention`
    /// (e.g. "168h"). Default 7 days.
    pub metrics_retention: Duration,
    /// Alert thresholds (the original's defaults). `ALERT_SLOW_QUERY_MEAN_MS`,
    /// `ALERT_POOL_UTILIZATION_PERCENT`, `ALERT_MEMORY_GROWTH_PERCENT`,
    /// `ALERT_MEMORY_GROWTH_WINDOW_MINUTES`; JSON `alerts.*`.
    pub alerts: crate::metrics::AlertThresholds,
    /// Largest `first`/`last` a connection accepts. `MAX_PAGE_SIZE`, JSON `graphql.maxPageSize`.
    /// Default 1000.
    pub max_page_size: u32,
    /// Serve GraphiQL at GET /graphql to browsers. `GRAPHIQL_ENABLED`, JSON `graphql.graphiql`.
    /// Default true.
    pub graphiql: bool,
    /// Answer introspection (`__schema`, `__type`), which GraphiQL and code generators need;
    /// a public deployment may prefer not to publish its schema. `GRAPHQL_INTROSPECTION`,
    /// JSON `graphql.introspection`. Default true.
    pub introspection: bool,
    /// What one GraphQL request may ask for, checked before any SQL runs: depth
    /// (`GRAPHQL_MAX_DEPTH`, 16), complexity (`GRAPHQL_MAX_COMPLEXITY`, 100000), aliases
    /// (`GRAPHQL_MAX_ALIASES`, 50), root fields (`GRAPHQL_MAX_ROOT_FIELDS`, 20), batch size
    /// (`GRAPHQL_MAX_BATCH_SIZE`, 10) and query length (`GRAPHQL_MAX_QUERY_LENGTH`, 32768
    /// bytes); JSON `graphql.maxDepth`, `graphql.maxComplexity`, ….
    pub query_limits: crate::graphql::QueryLimits,
    /// Parsed GraphQL documents kept, keyed by their query text, so a client repeating a query
    /// (every pager does) is not parsed again; limits and validation still run per request.
    /// 0 = no cache. `GRAPHQL_DOCUMENT_CACHE_SIZE`, JSON `graphql.documentCacheSize`.
    /// Default 256.
    pub document_cache_size: usize,
    /// Automatic Persisted Queries (Apollo's protocol): query texts kept by their SHA-256, so
    /// a client may send the hash alone (`graphql::persisted`). 0 = the protocol is off.
    /// `GRAPHQL_APQ_CACHE_SIZE`, JSON `graphql.apqCacheSize`. Default 256.
    pub apq_cache_size: usize,
    /// Answer the hot request shape — a campaign and pages of its rows, plain fields only —
    /// with a plan compiled once per document instead of async-graphql's general executor
    /// (same bytes out, several times less CPU; see `graphql::compiled`). Anything else, and
    /// any error, goes to the general executor. `GRAPHQL_COMPILED_PAGES`, JSON
    /// `graphql.compiledPages`. Default true.
    pub compiled_pages: bool,
    /// Largest request body accepted, in bytes; more is refused with 413 before it is read in
    /// full. `MAX_REQUEST_BODY_BYTES`, JSON `server.maxRequestBodyBytes`. Default 1 MiB.
    pub max_request_body_bytes: usize,
    /// Responses at least this large are compressed (gzip or br, as the client's
    /// Accept-Encoding asks); 0 = never. Compression pays on real networks and costs CPU on
    /// loopback, hence off by default. `HTTP_COMPRESSION_MIN_BYTES`, JSON
    /// `server.compressionMinBytes`. Default 0.
    pub compression_min_bytes: u16,
    /// Longest a request to /graphql or /metrics may take before it is answered with TIMEOUT,
    /// so no client ever waits forever. `REQUEST_TIMEOUT_SECONDS`, JSON
    /// `server.requestTimeout` ("30s"). Default 30 s.
    pub request_timeout: Duration,
    /// Browser origins allowed to call the API cross-origin (CORS); `*` allows any. Empty: no
    /// CORS headers, so browsers allow same-origin pages only. `CORS_ALLOWED_ORIGINS`
    /// (comma-separated), JSON `server.corsAllowedOrigins`. Default none.
    pub cors_allowed_origins: Vec<String>,
    /// Requests per second (and burst) per client address; None = off.
    /// `RATE_LIMIT_PER_ADDRESS` (0 = off), `RATE_LIMIT_PER_ADDRESS_BURST` (100); JSON
    /// `server.rateLimit.perAddress.perSecond`/`.burst`. Default off.
    pub rate_limit_per_address: Option<crate::http::rate_limit::RateLimit>,
    /// Requests per second (and burst) per API token; None = off. `RATE_LIMIT_PER_TOKEN`
    /// (0 = off), `RATE_LIMIT_PER_TOKEN_BURST` (100); JSON `server.rateLimit.perToken.*`.
    /// Default off.
    pub rate_limit_per_token: Option<crate::http::rate_limit::RateLimit>,
    /// Bearer tokens and their scopes; empty = no access control. `API_TOKENS`
    /// (`name:scope+scope:secret,…`), JSON `auth.tokens`. Only digests are kept.
    pub api_tokens: Vec<crate::auth::ApiToken>,
    /// Log filter (tracing EnvFilter syntax). `RUST_LOG`, JSON `log.level`. Default "info,sqlx=warn".
    pub log_level: String,
    /// Log format: "pretty" for people, "json" for log shippers. `LOG_FORMAT`, JSON `log.format`.
    pub log_json: bool,
    /// How long shutdown waits for in-flight requests. `SHUTDOWN_GRACE_SECONDS`,
    /// JSON `server.shutdownGracePeriod`. Default 30 s.
    pub shutdown_grace: Duration,
    /// After SIGTERM, keep serving this long before closing the listener and draining, so
    /// requests clients already sent are read (and load balancers stop routing here).
    /// `SHUTDOWN_DELAY_MS`, JSON `server.shutdownDelayMs`. Default 250 ms.
    pub shutdown_delay: Duration,
    /// The config file that was read, if any (`--config FILE` or `DOMAINFLOW_CONFIG`).
    pub config_file: Option<PathBuf>,
}

impl Settings {
    /// Loads settings from `env` (the environment as a map), then the JSON file at
    /// `file` — or, when `file` is None, at `DOMAINFLOW_CONFIG` — then defaults.
    pub fn load(env: &HashMap<String, String>, file: Option<&Path>) -> Result<Self, ConfigError> {
        let config_path = match file {
            Some(path) => Some(path.to_path_buf()),
            None => non_empty(env, "DOMAINFLOW_CONFIG").map(PathBuf::from),
        };
        let json = match &config_path {
            Some(path) => FileConfig::read(path)?,
            None => FileConfig::default(),
        };
        let source = Source { env };

        let database = match source.env_first(&["DATABASE_URL", "POSTGRES_DSN"]) {
            Some((name, url)) => DatabaseTarget::parse(name, url)?,
            None => match &json.database.url {
                Some(url) => DatabaseTarget::parse("database.url", url)?,
                None => DatabaseTarget::EmbeddedDefault {
                    path: PathBuf::from(DEFAULT_SQLITE_PATH),
                },
            },
        };

        let db = &json.database;
        let monitoring = &db.performance_monitoring;
        let settings = Settings {
            host: source.string("HOST", json.server.host.clone(), "127.0.0.1"),
            port: source.parse("PORT", json.server.port, 8080)?,
            database,
            db_max_open_conns: source.parse("DB_MAX_OPEN_CONNS", db.max_open_connections, 100)?,
            db_max_idle_conns: source.parse("DB_MAX_IDLE_CONNS", db.max_idle_connections, 50)?,
            db_conn_max_lifetime: source.minutes(
                "DB_CONN_MAX_LIFETIME_MINUTES",
                "database.connectionMaxLifetime",
                db.connection_max_lifetime.as_deref(),
                30,
            )?,
            db_conn_max_idle_time: source.minutes(
                "DB_CONN_MAX_IDLE_TIME_MINUTES",
                "database.connectionMaxIdleTime",
                db.connection_max_idle_time.as_deref(),
                15,
            )?,
            db_acquire_timeout: source.seconds(
                "DB_ACQUIRE_TIMEOUT_SECONDS",
                "database.acquireTimeout",
                db.acquire_timeout.as_deref(),
                5,
            )?,
            db_statement_timeout: source.seconds(
                "DB_STATEMENT_TIMEOUT_SECONDS",
                "database.statementTimeout",
                db.statement_timeout.as_deref(),
                30,
            )?,
            db_statement_cache_capacity: source.parse(
                "DB_STATEMENT_CACHE_CAPACITY",
                db.statement_cache_capacity,
                100,
            )?,
            db_connect_timeout: source.seconds(
                "DB_CONNECT_TIMEOUT_SECONDS",
                "database.connectTimeout",
                db.connect_timeout.as_deref(),
                30,
            )?,
            auto_migrate: source.parse_bool("DOMAINFLOW_AUTO_MIGRATE", db.auto_migrate, true)?,
            enable_query_monitoring: source.parse_bool("ENABLE_QUERY_MONITORING", monitoring.enabled, true)?,
            log_slow_queries: source.parse_bool("LOG_SLOW_QUERIES", monitoring.log_slow_queries, true)?,
            performance_log_threshold_ms: source.parse(
                "PERFORMANCE_LOG_THRESHOLD_MS",
                monitoring.slow_query_threshold_ms,
                100,
            )?,
            enable_connection_monitoring: source.parse_bool(
                "ENABLE_CONNECTION_MONITORING",
                db.connection_monitoring.enabled,
                true,
            )?,
            db_conn_leak_threshold: source.seconds(
                "DB_CONN_LEAK_THRESHOLD_SECONDS",
                "database.connectionMonitoring.leakThreshold",
                db.connection_monitoring.leak_threshold.as_deref(),
                30,
            )?,
            db_adaptive_limit: source.parse_bool("DB_ADAPTIVE_LIMIT", db.connection_monitoring.adaptive_limit, true)?,
            metrics_sample_interval: source.seconds(
                "METRICS_SAMPLE_INTERVAL_SECONDS",
                "metrics.sampleInterval",
                json.metrics.sample_interval.as_deref(),
                60,
            )?,
            metrics_retention: source.duration(
                "METRICS_RETENTION_DAYS",
                86_400,
                "metrics.retention",
                json.metrics.retention.as_deref(),
                7,
            )?,
            alerts: crate::metrics::AlertThresholds {
                slow_query_mean_ms: source.parse_f64(
                    "ALERT_SLOW_QUERY_MEAN_MS",
                    json.alerts.slow_query_mean_ms,
                    100.0,
                )?,
                pool_utilization_percent: source.parse_f64(
                    "ALERT_POOL_UTILIZATION_PERCENT",
                    json.alerts.pool_utilization_percent,
                    85.0,
                )?,
                memory_growth_percent: source.parse_f64(
                    "ALERT_MEMORY_GROWTH_PERCENT",
                    json.alerts.memory_growth_percent,
                    10.0,
                )?,
                memory_growth_window: source.minutes(
                    "ALERT_MEMORY_GROWTH_WINDOW_MINUTES",
                    "alerts.memoryGrowthWindow",
                    json.alerts.memory_growth_window.as_deref(),
                    60,
                )?,
            },
            max_page_size: source.parse("MAX_PAGE_SIZE", json.graphql.max_page_size, 1000)?,
            graphiql: source.parse_bool("GRAPHIQL_ENABLED", json.graphql.graphiql, true)?,
            introspection: source.parse_bool("GRAPHQL_INTROSPECTION", json.graphql.introspection, true)?,
            query_limits: crate::graphql::QueryLimits {
                max_depth: source.parse("GRAPHQL_MAX_DEPTH", json.graphql.max_depth, 16)?,
                max_complexity: source.parse("GRAPHQL_MAX_COMPLEXITY", json.graphql.max_complexity, 100_000)?,
                max_aliases: source.parse("GRAPHQL_MAX_ALIASES", json.graphql.max_aliases, 50)?,
                max_root_fields: source.parse("GRAPHQL_MAX_ROOT_FIELDS", json.graphql.max_root_fields, 20)?,
                max_batch_size: source.parse("GRAPHQL_MAX_BATCH_SIZE", json.graphql.max_batch_size, 10)?,
                max_query_length: source.parse("GRAPHQL_MAX_QUERY_LENGTH", json.graphql.max_query_length, 32_768)?,
            },
            document_cache_size: source.parse(
                "GRAPHQL_DOCUMENT_CACHE_SIZE",
                json.graphql.document_cache_size,
                crate::graphql::execute::DEFAULT_DOCUMENT_CACHE_SIZE,
            )?,
            apq_cache_size: source.parse(
                "GRAPHQL_APQ_CACHE_SIZE",
                json.graphql.apq_cache_size,
                crate::graphql::persisted::DEFAULT_APQ_CACHE_SIZE,
            )?,
            compiled_pages: source.parse_bool("GRAPHQL_COMPILED_PAGES", json.graphql.compiled_pages, true)?,
            compression_min_bytes: source.parse("HTTP_COMPRESSION_MIN_BYTES", json.server.compression_min_bytes, 0)?,
            max_request_body_bytes: source.parse(
                "MAX_REQUEST_BODY_BYTES",
                json.server.max_request_body_bytes,
                1024 * 1024,
            )?,
            request_timeout: source.seconds(
                "REQUEST_TIMEOUT_SECONDS",
                "server.requestTimeout",
                json.server.request_timeout.as_deref(),
                30,
            )?,
            cors_allowed_origins: source.list("CORS_ALLOWED_ORIGINS", json.server.cors_allowed_origins.clone()),
            rate_limit_per_address: source.rate_limit(
                ("RATE_LIMIT_PER_ADDRESS", "RATE_LIMIT_PER_ADDRESS_BURST"),
                &json.server.rate_limit.per_address,
            )?,
            rate_limit_per_token: source.rate_limit(
                ("RATE_LIMIT_PER_TOKEN", "RATE_LIMIT_PER_TOKEN_BURST"),
                &json.server.rate_limit.per_token,
            )?,
            api_tokens: match non_empty(env, "API_TOKENS") {
                Some(raw) => parse_token_list(raw)?,
                None => parse_token_entries(json.auth.tokens.as_deref().unwrap_or_default())?,
            },
            log_level: source.string("RUST_LOG", json.log.level.clone(), DEFAULT_LOG_FILTER),
            log_json: match source.string("LOG_FORMAT", json.log.format.clone(), "pretty").as_str() {
                "pretty" => false,
                "json" => true,
                other => {
                    return Err(ConfigError::invalid(
                        "LOG_FORMAT",
                        other,
                        "expected \"pretty\" or \"json\"",
                    ));
                }
            },
            shutdown_grace: source.seconds(
                "SHUTDOWN_GRACE_SECONDS",
                "server.shutdownGracePeriod",
                json.server.shutdown_grace_period.as_deref(),
                30,
            )?,
            shutdown_delay: Duration::from_millis(source.parse(
                "SHUTDOWN_DELAY_MS",
                json.server.shutdown_delay_ms,
                250,
            )?),
            config_file: config_path,
        };
        settings.validate()?;
        Ok(settings)
    }

    /// The metrics configuration these settings describe.
    pub fn metrics_config(&self) -> crate::metrics::MetricsConfig {
        let mut config = crate::metrics::MetricsConfig::for_pool(self.db_max_open_conns);
        config.query_monitoring = self.enable_query_monitoring;
        config.connection_monitoring = self.enable_connection_monitoring;
        config.slow_query_threshold = Duration::from_millis(self.performance_log_threshold_ms);
        config.leak_bound = self.db_conn_leak_threshold;
        config.limiter = crate::metrics::LimiterConfig::for_pool(self.db_max_open_conns, self.db_adaptive_limit);
        config.alerts = self.alerts;
        config
    }

    /// Cross-field rules, checked once after loading.
    fn validate(&self) -> Result<(), ConfigError> {
        if self.db_max_open_conns == 0 {
            return Err(ConfigError::invalid("DB_MAX_OPEN_CONNS", "0", "must be at least 1"));
        }
        if self.max_page_size == 0 {
            return Err(ConfigError::invalid("MAX_PAGE_SIZE", "0", "must be at least 1"));
        }
        let limits = &self.query_limits;
        let at_least_one = [
            ("GRAPHQL_MAX_DEPTH", limits.max_depth),
            ("GRAPHQL_MAX_COMPLEXITY", limits.max_complexity),
            ("GRAPHQL_MAX_ALIASES", limits.max_aliases),
            ("GRAPHQL_MAX_ROOT_FIELDS", limits.max_root_fields),
            ("GRAPHQL_MAX_BATCH_SIZE", limits.max_batch_size),
            ("GRAPHQL_MAX_QUERY_LENGTH", limits.max_query_length),
            ("MAX_REQUEST_BODY_BYTES", self.max_request_body_bytes),
        ];
        if let Some((name, _)) = at_least_one.iter().find(|(_, value)| *value == 0) {
            return Err(ConfigError::invalid(name, "0", "must be at least 1"));
        }
        if limits.max_depth > crate::graphql::limits::MAX_SUPPORTED_DEPTH {
            return Err(ConfigError::invalid(
                "GRAPHQL_MAX_DEPTH",
                limits.max_depth.to_string(),
                format!(
                    "must be at most {} (the GraphQL parser's own nesting limit)",
                    crate::graphql::limits::MAX_SUPPORTED_DEPTH
                ),
            ));
        }
        if self.request_timeout.is_zero() {
            return Err(ConfigError::invalid(
                "REQUEST_TIMEOUT_SECONDS",
                "0",
                "must be more than 0 (a request without a time limit can hang forever)",
            ));
        }
        for origin in &self.cors_allowed_origins {
            validate_origin(origin)?;
        }
        let mut names = std::collections::HashSet::new();
        if let Some(token) = self.api_tokens.iter().find(|t| !names.insert(t.name())) {
            return Err(ConfigError::invalid(
                "API_TOKENS",
                token.name(),
                "two tokens have this name; names identify tokens in logs and rate limits",
            ));
        }
        Ok(())
    }
}

/// A CORS origin must be `*` or exactly what a browser sends: `scheme://host[:port]`.
fn validate_origin(origin: &str) -> Result<(), ConfigError> {
    if origin == "*" {
        return Ok(());
    }
    let valid = origin.split_once("://").is_some_and(|(scheme, rest)| {
        matches!(scheme, "http" | "https") && !rest.is_empty() && !rest.contains(['/', '?', '#', ' '])
    }) && axum::http::HeaderValue::from_str(origin).is_ok();
    if valid {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            "CORS_ALLOWED_ORIGINS",
            origin,
            "expected * or an origin like https://app.example.com (scheme, host, optional port; no path)",
        ))
    }
}

/// Parses `API_TOKENS`: comma-separated `name:scope+scope:secret` entries, where the secret is
/// a plain token or `sha256:<hex>`. Errors name the entry, never its secret.
fn parse_token_list(raw: &str) -> Result<Vec<crate::auth::ApiToken>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .enumerate()
        .map(|(i, entry)| {
            let mut parts = entry.splitn(3, ':');
            let (name, scopes, secret) = match (parts.next(), parts.next(), parts.next()) {
                (Some(name), Some(scopes), Some(secret)) => (name, scopes, secret),
                _ => {
                    return Err(ConfigError::invalid(
                        "API_TOKENS",
                        format!("entry {}", i + 1),
                        "expected name:scope+scope:secret (e.g. dashboard:read:sha256:<hex>)",
                    ));
                }
            };
            let scopes: Vec<&str> = scopes.split('+').collect();
            token("API_TOKENS", i, name, &scopes, secret)
        })
        .collect()
}

/// Turns the JSON file's `auth.tokens` into tokens.
fn parse_token_entries(entries: &[file::TokenEntry]) -> Result<Vec<crate::auth::ApiToken>, ConfigError> {
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let scopes: Vec<&str> = entry.scopes.iter().map(String::as_str).collect();
            token("auth.tokens", i, &entry.name, &scopes, &entry.token)
        })
        .collect()
}

fn token(
    setting: &str,
    index: usize,
    name: &str,
    scopes: &[&str],
    secret: &str,
) -> Result<crate::auth::ApiToken, ConfigError> {
    use crate::auth::{ApiToken, Scope};
    let entry = format!("entry {} ({})", index + 1, name.trim());
    let scopes = scopes
        .iter()
        .map(|name| {
            Scope::parse(name).ok_or_else(|| {
                ConfigError::invalid(setting, &entry, format!("unknown scope {name:?} (use read or metrics)"))
            })
        })
        .collect::<Result<_, _>>()?;
    ApiToken::new(name, scopes, secret).map_err(|reason| ConfigError::invalid(setting, &entry, reason))
}

fn non_empty<'a>(env: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    env.get(name)
        .map(String::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// One lookup of a setting in the environment, then the JSON file, then the default.
struct Source<'a> {
    env: &'a HashMap<String, String>,
}

impl Source<'_> {
    fn env_first<'n>(&self, names: &[&'n str]) -> Option<(&'n str, &str)> {
        names
            .iter()
            .find_map(|name| non_empty(self.env, name).map(|value| (*name, value)))
    }

    fn string(&self, name: &str, json: Option<String>, default: &str) -> String {
        match non_empty(self.env, name) {
            Some(value) => value.to_owned(),
            None => json.unwrap_or_else(|| default.to_owned()),
        }
    }

    fn parse<T: FromStr>(&self, name: &str, json: Option<T>, default: T) -> Result<T, ConfigError> {
        match non_empty(self.env, name) {
            Some(raw) => raw
                .parse()
                .map_err(|_| ConfigError::invalid(name, raw, "expected a non-negative whole number")),
            None => Ok(json.unwrap_or(default)),
        }
    }

    /// A comma-separated env var, or a JSON array of strings.
    fn list(&self, name: &str, json: Option<Vec<String>>) -> Vec<String> {
        match non_empty(self.env, name) {
            Some(raw) => raw
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect(),
            None => json.unwrap_or_default(),
        }
    }

    /// A rate (requests per second, 0 = off) and its burst (default 100).
    fn rate_limit(
        &self,
        (rate_name, burst_name): (&str, &str),
        json: &file::RateSection,
    ) -> Result<Option<crate::http::rate_limit::RateLimit>, ConfigError> {
        let per_second = self.parse_f64(rate_name, json.per_second, 0.0)?;
        let burst = self.parse(burst_name, json.burst, 100)?;
        if per_second == 0.0 {
            return Ok(None);
        }
        if burst == 0 {
            return Err(ConfigError::invalid(burst_name, "0", "must be at least 1"));
        }
        Ok(Some(crate::http::rate_limit::RateLimit { per_second, burst }))
    }

    fn parse_f64(&self, name: &str, json: Option<f64>, default: f64) -> Result<f64, ConfigError> {
        let value = match non_empty(self.env, name) {
            Some(raw) => raw
                .parse::<f64>()
                .map_err(|_| ConfigError::invalid(name, raw, "expected a number"))?,
            None => json.unwrap_or(default),
        };
        if !value.is_finite() || value < 0.0 {
            return Err(ConfigError::invalid(
                name,
                value.to_string(),
                "expected a non-negative number",
            ));
        }
        Ok(value)
    }

    fn parse_bool(&self, name: &str, json: Option<bool>, default: bool) -> Result<bool, ConfigError> {
        match non_empty(self.env, name) {
            Some(raw) => match raw.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err(ConfigError::invalid(name, raw, "expected true or false")),
            },
            None => Ok(json.unwrap_or(default)),
        }
    }

    /// An env var in whole minutes, or a JSON duration string like "30m".
    fn minutes(&self, name: &str, json_path: &str, json: Option<&str>, default: u64) -> Result<Duration, ConfigError> {
        self.duration(name, 60, json_path, json, default)
    }

    /// An env var in whole seconds, or a JSON duration string like "5s".
    fn seconds(&self, name: &str, json_path: &str, json: Option<&str>, default: u64) -> Result<Duration, ConfigError> {
        self.duration(name, 1, json_path, json, default)
    }

    fn duration(
        &self,
        name: &str,
        unit_secs: u64,
        json_path: &str,
        json: Option<&str>,
        default: u64,
    ) -> Result<Duration, ConfigError> {
        if let Some(raw) = non_empty(self.env, name) {
            let n: u64 = raw
                .parse()
                .map_err(|_| ConfigError::invalid(name, raw, "expected a non-negative whole number"))?;
            return Ok(Duration::from_secs(n.saturating_mul(unit_secs)));
        }
        match json {
            Some(raw) => parse_duration(raw).map_err(|reason| ConfigError::invalid(json_path, raw, reason)),
            None => Ok(Duration::from_secs(default * unit_secs)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }
}
