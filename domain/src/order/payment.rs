//! Payment, cancellation and the payment timeout.

use super::*;

pub(super) fn require_unpaid(state: &OrderState, action: &str) -> Result<(), DomainError> {
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

pub(super) fn pay(
    state: &OrderState,
    amount_cents: &i64,
    voucher_cents: &i64,
    ctx: &Context,
) -> Result<Vec<OrderEvent>, DomainError> {
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

pub(super) fn cancel(state: &OrderState, ctx: &Context) -> Result<Vec<OrderEvent>, DomainError> {
    require_unpaid(state, "be cancelled")?;
    Ok(vec![OrderEvent::OrderVoided(OrderVoided {
        reason: VoidReason::CancelledByCustomer,
        at: ctx.now,
        deadline_id: None,
    })])
}

pub(super) fn void_for_timeout(
    state: &OrderState,
    deadline_id: &str,
    ctx: &Context,
) -> Result<Vec<OrderEvent>, DomainError> {
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
        deadline_id: Some(deadline_id.to_owned()),
    })])
}
