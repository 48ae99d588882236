//! `replay-tool export`: exactly the expected rows, in both formats, under every filter.

mod fixture;

use base64::Engine as _;
use eventlog::Record;
use fixture::{build, replay_tool, STANDARD};
use serde_json::{json, Value};

/// (stream, version, type, Shanghai wall time) of positions 1..=12 of the standard log.
const EXPECTED: [(&str, u64, &str, &str); 12] = [
    ("order-ord_1", 1, "OrderPlaced", "2026-11-22T08:00:00+08:00"),
    ("order-ord_1", 2, "OrderPaid", "2026-11-22T09:00:00+08:00"),
    (
        "legacy-lgc_1",
        1,
        "LegacyOpened",
        "2026-11-22T10:00:00+08:00",
    ),
    (
        "order-ord_2",
        1,
        "OrderPlaced",
        "2026-11-22T11:00:00.250000+08:00",
    ),
    (
        "order-ord_2",
        2,
        "PriceChanged",
        "2026-11-22T11:00:00.250000+08:00",
    ),
    (
        "delivery-dlv_1",
        1,
        "DeliveryStarted",
        "2026-11-22T12:00:00+08:00",
    ),
    ("order-ord_2", 3, "OrderPaid", "2026-11-22T13:00:00+08:00"),
    (
        "delivery-dlv_1",
        2,
        "DeliveryNodeCompleted",
        "2026-11-22T14:00:00+08:00",
    ),
    (
        "legacy-lgc_1",
        2,
        "LegacyNoted",
        "2026-11-22T15:00:00+08:00",
    ),
    (
        "order-ord_1",
        3,
        "RefundRequested",
        "2026-11-22T16:00:00+08:00",
    ),
    ("order-ord_3", 1, "OrderPlaced", "2026-11-22T17:00:00+08:00"),
    (
        "delivery-dlv_1",
        3,
        "DeliveryNodeCompleted",
        "2026-11-22T18:00:00+08:00",
    ),
];

const HEADER: &str = "position,stream_id,version,type,schema,at,actor,correlation_id,causation_id,payload_base64,crc32c,chain";

/// The JSON line the export must print for the record at `position`.
fn expected_line(records: &[Record], position: u64) -> Value {
    let r = &records[position as usize - 1];
    let (stream, version, event_type, at) = EXPECTED[position as usize - 1];
    assert_eq!((r.stream_id.as_str(), r.version), (stream, version));
    json!({
        "position": position,
        "stream_id": stream,
        "version": version,
        "type": event_type,
        "schema": r.schema_version,
        "at": at,
        "actor": r.actor,
        "correlation_id": r.correlation_id,
        "causation_id": r.causation_id,
        "payload_base64": base64::engine::general_purpose::STANDARD.encode(fixture::payload(position)),
        "crc32c": format!("{:08x}", r.crc32c),
        "chain": hex::encode(r.chain),
    })
}

fn jsonl(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn positions(lines: &[Value]) -> Vec<u64> {
    lines
        .iter()
        .map(|l| l["position"].as_u64().unwrap())
        .collect()
}

#[test]
fn jsonl_export_of_the_whole_log_has_every_field_of_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let records = build(dir.path(), STANDARD);
    let run = replay_tool(dir.path(), &["export", "--format", "jsonl"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let lines = jsonl(&run.stdout);
    let expected: Vec<Value> = (1..=12).map(|p| expected_line(&records, p)).collect();
    assert_eq!(lines, expected);
    // Field order is part of the format: the same as the CSV columns.
    let first = run.stdout.lines().next().unwrap();
    let keys: Vec<&str> = HEADER.split(',').collect();
    let mut at = 0;
    for k in keys {
        let found = first[at..].find(&format!("\"{k}\":")).unwrap();
        at += found;
    }
    assert!(
        lines.iter().all(|l| l.get("data").is_none()),
        "no codec yet"
    );
}

#[test]
fn position_and_type_filters_combine() {
    let dir = tempfile::tempdir().unwrap();
    let records = build(dir.path(), STANDARD);
    let run = replay_tool(
        dir.path(),
        &[
            "export",
            "--format",
            "jsonl",
            "--from-position",
            "3",
            "--to-position",
            "9",
            "--type",
            "OrderPaid",
            "--type",
            "DeliveryNodeCompleted",
        ],
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    let lines = jsonl(&run.stdout);
    assert_eq!(positions(&lines), vec![7, 8]);
    assert_eq!(lines[0], expected_line(&records, 7));
    assert_eq!(lines[1], expected_line(&records, 8));
}

#[test]
fn stream_prefix_filters_combine_with_every_other_filter_in_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    let records = build(dir.path(), STANDARD);
    // Every filter at once: positions 3..=12, 09:00 (inclusive) to 18:00 (exclusive)
    // Shanghai time, three types, two stream prefixes.
    let filters = [
        "--from-position",
        "3",
        "--to-position",
        "12",
        "--from",
        "2026-11-22T09:00:00+08:00",
        "--to",
        "2026-11-22T18:00:00+08:00",
        "--type",
        "OrderPaid",
        "--type",
        "DeliveryNodeCompleted",
        "--type",
        "LegacyOpened",
        "--stream",
        "order-",
        "--stream",
        "delivery-dlv_",
    ];
    let mut args = vec!["export", "--format", "jsonl"];
    args.extend_from_slice(&filters);
    let run = replay_tool(dir.path(), &args);
    assert_eq!(run.code, Some(0), "{run:?}");
    let lines = jsonl(&run.stdout);
    // 7 OrderPaid of order-ord_2 at 13:00, 8 DeliveryNodeCompleted at 14:00; not 2 (an
    // OrderPaid before --from-position), 3 (LegacyOpened, of legacy-) or 12 (a
    // DeliveryNodeCompleted at 18:00, --to is exclusive).
    assert_eq!(positions(&lines), vec![7, 8]);
    for line in &lines {
        let p = line["position"].as_u64().unwrap();
        assert_eq!(*line, expected_line(&records, p));
    }
    let mut args = vec!["export", "--format", "csv"];
    args.extend_from_slice(&filters);
    let run = replay_tool(dir.path(), &args);
    assert_eq!(run.code, Some(0), "{run:?}");
    let rows: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(rows.len(), 1 + 2, "{run:?}");
    assert_eq!(rows[0], HEADER);
    for (row, p) in rows[1..].iter().zip([7, 8]) {
        assert!(row.starts_with(&format!("{p},")), "{row}");
    }
    // One stream exactly, by its whole id.
    let run = replay_tool(
        dir.path(),
        &["export", "--format", "jsonl", "--stream", "order-ord_2"],
    );
    assert_eq!(positions(&jsonl(&run.stdout)), vec![4, 5, 7]);
}

#[test]
fn position_bounds_are_inclusive_and_clamped_to_the_head() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), STANDARD);
    let run = replay_tool(
        dir.path(),
        &[
            "export",
            "--format",
            "jsonl",
            "--from-position",
            "11",
            "--to-position",
            "99",
        ],
    );
    assert_eq!(positions(&jsonl(&run.stdout)), vec![11, 12], "{run:?}");
    let run = replay_tool(
        dir.path(),
        &[
            "export",
            "--format",
            "jsonl",
            "--from-position",
            "4",
            "--to-position",
            "4",
        ],
    );
    assert_eq!(positions(&jsonl(&run.stdout)), vec![4], "{run:?}");
    let run = replay_tool(
        dir.path(),
        &["export", "--format", "jsonl", "--from-position", "13"],
    );
    assert_eq!((run.code, run.stdout.as_str()), (Some(0), ""), "{run:?}");
}

#[test]
fn time_filters_are_from_inclusive_to_exclusive_in_any_offset() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), STANDARD);
    // 11:00:00.25 Shanghai is exactly when positions 4 and 5 were recorded; 06:00Z is
    // 14:00 Shanghai, when position 8 was recorded.
    let run = replay_tool(
        dir.path(),
        &[
            "export",
            "--format",
            "jsonl",
            "--from",
            "2026-11-22T11:00:00.25+08:00",
            "--to",
            "2026-11-22T06:00:00Z",
        ],
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(positions(&jsonl(&run.stdout)), vec![4, 5, 6, 7]);
    let run = replay_tool(
        dir.path(),
        &[
            "export",
            "--format",
            "jsonl",
            "--from",
            "2026-11-22T11:00:00.250001+08:00",
            "--type",
            "OrderPlaced",
        ],
    );
    assert_eq!(positions(&jsonl(&run.stdout)), vec![11], "{run:?}");
}

#[test]
fn the_time_zone_flag_changes_the_printed_offset_not_the_instant() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), STANDARD);
    let run = replay_tool(
        dir.path(),
        &[
            "--timezone",
            "UTC",
            "export",
            "--format",
            "jsonl",
            "--to-position",
            "4",
        ],
    );
    let lines = jsonl(&run.stdout);
    assert_eq!(lines[0]["at"], "2026-11-22T00:00:00+00:00");
    assert_eq!(lines[3]["at"], "2026-11-22T03:00:00.250000+00:00");
}

#[test]
fn csv_export_to_a_file_has_the_header_and_the_same_rows_as_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let records = build(dir.path(), STANDARD);
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("events.csv");
    std::fs::write(&out, "old content that must be truncated\n".repeat(100)).unwrap();
    let run = replay_tool(
        dir.path(),
        &[
            "export",
            "--format",
            "csv",
            "--type",
            "OrderPlaced",
            "--from",
            "2026-11-22T09:00:00+08:00",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!((run.code, run.stdout.as_str()), (Some(0), ""), "{run:?}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().next(), Some(HEADER));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let columns: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2, "{text}");
    for (row, position) in rows.iter().zip([4u64, 11]) {
        let expected = expected_line(&records, position);
        for (column, cell) in columns.iter().zip(row.iter()) {
            let want = match &expected[column.as_str()] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(cell, want, "position {position}, column {column}");
        }
    }
}

#[test]
fn an_empty_csv_export_still_has_its_header() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), STANDARD);
    let run = replay_tool(
        dir.path(),
        &["export", "--format", "csv", "--type", "NoSuchEvent"],
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, format!("{HEADER}\n"));
}

#[test]
fn bad_flag_values_are_usage_errors_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), STANDARD);
    let cases: [(&[&str], &str); 8] = [
        (
            &["--from-position", "5", "--to-position", "4"],
            "--from-position",
        ),
        (&["--to-position", "0"], "--to-position"),
        (&["--from-position", "x"], "--from-position"),
        (
            &[
                "--from",
                "2026-11-22T10:00:00Z",
                "--to",
                "2026-11-22T09:00:00Z",
            ],
            "--from",
        ),
        (&["--from", "2026-11-22 10:00"], "--from"),
        (&["--to", "2026-11-22T10:00:00"], "--to"),
        (&["--type", ""], "--type"),
        (&["--stream", ""], "--stream"),
    ];
    for (flags, named) in cases {
        let mut args = vec!["export", "--format", "jsonl"];
        args.extend_from_slice(flags);
        let run = replay_tool(dir.path(), &args);
        assert_eq!(run.code, Some(2), "{flags:?}: {run:?}");
        assert!(run.stderr.contains(named), "{flags:?}: {run:?}");
        assert_eq!(run.stdout, "", "{flags:?}");
    }
    for format in [&["--format", "xml"][..], &[]] {
        let mut args = vec!["export"];
        args.extend_from_slice(format);
        let run = replay_tool(dir.path(), &args);
        assert_eq!(run.code, Some(2), "{run:?}");
        assert!(run.stderr.contains("--format"), "{run:?}");
    }
}

#[test]
fn an_unwritable_out_file_is_an_environment_error() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), STANDARD);
    let out = dir.path().join("no-such-dir").join("x.csv");
    let run = replay_tool(
        dir.path(),
        &["export", "--format", "csv", "--out", out.to_str().unwrap()],
    );
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.starts_with("replay-tool: --out "), "{run:?}");
}

#[test]
fn exports_cross_read_chunk_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let records = fixture::build_many(dir.path(), 4_200);
    let run = replay_tool(dir.path(), &["export", "--format", "jsonl"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let lines = jsonl(&run.stdout);
    assert_eq!(positions(&lines), (1..=4_200).collect::<Vec<_>>());
    assert_eq!(lines[4_150]["chain"], hex::encode(records[4_150].chain));
    let run = replay_tool(
        dir.path(),
        &[
            "export",
            "--format",
            "csv",
            "--from-position",
            "4090",
            "--to-position",
            "4100",
        ],
    );
    assert_eq!(run.stdout.lines().count(), 1 + 11, "{run:?}");
    let run = replay_tool(dir.path(), &["verify"]);
    let chain = hex::encode(records[4_199].chain);
    assert_eq!(
        run.stdout,
        format!("checked 4200 records, 20 streams, head 4200\nchain at head 4200: {chain}\nok\n")
    );
}

#[test]
fn a_corrupt_record_stops_the_export_with_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), STANDARD);
    fixture::flip_payload_byte(dir.path(), 5);
    let run = replay_tool(dir.path(), &["export", "--format", "jsonl"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(positions(&jsonl(&run.stdout)), vec![1, 2, 3, 4]);
    assert!(
        run.stderr.starts_with(
            "replay-tool: the log cannot be read: corrupt record at position 5: checksum mismatch"
        ),
        "{run:?}"
    );
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("x.jsonl");
    let run = replay_tool(
        dir.path(),
        &[
            "export",
            "--format",
            "jsonl",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.trim_end().ends_with("is incomplete)"), "{run:?}");
}
