//! Promotions: every rule and refusal, the window deadlines, and the promotion an order gets
//! through placement and payment (given / when / then across streams).

use super::*;
use crate::decider::testing::DeciderTest;
use crate::decider::Decider;
use crate::decision::testing::{decoded, DecisionTest};
use crate::order::{Order, OrderEvent, PayOrder, PlaceOrder};
use crate::platform::{Principal, PrincipalCreated, PrincipalEvent};
use crate::pricing::{self, Line, Viewer};
use crate::product::{
    DeliveryKind, Product, ProductCommand, ProductCreated, ProductStatusChanged, Spec,
};
use crate::purchases::{ProductPurchased, PurchasesEvent};

fn at(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}
fn day(d: u32) -> Timestamp {
    at(&format!("2026-12-{d:02}T00:00:00+08:00"))
}
fn ctx(now: Timestamp, actor: Actor) -> Context {
    Context::new(now, actor, chrono_tz::Asia::Shanghai)
}
fn seller_of(org: &str) -> Actor {
    Actor::Principal {
        id: "prn_s".into(),
        role: Role::IsvAdmin,
        org_id: Some(org.into()),
    }
}
fn seller(now: Timestamp) -> Context {
    ctx(now, seller_of("org_s"))
}
fn customer(now: Timestamp) -> Context {
    ctx(
        now,
        Actor::Principal {
            id: "cus_1".into(),
            role: Role::Customer,
            org_id: None,
        },
    )
}

fn spec(id: &str, duration: u32, unit: DurationUnit, price: i64, trial: bool) -> Spec {
    Spec {
        id: id.into(),
        name: id.into(),
        duration,
        unit,
        price: Cents(price),
        trial,
        hidden: false,
    }
}

/// A listed product: a monthly spec at 100.00, a yearly one at 1,000.00 and a free trial.
fn listed() -> Vec<ProductEvent> {
    vec![
        ProductEvent::ProductCreated(ProductCreated {
            product_id: "prd_1".into(),
            seller_org_id: "org_s".into(),
            code: "MIG".into(),
            name: "Migration".into(),
            category: "services".into(),
            delivery: DeliveryKind::Saas,
            delivery_days: 1,
            warranty_days: 0,
            flow_template_id: None,
            specs: vec![
                spec("m1", 1, DurationUnit::Month, 10_000, false),
                spec("y1", 1, DurationUnit::Year, 100_000, false),
                spec("try", 1, DurationUnit::Month, 0, true),
            ],
        }),
        ProductEvent::ProductStatusChanged(ProductStatusChanged {
            from: ProductStatus::Draft,
            to: ProductStatus::Listed,
            reason: None,
        }),
    ]
}

fn reduce(cents: i64) -> PromotionInput {
    PromotionInput {
        name: "Winter".into(),
        kind: "reduce".into(),
        reduce_cents: Some(cents),
        pay_permille: None,
        starts_at: day(10),
        ends_at: day(20),
        spec_ids: vec![],
        conditions: ConditionsInput::default(),
    }
}

fn discount(pay: u32) -> PromotionInput {
    PromotionInput {
        kind: "discount".into(),
        reduce_cents: None,
        pay_permille: Some(pay),
        ..reduce(0)
    }
}

fn create(id: &str, input: PromotionInput) -> ProductCommand {
    ProductCommand::Promotion(PromotionCommand::Create {
        promotion_id: id.into(),
        input,
    })
}

fn promo(cmd: PromotionCommand) -> ProductCommand {
    ProductCommand::Promotion(cmd)
}

/// The product's history with `commands` decided in turn by the seller at `now`.
fn with(
    history: Vec<ProductEvent>,
    commands: &[ProductCommand],
    now: Timestamp,
) -> Vec<ProductEvent> {
    let mut history = history;
    for c in commands {
        let state = Product::fold(&history);
        let events = Product::decide(&state, c, &seller(now)).expect("accepted");
        history.extend(events);
    }
    history
}

/// The events `command` appends to the product with `history` (it must be accepted).
#[track_caller]
fn decide_on(
    history: Vec<ProductEvent>,
    command: ProductCommand,
    ctx: &Context,
) -> Vec<ProductEvent> {
    Product::decide(&Product::fold(&history), &command, ctx).expect("accepted")
}

/// `history` and what `command`, fired by the system at `now`, appends to it.
fn with_system(
    history: Vec<ProductEvent>,
    command: ProductCommand,
    now: Timestamp,
) -> Vec<ProductEvent> {
    let events = decide_on(
        history.clone(),
        command,
        &Context::system(now, chrono_tz::Asia::Shanghai),
    );
    history.into_iter().chain(events).collect()
}

fn refusal(e: &DomainError) -> (String, String, String) {
    let get = |k: &str| {
        e.details
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    (e.code.to_owned(), get("field"), get("rule"))
}

#[test]
fn every_field_rule_names_its_field_and_rule() {
    let with_conditions = |c: ConditionsInput| PromotionInput {
        conditions: c,
        ..reduce(100)
    };
    let cases: Vec<(PromotionInput, &str, &str)> = vec![
        (
            PromotionInput {
                name: " ".into(),
                ..reduce(100)
            },
            "name",
            "required",
        ),
        (
            PromotionInput {
                kind: "gift".into(),
                ..reduce(100)
            },
            "kind",
            "one_of",
        ),
        (
            PromotionInput {
                reduce_cents: None,
                ..reduce(100)
            },
            "reduce_cents",
            "required",
        ),
        (reduce(0), "reduce_cents", "range"),
        (
            PromotionInput {
                pay_permille: Some(500),
                ..reduce(100)
            },
            "pay_permille",
            "not_allowed",
        ),
        (discount(9), "pay_permille", "range"),
        (discount(991), "pay_permille", "range"),
        (
            PromotionInput {
                pay_permille: None,
                ..discount(500)
            },
            "pay_permille",
            "required",
        ),
        (
            PromotionInput {
                reduce_cents: Some(1),
                ..discount(500)
            },
            "reduce_cents",
            "not_allowed",
        ),
        (
            PromotionInput {
                ends_at: day(10),
                ..reduce(100)
            },
            "ends_at",
            "after_start",
        ),
        (
            PromotionInput {
                spec_ids: vec!["m1".into(), "m1".into()],
                ..reduce(100)
            },
            "spec_ids[1]",
            "unique",
        ),
        (
            with_conditions(ConditionsInput {
                order_types: vec!["trial".into()],
                ..Default::default()
            }),
            "conditions.order_types[0]",
            "one_of",
        ),
        (
            with_conditions(ConditionsInput {
                min_quantity: Some(0),
                ..Default::default()
            }),
            "conditions.min_quantity",
            "range",
        ),
        (
            with_conditions(ConditionsInput {
                min_quantity: Some(101),
                ..Default::default()
            }),
            "conditions.min_quantity",
            "range",
        ),
        (
            with_conditions(ConditionsInput {
                clients: vec!["web".into(), "tv".into()],
                ..Default::default()
            }),
            "conditions.clients[1]",
            "one_of",
        ),
        (
            with_conditions(ConditionsInput {
                durations: vec![DurationInput {
                    duration: 1,
                    unit: "week".into(),
                }],
                ..Default::default()
            }),
            "conditions.durations[0].unit",
            "one_of",
        ),
        (
            with_conditions(ConditionsInput {
                durations: vec![DurationInput {
                    duration: 0,
                    unit: "month".into(),
                }],
                ..Default::default()
            }),
            "conditions.durations[0].duration",
            "range",
        ),
    ];
    for (input, field, rule) in cases {
        let e = DeciderTest::<Product>::given(listed())
            .when(create("prm_1", input.clone()), &seller(day(1)))
            .then_error(|e| e.code == "validation_failed");
        assert_eq!(
            refusal(&e),
            ("validation_failed".into(), field.into(), rule.into()),
            "{input:?}"
        );
        // Field rules answer before the product is looked at (API.md §1).
        let e = DeciderTest::<Product>::given_no_events()
            .when(create("prm_1", input), &seller(day(1)))
            .then_error(|e| e.code == "validation_failed");
        assert_eq!(refusal(&e).1, field);
    }
}

#[test]
fn a_promotion_is_created_pre_published_with_its_window_deadlines() {
    let mut input = discount(800);
    input.conditions = ConditionsInput {
        order_types: vec!["new".into(), "new".into()],
        min_quantity: Some(2),
        clients: vec!["web".into()],
        durations: vec![DurationInput {
            duration: 1,
            unit: "month".into(),
        }],
        first_purchase_only: true,
        real_name_only: false,
    };
    let state = DeciderTest::<Product>::given(listed())
        .when(create("prm_1", input), &seller(day(1)))
        .then_events(vec![ProductEvent::PromotionCreated(PromotionCreated {
            promotion_id: "prm_1".into(),
            terms: PromotionFields {
                name: "Winter".into(),
                kind: PromotionKind::Discount { pay_permille: 800 },
                starts_at: day(10),
                ends_at: day(20),
                spec_ids: vec![],
                conditions: Conditions {
                    order_types: vec![OrderType::New],
                    min_quantity: Some(2),
                    clients: vec![Client::Web],
                    durations: vec![SpecDuration {
                        duration: 1,
                        unit: DurationUnit::Month,
                    }],
                    first_purchase_only: true,
                    real_name_only: false,
                },
            },
            created_by: "prn_s".into(),
            at: day(1),
        })]);
    let p = state.promotion("prm_1").expect("created");
    assert_eq!(p.terms.status, PromotionStatus::PrePublished);
    assert_eq!((p.created_at, p.updated_at), (day(1), day(1)));
    let history = with(listed(), &[create("prm_1", reduce(100))], day(1));
    let effects = deadline_effects(&history[2], "prd_1");
    assert_eq!(
        effects,
        vec![
            DeadlineEffect::Start(Deadline {
                id: "product-prd_1/promotion_start/prm_1".into(),
                due_at: day(10),
                stream_id: "product-prd_1".into(),
                rule: DeadlineRule::PromotionStart,
            }),
            DeadlineEffect::Start(Deadline {
                id: "product-prd_1/promotion_end/prm_1".into(),
                due_at: day(20),
                stream_id: "product-prd_1".into(),
                rule: DeadlineRule::PromotionEnd,
            }),
        ]
    );
}

#[test]
fn state_rules_follow_the_field_rules() {
    // Another org's admin, a customer: the product's promotions do not exist for them.
    for actor in [
        seller_of("org_x"),
        Actor::Principal {
            id: "cus_1".into(),
            role: Role::Customer,
            org_id: None,
        },
    ] {
        DeciderTest::<Product>::given(listed())
            .when(create("prm_1", reduce(100)), &ctx(day(1), actor))
            .then_error(|e| e.code == "not_found");
    }
    DeciderTest::<Product>::given_no_events()
        .when(create("prm_1", reduce(100)), &seller(day(1)))
        .then_error(|e| e.code == "not_found");
    let unknown_spec = PromotionInput {
        spec_ids: vec!["m1".into(), "zz".into()],
        ..reduce(100)
    };
    let e = DeciderTest::<Product>::given(listed())
        .when(create("prm_1", unknown_spec), &seller(day(1)))
        .then_error(|_| true);
    assert_eq!(
        refusal(&e),
        (
            "validation_failed".into(),
            "spec_ids[1]".into(),
            "unknown".into()
        )
    );
    // The cheapest non-trial spec is 100.00 (the free trial is never discounted).
    let e = DeciderTest::<Product>::given(listed())
        .when(create("prm_1", reduce(10_001)), &seller(day(1)))
        .then_error(|_| true);
    assert_eq!(
        refusal(&e),
        (
            "validation_failed".into(),
            "reduce_cents".into(),
            "exceeds_price".into()
        )
    );
    assert_eq!(
        decide_on(listed(), create("prm_1", reduce(10_000)), &seller(day(1))).len(),
        1
    );
    // Limited to the yearly spec, or to yearly durations, the cheapest is 1,000.00.
    let yearly = PromotionInput {
        spec_ids: vec!["y1".into()],
        ..reduce(50_000)
    };
    assert_eq!(
        decide_on(listed(), create("prm_1", yearly), &seller(day(1))).len(),
        1
    );
    let mut by_duration = reduce(50_000);
    by_duration.conditions.durations = vec![DurationInput {
        duration: 1,
        unit: "year".into(),
    }];
    assert_eq!(
        decide_on(listed(), create("prm_1", by_duration), &seller(day(1))).len(),
        1
    );
    // The same rules hold for an edit.
    let history = with(listed(), &[create("prm_1", reduce(100))], day(1));
    let e = DeciderTest::<Product>::given(history)
        .when(
            promo(PromotionCommand::Edit {
                promotion_id: "prm_1".into(),
                input: reduce(10_001),
            }),
            &seller(day(2)),
        )
        .then_error(|_| true);
    assert_eq!(refusal(&e).2, "exceeds_price");
}

#[test]
fn publish_edit_and_delete_follow_the_promotion_states() {
    let history = with(listed(), &[create("prm_1", reduce(100))], day(1));
    let publish = promo(PromotionCommand::Publish {
        promotion_id: "prm_1".into(),
    });
    let delete = promo(PromotionCommand::Delete {
        promotion_id: "prm_1".into(),
    });
    let edit = promo(PromotionCommand::Edit {
        promotion_id: "prm_1".into(),
        input: discount(700),
    });
    let published = with(history.clone(), std::slice::from_ref(&publish), day(2));
    assert_eq!(
        Product::fold(&published)
            .promotion("prm_1")
            .map(|p| p.terms.status),
        Some(PromotionStatus::Published)
    );
    // Publishing a published promotion changes nothing.
    DeciderTest::<Product>::given(published.clone())
        .when(publish.clone(), &seller(day(3)))
        .then_events(vec![]);
    // An edit replaces the terms and keeps the status.
    let edited = with(published.clone(), std::slice::from_ref(&edit), day(3));
    let p = Product::fold(&edited)
        .promotion("prm_1")
        .cloned()
        .expect("kept");
    assert_eq!(p.terms.kind, PromotionKind::Discount { pay_permille: 700 });
    assert_eq!(p.terms.status, PromotionStatus::Published);
    assert_eq!((p.created_at, p.updated_at), (day(1), day(3)));
    // Deleted is final: no edit, no publish; deleting again changes nothing.
    let deleted = with(published, std::slice::from_ref(&delete), day(4));
    for c in [publish, edit] {
        let e = DeciderTest::<Product>::given(deleted.clone())
            .when(c, &seller(day(5)))
            .then_error(|e| e.code == "invalid_state");
        assert_eq!(e.details[0].1, "deleted");
    }
    DeciderTest::<Product>::given(deleted.clone())
        .when(delete, &seller(day(5)))
        .then_events(vec![]);
    assert_eq!(
        deadline_effects(deleted.last().expect("deleted"), "prd_1"),
        vec![
            DeadlineEffect::Stop {
                id: "product-prd_1/promotion_start/prm_1".into()
            },
            DeadlineEffect::Stop {
                id: "product-prd_1/promotion_end/prm_1".into()
            },
        ]
    );
    DeciderTest::<Product>::given(history)
        .when(
            promo(PromotionCommand::Publish {
                promotion_id: "prm_9".into(),
            }),
            &seller(day(2)),
        )
        .then_error(|e| e.code == "not_found");
}

#[test]
fn a_delisted_products_promotions_can_be_deleted_but_none_created() {
    let mut history = with(listed(), &[create("prm_1", reduce(100))], day(1));
    history.push(ProductEvent::ProductStatusChanged(ProductStatusChanged {
        from: ProductStatus::Listed,
        to: ProductStatus::Delisted,
        reason: None,
    }));
    let e = DeciderTest::<Product>::given(history.clone())
        .when(create("prm_2", reduce(100)), &seller(day(2)))
        .then_error(|e| e.code == "invalid_state");
    assert_eq!(e.details[0].1, "delisted");
    let deleted = decide_on(
        history,
        promo(PromotionCommand::Delete {
            promotion_id: "prm_1".into(),
        }),
        &seller(day(2)),
    );
    assert_eq!(deleted.len(), 1);
}

fn start(id: &str) -> ProductCommand {
    promo(PromotionCommand::Start {
        promotion_id: id.into(),
        deadline_id: format!("product-prd_1/promotion_start/{id}"),
    })
}
fn end(id: &str) -> ProductCommand {
    promo(PromotionCommand::End {
        promotion_id: id.into(),
        deadline_id: format!("product-prd_1/promotion_end/{id}"),
    })
}

#[test]
fn the_window_deadlines_fire_once_and_an_edit_moves_them() {
    let system = |t| Context::system(t, chrono_tz::Asia::Shanghai);
    let history = with(listed(), &[create("prm_1", reduce(100))], day(1));
    let started = DeciderTest::<Product>::given(history.clone())
        .when(start("prm_1"), &system(day(10)))
        .then_events(vec![ProductEvent::PromotionStarted(PromotionStarted {
            promotion_id: "prm_1".into(),
            deadline_id: "product-prd_1/promotion_start/prm_1".into(),
            at: day(10),
        })]);
    assert!(started
        .promotion("prm_1")
        .is_some_and(|p| p.started && !p.ended));
    let mut after_start = history.clone();
    after_start.push(ProductEvent::PromotionStarted(PromotionStarted {
        promotion_id: "prm_1".into(),
        deadline_id: "product-prd_1/promotion_start/prm_1".into(),
        at: day(10),
    }));
    assert_eq!(
        deadline_effects(after_start.last().expect("started"), "prd_1"),
        vec![DeadlineEffect::Stop {
            id: "product-prd_1/promotion_start/prm_1".into()
        }]
    );
    // Fired again (a retry): nothing.
    DeciderTest::<Product>::given(after_start.clone())
        .when(start("prm_1"), &system(day(10)))
        .then_events(vec![]);
    // Ends at ends_at; not before.
    DeciderTest::<Product>::given(after_start.clone())
        .when(end("prm_1"), &system(day(19)))
        .then_events(vec![]);
    let ended = Product::fold(&with_system(after_start.clone(), end("prm_1"), day(20)));
    assert!(ended
        .promotion("prm_1")
        .is_some_and(|p| p.ended && !p.live()));

    // An edit that moves the window restarts both deadlines at the new times; the old start
    // time finds nothing to do.
    let mut later = reduce(100);
    later.starts_at = day(12);
    later.ends_at = day(25);
    let edited = with(
        history.clone(),
        &[promo(PromotionCommand::Edit {
            promotion_id: "prm_1".into(),
            input: later,
        })],
        day(5),
    );
    let effects = deadline_effects(edited.last().expect("edited"), "prd_1");
    let due: Vec<_> = effects
        .iter()
        .map(|e| match e {
            DeadlineEffect::Start(d) => (d.id.clone(), d.due_at),
            DeadlineEffect::Stop { id } => (id.clone(), Timestamp::UNIX_EPOCH),
        })
        .collect();
    assert_eq!(
        due,
        vec![
            ("product-prd_1/promotion_start/prm_1".to_owned(), day(12)),
            ("product-prd_1/promotion_end/prm_1".to_owned(), day(25)),
        ]
    );
    DeciderTest::<Product>::given(edited.clone())
        .when(start("prm_1"), &system(day(10)))
        .then_events(vec![]);
    DeciderTest::<Product>::given(edited.clone())
        .when(end("prm_1"), &system(day(20)))
        .then_events(vec![]);
    assert_eq!(decide_on(edited, start("prm_1"), &system(day(12))).len(), 1);
    // A deleted promotion's deadlines append nothing.
    let deleted = with(
        history,
        &[promo(PromotionCommand::Delete {
            promotion_id: "prm_1".into(),
        })],
        day(2),
    );
    for c in [start("prm_1"), end("prm_1")] {
        DeciderTest::<Product>::given(deleted.clone())
            .when(c, &system(day(21)))
            .then_events(vec![]);
    }
    DeciderTest::<Product>::given(listed())
        .when(start("prm_9"), &system(day(21)))
        .then_events(vec![]);
}

// ---------------------------------------------------------------------------------------
// Placement and payment

fn order(qty: u32) -> PlaceOrder {
    PlaceOrder {
        order_id: "ord_1".into(),
        customer_id: "cus_1".into(),
        product_id: "prd_1".into(),
        spec_id: "m1".into(),
        quantity: qty,
        order_type: "new".into(),
        instance_id: None,
        coupon_id: None,
        client: Some("web".into()),
        channel_kind: None,
        channel_ref: None,
        remark: None,
    }
}

fn placed(outcome: &crate::decision::Outcome) -> crate::order::OrderPlaced {
    let events: Vec<OrderEvent> = decoded(outcome, "order-ord_1");
    match events.into_iter().next() {
        Some(OrderEvent::OrderPlaced(p)) => p,
        other => panic!("{other:?}"),
    }
}

fn published(inputs: &[(&str, PromotionInput)]) -> Vec<ProductEvent> {
    let mut commands = Vec::new();
    for (id, input) in inputs {
        commands.push(create(id, input.clone()));
        commands.push(promo(PromotionCommand::Publish {
            promotion_id: (*id).into(),
        }));
    }
    with(listed(), &commands, day(1))
}

#[test]
fn an_order_gets_the_best_saving_and_ties_go_to_the_earliest() {
    // On 2 × 100.00: 30.00 off; 90 % (saves 20.00); 30.00 off again (a tie, created later).
    let product = published(&[
        ("prm_a", reduce(3_000)),
        ("prm_b", discount(900)),
        ("prm_c", reduce(3_000)),
    ]);
    let outcome = DecisionTest::new()
        .given::<Product>("product-prd_1", &product)
        .when(&order(2), &customer(day(15)))
        .unwrap();
    let p = placed(&outcome);
    assert_eq!((p.original, p.payable), (Cents(20_000), Cents(17_000)));
    assert_eq!(
        p.promotion,
        Some(pricing::AppliedPromotion {
            id: "prm_a".into(),
            name: "Winter".into(),
            saving: Cents(3_000)
        })
    );
    assert_eq!(p.coupon, None);
    // No condition names the customer's streams: only the product is read.
    assert_eq!(outcome.guards, vec!["product-prd_1".to_owned()]);
    // On 20 × 100.00 the discount saves 200.00 and wins.
    let outcome = DecisionTest::new()
        .given::<Product>("product-prd_1", &product)
        .when(&order(20), &customer(day(15)))
        .unwrap();
    let p = placed(&outcome);
    assert_eq!(
        p.promotion.map(|p| (p.id, p.saving)),
        Some(("prm_b".into(), Cents(20_000)))
    );
    assert_eq!(p.payable, Cents(180_000));
    // Outside the window (end exclusive), or pre-published: nothing.
    let outcome = DecisionTest::new()
        .given::<Product>("product-prd_1", &product)
        .when(&order(2), &customer(day(20)))
        .unwrap();
    assert_eq!(placed(&outcome).promotion, None);
    let pre = with(listed(), &[create("prm_a", reduce(3_000))], day(1));
    let outcome = DecisionTest::new()
        .given::<Product>("product-prd_1", &pre)
        .when(&order(2), &customer(day(15)))
        .unwrap();
    assert_eq!(placed(&outcome).payable, Cents(20_000));
}

#[test]
fn a_first_purchase_promotion_ends_with_the_first_payment() {
    let mut first = reduce(1_000);
    first.conditions.first_purchase_only = true;
    let product = published(&[("prm_f", first)]);
    let outcome = DecisionTest::new()
        .given::<Product>("product-prd_1", &product)
        .when(&order(1), &customer(day(15)))
        .unwrap();
    let p = placed(&outcome);
    assert_eq!(p.promotion.as_ref().map(|p| p.id.as_str()), Some("prm_f"));
    assert_eq!(p.payable, Cents(9_000));
    assert_eq!(
        outcome.guards,
        vec!["product-prd_1".to_owned(), "purchases-cus_1".to_owned()],
        "the purchases it read must still hold at the append"
    );

    // Paying that order records the first purchase, in the same append.
    let order_history: Vec<OrderEvent> = decoded(&outcome, "order-ord_1");
    let pay = PayOrder {
        order_id: "ord_1".into(),
        amount_cents: 9_000,
        voucher_cents: 0,
    };
    let paid = DecisionTest::new()
        .given::<Order>("order-ord_1", &order_history)
        .given::<Product>("product-prd_1", &product)
        .when(&pay, &customer(day(16)))
        .unwrap();
    let purchased: Vec<PurchasesEvent> = decoded(&paid, "purchases-cus_1");
    let recorded = PurchasesEvent::ProductPurchased(ProductPurchased {
        product_id: "prd_1".into(),
        order_id: "ord_1".into(),
        at: day(16),
    });
    assert_eq!(purchased, vec![recorded.clone()]);

    // The next order is not a first purchase; its payment records nothing new.
    let mut second = order(1);
    second.order_id = "ord_2".into();
    let outcome = DecisionTest::new()
        .given::<Product>("product-prd_1", &product)
        .given::<crate::purchases::Purchases>("purchases-cus_1", std::slice::from_ref(&recorded))
        .when(&second, &customer(day(17)))
        .unwrap();
    let events: Vec<OrderEvent> = decoded(&outcome, "order-ord_2");
    assert!(
        matches!(&events[..], [OrderEvent::OrderPlaced(p)] if p.promotion.is_none() && p.payable == Cents(10_000)),
        "{events:?}"
    );
    let paid_again = DecisionTest::new()
        .given::<Order>("order-ord_1", &order_history)
        .given::<Product>("product-prd_1", &product)
        .given::<crate::purchases::Purchases>("purchases-cus_1", &[recorded])
        .when(&pay, &customer(day(16)))
        .unwrap();
    assert!(paid_again.events_of("purchases-cus_1").is_empty());
}

#[test]
fn a_real_name_promotion_needs_a_verified_customer() {
    let mut verified_only = discount(500);
    verified_only.conditions.real_name_only = true;
    let product = published(&[("prm_r", verified_only)]);
    let principal = |verified| {
        vec![PrincipalEvent::PrincipalCreated(PrincipalCreated {
            principal_id: "cus_1".into(),
            role: Role::Customer,
            name: "Ann".into(),
            org_id: None,
            staff_id: None,
            real_name_verified: verified,
            token_sha256: "00".into(),
        })]
    };
    for (verified, payable) in [(true, 5_000), (false, 10_000)] {
        let outcome = DecisionTest::new()
            .given::<Product>("product-prd_1", &product)
            .given::<Principal>("principal-cus_1", &principal(verified))
            .when(&order(1), &customer(day(15)))
            .unwrap();
        assert_eq!(
            placed(&outcome).payable,
            Cents(payable),
            "verified: {verified}"
        );
        assert_eq!(
            outcome.guards,
            vec!["product-prd_1".to_owned(), "principal-cus_1".to_owned()]
        );
    }
}

#[test]
fn a_trial_is_never_discounted() {
    let product = published(&[("prm_a", discount(100))]);
    let mut trial = order(1);
    trial.spec_id = "try".into();
    trial.order_type = "trial".into();
    let outcome = DecisionTest::new()
        .given::<Product>("product-prd_1", &product)
        .when(&trial, &customer(day(15)))
        .unwrap();
    let p = placed(&outcome);
    assert_eq!((p.promotion, p.payable), (None, Cents(0)));
}

mod quote_equals_placement {
    use super::*;
    use proptest::prelude::*;

    fn arb_input() -> impl Strategy<Value = PromotionInput> {
        (
            prop_oneof![
                (1i64..=10_000).prop_map(|c| (Some(c), None)),
                (PAY_PERMILLE_MIN..=PAY_PERMILLE_MAX).prop_map(|p| (None, Some(p))),
            ],
            0u32..=20,
            1u32..=10,
            proptest::option::of(1u32..=50),
            proptest::sample::subsequence(vec!["new", "renewal", "upgrade"], 0..=3),
            proptest::sample::subsequence(vec!["web", "mobile", "api"], 0..=3),
            any::<bool>(),
        )
            .prop_map(
                |((reduce_cents, pay), start, len, min_q, types, clients, first)| PromotionInput {
                    name: "P".into(),
                    kind: if reduce_cents.is_some() {
                        "reduce"
                    } else {
                        "discount"
                    }
                    .into(),
                    reduce_cents,
                    pay_permille: pay,
                    starts_at: day(1 + start),
                    ends_at: day(1 + start + len),
                    spec_ids: vec![],
                    conditions: ConditionsInput {
                        order_types: types.into_iter().map(String::from).collect(),
                        min_quantity: min_q,
                        clients: clients.into_iter().map(String::from).collect(),
                        durations: vec![],
                        first_purchase_only: first,
                        real_name_only: false,
                    },
                },
            )
    }

    /// A coupon of campaign `cpc_1` of the product's seller: either kind, store-wide or for
    /// this or another product, for some order types, valid for part of the month.
    fn arb_coupon() -> impl Strategy<Value = pricing::CouponTerms> {
        (
            prop_oneof![
                (PAY_PERMILLE_MIN..=PAY_PERMILLE_MAX)
                    .prop_map(|p| pricing::CouponKind::Discount { pay_permille: p }),
                (1i64..=300_000, 0i64..=300_000).prop_map(|(t, r)| {
                    pricing::CouponKind::Threshold {
                        threshold: Cents(t),
                        reduce: Cents(r.clamp(1, t)),
                    }
                }),
            ],
            prop_oneof![
                Just(pricing::CouponScope::Store),
                Just(pricing::CouponScope::Products(vec!["prd_1".into()])),
                Just(pricing::CouponScope::Products(vec!["prd_2".into()])),
            ],
            proptest::sample::subsequence(
                vec![OrderType::New, OrderType::Renewal, OrderType::Upgrade],
                1..=3,
            ),
            1u32..=15,
            1u32..=15,
        )
            .prop_map(|(kind, scope, scenarios, from, len)| pricing::CouponTerms {
                campaign_id: "cpc_1".into(),
                seller_org_id: "org_s".into(),
                scope,
                kind,
                scenarios,
                valid_from: day(from),
                valid_until: day(from + len),
            })
    }

    proptest! {
        #[test]
        fn the_quote_is_what_placement_charges(
            inputs in proptest::collection::vec((arb_input(), any::<bool>()), 0..5),
            quantity in 1u32..=100,
            now_day in 1u32..=28,
            client in prop_oneof![Just("web"), Just("mobile"), Just("api")],
            purchased_before in any::<bool>(),
            coupon in proptest::option::of(arb_coupon()),
        ) {
            let mut commands = Vec::new();
            for (i, (input, publish)) in inputs.iter().enumerate() {
                let id = format!("prm_{i}");
                commands.push(create(&id, input.clone()));
                if *publish {
                    commands.push(promo(PromotionCommand::Publish { promotion_id: id }));
                }
            }
            let product = with(listed(), &commands, day(1));
            let purchases = if purchased_before {
                vec![PurchasesEvent::ProductPurchased(ProductPurchased {
                    product_id: "prd_1".into(),
                    order_id: "ord_0".into(),
                    at: day(1),
                })]
            } else {
                vec![]
            };
            let mut cmd = order(quantity);
            cmd.client = Some(client.into());
            let now = day(now_day);
            // A coupon in the customer's wallet, of a live campaign, or none.
            let wallet: Vec<crate::coupon::WalletEvent> = coupon
                .iter()
                .map(|terms| {
                    crate::coupon::WalletEvent::CouponGranted(crate::coupon::CouponGranted {
                        coupon_id: "cpn_1".into(),
                        customer_id: "cus_1".into(),
                        terms: terms.clone(),
                        via: crate::coupon::Via::Claim,
                        at: day(1),
                    })
                })
                .collect();
            cmd.coupon_id = coupon.as_ref().map(|_| "cpn_1".to_owned());
            let decided = DecisionTest::new()
                .given::<Product>("product-prd_1", &product)
                .given::<crate::purchases::Purchases>("purchases-cus_1", &purchases)
                .given::<crate::coupon::Wallet>("wallet-cus_1", &wallet)
                .given::<crate::coupon::Campaign>("campaign-cpc_1", &[])
                .when(&cmd, &customer(now));
            let offer = coupon.as_ref().map(|terms| pricing::CouponOffer {
                coupon_id: "cpn_1",
                terms: Some(terms),
                used: false,
                campaign_void: false,
            });
            // The quote: the same line, priced by the one pricing function.
            let state = Product::fold(&product);
            let line = Line {
                seller_org_id: "org_s",
                product_id: "prd_1",
                spec_id: "m1",
                duration: SpecDuration { duration: 1, unit: DurationUnit::Month },
                order_type: OrderType::New,
                quantity,
                client: Client::parse(client),
                original: Cents(10_000 * i64::from(quantity)),
                first_purchase: !purchased_before,
                real_name_verified: false,
            };
            let quoted = pricing::price(&line, &state.promotion_terms(), offer.as_ref(), now, Viewer::Customer);
            let (quoted, outcome) = match (quoted, decided) {
                (Ok(q), Ok(o)) => (q, o),
                (Err(q), Err(o)) => {
                    // A coupon that cannot apply is refused alike, by the same rule.
                    prop_assert_eq!(q.code, o.code);
                    prop_assert_eq!(&q.details, &o.details);
                    return Ok(());
                }
                (q, o) => {
                    let placement_ok = o.is_ok();
                    let message = format!("quote {q:?}, placement ok: {placement_ok}");
                    return Err(TestCaseError::fail(message));
                }
            };
            let p = placed(&outcome);
            prop_assert_eq!(quoted.original, p.original);
            prop_assert_eq!(&quoted.promotion, &p.promotion);
            prop_assert_eq!(&quoted.coupon, &p.coupon);
            prop_assert_eq!(quoted.payable, p.payable);
            prop_assert_eq!(
                p.payable.0
                    + p.promotion.as_ref().map_or(0, |x| x.saving.0)
                    + p.coupon.as_ref().map_or(0, |x| x.saving.0),
                p.original.0
            );
            // The coupon is redeemed in the same append, exactly when the order got it.
            let redeemed = outcome.events_of("wallet-cus_1").len();
            prop_assert_eq!(redeemed, usize::from(p.coupon.is_some()));
        }
    }
}
