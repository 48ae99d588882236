//! Races on one order (STYLE.md: concurrency is a first-class case). Many clients send
//! conflicting commands about the same order at the same moment, on a two-thread runtime;
//! the order's invariants must hold whatever the interleaving: paid once, never paid at a
//! price it no longer had, at most one open refund, never more refunded than paid, a refund
//! decided once.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Api, ADMIN};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

/// Clients per race.
const RACERS: usize = 16;

struct Market {
    seller: String,
    customer: String,
    product: String,
}

async fn market(api: &Api) -> Market {
    let (seller, product) = api.listed_product("Acme", "VM", 5000).await;
    let (_, customer) = api.create_principal("customer", None).await;
    Market {
        seller,
        customer,
        product,
    }
}

/// One request through the router: (status, JSON body).
async fn send(
    api: &Api,
    method: &str,
    uri: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    send_to(api.router.clone(), method, uri, token, body).await
}

async fn send_to(
    router: axum::Router,
    method: &str,
    uri: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"));
    let body = match body {
        Some(v) => {
            b = b.header("content-type", "application/json");
            Body::from(serde_json::to_vec(&v).unwrap())
        }
        None => Body::empty(),
    };
    let r = router.oneshot(b.body(body).unwrap()).await.unwrap();
    let status = r.status();
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    let v = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, v)
}

/// Sends every request at once, each from its own task; answers in request order.
async fn race(
    api: &Api,
    requests: Vec<(&str, String, String, Option<Value>)>,
) -> Vec<(StatusCode, Value)> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(requests.len()));
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(method, uri, token, body)| {
            let router = api.router.clone();
            let method = method.to_owned();
            let barrier = std::sync::Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                send_to(router, &method, &uri, &token, body).await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

async fn place(api: &Api, m: &Market) -> String {
    api.place_order(&m.customer, &m.product, 1).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn pay(api: &Api, m: &Market, order: &str, cents: i64) {
    let (status, v) = send(
        api,
        "POST",
        &format!("/v1/orders/{order}/pay"),
        &m.customer,
        Some(json!({"amount_cents": cents})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

/// The order as read once the models have applied everything written so far.
async fn order(api: &Api, m: &Market, id: &str) -> Value {
    api.read_as(&m.customer, &format!("/v1/orders/{id}")).await
}

/// Events of `event_type` in the order's stream.
async fn events_of(api: &Api, id: &str, event_type: &str) -> Vec<Value> {
    api.all_events(&format!("type={event_type}"), 500)
        .await
        .into_iter()
        .filter(|e| e["stream_id"] == format!("order-{id}"))
        .collect()
}

fn count(answers: &[(StatusCode, Value)], status: StatusCode) -> usize {
    answers.iter().filter(|(s, _)| *s == status).count()
}

/// Every answer that is not `ok` is the 409 `invalid_state` naming `state`.
fn others_are_invalid_state(answers: &[(StatusCode, Value)], ok: StatusCode, state: &str) {
    for (status, v) in answers.iter().filter(|(s, _)| *s != ok) {
        assert_eq!(*status, StatusCode::CONFLICT, "{v}");
        assert_eq!(v["error"]["code"], "invalid_state", "{v}");
        assert_eq!(v["error"]["details"]["state"], state, "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_payments_of_one_order_pay_it_exactly_once() {
    let api = Api::new().await;
    let m = market(&api).await;
    let id = place(&api, &m).await;
    let answers = race(
        &api,
        (0..RACERS)
            .map(|_| {
                (
                    "POST",
                    format!("/v1/orders/{id}/pay"),
                    m.customer.clone(),
                    Some(json!({"amount_cents": 5000})),
                )
            })
            .collect(),
    )
    .await;
    assert_eq!(count(&answers, StatusCode::OK), 1, "{answers:?}");
    others_are_invalid_state(&answers, StatusCode::OK, "paid");
    assert_eq!(events_of(&api, &id, "OrderPaid").await.len(), 1);
    let o = order(&api, &m, &id).await;
    assert_eq!(
        (o["status"].as_str(), o["paid_cents"].as_i64()),
        (Some("paid"), Some(5000))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_change_racing_a_payment_at_the_old_price_never_both_succeed() {
    let api = Api::new().await;
    let m = market(&api).await;
    for round in 0..8 {
        let id = place(&api, &m).await;
        // Half the racers pay the old price, half change it (each to a different price).
        let requests = (0..RACERS)
            .map(|i| {
                if i % 2 == 0 {
                    (
                        "POST",
                        format!("/v1/orders/{id}/pay"),
                        m.customer.clone(),
                        Some(json!({"amount_cents": 5000})),
                    )
                } else {
                    (
                        "POST",
                        format!("/v1/orders/{id}/change-price"),
                        m.seller.clone(),
                        Some(json!({"new_price_cents": 4000 + i as i64, "reason": "race"})),
                    )
                }
            })
            .collect();
        let answers = race(&api, requests).await;
        let (pays, changes): (Vec<_>, Vec<_>) =
            answers.iter().enumerate().partition(|(i, _)| i % 2 == 0);
        let paid = pays
            .iter()
            .filter(|(_, (s, _))| *s == StatusCode::OK)
            .count();
        let changed = changes
            .iter()
            .filter(|(_, (s, _))| *s == StatusCode::OK)
            .count();
        assert!(paid <= 1, "round {round}: paid {paid} times: {answers:?}");
        // A payment at the old price succeeds only if no change came before it, and then
        // no change may come after it.
        assert!(
            paid == 0 || changed == 0,
            "round {round}: paid at 5000 and changed: {answers:?}"
        );
        for (_, (status, v)) in &pays {
            if *status != StatusCode::OK {
                let code = v["error"]["code"].as_str().unwrap_or_default();
                assert!(
                    (*status == StatusCode::UNPROCESSABLE_ENTITY && code == "amount_mismatch")
                        || (*status == StatusCode::CONFLICT && code == "invalid_state"),
                    "round {round}: {status} {v}"
                );
            }
        }
        if paid == 1 {
            others_are_invalid_state(
                &changes
                    .iter()
                    .map(|(_, a)| (*a).clone())
                    .collect::<Vec<_>>(),
                StatusCode::OK,
                "paid",
            );
        }
        // The log agrees with the answers: one price change event per 200, and the order's
        // payable is the last of them.
        let changed_events = events_of(&api, &id, "OrderPriceChanged").await;
        assert_eq!(changed_events.len(), changed, "round {round}");
        let o = order(&api, &m, &id).await;
        if paid == 1 {
            assert_eq!(
                (o["status"].as_str(), o["paid_cents"].as_i64()),
                (Some("paid"), Some(5000))
            );
        } else {
            assert_eq!(o["status"], "unpaid", "round {round}: {o}");
            let last = changed_events
                .last()
                .map(|e| e["data"]["new_payable"].as_i64());
            assert_eq!(
                Some(o["payable_cents"].as_i64()),
                last,
                "round {round}: {o}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refund_requests_open_at_most_one_refund_and_never_refund_more_than_paid() {
    let api = Api::new().await;
    let m = market(&api).await;
    let id = place(&api, &m).await;
    pay(&api, &m, &id, 5000).await;
    // Customers ask for parts and the seller starts refunds of the remainder, all at once.
    let requests = (0..RACERS)
        .map(|i| {
            if i % 2 == 0 {
                (
                    "POST",
                    format!("/v1/orders/{id}/refund-requests"),
                    m.customer.clone(),
                    Some(json!({"amount_cents": 3000 + i as i64, "reason": "race"})),
                )
            } else {
                (
                    "POST",
                    format!("/v1/orders/{id}/seller-refunds"),
                    m.seller.clone(),
                    Some(json!({"kind": "remaining", "amount_cents": 2500 + i as i64,
                        "release": "immediate", "reason": "race"})),
                )
            }
        })
        .collect();
    let answers = race(&api, requests).await;
    assert_eq!(count(&answers, StatusCode::CREATED), 1, "{answers:?}");
    others_are_invalid_state(&answers, StatusCode::CREATED, "refund_open");
    let opened = &answers
        .iter()
        .find(|(s, _)| *s == StatusCode::CREATED)
        .unwrap()
        .1;
    let refund = opened["id"].as_str().unwrap().to_owned();
    let amount = opened["amount_cents"].as_i64().unwrap();
    // Everyone who may decide it approves it at once: it is refunded once.
    let (decider, path) = if opened["status"] == "pending_seller" {
        (m.seller.clone(), "approve")
    } else {
        (ADMIN.to_owned(), "approve")
    };
    let answers = race(
        &api,
        (0..RACERS)
            .map(|_| {
                (
                    "POST",
                    format!("/v1/refunds/{refund}/{path}"),
                    decider.clone(),
                    Some(json!({})),
                )
            })
            .collect(),
    )
    .await;
    assert_eq!(count(&answers, StatusCode::OK), 1, "{answers:?}");
    others_are_invalid_state(&answers, StatusCode::OK, "refunded");
    assert_eq!(events_of(&api, &id, "RefundApproved").await.len(), 1);
    let o = order(&api, &m, &id).await;
    assert_eq!(o["refunded_cents"].as_i64(), Some(amount), "{o}");
    assert_eq!(o["balance_cents"].as_i64(), Some(5000 - amount), "{o}");

    // Then a race to refund the rest, twice over: the order never goes below zero.
    let requests = (0..RACERS)
        .map(|_| {
            (
                "POST",
                format!("/v1/orders/{id}/refund-requests"),
                m.customer.clone(),
                Some(json!({"reason": "the rest"})),
            )
        })
        .collect();
    let answers = race(&api, requests).await;
    assert_eq!(count(&answers, StatusCode::CREATED), 1, "{answers:?}");
    let rest = answers
        .iter()
        .find(|(s, _)| *s == StatusCode::CREATED)
        .unwrap()
        .1["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let approved = send(
        &api,
        "POST",
        &format!("/v1/refunds/{rest}/approve"),
        &m.seller,
        Some(json!({})),
    )
    .await;
    assert_eq!(approved.0, StatusCode::OK, "{}", approved.1);
    let o = order(&api, &m, &id).await;
    assert_eq!(
        (
            o["status"].as_str(),
            o["refunded_cents"].as_i64(),
            o["balance_cents"].as_i64()
        ),
        (Some("refunded"), Some(5000), Some(0)),
        "{o}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seller_rejection_racing_the_auto_approval_deadline_decides_the_refund_once() {
    let api = Api::new().await;
    let m = market(&api).await;
    for round in 0..8 {
        let id = place(&api, &m).await;
        pay(&api, &m, &id, 5000).await;
        let (status, refund) = send(
            &api,
            "POST",
            &format!("/v1/orders/{id}/refund-requests"),
            &m.customer,
            Some(json!({"reason": "race"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{refund}");
        let refund = refund["id"].as_str().unwrap().to_owned();
        // The clock reaches the auto-approval (3 days) while the seller rejects; the
        // rejection is sent a little later each round (after more reads), so that both orders
        // happen.
        let advance = tokio::spawn(send_to(
            api.router.clone(),
            "POST",
            "/v1/admin/clock/advance",
            ADMIN,
            Some(json!({"seconds": 3 * 24 * 3600})),
        ));
        for _ in 0..round * round * 4 {
            api.head().await;
        }
        let reject = send(
            &api,
            "POST",
            &format!("/v1/refunds/{refund}/reject"),
            &m.seller,
            Some(json!({"reason": "used"})),
        )
        .await;
        let answers = [advance.await.unwrap(), reject];
        assert_eq!(
            answers[0].0,
            StatusCode::OK,
            "round {round}: {:?}",
            answers[0]
        );
        let approved = events_of(&api, &id, "RefundApproved").await;
        let rejected = events_of(&api, &id, "RefundRejected").await;
        assert_eq!(
            approved.len() + rejected.len(),
            1,
            "round {round}: decided twice or never"
        );
        let o = order(&api, &m, &id).await;
        if answers[1].0 == StatusCode::OK {
            assert_eq!(rejected.len(), 1, "round {round}");
            assert_eq!(
                (o["status"].as_str(), o["refunded_cents"].as_i64()),
                (Some("paid"), Some(0))
            );
        } else {
            others_are_invalid_state(&answers[1..], StatusCode::OK, "refunded");
            assert_eq!(approved[0]["actor"], "system", "round {round}");
            assert_eq!(
                (o["status"].as_str(), o["refunded_cents"].as_i64()),
                (Some("refunded"), Some(5000))
            );
        }
    }
}
