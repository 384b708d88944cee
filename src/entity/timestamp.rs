//! `Timestamp`: a UTC instant with microsecond precision, stored as TIMESTAMPTZ on PostgreSQL
//! and as INTEGER microseconds since the Unix epoch on SQLite (DESIGN.md, "Time").
//!
//! Reads detect the backend from the row. Writes through sea-orm's generic `Value` produce a
//! PostgreSQL timestamp, so code that writes to SQLite must use [`Timestamp::to_value`]; the
//! SQLite schema's `typeof(..) = 'integer'` CHECKs reject any other encoding loudly.

use chrono::{DateTime, TimeZone, Utc};
use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, Value, ValueType, ValueTypeErr};
use sea_orm::{ColIdx, DbBackend, QueryResult, TryGetError, TryGetable};

/// Microseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current time, truncated to microseconds.
    pub fn now() -> Self {
        Self::from(Utc::now())
    }

    /// Microseconds since the Unix epoch.
    pub fn micros(self) -> i64 {
        self.0
    }

    /// The instant as a chrono UTC date-time. Out-of-range values (never written by this
    /// program) saturate rather than panic.
    pub fn to_datetime(self) -> DateTime<Utc> {
        Utc.timestamp_micros(self.0)
            .single()
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// True when both databases can hold the instant: within chrono's range and not before
    /// PostgreSQL's earliest timestamp (4713 BC). Values from clients (a forged cursor, a
    /// filter bound) are checked with it, so an impossible one is a client error rather than a
    /// database error.
    pub fn in_database_range(self) -> bool {
        use chrono::Datelike;
        Utc.timestamp_micros(self.0).single().is_some_and(|t| t.year() > -4712)
    }

    /// The database value for `backend`: TIMESTAMPTZ on PostgreSQL, INTEGER on SQLite.
    pub fn to_value(self, backend: DbBackend) -> Value {
        match backend {
            DbBackend::Sqlite => Value::BigInt(Some(self.0)),
            _ => Value::ChronoDateTimeUtc(Some(self.to_datetime())),
        }
    }

    /// Like [`Timestamp::to_value`] for a nullable column.
    pub fn opt_to_value(value: Option<Self>, backend: DbBackend) -> Value {
        match (value, backend) {
            (Some(ts), _) => ts.to_value(backend),
            (None, DbBackend::Sqlite) => Value::BigInt(None),
            (None, _) => Value::ChronoDateTimeUtc(None),
        }
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(value: DateTime<Utc>) -> Self {
        Self(value.timestamp_micros())
    }
}

impl From<Timestamp> for DateTime<Utc> {
    fn from(value: Timestamp) -> Self {
        value.to_datetime()
    }
}

impl From<Timestamp> for Value {
    fn from(value: Timestamp) -> Self {
        Value::ChronoDateTimeUtc(Some(value.to_datetime()))
    }
}

impl TryGetable for Timestamp {
    fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
        if res.try_as_pg_row().is_some() {
            DateTime::<Utc>::try_get_by(res, index).map(Self::from)
        } else {
            i64::try_get_by(res, index).map(Self)
        }
    }
}

impl ValueType for Timestamp {
    fn try_from(v: Value) -> Result<Self, ValueTypeErr> {
        match v {
            Value::ChronoDateTimeUtc(Some(dt)) => Ok(Self::from(dt)),
            Value::BigInt(Some(micros)) => Ok(Self(micros)),
            _ => Err(ValueTypeErr),
        }
    }

    fn type_name() -> String {
        "Timestamp".to_owned()
    }

    fn array_type() -> ArrayType {
        ArrayType::ChronoDateTimeUtc
    }

    fn column_type() -> ColumnType {
        ColumnType::TimestampWithTimeZone
    }
}

impl Nullable for Timestamp {
    fn null() -> Value {
        Value::ChronoDateTimeUtc(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_chrono_at_microsecond_precision() {
        let ts = Timestamp(1_764_000_000_123_456);
        assert_eq!(Timestamp::from(ts.to_datetime()), ts);
        assert_eq!(ts.to_value(DbBackend::Sqlite), Value::BigInt(Some(ts.0)));
    }
}
