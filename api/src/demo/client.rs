//! The demo's client: every write and read is an HTTP request through the server's own router
//! (`tower::ServiceExt::oneshot` on [`crate::app::router`]), so validation, access,
//! idempotency and policies are exactly the server's. Only [`Client::settle`] looks inside
//! the app, to wait for the policies and projections, as `GET /v1/health` would.

use std::time::Duration;

use axum::body::Body as HttpBody;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use super::DemoError;
use crate::state::App;

/// Longest wait for the policies and projections to catch up with the log.
pub const SETTLE_WAIT_MS_MAX: u64 = 30_000;

/// An answer: status and JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Answer {
    /// The error code of an error answer (API.md §1), or "".
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// The router of one in-process app, and the app for settling.
#[derive(Clone)]
pub struct Client {
    app: App,
    router: axum::Router,
}

impl Client {
    pub fn new(app: App) -> Client {
        let router = crate::app::router(app.clone());
        Client { app, router }
    }

    /// Sends one request; `body` as JSON, or raw bytes for an upload.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Payload<'_>,
    ) -> Result<Answer, DemoError> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"));
        let body = match body {
            Payload::None => HttpBody::empty(),
            Payload::Json(v) => {
                req = req.header("content-type", "application/json");
                HttpBody::from(v.to_string())
            }
            Payload::Bytes(b) => {
                req = req.header("content-type", "application/octet-stream");
                HttpBody::from(b.to_vec())
            }
        };
        let req = req
            .body(body)
            .map_err(|e| DemoError::Client(format!("{path}: {e}")))?;
        let answer = self
            .router
            .clone()
            .oneshot(req)
            .await
            .map_err(|e| DemoError::Client(format!("{path}: {e}")))?;
        let status = answer.status();
        let bytes = answer
            .into_body()
            .collect()
            .await
            .map_err(|e| DemoError::Client(format!("{path}: {e}")))?
            .to_bytes();
        Ok(Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    }

    /// A command that must succeed (2xx): its answer body.
    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Result<Value, DemoError> {
        self.ok(Method::POST, path, token, Payload::Json(body))
            .await
    }

    /// `PUT` that must succeed.
    pub async fn put(&self, path: &str, token: &str, body: &Value) -> Result<Value, DemoError> {
        self.ok(Method::PUT, path, token, Payload::Json(body)).await
    }

    /// A read that must succeed.
    pub async fn get(&self, path: &str, token: &str) -> Result<Value, DemoError> {
        self.ok(Method::GET, path, token, Payload::None).await
    }

    /// A command that may be refused: the answer, whatever its status.
    pub async fn try_post(
        &self,
        path: &str,
        token: &str,
        body: &Value,
    ) -> Result<Answer, DemoError> {
        self.send(Method::POST, path, token, Payload::Json(body))
            .await
    }

    /// Any request that must answer 2xx.
    pub async fn ok(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Payload<'_>,
    ) -> Result<Value, DemoError> {
        let what = format!("{method} {path}");
        let answer = self.send(method, path, token, body).await?;
        if answer.status.is_success() {
            Ok(answer.body)
        } else {
            Err(DemoError::Refused {
                what,
                status: answer.status.as_u16(),
                body: answer.body.to_string(),
            })
        }
    }

    /// The log's head position.
    pub fn head(&self) -> u64 {
        self.app.store.head()
    }

    /// Waits until every policy has reacted to everything in the log (reactions append,
    /// and may call for more reactions) and every projection applied it: what a client
    /// does by polling `GET /v1/health` until `policies_position` reaches `log_position`.
    pub async fn settle(&self) -> Result<(), DemoError> {
        let wait = Duration::from_millis(SETTLE_WAIT_MS_MAX);
        loop {
            let head = self.app.store.head();
            if !self.app.policies.wait_for(head, wait).await {
                return Err(DemoError::Stalled(format!(
                    "the policies did not reach position {head}"
                )));
            }
            if self.app.store.head() == head {
                return self
                    .app
                    .wait_all(head)
                    .await
                    .map_err(|e| DemoError::Stalled(e.message));
            }
        }
    }
}

/// A request body.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    None,
    Json(&'a Value),
    Bytes(&'a [u8]),
}
