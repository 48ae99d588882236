//! The policy runner: follows the log from a durable checkpoint and runs the decisions each
//! policy of `domain::policy::POLICIES` calls for, through the command runner, as actor
//! `system`, with the triggering event's correlation id, causation id `event:<position>` and
//! idempotency key `policy:<name>:<position>:<index>`.
//!
//! Exactly-once effects: a position is checkpointed only after every decision it called for
//! is durable (or refused), so a crash re-runs at most the positions after the checkpoint;
//! their decisions are idempotent (`domain::policy`) and, while the keys are kept, answered
//! from the log's idempotency record. A refusal (a client error: the decision judged that it
//! does not apply) is logged and skipped; any other error (a fenced log, a full disk, an
//! event that no longer decodes) holds the runner at that position and retries later, like
//! the deadline scheduler.
//!
//! The checkpoint is `data/views/policies.json`: each policy's position, written every
//! [`POLICY_CHECKPOINT_INTERVAL_MS`] while it moves and on shutdown (not once per event). A
//! policy not in it is new and starts at the log's head: it reacts to what happens from its
//! deployment on, not to the whole history. An unreadable checkpoint (damage) re-runs every
//! policy from the log's start, like a damaged projection checkpoint rebuilds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use domain::history::StoredEvent;
use domain::policy::Policy;
use domain::Actor;
use eventlog::{EventStore, LogError, Record};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::error::ApiError;
use crate::runner::{CommandMeta, Runner};
use crate::state::App;

/// Records taken from the log per step.
pub const POLICY_BATCH_RECORDS_MAX: usize = 1_024;
/// Shortest time between two checkpoints of a moving runner.
pub const POLICY_CHECKPOINT_INTERVAL_MS: u64 = 1_000;
/// How long a held runner (fenced log, storage failure) waits before it tries again.
pub const POLICY_RETRY_MS: u64 = 1_000;
/// The checkpoint's file name inside `data/views/`.
pub const POLICIES_CHECKPOINT_FILE: &str = "policies.json";

/// Where the policies stand, for handlers: `GET /v1/health` shows it and
/// `POST /v1/admin/clock/advance` waits for it.
#[derive(Default)]
pub struct PolicyStatus {
    /// Every policy has reacted to every event up to here.
    position: watch::Sender<u64>,
    running: AtomicBool,
}

impl PolicyStatus {
    /// The position every policy has reacted up to; `None` when no policy runner runs (the
    /// in-process test app, `marketlog admin recover`).
    pub fn position(&self) -> Option<u64> {
        self.running
            .load(Ordering::Acquire)
            .then(|| *self.position.borrow())
    }

    /// Waits until every policy has reacted up to `position`; true at once when no runner
    /// runs, false on timeout.
    pub async fn wait_for(&self, position: u64, timeout: Duration) -> bool {
        if !self.running.load(Ordering::Acquire) {
            return true;
        }
        let mut rx = self.position.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|p| *p >= position))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    fn set(&self, position: u64) {
        self.position.send_replace(position);
        self.running.store(true, Ordering::Release);
    }
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Checkpoint {
    /// Each policy's position, by name.
    policies: BTreeMap<String, u64>,
}

/// Runs the policies over the log.
pub struct PolicyRunner {
    runner: Runner,
    log: Arc<dyn EventStore>,
    policies: &'static [Policy],
    path: PathBuf,
    /// Each policy's position (it has reacted to everything up to it).
    positions: BTreeMap<&'static str, u64>,
    /// Every record up to here was looked at.
    reached: u64,
    checkpointed: u64,
    status: Arc<PolicyStatus>,
}

/// Why following the log stopped.
enum Stop {
    Shutdown,
    /// Held at a position: retry later.
    Held(String),
}

impl PolicyRunner {
    /// Resumes from the checkpoint under `data_dir/views` (a new policy starts at the head,
    /// which is checkpointed at once so that its start survives a crash).
    pub fn open(
        runner: Runner,
        log: Arc<dyn EventStore>,
        policies: &'static [Policy],
        data_dir: &Path,
        status: Arc<PolicyStatus>,
    ) -> Result<PolicyRunner, LogError> {
        let dir = data_dir.join(projections::runtime::VIEWS_DIR);
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(POLICIES_CHECKPOINT_FILE);
        let head = log.head();
        let stored: Checkpoint = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                // Like a damaged projection checkpoint: start over rather than refuse to
                // serve. From the log's start, not its head: the decisions are idempotent,
                // so re-running them costs time, while skipping would lose effects.
                tracing::warn!(checkpoint = %path.display(), error = %e, "the policy checkpoint is unreadable; every policy re-runs from the start of the log");
                Checkpoint {
                    policies: policies.iter().map(|p| (p.name.to_owned(), 0)).collect(),
                }
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Checkpoint::default(),
            Err(e) => return Err(e.into()),
        };
        let mut new = false;
        let positions: BTreeMap<&'static str, u64> = policies
            .iter()
            .map(|p| {
                let at = stored.policies.get(p.name).copied().unwrap_or_else(|| {
                    new = true;
                    head
                });
                (p.name, at.min(head))
            })
            .collect();
        let reached = positions.values().copied().min().unwrap_or(head);
        let mut runner = PolicyRunner {
            runner,
            log,
            policies,
            path,
            positions,
            reached,
            checkpointed: reached,
            status,
        };
        if new {
            runner.write_checkpoint()?;
        }
        runner.status.set(reached);
        Ok(runner)
    }

    /// Every policy has reacted up to here.
    pub fn position(&self) -> u64 {
        self.reached
    }

    /// Reacts to one record: runs every decision the policies call for. An error holds the
    /// runner at this record (nothing after it is looked at until it is retried).
    async fn process(&mut self, r: &Record) -> Result<(), ApiError> {
        if r.position <= self.reached {
            return Ok(());
        }
        for policy in self.policies {
            let at = self.positions.get(policy.name).copied().unwrap_or(0);
            if r.position <= at || !policy.reacts_to(&r.event_type) {
                continue;
            }
            metrics::counter!("marketlog_policy_events_total", "policy" => policy.name)
                .increment(1);
            let stored = StoredEvent {
                event_type: &r.event_type,
                schema_version: r.schema_version,
                payload: &r.payload,
            };
            let decisions = (policy.react)(&stored, &r.stream_id).map_err(|e| {
                ApiError::internal(
                    "a policy reading an event",
                    format!("{} at {}: {e}", policy.name, r.position),
                )
            })?;
            for (index, decision) in decisions.iter().enumerate() {
                let key = format!("policy:{}:{}:{index}", policy.name, r.position);
                let meta = CommandMeta {
                    actor: Actor::System,
                    correlation_id: r.correlation_id.clone(),
                    causation_id: format!("event:{}", r.position),
                    idempotency: Some(eventlog::Idempotency {
                        fingerprint: Sha256::digest(key.as_bytes()).into(),
                        key,
                    }),
                    if_match: None,
                    command: policy.name,
                };
                match self.runner.run(&meta, decision.as_ref()).await {
                    Ok(_) => {
                        metrics::counter!("marketlog_policy_decisions_total", "policy" => policy.name)
                            .increment(1);
                    }
                    Err(e) if e.status.is_client_error() => {
                        let rule = e.details.get("rule").and_then(|v| v.as_str()).unwrap_or("");
                        tracing::info!(policy = policy.name, position = r.position, code = e.code, rule, message = %e.message, "a policy decision does not apply");
                        metrics::counter!("marketlog_policy_refusals_total", "policy" => policy.name)
                            .increment(1);
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        self.reached = r.position;
        for at in self.positions.values_mut() {
            *at = (*at).max(r.position);
        }
        Ok(())
    }

    /// Reacts to every record up to the log's head now, then checkpoints (tests, tools).
    pub async fn run_to_head(&mut self) -> Result<u64, ApiError> {
        let head = self.log.head();
        while self.reached < head {
            let records = self
                .log
                .read_all(self.reached + 1, POLICY_BATCH_RECORDS_MAX)?;
            if records.is_empty() {
                break;
            }
            for r in records.iter().filter(|r| r.position <= head) {
                self.process(r).await?;
            }
            self.status.set(self.reached);
        }
        self.write_checkpoint()?;
        Ok(self.reached)
    }

    /// Writes the checkpoint if the runner moved since the last one (temp file, fsync,
    /// rename, directory fsync).
    pub fn write_checkpoint(&mut self) -> Result<(), LogError> {
        let checkpoint = Checkpoint {
            policies: self
                .positions
                .iter()
                .map(|(name, at)| ((*name).to_owned(), *at))
                .collect(),
        };
        let bytes = serde_json::to_vec(&checkpoint)
            .map_err(|e| LogError::Store(format!("encoding the policy checkpoint: {e}")))?;
        // Dot-named like every temp file under views/, which an open removes.
        let temp = self
            .path
            .with_file_name(format!(".{POLICIES_CHECKPOINT_FILE}.tmp"));
        {
            use std::io::Write;
            let mut file = std::fs::File::create(&temp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
        }
        std::fs::rename(&temp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        self.checkpointed = self.reached;
        Ok(())
    }

    fn checkpoint_if_moved(&mut self) {
        if self.checkpointed == self.reached {
            return;
        }
        if let Err(e) = self.write_checkpoint() {
            tracing::warn!(error = %e, "writing the policy checkpoint failed; a restart re-runs the policies from the previous one");
        }
    }

    /// Follows the log from the runner's position until shutdown or an error that holds it.
    async fn follow(&mut self, shutdown: &mut watch::Receiver<bool>) -> Stop {
        let mut sub = self.log.subscribe(self.reached + 1);
        let mut last_checkpoint = domain::clock::monotonic_now();
        loop {
            let batch = tokio::select! {
                b = sub.next_batch(POLICY_BATCH_RECORDS_MAX) => b,
                _ = shutdown.changed() => return Stop::Shutdown,
            };
            let batch = match batch {
                Ok(b) => b,
                Err(LogError::Closed) => return Stop::Shutdown,
                Err(e) => return Stop::Held(format!("reading the log: {e}")),
            };
            for r in batch.iter() {
                if let Err(e) = self.process(r).await {
                    self.status.set(self.reached);
                    return Stop::Held(format!("{}: {}", e.code, e.message));
                }
            }
            self.status.set(self.reached);
            let head = self.log.head();
            metrics::gauge!("marketlog_policy_lag").set(head.saturating_sub(self.reached) as f64);
            if last_checkpoint.elapsed() >= Duration::from_millis(POLICY_CHECKPOINT_INTERVAL_MS) {
                self.checkpoint_if_moved();
                last_checkpoint = domain::clock::monotonic_now();
            }
        }
    }
}

/// Starts the policy runner of `app` (`marketlog serve`; the in-process test app): it
/// follows the log until shutdown, holding and retrying at a position whose decisions could
/// not be made durable. The handle ends once the runner stopped and wrote its checkpoint.
pub fn spawn(app: App) -> Result<tokio::task::JoinHandle<()>, LogError> {
    let mut runner = PolicyRunner::open(
        app.runner.clone(),
        Arc::clone(&app.store),
        domain::policy::POLICIES,
        &app.data_dir,
        Arc::clone(&app.policies),
    )?;
    Ok(tokio::spawn(async move {
        let mut shutdown = app.shutdown.subscribe();
        let mut told = false;
        loop {
            match runner.follow(&mut shutdown).await {
                Stop::Shutdown => {
                    runner.checkpoint_if_moved();
                    return;
                }
                Stop::Held(reason) => {
                    runner.checkpoint_if_moved();
                    if !told {
                        tracing::warn!(position = runner.position() + 1, %reason, "policies are held until this position can be processed; retrying");
                    }
                    told = true;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(POLICY_RETRY_MS)) => {}
                _ = shutdown.changed() => {
                    runner.checkpoint_if_moved();
                    return;
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::FixedCalendar;
    use domain::codec::{CodecError, EventCodec};
    use domain::decision::{Decision, Outcome, Single, States};
    use domain::platform::{calendar_stream, Calendar, CalendarCommand, CalendarEvent};
    use domain::{Context, Decider, DomainError, SimulatedClock, Timestamp};
    use eventlog::{Direction, SledLog};

    /// Adds the next day of 2029 to its holidays: NOT idempotent (every run appends), so
    /// only the idempotency key keeps a re-run from appending twice.
    struct AddHoliday2029;

    impl Decision for AddHoliday2029 {
        fn primary(&self) -> String {
            calendar_stream(2029)
        }

        fn decide(&self, states: &States, ctx: &Context) -> Result<Outcome, DomainError> {
            let stream = calendar_stream(2029);
            let state = states.get::<Calendar>(&stream)?;
            let mut holidays = state
                .set
                .as_ref()
                .map_or(Vec::new(), |s| s.holidays.clone());
            let first = chrono::NaiveDate::from_ymd_opt(2029, 1, 1).expect("date");
            holidays.push(first + chrono::Days::new(holidays.len() as u64));
            let command = CalendarCommand::Set {
                year: 2029,
                holidays,
                workdays: Vec::new(),
            };
            let events = Calendar::decide(state, &command, ctx)?;
            Outcome::primary::<Calendar>(&stream, state, events)
        }
    }

    /// Each calendar of 2027 set with holidays adds a holiday to 2029; one set without
    /// holidays calls for a decision the domain refuses (a date outside its year).
    fn mirror(
        event: &StoredEvent<'_>,
        stream_id: &str,
    ) -> Result<Vec<Box<dyn Decision>>, CodecError> {
        if stream_id != calendar_stream(2027) {
            return Ok(Vec::new());
        }
        let CalendarEvent::CalendarSet(set) =
            CalendarEvent::decode_payload(event.event_type, event.schema_version, event.payload)?;
        if set.holidays.is_empty() {
            let outside = chrono::NaiveDate::from_ymd_opt(2030, 1, 1).expect("date");
            return Ok(vec![Box::new(Single::<Calendar>::new(
                calendar_stream(2029),
                CalendarCommand::Set {
                    year: 2029,
                    holidays: vec![outside],
                    workdays: Vec::new(),
                },
            ))]);
        }
        Ok(vec![Box::new(AddHoliday2029)])
    }

    static TEST_POLICIES: &[Policy] = &[Policy {
        name: "test_mirror",
        event_types: &["CalendarSet"],
        react: mirror,
    }];

    struct Fixture {
        dir: tempfile::TempDir,
        log: SledLog,
        runner: Runner,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().expect("tempdir");
            let log = SledLog::open(dir.path()).expect("open");
            let runner = Runner {
                log: Arc::new(log.clone()),
                clock: Arc::new(SimulatedClock::new(
                    Timestamp::parse_rfc3339("2026-11-23T09:00:00+08:00").expect("time"),
                )),
                tz: chrono_tz::Asia::Shanghai,
                states: Arc::default(),
                calendar: Arc::new(FixedCalendar(Arc::default())),
                locks: Arc::default(),
            };
            Fixture { dir, log, runner }
        }

        /// A policy runner as a server start makes it (from the checkpoint).
        fn policies(&self) -> PolicyRunner {
            PolicyRunner::open(
                self.runner.clone(),
                Arc::new(self.log.clone()),
                TEST_POLICIES,
                self.dir.path(),
                Arc::default(),
            )
            .expect("open policies")
        }

        async fn set_2027(&self, holidays: Vec<u64>, correlation_id: &str) {
            let first = chrono::NaiveDate::from_ymd_opt(2027, 1, 1).expect("date");
            let command = CalendarCommand::Set {
                year: 2027,
                holidays: holidays
                    .into_iter()
                    .map(|d| first + chrono::Days::new(d))
                    .collect(),
                workdays: Vec::new(),
            };
            let meta = CommandMeta {
                actor: Actor::System,
                correlation_id: correlation_id.into(),
                causation_id: "req_test".into(),
                idempotency: None,
                if_match: None,
                command: "SetCalendar",
            };
            self.runner
                .execute::<Calendar>(&meta, &calendar_stream(2027), &command)
                .await
                .expect("set 2027");
        }

        fn version_2029(&self) -> u64 {
            self.log
                .stream_version(&calendar_stream(2029))
                .expect("version")
        }

        fn checkpoint(&self) -> String {
            let path = self
                .dir
                .path()
                .join(projections::runtime::VIEWS_DIR)
                .join(POLICIES_CHECKPOINT_FILE);
            std::fs::read_to_string(path).expect("checkpoint")
        }

        fn reset_checkpoint(&self) {
            let path = self
                .dir
                .path()
                .join(projections::runtime::VIEWS_DIR)
                .join(POLICIES_CHECKPOINT_FILE);
            std::fs::write(path, r#"{"policies":{"test_mirror":0}}"#).expect("reset");
        }
    }

    #[tokio::test]
    async fn a_policy_reacts_once_and_a_restart_resumes_from_its_checkpoint() {
        let f = Fixture::new();
        // Started on an empty log: the policy is new at position 0 and sees everything.
        let mut policies = f.policies();
        f.set_2027(vec![1], "cor_paid").await;
        assert_eq!(policies.run_to_head().await.expect("run"), 1);
        assert_eq!(f.version_2029(), 1);
        let reaction = f
            .log
            .read_stream(&calendar_stream(2029), 1, Direction::Forward, 1)
            .expect("read");
        let r = &reaction[0];
        assert_eq!(
            (
                r.actor.as_str(),
                r.correlation_id.as_str(),
                r.causation_id.as_str()
            ),
            ("system", "cor_paid", "event:1")
        );
        // The reaction itself (position 2) came after the head the run aimed at.
        assert_eq!(f.checkpoint(), r#"{"policies":{"test_mirror":1}}"#);

        // A restart starts after the checkpoint: nothing is appended again.
        let mut restarted = f.policies();
        assert_eq!(restarted.position(), 1);
        assert_eq!(restarted.run_to_head().await.expect("run"), 2);
        assert_eq!(f.version_2029(), 1);
        // And it reacts to what comes next.
        f.set_2027(vec![1, 2], "cor_next").await;
        restarted.run_to_head().await.expect("run");
        assert_eq!(f.version_2029(), 2);
        f.log.close().expect("close");
    }

    /// A crash after a decision's append but before the checkpoint: the re-run is answered
    /// from the idempotency key, so even this non-idempotent decision appends nothing twice.
    #[tokio::test]
    async fn a_crash_between_append_and_checkpoint_appends_nothing_twice() {
        let f = Fixture::new();
        let mut policies = f.policies();
        f.set_2027(vec![1], "cor_1").await;
        f.set_2027(vec![1, 2], "cor_2").await;
        policies.run_to_head().await.expect("run");
        assert_eq!(f.version_2029(), 2);
        let head = f.log.head();

        f.reset_checkpoint();
        let mut rerun = f.policies();
        assert_eq!(rerun.position(), 0);
        assert_eq!(rerun.run_to_head().await.expect("rerun"), head);
        assert_eq!(f.version_2029(), 2);
        assert_eq!(f.log.head(), head);
        f.log.close().expect("close");
    }

    #[tokio::test]
    async fn a_refused_decision_is_skipped_and_the_runner_moves_on() {
        let f = Fixture::new();
        let mut policies = f.policies();
        f.set_2027(Vec::new(), "cor_refused").await;
        f.set_2027(vec![3], "cor_ok").await;
        let reached = policies.run_to_head().await.expect("run");
        assert_eq!(reached, 2);
        // The first reaction was refused (nothing appended), the second appended.
        assert_eq!(f.version_2029(), 1);
        f.log.close().expect("close");
    }

    #[tokio::test]
    async fn an_unreadable_checkpoint_re_runs_from_the_start_and_appends_nothing_twice() {
        let f = Fixture::new();
        let mut policies = f.policies();
        f.set_2027(vec![1], "cor_1").await;
        policies.run_to_head().await.expect("run");
        assert_eq!(f.version_2029(), 1);
        let path = f
            .dir
            .path()
            .join(projections::runtime::VIEWS_DIR)
            .join(POLICIES_CHECKPOINT_FILE);
        std::fs::write(path, b"{\"pol\x00").expect("damage");
        let mut rerun = f.policies();
        assert_eq!(rerun.position(), 0);
        rerun.run_to_head().await.expect("rerun");
        assert_eq!(f.version_2029(), 1);
        f.log.close().expect("close");
    }

    #[tokio::test]
    async fn a_new_policy_starts_at_the_head_and_remembers_that_start() {
        let f = Fixture::new();
        f.set_2027(vec![1], "cor_before").await;
        let mut policies = f.policies();
        assert_eq!(policies.position(), 1);
        assert_eq!(f.checkpoint(), r#"{"policies":{"test_mirror":1}}"#);
        policies.run_to_head().await.expect("run");
        assert_eq!(f.version_2029(), 0);
        f.log.close().expect("close");
    }
}
