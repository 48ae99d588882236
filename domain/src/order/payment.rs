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
