//! `perf-test` keeps working: a small run of every component (depth points, large-dataset
//! shapes on two campaigns, index usage, OFFSET baseline, walks both ways, load generator with
//! pool sampling, memory stability) on both backends, against the real binary started as a
//! child process the way `domainflow perf-test` runs it. Timing targets are not asserted here
//! — shared CI machines are noisy; the full run is in BENCHMARKS.md.

use domainflow::perf::server::ServerMode;
use domainflow::perf::{PerfOptions, run as perf_test};

db_test!(
    async fn quick_run_completes_every_component(db) {
        let mut env = db.env();
        env.insert("RUST_LOG".to_owned(), "error".to_owned());
        let options = PerfOptions {
            domains: 2_000,
            requests: 3,
            warmup: 1,
            users: 2,
            queries_per_user: 10,
            walk_pages: 60,
            memory_iterations: 1,
            small_domains: 300,
            shape_requests: 1,
            soak_seconds: 2,
            soak_users: 20,
            server: ServerMode::Child {
                binary: env!("CARGO_BIN_EXE_domainflow").into(),
                env: env.clone(),
                config: None,
            },
            ..PerfOptions::default()
        };
        let report = perf_test(db.settings(&[("RUST_LOG", "error")]), &options).await.expect("perf-test runs");
        // Generated domains plus the six DNS filter combinations that have rows, 4 depths, ±totalCount.
        assert!(report.points.len() >= 8 * 4, "{} points", report.points.len());
        assert!(report.points.iter().all(|p| p.p50_ms > 0.0));

        // Every shape on both campaigns, every one exact (no failure names a shape) …
        let shapes = domainflow::perf::shapes::all_shapes().len();
        assert_eq!(report.datasets.len(), 2 * shapes);
        assert!(report.datasets.iter().any(|d| d.dataset == "300" && d.rows > 0));
        assert!(report.datasets.iter().any(|d| d.dataset == "2K" && d.rows > 100 && d.next_page_ms.is_some()));
        // … and every plan an index scan without a sort, on the real cursors, with buffers on PostgreSQL.
        assert!(report.index_usage.len() >= 2 * shapes, "{} plans", report.index_usage.len());
        assert!(report.index_usage.iter().all(|p| p.check.ok()), "{:#?}", report.index_usage.iter().find(|p| !p.check.ok()));
        if db.backend == crate::helpers::Backend::Postgres {
            assert!(report.index_usage.iter().all(|p| p.check.buffers().is_some()));
        }
        let broken: Vec<&String> = report
            .failures
            .iter()
            .filter(|f| {
                // Timing targets may be missed on a busy machine; correctness must not be.
                (f.starts_with("large dataset") && !f.contains(" p50 "))
                    || f.starts_with("index usage")
                    || f.contains("errors")
                    || f.contains("could not be read")
            })
            .collect();
        assert!(broken.is_empty(), "{broken:#?}");

        let pages: Vec<u64> = report.offset_baseline.iter().map(|p| p.page).collect();
        assert_eq!(pages, vec![1, 10, 40], "pages 1, 10 and the last of 40");
        assert_eq!(report.walks.len(), 2);
        assert!(report.walks.iter().all(|w| w.pages == 40), "every page of 2,000 rows, both ways");
        let load = report.load.first().expect("load phase ran");
        assert_eq!((load.requests, load.errors), (20, 0));
        let pool = load.pool.as_ref().expect("pool sampled from Query.metrics during the run");
        assert!(pool.samples > 0 && pool.configured_max == 5, "{pool:?}");
        assert!(report.memory.as_ref().is_some_and(|m| m.requests > 0 && m.errors == 0));
        // The soak ran bounded, many users at once, without errors or pool exhaustion.
        let soak = report.soak.as_ref().expect("soak ran");
        assert!(soak.load.requests > 20 && soak.load.errors == 0, "{:?}", soak.load);
        assert!(soak.load.seconds < 30.0);
        assert_eq!(soak.load.pool.as_ref().map(|p| p.acquire_timeouts), Some(0));
        // The whole campaign was exported, every row, with the server's RSS sampled meanwhile.
        let export = report.export.as_ref().expect("export ran");
        assert_eq!((export.rows, export.total_count), (2_000, 2_000), "{export}");
        assert!(export.rss_before_bytes > 0 && export.rss_peak_bytes >= export.rss_before_bytes);
        // The server ran in a process of its own: its RSS is its own.
        assert!(report.server.separate_process);
        assert!(report.server.rss_bytes > 0 && report.server.peak_rss_bytes >= report.server.rss_bytes);
    }
);
