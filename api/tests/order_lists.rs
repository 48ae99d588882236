//! Order lists (API.md §5): newest first, paged by cursor without gap or repeat, each party
//! seeing only its own orders.

mod common;

use axum::http::StatusCode;
use common::{Api, ADMIN};
use serde_json::{json, Value};

struct Market {
    seller: String,
    product: String,
}

async fn market(api: &Api, name: &str) -> Market {
    let (org, _) = api.create_org(name).await;
    let (_, seller) = api.create_principal("isv_admin", Some(&org)).await;
    let product = api
        .call("POST", "/v1/products")
        .token(&seller)
        .json(&json!({
            "code": "VM", "name": "Cloud VM", "category": "compute", "delivery": "saas",
            "delivery_days": 0, "warranty_days": 0,
            "specs": [{"id": "m", "name": "monthly", "duration": 1, "unit": "month", "price_cents": 5000}]
        }))
        .send()
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.call("POST", &format!("/v1/products/{product}/submit"))
        .token(&seller)
        .send()
        .await
        .expect(StatusCode::OK);
    api.post(&format!("/v1/products/{product}/approve"), json!({}))
        .await
        .expect(StatusCode::OK);
    Market { seller, product }
}

async fn place(api: &Api, customer: &str, m: &Market) -> String {
    api.call("POST", "/v1/orders")
        .token(customer)
        .json(&json!({"product_id": m.product, "spec_id": "m", "quantity": 1, "order_type": "new"}))
        .send()
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Every page of `GET /v1/orders?<query>` with `limit` as `token`: the ids in order.
async fn all_pages(api: &Api, token: &str, query: &str, limit: usize) -> Vec<String> {
    let head = api.head().await.to_string();
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let mut uri = format!("/v1/orders?limit={limit}&{query}");
        if let Some(c) = &cursor {
            uri.push_str(&format!("&cursor={c}"));
        }
        let page = api
            .call("GET", &uri)
            .token(token)
            .header("x-min-position", &head)
            .send()
            .await
            .expect(StatusCode::OK);
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= limit, "{page}");
        ids.extend(items.iter().map(|o| o["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return ids,
        }
    }
    panic!("paging never ended");
}

fn created(api_items: &[Value]) -> Vec<String> {
    api_items
        .iter()
        .map(|o| o["created_at"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_of_every_size_list_each_order_once_newest_first_and_only_to_its_parties() {
    let api = Api::new().await;
    let a = market(&api, "Acme").await;
    let b = market(&api, "Bolt").await;
    let (_, ann) = api.create_principal("customer", None).await;
    let (_, bo) = api.create_principal("customer", None).await;
    let mut placed = Vec::new();
    for i in 0..9 {
        // Some orders share a creation time, most do not.
        if i % 3 != 2 {
            api.post("/v1/admin/clock/advance", json!({"seconds": 60}))
                .await
                .expect(StatusCode::OK);
        }
        let (customer, m) = match i % 4 {
            0 => (&ann, &a),
            1 => (&bo, &a),
            2 => (&ann, &b),
            _ => (&bo, &b),
        };
        placed.push((place(&api, customer, m).await, customer.clone(), i % 4 < 2));
    }
    let head = api.head().await.to_string();
    let everything = api
        .call("GET", "/v1/orders?limit=100")
        .token(ADMIN)
        .header("x-min-position", &head)
        .send()
        .await
        .expect(StatusCode::OK);
    let items = everything["items"].as_array().unwrap();
    assert_eq!(items.len(), placed.len());
    let times = created(items);
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    let full: Vec<String> = items
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    for limit in 1..=4 {
        assert_eq!(
            all_pages(&api, ADMIN, "", limit).await,
            full,
            "limit {limit}"
        );
    }
    // Each party sees exactly its own, in the same order, on every page size.
    let own = |keep: &dyn Fn(&(String, String, bool)) -> bool| -> Vec<String> {
        full.iter()
            .filter(|id| placed.iter().any(|p| &p.0 == *id && keep(p)))
            .cloned()
            .collect()
    };
    for limit in [1, 2, 5] {
        assert_eq!(all_pages(&api, &ann, "", limit).await, own(&|p| p.1 == ann));
        assert_eq!(all_pages(&api, &bo, "", limit).await, own(&|p| p.1 == bo));
        assert_eq!(all_pages(&api, &a.seller, "", limit).await, own(&|p| p.2));
        assert_eq!(all_pages(&api, &b.seller, "", limit).await, own(&|p| !p.2));
        // A filter on top of the party's own orders.
        assert_eq!(
            all_pages(&api, &ann, &format!("product_id={}", a.product), limit).await,
            own(&|p| p.1 == ann && p.2)
        );
    }
    // A cursor this server did not issue is refused, naming the field.
    let forged = api
        .call("GET", "/v1/orders?cursor=Z2FyYmFnZQ")
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(
        forged.error(StatusCode::BAD_REQUEST, "bad_request")["field"],
        "cursor"
    );
}

/// Every page of the list at `path` (which may carry a query) as `token`: the ids in order.
async fn pages_of(api: &Api, token: &str, path: &str, limit: usize) -> Vec<String> {
    let head = api.head().await.to_string();
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let mut uri = format!("{path}{sep}limit={limit}");
        if let Some(c) = &cursor {
            uri.push_str(&format!("&cursor={c}"));
        }
        let page = api
            .call("GET", &uri)
            .token(token)
            .header("x-min-position", &head)
            .send()
            .await
            .expect(StatusCode::OK);
        ids.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return ids,
        }
    }
    panic!("paging of {path} never ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_instances_and_refunds_page_without_gap_or_repeat() {
    let api = Api::new().await;
    let a = market(&api, "Acme").await;
    let _b = market(&api, "Bolt").await;
    let _c = market(&api, "Cora").await;
    let (_, ann) = api.create_principal("customer", None).await;
    for _ in 0..4 {
        let id = place(&api, &ann, &a).await;
        api.call("POST", &format!("/v1/orders/{id}/pay"))
            .token(&ann)
            .json(&json!({"amount_cents": 5000}))
            .send()
            .await
            .expect(StatusCode::OK);
        api.call("POST", &format!("/v1/orders/{id}/refund-requests"))
            .token(&ann)
            .json(&json!({"amount_cents": 100, "reason": "paging"}))
            .send()
            .await
            .expect(StatusCode::CREATED);
    }
    for (token, path, expected) in [
        (ADMIN, "/v1/products", 3),
        (ann.as_str(), "/v1/instances", 4),
        (ann.as_str(), "/v1/refunds", 4),
        (a.seller.as_str(), "/v1/refunds?status=pending_seller", 4),
    ] {
        let full = pages_of(&api, token, path, 100).await;
        assert_eq!(full.len(), expected, "{path}");
        let mut sorted = full.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), full.len(), "{path}: repeated ids");
        for limit in 1..=3 {
            assert_eq!(
                pages_of(&api, token, path, limit).await,
                full,
                "{path} limit {limit}"
            );
        }
    }
}
