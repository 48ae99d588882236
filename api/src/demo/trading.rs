//! The customers' and sellers' business, step by step: orders of every type (new, renewal,
//! trial, conversion, upgrade) with a daily rhythm, some with a claimed coupon or through a
//! distributor; payments (partly by voucher), price changes, cancellations, orders left to
//! the 7-day void; refunds requested, approved, rejected or left to the 3-day automatic
//! approval, seller refunds the platform reviews; invoices issued or rejected; reviews (some
//! bad, some replied, the rest left to the 30-day default).
//!
//! Each step runs in phases (a phase's requests concurrently, at most one per order, the
//! policies settled after it): claims and placements; payments of manual products one by
//! one (so projects start and take capacity in a fixed order), then the other payments,
//! price changes and cancellations; after-sale requests; sellers' and the platform's
//! decisions. Every plan is drawn from the seeded RNG when the order is placed or paid.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate, Weekday};
use futures::{StreamExt, TryStreamExt};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

use super::actors::text;
use super::catalogue::DISTRIBUTOR_PERMILLE;
use super::client::{Answer, Client};
use super::delivery::Fate;
use super::{DemoError, World, CONCURRENT_REQUESTS_MAX, STEP_HOURS, STEP_SHARE_PERMILLE};

/// Steps of the clock per day.
pub const STEPS_PER_DAY: u32 = STEP_HOURS.len() as u32;
/// A customer may ask for a refund within this many steps of the payment (SPEC §5: 5 days;
/// kept inside it).
const REFUND_WINDOW_STEPS: u32 = 4 * STEPS_PER_DAY;
/// A monthly instance is renewed, upgraded or converted only this many steps after it
/// opened, well before it expires and closes.
const INSTANCE_USE_STEPS: u32 = 25 * STEPS_PER_DAY;
/// Day weights, per-mille of a weekday.
const SATURDAY_PERMILLE: u32 = 600;
const SUNDAY_PERMILLE: u32 = 500;
/// The business grows over the run by this much, per-mille of the first day.
const GROWTH_PERMILLE: u32 = 400;

/// Orders placed and paid in the first step whatever the seed, so that even a short run
/// shows every kind of project end (product index in the catalogue, fate) and trials to
/// convert: six of the provider-delivered product, one more than its providers' maxima,
/// so one waits in the dispatch queue.
const SHOWCASE: [(usize, Option<Fate>); 19] = [
    (2, Some(Fate::Stall)),
    (2, Some(Fate::Complete)),
    (2, Some(Fate::Pause)),
    (5, Some(Fate::PauseResume)),
    (3, Some(Fate::RejectOnce)),
    (3, Some(Fate::RefundDuring)),
    (5, Some(Fate::Complete)),
    (6, Some(Fate::AutoConfirm)),
    (7, Some(Fate::Slow)),
    (9, Some(Fate::Complete)),
    (9, Some(Fate::Complete)),
    (9, Some(Fate::Complete)),
    (9, Some(Fate::Complete)),
    (9, Some(Fate::Complete)),
    (9, Some(Fate::Complete)),
    (10, Some(Fate::RejectOnce)),
    (10, Some(Fate::NoRequirement)),
    (0, None),
    (8, None),
];

/// Draws true with probability `permille` / 1000.
pub fn chance(rng: &mut StdRng, permille: u32) -> bool {
    rng.random_range(0..1000) < permille
}

/// The number of orders of each day: weekdays busier than weekends, growing over the run,
/// with some noise; they sum to `orders`.
pub fn orders_per_day(rng: &mut StdRng, orders: u32, first_day: NaiveDate, days: u32) -> Vec<u32> {
    let weights: Vec<u64> = (0..days)
        .map(|d| {
            let day = first_day + chrono::Days::new(u64::from(d));
            let weekday = match day.weekday() {
                Weekday::Sat => SATURDAY_PERMILLE,
                Weekday::Sun => SUNDAY_PERMILLE,
                _ => 1000,
            };
            let growth = 1000 + GROWTH_PERMILLE * d / days.max(1);
            let noise = rng.random_range(800..1200);
            u64::from(weekday) * u64::from(growth) * noise
        })
        .collect();
    split(u64::from(orders), &weights)
}

/// A day's orders over its steps, by [`STEP_SHARE_PERMILLE`].
pub fn split_by_step(orders: u32) -> Vec<u32> {
    let weights: Vec<u64> = STEP_SHARE_PERMILLE.iter().map(|w| u64::from(*w)).collect();
    split(u64::from(orders), &weights)
}

/// `total` split in proportion to `weights` (largest remainder, ties to the first).
fn split(total: u64, weights: &[u64]) -> Vec<u32> {
    let sum: u64 = weights.iter().sum::<u64>().max(1);
    let mut parts: Vec<(u64, u64)> = weights
        .iter()
        .map(|w| (total * w / sum, total * w % sum))
        .collect();
    let mut left = total - parts.iter().map(|p| p.0).sum::<u64>();
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse(parts[*i].1));
    for i in order {
        if left == 0 {
            break;
        }
        parts[i].0 += 1;
        left -= 1;
    }
    parts
        .into_iter()
        .map(|p| u32::try_from(p.0).unwrap_or(u32::MAX))
        .collect()
}

#[derive(Debug, Default)]
pub struct Trade {
    pub orders: Vec<Order>,
    pub instances: Vec<Instance>,
    /// Claimed coupons: (id, customer, in use by an order).
    pub coupons: Vec<(String, usize, bool)>,
    /// Tasks by the step they are due at.
    agenda: BTreeMap<u32, Vec<Task>>,
    /// The step the clock stands at (day × steps per day + step).
    pub step: u32,
    /// Showcase orders beyond the first step's share, taken off the next steps' orders.
    owed: u32,
    /// Paid orders whose instances are still to be read.
    unread_instances: Vec<usize>,
    /// What the run did, by kind, and what the rules refused, by code.
    pub done: BTreeMap<&'static str, u32>,
    pub refused: BTreeMap<String, u32>,
}

#[derive(Debug)]
pub struct Order {
    pub id: String,
    pub customer: usize,
    pub product: usize,
    pub order_type: &'static str,
    pub instance: Option<usize>,
    pub payable_cents: i64,
    pub coupon: Option<usize>,
    pub paid_step: Option<u32>,
    /// Refunded, or a refund asked for: no more after-sale for it.
    pub refunding: bool,
    /// For a manual product: what its delivery will go through.
    pub fate: Option<Fate>,
    /// One of the [`SHOWCASE`]: paid at once.
    pub showcase: bool,
}

#[derive(Debug)]
pub struct Instance {
    pub id: String,
    /// The order that opened it.
    pub order: usize,
    pub customer: usize,
    pub product: usize,
    pub spec: &'static str,
    pub trial: bool,
    pub opened_step: u32,
    /// An unpaid order names it, or it was released by a refund.
    pub busy: bool,
}

/// Something due at a step.
#[derive(Debug, Clone)]
pub enum Task {
    Pay {
        order: usize,
        voucher_permille: u32,
    },
    ChangePrice {
        order: usize,
    },
    Cancel {
        order: usize,
    },
    RequestRefund {
        order: usize,
        decision: Decision,
        partial: bool,
    },
    SellerRefund {
        order: usize,
        approve: bool,
    },
    DecideRefund {
        refund: String,
        by: Decider,
        approve: bool,
    },
    RequestInvoice {
        order: usize,
        issue: bool,
    },
    DecideInvoice {
        invoice: String,
        org: usize,
        issue: bool,
    },
    Review {
        order: usize,
        bad: bool,
        reply: bool,
    },
    Reply {
        review: String,
        org: usize,
    },
}

/// What the seller does with a customer's refund request.
#[derive(Debug, Clone, Copy)]
pub enum Decision {
    Approve,
    Reject,
    /// Nothing: approved automatically after 3 days.
    Ignore,
}

/// Who decides a refund.
#[derive(Debug, Clone, Copy)]
pub enum Decider {
    Seller(usize),
    Platform,
}

impl Task {
    /// The order a task acts on, if it names one (one task per order per phase).
    fn order(&self) -> Option<usize> {
        match self {
            Task::Pay { order, .. }
            | Task::ChangePrice { order }
            | Task::Cancel { order }
            | Task::RequestRefund { order, .. }
            | Task::SellerRefund { order, .. }
            | Task::RequestInvoice { order, .. }
            | Task::Review { order, .. } => Some(*order),
            _ => None,
        }
    }

    /// 0: payments and what a seller does to an unpaid order; 1: after-sale requests;
    /// 2: decisions.
    fn phase(&self) -> u8 {
        match self {
            Task::Pay { .. } | Task::ChangePrice { .. } | Task::Cancel { .. } => 0,
            Task::RequestRefund { .. }
            | Task::SellerRefund { .. }
            | Task::RequestInvoice { .. }
            | Task::Review { .. } => 1,
            Task::DecideRefund { .. } | Task::DecideInvoice { .. } | Task::Reply { .. } => 2,
        }
    }
}

/// One request of a phase.
struct Call {
    path: String,
    token: String,
    body: Value,
}

impl World {
    /// One step of trade: `orders` new orders, then what is due.
    pub(super) async fn trade_step(&mut self, orders: u32) -> Result<(), DemoError> {
        self.claims().await?;
        self.place(orders).await?;
        self.client.settle().await?;
        let mut due: Vec<Task> = Vec::new();
        let step = self.trade.step;
        while let Some(entry) = self.trade.agenda.first_entry() {
            if *entry.key() > step {
                break;
            }
            due.extend(entry.remove());
        }
        for phase in 0..=2u8 {
            let mut now: Vec<Task> = Vec::new();
            let mut touched = BTreeSet::new();
            for task in due.iter().filter(|t| t.phase() == phase) {
                match task.order() {
                    Some(o) if !touched.insert(o) => self.schedule(1, task.clone()),
                    _ => now.push(task.clone()),
                }
            }
            // Manual products' payments one by one: their projects start and take
            // capacity in this order.
            let (manual, rest): (Vec<Task>, Vec<Task>) = now.into_iter().partition(|t| {
                matches!(t, Task::Pay { order, .. } if self.trade.orders[*order].fate.is_some())
            });
            for task in manual {
                self.run_tasks(vec![task]).await?;
            }
            self.run_tasks(rest).await?;
            self.client.settle().await?;
        }
        self.read_instances().await?;
        self.trade.step += 1;
        Ok(())
    }

    /// Puts `task` on the agenda `steps` from now.
    pub(super) fn schedule(&mut self, steps: u32, task: Task) {
        self.trade
            .agenda
            .entry(self.trade.step + steps.max(1))
            .or_default()
            .push(task);
    }

    pub(super) fn count(&mut self, what: &'static str) {
        *self.trade.done.entry(what).or_default() += 1;
    }

    /// A few customers claim a coupon in the store (a second claim is refused by the
    /// per-customer limit, a rule the demo shows too).
    async fn claims(&mut self) -> Result<(), DemoError> {
        let n = self.actors.customers.len();
        let mut who = BTreeSet::new();
        for _ in 0..self.rng.random_range(0..3) {
            who.insert(self.rng.random_range(0..n));
        }
        let campaign = self.catalogue.claimable.clone();
        let calls: Vec<Call> = who
            .iter()
            .map(|c| Call {
                path: format!("/v1/coupon-campaigns/{campaign}/claim"),
                token: self.actors.customers[*c].token.clone(),
                body: json!({}),
            })
            .collect();
        let answers = self.send_all(calls).await?;
        for (customer, answer) in who.into_iter().zip(answers) {
            if self.accepted("POST /v1/coupon-campaigns/{id}/claim", &answer)? {
                self.trade
                    .coupons
                    .push((text(&answer.body, "id")?, customer, false));
                self.count("coupons claimed");
            }
        }
        Ok(())
    }

    /// Places `count` orders of customers drawn from the RNG.
    async fn place(&mut self, count: u32) -> Result<(), DemoError> {
        let mut planned: Vec<(Order, Value)> = Vec::new();
        if self.trade.step == 0 {
            for (product, fate) in SHOWCASE {
                planned.push(self.plan_showcase(product, fate));
            }
            self.trade.owed = SHOWCASE.len() as u32;
        }
        let owed = self.trade.owed.min(count);
        self.trade.owed -= owed;
        let count = count - owed;
        for _ in 0..count {
            let (order, body) = self.plan_order();
            self.viewed(order.product, order.customer);
            planned.push((order, body));
        }
        let calls: Vec<(Call, Option<Value>)> = planned
            .iter()
            .map(|(o, body)| {
                let token = self.actors.customers[o.customer].token.clone();
                // Without the coupon, should it not apply (threshold, scope).
                let fallback = o.coupon.map(|_| {
                    let mut b = body.clone();
                    if let Some(m) = b.as_object_mut() {
                        m.remove("coupon_id");
                    }
                    b
                });
                (
                    Call {
                        path: "/v1/orders".into(),
                        token,
                        body: body.clone(),
                    },
                    fallback,
                )
            })
            .collect();
        let client = self.client.clone();
        let answers: Vec<Answer> = futures::stream::iter(calls)
            .map(|(call, fallback)| {
                let c: Client = client.clone();
                async move {
                    let first = c.try_post(&call.path, &call.token, &call.body).await?;
                    match fallback {
                        Some(body) if first.code() == "coupon_not_applicable" => {
                            c.try_post(&call.path, &call.token, &body).await
                        }
                        _ => Ok(first),
                    }
                }
            })
            .buffered(CONCURRENT_REQUESTS_MAX)
            .try_collect()
            .await?;
        for ((mut order, _), answer) in planned.into_iter().zip(answers) {
            if !self.accepted("POST /v1/orders", &answer)? {
                if let Some(i) = order.instance {
                    self.trade.instances[i].busy = false;
                }
                if let Some(c) = order.coupon {
                    self.trade.coupons[c].2 = false;
                }
                continue;
            }
            order.id = text(&answer.body, "id")?;
            order.payable_cents = answer.body["payable_cents"].as_i64().unwrap_or(0);
            if let Some(c) = order.coupon {
                if answer.body["coupon"].is_null() {
                    self.trade.coupons[c].2 = false;
                    order.coupon = None;
                }
            }
            let index = self.trade.orders.len();
            self.count(match order.order_type {
                "renewal" => "renewal orders",
                "trial" => "trial orders",
                "conversion" => "conversion orders",
                "upgrade" => "upgrade orders",
                _ => "new orders",
            });
            self.trade.orders.push(order);
            self.plan_payment(index);
        }
        Ok(())
    }

    /// Draws the next order: its customer, product, type, quantity, coupon and channel.
    fn plan_order(&mut self) -> (Order, Value) {
        let customers = self.actors.customers.len();
        // Some customers buy far more than others.
        let r = self.rng.random_range(0..customers * customers);
        let customer = r.isqrt().min(customers - 1);
        let customer = customers - 1 - customer;
        let product = self.catalogue.pick(&mut self.rng);
        let p = &self.catalogue.products[product];
        let mut order = Order {
            id: String::new(),
            customer,
            product,
            order_type: "new",
            instance: None,
            payable_cents: 0,
            coupon: None,
            paid_step: None,
            refunding: false,
            fate: None,
            showcase: false,
        };
        let paid: Vec<&super::catalogue::Spec> = p.paid_specs().collect();
        let mut spec = paid[self.rng.random_range(0..paid.len())].id;
        let top = paid.last().map(|s| s.id);
        let mut quantity = 1;
        let roll = self.rng.random_range(0..1000);
        let step = self.trade.step;
        // Renewals, upgrades and conversions come from the owners of open instances.
        let candidates = |w: &World, kind: &str| -> Vec<usize> {
            (0..w.trade.instances.len())
                .filter(|i| {
                    let i = &w.trade.instances[*i];
                    i.product == product
                        && !i.busy
                        && step.saturating_sub(i.opened_step) < INSTANCE_USE_STEPS
                        && match kind {
                            "renewal" => !i.trial,
                            "upgrade" => !i.trial && Some(i.spec) != top,
                            _ => i.trial,
                        }
                })
                .collect()
        };
        let kind = match roll {
            _ if p.manual => None,
            0..150 => Some("renewal"),
            150..250 => Some("upgrade"),
            250..330 => Some("conversion"),
            _ => None,
        };
        if p.manual {
            order.fate = Some(Fate::draw(&mut self.rng, p.template, p.capped));
        } else if let Some(kind) = kind {
            let found = candidates(self, kind);
            if !found.is_empty() {
                let i = found[self.rng.random_range(0..found.len())];
                order.order_type = kind;
                order.instance = Some(i);
                order.customer = self.trade.instances[i].customer;
                spec = match kind {
                    "renewal" => self.trade.instances[i].spec,
                    "upgrade" => top.unwrap_or(spec),
                    _ => spec,
                };
            }
        } else if roll < 420 {
            if let Some(t) = p.trial() {
                let has_trial = self
                    .trade
                    .instances
                    .iter()
                    .any(|i| i.customer == customer && i.product == product && i.trial);
                if !has_trial {
                    order.order_type = "trial";
                    spec = t.id;
                }
            }
        } else if roll > 850 {
            quantity = self.rng.random_range(2..=3);
        }
        let customer = order.customer;
        if let Some(i) = order.instance {
            self.trade.instances[i].busy = true;
        }
        let mut body = json!({"product_id": p.id, "spec_id": spec, "quantity": quantity,
            "order_type": order.order_type});
        if let Some(i) = order.instance {
            body["instance_id"] = json!(self.trade.instances[i].id);
        }
        let clients = ["web", "web", "mobile", "api"];
        body["client"] = json!(clients[self.rng.random_range(0..clients.len())]);
        if p.distributed && chance(&mut self.rng, DISTRIBUTOR_PERMILLE) {
            body["channel"] = json!({"kind": "distribution", "ref": "partner-shanghai"});
        }
        if ["new", "renewal", "upgrade"].contains(&order.order_type)
            && p.org == 0
            && chance(&mut self.rng, 700)
        {
            if let Some(c) = self
                .trade
                .coupons
                .iter()
                .position(|(_, owner, used)| *owner == customer && !used)
            {
                self.trade.coupons[c].2 = true;
                order.coupon = Some(c);
                body["coupon_id"] = json!(self.trade.coupons[c].0);
            }
        }
        if chance(&mut self.rng, 100) {
            body["remark"] = json!("please invoice at month end");
        }
        (order, body)
    }

    /// A [`SHOWCASE`] order: a new order of a manual product with its fate, or a trial.
    fn plan_showcase(&mut self, product: usize, fate: Option<Fate>) -> (Order, Value) {
        let customer = self.rng.random_range(0..self.actors.customers.len());
        let p = &self.catalogue.products[product];
        let (order_type, spec) = match p.trial() {
            Some(t) if fate.is_none() => ("trial", t.id),
            _ => ("new", p.specs[0].id),
        };
        let body =
            json!({"product_id": p.id, "spec_id": spec, "quantity": 1, "order_type": order_type});
        let order = Order {
            id: String::new(),
            customer,
            product,
            order_type,
            instance: None,
            payable_cents: 0,
            coupon: None,
            paid_step: None,
            refunding: false,
            fate,
            showcase: true,
        };
        (order, body)
    }

    /// What happens to an unpaid order: paid now or later (some after a price change),
    /// cancelled, or left to the 7-day void.
    fn plan_payment(&mut self, order: usize) {
        let roll = self.rng.random_range(0..1000);
        let voucher_permille = if chance(&mut self.rng, 250) {
            self.rng.random_range(100..=400)
        } else {
            0
        };
        let free_instance = self.trade.orders[order].instance.is_some();
        if self.trade.orders[order].showcase {
            let voucher_permille = 0;
            self.schedule_now(Task::Pay {
                order,
                voucher_permille,
            });
        } else if roll < 600 {
            self.schedule_now(Task::Pay {
                order,
                voucher_permille,
            });
        } else if roll < 820 {
            let later = self.rng.random_range(1..=8);
            self.schedule(
                later,
                Task::Pay {
                    order,
                    voucher_permille,
                },
            );
        } else if roll < 880 {
            self.schedule_now(Task::ChangePrice { order });
        } else if roll < 940 || free_instance || self.trade.orders[order].coupon.is_some() {
            let later = self.rng.random_range(1..=6);
            self.schedule(later, Task::Cancel { order });
        }
        // else: never paid, voided after 7 days.
    }

    /// Puts `task` on the agenda a number of steps from now drawn from `steps`.
    fn schedule_in(&mut self, steps: std::ops::RangeInclusive<u32>, task: Task) {
        let later = self.rng.random_range(steps);
        self.schedule(later, task);
    }

    /// Puts `task` on the current step's agenda (run in this step's phases).
    fn schedule_now(&mut self, task: Task) {
        self.trade
            .agenda
            .entry(self.trade.step)
            .or_default()
            .push(task);
    }

    /// After-sale plans of a just-paid order (reviews of manual products wait for their
    /// delivery to complete).
    fn plan_after_sale(&mut self, order: usize) {
        let manual = self.trade.orders[order].fate.is_some();
        let roll = self.rng.random_range(0..1000);
        if matches!(self.trade.orders[order].fate, Some(Fate::RefundDuring)) {
            self.schedule_in(
                2..=REFUND_WINDOW_STEPS,
                Task::RequestRefund {
                    order,
                    decision: Decision::Approve,
                    partial: false,
                },
            );
        } else if !manual && roll < 80 && self.trade.orders[order].payable_cents > 0 {
            let decision = match self.rng.random_range(0..100) {
                0..40 => Decision::Approve,
                40..65 => Decision::Reject,
                _ => Decision::Ignore,
            };
            let partial = chance(&mut self.rng, 250);
            self.schedule_in(
                1..=REFUND_WINDOW_STEPS,
                Task::RequestRefund {
                    order,
                    decision,
                    partial,
                },
            );
        } else if !manual && roll < 100 && self.trade.orders[order].payable_cents > 0 {
            let approve = chance(&mut self.rng, 700);
            self.schedule_in(5..=20, Task::SellerRefund { order, approve });
        }
        if chance(&mut self.rng, 120) && self.trade.orders[order].payable_cents > 0 {
            let issue = chance(&mut self.rng, 800);
            self.schedule_in(1..=10, Task::RequestInvoice { order, issue });
        }
        if !manual {
            self.plan_review(order);
        }
    }

    /// A review some days after completion (a quarter of them bad, most bad ones replied),
    /// or none: then the 30-day default.
    pub(super) fn plan_review(&mut self, order: usize) {
        if chance(&mut self.rng, 550) {
            let bad = chance(&mut self.rng, 250);
            let reply = chance(&mut self.rng, if bad { 650 } else { 100 });
            self.schedule_in(1..=12 * STEPS_PER_DAY, Task::Review { order, bad, reply });
        }
    }

    /// Runs tasks concurrently and applies their answers in order.
    async fn run_tasks(&mut self, tasks: Vec<Task>) -> Result<(), DemoError> {
        if tasks.is_empty() {
            return Ok(());
        }
        let calls: Vec<Call> = tasks.iter().map(|t| self.call(t)).collect();
        let paths: Vec<String> = calls.iter().map(|c| format!("POST {}", c.path)).collect();
        let answers = self.send_all(calls).await?;
        for ((task, path), answer) in tasks.into_iter().zip(paths).zip(answers) {
            self.apply(task, &path, &answer)?;
        }
        Ok(())
    }

    /// The request of a task.
    fn call(&mut self, task: &Task) -> Call {
        let customer =
            |w: &World, o: usize| w.actors.customers[w.trade.orders[o].customer].token.clone();
        let seller = |w: &World, o: usize| {
            let p = &w.catalogue.products[w.trade.orders[o].product];
            w.actors.orgs[p.org].admin.clone()
        };
        let order_path =
            |w: &World, o: usize, tail: &str| format!("/v1/orders/{}/{tail}", w.trade.orders[o].id);
        match task {
            Task::Pay {
                order,
                voucher_permille,
            } => {
                let amount = self.trade.orders[*order].payable_cents;
                // Vouchers come in whole yuan.
                let voucher = amount * i64::from(*voucher_permille) / 1000 / 100 * 100;
                Call {
                    path: order_path(self, *order, "pay"),
                    token: customer(self, *order),
                    body: json!({"amount_cents": amount, "voucher_cents": voucher}),
                }
            }
            Task::ChangePrice { order } => {
                let new = self.trade.orders[*order].payable_cents * 9 / 10 / 100 * 100;
                Call {
                    path: order_path(self, *order, "change-price"),
                    token: seller(self, *order),
                    body: json!({"new_price_cents": new, "reason": "negotiated volume discount"}),
                }
            }
            Task::Cancel { order } => Call {
                path: order_path(self, *order, "cancel"),
                token: customer(self, *order),
                body: json!({}),
            },
            Task::RequestRefund { order, partial, .. } => {
                let mut body = json!({"reason": "no longer needed"});
                if *partial {
                    body["amount_cents"] =
                        json!((self.trade.orders[*order].payable_cents / 2).max(1));
                }
                Call {
                    path: order_path(self, *order, "refund-requests"),
                    token: customer(self, *order),
                    body,
                }
            }
            Task::SellerRefund { order, .. } => {
                let body = if chance(&mut self.rng, 500) {
                    json!({"kind": "full", "release": "immediate", "reason": "service discontinued for this customer"})
                } else {
                    json!({"kind": "remaining", "amount_cents": (self.trade.orders[*order].payable_cents / 3).max(1),
                        "release": "keep", "keep_reason": "the instance runs to its end", "reason": "goodwill for an outage"})
                };
                Call {
                    path: order_path(self, *order, "seller-refunds"),
                    token: seller(self, *order),
                    body,
                }
            }
            Task::DecideRefund {
                refund,
                by,
                approve,
            } => Call {
                path: format!(
                    "/v1/refunds/{refund}/{}",
                    if *approve { "approve" } else { "reject" }
                ),
                token: match by {
                    Decider::Seller(org) => self.actors.orgs[*org].admin.clone(),
                    Decider::Platform => self.platform.clone(),
                },
                body: if *approve {
                    json!({})
                } else {
                    json!({"reason": "the service was used as ordered"})
                },
            },
            Task::RequestInvoice { order, .. } => {
                let special = chance(&mut self.rng, 300);
                Call {
                    path: order_path(self, *order, "invoice-requests"),
                    token: customer(self, *order),
                    body: json!({"type": if special { "special_vat" } else { "ordinary" },
                        "title": "Example Trading Co., Ltd.", "tax_id": "91310000MA1FL0000X",
                        "address": "88 Century Avenue, Shanghai"}),
                }
            }
            Task::DecideInvoice {
                invoice,
                org,
                issue,
            } => Call {
                path: format!(
                    "/v1/invoices/{invoice}/{}",
                    if *issue { "issue" } else { "reject" }
                ),
                token: self.actors.orgs[*org].admin.clone(),
                body: if *issue {
                    json!({"tracking": "SF1234567890"})
                } else {
                    json!({"reason": "the tax id does not match the title"})
                },
            },
            Task::Review { order, bad, .. } => {
                let body = if *bad {
                    let low = self.rng.random_range(1..=4);
                    json!({"quality": low, "attitude": self.rng.random_range(low..=5), "speed": self.rng.random_range(1..=5),
                        "comment": "slower than promised"})
                } else {
                    json!({"quality": 5, "attitude": 5, "speed": 5, "comment": "works well"})
                };
                Call {
                    path: order_path(self, *order, "review"),
                    token: customer(self, *order),
                    body,
                }
            }
            Task::Reply { review, org } => Call {
                path: format!("/v1/reviews/{review}/reply"),
                token: self.actors.orgs[*org].admin.clone(),
                body: json!({"text": "Thank you, we are on it."}),
            },
        }
    }

    /// Applies the answer of a task: records what it made and plans what follows.
    fn apply(&mut self, task: Task, path: &str, answer: &Answer) -> Result<(), DemoError> {
        let ok = self.accepted(path, answer)?;
        let org_of = |w: &World, o: usize| w.catalogue.products[w.trade.orders[o].product].org;
        match task {
            Task::Pay { order, .. } if ok => {
                self.count("payments");
                self.trade.orders[order].paid_step = Some(self.trade.step);
                let o = &self.trade.orders[order];
                if let Some(i) = o.instance {
                    let spec = answer.body["spec_id"].as_str().map(str::to_owned);
                    let instance = &mut self.trade.instances[i];
                    instance.busy = false;
                    instance.trial = false;
                    if let Some(spec) = spec {
                        let product = &self.catalogue.products[instance.product];
                        if let Some(s) = product.specs.iter().find(|s| s.id == spec) {
                            instance.spec = s.id;
                        }
                    }
                } else if self.trade.orders[order].fate.is_none() {
                    self.trade.unread_instances.push(order);
                }
                if self.trade.orders[order].fate.is_some() {
                    self.track_delivery(order);
                }
                self.plan_after_sale(order);
            }
            Task::Pay { order, .. } | Task::Cancel { order } => {
                if ok {
                    self.count("cancellations");
                }
                if let Some(i) = self.trade.orders[order].instance {
                    self.trade.instances[i].busy = false;
                }
                if let Some(c) = self.trade.orders[order].coupon {
                    self.trade.coupons[c].2 = false;
                }
            }
            Task::ChangePrice { order } => {
                if ok {
                    self.count("price changes");
                    self.trade.orders[order].payable_cents =
                        answer.body["payable_cents"].as_i64().unwrap_or(0);
                }
                let voucher_permille = 0;
                let later = self.rng.random_range(1..=3);
                self.schedule(
                    later,
                    Task::Pay {
                        order,
                        voucher_permille,
                    },
                );
            }
            Task::RequestRefund {
                order, decision, ..
            } if ok => {
                self.count("refund requests");
                self.release(order);
                let refund = text(&answer.body, "id")?;
                let by = Decider::Seller(org_of(self, order));
                let later = self.rng.random_range(1..=2 * STEPS_PER_DAY);
                match decision {
                    Decision::Approve => self.schedule(
                        later,
                        Task::DecideRefund {
                            refund,
                            by,
                            approve: true,
                        },
                    ),
                    Decision::Reject => self.schedule(
                        later,
                        Task::DecideRefund {
                            refund,
                            by,
                            approve: false,
                        },
                    ),
                    Decision::Ignore => {}
                }
            }
            Task::SellerRefund { order, approve } if ok => {
                self.count("seller refunds");
                self.release(order);
                let refund = text(&answer.body, "id")?;
                let later = self.rng.random_range(1..=STEPS_PER_DAY);
                self.schedule(
                    later,
                    Task::DecideRefund {
                        refund,
                        by: Decider::Platform,
                        approve,
                    },
                );
            }
            Task::DecideRefund { approve, .. } if ok => {
                self.count(if approve {
                    "refunds approved"
                } else {
                    "refunds rejected"
                });
            }
            Task::RequestInvoice { order, issue } if ok => {
                self.count("invoice requests");
                let invoice = text(&answer.body, "id")?;
                let org = org_of(self, order);
                let later = self.rng.random_range(1..=2 * STEPS_PER_DAY);
                self.schedule(
                    later,
                    Task::DecideInvoice {
                        invoice,
                        org,
                        issue,
                    },
                );
            }
            Task::DecideInvoice { issue, .. } if ok => {
                self.count(if issue {
                    "invoices issued"
                } else {
                    "invoices rejected"
                });
            }
            Task::Review { order, bad, reply } if ok => {
                self.count(if bad { "bad reviews" } else { "good reviews" });
                if reply {
                    let review = text(&answer.body, "id")?;
                    let org = org_of(self, order);
                    let later = self.rng.random_range(1..=5 * STEPS_PER_DAY);
                    self.schedule(later, Task::Reply { review, org });
                }
            }
            Task::Reply { .. } if ok => self.count("review replies"),
            _ => {}
        }
        Ok(())
    }

    /// An order with a refund on its way: no more orders on its instance.
    fn release(&mut self, order: usize) {
        self.trade.orders[order].refunding = true;
        if let Some(i) = self.trade.orders[order].instance {
            self.trade.instances[i].busy = true;
        }
        for i in &mut self.trade.instances {
            if i.order == order {
                i.busy = true;
            }
        }
    }

    /// True for a 2xx; false (counted by code) for a refusal of the rules (409, 422); an
    /// error for anything else.
    fn accepted(&mut self, what: &str, answer: &Answer) -> Result<bool, DemoError> {
        match answer.status.as_u16() {
            200..=299 => Ok(true),
            409 | 422 => {
                *self
                    .trade
                    .refused
                    .entry(answer.code().to_owned())
                    .or_default() += 1;
                Ok(false)
            }
            status => Err(DemoError::Refused {
                what: what.to_owned(),
                status,
                body: answer.body.to_string(),
            }),
        }
    }

    /// Sends `calls` concurrently; their answers in order.
    async fn send_all(&self, calls: Vec<Call>) -> Result<Vec<Answer>, DemoError> {
        let client = self.client.clone();
        futures::stream::iter(calls)
            .map(|call| {
                let c: Client = client.clone();
                async move { c.try_post(&call.path, &call.token, &call.body).await }
            })
            .buffered(CONCURRENT_REQUESTS_MAX)
            .try_collect()
            .await
    }

    /// Reads the instances the step's payments opened (for later renewals, upgrades and
    /// conversions).
    async fn read_instances(&mut self) -> Result<(), DemoError> {
        let orders = std::mem::take(&mut self.trade.unread_instances);
        let client = self.client.clone();
        let platform = self.platform.clone();
        let paths: Vec<String> = orders
            .iter()
            .map(|o| format!("/v1/instances?order_id={}", self.trade.orders[*o].id))
            .collect();
        let lists: Vec<Value> = futures::stream::iter(paths)
            .map(|path| {
                let c: Client = client.clone();
                let platform = platform.clone();
                async move { c.get(&path, &platform).await }
            })
            .buffered(CONCURRENT_REQUESTS_MAX)
            .try_collect()
            .await?;
        for (order, list) in orders.into_iter().zip(lists) {
            let o = &self.trade.orders[order];
            let product = &self.catalogue.products[o.product];
            for item in list["items"].as_array().into_iter().flatten() {
                let spec = item["spec_id"].as_str().unwrap_or("");
                let Some(spec) = product.specs.iter().find(|s| s.id == spec) else {
                    continue;
                };
                if spec.once {
                    continue;
                }
                self.trade.instances.push(Instance {
                    id: text(item, "id")?,
                    order,
                    customer: o.customer,
                    product: o.product,
                    spec: spec.id,
                    trial: spec.trial,
                    opened_step: self.trade.step,
                    busy: o.refunding,
                });
            }
        }
        Ok(())
    }
}
