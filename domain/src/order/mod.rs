//! Orders (SPEC.md §3): placement with a product snapshot, price changes of unpaid orders,
//! exact-amount payment split into cash and voucher, cancellation, and the 7-day payment
//! timeout; refunds, invoices and reviews; the order's side of its delivery project
//! (`delivery.rs`: completion by the delivery, the system refund, which refunds cancel the
//! project). Stream `order-<order id>`.
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
use crate::text::{require_name, require_printable, TextKind};
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
mod coupons;
mod deadlines;
mod decisions;
mod delivery;
mod events;
mod payment;
mod placement;
mod price;
mod refunds;
mod state;
#[cfg(test)]
mod tests;

pub use aftersale::*;
pub use coupons::VoidOrder;
pub use deadlines::*;
pub use decisions::*;
pub use delivery::*;
pub use events::*;
use payment::*;
pub use placement::*;
use price::*;
pub use refunds::*;
pub use state::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderCommand {
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
    /// The order's delivery project completed (the delivery's policy, as `system`).
    CompleteByDelivery {
        delivery_id: String,
    },
    /// A full refund initiated and approved by `system` (a delivery's `cancel_and_refund`
    /// timeout, a platform close); run through `DecideRefund`, see `DecideRefund::by_system`.
    RefundBySystem {
        refund_id: String,
        delivery_id: String,
        reason: SystemRefundReason,
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
        // One arm per command, each delegating to its concern's module; long only because
        // the commands are destructured here.
        use OrderCommand as C;
        match command {
            C::ChangePrice {
                new_price_cents,
                reason,
            } => change_price(state, new_price_cents, reason, ctx),
            C::Pay {
                amount_cents,
                voucher_cents,
            } => pay(state, amount_cents, voucher_cents, ctx),
            C::Cancel => cancel(state, ctx),
            C::VoidForTimeout { deadline_id } => void_for_timeout(state, deadline_id, ctx),
            C::RequestRefund {
                refund_id,
                amount_cents,
                reason,
            } => request_refund(state, refund_id, *amount_cents, reason, ctx),
            C::SellerRefund {
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
            C::ApproveRefund {
                refund_id,
                approver,
            } => approve_refund(state, refund_id, *approver, ctx),
            C::RejectRefund {
                refund_id,
                approver,
                reason,
            } => reject_refund(state, refund_id, *approver, reason, ctx),
            C::AutoApproveRefund {
                refund_id,
                deadline_id,
            } => auto_approve_refund(state, refund_id, deadline_id, ctx),
            C::RequestInvoice {
                invoice_id,
                invoice_type,
                title,
                tax_id,
                address,
            } => request_invoice(state, invoice_id, invoice_type, title, tax_id, address, ctx),
            C::IssueInvoice {
                invoice_id,
                tracking,
            } => issue_invoice(state, invoice_id, tracking, ctx),
            C::RejectInvoice { invoice_id, reason } => {
                reject_invoice(state, invoice_id, reason, ctx)
            }
            C::Review {
                review_id,
                quality,
                attitude,
                speed,
                comment,
            } => review(state, review_id, quality, attitude, speed, comment, ctx),
            C::DefaultReview {
                review_id,
                deadline_id,
            } => default_review(state, review_id, deadline_id, ctx),
            C::ReplyToReview { text } => reply_to_review(state, text, ctx),
            C::CompleteByDelivery { delivery_id } => complete_by_delivery(state, delivery_id, ctx),
            C::RefundBySystem {
                refund_id,
                delivery_id,
                reason,
            } => refund_by_system(state, refund_id, delivery_id, *reason, ctx),
        }
    }

    fn evolve(state: OrderState, event: &OrderEvent) -> OrderState {
        state::evolve(state, event)
    }
}
