//! The one pricing function (SPEC.md §4), used by the quote and by placement so that what a
//! customer is quoted is what the order charges: the line (spec price × quantity) → the best
//! promotion → the coupon → never below 0. Integer cents, per-mille rates, half-up rounding
//! once per step. The order's `OrderPlaced` records every step ([`Priced`]), so an auditor
//! gets the price from the log alone.
//!
//! Invariants: `0 ≤ payable ≤ original`; each saving is ≥ 0 and at most the amount it was
//! taken from; the choice of promotion is independent of the coupon; a coupon that cannot
//! apply is refused with `coupon_not_applicable` and the first failing `details.rule`, in the
//! order of [`CouponRule`].

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::money::{apply_permille, Cents};
use crate::order::{Client, OrderType};
use crate::product::DurationUnit;
use crate::time::Timestamp;

/// Lowest and highest `pay_permille` of a discount promotion or coupon (0.1 折 .. 9.9 折).
pub const PAY_PERMILLE_MIN: u32 = 10;
pub const PAY_PERMILLE_MAX: u32 = 990;

/// What a promotion takes off the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromotionKind {
    /// 直减: a fixed amount off the whole line, once.
    Reduce { reduce: Cents },
    /// 折扣: the line costs round_half_up(line × pay_permille / 1000).
    Discount { pay_permille: u32 },
}

/// Where a promotion is in its life (SPEC.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromotionStatus {
    /// Only the seller sees it in quotes; no order gets it.
    PrePublished,
    Published,
    Deleted,
}

impl PromotionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PromotionStatus::PrePublished => "pre_published",
            PromotionStatus::Published => "published",
            PromotionStatus::Deleted => "deleted",
        }
    }
}

/// A spec duration a promotion may be limited to (`1 month`, `1 year`, `1 once`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecDuration {
    pub duration: u32,
    pub unit: DurationUnit,
}

/// The conditions of a promotion; an empty list means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conditions {
    /// Among `new`, `renewal`, `upgrade` (a conversion counts as `new`, see [`scenario_of`]).
    pub order_types: Vec<OrderType>,
    pub min_quantity: Option<u32>,
    pub clients: Vec<Client>,
    pub durations: Vec<SpecDuration>,
    /// Only the customer's first purchase of this product.
    pub first_purchase_only: bool,
    /// Only real-name-verified customers.
    pub real_name_only: bool,
}

/// A promotion as pricing sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionTerms {
    pub id: String,
    pub name: String,
    pub kind: PromotionKind,
    /// Active from `starts_at` (inclusive) to `ends_at` (exclusive).
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    /// The specs it applies to; empty: all.
    pub spec_ids: Vec<String>,
    pub conditions: Conditions,
    pub status: PromotionStatus,
}

/// What a coupon takes off the amount after the promotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponKind {
    /// 折扣券: pay N‰.
    Discount { pay_permille: u32 },
    /// 满额券: when the amount is ≥ `threshold`, `reduce` off (reduce ≤ threshold).
    Threshold { threshold: Cents, reduce: Cents },
}

/// Which products a coupon is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponScope {
    /// Every product of the campaign's seller.
    Store,
    /// These products (all of the campaign's seller).
    Products(Vec<String>),
}

/// A coupon's terms, copied from its campaign when it was granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponTerms {
    pub campaign_id: String,
    pub seller_org_id: String,
    pub scope: CouponScope,
    pub kind: CouponKind,
    /// Order types it may be used for (among `new`, `renewal`, `upgrade`).
    pub scenarios: Vec<OrderType>,
    /// Usable from `valid_from` (inclusive) to `valid_until` (exclusive).
    pub valid_from: Timestamp,
    pub valid_until: Timestamp,
}

impl CouponTerms {
    /// Whether the coupon is usable at `now` (its validity window).
    pub fn valid_at(&self, now: Timestamp) -> bool {
        self.valid_from <= now && now < self.valid_until
    }
}

/// A coupon offered for a line, with what its holder's and campaign's streams say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponOffer<'a> {
    pub coupon_id: &'a str,
    /// `None`: the customer holds no coupon of this id.
    pub terms: Option<&'a CouponTerms>,
    /// Redeemed by an order that still holds it.
    pub used: bool,
    /// Its campaign has been voided.
    pub campaign_void: bool,
}

impl<'a> CouponOffer<'a> {
    /// A coupon the customer does not hold (pricing refuses it as `not_owner`).
    pub fn not_held(coupon_id: &'a str) -> CouponOffer<'a> {
        CouponOffer {
            coupon_id,
            terms: None,
            used: false,
            campaign_void: false,
        }
    }
}

/// Why a coupon cannot apply: `details.rule` of `coupon_not_applicable`, checked in this
/// order (API.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CouponRule {
    NotOwner,
    Used,
    Void,
    Expired,
    Scope,
    Scenario,
    Threshold,
}

impl CouponRule {
    pub fn as_str(self) -> &'static str {
        match self {
            CouponRule::NotOwner => "not_owner",
            CouponRule::Used => "used",
            CouponRule::Void => "void",
            CouponRule::Expired => "expired",
            CouponRule::Scope => "scope",
            CouponRule::Scenario => "scenario",
            CouponRule::Threshold => "threshold",
        }
    }

    fn refusal(self, coupon_id: &str, why: String) -> DomainError {
        DomainError::rule(
            "coupon_not_applicable",
            format!("coupon {coupon_id} cannot be used for this order: {why}"),
        )
        .with("rule", self.as_str())
        .with("coupon_id", coupon_id)
    }
}

/// The order line being priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    pub seller_org_id: &'a str,
    pub product_id: &'a str,
    pub spec_id: &'a str,
    pub duration: SpecDuration,
    pub order_type: OrderType,
    pub quantity: u32,
    pub client: Option<Client>,
    /// Spec price × quantity (for an upgrade: the price difference × quantity; for a trial:
    /// the trial spec's price).
    pub original: Cents,
    /// The customer has never paid for this product before.
    pub first_purchase: bool,
    pub real_name_verified: bool,
}

/// Who asks for the price: the seller's own quote also sees `pre_published` promotions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    Customer,
    Seller,
}

/// The promotion a line got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedPromotion {
    pub id: String,
    pub name: String,
    pub saving: Cents,
}

/// The coupon a line got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedCoupon {
    pub id: String,
    pub campaign_id: String,
    pub saving: Cents,
}

/// Every step of a line's price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Priced {
    pub original: Cents,
    pub promotion: Option<AppliedPromotion>,
    pub coupon: Option<AppliedCoupon>,
    pub payable: Cents,
}

/// The order type a promotion's `order_types` and a coupon's `scenarios` are matched with: a
/// conversion (trial → paid) is a purchase like `new`; a trial is never discounted.
pub fn scenario_of(order_type: OrderType) -> Option<OrderType> {
    match order_type {
        OrderType::New | OrderType::Conversion => Some(OrderType::New),
        OrderType::Renewal => Some(OrderType::Renewal),
        OrderType::Upgrade => Some(OrderType::Upgrade),
        OrderType::Trial => None,
    }
}

/// What paying `pay_permille` of `amount` (≥ 0) saves: the rest, rounded half-up once.
fn discount_saving(amount: Cents, pay_permille: u32) -> Cents {
    let pays = apply_permille(amount, pay_permille).0.clamp(0, amount.0);
    Cents(amount.0 - pays)
}

/// What `kind` saves on `amount` (≥ 0, ≤ amount).
pub fn promotion_saving(kind: PromotionKind, amount: Cents) -> Cents {
    let amount = amount.at_least_zero();
    match kind {
        PromotionKind::Reduce { reduce } => Cents(reduce.0.clamp(0, amount.0)),
        PromotionKind::Discount { pay_permille } => discount_saving(amount, pay_permille),
    }
}

/// What a coupon of `kind` saves on `amount` (the amount after the promotion), if its
/// threshold is met.
pub fn coupon_saving(kind: CouponKind, amount: Cents) -> Option<Cents> {
    let amount = amount.at_least_zero();
    match kind {
        CouponKind::Discount { pay_permille } => Some(discount_saving(amount, pay_permille)),
        CouponKind::Threshold { threshold, reduce } => {
            (amount >= threshold).then(|| Cents(reduce.0.clamp(0, amount.0)))
        }
    }
}

/// Whether promotion `p` applies to `line` at `now` for `viewer` (its saving aside).
pub fn promotion_applies(
    p: &PromotionTerms,
    line: &Line<'_>,
    now: Timestamp,
    viewer: Viewer,
) -> bool {
    let visible = match p.status {
        PromotionStatus::Published => true,
        PromotionStatus::PrePublished => viewer == Viewer::Seller,
        PromotionStatus::Deleted => false,
    };
    let c = &p.conditions;
    let Some(scenario) = scenario_of(line.order_type) else {
        return false;
    };
    visible
        && p.starts_at <= now
        && now < p.ends_at
        && (p.spec_ids.is_empty() || p.spec_ids.iter().any(|s| s == line.spec_id))
        && (c.order_types.is_empty() || c.order_types.contains(&scenario))
        && c.min_quantity.is_none_or(|m| line.quantity >= m)
        && (c.clients.is_empty() || line.client.is_some_and(|cl| c.clients.contains(&cl)))
        && (c.durations.is_empty() || c.durations.contains(&line.duration))
        && (!c.first_purchase_only || line.first_purchase)
        && (!c.real_name_only || line.real_name_verified)
}

/// The promotion that saves the most on `line` (ties: the earliest in `promotions`, which
/// lists them in creation order); only a positive saving counts.
pub fn best_promotion(
    promotions: &[PromotionTerms],
    line: &Line<'_>,
    now: Timestamp,
    viewer: Viewer,
) -> Option<AppliedPromotion> {
    let mut best: Option<(&PromotionTerms, Cents)> = None;
    for p in promotions
        .iter()
        .filter(|p| promotion_applies(p, line, now, viewer))
    {
        let saving = promotion_saving(p.kind, line.original);
        if saving.0 > 0 && best.is_none_or(|(_, s)| saving > s) {
            best = Some((p, saving));
        }
    }
    best.map(|(p, saving)| AppliedPromotion {
        id: p.id.clone(),
        name: p.name.clone(),
        saving,
    })
}

/// The coupon's saving on `amount` (after the promotion), or why it cannot apply.
pub fn apply_coupon(
    offer: &CouponOffer<'_>,
    line: &Line<'_>,
    amount: Cents,
    now: Timestamp,
) -> Result<AppliedCoupon, DomainError> {
    let id = offer.coupon_id;
    let Some(t) = offer.terms else {
        return Err(CouponRule::NotOwner.refusal(id, "the customer holds no such coupon".into()));
    };
    if offer.used {
        return Err(CouponRule::Used.refusal(id, "it is already used by another order".into()));
    }
    if offer.campaign_void {
        return Err(CouponRule::Void.refusal(id, "its campaign was voided".into()));
    }
    if !t.valid_at(now) {
        return Err(CouponRule::Expired.refusal(
            id,
            format!("it is valid from {} until {}", t.valid_from, t.valid_until),
        ));
    }
    let in_scope = t.seller_org_id == line.seller_org_id
        && match &t.scope {
            CouponScope::Store => true,
            CouponScope::Products(ids) => ids.iter().any(|p| p == line.product_id),
        };
    if !in_scope {
        return Err(
            CouponRule::Scope.refusal(id, format!("it is not for product {}", line.product_id))
        );
    }
    if !scenario_of(line.order_type).is_some_and(|s| t.scenarios.contains(&s)) {
        return Err(CouponRule::Scenario.refusal(
            id,
            format!("it is not for {} orders", line.order_type.as_str()),
        ));
    }
    let saving = coupon_saving(t.kind, amount).ok_or_else(|| {
        let threshold = match t.kind {
            CouponKind::Threshold { threshold, .. } => threshold,
            CouponKind::Discount { .. } => Cents::ZERO,
        };
        CouponRule::Threshold.refusal(
            id,
            format!(
                "the amount after the promotion, {} cents, is below its threshold of {} cents",
                amount.0, threshold.0
            ),
        )
    })?;
    Ok(AppliedCoupon {
        id: id.to_owned(),
        campaign_id: t.campaign_id.clone(),
        saving,
    })
}

/// The price of `line`: the best promotion, then the coupon, never below 0.
pub fn price(
    line: &Line<'_>,
    promotions: &[PromotionTerms],
    coupon: Option<&CouponOffer<'_>>,
    now: Timestamp,
    viewer: Viewer,
) -> Result<Priced, DomainError> {
    let original = line.original.at_least_zero();
    let promotion = best_promotion(promotions, line, now, viewer);
    let after_promotion = Cents(original.0 - promotion.as_ref().map_or(0, |p| p.saving.0));
    let coupon = coupon
        .map(|offer| apply_coupon(offer, line, after_promotion, now))
        .transpose()?;
    let payable = Cents(after_promotion.0 - coupon.as_ref().map_or(0, |c| c.saving.0));
    Ok(Priced {
        original,
        promotion,
        coupon,
        payable: payable.at_least_zero(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(day: i64) -> Timestamp {
        Timestamp::from_micros(day * 86_400_000_000)
    }

    fn line(original: i64) -> Line<'static> {
        Line {
            seller_org_id: "org_s",
            product_id: "prd_1",
            spec_id: "s1",
            duration: SpecDuration {
                duration: 1,
                unit: DurationUnit::Month,
            },
            order_type: OrderType::New,
            quantity: 2,
            client: Some(Client::Web),
            original: Cents(original),
            first_purchase: true,
            real_name_verified: false,
        }
    }

    fn promo(id: &str, kind: PromotionKind) -> PromotionTerms {
        PromotionTerms {
            id: id.into(),
            name: format!("promo {id}"),
            kind,
            starts_at: t(10),
            ends_at: t(20),
            spec_ids: vec![],
            conditions: Conditions::default(),
            status: PromotionStatus::Published,
        }
    }

    fn terms(kind: CouponKind) -> CouponTerms {
        CouponTerms {
            campaign_id: "cpc_1".into(),
            seller_org_id: "org_s".into(),
            scope: CouponScope::Store,
            kind,
            scenarios: vec![OrderType::New],
            valid_from: t(0),
            valid_until: t(30),
        }
    }

    fn offer(terms: &CouponTerms) -> CouponOffer<'_> {
        CouponOffer {
            coupon_id: "cpn_1",
            terms: Some(terms),
            used: false,
            campaign_void: false,
        }
    }

    fn rule_of(e: &DomainError) -> Option<String> {
        e.details
            .iter()
            .find(|(k, _)| *k == "rule")
            .map(|(_, v)| v.clone())
    }

    #[test]
    fn rounding_is_half_up_once_per_step() {
        // (line, pay‰ of the promotion, pay‰ of the coupon, payable), worked by hand:
        let table: &[(i64, u32, u32, i64)] = &[
            (1_000, 900, 900, 810), // 900, then 810
            (5, 900, 900, 5),       // 4.5 → 5 saves nothing twice
            (15, 500, 500, 4),      // 7.5 → 8, then 4
            (7, 500, 500, 2),       // 3.5 → 4, then 2
            (999, 333, 990, 330),   // 332.667 → 333, then 329.67 → 330
            (199, 990, 500, 99),    // 197.01 → 197, then 98.5 → 99
            (1, 10, 10, 0),         // 0.01 → 0, then 0
        ];
        for &(amount, p, c, payable) in table {
            let promos = [promo("p", PromotionKind::Discount { pay_permille: p })];
            let terms = terms(CouponKind::Discount { pay_permille: c });
            let priced = price(
                &line(amount),
                &promos,
                Some(&offer(&terms)),
                t(15),
                Viewer::Customer,
            )
            .expect("applies");
            assert_eq!(priced.payable, Cents(payable), "{amount} × {p}‰ × {c}‰");
            let savings = priced.promotion.as_ref().map_or(0, |p| p.saving.0)
                + priced.coupon.as_ref().map_or(0, |c| c.saving.0);
            assert_eq!(amount - savings, payable, "the steps add up");
        }
        let promos = [promo("p", PromotionKind::Discount { pay_permille: 900 })];
        let terms = terms(CouponKind::Discount { pay_permille: 900 });
        let priced = price(
            &line(5),
            &promos,
            Some(&offer(&terms)),
            t(15),
            Viewer::Customer,
        )
        .expect("ok");
        assert_eq!(
            priced.promotion, None,
            "a promotion saving nothing is not applied"
        );
    }

    #[test]
    fn the_best_saving_wins_and_ties_go_to_the_earliest() {
        let promos = [
            promo("a", PromotionKind::Reduce { reduce: Cents(100) }),
            promo("b", PromotionKind::Discount { pay_permille: 900 }), // saves 100 on 1000
            promo("c", PromotionKind::Reduce { reduce: Cents(99) }),
        ];
        let best = best_promotion(&promos, &line(1_000), t(15), Viewer::Customer);
        assert_eq!(best.map(|p| p.id), Some("a".into()));
        let best = best_promotion(&promos, &line(2_000), t(15), Viewer::Customer);
        assert_eq!(
            best.map(|p| (p.id, p.saving)),
            Some(("b".into(), Cents(200)))
        );
    }

    #[test]
    fn a_promotion_applies_only_inside_its_window_and_conditions() {
        let base = promo("a", PromotionKind::Reduce { reduce: Cents(10) });
        let l = line(1_000);
        assert!(
            promotion_applies(&base, &l, t(10), Viewer::Customer),
            "start is inclusive"
        );
        assert!(
            !promotion_applies(&base, &l, t(20), Viewer::Customer),
            "end is exclusive"
        );
        assert!(!promotion_applies(&base, &l, t(9), Viewer::Customer));
        let mut pre = base.clone();
        pre.status = PromotionStatus::PrePublished;
        assert!(!promotion_applies(&pre, &l, t(15), Viewer::Customer));
        assert!(promotion_applies(&pre, &l, t(15), Viewer::Seller));
        let mut deleted = base.clone();
        deleted.status = PromotionStatus::Deleted;
        assert!(!promotion_applies(&deleted, &l, t(15), Viewer::Seller));
        type Change = Box<dyn Fn(&mut PromotionTerms)>;
        let cases: Vec<(&str, Change)> = vec![
            ("spec", Box::new(|p| p.spec_ids = vec!["s2".into()])),
            (
                "order type",
                Box::new(|p| p.conditions.order_types = vec![OrderType::Renewal]),
            ),
            (
                "min quantity",
                Box::new(|p| p.conditions.min_quantity = Some(3)),
            ),
            (
                "client",
                Box::new(|p| p.conditions.clients = vec![Client::Mobile]),
            ),
            (
                "duration",
                Box::new(|p| {
                    p.conditions.durations = vec![SpecDuration {
                        duration: 1,
                        unit: DurationUnit::Year,
                    }]
                }),
            ),
            (
                "real name",
                Box::new(|p| p.conditions.real_name_only = true),
            ),
        ];
        for (what, change) in cases {
            let mut p = base.clone();
            change(&mut p);
            assert!(
                !promotion_applies(&p, &l, t(15), Viewer::Customer),
                "{what}"
            );
        }
        let mut first = base.clone();
        first.conditions.first_purchase_only = true;
        assert!(promotion_applies(&first, &l, t(15), Viewer::Customer));
        let repeat = Line {
            first_purchase: false,
            ..l.clone()
        };
        assert!(!promotion_applies(&first, &repeat, t(15), Viewer::Customer));
        let trial = Line {
            order_type: OrderType::Trial,
            ..l.clone()
        };
        assert!(
            !promotion_applies(&base, &trial, t(15), Viewer::Customer),
            "trials are never discounted"
        );
        let conversion = Line {
            order_type: OrderType::Conversion,
            ..l
        };
        let mut new_only = base;
        new_only.conditions.order_types = vec![OrderType::New];
        assert!(promotion_applies(
            &new_only,
            &conversion,
            t(15),
            Viewer::Customer
        ));
    }

    #[test]
    fn a_threshold_coupon_is_measured_after_the_promotion() {
        let promos = [promo("a", PromotionKind::Reduce { reduce: Cents(200) })];
        let terms = terms(CouponKind::Threshold {
            threshold: Cents(900),
            reduce: Cents(300),
        });
        // 1000 − 200 = 800 < 900: refused, although the list price meets the threshold.
        let e = price(
            &line(1_000),
            &promos,
            Some(&offer(&terms)),
            t(15),
            Viewer::Customer,
        )
        .expect_err("below threshold");
        assert_eq!(e.code, "coupon_not_applicable");
        assert_eq!(rule_of(&e).as_deref(), Some("threshold"));
        let priced = price(
            &line(1_100),
            &promos,
            Some(&offer(&terms)),
            t(15),
            Viewer::Customer,
        )
        .expect("900 meets 900");
        assert_eq!(priced.payable, Cents(600));
        assert_eq!(priced.original, Cents(1_100));
    }

    #[test]
    fn coupon_refusals_name_the_first_failing_rule() {
        let base = terms(CouponKind::Discount { pay_permille: 800 });
        let l = line(1_000);
        let check = |offer: CouponOffer<'_>, l: &Line<'_>, now: i64| {
            apply_coupon(&offer, l, l.original, t(now)).map_err(|e| rule_of(&e).unwrap_or_default())
        };
        let none = CouponOffer {
            terms: None,
            ..offer(&base)
        };
        assert_eq!(check(none, &l, 5), Err("not_owner".into()));
        let used_and_void = CouponOffer {
            used: true,
            campaign_void: true,
            ..offer(&base)
        };
        assert_eq!(check(used_and_void, &l, 5), Err("used".into()));
        let void = CouponOffer {
            campaign_void: true,
            ..offer(&base)
        };
        assert_eq!(check(void, &l, 5), Err("void".into()));
        assert_eq!(check(offer(&base), &l, 30), Err("expired".into()));
        let mut other_seller = base.clone();
        other_seller.seller_org_id = "org_x".into();
        assert_eq!(check(offer(&other_seller), &l, 5), Err("scope".into()));
        let mut other_products = base.clone();
        other_products.scope = CouponScope::Products(vec!["prd_2".into()]);
        assert_eq!(check(offer(&other_products), &l, 5), Err("scope".into()));
        let renewal = Line {
            order_type: OrderType::Renewal,
            ..l.clone()
        };
        assert_eq!(check(offer(&base), &renewal, 5), Err("scenario".into()));
        assert_eq!(
            check(offer(&base), &l, 5).map(|c| c.saving),
            Ok(Cents(200)),
            "pays 80 %"
        );
    }

    #[test]
    fn the_price_never_goes_below_zero() {
        let promos = [promo(
            "a",
            PromotionKind::Reduce {
                reduce: Cents(5_000),
            },
        )];
        let terms = terms(CouponKind::Threshold {
            threshold: Cents(0),
            reduce: Cents(5_000),
        });
        let priced = price(
            &line(1_000),
            &promos,
            Some(&offer(&terms)),
            t(15),
            Viewer::Customer,
        )
        .expect("applies");
        assert_eq!(priced.promotion.map(|p| p.saving), Some(Cents(1_000)));
        assert_eq!(priced.coupon.map(|c| c.saving), Some(Cents(0)));
        assert_eq!(priced.payable, Cents(0));
    }
}
