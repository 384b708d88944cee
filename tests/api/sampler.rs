//! The metrics sampler persists exact interval figures (one row per active query type, one per
//! pool), reports leaks once, and its retention deletes exactly the rows that are too old, in
//! batches.

use std::time::Duration;

use domainflow::entity::{Timestamp, connection_pool_metric, query_performance_metric};
use domainflow::metrics::sampler::{RETENTION_BATCH, Sampler, SamplerConfig};
use domainflow::metrics::{Metrics, MetricsConfig};
use sea_orm::{DbBackend, EntityTrait, QueryOrder};

use crate::helpers::TestDb;

async fn query_rows(db: &TestDb) -> Vec<query_performance_metric::Model> {
    query_performance_metric::Entity::find()
        .order_by_asc(query_performance_metric::Column::Id)
        .all(&db.db)
        .await
        .expect("query rows")
}

async fn pool_rows(db: &TestDb) -> Vec<connection_pool_metric::Model> {
    connection_pool_metric::Entity::find()
        .order_by_asc(connection_pool_metric::Column::Id)
        .all(&db.db)
        .await
        .expect("pool rows")
}

db_test!(
    async fn sample_once_writes_exact_rows_for_active_types_only(db) {
        let metrics = Metrics::new(MetricsConfig {
            slow_query_threshold: Duration::from_millis(100),
            ..MetricsConfig::for_pool(5)
        });
        let queries = metrics.queries();
        queries.record("a.page", Duration::from_millis(10), 5, true);
        queries.record("a.page", Duration::from_millis(20), 6, true);
        queries.record("a.page", Duration::from_millis(200), 7, false);
        queries.record("b.count", Duration::from_millis(1), 1, true);
        queries.record("b.count", Duration::from_millis(3), 1, true);
        let held = metrics.pool().acquired("x.hold");
        let config = SamplerConfig {
            leak_bound: Duration::from_millis(5),
            ..SamplerConfig::default()
        };
        let mut sampler = Sampler::new(db.db.clone(), metrics.clone(), config);
        let latest = sampler.latest();
        assert!(latest.get().is_none());
        tokio::time::sleep(Duration::from_millis(30)).await;

        let before = Timestamp::now();
        let outcome = sampler.sample_once().await.expect("first sample");
        assert_eq!((outcome.query_rows, outcome.pool_rows), (2, 1));
        assert_eq!(outcome.leaks.len(), 1);
        assert_eq!(outcome.leaks[0].operation, "x.hold");

        let rows = query_rows(&db).await;
        let summary: Vec<_> = rows
            .iter()
            .map(|r| (r.query_type.as_str(), r.query_count, r.error_count, r.slow_count, r.rows_returned))
            .collect();
        assert_eq!(summary, [("a.page", 3, 1, 1, 18), ("b.count", 2, 0, 0, 2)]);
        let a = &rows[0];
        assert!((a.mean_ms - 230.0 / 3.0).abs() < 1e-6, "mean {}", a.mean_ms);
        assert!(a.p50_ms <= a.p95_ms && a.p95_ms <= a.p99_ms && a.p99_ms <= a.max_ms);
        assert!((a.max_ms - 200.0).abs() / 200.0 < 0.07, "max {}", a.max_ms);
        assert!(a.campaign_id.is_none());
        assert!(a.interval_seconds > 0.0);
        assert!(a.recorded_at >= before && a.recorded_at <= Timestamp::now(), "recorded_at round-trips");

        let pools = pool_rows(&db).await;
        assert_eq!(pools.len(), 1);
        let pool = &pools[0];
        assert_eq!(pool.pool_name, "primary");
        assert_eq!((pool.active_connections, pool.max_connections), (1, 5));
        assert_eq!((pool.wait_count, pool.acquire_timeouts, pool.connection_errors), (0, 0, 0));
        assert!((pool.pool_utilization_percent - 20.0).abs() < 1e-9);
        assert_eq!(pool.recorded_at, a.recorded_at);

        let interval = latest.get().expect("latest interval published");
        let types: Vec<_> = interval.queries.iter().map(|q| (q.query_type, q.count())).collect();
        assert_eq!(types, [("a.page", 3), ("b.count", 2)]);
        assert_eq!(interval.pool.acquisitions, 1);
        drop(held);

        // Only the new activity, as an interval delta; the leak is not reported twice.
        queries.record("a.page", Duration::from_millis(4), 9, true);
        let outcome = sampler.sample_once().await.expect("second sample");
        assert_eq!((outcome.query_rows, outcome.pool_rows), (1, 1));
        assert!(outcome.leaks.is_empty());
        let rows = query_rows(&db).await;
        let last = rows.last().expect("a row");
        assert_eq!(
            (last.query_type.as_str(), last.query_count, last.error_count, last.rows_returned),
            ("a.page", 1, 0, 9)
        );
        assert_eq!(pool_rows(&db).await.last().map(|p| p.active_connections), Some(0));

        // No activity: no query rows, but the pool row is still written.
        let outcome = sampler.sample_once().await.expect("third sample");
        assert_eq!((outcome.query_rows, outcome.pool_rows), (0, 1));
        assert_eq!(query_rows(&db).await.len(), 3);
        assert_eq!(pool_rows(&db).await.len(), 3);
        assert!(latest.get().expect("latest").queries.is_empty());
    }
);

/// A literal `recorded_at` `age` before now, in the backend's encoding (plain SQL, as another
/// program writing these tables would).
fn recorded_at_literal(backend: DbBackend, age: Duration) -> String {
    let micros = Timestamp::now().micros() - i64::try_from(age.as_micros()).expect("age fits");
    match backend {
        DbBackend::Sqlite => micros.to_string(),
        _ => format!("to_timestamp({micros} / 1000000.0)"),
    }
}

async fn insert_aged(db: &TestDb, table: &str, ages: &[Duration]) {
    for chunk in ages.chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|age| {
                let at = recorded_at_literal(db.backend(), *age);
                match table {
                    "query_performance_metrics" => format!("('old.page', 60, 1, {at})"),
                    _ => format!("(1, 0, 5, {at})"),
                }
            })
            .collect();
        let columns = match table {
            "query_performance_metrics" => "query_type, interval_seconds, query_count, recorded_at",
            _ => "active_connections, idle_connections, max_connections, recorded_at",
        };
        db.exec(
            &format!("INSERT INTO {table} ({columns}) VALUES {}", values.join(", ")),
            vec![],
        )
        .await;
    }
}

db_test!(
    async fn retention_deletes_exactly_the_old_rows_in_batches(db) {
        const DAY: Duration = Duration::from_secs(24 * 60 * 60);
        let old = |n: usize| -> Vec<Duration> { (0..n).map(|i| 8 * DAY + Duration::from_secs(i as u64)).collect() };
        let recent = [Duration::ZERO, Duration::from_secs(3600), 6 * DAY, 7 * DAY - Duration::from_secs(600)];
        let old_queries = RETENTION_BATCH as usize * 2 + 203;
        let old_pools = RETENTION_BATCH as usize + 1;
        insert_aged(&db, "query_performance_metrics", &old(old_queries)).await;
        insert_aged(&db, "query_performance_metrics", &recent).await;
        insert_aged(&db, "connection_pool_metrics", &old(old_pools)).await;
        insert_aged(&db, "connection_pool_metrics", &recent[..2]).await;
        assert_eq!(db.scalar("SELECT count(*) FROM query_performance_metrics").await, old_queries as i64 + 4);

        let sampler = Sampler::new(db.db.clone(), Metrics::default(), SamplerConfig::default());
        let deleted = sampler.enforce_retention().await.expect("retention");
        assert_eq!(deleted, (old_queries + old_pools) as u64);
        assert_eq!(db.scalar("SELECT count(*) FROM query_performance_metrics").await, 4);
        assert_eq!(db.scalar("SELECT count(*) FROM connection_pool_metrics").await, 2);
        let cutoff = Timestamp::now().micros() - i64::try_from((7 * DAY).as_micros()).expect("fits");
        assert!(query_rows(&db).await.iter().all(|r| r.recorded_at.micros() > cutoff));
        assert!(pool_rows(&db).await.iter().all(|r| r.recorded_at.micros() > cutoff));
        assert_eq!(sampler.enforce_retention().await.expect("retention again"), 0);
    }
);

async fn wait_for_pool_rows(db: &TestDb, at_least: i64) {
    for _ in 0..100 {
        if db.scalar("SELECT count(*) FROM connection_pool_metrics").await >= at_least {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("fewer than {at_least} pool rows after 2 s");
}

db_test!(
    async fn spawned_sampler_survives_database_errors_and_retries(db) {
        let metrics = Metrics::default();
        metrics.queries().record("a.page", Duration::from_millis(1), 1, true);
        let config = SamplerConfig {
            interval: Duration::from_millis(50),
            ..SamplerConfig::default()
        };
        let handle = Sampler::new(db.db.clone(), metrics, config).spawn();
        wait_for_pool_rows(&db, 1).await;
        assert_eq!(db.scalar("SELECT count(*) FROM query_performance_metrics").await, 1);

        // Take the table away: every tick now fails, and the task must keep going.
        db.exec("ALTER TABLE connection_pool_metrics RENAME TO connection_pool_metrics_away", vec![]).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!handle.is_finished(), "a database error is not fatal");
        db.exec("ALTER TABLE connection_pool_metrics_away RENAME TO connection_pool_metrics", vec![]).await;
        let rows = db.scalar("SELECT count(*) FROM connection_pool_metrics").await;
        wait_for_pool_rows(&db, rows + 1).await;
        handle.abort();
    }
);
