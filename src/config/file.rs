//! The optional JSON config file, in the shape of the original application config.
//! Unknown keys are rejected so a typo is an error, not a silently ignored setting.

use std::path::Path;

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct FileConfig {
    pub server: ServerSection,
    pub database: DatabaseSection,
    pub graphql: GraphqlSection,
    pub log: LogSection,
    pub metrics: MetricsSection,
    pub alerts: AlertsSection,
    pub auth: AuthSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct AuthSection {
    pub tokens: Option<Vec<TokenEntry>>,
}

/// One API token: `{"name": "dashboard", "scopes": ["read"], "token": "sha256:…"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct TokenEntry {
    pub name: String,
    pub scopes: Vec<String>,
    pub token: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RateLimitSection {
    pub per_address: RateSection,
    pub per_token: RateSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RateSection {
    pub per_second: Option<f64>,
    pub burst: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct MetricsSection {
    pub sample_interval: Option<String>,
    pub retention: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct AlertsSection {
    pub slow_query_mean_ms: Option<f64>,
    pub pool_utilization_percent: Option<f64>,
    pub memory_growth_percent: Option<f64>,
    pub memory_growth_window: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct ServerSection {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub shutdown_grace_period: Option<String>,
    pub shutdown_delay_ms: Option<u64>,
    pub request_timeout: Option<String>,
    pub max_request_body_bytes: Option<usize>,
    pub compression_min_bytes: Option<u16>,
    pub cors_allowed_origins: Option<Vec<String>>,
    pub rate_limit: RateLimitSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct DatabaseSection {
    pub url: Option<String>,
    pub max_open_connections: Option<u32>,
    pub max_idle_connections: Option<u32>,
    pub connection_max_lifetime: Option<String>,
    pub connection_max_idle_time: Option<String>,
    pub acquire_timeout: Option<String>,
    pub statement_timeout: Option<String>,
    pub statement_cache_capacity: Option<usize>,
    pub connect_timeout: Option<String>,
    pub auto_migrate: Option<bool>,
    pub performance_monitoring: PerformanceMonitoring,
    pub connection_monitoring: ConnectionMonitoring,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct PerformanceMonitoring {
    pub enabled: Option<bool>,
    pub log_slow_queries: Option<bool>,
    pub slow_query_threshold_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct ConnectionMonitoring {
    pub enabled: Option<bool>,
    pub leak_threshold: Option<String>,
    pub adaptive_limit: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct GraphqlSection {
    pub max_page_size: Option<u32>,
    pub graphiql: Option<bool>,
    pub introspection: Option<bool>,
    pub max_depth: Option<usize>,
    pub max_complexity: Option<usize>,
    pub max_aliases: Option<usize>,
    pub max_root_fields: Option<usize>,
    pub max_batch_size: Option<usize>,
    pub max_query_length: Option<usize>,
    pub document_cache_size: Option<usize>,
    pub apq_cache_size: Option<usize>,
    pub compiled_pages: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct LogSection {
    pub level: Option<String>,
    pub format: Option<String>,
}

impl FileConfig {
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let file_error = |reason: String| ConfigError::File {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| file_error(format!("invalid JSON config: {e}")))
    }
}
