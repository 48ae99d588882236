//! Delivery projects walked to every state: each paid order of a manual product gets a
//! [`Fate`] when it is placed — completed, rejected once by the customer then completed,
//! confirmed automatically, never started (the 15-day `cancel_and_refund` timeout of
//! `standard_manual`: cancelled, refunded by the system), stuck before the requirement,
//! paused by the provider, cancelled by a refund, or slow (still in progress at some node when
//! the run ends). The provider-delivered product's maxima queue projects for capacity.
//!
//! Each step reads every open project through the API and does at most one action on it,
//! one project after the other with the policies settled in between, so assignments and
//! queue drains happen in the same order on every run.

use futures::{StreamExt, TryStreamExt};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

use super::actors::text;
use super::client::{Client, Payload};
use super::trading::chance;
use super::{DemoError, World, CONCURRENT_REQUESTS_MAX};

/// What a project will go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Complete,
    RejectOnce,
    AutoConfirm,
    /// Nobody starts the implementation (`standard_manual` only).
    Stall,
    NoRequirement,
    /// Paused by the provider and left paused.
    Pause,
    /// Paused by the provider, resumed some days later.
    PauseResume,
    RefundDuring,
    Slow,
}

/// Chance per step that a project moves on, per-mille.
const PACE_PERMILLE: u32 = 450;
const SLOW_PACE_PERMILLE: u32 = 60;
/// Chance per step that a paused project is resumed, per-mille.
const RESUME_PERMILLE: u32 = 100;
/// A contract the `contract` flow's upload node needs.
const CONTRACT_PDF: &[u8] = b"%PDF-1.4\n% demo contract\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

impl Fate {
    /// A fate for a project on `template`; a project of a product with providers' maxima
    /// (`capped`) is only ever completed (some after a rejection), so its providers' slots
    /// come back and its queue drains.
    pub fn draw(rng: &mut StdRng, template: Option<&str>, capped: bool) -> Fate {
        let fate = match rng.random_range(0..1000) {
            0..450 => Fate::Complete,
            450..570 => Fate::RejectOnce,
            570..670 => Fate::AutoConfirm,
            670..760 => Fate::Stall,
            760..810 => Fate::NoRequirement,
            810..840 => Fate::Pause,
            840..870 => Fate::PauseResume,
            870..930 => Fate::RefundDuring,
            _ => Fate::Slow,
        };
        match fate {
            Fate::RejectOnce => Fate::RejectOnce,
            _ if capped => Fate::Complete,
            Fate::Stall if template != Some("tpl_standard_manual") => Fate::Complete,
            other => other,
        }
    }
}

#[derive(Debug, Default)]
pub struct Deliveries {
    pub tracked: Vec<Tracked>,
}

#[derive(Debug)]
pub struct Tracked {
    pub order: usize,
    pub id: Option<String>,
    /// The last status read.
    pub status: String,
    pub rejected: bool,
    pub paused_once: bool,
}

/// One action on a project.
enum Act {
    Post {
        path: String,
        token: String,
        body: Value,
    },
    /// Upload a file as `token`, then complete `node` with it.
    UploadThenComplete {
        delivery: String,
        node: String,
        token: String,
    },
    /// Reject `node` as the customer; if it cannot be rejected, complete it.
    RejectElseComplete {
        delivery: String,
        node: String,
        token: String,
    },
}

impl World {
    /// Starts following the project of a just-paid manual order.
    pub(super) fn track_delivery(&mut self, order: usize) {
        self.deliveries.tracked.push(Tracked {
            order,
            id: None,
            status: "executing".into(),
            rejected: false,
            paused_once: false,
        });
    }

    pub(super) async fn delivery_step(&mut self) -> Result<(), DemoError> {
        let open: Vec<usize> = (0..self.deliveries.tracked.len())
            .filter(|t| {
                matches!(
                    self.deliveries.tracked[*t].status.as_str(),
                    "executing" | "paused"
                )
            })
            .collect();
        let views = self.read_deliveries(&open).await?;
        for (t, view) in open.into_iter().zip(views) {
            let Some(view) = view else { continue };
            let status = view["status"].as_str().unwrap_or("").to_owned();
            if status != self.deliveries.tracked[t].status {
                match status.as_str() {
                    "completed" => {
                        self.count("deliveries completed");
                        let order = self.deliveries.tracked[t].order;
                        self.plan_review(order);
                    }
                    "cancelled" => self.count("deliveries cancelled"),
                    _ => {}
                }
                self.deliveries.tracked[t].status = status.clone();
            }
            let Some(act) = self.next_act(t, &view) else {
                continue;
            };
            self.perform(t, act).await?;
            self.client.settle().await?;
        }
        Ok(())
    }

    /// The current state of the tracked projects `open` (None: not started yet).
    pub(super) async fn read_deliveries(
        &mut self,
        open: &[usize],
    ) -> Result<Vec<Option<Value>>, DemoError> {
        for t in open {
            if self.deliveries.tracked[*t].id.is_none() {
                let order = &self.trade.orders[self.deliveries.tracked[*t].order];
                let view = self
                    .client
                    .get(&format!("/v1/orders/{}", order.id), &self.platform)
                    .await?;
                self.deliveries.tracked[*t].id = view["delivery_id"].as_str().map(str::to_owned);
            }
        }
        let client = self.client.clone();
        let platform = self.platform.clone();
        let ids: Vec<Option<String>> = open
            .iter()
            .map(|t| self.deliveries.tracked[*t].id.clone())
            .collect();
        futures::stream::iter(ids)
            .map(|id| {
                let c: Client = client.clone();
                let platform = platform.clone();
                async move {
                    match id {
                        Some(id) => c
                            .get(&format!("/v1/deliveries/{id}"), &platform)
                            .await
                            .map(Some),
                        None => Ok(None),
                    }
                }
            })
            .buffered(CONCURRENT_REQUESTS_MAX)
            .try_collect()
            .await
    }

    /// What the project's parties do next, if anything this step.
    fn next_act(&mut self, t: usize, view: &Value) -> Option<Act> {
        let tracked = &self.deliveries.tracked[t];
        let order = &self.trade.orders[tracked.order];
        let fate = order.fate?;
        let id = view["id"].as_str()?.to_owned();
        let customer = self.actors.customers[order.customer].token.clone();
        let provider_admin = view["provider_org_id"]
            .as_str()
            .and_then(|org| self.actors.admin_of(org))
            .map(str::to_owned);
        if view["status"] == "paused" {
            return (fate == Fate::PauseResume && chance(&mut self.rng, RESUME_PERMILLE))
                .then(|| {
                    provider_admin.map(|token| Act::Post {
                        path: format!("/v1/deliveries/{id}/resume"),
                        token,
                        body: json!({"remark": "the customer's data centre is reachable again"}),
                    })
                })
                .flatten();
        }
        if view["status"] != "executing" || !view["queued"].is_null() {
            return None;
        }
        let node = &view["current_node"];
        let node_id = node["id"].as_str()?.to_owned();
        let pace = if fate == Fate::Slow {
            SLOW_PACE_PERMILLE
        } else {
            PACE_PERMILLE
        };
        if !chance(&mut self.rng, pace) {
            return None;
        }
        let path = |action: &str| format!("/v1/deliveries/{id}/nodes/{node_id}/{action}");
        let operator = view["operator"]["staff_id"]
            .as_str()
            .and_then(|s| self.actors.staff_token(s))
            .map(str::to_owned);
        match (node["type"].as_str()?, node["side"].as_str()) {
            ("submit_requirement", _) if fate == Fate::NoRequirement => None,
            ("submit_requirement", _) => Some(Act::Post {
                path: path("submit"),
                token: customer,
                body: json!({"contact_name": "Wang Fang", "phone": "13800000000",
                    "email": "wang.fang@example.com", "address": "100 Nanjing Road, Shanghai",
                    "description": "please set it up for our finance team"}),
            }),
            ("generic" | "confirm", Some("provider")) => {
                if fate == Fate::RefundDuring
                    || (fate == Fate::Stall && node_id == "start_implementation")
                {
                    return None;
                }
                if matches!(fate, Fate::Pause | Fate::PauseResume)
                    && !self.deliveries.tracked[t].paused_once
                {
                    self.deliveries.tracked[t].paused_once = true;
                    return provider_admin.map(|token| Act::Post {
                        path: format!("/v1/deliveries/{id}/pause"),
                        token,
                        body: json!({"remark": "waiting for the customer's firewall change"}),
                    });
                }
                let token = operator?;
                if node_id == "upload_contract" {
                    return Some(Act::UploadThenComplete {
                        delivery: id,
                        node: node_id,
                        token,
                    });
                }
                let body = if node_id == "implementation_complete" {
                    json!({"note": "done", "delivery_info": "console https://console.example.com, user admin"})
                } else {
                    json!({"note": "done"})
                };
                Some(Act::Post {
                    path: path("complete"),
                    token,
                    body,
                })
            }
            ("complete_project", _) if fate == Fate::AutoConfirm => None,
            ("confirm", Some("customer")) | ("complete_project", _) => {
                if fate == Fate::RejectOnce && !self.deliveries.tracked[t].rejected {
                    self.deliveries.tracked[t].rejected = true;
                    return Some(Act::RejectElseComplete {
                        delivery: id,
                        node: node_id,
                        token: customer,
                    });
                }
                Some(Act::Post {
                    path: path("complete"),
                    token: customer,
                    body: json!({}),
                })
            }
            _ => None,
        }
    }

    async fn perform(&mut self, t: usize, act: Act) -> Result<(), DemoError> {
        let answer = match act {
            Act::Post { path, token, body } => self.client.try_post(&path, &token, &body).await?,
            Act::UploadThenComplete {
                delivery,
                node,
                token,
            } => {
                let file = self
                    .client
                    .ok(
                        axum::http::Method::POST,
                        &format!("/v1/deliveries/{delivery}/files?name=contract.pdf"),
                        &token,
                        Payload::Bytes(CONTRACT_PDF),
                    )
                    .await?;
                let body =
                    json!({"note": "signed contract attached", "file_ids": [text(&file, "id")?]});
                self.client
                    .try_post(
                        &format!("/v1/deliveries/{delivery}/nodes/{node}/complete"),
                        &token,
                        &body,
                    )
                    .await?
            }
            Act::RejectElseComplete {
                delivery,
                node,
                token,
            } => {
                let base = format!("/v1/deliveries/{delivery}/nodes/{node}");
                let rejected = self
                    .client
                    .try_post(
                        &format!("{base}/reject"),
                        &token,
                        &json!({"reason": "the result does not match the requirement"}),
                    )
                    .await?;
                if rejected.status.is_success() {
                    self.count("customer rejections");
                    rejected
                } else {
                    self.deliveries.tracked[t].rejected = false;
                    self.client
                        .try_post(&format!("{base}/complete"), &token, &json!({}))
                        .await?
                }
            }
        };
        if !answer.status.is_success() {
            let code = answer.code().to_owned();
            *self
                .trade
                .refused
                .entry(format!("delivery: {code}"))
                .or_default() += 1;
        }
        Ok(())
    }

    /// The last status of every tracked project, counted.
    pub(super) fn delivery_states(&self) -> std::collections::BTreeMap<String, u32> {
        let mut states = std::collections::BTreeMap::new();
        for t in &self.deliveries.tracked {
            *states.entry(t.status.clone()).or_default() += 1;
        }
        states
    }
}
