//! API.md §5, after the sale: invoices (cash paid minus cash refunded; postage rule at
//! 200 yuan) and reviews (three scores, defaulted 5/5/5 after 30 days and left out of the
//! shop score, one seller reply within 30 days, bad reviews until replied). Both live in
//! their order's stream.

use std::collections::BTreeSet;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::ids::IdKind;
use domain::order::{order_stream, Invoice, Order, OrderCommand, OrderState, Review};
use domain::Role;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::{Body, Caller, CommandHeaders, MinPosition};
use crate::paging::{page, PageQuery};
use crate::respond;
use crate::routes::orders::{held_list, load_for, order_holding, Held, HeldListQuery};
use crate::routes::{Doc, Routes};
use crate::state::App;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceRequest {
    /// `ordinary` or `special_vat`.
    #[serde(rename = "type")]
    pub invoice_type: String,
    pub title: String,
    pub tax_id: String,
    pub address: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Issue {
    pub tracking: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectInvoice {
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    pub quality: u8,
    pub attitude: u8,
    pub speed: u8,
    pub comment: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceView {
    pub id: String,
    pub order_id: String,
    #[serde(rename = "type")]
    pub invoice_type: String,
    pub title: String,
    pub tax_id: String,
    pub address: String,
    pub amount_cents: i64,
    pub seller_pays_postage: bool,
    pub status: String,
    pub tracking: Option<String>,
    pub reject_reason: Option<String>,
    pub requested_at: String,
    pub version: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvoicePage {
    pub items: Vec<InvoiceView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewView {
    pub id: String,
    /// The reviewed order; null in `GET /v1/reviews` unless the caller is a party of it
    /// (its customer, the seller's isv_admin, platform, auditor).
    pub order_id: Option<String>,
    pub product_id: String,
    pub org_id: String,
    pub quality: u8,
    pub attitude: u8,
    pub speed: u8,
    pub comment: String,
    pub default: bool,
    pub bad_unhandled: bool,
    pub reply: Option<String>,
    pub at: String,
    pub version: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewPage {
    pub items: Vec<ReviewView>,
    pub next_cursor: Option<String>,
    /// Mean of the non-default reviews' scores per seller org in this answer (null: none).
    #[schema(value_type = Object)]
    pub shop_score: Value,
}

pub fn routes(r: Routes) -> Routes {
    use axum::routing::{get, post};
    r.add(
        "POST",
        "/v1/orders/{id}/invoice-requests",
        post(request_invoice),
        Doc::new("request an invoice for a paid order", "customer (own)")
            .body::<InvoiceRequest>()
            .answers::<InvoiceView>(201),
    )
    .add(
        "POST",
        "/v1/invoices/{id}/issue",
        post(issue),
        Doc::new("issue with mailing tracking", "isv_admin (seller)")
            .body::<Issue>()
            .answers::<InvoiceView>(200),
    )
    .add(
        "POST",
        "/v1/invoices/{id}/reject",
        post(reject),
        Doc::new("reject with a reason", "isv_admin (seller)")
            .body::<RejectInvoice>()
            .answers::<InvoiceView>(200),
    )
    .add(
        "GET",
        "/v1/invoices",
        get(invoices),
        Doc::new(
            "invoices; status=requested is the seller's pending queue",
            "isv_admin (own), customer (own), platform, auditor",
        )
        .query("status", "filter")
        .query("order_id", "filter")
        .query("limit", "1..=500")
        .query("cursor", "next_cursor")
        .answers::<InvoicePage>(200),
    )
    .add(
        "POST",
        "/v1/orders/{id}/review",
        post(review),
        Doc::new("review a completed order (scores 1..=5)", "customer (own)")
            .body::<ReviewInput>()
            .answers::<ReviewView>(201),
    )
    .add(
        "POST",
        "/v1/reviews/{id}/reply",
        post(reply),
        Doc::new(
            "reply once, within 30 days of the review (else 409)",
            "isv_admin (seller)",
        )
        .body::<Reply>()
        .answers::<ReviewView>(200),
    )
    .add(
        "GET",
        "/v1/reviews",
        get(reviews),
        Doc::new(
            "reviews (default: true for defaulted ones) and the shop score per org",
            "any",
        )
        .query("product_id", "filter")
        .query("org_id", "filter")
        .query("bad_unhandled", "true: bad reviews without a reply")
        .query("limit", "1..=500")
        .query("cursor", "next_cursor")
        .answers::<ReviewPage>(200),
    )
}

fn invoice_json(app: &App, order_id: &str, i: &Invoice, version: u64) -> Value {
    json!({
        "id": i.id, "order_id": order_id, "type": json!(i.invoice_type), "title": i.title, "tax_id": i.tax_id,
        "address": i.address, "amount_cents": i.amount.0, "seller_pays_postage": i.seller_pays_postage,
        "status": i.status.as_str(), "tracking": i.tracking, "reject_reason": i.reject_reason,
        "requested_at": app.time(i.requested_at), "decided_at": i.decided_at.map(|t| app.time(t)), "version": version,
    })
}

fn review_json(app: &App, order_id: &str, s: &OrderState, r: &Review, version: u64) -> Value {
    let (product, org) = s
        .placed
        .as_ref()
        .map(|p| (p.product_id.clone(), p.seller_org_id.clone()))
        .unwrap_or_default();
    json!({
        "id": r.id, "order_id": order_id, "product_id": product, "org_id": org,
        "quality": r.quality, "attitude": r.attitude, "speed": r.speed, "comment": r.comment,
        "default": r.default, "bad_unhandled": r.bad_unhandled(), "reply": r.reply,
        "replied_at": r.replied_at.map(|t| app.time(t)), "at": app.time(r.at), "version": version,
    })
}

async fn request_invoice(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(order_id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Customer])?;
    load_for(&app, &caller, &[caller.role], &order_id)?;
    let input: InvoiceRequest = body.json()?;
    let invoice_id = app.ids.new_id(IdKind::Invoice);
    let cmd = OrderCommand::RequestInvoice {
        invoice_id: invoice_id.clone(),
        invoice_type: input.invoice_type,
        title: input.title,
        tax_id: input.tax_id,
        address: input.address,
    };
    let meta = app.command_meta(&caller, &headers, &body, "RequestInvoice")?;
    let done = app
        .runner
        .execute::<Order>(&meta, &order_stream(&order_id), &cmd)
        .await?;
    let inv = done
        .state
        .invoice(&invoice_id)
        .or(done.state.invoices.last())
        .ok_or_else(|| ApiError::internal("invoice", "missing after append"))?;
    Ok(respond::command(
        StatusCode::CREATED,
        invoice_json(&app, &order_id, inv, done.version),
        done.version,
        done.position,
    ))
}

async fn decide_invoice(
    app: App,
    caller: Caller,
    headers: CommandHeaders,
    invoice_id: String,
    body: Body,
    issue: bool,
) -> Result<Response, ApiError> {
    caller.require(&[Role::IsvAdmin])?;
    let order_id = order_holding(&app, &invoice_id, "invoice", |s| &s.invoice_orders).await?;
    load_for(&app, &caller, &[caller.role], &order_id)?;
    let (name, cmd) = if issue {
        (
            "IssueInvoice",
            OrderCommand::IssueInvoice {
                invoice_id: invoice_id.clone(),
                tracking: body.json::<Issue>()?.tracking,
            },
        )
    } else {
        (
            "RejectInvoice",
            OrderCommand::RejectInvoice {
                invoice_id: invoice_id.clone(),
                reason: body.json::<RejectInvoice>()?.reason,
            },
        )
    };
    let meta = app.command_meta(&caller, &headers, &body, name)?;
    let done = app
        .runner
        .execute::<Order>(&meta, &order_stream(&order_id), &cmd)
        .await?;
    let inv = done
        .state
        .invoice(&invoice_id)
        .ok_or_else(|| ApiError::not_found("invoice"))?;
    Ok(respond::command(
        StatusCode::OK,
        invoice_json(&app, &order_id, inv, done.version),
        done.version,
        done.position,
    ))
}

async fn issue(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    decide_invoice(app, caller, headers, id, body, true).await
}

async fn reject(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    decide_invoice(app, caller, headers, id, body, false).await
}

const INVOICES: Held<Invoice> = Held {
    index: |s| (&s.invoice_orders, &s.invoices_by_party),
    find: |s, id| s.invoice(id),
    status: |i| i.status.as_str(),
    json: invoice_json,
};

async fn invoices(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    q: Result<Query<HeldListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(&[
        Role::IsvAdmin,
        Role::Customer,
        Role::Platform,
        Role::Auditor,
    ])?;
    held_list(&app, &caller, min, q, &INVOICES).await
}

async fn review(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(order_id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Customer])?;
    load_for(&app, &caller, &[caller.role], &order_id)?;
    let input: ReviewInput = body.json()?;
    let cmd = OrderCommand::Review {
        review_id: app.ids.new_id(IdKind::Review),
        quality: input.quality,
        attitude: input.attitude,
        speed: input.speed,
        comment: input.comment,
    };
    let meta = app.command_meta(&caller, &headers, &body, "ReviewOrder")?;
    let done = app
        .runner
        .execute::<Order>(&meta, &order_stream(&order_id), &cmd)
        .await?;
    let r = done
        .state
        .review
        .as_ref()
        .ok_or_else(|| ApiError::internal("review", "missing after append"))?;
    Ok(respond::command(
        StatusCode::CREATED,
        review_json(&app, &order_id, &done.state, r, done.version),
        done.version,
        done.position,
    ))
}

async fn reply(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(review_id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    caller.require(&[Role::IsvAdmin])?;
    let order_id = order_holding(&app, &review_id, "review", |s| &s.review_orders).await?;
    load_for(&app, &caller, &[caller.role], &order_id)?;
    let input: Reply = body.json()?;
    let meta = app.command_meta(&caller, &headers, &body, "ReplyToReview")?;
    let done = app
        .runner
        .execute::<Order>(
            &meta,
            &order_stream(&order_id),
            &OrderCommand::ReplyToReview { text: input.text },
        )
        .await?;
    let r = done
        .state
        .review
        .as_ref()
        .ok_or_else(|| ApiError::not_found("review"))?;
    Ok(respond::command(
        StatusCode::OK,
        review_json(&app, &order_id, &done.state, r, done.version),
        done.version,
        done.position,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewQuery {
    product_id: Option<String>,
    org_id: Option<String>,
    bad_unhandled: Option<bool>,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn reviews(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    q: Result<Query<ReviewQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = crate::extract::query(q)?;
    let (limit, after) = PageQuery::bounds(q.limit, q.cursor.as_deref())?;
    app.wait_for(&app.orders, min).await?;
    let ((items, next, scores), position) = app.orders.read(|s| {
        // A product's or an org's reviews walk only theirs (a shop page's usual question).
        let ids: Box<dyn Iterator<Item = &String>> =
            match q.product_id.as_deref().or(q.org_id.as_deref()) {
                Some(key) => Box::new(s.reviews_by_seller.after(key, after.as_deref())),
                None => Box::new(
                    crate::paging::seek(&s.review_orders, after.as_deref()).map(|(k, _)| k),
                ),
            };
        let matching = ids
            .filter_map(|rid| Some((rid, s.review_orders.get(rid)?)))
            .filter_map(|(rid, oid)| {
                let row = s.by_id.get(oid)?;
                let r = row.state.review.as_ref()?;
                let p = row.state.placed.as_ref()?;
                let keep = q.product_id.as_deref().is_none_or(|w| w == p.product_id)
                    && q.org_id.as_deref().is_none_or(|w| w == p.seller_org_id)
                    && q.bad_unhandled.is_none_or(|b| b == r.bad_unhandled());
                keep.then(|| {
                    let mut item = review_json(&app, oid, &row.state, r, row.version);
                    // Reviews are public; which order (and so which customer's purchase) one
                    // is about is for the order's parties only (ARCHITECTURE.md, api).
                    if !super::orders::party(&caller, &row.state) {
                        item["order_id"] = Value::Null;
                    }
                    (rid.clone(), item)
                })
            });
        let (items, next) = page(matching, after.as_deref(), limit);
        // Shop score of every org on the page (and of the asked one): the mean of all its
        // non-default reviews, whatever the list's filters — kept by the model as reviews
        // arrive, not recounted per request.
        let orgs: BTreeSet<&str> = items
            .iter()
            .filter_map(|i| i["org_id"].as_str())
            .chain(q.org_id.as_deref())
            .collect();
        let scores: serde_json::Map<String, Value> = orgs
            .into_iter()
            .filter_map(|org| {
                let mean = s.shop_scores.get(org)?.mean()?;
                Some((org.to_owned(), json!(mean)))
            })
            .collect();
        (items, next, scores)
    });
    let mut resp = json!({"items": items, "next_cursor": next, "shop_score": scores});
    if let Some(org) = &q.org_id {
        resp["shop_score"] = resp["shop_score"].get(org).cloned().unwrap_or(Value::Null);
    }
    Ok(respond::read(resp, position))
}
