//! Flow templates through the in-process API (API.md §7): the public presets, a private
//! template's life (draft → edit → publish → immutable), copies, the node JSON (days with one
//! decimal), field and publish refusals, tenancy, and a manual product naming a template;
//! every answer is checked against the served schema.

mod common;

use axum::http::StatusCode;
use common::{Api, ADMIN};
use serde_json::{json, Value};

/// A publishable template: a container and a rejectable confirm, a 2.5 working-day timeout.
fn template(name: &str) -> Value {
    json!({
        "name": name,
        "nodes": [
            {"id": "start", "type": "assign_provider", "name": "assign provider"},
            {"id": "form", "type": "submit_requirement", "name": "requirement"},
            {"id": "assign", "type": "assign_order", "name": "assign", "role": "developer",
             "assign_rule": "provider_first"},
            {"id": "box", "type": "container", "name": "work", "children": [
                {"id": "build", "type": "generic", "name": "build", "side": "provider",
                 "role": "developer", "upload_required": true, "labels": ["done"],
                 "timeout": {"days": 2.5, "action": "none"},
                 "notifications": [{"recipient": "operator", "trigger": "timed_out",
                                    "template": "{node_name} is late"}]},
                {"id": "check", "type": "confirm", "name": "check", "side": "customer",
                 "rejectable": true}
            ]},
            {"id": "done", "type": "complete_project", "name": "confirm",
             "timeout": {"days": 14, "unit": "calendar_days", "action": "advance"}}
        ]
    })
}

/// A seller org with its isv_admin: (org id, token).
async fn seller(api: &Api, name: &str) -> (String, String) {
    let (org, _) = api.create_org(name).await;
    let (_, token) = api.create_principal("isv_admin", Some(&org)).await;
    (org, token)
}

async fn create(api: &Api, token: &str, body: Value) -> Value {
    api.post_as(token, "/v1/flow-templates", body)
        .await
        .expect(StatusCode::CREATED)
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn put(api: &Api, token: &str, id: &str, body: Value) -> common::Resp {
    api.call("PUT", &format!("/v1/flow-templates/{id}"))
        .token(token)
        .json(&body)
        .send()
        .await
}

async fn publish(api: &Api, token: &str, id: &str) -> common::Resp {
    api.post_as(
        token,
        &format!("/v1/flow-templates/{id}/publish"),
        json!({}),
    )
    .await
}

async fn copy(api: &Api, token: &str, id: &str) -> common::Resp {
    api.post_as(token, &format!("/v1/flow-templates/{id}/copy"), json!({}))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_five_public_templates_are_listed_first_and_read_only() {
    let api = Api::new().await;
    let (_, acme) = seller(&api, "Acme").await;
    let list = api.read_as(&acme, "/v1/flow-templates").await;
    let keys: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "basic",
            "double_check",
            "contract",
            "step_by_step",
            "standard_manual"
        ]
    );
    let std = api
        .read_as(&acme, "/v1/flow-templates/tpl_standard_manual")
        .await;
    assert_eq!(
        (std["public"].clone(), std["status"].clone()),
        (json!(true), json!("published"))
    );
    let nodes = std["nodes"].as_array().unwrap();
    let ids: Vec<&str> = nodes.iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "assign_provider",
            "submit_requirement",
            "assign_order",
            "start_implementation",
            "implementation_complete",
            "confirm_completion"
        ]
    );
    // 150 tenths of a day are written back as the number 15.
    assert_eq!(
        nodes[3]["timeout"],
        json!({"days": 15, "unit": "calendar_days", "action": "cancel_and_refund"})
    );
    assert_eq!(nodes[5]["timeout"]["action"], "advance");
    let e = put(&api, &acme, "tpl_basic", template("mine"))
        .await
        .error(StatusCode::CONFLICT, "invalid_state");
    assert_eq!(e["state"], "published");
    publish(&api, &acme, "tpl_basic")
        .await
        .error(StatusCode::CONFLICT, "invalid_state");
    api.read_as(ADMIN, "/v1/flow-templates/tpl_contract").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_is_edited_published_then_immutable() {
    let api = Api::new().await;
    let (org, acme) = seller(&api, "Acme").await;
    let t = create(&api, &acme, template("Mine")).await;
    let id = id_of(&t);
    assert_eq!(
        (
            t["status"].clone(),
            t["public"].clone(),
            t["org_id"].clone(),
            t["key"].clone()
        ),
        (json!("draft"), json!(false), json!(org), Value::Null)
    );
    assert_eq!(t["version"], 1);
    let build = &t["nodes"][3]["children"][0];
    assert_eq!(
        build["timeout"],
        json!({"days": 2.5, "unit": "working_days", "action": "none"})
    );
    assert_eq!(t["nodes"][4]["timeout"]["days"], json!(14));
    // What was read back is accepted again as it is.
    let mut again = json!({"name": "Renamed", "nodes": t["nodes"].clone()});
    let edited = put(&api, &acme, &id, again.clone())
        .await
        .expect(StatusCode::OK);
    assert_eq!(edited["name"], "Renamed");
    assert_eq!(edited["nodes"], t["nodes"]);
    assert_eq!(edited["version"], 2);
    // If-Match names the template's version.
    let stale = api
        .call("POST", &format!("/v1/flow-templates/{id}/publish"))
        .token(&acme)
        .header("if-match", "\"1\"")
        .json(&json!({}))
        .send()
        .await
        .error(StatusCode::CONFLICT, "version_conflict");
    assert_eq!(stale["current_version"], 2);
    let p = publish(&api, &acme, &id).await.expect(StatusCode::OK);
    assert_eq!(
        (p["status"].clone(), p["version"].clone()),
        (json!("published"), json!(3))
    );
    again["name"] = json!("Too late");
    let e = put(&api, &acme, &id, again)
        .await
        .error(StatusCode::CONFLICT, "invalid_state");
    assert_eq!(e["state"], "published");
    publish(&api, &acme, &id)
        .await
        .error(StatusCode::CONFLICT, "invalid_state");
    let read = api
        .read_as(&acme, &format!("/v1/flow-templates/{id}"))
        .await;
    assert_eq!(
        (read["name"].clone(), read["status"].clone()),
        (json!("Renamed"), json!("published"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_come_from_a_preset_or_an_own_published_template() {
    let api = Api::new().await;
    let (_, acme) = seller(&api, "Acme").await;
    let (_, bolt) = seller(&api, "Bolt").await;
    let c = copy(&api, &acme, "tpl_standard_manual")
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(
        (
            c["status"].clone(),
            c["copied_from"].clone(),
            c["public"].clone()
        ),
        (json!("draft"), json!("tpl_standard_manual"), json!(false))
    );
    let preset = api
        .read_as(&acme, "/v1/flow-templates/tpl_standard_manual")
        .await;
    assert_eq!(c["nodes"], preset["nodes"]);
    // A draft cannot be copied; a published one can, by its own org only.
    let draft = id_of(&create(&api, &acme, template("Mine")).await);
    copy(&api, &acme, &draft)
        .await
        .error(StatusCode::CONFLICT, "invalid_state");
    publish(&api, &acme, &draft).await.expect(StatusCode::OK);
    // If-Match names the source's version (created, published: 2).
    let stale = api
        .call("POST", &format!("/v1/flow-templates/{draft}/copy"))
        .token(&acme)
        .header("if-match", "\"1\"")
        .json(&json!({}))
        .send()
        .await
        .error(StatusCode::CONFLICT, "version_conflict");
    assert_eq!(stale["current_version"], 2);
    let mine = api
        .call("POST", &format!("/v1/flow-templates/{draft}/copy"))
        .token(&acme)
        .header("if-match", "\"2\"")
        .json(&json!({}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(mine["copied_from"], json!(draft));
    assert_ne!(mine["id"], json!(draft));
    copy(&api, &bolt, &draft)
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_orgs_template_is_not_found_and_not_listed() {
    let api = Api::new().await;
    let (_, acme) = seller(&api, "Acme").await;
    let (_, bolt) = seller(&api, "Bolt").await;
    let id = id_of(&create(&api, &acme, template("Mine")).await);
    let path = format!("/v1/flow-templates/{id}");
    api.call("GET", &path)
        .token(&bolt)
        .send()
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    put(&api, &bolt, &id, template("x"))
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    publish(&api, &bolt, &id)
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    let listed = |v: &Value| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == json!(id))
    };
    assert!(!listed(&api.read_as(&bolt, "/v1/flow-templates").await));
    assert!(listed(&api.read_as(&acme, "/v1/flow-templates").await));
    assert!(listed(&api.read_as(ADMIN, "/v1/flow-templates").await));
    let (_, auditor) = api.create_principal("auditor", None).await;
    api.read_as(&auditor, &path).await;
    let (_, customer) = api.create_principal("customer", None).await;
    api.post_as(&customer, "/v1/flow-templates", template("x"))
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    api.call("GET", "/v1/flow-templates")
        .token(&customer)
        .send()
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    publish(&api, ADMIN, &id)
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    // Pages follow each other: five public templates, then the private one.
    let ids = api.ids_of_all_pages(&acme, "/v1/flow-templates", 2).await;
    assert_eq!(ids.len(), 6);
    assert_eq!(ids[5], id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_fields_are_refused_naming_their_path() {
    let api = Api::new().await;
    let (_, acme) = seller(&api, "Acme").await;
    let post = |body: Value| api.post_as(&acme, "/v1/flow-templates", body);
    let days = "nodes[3].children[0].timeout.days";
    for (value, rule) in [
        (json!(2.55), "one_decimal"),
        (json!(0), "range"),
        (json!(-1), "range"),
        (json!(365.1), "range"),
    ] {
        let mut body = template("Mine");
        body["nodes"][3]["children"][0]["timeout"]["days"] = value;
        let e = post(body)
            .await
            .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(
            (e["field"].clone(), e["rule"].clone()),
            (json!(days), json!(rule))
        );
    }
    let cases: &[(&str, Value, &str, &str)] = &[
        ("/nodes/1/id", json!("Form!"), "nodes[1].id", "format"),
        ("/nodes/2/role", json!("chef"), "nodes[2].role", "one_of"),
        (
            "/nodes/1/assign_rule",
            json!("department_first"),
            "nodes[1].assign_rule",
            "not_allowed",
        ),
        ("/nodes/1/side", json!("provider"), "nodes[1].side", "fixed"),
        ("/name", json!(""), "name", "required"),
    ];
    for (pointer, value, field, rule) in cases {
        let mut body = template("Mine");
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        body.pointer_mut(parent).unwrap()[key] = value.clone();
        let e = post(body)
            .await
            .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(
            (e["field"].clone(), e["rule"].clone()),
            (json!(field), json!(rule))
        );
    }
    let mut body = template("Mine");
    body["nodes"][0]["colour"] = json!("red");
    post(body)
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
    let mut body = template("Mine");
    body["nodes"][0]["type"] = json!("teleport");
    post(body)
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_names_the_node_and_the_rule_it_breaks() {
    let api = Api::new().await;
    let (_, acme) = seller(&api, "Acme").await;
    let mut body = template("Mine");
    // The node right after the assignment is a rejectable confirm.
    let children = body["nodes"][3]["children"].as_array_mut().unwrap();
    children.swap(0, 1);
    let id = id_of(&create(&api, &acme, body).await);
    let e = publish(&api, &acme, &id)
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "template_invalid");
    assert_eq!(
        e,
        json!({"node_id": "check", "rule": "after_assignment_rejectable"})
    );
    let empty = id_of(&create(&api, &acme, json!({"name": "Empty", "nodes": []})).await);
    let e = publish(&api, &acme, &empty)
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "template_invalid");
    assert_eq!(e["rule"], "node_count");
}

fn manual_product(template_id: &str) -> Value {
    json!({
        "code": "MIG", "name": "Data migration", "category": "services",
        "delivery": "manual", "delivery_days": 7, "warranty_days": 30,
        "flow_template_id": template_id,
        "specs": [{"id": "m", "name": "once", "duration": 1, "unit": "once",
                   "price_cents": 5_000}]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_product_names_a_preset_or_a_published_template_of_its_seller() {
    let api = Api::new().await;
    let (_, acme) = seller(&api, "Acme").await;
    let (_, bolt) = seller(&api, "Bolt").await;
    let product = |token: &str, t: &str| {
        let (token, t) = (token.to_owned(), t.to_owned());
        let api = &api;
        async move {
            api.post_as(&token, "/v1/products", manual_product(&t))
                .await
        }
    };
    let p = product(&acme, "tpl_standard_manual")
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(p["flow_template_id"], "tpl_standard_manual");
    let draft = id_of(&create(&api, &acme, template("Mine")).await);
    for (token, t, rule) in [
        (&acme, draft.as_str(), "not_published"),
        (&acme, "tpl_nothing", "unknown_template"),
        (&acme, "not an id", "unknown_template"),
    ] {
        let e = product(token, t)
            .await
            .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(
            (e["field"].clone(), e["rule"].clone()),
            (json!("flow_template_id"), json!(rule))
        );
    }
    publish(&api, &acme, &draft).await.expect(StatusCode::OK);
    product(&acme, &draft).await.expect(StatusCode::CREATED);
    let e = product(&bolt, &draft)
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(e["rule"], "unknown_template");
}
