//! The fixture scenarios that work on a stopped data dir: `rebuild` (the offline path of
//! `replay-tool rebuild --all`: `projections::registry::rebuild_all`, one pass over the log
//! for every model, storing each checkpoint), `read_model_memory` (the same per model, against a child that only reads the
//! log), `disk`, and the CLI half of `history` (the real `replay-tool history` binary).
//! Rebuilds and reads run in child processes, so that each peak RSS (`VmHWM`) is theirs alone.

use std::path::Path;
use std::time::Duration;

use eventlog::{EventStore, SledLog};
use marketlog_tests::bench::round;
use serde_json::{json, Value};

use super::now;

/// Records per read of the baseline (as `projections::runtime::catch_up` reads).
const READ_CHUNK_RECORDS: usize = 1_024;

/// Peak resident set of this process (`VmHWM`), in MiB.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Child: reads every record of the log once, as a rebuild does, and applies nothing. The
/// time and peak RSS of opening and reading the log alone (the baseline of
/// `read_model_memory`), and the bytes of the encoded events (`disk`): per event its type
/// name, schema version (2 bytes) and payload, as the domain's codec makes them.
pub fn read_all(data: &Path) -> Result<Value, String> {
    let started = now();
    let log = SledLog::open(data).map_err(|e| format!("open {}: {e}", data.display()))?;
    let head = log.head();
    let (mut next, mut events, mut event_bytes, mut record_bytes) = (1u64, 0u64, 0u64, 0u64);
    while next <= head {
        let chunk = log
            .read_all(next, READ_CHUNK_RECORDS)
            .map_err(|e| format!("read at {next}: {e}"))?;
        let Some(last) = chunk.last() else { break };
        next = last.position + 1;
        for r in &chunk {
            events += 1;
            let encoded = r.event_type.len() + 2 + r.payload.len();
            event_bytes += encoded as u64;
            record_bytes += (encoded
                + r.stream_id.len()
                + r.actor.len()
                + r.correlation_id.len()
                + r.causation_id.len()
                + 8 * 3) as u64;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let _ = log.close();
    Ok(
        json!({"events": events, "event_bytes": event_bytes, "record_bytes": record_bytes,
        "seconds": round(seconds, 3), "peak_rss_mib": round(peak_rss_mib(), 1)}),
    )
}

/// Child: rebuilds `models` (every registered one when empty) offline from the data dir's
/// log and stores their checkpoints, as `replay-tool rebuild` does: one pass over the log
/// applying each record to every model (`projections::registry::rebuild_all`), then each
/// checkpoint written. `pass_seconds` is the pass (open included), `models` the seconds each
/// model's checkpoint took to store.
pub fn rebuild(data: &Path, models: &[String]) -> Result<Value, String> {
    let names: Vec<&str> = if models.is_empty() {
        projections::registry::names()
    } else {
        models.iter().map(String::as_str).collect()
    };
    let started = now();
    let log = SledLog::open(data).map_err(|e| format!("open {}: {e}", data.display()))?;
    let head = log.head();
    let mut per_model = serde_json::Map::new();
    let mut pass_seconds = 0.0;
    let mut storing = now();
    let outcomes = projections::registry::rebuild_all(&names, &log, data, false, &mut |step| {
        use projections::registry::RebuildStep;
        match step {
            RebuildStep::Applied { .. } => {}
            RebuildStep::Finishing { .. } => {
                if pass_seconds == 0.0 {
                    pass_seconds = started.elapsed().as_secs_f64();
                }
                storing = now();
            }
            RebuildStep::Finished { name } => {
                per_model.insert(
                    name.to_owned(),
                    json!(round(storing.elapsed().as_secs_f64(), 3)),
                );
            }
        }
    })
    .map_err(|e| format!("rebuild: {e}"))?;
    for (name, outcome) in outcomes {
        outcome.map_err(|e| format!("rebuild of {name}: {e}"))?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let _ = log.close();
    Ok(
        json!({"events": head, "seconds": round(seconds, 6), "pass_seconds": round(pass_seconds, 3),
        "models": per_model, "peak_rss_mib": round(peak_rss_mib(), 1)}),
    )
}

/// Bytes the files under `dir` take on disk (allocated blocks), and their apparent length.
pub fn disk_usage(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let (mut on_disk, mut length) = (0, 0);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (0, 0);
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            let (d, l) = disk_usage(&entry.path());
            on_disk += d;
            length += l;
        } else {
            on_disk += meta.blocks() * 512;
            length += meta.len();
        }
    }
    (on_disk, length)
}

/// The CLI half of `history`: `replay-tool history <order> --data <dir>` run `runs` times on
/// the stopped fixture; wall times in ms (spawn to exit) and whether each exited 0 having
/// printed every event.
pub fn history_cli(
    replay_tool: &Path,
    data: &Path,
    order_id: &str,
    events: u64,
    runs: usize,
) -> (Vec<Duration>, u64) {
    let mut times = Vec::with_capacity(runs);
    let mut errors = 0;
    for _ in 0..runs {
        let s = now();
        let out = std::process::Command::new(replay_tool)
            .args(["history", order_id, "--no-progress", "--data"])
            .arg(data)
            .env_remove("MARKETLOG_DATA")
            .env_remove("MARKETLOG_URL")
            .output();
        let took = s.elapsed();
        match out {
            Ok(o) if o.status.success() => {
                // Each event is followed by a `  state: …` line; the count is a cheap check
                // that the whole stream was replayed.
                let text = String::from_utf8_lossy(&o.stdout);
                if (text.matches("\n  state: ").count() as u64) < events {
                    errors += 1;
                }
                times.push(took);
            }
            Ok(o) => {
                eprintln!(
                    "marketlog-bench: replay-tool history exited {}: {}",
                    o.status,
                    String::from_utf8_lossy(&o.stderr)
                );
                errors += 1;
            }
            Err(e) => {
                eprintln!("marketlog-bench: cannot run {}: {e}", replay_tool.display());
                errors += 1;
            }
        }
    }
    (times, errors)
}
