//! API.md §8 `GET /v1/dashboard/workbench` through the route: a provider's tasks, capacity
//! and reviews for its isv_admin, platform and the auditor; another org's workbench is 404,
//! the roles it never serves 403, a bad date 422. Every answer is checked against the
//! OpenAPI schema by the contract client.

mod common;

use axum::http::StatusCode;
use common::{Api, ADMIN};
use serde_json::{json, Value};

/// assign_provider → claim (designer) → work (provider designer, 1 calendar day, action
/// none) → done (customer).
fn flow() -> Value {
    json!({"name": "Design", "nodes": [
        {"id": "ap", "type": "assign_provider", "name": "Assign provider"},
        {"id": "claim", "type": "claim_order", "name": "Claim", "role": "designer"},
        {"id": "work", "type": "generic", "name": "Design", "side": "provider",
         "role": "designer",
         "timeout": {"days": 1, "unit": "calendar_days", "action": "none"}},
        {"id": "done", "type": "complete_project", "name": "Confirm"}
    ]})
}

async fn created(api: &Api, token: &str, uri: &str, body: Value) -> Value {
    api.post_as(token, uri, body)
        .await
        .expect(StatusCode::CREATED)
}

async fn settle(api: &Api) {
    for _ in 0..100 {
        let head = api.head().await;
        assert!(
            api.app
                .policies
                .wait_for(head, std::time::Duration::from_secs(5))
                .await
        );
        if api.head().await == head {
            return;
        }
    }
    panic!("the policies never settled");
}

struct Cast {
    acme: String,
    acme_org: String,
    bolt: String,
    li: String,
    ann: String,
    product: String,
    automatic: String,
}

async fn cast(api: &Api) -> Cast {
    let (acme, automatic) = api.listed_product("Acme", "VM", 5_000).await;
    let (bolt, _) = api.listed_product("Bolt", "DB", 5_000).await;
    let acme_org = api.read_as(&acme, "/v1/me").await["org_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let t = created(api, &acme, "/v1/flow-templates", flow()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post_as(&acme, &format!("/v1/flow-templates/{t}/publish"), json!({}))
        .await
        .expect(StatusCode::OK);
    let product = created(
        api,
        &acme,
        "/v1/products",
        json!({"code": "DSN", "name": "Design work", "category": "services",
               "delivery": "manual", "delivery_days": 7, "warranty_days": 30,
               "flow_template_id": t,
               "specs": [{"id": "m", "name": "once", "duration": 1, "unit": "once",
                          "price_cents": 5_000}]}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.approve_product(&acme, &product).await;
    let staff = |name: &str, department: &str, max: u32| {
        json!({"name": name, "roles": ["designer"], "department": department,
               "tags": [], "max_active": max})
    };
    let li = created(
        api,
        &acme,
        &format!("/v1/orgs/{acme_org}/staff"),
        staff("Li", "Design", 5),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    created(
        api,
        &acme,
        &format!("/v1/orgs/{acme_org}/staff"),
        staff("Wang", "Build", 3),
    )
    .await;
    let (_, ann) = api.create_principal("customer", None).await;
    Cast {
        acme,
        acme_org,
        bolt,
        li,
        ann,
        product,
        automatic,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workbench_counts_the_providers_tasks_capacity_and_reviews() {
    let api = Api::new().await;
    let c = cast(&api).await;
    let order = api.paid_order(&c.ann, &c.product, 1, 0).await;
    settle(&api).await;
    let id = domain::delivery::project::delivery_id_for(&order);
    // Li claims (a task done today, 2026-11-22); the work node is due tomorrow 09:00.
    api.post_as(&c.li, &format!("/v1/deliveries/{id}/claim"), json!({}))
        .await
        .expect(StatusCode::OK);
    let at = |date: &str| format!("/v1/dashboard/workbench?org_id={}&date={date}", c.acme_org);

    let today = api.read_as(&c.acme, "/v1/dashboard/workbench").await;
    assert_eq!(today["tasks_done_today"], 1, "{today}");
    assert_eq!(today["tasks_due_today"], 0);
    assert_eq!(today["completion_rate"], Value::Null);
    assert_eq!(
        today["capacity"],
        json!({"total": 8, "active": 1, "remaining": 7})
    );
    assert_eq!(
        today["rejected"],
        json!({"projects": 0, "of": 1, "rate": 0})
    );
    assert_eq!(today["queued"], 0);
    assert_eq!(
        today["by_department"],
        json!([
            {"department": "Build", "done": 0, "done_early": 0, "due_today": 0, "rejected": 0},
            {"department": "Design", "done": 1, "done_early": 0, "due_today": 0, "rejected": 0}
        ])
    );
    assert_eq!(today, api.read_as(ADMIN, &at("2026-11-22")).await);

    let tomorrow = api.read_as(&c.acme, &at("2026-11-23")).await;
    assert_eq!(tomorrow["tasks_due_today"], 1, "{tomorrow}");
    assert_eq!(tomorrow["completion_rate"], 0);
    assert_eq!(tomorrow["overdue"], 0, "17:30 of the 23rd is still to come");

    // A bad review of Acme's automatic product, unanswered, then answered; the shop score is
    // the mean of its scores either way.
    let (_, auditor) = api.create_principal("auditor", None).await;
    let w = api.read_as(&auditor, &at("2026-11-22")).await;
    assert_eq!(w["reviews"], json!({"unhandled_bad": 0, "score": null}));
    let paid = api.paid_order(&c.ann, &c.automatic, 1, 0).await;
    let review = created(
        &api,
        &c.ann,
        &format!("/v1/orders/{paid}/review"),
        json!({"quality": 4, "attitude": 5, "speed": 5, "comment": "slow"}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let w = api.read_as(&auditor, &at("2026-11-22")).await;
    assert_eq!(w["reviews"], json!({"unhandled_bad": 1, "score": 4.67}));
    api.post_as(
        &c.acme,
        &format!("/v1/reviews/{review}/reply"),
        json!({"text": "sorry"}),
    )
    .await
    .expect(StatusCode::OK);
    let w = api.read_as(&c.acme, &at("2026-11-22")).await;
    assert_eq!(w["reviews"], json!({"unhandled_bad": 0, "score": 4.67}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_orgs_workbench_is_not_found_and_other_roles_are_forbidden() {
    let api = Api::new().await;
    let c = cast(&api).await;
    let uri = format!("/v1/dashboard/workbench?org_id={}", c.acme_org);
    let r = api.call("GET", &uri).token(&c.bolt).send().await;
    r.error(StatusCode::NOT_FOUND, "not_found");
    // Bolt's own (no org_id: the caller's org) is there, with nothing in it.
    let own = api.read_as(&c.bolt, "/v1/dashboard/workbench").await;
    assert_eq!(own["tasks_due_today"], 0);
    let unknown = api
        .call("GET", "/v1/dashboard/workbench?org_id=org_nobody")
        .token(ADMIN)
        .send()
        .await;
    unknown.error(StatusCode::NOT_FOUND, "not_found");
    let (_, analyst) = api.create_principal("analyst", None).await;
    for token in [&c.ann, &c.li, &analyst] {
        let r = api.call("GET", &uri).token(token).send().await;
        r.error(StatusCode::FORBIDDEN, "forbidden");
    }
    // Platform and the auditor name the org.
    let r = api
        .call("GET", "/v1/dashboard/workbench")
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(
        r.error(StatusCode::BAD_REQUEST, "bad_request")["field"],
        "org_id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_date_that_is_not_yyyy_mm_dd_is_422_naming_date() {
    let api = Api::new().await;
    let c = cast(&api).await;
    for bad in [
        "2026-13-01",
        "2026-2-1",
        "yesterday",
        "2026-02-30",
        "+2026-01-01",
    ] {
        let r = api
            .call(
                "GET",
                &format!("/v1/dashboard/workbench?org_id={}&date={bad}", c.acme_org),
            )
            .token(&c.acme)
            .send()
            .await;
        let details = r.error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(details["field"], "date", "{bad}");
    }
}
