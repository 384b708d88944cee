//! Index proof: every filter × ordering × direction × paging direction of every connection
//! (`perf::shapes::all_shapes`, the list perf-test uses too) is answered by an index range
//! scan with no sort step — on PostgreSQL on the *generic* prepared plan the server actually
//! runs (plan_cache_mode = force_generic_plan, PREPARE + EXPLAIN EXECUTE, after loading rows
//! and ANALYZE), on SQLite by EXPLAIN QUERY PLAN — and the checker (`perf::plans`) catches a
//! sort and a scan.

use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Order, Query};
use sea_orm::{ConnectionTrait, EntityTrait, TransactionTrait};
use uuid::Uuid;

use domainflow::entity::{Timestamp, campaign};
use domainflow::pagination::args::From as PageFrom;
use domainflow::pagination::{Cursor, PageWindow, RowId, SortKind, SortValue};
use domainflow::perf::plans;
use domainflow::perf::shapes::{ChainModels, Shape, all_shapes};

use crate::helpers::{Backend, TestDb, insert_campaign};

const ROWS: i64 = 20_000;
const BASE: i64 = 1_767_225_600_000_000;

/// Fills two chains of campaigns with ROWS rows each (two so the campaign column is selective).
async fn load(db: &TestDb) -> (campaign::Model, campaign::Model, campaign::Model) {
    let mut chain = Vec::new();
    for i in 0..2 {
        let g = insert_campaign(db, &format!("g{i}"), "domain_generation", "completed", BASE + i).await;
        let d = insert_campaign(db, &format!("d{i}"), "dns_validation", "completed", BASE + i).await;
        let h = insert_campaign(db, &format!("h{i}"), "http_keyword_validation", "completed", BASE + i).await;
        chain.push((g, d, h));
    }
    for (i, name) in ["alpha", "beta", "gamma", "delta"].iter().enumerate() {
        insert_campaign(
            db,
            name,
            "dns_validation",
            ["pending", "running"][i % 2],
            BASE + 10 + i as i64,
        )
        .await;
    }
    for (g, d, h) in &chain {
        let sql = match db.backend {
            Backend::Postgres => vec![
                format!("INSERT INTO generated_domains (id, domain_generation_campaign_id, domain_name, offset_index, generated_at, created_at)
                         SELECT gen_random_uuid(), '{g}', 'd' || (i * 7919 % {ROWS}) || '.com', i,
                                timestamptz '2026-01-01Z' + i * interval '1 ms', timestamptz '2026-01-01Z' + i * interval '1 ms'
                         FROM generate_series(0, {ROWS} - 1) AS i"),
                format!("INSERT INTO dns_validation_results (id, dns_campaign_id, domain_name, validation_status, business_status, created_at)
                         SELECT gen_random_uuid(), '{d}', 'd' || (i * 7919 % {ROWS}) || '.com',
                                (ARRAY['pending','valid','invalid','error','skipped'])[1 + i % 5],
                                (ARRAY[NULL,'valid_dns','lead_candidate','excluded'])[1 + i % 4],
                                timestamptz '2026-01-01Z' + i * interval '1 ms'
                         FROM generate_series(0, {ROWS} - 1) AS i"),
                format!("INSERT INTO http_keyword_results (id, http_keyword_campaign_id, domain_name, validation_status, created_at)
                         SELECT gen_random_uuid(), '{h}', 'd' || (i * 7919 % {ROWS}) || '.com',
                                (ARRAY['pending','valid','invalid','error','skipped'])[1 + i % 5],
                                timestamptz '2026-01-01Z' + i * interval '1 ms'
                         FROM generate_series(0, {ROWS} - 1) AS i"),
                "ANALYZE".to_owned(),
            ],
            Backend::Sqlite => {
                let blob = |u: &Uuid| format!("x'{}'", u.simple());
                let series = format!("WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {ROWS} - 1)");
                let status = "CASE i % 5 WHEN 0 THEN 'pending' WHEN 1 THEN 'valid' WHEN 2 THEN 'invalid' WHEN 3 THEN 'error' ELSE 'skipped' END";
                vec![
                    format!("INSERT INTO generated_domains (id, domain_generation_campaign_id, domain_name, offset_index, generated_at, created_at)
                             {series} SELECT randomblob(16), {}, 'd' || (i * 7919 % {ROWS}) || '.com', i, {BASE} + i * 1000, {BASE} + i * 1000 FROM s", blob(g)),
                    format!("INSERT INTO dns_validation_results (id, dns_campaign_id, domain_name, validation_status, business_status, created_at)
                             {series} SELECT randomblob(16), {}, 'd' || (i * 7919 % {ROWS}) || '.com', {status},
                             CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN 'valid_dns' WHEN 2 THEN 'lead_candidate' ELSE 'excluded' END,
                             {BASE} + i * 1000 FROM s", blob(d)),
                    format!("INSERT INTO http_keyword_results (id, http_keyword_campaign_id, domain_name, validation_status, created_at)
                             {series} SELECT randomblob(16), {}, 'd' || (i * 7919 % {ROWS}) || '.com', {status}, {BASE} + i * 1000 FROM s", blob(h)),
                    "ANALYZE".to_owned(),
                ]
            }
        };
        for statement in sql {
            db.db
                .execute_unprepared(&statement)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
    }
    let (g, d, h) = chain[0];
    let find = |id: Uuid| async move {
        campaign::Entity::find_by_id(id)
            .one(&db.db)
            .await
            .expect("query")
            .expect("campaign")
    };
    (find(g).await, find(d).await, find(h).await)
}

fn sample(kind: SortKind) -> SortValue {
    match kind {
        SortKind::Int => SortValue::Int(ROWS / 2),
        SortKind::Text => SortValue::Text("d5.com".to_owned()),
        SortKind::Time => SortValue::Time(Timestamp(BASE + ROWS / 2 * 1000)),
    }
}

/// The windows a client can send: first page, first/after, last/before, last page.
fn windows(scope: domainflow::pagination::CursorScope, kind: SortKind) -> Vec<(&'static str, PageWindow)> {
    let cursor = Cursor {
        scope,
        value: sample(kind),
        id: RowId::Uuid(Uuid::from_u128(u128::MAX / 2)),
    };
    let window = |from, after: Option<&Cursor>, before: Option<&Cursor>| PageWindow {
        size: 50,
        from,
        after: after.cloned(),
        before: before.cloned(),
    };
    vec![
        ("first", window(PageFrom::Start, None, None)),
        ("first+after", window(PageFrom::Start, Some(&cursor), None)),
        ("last+before", window(PageFrom::End, None, Some(&cursor))),
        ("last", window(PageFrom::End, None, None)),
    ]
}

/// Asserts an index range scan with no sort for every window of `shape`.
async fn assert_plan(db: &TestDb, chain: &ChainModels, shape: &Shape) {
    let (scope, kind) = shape.scope(chain);
    for (window_label, window) in windows(scope, kind) {
        let statement = shape.statement(chain, &window, db.backend());
        let label = format!("{} [{window_label}]", shape.label());
        let check = plans::explain(&db.db, &statement, shape.table(), false)
            .await
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert!(check.ok(), "{label}: {:?}\n{:#?}", check.problems, check.plan);
    }
}

db_test!(
    async fn every_connection_shape_is_an_index_range_scan(db) {
        let (generation, dns, http) = load(&db).await;
        let chain = ChainModels { generation, dns, http };
        let shapes = all_shapes();
        assert!(shapes.len() >= 50, "{} shapes", shapes.len());
        for shape in &shapes {
            assert_plan(&db, &chain, shape).await;
        }
    }
);

db_test!(
    async fn a_sort_or_a_scan_is_caught(db) {
        // The checker itself must fail plans that are wrong: an ORDER BY on an unindexed
        // expression sorts, and a filter on an unindexed column scans.
        let (generation, _, _) = load(&db).await;
        let mut sorted = Query::select();
        sorted
            .column(Asterisk)
            .from(Alias::new("generated_domains"))
            .and_where(Expr::col(Alias::new("domain_generation_campaign_id")).eq(generation.id))
            .order_by_expr(Expr::cust("length(domain_name)"), Order::Asc)
            .limit(51);
        let check = plans::explain(&db.db, &sorted, "generated_domains", true).await.expect("explain");
        assert!(!check.ok(), "a sort must be caught: {:?}", check.plan);
        assert!(check.problems.iter().any(|p| p.contains("Sort") || p.contains("sort")), "{:?}", check.problems);
        if db.backend == Backend::Postgres {
            assert!(check.buffers().is_some_and(|b| b > 0), "ANALYZE reports buffers");
            assert!(check.execution_ms.is_some());
        }
        let mut scanned = Query::select();
        scanned
            .column(Asterisk)
            .from(Alias::new("generated_domains"))
            .and_where(Expr::cust("length(domain_name) > 3"))
            .limit(51);
        let check = plans::explain(&db.db, &scanned, "generated_domains", false).await.expect("explain");
        assert!(!check.ok(), "a scan must be caught: {:?}", check.plan);
    }
);

db_test!(
    async fn page_statements_keep_one_cached_plan(db) {
        // Both LIMITs of a page statement are literals: with a LIMIT parameter PostgreSQL
        // re-plans the statement on every execution (a custom plan each time) instead of
        // settling on its cached generic plan, which costs it more CPU than running the page.
        let (generation, dns, http) = load(&db).await;
        let chain = ChainModels { generation, dns, http };
        let backend = db.backend();
        for shape in all_shapes() {
            let (scope, kind) = shape.scope(&chain);
            for (window_label, window) in windows(scope, kind) {
                let label = format!("{} [{window_label}]", shape.label());
                let statement = shape.statement(&chain, &window, backend).to_statement(backend);
                assert!(statement.sql.ends_with(" LIMIT 51"), "{label}: {}", statement.sql);
                if window.after.is_some() || window.before.is_some() {
                    assert!(statement.sql.contains(" LIMIT 1) IS NOT NULL"), "{label}: {}", statement.sql);
                }
                assert!(
                    !statement.sql.contains("LIMIT $") && !statement.sql.contains("LIMIT ?"),
                    "{label}: {}",
                    statement.sql
                );
                if backend != sea_orm::DbBackend::Postgres {
                    continue;
                }
                // One connection (a transaction): the driver prepares the statement once and
                // executes it by name, as the server's pooled connections do.
                let txn = db.db.begin().await.expect("begin");
                for _ in 0..8 {
                    txn.query_all_raw(statement.clone()).await.unwrap_or_else(|e| panic!("{label}: {e}"));
                }
                let row = txn
                    .query_one_raw(sea_orm::Statement::from_sql_and_values(
                        sea_orm::DbBackend::Postgres,
                        "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1",
                        [statement.sql.clone().into()],
                    ))
                    .await
                    .expect("pg_prepared_statements")
                    .unwrap_or_else(|| panic!("{label}: not a prepared statement"));
                let (generic, custom): (i64, i64) = (row.try_get_by_index(0).unwrap(), row.try_get_by_index(1).unwrap());
                txn.rollback().await.expect("rollback");
                // With a filter PostgreSQL may judge custom plans cheaper for a skewed column
                // (its choice, made by cost); without one the generic plan must win.
                let unfiltered = shape.filter().as_object().is_none_or(|f| f.is_empty());
                if unfiltered {
                    assert!(generic >= 3 && custom <= 5, "{label}: {generic} generic, {custom} custom plans");
                }
            }
        }
    }
);
