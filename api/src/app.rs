//! The router: every route, the conventions layered once around all of them (request ids,
//! tracing spans carrying the request id, body limit, HTTP metrics, error JSON for unknown
//! routes and methods).

use std::sync::{Arc, OnceLock};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use domain::ids::IdKind;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::extract::BODY_BYTES_MAX;
use crate::routes::{self, Routes};
use crate::state::App;

/// The process-wide Prometheus recorder (installed once, shared by every app in a process).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ])
                .map(|b| b.build_recorder())
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // Another recorder may already be installed (tests): then ours stays local.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

#[derive(Clone)]
struct RequestIds(App);

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&self.0.ids.new_id(IdKind::Request))
            .ok()
            .map(RequestId::new)
    }
}

/// Every route of the API with its conventions.
pub fn router(app: App) -> Router {
    let routes = [
        routes::platform::routes,
        routes::staff::routes,
        routes::products::routes,
        routes::promotions::routes,
        routes::orders::routes,
        routes::refunds::routes,
        routes::aftersale::routes,
        routes::instances::routes,
        routes::coupons::routes,
        routes::deliveries::routes,
        routes::files::routes,
        routes::queues::routes,
        routes::templates::routes,
        routes::trade::routes,
        routes::log::routes,
        routes::ops::routes,
        routes::workbench::routes,
    ]
    .into_iter()
    .fold(Routes::default(), |r, add| add(r));
    let doc_cell: Arc<OnceLock<serde_json::Value>> = Arc::new(OnceLock::new());
    let served = Arc::clone(&doc_cell);
    let routes = routes.add(
        "GET",
        "/v1/openapi.json",
        axum::routing::get(move || {
            let served = Arc::clone(&served);
            async move { axum::Json(served.get().cloned().unwrap_or_default()) }
        }),
        routes::Doc::new("this OpenAPI 3 document of every route", "none")
            .raw_answer(200, "application/json"),
    );
    let (router, doc) = routes.finish();
    let _ = doc_cell.set(doc);
    let x_request_id = HeaderName::from_static("x-request-id");
    router

        .fallback(|| async { ApiError::not_found("route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
        })
        .layer(axum::middleware::from_fn(http_metrics))
        .layer(axum::middleware::from_fn(request_head_limits))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_BYTES_MAX + 1))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
            }),
        )
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, RequestIds(app.clone())))
        .with_state(app)
}

/// Longest request target (path and query) the router takes.
pub const URI_BYTES_MAX: usize = 8 * 1024;
/// Largest sum of header name and value bytes.
pub const HEADER_BYTES_MAX: usize = 32 * 1024;
/// Most header lines.
pub const HEADERS_COUNT_MAX: usize = 100;

/// 414 / 431 with the error JSON. hyper answers these itself, with an empty body, only past
/// its own larger limits (a target over 64 KiB, headers over its ~400 KiB read buffer or more
/// than 256 lines, see `listener`), so below those the client gets the usual error JSON.
async fn request_head_limits(req: Request, next: Next) -> Response {
    let uri_bytes = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri_bytes > URI_BYTES_MAX {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the request target is longer than {URI_BYTES_MAX} bytes"),
        )
        .with("limit_bytes", URI_BYTES_MAX)
        .into_response();
    }
    let headers = req.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers.len() > HEADERS_COUNT_MAX || header_bytes > HEADER_BYTES_MAX {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "header_too_large",
            format!("request headers exceed {HEADERS_COUNT_MAX} lines or {HEADER_BYTES_MAX} bytes"),
        )
        .with("limit_bytes", HEADER_BYTES_MAX)
        .with("limit_count", HEADERS_COUNT_MAX)
        .into_response();
    }
    next.run(req).await
}

async fn http_metrics(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let started = domain::clock::monotonic_now();
    let response = json_errors(next.run(req).await).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("marketlog_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("marketlog_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response.into_response()
}

/// Every error answer is the error JSON of API.md §1, also the few that axum's own
/// extractors produce as plain text (e.g. a path segment that is not UTF-8).
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let bytes = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).trim().to_owned();
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthenticated",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "bad_request",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_lowercase()
    } else {
        text.to_lowercase()
    };
    ApiError::new(status, code, message).into_response()
}
