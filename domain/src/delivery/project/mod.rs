//! The delivery project (SPEC §8 "Projects"): aggregate [`Delivery`], stream
//! `delivery-dlv_…`, one project per paid order line (`ord_X` → `dlv_X`).
//!
//! A project walks a copy of its template's flattened nodes taken at start. Each node entry
//! is a `NodeEntered` with a sequence number (`seq`, counting every entry) and, when the node
//! has a timeout, its `due_at` — which starts the entry's `delivery_node_timeout` deadline.
//! Choices made across streams (which provider, which staff member, whether a staff member
//! has free capacity) are made outside and arrive as the *result* in the command
//! (`AssignProvider`, `AssignOperator`, `Queue`, `ChangeOperator`); this aggregate records
//! them and moves the flow.
//!
//! Refusals: a command on a node that is not the current one is 409 `invalid_state` with
//! `details.current_node`; on a paused, cancelled or completed project 409 `invalid_state`
//! with `details.state`; a party that is not the node's side (its customer, the operator of
//! its role) 409 `invalid_state` with `details.rule` (`not_customer`, `not_operator`,
//! `not_system`). Messages, notes and files are accepted in every status once started: they
//! are the record of what was said and delivered, and a cancelled project may still need a
//! last word (the refund, a handed-over file).
//!
//! Files: `events.rs` (events, deadline effects), `state.rs` (fold, stage), `fields.rs`
//! (field rules), `decide.rs` (commands), `tests.rs`.
//!
//! Invariant: the node-timeout deadline pending for a project is exactly the current entry's,
//! while the project executes, the node has a timeout and it has not fired
//! (`tests::model`, a model-based proptest).

mod decide;
mod events;
mod fields;
mod state;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::deadline::{Deadline, DeadlineRule};
use crate::decider::{Context, Decider};
use crate::delivery::node::FlowNode;
use crate::error::DomainError;

pub use crate::delivery::assign::QueueReason;
pub use events::queue_recheck_id;
pub use events::{
    deadline_effects, node_deadline_id, stored_deadline_effects, CancelReason, DeliveryCancelled,
    DeliveryCompleted, DeliveryEvent, DeliveryPaused, DeliveryQueued, DeliveryResumed,
    DeliveryStarted, FileAttached, MessagePosted, NodeCompleted, NodeEntered, NodeRejected,
    NodeTimedOut, NotePosted, OperatorAssigned, OperatorHow, ProviderAssigned, ProviderChanged,
    ProviderHow, QueueRechecked, RequirementSubmitted, WeightPick, QUEUE_RECHECK_MINUTES,
};
pub use fields::validate_form;
pub use state::{DeliveryState, DeliveryStatus, Queued, Stage};

/// Longest requirement-form contact name, in characters.
pub const CONTACT_NAME_CHARS_MAX: usize = 50;
/// Shortest and longest phone number, in characters (digits, `+`, `-`, spaces, parentheses).
pub const PHONE_CHARS_MIN: usize = 5;
pub const PHONE_CHARS_MAX: usize = 20;
/// Longest e-mail address, in characters.
pub const EMAIL_CHARS_MAX: usize = 254;
/// Longest address, in characters.
pub const ADDRESS_CHARS_MAX: usize = 200;
/// Longest requirement description, in characters.
pub const DESCRIPTION_CHARS_MAX: usize = 2_000;
/// Most file ids one form or completion names.
pub const FILE_IDS_MAX: usize = 10;
/// Longest completion note, in characters.
pub const NOTE_CHARS_MAX: usize = 2_000;
/// Longest `delivery_info` (API.md §7), in characters.
pub const DELIVERY_INFO_CHARS_MAX: usize = 2_000;
/// Longest rejection reason, in characters.
pub const REASON_CHARS_MAX: usize = 500;
/// Longest remark (pause, resume, close, changes), in characters.
pub const REMARK_CHARS_MAX: usize = 500;
/// Longest message or note text, in characters.
pub const MESSAGE_CHARS_MAX: usize = 2_000;
/// Most messages, and most notes, one project holds.
pub const MESSAGES_MAX: u32 = 2_000;
/// Largest file, in bytes (SPEC §8: ≤ 5 MiB).
pub use crate::delivery::FILE_BYTES_MAX;
/// Most files one project holds.
pub const FILES_MAX: usize = 200;
/// Longest file name, in characters.
pub const FILE_NAME_CHARS_MAX: usize = 255;
/// Longest content type, in characters.
pub const CONTENT_TYPE_CHARS_MAX: usize = 100;

/// Longest id a command names (a prefix of at most 4 characters and the id body).
const ID_CHARS_MAX: usize = crate::ids::ID_BODY_BYTES_MAX + 4;

/// The project of order `order_id` (`ord_X` → `dlv_X`): one per paid order line, so a
/// payment policy that runs twice finds the project it started.
pub fn delivery_id_for(order_id: &str) -> String {
    let body = order_id.strip_prefix("ord_").unwrap_or(order_id);
    format!("dlv_{body}")
}

pub fn delivery_stream(delivery_id: &str) -> String {
    format!("delivery-{delivery_id}")
}

/// The staff member operating a provider role.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Operator {
    pub staff_id: String,
    pub name: String,
    pub department: String,
}

/// Who acted on a node.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The system (assignment, timeouts).
    System,
    /// The order's customer (`cus_…`).
    Customer(String),
    /// A staff member (`stf_…`).
    Staff(String),
    /// An administrator (platform or an org's isv_admin), by principal id.
    Admin(String),
}

/// The requirement form (需求单) of a `submit_requirement` node.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct RequirementForm {
    pub contact_name: String,
    pub phone: String,
    pub email: String,
    pub address: String,
    pub description: String,
    pub file_ids: Vec<String>,
}

/// What starts a project: the paid order line and a copy of its template's flattened nodes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StartDelivery {
    pub order_id: String,
    pub product_id: String,
    pub customer_id: String,
    pub seller_org_id: String,
    pub template_id: String,
    pub flow: Vec<FlowNode>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum DeliveryCommand {
    /// Starts the project (no events when it already started).
    Start(StartDelivery),
    /// The provider chosen for the current `assign_provider` node.
    AssignProvider {
        org_id: String,
        how: ProviderHow,
        weight_pick: Option<WeightPick>,
    },
    /// Nobody can take the current assignment node: the project waits with `reason`.
    Queue {
        reason: QueueReason,
    },
    /// A queued project was re-examined and nobody can take it yet, for `reason`: a
    /// `QueueRechecked` restarts the 10-minute recheck (a new reason re-queues it).
    Recheck {
        reason: QueueReason,
    },
    /// The staff member chosen for the current `assign_order` node.
    AssignOperator {
        staff: Operator,
        how: OperatorHow,
    },
    /// A staff member holding `roles` claims the current `claim_order` node.
    Claim {
        staff: Operator,
        roles: Vec<String>,
    },
    SubmitRequirement {
        node_id: String,
        by: Party,
        form: RequirementForm,
    },
    Complete {
        node_id: String,
        by: Party,
        note: Option<String>,
        file_ids: Vec<String>,
        delivery_info: Option<String>,
    },
    Reject {
        node_id: String,
        by: Party,
        reason: String,
    },
    /// Fired by the scheduler for a node-timeout deadline.
    TimeOut {
        deadline_id: String,
    },
    Pause {
        remark: String,
    },
    Resume {
        remark: String,
    },
    /// The platform closes the project: cancelled, order refunded in full.
    Close {
        remark: String,
    },
    /// The order was refunded: the project is cancelled (nothing when already over).
    CancelForRefund {
        refund_id: String,
    },
    ChangeProvider {
        org_id: String,
        remark: String,
    },
    /// Another staff member of the same role (`role`: the current node's, else the role
    /// assigned last, when not given).
    ChangeOperator {
        role: Option<String>,
        staff: Operator,
        remark: String,
    },
    PostMessage {
        message_id: String,
        text: String,
        by: Party,
    },
    PostNote {
        note_id: String,
        text: String,
        by: Party,
    },
    AttachFile(FileAttached),
}

#[derive(Debug)]
pub struct Delivery;

impl Decider for Delivery {
    type State = DeliveryState;
    type Command = DeliveryCommand;
    type Event = DeliveryEvent;
    type Error = DomainError;

    fn decide(
        state: &DeliveryState,
        command: &DeliveryCommand,
        ctx: &Context,
    ) -> Result<Vec<DeliveryEvent>, DomainError> {
        decide::decide(state, command, ctx)
    }

    fn evolve(state: DeliveryState, event: &DeliveryEvent) -> DeliveryState {
        state::evolve(state, event)
    }
}

/// The deadline rules of a delivery and the command each fires.
/// Both fire through [`crate::delivery::flow::Act`], so a timeout that ends the project
/// also gives back the capacity it held.
pub static DEADLINE_RULES: &[(DeadlineRule, crate::registry::Fire)] = &[
    (DeadlineRule::DeliveryNodeTimeout, fire_node_timeout),
    (DeadlineRule::DeliveryQueueRecheck, fire_queue_recheck),
];

fn fire_node_timeout(d: &Deadline, _ids: &dyn crate::ids::IdGen) -> Box<dyn crate::Decision> {
    Box::new(crate::delivery::flow::Act::on_stream(
        &d.stream_id,
        crate::delivery::flow::Step::Command(DeliveryCommand::TimeOut {
            deadline_id: d.id.clone(),
        }),
    ))
}

fn fire_queue_recheck(d: &Deadline, _ids: &dyn crate::ids::IdGen) -> Box<dyn crate::Decision> {
    Box::new(crate::delivery::flow::Act::on_stream(
        &d.stream_id,
        crate::delivery::flow::Step::Recheck,
    ))
}
