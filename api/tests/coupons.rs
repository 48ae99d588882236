//! Coupon campaigns through the in-process API (API.md §6): creation and its refusals,
//! claims and their 409s, batch grants, voids, statistics, coupon statuses at read time, the
//! lists and who sees them; every answer is checked against the served schema.

mod common;

use axum::http::StatusCode;
use common::{Api, ADMIN};
use serde_json::{json, Value};

fn campaign(extra: Value) -> Value {
    let mut body = json!({
        "name": "Spring", "scope": "store", "kind": "discount", "pay_permille": 800,
        "per_customer_limit": 2, "valid_from": "2026-11-01T00:00:00+08:00",
        "valid_until": "2026-12-01T00:00:00+08:00", "total_quantity": 4,
        "scenarios": ["new", "renewal"], "show_in_store": true
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

async fn create(api: &Api, seller: &str, extra: Value) -> String {
    api.post_as(seller, "/v1/coupon-campaigns", campaign(extra))
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn claim(api: &Api, customer: &str, id: &str) -> common::Resp {
    api.post_as(
        customer,
        &format!("/v1/coupon-campaigns/{id}/claim"),
        json!({}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creation_checks_fields_then_the_sellers_products() {
    let api = Api::new().await;
    let (acme, product) = api.listed_product("Acme", "VM", 5_000).await;
    let (_, other) = api.listed_product("Bolt", "DB", 5_000).await;
    let post = |body: Value| api.post_as(&acme, "/v1/coupon-campaigns", body);
    let e = post(campaign(json!({"pay_permille": 5})))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(e["field"], "pay_permille");
    let e = post(campaign(json!({"scenarios": ["trial"]})))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(e["field"], "scenarios[0]");
    let e = post(campaign(
        json!({"scope": "products", "product_ids": [product, other]}),
    ))
    .await
    .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(e["field"], "product_ids[1]");
    assert_eq!(e["rule"], "not_own");
    let e = post(campaign(json!({"auto_grant": {"product_ids": ["prd_nope"],
        "purchased_from": "2026-11-01T00:00:00+08:00",
        "purchased_until": "2026-11-10T00:00:00+08:00"}})))
    .await
    .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(e["field"], "auto_grant.product_ids[0]");
    assert_eq!(e["rule"], "unknown");
    post(campaign(json!({"surprise": 1})))
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
    let v = post(campaign(
        json!({"scope": "products", "product_ids": [product],
        "kind": "threshold", "pay_permille": null, "threshold_cents": 1000,
        "reduce_cents": 300}),
    ))
    .await
    .expect(StatusCode::CREATED);
    assert_eq!(v["status"], "active");
    assert_eq!(v["kind"], "threshold");
    assert_eq!(v["stats"]["issued"], 4);
    assert_eq!(v["stats"]["remaining"], 4);
    assert_eq!(v["version"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_grants_voids_and_the_reads_follow() {
    let api = Api::new().await;
    let (acme, _) = api.listed_product("Acme", "VM", 5_000).await;
    let (_, bolt) = {
        let (org, _) = api.create_org("Bolt").await;
        api.create_principal("isv_admin", Some(&org)).await
    };
    let (ann_id, ann) = api.create_principal("customer", None).await;
    let (bo_id, bo) = api.create_principal("customer", None).await;
    let (cy_id, cy) = api.create_principal("customer", None).await;
    let id = create(&api, &acme, json!({})).await;

    let c1 = claim(&api, &ann, &id).await.expect(StatusCode::CREATED);
    assert_eq!(c1["status"], "unused");
    assert_eq!(c1["via"], "claim");
    assert_eq!(c1["campaign_name"], "Spring");
    assert_eq!(c1["customer_id"], ann_id.as_str());
    assert_eq!(c1["pay_permille"], 800);
    assert_eq!(c1["threshold_cents"], Value::Null);
    // A repeat with the same idempotency key answers the same coupon.
    let keyed = || {
        api.call("POST", &format!("/v1/coupon-campaigns/{id}/claim"))
            .token(&ann)
            .header("idempotency-key", "claim-1")
            .json(&json!({}))
            .send()
    };
    let c2 = keyed().await.expect(StatusCode::CREATED);
    let again = keyed().await.expect(StatusCode::CREATED);
    assert_eq!(again["id"], c2["id"]);
    assert_ne!(c1["id"], c2["id"]);
    claim(&api, &ann, &id)
        .await
        .error(StatusCode::CONFLICT, "limit_reached");

    // Two left: Bo gets one, the unknown id and the seller are no customers, Cy gets the
    // last and Bo's second is sold out.
    let g = api
        .post_as(
            &acme,
            &format!("/v1/coupon-campaigns/{id}/grant"),
            json!({"customer_ids": [bo_id, "cus_nope", cy_id, bo_id]}),
        )
        .await
        .expect(StatusCode::OK);
    let granted: Vec<&str> = g["granted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["customer_id"].as_str().unwrap())
        .collect();
    assert_eq!(granted, vec![bo_id.as_str(), cy_id.as_str()]);
    assert_eq!(
        g["refused"],
        json!([{"customer_id": "cus_nope", "code": "unknown_customer"},
               {"customer_id": bo_id, "code": "sold_out"}])
    );
    assert!(g["granted"][0]["via"] == "grant");
    claim(&api, &cy, &id)
        .await
        .error(StatusCode::CONFLICT, "sold_out");
    api.post_as(
        &bolt,
        &format!("/v1/coupon-campaigns/{id}/grant"),
        json!({"customer_ids": [cy_id]}),
    )
    .await
    .error(StatusCode::NOT_FOUND, "not_found");
    api.post_as(
        &acme,
        &format!("/v1/coupon-campaigns/{id}/grant"),
        json!({"customer_ids": []}),
    )
    .await
    .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    let detail = api
        .read_as(&acme, &format!("/v1/coupon-campaigns/{id}"))
        .await;
    assert_eq!(
        detail["stats"],
        json!({"issued": 4, "granted": 4, "redeemed": 0, "released": 0, "remaining": 0})
    );
    let mine = api.read_as(&ann, "/v1/me/coupons").await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 2);
    let theirs = api.read_as(&bo, "/v1/me/coupons?status=unused").await;
    assert_eq!(theirs["items"].as_array().unwrap().len(), 1);
    let all = api
        .read_as(&acme, &format!("/v1/coupon-campaigns/{id}/coupons?limit=3"))
        .await;
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
    assert!(all["next_cursor"].is_string());
    api.call("GET", &format!("/v1/coupon-campaigns/{id}/coupons"))
        .token(&bolt)
        .send()
        .await
        .error(StatusCode::NOT_FOUND, "not_found");

    // The customer sees claimable campaigns without statistics; another seller none.
    let listed = api.read_as(&ann, "/v1/coupon-campaigns").await;
    assert_eq!(listed["items"][0]["id"], id.as_str());
    assert_eq!(listed["items"][0]["stats"], Value::Null);
    let hidden = create(&api, &acme, json!({"show_in_store": false})).await;
    let listed = api.read_as(&ann, "/v1/coupon-campaigns").await;
    assert!(listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["id"] != hidden.as_str()));
    claim(&api, &ann, &hidden)
        .await
        .error(StatusCode::CONFLICT, "not_claimable");
    let own = api.read_as(&acme, "/v1/coupon-campaigns").await;
    assert_eq!(own["items"].as_array().unwrap().len(), 2);
    let none = api.read_as(&bolt, "/v1/coupon-campaigns").await;
    assert_eq!(none["items"], json!([]));

    let v = api
        .post_as(&acme, &format!("/v1/coupon-campaigns/{id}/void"), json!({}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["status"], "void");
    assert_eq!(v["stats"]["granted"], 4);
    let again = api
        .post_as(&acme, &format!("/v1/coupon-campaigns/{id}/void"), json!({}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        again["version"], v["version"],
        "a second void changes nothing"
    );
    claim(&api, &bo, &id)
        .await
        .error(StatusCode::CONFLICT, "campaign_void");
    let mine = api.read_as(&ann, "/v1/me/coupons?status=void").await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 2);
    let voided = api.read_as(ADMIN, "/v1/coupon-campaigns?status=void").await;
    assert_eq!(voided["items"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coupons_expire_and_campaigns_end_with_the_clock() {
    let api = Api::new().await;
    let (acme, _) = api.listed_product("Acme", "VM", 5_000).await;
    let (_, ann) = api.create_principal("customer", None).await;
    // The clock starts at 2026-11-22T09:00+08:00.
    let id = create(
        &api,
        &acme,
        json!({"valid_until": "2026-11-23T09:00:00+08:00"}),
    )
    .await;
    claim(&api, &ann, &id).await.expect(StatusCode::CREATED);
    api.post("/v1/admin/clock/advance", json!({"seconds": 86_400}))
        .await
        .expect(StatusCode::OK);
    claim(&api, &ann, &id)
        .await
        .error(StatusCode::CONFLICT, "not_claimable");
    let mine = api.read_as(&ann, "/v1/me/coupons").await;
    assert_eq!(mine["items"][0]["status"], "expired");
    let c = api
        .read_as(&acme, &format!("/v1/coupon-campaigns/{id}"))
        .await;
    assert_eq!(c["status"], "ended");
}
