//! Changing the price of an unpaid order.

use super::*;

pub(super) fn change_price(
    state: &OrderState,
    new_price_cents: &i64,
    reason: &str,
    ctx: &Context,
) -> Result<Vec<OrderEvent>, DomainError> {
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
