//! Automatic Persisted Queries, Apollo's protocol (spoken by Apollo Client's and urql's
//! persisted-query links): the client sends `extensions.persistedQuery = {"version": 1,
//! "sha256Hash": "<hex>"}` without the query text; the server answers from the text registered
//! under that hash, or with `PersistedQueryNotFound`, after which the client sends the text with
//! the hash once and the server registers it. Repeated requests — every pager's — then carry a
//! 64-character hash instead of the query (and fit a GET URL a CDN can cache).
//!
//! An entry can only hold the text whose SHA-256 it is keyed by: the server hashes the text
//! itself on registration and refuses a mismatch, so no client can make a hash answer with
//! another query. Texts over the query-length limits are never registered. The map is bounded
//! (`GRAPHQL_APQ_CACHE_SIZE`); an evicted hash is simply not found, and the client registers it
//! again. Errors keep the contract's codes (NOT_FOUND, BAD_USER_INPUT) and Apollo's messages,
//! which is what the clients match.

use std::sync::Arc;

use async_graphql::{Request, ServerError, Value};
use sha2::{Digest, Sha256};

use super::bounded::BoundedMap;
use super::errors::coded;
use super::limits::{QueryLimits, check_text};
use crate::error::code;
use crate::metrics::requests::Persisted;

/// Persisted queries kept by default (`GRAPHQL_APQ_CACHE_SIZE`).
pub const DEFAULT_APQ_CACHE_SIZE: usize = 256;

/// The request extension the protocol uses.
const EXTENSION: &str = "persistedQuery";

/// The message Apollo's clients look for before sending the text.
pub const NOT_FOUND_MESSAGE: &str = "PersistedQueryNotFound";

/// The message after which Apollo's clients stop sending hashes alone.
pub const NOT_SUPPORTED_MESSAGE: &str = "PersistedQueryNotSupported";

/// Query texts by their SHA-256, bounded.
pub struct PersistedQueries {
    entries: BoundedMap<[u8; 32], Arc<str>>,
}

impl PersistedQueries {
    /// A registry of at most `capacity` texts (0 = the protocol is off).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: BoundedMap::new(capacity),
        }
    }

    /// Applies the protocol to `request`: a hash alone becomes the text registered under it; a
    /// text with its hash is checked and registered. The extension is removed once applied,
    /// so the rest of the request's path sees a plain request. A request without the
    /// extension is left as it is.
    pub fn resolve(&self, request: &mut Request, limits: &QueryLimits) -> Result<(), ServerError> {
        self.resolve_counted(request, limits, |_| {})
    }

    /// [`PersistedQueries::resolve`], telling `count` what it did.
    pub fn resolve_counted(
        &self,
        request: &mut Request,
        limits: &QueryLimits,
        count: impl FnOnce(Persisted),
    ) -> Result<(), ServerError> {
        let Some(extension) = request.extensions.0.remove(EXTENSION) else {
            return Ok(());
        };
        if self.entries.capacity() == 0 {
            // Off: a text is answered as if sent plainly; a hash alone cannot be.
            return if request.query.is_empty() {
                Err(coded(NOT_SUPPORTED_MESSAGE.to_owned(), code::BAD_USER_INPUT))
            } else {
                Ok(())
            };
        }
        let hash = parse_extension(&extension)?;
        if request.query.is_empty() {
            return match self.entries.get(&hash) {
                Some(text) => {
                    request.query = text.to_string();
                    count(Persisted::Hit);
                    Ok(())
                }
                None => {
                    count(Persisted::Miss);
                    Err(coded(NOT_FOUND_MESSAGE.to_owned(), code::NOT_FOUND))
                }
            };
        }
        if Sha256::digest(request.query.as_bytes()).as_slice() != hash {
            return Err(coded(
                "persistedQuery.sha256Hash is not the SHA-256 of the query text (provided sha does not match query)"
                    .to_owned(),
                code::BAD_USER_INPUT,
            ));
        }
        // A text the limits refuse is refused here, before it takes a place in the map.
        check_text(&request.query, limits)?;
        if self.entries.get(&hash).is_none() {
            self.entries.insert(hash, Arc::from(request.query.as_str()));
            count(Persisted::Registered);
        }
        Ok(())
    }

    /// Texts held now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no text is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The hash of `{"version": 1, "sha256Hash": "<64 hex digits>"}`.
fn parse_extension(extension: &Value) -> Result<[u8; 32], ServerError> {
    let Value::Object(fields) = extension else {
        return Err(bad("extensions.persistedQuery must be an object {version, sha256Hash}"));
    };
    match fields.get("version") {
        Some(Value::Number(version)) if version.as_u64() == Some(1) => {}
        // Another version of the protocol: the client falls back to sending texts.
        _ => return Err(coded(NOT_SUPPORTED_MESSAGE.to_owned(), code::BAD_USER_INPUT)),
    }
    let Some(Value::String(hex)) = fields.get("sha256Hash") else {
        return Err(bad("extensions.persistedQuery.sha256Hash must be a string"));
    };
    decode_hash(hex).ok_or_else(|| bad("extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits"))
}

fn bad(message: &str) -> ServerError {
    coded(message.to_owned(), code::BAD_USER_INPUT)
}

/// 64 hexadecimal digits (either case) as 32 bytes.
fn decode_hash(hex: &str) -> Option<[u8; 32]> {
    let digits = hex.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut hash = [0u8; 32];
    for (byte, pair) in hash.iter_mut().zip(digits.chunks_exact(2)) {
        let high = (pair[0] as char).to_digit(16)?;
        let low = (pair[1] as char).to_digit(16)?;
        *byte = (high * 16 + low) as u8;
    }
    Some(hash)
}

/// The protocol's hash of `query`, as clients send it (lowercase hex).
pub fn sha256_hex(query: &str) -> String {
    use std::fmt::Write;
    Sha256::digest(query.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUERY: &str = "{ campaigns { totalCount } }";

    fn limits() -> QueryLimits {
        QueryLimits {
            max_depth: 16,
            max_complexity: 100_000,
            max_aliases: 50,
            max_root_fields: 20,
            max_batch_size: 10,
            max_query_length: 32_768,
        }
    }

    fn request(query: &str, hash: &str) -> Request {
        let mut request = Request::new(query);
        let mut extension = async_graphql::indexmap::IndexMap::new();
        extension.insert(async_graphql::Name::new("version"), Value::from(1));
        extension.insert(async_graphql::Name::new("sha256Hash"), Value::from(hash));
        request
            .extensions
            .0
            .insert(EXTENSION.to_owned(), Value::Object(extension));
        request
    }

    fn message(result: Result<(), ServerError>) -> String {
        result.expect_err("an error").message
    }

    #[test]
    fn the_hash_is_sha256_in_lowercase_hex() {
        // Known answer: SHA-256 of the empty string.
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            decode_hash(&sha256_hex(QUERY).to_uppercase()),
            decode_hash(&sha256_hex(QUERY))
        );
        assert_eq!(decode_hash("12"), None);
        assert_eq!(decode_hash(&"g".repeat(64)), None);
        assert_eq!(decode_hash(&"é".repeat(32)), None, "64 bytes that are not digits");
    }

    #[test]
    fn a_hash_is_found_only_after_its_text_was_registered() {
        let registry = PersistedQueries::new(4);
        let hash = sha256_hex(QUERY);
        let mut alone = request("", &hash);
        assert_eq!(message(registry.resolve(&mut alone, &limits())), NOT_FOUND_MESSAGE);

        let mut with_text = request(QUERY, &hash);
        registry.resolve(&mut with_text, &limits()).expect("registered");
        assert!(with_text.extensions.0.is_empty(), "the extension is consumed");
        assert_eq!(registry.len(), 1);

        let mut alone = request("", &hash);
        registry.resolve(&mut alone, &limits()).expect("found");
        assert_eq!(alone.query, QUERY);
    }

    #[test]
    fn a_text_is_never_registered_under_another_hash() {
        let registry = PersistedQueries::new(4);
        let other = sha256_hex("{ metrics { pool { open } } }");
        let mut lying = request(QUERY, &other);
        assert!(message(registry.resolve(&mut lying, &limits())).contains("does not match"));
        assert!(registry.is_empty());
        let mut alone = request("", &other);
        assert_eq!(message(registry.resolve(&mut alone, &limits())), NOT_FOUND_MESSAGE);
    }

    #[test]
    fn the_registry_is_bounded_and_an_evicted_hash_is_not_found() {
        let registry = PersistedQueries::new(2);
        let texts: Vec<String> = (0..5)
            .map(|i| format!("{{ campaigns(first: {i}) {{ totalCount }} }}"))
            .collect();
        for text in &texts {
            registry
                .resolve(&mut request(text, &sha256_hex(text)), &limits())
                .expect("registered");
            assert!(registry.len() <= 2);
        }
        let found = texts
            .iter()
            .filter(|text| {
                let mut alone = request("", &sha256_hex(text));
                match registry.resolve(&mut alone, &limits()) {
                    Ok(()) => {
                        assert_eq!(&alone.query, *text, "a hash answers with its own text only");
                        true
                    }
                    Err(err) => {
                        assert_eq!(err.message, NOT_FOUND_MESSAGE);
                        false
                    }
                }
            })
            .count();
        assert_eq!(found, 2);
    }

    #[test]
    fn malformed_or_unsupported_extensions_are_refused_with_a_code() {
        let registry = PersistedQueries::new(4);
        let mut short = request("", "abc");
        assert!(message(registry.resolve(&mut short, &limits())).contains("64 hexadecimal digits"));

        let mut version2 = request("", &sha256_hex(QUERY));
        if let Some(Value::Object(fields)) = version2.extensions.0.get_mut(EXTENSION) {
            fields.insert(async_graphql::Name::new("version"), Value::from(2));
        }
        let err = registry.resolve(&mut version2, &limits()).expect_err("refused");
        assert_eq!(err.message, NOT_SUPPORTED_MESSAGE);
        let code = err.extensions.as_ref().and_then(|ext| ext.get("code")).cloned();
        assert_eq!(code, Some(Value::from(code::BAD_USER_INPUT)));

        let mut not_object = Request::new("");
        not_object.extensions.0.insert(EXTENSION.to_owned(), Value::from("x"));
        assert!(message(registry.resolve(&mut not_object, &limits())).contains("must be an object"));
    }

    #[test]
    fn texts_over_the_limits_are_not_registered() {
        let registry = PersistedQueries::new(4);
        let limits = QueryLimits {
            max_query_length: 16,
            ..limits()
        };
        let err = registry
            .resolve(&mut request(QUERY, &sha256_hex(QUERY)), &limits)
            .expect_err("too long");
        let code = err.extensions.as_ref().and_then(|ext| ext.get("code")).cloned();
        assert_eq!(code, Some(Value::from(code::LIMIT_EXCEEDED)));
        assert!(registry.is_empty());
    }

    #[test]
    fn when_off_a_text_passes_and_a_hash_alone_is_not_supported() {
        let registry = PersistedQueries::new(0);
        let mut with_text = request(QUERY, &sha256_hex(QUERY));
        registry
            .resolve(&mut with_text, &limits())
            .expect("answered as plain text");
        assert_eq!(with_text.query, QUERY);
        let mut alone = request("", &sha256_hex(QUERY));
        assert_eq!(message(registry.resolve(&mut alone, &limits())), NOT_SUPPORTED_MESSAGE);
    }
}
