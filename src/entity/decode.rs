//! Decoding page rows by position: `FromQueryResult` looks every column up by name (a hash of
//! the name per column per row, then sea-orm's generic getters), which was a third of a 50-row
//! page's instructions (BENCHMARKS.md, issue 8). A model that implements [`DecodeRow::by_position`]
//! is read straight from the driver's row by index — after checking, once per row, that the
//! columns are where the model expects them; anything else falls back to `FromQueryResult`.

use chrono::{DateTime, Utc};
use sea_orm::{DbErr, FromQueryResult, QueryResult};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use super::Timestamp;

/// A model read from a page statement's row.
pub trait DecodeRow: FromQueryResult {
    /// The model's columns in `SELECT` order, when it can be read by position.
    const COLUMNS: &'static [&'static str] = &[];

    /// Reads the model by position from a PostgreSQL or SQLite row (`None`: not supported).
    fn by_position(_row: &Columns<'_>) -> Option<Result<Self, sqlx::Error>> {
        None
    }

    /// Reads one row: by position when the columns are where [`DecodeRow::COLUMNS`] says,
    /// otherwise by name.
    fn decode_row(row: &QueryResult) -> Result<Self, DbErr> {
        if !Self::COLUMNS.is_empty() {
            let columns = match (row.try_as_pg_row(), row.try_as_sqlite_row()) {
                (Some(pg), _) => Some(Columns::Postgres(pg)),
                (_, Some(sqlite)) => Some(Columns::Sqlite(sqlite)),
                _ => None,
            };
            if let Some(columns) = columns
                && columns.named(Self::COLUMNS)
                && let Some(model) = Self::by_position(&columns)
            {
                return model.map_err(|err| DbErr::Type(err.to_string()));
            }
        }
        Self::from_query_result(row, "")
    }
}

/// A driver row.
pub enum Columns<'a> {
    Postgres(&'a PgRow),
    Sqlite(&'a SqliteRow),
}

impl Columns<'_> {
    /// True when the row's first columns carry exactly these names.
    fn named(&self, names: &[&str]) -> bool {
        use sqlx::Column;
        match self {
            Columns::Postgres(row) => {
                let columns = row.columns();
                columns.len() >= names.len() && names.iter().zip(columns).all(|(name, c)| c.name() == *name)
            }
            Columns::Sqlite(row) => {
                let columns = row.columns();
                columns.len() >= names.len() && names.iter().zip(columns).all(|(name, c)| c.name() == *name)
            }
        }
    }

    /// The value at `index`.
    pub fn get<T: Get>(&self, index: usize) -> Result<T, sqlx::Error> {
        match self {
            Columns::Postgres(row) => T::postgres(row, index),
            Columns::Sqlite(row) => T::sqlite(row, index),
        }
    }
}

/// A column type read by position on both backends.
pub trait Get: Sized {
    fn postgres(row: &PgRow, index: usize) -> Result<Self, sqlx::Error>;
    fn sqlite(row: &SqliteRow, index: usize) -> Result<Self, sqlx::Error>;
}

macro_rules! get_same {
    ($($ty:ty),*) => {$(
        impl Get for $ty {
            fn postgres(row: &PgRow, index: usize) -> Result<Self, sqlx::Error> {
                row.try_get(index)
            }
            fn sqlite(row: &SqliteRow, index: usize) -> Result<Self, sqlx::Error> {
                row.try_get(index)
            }
        }
    )*};
}

get_same!(uuid::Uuid, String, i64, Option<String>);

/// TIMESTAMPTZ on PostgreSQL, INTEGER microseconds on SQLite (see [`Timestamp`]).
impl Get for Timestamp {
    fn postgres(row: &PgRow, index: usize) -> Result<Self, sqlx::Error> {
        row.try_get::<DateTime<Utc>, _>(index).map(Timestamp::from)
    }
    fn sqlite(row: &SqliteRow, index: usize) -> Result<Self, sqlx::Error> {
        row.try_get::<i64, _>(index).map(Timestamp)
    }
}
