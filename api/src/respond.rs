//! Success answers: the resource's JSON plus `version` and `position`, an `ETag`, and for
//! reads `X-Projection-Position` (API.md §1).
//!
//! Every answer is serialized from one typed value whose `ToSchema` is also its entry in
//! `/v1/openapi.json`, so what is sent and what is documented cannot drift apart (the API
//! tests check each answer against its published schema). There is no `serde_json::Value`
//! in between: building and dropping one cost ~10 % of the CPU of `http_commands`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A command's answer (a view that holds `version` and `position`), `ETag: "<version>"`.
pub fn command<T: Serialize>(status: StatusCode, view: &T, version: u64) -> Response {
    with_etag(json(status, view), version)
}

/// A read's answer with `X-Projection-Position`, and `ETag: "<version>"` for a resource that
/// has a version.
pub fn read<T: Serialize>(view: &T, version: Option<u64>, projection_position: u64) -> Response {
    let mut r = json(StatusCode::OK, view);
    r.headers_mut().insert(
        "x-projection-position",
        HeaderValue::from(projection_position),
    );
    match version {
        Some(version) => with_etag(r, version),
        None => r,
    }
}

/// One page of a list, `{"items": [...], "next_cursor": ...}`, with `X-Projection-Position`.
pub fn list<P: Page>(
    items: Vec<P::Item>,
    next_cursor: Option<String>,
    projection_position: u64,
) -> Response {
    read(&P::new(items, next_cursor), None, projection_position)
}

/// The answer type of a list route (declared with [`page!`](crate::page)).
pub trait Page: Serialize {
    type Item;
    fn new(items: Vec<Self::Item>, next_cursor: Option<String>) -> Self;
}

/// Declares the page type of a list route: `page!(OrderPage, OrderView<'static>)`.
#[macro_export]
macro_rules! page {
    ($(#[$doc:meta])* $name:ident, $item:ty) => {
        $(#[$doc])*
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            pub items: Vec<$item>,
            /// The `cursor` of the next page; null on the last.
            pub next_cursor: Option<String>,
        }

        impl $crate::respond::Page for $name {
            type Item = $item;
            fn new(items: Vec<$item>, next_cursor: Option<String>) -> Self {
                $name { items, next_cursor }
            }
        }
    };
}

fn json<T: Serialize>(status: StatusCode, view: &T) -> Response {
    match serde_json::to_vec(view) {
        Ok(body) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(e) => crate::error::ApiError::internal("encoding the answer", e).into_response(),
    }
}

/// Adds `ETag: "<version>"`.
fn with_etag(mut r: Response, version: u64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}
