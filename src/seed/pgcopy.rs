//! PostgreSQL's binary COPY format, written by hand: the fastest way to load rows, with no text
//! parsing on the server. Layout (<https://www.postgresql.org/docs/current/sql-copy.html>,
//! "Binary Format"): an 11-byte signature, an i32 flags field and an i32 header-extension
//! length; per tuple an i16 field count, then per field an i32 byte length (-1 for NULL) and
//! the value in the type's binary send format; an i16 -1 trailer. All integers big-endian.

use uuid::Uuid;

use super::generate::{AnyRow, ChainPlan, SeedTable, business_str, validation_str};

/// Microseconds from 1970-01-01 to 2000-01-01, PostgreSQL's timestamp epoch.
const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

/// The signature every binary COPY stream starts with.
const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// A binary COPY stream being built in memory.
#[derive(Debug, Default)]
pub(crate) struct CopyBuf {
    pub buf: Vec<u8>,
}

impl CopyBuf {
    /// A stream with its header written and room for about `capacity` bytes.
    pub(crate) fn with_header(capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity);
        buf.extend_from_slice(SIGNATURE);
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags: no OIDs
        buf.extend_from_slice(&0i32.to_be_bytes()); // no header extension
        Self { buf }
    }

    /// Ends the stream.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.buf
    }

    pub(crate) fn tuple(&mut self, fields: i16) {
        self.buf.extend_from_slice(&fields.to_be_bytes());
    }

    fn field(&mut self, bytes: &[u8]) {
        // Every value we write is far below 2 GiB (domain names, short texts).
        self.buf.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(bytes);
    }

    pub(crate) fn null(&mut self) {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
    }

    /// `uuid`: the 16 bytes.
    pub(crate) fn uuid(&mut self, value: &Uuid) {
        self.field(value.as_bytes());
    }

    /// `int8`.
    pub(crate) fn int8(&mut self, value: i64) {
        self.field(&value.to_be_bytes());
    }

    /// `int4`.
    pub(crate) fn int4(&mut self, value: i32) {
        self.field(&value.to_be_bytes());
    }

    /// `text`: UTF-8 bytes.
    pub(crate) fn text(&mut self, value: &str) {
        self.field(value.as_bytes());
    }

    pub(crate) fn opt_text(&mut self, value: Option<&str>) {
        match value {
            Some(v) => self.text(v),
            None => self.null(),
        }
    }

    /// `timestamptz`: i64 microseconds since 2000-01-01T00:00:00Z; takes Unix microseconds.
    pub(crate) fn timestamptz(&mut self, unix_micros: i64) {
        self.int8(unix_micros - PG_EPOCH_OFFSET_MICROS);
    }

    pub(crate) fn opt_timestamptz(&mut self, unix_micros: Option<i64>) {
        match unix_micros {
            Some(v) => self.timestamptz(v),
            None => self.null(),
        }
    }

    /// `jsonb`: version byte 1, then the JSON text.
    pub(crate) fn jsonb(&mut self, json: &str) {
        self.buf.extend_from_slice(&(json.len() as i32 + 1).to_be_bytes());
        self.buf.push(1);
        self.buf.extend_from_slice(json.as_bytes());
    }

    pub(crate) fn opt_jsonb(&mut self, json: Option<&str>) {
        match json {
            Some(v) => self.jsonb(v),
            None => self.null(),
        }
    }

    /// One row of `table` of `plan`'s chain, columns in [`SeedTable::columns`] order.
    pub(crate) fn row(&mut self, plan: &ChainPlan, table: SeedTable, row: &AnyRow) {
        let campaign = match table {
            SeedTable::GeneratedDomains => &plan.ids.generation,
            SeedTable::DnsValidationResults => &plan.ids.dns,
            SeedTable::HttpKeywordResults => &plan.ids.http,
        };
        match row {
            AnyRow::Domain(r) => {
                self.tuple(9);
                self.uuid(&r.id);
                self.uuid(campaign);
                self.text(&r.name);
                self.int8(r.offset);
                self.text(r.tld);
                self.text(&plan.constant);
                self.text(&plan.pattern);
                self.timestamptz(r.generated_at);
                self.timestamptz(r.created_at);
            }
            AnyRow::Dns(r) => {
                self.tuple(10);
                self.uuid(&r.id);
                self.uuid(campaign);
                self.uuid(&r.generated_domain_id);
                self.text(&r.name);
                self.text(validation_str(r.status));
                self.opt_text(r.business.map(business_str));
                self.opt_jsonb(r.records.as_deref());
                self.int4(r.attempts);
                self.opt_timestamptz(r.last_checked_at);
                self.timestamptz(r.created_at);
            }
            AnyRow::Http(r) => {
                self.tuple(13);
                self.uuid(&r.id);
                self.uuid(campaign);
                self.uuid(&r.dns_result_id);
                self.text(&r.name);
                self.text(validation_str(r.status));
                self.int4(r.status_code);
                self.opt_text(r.title.as_deref());
                self.opt_text(r.snippet.as_deref());
                self.opt_jsonb(r.keywords.as_deref());
                self.opt_text(r.content_hash.as_deref());
                self.int4(r.attempts);
                self.opt_timestamptz(r.last_checked_at);
                self.timestamptz(r.created_at);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(f: impl FnOnce(&mut CopyBuf)) -> Vec<u8> {
        let mut b = CopyBuf::default();
        f(&mut b);
        b.buf
    }

    #[test]
    fn header_and_trailer() {
        let stream = CopyBuf::with_header(0).finish();
        assert_eq!(&stream[..11], b"PGCOPY\n\xff\r\n\0");
        assert_eq!(&stream[11..19], &[0u8; 8]);
        assert_eq!(&stream[19..], &[0xff, 0xff]);
    }

    #[test]
    fn scalar_encodings() {
        assert_eq!(encoded(|b| b.tuple(9)), [0, 9]);
        assert_eq!(encoded(|b| b.null()), [0xff, 0xff, 0xff, 0xff]);
        assert_eq!(
            encoded(|b| b.int8(-2)),
            [0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]
        );
        assert_eq!(encoded(|b| b.int4(258)), [0, 0, 0, 4, 0, 0, 1, 2]);
        assert_eq!(encoded(|b| b.text("é")), [0, 0, 0, 2, 0xc3, 0xa9]);
        assert_eq!(encoded(|b| b.opt_text(None)), [0xff, 0xff, 0xff, 0xff]);
        assert_eq!(encoded(|b| b.jsonb("{}")), [0, 0, 0, 3, 1, b'{', b'}']);
        let id = Uuid::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
        let mut expected = vec![0, 0, 0, 16];
        expected.extend(1..=16u8);
        assert_eq!(encoded(|b| b.uuid(&id)), expected);
    }

    #[test]
    fn timestamps_count_from_2000() {
        // 2000-01-01T00:00:00Z is 0; one microsecond later is 1.
        assert_eq!(
            encoded(|b| b.timestamptz(946_684_800_000_000)),
            [0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            encoded(|b| b.timestamptz(946_684_800_000_001)),
            [0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1]
        );
        // 2026-01-01T00:00:00Z = 820,540,800 s (9,497 days) after 2000-01-01.
        let micros: i64 = 820_540_800_000_000;
        let mut expected = vec![0, 0, 0, 8];
        expected.extend(micros.to_be_bytes());
        assert_eq!(encoded(|b| b.timestamptz(1_767_225_600_000_000)), expected);
    }
}
