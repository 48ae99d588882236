//! The authorisation matrix of the trade routes (API.md §5, BENCHMARKS.md drill): every
//! order-related route as each role, on its own tenant's records and on another's. Another
//! tenant's records answer 404 — they do not exist for the caller — and a role the route never
//! serves answers 403. Nothing refused appends anything.

mod common;

use axum::http::StatusCode;
use common::{Api, ADMIN};
use serde_json::{json, Value};

struct Ids {
    order: String,
    refund: String,
    invoice: String,
    instance: String,
    review: String,
}

/// Ann's paid order of Acme's product with a refund request, an invoice request and a review.
async fn records(api: &Api, ann: &str, product: &str) -> Ids {
    let order = api.paid_order(ann, product, 1, 0).await;
    let refund = api
        .post_as(
            ann,
            &format!("/v1/orders/{order}/refund-requests"),
            json!({"amount_cents": 100, "reason": "r"}),
        )
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let invoice = api
        .post_as(
            ann,
            &format!("/v1/orders/{order}/invoice-requests"),
            json!({"type": "ordinary", "title": "T", "tax_id": "X1", "address": "A"}),
        )
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let review = api
        .post_as(
            ann,
            &format!("/v1/orders/{order}/review"),
            json!({"quality": 4, "attitude": 5, "speed": 5, "comment": "ok"}),
        )
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let instances = api
        .read_as(ADMIN, &format!("/v1/instances?order_id={order}"))
        .await;
    let instance = instances["items"][0]["id"].as_str().unwrap().to_owned();
    Ids {
        order,
        refund,
        invoice,
        instance,
        review,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_trade_records_are_not_found_and_other_roles_are_forbidden() {
    let api = Api::new().await;
    let (acme, product) = api.listed_product("Acme", "VM", 5_000).await;
    let (bolt, _) = api.listed_product("Bolt", "DB", 5_000).await;
    let (_, ann) = api.create_principal("customer", None).await;
    let (_, bo) = api.create_principal("customer", None).await;
    let (_, analyst) = api.create_principal("analyst", None).await;
    let (_, auditor) = api.create_principal("auditor", None).await;
    let ids = records(&api, &ann, &product).await;
    let head_before = api.head().await;
    let Ids {
        order,
        refund,
        invoice,
        instance,
        review,
    } = &ids;

    let reads = [
        format!("/v1/orders/{order}"),
        format!("/v1/orders/{order}/history"),
        format!("/v1/refunds/{refund}"),
        format!("/v1/instances/{instance}"),
    ];
    let customer_writes: Vec<(String, Value)> = vec![
        (
            format!("/v1/orders/{order}/pay"),
            json!({"amount_cents": 5_000}),
        ),
        (format!("/v1/orders/{order}/cancel"), json!({})),
        (
            format!("/v1/orders/{order}/refund-requests"),
            json!({"reason": "r"}),
        ),
        (
            format!("/v1/orders/{order}/invoice-requests"),
            json!({"type": "ordinary", "title": "T", "tax_id": "X1", "address": "A"}),
        ),
        (
            format!("/v1/orders/{order}/review"),
            json!({"quality": 5, "attitude": 5, "speed": 5, "comment": "c"}),
        ),
    ];
    let seller_writes: Vec<(String, Value)> = vec![
        (
            format!("/v1/orders/{order}/change-price"),
            json!({"new_price_cents": 1, "reason": "r"}),
        ),
        (
            format!("/v1/orders/{order}/seller-refunds"),
            json!({"kind": "full", "release": "immediate", "reason": "r"}),
        ),
        (format!("/v1/refunds/{refund}/approve"), json!({})),
        (
            format!("/v1/refunds/{refund}/reject"),
            json!({"reason": "r"}),
        ),
        (
            format!("/v1/invoices/{invoice}/issue"),
            json!({"tracking": "T"}),
        ),
        (
            format!("/v1/invoices/{invoice}/reject"),
            json!({"reason": "r"}),
        ),
        (format!("/v1/reviews/{review}/reply"), json!({"text": "t"})),
    ];

    // Another customer and another seller: not found, for reads and writes alike.
    for token in [&bo, &bolt] {
        for uri in &reads {
            let r = api.call("GET", uri).token(token).send().await;
            r.error(StatusCode::NOT_FOUND, "not_found");
        }
    }
    for (uri, body) in &customer_writes {
        api.post_as(&bo, uri, body.clone())
            .await
            .error(StatusCode::NOT_FOUND, "not_found");
    }
    for (uri, body) in &seller_writes {
        api.post_as(&bolt, uri, body.clone())
            .await
            .error(StatusCode::NOT_FOUND, "not_found");
    }
    // Roles a route never serves: forbidden, whoever owns the record.
    for token in [&analyst, &auditor] {
        for (uri, body) in customer_writes.iter().chain(&seller_writes) {
            api.post_as(token, uri, body.clone())
                .await
                .error(StatusCode::FORBIDDEN, "forbidden");
        }
    }
    // The seller does not act as the customer, nor the customer as the seller.
    for (uri, body) in &customer_writes {
        api.post_as(&acme, uri, body.clone())
            .await
            .error(StatusCode::FORBIDDEN, "forbidden");
    }
    for (uri, body) in &seller_writes {
        api.post_as(&ann, uri, body.clone())
            .await
            .error(StatusCode::FORBIDDEN, "forbidden");
    }
    api.call("GET", "/v1/orders")
        .token(&analyst)
        .send()
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(
        api.head().await,
        head_before,
        "a refused command appended something"
    );

    // The parties and the auditor read them all.
    for token in [&ann, &acme, &auditor, &ADMIN.to_owned()] {
        for uri in &reads {
            api.call("GET", uri)
                .token(token)
                .send()
                .await
                .expect(StatusCode::OK);
        }
    }
    // Lists show another tenant nothing.
    for (token, path) in [
        (&bo, "/v1/orders"),
        (&bo, "/v1/refunds"),
        (&bo, "/v1/invoices"),
        (&bo, "/v1/instances"),
        (&bolt, "/v1/orders"),
        (&bolt, "/v1/refunds"),
        (&bolt, "/v1/invoices"),
        (&bolt, "/v1/instances"),
    ] {
        let page = api.read_as(token, path).await;
        assert_eq!(page["items"].as_array().unwrap().len(), 0, "{path}: {page}");
    }
}
