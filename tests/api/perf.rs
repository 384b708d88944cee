//! `perf-test` keeps working: a small run of every component (depth points, OFFSET baseline,
//! walks both ways, load generator, memory stability) on both backends. Timing targets are
//! not asserted here — shared CI machines are noisy; the full run is in BENCHMARKS.md.

use domainflow::perf::{PerfOptions, run as perf_test};

db_test!(
    async fn quick_run_completes_every_component(db) {
        let options = PerfOptions {
            domains: 2_000,
            requests: 3,
            warmup: 1,
            max_depth_ratio: 1.5,
            max_p50_ms: 5.0,
            max_total_count_cost_ms: 1.0,
            users: 2,
            queries_per_user: 10,
            compare: false,
            walk_pages: 60,
            memory_iterations: 1,
            max_memory_growth_percent: 10.0,
        };
        let report = perf_test(db.settings(&[("RUST_LOG", "error")]), &options).await.expect("perf-test runs");
        // Generated domains plus the six DNS filter combinations that have rows, 4 depths, ±totalCount.
        assert!(report.points.len() >= 8 * 4, "{} points", report.points.len());
        assert!(report.points.iter().all(|p| p.p50_ms > 0.0));
        let pages: Vec<u64> = report.offset_baseline.iter().map(|p| p.page).collect();
        assert_eq!(pages, vec![1, 10, 40], "pages 1, 10 and the last of 40");
        assert_eq!(report.walks.len(), 2);
        assert!(report.walks.iter().all(|w| w.pages == 40), "every page of 2,000 rows, both ways");
        let load = report.load.first().expect("load phase ran");
        assert_eq!((load.requests, load.errors), (20, 0));
        assert!(report.memory.as_ref().is_some_and(|m| m.requests > 0));
        assert!(
            report.failures.iter().all(|f| !f.contains("errors")),
            "no request failed: {:?}",
            report.failures
        );
    }
);
