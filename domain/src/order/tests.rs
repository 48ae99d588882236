use super::*;
use crate::decider::testing::DeciderTest;
use crate::decider::Role;
use crate::product::{ProductCreated, Spec};

fn at(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}
fn ctx_at(now: &str, actor: Actor) -> Context {
    Context::new(at(now), actor, chrono_tz::Asia::Shanghai)
}
fn customer() -> Actor {
    Actor::Principal {
        id: "cus_1".into(),
        role: Role::Customer,
        org_id: None,
    }
}
fn product(status: ProductStatus) -> ProductState {
    let spec = |id: &str, price, trial| Spec {
        id: id.into(),
        name: id.into(),
        duration: 1,
        unit: DurationUnit::Once,
        price: Cents(price),
        trial,
        hidden: false,
    };
    ProductState {
        created: Some(ProductCreated {
            product_id: "prd_1".into(),
            seller_org_id: "org_s".into(),
            code: "MIG".into(),
            name: "Data migration".into(),
            category: "services".into(),
            delivery: DeliveryKind::Saas,
            delivery_days: 3,
            warranty_days: 0,
            flow_template_id: None,
            specs: vec![spec("5g", 5_000, false), spec("try", 0, true)],
        }),
        status,
        specs: vec![spec("5g", 5_000, false), spec("try", 0, true)],
        commission_percent: None,
        providers: vec![],
        promotions: vec![],
    }
}
fn place_cmd(qty: u32) -> PlaceOrder {
    PlaceOrder {
        order_id: "ord_1".into(),
        customer_id: "cus_1".into(),
        product_id: "prd_1".into(),
        spec_id: "5g".into(),
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
fn placed() -> Vec<OrderEvent> {
    place(
        &OrderState::default(),
        &place_cmd(2),
        &product(ProductStatus::Listed),
        None,
        &Buyer::CUSTOMER_UNCONDITIONED,
        None,
        &ctx_at("2026-11-22T09:00:00+08:00", customer()),
    )
    .unwrap()
}

#[test]
fn a_new_order_costs_spec_price_times_quantity_and_is_due_in_7_days() {
    let e = placed();
    let OrderEvent::OrderPlaced(p) = &e[0] else {
        panic!("{e:?}")
    };
    assert_eq!((p.original, p.payable), (Cents(10_000), Cents(10_000)));
    assert_eq!(p.payment_due_at, at("2026-11-29T09:00:00+08:00"));
    assert_eq!(
        deadline_effects(&e[0], "ord_1")[0],
        DeadlineEffect::Start(Deadline {
            id: "order-ord_1/order_payment_timeout/placed".into(),
            due_at: p.payment_due_at,
            stream_id: "order-ord_1".into(),
            rule: DeadlineRule::OrderPaymentTimeout,
        })
    );
}

#[test]
fn only_listed_products_can_be_ordered() {
    let ctx = ctx_at("2026-11-22T09:00:00+08:00", customer());
    let place_in = |status, qty| {
        place(
            &OrderState::default(),
            &place_cmd(qty),
            &product(status),
            None,
            &Buyer::CUSTOMER_UNCONDITIONED,
            None,
            &ctx,
        )
    };
    let e = place_in(ProductStatus::Hidden, 1).unwrap_err();
    assert!(
        e.code == "invalid_state" && e.details[0].1 == "hidden",
        "{e:?}"
    );
    let e = place_in(ProductStatus::Listed, 101).unwrap_err();
    assert!(e.details[0].1 == "quantity", "{e:?}");
}

#[test]
fn price_change_needs_an_unpaid_order_and_a_reason_and_records_old_and_new() {
    let seller = Actor::Principal {
        id: "prn_s".into(),
        role: Role::IsvAdmin,
        org_id: Some("org_s".into()),
    };
    let ctx = ctx_at("2026-11-22T10:00:00+08:00", seller);
    DeciderTest::<Order>::given(placed())
        .when(
            OrderCommand::ChangePrice {
                new_price_cents: 0,
                reason: "testing my own product".into(),
            },
            &ctx,
        )
        .then_events(vec![OrderEvent::OrderPriceChanged(OrderPriceChanged {
            old_payable: Cents(10_000),
            new_payable: Cents(0),
            reason: "testing my own product".into(),
            changed_by: "prn_s:isv_admin".into(),
            at: at("2026-11-22T10:00:00+08:00"),
        })]);
    DeciderTest::<Order>::given(placed())
        .when(
            OrderCommand::ChangePrice {
                new_price_cents: 10,
                reason: " ".into(),
            },
            &ctx,
        )
        .then_error(|e| e.code == "validation_failed");
    let mut paid = placed();
    paid.push(OrderEvent::OrderPaid(OrderPaid {
        amount: Cents(10_000),
        voucher: Cents(0),
        cash: Cents(10_000),
        at: at("2026-11-22T09:30:00+08:00"),
        completed: true,
    }));
    DeciderTest::<Order>::given(paid)
        .when(
            OrderCommand::ChangePrice {
                new_price_cents: 10,
                reason: "late".into(),
            },
            &ctx,
        )
        .then_error(|e| e.code == "invalid_state" && e.details[0].1 == "paid");
}

#[test]
fn payment_must_equal_the_payable_amount_and_splits_cash_and_voucher() {
    let ctx = ctx_at("2026-11-22T11:00:00+08:00", customer());
    DeciderTest::<Order>::given(placed())
        .when(
            OrderCommand::Pay {
                amount_cents: 9_999,
                voucher_cents: 0,
            },
            &ctx,
        )
        .then_error(|e| e.code == "amount_mismatch");
    let state = DeciderTest::<Order>::given(placed())
        .when(
            OrderCommand::Pay {
                amount_cents: 10_000,
                voucher_cents: 3_000,
            },
            &ctx,
        )
        .then_events(vec![OrderEvent::OrderPaid(OrderPaid {
            amount: Cents(10_000),
            voucher: Cents(3_000),
            cash: Cents(7_000),
            at: at("2026-11-22T11:00:00+08:00"),
            completed: true,
        })]);
    assert_eq!(state.completed_at, Some(at("2026-11-22T11:00:00+08:00")));
}

#[test]
fn unpaid_order_is_voided_after_7_days_and_not_before() {
    let early = ctx_at("2026-11-29T08:59:59+08:00", Actor::System);
    DeciderTest::<Order>::given(placed())
        .when(
            OrderCommand::VoidForTimeout {
                deadline_id: "d".into(),
            },
            &early,
        )
        .then_events(vec![]);
    let due = ctx_at("2026-11-29T09:00:00+08:00", Actor::System);
    DeciderTest::<Order>::given(placed())
        .when(
            OrderCommand::VoidForTimeout {
                deadline_id: "d".into(),
            },
            &due,
        )
        .then_events(vec![OrderEvent::OrderVoided(OrderVoided {
            reason: VoidReason::PaymentTimeout,
            at: at("2026-11-29T09:00:00+08:00"),
            deadline_id: Some("d".into()),
        })]);
    let mut cancelled = placed();
    cancelled.push(OrderEvent::OrderVoided(OrderVoided {
        reason: VoidReason::CancelledByCustomer,
        at: at("2026-11-23T09:00:00+08:00"),
        deadline_id: None,
    }));
    DeciderTest::<Order>::given(cancelled)
        .when(
            OrderCommand::VoidForTimeout {
                deadline_id: "d".into(),
            },
            &due,
        )
        .then_events(vec![]);
}

fn paid_at(amount: i64, voucher: i64) -> Vec<OrderEvent> {
    let mut e = placed();
    e.push(OrderEvent::OrderPaid(OrderPaid {
        amount: Cents(amount),
        voucher: Cents(voucher),
        cash: Cents(amount - voucher),
        at: at("2026-11-22T10:00:00+08:00"),
        completed: true,
    }));
    e
}

fn request(amount: Option<i64>) -> OrderCommand {
    OrderCommand::RequestRefund {
        refund_id: "rfd_1".into(),
        amount_cents: amount,
        reason: "not needed".into(),
    }
}

#[test]
fn a_customer_may_request_a_refund_within_5_days_of_payment() {
    let ok = ctx_at("2026-11-27T10:00:00+08:00", customer());
    let e = Order::decide(&Order::fold(&paid_at(10_000, 0)), &request(None), &ok).unwrap();
    let OrderEvent::RefundRequested(r) = &e[0] else {
        panic!()
    };
    assert_eq!(
        (r.amount, r.auto_approve_at),
        (Cents(10_000), Some(at("2026-11-30T10:00:00+08:00")))
    );
    DeciderTest::<Order>::given(paid_at(10_000, 0))
        .when(
            request(None),
            &ctx_at("2026-11-27T10:00:01+08:00", customer()),
        )
        .then_error(|e| e.code == "refund_window_closed");
    DeciderTest::<Order>::given(paid_at(10_000, 0))
        .when(request(Some(10_001)), &ok)
        .then_error(|e| e.code == "refund_exceeds_balance");
    DeciderTest::<Order>::given(placed())
        .when(request(None), &ok)
        .then_error(|e| e.code == "invalid_state" && e.details[0].1 == "unpaid");
}

#[test]
fn at_most_one_refund_is_open_per_order() {
    let ctx = ctx_at("2026-11-23T10:00:00+08:00", customer());
    let mut h = paid_at(10_000, 0);
    h.extend(Order::decide(&Order::fold(&h), &request(Some(100)), &ctx).unwrap());
    DeciderTest::<Order>::given(h)
        .when(
            OrderCommand::RequestRefund {
                refund_id: "rfd_2".into(),
                amount_cents: Some(100),
                reason: "again".into(),
            },
            &ctx,
        )
        .then_error(|e| e.code == "invalid_state" && e.details[0].1 == "refund_open");
}

#[test]
fn refund_request_is_approved_automatically_after_3_days_and_the_order_becomes_refunded() {
    let ctx = ctx_at("2026-11-23T10:00:00+08:00", customer());
    let mut h = paid_at(10_000, 3_000);
    h.extend(Order::decide(&Order::fold(&h), &request(None), &ctx).unwrap());
    let early = ctx_at("2026-11-26T09:59:59+08:00", Actor::System);
    let auto = OrderCommand::AutoApproveRefund {
        refund_id: "rfd_1".into(),
        deadline_id: "d".into(),
    };
    DeciderTest::<Order>::given(h.clone())
        .when(auto.clone(), &early)
        .then_events(vec![]);
    let due = ctx_at("2026-11-26T10:00:00+08:00", Actor::System);
    let e = Order::decide(&Order::fold(&h), &auto, &due).unwrap();
    let OrderEvent::RefundApproved(a) = &e[0] else {
        panic!()
    };
    assert_eq!(
        (a.cash, a.voucher, a.automatic, a.balance_after),
        (Cents(7_000), Cents(3_000), true, Cents(0))
    );
    h.extend(e);
    let s = Order::fold(&h);
    assert_eq!(
        (s.status, s.refunded),
        (Some(OrderStatus::Refunded), Cents(10_000))
    );
    assert_eq!(
        deadline_effects(&h[3], "ord_1")[0],
        DeadlineEffect::Stop {
            id: refund_deadline_id("ord_1", "rfd_1")
        }
    );
}

#[test]
fn a_partial_refund_leaves_the_order_paid_with_a_balance() {
    let seller = Actor::Principal {
        id: "prn_s".into(),
        role: Role::IsvAdmin,
        org_id: Some("org_s".into()),
    };
    let mut h = paid_at(10_000, 0);
    h.extend(
        Order::decide(
            &Order::fold(&h),
            &request(Some(2_500)),
            &ctx_at("2026-11-23T10:00:00+08:00", customer()),
        )
        .unwrap(),
    );
    h.extend(
        Order::decide(
            &Order::fold(&h),
            &OrderCommand::ApproveRefund {
                refund_id: "rfd_1".into(),
                approver: Approver::Seller,
            },
            &ctx_at("2026-11-23T11:00:00+08:00", seller),
        )
        .unwrap(),
    );
    let s = Order::fold(&h);
    assert_eq!(
        (s.status, s.balance()),
        (Some(OrderStatus::Paid), Cents(7_500))
    );
}

#[test]
fn a_seller_refund_goes_to_the_platform_and_keep_needs_a_reason() {
    let seller = ctx_at(
        "2026-12-30T10:00:00+08:00",
        Actor::Principal {
            id: "prn_s".into(),
            role: Role::IsvAdmin,
            org_id: Some("org_s".into()),
        },
    );
    let cmd = |release: &str, keep: Option<&str>| OrderCommand::SellerRefund {
        refund_id: "rfd_9".into(),
        kind: "full".into(),
        amount_cents: None,
        release: release.into(),
        keep_reason: keep.map(str::to_owned),
        reason: "service stopped".into(),
    };
    DeciderTest::<Order>::given(paid_at(10_000, 0))
        .when(cmd("keep", None), &seller)
        .then_error(|e| e.details[0].1 == "keep_reason");
    let s = DeciderTest::<Order>::given(paid_at(10_000, 0))
        .when(cmd("immediate", None), &seller)
        .then_events(vec![OrderEvent::RefundRequested(RefundRequested {
            refund_id: "rfd_9".into(),
            initiated_by: RefundInitiator::Seller,
            kind: RefundKind::Full,
            amount: Cents(10_000),
            release: Release::Immediate,
            keep_reason: None,
            reason: "service stopped".into(),
            requested_by: "prn_s:isv_admin".into(),
            at: at("2026-12-30T10:00:00+08:00"),
            auto_approve_at: None,
        })]);
    assert_eq!(
        s.open_refund().map(|r| r.status),
        Some(RefundStatus::PendingPlatform)
    );
    let mut h = paid_at(10_000, 0);
    h.extend(Order::decide(&Order::fold(&h), &cmd("immediate", None), &seller).unwrap());
    DeciderTest::<Order>::given(h)
        .when(
            OrderCommand::ApproveRefund {
                refund_id: "rfd_9".into(),
                approver: Approver::Seller,
            },
            &seller,
        )
        .then_error(|e| e.code == "invalid_state" && e.details[0].1 == "pending_platform");
}

#[test]
fn the_invoice_amount_is_cash_paid_minus_cash_refunded_and_postage_follows_200_yuan() {
    let ctx = ctx_at("2026-11-23T10:00:00+08:00", customer());
    let inv = |id: &str| OrderCommand::RequestInvoice {
        invoice_id: id.into(),
        invoice_type: "ordinary".into(),
        title: "Acme".into(),
        tax_id: "91X".into(),
        address: "Shanghai".into(),
    };
    let mut h = paid_at(10_000, 4_000);
    h.extend(Order::decide(&Order::fold(&h), &request(Some(5_000)), &ctx).unwrap());
    let seller = ctx_at(
        "2026-11-23T11:00:00+08:00",
        Actor::Principal {
            id: "prn_s".into(),
            role: Role::IsvAdmin,
            org_id: Some("org_s".into()),
        },
    );
    h.extend(
        Order::decide(
            &Order::fold(&h),
            &OrderCommand::ApproveRefund {
                refund_id: "rfd_1".into(),
                approver: Approver::Seller,
            },
            &seller,
        )
        .unwrap(),
    );
    let e = Order::decide(&Order::fold(&h), &inv("inv_1"), &ctx).unwrap();
    let OrderEvent::InvoiceRequested(r) = &e[0] else {
        panic!()
    };
    // cash paid 6000; the 5000 refund returned 3000 cash (60 %) → 3000 left to invoice.
    assert_eq!((r.amount, r.seller_pays_postage), (Cents(3_000), false));
    h.extend(e);
    DeciderTest::<Order>::given(h)
        .when(inv("inv_2"), &ctx)
        .then_error(|e| e.details[0].1 == "invoice_exists");
    let big = paid_at(20_001, 0);
    let e = Order::decide(&Order::fold(&big), &inv("inv_3"), &ctx).unwrap();
    let OrderEvent::InvoiceRequested(r) = &e[0] else {
        panic!()
    };
    assert!(r.seller_pays_postage);
}

#[test]
fn review_is_defaulted_after_30_days_and_the_seller_replies_once_within_30_days() {
    let h = paid_at(10_000, 0);
    let def = OrderCommand::DefaultReview {
        review_id: "rev_1".into(),
        deadline_id: "d".into(),
    };
    DeciderTest::<Order>::given(h.clone())
        .when(
            def.clone(),
            &ctx_at("2026-12-22T09:59:59+08:00", Actor::System),
        )
        .then_events(vec![]);
    let s = DeciderTest::<Order>::given(h.clone())
        .when(def, &ctx_at("2026-12-22T10:00:00+08:00", Actor::System))
        .then_events(vec![OrderEvent::ReviewDefaulted(ReviewDefaulted {
            review_id: "rev_1".into(),
            at: at("2026-12-22T10:00:00+08:00"),
            deadline_id: "d".into(),
        })]);
    assert!(s
        .review
        .as_ref()
        .is_some_and(|r| r.default && r.quality == 5 && !r.bad_unhandled()));
    let mut reviewed = h;
    reviewed.push(OrderEvent::ReviewSubmitted(ReviewSubmitted {
        review_id: "rev_2".into(),
        quality: 3,
        attitude: 5,
        speed: 5,
        comment: "slow".into(),
        at: at("2026-11-24T10:00:00+08:00"),
    }));
    assert!(Order::fold(&reviewed)
        .review
        .as_deref()
        .is_some_and(Review::bad_unhandled));
    let seller = |t: &str| {
        ctx_at(
            t,
            Actor::Principal {
                id: "prn_s".into(),
                role: Role::IsvAdmin,
                org_id: Some("org_s".into()),
            },
        )
    };
    DeciderTest::<Order>::given(reviewed.clone())
        .when(
            OrderCommand::ReplyToReview {
                text: "sorry".into(),
            },
            &seller("2026-12-24T10:00:01+08:00"),
        )
        .then_error(|e| e.details[0].1 == "reply_window_closed");
    let s = DeciderTest::<Order>::given(reviewed)
        .when(
            OrderCommand::ReplyToReview {
                text: "sorry".into(),
            },
            &seller("2026-12-24T10:00:00+08:00"),
        )
        .then_events(vec![OrderEvent::ReviewReplied(ReviewReplied {
            review_id: "rev_2".into(),
            text: "sorry".into(),
            replied_by: "prn_s:isv_admin".into(),
            at: at("2026-12-24T10:00:00+08:00"),
        })]);
    assert!(!s.review.as_deref().is_some_and(Review::bad_unhandled));
}

#[test]
fn order_event_encodings_are_pinned() {
    use crate::codec::EventCodec;
    let hex = |b: Vec<u8>| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let e = placed();
    let paid = OrderEvent::OrderPaid(OrderPaid {
        amount: Cents(1),
        voucher: Cents(0),
        cash: Cents(1),
        at: Timestamp::from_micros(1),
        completed: false,
    });
    let actual = [
        hex(e[0].encode_payload().unwrap()),
        hex(paid.encode_payload().unwrap()),
    ];
    assert_eq!(actual, GOLDEN);
}

const GOLDEN: [&str; 2] = [
    "056f72645f3100056375735f31056f72675f73057072645f31034d49470e44617461206d6967726174696f6e0102356702356701000002fb1027fb204efb204e000000010000fd008841fea5c10c00fd00c808a0bfc20c000000",
    "0200020200",
];

mod across_streams {
    //! Given / when / then over every stream a decision names.

    use super::*;
    use crate::decision::testing::{decoded, DecisionTest};
    use crate::instance::{Instance, InstanceEvent, InstanceOpened, InstanceStatus};
    use crate::product::{Product, ProductEvent};

    fn listed_product() -> Vec<ProductEvent> {
        let ProductState {
            created: Some(created),
            ..
        } = product(ProductStatus::Listed)
        else {
            unreachable!()
        };
        vec![
            ProductEvent::ProductCreated(created),
            ProductEvent::ProductStatusChanged(crate::product::ProductStatusChanged {
                from: ProductStatus::Draft,
                to: ProductStatus::Listed,
                reason: None,
            }),
        ]
    }

    #[test]
    fn placement_prices_from_the_product_it_loaded_and_guards_it() {
        let ctx = ctx_at("2026-11-22T09:00:00+08:00", customer());
        let outcome = DecisionTest::new()
            .given::<Product>("product-prd_1", &listed_product())
            .when(&place_cmd(2), &ctx)
            .unwrap();
        let events: Vec<OrderEvent> = decoded(&outcome, "order-ord_1");
        assert_eq!(events, placed());
        assert_eq!(outcome.guards, vec!["product-prd_1".to_owned()]);
        let state = outcome.primary_state::<Order>().unwrap();
        assert_eq!(state.payable, Cents(10_000));
    }

    #[test]
    fn an_unknown_or_draft_product_is_an_unknown_product_id() {
        let ctx = ctx_at("2026-11-22T09:00:00+08:00", customer());
        let unknown = DecisionTest::new().when(&place_cmd(1), &ctx).unwrap_err();
        assert_eq!(
            (unknown.code, unknown.details[0].1.as_str()),
            ("validation_failed", "product_id")
        );
        let draft = listed_product()[..1].to_vec();
        let e = DecisionTest::new()
            .given::<Product>("product-prd_1", &draft)
            .when(&place_cmd(1), &ctx)
            .unwrap_err();
        assert_eq!(e.details[0].1, "product_id");
    }

    #[test]
    fn field_rules_answer_before_the_product_is_looked_at() {
        let ctx = ctx_at("2026-11-22T09:00:00+08:00", customer());
        let draft = listed_product()[..1].to_vec();
        let mut bad_type = place_cmd(1);
        bad_type.order_type = "gift".into();
        let mut bad_remark = place_cmd(1);
        bad_remark.remark = Some("call\u{7}".into());
        for (cmd, field) in [
            (place_cmd(0), "quantity"),
            (place_cmd(QUANTITY_MAX + 1), "quantity"),
            (bad_type, "order_type"),
            (bad_remark, "remark"),
        ] {
            let unknown = DecisionTest::new().when(&cmd, &ctx).unwrap_err();
            assert_eq!(unknown.details[0].1, field, "unknown product: {unknown:?}");
            let on_draft = DecisionTest::new()
                .given::<Product>("product-prd_1", &draft)
                .when(&cmd, &ctx)
                .unwrap_err();
            assert_eq!(on_draft.details[0].1, field, "draft product: {on_draft:?}");
        }
    }

    #[test]
    fn a_payment_opens_one_instance_per_unit_at_the_same_now_as_the_payment() {
        let ctx = ctx_at("2026-11-23T09:00:00+08:00", customer());
        let pay = PayOrder {
            order_id: "ord_1".into(),
            amount_cents: 10_000,
            voucher_cents: 0,
        };
        let outcome = DecisionTest::new()
            .given::<Order>("order-ord_1", &placed())
            .given::<Product>("product-prd_1", &listed_product())
            .when(&pay, &ctx)
            .unwrap();
        let order: Vec<OrderEvent> = decoded(&outcome, "order-ord_1");
        assert!(matches!(&order[..], [OrderEvent::OrderPaid(p)] if p.at == ctx.now));
        for i in 1..=2 {
            let stream = format!("instance-ins_1_{i}");
            let opened: Vec<InstanceEvent> = decoded(&outcome, &stream);
            assert!(
                matches!(&opened[..], [InstanceEvent::InstanceOpened(o)]
                    if o.opened_at == ctx.now && o.order_id == "ord_1"),
                "{stream}: {opened:?}"
            );
        }
        // The first payment for the product enters the customer's purchases.
        let purchased: Vec<crate::purchases::PurchasesEvent> = decoded(&outcome, "purchases-cus_1");
        assert!(
            matches!(&purchased[..], [crate::purchases::PurchasesEvent::ProductPurchased(p)]
                if p.product_id == "prd_1" && p.order_id == "ord_1" && p.at == ctx.now),
            "{purchased:?}"
        );
        assert_eq!(outcome.appends.len(), 4);

        // A refused payment opens nothing.
        let wrong = PayOrder {
            amount_cents: 1,
            ..pay
        };
        let e = DecisionTest::new()
            .given::<Order>("order-ord_1", &placed())
            .given::<Product>("product-prd_1", &listed_product())
            .when(&wrong, &ctx)
            .unwrap_err();
        assert_eq!(e.code, "amount_mismatch");
    }

    #[test]
    fn approving_an_immediate_refund_releases_the_usable_instances_at_the_same_now() {
        let seller = ctx_at("2026-11-23T09:00:00+08:00", customer());
        let mut history = paid_at(10_000, 0);
        history.extend(
            Order::decide(
                &Order::fold(&history),
                &OrderCommand::SellerRefund {
                    refund_id: "rfd_9".into(),
                    kind: "full".into(),
                    amount_cents: None,
                    release: "immediate".into(),
                    keep_reason: None,
                    reason: "service stopped".into(),
                },
                &seller,
            )
            .unwrap(),
        );
        let opened = |i: u32, status| {
            vec![InstanceEvent::InstanceOpened(InstanceOpened {
                instance_id: format!("ins_1_{i}"),
                order_id: "ord_1".into(),
                product_id: "prd_1".into(),
                seller_org_id: "org_s".into(),
                customer_id: "cus_1".into(),
                spec_id: "5g".into(),
                trial: false,
                status,
                opened_at: at("2026-11-22T10:00:00+08:00"),
                expires_at: None,
            })]
        };
        let platform = ctx_at("2026-11-24T09:00:00+08:00", Actor::System);
        let approve = DecideRefund {
            order_id: "ord_1".into(),
            command: OrderCommand::ApproveRefund {
                refund_id: "rfd_9".into(),
                approver: Approver::Platform,
            },
        };
        let outcome = DecisionTest::new()
            .given::<Order>("order-ord_1", &history)
            .given::<Instance>("instance-ins_1_1", &opened(1, InstanceStatus::Active))
            .when(&approve, &platform)
            .unwrap();
        let order: Vec<OrderEvent> = decoded(&outcome, "order-ord_1");
        assert!(matches!(&order[..], [OrderEvent::RefundApproved(a)] if a.at == platform.now));
        let released: Vec<InstanceEvent> = decoded(&outcome, "instance-ins_1_1");
        assert!(
            matches!(&released[..], [InstanceEvent::InstanceReleased(r)]
                if r.at == platform.now && r.refund_id == "rfd_9"),
            "{released:?}"
        );
        // The second instance never opened: nothing to release.
        assert!(outcome.events_of("instance-ins_1_2").is_empty());
    }
}

mod deliveries {
    //! The order's side of its delivery project: completion by the delivery, the system
    //! refund, and which refunds cancel the project.

    use super::*;
    use crate::codec::EventCodec;
    use crate::decision::testing::{decoded, DecisionTest};
    use crate::history::StoredEvent;
    use crate::instance::{Instance, InstanceEvent, InstanceOpened, InstanceStatus};

    const PAID_AT: &str = "2026-11-22T10:00:00+08:00";

    fn system_at(now: &str) -> Context {
        ctx_at(now, Actor::System)
    }

    /// A manual order paid for 10 000 cents, its delivery under way (not completed).
    fn paid_manual() -> Vec<OrderEvent> {
        let mut e = placed();
        if let OrderEvent::OrderPlaced(p) = &mut e[0] {
            p.delivery = DeliveryKind::Manual;
        }
        e.push(OrderEvent::OrderPaid(OrderPaid {
            amount: Cents(10_000),
            voucher: Cents(2_000),
            cash: Cents(8_000),
            at: at(PAID_AT),
            completed: false,
        }));
        e
    }

    fn complete() -> OrderCommand {
        OrderCommand::CompleteByDelivery {
            delivery_id: "dlv_1".into(),
        }
    }

    fn by_system(reason: SystemRefundReason) -> OrderCommand {
        DecideRefund::by_system("ord_1", "dlv_1", reason).command
    }

    fn with(mut history: Vec<OrderEvent>, command: OrderCommand, ctx: &Context) -> Vec<OrderEvent> {
        let events = Order::decide(&Order::fold(&history), &command, ctx).unwrap();
        history.extend(events);
        history
    }

    /// A customer's request; its id is generated, so never the system refund's `rfd_1`.
    fn customer_request(amount: Option<i64>) -> OrderCommand {
        OrderCommand::RequestRefund {
            refund_id: "rfd_7".into(),
            amount_cents: amount,
            reason: "not needed".into(),
        }
    }

    fn approve_as_seller(refund_id: &str) -> OrderCommand {
        OrderCommand::ApproveRefund {
            refund_id: refund_id.into(),
            approver: Approver::Seller,
        }
    }

    #[test]
    fn a_completed_delivery_completes_the_paid_order_and_starts_the_review_default() {
        let now = system_at("2026-12-10T18:00:00+08:00");
        let s = DeciderTest::<Order>::given(paid_manual())
            .when(complete(), &now)
            .then_events(vec![OrderEvent::OrderCompleted(OrderCompleted {
                delivery_id: "dlv_1".into(),
                at: now.now,
            })]);
        assert_eq!(s.completed_at, Some(now.now));
        let completed = OrderEvent::OrderCompleted(OrderCompleted {
            delivery_id: "dlv_1".into(),
            at: now.now,
        });
        assert_eq!(
            deadline_effects(&completed, "ord_1"),
            vec![DeadlineEffect::Start(Deadline {
                id: review_deadline_id("ord_1"),
                due_at: at("2027-01-09T18:00:00+08:00"),
                stream_id: "order-ord_1".into(),
                rule: DeadlineRule::ReviewDefault,
            })]
        );
        // The same as an automatic product's completion at payment starts.
        let paid_completed = OrderEvent::OrderPaid(OrderPaid {
            amount: Cents(1),
            voucher: Cents(0),
            cash: Cents(1),
            at: now.now,
            completed: true,
        });
        assert_eq!(
            deadline_effects(&paid_completed, "ord_1")[1..],
            deadline_effects(&completed, "ord_1")[..]
        );
    }

    #[test]
    fn a_manual_order_is_reviewed_only_once_its_delivery_completed() {
        let review = OrderCommand::Review {
            review_id: "rev_1".into(),
            quality: 5,
            attitude: 4,
            speed: 5,
            comment: "good".into(),
        };
        let ctx = ctx_at("2026-12-11T10:00:00+08:00", customer());
        DeciderTest::<Order>::given(paid_manual())
            .when(review.clone(), &ctx)
            .then_error(|e| e.code == "invalid_state");
        let done = with(
            paid_manual(),
            complete(),
            &system_at("2026-12-10T18:00:00+08:00"),
        );
        let e = Order::decide(&Order::fold(&done), &review, &ctx).unwrap();
        assert!(matches!(&e[..], [OrderEvent::ReviewSubmitted(_)]), "{e:?}");
    }

    #[test]
    fn completing_an_order_already_completed_appends_nothing() {
        let now = system_at("2026-12-10T18:00:00+08:00");
        let done = with(paid_manual(), complete(), &now);
        DeciderTest::<Order>::given(done)
            .when(complete(), &system_at("2026-12-11T18:00:00+08:00"))
            .then_events(vec![]);
        // An automatic product completed at payment.
        DeciderTest::<Order>::given(paid_at(10_000, 0))
            .when(complete(), &now)
            .then_events(vec![]);
    }

    #[test]
    fn an_unpaid_or_voided_order_is_not_completed_by_a_delivery() {
        let now = system_at("2026-12-10T18:00:00+08:00");
        DeciderTest::<Order>::given(placed())
            .when(complete(), &now)
            .then_error(|e| e.code == "invalid_state" && e.details[0].1 == "unpaid");
        let voided = with(
            placed(),
            OrderCommand::Cancel,
            &ctx_at("2026-11-22T09:30:00+08:00", customer()),
        );
        DeciderTest::<Order>::given(voided)
            .when(complete(), &now)
            .then_error(|e| e.code == "invalid_state" && e.details[0].1 == "voided");
        DeciderTest::<Order>::given_no_events()
            .when(complete(), &now)
            .then_error(|e| e.code == "not_found");
    }

    #[test]
    fn a_fully_refunded_order_is_not_completed_by_its_delivery() {
        let refunded = with(
            paid_manual(),
            by_system(SystemRefundReason::PlatformClose),
            &system_at("2026-11-30T10:00:00+08:00"),
        );
        DeciderTest::<Order>::given(refunded)
            .when(complete(), &system_at("2026-12-10T18:00:00+08:00"))
            .then_events(vec![]);
    }

    #[test]
    fn only_the_system_completes_an_order_by_delivery_and_names_a_delivery_id() {
        DeciderTest::<Order>::given(paid_manual())
            .when(complete(), &ctx_at("2026-12-10T18:00:00+08:00", customer()))
            .then_events(vec![]);
        DeciderTest::<Order>::given(paid_manual())
            .when(
                OrderCommand::CompleteByDelivery {
                    delivery_id: "ord_1".into(),
                },
                &system_at("2026-12-10T18:00:00+08:00"),
            )
            .then_error(|e| e.code == "validation_failed" && e.details[0].1 == "delivery_id");
    }

    #[test]
    fn the_system_refund_id_is_rfd_with_the_delivery_body() {
        assert_eq!(system_refund_id("dlv_01jf8k_2"), "rfd_01jf8k_2");
        assert!(crate::ids::is_valid_id(
            crate::ids::IdKind::Refund,
            &system_refund_id("dlv_01jf8k_2")
        ));
        assert_eq!(
            DecideRefund::by_system("ord_1", "dlv_1", SystemRefundReason::DeliveryTimeout),
            DecideRefund::by_system("ord_1", "dlv_1", SystemRefundReason::DeliveryTimeout)
        );
        // The timeout and a platform close of one delivery name the same refund.
        let ids: Vec<OrderCommand> = [
            SystemRefundReason::DeliveryTimeout,
            SystemRefundReason::PlatformClose,
        ]
        .map(by_system)
        .into();
        assert!(ids.iter().all(|c| matches!(c,
            OrderCommand::RefundBySystem { refund_id, .. } if refund_id == "rfd_1")));
    }

    #[test]
    fn a_system_refund_refunds_the_whole_balance_at_once_with_no_review() {
        // A partial refund first: the system refunds what is left.
        let mut h = with(
            paid_manual(),
            customer_request(Some(2_500)),
            &ctx_at("2026-11-23T10:00:00+08:00", customer()),
        );
        h = with(
            h,
            approve_as_seller("rfd_7"),
            &ctx_at("2026-11-23T11:00:00+08:00", Actor::System),
        );
        let now = system_at("2026-12-08T10:00:00+08:00");
        let s = DeciderTest::<Order>::given(h)
            .when(by_system(SystemRefundReason::DeliveryTimeout), &now)
            .then_events(vec![
                OrderEvent::RefundRequested(RefundRequested {
                    refund_id: "rfd_1".into(),
                    initiated_by: RefundInitiator::System,
                    kind: RefundKind::Full,
                    amount: Cents(7_500),
                    release: Release::Immediate,
                    keep_reason: None,
                    reason: "delivery_timeout: dlv_1".into(),
                    requested_by: "system".into(),
                    at: now.now,
                    auto_approve_at: None,
                }),
                OrderEvent::RefundApproved(RefundApproved {
                    refund_id: "rfd_1".into(),
                    amount: Cents(7_500),
                    cash: Cents(6_000),
                    voucher: Cents(1_500),
                    approved_by: "system".into(),
                    at: now.now,
                    automatic: true,
                    deadline_id: None,
                    commission_clawback: Cents(0),
                    balance_after: Cents(0),
                    release: Release::Immediate,
                }),
            ]);
        assert_eq!(
            (s.status, s.refunded, s.balance()),
            (Some(OrderStatus::Refunded), Cents(10_000), Cents(0))
        );
        assert_eq!(s.open_refund(), None);
    }

    #[test]
    fn a_system_refund_supersedes_the_open_refund_and_its_auto_approval() {
        let h = with(
            paid_manual(),
            customer_request(Some(2_500)),
            &ctx_at("2026-11-23T10:00:00+08:00", customer()),
        );
        let now = system_at("2026-11-24T10:00:00+08:00");
        let events = Order::decide(
            &Order::fold(&h),
            &by_system(SystemRefundReason::PlatformClose),
            &now,
        )
        .unwrap();
        assert_eq!(
            events[0],
            OrderEvent::RefundRejected(RefundRejected {
                refund_id: "rfd_7".into(),
                reason: "superseded by system refund rfd_1".into(),
                rejected_by: "system".into(),
                at: now.now,
            })
        );
        assert!(
            matches!(&events[1..], [OrderEvent::RefundRequested(r), OrderEvent::RefundApproved(a)]
                if r.amount == Cents(10_000) && r.reason == "platform_close: dlv_1"
                    && a.amount == Cents(10_000) && a.balance_after == Cents(0)),
            "{events:?}"
        );
        // The rejection stops the request's 3-day auto-approval.
        assert_eq!(
            deadline_effects(&events[0], "ord_1"),
            vec![DeadlineEffect::Stop {
                id: refund_deadline_id("ord_1", "rfd_7")
            }]
        );
        let mut after = h;
        after.extend(events);
        let s = Order::fold(&after);
        assert_eq!(
            s.refund("rfd_7").map(|r| r.status),
            Some(RefundStatus::Rejected)
        );
        assert_eq!(s.status, Some(OrderStatus::Refunded));
        // The auto-approval firing anyway (a late scheduler) finds nothing to approve.
        DeciderTest::<Order>::given(after)
            .when(
                OrderCommand::AutoApproveRefund {
                    refund_id: "rfd_7".into(),
                    deadline_id: refund_deadline_id("ord_1", "rfd_7"),
                },
                &system_at("2026-11-26T10:00:00+08:00"),
            )
            .then_events(vec![]);
    }

    #[test]
    fn a_system_refund_supersedes_a_seller_refund_waiting_for_the_platform() {
        let seller = ctx_at(
            "2026-11-24T10:00:00+08:00",
            Actor::Principal {
                id: "prn_s".into(),
                role: Role::IsvAdmin,
                org_id: Some("org_s".into()),
            },
        );
        let h = with(
            paid_manual(),
            OrderCommand::SellerRefund {
                refund_id: "rfd_8".into(),
                kind: "remaining".into(),
                amount_cents: Some(1_000),
                release: "keep".into(),
                keep_reason: Some("goodwill".into()),
                reason: "late".into(),
            },
            &seller,
        );
        let events = Order::decide(
            &Order::fold(&h),
            &by_system(SystemRefundReason::DeliveryTimeout),
            &system_at("2026-11-25T10:00:00+08:00"),
        )
        .unwrap();
        assert!(
            matches!(&events[..], [OrderEvent::RefundRejected(x), OrderEvent::RefundRequested(_),
                OrderEvent::RefundApproved(a)] if x.refund_id == "rfd_8" && a.amount == Cents(10_000)),
            "{events:?}"
        );
    }

    #[test]
    fn a_system_refund_run_again_appends_nothing() {
        let now = system_at("2026-11-30T10:00:00+08:00");
        let once = with(
            paid_manual(),
            by_system(SystemRefundReason::DeliveryTimeout),
            &now,
        );
        // The same delivery's refund again, for either reason.
        for reason in [
            SystemRefundReason::DeliveryTimeout,
            SystemRefundReason::PlatformClose,
        ] {
            DeciderTest::<Order>::given(once.clone())
                .when(by_system(reason), &now)
                .then_events(vec![]);
        }
        // An order a customer refunded in full: a balance of 0, nothing left to refund.
        let mut h = with(
            paid_manual(),
            customer_request(None),
            &ctx_at("2026-11-23T10:00:00+08:00", customer()),
        );
        h = with(h, approve_as_seller("rfd_7"), &now);
        DeciderTest::<Order>::given(h)
            .when(by_system(SystemRefundReason::PlatformClose), &now)
            .then_events(vec![]);
    }

    #[test]
    fn a_system_refund_of_a_free_order_appends_nothing() {
        let mut h = placed();
        h.push(OrderEvent::OrderPaid(OrderPaid {
            amount: Cents(0),
            voucher: Cents(0),
            cash: Cents(0),
            at: at(PAID_AT),
            completed: false,
        }));
        DeciderTest::<Order>::given(h)
            .when(
                by_system(SystemRefundReason::DeliveryTimeout),
                &system_at("2026-11-30T10:00:00+08:00"),
            )
            .then_events(vec![]);
    }

    #[test]
    fn a_system_refund_needs_a_paid_order_and_the_system() {
        let now = system_at("2026-11-30T10:00:00+08:00");
        DeciderTest::<Order>::given(placed())
            .when(by_system(SystemRefundReason::DeliveryTimeout), &now)
            .then_error(|e| e.code == "invalid_state" && e.details[0].1 == "unpaid");
        DeciderTest::<Order>::given_no_events()
            .when(by_system(SystemRefundReason::DeliveryTimeout), &now)
            .then_error(|e| e.code == "not_found");
        DeciderTest::<Order>::given(paid_manual())
            .when(
                by_system(SystemRefundReason::DeliveryTimeout),
                &ctx_at("2026-11-30T10:00:00+08:00", customer()),
            )
            .then_events(vec![]);
        DeciderTest::<Order>::given(paid_manual())
            .when(
                OrderCommand::RefundBySystem {
                    refund_id: "rfd_1".into(),
                    delivery_id: "dlv-1".into(),
                    reason: SystemRefundReason::DeliveryTimeout,
                },
                &now,
            )
            .then_error(|e| e.code == "validation_failed" && e.details[0].1 == "delivery_id");
    }

    #[test]
    fn a_system_refund_releases_the_usable_instances_at_the_same_now() {
        let opened = |i: u32, status| {
            vec![InstanceEvent::InstanceOpened(InstanceOpened {
                instance_id: format!("ins_1_{i}"),
                order_id: "ord_1".into(),
                product_id: "prd_1".into(),
                seller_org_id: "org_s".into(),
                customer_id: "cus_1".into(),
                spec_id: "5g".into(),
                trial: false,
                status,
                opened_at: at(PAID_AT),
                expires_at: None,
            })]
        };
        let now = system_at("2026-11-30T10:00:00+08:00");
        let decision =
            DecideRefund::by_system("ord_1", "dlv_1", SystemRefundReason::DeliveryTimeout);
        let outcome = DecisionTest::new()
            .given::<Order>("order-ord_1", &paid_manual())
            .given::<Instance>("instance-ins_1_1", &opened(1, InstanceStatus::Active))
            .when(&decision, &now)
            .unwrap();
        let order: Vec<OrderEvent> = decoded(&outcome, "order-ord_1");
        assert!(
            matches!(&order[..], [OrderEvent::RefundRequested(_), OrderEvent::RefundApproved(a)]
                if a.refund_id == "rfd_1" && a.release == Release::Immediate),
            "{order:?}"
        );
        let released: Vec<InstanceEvent> = decoded(&outcome, "instance-ins_1_1");
        assert!(
            matches!(&released[..], [InstanceEvent::InstanceReleased(r)]
                if r.at == now.now && r.refund_id == "rfd_1" && r.order_id == "ord_1"),
            "{released:?}"
        );
        assert!(outcome.events_of("instance-ins_1_2").is_empty());

        // Run again over what the first run left: nothing, on any stream.
        let mut refunded = paid_manual();
        refunded.extend(order);
        let again = DecisionTest::new()
            .given::<Order>("order-ord_1", &refunded)
            .given::<Instance>("instance-ins_1_1", &opened(1, InstanceStatus::Active))
            .when(&decision, &now)
            .unwrap();
        assert!(again.is_empty(), "{:?}", again.appends);
    }

    fn cancels(stream_id: &str, e: &OrderEvent) -> Option<(String, String)> {
        let payload = e.encode_payload().unwrap();
        let event = StoredEvent {
            event_type: e.type_name(),
            schema_version: 1,
            payload: &payload,
        };
        delivery_cancel_on_refund(stream_id, &event).unwrap()
    }

    #[test]
    fn a_refund_that_brings_the_balance_to_0_cancels_the_delivery() {
        let now = system_at("2026-11-30T10:00:00+08:00");
        let full = with(
            paid_manual(),
            customer_request(None),
            &ctx_at("2026-11-23T10:00:00+08:00", customer()),
        );
        let full = with(full, approve_as_seller("rfd_7"), &now);
        assert_eq!(
            cancels("order-ord_1", full.last().unwrap()),
            Some(("ord_1".to_owned(), "rfd_7".to_owned()))
        );
        // A system refund too (the project's own timeout or close cancelled it already;
        // the delivery's CancelForRefund then appends nothing).
        let system = with(
            paid_manual(),
            by_system(SystemRefundReason::PlatformClose),
            &now,
        );
        assert_eq!(
            cancels("order-ord_1", system.last().unwrap()),
            Some(("ord_1".to_owned(), "rfd_1".to_owned()))
        );
    }

    #[test]
    fn a_partial_refund_or_another_event_leaves_the_delivery_running() {
        let now = system_at("2026-11-30T10:00:00+08:00");
        let partial = with(
            paid_manual(),
            customer_request(Some(2_500)),
            &ctx_at("2026-11-23T10:00:00+08:00", customer()),
        );
        let requested = partial.last().unwrap().clone();
        let partial = with(partial, approve_as_seller("rfd_7"), &now);
        assert_eq!(cancels("order-ord_1", partial.last().unwrap()), None);
        assert_eq!(cancels("order-ord_1", &requested), None);
        let full = with(
            paid_manual(),
            by_system(SystemRefundReason::PlatformClose),
            &now,
        );
        // Not an order stream: not an order's refund.
        assert_eq!(cancels("instance-ins_1_1", full.last().unwrap()), None);
    }
}
