//! The `/metrics` page: the same figures as `Query.metrics`, in the Prometheus text
//! exposition format (version 0.0.4), encoded by the `prometheus-client` crate.
//!
//! Design: the live figures already sit in our own lock-free atomics and fixed-size histograms
//! ([`Metrics`]). Mirroring every update into `prometheus-client`'s metric types would double the
//! hot-path cost, and its `Histogram` can only be fed observations, not our bucket counts. So
//! nothing is registered up front: each scrape builds a fresh [`Registry`] holding one
//! [`Collector`] that owns that scrape's snapshots and encodes them as const families. That keeps
//! [`render`] a pure function of its arguments (no global registry, trivially testable), at the
//! price of a few small allocations per scrape — negligible at scrape rates.
//!
//! Every family is prefixed `domainflow_`. Counter names are given without `_total`; the encoder
//! appends it, as the exposition format requires.

use std::time::Instant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::{Alert, HistogramSnapshot, Metrics, PoolSnapshot, QueryTypeSnapshot};

/// The `Content-Type` for the page [`render`] produces.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Prefix of every family name.
const PREFIX: &str = "domainflow";

/// Renders the current figures: `metrics` for queries, memory, limiter and uptime; `pool` as
/// read now (cumulative, from `metrics.pool().snapshot(open, idle)`); `alerts` as evaluated by
/// the caller (so the page and `Query.metrics` agree on what is firing).
pub fn render(metrics: &Metrics, pool: &PoolSnapshot, alerts: &[Alert]) -> String {
    let growth_window = metrics.alert_thresholds().memory_growth_window;
    let memory = super::read_memory();
    let scrape = Scrape {
        queries: metrics.queries().snapshot(),
        pool: pool.clone(),
        alerts: alerts.to_vec(),
        rss_bytes: memory.map(|m| m.rss_bytes),
        peak_rss_bytes: memory.map(|m| m.peak_rss_bytes),
        growth_ratio: metrics
            .memory()
            .growth_over(growth_window, Instant::now())
            .map(|g| g.percent / 100.0),
        limiter: metrics.limiter().snapshot(),
        uptime_seconds: metrics.uptime().as_secs_f64(),
        requests: metrics.requests().snapshot(),
    };
    let mut registry = Registry::with_prefix(PREFIX);
    registry.register_collector(Box::new(scrape));
    let mut page = String::new();
    // Writing to a String cannot fail; an encoder error would be a bug in a family below, and
    // a partial page is still more useful to an operator than none.
    if let Err(error) = prometheus_client::encoding::prometheus_text::encode(&mut page, &registry) {
        tracing::warn!(%error, "encoding the Prometheus page failed");
    }
    page
}

/// One scrape's figures, owned so the collector can be boxed into a registry.
#[derive(Debug)]
struct Scrape {
    queries: Vec<QueryTypeSnapshot>,
    pool: PoolSnapshot,
    alerts: Vec<Alert>,
    rss_bytes: Option<u64>,
    peak_rss_bytes: Option<u64>,
    growth_ratio: Option<f64>,
    limiter: super::LimiterSnapshot,
    uptime_seconds: f64,
    requests: super::requests::RequestSnapshot,
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: f64) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

fn counter<V>(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: V) -> Result<(), std::fmt::Error>
where
    ConstCounter<V>: EncodeMetric,
{
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// A counter family with one series per query type.
fn per_query_type(
    encoder: &mut DescriptorEncoder,
    queries: &[QueryTypeSnapshot],
    name: &str,
    help: &str,
    value: impl Fn(&QueryTypeSnapshot) -> u64,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for query in queries {
        let labels = [("query_type", query.query_type)];
        ConstCounter::new(value(query)).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Per-bucket (non-cumulative) counts with their upper bounds, as `encode_histogram` wants
/// them, from [`HistogramSnapshot::buckets`]' cumulative ones; the last bound is `+Inf`.
fn histogram_buckets(histogram: &HistogramSnapshot) -> Vec<(f64, u64)> {
    let mut previous = 0u64;
    histogram
        .buckets()
        .map(|(le, cumulative)| {
            // Saturating: a snapshot taken under concurrent recording may be transiently skewed.
            let in_bucket = cumulative.saturating_sub(previous);
            previous = previous.max(cumulative);
            (le, in_bucket)
        })
        .collect()
}

impl Scrape {
    /// The adaptive limit: where it is, what it compares, and why it last moved.
    fn encode_limiter(&self, e: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let limiter = &self.limiter;
        gauge(
            e,
            "adaptive_limit_connections",
            "Current limit on concurrent database work; more queries wait at the gate (DB_MAX_OPEN_CONNS when DB_ADAPTIVE_LIMIT is off).",
            f64::from(limiter.current),
        )?;
        gauge(
            e,
            "adaptive_limit_enabled",
            "Whether the limit adapts to the database's latency (DB_ADAPTIVE_LIMIT).",
            f64::from(u8::from(limiter.enabled)),
        )?;
        gauge(
            e,
            "adaptive_limit_min_connections",
            "Lowest the adaptive limit may go.",
            f64::from(limiter.min),
        )?;
        // Absent until measured rather than a misleading 0.
        if let Some(ms) = limiter.baseline_ms {
            gauge(
                e,
                "adaptive_limit_baseline_latency_seconds",
                "No-load query latency the limit compares against (median of the last probe or of a quicker window).",
                ms / 1000.0,
            )?;
        }
        if let Some(window) = limiter.last_window {
            gauge(
                e,
                "adaptive_limit_window_latency_seconds",
                "Median query latency of the limit's last decision window.",
                window.latency.as_secs_f64(),
            )?;
        }
        if let Some(queue) = limiter.queue_estimate {
            gauge(
                e,
                "adaptive_limit_queue_estimate",
                "Queries estimated to queue inside the database in the last window: limit × (1 − baseline / latency).",
                queue,
            )?;
        }
        {
            let mut family = e.encode_descriptor(
                "adaptive_limit_changes",
                "Changes of the adaptive limit, by direction.",
                None,
                MetricType::Counter,
            )?;
            for (direction, value) in [("raise", limiter.raises), ("lower", limiter.lowers)] {
                ConstCounter::new(value).encode(family.encode_family(&[("direction", direction)])?)?;
            }
        }
        counter(
            e,
            "adaptive_limit_probes",
            "Measurements of the no-load latency (queries run one at a time for a moment).",
            limiter.probes,
        )?;
        if let Some(change) = limiter.last_change() {
            let mut family = e.encode_descriptor(
                "adaptive_limit_last_change",
                "The limit set by the last change, labelled with why: latency_flat (raised) or queue_building (lowered).",
                None,
                MetricType::Gauge,
            )?;
            let labels = [("cause", change.cause.as_str())];
            ConstGauge::new(f64::from(change.to)).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let e = &mut encoder;
        let pool = &self.pool;

        // Pool gauges: read when the page is read.
        gauge(
            e,
            "pool_max_connections",
            "Configured maximum pool size (DB_MAX_OPEN_CONNS).",
            f64::from(pool.configured_max),
        )?;
        gauge(
            e,
            "pool_open_connections",
            "Connections open in the pool.",
            f64::from(pool.open),
        )?;
        gauge(
            e,
            "pool_idle_connections",
            "Open connections not checked out.",
            f64::from(pool.idle),
        )?;
        gauge(
            e,
            "pool_in_use_connections",
            "Connections checked out through the gate.",
            f64::from(pool.in_use),
        )?;
        gauge(
            e,
            "pool_utilization_ratio",
            "Connections in use over the configured maximum (0..1); the alert uses its percentage.",
            pool.utilization_percent / 100.0,
        )?;
        // Pool counters: cumulative since start.
        counter(
            e,
            "pool_acquisitions",
            "Connection acquisitions through the gate.",
            pool.acquisitions,
        )?;
        counter(
            e,
            "pool_waits",
            "Acquisitions that had to wait for a connection.",
            pool.waits(),
        )?;
        counter(
            e,
            "pool_wait_seconds",
            "Time spent waiting for a connection.",
            pool.wait.sum_seconds(),
        )?;
        counter(
            e,
            "pool_acquire_timeouts",
            "Acquisitions that gave up waiting.",
            pool.acquire_timeouts,
        )?;
        counter(
            e,
            "pool_connection_errors",
            "Connection-level failures.",
            pool.connection_errors,
        )?;
        counter(
            e,
            "pool_leaks_detected",
            "Connections held longer than the leak bound (each counted once).",
            pool.leaks_detected,
        )?;
        self.encode_limiter(e)?;

        // Queries by type.
        {
            let mut family = e.encode_descriptor(
                "query_duration_seconds",
                "Database query latency by query type.",
                None,
                MetricType::Histogram,
            )?;
            for query in &self.queries {
                let labels = [("query_type", query.query_type)];
                let buckets = histogram_buckets(&query.latency);
                family.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
                    query.latency.sum_seconds(),
                    query.count(),
                    &buckets,
                    None,
                )?;
            }
        }
        per_query_type(e, &self.queries, "query_errors", "Failed queries by query type.", |q| {
            q.errors
        })?;
        per_query_type(
            e,
            &self.queries,
            "query_slow",
            "Queries slower than PERFORMANCE_LOG_THRESHOLD_MS by query type.",
            |q| q.slow,
        )?;
        per_query_type(e, &self.queries, "query_rows", "Rows returned by query type.", |q| {
            q.rows
        })?;

        // Requests (as `Query.metrics.requests`).
        let requests = &self.requests;
        counter(e, "http_requests", "HTTP requests answered.", requests.total)?;
        counter(
            e,
            "http_request_errors",
            "HTTP requests answered with a status of 400 or more.",
            requests.errors,
        )?;
        gauge(
            e,
            "http_requests_in_flight",
            "HTTP requests received and not answered yet.",
            requests.in_flight as f64,
        )?;
        counter(
            e,
            "graphql_compiled_requests",
            "GraphQL requests answered by a compiled page plan (GRAPHQL_COMPILED_PAGES).",
            requests.compiled,
        )?;
        {
            let mut family = e.encode_descriptor(
                "graphql_persisted_queries",
                "Automatic Persisted Queries by outcome: hit (a hash answered), miss (a hash not kept), registered (a text kept).",
                None,
                MetricType::Counter,
            )?;
            for (outcome, value) in [
                ("hit", requests.persisted_hits),
                ("miss", requests.persisted_misses),
                ("registered", requests.persisted_registered),
            ] {
                ConstCounter::new(value).encode(family.encode_family(&[("outcome", outcome)])?)?;
            }
        }

        // Memory: absent where it cannot be read (off Linux) or not yet measurable (first hour),
        // rather than a misleading 0.
        if let Some(rss) = self.rss_bytes {
            gauge(e, "memory_rss_bytes", "Resident set size now.", rss as f64)?;
        }
        if let Some(peak) = self.peak_rss_bytes {
            gauge(
                e,
                "memory_peak_rss_bytes",
                "Highest resident set size since start.",
                peak as f64,
            )?;
        }
        if let Some(ratio) = self.growth_ratio {
            gauge(
                e,
                "memory_growth_ratio",
                "RSS growth over the memory alert's window (0.1 = 10 %).",
                ratio,
            )?;
        }

        // Alerts: every alert, firing or not, so a dashboard sees 0 → 1 transitions.
        {
            let mut family = e.encode_descriptor(
                "alert_firing",
                "Whether an alert is firing (1) or not (0).",
                None,
                MetricType::Gauge,
            )?;
            for alert in &self.alerts {
                let labels = [("alert", alert.name), ("severity", alert.severity.as_str())];
                ConstGauge::new(i64::from(alert.firing)).encode(family.encode_family(&labels)?)?;
            }
        }

        gauge(
            e,
            "uptime_seconds",
            "Time since the server started.",
            self.uptime_seconds,
        )?;
        {
            let mut family =
                e.encode_descriptor("build_info", "The running build; always 1.", None, MetricType::Gauge)?;
            let labels = [("version", env!("CARGO_PKG_VERSION"))];
            ConstGauge::new(1i64).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use prometheus_parse::{Sample, Scrape as Parsed, Value};

    use super::*;
    use crate::metrics::{AlertInputs, MetricsConfig, evaluate};

    fn parse(page: &str) -> Parsed {
        Parsed::parse(page.lines().map(|line| Ok(line.to_owned()))).expect("the page parses")
    }

    fn find<'a>(parsed: &'a Parsed, metric: &str, labels: &[(&str, &str)]) -> &'a Sample {
        parsed
            .samples
            .iter()
            .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .unwrap_or_else(|| panic!("no sample {metric} {labels:?}"))
    }

    fn number(sample: &Sample) -> f64 {
        match sample.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            ref other => panic!("{} is not a number: {other:?}", sample.metric),
        }
    }

    #[test]
    fn renders_parseable_families_with_exact_values() {
        let metrics = Metrics::new(MetricsConfig {
            slow_query_threshold: Duration::from_millis(100),
            ..MetricsConfig::for_pool(8)
        });
        let queries = metrics.queries();
        queries.record("x.page", Duration::from_millis(2), 10, true);
        queries.record("x.page", Duration::from_millis(30), 5, true);
        queries.record("x.page", Duration::from_millis(150), 0, false);
        queries.record("y.count", Duration::from_micros(500), 1, true);
        let requests = metrics.requests();
        for status in [200, 200, 404] {
            requests.start();
            requests.finish(status);
        }
        requests.start();
        requests.compiled();
        requests.persisted(crate::metrics::requests::Persisted::Miss);
        requests.persisted(crate::metrics::requests::Persisted::Registered);
        requests.persisted(crate::metrics::requests::Persisted::Hit);
        requests.persisted(crate::metrics::requests::Persisted::Hit);
        let held = metrics.pool().acquired("x.page");
        let pool = metrics.pool().snapshot(3, 1);
        let alerts = evaluate(
            metrics.alert_thresholds(),
            &AlertInputs::from_figures(&queries.snapshot(), Some(&pool), None),
        );
        let parsed = parse(&render(&metrics, &pool, &alerts));
        drop(held);

        let count = number(find(
            &parsed,
            "domainflow_query_duration_seconds_count",
            &[("query_type", "x.page")],
        ));
        assert_eq!(count, 3.0);
        let sum = number(find(
            &parsed,
            "domainflow_query_duration_seconds_sum",
            &[("query_type", "x.page")],
        ));
        assert!((sum - 0.182).abs() < 1e-9, "sum {sum}");
        let Value::Histogram(buckets) = &find(
            &parsed,
            "domainflow_query_duration_seconds",
            &[("query_type", "x.page")],
        )
        .value
        else {
            panic!("query_duration_seconds is not a histogram");
        };
        assert_eq!(
            buckets.len(),
            crate::metrics::histogram::PROMETHEUS_BOUNDS_SECONDS.len() + 1
        );
        assert!(
            buckets
                .windows(2)
                .all(|w| w[0].less_than < w[1].less_than && w[0].count <= w[1].count)
        );
        let inf = buckets.last().expect("a +Inf bucket");
        assert_eq!((inf.less_than, inf.count), (f64::INFINITY, 3.0));
        let at = |le: f64| buckets.iter().find(|b| b.less_than == le).map(|b| b.count);
        assert_eq!(
            (at(0.001), at(0.025), at(0.05), at(0.1), at(0.2)),
            (Some(0.0), Some(1.0), Some(2.0), Some(2.0), Some(3.0))
        );

        let x = [("query_type", "x.page")];
        assert_eq!(number(find(&parsed, "domainflow_query_errors_total", &x)), 1.0);
        assert_eq!(number(find(&parsed, "domainflow_query_slow_total", &x)), 1.0);
        assert_eq!(number(find(&parsed, "domainflow_query_rows_total", &x)), 15.0);
        assert_eq!(
            number(find(
                &parsed,
                "domainflow_query_duration_seconds_count",
                &[("query_type", "y.count")]
            )),
            1.0
        );

        assert_eq!(number(find(&parsed, "domainflow_http_requests_total", &[])), 3.0);
        assert_eq!(number(find(&parsed, "domainflow_http_request_errors_total", &[])), 1.0);
        assert_eq!(number(find(&parsed, "domainflow_http_requests_in_flight", &[])), 1.0);
        assert_eq!(
            number(find(&parsed, "domainflow_graphql_compiled_requests_total", &[])),
            1.0
        );
        for (outcome, value) in [("hit", 2.0), ("miss", 1.0), ("registered", 1.0)] {
            let sample = find(
                &parsed,
                "domainflow_graphql_persisted_queries_total",
                &[("outcome", outcome)],
            );
            assert_eq!(number(sample), value, "{outcome}");
        }
        assert_eq!(number(find(&parsed, "domainflow_pool_max_connections", &[])), 8.0);
        assert_eq!(number(find(&parsed, "domainflow_pool_open_connections", &[])), 3.0);
        assert_eq!(number(find(&parsed, "domainflow_pool_idle_connections", &[])), 1.0);
        assert_eq!(number(find(&parsed, "domainflow_pool_in_use_connections", &[])), 1.0);
        assert_eq!(number(find(&parsed, "domainflow_pool_utilization_ratio", &[])), 0.125);
        assert_eq!(number(find(&parsed, "domainflow_pool_acquisitions_total", &[])), 1.0);
        assert_eq!(number(find(&parsed, "domainflow_pool_waits_total", &[])), 0.0);
        assert_eq!(number(find(&parsed, "domainflow_adaptive_limit_connections", &[])), 8.0);
        assert_eq!(number(find(&parsed, "domainflow_adaptive_limit_enabled", &[])), 1.0);
        assert_eq!(
            number(find(&parsed, "domainflow_adaptive_limit_min_connections", &[])),
            2.0
        );
        assert_eq!(
            number(find(
                &parsed,
                "domainflow_adaptive_limit_changes_total",
                &[("direction", "lower")]
            )),
            0.0
        );
        assert_eq!(
            number(find(&parsed, "domainflow_adaptive_limit_probes_total", &[])),
            0.0
        );
        // Nothing measured or changed yet: those families are absent, not 0.
        for absent in [
            "domainflow_adaptive_limit_baseline_latency_seconds",
            "domainflow_adaptive_limit_queue_estimate",
            "domainflow_adaptive_limit_last_change",
        ] {
            assert!(!parsed.samples.iter().any(|s| s.metric == absent), "{absent}");
        }
        assert!(matches!(
            find(&parsed, "domainflow_pool_acquisitions_total", &[]).value,
            Value::Counter(_)
        ));

        // Mean over all queries is (2 + 30 + 150 + 0.5) / 4 = 45.6 ms: below the 100 ms threshold.
        let slow = find(
            &parsed,
            "domainflow_alert_firing",
            &[("alert", "Slow Database Queries"), ("severity", "warning")],
        );
        assert_eq!(number(slow), 0.0);
        let firing_series = parsed
            .samples
            .iter()
            .filter(|s| s.metric == "domainflow_alert_firing")
            .count();
        assert_eq!(firing_series, alerts.len());

        let version = [("version", env!("CARGO_PKG_VERSION"))];
        assert_eq!(number(find(&parsed, "domainflow_build_info", &version)), 1.0);
        assert!(number(find(&parsed, "domainflow_uptime_seconds", &[])) >= 0.0);
        if cfg!(target_os = "linux") {
            assert!(number(find(&parsed, "domainflow_memory_rss_bytes", &[])) > 0.0);
            assert!(number(find(&parsed, "domainflow_memory_peak_rss_bytes", &[])) > 0.0);
        }
        // No growth figure in the first hour.
        assert!(
            !parsed
                .samples
                .iter()
                .any(|s| s.metric == "domainflow_memory_growth_ratio")
        );
    }

    #[test]
    fn the_adaptive_limit_shows_where_it_is_and_why_it_moved() {
        let metrics = Metrics::new(MetricsConfig::for_pool(100));
        let gate = metrics.limiter();
        let mut clock = std::time::Instant::now();
        let mut feed = |n: usize, ms: u64| {
            for _ in 0..n {
                clock += Duration::from_millis(10);
                gate.record_at(Duration::from_millis(ms), true, clock);
            }
        };
        // A binding window starts a probe (1 ms one at a time), then 10 ms at 8 in flight is a
        // queue of 7.2: lowered 8 → 4.
        feed(30, 1);
        feed(20, 1);
        feed(30, 10);
        let pool = metrics.pool().snapshot(0, 0);
        let parsed = parse(&render(&metrics, &pool, &[]));
        assert_eq!(number(find(&parsed, "domainflow_adaptive_limit_connections", &[])), 4.0);
        let last = find(
            &parsed,
            "domainflow_adaptive_limit_last_change",
            &[("cause", "queue_building")],
        );
        assert_eq!(number(last), 4.0);
        assert_eq!(
            number(find(
                &parsed,
                "domainflow_adaptive_limit_changes_total",
                &[("direction", "lower")]
            )),
            1.0
        );
        assert_eq!(
            number(find(&parsed, "domainflow_adaptive_limit_probes_total", &[])),
            1.0
        );
        let baseline = number(find(&parsed, "domainflow_adaptive_limit_baseline_latency_seconds", &[]));
        assert!((baseline - 0.001).abs() < 0.0001, "{baseline}");
        let queue = number(find(&parsed, "domainflow_adaptive_limit_queue_estimate", &[]));
        assert!((queue - 7.2).abs() < 0.3, "{queue}");
    }

    #[test]
    fn an_empty_server_still_renders_a_valid_page() {
        let metrics = Metrics::default();
        let pool = metrics.pool().snapshot(0, 0);
        let parsed = parse(&render(&metrics, &pool, &[]));
        assert_eq!(number(find(&parsed, "domainflow_pool_max_connections", &[])), 100.0);
        assert!(!parsed.samples.iter().any(|s| s.metric.starts_with("domainflow_query_")));
    }
}
