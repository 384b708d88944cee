//! Micro-benchmarks of the hot pieces, so regressions show: cursor encode/decode, keyset SQL
//! building, and what recording a query costs (the observed gate with monitoring on vs off).
//! Plain timing loops (median of 7 samples) rather than criterion, to keep the build small.
//!
//! Run: `cargo bench --bench hot_paths`

use std::hint::black_box;
use std::time::{Duration, Instant};

use domainflow::db::Observer;
use domainflow::entity::{Timestamp, dns_validation_result};
use domainflow::metrics::{Metrics, MetricsConfig};
use domainflow::pagination::args::From as PageFrom;
use domainflow::pagination::cursor::filter_hash;
use domainflow::pagination::{
    Cursor, CursorScope, Direction, KeysetQuery, PageWindow, RowId, SortKind, SortValue, page_statement,
};
use sea_orm::{ColumnTrait, Condition, DbBackend};
use uuid::Uuid;

fn bench(name: &str, iterations: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..iterations / 10 {
        f();
    }
    let mut samples = Vec::with_capacity(7);
    for _ in 0..7 {
        let started = Instant::now();
        for _ in 0..iterations {
            f();
        }
        samples.push(started.elapsed().as_nanos() as f64 / f64::from(iterations));
    }
    samples.sort_by(f64::total_cmp);
    let median = samples[3];
    println!("{name:<48} {median:>10.1} ns/iter");
    median
}

fn scope() -> CursorScope {
    CursorScope {
        connection: 3,
        parent: Uuid::now_v7(),
        ordering: 0,
        direction: Direction::Asc,
        filter_hash: filter_hash(["valid", "lead_candidate"]),
    }
}

fn main() {
    let scope = scope();
    let cursor = Cursor {
        scope,
        value: SortValue::Time(Timestamp(1_767_225_600_000_000)),
        id: RowId::Uuid(Uuid::now_v7()),
    };
    bench("cursor encode", 200_000, || {
        black_box(black_box(&cursor).encode());
    });
    let encoded = cursor.encode();
    bench("cursor decode + validate", 200_000, || {
        black_box(Cursor::decode(black_box(&encoded), "after", &scope, SortKind::Time).ok());
    });

    use dns_validation_result::Column;
    let query = KeysetQuery::<dns_validation_result::Entity> {
        scope,
        condition: Condition::all()
            .add(Column::DnsCampaignId.eq(scope.parent))
            .add(Column::ValidationStatus.eq("valid")),
        sort_column: Column::CreatedAt,
        sort_kind: SortKind::Time,
        id_column: Some(Column::Id),
        total: None,
        guard: None,
        position: |m| (SortValue::Time(m.created_at), RowId::Uuid(m.id)),
    };
    let window = PageWindow {
        size: 50,
        from: PageFrom::Start,
        after: Some(cursor.clone()),
        before: None,
    };
    bench("keyset page statement: build + render SQL", 50_000, || {
        let statement = page_statement(&query, &window, DbBackend::Postgres);
        black_box(statement.build(DbBackend::Postgres));
    });

    // What the gate adds to one database call, monitoring on vs off (the call itself is a
    // no-op here, so this is the whole recording cost).
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: {e}"),
    };
    let mut results = Vec::new();
    for (label, monitoring) in [
        ("observed gate, monitoring on", true),
        ("observed gate, monitoring off", false),
    ] {
        let mut config = MetricsConfig::for_pool(100);
        config.query_monitoring = monitoring;
        config.connection_monitoring = monitoring;
        let observer = Observer::new(
            Metrics::new(config),
            false,
            Duration::from_secs(5),
            domainflow::db::health::Health::new(true, None),
        );
        let per_call = bench(label, 200_000, || {
            runtime.block_on(async {
                let out = observer
                    .run(
                        "dns_validation_results.page",
                        |_: &u32| 50,
                        String::new,
                        || async { Ok(1u32) },
                    )
                    .await;
                black_box(out.ok());
            });
        });
        results.push(per_call);
    }
    let bare = bench("no gate (block_on of a ready future)", 200_000, || {
        runtime.block_on(async { black_box(1u32) });
    });
    let recording = results[0] - results[1];
    println!(
        "recording costs {recording:.0} ns per database call (gate alone {:.0} ns); \
         at one call per request and 0.1 ms of server CPU per request that is {:.2} %",
        results[1] - bare,
        recording / 100_000.0 * 100.0
    );
}
