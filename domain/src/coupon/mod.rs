//! Coupons (SPEC.md §4, ADR 0006): campaigns, their stock, customers' wallets, and the
//! decisions that create, void and grant over them.
//!
//! - [`campaign`] — `campaign-cpc_…` (terms, void) and `autogrant-prd_…` (the campaigns a
//!   purchase of a product auto-grants).
//! - [`stock`] — `stock-cpc_…`: every draw; the total quantity is decided there.
//! - [`wallet`] — `wallet-cus_…`: a customer's coupons; the per-customer limit and "used by
//!   at most one live order" are decided there; [`wallet::offer`], [`wallet::redeemed`] and
//!   [`wallet::release`] are for order placement and the order void.
//!
//! Invariants: a grant appends to the stock and to the owner's wallet in one atomic append,
//! so `stock.granted` equals the coupons in all wallets of the campaign and never exceeds
//! `total_quantity`; no wallet holds more coupons of a campaign than `per_customer_limit`.
//!
//! The refusals of a claim are checked in this order: 404 (no such campaign), 409
//! `campaign_void`, 409 `not_claimable` (not shown in store, or its validity is over), 409
//! `sold_out`, 409 `limit_reached`. A batch grant decides each customer in the order given:
//! `sold_out` once the stock is exhausted, then `limit_reached`.

pub mod campaign;
pub mod stock;
pub mod wallet;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

pub use campaign::{
    autogrant_stream, campaign_stream, AutoGrantIndex, AutoGrantIndexEvent, AutoGrantIndexState,
    AutoGrantWindow, Campaign, CampaignAutoGrantAdded, CampaignCommand, CampaignCreated,
    CampaignEvent, CampaignState, CampaignVoided,
};
pub use stock::{
    stock_stream, CouponStock, CouponStockDrawn, StockEvent, StockGrant, StockState, Via,
};
pub use wallet::{
    wallet_stream, CouponGranted, CouponRedeemed, CouponReleased, HeldCoupon, Wallet, WalletEvent,
    WalletState,
};

use crate::decider::Context;
use crate::decision::{Decision, Outcome, Single, States};
use crate::error::DomainError;
use crate::history::StoredEvent;
use crate::ids::{is_valid_id, IdKind};
use crate::order::{order_stream, Order, OrderType};
use crate::pricing::{CouponKind, CouponScope, PAY_PERMILLE_MAX, PAY_PERMILLE_MIN};
use crate::product::{product_stream, Product, PRICE_CENTS_MAX};
use crate::text::require_name;
use crate::time::Timestamp;

pub const CAMPAIGN_NAME_CHARS_MAX: usize = 200;
/// Most products a campaign's scope, or its auto-grant rule, may name.
pub const CAMPAIGN_PRODUCTS_MAX: usize = 50;
pub const PER_CUSTOMER_LIMIT_MAX: u32 = 100;
pub const TOTAL_QUANTITY_MAX: u32 = 1_000_000;
/// Most customers one batch grant names (one append over the stock and ≤ 500 wallets).
pub const GRANT_CUSTOMERS_MAX: usize = 500;

/// The order types a coupon may be for.
const SCENARIOS: [OrderType; 3] = [OrderType::New, OrderType::Renewal, OrderType::Upgrade];

/// A campaign's scope as the seller names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeName {
    Store,
    Products,
}

/// A campaign's kind as the seller names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KindName {
    Discount,
    Threshold,
}

/// A seller creates a campaign; its products must exist and be its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateCampaign {
    pub campaign_id: String,
    pub seller_org_id: String,
    pub name: String,
    pub scope: ScopeName,
    pub product_ids: Vec<String>,
    pub kind: KindName,
    pub pay_permille: Option<u32>,
    pub threshold_cents: Option<i64>,
    pub reduce_cents: Option<i64>,
    pub per_customer_limit: u32,
    pub valid_from: Timestamp,
    pub valid_until: Timestamp,
    pub total_quantity: u32,
    pub scenarios: Vec<OrderType>,
    pub show_in_store: bool,
    pub auto_grant: Option<AutoGrantWindow>,
}

fn invalid(field: &str, rule: &str, message: impl Into<String>) -> DomainError {
    DomainError::validation(field, rule, message)
}

fn product_list_rules(field: &str, ids: &[String]) -> Result<(), DomainError> {
    if ids.len() > CAMPAIGN_PRODUCTS_MAX {
        return Err(invalid(
            field,
            "max_items",
            format!("{field} names at most {CAMPAIGN_PRODUCTS_MAX} products"),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, id) in ids.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if !is_valid_id(IdKind::Product, id) {
            return Err(invalid(&f, "format", format!("{f} is not a product id")));
        }
        if !seen.insert(id) {
            return Err(invalid(&f, "unique", format!("{f} repeats product {id}")));
        }
    }
    Ok(())
}

impl CreateCampaign {
    /// The scope and kind, or the first field rule broken (API.md §1: before state rules).
    pub fn field_rules(&self) -> Result<(CouponScope, CouponKind), DomainError> {
        require_name("name", &self.name, CAMPAIGN_NAME_CHARS_MAX)?;
        let scope = match self.scope {
            ScopeName::Store if !self.product_ids.is_empty() => {
                return Err(invalid(
                    "product_ids",
                    "not_allowed",
                    "a store-wide campaign names no products",
                ))
            }
            ScopeName::Store => CouponScope::Store,
            ScopeName::Products if self.product_ids.is_empty() => {
                return Err(invalid(
                    "product_ids",
                    "required",
                    "a products campaign names at least one product",
                ))
            }
            ScopeName::Products => {
                product_list_rules("product_ids", &self.product_ids)?;
                CouponScope::Products(self.product_ids.clone())
            }
        };
        let kind = match self.kind {
            KindName::Discount => {
                for (field, set) in [
                    ("threshold_cents", self.threshold_cents.is_some()),
                    ("reduce_cents", self.reduce_cents.is_some()),
                ] {
                    if set {
                        return Err(invalid(
                            field,
                            "not_allowed",
                            format!("a discount coupon has no {field}"),
                        ));
                    }
                }
                let Some(p) = self.pay_permille else {
                    return Err(invalid(
                        "pay_permille",
                        "required",
                        "a discount coupon needs pay_permille",
                    ));
                };
                if !(PAY_PERMILLE_MIN..=PAY_PERMILLE_MAX).contains(&p) {
                    return Err(invalid(
                        "pay_permille",
                        "range",
                        format!("pay_permille must be {PAY_PERMILLE_MIN}..={PAY_PERMILLE_MAX}"),
                    ));
                }
                CouponKind::Discount { pay_permille: p }
            }
            KindName::Threshold => {
                if self.pay_permille.is_some() {
                    return Err(invalid(
                        "pay_permille",
                        "not_allowed",
                        "a threshold coupon has no pay_permille",
                    ));
                }
                let Some(threshold) = self.threshold_cents else {
                    return Err(invalid(
                        "threshold_cents",
                        "required",
                        "a threshold coupon needs threshold_cents",
                    ));
                };
                if !(1..=PRICE_CENTS_MAX).contains(&threshold) {
                    return Err(invalid(
                        "threshold_cents",
                        "range",
                        format!("threshold_cents must be 1..={PRICE_CENTS_MAX}"),
                    ));
                }
                let Some(reduce) = self.reduce_cents else {
                    return Err(invalid(
                        "reduce_cents",
                        "required",
                        "a threshold coupon needs reduce_cents",
                    ));
                };
                if !(1..=threshold).contains(&reduce) {
                    return Err(invalid(
                        "reduce_cents",
                        "range",
                        "reduce_cents must be 1..=threshold_cents",
                    ));
                }
                CouponKind::Threshold {
                    threshold: crate::Cents(threshold),
                    reduce: crate::Cents(reduce),
                }
            }
        };
        if !(1..=PER_CUSTOMER_LIMIT_MAX).contains(&self.per_customer_limit) {
            return Err(invalid(
                "per_customer_limit",
                "range",
                format!("per_customer_limit must be 1..={PER_CUSTOMER_LIMIT_MAX}"),
            ));
        }
        if !(1..=TOTAL_QUANTITY_MAX).contains(&self.total_quantity) {
            return Err(invalid(
                "total_quantity",
                "range",
                format!("total_quantity must be 1..={TOTAL_QUANTITY_MAX}"),
            ));
        }
        if self.valid_from >= self.valid_until {
            return Err(invalid(
                "valid_until",
                "after_valid_from",
                "valid_until must be after valid_from",
            ));
        }
        if self.scenarios.is_empty() {
            return Err(invalid(
                "scenarios",
                "required",
                "name at least one of new, renewal, upgrade",
            ));
        }
        for (i, s) in self.scenarios.iter().enumerate() {
            let f = format!("scenarios[{i}]");
            if !SCENARIOS.contains(s) {
                return Err(invalid(
                    &f,
                    "one_of",
                    format!("{f} must be new, renewal or upgrade"),
                ));
            }
            if self.scenarios[..i].contains(s) {
                return Err(invalid(&f, "unique", format!("{f} repeats {}", s.as_str())));
            }
        }
        if let Some(a) = &self.auto_grant {
            if a.product_ids.is_empty() {
                return Err(invalid(
                    "auto_grant.product_ids",
                    "required",
                    "an auto-grant rule names at least one product",
                ));
            }
            product_list_rules("auto_grant.product_ids", &a.product_ids)?;
            if a.purchased_from >= a.purchased_until {
                return Err(invalid(
                    "auto_grant.purchased_until",
                    "after_purchased_from",
                    "auto_grant.purchased_until must be after purchased_from",
                ));
            }
        }
        Ok((scope, kind))
    }

    fn auto_grant_products(&self) -> &[String] {
        self.auto_grant
            .as_ref()
            .map_or(&[], |a| a.product_ids.as_slice())
    }
}

impl Decision for CreateCampaign {
    fn primary(&self) -> String {
        campaign_stream(&self.campaign_id)
    }

    /// Every product it names, and the auto-grant index of each auto-grant product; none
    /// when a field rule fails (the answer needs no state, and ids may be malformed).
    fn streams(&self, _loaded: &States) -> Vec<String> {
        if self.field_rules().is_err() {
            return Vec::new();
        }
        let mut streams: BTreeSet<String> = self
            .product_ids
            .iter()
            .chain(self.auto_grant_products())
            .map(|p| product_stream(p))
            .collect();
        streams.extend(
            self.auto_grant_products()
                .iter()
                .map(|p| autogrant_stream(p)),
        );
        streams.into_iter().collect()
    }

    fn decide(&self, states: &States, ctx: &Context) -> Result<Outcome, DomainError> {
        let (scope, kind) = self.field_rules()?;
        let stream = self.primary();
        let state = states.get::<Campaign>(&stream)?;
        if state.created.is_some() {
            return Err(DomainError::invalid_state(
                "created",
                format!("campaign {} already exists", self.campaign_id),
            ));
        }
        let lists = [
            ("product_ids", self.product_ids.as_slice()),
            ("auto_grant.product_ids", self.auto_grant_products()),
        ];
        for (field, ids) in lists {
            for (i, id) in ids.iter().enumerate() {
                let product = states.get::<Product>(&product_stream(id))?;
                let f = format!("{field}[{i}]");
                match product.seller_org_id() {
                    None => {
                        return Err(invalid(
                            &f,
                            "unknown",
                            format!("product {id} does not exist"),
                        ))
                    }
                    Some(org) if org != self.seller_org_id => {
                        return Err(invalid(
                            &f,
                            "not_own",
                            format!("product {id} is not one of the seller's"),
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
        let created = CampaignEvent::CampaignCreated(CampaignCreated {
            campaign_id: self.campaign_id.clone(),
            seller_org_id: self.seller_org_id.clone(),
            name: self.name.trim().to_owned(),
            scope,
            kind,
            scenarios: self.scenarios.clone(),
            per_customer_limit: self.per_customer_limit,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            total_quantity: self.total_quantity,
            show_in_store: self.show_in_store,
            auto_grant: self.auto_grant.clone(),
            created_by: ctx.actor.label(),
            at: ctx.now,
        });
        let mut outcome = Outcome::primary::<Campaign>(&stream, state, vec![created])?;
        for p in self.auto_grant_products() {
            let added = AutoGrantIndexEvent::CampaignAutoGrantAdded(CampaignAutoGrantAdded {
                campaign_id: self.campaign_id.clone(),
            });
            outcome.append(&autogrant_stream(p), &[added])?;
        }
        Ok(outcome)
    }
}

/// The void of a campaign by its seller (a second void changes nothing).
pub fn void_campaign(campaign_id: &str) -> Single<Campaign> {
    Single::new(campaign_stream(campaign_id), CampaignCommand::Void)
}

/// Why one customer gets no coupon of a draw.
fn draw_refusal(
    campaign: &CampaignCreated,
    stock_left: u32,
    wallet: &WalletState,
) -> Option<&'static str> {
    if stock_left == 0 {
        Some("sold_out")
    } else if wallet.count_of(&campaign.campaign_id) >= campaign.per_customer_limit {
        Some("limit_reached")
    } else {
        None
    }
}

fn granted(
    coupon_id: &str,
    customer_id: &str,
    campaign: &CampaignState,
    via: &Via,
    at: Timestamp,
) -> Result<WalletEvent, DomainError> {
    let terms = campaign
        .terms()
        .ok_or_else(|| DomainError::internal("granting from a campaign that does not exist"))?;
    Ok(WalletEvent::CouponGranted(CouponGranted {
        coupon_id: coupon_id.to_owned(),
        customer_id: customer_id.to_owned(),
        terms,
        via: via.clone(),
        at,
    }))
}

/// A customer claims one coupon of a campaign shown in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimCoupon {
    pub campaign_id: String,
    pub customer_id: String,
    pub coupon_id: String,
}

impl Decision for ClaimCoupon {
    /// The wallet: its state after the claim holds the coupon, the command's answer.
    fn primary(&self) -> String {
        wallet_stream(&self.customer_id)
    }

    fn streams(&self, _loaded: &States) -> Vec<String> {
        vec![
            campaign_stream(&self.campaign_id),
            stock_stream(&self.campaign_id),
        ]
    }

    fn decide(&self, states: &States, ctx: &Context) -> Result<Outcome, DomainError> {
        let cstream = campaign_stream(&self.campaign_id);
        let campaign = states.get::<Campaign>(&cstream)?;
        let Some(c) = campaign.created.as_ref() else {
            return Err(DomainError::not_found("coupon campaign"));
        };
        if campaign.is_void() {
            return Err(DomainError::conflict(
                "campaign_void",
                format!("campaign {} was voided", self.campaign_id),
            ));
        }
        if !campaign.claimable(ctx.now) {
            return Err(DomainError::conflict(
                "not_claimable",
                format!(
                    "campaign {} is not claimable in the store (not shown, or over)",
                    self.campaign_id
                ),
            ));
        }
        let sstream = stock_stream(&self.campaign_id);
        let stock = states.get::<CouponStock>(&sstream)?;
        let wstream = self.primary();
        let wallet = states.get::<Wallet>(&wstream)?;
        match draw_refusal(c, stock.remaining(c.total_quantity), wallet) {
            Some("sold_out") => {
                return Err(DomainError::conflict(
                    "sold_out",
                    format!("campaign {} has no coupon left", self.campaign_id),
                ))
            }
            Some(_) => {
                return Err(DomainError::conflict(
                    "limit_reached",
                    format!(
                        "the customer holds {} coupons of campaign {}, its limit",
                        c.per_customer_limit, self.campaign_id
                    ),
                ))
            }
            None => {}
        }
        let event = granted(
            &self.coupon_id,
            &self.customer_id,
            campaign,
            &Via::Claim,
            ctx.now,
        )?;
        let mut outcome = Outcome::primary::<Wallet>(&wstream, wallet, vec![event])?;
        let drawn = StockEvent::CouponStockDrawn(CouponStockDrawn {
            grants: vec![StockGrant {
                coupon_id: self.coupon_id.clone(),
                customer_id: self.customer_id.clone(),
            }],
            via: Via::Claim,
            at: ctx.now,
        });
        outcome.append(&sstream, &[drawn])?;
        outcome.guard(&cstream);
        Ok(outcome)
    }
}

/// What a batch grant decided for one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantResult {
    pub customer_id: String,
    pub coupon_id: String,
    /// `None`: granted; else `sold_out` or `limit_reached`.
    pub refused: Option<&'static str>,
}

/// The seller sends one coupon to each of `customer_ids` (coupon `coupon_ids[i]` to
/// customer `customer_ids[i]`).
#[derive(Debug)]
pub struct GrantCoupons {
    pub campaign_id: String,
    pub customer_ids: Vec<String>,
    pub coupon_ids: Vec<String>,
    /// What the last `decide` decided per customer: the runner decides again after a
    /// conflict, and the answer must name what was appended, not what an earlier attempt saw.
    results: Mutex<Vec<GrantResult>>,
}

impl GrantCoupons {
    pub fn new(campaign_id: String, customer_ids: Vec<String>, coupon_ids: Vec<String>) -> Self {
        GrantCoupons {
            campaign_id,
            customer_ids,
            coupon_ids,
            results: Mutex::new(Vec::new()),
        }
    }

    /// Per customer, in order, what the decision that was appended decided (empty before
    /// a decision, or when the command was answered from its idempotency key).
    pub fn results(&self) -> Vec<GrantResult> {
        self.results
            .lock()
            .map(|r| r.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    pub fn field_rules(&self) -> Result<(), DomainError> {
        if self.customer_ids.is_empty() {
            return Err(invalid(
                "customer_ids",
                "required",
                "name at least one customer",
            ));
        }
        if self.customer_ids.len() > GRANT_CUSTOMERS_MAX {
            return Err(invalid(
                "customer_ids",
                "max_items",
                format!("at most {GRANT_CUSTOMERS_MAX} customers per grant"),
            ));
        }
        if self.coupon_ids.len() != self.customer_ids.len() {
            return Err(DomainError::internal("one coupon id per customer"));
        }
        for (i, id) in self.customer_ids.iter().enumerate() {
            if !is_valid_id(IdKind::Customer, id) {
                let f = format!("customer_ids[{i}]");
                return Err(invalid(&f, "format", format!("{f} is not a customer id")));
            }
        }
        Ok(())
    }
}

impl Decision for GrantCoupons {
    /// The stock: every grant of the campaign queues on it.
    fn primary(&self) -> String {
        stock_stream(&self.campaign_id)
    }

    fn streams(&self, _loaded: &States) -> Vec<String> {
        if self.field_rules().is_err() {
            return Vec::new();
        }
        let mut streams = vec![campaign_stream(&self.campaign_id)];
        let wallets: BTreeSet<String> =
            self.customer_ids.iter().map(|c| wallet_stream(c)).collect();
        streams.extend(wallets);
        streams
    }

    fn decide(&self, states: &States, ctx: &Context) -> Result<Outcome, DomainError> {
        self.field_rules()?;
        let cstream = campaign_stream(&self.campaign_id);
        let campaign = states.get::<Campaign>(&cstream)?;
        let Some(c) = campaign
            .created
            .as_ref()
            .filter(|c| campaign::owned_by(&ctx.actor, c))
        else {
            return Err(DomainError::not_found("coupon campaign"));
        };
        if campaign.is_void() {
            return Err(DomainError::conflict(
                "campaign_void",
                format!("campaign {} was voided", self.campaign_id),
            ));
        }
        let sstream = self.primary();
        let stock = states.get::<CouponStock>(&sstream)?;
        let via = Via::Grant {
            by: ctx.actor.label(),
        };
        let mut left = stock.remaining(c.total_quantity);
        // Wallets as this batch changes them: a customer named twice counts both.
        let mut wallets: std::collections::BTreeMap<&str, WalletState> = Default::default();
        let mut results = Vec::with_capacity(self.customer_ids.len());
        let mut grants = Vec::new();
        let mut wallet_events: Vec<(String, WalletEvent)> = Vec::new();
        for (customer, coupon) in self.customer_ids.iter().zip(&self.coupon_ids) {
            let wallet = match wallets.entry(customer) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(states.get::<Wallet>(&wallet_stream(customer))?.clone())
                }
            };
            let refused = draw_refusal(c, left, wallet);
            if refused.is_none() {
                let event = granted(coupon, customer, campaign, &via, ctx.now)?;
                *wallet = <Wallet as crate::Decider>::evolve(std::mem::take(wallet), &event);
                wallet_events.push((wallet_stream(customer), event));
                grants.push(StockGrant {
                    coupon_id: coupon.clone(),
                    customer_id: customer.clone(),
                });
                left -= 1;
            }
            results.push(GrantResult {
                customer_id: customer.clone(),
                coupon_id: coupon.clone(),
                refused,
            });
        }
        if let Ok(mut r) = self.results.lock() {
            *r = results;
        }
        let events = if grants.is_empty() {
            Vec::new()
        } else {
            vec![StockEvent::CouponStockDrawn(CouponStockDrawn {
                grants,
                via,
                at: ctx.now,
            })]
        };
        let mut outcome = Outcome::primary::<CouponStock>(&sstream, stock, events)?;
        for (stream, event) in wallet_events {
            outcome.append(&stream, &[event])?;
        }
        outcome.guard(&cstream);
        Ok(outcome)
    }
}

/// The coupon id an auto-grant of the `k`-th campaign (0-based, in the product's auto-grant
/// index) gives for `order_id`: derived, so a re-run names the same coupon.
pub fn auto_coupon_id(order_id: &str, k: usize) -> String {
    let body = order_id.strip_prefix("ord_").unwrap_or(order_id);
    format!("cpn_{body}_{k}")
}

/// Policy "a paid order earns the coupons its product auto-grants": one coupon per campaign
/// of the product whose purchase window holds the payment time, that is not voided nor
/// over, has stock left and whose limit the customer has not reached, unless this order
/// already earned it. Nothing is appended to the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoGrant {
    pub order_id: String,
}

impl AutoGrant {
    fn paid<'s>(&self, states: &'s States) -> Option<(&'s str, &'s str, Timestamp)> {
        let order = states.get::<Order>(&order_stream(&self.order_id)).ok()?;
        let p = order.placed.as_ref()?;
        Some((&p.product_id, &p.customer_id, order.paid_at?))
    }
}

impl Decision for AutoGrant {
    fn primary(&self) -> String {
        order_stream(&self.order_id)
    }

    fn streams(&self, loaded: &States) -> Vec<String> {
        let Some((product_id, customer_id, _)) = self.paid(loaded) else {
            return Vec::new();
        };
        let index_stream = autogrant_stream(product_id);
        let mut streams = vec![index_stream.clone(), wallet_stream(customer_id)];
        if let Ok(index) = loaded.get::<AutoGrantIndex>(&index_stream) {
            for c in &index.campaign_ids {
                streams.push(campaign_stream(c));
                streams.push(stock_stream(c));
            }
        }
        streams
    }

    fn decide(&self, states: &States, ctx: &Context) -> Result<Outcome, DomainError> {
        let ostream = self.primary();
        let mut outcome =
            Outcome::primary::<Order>(&ostream, states.get::<Order>(&ostream)?, vec![])?;
        let Some((product_id, customer_id, paid_at)) = self.paid(states) else {
            return Ok(outcome);
        };
        let index_stream = autogrant_stream(product_id);
        let index = states.get::<AutoGrantIndex>(&index_stream)?;
        let wstream = wallet_stream(customer_id);
        let mut wallet = states.get::<Wallet>(&wstream)?.clone();
        let via = Via::AutoGrant {
            order_id: self.order_id.clone(),
        };
        for (k, campaign_id) in index.campaign_ids.iter().enumerate() {
            let cstream = campaign_stream(campaign_id);
            let campaign = states.get::<Campaign>(&cstream)?;
            let Some(c) = campaign.created.as_ref() else {
                continue;
            };
            let sstream = stock_stream(campaign_id);
            let stock = states.get::<CouponStock>(&sstream)?;
            let eligible = c.auto_grant.as_ref().is_some_and(|a| a.holds(paid_at))
                && !campaign.is_void()
                && ctx.now < c.valid_until
                && !wallet
                    .auto_granted
                    .contains(&(campaign_id.clone(), self.order_id.clone()))
                && draw_refusal(c, stock.remaining(c.total_quantity), &wallet).is_none();
            if !eligible {
                continue;
            }
            let coupon_id = auto_coupon_id(&self.order_id, k);
            let event = granted(&coupon_id, customer_id, campaign, &via, ctx.now)?;
            wallet = <Wallet as crate::Decider>::evolve(wallet, &event);
            outcome.append(&wstream, &[event])?;
            let drawn = StockEvent::CouponStockDrawn(CouponStockDrawn {
                grants: vec![StockGrant {
                    coupon_id,
                    customer_id: customer_id.to_owned(),
                }],
                via: via.clone(),
                at: ctx.now,
            });
            outcome.append(&sstream, &[drawn])?;
            outcome.guard(&cstream);
        }
        outcome.guard(&index_stream);
        Ok(outcome)
    }
}

/// The auto-grant decisions a stored event causes: one per `OrderPaid` of an order stream.
pub fn on_order_paid(stream_id: &str, event: &StoredEvent<'_>) -> Vec<Box<dyn Decision>> {
    let (kind, order_id) = crate::split_stream_id(stream_id);
    if kind == "order" && event.event_type == "OrderPaid" && is_valid_id(IdKind::Order, order_id) {
        vec![Box::new(AutoGrant {
            order_id: order_id.to_owned(),
        })]
    } else {
        Vec::new()
    }
}
