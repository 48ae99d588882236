//! API.md §6: promotions. A promotion lives in its product's stream (ADR 0006), so its
//! commands run on `product-<id>` and its `If-Match` / `ETag` name that stream's version; a
//! route that names a promotion finds its product through the promotions read model's index
//! (waiting for the model when the id is new, as refunds find their order).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::ids::IdKind;
use domain::pricing::{PromotionKind, PromotionStatus};
use domain::product::{product_stream, Product, ProductCommand, ProductState, Promotion};
use domain::promotion::{ConditionsInput, DurationInput, PromotionCommand, PromotionInput};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access;
use crate::error::ApiError;
use crate::extract::{Body, Caller, CommandHeaders, MinPosition};
use crate::paging::{page, PageQuery};
use crate::respond;
use crate::routes::{Doc, Routes};
use crate::state::App;

/// A spec duration a promotion is limited to.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DurationBody {
    #[schema(minimum = 1, maximum = 120)]
    pub duration: u32,
    #[schema(schema_with = crate::schema::duration_unit)]
    pub unit: String,
}

/// A promotion's conditions; a missing or empty list means "any".
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionsBody {
    /// Among `new`, `renewal`, `upgrade`.
    pub order_types: Option<Vec<String>>,
    #[schema(minimum = 1, maximum = 100)]
    pub min_quantity: Option<u32>,
    /// Among `web`, `mobile`, `api`.
    pub clients: Option<Vec<String>>,
    #[schema(max_items = 20)]
    pub durations: Option<Vec<DurationBody>>,
    pub first_purchase_only: Option<bool>,
    pub real_name_only: Option<bool>,
}

/// A promotion's full terms (create: with its product; edit: the product cannot change).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionBody {
    /// Required to create; on an edit, if given, the promotion's own product.
    pub product_id: Option<String>,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(schema_with = kind)]
    pub kind: String,
    /// `reduce` only: cents off the line, at most the cheapest applicable spec price.
    #[schema(minimum = 1)]
    pub reduce_cents: Option<i64>,
    /// `discount` only: the line costs this per-mille of its price.
    #[schema(minimum = 10, maximum = 990)]
    pub pay_permille: Option<u32>,
    /// RFC 3339; the window is `starts_at` (inclusive) .. `ends_at` (exclusive).
    pub starts_at: String,
    pub ends_at: String,
    /// The specs it applies to; empty: all.
    #[schema(max_items = 20)]
    pub spec_ids: Option<Vec<String>>,
    pub conditions: Option<ConditionsBody>,
}

fn kind() -> utoipa::openapi::schema::Object {
    crate::schema::one_of(&["reduce", "discount"])
}

fn status() -> utoipa::openapi::schema::Object {
    crate::schema::one_of(&["pre_published", "published", "deleted"])
}

/// A promotion's conditions as answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConditionsView {
    pub order_types: Vec<String>,
    pub min_quantity: Option<u32>,
    pub clients: Vec<String>,
    pub durations: Vec<DurationBody>,
    pub first_purchase_only: bool,
    pub real_name_only: bool,
}

/// The promotion read model (API.md §6).
#[derive(Debug, Serialize, ToSchema)]
pub struct PromotionResource {
    pub id: String,
    pub product_id: String,
    pub seller_org_id: String,
    pub name: String,
    #[schema(schema_with = kind)]
    pub kind: String,
    pub reduce_cents: Option<i64>,
    pub pay_permille: Option<u32>,
    pub starts_at: String,
    pub ends_at: String,
    pub spec_ids: Vec<String>,
    pub conditions: ConditionsView,
    #[schema(schema_with = status)]
    pub status: String,
    /// Published and inside its window now.
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
    /// The product stream's version.
    pub version: u64,
    /// Command answers only: the log position of the command's last event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
}

crate::page!(
    /// One page of promotions, in id order.
    PromotionResourcePage,
    PromotionResource
);

/// A promotion's answer.
pub fn promotion_view(
    app: &App,
    product_id: &str,
    seller_org_id: &str,
    p: &Promotion,
    version: u64,
) -> PromotionResource {
    let t = &p.terms;
    let (kind, reduce_cents, pay_permille) = match t.kind {
        PromotionKind::Reduce { reduce } => ("reduce", Some(reduce.0), None),
        PromotionKind::Discount { pay_permille } => ("discount", None, Some(pay_permille)),
    };
    let c = &t.conditions;
    PromotionResource {
        id: t.id.clone(),
        product_id: product_id.to_owned(),
        seller_org_id: seller_org_id.to_owned(),
        name: t.name.clone(),
        kind: kind.to_owned(),
        reduce_cents,
        pay_permille,
        starts_at: app.time(t.starts_at),
        ends_at: app.time(t.ends_at),
        spec_ids: t.spec_ids.clone(),
        conditions: ConditionsView {
            order_types: c
                .order_types
                .iter()
                .map(|o| o.as_str().to_owned())
                .collect(),
            min_quantity: c.min_quantity,
            clients: c.clients.iter().map(|o| o.as_str().to_owned()).collect(),
            durations: c
                .durations
                .iter()
                .map(|d| DurationBody {
                    duration: d.duration,
                    unit: d.unit.as_str().to_owned(),
                })
                .collect(),
            first_purchase_only: c.first_purchase_only,
            real_name_only: c.real_name_only,
        },
        status: t.status.as_str().to_owned(),
        active: p.active(app.clock.now()),
        created_at: app.time(p.created_at),
        updated_at: app.time(p.updated_at),
        version,
        position: None,
    }
}

fn time(field: &str, v: &str) -> Result<domain::Timestamp, ApiError> {
    crate::routes::products::parse_time(field, &Some(v.to_owned()))?
        .ok_or_else(|| ApiError::bad_request(format!("{field} is required")).with("field", field))
}

fn input(b: PromotionBody) -> Result<PromotionInput, ApiError> {
    let c = b.conditions.unwrap_or_default();
    Ok(PromotionInput {
        starts_at: time("starts_at", &b.starts_at)?,
        ends_at: time("ends_at", &b.ends_at)?,
        name: b.name,
        kind: b.kind,
        reduce_cents: b.reduce_cents,
        pay_permille: b.pay_permille,
        spec_ids: b.spec_ids.unwrap_or_default(),
        conditions: ConditionsInput {
            order_types: c.order_types.unwrap_or_default(),
            min_quantity: c.min_quantity,
            clients: c.clients.unwrap_or_default(),
            durations: c
                .durations
                .unwrap_or_default()
                .into_iter()
                .map(|d| DurationInput {
                    duration: d.duration,
                    unit: d.unit,
                })
                .collect(),
            first_purchase_only: c.first_purchase_only.unwrap_or(false),
            real_name_only: c.real_name_only.unwrap_or(false),
        },
    })
}

/// The product holding promotion `id`, found through the promotions model's index.
async fn product_holding(app: &App, id: &str) -> Result<String, ApiError> {
    let find = || app.promotions.read(|s| s.product_of.get(id).cloned()).0;
    if let Some(p) = find() {
        return Ok(p);
    }
    app.caught_up(&app.promotions).await;
    find().ok_or_else(|| ApiError::not_found("promotion"))
}

/// Runs a promotion command on `product_id`'s stream (after the role check, 403, and the
/// seller check, 404) and answers the promotion `promotion_id`.
async fn run(
    app: &App,
    caller: &Caller,
    headers: &CommandHeaders,
    body: &Body,
    product_id: &str,
    name: &'static str,
    command: PromotionCommand,
) -> Result<(u64, u64, ProductState), ApiError> {
    let stream = product_stream(product_id);
    if eventlog::validate_stream_id(&stream).is_err() {
        return Err(ApiError::not_found("product"));
    }
    let meta = app.command_meta(caller, headers, body, name)?;
    let done = app
        .runner
        .execute::<Product>(&meta, &stream, &ProductCommand::Promotion(command))
        .await?;
    Ok((done.version, done.position, done.state))
}

fn answer(
    app: &App,
    status: StatusCode,
    product_id: &str,
    promotion_id: &str,
    (version, position, state): (u64, u64, ProductState),
) -> Result<Response, ApiError> {
    let p = state
        .promotion(promotion_id)
        .ok_or_else(|| ApiError::internal("promotion answer", "no such promotion"))?;
    let seller = state.seller_org_id().unwrap_or_default();
    let view = PromotionResource {
        position: Some(position),
        ..promotion_view(app, product_id, seller, p, version)
    };
    Ok(respond::command(status, &view, version))
}

/// The product of promotion `id` if the caller is its seller (others: 404).
async fn sellers_product(app: &App, caller: &Caller, id: &str) -> Result<String, ApiError> {
    let product_id = product_holding(app, id).await?;
    let current = app
        .runner
        .load::<Product>(&product_stream(&product_id), u64::MAX)?;
    if !access::acts_on_product(caller, &access::EDIT_PROMOTION, &current.state) {
        return Err(ApiError::not_found("promotion"));
    }
    Ok(product_id)
}

async fn create(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    body: Body,
) -> Result<Response, ApiError> {
    access::CREATE_PROMOTION.check(&caller)?;
    let b: PromotionBody = body.json()?;
    let product_id = b.product_id.clone().ok_or_else(|| {
        ApiError::bad_request("product_id is required").with("field", "product_id")
    })?;
    let input = input(b)?;
    let promotion_id = app.ids.new_id(IdKind::Promotion);
    let command = PromotionCommand::Create {
        promotion_id: promotion_id.clone(),
        input,
    };
    let done = run(
        &app,
        &caller,
        &headers,
        &body,
        &product_id,
        "CreatePromotion",
        command,
    )
    .await?;
    answer(&app, StatusCode::CREATED, &product_id, &promotion_id, done)
}

async fn edit(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::EDIT_PROMOTION.check(&caller)?;
    let product_id = sellers_product(&app, &caller, &id).await?;
    let b: PromotionBody = body.json()?;
    if b.product_id.as_deref().is_some_and(|p| p != product_id) {
        return Err(ApiError::from(domain::DomainError::validation(
            "product_id",
            "immutable",
            "a promotion's product cannot change",
        )));
    }
    let command = PromotionCommand::Edit {
        promotion_id: id.clone(),
        input: input(b)?,
    };
    let done = run(
        &app,
        &caller,
        &headers,
        &body,
        &product_id,
        "EditPromotion",
        command,
    )
    .await?;
    answer(&app, StatusCode::OK, &product_id, &id, done)
}

async fn publish(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let act = Act {
        rule: &access::PUBLISH_PROMOTION,
        name: "PublishPromotion",
        command: |promotion_id| PromotionCommand::Publish { promotion_id },
    };
    act.run(&app, &caller, &headers, id, &body).await
}

async fn delete(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let act = Act {
        rule: &access::DELETE_PROMOTION,
        name: "DeletePromotion",
        command: |promotion_id| PromotionCommand::Delete { promotion_id },
    };
    act.run(&app, &caller, &headers, id, &body).await
}

/// A promotion command that names nothing but the promotion (publish, delete).
struct Act {
    rule: &'static access::Rule,
    name: &'static str,
    command: fn(String) -> PromotionCommand,
}

impl Act {
    async fn run(
        &self,
        app: &App,
        caller: &Caller,
        headers: &CommandHeaders,
        id: String,
        body: &Body,
    ) -> Result<Response, ApiError> {
        self.rule.check(caller)?;
        let product_id = sellers_product(app, caller, &id).await?;
        let command = (self.command)(id.clone());
        let done = run(app, caller, headers, body, &product_id, self.name, command).await?;
        answer(app, StatusCode::OK, &product_id, &id, done)
    }
}

/// May `caller` see the promotions of a product sold by `seller_org_id`?
fn sees(caller: &Caller, seller_org_id: &str) -> bool {
    match caller.role {
        domain::Role::IsvAdmin => caller.org_id.as_deref() == Some(seller_org_id),
        _ => true,
    }
}

async fn detail(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    access::GET_PROMOTION.check(&caller)?;
    app.wait_for(&app.promotions, min).await?;
    product_holding(&app, &id).await?;
    let (found, position) = app.promotions.read(|s| {
        let (product_id, product, p) = s.get(&id)?;
        sees(&caller, &product.seller_org_id)
            .then(|| promotion_view(&app, product_id, &product.seller_org_id, p, product.version))
    });
    let view = found.ok_or_else(|| ApiError::not_found("promotion"))?;
    Ok(respond::read(&view, Some(view.version), position))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    product_id: Option<String>,
    status: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn list(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    access::LIST_PROMOTIONS.check(&caller)?;
    let q = crate::extract::query(q)?;
    let (limit, after) = PageQuery::bounds(q.limit, q.cursor.as_deref())?;
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(
            [
                PromotionStatus::PrePublished,
                PromotionStatus::Published,
                PromotionStatus::Deleted,
            ]
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                ApiError::bad_request("status must be pre_published, published or deleted")
                    .with("field", "status")
            })?,
        ),
    };
    app.wait_for(&app.promotions, min).await?;
    let ((items, next), position) = app.promotions.read(|s| {
        let rows = s
            .product_of
            .iter()
            .filter(|(_, product_id)| {
                q.product_id
                    .as_deref()
                    .is_none_or(|w| w == product_id.as_str())
            })
            .filter_map(|(id, _)| {
                let (product_id, product, p) = s.get(id)?;
                let keep = sees(&caller, &product.seller_org_id)
                    && status.is_none_or(|st| st == p.terms.status);
                keep.then(|| {
                    (
                        id.clone(),
                        promotion_view(
                            &app,
                            product_id,
                            &product.seller_org_id,
                            p,
                            product.version,
                        ),
                    )
                })
            });
        page(rows, after.as_deref(), limit)
    });
    Ok(respond::list::<PromotionResourcePage>(
        items, next, position,
    ))
}

pub fn routes(r: Routes) -> Routes {
    use axum::routing::{get, post, put};
    r.add(
        "POST",
        "/v1/promotions",
        post(create),
        Doc::new(
            "create a promotion of one of the caller's products (`pre_published`)",
            "isv_admin (seller)",
        )
        .body::<PromotionBody>()
        .answers::<PromotionResource>(201),
    )
    .add(
        "GET",
        "/v1/promotions",
        get(list),
        Doc::new(
            "promotions, in id order (an isv_admin sees its own products' only)",
            "isv_admin, platform, auditor",
        )
        .query("product_id", "optional")
        .query("status", "pre_published, published or deleted")
        .query("limit", "1..=500")
        .query("cursor", "next_cursor")
        .answers::<PromotionResourcePage>(200),
    )
    .add(
        "GET",
        "/v1/promotions/{id}",
        get(detail),
        Doc::new("one promotion", "isv_admin (seller), platform, auditor")
            .answers::<PromotionResource>(200),
    )
    .add(
        "PUT",
        "/v1/promotions/{id}",
        put(edit),
        Doc::new(
            "replace a promotion's terms (its product cannot change; If-Match: the product's version)",
            "isv_admin (seller)",
        )
        .body::<PromotionBody>()
        .answers::<PromotionResource>(200),
    )
    .add(
        "POST",
        "/v1/promotions/{id}/publish",
        post(publish),
        Doc::new(
            "publish: every customer's quote and order may get it",
            "isv_admin (seller)",
        )
        .answers::<PromotionResource>(200),
    )
    .add(
        "DELETE",
        "/v1/promotions/{id}",
        axum::routing::delete(delete),
        Doc::new("delete (final)", "isv_admin (seller)").answers::<PromotionResource>(200),
    )
}
