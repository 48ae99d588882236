//! Success answers: the resource's JSON plus `version` and `position`, an `ETag`, and for
//! reads `X-Projection-Position` (API.md §1).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// A command's answer: `view` with `version` and `position` added, `ETag: "<version>"`.
pub fn command(status: StatusCode, mut view: Value, version: u64, position: u64) -> Response {
    if let Value::Object(m) = &mut view {
        m.insert("version".into(), version.into());
        m.insert("position".into(), position.into());
    }
    with_etag((status, axum::Json(view)).into_response(), version)
}

/// A command's answer serialized straight from a typed view that already holds `version`
/// and `position` (no `serde_json::Value` in between), with `ETag: "<version>"`.
pub fn command_typed<T: serde::Serialize>(status: StatusCode, view: &T, version: u64) -> Response {
    match serde_json::to_vec(view) {
        Ok(body) => with_etag(
            (
                status,
                [(
                    axum::http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            version,
        ),
        Err(e) => crate::error::ApiError::internal("encoding the answer", e).into_response(),
    }
}

/// A read's answer with `X-Projection-Position` (and `ETag` when the view has a version).
pub fn read(view: Value, projection_position: u64) -> Response {
    let etag = view.get("version").and_then(Value::as_u64);
    let mut r = axum::Json(view).into_response();
    r.headers_mut().insert(
        "x-projection-position",
        HeaderValue::from(projection_position),
    );
    match etag {
        Some(version) => with_etag(r, version),
        None => r,
    }
}

/// Adds `ETag: "<version>"`.
fn with_etag(mut r: Response, version: u64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        r.headers_mut().insert(axum::http::header::ETAG, v);
    }
    r
}

/// `{"items": [...], "next_cursor": ...}` with `X-Projection-Position`.
pub fn list(items: Vec<Value>, next_cursor: Option<String>, projection_position: u64) -> Response {
    read(
        serde_json::json!({"items": items, "next_cursor": next_cursor}),
        projection_position,
    )
}
