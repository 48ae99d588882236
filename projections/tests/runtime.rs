//! The projection runtime: checkpoints resume, rebuilds equal the incremental model and swap
//! without a half-built read, poison events stop the projection.

use std::sync::Arc;
use std::time::Duration;

use eventlog::{AppendRequest, EventStore, Expected, Metadata, NewEvent, Record, SledLog};
use projections::runtime::{load_checkpoint, ApplyError, ReadModel, VIEWS_DIR};
use projections::{Projection, ProjectionControl, Status};

/// Counts events per stream; refuses payloads that say "poison".
#[derive(Debug)]
struct Counts;

impl ReadModel for Counts {
    const NAME: &'static str = "counts";
    const VERSION: u32 = 1;
    type State = std::collections::BTreeMap<String, u64>;

    fn apply(state: &mut Self::State, r: &Record) -> Result<(), ApplyError> {
        if r.payload == b"poison" {
            return Err(ApplyError("poison payload".into()));
        }
        *state.entry(r.stream_id.clone()).or_default() += 1;
        Ok(())
    }
}

async fn append(log: &SledLog, stream: &str, payload: &[u8]) -> u64 {
    let r = log
        .append(AppendRequest::single(
            stream,
            Expected::Any,
            vec![NewEvent {
                event_type: "E".into(),
                schema_version: 1,
                payload: payload.to_vec(),
            }],
            Metadata::default(),
        ))
        .await
        .unwrap();
    r.last_position
}

const WAIT: Duration = Duration::from_secs(5);

/// Reopens a data dir whose previous log was closed: the projection tasks of the previous
/// open still hold the (closed) log until they notice the end, so its lock may linger for a
/// moment in this process.
async fn reopen(dir: &std::path::Path) -> SledLog {
    let deadline = domain::clock::monotonic_now() + WAIT;
    loop {
        match SledLog::open(dir) {
            Err(eventlog::LogError::InUse(_)) if domain::clock::monotonic_now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            other => return other.unwrap(),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_projection_follows_the_log_and_resumes_from_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = SledLog::open(dir.path()).unwrap();
        let store: Arc<dyn EventStore> = Arc::new(log.clone());
        let p = Projection::<Counts>::start(store, dir.path()).unwrap();
        let mut last = 0;
        for i in 0..30 {
            last = append(&log, &format!("s-{}", i % 3), b"x").await;
        }
        assert!(p.wait_for(last, WAIT).await);
        assert_eq!(p.snapshot().state.values().sum::<u64>(), 30);
        p.checkpoint().unwrap();
        log.close().unwrap();
    }
    // Reopened: the checkpoint is loaded (position 30) before anything is replayed.
    let log = reopen(dir.path()).await;
    let store: Arc<dyn EventStore> = Arc::new(log.clone());
    let cp = load_checkpoint::<Counts>(&dir.path().join(VIEWS_DIR), store.as_ref()).unwrap();
    assert_eq!(cp.position, 30);
    let p = Projection::<Counts>::start(Arc::clone(&store), dir.path()).unwrap();
    assert_eq!(
        p.position(),
        30,
        "resumed from the checkpoint, not from zero"
    );
    let last = append(&log, "s-9", b"x").await;
    assert!(p.wait_for(last, WAIT).await);
    assert_eq!(p.snapshot().state.get("s-9"), Some(&1));
    assert_eq!(p.snapshot().state.values().sum::<u64>(), 31);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_checkpoint_of_another_log_is_ignored() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for (dir, payload) in [(&a, b"a"), (&b, b"b")] {
        let log = SledLog::open(dir.path()).unwrap();
        let store: Arc<dyn EventStore> = Arc::new(log.clone());
        let p = Projection::<Counts>::start(store, dir.path()).unwrap();
        let last = append(&log, "s-1", payload).await;
        assert!(p.wait_for(last, WAIT).await);
        p.checkpoint().unwrap();
        log.close().unwrap();
    }
    std::fs::copy(
        a.path().join(VIEWS_DIR).join("counts.snap"),
        b.path().join(VIEWS_DIR).join("counts.snap"),
    )
    .unwrap();
    let log = reopen(b.path()).await;
    let store: Arc<dyn EventStore> = Arc::new(log.clone());
    assert!(load_checkpoint::<Counts>(&b.path().join(VIEWS_DIR), store.as_ref()).is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebuild_equals_the_incremental_model_and_swaps_in() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    let store: Arc<dyn EventStore> = Arc::new(log.clone());
    let p = Projection::<Counts>::start(Arc::clone(&store), dir.path()).unwrap();
    for i in 0..3_000 {
        append(&log, &format!("s-{}", i % 17), b"x").await;
    }
    let before = {
        assert!(p.wait_for(log.head(), WAIT).await);
        p.snapshot()
    };
    assert!(p.start_rebuild());
    assert!(!p.start_rebuild(), "one rebuild at a time");
    // Writes continue during the rebuild.
    for i in 0..200 {
        append(&log, &format!("s-{}", i % 5), b"x").await;
    }
    let deadline = domain::clock::monotonic_now() + Duration::from_secs(20);
    while p.info(log.head()).status != Status::Running {
        assert!(
            domain::clock::monotonic_now() < deadline,
            "rebuild did not finish"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(p.wait_for(log.head(), WAIT).await);
    let built = projections::build::<Counts>(store.as_ref(), log.head(), &mut |_, _| {}).unwrap();
    assert_eq!(p.snapshot(), built);
    assert_eq!(
        built.state.values().sum::<u64>(),
        before.state.values().sum::<u64>() + 200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poison_event_stops_the_projection_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    let store: Arc<dyn EventStore> = Arc::new(log.clone());
    let p = Projection::<Counts>::start(Arc::clone(&store), dir.path()).unwrap();
    append(&log, "s-1", b"x").await;
    let bad = append(&log, "s-1", b"poison").await;
    let after = append(&log, "s-1", b"x").await;
    assert!(!p.wait_for(after, Duration::from_millis(300)).await);
    match p.info(log.head()).status {
        Status::Failed { position, error } => {
            assert_eq!(position, bad);
            assert!(error.contains("poison"));
        }
        other => panic!("expected failed, got {other:?}"),
    }
    assert_eq!(
        p.position(),
        bad - 1,
        "nothing after the poison event was applied"
    );
    assert!(
        !p.start_rebuild(),
        "a failed projection is not rebuilt over the poison"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_that_fails_while_it_rebuilds_stays_failed() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    let store: Arc<dyn EventStore> = Arc::new(log.clone());
    let p = Projection::<Counts>::start(Arc::clone(&store), dir.path()).unwrap();
    for i in 0..3_000 {
        append(&log, &format!("s-{}", i % 17), b"x").await;
    }
    assert!(p.wait_for(log.head(), WAIT).await);
    assert!(p.start_rebuild());
    let bad = append(&log, "s-1", b"poison").await;
    append(&log, "s-1", b"x").await;
    // The rebuild finishes (or gives up) within this bound on any machine; before it was
    // fixed, its swap set the status back to `running` over the poison and its progress
    // overwrote `failed`.
    let deadline = domain::clock::monotonic_now() + Duration::from_secs(2);
    let mut failed_seen = false;
    while domain::clock::monotonic_now() < deadline {
        match p.info(log.head()).status {
            Status::Failed { position, .. } => {
                assert_eq!(position, bad);
                failed_seen = true;
            }
            other => assert!(!failed_seen, "failed, then {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(failed_seen, "the poison event stopped the model");
    assert_eq!(p.position(), bad - 1);
}

#[test]
fn a_checkpoint_is_due_when_the_events_since_reach_a_tenth_of_the_log_or_a_minute_passed() {
    use projections::runtime::checkpoint_due;
    let s = Duration::from_secs;
    // (seconds since the last checkpoint, events since, position, due?)
    let table = [
        (1, 1_000_000, 1_000_000, false), // never more often than every 5 s
        (5, 0, 1_000_000, false),         // nothing moved
        (5, 19_999, 19_999, false),       // below the floor of 20k events
        (5, 20_000, 20_000, true),        // the floor
        (5, 20_000, 1_000_000, false),    // a tenth of a 1M log is 100k
        (5, 100_000, 1_000_000, true),
        (59, 1, 1_000_000, false),
        (60, 1, 1_000_000, true), // at least once a minute while moving
    ];
    for (secs, since, position, due) in table {
        assert_eq!(
            checkpoint_due(s(secs), since, position),
            due,
            "{secs} s, {since} events since, position {position}"
        );
    }
}
