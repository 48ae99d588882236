//! Shared harness of the in-process API tests: one app per test on its own temp data dir,
//! requests sent with `router.oneshot(request)`, and the assertions every test needs (the
//! error JSON shape of API.md §1 above all).

#![allow(dead_code)]

pub mod contract;

use axum::body::{Body as HttpBody, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

/// The served OpenAPI document as an oracle for every answer (see [`contract`]); the same
/// for every app, so fetched once per test binary.
static CONTRACT: tokio::sync::OnceCell<contract::Contract> = tokio::sync::OnceCell::const_new();

/// The contract, fetched through `router` the first time.
pub async fn contract(router: &axum::Router) -> &'static contract::Contract {
    CONTRACT
        .get_or_init(|| async {
            let req = Request::builder()
                .uri("/v1/openapi.json")
                .body(HttpBody::empty())
                .unwrap();
            let r = router.clone().oneshot(req).await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            let body = r.into_body().collect().await.unwrap().to_bytes();
            contract::Contract::new(serde_json::from_slice(&body).unwrap())
        })
        .await
}

/// Token of the platform admin every test app is bootstrapped with.
pub const ADMIN: &str = "admin-token-0123456789";
/// Start of the simulated clock.
pub const START: &str = "2026-11-22T09:00:00+08:00";

/// One app on its own data dir, with its router built once.
pub struct Api {
    pub app: api::state::App,
    pub router: axum::Router,
    pub dir: tempfile::TempDir,
}

impl Api {
    /// An app with the simulated clock at [`START`].
    pub async fn new() -> Api {
        Api::open(true).await
    }

    /// An app on the real clock (clock advance answers 404).
    pub async fn with_real_clock() -> Api {
        Api::open(false).await
    }

    async fn open(simulated: bool) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let simulated_start = simulated.then(|| domain::Timestamp::parse_rfc3339(START).unwrap());
        let app = api::state::App::open(api::state::AppConfig {
            data_dir: dir.path().into(),
            tz: chrono_tz::Asia::Shanghai,
            simulated_start,
            metrics: api::app::metrics_handle(),
        })
        .unwrap();
        api::serve::bootstrap_admin(&app, Some(ADMIN))
            .await
            .unwrap();
        api::policies::spawn(app.clone()).unwrap();
        let router = api::app::router(app.clone());
        Api { app, router, dir }
    }

    /// A request to `uri`, without a token until [`Call::token`] adds one.
    /// The served OpenAPI document (`GET /v1/openapi.json`, 200).
    pub async fn openapi(&self) -> Value {
        self.call("GET", "/v1/openapi.json")
            .send()
            .await
            .expect(StatusCode::OK)
    }

    pub fn call(&self, method: &str, uri: &str) -> Call<'_> {
        Call {
            api: self,
            method: Method::from_bytes(method.as_bytes()).unwrap(),
            uri: uri.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `GET uri` as the admin.
    pub async fn get(&self, uri: &str) -> Resp {
        self.call("GET", uri).token(ADMIN).send().await
    }

    /// `GET uri` as the admin once the projections applied `position` (read-your-writes).
    pub async fn get_at(&self, uri: &str, position: u64) -> Resp {
        self.call("GET", uri)
            .token(ADMIN)
            .header("x-min-position", &position.to_string())
            .send()
            .await
    }

    /// `POST uri` with a JSON body as the admin.
    pub async fn post(&self, uri: &str, body: Value) -> Resp {
        self.call("POST", uri).token(ADMIN).json(&body).send().await
    }

    /// Creates an organisation as the admin: (id, position).
    pub async fn create_org(&self, name: &str) -> (String, u64) {
        let r = self.post("/v1/orgs", json!({ "name": name })).await;
        let v = r.expect(StatusCode::CREATED);
        (
            v["id"].as_str().unwrap().to_owned(),
            v["position"].as_u64().unwrap(),
        )
    }

    /// Creates a principal as the admin: (id, token).
    pub async fn create_principal(&self, role: &str, org_id: Option<&str>) -> (String, String) {
        let mut body = json!({ "role": role, "name": format!("a {role}") });
        if let Some(org) = org_id {
            body["org_id"] = json!(org);
        }
        let v = self
            .post("/v1/principals", body)
            .await
            .expect(StatusCode::CREATED);
        (
            v["id"].as_str().unwrap().to_owned(),
            v["token"].as_str().unwrap().to_owned(),
        )
    }

    /// A new seller org `name` with an admin and one approved SaaS product `code` of one
    /// monthly spec `m` at `price_cents`: (seller token, product id).
    pub async fn listed_product(
        &self,
        name: &str,
        code: &str,
        price_cents: i64,
    ) -> (String, String) {
        let (org, _) = self.create_org(name).await;
        let (_, seller) = self.create_principal("isv_admin", Some(&org)).await;
        let product = self
            .call("POST", "/v1/products")
            .token(&seller)
            .json(&json!({
                "code": code, "name": format!("{name} {code}"), "category": "compute",
                "delivery": "saas", "delivery_days": 0, "warranty_days": 0,
                "specs": [{"id": "m", "name": "monthly", "duration": 1, "unit": "month",
                    "price_cents": price_cents}]
            }))
            .send()
            .await
            .expect(StatusCode::CREATED)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.approve_product(&seller, &product).await;
        (seller, product)
    }

    /// Submits `product` as its seller and approves it as the admin.
    pub async fn approve_product(&self, seller: &str, product: &str) {
        self.call("POST", &format!("/v1/products/{product}/submit"))
            .token(seller)
            .send()
            .await
            .expect(StatusCode::OK);
        self.post(&format!("/v1/products/{product}/approve"), json!({}))
            .await
            .expect(StatusCode::OK);
    }

    /// A new order of `quantity` × spec `m` of `product` by `customer`: the order as answered.
    pub async fn place_order(&self, customer: &str, product: &str, quantity: u32) -> Value {
        self.call("POST", "/v1/orders")
            .token(customer)
            .json(
                &json!({"product_id": product, "spec_id": "m", "quantity": quantity,
                "order_type": "new"}),
            )
            .send()
            .await
            .expect(StatusCode::CREATED)
    }

    /// A paid order of `quantity` × spec `m` of `product` by `customer`, `voucher_cents` of it
    /// by voucher and the rest in cash: its id.
    pub async fn paid_order(
        &self,
        customer: &str,
        product: &str,
        quantity: u32,
        voucher_cents: i64,
    ) -> String {
        let o = self.place_order(customer, product, quantity).await;
        let id = o["id"].as_str().unwrap().to_owned();
        self.post_as(
            customer,
            &format!("/v1/orders/{id}/pay"),
            json!({"amount_cents": o["payable_cents"], "voucher_cents": voucher_cents}),
        )
        .await
        .expect(StatusCode::OK);
        id
    }

    /// `POST uri` with `body` as `token`.
    pub async fn post_as(&self, token: &str, uri: &str, body: Value) -> Resp {
        self.call("POST", uri).token(token).json(&body).send().await
    }

    /// `GET uri` as `token` once the models applied everything written so far: the 200 body.
    pub async fn read_as(&self, token: &str, uri: &str) -> Value {
        let head = self.head().await.to_string();
        self.call("GET", uri)
            .token(token)
            .header("x-min-position", &head)
            .send()
            .await
            .expect(StatusCode::OK)
    }

    /// The ids of every page of the list at `path` (which may carry a query), `limit` per
    /// page, as `token`, once the models applied everything written so far; each page no
    /// longer than its limit.
    pub async fn ids_of_all_pages(&self, token: &str, path: &str, limit: usize) -> Vec<String> {
        let head = self.head().await.to_string();
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..1000 {
            let mut uri = format!("{path}{sep}limit={limit}");
            if let Some(c) = &cursor {
                uri.push_str(&format!("&cursor={c}"));
            }
            let page = self
                .call("GET", &uri)
                .token(token)
                .header("x-min-position", &head)
                .send()
                .await
                .expect(StatusCode::OK);
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= limit, "page longer than its limit: {page}");
            ids.extend(items.iter().map(|o| o["id"].as_str().unwrap().to_owned()));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return ids,
            }
        }
        panic!("paging of {path} never ended");
    }

    /// The log head as `/v1/health` reports it.
    pub async fn head(&self) -> u64 {
        let v = self
            .call("GET", "/v1/health")
            .send()
            .await
            .expect(StatusCode::OK);
        v["log_position"].as_u64().unwrap()
    }

    /// Every event of the log, following `next_cursor` (pages of `limit`).
    pub async fn all_events(&self, query: &str, limit: usize) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..10_000 {
            let mut uri = format!("/v1/events?limit={limit}");
            if !query.is_empty() {
                uri.push('&');
                uri.push_str(query);
            }
            if let Some(c) = &cursor {
                uri.push_str(&format!("&cursor={c}"));
            }
            let page = self.get(&uri).await.expect(StatusCode::OK);
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= limit, "page longer than limit: {page}");
            out.extend(items.iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => {
                    assert!(page["next_cursor"].is_null(), "{page}");
                    return out;
                }
            }
        }
        panic!("pagination of /v1/events never ended");
    }
}

/// A request under construction.
pub struct Call<'a> {
    api: &'a Api,
    method: Method,
    uri: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Vec<u8>,
}

impl Call<'_> {
    pub fn token(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn header(self, name: &str, value: &str) -> Self {
        self.header_bytes(name, value.as_bytes())
    }

    pub fn header_bytes(mut self, name: &str, value: &[u8]) -> Self {
        self.headers.push((
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value).unwrap(),
        ));
        self
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.body = serde_json::to_vec(body).unwrap();
        self.header("content-type", "application/json")
    }

    pub fn raw(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    fn request(self) -> (axum::Router, Request<HttpBody>) {
        let mut b = Request::builder()
            .method(self.method)
            .uri(self.uri.as_str());
        for (k, v) in self.headers {
            b = b.header(k, v);
        }
        (
            self.api.router.clone(),
            b.body(HttpBody::from(self.body)).unwrap(),
        )
    }

    /// Sends the request and reads the whole answer, which must match the schema the
    /// OpenAPI document publishes for its operation and status.
    pub async fn send(self) -> Resp {
        let (method, uri) = (self.method.clone(), self.uri.clone());
        let (router, req) = self.request();
        let contract = contract(&router).await;
        let r = router.oneshot(req).await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let body = r.into_body().collect().await.unwrap().to_bytes();
        if let Some(problem) = contract.problems(&method, &uri, status, &headers, &body) {
            panic!(
                "the answer does not match /v1/openapi.json: {problem}\nbody: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Resp {
            status,
            headers,
            body,
        }
    }

    /// Sends the request and returns the response with its body unread (streams).
    pub async fn send_streaming(self) -> axum::response::Response {
        let (router, req) = self.request();
        router.oneshot(req).await.unwrap()
    }
}

/// A whole answer.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    /// Asserts the status and returns the JSON body.
    #[track_caller]
    pub fn expect(&self, status: StatusCode) -> Value {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self.json()
    }

    /// Asserts an error answer of API.md §1 with this status and code; returns `details`.
    #[track_caller]
    pub fn error(&self, status: StatusCode, code: &str) -> Value {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        let v = assert_error_shape(&self.body);
        assert_eq!(v["error"]["code"], code, "{v}");
        v["error"]["details"].clone()
    }
}

/// What is wrong with an error body, if anything (see [`assert_error_shape`]).
pub fn error_shape_problem(body: &[u8]) -> Option<String> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Some("not JSON".into());
    };
    let Some(top) = v.as_object() else {
        return Some("not an object".into());
    };
    if top.len() != 1 {
        return Some("extra top-level keys".into());
    }
    let Some(e) = v["error"].as_object() else {
        return Some("no error object".into());
    };
    if e.get("code")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Some("no error.code".into());
    }
    if e.get("message")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Some("no error.message".into());
    }
    if !e.get("details").is_some_and(Value::is_object) {
        return Some("no error.details object".into());
    }
    None
}

/// Asserts `{"error": {"code", "message", "details"}}` (non-empty code and message, details an
/// object, nothing else at the top level) and returns the parsed body.
#[track_caller]
pub fn assert_error_shape(body: &[u8]) -> Value {
    let v: Value = serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!(
            "error body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(body)
        )
    });
    let top = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"));
    assert_eq!(top.len(), 1, "error body has extra top-level keys: {v}");
    let e = v["error"]
        .as_object()
        .unwrap_or_else(|| panic!("no error object: {v}"));
    assert!(
        e["code"].as_str().is_some_and(|c| !c.is_empty()),
        "error.code: {v}"
    );
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "error.message: {v}"
    );
    assert!(e["details"].is_object(), "error.details: {v}");
    v
}
