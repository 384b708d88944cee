//! Configuration: environment over JSON file over defaults, and one clear line per bad value.

use std::collections::HashMap;
use std::time::Duration;

use domainflow::config::{ConfigError, DatabaseTarget, Settings};

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn config_file(json: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    std::io::Write::write_all(&mut file, json.as_bytes()).expect("write config");
    file
}

const ORIGINAL_CONFIG: &str = r#"{
  "database": {
    "maxOpenConnections": 40,
    "maxIdleConnections": 20,
    "connectionMaxLifetime": "1h30m",
    "connectionMaxIdleTime": "90s",
    "performanceMonitoring": { "enabled": false, "logSlowQueries": false, "slowQueryThresholdMs": 250 }
  },
  "server": { "port": 9000 },
  "graphql": { "maxPageSize": 500 }
}"#;

#[test]
fn defaults_are_the_original_systems_values() {
    let s = Settings::load(&env(&[]), None).expect("defaults load");
    assert_eq!(s.host, "127.0.0.1");
    assert_eq!(s.port, 8080);
    assert!(matches!(s.database, DatabaseTarget::EmbeddedDefault { .. }));
    assert_eq!(s.db_max_open_conns, 100);
    assert_eq!(s.db_max_idle_conns, 50);
    assert_eq!(s.db_conn_max_lifetime, Duration::from_secs(30 * 60));
    assert_eq!(s.db_conn_max_idle_time, Duration::from_secs(15 * 60));
    assert!(s.enable_query_monitoring && s.enable_connection_monitoring && s.log_slow_queries);
    assert_eq!(s.performance_log_threshold_ms, 100);
    assert_eq!(s.max_page_size, 1000);
}

#[test]
fn json_file_in_the_original_shape_overrides_defaults() {
    let file = config_file(ORIGINAL_CONFIG);
    let s = Settings::load(&env(&[]), Some(file.path())).expect("file loads");
    assert_eq!(s.db_max_open_conns, 40);
    assert_eq!(s.db_max_idle_conns, 20);
    assert_eq!(s.db_conn_max_lifetime, Duration::from_secs(90 * 60));
    assert_eq!(s.db_conn_max_idle_time, Duration::from_secs(90));
    assert!(!s.enable_query_monitoring && !s.log_slow_queries);
    assert_eq!(s.performance_log_threshold_ms, 250);
    assert_eq!(s.port, 9000);
    assert_eq!(s.max_page_size, 500);
}

#[test]
fn environment_overrides_the_file_and_domainflow_config_names_it() {
    let file = config_file(ORIGINAL_CONFIG);
    let path = file.path().to_string_lossy().into_owned();
    let s = Settings::load(
        &env(&[
            ("DOMAINFLOW_CONFIG", &path),
            ("DB_MAX_OPEN_CONNS", "7"),
            ("DB_CONN_MAX_LIFETIME_MINUTES", "5"),
            ("ENABLE_QUERY_MONITORING", "true"),
            ("PERFORMANCE_LOG_THRESHOLD_MS", "42"),
            ("POSTGRES_DSN", "postgres://u:pw@db:5432/x"),
        ]),
        None,
    )
    .expect("loads");
    assert_eq!(s.db_max_open_conns, 7);
    assert_eq!(s.db_max_idle_conns, 20, "from the file");
    assert_eq!(s.db_conn_max_lifetime, Duration::from_secs(300));
    assert!(s.enable_query_monitoring);
    assert_eq!(s.performance_log_threshold_ms, 42);
    assert!(s.database.is_postgres());
    assert_eq!(
        s.database.display_url(),
        "postgres://u:***@db:5432/x",
        "password never shown"
    );
    // DATABASE_URL wins over POSTGRES_DSN.
    let s = Settings::load(
        &env(&[("DATABASE_URL", "sqlite://a.db"), ("POSTGRES_DSN", "postgres://x/y")]),
        None,
    )
    .expect("loads");
    assert!(matches!(s.database, DatabaseTarget::Sqlite { .. }));
}

#[test]
fn bad_values_name_the_setting_and_the_value() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("DB_MAX_OPEN_CONNS", "abc")],
            "invalid value \"abc\" for DB_MAX_OPEN_CONNS",
        ),
        (&[("DB_MAX_OPEN_CONNS", "0")], "DB_MAX_OPEN_CONNS"),
        (
            &[("DATABASE_URL", "mysql://localhost/x")],
            "for DATABASE_URL: unsupported database URL scheme",
        ),
        (&[("ENABLE_QUERY_MONITORING", "maybe")], "ENABLE_QUERY_MONITORING"),
        (&[("PORT", "99999")], "for PORT"),
        (&[("MAX_PAGE_SIZE", "-1")], "for MAX_PAGE_SIZE"),
        (
            &[("DOMAINFLOW_CONFIG", "/definitely/missing.json")],
            "cannot read config file /definitely/missing.json",
        ),
    ];
    for (pairs, expected) in cases {
        let err = Settings::load(&env(pairs), None).expect_err("must fail");
        let line = err.to_string();
        assert!(line.contains(expected), "{line:?} should contain {expected:?}");
        assert!(!line.contains('\n'), "one line: {line:?}");
    }
    for (json, expected) in [
        (
            r#"{"database":{"connectionMaxLifetime":"ten"}}"#,
            "database.connectionMaxLifetime",
        ),
        (
            r#"{"database":{"maxOpenConections":5}}"#,
            "unknown field `maxOpenConections`",
        ),
        ("{not json", "invalid JSON config"),
    ] {
        let file = config_file(json);
        let err = Settings::load(&env(&[]), Some(file.path())).expect_err("must fail");
        assert!(err.to_string().contains(expected), "{err} should contain {expected:?}");
        assert!(matches!(err, ConfigError::Invalid { .. } | ConfigError::File { .. }));
    }
}

#[test]
fn cache_sizes_come_from_the_environment_or_the_file() {
    let s = Settings::load(&env(&[]), None).expect("defaults load");
    assert_eq!((s.db_statement_cache_capacity, s.apq_cache_size), (100, 256));
    let file = config_file(r#"{"database": {"statementCacheCapacity": 20}, "graphql": {"apqCacheSize": 0}}"#);
    let s = Settings::load(&env(&[]), Some(file.path())).expect("file loads");
    assert_eq!((s.db_statement_cache_capacity, s.apq_cache_size), (20, 0));
    let s = Settings::load(
        &env(&[("DB_STATEMENT_CACHE_CAPACITY", "7"), ("GRAPHQL_APQ_CACHE_SIZE", "9")]),
        Some(file.path()),
    )
    .expect("env wins");
    assert_eq!((s.db_statement_cache_capacity, s.apq_cache_size), (7, 9));
    let err = Settings::load(&env(&[("DB_STATEMENT_CACHE_CAPACITY", "many")]), None).expect_err("must fail");
    assert!(err.to_string().contains("DB_STATEMENT_CACHE_CAPACITY"), "{err}");
}
