//! `replay-tool verify` on healthy, tampered and busy data dirs.

mod fixture;

use std::fs;

use eventlog::SledLog;
use fixture::{build, build_many, delete_tail, flip_payload_byte, replay_tool, STANDARD};

#[test]
fn a_healthy_log_verifies_ok() {
    let dir = tempfile::tempdir().unwrap();
    let records = build(dir.path(), STANDARD);
    let run = replay_tool(dir.path(), &["verify"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let chain = hex::encode(records[11].chain);
    assert_eq!(
        run.stdout,
        format!("checked 12 records, 5 streams, head 12\nchain at head 12: {chain}\nok\n")
    );
    assert_eq!(run.stderr, "");
    // The chain head pins the log: the same in JSON.
    let run = replay_tool(dir.path(), &["verify", "--json"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        report,
        serde_json::json!({"records_checked": 12, "streams": 5, "head": 12,
            "head_chain": chain, "ok": true, "first_bad_position": null, "problem": null})
    );
}

#[test]
fn a_flipped_payload_byte_is_reported_at_its_position() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), STANDARD);
    flip_payload_byte(dir.path(), 5);
    let run = replay_tool(dir.path(), &["verify"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let mut lines = run.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("checked 4 records, 3 streams, head 12"),
        "{run:?}"
    );
    let finding = lines.next().unwrap_or_default();
    assert!(
        finding.starts_with("first bad position 5: checksum mismatch"),
        "{run:?}"
    );
    let run = replay_tool(dir.path(), &["verify", "--json"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["head_chain"], serde_json::Value::Null);
    assert_eq!(report["first_bad_position"], 5);
}

#[test]
fn a_log_cut_short_of_its_anchor_names_the_first_missing_position() {
    let dir = tempfile::tempdir().unwrap();
    let records = build(dir.path(), STANDARD);
    delete_tail(dir.path(), &records, 3);
    let run = replay_tool(dir.path(), &["verify"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.starts_with("first bad position 10: "), "{run:?}");
    assert!(run.stdout.contains("cut short"), "{run:?}");
}

/// Flipped bits inside sled's own data file: whatever sled makes of them, the tool answers
/// with a finding (or a clear error), never a panic (exit 101), a signal or a hang.
#[test]
fn random_damage_to_the_store_file_is_a_finding_never_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    build_many(dir.path(), 600);
    let db_file = dir.path().join("log").join("db");
    let pristine = fs::read(&db_file).unwrap();
    for seed in 1..=8u64 {
        let mut bytes = pristine.clone();
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut next = move || {
            // xorshift64: reproducible damage without a rand dependency.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..16 {
            let at = (next() % bytes.len() as u64) as usize;
            bytes[at] ^= 1 << (next() % 8);
        }
        fs::write(&db_file, &bytes).unwrap();
        let run = replay_tool(dir.path(), &["verify"]);
        assert!(matches!(run.code, Some(1 | 2)), "seed {seed}: {run:?}");
        let said = if run.code == Some(1) {
            &run.stdout
        } else {
            &run.stderr
        };
        assert!(
            said.starts_with("first bad position ")
                || said.starts_with("store error: ")
                || said.starts_with("log is damaged: ")
                || said.starts_with("replay-tool: "),
            "seed {seed}: {run:?}"
        );
        assert!(!run.stderr.contains("panicked"), "seed {seed}: {run:?}");
    }
}

#[test]
fn a_data_dir_held_by_a_running_log_is_in_use() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), STANDARD);
    let held = SledLog::open(dir.path()).unwrap();
    for command in [
        &["verify"][..],
        &["stats"],
        &["export", "--format", "jsonl"],
    ] {
        let run = replay_tool(dir.path(), command);
        assert_eq!(run.code, Some(2), "{command:?}: {run:?}");
        assert!(
            run.stderr.starts_with("replay-tool: data dir in use: "),
            "{command:?}: {run:?}"
        );
        assert_eq!(run.stdout, "", "{command:?}");
    }
    held.close().unwrap();
}

#[test]
fn a_missing_data_dir_or_log_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let run = replay_tool(&missing, &["verify"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("does not exist"), "{run:?}");
    let run = replay_tool(dir.path(), &["verify"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("holds no event log"), "{run:?}");
    assert!(
        !dir.path().join("LOCK").exists(),
        "the tool created a lock file"
    );
}

#[test]
fn a_damaged_head_anchor_is_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), STANDARD);
    let anchor = dir.path().join("head.anchor");
    let text = fs::read_to_string(&anchor).unwrap();
    fs::write(&anchor, text.replace("position=12", "position=11")).unwrap();
    let run = replay_tool(dir.path(), &["verify"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stdout.starts_with("log is damaged: head anchor "),
        "{run:?}"
    );
    let shown = dir.path().join("head.anchor").display().to_string();
    assert!(
        run.stdout.contains(&shown),
        "names the user's file: {run:?}"
    );
}
