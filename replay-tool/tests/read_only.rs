//! The tool's promise: offline commands (all but `rebuild`) never change a byte of the data
//! dir, healthy or not.

mod fixture;

use fixture::{build, delete_tail, flip_payload_byte, replay_tool, snapshot, STANDARD};

fn every_read_only_command(data_dir: &std::path::Path, out_dir: &std::path::Path) {
    let csv = out_dir.join("out.csv");
    let commands: [&[&str]; 14] = [
        &["verify"],
        &["verify", "--json"],
        &["stats"],
        &["stats", "--json"],
        &["export", "--format", "jsonl", "--type", "OrderPaid"],
        &["export", "--format", "csv", "--out", csv.to_str().unwrap()],
        &["history", "legacy-lgc_1"],
        &["history", "ord_1", "--json"],
        &["history", "delivery-dlv_1", "--to-version", "2"],
        &["history", "ord_nosuch"],
        &["history", "delivery-dlv_1", "--diff", "--json"],
        &[
            "history",
            "legacy-lgc_1",
            "--diff",
            "--as-of",
            "2026-11-22T12:00:00+08:00",
        ],
        // Ids that only an event names: found by reading the whole log.
        &["history", "rfd_1"],
        &[
            "export",
            "--format",
            "jsonl",
            "--stream",
            "order-",
            "--stream",
            "delivery-",
        ],
    ];
    for command in commands {
        let run = replay_tool(data_dir, command);
        assert!(matches!(run.code, Some(0..=2)), "{command:?}: {run:?}");
    }
}

#[test]
fn no_command_changes_a_healthy_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), STANDARD);
    let out = tempfile::tempdir().unwrap();
    let before = snapshot(dir.path());
    assert!(before.keys().any(|p| p.starts_with("log")));
    every_read_only_command(dir.path(), out.path());
    assert!(before == snapshot(dir.path()), "the data dir changed");
}

/// A damaged log is where sled's recovery would rewrite files if the tool opened it in place.
#[test]
fn no_command_changes_a_damaged_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let records = build(dir.path(), STANDARD);
    flip_payload_byte(dir.path(), 3);
    delete_tail(dir.path(), &records, 1);
    let out = tempfile::tempdir().unwrap();
    let before = snapshot(dir.path());
    every_read_only_command(dir.path(), out.path());
    assert!(before == snapshot(dir.path()), "the data dir changed");
}
