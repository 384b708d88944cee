//! Opaque, versioned, validated cursors.
//!
//! A cursor is base64url (no padding) of a small binary record: version, the connection it was
//! issued for (kind + parent id), the ordering and direction, a hash of the filter, the row's
//! sort value and id, and a checksum. Decoding checks every part, so garbage, truncation,
//! junk that happens to be base64, or a cursor of another connection, ordering or filter is an
//! INVALID_CURSOR error naming the argument — never a 500 and never a silently wrong page. A
//! client can only ever forge a *position*: values reach SQL as bound parameters.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::entity::Timestamp;
use crate::error::{Error, Result};

use super::Direction;

const VERSION: u8 = 1;
const TAG_INT: u8 = 1;
const TAG_TEXT: u8 = 2;
const TAG_TIME: u8 = 3;
const ID_UUID: u8 = 1;
const ID_INT: u8 = 2;
/// Longest base64 text we even try to decode. Sort values are short but may be multi-byte:
/// a 253-character domain name of 4-byte characters makes a cursor of about 1,420 characters.
const MAX_ENCODED_LEN: usize = 2048;

/// Which connection, ordering and filter a cursor belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorScope {
    /// The connection kind (one code per table connection).
    pub connection: u8,
    /// The parent the connection hangs off (the campaign), nil for root connections.
    pub parent: Uuid,
    /// The ordering field code.
    pub ordering: u8,
    /// The ordering direction.
    pub direction: Direction,
    /// Hash of the canonical filter; see [`filter_hash`].
    pub filter_hash: u64,
}

/// The kind of value a sort column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKind {
    Int,
    Text,
    Time,
}

/// The sort-column value of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortValue {
    Int(i64),
    Text(String),
    Time(Timestamp),
}

impl SortValue {
    /// Whether both databases can hold the value. Cursors we issue always can; a forged one
    /// (the checksum guards against accidents, not forgery) might carry a NUL in text, which
    /// PostgreSQL refuses, or a time outside its range — refused as a malformed cursor instead
    /// of failing in SQL.
    pub fn storable(&self) -> bool {
        match self {
            Self::Int(_) => true,
            Self::Text(text) => !text.contains('\0'),
            Self::Time(time) => time.in_database_range(),
        }
    }

    /// The kind of this value.
    pub fn kind(&self) -> SortKind {
        match self {
            Self::Int(_) => SortKind::Int,
            Self::Text(_) => SortKind::Text,
            Self::Time(_) => SortKind::Time,
        }
    }
}

/// The tiebreaker: the row's primary key within its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowId {
    Uuid(Uuid),
    Int(i64),
}

/// A decoded cursor: a position (sort value + id) within one scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub scope: CursorScope,
    pub value: SortValue,
    pub id: RowId,
}

/// FNV-1a 64-bit over the canonical filter parts, each terminated so ("a","bc") ≠ ("ab","c").
pub fn filter_hash<'a>(parts: impl IntoIterator<Item = &'a str>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0xff)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

fn checksum(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for &byte in bytes {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// Appends the URL-safe base64 of `bytes` to `out`, through a stack buffer when it fits (the
/// `encode_string` of the base64 crate goes through its chunked encoder, several times slower
/// for the short texts of cursors and ids).
pub fn base64_into(bytes: &[u8], out: &mut String) {
    let mut buf = [0u8; 256];
    match URL_SAFE_NO_PAD.encode_slice(bytes, &mut buf) {
        Ok(len) => match std::str::from_utf8(&buf[..len]) {
            Ok(text) => out.push_str(text),
            Err(_) => URL_SAFE_NO_PAD.encode_string(bytes, out),
        },
        Err(_) => URL_SAFE_NO_PAD.encode_string(bytes, out),
    }
}

impl Cursor {
    /// The opaque text handed to clients.
    pub fn encode(&self) -> String {
        let mut text = String::with_capacity(88);
        self.encode_into(&mut text);
        text
    }

    /// Appends [`Cursor::encode`]'s text to `out` (URL-safe base64: never needs JSON escaping).
    pub fn encode_into(&self, out: &mut String) {
        let mut buf = Vec::with_capacity(64);
        buf.push(VERSION);
        buf.push(self.scope.connection);
        buf.extend_from_slice(self.scope.parent.as_bytes());
        buf.push(self.scope.ordering);
        buf.push(match self.scope.direction {
            Direction::Asc => 0,
            Direction::Desc => 1,
        });
        buf.extend_from_slice(&self.scope.filter_hash.to_le_bytes());
        match &self.value {
            SortValue::Int(v) => {
                buf.push(TAG_INT);
                buf.extend_from_slice(&v.to_le_bytes());
            }
            SortValue::Time(t) => {
                buf.push(TAG_TIME);
                buf.extend_from_slice(&t.micros().to_le_bytes());
            }
            SortValue::Text(s) => {
                buf.push(TAG_TEXT);
                // Sort values come from bounded columns (names ≤ 253 bytes); clamp defensively.
                let bytes = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
                buf.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
                buf.extend_from_slice(bytes);
            }
        }
        match self.id {
            RowId::Uuid(id) => {
                buf.push(ID_UUID);
                buf.extend_from_slice(id.as_bytes());
            }
            RowId::Int(id) => {
                buf.push(ID_INT);
                buf.extend_from_slice(&id.to_le_bytes());
            }
        }
        let sum = checksum(&buf);
        buf.extend_from_slice(&sum.to_le_bytes());
        base64_into(&buf, out);
    }

    /// Decodes `raw` (the value of argument `argument`) and checks that it was issued for
    /// `scope` with a sort value of kind `sort`.
    pub fn decode(raw: &str, argument: &'static str, scope: &CursorScope, sort: SortKind) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidCursor {
            argument,
            reason: reason.to_owned(),
        };
        if raw.is_empty() || raw.len() > MAX_ENCODED_LEN {
            return Err(invalid("not a cursor issued by this server"));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(raw)
            .map_err(|_| invalid("not a cursor issued by this server"))?;
        if bytes.len() < 4 {
            return Err(invalid("truncated"));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 4);
        let mut reader = Reader { bytes: body };
        let version = reader.u8().ok_or_else(|| invalid("truncated"))?;
        if version != VERSION {
            return Err(invalid("unsupported cursor version"));
        }
        if u32::from_le_bytes([sum[0], sum[1], sum[2], sum[3]]) != checksum(body) {
            return Err(invalid("corrupted or truncated"));
        }
        let decoded = Self::read(&mut reader).ok_or_else(|| invalid("malformed"))?;
        if !reader.bytes.is_empty() {
            return Err(invalid("malformed"));
        }
        let got = decoded.scope;
        if got.connection != scope.connection || got.parent != scope.parent {
            return Err(invalid("it was issued for another connection"));
        }
        if got.ordering != scope.ordering || got.direction != scope.direction {
            return Err(invalid("it was issued for another orderBy"));
        }
        if got.filter_hash != scope.filter_hash {
            return Err(invalid("it was issued for another filter"));
        }
        if decoded.value.kind() != sort || !decoded.value.storable() {
            return Err(invalid("malformed"));
        }
        Ok(decoded)
    }

    fn read(reader: &mut Reader<'_>) -> Option<Self> {
        let connection = reader.u8()?;
        let parent = Uuid::from_slice(reader.take(16)?).ok()?;
        let ordering = reader.u8()?;
        let direction = match reader.u8()? {
            0 => Direction::Asc,
            1 => Direction::Desc,
            _ => return None,
        };
        let filter_hash = u64::from_le_bytes(reader.take(8)?.try_into().ok()?);
        let value = match reader.u8()? {
            TAG_INT => SortValue::Int(reader.i64()?),
            TAG_TIME => SortValue::Time(Timestamp(reader.i64()?)),
            TAG_TEXT => {
                let len = u16::from_le_bytes(reader.take(2)?.try_into().ok()?) as usize;
                SortValue::Text(String::from_utf8(reader.take(len)?.to_vec()).ok()?)
            }
            _ => return None,
        };
        let id = match reader.u8()? {
            ID_UUID => RowId::Uuid(Uuid::from_slice(reader.take(16)?).ok()?),
            ID_INT => RowId::Int(reader.i64()?),
            _ => return None,
        };
        Some(Self {
            scope: CursorScope {
                connection,
                parent,
                ordering,
                direction,
                filter_hash,
            },
            value,
            id,
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> CursorScope {
        CursorScope {
            connection: 2,
            parent: Uuid::from_u128(7),
            ordering: 1,
            direction: Direction::Desc,
            filter_hash: filter_hash(["valid", ""]),
        }
    }

    fn cursor(value: SortValue) -> Cursor {
        Cursor {
            scope: scope(),
            value,
            id: RowId::Uuid(Uuid::from_u128(42)),
        }
    }

    #[test]
    fn round_trips_every_value_kind() {
        for value in [
            SortValue::Int(-5),
            SortValue::Text("shop-ab|c.com".into()),
            SortValue::Time(Timestamp(1_764_000_000_000_001)),
        ] {
            let kind = value.kind();
            let c = cursor(value);
            assert_eq!(Cursor::decode(&c.encode(), "after", &scope(), kind).ok(), Some(c));
        }
    }

    #[test]
    fn rejects_anything_not_issued_for_this_scope() {
        let good = cursor(SortValue::Int(3)).encode();
        let err = |raw: &str, s: &CursorScope| match Cursor::decode(raw, "after", s, SortKind::Int) {
            Err(Error::InvalidCursor { argument, reason }) => {
                assert_eq!(argument, "after");
                reason
            }
            other => panic!("expected InvalidCursor, got {other:?}"),
        };
        err("", &scope());
        err("%%%", &scope());
        err(&good[..good.len() - 3], &scope());
        err(&URL_SAFE_NO_PAD.encode(b"hello world, this is junk"), &scope());
        assert!(err(&good, &CursorScope { ordering: 0, ..scope() }).contains("orderBy"));
        assert!(
            err(
                &good,
                &CursorScope {
                    direction: Direction::Asc,
                    ..scope()
                }
            )
            .contains("orderBy")
        );
        assert!(
            err(
                &good,
                &CursorScope {
                    filter_hash: 1,
                    ..scope()
                }
            )
            .contains("filter")
        );
        assert!(
            err(
                &good,
                &CursorScope {
                    parent: Uuid::nil(),
                    ..scope()
                }
            )
            .contains("connection")
        );
        assert!(
            err(
                &good,
                &CursorScope {
                    connection: 9,
                    ..scope()
                }
            )
            .contains("connection")
        );
        assert!(matches!(
            Cursor::decode(&good, "before", &scope(), SortKind::Text),
            Err(Error::InvalidCursor { argument: "before", .. })
        ));
    }

    #[test]
    fn the_longest_sort_values_round_trip() {
        let value = SortValue::Text("😀".repeat(253));
        let c = cursor(value);
        assert_eq!(
            Cursor::decode(&c.encode(), "after", &scope(), SortKind::Text).ok(),
            Some(c)
        );
    }

    #[test]
    fn forged_values_no_database_can_hold_are_rejected() {
        for value in [
            SortValue::Text("a\0b".into()),
            SortValue::Time(Timestamp(i64::MIN)),
            SortValue::Time(Timestamp(-200_000 * 365 * 86_400 * 1_000_000)),
        ] {
            let kind = value.kind();
            assert!(Cursor::decode(&cursor(value).encode(), "after", &scope(), kind).is_err());
        }
        let ancient = SortValue::Time(Timestamp(-4_000 * 365 * 86_400 * 1_000_000));
        assert!(Cursor::decode(&cursor(ancient).encode(), "after", &scope(), SortKind::Time).is_ok());
    }

    #[test]
    fn every_single_byte_flip_is_rejected() {
        let good = cursor(SortValue::Text("abc".into())).encode();
        let bytes = URL_SAFE_NO_PAD.decode(&good).unwrap_or_default();
        for i in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0x5a;
            let raw = URL_SAFE_NO_PAD.encode(&flipped);
            assert!(
                Cursor::decode(&raw, "after", &scope(), SortKind::Text).is_err(),
                "byte {i}"
            );
        }
    }
}
