//! The state of a delivery project, folded from its events, and the order-level stage.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::delivery::node::{FlowNode, NodeType, Side};
use crate::time::Timestamp;

use super::events::{CancelReason, DeliveryEvent, DeliveryStarted};
use super::{Operator, QueueReason, RequirementForm};

/// A project's status (SPEC §8); `timed_out` is a flag beside it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    #[default]
    Executing,
    Paused,
    Cancelled,
    Completed,
}

impl DeliveryStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Executing => "executing",
            DeliveryStatus::Paused => "paused",
            DeliveryStatus::Cancelled => "cancelled",
            DeliveryStatus::Completed => "completed",
        }
    }
}

/// The order-level delivery stage shown to the seller (API.md §5 `delivery_stage`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// 待实施
    PendingImplementation,
    /// 实施中
    Implementing,
    /// 待确认
    PendingConfirmation,
    /// 已完成
    Completed,
    Cancelled,
}

/// Why and since when the project waits in the dispatch queue.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Queued {
    pub reason: QueueReason,
    pub since: Timestamp,
}

/// The folded project.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct DeliveryState {
    pub started: Option<DeliveryStarted>,
    pub status: DeliveryStatus,
    pub provider_org_id: Option<String>,
    /// The operator of each provider role: a provider node of role R is operated by
    /// `operators[R]`.
    pub operators: BTreeMap<String, Operator>,
    /// The role assigned last (the read model's operator when the current node has none).
    pub last_role: Option<String>,
    /// Index of the current node in the flattened flow.
    pub current: usize,
    pub entered_at: Option<Timestamp>,
    pub due_at: Option<Timestamp>,
    /// Entry sequence number of the current node (counts every `NodeEntered`).
    pub seq: u32,
    pub timed_out: bool,
    pub queued: Option<Queued>,
    pub paused_at: Option<Timestamp>,
    /// The node's time left when paused, in microseconds.
    pub remaining_micros: Option<i64>,
    pub requirement: Option<RequirementForm>,
    /// Every attached file and the node it was attached to.
    pub files: BTreeMap<String, Option<String>>,
    pub messages: u32,
    pub notes: u32,
    /// Department of the staff member who claimed the order (for `department_first`).
    pub claimer_department: Option<String>,
    pub completed_at: Option<Timestamp>,
    pub cancelled: Option<CancelReason>,
}

impl DeliveryState {
    /// The flattened flow (empty before the start).
    pub fn flow(&self) -> &[FlowNode] {
        self.started.as_ref().map_or(&[], |s| s.flow.as_slice())
    }

    /// The current node, once started.
    pub fn current_node(&self) -> Option<&FlowNode> {
        self.flow().get(self.current)
    }

    /// The operator the read model shows: the current node's role's, else the one assigned
    /// last.
    pub fn operator(&self) -> Option<&Operator> {
        self.current_node()
            .and_then(|n| n.node.role.as_ref())
            .and_then(|r| self.operators.get(r))
            .or_else(|| self.last_role.as_ref().and_then(|r| self.operators.get(r)))
    }

    /// The order-level stage. Completed / cancelled by status; `pending_confirmation` while
    /// the current node is `complete_project`; `implementing` once the flow is past its first
    /// provider-side `generic` node (on `standard_manual`: "start implementation"
    /// completed); `pending_implementation` before. A rejection back onto that first generic
    /// node makes it pending again. `None` before the start.
    pub fn stage(&self) -> Option<Stage> {
        self.started.as_ref()?;
        Some(match self.status {
            DeliveryStatus::Completed => Stage::Completed,
            DeliveryStatus::Cancelled => Stage::Cancelled,
            DeliveryStatus::Executing | DeliveryStatus::Paused => {
                let first_work = self.flow().iter().position(|f| {
                    f.node.node_type == NodeType::Generic && f.node.acting_side() == Side::Provider
                });
                match self.current_node() {
                    Some(n) if n.node.node_type == NodeType::CompleteProject => {
                        Stage::PendingConfirmation
                    }
                    _ if first_work.is_some_and(|i| self.current > i) => Stage::Implementing,
                    _ => Stage::PendingImplementation,
                }
            }
        })
    }

    /// Whether the project is over.
    pub fn is_over(&self) -> bool {
        matches!(
            self.status,
            DeliveryStatus::Cancelled | DeliveryStatus::Completed
        )
    }
}

pub(super) fn evolve(mut state: DeliveryState, event: &DeliveryEvent) -> DeliveryState {
    match event {
        DeliveryEvent::DeliveryStarted(e) => {
            state.started = Some(e.clone());
            state.status = DeliveryStatus::Executing;
        }
        DeliveryEvent::ProviderAssigned(e) => {
            state.provider_org_id = Some(e.org_id.clone());
            state.queued = None;
        }
        // A recheck changes nothing but the next recheck's due time (a deadline).
        DeliveryEvent::QueueRechecked(_) => {}
        DeliveryEvent::DeliveryQueued(e) => {
            state.queued = Some(Queued {
                reason: e.reason,
                since: e.since,
            });
        }
        DeliveryEvent::NodeEntered(e) => {
            state.current = usize::try_from(e.index).unwrap_or(usize::MAX);
            state.seq = e.seq;
            state.entered_at = Some(e.at);
            state.due_at = e.due_at;
            state.timed_out = false;
            state.queued = None;
        }
        DeliveryEvent::OperatorAssigned(e) => {
            state.operators.insert(
                e.role.clone(),
                Operator {
                    staff_id: e.staff_id.clone(),
                    name: e.name.clone(),
                    department: e.department.clone(),
                },
            );
            state.last_role = Some(e.role.clone());
            state.queued = None;
            if e.how == super::events::OperatorHow::Claimed {
                state.claimer_department = Some(e.department.clone());
            }
        }
        DeliveryEvent::RequirementSubmitted(e) => {
            state.requirement = Some(e.form.clone());
        }
        DeliveryEvent::NodeCompleted(_) | DeliveryEvent::NodeRejected(_) => {
            state.timed_out = false;
        }
        DeliveryEvent::NodeTimedOut(_) => {
            state.timed_out = true;
        }
        DeliveryEvent::DeliveryPaused(e) => {
            state.status = DeliveryStatus::Paused;
            state.paused_at = Some(e.at);
            state.remaining_micros = e.remaining_micros;
        }
        DeliveryEvent::DeliveryResumed(e) => {
            state.status = DeliveryStatus::Executing;
            state.paused_at = None;
            state.remaining_micros = None;
            if e.due_at.is_some() {
                state.due_at = e.due_at;
            }
        }
        DeliveryEvent::ProviderChanged(e) => {
            state.provider_org_id = Some(e.to.clone());
            state.operators.clear();
            state.last_role = None;
            state.claimer_department = None;
            state.timed_out = false;
            state.queued = None;
        }
        DeliveryEvent::DeliveryCancelled(e) => {
            state.status = DeliveryStatus::Cancelled;
            state.cancelled = Some(e.reason);
            state.queued = None;
            state.paused_at = None;
            state.remaining_micros = None;
        }
        DeliveryEvent::DeliveryCompleted(e) => {
            state.status = DeliveryStatus::Completed;
            state.completed_at = Some(e.at);
            state.queued = None;
        }
        DeliveryEvent::MessagePosted(_) => state.messages = state.messages.saturating_add(1),
        DeliveryEvent::NotePosted(_) => state.notes = state.notes.saturating_add(1),
        DeliveryEvent::FileAttached(e) => {
            state.files.insert(e.file_id.clone(), e.node_id.clone());
        }
    }
    state
}
