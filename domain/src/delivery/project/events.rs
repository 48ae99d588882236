//! The events of a delivery project, and the deadlines they start and stop.
//!
//! Every event that leaves or stops the current node's clock carries the entry sequence
//! number (`seq`) of the node entry it ends, so its deadline effect is known from the event
//! alone (the node-timeout deadline of an entry is `delivery-dlv_…/delivery_node_timeout/<seq>`).

use serde::{Deserialize, Serialize};

use crate::deadline::{Deadline, DeadlineEffect, DeadlineRule};
use crate::delivery::node::{FlowNode, TimeoutAction};
use crate::time::Timestamp;

use super::{delivery_stream, Party, QueueReason, RequirementForm};

/// How the provider was chosen.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderHow {
    /// By weight among the linked providers with free capacity (`assign::choose_provider`).
    Weighted,
    /// By hand, by an admin, from the dispatch queue.
    Dispatched,
    /// By a change of provider.
    Changed,
    /// The seller delivers itself (no provider linked to the product).
    SellerDefault,
}

/// How a staff member came to operate a role.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorHow {
    /// `assign_order` with `provider_first`.
    RuleProviderFirst,
    /// `assign_order` with `department_first`.
    RuleDepartmentFirst,
    /// The staff member claimed the order on a `claim_order` node.
    Claimed,
    /// By hand, by an admin, from the dispatch queue.
    Dispatched,
    /// By a change of operator.
    Changed,
}

/// Why a project was cancelled.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The platform closed it.
    PlatformClose,
    /// The order was refunded.
    Refunded,
    /// A node's `cancel_and_refund` timeout.
    Timeout,
}

/// The weighted draw behind a `weighted` provider choice, so a reader can check it.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct WeightPick {
    /// `stable hash of the delivery id % total_weight`.
    pub pick: u64,
    /// Sum of the weights of the linked providers with free capacity.
    pub total_weight: u64,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DeliveryStarted {
    pub delivery_id: String,
    pub order_id: String,
    pub product_id: String,
    pub customer_id: String,
    pub seller_org_id: String,
    pub template_id: String,
    /// The template's nodes, flattened, copied at start.
    pub flow: Vec<FlowNode>,
    pub at: Timestamp,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ProviderAssigned {
    pub org_id: String,
    pub how: ProviderHow,
    /// Set for `weighted`.
    pub weight_pick: Option<WeightPick>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DeliveryQueued {
    pub node_id: String,
    pub reason: QueueReason,
    pub since: Timestamp,
}

/// A queued project was re-examined and still nobody can take it (restarts the 10-minute
/// recheck).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct QueueRechecked {
    pub node_id: String,
    pub reason: QueueReason,
    pub at: Timestamp,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NodeEntered {
    pub node_id: String,
    /// Index in the flattened flow.
    pub index: u32,
    /// Counts every entry of the project (1, 2, …): the node-timeout deadline's discriminator.
    pub seq: u32,
    pub at: Timestamp,
    pub due_at: Option<Timestamp>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OperatorAssigned {
    pub node_id: String,
    pub role: String,
    pub staff_id: String,
    pub name: String,
    pub department: String,
    pub how: OperatorHow,
    /// The staff member who operated the role before (a change).
    pub previous: Option<String>,
    pub remark: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RequirementSubmitted {
    pub node_id: String,
    pub form: RequirementForm,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NodeCompleted {
    pub node_id: String,
    pub seq: u32,
    pub by: Party,
    pub note: Option<String>,
    pub file_ids: Vec<String>,
    pub delivery_info: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NodeRejected {
    pub node_id: String,
    pub seq: u32,
    pub by: Party,
    /// The node the flow goes back to.
    pub back_to: String,
    pub reason: String,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NodeTimedOut {
    pub node_id: String,
    pub seq: u32,
    pub action: TimeoutAction,
    pub due_at: Timestamp,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DeliveryPaused {
    pub seq: u32,
    pub remark: String,
    pub at: Timestamp,
    /// What was left of the node's time, in microseconds (none without a running deadline).
    pub remaining_micros: Option<i64>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DeliveryResumed {
    pub seq: u32,
    pub remark: String,
    pub at: Timestamp,
    /// The node's deadline, moved by the pause (`at` + the time that was left).
    pub due_at: Option<Timestamp>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ProviderChanged {
    /// The entry the change abandons.
    pub seq: u32,
    pub from: Option<String>,
    pub to: String,
    pub remark: String,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DeliveryCancelled {
    pub seq: u32,
    pub reason: CancelReason,
    /// The order is to be refunded in full (a system-initiated refund).
    pub refund_order: bool,
    /// The refund that cancelled it (`refunded`).
    pub refund_id: Option<String>,
    pub remark: Option<String>,
    pub at: Timestamp,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DeliveryCompleted {
    pub at: Timestamp,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct MessagePosted {
    pub message_id: String,
    pub text: String,
    pub by: Party,
}

/// A provider-side note: never shown to the customer.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NotePosted {
    pub note_id: String,
    pub text: String,
    pub by: Party,
}

/// A file's metadata; its bytes are in the content-addressed file store under `sha256`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct FileAttached {
    pub file_id: String,
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub content_type: String,
    pub node_id: Option<String>,
    pub by: Party,
}

crate::event_enum! {
    /// Events of a delivery project.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum DeliveryEvent {
        DeliveryStarted(DeliveryStarted) version 1,
        ProviderAssigned(ProviderAssigned) version 1,
        DeliveryQueued(DeliveryQueued) version 1,
        NodeEntered(NodeEntered) version 1,
        OperatorAssigned(OperatorAssigned) version 1,
        RequirementSubmitted(RequirementSubmitted) version 1,
        NodeCompleted(NodeCompleted) version 1,
        NodeRejected(NodeRejected) version 1,
        NodeTimedOut(NodeTimedOut) version 1,
        DeliveryPaused(DeliveryPaused) version 1,
        DeliveryResumed(DeliveryResumed) version 1,
        ProviderChanged(ProviderChanged) version 1,
        DeliveryCancelled(DeliveryCancelled) version 1,
        DeliveryCompleted(DeliveryCompleted) version 1,
        MessagePosted(MessagePosted) version 1,
        NotePosted(NotePosted) version 1,
        FileAttached(FileAttached) version 1,
        QueueRechecked(QueueRechecked) version 1,
    }
}

/// How long a queued project waits before it is re-examined (SPEC §8: at least every 10
/// minutes; capacity that frees up re-examines it at once).
pub const QUEUE_RECHECK_MINUTES: i64 = 10;

/// The queue-recheck deadline of delivery `delivery_id` (one per project: each recheck
/// restarts it with a new due time).
pub fn queue_recheck_id(delivery_id: &str) -> String {
    Deadline::id_for(
        &delivery_stream(delivery_id),
        DeadlineRule::DeliveryQueueRecheck,
        "queue",
    )
}

/// The node-timeout deadline of entry `seq` of delivery `delivery_id`.
pub fn node_deadline_id(delivery_id: &str, seq: u32) -> String {
    Deadline::id_for(
        &delivery_stream(delivery_id),
        DeadlineRule::DeliveryNodeTimeout,
        &seq.to_string(),
    )
}

/// Deadlines a delivery's events start and stop: an entry with a timeout starts its clock,
/// leaving the node (completed, rejected, timed out), pausing, cancelling and a provider
/// change stop it, resuming restarts it with the time that was left.
pub fn deadline_effects(event: &DeliveryEvent, delivery_id: &str) -> Vec<DeadlineEffect> {
    let start = |seq: u32, due: Option<Timestamp>| match due {
        Some(due_at) => vec![DeadlineEffect::Start(Deadline {
            id: node_deadline_id(delivery_id, seq),
            due_at,
            stream_id: delivery_stream(delivery_id),
            rule: DeadlineRule::DeliveryNodeTimeout,
        })],
        None => Vec::new(),
    };
    let stop = |seq: u32| {
        vec![DeadlineEffect::Stop {
            id: node_deadline_id(delivery_id, seq),
        }]
    };
    let recheck = |at: Timestamp| {
        vec![DeadlineEffect::Start(Deadline {
            id: queue_recheck_id(delivery_id),
            due_at: at.plus_micros(QUEUE_RECHECK_MINUTES * 60 * 1_000_000),
            stream_id: delivery_stream(delivery_id),
            rule: DeadlineRule::DeliveryQueueRecheck,
        })]
    };
    let dequeued = || DeadlineEffect::Stop {
        id: queue_recheck_id(delivery_id),
    };
    match event {
        DeliveryEvent::DeliveryQueued(e) => recheck(e.since),
        DeliveryEvent::QueueRechecked(e) => recheck(e.at),
        // Assigned (or the flow restarted, or it ended): no longer queued.
        DeliveryEvent::ProviderAssigned(_) | DeliveryEvent::OperatorAssigned(_) => vec![dequeued()],
        DeliveryEvent::ProviderChanged(e) => {
            let mut v = stop(e.seq);
            v.push(dequeued());
            v
        }
        DeliveryEvent::DeliveryCancelled(e) => {
            let mut v = stop(e.seq);
            v.push(dequeued());
            v
        }
        DeliveryEvent::NodeEntered(e) => start(e.seq, e.due_at),
        DeliveryEvent::DeliveryResumed(e) => start(e.seq, e.due_at),
        DeliveryEvent::NodeCompleted(e) => stop(e.seq),
        DeliveryEvent::NodeRejected(e) => stop(e.seq),
        DeliveryEvent::NodeTimedOut(e) => stop(e.seq),
        DeliveryEvent::DeliveryPaused(e) => stop(e.seq),
        DeliveryEvent::DeliveryStarted(_)
        | DeliveryEvent::RequirementSubmitted(_)
        | DeliveryEvent::DeliveryCompleted(_)
        | DeliveryEvent::MessagePosted(_)
        | DeliveryEvent::NotePosted(_)
        | DeliveryEvent::FileAttached(_) => Vec::new(),
    }
}

/// The deadlines of a stored delivery event (registry entry of the delivery).
pub fn stored_deadline_effects(
    delivery_id: &str,
    e: &crate::history::StoredEvent<'_>,
) -> Result<Vec<DeadlineEffect>, crate::codec::CodecError> {
    use crate::codec::EventCodec;
    let event = DeliveryEvent::decode_payload(e.event_type, e.schema_version, e.payload)?;
    Ok(deadline_effects(&event, delivery_id))
}
