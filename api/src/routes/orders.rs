//! API.md §5, orders: placement, price change, payment, cancellation, lists, CSV export,
//! detail and history (each event with the state after it, folded by the domain's `evolve`).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::codec::EventCodec;
use domain::ids::IdKind;
use domain::order::{
    order_stream, ChannelKind, Client, Order, OrderCommand, OrderEvent, OrderState, OrderStatus,
    OrderType, PlaceOrder, VoidReason,
};
use domain::Decider;
use eventlog::Direction;
use projections::orders::OrderFilter;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use utoipa::ToSchema;

use crate::access::{self, Scope};
use crate::error::ApiError;
use crate::extract::{Body, Caller, CommandHeaders, MinPosition};
use crate::paging::{encode_cursor, PageQuery};
use crate::respond;
use crate::routes::held::load_for;
use crate::routes::log::EventView;
use crate::routes::products::parse_time;
use crate::routes::{Doc, Routes};
use crate::state::App;

/// Rows in one CSV export.
pub const EXPORT_ROWS_MAX: usize = 100_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    #[schema(schema_with = crate::schema::channel_kind)]
    pub kind: String,
    #[serde(rename = "ref")]
    pub reference: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrder {
    pub product_id: String,
    pub spec_id: String,
    #[schema(minimum = 1, maximum = 100)]
    pub quantity: u32,
    #[schema(schema_with = crate::schema::order_type)]
    pub order_type: String,
    /// The instance renewed, converted or upgraded.
    pub instance_id: Option<String>,
    pub coupon_id: Option<String>,
    #[schema(schema_with = crate::schema::client_or_null)]
    pub client: Option<String>,
    pub channel: Option<ChannelInput>,
    #[schema(max_length = 200)]
    pub remark: Option<String>,
}

impl CreateOrder {
    /// The domain's placement command: the body as the wire shape of `PlaceOrder`.
    pub fn into_command(self, order_id: String, customer_id: String) -> PlaceOrder {
        PlaceOrder {
            order_id,
            customer_id,
            product_id: self.product_id,
            spec_id: self.spec_id,
            quantity: self.quantity,
            order_type: self.order_type,
            instance_id: self.instance_id,
            coupon_id: self.coupon_id,
            client: self.client,
            channel_kind: self.channel.as_ref().map(|c| c.kind.clone()),
            channel_ref: self.channel.and_then(|c| c.reference),
            remark: self.remark,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePrice {
    #[schema(minimum = 0, maximum = 1e12)]
    pub new_price_cents: i64,
    #[schema(max_length = 200)]
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Pay {
    /// The whole payment; must equal `payable_cents`.
    pub amount_cents: i64,
    /// The part of the payment paid by voucher (≤ amount).
    pub voucher_cents: Option<i64>,
}

crate::page!(
    /// One page of orders, newest first.
    OrderPage,
    OrderView<'static>
);

/// Every event of an order's stream, each with the state after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderHistory {
    pub order_id: String,
    pub events: Vec<HistoryEvent>,
    /// The milestones of the order's delivery project (a manual product's), in log order:
    /// every flow transition of its stream (`replay-tool history dlv_…` or
    /// `GET /v1/deliveries/{id}/log` show all of it), with the order-level stage after
    /// each. Empty for an order without a project.
    pub delivery_milestones: Vec<DeliveryMilestone>,
}

/// One milestone of an order's delivery project.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryMilestone {
    pub position: u64,
    pub delivery_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    #[schema(format = DateTime)]
    pub at: String,
    pub actor: String,
    /// The node the event is about, if any.
    pub node_id: Option<String>,
    /// The order's `delivery_stage` after the event.
    #[schema(schema_with = crate::schema::delivery_stage_or_null)]
    pub stage: Option<String>,
}

/// Flow events that are milestones of the order; messages, notes, files, node entries and
/// queue rechecks are the project's own detail.
const MILESTONES: &[&str] = &[
    "DeliveryStarted",
    "ProviderAssigned",
    "DeliveryQueued",
    "OperatorAssigned",
    "RequirementSubmitted",
    "NodeCompleted",
    "NodeRejected",
    "NodeTimedOut",
    "DeliveryPaused",
    "DeliveryResumed",
    "ProviderChanged",
    "DeliveryCancelled",
    "DeliveryCompleted",
];

/// Calls `each` with every record of `stream`, in version order, reading it in chunks.
fn for_each_record(
    app: &App,
    stream: &str,
    mut each: impl FnMut(&eventlog::Record) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let mut from = 1;
    loop {
        let chunk = app
            .store
            .read_stream(stream, from, Direction::Forward, 1_000)?;
        let Some(last) = chunk.last().map(|r| r.version) else {
            return Ok(());
        };
        chunk.iter().try_for_each(&mut each)?;
        from = last + 1;
    }
}

/// The milestones of the delivery project of order `order_id`.
fn delivery_milestones(app: &App, order_id: &str) -> Result<Vec<DeliveryMilestone>, ApiError> {
    use domain::delivery::project::{delivery_id_for, delivery_stream, Delivery, DeliveryEvent};
    let delivery_id = delivery_id_for(order_id);
    let stream = delivery_stream(&delivery_id);
    let mut state = domain::delivery::project::DeliveryState::default();
    let mut out = Vec::new();
    for_each_record(app, &stream, |r| {
        let e = DeliveryEvent::decode_payload(&r.event_type, r.schema_version, &r.payload)
            .map_err(|e| ApiError::internal("history", e))?;
        state = Delivery::evolve(std::mem::take(&mut state), &e);
        if !MILESTONES.contains(&r.event_type.as_str()) {
            return Ok(());
        }
        let view = EventView::of(app.tz, r, None);
        out.push(DeliveryMilestone {
            position: r.position,
            delivery_id: delivery_id.clone(),
            node_id: view
                .data
                .get("node_id")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            event_type: view.event_type,
            at: view.at,
            actor: view.actor,
            stage: state
                .stage()
                .map(|s| crate::routes::deliveries::stage_name(s).to_owned()),
        });
        Ok(())
    })?;
    Ok(out)
}

// The fields of `EventView` (no `serde(flatten)`: its schema would be an `allOf` of two
// closed objects, which no answer can satisfy).
/// One event of an order's history and the order after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEvent {
    pub position: u64,
    pub stream_id: String,
    pub version: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub schema: u16,
    #[schema(format = DateTime)]
    pub at: String,
    pub actor: String,
    pub correlation_id: String,
    pub causation_id: String,
    /// The payload as JSON (null if this server does not know the type).
    #[schema(value_type = Option<Object>)]
    pub data: Value,
    /// When `data` is null: the stored payload, base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_base64: Option<String>,
    pub state: OrderView<'static>,
}

impl HistoryEvent {
    fn new(e: EventView, state: OrderView<'static>) -> HistoryEvent {
        HistoryEvent {
            position: e.position,
            stream_id: e.stream_id,
            version: e.version,
            event_type: e.event_type,
            schema: e.schema,
            at: e.at,
            actor: e.actor,
            correlation_id: e.correlation_id,
            causation_id: e.causation_id,
            data: e.data,
            payload_base64: e.payload_base64,
            state,
        }
    }
}

pub fn routes(r: Routes) -> Routes {
    use axum::routing::{get, post};
    let filters = |d: Doc| {
        [
            "order_id",
            "status",
            "order_type",
            "product_id",
            "product_code",
            "product_name",
            "customer_id",
            "channel",
            "created_from",
            "created_to",
            "completed_from",
            "completed_to",
        ]
        .into_iter()
        .fold(d, |d, f| d.query(f, "filter"))
    };
    r.add(
        "POST",
        "/v1/orders",
        post(create),
        Doc::new("place an order", "customer")
            .body::<CreateOrder>()
            .answers::<OrderView>(201),
    )
    .add(
        "GET",
        "/v1/orders",
        get(list),
        filters(Doc::new(
            "orders: customer (own), isv_admin (own products), auditor, platform; newest first",
            "customer, isv_admin, auditor, platform",
        ))
        .query("limit", "1..=500")
        .query("cursor", "next_cursor")
        .answers::<OrderPage>(200),
    )
    .add(
        "GET",
        "/v1/orders/export.csv",
        get(export_csv),
        filters(Doc::new(
            "the same list as CSV, header row first; at most `limit` rows (default and maximum 100000) — when more match, the `X-Next-Cursor` response header is the `cursor` of the next export",
            "customer, isv_admin, auditor, platform",
        ))
        .query("limit", "1..=100000, default 100000")
        .query("cursor", "X-Next-Cursor of the previous export")
        .raw_answer(200, "text/csv"),
    )
    .add(
        "GET",
        "/v1/orders/{id}",
        get(detail),
        Doc::new("one order", "parties").answers::<OrderView>(200),
    )
    .add(
        "GET",
        "/v1/orders/{id}/history",
        get(history),
        Doc::new(
            "every event of the order with the state after it",
            "auditor, platform, the seller, the customer",
        )
        .answers::<OrderHistory>(200),
    )
    .add(
        "POST",
        "/v1/orders/{id}/change-price",
        post(change_price),
        Doc::new(
            "change the price of an unpaid order (else 409 invalid_state)",
            "isv_admin (seller)",
        )
        .body::<ChangePrice>()
        .answers::<OrderView>(200),
    )
    .add(
        "POST",
        "/v1/orders/{id}/pay",
        post(pay),
        Doc::new(
            "pay exactly the payable amount (else 422 amount_mismatch)",
            "customer (own)",
        )
        .body::<Pay>()
        .answers::<OrderView>(200),
    )
    .add(
        "POST",
        "/v1/orders/{id}/cancel",
        post(cancel),
        Doc::new(
            "cancel an unpaid order (voided, cancelled_by_customer)",
            "customer (own)",
        )
        .answers::<OrderView>(200),
    )
}

/// An order's answer, borrowed from its state: command answers build no
/// `serde_json::Value` (building and dropping one was ~10 % of the CPU of `http_commands`).
/// `None` for an order that was never placed.
pub fn order_view<'a>(
    app: &App,
    id: &'a str,
    s: &'a OrderState,
    version: u64,
    position: Option<u64>,
) -> Option<OrderView<'a>> {
    let p = s.placed.as_ref()?;
    // The delivery's fields come from the deliveries model at read time (API.md §5).
    let (delivery, _) = app.deliveries.read(|d| {
        let row = d.deliveries.get(d.by_order.get(id)?)?;
        Some((row.id.clone(), row.state.stage()))
    });
    let (delivery_id, delivery_stage) = match delivery {
        Some((dlv, stage)) => (
            Some(dlv),
            stage.map(|st| crate::routes::deliveries::stage_name(st).to_owned()),
        ),
        None => (None, None),
    };
    Some(OrderView {
        balance_cents: s.balance().0,
        channel: ChannelView {
            kind: p.channel.kind,
            reference: p.channel.reference.as_deref().map(Cow::Borrowed),
        },
        client: p.client,
        commission_percent: p.commission_percent,
        completed_at: s.completed_at.map(|t| app.time(t)),
        coupon: p.coupon.as_ref().map(CouponView::from),
        created_at: app.time(p.placed_at),
        customer_id: Cow::Borrowed(&p.customer_id),
        delivery_id,
        delivery_stage,
        expires_at: None,
        id: Cow::Borrowed(id),
        instance_id: p.instance_id.as_deref().map(Cow::Borrowed),
        open_refund_id: s.open_refund().map(|r| Cow::Borrowed(r.id.as_str())),
        order_type: p.order_type,
        original_cents: p.original.0,
        paid_at: s.paid_at.map(|t| app.time(t)),
        paid_cents: s.paid.0,
        payable_cents: s.payable.0,
        payment_due_at: app.time(p.payment_due_at),
        position,
        price_changes: s
            .price_changes
            .iter()
            .map(|c| PriceChangeView {
                at: app.time(c.at),
                changed_by: Cow::Borrowed(&c.changed_by),
                new_price_cents: c.new_payable.0,
                old_price_cents: c.old_payable.0,
                reason: Cow::Borrowed(&c.reason),
            })
            .collect(),
        product_code: Cow::Borrowed(&p.product_code),
        product_id: Cow::Borrowed(&p.product_id),
        product_name: Cow::Borrowed(&p.product_name),
        promotion: p.promotion.as_ref().map(PromotionView::from),
        quantity: p.quantity,
        refunded_cents: s.refunded.0,
        remark: p.remark.as_deref().map(Cow::Borrowed),
        seller_org_id: Cow::Borrowed(&p.seller_org_id),
        spec_id: Cow::Borrowed(&p.spec_id),
        spec_name: Cow::Borrowed(&p.spec_name),
        status: s.status.unwrap_or(OrderStatus::Unpaid),
        unit_price_cents: p.unit_price.0,
        version,
        void_reason: s.void_reason,
        voided_at: s.voided_at.map(|t| app.time(t)),
        voucher_cents: s.voucher.0,
    })
}

// Strings are borrowed from the state where they can be (`Cow`); the owned form
// (`'static`) is what lists and histories hold.
/// The order read model (API.md §5), as every route sends it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView<'a> {
    pub balance_cents: i64,
    pub channel: ChannelView<'a>,
    #[schema(schema_with = crate::schema::client_or_null)]
    pub client: Option<Client>,
    pub commission_percent: Option<u32>,
    #[schema(format = DateTime)]
    pub completed_at: Option<String>,
    /// Coupons come with their issue; null until then.
    pub coupon: Option<CouponView>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(value_type = String)]
    pub customer_id: Cow<'a, str>,
    /// The order's delivery project (deliveries model); null until it exists.
    pub delivery_id: Option<String>,
    #[schema(schema_with = crate::schema::delivery_stage_or_null)]
    pub delivery_stage: Option<String>,
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    #[schema(value_type = String)]
    pub id: Cow<'a, str>,
    #[schema(value_type = Option<String>)]
    pub instance_id: Option<Cow<'a, str>>,
    #[schema(value_type = Option<String>)]
    pub open_refund_id: Option<Cow<'a, str>>,
    #[schema(schema_with = crate::schema::order_type)]
    pub order_type: OrderType,
    pub original_cents: i64,
    #[schema(format = DateTime)]
    pub paid_at: Option<String>,
    pub paid_cents: i64,
    pub payable_cents: i64,
    #[schema(format = DateTime)]
    pub payment_due_at: String,
    /// Command answers only: the log position of the command's last event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    pub price_changes: Vec<PriceChangeView<'a>>,
    #[schema(value_type = String)]
    pub product_code: Cow<'a, str>,
    #[schema(value_type = String)]
    pub product_id: Cow<'a, str>,
    #[schema(value_type = String)]
    pub product_name: Cow<'a, str>,
    /// Promotions come with their issue; null until then.
    pub promotion: Option<PromotionView>,
    #[schema(minimum = 1)]
    pub quantity: u32,
    pub refunded_cents: i64,
    #[schema(value_type = Option<String>)]
    pub remark: Option<Cow<'a, str>>,
    #[schema(value_type = String)]
    pub seller_org_id: Cow<'a, str>,
    #[schema(value_type = String)]
    pub spec_id: Cow<'a, str>,
    #[schema(value_type = String)]
    pub spec_name: Cow<'a, str>,
    #[schema(schema_with = crate::schema::order_status)]
    pub status: OrderStatus,
    pub unit_price_cents: i64,
    pub version: u64,
    #[schema(schema_with = crate::schema::void_reason_or_null)]
    pub void_reason: Option<VoidReason>,
    #[schema(format = DateTime)]
    pub voided_at: Option<String>,
    pub voucher_cents: i64,
}

impl OrderView<'_> {
    /// The same view owning its strings (for lists and histories, built under a lock).
    pub fn into_owned(self) -> OrderView<'static> {
        let own = |c: Cow<'_, str>| Cow::Owned(c.into_owned());
        OrderView {
            channel: ChannelView {
                kind: self.channel.kind,
                reference: self.channel.reference.map(own),
            },
            customer_id: own(self.customer_id),
            id: own(self.id),
            instance_id: self.instance_id.map(own),
            open_refund_id: self.open_refund_id.map(own),
            price_changes: self
                .price_changes
                .into_iter()
                .map(|c| PriceChangeView {
                    at: c.at,
                    changed_by: own(c.changed_by),
                    new_price_cents: c.new_price_cents,
                    old_price_cents: c.old_price_cents,
                    reason: own(c.reason),
                })
                .collect(),
            product_code: own(self.product_code),
            product_id: own(self.product_id),
            product_name: own(self.product_name),
            remark: self.remark.map(own),
            seller_org_id: own(self.seller_org_id),
            spec_id: own(self.spec_id),
            spec_name: own(self.spec_name),
            balance_cents: self.balance_cents,
            client: self.client,
            commission_percent: self.commission_percent,
            completed_at: self.completed_at,
            coupon: self.coupon,
            created_at: self.created_at,
            delivery_id: self.delivery_id,
            delivery_stage: self.delivery_stage,
            expires_at: self.expires_at,
            order_type: self.order_type,
            original_cents: self.original_cents,
            paid_at: self.paid_at,
            paid_cents: self.paid_cents,
            payable_cents: self.payable_cents,
            payment_due_at: self.payment_due_at,
            position: self.position,
            promotion: self.promotion,
            quantity: self.quantity,
            refunded_cents: self.refunded_cents,
            status: self.status,
            unit_price_cents: self.unit_price_cents,
            version: self.version,
            void_reason: self.void_reason,
            voided_at: self.voided_at,
            voucher_cents: self.voucher_cents,
        }
    }
}

/// The owned view of an order (lists, histories); see [`order_view`].
pub fn order_owned(
    app: &App,
    id: &str,
    s: &OrderState,
    version: u64,
) -> Option<OrderView<'static>> {
    order_view(app, id, s, version, None).map(OrderView::into_owned)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView<'a> {
    #[schema(schema_with = crate::schema::channel_kind)]
    pub kind: ChannelKind,
    /// Solution id (custom_solution) or distributor id (distribution).
    #[serde(rename = "ref")]
    #[schema(value_type = Option<String>)]
    pub reference: Option<Cow<'a, str>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PriceChangeView<'a> {
    #[schema(format = DateTime)]
    pub at: String,
    #[schema(value_type = String)]
    pub changed_by: Cow<'a, str>,
    pub new_price_cents: i64,
    pub old_price_cents: i64,
    #[schema(value_type = String)]
    pub reason: Cow<'a, str>,
}

/// The promotion applied to an order or a quote (API.md §5).
#[derive(Debug, Serialize, ToSchema)]
pub struct PromotionView {
    pub id: String,
    pub name: String,
    #[schema(minimum = 0)]
    pub saving_cents: i64,
}

impl From<&domain::pricing::AppliedPromotion> for PromotionView {
    fn from(p: &domain::pricing::AppliedPromotion) -> PromotionView {
        PromotionView {
            id: p.id.clone(),
            name: p.name.clone(),
            saving_cents: p.saving.0,
        }
    }
}

/// The coupon redeemed with an order or a quote (API.md §5).
#[derive(Debug, Serialize, ToSchema)]
pub struct CouponView {
    pub id: String,
    pub campaign_id: String,
    #[schema(minimum = 0)]
    pub saving_cents: i64,
}

impl From<&domain::pricing::AppliedCoupon> for CouponView {
    fn from(c: &domain::pricing::AppliedCoupon) -> CouponView {
        CouponView {
            id: c.id.clone(),
            campaign_id: c.campaign_id.clone(),
            saving_cents: c.saving.0,
        }
    }
}

/// A command's answer about an order (see [`respond::command`]), serialized straight from
/// the state.
fn order_answer(
    app: &App,
    status: StatusCode,
    id: &str,
    done: &crate::runner::Executed<OrderState>,
) -> Response {
    match order_view(app, id, &done.state, done.version, Some(done.position)) {
        Some(view) => respond::command(status, &view, done.version),
        None => ApiError::internal("order answer", "the order has no placement").into_response(),
    }
}

async fn create(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    body: Body,
) -> Result<Response, ApiError> {
    access::PLACE_ORDER.check(&caller)?;
    let input: CreateOrder = body.json()?;
    let order_id = app.ids.new_id(IdKind::Order);
    let meta = app.command_meta(&caller, &headers, &body, "PlaceOrder")?;
    let place = input.into_command(order_id.clone(), caller.id.clone());
    let done = app.runner.decide::<Order>(&meta, &place).await?;
    let id = done
        .state
        .placed
        .as_ref()
        .map(|p| p.order_id.clone())
        .unwrap_or(order_id);
    Ok(order_answer(&app, StatusCode::CREATED, &id, &done))
}

async fn run(
    app: &App,
    caller: &Caller,
    headers: &CommandHeaders,
    body: &Body,
    id: &str,
    name: &'static str,
    cmd: OrderCommand,
) -> Result<Response, ApiError> {
    let meta = app.command_meta(caller, headers, body, name)?;
    let done = app
        .runner
        .execute::<Order>(&meta, &order_stream(id), &cmd)
        .await?;
    Ok(order_answer(app, StatusCode::OK, id, &done))
}

async fn change_price(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::CHANGE_PRICE.check(&caller)?;
    load_for(&app, &caller, &id)?;
    let input: ChangePrice = body.json()?;
    run(
        &app,
        &caller,
        &headers,
        &body,
        &id,
        "ChangeOrderPrice",
        OrderCommand::ChangePrice {
            new_price_cents: input.new_price_cents,
            reason: input.reason,
        },
    )
    .await
}

async fn pay(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::PAY.check(&caller)?;
    load_for(&app, &caller, &id)?;
    let input: Pay = body.json()?;
    let meta = app.command_meta(&caller, &headers, &body, "PayOrder")?;
    let pay = domain::order::PayOrder {
        order_id: id.clone(),
        amount_cents: input.amount_cents,
        voucher_cents: input.voucher_cents.unwrap_or(0),
    };
    let done = app.runner.decide::<Order>(&meta, &pay).await?;
    Ok(order_answer(&app, StatusCode::OK, &id, &done))
}

async fn cancel(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::CANCEL.check(&caller)?;
    load_for(&app, &caller, &id)?;
    let meta = app.command_meta(&caller, &headers, &body, "CancelOrder")?;
    // The order's coupon, if any, goes back to the customer's wallet in the same append.
    let cancel = domain::order::VoidOrder {
        order_id: id.clone(),
        command: OrderCommand::Cancel,
    };
    let done = app.runner.decide::<Order>(&meta, &cancel).await?;
    Ok(order_answer(&app, StatusCode::OK, &id, &done))
}

async fn detail(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    access::GET_ORDER.check(&caller)?;
    app.wait_for(&app.orders, min).await?;
    app.wait_for(&app.deliveries, min).await?;
    let (row, position) = app.orders.read(|s| s.by_id.get(&id).cloned());
    let row = row
        .filter(|r| access::sees_order(&caller, &r.state))
        .ok_or_else(|| ApiError::not_found("order"))?;
    let view = order_view(&app, &row.id, &row.state, row.version, None)
        .ok_or_else(|| ApiError::not_found("order"))?;
    Ok(respond::read(&view, Some(row.version), position))
}

async fn history(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    access::ORDER_HISTORY.check(&caller)?;
    load_for(&app, &caller, &id)?;
    let stream = order_stream(&id);
    let mut state = OrderState::default();
    let mut events = Vec::new();
    for_each_record(&app, &stream, |r| {
        let e = OrderEvent::decode_payload(&r.event_type, r.schema_version, &r.payload)
            .map_err(|e| ApiError::internal("history", e))?;
        state = Order::evolve(std::mem::take(&mut state), &e);
        let after = order_owned(&app, &id, &state, r.version)
            .ok_or_else(|| ApiError::internal("history", "an order event before placement"))?;
        events.push(HistoryEvent::new(EventView::of(app.tz, r, None), after));
        Ok(())
    })?;
    let delivery_milestones = delivery_milestones(&app, &id)?;
    Ok(respond::read(
        &OrderHistory {
            order_id: id,
            events,
            delivery_milestones,
        },
        None,
        projections::ProjectionControl::position(&app.orders),
    ))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    order_id: Option<String>,
    status: Option<String>,
    order_type: Option<String>,
    product_id: Option<String>,
    product_code: Option<String>,
    product_name: Option<String>,
    customer_id: Option<String>,
    channel: Option<String>,
    created_from: Option<String>,
    created_to: Option<String>,
    completed_from: Option<String>,
    completed_to: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

fn filter_for(caller: &Caller, q: &ListQuery) -> Result<OrderFilter, ApiError> {
    let mut f = OrderFilter {
        order_id: q.order_id.clone(),
        customer_id: q.customer_id.clone(),
        status: q.status.clone(),
        order_type: q.order_type.clone(),
        product_id: q.product_id.clone(),
        product_code: q.product_code.clone(),
        product_name: q.product_name.clone(),
        channel: q.channel.clone(),
        created_from: parse_time("created_from", &q.created_from)?,
        created_to: parse_time("created_to", &q.created_to)?,
        completed_from: parse_time("completed_from", &q.completed_from)?,
        completed_to: parse_time("completed_to", &q.completed_to)?,
        ..OrderFilter::default()
    };
    match access::scope(caller) {
        Scope::All => {}
        Scope::Customer(id) => f.party_customer_id = Some(id.to_owned()),
        Scope::Seller(org) => f.seller_org_id = Some(org.to_owned()),
        // An org no seller has: the list is empty.
        Scope::Nothing => f.seller_org_id = Some(String::new()),
    }
    Ok(f)
}

fn list_query(
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<ListQuery, ApiError> {
    crate::extract::query(q)
}

async fn list(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    access::LIST_ORDERS.check(&caller)?;
    let q = list_query(q)?;
    let filter = filter_for(&caller, &q)?;
    let (limit, after) = PageQuery::bounds(q.limit, q.cursor.as_deref())?;
    app.wait_for(&app.orders, min).await?;
    app.wait_for(&app.deliveries, min).await?;
    let (listed, position) = app
        .orders
        .read(|s| s.list(&filter, after.as_deref(), limit));
    let (rows, more) = listed.ok_or_else(crate::paging::bad_cursor)?;
    let next = if more {
        rows.last().map(|(k, _)| encode_cursor(k))
    } else {
        None
    };
    let items = rows
        .iter()
        .filter_map(|(_, r)| order_owned(&app, &r.id, &r.state, r.version))
        .collect();
    Ok(respond::list::<OrderPage>(items, next, position))
}

async fn export_csv(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    access::EXPORT_ORDERS.check(&caller)?;
    let q = list_query(q)?;
    let filter = filter_for(&caller, &q)?;
    let paging = PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    };
    let after = paging.after()?;
    let limit = crate::paging::limit_within(q.limit, EXPORT_ROWS_MAX, EXPORT_ROWS_MAX)?;
    app.wait_for(&app.orders, min).await?;
    app.wait_for(&app.deliveries, min).await?;
    let (listed, position) = app
        .orders
        .read(|s| s.list(&filter, after.as_deref(), limit));
    let (rows, more) = listed.ok_or_else(crate::paging::bad_cursor)?;
    let next = more
        .then(|| rows.last().map(|(k, _)| encode_cursor(k)))
        .flatten();
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "id",
        "created_at",
        "status",
        "order_type",
        "product_id",
        "product_code",
        "product_name",
        "spec_id",
        "quantity",
        "customer_id",
        "seller_org_id",
        "channel",
        "original_cents",
        "payable_cents",
        "paid_cents",
        "voucher_cents",
        "refunded_cents",
        "paid_at",
        "completed_at",
        "voided_at",
        "void_reason",
    ];
    w.write_record(header)
        .map_err(|e| ApiError::internal("csv", e))?;
    for (_, r) in &rows {
        let v = order_view(&app, &r.id, &r.state, r.version, None)
            .map(|view| serde_json::to_value(view).unwrap_or_default())
            .unwrap_or_default();
        let cell = |k: &str| match &v[k] {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Object(_) => v[k]["kind"].as_str().unwrap_or_default().to_owned(),
            other => other.to_string(),
        };
        w.write_record(header.iter().map(|k| cell(k)))
            .map_err(|e| ApiError::internal("csv", e))?;
    }
    let bytes = w.into_inner().map_err(|e| ApiError::internal("csv", e))?;
    let mut resp = (
        [(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        bytes,
    )
        .into_response();
    resp.headers_mut().insert(
        "x-projection-position",
        axum::http::HeaderValue::from(position),
    );
    // More rows than one export holds: the cursor of the next export, never a silent cut.
    if let Some(next) = next.and_then(|c| axum::http::HeaderValue::from_str(&c).ok()) {
        resp.headers_mut().insert("x-next-cursor", next);
    }
    Ok(resp)
}
