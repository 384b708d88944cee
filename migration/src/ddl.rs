//! Small helpers shared by the migrations: run a list of statements for the connected backend.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

/// The same schema object spelled for each backend we support.
pub struct PerBackend<'a> {
    pub postgres: &'a [&'a str],
    pub sqlite: &'a [&'a str],
}

impl PerBackend<'_> {
    /// Executes the statements for the manager's backend, in order.
    pub async fn run(&self, manager: &SchemaManager<'_>) -> Result<(), DbErr> {
        let statements = match manager.get_database_backend() {
            DbBackend::Postgres => self.postgres,
            DbBackend::Sqlite => self.sqlite,
            other => {
                return Err(DbErr::Migration(format!(
                    "unsupported database backend {other:?}: use PostgreSQL or SQLite"
                )));
            }
        };
        let conn = manager.get_connection();
        for sql in statements {
            conn.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
