//! Automatic Persisted Queries (`graphql::persisted`) over HTTP: a hash alone is answered only
//! after its text was registered, by POST and by GET, with the same bytes as the text itself
//! and through the compiled page plan; wrong hashes never answer; errors keep the contract's
//! codes and Apollo's messages.

use serde_json::{Value, json};

use domainflow::graphql::persisted::{NOT_FOUND_MESSAGE, NOT_SUPPORTED_MESSAGE, sha256_hex};

use crate::helpers::{TestApp, error_code};

const PAGE: &str = "query Page($campaign: UUID!) { campaignByDatabaseId(databaseId: $campaign) { \
                    generatedDomains(first: 5) { totalCount edges { cursor node { id domainName offsetIndex } } \
                    pageInfo { hasNextPage endCursor } } } }";

fn extension(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

async fn post(app: &TestApp, body: Value) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", app.address))
        .json(&body)
        .send()
        .await
        .expect("request sent");
    (response.status().as_u16(), response.text().await.expect("body"))
}

async fn get(app: &TestApp, hash: &str, variables: &Value) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(format!("{}/graphql", app.address))
        .query(&[
            ("extensions", extension(hash).to_string()),
            ("variables", variables.to_string()),
        ])
        .send()
        .await
        .expect("request sent");
    (response.status().as_u16(), response.text().await.expect("body"))
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

async fn compiled_count(app: &TestApp) -> u64 {
    app.graphql("{ metrics { requests { compiled } } }", json!({})).await["data"]["metrics"]["requests"]["compiled"]
        .as_u64()
        .expect("compiled count")
}

db_test!(
    async fn a_hash_alone_answers_after_registration(db) {
        let chain = db.seed_chain(20).await;
        let app = db.spawn_app().await;
        let variables = json!({ "campaign": chain.generation });
        let hash = sha256_hex(PAGE);

        // Unknown hash: Apollo's message (what the clients match), the contract's code.
        let counters = app
            .graphql("{ metrics { requests { persistedHits persistedMisses persistedRegistered } } }", json!({}))
            .await;
        assert_eq!(
            counters["data"]["metrics"]["requests"],
            json!({ "persistedHits": 0, "persistedMisses": 0, "persistedRegistered": 0 })
        );
        let (status, text) = post(&app, json!({ "extensions": extension(&hash), "variables": variables })).await;
        assert_eq!(status, 200, "{text}");
        let refused = json(&text);
        assert_eq!(refused["errors"][0]["message"], NOT_FOUND_MESSAGE, "{text}");
        assert_eq!(error_code(&refused), "NOT_FOUND");
        assert!(refused.get("data").is_none_or(Value::is_null), "{text}");

        // The text with a hash that is not its own is refused and registers nothing.
        let other = sha256_hex("{ campaigns { totalCount } }");
        let (_, text) = post(&app, json!({ "query": PAGE, "extensions": extension(&other), "variables": variables })).await;
        assert_eq!(error_code(&json(&text)), "BAD_USER_INPUT", "{text}");
        let (_, text) = post(&app, json!({ "extensions": extension(&other), "variables": variables })).await;
        assert_eq!(json(&text)["errors"][0]["message"], NOT_FOUND_MESSAGE, "{text}");

        // Registration: the text with its hash is answered like the plain text.
        let (_, plain) = post(&app, json!({ "query": PAGE, "variables": variables })).await;
        assert!(json(&plain)["data"]["campaignByDatabaseId"]["generatedDomains"]["totalCount"] == 20, "{plain}");
        let (_, registered) = post(&app, json!({ "query": PAGE, "extensions": extension(&hash), "variables": variables })).await;
        assert_eq!(json(&registered), json(&plain));

        // Then the hash alone, by POST and by GET, gives the same bytes, from the compiled plan.
        let before = compiled_count(&app).await;
        let (_, by_post) = post(&app, json!({ "extensions": extension(&hash), "variables": variables })).await;
        assert_eq!(by_post, plain, "the same bytes as the text");
        let (status, by_get) = get(&app, &hash, &variables).await;
        assert_eq!(status, 200, "{by_get}");
        assert_eq!(by_get, plain);
        assert_eq!(compiled_count(&app).await, before + 2, "hash-only requests run the compiled plan");

        // Other variables with the same hash: the registered text, this request's variables.
        let (_, dns) = post(&app, json!({ "extensions": extension(&hash), "variables": { "campaign": chain.dns } })).await;
        assert_eq!(json(&dns)["data"]["campaignByDatabaseId"]["generatedDomains"]["totalCount"], 0, "{dns}");

        // In a batch, each request resolves its own hash.
        let (_, batch) = post(
            &app,
            json!([
                { "extensions": extension(&hash), "variables": variables },
                { "extensions": extension(&other), "variables": variables },
            ]),
        )
        .await;
        let batch = json(&batch);
        assert_eq!(batch[0], json(&plain));
        assert_eq!(batch[1]["errors"][0]["message"], NOT_FOUND_MESSAGE);

        // Malformed extensions are coded refusals, never a 500.
        for bad in [
            json!({ "persistedQuery": { "version": 1, "sha256Hash": "xyz" } }),
            json!({ "persistedQuery": { "version": 1 } }),
            json!({ "persistedQuery": "x" }),
        ] {
            let (status, text) = post(&app, json!({ "extensions": bad, "variables": variables })).await;
            assert_eq!(status, 200, "{text}");
            assert_eq!(error_code(&json(&text)), "BAD_USER_INPUT", "{text}");
        }
        let (_, text) = post(
            &app,
            json!({ "extensions": { "persistedQuery": { "version": 2, "sha256Hash": hash } }, "variables": variables }),
        )
        .await;
        assert_eq!(json(&text)["errors"][0]["message"], NOT_SUPPORTED_MESSAGE, "{text}");

        // Hits: POST, GET, the DNS campaign's page, the batch's first; misses: the first
        // request, the wrong hash alone, the batch's second; one text registered.
        let counters = app
            .graphql("{ metrics { requests { persistedHits persistedMisses persistedRegistered } } }", json!({}))
            .await;
        assert_eq!(
            counters["data"]["metrics"]["requests"],
            json!({ "persistedHits": 4, "persistedMisses": 3, "persistedRegistered": 1 })
        );
        app.stop().await;
    }
);

db_test!(
    async fn apq_off_answers_texts_and_refuses_hashes(db) {
        let chain = db.seed_chain(5).await;
        let app = db.spawn_app_with(&[("GRAPHQL_APQ_CACHE_SIZE", "0")]).await;
        let variables = json!({ "campaign": chain.generation });
        let hash = sha256_hex(PAGE);
        let (_, text) = post(&app, json!({ "query": PAGE, "extensions": extension(&hash), "variables": variables })).await;
        assert_eq!(json(&text)["data"]["campaignByDatabaseId"]["generatedDomains"]["totalCount"], 5, "{text}");
        let (_, text) = post(&app, json!({ "extensions": extension(&hash), "variables": variables })).await;
        let refused = json(&text);
        assert_eq!(refused["errors"][0]["message"], NOT_SUPPORTED_MESSAGE, "{text}");
        assert_eq!(error_code(&refused), "BAD_USER_INPUT");
        app.stop().await;
    }
);
