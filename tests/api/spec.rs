//! The GraphQL spec's answers, checked on the raw bytes clients read, through HTTP on both
//! backends, with compiled page plans on and off: result maps in selection order, errors in
//! document order, null (and null propagation) for failed fields, request errors for
//! variables that do not coerce, every client mistake with a client code, and
//! OverlappingFieldsCanBeMerged through fragments. (GraphQL over HTTP: `http_spec`.)

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, error_code};

/// POSTs a request and returns the raw body.
async fn raw(app: &TestApp, query: &str, variables: Value) -> String {
    app.post_raw(&json!({ "query": query, "variables": variables })).await.1
}

/// Asserts that `keys` appear in `body` as object keys in this order.
#[track_caller]
fn in_order(body: &str, keys: &[&str]) {
    let mut from = 0;
    for key in keys {
        let quoted = format!("\"{key}\":");
        match body[from..].find(&quoted) {
            Some(at) => from += at + quoted.len(),
            None => panic!("{quoted} missing after byte {from} (or out of order) in {body}"),
        }
    }
}

/// Both servers: compiled page plans on (the default) and off.
async fn both(db: &TestDb) -> [TestApp; 2] {
    [
        db.spawn_app().await,
        db.spawn_app_with(&[("GRAPHQL_COMPILED_PAGES", "false")]).await,
    ]
}

db_test!(
    async fn result_maps_follow_the_selection_order(db) {
        let chain = db.seed_chain(20).await;
        let g = chain.generation;
        let global = domainflow::graphql::node::GlobalId::campaign(g).encode();
        let cases: Vec<(String, Vec<&str>)> = vec![
            (
                format!(r#"{{ campaignByDatabaseId(databaseId: "{g}") {{ generatedDomains(first: 2) {{ totalCount }} name }} }}"#),
                vec!["campaignByDatabaseId", "generatedDomains", "totalCount", "name"],
            ),
            (
                format!(
                    r#"{{ z: campaignByDatabaseId(databaseId: "{g}") {{ status generatedDomains(first: 1) {{ pageInfo {{ endCursor hasNextPage }} nodes {{ offsetIndex domainName }} totalCount }} name }} a: campaigns(first: 1) {{ totalCount nodes {{ name }} }} m: metrics {{ pool {{ configuredMax }} }} }}"#
                ),
                vec![
                    "z", "status", "generatedDomains", "pageInfo", "endCursor", "hasNextPage", "nodes", "offsetIndex",
                    "domainName", "totalCount", "name", "a", "totalCount", "nodes", "name", "m", "pool", "configuredMax",
                ],
            ),
            // Fields merged from fragments come where they are first collected.
            (
                format!(
                    r#"{{ campaignByDatabaseId(databaseId: "{g}") {{ ... on Campaign {{ status }} name ...F totalItems }} }} fragment F on Campaign {{ processedItems name }}"#
                ),
                vec!["status", "name", "processedItems", "totalItems"],
            ),
            // An interface: fragments apply by the runtime type.
            (
                format!(
                    r#"{{ node(id: "{global}") {{ ... on GeneratedDomain {{ domainName }} id ... on Campaign {{ name status }} __typename ... on Node {{ id }} }} }}"#
                ),
                vec!["node", "id", "name", "status", "__typename"],
            ),
            // Skipped fields leave no key; included ones keep their place.
            (
                format!(
                    r#"query($s: Boolean = true) {{ campaignByDatabaseId(databaseId: "{g}") {{ totalItems @skip(if: $s) name status @include(if: $s) }} }}"#
                ),
                vec!["name", "status"],
            ),
        ];
        for app in both(&db).await {
            for (query, keys) in &cases {
                let first = raw(&app, query, json!({})).await;
                in_order(&first, keys);
                assert!(!first.contains("\"errors\""), "{first}");
                // The same bytes every time, whichever path answers.
                for _ in 0..6 {
                    assert_eq!(raw(&app, query, json!({})).await, first, "{query}");
                }
            }
            let skipped = raw(&app, &cases[4].0, json!({})).await;
            assert!(!skipped.contains("totalItems"), "{skipped}");
            app.stop().await;
        }
    }
);

db_test!(
    async fn failed_fields_are_null_and_errors_come_in_document_order(db) {
        let chain = db.seed_chain(5).await;
        let g = chain.generation;
        for app in both(&db).await {
            // A nullable field that fails is null, with its error.
            let body = raw(&app, r#"{ campaigns(first: 1) { nodes { name } } node(id: "hello") { id } }"#, json!({})).await;
            let value: Value = serde_json::from_str(&body).expect("JSON");
            assert_eq!(value["data"]["node"], Value::Null, "{body}");
            assert!(value["data"].as_object().expect("data").contains_key("node"), "{body}");
            assert_eq!(value["errors"][0]["path"], json!(["node"]));
            in_order(&body, &["data", "campaigns", "node", "errors"]);

            // A non-null connection that fails makes its campaign null (the nearest nullable
            // parent), its siblings' values are gone with it.
            let query = format!(
                r#"{{ campaignByDatabaseId(databaseId: "{g}") {{ name generatedDomains(after: "junk") {{ totalCount }} }} campaigns(first: 1) {{ totalCount }} }}"#
            );
            let value: Value = serde_json::from_str(&raw(&app, &query, json!({})).await).expect("JSON");
            assert_eq!(value["data"]["campaignByDatabaseId"], Value::Null, "{value}");
            assert_eq!(value["data"]["campaigns"]["totalCount"], 3, "{value}");
            assert_eq!(error_code(&value), "INVALID_CURSOR");
            assert_eq!(value["errors"][0]["path"], json!(["campaignByDatabaseId", "generatedDomains"]));

            // A non-null root field that fails takes all of `data` with it.
            let value: Value = serde_json::from_str(
                &raw(&app, r#"{ campaigns(first: 1) { totalCount } nodes(ids: ["junk"]) { id } }"#, json!({})).await,
            )
            .expect("JSON");
            assert_eq!(value["data"], Value::Null, "{value}");
            assert_eq!(value["errors"][0]["path"], json!(["nodes"]), "{value}");

            // Errors in the order of their fields in the document, every time.
            let query = format!(
                r#"{{ z: node(id: "x1") {{ id }} c: campaignByDatabaseId(databaseId: "{g}") {{ generatedDomains(first: -1) {{ totalCount }} }} a: node(id: "x2") {{ id }} b: campaignByDatabaseId(databaseId: "{g}") {{ generatedDomains(after: "x3") {{ totalCount }} }} }}"#
            );
            let first = raw(&app, &query, json!({})).await;
            let value: Value = serde_json::from_str(&first).expect("JSON");
            let paths: Vec<&Value> = value["errors"].as_array().expect("errors").iter().map(|e| &e["path"][0]).collect();
            assert_eq!(paths, [&json!("z"), &json!("c"), &json!("a"), &json!("b")], "{first}");
            in_order(&first, &["z", "c", "a", "b"]);
            for _ in 0..6 {
                assert_eq!(raw(&app, &query, json!({})).await, first);
            }
            app.stop().await;
        }
    }
);

db_test!(
    async fn variables_that_do_not_coerce_are_request_errors(db) {
        let chain = db.seed_chain(5).await;
        let g = chain.generation.to_string();
        let page = "query($c: UUID!, $a: String, $o: GeneratedDomainOrder) { campaignByDatabaseId(databaseId: $c) { name generatedDomains(after: $a, orderBy: $o) { totalCount } } }";
        let dns = "query($c: UUID!, $f: DnsValidationResultFilter) { campaignByDatabaseId(databaseId: $c) { dnsValidationResults(filter: $f) { totalCount } } }";
        let unknown = "00000000-0000-0000-0000-000000000000";
        let cases = [
            (page, json!({ "c": 12 })),
            (page, json!({ "c": "not-a-uuid" })),
            (page, json!({})),
            (page, json!({ "c": null })),
            (page, json!({ "c": unknown, "a": 5 })),
            (page, json!({ "c": g, "o": "DOMAIN_NAME" })),
            (page, json!({ "c": g, "o": ["DOMAIN_NAME"] })),
            (page, json!({ "c": g, "o": { "field": "NOPE" } })),
            (page, json!({ "c": g, "o": { "field": "DOMAIN_NAME", "extra": 1 } })),
            (page, json!({ "c": unknown, "o": { "direction": 3 } })),
            (dns, json!({ "c": g, "f": "VALID" })),
            (dns, json!({ "c": g, "f": [] })),
            (dns, json!({ "c": g, "f": { "validationStatus": "NOPE" } })),
        ];
        let apps = both(&db).await;
        for (query, variables) in &cases {
            let mut bodies = Vec::new();
            for app in &apps {
                // Twice: the second request of a text is the one a plan could answer.
                for _ in 0..2 {
                    let body = raw(app, query, variables.clone()).await;
                    let value: Value = serde_json::from_str(&body).expect("JSON");
                    assert_eq!(error_code(&value), "BAD_USER_INPUT", "{variables}: {body}");
                    assert!(value.get("data").is_none(), "a request error has no data: {body}");
                    assert!(value["errors"][0]["message"].as_str().expect("message").starts_with("Variable \"$"));
                    bodies.push(body);
                }
            }
            assert!(bodies.windows(2).all(|pair| pair[0] == pair[1]), "{bodies:?}");
        }
        for app in apps {
            app.stop().await;
        }
    }
);

db_test!(
    async fn conflicting_fields_through_fragments_are_refused(db) {
        let chain = db.seed_chain(20).await;
        let g = chain.generation;
        let conflicting = [
            format!(
                r#"{{ campaignByDatabaseId(databaseId: "{g}") {{ ... on Campaign {{ generatedDomains(first: 2) {{ nodes {{ offsetIndex }} }} }} generatedDomains(first: 1, orderBy: {{direction: DESC}}) {{ nodes {{ offsetIndex }} totalCount }} }} }}"#
            ),
            format!(
                r#"{{ campaignByDatabaseId(databaseId: "{g}") {{ ...A ...B }} }} fragment A on Campaign {{ x: name }} fragment B on Campaign {{ x: status }}"#
            ),
            format!(
                r#"{{ campaignByDatabaseId(databaseId: "{g}") {{ generatedDomains(first: 1) {{ nodes {{ v: offsetIndex }} }} ... on Campaign {{ generatedDomains(first: 1) {{ nodes {{ v: domainName }} }} }} }} }}"#
            ),
        ];
        let fine = format!(
            r#"{{ campaignByDatabaseId(databaseId: "{g}") {{ ... on Campaign {{ generatedDomains(first: 2) {{ nodes {{ offsetIndex }} }} }} generatedDomains(first: 2) {{ totalCount nodes {{ domainName }} }} }} }}"#
        );
        for app in both(&db).await {
            for query in &conflicting {
                for _ in 0..2 {
                    let value: Value = serde_json::from_str(&raw(&app, query, json!({})).await).expect("JSON");
                    assert_eq!(error_code(&value), "GRAPHQL_VALIDATION_FAILED", "{query}: {value}");
                    assert!(value.get("data").is_none(), "{value}");
                    assert!(value["errors"][0]["message"].as_str().expect("message").contains("conflict"));
                }
            }
            let body = raw(&app, &fine, json!({})).await;
            in_order(&body, &["generatedDomains", "nodes", "offsetIndex", "domainName", "totalCount"]);
            let value: Value = serde_json::from_str(&body).expect("JSON");
            assert_eq!(value["data"]["campaignByDatabaseId"]["generatedDomains"]["totalCount"], 20, "{body}");
            app.stop().await;
        }
    }
);

db_test!(
    async fn every_client_mistake_has_a_client_code(db) {
        // Every argument of every field the schema has on the types a request can reach with
        // literal arguments, sent with every kind of wrong value — as a literal and as a
        // variable of the argument's type: no answer may be INTERNAL or uncoded.
        use async_graphql::registry::MetaType;
        let chain = db.seed_chain(3).await;
        let registry = domainflow::graphql::schema_registry();
        let app = db.spawn_app().await;
        let g = chain.generation;
        // How to reach an object of each type (the selection around `{}`).
        let reach = [
            ("Query", "{}".to_owned()),
            ("Campaign", format!(r#"{{ campaignByDatabaseId(databaseId: "{g}") {{}} }}"#)),
            ("MetricsReport", "{ metrics {} }".to_owned()),
            ("MetricsHistory", "{ metrics { history {} } }".to_owned()),
        ];
        let wrong_literals = [
            "1", "-1", "2147483648", "1.5", "\"x\"", "\"\"", "true", "null", "[1]", "[]", "{a: 1}", "{}", "NOPE",
        ];
        let wrong_json = [
            json!(1),
            json!(-1),
            json!(2_147_483_648u64),
            json!(1.5),
            json!(1e300),
            json!("x"),
            json!(""),
            json!(true),
            json!(null),
            json!([1]),
            json!([]),
            json!({"a": 1}),
            json!({}),
            json!({"field": "NOPE", "direction": "SIDEWAYS"}),
        ];
        let mut checked = 0;
        for (type_name, around) in &reach {
            let Some(MetaType::Object { fields, .. }) = registry.types.get(*type_name) else {
                panic!("{type_name} is not an object type of the schema");
            };
            for (field_name, field) in fields {
                if field_name.starts_with("__") || field.args.is_empty() {
                    continue;
                }
                let leaf = |ty: &str| -> String {
                    let named = ty.trim_matches(|c| c == '[' || c == ']' || c == '!');
                    match registry.types.get(named) {
                        Some(MetaType::Object { .. }) | Some(MetaType::Interface { .. }) => " { __typename }".to_owned(),
                        _ => String::new(),
                    }
                };
                let selection = leaf(&field.ty);
                for (arg_name, arg) in &field.args {
                    // The other required arguments get a value that is valid.
                    let others = |skip: &str| -> String {
                        field
                            .args
                            .iter()
                            .filter(|(name, a)| name.as_str() != skip && a.ty.ends_with('!'))
                            .map(|(name, a)| format!("{name}: {}", valid_literal(&a.ty, &g)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    let rest = others(arg_name);
                    let sep = if rest.is_empty() { "" } else { ", " };
                    for literal in wrong_literals {
                        let inner = format!("{field_name}({arg_name}: {literal}{sep}{rest}){selection}");
                        let query = around.replacen("{}", &format!("{{ {inner} }}"), 1);
                        check_coded(&app, &query, json!({})).await;
                        checked += 1;
                    }
                    for value in &wrong_json {
                        let inner = format!("{field_name}({arg_name}: $v{sep}{rest}){selection}");
                        let body = around.replacen("{}", &format!("{{ {inner} }}"), 1);
                        let query = format!("query($v: {}) {body}", arg.ty);
                        check_coded(&app, &query, json!({ "v": value })).await;
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 500, "only {checked} requests");
        // Variables that are missing, undeclared, of unknown types, or given for nothing.
        for (query, variables) in [
            ("query($v: Int!) { campaigns(first: $v) { totalCount } }", json!({})),
            ("query { campaigns(first: $v) { totalCount } }", json!({ "v": 1 })),
            ("query($v: Nope) { campaigns(first: $v) { totalCount } }", json!({ "v": 1 })),
            ("query($v: [Int]) { campaigns(first: $v) { totalCount } }", json!({ "v": [1] })),
            ("query($v: CampaignFilter) { campaigns(first: 1) { totalCount } }", json!({ "v": 1 })),
        ] {
            check_coded(&app, query, variables).await;
        }
        app.stop().await;
    }
);

/// A valid literal of a required argument's type (for the arguments not under test).
fn valid_literal(ty: &str, campaign: &uuid::Uuid) -> String {
    match ty.trim_end_matches('!') {
        "UUID" => format!("\"{campaign}\""),
        "ID" => format!(
            "\"{}\"",
            domainflow::graphql::node::GlobalId::campaign(*campaign).encode()
        ),
        "Int" => "1".to_owned(),
        "String" => "\"x\"".to_owned(),
        "Boolean" => "true".to_owned(),
        "[ID!]" => "[]".to_owned(),
        other => panic!("no valid literal for required arguments of type {other}"),
    }
}

/// Sends a request that may be wrong: every error must carry a client code.
async fn check_coded(app: &TestApp, query: &str, variables: Value) {
    let body = raw(app, query, variables.clone()).await;
    let value: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    for error in value["errors"].as_array().into_iter().flatten() {
        let code = error["extensions"]["code"].as_str().unwrap_or("<none>");
        assert!(
            code != "INTERNAL" && code != "<none>",
            "{query} with {variables}: {code} in {body}"
        );
    }
}

db_test!(
    async fn every_transport_answers_in_selection_order(db) {
        // The same query by POST, GET, in a batch and over the WebSocket (a `subscribe` of a
        // query): the same result bytes, keys in selection order, errors in document order.
        use futures::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
        let chain = db.seed_chain(5).await;
        let g = chain.generation;
        let query = format!(
            r#"{{ z: node(id: "bad") {{ id }} c: campaignByDatabaseId(databaseId: "{g}") {{ status generatedDomains(first: 2) {{ totalCount nodes {{ offsetIndex }} }} name }} a: node(id: "worse") {{ id }} }}"#
        );
        let keys = ["z", "c", "status", "generatedDomains", "totalCount", "nodes", "offsetIndex", "name", "a"];
        let app = db.spawn_app().await;
        let post = raw(&app, &query, json!({})).await;
        in_order(&post, &keys);
        let value: Value = serde_json::from_str(&post).expect("JSON");
        let paths: Vec<&Value> = value["errors"].as_array().expect("errors").iter().map(|e| &e["path"]).collect();
        assert_eq!(paths, [&json!(["z"]), &json!(["a"])], "{post}");
        let get = app
            .client
            .get(format!("{}/graphql", app.address))
            .query(&[("query", query.as_str())])
            .send()
            .await
            .expect("sent")
            .text()
            .await
            .expect("body");
        assert_eq!(get, post);
        let (_, batch) = app.post_raw(&json!([{ "query": query }, { "query": query }])).await;
        assert_eq!(batch, format!("[{post},{post}]"));

        let url = format!("{}/graphql/ws", app.address.replacen("http", "ws", 1));
        let mut request = url.into_client_request().expect("request");
        request
            .headers_mut()
            .insert("sec-websocket-protocol", "graphql-transport-ws".parse().expect("header"));
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("connects");
        socket
            .send(Message::text(json!({ "type": "connection_init", "payload": {} }).to_string()))
            .await
            .expect("sent");
        socket
            .send(Message::text(
                json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }).to_string(),
            ))
            .await
            .expect("sent");
        let mut payload = None;
        for _ in 0..5 {
            let message = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
                .await
                .expect("a message in time")
                .expect("open")
                .expect("a frame");
            if let Message::Text(text) = message
                && text.contains("\"next\"")
            {
                payload = Some(text.to_string());
                break;
            }
        }
        let payload = payload.expect("the query's answer");
        // The payload is the same response object, inside the message.
        assert!(payload.contains(&post), "{payload}\nvs\n{post}");
        app.stop().await;
    }
);
