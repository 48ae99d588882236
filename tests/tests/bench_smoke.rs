//! The benchmark command still runs: `marketlog-bench --quick` with short levels prints one
//! JSON line per scenario and level, each with operations done and no errors (the fixture
//! scenarios too: no stale read, the 50-event history, a restart that resumes from the
//! checkpoints), and `--report` on that output prints the ratio lines whose references ran
//! in it and a target line per absolute target. (Speed is measured by `tests/bench.sh`,
//! never asserted in a test.)

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
    // The scenarios on the shared fixture, once each (scale once per log size).
    for scenario in [
        "disk",
        "rebuild",
        "read_model_memory",
        "history",
        "restart",
        "http_reads_under_write",
    ] {
        assert_eq!(runs(scenario).len(), 1, "{scenario}: {lines:?}");
    }
    assert_eq!(runs("scale"), vec![64, 64]);
    let line = |scenario: &str| lines.iter().find(|l| l["scenario"] == scenario).unwrap();
    let sizes: Vec<u64> = lines
        .iter()
        .filter(|l| l["scenario"] == "scale")
        .map(|l| l["events_before"].as_u64().unwrap())
        .collect();
    assert!(
        sizes[0] < sizes[1],
        "scale runs on a small log, then the fixture: {sizes:?}"
    );
    assert_eq!(line("http_reads_under_write")["stale"], 0);
    assert_eq!(line("history")["history_events"], 50);
    assert_eq!(line("history")["wrong_answers"], 0);
    assert_eq!(
        line("restart")["replayed_events"],
        0,
        "the models resume from their checkpoints at the head"
    );
    let models = projections::registry::names().len();
    assert_eq!(line("rebuild")["ops"], models);
    assert_eq!(
        line("read_model_memory")["models"]
            .as_object()
            .unwrap()
            .len(),
        models
    );
    assert!(line("disk")["ratio"].as_f64().unwrap() > 1.0);
    for l in &lines {
        assert!(l["ops"].as_u64().unwrap() > 0, "{l}");
        assert_eq!(l["errors"], 0, "{l}");
        if ["disk", "rebuild", "read_model_memory"].contains(&l["scenario"].as_str().unwrap()) {
            continue; // no latencies: one offline pass each
        }
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
    let report: Vec<Value> = String::from_utf8(report.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect();
    let pairs = |kind: &str, second: &str| -> Vec<(String, String)> {
        report
            .iter()
            .filter(|l| l["scenario"] == kind)
            .map(|l| {
                (
                    l["of"].as_str().unwrap().to_owned(),
                    l[second].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let owned = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    };
    let expected = [
        ("log_append_multi", "log_append"),
        ("http_commands", "http_floor"),
        ("scale", "scale"),
    ];
    assert_eq!(pairs("ratio", "vs"), owned(&expected));
    // Every absolute target of the fixture scenarios; the CLI half of `history` only when
    // replay-tool was built beside the bench (tests/bench.sh builds it).
    let mut expected = vec![
        ("rebuild", "events_per_s"),
        ("rebuild", "rss_mib"),
        ("history", "p99_ms"),
    ];
    if line("history")["cli_ms"].is_number() {
        expected.push(("history", "cli_ms"));
    }
    expected.extend([
        ("restart", "seconds"),
        ("disk", "ratio"),
        ("http_reads_under_write", "p99_ms"),
    ]);
    // `disk` ran first, but its target line comes in line order too.
    let mut got = pairs("target", "measure");
    let mut want = owned(&expected);
    got.sort();
    want.sort();
    assert_eq!(got, want);
}
