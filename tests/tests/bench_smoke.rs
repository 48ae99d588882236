//! The benchmark command still runs: `marketlog-bench --quick` with short levels prints one
//! JSON line per scenario and level, each with operations done and no errors. (Speed is
//! measured by `tests/bench.sh`, never asserted in a test.)

use std::process::Command;

use serde_json::Value;

#[test]
fn the_quick_benchmark_runs_every_scenario_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_marketlog-bench"))
        .args(["--quick", "--seconds", "0.3", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "marketlog-bench failed:\n{stderr}");
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let runs = |scenario: &str| {
        lines
            .iter()
            .filter(|l| l["scenario"] == scenario)
            .map(|l| l["concurrency"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(runs("log_append"), vec![1, 16, 64, 256], "{lines:?}");
    assert_eq!(runs("log_append_multi"), vec![64]);
    assert_eq!(runs("command_inprocess"), vec![1, 16, 64]);
    assert_eq!(runs("http_commands"), vec![64]);
    for l in &lines {
        assert!(l["ops"].as_u64().unwrap() > 0, "{l}");
        assert_eq!(l["errors"], 0, "{l}");
        for field in ["ops_per_s", "p50_ms", "p99_ms", "rss_mib"] {
            assert!(l[field].is_number(), "{field} missing: {l}");
        }
    }
}
