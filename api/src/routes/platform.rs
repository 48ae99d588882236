//! API.md §2: organisations, principals, `/v1/me`, the holiday calendar.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use domain::ids::{new_secret_token, IdKind};
use domain::platform::{
    calendar_stream, org_stream, principal_stream, Calendar, CalendarCommand, Org, OrgCommand,
    Principal, PrincipalCommand,
};
use domain::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access;
use crate::error::ApiError;
use crate::extract::{token_sha256, Body, Caller, CommandHeaders, MinPosition};
use crate::respond;
use crate::routes::{Doc, Routes};
use crate::state::App;
use projections::ProjectionControl;

/// Earliest and latest calendar year accepted.
pub const CALENDAR_YEAR_MIN: i32 = 2000;
pub const CALENDAR_YEAR_MAX: i32 = 2100;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgView {
    pub id: String,
    pub name: String,
    pub version: u64,
    pub position: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePrincipal {
    /// Staff (`isv_staff`) are created with `POST /v1/orgs/{org}/staff`.
    #[schema(schema_with = principal_role)]
    pub role: String,
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Required for `isv_admin`.
    pub org_id: Option<String>,
    /// Customers only.
    pub real_name_verified: Option<bool>,
}

fn principal_role() -> utoipa::openapi::schema::Object {
    crate::schema::one_of(&["platform", "isv_admin", "customer", "auditor", "analyst"])
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PrincipalView {
    pub id: String,
    #[schema(schema_with = crate::schema::role)]
    pub role: Role,
    pub name: String,
    pub org_id: Option<String>,
    pub staff_id: Option<String>,
    pub real_name_verified: bool,
    pub revoked: bool,
    /// Shown only in the answer that created the principal; `null` everywhere else,
    /// including an idempotent repeat of that request (only the hash is stored).
    pub token: Option<String>,
    pub version: u64,
    pub position: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    pub id: String,
    #[schema(schema_with = crate::schema::role)]
    pub role: Role,
    pub name: String,
    pub org_id: Option<String>,
    pub staff_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutCalendar {
    /// Holidays of the year (`YYYY-MM-DD`).
    #[schema(max_items = 366)]
    pub holidays: Vec<NaiveDate>,
    /// Make-up working days (weekend days that are worked).
    #[schema(max_items = 366)]
    pub workdays: Vec<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarView {
    #[schema(minimum = 2000, maximum = 2100)]
    pub year: i32,
    pub holidays: Vec<NaiveDate>,
    pub workdays: Vec<NaiveDate>,
    /// Command answers only: the calendar stream's version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Command answers only: the log position of the command's event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
}

pub fn routes(r: Routes) -> Routes {
    use axum::routing::{delete, get, post, put};
    r.add(
        "POST",
        "/v1/orgs",
        post(create_org),
        Doc::new("create an organisation (a seller and provider)", "platform")
            .body::<CreateOrg>()
            .answers::<OrgView>(201),
    )
    .add(
        "POST",
        "/v1/principals",
        post(create_principal),
        Doc::new(
            "create a principal; its token is shown only in this answer",
            "platform",
        )
        .body::<CreatePrincipal>()
        .answers::<PrincipalView>(201),
    )
    .add(
        "DELETE",
        "/v1/principals/{id}",
        delete(revoke_principal),
        Doc::new(
            "revoke a principal; its token stops working when this answers",
            "platform",
        )
        .answers::<PrincipalView>(200),
    )
    .add(
        "GET",
        "/v1/me",
        get(me),
        Doc::new("the calling principal", "any").answers::<MeView>(200),
    )
    .add(
        "PUT",
        "/v1/calendar/{year}",
        put(put_calendar),
        Doc::new(
            "set the holidays and make-up working days of a year",
            "platform",
        )
        .body::<PutCalendar>()
        .answers::<CalendarView>(200),
    )
    .add(
        "GET",
        "/v1/calendar/{year}",
        get(get_calendar),
        Doc::new(
            "the holidays and make-up working days of a year (empty: Monday–Friday)",
            "any",
        )
        .answers::<CalendarView>(200),
    )
}

async fn create_org(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    body: Body,
) -> Result<Response, ApiError> {
    access::CREATE_ORG.check(&caller)?;
    let input: CreateOrg = body.json()?;
    let org_id = app.ids.new_id(IdKind::Org);
    let meta = app.command_meta(&caller, &headers, &body, "CreateOrg")?;
    let cmd = OrgCommand::Create {
        org_id: org_id.clone(),
        name: input.name,
    };
    let done = app
        .runner
        .execute::<Org>(&meta, &org_stream(&org_id), &cmd)
        .await?;
    let view = OrgView {
        id: done.state.id.clone(),
        name: done.state.name.clone(),
        version: done.version,
        position: done.position,
    };
    Ok(respond::command(StatusCode::CREATED, &view, done.version))
}

async fn create_principal(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    body: Body,
) -> Result<Response, ApiError> {
    access::CREATE_PRINCIPAL.check(&caller)?;
    let input: CreatePrincipal = body.json()?;
    let role = match Role::from_name(&input.role) {
        Some(Role::IsvStaff) => {
            return Err(ApiError::validation(
                "role",
                "staff_via_org",
                "staff are created with POST /v1/orgs/{org}/staff",
            ))
        }
        Some(r) => r,
        None => {
            return Err(ApiError::validation(
                "role",
                "one_of",
                "role must be one of platform, isv_admin, customer, auditor, analyst",
            ))
        }
    };
    if let Some(org) = &input.org_id {
        app.caught_up(&app.directory).await;
        let (known, _) = app.directory.read(|d| d.orgs.contains_key(org));
        if !known {
            return Err(ApiError::validation(
                "org_id",
                "unknown_org",
                format!("organisation {org} does not exist"),
            ));
        }
    }
    let kind = if role == Role::Customer {
        IdKind::Customer
    } else {
        IdKind::Principal
    };
    let principal_id = app.ids.new_id(kind);
    let token = new_secret_token();
    let cmd = PrincipalCommand::Create {
        principal_id: principal_id.clone(),
        role,
        name: input.name,
        org_id: input.org_id,
        staff_id: None,
        real_name_verified: input.real_name_verified.unwrap_or(false),
        token_sha256: token_sha256(&token),
    };
    let meta = app.command_meta(&caller, &headers, &body, "CreatePrincipal")?;
    let done = app
        .runner
        .execute::<Principal>(&meta, &principal_stream(&principal_id), &cmd)
        .await?;
    // The token must work as soon as the client has it.
    app.wait_for(&app.directory, MinPosition(Some(done.position)))
        .await?;
    let shown = (!done.deduplicated).then_some(token);
    principal_answer(StatusCode::CREATED, &done, shown)
}

fn principal_answer(
    status: StatusCode,
    done: &crate::runner::Executed<domain::platform::PrincipalState>,
    token: Option<String>,
) -> Result<Response, ApiError> {
    let p =
        done.state.created.as_ref().ok_or_else(|| {
            ApiError::internal("principal answer", "the principal was never created")
        })?;
    let view = PrincipalView {
        id: p.principal_id.clone(),
        role: p.role,
        name: p.name.clone(),
        org_id: p.org_id.clone(),
        staff_id: p.staff_id.clone(),
        real_name_verified: p.real_name_verified,
        revoked: done.state.revoked,
        token,
        version: done.version,
        position: done.position,
    };
    Ok(respond::command(status, &view, done.version))
}

async fn revoke_principal(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::REVOKE_PRINCIPAL.check(&caller)?;
    let (known, _) = app.directory.read(|d| d.principals.contains_key(&id));
    if !known {
        return Err(ApiError::not_found("principal"));
    }
    let meta = app.command_meta(&caller, &headers, &body, "RevokePrincipal")?;
    let done = app
        .runner
        .execute::<Principal>(&meta, &principal_stream(&id), &PrincipalCommand::Revoke)
        .await?;
    // "Revocable at once": answer only when authentication no longer accepts the token.
    app.wait_for(&app.directory, MinPosition(Some(done.position)))
        .await?;
    principal_answer(StatusCode::OK, &done, None)
}

async fn me(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
) -> Result<Response, ApiError> {
    access::ME.check(&caller)?;
    app.wait_for(&app.directory, min).await?;
    let view = MeView {
        id: caller.id,
        role: caller.role,
        name: caller.name,
        org_id: caller.org_id,
        staff_id: caller.staff_id,
    };
    Ok(respond::read(&view, None, app.directory.position()))
}

fn parse_year(raw: &str) -> Result<i32, ApiError> {
    raw.parse::<i32>()
        .ok()
        .filter(|y| (CALENDAR_YEAR_MIN..=CALENDAR_YEAR_MAX).contains(y))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "year must be {CALENDAR_YEAR_MIN}..={CALENDAR_YEAR_MAX}"
            ))
            .with("field", "year")
        })
}

async fn put_calendar(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(year): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::PUT_CALENDAR.check(&caller)?;
    let year = parse_year(&year)?;
    let input: PutCalendar = body.json()?;
    let cmd = CalendarCommand::Set {
        year,
        holidays: input.holidays,
        workdays: input.workdays,
    };
    let meta = app.command_meta(&caller, &headers, &body, "SetCalendar")?;
    let done = app
        .runner
        .execute::<Calendar>(&meta, &calendar_stream(year), &cmd)
        .await?;
    let set = done.state.set.clone();
    let view = CalendarView {
        year,
        holidays: set.as_ref().map(|s| s.holidays.clone()).unwrap_or_default(),
        workdays: set.map(|s| s.workdays).unwrap_or_default(),
        version: Some(done.version),
        position: Some(done.position),
    };
    Ok(respond::command(StatusCode::OK, &view, done.version))
}

async fn get_calendar(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    Path(year): Path<String>,
) -> Result<Response, ApiError> {
    access::GET_CALENDAR.check(&caller)?;
    let year = parse_year(&year)?;
    app.wait_for(&app.directory, min).await?;
    let (row, position) = app.directory.read(|d| d.calendars.get(&year).cloned());
    let view = CalendarView {
        year,
        holidays: row.as_ref().map(|r| r.holidays.clone()).unwrap_or_default(),
        workdays: row.map(|r| r.workdays).unwrap_or_default(),
        version: None,
        position: None,
    };
    Ok(respond::read(&view, None, position))
}
