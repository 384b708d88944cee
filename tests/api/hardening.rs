//! Hardening, through real HTTP against the real server: query limits (refused before any SQL
//! runs), rate limits, the request timeout, bearer tokens and scopes, the introspection,
//! GraphiQL and CORS switches, and a matrix of hostile input that must never produce a 500 or
//! leak internals. Plus property tests of cursor decoding and page-argument validation, and
//! the new settings.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use serde_json::{Value, json};

use domainflow::config::Settings;
use domainflow::entity::Timestamp;
use domainflow::error::Error;
use domainflow::pagination::cursor::filter_hash;
use domainflow::pagination::{Cursor, CursorScope, Direction, PageArgs, RowId, SortKind, SortValue};

use crate::helpers::{TestApp, TestDb, error_code};

/// Tokens of these tests, unique so a log scan can look for them.
const READER: &str = "reader-token-7f3a9c2e51d04b86";
const SCRAPER: &str = "scraper-token-c81e0b4d26f9a735";
const OPS: &str = "ops-token-0d5b7e19a4c3f268";

fn sha256_hex(token: &str) -> String {
    domainflow::auth::sha256(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `API_TOKENS` of the access-control tests: a plain read token, a plain metrics-only token
/// and a hashed token with both scopes.
fn api_tokens() -> String {
    format!(
        "reader:read:{READER}, scraper:metrics:{SCRAPER}, ops:read+metrics:sha256:{}",
        sha256_hex(OPS)
    )
}

/// What a response body must never contain.
const INTERNALS: [&str; 8] = [
    "SELECT",
    "sqlx",
    "panicked",
    "DbErr",
    "sea_orm",
    "backtrace",
    "src/",
    "RUST_",
];

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    Reply { status, headers, text }
}

async fn post_json(app: &TestApp, body: &Value, token: Option<&str>) -> Reply {
    let mut request = app.client.post(format!("{}/graphql", app.address)).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    send(request).await
}

async fn post_raw(app: &TestApp, content_type: Option<&str>, body: Vec<u8>) -> Reply {
    let mut request = app.client.post(format!("{}/graphql", app.address)).body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    send(request).await
}

/// The one invariant of hostile input: a 4xx, or a GraphQL response whose every error has a
/// code; never a 5xx, never internals.
fn assert_safe(reply: &Reply, what: &str) {
    assert!(reply.status < 500, "{what}: status {} {}", reply.status, reply.text);
    for word in INTERNALS {
        assert!(
            !reply.text.contains(word),
            "{what}: body leaks {word:?}: {}",
            reply.text
        );
    }
    let body = reply.json();
    // A batch answers with one response per request.
    let responses = match &body {
        Value::Array(responses) => responses.clone(),
        single => vec![single.clone()],
    };
    for response in &responses {
        if reply.status == 200 {
            assert!(
                response.get("data").is_some() || response.get("errors").is_some(),
                "{what}: {}",
                reply.text
            );
        } else if reply.status != 405 {
            assert!(
                !error_code(response).starts_with('<'),
                "{what}: a coded error body: {}",
                reply.text
            );
        }
        for err in response["errors"].as_array().into_iter().flatten() {
            assert!(err["extensions"]["code"].is_string(), "{what}: uncoded error {err}");
            // Hostile input is the client's fault, never ours.
            assert_ne!(err["extensions"]["code"], "INTERNAL", "{what}: {err}");
        }
    }
}

fn limit_of(response: &Value) -> (String, Value) {
    let ext = &response["errors"][0]["extensions"];
    (ext["limit"].as_str().unwrap_or("<none>").to_owned(), ext["max"].clone())
}

/// How many times the server ran a query type, from `Query.metrics` (0 when never).
async fn query_count(app: &TestApp, query_type: &str, token: Option<&str>) -> i64 {
    let r = post_json(
        app,
        &json!({ "query": "{ metrics { queries { queryType count } } }" }),
        token,
    )
    .await
    .json();
    r["data"]["metrics"]["queries"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|q| q["queryType"] == query_type)
        .and_then(|q| q["count"].as_i64())
        .unwrap_or(0)
}

db_test!(
    async fn query_limits_are_refused_before_any_sql(db) {
        db.seed_chain(20).await;
        let app = db
            .spawn_app_with(&[
                ("GRAPHQL_MAX_DEPTH", "6"),
                ("GRAPHQL_MAX_ALIASES", "3"),
                ("GRAPHQL_MAX_ROOT_FIELDS", "4"),
                ("GRAPHQL_MAX_BATCH_SIZE", "2"),
                ("GRAPHQL_MAX_QUERY_LENGTH", "2000"),
                ("MAX_REQUEST_BODY_BYTES", "20000"),
            ])
            .await;
        let cases: Vec<(&str, String, Value, &str, u64)> = vec![
            (
                "first: 1000 inside first: 1000",
                "{ campaigns(first: 1000) { nodes { generatedDomains(first: 1000) { nodes { domainName } } } } }".into(),
                json!({}),
                "complexity",
                100_000,
            ),
            (
                "page sizes from variables count too",
                "query($a: Int, $b: Int) { campaigns(first: $a) { edges { node { dnsValidationResults(first: $b) { totalCount nodes { domainName } } } } } }".into(),
                json!({ "a": 500, "b": 500 }),
                "complexity",
                100_000,
            ),
            (
                "nodes(ids:) costs per id",
                "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Campaign { generatedDomains(first: 1000) { nodes { domainName offsetIndex } } } } }".into(),
                json!({ "ids": vec!["x"; 100] }),
                "complexity",
                100_000,
            ),
            (
                "depth 7",
                "{ campaigns { nodes { generatedDomains { nodes { campaign { sourceCampaign { name } } } } } } }".into(),
                json!({}),
                "depth",
                6,
            ),
            (
                "depth through fragments",
                "{ ...A } fragment A on Query { campaigns { nodes { ...B } } } fragment B on Campaign { generatedDomains { nodes { campaign { sourceCampaign { name } } } } }".into(),
                json!({}),
                "depth",
                6,
            ),
            (
                "600 nested brackets",
                format!("{{ campaigns(filter: {}) {{ totalCount }} }}", "[".repeat(600)),
                json!({}),
                "depth",
                6,
            ),
            (
                "four aliases",
                "{ campaigns { a: totalCount b: totalCount c: totalCount d: totalCount } }".into(),
                json!({}),
                "aliases",
                3,
            ),
            (
                "five root fields",
                "{ __typename campaigns { totalCount } metrics { uptimeSeconds } node(id: \"x\") { id } nodes(ids: []) { id } }".into(),
                json!({}),
                "rootFields",
                4,
            ),
            (
                "nine directives on one field",
                format!("{{ __typename {} }}", "@skip(if: false) ".repeat(9)),
                json!({}),
                "directives",
                8,
            ),
            (
                "a 2001-byte query",
                format!("{{ __typename }}{}", " ".repeat(2001)),
                json!({}),
                "queryLength",
                2000,
            ),
        ];
        for (what, query, variables, limit, max) in cases {
            // Twice: a document the cache may have kept is refused again.
            for _ in 0..2 {
                let reply = post_json(&app, &json!({ "query": query, "variables": variables }), None).await;
                assert_safe(&reply, what);
                let body = reply.json();
                assert_eq!(reply.status, 200, "{what}: {body}");
                assert_eq!(error_code(&body), "LIMIT_EXCEEDED", "{what}: {body}");
                assert_eq!(limit_of(&body), (limit.to_owned(), json!(max)), "{what}: {body}");
                assert!(body["data"].is_null(), "{what}: nothing executed: {body}");
            }
        }
        // None of the refused queries reached the database.
        for query_type in ["campaigns.page", "generated_domains.page", "dns_validation_results.page"] {
            assert_eq!(query_count(&app, query_type, None).await, 0, "{query_type} ran");
        }

        // Within the limits the same shapes run.
        let ok = post_json(
            &app,
            &json!({ "query": "{ campaigns(first: 10) { nodes { generatedDomains(first: 10) { nodes { domainName } } } } }" }),
            None,
        )
        .await
        .json();
        assert!(ok.get("errors").is_none(), "{ok}");
        assert_eq!(query_count(&app, "campaigns.page", None).await, 1);

        // Batches: two run, three are refused as a whole with 400.
        let one = json!({ "query": "{ __typename }" });
        let two = post_json(&app, &json!([one, one]), None).await;
        assert_eq!((two.status, two.json()), (200, json!([{ "data": { "__typename": "Query" } }, { "data": { "__typename": "Query" } }])));
        let three = post_json(&app, &json!([one, one, one]), None).await;
        assert_eq!(three.status, 400, "{}", three.text);
        assert_eq!(limit_of(&three.json()), ("batchSize".to_owned(), json!(2)));
        assert_eq!(error_code(&three.json()), "LIMIT_EXCEEDED");

        // Bodies over the limit: 413 before they are read in full.
        let big = json!({ "query": "{ __typename }", "variables": { "pad": "x".repeat(20_001) } });
        let reply = post_json(&app, &big, None).await;
        assert_eq!(reply.status, 413, "{}", reply.text);
        assert_eq!(error_code(&reply.json()), "LIMIT_EXCEEDED");
        assert_eq!(limit_of(&reply.json()), ("bodySize".to_owned(), json!(20_000)));

        // GET requests pass the same checks.
        let deep = format!("/graphql?query={}", "%7B".repeat(100));
        let (status, body) = app.get(&deep).await;
        let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        assert_eq!((status, error_code(&body)), (200, "LIMIT_EXCEEDED"), "{body}");
        app.stop().await;
    }
);

db_test!(
    /// The parsed-document cache never changes an answer: each text gets its own document,
    /// and validation (which depends on the variables) and the limits run on every request.
    async fn cached_documents_still_pass_every_check(db) {
        db.seed_chain(20).await;
        let app = db.spawn_app_with(&[("GRAPHQL_DOCUMENT_CACHE_SIZE", "2")]).await;
        let sized = "query($a: Int, $b: Int) { campaigns(first: $a) { nodes { generatedDomains(first: $b) { nodes { offsetIndex } } } } }";
        let names = "{ campaigns(first: 1, orderBy: {field: NAME}) { nodes { name } } }";
        let offsets = "{ campaigns(first: 1, orderBy: {field: NAME}) { nodes { campaignType } } }";
        for round in 0..3 {
            // Same text, variables that pass and variables whose cost is refused.
            let small = app.graphql(sized, json!({ "a": 1, "b": 2 })).await;
            assert!(small.get("errors").is_none(), "round {round}: {small}");
            let big = app.graphql(sized, json!({ "a": 500, "b": 500 })).await;
            assert_eq!(error_code(&big), "LIMIT_EXCEEDED", "round {round}: {big}");
            assert_eq!(limit_of(&big).0, "complexity");
            // A variable of the wrong type is refused (variable coercion) every time.
            let wrong = app.graphql(sized, json!({ "a": "one" })).await;
            assert_eq!(error_code(&wrong), "BAD_USER_INPUT", "round {round}: {wrong}");
            // Texts differing in one field answer that field (more texts than the cache holds).
            let a = app.graphql(names, json!({})).await;
            let b = app.graphql(offsets, json!({})).await;
            let node_a = &a["data"]["campaigns"]["nodes"][0];
            let node_b = &b["data"]["campaigns"]["nodes"][0];
            assert!(node_a["name"].is_string() && node_a.get("campaignType").is_none(), "{a}");
            assert!(node_b["campaignType"].is_string() && node_b.get("name").is_none(), "{b}");
            // A cached text with an unknown operation name is still refused.
            let reply = post_json(&app, &json!({ "query": names, "operationName": "Nope" }), None).await;
            assert_eq!(error_code(&reply.json()), "BAD_USER_INPUT", "{}", reply.text);
        }
        app.stop().await;
    }
);

db_test!(
    async fn async_graphql_limits_keep_their_defaults_safe(db) {
        // The defaults: the GraphiQL introspection query (depth 13 with graphql-js's seven
        // levels of ofType) passes; a fragment bomb and a fragment cycle are refused at once.
        let app = db.spawn_app().await;
        let type_ref = (0..7).fold(String::from("kind name"), |inner, _| format!("kind name ofType {{ {inner} }}"));
        let introspection = format!(
            "query IntrospectionQuery {{ __schema {{ queryType {{ name }} types {{ ...FullType }} }} }}
             fragment FullType on __Type {{ kind name fields(includeDeprecated: true) {{ name args {{ ...InputValue }} type {{ ...TypeRef }} }}
               inputFields {{ ...InputValue }} interfaces {{ ...TypeRef }} enumValues(includeDeprecated: true) {{ name }} possibleTypes {{ ...TypeRef }} }}
             fragment InputValue on __InputValue {{ name type {{ ...TypeRef }} defaultValue }}
             fragment TypeRef on __Type {{ {type_ref} }}"
        );
        let r = post_json(&app, &json!({ "query": introspection }), None).await.json();
        assert!(r.get("errors").is_none(), "{r}");

        let mut bomb = String::from("{ ...F0 }");
        for i in 0..15 {
            bomb.push_str(&format!(" fragment F{i} on Query {{ ...F{n} ...F{n} ...F{n} }}", n = i + 1));
        }
        bomb.push_str(" fragment F15 on Query { __typename }");
        let started = std::time::Instant::now();
        let r = post_json(&app, &json!({ "query": bomb }), None).await;
        assert!(started.elapsed() < Duration::from_secs(2), "refused quickly");
        assert_eq!(error_code(&r.json()), "LIMIT_EXCEEDED", "{}", r.text);
        assert_eq!(limit_of(&r.json()), ("complexity".to_owned(), json!(100_000)));

        let cycle = "{ ...A } fragment A on Query { __typename ...B } fragment B on Query { ...A ...A }";
        let r = post_json(&app, &json!({ "query": cycle }), None).await;
        assert_eq!(error_code(&r.json()), "GRAPHQL_VALIDATION_FAILED", "{}", r.text);

        let deep = format!("{}{}", "{ a ".repeat(20), "}".repeat(20));
        let r = post_json(&app, &json!({ "query": deep }), None).await;
        assert_eq!(limit_of(&r.json()), ("depth".to_owned(), json!(16)), "{}", r.text);
        app.stop().await;
    }
);

db_test!(
    async fn rate_limits_answer_429_with_retry_after(db) {
        let app = db
            .spawn_app_with(&[("RATE_LIMIT_PER_ADDRESS", "1"), ("RATE_LIMIT_PER_ADDRESS_BURST", "2")])
            .await;
        let query = json!({ "query": "{ __typename }" });
        for _ in 0..2 {
            assert_eq!(post_json(&app, &query, None).await.status, 200);
        }
        let refused = post_json(&app, &query, None).await;
        assert_eq!(refused.status, 429, "{}", refused.text);
        assert_eq!(refused.header("retry-after"), Some("1"));
        assert_eq!(error_code(&refused.json()), "RATE_LIMITED");
        assert_eq!(refused.json()["errors"][0]["extensions"]["retryAfterSeconds"], 1);
        // Health probes are never limited.
        assert_eq!(app.get("/healthz").await.0, 200);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(post_json(&app, &query, None).await.status, 200, "refilled after Retry-After");
        app.stop().await;

        // Per token: each token has its own bucket.
        let tokens = api_tokens();
        let app = db
            .spawn_app_with(&[
                ("API_TOKENS", &tokens),
                ("RATE_LIMIT_PER_TOKEN", "0.5"),
                ("RATE_LIMIT_PER_TOKEN_BURST", "2"),
            ])
            .await;
        for _ in 0..2 {
            assert_eq!(post_json(&app, &query, Some(READER)).await.status, 200);
        }
        let refused = post_json(&app, &query, Some(READER)).await;
        assert_eq!(refused.status, 429, "{}", refused.text);
        assert_eq!(refused.header("retry-after"), Some("2"));
        assert_eq!(error_code(&refused.json()), "RATE_LIMITED");
        assert_eq!(post_json(&app, &query, Some(OPS)).await.status, 200, "another token is not limited");
        app.stop().await;
    }
);

/// Holds every table of the test database locked against the server's reads.
async fn lock_the_database(db: &TestDb) -> sea_orm::DatabaseConnection {
    use sea_orm::ConnectionTrait;
    let other = db.another_connection().await;
    match db.backend {
        crate::helpers::Backend::Postgres => {
            other.execute_unprepared("BEGIN").await.expect("begin");
            other
                .execute_unprepared("LOCK TABLE campaigns IN ACCESS EXCLUSIVE MODE")
                .await
                .expect("lock");
        }
        crate::helpers::Backend::Sqlite => {
            // In WAL mode only an exclusive locking mode keeps readers out.
            other
                .execute_unprepared("PRAGMA locking_mode = EXCLUSIVE")
                .await
                .expect("locking mode");
            // The server's connections may be mid-statement (its watchdog, or the release
            // ping of the request before): the exclusive lock can be refused as busy
            // without the busy handler waiting, so ask again until it is granted.
            let mut attempt = 0;
            loop {
                let locked = match other.execute_unprepared("BEGIN EXCLUSIVE").await {
                    Ok(_) => other
                        .execute_unprepared("UPDATE campaigns SET name = name WHERE 1 = 0")
                        .await
                        .map(|_| ()),
                    Err(error) => Err(error),
                };
                match locked {
                    Ok(()) => break,
                    Err(error) if attempt < 100 => {
                        let _ = other.execute_unprepared("ROLLBACK").await;
                        attempt += 1;
                        eprintln!("exclusive lock refused ({error}); attempt {attempt}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(error) => panic!("exclusive lock: {error}"),
                }
            }
        }
    }
    other
}

db_test!(
    async fn slow_requests_time_out(db) {
        let app = db
            .spawn_app_with(&[("REQUEST_TIMEOUT_SECONDS", "1"), ("DB_ACQUIRE_TIMEOUT_SECONDS", "30")])
            .await;
        // A client that never finishes sending its body.
        let address = app.address.trim_start_matches("http://").to_owned();
        let mut stream = tokio::net::TcpStream::connect(&address).await.expect("connect");
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream
            .write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"query\":")
            .await
            .expect("write");
        let mut response = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), async {
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(&response).contains("TIMEOUT") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => response.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        assert!(read.is_ok(), "the server answered instead of waiting forever");
        let text = String::from_utf8_lossy(&response);
        assert!(text.starts_with("HTTP/1.1 504"), "{text}");
        assert!(text.contains("\"code\":\"TIMEOUT\""), "{text}");

        // A database that does not answer.
        let lock = lock_the_database(&db).await;
        let started = std::time::Instant::now();
        let reply = post_json(&app, &json!({ "query": "{ campaigns { totalCount nodes { name } } }" }), None).await;
        assert!(started.elapsed() < Duration::from_secs(5), "answered at the timeout");
        assert_eq!(reply.status, 504, "{}", reply.text);
        assert_eq!(error_code(&reply.json()), "TIMEOUT");
        lock.close().await.expect("release the lock");

        // Serving normally again.
        let ok = post_json(&app, &json!({ "query": "{ campaigns { totalCount } }" }), None).await;
        assert_eq!((ok.status, ok.json()), (200, json!({ "data": { "campaigns": { "totalCount": 0 } } })));
        app.stop().await;
    }
);

/// A writer that only looks for the tests' tokens in everything logged.
#[derive(Clone, Copy)]
struct TokenScan;

static TOKEN_LOGGED: AtomicBool = AtomicBool::new(false);
static ANYTHING_LOGGED: AtomicBool = AtomicBool::new(false);

impl std::io::Write for TokenScan {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        ANYTHING_LOGGED.store(true, Ordering::SeqCst);
        if [READER, SCRAPER, OPS].iter().any(|t| text.contains(t)) {
            TOKEN_LOGGED.store(true, Ordering::SeqCst);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the token-scanning subscriber for the whole test binary; false when another
/// subscriber (TEST_LOG) was installed first.
fn scan_logs_for_tokens() -> bool {
    static INSTALLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *INSTALLED.get_or_init(|| {
        tracing_subscriber::fmt()
            .with_env_filter("debug,sqlx=warn,sea_orm=warn,hyper=info,hyper_util=info,h2=info")
            .with_writer(|| TokenScan)
            .try_init()
            .is_ok()
    })
}

db_test!(
    async fn tokens_and_scopes_guard_data_and_metrics(db) {
        let scanning = scan_logs_for_tokens();
        let tokens = api_tokens();
        let app = db.spawn_app_with(&[("API_TOKENS", &tokens)]).await;
        let data = json!({ "query": "{ campaigns { totalCount } }" });
        let metrics = json!({ "query": "{ metrics { uptimeSeconds } }" });

        for (token, what) in [(None, "no token"), (Some("not-a-valid-token-at-all"), "a wrong token")] {
            let reply = post_json(&app, &data, token).await;
            assert_eq!(reply.status, 401, "{what}: {}", reply.text);
            assert_eq!(error_code(&reply.json()), "UNAUTHENTICATED", "{what}");
            assert!(reply.json().get("data").is_none(), "{what}: no data");
            assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
            assert!(!reply.text.contains("not-a-valid-token"), "never echoes the token");
        }
        let basic = send(
            app.client
                .post(format!("{}/graphql", app.address))
                .header("authorization", format!("Basic {READER}"))
                .json(&data),
        )
        .await;
        assert_eq!(basic.status, 401);
        let (status, _) = app.get("/graphql?query=%7B__typename%7D").await;
        assert_eq!(status, 401, "GET needs a token too");

        // reader: data yes, metrics no.
        let r = post_json(&app, &data, Some(READER)).await;
        assert_eq!((r.status, r.json()), (200, json!({ "data": { "campaigns": { "totalCount": 0 } } })));
        let r = post_json(&app, &metrics, Some(READER)).await.json();
        assert_eq!(error_code(&r), "FORBIDDEN", "{r}");
        assert_eq!(r["errors"][0]["path"], json!(["metrics"]));
        assert!(r["data"].is_null(), "{r}");
        let prometheus = |token: &'static str| send(app.client.get(format!("{}/metrics", app.address)).bearer_auth(token));
        let reply = prometheus(READER).await;
        assert_eq!((reply.status, error_code(&reply.json())), (403, "FORBIDDEN"), "{}", reply.text);

        // scraper: metrics yes (both ways), data no.
        let r = post_json(&app, &metrics, Some(SCRAPER)).await.json();
        assert!(r["data"]["metrics"]["uptimeSeconds"].is_number(), "{r}");
        assert_eq!(prometheus(SCRAPER).await.status, 200);
        let r = post_json(&app, &data, Some(SCRAPER)).await.json();
        assert_eq!(error_code(&r), "FORBIDDEN", "{r}");
        let r = post_json(&app, &json!({ "query": "{ node(id: \"x\") { id } }" }), Some(SCRAPER)).await.json();
        assert_eq!(error_code(&r), "FORBIDDEN", "node needs read too: {r}");

        // ops, configured only as a SHA-256 digest: everything.
        let r = post_json(&app, &json!({ "query": "{ campaigns { totalCount } metrics { uptimeSeconds } }" }), Some(OPS))
            .await
            .json();
        assert!(r.get("errors").is_none(), "{r}");
        let reply = send(app.client.get(format!("{}/metrics", app.address))).await;
        assert_eq!((reply.status, error_code(&reply.json())), (401, "UNAUTHENTICATED"));
        assert_eq!(prometheus(OPS).await.status, 200);

        // What needs no token: health probes and the (static) GraphiQL page.
        assert_eq!(app.get("/healthz").await.0, 200);
        let page = send(app.client.get(format!("{}/graphql", app.address)).header("accept", "text/html")).await;
        assert_eq!(page.status, 200);
        assert!(page.text.contains("graphiql"), "the GraphiQL page");
        app.stop().await;
        if scanning {
            assert!(ANYTHING_LOGGED.load(Ordering::SeqCst), "the scan saw the logs");
            assert!(!TOKEN_LOGGED.load(Ordering::SeqCst), "a token reached the logs");
        } else {
            assert!(std::env::var_os("TEST_LOG").is_some(), "only TEST_LOG's subscriber may come first");
        }
    }
);

/// A browser's cross-origin POST of `{ __typename }`, without a token.
async fn post_from_origin(app: &TestApp, origin: &str) -> Reply {
    send(
        app.client
            .post(format!("{}/graphql", app.address))
            .header("origin", origin)
            .json(&json!({ "query": "{ __typename }" })),
    )
    .await
}

db_test!(
    async fn introspection_graphiql_and_cors_switches(db) {
        let app = db
            .spawn_app_with(&[("GRAPHQL_INTROSPECTION", "false"), ("GRAPHIQL_ENABLED", "false")])
            .await;
        for query in [
            "{ __schema { types { name } } }",
            "{ __type(name: \"Campaign\") { name } }",
            "{ ...F } fragment F on Query { __schema { queryType { name } } }",
        ] {
            let r = post_json(&app, &json!({ "query": query }), None).await;
            assert_safe(&r, query);
            assert_eq!(error_code(&r.json()), "GRAPHQL_VALIDATION_FAILED", "{query}: {}", r.text);
            assert!(r.text.contains("introspection is disabled"), "{}", r.text);
        }
        let r = post_json(&app, &json!({ "query": "{ __typename campaigns { totalCount } }" }), None).await;
        assert_eq!(r.json(), json!({ "data": { "__typename": "Query", "campaigns": { "totalCount": 0 } } }));
        let page = send(app.client.get(format!("{}/graphql", app.address)).header("accept", "text/html")).await;
        assert_eq!((page.status, error_code(&page.json())), (404, "NOT_FOUND"));
        // No CORS origins configured: no CORS headers, so browsers keep other origins out.
        let r = post_from_origin(&app, "https://app.example.com").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("access-control-allow-origin"), None);
        app.stop().await;

        let tokens = api_tokens();
        let app = db
            .spawn_app_with(&[
                ("CORS_ALLOWED_ORIGINS", "https://app.example.com, http://localhost:3000"),
                ("API_TOKENS", &tokens),
            ])
            .await;
        let preflight = |origin: &'static str| {
            send(
                app.client
                    .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.address))
                    .header("origin", origin)
                    .header("access-control-request-method", "POST")
                    .header("access-control-request-headers", "authorization, content-type"),
            )
        };
        let allowed = preflight("https://app.example.com").await;
        assert_eq!(allowed.status, 200, "a preflight needs no token");
        assert_eq!(allowed.header("access-control-allow-origin"), Some("https://app.example.com"));
        let headers = allowed.header("access-control-allow-headers").unwrap_or_default().to_lowercase();
        assert!(headers.contains("authorization") && headers.contains("content-type"), "{headers}");
        let other = preflight("https://evil.example.com").await;
        assert_eq!(other.header("access-control-allow-origin"), None);
        // The actual request: allowed origin echoed, also on a 401.
        let r = post_from_origin(&app, "http://localhost:3000").await;
        assert_eq!(r.status, 401);
        assert_eq!(r.header("access-control-allow-origin"), Some("http://localhost:3000"));
        app.stop().await;
    }
);

db_test!(
    async fn hostile_input_never_breaks_the_server(db) {
        let ids = db.seed_chain(30).await;
        let app = db.spawn_app().await;
        let count_rows = || async {
            (
                db.scalar("SELECT count(*) FROM campaigns").await,
                db.scalar("SELECT count(*) FROM generated_domains").await,
            )
        };
        let rows_before = count_rows().await;

        // Cursors to misuse: one of each ordering/filter/connection.
        let app_ref = &app;
        let page = |query: &str, vars: Value| {
            let body = json!({ "query": query, "variables": vars });
            async move { post_json(app_ref, &body, None).await.json() }
        };
        let gen_page = "query($c: UUID!, $o: GeneratedDomainOrder) { campaignByDatabaseId(databaseId: $c) { generatedDomains(first: 2, orderBy: $o) { pageInfo { endCursor } } } }";
        let offset_cursor = page(gen_page, json!({ "c": ids.generation })).await["data"]["campaignByDatabaseId"]
            ["generatedDomains"]["pageInfo"]["endCursor"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(!offset_cursor.is_empty(), "a real cursor");
        let name_cursor = page(gen_page, json!({ "c": ids.generation, "o": { "field": "DOMAIN_NAME" } })).await
            ["data"]["campaignByDatabaseId"]["generatedDomains"]["pageInfo"]["endCursor"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let campaigns_cursor = page("{ campaigns(first: 1) { pageInfo { endCursor } } }", json!({})).await["data"]
            ["campaigns"]["pageInfo"]["endCursor"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let filtered_cursor = page(
            "{ campaigns(first: 1, filter: {campaignType: DNS_VALIDATION}) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await["data"]["campaigns"]["pageInfo"]["endCursor"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut flipped = URL_SAFE_NO_PAD.decode(&offset_cursor).unwrap_or_default();
        if let Some(byte) = flipped.get_mut(20) {
            *byte ^= 0x01;
        }
        let wrong_checksum = URL_SAFE_NO_PAD.encode(&flipped);
        let mut bad_cursors = vec![
            ("random base64", URL_SAFE_NO_PAD.encode(b"0123456789abcdef0123456789abcdef0123456789abcdef")),
            ("truncated", offset_cursor[..offset_cursor.len() / 2].to_owned()),
            ("one character short", offset_cursor[..offset_cursor.len() - 1].to_owned()),
            ("wrong checksum", wrong_checksum),
            ("padding", format!("{offset_cursor}==")),
            ("empty", String::new()),
            ("not base64", "!!@@##".to_owned()),
            ("non-ASCII", "ñ€😀".to_owned()),
            ("2000 characters", "A".repeat(2000)),
            ("another ordering", name_cursor.clone()),
            ("another connection", campaigns_cursor.clone()),
        ];
        bad_cursors.push(("SQL", "' OR 1=1 --".to_owned()));
        for (what, cursor) in &bad_cursors {
            for (args, vars) in [
                ("first: 2, after: $cur", json!({ "c": ids.generation, "cur": cursor })),
                ("last: 2, before: $cur", json!({ "c": ids.generation, "cur": cursor })),
            ] {
                let query = format!(
                    "query($c: UUID!, $cur: String) {{ campaignByDatabaseId(databaseId: $c) {{ generatedDomains({args}) {{ totalCount }} }} }}"
                );
                let reply = post_json(&app, &json!({ "query": query, "variables": vars }), None).await;
                assert_safe(&reply, what);
                assert_eq!(error_code(&reply.json()), "INVALID_CURSOR", "{what} ({args}): {}", reply.text);
            }
        }
        for (what, query, cursor) in [
            ("campaigns cursor of another filter", "query($cur: String) { campaigns(after: $cur) { totalCount } }", &filtered_cursor),
            ("campaigns cursor of another ordering", "query($cur: String) { campaigns(after: $cur, orderBy: {field: NAME}) { totalCount } }", &campaigns_cursor),
            ("generated-domain cursor on campaigns", "query($cur: String) { campaigns(before: $cur, last: 1) { totalCount } }", &offset_cursor),
            ("metrics history", "query($cur: String) { metrics { history { queryHistory(after: $cur) { totalCount } } } }", &offset_cursor),
        ] {
            let reply = post_json(&app, &json!({ "query": query, "variables": { "cur": cursor } }), None).await;
            assert_safe(&reply, what);
            assert_eq!(error_code(&reply.json()), "INVALID_CURSOR", "{what}: {}", reply.text);
        }

        // Forged cursors: a valid checksum around a value no database can hold.
        use domainflow::graphql::campaign::{CampaignOrder, CampaignOrderField, campaigns};
        let by_name = CampaignOrder {
            field: CampaignOrderField::Name,
            direction: Direction::Asc,
        };
        let forge = |order: CampaignOrder, value: SortValue| {
            let scope = campaigns(order, Default::default(), false).scope();
            Cursor {
                scope,
                value,
                id: RowId::Uuid(uuid::Uuid::nil()),
            }
            .encode()
        };
        let year = 365 * 86_400 * 1_000_000_i64;
        let forged = [
            ("NUL in a name", "NAME", forge(by_name, SortValue::Text("a\0b".to_owned())), false),
            ("the earliest i64 time", "CREATED_AT", forge(CampaignOrder::default(), SortValue::Time(Timestamp(i64::MIN))), false),
            ("200000 BC", "CREATED_AT", forge(CampaignOrder::default(), SortValue::Time(Timestamp(-200_000 * year))), false),
            ("the latest i64 time", "CREATED_AT", forge(CampaignOrder::default(), SortValue::Time(Timestamp(i64::MAX))), false),
            ("year 4000 BC", "CREATED_AT", forge(CampaignOrder::default(), SortValue::Time(Timestamp(-6_000 * year))), true),
            ("a long name", "NAME", forge(by_name, SortValue::Text("z".repeat(300))), true),
            ("a name too long for any cursor", "NAME", forge(by_name, SortValue::Text("z".repeat(60_000))), false),
        ];
        for (what, field, cursor, storable) in forged {
            let query = format!("query($cur: String) {{ campaigns(after: $cur, orderBy: {{field: {field}}}) {{ totalCount nodes {{ name }} }} }}");
            let reply = post_json(&app, &json!({ "query": query, "variables": { "cur": cursor } }), None).await;
            assert_safe(&reply, what);
            if storable {
                assert!(reply.json().get("errors").is_none(), "{what}: a forged position is just a position: {}", reply.text);
            } else {
                assert_eq!(error_code(&reply.json()), "INVALID_CURSOR", "{what}: {}", reply.text);
            }
        }
        // Time bounds before PostgreSQL's calendar are refused; far-future ones simply match nothing.
        for (from, to, refused) in [
            ("-200000-01-01T00:00:00Z", "2026-01-01T00:00:00Z", true),
            ("2026-01-01T00:00:00Z", "+200000-01-01T00:00:00Z", false),
        ] {
            let query = "query($f: DateTime, $t: DateTime) { metrics { history { queryHistory(filter: {from: $f, to: $t}) { totalCount } poolHistory(filter: {from: $f}) { totalCount } } } }";
            let reply = post_json(&app, &json!({ "query": query, "variables": { "f": from, "t": to } }), None).await;
            assert_safe(&reply, from);
            let code = if refused { "BAD_USER_INPUT" } else { "<none>" };
            assert_eq!(error_code(&reply.json()), code, "{from}..{to}: {}", reply.text);
        }

        // Page sizes: out of range, overflowing, of the wrong type — literals and variables.
        for literal in ["2147483648", "-2147483649", "-1", "1e10", "1001", "99999999999999999999", "\"10\"", "1.5", "true"] {
            let query = format!("{{ campaigns(first: {literal}) {{ totalCount }} }}");
            let reply = post_json(&app, &json!({ "query": query }), None).await;
            assert_safe(&reply, &query);
            assert!(reply.json().get("errors").is_some(), "{query}: {}", reply.text);
            let query = format!("{{ campaigns(last: {literal}) {{ totalCount }} }}");
            assert_safe(&post_json(&app, &json!({ "query": query }), None).await, &query);
        }
        for value in [json!(2_147_483_648_i64), json!(-1), json!(1e10), json!("ten"), json!(1.5), json!([1]), json!({ "a": 1 })] {
            let body = json!({ "query": "query($n: Int) { campaigns(first: $n) { totalCount } }", "variables": { "n": value } });
            let reply = post_json(&app, &body, None).await;
            assert_safe(&reply, &value.to_string());
            let code = error_code(&reply.json()).to_owned();
            assert!(["BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"].contains(&code.as_str()), "{value}: {}", reply.text);
        }

        // SQL-looking (and otherwise nasty) text in every string argument.
        let nasty = [
            "' OR '1'='1",
            "'; DROP TABLE campaigns; --",
            "\" OR \"\"=\"",
            // Lowercase, so that an echo of the input is not mistaken for leaked SQL.
            "1; select pg_sleep(10)",
            "%' union select * from generated_domains --",
            "\\'; --",
            "\u{0}",
            "Robert'); delete from generated_domains;--",
        ];
        let string_arguments = [
            "query($s: ID!) { node(id: $s) { id } }",
            "query($s: ID!) { nodes(ids: [$s, $s]) { id } }",
            "query($s: ID!) { campaign(id: $s) { id } }",
            "query($s: UUID!) { campaignByDatabaseId(databaseId: $s) { id } }",
            "query($s: String) { campaigns(after: $s) { totalCount } }",
            "query($s: String) { campaigns(last: 1, before: $s) { totalCount } }",
            "query($s: String!) { metrics { history { queryHistory(filter: {queryType: $s}) { totalCount nodes { queryType } } } } }",
        ];
        let campaign_arguments = [
            "query($c: UUID!, $s: String!) { campaignByDatabaseId(databaseId: $c) { findGeneratedDomain(domainName: $s) { cursor } } }",
            "query($c: UUID!, $s: String!) { campaignByDatabaseId(databaseId: $c) { findDnsValidationResult(domainName: $s) { cursor } } }",
            "query($c: UUID!, $s: String!) { campaignByDatabaseId(databaseId: $c) { findHttpKeywordResult(domainName: $s) { cursor } } }",
            "query($c: UUID!, $s: String) { campaignByDatabaseId(databaseId: $c) { dnsValidationResults(after: $s) { totalCount } } }",
            "query($c: UUID!, $s: String) { campaignByDatabaseId(databaseId: $c) { httpKeywordResults(last: 3, before: $s) { totalCount } } }",
        ];
        for text in nasty {
            for query in string_arguments {
                let reply = post_json(&app, &json!({ "query": query, "variables": { "s": text } }), None).await;
                assert_safe(&reply, &format!("{query} with {text:?}"));
            }
            for query in campaign_arguments {
                let vars = json!({ "c": ids.dns, "s": text });
                let reply = post_json(&app, &json!({ "query": query, "variables": vars }), None).await;
                assert_safe(&reply, &format!("{query} with {text:?}"));
            }
            // Inline in the query text too (escaped as a GraphQL string).
            let inline = format!("{{ node(id: {}) {{ id }} }}", serde_json::to_string(text).unwrap_or_default());
            assert_safe(&post_json(&app, &json!({ "query": inline }), None).await, &inline);
        }
        let find = "query($c: UUID!, $s: String!) { campaignByDatabaseId(databaseId: $c) { findDnsValidationResult(domainName: $s) { cursor } } }";
        let r = post_json(&app, &json!({ "query": find, "variables": { "c": ids.dns, "s": "' OR '1'='1" } }), None).await;
        assert_eq!(r.json(), json!({ "data": { "campaignByDatabaseId": { "findDnsValidationResult": null } } }));

        // Huge strings within the body limit.
        let huge = "x".repeat(400_000);
        for query in string_arguments.iter().chain(&["query($s: String) { __typename }"]) {
            let reply = post_json(&app, &json!({ "query": query, "variables": { "s": huge } }), None).await;
            assert_safe(&reply, &format!("{query} with 400 kB"));
        }
        let vars = json!({ "c": ids.generation, "s": huge });
        let reply = post_json(&app, &json!({ "query": campaign_arguments[0], "variables": vars }), None).await;
        assert_safe(&reply, "400 kB domain name");
        let long_literal = format!("{{ node(id: \"{}\") {{ id }} }}", "y".repeat(100_000));
        let reply = post_json(&app, &json!({ "query": long_literal }), None).await;
        assert_eq!(limit_of(&reply.json()).0, "queryLength");

        // Malformed requests and wrong content types.
        let malformed: Vec<(&str, Option<&str>, Vec<u8>)> = vec![
            ("not JSON", Some("application/json"), b"{not json".to_vec()),
            ("empty body", Some("application/json"), Vec::new()),
            ("null", Some("application/json"), b"null".to_vec()),
            ("empty batch", Some("application/json"), b"[]".to_vec()),
            ("query is a number", Some("application/json"), br#"{"query": 5}"#.to_vec()),
            ("variables is a string", Some("application/json"), br#"{"query": "{ __typename }", "variables": "x"}"#.to_vec()),
            ("variables is a list", Some("application/json"), br#"{"query": "{ __typename }", "variables": [1]}"#.to_vec()),
            ("invalid UTF-8", Some("application/json"), b"{\"query\": \"\xff\xfe\"}".to_vec()),
            ("JSON nested 100000 deep", Some("application/json"), format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes()),
            ("text/plain", Some("text/plain"), br#"{"query": "{ __typename }"}"#.to_vec()),
            ("form", Some("application/x-www-form-urlencoded"), b"query=%7B__typename%7D".to_vec()),
            ("multipart", Some("multipart/form-data; boundary=x"), b"--x\r\n\r\n--x--".to_vec()),
            ("application/graphql", Some("application/graphql"), b"{ __typename }".to_vec()),
            ("unknown operation name", Some("application/json"), br#"{"query": "query A { __typename }", "operationName": "B"}"#.to_vec()),
            ("two anonymous operations", Some("application/json"), br#"{"query": "{ __typename } { __typename }"}"#.to_vec()),
            ("parse error", Some("application/json"), br#"{"query": "{ campaigns(first: 5 { totalCount } }"}"#.to_vec()),
            ("unknown field", Some("application/json"), br#"{"query": "{ nope }"}"#.to_vec()),
            ("unknown argument", Some("application/json"), br#"{"query": "{ campaigns(nope: 1) { totalCount } }"}"#.to_vec()),
            ("unknown enum value", Some("application/json"), br#"{"query": "{ campaigns(orderBy: {field: NOPE}) { totalCount } }"}"#.to_vec()),
            ("unknown type", Some("application/json"), br#"{"query": "{ ... on Nope { x } }"}"#.to_vec()),
            ("undeclared variable", Some("application/json"), br#"{"query": "{ campaigns(first: $n) { totalCount } }"}"#.to_vec()),
            ("missing required variable", Some("application/json"), br#"{"query": "query($id: ID!) { node(id: $id) { id } }"}"#.to_vec()),
            ("a mutation", Some("application/json"), br#"{"query": "mutation { x }"}"#.to_vec()),
            ("a subscription", Some("application/json"), br#"{"query": "subscription { x }"}"#.to_vec()),
            ("batch of junk", Some("application/json"), br#"[{"query": "{"}, {"nope": 1}]"#.to_vec()),
        ];
        for (what, content_type, body) in malformed {
            let reply = post_raw(&app, content_type, body).await;
            assert_safe(&reply, what);
            let errors = |r: &Value| r.get("errors").is_some();
            let refused = match reply.json() {
                Value::Array(responses) => responses.iter().all(errors),
                single => errors(&single),
            };
            assert!(reply.status >= 400 || refused, "{what}: refused: {}", reply.text);
        }
        for path in [
            "/graphql",
            "/graphql?query=",
            "/graphql?query=%7B",
            "/graphql?query=%7B__typename%7D&variables=notjson",
            "/graphql?query=%7B__typename%7D&variables=%5B1%5D",
            "/graphql?variables=%7B%7D",
            "/nope",
        ] {
            let (status, text) = app.get(path).await;
            let reply = Reply {
                status,
                headers: Default::default(),
                text,
            };
            assert_safe(&reply, path);
        }
        let put = send(app.client.put(format!("{}/graphql", app.address)).body("{}")).await;
        assert!((400..500).contains(&put.status), "PUT: {}", put.status);

        // Nothing was changed, and the server still serves.
        assert_eq!(count_rows().await, rows_before);
        let r = post_json(
            &app,
            &json!({ "query": "query($c: UUID!) { campaignByDatabaseId(databaseId: $c) { generatedDomains(first: 3) { totalCount nodes { domainName } } } }", "variables": { "c": ids.generation } }),
            None,
        )
        .await;
        assert_eq!(r.status, 200);
        let conn = &r.json()["data"]["campaignByDatabaseId"]["generatedDomains"];
        assert_eq!(conn["totalCount"], 30, "{}", r.text);
        assert_eq!(conn["nodes"].as_array().map(Vec::len), Some(3));
        app.stop().await;
    }
);

fn scope() -> CursorScope {
    CursorScope {
        connection: 2,
        parent: uuid::Uuid::from_u128(7),
        ordering: 1,
        direction: Direction::Asc,
        filter_hash: filter_hash(["valid", ""]),
    }
}

fn is_cursor_or_input_error(err: &Error) -> bool {
    matches!(err, Error::InvalidCursor { .. } | Error::BadUserInput(_))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any text at all: never a panic, never accepted, always INVALID_CURSOR naming the argument.
    #[test]
    fn arbitrary_text_is_never_a_cursor(raw in any::<String>()) {
        for kind in [SortKind::Int, SortKind::Text, SortKind::Time] {
            let result = Cursor::decode(&raw, "after", &scope(), kind);
            prop_assert!(matches!(result, Err(Error::InvalidCursor { argument: "after", .. })), "{result:?}");
        }
    }

    /// Any bytes, base64url-encoded like a real cursor: still refused.
    #[test]
    fn arbitrary_bytes_are_never_a_cursor(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let raw = URL_SAFE_NO_PAD.encode(&bytes);
        let result = Cursor::decode(&raw, "before", &scope(), SortKind::Text);
        prop_assert!(matches!(result, Err(Error::InvalidCursor { argument: "before", .. })), "{result:?}");
    }

    /// A real cursor with bytes changed, cut or appended is refused — or, if unchanged, accepted.
    #[test]
    fn damaged_cursors_are_refused(
        text in "[a-z.-]{0,40}",
        id in any::<u128>(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        cut in any::<Option<usize>>(),
        extra in proptest::collection::vec(any::<u8>(), 0..3),
    ) {
        let cursor = Cursor { scope: scope(), value: SortValue::Text(text), id: RowId::Uuid(uuid::Uuid::from_u128(id)) };
        let original = URL_SAFE_NO_PAD.decode(cursor.encode()).unwrap_or_default();
        let mut bytes = original.clone();
        for (at, xor) in edits {
            let len = bytes.len();
            if let Some(b) = bytes.get_mut(at % len.max(1)) {
                *b ^= xor;
            }
        }
        if let Some(cut) = cut {
            bytes.truncate(cut % (bytes.len() + 1));
        }
        bytes.extend(extra);
        let result = Cursor::decode(&URL_SAFE_NO_PAD.encode(&bytes), "after", &scope(), SortKind::Text);
        if bytes == original {
            prop_assert_eq!(result.ok(), Some(cursor));
        } else {
            prop_assert!(matches!(result, Err(Error::InvalidCursor { .. })), "{result:?}");
        }
    }

    /// Any page arguments: a bounded window or BAD_USER_INPUT / INVALID_CURSOR, never a panic.
    #[test]
    fn page_arguments_are_validated(
        first in any::<Option<i32>>(),
        last in any::<Option<i32>>(),
        after in proptest::option::of(any::<String>()),
        before in proptest::option::of("[A-Za-z0-9_-]{0,80}"),
        max in 1u32..5000,
    ) {
        let args = PageArgs { first, after: after.clone(), last, before: before.clone() };
        match args.validate(max, &scope(), SortKind::Int) {
            Ok(window) => {
                prop_assert!(window.size <= max);
                prop_assert!(first.is_none() || last.is_none());
                prop_assert!(after.is_none() && before.is_none(), "no random text is a cursor");
            }
            Err(err) => prop_assert!(is_cursor_or_input_error(&err), "{err:?}"),
        }
    }
}

fn load(pairs: &[(&str, &str)]) -> Result<Settings, String> {
    let env: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    Settings::load(&env, None).map_err(|e| e.to_string())
}

#[test]
fn hardening_settings_have_safe_defaults_and_load_from_env_and_file() {
    let s = load(&[]).expect("defaults");
    let l = s.query_limits;
    assert_eq!(
        (
            l.max_depth,
            l.max_complexity,
            l.max_aliases,
            l.max_root_fields,
            l.max_batch_size,
            l.max_query_length
        ),
        (16, 100_000, 50, 20, 10, 32_768)
    );
    assert_eq!(s.max_request_body_bytes, 1024 * 1024);
    assert_eq!(s.request_timeout, Duration::from_secs(30));
    assert!(s.introspection && s.graphiql);
    assert!(s.cors_allowed_origins.is_empty() && s.api_tokens.is_empty());
    assert!(s.rate_limit_per_address.is_none() && s.rate_limit_per_token.is_none());

    let s = load(&[
        ("GRAPHQL_MAX_DEPTH", "8"),
        ("GRAPHQL_MAX_COMPLEXITY", "500"),
        ("REQUEST_TIMEOUT_SECONDS", "3"),
        ("CORS_ALLOWED_ORIGINS", "https://a.example, http://localhost:3000"),
        ("RATE_LIMIT_PER_ADDRESS", "2.5"),
        ("API_TOKENS", &api_tokens()),
    ])
    .expect("env");
    assert_eq!((s.query_limits.max_depth, s.query_limits.max_complexity), (8, 500));
    assert_eq!(s.request_timeout, Duration::from_secs(3));
    assert_eq!(s.cors_allowed_origins, ["https://a.example", "http://localhost:3000"]);
    let rate = s.rate_limit_per_address.expect("on");
    assert_eq!((rate.per_second, rate.burst), (2.5, 100));
    let names: Vec<&str> = s.api_tokens.iter().map(|t| t.name()).collect();
    assert_eq!(names, ["reader", "scraper", "ops"]);
    assert!(!format!("{s:?}").contains(READER), "settings never print a token");

    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    let json = json!({
        "graphql": { "maxDepth": 10, "maxAliases": 5, "maxBatchSize": 3, "maxQueryLength": 999, "introspection": false },
        "server": {
            "requestTimeout": "1500ms",
            "maxRequestBodyBytes": 4096,
            "corsAllowedOrigins": ["*"],
            "rateLimit": { "perToken": { "perSecond": 10, "burst": 20 } }
        },
        "auth": { "tokens": [{ "name": "ci", "scopes": ["read", "metrics"], "token": format!("sha256:{}", sha256_hex(OPS)) }] }
    });
    std::io::Write::write_all(&mut file, json.to_string().as_bytes()).expect("write");
    let s = Settings::load(&HashMap::new(), Some(file.path())).expect("file");
    assert_eq!(
        (
            s.query_limits.max_depth,
            s.query_limits.max_aliases,
            s.query_limits.max_batch_size
        ),
        (10, 5, 3)
    );
    assert_eq!(s.query_limits.max_query_length, 999);
    assert!(!s.introspection);
    assert_eq!(s.request_timeout, Duration::from_millis(1500));
    assert_eq!(s.max_request_body_bytes, 4096);
    assert_eq!(s.cors_allowed_origins, ["*"]);
    let rate = s.rate_limit_per_token.expect("on");
    assert_eq!((rate.per_second, rate.burst), (10.0, 20));
    assert_eq!(s.api_tokens.len(), 1);
}

#[test]
fn bad_hardening_settings_name_the_setting_and_never_the_secret() {
    for (pairs, names) in [
        (vec![("GRAPHQL_MAX_DEPTH", "0")], "GRAPHQL_MAX_DEPTH"),
        (vec![("GRAPHQL_MAX_DEPTH", "100")], "GRAPHQL_MAX_DEPTH"),
        (vec![("GRAPHQL_MAX_COMPLEXITY", "lots")], "GRAPHQL_MAX_COMPLEXITY"),
        (vec![("REQUEST_TIMEOUT_SECONDS", "0")], "REQUEST_TIMEOUT_SECONDS"),
        (
            vec![("CORS_ALLOWED_ORIGINS", "https://a.example/path")],
            "CORS_ALLOWED_ORIGINS",
        ),
        (vec![("CORS_ALLOWED_ORIGINS", "a.example")], "CORS_ALLOWED_ORIGINS"),
        (vec![("RATE_LIMIT_PER_TOKEN", "-1")], "RATE_LIMIT_PER_TOKEN"),
        (
            vec![("RATE_LIMIT_PER_TOKEN", "1"), ("RATE_LIMIT_PER_TOKEN_BURST", "0")],
            "RATE_LIMIT_PER_TOKEN_BURST",
        ),
        (vec![("MAX_REQUEST_BODY_BYTES", "0")], "MAX_REQUEST_BODY_BYTES"),
    ] {
        let err = load(&pairs).expect_err("refused");
        assert!(err.contains(names), "{err}");
    }
    for (tokens, secret) in [
        ("a:read:short-secret", "short-secret"),
        ("a:write:long-enough-secret-123", "long-enough-secret-123"),
        ("a:read:sha256:beef", "beef"),
        (
            "a:read:long-enough-secret-123,a:metrics:another-long-secret-45",
            "long-enough-secret-123",
        ),
        ("just-a-token-without-name-or-scope", "just-a-token"),
    ] {
        let err = load(&[("API_TOKENS", tokens)]).expect_err("refused");
        assert!(err.contains("API_TOKENS"), "{err}");
        assert!(!err.contains(secret), "the error repeats the secret: {err}");
    }
}
