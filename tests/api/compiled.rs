//! Compiled page plans (`graphql::compiled`) against the general executor: the same request to
//! a server with plans and to one without (`GRAPHQL_COMPILED_PAGES=false`) must come back with
//! the same bytes — for generated requests (fields, aliases, arguments as literals and
//! variables, orderings, filters, cursors, bad input, several operations, GET, batches) over
//! rows whose texts need JSON escaping, on both backends — and the plans must actually answer
//! the requests they cover. Tokens and scopes, a database timeout and complexity at the limit
//! have tests of their own.

use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb};

/// The generator's choices, read from a tape of words proptest generates and shrinks: a
/// shorter tape or smaller words make a simpler request (every choice falls back to its first
/// option on 0), so a failure shrinks to a small one.
struct Tape<'a> {
    words: &'a [u32],
    at: usize,
}

impl Tape<'_> {
    fn next(&mut self) -> u64 {
        let word = self.words.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        u64::from(word)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with `percent` % chance; false for a 0 word.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 >= 100 - percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A non-empty subset of `items`, in an order of the tape's choosing.
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

/// How a generated request travels.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Transport {
    Post,
    Get,
    /// POSTed as a batch, with a second request after it.
    Batch,
}

/// One generated request.
struct Case {
    query: String,
    variables: serde_json::Map<String, Value>,
    declarations: Vec<String>,
    operation_name: Option<&'static str>,
    transport: Transport,
}

impl Case {
    /// The request's JSON body (a single request).
    fn body(&self) -> Value {
        let mut body = json!({ "query": self.query, "variables": self.variables });
        if let Some(name) = self.operation_name {
            body["operationName"] = json!(name);
        }
        body
    }

    /// True when a compiled plan may answer it: one operation, asked for by its name or none,
    /// sent alone.
    fn coverable(&self) -> bool {
        self.transport != Transport::Batch
            && !self.query.contains("query Other")
            && self
                .operation_name
                .is_none_or(|name| name == "Page" && self.query.starts_with("query Page"))
    }
}

impl Case {
    /// An argument as a literal or, sometimes, as a variable of `ty`.
    fn arg(&mut self, rng: &mut Tape, name: &str, ty: &str, literal: &str, json: Value) -> String {
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

fn node_selection(rng: &mut Tape, kind: &Kind) -> String {
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

fn generate(rng: &mut Tape, campaigns: &[(String, String)], cursors: &[String]) -> Case {
    let mut case = Case {
        query: String::new(),
        variables: serde_json::Map::new(),
        declarations: Vec::new(),
        operation_name: None,
        transport: Transport::Post,
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
    // Several operations, and the one asked for by name (or a name that is not there).
    if rng.chance(15) {
        case.query.push_str(" query Other { __typename }");
        case.operation_name = *rng.pick(&[Some("Page"), Some("Other"), None, Some("Nope")]);
    } else if rng.chance(10) {
        case.operation_name = *rng.pick(&[Some("Page"), Some("Nope")]);
    }
    case.transport = match rng.below(20) {
        0..=2 => Transport::Get,
        3 | 4 => Transport::Batch,
        _ => Transport::Post,
    };
    case
}

async fn post(app: &TestApp, query: &str, variables: &serde_json::Map<String, Value>) -> (u16, String) {
    app.post_raw(&json!({ "query": query, "variables": variables })).await
}

/// Sends a generated request as it travels: status and raw body.
async fn send(app: &TestApp, case: &Case) -> (u16, String) {
    match case.transport {
        Transport::Post => app.post_raw(&case.body()).await,
        Transport::Batch => {
            app.post_raw(&json!([case.body(), { "query": "{ campaigns(first: 1) { totalCount } }" }]))
                .await
        }
        Transport::Get => {
            let mut query = vec![("query", case.query.clone())];
            if !case.variables.is_empty() {
                query.push(("variables", Value::Object(case.variables.clone()).to_string()));
            }
            if let Some(name) = case.operation_name {
                query.push(("operationName", name.to_owned()));
            }
            let response = app
                .client
                .get(format!("{}/graphql", app.address))
                .query(&query)
                .send()
                .await
                .expect("request sent");
            let status = response.status().as_u16();
            (status, response.text().await.expect("body"))
        }
    }
}

/// Texts that need JSON escaping (quotes, backslashes, control characters) and non-ASCII
/// ones, written into every text column of some rows of the chain.
async fn write_awkward_texts(db: &TestDb, chain: &domainflow::seed::ChainIds) {
    let text = |i: usize| format!("q\"uo\\te\u{1}\u{1f}\t\n é 日本 🦀 </script> {i}");
    let json_text = |i: usize| json!({ "awkward": [text(i)], "n": i });
    db.exec(
        "UPDATE campaigns SET name = $1, description = $2, error_message = $3 WHERE id = $4",
        vec![text(0).into(), text(1).into(), text(2).into(), chain.generation.into()],
    )
    .await;
    db.exec(
        "UPDATE campaigns SET description = $1 WHERE id = $2",
        vec![text(3).into(), chain.dns.into()],
    )
    .await;
    for offset in [1i64, 5, 17] {
        db.exec(
            "UPDATE generated_domains SET domain_name = $1, tld = $2, source_keyword = $3, source_pattern = $4 \
             WHERE domain_generation_campaign_id = $5 AND offset_index = $6",
            vec![
                text(10 + offset as usize).into(),
                text(20).into(),
                text(21).into(),
                text(22).into(),
                chain.generation.into(),
                offset.into(),
            ],
        )
        .await;
    }
    let dns_ids = ids(
        db,
        "SELECT id FROM dns_validation_results WHERE dns_campaign_id = $1 ORDER BY id LIMIT 3",
        chain.dns,
    )
    .await;
    for (i, id) in dns_ids.into_iter().enumerate() {
        db.exec(
            "UPDATE dns_validation_results SET domain_name = $1, dns_records = $2 WHERE dns_campaign_id = $3 AND id = $4",
            vec![text(30 + i).into(), json_text(i).into(), chain.dns.into(), id.into()],
        )
        .await;
    }
    let http_ids = ids(
        db,
        "SELECT id FROM http_keyword_results WHERE http_keyword_campaign_id = $1 ORDER BY id LIMIT 3",
        chain.http,
    )
    .await;
    for (i, id) in http_ids.into_iter().enumerate() {
        db.exec(
            "UPDATE http_keyword_results SET domain_name = $1, page_title = $2, content_snippet = $3, content_hash = $4, \
             found_keywords = $5 WHERE http_keyword_campaign_id = $6 AND id = $7",
            vec![
                text(40 + i).into(),
                text(50).into(),
                text(51).into(),
                text(52).into(),
                json_text(i).into(),
                chain.http.into(),
                id.into(),
            ],
        )
        .await;
    }
}

/// The ids a one-parameter query returns.
async fn ids(db: &TestDb, sql: &str, campaign: uuid::Uuid) -> Vec<uuid::Uuid> {
    use sea_orm::{ConnectionTrait, Statement};
    let statement = Statement::from_sql_and_values(db.backend(), sql, vec![campaign.into()]);
    db.db
        .query_all_raw(statement)
        .await
        .expect("ids")
        .iter()
        .map(|row| row.try_get_by_index::<uuid::Uuid>(0).expect("uuid"))
        .collect()
}

async fn compiled_count(app: &TestApp) -> u64 {
    compiled_count_as(app, None).await
}

/// The requests compiled plans answered, asked with `token` (a token with the metrics scope).
async fn compiled_count_as(app: &TestApp, token: Option<&str>) -> u64 {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": "{ metrics { requests { compiled } } }" }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let reply: Value = request.send().await.expect("sent").json().await.expect("JSON");
    reply["data"]["metrics"]["requests"]["compiled"]
        .as_u64()
        .unwrap_or_else(|| panic!("compiled count: {reply}"))
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
        write_awkward_texts(&db, &chain).await;
        let compiled = db.spawn_app().await;
        let general = db.spawn_app_with(&[("GRAPHQL_COMPILED_PAGES", "false")]).await;
        let global = |id: uuid::Uuid| domainflow::graphql::node::GlobalId::campaign(id).encode();
        let missing = uuid::Uuid::from_u128(7);
        let campaigns: Vec<(String, String)> = [chain.generation, chain.dns, chain.http, missing]
            .into_iter()
            .map(|id| (global(id), id.to_string()))
            .collect();
        // Cursors of real pages, for `after`/`before` (generated from a fixed seed first).
        let mut cursors = Vec::new();
        for kind in &KINDS {
            for id in [chain.generation, chain.dns, chain.http] {
                for order in kind.orders {
                    let query = format!(
                        r#"{{ campaignByDatabaseId(databaseId: "{id}") {{ {}(first: 7, orderBy: {{field: {order}}}) {{ edges {{ cursor }} }} }} }}"#,
                        kind.field
                    );
                    harvest(&compiled.graphql(&query, json!({})).await, &mut cursors);
                }
            }
        }
        assert!(cursors.len() > 20, "{} cursors", cursors.len());

        let handle = tokio::runtime::Handle::current();
        let stats = std::sync::Mutex::new((0u64, 0u64));
        let mut runner = TestRunner::new(Config {
            cases: 160,
            failure_persistence: None,
            max_shrink_iters: 300,
            ..Config::default()
        });
        let tapes = proptest::collection::vec(proptest::prelude::any::<u32>(), 0..160);
        let result = runner.run(&tapes, |words| {
            let mut tape = Tape { words: &words, at: 0 };
            let case = generate(&mut tape, &campaigns, &cursors);
            let outcome = tokio::task::block_in_place(|| {
                handle.block_on(async {
                    // The first request of a text runs the general executor (and compiles the
                    // plan once the text proved valid); the second is the plan's to answer.
                    let first = send(&compiled, &case).await;
                    let count = compiled_count(&compiled).await;
                    let second = send(&compiled, &case).await;
                    let answered = compiled_count(&compiled).await - count;
                    let expected = send(&general, &case).await;
                    (first, second, answered, expected)
                })
            });
            let (first, second, answered, expected) = outcome;
            let describe = || {
                format!(
                    "query: {}\nvariables: {:?}\noperationName: {:?}\ntransport: {:?}\nexpected: {:?}",
                    case.query, case.variables, case.operation_name, case.transport, expected
                )
            };
            // The same bytes, whichever path answered.
            if first != expected {
                return Err(TestCaseError::fail(format!("first request: {first:?}\n{}", describe())));
            }
            if second != expected {
                return Err(TestCaseError::fail(format!("second request: {second:?}\n{}", describe())));
            }
            let value: Value = serde_json::from_str(&expected.1).expect("JSON");
            // Every case a plan covers and that succeeds is answered by the plan, except a
            // missing campaign asked with arguments that would be refused (the plan checks
            // arguments before it learns the campaign is missing); errors here are all the
            // request's own, which the general executor reports.
            let failed = expected.1.contains("\"errors\"");
            let root_null = value["data"].as_object().is_some_and(|data| data.values().all(Value::is_null));
            let expected_answer = case.coverable() && !failed;
            if !(answered == u64::from(expected_answer) || (expected_answer && root_null && answered == 0)) {
                return Err(TestCaseError::fail(format!("answered by a plan: {answered}\n{}", describe())));
            }
            let mut stats = stats.lock().expect("stats");
            stats.0 += answered;
            stats.1 += u64::from(failed);
            Ok(())
        });
        if let Err(err) = result {
            panic!("{err}");
        }
        let (answered, failed) = *stats.lock().expect("stats");
        assert!(answered > 50 && failed > 10, "{answered} answered by plans, {failed} with errors");
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
        let compiled = db.spawn_app_with(&[("API_TOKENS", tokens)]).await;
        let general = db
            .spawn_app_with(&[("API_TOKENS", tokens), ("GRAPHQL_COMPILED_PAGES", "false")])
            .await;
        let query = "query Q($c: UUID!, $n: Int) { campaignByDatabaseId(databaseId: $c) { generatedDomains(first: $n) { totalCount nodes { domainName } } } }";
        let send = |app: &TestApp, token: &'static str, variables: Value| {
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
                (response.status().as_u16(), response.text().await.expect("body"))
            }
        };
        // Byte for byte what the general executor answers, with every token and variables.
        let same = |token: &'static str, variables: Value| {
            let (compiled, general) = (&compiled, &general);
            async move {
                let ours = send(compiled, token, variables.clone()).await;
                let theirs = send(general, token, variables).await;
                assert_eq!(ours, theirs, "token {token}");
                serde_json::from_str::<Value>(&ours.1).expect("JSON")
            }
        };
        let ok = json!({ "c": chain.generation, "n": 3 });
        for _ in 0..2 {
            let reply = same("reader-token-0123456789", ok.clone()).await;
            assert_eq!(reply["data"]["campaignByDatabaseId"]["generatedDomains"]["totalCount"], 20);
        }
        let metrics = Some("scraper-token-0123456789");
        assert_eq!(compiled_count_as(&compiled, metrics).await, 1, "the second request ran the plan");
        // The same (compiled) document with a token lacking the read scope, then bad variables.
        let reply = same("scraper-token-0123456789", ok.clone()).await;
        assert_eq!(crate::helpers::error_code(&reply), "FORBIDDEN", "{reply}");
        let reply = same("reader-token-0123456789", json!({ "c": chain.generation, "n": "3" })).await;
        assert_eq!(crate::helpers::error_code(&reply), "BAD_USER_INPUT", "{reply}");
        let reply = same("reader-token-0123456789", json!({ "n": 3 })).await;
        assert_eq!(crate::helpers::error_code(&reply), "BAD_USER_INPUT", "{reply}");
        let reply = same("reader-token-0123456789", json!({ "c": chain.generation, "n": -1 })).await;
        assert_eq!(crate::helpers::error_code(&reply), "BAD_USER_INPUT", "{reply}");
        let reply = same("reader-token-0123456789", json!({ "c": chain.generation, "n": 100_000 })).await;
        assert_eq!(crate::helpers::error_code(&reply), "LIMIT_EXCEEDED", "{reply}");
        let reply = same("nobody-0123456789", ok).await;
        assert_eq!(crate::helpers::error_code(&reply), "UNAUTHENTICATED", "{reply}");
        assert_eq!(compiled_count_as(&compiled, metrics).await, 1, "no failed request was a plan's");
        compiled.stop().await;
        general.stop().await;
    }
);

db_test!(
    async fn complexity_at_the_limit_is_decided_as_the_general_executor_decides(db) {
        let chain = db.seed_chain(300).await;
        // campaignByDatabaseId (1) + the connection (10 + n × (nodes + domainName = 2)).
        let limit = 411;
        let settings = [("GRAPHQL_MAX_COMPLEXITY", "411")];
        let compiled = db.spawn_app_with(&settings).await;
        let general = db
            .spawn_app_with(&[settings[0], ("GRAPHQL_COMPILED_PAGES", "false")])
            .await;
        let query = "query($c: UUID!, $n: Int) { campaignByDatabaseId(databaseId: $c) { generatedDomains(first: $n) { nodes { domainName } } } }";
        let at_limit = (limit - 11) / 2;
        let mut answered = 0;
        for n in [at_limit - 1, at_limit, at_limit + 1, at_limit, at_limit + 2, 1000] {
            let variables = json!({ "c": chain.generation, "n": n });
            let before = compiled_count(&compiled).await;
            let ours = post(&compiled, query, variables.as_object().expect("object")).await;
            answered += compiled_count(&compiled).await - before;
            let theirs = post(&general, query, variables.as_object().expect("object")).await;
            assert_eq!(ours, theirs, "first: {n}");
            let value: Value = serde_json::from_str(&ours.1).expect("JSON");
            if n > at_limit {
                assert_eq!(crate::helpers::error_code(&value), "LIMIT_EXCEEDED", "first: {n}: {value}");
            } else {
                assert!(value.get("errors").is_none(), "first: {n}: {value}");
            }
        }
        // The first text ran the general executor; the valid ones after it ran the plan.
        assert_eq!(answered, 2, "plans answered the requests within the limit");
        compiled.stop().await;
        general.stop().await;
    }
);

db_test!(
    async fn a_database_failure_inside_a_plan_is_answered_as_the_general_executor_answers_it(db) {
        let chain = db.seed_chain(20).await;
        // A short statement timeout, so a locked table fails the statement quickly.
        let settings = [("DB_STATEMENT_TIMEOUT_SECONDS", "1"), ("DB_ACQUIRE_TIMEOUT_SECONDS", "1")];
        let compiled = db.spawn_app_with(&settings).await;
        let general = db
            .spawn_app_with(&[settings[0], settings[1], ("GRAPHQL_COMPILED_PAGES", "false")])
            .await;
        let queries = [
            // One connection only: one statement with the campaign's type as its guard.
            "query($c: UUID!) { campaignByDatabaseId(databaseId: $c) { generatedDomains(first: 3) { totalCount nodes { domainName } } } }",
            // The campaign first, then the page.
            "query($c: UUID!) { campaignByDatabaseId(databaseId: $c) { name generatedDomains(first: 3) { nodes { domainName } } } }",
        ];
        let variables = json!({ "c": chain.generation });
        let variables = variables.as_object().expect("object");
        for query in queries {
            // Compiled while the database answers.
            post(&compiled, query, variables).await;
            let broken = break_rows(&db).await;
            let before = compiled_count(&compiled).await;
            let ours = post(&compiled, query, variables).await;
            let answered = compiled_count(&compiled).await - before;
            let theirs = post(&general, query, variables).await;
            mend(&db, broken).await;
            assert_eq!(ours, theirs, "{query}");
            let value: Value = serde_json::from_str(&ours.1).expect("JSON");
            let code = crate::helpers::error_code(&value);
            assert!(code == "TIMEOUT" || code == "INTERNAL", "{value}");
            assert_eq!(value["data"]["campaignByDatabaseId"], Value::Null, "{value}");
            assert_eq!(value["errors"][0]["path"], json!(["campaignByDatabaseId", "generatedDomains"]), "{value}");
            // The plan answered the failure itself: its database work ran once.
            assert_eq!(answered, 1, "{query}");
            // And the database serves again.
            wait_ready(&compiled).await;
            wait_ready(&general).await;
        }
        compiled.stop().await;
        general.stop().await;
    }
);

/// Makes reading generated domains fail: PostgreSQL locks the table (the statement times out:
/// TIMEOUT), SQLite loses it for a moment (renamed away: a database error, INTERNAL). Returns the
/// connection that did it.
async fn break_rows(db: &TestDb) -> sea_orm::DatabaseConnection {
    use sea_orm::ConnectionTrait;
    let other = db.another_connection().await;
    let sql = match db.backend() {
        sea_orm::DbBackend::Postgres => "BEGIN; LOCK TABLE generated_domains IN ACCESS EXCLUSIVE MODE",
        _ => "ALTER TABLE generated_domains RENAME TO generated_domains_away",
    };
    for statement in sql.split("; ") {
        other.execute_unprepared(statement).await.expect(statement);
    }
    other
}

async fn mend(db: &TestDb, other: sea_orm::DatabaseConnection) {
    use sea_orm::ConnectionTrait;
    match db.backend() {
        sea_orm::DbBackend::Postgres => {
            other.execute_unprepared("ROLLBACK").await.expect("rollback");
        }
        _ => {
            other
                .execute_unprepared("ALTER TABLE generated_domains_away RENAME TO generated_domains")
                .await
                .expect("rename back");
        }
    }
    other.close().await.expect("close");
}

/// Waits until /readyz says the database answers again.
async fn wait_ready(app: &TestApp) {
    for _ in 0..100 {
        if app.get("/readyz").await.0 == 200 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the server did not become ready again");
}

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
