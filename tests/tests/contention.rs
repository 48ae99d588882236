//! Many clients on one stream through the real server (API.md §1): a command sent without
//! `If-Match` never answers `version_conflict`, however many race.

use std::collections::BTreeSet;

use marketlog_tests::server::Server;
use serde_json::json;

/// Clients that change one spec's price at once.
const RACERS: u64 = 64;

#[test]
fn sixty_four_parallel_price_changes_of_one_product_all_succeed_in_turn() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path());
    let m = s.market();
    let path = format!("/v1/products/{}/specs/m/price", m.product);
    let change = |price_cents: u64| {
        s.send(
            "POST",
            &path,
            Some(&m.seller),
            &[],
            Some(&json!({"price_cents": price_cents, "reason": "race"})),
        )
    };
    let before = change(4_000).expect(200)["version"].as_u64().unwrap();

    let replies: Vec<_> = std::thread::scope(|scope| {
        let racers: Vec<_> = (1..=RACERS)
            .map(|i| scope.spawn(move || change(4_000 + i)))
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let mut versions = BTreeSet::new();
    let mut last_position = 0;
    for r in &replies {
        let answer = r.expect(200);
        versions.insert(answer["version"].as_u64().unwrap());
        last_position = last_position.max(answer["position"].as_u64().unwrap());
    }
    // Each change appended one event, one after the other.
    let expected: BTreeSet<u64> = (before + 1..=before + RACERS).collect();
    assert_eq!(versions, expected);
    let product = s
        .send(
            "GET",
            &format!("/v1/products/{}", m.product),
            Some(&m.seller),
            &[("X-Min-Position", &last_position.to_string())],
            None,
        )
        .expect(200);
    assert_eq!(product["version"].as_u64(), Some(before + RACERS));
    s.stop();
}

/// The policy runner follows the log (`GET /v1/health` `policies_position`), and a clock
/// advance answers only once it has reacted to everything the advance appended.
#[test]
fn a_clock_advance_answers_once_the_policies_reacted_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path());
    s.market();
    let advanced = s
        .post("/v1/admin/clock/advance", &json!({"seconds": 3600}))
        .expect(200);
    let position = advanced["position"].as_u64().unwrap();
    let health = s.send("GET", "/v1/health", None, &[], None).expect(200);
    let policies = health["policies_position"].as_u64().unwrap();
    assert!(
        policies >= position,
        "policies at {policies}, advance at {position}"
    );
    s.stop();
}
