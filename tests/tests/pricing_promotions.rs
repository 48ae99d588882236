//! Promotions of SPEC.md §4 against the real `marketlog serve` with the simulated clock: a
//! seller's reduce and discount promotions, what the customer's and the seller's quotes show,
//! the promotion an order gets (in its view, its history and `replay-tool history`), and the
//! end of the window firing when the clock passes it.

use marketlog_tests::server::{run_replay_tool, Market, Server, ADMIN_TOKEN, SIMULATED_START};
use serde_json::{json, Value};

/// The window: from the simulated start for three days.
const ENDS_AT: &str = "2026-11-25T09:00:00+08:00";

fn promotion(server: &Server, m: &Market, body: Value) -> Value {
    let mut body = body;
    body["product_id"] = json!(m.product);
    body["starts_at"] = json!(SIMULATED_START);
    body["ends_at"] = json!(ENDS_AT);
    server
        .send("POST", "/v1/promotions", Some(&m.seller), &[], Some(&body))
        .expect(201)
}

fn quote(server: &Server, m: &Market, token: &str) -> Value {
    server
        .send(
            "GET",
            &format!("/v1/products/{}/quote?spec_id=m&quantity=2", m.product),
            Some(token),
            &[],
            None,
        )
        .expect(200)
}

fn place(server: &Server, m: &Market) -> Value {
    server
        .send(
            "POST",
            "/v1/orders",
            Some(&m.customer),
            &[],
            Some(&json!({"product_id": m.product, "spec_id": "m", "quantity": 2, "order_type": "new"})),
        )
        .expect(201)
}

fn saving(v: &Value) -> (Option<&str>, Option<i64>, Option<i64>) {
    (
        v["promotion"]["id"].as_str(),
        v["promotion"]["saving_cents"].as_i64(),
        v["payable_cents"].as_i64(),
    )
}

#[test]
fn the_best_published_promotion_is_quoted_and_charged_until_its_window_ends() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let m = server.market();
    // 2 × 50.00: 15.00 off, or 60 % of the price (saves 40.00, but stays pre_published).
    let reduce = promotion(
        &server,
        &m,
        json!({"name": "Welcome", "kind": "reduce", "reduce_cents": 1500}),
    );
    let discount = promotion(
        &server,
        &m,
        json!({"name": "Preview", "kind": "discount", "pay_permille": 600,
               "conditions": {"order_types": ["new"], "clients": []}}),
    );
    let (reduce_id, discount_id) = (
        reduce["id"].as_str().unwrap().to_owned(),
        discount["id"].as_str().unwrap().to_owned(),
    );
    assert_eq!(reduce["status"], "pre_published");
    assert_eq!(discount["pay_permille"], 600);
    assert_eq!(discount["reduce_cents"], Value::Null);
    let published = server
        .send(
            "POST",
            &format!("/v1/promotions/{reduce_id}/publish"),
            Some(&m.seller),
            &[],
            None,
        )
        .expect(200);
    assert_eq!(
        (published["status"].as_str(), published["active"].as_bool()),
        (Some("published"), Some(true))
    );

    // The customer sees only the published promotion; the seller also the pre_published one.
    assert_eq!(
        saving(&quote(&server, &m, &m.customer)),
        (Some(reduce_id.as_str()), Some(1500), Some(8500))
    );
    assert_eq!(
        saving(&quote(&server, &m, &m.seller)),
        (Some(discount_id.as_str()), Some(4000), Some(6000))
    );

    // The order gets the best published one, in its answer, its view and its history.
    let order = place(&server, &m);
    assert_eq!(
        saving(&order),
        (Some(reduce_id.as_str()), Some(1500), Some(8500))
    );
    assert_eq!(order["promotion"]["name"], "Welcome");
    assert_eq!(order["original_cents"], 10000);
    assert_eq!(order["coupon"], Value::Null);
    let id = order["id"].as_str().unwrap().to_owned();
    // Read models answer once they have applied the log up to the head (read-your-writes).
    let head = || server.head().to_string();
    let view = server
        .send(
            "GET",
            &format!("/v1/orders/{id}"),
            Some(&m.customer),
            &[("X-Min-Position", &head())],
            None,
        )
        .expect(200);
    assert_eq!(saving(&view), saving(&order));
    let history = server
        .send(
            "GET",
            &format!("/v1/orders/{id}/history"),
            Some(&m.customer),
            &[],
            None,
        )
        .expect(200);
    let placed = &history["events"][0];
    assert_eq!(
        (placed["type"].as_str(), placed["schema"].as_u64()),
        (Some("OrderPlaced"), Some(2))
    );
    assert_eq!(placed["data"]["promotion"]["id"], json!(reduce_id));
    assert_eq!(placed["data"]["promotion"]["saving"], 1500);
    assert_eq!(placed["data"]["coupon"], Value::Null);

    // The list: the seller's two promotions; the status filter; another seller sees none.
    let list = |token: &str, query: &str| {
        server
            .send(
                "GET",
                &format!("/v1/promotions{query}"),
                Some(token),
                &[("X-Min-Position", &head())],
                None,
            )
            .expect(200)["items"]
            .as_array()
            .unwrap()
            .clone()
    };
    assert_eq!(list(&m.seller, "").len(), 2);
    let only_published = list(&m.seller, "?status=published");
    assert_eq!(only_published.len(), 1);
    assert_eq!(only_published[0]["id"], json!(reduce_id));
    let org = server
        .post("/v1/orgs", &json!({"name": "Bolt"}))
        .expect(201)["id"]
        .clone();
    let other = server.token(&json!({"role": "isv_admin", "name": "Cy", "org_id": org}));
    assert!(list(&other, "").is_empty());
    assert_eq!(
        list(ADMIN_TOKEN, &format!("?product_id={}", m.product)).len(),
        2
    );

    // The window ends when the clock passes ends_at: the end deadline fires, a new order gets
    // no promotion, and the promotion is no longer active.
    server
        .post(
            "/v1/admin/clock/advance",
            &json!({"seconds": 3 * 24 * 3600}),
        )
        .expect(200);
    let ended = server.all_events(ADMIN_TOKEN, "&type=PromotionEnded");
    assert_eq!(ended.len(), 2, "{ended:?}");
    let late = place(&server, &m);
    assert_eq!(saving(&late), (None, None, Some(10000)));
    let read = server
        .send(
            "GET",
            &format!("/v1/promotions/{reduce_id}"),
            Some(&m.seller),
            &[("X-Min-Position", &head())],
            None,
        )
        .expect(200);
    assert_eq!(
        (read["status"].as_str(), read["active"].as_bool()),
        (Some("published"), Some(false))
    );
    assert!(list(&m.seller, "").iter().all(|p| p["active"] == false));

    // Deleting answers the promotion as deleted.
    let deleted = server
        .send(
            "DELETE",
            &format!("/v1/promotions/{discount_id}"),
            Some(&m.seller),
            &[],
            None,
        )
        .expect(200);
    assert_eq!(deleted["status"], "deleted");

    server.stop();
    // The offline history of the order shows the promotion too (when the tool is built).
    if let Some((code, text)) = run_replay_tool(&["history", &id], dir.path()) {
        assert_eq!(code, 0, "{text}");
        assert!(text.contains(&reduce_id), "{text}");
    }
}
