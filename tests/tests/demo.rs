//! `marketlog demo` end to end with the real binaries: a short run (150 orders over 2 weeks)
//! seeds a data dir that `marketlog serve --simulated-clock` then serves with orders of every
//! type and status, deliveries in every status, refunds, reviews and coupons; the log
//! verifies; a second demo on the same dir is refused (exit 2); and the same seed makes the
//! same number of events of every type (`replay-tool stats --json`).

use std::path::Path;
use std::process::{Command, Output};

use marketlog_tests::server::{marketlog_binary, run_replay_tool, Server};
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
