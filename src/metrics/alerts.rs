//! The original system's three alerts, evaluated from measured figures.
//!
//! Every alert is always listed — firing or not — with the value that decided it, so an
//! operator sees how close each one is. A figure that cannot be measured yet (no query in the
//! window, memory in the process's first hour) gives `value: None` and does not fire.
//! Comparisons are strict, as in the original (`avg_query_time > 100ms`): a value equal to
//! its threshold does not fire, and a threshold of 0 fires on any measured activity.

use std::time::Duration;

use super::memory::GrowthFigure;
use super::pool::PoolSnapshot;
use super::queries::{QueryTypeSnapshot, merged_latency};

/// How bad a firing alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// Worth a look.
    Warning,
    /// Act now.
    Critical,
}

impl Severity {
    /// Lower-case name, as in the original's alert definitions ("warning", "critical").
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Alert thresholds; `Default` is the original system's values. Configurable in the JSON
/// config (wired by the settings module).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertThresholds {
    /// "Slow Database Queries" fires when the mean query time exceeds this (ms). Default 100.
    pub slow_query_mean_ms: f64,
    /// "High Connection Pool Utilization" fires above this percentage. Default 85.
    pub pool_utilization_percent: f64,
    /// "Memory Leak Detection" fires when RSS grew by more than this percentage over
    /// `memory_growth_window`. Default 10.
    pub memory_growth_percent: f64,
    /// The memory growth window. Default 1 h.
    pub memory_growth_window: Duration,
}

impl Default for AlertThresholds {
    fn default() -> Self {
        Self {
            slow_query_mean_ms: 100.0,
            pool_utilization_percent: 85.0,
            memory_growth_percent: 10.0,
            memory_growth_window: Duration::from_secs(3600),
        }
    }
}

/// The measured figures the alerts look at (plain data; `None` = not measurable yet).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AlertInputs {
    /// Mean query time in ms over the recent window, across all query types, weighted by
    /// query count (i.e. total time / total queries). "Recent window" is the last sampling
    /// interval — the delta of two recorder snapshots — so the alert clears once queries are
    /// fast again instead of carrying the whole uptime's average. `None` when no query ran.
    pub mean_query_ms: Option<f64>,
    /// Pool utilization now (`in_use / configured max × 100`); `None` when connection
    /// monitoring is off.
    pub pool_utilization_percent: Option<f64>,
    /// Memory growth over the alert's window; `None` until measurable (first hour, non-Linux).
    pub memory_growth_percent: Option<f64>,
}

impl AlertInputs {
    /// Builds the inputs from the usual sources: the interval figures per query type
    /// (`queries::delta_all`), the pool snapshot and the memory growth over the window.
    pub fn from_figures(
        interval_queries: &[QueryTypeSnapshot],
        pool: Option<&PoolSnapshot>,
        memory_growth: Option<&GrowthFigure>,
    ) -> Self {
        let latency = merged_latency(interval_queries);
        Self {
            mean_query_ms: (latency.count() > 0).then(|| latency.mean_ms()),
            pool_utilization_percent: pool.filter(|p| p.enabled).map(|p| p.utilization_percent),
            memory_growth_percent: memory_growth.map(|g| g.percent),
        }
    }
}

/// One alert's state.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Stable identifier for labels and dashboards: "slow_queries", "pool_utilization",
    /// "memory_growth".
    pub code: &'static str,
    /// The original's name, e.g. "Slow Database Queries".
    pub name: &'static str,
    /// Severity when firing.
    pub severity: Severity,
    /// Whether the condition holds now.
    pub firing: bool,
    /// The value compared with the threshold; `None` when not measurable yet.
    pub value: Option<f64>,
    /// The threshold in force.
    pub threshold: f64,
    /// One line for people, with the figures.
    pub message: String,
}

/// Identifier of "Slow Database Queries".
pub const SLOW_QUERIES: &str = "slow_queries";
/// Identifier of "High Connection Pool Utilization".
pub const POOL_UTILIZATION: &str = "pool_utilization";
/// Identifier of "Memory Leak Detection".
pub const MEMORY_GROWTH: &str = "memory_growth";

struct Rule {
    code: &'static str,
    name: &'static str,
    severity: Severity,
    value: Option<f64>,
    threshold: f64,
    /// How the value reads in a message, e.g. "mean query time 12.3 ms" (`None` with `value`).
    described: Option<String>,
    /// Unit of the threshold in a message.
    unit: &'static str,
    /// Said when the value is `None`.
    unknown: &'static str,
}

fn alert(rule: Rule) -> Alert {
    let firing = rule.value.is_some_and(|value| value > rule.threshold);
    let message = match rule.described {
        None => rule.unknown.to_string(),
        Some(described) => {
            let relation = if firing { "above" } else { "within" };
            format!(
                "{described} is {relation} the threshold of {}{}",
                rule.threshold, rule.unit
            )
        }
    };
    Alert {
        code: rule.code,
        name: rule.name,
        severity: rule.severity,
        firing,
        value: rule.value,
        threshold: rule.threshold,
        message,
    }
}

/// Evaluates every alert against `inputs`; always returns all three, in a fixed order.
pub fn evaluate(thresholds: &AlertThresholds, inputs: &AlertInputs) -> Vec<Alert> {
    let window = match thresholds.memory_growth_window.as_secs() {
        3600 => "the last hour".to_string(),
        secs if secs % 3600 == 0 => format!("the last {} hours", secs / 3600),
        secs => format!("the last {} min", secs / 60),
    };
    vec![
        alert(Rule {
            code: SLOW_QUERIES,
            name: "Slow Database Queries",
            severity: Severity::Warning,
            value: inputs.mean_query_ms,
            threshold: thresholds.slow_query_mean_ms,
            described: inputs
                .mean_query_ms
                .map(|v| format!("mean query time {v:.2} ms over the last interval")),
            unit: " ms",
            unknown: "no queries in the last interval",
        }),
        alert(Rule {
            code: POOL_UTILIZATION,
            name: "High Connection Pool Utilization",
            severity: Severity::Critical,
            value: inputs.pool_utilization_percent,
            threshold: thresholds.pool_utilization_percent,
            described: inputs
                .pool_utilization_percent
                .map(|v| format!("pool utilization {v:.1} % of the configured maximum")),
            unit: " %",
            unknown: "connection monitoring is off",
        }),
        alert(Rule {
            code: MEMORY_GROWTH,
            name: "Memory Leak Detection",
            severity: Severity::Critical,
            value: inputs.memory_growth_percent,
            threshold: thresholds.memory_growth_percent,
            described: inputs
                .memory_growth_percent
                .map(|v| format!("memory grew {v:.1} % over {window}")),
            unit: " %",
            unknown: "not measurable yet: no memory sample is as old as the growth window",
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::histogram::LatencyHistogram;
    use crate::metrics::pool::{DEFAULT_LEAK_BOUND, PoolStats};

    fn by_code<'a>(alerts: &'a [Alert], code: &str) -> &'a Alert {
        alerts.iter().find(|a| a.code == code).unwrap()
    }

    #[test]
    fn defaults_are_the_originals() {
        let t = AlertThresholds::default();
        assert_eq!(
            (
                t.slow_query_mean_ms,
                t.pool_utilization_percent,
                t.memory_growth_percent
            ),
            (100.0, 85.0, 10.0)
        );
        assert_eq!(t.memory_growth_window, Duration::from_secs(3600));
    }

    #[test]
    fn all_alerts_are_listed_and_silent_without_figures() {
        let alerts = evaluate(&AlertThresholds::default(), &AlertInputs::default());
        let names: Vec<&str> = alerts.iter().map(|a| a.name).collect();
        assert_eq!(
            names,
            [
                "Slow Database Queries",
                "High Connection Pool Utilization",
                "Memory Leak Detection"
            ]
        );
        assert!(alerts.iter().all(|a| !a.firing && a.value.is_none()));
        assert!(by_code(&alerts, MEMORY_GROWTH).message.contains("not measurable yet"));
        assert_eq!(by_code(&alerts, SLOW_QUERIES).severity, Severity::Warning);
        assert_eq!(by_code(&alerts, POOL_UTILIZATION).severity.as_str(), "critical");
    }

    #[test]
    fn boundaries_are_strict() {
        let thresholds = AlertThresholds::default();
        let at = AlertInputs {
            mean_query_ms: Some(100.0),
            pool_utilization_percent: Some(85.0),
            memory_growth_percent: Some(10.0),
        };
        let alerts = evaluate(&thresholds, &at);
        assert!(alerts.iter().all(|a| !a.firing), "equal to the threshold does not fire");
        assert!(by_code(&alerts, SLOW_QUERIES).message.contains("within"));

        let above = AlertInputs {
            mean_query_ms: Some(100.01),
            pool_utilization_percent: Some(85.01),
            memory_growth_percent: Some(10.01),
        };
        let alerts = evaluate(&thresholds, &above);
        assert!(alerts.iter().all(|a| a.firing));
        let slow = by_code(&alerts, SLOW_QUERIES);
        assert_eq!((slow.value, slow.threshold), (Some(100.01), 100.0));
        assert_eq!(
            slow.message,
            "mean query time 100.01 ms over the last interval is above the threshold of 100 ms"
        );
        assert_eq!(
            by_code(&alerts, MEMORY_GROWTH).message,
            "memory grew 10.0 % over the last hour is above the threshold of 10 %"
        );
    }

    #[test]
    fn zero_thresholds_fire_on_any_activity() {
        let thresholds = AlertThresholds {
            slow_query_mean_ms: 0.0,
            pool_utilization_percent: 0.0,
            memory_growth_percent: 0.0,
            ..AlertThresholds::default()
        };
        let inputs = AlertInputs {
            mean_query_ms: Some(0.004),
            pool_utilization_percent: Some(1.0),
            memory_growth_percent: Some(0.0),
        };
        let alerts = evaluate(&thresholds, &inputs);
        assert!(by_code(&alerts, SLOW_QUERIES).firing);
        assert!(by_code(&alerts, POOL_UTILIZATION).firing);
        assert!(!by_code(&alerts, MEMORY_GROWTH).firing, "no growth is not growth");
    }

    #[test]
    fn inputs_from_snapshots() {
        let a = LatencyHistogram::new();
        let b = LatencyHistogram::new();
        for _ in 0..3 {
            a.record(Duration::from_millis(10));
        }
        b.record(Duration::from_millis(250));
        let queries = [
            QueryTypeSnapshot {
                latency: a.snapshot(),
                ..QueryTypeSnapshot::empty("a")
            },
            QueryTypeSnapshot {
                latency: b.snapshot(),
                ..QueryTypeSnapshot::empty("b")
            },
        ];
        let stats = PoolStats::new(4, true, DEFAULT_LEAK_BOUND);
        let _held: Vec<_> = (0..4).map(|_| stats.acquired("x")).collect();
        let pool = stats.snapshot(4, 0);
        let growth = GrowthFigure {
            percent: 12.5,
            from_bytes: 800,
            to_bytes: 900,
            over: Duration::from_secs(3600),
        };
        let inputs = AlertInputs::from_figures(&queries, Some(&pool), Some(&growth));
        // Weighted by count: (3 × 10 + 250) / 4 = 70 ms, under the threshold.
        assert_eq!(inputs.mean_query_ms, Some(70.0));
        assert_eq!(inputs.pool_utilization_percent, Some(100.0));
        let alerts = evaluate(&AlertThresholds::default(), &inputs);
        let firing: Vec<&str> = alerts.iter().filter(|a| a.firing).map(|a| a.code).collect();
        assert_eq!(firing, [POOL_UTILIZATION, MEMORY_GROWTH]);

        let idle = AlertInputs::from_figures(&[QueryTypeSnapshot::empty("a")], None, None);
        assert_eq!(idle, AlertInputs::default());
    }
}
