//! What the pages use: the embedded assets (caching headers, fingerprints, CSP), the
//! `metricsUpdated` subscription over a real WebSocket (with and without tokens), the export
//! endpoint (every row, in the connection's order, as CSV and NDJSON, compared with the
//! GraphQL connection), and the request counters and RSS samples in `Query.metrics`.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{TestApp, TestDb, error_code};

const TOKEN: &str = "reader-token-0123456789";

// --- assets ------------------------------------------------------------------------------------

#[tokio::test]
async fn pages_and_assets_are_embedded_with_caching_headers() {
    let Some(db) = TestDb::new(crate::helpers::Backend::Sqlite).await else {
        return;
    };
    let app = db.spawn_app().await;
    let client = &app.client;

    // GraphiQL is vendored too: a browser's GET /graphql.
    for page in ["/dashboard", "/explorer", "/graphql"] {
        let response = client
            .get(format!("{}{page}", app.address))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{page}");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], "text/html; charset=utf-8");
        assert_eq!(headers["cache-control"], "no-cache");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"),
            "{csp}"
        );
        let etag = headers["etag"].to_str().unwrap().to_owned();
        let html = response.text().await.unwrap();
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{page} names another host"
        );

        // Revalidation answers 304 without a body.
        let again = client
            .get(format!("{}{page}", app.address))
            .header("accept", "text/html")
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304);

        // Every asset the page names is served, fingerprinted and cacheable for good.
        let assets: Vec<&str> = html.split('"').filter(|part| part.starts_with("/assets/")).collect();
        assert!(!assets.is_empty(), "{page} loads no assets");
        for asset in assets {
            let (path, version) = asset
                .split_once("?v=")
                .unwrap_or_else(|| panic!("{asset} not fingerprinted"));
            let response = client.get(format!("{}{asset}", app.address)).send().await.unwrap();
            assert_eq!(response.status(), 200, "{asset}");
            assert_eq!(
                response.headers()["cache-control"],
                "public, max-age=31536000, immutable"
            );
            assert_eq!(response.headers()["etag"].to_str().unwrap(), format!("\"{version}\""));
            assert_eq!(response.headers()["x-content-type-options"], "nosniff");
            // Without the current hash: revalidate every time.
            let plain = client.get(format!("{}{path}", app.address)).send().await.unwrap();
            assert_eq!(plain.headers()["cache-control"], "no-cache");
            let stale = client.get(format!("{}{path}?v=0", app.address)).send().await.unwrap();
            assert_eq!(stale.headers()["cache-control"], "no-cache");
        }
    }

    let (status, body) = app.get("/assets/../Cargo.toml").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = app.get("/assets/nope.js").await;
    assert_eq!(status, 404);
    assert_eq!(error_code(&serde_json::from_str(&body).unwrap()), "NOT_FOUND");

    // The root leads to the dashboard.
    let root = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    assert!(root.status().is_redirection());
    assert_eq!(root.headers()["location"], "/dashboard");
    app.stop().await;
}

#[tokio::test]
async fn pages_load_without_a_token_but_data_needs_one() {
    let Some(db) = TestDb::new(crate::helpers::Backend::Sqlite).await else {
        return;
    };
    let app = db
        .spawn_app_with(&[("API_TOKENS", &format!("ui:read+metrics:{TOKEN}"))])
        .await;
    let (status, _) = app.get("/dashboard").await;
    assert_eq!(status, 200);
    let (status, body) = app.get("/export?campaign=x&connection=GENERATED_DOMAINS").await;
    assert_eq!(status, 401, "{body}");
    app.stop().await;
}

// --- subscription ------------------------------------------------------------------------------

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp, authorization: Option<&str>) -> Socket {
    let url = format!("{}/graphql/ws", app.address.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    if let Some(value) = authorization {
        request.headers_mut().insert("authorization", value.parse().unwrap());
    }
    let (socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("WebSocket connects");
    assert_eq!(response.headers()["sec-websocket-protocol"], "graphql-transport-ws");
    socket
}

async fn send(socket: &mut Socket, message: Value) {
    socket.send(Message::text(message.to_string())).await.unwrap();
}

/// The next JSON message, or None when the socket closed (or nothing came within 10 s).
async fn receive(socket: &mut Socket) -> Option<Value> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .ok()??
            .ok()?;
        match message {
            Message::Text(text) => return Some(serde_json::from_str(&text).unwrap()),
            Message::Close(_) => return None,
            _ => continue,
        }
    }
}

const SUBSCRIPTION: &str = "subscription($s: Int!) { metricsUpdated(intervalSeconds: $s) {
    uptimeSeconds requests { total errors inFlight } pool { configuredMax inUse }
    memory { rssBytes samples { at rssBytes } } alerts { code firing } } }";

db_test!(
    async fn metrics_are_pushed_over_websocket(db) {
        let app = db.spawn_app().await;
        let mut socket = connect(&app, None).await;
        send(&mut socket, json!({ "type": "connection_init", "payload": {} })).await;
        assert_eq!(receive(&mut socket).await.unwrap()["type"], "connection_ack");
        send(
            &mut socket,
            json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIPTION, "variables": { "s": 1 } } }),
        )
        .await;
        let first = receive(&mut socket).await.unwrap();
        assert_eq!(first["type"], "next", "{first}");
        assert_eq!(first["id"], "1");
        let report = &first["payload"]["data"]["metricsUpdated"];
        assert!(report["memory"]["rssBytes"].as_u64().unwrap_or(0) > 0, "{report}");
        assert!(!report["memory"]["samples"].as_array().unwrap().is_empty(), "{report}");
        let total_before = report["requests"]["total"].as_u64().unwrap();

        // Traffic between two reports shows in the next one.
        for _ in 0..3 {
            let r = app.graphql("{ campaigns(first: 1) { totalCount } }", json!({})).await;
            assert!(r.get("errors").is_none(), "{r}");
        }
        let (status, _) = app.get("/no-such-endpoint").await;
        assert_eq!(status, 404);
        let second = receive(&mut socket).await.unwrap();
        let report = &second["payload"]["data"]["metricsUpdated"];
        let total_after = report["requests"]["total"].as_u64().unwrap();
        assert!(total_after >= total_before + 4, "{total_before} → {report}");
        assert!(report["requests"]["errors"].as_u64().unwrap() >= 1, "{report}");
        assert!(report["uptimeSeconds"].as_f64() > first["payload"]["data"]["metricsUpdated"]["uptimeSeconds"].as_f64());

        // An interval out of range is refused with a code; the socket stays usable.
        send(
            &mut socket,
            json!({ "id": "2", "type": "subscribe", "payload": { "query": SUBSCRIPTION, "variables": { "s": 0 } } }),
        )
        .await;
        let refused = loop {
            let message = receive(&mut socket).await.unwrap();
            if message["id"] == "2" {
                break message;
            }
        };
        let errors = if refused["type"] == "error" { &refused["payload"] } else { &refused["payload"]["errors"] };
        assert_eq!(errors[0]["extensions"]["code"], "BAD_USER_INPUT", "{refused}");

        send(&mut socket, json!({ "id": "1", "type": "complete" })).await;
        // Stopping the server is not held up by an open socket.
        let stopped = tokio::time::timeout(Duration::from_secs(10), app.stop()).await;
        assert!(stopped.is_ok(), "the server waited for the WebSocket");
    }
);

#[tokio::test]
async fn websocket_needs_a_token_with_the_metrics_scope() {
    let Some(db) = TestDb::new(crate::helpers::Backend::Sqlite).await else {
        return;
    };
    let app = db
        .spawn_app_with(&[(
            "API_TOKENS",
            &format!("ops:read+metrics:{TOKEN},reader:read:reader-only-token-0123456789"),
        )])
        .await;
    let subscribe =
        json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIPTION, "variables": { "s": 1 } } });

    // No token: the connection is refused at connection_init.
    let mut socket = connect(&app, None).await;
    send(&mut socket, json!({ "type": "connection_init", "payload": {} })).await;
    assert!(receive(&mut socket).await.is_none_or(|m| m["type"] != "connection_ack"));

    // A wrong token: refused too.
    let mut socket = connect(&app, None).await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "Authorization": "Bearer wrong-token-0123456789" } }),
    )
    .await;
    assert!(receive(&mut socket).await.is_none_or(|m| m["type"] != "connection_ack"));

    // A token without the metrics scope: connected, but the subscription is FORBIDDEN.
    let mut socket = connect(&app, None).await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "Authorization": "Bearer reader-only-token-0123456789" } }),
    )
    .await;
    assert_eq!(receive(&mut socket).await.unwrap()["type"], "connection_ack");
    send(&mut socket, subscribe.clone()).await;
    let refused = receive(&mut socket).await.unwrap();
    let errors = if refused["type"] == "error" {
        &refused["payload"]
    } else {
        &refused["payload"]["errors"]
    };
    assert_eq!(errors[0]["extensions"]["code"], "FORBIDDEN", "{refused}");

    // The right token, in the payload (browsers) or in the upgrade's header (other clients).
    for header in [None, Some(format!("Bearer {TOKEN}"))] {
        let mut socket = connect(&app, header.as_deref()).await;
        let payload = if header.is_some() {
            json!({})
        } else {
            json!({ "Authorization": format!("Bearer {TOKEN}") })
        };
        send(&mut socket, json!({ "type": "connection_init", "payload": payload })).await;
        assert_eq!(receive(&mut socket).await.unwrap()["type"], "connection_ack");
        send(&mut socket, subscribe.clone()).await;
        let next = receive(&mut socket).await.unwrap();
        assert_eq!(next["type"], "next", "{next}");
        assert!(next["payload"]["data"]["metricsUpdated"]["uptimeSeconds"].is_number());
    }
    app.stop().await;
}

// --- export ------------------------------------------------------------------------------------

/// Every row of a connection through GraphQL, 1000 at a time: `(databaseId, domainName)`.
async fn walk(app: &TestApp, campaign: &str, field: &str, args: &str) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let mut after = Value::Null;
    loop {
        let query = format!(
            "query($id: ID!, $after: String) {{ campaign(id: $id) {{ {field}(first: 1000, after: $after{args}) {{
                nodes {{ databaseId domainName }} pageInfo {{ hasNextPage endCursor }} }} }} }}"
        );
        let r = app.graphql(&query, json!({ "id": campaign, "after": after })).await;
        let connection = &r["data"]["campaign"][field];
        assert!(r.get("errors").is_none(), "{r}");
        for node in connection["nodes"].as_array().unwrap() {
            rows.push((
                node["databaseId"].as_str().unwrap().to_owned(),
                node["domainName"].as_str().unwrap().to_owned(),
            ));
        }
        if connection["pageInfo"]["hasNextPage"] != true {
            return rows;
        }
        after = connection["pageInfo"]["endCursor"].clone();
    }
}

async fn export(app: &TestApp, query: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let response = app
        .client
        .get(format!("{}/export?{query}", app.address))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

/// A minimal RFC 4180 reader for the test: fields of each record.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let (mut record, mut field, mut quoted, mut chars) = (Vec::new(), String::new(), false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        field.is_empty() && record.is_empty(),
        "the last record ends with a line break"
    );
    records
}

db_test!(
    async fn export_streams_exactly_the_connection(db) {
        // More than two export pages of DNS results.
        let ids = db.seed_chain(2_300).await;
        let app = db.spawn_app().await;
        let r = app
            .graphql(
                "query($g: UUID!, $d: UUID!, $h: UUID!) { g: campaignByDatabaseId(databaseId: $g) { id }
                  d: campaignByDatabaseId(databaseId: $d) { id } h: campaignByDatabaseId(databaseId: $h) { id } }",
                json!({ "g": ids.generation, "d": ids.dns, "h": ids.http }),
            )
            .await;
        let id = |k: &str| r["data"][k]["id"].as_str().unwrap().to_owned();
        let (generation, dns, http) = (id("g"), id("d"), id("h"));

        let cases = [
            (&generation, "generatedDomains", "GENERATED_DOMAINS", "", ""),
            (&generation, "generatedDomains", "GENERATED_DOMAINS", ", orderBy: {field: DOMAIN_NAME, direction: DESC}", "&orderBy=DOMAIN_NAME&direction=DESC"),
            (&dns, "dnsValidationResults", "DNS_VALIDATION_RESULTS", "", ""),
            (&dns, "dnsValidationResults", "DNS_VALIDATION_RESULTS", ", filter: {validationStatus: VALID, businessStatus: LEAD_CANDIDATE}", "&validationStatus=VALID&businessStatus=LEAD_CANDIDATE"),
            (&dns, "dnsValidationResults", "DNS_VALIDATION_RESULTS", ", orderBy: {field: DOMAIN_NAME}, filter: {businessStatus: null}", "&orderBy=DOMAIN_NAME&businessStatus=NULL"),
            (&http, "httpKeywordResults", "HTTP_KEYWORD_RESULTS", ", filter: {validationStatus: VALID}", "&validationStatus=VALID"),
        ];
        for (campaign, field, connection, args, params) in cases {
            let expected = walk(&app, campaign, field, args).await;
            assert!(!expected.is_empty(), "{field}{args}: the seed should give rows");

            let (status, headers, body) =
                export(&app, &format!("campaign={campaign}&connection={connection}&format=csv{params}")).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
            assert_eq!(headers["x-total-count"].to_str().unwrap(), expected.len().to_string(), "{field}{args}");
            assert!(headers["content-disposition"].to_str().unwrap().starts_with("attachment; filename="));
            let records = parse_csv(&body);
            let columns = &records[0];
            let (id_at, name_at) = (
                columns.iter().position(|c| c == "database_id").unwrap(),
                columns.iter().position(|c| c == "domain_name").unwrap(),
            );
            assert!(records[1..].iter().all(|r| r.len() == columns.len()), "ragged CSV");
            let got: Vec<(String, String)> =
                records[1..].iter().map(|r| (r[id_at].clone(), r[name_at].clone())).collect();
            assert_eq!(got, expected, "{field}{args}: CSV rows and order");

            let (status, headers, body) =
                export(&app, &format!("campaign={campaign}&connection={connection}&format=ndjson{params}")).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(headers["content-type"], "application/x-ndjson");
            let got: Vec<(String, String)> = body
                .lines()
                .map(|line| {
                    let row: Value = serde_json::from_str(line).unwrap();
                    (row["database_id"].as_str().unwrap().to_owned(), row["domain_name"].as_str().unwrap().to_owned())
                })
                .collect();
            assert_eq!(got, expected, "{field}{args}: NDJSON rows and order");
        }

        // The database id works as well as the global id; a connection the campaign does not
        // have is empty, as in the API.
        let (status, headers, body) = export(&app, &format!("campaign={}&connection=GENERATED_DOMAINS&format=ndjson", ids.generation)).await;
        assert_eq!(status, 200);
        assert_eq!(body.lines().count().to_string(), headers["x-total-count"].to_str().unwrap());
        let (status, headers, body) = export(&app, &format!("campaign={dns}&connection=GENERATED_DOMAINS&format=ndjson")).await;
        assert_eq!((status, body.as_str()), (200, ""));
        assert_eq!(headers["x-total-count"], "0");

        // Bad requests get a code, not a file.
        for (query, code, status) in [
            (format!("campaign={generation}"), "BAD_USER_INPUT", 400),
            (format!("campaign={generation}&connection=NOPE"), "BAD_USER_INPUT", 400),
            (format!("campaign={generation}&connection=GENERATED_DOMAINS&format=xml"), "BAD_USER_INPUT", 400),
            (format!("campaign={generation}&connection=GENERATED_DOMAINS&orderBy=VALIDATION_STATUS"), "BAD_USER_INPUT", 400),
            (format!("campaign={generation}&connection=GENERATED_DOMAINS&validationStatus=VALID"), "BAD_USER_INPUT", 400),
            (format!("campaign={dns}&connection=DNS_VALIDATION_RESULTS&validationstatus=VALID"), "BAD_USER_INPUT", 400),
            (format!("campaign={dns}&connection=DNS_VALIDATION_RESULTS&businessStatus=lead"), "BAD_USER_INPUT", 400),
            ("campaign=not-an-id&connection=GENERATED_DOMAINS".to_owned(), "BAD_USER_INPUT", 400),
            ("campaign=00000000-0000-0000-0000-000000000000&connection=GENERATED_DOMAINS".to_owned(), "NOT_FOUND", 404),
        ] {
            let (got_status, headers, body) = export(&app, &query).await;
            assert_eq!(got_status, status, "{query}: {body}");
            assert_eq!(headers["content-type"], "application/json", "{query}");
            assert_eq!(error_code(&serde_json::from_str(&body).unwrap()), code, "{query}: {body}");
        }
        app.stop().await;
    }
);

/// GraphQL over the WebSocket passes the same limits and gets the same error codes as over HTTP.
#[tokio::test]
async fn websocket_requests_pass_the_query_limits_and_carry_codes() {
    let Some(db) = TestDb::new(crate::helpers::Backend::Sqlite).await else {
        return;
    };
    let app = db.spawn_app_with(&[("GRAPHQL_MAX_ALIASES", "2")]).await;
    let mut socket = connect(&app, None).await;
    send(&mut socket, json!({ "type": "connection_init", "payload": {} })).await;
    assert_eq!(receive(&mut socket).await.unwrap()["type"], "connection_ack");
    let cases = [
        (
            "subscription { a: metricsUpdated { uptimeSeconds } b: metricsUpdated { uptimeSeconds } c: metricsUpdated { uptimeSeconds } }",
            "LIMIT_EXCEEDED",
        ),
        ("subscription { metricsUpdated { uptimeSeconds ", "GRAPHQL_PARSE_FAILED"),
        (
            "subscription { metricsUpdated { noSuchField } }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
    ];
    for (i, (query, code)) in cases.into_iter().enumerate() {
        let id = i.to_string();
        send(
            &mut socket,
            json!({ "id": id, "type": "subscribe", "payload": { "query": query } }),
        )
        .await;
        let refused = loop {
            let message = receive(&mut socket).await.expect("an answer");
            if message["id"] == id.as_str() {
                break message;
            }
        };
        let errors = if refused["type"] == "error" {
            &refused["payload"]
        } else {
            &refused["payload"]["errors"]
        };
        assert_eq!(errors[0]["extensions"]["code"], code, "{query}: {refused}");
    }
    app.stop().await;
}
