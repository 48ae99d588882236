//! The route × role table of `api::access::RULES`, called: every route as every role, on its
//! own tenant's records and, where the route's tenancy binds the role, on another tenant's.
//! A role the table forbids answers 403; a role it allows is never 401 or 403; another
//! tenant's record answers 404 and another tenant's list is empty (API.md §1). The table
//! is also checked against the routes the server registers and against the role columns
//! of API.md §2–§6 and §9, copied below.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use api::access::{Allowed, Rule, Tenancy, RULES};
use axum::http::StatusCode;
use common::{Api, ADMIN};
use domain::Role;
use http_body_util::BodyExt;
use serde_json::{json, Value};

/// The role column of every route of API.md that this server serves (copied 2026-12-02), and
/// the roles it names. API.md §1 adds to every `GET` row: "auditor may call every GET route",
/// "platform may call every GET route"; "any staff role" is every role except customer;
/// "owner parties" and "same" (for orders) are the customer and the seller's isv_admin;
/// "none" is no token at all (`None`).
const API_MD: &[(&str, &str, &str, Option<&[Role]>)] = {
    use Role::{Analyst, Auditor, Customer, IsvAdmin, IsvStaff, Platform};
    const ANY: &[Role] = &Role::ALL;
    const ORDER_READERS: &[Role] = &[Customer, IsvAdmin, Auditor, Platform];
    const DELIVERY_PARTIES: &[Role] = &[Customer, IsvAdmin, IsvStaff, Auditor, Platform];
    const DELIVERY_WRITERS: &[Role] = &[Customer, IsvAdmin, IsvStaff, Platform];
    &[
        ("POST", "/v1/orgs", "platform", Some(&[Platform])),
        ("POST", "/v1/principals", "platform", Some(&[Platform])),
        (
            "DELETE",
            "/v1/principals/{id}",
            "platform",
            Some(&[Platform]),
        ),
        ("GET", "/v1/me", "any", Some(ANY)),
        ("PUT", "/v1/calendar/{year}", "platform", Some(&[Platform])),
        ("GET", "/v1/calendar/{year}", "any", Some(ANY)),
        (
            "POST",
            "/v1/orgs/{org}/staff",
            "isv_admin of org",
            Some(&[IsvAdmin]),
        ),
        ("PUT", "/v1/staff/{id}", "isv_admin", Some(&[IsvAdmin])),
        (
            "POST",
            "/v1/staff/{id}/leave",
            "isv_admin",
            Some(&[IsvAdmin]),
        ),
        (
            "DELETE",
            "/v1/staff/{id}/leave",
            "isv_admin",
            Some(&[IsvAdmin]),
        ),
        (
            "POST",
            "/v1/staff/me/accepting",
            "isv_staff",
            Some(&[IsvStaff]),
        ),
        (
            "GET",
            "/v1/orgs/{org}/staff",
            "isv_admin",
            Some(&[IsvAdmin, Auditor, Platform]),
        ),
        ("GET", "/v1/roles", "any", Some(ANY)),
        // Not in API.md §3 (routes may be added): one staff member, for its org's
        // isv_admin and for the member itself.
        (
            "GET",
            "/v1/staff/{id}",
            "(added) isv_admin (own org), isv_staff (itself), auditor, platform",
            Some(&[IsvAdmin, IsvStaff, Auditor, Platform]),
        ),
        ("POST", "/v1/products", "isv_admin", Some(&[IsvAdmin])),
        (
            "POST",
            "/v1/products/{id}/submit",
            "isv_admin",
            Some(&[IsvAdmin]),
        ),
        (
            "POST",
            "/v1/products/{id}/approve",
            "platform",
            Some(&[Platform]),
        ),
        (
            "POST",
            "/v1/products/{id}/reject",
            "platform",
            Some(&[Platform]),
        ),
        (
            "POST",
            "/v1/products/{id}/hide",
            "isv_admin (hide/unhide)",
            Some(&[IsvAdmin]),
        ),
        (
            "POST",
            "/v1/products/{id}/unhide",
            "isv_admin (hide/unhide)",
            Some(&[IsvAdmin]),
        ),
        (
            "POST",
            "/v1/products/{id}/delist",
            "platform (delist)",
            Some(&[Platform]),
        ),
        (
            "POST",
            "/v1/products/{id}/specs/{spec}/price",
            "isv_admin",
            Some(&[IsvAdmin]),
        ),
        (
            "POST",
            "/v1/products/{id}/specs/{spec}/hide",
            "isv_admin",
            Some(&[IsvAdmin]),
        ),
        (
            "POST",
            "/v1/products/{id}/specs/{spec}/unhide",
            "isv_admin",
            Some(&[IsvAdmin]),
        ),
        (
            "POST",
            "/v1/products/{id}/distribution",
            "isv_admin",
            Some(&[IsvAdmin]),
        ),
        (
            "PUT",
            "/v1/products/{id}/providers",
            "platform or isv_admin (owner)",
            Some(&[Platform, IsvAdmin]),
        ),
        ("GET", "/v1/products", "any", Some(ANY)),
        ("GET", "/v1/products/{id}", "any", Some(ANY)),
        (
            "GET",
            "/v1/products/{id}/quote",
            "customer; isv_admin of the seller",
            Some(&[Customer, IsvAdmin, Auditor, Platform]),
        ),
        ("POST", "/v1/promotions", "isv_admin", Some(&[IsvAdmin])),
        ("PUT", "/v1/promotions/{id}", "isv_admin", Some(&[IsvAdmin])),
        (
            "POST",
            "/v1/promotions/{id}/publish",
            "isv_admin",
            Some(&[IsvAdmin]),
        ),
        (
            "DELETE",
            "/v1/promotions/{id}",
            "isv_admin",
            Some(&[IsvAdmin]),
        ),
        (
            "GET",
            "/v1/promotions",
            "isv_admin",
            Some(&[IsvAdmin, Auditor, Platform]),
        ),
        // Not a row of API.md §6, which lists only the list: the read of one promotion,
        // with the roles of the list.
        (
            "GET",
            "/v1/promotions/{id}",
            "isv_admin",
            Some(&[IsvAdmin, Auditor, Platform]),
        ),
        ("POST", "/v1/orders", "customer", Some(&[Customer])),
        (
            "POST",
            "/v1/orders/{id}/change-price",
            "isv_admin (seller)",
            Some(&[IsvAdmin]),
        ),
        ("POST", "/v1/orders/{id}/pay", "customer", Some(&[Customer])),
        (
            "POST",
            "/v1/orders/{id}/cancel",
            "customer",
            Some(&[Customer]),
        ),
        (
            "GET",
            "/v1/orders",
            "customer (own), isv_admin (own products), auditor, platform",
            Some(ORDER_READERS),
        ),
        ("GET", "/v1/orders/export.csv", "same", Some(ORDER_READERS)),
        ("GET", "/v1/orders/{id}", "same", Some(ORDER_READERS)),
        (
            "GET",
            "/v1/orders/{id}/history",
            "auditor, platform, the seller, the customer",
            Some(ORDER_READERS),
        ),
        (
            "POST",
            "/v1/orders/{id}/refund-requests",
            "customer",
            Some(&[Customer]),
        ),
        (
            "POST",
            "/v1/orders/{id}/seller-refunds",
            "isv_admin",
            Some(&[IsvAdmin]),
        ),
        (
            "POST",
            "/v1/refunds/{id}/approve",
            "isv_admin for pending_seller; platform for pending_platform",
            Some(&[IsvAdmin, Platform]),
        ),
        (
            "POST",
            "/v1/refunds/{id}/reject",
            "isv_admin for pending_seller; platform for pending_platform",
            Some(&[IsvAdmin, Platform]),
        ),
        (
            "GET",
            "/v1/refunds/{id}",
            "isv_admin, platform, customer (own), auditor",
            Some(ORDER_READERS),
        ),
        (
            "GET",
            "/v1/refunds",
            "isv_admin, platform, customer (own), auditor",
            Some(ORDER_READERS),
        ),
        ("GET", "/v1/instances", "owner parties", Some(ORDER_READERS)),
        (
            "GET",
            "/v1/instances/{id}",
            "owner parties",
            Some(ORDER_READERS),
        ),
        (
            "POST",
            "/v1/orders/{id}/invoice-requests",
            "customer",
            Some(&[Customer]),
        ),
        (
            "POST",
            "/v1/invoices/{id}/issue",
            "isv_admin",
            Some(&[IsvAdmin]),
        ),
        (
            "POST",
            "/v1/invoices/{id}/reject",
            "isv_admin",
            Some(&[IsvAdmin]),
        ),
        (
            "POST",
            "/v1/orders/{id}/review",
            "customer",
            Some(&[Customer]),
        ),
        (
            "POST",
            "/v1/reviews/{id}/reply",
            "isv_admin",
            Some(&[IsvAdmin]),
        ),
        (
            "GET",
            "/v1/invoices",
            "isv_admin (own), customer (own), platform, auditor",
            Some(ORDER_READERS),
        ),
        ("GET", "/v1/reviews", "any", Some(ANY)),
        (
            "POST",
            "/v1/coupon-campaigns",
            "isv_admin",
            Some(&[IsvAdmin]),
        ),
        (
            "POST",
            "/v1/coupon-campaigns/{id}/claim",
            "customer",
            Some(&[Customer]),
        ),
        (
            "POST",
            "/v1/coupon-campaigns/{id}/grant",
            "isv_admin",
            Some(&[IsvAdmin]),
        ),
        (
            "POST",
            "/v1/coupon-campaigns/{id}/void",
            "isv_admin",
            Some(&[IsvAdmin]),
        ),
        (
            "GET",
            "/v1/coupon-campaigns/{id}",
            "isv_admin",
            Some(&[IsvAdmin, Auditor, Platform]),
        ),
        ("GET", "/v1/me/coupons", "customer", Some(&[Customer])),
        // Not in API.md §6 (routes may be added): a campaign's coupons for its seller, and
        // the campaign list, which also shows customers what they can claim in the store.
        (
            "GET",
            "/v1/coupon-campaigns/{id}/coupons",
            "(added) isv_admin (own), auditor, platform",
            Some(&[IsvAdmin, Auditor, Platform]),
        ),
        (
            "GET",
            "/v1/coupon-campaigns",
            "(added) isv_admin (own), customer (claimable), auditor, platform",
            Some(&[IsvAdmin, Customer, Auditor, Platform]),
        ),
        (
            "GET",
            "/v1/flow-templates",
            "isv_admin",
            Some(&[IsvAdmin, Auditor, Platform]),
        ),
        (
            "GET",
            "/v1/flow-templates/{id}",
            "isv_admin",
            Some(&[IsvAdmin, Auditor, Platform]),
        ),
        ("POST", "/v1/flow-templates", "isv_admin", Some(&[IsvAdmin])),
        (
            "PUT",
            "/v1/flow-templates/{id}",
            "isv_admin",
            Some(&[IsvAdmin]),
        ),
        (
            "POST",
            "/v1/flow-templates/{id}/publish",
            "isv_admin",
            Some(&[IsvAdmin]),
        ),
        (
            "POST",
            "/v1/flow-templates/{id}/copy",
            "isv_admin",
            Some(&[IsvAdmin]),
        ),
        (
            "GET",
            "/v1/deliveries",
            "isv_admin, isv_staff, platform, customer (own)",
            Some(&[IsvAdmin, IsvStaff, Platform, Customer, Auditor]),
        ),
        (
            "GET",
            "/v1/deliveries/{id}",
            "parties",
            Some(DELIVERY_PARTIES),
        ),
        (
            "GET",
            "/v1/deliveries/{id}/log",
            "parties",
            Some(DELIVERY_PARTIES),
        ),
        (
            "POST",
            "/v1/deliveries/{id}/nodes/{node_id}/submit",
            "customer",
            Some(&[Customer]),
        ),
        (
            "POST",
            "/v1/deliveries/{id}/nodes/{node_id}/complete",
            "current operator (side/role)",
            Some(&[Customer, IsvStaff]),
        ),
        (
            "POST",
            "/v1/deliveries/{id}/nodes/{node_id}/reject",
            "operator of a rejectable node",
            Some(&[Customer, IsvStaff]),
        ),
        (
            "POST",
            "/v1/deliveries/{id}/claim",
            "isv_staff with the claim role",
            Some(&[IsvStaff]),
        ),
        (
            "POST",
            "/v1/deliveries/{id}/dispatch",
            "isv_admin, platform",
            Some(&[IsvAdmin, Platform]),
        ),
        (
            "POST",
            "/v1/deliveries/{id}/change-provider",
            "platform, seller",
            Some(&[Platform, IsvAdmin]),
        ),
        (
            "POST",
            "/v1/deliveries/{id}/change-operator",
            "provider isv_admin",
            Some(&[IsvAdmin]),
        ),
        (
            "POST",
            "/v1/deliveries/{id}/pause",
            "provider isv_admin (pause/resume)",
            Some(&[IsvAdmin]),
        ),
        (
            "POST",
            "/v1/deliveries/{id}/resume",
            "provider isv_admin (pause/resume)",
            Some(&[IsvAdmin]),
        ),
        (
            "POST",
            "/v1/deliveries/{id}/close",
            "platform (close)",
            Some(&[Platform]),
        ),
        // "parties": the auditor never writes (API.md §1).
        (
            "POST",
            "/v1/deliveries/{id}/messages",
            "parties",
            Some(DELIVERY_WRITERS),
        ),
        (
            "POST",
            "/v1/deliveries/{id}/notes",
            "parties (notes: provider side only)",
            Some(&[IsvAdmin, IsvStaff, Platform]),
        ),
        (
            "POST",
            "/v1/deliveries/{id}/files",
            "parties",
            Some(DELIVERY_WRITERS),
        ),
        (
            "GET",
            "/v1/files/{id}",
            "parties of its delivery",
            Some(DELIVERY_PARTIES),
        ),
        (
            "GET",
            "/v1/queues/dispatch",
            "isv_admin, platform",
            Some(&[IsvAdmin, Platform, Auditor]),
        ),
        (
            "GET",
            "/v1/queues/claimable",
            "isv_staff",
            Some(&[IsvStaff, Platform, Auditor]),
        ),
        (
            "GET",
            "/v1/queues/mine",
            "isv_staff",
            Some(&[IsvStaff, Platform, Auditor]),
        ),
        (
            "GET",
            "/v1/dashboard/workbench",
            "isv_admin, platform",
            Some(&[IsvAdmin, Platform, Auditor]),
        ),
        (
            "GET",
            "/v1/outbox",
            "platform, auditor",
            Some(&[Platform, Auditor]),
        ),
        // "auditor may call every GET route" (API.md §1).
        (
            "GET",
            "/v1/dashboard/trade",
            "isv_admin, analyst, platform",
            Some(&[IsvAdmin, Analyst, Platform, Auditor]),
        ),
        (
            "POST",
            "/v1/analytics/page-views",
            "platform, analyst",
            Some(&[Platform, Analyst]),
        ),
        (
            "GET",
            "/v1/streams/{stream_id}",
            "auditor, platform",
            Some(&[Auditor, Platform]),
        ),
        (
            "GET",
            "/v1/events",
            "auditor, analyst, platform",
            Some(&[Auditor, Analyst, Platform]),
        ),
        (
            "GET",
            "/v1/events/live",
            "auditor, analyst, platform",
            Some(&[Auditor, Analyst, Platform]),
        ),
        (
            "GET",
            "/v1/projections",
            "any staff role",
            Some(&[Platform, IsvAdmin, IsvStaff, Auditor, Analyst]),
        ),
        (
            "POST",
            "/v1/projections/{name}/rebuild",
            "platform, analyst",
            Some(&[Platform, Analyst]),
        ),
        (
            "POST",
            "/v1/admin/clock/advance",
            "platform",
            Some(&[Platform]),
        ),
        ("GET", "/v1/health", "none", None),
        ("GET", "/v1/openapi.json", "none", None),
        ("GET", "/metrics", "none", None),
    ]
};

/// Where the server knowingly differs from API.md, with the roles it serves instead. Each
/// entry is asserted, so fixing the server (or API.md) fails this test until it is removed.
const DIVERGENCES: &[(&str, &str, &[Role], &str)] = &[(
    "GET",
    "/v1/products/{id}/quote",
    &[Role::Customer, Role::IsvAdmin],
    "§4 names customer and the seller's isv_admin only; §1 would add auditor and platform \
     (every GET). A quote is a buyer's and a seller's tool; the server answers 403 to the others.",
)];

fn role_set(roles: &[Role]) -> BTreeSet<&'static str> {
    roles.iter().map(|r| r.as_str()).collect()
}

fn allowed_set(rule: &Rule) -> Option<BTreeSet<&'static str>> {
    match rule.allowed {
        Allowed::Public => None,
        Allowed::Roles(roles) => Some(role_set(roles)),
    }
}

#[test]
fn the_table_matches_the_role_columns_of_api_md() {
    let api_md: BTreeSet<(&str, &str)> = API_MD.iter().map(|(m, p, _, _)| (*m, *p)).collect();
    let table: BTreeSet<(&str, &str)> = RULES.iter().map(|r| (r.method, r.path)).collect();
    assert_eq!(RULES.len(), table.len(), "a route has two rules");
    assert_eq!(
        table, api_md,
        "routes of the table vs the rows copied from API.md"
    );
    for rule in RULES {
        let (_, _, column, named) = API_MD
            .iter()
            .find(|(m, p, _, _)| (*m, *p) == (rule.method, rule.path))
            .unwrap();
        let expected = match DIVERGENCES
            .iter()
            .find(|(m, p, _, _)| (*m, *p) == (rule.method, rule.path))
        {
            Some((_, _, served, _)) => {
                assert_ne!(
                    named.map(role_set),
                    Some(role_set(served)),
                    "{} {}: listed as a divergence but API.md agrees",
                    rule.method,
                    rule.path
                );
                Some(role_set(served))
            }
            None => named.map(role_set),
        };
        assert_eq!(
            allowed_set(rule),
            expected,
            "{} {}: API.md says \"{column}\"",
            rule.method,
            rule.path
        );
    }
}

/// The principals of the drill: one of each role on Acme's side (Ann is Acme's customer),
/// and the other tenant of each bound role (Bo, a customer of nobody's; Bolt, another seller,
/// and its staff member).
struct Cast {
    own: Vec<(Role, String)>,
    other_customer: String,
    other_seller: String,
    other_staff: String,
}

impl Cast {
    fn own(&self, role: Role) -> &str {
        &self.own.iter().find(|(r, _)| *r == role).unwrap().1
    }

    fn other(&self, role: Role) -> &str {
        match role {
            Role::Customer => &self.other_customer,
            Role::IsvAdmin => &self.other_seller,
            Role::IsvStaff => &self.other_staff,
            other => panic!("no tenancy binds {other}"),
        }
    }
}

/// Records named by the paths: Ann's paid order of Acme's product with a refund request, an
/// invoice request, a review and its instance; a principal to revoke; Acme's coupon
/// campaign; Acme's private flow template (a draft).
struct Ids {
    product: String,
    order: String,
    refund: String,
    invoice: String,
    review: String,
    instance: String,
    principal: String,
    promotion: String,
    campaign: String,
    org: String,
    staff: String,
    template: String,
    delivery: String,
    file: String,
}

async fn created(api: &Api, token: &str, uri: &str, body: Value) -> String {
    api.post_as(token, uri, body)
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A staff member of `org`, added by its isv_admin: (staff id, token).
async fn staff_member(api: &Api, admin: &str, org: &str) -> (String, String) {
    let v = api
        .post_as(
            admin,
            &format!("/v1/orgs/{org}/staff"),
            json!({"name": "Li Wei", "roles": ["designer"], "department": "Delivery",
                   "tags": [], "max_active": 3}),
        )
        .await
        .expect(StatusCode::CREATED);
    (
        v["id"].as_str().unwrap().to_owned(),
        v["token"].as_str().unwrap().to_owned(),
    )
}

async fn setup(api: &Api) -> (Cast, Ids) {
    let (acme, product) = api.listed_product("Acme", "VM", 5_000).await;
    let (bolt, _) = api.listed_product("Bolt", "DB", 5_000).await;
    let acme_org = api.read_as(&acme, "/v1/me").await["org_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (staff_id, staff) = staff_member(api, &acme, &acme_org).await;
    let bolt_org = api.read_as(&bolt, "/v1/me").await["org_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, bolt_staff) = staff_member(api, &bolt, &bolt_org).await;
    let (_, ann) = api.create_principal("customer", None).await;
    let (_, bo) = api.create_principal("customer", None).await;
    let (_, auditor) = api.create_principal("auditor", None).await;
    let (_, analyst) = api.create_principal("analyst", None).await;
    let (principal, _) = api.create_principal("customer", None).await;

    let order = api.paid_order(&ann, &product, 1, 0).await;
    let on_order = |what: &str| format!("/v1/orders/{order}/{what}");
    let refund = created(
        api,
        &ann,
        &on_order("refund-requests"),
        json!({"amount_cents": 100, "reason": "r"}),
    )
    .await;
    let invoice = created(
        api,
        &ann,
        &on_order("invoice-requests"),
        json!({"type": "ordinary", "title": "T", "tax_id": "X1", "address": "A"}),
    )
    .await;
    let review = created(
        api,
        &ann,
        &on_order("review"),
        json!({"quality": 4, "attitude": 5, "speed": 5, "comment": "ok"}),
    )
    .await;
    let instance = api
        .read_as(ADMIN, &format!("/v1/instances?order_id={order}"))
        .await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let promotion = created(
        api,
        &acme,
        "/v1/promotions",
        json!({"product_id": product, "name": "Spring", "kind": "reduce", "reduce_cents": 100,
               "starts_at": "2026-01-01T00:00:00+08:00", "ends_at": "2036-01-01T00:00:00+08:00"}),
    )
    .await;
    let campaign = created(
        api,
        &acme,
        "/v1/coupon-campaigns",
        json!({"name": "C", "scope": "store", "kind": "discount", "pay_permille": 900,
               "per_customer_limit": 5, "valid_from": "2026-11-01T00:00:00+08:00",
               "valid_until": "2027-01-01T00:00:00+08:00", "total_quantity": 100,
               "scenarios": ["new"], "show_in_store": true}),
    )
    .await;
    let template = created(
        api,
        &acme,
        "/v1/flow-templates",
        json!({"name": "Mine", "nodes": []}),
    )
    .await;
    // Ann's paid order of Acme's manual product: its delivery, started by the payment
    // policy, waits on her requirement form; she attached a file to it.
    let manual = created(
        api,
        &acme,
        "/v1/products",
        json!({"code": "MIG", "name": "Migration", "category": "services",
               "delivery": "manual", "delivery_days": 7, "warranty_days": 30,
               "flow_template_id": "tpl_standard_manual",
               "specs": [{"id": "m", "name": "once", "duration": 1, "unit": "once",
                          "price_cents": 5_000}]}),
    )
    .await;
    api.approve_product(&acme, &manual).await;
    let manual_order = api.paid_order(&ann, &manual, 1, 0).await;
    loop {
        let head = api.head().await;
        assert!(
            api.app
                .policies
                .wait_for(head, Duration::from_secs(5))
                .await
        );
        if api.head().await == head {
            break;
        }
    }
    let delivery = domain::delivery::project::delivery_id_for(&manual_order);
    let file = api
        .call(
            "POST",
            &format!("/v1/deliveries/{delivery}/files?name=brief.txt"),
        )
        .token(&ann)
        .header("content-type", "text/plain")
        .raw(b"the brief".to_vec())
        .send()
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The campaign's and the template's reads come from their read models.
    assert!(
        api.app
            .wait_all_quietly(api.head().await, Duration::from_secs(5))
            .await
    );
    let cast = Cast {
        own: vec![
            (Role::Platform, ADMIN.to_owned()),
            (Role::IsvAdmin, acme),
            (Role::IsvStaff, staff),
            (Role::Customer, ann),
            (Role::Auditor, auditor),
            (Role::Analyst, analyst),
        ],
        other_customer: bo,
        other_seller: bolt,
        other_staff: bolt_staff,
    };
    let ids = Ids {
        product,
        order,
        refund,
        invoice,
        review,
        instance,
        principal,
        promotion,
        campaign,
        org: acme_org,
        staff: staff_id,
        template,
        delivery,
        file,
    };
    (cast, ids)
}

/// The rule's path with every parameter naming the drill's record.
fn uri(rule: &Rule, ids: &Ids) -> String {
    let id = match rule.path.split('/').nth(2) {
        Some("products") => ids.product.as_str(),
        Some("orders") => ids.order.as_str(),
        Some("refunds") => ids.refund.as_str(),
        Some("invoices") => ids.invoice.as_str(),
        Some("reviews") => ids.review.as_str(),
        Some("instances") => ids.instance.as_str(),
        Some("principals") => ids.principal.as_str(),
        Some("promotions") => ids.promotion.as_str(),
        Some("coupon-campaigns") => ids.campaign.as_str(),
        Some("staff") => ids.staff.as_str(),
        Some("flow-templates") => ids.template.as_str(),
        Some("deliveries") => ids.delivery.as_str(),
        Some("files") => ids.file.as_str(),
        _ => "",
    };
    let query = match rule.tenancy {
        Tenancy::QueryOrg => format!("?org_id={}", ids.org),
        _ => String::new(),
    };
    let path = rule
        .path
        .replace("{id}", id)
        .replace("{org}", &ids.org)
        .replace("{spec}", "m")
        .replace("{year}", "2026")
        .replace("{stream_id}", &domain::order::order_stream(&ids.order))
        .replace("{name}", "instances")
        .replace("{node_id}", "submit_requirement");
    path + &query
}

/// Does the route name one record (in its path, or the org its query names)?
fn names_record(rule: &Rule) -> bool {
    rule.path.contains('{') || rule.tenancy == Tenancy::QueryOrg
}

/// Calls the route as `token` (none for `None`): the status and, when it was read, the body.
/// A body of `{}` to every write: the access checks (403, 404) come before the body's (400),
/// so the drill rarely changes a record.
async fn call(api: &Api, rule: &Rule, uri: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut c = api.call(rule.method, uri);
    if let Some(t) = token {
        c = c.token(t);
    }
    if rule.method != "GET" {
        c = c.json(&json!({}));
    }
    // An allowed caller of the live feed gets a stream that does not end: its status only.
    if rule.path == "/v1/events/live" {
        let r = c.send_streaming().await;
        let status = r.status();
        if status.is_success() {
            return (status, Value::Null);
        }
        let body = r.into_body().collect().await.unwrap().to_bytes();
        return (status, serde_json::from_slice(&body).unwrap_or(Value::Null));
    }
    let r = c.send().await;
    let body = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_role_as_the_table_says() {
    let api = Api::new().await;
    let (cast, ids) = setup(&api).await;
    let registered: BTreeSet<(String, String)> = {
        let doc = api.read_as(ADMIN, "/v1/openapi.json").await;
        doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, ops)| {
                ops.as_object()
                    .unwrap()
                    .keys()
                    .map(|m| (m.to_uppercase(), path.clone()))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let table: BTreeSet<(String, String)> = RULES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(
        registered, table,
        "routes registered vs routes of the table"
    );

    for rule in RULES {
        let uri = uri(rule, &ids);
        let at = format!("{} {uri}", rule.method);
        if rule.allowed == Allowed::Public {
            let (status, _) = call(&api, rule, &uri, None).await;
            assert!(status.is_success(), "{at} without a token: {status}");
            continue;
        }
        let (status, _) = call(&api, rule, &uri, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{at} without a token");
        // Another tenant first: the drill's writes must not have touched the record yet.
        for &role in rule.tenancy.bound_roles() {
            if !rule.allows(role) {
                continue;
            }
            let (status, body) = call(&api, rule, &uri, Some(cast.other(role))).await;
            if names_record(rule) {
                assert_eq!(
                    status,
                    StatusCode::NOT_FOUND,
                    "{at} as another tenant's {role}: {body}"
                );
                assert_eq!(body["error"]["code"], "not_found", "{at} as {role}");
            } else {
                assert_eq!(status, StatusCode::OK, "{at} as another tenant's {role}");
                if rule.path != "/v1/orders/export.csv" {
                    assert_eq!(
                        body["items"],
                        json!([]),
                        "{at} lists another tenant's records to {role}"
                    );
                }
            }
        }
        for role in Role::ALL {
            let (status, body) = call(&api, rule, &uri, Some(cast.own(role))).await;
            if rule.allows(role) {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{at} as {role} (allowed): {status} {body}"
                );
                if rule.tenancy != Tenancy::Open && names_record(rule) {
                    assert_ne!(
                        status,
                        StatusCode::NOT_FOUND,
                        "{at} as {role} of the record's own tenant: {body}"
                    );
                }
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{at} as {role} (forbidden): {body}"
                );
                assert_eq!(body["error"]["code"], "forbidden", "{at} as {role}");
            }
        }
    }
}
