//! API.md §7 deliveries: the list (tabs and searches), a project and its flow log, the node
//! commands (submit, complete, reject), claim, dispatch, provider and operator changes,
//! pause / resume / close, messages and notes. Files are `routes::files`, the queues and
//! the outbox `routes::queues`.
//!
//! Reads come from the deliveries model (`projections::deliveries`); commands load the
//! project's stream through the runner (404 unless the caller is one of its parties,
//! `access::sees_delivery`), then run `domain::delivery::flow::act` (the project, and the staff and capacity
//! streams it keeps consistent). Notes are the provider side's: the log leaves them out for
//! everyone else but the auditor.

use std::collections::BTreeSet;
use std::ops::Bound;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::delivery::node::Side;
use domain::delivery::project::{
    delivery_stream, Delivery, DeliveryCommand, DeliveryState, Party, RequirementForm, Stage,
};
use domain::ids::{is_valid_id, IdKind};
use domain::Role;
use projections::deliveries::{DeliveriesState, DeliveryRow, LogItem, TABS};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::Object;
use utoipa::ToSchema;

use crate::access;
use crate::error::ApiError;
use crate::extract::{Body, Caller, CommandHeaders, MinPosition};
use crate::paging::{page, PageQuery};
use crate::respond;
use crate::routes::{Doc, Routes};
use crate::runner::{Executed, Loaded};
use crate::state::App;

const STATUSES: &[&str] = &["executing", "paused", "cancelled", "completed"];
const SIDES: &[&str] = &["provider", "customer", "system"];
const STAGES: &[&str] = &[
    "pending_implementation",
    "implementing",
    "pending_confirmation",
    "completed",
    "cancelled",
];
const QUEUE_REASONS: &[&str] = &[
    "no_provider_linked",
    "provider_capacity_full",
    "no_staff_with_role",
    "staff_capacity_full",
];

fn status_schema() -> Object {
    crate::schema::one_of(STATUSES)
}
fn side_schema() -> Object {
    crate::schema::one_of(SIDES)
}
fn stage_schema() -> Object {
    crate::schema::nullable_one_of(STAGES)
}
pub(crate) fn reason_schema() -> Object {
    crate::schema::one_of(QUEUE_REASONS)
}

/// The order-level stage's name (API.md §5 `delivery_stage`).
pub fn stage_name(s: Stage) -> &'static str {
    match s {
        Stage::PendingImplementation => "pending_implementation",
        Stage::Implementing => "implementing",
        Stage::PendingConfirmation => "pending_confirmation",
        Stage::Completed => "completed",
        Stage::Cancelled => "cancelled",
    }
}

fn side_name(s: Side) -> &'static str {
    match s {
        Side::Provider => "provider",
        Side::Customer => "customer",
        Side::System => "system",
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CurrentNodeView {
    pub id: String,
    /// The node type (API.md §7 node JSON).
    #[serde(rename = "type")]
    pub node_type: String,
    pub name: String,
    #[schema(schema_with = side_schema)]
    pub side: String,
    pub role: Option<String>,
    #[schema(format = DateTime)]
    pub entered_at: Option<String>,
    #[schema(format = DateTime)]
    pub due_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorView {
    pub staff_id: String,
    pub name: String,
}

/// Why and since when the project waits in the dispatch queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedView {
    #[schema(schema_with = reason_schema)]
    pub reason: String,
    #[schema(format = DateTime)]
    pub since: String,
}

/// A delivery project (API.md §7 "Delivery read model").
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: String,
    pub order_id: String,
    pub product_id: String,
    pub customer_id: String,
    pub seller_org_id: String,
    pub provider_org_id: Option<String>,
    #[schema(schema_with = status_schema)]
    pub status: String,
    /// The current node passed its deadline.
    pub timed_out: bool,
    pub template_id: String,
    pub current_node: Option<CurrentNodeView>,
    pub operator: Option<OperatorView>,
    /// Set while the project waits in the dispatch queue.
    pub queued: Option<QueuedView>,
    /// The order's `delivery_stage`.
    #[schema(schema_with = stage_schema)]
    pub stage: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub completed_at: Option<String>,
    /// The delivery stream's version.
    pub version: u64,
    /// Command answers only: the log position of the command's last event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
}

crate::page!(
    /// One page of deliveries, newest first.
    DeliveryPage,
    DeliveryView
);

/// One flow event.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogItemView {
    #[schema(format = DateTime)]
    pub at: String,
    /// Who acted: a principal, customer or staff id, or `system`.
    pub actor: String,
    /// The event type (`NodeEntered`, `NodeCompleted`, …).
    #[serde(rename = "type")]
    pub event_type: String,
    pub node_id: Option<String>,
    /// A remark (pause, resume, close, changes) or a completion note.
    pub remark: Option<String>,
    /// A rejection's reason, or a queue reason.
    pub reason: Option<String>,
    /// A message's or a note's text, a file's name, or the staff id assigned.
    pub text: Option<String>,
    pub file_id: Option<String>,
}

/// Every flow event of a project, in order (notes only for the provider side).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryLogView {
    pub items: Vec<LogItemView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitInput {
    pub contact_name: String,
    pub phone: String,
    pub email: String,
    pub address: String,
    pub description: String,
    #[serde(default)]
    #[schema(max_items = 10)]
    pub file_ids: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteInput {
    pub note: Option<String>,
    #[serde(default)]
    #[schema(max_items = 10)]
    pub file_ids: Vec<String>,
    /// Optional free text ≤ 2,000 characters (e.g. account credentials).
    pub delivery_info: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectInput {
    pub reason: String,
}

/// One of the two: a provider for a project queued at provider level, a staff member for
/// one queued at staff level.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DispatchInput {
    pub provider_org_id: Option<String>,
    pub staff_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeProviderInput {
    pub org_id: String,
    pub remark: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeOperatorInput {
    pub staff_id: String,
    pub remark: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemarkInput {
    pub remark: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextInput {
    pub text: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub tab: Option<String>,
    pub order_id: Option<String>,
    pub operator_id: Option<String>,
    pub customer_id: Option<String>,
    pub product_id: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

pub fn routes(r: Routes) -> Routes {
    use axum::routing::{get, post};
    let command = |summary: &'static str, roles: &'static str| {
        Doc::new(summary, roles).answers::<DeliveryView>(200)
    };
    r.add(
        "GET",
        "/v1/deliveries",
        get(list),
        Doc::new(
            "delivery projects, newest first: a tab and searches by order, operator, customer \
             and product; each caller sees its own (customer: its orders; isv_admin: its org's \
             as seller or provider; staff: its org's as provider)",
            "isv_admin, isv_staff, platform, customer (own), auditor",
        )
        .query(
            "tab",
            "all (default), executing, timed_out, cancelled, paused, completed",
        )
        .query("order_id", "search")
        .query("operator_id", "search: a staff id")
        .query("customer_id", "search")
        .query("product_id", "search")
        .query("limit", "page size, 1..=500 (default 50)")
        .query("cursor", "the next_cursor of the previous page")
        .answers::<DeliveryPage>(200),
    )
    .add(
        "GET",
        "/v1/deliveries/{id}",
        get(detail),
        Doc::new("a delivery project", "parties").answers::<DeliveryView>(200),
    )
    .add(
        "GET",
        "/v1/deliveries/{id}/log",
        get(log),
        Doc::new(
            "every flow event of a project in order (notes for the provider side only)",
            "parties",
        )
        .answers::<DeliveryLogView>(200),
    )
    .add(
        "POST",
        "/v1/deliveries/{id}/nodes/{node_id}/submit",
        post(submit),
        command(
            "submit the requirement form on the current node",
            "customer",
        )
        .body::<SubmitInput>(),
    )
    .add(
        "POST",
        "/v1/deliveries/{id}/nodes/{node_id}/complete",
        post(complete),
        command(
            "complete the current node (its side: the customer, or the operator of its role)",
            "customer, isv_staff (the operator)",
        )
        .body::<CompleteInput>(),
    )
    .add(
        "POST",
        "/v1/deliveries/{id}/nodes/{node_id}/reject",
        post(reject),
        command(
            "reject the current rejectable node: back to the previous node",
            "customer, isv_staff (the operator)",
        )
        .body::<RejectInput>(),
    )
    .add(
        "POST",
        "/v1/deliveries/{id}/claim",
        post(claim),
        command(
            "claim the order on the current claim_order node",
            "isv_staff with the node's role",
        ),
    )
    .add(
        "POST",
        "/v1/deliveries/{id}/dispatch",
        post(dispatch),
        command(
            "dispatch a queued project by hand to a provider or a staff member",
            "isv_admin (seller or provider org), platform",
        )
        .body::<DispatchInput>(),
    )
    .add(
        "POST",
        "/v1/deliveries/{id}/change-provider",
        post(change_provider),
        command(
            "change the provider: the flow restarts, the log keeps the earlier entries",
            "platform, isv_admin of the seller",
        )
        .body::<ChangeProviderInput>(),
    )
    .add(
        "POST",
        "/v1/deliveries/{id}/change-operator",
        post(change_operator),
        command(
            "hand the project to another staff member of the same role with free capacity",
            "isv_admin of the provider",
        )
        .body::<ChangeOperatorInput>(),
    )
    .add(
        "POST",
        "/v1/deliveries/{id}/pause",
        post(pause),
        command(
            "pause the project (its deadline stops)",
            "isv_admin of the provider",
        )
        .body::<RemarkInput>(),
    )
    .add(
        "POST",
        "/v1/deliveries/{id}/resume",
        post(resume),
        command(
            "resume a paused project (its deadline restarts with the time left)",
            "isv_admin of the provider",
        )
        .body::<RemarkInput>(),
    )
    .add(
        "POST",
        "/v1/deliveries/{id}/close",
        post(close),
        command(
            "close the project: cancelled, the order refunded in full",
            "platform",
        )
        .body::<RemarkInput>(),
    )
    .add(
        "POST",
        "/v1/deliveries/{id}/messages",
        post(message),
        command(
            "post a message, visible to every party",
            "parties but the auditor",
        )
        .body::<TextInput>(),
    )
    .add(
        "POST",
        "/v1/deliveries/{id}/notes",
        post(note),
        command(
            "post a note, visible to the provider side only",
            "isv_admin and staff of the provider, platform",
        )
        .body::<TextInput>(),
    )
}

/// A project's view; `None` before it started.
pub fn delivery_view(
    app: &App,
    id: &str,
    s: &DeliveryState,
    version: u64,
    position: Option<u64>,
) -> Option<DeliveryView> {
    let started = s.started.as_ref()?;
    let current_node =
        (!s.is_over())
            .then(|| s.current_node())
            .flatten()
            .map(|f| CurrentNodeView {
                id: f.node.id.clone(),
                node_type: serde_json::to_value(f.node.node_type)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                name: f.node.name.clone(),
                side: side_name(f.node.acting_side()).to_owned(),
                role: f.node.role.clone(),
                entered_at: s.entered_at.map(|t| app.time(t)),
                due_at: s.due_at.map(|t| app.time(t)),
            });
    Some(DeliveryView {
        id: id.to_owned(),
        order_id: started.order_id.clone(),
        product_id: started.product_id.clone(),
        customer_id: started.customer_id.clone(),
        seller_org_id: started.seller_org_id.clone(),
        provider_org_id: s.provider_org_id.clone(),
        status: s.status.as_str().to_owned(),
        timed_out: s.timed_out,
        template_id: started.template_id.clone(),
        current_node,
        operator: s.operator().map(|o| OperatorView {
            staff_id: o.staff_id.clone(),
            name: o.name.clone(),
        }),
        queued: s.queued.as_ref().map(|q| QueuedView {
            reason: q.reason.as_str().to_owned(),
            since: app.time(q.since),
        }),
        stage: s.stage().map(|st| stage_name(st).to_owned()),
        created_at: app.time(started.at),
        completed_at: s.completed_at.map(|t| app.time(t)),
        version,
        position,
    })
}

fn row_view(app: &App, r: &DeliveryRow) -> Option<DeliveryView> {
    delivery_view(app, &r.id, &r.state, r.version, None)
}

/// The facet a list walks (the smallest the query names, else the tab).
fn list_facets(q: &ListQuery) -> Result<Vec<String>, ApiError> {
    let tab = q.tab.as_deref().unwrap_or("all");
    if !TABS.contains(&tab) {
        return Err(
            ApiError::bad_request(format!("tab must be one of {}", TABS.join(", ")))
                .with("field", "tab"),
        );
    }
    let mut facets = vec![format!("tab:{tab}")];
    let searches = [
        ("order", &q.order_id),
        ("operator", &q.operator_id),
        ("customer", &q.customer_id),
        ("product", &q.product_id),
    ];
    for (name, value) in searches {
        if let Some(v) = value {
            facets.push(format!("{name}:{v}"));
        }
    }
    Ok(facets)
}

/// The list keys of every facet after `after`, the caller's own only, in list order: a
/// seek into the smallest facet, filtered by the others.
fn walk<'a>(
    d: &'a DeliveriesState,
    caller: &'a Caller,
    facets: &'a [String],
    after: Option<&'a str>,
) -> impl Iterator<Item = (String, &'a DeliveryRow)> + 'a {
    static EMPTY: BTreeSet<String> = BTreeSet::new();
    let sets: Vec<&'a BTreeSet<String>> = facets
        .iter()
        .map(|f| d.facet(f).unwrap_or(&EMPTY))
        .collect();
    let smallest: &'a BTreeSet<String> = sets
        .iter()
        .copied()
        .min_by_key(|s| s.len())
        .unwrap_or(&EMPTY);
    let start = match after {
        Some(a) => Bound::Excluded(a.to_owned()),
        None => Bound::Unbounded,
    };
    smallest
        .range((start, Bound::Unbounded))
        .filter_map(move |key| {
            if !sets.iter().all(|s| s.contains(key)) {
                return None;
            }
            let row = d.by_key.get(key).and_then(|id| d.deliveries.get(id))?;
            access::sees_delivery(caller, &row.state).then_some((key.clone(), row))
        })
}

async fn list(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    access::LIST_DELIVERIES.check(&caller)?;
    let q = crate::extract::query(q)?;
    let (limit, after) = PageQuery::bounds(q.limit, q.cursor.as_deref())?;
    let facets = list_facets(&q)?;
    app.wait_for(&app.deliveries, min).await?;
    let ((items, next), position) = app.deliveries.read(|d| {
        let rows = walk(d, &caller, &facets, after.as_deref())
            .filter_map(|(key, row)| row_view(&app, row).map(|v| (key, v)));
        page(rows, after.as_deref(), limit)
    });
    Ok(respond::list::<DeliveryPage>(items, next, position))
}

async fn detail(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    access::GET_DELIVERY.check(&caller)?;
    app.wait_for(&app.deliveries, min).await?;
    let (found, position) = app.deliveries.read(|d| {
        d.deliveries
            .get(&id)
            .filter(|r| access::sees_delivery(&caller, &r.state))
            .and_then(|r| row_view(&app, r))
    });
    let view = found.ok_or_else(|| ApiError::not_found("delivery"))?;
    Ok(respond::read(&view, Some(view.version), position))
}

/// Who reads notes: the provider side and the auditor.
fn reads_notes(caller: &Caller, s: &DeliveryState) -> bool {
    caller.role == Role::Auditor || access::provider_side(caller, s)
}

fn log_view(app: &App, item: &LogItem) -> LogItemView {
    LogItemView {
        at: app.time(item.at),
        actor: item.actor.clone(),
        event_type: item.event_type.clone(),
        node_id: item.node_id.clone(),
        remark: item.remark.clone(),
        reason: item.reason.clone(),
        text: item.text.clone(),
        file_id: item.file_id.clone(),
    }
}

async fn log(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    access::DELIVERY_LOG.check(&caller)?;
    app.wait_for(&app.deliveries, min).await?;
    let (found, position) = app.deliveries.read(|d| {
        let r = d
            .deliveries
            .get(&id)
            .filter(|r| access::sees_delivery(&caller, &r.state))?;
        let notes = reads_notes(&caller, &r.state);
        Some(DeliveryLogView {
            items: r
                .log
                .iter()
                .filter(|i| notes || !i.provider_only)
                .map(|i| log_view(&app, i))
                .collect(),
        })
    });
    let view = found.ok_or_else(|| ApiError::not_found("delivery"))?;
    Ok(respond::read(&view, None, position))
}

/// The project `id` through the runner; 404 unless the caller is one of its parties.
pub fn load_delivery(
    app: &App,
    caller: &Caller,
    id: &str,
) -> Result<Loaded<DeliveryState>, ApiError> {
    if !is_valid_id(IdKind::Delivery, id) {
        return Err(ApiError::not_found("delivery"));
    }
    let loaded = app
        .runner
        .load::<Delivery>(&delivery_stream(id), u64::MAX)?;
    if !access::sees_delivery(caller, &loaded.state) {
        return Err(ApiError::not_found("delivery"));
    }
    Ok(loaded)
}

/// The party a caller acts as on a node.
pub fn party(caller: &Caller) -> Party {
    match caller.role {
        Role::Customer => Party::Customer(caller.id.clone()),
        Role::IsvStaff => Party::Staff(caller.staff_id.clone().unwrap_or_default()),
        _ => Party::Admin(caller.id.clone()),
    }
}

fn answer(app: &App, id: &str, done: &Executed<DeliveryState>) -> Result<Response, ApiError> {
    let view = delivery_view(app, id, &done.state, done.version, Some(done.position))
        .ok_or_else(|| ApiError::internal("delivery answer", "the delivery has not started"))?;
    Ok(respond::command(StatusCode::OK, &view, done.version))
}

/// Runs `step` on project `id` and answers with the project.
pub async fn run(
    app: &App,
    caller: &Caller,
    headers: &CommandHeaders,
    body: &Body,
    name: &'static str,
    id: &str,
    step: domain::delivery::flow::Step,
) -> Result<Executed<DeliveryState>, ApiError> {
    let meta = app.command_meta(caller, headers, body, name)?;
    let decision = domain::delivery::flow::act(id, step);
    app.runner.decide::<Delivery>(&meta, &decision).await
}

#[allow(clippy::too_many_arguments)]
async fn run_answer(
    app: &App,
    caller: &Caller,
    headers: &CommandHeaders,
    body: &Body,
    name: &'static str,
    id: &str,
    step: domain::delivery::flow::Step,
) -> Result<Response, ApiError> {
    let done = run(app, caller, headers, body, name, id, step).await?;
    answer(app, id, &done)
}

fn command(c: DeliveryCommand) -> domain::delivery::flow::Step {
    domain::delivery::flow::Step::Command(c)
}

async fn submit(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path((id, node_id)): Path<(String, String)>,
    body: Body,
) -> Result<Response, ApiError> {
    access::SUBMIT_NODE.check(&caller)?;
    load_delivery(&app, &caller, &id)?;
    let input: SubmitInput = body.json()?;
    let step = command(DeliveryCommand::SubmitRequirement {
        node_id,
        by: party(&caller),
        form: RequirementForm {
            contact_name: input.contact_name,
            phone: input.phone,
            email: input.email,
            address: input.address,
            description: input.description,
            file_ids: input.file_ids,
        },
    });
    run_answer(
        &app,
        &caller,
        &headers,
        &body,
        "SubmitRequirement",
        &id,
        step,
    )
    .await
}

async fn complete(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path((id, node_id)): Path<(String, String)>,
    body: Body,
) -> Result<Response, ApiError> {
    access::COMPLETE_NODE.check(&caller)?;
    load_delivery(&app, &caller, &id)?;
    let input: CompleteInput = body.json()?;
    let step = command(DeliveryCommand::Complete {
        node_id,
        by: party(&caller),
        note: input.note,
        file_ids: input.file_ids,
        delivery_info: input.delivery_info,
    });
    run_answer(&app, &caller, &headers, &body, "CompleteNode", &id, step).await
}

async fn reject(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path((id, node_id)): Path<(String, String)>,
    body: Body,
) -> Result<Response, ApiError> {
    access::REJECT_NODE.check(&caller)?;
    load_delivery(&app, &caller, &id)?;
    let input: RejectInput = body.json()?;
    let step = command(DeliveryCommand::Reject {
        node_id,
        by: party(&caller),
        reason: input.reason,
    });
    run_answer(&app, &caller, &headers, &body, "RejectNode", &id, step).await
}

async fn claim(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::CLAIM.check(&caller)?;
    load_delivery(&app, &caller, &id)?;
    let staff_id = caller
        .staff_id
        .clone()
        .ok_or_else(|| ApiError::not_found("staff"))?;
    let step = domain::delivery::flow::Step::Claim { staff_id };
    run_answer(&app, &caller, &headers, &body, "ClaimDelivery", &id, step).await
}

async fn dispatch(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::DISPATCH.check(&caller)?;
    load_delivery(&app, &caller, &id)?;
    let input: DispatchInput = body.json()?;
    if input.provider_org_id.is_some() == input.staff_id.is_some() {
        return Err(ApiError::validation(
            "provider_org_id",
            "one_of",
            "name either provider_org_id or staff_id",
        ));
    }
    let step = domain::delivery::flow::Step::Dispatch {
        provider_org_id: input.provider_org_id,
        staff_id: input.staff_id,
    };
    run_answer(
        &app,
        &caller,
        &headers,
        &body,
        "DispatchDelivery",
        &id,
        step,
    )
    .await
}

async fn change_provider(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::CHANGE_PROVIDER.check(&caller)?;
    let loaded = load_delivery(&app, &caller, &id)?;
    if caller.role == Role::IsvAdmin && !access::seller_admin(&caller, &loaded.state) {
        return Err(ApiError::forbidden("isv_admin of the provider"));
    }
    let input: ChangeProviderInput = body.json()?;
    let step = command(DeliveryCommand::ChangeProvider {
        org_id: input.org_id,
        remark: input.remark,
    });
    run_answer(&app, &caller, &headers, &body, "ChangeProvider", &id, step).await
}

async fn change_operator(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::CHANGE_OPERATOR.check(&caller)?;
    provider_admin(&app, &caller, &id)?;
    let input: ChangeOperatorInput = body.json()?;
    let step = domain::delivery::flow::Step::ChangeOperator {
        staff_id: input.staff_id,
        remark: input.remark,
    };
    run_answer(&app, &caller, &headers, &body, "ChangeOperator", &id, step).await
}

/// 404 unless a party, 403 unless the provider org's isv_admin.
fn provider_admin(app: &App, caller: &Caller, id: &str) -> Result<(), ApiError> {
    let loaded = load_delivery(app, caller, id)?;
    if !access::provider_side(caller, &loaded.state) {
        return Err(ApiError::forbidden("isv_admin of the seller"));
    }
    Ok(())
}

async fn pause(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::PAUSE.check(&caller)?;
    hold(app, caller, headers, id, body, true).await
}

async fn resume(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::RESUME.check(&caller)?;
    hold(app, caller, headers, id, body, false).await
}

/// Pause (`pause`) or resume a project: the provider org's isv_admin, with a remark.
async fn hold(
    app: App,
    caller: Caller,
    headers: CommandHeaders,
    id: String,
    body: Body,
    pause: bool,
) -> Result<Response, ApiError> {
    provider_admin(&app, &caller, &id)?;
    let RemarkInput { remark } = body.json()?;
    let (step, name) = if pause {
        (command(DeliveryCommand::Pause { remark }), "PauseDelivery")
    } else {
        (
            command(DeliveryCommand::Resume { remark }),
            "ResumeDelivery",
        )
    };
    run_answer(&app, &caller, &headers, &body, name, &id, step).await
}

async fn close(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::CLOSE.check(&caller)?;
    load_delivery(&app, &caller, &id)?;
    let input: RemarkInput = body.json()?;
    let step = command(DeliveryCommand::Close {
        remark: input.remark,
    });
    run_answer(&app, &caller, &headers, &body, "CloseDelivery", &id, step).await
}

async fn message(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::POST_MESSAGE.check(&caller)?;
    load_delivery(&app, &caller, &id)?;
    let input: TextInput = body.json()?;
    let step = command(DeliveryCommand::PostMessage {
        message_id: app.ids.new_id(IdKind::Message),
        text: input.text,
        by: party(&caller),
    });
    run_answer(&app, &caller, &headers, &body, "PostMessage", &id, step).await
}

async fn note(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::POST_NOTE.check(&caller)?;
    let loaded = load_delivery(&app, &caller, &id)?;
    if !access::provider_side(&caller, &loaded.state) {
        return Err(ApiError::forbidden("isv_admin of the seller"));
    }
    let input: TextInput = body.json()?;
    let step = command(DeliveryCommand::PostNote {
        note_id: app.ids.new_id(IdKind::Message),
        text: input.text,
        by: party(&caller),
    });
    run_answer(&app, &caller, &headers, &body, "PostNote", &id, step).await
}
