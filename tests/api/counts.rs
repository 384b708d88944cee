//! Maintained row counts (`totalCount`): the counts tables the database keeps stay exact under
//! every kind of write another program can make with plain SQL, on both backends, and the read
//! API in `domainflow::db::counts` returns the same totals as `count(*)` for every filter.
//!
//! Every check compares against the truth, `SELECT … count(*) … GROUP BY`, never against
//! numbers worked out by hand alone.

use std::time::Duration;

use domainflow::db::counts;
use domainflow::entity::{BusinessStatus, CampaignStatus, CampaignType, Timestamp, ValidationStatus};
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ActiveEnum, ConnectionTrait, DatabaseConnection, DbBackend, Iterable, Statement, TransactionTrait, Value,
};
use uuid::Uuid;

use crate::helpers::{Backend, TestDb};

// ---------------------------------------------------------------------------------------------
// Writing rows with plain SQL, as the campaign engine (another program) would.
// ---------------------------------------------------------------------------------------------

const T0: i64 = 1_764_000_000_000_000;

/// Validation status varying with the row number `i`, over the whole value set.
const MIXED_VALIDATION: &str =
    "CASE i % 5 WHEN 0 THEN 'pending' WHEN 1 THEN 'valid' WHEN 2 THEN 'invalid' WHEN 3 THEN 'error' ELSE 'skipped' END";
/// Business status varying with `i`, NULL included.
const MIXED_BUSINESS: &str =
    "CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN 'valid_dns' WHEN 2 THEN 'lead_candidate' ELSE 'excluded' END";

fn created(backend: DbBackend) -> Value {
    Timestamp(T0).to_value(backend)
}

async fn campaign(db: &TestDb, campaign_type: &str, status: &str) -> Uuid {
    let id = Uuid::now_v7();
    db.exec(
        "INSERT INTO campaigns (id, name, campaign_type, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
        vec![id.into(), format!("c-{id}").into(), campaign_type.into(), status.into(), created(db.backend())],
    )
    .await;
    id
}

/// One statement inserting `n` rows numbered `i` = 1..=n: `$1` is the campaign, `$2` the
/// creation time, `{id}` a fresh random id (a 16-byte blob on SQLite).
fn bulk_insert(backend: DbBackend, table: &str, columns: &str, exprs: &str, n: u32) -> String {
    match backend {
        DbBackend::Postgres => format!(
            "INSERT INTO {table} ({columns}) SELECT {} FROM generate_series(1, {n}) AS s(i)",
            exprs.replace("{id}", "gen_random_uuid()")
        ),
        _ => format!(
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) \
             INSERT INTO {table} ({columns}) SELECT {} FROM s",
            exprs.replace("{id}", "randomblob(16)")
        ),
    }
}

/// `campaign` is an SQL expression: `$1`, or one choosing between `$1` and `$3` by `i`.
fn dns_rows_sql(backend: DbBackend, n: u32, campaign: &str, validation: &str, business: &str) -> String {
    bulk_insert(
        backend,
        "dns_validation_results",
        "id, dns_campaign_id, domain_name, validation_status, business_status, created_at",
        &format!("{{id}}, {campaign}, 'd' || i || '.example', {validation}, {business}, $2"),
        n,
    )
}

async fn dns_rows(db: &TestDb, campaign: Uuid, n: u32, validation: &str, business: &str) {
    let sql = dns_rows_sql(db.backend(), n, "$1", validation, business);
    db.exec(&sql, vec![campaign.into(), created(db.backend())]).await;
}

/// `n` generated domains with offsets `start + 1 ..= start + n` (unique per campaign).
async fn generated_rows(db: &TestDb, campaign: Uuid, start: u32, n: u32) {
    let sql = bulk_insert(
        db.backend(),
        "generated_domains",
        "id, domain_generation_campaign_id, domain_name, offset_index, generated_at, created_at",
        &format!("{{id}}, $1, 'g' || i || '.example', {start} + i, $2, $2"),
        n,
    );
    db.exec(&sql, vec![campaign.into(), created(db.backend())]).await;
}

async fn http_rows(db: &TestDb, campaign: Uuid, n: u32, validation: &str) {
    let sql = bulk_insert(
        db.backend(),
        "http_keyword_results",
        "id, http_keyword_campaign_id, domain_name, validation_status, created_at",
        &format!("{{id}}, $1, 'h' || i || '.example', {validation}, $2"),
        n,
    );
    db.exec(&sql, vec![campaign.into(), created(db.backend())]).await;
}

async fn dns_row(db: &TestDb, campaign: Uuid, validation: &str, business: Option<&str>) -> Uuid {
    let id = Uuid::now_v7();
    db.exec(
        "INSERT INTO dns_validation_results (id, dns_campaign_id, domain_name, validation_status, business_status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        vec![
            id.into(),
            campaign.into(),
            format!("{id}.example").into(),
            validation.into(),
            business.map(str::to_owned).into(),
            created(db.backend()),
        ],
    )
    .await;
    id
}

// ---------------------------------------------------------------------------------------------
// The oracle.
// ---------------------------------------------------------------------------------------------

/// A counted table as the tests see it: (column, is a UUID, is nullable) per key column.
struct Counted {
    table: &'static str,
    counts: &'static str,
    key: &'static [(&'static str, bool, bool)],
}

const COUNTED: &[Counted] = &[
    Counted {
        table: "campaigns",
        counts: "campaign_counts",
        key: &[("campaign_type", false, false), ("status", false, false)],
    },
    Counted {
        table: "generated_domains",
        counts: "generated_domain_counts",
        key: &[("domain_generation_campaign_id", true, false)],
    },
    Counted {
        table: "dns_validation_results",
        counts: "dns_validation_result_counts",
        key: &[
            ("dns_campaign_id", true, false),
            ("validation_status", false, false),
            ("business_status", false, true),
        ],
    },
    Counted {
        table: "http_keyword_results",
        counts: "http_keyword_result_counts",
        key: &[
            ("http_keyword_campaign_id", true, false),
            ("validation_status", false, false),
        ],
    },
];

/// Rows of a query, every column read as text, sorted.
async fn text_rows(db: &impl ConnectionTrait, backend: DbBackend, sql: &str, width: usize) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = db
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|row| {
            (0..width)
                .map(|i| row.try_get_by_index::<String>(i).expect("text column"))
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

fn as_text(backend: DbBackend, expr: &str, uuid: bool) -> String {
    match (backend, uuid) {
        (DbBackend::Postgres, _) => format!("CAST({expr} AS TEXT)"),
        (_, true) => format!("hex({expr})"),
        (_, false) => format!("CAST({expr} AS TEXT)"),
    }
}

/// Every counts table sums to exactly `count(*) GROUP BY key` of its table: no missing, extra
/// or wrong key (a key whose rows sum to 0 is absent). On PostgreSQL a key may hold several
/// delta rows, but never more than the compaction bound per campaign (every writer here is a
/// READ COMMITTED one, so its own trigger compacts); on SQLite exactly one row per key.
async fn assert_counts_tables_exact(db: &impl ConnectionTrait, backend: DbBackend) {
    for t in COUNTED {
        let stored = t
            .key
            .iter()
            .map(|(c, uuid, _)| as_text(backend, c, *uuid))
            .collect::<Vec<_>>()
            .join(", ");
        let truth = t
            .key
            .iter()
            .map(|(c, uuid, nullable)| {
                let value = if *nullable {
                    format!("COALESCE({c}, '')")
                } else {
                    (*c).to_owned()
                };
                as_text(backend, &value, *uuid)
            })
            .collect::<Vec<_>>()
            .join(", ");
        let positions = (1..=t.key.len()).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
        let width = t.key.len() + 1;
        let maintained = text_rows(
            db,
            backend,
            &format!(
                "SELECT {stored}, {} FROM {} GROUP BY {positions} HAVING SUM(row_count) <> 0",
                as_text(backend, "SUM(row_count)", false),
                t.counts
            ),
            width,
        )
        .await;
        let expected = text_rows(
            db,
            backend,
            &format!(
                "SELECT {truth}, {} FROM {} GROUP BY {positions}",
                as_text(backend, "count(*)", false),
                t.table
            ),
            width,
        )
        .await;
        assert_eq!(
            maintained, expected,
            "{} disagrees with count(*) over {}",
            t.counts, t.table
        );
        let (group, bound) = match backend {
            DbBackend::Postgres => (t.key[0].0.to_owned(), i64::from(migration::COMPACT_ABOVE)),
            _ => (t.key.iter().map(|(c, _, _)| *c).collect::<Vec<_>>().join(", "), 1),
        };
        let crowded = text_rows(
            db,
            backend,
            &format!(
                "SELECT CAST(count(*) AS TEXT) FROM {} GROUP BY {group} HAVING count(*) > {bound}",
                t.counts
            ),
            1,
        )
        .await;
        assert!(
            crowded.is_empty(),
            "{}: groups above {bound} rows: {crowded:?}",
            t.counts
        );
    }
}

/// Folds the pending deltas the way the server does every second (PostgreSQL; SQLite keeps
/// one row per key by itself).
async fn compact(db: &TestDb) {
    counts::compact(&db.db).await.expect("compaction");
}

async fn truth(db: &TestDb, table: &str, conditions: &[(&str, Value)]) -> i64 {
    let mut sql = format!("SELECT count(*) FROM {table} WHERE 1 = 1");
    let mut values = Vec::new();
    for (condition, value) in conditions {
        if condition.contains('$') {
            values.push(value.clone());
            sql.push_str(&format!(
                " AND {}",
                condition.replace('$', &format!("${}", values.len()))
            ));
        } else {
            sql.push_str(&format!(" AND {condition}"));
        }
    }
    db.db
        .query_one_raw(Statement::from_sql_and_values(db.backend(), &sql, values))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .expect("one row")
        .try_get_by_index::<i64>(0)
        .expect("count")
}

fn position<E: ActiveEnum + PartialEq>(value: &E) -> usize {
    E::iter().position(|e| &e == value).expect("a known value")
}

/// The read API agrees with `count(*)` for every filter combination of every connection, for
/// the given campaigns (deleted and unknown ones included: their totals are 0).
async fn assert_api_exact(db: &TestDb, campaigns: &[Uuid]) {
    let conn = &db.db;
    for campaign_type in std::iter::once(None).chain(CampaignType::iter().map(Some)) {
        for status in std::iter::once(None).chain(CampaignStatus::iter().map(Some)) {
            let mut conditions = Vec::new();
            if let Some(t) = campaign_type {
                conditions.push(("campaign_type = $", t.to_value().into()));
            }
            if let Some(s) = status {
                conditions.push(("status = $", s.to_value().into()));
            }
            assert_eq!(
                counts::campaigns_total(conn, campaign_type, status)
                    .await
                    .expect("campaigns_total"),
                truth(db, "campaigns", &conditions).await,
                "campaigns_total({campaign_type:?}, {status:?})"
            );
        }
    }
    let business_filters: Vec<Option<Option<BusinessStatus>>> = std::iter::once(None)
        .chain(std::iter::once(Some(None)))
        .chain(BusinessStatus::iter().map(|b| Some(Some(b))))
        .collect();
    for &campaign in campaigns.iter().chain(std::iter::once(&Uuid::now_v7())) {
        assert_eq!(
            counts::generated_domains_total(conn, campaign)
                .await
                .expect("generated_domains_total"),
            truth(
                db,
                "generated_domains",
                &[("domain_generation_campaign_id = $", campaign.into())]
            )
            .await,
        );
        for validation in std::iter::once(None).chain(ValidationStatus::iter().map(Some)) {
            for &business in &business_filters {
                let mut conditions: Vec<(&str, Value)> = vec![("dns_campaign_id = $", campaign.into())];
                if let Some(v) = validation {
                    conditions.push(("validation_status = $", v.to_value().into()));
                }
                match business {
                    None => {}
                    Some(None) => conditions.push(("business_status IS NULL", Value::Int(None))),
                    Some(Some(b)) => conditions.push(("business_status = $", b.to_value().into())),
                }
                assert_eq!(
                    counts::dns_results_total(conn, campaign, validation, business)
                        .await
                        .expect("dns_results_total"),
                    truth(db, "dns_validation_results", &conditions).await,
                    "dns_results_total({validation:?}, {business:?})"
                );
            }
            let mut conditions: Vec<(&str, Value)> = vec![("http_keyword_campaign_id = $", campaign.into())];
            if let Some(v) = validation {
                conditions.push(("validation_status = $", v.to_value().into()));
            }
            assert_eq!(
                counts::http_results_total(conn, campaign, validation)
                    .await
                    .expect("http_results_total"),
                truth(db, "http_keyword_results", &conditions).await,
                "http_results_total({validation:?})"
            );
        }

        // Breakdowns: the GROUP BY truth, in declaration order, NULL business status last.
        let rows = conn
            .query_all_raw(Statement::from_sql_and_values(
                db.backend(),
                "SELECT validation_status, business_status, count(*) FROM dns_validation_results \
                 WHERE dns_campaign_id = $1 GROUP BY validation_status, business_status",
                [campaign.into()],
            ))
            .await
            .expect("dns truth");
        let mut expected: Vec<(ValidationStatus, Option<BusinessStatus>, i64)> = rows
            .iter()
            .map(|r| {
                let v = ValidationStatus::try_from_value(&r.try_get_by_index::<String>(0).expect("v")).expect("v");
                let b = r
                    .try_get_by_index::<Option<String>>(1)
                    .expect("b")
                    .map(|b| BusinessStatus::try_from_value(&b).expect("b"));
                (v, b, r.try_get_by_index::<i64>(2).expect("n"))
            })
            .collect();
        expected.sort_by_key(|(v, b, _)| (position(v), b.as_ref().map_or(usize::MAX, position)));
        assert_eq!(
            counts::dns_status_breakdown(conn, campaign)
                .await
                .expect("dns breakdown"),
            expected
        );

        let rows = conn
            .query_all_raw(Statement::from_sql_and_values(
                db.backend(),
                "SELECT validation_status, count(*) FROM http_keyword_results \
                 WHERE http_keyword_campaign_id = $1 GROUP BY validation_status",
                [campaign.into()],
            ))
            .await
            .expect("http truth");
        let mut expected: Vec<(ValidationStatus, i64)> = rows
            .iter()
            .map(|r| {
                let v = ValidationStatus::try_from_value(&r.try_get_by_index::<String>(0).expect("v")).expect("v");
                (v, r.try_get_by_index::<i64>(1).expect("n"))
            })
            .collect();
        expected.sort_by_key(|(v, _)| position(v));
        assert_eq!(
            counts::http_status_breakdown(conn, campaign)
                .await
                .expect("http breakdown"),
            expected
        );
    }
}

/// Counts tables and read API both exact.
async fn assert_exact(db: &TestDb, campaigns: &[Uuid]) {
    assert_counts_tables_exact(&db.db, db.backend()).await;
    assert_api_exact(db, campaigns).await;
}

// ---------------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------------

db_test!(
    async fn single_and_multi_row_inserts_are_counted(db) {
        let generation = campaign(&db, "domain_generation", "running").await;
        let dns = campaign(&db, "dns_validation", "pending").await;
        let http = campaign(&db, "http_keyword_validation", "completed").await;
        let all = [generation, dns, http];
        assert_exact(&db, &all).await;

        // Single rows, values bound.
        dns_row(&db, dns, "pending", None).await;
        dns_row(&db, dns, "valid", Some("lead_candidate")).await;
        generated_rows(&db, generation, 0, 1).await;
        http_rows(&db, http, 1, "'valid'").await;
        assert_exact(&db, &all).await;

        // One multi-row VALUES statement.
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let t = created(db.backend());
        db.exec(
            "INSERT INTO dns_validation_results (id, dns_campaign_id, domain_name, validation_status, business_status, created_at) \
             VALUES ($1, $4, 'a.example', 'valid', 'lead_candidate', $5), \
                    ($2, $4, 'b.example', 'valid', NULL, $5), \
                    ($3, $4, 'c.example', 'error', NULL, $5)",
            vec![a.into(), b.into(), c.into(), dns.into(), t],
        )
        .await;
        assert_exact(&db, &all).await;

        // Bulk INSERT … SELECT over every status combination.
        dns_rows(&db, dns, 500, MIXED_VALIDATION, MIXED_BUSINESS).await;
        generated_rows(&db, generation, 1, 300).await;
        http_rows(&db, http, 200, MIXED_VALIDATION).await;
        assert_exact(&db, &all).await;

        assert_eq!(counts::generated_domains_total(&db.db, generation).await.unwrap(), 301);
        assert_eq!(counts::dns_results_total(&db.db, dns, None, None).await.unwrap(), 505);
        assert_eq!(counts::http_results_total(&db.db, http, None).await.unwrap(), 201);
        assert_eq!(counts::campaigns_total(&db.db, None, None).await.unwrap(), 3);
        assert_eq!(
            counts::dns_results_total(&db.db, dns, Some(ValidationStatus::Valid), Some(Some(BusinessStatus::LeadCandidate)))
                .await
                .unwrap(),
            2 + 25, // two single rows + i ≡ 1 (mod 5) and ≡ 2 (mod 4) among 1..=500
        );
    }
);

db_test!(
    async fn deletes_decrement_and_remove_emptied_counters(db) {
        let dns = campaign(&db, "dns_validation", "running").await;
        let http = campaign(&db, "http_keyword_validation", "running").await;
        let generation = campaign(&db, "domain_generation", "running").await;
        let all = [dns, http, generation];
        dns_rows(&db, dns, 400, MIXED_VALIDATION, MIXED_BUSINESS).await;
        http_rows(&db, http, 100, MIXED_VALIDATION).await;
        generated_rows(&db, generation, 0, 50).await;
        let single = dns_row(&db, dns, "skipped", Some("excluded")).await;

        db.exec(
            "DELETE FROM dns_validation_results WHERE dns_campaign_id = $1 AND id = $2",
            vec![dns.into(), single.into()],
        )
        .await;
        assert_exact(&db, &all).await;

        // A whole key disappears: once compacted, its counter rows go, not linger at 0.
        db.exec("DELETE FROM dns_validation_results WHERE validation_status = 'error'", vec![]).await;
        db.exec("DELETE FROM dns_validation_results WHERE business_status IS NULL", vec![]).await;
        db.exec("DELETE FROM http_keyword_results WHERE validation_status IN ('valid', 'invalid')", vec![]).await;
        assert_exact(&db, &all).await;
        compact(&db).await;
        assert_exact(&db, &all).await;
        assert_eq!(
            db.scalar("SELECT count(*) FROM dns_validation_result_counts WHERE validation_status = 'error' OR business_status = ''")
                .await,
            0
        );

        db.exec("DELETE FROM generated_domains", vec![]).await;
        db.exec("DELETE FROM http_keyword_results", vec![]).await;
        assert_exact(&db, &all).await;
        compact(&db).await;
        assert_eq!(db.scalar("SELECT count(*) FROM generated_domain_counts").await, 0);
        assert_eq!(db.scalar("SELECT count(*) FROM http_keyword_result_counts").await, 0);
    }
);

db_test!(
    async fn updates_of_key_columns_move_counts(db) {
        let dns_a = campaign(&db, "dns_validation", "running").await;
        let dns_b = campaign(&db, "dns_validation", "running").await;
        let http_a = campaign(&db, "http_keyword_validation", "running").await;
        let http_b = campaign(&db, "http_keyword_validation", "paused").await;
        let gen_a = campaign(&db, "domain_generation", "completed").await;
        let gen_b = campaign(&db, "domain_generation", "completed").await;
        let all = [dns_a, dns_b, http_a, http_b, gen_a, gen_b];
        dns_rows(&db, dns_a, 600, MIXED_VALIDATION, MIXED_BUSINESS).await;
        dns_rows(&db, dns_b, 100, "'pending'", "NULL").await;
        http_rows(&db, http_a, 300, MIXED_VALIDATION).await;
        generated_rows(&db, gen_a, 0, 200).await;
        assert_exact(&db, &all).await;

        let steps: &[(&str, Vec<Value>)] = &[
            // validation_status
            ("UPDATE dns_validation_results SET validation_status = 'valid' WHERE validation_status = 'pending'", vec![]),
            // business_status from NULL
            (
                "UPDATE dns_validation_results SET business_status = 'lead_candidate' \
                 WHERE business_status IS NULL AND validation_status = 'valid'",
                vec![],
            ),
            // business_status to NULL
            ("UPDATE dns_validation_results SET business_status = NULL WHERE business_status = 'excluded'", vec![]),
            // both at once, swapping values within one statement (net deltas)
            (
                "UPDATE dns_validation_results SET \
                 validation_status = CASE validation_status WHEN 'valid' THEN 'invalid' WHEN 'invalid' THEN 'valid' ELSE validation_status END, \
                 business_status = CASE WHEN business_status IS NULL THEN 'valid_dns' WHEN business_status = 'valid_dns' THEN NULL ELSE business_status END",
                vec![],
            ),
            // no key column changes: no counter may move
            ("UPDATE dns_validation_results SET attempts = attempts + 1", vec![]),
            ("UPDATE dns_validation_results SET validation_status = validation_status", vec![]),
            // the campaign column
            (
                "UPDATE dns_validation_results SET dns_campaign_id = $1 WHERE dns_campaign_id = $2 AND validation_status = 'invalid'",
                vec![dns_b.into(), dns_a.into()],
            ),
            ("UPDATE http_keyword_results SET validation_status = 'error' WHERE validation_status = 'skipped'", vec![]),
            (
                "UPDATE http_keyword_results SET http_keyword_campaign_id = $1 WHERE validation_status = 'valid'",
                vec![http_b.into()],
            ),
            (
                "UPDATE generated_domains SET domain_generation_campaign_id = $1 WHERE offset_index > 150",
                vec![gen_b.into()],
            ),
            // campaigns: status and type
            ("UPDATE campaigns SET status = 'completed' WHERE status = 'running'", vec![]),
            ("UPDATE campaigns SET campaign_type = 'dns_validation' WHERE id = $1", vec![gen_b.into()]),
            ("UPDATE campaigns SET processed_items = processed_items + 1", vec![]),
        ];
        for (sql, values) in steps {
            db.exec(sql, values.clone()).await;
            assert_exact(&db, &all).await;
        }
        assert_eq!(counts::dns_results_total(&db.db, dns_a, Some(ValidationStatus::Pending), None).await.unwrap(), 0);
        assert_eq!(counts::generated_domains_total(&db.db, gen_b).await.unwrap(), 50);
        assert_eq!(counts::campaigns_total(&db.db, None, Some(CampaignStatus::Completed)).await.unwrap(), 5);
    }
);

db_test!(
    async fn upserts_count_inserted_and_updated_rows(db) {
        let dns = campaign(&db, "dns_validation", "running").await;
        dns_rows(&db, dns, 200, MIXED_VALIDATION, MIXED_BUSINESS).await;

        // Every row conflicts: all become updates.
        db.exec(
            "INSERT INTO dns_validation_results (id, dns_campaign_id, domain_name, validation_status, business_status, created_at) \
             SELECT id, dns_campaign_id, domain_name, 'valid', NULL, created_at FROM dns_validation_results \
             WHERE dns_campaign_id = $1 AND validation_status = 'pending' \
             ON CONFLICT (dns_campaign_id, id) DO UPDATE \
             SET validation_status = excluded.validation_status, business_status = excluded.business_status",
            vec![dns.into()],
        )
        .await;
        assert_exact(&db, &[dns]).await;

        // One conflicting row (updated) and one new row (inserted) in one statement.
        let existing = dns_row(&db, dns, "error", None).await;
        let fresh = Uuid::now_v7();
        let t = created(db.backend());
        db.exec(
            "INSERT INTO dns_validation_results (id, dns_campaign_id, domain_name, validation_status, business_status, created_at) \
             VALUES ($1, $3, 'x.example', 'valid', 'excluded', $4), ($2, $3, 'y.example', 'skipped', NULL, $4) \
             ON CONFLICT (dns_campaign_id, id) DO UPDATE \
             SET validation_status = excluded.validation_status, business_status = excluded.business_status",
            vec![existing.into(), fresh.into(), dns.into(), t],
        )
        .await;
        assert_exact(&db, &[dns]).await;
    }
);

db_test!(
    async fn deleting_a_campaign_cascades_to_its_counts(db) {
        let generation = campaign(&db, "domain_generation", "completed").await;
        let dns = campaign(&db, "dns_validation", "completed").await;
        let http = campaign(&db, "http_keyword_validation", "running").await;
        let survivor = campaign(&db, "dns_validation", "running").await;
        let all = [generation, dns, http, survivor];
        generated_rows(&db, generation, 0, 300).await;
        dns_rows(&db, dns, 300, MIXED_VALIDATION, MIXED_BUSINESS).await;
        http_rows(&db, http, 150, MIXED_VALIDATION).await;
        dns_rows(&db, survivor, 70, MIXED_VALIDATION, MIXED_BUSINESS).await;
        assert_exact(&db, &all).await;

        db.exec("DELETE FROM campaigns WHERE id = $1", vec![dns.into()]).await;
        assert_exact(&db, &all).await;
        db.exec(
            "DELETE FROM campaigns WHERE id IN ($1, $2)",
            vec![generation.into(), http.into()],
        )
        .await;
        assert_exact(&db, &all).await;
        compact(&db).await;
        assert_eq!(db.scalar("SELECT count(*) FROM generated_domain_counts").await, 0);
        assert_eq!(db.scalar("SELECT count(*) FROM http_keyword_result_counts").await, 0);
        assert_eq!(counts::dns_results_total(&db.db, survivor, None, None).await.unwrap(), 70);
        assert_eq!(counts::campaigns_total(&db.db, None, None).await.unwrap(), 1);
    }
);

db_test!(
    /// PostgreSQL: TRUNCATE (which fires no row or delete triggers) clears the counts, also
    /// through CASCADE and not when rolled back. SQLite has no TRUNCATE; its whole-table
    /// `DELETE FROM t` (the "truncate optimisation", disabled by triggers) must count too.
    async fn truncating_clears_counts(db) {
        let dns = campaign(&db, "dns_validation", "running").await;
        let generation = campaign(&db, "domain_generation", "running").await;
        let http = campaign(&db, "http_keyword_validation", "running").await;
        let all = [dns, generation, http];
        let fill = || async {
            dns_rows(&db, dns, 250, MIXED_VALIDATION, MIXED_BUSINESS).await;
            let next_offset = db.scalar("SELECT count(*) FROM generated_domains").await as u32;
            generated_rows(&db, generation, next_offset, 100).await;
            http_rows(&db, http, 80, MIXED_VALIDATION).await;
        };
        fill().await;
        assert_exact(&db, &all).await;

        match db.backend {
            Backend::Postgres => {
                let txn = db.db.begin().await.unwrap();
                txn.execute_unprepared("TRUNCATE dns_validation_results").await.unwrap();
                assert_eq!(
                    txn.query_one_raw(Statement::from_string(
                        DbBackend::Postgres,
                        "SELECT count(*) FROM dns_validation_result_counts"
                    ))
                    .await
                    .unwrap()
                    .unwrap()
                    .try_get_by_index::<i64>(0)
                    .unwrap(),
                    0
                );
                txn.rollback().await.unwrap();
                assert_exact(&db, &all).await;

                db.exec("TRUNCATE dns_validation_results", vec![]).await;
                assert_exact(&db, &all).await;
                fill().await;
                db.exec("TRUNCATE generated_domains, http_keyword_results", vec![]).await;
                assert_exact(&db, &all).await;
                fill().await;
                db.exec("TRUNCATE campaigns CASCADE", vec![]).await;
            }
            Backend::Sqlite => {
                db.exec("DELETE FROM dns_validation_results", vec![]).await;
                assert_exact(&db, &all).await;
                fill().await;
                db.exec("DELETE FROM campaigns", vec![]).await;
            }
        }
        assert_exact(&db, &all).await;
        for t in COUNTED {
            assert_eq!(db.scalar(&format!("SELECT count(*) FROM {}", t.counts)).await, 0, "{}", t.counts);
        }
    }
);

db_test!(
    /// Two writers load 20,000 rows each into the same two campaigns (every status
    /// combination of both) at the same time, on their own connections, each in a transaction
    /// held open a little after its insert so the two overlap; then one loads more while the
    /// other re-classifies rows. PostgreSQL: each writer's trigger appends its own delta rows,
    /// neither waits for the other. SQLite: the second writer waits for the write lock
    /// (busy_timeout).
    async fn concurrent_bulk_inserts_into_one_campaign_stay_exact(db) {
        let dns = campaign(&db, "dns_validation", "running").await;
        let other = campaign(&db, "dns_validation", "running").await;
        let all = [dns, other];
        let (writer_a, writer_b) = (db.another_connection().await, db.another_connection().await);
        let backend = db.backend();
        let load = move |conn: DatabaseConnection, first: Uuid, second: Uuid| async move {
            let txn = conn.begin().await.expect("begin");
            txn.execute_raw(Statement::from_sql_and_values(
                backend,
                dns_rows_sql(
                    backend,
                    20_000,
                    "CASE WHEN i % 2 = 0 THEN $1 ELSE $3 END",
                    MIXED_VALIDATION,
                    MIXED_BUSINESS,
                ),
                [first.into(), created(backend), second.into()],
            ))
            .await
            .expect("bulk insert");
            tokio::time::sleep(Duration::from_millis(100)).await;
            txn.commit().await.expect("commit");
            conn
        };
        let (writer_a, writer_b) = tokio::join!(load(writer_a, dns, other), load(writer_b, other, dns));
        assert_exact(&db, &all).await;
        assert_eq!(counts::dns_results_total(&db.db, dns, None, None).await.unwrap(), 20_000);
        assert_eq!(counts::dns_results_total(&db.db, other, None, None).await.unwrap(), 20_000);

        let reclassify = async move {
            writer_b
                .execute_raw(Statement::from_string(
                    backend,
                    "UPDATE dns_validation_results SET validation_status = 'valid', business_status = 'lead_candidate' \
                     WHERE validation_status = 'pending'",
                ))
                .await
                .expect("reclassify");
        };
        let (_, ()) = tokio::join!(load(writer_a, dns, other), reclassify);
        assert_exact(&db, &all).await;
        assert_eq!(db.scalar("SELECT count(*) FROM dns_validation_results").await, 60_000);
    }
);

/// Runs `sql` (with `$1` = the campaign, `$2` = a creation time) on a writer's connection.
async fn write(conn: &impl ConnectionTrait, backend: DbBackend, campaign: Uuid, sql: &str) {
    let values: Vec<Value> = if sql.contains("$2") {
        vec![campaign.into(), created(backend)]
    } else {
        vec![campaign.into()]
    };
    conn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// What one engine worker does in a transaction, on rows only it owns (`prefix` of their
/// domain names): a key-changing update, a batch insert of another key, a delete.
fn worker_steps(backend: DbBackend, prefix: &str, n: u32) -> [String; 3] {
    [
        format!(
            "UPDATE dns_validation_results SET validation_status = 'valid', business_status = 'lead_candidate' \
             WHERE dns_campaign_id = $1 AND validation_status = 'pending' AND domain_name LIKE '{prefix}%'"
        ),
        dns_rows_sql(backend, n, "$1", "'error'", "NULL").replace("'d' || i", &format!("'{prefix}x' || i")),
        format!(
            "DELETE FROM dns_validation_results \
             WHERE dns_campaign_id = $1 AND validation_status = 'skipped' AND domain_name LIKE '{prefix}%'"
        ),
    ]
}

db_test!(
    /// The campaign engine's workers as the database sees them: transaction A writes keys in
    /// one order and stays open; transaction B writes the same keys of the same campaign in
    /// the opposite order and commits. With counter rows that writers lock (the design before
    /// append-only counts), B waited for A's commit — and the two deadlocked when A went on.
    /// PostgreSQL: B commits while A is still open, then A commits; nothing waited, nothing
    /// failed. Then B again under REPEATABLE READ, with A's writes and a compaction committed
    /// after B's snapshot: no serialization failure. SQLite has one writer at a time: the same
    /// transactions one after the other. Counts exact at the end either way.
    async fn writers_into_one_campaign_never_wait_on_counts(db) {
        let dns = campaign(&db, "dns_validation", "running").await;
        dns_rows(&db, dns, 1_000, MIXED_VALIDATION, MIXED_BUSINESS).await;
        let backend = db.backend();
        let (a, b) = (db.another_connection().await, db.another_connection().await);
        let [a_update, a_insert, a_delete] = worker_steps(backend, "d1", 40);
        let [b_update, b_insert, b_delete] = worker_steps(backend, "d2", 40);
        match db.backend {
            Backend::Postgres => {
                let txn_a = a.begin().await.expect("begin A");
                write(&txn_a, backend, dns, &a_update).await;
                let b_commits = async {
                    let txn_b = b.begin().await.expect("begin B");
                    for sql in [&b_delete, &b_insert, &b_update] {
                        write(&txn_b, backend, dns, sql).await;
                    }
                    txn_b.commit().await.expect("commit B");
                };
                // A holds its transaction open until B is done: if B waited for A, it would
                // never finish.
                tokio::time::timeout(Duration::from_secs(60), b_commits)
                    .await
                    .expect("B waited for A's open transaction on the counts");
                write(&txn_a, backend, dns, &a_insert).await;
                write(&txn_a, backend, dns, &a_delete).await;
                txn_a.commit().await.expect("commit A");
                assert_exact(&db, &[dns]).await;

                let [a_update, a_insert, a_delete] = worker_steps(backend, "d3", 25);
                let [b_update, b_insert, b_delete] = worker_steps(backend, "d4", 25);
                let txn_b = b
                    .begin_with_config(Some(sea_orm::IsolationLevel::RepeatableRead), None)
                    .await
                    .expect("begin B, REPEATABLE READ");
                let seen = txn_b
                    .query_one_raw(Statement::from_string(backend, "SELECT count(*) FROM dns_validation_result_counts"))
                    .await
                    .expect("B takes its snapshot");
                assert!(seen.is_some());
                for sql in [&a_update, &a_insert, &a_delete] {
                    write(&a, backend, dns, sql).await;
                }
                compact(&db).await;
                for sql in [&b_insert, &b_update, &b_delete] {
                    write(&txn_b, backend, dns, sql).await;
                }
                txn_b.commit().await.expect("REPEATABLE READ writer commits");
            }
            Backend::Sqlite => {
                for (conn, steps) in [(&a, [&a_update, &a_insert, &a_delete]), (&b, [&b_delete, &b_insert, &b_update])] {
                    let txn = conn.begin().await.expect("begin");
                    for sql in steps {
                        write(&txn, backend, dns, sql).await;
                    }
                    txn.commit().await.expect("commit");
                }
            }
        }
        assert_exact(&db, &[dns]).await;
        assert!(db.scalar("SELECT count(*) FROM dns_validation_results WHERE validation_status = 'error'").await > 200);
    }
);

/// `n` single-row inserts of HTTP results into `http`, each its own statement, in one open
/// transaction on a connection of its own: REPEATABLE READ on PostgreSQL (so the triggers
/// append without compacting), the default on SQLite.
async fn single_row_inserts_in_repeatable_read(db: &TestDb, http: Uuid, n: u32) -> sea_orm::DatabaseTransaction {
    let writer = db.another_connection().await;
    let txn = match db.backend {
        Backend::Postgres => writer
            .begin_with_config(Some(sea_orm::IsolationLevel::RepeatableRead), None)
            .await
            .expect("begin REPEATABLE READ"),
        Backend::Sqlite => writer.begin().await.expect("begin"),
    };
    let insert = bulk_insert(
        db.backend(),
        "http_keyword_results",
        "id, http_keyword_campaign_id, domain_name, validation_status, created_at",
        "{id}, $1, 'h' || i || '-' || $3 || '.example', 'valid', $2",
        1,
    );
    for i in 0..n {
        txn.execute_raw(Statement::from_sql_and_values(
            db.backend(),
            &insert,
            [http.into(), created(db.backend()), i.to_string().into()],
        ))
        .await
        .expect("insert one row");
    }
    txn
}

db_test!(
    /// A key's rows stay bounded. 300 single-row statements into one campaign (each its own
    /// READ COMMITTED transaction) leave at most the compaction bound: the writer's trigger
    /// folds them. Inside one REPEATABLE READ transaction the trigger never folds (it could
    /// meet a concurrent compaction's deletes), so rows pile up — the transaction and readers
    /// after its commit still read exact totals — until the server's compaction folds them to
    /// one row per key. SQLite: one row per key throughout.
    async fn compaction_bounds_the_rows_of_a_key(db) {
        let dns = campaign(&db, "dns_validation", "running").await;
        let http = campaign(&db, "http_keyword_validation", "running").await;
        let statuses = ["pending", "valid", "invalid"];
        for i in 0..300 {
            let status = statuses[i % statuses.len()];
            dns_row(&db, dns, status, (i % 2 == 0).then_some("valid_dns")).await;
        }
        assert_exact(&db, &[dns]).await;

        let txn = single_row_inserts_in_repeatable_read(&db, http, 150).await;
        let inside = txn
            .query_one_raw(Statement::from_sql_and_values(
                db.backend(),
                "SELECT CAST(SUM(row_count) AS BIGINT) FROM http_keyword_result_counts WHERE http_keyword_campaign_id = $1",
                [http.into()],
            ))
            .await
            .expect("sum inside the transaction")
            .expect("one row")
            .try_get_by_index::<i64>(0)
            .expect("a total");
        assert_eq!(inside, 150, "the transaction reads its own deltas");
        txn.commit().await.expect("commit");
        assert_eq!(counts::http_results_total(&db.db, http, None).await.unwrap(), 150);
        let rows = db.scalar("SELECT count(*) FROM http_keyword_result_counts").await;
        match db.backend {
            Backend::Postgres => assert_eq!(rows, 150, "no compaction inside REPEATABLE READ"),
            Backend::Sqlite => assert_eq!(rows, 1),
        }
        compact(&db).await;
        assert_eq!(db.scalar("SELECT count(*) FROM http_keyword_result_counts").await, 1);
        assert_exact(&db, &[dns, http]).await;
    }
);

db_test!(
    /// The running server folds what REPEATABLE READ writers leave behind (their triggers
    /// never compact) and keeps serving exact totals meanwhile: 120 delta rows of one key become
    /// one row within a few seconds, with no request involved. SQLite: one row per key from the
    /// start, and the server has nothing to do.
    async fn the_server_compacts_in_the_background(db) {
        let http = campaign(&db, "http_keyword_validation", "running").await;
        let app = db.spawn_app().await;
        let txn = single_row_inserts_in_repeatable_read(&db, http, 120).await;
        txn.commit().await.expect("commit");
        let query = "query($c: UUID!) { campaignByDatabaseId(databaseId: $c) { httpKeywordResults(first: 1) { totalCount } } }";
        let total = || async {
            app.graphql(query, serde_json::json!({ "c": http }))
                .await["data"]["campaignByDatabaseId"]["httpKeywordResults"]["totalCount"]
                .clone()
        };
        assert_eq!(total().await, 120);
        let mut rows = db.scalar("SELECT count(*) FROM http_keyword_result_counts").await;
        for _ in 0..300 {
            if rows == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            rows = db.scalar("SELECT count(*) FROM http_keyword_result_counts").await;
        }
        assert_eq!(rows, 1, "the server did not fold the deltas within 30 s");
        assert_eq!(total().await, 120);
        assert_exact(&db, &[http]).await;
    }
);

db_test!(
    /// Converting a live PostgreSQL database to append-only counts: while a writer's
    /// transaction holds the counts tables, the migration gives up its lock request after a
    /// short timeout and retries, so readers keep reading (they are never queued behind it
    /// for long); once the writer commits it converts, the counts of the rows already there
    /// unchanged. `down` folds the deltas back into one row per key under a primary key.
    /// SQLite: the migration does nothing and counts stay exact.
    async fn append_only_migration_converts_a_live_database(db) {
        let dns = campaign(&db, "dns_validation", "running").await;
        let generation = campaign(&db, "domain_generation", "running").await;
        let all = [dns, generation];
        Migrator::down(&db.db, Some(1)).await.expect("down to the upsert counts");
        dns_rows(&db, dns, 500, MIXED_VALIDATION, MIXED_BUSINESS).await;
        generated_rows(&db, generation, 0, 100).await;
        assert_exact(&db, &all).await;

        let writer = db.another_connection().await;
        let txn = writer.begin().await.expect("begin writer");
        write(&txn, db.backend(), dns, &dns_rows_sql(db.backend(), 10, "$1", "'valid'", "NULL")).await;
        let migrator = db.another_connection().await;
        let migration = tokio::spawn(async move { Migrator::up(&migrator, None).await });
        if db.backend == Backend::Postgres {
            // The migration is retrying behind the writer; readers are not stuck behind it.
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                tokio::time::timeout(Duration::from_secs(30), counts::dns_results_total(&db.db, dns, None, None))
                    .await
                    .expect("a reader was held behind the migration")
                    .expect("total");
            }
            assert!(!migration.is_finished(), "the migration cannot convert while the writer holds the counts");
        }
        txn.commit().await.expect("commit writer");
        migration.await.expect("join").expect("migration up");
        assert_exact(&db, &all).await;
        assert_eq!(counts::dns_results_total(&db.db, dns, None, None).await.unwrap(), 510);

        // Deltas accumulate, then `down` folds them and restores the primary key.
        for _ in 0..20 {
            dns_row(&db, dns, "invalid", Some("excluded")).await;
        }
        if db.backend == Backend::Postgres {
            assert!(db.scalar("SELECT count(*) FROM dns_validation_result_counts WHERE validation_status = 'invalid' AND business_status = 'excluded'").await > 1);
        }
        Migrator::down(&db.db, Some(1)).await.expect("down again");
        assert_exact(&db, &all).await;
        assert_eq!(
            db.scalar("SELECT count(*) FROM dns_validation_result_counts WHERE validation_status = 'invalid' AND business_status = 'excluded'").await,
            1
        );
        Migrator::up(&db.db, None).await.expect("up again");
        dns_rows(&db, dns, 30, "'pending'", "NULL").await;
        assert_exact(&db, &all).await;
    }
);

db_test!(
    /// Adding the counts to a database that already has rows backfills them exactly.
    async fn migrating_a_populated_database_backfills_counts(db) {
        Migrator::down(&db.db, Some(2)).await.expect("down the counts migrations");
        assert_eq!(
            db.scalar("SELECT count(*) FROM seaql_migrations WHERE version = 'm20261127_000007_create_row_counts'")
                .await,
            0
        );
        let generation = campaign(&db, "domain_generation", "completed").await;
        let dns = campaign(&db, "dns_validation", "running").await;
        let http = campaign(&db, "http_keyword_validation", "queued").await;
        let all = [generation, dns, http];
        generated_rows(&db, generation, 0, 400).await;
        dns_rows(&db, dns, 700, MIXED_VALIDATION, MIXED_BUSINESS).await;
        http_rows(&db, http, 90, MIXED_VALIDATION).await;

        Migrator::up(&db.db, None).await.expect("up again");
        assert_exact(&db, &all).await;
        // ... and the triggers work from there on.
        dns_rows(&db, dns, 30, "'error'", "NULL").await;
        db.exec("DELETE FROM generated_domains WHERE offset_index <= 100", vec![]).await;
        assert_exact(&db, &all).await;
    }
);

db_test!(
    /// Every migration's `down` works: all the way down leaves no counts table, trigger or
    /// function behind, and all the way up again counts as before.
    async fn migrations_go_down_and_up_again(db) {
        let dns = campaign(&db, "dns_validation", "running").await;
        dns_rows(&db, dns, 50, MIXED_VALIDATION, MIXED_BUSINESS).await;
        Migrator::down(&db.db, None).await.expect("all the way down");
        let leftovers = match db.backend {
            Backend::Postgres => {
                "SELECT (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal) \
                 + (SELECT count(*) FROM pg_proc WHERE proname LIKE 'maintain_%' OR proname LIKE 'compact_%' \
                    OR proname LIKE 'domainflow_%') \
                 + (SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'seaql_migrations')"
            }
            Backend::Sqlite => {
                "SELECT count(*) FROM sqlite_master WHERE name NOT IN ('seaql_migrations') AND name NOT LIKE 'sqlite_%'"
            }
        };
        assert_eq!(db.scalar(leftovers).await, 0);

        Migrator::up(&db.db, None).await.expect("up again");
        let dns = campaign(&db, "dns_validation", "running").await;
        dns_rows(&db, dns, 50, MIXED_VALIDATION, MIXED_BUSINESS).await;
        assert_exact(&db, &[dns]).await;
        assert_eq!(counts::dns_results_total(&db.db, dns, None, None).await.unwrap(), 50);
    }
);

db_test!(
    /// The read API's shape: NULL business status as `None`, `Some(None)` filters on it,
    /// breakdowns in declaration order, unknown campaigns count 0.
    async fn read_api_reports_breakdowns_in_declaration_order(db) {
        let dns = campaign(&db, "dns_validation", "running").await;
        let http = campaign(&db, "http_keyword_validation", "running").await;
        for (validation, business, n) in [
            ("skipped", None, 1),
            ("valid", Some("lead_candidate"), 3),
            ("valid", None, 2),
            ("pending", None, 4),
            ("valid", Some("valid_dns"), 1),
        ] {
            for _ in 0..n {
                dns_row(&db, dns, validation, business).await;
            }
        }
        http_rows(&db, http, 3, "'invalid'").await;
        http_rows(&db, http, 2, "'pending'").await;

        use BusinessStatus::*;
        use ValidationStatus::*;
        assert_eq!(
            counts::dns_status_breakdown(&db.db, dns).await.unwrap(),
            vec![(Pending, None, 4), (Valid, Some(ValidDns), 1), (Valid, Some(LeadCandidate), 3), (Valid, None, 2), (Skipped, None, 1)]
        );
        assert_eq!(counts::http_status_breakdown(&db.db, http).await.unwrap(), vec![(Pending, 2), (Invalid, 3)]);
        assert_eq!(counts::dns_results_total(&db.db, dns, None, Some(None)).await.unwrap(), 7);
        assert_eq!(counts::dns_results_total(&db.db, dns, Some(Valid), Some(None)).await.unwrap(), 2);
        assert_eq!(counts::dns_results_total(&db.db, dns, Some(Valid), None).await.unwrap(), 6);
        assert_eq!(counts::dns_results_total(&db.db, dns, None, Some(Some(Excluded))).await.unwrap(), 0);
        assert_eq!(
            counts::campaigns_total(&db.db, Some(CampaignType::DnsValidation), Some(CampaignStatus::Running)).await.unwrap(),
            1
        );
        // The same statement embedded as a scalar subquery, as a page statement would.
        let page = sea_orm::sea_query::Query::select()
            .expr(sea_orm::sea_query::Expr::SubQuery(
                None,
                Box::new(counts::dns_results_total_query(dns, Some(Valid), Some(None)).into()),
            ))
            .to_owned();
        let row = db.db.query_one(&page).await.unwrap().unwrap();
        assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 2);

        let unknown = Uuid::now_v7();
        assert_eq!(counts::dns_results_total(&db.db, unknown, None, None).await.unwrap(), 0);
        assert_eq!(counts::generated_domains_total(&db.db, unknown).await.unwrap(), 0);
        assert!(counts::dns_status_breakdown(&db.db, unknown).await.unwrap().is_empty());
        assert!(counts::http_status_breakdown(&db.db, unknown).await.unwrap().is_empty());
        assert_exact(&db, &[dns, http]).await;
    }
);

/// What the triggers cost a bulk load on PostgreSQL: the same 1,000,000-row INSERT … SELECT
/// into one campaign (and a key-changing UPDATE, a key-preserving UPDATE and a DELETE of all
/// of them) with the counts triggers enabled and disabled, alternating, best of two rounds,
/// plus the triggers' own time as EXPLAIN ANALYZE reports it. Rows: COUNTS_BENCH_ROWS.
/// `cargo test --test api counts::trigger_overhead -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark, minutes long; run explicitly"]
async fn trigger_overhead_on_postgres_bulk_load() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let rows: u32 = std::env::var("COUNTS_BENCH_ROWS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let dns = campaign(&db, "dns_validation", "running").await;
    let insert = dns_rows_sql(DbBackend::Postgres, rows, "$1", MIXED_VALIDATION, MIXED_BUSINESS);
    let insert_values = || vec![dns.into(), created(DbBackend::Postgres)];
    let steps: [(&str, String); 4] = [
        ("INSERT … SELECT", insert.clone()),
        (
            "UPDATE key (validation_status)",
            "UPDATE dns_validation_results SET validation_status = CASE validation_status \
             WHEN 'pending' THEN 'valid' ELSE 'pending' END"
                .into(),
        ),
        (
            "UPDATE non-key (attempts)",
            "UPDATE dns_validation_results SET attempts = attempts + 1".into(),
        ),
        ("DELETE all", "DELETE FROM dns_validation_results".into()),
    ];
    let mut best = [[Duration::MAX; 2]; 4];
    for _round in 0..2 {
        for (mode, enabled) in [(0, true), (1, false)] {
            let action = if enabled { "ENABLE" } else { "DISABLE" };
            for event in ["insert", "update", "delete", "truncate"] {
                db.exec(
                    &format!(
                        "ALTER TABLE dns_validation_results {action} TRIGGER dns_validation_result_counts_on_{event}"
                    ),
                    vec![],
                )
                .await;
            }
            db.exec("TRUNCATE dns_validation_results", vec![]).await;
            db.exec("DELETE FROM dns_validation_result_counts", vec![]).await;
            for (i, (_, sql)) in steps.iter().enumerate() {
                db.exec("CHECKPOINT", vec![]).await;
                let values = if i == 0 { insert_values() } else { vec![] };
                let started = std::time::Instant::now();
                db.exec(sql, values).await;
                best[i][mode] = best[i][mode].min(started.elapsed());
                if enabled {
                    assert_counts_tables_exact(&db.db, DbBackend::Postgres).await;
                }
            }
        }
    }
    eprintln!("\ntrigger overhead, {rows} rows in one campaign (best of 2):");
    eprintln!(
        "{:<32} {:>12} {:>12} {:>10}",
        "statement", "triggers on", "off", "overhead"
    );
    for (i, (name, _)) in steps.iter().enumerate() {
        let (on, off) = (best[i][0].as_secs_f64(), best[i][1].as_secs_f64());
        eprintln!("{name:<32} {on:>11.2}s {off:>11.2}s {:>9.1}%", (on / off - 1.0) * 100.0);
    }

    // The trigger function's own time (excludes capturing the transition tables).
    for event in ["insert", "update", "delete", "truncate"] {
        db.exec(
            &format!("ALTER TABLE dns_validation_results ENABLE TRIGGER dns_validation_result_counts_on_{event}"),
            vec![],
        )
        .await;
    }
    db.exec("TRUNCATE dns_validation_results", vec![]).await;
    for (i, (name, sql)) in steps.iter().enumerate().take(2) {
        let values = if i == 0 { insert_values() } else { vec![] };
        let plan = db
            .db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!("EXPLAIN ANALYZE {sql}"),
                values,
            ))
            .await
            .expect("explain analyze");
        for line in plan.iter().filter_map(|r| r.try_get_by_index::<String>(0).ok()) {
            if line.contains("Trigger") || line.contains("Execution Time") {
                eprintln!("{name}: {line}");
            }
        }
    }
}
