//! Rate limits: one token bucket per key (a client address or an API token's name) in a
//! bounded map. A bucket holds at most `burst` requests and refills at `per_second`; a request
//! finding it empty is refused with the time until the next request would be allowed.
//!
//! Written here rather than taken from a crate: it is forty lines, and the bounded map (so a
//! flood of distinct addresses cannot grow memory) is the part that matters.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most keys one limiter tracks. Past it, buckets that have refilled completely (which are the
/// same as new ones) are dropped first, then the least recently used.
pub const MAX_TRACKED_KEYS: usize = 10_000;

/// One configured rate: sustained requests per second, and how many may come at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second (> 0).
    pub per_second: f64,
    /// Requests allowed in a burst (≥ 1): the bucket's size.
    pub burst: u32,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    /// Tokens the bucket holds at `now` (refilled since its last update, capped at the burst).
    fn level(&self, limit: RateLimit, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        (self.tokens + elapsed * limit.per_second).min(f64::from(limit.burst))
    }
}

/// Token buckets keyed by `K`, bounded to [`MAX_TRACKED_KEYS`].
#[derive(Debug)]
pub struct KeyedLimiter<K> {
    limit: RateLimit,
    max_keys: usize,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    /// A limiter applying `limit` to each key.
    pub fn new(limit: RateLimit) -> Self {
        Self::with_capacity(limit, MAX_TRACKED_KEYS)
    }

    fn with_capacity(limit: RateLimit, max_keys: usize) -> Self {
        Self {
            limit,
            max_keys: max_keys.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s bucket, or says how long until one is available.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let limit = self.limit;
        // A poisoned lock only means another request panicked mid-update; the map is still
        // a valid map of buckets.
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !buckets.contains_key(key) && buckets.len() >= self.max_keys {
            buckets.retain(|_, bucket| bucket.level(limit, now) < f64::from(limit.burst));
            if buckets.len() >= self.max_keys
                && let Some(oldest) = buckets.iter().min_by_key(|(_, b)| b.updated).map(|(k, _)| k.clone())
            {
                buckets.remove(&oldest);
            }
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: f64::from(limit.burst),
            updated: now,
        });
        let level = bucket.level(limit, now);
        bucket.updated = now;
        if level >= 1.0 {
            bucket.tokens = level - 1.0;
            Ok(())
        } else {
            bucket.tokens = level;
            // A tiny configured rate can make the wait exceed what a Duration holds.
            Err(Duration::try_from_secs_f64((1.0 - level) / limit.per_second).unwrap_or(Duration::MAX))
        }
    }

    /// Keys currently tracked.
    pub fn tracked(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: RateLimit = RateLimit {
        per_second: 2.0,
        burst: 3,
    };

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let limiter = KeyedLimiter::new(LIMIT);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check(&"a", t0).is_ok());
        }
        let wait = limiter.check(&"a", t0).expect_err("bucket empty");
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9, "{wait:?}");
        assert!(limiter.check(&"b", t0).is_ok(), "keys are independent");
        assert!(limiter.check(&"a", t0 + Duration::from_millis(500)).is_ok());
        assert!(limiter.check(&"a", t0 + Duration::from_millis(600)).is_err());
        // A long pause refills to the burst, never beyond.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(limiter.check(&"a", later).is_ok());
        }
        assert!(limiter.check(&"a", later).is_err());
    }

    #[test]
    fn a_tiny_rate_gives_a_long_wait_not_a_panic() {
        let limiter = KeyedLimiter::new(RateLimit {
            per_second: 1e-300,
            burst: 1,
        });
        let t0 = Instant::now();
        assert!(limiter.check(&(), t0).is_ok());
        assert_eq!(limiter.check(&(), t0), Err(Duration::MAX));
    }

    #[test]
    fn the_map_stays_bounded() {
        let limiter = KeyedLimiter::with_capacity(LIMIT, 100);
        let t0 = Instant::now();
        for key in 0..1_000 {
            let _ = limiter.check(&key, t0);
            assert!(limiter.tracked() <= 100);
        }
        // A key that was evicted comes back with a full bucket; one still tracked does not.
        let _ = limiter.check(&999, t0);
        let _ = limiter.check(&999, t0);
        assert!(limiter.check(&999, t0).is_err());
    }
}
