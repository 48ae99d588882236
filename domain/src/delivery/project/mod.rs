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
//! Invariant: the node-timeout deadline pending for a project is exactly the current entry's,
//! while the project executes, the node has a timeout and it has not fired
//! (`tests::model`, a model-based proptest).

mod events;
mod state;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::deadline::{Deadline, DeadlineRule};
use crate::decider::{Context, Decider};
use crate::delivery::node::{FlowNode, NodeType, Side, TimeoutAction};
use crate::error::{require_text, DomainError};
use crate::text::{require_name, require_printable, TextKind};

pub use crate::delivery::assign::QueueReason;
pub use events::{
    deadline_effects, node_deadline_id, stored_deadline_effects, CancelReason, DeliveryCancelled,
    DeliveryCompleted, DeliveryEvent, DeliveryPaused, DeliveryQueued, DeliveryResumed,
    DeliveryStarted, FileAttached, MessagePosted, NodeCompleted, NodeEntered, NodeRejected,
    NodeTimedOut, NotePosted, OperatorAssigned, OperatorHow, ProviderAssigned, ProviderChanged,
    ProviderHow, RequirementSubmitted, WeightPick,
};
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
        decide(state, command, ctx)
    }

    fn evolve(state: DeliveryState, event: &DeliveryEvent) -> DeliveryState {
        state::evolve(state, event)
    }
}

fn not_started() -> DomainError {
    DomainError::not_found("delivery")
}

fn refused(state: &DeliveryState, rule: &str, message: impl Into<String>) -> DomainError {
    DomainError::invalid_state(state.status.as_str(), message).with("rule", rule)
}

/// The project must be executing.
fn executing(state: &DeliveryState) -> Result<(), DomainError> {
    match state.status {
        DeliveryStatus::Executing => Ok(()),
        s => Err(DomainError::invalid_state(
            s.as_str(),
            format!("the delivery is {}", s.as_str()),
        )),
    }
}

/// The current node, which must be `node_id` (when named) and of one of `types`.
fn current<'a>(
    state: &'a DeliveryState,
    node_id: Option<&str>,
    types: &[NodeType],
) -> Result<&'a FlowNode, DomainError> {
    state.started.as_ref().ok_or_else(not_started)?;
    executing(state)?;
    let node = state
        .current_node()
        .ok_or_else(|| DomainError::internal("the current node is outside the flow"))?;
    let wrong_node = node_id.is_some_and(|id| id != node.node.id);
    if wrong_node || !types.contains(&node.node.node_type) {
        return Err(DomainError::invalid_state(
            state.status.as_str(),
            format!("the current node is {}", node.node.id),
        )
        .with("current_node", node.node.id.clone()));
    }
    Ok(node)
}

/// `by` must be the node's side: its customer, the operator of its role, or the system.
fn acting_party(state: &DeliveryState, node: &FlowNode, by: &Party) -> Result<(), DomainError> {
    let customer_id = state.started.as_ref().map(|s| s.customer_id.as_str());
    match node.node.acting_side() {
        Side::Customer => match by {
            Party::Customer(id) if Some(id.as_str()) == customer_id => Ok(()),
            _ => Err(refused(
                state,
                "not_customer",
                format!("only the customer acts on node {}", node.node.id),
            )),
        },
        Side::Provider => {
            let operator = node.node.role.as_ref().and_then(|r| state.operators.get(r));
            match (by, operator) {
                (Party::Staff(id), Some(op)) if *id == op.staff_id => Ok(()),
                _ => Err(refused(
                    state,
                    "not_operator",
                    format!("only the operator of node {} acts on it", node.node.id),
                )),
            }
        }
        Side::System => match by {
            Party::System => Ok(()),
            _ => Err(refused(
                state,
                "not_system",
                format!("node {} is the system's", node.node.id),
            )),
        },
    }
}

fn entered(state: &DeliveryState, index: usize, seq: u32, ctx: &Context) -> DeliveryEvent {
    let node = &state.flow()[index].node;
    NodeEntered {
        node_id: node.id.clone(),
        index: u32::try_from(index).unwrap_or(u32::MAX),
        seq,
        at: ctx.now,
        due_at: node
            .timeout
            .map(|t| ctx.calendar.add_days(ctx.now, t.tenths, t.unit)),
    }
    .into()
}

/// `NodeCompleted` of the current node, then the next node's entry or, after the last node
/// (or a `complete_project` node), `DeliveryCompleted`.
fn complete_and_next(
    state: &DeliveryState,
    done: NodeCompleted,
    ctx: &Context,
    events: &mut Vec<DeliveryEvent>,
) {
    let is_end = state
        .current_node()
        .is_some_and(|n| n.node.node_type == NodeType::CompleteProject)
        || state.current + 1 >= state.flow().len();
    events.push(done.into());
    if is_end {
        events.push(DeliveryCompleted { at: ctx.now }.into());
    } else {
        events.push(entered(state, state.current + 1, state.seq + 1, ctx));
    }
}

fn completed_by(state: &DeliveryState, by: Party) -> NodeCompleted {
    NodeCompleted {
        node_id: state
            .current_node()
            .map(|n| n.node.id.clone())
            .unwrap_or_default(),
        seq: state.seq,
        by,
        note: None,
        file_ids: Vec::new(),
        delivery_info: None,
    }
}

fn require_remark(remark: &str) -> Result<(), DomainError> {
    require_text("remark", remark, REMARK_CHARS_MAX)
}

fn optional_text(field: &str, value: Option<&str>, max: usize) -> Result<(), DomainError> {
    let Some(v) = value else { return Ok(()) };
    if v.chars().count() > max {
        return Err(DomainError::validation(
            field,
            "max_length",
            format!("{field} must be at most {max} characters"),
        ));
    }
    require_printable(field, v, TextKind::Free)
}

fn require_file_ids(field: &str, ids: &[String]) -> Result<(), DomainError> {
    if ids.len() > FILE_IDS_MAX {
        return Err(DomainError::validation(
            field,
            "max_items",
            format!("{field} must name at most {FILE_IDS_MAX} files"),
        ));
    }
    Ok(())
}

/// Every id must be a file attached to this project (422 `unknown_file`).
fn known_files(state: &DeliveryState, field: &str, ids: &[String]) -> Result<(), DomainError> {
    match ids.iter().find(|id| !state.files.contains_key(*id)) {
        None => Ok(()),
        Some(id) => Err(DomainError::rule(
            "unknown_file",
            format!("{field}: {id} is not a file of this delivery"),
        )
        .with("field", field)
        .with("file_id", id.clone())),
    }
}

/// Field rules of the requirement form (422 naming the field).
pub fn validate_form(form: &RequirementForm) -> Result<(), DomainError> {
    require_name("contact_name", &form.contact_name, CONTACT_NAME_CHARS_MAX)?;
    let phone_len = form.phone.chars().count();
    let phone_ok = (PHONE_CHARS_MIN..=PHONE_CHARS_MAX).contains(&phone_len)
        && form
            .phone
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'))
        && form.phone.chars().filter(char::is_ascii_digit).count() >= PHONE_CHARS_MIN;
    if !phone_ok {
        return Err(DomainError::validation(
            "phone",
            "phone_shape",
            format!(
                "phone must be {PHONE_CHARS_MIN}..{PHONE_CHARS_MAX} characters of digits, +, -, spaces and parentheses"
            ),
        ));
    }
    if form.email.chars().count() > EMAIL_CHARS_MAX {
        return Err(DomainError::validation(
            "email",
            "max_length",
            format!("email must be at most {EMAIL_CHARS_MAX} characters"),
        ));
    }
    if !email_shaped(&form.email) {
        return Err(DomainError::validation(
            "email",
            "email_shape",
            "email must look like name@example.com",
        ));
    }
    require_text("address", &form.address, ADDRESS_CHARS_MAX)?;
    require_text("description", &form.description, DESCRIPTION_CHARS_MAX)?;
    require_file_ids("file_ids", &form.file_ids)
}

/// `local@domain.tld`: one `@`, no spaces or controls, a dot inside the domain.
fn email_shaped(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

fn validate_file(f: &FileAttached) -> Result<(), DomainError> {
    require_name("name", &f.name, FILE_NAME_CHARS_MAX)?;
    if f.size == 0 {
        return Err(DomainError::validation(
            "size",
            "empty",
            "a file must not be empty",
        ));
    }
    if f.size > FILE_BYTES_MAX {
        return Err(DomainError::validation(
            "size",
            "max_bytes",
            format!("a file must be at most {FILE_BYTES_MAX} bytes"),
        ));
    }
    let hex = f.sha256.len() == 64
        && f.sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !hex {
        return Err(DomainError::validation(
            "sha256",
            "sha256_shape",
            "sha256 must be 64 lowercase hex digits",
        ));
    }
    require_name("content_type", &f.content_type, CONTENT_TYPE_CHARS_MAX)
}

fn decide(
    state: &DeliveryState,
    command: &DeliveryCommand,
    ctx: &Context,
) -> Result<Vec<DeliveryEvent>, DomainError> {
    use DeliveryCommand as C;
    match command {
        C::Start(s) => start(state, s, ctx),
        C::AssignProvider {
            org_id,
            how,
            weight_pick,
        } => {
            require_name("org_id", org_id, ID_CHARS_MAX)?;
            current(state, None, &[NodeType::AssignProvider])?;
            let mut events = vec![ProviderAssigned {
                org_id: org_id.clone(),
                how: *how,
                weight_pick: weight_pick.clone(),
            }
            .into()];
            complete_and_next(state, completed_by(state, Party::System), ctx, &mut events);
            Ok(events)
        }
        C::Queue { reason } => {
            let node = current(
                state,
                None,
                &[NodeType::AssignProvider, NodeType::AssignOrder],
            )?;
            let fits =
                reason.is_provider_level() == (node.node.node_type == NodeType::AssignProvider);
            if !fits {
                return Err(refused(
                    state,
                    "reason_not_for_node",
                    format!(
                        "{} does not apply to node {}",
                        reason.as_str(),
                        node.node.id
                    ),
                ));
            }
            if state.queued.as_ref().is_some_and(|q| q.reason == *reason) {
                return Ok(Vec::new());
            }
            Ok(vec![DeliveryQueued {
                node_id: node.node.id.clone(),
                reason: *reason,
                since: ctx.now,
            }
            .into()])
        }
        C::AssignOperator { staff, how } => {
            let node = current(state, None, &[NodeType::AssignOrder])?;
            let mut events = vec![operator_assigned(node, staff, *how, None, None)];
            complete_and_next(state, completed_by(state, Party::System), ctx, &mut events);
            Ok(events)
        }
        C::Claim { staff, roles } => {
            let node = current(state, None, &[NodeType::ClaimOrder])?;
            let role = node.node.role.clone().unwrap_or_default();
            if let Some(op) = state.operators.get(&role) {
                return Err(refused(
                    state,
                    "already_claimed",
                    format!("the order was already claimed by {}", op.staff_id),
                ));
            }
            if !roles.contains(&role) {
                return Err(refused(
                    state,
                    "role_mismatch",
                    format!("claiming node {} needs the role {role}", node.node.id),
                ));
            }
            let mut events = vec![operator_assigned(
                node,
                staff,
                OperatorHow::Claimed,
                None,
                None,
            )];
            complete_and_next(
                state,
                completed_by(state, Party::Staff(staff.staff_id.clone())),
                ctx,
                &mut events,
            );
            Ok(events)
        }
        C::SubmitRequirement { node_id, by, form } => {
            validate_form(form)?;
            let node = current(state, Some(node_id), &[NodeType::SubmitRequirement])?;
            acting_party(state, node, by)?;
            known_files(state, "file_ids", &form.file_ids)?;
            let mut events = vec![RequirementSubmitted {
                node_id: node_id.clone(),
                form: form.clone(),
            }
            .into()];
            let done = NodeCompleted {
                file_ids: form.file_ids.clone(),
                ..completed_by(state, by.clone())
            };
            complete_and_next(state, done, ctx, &mut events);
            Ok(events)
        }
        C::Complete {
            node_id,
            by,
            note,
            file_ids,
            delivery_info,
        } => {
            optional_text("note", note.as_deref(), NOTE_CHARS_MAX)?;
            optional_text(
                "delivery_info",
                delivery_info.as_deref(),
                DELIVERY_INFO_CHARS_MAX,
            )?;
            require_file_ids("file_ids", file_ids)?;
            let node = current(
                state,
                Some(node_id),
                &[
                    NodeType::Generic,
                    NodeType::Confirm,
                    NodeType::CompleteProject,
                ],
            )?;
            acting_party(state, node, by)?;
            known_files(state, "file_ids", file_ids)?;
            let uploaded = !file_ids.is_empty()
                || state
                    .files
                    .values()
                    .any(|n| n.as_deref() == Some(node_id.as_str()));
            if node.node.upload_required && !uploaded {
                return Err(DomainError::validation(
                    "file_ids",
                    "upload_required",
                    format!("node {node_id} needs at least one uploaded file"),
                ));
            }
            let mut events = Vec::new();
            let done = NodeCompleted {
                note: note.clone(),
                file_ids: file_ids.clone(),
                delivery_info: delivery_info.clone(),
                ..completed_by(state, by.clone())
            };
            complete_and_next(state, done, ctx, &mut events);
            Ok(events)
        }
        C::Reject {
            node_id,
            by,
            reason,
        } => {
            require_text("reason", reason, REASON_CHARS_MAX)?;
            let node = current(
                state,
                Some(node_id),
                &[
                    NodeType::Generic,
                    NodeType::Confirm,
                    NodeType::CompleteProject,
                ],
            )?;
            if !node.node.rejectable || state.current == 0 {
                return Err(refused(
                    state,
                    "not_rejectable",
                    format!("node {node_id} is not rejectable"),
                ));
            }
            acting_party(state, node, by)?;
            let back = state.current - 1;
            Ok(vec![
                NodeRejected {
                    node_id: node_id.clone(),
                    seq: state.seq,
                    by: by.clone(),
                    back_to: state.flow()[back].node.id.clone(),
                    reason: reason.clone(),
                }
                .into(),
                entered(state, back, state.seq + 1, ctx),
            ])
        }
        C::TimeOut { deadline_id } => time_out(state, deadline_id, ctx),
        C::Pause { remark } => {
            require_remark(remark)?;
            state.started.as_ref().ok_or_else(not_started)?;
            executing(state)?;
            let remaining_micros = match (state.timed_out, state.due_at) {
                (false, Some(due)) => Some(due.micros_since(ctx.now).max(0)),
                _ => None,
            };
            Ok(vec![DeliveryPaused {
                seq: state.seq,
                remark: remark.clone(),
                at: ctx.now,
                remaining_micros,
            }
            .into()])
        }
        C::Resume { remark } => {
            require_remark(remark)?;
            state.started.as_ref().ok_or_else(not_started)?;
            if state.status != DeliveryStatus::Paused {
                return Err(DomainError::invalid_state(
                    state.status.as_str(),
                    "only a paused delivery resumes",
                ));
            }
            Ok(vec![DeliveryResumed {
                seq: state.seq,
                remark: remark.clone(),
                at: ctx.now,
                due_at: state.remaining_micros.map(|r| ctx.now.plus_micros(r)),
            }
            .into()])
        }
        C::Close { remark } => {
            require_remark(remark)?;
            state.started.as_ref().ok_or_else(not_started)?;
            if state.is_over() {
                return Err(DomainError::invalid_state(
                    state.status.as_str(),
                    format!("the delivery is {}", state.status.as_str()),
                ));
            }
            Ok(vec![cancelled(
                state,
                CancelReason::PlatformClose,
                true,
                None,
                Some(remark.clone()),
                ctx,
            )])
        }
        C::CancelForRefund { refund_id } => {
            state.started.as_ref().ok_or_else(not_started)?;
            if state.is_over() {
                return Ok(Vec::new());
            }
            Ok(vec![cancelled(
                state,
                CancelReason::Refunded,
                false,
                Some(refund_id.clone()),
                None,
                ctx,
            )])
        }
        C::ChangeProvider { org_id, remark } => {
            require_name("org_id", org_id, ID_CHARS_MAX)?;
            require_remark(remark)?;
            state.started.as_ref().ok_or_else(not_started)?;
            executing(state)?;
            if state.provider_org_id.as_deref() == Some(org_id.as_str()) {
                return Err(refused(
                    state,
                    "same_provider",
                    format!("{org_id} is already the provider"),
                ));
            }
            change_provider(state, org_id, remark, ctx)
        }
        C::ChangeOperator {
            role,
            staff,
            remark,
        } => {
            require_remark(remark)?;
            state.started.as_ref().ok_or_else(not_started)?;
            if state.is_over() {
                return Err(DomainError::invalid_state(
                    state.status.as_str(),
                    format!("the delivery is {}", state.status.as_str()),
                ));
            }
            let role = role
                .clone()
                .or_else(|| {
                    state
                        .current_node()
                        .and_then(|n| n.node.role.clone())
                        .filter(|r| state.operators.contains_key(r))
                })
                .or_else(|| state.last_role.clone());
            let Some((role, previous)) = role.and_then(|r| {
                let op = state.operators.get(&r)?.clone();
                Some((r, op))
            }) else {
                return Err(refused(
                    state,
                    "no_operator",
                    "nobody operates that role yet",
                ));
            };
            if previous.staff_id == staff.staff_id {
                return Err(refused(
                    state,
                    "same_operator",
                    format!("{} already operates {role}", staff.staff_id),
                ));
            }
            let node_id = state
                .current_node()
                .map(|n| n.node.id.clone())
                .unwrap_or_default();
            Ok(vec![OperatorAssigned {
                node_id,
                role,
                staff_id: staff.staff_id.clone(),
                name: staff.name.clone(),
                department: staff.department.clone(),
                how: OperatorHow::Changed,
                previous: Some(previous.staff_id),
                remark: Some(remark.clone()),
            }
            .into()])
        }
        C::PostMessage {
            message_id,
            text,
            by,
        } => {
            require_text("text", text, MESSAGE_CHARS_MAX)?;
            state.started.as_ref().ok_or_else(not_started)?;
            if state.messages >= MESSAGES_MAX {
                return Err(DomainError::conflict(
                    "too_many_messages",
                    format!("a delivery holds at most {MESSAGES_MAX} messages"),
                ));
            }
            Ok(vec![MessagePosted {
                message_id: message_id.clone(),
                text: text.clone(),
                by: by.clone(),
            }
            .into()])
        }
        C::PostNote { note_id, text, by } => {
            require_text("text", text, MESSAGE_CHARS_MAX)?;
            state.started.as_ref().ok_or_else(not_started)?;
            if state.notes >= MESSAGES_MAX {
                return Err(DomainError::conflict(
                    "too_many_notes",
                    format!("a delivery holds at most {MESSAGES_MAX} notes"),
                ));
            }
            Ok(vec![NotePosted {
                note_id: note_id.clone(),
                text: text.clone(),
                by: by.clone(),
            }
            .into()])
        }
        C::AttachFile(f) => {
            validate_file(f)?;
            state.started.as_ref().ok_or_else(not_started)?;
            if state.files.contains_key(&f.file_id) {
                return Ok(Vec::new());
            }
            if state.files.len() >= FILES_MAX {
                return Err(DomainError::conflict(
                    "too_many_files",
                    format!("a delivery holds at most {FILES_MAX} files"),
                ));
            }
            if let Some(node_id) = &f.node_id {
                if !state.flow().iter().any(|n| &n.node.id == node_id) {
                    return Err(DomainError::rule(
                        "unknown_node",
                        format!("node_id: {node_id} is not a node of this delivery"),
                    )
                    .with("field", "node_id"));
                }
            }
            Ok(vec![f.clone().into()])
        }
    }
}

fn start(
    state: &DeliveryState,
    s: &StartDelivery,
    ctx: &Context,
) -> Result<Vec<DeliveryEvent>, DomainError> {
    if state.started.is_some() {
        return Ok(Vec::new());
    }
    match s.flow.first() {
        Some(first) if first.node.node_type == NodeType::AssignProvider => {}
        first => {
            return Err(DomainError::rule(
                "template_invalid",
                "a delivery flow starts with assign_provider",
            )
            .with(
                "node_id",
                first.map(|f| f.node.id.clone()).unwrap_or_default(),
            )
            .with("rule", "first_assign_provider"))
        }
    }
    if s.flow.len() > crate::delivery::node::NODES_MAX {
        return Err(
            DomainError::rule("template_invalid", "a delivery flow has too many nodes")
                .with("rule", "node_count"),
        );
    }
    let started = DeliveryStarted {
        delivery_id: delivery_id_for(&s.order_id),
        order_id: s.order_id.clone(),
        product_id: s.product_id.clone(),
        customer_id: s.customer_id.clone(),
        seller_org_id: s.seller_org_id.clone(),
        template_id: s.template_id.clone(),
        flow: s.flow.clone(),
        at: ctx.now,
    };
    let after = state::evolve(state.clone(), &started.clone().into());
    let first = entered(&after, 0, 1, ctx);
    Ok(vec![started.into(), first])
}

fn operator_assigned(
    node: &FlowNode,
    staff: &Operator,
    how: OperatorHow,
    previous: Option<String>,
    remark: Option<String>,
) -> DeliveryEvent {
    OperatorAssigned {
        node_id: node.node.id.clone(),
        role: node.node.role.clone().unwrap_or_default(),
        staff_id: staff.staff_id.clone(),
        name: staff.name.clone(),
        department: staff.department.clone(),
        how,
        previous,
        remark,
    }
    .into()
}

fn cancelled(
    state: &DeliveryState,
    reason: CancelReason,
    refund_order: bool,
    refund_id: Option<String>,
    remark: Option<String>,
    ctx: &Context,
) -> DeliveryEvent {
    DeliveryCancelled {
        seq: state.seq,
        reason,
        refund_order,
        refund_id,
        remark,
        at: ctx.now,
    }
    .into()
}

/// A due node-timeout deadline: only the current entry's, on an executing project, once.
/// `advance` on an assignment node (assign_provider, claim_order, assign_order) only marks
/// the project timed out: moving on without a provider or operator would leave the next
/// nodes with nobody to act.
fn time_out(
    state: &DeliveryState,
    deadline_id: &str,
    ctx: &Context,
) -> Result<Vec<DeliveryEvent>, DomainError> {
    let Some(started) = &state.started else {
        return Ok(Vec::new());
    };
    let Some(node) = state.current_node() else {
        return Ok(Vec::new());
    };
    let (Some(timeout), Some(due_at)) = (node.node.timeout, state.due_at) else {
        return Ok(Vec::new());
    };
    let live = state.status == DeliveryStatus::Executing
        && !state.timed_out
        && deadline_id == node_deadline_id(&started.delivery_id, state.seq)
        && ctx.now >= due_at;
    if !live {
        return Ok(Vec::new());
    }
    let mut events = vec![NodeTimedOut {
        node_id: node.node.id.clone(),
        seq: state.seq,
        action: timeout.action,
        due_at,
    }
    .into()];
    let assignment = matches!(
        node.node.node_type,
        NodeType::AssignProvider | NodeType::ClaimOrder | NodeType::AssignOrder
    );
    match timeout.action {
        TimeoutAction::Advance if !assignment => {
            complete_and_next(state, completed_by(state, Party::System), ctx, &mut events);
        }
        TimeoutAction::CancelAndRefund => {
            events.push(cancelled(
                state,
                CancelReason::Timeout,
                true,
                None,
                None,
                ctx,
            ));
        }
        TimeoutAction::Advance | TimeoutAction::None => {}
    }
    Ok(events)
}

/// The flow restarts from its start with the new provider: the abandoned entry's clock
/// stops, `assign_provider` is entered again and completed with `to`, and the next node is
/// entered. Earlier events stay in the log; every operator is dropped.
fn change_provider(
    state: &DeliveryState,
    org_id: &str,
    remark: &str,
    ctx: &Context,
) -> Result<Vec<DeliveryEvent>, DomainError> {
    let changed: DeliveryEvent = ProviderChanged {
        seq: state.seq,
        from: state.provider_org_id.clone(),
        to: org_id.to_owned(),
        remark: remark.to_owned(),
    }
    .into();
    let mut s = state::evolve(state.clone(), &changed);
    let restart = entered(&s, 0, state.seq + 1, ctx);
    s = state::evolve(s, &restart);
    let mut events = vec![
        changed,
        restart,
        ProviderAssigned {
            org_id: org_id.to_owned(),
            how: ProviderHow::Changed,
            weight_pick: None,
        }
        .into(),
    ];
    complete_and_next(&s, completed_by(&s, Party::System), ctx, &mut events);
    Ok(events)
}

/// The deadline rules of a delivery and the command each fires.
pub static DEADLINE_RULES: &[(DeadlineRule, crate::registry::Fire)] =
    &[(DeadlineRule::DeliveryNodeTimeout, fire_node_timeout)];

fn fire_node_timeout(d: &Deadline, _ids: &dyn crate::ids::IdGen) -> Box<dyn crate::Decision> {
    Box::new(crate::Single::<Delivery>::new(
        d.stream_id.clone(),
        DeliveryCommand::TimeOut {
            deadline_id: d.id.clone(),
        },
    ))
}
