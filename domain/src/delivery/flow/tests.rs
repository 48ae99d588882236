//! Given / when / then for the project's cross-stream decisions: start, assignment by rule,
//! the queue and its recheck, claims against capacity, and the capacity a project gives back.

use super::*;
use crate::decider::{Actor, Role};
use crate::decision::testing::{decoded, DecisionTest};
use crate::delivery::capacity::{ProviderLoadEvent, ProviderWorkTaken};
use crate::delivery::project::{DeliveryQueued, NodeEntered, ProviderAssigned};
use crate::delivery::queue::DispatchQueueEvent;
use crate::delivery::staff::{
    OrgStaffEvent, StaffCreated, StaffEvent, StaffJoined, StaffWorkTaken,
};
use crate::money::Cents;
use crate::order::{Buyer, OrderPaid, OrderState, PlaceOrder};
use crate::product::{
    DurationUnit, ProductCreated, ProductEvent, ProductStatus, ProductStatusChanged, ProviderLink,
    ProvidersSet, Spec,
};
use crate::time::Timestamp;

const ORDER: &str = "ord_1";
const DELIVERY: &str = "dlv_1";

fn at(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

fn sys() -> Context {
    Context::new(
        at("2026-12-01T10:00:00+08:00"),
        Actor::System,
        chrono_tz::Asia::Shanghai,
    )
}

fn created(template: &str, warranty_days: u32) -> ProductCreated {
    ProductCreated {
        product_id: "prd_1".into(),
        seller_org_id: "org_s".into(),
        code: "IMPL".into(),
        name: "Implementation".into(),
        category: "services".into(),
        delivery: DeliveryKind::Manual,
        delivery_days: 10,
        warranty_days,
        flow_template_id: Some(template.into()),
        specs: vec![Spec {
            id: "std".into(),
            name: "standard".into(),
            duration: 1,
            unit: DurationUnit::Once,
            price: Cents(10_000),
            trial: false,
            hidden: false,
        }],
    }
}

fn product_events(template: &str, providers: Vec<ProviderLink>) -> Vec<ProductEvent> {
    let mut events = vec![
        ProductEvent::ProductCreated(created(template, 30)),
        ProductEvent::ProductStatusChanged(ProductStatusChanged {
            from: ProductStatus::Draft,
            to: ProductStatus::Listed,
            reason: None,
        }),
    ];
    if !providers.is_empty() {
        events.push(ProductEvent::ProvidersSet(ProvidersSet { providers }));
    }
    events
}

fn paid_order(template: &str) -> Vec<OrderEvent> {
    let product = product_events(template, vec![])
        .iter()
        .fold(ProductState::default(), Product::evolve);
    let customer = Context::new(
        at("2026-12-01T09:00:00+08:00"),
        Actor::Principal {
            id: "cus_1".into(),
            role: Role::Customer,
            org_id: None,
        },
        chrono_tz::Asia::Shanghai,
    );
    let mut events = crate::order::place(
        &OrderState::default(),
        &PlaceOrder {
            order_id: ORDER.into(),
            customer_id: "cus_1".into(),
            product_id: "prd_1".into(),
            spec_id: "std".into(),
            quantity: 1,
            order_type: "new".into(),
            instance_id: None,
            coupon_id: None,
            client: None,
            channel_kind: None,
            channel_ref: None,
            remark: None,
        },
        &product,
        None,
        &Buyer::CUSTOMER_UNCONDITIONED,
        None,
        &customer,
    )
    .unwrap();
    events.push(OrderEvent::OrderPaid(OrderPaid {
        amount: Cents(10_000),
        voucher: Cents(0),
        cash: Cents(10_000),
        at: at("2026-12-01T09:30:00+08:00"),
        completed: false,
    }));
    events
}

fn delivery() -> String {
    delivery_stream(DELIVERY)
}

/// The world of a started `standard_manual` project of order 1 (no provider list: the
/// seller delivers), with its history so far.
fn started() -> (DecisionTest, Vec<DeliveryEvent>) {
    let order = paid_order("tpl_standard_manual");
    let world = DecisionTest::new()
        .given::<Order>(&order_stream(ORDER), &order)
        .given::<Product>(
            &product_stream("prd_1"),
            &product_events("tpl_standard_manual", vec![]),
        );
    let outcome = world
        .when(
            &StartDelivery {
                order_id: ORDER.into(),
            },
            &sys(),
        )
        .unwrap();
    let events = decoded::<DeliveryEvent>(&outcome, &delivery());
    // The DecisionTest is consumed by `when`; build it again for the caller.
    let world = DecisionTest::new()
        .given::<Order>(&order_stream(ORDER), &order)
        .given::<Product>(
            &product_stream("prd_1"),
            &product_events("tpl_standard_manual", vec![]),
        );
    (world, events)
}

fn staff(id: &str, department: &str, max_active: u32) -> Vec<StaffEvent> {
    vec![StaffEvent::StaffCreated(StaffCreated {
        staff_id: id.into(),
        org_id: "org_s".into(),
        principal_id: format!("prn_{id}"),
        name: id.into(),
        roles: vec!["delivery_specialist".into()],
        department: department.into(),
        tags: vec![],
        max_active,
    })]
}

fn holding(mut events: Vec<StaffEvent>, deliveries: &[&str]) -> Vec<StaffEvent> {
    events.extend(deliveries.iter().map(|d| {
        StaffEvent::StaffWorkTaken(StaffWorkTaken {
            delivery_id: (*d).into(),
        })
    }));
    events
}

fn org_index(ids: &[&str]) -> Vec<OrgStaffEvent> {
    ids.iter()
        .map(|id| {
            OrgStaffEvent::StaffJoined(StaffJoined {
                staff_id: (*id).into(),
            })
        })
        .collect()
}

/// Runs `step` over the given world and returns the outcome.
fn run(world: DecisionTest, step: Step) -> Result<Outcome, DomainError> {
    world.when(&act(DELIVERY, step), &sys())
}

/// The project's history after the provider was assigned and the requirement submitted:
/// the flow stands at `assign_order`.
fn at_assign_order() -> Vec<DeliveryEvent> {
    let (world, mut events) = started();
    let world = world.given::<Delivery>(&delivery(), &events);
    let outcome = run(world, Step::Assign).unwrap();
    events.extend(decoded::<DeliveryEvent>(&outcome, &delivery()));
    let state = Delivery::fold(&events);
    let submit = DeliveryCommand::SubmitRequirement {
        node_id: "submit_requirement".into(),
        by: crate::delivery::project::Party::Customer("cus_1".into()),
        form: crate::delivery::project::RequirementForm {
            contact_name: "Wang".into(),
            phone: "13800000000".into(),
            email: "wang@example.com".into(),
            address: "Shanghai".into(),
            description: "set it up".into(),
            file_ids: vec![],
        },
    };
    events.extend(Delivery::decide(&state, &submit, &sys()).unwrap());
    events
}

#[test]
fn a_paid_manual_order_starts_its_project_at_assign_provider_once() {
    let (world, events) = started();
    let DeliveryEvent::DeliveryStarted(s) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(s.template_id, "tpl_standard_manual");
    assert_eq!(s.flow.len(), 6);
    assert!(
        matches!(&events[1], DeliveryEvent::NodeEntered(NodeEntered { node_id, .. }) if node_id == "assign_provider")
    );
    let again = world
        .given::<Delivery>(&delivery(), &events)
        .when(
            &StartDelivery {
                order_id: ORDER.into(),
            },
            &sys(),
        )
        .unwrap();
    assert!(again.is_empty(), "a second run starts nothing");
}

#[test]
fn an_unpaid_order_starts_nothing() {
    let mut order = paid_order("tpl_standard_manual");
    order.pop();
    let outcome = DecisionTest::new()
        .given::<Order>(&order_stream(ORDER), &order)
        .given::<Product>(
            &product_stream("prd_1"),
            &product_events("tpl_standard_manual", vec![]),
        )
        .when(
            &StartDelivery {
                order_id: ORDER.into(),
            },
            &sys(),
        )
        .unwrap();
    assert!(outcome.is_empty());
}

#[test]
fn the_warranty_node_of_double_check_times_out_after_the_products_warranty_days() {
    let order = paid_order("tpl_double_check");
    let outcome = DecisionTest::new()
        .given::<Order>(&order_stream(ORDER), &order)
        .given::<Product>(
            &product_stream("prd_1"),
            &product_events("tpl_double_check", vec![]),
        )
        .when(
            &StartDelivery {
                order_id: ORDER.into(),
            },
            &sys(),
        )
        .unwrap();
    let events = decoded::<DeliveryEvent>(&outcome, &delivery());
    let DeliveryEvent::DeliveryStarted(s) = &events[0] else {
        panic!("{events:?}")
    };
    let warranty: Vec<_> = s
        .flow
        .iter()
        .filter_map(|f| {
            f.node
                .timeout
                .filter(|_| f.node.node_type == NodeType::CompleteProject)
        })
        .collect();
    assert_eq!(
        warranty,
        [NodeTimeout {
            tenths: 300,
            unit: TimeoutUnit::CalendarDays,
            action: TimeoutAction::Advance,
        }]
    );
    assert!(s.flow.iter().all(|f| !f.node.timeout_from_warranty));
}

#[test]
fn without_a_provider_list_the_seller_delivers_and_holds_an_uncapped_slot() {
    let (world, events) = started();
    let outcome = run(world.given::<Delivery>(&delivery(), &events), Step::Assign).unwrap();
    let project = decoded::<DeliveryEvent>(&outcome, &delivery());
    assert!(
        matches!(&project[0], DeliveryEvent::ProviderAssigned(ProviderAssigned { org_id, how: ProviderHow::SellerDefault, .. }) if org_id == "org_s")
    );
    assert_eq!(
        decoded::<ProviderLoadEvent>(&outcome, &provider_load_stream("prd_1")),
        [ProviderLoadEvent::ProviderWorkTaken(ProviderWorkTaken {
            org_id: "org_s".into(),
            delivery_id: DELIVERY.into(),
        })]
    );
}

#[test]
fn full_providers_queue_the_project_and_the_recheck_restarts_its_clock() {
    let order = paid_order("tpl_standard_manual");
    let links = vec![ProviderLink {
        org_id: "org_p".into(),
        weight: 10,
        max_active: 1,
    }];
    let (_, events) = started();
    let world = || {
        DecisionTest::new()
            .given::<Order>(&order_stream(ORDER), &order)
            .given::<Product>(
                &product_stream("prd_1"),
                &product_events("tpl_standard_manual", links.clone()),
            )
            .given::<ProviderLoad>(
                &provider_load_stream("prd_1"),
                &[ProviderLoadEvent::ProviderWorkTaken(ProviderWorkTaken {
                    org_id: "org_p".into(),
                    delivery_id: "dlv_other".into(),
                })],
            )
    };
    let outcome = run(
        world().given::<Delivery>(&delivery(), &events),
        Step::Assign,
    )
    .unwrap();
    let queued = decoded::<DeliveryEvent>(&outcome, &delivery());
    assert!(matches!(
        &queued[..],
        [DeliveryEvent::DeliveryQueued(DeliveryQueued {
            reason: QueueReason::ProviderCapacityFull,
            ..
        })]
    ));
    let mut history = events.clone();
    history.extend(queued);
    // Assign again (another node entry, a capacity event) while still full: nothing new.
    let again = run(
        world().given::<Delivery>(&delivery(), &history),
        Step::Assign,
    )
    .unwrap();
    assert!(again.is_empty());
    // The 10-minute recheck while still full: a QueueRechecked restarts the clock.
    let recheck = run(
        world().given::<Delivery>(&delivery(), &history),
        Step::Recheck,
    )
    .unwrap();
    let rechecked = decoded::<DeliveryEvent>(&recheck, &delivery());
    assert!(matches!(&rechecked[..], [DeliveryEvent::QueueRechecked(_)]));
    let effects = crate::delivery::project::deadline_effects(&rechecked[0], DELIVERY);
    assert!(
        matches!(&effects[..], [crate::deadline::DeadlineEffect::Start(d)] if d.due_at == sys().now.plus_micros(10 * 60 * 1_000_000))
    );
    // Once the other project gave its slot back, the recheck assigns.
    let freed = DecisionTest::new()
        .given::<Order>(&order_stream(ORDER), &order)
        .given::<Product>(
            &product_stream("prd_1"),
            &product_events("tpl_standard_manual", links.clone()),
        )
        .given::<Delivery>(&delivery(), &history);
    let assigned = run(freed, Step::Recheck).unwrap();
    let project = decoded::<DeliveryEvent>(&assigned, &delivery());
    assert!(
        matches!(&project[0], DeliveryEvent::ProviderAssigned(ProviderAssigned { org_id, how: ProviderHow::Weighted, .. }) if org_id == "org_p")
    );
}

#[test]
fn assign_order_picks_the_least_loaded_staff_and_takes_their_slot() {
    let events = at_assign_order();
    let world = DecisionTest::new()
        .given::<Product>(
            &product_stream("prd_1"),
            &product_events("tpl_standard_manual", vec![]),
        )
        .given::<Delivery>(&delivery(), &events)
        .given::<OrgStaff>(&org_staff_stream("org_s"), &org_index(&["stf_a", "stf_b"]))
        .given::<Staff>(
            &staff_stream("stf_a"),
            &holding(staff("stf_a", "d1", 2), &["dlv_x"]),
        )
        .given::<Staff>(
            &staff_stream("stf_b"),
            &holding(staff("stf_b", "d1", 4), &["dlv_y"]),
        );
    let outcome = run(world, Step::Assign).unwrap();
    // a: 1/2, b: 1/4 — b has the smaller ratio.
    assert_eq!(
        decoded::<StaffEvent>(&outcome, &staff_stream("stf_b")),
        [StaffEvent::StaffWorkTaken(StaffWorkTaken {
            delivery_id: DELIVERY.into(),
        })]
    );
    assert!(outcome.events_of(&staff_stream("stf_a")).is_empty());
    let state = outcome.primary_state::<Delivery>().unwrap();
    assert_eq!(state.operators["delivery_specialist"].staff_id, "stf_b");
}

#[test]
fn staff_at_their_maximum_are_never_assigned_more_the_project_queues() {
    let events = at_assign_order();
    let world = DecisionTest::new()
        .given::<Product>(
            &product_stream("prd_1"),
            &product_events("tpl_standard_manual", vec![]),
        )
        .given::<Delivery>(&delivery(), &events)
        .given::<OrgStaff>(&org_staff_stream("org_s"), &org_index(&["stf_a"]))
        .given::<Staff>(
            &staff_stream("stf_a"),
            &holding(staff("stf_a", "d1", 1), &["dlv_x"]),
        );
    let outcome = run(world, Step::Assign).unwrap();
    let project = decoded::<DeliveryEvent>(&outcome, &delivery());
    assert!(matches!(
        &project[..],
        [DeliveryEvent::DeliveryQueued(DeliveryQueued {
            reason: QueueReason::StaffCapacityFull,
            ..
        })]
    ));
    assert!(outcome.events_of(&staff_stream("stf_a")).is_empty());
}

#[test]
fn nobody_with_the_role_queues_the_project_with_that_reason() {
    let events = at_assign_order();
    let world = DecisionTest::new()
        .given::<Product>(
            &product_stream("prd_1"),
            &product_events("tpl_standard_manual", vec![]),
        )
        .given::<Delivery>(&delivery(), &events);
    let outcome = run(world, Step::Assign).unwrap();
    let project = decoded::<DeliveryEvent>(&outcome, &delivery());
    assert!(matches!(
        &project[..],
        [DeliveryEvent::DeliveryQueued(DeliveryQueued {
            reason: QueueReason::NoStaffWithRole,
            ..
        })]
    ));
}

#[test]
fn a_dispatch_to_a_full_staff_member_is_refused_and_another_orgs_staff_is_not_found() {
    let events = at_assign_order();
    let world = || {
        DecisionTest::new()
            .given::<Product>(
                &product_stream("prd_1"),
                &product_events("tpl_standard_manual", vec![]),
            )
            .given::<Delivery>(&delivery(), &events)
            .given::<Staff>(
                &staff_stream("stf_a"),
                &holding(staff("stf_a", "d1", 1), &["dlv_x"]),
            )
    };
    let dispatch = |id: &str| Step::Dispatch {
        provider_org_id: None,
        staff_id: Some(id.into()),
    };
    let err = run(world(), dispatch("stf_a")).unwrap_err();
    assert_eq!(err.code, "staff_unavailable");
    let mut other = staff("stf_o", "d1", 5);
    if let StaffEvent::StaffCreated(c) = &mut other[0] {
        c.org_id = "org_other".into();
    }
    let err = run(
        world().given::<Staff>(&staff_stream("stf_o"), &other),
        dispatch("stf_o"),
    )
    .unwrap_err();
    assert_eq!(err.code, "not_found");
}

#[test]
fn closing_the_project_gives_back_the_staff_and_provider_slots() {
    let mut events = at_assign_order();
    let world = || {
        DecisionTest::new()
            .given::<Product>(
                &product_stream("prd_1"),
                &product_events("tpl_standard_manual", vec![]),
            )
            .given::<OrgStaff>(&org_staff_stream("org_s"), &org_index(&["stf_a"]))
            .given::<ProviderLoad>(
                &provider_load_stream("prd_1"),
                &[ProviderLoadEvent::ProviderWorkTaken(ProviderWorkTaken {
                    org_id: "org_s".into(),
                    delivery_id: DELIVERY.into(),
                })],
            )
    };
    let assigned = run(
        world()
            .given::<Delivery>(&delivery(), &events)
            .given::<Staff>(&staff_stream("stf_a"), &staff("stf_a", "d1", 3)),
        Step::Assign,
    )
    .unwrap();
    events.extend(decoded::<DeliveryEvent>(&assigned, &delivery()));
    let close = Step::Command(DeliveryCommand::Close {
        remark: "customer left".into(),
    });
    let outcome = run(
        world()
            .given::<Delivery>(&delivery(), &events)
            .given::<Staff>(
                &staff_stream("stf_a"),
                &holding(staff("stf_a", "d1", 3), &[DELIVERY]),
            ),
        close,
    )
    .unwrap();
    assert_eq!(
        decoded::<StaffEvent>(&outcome, &staff_stream("stf_a")),
        [StaffEvent::StaffWorkReleased(
            crate::delivery::staff::StaffWorkReleased {
                delivery_id: DELIVERY.into(),
            }
        )]
    );
    assert_eq!(
        decoded::<ProviderLoadEvent>(&outcome, &provider_load_stream("prd_1")),
        [ProviderLoadEvent::ProviderWorkReleased(
            crate::delivery::capacity::ProviderWorkReleased {
                org_id: "org_s".into(),
                delivery_id: DELIVERY.into(),
            }
        )]
    );
}

#[test]
fn a_refund_of_an_order_without_a_project_cancels_nothing() {
    let outcome = run(
        DecisionTest::new(),
        Step::Command(DeliveryCommand::CancelForRefund {
            refund_id: "rfd_1".into(),
        }),
    )
    .unwrap();
    assert!(outcome.is_empty());
}

#[test]
fn delivery_and_order_ids_map_both_ways() {
    assert_eq!(order_id_of(&delivery_id_for("ord_01abc")), "ord_01abc");
}

#[test]
fn a_queued_project_enters_the_index_and_capacity_that_frees_up_drains_it_at_once() {
    let mut events = at_assign_order();
    let full = holding(staff("stf_a", "d1", 1), &["dlv_x"]);
    let world =
        |staff_events: &[StaffEvent], queue: &[DispatchQueueEvent], history: &[DeliveryEvent]| {
            DecisionTest::new()
                .given::<Product>(
                    &product_stream("prd_1"),
                    &product_events("tpl_standard_manual", vec![]),
                )
                .given::<Delivery>(&delivery(), history)
                .given::<OrgStaff>(&org_staff_stream("org_s"), &org_index(&["stf_a"]))
                .given::<Staff>(&staff_stream("stf_a"), staff_events)
                .given::<DispatchQueue>(&dispatch_queue_stream("org_s"), queue)
        };
    let queued = run(world(&full, &[], &events), Step::Assign).unwrap();
    let index = decoded::<DispatchQueueEvent>(&queued, &dispatch_queue_stream("org_s"));
    assert_eq!(
        index,
        [DispatchQueueEvent::DeliveryEnqueued(
            crate::delivery::queue::DeliveryEnqueued {
                delivery_id: DELIVERY.into(),
            }
        )]
    );
    events.extend(decoded::<DeliveryEvent>(&queued, &delivery()));

    // Still full: a drain appends nothing.
    let drain = Drain {
        of: DrainOf::Staff {
            staff_id: "stf_a".into(),
        },
    };
    let nothing = world(&full, &index, &events).when(&drain, &sys()).unwrap();
    assert!(nothing.is_empty());

    // The member's maximum is raised: the drain assigns the project and dequeues it.
    let mut raised = full.clone();
    raised.push(StaffEvent::StaffUpdated(
        crate::delivery::staff::StaffUpdated {
            max_active: 2,
            tags: vec![],
            accepting: true,
            roles: vec!["delivery_specialist".into()],
            department: "d1".into(),
        },
    ));
    let drained = world(&raised, &index, &events)
        .when(&drain, &sys())
        .unwrap();
    assert_eq!(
        decoded::<StaffEvent>(&drained, &staff_stream("stf_a")),
        [StaffEvent::StaffWorkTaken(StaffWorkTaken {
            delivery_id: DELIVERY.into(),
        })]
    );
    assert!(matches!(
        &decoded::<DispatchQueueEvent>(&drained, &dispatch_queue_stream("org_s"))[..],
        [DispatchQueueEvent::DeliveryDequeued(_)]
    ));
    let project = decoded::<DeliveryEvent>(&drained, &delivery());
    assert!(matches!(&project[0], DeliveryEvent::OperatorAssigned(o) if o.staff_id == "stf_a"));
}

// ---------------------------------------------------------------------------------------
// Capacity equals a recount from the log, whatever happens (property test)

mod recount {
    use super::*;
    use crate::codec::EncodedEvent;
    use crate::decision::Decision;
    use crate::delivery::capacity::ProviderLoadState;
    use crate::delivery::project::{Party, RequirementForm};
    use crate::delivery::staff::{StaffState, StaffUpdated};
    use crate::history::StoredEvent;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const PROJECTS: usize = 3;
    const STAFF: [&str; 3] = ["stf_a", "stf_b", "stf_c"];

    /// An in-memory log: every stream's encoded events, loaded and decided through the
    /// registry exactly as the command runner does.
    #[derive(Default)]
    struct World {
        streams: BTreeMap<String, Vec<EncodedEvent>>,
    }

    impl World {
        fn put<E: crate::codec::EventCodec>(&mut self, stream: &str, events: &[E]) {
            let encoded = events.iter().map(|e| e.encode().unwrap());
            self.streams
                .entry(stream.to_owned())
                .or_default()
                .extend(encoded);
        }

        fn load(&self, stream: &str) -> (u64, crate::decision::AnyState) {
            let aggregate = crate::registry::aggregate_of(stream).expect("registered");
            let events = self.streams.get(stream).map_or(&[][..], Vec::as_slice);
            let state = events.iter().fold((aggregate.initial)(), |s, e| {
                let stored = StoredEvent {
                    event_type: e.type_name,
                    schema_version: e.schema_version,
                    payload: &e.payload,
                };
                (aggregate.apply)(s, &stored).unwrap()
            });
            (events.len() as u64, state)
        }

        /// Loads what `decision` names, decides, and appends on success.
        fn run(&mut self, decision: &dyn Decision, ctx: &Context) -> bool {
            let mut states = States::default();
            let primary = decision.primary();
            let (v, s) = self.load(&primary);
            states.insert(primary, v, s);
            for _ in 0..crate::decision::DECISION_STAGES_MAX {
                let new: Vec<String> = decision
                    .streams(&states)
                    .into_iter()
                    .filter(|s| !states.contains(s))
                    .collect();
                if new.is_empty() {
                    break;
                }
                for stream in new {
                    let (v, s) = self.load(&stream);
                    states.insert(stream, v, s);
                }
            }
            match decision.decide(&states, ctx) {
                Ok(outcome) => {
                    for s in outcome.appends {
                        self.streams
                            .entry(s.stream_id)
                            .or_default()
                            .extend(s.events);
                    }
                    true
                }
                Err(_) => false,
            }
        }

        fn state<D: Decider>(&self, stream: &str) -> D::State
        where
            D::State: Clone,
        {
            let (_, s) = self.load(stream);
            s.downcast_ref::<D::State>().expect("its aggregate").clone()
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Submit(usize),
        /// The current node's side completes it (operator or customer).
        Complete(usize),
        Reject(usize),
        Assign(usize),
        Recheck(usize),
        Pause(usize),
        Resume(usize),
        Close(usize),
        Refund(usize),
        ChangeOperator(usize, usize),
        Dispatch(usize, usize),
        SetMax(usize, u32),
        Drain(usize),
        TimeOut(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        let p = 0..PROJECTS;
        let s = 0..STAFF.len();
        prop_oneof![
            p.clone().prop_map(Op::Submit),
            p.clone().prop_map(Op::Complete),
            p.clone().prop_map(Op::Complete),
            p.clone().prop_map(Op::Reject),
            p.clone().prop_map(Op::Assign),
            p.clone().prop_map(Op::Recheck),
            p.clone().prop_map(Op::Pause),
            p.clone().prop_map(Op::Resume),
            p.clone().prop_map(Op::Close),
            p.clone().prop_map(Op::Refund),
            (p.clone(), s.clone()).prop_map(|(p, s)| Op::ChangeOperator(p, s)),
            (p.clone(), s.clone()).prop_map(|(p, s)| Op::Dispatch(p, s)),
            (s.clone(), 0u32..3).prop_map(|(s, m)| Op::SetMax(s, m)),
            s.prop_map(Op::Drain),
            p.prop_map(Op::TimeOut),
        ]
    }

    fn order_id(i: usize) -> String {
        format!("ord_{i}")
    }

    fn delivery_id(i: usize) -> String {
        delivery_id_for(&order_id(i))
    }

    fn setup(world: &mut World, maxima: &[u32]) {
        world.put(
            &product_stream("prd_1"),
            &product_events("tpl_standard_manual", vec![]),
        );
        for (i, staff_id) in STAFF.iter().enumerate() {
            world.put(&staff_stream(staff_id), &staff(staff_id, "d1", maxima[i]));
        }
        world.put(&org_staff_stream("org_s"), &org_index(&STAFF));
        for i in 0..PROJECTS {
            let mut order = paid_order("tpl_standard_manual");
            if let OrderEvent::OrderPlaced(p) = &mut order[0] {
                p.order_id = order_id(i);
            }
            world.put(&order_stream(&order_id(i)), &order);
            assert!(world.run(
                &StartDelivery {
                    order_id: order_id(i),
                },
                &sys()
            ));
            assert!(world.run(&act(&delivery_id(i), Step::Assign), &sys()));
        }
    }

    fn step(world: &mut World, op: &Op, ctx: &Context) {
        let d = |i: usize| delivery_id(i);
        let project = |world: &World, i: usize| world.state::<Delivery>(&delivery_stream(&d(i)));
        let decision: Box<dyn Decision> = match op {
            Op::Submit(i) => Box::new(act(
                &d(*i),
                Step::Command(DeliveryCommand::SubmitRequirement {
                    node_id: "submit_requirement".into(),
                    by: Party::Customer("cus_1".into()),
                    form: RequirementForm {
                        contact_name: "Wang".into(),
                        phone: "13800000000".into(),
                        email: "wang@example.com".into(),
                        address: "Shanghai".into(),
                        description: "set it up".into(),
                        file_ids: vec![],
                    },
                }),
            )),
            Op::Complete(i) | Op::Reject(i) => {
                let state = project(world, *i);
                let Some(node) = state.current_node() else {
                    return;
                };
                let by = match node.node.acting_side() {
                    crate::delivery::node::Side::Customer => Party::Customer("cus_1".into()),
                    _ => match state.operator() {
                        Some(op) => Party::Staff(op.staff_id.clone()),
                        None => return,
                    },
                };
                let node_id = node.node.id.clone();
                let command = if matches!(op, Op::Complete(_)) {
                    DeliveryCommand::Complete {
                        node_id,
                        by,
                        note: None,
                        file_ids: vec![],
                        delivery_info: None,
                    }
                } else {
                    DeliveryCommand::Reject {
                        node_id,
                        by,
                        reason: "not yet".into(),
                    }
                };
                Box::new(act(&d(*i), Step::Command(command)))
            }
            Op::Assign(i) => Box::new(act(&d(*i), Step::Assign)),
            Op::Recheck(i) => Box::new(act(&d(*i), Step::Recheck)),
            Op::Pause(i) => Box::new(act(
                &d(*i),
                Step::Command(DeliveryCommand::Pause {
                    remark: "hold".into(),
                }),
            )),
            Op::Resume(i) => Box::new(act(
                &d(*i),
                Step::Command(DeliveryCommand::Resume {
                    remark: "go".into(),
                }),
            )),
            Op::Close(i) => Box::new(act(
                &d(*i),
                Step::Command(DeliveryCommand::Close {
                    remark: "closed".into(),
                }),
            )),
            Op::Refund(i) => Box::new(act(
                &d(*i),
                Step::Command(DeliveryCommand::CancelForRefund {
                    refund_id: format!("rfd_{i}"),
                }),
            )),
            Op::ChangeOperator(i, s) => Box::new(act(
                &d(*i),
                Step::ChangeOperator {
                    staff_id: STAFF[*s].into(),
                    remark: "swap".into(),
                },
            )),
            Op::Dispatch(i, s) => Box::new(act(
                &d(*i),
                Step::Dispatch {
                    provider_org_id: None,
                    staff_id: Some(STAFF[*s].into()),
                },
            )),
            Op::SetMax(s, max) => {
                let stream = staff_stream(STAFF[*s]);
                let state = world.state::<Staff>(&stream);
                world.put(
                    &stream,
                    &[StaffEvent::StaffUpdated(StaffUpdated {
                        max_active: *max,
                        tags: vec![],
                        accepting: true,
                        roles: state.roles.clone(),
                        department: state.department.clone(),
                    })],
                );
                return;
            }
            Op::Drain(s) => Box::new(Drain {
                of: DrainOf::Staff {
                    staff_id: STAFF[*s].into(),
                },
            }),
            Op::TimeOut(i) => {
                let state = project(world, *i);
                Box::new(act(
                    &d(*i),
                    Step::Command(DeliveryCommand::TimeOut {
                        deadline_id: crate::delivery::project::node_deadline_id(&d(*i), state.seq),
                    }),
                ))
            }
        };
        // A take beyond the maximum is refused by the staff stream: count the takes.
        let before: Vec<StaffState> = STAFF
            .iter()
            .map(|s| world.state::<Staff>(&staff_stream(s)))
            .collect();
        world.run(decision.as_ref(), ctx);
        for (i, s) in STAFF.iter().enumerate() {
            let after = world.state::<Staff>(&staff_stream(s));
            let taken = after.active.difference(&before[i].active).count();
            assert!(
                taken == 0 || before[i].active.len() < before[i].max_active as usize,
                "{s} took a project while holding its maximum ({op:?})"
            );
            assert!(taken <= 1, "{s} took {taken} projects in one act");
        }
    }

    fn recount_holds(world: &World) -> Result<(), TestCaseError> {
        let mut staff_expected: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        let mut provider_expected: BTreeSet<String> = BTreeSet::new();
        for i in 0..PROJECTS {
            let state = world.state::<Delivery>(&delivery_stream(&delivery_id(i)));
            if !matches!(
                state.status,
                DeliveryStatus::Executing | DeliveryStatus::Paused
            ) {
                continue;
            }
            for op in state.operators.values() {
                let key = STAFF.iter().find(|s| **s == op.staff_id).copied().unwrap();
                staff_expected
                    .entry(key)
                    .or_default()
                    .insert(delivery_id(i));
            }
            if state.provider_org_id.is_some() {
                provider_expected.insert(delivery_id(i));
            }
        }
        let none = BTreeSet::new();
        for s in STAFF {
            let held = world.state::<Staff>(&staff_stream(s)).active;
            prop_assert_eq!(
                &held,
                staff_expected.get(s).unwrap_or(&none),
                "{} holds what it operates",
                s
            );
        }
        let load: ProviderLoadState = world.state::<ProviderLoad>(&provider_load_stream("prd_1"));
        let held: BTreeSet<String> = load.held.values().flatten().cloned().collect();
        prop_assert_eq!(held, provider_expected);
        // The queue index is exactly the queued projects.
        let index = world
            .state::<DispatchQueue>(&dispatch_queue_stream("org_s"))
            .queued;
        for i in 0..PROJECTS {
            let state = world.state::<Delivery>(&delivery_stream(&delivery_id(i)));
            let waits = state.queued.is_some()
                && matches!(
                    state.status,
                    DeliveryStatus::Executing | DeliveryStatus::Paused
                );
            prop_assert_eq!(index.contains(&delivery_id(i)), waits, "{} in the index", i);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn every_staff_and_provider_count_equals_a_recount_of_the_projects(
            maxima in proptest::collection::vec(0u32..3, 3),
            ops in proptest::collection::vec(op(), 1..60),
        ) {
            let mut world = World::default();
            setup(&mut world, &maxima);
            let mut ctx = sys();
            recount_holds(&world)?;
            for op in &ops {
                step(&mut world, op, &ctx);
                recount_holds(&world)?;
                ctx.now = ctx.now.plus_micros(3_600 * 1_000_000);
            }
        }
    }
}
