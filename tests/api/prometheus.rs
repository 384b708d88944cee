//! The Prometheus page parses as Prometheus text and carries exact figures, with the pool's
//! open/idle counts read from a real pool on each backend. (The HTTP `/metrics` route is tested
//! where it is wired.)

use std::time::Duration;

use domainflow::metrics::{AlertInputs, Metrics, MetricsConfig, evaluate, prometheus};
use prometheus_parse::{Sample, Scrape, Value};

fn parse(page: &str) -> Scrape {
    Scrape::parse(page.lines().map(|line| Ok(line.to_owned()))).expect("the page parses as Prometheus text")
}

fn find<'a>(scrape: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> &'a Sample {
    scrape
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

db_test!(
    async fn page_parses_with_exact_query_and_pool_figures(db) {
        let metrics = Metrics::new(MetricsConfig {
            slow_query_threshold: Duration::ZERO,
            ..MetricsConfig::for_pool(5)
        });
        for rows in [3, 4, 5] {
            metrics.queries().record("x.page", Duration::from_millis(120), rows, true);
        }
        metrics.queries().record("y.count", Duration::from_millis(1), 1, false);
        let (open, idle) = domainflow::db::pool_open_idle(&db.db);
        let held = metrics.pool().acquired("x.page");
        let pool = metrics.pool().snapshot(open, idle);
        let alerts = evaluate(
            metrics.alert_thresholds(),
            &AlertInputs::from_figures(&metrics.queries().snapshot(), Some(&pool), None),
        );
        let page = prometheus::render(&metrics, &pool, &alerts);
        drop(held);
        let scrape = parse(&page);

        let x = [("query_type", "x.page")];
        assert_eq!(number(find(&scrape, "domainflow_query_duration_seconds_count", &x)), 3.0);
        assert_eq!(number(find(&scrape, "domainflow_query_rows_total", &x)), 12.0);
        assert_eq!(number(find(&scrape, "domainflow_query_slow_total", &x)), 3.0);
        assert_eq!(number(find(&scrape, "domainflow_query_errors_total", &x)), 0.0);
        let y = [("query_type", "y.count")];
        assert_eq!(number(find(&scrape, "domainflow_query_errors_total", &y)), 1.0);
        let Value::Histogram(buckets) = &find(&scrape, "domainflow_query_duration_seconds", &x).value else {
            panic!("not a histogram");
        };
        assert!(buckets.windows(2).all(|w| w[0].count <= w[1].count), "buckets are cumulative");
        assert_eq!(buckets.last().map(|b| (b.less_than, b.count)), Some((f64::INFINITY, 3.0)));
        assert_eq!(buckets.iter().find(|b| b.less_than == 0.1).map(|b| b.count), Some(0.0));
        assert_eq!(buckets.iter().find(|b| b.less_than == 0.15).map(|b| b.count), Some(3.0));

        assert_eq!(number(find(&scrape, "domainflow_pool_open_connections", &[])), f64::from(open));
        assert_eq!(number(find(&scrape, "domainflow_pool_idle_connections", &[])), f64::from(idle));
        assert_eq!(number(find(&scrape, "domainflow_pool_in_use_connections", &[])), 1.0);
        assert_eq!(number(find(&scrape, "domainflow_pool_utilization_ratio", &[])), 0.2);
        // Mean (3 × 120 + 1) / 4 = 90.25 ms: under the 100 ms default, so not firing.
        let slow = [("alert", "Slow Database Queries"), ("severity", "warning")];
        assert_eq!(number(find(&scrape, "domainflow_alert_firing", &slow)), 0.0);
        let pool_alert = [("alert", "High Connection Pool Utilization"), ("severity", "critical")];
        assert_eq!(number(find(&scrape, "domainflow_alert_firing", &pool_alert)), 0.0);
    }
);
