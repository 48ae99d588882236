//! Delivery journeys of SPEC.md §8 through the real `marketlog serve` (simulated clock): the
//! `standard_manual` flow end to end (payment starts the project, the provider and the staff
//! member are assigned by the policies, the stages the seller sees, the order's completion),
//! its two 15-day timers (no start → cancelled and refunded by the system, capacity given
//! back; no confirmation → confirmed automatically), a custom template with a container and
//! a rejectable confirm, and a queue that drains at once when a staff member's capacity is
//! raised.

use std::time::Duration;

use marketlog_tests::server::{Server, ADMIN_TOKEN};
use serde_json::{json, Value};

/// Longest wait for the policy runner to settle (it follows the log in the background).
const POLICY_WAIT: Duration = Duration::from_secs(10);
/// A day, in seconds of the simulated clock.
const DAY_SECONDS: u64 = 86_400;

/// The seller org (which delivers its own products), its admin, a customer, a staff member
/// with the `delivery_specialist` role, and a listed manual product on `template`.
struct Shop {
    org: String,
    seller: String,
    customer: String,
    staff: String,
    staff_token: String,
    product: String,
}

fn send(server: &Server, method: &str, path: &str, token: &str, body: Option<&Value>) -> Value {
    let reply = server.send(method, path, Some(token), &[], body);
    let expected = if method == "POST" && reply.status == 201 {
        201
    } else {
        200
    };
    reply.expect(expected)
}

fn shop(server: &Server, template: &str, max_active: u32) -> Shop {
    let org = server
        .post("/v1/orgs", &json!({"name": "Acme Services"}))
        .expect(201)["id"]
        .as_str()
        .expect("org id")
        .to_owned();
    let seller = server.token(&json!({"role": "isv_admin", "name": "Ann", "org_id": org}));
    let customer = server.token(&json!({"role": "customer", "name": "Bo"}));
    let staff = send(
        server,
        "POST",
        &format!("/v1/orgs/{org}/staff"),
        &seller,
        Some(
            &json!({"name": "Li", "roles": ["delivery_specialist"], "department": "delivery",
            "tags": [], "max_active": max_active}),
        ),
    );
    let product = manual_product(server, &seller, template);
    Shop {
        org,
        seller,
        customer,
        staff: staff["id"].as_str().expect("staff id").to_owned(),
        staff_token: staff["token"].as_str().expect("staff token").to_owned(),
        product,
    }
}

fn manual_product(server: &Server, seller: &str, template: &str) -> String {
    let product = send(
        server,
        "POST",
        "/v1/products",
        seller,
        Some(&json!({
            "code": "IMPL", "name": "Implementation", "category": "services", "delivery": "manual",
            "delivery_days": 10, "warranty_days": 0, "flow_template_id": template,
            "specs": [{"id": "std", "name": "standard", "duration": 1, "unit": "once", "price_cents": 10000}]
        })),
    )["id"]
        .as_str()
        .expect("product id")
        .to_owned();
    send(
        server,
        "POST",
        &format!("/v1/products/{product}/submit"),
        seller,
        None,
    );
    server
        .post(&format!("/v1/products/{product}/approve"), &json!({}))
        .expect(200);
    product
}

/// Waits until the policy runner has reacted to everything in the log and appended nothing
/// more (policies react to what policies appended: payment → project → assignment).
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

/// Reads `path` once every model has applied the log's head.
fn read(server: &Server, path: &str, token: &str) -> Value {
    let head = server.head().to_string();
    server
        .send("GET", path, Some(token), &[("X-Min-Position", &head)], None)
        .expect(200)
}

/// A paid order of the shop's product: its id, once the policies settled.
fn paid_order(server: &Server, s: &Shop) -> String {
    let order = send(
        server,
        "POST",
        "/v1/orders",
        &s.customer,
        Some(
            &json!({"product_id": s.product, "spec_id": "std", "quantity": 1, "order_type": "new"}),
        ),
    );
    let id = order["id"].as_str().expect("order id").to_owned();
    send(
        server,
        "POST",
        &format!("/v1/orders/{id}/pay"),
        &s.customer,
        Some(&json!({"amount_cents": order["payable_cents"]})),
    );
    settle(server);
    id
}

/// The delivery of `order` as the customer sees it.
fn delivery_of(server: &Server, s: &Shop, order: &str) -> Value {
    let list = read(
        server,
        &format!("/v1/deliveries?order_id={order}"),
        &s.customer,
    );
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "one project per paid order: {list}");
    items[0].clone()
}

fn delivery(server: &Server, id: &str, token: &str) -> Value {
    read(server, &format!("/v1/deliveries/{id}"), token)
}

fn node_action(server: &Server, id: &str, node: &str, action: &str, token: &str, body: Value) {
    send(
        server,
        "POST",
        &format!("/v1/deliveries/{id}/nodes/{node}/{action}"),
        token,
        Some(&body),
    );
    settle(server);
}

fn requirement() -> Value {
    json!({"contact_name": "Wang", "phone": "13800000000", "email": "wang@example.com",
        "address": "Shanghai", "description": "install and configure"})
}

fn advance(server: &Server, seconds: u64) {
    server
        .post("/v1/admin/clock/advance", &json!({ "seconds": seconds }))
        .expect(200);
    settle(server);
}

fn staff_active(server: &Server, s: &Shop) -> u64 {
    let list = read(server, &format!("/v1/orgs/{}/staff", s.org), &s.seller);
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|m| m["id"] == s.staff.as_str())
        .and_then(|m| m["active"].as_u64())
        .expect("the staff member's active count")
}

fn order_view(server: &Server, s: &Shop, order: &str) -> Value {
    read(server, &format!("/v1/orders/{order}"), &s.seller)
}

#[test]
fn standard_manual_walks_from_payment_to_completion_with_the_sellers_stages() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let s = shop(&server, "tpl_standard_manual", 2);
    let order = paid_order(&server, &s);

    let d = delivery_of(&server, &s, &order);
    let id = d["id"].as_str().expect("delivery id").to_owned();
    assert_eq!(d["status"], "executing");
    assert_eq!(d["provider_org_id"], s.org.as_str(), "the seller delivers");
    assert_eq!(d["current_node"]["id"], "submit_requirement");
    assert_eq!(d["stage"], "pending_implementation");
    let o = order_view(&server, &s, &order);
    assert_eq!(o["delivery_id"], id.as_str());
    assert_eq!(o["delivery_stage"], "pending_implementation");

    node_action(
        &server,
        &id,
        "submit_requirement",
        "submit",
        &s.customer,
        requirement(),
    );
    let d = delivery(&server, &id, &s.seller);
    assert_eq!(d["current_node"]["id"], "start_implementation");
    assert_eq!(
        d["operator"]["staff_id"],
        s.staff.as_str(),
        "assigned by rule"
    );
    assert!(
        d["current_node"]["due_at"].is_string(),
        "15 calendar days to start"
    );
    assert_eq!(staff_active(&server, &s), 1);

    node_action(
        &server,
        &id,
        "start_implementation",
        "complete",
        &s.staff_token,
        json!({}),
    );
    assert_eq!(
        order_view(&server, &s, &order)["delivery_stage"],
        "implementing"
    );
    node_action(
        &server,
        &id,
        "implementation_complete",
        "complete",
        &s.staff_token,
        json!({"delivery_info": "console: https://example.com  user: admin"}),
    );
    let d = delivery(&server, &id, &s.customer);
    assert_eq!(d["current_node"]["id"], "confirm_completion");
    assert_eq!(d["stage"], "pending_confirmation");

    node_action(
        &server,
        &id,
        "confirm_completion",
        "complete",
        &s.customer,
        json!({}),
    );
    let d = delivery(&server, &id, &s.customer);
    assert_eq!(d["status"], "completed");
    assert!(d["completed_at"].is_string());
    let o = order_view(&server, &s, &order);
    assert_eq!(o["delivery_stage"], "completed");
    assert!(
        o["completed_at"].is_string(),
        "completion completes the order: {o}"
    );
    assert_eq!(staff_active(&server, &s), 0, "the slot is given back");

    // The order's history shows the delivery's milestones with the stage after each.
    let history = read(&server, &format!("/v1/orders/{order}/history"), &s.customer);
    let milestones = history["delivery_milestones"]
        .as_array()
        .expect("milestones");
    let stages: Vec<&str> = milestones
        .iter()
        .filter_map(|m| m["stage"].as_str())
        .collect();
    assert_eq!(stages.first(), Some(&"pending_implementation"), "{history}");
    assert!(stages.contains(&"implementing"));
    assert!(stages.contains(&"pending_confirmation"));
    assert_eq!(stages.last(), Some(&"completed"));
    assert!(milestones.iter().all(|m| m["delivery_id"] == id.as_str()));

    let log = read(&server, &format!("/v1/deliveries/{id}/log"), &s.seller);
    let types: Vec<&str> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["type"].as_str())
        .collect();
    for t in [
        "DeliveryStarted",
        "ProviderAssigned",
        "RequirementSubmitted",
        "OperatorAssigned",
        "NodeCompleted",
        "DeliveryCompleted",
    ] {
        assert!(types.contains(&t), "{t} in the flow log: {types:?}");
    }
}

#[test]
fn fifteen_days_without_a_start_cancel_and_refund_and_fifteen_without_confirmation_confirm() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let s = shop(&server, "tpl_standard_manual", 5);

    // Not started within 15 calendar days: cancelled, refunded in full by the system.
    let idle = paid_order(&server, &s);
    let idle_d = delivery_of(&server, &s, &idle)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    node_action(
        &server,
        &idle_d,
        "submit_requirement",
        "submit",
        &s.customer,
        requirement(),
    );
    assert_eq!(staff_active(&server, &s), 1);

    // Another project walked to the customer's confirmation at the same time.
    let done = paid_order(&server, &s);
    let done_d = delivery_of(&server, &s, &done)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    node_action(
        &server,
        &done_d,
        "submit_requirement",
        "submit",
        &s.customer,
        requirement(),
    );
    for node in ["start_implementation", "implementation_complete"] {
        node_action(
            &server,
            &done_d,
            node,
            "complete",
            &s.staff_token,
            json!({}),
        );
    }
    assert_eq!(staff_active(&server, &s), 2);

    advance(&server, 14 * DAY_SECONDS);
    assert_eq!(delivery(&server, &idle_d, &s.seller)["status"], "executing");
    advance(&server, DAY_SECONDS + 60);

    let d = delivery(&server, &idle_d, &s.seller);
    assert_eq!(d["status"], "cancelled", "{d}");
    let o = order_view(&server, &s, &idle);
    assert_eq!(o["status"], "refunded", "{o}");
    assert_eq!(o["balance_cents"], 0);
    let refunds = read(
        &server,
        &format!("/v1/refunds?order_id={idle}"),
        ADMIN_TOKEN,
    );
    let refund = &refunds["items"][0];
    assert_eq!(refund["initiated_by"], "system");
    assert_eq!(refund["status"], "refunded");

    let d = delivery(&server, &done_d, &s.customer);
    assert_eq!(d["status"], "completed", "confirmed automatically: {d}");
    assert!(order_view(&server, &s, &done)["completed_at"].is_string());
    assert_eq!(staff_active(&server, &s), 0, "both slots are given back");
}

#[test]
fn a_custom_template_with_a_container_and_a_rejectable_confirm_goes_back_on_rejection() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let s = shop(&server, "tpl_basic", 3);
    let node = |id: &str, t: &str, extra: Value| {
        let mut n = json!({"id": id, "type": t, "name": id});
        if let (Some(n), Some(e)) = (n.as_object_mut(), extra.as_object()) {
            n.extend(e.clone());
        }
        n
    };
    let template = send(
        &server,
        "POST",
        "/v1/flow-templates",
        &s.seller,
        Some(&json!({"name": "design review", "nodes": [
            node("assign_provider", "assign_provider", json!({})),
            node("submit", "submit_requirement", json!({})),
            node("assign", "assign_order", json!({"role": "delivery_specialist", "assign_rule": "provider_first"})),
            node("work", "container", json!({"children": [
                node("draft", "generic", json!({"side": "provider", "role": "delivery_specialist"})),
                node("review", "confirm", json!({"side": "customer", "rejectable": true})),
            ]})),
            node("done", "complete_project", json!({})),
        ]})),
    );
    let template_id = template["id"].as_str().expect("template id").to_owned();
    send(
        &server,
        "POST",
        &format!("/v1/flow-templates/{template_id}/publish"),
        &s.seller,
        None,
    );
    let product = manual_product(&server, &s.seller, &template_id);
    let s = Shop { product, ..s };

    let order = paid_order(&server, &s);
    let id = delivery_of(&server, &s, &order)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    node_action(&server, &id, "submit", "submit", &s.customer, requirement());
    node_action(
        &server,
        &id,
        "draft",
        "complete",
        &s.staff_token,
        json!({"note": "v1"}),
    );
    assert_eq!(
        delivery(&server, &id, &s.customer)["current_node"]["id"],
        "review"
    );
    node_action(
        &server,
        &id,
        "review",
        "reject",
        &s.customer,
        json!({"reason": "logo too small"}),
    );
    let d = delivery(&server, &id, &s.customer);
    assert_eq!(
        d["current_node"]["id"], "draft",
        "a rejection goes back one node"
    );
    // The rejected node is no longer current: 409 naming the current node.
    let refused = server
        .send(
            "POST",
            &format!("/v1/deliveries/{id}/nodes/review/complete"),
            Some(&s.customer),
            &[],
            Some(&json!({})),
        )
        .error(409, "invalid_state");
    assert_eq!(refused["current_node"], "draft", "{refused}");
    node_action(
        &server,
        &id,
        "draft",
        "complete",
        &s.staff_token,
        json!({"note": "v2"}),
    );
    node_action(&server, &id, "review", "complete", &s.customer, json!({}));
    node_action(&server, &id, "done", "complete", &s.customer, json!({}));
    assert_eq!(delivery(&server, &id, &s.customer)["status"], "completed");
}

#[test]
fn a_project_waits_in_the_queue_until_its_staff_member_has_room() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let s = shop(&server, "tpl_standard_manual", 1);
    let first = paid_order(&server, &s);
    let second = paid_order(&server, &s);
    let ids: Vec<String> = [&first, &second]
        .iter()
        .map(|o| {
            delivery_of(&server, &s, o)["id"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect();
    for id in &ids {
        node_action(
            &server,
            id,
            "submit_requirement",
            "submit",
            &s.customer,
            requirement(),
        );
    }
    assert_eq!(staff_active(&server, &s), 1, "never more than the maximum");
    let queue = read(&server, "/v1/queues/dispatch", &s.seller);
    let queued: Vec<&Value> = queue["items"].as_array().expect("items").iter().collect();
    assert_eq!(queued.len(), 1, "{queue}");
    assert_eq!(queued[0]["delivery_id"], ids[1].as_str());
    assert_eq!(queued[0]["reason"], "staff_capacity_full");

    send(
        &server,
        "PUT",
        &format!("/v1/staff/{}", s.staff),
        &s.seller,
        Some(&json!({"max_active": 2})),
    );
    // Capacity that frees up re-examines the queue at once (no clock advance).
    settle(&server);
    let queue = read(&server, "/v1/queues/dispatch", &s.seller);
    assert_eq!(queue["items"].as_array().map(Vec::len), Some(0), "{queue}");
    assert_eq!(staff_active(&server, &s), 2);
    let d = delivery(&server, &ids[1], &s.seller);
    assert_eq!(d["operator"]["staff_id"], s.staff.as_str());
}

#[test]
fn two_parties_completing_the_same_node_at_once_one_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let s = shop(&server, "tpl_standard_manual", 2);
    let order = paid_order(&server, &s);
    let id = delivery_of(&server, &s, &order)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    node_action(
        &server,
        &id,
        "submit_requirement",
        "submit",
        &s.customer,
        requirement(),
    );
    let path = format!("/v1/deliveries/{id}/nodes/start_implementation/complete");
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let racers: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    server
                        .send("POST", &path, Some(&s.staff_token), &[], Some(&json!({})))
                        .status
                })
            })
            .collect();
        racers
            .into_iter()
            .map(|r| r.join().expect("racer"))
            .collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        7,
        "{statuses:?}"
    );
    settle(&server);
    let completions = server
        .all_events(ADMIN_TOKEN, "&type=NodeCompleted")
        .into_iter()
        .filter(|e| {
            e["stream_id"] == format!("delivery-{id}")
                && e["data"]["node_id"] == "start_implementation"
        })
        .count();
    assert_eq!(completions, 1, "the node completed once");
}

#[test]
fn a_file_goes_up_and_comes_down_with_its_sha256_to_the_parties_only() {
    const CONTENT: &[u8] = b"%PDF-1.4 contract for order delivery\n";
    const SHA256: &str = "0bed901317f9dbba97116f4972247c8f16c10349df0b0afb7ce1439b7cac27ab";
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let s = shop(&server, "tpl_standard_manual", 2);
    let order = paid_order(&server, &s);
    let id = delivery_of(&server, &s, &order)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let up = server
        .client()
        .post(server.url(&format!("/v1/deliveries/{id}/files?name=contract.pdf")))
        .bearer_auth(&s.customer)
        .header("Content-Type", "application/pdf")
        .body(CONTENT.to_vec())
        .send()
        .expect("upload");
    assert_eq!(up.status().as_u16(), 201);
    let file: Value = up.json().expect("file json");
    assert_eq!(file["sha256"], SHA256);
    assert_eq!(file["size"], CONTENT.len());
    let file_id = file["id"].as_str().expect("file id").to_owned();

    let down = |token: &str| {
        server
            .client()
            .get(server.url(&format!("/v1/files/{file_id}")))
            .bearer_auth(token)
            // Read-your-writes: the deliveries model may not have applied the upload yet.
            .header("X-Min-Position", file["position"].to_string())
            .send()
            .expect("download")
    };
    for token in [&s.customer, &s.seller, &s.staff_token] {
        let r = down(token);
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(
            r.headers().get("etag").and_then(|v| v.to_str().ok()),
            Some(format!("\"{SHA256}\"").as_str())
        );
        assert_eq!(
            r.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/pdf")
        );
        assert_eq!(r.bytes().expect("bytes").as_ref(), CONTENT);
    }
    let stranger = server.token(&json!({"role": "customer", "name": "Cy"}));
    assert_eq!(down(&stranger).status().as_u16(), 404, "not a party");
}
