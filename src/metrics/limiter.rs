//! Load-adaptive limit on concurrent database work, inside the configured pool maximum; on by
//! default (`DB_ADAPTIVE_LIMIT=false` makes the gate a fixed semaphore of `DB_MAX_OPEN_CONNS`).
//!
//! Why: a database serves only as many queries at once as it has cores to run them on; more
//! concurrent queries queue *inside* it, where they cost a backend, a connection's caches and
//! context switches each, and return no sooner. With the original pool of 100 and 200 users on
//! a 2-core machine the server did half the requests per second of 8 users, at 16 × the p99
//! (BENCHMARKS.md, issue 16). So the gate admits about as many queries as the database can
//! serve and lets the rest wait their turn here, in order (a FIFO semaphore), holding nothing.
//!
//! Rule — TCP Vegas applied to queries (as Netflix's concurrency-limits `VegasLimit`),
//! evaluated once per window (default 250 ms and at least 20 queries):
//! - *latency* is the window's median query latency (time holding a permit: connection
//!   checkout and statement, not the wait at the gate), floored at 50 µs. The median, not a
//!   tail percentile, so a few heavy queries do not read as overload.
//! - *reference* is the no-load latency: the median measured by the last probe (below),
//!   lowered at once by any window that was quicker.
//! - The *estimated queue* inside the database is `limit × (1 − reference / latency)`: of the
//!   `limit` queries in flight, that many are waiting rather than being served (Little's law;
//!   with no queue the latency stays at the reference whatever the limit).
//! - A window in which no acquisition waited changes nothing: the limit is not what holds
//!   work back, so at light load it stays put and the gate costs one uncontended permit.
//! - **Raise** when the queue is at most α = 2·log10(limit) (at least 1): the database still has
//!   room, so let more queries in, +10 % (at least 1 permit) per window.
//! - **Lower** when the queue is at least β = 4·log10(limit) (at least α + 1): back to where the
//!   queue would be β, at least −1 and at most halving per window.
//! - Between α and β nothing changes: the limit settles where the database keeps a small queue
//!   of its own — its cores' worth of queries plus a few, e.g. 4–6 on 2 cores — which is where
//!   its throughput is highest and latency lowest.
//! - **Probe**: the reference must be measured at low concurrency, or under sustained load it
//!   would creep up with the latency it is meant to judge. So when the limit binds and the
//!   last probe is older than 10 s (or there was none), the gate lets one query at a time run
//!   (after the queries in flight have finished) until 20 queries have completed, takes their
//!   median as the new reference and restores the limit; decisions wait for it. A probe costs a
//!   few milliseconds of reduced concurrency (20 sequential sub-millisecond queries) every 10 s.
//! - Always within [min, max]: min 2 (a database overlaps I/O and CPU even on one core), max
//!   `DB_MAX_OPEN_CONNS`; it starts at 8, so a burst never opens more connections than that
//!   before the rule has measured anything.
//!
//! [`AdaptiveLimit`] is the pure decision core (no clock, no I/O: time is passed in), which
//! the tests drive with synthetic traces from a model database. [`AdaptiveGate`] puts it in
//! front of the pool: a `tokio::sync::Semaphore` whose permits follow the limit, fed lock-free
//! by every query.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use super::histogram::{HistogramSnapshot, LatencyHistogram};

/// Settings of the adaptive limit; [`LimiterConfig::for_pool`] gives the defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct LimiterConfig {
    /// Whether the limit adapts (`DB_ADAPTIVE_LIMIT`, default on). When off, the gate is a
    /// fixed semaphore of `max` permits — still where waits are detected.
    pub enabled: bool,
    /// Lowest limit (default 2, at most `max`).
    pub min: u32,
    /// Highest limit: the configured pool maximum (`DB_MAX_OPEN_CONNS`).
    pub max: u32,
    /// Limit at start (default 8, at most `max`): how many connections a first burst may open
    /// before anything has been measured. When the limit does not adapt, it is `max`.
    pub initial: u32,
    /// Length of a decision window.
    pub window: Duration,
    /// A window closes only once it holds this many samples, so quiet periods decide nothing.
    pub min_samples: u64,
    /// α per decade of the limit: raise while the estimated queue ≤ `alpha × log10(limit)`
    /// (at least 1).
    pub alpha: f64,
    /// β per decade of the limit: lower once the estimated queue ≥ `beta × log10(limit)`
    /// (at least α + 1).
    pub beta: f64,
    /// Fraction of the limit added on a raise (at least one permit).
    pub growth: f64,
    /// Latencies below this are treated as this: differences of a few microseconds on a fast
    /// local database are noise, not queueing.
    pub latency_floor: Duration,
    /// How old the reference may get before a binding window triggers a probe.
    pub probe_interval: Duration,
    /// Concurrency while probing (1: queries run one at a time).
    pub probe_limit: u32,
    /// Queries a probe measures.
    pub probe_samples: u64,
    /// A probe that has not measured its queries in this long ends without a result.
    pub probe_timeout: Duration,
    /// Changes kept for display.
    pub history: usize,
}

impl LimiterConfig {
    /// The defaults for a pool of `max` connections.
    pub fn for_pool(max: u32, enabled: bool) -> Self {
        let max = max.max(1);
        Self {
            enabled,
            min: max.min(2),
            max,
            initial: max.min(8),
            window: Duration::from_millis(250),
            min_samples: 20,
            alpha: 2.0,
            beta: 4.0,
            growth: 0.1,
            latency_floor: Duration::from_micros(50),
            probe_interval: Duration::from_secs(10),
            probe_limit: 1,
            probe_samples: 20,
            probe_timeout: Duration::from_secs(1),
            history: 32,
        }
    }

    /// Makes the bounds consistent: 1 ≤ min ≤ initial ≤ max, 1 ≤ probe limit ≤ max.
    fn normalized(mut self) -> Self {
        self.max = self.max.max(1);
        self.min = self.min.clamp(1, self.max);
        self.initial = if self.enabled {
            self.initial.clamp(self.min, self.max)
        } else {
            // Off: a fixed semaphore of the pool's size.
            self.max
        };
        self.probe_limit = self.probe_limit.clamp(1, self.max);
        self.min_samples = self.min_samples.max(1);
        self.probe_samples = self.probe_samples.max(1);
        if !self.growth.is_finite() || self.growth < 0.0 {
            self.growth = 0.0;
        }
        self
    }

    /// α and β for `limit`.
    fn thresholds(&self, limit: u32) -> (f64, f64) {
        let decades = f64::from(limit.max(1)).log10();
        let alpha = (self.alpha * decades).max(1.0);
        let beta = (self.beta * decades).max(alpha + 1.0);
        (alpha, beta)
    }
}

/// Why the limit moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeCause {
    /// Work waited at the gate while the database showed no queue of its own.
    LatencyFlat,
    /// Latency rose above the no-load latency: queries were queueing inside the database.
    QueueBuilding,
}

impl ChangeCause {
    /// Stable name, for labels (`/metrics`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LatencyFlat => "latency_flat",
            Self::QueueBuilding => "queue_building",
        }
    }
}

/// One change of the limit, kept for metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitChange {
    /// Limit before.
    pub from: u32,
    /// Limit after.
    pub to: u32,
    /// Why, as a stable code.
    pub cause: ChangeCause,
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
    /// Median latency of the window.
    pub latency: Duration,
}

/// The limiter's state for display (Query.metrics, /metrics).
#[derive(Debug, Clone, PartialEq)]
pub struct LimiterSnapshot {
    /// Whether the limit adapts.
    pub enabled: bool,
    /// The limit now (while probing, the limit that the probe will restore).
    pub current: u32,
    /// Lower bound.
    pub min: u32,
    /// Upper bound (DB_MAX_OPEN_CONNS).
    pub max: u32,
    /// The no-load latency the rule compares against, in ms, once measured.
    pub baseline_ms: Option<f64>,
    /// The last closed window.
    pub last_window: Option<WindowSummary>,
    /// The estimated queue inside the database in the last closed window.
    pub queue_estimate: Option<f64>,
    /// Increases since start.
    pub raises: u64,
    /// Decreases since start.
    pub lowers: u64,
    /// Probes of the no-load latency since start.
    pub probes: u64,
    /// Whether a probe runs right now.
    pub probing: bool,
    /// The most recent changes, oldest first.
    pub recent_changes: Vec<LimitChange>,
    /// Free permits at the gate (only from [`AdaptiveGate::snapshot`]).
    pub available_permits: Option<usize>,
}

impl LimiterSnapshot {
    /// The last change, if any: the current limit and why it moved there.
    pub fn last_change(&self) -> Option<&LimitChange> {
        self.recent_changes.last()
    }
}

/// The decision core (see the module doc for the rule). Single-owner (`&mut self`).
#[derive(Debug)]
pub struct AdaptiveLimit {
    config: LimiterConfig,
    current: u32,
    /// No-load latency in ms.
    reference_ms: Option<f64>,
    last_window: Option<WindowSummary>,
    last_queue: Option<f64>,
    /// When the running probe started.
    probing_since: Option<Instant>,
    /// When the last probe ended.
    last_probe: Option<Instant>,
    history: VecDeque<LimitChange>,
    raises: u64,
    lowers: u64,
    probes: u64,
    /// [`on_sample`](Self::on_sample)'s own windows (the gate aggregates its own).
    window_start: Option<Instant>,
    window: LatencyHistogram,
    window_samples: u64,
    window_waits: u64,
    probe_window: LatencyHistogram,
    probe_window_samples: u64,
}

fn as_ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn from_ms(ms: f64) -> Duration {
    Duration::from_secs_f64(ms.max(0.0) / 1000.0)
}

impl AdaptiveLimit {
    /// A limiter starting at `config.initial` (bounds normalized to 1 ≤ min ≤ max).
    pub fn new(config: LimiterConfig) -> Self {
        let config = config.normalized();
        Self {
            current: config.initial,
            history: VecDeque::with_capacity(config.history),
            config,
            reference_ms: None,
            last_window: None,
            last_queue: None,
            probing_since: None,
            last_probe: None,
            raises: 0,
            lowers: 0,
            probes: 0,
            window_start: None,
            window: LatencyHistogram::new(),
            window_samples: 0,
            window_waits: 0,
            probe_window: LatencyHistogram::new(),
            probe_window_samples: 0,
        }
    }

    /// The decided limit (what a probe restores).
    pub fn current(&self) -> u32 {
        self.current
    }

    /// The permits the gate should hold now: the probe's limit while probing, else the limit.
    pub fn effective(&self) -> u32 {
        if self.probing_since.is_some() {
            self.config.probe_limit
        } else {
            self.current
        }
    }

    /// Whether a probe runs.
    pub fn probing(&self) -> bool {
        self.probing_since.is_some()
    }

    /// The (normalized) configuration.
    pub fn config(&self) -> &LimiterConfig {
        &self.config
    }

    /// The no-load latency, once known.
    pub fn reference(&self) -> Option<Duration> {
        self.reference_ms.map(from_ms)
    }

    /// The most recent changes, oldest first.
    pub fn history(&self) -> impl Iterator<Item = &LimitChange> {
        self.history.iter()
    }

    /// Feeds one completed query: its latency (excluding the gate wait) and whether its
    /// acquisition waited. Closes the window (or the probe) when due and returns the change it
    /// decided. For driving the core directly (tests); the gate aggregates its own windows and
    /// tells a probe's queries apart by when they started.
    pub fn on_sample(&mut self, latency: Duration, waited: bool, now: Instant) -> Option<LimitChange> {
        if let Some(since) = self.probing_since {
            self.probe_window.record(latency);
            self.probe_window_samples += 1;
            let done = self.probe_window_samples >= self.config.probe_samples;
            if done || now.saturating_duration_since(since) >= self.config.probe_timeout {
                let median = done.then(|| from_ms(self.probe_window.snapshot().percentile_ms(50.0)));
                self.probe_window.reset();
                self.probe_window_samples = 0;
                self.end_probe(median, now);
                // The next window starts after the probe.
                self.window.reset();
                self.window_samples = 0;
                self.window_waits = 0;
                self.window_start = Some(now);
            }
            return None;
        }
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
            latency: from_ms(self.window.snapshot().percentile_ms(50.0)),
        };
        self.window.reset();
        self.window_samples = 0;
        self.window_waits = 0;
        self.window_start = Some(now);
        self.on_window(summary, now)
    }

    /// Whether a binding window at `now` should first measure the no-load latency.
    fn probe_due(&self, now: Instant) -> bool {
        self.reference_ms.is_none()
            || self
                .last_probe
                .is_none_or(|at| now.saturating_duration_since(at) >= self.config.probe_interval)
    }

    /// Decides on one closed window (the gate aggregates windows itself and calls this). May
    /// start a probe instead of deciding: see [`effective`](Self::effective).
    pub fn on_window(&mut self, summary: WindowSummary, now: Instant) -> Option<LimitChange> {
        if summary.samples == 0 || self.probing_since.is_some() {
            return None;
        }
        self.last_window = Some(summary);
        let config = &self.config;
        let level = as_ms(summary.latency.max(config.latency_floor));
        // A quicker window is a better no-load figure than the last probe's.
        let reference = self.reference_ms.map_or(level, |r| r.min(level));
        self.reference_ms = Some(reference);
        let from = self.current;
        let queue = f64::from(from) * (1.0 - reference / level);
        self.last_queue = Some(queue);
        if !config.enabled || summary.waits == 0 {
            // Off, or not binding: holding work back is not what the limit is doing.
            return None;
        }
        if self.probe_due(now) {
            self.probing_since = Some(now);
            self.probes += 1;
            return None;
        }
        let (alpha, beta) = config.thresholds(from);
        let (to, cause, reason) = if queue <= alpha && from < config.max {
            let step = ((f64::from(from) * config.growth) as u32).max(1);
            let to = from.saturating_add(step).min(config.max);
            let reason = format!(
                "raised {from} → {to}: {} of {} queries waited at the gate while the database showed no queue \
                 (latency {level:.2} ms against {reference:.2} ms at no load: estimated queue {queue:.1} ≤ α {alpha:.1})",
                summary.waits, summary.samples
            );
            (to, ChangeCause::LatencyFlat, reason)
        } else if queue >= beta && from > config.min {
            let cut = ((queue - beta).ceil() as u32).max(1);
            let to = from
                .saturating_sub(cut)
                .max(from.div_ceil(2))
                .max(config.min)
                .min(from - 1);
            let reason = format!(
                "lowered {from} → {to}: queries queued inside the database (latency {level:.2} ms against \
                 {reference:.2} ms at no load: estimated queue {queue:.1} ≥ β {beta:.1})"
            );
            (to, ChangeCause::QueueBuilding, reason)
        } else {
            return None;
        };
        if to < from {
            self.lowers += 1;
        } else {
            self.raises += 1;
        }
        self.current = to;
        let change = LimitChange {
            from,
            to,
            cause,
            reason,
            at: now,
        };
        if self.history.len() >= self.config.history.max(1) {
            self.history.pop_front();
        }
        self.history.push_back(change.clone());
        Some(change)
    }

    /// Ends the running probe: `median` is the no-load latency it measured (None when it timed
    /// out). The limit goes back to [`current`](Self::current).
    pub fn end_probe(&mut self, median: Option<Duration>, now: Instant) {
        if self.probing_since.take().is_none() {
            return;
        }
        self.last_probe = Some(now);
        if let Some(median) = median {
            self.reference_ms = Some(as_ms(median.max(self.config.latency_floor)));
        }
    }

    /// The state for display.
    pub fn snapshot(&self) -> LimiterSnapshot {
        LimiterSnapshot {
            enabled: self.config.enabled,
            current: self.current,
            min: self.config.min,
            max: self.config.max,
            baseline_ms: self.reference_ms,
            last_window: self.last_window,
            queue_estimate: self.last_queue,
            raises: self.raises,
            lowers: self.lowers,
            probes: self.probes,
            probing: self.probing_since.is_some(),
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
    /// Every sample outside probes, cumulative; windows are deltas of its snapshots.
    latency: LatencyHistogram,
    /// Whether a probe runs; samples then go to `probe_latency` instead.
    probing: AtomicBool,
    /// When the running probe started, ns since `epoch`.
    probe_started: AtomicU64,
    /// When the queries admitted before the probe had all returned their permits: ns since
    /// `epoch` plus one (0 = not yet). Only queries that started later measure the probe.
    probe_drained: AtomicU64,
    probe_latency: LatencyHistogram,
    /// Queries the running probe has measured.
    probe_count: AtomicU64,
    probe_samples: u64,
    probe_timeout_nanos: u64,
    state: Mutex<GateState>,
}

impl GateInner {
    fn nanos_since_epoch(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }
}

/// A semaphore in front of the pool whose permit count follows the adaptive limit.
///
/// How the permits follow: on an increase, `add_permits` (after first cancelling any debt);
/// on a decrease, `forget_permits` retires the free permits at once and the remainder becomes
/// *debt*: the next permits to be returned are forgotten instead of released. So the number
/// of permits in existence converges to the limit without waiting for anyone, and never
/// overshoots it for longer than the holds already in progress. Waiters are served in arrival
/// order (tokio's semaphore is fair), so work held back here waits its turn.
///
/// The pool behind the gate opens a connection whenever a query finds none idle, and sqlx
/// pings each connection as it returns; so the observer (`db::observe`) yields once before
/// giving back a permit someone may be waiting for, letting that return finish first —
/// otherwise the pool opens connections the limit never needed (perf-test, 200 users: 24–26
/// open at a limit of 3–6 without the yield, 14–22 with it; BENCHMARKS.md, issue 16).
///
/// Feeding it is lock-free: [`record`](Self::record) adds to an atomic histogram; whichever
/// caller notices the window (or the probe) is due takes the state lock with `try_lock` (never
/// blocking — if another thread has it, that thread is closing the window) and runs the
/// decision.
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
        let inner = &self.inner;
        let paid = inner
            .debt
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |debt| debt.checked_sub(1));
        if let Ok(debt) = paid {
            permit.forget();
            if debt == 1 && inner.probing.load(Ordering::Acquire) {
                // The last permit of the queries admitted before the probe came back.
                let now = inner.nanos_since_epoch(Instant::now());
                inner.probe_drained.store(now.saturating_add(1), Ordering::Release);
            }
        }
    }
}

fn lock(state: &Mutex<GateState>) -> MutexGuard<'_, GateState> {
    // A panic while deciding leaves the state usable: keep going rather than poisoning metrics.
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn try_lock(state: &Mutex<GateState>) -> Option<MutexGuard<'_, GateState>> {
    match state.try_lock() {
        Ok(state) => Some(state),
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        // Another caller is closing this window.
        Err(TryLockError::WouldBlock) => None,
    }
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
                probing: AtomicBool::new(false),
                probe_started: AtomicU64::new(0),
                probe_drained: AtomicU64::new(0),
                probe_latency: LatencyHistogram::new(),
                probe_count: AtomicU64::new(0),
                probe_samples: config.probe_samples,
                probe_timeout_nanos: u64::try_from(config.probe_timeout.as_nanos()).unwrap_or(u64::MAX),
                state: Mutex::new(GateState {
                    core,
                    previous: HistogramSnapshot::empty(),
                }),
            }),
        }
    }

    /// The limit now (lock-free); while a probe runs, the limit it will restore.
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
        let now_nanos = inner.nanos_since_epoch(now);
        if inner.probing.load(Ordering::Acquire) {
            self.record_probe(latency, now, now_nanos);
            return None;
        }
        inner.latency.record(latency);
        if waited {
            inner.window_waits.fetch_add(1, Ordering::Relaxed);
        }
        if now_nanos.saturating_sub(inner.window_start.load(Ordering::Relaxed)) < inner.window_nanos {
            return None;
        }
        let mut state = try_lock(&inner.state)?;
        // Re-check under the lock: the window may just have been closed by someone else, or
        // a probe started.
        if inner.probing.load(Ordering::Acquire)
            || now_nanos.saturating_sub(inner.window_start.load(Ordering::Relaxed)) < inner.window_nanos
        {
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
            latency: from_ms(window.percentile_ms(50.0)),
        };
        state.previous = cumulative;
        inner.window_start.store(now_nanos, Ordering::Relaxed);
        let before = state.core.effective();
        let change = state.core.on_window(summary, now);
        let after = state.core.effective();
        if state.core.probing() {
            self.start_probe(before, after, now_nanos);
        } else {
            self.apply(before, after);
        }
        inner.limit.store(state.core.current(), Ordering::Relaxed);
        change
    }

    /// Shrinks the permits to the probe's limit (called with the state lock held).
    fn start_probe(&self, from: u32, to: u32, now_nanos: u64) {
        let inner = &self.inner;
        // Nobody records into the probe's histogram until `probing` is set below.
        inner.probe_latency.reset();
        inner.probe_count.store(0, Ordering::Relaxed);
        inner.probe_drained.store(0, Ordering::Release);
        inner.probe_started.store(now_nanos, Ordering::Release);
        self.apply(from, to);
        inner.probing.store(true, Ordering::Release);
        if inner.debt.load(Ordering::Acquire) == 0 {
            // Enough permits were free to forget: what is still held fits the probe's limit.
            // Queries that started from now on run under it.
            inner
                .probe_drained
                .store(now_nanos.saturating_add(1), Ordering::Release);
        }
    }

    /// A query finished during a probe: it counts if it started after the drain.
    fn record_probe(&self, latency: Duration, now: Instant, now_nanos: u64) {
        let inner = &self.inner;
        let drained = inner.probe_drained.load(Ordering::Acquire);
        let started = now_nanos.saturating_sub(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
        let mut measured = inner.probe_count.load(Ordering::Relaxed);
        if drained != 0 && started.saturating_add(1) >= drained {
            inner.probe_latency.record(latency);
            measured = inner.probe_count.fetch_add(1, Ordering::Relaxed) + 1;
        }
        let timed_out =
            now_nanos.saturating_sub(inner.probe_started.load(Ordering::Acquire)) >= inner.probe_timeout_nanos;
        let done = measured >= inner.probe_samples;
        if !(done || timed_out) {
            return;
        }
        let Some(mut state) = try_lock(&inner.state) else {
            return;
        };
        if !inner.probing.load(Ordering::Acquire) {
            return;
        }
        let median = done.then(|| from_ms(inner.probe_latency.snapshot().percentile_ms(50.0)));
        let before = state.core.effective();
        state.core.end_probe(median, now);
        inner.probing.store(false, Ordering::Release);
        self.apply(before, state.core.effective());
        // The next window starts now, without the probe's queries.
        state.previous = inner.latency.snapshot();
        inner.window_waits.store(0, Ordering::Relaxed);
        inner.window_start.store(now_nanos, Ordering::Relaxed);
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

    /// One completed query per tick: 50 per 250 ms window, 20 per probe in 100 ms.
    const TICK: Duration = Duration::from_millis(5);

    /// A model database: `capacity` queries are served at once in `service_ms`; more queue, so
    /// latency grows with the queries in flight beyond it. `users` keep it busy (a closed
    /// loop: as many queries in flight as the limit allows, the rest wait at the gate).
    #[derive(Clone, Copy)]
    struct Model {
        capacity: f64,
        service_ms: f64,
        users: u32,
        /// Noise of each sample: factor in [1 − noise, 1 + noise].
        noise: f64,
    }

    impl Model {
        fn overloaded_2_cores() -> Self {
            Self {
                capacity: 2.5,
                service_ms: 0.3,
                users: 200,
                noise: 0.1,
            }
        }

        fn latency(&self, limit: u32, rng: &mut Rng) -> Duration {
            let in_flight = f64::from(self.users.min(limit));
            let queued = (in_flight / self.capacity).max(1.0);
            let factor = 1.0 - self.noise + 2.0 * self.noise * rng.unit();
            Duration::from_secs_f64(self.service_ms * queued * factor / 1000.0)
        }
    }

    /// Drives `limit` with `model` for `seconds`, asserting the bounds at every step. Returns
    /// the changes and the lowest and highest limit seen.
    fn drive(
        limit: &mut AdaptiveLimit,
        clock: &mut Instant,
        rng: &mut Rng,
        model: Model,
        seconds: f64,
    ) -> (Vec<LimitChange>, u32, u32) {
        let mut changes = Vec::new();
        let (mut low, mut high) = (u32::MAX, 0);
        let ticks = (seconds / TICK.as_secs_f64()) as usize;
        for _ in 0..ticks {
            *clock += TICK;
            let effective = limit.effective();
            let sample = model.latency(effective, rng);
            if let Some(change) = limit.on_sample(sample, model.users > effective, *clock) {
                changes.push(change);
            }
            let config = limit.config();
            assert!((config.min..=config.max).contains(&limit.current()));
            low = low.min(limit.current());
            high = high.max(limit.current());
        }
        (changes, low, high)
    }

    fn config(initial: u32) -> LimiterConfig {
        LimiterConfig {
            initial,
            ..LimiterConfig::for_pool(100, true)
        }
    }

    #[test]
    fn defaults() {
        let config = LimiterConfig::for_pool(100, true);
        assert_eq!((config.min, config.initial, config.max), (2, 8, 100));
        let small = LimiterConfig::for_pool(4, true);
        assert_eq!((small.min, small.initial, small.max), (2, 4, 4));
        assert_eq!(config.thresholds(100), (4.0, 8.0));
        assert_eq!(config.thresholds(1), (1.0, 2.0), "floors");
        let (alpha, beta) = config.thresholds(5);
        assert!(
            (alpha - 1.398).abs() < 0.01 && (beta - 2.796).abs() < 0.01,
            "{alpha} {beta}"
        );
    }

    #[test]
    fn overload_converges_down_to_the_database_capacity_and_stays() {
        let mut limit = AdaptiveLimit::new(config(100));
        let (mut clock, mut rng) = (Instant::now(), Rng::new(1));
        let model = Model::overloaded_2_cores();
        let (changes, _, _) = drive(&mut limit, &mut clock, &mut rng, model, 5.0);
        // The first binding window probes (no reference yet), then each window cuts: at most
        // halving, down to where about 2.5 queries are queued in the database.
        let path: Vec<u32> = changes.iter().map(|c| c.to).collect();
        assert_eq!(&path[..3], [50, 25, 13], "{path:?}");
        assert!(
            changes[0].reason.starts_with("lowered 100 → 50: queries queued"),
            "{}",
            changes[0].reason
        );
        assert!(
            changes
                .iter()
                .all(|c| c.to < c.from && c.cause == ChangeCause::QueueBuilding)
        );
        assert!((4..=6).contains(&limit.current()), "{path:?}");
        let reference = limit.reference().unwrap();
        assert!(
            reference >= Duration::from_micros(280) && reference <= Duration::from_micros(320),
            "the probe measured the no-load latency: {reference:?}"
        );
        // A minute more: no creep, a probe every 10 s, few changes.
        let probes = limit.snapshot().probes;
        let (changes, low, high) = drive(&mut limit, &mut clock, &mut rng, model, 60.0);
        assert!(low >= 4 && high <= 6, "{low} … {high}: {changes:?}");
        assert!(changes.len() <= 6, "{changes:?}");
        assert_eq!(limit.snapshot().probes - probes, 6);
    }

    #[test]
    fn flat_latency_with_waits_rises_to_max_then_holds() {
        let mut limit = AdaptiveLimit::new(config(8));
        let (mut clock, mut rng) = (Instant::now(), Rng::new(2));
        // The database never queues: latency stays flat however many queries run.
        let model = Model {
            capacity: 1000.0,
            users: 500,
            ..Model::overloaded_2_cores()
        };
        let (changes, _, _) = drive(&mut limit, &mut clock, &mut rng, model, 15.0);
        assert_eq!(limit.current(), 100);
        assert!(
            changes
                .iter()
                .all(|c| c.to > c.from && c.cause == ChangeCause::LatencyFlat)
        );
        assert!(
            changes[0].reason.starts_with("raised 8 → 9: 50 of 50 queries waited"),
            "{}",
            changes[0].reason
        );
        // +10 % per window (at least 1): 8 → 100 in about 30 windows.
        assert!(changes.len() < 35, "{}", changes.len());
        let (changes, _, _) = drive(&mut limit, &mut clock, &mut rng, model, 30.0);
        assert!(changes.is_empty(), "at max nothing changes: {changes:?}");
    }

    #[test]
    fn rises_to_the_capacity_of_a_larger_database() {
        let mut limit = AdaptiveLimit::new(config(8));
        let (mut clock, mut rng) = (Instant::now(), Rng::new(3));
        let model = Model {
            capacity: 40.0,
            ..Model::overloaded_2_cores()
        };
        drive(&mut limit, &mut clock, &mut rng, model, 20.0);
        let (_, low, high) = drive(&mut limit, &mut clock, &mut rng, model, 30.0);
        assert!(low >= 40 && high <= 50, "{low} … {high}");
    }

    #[test]
    fn light_load_changes_nothing() {
        let mut limit = AdaptiveLimit::new(config(8));
        let (mut clock, mut rng) = (Instant::now(), Rng::new(4));
        // Fewer users than the limit: nobody waits, whatever the latency does.
        let model = Model {
            users: 6,
            ..Model::overloaded_2_cores()
        };
        let (changes, _, _) = drive(&mut limit, &mut clock, &mut rng, model, 30.0);
        assert!(changes.is_empty(), "{changes:?}");
        let snapshot = limit.snapshot();
        assert_eq!((snapshot.current, snapshot.probes), (8, 0));
        assert!(snapshot.baseline_ms.is_some() && snapshot.queue_estimate.is_some());
    }

    #[test]
    fn a_heavier_workload_is_relearned_by_the_next_probe() {
        let mut limit = AdaptiveLimit::new(config(8));
        let (mut clock, mut rng) = (Instant::now(), Rng::new(5));
        let light = Model::overloaded_2_cores();
        drive(&mut limit, &mut clock, &mut rng, light, 10.0);
        assert!((4..=6).contains(&limit.current()), "{}", limit.current());
        // Queries become three times as expensive (a colder cache, bigger pages): at first
        // that reads as a queue, until a probe measures the new no-load latency.
        let heavy = Model {
            service_ms: 0.9,
            ..light
        };
        drive(&mut limit, &mut clock, &mut rng, heavy, 12.0);
        let reference = limit.reference().unwrap();
        assert!(reference >= Duration::from_micros(800), "{reference:?}");
        let (_, low, high) = drive(&mut limit, &mut clock, &mut rng, heavy, 30.0);
        assert!(low >= 4 && high <= 6, "back near the capacity: {low} … {high}");
    }

    #[test]
    fn noisy_latency_does_not_make_the_limit_swing() {
        let mut limit = AdaptiveLimit::new(config(8));
        let (mut clock, mut rng) = (Instant::now(), Rng::new(6));
        // Noise of ±50 % on every query.
        let model = Model {
            noise: 0.5,
            ..Model::overloaded_2_cores()
        };
        drive(&mut limit, &mut clock, &mut rng, model, 10.0);
        let (changes, low, high) = drive(&mut limit, &mut clock, &mut rng, model, 60.0);
        assert!(low >= 3 && high <= 7, "{low} … {high}");
        assert!(changes.len() <= 12, "{} changes: {changes:?}", changes.len());
    }

    #[test]
    fn sub_floor_latencies_are_not_a_queue() {
        let mut limit = AdaptiveLimit::new(config(20));
        let (mut clock, mut rng) = (Instant::now(), Rng::new(7));
        // 10 µs at no load, 40 µs at 20 in flight: under the 50 µs floor, so flat.
        let model = Model {
            capacity: 5.0,
            service_ms: 0.01,
            ..Model::overloaded_2_cores()
        };
        let (changes, _, _) = drive(&mut limit, &mut clock, &mut rng, model, 5.0);
        assert!(changes.iter().all(|c| c.to > c.from), "{changes:?}");
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
                let model = Model {
                    capacity: 1.0 + rng.unit() * 50.0,
                    service_ms: (rng.unit() * 8.0).exp() / 100.0,
                    users: (rng.next_u64() % 100) as u32,
                    noise: rng.unit() * 0.9,
                };
                let (changes, _, _) = drive(&mut limit, &mut clock, &mut rng, model, 2.0);
                let config = limit.config();
                for change in changes {
                    assert!((config.min..=config.max).contains(&change.from));
                    assert!((config.min..=config.max).contains(&change.to));
                    assert_ne!(change.from, change.to);
                }
                assert!((1..=config.max).contains(&limit.effective()));
            }
        }
    }

    #[test]
    fn disabled_limit_never_changes_but_still_measures() {
        let mut limit = AdaptiveLimit::new(LimiterConfig {
            initial: 10,
            ..LimiterConfig::for_pool(100, false)
        });
        let (mut clock, mut rng) = (Instant::now(), Rng::new(8));
        let (changes, _, _) = drive(&mut limit, &mut clock, &mut rng, Model::overloaded_2_cores(), 20.0);
        assert!(changes.is_empty());
        let snapshot = limit.snapshot();
        assert_eq!(
            (snapshot.current, snapshot.probes),
            (100, 0),
            "fixed at the pool's size"
        );
        assert!(
            snapshot.baseline_ms.is_some(),
            "the latency is still measured for display"
        );
    }

    #[test]
    fn quiet_windows_decide_nothing() {
        let mut limit = AdaptiveLimit::new(LimiterConfig {
            probe_interval: Duration::ZERO,
            ..config(50)
        });
        let mut clock = Instant::now();
        // One sample a second: a window needs 20 samples, so it closes every 20 s; the first
        // binding window probes (20 samples as well), every later one decides.
        let mut windows = 0;
        for _ in 0..200 {
            clock += Duration::from_secs(1);
            limit.on_sample(Duration::from_millis(2), true, clock);
            windows += usize::from(limit.last_window.is_some_and(|w| w.samples == 20));
            limit.last_window = None;
        }
        assert!(windows <= 10, "{windows}");
    }

    #[test]
    fn config_is_normalized() {
        let limit = AdaptiveLimit::new(LimiterConfig {
            min: 500,
            initial: 0,
            probe_limit: 0,
            growth: f64::NAN,
            ..LimiterConfig::for_pool(0, true)
        });
        let config = limit.config();
        assert_eq!(
            (config.min, config.max, config.probe_limit, limit.current()),
            (1, 1, 1, 1)
        );
        assert_eq!(config.growth, 0.0);
    }

    fn gate(initial: u32, max: u32) -> AdaptiveGate {
        AdaptiveGate::new(LimiterConfig {
            initial,
            min: 1,
            min_samples: 5,
            probe_samples: 5,
            window: Duration::from_millis(100),
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
        // Raise to 5 (debt is 0 now).
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

    /// Feeds `gate` one sample per 10 ms tick for `ticks` ticks.
    fn feed(gate: &AdaptiveGate, clock: &mut Instant, ticks: usize, latency: Duration) -> Vec<LimitChange> {
        let mut changes = Vec::new();
        for _ in 0..ticks {
            *clock += Duration::from_millis(10);
            changes.extend(gate.record_at(latency, true, *clock));
        }
        changes
    }

    #[tokio::test]
    async fn recorded_samples_drive_the_permits() {
        let gate = gate(4, 10);
        let mut clock = Instant::now();
        // The first binding window starts a probe: one permit, until 5 queries have run alone.
        feed(&gate, &mut clock, 10, Duration::from_millis(2));
        assert!(gate.snapshot().probing);
        assert_eq!((gate.current(), gate.available_permits()), (4, 1));
        feed(&gate, &mut clock, 5, Duration::from_millis(2));
        let snapshot = gate.snapshot();
        assert!(!snapshot.probing);
        assert_eq!((snapshot.probes, gate.available_permits()), (1, 4));
        assert!(
            snapshot.baseline_ms.is_some_and(|ms| (ms - 2.0).abs() < 0.1),
            "{snapshot:?}"
        );
        // Flat latency with waits: raised each 100 ms window, up to 10.
        let changes = feed(&gate, &mut clock, 100, Duration::from_millis(2));
        assert_eq!(changes.first().map(|c| (c.from, c.to)), Some((4, 5)));
        assert_eq!((gate.current(), gate.available_permits()), (10, 10));
        // Latency ×10 at 10 in flight: 9 of them queue; lowered each window until the queue
        // estimate is below β (at 2 in flight it never reaches β = 2).
        let changes = feed(&gate, &mut clock, 200, Duration::from_millis(20));
        assert!(changes.iter().all(|c| c.to < c.from), "{changes:?}");
        assert_eq!(changes.first().map(|c| (c.from, c.to)), Some((10, 5)), "at most halved");
        assert_eq!((gate.current(), gate.available_permits()), (2, 2));
        let snapshot = gate.snapshot();
        assert_eq!(snapshot.current, 2);
        assert!(snapshot.lowers >= 3);
        assert_eq!(snapshot.available_permits, Some(2));
        assert_eq!(
            snapshot.last_change().map(|c| (c.to, c.cause)),
            Some((2, ChangeCause::QueueBuilding))
        );
    }

    #[tokio::test]
    async fn a_probe_measures_only_queries_admitted_after_the_drain() {
        let gate = gate(4, 10);
        let mut clock = Instant::now();
        let held: Vec<GatePermit> = futures::future::try_join_all((0..4).map(|_| gate.acquire()))
            .await
            .unwrap();
        // A binding window: the probe starts while all 4 permits are held.
        feed(&gate, &mut clock, 10, Duration::from_millis(2));
        assert!(gate.snapshot().probing);
        assert_eq!(gate.inner.debt.load(Ordering::Relaxed), 3, "3 permits to retire");
        // Slow queries that were admitted before the probe finish: they do not count.
        feed(&gate, &mut clock, 10, Duration::from_millis(500));
        assert!(gate.snapshot().probing);
        assert_eq!(gate.inner.probe_count.load(Ordering::Relaxed), 0);
        let mut held = held.into_iter();
        for permit in held.by_ref().take(3) {
            drop(permit);
        }
        assert_eq!(gate.available_permits(), 0, "one query still runs");
        assert!(gate.inner.probe_drained.load(Ordering::Relaxed) > 0);
        drop(held);
        assert_eq!(gate.available_permits(), 1);
        // Queries admitted from now on run alone; five of them end the probe.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let mut clock = Instant::now() + Duration::from_millis(5);
        feed(&gate, &mut clock, 5, Duration::from_millis(1));
        let snapshot = gate.snapshot();
        assert!(!snapshot.probing);
        assert!(
            snapshot.baseline_ms.is_some_and(|ms| (ms - 1.0).abs() < 0.05),
            "{snapshot:?}"
        );
        assert_eq!(gate.available_permits(), 4, "the limit is restored");
    }

    #[tokio::test]
    async fn a_probe_that_measures_nothing_times_out() {
        let gate = gate(4, 10);
        let mut clock = Instant::now();
        let _held = gate.acquire().await.unwrap();
        feed(&gate, &mut clock, 10, Duration::from_millis(2));
        assert!(gate.snapshot().probing);
        // The held permit never returns, so nothing is admitted under the probe; after the
        // 1 s timeout the next sample ends it without a new reference.
        feed(&gate, &mut clock, 101, Duration::from_secs(2));
        let snapshot = gate.snapshot();
        assert!(!snapshot.probing);
        assert_eq!(gate.current(), 4);
    }

    #[tokio::test]
    async fn disabled_gate_is_a_fixed_semaphore() {
        let gate = AdaptiveGate::new(LimiterConfig::for_pool(3, false));
        let mut clock = Instant::now();
        for _ in 0..500 {
            clock += Duration::from_millis(10);
            assert!(gate.record_at(Duration::from_millis(500), true, clock).is_none());
        }
        assert_eq!((gate.current(), gate.available_permits()), (3, 3));
        assert!(!gate.snapshot().probing);
    }
}
