//! GraphQL over HTTP (<https://graphql.github.io/graphql-over-http/draft/>) on /graphql: the
//! response type negotiated from `Accept`, 400 for request errors under
//! `application/graphql-response+json` and 200 under `application/json`, request
//! Content-Types, GET for queries only, requests without a query, and persisted queries.

use std::collections::HashMap;
use std::io::{Read, Write};

use serde_json::{Value, json};

use domainflow::graphql::persisted::{NOT_FOUND_MESSAGE, sha256_hex};

use crate::helpers::{TestApp, error_code};

const NEW: &str = "application/graphql-response+json; charset=utf-8";
const LEGACY: &str = "application/json";
const MISSING_QUERY: &str = "no GraphQL query in the request; open /graphql in a browser for GraphiQL";
const TYPENAME: &str = "{ __typename }";

/// An HTTP answer: status, headers (names lowercase, repeated ones joined with ", "), body.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HashMap<String, String>,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("<none>")
    }
}

async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let mut headers: HashMap<String, String> = HashMap::new();
    for (name, value) in response.headers() {
        let value = value.to_str().unwrap_or("<not ASCII>").to_owned();
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(&value);
            })
            .or_insert(value);
    }
    let text = response.text().await.expect("body");
    Reply { status, headers, text }
}

/// POST /graphql with a JSON body and `accept` (reqwest's own is `*/*`).
async fn post(app: &TestApp, accept: &str, body: &Value) -> Reply {
    send(
        app.client
            .post(format!("{}/graphql", app.address))
            .header("accept", accept)
            .json(body),
    )
    .await
}

/// GET /graphql with these parameters and `accept`.
async fn get(app: &TestApp, accept: &str, parameters: &[(&str, &str)]) -> Reply {
    send(
        app.client
            .get(format!("{}/graphql", app.address))
            .header("accept", accept)
            .query(parameters),
    )
    .await
}

/// A request written by hand, for what reqwest cannot send: no `Accept` header at all, no
/// `Content-Type`. `head` is the request line and headers without the final blank line.
async fn raw(app: &TestApp, head: &str, body: &str) -> Reply {
    let address = app.address.trim_start_matches("http://").to_owned();
    let request = format!(
        "{head}\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let bytes = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&address).expect("connect");
        stream.write_all(request.as_bytes()).expect("request written");
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).expect("response read");
        bytes
    })
    .await
    .expect("the request task ran");
    let text = String::from_utf8(bytes).expect("a UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("a header section");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let headers: HashMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    assert!(
        !headers.contains_key("transfer-encoding"),
        "the server sends these bodies with a length: {head}"
    );
    Reply {
        status,
        headers,
        text: body.to_owned(),
    }
}

/// A body without `data` (not even `null`): the request failed before execution.
fn assert_no_data(reply: &Reply, what: &str) {
    assert!(reply.json().get("data").is_none(), "{what}: {}", reply.text);
}

db_test!(
    async fn the_response_type_follows_accept(db) {
        let app = db.spawn_app().await;
        let query = json!({ "query": TYPENAME });
        let data = json!({ "data": { "__typename": "Query" } });
        for (accept, content_type) in [
            ("application/json", LEGACY),
            ("application/json; charset=utf-8", LEGACY),
            ("application/graphql-response+json", NEW),
            ("application/graphql-response+json; charset=utf-8", NEW),
            // Both equally acceptable: the new type.
            ("application/json, application/graphql-response+json", NEW),
            // Wildcards only (curl, reqwest): the legacy type, as generic clients expect.
            ("*/*", LEGACY),
            ("application/*", LEGACY),
            ("application/graphql-response+json, */*;q=0.9", NEW),
            // Weights.
            ("application/graphql-response+json;q=0.5, application/json", LEGACY),
            ("application/json;q=0.5, application/graphql-response+json;q=0.8", NEW),
            ("application/graphql-response+json;q=0, */*", LEGACY),
            ("text/html, */*;q=0.1, application/json;q=0.2", LEGACY),
            // What the pages (web/common.js) and GraphiQL's fetcher send.
            ("application/json, multipart/mixed", LEGACY),
        ] {
            let reply = post(&app, accept, &query).await;
            assert_eq!((reply.status, reply.content_type()), (200, content_type), "Accept: {accept}");
            assert_eq!(reply.json(), data, "Accept: {accept}");
            assert!(reply.header("vary").is_some_and(|v| v.contains("accept")), "Vary: {:?}", reply.headers);
            let reply = get(&app, accept, &[("query", TYPENAME)]).await;
            assert_eq!((reply.status, reply.content_type()), (200, content_type), "GET, Accept: {accept}");
            assert_eq!(reply.json(), data, "GET, Accept: {accept}");
        }

        // No Accept at all: the legacy type.
        let body = query.to_string();
        let reply = raw(&app, "POST /graphql HTTP/1.1\r\nContent-Type: application/json", &body).await;
        assert_eq!((reply.status, reply.content_type()), (200, LEGACY), "{}", reply.text);
        assert_eq!(reply.json(), data);
        let reply = raw(&app, "GET /graphql?query=%7B__typename%7D HTTP/1.1", "").await;
        assert_eq!((reply.status, reply.content_type()), (200, LEGACY), "{}", reply.text);
        assert_eq!(reply.json(), data);

        // Neither type acceptable: 406, before anything runs.
        for accept in ["text/plain", "text/html", "application/json;q=0", "application/xml, text/*"] {
            let reply = post(&app, accept, &query).await;
            assert_eq!((reply.status, error_code(&reply.json())), (406, "BAD_USER_INPUT"), "Accept: {accept}: {}", reply.text);
            assert_eq!(reply.content_type(), LEGACY);
            let reply = get(&app, accept, &[("query", TYPENAME)]).await;
            assert_eq!((reply.status, error_code(&reply.json())), (406, "BAD_USER_INPUT"), "GET, Accept: {accept}: {}", reply.text);
        }
        app.stop().await;
    }
);

db_test!(
    async fn request_errors_are_400_under_the_new_type_and_200_under_json(db) {
        let app = db.spawn_app_with(&[("GRAPHQL_MAX_ROOT_FIELDS", "2")]).await;
        let cases = [
            ("parse error", json!({ "query": "{ campaigns(first: 5 { totalCount } }" }), "GRAPHQL_PARSE_FAILED"),
            ("unknown field", json!({ "query": "{ nope }" }), "GRAPHQL_VALIDATION_FAILED"),
            (
                "unknown operation name",
                json!({ "query": "query A { __typename }", "operationName": "B" }),
                "BAD_USER_INPUT",
            ),
            ("a limit", json!({ "query": "{ a: __typename b: __typename c: __typename }" }), "LIMIT_EXCEEDED"),
        ];
        for (what, body, code) in &cases {
            let reply = post(&app, "application/graphql-response+json", body).await;
            assert_eq!((reply.status, reply.content_type()), (400, NEW), "{what}: {}", reply.text);
            assert_eq!(error_code(&reply.json()), *code, "{what}: {}", reply.text);
            assert_no_data(&reply, what);
            // The legacy type: a GraphQL response is a 200, the same body.
            let legacy = post(&app, "application/json", body).await;
            assert_eq!((legacy.status, legacy.content_type()), (200, LEGACY), "{what}: {}", legacy.text);
            assert_eq!(legacy.json(), reply.json(), "{what}");
        }
        // The same over GET.
        let reply = get(&app, "application/graphql-response+json", &[("query", "{ nope }")]).await;
        assert_eq!((reply.status, error_code(&reply.json())), (400, "GRAPHQL_VALIDATION_FAILED"), "{}", reply.text);
        assert_no_data(&reply, "GET unknown field");
        let reply = get(&app, "application/json", &[("query", "{ nope }")]).await;
        assert_eq!((reply.status, error_code(&reply.json())), (200, "GRAPHQL_VALIDATION_FAILED"), "{}", reply.text);

        // A field error is not a request error: data (here null) and 200 under either type.
        let field_error = json!({ "query": "{ campaigns(first: -1) { totalCount } }" });
        for accept in ["application/graphql-response+json", "application/json"] {
            let reply = post(&app, accept, &field_error).await;
            assert_eq!((reply.status, error_code(&reply.json())), (200, "BAD_USER_INPUT"), "{accept}: {}", reply.text);
            assert!(reply.json().get("data").is_some(), "{accept}: {}", reply.text);
            assert_eq!(reply.json()["errors"][0]["path"], json!(["campaigns"]));
        }

        // A batch is one 200 with an array, whatever its elements say.
        let batch = json!([{ "query": "{ nope }" }, { "query": TYPENAME }]);
        let reply = post(&app, "application/graphql-response+json", &batch).await;
        assert_eq!((reply.status, reply.content_type()), (200, NEW), "{}", reply.text);
        let answers = reply.json();
        assert_eq!(error_code(&answers[0]), "GRAPHQL_VALIDATION_FAILED", "{answers}");
        assert!(answers[0].get("data").is_none(), "{answers}");
        assert_eq!(answers[1], json!({ "data": { "__typename": "Query" } }));
        app.stop().await;
    }
);

db_test!(
    async fn variables_that_do_not_coerce_are_a_request_error(db) {
        let app = db.spawn_app().await;
        let body = json!({
            "query": "query($c:UUID!){ campaignByDatabaseId(databaseId:$c){ name } }",
            "variables": { "c": 12 },
        });
        let reply = post(&app, "application/graphql-response+json", &body).await;
        assert_eq!(error_code(&reply.json()), "BAD_USER_INPUT", "{}", reply.text);
        // Variables are coerced before execution (`graphql::variables`, written alongside this
        // test); before that the executor reported this as a field error with `data` and a 200.
        assert_no_data(&reply, "variable of the wrong type");
        assert_eq!((reply.status, reply.content_type()), (400, NEW), "{}", reply.text);
        let legacy = post(&app, "application/json", &body).await;
        assert_eq!((legacy.status, error_code(&legacy.json())), (200, "BAD_USER_INPUT"), "{}", legacy.text);
        app.stop().await;
    }
);

db_test!(
    async fn get_runs_queries_only(db) {
        let app = db.spawn_app().await;
        for (what, parameters) in [
            ("a mutation", vec![("query", "mutation { x }")]),
            ("a subscription", vec![("query", "subscription { x }")]),
            (
                "a mutation chosen by name",
                vec![("query", "query Q { __typename } mutation M { x }"), ("operationName", "M")],
            ),
            ("a named mutation alone", vec![("query", "mutation M { x }")]),
        ] {
            for accept in ["application/graphql-response+json", "application/json"] {
                let reply = get(&app, accept, &parameters).await;
                assert_eq!((reply.status, reply.header("allow")), (405, Some("POST")), "{what}: {}", reply.text);
                assert_eq!(error_code(&reply.json()), "BAD_USER_INPUT", "{what}");
                let message = reply.json()["errors"][0]["message"].as_str().unwrap_or_default().to_owned();
                assert!(message.starts_with("GET /graphql runs queries only"), "{message}");
                assert!(message.contains("POST") && message.contains("/graphql/ws"), "{message}");
                assert_no_data(&reply, what);
            }
        }
        // GET honours operationName: the query chosen runs.
        let reply = get(
            &app,
            "application/graphql-response+json",
            &[("query", "query A { a: __typename } query B { b: __typename }"), ("operationName", "B")],
        )
        .await;
        assert_eq!((reply.status, reply.json()), (200, json!({ "data": { "b": "Query" } })), "{}", reply.text);
        // An operation that cannot be chosen, or a document that does not parse, is the
        // executor's to report.
        let reply = get(
            &app,
            "application/graphql-response+json",
            &[("query", "query A { __typename } query B { __typename }")],
        )
        .await;
        assert_eq!((reply.status, error_code(&reply.json())), (400, "BAD_USER_INPUT"), "{}", reply.text);
        let reply = get(&app, "application/graphql-response+json", &[("query", "mutation {")]).await;
        assert_eq!((reply.status, error_code(&reply.json())), (400, "GRAPHQL_PARSE_FAILED"), "{}", reply.text);

        // The same documents by POST are not refused for their method.
        let reply = post(&app, "application/json", &json!({ "query": "mutation { x }" })).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(error_code(&reply.json()), "GRAPHQL_VALIDATION_FAILED", "no mutations in this schema: {}", reply.text);

        // A persisted mutation's hash cannot slip through GET either.
        let mutation = "mutation { x }";
        let hash = sha256_hex(mutation);
        let extension = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
        post(&app, "application/json", &json!({ "query": mutation, "extensions": extension })).await;
        let reply = get(&app, "application/json", &[("extensions", &extension.to_string())]).await;
        assert_eq!((reply.status, reply.header("allow")), (405, Some("POST")), "{}", reply.text);
        app.stop().await;
    }
);

db_test!(
    async fn a_request_without_a_query_is_400(db) {
        let app = db.spawn_app().await;
        let assert_missing = |reply: &Reply, what: &str| {
            assert_eq!(reply.status, 400, "{what}: {}", reply.text);
            assert_eq!(
                reply.json(),
                json!({ "errors": [{ "message": MISSING_QUERY, "extensions": { "code": "BAD_USER_INPUT" } }] }),
                "{what}"
            );
        };
        for body in [json!({}), json!({ "variables": {} }), json!({ "query": "" }), json!({ "query": "   " })] {
            for accept in ["application/json", "application/graphql-response+json", "*/*", "text/plain"] {
                let reply = post(&app, accept, &body).await;
                assert_missing(&reply, &format!("POST {body} with Accept: {accept}"));
            }
            let reply = raw(&app, "POST /graphql HTTP/1.1\r\nContent-Type: application/json", &body.to_string()).await;
            assert_missing(&reply, &format!("POST {body} without Accept"));
        }
        for path in ["/graphql", "/graphql?variables=%7B%7D", "/graphql?query=", "/graphql?query=%20%20"] {
            // reqwest sends `Accept: */*`, as curl does.
            let reply = send(app.client.get(format!("{}{path}", app.address))).await;
            assert_missing(&reply, path);
            let reply = raw(&app, &format!("GET {path} HTTP/1.1"), "").await;
            assert_missing(&reply, &format!("{path} without Accept"));
            let reply = send(app.client.get(format!("{}{path}", app.address)).header("accept", "text/plain")).await;
            assert_missing(&reply, &format!("{path} with Accept: text/plain"));
        }

        // A browser asking for HTML without a query still gets GraphiQL.
        let page = send(
            app.client
                .get(format!("{}/graphql", app.address))
                .header("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        )
        .await;
        assert_eq!((page.status, page.content_type()), (200, "text/html; charset=utf-8"));
        assert!(page.text.contains("graphiql"), "the GraphiQL page");

        // In a batch, the element without a query gets that error in its place; the others run.
        let reply = post(&app, "application/graphql-response+json", &json!([{ "query": TYPENAME }, {}])).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(
            reply.json(),
            json!([
                { "data": { "__typename": "Query" } },
                { "errors": [{ "message": MISSING_QUERY, "extensions": { "code": "BAD_USER_INPUT" } }] },
            ])
        );
        app.stop().await;
    }
);

db_test!(
    async fn only_json_is_a_request_content_type(db) {
        let app = db.spawn_app().await;
        let body = json!({ "query": TYPENAME }).to_string();
        let with_type = |content_type: &'static str| {
            send(
                app.client
                    .post(format!("{}/graphql", app.address))
                    .header("content-type", content_type)
                    .header("accept", "application/graphql-response+json")
                    .body(body.clone()),
            )
        };
        for content_type in [
            "application/graphql-response+json",
            "application/graphql-response+json; charset=utf-8",
            "text/plain",
            "application/graphql",
            "application/jsonx",
        ] {
            let reply = with_type(content_type).await;
            assert_eq!((reply.status, error_code(&reply.json())), (415, "BAD_USER_INPUT"), "{content_type}: {}", reply.text);
        }
        for content_type in ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"] {
            let reply = with_type(content_type).await;
            assert_eq!((reply.status, reply.content_type()), (200, NEW), "{content_type}: {}", reply.text);
        }
        // No Content-Type at all is still read as JSON.
        let reply = raw(&app, "POST /graphql HTTP/1.1\r\nAccept: application/json", &body).await;
        assert_eq!((reply.status, reply.json()), (200, json!({ "data": { "__typename": "Query" } })), "{}", reply.text);
        app.stop().await;
    }
);

db_test!(
    async fn persisted_query_hashes_still_answer(db) {
        let app = db.spawn_app().await;
        let query = "{ campaigns { totalCount } }";
        let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256_hex(query) } });
        let data = json!({ "data": { "campaigns": { "totalCount": 0 } } });

        // Unknown hash: a request error, so 400 under the new type, 200 under the legacy one.
        let hash_only = json!({ "extensions": extensions });
        let reply = post(&app, "application/graphql-response+json", &hash_only).await;
        assert_eq!((reply.status, reply.json()["errors"][0]["message"].as_str()), (400, Some(NOT_FOUND_MESSAGE)), "{}", reply.text);
        assert_no_data(&reply, "unknown hash");
        let reply = post(&app, "application/json", &hash_only).await;
        assert_eq!((reply.status, error_code(&reply.json())), (200, "NOT_FOUND"), "{}", reply.text);

        // Registered with its text, then the hash alone answers — by POST, with an empty
        // query, and by GET.
        let reply = post(&app, "application/graphql-response+json", &json!({ "query": query, "extensions": extensions })).await;
        assert_eq!((reply.status, reply.json()), (200, data.clone()), "{}", reply.text);
        for body in [hash_only.clone(), json!({ "query": "", "extensions": extensions })] {
            for accept in ["application/graphql-response+json", "application/json"] {
                let reply = post(&app, accept, &body).await;
                assert_eq!((reply.status, reply.json()), (200, data.clone()), "{body} with {accept}: {}", reply.text);
            }
        }
        let reply = get(&app, "application/graphql-response+json", &[("extensions", &extensions.to_string())]).await;
        assert_eq!((reply.status, reply.content_type(), reply.json()), (200, NEW, data.clone()), "{}", reply.text);
        app.stop().await;
    }
);
