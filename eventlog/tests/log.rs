//! Behaviour of the sled log through its public interface.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use eventlog::verify::verify_log;
use eventlog::{
    AppendError, AppendRequest, Direction, EventStore, Expected, Idempotency, LogError, Metadata,
    NewEvent, OfflineCopy, SledLog, StreamAppend,
};

fn ev(t: &str, payload: &[u8]) -> NewEvent {
    NewEvent {
        event_type: t.into(),
        schema_version: 1,
        payload: payload.to_vec(),
    }
}

fn meta(at: i64) -> Metadata {
    Metadata {
        actor: "system".into(),
        correlation_id: "cor_1".into(),
        causation_id: "cau_1".into(),
        recorded_at_micros: at,
    }
}

fn single(stream: &str, expected: Expected, n: usize) -> AppendRequest {
    AppendRequest::single(
        stream,
        expected,
        (0..n).map(|i| ev("Happened", &[i as u8])).collect(),
        meta(1_000),
    )
}

/// Verifies `log` (opened from `dir`, against its head anchor) and asserts it has no problem.
fn verify_clean(log: &SledLog, dir: &Path) -> eventlog::verify::VerifyReport {
    let report = verify_log(log, eventlog::read_anchor(dir).unwrap(), &mut |_, _| {}).unwrap();
    assert_eq!(report.problem, None);
    report
}

#[tokio::test(flavor = "multi_thread")]
async fn positions_are_gap_free_and_versions_count_per_stream() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    let a = log
        .append(single("order-a", Expected::NoStream, 2))
        .await
        .unwrap();
    let b = log
        .append(single("order-b", Expected::Any, 1))
        .await
        .unwrap();
    let c = log
        .append(single("order-a", Expected::Exact(2), 1))
        .await
        .unwrap();
    assert_eq!((a.first_position, a.last_position), (1, 2));
    assert_eq!((b.first_position, b.last_position), (3, 3));
    assert_eq!((c.first_position, c.version_of("order-a")), (4, Some(3)));
    assert_eq!(log.head(), 4);
    assert_eq!(log.stream_version("order-a").unwrap(), 3);
    assert_eq!(log.stream_version("order-zzz").unwrap(), 0);
    let all = log.read_all(1, 100).unwrap();
    assert_eq!(
        all.iter().map(|r| r.position).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    let fwd = log
        .read_stream("order-a", 1, Direction::Forward, 10)
        .unwrap();
    assert_eq!(
        fwd.iter()
            .map(|r| (r.version, r.position))
            .collect::<Vec<_>>(),
        vec![(1, 1), (2, 2), (3, 4)]
    );
    let back = log
        .read_stream("order-a", u64::MAX, Direction::Backward, 2)
        .unwrap();
    assert_eq!(
        back.iter().map(|r| r.version).collect::<Vec<_>>(),
        vec![3, 2]
    );
    let from2 = log
        .read_stream("order-a", 2, Direction::Forward, 1)
        .unwrap();
    assert_eq!(from2[0].version, 2);
    assert!(log.read_stream("Bad Id", 1, Direction::Forward, 1).is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_expectation_reports_the_current_version_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    log.append(single("order-a", Expected::NoStream, 1))
        .await
        .unwrap();
    for expected in [Expected::NoStream, Expected::Exact(0), Expected::Exact(5)] {
        match log.append(single("order-a", expected, 1)).await {
            Err(AppendError::Conflict {
                current, stream_id, ..
            }) => {
                assert_eq!((current, stream_id.as_str()), (1, "order-a"))
            }
            other => panic!("expected conflict, got {other:?}"),
        }
    }
    assert_eq!(log.head(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn multi_stream_appends_commit_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    log.append(single("campaign-c", Expected::NoStream, 1))
        .await
        .unwrap();
    let two = |campaign_expected| AppendRequest {
        streams: vec![
            StreamAppend {
                stream_id: "order-o".into(),
                expected: Expected::NoStream,
                events: vec![ev("OrderPlaced", b"o")],
            },
            StreamAppend {
                stream_id: "campaign-c".into(),
                expected: campaign_expected,
                events: vec![ev("CouponRedeemed", b"c")],
            },
        ],
        meta: meta(5),
        idempotency: None,
    };
    assert!(matches!(
        log.append(two(Expected::Exact(7))).await,
        Err(AppendError::Conflict { .. })
    ));
    assert_eq!(log.head(), 1);
    assert_eq!(log.stream_version("order-o").unwrap(), 0);
    let ok = log.append(two(Expected::Exact(1))).await.unwrap();
    assert_eq!((ok.first_position, ok.last_position), (2, 3));
    assert_eq!(ok.version_of("campaign-c"), Some(2));
    // A stream with no events is a pure expectation check.
    let check_only = AppendRequest {
        streams: vec![
            StreamAppend {
                stream_id: "campaign-c".into(),
                expected: Expected::Exact(2),
                events: vec![],
            },
            StreamAppend {
                stream_id: "order-p".into(),
                expected: Expected::NoStream,
                events: vec![ev("X", b"")],
            },
        ],
        meta: meta(6),
        idempotency: None,
    };
    let r = log.append(check_only).await.unwrap();
    assert_eq!(r.version_of("campaign-c"), Some(2));
    assert_eq!(log.head(), 4);
}

/// A batch grant: the stock stream and 500 wallets (the longest stream ids) in one append.
/// One wrong expectation writes nothing; the right ones write all 501 events, and a retry
/// with the same key is answered from its idempotency entry (which names all 501 streams).
#[tokio::test(flavor = "multi_thread")]
async fn an_append_over_501_streams_commits_all_or_nothing_and_deduplicates() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    log.append(single("stock-c", Expected::NoStream, 1))
        .await
        .unwrap();
    let wallet = |i: usize| format!("wallet-{i:0>121}");
    assert_eq!(wallet(0).len(), 128);
    let grant = |stock_expected| AppendRequest {
        streams: std::iter::once(StreamAppend {
            stream_id: "stock-c".into(),
            expected: stock_expected,
            events: vec![ev("CouponsGranted", b"500")],
        })
        .chain((0..500).map(|i| StreamAppend {
            stream_id: wallet(i),
            expected: Expected::NoStream,
            events: vec![ev("CouponGranted", b"w")],
        }))
        .collect(),
        meta: meta(5),
        idempotency: Some(Idempotency {
            key: "grant-1".into(),
            fingerprint: [3; 32],
        }),
    };
    assert!(matches!(
        log.append(grant(Expected::Exact(2))).await,
        Err(AppendError::Conflict { .. })
    ));
    assert_eq!(log.head(), 1);
    assert_eq!(log.stream_version(&wallet(0)).unwrap(), 0);
    assert_eq!(log.stream_version(&wallet(499)).unwrap(), 0);

    let ok = log.append(grant(Expected::Exact(1))).await.unwrap();
    assert_eq!((ok.first_position, ok.last_position), (2, 502));
    assert_eq!(ok.streams.len(), 501);
    assert_eq!(ok.version_of("stock-c"), Some(2));
    assert_eq!(log.stream_version(&wallet(499)).unwrap(), 1);

    let again = log.append(grant(Expected::Exact(1))).await.unwrap();
    assert!(again.deduplicated);
    assert_eq!(again.streams.len(), 501);
    assert_eq!(log.head(), 502);
    let (_, stored) = log.idempotency_result("grant-1").unwrap().unwrap();
    assert_eq!(stored.last_position, 502);
    verify_clean(&log, dir.path());
}

/// A stream only guarded (no events of its own, as an order placement guards its product) is
/// checked against its true version every time, also after it was written in between: the
/// writer remembers versions it read, and writing must move what it remembers.
#[tokio::test(flavor = "multi_thread")]
async fn a_guarded_stream_is_checked_against_its_latest_version_after_writes() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    log.append(single("product-p", Expected::NoStream, 1))
        .await
        .unwrap();
    let mut n = 0;
    let mut guarded = |expected| {
        n += 1;
        AppendRequest {
            streams: vec![
                StreamAppend {
                    stream_id: format!("order-{n}"),
                    expected: Expected::NoStream,
                    events: vec![ev("OrderPlaced", b"o")],
                },
                StreamAppend {
                    stream_id: "product-p".into(),
                    expected,
                    events: vec![],
                },
            ],
            meta: meta(5),
            idempotency: None,
        }
    };
    for version in 1..=3 {
        // Guarded twice at the current version (the second check is the remembered one) …
        for _ in 0..2 {
            log.append(guarded(Expected::Exact(version))).await.unwrap();
        }
        // … refused at the previous one …
        let head = log.head();
        match log.append(guarded(Expected::Exact(version - 1))).await {
            Err(AppendError::Conflict {
                current, stream_id, ..
            }) => assert_eq!((current, stream_id.as_str()), (version, "product-p")),
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert_eq!(log.head(), head);
        // … then the product moves on.
        log.append(single("product-p", Expected::Exact(version), 1))
            .await
            .unwrap();
    }
    assert_eq!(log.stream_version("product-p").unwrap(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idempotency_key_returns_the_first_result_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    let with_key = |fp: u8| {
        let mut r = single("order-a", Expected::Any, 2);
        r.idempotency = Some(Idempotency {
            key: "k1".into(),
            fingerprint: [fp; 32],
        });
        r
    };
    let first = log.append(with_key(1)).await.unwrap();
    let again = log.append(with_key(1)).await.unwrap();
    assert!(!first.deduplicated && again.deduplicated);
    assert_eq!(
        (again.first_position, again.last_position),
        (first.first_position, first.last_position)
    );
    assert_eq!(log.head(), 2);
    assert!(matches!(
        log.append(with_key(2)).await,
        Err(AppendError::IdempotencyKeyReused)
    ));
    // Concurrent duplicates inside one group are deduplicated too.
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut r = single("order-b", Expected::Any, 1);
            r.idempotency = Some(Idempotency {
                key: "k2".into(),
                fingerprint: [9; 32],
            });
            log.append(r).await.unwrap()
        }));
    }
    let mut written = 0;
    for t in tasks {
        if !t.await.unwrap().deduplicated {
            written += 1;
        }
    }
    assert_eq!(written, 1);
    assert_eq!(log.head(), 3);
    // Pruning by age forgets the key.
    assert_eq!(log.prune_idempotency_keys(1_001).unwrap(), 2);
    assert!(!log.append(with_key(2)).await.unwrap().deduplicated);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_appends_are_refused_before_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    let too_big = AppendRequest::single(
        "order-a",
        Expected::Any,
        vec![ev("X", &vec![0; 64 * 1024 + 1])],
        meta(1),
    );
    let too_many = single("order-a", Expected::Any, 1_001);
    let bad_stream = single("Order A", Expected::Any, 1);
    let empty = single("order-a", Expected::Any, 0);
    for r in [too_big, too_many, bad_stream, empty] {
        assert!(matches!(log.append(r).await, Err(AppendError::Invalid(_))));
    }
    assert_eq!(log.head(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn recorded_at_never_goes_backwards() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    let mut r = single("order-a", Expected::Any, 1);
    r.meta.recorded_at_micros = 5_000;
    log.append(r).await.unwrap();
    let mut r = single("order-a", Expected::Any, 1);
    r.meta.recorded_at_micros = 4_000;
    let res = log.append(r).await.unwrap();
    assert_eq!(res.recorded_at_micros, 5_000);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reopened_log_has_everything_and_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = SledLog::open(dir.path()).unwrap();
        for i in 0..50 {
            log.append(single(&format!("order-{}", i % 7), Expected::Any, 2))
                .await
                .unwrap();
        }
        log.close().unwrap();
    }
    let log = SledLog::open(dir.path()).unwrap();
    assert_eq!(log.head(), 100);
    log.append(single("order-0", Expected::Any, 1))
        .await
        .unwrap();
    let report = verify_clean(&log, dir.path());
    assert_eq!(report.records_checked, 101);
    assert_eq!(report.streams, 7);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_data_dir_can_be_opened_by_one_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    assert!(matches!(SledLog::open(dir.path()), Err(LogError::InUse(_))));
    assert!(matches!(
        OfflineCopy::take(dir.path()),
        Err(LogError::InUse(_))
    ));
    drop(log);
    let reopened = SledLog::open(dir.path());
    assert!(reopened.is_ok(), "{reopened:?}");
}

fn digest_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                let rel = e.path().strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, std::fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn offline_tools_work_on_a_copy_and_change_no_byte() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = SledLog::open(dir.path()).unwrap();
        for i in 0..20 {
            log.append(single(&format!("order-{i}"), Expected::NoStream, 3))
                .await
                .unwrap();
        }
        log.close().unwrap();
    }
    let before = digest_tree(dir.path());
    {
        let copy = OfflineCopy::take(dir.path()).unwrap();
        let log = SledLog::open(copy.path()).unwrap();
        let report = verify_log(
            &log,
            eventlog::read_anchor(copy.path()).unwrap(),
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!((report.records_checked, report.problem), (60, None));
        log.close().unwrap();
    }
    assert_eq!(digest_tree(dir.path()), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribers_get_catch_up_then_live_without_gap_or_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    for i in 0..300 {
        log.append(single(&format!("order-{}", i % 5), Expected::Any, 1))
            .await
            .unwrap();
    }
    // Several subscribers start at different points while 8 writers keep appending.
    let mut subs = Vec::new();
    for from in [1u64, 150, 301] {
        let mut sub = log.subscribe(from);
        subs.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while seen.len() < (1_101 - from as usize) {
                let batch = sub.next_batch(97).await.unwrap();
                seen.extend(batch.iter().map(|r| r.position));
            }
            (from, seen)
        }));
    }
    let mut writers = Vec::new();
    for w in 0..8 {
        let log = log.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..100 {
                log.append(single(&format!("order-w{w}-{}", i % 3), Expected::Any, 1))
                    .await
                    .unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    assert_eq!(log.head(), 1_100);
    for s in subs {
        let (from, seen) = s.await.unwrap();
        let expected: Vec<u64> = (from..=1_100).collect();
        assert_eq!(seen, expected, "subscriber from {from}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_subscriber_falls_back_to_the_log_and_does_not_block_writers() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    let mut sub = log.subscribe(1);
    // Many more groups than the live buffer holds, while nobody reads.
    for i in 0..(eventlog_live_groups() * 3) {
        log.append(single(&format!("order-{i}"), Expected::Any, 1))
            .await
            .unwrap();
    }
    let head = log.head();
    let mut next = 1;
    while next <= head {
        let r = sub.next().await.unwrap();
        assert_eq!(r.position, next);
        next += 1;
    }
    log.append(single("order-last", Expected::Any, 1))
        .await
        .unwrap();
    assert_eq!(sub.next().await.unwrap().position, head + 1);
}

fn eventlog_live_groups() -> usize {
    64
}

#[tokio::test(flavor = "multi_thread")]
async fn subscriptions_end_when_the_log_closes() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    log.append(single("order-a", Expected::Any, 1))
        .await
        .unwrap();
    let mut sub = log.subscribe(1);
    assert_eq!(sub.next().await.unwrap().position, 1);
    let closer = log.clone();
    tokio::task::spawn_blocking(move || closer.close().unwrap())
        .await
        .unwrap();
    assert!(matches!(sub.next().await, Err(LogError::Closed)));
    assert!(matches!(
        log.append(single("order-a", Expected::Any, 1)).await,
        Err(AppendError::Log(LogError::Closed))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_appends_to_one_stream_with_exact_expectations_never_lose_an_update() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(SledLog::open(dir.path()).unwrap());
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut wins = 0;
            for _ in 0..10 {
                loop {
                    let v = log.stream_version("order-hot").unwrap();
                    match log.append(single("order-hot", Expected::Exact(v), 1)).await {
                        Ok(_) => {
                            wins += 1;
                            break;
                        }
                        Err(AppendError::Conflict { .. }) => continue,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            wins
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, 320);
    assert_eq!(log.stream_version("order-hot").unwrap(), 320);
}

/// Groups are stored in chunks (many small records, or one record near the payload limit
/// alone): every read — from any position, of any stream, either direction, after a reopen —
/// sees exactly what was appended, and a page big enough for sled's blob files stays readable.
#[tokio::test(flavor = "multi_thread")]
async fn records_read_back_across_chunk_boundaries_and_large_payloads() {
    let dir = tempfile::tempdir().unwrap();
    let big = vec![7u8; eventlog::PAYLOAD_BYTES_MAX];
    let mut expected: Vec<(String, Vec<u8>)> = Vec::new();
    {
        let log = SledLog::open(dir.path()).unwrap();
        // One append of 300 events over 3 streams: many chunks in one group.
        let streams: Vec<StreamAppend> = (0..3)
            .map(|s| StreamAppend {
                stream_id: format!("order-c{s}"),
                expected: Expected::NoStream,
                events: (0..100)
                    .map(|i| ev("Happened", &[s as u8, i as u8, 0, 0]))
                    .collect(),
            })
            .collect();
        for s in &streams {
            for e in &s.events {
                expected.push((s.stream_id.clone(), e.payload.clone()));
            }
        }
        log.append(AppendRequest {
            streams,
            meta: meta(1_000),
            idempotency: None,
        })
        .await
        .unwrap();
        // Large records, several per leaf of sled's tree, interleaved with small ones.
        for i in 0..24u8 {
            let payload = if i % 3 == 0 { big.clone() } else { vec![i; 5] };
            expected.push(("order-big".into(), payload.clone()));
            log.append(AppendRequest::single(
                "order-big",
                Expected::Any,
                vec![ev("Happened", &payload)],
                meta(2_000),
            ))
            .await
            .unwrap();
        }
        log.close().unwrap();
    }
    let log = SledLog::open(dir.path()).unwrap();
    let n = expected.len() as u64;
    assert_eq!(log.head(), n);
    for from in 1..=n {
        let got = log.read_all(from, 3).unwrap();
        let want: Vec<u64> = (from..=n.min(from + 2)).collect();
        assert_eq!(
            got.iter().map(|r| r.position).collect::<Vec<_>>(),
            want,
            "read_all from {from}"
        );
        for r in &got {
            let (stream, payload) = &expected[(r.position - 1) as usize];
            assert_eq!((&r.stream_id, &r.payload), (stream, payload));
        }
    }
    for stream in ["order-c0", "order-c1", "order-c2", "order-big"] {
        let want: Vec<&Vec<u8>> = expected
            .iter()
            .filter(|(s, _)| s == stream)
            .map(|(_, p)| p)
            .collect();
        let fwd = log
            .read_stream(stream, 1, Direction::Forward, usize::MAX)
            .unwrap();
        assert_eq!(fwd.iter().map(|r| &r.payload).collect::<Vec<_>>(), want);
        let back = log
            .read_stream(stream, u64::MAX, Direction::Backward, 5)
            .unwrap();
        assert_eq!(
            back.iter().map(|r| r.version).collect::<Vec<_>>(),
            (0..5).map(|i| want.len() as u64 - i).collect::<Vec<_>>()
        );
        assert_eq!(log.stream_version(stream).unwrap(), want.len() as u64);
    }
    let report = verify_clean(&log, dir.path());
    assert_eq!(report.records_checked, n);
}

/// Waits (bounded) for the background fill of the stream filter after an open.
fn wait_for_stream_filter(log: &SledLog) {
    for _ in 0..10_000 {
        if log.stream_filter_complete() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    panic!("the stream filter was not filled within 10 s");
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_written_before_a_reopen_are_known_to_the_filled_stream_filter() {
    let dir = tempfile::tempdir().unwrap();
    let old_streams: Vec<String> = (0..40).map(|i| format!("order-{i}")).collect();
    {
        let log = SledLog::open(dir.path()).unwrap();
        for s in &old_streams {
            log.append(single(s, Expected::NoStream, 2)).await.unwrap();
        }
        log.close().unwrap();
    }
    let log = SledLog::open(dir.path()).unwrap();
    // Reads alone never start the scan of the streams already in the log (the tools only
    // read); the first append does.
    assert_eq!(log.stream_version(&old_streams[0]).unwrap(), 2);
    assert!(!log.stream_filter_started());
    log.append(single("order-new", Expected::NoStream, 1))
        .await
        .unwrap();
    wait_for_stream_filter(&log);
    for s in &old_streams {
        match log.append(single(s, Expected::NoStream, 1)).await {
            Err(AppendError::Conflict { current: 2, .. }) => {}
            other => panic!("{s} exists with 2 events, got {other:?}"),
        }
        assert_eq!(log.stream_version(s).unwrap(), 2, "{s}");
        let read = log.read_stream(s, 1, Direction::Forward, 10).unwrap();
        assert_eq!(read.len(), 2, "{s}");
    }
    // New streams, including ids that extend old ones, start empty and are then found.
    for s in ["order-400", "order-4-a", "order-"] {
        assert_eq!(log.stream_version(s).unwrap(), 0, "{s}");
        assert!(log
            .read_stream(s, 1, Direction::Forward, 10)
            .unwrap()
            .is_empty());
        log.append(single(s, Expected::NoStream, 1)).await.unwrap();
        assert_eq!(log.stream_version(s).unwrap(), 1, "{s}");
        assert_eq!(
            log.read_stream(s, 1, Direction::Forward, 10).unwrap().len(),
            1
        );
        assert!(matches!(
            log.append(single(s, Expected::NoStream, 1)).await,
            Err(AppendError::Conflict { current: 1, .. })
        ));
    }
    assert_eq!(log.head(), 84);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscriber_that_joins_while_a_group_is_in_flight_still_gets_it_without_a_later_append() {
    // A regression test: a writer that skipped building a group's live records because nobody
    // listened when it staged them left a subscriber that joined before the head moved waiting
    // for the next append, which never came (seen as a startup timeout in the bench).
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    for i in 0..200u64 {
        let from = log.head() + 1;
        let writer = log.clone();
        let append = tokio::spawn(async move {
            writer
                .append(single(&format!("order-{i}"), Expected::NoStream, 1))
                .await
                .unwrap()
        });
        let mut sub = log.subscribe(from);
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), sub.next())
            .await
            .unwrap_or_else(|_| {
                panic!("round {i}: the in-flight append never reached the subscriber")
            })
            .unwrap();
        assert_eq!(got.position, from);
        append.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_log_knows_the_durable_version_of_streams_it_wrote_without_a_read() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = SledLog::open(dir.path()).unwrap();
        log.append(single("order-a", Expected::NoStream, 2))
            .await
            .unwrap();
        for stream in ["order-x", "order-y"] {
            log.append(single(stream, Expected::NoStream, 3))
                .await
                .unwrap();
        }
        log.close().unwrap();
    }
    let log = SledLog::open(dir.path()).unwrap();
    // Written before this open: not in memory, so a caller must read.
    assert_eq!(log.known_version("order-a"), None);
    assert_eq!(log.stream_version("order-a").unwrap(), 2);
    // A forward read that reaches the end of a stream learns its version ...
    assert_eq!(
        log.read_stream("order-a", 1, Direction::Forward, 10)
            .unwrap()
            .len(),
        2
    );
    assert_eq!(log.known_version("order-a"), Some(2));
    // ... also when it finds nothing after the version its caller holds ...
    assert!(log
        .read_stream("order-x", 4, Direction::Forward, 10)
        .unwrap()
        .is_empty());
    assert_eq!(log.known_version("order-x"), Some(3));
    // ... but a read that stops at its limit, or starts past the end, learns nothing.
    assert_eq!(
        log.read_stream("order-y", 1, Direction::Forward, 2)
            .unwrap()
            .len(),
        2
    );
    assert_eq!(log.known_version("order-y"), None);
    assert!(log
        .read_stream("order-y", 9, Direction::Forward, 10)
        .unwrap()
        .is_empty());
    assert_eq!(log.known_version("order-y"), None);
    log.append(single("order-a", Expected::Exact(2), 1))
        .await
        .unwrap();
    log.append(single("order-b", Expected::NoStream, 3))
        .await
        .unwrap();
    // Answered appends are known at once, at the version a read gives.
    assert_eq!(log.known_version("order-a"), Some(3));
    assert_eq!(log.known_version("order-b"), Some(3));
    assert_eq!(log.stream_version("order-b").unwrap(), 3);
    // A failed expectation changes nothing.
    assert!(log
        .append(single("order-b", Expected::Exact(1), 1))
        .await
        .is_err());
    assert_eq!(log.known_version("order-b"), Some(3));
    assert_eq!(log.known_version("order-c"), None);
}
