//! API.md §1 conventions, checked in-process (`router.oneshot(request)`) on the routes of §2
//! and §9 that exist today: auth, roles, 404s, body and header shape, size limit, field rules,
//! If-Match, idempotency, read-your-writes, paging, the raw log, projections, health, OpenAPI,
//! metrics and the simulated clock.

mod common;

use axum::http::StatusCode;
use common::{Api, ADMIN};
use serde_json::{json, Value};

fn position_of(v: &Value) -> u64 {
    v["position"].as_u64().unwrap()
}

// ---------------------------------------------------------------------------------------
// 401

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_malformed_and_unknown_tokens_answer_401() {
    let api = Api::new().await;
    for (method, uri) in [
        ("GET", "/v1/me"),
        ("POST", "/v1/orgs"),
        ("GET", "/v1/events"),
    ] {
        let bad: Vec<Option<Vec<u8>>> = vec![
            None,
            Some(b"".to_vec()),
            Some(b"Bearer".to_vec()),
            Some(b"Bearer ".to_vec()),
            Some(format!("Basic {ADMIN}").into_bytes()),
            Some(ADMIN.as_bytes().to_vec()),
            Some(format!("Bearer{ADMIN}").into_bytes()),
            Some(b"Bearer not-a-token-this-server-issued".to_vec()),
            Some(format!("Bearer {ADMIN}x").into_bytes()),
            Some(format!("Bearer {}", "a".repeat(300)).into_bytes()),
            Some(b"Bearer \xff\xfe".to_vec()),
        ];
        for header in bad {
            let mut call = api.call(method, uri).json(&json!({"name": "Acme"}));
            if let Some(h) = &header {
                call = call.header_bytes("authorization", h);
            }
            let r = call.send().await;
            r.error(StatusCode::UNAUTHORIZED, "unauthenticated");
        }
    }
    // Nothing was appended by any of those.
    assert_eq!(
        api.head().await,
        1,
        "only the bootstrap admin is in the log"
    );
    // The right token works, so the 401s above were about the token.
    let me = api.get("/v1/me").await.expect(StatusCode::OK);
    assert_eq!(me["role"], "platform");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_stops_working_at_once() {
    let api = Api::new().await;
    let (id, token) = api.create_principal("customer", None).await;
    let me = api
        .call("GET", "/v1/me")
        .token(&token)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(me["id"], id);
    assert_eq!(me["role"], "customer");

    let r = api
        .call("DELETE", &format!("/v1/principals/{id}"))
        .token(ADMIN)
        .send()
        .await;
    let v = r.expect(StatusCode::OK);
    assert_eq!(v["id"], id);
    assert_eq!(v["revoked"], true);
    assert!(v["token"].is_null(), "a revoke never shows a token: {v}");
    let head = api.head().await;
    assert_eq!(position_of(&v), head);

    // The very next request with that token is refused.
    let r = api.call("GET", "/v1/me").token(&token).send().await;
    r.error(StatusCode::UNAUTHORIZED, "unauthenticated");

    // Revoking twice changes nothing and appends nothing.
    let again = api
        .call("DELETE", &format!("/v1/principals/{id}"))
        .token(ADMIN)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(again["revoked"], true);
    assert_eq!(api.head().await, head);
}

// ---------------------------------------------------------------------------------------
// 403

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_that_may_never_do_it_answer_403() {
    let api = Api::new().await;
    let (org, _) = api.create_org("Acme").await;
    let (_, customer) = api.create_principal("customer", None).await;
    let (_, auditor) = api.create_principal("auditor", None).await;
    let (_, analyst) = api.create_principal("analyst", None).await;
    let (_, isv) = api.create_principal("isv_admin", Some(&org)).await;
    let (victim, _) = api.create_principal("customer", None).await;
    let head = api.head().await;

    let writes: Vec<(&str, String, Value)> = vec![
        ("POST", "/v1/orgs".into(), json!({"name": "X"})),
        (
            "POST",
            "/v1/principals".into(),
            json!({"role": "customer", "name": "Y"}),
        ),
        ("DELETE", format!("/v1/principals/{victim}"), json!({})),
        (
            "PUT",
            "/v1/calendar/2026".into(),
            json!({"holidays": [], "workdays": []}),
        ),
        (
            "POST",
            "/v1/admin/clock/advance".into(),
            json!({"seconds": 60}),
        ),
    ];
    for token in [&customer, &auditor, &analyst, &isv] {
        for (method, uri, body) in &writes {
            let r = api.call(method, uri).token(token).json(body).send().await;
            r.error(StatusCode::FORBIDDEN, "forbidden");
        }
    }
    // Rebuilds: platform and analyst only.
    for token in [&customer, &auditor, &isv] {
        let r = api
            .call("POST", "/v1/projections/directory/rebuild")
            .token(token)
            .send()
            .await;
        r.error(StatusCode::FORBIDDEN, "forbidden");
    }
    // The log: auditor, analyst, platform; streams: auditor, platform.
    for token in [&customer, &isv] {
        for uri in ["/v1/events", "/v1/events/live", "/v1/streams/calendar-2026"] {
            let r = api.call("GET", uri).token(token).send().await;
            r.error(StatusCode::FORBIDDEN, "forbidden");
        }
    }
    let r = api
        .call("GET", "/v1/streams/calendar-2026")
        .token(&analyst)
        .send()
        .await;
    r.error(StatusCode::FORBIDDEN, "forbidden");
    // Projections: any staff role, so not a customer.
    let r = api
        .call("GET", "/v1/projections")
        .token(&customer)
        .send()
        .await;
    r.error(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(
        api.head().await,
        head,
        "a refused command appended something"
    );

    // The auditor may read everything it is meant to.
    for uri in [
        "/v1/events",
        "/v1/projections",
        "/v1/me",
        "/v1/calendar/2026",
    ] {
        api.call("GET", uri)
            .token(&auditor)
            .send()
            .await
            .expect(StatusCode::OK);
    }
    // The analyst may rebuild.
    let r = api
        .call("POST", "/v1/projections/timers/rebuild")
        .token(&analyst)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_answer_in_order_401_403_404_400() {
    let api = Api::new().await;
    let (_, auditor) = api.create_principal("auditor", None).await;
    // 401 before anything: no token, bad body, unknown principal.
    api.call("DELETE", "/v1/principals/cus_nope")
        .raw("{")
        .send()
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthenticated");
    // 403 before 404 and 400.
    api.call("DELETE", "/v1/principals/cus_nope")
        .token(&auditor)
        .send()
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    api.call("POST", "/v1/orgs")
        .token(&auditor)
        .raw("{not json")
        .send()
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    api.call("PUT", "/v1/calendar/not-a-year")
        .token(&auditor)
        .raw("[]")
        .send()
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    // 404 before 400.
    api.call("DELETE", "/v1/principals/cus_nope")
        .token(ADMIN)
        .raw("{not json")
        .send()
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    // 400 (shape) before 422 (field rules): an empty name next to an unknown field.
    let d = api
        .call("POST", "/v1/orgs")
        .token(ADMIN)
        .json(&json!({"name": "", "zzz": 1}))
        .send()
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(d["field"], "zzz");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_check_precedes_header_validation() {
    let api = Api::new().await;
    let (_, auditor) = api.create_principal("auditor", None).await;
    api.call("POST", "/v1/orgs")
        .token(&auditor)
        .header("if-match", "\"not-a-version\"")
        .json(&json!({"name": "X"}))
        .send()
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    api.call("POST", "/v1/orgs")
        .token(&auditor)
        .header("idempotency-key", &"k".repeat(129))
        .json(&json!({"name": "X"}))
        .send()
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_rules_answer_before_version_conflicts() {
    let api = Api::new().await;
    let d = api
        .call("PUT", "/v1/calendar/2026")
        .token(ADMIN)
        .header("if-match", "\"7\"")
        .json(&json!({"holidays": ["2025-10-01"], "workdays": []}))
        .send()
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(d["field"], "holidays");
    let d = api
        .call("POST", "/v1/orgs")
        .token(ADMIN)
        .header("if-match", "\"3\"")
        .json(&json!({"name": " "}))
        .send()
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(d["field"], "name");
}

// ---------------------------------------------------------------------------------------
// 404

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_principals_streams_and_projections_answer_404() {
    let api = Api::new().await;
    for (method, uri) in [
        ("GET", "/v1/nope"),
        ("GET", "/"),
        ("POST", "/v1/orgs/extra/segments"),
        ("GET", "/v2/me"),
        ("DELETE", "/v1/principals/cus_doesnotexist"),
        ("DELETE", "/v1/principals/org_notaprincipal"),
        ("GET", "/v1/streams/org-org_doesnotexist"),
        ("GET", "/v1/streams/no-such-stream"),
        ("POST", "/v1/projections/no_such_projection/rebuild"),
    ] {
        let r = api.call(method, uri).token(ADMIN).send().await;
        r.error(StatusCode::NOT_FOUND, "not_found");
    }
    // A known stream answers, so the 404 above was about the id.
    let (org, _) = api.create_org("Acme").await;
    let page = api
        .get(&format!("/v1/streams/org-{org}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(page["items"][0]["type"], "OrgCreated");
    // An org id is not a principal id.
    api.call("DELETE", &format!("/v1/principals/{org}"))
        .token(ADMIN)
        .send()
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    // A wrong method on a known route is an error JSON too (405, not 5xx).
    let r = api.call("GET", "/v1/orgs").token(ADMIN).send().await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    common::assert_error_shape(&r.body);
}

// ---------------------------------------------------------------------------------------
// 400

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unparsable_mistyped_unknown_and_missing_fields_answer_400() {
    let api = Api::new().await;
    let head = api.head().await;
    // Unparsable.
    for raw in [
        &b"{"[..],
        b"{\"name\": \"a\",}",
        b"name=a",
        b"\xff\xfe\x00",
        b"{\"name\": \"a\"} trailing",
        b"[]",
        b"null",
        b"\"Acme\"",
    ] {
        api.call("POST", "/v1/orgs")
            .token(ADMIN)
            .header("content-type", "application/json")
            .raw(raw.to_vec())
            .send()
            .await
            .error(StatusCode::BAD_REQUEST, "bad_request");
    }
    // Wrong types name the field.
    for (uri, body, field) in [
        ("/v1/orgs", json!({"name": 5}), "name"),
        ("/v1/orgs", json!({"name": ["a"]}), "name"),
        (
            "/v1/principals",
            json!({"role": "customer", "name": "A", "real_name_verified": "yes"}),
            "real_name_verified",
        ),
        (
            "/v1/admin/clock/advance",
            json!({"seconds": "60"}),
            "seconds",
        ),
        ("/v1/admin/clock/advance", json!({"seconds": -1}), "seconds"),
        (
            "/v1/admin/clock/advance",
            json!({"seconds": 1.5}),
            "seconds",
        ),
    ] {
        let d = api
            .post(uri, body.clone())
            .await
            .error(StatusCode::BAD_REQUEST, "bad_request");
        assert_eq!(d["field"], field, "{uri} {body}");
    }
    let d = api
        .call("PUT", "/v1/calendar/2026")
        .token(ADMIN)
        .json(&json!({"holidays": ["2026-13-01"], "workdays": []}))
        .send()
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(d["field"].as_str().unwrap().starts_with("holidays"), "{d}");
    // Unknown fields are named in details.field.
    for (uri, body, field) in [
        ("/v1/orgs", json!({"name": "A", "x": 1}), "x"),
        (
            "/v1/principals",
            json!({"role": "customer", "name": "A", "token": "mine"}),
            "token",
        ),
        (
            "/v1/admin/clock/advance",
            json!({"seconds": 1, "minutes": 1}),
            "minutes",
        ),
    ] {
        let r = api.post(uri, body.clone()).await;
        let d = r.error(StatusCode::BAD_REQUEST, "bad_request");
        assert_eq!(d["field"], field, "{uri} {body}: {}", r.json());
        assert!(
            r.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains(field),
            "the message names the field"
        );
    }
    // Missing fields are named in the message.
    let r = api.post("/v1/principals", json!({"name": "A"})).await;
    r.error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("role"),
        "{}",
        r.json()
    );
    api.post("/v1/orgs", json!({}))
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(api.head().await, head, "a bad request appended something");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_headers_and_query_parameters_answer_400() {
    let api = Api::new().await;
    let head = api.head().await;
    // If-Match must be a version.
    for bad in [
        "\"abc\"",
        "\"-1\"",
        "\"\"",
        "\"1.5\"",
        "\"99999999999999999999\"",
    ] {
        let d = api
            .call("PUT", "/v1/calendar/2026")
            .token(ADMIN)
            .header("if-match", bad)
            .json(&json!({"holidays": [], "workdays": []}))
            .send()
            .await
            .error(StatusCode::BAD_REQUEST, "bad_request");
        assert_eq!(d["field"], "If-Match", "{bad}");
    }
    // Idempotency-Key: 1..=128 characters.
    for bad in [String::new(), "k".repeat(129), "é".repeat(129)] {
        let d = api
            .call("POST", "/v1/orgs")
            .token(ADMIN)
            .header_bytes("idempotency-key", bad.as_bytes())
            .json(&json!({"name": "A"}))
            .send()
            .await
            .error(StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            d["field"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case("idempotency-key"),
            "{d}"
        );
    }
    assert_eq!(api.head().await, head);
    // 128 characters is fine.
    api.call("POST", "/v1/orgs")
        .token(ADMIN)
        .header("idempotency-key", &"k".repeat(128))
        .json(&json!({"name": "A"}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    // limit: 1..=500, on the log and on a stream that exists.
    api.call("PUT", "/v1/calendar/2026")
        .token(ADMIN)
        .json(&json!({"holidays": [], "workdays": []}))
        .send()
        .await
        .expect(StatusCode::OK);
    for bad in ["0", "501", "-1", "abc", "1e2", "18446744073709551616"] {
        for uri in ["/v1/events", "/v1/streams/calendar-2026"] {
            let r = api.get(&format!("{uri}?limit={bad}")).await;
            r.error(StatusCode::BAD_REQUEST, "bad_request");
        }
    }
    for good in ["1", "500"] {
        for uri in ["/v1/events", "/v1/streams/calendar-2026"] {
            api.get(&format!("{uri}?limit={good}"))
                .await
                .expect(StatusCode::OK);
        }
    }
    // Other query parameters.
    for bad in [
        "/v1/events?include=everything",
        "/v1/events?cursor=not-a-cursor",
        "/v1/events?from_position=-1",
        "/v1/events?from_position=x",
        "/v1/events?unknown_parameter=1",
    ] {
        api.get(bad)
            .await
            .error(StatusCode::BAD_REQUEST, "bad_request");
    }
    // Years: 2000..=2100, digits only.
    for bad in ["1999", "2101", "abc", "-2026", "20261", "2026.0"] {
        let d = api
            .get(&format!("/v1/calendar/{bad}"))
            .await
            .error(StatusCode::BAD_REQUEST, "bad_request");
        assert_eq!(d["field"], "year");
        let d = api
            .call("PUT", &format!("/v1/calendar/{bad}"))
            .token(ADMIN)
            .json(&json!({"holidays": [], "workdays": []}))
            .send()
            .await
            .error(StatusCode::BAD_REQUEST, "bad_request");
        assert_eq!(d["field"], "year");
    }
    // X-Min-Position must be a position.
    for bad in ["abc", "-1", "1.0"] {
        let d = api
            .call("GET", "/v1/calendar/2026")
            .token(ADMIN)
            .header("x-min-position", bad)
            .send()
            .await
            .error(StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            d["field"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case("x-min-position"),
            "{d}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 413

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_one_mib_answer_413() {
    const MIB: usize = 1024 * 1024;
    let api = Api::new().await;
    let head = api.head().await;
    // Valid JSON padded with whitespace: exactly 1 MiB is accepted, one byte more is not.
    let padded = |len: usize| {
        let mut b = b"{\"name\": \"Big\"".to_vec();
        b.resize(len - 1, b' ');
        b.push(b'}');
        b
    };
    for len in [MIB + 1, MIB + 4096, 3 * MIB] {
        let d = api
            .call("POST", "/v1/orgs")
            .token(ADMIN)
            .header("content-type", "application/json")
            .raw(padded(len))
            .send()
            .await
            .error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
        assert_eq!(d["limit_bytes"], MIB);
    }
    assert_eq!(api.head().await, head);
    let v = api
        .call("POST", "/v1/orgs")
        .token(ADMIN)
        .header("content-type", "application/json")
        .raw(padded(MIB))
        .send()
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(v["name"], "Big");
    // Also for a garbage body and on another route.
    api.call("PUT", "/v1/calendar/2026")
        .token(ADMIN)
        .raw(vec![b'x'; 2 * MIB])
        .send()
        .await
        .error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
}

// ---------------------------------------------------------------------------------------
// 422

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_rules_answer_422_with_field_and_rule() {
    let api = Api::new().await;
    let (org, _) = api.create_org("Acme").await;
    let head = api.head().await;
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        ("/v1/orgs", json!({"name": ""}), "name", "required"),
        ("/v1/orgs", json!({"name": "   "}), "name", "required"),
        (
            "/v1/orgs",
            json!({"name": "n".repeat(101)}),
            "name",
            "max_length",
        ),
        (
            "/v1/principals",
            json!({"role": "superuser", "name": "A"}),
            "role",
            "one_of",
        ),
        (
            "/v1/principals",
            json!({"role": "isv_staff", "name": "A"}),
            "role",
            "staff_via_org",
        ),
        (
            "/v1/principals",
            json!({"role": "isv_admin", "name": "A"}),
            "org_id",
            "required",
        ),
        (
            "/v1/principals",
            json!({"role": "isv_admin", "name": "A", "org_id": "org_nope"}),
            "org_id",
            "unknown_org",
        ),
        (
            "/v1/principals",
            json!({"role": "customer", "name": "A", "org_id": org}),
            "org_id",
            "not_allowed",
        ),
        (
            "/v1/principals",
            json!({"role": "auditor", "name": "A", "real_name_verified": true}),
            "real_name_verified",
            "not_allowed",
        ),
        (
            "/v1/principals",
            json!({"role": "customer", "name": ""}),
            "name",
            "required",
        ),
        (
            "/v1/admin/clock/advance",
            json!({"seconds": 0}),
            "seconds",
            "range",
        ),
        (
            "/v1/admin/clock/advance",
            json!({"seconds": 400_000_000u64}),
            "seconds",
            "range",
        ),
    ];
    for (uri, body, field, rule) in cases {
        let r = api.post(uri, body.clone()).await;
        let d = r.error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(d["field"], field, "{uri} {body}");
        assert_eq!(d["rule"], rule, "{uri} {body}");
    }
    for (body, field) in [
        (
            json!({"holidays": ["2025-12-31"], "workdays": []}),
            "holidays",
        ),
        (
            json!({"holidays": ["2027-01-01"], "workdays": []}),
            "holidays",
        ),
        (
            json!({"holidays": [], "workdays": ["2027-01-03"]}),
            "workdays",
        ),
    ] {
        let d = api
            .call("PUT", "/v1/calendar/2026")
            .token(ADMIN)
            .json(&body)
            .send()
            .await
            .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(d["field"], field, "{body}");
        assert!(d["rule"].is_string(), "{d}");
    }
    assert_eq!(
        api.head().await,
        head,
        "a refused command appended something"
    );
}

// ---------------------------------------------------------------------------------------
// 409 and ETag

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_match_mismatch_answers_409_with_current_version_and_etag() {
    let api = Api::new().await;
    let put = |if_match: &'static str, holidays: Value| {
        api.call("PUT", "/v1/calendar/2026")
            .token(ADMIN)
            .header("if-match", if_match)
            .json(&json!({"holidays": holidays, "workdays": []}))
            .send()
    };
    let r = put("\"0\"", json!(["2026-10-01"])).await;
    let v = r.expect(StatusCode::OK);
    assert_eq!(v["version"], 1);
    assert_eq!(v["holidays"], json!(["2026-10-01"]));
    assert_eq!(r.header("etag").as_deref(), Some("\"1\""));
    let head = api.head().await;

    let d = put("\"5\"", json!(["2026-10-02"]))
        .await
        .error(StatusCode::CONFLICT, "version_conflict");
    assert_eq!(d["current_version"], 1);
    let d = put("\"0\"", json!(["2026-10-02"]))
        .await
        .error(StatusCode::CONFLICT, "version_conflict");
    assert_eq!(d["current_version"], 1);
    assert_eq!(api.head().await, head, "a conflict appended something");

    // The current version in any of its usual spellings is accepted.
    let r = put("W/\"1\"", json!(["2026-10-02"])).await;
    r.expect(StatusCode::OK);
    assert_eq!(r.header("etag").as_deref(), Some("\"2\""));
    let r = put("\"2\"", json!(["2026-10-03"])).await;
    let v = r.expect(StatusCode::OK);
    assert_eq!(v["version"], 3);

    // The read shows the last write.
    let cal = api
        .get_at("/v1/calendar/2026", position_of(&v))
        .await
        .expect(StatusCode::OK);
    assert_eq!(cal["holidays"], json!(["2026-10-03"]));
    assert_eq!(cal["year"], 2026);

    // Creations answer with ETag "1" and If-Match "0" applies to a new stream.
    let r = api
        .call("POST", "/v1/orgs")
        .token(ADMIN)
        .header("if-match", "\"3\"")
        .json(&json!({"name": "Acme"}))
        .send()
        .await;
    assert_eq!(
        r.error(StatusCode::CONFLICT, "version_conflict")["current_version"],
        0
    );
    let r = api
        .call("POST", "/v1/orgs")
        .token(ADMIN)
        .header("if-match", "\"0\"")
        .json(&json!({"name": "Acme"}))
        .send()
        .await;
    assert_eq!(r.expect(StatusCode::CREATED)["version"], 1);
    assert_eq!(r.header("etag").as_deref(), Some("\"1\""));
}

// ---------------------------------------------------------------------------------------
// Idempotency

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_repeat_returns_the_original_answer_without_appending() {
    let api = Api::new().await;
    let send = |key: &'static str, uri: &'static str, body: Value| {
        api.call("POST", uri)
            .token(ADMIN)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let first = send("org-key-1", "/v1/orgs", json!({"name": "Beta"})).await;
    let v1 = first.expect(StatusCode::CREATED);
    let head = api.head().await;
    assert_eq!(position_of(&v1), head);
    for _ in 0..3 {
        let again = send("org-key-1", "/v1/orgs", json!({"name": "Beta"})).await;
        let v2 = again.expect(StatusCode::CREATED);
        assert_eq!(v2, v1, "a repeat answers exactly as the original");
        assert_eq!(again.header("etag"), first.header("etag"));
    }
    assert_eq!(api.head().await, head, "a repeat appended");
    let orgs = api.all_events("type=OrgCreated", 50).await;
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0]["data"]["org_id"], v1["id"]);

    // Principals: same id, and the token is not shown again (only its hash is stored).
    let body = json!({"role": "customer", "name": "Bo"});
    let p1 = send("principal-key", "/v1/principals", body.clone())
        .await
        .expect(StatusCode::CREATED);
    assert!(p1["token"].as_str().is_some_and(|t| !t.is_empty()));
    let head = api.head().await;
    let p2 = send("principal-key", "/v1/principals", body)
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(p2["id"], p1["id"]);
    assert_eq!(p2["position"], p1["position"]);
    assert!(p2["token"].is_null(), "{p2}");
    assert_eq!(api.head().await, head);
    // The original token still works.
    let me = api
        .call("GET", "/v1/me")
        .token(p1["token"].as_str().unwrap())
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(me["id"], p1["id"]);

    // A conditional write retried after it succeeded answers as before, not 409.
    let put = || {
        api.call("PUT", "/v1/calendar/2026")
            .token(ADMIN)
            .header("idempotency-key", "cal-1")
            .header("if-match", "\"0\"")
            .json(&json!({"holidays": ["2026-10-01"], "workdays": []}))
            .send()
    };
    let c1 = put().await.expect(StatusCode::OK);
    let head = api.head().await;
    let c2 = put().await.expect(StatusCode::OK);
    assert_eq!(c1, c2);
    assert_eq!(api.head().await, head);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_idempotency_key_with_another_body_or_route_answers_422() {
    let api = Api::new().await;
    let v1 = api
        .call("POST", "/v1/orgs")
        .token(ADMIN)
        .header("idempotency-key", "k1")
        .json(&json!({"name": "Beta"}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    let head = api.head().await;
    api.call("POST", "/v1/orgs")
        .token(ADMIN)
        .header("idempotency-key", "k1")
        .json(&json!({"name": "Gamma"}))
        .send()
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused");
    api.call("POST", "/v1/principals")
        .token(ADMIN)
        .header("idempotency-key", "k1")
        .json(&json!({"role": "auditor", "name": "Beta"}))
        .send()
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused");
    assert_eq!(api.head().await, head);
    // The original still answers.
    let v2 = api
        .call("POST", "/v1/orgs")
        .token(ADMIN)
        .header("idempotency-key", "k1")
        .json(&json!({"name": "Beta"}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(v1, v2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_are_scoped_to_the_principal() {
    let api = Api::new().await;
    let (_, other_admin) = api.create_principal("platform", None).await;
    let a = create_with_shared_key(&api, ADMIN).await;
    let b = create_with_shared_key(&api, &other_admin).await;
    assert_ne!(a["id"], b["id"], "another principal's key is another key");
    assert_eq!(api.all_events("type=OrgCreated", 50).await.len(), 2);
    assert_eq!(create_with_shared_key(&api, &other_admin).await, b);
    assert_eq!(create_with_shared_key(&api, ADMIN).await, a);
}

async fn create_with_shared_key(api: &Api, token: &str) -> Value {
    api.call("POST", "/v1/orgs")
        .token(token)
        .header("idempotency-key", "shared-key")
        .json(&json!({"name": "Same"}))
        .send()
        .await
        .expect(StatusCode::CREATED)
}

// ---------------------------------------------------------------------------------------
// Read-your-writes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_your_writes_sees_the_write_it_names() {
    let api = Api::new().await;
    for (i, day) in ["2026-05-01", "2026-05-04", "2026-05-05"]
        .iter()
        .enumerate()
    {
        let put = api
            .call("PUT", "/v1/calendar/2026")
            .token(ADMIN)
            .json(&json!({"holidays": [day], "workdays": []}))
            .send()
            .await
            .expect(StatusCode::OK);
        let position = position_of(&put);
        let r = api
            .call("GET", "/v1/calendar/2026")
            .token(ADMIN)
            .header("x-min-position", &position.to_string())
            .send()
            .await;
        let cal = r.expect(StatusCode::OK);
        assert_eq!(cal["holidays"], json!([day]), "write {i}");
        let served: u64 = r.header("x-projection-position").unwrap().parse().unwrap();
        assert!(served >= position, "served at {served} < {position}");
    }
    // Reads without the header also say where they stand.
    let r = api.call("GET", "/v1/me").token(ADMIN).send().await;
    r.expect(StatusCode::OK);
    let served: u64 = r.header("x-projection-position").unwrap().parse().unwrap();
    assert!(served >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_projection_read_honours_x_min_position() {
    let api = Api::new().await;
    api.call("GET", "/v1/me")
        .token(ADMIN)
        .header("x-min-position", "not-a-position")
        .send()
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_min_position_answers_503_within_five_seconds() {
    let api = Api::new().await;
    let head = api.head().await;
    let started = domain::clock::monotonic_now();
    let r = api
        .call("GET", "/v1/calendar/2026")
        .token(ADMIN)
        .header("x-min-position", &(head + 1_000).to_string())
        .send()
        .await;
    let waited = started.elapsed();
    let d = r.error(StatusCode::SERVICE_UNAVAILABLE, "projection_lagging");
    assert_eq!(d["position"], head + 1_000);
    assert!(
        waited.as_millis() >= 4_500 && waited.as_millis() <= 7_000,
        "waited {waited:?}, expected about 5 s"
    );
}

// ---------------------------------------------------------------------------------------
// Lists

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_pages_follow_each_other_without_gap_or_repeat() {
    let api = Api::new().await;
    for i in 0..8 {
        api.create_org(&format!("Org {i}")).await;
    }
    let head = api.head().await;
    assert_eq!(head, 9);
    for limit in [1, 2, 3, 9, 10, 500] {
        let events = api.all_events("", limit).await;
        let positions: Vec<u64> = events
            .iter()
            .map(|e| e["position"].as_u64().unwrap())
            .collect();
        assert_eq!(positions, (1..=head).collect::<Vec<_>>(), "limit {limit}");
    }
    // A page that ends exactly at the head has no next cursor.
    let page = api.get("/v1/events?limit=9").await.expect(StatusCode::OK);
    assert_eq!(page["items"].as_array().unwrap().len(), 9);
    assert!(page["next_cursor"].is_null());
    // from_position starts there; the default limit is 50.
    let page = api
        .get("/v1/events?from_position=4&limit=2")
        .await
        .expect(StatusCode::OK);
    assert_eq!(page["items"][0]["position"], 4);
    assert_eq!(page["items"][1]["position"], 5);
    assert!(page["next_cursor"].is_string());
    let page = api
        .get("/v1/events?from_position=100")
        .await
        .expect(StatusCode::OK);
    assert_eq!(page["items"], json!([]));
    assert!(page["next_cursor"].is_null());
    // Each event shows the documented fields.
    let e = &api.all_events("", 50).await[1];
    for field in [
        "position",
        "stream_id",
        "version",
        "type",
        "schema",
        "at",
        "actor",
        "correlation_id",
        "causation_id",
        "data",
    ] {
        assert!(e.get(field).is_some(), "event lacks {field}: {e}");
    }
    assert_eq!(
        e["at"], "2026-11-22T09:00:00+08:00",
        "simulated time in +08:00"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_the_default_page_of_events_is_paged() {
    let api = Api::new().await;
    for i in 0..55 {
        api.create_org(&format!("Org {i}")).await;
    }
    let page = api.get("/v1/events").await.expect(StatusCode::OK);
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        50,
        "default limit 50"
    );
    let c = page["next_cursor"].as_str().unwrap();
    let rest = api
        .get(&format!("/v1/events?cursor={c}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(rest["items"].as_array().unwrap().len(), 6);
    assert_eq!(rest["items"][0]["position"], 51);
    assert!(rest["next_cursor"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_pages_follow_each_other_without_gap_or_repeat() {
    let api = Api::new().await;
    for day in 1..=7 {
        api.call("PUT", "/v1/calendar/2026")
            .token(ADMIN)
            .json(&json!({"holidays": [format!("2026-10-0{day}")], "workdays": []}))
            .send()
            .await
            .expect(StatusCode::OK);
        api.create_org(&format!("Between {day}")).await; // interleave other streams
    }
    for limit in [1, 2, 3, 7, 8] {
        let mut versions = Vec::new();
        let mut uri = format!("/v1/streams/calendar-2026?limit={limit}");
        loop {
            let page = api.get(&uri).await.expect(StatusCode::OK);
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= limit);
            for e in items {
                assert_eq!(e["stream_id"], "calendar-2026");
                assert_eq!(e["type"], "CalendarSet");
                versions.push(e["version"].as_u64().unwrap());
            }
            match page["next_cursor"].as_str() {
                Some(c) => uri = format!("/v1/streams/calendar-2026?limit={limit}&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(versions, (1..=7).collect::<Vec<_>>(), "limit {limit}");
    }
    let page = api
        .get("/v1/streams/calendar-2026?from_version=6")
        .await
        .expect(StatusCode::OK);
    let versions: Vec<u64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, vec![6, 7]);
    assert_eq!(page["items"][1]["data"]["holidays"], json!(["2026-10-07"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_filter_keeps_only_that_type_across_pages() {
    let api = Api::new().await;
    let mut orgs = Vec::new();
    for i in 0..5 {
        orgs.push(api.create_org(&format!("Org {i}")).await.0);
        api.create_principal("auditor", None).await;
    }
    let filtered = api.all_events("type=OrgCreated", 2).await;
    let ids: Vec<&str> = filtered
        .iter()
        .map(|e| {
            assert_eq!(e["type"], "OrgCreated");
            e["data"]["org_id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(ids, orgs.iter().map(String::as_str).collect::<Vec<_>>());
    let principals = api.all_events("type=PrincipalCreated", 3).await;
    assert_eq!(principals.len(), 6, "admin + 5 auditors");
    assert!(api.all_events("type=NoSuchType", 5).await.is_empty());
    // Increasing positions, no repeats.
    let positions: Vec<u64> = principals
        .iter()
        .map(|e| e["position"].as_u64().unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_events_verify_with_the_chain_verifier() {
    use base64::Engine;
    let api = Api::new().await;
    for i in 0..4 {
        api.create_org(&format!("Org {i}")).await;
    }
    api.create_principal("customer", None).await;
    let events = api.all_events("include=raw", 2).await;
    assert_eq!(events.len() as u64, api.head().await);
    let mut verifier = eventlog::verify::Verifier::new();
    let mut raws = Vec::new();
    for e in &events {
        let position = e["position"].as_u64().unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(e["raw_base64"].as_str().expect("raw_base64"))
            .unwrap();
        let crc = e["crc32c"].as_str().expect("crc32c");
        let chain = e["chain"].as_str().expect("chain");
        assert_eq!(crc.len(), 8);
        assert_eq!(chain.len(), 64);
        let (_, stored_crc, stored_chain) = eventlog::split_value(&raw).unwrap();
        assert_eq!(crc, format!("{stored_crc:08x}"));
        assert_eq!(chain, hex_of(&stored_chain));
        verifier
            .check(position, &raw)
            .unwrap_or_else(|p| panic!("verifier refused position {position}: {p:?}"));
        assert_eq!(hex_of(&verifier.chain()), chain);
        raws.push((position, raw));
    }
    verifier.finish(None).unwrap();
    assert_eq!(verifier.checked(), events.len() as u64);

    // The check is real: one flipped byte, or a record out of order, is refused.
    let mut tampered = raws[2].1.clone();
    tampered[10] ^= 0x01;
    let mut v = eventlog::verify::Verifier::new();
    v.check(1, &raws[0].1).unwrap();
    v.check(2, &raws[1].1).unwrap();
    assert!(v.check(3, &tampered).is_err());
    let mut v = eventlog::verify::Verifier::new();
    v.check(1, &raws[0].1).unwrap();
    assert!(v.check(2, &raws[2].1).is_err());

    // Without include=raw there are no raw fields.
    let plain = api.get("/v1/events?limit=1").await.expect(StatusCode::OK);
    assert!(plain["items"][0]
        .get("raw_base64")
        .is_none_or(Value::is_null));
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------
// Operations

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projections_list_directory_and_a_rebuild_keeps_the_model() {
    let api = Api::new().await;
    let (org, _) = api.create_org("Acme").await;
    let (_, isv) = api.create_principal("isv_admin", Some(&org)).await;
    let put = api
        .call("PUT", "/v1/calendar/2026")
        .token(ADMIN)
        .json(&json!({"holidays": ["2026-10-01"], "workdays": ["2026-10-10"]}))
        .send()
        .await
        .expect(StatusCode::OK);
    let head = position_of(&put);
    let before = api
        .call("GET", "/v1/calendar/2026")
        .token(ADMIN)
        .header("x-min-position", &head.to_string())
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(before["holidays"], json!(["2026-10-01"]));
    let list = api.get("/v1/projections").await.expect(StatusCode::OK);
    assert_eq!(list["log_position"], head);
    let directory = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "directory")
        .unwrap_or_else(|| panic!("no directory projection: {list}"))
        .clone();
    for field in ["name", "position", "lag", "status"] {
        assert!(directory.get(field).is_some(), "{directory}");
    }
    assert_eq!(directory["status"], "running");
    assert_eq!(directory["position"], head, "the read above waited for it");
    assert_eq!(directory["lag"], 0);

    let r = api
        .call("POST", "/v1/projections/directory/rebuild")
        .token(ADMIN)
        .send()
        .await;
    let started = r.expect(StatusCode::ACCEPTED);
    assert_eq!(started["name"], "directory");
    assert!(
        started["status"] == "rebuilding" || started["status"] == "running",
        "{started}"
    );
    // Wait (bounded, real time) until the swap is done.
    let t0 = domain::clock::monotonic_now();
    loop {
        let list = api.get("/v1/projections").await.expect(StatusCode::OK);
        let d = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "directory")
            .unwrap()
            .clone();
        assert_ne!(d["status"], "failed", "{d}");
        if d["status"] == "running" {
            assert_eq!(d["position"], head);
            break;
        }
        assert!(t0.elapsed().as_secs() < 10, "rebuild did not finish: {d}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // The model answers as before: tokens, roles, the calendar.
    let me = api
        .call("GET", "/v1/me")
        .token(&isv)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(me["role"], "isv_admin");
    assert_eq!(me["org_id"], org);
    assert_eq!(
        api.get("/v1/calendar/2026").await.expect(StatusCode::OK),
        before
    );
    // And keeps following the log.
    let (_, token) = api.create_principal("customer", None).await;
    api.call("GET", "/v1/me")
        .token(&token)
        .send()
        .await
        .expect(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_log_and_projection_positions_without_auth() {
    let api = Api::new().await;
    let (_, position) = api.create_org("Acme").await;
    api.create_principal("customer", None).await;
    let v = api
        .call("GET", "/v1/health")
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["status"], "ok");
    assert_eq!(v["log_position"], position + 1);
    let dir = v["projections"]["directory"].as_u64().unwrap();
    assert_eq!(dir, position + 1, "the directory applied the principal");
    assert!(v["projections"]["timers"].is_u64(), "{v}");
    // Health answers with a bad token too: it needs none.
    api.call("GET", "/v1/health")
        .token("nonsense")
        .send()
        .await
        .expect(StatusCode::OK);
}

/// The routes of API.md §2 and §9 that exist today.
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/orgs"),
    ("POST", "/v1/principals"),
    ("DELETE", "/v1/principals/{id}"),
    ("GET", "/v1/me"),
    ("PUT", "/v1/calendar/{year}"),
    ("GET", "/v1/calendar/{year}"),
    ("GET", "/v1/streams/{stream_id}"),
    ("GET", "/v1/events"),
    ("GET", "/v1/events/live"),
    ("GET", "/v1/projections"),
    ("POST", "/v1/projections/{name}/rebuild"),
    ("POST", "/v1/admin/clock/advance"),
    ("GET", "/v1/health"),
    ("GET", "/metrics"),
];

fn concrete(path: &str) -> String {
    path.replace("{id}", "cus_x")
        .replace("{year}", "2026")
        .replace("{stream_id}", "calendar-2026")
        .replace("{name}", "timers")
        .replace(['{', '}'], "")
}

/// True when the router has no route for (method, path): the fallback's 404 or a 405.
async fn unrouted(api: &Api, method: &str, path: &str) -> bool {
    let r = if path.ends_with("/live") {
        let r = api.call(method, path).token(ADMIN).send_streaming().await;
        if r.status().is_success() {
            return false;
        }
        use http_body_util::BodyExt;
        let status = r.status();
        let body = r.into_body().collect().await.unwrap().to_bytes();
        common::Resp {
            status,
            headers: Default::default(),
            body,
        }
    } else {
        api.call(method, path)
            .token(ADMIN)
            .json(&json!({}))
            .send()
            .await
    };
    r.status == StatusCode::METHOD_NOT_ALLOWED
        || (r.status == StatusCode::NOT_FOUND
            && r.json()["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("route")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_every_served_route_with_responses() {
    let api = Api::new().await;
    let doc = api.openapi().await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in ROUTES {
        let op = &paths
            .get(*path)
            .unwrap_or_else(|| panic!("{method} {path} is not documented"))[method.to_lowercase()];
        assert!(op.is_object(), "{method} {path} is not documented");
        // ... and really served.
        assert!(
            !unrouted(&api, method, &concrete(path)).await,
            "{method} {path} is documented but not served"
        );
    }
    // Every documented operation is served and lists its answers.
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path} has no responses"));
            assert!(!responses.is_empty(), "{method} {path} has no responses");
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{method} {path} documents no success answer"
            );
            assert!(
                !unrouted(&api, &method.to_uppercase(), &concrete(path)).await,
                "{method} {path} is documented but not served"
            );
        }
    }
}

/// The official OpenAPI 3.1 meta-schema (schemas/v3.1/schema.json of the OpenAPI
/// Initiative, Apache-2.0, as shipped by the openapi-spec-validator package): it checks the
/// document's structure; each schema in it is then checked against JSON Schema 2020-12.
const OPENAPI_3_1_SCHEMA: &str = include_str!("openapi-3.1-schema.json");

/// The problems of `doc` as an OpenAPI 3.1 document (empty when valid).
fn openapi_problems(doc: &Value) -> Vec<String> {
    let meta: Value = serde_json::from_str(OPENAPI_3_1_SCHEMA).unwrap();
    let validator = jsonschema::draft202012::new(&meta).unwrap();
    let mut problems: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    if let Some(schemas) = doc["components"]["schemas"].as_object() {
        for (name, schema) in schemas {
            if let Err(e) = jsonschema::draft202012::meta::validate(schema) {
                problems.push(format!("components/schemas/{name}: {e}"));
            }
        }
    }
    problems
}

/// The object schemas under `at` that list properties without closing (JSON pointers).
fn open_objects(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if m.contains_key("properties") && m.get("additionalProperties") != Some(&json!(false))
            {
                out.push(at.to_owned());
            }
            for (k, child) in m {
                open_objects(child, &format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                open_objects(child, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_is_valid_openapi_3_1_with_closed_schemas() {
    let api = Api::new().await;
    let doc = api.openapi().await;
    assert_eq!(doc["openapi"], "3.1.0");
    let problems = openapi_problems(&doc);
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    let mut open = Vec::new();
    open_objects(&doc["components"], "#/components", &mut open);
    assert!(open.is_empty(), "object schemas left open: {open:?}");
    // 3.0's `nullable` means nothing in 3.1: nullable fields are type lists or `oneOf` null.
    assert!(!doc.to_string().contains("\"nullable\""));
    // Every operation answers errors with the error JSON of API.md §1.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert_eq!(
                op["responses"]["default"]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{method} {path}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_limits_are_the_domains_limits() {
    use domain::delivery::staff;
    use domain::delivery::{node, template};
    use domain::{calendar, order, platform, product};
    let api = Api::new().await;
    let doc = api.openapi().await;
    let schemas = &doc["components"]["schemas"];
    // utoipa takes the limits as literals; these are the constants the domain checks.
    let cases: &[(&str, &str, &str, f64)] = &[
        (
            "CreateOrder",
            "quantity",
            "maximum",
            f64::from(order::QUANTITY_MAX),
        ),
        (
            "CreateOrder",
            "remark",
            "maxLength",
            order::REMARK_CHARS_MAX as f64,
        ),
        (
            "ChangePrice",
            "new_price_cents",
            "maximum",
            order::PRICE_CENTS_MAX as f64,
        ),
        (
            "ChangePrice",
            "reason",
            "maxLength",
            order::REASON_CHARS_MAX as f64,
        ),
        (
            "RefundRequest",
            "reason",
            "maxLength",
            order::REASON_CHARS_MAX as f64,
        ),
        (
            "ReviewInput",
            "comment",
            "maxLength",
            order::COMMENT_CHARS_MAX as f64,
        ),
        (
            "Reply",
            "text",
            "maxLength",
            order::COMMENT_CHARS_MAX as f64,
        ),
        (
            "SpecInput",
            "price_cents",
            "maximum",
            product::PRICE_CENTS_MAX as f64,
        ),
        (
            "SpecPrice",
            "price_cents",
            "maximum",
            product::PRICE_CENTS_MAX as f64,
        ),
        (
            "CreateProduct",
            "code",
            "maxLength",
            product::CODE_CHARS_MAX as f64,
        ),
        (
            "CreateProduct",
            "name",
            "maxLength",
            product::NAME_CHARS_MAX as f64,
        ),
        (
            "CreateProduct",
            "specs",
            "maxItems",
            product::SPECS_MAX as f64,
        ),
        (
            "CreateProduct",
            "delivery_days",
            "maximum",
            f64::from(product::DAYS_MAX),
        ),
        (
            "Providers",
            "providers",
            "maxItems",
            product::PROVIDERS_MAX as f64,
        ),
        (
            "Distribution",
            "commission_percent",
            "minimum",
            f64::from(product::COMMISSION_PERCENT_MIN),
        ),
        (
            "Distribution",
            "commission_percent",
            "maximum",
            f64::from(product::COMMISSION_PERCENT_MAX),
        ),
        (
            "CreateOrg",
            "name",
            "maxLength",
            platform::NAME_CHARS_MAX as f64,
        ),
        (
            "CreatePrincipal",
            "name",
            "maxLength",
            platform::NAME_CHARS_MAX as f64,
        ),
        (
            "PutCalendar",
            "holidays",
            "maxItems",
            calendar::CALENDAR_DATES_MAX as f64,
        ),
        (
            "AdvanceClock",
            "seconds",
            "maximum",
            api::routes::ops::CLOCK_ADVANCE_SECONDS_MAX as f64,
        ),
        (
            "CreateStaffInput",
            "max_active",
            "maximum",
            f64::from(staff::MAX_ACTIVE_MAX),
        ),
        (
            "CreateStaffInput",
            "tags",
            "maxItems",
            staff::TAGS_MAX as f64,
        ),
        (
            "CreateStaffInput",
            "department",
            "maxLength",
            staff::DEPARTMENT_CHARS_MAX as f64,
        ),
        (
            "CreateStaffInput",
            "name",
            "maxLength",
            platform::NAME_CHARS_MAX as f64,
        ),
        (
            "UpdateStaffInput",
            "max_active",
            "maximum",
            f64::from(staff::MAX_ACTIVE_MAX),
        ),
        (
            "UpdateStaffInput",
            "tags",
            "maxItems",
            staff::TAGS_MAX as f64,
        ),
        (
            "UpdateStaffInput",
            "department",
            "maxLength",
            staff::DEPARTMENT_CHARS_MAX as f64,
        ),
        (
            "TemplateInput",
            "name",
            "maxLength",
            template::TEMPLATE_NAME_CHARS_MAX as f64,
        ),
        ("TemplateInput", "nodes", "maxItems", node::NODES_MAX as f64),
        (
            "NodeInput",
            "id",
            "maxLength",
            template::NODE_ID_CHARS_MAX as f64,
        ),
        (
            "NodeInput",
            "name",
            "maxLength",
            template::NODE_NAME_CHARS_MAX as f64,
        ),
        (
            "NodeInput",
            "labels",
            "maxItems",
            template::LABELS_MAX as f64,
        ),
        (
            "NodeInput",
            "notifications",
            "maxItems",
            node::NOTIFICATIONS_PER_NODE_MAX as f64,
        ),
        (
            "ChildNodeInput",
            "name",
            "maxLength",
            template::NODE_NAME_CHARS_MAX as f64,
        ),
        (
            "NotificationJson",
            "template",
            "maxLength",
            node::NOTIFICATION_TEMPLATE_CHARS_MAX as f64,
        ),
        (
            "TimeoutInput",
            "days",
            "maximum",
            f64::from(node::TIMEOUT_TENTHS_MAX) / 10.0,
        ),
        (
            "PageViewsInput",
            "views",
            "maxItems",
            domain::pageview::PAGE_VIEWS_BATCH_MAX as f64,
        ),
        (
            "PageViewInput",
            "visitor_id",
            "maxLength",
            domain::pageview::VISITOR_ID_CHARS_MAX as f64,
        ),
        (
            "PageViewInput",
            "dwell_ms",
            "maximum",
            f64::from(domain::pageview::DWELL_MS_MAX),
        ),
    ];
    for (schema, field, keyword, limit) in cases {
        let documented = schemas[schema]["properties"][field][keyword].as_f64();
        assert_eq!(documented, Some(*limit), "{schema}.{field} {keyword}");
    }
    let roles: Vec<&str> = domain::Role::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        schemas["MeView"]["properties"]["role"]["enum"],
        json!(roles)
    );
    assert_eq!(
        schemas["CreateStaffInput"]["properties"]["roles"]["items"]["enum"],
        json!(domain::delivery::STAFF_ROLES)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_validator_rejects_a_document_of_the_wrong_version() {
    let api = Api::new().await;
    let mut doc = api.openapi().await;
    doc["openapi"] = json!("3.0.3");
    doc["paths"]["/v1/orgs"]["post"]["responses"] = json!("none");
    let problems = openapi_problems(&doc);
    assert!(problems.len() >= 2, "{problems:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_check_rejects_what_the_document_does_not_say() {
    let api = Api::new().await;
    let (_seller, product) = api.listed_product("Acme", "vm", 1_000).await;
    let (_, customer) = api.create_principal("customer", None).await;
    let order = api.place_order(&customer, &product, 2).await;
    let contract = common::contract(&api.router).await;
    let post = axum::http::Method::POST;
    let mut headers = axum::http::HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    let check = |body: &Value, status: StatusCode| {
        contract.problems(
            &post,
            "/v1/orders",
            status,
            &headers,
            &serde_json::to_vec(body).unwrap(),
        )
    };
    assert_eq!(check(&order, StatusCode::CREATED), None);
    let mut extra = order.clone();
    extra["surprise"] = json!(1);
    assert!(check(&extra, StatusCode::CREATED).is_some());
    let mut missing = order.clone();
    missing.as_object_mut().unwrap().remove("payable_cents");
    assert!(check(&missing, StatusCode::CREATED).is_some());
    let mut outside = order.clone();
    outside["status"] = json!("teleported");
    assert!(check(&outside, StatusCode::CREATED).is_some());
    // An error answer is checked against the error JSON.
    assert!(check(&order, StatusCode::UNPROCESSABLE_ENTITY).is_some());
    let err = json!({"error": {"code": "x", "message": "y", "details": {}}});
    assert_eq!(check(&err, StatusCode::UNPROCESSABLE_ENTITY), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_itself() {
    let api = Api::new().await;
    let doc = api.openapi().await;
    assert!(doc["paths"]["/v1/openapi.json"]["get"]["responses"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_expose_commands_and_projection_lag() {
    let api = Api::new().await;
    api.create_org("Acme").await;
    let r = api.call("GET", "/metrics").send().await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let text = String::from_utf8(r.body.to_vec()).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("marketlog_commands_total{") && l.contains("CreateOrg")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("marketlog_projection_lag{") && l.contains("directory")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_advance_moves_the_simulated_clock_and_commands_use_it() {
    let api = Api::new().await;
    let v = api
        .post("/v1/admin/clock/advance", json!({"seconds": 3600}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["now"], "2026-11-22T10:00:00+08:00");
    assert_eq!(v["position"], api.head().await);
    let v = api
        .post("/v1/admin/clock/advance", json!({"seconds": 86_400 + 61}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["now"], "2026-11-23T10:01:01+08:00");
    // The clock stands still between advances; commands are stamped with it.
    let (org, _) = api.create_org("Later").await;
    let events = api.all_events("type=OrgCreated", 10).await;
    assert_eq!(events[0]["data"]["org_id"], org);
    assert_eq!(events[0]["at"], "2026-11-23T10:01:01+08:00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_advance_without_simulated_clock_is_404() {
    let api = Api::with_real_clock().await;
    api.post("/v1/admin/clock/advance", json!({"seconds": 60}))
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    // Still 401 without a token.
    api.call("POST", "/v1/admin/clock/advance")
        .json(&json!({"seconds": 60}))
        .send()
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_and_calendar_reads_show_the_documented_shape() {
    let api = Api::new().await;
    let (org, _) = api.create_org("Acme").await;
    let (id, token) = api.create_principal("isv_admin", Some(&org)).await;
    let me = api
        .call("GET", "/v1/me")
        .token(&token)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(me["id"], id);
    assert_eq!(me["role"], "isv_admin");
    assert_eq!(me["org_id"], org);
    assert!(me["staff_id"].is_null());
    assert!(id.starts_with("prn_"), "{id}");
    let (cus, _) = api.create_principal("customer", None).await;
    assert!(cus.starts_with("cus_"), "{cus}");
    assert!(org.starts_with("org_"), "{org}");
    // A year never set is empty (Monday–Friday).
    let cal = api.get("/v1/calendar/2030").await.expect(StatusCode::OK);
    assert_eq!(cal, json!({"year": 2030, "holidays": [], "workdays": []}));
    // Unsorted, repeated dates are stored sorted and once.
    let v = api
        .call("PUT", "/v1/calendar/2030")
        .token(ADMIN)
        .json(&json!({"holidays": ["2030-10-02", "2030-10-01", "2030-10-02"], "workdays": ["2030-10-12"]}))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["holidays"], json!(["2030-10-01", "2030-10-02"]));
    let cal = api
        .call("GET", "/v1/calendar/2030")
        .token(&token)
        .header("x-min-position", &position_of(&v).to_string())
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        cal,
        json!({"year": 2030, "holidays": ["2030-10-01", "2030-10-02"], "workdays": ["2030-10-12"]})
    );
}

/// A command that checks another stream's existence must not be fooled by a lagging
/// projection (this once answered 422 unknown_org for 1–12 of 50).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org_can_get_its_admin_right_after_it_was_created() {
    let api = Api::new().await;
    let mut refused = Vec::new();
    for i in 0..50 {
        let org = api
            .post("/v1/orgs", json!({"name": format!("Org {i}")}))
            .await
            .expect(StatusCode::CREATED);
        let r = api
            .post(
                "/v1/principals",
                json!({"role": "isv_admin", "name": "Ann", "org_id": org["id"]}),
            )
            .await;
        if r.status != StatusCode::CREATED {
            refused.push(format!(
                "{i}: {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ));
        }
    }
    assert!(
        refused.is_empty(),
        "{} of 50 refused: {refused:#?}",
        refused.len()
    );
}

/// Keys are kept at least 24 h and then forgotten, so the key store stays bounded.
#[tokio::test(flavor = "multi_thread")]
async fn idempotency_keys_are_kept_a_day_and_pruned_after_the_retention() {
    let api = Api::new().await;
    let send = |body: Value| {
        api.call("POST", "/v1/orgs")
            .token(ADMIN)
            .header("idempotency-key", "prune-key")
            .json(&body)
            .send()
    };
    let first = send(json!({"name": "Kept"}))
        .await
        .expect(StatusCode::CREATED);
    let advance = |seconds: u64| {
        api.call("POST", "/v1/admin/clock/advance")
            .token(ADMIN)
            .json(&json!({"seconds": seconds}))
            .send()
    };
    advance(25 * 3600).await.expect(StatusCode::OK);
    let kept = send(json!({"name": "Kept"}))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(kept["id"], first["id"], "a key is kept for at least 24 h");
    advance(24 * 3600).await.expect(StatusCode::OK);
    let fresh = send(json!({"name": "Kept"}))
        .await
        .expect(StatusCode::CREATED);
    assert_ne!(
        fresh["id"], first["id"],
        "after the 48 h retention the key is forgotten"
    );
}
