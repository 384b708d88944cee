//! `domainflow seed`: row counts, idempotence, resumption after an interruption, and the same
//! rows on SQLite and PostgreSQL.

use domainflow::entity::{campaign, dns_validation_result, generated_domain, http_keyword_result};
use domainflow::seed::{self, SeedLimits, SeedOptions, chain_ids};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::helpers::{Backend, TestDb};

const DOMAINS: u64 = 3_000;

fn options(campaigns: u32, domains: u64) -> SeedOptions {
    SeedOptions {
        campaigns,
        domains,
        progress: false,
    }
}

/// Everything the seed wrote for `chains` chains of `domains`, in primary-key order.
#[derive(Debug, PartialEq)]
struct Dump {
    campaigns: Vec<campaign::Model>,
    domains: Vec<generated_domain::Model>,
    dns: Vec<dns_validation_result::Model>,
    http: Vec<http_keyword_result::Model>,
}

async fn dump(db: &TestDb, chains: u32, domains: u64) -> Dump {
    let mut out = Dump {
        campaigns: Vec::new(),
        domains: Vec::new(),
        dns: Vec::new(),
        http: Vec::new(),
    };
    for chain in 0..chains {
        let ids = chain_ids(chain, domains);
        for id in [ids.generation, ids.dns, ids.http] {
            out.campaigns
                .extend(campaign::Entity::find_by_id(id).one(&db.db).await.expect("campaign"));
        }
        out.domains.extend(
            generated_domain::Entity::find()
                .filter(generated_domain::Column::DomainGenerationCampaignId.eq(ids.generation))
                .order_by_asc(generated_domain::Column::Id)
                .all(&db.db)
                .await
                .expect("generated domains"),
        );
        out.dns.extend(
            dns_validation_result::Entity::find()
                .filter(dns_validation_result::Column::DnsCampaignId.eq(ids.dns))
                .order_by_asc(dns_validation_result::Column::Id)
                .all(&db.db)
                .await
                .expect("dns results"),
        );
        out.http.extend(
            http_keyword_result::Entity::find()
                .filter(http_keyword_result::Column::HttpKeywordCampaignId.eq(ids.http))
                .order_by_asc(http_keyword_result::Column::Id)
                .all(&db.db)
                .await
                .expect("http results"),
        );
    }
    out
}

db_test!(
    async fn seeds_every_row_once(db) {
        let report = seed::seed(&db.db, &options(2, DOMAINS)).await.expect("seed");
        let data = dump(&db, 2, DOMAINS).await;
        assert_eq!(data.campaigns.len(), 6);
        assert_eq!(data.domains.len() as u64, 2 * DOMAINS);
        assert_eq!(data.dns.len() as u64, 2 * DOMAINS);
        let qualifying = data
            .dns
            .iter()
            .filter(|r| {
                matches!(
                    r.business_status,
                    Some(domainflow::entity::BusinessStatus::LeadCandidate | domainflow::entity::BusinessStatus::ValidDns)
                )
            })
            .count();
        assert_eq!(data.http.len(), qualifying);
        assert!((3_000..4_200).contains(&qualifying), "{qualifying} HTTP rows");
        assert_eq!(report.written(), 6 + 4 * DOMAINS + qualifying as u64);
        assert_eq!(report.present(), 0);

        // Each chain: generation ← DNS ← HTTP, completed, with item counts.
        for chain in 0..2 {
            let ids = chain_ids(chain, DOMAINS);
            let find = |id| data.campaigns.iter().find(|c| c.id == id).expect("campaign present");
            let (g, d, h) = (find(ids.generation), find(ids.dns), find(ids.http));
            assert_eq!(g.source_campaign_id, None);
            assert_eq!(d.source_campaign_id, Some(g.id));
            assert_eq!(h.source_campaign_id, Some(d.id));
            assert_eq!(g.total_items, DOMAINS as i64);
            assert_eq!(g.params["numDomainsToGenerate"], serde_json::json!(DOMAINS));
            assert!(g.name.contains("3,000 domains"), "{}", g.name);
            assert!(data.http.iter().filter(|r| r.http_keyword_campaign_id == h.id).count() as i64 == h.total_items);
        }
        // Offsets are 0..N per campaign, and every DNS row points at its generated domain.
        let ids = chain_ids(0, DOMAINS);
        let mut offsets: Vec<i64> = data
            .domains
            .iter()
            .filter(|d| d.domain_generation_campaign_id == ids.generation)
            .map(|d| d.offset_index)
            .collect();
        offsets.sort_unstable();
        assert_eq!(offsets, (0..DOMAINS as i64).collect::<Vec<_>>());
        for (dns, domain) in data.dns.iter().zip(&data.domains).take(DOMAINS as usize) {
            assert_eq!(dns.generated_domain_id, Some(domain.id));
            assert_eq!(dns.domain_name, domain.domain_name);
        }

        // Bulk loads (binary COPY on PostgreSQL) keep the maintained counts exact.
        use domainflow::db::counts;
        use domainflow::entity::{BusinessStatus, ValidationStatus};
        for chain in 0..2 {
            let ids = chain_ids(chain, DOMAINS);
            let gd = counts::generated_domains_total(&db.db, ids.generation).await.expect("gd total");
            assert_eq!(gd, DOMAINS as i64);
            let dns = counts::dns_results_total(&db.db, ids.dns, None, None).await.expect("dns total");
            assert_eq!(dns, DOMAINS as i64);
            let leads = counts::dns_results_total(
                &db.db,
                ids.dns,
                Some(ValidationStatus::Valid),
                Some(Some(BusinessStatus::LeadCandidate)),
            )
            .await
            .expect("lead total");
            let expected = data
                .dns
                .iter()
                .filter(|r| r.dns_campaign_id == ids.dns && r.business_status == Some(BusinessStatus::LeadCandidate))
                .count();
            assert_eq!(leads, expected as i64);
            let unclassified = counts::dns_results_total(&db.db, ids.dns, None, Some(None)).await.expect("null total");
            let expected = data
                .dns
                .iter()
                .filter(|r| r.dns_campaign_id == ids.dns && r.business_status.is_none())
                .count();
            assert_eq!(unclassified, expected as i64);
            let http_errors = counts::http_results_total(&db.db, ids.http, Some(ValidationStatus::Error))
                .await
                .expect("http errors");
            let expected = data
                .http
                .iter()
                .filter(|r| r.http_keyword_campaign_id == ids.http && r.validation_status == ValidationStatus::Error)
                .count();
            assert_eq!(http_errors, expected as i64);
        }

        let again = seed::seed(&db.db, &options(2, DOMAINS)).await.expect("second seed");
        assert_eq!(again.written(), 0);
        assert_eq!(again.present(), report.written());
        assert!(again.to_string().contains("nothing to do"), "{again}");
        assert_eq!(dump(&db, 2, DOMAINS).await, data);
    }
);

db_test!(
    async fn an_interrupted_run_resumes_to_identical_rows(db) {
        // Interrupted after 4,000 rows, in chunks of 700: chain 0's domains and a third of its DNS.
        let limits = SeedLimits {
            max_rows: 4_000,
            chunk_rows: 700,
        };
        let first = seed::seed_with_limits(&db.db, &options(2, DOMAINS), limits).await.expect("partial seed");
        assert_eq!(first.written(), 6 + 4_000);
        let partial = dump(&db, 2, DOMAINS).await;
        assert_eq!(partial.domains.len(), 3_000);
        assert_eq!(partial.dns.len(), 1_000);
        assert!(partial.http.is_empty());

        // A second interruption mid-table, then a run to the end.
        let second = seed::seed_with_limits(&db.db, &options(2, DOMAINS), SeedLimits { max_rows: 2_345, ..limits })
            .await
            .expect("second partial seed");
        assert_eq!(second.written(), 2_345);
        assert_eq!(second.present(), 6 + 4_000);
        seed::seed(&db.db, &options(2, DOMAINS)).await.expect("resume");
        let resumed = dump(&db, 2, DOMAINS).await;

        let fresh = TestDb::new(db.backend).await.expect("second database");
        seed::seed(&fresh.db, &options(2, DOMAINS)).await.expect("one-shot seed");
        let expected = dump(&fresh, 2, DOMAINS).await;
        assert_eq!(resumed, expected);

        // A crash can also leave any prefix: drop the newest 500 DNS rows of chain 1.
        let ids = chain_ids(1, DOMAINS);
        let cut = expected.dns.iter().filter(|r| r.dns_campaign_id == ids.dns).nth(2_500).expect("row 2,500");
        db.exec(
            "DELETE FROM dns_validation_results WHERE dns_campaign_id = $1 AND created_at >= $2",
            vec![ids.dns.into(), cut.created_at.to_value(db.backend())],
        )
        .await;
        let repaired = seed::seed(&db.db, &options(2, DOMAINS)).await.expect("repair");
        assert_eq!(repaired.table("dns_validation_results").map(|t| t.written), Some(500));
        assert_eq!(repaired.written(), 500);
        assert_eq!(dump(&db, 2, DOMAINS).await, expected);
    }
);

db_test!(
    async fn demo_data_loads_only_into_an_empty_database(db) {
        assert!(seed::load_demo_if_empty(&db.db).await.expect("demo"));
        let data = dump(&db, seed::DEMO_CHAINS, seed::DEMO_DOMAINS).await;
        assert_eq!(data.campaigns.len(), 3 * seed::DEMO_CHAINS as usize);
        assert_eq!(data.domains.len() as u64, u64::from(seed::DEMO_CHAINS) * seed::DEMO_DOMAINS);
        assert!(!seed::load_demo_if_empty(&db.db).await.expect("second call"));
    }
);

/// Both backends hold the same rows, down to the microsecond and the JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_hold_identical_rows() {
    let Some(pg) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let Some(lite) = TestDb::new(Backend::Sqlite).await else {
        return;
    };
    let opts = options(1, 2_000);
    seed::seed(&pg.db, &opts).await.expect("seed postgres");
    seed::seed(&lite.db, &opts).await.expect("seed sqlite");
    let (a, b) = (dump(&pg, 1, 2_000).await, dump(&lite, 1, 2_000).await);
    assert_eq!(a.domains.len(), 2_000);
    assert_eq!(a, b);
}

#[tokio::test]
async fn rejects_an_empty_chain() {
    let Some(db) = TestDb::new(Backend::Sqlite).await else {
        return;
    };
    let err = seed::seed(&db.db, &options(1, 0)).await.expect_err("0 domains");
    assert!(err.to_string().contains("--domains"), "{err}");
}
