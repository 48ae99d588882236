//! After the sale: invoices and reviews.

use super::*;

/// Postage: the seller pays when the order amount exceeds this (200 yuan).
pub const SELLER_POSTAGE_ABOVE_CENTS: i64 = 20_000;
/// A review is defaulted this many days after completion; a reply is allowed this many days
/// after the review.
pub const REVIEW_DAYS: u32 = 30;
pub const COMMENT_CHARS_MAX: usize = 1_000;

pub(super) fn require_paid_or_refunded(state: &OrderState) -> Result<(), DomainError> {
    match state.status {
        None => Err(DomainError::not_found("order")),
        Some(OrderStatus::Paid | OrderStatus::Refunded) => Ok(()),
        Some(s) => Err(DomainError::invalid_state(
            s.as_str(),
            format!(
                "only paid orders can be invoiced; this one is {}",
                s.as_str()
            ),
        )),
    }
}

pub(super) fn requested_invoice<'a>(
    state: &'a OrderState,
    invoice_id: &str,
) -> Result<&'a Invoice, DomainError> {
    let inv = state
        .invoice(invoice_id)
        .ok_or_else(|| DomainError::not_found("invoice"))?;
    if inv.status != InvoiceStatus::Requested {
        return Err(DomainError::invalid_state(
            inv.status.as_str(),
            format!("this invoice is {}", inv.status.as_str()),
        ));
    }
    Ok(inv)
}

pub(super) fn request_invoice(
    state: &OrderState,
    invoice_id: &str,
    invoice_type: &str,
    title: &str,
    tax_id: &str,
    address: &str,
    ctx: &Context,
) -> Result<Vec<OrderEvent>, DomainError> {
    let invoice_type = match invoice_type {
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
    // A title and tax id are printed on the invoice as one line: names, not free text.
    require_name("title", title, 200)?;
    require_name("tax_id", tax_id, 64)?;
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
        invoice_id: invoice_id.to_owned(),
        invoice_type,
        title: title.trim().to_owned(),
        tax_id: tax_id.trim().to_owned(),
        address: address.trim().to_owned(),
        amount,
        seller_pays_postage: state.paid.0 > SELLER_POSTAGE_ABOVE_CENTS,
        at: ctx.now,
    })])
}

pub(super) fn issue_invoice(
    state: &OrderState,
    invoice_id: &str,
    tracking: &str,
    ctx: &Context,
) -> Result<Vec<OrderEvent>, DomainError> {
    require_name("tracking", tracking, 200)?;
    let inv = requested_invoice(state, invoice_id)?;
    Ok(vec![OrderEvent::InvoiceIssued(InvoiceIssued {
        invoice_id: inv.id.clone(),
        tracking: tracking.trim().to_owned(),
        issued_by: ctx.actor.label(),
        at: ctx.now,
    })])
}

pub(super) fn reject_invoice(
    state: &OrderState,
    invoice_id: &str,
    reason: &str,
    ctx: &Context,
) -> Result<Vec<OrderEvent>, DomainError> {
    require_text("reason", reason, REASON_CHARS_MAX)?;
    let inv = requested_invoice(state, invoice_id)?;
    Ok(vec![OrderEvent::InvoiceRejected(InvoiceRejected {
        invoice_id: inv.id.clone(),
        reason: reason.trim().to_owned(),
        rejected_by: ctx.actor.label(),
        at: ctx.now,
    })])
}

pub(super) fn review(
    state: &OrderState,
    review_id: &str,
    quality: &u8,
    attitude: &u8,
    speed: &u8,
    comment: &str,
    ctx: &Context,
) -> Result<Vec<OrderEvent>, DomainError> {
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
    require_printable("comment", comment, TextKind::Free)?;
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
        review_id: review_id.to_owned(),
        quality: *quality,
        attitude: *attitude,
        speed: *speed,
        comment: comment.trim().to_owned(),
        at: ctx.now,
    })])
}

pub(super) fn default_review(
    state: &OrderState,
    review_id: &str,
    deadline_id: &str,
    ctx: &Context,
) -> Result<Vec<OrderEvent>, DomainError> {
    let due = state.completed_at.map(|c| c.plus_days(REVIEW_DAYS));
    if state.review.is_some()
        || due.is_none_or(|d| ctx.now < d)
        || !matches!(ctx.actor, Actor::System)
    {
        return Ok(Vec::new());
    }
    Ok(vec![OrderEvent::ReviewDefaulted(ReviewDefaulted {
        review_id: review_id.to_owned(),
        at: ctx.now,
        deadline_id: deadline_id.to_owned(),
    })])
}

pub(super) fn reply_to_review(
    state: &OrderState,
    text: &str,
    ctx: &Context,
) -> Result<Vec<OrderEvent>, DomainError> {
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

/// The state after an invoice or review event.
pub(super) fn evolve_aftersale(mut state: OrderState, event: &OrderEvent) -> OrderState {
    match event {
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
        _ => {}
    }
    state
}
