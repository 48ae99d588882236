//! Pricing journeys of SPEC.md §4 through the real `marketlog serve` (simulated clock): a
//! promotion and a threshold coupon quoted and charged alike, the steps in the order's history,
//! a voided order releasing its coupon, one coupon raced by eight orders, and the auto-grant
//! policy granting once per qualifying purchase, also across a restart.

use std::time::Duration;

use marketlog_tests::server::{Launch, Market, Server, ADMIN_TOKEN};
use serde_json::{json, Value};

/// Longest wait for the policy runner to react to a payment (it follows the log in the
/// background; the wait ends as soon as the coupon shows).
const POLICY_WAIT: Duration = Duration::from_secs(10);

fn send(
    server: &Server,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> marketlog_tests::server::Reply {
    server.send(method, path, Some(token), &[], body)
}

/// A published reduce promotion of 10 yuan on spec `m` (50 yuan) of the market's product,
/// active for 30 days from the simulated start.
fn promotion(server: &Server, m: &Market) -> Value {
    let p = send(
        server,
        "POST",
        "/v1/promotions",
        &m.seller,
        Some(&json!({
            "product_id": m.product, "name": "launch week", "kind": "reduce", "reduce_cents": 1000,
            "starts_at": "2026-11-22T00:00:00+08:00", "ends_at": "2026-12-22T00:00:00+08:00",
            "spec_ids": [], "conditions": {}
        })),
    )
    .expect(201);
    assert_eq!(p["status"], "pre_published");
    let id = p["id"].as_str().expect("promotion id").to_owned();
    send(
        server,
        "POST",
        &format!("/v1/promotions/{id}/publish"),
        &m.seller,
        None,
    )
    .expect(200)
}

/// A store-wide threshold campaign: 15 yuan off from 80 yuan, 5 coupons, claimable.
fn threshold_campaign(server: &Server, m: &Market, extra: Value) -> String {
    let mut body = json!({
        "name": "spend 80 save 15", "scope": "store", "product_ids": [], "kind": "threshold",
        "threshold_cents": 8000, "reduce_cents": 1500, "per_customer_limit": 1,
        "valid_from": "2026-11-22T00:00:00+08:00", "valid_until": "2026-12-22T00:00:00+08:00",
        "total_quantity": 5, "scenarios": ["new"], "show_in_store": true
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    send(
        server,
        "POST",
        "/v1/coupon-campaigns",
        &m.seller,
        Some(&body),
    )
    .expect(201)["id"]
        .as_str()
        .expect("campaign id")
        .to_owned()
}

fn claim(server: &Server, token: &str, campaign: &str) -> String {
    send(
        server,
        "POST",
        &format!("/v1/coupon-campaigns/{campaign}/claim"),
        token,
        None,
    )
    .expect(201)["id"]
        .as_str()
        .expect("coupon id")
        .to_owned()
}

fn order_body(m: &Market, quantity: u32, coupon: Option<&str>) -> Value {
    let mut b =
        json!({"product_id": m.product, "spec_id": "m", "quantity": quantity, "order_type": "new"});
    if let Some(c) = coupon {
        b["coupon_id"] = json!(c);
    }
    b
}

/// The customer's coupons as `GET /v1/me/coupons` shows them once the read model has
/// applied the log up to its head (read-your-writes).
fn my_coupons(server: &Server, token: &str) -> Vec<Value> {
    let min = server.head().to_string();
    let page = server
        .send(
            "GET",
            "/v1/me/coupons?limit=500",
            Some(token),
            &[("X-Min-Position", &min)],
            None,
        )
        .expect(200);
    page["items"].as_array().cloned().unwrap_or_default()
}

/// The customer's coupon `id`, read as [`my_coupons`] reads.
fn my_coupon(server: &Server, token: &str, id: &str) -> Option<Value> {
    my_coupons(server, token)
        .into_iter()
        .find(|c| c["id"] == id)
}

fn stats(server: &Server, m: &Market, campaign: &str) -> Value {
    send(
        server,
        "GET",
        &format!("/v1/coupon-campaigns/{campaign}"),
        &m.seller,
        None,
    )
    .expect(200)["stats"]
        .clone()
}

#[test]
fn a_promotion_and_a_threshold_coupon_are_quoted_and_charged_alike_and_the_history_shows_each_step()
{
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let m = server.market();
    let promo = promotion(&server, &m);
    let campaign = threshold_campaign(&server, &m, json!({}));
    let coupon = claim(&server, &m.customer, &campaign);

    // 2 × 50 = 100 yuan → −10 (promotion) = 90 ≥ 80 → −15 (coupon) = 75.
    let quote = send(
        &server,
        "GET",
        &format!(
            "/v1/products/{}/quote?spec_id=m&quantity=2&order_type=new&coupon_id={coupon}",
            m.product
        ),
        &m.customer,
        None,
    )
    .expect(200);
    assert_eq!(quote["original_cents"], 10000);
    assert_eq!(quote["promotion"]["id"], promo["id"]);
    assert_eq!(quote["promotion"]["saving_cents"], 1000);
    assert_eq!(quote["coupon"]["saving_cents"], 1500);
    assert_eq!(quote["payable_cents"], 7500);

    // One unit: 50 − 10 = 40 < 80: the coupon cannot apply, and nothing of the order is written.
    let before = server.head();
    let refused = send(
        &server,
        "POST",
        "/v1/orders",
        &m.customer,
        Some(&order_body(&m, 1, Some(&coupon))),
    )
    .error(422, "coupon_not_applicable");
    assert_eq!(refused["rule"], "threshold");
    assert_eq!(server.head(), before, "a refused placement appends nothing");

    let order = send(
        &server,
        "POST",
        "/v1/orders",
        &m.customer,
        Some(&order_body(&m, 2, Some(&coupon))),
    )
    .expect(201);
    assert_eq!(order["payable_cents"], quote["payable_cents"]);
    assert_eq!(order["original_cents"], 10000);
    assert_eq!(order["promotion"], quote["promotion"]);
    assert_eq!(order["coupon"]["id"], coupon.as_str());
    assert_eq!(order["coupon"]["campaign_id"], campaign.as_str());
    assert_eq!(order["coupon"]["saving_cents"], 1500);
    let id = order["id"].as_str().expect("order id");

    let history = send(
        &server,
        "GET",
        &format!("/v1/orders/{id}/history"),
        ADMIN_TOKEN,
        None,
    )
    .expect(200);
    let placed = &history["events"][0]["data"];
    assert_eq!(history["events"][0]["type"], "OrderPlaced");
    assert_eq!(placed["original"], 10000, "{placed}");
    assert_eq!(placed["promotion"]["id"], promo["id"], "{placed}");
    assert_eq!(placed["promotion"]["saving"], 1000, "{placed}");
    assert_eq!(placed["coupon"]["id"], coupon.as_str(), "{placed}");
    assert_eq!(placed["coupon"]["saving"], 1500, "{placed}");
    assert_eq!(placed["payable"], 7500, "{placed}");

    assert_eq!(
        my_coupon(&server, &m.customer, &coupon).expect("held")["status"],
        "used"
    );
    let s = stats(&server, &m, &campaign);
    assert_eq!(
        (
            s["issued"].as_i64(),
            s["granted"].as_i64(),
            s["redeemed"].as_i64(),
            s["remaining"].as_i64()
        ),
        (Some(5), Some(1), Some(1), Some(4)),
        "{s}"
    );
    send(
        &server,
        "POST",
        &format!("/v1/orders/{id}/pay"),
        &m.customer,
        Some(&json!({"amount_cents": 7500})),
    )
    .expect(200);
}

#[test]
fn a_cancelled_order_gives_its_coupon_back_and_a_coupon_raced_by_eight_orders_is_used_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let m = server.market();
    let campaign = threshold_campaign(&server, &m, json!({}));
    let coupon = claim(&server, &m.customer, &campaign);

    let first = send(
        &server,
        "POST",
        "/v1/orders",
        &m.customer,
        Some(&order_body(&m, 2, Some(&coupon))),
    )
    .expect(201);
    let again = send(
        &server,
        "POST",
        "/v1/orders",
        &m.customer,
        Some(&order_body(&m, 2, Some(&coupon))),
    )
    .error(422, "coupon_not_applicable");
    assert_eq!(again["rule"], "used");
    let id = first["id"].as_str().expect("order id");
    send(
        &server,
        "POST",
        &format!("/v1/orders/{id}/cancel"),
        &m.customer,
        None,
    )
    .expect(200);
    assert_eq!(
        my_coupon(&server, &m.customer, &coupon).expect("held")["status"],
        "unused"
    );
    let s = stats(&server, &m, &campaign);
    assert_eq!(
        (s["redeemed"].as_i64(), s["released"].as_i64()),
        (Some(0), Some(1)),
        "{s}"
    );

    // Eight orders race for the released coupon: exactly one gets it, the others are refused
    // `used` and leave no order behind.
    let before_orders = server.all_events(ADMIN_TOKEN, "&type=OrderPlaced").len();
    let replies: Vec<_> = std::thread::scope(|s| {
        let racers: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    send(
                        &server,
                        "POST",
                        "/v1/orders",
                        &m.customer,
                        Some(&order_body(&m, 2, Some(&coupon))),
                    )
                })
            })
            .collect();
        racers
            .into_iter()
            .map(|r| r.join().expect("racer"))
            .collect()
    });
    let mut statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [vec![201], vec![422; 7]].concat());
    for loser in replies.iter().filter(|r| r.status == 422) {
        assert_eq!(loser.json()["error"]["details"]["rule"], "used");
    }
    assert_eq!(
        server.all_events(ADMIN_TOKEN, "&type=OrderPlaced").len(),
        before_orders + 1
    );
    assert_eq!(
        server.all_events(ADMIN_TOKEN, "&type=CouponRedeemed").len(),
        2
    );
}

#[test]
fn paying_for_a_required_product_auto_grants_one_coupon_once_even_across_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let launch = Launch::new(dir.path());
    let server = launch.start();
    let m = server.market();
    let campaign = threshold_campaign(
        &server,
        &m,
        json!({"show_in_store": false, "auto_grant": {"product_ids": [m.product], "purchased_from": "2026-11-22T00:00:00+08:00", "purchased_until": "2026-12-01T00:00:00+08:00"}}),
    );
    buy(&server, &m);
    let granted = coupons_after_policies(&server, &m.customer);
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0]["campaign_id"], campaign.as_str());
    assert_eq!(granted[0]["status"], "unused");
    // Not claimable by hand (not shown in store).
    send(
        &server,
        "POST",
        &format!("/v1/coupon-campaigns/{campaign}/claim"),
        &m.customer,
        None,
    )
    .error(409, "not_claimable");

    let grants_before = server.all_events(ADMIN_TOKEN, "&type=CouponGranted").len();
    drop(server);
    let server = launch.start();
    // Another qualifying purchase after the restart grants nothing more: the limit is 1.
    buy(&server, &m);
    let coupons = coupons_after_policies(&server, &m.customer);
    assert_eq!(coupons.len(), 1);
    assert_eq!(
        server.all_events(ADMIN_TOKEN, "&type=CouponGranted").len(),
        grants_before
    );
    assert_eq!(stats(&server, &m, &campaign)["granted"], 1);
}

/// One unit of the market's product placed and paid by its customer.
fn buy(server: &Server, m: &Market) {
    let order = send(
        server,
        "POST",
        "/v1/orders",
        &m.customer,
        Some(&order_body(m, 1, None)),
    )
    .expect(201);
    let id = order["id"].as_str().expect("order id");
    let pay = json!({"amount_cents": 5000});
    send(
        server,
        "POST",
        &format!("/v1/orders/{id}/pay"),
        &m.customer,
        Some(&pay),
    )
    .expect(200);
}

/// The customer's coupons once the policy runner has reacted to everything in the log so far
/// (`policies_position` of `/v1/health`; it runs in the background), failing after
/// [`POLICY_WAIT`].
fn coupons_after_policies(server: &Server, token: &str) -> Vec<Value> {
    let target = server.head();
    let started = domain::clock::monotonic_now();
    loop {
        let health = server
            .send("GET", "/v1/health", None, &[], None)
            .expect(200);
        if health["policies_position"]
            .as_u64()
            .is_some_and(|p| p >= target)
        {
            break;
        }
        assert!(
            started.elapsed() < POLICY_WAIT,
            "policies still behind {target} after {POLICY_WAIT:?}: {health}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    my_coupons(server, token)
}
