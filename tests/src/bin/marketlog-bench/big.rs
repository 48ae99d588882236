//! The scenarios on the shared fixture, run from the parent process: builds (or reuses) the
//! fixture once per run, then runs each scenario's parts in child processes
//! (`marketlog-bench --child <part> --data <fixture root>`) and prints one line per
//! scenario. Order matters: `disk` first (the fixture as the build left it), the offline
//! scenarios while no process holds the dir, `scale` and `http_reads_under_write` last (they
//! add events).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use marketlog_tests::bench::{percentile_ms, round};
use serde_json::{json, Value};

use super::fixture::{self, FixtureInfo};
use super::offline;

/// The scenarios of this module, in run order.
pub const SCENARIOS: &[&str] = &[
    "disk",
    "rebuild",
    "read_model_memory",
    "history",
    "restart",
    "scale",
    "http_reads_under_write",
];
/// Events of the fixture (BENCHMARKS.md: 1M), and with `--quick`.
pub const FIXTURE_EVENTS: u64 = 1_000_000;
pub const FIXTURE_EVENTS_QUICK: u64 = 20_000;
/// The small log of `scale` (BENCHMARKS.md: 10k), and with `--quick`.
pub const SCALE_SMALL_EVENTS: u64 = 10_000;
pub const SCALE_SMALL_EVENTS_QUICK: u64 = 2_000;
/// Runs of `replay-tool history` (the figure is their median), and with `--quick`.
pub const HISTORY_CLI_RUNS: usize = 5;
pub const HISTORY_CLI_RUNS_QUICK: usize = 1;

/// What the parent needs to run the fixture scenarios.
pub struct Plan<'a> {
    pub base: &'a Path,
    /// A fixture root to reuse instead of building one (`--fixture`).
    pub reuse: Option<PathBuf>,
    pub fixture_events: u64,
    pub scale_small_events: u64,
    pub seconds: f64,
    pub history_cli_runs: usize,
    pub replay_tool: Option<PathBuf>,
    pub wanted: &'a dyn Fn(&str) -> bool,
}

/// Runs `marketlog-bench --child <part> --data <root> <extra>`: its JSON lines.
pub fn child(part: &str, root: &Path, extra: &[String]) -> Result<Vec<Value>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let out = Command::new(exe)
        .args(["--child", part, "--data"])
        .arg(root)
        .args(extra)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("spawning the {part} child: {e}"))?;
    if !out.status.success() {
        return Err(format!("the {part} child failed ({})", out.status));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("{part} child printed {l:?}: {e}")))
        .collect()
}

fn first(lines: Vec<Value>) -> Result<Value, String> {
    lines
        .into_iter()
        .next()
        .ok_or_else(|| "a child printed nothing".into())
}

/// The fixture at `root`, built there first (in a child) unless it already holds one.
fn ensure(root: &Path, events: u64) -> Result<FixtureInfo, String> {
    if let Some(info) = fixture::read_info(root) {
        return Ok(info);
    }
    std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let built = first(child(
        "fixture",
        root,
        &["--fixture-events".into(), events.to_string()],
    )?)?;
    eprintln!("marketlog-bench: fixture {}: {built}", root.display());
    fixture::read_info(root).ok_or_else(|| "the fixture child wrote no fixture.json".into())
}

/// Runs the wanted fixture scenarios; their lines in run order, or the first failure.
pub fn run(plan: &Plan, emit: &mut dyn FnMut(Value)) -> Result<(), String> {
    if !SCENARIOS.iter().any(|s| (plan.wanted)(s)) {
        return Ok(());
    }
    let root = plan
        .reuse
        .clone()
        .unwrap_or_else(|| plan.base.join("fixture"));
    let info = ensure(&root, plan.fixture_events)?;
    let data = fixture::data_dir(&root);
    let seconds = ["--seconds".to_owned(), plan.seconds.to_string()];
    let mut read: Option<Value> = None;
    let mut read_baseline = |root: &Path| -> Result<Value, String> {
        if let Some(r) = &read {
            return Ok(r.clone());
        }
        let r = first(child("read", root, &[])?)?;
        read = Some(r.clone());
        Ok(r)
    };

    if (plan.wanted)("disk") {
        let r = read_baseline(&root)?;
        emit(disk(&data, &r));
    }
    if (plan.wanted)("rebuild") {
        let mut line = first(child("rebuild", &root, &[])?)?;
        let events = line["events"].as_u64().unwrap_or(0);
        let secs = line["seconds"].as_f64().unwrap_or(0.0);
        let models = line["models"].as_object().map_or(0, |m| m.len());
        line["scenario"] = json!("rebuild");
        line["concurrency"] = json!(1);
        line["ops"] = json!(models);
        line["errors"] = json!(0);
        line["events_per_s"] = json!(round(events as f64 / secs.max(1e-9), 1));
        line["model_events_per_s"] =
            json!(round((events * models as u64) as f64 / secs.max(1e-9), 1));
        line["rss_mib"] = line["peak_rss_mib"].clone();
        line["read_seconds"] = read_baseline(&root)?["seconds"].clone();
        emit(line);
    }
    if (plan.wanted)("read_model_memory") {
        let baseline = read_baseline(&root)?;
        emit(memory(&root, &data, &info, &baseline)?);
    }
    if (plan.wanted)("history") {
        let mut line = first(child("history", &root, &seconds)?)?;
        add_history_cli(&mut line, plan, &data, &info);
        emit(line);
    }
    if (plan.wanted)("restart") {
        emit(first(child("restart", &root, &[])?)?);
    }
    if (plan.wanted)("scale") {
        let small = plan.base.join("fixture_small");
        ensure(&small, plan.scale_small_events)?;
        emit(first(child("scale", &small, &seconds)?)?);
        emit(first(child("scale", &root, &seconds)?)?);
        if plan.reuse.is_none() {
            let _ = std::fs::remove_dir_all(&small);
        }
    }
    if (plan.wanted)("http_reads_under_write") {
        emit(first(child("reads", &root, &seconds)?)?);
    }
    Ok(())
}

/// `disk`: bytes the data dir takes on disk over the bytes of the encoded events in it.
fn disk(data: &Path, read: &Value) -> Value {
    let (on_disk, apparent) = offline::disk_usage(data);
    let (log, _) = offline::disk_usage(&data.join(eventlog::datadir::LOG_DIR));
    let (views, _) = offline::disk_usage(&data.join(projections::runtime::VIEWS_DIR));
    let events = read["events"].as_u64().unwrap_or(0);
    let event_bytes = read["event_bytes"].as_u64().unwrap_or(0);
    let ratio = on_disk as f64 / (event_bytes.max(1)) as f64;
    json!({"scenario": "disk", "concurrency": 1, "ops": events, "events": events,
        "errors": 0, "bytes_on_disk": on_disk, "bytes_apparent": apparent,
        "log_bytes_on_disk": log, "views_bytes_on_disk": views,
        "event_bytes": event_bytes, "record_bytes": read["record_bytes"],
        "disk_bytes_per_event": round(on_disk as f64 / events.max(1) as f64, 1),
        "ratio": round(ratio, 3)})
}

/// `read_model_memory`: per model, the peak RSS of a child rebuilding only that model over
/// the peak of a child that only reads the log (ADR 0003's method), per order of the
/// fixture; and the size of its checkpoint (the state as encoded) per order.
fn memory(root: &Path, data: &Path, info: &FixtureInfo, baseline: &Value) -> Result<Value, String> {
    let base = baseline["peak_rss_mib"].as_f64().unwrap_or(0.0);
    let orders = info.orders.max(1) as f64;
    let mut models = serde_json::Map::new();
    let (mut total, mut total_checkpoint) = (0.0, 0u64);
    for name in projections::registry::names() {
        let line = first(child("rebuild", root, &["--model".into(), name.into()])?)?;
        let peak = line["peak_rss_mib"].as_f64().unwrap_or(0.0);
        let delta = (peak - base).max(0.0);
        let snap = data
            .join(projections::runtime::VIEWS_DIR)
            .join(format!("{name}.snap"));
        let checkpoint = std::fs::metadata(&snap).map(|m| m.len()).unwrap_or(0);
        total += delta;
        total_checkpoint += checkpoint;
        models.insert(
            name.to_owned(),
            json!({"peak_rss_mib": peak, "delta_mib": round(delta, 1),
                "bytes_per_order": round(delta * 1_048_576.0 / orders, 0),
                "checkpoint_bytes": checkpoint,
                "checkpoint_bytes_per_order": round(checkpoint as f64 / orders, 0),
                "seconds": line["seconds"]}),
        );
    }
    Ok(json!({"scenario": "read_model_memory", "concurrency": 1,
        "ops": models.len(), "errors": 0, "events": info.events, "orders": info.orders,
        "baseline_rss_mib": base,
        "bytes_per_order": round(total * 1_048_576.0 / orders, 0),
        "checkpoint_bytes_per_order": round(total_checkpoint as f64 / orders, 0),
        "models": models}))
}

/// Adds the CLI half of `history` to its line: `replay-tool history` on the stopped fixture.
fn add_history_cli(line: &mut Value, plan: &Plan, data: &Path, info: &FixtureInfo) {
    let tool = plan.replay_tool.clone().or_else(|| {
        let exe = std::env::current_exe().ok()?;
        let path = exe.parent()?.join("replay-tool");
        path.is_file().then_some(path)
    });
    let Some(tool) = tool else {
        line["cli_ms"] = Value::Null;
        line["cli_skipped"] = json!("replay-tool not built (tests/bench.sh builds it)");
        return;
    };
    let (mut times, errors) = offline::history_cli(
        &tool,
        data,
        &info.history_order_id,
        info.history_events,
        plan.history_cli_runs,
    );
    times.sort_unstable();
    line["cli_runs"] = json!(times.len());
    line["cli_ms"] = json!(round(percentile_ms(&times, 50.0), 1));
    line["cli_max_ms"] = json!(round(percentile_ms(&times, 100.0), 1));
    line["cli_errors"] = json!(errors);
    let http_errors = line["errors"].as_u64().unwrap_or(0);
    line["errors"] = json!(http_errors + errors);
}
