//! PostgreSQL writer: binary COPY through the pool, one COPY (one transaction) per chunk, chunks
//! strictly in order so the rows present always form a prefix. The next chunk is encoded on a
//! blocking thread while the server ingests the previous one, so generation costs no wall time.

use indicatif::ProgressBar;
use sea_orm::DbErr;
use sqlx::PgPool;
use sqlx::postgres::PgPoolCopyExt;

use super::generate::RowCursor;
use super::pgcopy::CopyBuf;
use super::sqlx_err;

/// Encoded chunks waiting for the server, besides the one being sent and the one being built.
const QUEUED_CHUNKS: usize = 1;

/// Writes rows `cursor.next_row .. end` of the cursor's table, `chunk_rows` per COPY, and
/// returns the number written.
pub(crate) async fn write_rows(
    pool: &PgPool,
    mut cursor: RowCursor,
    end: u64,
    chunk_rows: u64,
    progress: &ProgressBar,
) -> Result<u64, DbErr> {
    let table = cursor.table;
    let statement = format!(
        "COPY {} ({}) FROM STDIN (FORMAT binary)",
        table.name(),
        table.columns().join(", ")
    );
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(Vec<u8>, u64)>(QUEUED_CHUNKS);
    let producer = tokio::task::spawn_blocking(move || {
        let plan = cursor.plan.clone();
        let mut row = cursor.empty_row();
        let mut capacity = 1 << 20;
        while cursor.next_row < end {
            let mut buf = CopyBuf::with_header(capacity);
            let mut n = 0;
            while n < chunk_rows && cursor.next_row < end && cursor.fill_next(&mut row) {
                buf.row(&plan, table, &row);
                n += 1;
            }
            if n == 0 {
                break;
            }
            let bytes = buf.finish();
            capacity = capacity.max(bytes.len() + bytes.len() / 8);
            // The receiver is gone only when the writer failed; it reports the error.
            if tx.blocking_send((bytes, n)).is_err() {
                break;
            }
        }
    });

    let mut written = 0;
    while let Some((bytes, n)) = rx.recv().await {
        let mut copy = pool.copy_in_raw(&statement).await.map_err(sqlx_err)?;
        // On error the dropped `copy` sends CopyFail, so the connection returns to the pool clean.
        copy.send(bytes).await.map_err(sqlx_err)?;
        let rows = copy.finish().await.map_err(sqlx_err)?;
        if rows != n {
            return Err(DbErr::Custom(format!(
                "COPY into {} wrote {rows} rows, expected {n}",
                table.name()
            )));
        }
        written += n;
        progress.inc(n);
    }
    drop(rx);
    producer
        .await
        .map_err(|e| DbErr::Custom(format!("seed row generator for {} failed: {e}", table.name())))?;
    Ok(written)
}
