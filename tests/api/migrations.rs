//! Migrations: up, down to nothing, up again, on both backends; every index exists.

use migration::{INDEXES, Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Statement};

use crate::helpers::{Backend, TestDb};

async fn table_count(db: &TestDb) -> i64 {
    let sql = match db.backend {
        Backend::Postgres => {
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'seaql_migrations'"
        }
        Backend::Sqlite => {
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT IN ('seaql_migrations', 'sqlite_sequence')"
        }
    };
    db.scalar(sql).await
}

async fn index_exists(db: &TestDb, name: &str) -> bool {
    let sql = match db.backend {
        Backend::Postgres => "SELECT count(*) FROM pg_indexes WHERE indexname = $1",
        Backend::Sqlite => "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = $1",
    };
    let row = db
        .db
        .query_one_raw(Statement::from_sql_and_values(db.backend(), sql, [name.into()]))
        .await
        .expect("query")
        .expect("row");
    row.try_get_by_index::<i64>(0).expect("count") == 1
}

db_test!(
    async fn up_down_up(db) {
        let tables = table_count(&db).await;
        assert!(tables >= 6, "the six tables exist, found {tables}");
        for spec in INDEXES {
            assert!(index_exists(&db, spec.name).await, "index {} exists", spec.name);
        }
        assert!(index_exists(&db, "idx_generated_domains_campaign_offset").await || db.backend == Backend::Sqlite);

        Migrator::down(&db.db, None).await.expect("down to nothing");
        assert_eq!(table_count(&db).await, 0, "down removes every table");
        for spec in INDEXES {
            assert!(!index_exists(&db, spec.name).await, "index {} dropped", spec.name);
        }

        Migrator::up(&db.db, None).await.expect("up again");
        assert_eq!(table_count(&db).await, tables);
        assert!(Migrator::get_pending_migrations(&db.db).await.expect("status").is_empty());
    }
);

db_test!(
    async fn check_constraints_reject_bad_values(db) {
        let now = domainflow::entity::Timestamp::now();
        let insert = "INSERT INTO campaigns (id, name, campaign_type, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)";
        let values = |kind: &str, status: &str| -> Vec<sea_orm::Value> {
            vec![
                uuid::Uuid::now_v7().into(),
                "c".into(),
                kind.into(),
                status.into(),
                now.to_value(db.backend()),
                now.to_value(db.backend()),
            ]
        };
        let run = |values: Vec<sea_orm::Value>| {
            db.db.execute_raw(Statement::from_sql_and_values(db.backend(), insert, values))
        };
        run(values("dns_validation", "running")).await.expect("valid row inserts");
        assert!(run(values("DNS_VALIDATION", "running")).await.is_err(), "value set is snake_case");
        assert!(run(values("dns_validation", "exploded")).await.is_err(), "unknown status refused");
        if db.backend == Backend::Sqlite {
            // A time written as text would corrupt the sort order: the schema refuses it.
            let mut bad = values("dns_validation", "running");
            bad[4] = "2026-01-01T00:00:00Z".into();
            assert!(run(bad).await.is_err(), "SQLite times must be integer microseconds");
        }
    }
);
