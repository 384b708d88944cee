//! Whether the database is reachable, as the request path needs to know it: requests during
//! an outage fail at once with SERVICE_UNAVAILABLE instead of each waiting out the acquire
//! timeout, and everything recovers by itself when the database returns.
//!
//! A watchdog task owns the state. While the database is up it pings every few seconds (and
//! at once when a request reports a connection failure); while it is down it pings with
//! backoff (250 ms doubling to 4 s). When the server started without a database, the
//! watchdog also finishes start-up (migrations, the capacity check) the first time the
//! database answers; until then the server is not ready.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::DatabaseConnection;
use tokio::sync::{Notify, watch};

use crate::error::Result;

/// Shared view of the database's state.
#[derive(Clone, Debug)]
pub struct Health {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// A pool of one connection of its own: reachability is judged apart from the request
    /// pool, which may be saturated (busy is not down). None only in benchmarks.
    probe: Option<DatabaseConnection>,
    /// Start-up work (migrations) is done.
    started: AtomicBool,
    /// The last ping or query reached the database.
    up: AtomicBool,
    down_since: Mutex<Option<Instant>>,
    /// Wakes the watchdog when a request saw a connection failure.
    failure: Notify,
    /// `up` for waiters: requests in flight when an outage is noticed give up at once.
    up_watch: watch::Sender<bool>,
}

/// A snapshot for /readyz.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthStatus {
    pub started: bool,
    pub up: bool,
    /// How long the database has been unreachable, when it is.
    pub down_for: Option<Duration>,
}

impl Health {
    /// `started`: start-up work is done and the database answered; `probe`: the connection
    /// pings go through.
    pub fn new(started: bool, probe: Option<DatabaseConnection>) -> Self {
        Self {
            inner: Arc::new(Inner {
                probe,
                started: AtomicBool::new(started),
                up: AtomicBool::new(started),
                down_since: Mutex::new((!started).then(Instant::now)),
                failure: Notify::new(),
                up_watch: watch::Sender::new(started),
            }),
        }
    }

    /// True when requests may go to the database.
    pub fn is_up(&self) -> bool {
        self.inner.up.load(Ordering::Acquire) && self.inner.started.load(Ordering::Acquire)
    }

    /// Completes when the database is noticed to be unreachable (at once when it is).
    pub fn outage(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut up = self.inner.up_watch.subscribe();
        async move {
            let _ = up.wait_for(|up| !*up).await;
        }
    }

    /// The state for /readyz.
    pub fn status(&self) -> HealthStatus {
        let down_since = *lock(&self.inner.down_since);
        HealthStatus {
            started: self.inner.started.load(Ordering::Acquire),
            up: self.is_up(),
            down_for: down_since.map(|since| since.elapsed()),
        }
    }

    /// A request could not reach the database: stop sending requests until a ping succeeds.
    pub fn report_failure(&self) {
        if self.inner.up.swap(false, Ordering::AcqRel) {
            *lock(&self.inner.down_since) = Some(Instant::now());
            self.inner.up_watch.send_replace(false);
            tracing::warn!("database unreachable: failing requests fast until it answers again");
        }
        self.inner.failure.notify_one();
    }

    /// Pings through the probe connection (bounded by `timeout`) and records the answer
    /// once start-up is done; true when the database answered.
    pub async fn probe(&self, timeout: Duration) -> bool {
        let answered = match &self.inner.probe {
            Some(probe) => tokio::time::timeout(timeout, super::ping(probe)).await.unwrap_or(false),
            None => true,
        };
        if self.inner.started.load(Ordering::Acquire) {
            if answered {
                self.set_up();
            } else {
                self.report_failure();
            }
        }
        answered
    }

    fn set_up(&self) {
        if !self.inner.up.swap(true, Ordering::AcqRel) {
            self.inner.up_watch.send_replace(true);
            let down_for = lock(&self.inner.down_since).take().map(|since| since.elapsed());
            tracing::info!(
                down_ms = down_for.map_or(0, |d| d.as_millis() as u64),
                "database reachable again; serving"
            );
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Start-up work that needs the database, run by the watchdog when the server started
/// without one.
pub type BringUp = Box<dyn Fn(DatabaseConnection) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> + Send + Sync>;

/// Spawns the watchdog (see the module docs). `timeout` bounds each ping.
pub fn spawn_watchdog(
    db: DatabaseConnection,
    health: Health,
    bring_up: Option<BringUp>,
    timeout: Duration,
) -> tokio::task::JoinHandle<()> {
    const UP_INTERVAL: Duration = Duration::from_secs(2);
    const FIRST_RETRY: Duration = Duration::from_millis(250);
    const MAX_RETRY: Duration = Duration::from_secs(4);
    tokio::spawn(async move {
        let mut retry = FIRST_RETRY;
        loop {
            if !health.inner.started.load(Ordering::Acquire) {
                let done = match &bring_up {
                    Some(bring_up) => match bring_up(db.clone()).await {
                        Ok(()) => true,
                        Err(err) => {
                            tracing::warn!(error = %err, retry_in_ms = retry.as_millis() as u64, "database not ready yet");
                            false
                        }
                    },
                    None => health.probe(timeout).await,
                };
                if done {
                    health.inner.started.store(true, Ordering::Release);
                    health.set_up();
                    retry = FIRST_RETRY;
                    continue;
                }
            } else if health.inner.up.load(Ordering::Acquire) {
                tokio::select! {
                    () = health.inner.failure.notified() => {}
                    () = tokio::time::sleep(UP_INTERVAL) => {}
                }
                health.probe(timeout).await;
                continue;
            } else if health.probe(timeout).await {
                retry = FIRST_RETRY;
                continue;
            }
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(MAX_RETRY);
        }
    })
}
