//! The delivery project's cross-stream decisions (SPEC §8 "Assignment, capacity, queues"):
//! every command on a project runs as an [`Act`], which decides the project's events with
//! [`Delivery`] and, in the same atomic append, keeps capacity true — a staff member who
//! starts or stops operating the project takes or gives back a slot on their own stream
//! (`staff-stf_…`, where their maximum is decided), and so does the provider org on the
//! product's provider load (`provload-prd_…`). [`StartDelivery`] starts the project of a
//! paid manual order from its product's template.
//!
//! What the project aggregate receives as a *result* (which provider, which staff member,
//! or the queue reason) is chosen here from the loaded states with the pure choosers of
//! [`crate::delivery::assign`].
//!
//! Invariant: a project holds a slot of a staff member exactly while it is executing or
//! paused and the member operates one of its roles, and a slot of its provider exactly while
//! it is executing or paused with that provider — so every staff member's and provider's
//! active count equals a recount of the projects from the log (`tests`, a property test).

use std::collections::BTreeSet;

use crate::calendar::TimeoutUnit;
use crate::codec::{CodecError, EventCodec};
use crate::decider::{Context, Decider};
use crate::decision::Single;
use crate::decision::{Decision, Outcome, States};
use crate::delivery::assign::{
    choose_provider, choose_staff, Candidate, Ineligible, ProviderLinkCapacity, QueueReason,
};
use crate::delivery::capacity::{provider_load_stream, ProviderLoad, ProviderLoadCommand};
use crate::delivery::node::{
    flatten, Node, NodeTimeout, NodeType, TimeoutAction, TIMEOUT_TENTHS_MAX,
};
use crate::delivery::presets;
use crate::delivery::project::{
    delivery_id_for, delivery_stream, Delivery, DeliveryCommand, DeliveryState, DeliveryStatus,
    Operator, OperatorHow, ProviderHow, StartDelivery as Start, WeightPick,
};
use crate::delivery::project::{CancelReason, DeliveryEvent};
use crate::delivery::queue::{
    dispatch_queue_stream, DispatchQueue, DispatchQueueCommand, DRAIN_BATCH_MAX,
};
use crate::delivery::staff::{
    org_staff_stream, staff_stream, OrgStaff, Staff, StaffCommand, StaffState, Unavailable,
};
use crate::delivery::template::{template_stream, Template, TemplateStatus};
use crate::error::DomainError;
use crate::history::StoredEvent;
use crate::ids::{is_valid_id, IdKind};
use crate::order::{
    delivery_cancel_on_refund, order_stream, DecideRefund, Order, OrderCommand, OrderEvent,
    OrderStatus, SystemRefundReason,
};
use crate::product::{product_stream, DeliveryKind, Product, ProductState};

/// What an [`Act`] does to its project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A project command whose inputs the caller has in full.
    Command(DeliveryCommand),
    /// The staff member claims the current `claim_order` node (their name, department and
    /// roles are read from their own stream).
    Claim { staff_id: String },
    /// A provider admin hands the current role to another staff member of the provider.
    ChangeOperator { staff_id: String, remark: String },
    /// An admin assigns the current assignment node by hand: a provider on
    /// `assign_provider`, a staff member on `assign_order`.
    Dispatch {
        provider_org_id: Option<String>,
        staff_id: Option<String>,
    },
    /// The system assigns the current assignment node, or queues the project with the
    /// reason nobody can take it (nothing on any other node).
    Assign,
    /// The 10-minute recheck of a queued project: as `Assign`, and if still nobody can take
    /// it, a `QueueRechecked` restarts the recheck.
    Recheck,
}

/// A command on delivery project `delivery_id`, with its capacity effects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Act {
    pub delivery_id: String,
    pub step: Step,
}

/// `step` on delivery `delivery_id`.
pub fn act(delivery_id: &str, step: Step) -> Act {
    Act {
        delivery_id: delivery_id.to_owned(),
        step,
    }
}

impl Act {
    /// `step` on the project of stream `delivery-<id>` (what a deadline names).
    pub fn on_stream(stream_id: &str, step: Step) -> Act {
        let (_, id) = crate::split_stream_id(stream_id);
        act(id, step)
    }

    fn stream(&self) -> String {
        delivery_stream(&self.delivery_id)
    }

    /// The staff member the step names, if any.
    fn named_staff(&self) -> Option<&str> {
        match &self.step {
            Step::Claim { staff_id } | Step::ChangeOperator { staff_id, .. } => Some(staff_id),
            Step::Dispatch {
                staff_id: Some(s), ..
            } => Some(s),
            _ => None,
        }
    }

    /// Whether the step may choose a staff member of the provider by rule.
    fn assigns(&self) -> bool {
        matches!(self.step, Step::Assign | Step::Recheck)
    }
}

/// Whether the project holds capacity (and may wait in a queue) now: started, executing or
/// paused.
fn holds(state: &DeliveryState) -> bool {
    state.started.is_some()
        && matches!(
            state.status,
            DeliveryStatus::Executing | DeliveryStatus::Paused
        )
}

/// The staff members whose slots the project holds, with the role each operates.
fn held_staff(state: &DeliveryState) -> BTreeSet<(String, String)> {
    if !holds(state) {
        return BTreeSet::new();
    }
    state
        .operators
        .iter()
        .map(|(role, op)| (op.staff_id.clone(), role.clone()))
        .collect()
}

/// The provider org whose slot the project holds.
fn held_provider(state: &DeliveryState) -> Option<&str> {
    holds(state)
        .then_some(state.provider_org_id.as_deref())
        .flatten()
}

impl Decision for Act {
    fn primary(&self) -> String {
        self.stream()
    }

    fn streams(&self, loaded: &States) -> Vec<String> {
        let Ok(state) = loaded.get::<Delivery>(&self.stream()) else {
            return Vec::new();
        };
        let Some(started) = &state.started else {
            return Vec::new();
        };
        let mut streams = vec![
            product_stream(&started.product_id),
            provider_load_stream(&started.product_id),
            dispatch_queue_stream(&started.product_id),
        ];
        if let Some(provider) = &state.provider_org_id {
            streams.push(dispatch_queue_stream(provider));
        }
        streams.extend(
            state
                .operators
                .values()
                .map(|op| staff_stream(&op.staff_id)),
        );
        if let Some(staff_id) = self.named_staff() {
            streams.push(staff_stream(staff_id));
        }
        let at_assign_order = state
            .current_node()
            .is_some_and(|n| n.node.node_type == NodeType::AssignOrder);
        if self.assigns() && at_assign_order {
            if let Some(provider) = &state.provider_org_id {
                let index = org_staff_stream(provider);
                if let Ok(org) = loaded.get::<OrgStaff>(&index) {
                    streams.extend(org.staff_ids.iter().map(|id| staff_stream(id)));
                }
                streams.push(index);
            }
        }
        streams
    }

    fn decide(&self, states: &States, ctx: &Context) -> Result<Outcome, DomainError> {
        let stream = self.stream();
        let state = states.get::<Delivery>(&stream)?;
        let events = match self.resolve(state, states, ctx)? {
            Some(command) => Delivery::decide(state, &command, ctx)?,
            None => Vec::new(),
        };
        let mut outcome = Outcome::primary::<Delivery>(&stream, state, events)?;
        let after = outcome
            .primary_state::<Delivery>()
            .cloned()
            .ok_or_else(|| DomainError::internal("the delivery's state after the act"))?;
        self.capacity(state, &after, states, ctx, &mut outcome)?;
        self.queue_index(state, &after, states, ctx, &mut outcome)?;
        Ok(outcome)
    }
}

impl Act {
    /// The project command the step comes to, or `None` when there is nothing to do.
    fn resolve(
        &self,
        state: &DeliveryState,
        states: &States,
        ctx: &Context,
    ) -> Result<Option<DeliveryCommand>, DomainError> {
        let Some(started) = &state.started else {
            // A refund of an order without a project (not a manual product) cancels nothing.
            return match &self.step {
                Step::Command(DeliveryCommand::CancelForRefund { .. }) => Ok(None),
                _ => Err(DomainError::not_found("delivery")),
            };
        };
        match &self.step {
            Step::Command(command) => Ok(Some(command.clone())),
            Step::Claim { staff_id } => {
                let staff = provider_staff(state, states, staff_id)?;
                Ok(Some(DeliveryCommand::Claim {
                    staff: operator(staff),
                    roles: staff.roles.clone(),
                }))
            }
            Step::ChangeOperator { staff_id, remark } => {
                let staff = provider_staff(state, states, staff_id)?;
                Ok(Some(DeliveryCommand::ChangeOperator {
                    role: None,
                    staff: operator(staff),
                    remark: remark.clone(),
                }))
            }
            Step::Dispatch {
                provider_org_id,
                staff_id,
            } => {
                let node_type = state.current_node().map(|n| n.node.node_type);
                match (node_type, provider_org_id, staff_id) {
                    (Some(NodeType::AssignProvider), Some(org_id), _) => {
                        let product =
                            states.get::<Product>(&product_stream(&started.product_id))?;
                        let linked = product.providers.iter().any(|l| &l.org_id == org_id)
                            || (product.providers.is_empty()
                                && product.seller_org_id() == Some(org_id.as_str()));
                        if !linked {
                            return Err(DomainError::validation(
                                "provider_org_id",
                                "not_linked",
                                format!("{org_id} is not a provider of the product"),
                            ));
                        }
                        Ok(Some(DeliveryCommand::AssignProvider {
                            org_id: org_id.clone(),
                            how: ProviderHow::Dispatched,
                            weight_pick: None,
                        }))
                    }
                    (Some(NodeType::AssignProvider), None, _) => Err(DomainError::validation(
                        "provider_org_id",
                        "required",
                        "the project waits for a provider: name provider_org_id",
                    )),
                    (Some(NodeType::AssignOrder), _, Some(staff_id)) => {
                        let staff = provider_staff(state, states, staff_id)?;
                        Ok(Some(DeliveryCommand::AssignOperator {
                            staff: operator(staff),
                            how: OperatorHow::Dispatched,
                        }))
                    }
                    (Some(NodeType::AssignOrder), _, None) => Err(DomainError::validation(
                        "staff_id",
                        "required",
                        "the project waits for a staff member: name staff_id",
                    )),
                    // Not at an assignment node: the project refuses with its current node.
                    _ => Ok(Some(DeliveryCommand::Queue {
                        reason: QueueReason::NoProviderLinked,
                    })),
                }
            }
            Step::Assign | Step::Recheck => self.assignment(state, states, ctx),
        }
    }

    /// The automatic choice on the current assignment node, or the queue.
    fn assignment(
        &self,
        state: &DeliveryState,
        states: &States,
        ctx: &Context,
    ) -> Result<Option<DeliveryCommand>, DomainError> {
        let Some(node) = state.current_node() else {
            return Ok(None);
        };
        let queued = |reason: QueueReason| match self.step {
            Step::Recheck => DeliveryCommand::Recheck { reason },
            _ => DeliveryCommand::Queue { reason },
        };
        // A paused project is re-examined but not assigned: the recheck only restarts.
        if state.status == DeliveryStatus::Paused {
            return Ok(match (&self.step, &state.queued) {
                (Step::Recheck, Some(q)) => Some(queued(q.reason)),
                _ => None,
            });
        }
        if state.status != DeliveryStatus::Executing {
            return Ok(None);
        }
        let Some(started) = &state.started else {
            return Ok(None);
        };
        match node.node.node_type {
            NodeType::AssignProvider => {
                let product = states.get::<Product>(&product_stream(&started.product_id))?;
                if product.providers.is_empty() {
                    return Ok(Some(DeliveryCommand::AssignProvider {
                        org_id: started.seller_org_id.clone(),
                        how: ProviderHow::SellerDefault,
                        weight_pick: None,
                    }));
                }
                let load =
                    states.get::<ProviderLoad>(&provider_load_stream(&started.product_id))?;
                let links: Vec<ProviderLinkCapacity> = product
                    .providers
                    .iter()
                    .map(|l| ProviderLinkCapacity {
                        org_id: l.org_id.clone(),
                        weight: l.weight,
                        has_free_capacity: load.has_room(&l.org_id, Some(l.max_active)),
                    })
                    .collect();
                Ok(Some(match choose_provider(&self.delivery_id, &links) {
                    Ok((org_id, pick, total_weight)) => DeliveryCommand::AssignProvider {
                        org_id,
                        how: ProviderHow::Weighted,
                        weight_pick: Some(WeightPick { pick, total_weight }),
                    },
                    Err(reason) => queued(reason),
                }))
            }
            NodeType::AssignOrder => {
                let Some(provider) = &state.provider_org_id else {
                    return Ok(None);
                };
                let role = node.node.role.clone().unwrap_or_default();
                let index = states.get::<OrgStaff>(&org_staff_stream(provider))?;
                let mut candidates = Vec::with_capacity(index.staff_ids.len());
                for id in &index.staff_ids {
                    let staff = states.get::<Staff>(&staff_stream(id))?;
                    candidates.push(candidate(staff, &role, ctx));
                }
                let rule = node.node.assign_rule.unwrap_or_default();
                let chosen = choose_staff(&candidates, rule, state.claimer_department.as_deref());
                Ok(Some(match chosen {
                    Ok(staff_id) => {
                        let staff = states.get::<Staff>(&staff_stream(&staff_id))?;
                        DeliveryCommand::AssignOperator {
                            staff: operator(staff),
                            how: match rule {
                                crate::delivery::node::AssignRule::ProviderFirst => {
                                    OperatorHow::RuleProviderFirst
                                }
                                crate::delivery::node::AssignRule::DepartmentFirst => {
                                    OperatorHow::RuleDepartmentFirst
                                }
                            },
                        }
                    }
                    Err(reason) => queued(reason),
                }))
            }
            _ => Ok(None),
        }
    }

    /// The capacity the act takes and gives back, appended with the project's events.
    fn capacity(
        &self,
        before: &DeliveryState,
        after: &DeliveryState,
        states: &States,
        ctx: &Context,
        outcome: &mut Outcome,
    ) -> Result<(), DomainError> {
        let (held_before, held_after) = (held_staff(before), held_staff(after));
        let ids = |held: &BTreeSet<(String, String)>| -> BTreeSet<String> {
            held.iter().map(|(id, _)| id.clone()).collect()
        };
        let (ids_before, ids_after) = (ids(&held_before), ids(&held_after));
        for (staff_id, role) in &held_after {
            if ids_before.contains(staff_id) {
                continue;
            }
            let command = StaffCommand::Take {
                delivery_id: self.delivery_id.clone(),
                role: role.clone(),
                force: false,
            };
            staff_effect(states, staff_id, &command, ctx, outcome)?;
        }
        for staff_id in ids_before.difference(&ids_after) {
            let command = StaffCommand::Release {
                delivery_id: self.delivery_id.clone(),
            };
            staff_effect(states, staff_id, &command, ctx, outcome)?;
        }
        let (p_before, p_after) = (held_provider(before), held_provider(after));
        if p_before == p_after {
            return Ok(());
        }
        let Some(started) = &after.started else {
            return Ok(());
        };
        let load_stream = provider_load_stream(&started.product_id);
        let mut load = states.get::<ProviderLoad>(&load_stream)?.clone();
        let mut events = Vec::new();
        if p_before.is_some() {
            let release = ProviderLoadCommand::Release {
                delivery_id: self.delivery_id.clone(),
            };
            let released = ProviderLoad::decide(&load, &release, ctx)?;
            load = released.iter().fold(load, ProviderLoad::evolve);
            events.extend(released);
        }
        if let Some(org_id) = p_after {
            let product = states.get::<Product>(&product_stream(&started.product_id))?;
            let take = ProviderLoadCommand::Take {
                org_id: org_id.to_owned(),
                delivery_id: self.delivery_id.clone(),
                max_active: link_max(product, org_id),
            };
            events.extend(ProviderLoad::decide(&load, &take, ctx)?);
        }
        outcome.append(&load_stream, &events)
    }
}

/// The queue index a project waits in, while it waits: its product's for a provider, its
/// provider org's for a staff member.
fn queue_key(state: &DeliveryState) -> Option<String> {
    state.queued.as_ref()?;
    if !holds(state) {
        return None;
    }
    let started = state.started.as_ref()?;
    match state.current_node()?.node.node_type {
        NodeType::AssignProvider => Some(started.product_id.clone()),
        NodeType::AssignOrder => state.provider_org_id.clone(),
        _ => None,
    }
}

impl Act {
    /// Keeps the dispatch queue index true: the project enters the index of the queue it
    /// starts waiting in and leaves the one it stops waiting in, in the same append.
    fn queue_index(
        &self,
        before: &DeliveryState,
        after: &DeliveryState,
        states: &States,
        ctx: &Context,
        outcome: &mut Outcome,
    ) -> Result<(), DomainError> {
        let (from, to) = (queue_key(before), queue_key(after));
        if from == to {
            return Ok(());
        }
        let mut effect = |key: &str, command: DispatchQueueCommand| -> Result<(), DomainError> {
            let stream = dispatch_queue_stream(key);
            let index = states.get::<DispatchQueue>(&stream)?;
            let events = DispatchQueue::decide(index, &command, ctx)?;
            outcome.append(&stream, &events)
        };
        let delivery_id = self.delivery_id.clone();
        if let Some(key) = &from {
            effect(
                key,
                DispatchQueueCommand::Dequeue {
                    delivery_id: delivery_id.clone(),
                },
            )?;
        }
        if let Some(key) = &to {
            effect(key, DispatchQueueCommand::Enqueue { delivery_id })?;
        }
        Ok(())
    }
}

/// The most active projects `org_id` may hold of `product` (`None`: no cap — the seller's
/// own org delivering a product with no provider list, or dispatched outside the list).
fn link_max(product: &ProductState, org_id: &str) -> Option<u32> {
    product
        .providers
        .iter()
        .find(|l| l.org_id == org_id)
        .map(|l| l.max_active)
}

/// Decides `command` on staff member `staff_id`'s stream and appends its events.
fn staff_effect(
    states: &States,
    staff_id: &str,
    command: &StaffCommand,
    ctx: &Context,
    outcome: &mut Outcome,
) -> Result<(), DomainError> {
    let stream = staff_stream(staff_id);
    let staff = states.get::<Staff>(&stream)?;
    let events = Staff::decide(staff, command, ctx)?;
    outcome.append(&stream, &events)
}

/// A staff member of the project's provider org (another org's, or none: 404).
fn provider_staff<'a>(
    state: &DeliveryState,
    states: &'a States,
    staff_id: &str,
) -> Result<&'a StaffState, DomainError> {
    let staff = states.get::<Staff>(&staff_stream(staff_id))?;
    let of_provider = state
        .provider_org_id
        .as_deref()
        .is_some_and(|p| p == staff.org_id);
    if !staff.created || !of_provider {
        return Err(DomainError::not_found("staff"));
    }
    Ok(staff)
}

fn operator(staff: &StaffState) -> Operator {
    Operator {
        staff_id: staff.staff_id.clone(),
        name: staff.name.clone(),
        department: staff.department.clone(),
    }
}

/// A staff member as the chooser sees them for a node of `role`.
fn candidate(staff: &StaffState, role: &str, ctx: &Context) -> Candidate {
    let eligible = match staff.can_take(role, ctx.now) {
        Ok(()) | Err(Unavailable::CapacityFull) => Ok(()),
        Err(Unavailable::Role) => Err(Ineligible::NoRole),
        Err(Unavailable::NotAccepting) => Err(Ineligible::NotAccepting),
        Err(Unavailable::OnLeave) => Err(Ineligible::OnLeave),
    };
    Candidate {
        staff_id: staff.staff_id.clone(),
        department: staff.department.clone(),
        active: staff.active_count(),
        max: staff.max_active,
        eligible,
    }
}

// ---------------------------------------------------------------------------------------
// Start

/// Starts the delivery project of paid order `order_id` (the `delivery_start` policy, on
/// `OrderPaid` of a manual product): one project per paid order line, `dlv_<order body>`.
/// Idempotent — a project that exists is left alone; an order that is not a paid manual
/// order starts nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartDelivery {
    pub order_id: String,
}

impl StartDelivery {
    fn delivery_id(&self) -> String {
        delivery_id_for(&self.order_id)
    }
}

impl Decision for StartDelivery {
    fn primary(&self) -> String {
        delivery_stream(&self.delivery_id())
    }

    fn streams(&self, loaded: &States) -> Vec<String> {
        let order = order_stream(&self.order_id);
        let Ok(state) = loaded.get::<Order>(&order) else {
            return vec![order];
        };
        let Some(placed) = &state.placed else {
            return Vec::new();
        };
        let product = product_stream(&placed.product_id);
        let mut streams = vec![product.clone()];
        if let Ok(p) = loaded.get::<Product>(&product) {
            let template = p.created.as_ref().and_then(|c| c.flow_template_id.as_ref());
            if let Some(id) = template.filter(|id| presets::preset(id).is_none()) {
                streams.push(template_stream(id));
            }
        }
        streams
    }

    fn decide(&self, states: &States, ctx: &Context) -> Result<Outcome, DomainError> {
        let stream = self.primary();
        let delivery = states.get::<Delivery>(&stream)?;
        let order = states.get::<Order>(&order_stream(&self.order_id))?;
        let nothing = || Outcome::primary::<Delivery>(&stream, delivery, Vec::new());
        let Some(placed) = &order.placed else {
            return Err(DomainError::not_found("order"));
        };
        if delivery.started.is_some()
            || placed.delivery != DeliveryKind::Manual
            || order.status != Some(OrderStatus::Paid)
        {
            return nothing();
        }
        let product = states.get::<Product>(&product_stream(&placed.product_id))?;
        let created = product
            .created
            .as_ref()
            .ok_or_else(|| DomainError::not_found("product"))?;
        let template_id = created.flow_template_id.clone().ok_or_else(|| {
            DomainError::invalid_state("no_template", "the product names no flow template")
        })?;
        let nodes = match presets::preset(&template_id) {
            Some(p) => p.nodes.clone(),
            None => {
                let template = states.get::<Template>(&template_stream(&template_id))?;
                match &template.template {
                    Some(t) if t.status == TemplateStatus::Published => t.nodes.clone(),
                    _ => {
                        return Err(DomainError::invalid_state(
                            "no_template",
                            format!("template {template_id} is not published"),
                        ))
                    }
                }
            }
        };
        let flow = flatten(&with_warranty(nodes, created.warranty_days));
        let command = DeliveryCommand::Start(Start {
            order_id: self.order_id.clone(),
            product_id: placed.product_id.clone(),
            customer_id: placed.customer_id.clone(),
            seller_org_id: placed.seller_org_id.clone(),
            template_id,
            flow,
        });
        let events = Delivery::decide(delivery, &command, ctx)?;
        Outcome::primary::<Delivery>(&stream, delivery, events)
    }
}

/// The template's nodes with each `timeout_from_warranty` made a plain timeout of the
/// product's warranty days (calendar days, `advance`), or none when the product has no
/// warranty: a project walks fixed timeouts, so its history never depends on the product's
/// later edits.
fn with_warranty(nodes: Vec<Node>, warranty_days: u32) -> Vec<Node> {
    nodes
        .into_iter()
        .map(|mut n| {
            if n.timeout_from_warranty {
                n.timeout_from_warranty = false;
                n.timeout = (warranty_days > 0).then(|| NodeTimeout {
                    tenths: warranty_days.saturating_mul(10).min(TIMEOUT_TENTHS_MAX),
                    unit: TimeoutUnit::CalendarDays,
                    action: TimeoutAction::Advance,
                });
            }
            n.children = with_warranty(std::mem::take(&mut n.children), warranty_days);
            n
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Drain: capacity freed up, re-examine the queue at once

/// Whose freed capacity a [`Drain`] looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrainOf {
    /// A staff member had room again (released a project, a higher maximum, accepting on,
    /// leave ended): the queue of their org.
    Staff { staff_id: String },
    /// The queue index `key` (a product's provider queue after a provider slot was given
    /// back or its providers changed; any queue after a project left it).
    Queue { key: String },
}

/// Re-examines the oldest projects (at most [`DRAIN_BATCH_MAX`]) waiting in one dispatch
/// queue and assigns the first that can be assigned now, in one append (SPEC §8: queued
/// projects are re-examined immediately whenever capacity frees up). A project leaving the
/// queue appends `DeliveryDequeued`, which drains the queue again, so a raise of capacity by
/// N assigns up to N projects one after the other. Nothing is appended when none can be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drain {
    pub of: DrainOf,
}

impl Drain {
    /// The queue index stream, once known (a staff member's org is read from its stream).
    fn queue_stream(&self, loaded: &States) -> Option<String> {
        match &self.of {
            DrainOf::Queue { key } => Some(dispatch_queue_stream(key)),
            DrainOf::Staff { staff_id } => loaded
                .get::<Staff>(&staff_stream(staff_id))
                .ok()
                .filter(|s| s.created)
                .map(|s| dispatch_queue_stream(&s.org_id)),
        }
    }

    /// The acts to try, oldest queued first.
    fn candidates(&self, loaded: &States) -> Vec<Act> {
        let Some(queue) = self.queue_stream(loaded) else {
            return Vec::new();
        };
        let Ok(index) = loaded.get::<DispatchQueue>(&queue) else {
            return Vec::new();
        };
        index
            .queued
            .iter()
            .take(DRAIN_BATCH_MAX)
            .map(|d| act(d, Step::Assign))
            .collect()
    }
}

impl Decision for Drain {
    fn primary(&self) -> String {
        match &self.of {
            DrainOf::Staff { staff_id } => staff_stream(staff_id),
            DrainOf::Queue { key } => dispatch_queue_stream(key),
        }
    }

    fn streams(&self, loaded: &States) -> Vec<String> {
        let mut streams: Vec<String> = self.queue_stream(loaded).into_iter().collect();
        for candidate in self.candidates(loaded) {
            streams.push(candidate.primary());
            if loaded.contains(&candidate.primary()) {
                streams.extend(candidate.streams(loaded));
            }
        }
        streams
    }

    fn decide(&self, states: &States, ctx: &Context) -> Result<Outcome, DomainError> {
        for candidate in self.candidates(states) {
            // A project that cannot be decided now (refused) is left for its recheck.
            let Ok(mut outcome) = candidate.decide(states, ctx) else {
                continue;
            };
            let assigned = outcome
                .primary_state::<Delivery>()
                .is_some_and(|s| s.queued.is_none());
            if assigned && !outcome.is_empty() {
                // The answer of a drain is not read; the runner keeps no state for it.
                outcome.primary_state = None;
                return Ok(outcome);
            }
        }
        Ok(Outcome::default())
    }
}

// ---------------------------------------------------------------------------------------
// Policies (registered in `crate::policy::POLICIES`)

/// The order of delivery `delivery_id` (`dlv_X` → `ord_X`), the inverse of
/// [`delivery_id_for`].
pub fn order_id_of(delivery_id: &str) -> String {
    let body = delivery_id.strip_prefix("dlv_").unwrap_or(delivery_id);
    format!("ord_{body}")
}

/// The delivery id of a delivery stream's event, if the stream is one.
fn delivery_of(stream_id: &str) -> Option<&str> {
    let (kind, id) = crate::split_stream_id(stream_id);
    (kind == "delivery" && is_valid_id(IdKind::Delivery, id)).then_some(id)
}

fn decode(event: &StoredEvent<'_>) -> Result<DeliveryEvent, CodecError> {
    DeliveryEvent::decode_payload(event.event_type, event.schema_version, event.payload)
}

/// `delivery_start`: a paid order of a manual product (`OrderPaid` not completed at
/// payment) starts its delivery project.
pub fn on_order_paid(
    stream_id: &str,
    event: &StoredEvent<'_>,
) -> Result<Vec<Box<dyn Decision>>, CodecError> {
    let (kind, order_id) = crate::split_stream_id(stream_id);
    if kind != "order" || !is_valid_id(IdKind::Order, order_id) {
        return Ok(Vec::new());
    }
    let OrderEvent::OrderPaid(paid) =
        OrderEvent::decode_payload(event.event_type, event.schema_version, event.payload)?
    else {
        return Ok(Vec::new());
    };
    Ok(if paid.completed {
        Vec::new()
    } else {
        vec![Box::new(StartDelivery {
            order_id: order_id.to_owned(),
        })]
    })
}

/// `delivery_assign`: a node entered is assigned at once if it is an assignment node
/// (`Act` with `Step::Assign` appends nothing on any other node).
pub fn on_node_entered(
    stream_id: &str,
    event: &StoredEvent<'_>,
) -> Result<Vec<Box<dyn Decision>>, CodecError> {
    let Some(delivery_id) = delivery_of(stream_id) else {
        return Ok(Vec::new());
    };
    Ok(match decode(event)? {
        DeliveryEvent::NodeEntered(_) => vec![Box::new(act(delivery_id, Step::Assign))],
        _ => Vec::new(),
    })
}

/// `delivery_refund`: a project cancelled by a `cancel_and_refund` timeout or a platform
/// close refunds its order in full at once (a system refund, SPEC §8).
pub fn on_delivery_cancelled(
    stream_id: &str,
    event: &StoredEvent<'_>,
) -> Result<Vec<Box<dyn Decision>>, CodecError> {
    let Some(delivery_id) = delivery_of(stream_id) else {
        return Ok(Vec::new());
    };
    let DeliveryEvent::DeliveryCancelled(cancelled) = decode(event)? else {
        return Ok(Vec::new());
    };
    let reason = match cancelled.reason {
        CancelReason::Timeout => SystemRefundReason::DeliveryTimeout,
        CancelReason::PlatformClose => SystemRefundReason::PlatformClose,
        CancelReason::Refunded => return Ok(Vec::new()),
    };
    if !cancelled.refund_order {
        return Ok(Vec::new());
    }
    Ok(vec![Box::new(DecideRefund::by_system(
        &order_id_of(delivery_id),
        delivery_id,
        reason,
    ))])
}

/// `delivery_cancel_on_refund`: a refund that brings the order's balance to 0 cancels its
/// project (nothing for an order without one, or a project already over).
pub fn on_refund_approved(
    stream_id: &str,
    event: &StoredEvent<'_>,
) -> Result<Vec<Box<dyn Decision>>, CodecError> {
    Ok(match delivery_cancel_on_refund(stream_id, event)? {
        Some((order_id, refund_id)) => vec![Box::new(act(
            &delivery_id_for(&order_id),
            Step::Command(DeliveryCommand::CancelForRefund { refund_id }),
        ))],
        None => Vec::new(),
    })
}

/// `delivery_drain`: capacity that frees up re-examines the queue waiting for it at once —
/// a staff member's release, higher maximum, accepting on or leave ended (their org's
/// queue); a provider slot given back or a product's providers changed (the product's
/// queue); a project leaving a queue (the same queue: there may be room for the next).
pub fn on_capacity_freed(
    stream_id: &str,
    event: &StoredEvent<'_>,
) -> Result<Vec<Box<dyn Decision>>, CodecError> {
    let (kind, id) = crate::split_stream_id(stream_id);
    let of = match (kind, event.event_type) {
        (
            "staff",
            "StaffWorkReleased" | "StaffUpdated" | "StaffAcceptingSet" | "StaffLeaveEnded",
        ) if is_valid_id(IdKind::Staff, id) => DrainOf::Staff {
            staff_id: id.to_owned(),
        },
        ("provload", "ProviderWorkReleased") | ("product", "ProvidersSet") => {
            DrainOf::Queue { key: id.to_owned() }
        }
        ("dispatchq", "DeliveryDequeued") => DrainOf::Queue { key: id.to_owned() },
        _ => return Ok(Vec::new()),
    };
    Ok(vec![Box::new(Drain { of })])
}

/// `delivery_completion`: a completed project completes its order (the order's completion
/// time, which starts the review period).
pub fn on_delivery_completed(
    stream_id: &str,
    event: &StoredEvent<'_>,
) -> Result<Vec<Box<dyn Decision>>, CodecError> {
    let Some(delivery_id) = delivery_of(stream_id) else {
        return Ok(Vec::new());
    };
    Ok(match decode(event)? {
        DeliveryEvent::DeliveryCompleted(_) => vec![Box::new(Single::<Order>::new(
            order_stream(&order_id_of(delivery_id)),
            OrderCommand::CompleteByDelivery {
                delivery_id: delivery_id.to_owned(),
            },
        ))],
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests;
