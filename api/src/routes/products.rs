//! API.md §4: products (the quote arrives with promotions and coupons).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::ids::IdKind;
use domain::product::{
    product_stream, DeliveryKind, DurationUnit, NewSpec, Product, ProductCommand, ProductState,
    ProductStatus, ProviderLink,
};
use domain::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access;
use crate::error::ApiError;
use crate::extract::{Body, Caller, CommandHeaders, MinPosition};
use crate::paging::{page, PageQuery};
use crate::respond;
use crate::routes::orders::{CouponView, PromotionView};
use crate::routes::{Doc, Routes};
use crate::state::App;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpecInput {
    pub id: String,
    #[schema(max_length = 200)]
    pub name: String,
    pub duration: u32,
    #[schema(schema_with = crate::schema::duration_unit)]
    pub unit: String,
    #[schema(minimum = 0, maximum = 1e10)]
    pub price_cents: i64,
    pub trial: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProduct {
    #[schema(min_length = 1, max_length = 64)]
    pub code: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(min_length = 1, max_length = 200)]
    pub category: String,
    #[schema(schema_with = crate::schema::delivery_kind)]
    pub delivery: String,
    #[schema(maximum = 3650)]
    pub delivery_days: u32,
    #[schema(maximum = 3650)]
    pub warranty_days: u32,
    /// Required for manual products.
    pub flow_template_id: Option<String>,
    #[schema(min_items = 1, max_items = 20)]
    pub specs: Vec<SpecInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    #[schema(max_length = 200)]
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpecPrice {
    #[schema(minimum = 0, maximum = 1e10)]
    pub price_cents: i64,
    #[schema(max_length = 200)]
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Distribution {
    /// Settable once.
    #[schema(minimum = 20, maximum = 60)]
    pub commission_percent: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderInput {
    pub org_id: String,
    #[schema(minimum = 1, maximum = 100)]
    pub weight: u32,
    #[schema(maximum = 10000)]
    pub max_active: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Providers {
    #[schema(max_items = 50)]
    pub providers: Vec<ProviderInput>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SpecView {
    pub id: String,
    pub name: String,
    pub duration: u32,
    #[schema(schema_with = crate::schema::duration_unit)]
    pub unit: DurationUnit,
    #[schema(minimum = 0)]
    pub price_cents: i64,
    pub trial: bool,
    /// A hidden spec cannot be ordered.
    pub hidden: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderView {
    pub org_id: String,
    #[schema(minimum = 1, maximum = 100)]
    pub weight: u32,
    #[schema(maximum = 10000)]
    pub max_active: u32,
}

/// The product read model (API.md §4).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductView {
    pub id: String,
    pub seller_org_id: String,
    pub code: String,
    pub name: String,
    pub category: String,
    #[schema(schema_with = crate::schema::product_status)]
    pub status: ProductStatus,
    #[schema(schema_with = crate::schema::delivery_kind)]
    pub delivery: DeliveryKind,
    pub delivery_days: u32,
    pub warranty_days: u32,
    pub flow_template_id: Option<String>,
    pub specs: Vec<SpecView>,
    #[schema(minimum = 20, maximum = 60)]
    pub commission_percent: Option<u32>,
    pub providers: Vec<ProviderView>,
    pub version: u64,
    /// Command answers only: the log position of the command's last event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
}

/// The price of an order line before placing it.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteView {
    pub original_cents: i64,
    /// The promotion that saves the most on the line, if any applies.
    pub promotion: Option<PromotionView>,
    /// The coupon `coupon_id` names, once it applies.
    pub coupon: Option<CouponView>,
    pub payable_cents: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuoteQuery {
    spec_id: Option<String>,
    quantity: Option<u32>,
    order_type: Option<String>,
    coupon_id: Option<String>,
    client: Option<String>,
}

/// `GET /v1/products/{id}/quote`: the same pricing the order placement applies.
async fn quote(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    q: Result<Query<QuoteQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    access::QUOTE.check(&caller)?;
    let stream = product_stream(&id);
    if eventlog::validate_stream_id(&stream).is_err() {
        return Err(ApiError::not_found("product"));
    }
    let product = app.runner.load::<Product>(&stream, u64::MAX)?;
    if !access::acts_on_product(&caller, &access::QUOTE, &product.state)
        || !access::sees_product(&caller, &product.state)
    {
        return Err(ApiError::not_found("product"));
    }
    let q = crate::extract::query(q)?;
    let spec_id = q
        .spec_id
        .ok_or_else(|| ApiError::bad_request("spec_id is required").with("field", "spec_id"))?;
    // Price exactly as placement would: run the order decider on a throw-away order.
    let place = domain::order::PlaceOrder {
        order_id: "ord_quote".into(),
        customer_id: caller.id.clone(),
        product_id: id.clone(),
        spec_id,
        quantity: q.quantity.unwrap_or(1),
        order_type: q.order_type.unwrap_or_else(|| "new".into()),
        instance_id: None,
        coupon_id: q.coupon_id,
        client: q.client,
        channel_kind: None,
        channel_ref: None,
        remark: None,
    };
    let events: Vec<domain::order::OrderEvent> = if caller.role == domain::Role::Customer {
        // The placement decision itself, over the streams it would read (the customer's
        // principal, purchases, wallet and the coupon's campaign), appending nothing.
        let outcome = app.runner.preview(&caller.actor(), &place)?;
        outcome
            .decoded::<domain::order::OrderEvent>(&domain::Decision::primary(&place))
            .map_err(|e| ApiError::internal("quote", e.to_string()))?
    } else {
        // The seller's own preview: pre_published promotions too, for a first-time,
        // real-name-verified customer; a seller holds no coupons.
        let buyer = domain::order::Buyer {
            viewer: domain::pricing::Viewer::Seller,
            first_purchase: true,
            real_name_verified: true,
        };
        let ctx = app.runner.context(&caller.actor());
        domain::order::place(
            &domain::order::OrderState::default(),
            &place,
            &product.state,
            None,
            &buyer,
            None,
            &ctx,
        )?
    };
    let Some(domain::order::OrderEvent::OrderPlaced(p)) = events.first() else {
        return Err(ApiError::internal("quote", "placement decided no event"));
    };
    let view = QuoteView {
        original_cents: p.original.0,
        promotion: p.promotion.as_ref().map(PromotionView::from),
        coupon: p.coupon.as_ref().map(CouponView::from),
        payable_cents: p.payable.0,
    };
    Ok(respond::read(&view, None, product.position))
}

crate::page!(
    /// One page of products, in id order.
    ProductPage,
    ProductView
);

pub fn routes(r: Routes) -> Routes {
    use axum::routing::{get, post, put};
    let action = |summary, roles| Doc::new(summary, roles).answers::<ProductView>(200);
    r.add(
        "POST",
        "/v1/products",
        post(create),
        Doc::new("create a product (draft) of the caller's org; a manual product's `flow_template_id` names a public template or a published one of the caller's org (422 `flow_template_id` rule `unknown_template` / `not_published`)", "isv_admin")
            .body::<CreateProduct>()
            .answers::<ProductView>(201),
    )
    .add(
        "GET",
        "/v1/products",
        get(list),
        Doc::new("products visible to the caller", "any")
            .query("limit", "1..=500")
            .query("cursor", "next_cursor")
            .answers::<ProductPage>(200),
    )
            .add("GET", "/v1/products/{id}", get(detail), Doc::new("one product", "any").answers::<ProductView>(200))
        .add("GET", "/v1/products/{id}/quote", get(quote), Doc::new("the price of an order line before placing it, by the pricing placement uses: spec price × quantity, the best promotion (the seller also sees `pre_published` ones), then the coupon", "customer; isv_admin of the seller").query("spec_id", "required").query("quantity", "1..=100, default 1").query("order_type", "default new").query("coupon_id", "optional").query("client", "optional").answers::<QuoteView>(200))
    .add(
        "POST",
        "/v1/products/{id}/submit",
        post(submit),
        action("submit for review", "isv_admin (seller)"),
    )
    .add(
        "POST",
        "/v1/products/{id}/approve",
        post(approve),
        action("approve: listed", "platform"),
    )
    .add(
        "POST",
        "/v1/products/{id}/reject",
        post(reject),
        action("reject back to draft", "platform").body::<Reason>(),
    )
    .add(
        "POST",
        "/v1/products/{id}/hide",
        post(hide),
        action(
            "hide a listed product (existing orders unaffected)",
            "isv_admin (seller)",
        ),
    )
    .add(
        "POST",
        "/v1/products/{id}/unhide",
        post(unhide),
        action("list a hidden product again", "isv_admin (seller)"),
    )
    .add(
        "POST",
        "/v1/products/{id}/delist",
        post(delist),
        action("delist (final)", "platform"),
    )
    .add(
        "POST",
        "/v1/products/{id}/specs/{spec}/price",
        post(spec_price),
        action(
            "change a spec's price (new orders only)",
            "isv_admin (seller)",
        )
        .body::<SpecPrice>(),
    )
    .add(
        "POST",
        "/v1/products/{id}/specs/{spec}/hide",
        post(spec_hide),
        action("hide a spec", "isv_admin (seller)"),
    )
    .add(
        "POST",
        "/v1/products/{id}/specs/{spec}/unhide",
        post(spec_unhide),
        action("unhide a spec", "isv_admin (seller)"),
    )
    .add(
        "POST",
        "/v1/products/{id}/distribution",
        post(distribution),
        action(
            "set the distribution commission once (a second call → 409)",
            "isv_admin (seller)",
        )
        .body::<Distribution>(),
    )
    .add(
        "PUT",
        "/v1/products/{id}/providers",
        put(providers),
        action(
            "link providers with weight and capacity",
            "platform, isv_admin (seller)",
        )
        .body::<Providers>(),
    )
}

/// A product's answer; `None` for a product that was never created.
pub fn product_view(id: &str, s: &ProductState, version: u64) -> Option<ProductView> {
    let c = s.created.as_ref()?;
    Some(ProductView {
        id: id.to_owned(),
        seller_org_id: c.seller_org_id.clone(),
        code: c.code.clone(),
        name: c.name.clone(),
        category: c.category.clone(),
        status: s.status,
        delivery: c.delivery,
        delivery_days: c.delivery_days,
        warranty_days: c.warranty_days,
        flow_template_id: c.flow_template_id.clone(),
        specs: s
            .specs
            .iter()
            .map(|sp| SpecView {
                id: sp.id.clone(),
                name: sp.name.clone(),
                duration: sp.duration,
                unit: sp.unit,
                price_cents: sp.price.0,
                trial: sp.trial,
                hidden: sp.hidden,
            })
            .collect(),
        commission_percent: s.commission_percent,
        providers: s
            .providers
            .iter()
            .map(|p| ProviderView {
                org_id: p.org_id.clone(),
                weight: p.weight,
                max_active: p.max_active,
            })
            .collect(),
        version,
        position: None,
    })
}

/// A command's answer about a product.
fn product_answer(
    status: StatusCode,
    id: &str,
    done: &crate::runner::Executed<ProductState>,
) -> Result<Response, ApiError> {
    let view = product_view(id, &done.state, done.version)
        .ok_or_else(|| ApiError::internal("product answer", "the product was never created"))?;
    let view = ProductView {
        position: Some(done.position),
        ..view
    };
    Ok(respond::command(status, &view, done.version))
}

async fn create(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    body: Body,
) -> Result<Response, ApiError> {
    access::CREATE_PRODUCT.check(&caller)?;
    let input: CreateProduct = body.json()?;
    let org = caller
        .org_id
        .clone()
        .ok_or_else(|| ApiError::forbidden("isv_admin without an org"))?;
    let product_id = app.ids.new_id(IdKind::Product);
    let cmd = ProductCommand::Create {
        product_id: product_id.clone(),
        seller_org_id: org,
        code: input.code,
        name: input.name,
        category: input.category,
        delivery: input.delivery,
        delivery_days: input.delivery_days,
        warranty_days: input.warranty_days,
        flow_template_id: input.flow_template_id,
        specs: input
            .specs
            .into_iter()
            .map(|s| NewSpec {
                id: s.id,
                name: s.name,
                duration: s.duration,
                unit: s.unit,
                price_cents: s.price_cents,
                trial: s.trial.unwrap_or(false),
            })
            .collect(),
    };
    let meta = app.command_meta(&caller, &headers, &body, "CreateProduct")?;
    let decision = domain::product::CreateProduct {
        product_id: product_id.clone(),
        command: cmd,
    };
    let done = app.runner.decide::<Product>(&meta, &decision).await?;
    let id = done
        .state
        .created
        .as_ref()
        .map(|c| c.product_id.clone())
        .unwrap_or(product_id);
    product_answer(StatusCode::CREATED, &id, &done)
}

/// Runs a product command after the role (403) and tenancy (404) checks.
/// What every product action carries.
struct Ctx<'a> {
    app: &'a App,
    caller: &'a Caller,
    headers: &'a CommandHeaders,
    body: &'a Body,
}

async fn act(
    Ctx {
        app,
        caller,
        headers,
        body,
    }: Ctx<'_>,
    id: &str,
    rule: &access::Rule,
    name: &'static str,
    cmd: impl FnOnce() -> Result<ProductCommand, ApiError>,
) -> Result<Response, ApiError> {
    rule.check(caller)?;
    let stream = product_stream(id);
    let current = app.runner.load::<Product>(&stream, u64::MAX)?;
    if !access::acts_on_product(caller, rule, &current.state) {
        return Err(ApiError::not_found("product"));
    }
    let command = cmd()?;
    let meta = app.command_meta(caller, headers, body, name)?;
    let done = app
        .runner
        .execute::<Product>(&meta, &stream, &command)
        .await?;
    product_answer(StatusCode::OK, id, &done)
}

async fn submit(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    act(
        Ctx {
            app: &app,
            caller: &caller,
            headers: &headers,
            body: &body,
        },
        &id,
        &access::SUBMIT_PRODUCT,
        "SubmitProduct",
        || Ok(ProductCommand::Submit),
    )
    .await
}
async fn approve(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    act(
        Ctx {
            app: &app,
            caller: &caller,
            headers: &headers,
            body: &body,
        },
        &id,
        &access::APPROVE_PRODUCT,
        "ApproveProduct",
        || Ok(ProductCommand::Approve),
    )
    .await
}
async fn reject(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let b = body.clone();
    act(
        Ctx {
            app: &app,
            caller: &caller,
            headers: &headers,
            body: &body,
        },
        &id,
        &access::REJECT_PRODUCT,
        "RejectProduct",
        || {
            Ok(ProductCommand::Reject {
                reason: b.json::<Reason>()?.reason,
            })
        },
    )
    .await
}
async fn hide(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    act(
        Ctx {
            app: &app,
            caller: &caller,
            headers: &headers,
            body: &body,
        },
        &id,
        &access::HIDE_PRODUCT,
        "HideProduct",
        || Ok(ProductCommand::Hide),
    )
    .await
}
async fn unhide(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    act(
        Ctx {
            app: &app,
            caller: &caller,
            headers: &headers,
            body: &body,
        },
        &id,
        &access::UNHIDE_PRODUCT,
        "UnhideProduct",
        || Ok(ProductCommand::Unhide),
    )
    .await
}
async fn delist(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    act(
        Ctx {
            app: &app,
            caller: &caller,
            headers: &headers,
            body: &body,
        },
        &id,
        &access::DELIST_PRODUCT,
        "DelistProduct",
        || Ok(ProductCommand::Delist),
    )
    .await
}
async fn spec_price(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path((id, spec)): Path<(String, String)>,
    body: Body,
) -> Result<Response, ApiError> {
    let b = body.clone();
    act(
        Ctx {
            app: &app,
            caller: &caller,
            headers: &headers,
            body: &body,
        },
        &id,
        &access::SPEC_PRICE,
        "ChangeSpecPrice",
        || {
            let p: SpecPrice = b.json()?;
            Ok(ProductCommand::ChangeSpecPrice {
                spec_id: spec,
                price_cents: p.price_cents,
                reason: p.reason,
            })
        },
    )
    .await
}
async fn spec_hide(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path((id, spec)): Path<(String, String)>,
    body: Body,
) -> Result<Response, ApiError> {
    act(
        Ctx {
            app: &app,
            caller: &caller,
            headers: &headers,
            body: &body,
        },
        &id,
        &access::SPEC_HIDE,
        "HideSpec",
        || {
            Ok(ProductCommand::SetSpecHidden {
                spec_id: spec,
                hidden: true,
            })
        },
    )
    .await
}
async fn spec_unhide(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path((id, spec)): Path<(String, String)>,
    body: Body,
) -> Result<Response, ApiError> {
    act(
        Ctx {
            app: &app,
            caller: &caller,
            headers: &headers,
            body: &body,
        },
        &id,
        &access::SPEC_UNHIDE,
        "UnhideSpec",
        || {
            Ok(ProductCommand::SetSpecHidden {
                spec_id: spec,
                hidden: false,
            })
        },
    )
    .await
}
async fn distribution(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let b = body.clone();
    act(
        Ctx {
            app: &app,
            caller: &caller,
            headers: &headers,
            body: &body,
        },
        &id,
        &access::DISTRIBUTION,
        "SetDistribution",
        || {
            Ok(ProductCommand::SetDistribution {
                commission_percent: b.json::<Distribution>()?.commission_percent,
            })
        },
    )
    .await
}
async fn providers(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let b = body.clone();
    app.caught_up(&app.directory).await;
    let orgs = app
        .directory
        .read(|d| {
            d.orgs
                .keys()
                .cloned()
                .collect::<std::collections::BTreeSet<_>>()
        })
        .0;
    act(
        Ctx {
            app: &app,
            caller: &caller,
            headers: &headers,
            body: &body,
        },
        &id,
        &access::PROVIDERS,
        "SetProviders",
        || {
            let p: Providers = b.json()?;
            let links: Vec<ProviderLink> = p
                .providers
                .into_iter()
                .map(|x| ProviderLink {
                    org_id: x.org_id,
                    weight: x.weight,
                    max_active: x.max_active,
                })
                .collect();
            // Field rules before the rule that needs the directory (API.md §1).
            domain::product::check_provider_links(&links)?;
            if let Some((i, unknown)) = links
                .iter()
                .enumerate()
                .find(|(_, x)| !orgs.contains(&x.org_id))
            {
                return Err(ApiError::validation(
                    &format!("providers[{i}].org_id"),
                    "unknown_org",
                    format!("organisation {} does not exist", unknown.org_id),
                ));
            }
            Ok(ProductCommand::SetProviders { providers: links })
        },
    )
    .await
}

async fn list(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    access::LIST_PRODUCTS.check(&caller)?;
    let q = crate::extract::query(q)?;
    let (limit, after) = (q.limit()?, q.after()?);
    app.wait_for(&app.products, min).await?;
    let ((items, next), position) = app.products.read(|s| {
        page(
            crate::paging::seek(&s.by_id, after.as_deref())
                .map(|(_, r)| r)
                .filter(|r| access::sees_product(&caller, &r.state))
                .filter_map(|r| Some((r.id.clone(), product_view(&r.id, &r.state, r.version)?))),
            after.as_deref(),
            limit,
        )
    });
    Ok(respond::list::<ProductPage>(items, next, position))
}

async fn detail(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    access::GET_PRODUCT.check(&caller)?;
    app.wait_for(&app.products, min).await?;
    let (found, position) = app.products.read(|s| {
        s.by_id
            .get(&id)
            .filter(|r| access::sees_product(&caller, &r.state))
            .and_then(|r| product_view(&r.id, &r.state, r.version))
    });
    let view = found.ok_or_else(|| ApiError::not_found("product"))?;
    Ok(respond::read(&view, Some(view.version), position))
}

/// RFC 3339 or an error naming the query field.
pub fn parse_time(field: &str, v: &Option<String>) -> Result<Option<Timestamp>, ApiError> {
    v.as_deref()
        .map(|s| {
            Timestamp::parse_rfc3339(s).map_err(|_| {
                ApiError::bad_request(format!("{field} must be an RFC 3339 time with offset"))
                    .with("field", field)
            })
        })
        .transpose()
}
