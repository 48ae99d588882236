//! The node model of flow templates and delivery projects (SPEC §8, API.md §7 "Node JSON").
//!
//! A template is a list of nodes; a `container` groups child nodes and has no behaviour of
//! its own, so a project walks the template's nodes *flattened* ([`flatten`]): every
//! non-container node in order, each remembering the container it came from.
//!
//! Timeouts are kept in tenths of a day (`days` with one decimal in the API), counted in
//! working or calendar days by [`crate::calendar::WorkCalendar::add_days`].

use serde::{Deserialize, Serialize};

use crate::calendar::TimeoutUnit;

/// Most nodes a template holds, containers' children included (SPEC §8: 2..50 nodes).
pub const NODES_MAX: usize = 50;
/// Fewest nodes of a publishable template.
pub const NODES_MIN: usize = 2;
/// Longest node timeout, in tenths of a day (365 days).
pub const TIMEOUT_TENTHS_MAX: u32 = 3_650;
/// Most notification rules on one node.
pub const NOTIFICATIONS_PER_NODE_MAX: usize = 5;
/// Longest notification message template, in characters.
pub const NOTIFICATION_TEMPLATE_CHARS_MAX: usize = 500;

/// What a node does (SPEC §8 "Node types").
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeType {
    /// Built-in first node: the system picks the provider.
    AssignProvider,
    /// Groups child nodes; no behaviour of its own.
    Container,
    /// The customer submits the requirement form (需求单).
    SubmitRequirement,
    /// A staff member with the node's role claims the order.
    ClaimOrder,
    /// The system assigns a staff member with the node's role.
    AssignOrder,
    /// A side confirms the previous node's work; may be rejectable.
    Confirm,
    /// A side does a piece of work, optionally with a required upload.
    Generic,
    /// Must be the last node: the customer confirms completion; may be rejectable.
    CompleteProject,
}

impl NodeType {
    /// Every node type.
    pub const ALL: [NodeType; 8] = [
        NodeType::AssignProvider,
        NodeType::Container,
        NodeType::SubmitRequirement,
        NodeType::ClaimOrder,
        NodeType::AssignOrder,
        NodeType::Confirm,
        NodeType::Generic,
        NodeType::CompleteProject,
    ];

    /// The types a container may hold (SPEC §8).
    pub fn allowed_in_container(self) -> bool {
        !matches!(self, NodeType::AssignProvider | NodeType::Container)
    }

    /// The side a node of this type always has, if fixed by its type (the others name
    /// theirs).
    pub fn fixed_side(self) -> Option<Side> {
        match self {
            NodeType::AssignProvider | NodeType::AssignOrder => Some(Side::System),
            NodeType::SubmitRequirement | NodeType::CompleteProject => Some(Side::Customer),
            NodeType::ClaimOrder => Some(Side::Provider),
            NodeType::Container | NodeType::Confirm | NodeType::Generic => None,
        }
    }
}

/// Who acts on a node.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The provider org: its staff with the node's role.
    Provider,
    /// The customer of the order.
    Customer,
    /// The system (assignment nodes).
    System,
}

/// How an `assign_order` node picks a staff member (SPEC §8).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignRule {
    /// Among the provider's staff with the role.
    #[default]
    ProviderFirst,
    /// The same, inside the department of the staff who claimed the order first.
    DepartmentFirst,
}

/// What happens when a node's deadline passes (SPEC §8).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeoutAction {
    /// 超时进入下一步: the node completes by the system and the flow moves on.
    Advance,
    /// The project is cancelled and the order refunded in full at once.
    CancelAndRefund,
    /// The project is only marked timed out.
    None,
}

/// A node's timeout.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct NodeTimeout {
    /// Tenths of a day (`days: 2.5` → 25), 1..=[`TIMEOUT_TENTHS_MAX`].
    pub tenths: u32,
    pub unit: TimeoutUnit,
    pub action: TimeoutAction,
}

/// When a notification rule fires.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyTrigger {
    /// The node was entered.
    Entered,
    /// The node's deadline passed.
    TimedOut,
}

/// Who a notification is for.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    /// The order's customer.
    Customer,
    /// The node's operator (the assigned staff member), else the provider org.
    Operator,
    /// The provider org's administrators.
    ProviderAdmin,
    /// The seller org's administrators.
    Seller,
}

/// A notification rule: on `trigger`, render `template` for `recipient` into the outbox.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Notification {
    pub recipient: Recipient,
    pub trigger: NotifyTrigger,
    /// Text with placeholders `{order_id}`, `{delivery_id}`, `{node_name}`, `{due_at}`.
    pub template: String,
}

/// One node of a template (API.md §7 "Node JSON"), as stored in template events and copied
/// into a project when it starts.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Node {
    /// Unique inside the template.
    pub id: String,
    #[serde(rename = "type")]
    pub node_type: NodeType,
    pub name: String,
    /// Who acts; fixed for most types ([`NodeType::fixed_side`]), chosen for `confirm` and
    /// `generic`.
    pub side: Option<Side>,
    /// The staff role that acts on a provider-side node (and that `claim_order` /
    /// `assign_order` assign).
    pub role: Option<String>,
    /// A rejection sends the flow back to the previous node.
    pub rejectable: bool,
    /// Completing the node needs at least one uploaded file.
    pub upload_required: bool,
    /// `assign_order` only.
    pub assign_rule: Option<AssignRule>,
    /// Button labels shown for the node's actions (free text, optional).
    pub labels: Vec<String>,
    pub timeout: Option<NodeTimeout>,
    /// The node's timeout is the product's warranty days (质保), in calendar days, action
    /// `advance` (the `double_check` preset's "confirm warranty"); never with `timeout`.
    /// A project resolves it when it enters the node, from the product it delivers.
    pub timeout_from_warranty: bool,
    /// `container` only.
    pub children: Vec<Node>,
    pub notifications: Vec<Notification>,
}

impl Node {
    /// The side that acts on this node: the fixed one of its type, else its own (provider
    /// when unset).
    pub fn acting_side(&self) -> Side {
        self.node_type
            .fixed_side()
            .or(self.side)
            .unwrap_or(Side::Provider)
    }

    /// The number of nodes this node counts for (itself and its children).
    pub fn count(&self) -> usize {
        1 + self.children.iter().map(Node::count).sum::<usize>()
    }
}

/// A node as a project walks it: a non-container node with the container it came from.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct FlowNode {
    pub node: Node,
    /// The id of the container holding it, if any.
    pub container_id: Option<String>,
}

/// The nodes a project walks, in order: containers replaced by their children.
pub fn flatten(nodes: &[Node]) -> Vec<FlowNode> {
    let mut out = Vec::new();
    for n in nodes {
        if n.node_type == NodeType::Container {
            for c in &n.children {
                out.push(FlowNode {
                    node: Node {
                        children: Vec::new(),
                        ..c.clone()
                    },
                    container_id: Some(n.id.clone()),
                });
            }
        } else {
            out.push(FlowNode {
                node: n.clone(),
                container_id: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, t: NodeType, children: Vec<Node>) -> Node {
        Node {
            id: id.into(),
            node_type: t,
            name: id.into(),
            side: None,
            role: None,
            rejectable: false,
            upload_required: false,
            assign_rule: None,
            labels: Vec::new(),
            timeout: None,
            timeout_from_warranty: false,
            children,
            notifications: Vec::new(),
        }
    }

    #[test]
    fn a_project_walks_containers_as_their_children_in_order() {
        let nodes = vec![
            node("a", NodeType::AssignProvider, vec![]),
            node(
                "box",
                NodeType::Container,
                vec![
                    node("s", NodeType::SubmitRequirement, vec![]),
                    node("g", NodeType::Generic, vec![]),
                ],
            ),
            node("end", NodeType::CompleteProject, vec![]),
        ];
        let flow = flatten(&nodes);
        let ids: Vec<_> = flow.iter().map(|f| f.node.id.as_str()).collect();
        assert_eq!(ids, ["a", "s", "g", "end"]);
        assert_eq!(flow[1].container_id.as_deref(), Some("box"));
        assert_eq!(flow[0].container_id, None);
        assert_eq!(nodes.iter().map(Node::count).sum::<usize>(), 5);
    }

    #[test]
    fn fixed_sides_win_over_the_nodes_own() {
        let mut n = node("s", NodeType::SubmitRequirement, vec![]);
        n.side = Some(Side::Provider);
        assert_eq!(n.acting_side(), Side::Customer);
        let mut g = node("g", NodeType::Generic, vec![]);
        assert_eq!(g.acting_side(), Side::Provider);
        g.side = Some(Side::Customer);
        assert_eq!(g.acting_side(), Side::Customer);
    }
}
