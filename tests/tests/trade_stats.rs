//! Trade statistics against the real `marketlog serve` (simulated clock, zone Asia/Shanghai):
//! three simulated days of orders of several types for two sellers, payments in cash and
//! vouchers, partial and full refunds, a price change, cancellations and page views; then
//! every figure of `GET /v1/dashboard/trade` — totals, by type, both top lists, the series
//! by day, ISO week and month, and the change block — is recounted here from the raw events
//! of `/v1/events` and compared.
//!
//! The recount shares no code with the server: business days are UTC + 8 h (Shanghai has no
//! daylight saving), weeks and months are computed from day numbers below.

use std::collections::{BTreeMap, BTreeSet};

use marketlog_tests::server::{Server, ADMIN_TOKEN};
use serde_json::{json, Value};

const MINUTE: i64 = 60;
const HOUR: i64 = 3_600;
const SHANGHAI_OFFSET_SECONDS: i64 = 8 * HOUR;
const DAY_SECONDS: i64 = 24 * HOUR;

struct World<'a> {
    server: &'a Server,
    /// Simulated now, seconds since the epoch.
    now: i64,
}

impl World<'_> {
    fn advance(&mut self, seconds: i64) {
        self.server
            .post("/v1/admin/clock/advance", &json!({ "seconds": seconds }))
            .expect(200);
        self.now += seconds;
    }

    fn send(&self, token: &str, path: &str, body: Value, status: u16) -> Value {
        self.server
            .send("POST", path, Some(token), &[], Some(&body))
            .expect(status)
    }

    fn read(&self, token: &str, path: &str) -> Value {
        let head = self.server.head().to_string();
        self.server
            .send("GET", path, Some(token), &[("X-Min-Position", &head)], None)
            .expect(200)
    }

    /// An order as `customer`: (id, payable).
    fn order(
        &self,
        customer: &str,
        product: &str,
        spec: &str,
        quantity: u32,
        extra: Value,
    ) -> (String, i64) {
        let mut body = json!({"product_id": product, "spec_id": spec, "quantity": quantity,
                              "order_type": "new"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let o = self.send(customer, "/v1/orders", body, 201);
        (
            o["id"].as_str().unwrap().to_owned(),
            o["payable_cents"].as_i64().unwrap(),
        )
    }

    fn pay(&self, customer: &str, order: &str, amount: i64, voucher: i64) {
        self.send(
            customer,
            &format!("/v1/orders/{order}/pay"),
            json!({"amount_cents": amount, "voucher_cents": voucher}),
            200,
        );
    }

    fn instance(&self, customer: &str, order: &str) -> String {
        self.read(customer, &format!("/v1/instances?order_id={order}"))["items"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A customer's refund request approved by the seller.
    fn refund(&self, customer: &str, seller: &str, order: &str, amount: i64, approve: bool) {
        let r = self.send(
            customer,
            &format!("/v1/orders/{order}/refund-requests"),
            json!({"amount_cents": amount, "reason": "not needed"}),
            201,
        );
        if approve {
            let id = r["id"].as_str().unwrap();
            self.send(seller, &format!("/v1/refunds/{id}/approve"), json!({}), 200);
        }
    }

    /// Page views at ten minutes ago.
    fn views(&self, views: &[(&str, &str)]) {
        let at =
            domain::Timestamp::from_micros((self.now - 10 * MINUTE) * 1_000_000).to_rfc3339_utc();
        let views: Vec<Value> = views
            .iter()
            .map(|(p, v)| json!({"product_id": p, "visitor_id": v, "at": at, "dwell_ms": 30_000}))
            .collect();
        self.send(
            ADMIN_TOKEN,
            "/v1/analytics/page-views",
            json!({ "views": views }),
            201,
        );
    }
}

/// An org with its admin: (org id, admin token).
fn seller(server: &Server, name: &str) -> (String, String) {
    let org = server
        .post("/v1/orgs", &json!({ "name": name }))
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = server.token(&json!({"role": "isv_admin", "name": name, "org_id": org}));
    (org, admin)
}

/// A listed SaaS product with a monthly spec `m` at `price` and a trial spec `t`.
fn product(server: &Server, admin: &str, code: &str, name: &str, price: i64) -> String {
    let id = server
        .send("POST", "/v1/products", Some(admin), &[], Some(&json!({
            "code": code, "name": name, "category": "compute", "delivery": "saas",
            "delivery_days": 0, "warranty_days": 0,
            "specs": [{"id": "m", "name": "monthly", "duration": 1, "unit": "month", "price_cents": price},
                      {"id": "t", "name": "trial", "duration": 1, "unit": "month", "price_cents": 0, "trial": true}]
        })))
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server
        .send(
            "POST",
            &format!("/v1/products/{id}/submit"),
            Some(admin),
            &[],
            None,
        )
        .expect(200);
    server
        .post(&format!("/v1/products/{id}/approve"), &json!({}))
        .expect(200);
    id
}

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

fn day_of(date: &str) -> i64 {
    let p: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    days_from_civil(p[0], p[1], p[2])
}

fn label(day: i64, granularity: &str) -> String {
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
fn business_day(at: &Value) -> i64 {
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

#[derive(Default)]
struct Order {
    seller: String,
    product: String,
    customer: String,
    order_type: String,
    day: i64,
    payable: i64,
}

#[derive(Default)]
struct Ledger {
    names: BTreeMap<String, String>,
    product_seller: BTreeMap<String, String>,
    orders: BTreeMap<String, Order>,
    /// (seller, day, customer, amount, cash, voucher)
    payments: Vec<(String, i64, String, i64, i64, i64)>,
    /// (seller, day, amount)
    requested: Vec<(String, i64, i64)>,
    /// (seller, day, amount, cash, voucher)
    refunded: Vec<(String, i64, i64, i64, i64)>,
    /// (seller, day, product, visitor)
    views: Vec<(String, i64, String, String)>,
}

fn ledger(events: &[Value]) -> Ledger {
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

const TYPES: [&str; 5] = ["new", "renewal", "trial", "conversion", "upgrade"];

impl Ledger {
    /// `totals` of `seller` over the days `from..=to`.
    fn totals(&self, seller: &str, from: i64, to: i64) -> Value {
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

    fn by_type(&self, seller: &str, from: i64, to: i64) -> Value {
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

    fn top_products(&self, seller: &str, from: i64, to: i64) -> Value {
        let mut counts = BTreeMap::new();
        for o in self.orders.values() {
            if o.seller == seller && (from..=to).contains(&o.day) {
                *counts.entry(o.product.clone()).or_default() += 1;
            }
        }
        self.top(counts, "orders")
    }

    fn top_by_visitors(&self, seller: &str, from: i64, to: i64) -> Value {
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

    fn series(&self, seller: &str, from: i64, to: i64, granularity: &str) -> Value {
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

    fn change(&self, seller: &str, from: i64, to: i64) -> Value {
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

fn date(day: i64) -> String {
    label(day, "day")
}

#[test]
fn every_figure_of_the_trade_dashboard_equals_a_recount_of_the_raw_events() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let start = domain::Timestamp::parse_rfc3339(marketlog_tests::server::SIMULATED_START)
        .unwrap()
        .as_micros()
        / 1_000_000;
    let mut w = World {
        server: &server,
        now: start,
    };
    let (acme, acme_admin) = seller(&server, "Acme");
    let (bolt, bolt_admin) = seller(&server, "Bolt");
    let vm = product(&server, &acme_admin, "VM", "Acme VM", 5_000);
    let db = product(&server, &acme_admin, "DB", "Acme DB", 8_000);
    let disk = product(&server, &acme_admin, "DISK", "Acme Disk", 1_000);
    let x = product(&server, &bolt_admin, "X", "Bolt X", 3_000);
    let customers: Vec<String> = (1..=4)
        .map(|i| server.token(&json!({"role": "customer", "name": format!("c{i}")})))
        .collect();
    let [c1, c2, c3, c4] = [&customers[0], &customers[1], &customers[2], &customers[3]];
    let none = json!({});

    // Day 1, Sunday 2026-11-22 (09:00 Shanghai).
    let (o1, p) = w.order(c1, &vm, "m", 1, none.clone());
    w.pay(c1, &o1, p, 1_000);
    let (o2, p) = w.order(c2, &db, "m", 2, none.clone());
    w.pay(c2, &o2, p, 0);
    let (o3, p) = w.order(c3, &x, "m", 1, none.clone());
    w.pay(c3, &o3, p, 500);
    let (o4, _) = w.order(c4, &vm, "m", 1, none.clone());
    w.send(c4, &format!("/v1/orders/{o4}/cancel"), json!({}), 200);
    let (o5, p) = w.order(c3, &disk, "m", 1, none.clone());
    w.pay(c3, &o5, p, 0);
    w.advance(2 * HOUR);
    w.views(&[
        (&vm, "v1"),
        (&vm, "v2"),
        (&db, "v1"),
        (&x, "v3"),
        (&disk, "v9"),
    ]);
    // 23:40 an order, paid at 00:10: two business days.
    w.advance(12 * HOUR + 40 * MINUTE);
    let (late, late_payable) = w.order(c1, &db, "m", 1, none.clone());
    w.views(&[(&vm, "v7")]);
    w.advance(30 * MINUTE);
    w.pay(c1, &late, late_payable, 2_000);

    // Day 2, Monday 2026-11-23.
    w.advance(9 * HOUR);
    let instance = w.instance(c1, &o1);
    let (renewal, p) = w.order(
        c1,
        &vm,
        "m",
        1,
        json!({"order_type": "renewal", "instance_id": instance}),
    );
    w.pay(c1, &renewal, p, 0);
    w.refund(c2, &acme_admin, &o2, 3_000, true);
    let (trial, _) = w.order(c3, &vm, "t", 1, json!({"order_type": "trial"}));
    w.pay(c3, &trial, 0, 0);
    let trial_instance = w.instance(c3, &trial);
    let (conversion, p) = w.order(
        c3,
        &vm,
        "m",
        1,
        json!({"order_type": "conversion", "instance_id": trial_instance}),
    );
    w.pay(c3, &conversion, p, 1_500);
    let seller_refund = w.send(
        &bolt_admin,
        &format!("/v1/orders/{o3}/seller-refunds"),
        json!({"kind": "full", "release": "immediate", "reason": "outage"}),
        201,
    );
    w.advance(HOUR);
    let id = seller_refund["id"].as_str().unwrap();
    w.send(
        ADMIN_TOKEN,
        &format!("/v1/refunds/{id}/approve"),
        json!({}),
        200,
    );
    let (changed, _) = w.order(c4, &db, "m", 1, none.clone());
    w.send(
        &acme_admin,
        &format!("/v1/orders/{changed}/change-price"),
        json!({"new_price_cents": 7_000, "reason": "loyal customer"}),
        200,
    );
    w.pay(c4, &changed, 7_000, 0);
    w.views(&[
        (&vm, "v2"),
        (&vm, "v4"),
        (&x, "v3"),
        (&x, "v5"),
        (&db, "v4"),
    ]);

    // Day 3, Tuesday 2026-11-24.
    w.advance(DAY_SECONDS - 2 * HOUR);
    let (big, p) = w.order(c2, &vm, "m", 3, none.clone());
    w.pay(c2, &big, p, 5_000);
    w.refund(c4, &acme_admin, &changed, 7_000, true);
    w.refund(c1, &acme_admin, &renewal, 1_000, false);
    let (unpaid, _) = w.order(c4, &disk, "m", 2, none.clone());
    w.send(c4, &format!("/v1/orders/{unpaid}/cancel"), json!({}), 200);
    w.views(&[
        (&vm, "v1"),
        (&vm, "v6"),
        (&disk, "v6"),
        (&disk, "v8"),
        (&db, "v1"),
    ]);
    w.advance(HOUR);

    let head = server.head().to_string();
    let events = server.all_events(ADMIN_TOKEN, "");
    let l = ledger(&events);
    let day1 = day_of("2026-11-22");
    let ranges = [(day1, day1 + 2), (day1 + 1, day1 + 2), (day1, day1)];
    let mut compared = 0;
    for (org, token) in [(&acme, acme_admin.as_str()), (&bolt, ADMIN_TOKEN)] {
        for (from, to) in ranges {
            for granularity in ["day", "week", "month"] {
                let path = format!(
                    "/v1/dashboard/trade?org_id={org}&from={}&to={}&granularity={granularity}",
                    date(from),
                    date(to)
                );
                let d = server
                    .send(
                        "GET",
                        &path,
                        Some(token),
                        &[("X-Min-Position", &head)],
                        None,
                    )
                    .expect(200);
                let at = format!("{path}: {d:#}");
                assert_eq!(d["totals"], l.totals(org, from, to), "totals of {at}");
                assert_eq!(d["by_type"], l.by_type(org, from, to), "by_type of {at}");
                assert_eq!(
                    d["top_products"],
                    l.top_products(org, from, to),
                    "top of {at}"
                );
                assert_eq!(
                    d["top_products_by_visitors"],
                    l.top_by_visitors(org, from, to),
                    "top by visitors of {at}"
                );
                assert_eq!(
                    d["series"],
                    l.series(org, from, to, granularity),
                    "series of {at}"
                );
                assert_eq!(d["change"], l.change(org, from, to), "change of {at}");
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 18);
    // The journey reached what it set out to cover.
    let all = l.totals(&acme, day1, day1 + 2);
    assert!(all["refunded_cents"].as_i64().unwrap() > 0, "{all}");
    assert!(all["voucher_income_cents"].as_i64().unwrap() > 0, "{all}");
    let types = l.by_type(&acme, day1, day1 + 2);
    for t in ["new", "renewal", "trial", "conversion"] {
        assert!(types[t]["count"].as_u64().unwrap() > 0, "{t}: {types}");
    }
    let second = l.change(&acme, day1 + 1, day1 + 2);
    assert!(
        second["paid_amount_cents"]["delta_permille"].is_i64(),
        "{second}"
    );
    let late_day = l.orders[&late].day;
    assert_eq!(late_day, day1, "the 23:40 order is of the first day");
    assert!(
        l.payments
            .iter()
            .any(|p| p.1 == day1 + 1 && p.3 == late_payable),
        "its payment at 00:10 is of the second"
    );
}
