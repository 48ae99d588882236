//! Deadlines are data (SPEC.md §9, STYLE.md §2): an event that starts a clock carries its
//! `due_at`; the timer projection lists what is due; the scheduler fires each due deadline as
//! an ordinary command (actor `system`, causation = the deadline id). A command that finds
//! the state already moved on decides nothing — so a deadline fires at most once in effect,
//! even when a restart makes the scheduler try it again.
//!
//! Each aggregate says which of its events start or stop deadlines, and which command each
//! of its rules fires, in its line of [`crate::registry::AGGREGATES`].

use serde::{Deserialize, Serialize};

use crate::codec::CodecError;
use crate::time::Timestamp;

/// The automatic rules of SPEC.md §9 that a deadline can fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineRule {
    /// Unpaid order voided 7 days after creation.
    OrderPaymentTimeout,
    /// Refund request approved 3 days after it was made if the seller did nothing.
    RefundAutoApproval,
    /// Review defaulted 30 days after completion.
    ReviewDefault,
    /// Instance expires at its end.
    InstanceExpiry,
    /// Instance closes 7 days after expiry.
    InstanceClose,
    /// A promotion's window opens.
    PromotionStart,
    /// A promotion's window closes.
    PromotionEnd,
    /// A delivery node's timeout runs out (SPEC §8; per node entry).
    DeliveryNodeTimeout,
    /// A queued delivery project is re-examined (SPEC §8: at least every 10 minutes).
    DeliveryQueueRecheck,
}

impl DeadlineRule {
    /// Every rule, in declaration order. A rule exists only with the command it fires
    /// (`crate::registry`); a variant is added together with that command.
    pub const ALL: [DeadlineRule; 9] = [
        DeadlineRule::OrderPaymentTimeout,
        DeadlineRule::RefundAutoApproval,
        DeadlineRule::ReviewDefault,
        DeadlineRule::InstanceExpiry,
        DeadlineRule::InstanceClose,
        DeadlineRule::PromotionStart,
        DeadlineRule::PromotionEnd,
        DeadlineRule::DeliveryNodeTimeout,
        DeadlineRule::DeliveryQueueRecheck,
    ];

    /// The rule's name, as serde writes it (snake case).
    pub const fn as_str(self) -> &'static str {
        match self {
            DeadlineRule::OrderPaymentTimeout => "order_payment_timeout",
            DeadlineRule::RefundAutoApproval => "refund_auto_approval",
            DeadlineRule::ReviewDefault => "review_default",
            DeadlineRule::InstanceExpiry => "instance_expiry",
            DeadlineRule::InstanceClose => "instance_close",
            DeadlineRule::PromotionStart => "promotion_start",
            DeadlineRule::PromotionEnd => "promotion_end",
            DeadlineRule::DeliveryNodeTimeout => "delivery_node_timeout",
            DeadlineRule::DeliveryQueueRecheck => "delivery_queue_recheck",
        }
    }
}

/// One started clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    /// Stable id, `<stream id>/<rule>/<discriminator>`: the same event always yields the same
    /// id, so replays and rebuilds agree.
    pub id: String,
    pub due_at: Timestamp,
    /// The stream the firing command runs against.
    pub stream_id: String,
    pub rule: DeadlineRule,
}

impl Deadline {
    /// Builds the stable id of a deadline. Called for every deadline an event starts or
    /// stops, so it is a plain concatenation.
    pub fn id_for(stream_id: &str, rule: DeadlineRule, discriminator: &str) -> String {
        let rule = rule.as_str();
        let mut id = String::with_capacity(stream_id.len() + rule.len() + discriminator.len() + 2);
        id.push_str(stream_id);
        id.push('/');
        id.push_str(rule);
        id.push('/');
        id.push_str(discriminator);
        id
    }
}

/// What an event does to the set of pending deadlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadlineEffect {
    Start(Deadline),
    Stop { id: String },
}

/// The deadline effects of a stored event, found through the aggregate registered for its
/// stream kind ([`crate::registry`]). Event types that start or stop no clock have none.
pub fn effects_of(
    stream_id: &str,
    event_type: &str,
    schema_version: u16,
    payload: &[u8],
) -> Result<Vec<DeadlineEffect>, CodecError> {
    let Some(aggregate) = crate::registry::aggregate_of(stream_id) else {
        return Ok(Vec::new());
    };
    let (_, id) = crate::split_stream_id(stream_id);
    (aggregate.deadline_effects)(
        id,
        &crate::history::StoredEvent {
            event_type,
            schema_version,
            payload,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_ids_are_stable_and_name_stream_rule_and_cause() {
        assert_eq!(
            Deadline::id_for("order-ord_1", DeadlineRule::OrderPaymentTimeout, "1"),
            "order-ord_1/order_payment_timeout/1"
        );
    }

    #[test]
    fn rule_names_are_the_serde_names() {
        for rule in DeadlineRule::ALL {
            assert_eq!(
                serde_json::to_value(rule).unwrap(),
                serde_json::Value::from(rule.as_str())
            );
        }
    }
}
