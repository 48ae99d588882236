//! `replay-tool stats`: counts, sizes and times of the standard log.

mod fixture;

use std::fs;
use std::path::Path;

use fixture::{build, replay_tool, STANDARD};
use serde_json::json;

fn size_of_tree(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                size_of_tree(&e.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

/// The standard log plus one stored file, so the file store counts in the size.
fn standard_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), STANDARD);
    fs::create_dir_all(dir.path().join("files").join("ab")).unwrap();
    fs::write(
        dir.path().join("files").join("ab").join("abcdef"),
        [7u8; 1000],
    )
    .unwrap();
    dir
}

#[test]
fn json_stats_count_types_kinds_size_and_times() {
    let dir = standard_dir();
    let size = size_of_tree(&dir.path().join("log")) + size_of_tree(&dir.path().join("files"));
    let run = replay_tool(dir.path(), &["stats", "--json"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout.lines().count(), 1, "one json object: {run:?}");
    let stats: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        stats,
        json!({
            "events": 12,
            "streams": 5,
            "head": 12,
            "log_size_bytes": size,
            "first_at": "2026-11-22T08:00:00+08:00",
            "last_at": "2026-11-22T18:00:00+08:00",
            "events_per_type": {
                "LegacyOpened": 1,
                "LegacyNoted": 1,
                "DeliveryNodeCompleted": 2,
                "DeliveryStarted": 1,
                "OrderPaid": 2,
                "OrderPlaced": 3,
                "PriceChanged": 1,
                "RefundRequested": 1,
            },
            "streams_per_kind": {"legacy": 1, "delivery": 1, "order": 3},
        })
    );
    assert!(size > 1000);
}

#[test]
fn text_stats_show_the_same_numbers() {
    let dir = standard_dir();
    let size = size_of_tree(&dir.path().join("log")) + size_of_tree(&dir.path().join("files"));
    let run = replay_tool(dir.path(), &["--timezone", "UTC", "stats"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let expected = format!(
        "events: 12
streams: 5
head position: 12
log size: {size} bytes
first event at: 2026-11-22T00:00:00+00:00
last event at: 2026-11-22T10:00:00+00:00
events per type:
  DeliveryNodeCompleted  2
  DeliveryStarted        1
  LegacyNoted            1
  LegacyOpened           1
  OrderPaid              2
  OrderPlaced            3
  PriceChanged           1
  RefundRequested        1
streams per kind:
  delivery  1
  legacy    1
  order     3
"
    );
    assert_eq!(run.stdout, expected);
}

#[test]
fn an_empty_log_has_no_times() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), &[]);
    let run = replay_tool(dir.path(), &["stats", "--json"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let stats: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(stats["events"], 0);
    assert_eq!(stats["streams"], 0);
    assert_eq!(stats["first_at"], serde_json::Value::Null);
    let run = replay_tool(dir.path(), &["verify"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    // An empty log's chain head is the genesis hash.
    assert_eq!(
        run.stdout,
        format!(
            "checked 0 records, 0 streams, head 0\nchain at head 0: {}\nok\n",
            "0".repeat(64)
        )
    );
}

#[test]
fn stats_of_a_log_cut_short_is_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    let records = build(dir.path(), STANDARD);
    fixture::delete_tail(dir.path(), &records, 2);
    let run = replay_tool(dir.path(), &["stats"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr
            .starts_with("replay-tool: the log cannot be read: corrupt record at position 11"),
        "{run:?}"
    );
}

/// Removes the chunk holding `position` (a lost page in the middle of the log).
fn punch_hole(data_dir: &std::path::Path, position: u64) {
    fixture::with_raw_tree(data_dir, |tree| {
        let key = tree
            .scan_prefix([eventlog::layout::keys::CHUNK])
            .map(|kv| kv.unwrap().0)
            .filter(|k| eventlog::layout::keys::position_of_chunk_key(k).unwrap() <= position)
            .last()
            .unwrap();
        tree.remove(key).unwrap();
    });
}

#[test]
fn stats_and_export_of_a_log_with_a_hole_are_findings() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), STANDARD);
    punch_hole(dir.path(), 6);
    for args in [&["stats"][..], &["export", "--format", "jsonl"][..]] {
        let run = replay_tool(dir.path(), args);
        assert_eq!(run.code, Some(1), "{args:?}: {run:?}");
        assert!(
            run.stderr
                .starts_with("replay-tool: the log cannot be read: corrupt record at position 6"),
            "{args:?}: {run:?}"
        );
    }
    let run = replay_tool(dir.path(), &["verify"]);
    assert_eq!(run.code, Some(1), "{run:?}");
}
