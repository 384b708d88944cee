//! HTTP requests served: a total, the ones answered with an error status, those in flight, the
//! GraphQL requests a compiled page plan answered, and what Automatic Persisted Queries did.
//! Three relaxed atomics per request; readers derive throughput from successive snapshots.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live request counters (shared, `&self`).
#[derive(Debug, Default)]
pub struct RequestStats {
    started: AtomicU64,
    finished: AtomicU64,
    errors: AtomicU64,
    compiled: AtomicU64,
    persisted_hits: AtomicU64,
    persisted_misses: AtomicU64,
    persisted_registered: AtomicU64,
}

/// What the persisted-query step did with one request (`graphql::persisted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persisted {
    /// A hash alone, answered from the text kept under it.
    Hit,
    /// A hash alone that is not kept (the client sends the text next).
    Miss,
    /// A text with its hash, kept.
    Registered,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestSnapshot {
    /// Requests answered since start.
    pub total: u64,
    /// Of those, answered with a status of 400 or more.
    pub errors: u64,
    /// Requests received and not yet answered.
    pub in_flight: u64,
    /// GraphQL requests answered by a compiled page plan (`graphql::compiled`).
    pub compiled: u64,
    /// Persisted queries: hashes answered, hashes not found, texts registered.
    pub persisted_hits: u64,
    pub persisted_misses: u64,
    pub persisted_registered: u64,
}

impl RequestStats {
    /// A request arrived.
    pub fn start(&self) {
        self.started.fetch_add(1, Ordering::Relaxed);
    }

    /// A request was answered with `status`.
    pub fn finish(&self, status: u16) {
        if status >= 400 {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.finished.fetch_add(1, Ordering::Relaxed);
    }

    /// A GraphQL request was answered by a compiled page plan.
    pub fn compiled(&self) {
        self.compiled.fetch_add(1, Ordering::Relaxed);
    }

    /// The persisted-query step did `what`.
    pub fn persisted(&self, what: Persisted) {
        let counter = match what {
            Persisted::Hit => &self.persisted_hits,
            Persisted::Miss => &self.persisted_misses,
            Persisted::Registered => &self.persisted_registered,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now. `finished` is read first, so `in_flight` never underflows.
    pub fn snapshot(&self) -> RequestSnapshot {
        let total = self.finished.load(Ordering::Relaxed);
        let errors = self.errors.load(Ordering::Relaxed);
        let started = self.started.load(Ordering::Relaxed);
        RequestSnapshot {
            total,
            errors,
            in_flight: started.saturating_sub(total),
            compiled: self.compiled.load(Ordering::Relaxed),
            persisted_hits: self.persisted_hits.load(Ordering::Relaxed),
            persisted_misses: self.persisted_misses.load(Ordering::Relaxed),
            persisted_registered: self.persisted_registered.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_answers_errors_and_in_flight() {
        let stats = RequestStats::default();
        stats.start();
        stats.start();
        stats.start();
        stats.finish(200);
        stats.finish(429);
        stats.compiled();
        stats.persisted(Persisted::Miss);
        stats.persisted(Persisted::Registered);
        stats.persisted(Persisted::Hit);
        stats.persisted(Persisted::Hit);
        assert_eq!(
            stats.snapshot(),
            RequestSnapshot {
                total: 2,
                errors: 1,
                in_flight: 1,
                compiled: 1,
                persisted_hits: 2,
                persisted_misses: 1,
                persisted_registered: 1,
            }
        );
    }
}
