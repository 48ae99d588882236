//! An order's coupon (ADR 0006): redeemed from the customer's wallet at placement, in the
//! same atomic append as the order and guarding the coupon's campaign (no redemption after a
//! void); given back to the wallet when the unpaid order is voided, if the coupon is still
//! valid (SPEC.md §4). Refunds do not give coupons back.

use super::*;
use crate::coupon::{campaign_stream, wallet, wallet_stream, Campaign, Wallet};
use crate::decision::{Decision, Outcome, States};
use crate::pricing::{AppliedCoupon, CouponOffer};

/// The streams a placement naming `coupon_id` reads: the customer's wallet, then (once the
/// wallet is loaded and holds the coupon) the coupon's campaign.
pub(super) fn redemption_streams(
    customer_id: &str,
    coupon_id: Option<&str>,
    loaded: &States,
) -> Vec<String> {
    let Some(coupon_id) = coupon_id else {
        return Vec::new();
    };
    let wstream = wallet_stream(customer_id);
    let campaign = loaded
        .get::<Wallet>(&wstream)
        .ok()
        .and_then(|w| w.coupons.get(coupon_id))
        .map(|c| campaign_stream(&c.terms.campaign_id));
    std::iter::once(wstream).chain(campaign).collect()
}

/// What the loaded wallet and campaign say of `coupon_id` (not held: `terms: None`, which
/// pricing refuses as `not_owner`).
pub(super) fn offer_of<'a>(
    customer_id: &str,
    coupon_id: &'a str,
    states: &'a States,
) -> Result<CouponOffer<'a>, DomainError> {
    let held = states.get::<Wallet>(&wallet_stream(customer_id))?;
    let campaign_void = match held.coupons.get(coupon_id) {
        Some(c) => states
            .get::<Campaign>(&campaign_stream(&c.terms.campaign_id))?
            .is_void(),
        None => false,
    };
    Ok(wallet::offer(held, coupon_id, campaign_void))
}

/// The wallet's part of a placement that got a coupon.
pub(super) struct Redemption {
    wallet: String,
    campaign: String,
    event: crate::coupon::WalletEvent,
}

impl Redemption {
    /// The redemption of the coupon the placed order in `events` got, if any.
    pub(super) fn of(events: &[OrderEvent]) -> Option<Redemption> {
        events.iter().find_map(|e| {
            let OrderEvent::OrderPlaced(p) = e else {
                return None;
            };
            let c = p.coupon.as_ref()?;
            Some(Redemption {
                wallet: wallet_stream(&p.customer_id),
                campaign: campaign_stream(&c.campaign_id),
                event: wallet::redeemed(&c.id, &p.order_id, c.saving, p.placed_at),
            })
        })
    }

    /// Appends it to the wallet, guarding the campaign (a void between load and append
    /// makes the placement decide again, and then refuse).
    pub(super) fn add_to(self, outcome: &mut Outcome) -> Result<(), DomainError> {
        outcome.append(&self.wallet, &[self.event])?;
        outcome.guard(&self.campaign);
        Ok(())
    }
}

/// The placement of `order` and the coupon it got, if any.
fn placed_coupon(order: &OrderState) -> Option<(&OrderPlaced, &AppliedCoupon)> {
    let p = order.placed.as_ref()?;
    Some((p, p.coupon.as_ref()?))
}

/// Voiding an unpaid order — the customer cancels (`OrderCommand::Cancel`) or the 7-day rule
/// fires (`OrderCommand::VoidForTimeout`) — and giving its coupon back in the same append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoidOrder {
    pub order_id: String,
    pub command: OrderCommand,
}

impl Decision for VoidOrder {
    fn primary(&self) -> String {
        order_stream(&self.order_id)
    }

    fn streams(&self, loaded: &States) -> Vec<String> {
        let Ok(order) = loaded.get::<Order>(&self.primary()) else {
            return Vec::new();
        };
        let Some((p, c)) = placed_coupon(order) else {
            return Vec::new();
        };
        vec![
            wallet_stream(&p.customer_id),
            campaign_stream(&c.campaign_id),
        ]
    }

    fn decide(&self, states: &States, ctx: &Context) -> Result<Outcome, DomainError> {
        let stream = self.primary();
        let order = states.get::<Order>(&stream)?;
        let events = Order::decide(order, &self.command, ctx)?;
        let voided = events
            .iter()
            .any(|e| matches!(e, OrderEvent::OrderVoided(_)));
        let mut outcome = Outcome::primary::<Order>(&stream, order, events)?;
        let Some((p, c)) = placed_coupon(order).filter(|_| voided) else {
            return Ok(outcome);
        };
        let wstream = wallet_stream(&p.customer_id);
        let held = states.get::<Wallet>(&wstream)?;
        let campaign = states.get::<Campaign>(&campaign_stream(&c.campaign_id))?;
        if let Some(e) = wallet::release(held, &c.id, &self.order_id, campaign, ctx.now) {
            outcome.append(&wstream, &[e])?;
        }
        Ok(outcome)
    }
}
