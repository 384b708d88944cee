//! Index proof: every filter × ordering × direction × paging direction of every connection is
//! answered by an index range scan with no sort step — on PostgreSQL on the *generic*
//! prepared plan the server actually runs (plan_cache_mode = force_generic_plan, PREPARE +
//! EXPLAIN EXECUTE, after loading rows and ANALYZE), on SQLite by EXPLAIN QUERY PLAN.

use async_graphql::MaybeUndefined;
use sea_orm::sea_query::{PostgresQueryBuilder, QueryBuilder, SqliteQueryBuilder};
use sea_orm::{ConnectionTrait, EntityTrait, FromQueryResult, Statement, TransactionTrait};
use serde_json::Value;
use uuid::Uuid;

use domainflow::entity::{BusinessStatus, CampaignStatus, CampaignType, Timestamp, ValidationStatus, campaign};
use domainflow::graphql::campaign::{CampaignFilter, CampaignOrder, CampaignOrderField, campaigns};
use domainflow::graphql::campaign_rows::{
    self, DnsValidationResultFilter, DnsValidationResultOrder, DnsValidationResultOrderField, GeneratedDomainOrder,
    GeneratedDomainOrderField, HttpKeywordResultFilter, HttpKeywordResultOrder, HttpKeywordResultOrderField,
};
use domainflow::graphql::connection::{ConnectionRequest, OrderField};
use domainflow::pagination::args::From as PageFrom;
use domainflow::pagination::{Cursor, Direction, PageWindow, RowId, SortKind, SortValue, page_statement};

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

#[derive(Default)]
struct PlanFacts {
    index_scans_on_table: usize,
    bad: Vec<String>,
}

fn walk_pg(node: &Value, table: &str, facts: &mut PlanFacts) {
    let kind = node["Node Type"].as_str().unwrap_or_default();
    let relation = node["Relation Name"].as_str().unwrap_or_default();
    if kind.contains("Sort") {
        facts.bad.push(format!("{kind} node"));
    }
    if relation == table {
        match kind {
            "Index Scan" | "Index Only Scan" => {
                facts.index_scans_on_table += 1;
                if let Some(filter) = node.get("Filter") {
                    facts.bad.push(format!("rows filtered after the index ({filter})"));
                }
            }
            other => facts.bad.push(format!("{other} on {table}")),
        }
    }
    if let Some(children) = node["Plans"].as_array() {
        for child in children {
            walk_pg(child, table, facts);
        }
    }
}

async fn assert_plan<E: EntityTrait, O: OrderField<E>>(
    db: &TestDb,
    table: &str,
    label: &str,
    request: impl Fn() -> ConnectionRequest<E, O>,
) where
    E::Model: FromQueryResult,
{
    let scope = request().scope();
    let kind = request().order.kind();
    for (window_label, window) in windows(scope, kind) {
        let query = request().keyset();
        let statement = page_statement(&query, &window, db.backend()).statement;
        let label = format!("{label} [{window_label}]");
        match db.backend {
            Backend::Postgres => {
                let (sql, values) = statement.build(PostgresQueryBuilder);
                let args: Vec<String> = values
                    .0
                    .iter()
                    .map(|v| PostgresQueryBuilder.value_to_string(v))
                    .collect();
                let txn = db.db.begin().await.expect("begin");
                txn.execute_unprepared("SET LOCAL plan_cache_mode = force_generic_plan")
                    .await
                    .expect("set");
                if table == "campaigns" {
                    txn.execute_unprepared("SET LOCAL enable_seqscan = off")
                        .await
                        .expect("set");
                }
                txn.execute_unprepared(&format!("PREPARE page_plan AS {sql}"))
                    .await
                    .unwrap_or_else(|e| panic!("{label}: {e}\n{sql}"));
                let explain = format!("EXPLAIN (FORMAT JSON) EXECUTE page_plan({})", args.join(", "));
                let row = txn
                    .query_one_raw(Statement::from_string(db.backend(), explain.clone()))
                    .await
                    .unwrap_or_else(|e| panic!("{label}: {e}\n{explain}"))
                    .expect("plan row");
                let plan: Value = row.try_get_by_index(0).expect("json plan");
                txn.execute_unprepared("DEALLOCATE page_plan")
                    .await
                    .expect("deallocate");
                txn.rollback().await.expect("rollback");
                let mut facts = PlanFacts::default();
                walk_pg(&plan[0]["Plan"], table, &mut facts);
                assert!(
                    facts.index_scans_on_table > 0 && facts.bad.is_empty(),
                    "{label}: {:?}\n{sql}\n{plan:#}",
                    facts.bad
                );
            }
            Backend::Sqlite => {
                let (sql, values) = statement.build(SqliteQueryBuilder);
                let rows = db
                    .db
                    .query_all_raw(Statement::from_sql_and_values(
                        db.backend(),
                        format!("EXPLAIN QUERY PLAN {sql}"),
                        values,
                    ))
                    .await
                    .unwrap_or_else(|e| panic!("{label}: {e}"));
                let details: Vec<String> = rows
                    .iter()
                    .filter_map(|r| r.try_get_by_index::<String>(3).ok())
                    .collect();
                let plan = details.join("\n");
                assert!(!plan.contains("TEMP B-TREE"), "{label}: sorts\n{plan}\n{sql}");
                let main_access: Vec<&String> = details
                    .iter()
                    .filter(|d| d.contains(&format!(" {table} ")) || d.ends_with(&format!(" {table}")))
                    .collect();
                assert!(!main_access.is_empty(), "{label}: no access to {table}\n{plan}");
                for access in main_access {
                    // SEARCH = index range; SCAN … USING INDEX = walking an index in order from
                    // one end (only when nothing narrows the range: an unfiltered first/last page).
                    let indexed = access.starts_with("SEARCH")
                        || access.contains("USING INDEX")
                        || access.contains("USING COVERING INDEX");
                    assert!(indexed, "{label}: not an index scan: {access}\n{plan}\n{sql}");
                }
            }
        }
    }
}

db_test!(
    async fn every_connection_shape_is_an_index_range_scan(db) {
        let (generation, dns, http) = load(&db).await;
        let directions = [Direction::Asc, Direction::Desc];

        for field in [CampaignOrderField::CreatedAt, CampaignOrderField::Name] {
            for direction in directions {
                for campaign_type in [None, Some(CampaignType::DnsValidation)] {
                    for status in [None, Some(CampaignStatus::Running)] {
                        let label = format!("campaigns {field:?} {direction:?} type={campaign_type:?} status={status:?}");
                        assert_plan(&db, "campaigns", &label, || {
                            campaigns(CampaignOrder { field, direction }, CampaignFilter { campaign_type, status }, true)
                        })
                        .await;
                    }
                }
            }
        }
        for field in [GeneratedDomainOrderField::OffsetIndex, GeneratedDomainOrderField::CreatedAt, GeneratedDomainOrderField::DomainName] {
            for direction in directions {
                let label = format!("generatedDomains {field:?} {direction:?}");
                assert_plan(&db, "generated_domains", &label, || {
                    campaign_rows::generated_domains(&generation, GeneratedDomainOrder { field, direction }, true)
                })
                .await;
            }
        }
        let business = [
            MaybeUndefined::Undefined,
            MaybeUndefined::Null,
            MaybeUndefined::Value(BusinessStatus::LeadCandidate),
        ];
        for field in [DnsValidationResultOrderField::CreatedAt, DnsValidationResultOrderField::DomainName] {
            for direction in directions {
                for validation_status in [None, Some(ValidationStatus::Valid)] {
                    for business_status in business {
                        let filter = DnsValidationResultFilter { validation_status, business_status };
                        let label = format!("dnsValidationResults {field:?} {direction:?} {filter:?}");
                        assert_plan(&db, "dns_validation_results", &label, || {
                            campaign_rows::dns_validation_results(&dns, DnsValidationResultOrder { field, direction }, &filter, true)
                        })
                        .await;
                    }
                }
            }
        }
        for field in [HttpKeywordResultOrderField::CreatedAt, HttpKeywordResultOrderField::DomainName] {
            for direction in directions {
                for validation_status in [None, Some(ValidationStatus::Invalid)] {
                    let filter = HttpKeywordResultFilter { validation_status };
                    let label = format!("httpKeywordResults {field:?} {direction:?} {filter:?}");
                    assert_plan(&db, "http_keyword_results", &label, || {
                        campaign_rows::http_keyword_results(&http, HttpKeywordResultOrder { field, direction }, filter, true)
                    })
                    .await;
                }
            }
        }
    }
);
