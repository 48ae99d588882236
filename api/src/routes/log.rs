//! API.md §9, the log itself: one stream's raw events, the whole log in order (optionally
//! with the stored bytes so a client can verify the chain), and the live SSE feed.

use std::convert::Infallible;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use domain::Timestamp;
use eventlog::{Direction, Record};
use futures::Stream;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::access;
use crate::error::ApiError;
use crate::extract::{query, Caller};
use crate::paging::{bad_cursor, limit_within, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX};
use crate::respond;
use crate::routes::{Doc, Routes};
use crate::state::App;

/// Records a type-filtered `/v1/events` page scans at most before it answers.
pub const TYPE_FILTER_SCAN_RECORDS_MAX: usize = 20_000;

/// One event as the API shows it (the same shape everywhere events are shown).
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub position: u64,
    pub stream_id: String,
    pub version: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub schema: u16,
    #[schema(format = DateTime)]
    pub at: String,
    pub actor: String,
    pub correlation_id: String,
    pub causation_id: String,
    /// The payload as JSON (null if this server does not know the type).
    #[schema(value_type = Option<Object>)]
    pub data: Value,
    /// When `data` is null: the stored payload, base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_base64: Option<String>,
    /// With `include=raw`: the stored record bytes (body ‖ crc32c ‖ chain), base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_base64: Option<String>,
    /// With `include=raw`: CRC32C of the body, 8 hex digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[0-9a-f]{8}$")]
    pub crc32c: Option<String>,
    /// With `include=raw`: the chain hash after this record, 64 hex digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub chain: Option<String>,
}

impl EventView {
    /// One record, with its stored bytes when `raw` is given.
    pub fn of(tz: chrono_tz::Tz, r: &Record, raw: Option<&[u8]>) -> EventView {
        let data = match domain::events::decode_json(&r.event_type, r.schema_version, &r.payload) {
            Some(Ok(v)) => v,
            _ => Value::Null,
        };
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        EventView {
            position: r.position,
            stream_id: r.stream_id.clone(),
            version: r.version,
            event_type: r.event_type.clone(),
            schema: r.schema_version,
            at: Timestamp::from_micros(r.recorded_at_micros).to_rfc3339_in(tz),
            actor: r.actor.clone(),
            correlation_id: r.correlation_id.clone(),
            causation_id: r.causation_id.clone(),
            payload_base64: data.is_null().then(|| b64(&r.payload)),
            data,
            raw_base64: raw.map(b64),
            crc32c: raw.map(|_| format!("{:08x}", r.crc32c)),
            chain: raw.map(|_| hex::encode(r.chain)),
        }
    }
}

crate::page!(
    /// One page of events in log (or stream version) order.
    EventPage,
    EventView
);

pub fn routes(r: Routes) -> Routes {
    use axum::routing::get;
    r.add("GET", "/v1/streams/{stream_id}", get(stream), Doc::new("raw events of one stream, oldest first", "auditor, platform").query("from_version", "first version (default 1)").query("include", "raw: add stored bytes, crc32c and chain hash").query("limit", "1..=500, default 50").query("cursor", "next_cursor of the previous page").answers::<EventPage>(200))
        .add("GET", "/v1/events", get(events), Doc::new("events of the whole log in position order", "auditor, analyst, platform").query("from_position", "first position (default 1)").query("limit", "1..=500, default 50").query("type", "only this event type").query("include", "raw: add stored bytes, crc32c and chain hash").query("cursor", "next_cursor of the previous page").answers::<EventPage>(200))
        .add("GET", "/v1/events/live", get(live), Doc::new("Server-Sent Events: catch-up from from_position (or Last-Event-ID + 1), then live; each event's id is its position", "auditor, analyst, platform").query("from_position", "first position (default 1)").raw_answer(200, "text/event-stream"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamQuery {
    include: Option<String>,
    from_version: Option<u64>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// The stored bytes of a record (body ‖ crc32c ‖ chain), rebuilt from the decoded record:
/// bincode is deterministic, so these are the bytes that were hashed and checksummed.
fn stored_bytes(r: &Record) -> Vec<u8> {
    let mut v = r.body_bytes();
    v.extend_from_slice(&r.crc32c.to_be_bytes());
    v.extend_from_slice(&r.chain);
    v
}

fn cursor_of(cursor: Option<&str>) -> Result<Option<u64>, ApiError> {
    cursor
        .map(|c| c.parse::<u64>().map_err(|_| bad_cursor()))
        .transpose()
}

async fn stream(
    State(app): State<App>,
    caller: Caller,
    Path(stream_id): Path<String>,
    q: Result<Query<StreamQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    access::STREAM.check(&caller)?;
    let q = query(q)?;
    if eventlog::validate_stream_id(&stream_id).is_err()
        || app.store.stream_version(&stream_id)? == 0
    {
        return Err(ApiError::not_found("stream"));
    }
    let limit = limit_within(q.limit, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX)?;
    let from = cursor_of(q.cursor.as_deref())?
        .or(q.from_version)
        .unwrap_or(1)
        .max(1);
    let records = app
        .store
        .read_stream(&stream_id, from, Direction::Forward, limit + 1)?;
    let more = records.len() > limit;
    let raw = match q.include.as_deref() {
        None => false,
        Some("raw") => true,
        Some(_) => {
            return Err(ApiError::bad_request("include must be raw").with("field", "include"))
        }
    };
    let items: Vec<EventView> = records
        .iter()
        .take(limit)
        .map(|r| {
            let bytes = raw.then(|| stored_bytes(r));
            EventView::of(app.tz, r, bytes.as_deref())
        })
        .collect();
    let next = more.then(|| (from + limit as u64).to_string());
    Ok(respond::list::<EventPage>(items, next, app.store.head()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    from_position: Option<u64>,
    limit: Option<usize>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    include: Option<String>,
    cursor: Option<String>,
}

async fn events(
    State(app): State<App>,
    caller: Caller,
    q: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    access::EVENTS.check(&caller)?;
    let q = query(q)?;
    let limit = limit_within(q.limit, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX)?;
    let raw = match q.include.as_deref() {
        None => false,
        Some("raw") => true,
        Some(_) => {
            return Err(ApiError::bad_request("include must be raw").with("field", "include"))
        }
    };
    let mut next = cursor_of(q.cursor.as_deref())?
        .or(q.from_position)
        .unwrap_or(1)
        .max(1);
    let head = app.store.head();
    let mut items = Vec::with_capacity(limit);
    let mut scanned = 0;
    while items.len() < limit && next <= head && scanned < TYPE_FILTER_SCAN_RECORDS_MAX {
        let want = if q.event_type.is_some() {
            1_000
        } else {
            limit - items.len()
        };
        let chunk = if raw {
            app.log.read_raw(next, want)?
        } else {
            Vec::new()
        };
        let records = app.store.read_all(next, want)?;
        if records.is_empty() {
            break;
        }
        for (i, r) in records.iter().enumerate() {
            scanned += 1;
            next = r.position + 1;
            if q.event_type.as_deref().is_some_and(|t| t != r.event_type) {
                continue;
            }
            let raw_value = chunk
                .get(i)
                .filter(|(p, _)| *p == r.position)
                .map(|(_, v)| v.as_slice());
            items.push(EventView::of(app.tz, r, raw_value));
            if items.len() == limit {
                break;
            }
        }
    }
    let next_cursor = (next <= head).then(|| next.to_string());
    Ok(respond::list::<EventPage>(items, next_cursor, head))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LiveQuery {
    from_position: Option<u64>,
}

async fn live(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    q: Result<Query<LiveQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    access::EVENTS_LIVE.check(&caller)?;
    let q = query(q)?;
    let resume = match headers
        .get("last-event-id")
        .map(|v| v.to_str().map(|s| s.trim().parse::<u64>()))
    {
        None => None,
        Some(Ok(Ok(id))) => Some(id.saturating_add(1)),
        Some(_) => {
            return Err(
                ApiError::bad_request("Last-Event-ID must be a log position")
                    .with("field", "Last-Event-ID"),
            )
        }
    };
    let from = resume.or(q.from_position).unwrap_or(1).max(1);
    Ok(Sse::new(feed(app, from))
        .keep_alive(KeepAlive::default())
        .into_response())
}

fn feed(app: App, from: u64) -> impl Stream<Item = Result<Event, Infallible>> {
    let sub = app.store.subscribe(from);
    let shutdown = app.shutdown.subscribe();
    futures::stream::unfold(
        (sub, shutdown, app),
        |(mut sub, mut shutdown, app)| async move {
            if *shutdown.borrow() {
                return None;
            }
            let next = tokio::select! {
                r = sub.next() => r.ok()?,
                _ = shutdown.changed() => return None,
            };
            let event = Event::default()
                .id(next.position.to_string())
                .event(next.event_type.clone())
                .data(
                    serde_json::to_string(&EventView::of(app.tz, &next, None)).unwrap_or_default(),
                );
            Some((Ok(event), (sub, shutdown, app)))
        },
    )
}
