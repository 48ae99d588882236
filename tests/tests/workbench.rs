//! The workbench (SPEC §10, API.md §8 `GET /v1/dashboard/workbench`) through the real
//! `marketlog serve` (simulated clock, zone Asia/Shanghai): a provider org with two
//! departments delivers five projects — one done early and delivered, one done on its due
//! day and rejected by the customer, one done after the 17:30 cut-off, one left open, one
//! waiting in the queue —; the clock crosses 17:30 and midnight, and each figure is checked,
//! the task figures also against a recount from the raw events of `/v1/events`.

use std::collections::BTreeMap;
use std::time::Duration;

use domain::Timestamp;
use marketlog_tests::server::{Server, ADMIN_TOKEN};
use serde_json::{json, Value};

/// Longest wait for the policy runner to settle.
const POLICY_WAIT: Duration = Duration::from_secs(10);
const HOUR_SECONDS: u64 = 3_600;

fn send(server: &Server, method: &str, path: &str, token: &str, body: Option<&Value>) -> Value {
    let reply = server.send(method, path, Some(token), &[], body);
    let expected = if method == "POST" && reply.status == 201 {
        201
    } else {
        200
    };
    reply.expect(expected)
}

fn settle(server: &Server) {
    let started = domain::clock::monotonic_now();
    loop {
        let target = server.head();
        let health = server
            .send("GET", "/v1/health", None, &[], None)
            .expect(200);
        let caught_up = health["policies_position"]
            .as_u64()
            .is_some_and(|p| p >= target);
        if caught_up && server.head() == target {
            return;
        }
        assert!(
            started.elapsed() < POLICY_WAIT,
            "policies still behind {target} after {POLICY_WAIT:?}: {health}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read(server: &Server, path: &str, token: &str) -> Value {
    let head = server.head().to_string();
    server
        .send("GET", path, Some(token), &[("X-Min-Position", &head)], None)
        .expect(200)
}

fn advance(server: &Server, seconds: u64) {
    server
        .post("/v1/admin/clock/advance", &json!({ "seconds": seconds }))
        .expect(200);
    settle(server);
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

/// assign_provider → assign (designer, by rule) → work (provider, 1 calendar day, action
/// none) → check (customer, rejectable: back to work) → done (customer).
fn template() -> Value {
    json!({"name": "Design", "nodes": [
        {"id": "ap", "type": "assign_provider", "name": "Assign provider"},
        {"id": "assign", "type": "assign_order", "name": "Assign", "role": "designer",
         "assign_rule": "provider_first"},
        {"id": "work", "type": "generic", "name": "Design", "side": "provider",
         "role": "designer",
         "timeout": {"days": 1, "unit": "calendar_days", "action": "none"}},
        {"id": "check", "type": "confirm", "name": "Check", "side": "customer",
         "rejectable": true},
        {"id": "done", "type": "complete_project", "name": "Confirm"}
    ]})
}

struct Shop {
    org: String,
    admin: String,
    customer: String,
    /// Staff id → token.
    staff: BTreeMap<String, String>,
    product: String,
}

fn shop(server: &Server) -> Shop {
    let org = id_of(
        &server
            .post("/v1/orgs", &json!({"name": "Acme"}))
            .expect(201),
    );
    let admin = server.token(&json!({"role": "isv_admin", "name": "Ann", "org_id": org}));
    let customer = server.token(&json!({"role": "customer", "name": "Bo"}));
    let mut staff = BTreeMap::new();
    for (name, department, max) in [("Li", "Design", 2), ("Wang", "Build", 1)] {
        let v = send(
            server,
            "POST",
            &format!("/v1/orgs/{org}/staff"),
            &admin,
            Some(
                &json!({"name": name, "roles": ["designer"], "department": department,
                         "tags": [], "max_active": max}),
            ),
        );
        staff.insert(id_of(&v), v["token"].as_str().expect("token").to_owned());
    }
    let t = id_of(&send(
        server,
        "POST",
        "/v1/flow-templates",
        &admin,
        Some(&template()),
    ));
    send(
        server,
        "POST",
        &format!("/v1/flow-templates/{t}/publish"),
        &admin,
        None,
    );
    let product = id_of(&send(
        server,
        "POST",
        "/v1/products",
        &admin,
        Some(&json!({
            "code": "DSN", "name": "Design", "category": "services", "delivery": "manual",
            "delivery_days": 10, "warranty_days": 0, "flow_template_id": t,
            "specs": [{"id": "std", "name": "standard", "duration": 1, "unit": "once",
                       "price_cents": 10000}]
        })),
    ));
    send(
        server,
        "POST",
        &format!("/v1/products/{product}/submit"),
        &admin,
        None,
    );
    server
        .post(&format!("/v1/products/{product}/approve"), &json!({}))
        .expect(200);
    Shop {
        org,
        admin,
        customer,
        staff,
        product,
    }
}

/// A paid order's delivery id.
fn paid_project(server: &Server, s: &Shop) -> String {
    let order = send(
        server,
        "POST",
        "/v1/orders",
        &s.customer,
        Some(
            &json!({"product_id": s.product, "spec_id": "std", "quantity": 1,
                     "order_type": "new"}),
        ),
    );
    let id = id_of(&order);
    send(
        server,
        "POST",
        &format!("/v1/orders/{id}/pay"),
        &s.customer,
        Some(&json!({"amount_cents": order["payable_cents"]})),
    );
    settle(server);
    domain::delivery::project::delivery_id_for(&id)
}

/// The operator's token of project `id`.
fn operator(server: &Server, s: &Shop, id: &str) -> String {
    let d = read(server, &format!("/v1/deliveries/{id}"), &s.admin);
    let staff = d["operator"]["staff_id"].as_str().expect("an operator");
    s.staff[staff].clone()
}

fn act(server: &Server, id: &str, node: &str, action: &str, token: &str, body: Value) {
    send(
        server,
        "POST",
        &format!("/v1/deliveries/{id}/nodes/{node}/{action}"),
        token,
        Some(&body),
    );
    settle(server);
}

fn bench(server: &Server, s: &Shop, date: Option<&str>) -> Value {
    let mut path = format!("/v1/dashboard/workbench?org_id={}", s.org);
    if let Some(d) = date {
        path.push_str(&format!("&date={d}"));
    }
    read(server, &path, &s.admin)
}

fn sh(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(&format!("{text}:00+08:00")).expect("time")
}

fn time(v: &Value) -> Timestamp {
    Timestamp::parse_rfc3339(v.as_str().expect("a time")).expect("rfc 3339")
}

/// The task figures of a Shanghai date recounted from the raw events: every `NodeEntered`
/// of the provider's node `work` is a task (delivery stream, seq) with its `due_at`; a
/// `NodeCompleted` / `NodeRejected` of that entry by anyone but the system is its being
/// done, at the record's time. (due, done, done early, overdue, due and done.)
fn recount(
    events: &[Value],
    start: Timestamp,
    end: Timestamp,
    cutoff: Timestamp,
    now: Timestamp,
) -> [u64; 5] {
    struct Task {
        entered: Timestamp,
        due: Option<Timestamp>,
        done: Option<Timestamp>,
    }
    let mut tasks: BTreeMap<(String, u64), Task> = BTreeMap::new();
    for e in events {
        let stream = e["stream_id"].as_str().expect("stream").to_owned();
        if !stream.starts_with("delivery-") {
            continue;
        }
        let d = &e["data"];
        match e["type"].as_str().expect("type") {
            "NodeEntered" if d["node_id"] == "work" => {
                let seq = d["seq"].as_u64().expect("seq");
                let due = (!d["due_at"].is_null()).then(|| time(&d["due_at"]));
                tasks.insert(
                    (stream, seq),
                    Task {
                        entered: time(&d["at"]),
                        due,
                        done: None,
                    },
                );
            }
            "NodeCompleted" | "NodeRejected" if d["by"] != "system" => {
                let seq = d["seq"].as_u64().expect("seq");
                if let Some(t) = tasks.get_mut(&(stream, seq)) {
                    t.done = Some(time(&e["at"]));
                }
            }
            _ => {}
        }
    }
    let on = |t: Timestamp| start <= t && t < end;
    let mut out = [0u64; 5];
    for t in tasks.values() {
        if t.due.is_some_and(on) {
            out[0] += 1;
            if t.done.is_some_and(|d| d < end) {
                out[4] += 1;
            }
            let open_at_cutoff = t.entered <= cutoff && t.done.is_none_or(|d| d > cutoff);
            if now >= cutoff && open_at_cutoff {
                out[3] += 1;
            }
        }
        if t.done.is_some_and(on) {
            out[1] += 1;
            if t.due.is_some_and(|d| d >= end) {
                out[2] += 1;
            }
        }
    }
    out
}

fn all_events(server: &Server) -> Vec<Value> {
    let mut out = Vec::new();
    let mut from = 1u64;
    loop {
        let page = server
            .send(
                "GET",
                &format!("/v1/events?from_position={from}&limit=500"),
                Some(ADMIN_TOKEN),
                &[],
                None,
            )
            .expect(200);
        let items = page["items"].as_array().expect("items");
        out.extend(items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => from = next.parse().expect("a position"),
            None => return out,
        }
    }
}

fn figures(w: &Value) -> [u64; 4] {
    [
        "tasks_due_today",
        "tasks_done_today",
        "done_early",
        "overdue",
    ]
    .map(|f| w[f].as_u64().unwrap_or_else(|| panic!("{f} in {w}")))
}

fn department<'a>(w: &'a Value, name: &str) -> &'a Value {
    w["by_department"]
        .as_array()
        .expect("by_department")
        .iter()
        .find(|d| d["department"] == name)
        .unwrap_or_else(|| panic!("no department {name} in {w}"))
}

#[test]
fn the_workbench_counts_early_on_time_overdue_rejected_and_queued_work_across_1730_and_midnight() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let s = shop(&server);
    // 2026-11-22 09:00: five paid projects. Li (max 2) and Wang (max 1) take three; two
    // wait in the queue (staff capacity full). Each taken one's work is due 11-23 09:00.
    let projects: Vec<String> = (0..5).map(|_| paid_project(&server, &s)).collect();
    let queued: Vec<&String> = projects
        .iter()
        .filter(|p| !read(&server, &format!("/v1/deliveries/{p}"), &s.admin)["queued"].is_null())
        .collect();
    assert_eq!(queued.len(), 2, "two wait for a staff member");
    let taken: Vec<String> = projects
        .iter()
        .filter(|p| !queued.contains(p))
        .cloned()
        .collect();
    let (early, on_due_day, late) = (&taken[0], &taken[1], &taken[2]);

    // 10:00: `early` is done a day ahead, checked and confirmed: delivered on 11-22. Its
    // operator's room goes to the first queued project at once (work due 11-23 10:00).
    advance(&server, HOUR_SECONDS);
    let op = operator(&server, &s, early);
    act(&server, early, "work", "complete", &op, json!({}));
    act(&server, early, "check", "complete", &s.customer, json!({}));
    act(&server, early, "done", "complete", &s.customer, json!({}));
    let d22 = bench(&server, &s, None);
    assert_eq!(figures(&d22), [0, 1, 1, 0], "{d22}");
    assert_eq!(d22["delivered"]["today"], 1);
    assert_eq!(d22["queued"], 1, "{d22}");

    // 11-23 11:00 (past every work deadline): `on_due_day` is done on its due day, and the
    // customer rejects the check: back to work, due 11-24 11:00.
    advance(&server, 25 * HOUR_SECONDS);
    let op = operator(&server, &s, on_due_day);
    act(&server, on_due_day, "work", "complete", &op, json!({}));
    act(
        &server,
        on_due_day,
        "check",
        "reject",
        &s.customer,
        json!({"reason": "not yet"}),
    );
    let d23 = bench(&server, &s, None);
    // Due on the 23rd: early, on_due_day, late and the dequeued one; done by now: 2.
    assert_eq!(
        figures(&d23),
        [4, 1, 0, 0],
        "before 17:30 nothing is overdue: {d23}"
    );
    assert_eq!(d23["completion_rate"], 500);
    assert_eq!(
        d23["rejected"],
        json!({"projects": 1, "of": 5, "rate": 200})
    );
    assert_eq!(d23["delivered"]["yesterday"], 1);
    assert_eq!(
        d23["capacity"],
        json!({"total": 3, "active": 3, "remaining": 0})
    );
    assert_eq!(d23["queued"], 1);
    let rejected: u64 = ["Design", "Build"]
        .iter()
        .map(|d| department(&d23, d)["rejected"].as_u64().expect("rejected"))
        .sum();
    assert_eq!(rejected, 1);

    // 17:30: the two still open are overdue; `late` is done at 18:00, overdue all the same.
    advance(&server, 6 * HOUR_SECONDS + 1_800);
    let at_1730 = bench(&server, &s, Some("2026-11-23"));
    assert_eq!(figures(&at_1730), [4, 1, 0, 2], "{at_1730}");
    advance(&server, 1_800);
    let op = operator(&server, &s, late);
    act(&server, late, "work", "complete", &op, json!({}));
    let after = bench(&server, &s, Some("2026-11-23"));
    assert_eq!(figures(&after), [4, 2, 0, 2], "{after}");
    assert_eq!(after["completion_rate"], 750);

    // Past midnight (11-24 00:30): today is the 24th (the reworked task is due then, not
    // overdue before 17:30); the 23rd keeps its figures.
    advance(&server, 6 * HOUR_SECONDS + 1_800);
    let d24 = bench(&server, &s, None);
    assert_eq!(figures(&d24), [1, 0, 0, 0], "{d24}");
    assert_eq!(
        d24["delivered"],
        json!({"today": 0, "yesterday": 0, "this_month": 1, "last_month": 0})
    );
    let d23_again = bench(&server, &s, Some("2026-11-23"));
    assert_eq!(figures(&d23_again), figures(&after));
    let per_department: u64 = ["Design", "Build"]
        .iter()
        .map(|d| {
            department(&d23_again, d)["due_today"]
                .as_u64()
                .expect("due")
        })
        .sum();
    assert_eq!(per_department, 4);

    // The same task figures from the raw events, for each date.
    let events = all_events(&server);
    let now = sh("2026-11-24T00:30");
    for (date, w) in [
        ("2026-11-22", bench(&server, &s, Some("2026-11-22"))),
        ("2026-11-23", d23_again.clone()),
        ("2026-11-24", d24.clone()),
    ] {
        let next = match date {
            "2026-11-22" => "2026-11-23",
            "2026-11-23" => "2026-11-24",
            _ => "2026-11-25",
        };
        let [due, done, early, overdue, due_done] = recount(
            &events,
            sh(&format!("{date}T00:00")),
            sh(&format!("{next}T00:00")),
            sh(&format!("{date}T17:30")),
            now,
        );
        assert_eq!(figures(&w), [due, done, early, overdue], "{date}: {w}");
        let rate = (due > 0).then(|| (due_done * 1000 + due / 2) / due);
        assert_eq!(w["completion_rate"].as_u64(), rate, "{date}");
    }
}
