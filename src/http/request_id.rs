//! Request ids (`x-request-id`).

use std::sync::Arc;

use axum::http::{HeaderValue, Request};

/// Request ids in UUID form: a random 128-bit base drawn once per process, with a counter
/// folded into its low bits, so every id of a process is distinct and ids of different
/// processes almost surely are. tower-http's `MakeRequestUuid` draws a v4 UUID per request,
/// which is a `getrandom` system call each (BENCHMARKS.md, issue 8).
#[derive(Clone)]
pub struct SequentialRequestId {
    base: (u64, u64),
    counter: Arc<std::sync::atomic::AtomicU64>,
}

impl SequentialRequestId {
    pub fn new() -> Self {
        let (high, low) = uuid::Uuid::new_v4().as_u64_pair();
        Self {
            base: (high, low),
            counter: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        }
    }

    /// The id of request number `n` (distinct for every n below 2^62).
    fn id(&self, n: u64) -> uuid::Uuid {
        // Version 4 and RFC 4122 variant bits set as in a random UUID; the counter stays
        // below the two variant bits, so XOR keeps ids distinct.
        let low = ((self.base.1 ^ n) & !(0b11 << 62)) | (0b10 << 62);
        uuid::Uuid::from_u64_pair(self.base.0, low)
    }
}

impl tower_http::request_id::MakeRequestId for SequentialRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<tower_http::request_id::RequestId> {
        let n = self.counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let id = self.id(n).hyphenated().encode_lower(&mut text);
        HeaderValue::from_str(id)
            .ok()
            .map(tower_http::request_id::RequestId::new)
    }
}

#[cfg(test)]
mod tests {
    use super::SequentialRequestId;

    #[test]
    fn request_ids_are_distinct_uuids() {
        let ids = SequentialRequestId::new();
        let mut seen = std::collections::HashSet::new();
        for n in (0..10_000).chain([(1 << 62) - 1, 1 << 40]) {
            let id = ids.id(n);
            assert_eq!(id.get_version_num(), ids.id(0).get_version_num());
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
            assert!(seen.insert(id), "{n}");
        }
    }
}
