//! A damaged log is fenced, never served as whole: checks at open, the background scan and
//! reads that meet damage all refuse further appends and say where and why.

use std::path::Path;
use std::time::{Duration, Instant};

use eventlog::layout::keys;
use eventlog::{
    AppendError, AppendRequest, EventStore, Expected, FoundBy, LogError, Metadata, NewEvent,
    ScanState, SledLog, ANCHOR_FILE,
};

/// Upper bound for the background scan of a tiny log to finish.
const SCAN_WAIT_MS_MAX: u64 = 10_000;

fn one(stream: &str) -> AppendRequest {
    AppendRequest::single(
        stream,
        Expected::Any,
        vec![NewEvent {
            event_type: "Happened".into(),
            schema_version: 1,
            payload: b"{}".to_vec(),
        }],
        Metadata {
            actor: "system".into(),
            correlation_id: "cor_1".into(),
            causation_id: "cau_1".into(),
            recorded_at_micros: 1_000,
        },
    )
}

/// A closed log of `n` single-event appends (one chunk each) in `dir`.
async fn log_of(dir: &Path, n: u64) {
    let log = SledLog::open(dir).unwrap();
    for i in 0..n {
        log.append(one(&format!("order-{}", i % 3))).await.unwrap();
    }
    log.close().unwrap();
}

/// Removes the chunk that starts at `position`, behind the log's back (a lost page).
fn remove_chunk(dir: &Path, position: u64) {
    let db = sled::open(dir.join("log")).unwrap();
    let tree = db.open_tree("log").unwrap();
    assert!(tree.remove(keys::chunk(position)).unwrap().is_some());
    db.flush().unwrap();
}

fn assert_fenced_append(result: Result<eventlog::AppendResult, AppendError>, position: u64) {
    match result {
        Err(AppendError::Log(LogError::Fenced { position: p, .. })) => assert_eq!(p, position),
        other => panic!("expected a fenced log, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_log_gets_an_anchor_before_its_first_event_and_opens_clean() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    assert!(dir.path().join(ANCHOR_FILE).exists());
    assert_eq!(log.integrity().finding, None);
    log.append(one("order-1")).await.unwrap();
    log.close().unwrap();
    drop(log);
    let log = SledLog::open(dir.path()).unwrap();
    assert_eq!(log.integrity().finding, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_anchor_on_a_log_with_events_fences_it_at_open() {
    let dir = tempfile::tempdir().unwrap();
    log_of(dir.path(), 5).await;
    std::fs::remove_file(dir.path().join(ANCHOR_FILE)).unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    let f = log.integrity().finding.expect("fenced");
    assert_eq!(f.found_by, FoundBy::Open);
    assert!(f.reason.contains("head.anchor is missing"), "{f:?}");
    assert_fenced_append(log.append(one("order-9")).await, 0);
    // Intact records are still served.
    assert_eq!(log.read_all(1, 10).unwrap().len(), 5);
    log.close().unwrap();
    drop(log);
    assert!(
        !dir.path().join(ANCHOR_FILE).exists(),
        "a fenced log must not write an anchor that would hide the damage"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_garbage_anchor_is_named_and_fences_the_log() {
    let dir = tempfile::tempdir().unwrap();
    log_of(dir.path(), 3).await;
    let anchor = dir.path().join(ANCHOR_FILE);
    for garbage in [
        vec![0u8; 64],
        vec![0xff, 0xfe, 0x00, 0x80],
        b"position=1\n".to_vec(),
    ] {
        std::fs::write(&anchor, &garbage).unwrap();
        let log = SledLog::open(dir.path()).unwrap();
        let f = log.integrity().finding.expect("fenced");
        assert!(f.reason.contains(&anchor.display().to_string()), "{f:?}");
        assert!(f.reason.contains("damaged"), "{f:?}");
        assert_fenced_append(log.append(one("order-9")).await, 0);
        log.close().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_log_cut_short_of_its_anchor_is_fenced_and_keeps_the_anchor() {
    let dir = tempfile::tempdir().unwrap();
    log_of(dir.path(), 6).await;
    let anchor_before = std::fs::read(dir.path().join(ANCHOR_FILE)).unwrap();
    remove_chunk(dir.path(), 6);
    let log = SledLog::open(dir.path()).unwrap();
    let f = log.integrity().finding.expect("fenced");
    assert_eq!(f.position, 6);
    assert!(f.reason.contains("anchor says 6"), "{f:?}");
    assert_fenced_append(log.append(one("order-9")).await, 6);
    log.close().unwrap();
    drop(log);
    assert_eq!(
        std::fs::read(dir.path().join(ANCHOR_FILE)).unwrap(),
        anchor_before
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_that_meets_a_hole_answers_an_error_and_fences_the_log() {
    let dir = tempfile::tempdir().unwrap();
    log_of(dir.path(), 10).await;
    remove_chunk(dir.path(), 5);
    let log = SledLog::open(dir.path()).unwrap();
    assert_eq!(log.integrity().finding, None, "the tail is whole");
    // Before the hole: served.
    assert_eq!(log.read_all(1, 4).unwrap().len(), 4);
    // Reaching it: an error naming the position, never a short page with the same cursor.
    match log.read_all(3, 100) {
        Err(LogError::Corrupt { position: 5, .. }) => {}
        other => panic!("expected corruption at 5, got {other:?}"),
    }
    match log.read_all(5, 100) {
        Err(LogError::Corrupt { position: 5, .. }) => {}
        other => panic!("expected corruption at 5, got {other:?}"),
    }
    let f = log.integrity().finding.expect("fenced by the read");
    assert_eq!((f.position, f.found_by), (5, FoundBy::Read));
    assert_fenced_append(log.append(one("order-1")).await, 5);
    assert_eq!(log.head(), 10, "nothing was appended after the hole");
    log.close().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_background_scan_finds_a_hole_in_the_middle() {
    let dir = tempfile::tempdir().unwrap();
    log_of(dir.path(), 40).await;
    remove_chunk(dir.path(), 17);
    let log = SledLog::open(dir.path()).unwrap();
    assert_eq!(log.integrity().finding, None);
    let mut changed = log.watch_integrity();
    log.start_integrity_scan().unwrap();
    tokio::time::timeout(
        Duration::from_millis(SCAN_WAIT_MS_MAX),
        changed.wait_for(Option::is_some),
    )
    .await
    .expect("the scan finds the hole in time")
    .unwrap();
    let f = log.integrity().finding.unwrap();
    assert_eq!((f.position, f.found_by), (17, FoundBy::Scan));
    assert_fenced_append(log.append(one("order-1")).await, 17);
    log.close().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::disallowed_methods)] // a bound on real waiting for a thread, not business time
async fn the_background_scan_of_a_whole_log_finishes_clean() {
    let dir = tempfile::tempdir().unwrap();
    log_of(dir.path(), 40).await;
    let log = SledLog::open(dir.path()).unwrap();
    log.start_integrity_scan().unwrap();
    let deadline = Instant::now() + Duration::from_millis(SCAN_WAIT_MS_MAX);
    loop {
        if let ScanState::Finished { checked, .. } = log.integrity().scan {
            assert_eq!(checked, 40);
            break;
        }
        assert!(Instant::now() < deadline, "the scan did not finish");
        // Real waiting for a background thread, bounded above.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(log.integrity().finding, None);
    log.append(one("order-1")).await.unwrap();
    log.close().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn temp_files_a_failed_run_left_are_removed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    log_of(dir.path(), 2).await;
    let left = [
        dir.path()
            .join("log")
            .join("snap.00000000000ABCDE.generating"),
        dir.path().join("views").join(".orders.snap.tmp"),
        dir.path().join(format!(".{ANCHOR_FILE}.tmp")),
    ];
    std::fs::create_dir_all(dir.path().join("views")).unwrap();
    for path in &left {
        std::fs::write(path, b"").unwrap();
    }
    let kept = dir.path().join("views").join("orders.snap");
    std::fs::write(&kept, b"x").unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    for path in &left {
        assert!(!path.exists(), "{} is still there", path.display());
    }
    assert!(kept.exists());
    assert_eq!(log.read_all(1, 10).unwrap().len(), 2);
    log.close().unwrap();
}

/// Measures what the checks cost on a log of `MARKETLOG_SCAN_EVENTS` events (default 1M) of
/// ~200-byte payloads: the open (with its anchor check) and the background scan. Run by hand:
/// `cargo test --release -p eventlog --test integrity -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement (about a minute), not a check"]
#[allow(clippy::disallowed_methods)] // measurement, not business time
async fn scan_cost_at_one_million_events() {
    const BATCH_EVENTS: u64 = 1_000;
    let events: u64 = std::env::var("MARKETLOG_SCAN_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    {
        let log = SledLog::open(dir.path()).unwrap();
        for b in 0..events / BATCH_EVENTS {
            let request = AppendRequest::single(
                format!("order-{b}"),
                Expected::Any,
                (0..BATCH_EVENTS)
                    .map(|_| NewEvent {
                        event_type: "OrderPlaced".into(),
                        schema_version: 1,
                        payload: vec![b'x'; 200],
                    })
                    .collect(),
                Metadata {
                    actor: "usr_0123456789".into(),
                    correlation_id: "req_0123456789".into(),
                    causation_id: "req_0123456789".into(),
                    recorded_at_micros: 1_000,
                },
            );
            log.append(request).await.unwrap();
        }
        log.close().unwrap();
    }
    let started = Instant::now();
    let log = SledLog::open(dir.path()).unwrap();
    let open = started.elapsed();
    let started = Instant::now();
    log.start_integrity_scan().unwrap();
    loop {
        if let ScanState::Finished { checked, millis } = log.integrity().scan {
            assert_eq!(checked, events);
            eprintln!(
                "{events} events: open {open:?}; scan {millis} ms ({:.0} events/s; wall {:?})",
                events as f64 / (millis.max(1) as f64 / 1e3),
                started.elapsed()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(log.integrity().finding, None);
    log.close().unwrap();
}
