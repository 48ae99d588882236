//! The benchmark command still runs: `marketlog-bench --quick` with short levels prints one
//! JSON line per scenario and level, each with operations done and no errors, and
//! `--report` on that output prints the ratio lines whose references ran in it. (Speed is
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
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<Value> = stdout
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
    assert_eq!(runs("http_floor"), vec![64]);
    assert_eq!(runs("http_commands"), vec![64]);
    assert_eq!(runs("coupon_claim_race"), vec![64]);
    let race = lines
        .iter()
        .find(|l| l["scenario"] == "coupon_claim_race")
        .unwrap();
    assert_eq!(race["granted_equals_stock"], true, "{race}");
    assert_eq!(race["ops"], race["stock"], "{race}");
    for l in &lines {
        assert!(l["ops"].as_u64().unwrap() > 0, "{l}");
        assert_eq!(l["errors"], 0, "{l}");
        for field in ["ops_per_s", "p50_ms", "p99_ms", "rss_mib"] {
            assert!(l[field].is_number(), "{field} missing: {l}");
        }
    }

    // The peers did not run, so only the targets measured against our own scenarios appear.
    let recorded = dir.path().join("quick.jsonl");
    std::fs::write(&recorded, &stdout).unwrap();
    let report = Command::new(env!("CARGO_BIN_EXE_marketlog-bench"))
        .arg("--report")
        .arg(&recorded)
        .output()
        .unwrap();
    assert!(report.status.success(), "--report failed");
    let ratios: Vec<(String, String)> = String::from_utf8(report.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|l| {
            (
                l["of"].as_str().unwrap().to_owned(),
                l["vs"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("log_append_multi", "log_append"),
        ("http_commands", "http_floor"),
    ]
    .map(|(of, vs)| (of.to_owned(), vs.to_owned()));
    assert_eq!(ratios, expected);
}
