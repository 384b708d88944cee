//! The export component: the whole generated-domains connection of the large campaign streamed
//! from `/export` as CSV, every row counted against `X-Total-Count`, while the server's RSS is
//! sampled; the export must not grow the server's memory (it holds one page at a time).

use std::time::{Duration, Instant};

use serde::Serialize;
use uuid::Uuid;

use crate::error::{Error, Result};

use super::server::RssSampler;

/// What one export measured.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    pub rows: u64,
    pub total_count: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
    /// Server RSS before the export, the highest while it ran, and after it.
    pub rss_before_bytes: u64,
    pub rss_peak_bytes: u64,
    pub rss_after_bytes: u64,
}

impl ExportReport {
    /// Peak RSS during the export minus RSS before it, in MiB.
    pub fn growth_mib(&self) -> f64 {
        (self.rss_peak_bytes as f64 - self.rss_before_bytes as f64) / 1_048_576.0
    }
}

impl std::fmt::Display for ExportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "export: {} rows ({:.1} MiB CSV) in {:.1} s, {:.0} rows/s; server RSS {:.1} → peak {:.1} → {:.1} MiB ({:+.1} MiB)",
            self.rows,
            self.bytes as f64 / 1_048_576.0,
            self.seconds,
            self.rows_per_second,
            self.rss_before_bytes as f64 / 1_048_576.0,
            self.rss_peak_bytes as f64 / 1_048_576.0,
            self.rss_after_bytes as f64 / 1_048_576.0,
            self.growth_mib()
        )
    }
}

/// Streams `/export` of `campaign`'s generated domains from the server at `base` (e.g.
/// `http://127.0.0.1:8080`), sampling `rss` every 100 ms.
pub async fn run(base: &str, campaign: Uuid, rss: impl Fn() -> u64 + Send + Sync + 'static) -> Result<ExportReport> {
    let sampler = RssSampler::start(rss, Duration::from_millis(100));
    let started = Instant::now();
    let failed = |what: String| Error::Internal(format!("export: {what}"));
    let mut response = reqwest::get(format!(
        "{base}/export?campaign={campaign}&connection=GENERATED_DOMAINS&format=csv"
    ))
    .await
    .map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        return Err(failed(format!("{status}: {body}")));
    }
    let total_count = response
        .headers()
        .get("x-total-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| failed("no X-Total-Count header".to_owned()))?;
    let (mut bytes, mut lines) = (0u64, 0u64);
    while let Some(chunk) = response.chunk().await.map_err(|e| failed(e.to_string()))? {
        bytes += chunk.len() as u64;
        lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
    }
    let seconds = started.elapsed().as_secs_f64();
    let samples = sampler.stop().await;
    // The first line is the CSV header.
    let rows = lines.saturating_sub(1);
    Ok(ExportReport {
        rows,
        total_count,
        bytes,
        seconds,
        rows_per_second: rows as f64 / seconds.max(1e-9),
        rss_before_bytes: samples.first().copied().unwrap_or(0),
        rss_peak_bytes: samples.iter().copied().max().unwrap_or(0),
        rss_after_bytes: samples.last().copied().unwrap_or(0),
    })
}
