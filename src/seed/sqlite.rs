//! SQLite writer: multi-row INSERT statements (at most [`ROWS_PER_STATEMENT`] rows, so the bind
//! parameters stay far below SQLite's limit of 32,766) inside one transaction per chunk, chunks
//! strictly in order so the rows present always form a prefix. Values use the schema's SQLite
//! encodings: 16-byte BLOB UUIDs, INTEGER microseconds, JSON as TEXT.

use indicatif::ProgressBar;
use sea_orm::DbErr;
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use sqlx::{AssertSqlSafe, Sqlite, SqlitePool};
use uuid::Uuid;

use super::generate::{AnyRow, ChainPlan, RowCursor, SeedTable, business_str, validation_str};
use super::sqlx_err;

/// Rows per INSERT: × 13 columns at most = 13,000 parameters.
const ROWS_PER_STATEMENT: usize = 1000;

/// `INSERT INTO t (cols) VALUES (?, …), …` for `rows` rows.
fn insert_sql(table: SeedTable, rows: usize) -> String {
    let columns = table.columns();
    let tuple = format!("({})", vec!["?"; columns.len()].join(", "));
    format!(
        "INSERT INTO {} ({}) VALUES {}",
        table.name(),
        columns.join(", "),
        vec![tuple.as_str(); rows].join(", ")
    )
}

/// UUIDs are stored as their 16 bytes.
fn blob(id: &Uuid) -> &[u8] {
    id.as_bytes()
}

fn bind_row<'q>(
    q: Query<'q, Sqlite, SqliteArguments>,
    plan: &'q ChainPlan,
    row: &'q AnyRow,
) -> Query<'q, Sqlite, SqliteArguments> {
    match row {
        AnyRow::Domain(r) => q
            .bind(blob(&r.id))
            .bind(blob(&plan.ids.generation))
            .bind(r.name.as_str())
            .bind(r.offset)
            .bind(r.tld)
            .bind(plan.constant.as_str())
            .bind(plan.pattern.as_str())
            .bind(r.generated_at)
            .bind(r.created_at),
        AnyRow::Dns(r) => q
            .bind(blob(&r.id))
            .bind(blob(&plan.ids.dns))
            .bind(blob(&r.generated_domain_id))
            .bind(r.name.as_str())
            .bind(validation_str(r.status))
            .bind(r.business.map(business_str))
            .bind(r.records.as_deref())
            .bind(r.attempts)
            .bind(r.last_checked_at)
            .bind(r.created_at),
        AnyRow::Http(r) => q
            .bind(blob(&r.id))
            .bind(blob(&plan.ids.http))
            .bind(blob(&r.dns_result_id))
            .bind(r.name.as_str())
            .bind(validation_str(r.status))
            .bind(r.status_code)
            .bind(r.title.as_deref())
            .bind(r.snippet.as_deref())
            .bind(r.keywords.as_deref())
            .bind(r.content_hash.as_deref())
            .bind(r.attempts)
            .bind(r.last_checked_at)
            .bind(r.created_at),
    }
}

/// Writes rows `cursor.next_row .. end` of the cursor's table, `chunk_rows` per transaction, and
/// returns the number written.
pub(crate) async fn write_rows(
    pool: &SqlitePool,
    mut cursor: RowCursor,
    end: u64,
    chunk_rows: u64,
    progress: &ProgressBar,
) -> Result<u64, DbErr> {
    let table = cursor.table;
    let plan = cursor.plan.clone();
    let full_sql = insert_sql(table, ROWS_PER_STATEMENT);
    let mut rows: Vec<AnyRow> = (0..ROWS_PER_STATEMENT).map(|_| cursor.empty_row()).collect();
    let mut written = 0;
    while cursor.next_row < end {
        let mut tx = pool.begin().await.map_err(sqlx_err)?;
        let mut in_chunk = 0;
        while in_chunk < chunk_rows && cursor.next_row < end {
            let want = (chunk_rows - in_chunk)
                .min(end - cursor.next_row)
                .min(ROWS_PER_STATEMENT as u64) as usize;
            let mut n = 0;
            while n < want && cursor.fill_next(&mut rows[n]) {
                n += 1;
            }
            if n == 0 {
                break;
            }
            let sql = if n == ROWS_PER_STATEMENT {
                full_sql.clone()
            } else {
                insert_sql(table, n)
            };
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for row in &rows[..n] {
                q = bind_row(q, &plan, row);
            }
            q.execute(&mut *tx).await.map_err(sqlx_err)?;
            in_chunk += n as u64;
        }
        if in_chunk == 0 {
            break;
        }
        tx.commit().await.map_err(sqlx_err)?;
        written += in_chunk;
        progress.inc(in_chunk);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_statement_shape() {
        let sql = insert_sql(SeedTable::GeneratedDomains, 2);
        assert!(sql.starts_with("INSERT INTO generated_domains (id, domain_generation_campaign_id, "));
        assert!(sql.ends_with("VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
        let widest = SeedTable::ALL.iter().map(|t| t.columns().len()).max().unwrap_or(0);
        assert!(widest * ROWS_PER_STATEMENT < 32_766);
    }
}
