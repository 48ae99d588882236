//! `replay-tool history`: one order's stream built through the real API, replayed offline and
//! online (byte-identical), cut by version and by time, checked against what the API's own
//! `GET /v1/orders/{id}/history` says; damaged records, unknown streams and conflicting flags.

mod fixture;
mod live;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use base64::Engine as _;
use fixture::{build, flip_payload_byte, replay_tool, run_raw, STANDARD};
use live::{call, kinds, market, online, stored_records, LiveApi, ADMIN, PAID_AT, START};
use serde_json::{json, Value};

/// Half-way between the price change (at [`START`]) and the payment (at [`PAID_AT`]).
const BEFORE_PAYMENT: &str = "2026-11-22T09:30:00+08:00";

/// The final state of a text history: the pretty JSON after `state as of …: `.
fn final_state(text: &str) -> (String, Value) {
    let at = text.rfind("\nstate as of ").expect("a final state line") + 1;
    let line = &text[at..];
    let (point, json) = line
        .strip_prefix("state as of ")
        .unwrap()
        .split_once(": ")
        .unwrap();
    (point.to_string(), serde_json::from_str(json).unwrap())
}

fn event_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with('#')).collect()
}

#[test]
fn history_is_the_same_offline_and_online_and_travels_in_time() {
    let api = LiveApi::start();
    let url = api.url.clone();
    let m = market(&url);
    let order = m.order_id.as_str();
    let stream = format!("order-{order}");
    let compared: Vec<Vec<&str>> = vec![
        vec!["history", order],
        vec!["history", order, "--json"],
        vec!["history", &stream, "--to-version", "2"],
        vec!["history", order, "--to-version", "2", "--json"],
        vec!["history", order, "--as-of", BEFORE_PAYMENT],
        vec!["history", order, "--as-of", BEFORE_PAYMENT, "--json"],
        vec!["history", order, "--as-of", "2026-11-22T08:00:00+08:00"],
        vec!["--timezone", "UTC", "history", &m.product_id],
        vec!["history", &m.org_id, "--json"],
    ];
    let mut online_runs = Vec::new();
    for args in &compared {
        let run = online(&url, &m.auditor, args);
        assert_eq!(run.code, Some(0), "{args:?}: {run:?}");
        assert_eq!(run.stderr, "", "{args:?}");
        online_runs.push(run);
    }
    // What the API itself says about the order's history.
    let client = reqwest::blocking::Client::new();
    let api_history = call(
        &client,
        reqwest::Method::GET,
        &format!("{url}/v1/orders/{order}/history"),
        &m.auditor,
        Value::Null,
        200,
    );
    let unknown_online = online(&url, &m.auditor, &["history", "ord_nosuchorder"]);
    let unknown_kind_online = online(&url, ADMIN, &["history", "legacy-lgc_nosuch"]);

    let dir = api.stop();
    for (args, on) in compared.iter().zip(&online_runs) {
        let off = replay_tool(dir.path(), args);
        assert_eq!(off.code, Some(0), "{args:?}: {off:?}");
        assert_eq!(on.stdout, off.stdout, "{args:?}: online and offline differ");
    }

    // The whole stream, text: three blocks, then the paid state.
    let text = &online_runs[0].stdout;
    let events = event_lines(text);
    assert_eq!(events.len(), 3, "{text}");
    let api_events = api_history["events"].as_array().unwrap();
    assert_eq!(api_events.len(), 3, "{api_history}");
    for (line, e) in events.iter().zip(api_events) {
        let head = format!(
            "#{} @{} {} {} v{} by {} (correlation {}, causation {})",
            e["version"],
            e["position"],
            e["at"].as_str().unwrap(),
            e["type"].as_str().unwrap(),
            e["schema"],
            e["actor"].as_str().unwrap(),
            e["correlation_id"].as_str().unwrap(),
            e["causation_id"].as_str().unwrap(),
        );
        assert_eq!(*line, head);
    }
    assert!(events[0].contains(&format!(" {START} ")), "{text}");
    assert!(events[2].contains(&format!(" {PAID_AT} ")), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].starts_with("  data: {"), "{text}");
    assert!(lines[2].starts_with("  state: {"), "{text}");
    assert_eq!(lines[3], events[1]);
    let (point, state) = final_state(text);
    assert_eq!(point, "version 3");
    assert_eq!(state["status"], "paid", "{state}");
    assert_eq!(state["payable"], 9000, "{state}");
    assert_eq!(state["paid"], 9000, "{state}");

    // The whole stream, JSON: the same events as the API's history, and after each a state
    // that means what the API's state means (status, payable) though the names differ.
    let full: Value = serde_json::from_str(&online_runs[1].stdout).unwrap();
    assert_eq!(full["stream_id"], json!(stream));
    assert_eq!(full["as_of"], json!({"version": 3, "time": null}));
    let mine = full["events"].as_array().unwrap();
    assert_eq!(mine.len(), 3);
    for (e, theirs) in mine.iter().zip(api_events) {
        for key in [
            "position",
            "version",
            "type",
            "schema",
            "at",
            "actor",
            "correlation_id",
            "causation_id",
            "data",
        ] {
            assert_eq!(e[key], theirs[key], "{key}: {e} vs {theirs}");
        }
        assert_eq!(e["state"]["status"], theirs["state"]["status"], "{e}");
        assert_eq!(
            e["state"]["payable"], theirs["state"]["payable_cents"],
            "{e}"
        );
    }
    let statuses: Vec<&Value> = mine.iter().map(|e| &e["state"]["status"]).collect();
    assert_eq!(
        statuses,
        [&json!("unpaid"), &json!("unpaid"), &json!("paid")]
    );
    let payables: Vec<&Value> = mine.iter().map(|e| &e["state"]["payable"]).collect();
    assert_eq!(payables, [&json!(10000), &json!(9000), &json!(9000)]);
    assert_eq!(full["state"], mine[2]["state"]);

    // Up to version 2: two events, repriced and unpaid.
    let text = &online_runs[2].stdout;
    assert_eq!(event_lines(text).len(), 2, "{text}");
    let (point, state) = final_state(text);
    assert_eq!(point, "version 2");
    assert_eq!(state["status"], "unpaid", "{state}");
    assert_eq!(state["payable"], 9000, "{state}");
    assert_eq!(state["paid"], 0, "{state}");
    let two: Value = serde_json::from_str(&online_runs[3].stdout).unwrap();
    assert_eq!(two["events"].as_array().unwrap().len(), 2);
    assert_eq!(two["as_of"], json!({"version": 2, "time": null}));
    assert_eq!(two["state"], mine[1]["state"]);

    // As of a time before the payment: unpaid.
    let text = &online_runs[4].stdout;
    assert_eq!(event_lines(text).len(), 2, "{text}");
    let (point, state) = final_state(text);
    assert_eq!(point, BEFORE_PAYMENT);
    assert_eq!(state["status"], "unpaid", "{state}");
    assert_eq!(state["payable"], 9000, "{state}");
    let before: Value = serde_json::from_str(&online_runs[5].stdout).unwrap();
    assert_eq!(
        before["as_of"],
        json!({"version": 2, "time": BEFORE_PAYMENT})
    );
    assert_eq!(before["state"], mine[1]["state"]);

    // Before the order existed: no events, no state.
    assert_eq!(
        online_runs[6].stdout,
        "state as of 2026-11-22T08:00:00+08:00: null\n"
    );

    // Other aggregates replay too, in the chosen zone.
    let product = &online_runs[7].stdout;
    assert!(event_lines(product).len() >= 3, "{product}");
    assert!(product.contains(" 2026-11-22T01:00:00+00:00 "), "{product}");
    let (_, state) = final_state(product);
    assert!(state.is_object(), "{product}");
    let org: Value = serde_json::from_str(&online_runs[8].stdout).unwrap();
    assert_eq!(org["stream_id"], json!(format!("org-{}", m.org_id)));
    assert_eq!(org["state"]["name"], "Seller Co", "{org}");

    // An unknown stream: exit 2, the same words either way.
    for (run, said) in [
        (
            unknown_online,
            "replay-tool: no stream order-ord_nosuchorder\n",
        ),
        (
            replay_tool(dir.path(), &["history", "ord_nosuchorder"]),
            "replay-tool: no stream order-ord_nosuchorder\n",
        ),
        (
            unknown_kind_online,
            "replay-tool: no stream legacy-lgc_nosuch\n",
        ),
        (
            replay_tool(dir.path(), &["history", "legacy-lgc_nosuch"]),
            "replay-tool: no stream legacy-lgc_nosuch\n",
        ),
        (
            replay_tool(dir.path(), &["history", "Not A Stream!"]),
            "replay-tool: no stream Not A Stream!\n",
        ),
    ] {
        assert_eq!(run.code, Some(2), "{run:?}");
        assert_eq!(run.stderr, said);
        assert_eq!(run.stdout, "");
    }
}

/// `history ARGS --json`, parsed.
fn json_of(run: &fixture::Run) -> Value {
    assert_eq!(run.code, Some(0), "{run:?}");
    serde_json::from_str(&run.stdout).unwrap()
}

#[test]
fn history_of_every_stream_kind_resolves_ids_and_diffs_each_event() {
    let api = LiveApi::start();
    let url = api.url.clone();
    let m = market(&url);
    let k = kinds(&url, &m);
    let order = m.order_id.as_str();
    let dlv = k.delivery_id.as_str();
    let compared: Vec<Vec<&str>> = vec![
        vec!["history", &k.refund_id, "--json"],
        vec!["history", &k.refund_id, "--diff"],
        vec!["history", &k.coupon_id, "--json"],
        vec!["history", &k.campaign_id, "--json"],
        vec!["history", &k.campaign_id, "--diff"],
        vec!["history", &k.staff_id, "--json"],
        vec!["history", dlv, "--json"],
        vec!["history", dlv, "--diff", "--json"],
        vec!["history", dlv, "--diff"],
        vec!["history", dlv, "--diff", "--to-version", "2"],
        vec!["history", dlv, "--diff", "--as-of", PAID_AT, "--json"],
        vec!["history", order],
        vec!["history", "rfd_nosuchrefund"],
    ];
    let online_runs: Vec<_> = compared
        .iter()
        .map(|args| online(&url, &m.auditor, args))
        .collect();
    let dir = api.stop();
    for (args, on) in compared.iter().zip(&online_runs) {
        let off = replay_tool(dir.path(), args);
        assert_eq!(on.code, off.code, "{args:?}: {on:?} {off:?}");
        assert_eq!(on.stdout, off.stdout, "{args:?}: online and offline differ");
        assert_eq!(on.stderr, off.stderr, "{args:?}");
    }

    // A refund is its order's stream: the same history as the order's.
    let refund = json_of(&online_runs[0]);
    assert_eq!(refund["stream_id"], json!(format!("order-{order}")));
    assert_eq!(
        refund["events"].as_array().unwrap().last().unwrap()["data"]["refund_id"],
        json!(k.refund_id)
    );
    let refund_diff = &online_runs[1].stdout;
    let (_, final_refund) = final_state(&online_runs[11].stdout);
    assert_eq!(final_state(refund_diff).1, final_refund);
    assert!(
        event_lines(refund_diff)
            .last()
            .unwrap()
            .contains(" RefundRequested v1 "),
        "{refund_diff}"
    );
    // A coupon is its owner's wallet; a campaign its own stream; a staff member too.
    let coupon = json_of(&online_runs[2]);
    let wallet = coupon["stream_id"].as_str().unwrap();
    assert!(wallet.starts_with("wallet-cus_"), "{coupon}");
    assert_eq!(coupon["events"][0]["type"], "CouponGranted");
    let campaign = json_of(&online_runs[3]);
    assert_eq!(
        campaign["stream_id"],
        json!(format!("campaign-{}", k.campaign_id))
    );
    assert_eq!(campaign["state"]["created"]["name"], "Spring", "{campaign}");
    assert!(
        online_runs[4].stdout.contains("\n  ~ /created: null -> {"),
        "{}",
        online_runs[4].stdout
    );
    let staff = json_of(&online_runs[5]);
    assert_eq!(staff["stream_id"], json!(format!("staff-{}", k.staff_id)));

    // The delivery, folded with the project's own evolve: after each step, what the server
    // showed at that version.
    let full = json_of(&online_runs[6]);
    assert_eq!(full["stream_id"], json!(format!("delivery-{dlv}")));
    let events = full["events"].as_array().unwrap();
    for view in &k.delivery_views {
        let version = view["version"].as_u64().unwrap();
        let state = &events[version as usize - 1]["state"];
        assert_eq!(
            state["status"], view["status"],
            "v{version}: {state} vs {view}"
        );
        assert_eq!(
            state["provider_org_id"], view["provider_org_id"],
            "v{version}"
        );
        assert_eq!(state["timed_out"], view["timed_out"], "v{version}");
        assert_eq!(
            state["queued"].is_null(),
            view["queued"].is_null(),
            "v{version}"
        );
    }
    let last = k.delivery_views.last().unwrap();
    assert_eq!(full["as_of"]["version"], last["version"]);
    assert_eq!(
        full["state"]["operators"]["delivery_specialist"]["staff_id"],
        json!(k.staff_id)
    );

    // --diff --json: no state per event, a JSON Patch instead; applied in order to the
    // aggregate's initial state, the patches give the state after each event.
    let diffed = json_of(&online_runs[7]);
    let mut state = domain::history::initial_state(&format!("delivery-{dlv}")).unwrap();
    let diffed_events = diffed["events"].as_array().unwrap();
    assert_eq!(diffed_events.len(), events.len());
    let mut changed = 0;
    for (d, e) in diffed_events.iter().zip(events) {
        assert!(d.get("state").is_none(), "{d}");
        assert_eq!(d["data"], e["data"]);
        let patch: json_patch::Patch = serde_json::from_value(d["diff"].clone()).unwrap();
        // Some events change nothing the state keeps (a NodeCompleted before the next
        // NodeEntered): an empty patch.
        changed += usize::from(!patch.is_empty());
        json_patch::patch(&mut state, &patch).unwrap();
        assert_eq!(state, e["state"], "after {}", e["type"]);
    }
    assert!(changed > events.len() / 2, "{diffed}");
    assert_eq!(diffed["state"], full["state"]);

    // --diff text: one line per change, old -> new.
    let text = &online_runs[8].stdout;
    assert_eq!(event_lines(text).len(), events.len(), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.contains(&"  ~ /current: 2 -> 3"), "{text}");
    assert!(
        lines.contains(&format!(
            "  + /operators/delivery_specialist: {{\"department\":\"delivery\",\"name\":\"Li\",\"staff_id\":\"{}\"}}",
            k.staff_id
        ).as_str()),
        "{text}"
    );
    assert!(!text.contains("\n  state: "), "{text}");
    assert_eq!(final_state(text).1, full["state"]);
    let two = &online_runs[9].stdout;
    assert_eq!(event_lines(two).len(), 2, "{two}");
    assert_eq!(
        final_state(two),
        ("version 2".into(), events[1]["state"].clone())
    );
    // As of the market's payment, before the delivery existed: nothing.
    let before = json_of(&online_runs[10]);
    assert_eq!(before["events"], json!([]), "{before}");

    // A refund id no event names: exit 2, the same words either way.
    assert_eq!(online_runs[12].code, Some(2));
    assert_eq!(
        online_runs[12].stderr,
        "replay-tool: no stream holds refund rfd_nosuchrefund: no event names it\n"
    );
}

#[test]
fn a_corrupt_record_is_exit_1_offline_and_online() {
    let api = LiveApi::start();
    let m = market(&api.url);
    let order_stream = format!("order-{}", m.order_id);
    let dir = api.stop();
    let mut records = by_stream(stored_records(dir.path()));
    let at = records
        .iter()
        .position(|(_, stream, version, _)| *stream == order_stream && *version == 2)
        .unwrap();
    let repriced = records[at].0;
    let said = format!("replay-tool: corrupt record at position {repriced}: checksum mismatch");

    // Online, from a server that sends the damaged bytes (and lies in its decoded fields).
    let raw = &mut records[at].3;
    let last_payload_byte = raw.len() - 4 - 32 - 1;
    raw[last_payload_byte] ^= 0x01;
    let (_server, url) = serve_streams(records);
    let run = online(&url, FAKE_TOKEN, &["history", &m.order_id]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.starts_with(&said), "{run:?}");
    assert_eq!(run.stdout, "");

    // Offline, the same record damaged in the data dir.
    flip_payload_byte(dir.path(), repriced);
    let run = replay_tool(dir.path(), &["history", &m.order_id, "--json"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.starts_with(&said), "{run:?}");
    assert_eq!(run.stdout, "");
    // A cut before the damaged record does not read it.
    let run = replay_tool(dir.path(), &["history", &m.order_id, "--to-version", "1"]);
    assert_eq!(run.code, Some(0), "{run:?}");
}

#[test]
fn the_servers_decoded_fields_are_never_believed() {
    let api = LiveApi::start();
    let m = market(&api.url);
    let dir = api.stop();
    let (_server, url) = serve_streams(by_stream(stored_records(dir.path())));
    for args in [
        &["history", m.order_id.as_str()][..],
        &["history", &m.order_id, "--json", "--as-of", BEFORE_PAYMENT],
    ] {
        let on = online(&url, FAKE_TOKEN, args);
        let off = replay_tool(dir.path(), args);
        assert_eq!(on.code, Some(0), "{args:?}: {on:?}");
        assert_eq!(on.stdout, off.stdout, "{args:?}");
        assert!(!on.stdout.contains("Lie"), "{on:?}");
    }
}

#[test]
fn streams_no_aggregate_owns_show_events_without_state() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), STANDARD);
    let run = replay_tool(
        dir.path(),
        &["--timezone", "UTC", "history", "legacy-lgc_1"],
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        "#1 @3 2026-11-22T02:00:00+00:00 LegacyOpened v2 by system (correlation cor_2, causation req_2)\n  \
         data: null\n  state: null\n\
         #2 @9 2026-11-22T07:00:00+00:00 LegacyNoted v2 by cus_1:customer (correlation cor_7, causation req_7)\n  \
         data: null\n  state: null\n\
         state as of version 2: null\n"
    );
    // An order stream whose payloads are not the order's events cannot be replayed.
    let run = replay_tool(dir.path(), &["history", "ord_1"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr
            .starts_with("replay-tool: cannot replay the event at position 1 (OrderPlaced v2 of order-ord_1@1): "),
        "{run:?}"
    );
}

#[test]
fn as_of_and_to_version_exclude_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    for args in [
        &[
            "--data",
            data,
            "history",
            "ord_1",
            "--as-of",
            START,
            "--to-version",
            "1",
        ][..],
        &["--data", data, "history", "ord_1", "--to-version", "0"],
        &["--data", data, "history", "ord_1", "--as-of", "yesterday"],
        &["--data", data, "history"],
    ] {
        let run = run_raw(args);
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
        assert!(!run.stderr.is_empty(), "{args:?}");
        assert_eq!(run.stdout, "", "{args:?}");
    }
}

const FAKE_TOKEN: &str = "fake-token";

/// The records a fake server serves: position, stream, version, stored bytes.
struct Served {
    records: Vec<(u64, String, u64, Vec<u8>)>,
}

/// An item with the stored bytes and decoded fields that lie.
fn lying_item(position: u64, raw: &[u8]) -> Value {
    json!({
        "position": position, "stream_id": "lie-1", "version": 99, "type": "Lie",
        "at": "1999-01-01T00:00:00+00:00", "data": {"lie": true}, "actor": "Lie",
        "raw_base64": base64::engine::general_purpose::STANDARD.encode(raw),
    })
}

async fn fake_stream(
    State(s): State<Arc<Served>>,
    UrlPath(stream_id): UrlPath<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    assert_eq!(q.get("include").map(String::as_str), Some("raw"));
    let from: u64 = q.get("from_version").map_or(1, |v| v.parse().unwrap());
    let limit: usize = q.get("limit").map_or(50, |v| v.parse().unwrap());
    assert!((1..=500).contains(&limit), "limit {limit}");
    let of_stream: Vec<_> = s
        .records
        .iter()
        .filter(|(_, id, _, _)| *id == stream_id)
        .collect();
    if of_stream.is_empty() {
        return (
            axum::http::StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": "not_found", "message": "stream not found", "details": {}}})),
        )
            .into_response();
    }
    let items: Vec<Value> = of_stream
        .iter()
        .filter(|(_, _, v, _)| *v >= from)
        .take(limit)
        .map(|(p, _, _, raw)| lying_item(*p, raw))
        .collect();
    Json(json!({"items": items, "next_cursor": null})).into_response()
}

async fn fake_events(State(s): State<Arc<Served>>) -> Response {
    let (p, _, _, raw) = &s.records[0];
    Json(json!({"items": [lying_item(*p, raw)], "next_cursor": "2"})).into_response()
}

async fn fake_health(State(s): State<Arc<Served>>) -> Response {
    Json(json!({"status": "ok", "log_position": s.records.len(), "projections": {}}))
        .into_response()
}

/// Each stored record with its stream and version (read before any damage is done).
fn by_stream(raw: Vec<(u64, Vec<u8>)>) -> Vec<(u64, String, u64, Vec<u8>)> {
    raw.into_iter()
        .map(|(p, bytes)| {
            let r = eventlog::decode_value(p, &bytes).unwrap();
            (p, r.stream_id, r.version, bytes)
        })
        .collect()
}

/// Serves `/v1/streams/{id}` (and what the tool asks when it connects) from stored bytes.
fn serve_streams(records: Vec<(u64, String, u64, Vec<u8>)>) -> (tokio::runtime::Runtime, String) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let router = axum::Router::new()
        .route("/v1/streams/{stream_id}", get(fake_stream))
        .route("/v1/events", get(fake_events))
        .route("/v1/health", get(fake_health))
        .with_state(Arc::new(Served { records }));
    let url = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        url
    });
    (runtime, url)
}
