//! Decoding page rows by position: `FromQueryResult` looks every column up by name (a hash of
//! the name per column per row, then sea-orm's generic getters), which was a third of a 50-row
//! page's instructions (BENCHMARKS.md, issue 8). A model that implements [`DecodeRow::by_position`]
//! is read straight from the driver's row by index — after checking, once per row, that the
//! columns are where the model expects them; anything else falls back to `FromQueryResult`.

use chrono::{DateTime, Utc};
use sea_orm::{DbErr, EntityTrait, FromQueryResult, IdenStatic, Iterable, ModelTrait, QueryResult};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use super::Timestamp;

/// A model read from a page statement's row.
pub trait DecodeRow: FromQueryResult + ModelTrait {
    /// Whether [`DecodeRow::by_position`] reads this model (its entity's columns, in `SELECT`
    /// order, are the row's first columns).
    const BY_POSITION: bool = false;

    /// Reads the model by position from a PostgreSQL or SQLite row (`None`: not supported).
    fn by_position(_row: &Columns<'_>) -> Option<Result<Self, sqlx::Error>> {
        None
    }

    /// Reads one row by position, when the model supports it and the row's first columns are
    /// its entity's, in order (None otherwise).
    fn read_by_position(row: &QueryResult) -> Option<Result<Self, DbErr>> {
        if !Self::BY_POSITION {
            return None;
        }
        let columns = match (row.try_as_pg_row(), row.try_as_sqlite_row()) {
            (Some(pg), _) => Columns::Postgres(pg),
            (_, Some(sqlite)) => Columns::Sqlite(sqlite),
            _ => return None,
        };
        if !columns.named::<<Self as ModelTrait>::Entity>() {
            return None;
        }
        Self::by_position(&columns).map(|model| model.map_err(|err| DbErr::Type(err.to_string())))
    }

    /// Reads one row: by position when it can ([`DecodeRow::read_by_position`]), otherwise
    /// by name.
    fn decode_row(row: &QueryResult) -> Result<Self, DbErr> {
        match Self::read_by_position(row) {
            Some(model) => model,
            None => Self::from_query_result(row, ""),
        }
    }
}

/// A driver row.
pub enum Columns<'a> {
    Postgres(&'a PgRow),
    Sqlite(&'a SqliteRow),
}

impl Columns<'_> {
    /// True when the row's first columns are the columns of `E`, in order.
    fn named<E: EntityTrait>(&self) -> bool {
        fn same<C: sqlx::Column, E: EntityTrait>(columns: &[C]) -> bool {
            let mut at = 0;
            for column in E::Column::iter() {
                match columns.get(at) {
                    Some(c) if c.name() == column.as_str() => at += 1,
                    _ => return false,
                }
            }
            true
        }
        match self {
            Columns::Postgres(row) => same::<_, E>(row.columns()),
            Columns::Sqlite(row) => same::<_, E>(row.columns()),
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

get_same!(
    uuid::Uuid,
    Option<uuid::Uuid>,
    String,
    Option<String>,
    i64,
    i32,
    Option<i32>
);

/// JSONB on PostgreSQL, JSON text on SQLite; SQL NULL is None.
impl Get for Option<serde_json::Value> {
    fn postgres(row: &PgRow, index: usize) -> Result<Self, sqlx::Error> {
        row.try_get(index)
    }
    fn sqlite(row: &SqliteRow, index: usize) -> Result<Self, sqlx::Error> {
        row.try_get(index)
    }
}

/// The text of one of our [`sea_orm::ActiveEnum`]s (stored as TEXT on both backends).
pub fn enum_from_text<E: sea_orm::ActiveEnum<Value = String>>(text: String) -> Result<E, sqlx::Error> {
    E::try_from_value(&text).map_err(|err| sqlx::Error::Decode(err.to_string().into()))
}

/// TIMESTAMPTZ on PostgreSQL, INTEGER microseconds on SQLite (see [`Timestamp`]).
impl Get for Timestamp {
    fn postgres(row: &PgRow, index: usize) -> Result<Self, sqlx::Error> {
        row.try_get::<DateTime<Utc>, _>(index).map(Timestamp::from)
    }
    fn sqlite(row: &SqliteRow, index: usize) -> Result<Self, sqlx::Error> {
        row.try_get::<i64, _>(index).map(Timestamp)
    }
}

impl Get for Option<Timestamp> {
    fn postgres(row: &PgRow, index: usize) -> Result<Self, sqlx::Error> {
        row.try_get::<Option<DateTime<Utc>>, _>(index)
            .map(|time| time.map(Timestamp::from))
    }
    fn sqlite(row: &SqliteRow, index: usize) -> Result<Self, sqlx::Error> {
        row.try_get::<Option<i64>, _>(index).map(|micros| micros.map(Timestamp))
    }
}
