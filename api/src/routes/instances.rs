//! API.md §5, instances: what customers own (owner parties: the customer and the seller).

use axum::extract::{Path, Query, State};
use axum::response::Response;
use domain::instance::{InstanceState, InstanceStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access;
use crate::error::ApiError;
use crate::extract::{Caller, MinPosition};
use crate::paging::{page, PageQuery};
use crate::respond;
use crate::routes::{Doc, Routes};
use crate::state::App;

/// The instance read model (API.md §5).
#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceView {
    pub id: String,
    pub product_id: String,
    pub spec_id: String,
    pub customer_id: String,
    pub seller_org_id: String,
    #[schema(schema_with = crate::schema::instance_status)]
    pub status: InstanceStatus,
    pub trial: bool,
    #[schema(format = DateTime)]
    pub opened_at: String,
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    #[schema(format = DateTime)]
    pub expired_at: Option<String>,
    #[schema(format = DateTime)]
    pub closed_at: Option<String>,
    #[schema(format = DateTime)]
    pub released_at: Option<String>,
    /// The orders of this instance, oldest first.
    pub orders: Vec<String>,
    pub version: u64,
}

crate::page!(
    /// One page of instances, in id order.
    InstancePage,
    InstanceView
);

pub fn routes(r: Routes) -> Routes {
    use axum::routing::get;
    r.add(
        "GET",
        "/v1/instances",
        get(list),
        Doc::new(
            "instances of the caller (customer) or of the caller's products (seller)",
            "owner parties, platform, auditor",
        )
        .query("order_id", "filter")
        .query("customer_id", "filter")
        .query("limit", "1..=500")
        .query("cursor", "next_cursor")
        .answers::<InstancePage>(200),
    )
    .add(
        "GET",
        "/v1/instances/{id}",
        get(detail),
        Doc::new("one instance", "owner parties, platform, auditor").answers::<InstanceView>(200),
    )
}

/// `None` for an instance that was never opened.
fn instance_view(app: &App, id: &str, s: &InstanceState, version: u64) -> Option<InstanceView> {
    let o = s.opened.as_ref()?;
    let t = |v: Option<domain::Timestamp>| v.map(|t| app.time(t));
    Some(InstanceView {
        id: id.to_owned(),
        product_id: o.product_id.clone(),
        spec_id: s.spec_id.clone(),
        customer_id: o.customer_id.clone(),
        seller_org_id: o.seller_org_id.clone(),
        status: s.status,
        trial: s.trial,
        opened_at: app.time(o.opened_at),
        expires_at: t(s.expires_at),
        expired_at: t(s.expired_at),
        closed_at: t(s.closed_at),
        released_at: t(s.released_at),
        orders: s.orders.clone(),
        version,
    })
}

async fn detail(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    access::GET_INSTANCE.check(&caller)?;
    app.wait_for(&app.instances, min).await?;
    let (found, position) = app.instances.read(|s| {
        s.by_id
            .get(&id)
            .filter(|r| access::sees_instance(&caller, &r.state))
            .and_then(|r| instance_view(&app, &r.id, &r.state, r.version))
    });
    let view = found.ok_or_else(|| ApiError::not_found("instance"))?;
    Ok(respond::read(&view, Some(view.version), position))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    order_id: Option<String>,
    customer_id: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn list(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    access::LIST_INSTANCES.check(&caller)?;
    let q = crate::extract::query(q)?;
    let (limit, after) = PageQuery::bounds(q.limit, q.cursor.as_deref())?;
    app.wait_for(&app.instances, min).await?;
    let ((items, next), position) = app.instances.read(|s| {
        let rows = access::scoped(&caller, &s.by_id, &s.by_party, after.as_deref())
            .map(|(_, r)| r)
            .filter(|r| {
                let o = r.state.opened.as_ref();
                access::sees_instance(&caller, &r.state)
                    && q.order_id
                        .as_deref()
                        .is_none_or(|w| r.state.orders.iter().any(|x| x == w))
                    && q.customer_id
                        .as_deref()
                        .is_none_or(|w| o.is_some_and(|o| o.customer_id == w))
            });
        page(
            rows.filter_map(|r| {
                Some((
                    r.id.clone(),
                    instance_view(&app, &r.id, &r.state, r.version)?,
                ))
            }),
            after.as_deref(),
            limit,
        )
    });
    Ok(respond::list::<InstancePage>(items, next, position))
}
