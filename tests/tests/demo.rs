//! `marketlog demo` end to end with the real binaries: a short run (150 orders over 2 weeks)
//! seeds a data dir that `marketlog serve --simulated-clock` then serves with orders of every
//! type and status, deliveries in every status, refunds, reviews and coupons; the log
//! verifies; a second demo on the same dir is refused (exit 2); and the same seed makes the
//! same number of events of every type (`replay-tool stats --json`).
//!
//! The trade dashboard of every seller org over the demo's whole range, by week, equals the
//! recount ([`marketlog_tests::recount`]) of the events `replay-tool export --format jsonl`
//! wrote offline — the events `/v1/events` serves, equal in position, stream, version, type
//! and data —; so do the
//! workbench's task figures of every provider org on every date it has tasks.

use std::path::Path;
use std::process::{Command, Output};

use marketlog_tests::recount::{date, ledger, task_days, workbench_tasks, Ledger};
use marketlog_tests::server::{marketlog_binary, run_replay_tool, Server, SIMULATED_START};
use serde_json::Value;

/// The short run CI can afford.
const DEMO_ARGS: [&str; 6] = ["--orders", "150", "--weeks", "2", "--seed", "7"];

fn demo(data: &Path) -> Output {
    Command::new(marketlog_binary())
        .arg("demo")
        .arg("--data")
        .arg(data)
        .args(DEMO_ARGS)
        .env_remove("MARKETLOG_DATA")
        .env_remove("MARKETLOG_TIMEZONE")
        .output()
        .expect("run marketlog demo")
}

/// The token the demo printed for `role` (its line `  <role>  <token> …`).
fn printed_token(stdout: &str, role: &str) -> String {
    stdout
        .lines()
        .find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some(role)).then(|| words.next().map(str::to_owned))?
        })
        .unwrap_or_else(|| panic!("no {role} token in the demo's output:\n{stdout}"))
}

/// Events per type, from `replay-tool stats --json` on `data`.
fn events_per_type(data: &Path) -> Value {
    let (code, out) = run_replay_tool(&["stats", "--json"], data).expect(
        "the replay-tool binary is missing: build it (`cargo build --release -p replay-tool`)",
    );
    assert_eq!(code, 0, "{out}");
    let line = out.lines().next().expect("stats printed a line");
    let stats: Value = serde_json::from_str(line).expect("stats --json is JSON");
    stats["events_per_type"].clone()
}

/// The events of `data`, from `replay-tool export --format jsonl` (offline).
fn exported_events(data: &Path) -> Vec<Value> {
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("export.jsonl");
    let out = file.to_str().expect("a UTF-8 path");
    let (code, text) = run_replay_tool(&["export", "--format", "jsonl", "--out", out], data)
        .expect("replay-tool is built");
    assert_eq!(code, 0, "export: {text}");
    let lines = std::fs::read_to_string(&file).expect("the export");
    lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// The exported events are those `/v1/events` serves, in the fields the recount reads.
fn same_events_as_served(server: &Server, token: &str, exported: &[Value]) {
    let served = server.all_events(token, "");
    assert!(served.len() >= exported.len(), "{} served", served.len());
    for (e, s) in exported.iter().zip(&served) {
        for field in ["position", "stream_id", "version", "type", "data"] {
            assert_eq!(e[field], s[field], "{field} of {e} / {s}");
        }
    }
}

/// Every seller's trade dashboard over `from..=to` by week equals the recount; the sellers'
/// figures together are meaningful (orders, payments, refunds and visitors).
fn trade_dashboards_match_the_recount(server: &Server, token: &str, l: &Ledger) {
    let (from, to) = l.days().expect("the demo has trade days");
    let head = server.head().to_string();
    let sellers = l.sellers();
    assert!(sellers.len() > 1, "sellers: {sellers:?}");
    let (mut ordered, mut paid, mut refunded, mut visitors) = (0, 0, 0, 0);
    for org in sellers {
        let path = format!(
            "/v1/dashboard/trade?org_id={org}&from={}&to={}&granularity=week",
            date(from),
            date(to)
        );
        let d = server
            .send(
                "GET",
                &path,
                Some(token),
                &[("X-Min-Position", &head)],
                None,
            )
            .expect(200);
        let at = format!("{path}: {d:#}");
        let totals = l.totals(org, from, to);
        assert_eq!(d["totals"], totals, "totals of {at}");
        assert_eq!(d["by_type"], l.by_type(org, from, to), "by_type of {at}");
        assert_eq!(
            d["top_products"],
            l.top_products(org, from, to),
            "top of {at}"
        );
        assert_eq!(
            d["top_products_by_visitors"],
            l.top_by_visitors(org, from, to),
            "top by visitors of {at}"
        );
        assert_eq!(
            d["series"],
            l.series(org, from, to, "week"),
            "series of {at}"
        );
        assert_eq!(d["change"], l.change(org, from, to), "change of {at}");
        let figure = |f: &str| totals[f].as_i64().expect(f);
        ordered += figure("order_amount_cents");
        paid += figure("paid_amount_cents");
        refunded += figure("refunded_cents");
        visitors += figure("visitors");
    }
    assert!(
        ordered > 0 && paid > 0 && refunded > 0 && visitors > 0,
        "ordered {ordered}, paid {paid}, refunded {refunded}, visitors {visitors}"
    );
}

/// The workbench's task figures of every provider org on every date it has a task due or
/// done equal the recount, asked at the server's simulated now.
fn workbenches_match_the_recount(server: &Server, token: &str, events: &[Value]) {
    // The simulated clock resumes from the later of its start and the last recorded time.
    let seconds = |at: &str| domain::Timestamp::parse_rfc3339(at).unwrap().as_micros() / 1_000_000;
    let last = events.last().expect("events")["at"].as_str().expect("at");
    let now = seconds(SIMULATED_START).max(seconds(last));
    let days = task_days(events);
    assert!(!days.is_empty(), "the demo has delivery tasks");
    let head = server.head().to_string();
    let (mut due, mut done) = (0, 0);
    for (org, day) in days.keys() {
        let path = format!("/v1/dashboard/workbench?org_id={org}&date={}", date(*day));
        let w = server
            .send(
                "GET",
                &path,
                Some(token),
                &[("X-Min-Position", &head)],
                None,
            )
            .expect(200);
        let f = workbench_tasks(events, org, *day, now);
        let figures = [
            "tasks_due_today",
            "tasks_done_today",
            "done_early",
            "overdue",
        ]
        .map(|k| {
            w[k].as_u64()
                .unwrap_or_else(|| panic!("{k} of {path}: {w}"))
        });
        assert_eq!(figures, [f.due, f.done, f.early, f.overdue], "{path}: {w}");
        let rate = (f.due > 0).then(|| (f.due_done * 1000 + f.due / 2) / f.due);
        assert_eq!(w["completion_rate"].as_u64(), rate, "{path}: {w}");
        due += f.due;
        done += f.done;
    }
    assert!(due > 0 && done > 0, "tasks due {due}, done {done}");
}

/// `GET path` as `token`: the number of items of the first page.
fn items(server: &Server, path: &str, token: &str) -> usize {
    server.send("GET", path, Some(token), &[], None).expect(200)["items"]
        .as_array()
        .map_or(0, Vec::len)
}

#[test]
fn the_demo_seeds_every_kind_of_record_through_the_api_and_the_same_seed_gives_the_same_events() {
    let dir = tempfile::tempdir().unwrap();
    let seeded = demo(dir.path());
    let stdout = String::from_utf8_lossy(&seeded.stdout).into_owned();
    assert!(
        seeded.status.success(),
        "demo failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        seeded.status,
        String::from_utf8_lossy(&seeded.stderr)
    );
    assert!(stdout.contains("curl -s"), "curl lines to try:\n{stdout}");
    let platform = printed_token(&stdout, "platform");
    let seeded_events = events_per_type(dir.path());
    assert!(
        seeded_events["PageViewsRecorded"].as_u64() > Some(0),
        "page views: {seeded_events}"
    );
    let exported = exported_events(dir.path());
    for role in ["isv_admin", "isv_staff", "customer", "analyst", "auditor"] {
        printed_token(&stdout, role);
    }

    let server = Server::start(dir.path());
    for order_type in ["new", "renewal", "trial", "conversion", "upgrade"] {
        let path = format!("/v1/orders?order_type={order_type}&limit=1");
        assert_eq!(
            items(&server, &path, &platform),
            1,
            "an order of type {order_type}"
        );
    }
    for status in ["unpaid", "paid", "refunded", "voided"] {
        let path = format!("/v1/orders?status={status}&limit=1");
        assert_eq!(items(&server, &path, &platform), 1, "an order {status}");
    }
    for tab in ["executing", "paused", "cancelled", "completed"] {
        let path = format!("/v1/deliveries?tab={tab}&limit=1");
        assert_eq!(items(&server, &path, &platform), 1, "a delivery {tab}");
    }
    for status in ["refunded", "rejected"] {
        let path = format!("/v1/refunds?status={status}&limit=1");
        assert_eq!(items(&server, &path, &platform), 1, "a refund {status}");
    }
    assert!(
        items(&server, "/v1/reviews?limit=5", &platform) > 0,
        "reviews"
    );
    let campaigns = server
        .send(
            "GET",
            "/v1/coupon-campaigns?limit=10",
            Some(&platform),
            &[],
            None,
        )
        .expect(200);
    let granted: u64 = campaigns["items"]
        .as_array()
        .expect("campaigns")
        .iter()
        .map(|c| c["stats"]["granted"].as_u64().unwrap_or(0))
        .sum();
    assert!(granted > 0, "coupons granted: {campaigns}");
    same_events_as_served(&server, &platform, &exported);
    trade_dashboards_match_the_recount(&server, &platform, &ledger(&exported));
    workbenches_match_the_recount(&server, &platform, &exported);
    server.stop();

    let (code, out) = run_replay_tool(&["verify"], dir.path()).expect("replay-tool is built");
    assert_eq!(code, 0, "verify: {out}");

    let again = demo(dir.path());
    assert_eq!(
        again.status.code(),
        Some(2),
        "a second demo on the same dir"
    );
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("already has events"), "{stderr}");

    let other = tempfile::tempdir().unwrap();
    assert!(demo(other.path()).status.success(), "the second run");
    assert_eq!(
        seeded_events,
        events_per_type(other.path()),
        "the same seed, the same events per type"
    );
}
