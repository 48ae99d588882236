//! A recount of the trade dashboard (`GET /v1/dashboard/trade`, API.md §8) from raw events,
//! sharing no code with the server: [`ledger`] reads a list of event JSON values — the shape
//! `/v1/events` items and `replay-tool export --format jsonl` lines share (`stream_id`,
//! `type`, `data`) — and [`Ledger`] computes every figure of the answer from them: totals,
//! by type, both top lists, the series by day, ISO week and month, and the change block.
//!
//! Business days are UTC + 8 h (the default zone Asia/Shanghai has no daylight saving);
//! weeks and months are computed from day numbers below.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

const HOUR: i64 = 3_600;
const SHANGHAI_OFFSET_SECONDS: i64 = 8 * HOUR;
const DAY_SECONDS: i64 = 24 * HOUR;

// ---------------------------------------------------------------------------------------
// Calendar arithmetic of the recount (days since 1970-01-01).

/// (year, month, day) of day number `z` (H. Hinnant's `civil_from_days`).
fn civil(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Day number of (y, m, d) (`days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn day_of(date: &str) -> i64 {
    let p: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    days_from_civil(p[0], p[1], p[2])
}

pub fn label(day: i64, granularity: &str) -> String {
    let (y, m, d) = civil(day);
    match granularity {
        "month" => format!("{y}-{m:02}"),
        "week" => {
            let weekday = (day + 3).rem_euclid(7); // 0 = Monday; 1970-01-01 was a Thursday
            let thursday = day - weekday + 3;
            let (wy, _, _) = civil(thursday);
            let week = (thursday - days_from_civil(wy, 1, 1)) / 7 + 1;
            format!("{wy}-W{week:02}")
        }
        _ => format!("{y}-{m:02}-{d:02}"),
    }
}

/// The Shanghai business day of an RFC 3339 time.
pub fn business_day(at: &Value) -> i64 {
    let micros = domain::Timestamp::parse_rfc3339(at.as_str().unwrap())
        .unwrap()
        .as_micros();
    (micros / 1_000_000 + SHANGHAI_OFFSET_SECONDS).div_euclid(DAY_SECONDS)
}

fn round_half_up(n: i128, d: i128) -> i64 {
    let (q, r) = (n / d, (n % d).abs());
    let q = if 2 * r >= d { q + n.signum() } else { q };
    q as i64
}

// ---------------------------------------------------------------------------------------
// The recount.

/// An order as the recount sees it.
#[derive(Debug, Default)]
pub struct Order {
    pub seller: String,
    pub product: String,
    pub customer: String,
    pub order_type: String,
    /// Business day it was placed on.
    pub day: i64,
    pub payable: i64,
}

/// The facts the dashboard counts, per seller and business day.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Product id → name.
    pub names: BTreeMap<String, String>,
    /// Product id → seller org id.
    pub product_seller: BTreeMap<String, String>,
    /// Order id → order.
    pub orders: BTreeMap<String, Order>,
    /// (seller, day, customer, amount, cash, voucher)
    pub payments: Vec<(String, i64, String, i64, i64, i64)>,
    /// (seller, day, amount)
    pub requested: Vec<(String, i64, i64)>,
    /// (seller, day, amount, cash, voucher)
    pub refunded: Vec<(String, i64, i64, i64, i64)>,
    /// (seller, day, product, visitor)
    pub views: Vec<(String, i64, String, String)>,
}

/// The ledger of `events` (in log order).
pub fn ledger(events: &[Value]) -> Ledger {
    let mut l = Ledger::default();
    for e in events {
        let d = &e["data"];
        let stream = e["stream_id"].as_str().unwrap();
        let order = stream.strip_prefix("order-").unwrap_or("");
        let seller_of = |l: &Ledger| l.orders.get(order).map(|o| o.seller.clone());
        match e["type"].as_str().unwrap() {
            "ProductCreated" => {
                let id = d["product_id"].as_str().unwrap().to_owned();
                l.names
                    .insert(id.clone(), d["name"].as_str().unwrap().to_owned());
                l.product_seller
                    .insert(id, d["seller_org_id"].as_str().unwrap().to_owned());
            }
            "OrderPlaced" => {
                l.orders.insert(
                    order.to_owned(),
                    Order {
                        seller: d["seller_org_id"].as_str().unwrap().to_owned(),
                        product: d["product_id"].as_str().unwrap().to_owned(),
                        customer: d["customer_id"].as_str().unwrap().to_owned(),
                        order_type: d["order_type"].as_str().unwrap().to_owned(),
                        day: business_day(&d["placed_at"]),
                        payable: d["payable"].as_i64().unwrap(),
                    },
                );
            }
            "OrderPriceChanged" => {
                l.orders.get_mut(order).unwrap().payable = d["new_payable"].as_i64().unwrap();
            }
            "OrderPaid" => {
                let o = &l.orders[order];
                l.payments.push((
                    o.seller.clone(),
                    business_day(&d["at"]),
                    o.customer.clone(),
                    d["amount"].as_i64().unwrap(),
                    d["cash"].as_i64().unwrap(),
                    d["voucher"].as_i64().unwrap(),
                ));
            }
            "RefundRequested" => {
                let s = seller_of(&l).unwrap();
                l.requested
                    .push((s, business_day(&d["at"]), d["amount"].as_i64().unwrap()));
            }
            "RefundApproved" => {
                let s = seller_of(&l).unwrap();
                l.refunded.push((
                    s,
                    business_day(&d["at"]),
                    d["amount"].as_i64().unwrap(),
                    d["cash"].as_i64().unwrap(),
                    d["voucher"].as_i64().unwrap(),
                ));
            }
            "PageViewsRecorded" => {
                for v in d["views"].as_array().unwrap() {
                    let p = v["product_id"].as_str().unwrap().to_owned();
                    l.views.push((
                        l.product_seller[&p].clone(),
                        business_day(&v["at"]),
                        p,
                        v["visitor_id"].as_str().unwrap().to_owned(),
                    ));
                }
            }
            _ => {}
        }
    }
    l
}

fn permille(part: usize, whole: usize) -> Value {
    if whole == 0 {
        Value::Null
    } else {
        json!(round_half_up(part as i128 * 1000, whole as i128))
    }
}

/// Order types, in the answer's order.
pub const TYPES: [&str; 5] = ["new", "renewal", "trial", "conversion", "upgrade"];

impl Ledger {
    /// `totals` of `seller` over the days `from..=to`.
    pub fn totals(&self, seller: &str, from: i64, to: i64) -> Value {
        let inside = |s: &str, day: i64| s == seller && (from..=to).contains(&day);
        let orders: Vec<&Order> = self
            .orders
            .values()
            .filter(|o| inside(&o.seller, o.day))
            .collect();
        let ordering: BTreeSet<&str> = orders.iter().map(|o| o.customer.as_str()).collect();
        let pays: Vec<_> = self.payments.iter().filter(|p| inside(&p.0, p.1)).collect();
        let paying: BTreeSet<&str> = pays.iter().map(|p| p.2.as_str()).collect();
        let paid: i64 = pays.iter().map(|p| p.3).sum();
        let cash: i64 = pays.iter().map(|p| p.4).sum();
        let voucher: i64 = pays.iter().map(|p| p.5).sum();
        let refunds: Vec<_> = self.refunded.iter().filter(|r| inside(&r.0, r.1)).collect();
        let refunded: i64 = refunds.iter().map(|r| r.2).sum();
        let views: Vec<_> = self.views.iter().filter(|v| inside(&v.0, v.1)).collect();
        let visitors: BTreeSet<&str> = views.iter().map(|v| v.3.as_str()).collect();
        json!({
            "order_amount_cents": orders.iter().map(|o| o.payable).sum::<i64>(),
            "paid_amount_cents": paid,
            "trade_amount_cents": paid - refunded,
            "refund_requested_cents": self.requested.iter().filter(|r| inside(&r.0, r.1)).map(|r| r.2).sum::<i64>(),
            "refunded_cents": refunded,
            "cash_income_cents": cash - refunds.iter().map(|r| r.3).sum::<i64>(),
            "voucher_income_cents": voucher - refunds.iter().map(|r| r.4).sum::<i64>(),
            "ordering_customers": ordering.len(),
            "paying_customers": paying.len(),
            "avg_paid_per_customer_cents": if paying.is_empty() { 0 } else { round_half_up(i128::from(paid), paying.len() as i128) },
            "visitors": visitors.len(),
            "views": views.len(),
            "order_conversion_permille": permille(ordering.len(), visitors.len()),
            "pay_conversion_permille": permille(paying.len(), visitors.len()),
            "order_to_pay_permille": permille(paying.len(), ordering.len()),
        })
    }

    pub fn by_type(&self, seller: &str, from: i64, to: i64) -> Value {
        let orders: Vec<&Order> = self
            .orders
            .values()
            .filter(|o| o.seller == seller && (from..=to).contains(&o.day))
            .collect();
        let mut out = json!({});
        for t in TYPES {
            let count = orders.iter().filter(|o| o.order_type == t).count();
            let share = if orders.is_empty() {
                0
            } else {
                round_half_up(count as i128 * 1000, orders.len() as i128)
            };
            out[t] = json!({"count": count, "share_permille": share});
        }
        out
    }

    fn top(&self, counts: BTreeMap<String, usize>, key: &str) -> Value {
        let mut ranked: Vec<(String, usize)> = counts.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        ranked.truncate(3);
        Value::Array(
            ranked
                .into_iter()
                .map(|(p, n)| json!({"product_id": p, "name": self.names[&p], key: n}))
                .collect(),
        )
    }

    pub fn top_products(&self, seller: &str, from: i64, to: i64) -> Value {
        let mut counts = BTreeMap::new();
        for o in self.orders.values() {
            if o.seller == seller && (from..=to).contains(&o.day) {
                *counts.entry(o.product.clone()).or_default() += 1;
            }
        }
        self.top(counts, "orders")
    }

    pub fn top_by_visitors(&self, seller: &str, from: i64, to: i64) -> Value {
        let mut sets: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
        for v in &self.views {
            if v.0 == seller && (from..=to).contains(&v.1) {
                sets.entry(v.2.clone()).or_default().insert(&v.3);
            }
        }
        self.top(
            sets.into_iter().map(|(p, s)| (p, s.len())).collect(),
            "visitors",
        )
    }

    pub fn series(&self, seller: &str, from: i64, to: i64, granularity: &str) -> Value {
        let mut periods: Vec<(String, i64, i64)> = Vec::new();
        for day in from..=to {
            let l = label(day, granularity);
            match periods.last_mut() {
                Some(p) if p.0 == l => p.2 = day,
                _ => periods.push((l, day, day)),
            }
        }
        Value::Array(
            periods
                .into_iter()
                .map(|(l, a, b)| {
                    let mut t = self.totals(seller, a, b);
                    t["period"] = json!(l);
                    t
                })
                .collect(),
        )
    }

    pub fn change(&self, seller: &str, from: i64, to: i64) -> Value {
        let n = to - from + 1;
        let now = self.totals(seller, from, to);
        let before = self.totals(seller, from - n, from - 1);
        let mut out = json!({});
        for (field, current) in now.as_object().unwrap() {
            let previous = &before[field];
            let delta = match (current.as_i64(), previous.as_i64()) {
                (Some(c), Some(p)) if p != 0 => json!(round_half_up(
                    (i128::from(c) - i128::from(p)) * 1000,
                    i128::from(p).abs()
                )),
                _ => Value::Null,
            };
            out[field] = json!({"previous": previous, "delta_permille": delta});
        }
        out
    }
}

/// `YYYY-MM-DD` of day number `day`.
pub fn date(day: i64) -> String {
    label(day, "day")
}

impl Ledger {
    /// The sellers: every org that created a product.
    pub fn sellers(&self) -> BTreeSet<&str> {
        self.product_seller.values().map(String::as_str).collect()
    }

    /// The first and last business day with anything the dashboard counts, if any.
    pub fn days(&self) -> Option<(i64, i64)> {
        let days = (self.orders.values().map(|o| o.day))
            .chain(self.payments.iter().map(|p| p.1))
            .chain(self.requested.iter().map(|r| r.1))
            .chain(self.refunded.iter().map(|r| r.1))
            .chain(self.views.iter().map(|v| v.1));
        days.fold(None, |range, d| match range {
            None => Some((d, d)),
            Some((a, b)) => Some((a.min(d), b.max(d))),
        })
    }
}

// ---------------------------------------------------------------------------------------
// The workbench's task figures (SPEC §10 管理工作台).

/// Node types whose side is fixed (SPEC §8 "Node types"); the others act on their `side`,
/// the provider's when they name none.
const FIXED_SIDES: [(&str, &str); 5] = [
    ("assign_provider", "system"),
    ("assign_order", "system"),
    ("submit_requirement", "customer"),
    ("complete_project", "customer"),
    ("claim_order", "provider"),
];

/// Microseconds since the epoch of an RFC 3339 time.
fn micros(at: &Value) -> i64 {
    domain::Timestamp::parse_rfc3339(at.as_str().expect("a time"))
        .expect("RFC 3339")
        .as_micros()
}

/// One provider-side node entry: its org, deadline, when it ended and whether the provider
/// side ended it (done).
#[derive(Debug)]
struct Task {
    org: String,
    entered: i64,
    due: Option<i64>,
    ended: Option<i64>,
    done: bool,
}

/// A business day's task figures of one provider org.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskFigures {
    /// `tasks_due_today`: deadline on the day.
    pub due: u64,
    /// Of those, done by the end of the day (`completion_rate` = due_done / due).
    pub due_done: u64,
    /// `tasks_done_today`.
    pub done: u64,
    /// `done_early`: done on the day, deadline after it.
    pub early: u64,
    /// `overdue`: due on the day and still open at 17:30 (once it is 17:30).
    pub overdue: u64,
}

/// The tasks of `events`: every entry of a node the provider acts on while the project has
/// a provider, keyed by (delivery stream, seq). It ends at the record time of the
/// `NodeCompleted` / `NodeRejected` of that entry (done unless by the system), of a
/// `ProviderChanged` or `DeliveryCancelled` abandoning it (not done); a pause clears its
/// deadline and the resume sets the moved one. Nothing after a project's end counts.
fn tasks(events: &[Value]) -> BTreeMap<(String, u64), Task> {
    #[derive(Default)]
    struct Project {
        sides: Vec<String>,
        provider: Option<String>,
        open: Option<u64>,
        over: bool,
    }
    let mut projects: BTreeMap<String, Project> = BTreeMap::new();
    let mut tasks = BTreeMap::new();
    for e in events {
        let stream = e["stream_id"].as_str().expect("stream_id");
        if !stream.starts_with("delivery-") {
            continue;
        }
        let d = &e["data"];
        let kind = e["type"].as_str().expect("type");
        if kind == "DeliveryStarted" {
            let sides = d["flow"].as_array().expect("flow").iter().map(|f| {
                let node = &f["node"];
                let fixed = FIXED_SIDES.iter().find(|(t, _)| node["type"] == *t);
                match (fixed, node["side"].as_str()) {
                    (Some((_, side)), _) => (*side).to_owned(),
                    (None, Some(side)) => side.to_owned(),
                    (None, None) => "provider".to_owned(),
                }
            });
            projects.insert(
                stream.to_owned(),
                Project {
                    sides: sides.collect(),
                    ..Project::default()
                },
            );
            continue;
        }
        let Some(p) = projects.get_mut(stream).filter(|p| !p.over) else {
            continue;
        };
        let seq = d["seq"].as_u64();
        let open = p.open.filter(|o| Some(*o) == seq);
        let mut end = |done: bool| {
            if let Some(t) = open.and_then(|o| tasks.get_mut(&(stream.to_owned(), o))) {
                let t: &mut Task = t;
                t.ended = Some(micros(&e["at"]));
                t.done = done;
            }
            open.is_some()
        };
        match kind {
            "ProviderAssigned" => p.provider = d["org_id"].as_str().map(str::to_owned),
            "NodeEntered" => {
                p.open = None;
                let index = d["index"].as_u64().expect("index") as usize;
                if let (Some("provider"), Some(org)) =
                    (p.sides.get(index).map(String::as_str), &p.provider)
                {
                    let seq = seq.expect("seq");
                    let task = Task {
                        org: org.clone(),
                        entered: micros(&d["at"]),
                        due: (!d["due_at"].is_null()).then(|| micros(&d["due_at"])),
                        ended: None,
                        done: false,
                    };
                    tasks.insert((stream.to_owned(), seq), task);
                    p.open = Some(seq);
                }
            }
            "NodeCompleted" | "NodeRejected" => {
                let ended = end(d["by"] != "system");
                if ended {
                    p.open = None;
                }
            }
            "ProviderChanged" => {
                if end(false) {
                    p.open = None;
                }
                p.provider = d["to"].as_str().map(str::to_owned);
            }
            "DeliveryCancelled" => {
                end(false);
                p.over = true;
            }
            "DeliveryCompleted" => p.over = true,
            "DeliveryPaused" | "DeliveryResumed" => {
                if let Some(t) = open.and_then(|o| tasks.get_mut(&(stream.to_owned(), o))) {
                    t.due = (!d["due_at"].is_null()).then(|| micros(&d["due_at"]));
                }
            }
            _ => {}
        }
    }
    tasks
}

/// The task figures of `org` on business day `day`, asked at `now` (seconds since the
/// epoch), recounted from `events`.
pub fn workbench_tasks(events: &[Value], org: &str, day: i64, now: i64) -> TaskFigures {
    let second = 1_000_000;
    let start = (day * DAY_SECONDS - SHANGHAI_OFFSET_SECONDS) * second;
    let end = start + DAY_SECONDS * second;
    let cutoff = start + (17 * HOUR + 30 * 60) * second;
    let on = |t: i64| start <= t && t < end;
    let mut f = TaskFigures {
        due: 0,
        due_done: 0,
        done: 0,
        early: 0,
        overdue: 0,
    };
    for t in tasks(events).values().filter(|t| t.org == org) {
        if t.due.is_some_and(on) {
            f.due += 1;
            f.due_done += u64::from(t.done && t.ended.is_some_and(|x| x < end));
            let open_at_cutoff = t.entered <= cutoff && t.ended.is_none_or(|x| x > cutoff);
            f.overdue += u64::from(now * second >= cutoff && open_at_cutoff);
        }
        if t.done && t.ended.is_some_and(on) {
            f.done += 1;
            f.early += u64::from(t.due.is_some_and(|d| d >= end));
        }
    }
    f
}

/// The provider orgs with a task due or done on `day`, and how many.
pub fn task_days(events: &[Value]) -> BTreeMap<(String, i64), u64> {
    let day = |t: i64| (t / 1_000_000 + SHANGHAI_OFFSET_SECONDS).div_euclid(DAY_SECONDS);
    let mut out = BTreeMap::new();
    for t in tasks(events).values() {
        for d in t.due.iter().chain(t.ended.iter().filter(|_| t.done)) {
            *out.entry((t.org.clone(), day(*d))).or_default() += 1;
        }
    }
    out
}
