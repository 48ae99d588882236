//! Instances, the instance-bound order types and product management through the API
//! (SPEC.md §2, §3, §5, §6): expiry and closing on the clock, renewal, trial → conversion,
//! upgrade pricing, spec prices for new orders only, hidden specs and products, the one-time
//! distribution commission and its claw-back, a seller refund that keeps the instance.

mod common;

use axum::http::StatusCode;
use common::{Api, ADMIN};
use serde_json::{json, Value};

const DAY: u64 = 24 * 3600;

struct Shop {
    seller: String,
    product: String,
    customer: String,
}

/// A listed SaaS product with a monthly (50 yuan), a yearly (500 yuan) and a free trial
/// spec, and a customer.
async fn shop(api: &Api) -> Shop {
    let (org, _) = api.create_org("Acme").await;
    let (_, seller) = api.create_principal("isv_admin", Some(&org)).await;
    let product = api
        .post_as(&seller, "/v1/products", json!({
            "code": "VM", "name": "Cloud VM", "category": "compute", "delivery": "saas",
            "delivery_days": 0, "warranty_days": 0,
            "specs": [
                {"id": "m", "name": "monthly", "duration": 1, "unit": "month", "price_cents": 5_000},
                {"id": "y", "name": "yearly", "duration": 1, "unit": "year", "price_cents": 50_000},
                {"id": "t", "name": "trial", "duration": 1, "unit": "month", "price_cents": 0, "trial": true}
            ]
        }))
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.approve_product(&seller, &product).await;
    let (_, customer) = api.create_principal("customer", None).await;
    Shop {
        seller,
        product,
        customer,
    }
}

async fn advance(api: &Api, seconds: u64) {
    api.post("/v1/admin/clock/advance", json!({ "seconds": seconds }))
        .await
        .expect(StatusCode::OK);
}

/// Places an order (`extra` merged into the body) and answers the response.
async fn order(api: &Api, s: &Shop, spec: &str, extra: Value) -> common::Resp {
    let mut body =
        json!({"product_id": s.product, "spec_id": spec, "quantity": 1, "order_type": "new"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    api.post_as(&s.customer, "/v1/orders", body).await
}

/// Pays `o` in full; answers the paid order.
async fn pay(api: &Api, s: &Shop, o: &Value) -> Value {
    api.post_as(
        &s.customer,
        &format!("/v1/orders/{}/pay", o["id"].as_str().unwrap()),
        json!({"amount_cents": o["payable_cents"]}),
    )
    .await
    .expect(StatusCode::OK)
}

/// The one instance of order `order_id`, read once everything written is applied.
async fn instance_of(api: &Api, order_id: &str) -> Value {
    let list = api
        .read_as(ADMIN, &format!("/v1/instances?order_id={order_id}"))
        .await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    items[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_expires_closes_seven_days_later_and_renews_only_until_then() {
    let api = Api::new().await;
    let s = shop(&api).await;
    let new = order(&api, &s, "m", json!({}))
        .await
        .expect(StatusCode::CREATED);
    pay(&api, &s, &new).await;
    let id = new["id"].as_str().unwrap();
    let i = instance_of(&api, id).await;
    assert_eq!(i["status"], "active");
    assert_eq!(i["expires_at"], "2026-12-22T09:00:00+08:00", "{i}");
    let instance = i["id"].as_str().unwrap().to_owned();

    // A paid renewal extends by the spec's duration, from the current expiry.
    let renewal = order(
        &api,
        &s,
        "m",
        json!({"order_type": "renewal", "instance_id": instance}),
    )
    .await
    .expect(StatusCode::CREATED);
    assert_eq!(renewal["payable_cents"], 5_000);
    pay(&api, &s, &renewal).await;
    let i = instance_of(&api, id).await;
    assert_eq!(i["expires_at"], "2027-01-22T09:00:00+08:00", "{i}");
    assert_eq!(i["orders"].as_array().unwrap().len(), 2, "{i}");

    // Expiry, then closing 7 days later. Renewal is allowed while expired, not once closed.
    advance(&api, 61 * DAY).await;
    assert_eq!(instance_of(&api, id).await["status"], "expired");
    order(
        &api,
        &s,
        "m",
        json!({"order_type": "renewal", "instance_id": instance}),
    )
    .await
    .expect(StatusCode::CREATED);
    advance(&api, 7 * DAY).await;
    let i = instance_of(&api, id).await;
    assert_eq!(i["status"], "closed", "{i}");
    let refused = order(
        &api,
        &s,
        "m",
        json!({"order_type": "renewal", "instance_id": instance}),
    )
    .await;
    refused.error(StatusCode::CONFLICT, "invalid_state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trial_converts_to_a_paid_spec_and_an_upgrade_costs_the_difference_never_below_zero() {
    let api = Api::new().await;
    let s = shop(&api).await;
    let trial = order(&api, &s, "t", json!({"order_type": "trial"}))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(trial["payable_cents"], 0);
    pay(&api, &s, &trial).await;
    let id = trial["id"].as_str().unwrap();
    let i = instance_of(&api, id).await;
    assert_eq!(
        (i["trial"].as_bool(), i["spec_id"].as_str()),
        (Some(true), Some("t")),
        "{i}"
    );
    let instance = i["id"].as_str().unwrap().to_owned();
    // A trial is not renewed, it is converted.
    let conversion = order(
        &api,
        &s,
        "m",
        json!({"order_type": "conversion", "instance_id": instance}),
    )
    .await
    .expect(StatusCode::CREATED);
    assert_eq!(conversion["payable_cents"], 5_000);
    pay(&api, &s, &conversion).await;
    let i = instance_of(&api, id).await;
    assert_eq!(
        (i["trial"].as_bool(), i["spec_id"].as_str()),
        (Some(false), Some("m")),
        "{i}"
    );
    // Upgrade monthly → yearly: the difference of the spec prices.
    let upgrade = order(
        &api,
        &s,
        "y",
        json!({"order_type": "upgrade", "instance_id": instance}),
    )
    .await
    .expect(StatusCode::CREATED);
    assert_eq!(upgrade["payable_cents"], 45_000);
    pay(&api, &s, &upgrade).await;
    assert_eq!(instance_of(&api, id).await["spec_id"], "y");
    // Back to monthly through an "upgrade": never below 0.
    let down = order(
        &api,
        &s,
        "m",
        json!({"order_type": "upgrade", "instance_id": instance}),
    )
    .await
    .expect(StatusCode::CREATED);
    assert_eq!(down["payable_cents"], 0);
    // Another customer cannot order against this instance.
    let (_, other) = api.create_principal("customer", None).await;
    let theirs = api
        .post_as(
            &other,
            "/v1/orders",
            json!({"product_id": s.product, "spec_id": "m", "quantity": 1,
            "order_type": "renewal", "instance_id": instance}),
        )
        .await;
    let details = theirs.error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(details["field"], "instance_id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_prices_hidden_specs_hidden_and_delisted_products_govern_new_orders_only() {
    let api = Api::new().await;
    let s = shop(&api).await;
    let before = order(&api, &s, "m", json!({}))
        .await
        .expect(StatusCode::CREATED);
    api.post_as(
        &s.seller,
        &format!("/v1/products/{}/specs/m/price", s.product),
        json!({"price_cents": 6_000, "reason": "new hardware"}),
    )
    .await
    .expect(StatusCode::OK);
    let after = order(&api, &s, "m", json!({}))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(
        (
            before["payable_cents"].as_i64(),
            after["payable_cents"].as_i64()
        ),
        (Some(5_000), Some(6_000))
    );
    // The earlier order is still paid at its own price.
    pay(&api, &s, &before).await;

    api.post_as(
        &s.seller,
        &format!("/v1/products/{}/specs/m/hide", s.product),
        json!({}),
    )
    .await
    .expect(StatusCode::OK);
    let r = order(&api, &s, "m", json!({})).await;
    assert_eq!(
        r.error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["field"],
        "spec_id"
    );
    order(&api, &s, "y", json!({}))
        .await
        .expect(StatusCode::CREATED);
    api.post_as(
        &s.seller,
        &format!("/v1/products/{}/specs/m/unhide", s.product),
        json!({}),
    )
    .await
    .expect(StatusCode::OK);
    order(&api, &s, "m", json!({}))
        .await
        .expect(StatusCode::CREATED);

    api.post_as(
        &s.seller,
        &format!("/v1/products/{}/hide", s.product),
        json!({}),
    )
    .await
    .expect(StatusCode::OK);
    let r = order(&api, &s, "m", json!({})).await;
    assert_eq!(
        r.error(StatusCode::CONFLICT, "invalid_state")["state"],
        "hidden"
    );
    api.post_as(
        &s.seller,
        &format!("/v1/products/{}/unhide", s.product),
        json!({}),
    )
    .await
    .expect(StatusCode::OK);
    order(&api, &s, "m", json!({}))
        .await
        .expect(StatusCode::CREATED);
    // Only the platform delists; then nothing can be ordered.
    let by_seller = api
        .post_as(
            &s.seller,
            &format!("/v1/products/{}/delist", s.product),
            json!({}),
        )
        .await;
    by_seller.error(StatusCode::FORBIDDEN, "forbidden");
    api.post(&format!("/v1/products/{}/delist", s.product), json!({}))
        .await
        .expect(StatusCode::OK);
    let r = order(&api, &s, "m", json!({})).await;
    assert_eq!(
        r.error(StatusCode::CONFLICT, "invalid_state")["state"],
        "delisted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distribution_order_snapshots_the_commission_and_a_kept_instance_refund_claws_it_back() {
    let api = Api::new().await;
    let s = shop(&api).await;
    // No distribution before the commission is set; then it is set once.
    let early = order(
        &api,
        &s,
        "m",
        json!({"channel": {"kind": "distribution", "ref": "dist-1"}}),
    )
    .await;
    early.error(StatusCode::UNPROCESSABLE_ENTITY, "distribution_not_enabled");
    let path = format!("/v1/products/{}/distribution", s.product);
    api.post_as(&s.seller, &path, json!({"commission_percent": 61}))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    api.post_as(&s.seller, &path, json!({"commission_percent": 30}))
        .await
        .expect(StatusCode::OK);
    api.post_as(&s.seller, &path, json!({"commission_percent": 40}))
        .await
        .error(StatusCode::CONFLICT, "invalid_state");
    let o = order(
        &api,
        &s,
        "y",
        json!({"channel": {"kind": "distribution", "ref": "dist-1"}}),
    )
    .await
    .expect(StatusCode::CREATED);
    assert_eq!(o["commission_percent"], 30);
    assert_eq!(o["channel"]["kind"], "distribution");
    pay(&api, &s, &o).await;
    let id = o["id"].as_str().unwrap();

    // A seller refund that keeps the instance needs a reason, and goes to the platform.
    let refunds = format!("/v1/orders/{id}/seller-refunds");
    let no_reason = api
        .post_as(&s.seller, &refunds, json!({"kind": "remaining", "amount_cents": 10_000, "release": "keep", "reason": "goodwill"}))
        .await;
    assert_eq!(
        no_reason.error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["field"],
        "keep_reason"
    );
    let refund = api
        .post_as(
            &s.seller,
            &refunds,
            json!({"kind": "remaining", "amount_cents": 10_000, "release": "keep",
            "keep_reason": "runs to its end", "reason": "goodwill"}),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(refund["status"], "pending_platform");
    let refund_id = refund["id"].as_str().unwrap();
    // The seller cannot approve its own refund (it waits for the platform); the platform does.
    let by_seller = api
        .post_as(
            &s.seller,
            &format!("/v1/refunds/{refund_id}/approve"),
            json!({}),
        )
        .await;
    assert_eq!(
        by_seller.error(StatusCode::CONFLICT, "invalid_state")["state"],
        "pending_platform"
    );
    let approved = api
        .post_as(
            ADMIN,
            &format!("/v1/refunds/{refund_id}/approve"),
            json!({}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(approved["status"], "refunded");
    assert_eq!(approved["commission_clawback_cents"], 3_000, "{approved}");
    let i = instance_of(&api, id).await;
    assert_eq!(i["status"], "active", "kept: {i}");
    // A full refund of the rest with immediate release empties the balance and releases the
    // instance.
    let full = api
        .post_as(
            &s.seller,
            &refunds,
            json!({"kind": "full", "release": "immediate", "reason": "closing"}),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(full["amount_cents"], 40_000);
    api.post_as(
        ADMIN,
        &format!("/v1/refunds/{}/approve", full["id"].as_str().unwrap()),
        json!({}),
    )
    .await
    .expect(StatusCode::OK);
    let o = api.read_as(&s.customer, &format!("/v1/orders/{id}")).await;
    assert_eq!(
        (
            o["status"].as_str(),
            o["refunded_cents"].as_i64(),
            o["balance_cents"].as_i64()
        ),
        (Some("refunded"), Some(50_000), Some(0))
    );
    assert_eq!(instance_of(&api, id).await["status"], "released");
}
