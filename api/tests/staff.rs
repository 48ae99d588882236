//! Staff through the in-process API (API.md §3): an org's isv_admin adds staff members whose
//! tokens work at once as `isv_staff` with their `staff_id`; field rules name the field;
//! another org's staff is 404 and a staff member calling the admin routes 403; updates,
//! leave (with `on_leave` computed on the simulated clock), accepting, the preset roles.
//! Every answer is checked against the served schema.

mod common;

use axum::http::StatusCode;
use common::{Api, ADMIN};
use serde_json::{json, Value};

const HOUR: u64 = 3600;

fn member(extra: Value) -> Value {
    let mut body = json!({
        "name": "Li Wei", "roles": ["designer", "tester"], "department": "Delivery",
        "tags": ["k8s"], "max_active": 3
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// A seller org with its isv_admin: (org id, admin token).
async fn org(api: &Api, name: &str) -> (String, String) {
    let (org, _) = api.create_org(name).await;
    let (_, admin) = api.create_principal("isv_admin", Some(&org)).await;
    (org, admin)
}

/// Adds a staff member: the 201 body.
async fn add(api: &Api, admin: &str, org: &str, extra: Value) -> Value {
    api.post_as(admin, &format!("/v1/orgs/{org}/staff"), member(extra))
        .await
        .expect(StatusCode::CREATED)
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn put(api: &Api, token: &str, id: &str, body: Value) -> common::Resp {
    api.call("PUT", &format!("/v1/staff/{id}"))
        .token(token)
        .json(&body)
        .send()
        .await
}

async fn advance(api: &Api, seconds: u64) {
    api.post("/v1/admin/clock/advance", json!({ "seconds": seconds }))
        .await
        .expect(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_staff_members_token_works_at_once_as_isv_staff_with_its_staff_id() {
    let api = Api::new().await;
    let (acme, admin) = org(&api, "Acme").await;
    let created = add(&api, &admin, &acme, json!({})).await;
    let staff = id(&created);
    assert!(staff.starts_with("stf_"), "{created}");
    assert_eq!(created["org_id"], acme.as_str());
    assert_eq!(created["roles"], json!(["designer", "tester"]));
    assert_eq!(created["tags"], json!(["k8s"]));
    assert_eq!(created["max_active"], 3);
    assert_eq!(created["active"], 0);
    assert_eq!(created["accepting"], true);
    assert_eq!(created["on_leave"], false);
    assert_eq!(created["version"], 1);
    let token = created["token"].as_str().unwrap();

    let me = api.read_as(token, "/v1/me").await;
    assert_eq!(me["role"], "isv_staff");
    assert_eq!(me["staff_id"], staff.as_str());
    assert_eq!(me["org_id"], acme.as_str());
    assert_eq!(me["id"], created["principal_id"]);

    let own = api.read_as(token, &format!("/v1/staff/{staff}")).await;
    assert_eq!(own["name"], "Li Wei");
    assert!(own.get("token").is_none(), "the token is shown only once");
    for reader in [ADMIN, admin.as_str()] {
        assert_eq!(
            api.read_as(reader, &format!("/v1/staff/{staff}")).await["id"],
            staff.as_str()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_org_list_shows_its_staff_in_join_order_page_by_page() {
    let api = Api::new().await;
    let (acme, admin) = org(&api, "Acme").await;
    let (bolt, bolt_admin) = org(&api, "Bolt").await;
    let mut ids = Vec::new();
    for name in ["Zed", "Amy", "Kai"] {
        ids.push(id(&add(&api, &admin, &acme, json!({ "name": name })).await));
    }
    add(&api, &bolt_admin, &bolt, json!({})).await;
    let path = format!("/v1/orgs/{acme}/staff");
    let list = api.read_as(&admin, &path).await;
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Zed", "Amy", "Kai"]);
    assert_eq!(api.ids_of_all_pages(&admin, &path, 2).await, ids);
    assert_eq!(api.ids_of_all_pages(ADMIN, &path, 1).await, ids);
    let item = &list["items"][0];
    for field in [
        "id",
        "name",
        "roles",
        "department",
        "tags",
        "max_active",
        "active",
        "accepting",
        "on_leave",
    ] {
        assert!(item.get(field).is_some(), "{field} in {item}");
    }
    let unknown = api
        .call("GET", "/v1/orgs/org_nosuch/staff")
        .token(ADMIN)
        .send()
        .await;
    unknown.error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_rules_answer_422_naming_the_field() {
    let api = Api::new().await;
    let (acme, admin) = org(&api, "Acme").await;
    let path = format!("/v1/orgs/{acme}/staff");
    let cases = [
        (json!({"max_active": 51}), "max_active"),
        (json!({"tags": ["a", "b", "c", "d", "e", "f"]}), "tags"),
        (json!({"tags": ["a", "x".repeat(21)]}), "tags[1]"),
        (json!({"tags": ["a", ""]}), "tags[1]"),
        (json!({"roles": []}), "roles"),
        (json!({"roles": ["designer", "chef"]}), "roles[1]"),
        (json!({"roles": ["tester", "tester"]}), "roles[1]"),
        (json!({"department": ""}), "department"),
        (json!({"department": "d".repeat(61)}), "department"),
        (json!({"name": " "}), "name"),
    ];
    for (extra, field) in &cases {
        let e = api
            .post_as(&admin, &path, member(extra.clone()))
            .await
            .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(e["field"], *field, "{extra}");
    }
    let staff = id(&add(&api, &admin, &acme, json!({})).await);
    for (extra, field) in cases.iter().filter(|(_, f)| *f != "name") {
        let e = put(&api, &admin, &staff, extra.clone())
            .await
            .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(e["field"], *field, "{extra}");
    }
    api.post_as(&admin, &path, json!({"name": "x"}))
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
    put(&api, &admin, &staff, json!({"colour": "red"}))
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_orgs_staff_is_not_found_and_staff_may_not_call_admin_routes() {
    let api = Api::new().await;
    let (acme, admin) = org(&api, "Acme").await;
    let (bolt, bolt_admin) = org(&api, "Bolt").await;
    let li = add(&api, &admin, &acme, json!({})).await;
    let kai = add(&api, &admin, &acme, json!({"name": "Kai"})).await;
    let bo = add(&api, &bolt_admin, &bolt, json!({})).await;
    let (li_id, li_token) = (id(&li), li["token"].as_str().unwrap().to_owned());
    let kai_token = kai["token"].as_str().unwrap();
    let bo_token = bo["token"].as_str().unwrap();
    let staff_path = format!("/v1/staff/{li_id}");
    let head = api.head().await.to_string();
    let get = |token: &str, path: &str| {
        api.call("GET", path)
            .token(token)
            .header("x-min-position", &head)
    };

    // Another org's isv_admin: 404 everywhere.
    for path in [staff_path.clone(), format!("/v1/orgs/{acme}/staff")] {
        get(&bolt_admin, &path)
            .send()
            .await
            .error(StatusCode::NOT_FOUND, "not_found");
    }
    put(&api, &bolt_admin, &li_id, json!({"max_active": 1}))
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    for (method, path, body) in [
        ("POST", format!("/v1/staff/{li_id}/leave"), json!({})),
        ("DELETE", format!("/v1/staff/{li_id}/leave"), json!({})),
        ("POST", format!("/v1/orgs/{acme}/staff"), member(json!({}))),
    ] {
        api.call(method, &path)
            .token(&bolt_admin)
            .json(&body)
            .send()
            .await
            .error(StatusCode::NOT_FOUND, "not_found");
    }
    // Another staff member, of the same org or another: 404 for a member not itself.
    for token in [kai_token, bo_token] {
        get(token, &staff_path)
            .send()
            .await
            .error(StatusCode::NOT_FOUND, "not_found");
    }
    // A staff member calling the admin routes: 403, before anything else.
    put(&api, &li_token, &li_id, json!({"max_active": 50}))
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    for (method, path) in [
        ("POST", format!("/v1/staff/{li_id}/leave")),
        ("DELETE", format!("/v1/staff/{li_id}/leave")),
        ("POST", format!("/v1/orgs/{acme}/staff")),
    ] {
        api.call(method, &path)
            .token(&li_token)
            .json(&member(json!({})))
            .send()
            .await
            .error(StatusCode::FORBIDDEN, "forbidden");
    }
    get(&li_token, &format!("/v1/orgs/{acme}/staff"))
        .send()
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    // Nobody else adds staff: platform neither.
    api.post(&format!("/v1/orgs/{acme}/staff"), member(json!({})))
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_changes_any_subset_and_if_match_names_the_staff_stream() {
    let api = Api::new().await;
    let (acme, admin) = org(&api, "Acme").await;
    let staff = id(&add(&api, &admin, &acme, json!({})).await);
    let r = put(&api, &admin, &staff, json!({"max_active": 5, "tags": []})).await;
    let v = r.expect(StatusCode::OK);
    assert_eq!(r.header("etag").as_deref(), Some("\"2\""));
    assert_eq!(
        (v["max_active"].clone(), v["version"].clone()),
        (json!(5), json!(2))
    );
    assert_eq!(v["tags"], json!([]));
    assert_eq!(v["roles"], json!(["designer", "tester"]), "untouched");
    // Nothing changed: no event.
    let v = put(&api, &admin, &staff, json!({"max_active": 5}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["version"], 2);
    let v = put(
        &api,
        &admin,
        &staff,
        json!({"roles": ["provider_admin"], "department": "Ops", "accepting": false}),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(
        (
            v["roles"].clone(),
            v["department"].clone(),
            v["accepting"].clone()
        ),
        (json!(["provider_admin"]), json!("Ops"), json!(false))
    );
    let e = api
        .call("PUT", &format!("/v1/staff/{staff}"))
        .token(&admin)
        .header("if-match", "\"2\"")
        .json(&json!({"max_active": 7}))
        .send()
        .await
        .error(StatusCode::CONFLICT, "version_conflict");
    assert_eq!(e["current_version"], 3);
    api.call("PUT", &format!("/v1/staff/{staff}"))
        .token(&admin)
        .header("if-match", "\"3\"")
        .json(&json!({"max_active": 7}))
        .send()
        .await
        .expect(StatusCode::OK);
    let read = api.read_as(&admin, &format!("/v1/staff/{staff}")).await;
    assert_eq!(
        (read["max_active"].clone(), read["version"].clone()),
        (json!(7), json!(4))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_leave_is_true_while_the_clock_is_inside_the_leave() {
    let api = Api::new().await;
    let (acme, admin) = org(&api, "Acme").await;
    let staff = id(&add(&api, &admin, &acme, json!({})).await);
    let leave = format!("/v1/staff/{staff}/leave");
    // The simulated clock starts at 2026-11-22T09:00:00+08:00.
    let e = api
        .post_as(
            &admin,
            &leave,
            json!({"from": "2026-11-23T09:00:00+08:00", "to": "2026-11-23T09:00:00+08:00"}),
        )
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(e["field"], "to");
    let v = api
        .post_as(
            &admin,
            &leave,
            json!({"from": "2026-11-22T10:00:00+08:00", "to": "2026-11-22T12:00:00+08:00"}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["on_leave"], false, "not yet");
    assert_eq!(v["leave_from"], "2026-11-22T10:00:00+08:00");
    let path = format!("/v1/staff/{staff}");
    let on_leave = || async { api.read_as(&admin, &path).await["on_leave"].clone() };
    advance(&api, HOUR).await;
    assert_eq!(on_leave().await, true, "at from");
    advance(&api, HOUR).await;
    assert_eq!(on_leave().await, true, "inside");
    advance(&api, HOUR).await;
    assert_eq!(on_leave().await, false, "at to, the leave is over");
    let list = api.read_as(&admin, &format!("/v1/orgs/{acme}/staff")).await;
    assert_eq!(list["items"][0]["on_leave"], false);

    // A leave that covers now, then ended by the admin.
    api.post_as(
        &admin,
        &leave,
        json!({"from": "2026-11-22T00:00:00+08:00", "to": "2026-12-22T00:00:00+08:00"}),
    )
    .await
    .expect(StatusCode::OK);
    let list = api.read_as(&admin, &format!("/v1/orgs/{acme}/staff")).await;
    assert_eq!(list["items"][0]["on_leave"], true);
    let ended = api
        .call("DELETE", &leave)
        .token(&admin)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        (ended["on_leave"].clone(), ended["leave_to"].clone()),
        (json!(false), Value::Null)
    );
    let e = api
        .call("DELETE", &leave)
        .token(&admin)
        .send()
        .await
        .error(StatusCode::CONFLICT, "invalid_state");
    assert!(e["state"].is_string(), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_member_switches_its_own_accepting_status() {
    let api = Api::new().await;
    let (acme, admin) = org(&api, "Acme").await;
    let li = add(&api, &admin, &acme, json!({})).await;
    let token = li["token"].as_str().unwrap();
    let v = api
        .post_as(token, "/v1/staff/me/accepting", json!({"accepting": false}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        (v["id"].clone(), v["accepting"].clone()),
        (li["id"].clone(), json!(false))
    );
    let read = api.read_as(&admin, &format!("/v1/staff/{}", id(&li))).await;
    assert_eq!(read["accepting"], false);
    api.post_as(token, "/v1/staff/me/accepting", json!({}))
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
    api.post_as(&admin, "/v1/staff/me/accepting", json!({"accepting": true}))
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_reads_the_preset_staff_roles() {
    let api = Api::new().await;
    let (_, customer) = api.create_principal("customer", None).await;
    let roles = api.read_as(&customer, "/v1/roles").await;
    assert_eq!(
        roles["items"],
        json!([
            "customer_manager",
            "designer",
            "delivery_specialist",
            "developer",
            "tester",
            "provider_admin"
        ])
    );
}
