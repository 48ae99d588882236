//! The deadlines an order's events start and stop.

use super::*;

/// The id of an order's payment-timeout deadline.
pub fn payment_deadline_id(order_id: &str) -> String {
    Deadline::id_for(
        &order_stream(order_id),
        DeadlineRule::OrderPaymentTimeout,
        "placed",
    )
}

/// Deadlines the order's events start and stop.
pub fn deadline_effects(event: &OrderEvent, order_id: &str) -> Vec<DeadlineEffect> {
    match event {
        OrderEvent::OrderPlaced(e) => vec![DeadlineEffect::Start(Deadline {
            id: payment_deadline_id(order_id),
            due_at: e.payment_due_at,
            stream_id: order_stream(order_id),
            rule: DeadlineRule::OrderPaymentTimeout,
        })],
        OrderEvent::OrderPaid(e) => {
            let mut effects = vec![DeadlineEffect::Stop {
                id: payment_deadline_id(order_id),
            }];
            if e.completed {
                effects.extend(completion_effects(order_id, e.at));
            }
            effects
        }
        OrderEvent::OrderCompleted(e) => completion_effects(order_id, e.at),
        OrderEvent::OrderVoided(_) => vec![DeadlineEffect::Stop {
            id: payment_deadline_id(order_id),
        }],
        OrderEvent::ReviewSubmitted(_) | OrderEvent::ReviewDefaulted(_) => {
            vec![DeadlineEffect::Stop {
                id: review_deadline_id(order_id),
            }]
        }
        OrderEvent::InvoiceRequested(_)
        | OrderEvent::InvoiceIssued(_)
        | OrderEvent::InvoiceRejected(_)
        | OrderEvent::ReviewReplied(_) => Vec::new(),
        OrderEvent::RefundRequested(e) => match e.auto_approve_at {
            Some(due_at) => vec![DeadlineEffect::Start(Deadline {
                id: refund_deadline_id(order_id, &e.refund_id),
                due_at,
                stream_id: order_stream(order_id),
                rule: DeadlineRule::RefundAutoApproval,
            })],
            None => Vec::new(),
        },
        OrderEvent::RefundApproved(e) => vec![DeadlineEffect::Stop {
            id: refund_deadline_id(order_id, &e.refund_id),
        }],
        OrderEvent::RefundRejected(e) => vec![DeadlineEffect::Stop {
            id: refund_deadline_id(order_id, &e.refund_id),
        }],
        OrderEvent::OrderPriceChanged(_) => Vec::new(),
    }
}

/// What an order's completion starts, whether at payment (automatic products) or when its
/// delivery completes (manual ones): the 30-day review default.
fn completion_effects(order_id: &str, completed_at: Timestamp) -> Vec<DeadlineEffect> {
    vec![DeadlineEffect::Start(Deadline {
        id: review_deadline_id(order_id),
        due_at: completed_at.plus_days(REVIEW_DAYS),
        stream_id: order_stream(order_id),
        rule: DeadlineRule::ReviewDefault,
    })]
}

/// The id of an order's review-default deadline.
pub fn review_deadline_id(order_id: &str) -> String {
    Deadline::id_for(
        &order_stream(order_id),
        DeadlineRule::ReviewDefault,
        "completed",
    )
}

/// The id of a refund request's auto-approval deadline.
pub fn refund_deadline_id(order_id: &str, refund_id: &str) -> String {
    Deadline::id_for(
        &order_stream(order_id),
        DeadlineRule::RefundAutoApproval,
        refund_id,
    )
}
