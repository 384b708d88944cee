//! Graceful shutdown under load: SIGTERM to the real binary while clients keep sending
//! requests — every request in flight at the signal completes with its data, new requests are
//! refused once SHUTDOWN_DELAY_MS has passed, and the process exits 0 within the grace period.

use std::sync::Arc;
use std::time::{Duration, Instant};

use domainflow::perf::server::ServerMode;
use serde_json::{Value, json};

const PAGE: &str = "query($c: UUID!) { campaignByDatabaseId(databaseId: $c) {
    generatedDomains(first: 1000) { totalCount edges { cursor node { id domainName offsetIndex createdAt } } } } }";

/// One request as a client saw it.
struct Sent {
    at: Instant,
    done: Instant,
    ok: bool,
    error: String,
}

db_test!(
    async fn sigterm_finishes_requests_in_flight_refuses_new_ones_and_exits_0(db) {
        let ids = domainflow::seed::chain_ids(0, 3_000);
        domainflow::seed::seed(&db.db, &domainflow::seed::SeedOptions { campaigns: 1, domains: 3_000, progress: false })
            .await
            .expect("seed");
        let mut env = db.env();
        env.insert("RUST_LOG".to_owned(), "error".to_owned());
        env.insert("SHUTDOWN_GRACE_SECONDS".to_owned(), "10".to_owned());
        env.insert("SHUTDOWN_DELAY_MS".to_owned(), "300".to_owned());
        let mode = ServerMode::Child {
            binary: env!("CARGO_BIN_EXE_domainflow").into(),
            env,
            config: None,
        };
        let server = domainflow::perf::server::Server::start(&mode, &db.settings(&[]))
            .await
            .expect("server starts");
        let url = server.graphql_url();
        let body = Arc::new(json!({ "query": PAGE, "variables": { "c": ids.generation } }));
        let client = reqwest::Client::new();
        let stop_at = Instant::now() + Duration::from_secs(8);
        let mut users = Vec::new();
        for _ in 0..8 {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            users.push(tokio::spawn(async move {
                let mut sent = Vec::new();
                while Instant::now() < stop_at {
                    let at = Instant::now();
                    let (ok, error) = match client.post(&url).json(&*body).send().await {
                        Ok(response) => match response.json::<Value>().await {
                            Ok(v) => (
                                v["data"]["campaignByDatabaseId"]["generatedDomains"]["edges"].as_array().is_some_and(|e| e.len() == 1000),
                                v["errors"].to_string(),
                            ),
                            Err(e) => (false, e.to_string()),
                        },
                        Err(e) => (false, e.to_string()),
                    };
                    sent.push(Sent { at, done: Instant::now(), ok, error });
                    if !ok {
                        // Refused: the server is going away; try again shortly until the end.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                sent
            }));
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let signalled = Instant::now();
        let stopped = tokio::spawn(server.stop());
        let mut all = Vec::new();
        for user in users {
            all.extend(user.await.expect("client task"));
        }
        let exit = stopped.await.expect("stop task");
        assert!(exit.is_ok(), "exit 0 within the grace period: {exit:?}");
        assert!(signalled.elapsed() < Duration::from_secs(20));

        let before: Vec<&Sent> = all.iter().filter(|s| s.done < signalled).collect();
        assert!(!before.is_empty() && before.iter().all(|s| s.ok), "served normally before the signal");
        let in_flight: Vec<&Sent> = all.iter().filter(|s| s.at < signalled && s.done >= signalled).collect();
        assert!(!in_flight.is_empty(), "some requests were in flight at the signal");
        let report: Vec<String> = in_flight
            .iter()
            .map(|s| format!("sent {:?} before, done {:?} after, ok {} {}", signalled - s.at, s.done - signalled, s.ok, s.error))
            .collect();
        assert!(in_flight.iter().all(|s| s.ok), "every request in flight at the signal completed with its data: {report:#?}");
        let after: Vec<&Sent> = all.iter().filter(|s| s.at > signalled + Duration::from_millis(1000)).collect();
        assert!(!after.is_empty() && after.iter().all(|s| !s.ok), "new requests are refused after the signal");
    }
);
