//! Placing an order: field rules, the product snapshot, the instance a renewal, conversion
//! or upgrade is for, prices.

use super::*;
use crate::instance::InstanceState;
use crate::pricing::{self, CouponOffer, Line, Priced, SpecDuration, Viewer};

/// A customer's order as placed: the one input of a placement, from the route's body to the
/// decision ([`Decision`](crate::decision::Decision) in `decisions.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOrder {
    pub order_id: String,
    pub customer_id: String,
    pub product_id: String,
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

/// What pricing knows of the one who asks, beyond the order: who they are to the product
/// and the facts the promotion conditions name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buyer {
    pub viewer: Viewer,
    /// The customer has never paid for this product (`purchases-<customer>`).
    pub first_purchase: bool,
    /// The customer's principal is real-name verified.
    pub real_name_verified: bool,
}

impl Buyer {
    /// A customer whose streams were not needed: no live promotion of the product has a
    /// first-purchase or real-name condition, so these facts change no price.
    pub const CUSTOMER_UNCONDITIONED: Buyer = Buyer {
        viewer: Viewer::Customer,
        first_purchase: false,
        real_name_verified: false,
    };
}

/// The placement of `p` on `state` (a new order), priced from `product_state` (its specs
/// and promotions) and, for a renewal, conversion or upgrade, the named `instance`, with the
/// coupon `coupon` offers (what its holder's wallet says of `p.coupon_id`). Also the price
/// quote of a product.
pub fn place(
    state: &OrderState,
    p: &PlaceOrder,
    product_state: &ProductState,
    instance: Option<&InstanceState>,
    buyer: &Buyer,
    coupon: Option<&CouponOffer<'_>>,
    ctx: &Context,
) -> Result<Vec<OrderEvent>, DomainError> {
    // Field rules that need no state first (422), then state (409), then state rules (422).
    let Fields {
        order_type,
        client,
        channel_kind,
    } = field_rules(p)?;
    if state.placed.is_some() {
        return Err(DomainError::conflict(
            "already_exists",
            "order already exists",
        ));
    }
    let (product, spec) = orderable_spec(product_state, p, order_type)?;
    let unit_price = unit_price(product_state, instance, p, order_type, spec)?;
    // A coupon named but offered by no wallet (the seller's own quote) is not the buyer's.
    let not_held = p.coupon_id.as_deref().map(CouponOffer::not_held);
    let coupon = coupon.or(not_held.as_ref());
    let original = Cents(unit_price.0.saturating_mul(i64::from(p.quantity)));
    let line = Line {
        seller_org_id: &product.seller_org_id,
        product_id: &p.product_id,
        spec_id: &spec.id,
        duration: SpecDuration {
            duration: spec.duration,
            unit: spec.unit,
        },
        order_type,
        quantity: p.quantity,
        client,
        original,
        first_purchase: buyer.first_purchase,
        real_name_verified: buyer.real_name_verified,
    };
    let priced = price_line(&line, product_state, buyer.viewer, coupon, ctx.now)?;
    let commission_percent = match channel_kind {
        ChannelKind::Distribution => Some(product_state.commission_percent.ok_or_else(|| {
            DomainError::rule(
                "distribution_not_enabled",
                "the product has no distribution commission",
            )
        })?),
        _ => None,
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
        unit_price,
        original: priced.original,
        payable: priced.payable,
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
        promotion: priced.promotion,
        coupon: priced.coupon,
    })])
}

/// The price of an order line: the product's promotions (those `viewer` sees), then the
/// offered coupon, by the one pricing function the quote uses too. A trial line is never
/// discounted (`pricing::scenario_of`), so it costs its trial spec's price.
pub fn price_line(
    line: &Line<'_>,
    product: &ProductState,
    viewer: Viewer,
    coupon: Option<&CouponOffer<'_>>,
    now: Timestamp,
) -> Result<Priced, DomainError> {
    pricing::price(line, &product.promotion_terms(), coupon, now, viewer)
}

/// What the field rules of a placement make of its strings.
pub(super) struct Fields {
    order_type: OrderType,
    client: Option<Client>,
    channel_kind: ChannelKind,
}

/// The rules that need no state (422 before anything else, API.md §1). Longer than most: one
/// check per field in the order API.md lists them; splitting it would hide that order.
pub(super) fn field_rules(p: &PlaceOrder) -> Result<Fields, DomainError> {
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
        require_printable("channel.ref", r, TextKind::Name)?;
    }
    if let Some(r) = &p.remark {
        if r.chars().count() > REMARK_CHARS_MAX {
            return Err(DomainError::validation(
                "remark",
                "max_length",
                format!("remark must be at most {REMARK_CHARS_MAX} characters"),
            ));
        }
        require_printable("remark", r, TextKind::Free)?;
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
    Ok(Fields {
        order_type,
        client,
        channel_kind,
    })
}

/// The listed product's orderable spec, matching the order type.
fn orderable_spec<'a>(
    product: &'a ProductState,
    p: &PlaceOrder,
    order_type: OrderType,
) -> Result<(&'a crate::product::ProductCreated, &'a crate::product::Spec), DomainError> {
    let created = product
        .created
        .as_ref()
        .ok_or_else(|| DomainError::not_found("product"))?;
    if product.status != ProductStatus::Listed {
        return Err(DomainError::invalid_state(
            product.status.as_str(),
            "only listed products can be ordered",
        ));
    }
    let spec = product.spec(&p.spec_id).ok_or_else(|| {
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
    Ok((created, spec))
}

/// The unit price, checking the instance a renewal, conversion or upgrade is for (an upgrade
/// costs the difference to the instance's current spec). Longer than most: the match is one
/// table of order type × instance kind, read best whole.
fn unit_price(
    product: &ProductState,
    instance: Option<&InstanceState>,
    p: &PlaceOrder,
    order_type: OrderType,
    spec: &crate::product::Spec,
) -> Result<Cents, DomainError> {
    let mut unit_price = spec.price;
    if let Some(instance_id) = &p.instance_id {
        let unknown = || {
            DomainError::validation(
                "instance_id",
                "unknown",
                format!("instance {instance_id} does not exist for this customer and product"),
            )
        };
        let inst = instance.ok_or_else(unknown)?;
        let opened = inst.opened.as_ref().ok_or_else(unknown)?;
        if opened.customer_id != p.customer_id || opened.product_id != p.product_id {
            return Err(unknown());
        }
        if !inst.usable() {
            return Err(DomainError::invalid_state(
                inst.status.as_str(),
                format!("instance {instance_id} is {}", inst.status.as_str()),
            ));
        }
        match order_type {
            OrderType::Renewal if inst.trial => {
                return Err(DomainError::validation(
                    "instance_id",
                    "trial_instance",
                    "a trial instance is converted, not renewed",
                ))
            }
            OrderType::Renewal if inst.spec_id != spec.id => {
                return Err(DomainError::validation(
                    "spec_id",
                    "instance_spec",
                    format!("a renewal keeps the instance's spec {}", inst.spec_id),
                ))
            }
            OrderType::Conversion if !inst.trial => {
                return Err(DomainError::validation(
                    "instance_id",
                    "not_trial",
                    "only a trial instance can be converted",
                ))
            }
            OrderType::Upgrade if inst.trial => {
                return Err(DomainError::validation(
                    "instance_id",
                    "trial_instance",
                    "a trial instance is converted, not upgraded",
                ))
            }
            OrderType::Upgrade if inst.spec_id == spec.id => {
                return Err(DomainError::validation(
                    "spec_id",
                    "same_spec",
                    "an upgrade changes the spec",
                ))
            }
            OrderType::Upgrade => {
                let current = product
                    .spec(&inst.spec_id)
                    .map(|s| s.price)
                    .unwrap_or(Cents::ZERO);
                unit_price = Cents((spec.price.0 - current.0).max(0));
            }
            _ => {}
        }
    }
    Ok(unit_price)
}
