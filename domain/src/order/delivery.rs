//! The order's side of its delivery project (SPEC.md §8): what a delivery asks of the order
//! and what the order's refunds ask of the delivery. The policies wiring them live with the
//! delivery; everything here is pure and idempotent, so a policy may run it twice.
//!
//! - `CompleteByDelivery`: the project completed → `OrderCompleted`, the order's completion
//!   time, which starts what an automatic product's completion at payment starts.
//! - `RefundBySystem` (run through `DecideRefund`, so an immediate refund releases the same
//!   instances it always does): a `cancel_and_refund` timeout or a platform close refunds
//!   the whole balance at once, initiated and approved by `system`, no review.
//! - `delivery_cancel_on_refund`: which approved refunds cancel the project.

use super::*;
use crate::codec::{CodecError, EventCodec};
use crate::history::StoredEvent;
use crate::ids::{is_valid_id, IdKind};

/// Why the system refunds an order (SPEC.md §8, last rule of "Flow templates").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemRefundReason {
    /// A node's `cancel_and_refund` timeout fired.
    DeliveryTimeout,
    /// The platform closed the paid project.
    PlatformClose,
}

impl SystemRefundReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SystemRefundReason::DeliveryTimeout => "delivery_timeout",
            SystemRefundReason::PlatformClose => "platform_close",
        }
    }
}

/// The id of the system refund a delivery causes: `rfd_<delivery body>`, so a re-run of
/// the same delivery's refund finds the refund the first run made. A delivery refunds its
/// order at most once, whichever of its timeout or a platform close comes first.
pub fn system_refund_id(delivery_id: &str) -> String {
    let body = delivery_id
        .strip_prefix(IdKind::Delivery.prefix())
        .unwrap_or(delivery_id);
    format!("{}{body}", IdKind::Refund.prefix())
}

fn require_id(field: &str, kind: IdKind, id: &str) -> Result<(), DomainError> {
    if is_valid_id(kind, id) {
        return Ok(());
    }
    Err(DomainError::validation(
        field,
        "id",
        format!("{field} must be an id starting with {}", kind.prefix()),
    ))
}

/// A manual order's delivery completed. Only `system` (the policy) completes an order; any
/// other actor, an order already completed and a fully refunded order (a refund cancelled
/// its delivery, so a late completion changes nothing) append nothing. An unpaid or voided
/// order has no delivery to complete: 409 `invalid_state`.
pub(super) fn complete_by_delivery(
    state: &OrderState,
    delivery_id: &str,
    ctx: &Context,
) -> Result<Vec<OrderEvent>, DomainError> {
    require_id("delivery_id", IdKind::Delivery, delivery_id)?;
    if !matches!(ctx.actor, Actor::System) {
        return Ok(Vec::new());
    }
    match state.status {
        None => return Err(DomainError::not_found("order")),
        Some(OrderStatus::Paid) => {}
        Some(OrderStatus::Refunded) => return Ok(Vec::new()),
        Some(s) => {
            return Err(DomainError::invalid_state(
                s.as_str(),
                format!(
                    "only paid orders complete by delivery; this one is {}",
                    s.as_str()
                ),
            ))
        }
    }
    if state.completed_at.is_some() {
        return Ok(Vec::new());
    }
    Ok(vec![OrderEvent::OrderCompleted(OrderCompleted {
        delivery_id: delivery_id.to_owned(),
        at: ctx.now,
    })])
}

/// The system refunds the whole remaining balance at once: `RefundRequested` (initiated by
/// `system`, kind `full`, release `immediate`) and its `RefundApproved` (by `system`,
/// `automatic`), in one append. A refund still open on the order is rejected first, in the
/// same append, "superseded by system refund …": the delivery is over and the customer gets
/// every cent back, so the open request has nothing left to decide (and "at most one open
/// refund" holds after every event). Appends nothing for another actor than `system`, a
/// refund id that exists already (a re-run) or a balance of 0 (already fully refunded, or a
/// free order).
pub(super) fn refund_by_system(
    state: &OrderState,
    refund_id: &str,
    delivery_id: &str,
    reason: SystemRefundReason,
    ctx: &Context,
) -> Result<Vec<OrderEvent>, DomainError> {
    require_id("refund_id", IdKind::Refund, refund_id)?;
    require_id("delivery_id", IdKind::Delivery, delivery_id)?;
    if !matches!(ctx.actor, Actor::System) || state.refund(refund_id).is_some() {
        return Ok(Vec::new());
    }
    if state.status == Some(OrderStatus::Refunded) {
        return Ok(Vec::new());
    }
    require_paid(state)?;
    if state.balance().0 <= 0 {
        return Ok(Vec::new());
    }
    let mut events = Vec::new();
    if let Some(open) = state.open_refund() {
        events.push(OrderEvent::RefundRejected(RefundRejected {
            refund_id: open.id.clone(),
            reason: format!("superseded by system refund {refund_id}"),
            rejected_by: ctx.actor.label(),
            at: ctx.now,
        }));
    }
    let requested = OrderEvent::RefundRequested(RefundRequested {
        refund_id: refund_id.to_owned(),
        initiated_by: RefundInitiator::System,
        kind: RefundKind::Full,
        amount: state.balance(),
        release: Release::Immediate,
        keep_reason: None,
        reason: format!("{}: {delivery_id}", reason.as_str()),
        requested_by: ctx.actor.label(),
        at: ctx.now,
        auto_approve_at: None,
    });
    // The approval is computed on the state the request leaves, as a separate approval
    // would be; rejecting the open refund moved no money.
    let after = evolve_refund(state.clone(), &requested);
    events.push(requested);
    let refund = after
        .refund(refund_id)
        .ok_or_else(|| DomainError::internal("the system refund was not folded"))?;
    events.push(approve(&after, refund, ctx, true, None));
    Ok(events)
}

/// The refund an approved refund event asks the order's delivery project to be cancelled
/// for (the delivery side's `CancelForRefund`): `(order id, refund id)` when the refund
/// brought the order's balance to 0 (SPEC.md §5: the order is then `refunded`). A partial
/// refund leaves the project running: the customer still paid for the rest of it.
/// Release `keep` cancels too — the order is refunded, so its delivery could no longer
/// complete it (`CompleteByDelivery` on a refunded order appends nothing).
///
/// The event does not say whether the order is of a manual product, nor whether its
/// project is still active: the delivery side's `CancelForRefund` appends nothing for an
/// order without a project, a project already cancelled (a system refund follows the
/// project's own cancellation) or completed.
pub fn delivery_cancel_on_refund(
    stream_id: &str,
    event: &StoredEvent<'_>,
) -> Result<Option<(String, String)>, CodecError> {
    let (kind, order_id) = crate::split_stream_id(stream_id);
    if kind != "order" || event.event_type != "RefundApproved" {
        return Ok(None);
    }
    if !is_valid_id(IdKind::Order, order_id) {
        return Ok(None);
    }
    let decoded =
        OrderEvent::decode_payload(event.event_type, event.schema_version, event.payload)?;
    let OrderEvent::RefundApproved(approved) = decoded else {
        return Ok(None);
    };
    Ok((approved.balance_after.0 <= 0).then(|| (order_id.to_owned(), approved.refund_id)))
}
