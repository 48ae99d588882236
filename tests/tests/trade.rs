//! Trade journeys of SPEC.md §3, §5, §6, §7 and §9 against the real `marketlog serve` with the
//! simulated clock: deadlines fire when the clock passes them, exactly once, also across a
//! restart.

use marketlog_tests::server::{Launch, Market, Server};
use serde_json::{json, Value};

const DAY_SECONDS: u64 = 24 * 3600;

fn market(server: &Server) -> Market {
    server.market()
}

fn place(server: &Server, m: &Market, quantity: u32) -> String {
    let o = server
        .send("POST", "/v1/orders", Some(&m.customer), &[], Some(&json!({"product_id": m.product, "spec_id": "m", "quantity": quantity, "order_type": "new"})))
        .expect(201);
    o["id"].as_str().unwrap().to_owned()
}

fn advance(server: &Server, seconds: u64) -> Value {
    server
        .post("/v1/admin/clock/advance", &json!({"seconds": seconds}))
        .expect(200)
}

fn order(server: &Server, m: &Market, id: &str) -> Value {
    server
        .send(
            "GET",
            &format!("/v1/orders/{id}"),
            Some(&m.customer),
            &[],
            None,
        )
        .expect(200)
}

fn events_of_type(server: &Server, t: &str) -> Vec<Value> {
    server.all_events(marketlog_tests::server::ADMIN_TOKEN, &format!("&type={t}"))
}

#[test]
fn price_change_payment_and_a_refund_request_auto_approved_after_3_days_release_the_instances() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let m = market(&server);
    let quote = server
        .send(
            "GET",
            &format!("/v1/products/{}/quote?spec_id=m&quantity=2", m.product),
            Some(&m.customer),
            &[],
            None,
        )
        .expect(200);
    assert_eq!(
        (
            quote["original_cents"].as_i64(),
            quote["payable_cents"].as_i64()
        ),
        (Some(10000), Some(10000))
    );
    server
        .send(
            "GET",
            &format!("/v1/products/{}/quote?spec_id=nope", m.product),
            Some(&m.customer),
            &[],
            None,
        )
        .error(422, "validation_failed");
    let id = place(&server, &m, 2);
    server
        .send(
            "POST",
            &format!("/v1/orders/{id}/change-price"),
            Some(&m.seller),
            &[],
            Some(&json!({"new_price_cents": 9000, "reason": "bulk discount"})),
        )
        .expect(200);
    let paid = server
        .send(
            "POST",
            &format!("/v1/orders/{id}/pay"),
            Some(&m.customer),
            &[],
            Some(&json!({"amount_cents": 9000, "voucher_cents": 1000})),
        )
        .expect(200);
    assert_eq!(paid["status"], "paid");
    let instances = server
        .send(
            "GET",
            &format!("/v1/instances?order_id={id}"),
            Some(&m.customer),
            &[("x-min-position", &paid["position"].to_string())],
            None,
        )
        .expect(200);
    assert_eq!(instances["items"].as_array().unwrap().len(), 2);
    let refund = server
        .send(
            "POST",
            &format!("/v1/orders/{id}/refund-requests"),
            Some(&m.customer),
            &[],
            Some(&json!({"reason": "not needed"})),
        )
        .expect(201);
    assert_eq!(refund["status"], "pending_seller");
    assert_eq!(refund["auto_approve_at"], "2026-11-25T09:00:00+08:00");
    // Not yet: 3 days minus a second.
    advance(&server, 3 * DAY_SECONDS - 1);
    assert_eq!(order(&server, &m, &id)["status"], "paid");
    advance(&server, 1);
    let o = order(&server, &m, &id);
    assert_eq!(
        (
            o["status"].as_str(),
            o["refunded_cents"].as_i64(),
            o["balance_cents"].as_i64()
        ),
        (Some("refunded"), Some(9000), Some(0))
    );
    let r = server
        .send(
            "GET",
            &format!("/v1/refunds/{}", refund["id"].as_str().unwrap()),
            Some(&m.customer),
            &[],
            None,
        )
        .expect(200);
    assert_eq!(
        (
            r["status"].as_str(),
            r["cash_cents"].as_i64(),
            r["voucher_cents"].as_i64(),
            r["decided_by"].as_str()
        ),
        (Some("refunded"), Some(8000), Some(1000), Some("system"))
    );
    let instances = server
        .send(
            "GET",
            &format!("/v1/instances?order_id={id}"),
            Some(&m.customer),
            &[],
            None,
        )
        .expect(200);
    assert!(instances["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["status"] == "released"));
    // The approval was recorded once, by the system, caused by the deadline.
    let approvals = events_of_type(&server, "RefundApproved");
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0]["actor"], "system");
    assert!(approvals[0]["causation_id"]
        .as_str()
        .unwrap()
        .contains("refund_auto_approval"));
    // The history shows the price change with old and new price and who did it.
    let h = server
        .send(
            "GET",
            &format!("/v1/orders/{id}/history"),
            Some(&m.customer),
            &[],
            None,
        )
        .expect(200);
    let change = h["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "OrderPriceChanged")
        .unwrap();
    assert_eq!(
        (
            change["data"]["old_payable"].as_i64(),
            change["data"]["new_payable"].as_i64()
        ),
        (Some(10000), Some(9000))
    );
}

#[test]
fn an_unpaid_order_is_voided_7_days_after_creation_and_a_review_defaults_after_30_days() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let m = market(&server);
    let unpaid = place(&server, &m, 1);
    let completed = place(&server, &m, 1);
    server
        .send(
            "POST",
            &format!("/v1/orders/{completed}/pay"),
            Some(&m.customer),
            &[],
            Some(&json!({"amount_cents": 5000})),
        )
        .expect(200);
    advance(&server, 7 * DAY_SECONDS);
    let o = order(&server, &m, &unpaid);
    assert_eq!(
        (o["status"].as_str(), o["void_reason"].as_str()),
        (Some("voided"), Some("payment_timeout"))
    );
    assert_eq!(order(&server, &m, &completed)["status"], "paid");
    advance(&server, 23 * DAY_SECONDS);
    let reviews = server
        .send("GET", "/v1/reviews", Some(&m.seller), &[], None)
        .expect(200);
    let items = reviews["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(
        (items[0]["default"].as_bool(), items[0]["quality"].as_u64()),
        (Some(true), Some(5))
    );
    assert!(
        reviews["shop_score"].as_object().unwrap().is_empty(),
        "defaulted reviews are left out of the shop score"
    );
}

#[test]
fn a_deadline_pending_across_a_restart_fires_once_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let launch = Launch::new(dir.path());
    let (m, id) = {
        let server = launch.start();
        let m = market(&server);
        let id = place(&server, &m, 1);
        advance(&server, 6 * DAY_SECONDS);
        server.stop();
        (m, id)
    };
    let server = launch.start();
    assert_eq!(order(&server, &m, &id)["status"], "unpaid");
    advance(&server, DAY_SECONDS);
    assert_eq!(order(&server, &m, &id)["status"], "voided");
    server.stop();
    // A second restart finds nothing left to fire: exactly one void in the log.
    let server = launch.start();
    advance(&server, DAY_SECONDS);
    let voids = events_of_type(&server, "OrderVoided");
    assert_eq!(voids.len(), 1);
    assert_eq!(voids[0]["data"]["reason"], "payment_timeout");
}

#[test]
fn a_command_answer_about_an_order_is_the_order_as_read_plus_its_position_byte_for_byte() {
    // Command answers are serialized straight from the state, reads through the read model:
    // the two must not drift apart, not even in key order.
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let m = market(&server);
    let placed = server.send(
        "POST",
        "/v1/orders",
        Some(&m.customer),
        &[],
        Some(&json!({"product_id": m.product, "spec_id": "m", "quantity": 1, "order_type": "new", "remark": "gift"})),
    );
    let id = placed.expect(201)["id"].as_str().unwrap().to_owned();
    let changed = server.send(
        "POST",
        &format!("/v1/orders/{id}/change-price"),
        Some(&m.seller),
        &[],
        Some(&json!({"new_price_cents": 4000, "reason": "loyal customer"})),
    );
    let position = changed.expect(200)["position"].as_u64().unwrap();
    let read = server.send(
        "GET",
        &format!("/v1/orders/{id}"),
        Some(&m.customer),
        &[("x-min-position", &position.to_string())],
        None,
    );
    assert_eq!(read.status, 200);
    let answer = String::from_utf8(changed.body.clone()).unwrap();
    let without_position = answer.replacen(&format!("\"position\":{position},"), "", 1);
    assert_eq!(
        without_position,
        String::from_utf8(read.body.clone()).unwrap()
    );
    assert_eq!(changed.header("etag"), read.header("etag"));
    assert!(answer.contains("\"price_changes\":[{\"at\":"), "{answer}");
}
