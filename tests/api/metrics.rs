//! Query.metrics: exact counts per query type after known traffic, slow queries tripping the
//! alert and yielding a recommendation when thresholds are 0, pool figures that move, the
//! adaptive concurrency limit on by default (and off on request) with what it measured.

use serde_json::{Value, json};

use crate::helpers::insert_campaign;

const METRICS: &str = "{ metrics {
    uptimeSeconds startedAt
    pool { configuredMax open idle inUse peakInUse utilizationPercent acquisitions waits acquireTimeouts connectionErrors leaksDetected
           adaptiveLimit { enabled current max } }
    queries { queryType count errors meanMs p50Ms p95Ms p99Ms maxMs slowCount rows }
    memory { rssBytes peakRssBytes growthPercent growthWindowSeconds }
    alerts { code name severity firing value threshold message }
    recommendations { code message evidence setting }
} }";

fn query_type<'a>(metrics: &'a Value, name: &str) -> &'a Value {
    metrics["queries"]
        .as_array()
        .and_then(|q| q.iter().find(|q| q["queryType"] == name))
        .unwrap_or(&Value::Null)
}

db_test!(
    async fn counts_are_exact_and_thresholds_trip(db) {
        for i in 0..3 {
            insert_campaign(&db, &format!("c{i}"), "domain_generation", "completed", 1_767_225_600_000_000 + i).await;
        }
        let app = db
            .spawn_app_with(&[
                ("PERFORMANCE_LOG_THRESHOLD_MS", "0"),
                ("ALERT_SLOW_QUERY_MEAN_MS", "0"),
                ("DB_MAX_OPEN_CONNS", "4"),
            ])
            .await;
        let before = app.graphql(METRICS, json!({})).await;
        assert!(before.get("errors").is_none(), "{before}");
        assert_eq!(query_type(&before["data"]["metrics"], "campaigns.page"), &Value::Null);

        for _ in 0..5 {
            let r = app.graphql("{ campaigns(first: 2) { totalCount nodes { name } } }", json!({})).await;
            assert!(r.get("errors").is_none(), "{r}");
        }
        let r = app
            .graphql("{ campaigns(first: 1) { nodes { id } } }", json!({}))
            .await;
        let id = r["data"]["campaigns"]["nodes"][0]["id"].clone();
        for _ in 0..2 {
            app.graphql("query($id: ID!) { node(id: $id) { id } }", json!({ "id": id })).await;
        }

        let report = app.graphql(METRICS, json!({})).await;
        let m = &report["data"]["metrics"];
        let page = query_type(m, "campaigns.page");
        assert_eq!(page["count"], 6, "{m}");
        assert_eq!(page["errors"], 0);
        assert_eq!(page["rows"], 5 * 2 + 1, "rows returned");
        assert_eq!(page["slowCount"], 6, "threshold 0: every query is slow");
        let load = query_type(m, "campaigns.load");
        assert_eq!(load["count"], 2, "{m}");
        assert_eq!(load["rows"], 2);
        assert!(page["p50Ms"].as_f64().unwrap_or(-1.0) > 0.0);
        assert!(page["p99Ms"].as_f64() >= page["p50Ms"].as_f64());

        let pool = &m["pool"];
        assert_eq!(pool["configuredMax"], 4);
        assert_eq!(pool["acquisitions"], 8, "every query went through the gate: {pool}");
        assert_eq!(pool["inUse"], 0, "nothing held after the requests");
        assert!(pool["peakInUse"].as_u64().unwrap_or(0) >= 1);

        let alerts = m["alerts"].as_array().cloned().unwrap_or_default();
        assert_eq!(alerts.len(), 3, "every alert is listed: {alerts:?}");
        let slow = alerts.iter().find(|a| a["code"] == "slow_queries").cloned().unwrap_or_default();
        assert_eq!(slow["name"], "Slow Database Queries");
        assert_eq!(slow["severity"], "warning");
        assert_eq!(slow["firing"], true, "{slow}");
        assert!(slow["value"].as_f64().unwrap_or(0.0) > 0.0);
        let memory = alerts.iter().find(|a| a["code"] == "memory_growth").cloned().unwrap_or_default();
        assert_eq!(memory["name"], "Memory Leak Detection");
        assert_eq!(memory["firing"], false, "nothing fires in the first hour");
        assert_eq!(memory["value"], Value::Null);

        let recs = m["recommendations"].as_array().cloned().unwrap_or_default();
        let slow_rec = recs
            .iter()
            .find(|r| r["code"] == "slow_query_type" && r["message"].as_str().unwrap_or("").contains("campaigns.page"));
        assert!(slow_rec.is_some(), "a recommendation names the slow query type: {recs:?}");
        assert!(!slow_rec.map(|r| r["evidence"].as_str().unwrap_or("")).unwrap_or("").is_empty());

        // The slow-query log: every query (threshold 0), SQL shape with placeholders only.
        let slow = app
            .graphql("{ metrics { slowQueries { queryType durationMs rows ok sql } } }", json!({}))
            .await;
        let entries = slow["data"]["metrics"]["slowQueries"].as_array().cloned().unwrap_or_default();
        let page_entry = entries.iter().find(|e| e["queryType"] == "campaigns.page").cloned().unwrap_or_default();
        assert_eq!(page_entry["rows"], 2, "{slow}");
        let sql = page_entry["sql"].as_str().unwrap_or_default();
        assert!(sql.contains("FROM \"campaigns\""), "{sql}");
        // The page size is written into the SQL (a literal LIMIT keeps PostgreSQL on its cached
        // generic plan); every value stays a placeholder.
        assert!(sql.ends_with(" LIMIT 3"), "page size + 1: {sql}");
        assert!(!sql.contains("c0") && !sql.contains("domain_generation'"), "no values: {sql}");

        if cfg!(target_os = "linux") {
            assert!(m["memory"]["rssBytes"].as_u64().unwrap_or(0) > 1_000_000, "{}", m["memory"]);
        }
        app.stop().await;
    }
);

db_test!(
    async fn defaults_do_not_fire(db) {
        let app = db.spawn_app().await;
        app.graphql("{ campaigns { totalCount } }", json!({})).await;
        let report = app.graphql(METRICS, json!({})).await;
        let alerts = report["data"]["metrics"]["alerts"].as_array().cloned().unwrap_or_default();
        assert!(alerts.iter().all(|a| a["firing"] == false), "{alerts:?}");
        let thresholds: Vec<f64> = alerts.iter().filter_map(|a| a["threshold"].as_f64()).collect();
        assert_eq!(thresholds, vec![100.0, 85.0, 10.0], "the original thresholds");
        app.stop().await;
    }
);

db_test!(
    async fn prometheus_endpoint_and_persisted_history(db) {
        let app = db
            .spawn_app_with(&[("METRICS_SAMPLE_INTERVAL_SECONDS", "1"), ("PERFORMANCE_LOG_THRESHOLD_MS", "0")])
            .await;
        for _ in 0..4 {
            app.graphql("{ campaigns(first: 3) { totalCount } }", json!({})).await;
        }
        let response = app.client.get(format!("{}/metrics", app.address)).send().await.expect("scrape");
        assert_eq!(response.status().as_u16(), 200);
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        let body = response.text().await.expect("body");
        let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text");
        let sample = |metric: &str, labels: &[(&str, &str)]| {
            scrape
                .samples
                .iter()
                .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
                .map(|s| match s.value {
                    prometheus_parse::Value::Counter(v)
                    | prometheus_parse::Value::Gauge(v)
                    | prometheus_parse::Value::Untyped(v) => v,
                    _ => f64::NAN,
                })
        };
        assert_eq!(
            sample("domainflow_query_duration_seconds_count", &[("query_type", "campaigns.page")]),
            Some(4.0),
            "{body}"
        );
        // The four GraphQL requests were answered before the scrape, which is itself in flight.
        assert!(sample("domainflow_http_requests_total", &[]).is_some_and(|n| n >= 4.0), "{body}");
        assert!(sample("domainflow_http_requests_in_flight", &[]).is_some_and(|n| n >= 1.0), "{body}");
        assert_eq!(sample("domainflow_graphql_persisted_queries_total", &[("outcome", "hit")]), Some(0.0), "{body}");
        assert_eq!(sample("domainflow_query_slow_total", &[("query_type", "campaigns.page")]), Some(4.0));
        assert_eq!(sample("domainflow_pool_max_connections", &[]), Some(5.0));
        assert_eq!(sample("domainflow_pool_acquisitions_total", &[]), Some(4.0));
        assert_eq!(
            sample("domainflow_alert_firing", &[("alert", "High Connection Pool Utilization"), ("severity", "critical")]),
            Some(0.0)
        );

        // The sampler (every second here) persists the interval; history pages through it.
        let history = "{ metrics { history {
            queryHistory(first: 10, filter: {queryType: \"campaigns.page\"}) { totalCount nodes { queryType count slowCount rowsReturned } }
            poolHistory(last: 1) { totalCount nodes { maxConnections } } } } }";
        let mut found = json!(null);
        for _ in 0..40 {
            tokio::time::sleep(std::time::Duration::from_millis(150)).await;
            let r = app.graphql(history, json!({})).await;
            let h = &r["data"]["metrics"]["history"];
            // Each connection is its own statement: wait until the sample shows in both.
            if h["queryHistory"]["nodes"].as_array().is_some_and(|n| !n.is_empty())
                && h["poolHistory"]["nodes"].as_array().is_some_and(|n| !n.is_empty())
            {
                found = r;
                break;
            }
        }
        let h = &found["data"]["metrics"]["history"];
        assert_eq!(h["queryHistory"]["nodes"][0]["queryType"], "campaigns.page", "{found}");
        assert_eq!(h["queryHistory"]["nodes"][0]["count"], 4);
        assert_eq!(h["queryHistory"]["nodes"][0]["slowCount"], 4);
        assert_eq!(h["poolHistory"]["nodes"][0]["maxConnections"], 5);
        app.stop().await;
    }
);

db_test!(
    async fn a_pool_larger_than_the_server_allows_is_flagged(db) {
        // 500 connections configured; nothing is opened in advance, so this is safe to start.
        let app = db.spawn_app_with(&[("DB_MAX_OPEN_CONNS", "500")]).await;
        app.graphql("{ campaigns { totalCount } }", json!({})).await;
        let r = app.graphql("{ metrics { recommendations { code evidence setting } } }", json!({})).await;
        let recs = r["data"]["metrics"]["recommendations"].as_array().cloned().unwrap_or_default();
        let flagged = recs.iter().find(|r| r["code"] == "server_max_connections");
        match db.backend {
            crate::helpers::Backend::Postgres => {
                let rec = flagged.unwrap_or_else(|| panic!("max_connections check missing: {recs:?}"));
                assert_eq!(rec["setting"], "DB_MAX_OPEN_CONNS");
                assert!(rec["evidence"].as_str().unwrap_or_default().contains("500"), "{rec}");
            }
            crate::helpers::Backend::Sqlite => assert!(flagged.is_none(), "SQLite has no max_connections"),
        }
        app.stop().await;
    }
);

const LIMIT: &str = "{ metrics { pool { configuredMax adaptiveLimit {
    enabled current min max baselineMs latencyMs queueEstimate raises lowers probes probing
    lastChange { from to cause reason at } recentChanges { from to cause } } } } }";

/// `concurrency` clients sending `campaigns` queries until `duration` has passed.
async fn load(app: &crate::helpers::TestApp, concurrency: usize, duration: std::time::Duration) {
    let until = std::time::Instant::now() + duration;
    let clients = (0..concurrency).map(|_| async {
        while std::time::Instant::now() < until {
            let r = app
                .graphql("{ campaigns(first: 5) { totalCount nodes { name } } }", json!({}))
                .await;
            assert!(r.get("errors").is_none(), "{r}");
        }
    });
    futures::future::join_all(clients).await;
}

db_test!(
    async fn the_adaptive_limit_is_on_by_default_and_reports_what_it_measured(db) {
        for i in 0..3 {
            insert_campaign(&db, &format!("c{i}"), "domain_generation", "completed", 1_767_225_600_000_000 + i).await;
        }
        let app = db.spawn_app_with(&[("DB_MAX_OPEN_CONNS", "20")]).await;
        let r = app.graphql(LIMIT, json!({})).await;
        let limit = &r["data"]["metrics"]["pool"]["adaptiveLimit"];
        // It starts at 8 of the pool's 20 and has measured nothing yet.
        assert_eq!(
            limit,
            &json!({
                "enabled": true, "current": 8, "min": 2, "max": 20, "baselineMs": null, "latencyMs": null,
                "queueEstimate": null, "raises": 0, "lowers": 0, "probes": 0, "probing": false,
                "lastChange": null, "recentChanges": []
            }),
            "{r}"
        );

        // More clients than the limit: acquisitions wait, so the limit binds and the first
        // decision window probes the no-load latency before deciding anything.
        load(&app, 32, std::time::Duration::from_secs(2)).await;
        let r = app.graphql(LIMIT, json!({})).await;
        let limit = &r["data"]["metrics"]["pool"]["adaptiveLimit"];
        assert!(limit["probes"].as_u64().unwrap_or(0) >= 1, "{limit}");
        assert!(limit["baselineMs"].as_f64().unwrap_or(0.0) > 0.0, "{limit}");
        assert!(limit["latencyMs"].as_f64().unwrap_or(0.0) > 0.0, "{limit}");
        assert!(limit["queueEstimate"].as_f64().is_some(), "{limit}");
        let current = limit["current"].as_u64().unwrap_or(0);
        assert!((2..=20).contains(&current), "{limit}");
        // Whether it moved depends on the machine; if it did, the last change says why.
        if let Some(change) = limit["lastChange"].as_object() {
            assert_eq!(change["to"], current, "{limit}");
            assert!(["latency_flat", "queue_building"].contains(&change["cause"].as_str().unwrap_or("")));
            assert!(change["reason"].as_str().unwrap_or("").contains("estimated queue"), "{limit}");
        }

        let (status, body) = app.get("/metrics").await;
        assert_eq!(status, 200);
        let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text");
        let value = |metric: &str| {
            scrape.samples.iter().find(|s| s.metric == metric).map(|s| match s.value {
                prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Gauge(v) => v,
                _ => f64::NAN,
            })
        };
        assert_eq!(value("domainflow_adaptive_limit_enabled"), Some(1.0));
        assert!(value("domainflow_adaptive_limit_probes_total").is_some_and(|n| n >= 1.0), "{body}");
        assert!(value("domainflow_adaptive_limit_baseline_latency_seconds").is_some_and(|s| s > 0.0), "{body}");
        app.stop().await;
    }
);

db_test!(
    async fn with_the_adaptive_limit_off_the_gate_is_the_pool_size(db) {
        let app = db.spawn_app_with(&[("DB_MAX_OPEN_CONNS", "20"), ("DB_ADAPTIVE_LIMIT", "false")]).await;
        load(&app, 32, std::time::Duration::from_millis(500)).await;
        let r = app.graphql(LIMIT, json!({})).await;
        let limit = &r["data"]["metrics"]["pool"]["adaptiveLimit"];
        assert_eq!(
            (&limit["enabled"], &limit["current"], &limit["max"], &limit["probes"]),
            (&json!(false), &json!(20), &json!(20), &json!(0)),
            "{limit}"
        );
        assert_eq!(limit["lastChange"], Value::Null);
        app.stop().await;
    }
);
