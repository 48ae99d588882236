//! SPEC.md §11 blue/green rebuild on a live server, under write load (issue 19): writers
//! place and pay orders without pause while every model of the registry is rebuilt through
//! `POST /v1/projections/{name}/rebuild` (and asked again while it runs: 409 `invalid_state`,
//! `details.state: "rebuilding"`). Meanwhile readers watch `GET /v1/projections` (each
//! model's position never goes backwards; the progress of a rebuild is visible) and read
//! with `X-Min-Position` of acknowledged writes: an acknowledged order is never missing, a
//! reader's own order list never shrinks (a half-built model would show fewer), and nothing
//! answers 5xx. After the writers stop every model reaches the head, and with the server
//! stopped `replay-tool rebuild --all --check` finds the kept models equal to a rebuild.
//!
//! Observable without sleeps: the 202 of a rebuild already says `rebuilding` with
//! `rebuilt_position` 0 and its `target_position`, and the log is first filled with a few
//! thousand orders so that the larger models take a while to rebuild.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use marketlog_tests::load::Load;
use marketlog_tests::server::{run_replay_tool, Server, ADMIN_TOKEN};
use serde_json::{json, Value};

/// Writer threads.
const WRITERS: usize = 6;
/// Reader threads (each with its own customer and orders).
const READERS: usize = 2;
/// Acknowledged commands before the rebuilds start: the log the rebuilds replay.
const SEED_ACKS: usize = 3_000;
/// Acknowledged commands the writers make while the rebuilds run, at least.
const DURING_ACKS: usize = 1_000;
/// Longest wait for the models to finish rebuilding and reach the head.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// (order id, position of its last acknowledged command).
type Acked = Vec<(String, u64)>;

fn post(client: &reqwest::blocking::Client, url: &str, token: &str, body: &Value) -> (u16, Value) {
    let r = client
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .expect("the server answers");
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

fn get(client: &reqwest::blocking::Client, url: &str, token: &str, min: u64) -> (u16, Value) {
    let r = client
        .get(url)
        .bearer_auth(token)
        .header("x-min-position", min.to_string())
        .send()
        .expect("the server answers");
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

/// Places and pays orders until stopped; answers every acknowledged payment.
fn writers(base: &str, customer: &str, product: &str) -> Load<Acked> {
    let (base, customer, product) = (base.to_owned(), customer.to_owned(), product.to_owned());
    Load::start(WRITERS, move |_, ctx| {
        let mut told = Acked::new();
        while !ctx.stopped() {
            let (status, o) = post(
                &ctx.client,
                &format!("{base}/v1/orders"),
                &customer,
                &json!({"product_id": product, "spec_id": "m", "quantity": 1, "order_type": "new"}),
            );
            assert_eq!(status, 201, "{o}");
            ctx.acked();
            let id = o["id"].as_str().expect("id").to_owned();
            let (status, paid) = post(
                &ctx.client,
                &format!("{base}/v1/orders/{id}/pay"),
                &customer,
                &json!({"amount_cents": o["payable_cents"]}),
            );
            assert_eq!(status, 200, "{paid}");
            ctx.acked();
            told.push((id, paid["position"].as_u64().expect("position")));
        }
        told
    })
}

/// What the readers saw.
#[derive(Default)]
struct Seen {
    /// A `rebuilding` status with its progress, from `GET /v1/projections`.
    rebuilding_with_progress: bool,
    reads: usize,
}

#[test]
fn a_rebuild_under_write_load_loses_no_event_and_never_serves_a_half_built_model() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path());
    let m = s.market();
    let base = s.base.clone();

    // A log worth rebuilding.
    let seed = writers(&base, &m.customer, &m.product);
    seed.wait_for_acks(SEED_ACKS);
    let mut acked: Acked = seed.finish().into_iter().flatten().collect();

    let load = writers(&base, &m.customer, &m.product);
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let probes: Vec<String> = (0..READERS)
        .map(|i| s.token(&json!({"role": "customer", "name": format!("Reader {i}")})))
        .collect();
    let readers: Vec<_> = probes
        .into_iter()
        .map(|token| {
            let (base, product, stop, seen) = (
                base.clone(),
                m.product.clone(),
                Arc::clone(&stop),
                Arc::clone(&seen),
            );
            let known = acked.clone();
            std::thread::spawn(move || reader(&base, &token, &product, &known, &stop, &seen))
        })
        .collect();

    // Every model, rebuilt while the writers write; asked twice, the second while the
    // first runs (for the larger models at least).
    let names: Vec<String> = s.get("/v1/projections").expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.len() >= 10, "{names:?}");
    let mut second: BTreeMap<String, u16> = BTreeMap::new();
    for name in &names {
        let path = format!("/v1/projections/{name}/rebuild");
        let started = s.post(&path, &json!({})).expect(202);
        assert_eq!(started["name"], name.as_str());
        if started["status"] == "rebuilding" {
            assert_eq!(started["rebuilt_position"], 0, "{started}");
            assert!(
                started["target_position"].as_u64().unwrap() > 0,
                "{started}"
            );
        }
        let again = s.post(&path, &json!({}));
        if again.status == 409 {
            assert_eq!(again.error(409, "invalid_state")["state"], "rebuilding");
        } else {
            again.expect(202); // the first one had already swapped in
        }
        second.insert(name.clone(), again.status);
    }
    assert!(
        second.values().any(|s| *s == 409),
        "no rebuild was still running when asked again: {second:?}"
    );
    load.wait_for_acks(DURING_ACKS);
    acked.extend(load.finish().into_iter().flatten());
    stop.store(true, Ordering::SeqCst);
    for r in readers {
        r.join().expect("reader");
    }
    let seen = seen.lock().unwrap();
    assert!(seen.reads > 0);
    assert!(
        seen.rebuilding_with_progress,
        "no reader saw a rebuild in progress"
    );

    // Every model swapped in and reached the head; every acknowledged order is paid.
    let head = s.head();
    let started = domain::clock::monotonic_now();
    loop {
        let list = s.get("/v1/projections").expect(200);
        let items = list["items"].as_array().unwrap();
        if items
            .iter()
            .all(|p| p["status"] == "running" && p["position"] == head)
        {
            break;
        }
        assert!(items.iter().all(|p| p["status"] != "failed"), "{list}");
        assert!(
            started.elapsed() < SETTLE_TIMEOUT,
            "models never settled: {list}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let at = head.to_string();
    for (id, _) in &acked {
        let o = s
            .send(
                "GET",
                &format!("/v1/orders/{id}"),
                Some(ADMIN_TOKEN),
                &[("x-min-position", &at)],
                None,
            )
            .expect(200);
        assert_eq!(o["status"], "paid", "{o}");
    }
    s.stop();
    let (code, out) = run_replay_tool(&["rebuild", "--all", "--check"], dir.path())
        .expect("replay-tool is built by `cargo test --workspace`");
    assert_eq!(
        code, 0,
        "the models kept by the server differ from a rebuild:\n{out}"
    );
}

/// One reader: until stopped, watches the projections, reads acknowledged orders of the
/// writers, and places an order of its own then lists its own orders (never fewer than it
/// placed).
fn reader(
    base: &str,
    token: &str,
    product: &str,
    known: &Acked,
    stop: &AtomicBool,
    seen: &Mutex<Seen>,
) {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client");
    let mut positions: BTreeMap<String, u64> = BTreeMap::new();
    let mut mine = 0usize;
    let mut i = 0usize;
    while !stop.load(Ordering::SeqCst) {
        i += 1;
        let (status, list) = get(&client, &format!("{base}/v1/projections"), ADMIN_TOKEN, 0);
        assert_eq!(status, 200, "{list}");
        for p in list["items"].as_array().unwrap() {
            let name = p["name"].as_str().unwrap().to_owned();
            assert_ne!(p["status"], "failed", "{p}");
            let position = p["position"].as_u64().unwrap();
            let before = positions.insert(name, position).unwrap_or(0);
            assert!(position >= before, "a model's position went back: {p}");
            if p["status"] == "rebuilding" {
                let (done, target) = (&p["rebuilt_position"], &p["target_position"]);
                assert!(done.is_u64() && target.is_u64(), "{p}");
                seen.lock().unwrap().rebuilding_with_progress = true;
            }
        }
        // An order acknowledged to a writer, read with the position of its payment.
        let (id, at) = &known[i * 7919 % known.len()];
        let (status, o) = get(&client, &format!("{base}/v1/orders/{id}"), ADMIN_TOKEN, *at);
        assert_eq!(status, 200, "acknowledged order {id} missing: {o}");
        assert_eq!(o["status"], "paid", "{o}");
        // An order of its own, then its own list with the position of that write.
        let (status, o) = post(
            &client,
            &format!("{base}/v1/orders"),
            token,
            &json!({"product_id": product, "spec_id": "m", "quantity": 1, "order_type": "new"}),
        );
        assert_eq!(status, 201, "{o}");
        mine += 1;
        let at = o["position"].as_u64().unwrap();
        let (status, list) = get(&client, &format!("{base}/v1/orders?limit=500"), token, at);
        assert_eq!(status, 200, "{list}");
        let listed = list["items"].as_array().unwrap().len();
        assert_eq!(
            listed,
            mine.min(500),
            "a list without some of its orders: half-built?"
        );
        seen.lock().unwrap().reads += 1;
    }
}
