//! API.md §6: coupon campaigns — create, claim, batch grant, void, and their reads (the
//! campaign with its statistics, its coupons, a customer's own coupons). Redemption is part
//! of order placement (§5).
//!
//! A coupon's `status` is computed at read time with the server's clock: `used` while an
//! order holds it, else `void` once its campaign is voided, else `expired` from its
//! `valid_until` on, else `unused`.

use std::collections::BTreeSet;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::coupon::{
    campaign_stream, void_campaign, AutoGrantWindow, Campaign, CampaignState, ClaimCoupon,
    CouponStock, CreateCampaign, GrantCoupons, KindName, ScopeName, Via, Wallet,
    GRANT_CUSTOMERS_MAX,
};
use domain::ids::{is_valid_id, IdKind};
use domain::order::OrderType;
use domain::pricing::{CouponKind, CouponScope, CouponTerms};
use domain::{Role, Timestamp};
use projections::coupons::{CampaignRow, CampaignStats, CouponRow, CouponsState};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{Array, ArrayBuilder, Object};
use utoipa::ToSchema;

use crate::access;
use crate::error::ApiError;
use crate::extract::{Body, Caller, CommandHeaders, MinPosition};
use crate::paging::{page, PageQuery};
use crate::respond;
use crate::routes::products::parse_time;
use crate::routes::{Doc, Routes};
use crate::state::App;

const SCOPES: &[&str] = &["store", "products"];
const KINDS: &[&str] = &["discount", "threshold"];
const SCENARIOS: &[&str] = &["new", "renewal", "upgrade"];
const CAMPAIGN_STATUSES: &[&str] = &["active", "ended", "void"];
const COUPON_STATUSES: &[&str] = &["unused", "used", "expired", "void"];
const VIAS: &[&str] = &["claim", "grant", "auto_grant"];
const GRANT_REFUSALS: &[&str] = &["unknown_customer", "sold_out", "limit_reached"];

fn scope_schema() -> Object {
    crate::schema::one_of(SCOPES)
}
fn kind_schema() -> Object {
    crate::schema::one_of(KINDS)
}
fn scenarios_schema() -> Array {
    ArrayBuilder::new()
        .items(crate::schema::one_of(SCENARIOS))
        .build()
}
fn campaign_status_schema() -> Object {
    crate::schema::one_of(CAMPAIGN_STATUSES)
}
fn coupon_status_schema() -> Object {
    crate::schema::one_of(COUPON_STATUSES)
}
fn via_schema() -> Object {
    crate::schema::one_of(VIAS)
}
fn refusal_schema() -> Object {
    crate::schema::one_of(GRANT_REFUSALS)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoGrantInput {
    #[schema(min_items = 1, max_items = 50)]
    pub product_ids: Vec<String>,
    #[schema(format = DateTime)]
    pub purchased_from: String,
    #[schema(format = DateTime)]
    pub purchased_until: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCampaignInput {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(schema_with = scope_schema)]
    pub scope: String,
    /// Required (1..=50) for scope `products`, empty for `store`.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub product_ids: Vec<String>,
    #[schema(schema_with = kind_schema)]
    pub kind: String,
    /// `discount` only: pay N‰, 10..=990.
    #[schema(minimum = 10, maximum = 990)]
    pub pay_permille: Option<u32>,
    /// `threshold` only: ≥ 1.
    #[schema(minimum = 1)]
    pub threshold_cents: Option<i64>,
    /// `threshold` only: 1..=threshold_cents.
    #[schema(minimum = 1)]
    pub reduce_cents: Option<i64>,
    #[schema(minimum = 1, maximum = 100)]
    pub per_customer_limit: u32,
    #[schema(format = DateTime)]
    pub valid_from: String,
    #[schema(format = DateTime)]
    pub valid_until: String,
    #[schema(minimum = 1, maximum = 1000000)]
    pub total_quantity: u32,
    #[schema(schema_with = scenarios_schema)]
    pub scenarios: Vec<String>,
    pub show_in_store: bool,
    pub auto_grant: Option<AutoGrantInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantInput {
    #[schema(min_items = 1, max_items = 500)]
    pub customer_ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AutoGrantView {
    pub product_ids: Vec<String>,
    #[schema(format = DateTime)]
    pub purchased_from: String,
    #[schema(format = DateTime)]
    pub purchased_until: String,
}

/// SPEC.md §4: `issued` = total quantity, `granted` handed out so far, `redeemed` held by an
/// order now, `released` times a coupon came back from a voided order, `remaining` =
/// issued − granted.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsView {
    pub issued: u64,
    pub granted: u64,
    pub redeemed: u64,
    pub released: u64,
    pub remaining: u64,
}

/// A coupon campaign. `status`: `void` once voided, else `ended` from `valid_until` on,
/// else `active`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignView {
    pub id: String,
    pub seller_org_id: String,
    pub name: String,
    #[schema(schema_with = scope_schema)]
    pub scope: String,
    pub product_ids: Vec<String>,
    #[schema(schema_with = kind_schema)]
    pub kind: String,
    pub pay_permille: Option<u32>,
    pub threshold_cents: Option<i64>,
    pub reduce_cents: Option<i64>,
    pub per_customer_limit: u32,
    #[schema(format = DateTime)]
    pub valid_from: String,
    #[schema(format = DateTime)]
    pub valid_until: String,
    pub total_quantity: u32,
    #[schema(schema_with = scenarios_schema)]
    pub scenarios: Vec<String>,
    pub show_in_store: bool,
    pub auto_grant: Option<AutoGrantView>,
    #[schema(schema_with = campaign_status_schema)]
    pub status: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub voided_at: Option<String>,
    /// The seller's, platform's and auditor's view; null for customers.
    pub stats: Option<StatsView>,
    pub version: u64,
    /// Command answers only: the log position of the command's last event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
}

/// A granted coupon.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantedCouponView {
    pub id: String,
    pub campaign_id: String,
    pub campaign_name: String,
    pub customer_id: String,
    #[schema(schema_with = kind_schema)]
    pub kind: String,
    pub pay_permille: Option<u32>,
    pub threshold_cents: Option<i64>,
    pub reduce_cents: Option<i64>,
    #[schema(schema_with = scope_schema)]
    pub scope: String,
    pub product_ids: Vec<String>,
    #[schema(schema_with = scenarios_schema)]
    pub scenarios: Vec<String>,
    #[schema(format = DateTime)]
    pub valid_from: String,
    #[schema(format = DateTime)]
    pub valid_until: String,
    #[schema(schema_with = coupon_status_schema)]
    pub status: String,
    #[schema(format = DateTime)]
    pub granted_at: String,
    #[schema(schema_with = via_schema)]
    pub via: String,
    /// The order that uses it now.
    pub order_id: Option<String>,
    /// Command answers only: the version of the owner's wallet stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Command answers only: the log position of the command's last event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefusedView {
    pub customer_id: String,
    #[schema(schema_with = refusal_schema)]
    pub code: String,
}

/// What a batch grant did, per customer in the order given.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantView {
    pub granted: Vec<GrantedCouponView>,
    pub refused: Vec<RefusedView>,
    /// The campaign's stock stream version after the grant.
    pub version: u64,
    pub position: u64,
}

crate::page!(
    /// One page of coupon campaigns, in id order.
    CampaignPage,
    CampaignView
);

crate::page!(
    /// One page of coupons, in id order.
    CouponPage,
    GrantedCouponView
);

fn kind_fields(kind: CouponKind) -> (&'static str, Option<u32>, Option<i64>, Option<i64>) {
    match kind {
        CouponKind::Discount { pay_permille } => ("discount", Some(pay_permille), None, None),
        CouponKind::Threshold { threshold, reduce } => {
            ("threshold", None, Some(threshold.0), Some(reduce.0))
        }
    }
}

fn scope_fields(scope: &CouponScope) -> (&'static str, Vec<String>) {
    match scope {
        CouponScope::Store => ("store", Vec::new()),
        CouponScope::Products(ids) => ("products", ids.clone()),
    }
}

fn scenario_names(s: &[OrderType]) -> Vec<String> {
    s.iter().map(|t| t.as_str().to_owned()).collect()
}

fn campaign_status(s: &CampaignState, now: Timestamp) -> &'static str {
    match &s.created {
        _ if s.is_void() => "void",
        Some(c) if now >= c.valid_until => "ended",
        _ => "active",
    }
}

fn stats_view(total_quantity: u32, s: CampaignStats) -> StatsView {
    let issued = u64::from(total_quantity);
    StatsView {
        issued,
        granted: s.granted,
        redeemed: s.redeemed,
        released: s.released,
        remaining: issued.saturating_sub(s.granted),
    }
}

fn campaign_view(
    app: &App,
    s: &CampaignState,
    version: u64,
    stats: Option<CampaignStats>,
) -> Option<CampaignView> {
    let c = s.created.as_ref()?;
    let (scope, product_ids) = scope_fields(&c.scope);
    let (kind, pay_permille, threshold_cents, reduce_cents) = kind_fields(c.kind);
    Some(CampaignView {
        id: c.campaign_id.clone(),
        seller_org_id: c.seller_org_id.clone(),
        name: c.name.clone(),
        scope: scope.into(),
        product_ids,
        kind: kind.into(),
        pay_permille,
        threshold_cents,
        reduce_cents,
        per_customer_limit: c.per_customer_limit,
        valid_from: app.time(c.valid_from),
        valid_until: app.time(c.valid_until),
        total_quantity: c.total_quantity,
        scenarios: scenario_names(&c.scenarios),
        show_in_store: c.show_in_store,
        auto_grant: c.auto_grant.as_ref().map(|a| AutoGrantView {
            product_ids: a.product_ids.clone(),
            purchased_from: app.time(a.purchased_from),
            purchased_until: app.time(a.purchased_until),
        }),
        status: campaign_status(s, app.clock.now()).into(),
        created_at: app.time(c.at),
        voided_at: s.voided.as_ref().map(|v| app.time(v.at)),
        stats: stats.map(|st| stats_view(c.total_quantity, st)),
        version,
        position: None,
    })
}

/// One coupon as it stands, given its campaign's name and whether it is voided.
struct CouponFacts<'a> {
    id: &'a str,
    customer_id: &'a str,
    terms: &'a CouponTerms,
    via: &'a Via,
    granted_at: Timestamp,
    order_id: Option<&'a str>,
}

fn coupon_status(f: &CouponFacts<'_>, campaign_void: bool, now: Timestamp) -> &'static str {
    if f.order_id.is_some() {
        "used"
    } else if campaign_void {
        "void"
    } else if now >= f.terms.valid_until {
        "expired"
    } else {
        "unused"
    }
}

fn coupon_view(
    app: &App,
    f: &CouponFacts<'_>,
    campaign: Option<&CampaignState>,
    now: Timestamp,
) -> GrantedCouponView {
    let (scope, product_ids) = scope_fields(&f.terms.scope);
    let (kind, pay_permille, threshold_cents, reduce_cents) = kind_fields(f.terms.kind);
    let void = campaign.is_some_and(CampaignState::is_void);
    GrantedCouponView {
        id: f.id.to_owned(),
        campaign_id: f.terms.campaign_id.clone(),
        campaign_name: campaign
            .and_then(|c| c.created.as_ref())
            .map(|c| c.name.clone())
            .unwrap_or_default(),
        customer_id: f.customer_id.to_owned(),
        kind: kind.into(),
        pay_permille,
        threshold_cents,
        reduce_cents,
        scope: scope.into(),
        product_ids,
        scenarios: scenario_names(&f.terms.scenarios),
        valid_from: app.time(f.terms.valid_from),
        valid_until: app.time(f.terms.valid_until),
        status: coupon_status(f, void, now).into(),
        granted_at: app.time(f.granted_at),
        via: f.via.as_str().into(),
        order_id: f.order_id.map(str::to_owned),
        version: None,
        position: None,
    }
}

fn row_facts(r: &CouponRow) -> CouponFacts<'_> {
    CouponFacts {
        id: &r.id,
        customer_id: &r.customer_id,
        terms: &r.terms,
        via: &r.via,
        granted_at: r.granted_at,
        order_id: r.order_id.as_deref(),
    }
}

fn row_view(app: &App, s: &CouponsState, r: &CouponRow, now: Timestamp) -> GrantedCouponView {
    let campaign = s.campaigns.get(&r.terms.campaign_id).map(|c| &c.state);
    coupon_view(app, &row_facts(r), campaign, now)
}

fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<(), ApiError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(ApiError::validation(
            field,
            "one_of",
            format!("{field} must be one of {}", allowed.join(", ")),
        ))
    }
}

fn required_time(field: &str, v: String) -> Result<Timestamp, ApiError> {
    parse_time(field, &Some(v))?
        .ok_or_else(|| ApiError::bad_request(format!("{field} is required")))
}

/// A campaign id from the path, loaded through the runner; 404 unless `rule` lets the
/// caller reach it.
fn load_campaign(
    app: &App,
    caller: &Caller,
    rule: &access::Rule,
    id: &str,
) -> Result<crate::runner::Loaded<CampaignState>, ApiError> {
    if !is_valid_id(IdKind::Campaign, id) {
        return Err(ApiError::not_found("coupon campaign"));
    }
    let loaded = app
        .runner
        .load::<Campaign>(&campaign_stream(id), u64::MAX)?;
    if !access::reaches_campaign(caller, rule, &loaded.state) {
        return Err(ApiError::not_found("coupon campaign"));
    }
    Ok(loaded)
}

async fn create(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    body: Body,
) -> Result<Response, ApiError> {
    access::CREATE_CAMPAIGN.check(&caller)?;
    let input: CreateCampaignInput = body.json()?;
    let org = caller
        .org_id
        .clone()
        .ok_or_else(|| ApiError::forbidden("isv_admin without an org"))?;
    let valid_from = required_time("valid_from", input.valid_from)?;
    let valid_until = required_time("valid_until", input.valid_until)?;
    let auto_grant = match input.auto_grant {
        Some(a) => Some(AutoGrantWindow {
            product_ids: a.product_ids,
            purchased_from: required_time("auto_grant.purchased_from", a.purchased_from)?,
            purchased_until: required_time("auto_grant.purchased_until", a.purchased_until)?,
        }),
        None => None,
    };
    one_of("scope", &input.scope, SCOPES)?;
    one_of("kind", &input.kind, KINDS)?;
    let mut scenarios = Vec::with_capacity(input.scenarios.len());
    for (i, s) in input.scenarios.iter().enumerate() {
        let field = format!("scenarios[{i}]");
        one_of(&field, s, SCENARIOS)?;
        scenarios.extend(OrderType::parse(s));
    }
    let campaign_id = app.ids.new_id(IdKind::Campaign);
    let decision = CreateCampaign {
        campaign_id: campaign_id.clone(),
        seller_org_id: org,
        name: input.name,
        scope: if input.scope == "store" {
            ScopeName::Store
        } else {
            ScopeName::Products
        },
        product_ids: input.product_ids,
        kind: if input.kind == "discount" {
            KindName::Discount
        } else {
            KindName::Threshold
        },
        pay_permille: input.pay_permille,
        threshold_cents: input.threshold_cents,
        reduce_cents: input.reduce_cents,
        per_customer_limit: input.per_customer_limit,
        valid_from,
        valid_until,
        total_quantity: input.total_quantity,
        scenarios,
        show_in_store: input.show_in_store,
        auto_grant,
    };
    let meta = app.command_meta(&caller, &headers, &body, "CreateCouponCampaign")?;
    let done = app.runner.decide::<Campaign>(&meta, &decision).await?;
    let view = campaign_view(
        &app,
        &done.state,
        done.version,
        Some(CampaignStats::default()),
    )
    .ok_or_else(|| ApiError::internal("campaign answer", "the campaign was not created"))?;
    let view = CampaignView {
        position: Some(done.position),
        ..view
    };
    Ok(respond::command(StatusCode::CREATED, &view, done.version))
}

async fn claim(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::CLAIM_COUPON.check(&caller)?;
    let campaign = load_campaign(&app, &caller, &access::CLAIM_COUPON, &id)?;
    let decision = ClaimCoupon {
        campaign_id: id,
        customer_id: caller.id.clone(),
        coupon_id: app.ids.new_id(IdKind::Coupon),
    };
    let meta = app.command_meta(&caller, &headers, &body, "ClaimCoupon")?;
    let done = app.runner.decide::<Wallet>(&meta, &decision).await?;
    let held = done
        .state
        .last_granted
        .as_ref()
        .and_then(|c| done.state.coupons.get_key_value(c))
        .ok_or_else(|| ApiError::internal("claim answer", "the wallet holds no new coupon"))?;
    let facts = CouponFacts {
        id: held.0,
        customer_id: &caller.id,
        terms: &held.1.terms,
        via: &held.1.via,
        granted_at: held.1.granted_at,
        order_id: held.1.redeemed_by.as_deref(),
    };
    let view = GrantedCouponView {
        version: Some(done.version),
        position: Some(done.position),
        ..coupon_view(&app, &facts, Some(&campaign.state), app.clock.now())
    };
    Ok(respond::command(StatusCode::CREATED, &view, done.version))
}

async fn grant(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::GRANT_COUPONS.check(&caller)?;
    let campaign = load_campaign(&app, &caller, &access::GRANT_COUPONS, &id)?;
    let input: GrantInput = body.json()?;
    // The list's own rules, before any is looked up (an id that is no customer's is refused
    // by name below, not as a malformed request).
    if input.customer_ids.is_empty() {
        return Err(ApiError::validation(
            "customer_ids",
            "required",
            "name at least one customer",
        ));
    }
    if input.customer_ids.len() > GRANT_CUSTOMERS_MAX {
        return Err(ApiError::validation(
            "customer_ids",
            "max_items",
            format!("at most {GRANT_CUSTOMERS_MAX} customers per grant"),
        ));
    }
    // Only live customer principals hold wallets; the others are refused by name.
    app.caught_up(&app.directory).await;
    let (live, _) = app.directory.read(|d| {
        input
            .customer_ids
            .iter()
            .filter(|c| {
                d.principals
                    .get(*c)
                    .is_some_and(|p| p.role == Role::Customer && !p.revoked)
            })
            .cloned()
            .collect::<BTreeSet<String>>()
    });
    let known: Vec<String> = input
        .customer_ids
        .iter()
        .filter(|c| live.contains(*c))
        .cloned()
        .collect();
    let coupon_ids: Vec<String> = known
        .iter()
        .map(|_| app.ids.new_id(IdKind::Coupon))
        .collect();
    let decision = GrantCoupons::new(id.clone(), known.clone(), coupon_ids);
    let (stock, version, position) = if known.is_empty() {
        let l = app
            .runner
            .load::<CouponStock>(&domain::coupon::stock_stream(&id), u64::MAX)?;
        (l.state, l.version, l.position)
    } else {
        let meta = app.command_meta(&caller, &headers, &body, "GrantCoupons")?;
        let done = app.runner.decide::<CouponStock>(&meta, &decision).await?;
        (done.state, done.version, done.position)
    };
    let results = decision.results();
    // Granted: what this decision appended, or, for a repeat answered from its idempotency
    // key, the draw that request appended (the stock as of then).
    let granted: Vec<(String, String)> = if !results.is_empty() {
        results
            .iter()
            .filter(|r| r.refused.is_none())
            .map(|r| (r.coupon_id.clone(), r.customer_id.clone()))
            .collect()
    } else if known.is_empty() {
        Vec::new()
    } else {
        stock
            .last
            .as_ref()
            .map(|d| {
                d.grants
                    .iter()
                    .map(|g| (g.coupon_id.clone(), g.customer_id.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    // Results follow `known` in order (a customer named twice has two); a repeat answered
    // from its idempotency key has none, and its refusals are told from the stock as of then.
    let mut results = results.iter();
    let mut unclaimed: Vec<&str> = granted.iter().map(|(_, c)| c.as_str()).collect();
    let left = campaign
        .state
        .created
        .as_ref()
        .map_or(0, |c| stock.remaining(c.total_quantity));
    let mut refused = Vec::new();
    for c in &input.customer_ids {
        let code = if !live.contains(c) {
            Some("unknown_customer")
        } else if let Some(r) = results.next() {
            r.refused
        } else if let Some(i) = unclaimed.iter().position(|g| *g == c.as_str()) {
            unclaimed.swap_remove(i);
            None
        } else if left == 0 {
            Some("sold_out")
        } else {
            Some("limit_reached")
        };
        if let Some(code) = code {
            refused.push(RefusedView {
                customer_id: c.clone(),
                code: code.into(),
            });
        }
    }
    let terms = campaign
        .state
        .terms()
        .ok_or_else(|| ApiError::internal("grant answer", "no campaign terms"))?;
    let via = Via::Grant {
        by: caller.actor().label(),
    };
    let at = stock
        .last
        .as_ref()
        .map_or_else(|| app.clock.now(), |d| d.at);
    let now = app.clock.now();
    let granted = granted
        .iter()
        .map(|(coupon, customer)| {
            let facts = CouponFacts {
                id: coupon,
                customer_id: customer,
                terms: &terms,
                via: &via,
                granted_at: at,
                order_id: None,
            };
            coupon_view(&app, &facts, Some(&campaign.state), now)
        })
        .collect();
    let view = GrantView {
        granted,
        refused,
        version,
        position,
    };
    Ok(respond::command(StatusCode::OK, &view, version))
}

async fn void(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::VOID_CAMPAIGN.check(&caller)?;
    load_campaign(&app, &caller, &access::VOID_CAMPAIGN, &id)?;
    let meta = app.command_meta(&caller, &headers, &body, "VoidCouponCampaign")?;
    let done = app
        .runner
        .decide::<Campaign>(&meta, &void_campaign(&id))
        .await?;
    // The statistics are the read model's: the answer shows them as of this void.
    app.wait_for(&app.coupons, MinPosition(Some(done.position)))
        .await?;
    let (stats, _) = app.coupons.read(|s| s.campaigns.get(&id).map(|r| r.stats));
    let view = campaign_view(
        &app,
        &done.state,
        done.version,
        Some(stats.unwrap_or_default()),
    )
    .ok_or_else(|| ApiError::internal("void answer", "the campaign does not exist"))?;
    let view = CampaignView {
        position: Some(done.position),
        ..view
    };
    Ok(respond::command(StatusCode::OK, &view, done.version))
}

fn row_campaign_view(app: &App, r: &CampaignRow, with_stats: bool) -> Option<CampaignView> {
    campaign_view(app, &r.state, r.version, with_stats.then_some(r.stats))
}

async fn detail(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    access::GET_CAMPAIGN.check(&caller)?;
    app.wait_for(&app.coupons, min).await?;
    let (found, position) = app.coupons.read(|s| {
        s.campaigns
            .get(&id)
            .filter(|r| access::reaches_campaign(&caller, &access::GET_CAMPAIGN, &r.state))
            .and_then(|r| row_campaign_view(&app, r, true))
    });
    let view = found.ok_or_else(|| ApiError::not_found("coupon campaign"))?;
    Ok(respond::read(&view, Some(view.version), position))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignQuery {
    status: Option<String>,
    product_id: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn list(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    q: Result<Query<CampaignQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    access::LIST_CAMPAIGNS.check(&caller)?;
    let q = crate::extract::query(q)?;
    let (limit, after) = PageQuery::bounds(q.limit, q.cursor.as_deref())?;
    if let Some(s) = q.status.as_deref() {
        if !CAMPAIGN_STATUSES.contains(&s) {
            return Err(ApiError::bad_request(format!(
                "status must be one of {}",
                CAMPAIGN_STATUSES.join(", ")
            ))
            .with("field", "status"));
        }
    }
    // A store-wide campaign is for every product of its seller.
    let product_seller = match q.product_id.as_deref() {
        Some(p) => {
            app.wait_for(&app.products, min).await?;
            app.products
                .read(|s| {
                    s.by_id
                        .get(p)
                        .and_then(|r| r.state.seller_org_id().map(str::to_owned))
                })
                .0
        }
        None => None,
    };
    app.wait_for(&app.coupons, min).await?;
    let now = app.clock.now();
    let staff = caller.role != Role::Customer;
    let ((items, next), position) = app.coupons.read(|s| {
        page(
            crate::paging::seek(&s.campaigns, after.as_deref())
                .map(|(_, r)| r)
                .filter(|r| {
                    let Some(c) = r.state.created.as_ref() else {
                        return false;
                    };
                    let visible = match caller.role {
                        Role::Platform | Role::Auditor => true,
                        Role::IsvAdmin => {
                            caller.org_id.as_deref() == Some(c.seller_org_id.as_str())
                        }
                        Role::Customer => r.state.claimable(now),
                        _ => false,
                    };
                    let status_ok = q
                        .status
                        .as_deref()
                        .is_none_or(|st| campaign_status(&r.state, now) == st);
                    let product_ok = q.product_id.as_deref().is_none_or(|p| match &c.scope {
                        CouponScope::Products(ids) => ids.iter().any(|i| i == p),
                        CouponScope::Store => {
                            product_seller.as_deref() == Some(c.seller_org_id.as_str())
                        }
                    });
                    visible && status_ok && product_ok
                })
                .filter_map(|r| Some((r.id.clone(), row_campaign_view(&app, r, staff)?))),
            after.as_deref(),
            limit,
        )
    });
    Ok(respond::list::<CampaignPage>(items, next, position))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CouponQuery {
    status: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

fn coupon_filter(q: &CouponQuery) -> Result<(usize, Option<String>), ApiError> {
    if let Some(s) = q.status.as_deref() {
        if !COUPON_STATUSES.contains(&s) {
            return Err(ApiError::bad_request(format!(
                "status must be one of {}",
                COUPON_STATUSES.join(", ")
            ))
            .with("field", "status"));
        }
    }
    PageQuery::bounds(q.limit, q.cursor.as_deref())
}

/// A page of the coupons `ids` names, after `after`, with `status` if given.
fn coupon_page<'a>(
    app: &App,
    s: &CouponsState,
    ids: impl Iterator<Item = &'a String>,
    status: Option<&str>,
    after: Option<&str>,
    limit: usize,
) -> (Vec<GrantedCouponView>, Option<String>) {
    let now = app.clock.now();
    page(
        ids.filter_map(|id| s.coupons.get(id))
            .map(|r| row_view(app, s, r, now))
            .filter(|v| status.is_none_or(|st| v.status == st))
            .map(|v| (v.id.clone(), v)),
        after,
        limit,
    )
}

fn after_cursor<'a>(
    set: &'a BTreeSet<String>,
    after: Option<&str>,
) -> Box<dyn Iterator<Item = &'a String> + 'a> {
    use std::ops::Bound;
    match after {
        Some(a) => Box::new(set.range::<str, _>((Bound::Excluded(a), Bound::Unbounded))),
        None => Box::new(set.iter()),
    }
}

async fn campaign_coupons(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    Path(id): Path<String>,
    q: Result<Query<CouponQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    access::CAMPAIGN_COUPONS.check(&caller)?;
    app.wait_for(&app.coupons, min).await?;
    let reachable = app
        .coupons
        .read(|s| {
            s.campaigns.get(&id).is_some_and(|r| {
                access::reaches_campaign(&caller, &access::CAMPAIGN_COUPONS, &r.state)
            })
        })
        .0;
    if !reachable {
        return Err(ApiError::not_found("coupon campaign"));
    }
    let q = crate::extract::query(q)?;
    let (limit, after) = coupon_filter(&q)?;
    let ((items, next), position) = app.coupons.read(|s| {
        let Some(r) = s.campaigns.get(&id) else {
            return (Vec::new(), None);
        };
        coupon_page(
            &app,
            s,
            after_cursor(&r.coupons, after.as_deref()),
            q.status.as_deref(),
            after.as_deref(),
            limit,
        )
    });
    Ok(respond::list::<CouponPage>(items, next, position))
}

async fn my_coupons(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    q: Result<Query<CouponQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    access::MY_COUPONS.check(&caller)?;
    let q = crate::extract::query(q)?;
    let (limit, after) = coupon_filter(&q)?;
    app.wait_for(&app.coupons, min).await?;
    let ((items, next), position) = app.coupons.read(|s| {
        let Some(ids) = s.by_customer.get(&caller.id) else {
            return (Vec::new(), None);
        };
        coupon_page(
            &app,
            s,
            after_cursor(ids, after.as_deref()),
            q.status.as_deref(),
            after.as_deref(),
            limit,
        )
    });
    Ok(respond::list::<CouponPage>(items, next, position))
}

pub fn routes(r: Routes) -> Routes {
    use axum::routing::{get, post};
    r.add(
        "POST",
        "/v1/coupon-campaigns",
        post(create),
        Doc::new(
            "create a coupon campaign of the caller's org; every product named must exist and be the seller's (422 `product_ids[i]` rule `unknown` / `not_own`)",
            "isv_admin",
        )
        .body::<CreateCampaignInput>()
        .answers::<CampaignView>(201),
    )
    .add(
        "GET",
        "/v1/coupon-campaigns",
        get(list),
        Doc::new(
            "coupon campaigns: an isv_admin's own, the ones a customer can claim in the store (without stats), all for platform and auditor",
            "isv_admin (own), customer (claimable), platform, auditor",
        )
        .query("status", "active | ended | void")
        .query("product_id", "campaigns for this product (its own list, or store-wide of its seller)")
        .query("limit", "1..=500")
        .query("cursor", "next_cursor")
        .answers::<CampaignPage>(200),
    )
    .add(
        "GET",
        "/v1/coupon-campaigns/{id}",
        get(detail),
        Doc::new("one campaign with its statistics", "isv_admin (own), platform, auditor")
            .answers::<CampaignView>(200),
    )
    .add(
        "GET",
        "/v1/coupon-campaigns/{id}/coupons",
        get(campaign_coupons),
        Doc::new(
            "every coupon of a campaign with its owner, status, how it was granted and the order using it",
            "isv_admin (own), platform, auditor",
        )
        .query("status", "unused | used | expired | void")
        .query("limit", "1..=500")
        .query("cursor", "next_cursor")
        .answers::<CouponPage>(200),
    )
    .add(
        "POST",
        "/v1/coupon-campaigns/{id}/claim",
        post(claim),
        Doc::new(
            "claim one coupon (no body). 409 codes, checked in this order: `campaign_void`, `not_claimable` (not shown in store, or its validity is over), `sold_out`, `limit_reached`",
            "customer",
        )
        .answers::<GrantedCouponView>(201),
    )
    .add(
        "POST",
        "/v1/coupon-campaigns/{id}/grant",
        post(grant),
        Doc::new(
            "send one coupon to each customer, in the order given, in one atomic append: each is granted or refused (`unknown_customer`, `sold_out`, `limit_reached`). 409 `campaign_void` for the whole request",
            "isv_admin (own)",
        )
        .body::<GrantInput>()
        .answers::<GrantView>(200),
    )
    .add(
        "POST",
        "/v1/coupon-campaigns/{id}/void",
        post(void),
        Doc::new(
            "void: no more grants, unused coupons become unusable (a second void changes nothing)",
            "isv_admin (own)",
        )
        .answers::<CampaignView>(200),
    )
    .add(
        "GET",
        "/v1/me/coupons",
        get(my_coupons),
        Doc::new("the caller's own coupons", "customer")
            .query("status", "unused | used | expired | void")
            .query("limit", "1..=500")
            .query("cursor", "next_cursor")
            .answers::<CouponPage>(200),
    )
}
