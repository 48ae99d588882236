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
