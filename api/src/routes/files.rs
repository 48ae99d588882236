//! API.md §7 files: `POST /v1/deliveries/{id}/files` (raw body ≤ `FILE_BYTES_MAX`, its own
//! body limit: the router's JSON limit is 1 MiB) stores the bytes in the content-addressed
//! file store first and then attaches their metadata to the project (`FileAttached`: the
//! bytes never go inside an event); `GET /v1/files/{id}` answers the bytes to the parties
//! of the file's delivery (404 to everyone else).
//!
//! A file named for an upload-required node must have one of `UPLOAD_TYPES`' extensions
//! (422 `validation_failed`, field `name`, rule `file_type`).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::delivery::project::{DeliveryCommand, FileAttached};
use domain::delivery::{FILE_BYTES_MAX, UPLOAD_TYPES};
use domain::ids::IdKind;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use utoipa::ToSchema;

use crate::access;
use crate::error::ApiError;
use crate::extract::{Body, Caller, CommandHeaders, MinPosition};
use crate::routes::deliveries::{load_delivery, party, run};
use crate::routes::{Doc, Routes};
use crate::state::App;

/// Content type stored when the request names none.
pub const CONTENT_TYPE_DEFAULT: &str = "application/octet-stream";

/// The largest file, as a body limit.
fn file_bytes_max() -> usize {
    usize::try_from(FILE_BYTES_MAX).unwrap_or(usize::MAX)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    pub name: Option<String>,
    pub node_id: Option<String>,
}

/// A stored file.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileView {
    pub id: String,
    pub name: String,
    pub size: u64,
    /// SHA-256 of the bytes, lowercase hex (also the download's `ETag`).
    pub sha256: String,
    /// The delivery stream's version.
    pub version: u64,
    /// The log position of the attachment.
    pub position: u64,
}

pub fn routes(r: Routes) -> Routes {
    use axum::routing::{get, post};
    r.add(
        "POST",
        "/v1/deliveries/{id}/files",
        post(upload).layer(DefaultBodyLimit::max(file_bytes_max() + 1)),
        Doc::new(
            "upload a file (raw body ≤ 5 MiB, else 413) to a project, optionally for a node; \
             its Content-Type is stored",
            "parties but the auditor",
        )
        .query("name", "the file name (required)")
        .query("node_id", "the node it belongs to")
        .raw_body("application/octet-stream")
        .answers::<FileView>(201),
    )
    .add(
        "GET",
        "/v1/files/{id}",
        get(download),
        Doc::new(
            "a file's bytes with its Content-Type, Content-Disposition and ETag (its sha256)",
            "parties of its delivery",
        )
        .raw_answer(200, "*/*"),
    )
}

fn extension(name: &str) -> Option<String> {
    let (_, ext) = name.rsplit_once('.')?;
    Some(ext.to_ascii_lowercase())
}

#[allow(clippy::too_many_arguments)]
async fn upload(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    q: Result<Query<UploadQuery>, QueryRejection>,
    request: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    access::UPLOAD_FILE.check(&caller)?;
    let loaded = load_delivery(&app, &caller, &id)?;
    let bytes = match bytes {
        Ok(b) if b.len() <= file_bytes_max() => b,
        Ok(_) => return Err(ApiError::payload_too_large(file_bytes_max())),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(ApiError::payload_too_large(file_bytes_max()))
        }
        Err(e) => return Err(ApiError::bad_request(format!("unreadable body: {e}"))),
    };
    let q = crate::extract::query(q)?;
    let name = q.name.ok_or_else(|| {
        ApiError::bad_request("the query names no file: name=").with("field", "name")
    })?;
    let upload_node = q.node_id.as_deref().and_then(|n| {
        loaded
            .state
            .flow()
            .iter()
            .find(|f| f.node.id == n && f.node.upload_required)
    });
    if upload_node.is_some()
        && !extension(&name).is_some_and(|e| UPLOAD_TYPES.contains(&e.as_str()))
    {
        return Err(ApiError::validation(
            "name",
            "file_type",
            format!(
                "node {} takes only files of type {}",
                q.node_id.as_deref().unwrap_or_default(),
                UPLOAD_TYPES.join(", ")
            ),
        ));
    }
    let content_type = request
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .unwrap_or(CONTENT_TYPE_DEFAULT)
        .to_owned();
    if bytes.is_empty() {
        return Err(ApiError::validation(
            "size",
            "empty",
            "a file must not be empty",
        ));
    }
    let store = app.files.clone();
    let put_bytes = bytes.clone();
    let stored = tokio::task::spawn_blocking(move || store.put(&put_bytes))
        .await
        .map_err(|e| ApiError::internal("storing a file", e))??;
    let file_id = file_id(&app, &caller, &headers);
    let attached = FileAttached {
        file_id: file_id.clone(),
        name: name.clone(),
        size: stored.size,
        sha256: stored.sha256.clone(),
        content_type,
        node_id: q.node_id,
        by: party(&caller),
    };
    let step = domain::delivery::flow::Step::Command(DeliveryCommand::AttachFile(attached));
    let body = Body(bytes);
    let done = run(&app, &caller, &headers, &body, "AttachFile", &id, step).await?;
    let view = FileView {
        id: file_id,
        name,
        size: stored.size,
        sha256: stored.sha256,
        version: done.version,
        position: done.position,
    };
    Ok(crate::respond::command(
        StatusCode::CREATED,
        &view,
        done.version,
    ))
}

/// The new file's id. A repeat with the same `Idempotency-Key` answers the original
/// response, ids included (API.md §1), so with a key the id is derived from the caller and
/// the key instead of drawn: the repeat names the file the first upload attached.
fn file_id(app: &App, caller: &Caller, headers: &CommandHeaders) -> String {
    match &headers.idempotency_key {
        Some(key) => {
            let digest = sha2::Sha256::new()
                .chain_update(caller.id.as_bytes())
                .chain_update([0])
                .chain_update(key.as_bytes())
                .finalize();
            let body = hex::encode(digest);
            format!(
                "{}{}",
                IdKind::File.prefix(),
                &body[..domain::ids::GENERATED_ID_BODY_CHARS]
            )
        }
        None => app.ids.new_id(IdKind::File),
    }
}

/// `attachment; filename*=UTF-8''<percent-encoded name>` (RFC 6266, RFC 5987).
fn disposition(name: &str) -> String {
    let mut out = String::from("attachment; filename*=UTF-8''");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn download(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    access::GET_FILE.check(&caller)?;
    app.wait_for(&app.deliveries, min).await?;
    let (found, position) = app.deliveries.read(|d| {
        let f = d.files.get(&id)?;
        let row = d.deliveries.get(&f.delivery_id)?;
        access::sees_delivery(&caller, &row.state).then(|| f.clone())
    });
    let file = found.ok_or_else(|| ApiError::not_found("file"))?;
    let store = app.files.clone();
    let sha = file.sha256.clone();
    let bytes = tokio::task::spawn_blocking(move || store.get(&sha))
        .await
        .map_err(|e| ApiError::internal("reading a file", e))??
        .ok_or_else(|| ApiError::internal("reading a file", "the file store lacks it"))?;
    let mut r = (StatusCode::OK, bytes).into_response();
    let h = r.headers_mut();
    let content_type = HeaderValue::from_str(&file.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static(CONTENT_TYPE_DEFAULT));
    h.insert(header::CONTENT_TYPE, content_type);
    if let Ok(v) = HeaderValue::from_str(&disposition(&file.name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", file.sha256)) {
        h.insert(header::ETAG, v);
    }
    h.insert("x-projection-position", HeaderValue::from(position));
    Ok(r)
}
