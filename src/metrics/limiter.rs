//! Opt-in adaptive limit on concurrent database work, inside the configured pool maximum.
//!
//! This is the original system's "automatic pool size adjustment", done the way TCP and
//! Netflix's concurrency-limits do it: the pool keeps its configured size, and an AIMD rule
//! decides how many queries may run at once.
//!
//! Rule, evaluated once per window (default 1 s and at least 20 samples):
//! - The signal is the window's p90 query latency (excluding time waiting at the gate),
//!   floored at 1 ms so sub-millisecond jitter on a fast local database means nothing.
//!   p90 rather than the mean so one pathological query does not shrink the limit.
//! - The *baseline* is the lowest window p90 seen, drifting up by 2 % of the gap each window
//!   so a lasting change of workload becomes the new normal after about a minute.
//! - **Multiplicative decrease**: p90 > 2 × baseline → limit × 0.8 (at least −1), then no
//!   further decrease for a 3 s cool-down, so the effect of one cut is seen before the next.
//! - **Additive increase**: some acquisitions waited in the window and p90 ≤ 1.5 × baseline →
//!   limit + step (default max/25, at least 1). Without waits the limit is not binding, so it
//!   stays put.
//! - Between 1.5× and 2× nothing changes: that band is the hysteresis that keeps a noisy but
//!   flat latency from making the limit oscillate.
//! - Always within [min, max], max being DB_MAX_OPEN_CONNS.
//!
//! [`AdaptiveLimit`] is the pure decision core (no clock, no I/O: time is passed in), which
//! the tests drive with synthetic traces. [`AdaptiveGate`] puts it in front of the pool: a
//! `tokio::sync::Semaphore` whose permits follow the limit, fed lock-free by every query.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use super::histogram::{HistogramSnapshot, LatencyHistogram};

/// Settings of the adaptive limit; [`LimiterConfig::for_pool`] gives the defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct LimiterConfig {
    /// Whether the limit adapts at all (opt-in). When off, the gate is a fixed semaphore of
    /// `max` permits — still useful, since it is where waits are detected.
    pub enabled: bool,
    /// Lowest limit (default max/10, at least 1): never starve the server entirely.
    pub min: u32,
    /// Highest limit: the configured pool maximum (DB_MAX_OPEN_CONNS).
    pub max: u32,
    /// Limit at start (default `max`, so enabling the limiter changes nothing until latency
    /// climbs).
    pub initial: u32,
    /// Length of a decision window.
    pub window: Duration,
    /// A window closes only once it holds this many samples, so quiet periods decide nothing.
    pub min_samples: u64,
    /// Raise only while p90 ≤ this × baseline.
    pub raise_tolerance: f64,
    /// Lower when p90 > this × baseline.
    pub lower_tolerance: f64,
    /// Multiplier applied on a decrease.
    pub backoff: f64,
    /// Permits added on an increase.
    pub step: u32,
    /// Minimum time between two decreases.
    pub cooldown: Duration,
    /// Fraction of the gap by which the baseline rises toward a higher p90 each window.
    pub baseline_drift: f64,
    /// Latencies below this are treated as this.
    pub latency_floor: Duration,
    /// Changes kept for display.
    pub history: usize,
}

impl LimiterConfig {
    /// The defaults for a pool of `max` connections.
    pub fn for_pool(max: u32, enabled: bool) -> Self {
        let max = max.max(1);
        Self {
            enabled,
            min: (max / 10).max(1),
            max,
            initial: max,
            window: Duration::from_secs(1),
            min_samples: 20,
            raise_tolerance: 1.5,
            lower_tolerance: 2.0,
            backoff: 0.8,
            step: (max / 25).max(1),
            cooldown: Duration::from_secs(3),
            baseline_drift: 0.02,
            latency_floor: Duration::from_millis(1),
            history: 32,
        }
    }

    /// Makes the bounds consistent: 1 ≤ min ≤ initial ≤ max, step ≥ 1.
    fn normalized(mut self) -> Self {
        self.max = self.max.max(1);
        self.min = self.min.clamp(1, self.max);
        self.initial = self.initial.clamp(self.min, self.max);
        self.step = self.step.max(1);
        self.min_samples = self.min_samples.max(1);
        self
    }
}

/// One change of the limit, kept for metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitChange {
    /// Limit before.
    pub from: u32,
    /// Limit after.
    pub to: u32,
    /// Why, with the figures that decided it.
    pub reason: String,
    /// When (the `now` of the deciding window).
    pub at: Instant,
}

/// What one decision window measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowSummary {
    /// Queries completed in the window.
    pub samples: u64,
    /// Of those, how many had to wait at the gate.
    pub waits: u64,
    /// 90th percentile latency of the window.
    pub p90: Duration,
}

/// The limiter's state for display (Query.metrics, /metrics).
#[derive(Debug, Clone, PartialEq)]
pub struct LimiterSnapshot {
    /// Whether the limit adapts.
    pub enabled: bool,
    /// The limit now.
    pub current: u32,
    /// Lower bound.
    pub min: u32,
    /// Upper bound (DB_MAX_OPEN_CONNS).
    pub max: u32,
    /// Baseline p90 latency in ms, once a window has closed.
    pub baseline_ms: Option<f64>,
    /// The last closed window.
    pub last_window: Option<WindowSummary>,
    /// Increases since start.
    pub raises: u64,
    /// Decreases since start.
    pub lowers: u64,
    /// The most recent changes, oldest first.
    pub recent_changes: Vec<LimitChange>,
    /// Free permits at the gate (only from [`AdaptiveGate::snapshot`]).
    pub available_permits: Option<usize>,
}

/// The AIMD decision core (see the module doc for the rule). Single-owner (`&mut self`).
#[derive(Debug)]
pub struct AdaptiveLimit {
    config: LimiterConfig,
    current: u32,
    /// Baseline p90 in ms.
    baseline_ms: Option<f64>,
    last_decrease: Option<Instant>,
    window_start: Option<Instant>,
    window: LatencyHistogram,
    window_samples: u64,
    window_waits: u64,
    last_window: Option<WindowSummary>,
    history: VecDeque<LimitChange>,
    raises: u64,
    lowers: u64,
}

fn as_ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

impl AdaptiveLimit {
    /// A limiter starting at `config.initial` (bounds normalized to 1 ≤ min ≤ max).
    pub fn new(config: LimiterConfig) -> Self {
        let config = config.normalized();
        Self {
            current: config.initial,
            history: VecDeque::with_capacity(config.history),
            config,
            baseline_ms: None,
            last_decrease: None,
            window_start: None,
            window: LatencyHistogram::new(),
            window_samples: 0,
            window_waits: 0,
            last_window: None,
            raises: 0,
            lowers: 0,
        }
    }

    /// The limit now.
    pub fn current(&self) -> u32 {
        self.current
    }

    /// The (normalized) configuration.
    pub fn config(&self) -> &LimiterConfig {
        &self.config
    }

    /// The baseline p90 latency, once known.
    pub fn baseline(&self) -> Option<Duration> {
        self.baseline_ms.map(|ms| Duration::from_secs_f64(ms / 1000.0))
    }

    /// The most recent changes, oldest first.
    pub fn history(&self) -> impl Iterator<Item = &LimitChange> {
        self.history.iter()
    }

    /// Feeds one completed query: its latency (excluding the gate wait) and whether its
    /// acquisition waited. Closes the window when due and returns the change it decided.
    pub fn on_sample(&mut self, latency: Duration, waited: bool, now: Instant) -> Option<LimitChange> {
        let start = *self.window_start.get_or_insert(now);
        self.window.record(latency);
        self.window_samples += 1;
        self.window_waits += u64::from(waited);
        if now.saturating_duration_since(start) < self.config.window || self.window_samples < self.config.min_samples {
            return None;
        }
        let summary = WindowSummary {
            samples: self.window_samples,
            waits: self.window_waits,
            p90: Duration::from_secs_f64(self.window.snapshot().percentile_ms(90.0) / 1000.0),
        };
        self.window.reset();
        self.window_samples = 0;
        self.window_waits = 0;
        self.window_start = Some(now);
        self.on_window(summary, now)
    }

    /// Decides on one closed window (the gate aggregates windows itself and calls this).
    pub fn on_window(&mut self, summary: WindowSummary, now: Instant) -> Option<LimitChange> {
        self.last_window = Some(summary);
        if summary.samples == 0 {
            return None;
        }
        let config = &self.config;
        let level = as_ms(summary.p90.max(config.latency_floor));
        let baseline = self.baseline_ms.unwrap_or(level);
        // The baseline follows lower levels at once and higher ones slowly; the decision below
        // uses the value from before this window.
        self.baseline_ms = Some(if level < baseline {
            level
        } else {
            baseline + (level - baseline) * config.baseline_drift
        });
        if !config.enabled {
            return None;
        }
        let ratio = level / baseline;
        let cooled = self
            .last_decrease
            .is_none_or(|at| now.saturating_duration_since(at) >= config.cooldown);
        let from = self.current;
        let (to, reason) = if ratio > config.lower_tolerance && from > config.min && cooled {
            let cut = (f64::from(from) * config.backoff).floor() as u32;
            let to = cut.min(from - 1).max(config.min);
            let reason = format!(
                "lowered {from} → {to}: p90 latency {level:.2} ms is {ratio:.2}× the baseline {baseline:.2} ms \
                 (lower above {:.2}×)",
                config.lower_tolerance
            );
            (to, reason)
        } else if summary.waits > 0 && ratio <= config.raise_tolerance && from < config.max {
            let to = from.saturating_add(config.step).min(config.max);
            let reason = format!(
                "raised {from} → {to}: {} of {} queries waited for a connection while p90 latency {level:.2} ms \
                 stayed within {:.2}× the baseline {baseline:.2} ms",
                summary.waits, summary.samples, config.raise_tolerance
            );
            (to, reason)
        } else {
            return None;
        };
        if to < from {
            self.last_decrease = Some(now);
            self.lowers += 1;
        } else {
            self.raises += 1;
        }
        self.current = to;
        let change = LimitChange {
            from,
            to,
            reason,
            at: now,
        };
        if self.history.len() >= self.config.history.max(1) {
            self.history.pop_front();
        }
        self.history.push_back(change.clone());
        Some(change)
    }

    /// The state for display.
    pub fn snapshot(&self) -> LimiterSnapshot {
        LimiterSnapshot {
            enabled: self.config.enabled,
            current: self.current,
            min: self.config.min,
            max: self.config.max,
            baseline_ms: self.baseline_ms,
            last_window: self.last_window,
            raises: self.raises,
            lowers: self.lowers,
            recent_changes: self.history.iter().cloned().collect(),
            available_permits: None,
        }
    }
}

/// The gate was closed (shutdown): no more database work is admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the database gate is closed")]
pub struct GateClosed;

struct GateState {
    core: AdaptiveLimit,
    /// Cumulative latency snapshot at the start of the current window.
    previous: HistogramSnapshot,
}

struct GateInner {
    semaphore: Arc<Semaphore>,
    /// Mirror of the core's limit, readable without the lock.
    limit: AtomicU32,
    /// Permits still to be retired: a decrease could not forget permits that were held, so
    /// that many returning permits are forgotten instead of released.
    debt: AtomicU32,
    enabled: bool,
    epoch: Instant,
    window_nanos: u64,
    min_samples: u64,
    /// Start of the current window, ns since `epoch`.
    window_start: AtomicU64,
    window_waits: AtomicU64,
    /// Every sample, cumulative; windows are deltas of its snapshots.
    latency: LatencyHistogram,
    state: Mutex<GateState>,
}

/// A semaphore in front of the pool whose permit count follows the adaptive limit.
///
/// How the permits follow: on an increase, `add_permits` (after first cancelling any debt);
/// on a decrease, `forget_permits` retires the free permits at once and the remainder becomes
/// *debt*: the next permits to be returned are forgotten instead of released. So the number
/// of permits in existence converges to the limit without waiting for anyone, and never
/// overshoots it for longer than the holds already in progress.
///
/// Feeding it is lock-free: [`record`](Self::record) adds to an atomic histogram; whichever
/// caller notices the window is due takes the state lock with `try_lock` (never blocking —
/// if another thread has it, that thread is closing the window) and runs the decision.
#[derive(Clone)]
pub struct AdaptiveGate {
    inner: Arc<GateInner>,
}

impl std::fmt::Debug for AdaptiveGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdaptiveGate")
            .field("limit", &self.current())
            .field("available", &self.inner.semaphore.available_permits())
            .finish_non_exhaustive()
    }
}

/// Permission to run database work; returned to the gate on drop.
#[must_use = "the permit is released when dropped"]
pub struct GatePermit {
    permit: Option<OwnedSemaphorePermit>,
    inner: Arc<GateInner>,
    waited: Option<Duration>,
}

impl std::fmt::Debug for GatePermit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatePermit").field("waited", &self.waited).finish()
    }
}

impl GatePermit {
    /// How long the acquisition waited, if it had to (no permit was free on arrival).
    pub fn waited(&self) -> Option<Duration> {
        self.waited
    }
}

impl Drop for GatePermit {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else { return };
        let paid = self
            .inner
            .debt
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |debt| debt.checked_sub(1))
            .is_ok();
        if paid {
            permit.forget();
        }
    }
}

fn lock(state: &Mutex<GateState>) -> MutexGuard<'_, GateState> {
    // A panic while deciding leaves the state usable: keep going rather than poisoning metrics.
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AdaptiveGate {
    /// A gate with `config.initial` permits.
    pub fn new(config: LimiterConfig) -> Self {
        let core = AdaptiveLimit::new(config);
        let config = core.config().clone();
        let initial = core.current();
        Self {
            inner: Arc::new(GateInner {
                semaphore: Arc::new(Semaphore::new(initial as usize)),
                limit: AtomicU32::new(initial),
                debt: AtomicU32::new(0),
                enabled: config.enabled,
                epoch: Instant::now(),
                window_nanos: u64::try_from(config.window.as_nanos()).unwrap_or(u64::MAX),
                min_samples: config.min_samples,
                window_start: AtomicU64::new(0),
                window_waits: AtomicU64::new(0),
                latency: LatencyHistogram::new(),
                state: Mutex::new(GateState {
                    core,
                    previous: HistogramSnapshot::empty(),
                }),
            }),
        }
    }

    /// The limit now (lock-free).
    pub fn current(&self) -> u32 {
        self.inner.limit.load(Ordering::Relaxed)
    }

    /// Free permits right now.
    pub fn available_permits(&self) -> usize {
        self.inner.semaphore.available_permits()
    }

    /// Waits for a permit. `waited()` on the result tells whether it had to: that is the
    /// pool's "acquisition had to wait" figure. Callers bound it with the acquire timeout.
    pub async fn acquire(&self) -> Result<GatePermit, GateClosed> {
        let semaphore = self.inner.semaphore.clone();
        match semaphore.clone().try_acquire_owned() {
            Ok(permit) => return Ok(self.permit(permit, None)),
            Err(TryAcquireError::Closed) => return Err(GateClosed),
            Err(TryAcquireError::NoPermits) => {}
        }
        let start = Instant::now();
        let permit = semaphore.acquire_owned().await.map_err(|_| GateClosed)?;
        Ok(self.permit(permit, Some(start.elapsed())))
    }

    fn permit(&self, permit: OwnedSemaphorePermit, waited: Option<Duration>) -> GatePermit {
        GatePermit {
            permit: Some(permit),
            inner: self.inner.clone(),
            waited,
        }
    }

    /// Admits no more work; pending and future `acquire`s fail with [`GateClosed`].
    pub fn close(&self) {
        self.inner.semaphore.close();
    }

    /// Feeds one completed query (see [`AdaptiveLimit::on_sample`]). Lock-free; returns the
    /// change if this call closed a window that changed the limit, so the caller can log it.
    pub fn record(&self, latency: Duration, waited: bool) -> Option<LimitChange> {
        self.record_at(latency, waited, Instant::now())
    }

    /// [`record`](Self::record) with an explicit clock reading (tests).
    pub fn record_at(&self, latency: Duration, waited: bool, now: Instant) -> Option<LimitChange> {
        let inner = &self.inner;
        if !inner.enabled {
            return None;
        }
        inner.latency.record(latency);
        if waited {
            inner.window_waits.fetch_add(1, Ordering::Relaxed);
        }
        let now_nanos = u64::try_from(now.saturating_duration_since(inner.epoch).as_nanos()).unwrap_or(u64::MAX);
        if now_nanos.saturating_sub(inner.window_start.load(Ordering::Relaxed)) < inner.window_nanos {
            return None;
        }
        let mut state = match inner.state.try_lock() {
            Ok(state) => state,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            // Another caller is closing this window.
            Err(TryLockError::WouldBlock) => return None,
        };
        // Re-check under the lock: the window may just have been closed by someone else.
        if now_nanos.saturating_sub(inner.window_start.load(Ordering::Relaxed)) < inner.window_nanos {
            return None;
        }
        let cumulative = inner.latency.snapshot();
        let window = cumulative.delta(&state.previous);
        let samples = window.count();
        if samples < inner.min_samples {
            return None;
        }
        let summary = WindowSummary {
            samples,
            waits: inner.window_waits.swap(0, Ordering::Relaxed),
            p90: Duration::from_secs_f64(window.percentile_ms(90.0) / 1000.0),
        };
        state.previous = cumulative;
        inner.window_start.store(now_nanos, Ordering::Relaxed);
        let change = state.core.on_window(summary, now)?;
        self.apply(change.from, change.to);
        Some(change)
    }

    /// Moves the permit count from `from` to `to` (called with the state lock held).
    fn apply(&self, from: u32, to: u32) {
        let inner = &self.inner;
        if to > from {
            let mut add = to - from;
            let _ = inner.debt.fetch_update(Ordering::AcqRel, Ordering::Acquire, |debt| {
                let pay = debt.min(to - from);
                add = (to - from) - pay;
                Some(debt - pay)
            });
            inner.semaphore.add_permits(add as usize);
        } else if from > to {
            let retire = (from - to) as usize;
            let forgotten = inner.semaphore.forget_permits(retire);
            let owed = u32::try_from(retire - forgotten).unwrap_or(u32::MAX);
            inner.debt.fetch_add(owed, Ordering::AcqRel);
        }
        inner.limit.store(to, Ordering::Relaxed);
    }

    /// The limiter's state for display, with the free permits.
    pub fn snapshot(&self) -> LimiterSnapshot {
        let state = lock(&self.inner.state);
        LimiterSnapshot {
            available_permits: Some(self.available_permits()),
            ..state.core.snapshot()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::testing::Rng;

    const TICK: Duration = Duration::from_millis(10);

    /// Drives `limit` with one sample per 10 ms for `seconds`, latency from `latency(rng)`,
    /// every sample waiting when `waits`. Returns the changes.
    fn run(
        limit: &mut AdaptiveLimit,
        clock: &mut Instant,
        rng: &mut Rng,
        seconds: u32,
        waits: bool,
        latency: impl Fn(&mut Rng) -> Duration,
    ) -> Vec<LimitChange> {
        let mut changes = Vec::new();
        for _ in 0..seconds * 100 {
            *clock += TICK;
            let sample = latency(rng);
            if let Some(change) = limit.on_sample(sample, waits, *clock) {
                changes.push(change);
            }
            let config = limit.config();
            assert!((config.min..=config.max).contains(&limit.current()));
        }
        changes
    }

    fn flat(ms: f64) -> impl Fn(&mut Rng) -> Duration {
        move |rng: &mut Rng| Duration::from_secs_f64(ms * (0.9 + 0.2 * rng.unit()) / 1000.0)
    }

    fn config(initial: u32) -> LimiterConfig {
        LimiterConfig {
            initial,
            ..LimiterConfig::for_pool(100, true)
        }
    }

    #[test]
    fn steady_low_latency_with_waits_rises_to_max_then_holds() {
        let mut limit = AdaptiveLimit::new(config(20));
        let (mut clock, mut rng) = (Instant::now(), Rng::new(1));
        let changes = run(&mut limit, &mut clock, &mut rng, 30, true, flat(2.0));
        assert_eq!(limit.current(), 100);
        assert_eq!(changes.len(), 20, "+4 per window from 20 to 100");
        assert!(changes.iter().all(|c| c.to == c.from + 4));
        assert!(changes[0].reason.starts_with("raised 20 → 24"), "{}", changes[0].reason);
        let changes = run(&mut limit, &mut clock, &mut rng, 30, true, flat(2.0));
        assert!(changes.is_empty(), "at max nothing changes");
    }

    #[test]
    fn no_waits_means_no_raise() {
        let mut limit = AdaptiveLimit::new(config(20));
        let (mut clock, mut rng) = (Instant::now(), Rng::new(2));
        assert!(run(&mut limit, &mut clock, &mut rng, 30, false, flat(2.0)).is_empty());
        assert_eq!(limit.current(), 20);
    }

    #[test]
    fn latency_spike_lowers_then_recovery_raises_again() {
        let mut limit = AdaptiveLimit::new(config(100));
        let (mut clock, mut rng) = (Instant::now(), Rng::new(3));
        assert!(run(&mut limit, &mut clock, &mut rng, 10, true, flat(2.0)).is_empty());
        let baseline = limit.baseline().unwrap();
        assert!(
            baseline >= Duration::from_micros(1900) && baseline <= Duration::from_micros(2300),
            "{baseline:?}"
        );

        // Overload: p90 ten times the baseline for 12 s.
        let spike = run(&mut limit, &mut clock, &mut rng, 12, true, flat(20.0));
        assert!(spike.iter().all(|c| c.to < c.from), "only decreases during the spike");
        // One cut per 3 s cool-down: 100 → 80 → 64 → 51 → 40.
        let path: Vec<u32> = spike.iter().map(|c| c.to).collect();
        assert_eq!(path, [80, 64, 51, 40]);
        for pair in spike.windows(2) {
            assert!(
                pair[1].at.duration_since(pair[0].at) >= Duration::from_secs(3),
                "cool-down respected"
            );
        }
        assert!(spike[0].reason.starts_with("lowered 100 → 80"), "{}", spike[0].reason);

        // Recovery: back to 2 ms with waits → additive increase back to the maximum.
        let recovery = run(&mut limit, &mut clock, &mut rng, 30, true, flat(2.0));
        assert!(recovery.iter().all(|c| c.to > c.from));
        assert_eq!(limit.current(), 100);
        assert_eq!(limit.snapshot().lowers, 4);
        assert!(limit.history().count() <= 32);
    }

    #[test]
    fn decreases_stop_at_min() {
        let mut limit = AdaptiveLimit::new(config(100));
        let (mut clock, mut rng) = (Instant::now(), Rng::new(4));
        run(&mut limit, &mut clock, &mut rng, 5, true, flat(2.0));
        // Ever-rising latency so the drifting baseline never catches up.
        let mut level = 10.0;
        for _ in 0..60 {
            run(&mut limit, &mut clock, &mut rng, 1, true, flat(level));
            level *= 1.1;
        }
        assert_eq!(limit.current(), 10, "min = max/10");
    }

    #[test]
    fn noisy_but_flat_latency_does_not_oscillate() {
        let mut limit = AdaptiveLimit::new(config(40));
        let (mut clock, mut rng) = (Instant::now(), Rng::new(5));
        // Log-normal-ish noise (×0.5 … ×2) plus 2 % outliers at 25× the median.
        let noisy = |rng: &mut Rng| {
            if rng.unit() < 0.02 {
                return Duration::from_millis(50);
            }
            let factor = (2.0f64).powf(2.0 * rng.unit() - 1.0);
            Duration::from_secs_f64(2.0 * factor / 1000.0)
        };
        let changes = run(&mut limit, &mut clock, &mut rng, 120, true, noisy);
        assert!(changes.iter().all(|c| c.to > c.from), "never lowered: {changes:?}");
        assert_eq!(limit.current(), 100);
        assert_eq!(changes.len(), 15);
    }

    #[test]
    fn sub_millisecond_jitter_is_ignored() {
        let mut limit = AdaptiveLimit::new(config(100));
        let (mut clock, mut rng) = (Instant::now(), Rng::new(6));
        run(&mut limit, &mut clock, &mut rng, 5, true, flat(0.05));
        // 16× the baseline, but still under the 1 ms floor.
        let changes = run(&mut limit, &mut clock, &mut rng, 10, true, flat(0.8));
        assert!(changes.is_empty(), "{changes:?}");
    }

    #[test]
    fn sustained_new_level_becomes_the_baseline() {
        let mut limit = AdaptiveLimit::new(config(100));
        let (mut clock, mut rng) = (Instant::now(), Rng::new(7));
        run(&mut limit, &mut clock, &mut rng, 5, true, flat(2.0));
        run(&mut limit, &mut clock, &mut rng, 180, true, flat(6.0));
        let baseline = limit.baseline().unwrap();
        assert!(baseline > Duration::from_millis(5), "{baseline:?}");
        // And the limit climbed back: a lasting level is the new normal, not an overload.
        assert_eq!(limit.current(), 100);
    }

    #[test]
    fn random_traces_stay_within_bounds() {
        for seed in 0..20 {
            let mut rng = Rng::new(100 + seed);
            let config = LimiterConfig {
                min: 1 + (rng.next_u64() % 5) as u32,
                max: 5 + (rng.next_u64() % 60) as u32,
                initial: (rng.next_u64() % 80) as u32,
                min_samples: 5,
                ..LimiterConfig::for_pool(50, true)
            };
            let mut limit = AdaptiveLimit::new(config);
            let mut clock = Instant::now();
            for _ in 0..20 {
                let level = (rng.unit() * 8.0).exp() / 10.0;
                let waits = rng.unit() < 0.5;
                let changes = run(&mut limit, &mut clock, &mut rng, 2, waits, flat(level));
                let config = limit.config();
                for change in changes {
                    assert!((config.min..=config.max).contains(&change.from));
                    assert!((config.min..=config.max).contains(&change.to));
                    assert_ne!(change.from, change.to);
                }
            }
        }
    }

    #[test]
    fn disabled_limit_never_changes() {
        let mut limit = AdaptiveLimit::new(LimiterConfig {
            initial: 10,
            ..LimiterConfig::for_pool(100, false)
        });
        let (mut clock, mut rng) = (Instant::now(), Rng::new(8));
        assert!(run(&mut limit, &mut clock, &mut rng, 10, true, flat(2.0)).is_empty());
        assert!(run(&mut limit, &mut clock, &mut rng, 10, true, flat(50.0)).is_empty());
        assert_eq!(limit.current(), 10);
        assert!(limit.baseline().is_some(), "the baseline is still measured for display");
    }

    #[test]
    fn quiet_windows_decide_nothing() {
        let mut limit = AdaptiveLimit::new(config(50));
        let mut clock = Instant::now();
        // One sample a second: a window needs 20 samples, so it closes every 20 s.
        let mut changes = 0;
        for _ in 0..100 {
            clock += Duration::from_secs(1);
            changes += usize::from(limit.on_sample(Duration::from_millis(2), true, clock).is_some());
        }
        assert_eq!(changes, 5);
    }

    #[test]
    fn config_is_normalized() {
        let limit = AdaptiveLimit::new(LimiterConfig {
            min: 500,
            initial: 0,
            step: 0,
            ..LimiterConfig::for_pool(0, true)
        });
        let config = limit.config();
        assert_eq!((config.min, config.max, config.step, limit.current()), (1, 1, 1, 1));
    }

    fn gate(initial: u32, max: u32) -> AdaptiveGate {
        AdaptiveGate::new(LimiterConfig {
            initial,
            min: 1,
            step: 2,
            min_samples: 5,
            window: Duration::from_millis(100),
            cooldown: Duration::ZERO,
            ..LimiterConfig::for_pool(max, true)
        })
    }

    #[tokio::test]
    async fn permits_follow_the_limit_including_held_ones() {
        let gate = gate(4, 10);
        let held: Vec<GatePermit> = futures::future::try_join_all((0..4).map(|_| gate.acquire()))
            .await
            .unwrap();
        assert!(held.iter().all(|p| p.waited().is_none()));
        assert_eq!(gate.available_permits(), 0);
        // Lower to 2 while all 4 are held: nothing free to forget, so 2 become debt.
        gate.apply(4, 2);
        assert_eq!(gate.inner.debt.load(Ordering::Relaxed), 2);
        drop(held);
        assert_eq!(gate.available_permits(), 2, "two returned permits were retired");
        // Raise to 5 and then to 7 (debt is 0 now).
        gate.apply(2, 5);
        assert_eq!(gate.available_permits(), 5);
        // Lower with free permits: they are forgotten at once.
        gate.apply(5, 3);
        assert_eq!(
            (gate.available_permits(), gate.inner.debt.load(Ordering::Relaxed)),
            (3, 0)
        );
        // Debt is paid before adding permits.
        let held: Vec<GatePermit> = futures::future::try_join_all((0..3).map(|_| gate.acquire()))
            .await
            .unwrap();
        gate.apply(3, 1);
        gate.apply(1, 2);
        assert_eq!(gate.inner.debt.load(Ordering::Relaxed), 1);
        assert_eq!(gate.available_permits(), 0);
        drop(held);
        assert_eq!(gate.available_permits(), 2);
    }

    #[tokio::test]
    async fn acquisition_without_a_free_permit_reports_its_wait() {
        let gate = gate(1, 1);
        let first = gate.acquire().await.unwrap();
        let waiter = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.acquire().await.map(|p| p.waited()) })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(first);
        let waited = waiter.await.unwrap().unwrap();
        assert!(waited.is_some_and(|w| w >= Duration::from_millis(10)), "{waited:?}");
        gate.close();
        assert_eq!(gate.acquire().await.err(), Some(GateClosed));
    }

    #[tokio::test]
    async fn recorded_samples_drive_the_permits() {
        let gate = gate(4, 10);
        let start = Instant::now();
        let mut clock = start;
        let mut changes = Vec::new();
        // Low latency with waits for 1 s: windows of 100 ms raise 4 → 6 → 8 → 10.
        for _ in 0..100 {
            clock += TICK;
            changes.extend(gate.record_at(Duration::from_millis(2), true, clock));
        }
        assert_eq!(gate.current(), 10);
        assert_eq!(gate.available_permits(), 10);
        assert_eq!(changes.first().map(|c| (c.from, c.to)), Some((4, 6)));
        // Latency ×10: lowered each window down to the minimum of 1.
        for _ in 0..200 {
            clock += TICK;
            changes.extend(gate.record_at(Duration::from_millis(20), true, clock));
        }
        assert_eq!(gate.current(), 1);
        assert_eq!(gate.available_permits(), 1);
        let snapshot = gate.snapshot();
        assert_eq!((snapshot.current, snapshot.raises), (1, 3));
        assert!(snapshot.lowers >= 3);
        assert_eq!(snapshot.available_permits, Some(1));
        assert_eq!(snapshot.recent_changes.len(), changes.len());
    }

    #[tokio::test]
    async fn disabled_gate_is_a_fixed_semaphore() {
        let gate = AdaptiveGate::new(LimiterConfig::for_pool(3, false));
        let mut clock = Instant::now();
        for _ in 0..500 {
            clock += TICK;
            assert!(gate.record_at(Duration::from_millis(500), true, clock).is_none());
        }
        assert_eq!((gate.current(), gate.available_permits()), (3, 3));
    }
}
