//! Orders (SPEC.md §3): placement with a product snapshot, price changes of unpaid orders,
//! exact-amount payment split into cash and voucher, cancellation, and the 7-day payment
//! timeout. Stream `order-<order id>`.
//!
//! Invariants: status moves only `unpaid → paid` or `unpaid → voided`; only unpaid orders
//! change price; the paid amount equals the payable amount exactly; every event carries the
//! figures an auditor needs (old and new price, who, why, the rule that fired).

use serde::{Deserialize, Serialize};

use crate::deadline::{Deadline, DeadlineEffect, DeadlineRule};
use crate::decider::{Actor, Context, Decider};
use crate::error::{require_text, DomainError};
use crate::money::Cents;
use crate::product::{DeliveryKind, DurationUnit, ProductState, ProductStatus};
use crate::time::Timestamp;

pub const QUANTITY_MAX: u32 = 100;
pub const REMARK_CHARS_MAX: usize = 200;
pub const REASON_CHARS_MAX: usize = 200;
/// Unpaid orders are voided this many days after creation.
pub const PAYMENT_TIMEOUT_DAYS: u32 = 7;
pub const PRICE_CENTS_MAX: i64 = crate::product::PRICE_CENTS_MAX * QUANTITY_MAX as i64;

pub fn order_stream(order_id: &str) -> String {
    format!("order-{order_id}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderType {
    New,
    Renewal,
    Trial,
    Conversion,
    Upgrade,
}

impl OrderType {
    pub fn parse(s: &str) -> Option<OrderType> {
        match s {
            "new" => Some(OrderType::New),
            "renewal" => Some(OrderType::Renewal),
            "trial" => Some(OrderType::Trial),
            "conversion" => Some(OrderType::Conversion),
            "upgrade" => Some(OrderType::Upgrade),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::New => "new",
            OrderType::Renewal => "renewal",
            OrderType::Trial => "trial",
            OrderType::Conversion => "conversion",
            OrderType::Upgrade => "upgrade",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Client {
    Web,
    Mobile,
    Api,
}

impl Client {
    pub fn parse(s: &str) -> Option<Client> {
        match s {
            "web" => Some(Client::Web),
            "mobile" => Some(Client::Mobile),
            "api" => Some(Client::Api),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Client::Web => "web",
            Client::Mobile => "mobile",
            Client::Api => "api",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    OnlineStore,
    CustomSolution,
    Distribution,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::OnlineStore => "online_store",
            ChannelKind::CustomSolution => "custom_solution",
            ChannelKind::Distribution => "distribution",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    pub kind: ChannelKind,
    /// Solution id (custom_solution) or distributor id (distribution).
    pub reference: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Unpaid,
    Paid,
    Refunded,
    Voided,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Unpaid => "unpaid",
            OrderStatus::Paid => "paid",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Voided => "voided",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoidReason {
    CancelledByCustomer,
    PaymentTimeout,
}

impl VoidReason {
    pub fn as_str(self) -> &'static str {
        match self {
            VoidReason::CancelledByCustomer => "cancelled_by_customer",
            VoidReason::PaymentTimeout => "payment_timeout",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPlaced {
    pub order_id: String,
    pub order_type: OrderType,
    pub customer_id: String,
    pub seller_org_id: String,
    pub product_id: String,
    pub product_code: String,
    pub product_name: String,
    pub delivery: DeliveryKind,
    pub spec_id: String,
    pub spec_name: String,
    pub duration: u32,
    pub unit: DurationUnit,
    pub instance_id: Option<String>,
    pub quantity: u32,
    /// Spec price at placement.
    pub unit_price: Cents,
    /// Spec price × quantity.
    pub original: Cents,
    pub payable: Cents,
    pub channel: Channel,
    /// Snapshot of the product's commission for distribution orders.
    pub commission_percent: Option<u32>,
    pub client: Option<Client>,
    pub remark: Option<String>,
    pub placed_at: Timestamp,
    /// When the 7-day payment timeout voids the order if it is still unpaid.
    pub payment_due_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPriceChanged {
    pub old_payable: Cents,
    pub new_payable: Cents,
    pub reason: String,
    pub changed_by: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPaid {
    pub amount: Cents,
    pub voucher: Cents,
    pub cash: Cents,
    pub at: Timestamp,
    /// Automatic products complete at payment (manual ones when delivery completes).
    pub completed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderVoided {
    pub reason: VoidReason,
    pub at: Timestamp,
    /// For `payment_timeout`: the deadline that expired.
    pub deadline_id: Option<String>,
}

crate::event_enum! {
    /// Events of an order.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum OrderEvent {
        OrderPlaced(OrderPlaced) version 1,
        OrderPriceChanged(OrderPriceChanged) version 1,
        OrderPaid(OrderPaid) version 1,
        OrderVoided(OrderVoided) version 1,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceChange {
    pub old_payable: Cents,
    pub new_payable: Cents,
    pub reason: String,
    pub changed_by: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderState {
    pub placed: Option<OrderPlaced>,
    pub status: Option<OrderStatus>,
    pub payable: Cents,
    pub paid: Cents,
    pub voucher: Cents,
    pub refunded: Cents,
    pub price_changes: Vec<PriceChange>,
    pub paid_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub voided_at: Option<Timestamp>,
    pub void_reason: Option<VoidReason>,
}

impl OrderState {
    pub fn status_str(&self) -> &'static str {
        self.status.map(OrderStatus::as_str).unwrap_or("none")
    }
    pub fn balance(&self) -> Cents {
        Cents(self.paid.0 - self.refunded.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOrder {
    pub order_id: String,
    pub customer_id: String,
    pub product_id: String,
    pub product: ProductState,
    pub spec_id: String,
    pub quantity: u32,
    pub order_type: String,
    pub instance_id: Option<String>,
    pub coupon_id: Option<String>,
    pub client: Option<String>,
    pub channel_kind: Option<String>,
    pub channel_ref: Option<String>,
    pub remark: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderCommand {
    Place(Box<PlaceOrder>),
    ChangePrice {
        new_price_cents: i64,
        reason: String,
    },
    Pay {
        amount_cents: i64,
        voucher_cents: i64,
    },
    Cancel,
    /// Fired by the payment-timeout deadline.
    VoidForTimeout {
        deadline_id: String,
    },
}

#[derive(Debug)]
pub struct Order;

fn place(
    state: &OrderState,
    p: &PlaceOrder,
    ctx: &Context,
) -> Result<Vec<OrderEvent>, DomainError> {
    // Field rules that need no state first (422), then state (409), then state rules (422).
    let order_type = OrderType::parse(&p.order_type).ok_or_else(|| {
        DomainError::validation(
            "order_type",
            "one_of",
            "order_type must be new, renewal, trial, conversion or upgrade",
        )
    })?;
    if !(1..=QUANTITY_MAX).contains(&p.quantity) {
        return Err(DomainError::validation(
            "quantity",
            "range",
            format!("quantity must be 1..={QUANTITY_MAX}"),
        ));
    }
    let client = match &p.client {
        None => None,
        Some(c) => Some(Client::parse(c).ok_or_else(|| {
            DomainError::validation("client", "one_of", "client must be web, mobile or api")
        })?),
    };
    let channel_kind = match p.channel_kind.as_deref() {
        None | Some("online_store") => ChannelKind::OnlineStore,
        Some("custom_solution") => ChannelKind::CustomSolution,
        Some("distribution") => ChannelKind::Distribution,
        Some(_) => {
            return Err(DomainError::validation(
                "channel.kind",
                "one_of",
                "channel.kind must be online_store, custom_solution or distribution",
            ))
        }
    };
    if channel_kind != ChannelKind::OnlineStore
        && p.channel_ref.as_deref().is_none_or(|r| r.trim().is_empty())
    {
        return Err(DomainError::validation(
            "channel.ref",
            "required",
            format!("channel.ref is required for {}", channel_kind.as_str()),
        ));
    }
    if let Some(r) = &p.channel_ref {
        if r.chars().count() > 128 {
            return Err(DomainError::validation(
                "channel.ref",
                "max_length",
                "channel.ref must be at most 128 characters",
            ));
        }
    }
    if let Some(r) = &p.remark {
        if r.chars().count() > REMARK_CHARS_MAX {
            return Err(DomainError::validation(
                "remark",
                "max_length",
                format!("remark must be at most {REMARK_CHARS_MAX} characters"),
            ));
        }
    }
    let needs_instance = matches!(
        order_type,
        OrderType::Renewal | OrderType::Conversion | OrderType::Upgrade
    );
    if needs_instance && p.instance_id.is_none() {
        return Err(DomainError::validation(
            "instance_id",
            "required",
            format!(
                "a {} order names the instance it is for",
                order_type.as_str()
            ),
        ));
    }
    if !needs_instance && p.instance_id.is_some() {
        return Err(DomainError::validation(
            "instance_id",
            "not_allowed",
            format!(
                "a {} order is not for an existing instance",
                order_type.as_str()
            ),
        ));
    }
    if state.placed.is_some() {
        return Err(DomainError::conflict(
            "already_exists",
            "order already exists",
        ));
    }
    let product = p
        .product
        .created
        .as_ref()
        .ok_or_else(|| DomainError::not_found("product"))?;
    if p.product.status != ProductStatus::Listed {
        return Err(DomainError::invalid_state(
            p.product.status.as_str(),
            "only listed products can be ordered",
        ));
    }
    let spec = p.product.spec(&p.spec_id).ok_or_else(|| {
        DomainError::validation(
            "spec_id",
            "unknown",
            format!("product has no spec {}", p.spec_id),
        )
    })?;
    if spec.hidden {
        return Err(DomainError::validation(
            "spec_id",
            "hidden",
            format!("spec {} is hidden and cannot be ordered", spec.id),
        ));
    }
    match order_type {
        OrderType::Trial if !spec.trial => {
            return Err(DomainError::validation(
                "spec_id",
                "not_trial",
                "a trial order needs a trial spec",
            ))
        }
        OrderType::Trial if p.quantity != 1 => {
            return Err(DomainError::validation(
                "quantity",
                "trial_single",
                "a trial order has quantity 1",
            ))
        }
        OrderType::New | OrderType::Renewal | OrderType::Conversion | OrderType::Upgrade
            if spec.trial =>
        {
            return Err(DomainError::validation(
                "spec_id",
                "trial_spec",
                "a trial spec is ordered with order_type trial",
            ))
        }
        _ => {}
    }
    if let Some(instance) = &p.instance_id {
        // Instances are kept by the instance aggregate; none can be referenced before it exists.
        return Err(DomainError::validation(
            "instance_id",
            "unknown",
            format!("instance {instance} does not exist for this customer and product"),
        ));
    }
    if p.coupon_id.is_some() {
        return Err(DomainError::rule(
            "coupon_not_applicable",
            "this coupon does not belong to the customer",
        )
        .with("rule", "not_owner"));
    }
    let commission_percent = match channel_kind {
        ChannelKind::Distribution => Some(p.product.commission_percent.ok_or_else(|| {
            DomainError::rule(
                "distribution_not_enabled",
                "the product has no distribution commission",
            )
        })?),
        _ => None,
    };
    let original = Cents(spec.price.0.saturating_mul(i64::from(p.quantity)));
    let payable = if order_type == OrderType::Trial {
        spec.price
    } else {
        original
    };
    let placed_at = ctx.now;
    Ok(vec![OrderEvent::OrderPlaced(OrderPlaced {
        order_id: p.order_id.clone(),
        order_type,
        customer_id: p.customer_id.clone(),
        seller_org_id: product.seller_org_id.clone(),
        product_id: p.product_id.clone(),
        product_code: product.code.clone(),
        product_name: product.name.clone(),
        delivery: product.delivery,
        spec_id: spec.id.clone(),
        spec_name: spec.name.clone(),
        duration: spec.duration,
        unit: spec.unit,
        instance_id: p.instance_id.clone(),
        quantity: p.quantity,
        unit_price: spec.price,
        original,
        payable,
        channel: Channel {
            kind: channel_kind,
            reference: p
                .channel_ref
                .clone()
                .filter(|_| channel_kind != ChannelKind::OnlineStore),
        },
        commission_percent,
        client,
        remark: p.remark.clone().filter(|r| !r.trim().is_empty()),
        placed_at,
        payment_due_at: placed_at.plus_days(PAYMENT_TIMEOUT_DAYS),
    })])
}

fn require_unpaid(state: &OrderState, action: &str) -> Result<(), DomainError> {
    match state.status {
        None => Err(DomainError::not_found("order")),
        Some(OrderStatus::Unpaid) => Ok(()),
        Some(s) => Err(DomainError::invalid_state(
            s.as_str(),
            format!(
                "only unpaid orders can {action}; this one is {}",
                s.as_str()
            ),
        )),
    }
}

impl Decider for Order {
    type State = OrderState;
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Error = DomainError;

    fn decide(
        state: &OrderState,
        command: &OrderCommand,
        ctx: &Context,
    ) -> Result<Vec<OrderEvent>, DomainError> {
        match command {
            OrderCommand::Place(p) => place(state, p, ctx),
            OrderCommand::ChangePrice {
                new_price_cents,
                reason,
            } => {
                if !(0..=PRICE_CENTS_MAX).contains(new_price_cents) {
                    return Err(DomainError::validation(
                        "new_price_cents",
                        "range",
                        format!("new_price_cents must be 0..={PRICE_CENTS_MAX}"),
                    ));
                }
                require_text("reason", reason, REASON_CHARS_MAX)?;
                require_unpaid(state, "change price")?;
                Ok(vec![OrderEvent::OrderPriceChanged(OrderPriceChanged {
                    old_payable: state.payable,
                    new_payable: Cents(*new_price_cents),
                    reason: reason.trim().to_owned(),
                    changed_by: ctx.actor.label(),
                    at: ctx.now,
                })])
            }
            OrderCommand::Pay {
                amount_cents,
                voucher_cents,
            } => {
                if *amount_cents < 0 {
                    return Err(DomainError::validation(
                        "amount_cents",
                        "range",
                        "amount_cents must be ≥ 0",
                    ));
                }
                if *voucher_cents < 0 || voucher_cents > amount_cents {
                    return Err(DomainError::validation(
                        "voucher_cents",
                        "range",
                        "voucher_cents must be 0..=amount_cents",
                    ));
                }
                require_unpaid(state, "be paid")?;
                if *amount_cents != state.payable.0 {
                    return Err(DomainError::rule(
                        "amount_mismatch",
                        format!(
                            "the payment must equal the payable amount of {} cents",
                            state.payable.0
                        ),
                    )
                    .with("payable_cents", state.payable.0.to_string()));
                }
                let automatic = state
                    .placed
                    .as_ref()
                    .is_some_and(|p| p.delivery != DeliveryKind::Manual);
                Ok(vec![OrderEvent::OrderPaid(OrderPaid {
                    amount: Cents(*amount_cents),
                    voucher: Cents(*voucher_cents),
                    cash: Cents(amount_cents - voucher_cents),
                    at: ctx.now,
                    completed: automatic,
                })])
            }
            OrderCommand::Cancel => {
                require_unpaid(state, "be cancelled")?;
                Ok(vec![OrderEvent::OrderVoided(OrderVoided {
                    reason: VoidReason::CancelledByCustomer,
                    at: ctx.now,
                    deadline_id: None,
                })])
            }
            OrderCommand::VoidForTimeout { deadline_id } => {
                // The deadline may fire late or twice; only a still-unpaid, overdue order is voided.
                let due = state.placed.as_ref().map(|p| p.payment_due_at);
                if state.status != Some(OrderStatus::Unpaid)
                    || due.is_none_or(|d| ctx.now < d)
                    || !matches!(ctx.actor, Actor::System)
                {
                    return Ok(Vec::new());
                }
                Ok(vec![OrderEvent::OrderVoided(OrderVoided {
                    reason: VoidReason::PaymentTimeout,
                    at: ctx.now,
                    deadline_id: Some(deadline_id.clone()),
                })])
            }
        }
    }

    fn evolve(mut state: OrderState, event: &OrderEvent) -> OrderState {
        match event {
            OrderEvent::OrderPlaced(e) => {
                state.payable = e.payable;
                state.status = Some(OrderStatus::Unpaid);
                state.placed = Some(e.clone());
            }
            OrderEvent::OrderPriceChanged(e) => {
                state.payable = e.new_payable;
                state.price_changes.push(PriceChange {
                    old_payable: e.old_payable,
                    new_payable: e.new_payable,
                    reason: e.reason.clone(),
                    changed_by: e.changed_by.clone(),
                    at: e.at,
                });
            }
            OrderEvent::OrderPaid(e) => {
                state.status = Some(OrderStatus::Paid);
                state.paid = e.amount;
                state.voucher = e.voucher;
                state.paid_at = Some(e.at);
                if e.completed {
                    state.completed_at = Some(e.at);
                }
            }
            OrderEvent::OrderVoided(e) => {
                state.status = Some(OrderStatus::Voided);
                state.voided_at = Some(e.at);
                state.void_reason = Some(e.reason);
            }
        }
        state
    }
}

/// The id of an order's payment-timeout deadline.
pub fn payment_deadline_id(order_id: &str) -> String {
    Deadline::id_for(
        &order_stream(order_id),
        DeadlineRule::OrderPaymentTimeout,
        "placed",
    )
}

/// Deadlines the order's events start and stop.
pub fn deadline_effects(event: &OrderEvent, order_id: &str) -> Vec<DeadlineEffect> {
    match event {
        OrderEvent::OrderPlaced(e) => vec![DeadlineEffect::Start(Deadline {
            id: payment_deadline_id(order_id),
            due_at: e.payment_due_at,
            stream_id: order_stream(order_id),
            rule: DeadlineRule::OrderPaymentTimeout,
        })],
        OrderEvent::OrderPaid(_) | OrderEvent::OrderVoided(_) => vec![DeadlineEffect::Stop {
            id: payment_deadline_id(order_id),
        }],
        OrderEvent::OrderPriceChanged(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decider::testing::DeciderTest;
    use crate::decider::Role;
    use crate::product::{ProductCreated, Spec};

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }
    fn ctx_at(now: &str, actor: Actor) -> Context {
        Context::new(at(now), actor, chrono_tz::Asia::Shanghai)
    }
    fn customer() -> Actor {
        Actor::Principal {
            id: "cus_1".into(),
            role: Role::Customer,
            org_id: None,
        }
    }
    fn product(status: ProductStatus) -> ProductState {
        let spec = |id: &str, price, trial| Spec {
            id: id.into(),
            name: id.into(),
            duration: 1,
            unit: DurationUnit::Once,
            price: Cents(price),
            trial,
            hidden: false,
        };
        ProductState {
            created: Some(ProductCreated {
                product_id: "prd_1".into(),
                seller_org_id: "org_s".into(),
                code: "MIG".into(),
                name: "Data migration".into(),
                category: "services".into(),
                delivery: DeliveryKind::Saas,
                delivery_days: 3,
                warranty_days: 0,
                flow_template_id: None,
                specs: vec![spec("5g", 5_000, false), spec("try", 0, true)],
            }),
            status,
            specs: vec![spec("5g", 5_000, false), spec("try", 0, true)],
            commission_percent: None,
            providers: vec![],
        }
    }
    fn place_cmd(status: ProductStatus, qty: u32) -> OrderCommand {
        OrderCommand::Place(Box::new(PlaceOrder {
            order_id: "ord_1".into(),
            customer_id: "cus_1".into(),
            product_id: "prd_1".into(),
            product: product(status),
            spec_id: "5g".into(),
            quantity: qty,
            order_type: "new".into(),
            instance_id: None,
            coupon_id: None,
            client: Some("web".into()),
            channel_kind: None,
            channel_ref: None,
            remark: None,
        }))
    }
    fn placed() -> Vec<OrderEvent> {
        Order::decide(
            &OrderState::default(),
            &place_cmd(ProductStatus::Listed, 2),
            &ctx_at("2026-11-22T09:00:00+08:00", customer()),
        )
        .unwrap()
    }

    #[test]
    fn a_new_order_costs_spec_price_times_quantity_and_is_due_in_7_days() {
        let e = placed();
        let OrderEvent::OrderPlaced(p) = &e[0] else {
            panic!("{e:?}")
        };
        assert_eq!((p.original, p.payable), (Cents(10_000), Cents(10_000)));
        assert_eq!(p.payment_due_at, at("2026-11-29T09:00:00+08:00"));
        assert_eq!(
            deadline_effects(&e[0], "ord_1")[0],
            DeadlineEffect::Start(Deadline {
                id: "order-ord_1/order_payment_timeout/placed".into(),
                due_at: p.payment_due_at,
                stream_id: "order-ord_1".into(),
                rule: DeadlineRule::OrderPaymentTimeout,
            })
        );
    }

    #[test]
    fn only_listed_products_can_be_ordered() {
        DeciderTest::<Order>::given_no_events()
            .when(
                place_cmd(ProductStatus::Hidden, 1),
                &ctx_at("2026-11-22T09:00:00+08:00", customer()),
            )
            .then_error(|e| e.code == "invalid_state" && e.details[0].1 == "hidden");
        DeciderTest::<Order>::given_no_events()
            .when(
                place_cmd(ProductStatus::Listed, 101),
                &ctx_at("2026-11-22T09:00:00+08:00", customer()),
            )
            .then_error(|e| e.details[0].1 == "quantity");
    }

    #[test]
    fn price_change_needs_an_unpaid_order_and_a_reason_and_records_old_and_new() {
        let seller = Actor::Principal {
            id: "prn_s".into(),
            role: Role::IsvAdmin,
            org_id: Some("org_s".into()),
        };
        let ctx = ctx_at("2026-11-22T10:00:00+08:00", seller);
        DeciderTest::<Order>::given(placed())
            .when(
                OrderCommand::ChangePrice {
                    new_price_cents: 0,
                    reason: "testing my own product".into(),
                },
                &ctx,
            )
            .then_events(vec![OrderEvent::OrderPriceChanged(OrderPriceChanged {
                old_payable: Cents(10_000),
                new_payable: Cents(0),
                reason: "testing my own product".into(),
                changed_by: "prn_s:isv_admin".into(),
                at: at("2026-11-22T10:00:00+08:00"),
            })]);
        DeciderTest::<Order>::given(placed())
            .when(
                OrderCommand::ChangePrice {
                    new_price_cents: 10,
                    reason: " ".into(),
                },
                &ctx,
            )
            .then_error(|e| e.code == "validation_failed");
        let mut paid = placed();
        paid.push(OrderEvent::OrderPaid(OrderPaid {
            amount: Cents(10_000),
            voucher: Cents(0),
            cash: Cents(10_000),
            at: at("2026-11-22T09:30:00+08:00"),
            completed: true,
        }));
        DeciderTest::<Order>::given(paid)
            .when(
                OrderCommand::ChangePrice {
                    new_price_cents: 10,
                    reason: "late".into(),
                },
                &ctx,
            )
            .then_error(|e| e.code == "invalid_state" && e.details[0].1 == "paid");
    }

    #[test]
    fn payment_must_equal_the_payable_amount_and_splits_cash_and_voucher() {
        let ctx = ctx_at("2026-11-22T11:00:00+08:00", customer());
        DeciderTest::<Order>::given(placed())
            .when(
                OrderCommand::Pay {
                    amount_cents: 9_999,
                    voucher_cents: 0,
                },
                &ctx,
            )
            .then_error(|e| e.code == "amount_mismatch");
        let state = DeciderTest::<Order>::given(placed())
            .when(
                OrderCommand::Pay {
                    amount_cents: 10_000,
                    voucher_cents: 3_000,
                },
                &ctx,
            )
            .then_events(vec![OrderEvent::OrderPaid(OrderPaid {
                amount: Cents(10_000),
                voucher: Cents(3_000),
                cash: Cents(7_000),
                at: at("2026-11-22T11:00:00+08:00"),
                completed: true,
            })]);
        assert_eq!(state.completed_at, Some(at("2026-11-22T11:00:00+08:00")));
    }

    #[test]
    fn unpaid_order_is_voided_after_7_days_and_not_before() {
        let early = ctx_at("2026-11-29T08:59:59+08:00", Actor::System);
        DeciderTest::<Order>::given(placed())
            .when(
                OrderCommand::VoidForTimeout {
                    deadline_id: "d".into(),
                },
                &early,
            )
            .then_events(vec![]);
        let due = ctx_at("2026-11-29T09:00:00+08:00", Actor::System);
        DeciderTest::<Order>::given(placed())
            .when(
                OrderCommand::VoidForTimeout {
                    deadline_id: "d".into(),
                },
                &due,
            )
            .then_events(vec![OrderEvent::OrderVoided(OrderVoided {
                reason: VoidReason::PaymentTimeout,
                at: at("2026-11-29T09:00:00+08:00"),
                deadline_id: Some("d".into()),
            })]);
        let mut cancelled = placed();
        cancelled.push(OrderEvent::OrderVoided(OrderVoided {
            reason: VoidReason::CancelledByCustomer,
            at: at("2026-11-23T09:00:00+08:00"),
            deadline_id: None,
        }));
        DeciderTest::<Order>::given(cancelled)
            .when(
                OrderCommand::VoidForTimeout {
                    deadline_id: "d".into(),
                },
                &due,
            )
            .then_events(vec![]);
    }

    #[test]
    fn order_event_encodings_are_pinned() {
        use crate::codec::EventCodec;
        let hex = |b: Vec<u8>| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let e = placed();
        let paid = OrderEvent::OrderPaid(OrderPaid {
            amount: Cents(1),
            voucher: Cents(0),
            cash: Cents(1),
            at: Timestamp::from_micros(1),
            completed: false,
        });
        let actual = [
            hex(e[0].encode_payload().unwrap()),
            hex(paid.encode_payload().unwrap()),
        ];
        assert_eq!(actual, GOLDEN);
    }

    const GOLDEN: [&str; 2] = [
        "056f72645f3100056375735f31056f72675f73057072645f31034d49470e44617461206d6967726174696f6e0102356702356701000002fb1027fb204efb204e000000010000fd008841fea5c10c00fd00c808a0bfc20c00",
        "0200020200",
    ];
}
