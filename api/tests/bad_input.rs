//! "Never a 500 for bad input" (API.md §1): every route × malformed bodies, content types,
//! tokens, path segments, query strings and headers. Every answer must be below 500 and every
//! non-2xx answer must carry the error JSON.

mod common;

use common::{error_shape_problem, Api, ADMIN};

/// Every route served today, with its path template.
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/orgs"),
    ("POST", "/v1/principals"),
    ("DELETE", "/v1/principals/{}"),
    ("GET", "/v1/me"),
    ("PUT", "/v1/calendar/{}"),
    ("GET", "/v1/calendar/{}"),
    ("GET", "/v1/streams/{}"),
    ("GET", "/v1/events"),
    ("GET", "/v1/events/live"),
    ("GET", "/v1/projections"),
    ("POST", "/v1/projections/{}/rebuild"),
    ("POST", "/v1/admin/clock/advance"),
    ("GET", "/v1/health"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/metrics"),
];

/// A plausible value for each route's path parameter.
fn plausible(path: &str) -> &'static str {
    if path.starts_with("/v1/principals") {
        "cus_nope"
    } else if path.starts_with("/v1/calendar") {
        "2026"
    } else if path.starts_with("/v1/streams") {
        "calendar-2026"
    } else {
        "timers"
    }
}

fn path_segments() -> Vec<String> {
    vec![
        "%00".into(),
        "a%00b".into(),
        "..".into(),
        "%2e%2e".into(),
        "%2F".into(),
        "%F0%9F%92%A9".into(),
        "x".repeat(300),
        "org-".to_owned() + &"9".repeat(300),
        "-1".into(),
        "99999999999999999999".into(),
        "2026%20".into(),
        "%20".into(),
        "null".into(),
        "directory%00".into(),
        "calendar-2026%0A".into(),
    ]
}

fn nested(depth: usize) -> Vec<u8> {
    let mut b = vec![b'['; depth];
    b.extend(std::iter::repeat_n(b']', depth));
    b
}

fn bodies() -> Vec<Vec<u8>> {
    let long = "x".repeat(100_000);
    let mut nested_obj = b"{\"name\": ".to_vec();
    nested_obj.extend(std::iter::repeat_n(b'{', 10_000));
    nested_obj.extend(b"\"a\": 1");
    nested_obj.extend(std::iter::repeat_n(b'}', 10_000));
    nested_obj.push(b'}');
    vec![
        Vec::new(),
        b"\xff\xfe\xfd\x00garbage".to_vec(),
        b"{}".to_vec(),
        b"[]".to_vec(),
        b"null".to_vec(),
        b"true".to_vec(),
        b"0".to_vec(),
        b"\"string\"".to_vec(),
        b"{\"name\": 1e400}".to_vec(),
        b"{\"seconds\": 1e400}".to_vec(),
        b"{\"seconds\": 18446744073709551616}".to_vec(),
        b"{\"seconds\": 18446744073709551615}".to_vec(),
        b"{\"seconds\": -9223372036854775809}".to_vec(),
        b"{\"seconds\": -1}".to_vec(),
        b"{\"name\": -1}".to_vec(),
        b"{\"holidays\": [\"2026-02-30\"], \"workdays\": [-1]}".to_vec(),
        b"{\"holidays\": [\"+262143-01-01\"], \"workdays\": []}".to_vec(),
        b"{\"holidays\": [\"9999999999-01-01\"], \"workdays\": []}".to_vec(),
        b"{\"role\": \"platform\", \"name\": \"\\ud800\"}".to_vec(),
        b"{\"role\": \"isv_admin\", \"name\": \"a\", \"org_id\": \"\\u0000\"}".to_vec(),
        "{\"name\": \"\u{202e}\u{0000}\u{fffd}\u{1F4A9}名前\"}"
            .as_bytes()
            .to_vec(),
        format!("{{\"name\": \"{long}\"}}").into_bytes(),
        format!("{{\"role\": \"{long}\", \"name\": \"{long}\"}}").into_bytes(),
        nested(10_000),
        nested_obj,
        b"{\"name\": \"a\", \"name\": \"b\"}".to_vec(),
        b"{\"name\": \"a\"".to_vec(),
        vec![b' '; 2 * 1024 * 1024],
    ]
}

const CONTENT_TYPES: &[Option<&str>] = &[
    Some("application/json"),
    None,
    Some("text/plain"),
    Some("application/x-www-form-urlencoded"),
    Some("multipart/form-data; boundary=x"),
    Some("application/json; charset=latin1"),
];

fn bad_auth() -> Vec<Option<Vec<u8>>> {
    vec![
        None,
        Some(b"Bearer".to_vec()),
        Some(b"Bearer \xff\xfe".to_vec()),
        Some(format!("Bearer {}", "t".repeat(10_000)).into_bytes()),
        Some(b"Bearer admin-token-0123456789 extra".to_vec()),
        Some(b"Digest x".to_vec()),
    ]
}

const QUERIES: &[&str] = &[
    "?limit=-1",
    "?limit=0",
    "?limit=1e400",
    "?limit=18446744073709551616",
    "?limit=18446744073709551615",
    "?from_position=18446744073709551615",
    "?from_position=18446744073709551616",
    "?from_version=18446744073709551615",
    "?from_version=0",
    "?cursor=18446744073709551615",
    "?cursor=%00",
    "?cursor=%FF",
    "?type=%FF%FE",
    "?type=",
    "?include=raw&include=raw",
    "?include=RAW",
    "?limit=1&limit=2",
    "?%00=%00",
    "?=",
    "?&&&",
];

const HEADERS: &[(&str, &[u8])] = &[
    ("if-match", b"\"18446744073709551616\""),
    ("if-match", b"W/"),
    ("if-match", b"\xff"),
    ("if-match", b"\"18446744073709551615\""),
    ("idempotency-key", b"\xc3\xa9\xc3\xa9"),
    ("idempotency-key", b" "),
    ("x-min-position", b"-1"),
    ("x-min-position", b"\xff"),
    ("x-min-position", b"18446744073709551616"),
    ("last-event-id", b"garbage"),
    ("last-event-id", b"-1"),
    ("last-event-id", b"18446744073709551616"),
    ("content-length", b"5"),
    ("content-type", b"\xff"),
];

struct Checked<'a> {
    api: &'a Api,
    requests: usize,
}

impl Checked<'_> {
    async fn check(
        &mut self,
        method: &str,
        uri: &str,
        auth: Option<&[u8]>,
        content_type: Option<&str>,
        headers: &[(&str, &[u8])],
        body: &[u8],
    ) {
        self.requests += 1;
        let mut call = self.api.call(method, uri).raw(body.to_vec());
        if let Some(a) = auth {
            call = call.header_bytes("authorization", a);
        }
        if let Some(ct) = content_type {
            call = call.header("content-type", ct);
        }
        for (k, v) in headers {
            call = call.header_bytes(k, v);
        }
        let what = format!(
            "{method} {uri} ct={content_type:?} headers={headers:?} body={:?}",
            String::from_utf8_lossy(&body[..body.len().min(80)])
        );
        let r = call.send_streaming().await;
        let status = r.status();
        assert!(status.as_u16() < 500, "{status} for {what}");
        if status.is_success() {
            return; // the live feed never ends; success bodies are checked elsewhere
        }
        use http_body_util::BodyExt;
        let bytes =
            tokio::time::timeout(std::time::Duration::from_secs(10), r.into_body().collect())
                .await
                .unwrap_or_else(|_| panic!("error body never ended for {what}"))
                .unwrap()
                .to_bytes();
        // 405 is not in the contract's table, but is still the error JSON.
        if let Some(problem) = error_shape_problem(&bytes) {
            panic!(
                "{status} without the error JSON ({problem}) for {what}: {:?}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
            );
        }
    }
}

fn uri(path: &str, segment: &str) -> String {
    path.replace("{}", segment)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_and_content_types_never_answer_5xx() {
    let api = Api::new().await;
    let mut c = Checked {
        api: &api,
        requests: 0,
    };
    let admin = format!("Bearer {ADMIN}").into_bytes();
    for (method, path) in ROUTES {
        let u = uri(path, plausible(path));
        for body in bodies() {
            c.check(
                method,
                &u,
                Some(&admin),
                Some("application/json"),
                &[],
                &body,
            )
            .await;
        }
        for ct in CONTENT_TYPES {
            for body in [&b"{\"name\": \"ct\"}"[..], b"\xff", b"name=x&role=platform"] {
                c.check(method, &u, Some(&admin), *ct, &[], body).await;
            }
        }
    }
    assert!(c.requests > 400, "{} requests", c.requests);
    // The app still serves normally afterwards.
    let health = api.call("GET", "/v1/health").send().await.json();
    assert_eq!(health["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_paths_queries_and_headers_never_answer_5xx() {
    let api = Api::new().await;
    let mut c = Checked {
        api: &api,
        requests: 0,
    };
    let admin = format!("Bearer {ADMIN}").into_bytes();
    let garbage = b"\x00\xff{{{".to_vec();
    for (method, path) in ROUTES {
        let u = uri(path, plausible(path));
        // Tokens.
        for auth in bad_auth() {
            for body in [&b"{}"[..], &garbage] {
                c.check(
                    method,
                    &u,
                    auth.as_deref(),
                    Some("application/json"),
                    &[],
                    body,
                )
                .await;
            }
        }
        // Path segments.
        if path.contains("{}") {
            for seg in path_segments() {
                for auth in [Some(&admin[..]), None] {
                    c.check(
                        method,
                        &uri(path, &seg),
                        auth,
                        Some("application/json"),
                        &[],
                        b"{}",
                    )
                    .await;
                }
            }
        } else {
            for seg in path_segments() {
                c.check(
                    method,
                    &format!("{path}/{seg}"),
                    Some(&admin),
                    None,
                    &[],
                    b"{}",
                )
                .await;
            }
        }
        // Query strings.
        for q in QUERIES {
            c.check(
                method,
                &format!("{u}{q}"),
                Some(&admin),
                Some("application/json"),
                &[],
                b"{}",
            )
            .await;
        }
        // Headers.
        for h in HEADERS {
            c.check(
                method,
                &u,
                Some(&admin),
                Some("application/json"),
                &[*h],
                b"{\"name\": \"h\"}",
            )
            .await;
        }
        // Other methods.
        for m in ["PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND"] {
            c.check(m, &u, Some(&admin), None, &[], b"").await;
        }
    }
    // Unknown routes.
    for u in [
        "/",
        "/v1",
        "/v1/",
        "/v1/%00",
        "/v1/../v1/me",
        "/v1//me",
        "/v1/me/",
        "/v1/me%00",
        "/V1/ME",
        "/v1/orgs?x=1",
        "/metrics/extra",
    ] {
        for auth in [Some(&admin[..]), None] {
            c.check("GET", u, auth, None, &[], b"").await;
            c.check("POST", u, auth, None, &[], b"{}").await;
        }
    }
    assert!(c.requests > 700, "{} requests", c.requests);
    let health = api.call("GET", "/v1/health").send().await.json();
    assert_eq!(health["status"], "ok");
}

/// Percent-encoded bytes that are not UTF-8 in a path parameter.
const NON_UTF8_SEGMENTS: &[&str] = &["%FF", "%C3%28", "a%80b"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_utf8_path_segments_answer_the_error_json() {
    let api = Api::new().await;
    let mut c = Checked {
        api: &api,
        requests: 0,
    };
    let admin = format!("Bearer {ADMIN}").into_bytes();
    for (method, path) in ROUTES.iter().filter(|(_, p)| p.contains("{}")) {
        for seg in NON_UTF8_SEGMENTS {
            c.check(method, &uri(path, seg), Some(&admin), None, &[], b"{}")
                .await;
        }
    }
    assert_eq!(c.requests, 5 * NON_UTF8_SEGMENTS.len());
}

/// Every route the served OpenAPI document lists (also the ones added after this file was
/// written), as every kind of caller, with the malformed bodies and path segments above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_never_answers_5xx_on_bad_input() {
    let api = Api::new().await;
    let (org, _) = api.create_org("Acme").await;
    let mut tokens = vec![ADMIN.to_owned()];
    for (role, org) in [
        ("customer", None),
        ("isv_admin", Some(org.as_str())),
        ("auditor", None),
        ("analyst", None),
    ] {
        tokens.push(api.create_principal(role, org).await.1);
    }
    let doc = api.openapi().await;
    let mut routes: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.push((method.to_uppercase(), path.clone()));
        }
    }
    assert!(routes.len() >= ROUTES.len() - 1, "{routes:?}");
    let fill = |path: &str, value: &str| {
        let mut out = String::new();
        let mut rest = path;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').unwrap() + start;
            out.push_str(value);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    };
    let mut c = Checked {
        api: &api,
        requests: 0,
    };
    let garbage = b"\xff\x00{".to_vec();
    for (method, path) in &routes {
        let plain = fill(path, "x_1");
        for token in &tokens {
            let auth = format!("Bearer {token}").into_bytes();
            for body in bodies() {
                c.check(
                    method,
                    &plain,
                    Some(&auth),
                    Some("application/json"),
                    &[],
                    &body,
                )
                .await;
            }
            for seg in path_segments() {
                c.check(method, &fill(path, &seg), Some(&auth), None, &[], &garbage)
                    .await;
            }
            for q in QUERIES {
                c.check(
                    method,
                    &format!("{plain}{q}"),
                    Some(&auth),
                    None,
                    &[],
                    b"{}",
                )
                .await;
            }
        }
        for auth in bad_auth() {
            c.check(method, &plain, auth.as_deref(), None, &[], &garbage)
                .await;
        }
    }
    let health = api.call("GET", "/v1/health").send().await.json();
    assert_eq!(health["status"], "ok");
    assert!(c.requests > 1_000, "{} requests", c.requests);
}

/// Field rules that need no state answer 422 `validation_failed` naming the field, before any
/// rule that depends on state (API.md §1): every amount, quantity and count field, sent to a
/// resource in a state where the command would also be refused (an unpaid order for refunds,
/// a paid one for price changes and payments), and every name, code and free-text field with
/// a control or bidi character.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_rules_answer_422_naming_the_field_before_state_rules() {
    use axum::http::StatusCode;
    use serde_json::{json, Value};

    let api = Api::new().await;
    let (seller, product) = api.listed_product("Acme", "VM", 5_000).await;
    let (_, ann) = api.create_principal("customer", None).await;
    let paid = api.paid_order(&ann, &product, 1, 0).await;
    let unpaid = api.place_order(&ann, &product, 1).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let spec = |price: Value| {
        json!({"code": "X1", "name": "X", "category": "c", "delivery": "saas",
            "delivery_days": 0, "warranty_days": 0,
            "specs": [{"id": "m", "name": "monthly", "duration": 1, "unit": "month",
                "price_cents": price}]})
    };
    let place = |extra: Value| {
        let mut b = json!({"product_id": product, "spec_id": "m", "quantity": 1,
            "order_type": "new"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let review = |q: i64, comment: &str| json!({"quality": q, "attitude": 5, "speed": 5, "comment": comment});
    let seller_refund = |amount: i64| {
        json!({"kind": "remaining", "amount_cents": amount, "release": "keep",
            "keep_reason": "in use", "reason": "goodwill"})
    };
    let o = |id: &str, tail: &str| format!("/v1/orders/{id}/{tail}");
    let p = |tail: &str| format!("/v1/products/{product}/{tail}");
    // A product customers cannot see yet (a draft) and one that does not exist: a field rule
    // of placement still answers first, not the "unknown product_id" that needs the product.
    let draft = api
        .call("POST", "/v1/products")
        .token(&seller)
        .json(&spec(json!(1)))
        .send()
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let place_on = |product_id: &str, extra: Value| {
        let mut b = place(extra);
        b["product_id"] = json!(product_id);
        b
    };
    // An invoice of the paid order, rejected: issuing it is refused by state, after the
    // field rule of `tracking`.
    let invoice = |title: &str, tax_id: &str, address: &str| json!({"type": "ordinary", "title": title, "tax_id": tax_id, "address": address});
    let rejected = api
        .post_as(
            &ann,
            &o(&paid, "invoice-requests"),
            invoice("Acme Ltd", "91X", "1 Main St"),
        )
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post_as(
        &seller,
        &format!("/v1/invoices/{rejected}/reject"),
        json!({"reason": "wrong title"}),
    )
    .await
    .expect(StatusCode::OK);
    let cases: Vec<(&str, &str, String, Value, &str)> = vec![
        // Amounts: negative or zero where zero is no amount at all.
        (
            "seller",
            "POST",
            o(&paid, "seller-refunds"),
            seller_refund(-11),
            "amount_cents",
        ),
        (
            "seller",
            "POST",
            o(&paid, "seller-refunds"),
            seller_refund(0),
            "amount_cents",
        ),
        (
            "seller",
            "POST",
            o(&unpaid, "seller-refunds"),
            seller_refund(-11),
            "amount_cents",
        ),
        (
            "ann",
            "POST",
            o(&paid, "refund-requests"),
            json!({"amount_cents": -11, "reason": "r"}),
            "amount_cents",
        ),
        (
            "ann",
            "POST",
            o(&paid, "refund-requests"),
            json!({"amount_cents": 0, "reason": "r"}),
            "amount_cents",
        ),
        (
            "ann",
            "POST",
            o(&unpaid, "refund-requests"),
            json!({"amount_cents": -1, "reason": "r"}),
            "amount_cents",
        ),
        (
            "ann",
            "POST",
            o(&paid, "pay"),
            json!({"amount_cents": -1}),
            "amount_cents",
        ),
        (
            "ann",
            "POST",
            o(&paid, "pay"),
            json!({"amount_cents": 5_000, "voucher_cents": -1}),
            "voucher_cents",
        ),
        (
            "ann",
            "POST",
            o(&paid, "pay"),
            json!({"amount_cents": 5_000, "voucher_cents": 5_001}),
            "voucher_cents",
        ),
        (
            "seller",
            "POST",
            o(&paid, "change-price"),
            json!({"new_price_cents": -1, "reason": "r"}),
            "new_price_cents",
        ),
        (
            "seller",
            "POST",
            o(&paid, "change-price"),
            json!({"new_price_cents": i64::MAX, "reason": "r"}),
            "new_price_cents",
        ),
        (
            "seller",
            "POST",
            "/v1/products".into(),
            spec(json!(-1)),
            "specs[0].price_cents",
        ),
        (
            "seller",
            "POST",
            "/v1/products".into(),
            spec(json!(10_000_000_001_i64)),
            "specs[0].price_cents",
        ),
        (
            "seller",
            "POST",
            p("specs/m/price"),
            json!({"price_cents": -1, "reason": "r"}),
            "price_cents",
        ),
        // Quantities and counts.
        (
            "ann",
            "POST",
            "/v1/orders".into(),
            place(json!({"quantity": 0})),
            "quantity",
        ),
        (
            "ann",
            "POST",
            "/v1/orders".into(),
            place(json!({"quantity": 101})),
            "quantity",
        ),
        (
            "ann",
            "POST",
            "/v1/orders".into(),
            place_on(&draft, json!({"quantity": 0})),
            "quantity",
        ),
        (
            "ann",
            "POST",
            "/v1/orders".into(),
            place_on(&draft, json!({"quantity": 101})),
            "quantity",
        ),
        (
            "ann",
            "POST",
            "/v1/orders".into(),
            place_on("prd_unknown", json!({"quantity": 0})),
            "quantity",
        ),
        (
            "ann",
            "POST",
            "/v1/orders".into(),
            place_on("prd_unknown", json!({"order_type": "gift"})),
            "order_type",
        ),
        (
            "ann",
            "POST",
            "/v1/orders".into(),
            place_on(&draft, json!({"remark": "call me\u{7}"})),
            "remark",
        ),
        (
            "ann",
            "POST",
            o(&unpaid, "review"),
            review(0, "x"),
            "quality",
        ),
        (
            "ann",
            "POST",
            o(&unpaid, "review"),
            review(6, "x"),
            "quality",
        ),
        (
            "seller",
            "POST",
            p("distribution"),
            json!({"commission_percent": 19}),
            "commission_percent",
        ),
        (
            "seller",
            "POST",
            p("distribution"),
            json!({"commission_percent": 61}),
            "commission_percent",
        ),
        (
            "seller",
            "PUT",
            p("providers"),
            json!({"providers": [{"org_id": "org_x", "weight": 0, "max_active": 1}]}),
            "providers[0].weight",
        ),
        (
            "seller",
            "PUT",
            p("providers"),
            json!({"providers": [{"org_id": "org_x", "weight": 1, "max_active": 10_001}]}),
            "providers[0].max_active",
        ),
        (
            "seller",
            "POST",
            "/v1/products".into(),
            {
                let mut b = spec(json!(1));
                b["delivery_days"] = json!(3_651);
                b
            },
            "delivery_days",
        ),
        (
            "seller",
            "POST",
            "/v1/products".into(),
            {
                let mut b = spec(json!(1));
                b["specs"][0]["duration"] = json!(0);
                b
            },
            "specs[0].duration",
        ),
        (
            "admin",
            "POST",
            "/v1/admin/clock/advance".into(),
            json!({"seconds": 0}),
            "seconds",
        ),
        // Names and codes: no control or bidi character.
        (
            "admin",
            "POST",
            "/v1/orgs".into(),
            json!({"name": "Acme\u{0}Corp"}),
            "name",
        ),
        (
            "admin",
            "POST",
            "/v1/orgs".into(),
            json!({"name": "Acme\nCorp"}),
            "name",
        ),
        (
            "admin",
            "POST",
            "/v1/principals".into(),
            json!({"role": "customer", "name": "evil\u{202E}gpj.exe"}),
            "name",
        ),
        (
            "seller",
            "POST",
            "/v1/products".into(),
            {
                let mut b = spec(json!(1));
                b["code"] = json!("X\u{1b}[2J");
                b
            },
            "code",
        ),
        (
            "seller",
            "POST",
            "/v1/products".into(),
            {
                let mut b = spec(json!(1));
                b["specs"][0]["name"] = json!("m\u{2066}");
                b
            },
            "specs[0].name",
        ),
        (
            "ann",
            "POST",
            "/v1/orders".into(),
            place(json!({"channel": {"kind": "distribution", "ref": "a\tb"}})),
            "channel.ref",
        ),
        (
            "ann",
            "POST",
            o(&unpaid, "invoice-requests"),
            invoice("Acme\nLtd", "91X", "1 Main St"),
            "title",
        ),
        (
            "ann",
            "POST",
            o(&unpaid, "invoice-requests"),
            invoice("Acme Ltd", "91\tX", "1 Main St"),
            "tax_id",
        ),
        (
            "ann",
            "POST",
            o(&unpaid, "invoice-requests"),
            invoice("Acme Ltd", "91X\u{202E}", "1 Main St"),
            "tax_id",
        ),
        (
            "seller",
            "POST",
            format!("/v1/invoices/{rejected}/issue"),
            json!({"tracking": "SF\n123"}),
            "tracking",
        ),
        // Free text: line breaks and tabs are fine (below), other controls are not.
        (
            "ann",
            "POST",
            "/v1/orders".into(),
            place(json!({"remark": "call me\u{7}"})),
            "remark",
        ),
        (
            "ann",
            "POST",
            o(&paid, "refund-requests"),
            json!({"amount_cents": 1, "reason": "no\u{0}"}),
            "reason",
        ),
        (
            "ann",
            "POST",
            o(&unpaid, "review"),
            review(5, "great\u{202D}"),
            "comment",
        ),
        (
            "seller",
            "POST",
            o(&unpaid, "change-price"),
            json!({"new_price_cents": 1, "reason": "x\u{85}"}),
            "reason",
        ),
        (
            "ann",
            "POST",
            o(&unpaid, "invoice-requests"),
            invoice("Acme Ltd", "91X", "1 Main St\u{0}"),
            "address",
        ),
    ];
    for (who, method, uri, body, field) in cases {
        let token = match who {
            "ann" => ann.as_str(),
            "seller" => seller.as_str(),
            _ => ADMIN,
        };
        let d = api
            .call(method, &uri)
            .token(token)
            .json(&body)
            .send()
            .await
            .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(d["field"], field, "{method} {uri} {body}: {d}");
    }
    // Free text keeps line breaks and tabs.
    let placed = api
        .call("POST", "/v1/orders")
        .token(&ann)
        .json(&place(json!({"remark": "line 1\r\nline 2\tend"})))
        .send()
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(placed["remark"], "line 1\r\nline 2\tend");
    api.call("POST", &o(&paid, "refund-requests"))
        .token(&ann)
        .json(&json!({"amount_cents": 1, "reason": "first line\nsecond line"}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    // An invoice address is free text: it may span lines.
    let requested = api
        .post_as(
            &ann,
            &o(&paid, "invoice-requests"),
            invoice("Acme Ltd", "91X", "Room 1\nBuilding 2"),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(requested["address"], "Room 1\nBuilding 2");
}

/// `Bearer` is matched case-insensitively (RFC 9110); two `Authorization` headers are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_case_insensitive_and_two_authorization_headers_are_400() {
    use axum::http::StatusCode;

    let api = Api::new().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        api.call("GET", "/v1/me")
            .header("authorization", &format!("{scheme} {ADMIN}"))
            .send()
            .await
            .expect(StatusCode::OK);
    }
    api.call("GET", "/v1/me")
        .header("authorization", &format!("Basic {ADMIN}"))
        .send()
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthenticated");
    let d = api
        .call("GET", "/v1/me")
        .header("authorization", &format!("Bearer {ADMIN}"))
        .header("authorization", &format!("Bearer {ADMIN}"))
        .send()
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(d["field"], "Authorization");
}
