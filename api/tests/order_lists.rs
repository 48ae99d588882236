//! Order lists (API.md §5): newest first, paged by cursor without gap or repeat, each party
//! seeing only its own orders.

mod common;

use axum::http::StatusCode;
use common::{Api, ADMIN};
use serde_json::{json, Value};

struct Market {
    seller: String,
    product: String,
}

async fn market(api: &Api, name: &str) -> Market {
    let (seller, product) = api.listed_product(name, "VM", 5000).await;
    Market { seller, product }
}

async fn place(api: &Api, customer: &str, m: &Market) -> String {
    api.place_order(customer, &m.product, 1).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn created(api_items: &[Value]) -> Vec<String> {
    api_items
        .iter()
        .map(|o| o["created_at"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_of_every_size_list_each_order_once_newest_first_and_only_to_its_parties() {
    let api = Api::new().await;
    let a = market(&api, "Acme").await;
    let b = market(&api, "Bolt").await;
    let (_, ann) = api.create_principal("customer", None).await;
    let (_, bo) = api.create_principal("customer", None).await;
    let mut placed = Vec::new();
    for i in 0..9 {
        // Some orders share a creation time, most do not.
        if i % 3 != 2 {
            api.post("/v1/admin/clock/advance", json!({"seconds": 60}))
                .await
                .expect(StatusCode::OK);
        }
        let (customer, m) = match i % 4 {
            0 => (&ann, &a),
            1 => (&bo, &a),
            2 => (&ann, &b),
            _ => (&bo, &b),
        };
        placed.push((place(&api, customer, m).await, customer.clone(), i % 4 < 2));
    }
    let everything = api.read_as(ADMIN, "/v1/orders?limit=100").await;
    let items = everything["items"].as_array().unwrap();
    assert_eq!(items.len(), placed.len());
    let times = created(items);
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    let full: Vec<String> = items
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    for limit in 1..=4 {
        assert_eq!(
            api.ids_of_all_pages(ADMIN, "/v1/orders", limit).await,
            full,
            "limit {limit}"
        );
    }
    // Each party sees exactly its own, in the same order, on every page size.
    let own = |keep: &dyn Fn(&(String, String, bool)) -> bool| -> Vec<String> {
        full.iter()
            .filter(|id| placed.iter().any(|p| &p.0 == *id && keep(p)))
            .cloned()
            .collect()
    };
    for limit in [1, 2, 5] {
        assert_eq!(
            api.ids_of_all_pages(&ann, "/v1/orders", limit).await,
            own(&|p| p.1 == ann)
        );
        assert_eq!(
            api.ids_of_all_pages(&bo, "/v1/orders", limit).await,
            own(&|p| p.1 == bo)
        );
        assert_eq!(
            api.ids_of_all_pages(&a.seller, "/v1/orders", limit).await,
            own(&|p| p.2)
        );
        assert_eq!(
            api.ids_of_all_pages(&b.seller, "/v1/orders", limit).await,
            own(&|p| !p.2)
        );
        // A filter on top of the party's own orders.
        assert_eq!(
            api.ids_of_all_pages(&ann, &format!("/v1/orders?product_id={}", a.product), limit)
                .await,
            own(&|p| p.1 == ann && p.2)
        );
    }
    // A cursor this server did not issue is refused, naming the field.
    let forged = api
        .call("GET", "/v1/orders?cursor=Z2FyYmFnZQ")
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(
        forged.error(StatusCode::BAD_REQUEST, "bad_request")["field"],
        "cursor"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_instances_refunds_and_invoices_page_without_gap_or_repeat_for_each_party() {
    let api = Api::new().await;
    let a = market(&api, "Acme").await;
    let b = market(&api, "Bolt").await;
    let _c = market(&api, "Cora").await;
    let (_, ann) = api.create_principal("customer", None).await;
    let (_, bo) = api.create_principal("customer", None).await;
    // Ann buys 4 of Acme's and 1 of Bolt's, Bo 1 of Acme's; every order gets a refund
    // request and an invoice request.
    let mut orders = Vec::new();
    for (customer, m) in [
        (&ann, &a),
        (&ann, &a),
        (&bo, &a),
        (&ann, &b),
        (&ann, &a),
        (&ann, &a),
    ] {
        let id = api.paid_order(customer, &m.product, 1, 0).await;
        orders.push(id.clone());
        api.post_as(
            customer,
            &format!("/v1/orders/{id}/refund-requests"),
            json!({"amount_cents": 100, "reason": "paging"}),
        )
        .await
        .expect(StatusCode::CREATED);
        api.post_as(
            customer,
            &format!("/v1/orders/{id}/invoice-requests"),
            json!({"type": "ordinary", "title": "T", "tax_id": "X1", "address": "A"}),
        )
        .await
        .expect(StatusCode::CREATED);
    }
    for (token, path, expected) in [
        (ADMIN, "/v1/products", 3),
        (ADMIN, "/v1/instances", 6),
        (ann.as_str(), "/v1/instances", 5),
        (bo.as_str(), "/v1/instances", 1),
        (a.seller.as_str(), "/v1/instances", 5),
        (ADMIN, "/v1/refunds", 6),
        (ann.as_str(), "/v1/refunds", 5),
        (bo.as_str(), "/v1/refunds", 1),
        (a.seller.as_str(), "/v1/refunds?status=pending_seller", 5),
        (b.seller.as_str(), "/v1/refunds", 1),
        (ann.as_str(), "/v1/invoices", 5),
        (bo.as_str(), "/v1/invoices", 1),
        (a.seller.as_str(), "/v1/invoices?status=requested", 5),
        (b.seller.as_str(), "/v1/invoices", 1),
        (ADMIN, "/v1/invoices", 6),
    ] {
        let full = api.ids_of_all_pages(token, path, 100).await;
        assert_eq!(full.len(), expected, "{path}");
        let mut sorted = full.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, full, "{path}: not in id order, or repeated");
        for limit in 1..=3 {
            assert_eq!(
                api.ids_of_all_pages(token, path, limit).await,
                full,
                "{path} limit {limit}"
            );
        }
    }
    // The filters of both lists: one order (Ann's first; Bo may not see it), a status
    // nothing is in, and a query field neither list knows.
    let anns = &orders[0];
    for (token, path, expected) in [
        (ADMIN, format!("/v1/refunds?order_id={anns}"), 1),
        (ann.as_str(), format!("/v1/refunds?order_id={anns}"), 1),
        (bo.as_str(), format!("/v1/refunds?order_id={anns}"), 0),
        (ADMIN, format!("/v1/invoices?order_id={anns}"), 1),
        (bo.as_str(), format!("/v1/invoices?order_id={anns}"), 0),
        (ADMIN, "/v1/refunds?status=approved".into(), 0),
        (ADMIN, "/v1/invoices?status=issued".into(), 0),
    ] {
        let ids = api.ids_of_all_pages(token, &path, 100).await;
        assert_eq!(ids.len(), expected, "{path}");
    }
    for path in ["/v1/refunds?colour=red", "/v1/invoices?colour=red"] {
        api.get(path)
            .await
            .error(StatusCode::BAD_REQUEST, "bad_request");
    }
}

/// An order the filter test placed, and what it did with it.
struct Placed {
    id: String,
    customer: String,
    product: String,
    fate: &'static str,
    channel: &'static str,
    created: String,
}

/// Ids listed by `GET /v1/orders?<query>` for `token` (one page of up to 100), sorted.
async fn ids_where(api: &Api, token: &str, query: &str) -> Vec<String> {
    let mut ids = api
        .ids_of_all_pages(token, &format!("/v1/orders?{query}"), 100)
        .await;
    ids.sort();
    ids
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| (*s).clone()).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_list_filter_selects_exactly_its_orders_and_the_csv_export_matches() {
    let api = Api::new().await;
    let (_, vm) = api.listed_product("Cloud", "VM", 5000).await;
    // A second product, of another seller, with a name that needs CSV quoting.
    let (org, _) = api.create_org("Bolt").await;
    let (_, db_seller) = api.create_principal("isv_admin", Some(&org)).await;
    let db = api
        .post_as(&db_seller, "/v1/products", json!({
            "code": "DB", "name": "Managed \"Postgres\", HA", "category": "database",
            "delivery": "saas", "delivery_days": 0, "warranty_days": 0,
            "specs": [{"id": "m", "name": "monthly", "duration": 1, "unit": "month", "price_cents": 7000}]
        }))
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.approve_product(&db_seller, &db).await;
    let (ann_id, ann) = api.create_principal("customer", None).await;
    let (_, bo) = api.create_principal("customer", None).await;

    // Orders one minute apart.
    let mut orders: Vec<Placed> = Vec::new();
    let plan = [
        (&ann, &vm, "unpaid", "online_store"),
        (&bo, &vm, "paid", "online_store"),
        (&ann, &db, "paid", "custom_solution"),
        (&bo, &db, "voided", "online_store"),
        (&ann, &vm, "paid", "custom_solution"),
        (&bo, &vm, "unpaid", "online_store"),
    ];
    for (customer, product, fate, channel) in plan {
        api.post("/v1/admin/clock/advance", json!({"seconds": 60}))
            .await
            .expect(StatusCode::OK);
        let placed = api
            .call("POST", "/v1/orders")
            .token(customer)
            .json(
                &json!({"product_id": product, "spec_id": "m", "quantity": 1, "order_type": "new",
                "channel": {"kind": channel, "ref": "sol-1"}}),
            )
            .send()
            .await
            .expect(StatusCode::CREATED);
        let id = placed["id"].as_str().unwrap().to_owned();
        match fate {
            "paid" => {
                api.call("POST", &format!("/v1/orders/{id}/pay"))
                    .token(customer)
                    .json(&json!({"amount_cents": placed["payable_cents"]}))
                    .send()
                    .await
                    .expect(StatusCode::OK);
            }
            "voided" => {
                api.call("POST", &format!("/v1/orders/{id}/cancel"))
                    .token(customer)
                    .send()
                    .await
                    .expect(StatusCode::OK);
            }
            _ => {}
        }
        let created = placed["created_at"].as_str().unwrap().to_owned();
        orders.push(Placed {
            id,
            customer: customer.clone(),
            product: product.clone(),
            fate,
            channel,
            created,
        });
    }
    let ids = |keep: &dyn Fn(&Placed) -> bool| {
        sorted(
            &orders
                .iter()
                .filter(|o| keep(o))
                .map(|o| &o.id)
                .collect::<Vec<_>>(),
        )
    };
    let all = ids(&|_| true);
    assert_eq!(ids_where(&api, ADMIN, "").await, all);
    let enc = |s: &str| s.replace(':', "%3A").replace('+', "%2B");
    for (query, expected) in [
        ("status=unpaid".to_owned(), ids(&|o| o.fate == "unpaid")),
        ("status=voided".to_owned(), ids(&|o| o.fate == "voided")),
        ("order_type=new".to_owned(), all.clone()),
        ("order_type=renewal".to_owned(), vec![]),
        (format!("product_id={db}"), ids(&|o| o.product == db)),
        ("product_code=VM".to_owned(), ids(&|o| o.product == vm)),
        // Name: a case-insensitive substring.
        (
            "product_name=postgres".to_owned(),
            ids(&|o| o.product == db),
        ),
        ("product_name=CLOUD".to_owned(), ids(&|o| o.product == vm)),
        (format!("customer_id={ann_id}"), ids(&|o| o.customer == ann)),
        (
            "channel=custom_solution".to_owned(),
            ids(&|o| o.channel == "custom_solution"),
        ),
        (
            format!("order_id={}", orders[3].id),
            vec![orders[3].id.clone()],
        ),
        // Purchase time: both bounds inclusive, any status.
        (
            format!(
                "created_from={}&created_to={}",
                enc(&orders[1].created),
                enc(&orders[3].created)
            ),
            sorted(&[&orders[1].id, &orders[2].id, &orders[3].id]),
        ),
        // Completion time: completed orders only (a SaaS order completes at payment).
        (
            format!("completed_from={}", enc(&orders[2].created)),
            sorted(&[&orders[2].id, &orders[4].id]),
        ),
        (
            format!("status=paid&customer_id={ann_id}&channel=custom_solution"),
            ids(&|o| o.fate == "paid" && o.customer == ann && o.channel == "custom_solution"),
        ),
    ] {
        assert_eq!(ids_where(&api, ADMIN, &query).await, expected, "{query}");
    }
    // A party's own list with a filter on top; another customer's id does not widen it.
    assert_eq!(
        ids_where(&api, &bo, &format!("customer_id={ann_id}")).await,
        Vec::<String>::new()
    );
    assert_eq!(
        ids_where(&api, &db_seller, "status=paid").await,
        ids(&|o| o.product == db && o.fate == "paid")
    );

    // The CSV export: header first, then the same orders as the list, newest first, with
    // the awkward name quoted.
    let csv = api
        .call("GET", "/v1/orders/export.csv?product_code=DB")
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let text = String::from_utf8(csv.body.to_vec()).unwrap();
    let mut rows = csv_rows(&text);
    let header = rows.remove(0);
    assert_eq!(header[0], "id");
    let name = header.iter().position(|h| h == "product_name").unwrap();
    let listed = api
        .ids_of_all_pages(ADMIN, "/v1/orders?product_code=DB", 100)
        .await;
    assert_eq!(
        rows.iter().map(|r| r[0].clone()).collect::<Vec<_>>(),
        listed
    );
    assert!(rows.iter().all(|r| r[name] == "Managed \"Postgres\", HA"));
    assert!(csv.header("x-next-cursor").is_none(), "everything fitted");

    // An export larger than its limit says where the next one starts: the exports together
    // hold every order once, in list order.
    let everything = api.ids_of_all_pages(ADMIN, "/v1/orders", 100).await;
    let mut exported = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut uri = "/v1/orders/export.csv?limit=4".to_owned();
        if let Some(c) = &cursor {
            uri.push_str(&format!("&cursor={c}"));
        }
        let part = api.call("GET", &uri).token(ADMIN).send().await;
        assert_eq!(part.status, StatusCode::OK);
        let text = String::from_utf8(part.body.to_vec()).unwrap();
        let mut rows = csv_rows(&text);
        assert_eq!(rows.remove(0)[0], "id", "every part starts with the header");
        assert!(rows.len() <= 4);
        exported.extend(rows.into_iter().map(|r| r[0].clone()));
        cursor = part.header("x-next-cursor");
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(exported, everything);
    let too_big = api
        .call("GET", "/v1/orders/export.csv?limit=100001")
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(
        too_big.error(StatusCode::BAD_REQUEST, "bad_request")["field"],
        "limit"
    );
}

/// A small RFC 4180 reader (quoted fields, doubled quotes, commas inside quotes).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            ('\r', false) => {}
            (c, _) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_query_parameter_is_named_in_the_error() {
    let api = Api::new().await;
    for (query, field) in [
        ("limit=abc", "limit"),
        ("colour=red", "colour"),
        ("created_from=yesterday", "created_from"),
        ("limit=0", "limit"),
    ] {
        let r = api.get(&format!("/v1/orders?{query}")).await;
        assert_eq!(
            r.error(StatusCode::BAD_REQUEST, "bad_request")["field"],
            field,
            "{query}"
        );
    }
}
