//! Compiled page plans (`graphql::compiled`) against the general executor: the same request to
//! a server with plans and to one without (`GRAPHQL_COMPILED_PAGES=false`) must come back with
//! the same bytes — for hundreds of generated queries (fields, aliases, arguments as literals
//! and variables, orderings, filters, cursors, bad input) on both backends — and the plans
//! must actually answer the requests they cover.

use serde_json::{Value, json};

use crate::helpers::TestApp;

/// A small deterministic generator (xorshift), so a failing case can be reproduced by seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A non-empty random subset of `items`, in random order.
    fn subset<'a>(&mut self, items: &[&'a str]) -> Vec<&'a str> {
        let mut chosen: Vec<&str> = items.iter().copied().filter(|_| self.chance(40)).collect();
        if chosen.is_empty() {
            chosen.push(*self.pick(items));
        }
        for i in (1..chosen.len()).rev() {
            let j = self.below(i + 1);
            chosen.swap(i, j);
        }
        chosen
    }
}

const CAMPAIGN_FIELDS: &[&str] = &[
    "__typename",
    "id",
    "databaseId",
    "name",
    "campaignType",
    "status",
    "sourceCampaignDatabaseId",
    "description",
    "totalItems",
    "processedItems",
    "progressPercent",
    "errorMessage",
    "startedAt",
    "completedAt",
    "createdAt",
    "updatedAt",
];

struct Kind {
    field: &'static str,
    order_type: &'static str,
    filter_type: Option<&'static str>,
    orders: &'static [&'static str],
    filters: &'static [&'static str],
    node_fields: &'static [&'static str],
}

const KINDS: [Kind; 3] = [
    Kind {
        field: "generatedDomains",
        order_type: "GeneratedDomainOrder",
        filter_type: None,
        orders: &["OFFSET_INDEX", "CREATED_AT", "DOMAIN_NAME"],
        filters: &[],
        node_fields: &[
            "__typename",
            "id",
            "databaseId",
            "campaignDatabaseId",
            "domainName",
            "offsetIndex",
            "tld",
            "sourceKeyword",
            "sourcePattern",
            "generatedAt",
            "createdAt",
        ],
    },
    Kind {
        field: "dnsValidationResults",
        order_type: "DnsValidationResultOrder",
        filter_type: Some("DnsValidationResultFilter"),
        orders: &["CREATED_AT", "DOMAIN_NAME"],
        filters: &[
            "{}",
            "{validationStatus: VALID}",
            "{validationStatus: INVALID}",
            "{businessStatus: null}",
            "{businessStatus: LEAD_CANDIDATE}",
            "{validationStatus: VALID, businessStatus: VALID_DNS}",
            "{validationStatus: null}",
        ],
        node_fields: &[
            "__typename",
            "id",
            "databaseId",
            "campaignDatabaseId",
            "generatedDomainDatabaseId",
            "domainName",
            "validationStatus",
            "businessStatus",
            "dnsRecords",
            "attempts",
            "lastCheckedAt",
            "createdAt",
        ],
    },
    Kind {
        field: "httpKeywordResults",
        order_type: "HttpKeywordResultOrder",
        filter_type: Some("HttpKeywordResultFilter"),
        orders: &["CREATED_AT", "DOMAIN_NAME"],
        filters: &["{}", "{validationStatus: VALID}", "{validationStatus: INVALID}"],
        node_fields: &[
            "__typename",
            "id",
            "databaseId",
            "campaignDatabaseId",
            "dnsResultDatabaseId",
            "domainName",
            "validationStatus",
            "httpStatusCode",
            "pageTitle",
            "contentSnippet",
            "foundKeywords",
            "contentHash",
            "attempts",
            "lastCheckedAt",
            "createdAt",
        ],
    },
];

/// A GraphQL literal filter as the JSON a variable would carry.
fn filter_json(literal: &str) -> Value {
    let inner = literal.trim_start_matches('{').trim_end_matches('}').trim();
    let mut object = serde_json::Map::new();
    for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = part.split_once(':').expect("name: value");
        let value = value.trim();
        object.insert(
            name.trim().to_owned(),
            if value == "null" { Value::Null } else { json!(value) },
        );
    }
    Value::Object(object)
}

/// Builds one generated request: (query, variables).
struct Case {
    query: String,
    variables: serde_json::Map<String, Value>,
    declarations: Vec<String>,
}

impl Case {
    /// An argument as a literal or, sometimes, as a variable of `ty`.
    fn arg(&mut self, rng: &mut Rng, name: &str, ty: &str, literal: &str, json: Value) -> String {
        if rng.chance(50) {
            let var = format!("v{}", self.declarations.len());
            self.declarations.push(format!("${var}: {ty}"));
            self.variables.insert(var.clone(), json);
            format!("{name}: ${var}")
        } else {
            format!("{name}: {literal}")
        }
    }
}

fn node_selection(rng: &mut Rng, kind: &Kind) -> String {
    let fields = rng.subset(kind.node_fields);
    let mut out = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        if rng.chance(10) {
            out.push(format!("a{i}: {field}"));
        } else {
            out.push((*field).to_owned());
        }
    }
    out.join(" ")
}

fn generate(rng: &mut Rng, campaigns: &[(String, String)], cursors: &[String]) -> Case {
    let mut case = Case {
        query: String::new(),
        variables: serde_json::Map::new(),
        declarations: Vec::new(),
    };
    let (global, database) = rng.pick(campaigns).clone();
    let root = if rng.chance(50) {
        let arg = case.arg(rng, "id", "ID!", &format!("\"{global}\""), json!(global));
        format!("campaign({arg})")
    } else {
        let arg = case.arg(rng, "databaseId", "UUID!", &format!("\"{database}\""), json!(database));
        format!("campaignByDatabaseId({arg})")
    };
    let mut inside = Vec::new();
    if rng.chance(50) {
        inside.extend(rng.subset(CAMPAIGN_FIELDS).into_iter().map(str::to_owned));
    }
    let connections = 1 + rng.below(2);
    for c in 0..connections {
        let kind = rng.pick(&KINDS);
        let mut args = Vec::new();
        match rng.below(10) {
            0..=4 => {
                let n = *rng.pick(&[0, 1, 3, 7, 50]);
                args.push(case.arg(rng, "first", "Int", &n.to_string(), json!(n)));
            }
            5 | 6 => {
                let n = *rng.pick(&[1, 4, 9]);
                args.push(case.arg(rng, "last", "Int", &n.to_string(), json!(n)));
            }
            7 => {
                let n = *rng.pick(&[-1, 100_000]);
                args.push(case.arg(rng, "first", "Int", &n.to_string(), json!(n)));
            }
            _ => {}
        }
        if !cursors.is_empty() && rng.chance(40) {
            let cursor = rng.pick(cursors).clone();
            let name = if rng.chance(70) { "after" } else { "before" };
            args.push(case.arg(rng, name, "String", &format!("\"{cursor}\""), json!(cursor)));
        } else if rng.chance(5) {
            args.push(case.arg(rng, "after", "String", "\"not-a-cursor\"", json!("not-a-cursor")));
        }
        if rng.chance(60) {
            let field = *rng.pick(kind.orders);
            let direction = *rng.pick(&["ASC", "DESC"]);
            let literal = if rng.chance(30) {
                format!("{{field: {field}}}")
            } else {
                format!("{{field: {field}, direction: {direction}}}")
            };
            let value = if literal.contains("direction") {
                json!({"field": field, "direction": direction})
            } else {
                json!({"field": field})
            };
            args.push(case.arg(rng, "orderBy", kind.order_type, &literal, value));
        }
        if let Some(filter_type) = kind.filter_type
            && rng.chance(60)
        {
            let literal = *rng.pick(kind.filters);
            args.push(case.arg(rng, "filter", filter_type, literal, filter_json(literal)));
        }
        let mut parts = Vec::new();
        for part in rng.subset(&["edges", "nodes", "pageInfo", "totalCount", "__typename"]) {
            parts.push(match part {
                "edges" => {
                    let mut edge = Vec::new();
                    for item in rng.subset(&["cursor", "node", "__typename"]) {
                        edge.push(match item {
                            "node" => format!("node {{ {} }}", node_selection(rng, kind)),
                            other => other.to_owned(),
                        });
                    }
                    format!("edges {{ {} }}", edge.join(" "))
                }
                "nodes" => format!("nodes {{ {} }}", node_selection(rng, kind)),
                "pageInfo" => format!(
                    "pageInfo {{ {} }}",
                    rng.subset(&[
                        "hasNextPage",
                        "hasPreviousPage",
                        "startCursor",
                        "endCursor",
                        "__typename"
                    ])
                    .join(" ")
                ),
                other => other.to_owned(),
            });
        }
        let args = if args.is_empty() {
            String::new()
        } else {
            format!("({})", args.join(", "))
        };
        inside.push(format!("c{c}: {}{args} {{ {} }}", kind.field, parts.join(" ")));
    }
    let alias = if rng.chance(30) { "root: " } else { "" };
    let body = format!("{{ {alias}{root} {{ {} }} }}", inside.join(" "));
    case.query = if case.declarations.is_empty() && rng.chance(50) {
        body
    } else {
        format!("query Page({}) {body}", case.declarations.join(", ")).replace("query Page() ", "query Page ")
    };
    case
}

async fn post(app: &TestApp, query: &str, variables: &serde_json::Map<String, Value>) -> (u16, String) {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

async fn compiled_count(app: &TestApp) -> u64 {
    app.graphql("{ metrics { requests { compiled } } }", json!({})).await["data"]["metrics"]["requests"]["compiled"]
        .as_u64()
        .expect("compiled count")
}

/// Harvests the cursors of a response (start/end cursors and edge cursors).
fn harvest(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for (key, value) in object {
                if let (true, Some(cursor)) = (key.ends_with("ursor") || key == "cursor", value.as_str()) {
                    if into.len() < 200 && !into.iter().any(|c| c == cursor) {
                        into.push(cursor.to_owned());
                    }
                } else {
                    harvest(value, into);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| harvest(item, into)),
        _ => {}
    }
}

db_test!(
    async fn compiled_plans_answer_exactly_what_the_general_executor_answers(db) {
        let chain = db.seed_chain(120).await;
        let compiled = db.spawn_app().await;
        let general = db.spawn_app_with(&[("GRAPHQL_COMPILED_PAGES", "false")]).await;
        let global = |id: uuid::Uuid| {
            domainflow::graphql::node::GlobalId::campaign(id).encode()
        };
        let missing = uuid::Uuid::from_u128(7);
        let campaigns: Vec<(String, String)> = [chain.generation, chain.dns, chain.http, missing]
            .into_iter()
            .map(|id| (global(id), id.to_string()))
            .collect();

        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut cursors = Vec::new();
        let (mut data, mut errors) = (0u64, 0);
        let before = compiled_count(&compiled).await;
        for i in 0..300 {
            let case = generate(&mut rng, &campaigns, &cursors);
            // The first request of a text compiles its plan; the second runs it. Compared as
            // JSON values: async-graphql's general executor does not keep the selection's order
            // of sibling connection fields (they resolve concurrently); the plans always do.
            let first = post(&compiled, &case.query, &case.variables).await;
            let count = compiled_count(&compiled).await;
            let second = post(&compiled, &case.query, &case.variables).await;
            let answered = compiled_count(&compiled).await - count;
            let expected = post(&general, &case.query, &case.variables).await;
            let parse = |(status, body): &(u16, String)| -> (u16, Value) {
                (*status, serde_json::from_str(body).expect("JSON"))
            };
            assert_eq!(
                parse(&first),
                parse(&expected),
                "case {i}, first request\nquery: {}\nvariables: {:?}",
                case.query,
                case.variables
            );
            assert_eq!(
                parse(&second),
                parse(&expected),
                "case {i}, compiled\nquery: {}\nvariables: {:?}",
                case.query,
                case.variables
            );
            let value: Value = serde_json::from_str(&expected.1).expect("JSON");
            // Every successful case is one the plans cover, except a missing campaign asked with
            // arguments that would be refused (the plan validates them before it learns the
            // campaign is missing); every error comes from the general executor.
            let failed = value.get("errors").is_some();
            let root_null = value["data"].as_object().is_some_and(|data| data.values().all(Value::is_null));
            assert!(
                answered == u64::from(!failed) || (!failed && root_null && answered == 0),
                "case {i}: answered by a plan?\nquery: {}\nvariables: {:?}\nanswer: {value}",
                case.query,
                case.variables
            );
            if failed {
                errors += 1;
            } else {
                data += answered;
            }
            harvest(&value, &mut cursors);
        }
        assert_eq!(compiled_count(&compiled).await - before, data);
        assert!(data > 150 && errors > 20, "{data} answers with data, {errors} with errors");
        assert_eq!(compiled_count(&general).await, 0);
        compiled.stop().await;
        general.stop().await;
    }
);

db_test!(
    async fn shapes_plans_do_not_cover_go_to_the_general_executor(db) {
        let chain = db.seed_chain(20).await;
        let app = db.spawn_app().await;
        let id = chain.generation.to_string();
        let uncovered = [
            // fragments, directives, links to other objects, other roots, two roots
            "query Q($c: UUID!) { campaignByDatabaseId(databaseId: $c) { ...F } } fragment F on Campaign { name }",
            "query Q($c: UUID!) { campaignByDatabaseId(databaseId: $c) { name @include(if: true) } }",
            "query Q($c: UUID!) { campaignByDatabaseId(databaseId: $c) { generatedDomains(first: 2) { nodes { campaign { name } } } } }",
            "query Q($c: UUID!) { campaignByDatabaseId(databaseId: $c) { params } }",
            "query Q($c: UUID!) { a: campaignByDatabaseId(databaseId: $c) { name } b: campaignByDatabaseId(databaseId: $c) { name } }",
            "query Q($c: UUID!) { campaignByDatabaseId(databaseId: $c) { name name } }",
            "query Q($c: UUID!) { campaignByDatabaseId(databaseId: $c) { ... on Campaign { name } } }",
            // a nullable variable where the argument is non-null, an unused variable
            "query Q($c: UUID) { campaignByDatabaseId(databaseId: $c) { name } }",
            "query Q($c: UUID!, $x: Int) { campaignByDatabaseId(databaseId: $c) { name } }",
        ];
        for query in uncovered {
            let before = compiled_count(&app).await;
            for _ in 0..2 {
                app.graphql(query, json!({ "c": id })).await;
            }
            assert_eq!(compiled_count(&app).await, before, "{query}");
        }
        app.stop().await;
    }
);

db_test!(
    async fn compiled_plans_check_scopes_and_variables_on_every_request(db) {
        let chain = db.seed_chain(20).await;
        let tokens = "reader:read:reader-token-0123456789, scraper:metrics:scraper-token-0123456789";
        let app = db.spawn_app_with(&[("API_TOKENS", tokens)]).await;
        let query = "query Q($c: UUID!, $n: Int) { campaignByDatabaseId(databaseId: $c) { generatedDomains(first: $n) { totalCount nodes { domainName } } } }";
        let send = |token: &'static str, variables: Value| {
            let client = app.client.clone();
            let url = format!("{}/graphql", app.address);
            async move {
                let response = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({ "query": query, "variables": variables }))
                    .send()
                    .await
                    .expect("sent");
                response.json::<Value>().await.expect("JSON")
            }
        };
        let ok = json!({ "c": chain.generation, "n": 3 });
        for _ in 0..2 {
            let reply = send("reader-token-0123456789", ok.clone()).await;
            assert_eq!(reply["data"]["campaignByDatabaseId"]["generatedDomains"]["totalCount"], 20);
        }
        // The same (compiled) document with a token lacking the read scope, then bad variables.
        let reply = send("scraper-token-0123456789", ok.clone()).await;
        assert_eq!(crate::helpers::error_code(&reply), "FORBIDDEN", "{reply}");
        let reply = send("reader-token-0123456789", json!({ "c": chain.generation, "n": "3" })).await;
        assert!(reply["errors"].is_array(), "{reply}");
        let reply = send("reader-token-0123456789", json!({ "n": 3 })).await;
        assert!(reply["errors"].is_array(), "{reply}");
        let reply = send("reader-token-0123456789", json!({ "c": chain.generation, "n": -1 })).await;
        assert_eq!(crate::helpers::error_code(&reply), "BAD_USER_INPUT", "{reply}");
        let reply = send("reader-token-0123456789", json!({ "c": chain.generation, "n": 100_000 })).await;
        assert_eq!(crate::helpers::error_code(&reply), "LIMIT_EXCEEDED", "{reply}");
        app.stop().await;
    }
);

db_test!(
    async fn compiled_plans_never_answer_from_a_cache_of_results(db) {
        let chain = db.seed_chain(20).await;
        let app = db.spawn_app().await;
        let query = "query Q($c: UUID!) { campaignByDatabaseId(databaseId: $c) { generatedDomains(last: 1) { totalCount nodes { domainName offsetIndex } } } }";
        let variables = json!({ "c": chain.generation });
        let before = compiled_count(&app).await;
        let first = app.graphql(query, variables.clone()).await;
        let again = app.graphql(query, variables.clone()).await;
        assert_eq!(first, again);
        let connection = &again["data"]["campaignByDatabaseId"]["generatedDomains"];
        assert_eq!(connection["totalCount"], 20);
        // A row written by another program shows up in the next answer of the same plan.
        db.exec(
            "INSERT INTO generated_domains (id, domain_generation_campaign_id, domain_name, offset_index, generated_at, created_at) \
             VALUES ($1, $2, 'zz-new.example', 1000, $3, $3)",
            vec![
                uuid::Uuid::from_u128(42).into(),
                chain.generation.into(),
                domainflow::entity::Timestamp::now().to_value(db.backend()),
            ],
        )
        .await;
        let after = app.graphql(query, variables).await;
        let connection = &after["data"]["campaignByDatabaseId"]["generatedDomains"];
        assert_eq!(connection["totalCount"], 21, "{after}");
        assert_eq!(connection["nodes"][0]["domainName"], "zz-new.example", "{after}");
        assert_eq!(compiled_count(&app).await - before, 2, "the second and third requests ran the plan");
        app.stop().await;
    }
);

db_test!(
    async fn rows_read_by_position_equal_rows_read_by_name(db) {
        use domainflow::entity::{campaign, generated_domain};
        use domainflow::graphql::campaign_rows::{self, GeneratedDomainOrder};
        use domainflow::pagination::{PageArgs, fetch_page};
        use sea_orm::{EntityTrait, QueryOrder};

        let chain = db.seed_chain(150).await;
        let generation = campaign::Entity::find_by_id(chain.generation)
            .one(&db.db)
            .await
            .expect("query")
            .expect("campaign");
        let request = campaign_rows::generated_domains(&generation, GeneratedDomainOrder::default(), true);
        let args = PageArgs {
            first: Some(1000),
            ..PageArgs::default()
        };
        let window = args
            .validate(1000, &request.scope(), domainflow::pagination::SortKind::Int)
            .expect("valid");
        let page = fetch_page(&db.db, &request.keyset(), &window).await.expect("page");
        let by_position: Vec<generated_domain::Model> = page.rows.into_iter().map(|(model, _)| model).collect();
        let by_name = generated_domain::Entity::find()
            .order_by_asc(generated_domain::Column::OffsetIndex)
            .all(&db.db)
            .await
            .expect("rows");
        assert_eq!(by_position.len(), 150);
        assert_eq!(by_position, by_name);

        // Every table read by position: each row of the whole chain, by position (which must
        // apply) and by name, must be the same model — NULLs, enums, JSON and times included.
        async fn same_rows<E>(db: &crate::helpers::TestDb, expected: usize) -> Vec<E::Model>
        where
            E: EntityTrait,
            E::Model: domainflow::entity::DecodeRow + PartialEq + std::fmt::Debug,
        {
            use domainflow::entity::DecodeRow;
            use sea_orm::{ConnectionTrait, QueryTrait};
            let statement = E::find().build(db.backend());
            let rows = db.db.query_all_raw(statement).await.expect("rows");
            assert_eq!(rows.len(), expected);
            rows.iter()
                .map(|row| {
                    let by_position = E::Model::read_by_position(row)
                        .expect("read by position")
                        .expect("decodes");
                    let by_name = <E::Model as sea_orm::FromQueryResult>::from_query_result(row, "").expect("by name");
                    assert_eq!(by_position, by_name);
                    by_position
                })
                .collect()
        }
        use domainflow::entity::{dns_validation_result, http_keyword_result};
        same_rows::<generated_domain::Entity>(&db, 150).await;
        let dns = same_rows::<dns_validation_result::Entity>(&db, 150).await;
        assert!(dns.iter().any(|r| r.business_status.is_none()) && dns.iter().any(|r| r.business_status.is_some()));
        assert!(dns.iter().any(|r| r.dns_records.is_some()), "JSON values are compared");
        // A row with every nullable column NULL (the seed fills them all in).
        db.exec(
            "INSERT INTO http_keyword_results (http_keyword_campaign_id, id, domain_name, validation_status, created_at) \
             VALUES ($1, $2, 'nulls.example', 'pending', $3)",
            vec![
                chain.http.into(),
                uuid::Uuid::from_u128(7).into(),
                domainflow::entity::Timestamp::now().to_value(db.backend()),
            ],
        )
        .await;
        let http = db.scalar("SELECT COUNT(*) FROM http_keyword_results").await as usize;
        let http = same_rows::<http_keyword_result::Entity>(&db, http).await;
        assert!(!http.is_empty());
        assert!(http.iter().any(|r| r.found_keywords.is_some()), "JSON values are compared");
        assert!(
            http.iter().any(|r| r.http_status_code.is_some()) && http.iter().any(|r| r.http_status_code.is_none()),
            "NULL and non-NULL integers are compared"
        );
    }
);
