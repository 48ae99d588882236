//! The fixture scenarios that run against the bench server, each in a child process that
//! opens the fixture's data dir as `marketlog serve` would: `history` (HTTP), `restart`,
//! `scale` and `http_reads_under_write`.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use marketlog_tests::bench::{round, Outcome};
use serde_json::{json, Value};

use super::fixture::{self, FixtureInfo};
use super::{connect, drive, http_commands_on, now, request_full, BenchServer, Market};

/// Stops the server and leaves the data dir as a stopped server does.
async fn shut(m: Market, server: BenchServer) {
    server.stop();
    if let Err(e) = fixture::close(&m.app).await {
        eprintln!("marketlog-bench: {e}");
    }
}

/// `history`, HTTP half: `GET /v1/orders/{id}/history` of the fixture's 50-event order, one
/// client after the other (a latency target: one request's work, not a throughput), as its
/// customer, once the startup integrity scan is done. Every answer must be 200 with every
/// event of the order.
pub async fn history(root: &Path, info: &FixtureInfo, seconds: f64) -> Value {
    let m = fixture::open(root, info).await;
    let scan_wait_ms = scan_finished(&m).await;
    let server = BenchServer::start(&m.app).await;
    let connections = server.connections(1).await;
    let path = Arc::new(format!("/v1/orders/{}/history", info.history_order_id));
    let auth = Arc::new(format!("Bearer {}", info.customer_tokens[0]));
    let expected = info.history_events as usize;
    let wrong = Arc::new(AtomicU64::new(0));
    let w = Arc::clone(&wrong);
    let mut out = drive("history", 1, seconds, 0, move |_, i| {
        let (connections, path, auth, wrong) = (
            Arc::clone(&connections),
            Arc::clone(&path),
            Arc::clone(&auth),
            Arc::clone(&w),
        );
        async move {
            let mut conn = connections[0].lock().await;
            let answer = request_full(&mut conn, "GET", &path, &auth, &[], bytes::Bytes::new());
            let Some((200, _, body)) = answer.await else {
                return false;
            };
            // The first answer is checked in full; later ones by size only (the check would
            // cost more than the request).
            if i == 0 {
                let events = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| v["events"].as_array().map(Vec::len));
                if events != Some(expected) {
                    wrong.fetch_add(1, Ordering::Relaxed);
                    return false;
                }
            }
            true
        }
    })
    .await;
    shut(m, server).await;
    let mut line = out.to_json();
    line["history_events"] = json!(expected);
    line["wrong_answers"] = json!(wrong.load(Ordering::Relaxed));
    line["scan_wait_ms"] = json!(scan_wait_ms);
    line
}

/// `restart`: from nothing in memory to the first served request on the fixture's data dir:
/// open the app (log, every model from its checkpoint, the file store), wait until the models
/// reached the head (as `serve` does before it listens), bind, and answer the history order
/// to its customer with `X-Min-Position` of the head. `replayed_events` is what the models
/// had to apply after their checkpoints (0 when they resumed at the head).
pub async fn restart(root: &Path, info: &FixtureInfo) -> Value {
    let started = now();
    let app = super::open_app(&fixture::data_dir(root));
    let opened = started.elapsed();
    let head = app.store.head();
    let replayed: u64 = app
        .projections
        .iter()
        .map(|p| head.saturating_sub(p.position()))
        .sum();
    let caught_up = app.wait_all_quietly(head, Duration::from_secs(60)).await;
    let ready = started.elapsed();
    let server = BenchServer::start(&app).await;
    let mut conn = connect(server.addr).await;
    let path = format!("/v1/orders/{}", info.history_order_id);
    let auth = format!("Bearer {}", info.customer_tokens[0]);
    let position = [("x-min-position", head.to_string())];
    let answer = request_full(
        &mut conn,
        "GET",
        &path,
        &auth,
        &position,
        bytes::Bytes::new(),
    )
    .await;
    let served = started.elapsed();
    let ok = caught_up && matches!(answer, Some((200, _, _)));
    let mut out = Outcome {
        scenario: "restart".into(),
        concurrency: 1,
        ops: u64::from(ok),
        events: head,
        seconds: served.as_secs_f64(),
        latencies: vec![served],
        errors: u64::from(!ok),
        groups: None,
        log_events: None,
        disk_write_bytes: None,
        cpu_seconds: None,
    };
    let mut line = out.to_json();
    line["open_ms"] = json!(round(opened.as_secs_f64() * 1e3, 1));
    line["caught_up_ms"] = json!(round(ready.as_secs_f64() * 1e3, 1));
    line["replayed_events"] = json!(replayed);
    server.stop();
    if let Err(e) = fixture::close(&app).await {
        eprintln!("marketlog-bench: {e}");
    }
    line
}

/// Longest wait for the integrity scan a server starts at open.
const SCAN_WAIT_MAX: Duration = Duration::from_secs(300);

/// Waits until the integrity scan that opening the app started has walked the log (it reads
/// every record once, O(log), and would otherwise share the cores with the measured load);
/// how long it took in ms.
async fn scan_finished(m: &Market) -> f64 {
    let started = now();
    while started.elapsed() < SCAN_WAIT_MAX {
        if matches!(
            m.app.log.integrity().scan,
            eventlog::integrity::ScanState::Finished { .. }
        ) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    round(started.elapsed().as_secs_f64() * 1e3, 1)
}

/// `scale`: `http_commands` (64 clients) on the fixture's log, `events_before` already in it,
/// once the startup integrity scan is done (a steady server, not a starting one).
pub async fn scale(root: &Path, info: &FixtureInfo, seconds: f64) -> Value {
    let m = fixture::open(root, info).await;
    let scan_wait_ms = scan_finished(&m).await;
    let events_before = m.app.store.head();
    let server = BenchServer::start(&m.app).await;
    let tokens = &m.customer_tokens[..super::HTTP_CLIENTS];
    let mut out = http_commands_on(&m, &server, "scale", tokens, seconds, None).await;
    shut(m, server).await;
    let mut line = out.to_json();
    line["events_before"] = json!(events_before);
    line["scan_wait_ms"] = json!(scan_wait_ms);
    line
}

/// Who sends a read of [`READ_PATHS`].
#[derive(Debug, Clone, Copy)]
pub enum Reader {
    /// The reading client's own customer.
    Customer,
    /// The seller org's isv_admin.
    Seller,
}

/// What makes a read of [`READ_PATHS`] stale, besides an `X-Projection-Position` below the
/// reader's last write (always checked).
#[derive(Debug, Clone, Copy)]
pub enum Fresh {
    /// Nothing more (a list whose first page others' newer writes may fill).
    Position,
    /// The answer holds the reader's last order (its own newest-first list, the order).
    HoldsOrder,
}

/// One read of `http_reads_under_write`.
#[derive(Debug, Clone, Copy)]
pub struct ReadPath {
    pub name: &'static str,
    pub reader: Reader,
    /// `{order_id}`: the reader's last order; `{org_id}`: the seller org.
    pub path: &'static str,
    pub fresh: Fresh,
}

/// The reads of `http_reads_under_write`, taken in turn by every reader, each with
/// `X-Min-Position` of the reader's own last write. The dashboards of issue 19
/// (`/v1/dashboard/trade?org_id={org_id}&from=..&to=..`, `/v1/dashboard/workbench?org_id=
/// {org_id}`, as the seller, `Fresh::Position`) join this list when they land.
pub const READ_PATHS: &[ReadPath] = &[
    ReadPath {
        name: "orders_as_customer",
        reader: Reader::Customer,
        path: "/v1/orders?limit=20",
        fresh: Fresh::HoldsOrder,
    },
    ReadPath {
        name: "orders_as_seller",
        reader: Reader::Seller,
        path: "/v1/orders?limit=20",
        fresh: Fresh::Position,
    },
    ReadPath {
        name: "order",
        reader: Reader::Customer,
        path: "/v1/orders/{order_id}",
        fresh: Fresh::HoldsOrder,
    },
];

/// Readers of `http_reads_under_write` (BENCHMARKS.md: 64 clients).
pub const READERS: usize = 64;
/// Writers beside them; paced together at half the rate they reach alone.
pub const WRITERS: usize = 32;
/// A reader places an order of its own before every this many reads.
pub const READS_PER_WRITE: u64 = 8;

/// What one reader saw.
#[derive(Default)]
struct ReaderTally {
    latencies: Vec<Duration>,
    per_path: Vec<Vec<Duration>>,
    errors: u64,
    stale: u64,
    writes: u64,
}

/// A reader: places an order as its customer, then reads [`READ_PATHS`] in turn with
/// `X-Min-Position` of that write, until `deadline`.
async fn reader(
    addr: std::net::SocketAddr,
    customer_token: String,
    seller_token: String,
    org_id: String,
    product_id: String,
    deadline: std::time::Instant,
) -> ReaderTally {
    let mut conn = connect(addr).await;
    let customer = format!("Bearer {customer_token}");
    let seller = format!("Bearer {seller_token}");
    let place = bytes::Bytes::from(
        json!({"product_id": product_id, "spec_id": "s", "quantity": 1, "order_type": "new"})
            .to_string(),
    );
    let mut tally = ReaderTally {
        per_path: vec![Vec::new(); READ_PATHS.len()],
        ..ReaderTally::default()
    };
    let (mut order_id, mut position) = (String::new(), 0u64);
    let mut i = 0u64;
    while now() < deadline {
        if i.is_multiple_of(READS_PER_WRITE) {
            let placed = request_full(
                &mut conn,
                "POST",
                "/v1/orders",
                &customer,
                &[],
                place.clone(),
            );
            let Some((201, _, body)) = placed.await else {
                tally.errors += 1;
                i += 1;
                continue;
            };
            let v: Value = serde_json::from_slice(&body).unwrap_or_default();
            match (v["id"].as_str(), v["position"].as_u64()) {
                (Some(id), Some(p)) => (order_id, position) = (id.to_owned(), p),
                _ => tally.errors += 1,
            }
            tally.writes += 1;
        }
        let k = (i as usize) % READ_PATHS.len();
        let read = READ_PATHS[k];
        i += 1;
        let path = read
            .path
            .replace("{order_id}", &order_id)
            .replace("{org_id}", &org_id);
        let auth = match read.reader {
            Reader::Customer => &customer,
            Reader::Seller => &seller,
        };
        let min = [("x-min-position", position.to_string())];
        let s = now();
        let answer = request_full(&mut conn, "GET", &path, auth, &min, bytes::Bytes::new()).await;
        let took = s.elapsed();
        let Some((status, headers, body)) = answer else {
            tally.errors += 1;
            continue;
        };
        tally.latencies.push(took);
        tally.per_path[k].push(took);
        let served_at = headers
            .get("x-projection-position")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let holds = !order_id.is_empty()
            && body
                .windows(order_id.len())
                .any(|w| w == order_id.as_bytes());
        match status {
            200 => {
                let behind = served_at.is_none_or(|p| p < position);
                let missing = matches!(read.fresh, Fresh::HoldsOrder) && !holds;
                if behind || missing {
                    tally.stale += 1;
                }
            }
            // The reader's own order not found: stale.
            404 if matches!(read.fresh, Fresh::HoldsOrder) => tally.stale += 1,
            _ => tally.errors += 1,
        }
    }
    tally
}

/// `http_reads_under_write`: [`READERS`] readers ([`reader`]) while [`WRITERS`] writers run
/// `http_commands` at half the rate they reach alone (measured first, for `probe_seconds`),
/// once the startup integrity scan is done.
/// p50/p99 are of the reads; `stale` counts reads answered from before the reader's own
/// write, which must be 0.
pub async fn reads_under_write(
    root: &Path,
    info: &FixtureInfo,
    seconds: f64,
    probe_seconds: f64,
) -> Value {
    let m = fixture::open(root, info).await;
    let scan_wait_ms = scan_finished(&m).await;
    let events_before = m.app.store.head();
    let server = BenchServer::start(&m.app).await;
    let writer_tokens = &m.customer_tokens[READERS..READERS + WRITERS];
    let mut probe =
        http_commands_on(&m, &server, "probe", writer_tokens, probe_seconds, None).await;
    let alone = probe.to_json()["ops_per_s"].as_f64().unwrap_or(0.0);
    let rate = (alone / 2.0).max(1.0);
    let deadline = now() + Duration::from_secs_f64(seconds);
    let started = now();
    let readers: Vec<_> = (0..READERS)
        .map(|t| {
            tokio::spawn(reader(
                server.addr,
                m.customer_tokens[t].clone(),
                m.seller_token.clone(),
                m.seller_org_id.clone(),
                m.product_id.clone(),
                deadline,
            ))
        })
        .collect();
    let mut writes =
        http_commands_on(&m, &server, "writes", writer_tokens, seconds, Some(rate)).await;
    let mut total = ReaderTally {
        per_path: vec![Vec::new(); READ_PATHS.len()],
        ..ReaderTally::default()
    };
    for r in readers {
        if let Ok(t) = r.await {
            total.latencies.extend(t.latencies);
            for (all, mine) in total.per_path.iter_mut().zip(t.per_path) {
                all.extend(mine);
            }
            total.errors += t.errors;
            total.stale += t.stale;
            total.writes += t.writes;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let paths: serde_json::Map<String, Value> = READ_PATHS
        .iter()
        .zip(&mut total.per_path)
        .map(|(p, l)| {
            l.sort_unstable();
            let p99 = marketlog_tests::bench::percentile_ms(l, 99.0);
            (
                p.name.to_owned(),
                json!({"ops": l.len(), "p99_ms": round(p99, 3)}),
            )
        })
        .collect();
    let mut out = Outcome {
        scenario: "http_reads_under_write".into(),
        concurrency: READERS,
        ops: total.latencies.len() as u64,
        events: 0,
        seconds: elapsed,
        latencies: total.latencies,
        errors: total.errors,
        groups: None,
        log_events: None,
        disk_write_bytes: None,
        cpu_seconds: None,
    };
    let writes = writes.to_json();
    let mut line = out.to_json();
    line["stale"] = json!(total.stale);
    line["reader_writes"] = json!(total.writes);
    line["writers"] = json!(WRITERS);
    line["write_rate_alone"] = json!(round(alone, 1));
    line["write_rate_target"] = json!(round(rate, 1));
    line["writes_per_s"] = writes["ops_per_s"].clone();
    line["write_errors"] = writes["errors"].clone();
    line["write_p99_ms"] = writes["p99_ms"].clone();
    line["events_before"] = json!(events_before);
    line["scan_wait_ms"] = json!(scan_wait_ms);
    line["paths"] = Value::Object(paths);
    shut(m, server).await;
    line
}
