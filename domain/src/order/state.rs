//! The order's folded state.

use super::*;

/// An invoice of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub id: String,
    pub invoice_type: InvoiceType,
    pub title: String,
    pub tax_id: String,
    pub address: String,
    pub amount: Cents,
    pub seller_pays_postage: bool,
    pub status: InvoiceStatus,
    pub requested_at: Timestamp,
    pub tracking: Option<String>,
    pub reject_reason: Option<String>,
    pub decided_at: Option<Timestamp>,
}

/// The review of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub id: String,
    pub quality: u8,
    pub attitude: u8,
    pub speed: u8,
    pub comment: String,
    /// True when the 30-day rule wrote 5/5/5; left out of the shop score.
    pub default: bool,
    pub at: Timestamp,
    pub reply: Option<String>,
    pub replied_at: Option<Timestamp>,
}

impl Review {
    /// A review with any score below 5 is "bad" until the seller replies.
    pub fn bad_unhandled(&self) -> bool {
        !self.default
            && self.reply.is_none()
            && (self.quality < 5 || self.attitude < 5 || self.speed < 5)
    }
}

/// One refund of an order, as its read model shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub id: String,
    pub initiated_by: RefundInitiator,
    pub kind: RefundKind,
    pub amount: Cents,
    pub cash: Cents,
    pub voucher: Cents,
    pub release: Release,
    pub keep_reason: Option<String>,
    pub reason: String,
    pub status: RefundStatus,
    pub requested_at: Timestamp,
    pub auto_approve_at: Option<Timestamp>,
    pub decided_at: Option<Timestamp>,
    pub decided_by: Option<String>,
    pub reject_reason: Option<String>,
    pub commission_clawback: Cents,
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
    pub refunds: Vec<Refund>,
    pub invoices: Vec<Invoice>,
    /// Boxed: most orders have none, and inline it would add ~100 bytes to every order.
    pub review: Option<Box<Review>>,
    /// Cash refunded so far (invoices count cash only).
    pub refunded_cash: Cents,
}

impl OrderState {
    pub fn invoice(&self, invoice_id: &str) -> Option<&Invoice> {
        self.invoices.iter().find(|i| i.id == invoice_id)
    }

    /// The open (pending) refund, if any.
    pub fn open_refund(&self) -> Option<&Refund> {
        self.refunds.iter().find(|r| {
            matches!(
                r.status,
                RefundStatus::PendingSeller | RefundStatus::PendingPlatform
            )
        })
    }

    pub fn refund(&self, refund_id: &str) -> Option<&Refund> {
        self.refunds.iter().find(|r| r.id == refund_id)
    }

    pub fn status_str(&self) -> &'static str {
        self.status.map(OrderStatus::as_str).unwrap_or("none")
    }
    pub fn balance(&self) -> Cents {
        Cents(self.paid.0 - self.refunded.0)
    }
}

/// The state after `event` (the body of `Order::evolve`): the sale here, refunds and the
/// after-sale in their modules.
pub(super) fn evolve(mut state: OrderState, event: &OrderEvent) -> OrderState {
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
        OrderEvent::OrderCompleted(e) => state.completed_at = Some(e.at),
        OrderEvent::OrderVoided(e) => {
            state.status = Some(OrderStatus::Voided);
            state.voided_at = Some(e.at);
            state.void_reason = Some(e.reason);
        }
        OrderEvent::RefundRequested(_)
        | OrderEvent::RefundApproved(_)
        | OrderEvent::RefundRejected(_) => return evolve_refund(state, event),
        OrderEvent::InvoiceRequested(_)
        | OrderEvent::InvoiceIssued(_)
        | OrderEvent::InvoiceRejected(_)
        | OrderEvent::ReviewSubmitted(_)
        | OrderEvent::ReviewDefaulted(_)
        | OrderEvent::ReviewReplied(_) => return evolve_aftersale(state, event),
    }
    state
}
