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

mod aftersale;
mod deadlines;
mod events;
mod payment;
mod placement;
mod refunds;
mod state;
#[cfg(test)]
mod tests;

pub use aftersale::*;
pub use deadlines::*;
pub use events::*;
use payment::*;
pub use placement::*;
pub use refunds::*;
pub use state::*;

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
    /// A customer's refund request inside the refund window.
    RequestRefund {
        refund_id: String,
        amount_cents: Option<i64>,
        reason: String,
    },
    /// A seller-initiated refund, reviewed by the platform.
    SellerRefund {
        refund_id: String,
        kind: String,
        amount_cents: Option<i64>,
        release: String,
        keep_reason: Option<String>,
        reason: String,
    },
    /// The seller (pending_seller) or the platform (pending_platform) approves.
    ApproveRefund {
        refund_id: String,
        approver: Approver,
    },
    RejectRefund {
        refund_id: String,
        approver: Approver,
        reason: String,
    },
    /// Fired by the 3-day auto-approval deadline.
    AutoApproveRefund {
        refund_id: String,
        deadline_id: String,
    },
    RequestInvoice {
        invoice_id: String,
        invoice_type: String,
        title: String,
        tax_id: String,
        address: String,
    },
    IssueInvoice {
        invoice_id: String,
        tracking: String,
    },
    RejectInvoice {
        invoice_id: String,
        reason: String,
    },
    Review {
        review_id: String,
        quality: u8,
        attitude: u8,
        speed: u8,
        comment: String,
    },
    /// Fired 30 days after completion when the customer has not reviewed.
    DefaultReview {
        review_id: String,
        deadline_id: String,
    },
    ReplyToReview {
        text: String,
    },
}

#[derive(Debug)]
pub struct Order;

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
            OrderCommand::RequestRefund {
                refund_id,
                amount_cents,
                reason,
            } => request_refund(state, refund_id, *amount_cents, reason, ctx),
            OrderCommand::SellerRefund {
                refund_id,
                kind,
                amount_cents,
                release,
                keep_reason,
                reason,
            } => seller_refund(
                state,
                refund_id,
                kind,
                *amount_cents,
                release,
                keep_reason.as_deref(),
                reason,
                ctx,
            ),
            OrderCommand::ApproveRefund {
                refund_id,
                approver,
            } => {
                let r = decidable_refund(state, refund_id, *approver)?;
                Ok(vec![approve(state, r, ctx, false, None)])
            }
            OrderCommand::RejectRefund {
                refund_id,
                approver,
                reason,
            } => {
                require_text("reason", reason, REASON_CHARS_MAX)?;
                let r = decidable_refund(state, refund_id, *approver)?;
                Ok(vec![OrderEvent::RefundRejected(RefundRejected {
                    refund_id: r.id.clone(),
                    reason: reason.trim().to_owned(),
                    rejected_by: ctx.actor.label(),
                    at: ctx.now,
                })])
            }
            OrderCommand::AutoApproveRefund {
                refund_id,
                deadline_id,
            } => {
                let Some(r) = state.refund(refund_id) else {
                    return Ok(Vec::new());
                };
                let due = r.auto_approve_at.is_some_and(|at| ctx.now >= at);
                if r.status != RefundStatus::PendingSeller
                    || !due
                    || !matches!(ctx.actor, Actor::System)
                {
                    return Ok(Vec::new());
                }
                Ok(vec![approve(
                    state,
                    r,
                    ctx,
                    true,
                    Some(deadline_id.clone()),
                )])
            }
            OrderCommand::RequestInvoice {
                invoice_id,
                invoice_type,
                title,
                tax_id,
                address,
            } => {
                let invoice_type = match invoice_type.as_str() {
                    "ordinary" => InvoiceType::Ordinary,
                    "special_vat" => InvoiceType::SpecialVat,
                    _ => {
                        return Err(DomainError::validation(
                            "type",
                            "one_of",
                            "type must be ordinary or special_vat",
                        ))
                    }
                };
                require_text("title", title, 200)?;
                require_text("tax_id", tax_id, 64)?;
                require_text("address", address, 500)?;
                require_paid_or_refunded(state)?;
                if let Some(open) = state
                    .invoices
                    .iter()
                    .find(|i| i.status != InvoiceStatus::Rejected)
                {
                    return Err(DomainError::invalid_state(
                        "invoice_exists",
                        format!("invoice {} is already {}", open.id, open.status.as_str()),
                    ));
                }
                let cash_paid = state.paid.0 - state.voucher.0;
                let amount = Cents(cash_paid - state.refunded_cash.0);
                if amount.0 <= 0 {
                    return Err(DomainError::rule(
                        "nothing_to_invoice",
                        "no cash remains to invoice on this order",
                    ));
                }
                Ok(vec![OrderEvent::InvoiceRequested(InvoiceRequested {
                    invoice_id: invoice_id.clone(),
                    invoice_type,
                    title: title.trim().to_owned(),
                    tax_id: tax_id.trim().to_owned(),
                    address: address.trim().to_owned(),
                    amount,
                    seller_pays_postage: state.paid.0 > SELLER_POSTAGE_ABOVE_CENTS,
                    at: ctx.now,
                })])
            }
            OrderCommand::IssueInvoice {
                invoice_id,
                tracking,
            } => {
                require_text("tracking", tracking, 200)?;
                let inv = requested_invoice(state, invoice_id)?;
                Ok(vec![OrderEvent::InvoiceIssued(InvoiceIssued {
                    invoice_id: inv.id.clone(),
                    tracking: tracking.trim().to_owned(),
                    issued_by: ctx.actor.label(),
                    at: ctx.now,
                })])
            }
            OrderCommand::RejectInvoice { invoice_id, reason } => {
                require_text("reason", reason, REASON_CHARS_MAX)?;
                let inv = requested_invoice(state, invoice_id)?;
                Ok(vec![OrderEvent::InvoiceRejected(InvoiceRejected {
                    invoice_id: inv.id.clone(),
                    reason: reason.trim().to_owned(),
                    rejected_by: ctx.actor.label(),
                    at: ctx.now,
                })])
            }
            OrderCommand::Review {
                review_id,
                quality,
                attitude,
                speed,
                comment,
            } => {
                for (field, v) in [
                    ("quality", quality),
                    ("attitude", attitude),
                    ("speed", speed),
                ] {
                    if !(1..=5).contains(v) {
                        return Err(DomainError::validation(
                            field,
                            "range",
                            format!("{field} must be 1..=5"),
                        ));
                    }
                }
                if comment.chars().count() > COMMENT_CHARS_MAX {
                    return Err(DomainError::validation(
                        "comment",
                        "max_length",
                        format!("comment must be at most {COMMENT_CHARS_MAX} characters"),
                    ));
                }
                if state.completed_at.is_none() {
                    return Err(DomainError::invalid_state(
                        state.status_str(),
                        "only completed orders can be reviewed",
                    ));
                }
                if state.review.is_some() {
                    return Err(DomainError::invalid_state(
                        "reviewed",
                        "this order has been reviewed already",
                    ));
                }
                Ok(vec![OrderEvent::ReviewSubmitted(ReviewSubmitted {
                    review_id: review_id.clone(),
                    quality: *quality,
                    attitude: *attitude,
                    speed: *speed,
                    comment: comment.trim().to_owned(),
                    at: ctx.now,
                })])
            }
            OrderCommand::DefaultReview {
                review_id,
                deadline_id,
            } => {
                let due = state.completed_at.map(|c| c.plus_days(REVIEW_DAYS));
                if state.review.is_some()
                    || due.is_none_or(|d| ctx.now < d)
                    || !matches!(ctx.actor, Actor::System)
                {
                    return Ok(Vec::new());
                }
                Ok(vec![OrderEvent::ReviewDefaulted(ReviewDefaulted {
                    review_id: review_id.clone(),
                    at: ctx.now,
                    deadline_id: deadline_id.clone(),
                })])
            }
            OrderCommand::ReplyToReview { text } => {
                require_text("text", text, COMMENT_CHARS_MAX)?;
                let review = state
                    .review
                    .as_ref()
                    .ok_or_else(|| DomainError::not_found("review"))?;
                if review.reply.is_some() {
                    return Err(DomainError::invalid_state(
                        "replied",
                        "the seller has replied already",
                    ));
                }
                if ctx.now > review.at.plus_days(REVIEW_DAYS) {
                    return Err(DomainError::invalid_state(
                        "reply_window_closed",
                        format!("replies are allowed within {REVIEW_DAYS} days of the review"),
                    ));
                }
                Ok(vec![OrderEvent::ReviewReplied(ReviewReplied {
                    review_id: review.id.clone(),
                    text: text.trim().to_owned(),
                    replied_by: ctx.actor.label(),
                    at: ctx.now,
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
            OrderEvent::InvoiceRequested(e) => state.invoices.push(Invoice {
                id: e.invoice_id.clone(),
                invoice_type: e.invoice_type,
                title: e.title.clone(),
                tax_id: e.tax_id.clone(),
                address: e.address.clone(),
                amount: e.amount,
                seller_pays_postage: e.seller_pays_postage,
                status: InvoiceStatus::Requested,
                requested_at: e.at,
                tracking: None,
                reject_reason: None,
                decided_at: None,
            }),
            OrderEvent::InvoiceIssued(e) => {
                if let Some(i) = state.invoices.iter_mut().find(|i| i.id == e.invoice_id) {
                    i.status = InvoiceStatus::Issued;
                    i.tracking = Some(e.tracking.clone());
                    i.decided_at = Some(e.at);
                }
            }
            OrderEvent::InvoiceRejected(e) => {
                if let Some(i) = state.invoices.iter_mut().find(|i| i.id == e.invoice_id) {
                    i.status = InvoiceStatus::Rejected;
                    i.reject_reason = Some(e.reason.clone());
                    i.decided_at = Some(e.at);
                }
            }
            OrderEvent::ReviewSubmitted(e) => {
                state.review = Some(Box::new(Review {
                    id: e.review_id.clone(),
                    quality: e.quality,
                    attitude: e.attitude,
                    speed: e.speed,
                    comment: e.comment.clone(),
                    default: false,
                    at: e.at,
                    reply: None,
                    replied_at: None,
                }))
            }
            OrderEvent::ReviewDefaulted(e) => {
                state.review = Some(Box::new(Review {
                    id: e.review_id.clone(),
                    quality: 5,
                    attitude: 5,
                    speed: 5,
                    comment: String::new(),
                    default: true,
                    at: e.at,
                    reply: None,
                    replied_at: None,
                }))
            }
            OrderEvent::ReviewReplied(e) => {
                if let Some(r) = state.review.as_mut() {
                    r.reply = Some(e.text.clone());
                    r.replied_at = Some(e.at);
                }
            }
        }
        state
    }
}
