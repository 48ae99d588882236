//! Flow templates (SPEC §8): an org's private templates, stream `template-tpl_…`.
//!
//! A template is created as a draft (or copied from a public preset or a published template
//! of the caller's own org), edited while a draft, and published once: a published template
//! is immutable. Only the owning org's isv_admin acts on a private template; another org's
//! is not found (API.md §1).
//!
//! Two sets of rules: the *field rules* ([`check_fields`], 422 `validation_failed` naming
//! the JSON path, e.g. `nodes[2].children[0].timeout.days`) hold at create and edit; the
//! *publish rules* ([`check_publishable`], 422 `template_invalid` with `details.node_id` and
//! `details.rule`) hold for a published template and every public preset.
//!
//! Invariant: a published template never changes, so a decision that reads one (a product
//! naming it) need not guard its stream.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::decider::{Context, Decider};
use crate::decision::{Decision, Outcome, States};
use crate::delivery::node::{
    flatten, Node, NodeType, Side, NODES_MAX, NODES_MIN, NOTIFICATIONS_PER_NODE_MAX,
    NOTIFICATION_TEMPLATE_CHARS_MAX, TIMEOUT_TENTHS_MAX,
};
use crate::delivery::presets;
use crate::delivery::STAFF_ROLES;
use crate::error::{require_text, DomainError};
use crate::ids::{is_valid_id, IdKind};
use crate::text::require_name;

/// Longest template name, in characters.
pub const TEMPLATE_NAME_CHARS_MAX: usize = 100;
/// Longest node name, in characters.
pub const NODE_NAME_CHARS_MAX: usize = 60;
/// Longest node id, in bytes (`[a-z0-9_]`).
pub const NODE_ID_CHARS_MAX: usize = 40;
/// Most button labels on one node.
pub const LABELS_MAX: usize = 4;
/// Longest button label, in characters.
pub const LABEL_CHARS_MAX: usize = 20;

pub fn template_stream(template_id: &str) -> String {
    format!("template-{template_id}")
}

/// Where a template is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateStatus {
    #[default]
    Draft,
    Published,
}

impl TemplateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateStatus::Draft => "draft",
            TemplateStatus::Published => "published",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateCreated {
    pub template_id: String,
    pub org_id: String,
    pub name: String,
    pub nodes: Vec<Node>,
    /// The template (public preset or published private one) this draft was copied from.
    pub copied_from: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateEdited {
    pub name: String,
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplatePublished {}

crate::event_enum! {
    /// Events of a private flow template.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum TemplateEvent {
        TemplateCreated(TemplateCreated) version 1,
        TemplateEdited(TemplateEdited) version 1,
        TemplatePublished(TemplatePublished) version 1,
    }
}

/// A template as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateBody {
    pub template_id: String,
    pub org_id: String,
    pub name: String,
    pub nodes: Vec<Node>,
    pub status: TemplateStatus,
    pub copied_from: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateState {
    /// `None` before creation.
    pub template: Option<TemplateBody>,
}

impl TemplateState {
    /// The template if it exists and belongs to `org_id`.
    pub fn owned_by(&self, org_id: Option<&str>) -> Option<&TemplateBody> {
        self.template
            .as_ref()
            .filter(|t| org_id == Some(t.org_id.as_str()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateCommand {
    /// A new draft of `org_id`.
    Create {
        template_id: String,
        org_id: String,
        name: String,
        nodes: Vec<Node>,
    },
    /// Replaces a draft's name and nodes.
    Edit { name: String, nodes: Vec<Node> },
    /// Draft → published, once every publish rule holds.
    Publish,
}

#[derive(Debug)]
pub struct Template;

impl Decider for Template {
    type State = TemplateState;
    type Command = TemplateCommand;
    type Event = TemplateEvent;
    type Error = DomainError;

    fn decide(
        state: &TemplateState,
        command: &TemplateCommand,
        ctx: &Context,
    ) -> Result<Vec<TemplateEvent>, DomainError> {
        if let TemplateCommand::Create {
            template_id,
            org_id,
            name,
            nodes,
        } = command
        {
            check_fields(name, nodes)?;
            if state.template.is_some() {
                return Err(DomainError::invalid_state(
                    "created",
                    format!("template {template_id} already exists"),
                ));
            }
            return Ok(vec![TemplateEvent::TemplateCreated(TemplateCreated {
                template_id: template_id.clone(),
                org_id: org_id.clone(),
                name: name.trim().to_owned(),
                nodes: nodes.clone(),
                copied_from: None,
            })]);
        }
        // Another org's template is not found, like one that does not exist (API.md §1).
        let Some(t) = state.owned_by(ctx.actor.org_id()) else {
            return Err(DomainError::not_found("flow template"));
        };
        match command {
            TemplateCommand::Create { .. } => Ok(Vec::new()),
            TemplateCommand::Edit { name, nodes } => {
                check_fields(name, nodes)?;
                require_draft(t)?;
                Ok(vec![TemplateEvent::TemplateEdited(TemplateEdited {
                    name: name.trim().to_owned(),
                    nodes: nodes.clone(),
                })])
            }
            TemplateCommand::Publish => {
                require_draft(t)?;
                check_publishable(&t.nodes)?;
                Ok(vec![TemplateEvent::TemplatePublished(TemplatePublished {})])
            }
        }
    }

    fn evolve(mut state: TemplateState, event: &TemplateEvent) -> TemplateState {
        match event {
            TemplateEvent::TemplateCreated(e) => {
                state.template = Some(TemplateBody {
                    template_id: e.template_id.clone(),
                    org_id: e.org_id.clone(),
                    name: e.name.clone(),
                    nodes: e.nodes.clone(),
                    status: TemplateStatus::Draft,
                    copied_from: e.copied_from.clone(),
                })
            }
            TemplateEvent::TemplateEdited(e) => {
                if let Some(t) = state.template.as_mut() {
                    t.name = e.name.clone();
                    t.nodes = e.nodes.clone();
                }
            }
            TemplateEvent::TemplatePublished(_) => {
                if let Some(t) = state.template.as_mut() {
                    t.status = TemplateStatus::Published;
                }
            }
        }
        state
    }
}

fn require_draft(t: &TemplateBody) -> Result<(), DomainError> {
    if t.status != TemplateStatus::Draft {
        return Err(DomainError::invalid_state(
            t.status.as_str(),
            "a published template is immutable; copy it to change it",
        ));
    }
    Ok(())
}

/// Copy a public preset, or a published template of the caller's own org, into a new draft
/// of `org_id` (`copied_from` records the source). Another org's template is not found; a
/// draft cannot be copied (409 `invalid_state`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyTemplate {
    /// The new draft's id.
    pub template_id: String,
    pub org_id: String,
    pub source_id: String,
}

impl CopyTemplate {
    fn source_stream(&self) -> Option<String> {
        let private = presets::preset(&self.source_id).is_none()
            && is_valid_id(IdKind::Template, &self.source_id);
        private.then(|| template_stream(&self.source_id))
    }
}

impl Decision for CopyTemplate {
    fn primary(&self) -> String {
        template_stream(&self.template_id)
    }

    fn streams(&self, _loaded: &States) -> Vec<String> {
        self.source_stream().into_iter().collect()
    }

    fn decide(&self, states: &States, _ctx: &Context) -> Result<Outcome, DomainError> {
        let stream = self.primary();
        let state = states.get::<Template>(&stream)?;
        if state.template.is_some() {
            return Err(DomainError::invalid_state(
                "created",
                format!("template {} already exists", self.template_id),
            ));
        }
        let (name, nodes) = match presets::preset(&self.source_id) {
            Some(p) => (p.name.to_owned(), p.nodes.clone()),
            None => {
                let source = match self.source_stream() {
                    Some(s) => states.get::<Template>(&s)?,
                    None => return Err(DomainError::not_found("flow template")),
                };
                let Some(t) = source.owned_by(Some(&self.org_id)) else {
                    return Err(DomainError::not_found("flow template"));
                };
                if t.status != TemplateStatus::Published {
                    return Err(DomainError::invalid_state(
                        t.status.as_str(),
                        "only a published template can be copied",
                    ));
                }
                (t.name.clone(), t.nodes.clone())
            }
        };
        let created = TemplateEvent::TemplateCreated(TemplateCreated {
            template_id: self.template_id.clone(),
            org_id: self.org_id.clone(),
            name,
            nodes,
            copied_from: Some(self.source_id.clone()),
        });
        Outcome::primary::<Template>(&stream, state, vec![created])
    }
}

/// Is `template_id` a template a product of `org_id` may name: a public preset, or a
/// published template of `org_id` (`state`: its stream, loaded)? Else the rule it breaks,
/// `unknown_template` or `not_published`.
pub fn usable_by(
    template_id: &str,
    org_id: &str,
    state: Option<&TemplateState>,
) -> Result<(), &'static str> {
    if presets::preset(template_id).is_some() {
        return Ok(());
    }
    match state.and_then(|s| s.owned_by(Some(org_id))) {
        None => Err("unknown_template"),
        Some(t) if t.status != TemplateStatus::Published => Err("not_published"),
        Some(_) => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------
// Field rules

fn node_id_ok(id: &str) -> bool {
    (1..=NODE_ID_CHARS_MAX).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The total number of nodes, containers' children included.
pub fn node_count(nodes: &[Node]) -> usize {
    nodes.iter().map(Node::count).sum()
}

/// The rules a template's name and nodes obey at every create and edit (no state): 422
/// `validation_failed` naming the first field that breaks one.
pub fn check_fields(name: &str, nodes: &[Node]) -> Result<(), DomainError> {
    require_name("name", name, TEMPLATE_NAME_CHARS_MAX)?;
    if node_count(nodes) > NODES_MAX {
        return Err(DomainError::validation(
            "nodes",
            "node_count",
            format!("a template has at most {NODES_MAX} nodes, children included"),
        ));
    }
    for (i, n) in nodes.iter().enumerate() {
        let path = format!("nodes[{i}]");
        check_node(&path, n)?;
        for (j, c) in n.children.iter().enumerate() {
            check_node(&format!("{path}.children[{j}]"), c)?;
        }
    }
    Ok(())
}

fn check_node(path: &str, n: &Node) -> Result<(), DomainError> {
    let f = |field: &str| format!("{path}.{field}");
    let not_allowed = |field: &str, why: &str| {
        DomainError::validation(&f(field), "not_allowed", format!("{}: {why}", f(field)))
    };
    if !node_id_ok(&n.id) {
        return Err(DomainError::validation(
            &f("id"),
            "format",
            format!("{} must be 1..={NODE_ID_CHARS_MAX} of [a-z0-9_]", f("id")),
        ));
    }
    require_name(&f("name"), &n.name, NODE_NAME_CHARS_MAX)?;
    let t = n.node_type;
    if let Some(side) = n.side {
        match t.fixed_side() {
            Some(fixed) if fixed != side => {
                return Err(DomainError::validation(
                    &f("side"),
                    "fixed",
                    format!("a {} node's side is fixed by its type", type_name(t)),
                ))
            }
            Some(_) => {}
            None if t == NodeType::Container => {
                return Err(not_allowed("side", "a container has no side"))
            }
            None if side == Side::System => {
                return Err(DomainError::validation(
                    &f("side"),
                    "one_of",
                    format!("{} must be provider or customer", f("side")),
                ))
            }
            None => {}
        }
    }
    if let Some(role) = &n.role {
        let takes_role = matches!(t, NodeType::ClaimOrder | NodeType::AssignOrder)
            || (matches!(t, NodeType::Confirm | NodeType::Generic)
                && n.acting_side() == Side::Provider);
        if !takes_role {
            return Err(not_allowed(
                "role",
                "only claim_order, assign_order and provider-side confirm or generic nodes have a role",
            ));
        }
        if !STAFF_ROLES.contains(&role.as_str()) {
            return Err(DomainError::validation(
                &f("role"),
                "one_of",
                format!("{} must be one of {}", f("role"), STAFF_ROLES.join(", ")),
            ));
        }
    }
    if n.rejectable && !matches!(t, NodeType::Confirm | NodeType::CompleteProject) {
        return Err(not_allowed(
            "rejectable",
            "only confirm and complete_project nodes are rejectable",
        ));
    }
    if n.assign_rule.is_some() && t != NodeType::AssignOrder {
        return Err(not_allowed(
            "assign_rule",
            "only assign_order nodes have an assign_rule",
        ));
    }
    if !n.children.is_empty() && t != NodeType::Container {
        return Err(not_allowed(
            "children",
            "only container nodes have children",
        ));
    }
    if let Some(timeout) = &n.timeout {
        if !(1..=TIMEOUT_TENTHS_MAX).contains(&timeout.tenths) {
            return Err(DomainError::validation(
                &f("timeout.days"),
                "range",
                format!(
                    "{} must be 0.1..={} days",
                    f("timeout.days"),
                    TIMEOUT_TENTHS_MAX / 10
                ),
            ));
        }
        if n.timeout_from_warranty {
            return Err(not_allowed(
                "timeout_from_warranty",
                "a node's timeout is its own or the warranty's, not both",
            ));
        }
    }
    if n.labels.len() > LABELS_MAX {
        return Err(DomainError::validation(
            &f("labels"),
            "max_items",
            format!("{} holds at most {LABELS_MAX} labels", f("labels")),
        ));
    }
    for (k, label) in n.labels.iter().enumerate() {
        require_name(&f(&format!("labels[{k}]")), label, LABEL_CHARS_MAX)?;
    }
    if n.notifications.len() > NOTIFICATIONS_PER_NODE_MAX {
        return Err(DomainError::validation(
            &f("notifications"),
            "max_items",
            format!(
                "{} holds at most {NOTIFICATIONS_PER_NODE_MAX} rules",
                f("notifications")
            ),
        ));
    }
    for (k, rule) in n.notifications.iter().enumerate() {
        require_text(
            &f(&format!("notifications[{k}].template")),
            &rule.template,
            NOTIFICATION_TEMPLATE_CHARS_MAX,
        )?;
    }
    Ok(())
}

fn type_name(t: NodeType) -> &'static str {
    match t {
        NodeType::AssignProvider => "assign_provider",
        NodeType::Container => "container",
        NodeType::SubmitRequirement => "submit_requirement",
        NodeType::ClaimOrder => "claim_order",
        NodeType::AssignOrder => "assign_order",
        NodeType::Confirm => "confirm",
        NodeType::Generic => "generic",
        NodeType::CompleteProject => "complete_project",
    }
}

// ---------------------------------------------------------------------------------------
// Publish rules

/// 422 `template_invalid` naming the node and the rule it breaks.
fn invalid(node_id: Option<&str>, rule: &'static str, message: String) -> DomainError {
    DomainError::template_invalid(node_id, rule, message)
}

/// The rules of SPEC §8 a published template obeys, checked in this order: `node_count`
/// (2..=50, no node named), `duplicate_node_id`, `container_child_type`,
/// `first_not_assign_provider`, `assign_provider_not_first`, `last_not_complete_project`,
/// `role_missing`, `role_not_assigned`, `after_assignment_rejectable` — the last four over
/// the flattened nodes (the order a project walks them).
pub fn check_publishable(nodes: &[Node]) -> Result<(), DomainError> {
    let count = node_count(nodes);
    if !(NODES_MIN..=NODES_MAX).contains(&count) {
        return Err(invalid(
            None,
            "node_count",
            format!("a template has {NODES_MIN}..={NODES_MAX} nodes, this one {count}"),
        ));
    }
    let mut seen = BTreeSet::new();
    for n in nodes
        .iter()
        .flat_map(|n| std::iter::once(n).chain(&n.children))
    {
        if !seen.insert(n.id.as_str()) {
            return Err(invalid(
                Some(&n.id),
                "duplicate_node_id",
                format!("node id {} appears twice", n.id),
            ));
        }
    }
    for c in nodes.iter().flat_map(|n| &n.children) {
        if !c.node_type.allowed_in_container() {
            return Err(invalid(
                Some(&c.id),
                "container_child_type",
                format!(
                    "a container cannot hold the {} node {}",
                    type_name(c.node_type),
                    c.id
                ),
            ));
        }
    }
    // NODES_MIN ≥ 1, so there is a first node.
    if let Some(first) = nodes.first() {
        if first.node_type != NodeType::AssignProvider {
            return Err(invalid(
                Some(&first.id),
                "first_not_assign_provider",
                format!("the first node must be assign_provider, not {}", first.id),
            ));
        }
    }
    if let Some(n) = nodes[1..]
        .iter()
        .find(|n| n.node_type == NodeType::AssignProvider)
    {
        return Err(invalid(
            Some(&n.id),
            "assign_provider_not_first",
            format!("assign_provider node {} is not the first node", n.id),
        ));
    }
    let flow = flatten(nodes);
    // The last node first (the rule's name), then a complete_project anywhere before it.
    let misplaced = flow
        .last()
        .filter(|f| f.node.node_type != NodeType::CompleteProject)
        .or_else(|| {
            flow[..flow.len().saturating_sub(1)]
                .iter()
                .find(|f| f.node.node_type == NodeType::CompleteProject)
        });
    if let Some(f) = misplaced {
        return Err(invalid(
            Some(&f.node.id),
            "last_not_complete_project",
            format!(
                "complete_project must be the last node and only the last ({})",
                f.node.id
            ),
        ));
    }
    let needs_role = |n: &Node| {
        matches!(n.node_type, NodeType::ClaimOrder | NodeType::AssignOrder)
            || (matches!(n.node_type, NodeType::Confirm | NodeType::Generic)
                && n.acting_side() == Side::Provider)
    };
    for f in &flow {
        if needs_role(&f.node) && f.node.role.is_none() {
            return Err(invalid(
                Some(&f.node.id),
                "role_missing",
                format!("node {} needs a role", f.node.id),
            ));
        }
    }
    let mut assigned: BTreeSet<&str> = BTreeSet::new();
    for f in &flow {
        let n = &f.node;
        let role = n.role.as_deref().unwrap_or_default();
        match n.node_type {
            NodeType::ClaimOrder | NodeType::AssignOrder => {
                assigned.insert(role);
            }
            NodeType::Confirm | NodeType::Generic
                if n.acting_side() == Side::Provider && !assigned.contains(role) =>
            {
                return Err(invalid(
                    Some(&n.id),
                    "role_not_assigned",
                    format!(
                        "node {} acts as {role}, which no earlier assign_order or claim_order node assigns",
                        n.id
                    ),
                ));
            }
            _ => {}
        }
    }
    for pair in flow.windows(2) {
        let (before, after) = (&pair[0].node, &pair[1].node);
        if matches!(
            before.node_type,
            NodeType::AssignOrder | NodeType::ClaimOrder
        ) && after.rejectable
        {
            return Err(invalid(
                Some(&after.id),
                "after_assignment_rejectable",
                format!(
                    "node {} right after the assignment {} cannot be rejectable",
                    after.id, before.id
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
