//! The real API served in-process on a free TCP port over its own temp data dir, with a
//! simulated clock and the policy runner, and a helper to call it: what the online, history and rebuild tests build
//! their data through.

#![allow(dead_code)] // each test file uses its own part

use std::time::Duration;

use serde_json::Value;

use crate::fixture::{run_raw, serial, Run};

/// The bootstrap platform admin's token.
pub const ADMIN: &str = "admin-token-0123456789";
/// Where the simulated clock starts.
pub const START: &str = "2026-11-22T09:00:00+08:00";

/// The real API on a real port, over its own temp data dir.
pub struct LiveApi {
    pub runtime: tokio::runtime::Runtime,
    pub app: api::state::App,
    pub url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<()>,
    pub dir: tempfile::TempDir,
}

impl LiveApi {
    pub fn start() -> LiveApi {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .unwrap();
        let data_dir = dir.path().to_path_buf();
        let (app, url, stop, served) = runtime.block_on(async move {
            let app = api::state::App::open(api::state::AppConfig {
                data_dir,
                tz: chrono_tz::Asia::Shanghai,
                simulated_start: Some(domain::Timestamp::parse_rfc3339(START).unwrap()),
                metrics: api::app::metrics_handle(),
            })
            .unwrap();
            api::serve::bootstrap_admin(&app, Some(ADMIN))
                .await
                .unwrap();
            // As `marketlog serve` does: a payment starts a delivery project, and so on.
            api::policies::spawn(app.clone()).unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let router = api::app::router(app.clone());
            let served = tokio::spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
            (app, url, stop, served)
        });
        LiveApi {
            runtime,
            app,
            url,
            stop,
            served,
            dir,
        }
    }

    /// Stops serving, closes the log (writing its head anchor) and drops everything that
    /// holds the data dir, so the offline tool can read it; returns the data dir.
    pub fn stop(self) -> tempfile::TempDir {
        let LiveApi {
            runtime,
            app,
            stop,
            served,
            dir,
            ..
        } = self;
        // No child may be between fork and exec while the log's lock goes away (see serial).
        let _serial = serial();
        let _ = stop.send(());
        runtime.block_on(served).unwrap();
        app.shutdown.send_replace(true);
        let log = app.log.clone();
        runtime
            .block_on(runtime.spawn_blocking(move || log.close()))
            .unwrap()
            .unwrap();
        drop(app);
        runtime.shutdown_timeout(Duration::from_secs(10));
        dir
    }
}

/// A JSON request as the given token; panics unless the status is `want`.
pub fn call(
    client: &reqwest::blocking::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Value,
    want: u16,
) -> Value {
    let response = client
        .request(method, url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    let answer: Value = response.json().unwrap_or(Value::Null);
    assert_eq!(status, want, "{url}: {answer}");
    answer
}

/// `replay-tool --no-progress --url URL --token T ARGS…`.
pub fn online(url: &str, token: &str, args: &[&str]) -> Run {
    let mut full = vec!["--no-progress", "--url", url, "--token", token];
    full.extend_from_slice(args);
    run_raw(&full)
}

/// What [`market`] built.
#[derive(Debug, Clone)]
pub struct Market {
    pub org_id: String,
    pub product_id: String,
    pub order_id: String,
    pub seller: String,
    pub customer: String,
    pub auditor: String,
    pub analyst: String,
}

/// When the order is paid: an hour after [`START`] (the order is placed and repriced at
/// [`START`]; the simulated clock stands still between advances).
pub const PAID_AT: &str = "2026-11-22T10:00:00+08:00";

/// A small marketplace through the HTTP API: an org with its isv_admin, a customer, an
/// auditor and an analyst, a listed saas product (one spec at 50.00 a month), and an order
/// of 2 placed at [`START`], repriced by the seller to 90.00, then paid at [`PAID_AT`].
pub fn market(url: &str) -> Market {
    let client = reqwest::blocking::Client::new();
    // Some commands check against read models (an isv_admin's org must be in the
    // directory), so each step waits until every projection has applied the one before.
    let post = |path: &str, token: &str, body: Value, want: u16| {
        let answer = call(
            &client,
            reqwest::Method::POST,
            &format!("{url}{path}"),
            token,
            body,
            want,
        );
        if let Some(position) = answer["position"].as_u64() {
            settle(&client, url, position);
        }
        answer
    };
    let text = |v: &Value, key: &str| v[key].as_str().unwrap().to_string();
    let org_id = text(
        &post(
            "/v1/orgs",
            ADMIN,
            serde_json::json!({"name": "Seller Co"}),
            201,
        ),
        "id",
    );
    let principal = |body: Value| {
        let v = post("/v1/principals", ADMIN, body, 201);
        text(&v, "token")
    };
    let seller =
        principal(serde_json::json!({"role": "isv_admin", "name": "the seller", "org_id": org_id}));
    let customer = principal(
        serde_json::json!({"role": "customer", "name": "a buyer", "real_name_verified": true}),
    );
    let auditor = principal(serde_json::json!({"role": "auditor", "name": "an auditor"}));
    let analyst = principal(serde_json::json!({"role": "analyst", "name": "an analyst"}));
    let product = post(
        "/v1/products",
        &seller,
        serde_json::json!({
            "code": "crm-1", "name": "Cloud CRM", "category": "saas",
            "delivery": "saas", "delivery_days": 1, "warranty_days": 0,
            "specs": [{"id": "s", "name": "s", "duration": 1, "unit": "month", "price_cents": 5000}],
        }),
        201,
    );
    let product_id = text(&product, "id");
    post(
        &format!("/v1/products/{product_id}/submit"),
        &seller,
        serde_json::json!({}),
        200,
    );
    post(
        &format!("/v1/products/{product_id}/approve"),
        ADMIN,
        serde_json::json!({}),
        200,
    );
    let order = post(
        "/v1/orders",
        &customer,
        serde_json::json!({"product_id": product_id, "spec_id": "s", "quantity": 2, "order_type": "new"}),
        201,
    );
    let order_id = text(&order, "id");
    post(
        &format!("/v1/orders/{order_id}/change-price"),
        &seller,
        serde_json::json!({"new_price_cents": 9000, "reason": "r"}),
        200,
    );
    post(
        "/v1/admin/clock/advance",
        ADMIN,
        serde_json::json!({"seconds": 3600}),
        200,
    );
    post(
        &format!("/v1/orders/{order_id}/pay"),
        &customer,
        serde_json::json!({"amount_cents": 9000}),
        200,
    );
    Market {
        org_id,
        product_id,
        order_id,
        seller,
        customer,
        auditor,
        analyst,
    }
}

/// Every record's stored bytes, read from a private copy of a closed data dir.
pub fn stored_records(data_dir: &std::path::Path) -> Vec<(u64, Vec<u8>)> {
    let _serial = serial();
    let copy = eventlog::OfflineCopy::take(data_dir).unwrap();
    let log = eventlog::SledLog::open(copy.path()).unwrap();
    let raw = log.read_raw(1, 1_000_000).unwrap();
    log.close().unwrap();
    drop(log);
    raw
}

/// Waits (up to 10 s) until every projection `/v1/health` lists has applied `position`.
pub fn settle(client: &reqwest::blocking::Client, url: &str, position: u64) {
    for _ in 0..1_000 {
        let health: Value = client
            .get(format!("{url}/v1/health"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let applied = health["projections"]
            .as_object()
            .unwrap()
            .values()
            .all(|p| p.as_u64().is_some_and(|p| p >= position));
        if applied {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the projections did not reach position {position} in 10 s");
}

/// Waits (up to 10 s) until the policies reacted to the whole log, every projection applied
/// it and nothing more was appended (a payment → a project → its assignment).
pub fn settle_all(client: &reqwest::blocking::Client, url: &str) {
    let mut last_head = None;
    for _ in 0..1_000 {
        let health: Value = client
            .get(format!("{url}/v1/health"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let head = health["log_position"].as_u64().unwrap();
        let reacted = health["policies_position"]
            .as_u64()
            .is_some_and(|p| p >= head);
        let applied = health["projections"]
            .as_object()
            .unwrap()
            .values()
            .all(|p| p.as_u64().is_some_and(|p| p >= head));
        if reacted && applied && last_head == Some(head) {
            return;
        }
        last_head = (reacted && applied).then_some(head);
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the policies and projections did not settle in 10 s");
}

/// What [`kinds`] built: one stream of each kind an auditor asks about.
#[derive(Debug, Clone)]
pub struct Kinds {
    /// A refund of the market's order (held by the order's stream).
    pub refund_id: String,
    /// A claimable coupon campaign of the market's org, and the customer's claimed coupon.
    pub campaign_id: String,
    pub coupon_id: String,
    /// A delivery specialist of the market's org.
    pub staff_id: String,
    /// The project of a paid manual order on the public preset `tpl_basic`.
    pub delivery_id: String,
    /// `GET /v1/deliveries/{id}` (as the seller) after each step of the project: after the
    /// payment, the requirement and the specialist's work.
    pub delivery_views: Vec<Value>,
}

/// On top of [`market`]: a refund request of its order, a campaign the customer claims a
/// coupon of, a staff member, and a delivery (a manual product on `tpl_basic`, ordered and
/// paid: the payment starts the project; the customer submits the requirement, the project
/// is assigned to the specialist, who does the work).
pub fn kinds(url: &str, m: &Market) -> Kinds {
    let client = reqwest::blocking::Client::new();
    let send = |method: reqwest::Method, path: &str, token: &str, body: Value, want: u16| {
        let answer = call(&client, method, &format!("{url}{path}"), token, body, want);
        settle_all(&client, url);
        answer
    };
    let post = |path: &str, token: &str, body: Value, want: u16| {
        send(reqwest::Method::POST, path, token, body, want)
    };
    let id = |v: &Value| v["id"].as_str().unwrap().to_string();
    let refund_id = id(&post(
        &format!("/v1/orders/{}/refund-requests", m.order_id),
        &m.customer,
        serde_json::json!({"reason": "not needed"}),
        201,
    ));
    let campaign_id = id(&post(
        "/v1/coupon-campaigns",
        &m.seller,
        serde_json::json!({"name": "Spring", "scope": "store", "kind": "threshold",
            "threshold_cents": 8000, "reduce_cents": 1000, "per_customer_limit": 1,
            "valid_from": "2026-01-01T00:00:00+08:00", "valid_until": "2027-01-01T00:00:00+08:00",
            "total_quantity": 100, "scenarios": ["new", "renewal"], "show_in_store": true}),
        201,
    ));
    let coupon_id = id(&post(
        &format!("/v1/coupon-campaigns/{campaign_id}/claim"),
        &m.customer,
        serde_json::json!({}),
        201,
    ));
    // The delivery starts an hour after the market's payment ([`PAID_AT`]).
    post(
        "/v1/admin/clock/advance",
        ADMIN,
        serde_json::json!({"seconds": 3600}),
        200,
    );
    let staff = post(
        &format!("/v1/orgs/{}/staff", m.org_id),
        &m.seller,
        serde_json::json!({"name": "Li", "roles": ["delivery_specialist"],
            "department": "delivery", "tags": [], "max_active": 3}),
        201,
    );
    let staff_id = id(&staff);
    let staff_token = staff["token"].as_str().unwrap().to_string();
    let product = id(&post(
        "/v1/products",
        &m.seller,
        serde_json::json!({"code": "IMPL", "name": "Implementation", "category": "services",
            "delivery": "manual", "delivery_days": 10, "warranty_days": 0,
            "flow_template_id": "tpl_basic",
            "specs": [{"id": "std", "name": "standard", "duration": 1, "unit": "once",
                "price_cents": 10000}]}),
        201,
    ));
    post(
        &format!("/v1/products/{product}/submit"),
        &m.seller,
        serde_json::json!({}),
        200,
    );
    post(
        &format!("/v1/products/{product}/approve"),
        ADMIN,
        serde_json::json!({}),
        200,
    );
    let order = post(
        "/v1/orders",
        &m.customer,
        serde_json::json!({"product_id": product, "spec_id": "std", "quantity": 1,
            "order_type": "new"}),
        201,
    );
    let order_id = id(&order);
    post(
        &format!("/v1/orders/{order_id}/pay"),
        &m.customer,
        serde_json::json!({"amount_cents": order["payable_cents"]}),
        200,
    );
    let delivery_id = format!("dlv_{}", order_id.strip_prefix("ord_").unwrap());
    let view = || {
        send(
            reqwest::Method::GET,
            &format!("/v1/deliveries/{delivery_id}"),
            &m.seller,
            Value::Null,
            200,
        )
    };
    let mut delivery_views = vec![view()];
    post(
        &format!("/v1/deliveries/{delivery_id}/nodes/submit_requirement/submit"),
        &m.customer,
        serde_json::json!({"contact_name": "Wang", "phone": "13800000000",
            "email": "wang@example.com", "address": "Shanghai", "description": "set it up"}),
        200,
    );
    delivery_views.push(view());
    post(
        &format!("/v1/deliveries/{delivery_id}/nodes/project_delivery/complete"),
        &staff_token,
        serde_json::json!({}),
        200,
    );
    delivery_views.push(view());
    Kinds {
        refund_id,
        campaign_id,
        coupon_id,
        staff_id,
        delivery_id,
        delivery_views,
    }
}
