//! API.md §8 trade statistics and page-view ingestion, in process: the figures of one
//! seller's day, tenancy (another org is 404), the roles (403), the 422s of the range and of
//! page-view batches (nothing appended), idempotent ingestion and the period labels.

mod common;

use axum::http::StatusCode;
use common::{Api, ADMIN};
use serde_json::{json, Value};

async fn org_of(api: &Api, token: &str) -> String {
    api.read_as(token, "/v1/me").await["org_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn view(product: &str, visitor: &str) -> Value {
    json!({"product_id": product, "visitor_id": visitor,
           "at": "2026-11-22T08:30:00+08:00", "dwell_ms": 15_000})
}

const DAY: &str = "/v1/dashboard/trade?from=2026-11-22&to=2026-11-22";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_counts_a_sellers_orders_payments_refunds_and_page_views() {
    let api = Api::new().await;
    let (acme, product) = api.listed_product("Acme", "VM", 5_000).await;
    let (_, ann) = api.create_principal("customer", None).await;
    let (_, bo) = api.create_principal("customer", None).await;
    let paid = api.paid_order(&ann, &product, 1, 1_000).await;
    api.place_order(&bo, &product, 1).await;
    api.post_as(
        &ann,
        &format!("/v1/orders/{paid}/refund-requests"),
        json!({"amount_cents": 100, "reason": "r"}),
    )
    .await
    .expect(StatusCode::CREATED);
    let recorded = api
        .post(
            "/v1/analytics/page-views",
            json!({"views": [view(&product, "v1"), view(&product, "v2"), view(&product, "v1")]}),
        )
        .await
        .expect(StatusCode::CREATED);
    assert!(recorded["id"].as_str().unwrap().starts_with("pgv_"));
    assert_eq!(
        (recorded["recorded"].as_u64(), recorded["version"].as_u64()),
        (Some(3), Some(1))
    );

    let d = api.read_as(&acme, DAY).await;
    let t = &d["totals"];
    let expected = json!({
        "order_amount_cents": 10_000, "paid_amount_cents": 5_000, "trade_amount_cents": 5_000,
        "refund_requested_cents": 100, "refunded_cents": 0, "cash_income_cents": 4_000,
        "voucher_income_cents": 1_000, "ordering_customers": 2, "paying_customers": 1,
        "avg_paid_per_customer_cents": 5_000, "visitors": 2, "views": 3,
        "order_conversion_permille": 1_000, "pay_conversion_permille": 500,
        "order_to_pay_permille": 500
    });
    assert_eq!(t, &expected);
    assert_eq!(
        d["by_type"]["new"],
        json!({"count": 2, "share_permille": 1000})
    );
    assert_eq!(
        d["by_type"]["trial"],
        json!({"count": 0, "share_permille": 0})
    );
    assert_eq!(
        d["top_products"],
        json!([{"product_id": product, "name": "Acme VM", "orders": 2}])
    );
    assert_eq!(
        d["top_products_by_visitors"],
        json!([{"product_id": product, "name": "Acme VM", "visitors": 2}])
    );
    let series = d["series"].as_array().unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0]["period"], "2026-11-22");
    assert_eq!(series[0]["paid_amount_cents"], 5_000);
    // Nothing happened the day before: every delta is null.
    assert_eq!(
        d["change"]["paid_amount_cents"],
        json!({"previous": 0, "delta_permille": null})
    );
    assert_eq!(
        d["change"]["order_conversion_permille"],
        json!({"previous": null, "delta_permille": null})
    );
    // The platform, the analyst and the auditor read it naming the org.
    let org = org_of(&api, &acme).await;
    let (_, analyst) = api.create_principal("analyst", None).await;
    let (_, auditor) = api.create_principal("auditor", None).await;
    for token in [ADMIN, analyst.as_str(), auditor.as_str()] {
        let other = api.read_as(token, &format!("{DAY}&org_id={org}")).await;
        assert_eq!(other["totals"], expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_org_is_not_found_and_other_roles_are_forbidden() {
    let api = Api::new().await;
    let (acme, product) = api.listed_product("Acme", "VM", 5_000).await;
    let (bolt, _) = api.listed_product("Bolt", "DB", 5_000).await;
    let bolt_org = org_of(&api, &bolt).await;
    let (_, ann) = api.create_principal("customer", None).await;
    api.call("GET", &format!("{DAY}&org_id={bolt_org}"))
        .token(&acme)
        .send()
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    for org in ["org_nosuchorg", "not-an-id"] {
        api.get(&format!("{DAY}&org_id={org}"))
            .await
            .error(StatusCode::NOT_FOUND, "not_found");
    }
    api.call("GET", &format!("{DAY}&org_id={bolt_org}"))
        .token(&ann)
        .send()
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    let body = json!({"views": [view(&product, "v1")]});
    for token in [&acme, &ann] {
        api.post_as(token, "/v1/analytics/page-views", body.clone())
            .await
            .error(StatusCode::FORBIDDEN, "forbidden");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_range_or_granularity_is_422_naming_the_field() {
    let api = Api::new().await;
    let (acme, _) = api.listed_product("Acme", "VM", 5_000).await;
    let cases = [
        (
            "from=2026-11-22&to=2026-11-22&granularity=year",
            "granularity",
        ),
        ("from=2026-11-23&to=2026-11-22", "from"),
        ("from=2025-11-21&to=2026-11-22", "to"),
    ];
    for (query, field) in cases {
        let e = api
            .call("GET", &format!("/v1/dashboard/trade?{query}"))
            .token(&acme)
            .send()
            .await
            .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(e["field"], field, "{query}");
    }
    // 366 days is the longest range.
    api.read_as(&acme, "/v1/dashboard/trade?from=2025-11-22&to=2026-11-22")
        .await;
    let e = api
        .get("/v1/dashboard/trade?from=2026-11-22&to=2026-11-22")
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(e["field"], "org_id");
    let e = api
        .call("GET", "/v1/dashboard/trade?from=2026-11-32&to=2026-11-22")
        .token(&acme)
        .send()
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(e["field"], "from");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_page_view_batch_is_refused_whole_and_appends_nothing() {
    let api = Api::new().await;
    let (_, product) = api.listed_product("Acme", "VM", 5_000).await;
    let head = api.head().await;
    let too_many: Vec<Value> = (0..501).map(|i| view(&product, &format!("v{i}"))).collect();
    let e = api
        .post("/v1/analytics/page-views", json!({"views": too_many}))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(e["field"], "views");
    let e = api
        .post(
            "/v1/analytics/page-views",
            json!({"views": [view(&product, "v1"), view("prd_nosuchproduct", "v2")]}),
        )
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(
        (&e["field"], &e["rule"]),
        (&json!("views[1].product_id"), &json!("unknown"))
    );
    let mut future = view(&product, "v1");
    future["at"] = json!("2026-11-22T10:00:00+08:00");
    let e = api
        .post("/v1/analytics/page-views", json!({"views": [future]}))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(e["field"], "views[0].at");
    assert_eq!(api.head().await, head, "nothing was appended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_batch_with_its_idempotency_key_answers_the_same_batch() {
    let api = Api::new().await;
    let (_, product) = api.listed_product("Acme", "VM", 5_000).await;
    let send = || {
        api.call("POST", "/v1/analytics/page-views")
            .token(ADMIN)
            .header("idempotency-key", "batch-1")
            .json(&json!({"views": [view(&product, "v1")]}))
            .send()
    };
    let first = send().await.expect(StatusCode::CREATED);
    let head = api.head().await;
    let again = send().await.expect(StatusCode::CREATED);
    assert_eq!(first, again);
    assert_eq!(api.head().await, head);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periods_are_days_iso_weeks_and_months_cut_to_the_range() {
    let api = Api::new().await;
    let (acme, _) = api.listed_product("Acme", "VM", 5_000).await;
    let labels = |d: Value| -> Vec<String> {
        d["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["period"].as_str().unwrap().to_owned())
            .collect()
    };
    let range = "/v1/dashboard/trade?from=2026-11-29&to=2026-12-01";
    assert_eq!(
        labels(api.read_as(&acme, range).await),
        ["2026-11-29", "2026-11-30", "2026-12-01"]
    );
    assert_eq!(
        labels(
            api.read_as(&acme, &format!("{range}&granularity=week"))
                .await
        ),
        ["2026-W48", "2026-W49"]
    );
    assert_eq!(
        labels(
            api.read_as(&acme, &format!("{range}&granularity=month"))
                .await
        ),
        ["2026-11", "2026-12"]
    );
}
