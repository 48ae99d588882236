//! Policies: decisions that react to events (issue 17: "auto-grant a coupon when a customer
//! pays for a qualifying product"; "start a delivery project when a manual order is paid").
//! A [`Policy`] reads one stored event and names the decisions it calls for; the server's
//! policy runner follows the log from a durable checkpoint and runs each decision through
//! the command runner as actor `system`.
//!
//! Invariant: `react` is pure (like deciding: no I/O, no clock, no ids), and every decision
//! it emits is idempotent — run twice over the state the first run left, it appends nothing
//! (it finds its effect already there and decides an empty outcome, or refuses). Processing
//! is at-least-once: a crash between a decision's append and the runner's checkpoint runs the
//! reaction again (the idempotency key `policy:<name>:<position>:<index>` also catches that
//! re-run while the key is kept); idempotent decisions plus at-least-once processing give
//! exactly-once effects, even after the keys were pruned.

use crate::codec::CodecError;
use crate::decision::Decision;
use crate::history::StoredEvent;

/// What a policy does with one event of `stream_id`: the decisions to run, in order (none
/// when the event does not concern it).
pub type React = fn(&StoredEvent<'_>, &str) -> Result<Vec<Box<dyn Decision>>, CodecError>;

/// One registered policy.
pub struct Policy {
    /// Stable name: the key of its checkpoint, its idempotency keys and metrics. Never
    /// renamed: a new name is a new policy, which starts at the log's head.
    pub name: &'static str,
    /// The event types it reacts to; `react` sees no other.
    pub event_types: &'static [&'static str],
    pub react: React,
}

impl Policy {
    /// Whether the policy reacts to events of this type.
    pub fn reacts_to(&self, event_type: &str) -> bool {
        self.event_types.contains(&event_type)
    }
}

/// Every policy of the marketplace (ARCHITECTURE.md, "How to add a policy").
pub static POLICIES: &[Policy] = &[
    Policy {
        name: "coupon_auto_grant",
        event_types: &["OrderPaid"],
        react: |event, stream_id| Ok(crate::coupon::on_order_paid(stream_id, event)),
    },
    Policy {
        name: "delivery_start",
        event_types: &["OrderPaid"],
        react: |event, stream_id| crate::delivery::flow::on_order_paid(stream_id, event),
    },
    Policy {
        name: "delivery_assign",
        event_types: &["NodeEntered"],
        react: |event, stream_id| crate::delivery::flow::on_node_entered(stream_id, event),
    },
    Policy {
        name: "delivery_refund",
        event_types: &["DeliveryCancelled"],
        react: |event, stream_id| crate::delivery::flow::on_delivery_cancelled(stream_id, event),
    },
    Policy {
        name: "delivery_cancel_on_refund",
        event_types: &["RefundApproved"],
        react: |event, stream_id| crate::delivery::flow::on_refund_approved(stream_id, event),
    },
    Policy {
        name: "delivery_completion",
        event_types: &["DeliveryCompleted"],
        react: |event, stream_id| crate::delivery::flow::on_delivery_completed(stream_id, event),
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn policy_names_are_unique_and_their_event_types_are_registered() {
        let mut names = HashSet::new();
        for p in POLICIES {
            assert!(names.insert(p.name), "policy {} registered twice", p.name);
            for t in p.event_types {
                assert!(
                    crate::registry::AGGREGATES
                        .iter()
                        .any(|a| a.event_types.contains(t)),
                    "policy {} reacts to {t}, which no aggregate stores",
                    p.name
                );
            }
        }
    }
}
