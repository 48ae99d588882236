//! Measurement helpers of the benchmark command: latency percentiles, RSS, JSON lines.

use std::time::Duration;

/// Percentile `p` (0..100) of sorted latencies, in milliseconds.
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1].as_secs_f64() * 1e3
}

/// Resident set size of this process in MiB (Linux), 0 if unknown.
pub fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Rounds for printing.
pub fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

/// One scenario's result, printed as one JSON line (BENCHMARKS.md format).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub scenario: String,
    pub concurrency: usize,
    pub ops: u64,
    pub events: u64,
    pub seconds: f64,
    pub latencies: Vec<Duration>,
    pub errors: u64,
    /// Write groups of the log during the run: ops per group says how well group commit
    /// amortised each flush + fsync.
    pub groups: Option<u64>,
    /// Events the log stored during the run (a command may append several).
    pub log_events: Option<u64>,
    /// Bytes this process caused to be written to storage during the run (`/proc/self/io`).
    pub disk_write_bytes: Option<u64>,
    /// CPU time (user + system, all threads) this process used during the run: far steadier
    /// than throughput on a shared 2-core machine whose disk drifts, so the figure to compare
    /// when a change is meant to save work.
    pub cpu_seconds: Option<f64>,
}

impl Outcome {
    pub fn to_json(&mut self) -> serde_json::Value {
        self.latencies.sort_unstable();
        let l = &self.latencies;
        serde_json::json!({
            "scenario": self.scenario,
            "concurrency": self.concurrency,
            "ops": self.ops,
            "events": self.events,
            "seconds": round(self.seconds, 3),
            "ops_per_s": round(self.ops as f64 / self.seconds, 1),
            "events_per_s": round(self.events as f64 / self.seconds, 1),
            "p50_ms": round(percentile_ms(l, 50.0), 3),
            "p99_ms": round(percentile_ms(l, 99.0), 3),
            "p999_ms": round(percentile_ms(l, 99.9), 3),
            "errors": self.errors,
            "rss_mib": round(rss_mib(), 1),
            "ops_per_group": self.groups.map(|g| round(self.ops as f64 / g.max(1) as f64, 1)),
            "log_events_per_op": self.log_events.map(|e| round(e as f64 / self.ops.max(1) as f64, 2)),
            "disk_bytes_per_op": self.disk_write_bytes.map(|b| round(b as f64 / self.ops.max(1) as f64, 0)),
            "cpu_us_per_op": self.cpu_seconds.map(|c| round(c * 1e6 / self.ops.max(1) as f64, 1)),
        })
    }
}

/// CPU seconds (user + system) this process has used so far: `utime` + `stime` of
/// `/proc/self/stat`, in USER_HZ ticks (100 per second on Linux).
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces: the first
    // is field 3 (state), so utime (field 14) and stime (field 15) are the 12th and 13th.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// Bytes this process has caused to be written to storage so far (`write_bytes` of
/// `/proc/self/io`), when the kernel tells.
pub fn disk_write_bytes() -> Option<u64> {
    std::fs::read_to_string("/proc/self/io").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("write_bytes:"))
            .and_then(|v| v.trim().parse().ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_rank_not_an_average() {
        let l: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&l, 50.0), 50.0);
        assert_eq!(percentile_ms(&l, 99.0), 99.0);
        assert_eq!(percentile_ms(&l, 99.9), 100.0);
        assert_eq!(percentile_ms(&[], 50.0), 0.0);
    }

    #[test]
    fn cpu_seconds_grow_with_work_done() {
        let before = cpu_seconds().expect("/proc/self/stat is readable");
        // Spin until three USER_HZ ticks of CPU show, bounded so a broken reading fails
        // instead of hanging (the bound is minutes of CPU on any machine).
        let mut x = 0u64;
        for _ in 0..100_000 {
            if cpu_seconds().unwrap() - before >= 0.03 {
                return;
            }
            for i in 0..100_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
        }
        panic!("cpu_seconds did not move after 10^10 steps of work");
    }
}
