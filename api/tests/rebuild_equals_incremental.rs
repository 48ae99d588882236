//! Read models rebuilt from the log equal the incrementally built ones, for random command
//! sequences (orders, price changes, payments, cancellations, refunds, decisions, clock
//! advances that fire deadlines).

use std::sync::Arc;

use api::runner::CommandMeta;
use api::state::{App, AppConfig};
use domain::ids::IdKind;
use domain::order::{order_stream, Approver, Order, OrderCommand};
use domain::platform::{org_stream, Org, OrgCommand};
use domain::product::{product_stream, NewSpec, Product, ProductCommand};
use domain::{Actor, Role, Timestamp};
use projections::deliveries::Deliveries;
use projections::directory::Directory;
use projections::instances::Instances;
use projections::orders::Orders;
use projections::products::Products;
use projections::timers::Timers;
use projections::trade::Trade;
use projections::ReadModel;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    Place {
        customer: u8,
        spec: u8,
        quantity: u8,
    },
    ChangePrice {
        order: u8,
        cents: u16,
    },
    Pay {
        order: u8,
        voucher: u16,
    },
    Cancel {
        order: u8,
    },
    RequestRefund {
        order: u8,
        part: bool,
    },
    Decide {
        order: u8,
        approve: bool,
    },
    SpecPrice {
        cents: u16,
    },
    Review {
        order: u8,
        quality: u8,
    },
    Advance {
        hours: u16,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0u8..3, 0u8..2, 1u8..4).prop_map(|(customer, spec, quantity)| Step::Place { customer, spec, quantity }),
        1 => (any::<u8>(), any::<u16>()).prop_map(|(order, cents)| Step::ChangePrice { order, cents }),
        2 => (any::<u8>(), any::<u16>()).prop_map(|(order, voucher)| Step::Pay { order, voucher }),
        1 => any::<u8>().prop_map(|order| Step::Cancel { order }),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(order, part)| Step::RequestRefund { order, part }),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(order, approve)| Step::Decide { order, approve }),
        1 => any::<u16>().prop_map(|cents| Step::SpecPrice { cents }),
        1 => (any::<u8>(), 1u8..6).prop_map(|(order, quality)| Step::Review { order, quality }),
        1 => (1u16..24 * 9).prop_map(|hours| Step::Advance { hours }),
    ]
}

fn meta(actor: Actor) -> CommandMeta {
    CommandMeta {
        actor,
        correlation_id: "prop".into(),
        causation_id: "prop".into(),
        idempotency: None,
        if_match: None,
        command: "Prop",
    }
}

fn assert_rebuild_equals<M: ReadModel>(app: &App, live: &projections::Projection<M>) {
    let head = app.store.head();
    let built = projections::build::<M>(app.store.as_ref(), head, &mut |_, _| {}).expect("rebuild");
    let incremental = live.snapshot();
    assert_eq!(incremental.position, head, "{} lags", M::NAME);
    assert!(
        built == incremental,
        "{}: rebuilt model differs from the incremental one",
        M::NAME
    );
    // A checkpoint stores some indexes only implicitly: what it loads must still be equal.
    let views = tempfile::tempdir().unwrap();
    projections::store_checkpoint::<M>(views.path(), &built, app.store.as_ref()).unwrap();
    let loaded = projections::load_checkpoint::<M>(
        &views.path().join(projections::runtime::VIEWS_DIR),
        app.store.as_ref(),
    )
    .expect("the checkpoint just stored loads");
    assert!(
        loaded == built,
        "{}: the model loaded from its checkpoint differs",
        M::NAME
    );
}

async fn run(steps: Vec<Step>) {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(AppConfig {
        data_dir: dir.path().into(),
        tz: chrono_tz::Asia::Shanghai,
        simulated_start: Some(Timestamp::parse_rfc3339("2026-11-22T09:00:00+08:00").unwrap()),
        metrics: api::app::metrics_handle(),
    })
    .unwrap();
    let org = app.ids.new_id(IdKind::Org);
    let system = meta(Actor::System);
    app.runner
        .execute::<Org>(
            &system,
            &org_stream(&org),
            &OrgCommand::Create {
                org_id: org.clone(),
                name: "S".into(),
            },
        )
        .await
        .unwrap();
    let seller = Actor::Principal {
        id: "prn_seller".into(),
        role: Role::IsvAdmin,
        org_id: Some(org.clone()),
    };
    let platform = Actor::Principal {
        id: "prn_platform".into(),
        role: Role::Platform,
        org_id: None,
    };
    let pid = app.ids.new_id(IdKind::Product);
    let ps = product_stream(&pid);
    let spec = |id: &str, cents| NewSpec {
        id: id.into(),
        name: id.into(),
        duration: 1,
        unit: "month".into(),
        price_cents: cents,
        trial: false,
    };
    let create = ProductCommand::Create {
        product_id: pid.clone(),
        seller_org_id: org.clone(),
        code: "P".into(),
        name: "P".into(),
        category: "c".into(),
        delivery: "saas".into(),
        delivery_days: 1,
        warranty_days: 0,
        flow_template_id: None,
        specs: vec![spec("a", 1_000), spec("b", 2_500)],
    };
    for c in [create, ProductCommand::Submit, ProductCommand::Approve] {
        app.runner
            .execute::<Product>(&meta(platform.clone()), &ps, &c)
            .await
            .unwrap();
    }
    let mut orders: Vec<String> = Vec::new();
    let customer = |i: u8| Actor::Principal {
        id: format!("cus_{i}"),
        role: Role::Customer,
        org_id: None,
    };
    let sim = app.simulated.clone().unwrap();
    for s in steps {
        let pick = |i: u8| (!orders.is_empty()).then(|| orders[i as usize % orders.len()].clone());
        // Refusals are part of the game: only the model equality matters.
        match s {
            Step::Place {
                customer: c,
                spec,
                quantity,
            } => {
                let id = app.ids.new_id(IdKind::Order);
                let input = domain::order::PlaceOrder {
                    order_id: id.clone(),
                    customer_id: format!("cus_{c}"),
                    product_id: pid.clone(),
                    spec_id: if spec == 0 { "a".into() } else { "b".into() },
                    quantity: u32::from(quantity),
                    order_type: "new".into(),
                    instance_id: None,
                    coupon_id: None,
                    client: None,
                    channel_kind: None,
                    channel_ref: None,
                    remark: None,
                };
                if app
                    .runner
                    .decide::<Order>(&meta(customer(c)), &input)
                    .await
                    .is_ok()
                {
                    orders.push(id);
                }
            }
            Step::ChangePrice { order, cents } => {
                if let Some(o) = pick(order) {
                    let _ = app
                        .runner
                        .execute::<Order>(
                            &meta(seller.clone()),
                            &order_stream(&o),
                            &OrderCommand::ChangePrice {
                                new_price_cents: i64::from(cents),
                                reason: "r".into(),
                            },
                        )
                        .await;
                }
            }
            Step::Pay { order, voucher } => {
                if let Some(o) = pick(order) {
                    let payable = app
                        .runner
                        .load::<Order>(&order_stream(&o), u64::MAX)
                        .unwrap()
                        .state
                        .payable
                        .0;
                    let v = i64::from(voucher).min(payable);
                    let pay = domain::order::PayOrder {
                        order_id: o.clone(),
                        amount_cents: payable,
                        voucher_cents: v,
                    };
                    let _ = app.runner.decide::<Order>(&meta(customer(0)), &pay).await;
                }
            }
            Step::Cancel { order } => {
                if let Some(o) = pick(order) {
                    let _ = app
                        .runner
                        .execute::<Order>(
                            &meta(customer(0)),
                            &order_stream(&o),
                            &OrderCommand::Cancel,
                        )
                        .await;
                }
            }
            Step::Review { order, quality } => {
                if let Some(o) = pick(order) {
                    let cmd = OrderCommand::Review {
                        review_id: app.ids.new_id(IdKind::Review),
                        quality,
                        attitude: 5,
                        speed: 4,
                        comment: "c".into(),
                    };
                    let _ = app
                        .runner
                        .execute::<Order>(&meta(customer(0)), &order_stream(&o), &cmd)
                        .await;
                }
            }
            Step::RequestRefund { order, part } => {
                if let Some(o) = pick(order) {
                    let cmd = OrderCommand::RequestRefund {
                        refund_id: app.ids.new_id(IdKind::Refund),
                        amount_cents: part.then_some(100),
                        reason: "r".into(),
                    };
                    let _ = app
                        .runner
                        .execute::<Order>(&meta(customer(0)), &order_stream(&o), &cmd)
                        .await;
                }
            }
            Step::Decide { order, approve } => {
                if let Some(o) = pick(order) {
                    let state = app
                        .runner
                        .load::<Order>(&order_stream(&o), u64::MAX)
                        .unwrap()
                        .state;
                    if let Some(r) = state.open_refund() {
                        let cmd = if approve {
                            OrderCommand::ApproveRefund {
                                refund_id: r.id.clone(),
                                approver: Approver::Seller,
                            }
                        } else {
                            OrderCommand::RejectRefund {
                                refund_id: r.id.clone(),
                                approver: Approver::Seller,
                                reason: "no".into(),
                            }
                        };
                        let decide = domain::order::DecideRefund {
                            order_id: o.clone(),
                            command: cmd,
                        };
                        let _ = app
                            .runner
                            .decide::<Order>(&meta(seller.clone()), &decide)
                            .await;
                    }
                }
            }
            Step::SpecPrice { cents } => {
                let _ = app
                    .runner
                    .execute::<Product>(
                        &meta(seller.clone()),
                        &ps,
                        &ProductCommand::ChangeSpecPrice {
                            spec_id: "a".into(),
                            price_cents: i64::from(cents),
                            reason: "r".into(),
                        },
                    )
                    .await;
            }
            Step::Advance { hours } => {
                let now = sim.advance(u64::from(hours) * 3600);
                api::scheduler::fire_due(&app, now).await.unwrap();
            }
        }
    }
    app.wait_all(app.store.head()).await.unwrap();
    let (listed, _) = app.orders.read(|o| o.by_id.len());
    assert_eq!(listed, orders.len(), "every placed order is in the model");
    assert_rebuild_equals::<Directory>(&app, &app.directory);
    assert_rebuild_equals::<Timers>(&app, &app.timers);
    assert_rebuild_equals::<Products>(&app, &app.products);
    assert_rebuild_equals::<Orders>(&app, &app.orders);
    assert_rebuild_equals::<Instances>(&app, &app.instances);
    // These histories hold no manual product: the model must fold every other record.
    assert_rebuild_equals::<Deliveries>(&app, &app.deliveries);
    assert_rebuild_equals::<Trade>(&app, &app.trade);
    // Every deadline still pending is in the future: none was missed by the scheduler.
    let now = app.clock.now();
    let (overdue, _) = app.timers.read(|t| t.due(now, 10).len());
    assert_eq!(overdue, 0);
    let _ = Arc::strong_count(&app.0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, .. ProptestConfig::default() })]

    #[test]
    fn rebuilt_read_models_equal_the_incremental_ones(steps in proptest::collection::vec(step(), 1..60)) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(run(steps));
    }
}
