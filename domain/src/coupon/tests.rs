//! Given / when / then for every rule and refusal of coupons, and a model-based test of
//! claims, batch grants, voids and clock moves against a tiny in-memory model.

use proptest::prelude::*;

use super::*;
use crate::decider::{Actor, Role};
use crate::decision::testing::{decoded, DecisionTest};
use crate::money::Cents;
use crate::order::{Channel, ChannelKind, OrderEvent, OrderPaid, OrderPlaced};
use crate::product::{DeliveryKind, DurationUnit, ProductCreated, ProductEvent};

fn t(day: i64) -> Timestamp {
    Timestamp::from_micros(day * 86_400_000_000)
}

fn seller_at(now: Timestamp, org: &str) -> Context {
    Context::new(
        now,
        Actor::Principal {
            id: "prn_s".into(),
            role: Role::IsvAdmin,
            org_id: Some(org.into()),
        },
        chrono_tz::UTC,
    )
}

fn seller(now: Timestamp) -> Context {
    seller_at(now, "org_s")
}

fn customer(now: Timestamp, id: &str) -> Context {
    Context::new(
        now,
        Actor::Principal {
            id: id.into(),
            role: Role::Customer,
            org_id: None,
        },
        chrono_tz::UTC,
    )
}

fn product(id: &str, org: &str) -> ProductEvent {
    ProductEvent::ProductCreated(ProductCreated {
        product_id: id.into(),
        seller_org_id: org.into(),
        code: "C".into(),
        name: "P".into(),
        category: "cat".into(),
        delivery: DeliveryKind::Saas,
        delivery_days: 1,
        warranty_days: 1,
        flow_template_id: None,
        specs: vec![],
    })
}

fn create() -> CreateCampaign {
    CreateCampaign {
        campaign_id: "cpc_1".into(),
        seller_org_id: "org_s".into(),
        name: "Spring".into(),
        scope: ScopeName::Products,
        product_ids: vec!["prd_1".into()],
        kind: KindName::Discount,
        pay_permille: Some(800),
        threshold_cents: None,
        reduce_cents: None,
        per_customer_limit: 2,
        valid_from: t(0),
        valid_until: t(30),
        total_quantity: 3,
        scenarios: vec![OrderType::New, OrderType::Renewal],
        show_in_store: true,
        auto_grant: None,
    }
}

fn created_event(c: &CreateCampaign) -> CampaignEvent {
    let (scope, kind) = c.field_rules().expect("valid");
    CampaignEvent::CampaignCreated(CampaignCreated {
        campaign_id: c.campaign_id.clone(),
        seller_org_id: c.seller_org_id.clone(),
        name: c.name.clone(),
        scope,
        kind,
        scenarios: c.scenarios.clone(),
        per_customer_limit: c.per_customer_limit,
        valid_from: c.valid_from,
        valid_until: c.valid_until,
        total_quantity: c.total_quantity,
        show_in_store: c.show_in_store,
        auto_grant: c.auto_grant.clone(),
        created_by: "prn_s:isv_admin".into(),
        at: t(0),
    })
}

fn campaign_events() -> Vec<CampaignEvent> {
    vec![created_event(&create())]
}

fn voided() -> CampaignEvent {
    CampaignEvent::CampaignVoided(CampaignVoided {
        by: "prn_s:isv_admin".into(),
        at: t(1),
    })
}

fn drawn(n: usize) -> StockEvent {
    StockEvent::CouponStockDrawn(CouponStockDrawn {
        grants: (0..n)
            .map(|i| StockGrant {
                coupon_id: format!("cpn_x{i}"),
                customer_id: format!("cus_x{i}"),
            })
            .collect(),
        via: Via::Claim,
        at: t(1),
    })
}

fn held(coupon_id: &str, customer_id: &str) -> WalletEvent {
    let terms = Campaign::fold(&campaign_events()).terms().expect("created");
    WalletEvent::CouponGranted(CouponGranted {
        coupon_id: coupon_id.into(),
        customer_id: customer_id.into(),
        terms,
        via: Via::Claim,
        at: t(1),
    })
}

fn code(r: Result<Outcome, DomainError>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.code.to_owned(),
    }
}

fn field_rule(e: &DomainError) -> (String, String) {
    let get = |k: &str| {
        e.details
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    (get("field"), get("rule"))
}

fn claim(customer_id: &str, coupon_id: &str) -> ClaimCoupon {
    ClaimCoupon {
        campaign_id: "cpc_1".into(),
        customer_id: customer_id.into(),
        coupon_id: coupon_id.into(),
    }
}

use crate::Decider;

#[test]
fn campaign_field_rules_name_the_field_and_rule() {
    type Change = Box<dyn Fn(&mut CreateCampaign)>;
    let cases: Vec<(&str, &str, Change)> = vec![
        ("name", "required", Box::new(|c| c.name = "  ".into())),
        (
            "product_ids",
            "required",
            Box::new(|c| c.product_ids.clear()),
        ),
        (
            "product_ids[1]",
            "unique",
            Box::new(|c| c.product_ids = vec!["prd_1".into(), "prd_1".into()]),
        ),
        (
            "product_ids",
            "max_items",
            Box::new(|c| c.product_ids = (0..51).map(|i| format!("prd_{i}")).collect()),
        ),
        (
            "product_ids[0]",
            "format",
            Box::new(|c| c.product_ids = vec!["ord_1".into()]),
        ),
        (
            "product_ids",
            "not_allowed",
            Box::new(|c| c.scope = ScopeName::Store),
        ),
        (
            "pay_permille",
            "range",
            Box::new(|c| c.pay_permille = Some(9)),
        ),
        (
            "pay_permille",
            "range",
            Box::new(|c| c.pay_permille = Some(991)),
        ),
        (
            "pay_permille",
            "required",
            Box::new(|c| c.pay_permille = None),
        ),
        (
            "threshold_cents",
            "not_allowed",
            Box::new(|c| c.threshold_cents = Some(100)),
        ),
        (
            "reduce_cents",
            "not_allowed",
            Box::new(|c| c.reduce_cents = Some(100)),
        ),
        (
            "pay_permille",
            "not_allowed",
            Box::new(|c| c.kind = KindName::Threshold),
        ),
        (
            "threshold_cents",
            "range",
            Box::new(|c| {
                c.kind = KindName::Threshold;
                c.pay_permille = None;
                c.threshold_cents = Some(0);
                c.reduce_cents = Some(1);
            }),
        ),
        (
            "reduce_cents",
            "range",
            Box::new(|c| {
                c.kind = KindName::Threshold;
                c.pay_permille = None;
                c.threshold_cents = Some(100);
                c.reduce_cents = Some(101);
            }),
        ),
        (
            "reduce_cents",
            "required",
            Box::new(|c| {
                c.kind = KindName::Threshold;
                c.pay_permille = None;
                c.threshold_cents = Some(100);
            }),
        ),
        (
            "per_customer_limit",
            "range",
            Box::new(|c| c.per_customer_limit = 0),
        ),
        (
            "per_customer_limit",
            "range",
            Box::new(|c| c.per_customer_limit = 101),
        ),
        (
            "total_quantity",
            "range",
            Box::new(|c| c.total_quantity = 0),
        ),
        (
            "total_quantity",
            "range",
            Box::new(|c| c.total_quantity = 1_000_001),
        ),
        (
            "valid_until",
            "after_valid_from",
            Box::new(|c| c.valid_until = c.valid_from),
        ),
        ("scenarios", "required", Box::new(|c| c.scenarios.clear())),
        (
            "scenarios[1]",
            "one_of",
            Box::new(|c| c.scenarios = vec![OrderType::New, OrderType::Trial]),
        ),
        (
            "scenarios[1]",
            "unique",
            Box::new(|c| c.scenarios = vec![OrderType::New, OrderType::New]),
        ),
        (
            "auto_grant.purchased_until",
            "after_purchased_from",
            Box::new(|c| {
                c.auto_grant = Some(AutoGrantWindow {
                    product_ids: vec!["prd_1".into()],
                    purchased_from: t(5),
                    purchased_until: t(5),
                })
            }),
        ),
        (
            "auto_grant.product_ids",
            "required",
            Box::new(|c| {
                c.auto_grant = Some(AutoGrantWindow {
                    product_ids: vec![],
                    purchased_from: t(0),
                    purchased_until: t(5),
                })
            }),
        ),
    ];
    for (field, rule, change) in cases {
        let mut c = create();
        change(&mut c);
        // Field rules answer before any state is read: no product exists here.
        let e = DecisionTest::new()
            .when(&c, &seller(t(0)))
            .expect_err(field);
        assert_eq!(e.code, "validation_failed", "{field}");
        assert_eq!(field_rule(&e), (field.to_owned(), rule.to_owned()));
    }
    let mut threshold = create();
    threshold.kind = KindName::Threshold;
    threshold.pay_permille = None;
    threshold.threshold_cents = Some(100);
    threshold.reduce_cents = Some(100);
    assert!(
        threshold.field_rules().is_ok(),
        "reduce may equal threshold"
    );
}

#[test]
fn creation_needs_the_sellers_own_existing_products_and_indexes_auto_grants() {
    let mut c = create();
    c.product_ids = vec!["prd_1".into(), "prd_2".into(), "prd_3".into()];
    c.auto_grant = Some(AutoGrantWindow {
        product_ids: vec!["prd_9".into()],
        purchased_from: t(0),
        purchased_until: t(10),
    });
    let world = || {
        DecisionTest::new()
            .given::<Product>("product-prd_1", &[product("prd_1", "org_s")])
            .given::<Product>("product-prd_2", &[product("prd_2", "org_x")])
    };
    let e = world().when(&c, &seller(t(0))).expect_err("not own");
    assert_eq!(field_rule(&e), ("product_ids[1]".into(), "not_own".into()));
    let world = || {
        DecisionTest::new()
            .given::<Product>("product-prd_1", &[product("prd_1", "org_s")])
            .given::<Product>("product-prd_2", &[product("prd_2", "org_s")])
            .given::<Product>("product-prd_3", &[product("prd_3", "org_s")])
    };
    let e = world().when(&c, &seller(t(0))).expect_err("unknown");
    assert_eq!(
        field_rule(&e),
        ("auto_grant.product_ids[0]".into(), "unknown".into())
    );
    let out = world()
        .given::<Product>("product-prd_9", &[product("prd_9", "org_s")])
        .when(&c, &seller(t(0)))
        .expect("created");
    let created: Vec<CampaignEvent> = decoded(&out, "campaign-cpc_1");
    assert!(matches!(&created[..], [CampaignEvent::CampaignCreated(e)]
        if e.created_by == "prn_s:isv_admin" && e.kind == CouponKind::Discount { pay_permille: 800 }));
    let index: Vec<AutoGrantIndexEvent> = decoded(&out, "autogrant-prd_9");
    assert_eq!(
        index,
        vec![AutoGrantIndexEvent::CampaignAutoGrantAdded(
            CampaignAutoGrantAdded {
                campaign_id: "cpc_1".into()
            }
        )]
    );
    let e = DecisionTest::new()
        .given::<Campaign>("campaign-cpc_1", &campaign_events())
        .given::<Product>("product-prd_1", &[product("prd_1", "org_s")])
        .when(&create(), &seller(t(0)))
        .expect_err("exists");
    assert_eq!(e.code, "invalid_state");
}

#[test]
fn only_the_owner_voids_and_a_second_void_changes_nothing() {
    let void = void_campaign("cpc_1");
    let given =
        |events: &[CampaignEvent]| DecisionTest::new().given::<Campaign>("campaign-cpc_1", events);
    assert_eq!(
        code(DecisionTest::new().when(&void, &seller(t(1)))),
        "not_found"
    );
    assert_eq!(
        code(given(&campaign_events()).when(&void, &seller_at(t(1), "org_x"))),
        "not_found"
    );
    let out = given(&campaign_events())
        .when(&void, &seller(t(1)))
        .expect("voided");
    let events: Vec<CampaignEvent> = decoded(&out, "campaign-cpc_1");
    assert!(matches!(&events[..], [CampaignEvent::CampaignVoided(_)]));
    let mut twice = campaign_events();
    twice.push(voided());
    let out = given(&twice).when(&void, &seller(t(2))).expect("no-op");
    assert!(out.is_empty());
}

#[test]
fn a_claim_draws_from_the_stock_into_the_wallet_and_guards_the_campaign() {
    let out = DecisionTest::new()
        .given::<Campaign>("campaign-cpc_1", &campaign_events())
        .when(&claim("cus_1", "cpn_a"), &customer(t(1), "cus_1"))
        .expect("granted");
    let wallet: Vec<WalletEvent> = decoded(&out, "wallet-cus_1");
    assert!(matches!(&wallet[..], [WalletEvent::CouponGranted(g)]
        if g.coupon_id == "cpn_a" && g.via == Via::Claim && g.terms.campaign_id == "cpc_1"));
    let stock: Vec<StockEvent> = decoded(&out, "stock-cpc_1");
    assert_eq!(stock.len(), 1);
    assert_eq!(out.guards, vec!["campaign-cpc_1".to_owned()]);
    let after = out.primary_state::<Wallet>().expect("wallet");
    assert_eq!(after.count_of("cpc_1"), 1);
    assert!(after.coupons.contains_key("cpn_a"));
}

#[test]
fn claim_refusals_come_in_their_documented_order() {
    let mut void = campaign_events();
    void.push(voided());
    let mut hidden = create();
    hidden.show_in_store = false;
    let world = |campaign: &[CampaignEvent], stock: usize, held_n: usize| {
        let wallet: Vec<WalletEvent> = (0..held_n)
            .map(|i| held(&format!("cpn_h{i}"), "cus_1"))
            .collect();
        let stock: Vec<StockEvent> = (stock > 0).then(|| drawn(stock)).into_iter().collect();
        DecisionTest::new()
            .given::<Campaign>("campaign-cpc_1", campaign)
            .given::<CouponStock>("stock-cpc_1", &stock)
            .given::<Wallet>("wallet-cus_1", &wallet)
    };
    let c = claim("cus_1", "cpn_a");
    let at = |day| customer(t(day), "cus_1");
    assert_eq!(code(world(&[], 0, 0).when(&c, &at(1))), "not_found");
    // Void before everything else, even when also sold out and at the limit.
    assert_eq!(code(world(&void, 3, 2).when(&c, &at(1))), "campaign_void");
    assert_eq!(
        code(world(&[created_event(&hidden)], 3, 2).when(&c, &at(1))),
        "not_claimable"
    );
    assert_eq!(
        code(world(&campaign_events(), 0, 0).when(&c, &at(30))),
        "not_claimable",
        "valid_until is exclusive"
    );
    assert_eq!(
        code(world(&campaign_events(), 0, 0).when(&c, &at(29))),
        "ok"
    );
    assert_eq!(
        code(world(&campaign_events(), 3, 2).when(&c, &at(1))),
        "sold_out",
        "sold_out before limit_reached"
    );
    assert_eq!(
        code(world(&campaign_events(), 2, 2).when(&c, &at(1))),
        "limit_reached"
    );
    assert_eq!(code(world(&campaign_events(), 2, 1).when(&c, &at(1))), "ok");
}

#[test]
fn a_batch_grant_decides_each_customer_in_order_in_one_append() {
    let g = GrantCoupons::new(
        "cpc_1".into(),
        vec![
            "cus_1".into(),
            "cus_1".into(),
            "cus_1".into(),
            "cus_2".into(),
            "cus_3".into(),
        ],
        (0..5).map(|i| format!("cpn_g{i}")).collect(),
    );
    let out = DecisionTest::new()
        .given::<Campaign>("campaign-cpc_1", &campaign_events())
        .when(&g, &seller(t(1)))
        .expect("decided");
    let refused: Vec<Option<&str>> = g.results().iter().map(|r| r.refused).collect();
    assert_eq!(
        refused,
        vec![None, None, Some("limit_reached"), None, Some("sold_out")]
    );
    let stock: Vec<StockEvent> = decoded(&out, "stock-cpc_1");
    assert!(matches!(&stock[..], [StockEvent::CouponStockDrawn(d)]
        if d.grants.len() == 3 && d.via == Via::Grant { by: "prn_s:isv_admin".into() }));
    assert_eq!(decoded::<WalletEvent>(&out, "wallet-cus_1").len(), 2);
    assert_eq!(decoded::<WalletEvent>(&out, "wallet-cus_2").len(), 1);
    assert!(decoded::<WalletEvent>(&out, "wallet-cus_3").is_empty());
    assert_eq!(
        out.primary_state::<CouponStock>().map(|s| s.granted),
        Some(3)
    );

    let mut void = campaign_events();
    void.push(voided());
    let one = || GrantCoupons::new("cpc_1".into(), vec!["cus_1".into()], vec!["cpn_z".into()]);
    assert_eq!(
        code(
            DecisionTest::new()
                .given::<Campaign>("campaign-cpc_1", &void)
                .when(&one(), &seller(t(1)))
        ),
        "campaign_void"
    );
    assert_eq!(
        code(
            DecisionTest::new()
                .given::<Campaign>("campaign-cpc_1", &campaign_events())
                .when(&one(), &seller_at(t(1), "org_x"))
        ),
        "not_found",
        "another org's campaign"
    );
    let none = GrantCoupons::new("cpc_1".into(), vec![], vec![]);
    let e = DecisionTest::new()
        .when(&none, &seller(t(1)))
        .expect_err("empty");
    assert_eq!(field_rule(&e), ("customer_ids".into(), "required".into()));
    let many = GrantCoupons::new(
        "cpc_1".into(),
        (0..501).map(|i| format!("cus_{i}")).collect(),
        (0..501).map(|i| format!("cpn_{i}")).collect(),
    );
    let e = DecisionTest::new()
        .when(&many, &seller(t(1)))
        .expect_err("too many");
    assert_eq!(field_rule(&e), ("customer_ids".into(), "max_items".into()));
}

fn paid_order(order_id: &str, product_id: &str, paid_at: Timestamp) -> Vec<OrderEvent> {
    vec![
        OrderEvent::OrderPlaced(OrderPlaced {
            order_id: order_id.into(),
            order_type: OrderType::New,
            customer_id: "cus_1".into(),
            seller_org_id: "org_s".into(),
            product_id: product_id.into(),
            product_code: "C".into(),
            product_name: "P".into(),
            delivery: DeliveryKind::Saas,
            spec_id: "s1".into(),
            spec_name: "S".into(),
            duration: 1,
            unit: DurationUnit::Month,
            instance_id: None,
            quantity: 1,
            unit_price: Cents(100),
            original: Cents(100),
            payable: Cents(100),
            promotion: None,
            coupon: None,
            channel: Channel {
                kind: ChannelKind::OnlineStore,
                reference: None,
            },
            commission_percent: None,
            client: None,
            remark: None,
            placed_at: paid_at,
            payment_due_at: paid_at.plus_days(7),
        }),
        OrderEvent::OrderPaid(OrderPaid {
            amount: Cents(100),
            voucher: Cents(0),
            cash: Cents(100),
            at: paid_at,
            completed: true,
        }),
    ]
}

fn auto_campaign(id: &str, from: i64, until: i64) -> CampaignEvent {
    let mut c = create();
    c.campaign_id = id.into();
    c.auto_grant = Some(AutoGrantWindow {
        product_ids: vec!["prd_1".into()],
        purchased_from: t(from),
        purchased_until: t(until),
    });
    created_event(&c)
}

fn index(ids: &[&str]) -> Vec<AutoGrantIndexEvent> {
    ids.iter()
        .map(|id| {
            AutoGrantIndexEvent::CampaignAutoGrantAdded(CampaignAutoGrantAdded {
                campaign_id: (*id).into(),
            })
        })
        .collect()
}

#[test]
fn a_paid_order_earns_one_coupon_per_eligible_campaign_once() {
    let order = paid_order("ord_9", "prd_1", t(5));
    let mut void = vec![auto_campaign("cpc_v", 0, 10)];
    void.push(voided());
    let world = |wallet: &[WalletEvent]| {
        DecisionTest::new()
            .given::<Order>("order-ord_9", &order)
            .given::<AutoGrantIndex>(
                "autogrant-prd_1",
                &index(&["cpc_a", "cpc_late", "cpc_v", "cpc_full", "cpc_b"]),
            )
            .given::<Campaign>("campaign-cpc_a", &[auto_campaign("cpc_a", 0, 10)])
            .given::<Campaign>("campaign-cpc_late", &[auto_campaign("cpc_late", 6, 10)])
            .given::<Campaign>("campaign-cpc_v", &void)
            .given::<Campaign>("campaign-cpc_full", &[auto_campaign("cpc_full", 0, 10)])
            .given::<CouponStock>("stock-cpc_full", &[drawn(3)])
            .given::<Campaign>("campaign-cpc_b", &[auto_campaign("cpc_b", 5, 6)])
            .given::<Wallet>("wallet-cus_1", wallet)
    };
    let decision = AutoGrant {
        order_id: "ord_9".into(),
    };
    let ctx = Context::system(t(5), chrono_tz::UTC);
    let out = world(&[]).when(&decision, &ctx).expect("granted");
    let wallet: Vec<WalletEvent> = decoded(&out, "wallet-cus_1");
    let ids: Vec<&str> = wallet
        .iter()
        .filter_map(|e| match e {
            WalletEvent::CouponGranted(g) => Some(g.coupon_id.as_str()),
            _ => None,
        })
        .collect();
    // cpc_a is 0th and cpc_b 4th in the index; the others are out of window, void, sold out.
    assert_eq!(ids, vec!["cpn_9_0", "cpn_9_4"]);
    assert!(crate::ids::is_valid_id(
        IdKind::Coupon,
        &auto_coupon_id("ord_01jdq7x3k2mm", 49)
    ));
    assert!(
        out.events_of("order-ord_9").is_empty(),
        "nothing on the order"
    );
    assert_eq!(decoded::<StockEvent>(&out, "stock-cpc_a").len(), 1);
    assert!(decoded::<StockEvent>(&out, "stock-cpc_full").is_empty());
    // A re-run after the grants were appended grants nothing.
    let out = world(&wallet).when(&decision, &ctx).expect("re-run");
    assert!(out.is_empty());
    // An unpaid order earns nothing.
    let unpaid = DecisionTest::new()
        .given::<Order>("order-ord_9", &order[..1])
        .when(&decision, &ctx)
        .expect("nothing");
    assert!(unpaid.is_empty());
}

#[test]
fn only_an_order_paid_event_triggers_an_auto_grant() {
    let stored = |t: &'static str| StoredEvent {
        event_type: t,
        schema_version: 1,
        payload: b"",
    };
    let d = on_order_paid("order-ord_9", &stored("OrderPaid"));
    assert_eq!(
        d.iter().map(|d| d.primary()).collect::<Vec<_>>(),
        vec!["order-ord_9"]
    );
    assert!(on_order_paid("order-ord_9", &stored("OrderPlaced")).is_empty());
    assert!(on_order_paid("product-prd_1", &stored("OrderPaid")).is_empty());
}

#[test]
fn offer_redeem_and_release_follow_the_wallet_and_the_campaign() {
    let campaign = Campaign::fold(&campaign_events());
    let mut wallet = Wallet::fold(&[held("cpn_a", "cus_1")]);
    let o = wallet::offer(&wallet, "cpn_a", false);
    assert!(o.terms.is_some() && !o.used && !o.campaign_void);
    assert!(wallet::offer(&wallet, "cpn_zz", true).terms.is_none());
    let r = wallet::redeemed("cpn_a", "ord_1", Cents(20), t(2));
    wallet = Wallet::evolve(wallet, &r);
    assert!(wallet::offer(&wallet, "cpn_a", false).used);
    assert_eq!(
        wallet::release(&wallet, "cpn_a", "ord_2", &campaign, t(3)),
        None,
        "another order does not hold it"
    );
    assert_eq!(
        wallet::release(&wallet, "cpn_a", "ord_1", &campaign, t(30)),
        None,
        "expired: it stays with the order"
    );
    let mut void = campaign_events();
    void.push(voided());
    assert_eq!(
        wallet::release(&wallet, "cpn_a", "ord_1", &Campaign::fold(&void), t(3)),
        None
    );
    let back = wallet::release(&wallet, "cpn_a", "ord_1", &campaign, t(3)).expect("released");
    wallet = Wallet::evolve(wallet, &back);
    assert!(!wallet::offer(&wallet, "cpn_a", false).used);
    assert_eq!(wallet.coupons["cpn_a"].released, 1);
    assert_eq!(
        wallet.count_of("cpc_1"),
        1,
        "a release does not change the count"
    );
}

// ---------------------------------------------------------------------------------------
// Model-based: claims, batch grants, redemptions by orders, order voids, campaign voids and
// clock moves (expiry).

#[derive(Debug, Clone)]
enum Step {
    Claim(usize),
    Grant(Vec<usize>),
    Void,
    Advance(i64),
    /// The customer places an order with one of their unused coupons (or, holding none, a
    /// coupon they do not own).
    Redeem(usize),
    /// The customer cancels their latest unpaid order that holds a coupon.
    Cancel(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..4usize).prop_map(Step::Claim),
        2 => prop::collection::vec(0..4usize, 1..6).prop_map(Step::Grant),
        1 => Just(Step::Void),
        1 => (1..10i64).prop_map(Step::Advance),
        3 => (0..4usize).prop_map(Step::Redeem),
        2 => (0..4usize).prop_map(Step::Cancel),
    ]
}

/// A listed product `prd_1` of the campaign's seller with one spec of 100 yuan.
fn listed_product() -> Vec<ProductEvent> {
    let ProductEvent::ProductCreated(mut created) = product("prd_1", "org_s") else {
        unreachable!()
    };
    created.specs = vec![crate::product::Spec {
        id: "m".into(),
        name: "monthly".into(),
        duration: 1,
        unit: DurationUnit::Month,
        price: Cents(10_000),
        trial: false,
        hidden: false,
    }];
    vec![
        ProductEvent::ProductCreated(created),
        ProductEvent::ProductStatusChanged(crate::product::ProductStatusChanged {
            from: crate::product::ProductStatus::Draft,
            to: crate::product::ProductStatus::Listed,
            reason: None,
        }),
    ]
}

/// The model: remaining stock, per-customer counts, coupons held by live orders, void, time.
struct Model {
    left: u32,
    counts: [u32; 4],
    /// Per customer, the orders (unpaid, holding a coupon) in placement order.
    orders: [Vec<String>; 4],
    /// Per customer, coupons that stayed with a voided order (it could not come back).
    stuck: [u32; 4],
    void: bool,
    day: i64,
}

impl Model {
    fn used(&self, c: usize) -> u32 {
        self.orders[c].len() as u32 + self.stuck[c]
    }

    /// What placing an order with one of customer `c`'s coupons answers (valid until day
    /// `until`).
    fn redeem(&mut self, c: usize, until: i64, order_id: &str) -> &'static str {
        if self.counts[c] == self.used(c) {
            "not_owner"
        } else if self.void {
            "void"
        } else if self.day >= until {
            "expired"
        } else {
            self.orders[c].push(order_id.to_owned());
            "ok"
        }
    }

    /// Whether cancelling customer `c`'s latest coupon order gives its coupon back.
    fn cancel(&mut self, c: usize, until: i64) -> Option<bool> {
        self.orders[c].last()?;
        let back = !self.void && self.day < until;
        // The order is voided either way; its coupon stays used when it cannot come back.
        let order = self.orders[c].pop();
        if !back {
            self.stuck[c] += 1;
        }
        order.map(|_| back)
    }
}

impl Model {
    fn claim(&mut self, c: usize, limit: u32, until: i64) -> &'static str {
        if self.void {
            "campaign_void"
        } else if self.day >= until {
            "not_claimable"
        } else if self.left == 0 {
            "sold_out"
        } else if self.counts[c] >= limit {
            "limit_reached"
        } else {
            self.left -= 1;
            self.counts[c] += 1;
            "ok"
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn never_over_issued_and_refusals_match_the_model(
        total in 1..8u32,
        limit in 1..4u32,
        steps in prop::collection::vec(step(), 1..40),
    ) {
        let mut c = create();
        c.total_quantity = total;
        c.per_customer_limit = limit;
        let until = 30;
        let mut campaign = vec![created_event(&c)];
        let mut stock: Vec<StockEvent> = Vec::new();
        let mut wallets: [Vec<WalletEvent>; 4] = Default::default();
        let mut model = Model {
            left: total,
            counts: [0; 4],
            orders: Default::default(),
            stuck: [0; 4],
            void: false,
            day: 1,
        };
        let product = listed_product();
        let mut orders: std::collections::BTreeMap<String, Vec<OrderEvent>> = Default::default();
        let mut next = 0;
        let customer_id = |i: usize| format!("cus_{i}");
        for s in steps {
            let world = || {
                let mut w = DecisionTest::new()
                    .given::<Campaign>("campaign-cpc_1", &campaign)
                    .given::<CouponStock>("stock-cpc_1", &stock);
                for (i, events) in wallets.iter().enumerate() {
                    w = w.given::<Wallet>(&wallet_stream(&customer_id(i)), events);
                }
                w
            };
            match s {
                Step::Claim(i) => {
                    next += 1;
                    let d = claim(&customer_id(i), &format!("cpn_{next}"));
                    let r = world().when(&d, &customer(t(model.day), &customer_id(i)));
                    let expected = model.claim(i, limit, until);
                    match r {
                        Ok(out) => {
                            prop_assert_eq!(expected, "ok");
                            stock.extend(decoded::<StockEvent>(&out, "stock-cpc_1"));
                            wallets[i].extend(decoded::<WalletEvent>(&out, &wallet_stream(&customer_id(i))));
                        }
                        Err(e) => prop_assert_eq!(expected, e.code),
                    }
                }
                Step::Grant(list) => {
                    let ids: Vec<String> = list.iter().map(|&i| customer_id(i)).collect();
                    let coupons: Vec<String> = list.iter().map(|_| { next += 1; format!("cpn_{next}") }).collect();
                    let g = GrantCoupons::new("cpc_1".into(), ids, coupons);
                    let r = world().when(&g, &seller(t(model.day)));
                    if model.void {
                        prop_assert_eq!(code(r), "campaign_void");
                        continue;
                    }
                    let out = r.expect("a grant on a live campaign decides");
                    // Grants ignore the claim window: the seller may still send coupons.
                    let mut expected = Vec::new();
                    for &i in &list {
                        expected.push(if model.left == 0 {
                            Some("sold_out")
                        } else if model.counts[i] >= limit {
                            Some("limit_reached")
                        } else {
                            model.left -= 1;
                            model.counts[i] += 1;
                            None
                        });
                    }
                    let got: Vec<Option<&str>> = g.results().iter().map(|r| r.refused).collect();
                    prop_assert_eq!(got, expected);
                    stock.extend(decoded::<StockEvent>(&out, "stock-cpc_1"));
                    for (i, events) in wallets.iter_mut().enumerate() {
                        events.extend(decoded::<WalletEvent>(&out, &wallet_stream(&customer_id(i))));
                    }
                }
                Step::Void => {
                    let out = world().when(&void_campaign("cpc_1"), &seller(t(model.day))).expect("void");
                    campaign.extend(decoded::<CampaignEvent>(&out, "campaign-cpc_1"));
                    model.void = true;
                }
                Step::Advance(days) => model.day += days,
                Step::Redeem(i) => {
                    next += 1;
                    let order_id = format!("ord_{next}");
                    let held = Wallet::fold(&wallets[i]);
                    let coupon_id = held
                        .coupons
                        .iter()
                        // A coupon that stayed with a voided order keeps its `redeemed_by`.
                        .find(|(_, c)| c.redeemed_by.is_none())
                        .map_or_else(|| "cpn_none".to_owned(), |(id, _)| id.clone());
                    let place = crate::order::PlaceOrder {
                        order_id: order_id.clone(),
                        customer_id: customer_id(i),
                        product_id: "prd_1".into(),
                        spec_id: "m".into(),
                        quantity: 1,
                        order_type: "new".into(),
                        instance_id: None,
                        coupon_id: Some(coupon_id),
                        client: None,
                        channel_kind: None,
                        channel_ref: None,
                        remark: None,
                    };
                    let r = world()
                        .given::<crate::product::Product>("product-prd_1", &product)
                        .when(&place, &customer(t(model.day), &customer_id(i)));
                    let expected = model.redeem(i, until, &order_id);
                    match r {
                        Ok(out) => {
                            prop_assert_eq!(expected, "ok");
                            let placed = decoded::<OrderEvent>(&out, &format!("order-{order_id}"));
                            orders.insert(order_id, placed);
                            wallets[i].extend(decoded::<WalletEvent>(&out, &wallet_stream(&customer_id(i))));
                        }
                        Err(e) => {
                            prop_assert_eq!(e.code, "coupon_not_applicable");
                            let rule = e.details.iter().find(|(k, _)| *k == "rule").map(|(_, v)| v.as_str());
                            prop_assert_eq!(rule, Some(expected));
                        }
                    }
                }
                Step::Cancel(i) => {
                    let Some(order_id) = model.orders[i].last().cloned() else {
                        continue;
                    };
                    let back = model.cancel(i, until).expect("an order to cancel");
                    let cancel = crate::order::VoidOrder {
                        order_id: order_id.clone(),
                        command: crate::order::OrderCommand::Cancel,
                    };
                    let stream = format!("order-{order_id}");
                    let out = world()
                        .given::<crate::order::Order>(&stream, &orders[&order_id])
                        .when(&cancel, &customer(t(model.day), &customer_id(i)))
                        .expect("an unpaid order can be cancelled");
                    let released = decoded::<WalletEvent>(&out, &wallet_stream(&customer_id(i)));
                    prop_assert_eq!(released.len(), usize::from(back));
                    wallets[i].extend(released);
                    orders.insert(order_id, Vec::new());
                }
            }
            let granted = CouponStock::fold(&stock).granted;
            prop_assert!(granted <= total, "over-issued: {} of {}", granted, total);
            prop_assert_eq!(granted, total - model.left);
            for (i, events) in wallets.iter().enumerate() {
                let w = Wallet::fold(events);
                prop_assert_eq!(w.count_of("cpc_1"), model.counts[i]);
                prop_assert!(w.count_of("cpc_1") <= limit);
                let used = w.coupons.values().filter(|c| c.redeemed_by.is_some()).count() as u32;
                prop_assert_eq!(used, model.used(i), "coupons held by orders");
            }
        }
    }
}
