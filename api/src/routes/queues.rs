//! API.md §8 queues and §9 outbox, all read from the deliveries model:
//! - `GET /v1/queues/dispatch` — projects waiting for a provider or a staff member, with the
//!   reason and since when (an isv_admin sees its org's, as seller or provider);
//! - `GET /v1/queues/claimable` — executing projects whose current `claim_order` node is not
//!   claimed yet, of the caller's org as provider and a role the caller holds;
//! - `GET /v1/queues/mine` — the caller's active projects (executing or paused, operated by
//!   it for some role) with the current node and its deadline;
//! - `GET /v1/outbox` — the rendered notifications in log order.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use domain::Role;
use projections::deliveries::OutboxEntry;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access;
use crate::error::ApiError;
use crate::extract::{Caller, MinPosition};
use crate::paging::{limit_within, page, PageQuery, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX};
use crate::respond;
use crate::routes::deliveries::{delivery_view, reason_schema, DeliveryPage};
use crate::routes::{Doc, Routes};
use crate::state::App;

/// One queued project.
#[derive(Debug, Serialize, ToSchema)]
pub struct DispatchItem {
    pub delivery_id: String,
    pub order_id: String,
    #[schema(schema_with = reason_schema)]
    pub reason: String,
    #[schema(format = DateTime)]
    pub since: String,
}

crate::page!(
    /// One page of the dispatch queue, newest project first.
    DispatchPage,
    DispatchItem
);

/// A rendered notification.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxItem {
    /// Log position of the flow event that caused it.
    pub position: u64,
    pub delivery_id: String,
    pub order_id: String,
    #[schema(schema_with = recipient_kind_schema)]
    pub recipient_kind: String,
    pub recipient_id: String,
    #[schema(schema_with = trigger_schema)]
    pub trigger: String,
    pub node_id: String,
    pub text: String,
    #[schema(format = DateTime)]
    pub at: String,
}

fn recipient_kind_schema() -> utoipa::openapi::schema::Object {
    crate::schema::one_of(&["customer", "staff", "provider_org", "seller_org"])
}
fn trigger_schema() -> utoipa::openapi::schema::Object {
    crate::schema::one_of(&["entered", "timed_out"])
}

/// One page of the outbox. A page never splits the notifications of one event, so it may
/// hold up to `NOTIFICATIONS_PER_NODE_MAX - 1` more than `limit`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxPage {
    pub items: Vec<OutboxItem>,
    /// The `from_position` of the next page; null on the last.
    pub next_from_position: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    pub from_position: Option<u64>,
    pub limit: Option<usize>,
}

pub fn routes(r: Routes) -> Routes {
    use axum::routing::get;
    r.add(
        "GET",
        "/v1/queues/dispatch",
        get(dispatch_queue),
        Doc::new(
            "queued projects with their reason and since when",
            "isv_admin (its org's, as seller or provider), platform, auditor",
        )
        .query("limit", "page size, 1..=500 (default 50)")
        .query("cursor", "the next_cursor of the previous page")
        .answers::<DispatchPage>(200),
    )
    .add(
        "GET",
        "/v1/queues/claimable",
        get(claimable),
        Doc::new(
            "projects whose current claim_order node waits for a staff member of the caller's \
             org with one of the caller's roles",
            "isv_staff, platform, auditor (every one)",
        )
        .query("limit", "page size, 1..=500 (default 50)")
        .query("cursor", "the next_cursor of the previous page")
        .answers::<DeliveryPage>(200),
    )
    .add(
        "GET",
        "/v1/queues/mine",
        get(mine),
        Doc::new(
            "the caller's active projects with their current node and deadline",
            "isv_staff (platform and auditor have none)",
        )
        .query("limit", "page size, 1..=500 (default 50)")
        .query("cursor", "the next_cursor of the previous page")
        .answers::<DeliveryPage>(200),
    )
    .add(
        "GET",
        "/v1/outbox",
        get(outbox),
        Doc::new(
            "notifications rendered by the flows' notification rules, in log order",
            "platform, auditor",
        )
        .query("from_position", "first log position to list (default 0)")
        .query("limit", "most notifications, 1..=500 (default 50)")
        .answers::<OutboxPage>(200),
    )
}

async fn dispatch_queue(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    access::DISPATCH_QUEUE.check(&caller)?;
    let q = crate::extract::query(q)?;
    let (limit, after) = PageQuery::bounds(q.limit, q.cursor.as_deref())?;
    app.wait_for(&app.deliveries, min).await?;
    let ((items, next), position) = app.deliveries.read(|d| {
        let rows = d.facet("queued").into_iter().flatten().filter_map(|key| {
            let row = d.by_key.get(key).and_then(|id| d.deliveries.get(id))?;
            if !access::sees_delivery(&caller, &row.state) {
                return None;
            }
            let started = row.state.started.as_ref()?;
            let queued = row.state.queued.as_ref()?;
            Some((
                key.clone(),
                DispatchItem {
                    delivery_id: row.id.clone(),
                    order_id: started.order_id.clone(),
                    reason: queued.reason.as_str().to_owned(),
                    since: app.time(queued.since),
                },
            ))
        });
        page(rows, after.as_deref(), limit)
    });
    Ok(respond::list::<DispatchPage>(items, next, position))
}

async fn claimable(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    access::CLAIMABLE_QUEUE.check(&caller)?;
    let q = crate::extract::query(q)?;
    let (limit, after) = PageQuery::bounds(q.limit, q.cursor.as_deref())?;
    // A staff member's facets: its org as provider × each of its roles; platform and the
    // auditor see every claimable project.
    let prefixes: Option<Vec<String>> = match caller.role {
        Role::IsvStaff => {
            app.wait_for(&app.staff, min).await?;
            let (roles, _) = app.staff.read(|s| {
                caller
                    .staff_id
                    .as_ref()
                    .and_then(|id| s.staff.get(id))
                    .map(|r| r.state.roles.clone())
                    .unwrap_or_default()
            });
            let org = caller.org_id.clone().unwrap_or_default();
            Some(
                roles
                    .iter()
                    .map(|role| format!("claimable:{org}:{role}"))
                    .collect(),
            )
        }
        _ => None,
    };
    app.wait_for(&app.deliveries, min).await?;
    let ((items, next), position) = app.deliveries.read(|d| {
        let mut keys: std::collections::BTreeSet<&String> = std::collections::BTreeSet::new();
        match &prefixes {
            Some(facets) => {
                for f in facets {
                    keys.extend(d.facet(f).into_iter().flatten());
                }
            }
            None => {
                let all = d
                    .index
                    .range::<str, _>((
                        std::ops::Bound::Included("claimable:"),
                        std::ops::Bound::Unbounded,
                    ))
                    .take_while(|(f, _)| f.starts_with("claimable:"));
                for (_, set) in all {
                    keys.extend(set.iter());
                }
            }
        }
        let rows = keys.into_iter().filter_map(|key| {
            let row = d.by_key.get(key).and_then(|id| d.deliveries.get(id))?;
            if !access::sees_delivery(&caller, &row.state) {
                return None;
            }
            delivery_view(&app, &row.id, &row.state, row.version, None).map(|v| (key.clone(), v))
        });
        page(rows, after.as_deref(), limit)
    });
    Ok(respond::list::<DeliveryPage>(items, next, position))
}

async fn mine(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    access::MY_QUEUE.check(&caller)?;
    let q = crate::extract::query(q)?;
    let (limit, after) = PageQuery::bounds(q.limit, q.cursor.as_deref())?;
    app.wait_for(&app.deliveries, min).await?;
    let facet = caller.staff_id.as_ref().map(|id| format!("active:{id}"));
    let ((items, next), position) = app.deliveries.read(|d| {
        let keys = facet.as_ref().and_then(|f| d.facet(f));
        let rows = keys.into_iter().flatten().filter_map(|key| {
            let row = d.by_key.get(key).and_then(|id| d.deliveries.get(id))?;
            delivery_view(&app, &row.id, &row.state, row.version, None).map(|v| (key.clone(), v))
        });
        page(rows, after.as_deref(), limit)
    });
    Ok(respond::list::<DeliveryPage>(items, next, position))
}

fn outbox_item(app: &App, e: &OutboxEntry) -> OutboxItem {
    OutboxItem {
        position: e.position,
        delivery_id: e.delivery_id.clone(),
        order_id: e.order_id.clone(),
        recipient_kind: e.recipient_kind.clone(),
        recipient_id: e.recipient_id.clone(),
        trigger: e.trigger.clone(),
        node_id: e.node_id.clone(),
        text: e.text(|t| app.time(t)),
        at: app.time(e.at),
    }
}

async fn outbox(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    q: Result<Query<OutboxQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    access::OUTBOX.check(&caller)?;
    let q = crate::extract::query(q)?;
    let limit = limit_within(q.limit, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX)?;
    let from = q.from_position.unwrap_or(0);
    app.wait_for(&app.deliveries, min).await?;
    let (view, position) = app.deliveries.read(|d| {
        let mut items = Vec::new();
        let mut next = None;
        for (&at, entries) in d.outbox.range(from..) {
            if items.len() >= limit {
                next = Some(at);
                break;
            }
            items.extend(entries.iter().map(|e| outbox_item(&app, e)));
        }
        OutboxPage {
            items,
            next_from_position: next,
        }
    });
    Ok(respond::read(&view, None, position))
}
