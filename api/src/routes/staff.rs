//! API.md §3: staff and capacity — an org's isv_admin adds staff members (each a principal of
//! role `isv_staff` with its own token, shown once), changes their roles, department, tags,
//! capacity and accepting status, and sets or ends their leave; a staff member switches its
//! own accepting status; the preset roles.
//!
//! Reads come from the staff model (`projections::staff`); `on_leave` is computed at read
//! time with the server's clock (`from ≤ now < to`). Commands run on the member's stream,
//! so `If-Match` names its version.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::delivery::staff::{
    staff_command, staff_stream, CreateStaff, Staff, StaffChanges, StaffCommand, StaffState,
};
use domain::delivery::STAFF_ROLES;
use domain::ids::{is_valid_id, new_secret_token, IdKind};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{Array, ArrayBuilder};
use utoipa::ToSchema;

use crate::access;
use crate::error::ApiError;
use crate::extract::{token_sha256, Body, Caller, CommandHeaders, MinPosition};
use crate::paging::{page, PageQuery};
use crate::respond;
use crate::routes::products::parse_time;
use crate::routes::{Doc, Routes};
use crate::runner::Executed;
use crate::state::App;
use projections::ProjectionControl;

fn roles_schema() -> Array {
    ArrayBuilder::new()
        .items(crate::schema::one_of(STAFF_ROLES))
        .min_items(Some(1))
        .max_items(Some(STAFF_ROLES.len()))
        .build()
}

fn optional_roles_schema() -> Array {
    ArrayBuilder::new()
        .items(crate::schema::one_of(STAFF_ROLES))
        .max_items(Some(STAFF_ROLES.len()))
        .build()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStaffInput {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Preset roles (`GET /v1/roles`), at least one, each once.
    #[schema(schema_with = roles_schema)]
    pub roles: Vec<String>,
    #[schema(min_length = 1, max_length = 60)]
    pub department: String,
    /// At most 5 tags of 1..=20 characters.
    #[serde(default)]
    #[schema(max_items = 5)]
    pub tags: Vec<String>,
    #[schema(minimum = 0, maximum = 50)]
    pub max_active: u32,
}

/// Any subset; a field left out keeps its value, and nothing changed appends nothing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStaffInput {
    #[schema(minimum = 0, maximum = 50)]
    pub max_active: Option<u32>,
    #[schema(max_items = 5)]
    pub tags: Option<Vec<String>>,
    pub accepting: Option<bool>,
    #[schema(schema_with = optional_roles_schema)]
    pub roles: Option<Vec<String>>,
    #[schema(min_length = 1, max_length = 60)]
    pub department: Option<String>,
}

/// A leave period `[from, to)`; it replaces any leave set before.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaveInput {
    #[schema(format = DateTime)]
    pub from: String,
    /// After `from`.
    #[schema(format = DateTime)]
    pub to: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptingInput {
    pub accepting: bool,
}

/// A staff member. `active`: the deliveries it holds now; `on_leave`: inside its leave
/// period at the server's time.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffView {
    pub id: String,
    pub org_id: String,
    /// The member's principal (role `isv_staff`).
    pub principal_id: String,
    pub name: String,
    #[schema(schema_with = roles_schema)]
    pub roles: Vec<String>,
    pub department: String,
    pub tags: Vec<String>,
    #[schema(minimum = 0, maximum = 50)]
    pub max_active: u32,
    pub active: u32,
    pub accepting: bool,
    pub on_leave: bool,
    #[schema(format = DateTime)]
    pub leave_from: Option<String>,
    #[schema(format = DateTime)]
    pub leave_to: Option<String>,
    /// The staff stream's version.
    pub version: u64,
    /// Command answers only: the log position of the command's last event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    /// The creation's answer only: the member's bearer token, shown once (an idempotent
    /// repeat of the creation leaves it out; only its hash is stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

crate::page!(
    /// One page of an org's staff, in join order.
    StaffPage,
    StaffView
);

/// The preset staff roles.
#[derive(Debug, Serialize, ToSchema)]
pub struct RolesView {
    #[schema(schema_with = roles_schema)]
    pub items: Vec<String>,
}

pub fn routes(r: Routes) -> Routes {
    use axum::routing::{delete, get, post, put};
    r.add(
        "POST",
        "/v1/orgs/{org}/staff",
        post(create),
        Doc::new(
            "add a staff member (a principal of role isv_staff); its token is shown only in \
             this answer; a new member is accepting and not on leave",
            "isv_admin of the org",
        )
        .body::<CreateStaffInput>()
        .answers::<StaffView>(201),
    )
    .add(
        "GET",
        "/v1/orgs/{org}/staff",
        get(list),
        Doc::new(
            "an org's staff, in join order",
            "isv_admin of the org, platform, auditor",
        )
        .query("limit", "page size, 1..=500 (default 50)")
        .query("cursor", "the next_cursor of the previous page")
        .answers::<StaffPage>(200),
    )
    .add(
        "GET",
        "/v1/staff/{id}",
        get(detail),
        Doc::new(
            "a staff member",
            "isv_admin of its org, the member itself, platform, auditor",
        )
        .answers::<StaffView>(200),
    )
    .add(
        "PUT",
        "/v1/staff/{id}",
        put(update),
        Doc::new(
            "change a staff member's max_active, tags, accepting, roles or department (any \
             subset)",
            "isv_admin of its org",
        )
        .body::<UpdateStaffInput>()
        .answers::<StaffView>(200),
    )
    .add(
        "POST",
        "/v1/staff/{id}/leave",
        post(set_leave),
        Doc::new(
            "set a staff member's leave period (no assignment during it)",
            "isv_admin of its org",
        )
        .body::<LeaveInput>()
        .answers::<StaffView>(200),
    )
    .add(
        "DELETE",
        "/v1/staff/{id}/leave",
        delete(end_leave),
        Doc::new(
            "end a staff member's leave (409 invalid_state without one)",
            "isv_admin of its org",
        )
        .answers::<StaffView>(200),
    )
    .add(
        "POST",
        "/v1/staff/me/accepting",
        post(my_accepting),
        Doc::new("switch the caller's own accepting status", "isv_staff")
            .body::<AcceptingInput>()
            .answers::<StaffView>(200),
    )
    .add(
        "GET",
        "/v1/roles",
        get(roles),
        Doc::new("the preset staff roles", "any").answers::<RolesView>(200),
    )
}

fn staff_view(app: &App, s: &StaffState, version: u64) -> StaffView {
    StaffView {
        id: s.staff_id.clone(),
        org_id: s.org_id.clone(),
        principal_id: s.principal_id.clone(),
        name: s.name.clone(),
        roles: s.roles.clone(),
        department: s.department.clone(),
        tags: s.tags.clone(),
        max_active: s.max_active,
        active: s.active_count(),
        accepting: s.accepting,
        on_leave: s.on_leave(app.clock.now()),
        leave_from: s.leave.map(|(from, _)| app.time(from)),
        leave_to: s.leave.map(|(_, to)| app.time(to)),
        version,
        position: None,
        token: None,
    }
}

fn command_answer(
    app: &App,
    status: StatusCode,
    done: &Executed<StaffState>,
    token: Option<String>,
) -> Result<Response, ApiError> {
    if !done.state.created {
        return Err(ApiError::internal(
            "staff answer",
            "the staff member does not exist",
        ));
    }
    let view = StaffView {
        position: Some(done.position),
        token,
        ..staff_view(app, &done.state, done.version)
    };
    Ok(respond::command(status, &view, done.version))
}

/// A staff id from the path, loaded through the runner; 404 unless `rule` lets the caller
/// reach it.
fn load_staff(app: &App, caller: &Caller, rule: &access::Rule, id: &str) -> Result<(), ApiError> {
    if !is_valid_id(IdKind::Staff, id) {
        return Err(ApiError::not_found("staff"));
    }
    let loaded = app.runner.load::<Staff>(&staff_stream(id), u64::MAX)?;
    if !access::reaches_staff(caller, rule, &loaded.state) {
        return Err(ApiError::not_found("staff"));
    }
    Ok(())
}

async fn run(
    app: &App,
    caller: &Caller,
    headers: &CommandHeaders,
    body: &Body,
    name: &'static str,
    id: &str,
    command: StaffCommand,
) -> Result<Response, ApiError> {
    let meta = app.command_meta(caller, headers, body, name)?;
    let done = app
        .runner
        .decide::<Staff>(&meta, &staff_command(id, command))
        .await?;
    command_answer(app, StatusCode::OK, &done, None)
}

async fn create(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(org): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::CREATE_STAFF.check(&caller)?;
    if !access::reaches_org(&caller, &access::CREATE_STAFF, &org) {
        return Err(ApiError::not_found("organisation"));
    }
    let input: CreateStaffInput = body.json()?;
    let staff_id = app.ids.new_id(IdKind::Staff);
    let principal_id = app.ids.new_id(IdKind::Principal);
    let token = new_secret_token();
    let decision = CreateStaff {
        staff_id,
        principal_id,
        org_id: org,
        name: input.name,
        roles: input.roles,
        department: input.department,
        tags: input.tags,
        max_active: input.max_active,
        token_sha256: token_sha256(&token),
    };
    let meta = app.command_meta(&caller, &headers, &body, "CreateStaff")?;
    let done = app.runner.decide::<Staff>(&meta, &decision).await?;
    // The token must work as soon as the client has it.
    app.wait_for(&app.directory, MinPosition(Some(done.position)))
        .await?;
    let shown = (!done.deduplicated).then_some(token);
    command_answer(&app, StatusCode::CREATED, &done, shown)
}

async fn list(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    Path(org): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    access::LIST_STAFF.check(&caller)?;
    if !access::reaches_org(&caller, &access::LIST_STAFF, &org) {
        return Err(ApiError::not_found("organisation"));
    }
    let (limit, after) = PageQuery::bounds(q.limit, q.cursor.as_deref())?;
    app.wait_for(&app.directory, min).await?;
    let (known, _) = app.directory.read(|d| d.orgs.contains_key(&org));
    if !known {
        return Err(ApiError::not_found("organisation"));
    }
    app.wait_for(&app.staff, min).await?;
    // Keys are the join index, zero-padded, so the cursor keeps join order.
    let ((items, next), position) = app.staff.read(|s| {
        let ids = s.by_org.get(&org).map_or(&[][..], Vec::as_slice);
        let rows = ids.iter().enumerate().filter_map(|(i, id)| {
            s.staff
                .get(id)
                .map(|r| (format!("{i:010}"), staff_view(&app, &r.state, r.version)))
        });
        page(rows, after.as_deref(), limit)
    });
    Ok(respond::list::<StaffPage>(items, next, position))
}

async fn detail(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    access::GET_STAFF.check(&caller)?;
    app.wait_for(&app.staff, min).await?;
    let (found, position) = app.staff.read(|s| {
        s.staff
            .get(&id)
            .filter(|r| access::reaches_staff(&caller, &access::GET_STAFF, &r.state))
            .map(|r| staff_view(&app, &r.state, r.version))
    });
    let view = found.ok_or_else(|| ApiError::not_found("staff"))?;
    Ok(respond::read(&view, Some(view.version), position))
}

async fn update(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::UPDATE_STAFF.check(&caller)?;
    load_staff(&app, &caller, &access::UPDATE_STAFF, &id)?;
    let input: UpdateStaffInput = body.json()?;
    let changes = StaffChanges {
        max_active: input.max_active,
        tags: input.tags,
        accepting: input.accepting,
        roles: input.roles,
        department: input.department,
    };
    let cmd = StaffCommand::Update(changes);
    run(&app, &caller, &headers, &body, "UpdateStaff", &id, cmd).await
}

async fn set_leave(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::SET_LEAVE.check(&caller)?;
    load_staff(&app, &caller, &access::SET_LEAVE, &id)?;
    let input: LeaveInput = body.json()?;
    let from = parse_time("from", &Some(input.from))?;
    let to = parse_time("to", &Some(input.to))?;
    let (Some(from), Some(to)) = (from, to) else {
        return Err(ApiError::bad_request("from and to are required"));
    };
    let cmd = StaffCommand::SetLeave { from, to };
    run(&app, &caller, &headers, &body, "SetStaffLeave", &id, cmd).await
}

async fn end_leave(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::END_LEAVE.check(&caller)?;
    load_staff(&app, &caller, &access::END_LEAVE, &id)?;
    let cmd = StaffCommand::EndLeave;
    run(&app, &caller, &headers, &body, "EndStaffLeave", &id, cmd).await
}

async fn my_accepting(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    body: Body,
) -> Result<Response, ApiError> {
    access::MY_ACCEPTING.check(&caller)?;
    let id = caller
        .staff_id
        .clone()
        .ok_or_else(|| ApiError::not_found("staff"))?;
    let input: AcceptingInput = body.json()?;
    let cmd = StaffCommand::SetAccepting {
        accepting: input.accepting,
    };
    run(
        &app,
        &caller,
        &headers,
        &body,
        "SetStaffAccepting",
        &id,
        cmd,
    )
    .await
}

async fn roles(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
) -> Result<Response, ApiError> {
    access::ROLES.check(&caller)?;
    // No model serves this list; the directory's position is the one the caller was
    // authenticated against.
    app.wait_for(&app.directory, min).await?;
    let view = RolesView {
        items: STAFF_ROLES.iter().map(|r| (*r).to_owned()).collect(),
    };
    Ok(respond::read(&view, None, app.directory.position()))
}
