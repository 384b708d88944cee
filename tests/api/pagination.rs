//! Relay connections against an oracle: for random data (with ties), orderings, filters and
//! page sizes, walking every connection forwards to the end and backwards to the start must
//! give exactly the rows of a plain ORDER BY query, with exact pageInfo at every step.
//! Plus the edge cases of the Cursor Connections spec and cursor misuse.

use sea_orm::{ConnectionTrait, Statement, Value as DbValue};
use serde_json::{Value, json};
use uuid::Uuid;

use domainflow::entity::Timestamp;

use crate::helpers::{TestApp, TestDb, error_code, insert_campaign};

const BASE: i64 = 1_767_225_600_000_000;

/// splitmix64: a tiny deterministic generator so a failing case can be replayed by its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const STATUSES: &[&str] = &["pending", "valid", "invalid", "error", "skipped"];
const BUSINESS: &[Option<&str>] = &[None, Some("valid_dns"), Some("lead_candidate"), Some("excluded")];

/// The three chained campaigns of one test, filled with random rows that share sort values.
struct Fixture {
    generation: Uuid,
    dns: Uuid,
    http: Uuid,
}

async fn insert_rows(db: &TestDb, table: &str, columns: &[&str], rows: Vec<Vec<DbValue>>) {
    for chunk in rows.chunks(50) {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        let mut values = Vec::new();
        for (r, row) in chunk.iter().enumerate() {
            if r > 0 {
                sql.push_str(", ");
            }
            let placeholders: Vec<String> = (0..row.len()).map(|i| format!("${}", values.len() + i + 1)).collect();
            sql.push_str(&format!("({})", placeholders.join(", ")));
            values.extend(row.iter().cloned());
        }
        db.exec(&sql, values).await;
    }
}

async fn fixture(db: &TestDb, rng: &mut Rng, n: usize) -> Fixture {
    let generation = insert_campaign(db, "gen", "domain_generation", "completed", BASE).await;
    let dns = insert_campaign(db, "dns", "dns_validation", "completed", BASE + 1).await;
    let http = insert_campaign(db, "http", "http_keyword_validation", "running", BASE + 2).await;
    db.exec(
        "UPDATE campaigns SET source_campaign_id = $1 WHERE id = $2",
        vec![generation.into(), dns.into()],
    )
    .await;
    db.exec(
        "UPDATE campaigns SET source_campaign_id = $1 WHERE id = $2",
        vec![dns.into(), http.into()],
    )
    .await;
    let b = db.backend();
    // Few distinct times and names, so sort values tie often and ids must break the ties.
    let time = |rng: &mut Rng| Timestamp(BASE + rng.below(6) as i64 * 1_000).to_value(b);
    let name = |rng: &mut Rng| format!("d{}.com", rng.below(8));
    let mut offsets: Vec<i64> = (0..n as i64 * 3).collect();
    for i in (1..offsets.len()).rev() {
        offsets.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut gd = Vec::new();
    let mut dr = Vec::new();
    let mut hr = Vec::new();
    for offset in offsets.iter().take(n) {
        gd.push(vec![
            Uuid::new_v4().into(),
            generation.into(),
            name(rng).into(),
            (*offset).into(),
            time(rng),
            time(rng),
        ]);
        let business = *rng.pick(BUSINESS);
        dr.push(vec![
            Uuid::new_v4().into(),
            dns.into(),
            name(rng).into(),
            (*rng.pick(STATUSES)).into(),
            business.map(str::to_owned).into(),
            time(rng),
        ]);
        hr.push(vec![
            Uuid::new_v4().into(),
            http.into(),
            name(rng).into(),
            (*rng.pick(STATUSES)).into(),
            time(rng),
        ]);
    }
    insert_rows(
        db,
        "generated_domains",
        &[
            "id",
            "domain_generation_campaign_id",
            "domain_name",
            "offset_index",
            "generated_at",
            "created_at",
        ],
        gd,
    )
    .await;
    insert_rows(
        db,
        "dns_validation_results",
        &[
            "id",
            "dns_campaign_id",
            "domain_name",
            "validation_status",
            "business_status",
            "created_at",
        ],
        dr,
    )
    .await;
    insert_rows(
        db,
        "http_keyword_results",
        &[
            "id",
            "http_keyword_campaign_id",
            "domain_name",
            "validation_status",
            "created_at",
        ],
        hr,
    )
    .await;
    Fixture { generation, dns, http }
}

/// One connection request shape: which field, its GraphQL types, and the oracle's SQL.
struct Shape {
    field: &'static str,
    order_type: &'static str,
    filter_type: Option<&'static str>,
    campaign: Uuid,
    table: &'static str,
    campaign_column: &'static str,
    order_field: &'static str,
    sort_column: &'static str,
    unique_sort: bool,
    desc: bool,
    filter: Value,
    filter_sql: Vec<(&'static str, Option<String>)>,
}

fn random_shape(rng: &mut Rng, f: &Fixture) -> Shape {
    let desc = rng.below(2) == 1;
    match rng.below(3) {
        0 => {
            let (order_field, sort_column) = *rng.pick(&[
                ("OFFSET_INDEX", "offset_index"),
                ("CREATED_AT", "created_at"),
                ("DOMAIN_NAME", "domain_name"),
            ]);
            Shape {
                field: "generatedDomains",
                order_type: "GeneratedDomainOrder",
                filter_type: None,
                campaign: f.generation,
                table: "generated_domains",
                campaign_column: "domain_generation_campaign_id",
                order_field,
                sort_column,
                unique_sort: sort_column == "offset_index",
                desc,
                filter: Value::Null,
                filter_sql: vec![],
            }
        }
        1 => {
            let (order_field, sort_column) = *rng.pick(&[("CREATED_AT", "created_at"), ("DOMAIN_NAME", "domain_name")]);
            let mut filter = serde_json::Map::new();
            let mut filter_sql = vec![];
            if rng.below(2) == 1 {
                let s = *rng.pick(STATUSES);
                filter.insert("validationStatus".into(), json!(s.to_uppercase()));
                filter_sql.push(("validation_status", Some(s.to_owned())));
            }
            if rng.below(2) == 1 {
                let b = *rng.pick(BUSINESS);
                filter.insert(
                    "businessStatus".into(),
                    b.map_or(Value::Null, |b| json!(b.to_uppercase())),
                );
                filter_sql.push(("business_status", b.map(str::to_owned)));
            }
            Shape {
                field: "dnsValidationResults",
                order_type: "DnsValidationResultOrder",
                filter_type: Some("DnsValidationResultFilter"),
                campaign: f.dns,
                table: "dns_validation_results",
                campaign_column: "dns_campaign_id",
                order_field,
                sort_column,
                unique_sort: false,
                desc,
                filter: Value::Object(filter),
                filter_sql,
            }
        }
        _ => {
            let (order_field, sort_column) = *rng.pick(&[("CREATED_AT", "created_at"), ("DOMAIN_NAME", "domain_name")]);
            let mut filter = serde_json::Map::new();
            let mut filter_sql = vec![];
            if rng.below(2) == 1 {
                let s = *rng.pick(STATUSES);
                filter.insert("validationStatus".into(), json!(s.to_uppercase()));
                filter_sql.push(("validation_status", Some(s.to_owned())));
            }
            Shape {
                field: "httpKeywordResults",
                order_type: "HttpKeywordResultOrder",
                filter_type: Some("HttpKeywordResultFilter"),
                campaign: f.http,
                table: "http_keyword_results",
                campaign_column: "http_keyword_campaign_id",
                order_field,
                sort_column,
                unique_sort: false,
                desc,
                filter: Value::Object(filter),
                filter_sql,
            }
        }
    }
}

impl Shape {
    fn query(&self) -> String {
        let (filter_var, filter_arg) = match self.filter_type {
            Some(t) => (format!(", $filter: {t}"), ", filter: $filter"),
            None => (String::new(), ""),
        };
        format!(
            "query($c: UUID!, $first: Int, $after: String, $last: Int, $before: String, $order: {order}{filter_var}) {{
               campaignByDatabaseId(databaseId: $c) {{
                 conn: {field}(first: $first, after: $after, last: $last, before: $before, orderBy: $order{filter_arg}) {{
                   totalCount
                   edges {{ cursor node {{ databaseId }} }}
                   nodes {{ databaseId }}
                   pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
                 }}
               }}
             }}",
            order = self.order_type,
            field = self.field,
        )
    }

    fn variables(&self, extra: Value) -> Value {
        let mut vars = json!({
            "c": self.campaign,
            "order": { "field": self.order_field, "direction": if self.desc { "DESC" } else { "ASC" } },
        });
        if self.filter_type.is_some() {
            vars["filter"] = self.filter.clone();
        }
        if let (Some(vars), Some(extra)) = (vars.as_object_mut(), extra.as_object()) {
            vars.extend(extra.clone());
        }
        vars
    }

    /// The oracle: the same rows by a plain ORDER BY query.
    async fn oracle(&self, db: &TestDb) -> Vec<String> {
        let dir = if self.desc { "DESC" } else { "ASC" };
        let mut sql = format!("SELECT id FROM {} WHERE {} = $1", self.table, self.campaign_column);
        let mut values: Vec<DbValue> = vec![self.campaign.into()];
        for (column, value) in &self.filter_sql {
            match value {
                Some(v) => {
                    values.push(v.clone().into());
                    sql.push_str(&format!(" AND {column} = ${}", values.len()));
                }
                None => sql.push_str(&format!(" AND {column} IS NULL")),
            }
        }
        sql.push_str(&format!(" ORDER BY {} {dir}", self.sort_column));
        if !self.unique_sort {
            sql.push_str(&format!(", id {dir}"));
        }
        let rows = db
            .db
            .query_all_raw(Statement::from_sql_and_values(db.backend(), &sql, values))
            .await
            .expect("oracle query");
        rows.iter()
            .map(|r| r.try_get_by_index::<Uuid>(0).expect("uuid").to_string())
            .collect()
    }
}

async fn page(app: &TestApp, shape: &Shape, args: Value) -> Value {
    let response = app.graphql(&shape.query(), shape.variables(args.clone())).await;
    assert!(response.get("errors").is_none(), "{args} → {response}");
    response["data"]["campaignByDatabaseId"]["conn"].clone()
}

fn ids(conn: &Value) -> Vec<String> {
    conn["edges"]
        .as_array()
        .map(|edges| {
            edges
                .iter()
                .map(|e| e["node"]["databaseId"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn check_page_shape(conn: &Value) {
    let edges = conn["edges"].as_array().cloned().unwrap_or_default();
    let nodes: Vec<Value> = conn["nodes"].as_array().cloned().unwrap_or_default();
    assert_eq!(edges.len(), nodes.len());
    for (e, n) in edges.iter().zip(&nodes) {
        assert_eq!(&e["node"], n, "nodes are the edges' nodes");
    }
    let info = &conn["pageInfo"];
    match (edges.first(), edges.last()) {
        (Some(first), Some(last)) => {
            assert_eq!(info["startCursor"], first["cursor"]);
            assert_eq!(info["endCursor"], last["cursor"]);
        }
        _ => {
            assert_eq!(info["startCursor"], Value::Null, "null on an empty page");
            assert_eq!(info["endCursor"], Value::Null, "null on an empty page");
        }
    }
}

/// Walks forwards with first/after and backwards with last/before, checking every step.
async fn walk(app: &TestApp, shape: &Shape, expected: &[String], size: usize) {
    let total = expected.len();
    // Forwards.
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let conn = page(app, shape, json!({ "first": size, "after": after })).await;
        check_page_shape(&conn);
        assert_eq!(conn["totalCount"], total, "totalCount exact");
        let got = ids(&conn);
        let start = seen.len();
        seen.extend(got.iter().cloned());
        assert_eq!(
            &seen[..],
            &expected[..seen.len().min(total)],
            "forward pages follow the oracle"
        );
        assert_eq!(
            conn["pageInfo"]["hasNextPage"],
            seen.len() < total,
            "hasNextPage at row {}",
            seen.len()
        );
        assert_eq!(
            conn["pageInfo"]["hasPreviousPage"],
            start > 0,
            "hasPreviousPage at row {start}"
        );
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, expected, "forward walk = oracle");

    // Backwards.
    let mut seen_back: Vec<String> = Vec::new();
    let mut before = Value::Null;
    loop {
        let conn = page(app, shape, json!({ "last": size, "before": before })).await;
        check_page_shape(&conn);
        let got = ids(&conn);
        let had_before = !before.is_null();
        let mut next = got.clone();
        next.extend(seen_back);
        seen_back = next;
        let remaining = total - seen_back.len();
        assert_eq!(
            &seen_back[..],
            &expected[remaining..],
            "backward pages follow the oracle"
        );
        assert_eq!(
            conn["pageInfo"]["hasPreviousPage"],
            remaining > 0,
            "hasPreviousPage with {remaining} left"
        );
        assert_eq!(
            conn["pageInfo"]["hasNextPage"],
            had_before && total > 0,
            "hasNextPage when paging back"
        );
        if conn["pageInfo"]["hasPreviousPage"] != true {
            break;
        }
        before = conn["pageInfo"]["startCursor"].clone();
    }
    assert_eq!(seen_back, expected, "backward walk = oracle");
}

fn cases() -> u64 {
    std::env::var("DOMAINFLOW_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

db_test!(
    async fn walks_match_the_oracle(db) {
        let seed = std::env::var("DOMAINFLOW_PROPTEST_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed);
        let mut rng = Rng(seed);
        let n = 12 + rng.below(30) as usize;
        let fixture = fixture(&db, &mut rng, n).await;
        let app = db.spawn_app().await;
        for case in 0..cases() {
            let shape = random_shape(&mut rng, &fixture);
            let size = 1 + rng.below(7) as usize;
            let expected = shape.oracle(&db).await;
            eprintln!(
                "case {case} (seed {seed:#x}): {} {} {} filter={} size={size} rows={}",
                shape.field,
                shape.order_field,
                if shape.desc { "DESC" } else { "ASC" },
                shape.filter,
                expected.len()
            );
            walk(&app, &shape, &expected, size).await;
        }
        app.stop().await;
    }
);

db_test!(
    async fn spec_edge_cases(db) {
        let mut rng = Rng(7);
        let f = fixture(&db, &mut rng, 10).await;
        let app = db.spawn_app().await;
        let shape = Shape {
            field: "generatedDomains",
            order_type: "GeneratedDomainOrder",
            filter_type: None,
            campaign: f.generation,
            table: "generated_domains",
            campaign_column: "domain_generation_campaign_id",
            order_field: "OFFSET_INDEX",
            sort_column: "offset_index",
            unique_sort: true,
            desc: false,
            filter: Value::Null,
            filter_sql: vec![],
        };
        let all = shape.oracle(&db).await;
        assert_eq!(all.len(), 10);

        // first == total: everything, no next page.
        let conn = page(&app, &shape, json!({ "first": 10 })).await;
        assert_eq!(ids(&conn), all);
        assert_eq!(conn["pageInfo"]["hasNextPage"], false);
        // Default page size (50) when neither first nor last is given.
        assert_eq!(ids(&page(&app, &shape, json!({})).await), all);
        // first: 0 is an empty page that still knows rows exist.
        let conn = page(&app, &shape, json!({ "first": 0 })).await;
        assert_eq!(ids(&conn), Vec::<String>::new());
        assert_eq!(conn["pageInfo"]["hasNextPage"], true);
        assert_eq!(conn["pageInfo"]["startCursor"], Value::Null);

        // After the last row: empty, but rows exist before it.
        let last_cursor = page(&app, &shape, json!({ "last": 1 })).await["pageInfo"]["endCursor"].clone();
        let conn = page(&app, &shape, json!({ "first": 5, "after": last_cursor })).await;
        assert_eq!(ids(&conn), Vec::<String>::new());
        assert_eq!(conn["pageInfo"]["hasPreviousPage"], true);
        assert_eq!(conn["pageInfo"]["hasNextPage"], false);
        // Before the first row: empty, rows exist after it.
        let first_cursor = page(&app, &shape, json!({ "first": 1 })).await["pageInfo"]["endCursor"].clone();
        let conn = page(&app, &shape, json!({ "last": 5, "before": first_cursor })).await;
        assert_eq!(ids(&conn), Vec::<String>::new());
        assert_eq!(conn["pageInfo"]["hasNextPage"], true);
        assert_eq!(conn["pageInfo"]["hasPreviousPage"], false);

        // after + before together: the rows strictly between.
        let c2 = page(&app, &shape, json!({ "first": 2 })).await["pageInfo"]["endCursor"].clone();
        let c7 = page(&app, &shape, json!({ "first": 7 })).await["pageInfo"]["endCursor"].clone();
        let conn = page(&app, &shape, json!({ "first": 10, "after": c2, "before": c7 })).await;
        assert_eq!(ids(&conn), all[2..6].to_vec());
        assert_eq!(conn["pageInfo"]["hasNextPage"], false, "spec: first set, window not larger than first");
        assert_eq!(conn["pageInfo"]["hasPreviousPage"], true);
        let conn = page(&app, &shape, json!({ "last": 2, "after": c2, "before": c7 })).await;
        assert_eq!(ids(&conn), all[4..6].to_vec());
        assert_eq!(conn["pageInfo"]["hasPreviousPage"], true, "more than `last` rows in the window");
        assert_eq!(conn["pageInfo"]["hasNextPage"], true, "rows follow `before`");

        // Rows inserted between page requests: nothing of the first snapshot skipped or repeated.
        let first_page = page(&app, &shape, json!({ "first": 4 })).await;
        let b = db.backend();
        for offset in [1000i64, -1] {
            if offset < 0 {
                continue;
            }
            db.exec(
                "INSERT INTO generated_domains (id, domain_generation_campaign_id, domain_name, offset_index, generated_at, created_at) VALUES ($1, $2, 'new.com', $3, $4, $4)",
                vec![Uuid::new_v4().into(), f.generation.into(), offset.into(), Timestamp(BASE).to_value(b)],
            )
            .await;
        }
        let rest = page(&app, &shape, json!({ "first": 100, "after": first_page["pageInfo"]["endCursor"] })).await;
        let mut walked = ids(&first_page);
        walked.extend(ids(&rest));
        assert_eq!(&walked[..10], &all[..], "the original rows, each once, in order");
        assert_eq!(walked.len(), 11, "plus the new row at its place");
        assert_eq!(rest["totalCount"], 11, "totalCount sees the new row");

        // An empty connection.
        let empty = insert_campaign(&db, "empty", "domain_generation", "pending", BASE).await;
        let conn = page(&app, &Shape { campaign: empty, ..shape_clone(&shape) }, json!({ "first": 3 })).await;
        assert_eq!(conn["totalCount"], 0);
        assert_eq!(conn["edges"], json!([]));
        assert_eq!(conn["pageInfo"], json!({ "hasNextPage": false, "hasPreviousPage": false, "startCursor": null, "endCursor": null }));

        // A connection that does not match the campaign's type is empty.
        let conn = page(&app, &Shape { campaign: f.dns, ..shape_clone(&shape) }, json!({ "first": 3 })).await;
        assert_eq!((conn["totalCount"].clone(), conn["edges"].clone()), (json!(0), json!([])));
        app.stop().await;
    }
);

fn shape_clone(s: &Shape) -> Shape {
    Shape {
        field: s.field,
        order_type: s.order_type,
        filter_type: s.filter_type,
        campaign: s.campaign,
        table: s.table,
        campaign_column: s.campaign_column,
        order_field: s.order_field,
        sort_column: s.sort_column,
        unique_sort: s.unique_sort,
        desc: s.desc,
        filter: s.filter.clone(),
        filter_sql: s.filter_sql.clone(),
    }
}

db_test!(
    async fn cursors_cannot_be_misused(db) {
        let mut rng = Rng(11);
        let f = fixture(&db, &mut rng, 6).await;
        let g = fixture(&db, &mut rng, 6).await;
        let app = db.spawn_app().await;
        let q = |field: &str, args: &str| {
            format!("query($c: UUID!, $cur: String) {{ campaignByDatabaseId(databaseId: $c) {{ {field}({args}) {{ edges {{ cursor }} }} }} }}")
        };
        let cursor_of = |response: &Value, field: &str| response["data"]["campaignByDatabaseId"][field]["edges"][0]["cursor"].clone();
        let first_page = "query($c: UUID!) { campaignByDatabaseId(databaseId: $c) { dnsValidationResults(first: 2) { edges { cursor } } } }";
        let r = app.graphql(first_page, json!({ "c": f.dns })).await;
        let dns_cursor = cursor_of(&r, "dnsValidationResults");
        assert!(dns_cursor.is_string(), "{r}");

        let misuse = [
            // another campaign's connection
            (q("dnsValidationResults", "first: 2, after: $cur"), g.dns, "connection"),
            // another table's connection (same campaign id cannot hold it, so use generation)
            (q("generatedDomains", "first: 2, after: $cur"), f.generation, "connection"),
            // another ordering / direction
            (q("dnsValidationResults", "first: 2, after: $cur, orderBy: {field: DOMAIN_NAME}"), f.dns, "orderBy"),
            (q("dnsValidationResults", "first: 2, after: $cur, orderBy: {direction: DESC}"), f.dns, "orderBy"),
            // another filter, including businessStatus: null vs absent
            (q("dnsValidationResults", "first: 2, after: $cur, filter: {validationStatus: VALID}"), f.dns, "filter"),
            (q("dnsValidationResults", "first: 2, after: $cur, filter: {businessStatus: null}"), f.dns, "filter"),
            (q("dnsValidationResults", "last: 2, before: $cur, filter: {businessStatus: null}"), f.dns, "filter"),
        ];
        for (query, campaign, reason) in misuse {
            let r = app.graphql(&query, json!({ "c": campaign, "cur": dns_cursor })).await;
            assert_eq!(error_code(&r), "INVALID_CURSOR", "{query} → {r}");
            let message = r["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(message.contains(reason), "{message} mentions {reason}");
            assert!(message.contains("after") || message.contains("before"), "names the argument: {message}");
        }
        let junk = [
            "".to_owned(),
            "!!!".to_owned(),
            "AAAA".to_owned(),
            dns_cursor.as_str().unwrap_or_default()[..10].to_owned(),
            base64_junk(),
        ];
        for cursor in junk {
            let r = app
                .graphql(&q("dnsValidationResults", "first: 2, after: $cur"), json!({ "c": f.dns, "cur": cursor }))
                .await;
            assert_eq!(error_code(&r), "INVALID_CURSOR", "{cursor:?} → {r}");
        }
        // Still serving normally afterwards.
        let r = app.graphql(first_page, json!({ "c": f.dns })).await;
        assert!(r.get("errors").is_none(), "{r}");
        app.stop().await;
    }
);

fn base64_junk() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b"\x01\x02{\"id\":\"1\",\"timestamp\":1642587600}")
}

db_test!(
    async fn node_and_links_resolve(db) {
        let mut rng = Rng(3);
        let f = fixture(&db, &mut rng, 5).await;
        let app = db.spawn_app().await;
        let r = app
            .graphql(
                "query($c: UUID!) { campaignByDatabaseId(databaseId: $c) { id sourceCampaign { databaseId }
                   dnsValidationResults(first: 3) { nodes { id databaseId campaign { databaseId } } } } }",
                json!({ "c": f.dns }),
            )
            .await;
        let campaign = &r["data"]["campaignByDatabaseId"];
        assert_eq!(campaign["sourceCampaign"]["databaseId"], f.generation.to_string(), "{r}");
        let node_id = campaign["dnsValidationResults"]["nodes"][0]["id"].clone();
        let db_id = campaign["dnsValidationResults"]["nodes"][0]["databaseId"].clone();
        assert_eq!(campaign["dnsValidationResults"]["nodes"][0]["campaign"]["databaseId"], f.dns.to_string());

        let r = app
            .graphql(
                "query($id: ID!, $ids: [ID!]!) {
                   node(id: $id) { id ... on DnsValidationResult { databaseId } }
                   nodes(ids: $ids) { __typename id }
                 }",
                json!({ "id": node_id, "ids": [campaign["id"], node_id] }),
            )
            .await;
        assert_eq!(r["data"]["node"]["databaseId"], db_id, "{r}");
        assert_eq!(r["data"]["nodes"][0]["__typename"], "Campaign");
        assert_eq!(r["data"]["nodes"][1]["__typename"], "DnsValidationResult");

        // A well-formed id of no row is null; a malformed one is BAD_USER_INPUT.
        use base64::Engine;
        let ghost = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("v1:GeneratedDomain:{}:{}", f.generation, Uuid::new_v4()));
        let r = app.graphql("query($id: ID!) { node(id: $id) { id } }", json!({ "id": ghost })).await;
        assert_eq!(r, json!({ "data": { "node": null } }));
        let r = app.graphql("{ node(id: \"nope\") { id } }", json!({})).await;
        assert_eq!(error_code(&r), "BAD_USER_INPUT");
        app.stop().await;
    }
);

db_test!(
    async fn jump_and_find_then_keep_paging(db) {
        let mut rng = Rng(5);
        let f = fixture(&db, &mut rng, 20).await;
        let app = db.spawn_app().await;
        let offset = {
            let row = db
                .db
                .query_one_raw(Statement::from_sql_and_values(
                    db.backend(),
                    "SELECT offset_index FROM generated_domains WHERE domain_generation_campaign_id = $1 ORDER BY offset_index LIMIT 1 OFFSET 9",
                    [f.generation.into()],
                ))
                .await
                .expect("query")
                .expect("row");
            row.try_get_by_index::<i64>(0).expect("offset")
        };
        let r = app
            .graphql(
                "query($c: UUID!, $o: Int!) { campaignByDatabaseId(databaseId: $c) {
                   findGeneratedDomain(offsetIndex: $o) { cursor node { offsetIndex } } } }",
                json!({ "c": f.generation, "o": offset }),
            )
            .await;
        let edge = &r["data"]["campaignByDatabaseId"]["findGeneratedDomain"];
        assert_eq!(edge["node"]["offsetIndex"], offset, "{r}");
        let r = app
            .graphql(
                "query($c: UUID!, $after: String) { campaignByDatabaseId(databaseId: $c) {
                   generatedDomains(first: 100, after: $after) { edges { node { offsetIndex } } pageInfo { hasPreviousPage } } } }",
                json!({ "c": f.generation, "after": edge["cursor"] }),
            )
            .await;
        let conn = &r["data"]["campaignByDatabaseId"]["generatedDomains"];
        assert_eq!(conn["edges"].as_array().map(Vec::len), Some(10), "the 10 rows after the 10th: {r}");
        assert_eq!(conn["pageInfo"]["hasPreviousPage"], true);
        let r = app
            .graphql(
                "query($c: UUID!) { campaignByDatabaseId(databaseId: $c) { findGeneratedDomain(offsetIndex: 1, domainName: \"x\") { cursor } } }",
                json!({ "c": f.generation }),
            )
            .await;
        assert_eq!(error_code(&r), "BAD_USER_INPUT");
        app.stop().await;
    }
);
