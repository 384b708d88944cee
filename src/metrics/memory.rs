//! Process memory: resident set size now and at its peak, and growth against an old sample.
//!
//! Read from `/proc/self/status` (`VmRSS`, `VmHWM`, in kB): no dependency, no `unsafe`, no page
//! size to look up. Elsewhere than Linux the readings are `None` and nothing about memory fires.
//! [`MemoryTracker`] keeps a bounded ring of timestamped samples (default one per minute for
//! two hours); growth is measured against the newest sample that is at least the window old,
//! so it is unknown — and the memory alert silent — until the process has run that long.
//! Time is always passed in as an `Instant`, so tests need no sleeping.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One reading of the process's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryReading {
    /// Resident set size now, in bytes.
    pub rss_bytes: u64,
    /// Highest resident set size since the process started ("high water mark"), in bytes.
    pub peak_rss_bytes: u64,
}

/// Reads the current memory figures; `None` where `/proc` is not available.
pub fn read_memory() -> Option<MemoryReading> {
    #[cfg(target_os = "linux")]
    {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|text| parse_proc_status(&text))
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Extracts `VmRSS` and `VmHWM` from the text of `/proc/<pid>/status`. `None` without
/// `VmRSS`; a missing `VmHWM` (very old kernels) falls back to the current RSS.
pub fn parse_proc_status(text: &str) -> Option<MemoryReading> {
    let field = |name: &str| -> Option<u64> {
        let line = text
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))?;
        let mut parts = line.split_whitespace();
        let value: u64 = parts.next()?.parse().ok()?;
        match parts.next() {
            Some("kB") | None => value.checked_mul(1024),
            Some(_) => None,
        }
    };
    let rss_bytes = field("VmRSS")?;
    let peak_rss_bytes = field("VmHWM").unwrap_or(rss_bytes).max(rss_bytes);
    Some(MemoryReading {
        rss_bytes,
        peak_rss_bytes,
    })
}

/// How often the tracker keeps a sample and how long it keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryTrackerConfig {
    /// Minimum spacing of kept samples (default 1 min). Recording more often is harmless:
    /// extra samples only update the latest reading, so the ring always spans `retain`
    /// whatever the sampler's period.
    pub interval: Duration,
    /// How far back samples are kept (default 2 h; must exceed the growth window).
    pub retain: Duration,
}

impl Default for MemoryTrackerConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(60),
            retain: Duration::from_secs(2 * 60 * 60),
        }
    }
}

/// A timestamped RSS reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemorySample {
    /// When it was taken.
    pub at: Instant,
    /// Resident set size, bytes.
    pub rss_bytes: u64,
}

/// Growth of the resident set between an old sample and the latest one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GrowthFigure {
    /// `(to − from) / from × 100`; negative when memory shrank.
    pub percent: f64,
    /// RSS of the old sample, bytes.
    pub from_bytes: u64,
    /// RSS of the latest sample, bytes.
    pub to_bytes: u64,
    /// Time between the two samples (at least the window asked for).
    pub over: Duration,
}

struct Samples {
    ring: VecDeque<MemorySample>,
    latest: Option<MemorySample>,
}

/// Keeps recent RSS samples to measure growth; shared (`&self`), updated by the sampler.
pub struct MemoryTracker {
    config: MemoryTrackerConfig,
    capacity: usize,
    samples: Mutex<Samples>,
}

impl std::fmt::Debug for MemoryTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTracker")
            .field("config", &self.config)
            .field("samples", &self.len())
            .finish()
    }
}

impl MemoryTracker {
    /// An empty tracker; the ring holds `retain / interval + 2` samples.
    pub fn new(config: MemoryTrackerConfig) -> Self {
        let interval = config.interval.max(Duration::from_millis(1));
        let config = MemoryTrackerConfig { interval, ..config };
        let capacity = usize::try_from(config.retain.as_nanos() / interval.as_nanos())
            .unwrap_or(usize::MAX)
            .saturating_add(2)
            .min(100_000);
        Self {
            config,
            capacity,
            samples: Mutex::new(Samples {
                ring: VecDeque::with_capacity(capacity),
                latest: None,
            }),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> MemoryTrackerConfig {
        self.config
    }

    fn lock(&self) -> MutexGuard<'_, Samples> {
        // A panic elsewhere must not turn memory metrics off for good.
        self.samples.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a reading taken at `now`. It becomes the latest reading; it is also kept in the
    /// ring when at least 90 % of `interval` has passed since the last kept one (the slack
    /// absorbs a sampler's timer jitter). Returns whether it was kept.
    pub fn record(&self, now: Instant, rss_bytes: u64) -> bool {
        let sample = MemorySample { at: now, rss_bytes };
        let mut samples = self.lock();
        samples.latest = Some(sample);
        let due = samples
            .ring
            .back()
            .is_none_or(|last| now.saturating_duration_since(last.at) >= self.config.interval.mul_f64(0.9));
        if due {
            if samples.ring.len() >= self.capacity {
                samples.ring.pop_front();
            }
            samples.ring.push_back(sample);
        }
        due
    }

    /// Reads the process's memory and records it; `None` where it cannot be read.
    pub fn sample(&self, now: Instant) -> Option<MemoryReading> {
        let reading = read_memory()?;
        self.record(now, reading.rss_bytes);
        Some(reading)
    }

    /// The most recent reading recorded.
    pub fn latest(&self) -> Option<MemorySample> {
        self.lock().latest
    }

    /// The kept samples, oldest first, then the latest reading when it is newer than them: the
    /// recent history of the resident set (spaced by `interval`, spanning `retain`).
    pub fn samples(&self) -> Vec<MemorySample> {
        let samples = self.lock();
        let mut out: Vec<MemorySample> = samples.ring.iter().copied().collect();
        if let Some(latest) = samples.latest
            && out.last().is_none_or(|last| latest.at > last.at)
        {
            out.push(latest);
        }
        out
    }

    /// Samples kept in the ring.
    pub fn len(&self) -> usize {
        self.lock().ring.len()
    }

    /// Whether nothing has been kept yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Growth from the newest kept sample taken at least `window` before `now` to the latest
    /// reading. `None` until such a sample exists (the process's first `window`), or when the
    /// old sample read 0 bytes.
    pub fn growth_over(&self, window: Duration, now: Instant) -> Option<GrowthFigure> {
        let samples = self.lock();
        let to = samples.latest?;
        let from = samples
            .ring
            .iter()
            .rev()
            .find(|sample| now.saturating_duration_since(sample.at) >= window)?;
        if from.rss_bytes == 0 || to.at <= from.at {
            return None;
        }
        let percent = (to.rss_bytes as f64 - from.rss_bytes as f64) / from.rss_bytes as f64 * 100.0;
        Some(GrowthFigure {
            percent,
            from_bytes: from.rss_bytes,
            to_bytes: to.rss_bytes,
            over: to.at.saturating_duration_since(from.at),
        })
    }
}

/// Memory figures for display: the live reading plus the growth over the alert window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemorySnapshot {
    /// RSS now, bytes (`None` off Linux).
    pub rss_bytes: Option<u64>,
    /// Peak RSS, bytes (`None` off Linux).
    pub peak_rss_bytes: Option<u64>,
    /// Growth over `window`, once measurable.
    pub growth: Option<GrowthFigure>,
    /// The growth window (the alert's, default 1 h).
    pub window: Duration,
}

impl MemoryTracker {
    /// Reads memory now (without recording it) and measures growth over `window`.
    pub fn snapshot(&self, window: Duration, now: Instant) -> MemorySnapshot {
        let reading = read_memory();
        MemorySnapshot {
            rss_bytes: reading.map(|r| r.rss_bytes),
            peak_rss_bytes: reading.map(|r| r.peak_rss_bytes),
            growth: self.growth_over(window, now),
            window,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;
    const MINUTE: Duration = Duration::from_secs(60);
    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn parses_proc_status() {
        let text = "Name:\tdomainflow\nVmPeak:\t  900000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nThreads:\t9\n";
        assert_eq!(
            parse_proc_status(text),
            Some(MemoryReading {
                rss_bytes: 40 * MIB,
                peak_rss_bytes: 50 * MIB
            })
        );
        assert_eq!(
            parse_proc_status("VmRSS:\t 1 kB\n").map(|r| r.peak_rss_bytes),
            Some(1024)
        );
        assert_eq!(parse_proc_status("Name: x\n"), None);
        assert_eq!(parse_proc_status("VmRSS: lots kB\n"), None);
        assert_eq!(parse_proc_status("VmRSS: 5 MB\n"), None, "unknown unit is not guessed");
        assert_eq!(parse_proc_status("VmRSSX: 5 kB\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process() {
        let reading = read_memory().unwrap();
        assert!(reading.rss_bytes > MIB);
        assert!(reading.peak_rss_bytes >= reading.rss_bytes);
    }

    #[test]
    fn growth_is_none_before_the_window_then_exact() {
        let tracker = MemoryTracker::new(MemoryTrackerConfig::default());
        let start = Instant::now();
        // 100 MiB at start, +1 MiB a minute.
        for minute in 0..=59u32 {
            let now = start + MINUTE * minute;
            tracker.record(now, 100 * MIB + u64::from(minute) * MIB);
            assert_eq!(
                tracker.growth_over(HOUR, now),
                None,
                "minute {minute}: nothing in the first hour"
            );
        }
        let now = start + HOUR;
        tracker.record(now, 160 * MIB);
        let growth = tracker.growth_over(HOUR, now).unwrap();
        assert_eq!(
            (growth.from_bytes, growth.to_bytes, growth.over),
            (100 * MIB, 160 * MIB, HOUR)
        );
        assert!((growth.percent - 60.0).abs() < 1e-9);
        // Half an hour later, against the sample taken exactly an hour earlier.
        for minute in 61..=90u32 {
            tracker.record(start + MINUTE * minute, 200 * MIB);
        }
        let growth = tracker.growth_over(HOUR, start + MINUTE * 90).unwrap();
        assert_eq!(growth.from_bytes, 130 * MIB);
        assert!((growth.percent - (70.0 / 130.0 * 100.0)).abs() < 1e-9);
    }

    #[test]
    fn frequent_recording_keeps_the_ring_spaced() {
        let tracker = MemoryTracker::new(MemoryTrackerConfig::default());
        let start = Instant::now();
        // Every 10 s for 3 hours: the ring keeps one a minute and still reaches an hour back.
        let mut kept = 0;
        for tick in 0..=(3 * 360u32) {
            kept += usize::from(tracker.record(start + Duration::from_secs(10) * tick, 1000 + u64::from(tick)));
        }
        assert_eq!(kept, 181);
        assert_eq!(tracker.len(), 122, "bounded at retain / interval + 2");
        let now = start + 3 * HOUR;
        let growth = tracker.growth_over(HOUR, now).unwrap();
        assert_eq!(growth.over, HOUR);
        assert_eq!(growth.to_bytes, 1000 + 1080);
        assert_eq!(tracker.latest().map(|s| s.rss_bytes), Some(2080));
        // Older than retained: unknown rather than wrong.
        assert_eq!(tracker.growth_over(3 * HOUR, now), None);
    }

    #[test]
    fn samples_are_the_ring_then_a_newer_latest() {
        let tracker = MemoryTracker::new(MemoryTrackerConfig::default());
        let start = Instant::now();
        assert!(tracker.samples().is_empty());
        tracker.record(start, 10);
        tracker.record(start + MINUTE, 20);
        assert_eq!(
            tracker.samples().iter().map(|s| s.rss_bytes).collect::<Vec<_>>(),
            [10, 20]
        );
        // Too soon to be kept, but it is the latest reading: listed last.
        tracker.record(start + MINUTE + Duration::from_secs(5), 25);
        let samples = tracker.samples();
        assert_eq!(samples.iter().map(|s| s.rss_bytes).collect::<Vec<_>>(), [10, 20, 25]);
        assert!(samples.windows(2).all(|w| w[0].at < w[1].at), "oldest first");
    }

    #[test]
    fn jittery_sampler_is_not_decimated() {
        let tracker = MemoryTracker::new(MemoryTrackerConfig::default());
        let start = Instant::now();
        assert!(tracker.record(start, 1));
        assert!(tracker.record(start + Duration::from_millis(59_500), 1));
        assert!(
            !tracker.record(start + Duration::from_secs(100), 1),
            "only 40.5 s after the last kept"
        );
    }

    #[test]
    fn shrinking_memory_is_negative_growth() {
        let tracker = MemoryTracker::new(MemoryTrackerConfig::default());
        let start = Instant::now();
        tracker.record(start, 200 * MIB);
        tracker.record(start + HOUR, 150 * MIB);
        let growth = tracker.growth_over(HOUR, start + HOUR).unwrap();
        assert!((growth.percent + 25.0).abs() < 1e-9);
    }

    #[test]
    fn snapshot_reports_the_window() {
        let tracker = MemoryTracker::new(MemoryTrackerConfig::default());
        let now = Instant::now();
        let reading = tracker.sample(now);
        let snapshot = tracker.snapshot(HOUR, now);
        assert_eq!(snapshot.growth, None);
        assert_eq!(snapshot.window, HOUR);
        assert_eq!(snapshot.rss_bytes.is_some(), reading.is_some());
    }
}
