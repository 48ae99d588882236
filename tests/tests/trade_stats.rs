//! Trade statistics against the real `marketlog serve` (simulated clock, zone Asia/Shanghai):
//! three simulated days of orders of several types for two sellers, payments in cash and
//! vouchers, partial and full refunds, a price change, cancellations and page views; then
//! every figure of `GET /v1/dashboard/trade` — totals, by type, both top lists, the series
//! by day, ISO week and month, and the change block — is recounted here from the raw events
//! of `/v1/events` and compared.
//!
//! The recount ([`marketlog_tests::recount`]) shares no code with the server.

use marketlog_tests::recount::{date, day_of, ledger};
use marketlog_tests::server::{Server, ADMIN_TOKEN};
use serde_json::{json, Value};

const MINUTE: i64 = 60;
const HOUR: i64 = 3_600;
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
