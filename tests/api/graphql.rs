//! GraphQL over HTTP against real rows: campaigns, campaignByDatabaseId, campaign(id:), and
//! the error codes of bad requests.

use serde_json::json;

use crate::helpers::{error_code, insert_campaign};

const BASE: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z in microseconds

db_test!(
    async fn campaigns_are_served_from_real_rows(db) {
        let generation = insert_campaign(&db, "Alpha generation", "domain_generation", "completed", BASE).await;
        insert_campaign(&db, "Beta DNS", "dns_validation", "running", BASE + 1).await;
        insert_campaign(&db, "Gamma HTTP", "http_keyword_validation", "pending", BASE + 2).await;
        let app = db.spawn_app().await;

        let query = r#"query($after: String) {
            campaigns(first: 2, after: $after) {
                totalCount
                edges { cursor node { name campaignType status databaseId createdAt } }
                pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
            }
        }"#;
        let page1 = app.graphql(query, json!({})).await;
        let conn = &page1["data"]["campaigns"];
        assert_eq!(conn["totalCount"], 3, "{page1}");
        assert_eq!(conn["edges"][0]["node"]["name"], "Alpha generation");
        assert_eq!(conn["edges"][0]["node"]["campaignType"], "DOMAIN_GENERATION");
        assert_eq!(conn["edges"][0]["node"]["status"], "COMPLETED");
        assert_eq!(conn["edges"][0]["node"]["databaseId"], generation.to_string());
        assert_eq!(conn["edges"][0]["node"]["createdAt"], "2026-01-01T00:00:00+00:00");
        assert_eq!(conn["edges"][1]["node"]["name"], "Beta DNS");
        assert_eq!(conn["pageInfo"]["hasNextPage"], true);
        assert_eq!(conn["pageInfo"]["hasPreviousPage"], false);

        let page2 = app.graphql(query, json!({ "after": conn["pageInfo"]["endCursor"] })).await;
        let conn2 = &page2["data"]["campaigns"];
        assert_eq!(conn2["edges"].as_array().map(Vec::len), Some(1), "{page2}");
        assert_eq!(conn2["edges"][0]["node"]["name"], "Gamma HTTP");
        assert_eq!(conn2["pageInfo"]["hasNextPage"], false);
        assert_eq!(conn2["pageInfo"]["hasPreviousPage"], true);

        let by_db_id = app
            .graphql(
                "query($id: UUID!) { campaignByDatabaseId(databaseId: $id) { id name } }",
                json!({ "id": generation }),
            )
            .await;
        let global = by_db_id["data"]["campaignByDatabaseId"]["id"].clone();
        assert_eq!(by_db_id["data"]["campaignByDatabaseId"]["name"], "Alpha generation");
        let by_global = app.graphql("query($id: ID!) { campaign(id: $id) { databaseId } }", json!({ "id": global })).await;
        assert_eq!(by_global["data"]["campaign"]["databaseId"], generation.to_string());

        let missing = app
            .graphql(
                "query($id: UUID!) { campaignByDatabaseId(databaseId: $id) { id } }",
                json!({ "id": uuid::Uuid::nil() }),
            )
            .await;
        assert_eq!(missing, json!({ "data": { "campaignByDatabaseId": null } }));

        let filtered = app
            .graphql(
                "{ campaigns(filter: {campaignType: DNS_VALIDATION}, orderBy: {field: NAME, direction: DESC}) { totalCount nodes { name } } }",
                json!({}),
            )
            .await;
        assert_eq!(filtered["data"]["campaigns"], json!({ "totalCount": 1, "nodes": [{ "name": "Beta DNS" }] }));
        app.stop().await;
    }
);

db_test!(
    async fn every_bad_request_gets_a_code(db) {
        let app = db.spawn_app().await;
        let cases = [
            ("{ campaigns(first: 5 { totalCount } }", "GRAPHQL_PARSE_FAILED"),
            ("{ noSuchField }", "GRAPHQL_VALIDATION_FAILED"),
            ("{ campaigns(first: -1) { totalCount } }", "BAD_USER_INPUT"),
            ("{ campaigns(first: 1001) { totalCount } }", "BAD_USER_INPUT"),
            ("{ campaigns(first: 1, last: 1) { totalCount } }", "BAD_USER_INPUT"),
            ("{ campaigns(after: \"bm90LWEtY3Vyc29y\") { totalCount } }", "INVALID_CURSOR"),
            ("{ campaign(id: \"garbage\") { id } }", "BAD_USER_INPUT"),
        ];
        for (query, code) in cases {
            let response = app.graphql(query, json!({})).await;
            assert_eq!(error_code(&response), code, "{query} → {response}");
            let text = response.to_string();
            assert!(!text.contains("SELECT") && !text.contains("sqlx"), "no internals leak: {text}");
        }
        let response = app
            .client
            .post(format!("{}/graphql", app.address))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status().as_u16(), 400);
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(error_code(&body), "BAD_USER_INPUT");

        let (status, body) = app.get("/graphql?query=%7Bcampaigns%7BtotalCount%7D%7D").await;
        assert_eq!((status, body.as_str()), (200, r#"{"data":{"campaigns":{"totalCount":0}}}"#));
        app.stop().await;
    }
);

db_test!(
    async fn status_counts_match_the_rows(db) {
        let ids = db.seed_chain(400).await;
        let app = db.spawn_app().await;
        let r = app
            .graphql(
                "query($d: UUID!, $h: UUID!) {
                   dns: campaignByDatabaseId(databaseId: $d) { dnsStatusCounts { validationStatus businessStatus count }
                        dnsValidationResults(first: 0) { totalCount } httpStatusCounts { count } }
                   http: campaignByDatabaseId(databaseId: $h) { httpStatusCounts { validationStatus count }
                        httpKeywordResults(first: 0) { totalCount } }
                 }",
                json!({ "d": ids.dns, "h": ids.http }),
            )
            .await;
        let dns = &r["data"]["dns"];
        let counts = dns["dnsStatusCounts"].as_array().cloned().unwrap_or_default();
        assert!(counts.len() > 2, "{r}");
        let sum: i64 = counts.iter().map(|c| c["count"].as_i64().unwrap_or(0)).sum();
        assert_eq!(json!(sum), dns["dnsValidationResults"]["totalCount"]);
        assert_eq!(dns["httpStatusCounts"], json!([]), "not an HTTP campaign");
        for c in &counts {
            let vs = c["validationStatus"].as_str().unwrap_or_default().to_lowercase();
            let bs = match c["businessStatus"].as_str() {
                Some(b) => format!("= '{}'", b.to_lowercase()),
                None => "IS NULL".to_owned(),
            };
            let truth = db
                .scalar(&format!(
                    "SELECT count(*) FROM dns_validation_results WHERE validation_status = '{vs}' AND business_status {bs}"
                ))
                .await;
            assert_eq!(c["count"], truth, "{c}");
        }
        let http = &r["data"]["http"];
        let sum: i64 = http["httpStatusCounts"]
            .as_array()
            .map(|a| a.iter().map(|c| c["count"].as_i64().unwrap_or(0)).sum())
            .unwrap_or(0);
        assert_eq!(json!(sum), http["httpKeywordResults"]["totalCount"]);
        assert_eq!(json!(db.scalar("SELECT count(*) FROM http_keyword_results").await), http["httpKeywordResults"]["totalCount"]);

        // Links into the source campaign resolve to the same domain (batched loads).
        let links = app
            .graphql(
                "query($d: UUID!, $h: UUID!) {
                   dns: campaignByDatabaseId(databaseId: $d) { dnsValidationResults(first: 5) { nodes { domainName generatedDomain { domainName campaign { databaseId } } } } }
                   http: campaignByDatabaseId(databaseId: $h) { httpKeywordResults(first: 5) { nodes { domainName dnsValidationResult { domainName } } } }
                 }",
                json!({ "d": ids.dns, "h": ids.http }),
            )
            .await;
        let dns_nodes = links["data"]["dns"]["dnsValidationResults"]["nodes"].as_array().cloned().unwrap_or_default();
        assert_eq!(dns_nodes.len(), 5, "{links}");
        for n in &dns_nodes {
            assert_eq!(n["generatedDomain"]["domainName"], n["domainName"], "{n}");
            assert_eq!(n["generatedDomain"]["campaign"]["databaseId"], ids.generation.to_string());
        }
        let http_nodes = links["data"]["http"]["httpKeywordResults"]["nodes"].as_array().cloned().unwrap_or_default();
        assert_eq!(http_nodes.len(), 5, "{links}");
        for n in &http_nodes {
            assert_eq!(n["dnsValidationResult"]["domainName"], n["domainName"], "{n}");
        }
        app.stop().await;
    }
);
