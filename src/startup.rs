//! Start-up as DESIGN.md orders it: bind, connect (retrying with backoff), migrate under an
//! advisory lock unless disabled, load demo data into an empty embedded default, serve; and
//! graceful shutdown that lets requests in flight finish within the grace period.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sea_orm::DatabaseConnection;

use tokio::net::TcpListener;

use crate::config::{DatabaseTarget, Settings};
use crate::db::health::{BringUp, Health};
use crate::error::{Error, Result};
use crate::graphql::execute::ExecutorOptions;
use crate::graphql::{ApiContext, Executor, Limits, build_schema};
use crate::http::{AppState, router};

/// A bound, connected, migrated server, ready to run.
pub struct Application {
    listener: TcpListener,
    port: u16,
    state: AppState,
    /// Background tasks (sampler, idle reaper) stopped when the server stops.
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Application {
    /// Binds HOST:PORT (port 0 picks a free one), connects and migrates.
    pub async fn build(settings: Settings) -> Result<Self> {
        let address = format!("{}:{}", settings.host, settings.port);
        let listener = TcpListener::bind(&address)
            .await
            .map_err(|e| Error::Internal(format!("cannot listen on {address} (HOST/PORT): {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::Internal(format!("cannot read the bound address: {e}")))?
            .port();
        tracing::info!(database = %settings.database.display_url(), "connecting to the database");
        let capacity: Arc<OnceLock<u32>> = Arc::default();
        let ping_timeout = settings.db_acquire_timeout.min(Duration::from_secs(2));
        let probe = {
            let mut one = settings.clone();
            one.db_max_open_conns = 1;
            one.db_acquire_timeout = ping_timeout;
            crate::db::connect_lazy(&one)?
        };
        let (db, health, pending) = match crate::db::connect(&settings).await {
            Ok(db) => {
                bring_up(&db, &settings, &capacity).await?;
                (db, Health::new(true, Some(probe)), None)
            }
            Err(Error::ServiceUnavailable) => {
                // Serve anyway: /readyz says not ready, requests fail fast with
                // SERVICE_UNAVAILABLE, and the watchdog finishes start-up when it answers.
                tracing::warn!(
                    "database unreachable within DB_CONNECT_TIMEOUT_SECONDS; serving without it until it answers"
                );
                let (later, capacity_later) = (settings.clone(), capacity.clone());
                let pending: BringUp = Box::new(move |db| {
                    let (settings, capacity) = (later.clone(), capacity_later.clone());
                    Box::pin(async move { bring_up(&db, &settings, &capacity).await })
                });
                (
                    crate::db::connect_lazy(&settings)?,
                    Health::new(false, Some(probe)),
                    Some(pending),
                )
            }
            Err(err) => return Err(err),
        };
        let mut background = vec![
            crate::db::spawn_idle_reaper(db.clone(), settings.db_max_idle_conns),
            crate::db::health::spawn_watchdog(db.clone(), health.clone(), pending, ping_timeout),
        ];
        let metrics = crate::metrics::Metrics::new(settings.metrics_config());
        let sampler = crate::metrics::sampler::Sampler::new(
            db.clone(),
            metrics.clone(),
            crate::metrics::sampler::SamplerConfig {
                interval: settings.metrics_sample_interval,
                retention: settings.metrics_retention,
                pool_name: "primary".to_owned(),
                leak_bound: settings.db_conn_leak_threshold,
            },
        );
        let monitor = crate::graphql::metrics::MonitorContext {
            server_max_connections: capacity,
            latest_interval: Some(sampler.latest()),
        };
        // Persists metrics history and reports leaks; never blocks requests, never fatal.
        background.push(sampler.spawn());
        // Folds the counts' pending deltas (PostgreSQL); never blocks writers or requests.
        background.extend(crate::db::counts::spawn_compaction(db.clone()));
        let observer = crate::db::Observer::new(
            metrics.clone(),
            settings.log_slow_queries,
            settings.db_acquire_timeout,
            health.clone(),
        );
        let api = ApiContext::new(db.clone(), observer.clone(), monitor.clone(), settings.max_page_size);
        let schema = Executor::new(
            build_schema(
                api.clone(),
                Limits {
                    query: settings.query_limits,
                    introspection: settings.introspection,
                },
            ),
            api,
            ExecutorOptions {
                limits: settings.query_limits,
                introspection: settings.introspection,
                document_cache_size: settings.document_cache_size,
                apq_cache_size: settings.apq_cache_size,
                compiled_pages: settings.compiled_pages,
            },
        );
        if !settings.api_tokens.is_empty() {
            let names: Vec<&str> = settings.api_tokens.iter().map(|t| t.name()).collect();
            tracing::info!(tokens = ?names, "access control on: requests need a bearer token");
        }
        let state = AppState::new(crate::http::Shared {
            observer,
            health,
            metrics,
            monitor,
            db,
            schema,
            gate: Arc::new(crate::http::guard::Gatekeeper::new(&settings)),
            settings: Arc::new(settings),
        });
        Ok(Self {
            listener,
            port,
            state,
            background,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT or SIGTERM, then drains.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes, then stops accepting, lets requests in flight finish
    /// for up to the configured grace period, and closes the pool.
    pub async fn run_until(self, stop: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let grace = self.state.settings.shutdown_grace;
        let delay = self.state.settings.shutdown_delay;
        let db = self.state.db.clone();
        let background = self.background;
        tracing::info!(address = %format!("{}:{}", self.state.settings.host, self.port), "serving GraphQL at /graphql");
        let (drain_tx, drain_rx) = tokio::sync::oneshot::channel::<()>();
        // Connection info gives the per-address rate limit its key.
        let app = router(self.state).into_make_service_with_connect_info::<std::net::SocketAddr>();
        let server = axum::serve(self.listener, app).with_graceful_shutdown(async move {
            let _ = drain_rx.await;
        });
        let mut server = std::pin::pin!(server.into_future());
        let early = tokio::select! {
            result = &mut server => Some(result),
            () = stop => None,
        };
        let early = match early {
            Some(result) => Some(result),
            None => {
                // Keep serving briefly: requests already on their way are read, not dropped.
                tracing::info!(
                    delay_ms = delay.as_millis() as u64,
                    grace_seconds = grace.as_secs(),
                    "shutting down"
                );
                tokio::select! {
                    result = &mut server => Some(result),
                    () = tokio::time::sleep(delay) => {
                        tracing::info!("no longer accepting connections; finishing requests in flight");
                        let _ = drain_tx.send(());
                        None
                    }
                }
            }
        };
        let result = match early {
            Some(result) => result,
            None => match tokio::time::timeout(grace, server).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::warn!("grace period over; dropping the requests still in flight");
                    Ok(())
                }
            },
        };
        for task in background {
            task.abort();
        }
        let _ = db.close().await;
        result
    }
}

/// Start-up work that needs the database: migrations (unless disabled), demo data for an
/// empty embedded default, and the server-capacity check.
async fn bring_up(db: &DatabaseConnection, settings: &Settings, capacity: &OnceLock<u32>) -> Result<()> {
    if settings.auto_migrate {
        crate::db::migrate(db, settings).await?;
    }
    if matches!(settings.database, DatabaseTarget::EmbeddedDefault { .. })
        && crate::seed::load_demo_if_empty(db).await?
    {
        tracing::info!("loaded the demo dataset into the empty embedded database");
    }
    if let Some(available) = crate::db::check_server_capacity(db, settings).await {
        let _ = capacity.set(available);
    }
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
