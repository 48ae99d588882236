//! What the orgs sell: products of every delivery kind (automatic `saas` / `image` / `api`;
//! `manual` on each of the five public flow templates and on a private template copied from
//! a preset, edited and published), one product delivered by two other orgs with weights and
//! maxima, specs with trials; promotions (live, ended, real-name only); coupon campaigns
//! (claimed in the store, sent by the seller, auto-granted on purchase).

use serde_json::{json, Value};

use super::actors::text;
use super::{DemoError, World};

/// A spec: id, name, duration, unit, price, trial.
type SpecDef = (&'static str, &'static str, u32, &'static str, i64, bool);

/// A product of the demo.
struct ProductDef {
    org: usize,
    code: &'static str,
    name: &'static str,
    category: &'static str,
    delivery: &'static str,
    /// A public template id, [`PRIVATE_TEMPLATE`] or none (automatic).
    template: Option<&'static str>,
    warranty_days: u32,
    specs: &'static [SpecDef],
    /// Relative share of the orders.
    weight: u32,
}

/// Stands for the private template the third org makes.
const PRIVATE_TEMPLATE: &str = "private";

const PRODUCTS: [ProductDef; 11] = [
    ProductDef {
        org: 0,
        code: "VM",
        name: "Cloud VM",
        category: "compute",
        delivery: "saas",
        template: None,
        warranty_days: 0,
        specs: &[
            ("m", "monthly", 1, "month", 5_000, false),
            ("y", "yearly", 1, "year", 50_000, false),
            ("t", "trial", 1, "month", 0, true),
        ],
        weight: 30,
    },
    ProductDef {
        org: 0,
        code: "OSS",
        name: "Object Storage",
        category: "storage",
        delivery: "api",
        template: None,
        warranty_days: 0,
        specs: &[
            ("s", "100 GB", 1, "month", 2_000, false),
            ("l", "500 GB", 1, "month", 8_000, false),
        ],
        weight: 20,
    },
    ProductDef {
        org: 0,
        code: "SETUP",
        name: "Setup service",
        category: "services",
        delivery: "manual",
        template: Some("tpl_standard_manual"),
        warranty_days: 0,
        specs: &[("std", "standard", 1, "once", 30_000, false)],
        weight: 5,
    },
    ProductDef {
        org: 0,
        code: "CONSULT",
        name: "Basic consulting",
        category: "services",
        delivery: "manual",
        template: Some("tpl_basic"),
        warranty_days: 0,
        specs: &[("std", "one session", 1, "once", 20_000, false)],
        weight: 3,
    },
    ProductDef {
        org: 1,
        code: "SECIMG",
        name: "Security image",
        category: "security",
        delivery: "image",
        template: None,
        warranty_days: 0,
        specs: &[
            ("lite", "lite, monthly", 1, "month", 9_900, false),
            ("std", "standard, yearly", 1, "year", 120_000, false),
        ],
        weight: 15,
    },
    ProductDef {
        org: 1,
        code: "CMIG",
        name: "Contract migration",
        category: "services",
        delivery: "manual",
        template: Some("tpl_contract"),
        warranty_days: 0,
        specs: &[("std", "up to 1 TB", 1, "once", 80_000, false)],
        weight: 2,
    },
    ProductDef {
        org: 1,
        code: "CARE",
        name: "Warranty care",
        category: "services",
        delivery: "manual",
        template: Some("tpl_double_check"),
        warranty_days: 7,
        specs: &[("std", "standard", 1, "once", 50_000, false)],
        weight: 2,
    },
    ProductDef {
        org: 1,
        code: "APP",
        name: "App build, step by step",
        category: "services",
        delivery: "manual",
        template: Some("tpl_step_by_step"),
        warranty_days: 0,
        specs: &[("std", "small app", 1, "once", 300_000, false)],
        weight: 1,
    },
    ProductDef {
        org: 2,
        code: "DAPI",
        name: "Data API",
        category: "data",
        delivery: "api",
        template: None,
        warranty_days: 0,
        specs: &[
            ("m", "monthly", 1, "month", 3_000, false),
            ("y", "yearly", 1, "year", 30_000, false),
            ("t", "trial", 1, "month", 0, true),
        ],
        weight: 20,
    },
    ProductDef {
        org: 2,
        code: "MMIG",
        name: "Managed migration",
        category: "services",
        delivery: "manual",
        template: Some("tpl_basic"),
        warranty_days: 0,
        specs: &[("std", "standard", 1, "once", 45_000, false)],
        weight: 2,
    },
    ProductDef {
        org: 2,
        code: "DESIGN",
        name: "Custom design",
        category: "design",
        delivery: "manual",
        template: Some(PRIVATE_TEMPLATE),
        warranty_days: 0,
        specs: &[("std", "one design", 1, "once", 60_000, false)],
        weight: 2,
    },
];
/// The product delivered by other orgs than its seller: (index, [(org, weight, max_active)]).
const PROVIDED: (usize, [(usize, u32, u32); 2]) = (9, [(0, 60, 3), (1, 40, 2)]);
/// The product sold through a distributor too, and its commission.
const DISTRIBUTED: (usize, u32) = (8, 30);
/// Share of the distributed product's orders that come through the distributor, per-mille.
pub const DISTRIBUTOR_PERMILLE: u32 = 150;

#[derive(Debug, Default)]
pub struct Catalogue {
    pub products: Vec<Product>,
    /// The claimable store campaign.
    pub claimable: String,
    /// Every campaign id.
    pub campaigns: Vec<String>,
    pub template: String,
}

#[derive(Debug)]
pub struct Product {
    pub id: String,
    pub org: usize,
    pub manual: bool,
    pub template: Option<&'static str>,
    /// Non-trial specs, cheapest first (the upgrade path), then the trial spec if any.
    pub specs: Vec<Spec>,
    pub weight: u32,
    pub distributed: bool,
    /// Delivered by providers with maxima.
    pub capped: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub id: &'static str,
    pub price_cents: i64,
    pub trial: bool,
    pub once: bool,
}

impl Catalogue {
    /// A product drawn by the products' weights.
    pub fn pick(&self, rng: &mut rand::rngs::StdRng) -> usize {
        let total: u32 = self.products.iter().map(|p| p.weight).sum();
        let mut pick = rand::Rng::random_range(rng, 0..total.max(1));
        self.products
            .iter()
            .position(|p| {
                let hit = pick < p.weight;
                pick = pick.saturating_sub(p.weight);
                hit
            })
            .unwrap_or(0)
    }
}

impl Product {
    pub fn trial(&self) -> Option<&Spec> {
        self.specs.iter().find(|s| s.trial)
    }

    pub fn paid_specs(&self) -> impl Iterator<Item = &Spec> {
        self.specs.iter().filter(|s| !s.trial)
    }
}

impl World {
    pub(super) async fn setup_catalogue(&mut self) -> Result<(), DemoError> {
        self.catalogue.template = self.private_template().await?;
        for (index, def) in PRODUCTS.iter().enumerate() {
            let admin = self.actors.orgs[def.org].admin.clone();
            let template = match def.template {
                Some(PRIVATE_TEMPLATE) => Some(self.catalogue.template.clone()),
                other => other.map(str::to_owned),
            };
            let specs: Vec<Value> = def
                .specs
                .iter()
                .map(|(id, name, duration, unit, price, trial)| {
                    json!({"id": id, "name": name, "duration": duration, "unit": unit,
                        "price_cents": price, "trial": trial})
                })
                .collect();
            let mut body = json!({"code": def.code, "name": def.name, "category": def.category,
                "delivery": def.delivery, "delivery_days": if def.template.is_some() { 10 } else { 0 },
                "warranty_days": def.warranty_days, "specs": specs});
            if let Some(t) = template {
                body["flow_template_id"] = json!(t);
            }
            let id = text(
                &self.client.post("/v1/products", &admin, &body).await?,
                "id",
            )?;
            self.client
                .post(&format!("/v1/products/{id}/submit"), &admin, &json!({}))
                .await?;
            self.client
                .post(
                    &format!("/v1/products/{id}/approve"),
                    &self.platform,
                    &json!({}),
                )
                .await?;
            if index == PROVIDED.0 {
                let providers: Vec<Value> = PROVIDED
                    .1
                    .iter()
                    .map(|(org, weight, max)| {
                        json!({"org_id": self.actors.orgs[*org].id, "weight": weight, "max_active": max})
                    })
                    .collect();
                self.client
                    .put(
                        &format!("/v1/products/{id}/providers"),
                        &admin,
                        &json!({ "providers": providers }),
                    )
                    .await?;
            }
            if index == DISTRIBUTED.0 {
                self.client
                    .post(
                        &format!("/v1/products/{id}/distribution"),
                        &admin,
                        &json!({"commission_percent": DISTRIBUTED.1}),
                    )
                    .await?;
            }
            let mut specs: Vec<Spec> = def
                .specs
                .iter()
                .map(|(id, _, _, unit, price, trial)| Spec {
                    id,
                    price_cents: *price,
                    trial: *trial,
                    once: *unit == "once",
                })
                .collect();
            specs.sort_by_key(|s| (s.trial, s.price_cents));
            self.catalogue.products.push(Product {
                id,
                org: def.org,
                manual: def.template.is_some(),
                template: def.template,
                specs,
                weight: def.weight,
                distributed: index == DISTRIBUTED.0,
                capped: index == PROVIDED.0,
            });
        }
        self.promotions().await?;
        self.campaigns().await
    }

    /// The third org copies `tpl_basic`, edits the draft into a design flow (a container
    /// with a rejectable review, notifications) and publishes it.
    async fn private_template(&mut self) -> Result<String, DemoError> {
        let admin = self.actors.orgs[2].admin.clone();
        let copy = self
            .client
            .post("/v1/flow-templates/tpl_basic/copy", &admin, &json!({}))
            .await?;
        let id = text(&copy, "id")?;
        let node = |id: &str, kind: &str, name: &str, extra: Value| {
            let mut n = json!({"id": id, "type": kind, "name": name});
            if let (Some(n), Some(e)) = (n.as_object_mut(), extra.as_object()) {
                n.extend(e.clone());
            }
            n
        };
        let nodes = json!([
            node(
                "assign_provider",
                "assign_provider",
                "assign provider",
                json!({})
            ),
            node(
                "submit_requirement",
                "submit_requirement",
                "design brief",
                json!({})
            ),
            node(
                "assign_order",
                "assign_order",
                "assign a designer",
                json!({"role": "designer", "assign_rule": "provider_first"})
            ),
            node(
                "design",
                "container",
                "design",
                json!({"children": [
                    node("draft", "generic", "draft the design", json!({"side": "provider", "role": "designer",
                        "timeout": {"days": 3, "unit": "calendar_days", "action": "none"},
                        "notifications": [
                            {"recipient": "customer", "trigger": "entered", "template": "{node_name} of {order_id} started, due {due_at}"},
                            {"recipient": "provider_admin", "trigger": "timed_out", "template": "{node_name} of {delivery_id} is late"}
                        ]})),
                    node("review", "confirm", "review the design", json!({"side": "customer", "rejectable": true})),
                ]})
            ),
            node(
                "accept",
                "complete_project",
                "accept the design",
                json!({"rejectable": true, "timeout": {"days": 7, "unit": "calendar_days", "action": "advance"}})
            ),
        ]);
        self.client
            .put(
                &format!("/v1/flow-templates/{id}"),
                &admin,
                &json!({"name": "Design with review", "nodes": nodes}),
            )
            .await?;
        self.client
            .post(
                &format!("/v1/flow-templates/{id}/publish"),
                &admin,
                &json!({}),
            )
            .await?;
        Ok(id)
    }

    /// A live discount on new Cloud VMs, an ended reduction on storage, a live reduction
    /// for real-name verified customers on the Data API.
    async fn promotions(&mut self) -> Result<(), DemoError> {
        let start = self.time(self.now);
        let far = self.time(self.now.plus_days(self.opts.weeks * 7 + 90));
        let ten_days = self.time(self.now.plus_days(10));
        let product = |i: usize| self.catalogue.products[i].id.clone();
        let promotions = [
            (
                0,
                json!({"product_id": product(0), "name": "New VM 10% off", "kind": "discount", "pay_permille": 900,
                "starts_at": start, "ends_at": far, "spec_ids": [], "conditions": {"order_types": ["new"]}}),
            ),
            (
                1,
                json!({"product_id": product(1), "name": "Storage launch week", "kind": "reduce", "reduce_cents": 500,
                "starts_at": start, "ends_at": ten_days, "spec_ids": [], "conditions": {}}),
            ),
            (
                8,
                json!({"product_id": product(8), "name": "Verified customers save", "kind": "reduce", "reduce_cents": 300,
                "starts_at": start, "ends_at": far, "spec_ids": ["m", "y"], "conditions": {"real_name_only": true}}),
            ),
        ];
        for (index, body) in promotions {
            let admin = self.actors.orgs[PRODUCTS[index].org].admin.clone();
            let id = text(
                &self.client.post("/v1/promotions", &admin, &body).await?,
                "id",
            )?;
            self.client
                .post(&format!("/v1/promotions/{id}/publish"), &admin, &json!({}))
                .await?;
        }
        Ok(())
    }

    /// A claimable store campaign, a campaign the seller sends to chosen customers, and one
    /// auto-granted on purchase of the Data API.
    async fn campaigns(&mut self) -> Result<(), DemoError> {
        let from = self.time(self.now);
        let until = self.time(self.now.plus_days(365));
        let purchased_until = self.time(self.now.plus_days(self.opts.weeks * 7));
        let claimable = json!({"name": "Spring sale", "scope": "store", "product_ids": [], "kind": "threshold",
            "threshold_cents": 8_000, "reduce_cents": 1_000, "per_customer_limit": 2,
            "valid_from": from, "valid_until": until, "total_quantity": 1_000_000,
            "scenarios": ["new", "renewal", "upgrade"], "show_in_store": true});
        let sent = json!({"name": "Loyal customers", "scope": "products", "product_ids": [self.catalogue.products[4].id],
            "kind": "discount", "pay_permille": 850, "per_customer_limit": 1,
            "valid_from": from, "valid_until": until, "total_quantity": 1_000,
            "scenarios": ["new", "renewal"], "show_in_store": false});
        let auto = json!({"name": "Thank you for your purchase", "scope": "store", "product_ids": [], "kind": "threshold",
            "threshold_cents": 5_000, "reduce_cents": 800, "per_customer_limit": 1,
            "valid_from": from, "valid_until": until, "total_quantity": 1_000_000,
            "scenarios": ["new", "renewal", "upgrade"], "show_in_store": false,
            "auto_grant": {"product_ids": [self.catalogue.products[8].id], "purchased_from": from,
                "purchased_until": purchased_until}});
        for (org, body) in [(0, claimable), (1, sent), (2, auto)] {
            let admin = self.actors.orgs[org].admin.clone();
            let id = text(
                &self
                    .client
                    .post("/v1/coupon-campaigns", &admin, &body)
                    .await?,
                "id",
            )?;
            self.catalogue.campaigns.push(id);
        }
        self.catalogue.claimable = self.catalogue.campaigns[0].clone();
        // The seller sends its campaign to its first customers.
        let chosen: Vec<&str> = self
            .actors
            .customers
            .iter()
            .step_by(4)
            .take(60)
            .map(|c| c.id.as_str())
            .collect();
        self.client
            .post(
                &format!("/v1/coupon-campaigns/{}/grant", self.catalogue.campaigns[1]),
                &self.actors.orgs[1].admin,
                &json!({ "customer_ids": chosen }),
            )
            .await?;
        Ok(())
    }
}
