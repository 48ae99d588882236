//! Refunds: customer requests, seller refunds, approval and rejection.

use super::*;

/// Who decides a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approver {
    Seller,
    Platform,
}

/// Customers may request a refund this many days after payment.
pub const REFUND_WINDOW_DAYS: u32 = 5;
/// A customer's request is approved automatically this many days after it was made.
pub const REFUND_AUTO_APPROVAL_DAYS: u32 = 3;

pub(super) fn require_paid(state: &OrderState) -> Result<(), DomainError> {
    match state.status {
        None => Err(DomainError::not_found("order")),
        Some(OrderStatus::Paid) => Ok(()),
        Some(s) => Err(DomainError::invalid_state(
            s.as_str(),
            format!(
                "only paid orders can be refunded; this one is {}",
                s.as_str()
            ),
        )),
    }
}

pub(super) fn no_open_refund(state: &OrderState) -> Result<(), DomainError> {
    match state.open_refund() {
        Some(r) => Err(DomainError::invalid_state(
            "refund_open",
            format!("refund {} is still open; one open refund per order", r.id),
        )),
        None => Ok(()),
    }
}

pub(super) fn refund_amount(
    field: &str,
    amount_cents: Option<i64>,
    balance: Cents,
) -> Result<Cents, DomainError> {
    let amount = amount_cents.map(Cents).unwrap_or(balance);
    if amount.0 <= 0 || amount > balance {
        return Err(DomainError::rule(
            "refund_exceeds_balance",
            format!(
                "{field} must be 1..={} cents (the remaining balance)",
                balance.0
            ),
        )
        .with("field", field)
        .with("balance_cents", balance.0.to_string()));
    }
    Ok(amount)
}

pub(super) fn request_refund(
    state: &OrderState,
    refund_id: &str,
    amount_cents: Option<i64>,
    reason: &str,
    ctx: &Context,
) -> Result<Vec<OrderEvent>, DomainError> {
    require_text("reason", reason, REASON_CHARS_MAX)?;
    if amount_cents.is_some_and(|a| a <= 0) {
        return Err(DomainError::validation(
            "amount_cents",
            "range",
            "amount_cents must be > 0",
        ));
    }
    require_paid(state)?;
    no_open_refund(state)?;
    let window_end = state.paid_at.map(|p| p.plus_days(REFUND_WINDOW_DAYS));
    if window_end.is_none_or(|end| ctx.now > end) {
        return Err(DomainError::rule(
            "refund_window_closed",
            format!("refunds can be requested within {REFUND_WINDOW_DAYS} days of payment"),
        ));
    }
    let amount = refund_amount("amount_cents", amount_cents, state.balance())?;
    Ok(vec![OrderEvent::RefundRequested(RefundRequested {
        refund_id: refund_id.to_owned(),
        initiated_by: RefundInitiator::Customer,
        kind: RefundKind::Request,
        amount,
        release: Release::Immediate,
        keep_reason: None,
        reason: reason.trim().to_owned(),
        requested_by: ctx.actor.label(),
        at: ctx.now,
        auto_approve_at: Some(ctx.now.plus_days(REFUND_AUTO_APPROVAL_DAYS)),
    })])
}

#[allow(clippy::too_many_arguments)]
pub(super) fn seller_refund(
    state: &OrderState,
    refund_id: &str,
    kind: &str,
    amount_cents: Option<i64>,
    release: &str,
    keep_reason: Option<&str>,
    reason: &str,
    ctx: &Context,
) -> Result<Vec<OrderEvent>, DomainError> {
    let kind = match kind {
        "full" => RefundKind::Full,
        "remaining" => RefundKind::Remaining,
        _ => {
            return Err(DomainError::validation(
                "kind",
                "one_of",
                "kind must be full or remaining",
            ))
        }
    };
    let release = match release {
        "immediate" => Release::Immediate,
        "keep" => Release::Keep,
        _ => {
            return Err(DomainError::validation(
                "release",
                "one_of",
                "release must be immediate or keep",
            ))
        }
    };
    require_text("reason", reason, REASON_CHARS_MAX)?;
    if kind == RefundKind::Remaining && amount_cents.is_none() {
        return Err(DomainError::validation(
            "amount_cents",
            "required",
            "a remaining refund names its amount_cents",
        ));
    }
    if kind == RefundKind::Full && amount_cents.is_some() {
        return Err(DomainError::validation(
            "amount_cents",
            "not_allowed",
            "a full refund returns the whole balance; omit amount_cents",
        ));
    }
    if amount_cents.is_some_and(|a| a <= 0) {
        return Err(DomainError::validation(
            "amount_cents",
            "range",
            "amount_cents must be > 0",
        ));
    }
    if release == Release::Keep {
        require_text("keep_reason", keep_reason.unwrap_or(""), REASON_CHARS_MAX)?;
    }
    require_paid(state)?;
    no_open_refund(state)?;
    let amount = refund_amount("amount_cents", amount_cents, state.balance())?;
    Ok(vec![OrderEvent::RefundRequested(RefundRequested {
        refund_id: refund_id.to_owned(),
        initiated_by: RefundInitiator::Seller,
        kind,
        amount,
        release,
        keep_reason: keep_reason
            .filter(|_| release == Release::Keep)
            .map(|k| k.trim().to_owned()),
        reason: reason.trim().to_owned(),
        requested_by: ctx.actor.label(),
        at: ctx.now,
        auto_approve_at: None,
    })])
}

pub(super) fn decidable_refund<'a>(
    state: &'a OrderState,
    refund_id: &str,
    approver: Approver,
) -> Result<&'a Refund, DomainError> {
    let r = state
        .refund(refund_id)
        .ok_or_else(|| DomainError::not_found("refund"))?;
    let expected = match approver {
        Approver::Seller => RefundStatus::PendingSeller,
        Approver::Platform => RefundStatus::PendingPlatform,
    };
    if r.status != expected {
        return Err(DomainError::invalid_state(
            r.status.as_str(),
            format!("this refund is {}", r.status.as_str()),
        ));
    }
    Ok(r)
}

pub(super) fn approve(
    state: &OrderState,
    r: &Refund,
    ctx: &Context,
    automatic: bool,
    deadline_id: Option<String>,
) -> OrderEvent {
    let (cash, voucher) = crate::money::proportional_split_increment(
        state.refunded,
        r.amount,
        state.paid,
        Cents(state.paid.0 - state.voucher.0),
    );
    let commission = state
        .placed
        .as_ref()
        .and_then(|p| p.commission_percent)
        .unwrap_or(0);
    let clawback = Cents(crate::money::round_half_up_div(
        i128::from(r.amount.0) * i128::from(commission),
        100,
    ));
    OrderEvent::RefundApproved(RefundApproved {
        refund_id: r.id.clone(),
        amount: r.amount,
        cash,
        voucher,
        approved_by: ctx.actor.label(),
        at: ctx.now,
        automatic,
        deadline_id,
        commission_clawback: clawback,
        balance_after: Cents(state.balance().0 - r.amount.0),
        release: r.release,
    })
}

pub(super) fn approve_refund(
    state: &OrderState,
    refund_id: &str,
    approver: Approver,
    ctx: &Context,
) -> Result<Vec<OrderEvent>, DomainError> {
    let r = decidable_refund(state, refund_id, approver)?;
    Ok(vec![approve(state, r, ctx, false, None)])
}

pub(super) fn reject_refund(
    state: &OrderState,
    refund_id: &str,
    approver: Approver,
    reason: &str,
    ctx: &Context,
) -> Result<Vec<OrderEvent>, DomainError> {
    require_text("reason", reason, REASON_CHARS_MAX)?;
    let r = decidable_refund(state, refund_id, approver)?;
    Ok(vec![OrderEvent::RefundRejected(RefundRejected {
        refund_id: r.id.clone(),
        reason: reason.trim().to_owned(),
        rejected_by: ctx.actor.label(),
        at: ctx.now,
    })])
}

pub(super) fn auto_approve_refund(
    state: &OrderState,
    refund_id: &str,
    deadline_id: &str,
    ctx: &Context,
) -> Result<Vec<OrderEvent>, DomainError> {
    let Some(r) = state.refund(refund_id) else {
        return Ok(Vec::new());
    };
    let due = r.auto_approve_at.is_some_and(|at| ctx.now >= at);
    if r.status != RefundStatus::PendingSeller || !due || !matches!(ctx.actor, Actor::System) {
        return Ok(Vec::new());
    }
    Ok(vec![approve(
        state,
        r,
        ctx,
        true,
        Some(deadline_id.to_owned()),
    )])
}

/// The state after a refund event.
pub(super) fn evolve_refund(mut state: OrderState, event: &OrderEvent) -> OrderState {
    match event {
        OrderEvent::RefundRequested(e) => state.refunds.push(Refund {
            id: e.refund_id.clone(),
            initiated_by: e.initiated_by,
            kind: e.kind,
            amount: e.amount,
            cash: Cents::ZERO,
            voucher: Cents::ZERO,
            release: e.release,
            keep_reason: e.keep_reason.clone(),
            reason: e.reason.clone(),
            status: match e.initiated_by {
                RefundInitiator::Customer => RefundStatus::PendingSeller,
                _ => RefundStatus::PendingPlatform,
            },
            requested_at: e.at,
            auto_approve_at: e.auto_approve_at,
            decided_at: None,
            decided_by: None,
            reject_reason: None,
            commission_clawback: Cents::ZERO,
        }),
        OrderEvent::RefundApproved(e) => {
            state.refunded = state.refunded.saturating_add(e.amount);
            state.refunded_cash = state.refunded_cash.saturating_add(e.cash);
            if state.balance().0 <= 0 {
                state.status = Some(OrderStatus::Refunded);
            }
            if let Some(r) = state.refunds.iter_mut().find(|r| r.id == e.refund_id) {
                r.status = RefundStatus::Refunded;
                r.cash = e.cash;
                r.voucher = e.voucher;
                r.decided_at = Some(e.at);
                r.decided_by = Some(e.approved_by.clone());
                r.commission_clawback = e.commission_clawback;
            }
        }
        OrderEvent::RefundRejected(e) => {
            if let Some(r) = state.refunds.iter_mut().find(|r| r.id == e.refund_id) {
                r.status = RefundStatus::Rejected;
                r.decided_at = Some(e.at);
                r.decided_by = Some(e.rejected_by.clone());
                r.reject_reason = Some(e.reason.clone());
            }
        }
        _ => {}
    }
    state
}
