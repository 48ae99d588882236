//! The crash-loop drill of BENCHMARKS.md, bounded for CI: `kill -9` the real server at
//! varying moments while clients place and pay orders, restart, repeat. After every restart
//! each acknowledged command is there (an acknowledged payment as `paid`), `verify` passes,
//! positions are gap-free; at the end the read models the server kept across all the crashes
//! equal a rebuild from the log (`replay-tool rebuild --all --check`).
//! `MARKETLOG_CRASH_ROUNDS` raises the number of rounds (default 4) for a soak run.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use marketlog_tests::server::{replay_tool_binary, Server, ADMIN_TOKEN};
use serde_json::{json, Value};

/// What a client was told: order id → paid (true) or only placed (false).
type Acked = HashMap<String, bool>;

struct Clients {
    acked: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Acked>>,
}

impl Clients {
    /// `n` clients, each placing an order and paying it, again and again, until the server
    /// goes away.
    fn start(base: &str, n: usize, customer: &str, product: &str) -> Clients {
        let acked = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|_| {
                let (base, acked, stop) = (base.to_owned(), acked.clone(), stop.clone());
                let (customer, product) = (customer.to_owned(), product.to_owned());
                std::thread::spawn(move || {
                    let client = reqwest::blocking::Client::builder()
                        .timeout(Duration::from_secs(30))
                        .build()
                        .unwrap();
                    let post = |path: &str, body: Value| -> Option<(u16, Value)> {
                        let r = client
                            .post(format!("{base}{path}"))
                            .bearer_auth(&customer)
                            .json(&body)
                            .send()
                            .ok()?; // refused or reset: the server is gone
                        let status = r.status().as_u16();
                        Some((status, r.json::<Value>().ok()?)) // None: cut mid-answer
                    };
                    let mut told = Acked::new();
                    while !stop.load(Ordering::Relaxed) {
                        let Some((201, o)) = post(
                            "/v1/orders",
                            json!({"product_id": product, "spec_id": "m", "quantity": 1, "order_type": "new"}),
                        ) else {
                            break;
                        };
                        let id = o["id"].as_str().unwrap().to_owned();
                        told.insert(id.clone(), false);
                        acked.fetch_add(1, Ordering::SeqCst);
                        let Some((200, _)) = post(
                            &format!("/v1/orders/{id}/pay"),
                            json!({"amount_cents": o["payable_cents"]}),
                        ) else {
                            break;
                        };
                        told.insert(id, true);
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    told
                })
            })
            .collect();
        Clients {
            acked,
            stop,
            threads,
        }
    }

    fn wait_for_acks(&self, n: usize) {
        let started = domain::clock::monotonic_now();
        while self.acked.load(Ordering::SeqCst) < n {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "clients did not get {n} answers"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn finish(self) -> Acked {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Acked::new();
        for t in self.threads {
            all.extend(t.join().unwrap());
        }
        all
    }
}

fn replay_tool(args: &[&str], data: &Path) -> (i32, String) {
    let tool = replay_tool_binary().expect("replay-tool is built by `cargo test --workspace`");
    let out = Command::new(tool)
        .args(args)
        .arg("--data")
        .arg(data)
        .arg("--no-progress")
        .env_remove("MARKETLOG_DATA")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn token(s: &Server, body: Value) -> String {
    s.post("/v1/principals", &body).expect(201)["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn kill_9_in_a_loop_loses_no_acknowledged_command_and_the_models_equal_a_rebuild() {
    let rounds: usize = std::env::var("MARKETLOG_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(dir.path());
    let launch = s.launch().clone();
    let org = s.post("/v1/orgs", &json!({"name": "Acme"})).expect(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let seller = token(
        &s,
        json!({"role": "isv_admin", "name": "Ann", "org_id": org}),
    );
    let customer = token(&s, json!({"role": "customer", "name": "Bo"}));
    let product = s
        .send("POST", "/v1/products", Some(&seller), &[], Some(&json!({
            "code": "VM", "name": "Cloud VM", "category": "compute", "delivery": "saas",
            "delivery_days": 0, "warranty_days": 0,
            "specs": [{"id": "m", "name": "monthly", "duration": 1, "unit": "month", "price_cents": 5000}]
        })))
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.send(
        "POST",
        &format!("/v1/products/{product}/submit"),
        Some(&seller),
        &[],
        None,
    )
    .expect(200);
    s.post(&format!("/v1/products/{product}/approve"), &json!({}))
        .expect(200);

    let mut told = Acked::new();
    for round in 0..rounds {
        let clients = Clients::start(&s.base, 8, &customer, &product);
        // A different moment each round.
        clients.wait_for_acks(20 + 37 * round % 90);
        if round == 1 {
            // One clean stop among the crashes, so that later rounds resume from checkpoints.
            s.stop();
        } else {
            s.kill9();
        }
        told.extend(clients.finish());

        let (code, out) = replay_tool(&["verify"], dir.path());
        assert_eq!(code, 0, "round {round}: verify failed:\n{out}");
        s = launch.start();
        let head = s.head();
        let positions: Vec<u64> = s
            .all_events(ADMIN_TOKEN, "")
            .iter()
            .map(|e| e["position"].as_u64().unwrap())
            .collect();
        assert_eq!(positions, (1..=head).collect::<Vec<_>>(), "round {round}");
        let head = head.to_string();
        for (id, paid) in &told {
            let o = s
                .send(
                    "GET",
                    &format!("/v1/orders/{id}"),
                    Some(ADMIN_TOKEN),
                    &[("x-min-position", &head)],
                    None,
                )
                .expect(200);
            if *paid {
                assert_eq!(
                    o["status"], "paid",
                    "round {round}: acknowledged payment lost: {o}"
                );
            }
        }
    }
    assert!(
        told.values().any(|paid| *paid),
        "no payment was ever acknowledged"
    );
    s.stop();
    let (code, out) = replay_tool(&["rebuild", "--all", "--check"], dir.path());
    assert_eq!(
        code, 0,
        "the models kept across the crashes differ from a rebuild:\n{out}"
    );
}
