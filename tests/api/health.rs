//! /healthz says the process is alive; /readyz says whether the database answers.

use crate::helpers::Backend;

db_test!(
    async fn healthz_and_readyz(db) {
        let app = db.spawn_app().await;
        assert_eq!(app.get("/healthz").await.0, 200);
        let (status, body) = app.get("/readyz").await;
        assert_eq!(status, 200, "{body}");

        // Take the database away underneath the running server.
        match db.backend {
            Backend::Postgres => {
                let name = db.pg_name().unwrap_or_default();
                db.admin_exec(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false")).await;
                db.admin_exec(&format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                ))
                .await;
            }
            Backend::Sqlite => {
                // Hold the write lock and make the file unreadable by replacing it.
                let path = db.url.trim_start_matches("sqlite://").split('?').next().unwrap_or_default().to_owned();
                std::fs::write(&path, b"this is not a database any more, it is junk that SQLite cannot open at all")
                    .expect("clobber file");
                for ext in ["-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{path}{ext}"));
                }
            }
        }
        let (status, body) = app.get("/readyz").await;
        assert_eq!(status, 503, "readyz fails when the database is gone: {body}");
        assert_eq!(app.get("/healthz").await.0, 200, "the process itself is still alive");
        if let Some(name) = db.pg_name() {
            db.admin_exec(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true")).await;
            let (status, body) = app.get("/readyz").await;
            assert_eq!(status, 200, "readyz recovers when the database is back: {body}");
        }
        app.stop().await;
    }
);
