//! The crash-loop drill of BENCHMARKS.md, bounded for CI: `kill -9` the real server at
//! varying moments while clients place and pay orders, restart, repeat. After every restart
//! each acknowledged command is there (an acknowledged payment as `paid`), `verify` passes,
//! positions are gap-free; at the end the read models the server kept across all the crashes
//! equal a rebuild from the log (`replay-tool rebuild --all --check`).
//! `MARKETLOG_CRASH_ROUNDS` raises the number of rounds (default 4) for a soak run.

use std::collections::HashMap;
use std::path::Path;

use marketlog_tests::load::Load;
use marketlog_tests::server::{run_replay_tool, Server, ADMIN_TOKEN};
use serde_json::{json, Value};

/// What a client was told: order id → paid (true) or only placed (false).
type Acked = HashMap<String, bool>;

/// `n` clients, each placing an order and paying it, again and again, until the server goes
/// away; each answers what it was told.
fn clients(base: &str, n: usize, customer: &str, product: &str) -> Load<Acked> {
    let (base, customer, product) = (base.to_owned(), customer.to_owned(), product.to_owned());
    Load::start(n, move |_, ctx| {
        let post = |path: &str, body: Value| -> Option<(u16, Value)> {
            let r = ctx
                .client
                .post(format!("{base}{path}"))
                .bearer_auth(&customer)
                .json(&body)
                .send()
                .ok()?; // refused or reset: the server is gone
            let status = r.status().as_u16();
            Some((status, r.json::<Value>().ok()?)) // None: cut mid-answer
        };
        let mut told = Acked::new();
        while !ctx.stopped() {
            let Some((201, o)) = post(
                "/v1/orders",
                json!({"product_id": product, "spec_id": "m", "quantity": 1, "order_type": "new"}),
            ) else {
                break;
            };
            let id = o["id"].as_str().unwrap().to_owned();
            told.insert(id.clone(), false);
            ctx.acked();
            let Some((200, _)) = post(
                &format!("/v1/orders/{id}/pay"),
                json!({"amount_cents": o["payable_cents"]}),
            ) else {
                break;
            };
            told.insert(id, true);
            ctx.acked();
        }
        told
    })
}

fn replay_tool(args: &[&str], data: &Path) -> (i32, String) {
    run_replay_tool(args, data).expect("replay-tool is built by `cargo test --workspace`")
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
    let m = s.market();
    let mut told = Acked::new();
    for round in 0..rounds {
        let clients = clients(&s.base, 8, &m.customer, &m.product);
        // A different moment each round.
        clients.wait_for_acks(20 + 37 * round % 90);
        if round == 1 {
            // One clean stop among the crashes, so that later rounds resume from checkpoints.
            s.stop();
        } else {
            s.kill9();
        }
        told.extend(clients.finish().into_iter().flatten());

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
