//! `decide` of the delivery project: which events a command causes, or why it is refused.

use crate::decider::Context;
use crate::delivery::node::{FlowNode, NodeType, Side, TimeoutAction};
use crate::error::{require_text, DomainError};
use crate::text::require_name;

use super::fields::{
    known_files, optional_text, require_file_ids, require_remark, validate_file, validate_form,
};
use super::*;

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

pub(super) fn decide(
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
        C::Recheck { reason } => match &state.queued {
            Some(q) if q.reason == *reason => {
                let node = state
                    .current_node()
                    .ok_or_else(|| DomainError::internal("the current node is outside the flow"))?;
                Ok(vec![QueueRechecked {
                    node_id: node.node.id.clone(),
                    reason: *reason,
                    at: ctx.now,
                }
                .into()])
            }
            _ => decide(state, &C::Queue { reason: *reason }, ctx),
        },
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
