//! API.md §5, refunds: customer requests (5-day window, auto-approved after 3 days),
//! seller-initiated refunds reviewed by the platform, decisions, lists. Refunds live in their
//! order's stream, so "at most one open refund" and "refunded ≤ paid" hold under any race.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::ids::IdKind;
use domain::order::{
    order_stream, Approver, Order, OrderCommand, Refund, RefundInitiator, RefundKind, RefundStatus,
    Release,
};
use domain::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access;
use crate::error::ApiError;
use crate::extract::{Body, Caller, CommandHeaders, MinPosition};
use crate::respond;
use crate::routes::held::{held_list, load_for, order_holding, Held, HeldListQuery};
use crate::routes::{Doc, Routes};
use crate::state::App;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Default: the whole remaining balance.
    #[schema(minimum = 1)]
    pub amount_cents: Option<i64>,
    #[schema(max_length = 200)]
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SellerRefund {
    /// `full` or `remaining` (a seller refund is never a `request`).
    #[schema(schema_with = seller_refund_kind)]
    pub kind: String,
    /// Required for `remaining`.
    #[schema(minimum = 1)]
    pub amount_cents: Option<i64>,
    #[schema(schema_with = crate::schema::release)]
    pub release: String,
    /// Required for `keep`.
    #[schema(max_length = 200)]
    pub keep_reason: Option<String>,
    #[schema(max_length = 200)]
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Required to reject.
    #[schema(max_length = 200)]
    pub reason: Option<String>,
}

fn seller_refund_kind() -> utoipa::openapi::schema::Object {
    crate::schema::one_of(&["full", "remaining"])
}

/// The refund read model (API.md §5).
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundView {
    pub id: String,
    pub order_id: String,
    #[schema(schema_with = crate::schema::refund_initiator)]
    pub initiated_by: RefundInitiator,
    #[schema(schema_with = crate::schema::refund_kind)]
    pub kind: RefundKind,
    #[schema(minimum = 1)]
    pub amount_cents: i64,
    #[schema(minimum = 0)]
    pub cash_cents: i64,
    #[schema(minimum = 0)]
    pub voucher_cents: i64,
    #[schema(schema_with = crate::schema::release)]
    pub release: Release,
    pub keep_reason: Option<String>,
    pub reason: String,
    #[schema(schema_with = crate::schema::refund_status)]
    pub status: RefundStatus,
    #[schema(format = DateTime)]
    pub requested_at: String,
    /// When a pending_seller refund is approved automatically; null in other states.
    #[schema(format = DateTime)]
    pub auto_approve_at: Option<String>,
    #[schema(format = DateTime)]
    pub decided_at: Option<String>,
    pub decided_by: Option<String>,
    pub reject_reason: Option<String>,
    /// Distribution orders: the commission on the refunded amount, clawed back.
    #[schema(minimum = 0)]
    pub commission_clawback_cents: i64,
    pub version: u64,
    /// Command answers only: the log position of the command's last event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
}

crate::page!(
    /// One page of refunds, in id order.
    RefundPage,
    RefundView
);

pub fn routes(r: Routes) -> Routes {
    use axum::routing::{get, post};
    r.add(
        "POST",
        "/v1/orders/{id}/refund-requests",
        post(request),
        Doc::new(
            "request a refund within 5 days of payment (auto-approved after 3 days)",
            "customer (own)",
        )
        .body::<RefundRequest>()
        .answers::<RefundView>(201),
    )
    .add(
        "POST",
        "/v1/orders/{id}/seller-refunds",
        post(seller_refund),
        Doc::new(
            "seller-initiated refund, reviewed by the platform",
            "isv_admin (seller)",
        )
        .body::<SellerRefund>()
        .answers::<RefundView>(201),
    )
    .add(
        "POST",
        "/v1/refunds/{id}/approve",
        post(approve),
        Doc::new(
            "approve: the seller a pending_seller refund, the platform a pending_platform one",
            "isv_admin, platform",
        )
        .body::<Decision>()
        .answers::<RefundView>(200),
    )
    .add(
        "POST",
        "/v1/refunds/{id}/reject",
        post(reject),
        Doc::new("reject with a reason", "isv_admin, platform")
            .body::<Decision>()
            .answers::<RefundView>(200),
    )
    .add(
        "GET",
        "/v1/refunds/{id}",
        get(detail),
        Doc::new("one refund", "isv_admin, platform, customer (own), auditor")
            .answers::<RefundView>(200),
    )
    .add(
        "GET",
        "/v1/refunds",
        get(list),
        Doc::new(
            "refunds; status=pending_seller is the seller's queue with auto_approve_at",
            "isv_admin, platform, customer (own), auditor",
        )
        .query("status", "filter")
        .query("order_id", "filter")
        .query("limit", "1..=500")
        .query("cursor", "next_cursor")
        .answers::<RefundPage>(200),
    )
}

fn refund_view(app: &App, order_id: &str, r: &Refund, version: u64) -> RefundView {
    let t = |v: Option<domain::Timestamp>| v.map(|t| app.time(t));
    RefundView {
        id: r.id.clone(),
        order_id: order_id.to_owned(),
        initiated_by: r.initiated_by,
        kind: r.kind,
        amount_cents: r.amount.0,
        cash_cents: r.cash.0,
        voucher_cents: r.voucher.0,
        release: r.release,
        keep_reason: r.keep_reason.clone(),
        reason: r.reason.clone(),
        status: r.status,
        requested_at: app.time(r.requested_at),
        auto_approve_at: if r.status == RefundStatus::PendingSeller {
            t(r.auto_approve_at)
        } else {
            None
        },
        decided_at: t(r.decided_at),
        decided_by: r.decided_by.clone(),
        reject_reason: r.reject_reason.clone(),
        commission_clawback_cents: r.commission_clawback.0,
        version,
        position: None,
    }
}

/// A command's answer about a refund.
fn refund_answer(
    app: &App,
    status: StatusCode,
    order_id: &str,
    r: &Refund,
    done: &crate::runner::Executed<domain::order::OrderState>,
) -> Response {
    let view = RefundView {
        position: Some(done.position),
        ..refund_view(app, order_id, r, done.version)
    };
    respond::command(status, &view, done.version)
}

/// A refund-creating command: its metric name, the command and the new refund's id.
struct NewRefund {
    name: &'static str,
    cmd: OrderCommand,
    refund_id: String,
}

async fn create(
    app: &App,
    caller: &Caller,
    headers: &CommandHeaders,
    body: &Body,
    order_id: &str,
    NewRefund {
        name,
        cmd,
        refund_id,
    }: NewRefund,
) -> Result<Response, ApiError> {
    let meta = app.command_meta(caller, headers, body, name)?;
    let done = app
        .runner
        .execute::<Order>(&meta, &order_stream(order_id), &cmd)
        .await?;
    // A deduplicated retry answers with the refund it created the first time.
    let r = done
        .state
        .refund(&refund_id)
        .or(done.state.refunds.last())
        .ok_or_else(|| ApiError::internal("refund", "refund missing after append"))?;
    Ok(refund_answer(app, StatusCode::CREATED, order_id, r, &done))
}

async fn request(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(order_id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::REQUEST_REFUND.check(&caller)?;
    load_for(&app, &caller, &order_id)?;
    let input: RefundRequest = body.json()?;
    let refund_id = app.ids.new_id(IdKind::Refund);
    let cmd = OrderCommand::RequestRefund {
        refund_id: refund_id.clone(),
        amount_cents: input.amount_cents,
        reason: input.reason,
    };
    create(
        &app,
        &caller,
        &headers,
        &body,
        &order_id,
        NewRefund {
            name: "RequestRefund",
            cmd,
            refund_id,
        },
    )
    .await
}

async fn seller_refund(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(order_id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::SELLER_REFUND.check(&caller)?;
    load_for(&app, &caller, &order_id)?;
    let input: SellerRefund = body.json()?;
    let refund_id = app.ids.new_id(IdKind::Refund);
    let cmd = OrderCommand::SellerRefund {
        refund_id: refund_id.clone(),
        kind: input.kind,
        amount_cents: input.amount_cents,
        release: input.release,
        keep_reason: input.keep_reason,
        reason: input.reason,
    };
    create(
        &app,
        &caller,
        &headers,
        &body,
        &order_id,
        NewRefund {
            name: "SellerRefund",
            cmd,
            refund_id,
        },
    )
    .await
}

async fn decide(
    app: App,
    caller: Caller,
    headers: CommandHeaders,
    refund_id: String,
    body: Body,
    approve: bool,
) -> Result<Response, ApiError> {
    let order_id = order_holding(&app, &refund_id, "refund", |s| &s.refund_orders).await?;
    load_for(&app, &caller, &order_id)?;
    let input: Decision = body.json()?;
    let approver = if caller.role == Role::Platform {
        Approver::Platform
    } else {
        Approver::Seller
    };
    let (name, cmd) = if approve {
        (
            "ApproveRefund",
            OrderCommand::ApproveRefund {
                refund_id: refund_id.clone(),
                approver,
            },
        )
    } else {
        (
            "RejectRefund",
            OrderCommand::RejectRefund {
                refund_id: refund_id.clone(),
                approver,
                reason: input.reason.unwrap_or_default(),
            },
        )
    };
    let meta = app.command_meta(&caller, &headers, &body, name)?;
    let decide = domain::order::DecideRefund {
        order_id: order_id.clone(),
        command: cmd,
    };
    let done = app.runner.decide::<Order>(&meta, &decide).await?;
    let r = done
        .state
        .refund(&refund_id)
        .ok_or_else(|| ApiError::not_found("refund"))?;
    Ok(refund_answer(&app, StatusCode::OK, &order_id, r, &done))
}

async fn approve(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::APPROVE_REFUND.check(&caller)?;
    decide(app, caller, headers, id, body, true).await
}

async fn reject(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::REJECT_REFUND.check(&caller)?;
    decide(app, caller, headers, id, body, false).await
}

async fn detail(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    access::GET_REFUND.check(&caller)?;
    app.wait_for(&app.orders, min).await?;
    let (found, position) = app.orders.read(|s| {
        let order_id = s.refund_orders.get(&id)?;
        let row = s.by_id.get(order_id)?;
        let refund = row.state.refund(&id)?;
        access::sees_order(&caller, &row.state)
            .then(|| refund_view(&app, order_id, refund, row.version))
    });
    let view = found.ok_or_else(|| ApiError::not_found("refund"))?;
    Ok(respond::read(&view, Some(view.version), position))
}

const REFUNDS: Held<Refund, RefundView> = Held {
    index: |s| (&s.refund_orders, &s.refunds_by_party),
    find: |s, id| s.refund(id),
    status: |r| r.status.as_str(),
    view: refund_view,
};

async fn list(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    q: Result<Query<HeldListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    access::LIST_REFUNDS.check(&caller)?;
    held_list::<_, RefundPage>(&app, &caller, min, q, &REFUNDS).await
}
