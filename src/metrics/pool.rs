//! Connection-pool statistics kept by our own gate in front of the pool, and leak detection.
//!
//! The pool library reports only its size and idle count, so everything else is measured at
//! the gate: each acquisition goes through [`PoolStats::acquired`] (or
//! [`acquired_after_wait`](PoolStats::acquired_after_wait)), which returns a
//! [`HeldConnection`] guard; dropping the guard ends the hold. All updates are relaxed atomics.
//!
//! Leak detection: every hold occupies one slot of a fixed slab of `AtomicU64`s for as long as
//! it lives. A slot packs the hold's start (milliseconds since the stats were created) and its
//! operation (an index into a lock-free name table) into one word, so claiming and releasing a
//! slot are single atomic operations and a background checker can list holds older than a
//! bound ([`PoolStats::long_held`]) without locks. [`PoolStats::take_new_leaks`] additionally
//! sets a "reported" bit in the slot, so each leak is counted and logged exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::histogram::{HistogramSnapshot, LatencyHistogram};
use super::names::{DEFAULT_CAPACITY, NameTable};

/// The original system's leak bound: a connection held longer than this is reported.
pub const DEFAULT_LEAK_BOUND: Duration = Duration::from_secs(30);

/// Slot layout: bit 63 = reported, bits 16..63 = start ms + 1 (never 0), bits 0..16 = operation.
const REPORTED: u64 = 1 << 63;
const OP_BITS: u32 = 16;
const OP_MASK: u64 = (1 << OP_BITS) - 1;
const START_MAX: u64 = (1 << (63 - OP_BITS)) - 1;
/// Operation index used when the operation table is full.
const UNKNOWN_OP: u64 = OP_MASK;
/// Reported for [`UNKNOWN_OP`].
const UNKNOWN_OPERATION: &str = "unknown";

/// A connection held longer than the leak bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongHeld {
    /// The query type or operation that acquired it.
    pub operation: &'static str,
    /// How long it has been held so far.
    pub held: Duration,
}

struct PoolInner {
    epoch: Instant,
    enabled: AtomicBool,
    configured_max: AtomicU32,
    leak_bound_ms: AtomicU64,
    in_use: AtomicU32,
    peak_in_use: AtomicU32,
    acquisitions: AtomicU64,
    acquire_timeouts: AtomicU64,
    connection_errors: AtomicU64,
    leaks_detected: AtomicU64,
    /// Holds that found the slab full and so cannot be checked for leaks (should stay 0).
    untracked_holds: AtomicU64,
    /// Time spent waiting by acquisitions that had to wait (its count is the wait count).
    wait_time: LatencyHistogram,
    /// How long connections were held, from acquisition to the guard's drop.
    hold_time: LatencyHistogram,
    holds: Box<[AtomicU64]>,
    next_slot: AtomicUsize,
    operations: NameTable<()>,
}

/// Statistics of one connection pool; cheaply cloneable (shared `Arc` inside).
#[derive(Clone)]
pub struct PoolStats {
    inner: Arc<PoolInner>,
}

impl std::fmt::Debug for PoolStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolStats")
            .field("configured_max", &self.configured_max())
            .field("in_use", &self.in_use())
            .finish_non_exhaustive()
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl PoolStats {
    /// Stats for a pool of at most `configured_max` connections (DB_MAX_OPEN_CONNS);
    /// `enabled` is ENABLE_CONNECTION_MONITORING; holds longer than `leak_bound` are leaks.
    /// The leak slab gets two slots per configured connection (32 … 8192), since the gate
    /// never lets more than `configured_max` holds exist at once.
    pub fn new(configured_max: u32, enabled: bool, leak_bound: Duration) -> Self {
        let slots = (configured_max as usize).saturating_mul(2).clamp(32, 8192);
        Self {
            inner: Arc::new(PoolInner {
                epoch: Instant::now(),
                enabled: AtomicBool::new(enabled),
                configured_max: AtomicU32::new(configured_max),
                leak_bound_ms: AtomicU64::new(millis(leak_bound)),
                in_use: AtomicU32::new(0),
                peak_in_use: AtomicU32::new(0),
                acquisitions: AtomicU64::new(0),
                acquire_timeouts: AtomicU64::new(0),
                connection_errors: AtomicU64::new(0),
                leaks_detected: AtomicU64::new(0),
                untracked_holds: AtomicU64::new(0),
                wait_time: LatencyHistogram::new(),
                hold_time: LatencyHistogram::new(),
                holds: (0..slots).map(|_| AtomicU64::new(0)).collect(),
                next_slot: AtomicUsize::new(0),
                operations: NameTable::with_capacity(DEFAULT_CAPACITY),
            }),
        }
    }

    /// Whether statistics are kept (ENABLE_CONNECTION_MONITORING).
    pub fn enabled(&self) -> bool {
        self.inner.enabled.load(Ordering::Relaxed)
    }

    /// The configured maximum, the denominator of utilization.
    pub fn configured_max(&self) -> u32 {
        self.inner.configured_max.load(Ordering::Relaxed)
    }

    /// Connections currently held through the gate.
    pub fn in_use(&self) -> u32 {
        self.inner.in_use.load(Ordering::Relaxed)
    }

    /// The bound beyond which a hold is a leak.
    pub fn leak_bound(&self) -> Duration {
        Duration::from_millis(self.inner.leak_bound_ms.load(Ordering::Relaxed))
    }

    /// Changes the leak bound (configuration reload, tests).
    pub fn set_leak_bound(&self, bound: Duration) {
        self.inner.leak_bound_ms.store(millis(bound), Ordering::Relaxed);
    }

    /// A connection was handed out without waiting. Hold the returned guard as long as the
    /// connection; its drop records the hold time and frees the leak slot.
    pub fn acquired(&self, operation: &'static str) -> HeldConnection {
        self.acquired_at(operation, Instant::now())
    }

    /// A connection was handed out after waiting `waited` for it (the gate had no free permit).
    pub fn acquired_after_wait(&self, operation: &'static str, waited: Duration) -> HeldConnection {
        if self.enabled() {
            self.inner.wait_time.record(waited);
        }
        self.acquired(operation)
    }

    /// [`acquired`](Self::acquired) with an explicit start time (tests, replay).
    pub fn acquired_at(&self, operation: &'static str, now: Instant) -> HeldConnection {
        if !self.enabled() {
            return HeldConnection {
                inner: None,
                operation,
                started: now,
                slot: None,
                word: 0,
            };
        }
        let inner = &self.inner;
        inner.acquisitions.fetch_add(1, Ordering::Relaxed);
        let in_use = inner.in_use.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        inner.peak_in_use.fetch_max(in_use, Ordering::Relaxed);

        let op = match inner.operations.get_or_insert_with(operation, || ()) {
            Some((index, ())) => index as u64 & OP_MASK,
            None => UNKNOWN_OP,
        };
        let start = millis(now.saturating_duration_since(inner.epoch)).min(START_MAX - 1) + 1;
        let word = (start << OP_BITS) | op;
        let slot = self.claim_slot(word);
        if slot.is_none() {
            inner.untracked_holds.fetch_add(1, Ordering::Relaxed);
        }
        HeldConnection {
            inner: Some(inner.clone()),
            operation,
            started: now,
            slot,
            word,
        }
    }

    /// Finds a free slot, starting at a rotating position so concurrent claims rarely collide.
    fn claim_slot(&self, word: u64) -> Option<usize> {
        let holds = &self.inner.holds;
        let start = self.inner.next_slot.fetch_add(1, Ordering::Relaxed);
        (0..holds.len()).map(|i| (start + i) % holds.len()).find(|&index| {
            holds.get(index).is_some_and(|slot| {
                slot.load(Ordering::Relaxed) == 0
                    && slot
                        .compare_exchange(0, word, Ordering::AcqRel, Ordering::Relaxed)
                        .is_ok()
            })
        })
    }

    /// An acquisition gave up after waiting `waited` (DB_ACQUIRE_TIMEOUT_SECONDS). It counts
    /// as a wait too, so wait totals include the time lost to timeouts.
    pub fn record_timeout(&self, waited: Duration) {
        if self.enabled() {
            self.inner.acquire_timeouts.fetch_add(1, Ordering::Relaxed);
            self.inner.wait_time.record(waited);
        }
    }

    /// Opening or using a connection failed at the connection level (not a query error).
    pub fn record_connection_error(&self) {
        if self.enabled() {
            self.inner.connection_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn decode(&self, word: u64, now: Instant) -> LongHeld {
        // Whole milliseconds on both sides, so a hold started at `t` reads exactly `now - t`.
        let start_ms = ((word & !REPORTED) >> OP_BITS).saturating_sub(1);
        let now_ms = millis(now.saturating_duration_since(self.inner.epoch));
        let op = word & OP_MASK;
        let operation = if op == UNKNOWN_OP {
            UNKNOWN_OPERATION
        } else {
            self.inner.operations.name(op as usize).unwrap_or(UNKNOWN_OPERATION)
        };
        LongHeld {
            operation,
            held: Duration::from_millis(now_ms.saturating_sub(start_ms)),
        }
    }

    /// Holds older than `bound` right now, longest first (for display; see
    /// [`take_new_leaks`](Self::take_new_leaks) for counting and logging).
    pub fn long_held(&self, bound: Duration) -> Vec<LongHeld> {
        self.long_held_at(bound, Instant::now())
    }

    /// [`long_held`](Self::long_held) as of `now`.
    pub fn long_held_at(&self, bound: Duration, now: Instant) -> Vec<LongHeld> {
        let mut held: Vec<LongHeld> = self
            .inner
            .holds
            .iter()
            .map(|slot| slot.load(Ordering::Acquire))
            .filter(|&word| word != 0)
            .map(|word| self.decode(word, now))
            .filter(|hold| hold.held > bound)
            .collect();
        held.sort_by_key(|hold| std::cmp::Reverse(hold.held));
        held
    }

    /// Holds older than the leak bound that have not been reported before: each is returned by
    /// exactly one call and counted in `leaks_detected`, so the caller logs each leak once.
    pub fn take_new_leaks(&self) -> Vec<LongHeld> {
        self.take_new_leaks_at(Instant::now())
    }

    /// [`take_new_leaks`](Self::take_new_leaks) as of `now`.
    pub fn take_new_leaks_at(&self, now: Instant) -> Vec<LongHeld> {
        let bound = self.leak_bound();
        let mut leaks = Vec::new();
        for slot in self.inner.holds.iter() {
            let word = slot.load(Ordering::Acquire);
            if word == 0 || word & REPORTED != 0 {
                continue;
            }
            let hold = self.decode(word, now);
            // The CAS fails if the hold ended (or was replaced) meanwhile: then it is no leak.
            if hold.held > bound
                && slot
                    .compare_exchange(word, word | REPORTED, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            {
                leaks.push(hold);
            }
        }
        self.inner
            .leaks_detected
            .fetch_add(leaks.len() as u64, Ordering::Relaxed);
        leaks.sort_by_key(|hold| std::cmp::Reverse(hold.held));
        leaks
    }

    /// The figures as of now. `open` and `idle` come from the pool library (read when the
    /// metrics are read); everything else from the gate.
    pub fn snapshot(&self, open: u32, idle: u32) -> PoolSnapshot {
        self.snapshot_at(open, idle, Instant::now())
    }

    /// [`snapshot`](Self::snapshot) as of `now`.
    pub fn snapshot_at(&self, open: u32, idle: u32, now: Instant) -> PoolSnapshot {
        let inner = &self.inner;
        let configured_max = self.configured_max();
        let in_use = self.in_use();
        PoolSnapshot {
            enabled: self.enabled(),
            configured_max,
            open,
            idle,
            in_use,
            peak_in_use: inner.peak_in_use.load(Ordering::Relaxed),
            utilization_percent: utilization_percent(in_use, configured_max),
            acquisitions: inner.acquisitions.load(Ordering::Relaxed),
            acquire_timeouts: inner.acquire_timeouts.load(Ordering::Relaxed),
            connection_errors: inner.connection_errors.load(Ordering::Relaxed),
            leaks_detected: inner.leaks_detected.load(Ordering::Relaxed),
            untracked_holds: inner.untracked_holds.load(Ordering::Relaxed),
            long_held: self.long_held_at(self.leak_bound(), now),
            wait: inner.wait_time.snapshot(),
            hold: inner.hold_time.snapshot(),
        }
    }
}

/// Utilization as the original defines it for its alert: connections in use (held through our
/// gate) as a percentage of the configured maximum (DB_MAX_OPEN_CONNS) — not of the
/// connections currently open, which would read 100 % on a small, busy, still-growing pool.
pub fn utilization_percent(in_use: u32, configured_max: u32) -> f64 {
    if configured_max == 0 {
        return 0.0;
    }
    f64::from(in_use) / f64::from(configured_max) * 100.0
}

/// A connection checked out through the gate; dropping it ends the hold.
#[must_use = "the hold ends when this guard is dropped"]
pub struct HeldConnection {
    inner: Option<Arc<PoolInner>>,
    operation: &'static str,
    started: Instant,
    slot: Option<usize>,
    word: u64,
}

impl std::fmt::Debug for HeldConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldConnection")
            .field("operation", &self.operation)
            .field("held", &self.started.elapsed())
            .finish()
    }
}

impl HeldConnection {
    /// The operation this connection was acquired for.
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// How long the connection has been held.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for HeldConnection {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else { return };
        inner.hold_time.record(self.started.elapsed());
        // Saturating: never wraps even if counters were disturbed.
        let _ = inner
            .in_use
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_sub(1)));
        if let Some(slot) = self.slot.and_then(|index| inner.holds.get(index)) {
            // We own the slot; the checker may only have added the reported bit.
            debug_assert_eq!(slot.load(Ordering::Relaxed) & !REPORTED, self.word);
            slot.store(0, Ordering::Release);
        }
    }
}

/// Pool figures at one moment (cumulative counters) or over an interval
/// ([`PoolSnapshot::delta`]). Plain data: what Query.metrics, /metrics and the sampler read.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSnapshot {
    /// Whether the gate keeps statistics (ENABLE_CONNECTION_MONITORING); all zero when not.
    pub enabled: bool,
    /// DB_MAX_OPEN_CONNS.
    pub configured_max: u32,
    /// Connections open in the pool (pool library).
    pub open: u32,
    /// Open connections not checked out (pool library).
    pub idle: u32,
    /// Connections checked out through the gate.
    pub in_use: u32,
    /// Highest `in_use` since start.
    pub peak_in_use: u32,
    /// `in_use / configured_max × 100`; see [`utilization_percent`].
    pub utilization_percent: f64,
    /// Acquisitions through the gate.
    pub acquisitions: u64,
    /// Acquisitions that gave up (they also count as waits).
    pub acquire_timeouts: u64,
    /// Connection-level failures.
    pub connection_errors: u64,
    /// Holds that outlived the leak bound (each counted once).
    pub leaks_detected: u64,
    /// Holds the leak slab could not track (should be 0).
    pub untracked_holds: u64,
    /// Holds older than the leak bound at snapshot time, longest first.
    pub long_held: Vec<LongHeld>,
    /// Wait times of acquisitions that waited; its count is the wait count.
    pub wait: HistogramSnapshot,
    /// Hold times of finished holds.
    pub hold: HistogramSnapshot,
}

impl PoolSnapshot {
    /// Acquisitions that had to wait (including those that timed out).
    pub fn waits(&self) -> u64 {
        self.wait.count()
    }

    /// Total time spent waiting, in milliseconds.
    pub fn wait_total_ms(&self) -> f64 {
        self.wait.sum_ms()
    }

    /// Longest wait, in milliseconds (approximate for an interval; see `HistogramSnapshot::delta`).
    pub fn wait_max_ms(&self) -> f64 {
        self.wait.max_ms()
    }

    /// Mean wait of the acquisitions that waited, in milliseconds; 0 when none did.
    pub fn mean_wait_ms(&self) -> f64 {
        self.wait.mean_ms()
    }

    /// Interval figures: counters are this snapshot minus `earlier`; gauges (open, idle,
    /// in use, utilization, peak, long-held holds) are this snapshot's.
    pub fn delta(&self, earlier: &PoolSnapshot) -> PoolSnapshot {
        PoolSnapshot {
            acquisitions: self.acquisitions.saturating_sub(earlier.acquisitions),
            acquire_timeouts: self.acquire_timeouts.saturating_sub(earlier.acquire_timeouts),
            connection_errors: self.connection_errors.saturating_sub(earlier.connection_errors),
            leaks_detected: self.leaks_detected.saturating_sub(earlier.leaks_detected),
            untracked_holds: self.untracked_holds.saturating_sub(earlier.untracked_holds),
            wait: self.wait.delta(&earlier.wait),
            hold: self.hold.delta(&earlier.hold),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> PoolStats {
        PoolStats::new(10, true, DEFAULT_LEAK_BOUND)
    }

    #[test]
    fn in_use_peak_and_utilization_follow_the_guards() {
        let stats = stats();
        let a = stats.acquired("generated_domains.page");
        let b = stats.acquired("node.load");
        let c = stats.acquired("node.load");
        let snapshot = stats.snapshot(7, 4);
        assert_eq!(
            (snapshot.in_use, snapshot.peak_in_use, snapshot.acquisitions),
            (3, 3, 3)
        );
        assert_eq!((snapshot.open, snapshot.idle, snapshot.configured_max), (7, 4, 10));
        assert!((snapshot.utilization_percent - 30.0).abs() < 1e-9);
        drop(a);
        drop(b);
        let snapshot = stats.snapshot(7, 6);
        assert_eq!((snapshot.in_use, snapshot.peak_in_use), (1, 3));
        assert!((snapshot.utilization_percent - 10.0).abs() < 1e-9);
        drop(c);
        let snapshot = stats.snapshot(7, 7);
        assert_eq!(
            (snapshot.in_use, snapshot.peak_in_use, snapshot.acquisitions),
            (0, 3, 3)
        );
        assert_eq!(snapshot.hold.count(), 3);
        assert_eq!(snapshot.utilization_percent, 0.0);
    }

    #[test]
    fn waits_timeouts_and_errors_are_counted() {
        let stats = stats();
        drop(stats.acquired("a"));
        drop(stats.acquired_after_wait("a", Duration::from_millis(10)));
        drop(stats.acquired_after_wait("a", Duration::from_millis(30)));
        stats.record_timeout(Duration::from_secs(5));
        stats.record_connection_error();
        let snapshot = stats.snapshot(1, 1);
        assert_eq!(snapshot.acquisitions, 3);
        assert_eq!(snapshot.waits(), 3);
        assert_eq!(snapshot.acquire_timeouts, 1);
        assert_eq!(snapshot.connection_errors, 1);
        assert!((snapshot.wait_total_ms() - 5040.0).abs() < 1e-9);
        assert_eq!(snapshot.wait_max_ms(), 5000.0);
        assert!((snapshot.mean_wait_ms() - 1680.0).abs() < 1e-9);
    }

    #[test]
    fn delta_differences_counters_and_keeps_gauges() {
        let stats = stats();
        drop(stats.acquired_after_wait("a", Duration::from_millis(10)));
        let earlier = stats.snapshot(2, 2);
        let held = stats.acquired_after_wait("a", Duration::from_millis(20));
        stats.record_connection_error();
        let interval = stats.snapshot(2, 1).delta(&earlier);
        assert_eq!(
            (interval.acquisitions, interval.waits(), interval.connection_errors),
            (1, 1, 1)
        );
        assert!((interval.wait_total_ms() - 20.0).abs() < 1e-9);
        assert_eq!((interval.in_use, interval.idle, interval.peak_in_use), (1, 1, 1));
        drop(held);
    }

    #[test]
    fn long_held_lists_old_holds_with_their_operation() {
        let stats = stats();
        let now = Instant::now();
        let _fresh = stats.acquired_at("dns_results.page", now);
        let _old = stats.acquired_at("campaigns.page", now);
        let later = now + Duration::from_secs(45);
        let _new = stats.acquired_at("node.load", later);
        assert!(
            stats
                .long_held_at(Duration::from_secs(30), now + Duration::from_secs(10))
                .is_empty()
        );
        let held = stats.long_held_at(Duration::from_secs(30), later);
        let mut operations: Vec<&str> = held.iter().map(|h| h.operation).collect();
        operations.sort_unstable();
        assert_eq!(operations, ["campaigns.page", "dns_results.page"]);
        assert!(held.iter().all(|h| h.held == Duration::from_secs(45)));
        // A shorter bound also catches the younger hold; longest first.
        let held = stats.long_held_at(Duration::from_secs(1), later + Duration::from_secs(5));
        assert_eq!(held.len(), 3);
        assert_eq!(held[2].operation, "node.load");
        assert_eq!(held[2].held, Duration::from_secs(5));
    }

    #[test]
    fn each_leak_is_reported_once_and_released_holds_are_not_leaks() {
        let stats = stats();
        let now = Instant::now();
        let leak = stats.acquired_at("http_results.page", now);
        let short = stats.acquired_at("node.load", now);
        drop(short);
        let later = now + Duration::from_secs(31);
        let leaks = stats.take_new_leaks_at(later);
        assert_eq!(
            leaks,
            [LongHeld {
                operation: "http_results.page",
                held: Duration::from_secs(31)
            }]
        );
        assert!(
            stats.take_new_leaks_at(later + Duration::from_secs(60)).is_empty(),
            "reported once"
        );
        // Still listed for display while it is held.
        assert_eq!(stats.long_held_at(DEFAULT_LEAK_BOUND, later).len(), 1);
        assert_eq!(stats.snapshot_at(1, 0, later).leaks_detected, 1);
        drop(leak);
        assert!(
            stats.long_held_at(Duration::ZERO, later).is_empty(),
            "slot freed on drop"
        );
        assert_eq!(stats.in_use(), 0);
    }

    #[test]
    fn slots_are_reused_and_overflow_is_counted() {
        let stats = PoolStats::new(1, true, DEFAULT_LEAK_BOUND);
        // 32 slots minimum.
        for _ in 0..3 {
            let guards: Vec<HeldConnection> = (0..32).map(|_| stats.acquired("a")).collect();
            assert_eq!(stats.snapshot(0, 0).untracked_holds, 0);
            drop(guards);
        }
        let guards: Vec<HeldConnection> = (0..33).map(|_| stats.acquired("a")).collect();
        let snapshot = stats.snapshot(0, 0);
        assert_eq!(
            (snapshot.untracked_holds, snapshot.in_use, snapshot.peak_in_use),
            (1, 33, 33)
        );
        assert!((snapshot.utilization_percent - 3300.0).abs() < 1e-9);
        drop(guards);
        assert_eq!(stats.in_use(), 0);
    }

    #[test]
    fn disabled_stats_stay_at_zero() {
        let stats = PoolStats::new(10, false, DEFAULT_LEAK_BOUND);
        let guard = stats.acquired_after_wait("a", Duration::from_millis(5));
        stats.record_timeout(Duration::from_secs(1));
        stats.record_connection_error();
        let snapshot = stats.snapshot(3, 1);
        assert!(!snapshot.enabled);
        assert_eq!((snapshot.in_use, snapshot.acquisitions, snapshot.waits()), (0, 0, 0));
        assert_eq!((snapshot.acquire_timeouts, snapshot.connection_errors), (0, 0));
        assert_eq!(guard.operation(), "a");
        drop(guard);
        assert_eq!(stats.snapshot(3, 1).hold.count(), 0);
    }

    #[test]
    fn concurrent_holds_balance_out() {
        let stats = PoolStats::new(8, true, DEFAULT_LEAK_BOUND);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let stats = stats.clone();
                std::thread::spawn(move || {
                    for _ in 0..2000 {
                        let a = stats.acquired("a");
                        let b = stats.acquired("b");
                        drop(a);
                        drop(b);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let snapshot = stats.snapshot(0, 0);
        assert_eq!(
            (snapshot.in_use, snapshot.acquisitions, snapshot.untracked_holds),
            (0, 16_000, 0)
        );
        assert!(snapshot.peak_in_use >= 2 && snapshot.peak_in_use <= 8);
        assert!(
            stats
                .long_held_at(Duration::ZERO, Instant::now() + Duration::from_secs(1))
                .is_empty()
        );
    }

    #[test]
    fn utilization_definition() {
        assert_eq!(utilization_percent(0, 0), 0.0);
        assert_eq!(utilization_percent(85, 100), 85.0);
        assert_eq!(utilization_percent(1, 4), 25.0);
    }
}
