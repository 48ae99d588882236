//! SPEC.md §11 "a rebuilt projection must equal the incrementally built one", for every model
//! of `projections::registry::MODELS` (new models are covered without an edit here): random
//! command histories go through the real routes of the in-process app — orgs, principals,
//! staff, flow templates, automatic and manual products (on the public presets), promotions,
//! coupon campaigns and claims, orders of every type (with coupons, vouchers, price changes,
//! cancellations), refunds (customer and seller, approved and rejected by seller and
//! platform), invoices, reviews and replies, delivery node actions, page-view batches (valid
//! ones recorded whole, invalid ones refused whole), and simulated clock
//! advances that fire deadlines (voids, review defaults, refund auto-approvals, delivery
//! timeouts); commands may be refused, as in real life. At a random step the models may be
//! restarted from their checkpoints, and the restarted ones continue from what they loaded.
//! At the end every live model — and every restarted one — equals its rebuild from scratch
//! at the same position in its checkpoint encoding, byte for byte.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use common::{Api, ADMIN};
use projections::ProjectionControl;
use proptest::prelude::*;
use serde_json::{json, Value};

/// Customers a history starts with; `NewCustomer` adds up to [`CUSTOMERS_MAX`].
const CUSTOMERS_START: usize = 2;
const CUSTOMERS_MAX: usize = 4;
/// Restarts of the models from their checkpoints in one history.
const RESTARTS_MAX: usize = 2;
/// Staff members a history may add to the one it starts with.
const STAFF_MAX: usize = 3;
const WAIT: Duration = Duration::from_secs(5);

/// The products of every history: automatic (with a trial spec), and manual on two presets.
const PRODUCTS: [&str; 3] = ["auto", "standard_manual", "basic"];

#[derive(Debug, Clone)]
enum Step {
    NewCustomer,
    NewStaff {
        max_active: u8,
    },
    StaffAccepting {
        staff: u8,
        accepting: bool,
    },
    Template {
        publish: bool,
    },
    Promotion {
        discount: bool,
        starts_in_h: u8,
        hours: u8,
    },
    PublishPromotion {
        promotion: u8,
    },
    DeletePromotion {
        promotion: u8,
    },
    Campaign {
        quantity: u8,
        threshold: bool,
    },
    Claim {
        campaign: u8,
        customer: u8,
    },
    VoidCampaign {
        campaign: u8,
    },
    Place {
        customer: u8,
        product: u8,
        order_type: u8,
        quantity: u8,
        coupon: bool,
    },
    ChangePrice {
        order: u8,
        cents: u16,
    },
    Pay {
        order: u8,
        voucher_quarters: u8,
    },
    Cancel {
        order: u8,
    },
    RequestRefund {
        order: u8,
        part: bool,
    },
    SellerRefund {
        order: u8,
        remaining: bool,
        keep: bool,
    },
    DecideRefund {
        refund: u8,
        approve: bool,
        platform: bool,
    },
    RequestInvoice {
        order: u8,
    },
    DecideInvoice {
        invoice: u8,
        issue: bool,
    },
    Review {
        order: u8,
        quality: u8,
    },
    Reply {
        review: u8,
    },
    Delivery {
        order: u8,
        action: u8,
    },
    PageViews {
        count: u8,
        visitor: u8,
        hours_ago: u8,
        fault: u8,
    },
    Advance {
        hours: u16,
    },
    Restart,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => Just(Step::NewCustomer),
        1 => (0u8..4).prop_map(|max_active| Step::NewStaff { max_active }),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(staff, accepting)| Step::StaffAccepting { staff, accepting }),
        1 => any::<bool>().prop_map(|publish| Step::Template { publish }),
        1 => (any::<bool>(), 0u8..48, 1u8..200).prop_map(|(discount, starts_in_h, hours)| Step::Promotion { discount, starts_in_h, hours }),
        1 => any::<u8>().prop_map(|promotion| Step::PublishPromotion { promotion }),
        1 => any::<u8>().prop_map(|promotion| Step::DeletePromotion { promotion }),
        1 => (1u8..4, any::<bool>()).prop_map(|(quantity, threshold)| Step::Campaign { quantity, threshold }),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(campaign, customer)| Step::Claim { campaign, customer }),
        1 => any::<u8>().prop_map(|campaign| Step::VoidCampaign { campaign }),
        6 => (any::<u8>(), 0u8..3, 0u8..6, 1u8..3, any::<bool>()).prop_map(|(customer, product, order_type, quantity, coupon)| Step::Place { customer, product, order_type, quantity, coupon }),
        1 => (any::<u8>(), any::<u16>()).prop_map(|(order, cents)| Step::ChangePrice { order, cents }),
        5 => (any::<u8>(), 0u8..5).prop_map(|(order, voucher_quarters)| Step::Pay { order, voucher_quarters }),
        1 => any::<u8>().prop_map(|order| Step::Cancel { order }),
        2 => (any::<u8>(), any::<bool>()).prop_map(|(order, part)| Step::RequestRefund { order, part }),
        1 => (any::<u8>(), any::<bool>(), any::<bool>()).prop_map(|(order, remaining, keep)| Step::SellerRefund { order, remaining, keep }),
        2 => (any::<u8>(), any::<bool>(), any::<bool>()).prop_map(|(refund, approve, platform)| Step::DecideRefund { refund, approve, platform }),
        1 => any::<u8>().prop_map(|order| Step::RequestInvoice { order }),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(invoice, issue)| Step::DecideInvoice { invoice, issue }),
        1 => (any::<u8>(), 1u8..6).prop_map(|(order, quality)| Step::Review { order, quality }),
        1 => any::<u8>().prop_map(|review| Step::Reply { review }),
        5 => (any::<u8>(), any::<u8>()).prop_map(|(order, action)| Step::Delivery { order, action }),
        2 => (1u8..8, any::<u8>(), 0u8..72, any::<u8>()).prop_map(|(count, visitor, hours_ago, fault)| Step::PageViews { count, visitor, hours_ago, fault }),
        2 => (1u16..24 * 16).prop_map(|hours| Step::Advance { hours }),
        1 => Just(Step::Restart),
    ]
}

/// An order placed in the history.
struct Placed {
    id: String,
    customer: usize,
    product: usize,
}

/// Everything a history has made so far, to pick the targets of later steps from.
struct World {
    api: Api,
    seller: String,
    org: String,
    products: Vec<String>,
    customers: Vec<String>,
    /// Staff id → token.
    staff: BTreeMap<String, String>,
    promotions: Vec<String>,
    campaigns: Vec<String>,
    /// (customer index, coupon id).
    coupons: Vec<(usize, String)>,
    orders: Vec<Placed>,
    refunds: Vec<String>,
    invoices: Vec<String>,
    reviews: Vec<String>,
    /// Position of the last acknowledged write (read-your-writes).
    last: u64,
    /// Model sets restarted from their checkpoints, following the log beside the app's.
    restarted: Vec<projections::registry::Running>,
}

fn pick<T>(items: &[T], i: u8) -> Option<&T> {
    (!items.is_empty()).then(|| &items[usize::from(i) % items.len()])
}

fn string(v: &Value, field: &str) -> String {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field}: {v}"))
        .to_owned()
}

impl World {
    async fn new() -> World {
        let api = Api::new().await;
        let (org, _) = api.create_org("Acme").await;
        let (_, seller) = api.create_principal("isv_admin", Some(&org)).await;
        let mut w = World {
            api,
            seller,
            org,
            products: Vec::new(),
            customers: Vec::new(),
            staff: BTreeMap::new(),
            promotions: Vec::new(),
            campaigns: Vec::new(),
            coupons: Vec::new(),
            orders: Vec::new(),
            refunds: Vec::new(),
            invoices: Vec::new(),
            reviews: Vec::new(),
            last: 0,
            restarted: Vec::new(),
        };
        for _ in 0..CUSTOMERS_START {
            w.new_customer().await;
        }
        w.new_staff(3).await;
        let auto = json!({"code": "VM", "name": "Virtual machine", "category": "compute",
            "delivery": "saas", "delivery_days": 0, "warranty_days": 0,
            "specs": [
                {"id": "m", "name": "monthly", "duration": 1, "unit": "month", "price_cents": 10_000},
                {"id": "y", "name": "yearly", "duration": 1, "unit": "year", "price_cents": 100_000},
                {"id": "t", "name": "trial", "duration": 1, "unit": "month", "price_cents": 0, "trial": true}]});
        let manual = |code: &str, preset: &str| {
            json!({"code": code, "name": format!("Manual {preset}"), "category": "services",
                "delivery": "manual", "delivery_days": 7, "warranty_days": 30,
                "flow_template_id": format!("tpl_{preset}"),
                "specs": [{"id": "m", "name": "once", "duration": 1, "unit": "once",
                           "price_cents": 5_000}]})
        };
        for body in [auto, manual("MIG", PRODUCTS[1]), manual("BAS", PRODUCTS[2])] {
            let p = w
                .api
                .post_as(&w.seller, "/v1/products", body)
                .await
                .expect(StatusCode::CREATED);
            let id = string(&p, "id");
            w.api.approve_product(&w.seller, &id).await;
            w.products.push(id);
        }
        // Every history starts with a paid order of each product (an instance to renew or
        // upgrade, two delivery projects to act on); the random steps follow.
        for (customer, product) in [(0, 0), (0, 1), (1, 2)] {
            let id = w
                .api
                .paid_order(&w.customers[customer], &w.products[product], 1, 0)
                .await;
            w.orders.push(Placed {
                id,
                customer,
                product,
            });
        }
        w.last = w.api.head().await;
        w
    }

    /// Sends a command; a refusal (4xx) is part of the game, anything else is not.
    async fn command(
        &mut self,
        token: &str,
        method: &str,
        uri: &str,
        body: Value,
    ) -> Option<Value> {
        let mut call = self.api.call(method, uri).token(token);
        if !body.is_null() {
            call = call.json(&body);
        }
        let r = call.send().await;
        assert!(
            !r.status.is_server_error(),
            "{method} {uri}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        if !r.status.is_success() {
            return None;
        }
        let v = r.json();
        if let Some(p) = v["position"].as_u64() {
            self.last = self.last.max(p);
        }
        Some(v)
    }

    /// A read as the admin once the models applied every acknowledged write.
    async fn read(&self, uri: &str) -> Option<Value> {
        let r = self.api.get_at(uri, self.last).await;
        assert!(!r.status.is_server_error(), "GET {uri}: {}", r.status);
        r.status.is_success().then(|| r.json())
    }

    async fn new_customer(&mut self) {
        let (_, token) = self.api.create_principal("customer", None).await;
        self.customers.push(token);
    }

    async fn new_staff(&mut self, max_active: u8) {
        let seller = self.seller.clone();
        let uri = format!("/v1/orgs/{}/staff", self.org);
        let body = json!({"name": format!("Staff {}", self.staff.len()),
            "roles": ["delivery_specialist"], "department": "Delivery", "tags": [],
            "max_active": max_active});
        if let Some(v) = self.command(&seller, "POST", &uri, body).await {
            self.staff.insert(string(&v, "id"), string(&v, "token"));
        }
    }

    fn customer_of(&self, order: &Placed) -> String {
        self.customers[order.customer].clone()
    }

    /// Waits until the policies reacted to everything, including what they appended.
    async fn settle(&mut self) {
        for _ in 0..100 {
            let head = self.api.head().await;
            assert!(
                self.api.app.policies.wait_for(head, WAIT).await,
                "policies lag"
            );
            if self.api.head().await == head {
                self.last = self.last.max(head);
                return;
            }
        }
        panic!("the policies never settled");
    }

    async fn apply(&mut self, s: &Step) {
        let seller = self.seller.clone();
        let at = |h: u64| {
            let now = self.api.app.clock.now().as_micros();
            let t = domain::Timestamp::from_micros(now + i64::try_from(h).unwrap() * 3_600_000_000);
            self.api.app.time(t)
        };
        match *s {
            Step::NewCustomer => {
                if self.customers.len() < CUSTOMERS_MAX {
                    self.new_customer().await;
                }
            }
            Step::NewStaff { max_active } => {
                if self.staff.len() < STAFF_MAX + 1 {
                    self.new_staff(max_active).await;
                }
            }
            Step::StaffAccepting { staff, accepting } => {
                let ids: Vec<String> = self.staff.keys().cloned().collect();
                if let Some(id) = pick(&ids, staff) {
                    let uri = format!("/v1/staff/{id}");
                    self.command(&seller, "PUT", &uri, json!({ "accepting": accepting }))
                        .await;
                }
            }
            Step::Template { publish } => {
                let body = json!({"name": "Mine", "nodes": [
                    {"id": "ap", "type": "assign_provider", "name": "Assign provider"},
                    {"id": "claim", "type": "claim_order", "name": "Claim",
                     "role": "delivery_specialist"},
                    {"id": "work", "type": "generic", "name": "Work", "side": "provider",
                     "role": "delivery_specialist"},
                    {"id": "done", "type": "complete_project", "name": "Confirm"}]});
                let created = self
                    .command(&seller, "POST", "/v1/flow-templates", body)
                    .await;
                if let (Some(t), true) = (created, publish) {
                    let uri = format!("/v1/flow-templates/{}/publish", string(&t, "id"));
                    self.command(&seller, "POST", &uri, json!({})).await;
                }
            }
            Step::Promotion {
                discount,
                starts_in_h,
                hours,
            } => {
                let mut body = json!({"product_id": self.products[0], "name": "Sale",
                    "starts_at": at(u64::from(starts_in_h)),
                    "ends_at": at(u64::from(starts_in_h) + u64::from(hours))});
                if discount {
                    body["kind"] = json!("discount");
                    body["pay_permille"] = json!(800);
                } else {
                    body["kind"] = json!("reduce");
                    body["reduce_cents"] = json!(1_500);
                }
                if let Some(p) = self.command(&seller, "POST", "/v1/promotions", body).await {
                    self.promotions.push(string(&p, "id"));
                }
            }
            Step::PublishPromotion { promotion } => {
                if let Some(id) = pick(&self.promotions, promotion).cloned() {
                    let uri = format!("/v1/promotions/{id}/publish");
                    self.command(&seller, "POST", &uri, json!({})).await;
                }
            }
            Step::DeletePromotion { promotion } => {
                if let Some(id) = pick(&self.promotions, promotion).cloned() {
                    let uri = format!("/v1/promotions/{id}");
                    self.command(&seller, "DELETE", &uri, Value::Null).await;
                }
            }
            Step::Campaign {
                quantity,
                threshold,
            } => {
                let mut body = json!({"name": "Coupons", "scope": "store",
                    "per_customer_limit": 2, "valid_from": at(0), "valid_until": at(24 * 20),
                    "total_quantity": quantity, "scenarios": ["new", "renewal", "upgrade"],
                    "show_in_store": true});
                if threshold {
                    body["kind"] = json!("threshold");
                    body["threshold_cents"] = json!(5_000);
                    body["reduce_cents"] = json!(1_000);
                } else {
                    body["kind"] = json!("discount");
                    body["pay_permille"] = json!(900);
                }
                if let Some(c) = self
                    .command(&seller, "POST", "/v1/coupon-campaigns", body)
                    .await
                {
                    self.campaigns.push(string(&c, "id"));
                }
            }
            Step::Claim { campaign, customer } => {
                if let Some(id) = pick(&self.campaigns, campaign).cloned() {
                    let c = usize::from(customer) % self.customers.len();
                    let token = self.customers[c].clone();
                    let uri = format!("/v1/coupon-campaigns/{id}/claim");
                    if let Some(coupon) = self.command(&token, "POST", &uri, json!({})).await {
                        self.coupons.push((c, string(&coupon, "id")));
                    }
                }
            }
            Step::VoidCampaign { campaign } => {
                if let Some(id) = pick(&self.campaigns, campaign).cloned() {
                    let uri = format!("/v1/coupon-campaigns/{id}/void");
                    self.command(&seller, "POST", &uri, json!({})).await;
                }
            }
            Step::Place {
                customer,
                product,
                order_type,
                quantity,
                coupon,
            } => {
                let c = usize::from(customer) % self.customers.len();
                let p = usize::from(product) % self.products.len();
                let kind = match order_type {
                    0..=2 => "new",
                    3 => "renewal",
                    4 => "upgrade",
                    _ if p == 0 => "trial",
                    _ => "new",
                };
                let (spec, quantity) = match kind {
                    "trial" => ("t", 1),
                    "upgrade" => ("y", quantity),
                    _ => ("m", quantity),
                };
                let mut body = json!({"product_id": self.products[p], "spec_id": spec,
                    "quantity": quantity, "order_type": kind});
                if kind == "renewal" || kind == "upgrade" {
                    // An instance of an earlier order of this customer's, if any.
                    let earlier: Vec<String> = self
                        .orders
                        .iter()
                        .filter(|o| o.customer == c && o.product == p)
                        .map(|o| o.id.clone())
                        .collect();
                    for o in earlier {
                        let uri = format!("/v1/instances?order_id={o}");
                        let list = self.read(&uri).await.unwrap_or_default();
                        if let Some(i) = list["items"][0]["id"].as_str() {
                            body["instance_id"] = json!(i);
                            break;
                        }
                    }
                }
                if coupon {
                    if let Some((_, id)) = self.coupons.iter().find(|(owner, _)| *owner == c) {
                        body["coupon_id"] = json!(id);
                    }
                }
                let token = self.customers[c].clone();
                if let Some(o) = self.command(&token, "POST", "/v1/orders", body).await {
                    self.orders.push(Placed {
                        id: string(&o, "id"),
                        customer: c,
                        product: p,
                    });
                }
            }
            Step::ChangePrice { order, cents } => {
                if let Some(o) = pick(&self.orders, order) {
                    let uri = format!("/v1/orders/{}/change-price", o.id);
                    let body = json!({"new_price_cents": cents, "reason": "deal"});
                    self.command(&seller, "POST", &uri, body).await;
                }
            }
            Step::Pay {
                order,
                voucher_quarters,
            } => {
                // Mostly one of the last few orders, which are likely still unpaid.
                let recent = &self.orders[self.orders.len().saturating_sub(3)..];
                let Some(o) = pick(recent, order) else {
                    return;
                };
                let (id, token) = (o.id.clone(), self.customer_of(o));
                if let Some(v) = self.read(&format!("/v1/orders/{id}")).await {
                    let payable = v["payable_cents"].as_i64().unwrap_or(0);
                    let voucher = payable * i64::from(voucher_quarters) / 4;
                    let uri = format!("/v1/orders/{id}/pay");
                    let body = json!({"amount_cents": payable, "voucher_cents": voucher});
                    self.command(&token, "POST", &uri, body).await;
                }
            }
            Step::Cancel { order } => {
                if let Some(o) = pick(&self.orders, order) {
                    let (uri, token) = (format!("/v1/orders/{}/cancel", o.id), self.customer_of(o));
                    self.command(&token, "POST", &uri, json!({})).await;
                }
            }
            Step::RequestRefund { order, part } => {
                if let Some(o) = pick(&self.orders, order) {
                    let uri = format!("/v1/orders/{}/refund-requests", o.id);
                    let token = self.customer_of(o);
                    let mut body = json!({"reason": "not needed"});
                    if part {
                        body["amount_cents"] = json!(1_000);
                    }
                    if let Some(r) = self.command(&token, "POST", &uri, body).await {
                        self.refunds.push(string(&r, "id"));
                    }
                }
            }
            Step::SellerRefund {
                order,
                remaining,
                keep,
            } => {
                if let Some(o) = pick(&self.orders, order) {
                    let uri = format!("/v1/orders/{}/seller-refunds", o.id);
                    let mut body = json!({"kind": if remaining { "remaining" } else { "full" },
                        "release": if keep { "keep" } else { "immediate" }, "reason": "goodwill"});
                    if remaining {
                        body["amount_cents"] = json!(500);
                    }
                    if keep {
                        body["keep_reason"] = json!("still in use");
                    }
                    if let Some(r) = self.command(&seller, "POST", &uri, body).await {
                        self.refunds.push(string(&r, "id"));
                    }
                }
            }
            Step::DecideRefund {
                refund,
                approve,
                platform,
            } => {
                if let Some(id) = pick(&self.refunds, refund).cloned() {
                    let token = if platform { ADMIN.to_owned() } else { seller };
                    let (uri, body) = if approve {
                        (format!("/v1/refunds/{id}/approve"), json!({}))
                    } else {
                        (
                            format!("/v1/refunds/{id}/reject"),
                            json!({"reason": "used"}),
                        )
                    };
                    self.command(&token, "POST", &uri, body).await;
                }
            }
            Step::RequestInvoice { order } => {
                if let Some(o) = pick(&self.orders, order) {
                    let uri = format!("/v1/orders/{}/invoice-requests", o.id);
                    let token = self.customer_of(o);
                    let body = json!({"type": "ordinary", "title": "Ann Ltd", "tax_id": "X1",
                        "address": "1 Road"});
                    if let Some(i) = self.command(&token, "POST", &uri, body).await {
                        self.invoices.push(string(&i, "id"));
                    }
                }
            }
            Step::DecideInvoice { invoice, issue } => {
                if let Some(id) = pick(&self.invoices, invoice).cloned() {
                    let (uri, body) = if issue {
                        (
                            format!("/v1/invoices/{id}/issue"),
                            json!({"tracking": "SF1"}),
                        )
                    } else {
                        (
                            format!("/v1/invoices/{id}/reject"),
                            json!({"reason": "wrong title"}),
                        )
                    };
                    self.command(&seller, "POST", &uri, body).await;
                }
            }
            Step::Review { order, quality } => {
                if let Some(o) = pick(&self.orders, order) {
                    let uri = format!("/v1/orders/{}/review", o.id);
                    let token = self.customer_of(o);
                    let body = json!({"quality": quality, "attitude": 5, "speed": 4,
                        "comment": "fine"});
                    if let Some(r) = self.command(&token, "POST", &uri, body).await {
                        self.reviews.push(string(&r, "id"));
                    }
                }
            }
            Step::Reply { review } => {
                if let Some(id) = pick(&self.reviews, review).cloned() {
                    let uri = format!("/v1/reviews/{id}/reply");
                    self.command(&seller, "POST", &uri, json!({"text": "thanks"}))
                        .await;
                }
            }
            Step::Delivery { order, action } => self.delivery(order, action).await,
            Step::PageViews {
                count,
                visitor,
                hours_ago,
                fault,
            } => self.page_views(count, visitor, hours_ago, fault).await,
            Step::Advance { hours } => {
                let body = json!({ "seconds": u64::from(hours) * 3600 });
                self.command(ADMIN, "POST", "/v1/admin/clock/advance", body)
                    .await
                    .expect("the simulated clock advances");
            }
            Step::Restart => {
                if self.restarted.len() < RESTARTS_MAX {
                    self.settle().await;
                    self.restart().await;
                }
            }
        }
    }

    /// A batch of `count` views of the history's products, `hours_ago` (the business day may
    /// be an earlier one), by a few visitors. One batch in four is invalid — a product that
    /// does not exist, a time without an offset, or no view at all — and is refused whole.
    async fn page_views(&mut self, count: u8, visitor: u8, hours_ago: u8, fault: u8) {
        let now = self.api.app.clock.now().as_micros();
        let at = self.api.app.time(domain::Timestamp::from_micros(
            now - i64::from(hours_ago) * 3_600_000_000,
        ));
        let mut views: Vec<Value> = (0..count)
            .map(|i| {
                let n = usize::from(visitor.wrapping_add(i));
                json!({"product_id": self.products[n % self.products.len()],
                    "visitor_id": format!("v{}", n % 5), "at": at, "dwell_ms": 1_000 + u32::from(i)})
            })
            .collect();
        match fault % 12 {
            0 => views[0]["product_id"] = json!("prd_unknown"),
            1 => views[0]["at"] = json!("2026-11-22T09:00:00"),
            2 => views.clear(),
            _ => {}
        }
        let valid = fault % 12 > 2;
        let uri = "/v1/analytics/page-views";
        let answer = self
            .command(ADMIN, "POST", uri, json!({ "views": views }))
            .await;
        match answer {
            Some(a) => {
                assert!(valid, "an invalid batch was recorded: {a}");
                assert_eq!(a["recorded"], count, "{a}");
            }
            None => assert!(!valid, "a valid batch was refused: {views:?}"),
        }
    }

    /// One action on the delivery of a manual order: mostly what its current node asks for,
    /// by whoever should do it; sometimes a rejection, pause, resume, close or message.
    async fn delivery(&mut self, order: u8, action: u8) {
        let manual: Vec<(String, String)> = self
            .orders
            .iter()
            .filter(|o| o.product != 0)
            .map(|o| (o.id.clone(), self.customer_of(o)))
            .collect();
        let Some((order_id, customer)) = pick(&manual, order).cloned() else {
            return;
        };
        self.settle().await;
        let id = domain::delivery::project::delivery_id_for(&order_id);
        let Some(d) = self.read(&format!("/v1/deliveries/{id}")).await else {
            return; // not paid, so no project
        };
        let seller = self.seller.clone();
        let node = d["current_node"]["id"]
            .as_str()
            .unwrap_or("none")
            .to_owned();
        let node_type = d["current_node"]["type"].as_str().unwrap_or("").to_owned();
        let on = |what: &str| format!("/v1/deliveries/{id}/{what}");
        let staff: Vec<(String, String)> = self.staff.clone().into_iter().collect();
        let operator = d["operator"]["staff_id"]
            .as_str()
            .and_then(|s| self.staff.get(s).cloned())
            .unwrap_or_else(|| seller.clone());
        let remark = json!({"remark": "r"});
        match action % 8 {
            0..=2 => match node_type.as_str() {
                "submit_requirement" => {
                    let form = json!({"contact_name": "Ann", "phone": "+86 10 1234",
                        "email": "ann@example.com", "address": "1 Road",
                        "description": "a website"});
                    let uri = on(&format!("nodes/{node}/submit"));
                    self.command(&customer, "POST", &uri, form).await;
                }
                "assign_order" | "claim_order" => {
                    if let Some((staff_id, token)) = pick(&staff, action / 8) {
                        if action.is_multiple_of(2) {
                            self.command(token, "POST", &on("claim"), json!({})).await;
                        } else {
                            let body = json!({ "staff_id": staff_id });
                            self.command(&seller, "POST", &on("dispatch"), body).await;
                        }
                    }
                }
                "assign_provider" => {
                    self.command(&seller, "POST", &on("dispatch"), json!({}))
                        .await;
                }
                "complete_project" | "confirm" if d["current_node"]["side"] != "provider" => {
                    let uri = on(&format!("nodes/{node}/complete"));
                    self.command(&customer, "POST", &uri, json!({})).await;
                }
                _ => {
                    let uri = on(&format!("nodes/{node}/complete"));
                    let body = json!({"note": "done", "delivery_info": "admin / pw"});
                    self.command(&operator, "POST", &uri, body).await;
                }
            },
            3 => {
                let uri = on(&format!("nodes/{node}/reject"));
                self.command(&customer, "POST", &uri, json!({"reason": "not yet"}))
                    .await;
            }
            4 => {
                self.command(&seller, "POST", &on("pause"), remark).await;
            }
            5 => {
                self.command(&seller, "POST", &on("resume"), remark).await;
            }
            6 => {
                self.command(ADMIN, "POST", &on("close"), remark).await;
            }
            _ => {
                self.command(
                    &customer,
                    "POST",
                    &on("messages"),
                    json!({"text": "any news?"}),
                )
                .await;
            }
        }
    }

    /// The app's models and every restarted set's.
    fn controls(&self) -> Vec<Arc<dyn ProjectionControl>> {
        let mut controls = self.api.app.projections.clone();
        for r in &self.restarted {
            controls.extend(r.controls());
        }
        controls
    }

    /// Checkpoints every model, then starts every model of the registry again from those
    /// checkpoints: the new set follows the log from what it loaded, beside the app's.
    async fn restart(&mut self) {
        let app = &self.api.app;
        app.wait_all(self.last).await.expect("the models catch up");
        for p in self.controls() {
            p.checkpoint().expect("checkpoint");
        }
        let running =
            projections::registry::Running::start(Arc::clone(&app.store), self.api.dir.path())
                .expect("the models start from their checkpoints");
        for p in running.controls() {
            assert_eq!(
                p.position(),
                self.last,
                "{} did not start from the checkpoint at the head",
                p.name()
            );
        }
        self.restarted.push(running);
    }

    /// Every model — the app's and every restarted set — at the head equals its rebuild.
    async fn assert_every_model_equals_its_rebuild(&mut self) {
        self.settle().await;
        let head = self.api.app.store.head();
        assert_eq!(
            self.api.app.projections.len(),
            projections::registry::MODELS.len(),
            "the app runs every registered model"
        );
        for p in self.controls() {
            assert!(p.wait_for(head, WAIT).await, "{} lags", p.name());
            let c = p.compare_with_rebuild().expect("rebuild");
            assert_eq!(c.position, head, "{}", p.name());
            if let Some(difference) = c.difference {
                panic!(
                    "{}: the live model differs from its rebuild: {difference}",
                    p.name()
                );
            }
        }
    }
}

async fn run(steps: Vec<Step>) {
    let mut w = World::new().await;
    for s in &steps {
        w.apply(s).await;
    }
    w.assert_every_model_equals_its_rebuild().await;
}

proptest! {
    // CI budget: ~14 histories of ≤ 40 steps, a few seconds in release on 2 cores.
    #![proptest_config(ProptestConfig { cases: 14, .. ProptestConfig::default() })]

    #[test]
    fn every_model_rebuilt_from_the_log_equals_the_live_one(steps in proptest::collection::vec(step(), 1..40)) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(run(steps));
    }
}
