//! Invoices and reviews through the API (SPEC.md §7): the invoiced amount is the cash paid
//! minus the cash refunded, postage follows the 200-yuan rule, one live invoice per order;
//! reviews only after completion, one reply within 30 days, bad reviews flagged until
//! replied, default reviews left out of the shop score.

mod common;

use axum::http::StatusCode;
use common::{Api, ADMIN};
use serde_json::{json, Value};

const DAY: u64 = 24 * 3600;

async fn advance(api: &Api, seconds: u64) {
    api.post("/v1/admin/clock/advance", json!({ "seconds": seconds }))
        .await
        .expect(StatusCode::OK);
}

/// `GET /v1/reviews?bad_unhandled=true` once everything written is applied.
async fn bad_reviews(api: &Api) -> Value {
    api.read_as(ADMIN, "/v1/reviews?bad_unhandled=true").await
}

fn invoice_body() -> Value {
    json!({"type": "special_vat", "title": "Acme Ltd", "tax_id": "91310000MA1FL8", "address": "1 Bund Rd"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoice_is_for_the_cash_paid_minus_cash_refunded_with_postage_by_the_200_yuan_rule() {
    let api = Api::new().await;
    let (seller, product) = api.listed_product("Acme", "VM", 15_000).await;
    let (_, ann) = api.create_principal("customer", None).await;

    // 2 × 150 yuan = 300 yuan, 60 of it by voucher; then 100 yuan refunded.
    let big = api.paid_order(&ann, &product, 2, 6_000).await;
    let refund = api
        .post_as(
            &ann,
            &format!("/v1/orders/{big}/refund-requests"),
            json!({"amount_cents": 10_000, "reason": "one seat"}),
        )
        .await
        .expect(StatusCode::CREATED);
    let refund = api
        .post_as(
            &seller,
            &format!("/v1/refunds/{}/approve", refund["id"].as_str().unwrap()),
            json!({}),
        )
        .await
        .expect(StatusCode::OK);
    // The refund splits like the payment: 80 % cash.
    assert_eq!(
        (
            refund["cash_cents"].as_i64(),
            refund["voucher_cents"].as_i64()
        ),
        (Some(8_000), Some(2_000))
    );
    let invoice = api
        .post_as(
            &ann,
            &format!("/v1/orders/{big}/invoice-requests"),
            invoice_body(),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(invoice["status"], "requested");
    assert_eq!(invoice["amount_cents"], 24_000 - 8_000);
    assert_eq!(invoice["seller_pays_postage"], true);
    // One live invoice per order.
    let again = api
        .post_as(
            &ann,
            &format!("/v1/orders/{big}/invoice-requests"),
            invoice_body(),
        )
        .await;
    again.error(StatusCode::CONFLICT, "invalid_state");

    // 150 yuan is not above 200: the customer may be asked to pay postage.
    let small = api.paid_order(&ann, &product, 1, 0).await;
    let small_invoice = api
        .post_as(
            &ann,
            &format!("/v1/orders/{small}/invoice-requests"),
            invoice_body(),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(
        (
            small_invoice["amount_cents"].as_i64(),
            small_invoice["seller_pays_postage"].as_bool()
        ),
        (Some(15_000), Some(false))
    );

    // The seller's queue holds both; issuing and rejecting take them out of it.
    let queue = api.read_as(&seller, "/v1/invoices?status=requested").await;
    assert_eq!(queue["items"].as_array().unwrap().len(), 2, "{queue}");
    let issued = api
        .post_as(
            &seller,
            &format!("/v1/invoices/{}/issue", invoice["id"].as_str().unwrap()),
            json!({"tracking": "SF123"}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        (issued["status"].as_str(), issued["tracking"].as_str()),
        (Some("issued"), Some("SF123"))
    );
    api.post_as(
        &seller,
        &format!(
            "/v1/invoices/{}/reject",
            small_invoice["id"].as_str().unwrap()
        ),
        json!({"reason": "wrong tax id"}),
    )
    .await
    .expect(StatusCode::OK);
    let queue = api.read_as(&seller, "/v1/invoices?status=requested").await;
    assert_eq!(queue["items"].as_array().unwrap().len(), 0, "{queue}");
    // After a rejection the customer may ask again.
    api.post_as(
        &ann,
        &format!("/v1/orders/{small}/invoice-requests"),
        invoice_body(),
    )
    .await
    .expect(StatusCode::CREATED);
    // Another customer sees none of them.
    let (_, bo) = api.create_principal("customer", None).await;
    let theirs = api.read_as(&bo, "/v1/invoices").await;
    assert_eq!(theirs["items"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviews_get_one_timely_reply_bad_ones_are_flagged_until_then_and_defaults_do_not_score() {
    let api = Api::new().await;
    let (seller, product) = api.listed_product("Acme", "VM", 5_000).await;
    let (_, ann) = api.create_principal("customer", None).await;

    // Not before completion: an unpaid order cannot be reviewed.
    let unpaid = api.place_order(&ann, &product, 1).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let early = api
        .post_as(
            &ann,
            &format!("/v1/orders/{unpaid}/review"),
            json!({"quality": 5, "attitude": 5, "speed": 5, "comment": "?"}),
        )
        .await;
    assert_eq!(
        early.error(StatusCode::CONFLICT, "invalid_state")["state"],
        "unpaid"
    );

    // A SaaS order completes at payment. A 5/4/5 review is a bad review.
    let first = api.paid_order(&ann, &product, 1, 0).await;
    let review = api
        .post_as(
            &ann,
            &format!("/v1/orders/{first}/review"),
            json!({"quality": 5, "attitude": 4, "speed": 5, "comment": "slow chat"}),
        )
        .await
        .expect(StatusCode::CREATED);
    let review_id = review["id"].as_str().unwrap().to_owned();
    let second = api.paid_order(&ann, &product, 1, 0).await;
    let scores =
        |quality: i64| json!({"quality": quality, "attitude": 5, "speed": 5, "comment": "ok"});
    let twice = api
        .post_as(&ann, &format!("/v1/orders/{first}/review"), scores(5))
        .await;
    twice.error(StatusCode::CONFLICT, "invalid_state");
    let listed = bad_reviews(&api).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["items"][0]["id"], review_id.as_str());

    // The seller replies once; the flag clears.
    api.post_as(
        &seller,
        &format!("/v1/reviews/{review_id}/reply"),
        json!({"text": "sorry, fixed"}),
    )
    .await
    .expect(StatusCode::OK);
    let again = api
        .post_as(
            &seller,
            &format!("/v1/reviews/{review_id}/reply"),
            json!({"text": "again"}),
        )
        .await;
    again.error(StatusCode::CONFLICT, "invalid_state");
    assert_eq!(
        bad_reviews(&api).await["items"].as_array().unwrap().len(),
        0
    );

    // The second order is never reviewed: 30 days after completion it defaults to 5/5/5,
    // marked default, and the shop score stays the mean of the real review (14 / 3).
    advance(&api, 30 * DAY).await;
    let all = api.read_as(ADMIN, "/v1/reviews").await;
    let items = all["items"].as_array().unwrap();
    let defaulted: Vec<&Value> = items
        .iter()
        .filter(|r| r["order_id"] == second.as_str())
        .collect();
    assert_eq!(defaulted.len(), 1, "{all}");
    assert_eq!(
        (
            defaulted[0]["default"].as_bool(),
            defaulted[0]["quality"].as_i64()
        ),
        (Some(true), Some(5))
    );
    let org = items[0]["org_id"].as_str().unwrap();
    assert_eq!(all["shop_score"][org].as_f64(), Some(4.67), "{all}");

    // A default review may be replied to too (its 30 days start when it defaults), but a
    // reply more than 30 days after a review is refused.
    let late = api
        .post_as(
            &seller,
            &format!("/v1/reviews/{}/reply", defaulted[0]["id"].as_str().unwrap()),
            json!({"text": "thanks"}),
        )
        .await;
    assert_eq!(
        late.status,
        StatusCode::OK,
        "the default review is only now: a reply is still in time"
    );
    advance(&api, 31 * DAY).await;
    let third = api.paid_order(&ann, &product, 1, 0).await;
    let r3 = api
        .post_as(&ann, &format!("/v1/orders/{third}/review"), scores(3))
        .await
        .expect(StatusCode::CREATED);
    advance(&api, 30 * DAY + 1).await;
    let too_late = api
        .post_as(
            &seller,
            &format!("/v1/reviews/{}/reply", r3["id"].as_str().unwrap()),
            json!({"text": "sorry"}),
        )
        .await;
    assert_eq!(
        too_late.error(StatusCode::CONFLICT, "invalid_state")["state"],
        "reply_window_closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shops_or_a_products_reviews_list_only_theirs_page_by_page() {
    let api = Api::new().await;
    let (_, vm) = api.listed_product("Acme", "VM", 5_000).await;
    let (_, db) = api.listed_product("Bolt", "DB", 5_000).await;
    let (_, ann) = api.create_principal("customer", None).await;
    let mut by_product: Vec<(String, String)> = Vec::new();
    for product in [&vm, &db, &vm, &db, &vm] {
        let order = api.paid_order(&ann, product, 1, 0).await;
        let review = api
            .post_as(
                &ann,
                &format!("/v1/orders/{order}/review"),
                json!({"quality": 5, "attitude": 5, "speed": 4, "comment": "c"}),
            )
            .await
            .expect(StatusCode::CREATED);
        by_product.push((product.clone(), review["id"].as_str().unwrap().to_owned()));
    }
    let of = |product: &str| {
        let mut ids: Vec<String> = by_product
            .iter()
            .filter(|(p, _)| p == product)
            .map(|(_, r)| r.clone())
            .collect();
        ids.sort();
        ids
    };
    let org = api
        .call("GET", &format!("/v1/products/{vm}"))
        .token(ADMIN)
        .send()
        .await
        .expect(StatusCode::OK)["seller_org_id"]
        .as_str()
        .expect("the product names its seller")
        .to_owned();
    for limit in [1, 2, 10] {
        assert_eq!(
            api.ids_of_all_pages(ADMIN, &format!("/v1/reviews?product_id={vm}"), limit)
                .await,
            of(&vm)
        );
        assert_eq!(
            api.ids_of_all_pages(ADMIN, &format!("/v1/reviews?product_id={db}"), limit)
                .await,
            of(&db)
        );
        assert_eq!(
            api.ids_of_all_pages(ADMIN, &format!("/v1/reviews?org_id={org}"), limit)
                .await,
            of(&vm)
        );
        assert_eq!(
            api.ids_of_all_pages(ADMIN, "/v1/reviews", limit)
                .await
                .len(),
            5
        );
    }
}

/// Reviews are public, but which order a review is about (and so whose purchase) only the
/// order's parties see: its customer, the seller's isv_admin, platform and auditor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_list_shows_order_ids_to_the_parties_of_the_order_only() {
    let api = Api::new().await;
    let (seller, product) = api.listed_product("Acme", "VM", 5_000).await;
    let (other_seller, _) = api.listed_product("Globex", "DB", 5_000).await;
    let (_, ann) = api.create_principal("customer", None).await;
    let (_, bo) = api.create_principal("customer", None).await;
    let (_, auditor) = api.create_principal("auditor", None).await;
    let order = api.paid_order(&ann, &product, 1, 0).await;
    api.post_as(
        &ann,
        &format!("/v1/orders/{order}/review"),
        json!({"quality": 4, "attitude": 5, "speed": 5, "comment": "fine"}),
    )
    .await
    .expect(StatusCode::CREATED);
    for (who, token, sees) in [
        ("the customer", ann.as_str(), true),
        ("the seller", seller.as_str(), true),
        ("platform", ADMIN, true),
        ("an auditor", auditor.as_str(), true),
        ("another customer", bo.as_str(), false),
        ("another seller", other_seller.as_str(), false),
    ] {
        let list = api.read_as(token, "/v1/reviews").await;
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{who}: {list}");
        let item = &items[0];
        // Everyone sees the review itself.
        assert_eq!(item["quality"], 4, "{who}");
        assert_eq!(item["comment"], "fine", "{who}");
        assert_eq!(item["product_id"], product.as_str(), "{who}");
        let text = list.to_string();
        if sees {
            assert_eq!(item["order_id"], order.as_str(), "{who}");
        } else {
            assert!(item["order_id"].is_null(), "{who}: {item}");
            assert!(!text.contains(&order), "{who} sees the order id: {text}");
        }
        assert!(item.get("customer_id").is_none(), "{who}: {item}");
    }
}
