//! ADR 0003 "poison event", seen from outside: a model that cannot apply an event stops
//! there, visibly — `GET /v1/projections` says `failed` with its position and the event's,
//! `/v1/health` says `degraded`, a rebuild is refused (it would stop at the same event), reads
//! keep answering from the last good state and a read past it answers 503
//! `projection_lagging`; the other models go on.

mod common;

use axum::http::StatusCode;
use common::{Api, ADMIN};
use eventlog::{AppendRequest, Expected, Metadata, NewEvent};
use serde_json::Value;

fn projection<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no {name}: {list}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_stops_its_model_visibly_and_a_rebuild_of_it_is_refused() {
    let api = Api::new().await;
    let (seller, product) = api.listed_product("Acme", "VM", 1_000).await;
    let (_, ann) = api.create_principal("customer", None).await;
    let good = api.place_order(&ann, &product, 1).await;
    let good_position = good["position"].as_u64().unwrap();
    // An order event whose payload no version of the code can decode: written past the
    // runner, as a damaged or buggy writer would.
    let poison = api
        .app
        .store
        .append(AppendRequest::single(
            "order-ord_poison",
            Expected::Any,
            vec![NewEvent {
                event_type: "OrderPlaced".into(),
                schema_version: 2,
                payload: b"not bincode".to_vec(),
            }],
            Metadata::default(),
        ))
        .await
        .unwrap()
        .last_position;
    // Later writes still go in, and the models that do not read orders follow them.
    let (org, after) = api.create_org("Later").await;
    assert!(after > poison);
    let (_, token) = api.create_principal("isv_admin", Some(&org)).await;
    let me = api.read_as(&token, "/v1/me").await;
    assert_eq!(me["org_id"], org.as_str());

    let list = api.get("/v1/projections").await.expect(StatusCode::OK);
    let orders = projection(&list, "orders");
    assert_eq!(orders["status"], "failed", "{list}");
    assert_eq!(
        orders["position"],
        poison - 1,
        "nothing past the poison applied"
    );
    assert_eq!(
        orders["lag"],
        list["log_position"].as_u64().unwrap() - (poison - 1)
    );
    let error = orders["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!("at position {poison}:")) && error.contains("OrderPlaced"),
        "{error}"
    );
    assert_eq!(projection(&list, "directory")["status"], "running");
    let health = api
        .call("GET", "/v1/health")
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["projections"]["orders"], poison - 1);

    // A rebuild would stop at the same event: refused, naming the state.
    let r = api
        .call("POST", "/v1/projections/orders/rebuild")
        .token(ADMIN)
        .send()
        .await;
    let details = r.error(StatusCode::CONFLICT, "invalid_state");
    assert_eq!(details["state"], "failed");

    // Reads answer from the last good state; a read past it waits, then 503.
    let o = api
        .call(
            "GET",
            &format!("/v1/orders/{}", good["id"].as_str().unwrap()),
        )
        .token(&seller)
        .header("x-min-position", &good_position.to_string())
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(o["status"], "unpaid");
    api.call("GET", "/v1/orders")
        .token(&seller)
        .header("x-min-position", &poison.to_string())
        .send()
        .await
        .error(StatusCode::SERVICE_UNAVAILABLE, "projection_lagging");
}
