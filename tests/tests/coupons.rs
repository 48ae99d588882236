//! Coupon campaigns against the real `marketlog serve` (API.md §6, SPEC.md §4): the journey
//! (create, claim, grant, void, statistics), and the races the stock and the wallets decide
//! — 64 customers for 10 coupons, one customer's parallel claims against its limit, and a
//! 500-customer grant racing with claims. Never over-issued, and no `version_conflict`
//! without `If-Match` (API.md §1).

use std::collections::BTreeMap;

use marketlog_tests::server::{Server, ADMIN_TOKEN};
use serde_json::{json, Value};

fn seller(server: &Server) -> String {
    let org = server
        .post("/v1/orgs", &json!({"name": "Acme"}))
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server.token(&json!({"role": "isv_admin", "name": "Ann", "org_id": org}))
}

/// `n` customers: (id, token).
fn customers(server: &Server, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let v = server
                .post(
                    "/v1/principals",
                    &json!({"role": "customer", "name": format!("customer {i}")}),
                )
                .expect(201);
            (
                v["id"].as_str().unwrap().to_owned(),
                v["token"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn campaign(server: &Server, seller: &str, total: u32, limit: u32) -> String {
    server
        .send(
            "POST",
            "/v1/coupon-campaigns",
            Some(seller),
            &[],
            Some(&json!({
                "name": "Launch", "scope": "store", "kind": "threshold",
                "threshold_cents": 10_000, "reduce_cents": 1_500,
                "per_customer_limit": limit, "valid_from": "2020-01-01T00:00:00+08:00",
                "valid_until": "2030-01-01T00:00:00+08:00", "total_quantity": total,
                "scenarios": ["new", "renewal", "upgrade"], "show_in_store": true
            })),
        )
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn claim(server: &Server, token: &str, campaign: &str) -> (u16, String) {
    let r = server.send(
        "POST",
        &format!("/v1/coupon-campaigns/{campaign}/claim"),
        Some(token),
        &[],
        None,
    );
    let code = match r.status {
        201 => "granted".to_owned(),
        _ => r.json()["error"]["code"].as_str().unwrap_or("?").to_owned(),
    };
    (r.status, code)
}

/// The campaign with its stats, once the read models applied everything written.
fn read(server: &Server, token: &str, path: &str) -> Value {
    let head = server.head().to_string();
    server
        .send("GET", path, Some(token), &[("x-min-position", &head)], None)
        .expect(200)
}

fn tally(codes: impl IntoIterator<Item = String>) -> BTreeMap<String, usize> {
    let mut t = BTreeMap::new();
    for c in codes {
        *t.entry(c).or_insert(0) += 1;
    }
    t
}

#[test]
fn a_campaign_is_created_claimed_granted_and_voided() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let acme = seller(&server);
    let people = customers(&server, 3);
    let id = campaign(&server, &acme, 5, 2);
    assert_eq!(claim(&server, &people[0].1, &id), (201, "granted".into()));
    let g = server
        .send(
            "POST",
            &format!("/v1/coupon-campaigns/{id}/grant"),
            Some(&acme),
            &[],
            Some(&json!({"customer_ids": [people[1].0, people[2].0, "cus_nobody"]})),
        )
        .expect(200);
    assert_eq!(g["granted"].as_array().unwrap().len(), 2);
    assert_eq!(
        g["refused"],
        json!([{"customer_id": "cus_nobody", "code": "unknown_customer"}])
    );
    let c = read(&server, &acme, &format!("/v1/coupon-campaigns/{id}"));
    assert_eq!(
        c["stats"],
        json!({"issued": 5, "granted": 3, "redeemed": 0, "released": 0, "remaining": 2})
    );
    let mine = read(&server, &people[0].1, "/v1/me/coupons");
    assert_eq!(mine["items"][0]["status"], "unused");
    assert_eq!(mine["items"][0]["threshold_cents"], 10_000);
    server
        .send(
            "POST",
            &format!("/v1/coupon-campaigns/{id}/void"),
            Some(&acme),
            &[],
            None,
        )
        .expect(200);
    assert_eq!(
        claim(&server, &people[1].1, &id),
        (409, "campaign_void".into())
    );
    let mine = read(&server, &people[0].1, "/v1/me/coupons");
    assert_eq!(mine["items"][0]["status"], "void");
    let coupons = read(
        &server,
        ADMIN_TOKEN,
        &format!("/v1/coupon-campaigns/{id}/coupons"),
    );
    assert_eq!(coupons["items"].as_array().unwrap().len(), 3);
}

/// 64 customers claim one coupon each of a campaign of 10 at once: what each was answered.
fn claim_race() -> BTreeMap<String, usize> {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let acme = seller(&server);
    let people = customers(&server, 64);
    let id = campaign(&server, &acme, 10, 1);
    let codes: Vec<(u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = people
            .iter()
            .map(|(_, token)| s.spawn(|| claim(&server, token, &id)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let c = read(&server, &acme, &format!("/v1/coupon-campaigns/{id}"));
    assert_eq!(c["stats"]["granted"], 10);
    assert_eq!(c["stats"]["remaining"], 0);
    tally(codes.into_iter().map(|(_, c)| c))
}

/// API.md §1: without `If-Match` the server resolves the race itself: the runner's
/// per-stream locks (ADR 0006) make racing claims queue, so each gets its decision.
#[test]
fn sixty_four_customers_racing_for_ten_coupons_get_exactly_ten_and_every_other_claim_is_sold_out() {
    let t = claim_race();
    assert_eq!(
        t,
        BTreeMap::from([("granted".into(), 10), ("sold_out".into(), 54)])
    );
}

#[test]
fn one_customers_parallel_claims_stop_at_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let acme = seller(&server);
    let people = customers(&server, 1);
    let id = campaign(&server, &acme, 100, 2);
    let token = &people[0].1;
    let codes: Vec<(u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|_| s.spawn(|| claim(&server, token, &id)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let t = tally(codes.iter().map(|(_, c)| c.clone()));
    assert_eq!(t.get("granted"), Some(&2), "{t:?}");
    assert!(
        t.keys()
            .all(|c| ["granted", "limit_reached"].contains(&c.as_str())),
        "{t:?}"
    );
    let mine = read(&server, token, "/v1/me/coupons");
    assert_eq!(mine["items"].as_array().unwrap().len(), 2);
}

#[test]
fn a_grant_to_500_customers_racing_with_claims_never_over_issues() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let acme = seller(&server);
    let people = customers(&server, 500);
    let total = 300;
    let id = campaign(&server, &acme, total, 1);
    let ids: Vec<&str> = people.iter().map(|(id, _)| id.as_str()).collect();
    let (grant, claims) = std::thread::scope(|s| {
        let grant = s.spawn(|| {
            server.send(
                "POST",
                &format!("/v1/coupon-campaigns/{id}/grant"),
                Some(&acme),
                &[],
                Some(&json!({ "customer_ids": ids })),
            )
        });
        // Claims by the last 32 customers, racing with the grant that names them too.
        let claims: Vec<_> = people[468..]
            .iter()
            .map(|(_, token)| s.spawn(|| claim(&server, token, &id)))
            .collect();
        (
            grant.join().unwrap(),
            claims
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>(),
        )
    });
    // Every answer is a decision: racers queue on the stock and wallet streams.
    assert!(
        claims
            .iter()
            .all(|(_, c)| ["granted", "sold_out", "limit_reached"].contains(&c.as_str())),
        "{claims:?}"
    );
    let claimed = codes_granted(&claims);
    let g = grant.expect(200);
    let granted = g["granted"].as_array().unwrap().len();
    let refused = g["refused"].as_array().unwrap().len();
    assert_eq!(granted + refused, 500);
    assert_eq!(
        granted + claimed,
        total as usize,
        "demand exceeds supply: all issued, none more"
    );
    let issued = granted + claimed;
    assert!(issued <= total as usize);
    let c = read(&server, &acme, &format!("/v1/coupon-campaigns/{id}"));
    assert_eq!(c["stats"]["granted"], issued);

    // Every coupon is someone's, and nobody holds two (limit 1).
    let mut owners = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = cursor
            .as_deref()
            .map_or(String::new(), |c| format!("&cursor={c}"));
        let page = read(
            &server,
            &acme,
            &format!("/v1/coupon-campaigns/{id}/coupons?limit=500{q}"),
        );
        for item in page["items"].as_array().unwrap() {
            *owners
                .entry(item["customer_id"].as_str().unwrap().to_owned())
                .or_insert(0) += 1;
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(owners.values().sum::<usize>(), issued);
    assert!(owners.values().all(|&n| n == 1));
}

fn codes_granted(claims: &[(u16, String)]) -> usize {
    claims.iter().filter(|(_, c)| c == "granted").count()
}
