//! What orders hold and their routes share: finding the order that holds a refund, invoice
//! or review, loading an order for a caller who is one of its parties, and the lists of held
//! things. The access decisions themselves are [`crate::access`]'s.

use axum::extract::Query;
use axum::response::Response;
use domain::order::{order_stream, Order, OrderState};
use serde::Deserialize;

use crate::access;
use crate::error::ApiError;
use crate::extract::{Caller, MinPosition};
use crate::paging::PageQuery;
use crate::respond;
use crate::state::App;

/// Query of a list of things orders hold (refunds, invoices): paging, then filters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HeldListQuery {
    status: Option<String>,
    order_id: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// A kind of thing orders hold and list on their own (refunds, invoices).
pub(crate) struct Held<T: 'static, V: 'static> {
    /// Thing id → order id, and the ids of the things of each party's orders.
    pub index: for<'s> fn(
        &'s projections::orders::OrdersState,
    ) -> (
        &'s std::collections::BTreeMap<String, String>,
        &'s projections::party::PartyIndex,
    ),
    /// The thing in its order's state (`None` if the order does not hold it).
    pub find: for<'s> fn(&'s OrderState, &str) -> Option<&'s T>,
    /// Its status, as the `status` filter names it.
    pub status: fn(&T) -> &'static str,
    /// Its answer, given its order id and that order's version.
    pub view: fn(&App, &str, &T, u64) -> V,
}

/// One page of the `held` things of the orders `caller` may see, in id order, filtered by
/// `order_id` and `status` (the refund and invoice lists).
pub(crate) async fn held_list<T, P: respond::Page>(
    app: &App,
    caller: &Caller,
    min: MinPosition,
    q: Result<Query<HeldListQuery>, axum::extract::rejection::QueryRejection>,
    held: &Held<T, P::Item>,
) -> Result<Response, ApiError> {
    let q = crate::extract::query(q)?;
    let (limit, after) = PageQuery::bounds(q.limit, q.cursor.as_deref())?;
    app.wait_for(&app.orders, min).await?;
    let ((items, next), position) = app.orders.read(|s| {
        let (orders_of, by_party) = (held.index)(s);
        let rows = access::scoped(caller, orders_of, by_party, after.as_deref())
            .filter(|(_, o)| q.order_id.as_deref().is_none_or(|w| w == o.as_str()))
            .filter_map(|(id, oid)| {
                let row = s.by_id.get(oid)?;
                let thing = (held.find)(&row.state, id)?;
                let keep = access::sees_order(caller, &row.state)
                    && q.status
                        .as_deref()
                        .is_none_or(|st| st == (held.status)(thing));
                keep.then(|| (id.clone(), (held.view)(app, oid, thing, row.version)))
            });
        crate::paging::page(rows, after.as_deref(), limit)
    });
    Ok(respond::list::<P>(items, next, position))
}

/// The order that holds a refund, invoice or review (they live in their order's stream),
/// found through `index` of the orders model; waits briefly for the model if the id is new.
pub(crate) async fn order_holding(
    app: &App,
    id: &str,
    what: &str,
    index: fn(&projections::orders::OrdersState) -> &std::collections::BTreeMap<String, String>,
) -> Result<String, ApiError> {
    let find = || app.orders.read(|s| index(s).get(id).cloned()).0;
    if let Some(o) = find() {
        return Ok(o);
    }
    app.caught_up(&app.orders).await;
    find().ok_or_else(|| ApiError::not_found(what))
}

/// Loads an order the caller is a party to (else 404); the route's role check (403) comes
/// first, in its handler.
pub(crate) fn load_for(app: &App, caller: &Caller, id: &str) -> Result<OrderState, ApiError> {
    let stream = order_stream(id);
    if eventlog::validate_stream_id(&stream).is_err() {
        return Err(ApiError::not_found("order"));
    }
    let l = app.runner.load::<Order>(&stream, u64::MAX)?;
    if !access::sees_order(caller, &l.state) {
        return Err(ApiError::not_found("order"));
    }
    Ok(l.state)
}
