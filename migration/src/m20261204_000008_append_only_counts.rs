//! Append-only counts on PostgreSQL: concurrent writers into one campaign never wait on each
//! other or deadlock because of the counts, and never fail a REPEATABLE READ transaction.
//!
//! **Why.** Migration `m20261127_000007_create_row_counts` kept one counter row per key and had
//! each statement upsert its delta into it (`INSERT … ON CONFLICT DO UPDATE`). A counter row is
//! then a hot row: a writer holds its lock from its statement to its commit, so writers into
//! one campaign queue behind each other, two transactions that touch two keys in opposite
//! orders (in separate statements) deadlock — and even within one statement, the primary key's
//! uniqueness check waits for the other writer's uncommitted insert of the same new key ("deadlock
//! detected … while inserting index tuple"). Under REPEATABLE READ, a counter row updated
//! by a concurrent commit is a serialization failure. The campaign engine, written for a
//! schema without counts, would have had to retry and serialize its workers.
//!
//! **Design.** Each statement appends its per-key deltas as *new rows* (`INSERT … SELECT key,
//! count(*) … GROUP BY key`, one row per key it touched, negative for deletes, the net for
//! updates). The counts tables lose their primary key — a plain index on the key takes its
//! place — so an insert never checks another transaction's uncommitted rows, takes no row
//! lock another writer wants, and never conflicts under REPEATABLE READ (a delta row is only
//! ever inserted by writers, never updated). Readers SUM the rows of a key in their snapshot,
//! which is exactly the transactionally consistent total they read before.
//!
//! **Compaction** keeps a key's rows few: `compact_<counts>(group)` folds the rows of one
//! group (a campaign; for `campaign_counts` a campaign type) into one row per key, dropping
//! keys whose sum is 0 (`DELETE … RETURNING` feeding `INSERT … SELECT sum`, one statement, so
//! a reader sees either all the deltas or their sum). It runs only under
//! `pg_try_advisory_xact_lock(<counts>, <group>)`, so two compactions of one group never meet
//! and a compaction never waits: when the lock is taken it skips. It is run
//! - by the writer's own trigger, under READ COMMITTED only, once the group holds more than
//!   [`COMPACT_ABOVE`] rows: a bounded, local amount of work (a few dozen rows) every
//!   `COMPACT_ABOVE / keys` statements. Under REPEATABLE READ and SERIALIZABLE the trigger never
//!   compacts (deleting rows another compaction deleted would be a serialization failure);
//! - by the server every second (`domainflow_compact_counts()`), for every group holding more
//!   rows than keys or a zero row: this bounds what REPEATABLE READ writers leave behind and
//!   removes emptied keys.
//!
//! No wait is possible: writers only insert into the counts tables; the only row locks on
//! counts rows are a compaction's deletes, and a compaction holds its group's advisory lock
//! until its transaction ends, so no other compaction of that group touches those rows. A
//! key's rows are bounded by `COMPACT_ABOVE` plus what writers add while another transaction
//! that compacted the group (and so holds its advisory lock) stays open.
//!
//! **Alternatives measured** (perf-test `ingest`, 8 writers into one campaign, BENCHMARKS.md
//! "Issue 16"): the upsert design (deadlocks, lock waits), and no triggers at all (the
//! baseline). Sharded counters (N rows per key, a writer upserting the slot of its backend)
//! were rejected without building: two writers on one slot still queue, and slots touched in
//! different orders across statements still deadlock.
//!
//! **Converting in place.** Every existing counter row is already a valid delta, so no row
//! changes. The function swap and the dropped primary key must commit together (the new
//! function would violate the key; the old one needs it), under an ACCESS EXCLUSIVE lock on
//! the four small counts tables. That lock is requested with a short `lock_timeout`: behind a
//! long writer transaction the attempt gives up after [`LOCK_TIMEOUT`] (readers queued behind
//! it wait at most that long) and is retried, up to [`ATTEMPTS`] times. The counted tables
//! themselves — the 2M-row campaign included — are not locked or rewritten. `down` folds
//! every key into one row again, restores the primary key and the upsert function.
//!
//! **SQLite** is unchanged: one writer at a time, so the row triggers' upserts never wait on
//! anyone; this migration does nothing there.

use std::time::Duration;

use crate::m20261127_000007_create_row_counts::{
    COUNTED, Counted, key_names, key_values, pg_function, pg_function_name,
};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A group's rows above which a READ COMMITTED writer's trigger compacts it. More than the
/// largest number of keys a group can have (5 validation × 4 business statuses for DNS results;
/// 7 statuses for a campaign type), so a compacted group does not compact again at once.
pub const COMPACT_ABOVE: u32 = 64;

/// How long one attempt waits for the counts tables' lock.
const LOCK_TIMEOUT: Duration = Duration::from_millis(200);

/// Attempts before the migration gives up (with the error of the last one).
const ATTEMPTS: u32 = 50;

fn compact_function_name(t: &Counted) -> String {
    format!("compact_{}", t.counts)
}

fn key_index_name(t: &Counted) -> String {
    format!("{}_key", t.counts)
}

/// `compact_<counts>(group)`: folds one group's rows, skipping when another transaction is
/// compacting it; returns how many rows it removed (0 when skipped).
fn pg_compact_function(t: &Counted) -> String {
    let counts = t.counts;
    let names = key_names(t, "");
    let group = &t.key[0];
    format!(
        r#"
CREATE FUNCTION {function}(target {group_type}) RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    removed bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('{counts}'), hashtext(target::text)) THEN
        RETURN 0;
    END IF;
    WITH gone AS (
        DELETE FROM {counts} WHERE {group_name} = target RETURNING {names}, row_count
    ),
    kept AS (
        INSERT INTO {counts} ({names}, row_count)
        SELECT {names}, sum(row_count) FROM gone GROUP BY {names} HAVING sum(row_count) <> 0
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM gone) - (SELECT count(*) FROM kept) INTO removed;
    RETURN removed;
END
$fn$"#,
        function = compact_function_name(t),
        group_type = group.pg_type,
        group_name = group.name,
    )
}

/// The trigger function: append the statement's per-key deltas, then (READ COMMITTED only)
/// compact the groups it touched that have grown past [`COMPACT_ABOVE`] rows.
fn pg_append_function(t: &Counted) -> String {
    let counts = t.counts;
    let names = key_names(t, "");
    let group = &t.key[0];
    let append = |delta: String| {
        format!(
            r#"
        WITH appended AS (
            INSERT INTO {counts} ({names}, row_count) {delta}
            RETURNING {group_name}
        )
        SELECT array_agg(DISTINCT {group_name}) INTO touched FROM appended;"#,
            group_name = group.name,
        )
    };
    let values = key_values(t, "");
    let positions = (1..=t.key.len()).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
    let insert = append(format!("SELECT {values}, count(*) FROM new_rows GROUP BY {positions}"));
    let delete = append(format!("SELECT {values}, -count(*) FROM old_rows GROUP BY {positions}"));
    // Only rows whose key changed contribute a non-zero net delta.
    let update = append(format!(
        "SELECT {names}, sum(n) FROM (\
         SELECT {values}, 1 AS n FROM new_rows \
         UNION ALL SELECT {values}, -1 AS n FROM old_rows) AS moved \
         GROUP BY {names} HAVING sum(n) <> 0"
    ));
    format!(
        r#"
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    touched {group_type}[];
    target {group_type};
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM {counts};
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN{insert}
    ELSIF TG_OP = 'UPDATE' THEN{update}
    ELSE{delete}
    END IF;
    IF touched IS NULL OR current_setting('transaction_isolation') <> 'read committed' THEN
        RETURN NULL;
    END IF;
    FOREACH target IN ARRAY touched LOOP
        IF (SELECT count(*) FROM (SELECT 1 FROM {counts} WHERE {group_name} = target
                                  LIMIT {limit}) AS crowded) > {COMPACT_ABOVE} THEN
            PERFORM {compact}(target);
        END IF;
    END LOOP;
    RETURN NULL;
END
$fn$"#,
        function = pg_function_name(t),
        group_type = group.pg_type,
        group_name = group.name,
        limit = COMPACT_ABOVE + 1,
        compact = compact_function_name(t),
    )
}

/// `domainflow_compact_counts()`: compacts every group of every counts table that holds more
/// rows than keys, or a key summing to 0; returns the rows removed. The server calls it
/// every second.
fn pg_compact_all_function() -> String {
    let parts = COUNTED
        .iter()
        .map(|t| {
            let group = t.key[0].name;
            format!(
                "(SELECT COALESCE(sum({compact}({group})), 0) FROM (\
                 SELECT {group} FROM {counts} GROUP BY {group} \
                 HAVING count(*) > count(DISTINCT ({names})) OR bool_or(row_count = 0)) AS due)",
                compact = compact_function_name(t),
                counts = t.counts,
                names = key_names(t, ""),
            )
        })
        .collect::<Vec<_>>()
        .join("\n         + ");
    format!(
        r#"
CREATE FUNCTION domainflow_compact_counts() RETURNS bigint LANGUAGE sql AS $fn$
    SELECT CAST({parts} AS bigint)
$fn$"#
    )
}

/// Takes the counts tables (only those: the counted tables are not locked) for the swap.
fn lock_counts() -> Vec<String> {
    let tables = COUNTED.iter().map(|t| t.counts).collect::<Vec<_>>().join(", ");
    vec![
        format!("SET LOCAL lock_timeout = '{}ms'", LOCK_TIMEOUT.as_millis()),
        format!("LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE"),
    ]
}

fn up_statements() -> Vec<String> {
    let mut statements = lock_counts();
    for t in COUNTED {
        statements.push(format!(
            "CREATE INDEX {} ON {} ({})",
            key_index_name(t),
            t.counts,
            key_names(t, "")
        ));
        statements.push(format!("ALTER TABLE {0} DROP CONSTRAINT {0}_pkey", t.counts));
        // Rows are inserted and deleted, never updated: no room to keep free for HOT updates;
        // vacuum the deleted ones often (the tables are small, the churn is constant).
        statements.push(format!(
            "ALTER TABLE {} SET (fillfactor = 100, autovacuum_vacuum_scale_factor = 0, \
             autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_insert_threshold = 1000)",
            t.counts
        ));
        statements.push(pg_compact_function(t));
        statements.push(pg_append_function(t));
    }
    statements.push(pg_compact_all_function());
    statements
}

fn down_statements() -> Vec<String> {
    let mut statements = lock_counts();
    statements.push("DROP FUNCTION domainflow_compact_counts()".to_owned());
    for t in COUNTED {
        let names = key_names(t, "");
        statements.push(format!(
            "WITH gone AS (DELETE FROM {counts} RETURNING {names}, row_count) \
             INSERT INTO {counts} ({names}, row_count) \
             SELECT {names}, sum(row_count) FROM gone GROUP BY {names} HAVING sum(row_count) <> 0",
            counts = t.counts,
        ));
        statements.push(format!("ALTER TABLE {0} ADD PRIMARY KEY ({names})", t.counts));
        statements.push(format!("DROP INDEX {}", key_index_name(t)));
        statements.push(format!(
            "ALTER TABLE {} SET (fillfactor = 50) , RESET (autovacuum_vacuum_scale_factor, \
             autovacuum_vacuum_threshold, autovacuum_vacuum_insert_threshold)",
            t.counts
        ));
        statements.push(pg_function(t).replacen("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1));
        statements.push(format!(
            "DROP FUNCTION {}({})",
            compact_function_name(t),
            t.key[0].pg_type
        ));
    }
    statements
}

/// Runs `statements` in one transaction, again while the lock is not granted in time.
async fn run_with_retries(manager: &SchemaManager<'_>, statements: Vec<String>) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let mut attempt = 1;
    loop {
        let txn = manager.begin().await?;
        let mut outcome = Ok(());
        for sql in &statements {
            if let Err(e) = txn.get_connection().execute_unprepared(sql).await {
                outcome = Err(e);
                break;
            }
        }
        match outcome {
            Ok(()) => return txn.commit().await,
            // Dropping `txn` rolls it back.
            Err(e) if attempt < ATTEMPTS && e.to_string().contains("lock timeout") => {
                drop(txn);
                tokio::time::sleep(LOCK_TIMEOUT * Ord::min(attempt, 10)).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_with_retries(manager, up_statements()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_with_retries(manager, down_statements()).await
    }

    /// Each attempt is its own transaction (see [`run_with_retries`]).
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_appends_and_compacts_only_under_read_committed() {
        let sql = pg_append_function(&COUNTED[2]);
        assert!(!sql.contains("ON CONFLICT"));
        assert!(sql.contains("current_setting('transaction_isolation') <> 'read committed'"));
        assert!(sql.contains("PERFORM compact_dns_validation_result_counts(target)"));
    }

    #[test]
    fn compaction_skips_a_group_being_compacted() {
        let sql = pg_compact_function(&COUNTED[1]);
        assert!(sql.contains("pg_try_advisory_xact_lock(hashtext('generated_domain_counts'), hashtext(target::text))"));
        assert!(sql.contains("HAVING sum(row_count) <> 0"));
    }
}
