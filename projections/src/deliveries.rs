//! The deliveries read model (SPEC §8, §10; API.md §7, §8, §9 outbox): every delivery
//! project folded with the domain's own `Delivery::evolve` (one source of truth for state),
//! its flow log, the indexes of the list tabs and searches, the queues (dispatch,
//! claimable, each staff member's active projects), the file index and the outbox of
//! rendered notifications.
//!
//! Indexes are facets — strings such as `tab:executing`, `order:ord_…`, `claimable:org_…:role`
//! — each naming the list keys of the projects it holds; a project's facets are recomputed
//! after each of its events and the difference applied, so an index never holds a project
//! that no longer matches it.
//!
//! Outbox: on `NodeEntered` / `NodeTimedOut` of a node with notification rules of that
//! trigger, each rule's template is rendered (`{order_id}`, `{delivery_id}`, `{node_name}`,
//! `{due_at}` — RFC 3339 in the server's zone, rendered when read: the model has no zone) for its recipient resolved from
//! the project as it stands after the event. A recipient that does not exist yet (the
//! provider before one is assigned) gets nothing.
//!
//! Invariant: everything here is a function of the log (rebuilt equals incremental).

use std::collections::{BTreeMap, BTreeSet};

use domain::delivery::node::NodeType;
use domain::delivery::node::{NotifyTrigger, Recipient};
use domain::delivery::project::{Delivery, DeliveryEvent, DeliveryState, DeliveryStatus, Party};
use domain::{Decider, Timestamp};
use eventlog::Record;
use serde::{Deserialize, Serialize};

use crate::runtime::{decode, ApplyError, ReadModel};

/// One entry of a project's flow log: every event of its stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogItem {
    pub position: u64,
    pub at: Timestamp,
    /// The record's actor.
    pub actor: String,
    /// The event type (`NodeEntered`, …).
    pub event_type: String,
    pub node_id: Option<String>,
    pub remark: Option<String>,
    pub reason: Option<String>,
    /// A message's or a note's text.
    pub text: Option<String>,
    pub file_id: Option<String>,
    /// A note: shown to the provider side (and platform, auditor) only.
    pub provider_only: bool,
}

/// One project as its stream stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRow {
    pub id: String,
    pub state: DeliveryState,
    /// The delivery stream's version.
    pub version: u64,
    pub log: Vec<LogItem>,
}

impl DeliveryRow {
    /// The key that orders lists: newest first, then id.
    pub fn list_key(&self) -> String {
        let created = self.state.started.as_ref().map_or(0, |s| s.at.as_micros());
        format!("{:020}/{}", i64::MAX.saturating_sub(created), self.id)
    }

    /// The current node's entry is past its deadline (the `timed_out` tab).
    pub fn timed_out(&self) -> bool {
        self.state.timed_out
    }
}

/// A file attached to a project (its bytes are in the file store under `sha256`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRow {
    pub delivery_id: String,
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub content_type: String,
    pub node_id: Option<String>,
}

/// A rendered notification (API.md §9 `GET /v1/outbox`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Log position of the event that caused it.
    pub position: u64,
    pub delivery_id: String,
    pub order_id: String,
    /// `customer`, `staff`, `provider_org` or `seller_org`.
    pub recipient_kind: String,
    pub recipient_id: String,
    /// `entered` or `timed_out`.
    pub trigger: String,
    pub node_id: String,
    /// The rule's template; [`OutboxEntry::text`] renders it.
    pub template: String,
    pub node_name: String,
    /// The node's deadline, for `{due_at}` (written in the server's zone when read).
    pub due_at: Option<Timestamp>,
    pub at: Timestamp,
}

impl OutboxEntry {
    /// The notification's text: the template with `{order_id}`, `{delivery_id}`,
    /// `{node_name}` and `{due_at}` (written by `time`, the server's zone) filled in, in one
    /// pass, so a value that looks like a placeholder stays as it is.
    pub fn text(&self, time: impl Fn(Timestamp) -> String) -> String {
        let due = self.due_at.map(time).unwrap_or_default();
        let values: [(&str, &str); 4] = [
            ("{order_id}", &self.order_id),
            ("{delivery_id}", &self.delivery_id),
            ("{node_name}", &self.node_name),
            ("{due_at}", &due),
        ];
        let mut out = String::with_capacity(self.template.len());
        let mut rest = self.template.as_str();
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            match values.iter().find(|(p, _)| tail.starts_with(p)) {
                Some((p, v)) => {
                    out.push_str(v);
                    rest = &tail[p.len()..];
                }
                None => {
                    out.push('{');
                    rest = &tail[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveriesState {
    /// Delivery id → the project.
    pub deliveries: BTreeMap<String, DeliveryRow>,
    /// Facet → list keys (see the module doc).
    pub index: BTreeMap<String, BTreeSet<String>>,
    /// List key → delivery id.
    pub by_key: BTreeMap<String, String>,
    /// Order id → its project.
    pub by_order: BTreeMap<String, String>,
    /// File id → the file.
    pub files: BTreeMap<String, FileRow>,
    /// Event position → the notifications it caused, in rule order.
    pub outbox: BTreeMap<u64, Vec<OutboxEntry>>,
}

impl DeliveriesState {
    /// The list keys of `facet`, in list order.
    pub fn facet(&self, facet: &str) -> Option<&BTreeSet<String>> {
        self.index.get(facet)
    }
}

/// The list tabs of API.md §7.
pub const TABS: &[&str] = &[
    "all",
    "executing",
    "timed_out",
    "cancelled",
    "paused",
    "completed",
];

/// Every facet of a project (see the module doc).
pub fn facets(row: &DeliveryRow) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let s = &row.state;
    let Some(started) = &s.started else {
        return out;
    };
    out.insert("tab:all".to_owned());
    out.insert(format!("tab:{}", s.status.as_str()));
    if s.timed_out && !s.is_over() {
        out.insert("tab:timed_out".to_owned());
    }
    out.insert(format!("order:{}", started.order_id));
    out.insert(format!("customer:{}", started.customer_id));
    out.insert(format!("product:{}", started.product_id));
    out.insert(format!("seller:{}", started.seller_org_id));
    if let Some(p) = &s.provider_org_id {
        out.insert(format!("provider:{p}"));
    }
    let active = matches!(s.status, DeliveryStatus::Executing | DeliveryStatus::Paused);
    for op in s.operators.values() {
        out.insert(format!("operator:{}", op.staff_id));
        if active {
            out.insert(format!("active:{}", op.staff_id));
        }
    }
    if s.queued.is_some() && !s.is_over() {
        out.insert("queued".to_owned());
    }
    if s.status == DeliveryStatus::Executing {
        if let (Some(node), Some(provider)) = (s.current_node(), &s.provider_org_id) {
            let role = node.node.role.as_deref().unwrap_or_default();
            if node.node.node_type == NodeType::ClaimOrder && !s.operators.contains_key(role) {
                out.insert(format!("claimable:{provider}:{role}"));
            }
        }
    }
    out
}

fn party_text(p: &Party) -> String {
    match p {
        Party::System => "system".to_owned(),
        Party::Customer(id) | Party::Staff(id) | Party::Admin(id) => id.clone(),
    }
}

fn log_item(r: &Record, e: &DeliveryEvent) -> LogItem {
    let mut item = LogItem {
        position: r.position,
        at: Timestamp::from_micros(r.recorded_at_micros),
        actor: r.actor.clone(),
        event_type: r.event_type.clone(),
        node_id: None,
        remark: None,
        reason: None,
        text: None,
        file_id: None,
        provider_only: false,
    };
    use DeliveryEvent as E;
    match e {
        E::DeliveryQueued(x) => {
            item.node_id = Some(x.node_id.clone());
            item.reason = Some(x.reason.as_str().to_owned());
        }
        E::NodeEntered(x) => item.node_id = Some(x.node_id.clone()),
        E::OperatorAssigned(x) => {
            item.node_id = Some(x.node_id.clone());
            item.remark = x.remark.clone();
            item.text = Some(x.staff_id.clone());
        }
        E::RequirementSubmitted(x) => item.node_id = Some(x.node_id.clone()),
        E::NodeCompleted(x) => {
            item.node_id = Some(x.node_id.clone());
            item.remark = x.note.clone();
            item.actor = party_text(&x.by);
        }
        E::NodeRejected(x) => {
            item.node_id = Some(x.node_id.clone());
            item.reason = Some(x.reason.clone());
            item.actor = party_text(&x.by);
        }
        E::NodeTimedOut(x) => item.node_id = Some(x.node_id.clone()),
        E::DeliveryPaused(x) => item.remark = Some(x.remark.clone()),
        E::DeliveryResumed(x) => item.remark = Some(x.remark.clone()),
        E::ProviderChanged(x) => item.remark = Some(x.remark.clone()),
        E::DeliveryCancelled(x) => item.remark = x.remark.clone(),
        E::MessagePosted(x) => {
            item.text = Some(x.text.clone());
            item.actor = party_text(&x.by);
        }
        E::NotePosted(x) => {
            item.text = Some(x.text.clone());
            item.actor = party_text(&x.by);
            item.provider_only = true;
        }
        E::FileAttached(x) => {
            item.node_id = x.node_id.clone();
            item.file_id = Some(x.file_id.clone());
            item.text = Some(x.name.clone());
            item.actor = party_text(&x.by);
        }
        _ => {}
    }
    item
}

/// The notifications an event causes, rendered against the project after it.
fn notifications(r: &Record, e: &DeliveryEvent, s: &DeliveryState) -> Vec<OutboxEntry> {
    let (trigger, node_id, due_at) = match e {
        DeliveryEvent::NodeEntered(x) => (NotifyTrigger::Entered, &x.node_id, x.due_at),
        DeliveryEvent::NodeTimedOut(x) => (NotifyTrigger::TimedOut, &x.node_id, Some(x.due_at)),
        _ => return Vec::new(),
    };
    let Some(started) = &s.started else {
        return Vec::new();
    };
    let Some(node) = s.flow().iter().find(|f| &f.node.id == node_id) else {
        return Vec::new();
    };
    node.node
        .notifications
        .iter()
        .filter(|n| n.trigger == trigger)
        .filter_map(|n| {
            let (kind, id) = match n.recipient {
                Recipient::Customer => ("customer", started.customer_id.clone()),
                Recipient::Operator => match node
                    .node
                    .role
                    .as_ref()
                    .and_then(|role| s.operators.get(role))
                {
                    Some(op) => ("staff", op.staff_id.clone()),
                    None => ("provider_org", s.provider_org_id.clone()?),
                },
                Recipient::ProviderAdmin => ("provider_org", s.provider_org_id.clone()?),
                Recipient::Seller => ("seller_org", started.seller_org_id.clone()),
            };
            Some(OutboxEntry {
                position: r.position,
                delivery_id: started.delivery_id.clone(),
                order_id: started.order_id.clone(),
                recipient_kind: kind.to_owned(),
                recipient_id: id,
                trigger: match trigger {
                    NotifyTrigger::Entered => "entered",
                    NotifyTrigger::TimedOut => "timed_out",
                }
                .to_owned(),
                node_id: node_id.clone(),
                template: n.template.clone(),
                node_name: node.node.name.clone(),
                due_at,
                at: Timestamp::from_micros(r.recorded_at_micros),
            })
        })
        .collect()
}

/// The deliveries model.
#[derive(Debug)]
pub struct Deliveries;

impl ReadModel for Deliveries {
    const NAME: &'static str = "deliveries";
    const VERSION: u32 = 1;
    type State = DeliveriesState;

    fn apply(state: &mut DeliveriesState, r: &Record) -> Result<(), ApplyError> {
        let Some(id) = r.stream_id.strip_prefix("delivery-") else {
            return Ok(());
        };
        let e: DeliveryEvent = decode(r)?;
        let row = state
            .deliveries
            .entry(id.to_owned())
            .or_insert_with(|| DeliveryRow {
                id: id.to_owned(),
                ..DeliveryRow::default()
            });
        let before = facets(row);
        let key_before = row.list_key();
        row.state = Delivery::evolve(std::mem::take(&mut row.state), &e);
        row.version = r.version;
        row.log.push(log_item(r, &e));
        let after = facets(row);
        let key = row.list_key();
        let outbox = notifications(r, &e, &row.state);
        let order_id = row.state.started.as_ref().map(|s| s.order_id.clone());
        let started = order_id.is_some();
        if let Some(order_id) = order_id {
            state.by_order.insert(order_id, id.to_owned());
        }
        if let DeliveryEvent::FileAttached(f) = &e {
            state.files.insert(
                f.file_id.clone(),
                FileRow {
                    delivery_id: id.to_owned(),
                    name: f.name.clone(),
                    size: f.size,
                    sha256: f.sha256.clone(),
                    content_type: f.content_type.clone(),
                    node_id: f.node_id.clone(),
                },
            );
        }
        for gone in before.iter() {
            if let Some(keys) = state.index.get_mut(gone) {
                keys.remove(&key_before);
                if keys.is_empty() {
                    state.index.remove(gone);
                }
            }
        }
        for facet in after {
            state.index.entry(facet).or_default().insert(key.clone());
        }
        state.by_key.remove(&key_before);
        if started {
            state.by_key.insert(key, id.to_owned());
        }
        if !outbox.is_empty() {
            state.outbox.insert(r.position, outbox);
        }
        Ok(())
    }
}

#[cfg(test)]
mod outbox_tests {
    use super::*;

    #[test]
    fn a_notification_is_rendered_in_one_pass_with_the_deadline_in_the_given_zone() {
        let entry = OutboxEntry {
            position: 7,
            delivery_id: "dlv_1".into(),
            order_id: "ord_1".into(),
            recipient_kind: "customer".into(),
            recipient_id: "cus_1".into(),
            trigger: "entered".into(),
            node_id: "start".into(),
            template: "{order_id}/{delivery_id}: {node_name} by {due_at} {unknown} {".into(),
            node_name: "say {order_id}".into(),
            due_at: Some(Timestamp::from_micros(0)),
            at: Timestamp::from_micros(0),
        };
        assert_eq!(
            entry.text(|_| "1970-01-01T08:00:00+08:00".into()),
            "ord_1/dlv_1: say {order_id} by 1970-01-01T08:00:00+08:00 {unknown} {"
        );
    }
}
