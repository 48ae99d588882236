//! API.md §5, after the sale: invoices (cash paid minus cash refunded; postage rule at
//! 200 yuan) and reviews (three scores, defaulted 5/5/5 after 30 days and left out of the
//! shop score, one seller reply within 30 days, bad reviews until replied). Both live in
//! their order's stream.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::ids::IdKind;
use domain::order::{
    order_stream, Invoice, InvoiceStatus, InvoiceType, Order, OrderCommand, OrderState, Review,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access;
use crate::error::ApiError;
use crate::extract::{Body, Caller, CommandHeaders, MinPosition};
use crate::paging::{page, PageQuery};
use crate::respond;
use crate::routes::held::{held_list, load_for, order_holding, Held, HeldListQuery};
use crate::routes::{Doc, Routes};
use crate::state::App;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceRequest {
    #[serde(rename = "type")]
    #[schema(schema_with = crate::schema::invoice_type)]
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
    #[schema(minimum = 1, maximum = 5)]
    pub quality: u8,
    #[schema(minimum = 1, maximum = 5)]
    pub attitude: u8,
    #[schema(minimum = 1, maximum = 5)]
    pub speed: u8,
    #[schema(max_length = 1000)]
    pub comment: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    #[schema(min_length = 1, max_length = 1000)]
    pub text: String,
}

/// An invoice (API.md §5).
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceView {
    pub id: String,
    pub order_id: String,
    #[serde(rename = "type")]
    #[schema(schema_with = crate::schema::invoice_type)]
    pub invoice_type: InvoiceType,
    pub title: String,
    pub tax_id: String,
    pub address: String,
    /// Cash paid minus cash refunded (vouchers are invoiced to the platform).
    #[schema(minimum = 0)]
    pub amount_cents: i64,
    pub seller_pays_postage: bool,
    #[schema(schema_with = crate::schema::invoice_status)]
    pub status: InvoiceStatus,
    pub tracking: Option<String>,
    pub reject_reason: Option<String>,
    #[schema(format = DateTime)]
    pub requested_at: String,
    #[schema(format = DateTime)]
    pub decided_at: Option<String>,
    pub version: u64,
    /// Command answers only: the log position of the command's last event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
}

crate::page!(
    /// One page of invoices, in id order.
    InvoicePage,
    InvoiceView
);

/// A review (API.md §5).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewView {
    pub id: String,
    /// The reviewed order; null in `GET /v1/reviews` unless the caller is a party of it
    /// (its customer, the seller's isv_admin, platform, auditor).
    pub order_id: Option<String>,
    pub product_id: String,
    pub org_id: String,
    #[schema(minimum = 1, maximum = 5)]
    pub quality: u8,
    #[schema(minimum = 1, maximum = 5)]
    pub attitude: u8,
    #[schema(minimum = 1, maximum = 5)]
    pub speed: u8,
    pub comment: String,
    /// True when the 30-day rule wrote 5/5/5; left out of the shop score.
    pub default: bool,
    /// A review with a score below 5 that the seller has not answered.
    pub bad_unhandled: bool,
    pub reply: Option<String>,
    #[schema(format = DateTime)]
    pub replied_at: Option<String>,
    #[schema(format = DateTime)]
    pub at: String,
    pub version: u64,
    /// Command answers only: the log position of the command's last event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
}

/// One page of reviews and the shop score of the sellers on it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewPage {
    pub items: Vec<ReviewView>,
    /// The `cursor` of the next page; null on the last.
    pub next_cursor: Option<String>,
    pub shop_score: ShopScore,
}

/// The mean of the non-default reviews' scores: per seller org on the page (an object), or
/// with `org_id=` that org's alone (a number, null when it has none).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ShopScore {
    PerOrg(BTreeMap<String, f64>),
    One(Option<f64>),
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

fn invoice_view(app: &App, order_id: &str, i: &Invoice, version: u64) -> InvoiceView {
    InvoiceView {
        id: i.id.clone(),
        order_id: order_id.to_owned(),
        invoice_type: i.invoice_type,
        title: i.title.clone(),
        tax_id: i.tax_id.clone(),
        address: i.address.clone(),
        amount_cents: i.amount.0,
        seller_pays_postage: i.seller_pays_postage,
        status: i.status,
        tracking: i.tracking.clone(),
        reject_reason: i.reject_reason.clone(),
        requested_at: app.time(i.requested_at),
        decided_at: i.decided_at.map(|t| app.time(t)),
        version,
        position: None,
    }
}

fn review_view(app: &App, order_id: &str, s: &OrderState, r: &Review, version: u64) -> ReviewView {
    let (product, org) = s
        .placed
        .as_ref()
        .map(|p| (p.product_id.clone(), p.seller_org_id.clone()))
        .unwrap_or_default();
    ReviewView {
        id: r.id.clone(),
        order_id: Some(order_id.to_owned()),
        product_id: product,
        org_id: org,
        quality: r.quality,
        attitude: r.attitude,
        speed: r.speed,
        comment: r.comment.clone(),
        default: r.default,
        bad_unhandled: r.bad_unhandled(),
        reply: r.reply.clone(),
        replied_at: r.replied_at.map(|t| app.time(t)),
        at: app.time(r.at),
        version,
        position: None,
    }
}

async fn request_invoice(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(order_id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::REQUEST_INVOICE.check(&caller)?;
    load_for(&app, &caller, &order_id)?;
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
    let view = InvoiceView {
        position: Some(done.position),
        ..invoice_view(&app, &order_id, inv, done.version)
    };
    Ok(respond::command(StatusCode::CREATED, &view, done.version))
}

async fn decide_invoice(
    app: App,
    caller: Caller,
    headers: CommandHeaders,
    invoice_id: String,
    body: Body,
    issue: bool,
) -> Result<Response, ApiError> {
    let order_id = order_holding(&app, &invoice_id, "invoice", |s| &s.invoice_orders).await?;
    load_for(&app, &caller, &order_id)?;
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
    let view = InvoiceView {
        position: Some(done.position),
        ..invoice_view(&app, &order_id, inv, done.version)
    };
    Ok(respond::command(StatusCode::OK, &view, done.version))
}

async fn issue(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::ISSUE_INVOICE.check(&caller)?;
    decide_invoice(app, caller, headers, id, body, true).await
}

async fn reject(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::REJECT_INVOICE.check(&caller)?;
    decide_invoice(app, caller, headers, id, body, false).await
}

const INVOICES: Held<Invoice, InvoiceView> = Held {
    index: |s| (&s.invoice_orders, &s.invoices_by_party),
    find: |s, id| s.invoice(id),
    status: |i| i.status.as_str(),
    view: invoice_view,
};

async fn invoices(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    q: Result<Query<HeldListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    access::LIST_INVOICES.check(&caller)?;
    held_list::<_, InvoicePage>(&app, &caller, min, q, &INVOICES).await
}

async fn review(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(order_id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::REVIEW.check(&caller)?;
    load_for(&app, &caller, &order_id)?;
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
    let view = ReviewView {
        position: Some(done.position),
        ..review_view(&app, &order_id, &done.state, r, done.version)
    };
    Ok(respond::command(StatusCode::CREATED, &view, done.version))
}

async fn reply(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(review_id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::REPLY_REVIEW.check(&caller)?;
    let order_id = order_holding(&app, &review_id, "review", |s| &s.review_orders).await?;
    load_for(&app, &caller, &order_id)?;
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
    let view = ReviewView {
        position: Some(done.position),
        ..review_view(&app, &order_id, &done.state, r, done.version)
    };
    Ok(respond::command(StatusCode::OK, &view, done.version))
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
    access::LIST_REVIEWS.check(&caller)?;
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
                    let mut item = review_view(&app, oid, &row.state, r, row.version);
                    // Reviews are public; which order (and so which customer's purchase) one
                    // is about is for the order's parties only (ARCHITECTURE.md, api).
                    if !access::sees_order(&caller, &row.state) {
                        item.order_id = None;
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
            .map(|i| i.org_id.as_str())
            .chain(q.org_id.as_deref())
            .collect();
        let scores: BTreeMap<String, f64> = orgs
            .into_iter()
            .filter_map(|org| {
                let mean = s.shop_scores.get(org)?.mean()?;
                Some((org.to_owned(), mean))
            })
            .collect();
        (items, next, scores)
    });
    let shop_score = match &q.org_id {
        Some(org) => ShopScore::One(scores.get(org).copied()),
        None => ShopScore::PerOrg(scores),
    };
    let page = ReviewPage {
        items,
        next_cursor: next,
        shop_score,
    };
    Ok(respond::read(&page, None, position))
}
