//! Maintained row counts: one row per (campaign, combination of filterable values), kept by the
//! database itself, so `totalCount` is a SUM over at most a few dozen rows instead of a
//! `count(*)` over millions.
//!
//! On PostgreSQL, `m20261204_000008_append_only_counts` replaces this migration's upsert with
//! append-only deltas and compaction, so concurrent writers never wait on counter rows; the
//! function below is what its `down` restores. SQLite keeps this design.
//!
//! The counts are kept by triggers rather than by this server because the rows are written by
//! another program (the campaign engine); only the database sees every write.
//!
//! - **PostgreSQL**: one plpgsql function per counted table, fired by statement-level AFTER
//!   INSERT / UPDATE / DELETE triggers with transition tables (PostgreSQL allows transition
//!   tables only on single-event triggers, hence one trigger per event) and an AFTER TRUNCATE
//!   trigger. Each statement applies ONE aggregated upsert, `count(*) … GROUP BY key`, so a
//!   2M-row bulk load touches each counter row once. A row-level trigger would update the same
//!   counter row 2M times, each update leaving a dead tuple the next one has to step over:
//!   quadratic. The upsert visits keys in a fixed order (ORDER BY the key), so two writers
//!   touching the same keys lock them in the same order and cannot deadlock on them. An UPDATE
//!   contributes the net delta per key (new rows +1, old rows -1), so updates that change no
//!   key (attempts, last_checked_at, a campaign's progress) take no counter lock at all.
//! - **SQLite**: row-level AFTER INSERT / DELETE / UPDATE OF <key columns> triggers doing +1 / -1
//!   upserts. SQLite has one writer at a time and no MVCC bloat, so row triggers cost O(1) each.
//!
//! A counter row is a hot row: on PostgreSQL, a writer's statement locks the counter rows of
//! the keys it wrote until its transaction ends, so concurrent writers into the same campaign
//! queue there from their statement's end to the other's commit (they never lose an update).
//! Within one statement keys are locked in order; a writer whose transaction spans several
//! campaigns in separate statements should visit them in a consistent order, as with any row
//! lock, or PostgreSQL will abort one of two such writers as a deadlock. Writers under
//! REPEATABLE READ or SERIALIZABLE get a serialization failure on a concurrently updated
//! counter row and must retry, as they would on any row.
//!
//! Counter rows that reach 0 are deleted, so deleting a campaign (its rows go by ON DELETE
//! CASCADE, which fires the result tables' delete triggers) leaves nothing behind. The counts
//! tables have no foreign keys: a cascade from `campaigns` could remove a counter row before
//! the result rows' delete triggers decrement it, and the decrement would then recreate it
//! with a negative count.
//!
//! **NULL business_status** is stored as `''` in `dns_validation_result_counts.business_status`:
//! a primary-key column cannot be NULL, and `ON CONFLICT` needs a unique key that treats two
//! NULL-status rows as the same key on both backends. `''` is outside the value set (the CHECK
//! on `dns_validation_results.business_status` rejects it), so it cannot collide with a real
//! status. The read API (`domainflow::db::counts`) maps `''` back to `None`.
//!
//! Known limit: on SQLite, `INSERT OR REPLACE` deletes the row it replaces without firing
//! delete triggers (unless `PRAGMA recursive_triggers` is on), so a writer must use
//! `INSERT … ON CONFLICT DO UPDATE` (which fires the update trigger) instead.
//!
//! Up backfills the counts from the rows already present. On PostgreSQL it first takes SHARE
//! ROW EXCLUSIVE locks on the counted tables (readers carry on, writers wait) so that no write
//! lands between creating the triggers and the backfill, where it would be missed or counted
//! twice; on SQLite the migration's transaction holds the single write lock for the same effect.

use crate::ddl::PerBackend;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One column of a counts key: the same name in the counted table and in its counts table.
pub(crate) struct KeyColumn {
    pub(crate) name: &'static str,
    /// PostgreSQL type of the column, for the plpgsql arrays that collect emptied keys.
    pub(crate) pg_type: &'static str,
    /// Stored as `''` in the counts table when NULL in the counted table (see the module doc).
    pub(crate) nullable: bool,
}

impl KeyColumn {
    /// The key value of a row of the counted table; `row` is "" or a prefix like "NEW.".
    pub(crate) fn value(&self, row: &str) -> String {
        if self.nullable {
            format!("COALESCE({row}{}, '')", self.name)
        } else {
            format!("{row}{}", self.name)
        }
    }
}

/// A counted table, its counts table and the key it is counted by (campaign column first).
pub(crate) struct Counted {
    pub(crate) table: &'static str,
    pub(crate) counts: &'static str,
    pub(crate) key: &'static [KeyColumn],
}

const fn uuid_col(name: &'static str) -> KeyColumn {
    KeyColumn {
        name,
        pg_type: "uuid",
        nullable: false,
    }
}

const fn text_col(name: &'static str) -> KeyColumn {
    KeyColumn {
        name,
        pg_type: "text",
        nullable: false,
    }
}

/// Every counted table. The keys are exactly the filterable columns of each connection.
pub(crate) const COUNTED: &[Counted] = &[
    Counted {
        table: "campaigns",
        counts: "campaign_counts",
        key: &[text_col("campaign_type"), text_col("status")],
    },
    Counted {
        table: "generated_domains",
        counts: "generated_domain_counts",
        key: &[uuid_col("domain_generation_campaign_id")],
    },
    Counted {
        table: "dns_validation_results",
        counts: "dns_validation_result_counts",
        key: &[
            uuid_col("dns_campaign_id"),
            text_col("validation_status"),
            KeyColumn {
                name: "business_status",
                pg_type: "text",
                nullable: true,
            },
        ],
    },
    Counted {
        table: "http_keyword_results",
        counts: "http_keyword_result_counts",
        key: &[uuid_col("http_keyword_campaign_id"), text_col("validation_status")],
    },
];

/// On PostgreSQL each counter row is rewritten by every statement that touches its key; the free
/// space left by `fillfactor` lets those rewrites stay on the same page as HOT updates, which
/// skip the primary-key index and are pruned without waiting for VACUUM.
const CREATE_TABLES: PerBackend = PerBackend {
    postgres: &[
        r#"
CREATE TABLE campaign_counts (
    campaign_type TEXT NOT NULL,
    status        TEXT NOT NULL,
    row_count     BIGINT NOT NULL,
    PRIMARY KEY (campaign_type, status)
) WITH (fillfactor = 50)"#,
        r#"
CREATE TABLE generated_domain_counts (
    domain_generation_campaign_id UUID NOT NULL,
    row_count                     BIGINT NOT NULL,
    PRIMARY KEY (domain_generation_campaign_id)
) WITH (fillfactor = 50)"#,
        r#"
CREATE TABLE dns_validation_result_counts (
    dns_campaign_id   UUID NOT NULL,
    validation_status TEXT NOT NULL,
    business_status   TEXT NOT NULL,  -- '' stands for NULL
    row_count         BIGINT NOT NULL,
    PRIMARY KEY (dns_campaign_id, validation_status, business_status)
) WITH (fillfactor = 50)"#,
        r#"
CREATE TABLE http_keyword_result_counts (
    http_keyword_campaign_id UUID NOT NULL,
    validation_status        TEXT NOT NULL,
    row_count                BIGINT NOT NULL,
    PRIMARY KEY (http_keyword_campaign_id, validation_status)
) WITH (fillfactor = 50)"#,
    ],
    sqlite: &[
        r#"
CREATE TABLE campaign_counts (
    campaign_type TEXT NOT NULL,
    status        TEXT NOT NULL,
    row_count     INTEGER NOT NULL,
    PRIMARY KEY (campaign_type, status)
) WITHOUT ROWID"#,
        r#"
CREATE TABLE generated_domain_counts (
    domain_generation_campaign_id BLOB NOT NULL,
    row_count                     INTEGER NOT NULL,
    PRIMARY KEY (domain_generation_campaign_id)
) WITHOUT ROWID"#,
        r#"
CREATE TABLE dns_validation_result_counts (
    dns_campaign_id   BLOB NOT NULL,
    validation_status TEXT NOT NULL,
    business_status   TEXT NOT NULL,  -- '' stands for NULL
    row_count         INTEGER NOT NULL,
    PRIMARY KEY (dns_campaign_id, validation_status, business_status)
) WITHOUT ROWID"#,
        r#"
CREATE TABLE http_keyword_result_counts (
    http_keyword_campaign_id BLOB NOT NULL,
    validation_status        TEXT NOT NULL,
    row_count                INTEGER NOT NULL,
    PRIMARY KEY (http_keyword_campaign_id, validation_status)
) WITHOUT ROWID"#,
    ],
};

/// Holds off writers (not readers) of the counted tables until the migration commits, so the
/// backfill and the triggers see exactly complementary sets of rows. Parents first, the order
/// a cascading delete locks them in.
const PG_LOCK: &str = "LOCK TABLE campaigns, generated_domains, dns_validation_results, \
                       http_keyword_results IN SHARE ROW EXCLUSIVE MODE";

/// `SELECT key, count(*) AS n FROM <source> GROUP BY key`, with the key columns named as in the
/// counts table.
pub(crate) fn aggregate(t: &Counted, source: &str, sign: &str) -> String {
    let values = key_values(t, "");
    let positions = (1..=t.key.len()).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
    format!("SELECT {values}, {sign}count(*) AS n FROM {source} GROUP BY {positions}")
}

/// The key of a counted-table row, each value aliased to its counts-table column.
pub(crate) fn key_values(t: &Counted, row: &str) -> String {
    t.key
        .iter()
        .map(|k| {
            if k.nullable {
                format!("{} AS {}", k.value(row), k.name)
            } else {
                k.value(row)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn key_names(t: &Counted, prefix: &str) -> String {
    t.key
        .iter()
        .map(|k| format!("{prefix}{}", k.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn backfill(t: &Counted) -> String {
    format!(
        "INSERT INTO {counts} ({names}, row_count) {select}",
        counts = t.counts,
        names = key_names(t, ""),
        select = aggregate(t, t.table, ""),
    )
}

pub(crate) fn pg_function_name(t: &Counted) -> String {
    format!("maintain_{}", t.counts)
}

/// The plpgsql function behind the four triggers of one counted table.
pub(crate) fn pg_function(t: &Counted) -> String {
    let counts = t.counts;
    let names = key_names(t, "");
    let emptied = key_names(t, "emptied_");
    let declare: String = t
        .key
        .iter()
        .map(|k| format!("    emptied_{} {}[];\n", k.name, k.pg_type))
        .collect();
    let collect_emptied = t
        .key
        .iter()
        .map(|k| format!("array_agg({})", k.name))
        .collect::<Vec<_>>()
        .join(", ");
    let matches_emptied = t
        .key
        .iter()
        .map(|k| format!("c.{0} = e.{0}", k.name))
        .collect::<Vec<_>>()
        .join(" AND ");
    let first = t.key[0].name;
    // Adds one statement's per-key delta to the counts, keys in a fixed order so concurrent
    // writers lock counter rows in the same order, then deletes the counter rows it emptied
    // (found through RETURNING, so the transition table is read only once).
    let apply = |delta: String| {
        format!(
            r#"
        WITH delta AS ({delta}),
        applied AS (
            INSERT INTO {counts} AS c ({names}, row_count)
            SELECT {names}, n FROM delta ORDER BY {names}
            ON CONFLICT ({names}) DO UPDATE SET row_count = c.row_count + EXCLUDED.row_count
            RETURNING {returning}, c.row_count
        )
        SELECT {collect_emptied} INTO {emptied} FROM applied WHERE row_count = 0;"#,
            returning = key_names(t, "c."),
        )
    };
    let insert = apply(aggregate(t, "new_rows", ""));
    let delete = apply(aggregate(t, "old_rows", "-"));
    // Only rows whose key changed contribute a non-zero net delta.
    let update = apply(format!(
        "SELECT {names}, sum(n) AS n FROM (\
         SELECT {values}, 1 AS n FROM new_rows \
         UNION ALL SELECT {values}, -1 AS n FROM old_rows) AS moved \
         GROUP BY {names} HAVING sum(n) <> 0",
        values = key_values(t, ""),
    ));
    format!(
        r#"
CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
{declare}BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM {counts};
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN{insert}
    ELSIF TG_OP = 'UPDATE' THEN{update}
    ELSE{delete}
    END IF;
    IF emptied_{first} IS NOT NULL THEN
        DELETE FROM {counts} AS c
        USING unnest({emptied}) AS e({names})
        WHERE {matches_emptied} AND c.row_count = 0;
    END IF;
    RETURN NULL;
END
$fn$"#,
        function = pg_function_name(t),
    )
}

fn pg_triggers(t: &Counted) -> Vec<String> {
    let (table, counts, function) = (t.table, t.counts, pg_function_name(t));
    vec![
        format!(
            "CREATE TRIGGER {counts}_on_insert AFTER INSERT ON {table} \
             REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        ),
        format!(
            "CREATE TRIGGER {counts}_on_update AFTER UPDATE ON {table} \
             REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows \
             FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        ),
        format!(
            "CREATE TRIGGER {counts}_on_delete AFTER DELETE ON {table} \
             REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        ),
        format!(
            "CREATE TRIGGER {counts}_on_truncate AFTER TRUNCATE ON {table} \
             FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        ),
    ]
}

/// `SET row_count = row_count - 1` for the key of `OLD`, then drop the row if it emptied.
fn sqlite_decrement(t: &Counted) -> String {
    let matches_old = t
        .key
        .iter()
        .map(|k| format!("{} = {}", k.name, k.value("OLD.")))
        .collect::<Vec<_>>()
        .join(" AND ");
    format!(
        "UPDATE {counts} SET row_count = row_count - 1 WHERE {matches_old};\n    \
         DELETE FROM {counts} WHERE {matches_old} AND row_count = 0;",
        counts = t.counts,
    )
}

/// Upsert of +1 for the key of `NEW`.
fn sqlite_increment(t: &Counted) -> String {
    let names = key_names(t, "");
    let values = t.key.iter().map(|k| k.value("NEW.")).collect::<Vec<_>>().join(", ");
    format!(
        "INSERT INTO {counts} ({names}, row_count) VALUES ({values}, 1) \
         ON CONFLICT ({names}) DO UPDATE SET row_count = row_count + 1;",
        counts = t.counts,
    )
}

fn sqlite_triggers(t: &Counted) -> Vec<String> {
    let (table, counts) = (t.table, t.counts);
    let key_changed = t
        .key
        .iter()
        .map(|k| format!("OLD.{0} IS NOT NEW.{0}", k.name))
        .collect::<Vec<_>>()
        .join(" OR ");
    let (increment, decrement) = (sqlite_increment(t), sqlite_decrement(t));
    vec![
        format!("CREATE TRIGGER {counts}_on_insert AFTER INSERT ON {table} BEGIN\n    {increment}\nEND"),
        format!("CREATE TRIGGER {counts}_on_delete AFTER DELETE ON {table} BEGIN\n    {decrement}\nEND"),
        format!(
            "CREATE TRIGGER {counts}_on_update AFTER UPDATE OF {names} ON {table} \
             WHEN {key_changed} BEGIN\n    {decrement}\n    {increment}\nEND",
            names = key_names(t, ""),
        ),
    ]
}

fn up_statements(backend: DbBackend) -> Vec<String> {
    let mut statements = Vec::new();
    match backend {
        DbBackend::Postgres => {
            statements.push(PG_LOCK.to_owned());
            statements.extend(CREATE_TABLES.postgres.iter().map(|s| (*s).to_owned()));
            for t in COUNTED {
                statements.push(pg_function(t));
                statements.extend(pg_triggers(t));
            }
        }
        _ => {
            statements.extend(CREATE_TABLES.sqlite.iter().map(|s| (*s).to_owned()));
            for t in COUNTED {
                statements.extend(sqlite_triggers(t));
            }
        }
    }
    statements.extend(COUNTED.iter().map(backfill));
    statements
}

fn down_statements(backend: DbBackend) -> Vec<String> {
    let mut statements = Vec::new();
    for t in COUNTED {
        match backend {
            DbBackend::Postgres => {
                for event in ["insert", "update", "delete", "truncate"] {
                    statements.push(format!("DROP TRIGGER {}_on_{event} ON {}", t.counts, t.table));
                }
                statements.push(format!("DROP FUNCTION {}()", pg_function_name(t)));
            }
            _ => {
                for event in ["insert", "update", "delete"] {
                    statements.push(format!("DROP TRIGGER {}_on_{event}", t.counts));
                }
            }
        }
        statements.push(format!("DROP TABLE {}", t.counts));
    }
    statements
}

/// Runs generated statements through the same per-backend runner as the other migrations.
pub(crate) async fn run(manager: &SchemaManager<'_>, build: fn(DbBackend) -> Vec<String>) -> Result<(), DbErr> {
    let postgres = build(DbBackend::Postgres);
    let sqlite = build(DbBackend::Sqlite);
    let postgres: Vec<&str> = postgres.iter().map(String::as_str).collect();
    let sqlite: Vec<&str> = sqlite.iter().map(String::as_str).collect();
    PerBackend {
        postgres: &postgres,
        sqlite: &sqlite,
    }
    .run(manager)
    .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, up_statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, down_statements).await
    }

    /// Triggers and backfill must commit together (see the module doc), on SQLite too, where
    /// sea-orm-migration would otherwise run without a transaction.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_update_delta_nets_old_against_new() {
        let sql = pg_function(&COUNTED[2]);
        assert!(sql.contains("COALESCE(business_status, '') AS business_status, 1 AS n FROM new_rows"));
        assert!(sql.contains("HAVING sum(n) <> 0"));
        assert!(sql.contains("ORDER BY dns_campaign_id, validation_status, business_status"));
    }

    #[test]
    fn sqlite_update_trigger_fires_only_on_key_change() {
        let sql = sqlite_triggers(&COUNTED[2]).join("\n");
        assert!(sql.contains("AFTER UPDATE OF dns_campaign_id, validation_status, business_status"));
        assert!(sql.contains("OLD.business_status IS NOT NEW.business_status"));
    }
}
