//! The server's measurements of itself: query recording, pool statistics and leak detection,
//! the adaptive concurrency limit, memory tracking, alerts and recommendations.
//!
//! Everything here is pure Rust with no database and no GraphQL: the server wires it into the
//! query path, the pool gate, the sampler that persists snapshots, Query.metrics and
//! Prometheus. Live state updates with relaxed atomics on the hot paths; readers take
//! snapshots (plain data), which can be diffed into interval figures and fed to
//! [`alerts::evaluate`] and [`recommendations::recommend`].

pub mod histogram;
pub mod limiter;
pub mod memory;
mod names;
pub mod pool;
pub mod queries;

pub use histogram::{HistogramSnapshot, LatencyHistogram};
pub use limiter::{AdaptiveGate, AdaptiveLimit, GateClosed, GatePermit, LimitChange, LimiterConfig, LimiterSnapshot};
pub use memory::{GrowthFigure, MemoryReading, MemorySnapshot, MemoryTracker, MemoryTrackerConfig, read_memory};
pub use pool::{DEFAULT_LEAK_BOUND, HeldConnection, LongHeld, PoolSnapshot, PoolStats};
pub use queries::{QueryRecorder, QueryTypeSnapshot, RecordOutcome, delta_all, merged_latency};

#[cfg(test)]
pub(crate) mod testing {
    /// SplitMix64: a tiny deterministic generator so tests need no `rand` dependency.
    pub(crate) struct Rng(u64);

    impl Rng {
        pub(crate) fn new(seed: u64) -> Self {
            Self(seed)
        }

        pub(crate) fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// Uniform in [0, 1).
        pub(crate) fn unit(&mut self) -> f64 {
            (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
        }
    }
}
