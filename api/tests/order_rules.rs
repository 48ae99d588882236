//! The order rules of SPEC.md §3 and §5 as an API client meets them: price changes (reason,
//! non-negative price, unpaid only), exact payment with a voucher part, payable 0 still paid
//! explicitly, cancellation of unpaid orders only, quantity and remark bounds, the 5-day
//! refund window, and a product's providers.

mod common;

use axum::http::StatusCode;
use common::{Api, ADMIN};
use serde_json::json;

const DAY: u64 = 24 * 3600;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn price_changes_need_a_reason_and_a_price_of_zero_or_more_and_only_an_unpaid_order() {
    let api = Api::new().await;
    let (seller, product) = api.listed_product("Acme", "VM", 5_000).await;
    let (_, ann) = api.create_principal("customer", None).await;
    let id = api.place_order(&ann, &product, 1).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let change = format!("/v1/orders/{id}/change-price");
    for (body, field) in [
        (json!({"new_price_cents": 4_000, "reason": ""}), "reason"),
        (
            json!({"new_price_cents": 4_000, "reason": "x".repeat(201)}),
            "reason",
        ),
        (
            json!({"new_price_cents": -1, "reason": "r"}),
            "new_price_cents",
        ),
    ] {
        let r = api.post_as(&seller, &change, body.clone()).await;
        assert_eq!(
            r.error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["field"],
            field,
            "{body}"
        );
    }
    // A missing field is a malformed body (400), still named.
    let r = api
        .post_as(&seller, &change, json!({"new_price_cents": 4_000}))
        .await;
    assert_eq!(
        r.error(StatusCode::BAD_REQUEST, "bad_request")["field"],
        "reason"
    );
    // The customer is not the seller.
    api.post_as(
        &ann,
        &change,
        json!({"new_price_cents": 1, "reason": "mine"}),
    )
    .await
    .error(StatusCode::FORBIDDEN, "forbidden");
    // Zero is allowed, and an order of 0 is still paid explicitly.
    let changed = api
        .post_as(
            &seller,
            &change,
            json!({"new_price_cents": 0, "reason": "x".repeat(200)}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(changed["payable_cents"], 0);
    assert_eq!(changed["status"], "unpaid");
    let paid = api
        .post_as(
            &ann,
            &format!("/v1/orders/{id}/pay"),
            json!({"amount_cents": 0}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(paid["status"], "paid");
    let late = api
        .post_as(
            &seller,
            &change,
            json!({"new_price_cents": 10, "reason": "late"}),
        )
        .await;
    assert_eq!(
        late.error(StatusCode::CONFLICT, "invalid_state")["state"],
        "paid"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_is_exact_its_voucher_part_at_most_the_whole_and_only_unpaid_orders_are_cancelled(
) {
    let api = Api::new().await;
    let (_, product) = api.listed_product("Acme", "VM", 5_000).await;
    let (_, ann) = api.create_principal("customer", None).await;
    let o = api.place_order(&ann, &product, 2).await;
    let id = o["id"].as_str().unwrap().to_owned();
    assert_eq!(o["payable_cents"], 10_000);
    let pay = format!("/v1/orders/{id}/pay");
    api.post_as(&ann, &pay, json!({"amount_cents": 9_999}))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "amount_mismatch");
    // A voucher part above the whole payment, or below zero.
    for voucher in [10_001, -1] {
        let refused = api
            .post_as(
                &ann,
                &pay,
                json!({"amount_cents": 10_000, "voucher_cents": voucher}),
            )
            .await;
        assert_eq!(
            refused.error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["field"],
            "voucher_cents",
            "voucher {voucher}"
        );
    }
    let paid = api
        .post_as(
            &ann,
            &pay,
            json!({"amount_cents": 10_000, "voucher_cents": 10_000}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        (paid["paid_cents"].as_i64(), paid["voucher_cents"].as_i64()),
        (Some(10_000), Some(10_000))
    );
    // A paid order cannot be cancelled; an unpaid one can, once.
    api.post_as(&ann, &format!("/v1/orders/{id}/cancel"), json!({}))
        .await
        .error(StatusCode::CONFLICT, "invalid_state");
    let other = api.place_order(&ann, &product, 1).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cancelled = api
        .post_as(&ann, &format!("/v1/orders/{other}/cancel"), json!({}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        (
            cancelled["status"].as_str(),
            cancelled["void_reason"].as_str()
        ),
        (Some("voided"), Some("cancelled_by_customer"))
    );
    let again = api
        .post_as(&ann, &format!("/v1/orders/{other}/cancel"), json!({}))
        .await;
    assert_eq!(
        again.error(StatusCode::CONFLICT, "invalid_state")["state"],
        "voided"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_takes_1_to_100_units_a_short_remark_and_records_its_client() {
    let api = Api::new().await;
    let (_, product) = api.listed_product("Acme", "VM", 5_000).await;
    let (_, ann) = api.create_principal("customer", None).await;
    let body = |extra: serde_json::Value| {
        let mut b =
            json!({"product_id": product, "spec_id": "m", "quantity": 1, "order_type": "new"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (extra, field) in [
        (json!({"quantity": 0}), "quantity"),
        (json!({"quantity": 101}), "quantity"),
        (json!({"remark": "x".repeat(201)}), "remark"),
        (json!({"client": "fax"}), "client"),
    ] {
        let r = api.post_as(&ann, "/v1/orders", body(extra.clone())).await;
        assert_eq!(
            r.error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["field"],
            field,
            "{extra}"
        );
    }
    let o = api
        .post_as(
            &ann,
            "/v1/orders",
            body(json!({"quantity": 100, "remark": "x".repeat(200), "client": "mobile"})),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(
        (
            o["quantity"].as_i64(),
            o["original_cents"].as_i64(),
            o["client"].as_str()
        ),
        (Some(100), Some(500_000), Some("mobile"))
    );
    assert_eq!(o["remark"].as_str().map(|r| r.chars().count()), Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_may_ask_for_a_refund_for_five_days_after_payment_and_no_longer() {
    let api = Api::new().await;
    let (_, product) = api.listed_product("Acme", "VM", 5_000).await;
    let (_, ann) = api.create_principal("customer", None).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(api.paid_order(&ann, &product, 1, 0).await);
    }
    // An unpaid order has nothing to refund.
    let unpaid = api.place_order(&ann, &product, 1).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = api
        .post_as(
            &ann,
            &format!("/v1/orders/{unpaid}/refund-requests"),
            json!({"reason": "r"}),
        )
        .await;
    assert_eq!(
        r.error(StatusCode::CONFLICT, "invalid_state")["state"],
        "unpaid"
    );
    // Exactly 5 days later: still inside; a second later: closed.
    api.post("/v1/admin/clock/advance", json!({"seconds": 5 * DAY}))
        .await
        .expect(StatusCode::OK);
    api.post_as(
        &ann,
        &format!("/v1/orders/{}/refund-requests", ids[0]),
        json!({"reason": "r"}),
    )
    .await
    .expect(StatusCode::CREATED);
    api.post("/v1/admin/clock/advance", json!({"seconds": 1}))
        .await
        .expect(StatusCode::OK);
    let late = api
        .post_as(
            &ann,
            &format!("/v1/orders/{}/refund-requests", ids[1]),
            json!({"reason": "r"}),
        )
        .await;
    assert_eq!(late.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", late);
    late.error(StatusCode::UNPROCESSABLE_ENTITY, "refund_window_closed");
    // More than the balance is refused, naming the field.
    let (_, product2) = api.listed_product("Bolt", "DB", 5_000).await;
    let id = api.paid_order(&ann, &product2, 1, 0).await;
    let too_much = api
        .post_as(
            &ann,
            &format!("/v1/orders/{id}/refund-requests"),
            json!({"amount_cents": 5_001, "reason": "r"}),
        )
        .await;
    let details = too_much.error(StatusCode::UNPROCESSABLE_ENTITY, "refund_exceeds_balance");
    assert_eq!(
        (details["field"].as_str(), details["balance_cents"].as_str()),
        (Some("amount_cents"), Some("5000"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_have_weights_1_to_100_and_show_on_the_product() {
    let api = Api::new().await;
    let (seller, product) = api.listed_product("Acme", "VM", 5_000).await;
    let (provider_org, _) = api.create_org("Field Team").await;
    let path = format!("/v1/products/{product}/providers");
    for (providers, field) in [
        (
            json!([{"org_id": provider_org, "weight": 0, "max_active": 5}]),
            "providers[0].weight",
        ),
        (
            json!([{"org_id": provider_org, "weight": 101, "max_active": 5}]),
            "providers[0].weight",
        ),
        (
            json!([{"org_id": provider_org, "weight": 10, "max_active": 10_001}]),
            "providers[0].max_active",
        ),
    ] {
        let r = api
            .call("PUT", &path)
            .token(&seller)
            .json(&json!({ "providers": providers }))
            .send()
            .await;
        assert_eq!(
            r.error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["field"],
            field,
            "{providers}"
        );
    }
    api.call("PUT", &path)
        .token(&seller)
        .json(&json!({"providers": [{"org_id": provider_org, "weight": 70, "max_active": 3}]}))
        .send()
        .await
        .expect(StatusCode::OK);
    let p = api.read_as(ADMIN, &format!("/v1/products/{product}")).await;
    assert_eq!(
        p["providers"],
        json!([{"org_id": provider_org, "weight": 70, "max_active": 3}])
    );
}

/// SPEC.md §8: a delivery's `cancel_and_refund` timeout (or a platform close) refunds the
/// order in full at once, initiated and approved by the system. The decision is run here as
/// the delivery's policy will run it: through the runner, as actor `system`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_system_refund_shows_initiated_by_system_and_supersedes_the_open_request() {
    use api::runner::CommandMeta;
    use domain::ids::IdKind;
    use domain::order::{system_refund_id, DecideRefund, Order, SystemRefundReason};
    use domain::Actor;

    let api = Api::new().await;
    let (seller, product) = api.listed_product("Acme", "VM", 5_000).await;
    let (_, ann) = api.create_principal("customer", None).await;
    let order = api.paid_order(&ann, &product, 2, 1_000).await;
    let open = api
        .post_as(
            &ann,
            &format!("/v1/orders/{order}/refund-requests"),
            json!({"amount_cents": 2_500, "reason": "one is enough"}),
        )
        .await
        .expect(StatusCode::CREATED);
    let open_id = open["id"].as_str().unwrap().to_owned();

    let delivery = format!("dlv_{}", order.strip_prefix("ord_").unwrap());
    let meta = CommandMeta {
        actor: Actor::System,
        correlation_id: api.app.ids.new_id(IdKind::Correlation),
        causation_id: "delivery-timeout".into(),
        idempotency: None,
        if_match: None,
        command: "RefundBySystem",
    };
    let decision = DecideRefund::by_system(&order, &delivery, SystemRefundReason::DeliveryTimeout);
    let done = api
        .app
        .runner
        .decide::<Order>(&meta, &decision)
        .await
        .unwrap();
    assert!(!done.no_op);
    // Run again, as a policy re-run after a crash would: nothing.
    let again = api
        .app
        .runner
        .decide::<Order>(&meta, &decision)
        .await
        .unwrap();
    assert!(again.no_op);

    let refund_id = system_refund_id(&delivery);
    for token in [ann.as_str(), seller.as_str(), ADMIN] {
        let r = api
            .read_as(token, &format!("/v1/refunds/{refund_id}"))
            .await;
        assert_eq!(
            (
                r["initiated_by"].as_str(),
                r["kind"].as_str(),
                r["status"].as_str(),
                r["amount_cents"].as_i64(),
                r["decided_by"].as_str(),
                r["release"].as_str(),
            ),
            (
                Some("system"),
                Some("full"),
                Some("refunded"),
                Some(10_000),
                Some("system"),
                Some("immediate")
            ),
            "{r}"
        );
        assert!(r["auto_approve_at"].is_null(), "{r}");
    }
    let superseded = api.read_as(&ann, &format!("/v1/refunds/{open_id}")).await;
    assert_eq!(superseded["status"], "rejected");
    assert_eq!(
        superseded["reject_reason"].as_str(),
        Some(format!("superseded by system refund {refund_id}").as_str())
    );
    let o = api.read_as(&ann, &format!("/v1/orders/{order}")).await;
    assert_eq!(
        (
            o["status"].as_str(),
            o["refunded_cents"].as_i64(),
            o["balance_cents"].as_i64()
        ),
        (Some("refunded"), Some(10_000), Some(0))
    );
    let listed = api
        .read_as(&seller, &format!("/v1/refunds?order_id={order}"))
        .await;
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == refund_id.as_str() && r["initiated_by"] == "system"),
        "{listed}"
    );
}
