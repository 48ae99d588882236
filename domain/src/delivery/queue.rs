//! The dispatch queue index (SPEC §8 "queues"): which delivery projects wait for capacity
//! that a given party frees — stream `dispatchq-<org id>` for projects waiting for a staff
//! member of that provider org (`assign_order`), `dispatchq-<product id>` for projects
//! waiting for a provider of that product (`assign_provider`). `flow::Act` enqueues and
//! dequeues in the project's own append, so the index is exactly the queued projects; the
//! `delivery_drain` policy reads it to re-examine them at once when capacity frees up.

use serde::{Deserialize, Serialize};

use crate::decider::{Context, Decider};
use crate::error::DomainError;

/// Most queued projects one drain re-examines (the oldest first); the rest wait for the next
/// capacity event or their own 10-minute recheck.
pub const DRAIN_BATCH_MAX: usize = 10;

/// The queue index of `key` (an org id or a product id).
pub fn dispatch_queue_stream(key: &str) -> String {
    format!("dispatchq-{key}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryEnqueued {
    pub delivery_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryDequeued {
    pub delivery_id: String,
}

crate::event_enum! {
    /// Events of a dispatch queue index.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum DispatchQueueEvent {
        DeliveryEnqueued(DeliveryEnqueued) version 1,
        DeliveryDequeued(DeliveryDequeued) version 1,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchQueueState {
    /// The queued projects, oldest first.
    pub queued: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DispatchQueueCommand {
    /// `delivery_id` waits here (already waiting → no event).
    Enqueue { delivery_id: String },
    /// `delivery_id` no longer waits here (not waiting → no event).
    Dequeue { delivery_id: String },
}

/// A dispatch queue index, `dispatchq-…`.
#[derive(Debug)]
pub struct DispatchQueue;

impl Decider for DispatchQueue {
    type State = DispatchQueueState;
    type Command = DispatchQueueCommand;
    type Event = DispatchQueueEvent;
    type Error = DomainError;

    fn decide(
        state: &DispatchQueueState,
        command: &DispatchQueueCommand,
        _ctx: &Context,
    ) -> Result<Vec<DispatchQueueEvent>, DomainError> {
        Ok(match command {
            DispatchQueueCommand::Enqueue { delivery_id } => {
                if state.queued.contains(delivery_id) {
                    Vec::new()
                } else {
                    vec![DispatchQueueEvent::DeliveryEnqueued(DeliveryEnqueued {
                        delivery_id: delivery_id.clone(),
                    })]
                }
            }
            DispatchQueueCommand::Dequeue { delivery_id } => {
                if state.queued.contains(delivery_id) {
                    vec![DispatchQueueEvent::DeliveryDequeued(DeliveryDequeued {
                        delivery_id: delivery_id.clone(),
                    })]
                } else {
                    Vec::new()
                }
            }
        })
    }

    fn evolve(mut state: DispatchQueueState, event: &DispatchQueueEvent) -> DispatchQueueState {
        match event {
            DispatchQueueEvent::DeliveryEnqueued(e) => {
                if !state.queued.contains(&e.delivery_id) {
                    state.queued.push(e.delivery_id.clone());
                }
            }
            DispatchQueueEvent::DeliveryDequeued(e) => {
                state.queued.retain(|d| d != &e.delivery_id);
            }
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decider::testing::DeciderTest;

    fn enqueued(id: &str) -> DispatchQueueEvent {
        DispatchQueueEvent::DeliveryEnqueued(DeliveryEnqueued {
            delivery_id: id.into(),
        })
    }

    #[test]
    fn the_index_keeps_the_queued_projects_oldest_first_and_each_once() {
        let ctx = Context::system(crate::Timestamp::UNIX_EPOCH, chrono_tz::UTC);
        DeciderTest::<DispatchQueue>::given(vec![enqueued("dlv_a")])
            .when(
                DispatchQueueCommand::Enqueue {
                    delivery_id: "dlv_a".into(),
                },
                &ctx,
            )
            .then_events(vec![]);
        DeciderTest::<DispatchQueue>::given(vec![enqueued("dlv_a")])
            .when(
                DispatchQueueCommand::Dequeue {
                    delivery_id: "dlv_b".into(),
                },
                &ctx,
            )
            .then_events(vec![]);
        let state = DispatchQueue::fold(&[enqueued("dlv_a"), enqueued("dlv_b"), enqueued("dlv_a")]);
        assert_eq!(state.queued, ["dlv_a", "dlv_b"]);
        let state = DispatchQueue::evolve(
            state,
            &DispatchQueueEvent::DeliveryDequeued(DeliveryDequeued {
                delivery_id: "dlv_a".into(),
            }),
        );
        assert_eq!(state.queued, ["dlv_b"]);
    }
}
