//! The deadline scheduler (SPEC.md §9): fires every due deadline of the timer projection as the
//! command its rule names in `domain::registry`, through the runner, as actor `system`, with the deadline id as
//! correlation and causation and `deadline:<id>` as idempotency key — so even a retry after a
//! crash appends nothing twice. Deadlines that fell due while the server was down fire at
//! start-up. With the real clock a background task checks every second; with the simulated
//! clock deadlines fire when `POST /v1/admin/clock/advance` passes them.

use std::collections::HashSet;
use std::time::Duration;

use domain::deadline::Deadline;
use domain::{Actor, Timestamp};
use projections::ProjectionControl;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::extract::MinPosition;
use crate::runner::CommandMeta;
use crate::state::App;

/// Deadlines fired per pass before the timer projection is re-read.
pub const FIRE_BATCH_MAX: usize = 1_000;
/// How often the real-clock scheduler looks for due deadlines.
pub const SCHEDULER_TICK_MS: u64 = 1_000;
/// Idempotency keys are kept at least this long (API.md §1: ≥ 24 h), then pruned.
pub const IDEMPOTENCY_RETENTION_HOURS: u32 = 48;
/// Scheduler ticks between two idempotency-key prunings (one hour).
pub const PRUNE_EVERY_TICKS: u64 = 3_600;

/// Forgets idempotency keys older than the retention, measured on the injected clock, so the
/// key store stays bounded. Returns how many were removed.
pub async fn prune_idempotency_keys(app: &App) -> u64 {
    let before =
        app.clock.now().as_micros() - i64::from(IDEMPOTENCY_RETENTION_HOURS) * 3_600 * 1_000_000;
    let log = app.log.clone();
    match tokio::task::spawn_blocking(move || log.prune_idempotency_keys(before)).await {
        Ok(Ok(n)) => {
            metrics::counter!("marketlog_idempotency_keys_pruned_total").increment(n);
            n
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "pruning idempotency keys failed");
            0
        }
        Err(_) => 0,
    }
}

/// The error a deadline pass answers on a fenced log: no command can append, so firing would
/// only fail once per deadline.
pub fn fenced(status: &eventlog::IntegrityStatus) -> Option<ApiError> {
    let f = status.finding.as_ref()?;
    Some(ApiError::store_fenced(f.position, &f.reason))
}

/// What the background scheduler does with one tick, given the log's integrity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    Run,
    /// The log is fenced: skip; `warn` on the first skipped tick only, so a fenced server
    /// does not log a failed append per deadline per second.
    Hold {
        warn: bool,
    },
}

/// Remembers whether the operator was already told that deadlines are held.
#[derive(Debug, Default)]
pub struct FenceNotice {
    told: bool,
}

impl FenceNotice {
    pub fn pass(&mut self, status: &eventlog::IntegrityStatus) -> Pass {
        if status.finding.is_none() {
            return Pass::Run;
        }
        let warn = !self.told;
        self.told = true;
        Pass::Hold { warn }
    }
}

/// Fires every deadline due at or before `now` and returns the log position the caller must
/// wait for before answering (every event the firing appended is at or below it). On a fenced
/// log it fires nothing and answers 503 `store_fenced`.
pub async fn fire_due(app: &App, now: Timestamp) -> Result<u64, ApiError> {
    let _one_pass = app.scheduler_pass.lock().await;
    if let Some(e) = fenced(&app.log.integrity()) {
        return Err(e);
    }
    let mut passed_over: HashSet<String> = HashSet::new();
    // Deadlines started by events already in the log must be visible before we look.
    app.wait_for(&app.timers, MinPosition(Some(app.store.head())))
        .await?;
    loop {
        let (due, _) = app
            .timers
            .read(|t| t.due(now, FIRE_BATCH_MAX + passed_over.len()));
        let due: Vec<Deadline> = due
            .into_iter()
            .filter(|d| !passed_over.contains(&d.id))
            .collect();
        if due.is_empty() {
            break;
        }
        let mut reached = 0;
        for d in due {
            match fire(app, &d).await {
                Ok(Some(position)) => reached = reached.max(position),
                Ok(None) => {
                    passed_over.insert(d.id.clone());
                }
                Err(e) => {
                    tracing::warn!(deadline = %d.id, code = e.code, message = %e.message, "deadline could not fire");
                    metrics::counter!("marketlog_deadlines_failed_total").increment(1);
                    passed_over.insert(d.id.clone());
                }
            }
        }
        // The events just appended stop their deadlines; see them before looking again.
        app.wait_for(&app.timers, MinPosition(Some(reached)))
            .await?;
    }
    Ok(app.store.head())
}

/// Fires one deadline. `Some(position)` when it appended (or had appended) its events,
/// `None` when the command found nothing to do (the state had moved on).
async fn fire(app: &App, d: &Deadline) -> Result<Option<u64>, ApiError> {
    let meta = CommandMeta {
        actor: Actor::System,
        correlation_id: d.id.clone(),
        causation_id: d.id.clone(),
        // A deadline id can be started again (a renewal restarts an instance's expiry), so
        // the key names this start: the id and its due time.
        idempotency: Some(eventlog::Idempotency {
            key: format!("deadline:{}@{}", d.id, d.due_at.as_micros()),
            fingerprint: Sha256::digest(d.id.as_bytes()).into(),
        }),
        if_match: None,
        command: "FireDeadline",
    };
    metrics::counter!("marketlog_deadlines_fired_total", "rule" => format!("{:?}", d.rule))
        .increment(1);
    // The registry maps the rule to its command (`domain::registry`).
    let decision = domain::registry::deadline_decision(d, app.ids.as_ref()).ok_or_else(|| {
        ApiError::unavailable(format!(
            "no command is registered for deadline rule {}",
            d.rule.as_str()
        ))
    })?;
    let done = app.runner.run(&meta, decision.as_ref()).await?;
    // A deduplicated firing already happened: nothing new to wait for, pass it over.
    let (no_op, position) = (done.no_op || done.deduplicated, done.position);
    Ok((!no_op).then_some(position))
}

/// Fires late deadlines once at start-up; with the real clock keeps firing them as they fall
/// due until shutdown.
pub fn spawn(app: App) {
    tokio::spawn(async move {
        let mut shutdown = app.shutdown.subscribe();
        let mut ticks: u64 = 0;
        let mut notice = FenceNotice::default();
        loop {
            if ticks.is_multiple_of(PRUNE_EVERY_TICKS) {
                prune_idempotency_keys(&app).await;
            }
            ticks += 1;
            let status = app.log.integrity();
            match notice.pass(&status) {
                Pass::Run => {
                    if let Err(e) = fire_due(&app, app.clock.now()).await {
                        tracing::warn!(code = e.code, message = %e.message, "deadline pass failed");
                    }
                }
                Pass::Hold { warn: true } => {
                    if let Some(e) = fenced(&status) {
                        tracing::warn!(message = %e.message, "deadlines are held until the log is repaired");
                    }
                }
                Pass::Hold { warn: false } => {}
            }
            if app.simulated.is_some() {
                return; // advances fire the rest
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(SCHEDULER_TICK_MS)) => {}
                _ = shutdown.changed() => return,
            }
        }
    });
}

/// Position of the timer projection (for tests and metrics).
pub fn timers_position(app: &App) -> u64 {
    app.timers.position()
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventlog::{Finding, FoundBy, IntegrityStatus, ScanState};

    fn status(finding: Option<Finding>) -> IntegrityStatus {
        IntegrityStatus {
            finding,
            scan: ScanState::NotStarted,
        }
    }

    #[test]
    fn a_fenced_log_holds_every_pass_and_warns_once() {
        let damaged = status(Some(Finding {
            position: 2_717,
            reason: "the log ends at position 2716".into(),
            found_by: FoundBy::Scan,
        }));
        let mut notice = FenceNotice::default();
        assert_eq!(notice.pass(&status(None)), Pass::Run);
        assert_eq!(notice.pass(&damaged), Pass::Hold { warn: true });
        assert_eq!(notice.pass(&damaged), Pass::Hold { warn: false });
        assert_eq!(notice.pass(&damaged), Pass::Hold { warn: false });
        let e = fenced(&damaged).expect("fenced");
        assert_eq!((e.status.as_u16(), e.code), (503, "store_fenced"));
        assert!(fenced(&status(None)).is_none());
    }
}
