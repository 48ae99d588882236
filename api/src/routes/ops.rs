//! API.md §9, operations: projections and their rebuild, the simulated clock, health,
//! the OpenAPI document and Prometheus metrics.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use utoipa::ToSchema;

use crate::access;
use crate::error::ApiError;
use crate::extract::{Body, Caller, CommandHeaders};
use crate::respond;
use crate::routes::{Doc, Routes};
use crate::state::App;

/// Longest single clock advance: ten years.
pub const CLOCK_ADVANCE_SECONDS_MAX: u64 = 10 * 366 * 24 * 3600;

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectionView {
    pub name: String,
    pub position: u64,
    pub lag: u64,
    #[schema(schema_with = projection_status)]
    pub status: &'static str,
    /// For `failed`: the position of the poison event and the error.
    pub error: Option<String>,
    /// For `rebuilding`: the new version, built beside the live one (which keeps serving
    /// every read until the swap), has applied every record up to here.
    pub rebuilt_position: Option<u64>,
    /// For `rebuilding`: the live position the new version is catching up with; it moves
    /// while writes go on, and the swap happens once the new version is within one batch
    /// of it.
    pub target_position: Option<u64>,
    /// For `rebuilding`: records the new version applied per second so far.
    pub events_per_s: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectionList {
    pub items: Vec<ProjectionView>,
    pub log_position: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceClock {
    /// Seconds to move the simulated clock forward (at most ten years).
    #[schema(minimum = 1, maximum = 316224000)]
    pub seconds: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClockView {
    #[schema(format = DateTime)]
    pub now: String,
    pub position: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    /// `ok`, or `degraded` when the log is damaged (fenced), its storage failed or a
    /// projection failed.
    #[schema(schema_with = health_status)]
    pub status: &'static str,
    pub log_position: u64,
    /// Each projection's position.
    pub projections: BTreeMap<String, u64>,
    /// Every policy (`domain::policy::POLICIES`) has reacted to every event up to here;
    /// null when the policy runner does not run.
    pub policies_position: Option<u64>,
    pub integrity: IntegrityView,
}

/// What is known about the log's integrity (EVENTLOG.md "Integrity").
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrityView {
    /// `ok`; `damaged` once anything found damage (writes then answer 503 `store_fenced`);
    /// `storage_failed` after a write the disk refused.
    #[schema(schema_with = integrity_status)]
    pub status: &'static str,
    /// The first bad position (0 when the damage names no record, e.g. the head anchor).
    pub position: Option<u64>,
    pub reason: Option<String>,
    /// `open`, `scan` or `read`: which check found the damage.
    #[schema(schema_with = found_by)]
    pub found_by: Option<&'static str>,
    /// What the operator should do, when something is wrong.
    pub action: Option<String>,
    /// The background scan of the whole log: `not_started`, `running` or `finished`.
    #[schema(schema_with = scan_state)]
    pub scan: &'static str,
    /// Records the scan has checked so far.
    pub scan_checked: u64,
}

fn projection_status() -> utoipa::openapi::schema::Object {
    crate::schema::one_of(&["running", "rebuilding", "failed"])
}

fn health_status() -> utoipa::openapi::schema::Object {
    crate::schema::one_of(&["ok", "degraded"])
}

fn integrity_status() -> utoipa::openapi::schema::Object {
    crate::schema::one_of(&["ok", "damaged", "storage_failed"])
}

fn found_by() -> utoipa::openapi::schema::Object {
    crate::schema::nullable_one_of(&["open", "scan", "read"])
}

fn scan_state() -> utoipa::openapi::schema::Object {
    crate::schema::one_of(&["not_started", "running", "finished"])
}

pub fn routes(r: Routes) -> Routes {
    use axum::routing::{get, post};
    r.add("GET", "/v1/projections", get(list_projections), Doc::new("each projection: name, position, lag, status; while `rebuilding`, its progress (`rebuilt_position` of `target_position`, `events_per_s`); when `failed` (stopped at a poison event, nothing skipped; reads keep answering from the last good state and `/v1/health` says `degraded`), `error` names the event's position", "any staff role").answers::<ProjectionList>(200))
        .add("POST", "/v1/projections/{name}/rebuild", post(rebuild), Doc::new("blue/green rebuild: builds beside the live model and swaps when caught up; progress at GET /v1/projections (`rebuilt_position` of `target_position`). 409 `invalid_state` with `details.state`: `rebuilding` while a rebuild of this model runs (one at a time; the running one goes on), `failed` for a model stopped at a poison event (a rebuild would stop at the same event: fix the code and restart the server)", "platform, analyst").answers::<ProjectionView>(202))
        .add("POST", "/v1/admin/clock/advance", post(advance_clock), Doc::new("simulated clock only (else 404): advance, fire every due deadline, answer once every policy reacted to what they appended and every projection applied all of it", "platform").body::<AdvanceClock>().answers::<ClockView>(200))
        .add("GET", "/v1/health", get(health), Doc::new("liveness and positions", "none").answers::<HealthView>(200))
        .add("GET", "/metrics", get(metrics_text), Doc::new("Prometheus metrics", "none").raw_answer(200, "text/plain"))
}

fn projection_view(info: projections::ProjectionInfo) -> ProjectionView {
    let mut view = ProjectionView {
        name: info.name.to_owned(),
        position: info.position,
        lag: info.lag,
        status: "running",
        error: None,
        rebuilt_position: None,
        target_position: None,
        events_per_s: None,
    };
    match info.status {
        projections::Status::Running => {}
        projections::Status::Rebuilding {
            rebuilt_position,
            target_position,
            events_per_s,
        } => {
            view.status = "rebuilding";
            view.rebuilt_position = Some(rebuilt_position);
            view.target_position = Some(target_position);
            view.events_per_s = Some(events_per_s);
        }
        projections::Status::Failed { position, error } => {
            view.status = "failed";
            view.error = Some(format!("at position {position}: {error}"));
        }
    }
    view
}

async fn list_projections(State(app): State<App>, caller: Caller) -> Result<Response, ApiError> {
    access::PROJECTIONS.check(&caller)?;
    let head = app.store.head();
    let items: Vec<ProjectionView> = app
        .projections
        .iter()
        .map(|p| projection_view(p.info(head)))
        .collect();
    Ok(respond::read(
        &ProjectionList {
            items,
            log_position: head,
        },
        None,
        head,
    ))
}

async fn rebuild(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    access::REBUILD.check(&caller)?;
    let p = app
        .projection(&name)
        .ok_or_else(|| ApiError::not_found("projection"))?;
    if !p.start_rebuild() {
        let state = p.info(app.store.head());
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "invalid_state",
            "the projection is already rebuilding or has failed",
        )
        .with("state", projection_view(state).status));
    }
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(projection_view(p.info(app.store.head()))),
    )
        .into_response())
}

async fn advance_clock(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    body: Body,
) -> Result<Response, ApiError> {
    let Some(sim) = app.simulated.clone() else {
        return Err(ApiError::not_found("route"));
    };
    access::ADVANCE_CLOCK.check(&caller)?;
    let input: AdvanceClock = body.json()?;
    if input.seconds == 0 || input.seconds > CLOCK_ADVANCE_SECONDS_MAX {
        return Err(ApiError::validation(
            "seconds",
            "range",
            format!("seconds must be 1..={CLOCK_ADVANCE_SECONDS_MAX}"),
        ));
    }
    let _one_at_a_time = app.clock_advance.lock().await;
    // Before the clock moves: on a fenced log nothing could fire, and a clock advanced in
    // memory but never recorded would be a partial success.
    if let Some(e) = crate::scheduler::fenced(&app.log.integrity()) {
        return Err(e);
    }
    let from = app.clock.now();
    let now = sim.advance(input.seconds);
    // Recorded, so that a restart resumes from here (time never goes backwards).
    // Advancing is not idempotent (the clock moved before the append), so a key is not used.
    let mut meta = app.command_meta(&caller, &headers, &body, "AdvanceClock")?;
    meta.idempotency = None;
    let cmd = domain::platform::ClockCommand::RecordAdvance { from };
    app.runner
        .execute::<domain::platform::SimClock>(
            &meta,
            domain::platform::SIMULATED_CLOCK_STREAM,
            &cmd,
        )
        .await?;
    let fired = crate::scheduler::fire_due(&app, now).await?;
    crate::scheduler::prune_idempotency_keys(&app).await;
    // What the firing appended may call for policy decisions: answer once they are made
    // too, and every projection applied all of it.
    if !app
        .policies
        .wait_for(
            fired,
            Duration::from_millis(projections::runtime::MIN_POSITION_WAIT_MS_MAX),
        )
        .await
    {
        return Err(ApiError::projection_lagging("policies", fired));
    }
    let position = app.store.head();
    app.wait_all(position).await?;
    Ok(axum::Json(ClockView {
        now: app.time(now),
        position,
    })
    .into_response())
}

async fn health(State(app): State<App>) -> Response {
    let head = app.store.head();
    let projections: BTreeMap<String, u64> = app
        .projections
        .iter()
        .map(|p| (p.name().to_owned(), p.position()))
        .collect();
    let failed = app
        .projections
        .iter()
        .any(|p| matches!(p.info(head).status, projections::Status::Failed { .. }));
    let integrity = integrity_view(&app);
    let status = if failed || integrity.status != "ok" {
        "degraded"
    } else {
        "ok"
    };
    axum::Json(HealthView {
        status,
        log_position: head,
        projections,
        policies_position: app.policies.position(),
        integrity,
    })
    .into_response()
}

fn integrity_view(app: &App) -> IntegrityView {
    let status = app.log.integrity();
    let (scan, scan_checked) = match status.scan {
        eventlog::ScanState::NotStarted => ("not_started", 0),
        eventlog::ScanState::Running { checked, .. } => ("running", checked),
        eventlog::ScanState::Finished { checked, .. } => ("finished", checked),
    };
    let action = format!(
        "stop the server and run `replay-tool verify --data {}`; restore the data dir from a backup if it reports damage",
        app.data_dir.display()
    );
    let mut view = IntegrityView {
        status: "ok",
        position: None,
        reason: None,
        found_by: None,
        action: None,
        scan,
        scan_checked,
    };
    if let Some(f) = status.finding {
        view.status = "damaged";
        view.position = Some(f.position);
        view.reason = Some(f.reason);
        view.found_by = Some(f.found_by.as_str());
        view.action = Some(action);
    } else if let Some(reason) = app.log.storage_failure() {
        view.status = "storage_failed";
        view.reason = Some(reason);
        view.action = Some(
            "free disk space or fix the storage; the server exits so that a supervisor restarts it"
                .to_owned(),
        );
    }
    view
}

async fn metrics_text(State(app): State<App>) -> Response {
    let head = app.store.head();
    metrics::gauge!("marketlog_log_head_position").set(head as f64);
    let w = app.log.writer_stats();
    metrics::gauge!("marketlog_log_groups_committed").set(w.groups as f64);
    metrics::gauge!("marketlog_log_events_committed").set(w.events as f64);
    for p in &app.projections {
        let info = p.info(head);
        metrics::gauge!("marketlog_projection_position", "projection" => info.name)
            .set(info.position as f64);
        metrics::gauge!("marketlog_projection_lag", "projection" => info.name).set(info.lag as f64);
        let failed = matches!(info.status, projections::Status::Failed { .. });
        metrics::gauge!("marketlog_projection_failed", "projection" => info.name).set(if failed {
            1.0
        } else {
            0.0
        });
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        app.metrics.render(),
    )
        .into_response()
}
