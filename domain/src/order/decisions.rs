//! The order's commands that read or write other streams, as decisions over the states of
//! every stream they name (one context, one `now`): placement (the product and the instance
//! a renewal is for), payment (the instances it opens or changes) and refund decisions (the
//! instances an immediate refund releases). Also the commands the order's deadline rules
//! fire.

use super::*;
use crate::codec::{CodecError, EventCodec};
use crate::decision::{Decision, Outcome, Single, States};
use crate::history::StoredEvent;
use crate::ids::{IdGen, IdKind};
use crate::instance::{
    instance_stream, instances_of, on_payment, Instance, InstanceEvent, InstanceReleased,
};
use crate::platform::{principal_stream, Principal};
use crate::product::{product_stream, Product};
use crate::purchases::{purchases_stream, Purchases, PurchasesCommand};
use crate::registry::Fire;

impl Decision for PlaceOrder {
    fn primary(&self) -> String {
        order_stream(&self.order_id)
    }

    /// The product and the instance first; once the product is loaded, the customer's
    /// principal and purchases, but only when a live promotion of the product asks for
    /// real-name verification or a first purchase.
    fn streams(&self, loaded: &States) -> Vec<String> {
        let mut streams = vec![product_stream(&self.product_id)];
        streams.extend(self.instance_id.as_deref().map(instance_stream));
        if let Ok(product) = loaded.get::<Product>(&streams[0]) {
            let (first, real_name) = conditions_named(product);
            if real_name {
                streams.push(principal_stream(&self.customer_id));
            }
            if first {
                streams.push(purchases_stream(&self.customer_id));
            }
        }
        streams.extend(coupons::redemption_streams(
            &self.customer_id,
            self.coupon_id.as_deref(),
            loaded,
        ));
        streams
    }

    /// Prices from the product (and instance, and the customer's streams a promotion's
    /// conditions need) as loaded; the append checks they are all still at those versions.
    fn decide(&self, states: &States, ctx: &Context) -> Result<Outcome, DomainError> {
        // API.md §1: a field rule answers before any rule that reads the product's state.
        field_rules(self)?;
        let pstream = product_stream(&self.product_id);
        let product = states.get::<Product>(&pstream)?;
        // A draft is invisible to customers: to them it does not exist.
        if product.created.is_none() || product.status == ProductStatus::Draft {
            return Err(DomainError::validation(
                "product_id",
                "unknown",
                format!("product {} does not exist", self.product_id),
            ));
        }
        let instance = match self.instance_id.as_deref() {
            Some(id) => Some(states.get::<Instance>(&instance_stream(id))?),
            None => None,
        };
        let stream = self.primary();
        let order = states.get::<Order>(&stream)?;
        let (buyer, read) = buyer_of(&self.customer_id, product, states)?;
        let offer = match self.coupon_id.as_deref() {
            Some(id) => Some(coupons::offer_of(&self.customer_id, id, states)?),
            None => None,
        };
        let events = place(order, self, product, instance, &buyer, offer.as_ref(), ctx)?;
        let redemption = coupons::Redemption::of(&events);
        let mut outcome = Outcome::primary::<Order>(&stream, order, events)?;
        if let Some(r) = redemption {
            r.add_to(&mut outcome)?;
        }
        outcome.guard(&pstream);
        for s in read {
            outcome.guard(&s);
        }
        if let Some(id) = self.instance_id.as_deref() {
            outcome.guard(&instance_stream(id));
        }
        Ok(outcome)
    }
}

/// Whether a live promotion of `product` is for first purchases only, and whether one is
/// for real-name-verified customers only.
pub fn conditions_named(product: &ProductState) -> (bool, bool) {
    let live = || product.promotions.iter().filter(|p| p.live());
    (
        live().any(|p| p.terms.conditions.first_purchase_only),
        live().any(|p| p.terms.conditions.real_name_only),
    )
}

/// The customer as pricing sees them, from the streams `conditions_named` asked for (and
/// which they are); the facts of a stream not loaded change no price.
pub fn buyer_of(
    customer_id: &str,
    product: &ProductState,
    states: &States,
) -> Result<(Buyer, Vec<String>), DomainError> {
    let (first, real_name) = conditions_named(product);
    let mut buyer = Buyer::CUSTOMER_UNCONDITIONED;
    let mut read = Vec::new();
    if real_name {
        let stream = principal_stream(customer_id);
        let principal = states.get::<Principal>(&stream)?;
        buyer.real_name_verified = principal
            .created
            .as_ref()
            .is_some_and(|c| c.real_name_verified);
        read.push(stream);
    }
    if first {
        let stream = purchases_stream(customer_id);
        buyer.first_purchase = states
            .get::<Purchases>(&stream)?
            .first_purchase(&product_id_of(product));
        read.push(stream);
    }
    Ok((buyer, read))
}

fn product_id_of(product: &ProductState) -> String {
    product
        .created
        .as_ref()
        .map(|c| c.product_id.clone())
        .unwrap_or_default()
}

/// A customer pays an order; its instances open (new, trial) or change (renewal,
/// conversion, upgrade) in the same atomic append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayOrder {
    pub order_id: String,
    pub amount_cents: i64,
    pub voucher_cents: i64,
}

impl Decision for PayOrder {
    fn primary(&self) -> String {
        order_stream(&self.order_id)
    }

    /// The product (for the spec's duration; prices come from the order) and the instance
    /// the order is for.
    fn streams(&self, loaded: &States) -> Vec<String> {
        let Ok(order) = loaded.get::<Order>(&self.primary()) else {
            return Vec::new();
        };
        let Some(p) = &order.placed else {
            return Vec::new();
        };
        let mut streams = vec![product_stream(&p.product_id)];
        streams.extend(p.instance_id.as_deref().map(instance_stream));
        streams.push(purchases_stream(&p.customer_id));
        streams
    }

    fn decide(&self, states: &States, ctx: &Context) -> Result<Outcome, DomainError> {
        let stream = self.primary();
        let order = states.get::<Order>(&stream)?;
        let command = OrderCommand::Pay {
            amount_cents: self.amount_cents,
            voucher_cents: self.voucher_cents,
        };
        let events = Order::decide(order, &command, ctx)?;
        let mut outcome = Outcome::primary::<Order>(&stream, order, events)?;
        let Some(p) = order.placed.as_ref().filter(|_| !outcome.is_empty()) else {
            return Ok(outcome);
        };
        // The customer's first payment for this product enters their purchases.
        let pstream = purchases_stream(&p.customer_id);
        let purchased = Purchases::decide(
            states.get::<Purchases>(&pstream)?,
            &PurchasesCommand::Record {
                product_id: p.product_id.clone(),
                order_id: p.order_id.clone(),
            },
            ctx,
        )?;
        if !purchased.is_empty() {
            outcome.append(&pstream, &purchased)?;
        }
        let product = states.get::<Product>(&product_stream(&p.product_id))?;
        let Some(spec) = product.spec(&p.spec_id) else {
            return Ok(outcome);
        };
        let instance = match p.instance_id.as_deref() {
            Some(id) => Some(states.get::<Instance>(&instance_stream(id))?),
            None => None,
        };
        for (id, event) in on_payment(order, spec, instance, ctx.now, ctx.tz) {
            outcome.append(&instance_stream(&id), &[event])?;
        }
        Ok(outcome)
    }
}

/// A decision on a refund (approve, reject, auto-approve, the system's refund); an approval
/// of a refund that releases immediately also releases the order's usable instances,
/// atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecideRefund {
    pub order_id: String,
    /// `ApproveRefund`, `RejectRefund`, `AutoApproveRefund` or `RefundBySystem`.
    pub command: OrderCommand,
}

impl DecideRefund {
    /// The system's full refund of `order_id` for its delivery `delivery_id`, with the
    /// refund id `system_refund_id(delivery_id)`, so a re-run appends nothing.
    pub fn by_system(order_id: &str, delivery_id: &str, reason: SystemRefundReason) -> Self {
        DecideRefund {
            order_id: order_id.to_owned(),
            command: OrderCommand::RefundBySystem {
                refund_id: system_refund_id(delivery_id),
                delivery_id: delivery_id.to_owned(),
                reason,
            },
        }
    }

    /// Whether the command may approve a refund that releases the instances at once.
    fn may_release(&self, order: &OrderState) -> bool {
        let refund_id = match &self.command {
            // Always `immediate`, and the refund does not exist before the decision.
            OrderCommand::RefundBySystem { .. } => return true,
            OrderCommand::ApproveRefund { refund_id, .. }
            | OrderCommand::AutoApproveRefund { refund_id, .. } => refund_id,
            _ => return false,
        };
        order
            .refund(refund_id)
            .is_some_and(|r| r.release == Release::Immediate)
    }
}

impl Decision for DecideRefund {
    fn primary(&self) -> String {
        order_stream(&self.order_id)
    }

    fn streams(&self, loaded: &States) -> Vec<String> {
        let Ok(order) = loaded.get::<Order>(&self.primary()) else {
            return Vec::new();
        };
        if !self.may_release(order) {
            return Vec::new();
        }
        instances_of(order)
            .iter()
            .map(|id| instance_stream(id))
            .collect()
    }

    fn decide(&self, states: &States, ctx: &Context) -> Result<Outcome, DomainError> {
        let stream = self.primary();
        let order = states.get::<Order>(&stream)?;
        let events = Order::decide(order, &self.command, ctx)?;
        let released = events.iter().find_map(|e| match e {
            OrderEvent::RefundApproved(a) if a.release == Release::Immediate => {
                Some(a.refund_id.clone())
            }
            _ => None,
        });
        let mut outcome = Outcome::primary::<Order>(&stream, order, events)?;
        let Some(refund_id) = released else {
            return Ok(outcome);
        };
        for id in instances_of(order) {
            let istream = instance_stream(&id);
            let instance = states.get::<Instance>(&istream)?;
            if instance.opened.is_none() || !instance.usable() {
                continue;
            }
            let e = InstanceEvent::InstanceReleased(InstanceReleased {
                at: ctx.now,
                order_id: self.order_id.clone(),
                refund_id: refund_id.clone(),
            });
            outcome.append(&istream, &[e])?;
        }
        Ok(outcome)
    }
}

/// The deadlines of a stored order event (registry entry of the order).
pub fn stored_deadline_effects(
    order_id: &str,
    e: &StoredEvent<'_>,
) -> Result<Vec<DeadlineEffect>, CodecError> {
    let event = OrderEvent::decode_payload(e.event_type, e.schema_version, e.payload)?;
    Ok(deadline_effects(&event, order_id))
}

/// The order's deadline rules and the command each fires.
pub static DEADLINE_RULES: &[(DeadlineRule, Fire)] = &[
    (DeadlineRule::OrderPaymentTimeout, fire_payment_timeout),
    (DeadlineRule::RefundAutoApproval, fire_refund_auto_approval),
    (DeadlineRule::ReviewDefault, fire_review_default),
];

fn fire_payment_timeout(d: &Deadline, _ids: &dyn IdGen) -> Box<dyn Decision> {
    let (_, order_id) = crate::split_stream_id(&d.stream_id);
    Box::new(VoidOrder {
        order_id: order_id.to_owned(),
        command: OrderCommand::VoidForTimeout {
            deadline_id: d.id.clone(),
        },
    })
}

fn fire_refund_auto_approval(d: &Deadline, _ids: &dyn IdGen) -> Box<dyn Decision> {
    // The deadline id ends with the refund id (`refund_deadline_id`).
    let refund_id = d.id.rsplit('/').next().unwrap_or_default().to_owned();
    let (_, order_id) = crate::split_stream_id(&d.stream_id);
    Box::new(DecideRefund {
        order_id: order_id.to_owned(),
        command: OrderCommand::AutoApproveRefund {
            refund_id,
            deadline_id: d.id.clone(),
        },
    })
}

fn fire_review_default(d: &Deadline, ids: &dyn IdGen) -> Box<dyn Decision> {
    Box::new(Single::<Order>::new(
        d.stream_id.clone(),
        OrderCommand::DefaultReview {
            review_id: ids.new_id(IdKind::Review),
            deadline_id: d.id.clone(),
        },
    ))
}
