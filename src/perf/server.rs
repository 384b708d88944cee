//! The server under test: in this process (tests, quick runs) or, as `domainflow perf-test`
//! runs it, a child process of the real binary — so latency, CPU and RSS are the server's
//! own and not shared with the load generator.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::startup::Application;

/// Where perf-test runs the server.
#[derive(Debug, Clone, Default)]
pub enum ServerMode {
    /// In this process, from the run's settings.
    #[default]
    InProcess,
    /// `binary serve` in a child process, configured by `env` (on top of this process's
    /// environment) and `config` (the `--config` file), listening on a free loopback port.
    Child {
        binary: PathBuf,
        env: HashMap<String, String>,
        config: Option<PathBuf>,
    },
}

enum Running {
    InProcess {
        stop: tokio::sync::oneshot::Sender<()>,
        task: tokio::task::JoinHandle<std::io::Result<()>>,
    },
    Child {
        child: tokio::process::Child,
        log: PathBuf,
    },
}

/// A started server.
pub struct Server {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    running: Running,
}

impl Server {
    /// Starts the server and waits until /readyz answers 200.
    pub async fn start(mode: &ServerMode, settings: &Settings) -> Result<Self> {
        match mode {
            ServerMode::InProcess => {
                let mut settings = settings.clone();
                settings.port = 0;
                settings.host = "127.0.0.1".to_owned();
                let app = Application::build(settings).await?;
                let base = format!("http://127.0.0.1:{}", app.port());
                let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
                let task = tokio::spawn(app.run_until(async move {
                    let _ = stop_rx.await;
                }));
                Ok(Self {
                    base,
                    running: Running::InProcess { stop, task },
                })
            }
            ServerMode::Child { binary, env, config } => {
                let port = std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .map_err(|e| Error::Internal(format!("no free port: {e}")))?
                    .port();
                let log = std::env::temp_dir().join(format!("domainflow-perf-server-{port}.log"));
                let file = std::fs::File::create(&log)
                    .map_err(|e| Error::Internal(format!("cannot create {}: {e}", log.display())))?;
                let err_file = file
                    .try_clone()
                    .map_err(|e| Error::Internal(format!("cannot reopen {}: {e}", log.display())))?;
                let mut command = tokio::process::Command::new(binary);
                if let Some(config) = config {
                    command.arg("--config").arg(config);
                }
                command
                    .arg("serve")
                    .envs(env)
                    .env("HOST", "127.0.0.1")
                    .env("PORT", port.to_string())
                    .env("RUST_LOG", "warn")
                    .stdin(Stdio::null())
                    .stdout(file)
                    .stderr(err_file)
                    .kill_on_drop(true);
                let child = command
                    .spawn()
                    .map_err(|e| Error::Internal(format!("cannot start {}: {e}", binary.display())))?;
                let mut server = Self {
                    base: format!("http://127.0.0.1:{port}"),
                    running: Running::Child { child, log },
                };
                server.wait_ready(Duration::from_secs(120)).await?;
                Ok(server)
            }
        }
    }

    async fn wait_ready(&mut self, limit: Duration) -> Result<()> {
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Running::Child { child, log } = &mut self.running
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(Error::Internal(format!(
                    "the server exited ({status}) before it was ready:\n{}",
                    tail(log)
                )));
            }
            let ready = http
                .get(format!("{}/readyz", self.base))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Ok(());
            }
            if started.elapsed() > limit {
                return Err(Error::Internal(format!(
                    "the server was not ready within {limit:?}: {}",
                    self.log_tail()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The GraphQL endpoint.
    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.base)
    }

    /// The server's own RSS and peak RSS (VmHWM), in bytes; for an in-process server, this
    /// process's (server and load generator together).
    pub fn memory(&self) -> Option<crate::metrics::MemoryReading> {
        match &self.running {
            Running::InProcess { .. } => crate::metrics::read_memory(),
            Running::Child { child, .. } => {
                let pid = child.id()?;
                let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
                crate::metrics::parse_proc_status(&text)
            }
        }
    }

    /// A reader of the server's RSS in bytes (0 when unreadable) that can move into a task.
    pub fn rss_reader(&self) -> impl Fn() -> u64 + Send + Sync + 'static {
        let pid = match &self.running {
            Running::Child { child, .. } => child.id(),
            Running::InProcess { .. } => None,
        };
        move || {
            let reading = match pid {
                Some(pid) => std::fs::read_to_string(format!("/proc/{pid}/status"))
                    .ok()
                    .and_then(|text| crate::metrics::parse_proc_status(&text)),
                None => crate::metrics::read_memory(),
            };
            reading.map_or(0, |m| m.rss_bytes)
        }
    }

    /// True when the server runs in a process of its own.
    pub fn separate_process(&self) -> bool {
        matches!(self.running, Running::Child { .. })
    }

    fn log_tail(&self) -> String {
        match &self.running {
            Running::Child { log, .. } => tail(log),
            Running::InProcess { .. } => String::new(),
        }
    }

    /// Stops the server: in process by its shutdown signal; a child by SIGTERM (graceful
    /// drain), killed when it has not exited within 15 s.
    pub async fn stop(self) -> Result<()> {
        match self.running {
            Running::InProcess { stop, task } => {
                let _ = stop.send(());
                let _ = task.await;
                Ok(())
            }
            Running::Child { mut child, log } => {
                if let Some(pid) = child.id() {
                    let _ = tokio::process::Command::new("kill")
                        .arg("-TERM")
                        .arg(pid.to_string())
                        .status()
                        .await;
                }
                match tokio::time::timeout(Duration::from_secs(15), child.wait()).await {
                    Ok(Ok(status)) if status.success() => {
                        let _ = std::fs::remove_file(&log);
                        Ok(())
                    }
                    Ok(Ok(status)) => Err(Error::Internal(format!(
                        "the server exited with {status} on SIGTERM:\n{}",
                        tail(&log)
                    ))),
                    Ok(Err(e)) => Err(Error::Internal(format!("waiting for the server: {e}"))),
                    Err(_) => {
                        let _ = child.kill().await;
                        Err(Error::Internal(
                            "the server did not exit within 15 s of SIGTERM".to_owned(),
                        ))
                    }
                }
            }
        }
    }
}

/// Samples the server's RSS every `period` in a task of its own, from its start until
/// [`RssSampler::stop`]: the readings of a run, first and last included.
pub struct RssSampler {
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<Vec<u64>>,
}

impl RssSampler {
    /// Starts sampling with `reader` (see [`Server::rss_reader`]).
    pub fn start(reader: impl Fn() -> u64 + Send + Sync + 'static, period: Duration) -> Self {
        use std::sync::atomic::Ordering;
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = done.clone();
        let task = tokio::spawn(async move {
            let mut samples = vec![reader()];
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(period).await;
                samples.push(reader());
            }
            samples
        });
        Self { done, task }
    }

    /// Stops sampling and returns the readings, oldest first (at least two).
    pub async fn stop(self) -> Vec<u64> {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
        self.task.await.unwrap_or_default()
    }
}

/// The last lines of a log file.
fn tail(path: &PathBuf) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
