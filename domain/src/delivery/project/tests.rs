//! Given / when / then for the delivery project, the working-day table, and a model-based
//! proptest of the flow against a small in-memory model.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::NaiveDate;
use proptest::prelude::*;

use super::*;
use crate::calendar::{TimeoutUnit, WorkCalendar, YearCalendar};
use crate::deadline::DeadlineEffect;
use crate::decider::testing::DeciderTest;
use crate::decider::{Actor, Role};
use crate::delivery::node::{AssignRule, Node, NodeTimeout, NodeType, Side, TimeoutAction};
use crate::error::DomainError;
use crate::time::Timestamp;

const DLV: &str = "dlv_1";
const HOUR_MICROS: i64 = 3_600_000_000;

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn t0() -> Timestamp {
    at("2026-11-23T09:00:00+08:00")
}

fn ctx(now: Timestamp) -> Context {
    Context::new(
        now,
        Actor::Principal {
            id: "prn_p".into(),
            role: Role::Platform,
            org_id: None,
        },
        chrono_tz::Asia::Shanghai,
    )
}

fn sys(now: Timestamp) -> Context {
    Context::system(now, chrono_tz::Asia::Shanghai)
}

fn node(id: &str, node_type: NodeType) -> Node {
    Node {
        id: id.into(),
        node_type,
        name: id.into(),
        side: None,
        role: None,
        rejectable: false,
        upload_required: false,
        assign_rule: None,
        labels: Vec::new(),
        timeout: None,
        timeout_from_warranty: false,
        children: Vec::new(),
        notifications: Vec::new(),
    }
}

fn provider(id: &str, node_type: NodeType, role: &str) -> Node {
    Node {
        side: Some(Side::Provider),
        role: Some(role.into()),
        ..node(id, node_type)
    }
}

fn customer_side(id: &str, node_type: NodeType) -> Node {
    Node {
        side: Some(Side::Customer),
        ..node(id, node_type)
    }
}

fn timeout(tenths: u32, unit: TimeoutUnit, action: TimeoutAction) -> Option<NodeTimeout> {
    Some(NodeTimeout {
        tenths,
        unit,
        action,
    })
}

fn flat(nodes: Vec<Node>) -> Vec<FlowNode> {
    crate::delivery::node::flatten(&nodes)
}

/// SPEC §8 `standard_manual`.
fn standard_manual() -> Vec<FlowNode> {
    flat(vec![
        node("assign_provider", NodeType::AssignProvider),
        node("submit_requirement", NodeType::SubmitRequirement),
        Node {
            assign_rule: Some(AssignRule::ProviderFirst),
            ..provider("assign_order", NodeType::AssignOrder, "delivery_specialist")
        },
        Node {
            timeout: timeout(
                150,
                TimeoutUnit::CalendarDays,
                TimeoutAction::CancelAndRefund,
            ),
            ..provider(
                "start_implementation",
                NodeType::Generic,
                "delivery_specialist",
            )
        },
        provider(
            "implementation_complete",
            NodeType::Generic,
            "delivery_specialist",
        ),
        Node {
            timeout: timeout(150, TimeoutUnit::CalendarDays, TimeoutAction::Advance),
            ..node("confirm_completion", NodeType::CompleteProject)
        },
    ])
}

/// A custom template: a container, a claim, an upload, a rejectable confirm with a
/// `none` timeout in working days, a rejectable end.
fn custom() -> Vec<FlowNode> {
    flat(vec![
        node("assign_provider", NodeType::AssignProvider),
        Node {
            children: vec![
                node("submit", NodeType::SubmitRequirement),
                provider("claim", NodeType::ClaimOrder, "designer"),
                Node {
                    upload_required: true,
                    ..provider("design", NodeType::Generic, "designer")
                },
                Node {
                    rejectable: true,
                    timeout: timeout(20, TimeoutUnit::WorkingDays, TimeoutAction::None),
                    ..customer_side("check", NodeType::Confirm)
                },
            ],
            ..node("box", NodeType::Container)
        },
        Node {
            assign_rule: Some(AssignRule::DepartmentFirst),
            ..provider("assign_dev", NodeType::AssignOrder, "dev")
        },
        provider("build", NodeType::Generic, "dev"),
        Node {
            rejectable: true,
            ..node("end", NodeType::CompleteProject)
        },
    ])
}

fn start_cmd(flow: Vec<FlowNode>) -> DeliveryCommand {
    DeliveryCommand::Start(StartDelivery {
        order_id: "ord_1".into(),
        product_id: "prd_1".into(),
        customer_id: "cus_1".into(),
        seller_org_id: "org_s".into(),
        template_id: "tpl_x".into(),
        flow,
    })
}

fn staff(id: &str, dept: &str) -> Operator {
    Operator {
        staff_id: id.into(),
        name: format!("name of {id}"),
        department: dept.into(),
    }
}

fn form() -> RequirementForm {
    RequirementForm {
        contact_name: "Zhang San".into(),
        phone: "+86 138 0000 0000".into(),
        email: "zs@example.com".into(),
        address: "1 Road, Hangzhou".into(),
        description: "a shop".into(),
        file_ids: Vec::new(),
    }
}

fn cus() -> Party {
    Party::Customer("cus_1".into())
}

/// A history built by running commands, as the runner would.
struct World {
    events: Vec<DeliveryEvent>,
}

impl World {
    fn started(flow: Vec<FlowNode>) -> World {
        let mut w = World { events: Vec::new() };
        w.run(start_cmd(flow), &sys(t0()));
        w
    }

    fn state(&self) -> DeliveryState {
        Delivery::fold(&self.events)
    }

    fn try_run(
        &mut self,
        cmd: DeliveryCommand,
        ctx: &Context,
    ) -> Result<Vec<DeliveryEvent>, DomainError> {
        let events = Delivery::decide(&self.state(), &cmd, ctx)?;
        self.events.extend(events.iter().cloned());
        Ok(events)
    }

    #[track_caller]
    fn run(&mut self, cmd: DeliveryCommand, ctx: &Context) -> Vec<DeliveryEvent> {
        self.try_run(cmd, ctx).unwrap()
    }

    fn provider(&mut self, now: Timestamp) {
        self.run(
            DeliveryCommand::AssignProvider {
                org_id: "org_p".into(),
                how: ProviderHow::Weighted,
                weight_pick: Some(WeightPick {
                    pick: 0,
                    total_weight: 1,
                }),
            },
            &sys(now),
        );
    }

    fn submit(&mut self, node_id: &str, now: Timestamp) {
        self.run(
            DeliveryCommand::SubmitRequirement {
                node_id: node_id.into(),
                by: cus(),
                form: form(),
            },
            &ctx(now),
        );
    }

    fn complete(&mut self, node_id: &str, by: Party, now: Timestamp) -> Vec<DeliveryEvent> {
        self.run(complete(node_id, by), &ctx(now))
    }

    /// The pending deadlines, folded from every event's effects.
    fn deadlines(&self) -> BTreeMap<String, Timestamp> {
        fold_deadlines(&self.events)
    }
}

fn fold_deadlines(events: &[DeliveryEvent]) -> BTreeMap<String, Timestamp> {
    let mut pending = BTreeMap::new();
    for e in events {
        for effect in deadline_effects(e, DLV) {
            match effect {
                DeadlineEffect::Start(d) => {
                    pending.insert(d.id, d.due_at);
                }
                DeadlineEffect::Stop { id } => {
                    pending.remove(&id);
                }
            }
        }
    }
    pending
}

fn complete(node_id: &str, by: Party) -> DeliveryCommand {
    DeliveryCommand::Complete {
        node_id: node_id.into(),
        by,
        note: None,
        file_ids: Vec::new(),
        delivery_info: None,
    }
}

fn entered_ev(
    node_id: &str,
    index: u32,
    seq: u32,
    now: Timestamp,
    due: Option<Timestamp>,
) -> DeliveryEvent {
    NodeEntered {
        node_id: node_id.into(),
        index,
        seq,
        at: now,
        due_at: due,
    }
    .into()
}

fn completed_ev(node_id: &str, seq: u32, by: Party) -> DeliveryEvent {
    NodeCompleted {
        node_id: node_id.into(),
        seq,
        by,
        note: None,
        file_ids: Vec::new(),
        delivery_info: None,
    }
    .into()
}

fn rule_of(e: &DomainError) -> Option<&str> {
    e.details
        .iter()
        .find(|(k, _)| *k == "rule")
        .map(|(_, v)| v.as_str())
}

fn detail<'a>(e: &'a DomainError, key: &str) -> Option<&'a str> {
    e.details
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.as_str())
}

/// standard_manual up to `start_implementation` (operator stf_a), at t0.
fn at_start_implementation() -> World {
    let mut w = World::started(standard_manual());
    w.provider(t0());
    w.submit("submit_requirement", t0());
    w.run(
        DeliveryCommand::AssignOperator {
            staff: staff("stf_a", "ops"),
            how: OperatorHow::RuleProviderFirst,
        },
        &sys(t0()),
    );
    w
}

// ---------------------------------------------------------------------------------------
// Start

#[test]
fn one_project_per_paid_order_line_with_ids_derived_from_the_order() {
    assert_eq!(delivery_id_for("ord_01abc"), "dlv_01abc");
    assert_eq!(delivery_stream("dlv_01abc"), "delivery-dlv_01abc");
    assert_eq!(
        crate::registry::stream_for("dlv_01abc"),
        "delivery-dlv_01abc"
    );
}

#[test]
fn starting_copies_the_flow_and_enters_assign_provider() {
    let s = DeciderTest::<Delivery>::given_no_events()
        .when(start_cmd(standard_manual()), &sys(t0()))
        .then_events(vec![
            DeliveryStarted {
                delivery_id: "dlv_1".into(),
                order_id: "ord_1".into(),
                product_id: "prd_1".into(),
                customer_id: "cus_1".into(),
                seller_org_id: "org_s".into(),
                template_id: "tpl_x".into(),
                flow: standard_manual(),
                at: t0(),
            }
            .into(),
            entered_ev("assign_provider", 0, 1, t0(), None),
        ]);
    assert_eq!(s.status, DeliveryStatus::Executing);
    assert_eq!(s.stage(), Some(Stage::PendingImplementation));
}

#[test]
fn starting_again_appends_nothing_so_the_payment_policy_may_run_twice() {
    let w = World::started(standard_manual());
    DeciderTest::<Delivery>::given(w.events)
        .when(start_cmd(custom()), &sys(t0()))
        .then_events(vec![]);
}

#[test]
fn a_flow_must_start_with_assign_provider() {
    let e = DeciderTest::<Delivery>::given_no_events()
        .when(start_cmd(custom()[1..].to_vec()), &sys(t0()))
        .then_error(|e| e.code == "template_invalid");
    assert_eq!(detail(&e, "node_id"), Some("submit"));
}

#[test]
fn commands_on_a_project_that_does_not_exist_are_not_found() {
    DeciderTest::<Delivery>::given_no_events()
        .when(DeliveryCommand::Pause { remark: "x".into() }, &ctx(t0()))
        .then_error(|e| e.code == "not_found");
}

// ---------------------------------------------------------------------------------------
// assign_provider and the queue

#[test]
fn assigning_the_provider_completes_assign_provider_and_enters_the_next_node() {
    let w = World::started(standard_manual());
    let s = DeciderTest::<Delivery>::given(w.events)
        .when(
            DeliveryCommand::AssignProvider {
                org_id: "org_p".into(),
                how: ProviderHow::Weighted,
                weight_pick: Some(WeightPick {
                    pick: 3,
                    total_weight: 4,
                }),
            },
            &sys(t0()),
        )
        .then_events(vec![
            ProviderAssigned {
                org_id: "org_p".into(),
                how: ProviderHow::Weighted,
                weight_pick: Some(WeightPick {
                    pick: 3,
                    total_weight: 4,
                }),
            }
            .into(),
            completed_ev("assign_provider", 1, Party::System),
            entered_ev("submit_requirement", 1, 2, t0(), None),
        ]);
    assert_eq!(s.provider_org_id.as_deref(), Some("org_p"));
}

#[test]
fn a_project_nobody_can_take_is_queued_once_per_reason_and_assignment_clears_it() {
    let mut w = World::started(standard_manual());
    let queue = |reason| DeliveryCommand::Queue { reason };
    assert_eq!(
        w.run(queue(QueueReason::NoProviderLinked), &sys(t0())),
        vec![DeliveryQueued {
            node_id: "assign_provider".into(),
            reason: QueueReason::NoProviderLinked,
            since: t0(),
        }
        .into()]
    );
    assert!(w
        .run(queue(QueueReason::NoProviderLinked), &sys(t0()))
        .is_empty());
    assert_eq!(
        w.run(queue(QueueReason::ProviderCapacityFull), &sys(t0()))
            .len(),
        1,
        "a new reason is recorded"
    );
    let e = w
        .try_run(queue(QueueReason::StaffCapacityFull), &sys(t0()))
        .unwrap_err();
    assert_eq!(rule_of(&e), Some("reason_not_for_node"));
    assert!(w.state().queued.is_some());
    w.provider(t0());
    assert_eq!(w.state().queued, None);
}

#[test]
fn assignment_commands_refuse_a_node_of_another_type_naming_the_current_node() {
    let w = World::started(standard_manual());
    let e = DeciderTest::<Delivery>::given(w.events)
        .when(
            DeliveryCommand::AssignOperator {
                staff: staff("stf_a", "ops"),
                how: OperatorHow::Dispatched,
            },
            &sys(t0()),
        )
        .then_error(|e| e.code == "invalid_state");
    assert_eq!(detail(&e, "current_node"), Some("assign_provider"));
}

// ---------------------------------------------------------------------------------------
// submit_requirement

#[test]
fn the_customer_submits_the_requirement_form_and_the_flow_moves_on() {
    let mut w = World::started(standard_manual());
    w.provider(t0());
    let s = DeciderTest::<Delivery>::given(w.events)
        .when(
            DeliveryCommand::SubmitRequirement {
                node_id: "submit_requirement".into(),
                by: cus(),
                form: form(),
            },
            &ctx(t0()),
        )
        .then_events(vec![
            RequirementSubmitted {
                node_id: "submit_requirement".into(),
                form: form(),
            }
            .into(),
            completed_ev("submit_requirement", 2, cus()),
            entered_ev("assign_order", 2, 3, t0(), None),
        ]);
    assert_eq!(s.requirement, Some(form()));
}

#[test]
fn requirement_form_field_rules_name_the_field() {
    let mut w = World::started(standard_manual());
    w.provider(t0());
    let cases: Vec<(RequirementForm, &str, &str)> = vec![
        (
            RequirementForm {
                contact_name: " ".into(),
                ..form()
            },
            "contact_name",
            "required",
        ),
        (
            RequirementForm {
                contact_name: "x".repeat(CONTACT_NAME_CHARS_MAX + 1),
                ..form()
            },
            "contact_name",
            "max_length",
        ),
        (
            RequirementForm {
                phone: "12ab5678".into(),
                ..form()
            },
            "phone",
            "phone_shape",
        ),
        (
            RequirementForm {
                phone: "1234".into(),
                ..form()
            },
            "phone",
            "phone_shape",
        ),
        (
            RequirementForm {
                email: "zs.example.com".into(),
                ..form()
            },
            "email",
            "email_shape",
        ),
        (
            RequirementForm {
                email: "zs@localhost".into(),
                ..form()
            },
            "email",
            "email_shape",
        ),
        (
            RequirementForm {
                address: "".into(),
                ..form()
            },
            "address",
            "required",
        ),
        (
            RequirementForm {
                description: "d".repeat(DESCRIPTION_CHARS_MAX + 1),
                ..form()
            },
            "description",
            "max_length",
        ),
        (
            RequirementForm {
                file_ids: vec!["fil_1".into(); FILE_IDS_MAX + 1],
                ..form()
            },
            "file_ids",
            "max_items",
        ),
    ];
    for (bad, field, rule) in cases {
        let e = w
            .try_run(
                DeliveryCommand::SubmitRequirement {
                    node_id: "submit_requirement".into(),
                    by: cus(),
                    form: bad,
                },
                &ctx(t0()),
            )
            .unwrap_err();
        assert_eq!(e.code, "validation_failed", "{field}");
        assert_eq!(detail(&e, "field"), Some(field));
        assert_eq!(rule_of(&e), Some(rule), "{field}");
    }
}

#[test]
fn only_the_customer_submits_only_on_the_current_node_and_only_files_of_the_project() {
    let mut w = World::started(standard_manual());
    w.provider(t0());
    let submit = |node_id: &str, by: Party, form| DeliveryCommand::SubmitRequirement {
        node_id: node_id.into(),
        by,
        form,
    };
    let e = w
        .try_run(
            submit(
                "submit_requirement",
                Party::Customer("cus_2".into()),
                form(),
            ),
            &ctx(t0()),
        )
        .unwrap_err();
    assert_eq!(rule_of(&e), Some("not_customer"));
    let e = w
        .try_run(submit("assign_order", cus(), form()), &ctx(t0()))
        .unwrap_err();
    assert_eq!(detail(&e, "current_node"), Some("submit_requirement"));
    let with_file = RequirementForm {
        file_ids: vec!["fil_nope".into()],
        ..form()
    };
    let e = w
        .try_run(submit("submit_requirement", cus(), with_file), &ctx(t0()))
        .unwrap_err();
    assert_eq!(
        (e.code, detail(&e, "field")),
        ("unknown_file", Some("file_ids"))
    );
}

// ---------------------------------------------------------------------------------------
// assign_order and claim_order

#[test]
fn the_system_assigns_an_operator_on_assign_order_and_the_next_node_gets_its_deadline() {
    let mut w = World::started(standard_manual());
    w.provider(t0());
    w.submit("submit_requirement", t0());
    let s = DeciderTest::<Delivery>::given(w.events)
        .when(
            DeliveryCommand::AssignOperator {
                staff: staff("stf_a", "ops"),
                how: OperatorHow::RuleProviderFirst,
            },
            &sys(t0()),
        )
        .then_events(vec![
            OperatorAssigned {
                node_id: "assign_order".into(),
                role: "delivery_specialist".into(),
                staff_id: "stf_a".into(),
                name: "name of stf_a".into(),
                department: "ops".into(),
                how: OperatorHow::RuleProviderFirst,
                previous: None,
                remark: None,
            }
            .into(),
            completed_ev("assign_order", 3, Party::System),
            entered_ev(
                "start_implementation",
                3,
                4,
                t0(),
                Some(at("2026-12-08T09:00:00+08:00")),
            ),
        ]);
    assert_eq!(s.operator().map(|o| o.staff_id.as_str()), Some("stf_a"));
    assert_eq!(s.claimer_department, None);
}

fn at_claim() -> World {
    let mut w = World::started(custom());
    w.provider(t0());
    w.submit("submit", t0());
    w
}

#[test]
fn a_staff_member_with_the_role_claims_the_order_and_their_department_is_recorded() {
    let w = at_claim();
    let s = DeciderTest::<Delivery>::given(w.events)
        .when(
            DeliveryCommand::Claim {
                staff: staff("stf_d", "design"),
                roles: vec!["designer".into()],
            },
            &ctx(t0()),
        )
        .then_events(vec![
            OperatorAssigned {
                node_id: "claim".into(),
                role: "designer".into(),
                staff_id: "stf_d".into(),
                name: "name of stf_d".into(),
                department: "design".into(),
                how: OperatorHow::Claimed,
                previous: None,
                remark: None,
            }
            .into(),
            completed_ev("claim", 3, Party::Staff("stf_d".into())),
            entered_ev("design", 3, 4, t0(), None),
        ]);
    assert_eq!(s.claimer_department.as_deref(), Some("design"));
}

#[test]
fn a_second_claim_is_refused_naming_the_current_node_and_a_claim_needs_the_role() {
    let mut w = at_claim();
    let claim = |id: &str, role: &str| DeliveryCommand::Claim {
        staff: staff(id, "design"),
        roles: vec![role.into()],
    };
    let e = w.try_run(claim("stf_x", "dev"), &ctx(t0())).unwrap_err();
    assert_eq!(
        (e.code, rule_of(&e)),
        ("invalid_state", Some("role_mismatch"))
    );
    w.run(claim("stf_d", "designer"), &ctx(t0()));
    let e = w
        .try_run(claim("stf_e", "designer"), &ctx(t0()))
        .unwrap_err();
    assert_eq!(e.code, "invalid_state");
    assert_eq!(detail(&e, "current_node"), Some("design"));
}

#[test]
fn a_role_already_operated_cannot_be_claimed_again() {
    let mut w = World::started(flat(vec![
        node("ap", NodeType::AssignProvider),
        provider("claim", NodeType::ClaimOrder, "designer"),
        provider("claim_again", NodeType::ClaimOrder, "designer"),
        node("end", NodeType::CompleteProject),
    ]));
    w.provider(t0());
    let claim = |id: &str| DeliveryCommand::Claim {
        staff: staff(id, "design"),
        roles: vec!["designer".into()],
    };
    w.run(claim("stf_d"), &ctx(t0()));
    let e = w.try_run(claim("stf_e"), &ctx(t0())).unwrap_err();
    assert_eq!(
        (e.code, rule_of(&e)),
        ("invalid_state", Some("already_claimed"))
    );
}

#[test]
fn a_paused_project_is_neither_queued_nor_assigned() {
    let mut w = World::started(standard_manual());
    w.run(DeliveryCommand::Pause { remark: "p".into() }, &ctx(t0()));
    let e = w
        .try_run(
            DeliveryCommand::Queue {
                reason: QueueReason::NoProviderLinked,
            },
            &sys(t0()),
        )
        .unwrap_err();
    assert_eq!(detail(&e, "state"), Some("paused"));
    let e = w
        .try_run(
            DeliveryCommand::AssignProvider {
                org_id: "org_p".into(),
                how: ProviderHow::Dispatched,
                weight_pick: None,
            },
            &sys(t0()),
        )
        .unwrap_err();
    assert_eq!(detail(&e, "state"), Some("paused"));
}

// ---------------------------------------------------------------------------------------
// generic, confirm, complete_project

#[test]
fn only_the_operator_of_the_nodes_role_completes_a_provider_node() {
    let mut w = at_start_implementation();
    for by in [
        Party::Staff("stf_b".into()),
        cus(),
        Party::Admin("prn_1".into()),
        Party::System,
    ] {
        let e = w
            .try_run(complete("start_implementation", by), &ctx(t0()))
            .unwrap_err();
        assert_eq!(
            (e.code, rule_of(&e)),
            ("invalid_state", Some("not_operator"))
        );
    }
    let events = w.complete("start_implementation", Party::Staff("stf_a".into()), t0());
    assert_eq!(events.len(), 2);
    assert_eq!(
        w.state().current_node().unwrap().node.id,
        "implementation_complete"
    );
}

#[test]
fn a_completion_carries_note_files_and_delivery_info_and_checks_their_fields() {
    let mut w = at_start_implementation();
    w.complete("start_implementation", Party::Staff("stf_a".into()), t0());
    let long = "x".repeat(DELIVERY_INFO_CHARS_MAX + 1);
    let e = w
        .try_run(
            DeliveryCommand::Complete {
                node_id: "implementation_complete".into(),
                by: Party::Staff("stf_a".into()),
                note: None,
                file_ids: Vec::new(),
                delivery_info: Some(long),
            },
            &ctx(t0()),
        )
        .unwrap_err();
    assert_eq!(
        (e.code, detail(&e, "field"), rule_of(&e)),
        (
            "validation_failed",
            Some("delivery_info"),
            Some("max_length")
        )
    );
    let cmd = |file: &str| DeliveryCommand::Complete {
        node_id: "implementation_complete".into(),
        by: Party::Staff("stf_a".into()),
        note: Some("done".into()),
        file_ids: vec![file.into()],
        delivery_info: Some("admin / s3cret".into()),
    };
    let e = w.try_run(cmd("fil_9"), &ctx(t0())).unwrap_err();
    assert_eq!(e.code, "unknown_file");
    w.run(
        attach("fil_9", None, Party::Staff("stf_a".into())),
        &ctx(t0()),
    );
    let events = w.run(cmd("fil_9"), &ctx(t0()));
    assert_eq!(
        events[0],
        NodeCompleted {
            node_id: "implementation_complete".into(),
            seq: 5,
            by: Party::Staff("stf_a".into()),
            note: Some("done".into()),
            file_ids: vec!["fil_9".into()],
            delivery_info: Some("admin / s3cret".into()),
        }
        .into()
    );
    assert_eq!(w.state().stage(), Some(Stage::PendingConfirmation));
}

fn attach(file_id: &str, node_id: Option<&str>, by: Party) -> DeliveryCommand {
    DeliveryCommand::AttachFile(FileAttached {
        file_id: file_id.into(),
        name: "contract.pdf".into(),
        size: 1_024,
        sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        content_type: "application/pdf".into(),
        node_id: node_id.map(Into::into),
        by,
    })
}

#[test]
fn an_upload_required_node_completes_only_with_a_file_of_the_project() {
    let mut w = at_claim();
    w.run(
        DeliveryCommand::Claim {
            staff: staff("stf_d", "design"),
            roles: vec!["designer".into()],
        },
        &ctx(t0()),
    );
    let d = Party::Staff("stf_d".into());
    let e = w
        .try_run(complete("design", d.clone()), &ctx(t0()))
        .unwrap_err();
    assert_eq!(
        (e.code, detail(&e, "field"), rule_of(&e)),
        (
            "validation_failed",
            Some("file_ids"),
            Some("upload_required")
        )
    );
    w.run(attach("fil_1", Some("design"), d.clone()), &ctx(t0()));
    assert_eq!(w.complete("design", d, t0()).len(), 2);
}

#[test]
fn completing_complete_project_completes_the_delivery() {
    let mut w = at_start_implementation();
    let a = Party::Staff("stf_a".into());
    w.complete("start_implementation", a.clone(), t0());
    w.complete("implementation_complete", a, t0());
    let later = at("2026-11-25T10:00:00+08:00");
    let s = DeciderTest::<Delivery>::given(w.events.clone())
        .when(complete("confirm_completion", cus()), &ctx(later))
        .then_events(vec![
            completed_ev("confirm_completion", 6, cus()),
            DeliveryCompleted { at: later }.into(),
        ]);
    assert_eq!(s.status, DeliveryStatus::Completed);
    assert_eq!(s.completed_at, Some(later));
    assert_eq!(s.stage(), Some(Stage::Completed));
    let mut done = World { events: w.events };
    done.run(complete("confirm_completion", cus()), &ctx(later));
    assert!(
        done.deadlines().is_empty(),
        "no clock runs on a completed project"
    );
    let e = done
        .try_run(complete("confirm_completion", cus()), &ctx(later))
        .unwrap_err();
    assert_eq!(detail(&e, "state"), Some("completed"));
}

#[test]
fn complete_refuses_nodes_completed_by_their_own_command() {
    let mut w = World::started(standard_manual());
    w.provider(t0());
    let e = w
        .try_run(complete("submit_requirement", cus()), &ctx(t0()))
        .unwrap_err();
    assert_eq!(detail(&e, "current_node"), Some("submit_requirement"));
}

// ---------------------------------------------------------------------------------------
// reject

fn at_check() -> World {
    let mut w = at_claim();
    w.run(
        DeliveryCommand::Claim {
            staff: staff("stf_d", "design"),
            roles: vec!["designer".into()],
        },
        &ctx(t0()),
    );
    w.run(
        attach("fil_1", Some("design"), Party::Staff("stf_d".into())),
        &ctx(t0()),
    );
    w.complete("design", Party::Staff("stf_d".into()), t0());
    w
}

#[test]
fn a_rejection_goes_back_to_the_previous_node_with_a_new_entry_and_deadline() {
    let w = at_check();
    let later = at("2026-11-24T09:00:00+08:00");
    let s = DeciderTest::<Delivery>::given(w.events)
        .when(
            DeliveryCommand::Reject {
                node_id: "check".into(),
                by: cus(),
                reason: "colours".into(),
            },
            &ctx(later),
        )
        .then_events(vec![
            NodeRejected {
                node_id: "check".into(),
                seq: 5,
                by: cus(),
                back_to: "design".into(),
                reason: "colours".into(),
            }
            .into(),
            entered_ev("design", 3, 6, later, None),
        ]);
    assert_eq!(s.current, 3);
    assert_eq!(s.operator().map(|o| o.staff_id.as_str()), Some("stf_d"));
}

#[test]
fn a_node_that_is_not_rejectable_is_not_rejected_and_a_reason_is_required() {
    let mut w = at_start_implementation();
    let reject = |reason: &str| DeliveryCommand::Reject {
        node_id: "start_implementation".into(),
        by: Party::Staff("stf_a".into()),
        reason: reason.into(),
    };
    let e = w.try_run(reject(""), &ctx(t0())).unwrap_err();
    assert_eq!(detail(&e, "field"), Some("reason"));
    let e = w.try_run(reject("no"), &ctx(t0())).unwrap_err();
    assert_eq!(rule_of(&e), Some("not_rejectable"));
    let mut c = at_check();
    let e = c
        .try_run(
            DeliveryCommand::Reject {
                node_id: "check".into(),
                by: Party::Staff("stf_d".into()),
                reason: "no".into(),
            },
            &ctx(t0()),
        )
        .unwrap_err();
    assert_eq!(rule_of(&e), Some("not_customer"), "by its side only");
}

// ---------------------------------------------------------------------------------------
// timeouts

fn fire(w: &World, now: Timestamp) -> Result<Vec<DeliveryEvent>, DomainError> {
    let s = w.state();
    Delivery::decide(
        &s,
        &DeliveryCommand::TimeOut {
            deadline_id: node_deadline_id(DLV, s.seq),
        },
        &sys(now),
    )
}

#[test]
fn fifteen_days_without_starting_cancels_and_refunds() {
    let w = at_start_implementation();
    let due = at("2026-12-08T09:00:00+08:00");
    assert_eq!(
        w.deadlines(),
        BTreeMap::from([(node_deadline_id(DLV, 4), due)])
    );
    assert_eq!(
        fire(&w, due.plus_micros(-1)).unwrap(),
        vec![],
        "not yet due"
    );
    let s = DeciderTest::<Delivery>::given(w.events)
        .when(
            DeliveryCommand::TimeOut {
                deadline_id: node_deadline_id(DLV, 4),
            },
            &sys(due),
        )
        .then_events(vec![
            NodeTimedOut {
                node_id: "start_implementation".into(),
                seq: 4,
                action: TimeoutAction::CancelAndRefund,
                due_at: due,
            }
            .into(),
            DeliveryCancelled {
                seq: 4,
                reason: CancelReason::Timeout,
                refund_order: true,
                refund_id: None,
                remark: None,
                at: due,
            }
            .into(),
        ]);
    assert_eq!(s.status, DeliveryStatus::Cancelled);
    assert_eq!(s.stage(), Some(Stage::Cancelled));
}

#[test]
fn fifteen_days_without_confirmation_confirm_automatically() {
    let mut w = at_start_implementation();
    let a = Party::Staff("stf_a".into());
    w.complete("start_implementation", a.clone(), t0());
    w.complete("implementation_complete", a, t0());
    let due = at("2026-12-08T09:00:00+08:00");
    let events = fire(&w, due).unwrap();
    assert_eq!(
        events,
        vec![
            NodeTimedOut {
                node_id: "confirm_completion".into(),
                seq: 6,
                action: TimeoutAction::Advance,
                due_at: due,
            }
            .into(),
            completed_ev("confirm_completion", 6, Party::System),
            DeliveryCompleted { at: due }.into(),
        ]
    );
}

#[test]
fn a_none_timeout_only_marks_the_project_timed_out_until_the_node_is_left() {
    let mut w = at_check();
    // 2 working days from Monday 09:00 → Wednesday 09:00.
    let due = at("2026-11-25T09:00:00+08:00");
    assert_eq!(w.state().due_at, Some(due));
    let events = fire(&w, due).unwrap();
    assert_eq!(
        events,
        vec![NodeTimedOut {
            node_id: "check".into(),
            seq: 5,
            action: TimeoutAction::None,
            due_at: due,
        }
        .into()]
    );
    w.events.extend(events);
    assert!(w.state().timed_out);
    assert!(w.deadlines().is_empty());
    assert_eq!(fire(&w, due).unwrap(), vec![], "fires once");
    w.complete("check", cus(), due);
    assert!(!w.state().timed_out);
}

#[test]
fn a_deadline_of_an_earlier_entry_fires_nothing() {
    let mut w = at_check();
    w.run(
        DeliveryCommand::Reject {
            node_id: "check".into(),
            by: cus(),
            reason: "again".into(),
        },
        &ctx(t0()),
    );
    w.complete("design", Party::Staff("stf_d".into()), t0());
    let late = at("2027-01-01T00:00:00+08:00");
    let stale = Delivery::decide(
        &w.state(),
        &DeliveryCommand::TimeOut {
            deadline_id: node_deadline_id(DLV, 5),
        },
        &sys(late),
    )
    .unwrap();
    assert_eq!(stale, vec![]);
    assert_eq!(w.state().seq, 7);
    assert_eq!(fire(&w, late).unwrap().len(), 1);
}

#[test]
fn an_advance_timeout_on_an_assignment_node_only_marks_it_timed_out() {
    let mut flow = standard_manual();
    flow[0].node.timeout = timeout(10, TimeoutUnit::CalendarDays, TimeoutAction::Advance);
    let w = World::started(flow);
    let due = t0().plus_days(1);
    let events = fire(&w, due).unwrap();
    assert_eq!(events.len(), 1);
    assert!(Delivery::fold(&[w.events, events].concat()).timed_out);
}

#[test]
fn the_scheduler_fires_the_node_timeout_command_on_the_delivery_stream() {
    let ids = crate::ids::SequentialIdGen::default();
    let d = Deadline {
        id: node_deadline_id("dlv_9", 3),
        due_at: t0(),
        stream_id: delivery_stream("dlv_9"),
        rule: DeadlineRule::DeliveryNodeTimeout,
    };
    assert_eq!(d.id, "delivery-dlv_9/delivery_node_timeout/3");
    let decision = crate::registry::deadline_decision(&d, &ids).expect("registered");
    assert_eq!(decision.primary(), "delivery-dlv_9");
}

// ---------------------------------------------------------------------------------------
// pause, resume, close, refund

#[test]
fn pausing_stops_the_clock_and_resuming_restarts_it_with_the_time_that_was_left() {
    let mut w = at_start_implementation();
    let due = at("2026-12-08T09:00:00+08:00");
    let paused_at = t0().plus_days(5);
    w.run(
        DeliveryCommand::Pause {
            remark: "customer away".into(),
        },
        &ctx(paused_at),
    );
    assert!(w.deadlines().is_empty());
    assert_eq!(
        fire(&w, due).unwrap(),
        vec![],
        "a paused project does not time out"
    );
    let e = w
        .try_run(
            complete("start_implementation", Party::Staff("stf_a".into())),
            &ctx(paused_at),
        )
        .unwrap_err();
    assert_eq!(detail(&e, "state"), Some("paused"));
    let resumed_at = paused_at.plus_days(7);
    let events = w.run(
        DeliveryCommand::Resume {
            remark: "back".into(),
        },
        &ctx(resumed_at),
    );
    let moved = resumed_at.plus_micros(due.micros_since(paused_at));
    assert_eq!(moved, due.plus_days(7));
    assert_eq!(
        events,
        vec![DeliveryResumed {
            seq: 4,
            remark: "back".into(),
            at: resumed_at,
            due_at: Some(moved),
        }
        .into()]
    );
    assert_eq!(w.state().due_at, Some(moved));
    assert_eq!(
        w.deadlines(),
        BTreeMap::from([(node_deadline_id(DLV, 4), moved)])
    );
}

#[test]
fn pause_needs_an_executing_project_and_resume_a_paused_one() {
    let mut w = at_start_implementation();
    let e = w
        .try_run(DeliveryCommand::Resume { remark: "r".into() }, &ctx(t0()))
        .unwrap_err();
    assert_eq!(detail(&e, "state"), Some("executing"));
    w.run(DeliveryCommand::Pause { remark: "p".into() }, &ctx(t0()));
    let e = w
        .try_run(DeliveryCommand::Pause { remark: "p".into() }, &ctx(t0()))
        .unwrap_err();
    assert_eq!(detail(&e, "state"), Some("paused"));
    let e = w
        .try_run(DeliveryCommand::Pause { remark: "".into() }, &ctx(t0()))
        .unwrap_err();
    assert_eq!(detail(&e, "field"), Some("remark"));
}

#[test]
fn the_platform_closes_a_project_and_the_order_is_refunded() {
    let mut w = at_start_implementation();
    w.run(DeliveryCommand::Pause { remark: "p".into() }, &ctx(t0()));
    let events = w.run(
        DeliveryCommand::Close {
            remark: "fraud".into(),
        },
        &ctx(t0()),
    );
    assert_eq!(
        events,
        vec![DeliveryCancelled {
            seq: 4,
            reason: CancelReason::PlatformClose,
            refund_order: true,
            refund_id: None,
            remark: Some("fraud".into()),
            at: t0(),
        }
        .into()]
    );
    let e = w
        .try_run(
            DeliveryCommand::Close {
                remark: "again".into(),
            },
            &ctx(t0()),
        )
        .unwrap_err();
    assert_eq!(detail(&e, "state"), Some("cancelled"));
}

#[test]
fn a_refund_cancels_the_project_once_without_refunding_again() {
    let mut w = at_start_implementation();
    let refund = DeliveryCommand::CancelForRefund {
        refund_id: "rfd_1".into(),
    };
    let events = w.run(refund.clone(), &sys(t0()));
    assert_eq!(
        events,
        vec![DeliveryCancelled {
            seq: 4,
            reason: CancelReason::Refunded,
            refund_order: false,
            refund_id: Some("rfd_1".into()),
            remark: None,
            at: t0(),
        }
        .into()]
    );
    assert!(w.deadlines().is_empty());
    assert_eq!(w.run(refund, &sys(t0())), vec![]);
}

// ---------------------------------------------------------------------------------------
// change provider, change operator

#[test]
fn a_provider_change_restarts_the_flow_and_drops_every_operator() {
    let mut w = at_start_implementation();
    let later = t0().plus_days(1);
    let events = w.run(
        DeliveryCommand::ChangeProvider {
            org_id: "org_q".into(),
            remark: "too slow".into(),
        },
        &ctx(later),
    );
    assert_eq!(
        events,
        vec![
            ProviderChanged {
                seq: 4,
                from: Some("org_p".into()),
                to: "org_q".into(),
                remark: "too slow".into(),
            }
            .into(),
            entered_ev("assign_provider", 0, 5, later, None),
            ProviderAssigned {
                org_id: "org_q".into(),
                how: ProviderHow::Changed,
                weight_pick: None,
            }
            .into(),
            completed_ev("assign_provider", 5, Party::System),
            entered_ev("submit_requirement", 1, 6, later, None),
        ]
    );
    let s = w.state();
    assert!(s.operators.is_empty());
    assert_eq!(s.operator(), None);
    assert_eq!(s.provider_org_id.as_deref(), Some("org_q"));
    assert!(
        w.deadlines().is_empty(),
        "the abandoned entry's clock stopped"
    );
    assert_eq!(w.events.len(), 16, "earlier events stay in the log");
    let e = w
        .try_run(
            DeliveryCommand::ChangeProvider {
                org_id: "org_q".into(),
                remark: "again".into(),
            },
            &ctx(later),
        )
        .unwrap_err();
    assert_eq!(rule_of(&e), Some("same_provider"));
}

#[test]
fn an_operator_change_keeps_the_role_and_records_the_previous_operator() {
    let mut w = at_start_implementation();
    let change = |id: &str| DeliveryCommand::ChangeOperator {
        role: None,
        staff: staff(id, "ops"),
        remark: "on leave".into(),
    };
    let e = w.try_run(change("stf_a"), &ctx(t0())).unwrap_err();
    assert_eq!(rule_of(&e), Some("same_operator"));
    assert_eq!(
        w.run(change("stf_b"), &ctx(t0())),
        vec![OperatorAssigned {
            node_id: "start_implementation".into(),
            role: "delivery_specialist".into(),
            staff_id: "stf_b".into(),
            name: "name of stf_b".into(),
            department: "ops".into(),
            how: OperatorHow::Changed,
            previous: Some("stf_a".into()),
            remark: Some("on leave".into()),
        }
        .into()]
    );
    w.complete("start_implementation", Party::Staff("stf_b".into()), t0());
    let e = w
        .try_run(
            DeliveryCommand::ChangeOperator {
                role: Some("designer".into()),
                staff: staff("stf_c", "ops"),
                remark: "x".into(),
            },
            &ctx(t0()),
        )
        .unwrap_err();
    assert_eq!(rule_of(&e), Some("no_operator"));
}

// ---------------------------------------------------------------------------------------
// messages, notes, files

#[test]
fn messages_notes_and_files_are_kept_in_every_status() {
    let mut w = at_start_implementation();
    w.run(
        DeliveryCommand::CancelForRefund {
            refund_id: "rfd_1".into(),
        },
        &sys(t0()),
    );
    let msg = w.run(
        DeliveryCommand::PostMessage {
            message_id: "msg_1".into(),
            text: "refunded, sorry".into(),
            by: Party::Admin("prn_1".into()),
        },
        &ctx(t0()),
    );
    assert_eq!(msg.len(), 1);
    w.run(
        DeliveryCommand::PostNote {
            note_id: "nte_1".into(),
            text: "internal".into(),
            by: Party::Staff("stf_a".into()),
        },
        &ctx(t0()),
    );
    assert_eq!(w.run(attach("fil_1", None, cus()), &ctx(t0())).len(), 1);
    assert_eq!(
        w.run(attach("fil_1", None, cus()), &ctx(t0())),
        vec![],
        "same file id"
    );
    let s = w.state();
    assert_eq!((s.messages, s.notes, s.files.len()), (1, 1, 1));
}

#[test]
fn file_metadata_is_checked() {
    let mut w = at_start_implementation();
    let file = |f: fn(&mut FileAttached)| {
        let DeliveryCommand::AttachFile(mut a) = attach("fil_1", None, cus()) else {
            unreachable!()
        };
        f(&mut a);
        DeliveryCommand::AttachFile(a)
    };
    type Case = (fn(&mut FileAttached), &'static str, &'static str);
    let cases: [Case; 5] = [
        (|f| f.size = FILE_BYTES_MAX + 1, "size", "max_bytes"),
        (|f| f.size = 0, "size", "empty"),
        (|f| f.sha256 = "ABC".into(), "sha256", "sha256_shape"),
        (|f| f.name = "a\nb".into(), "name", "control_characters"),
        (
            |f| f.content_type = String::new(),
            "content_type",
            "required",
        ),
    ];
    for (change, field, rule) in cases {
        let e = w.try_run(file(change), &ctx(t0())).unwrap_err();
        assert_eq!(
            (detail(&e, "field"), rule_of(&e)),
            (Some(field), Some(rule))
        );
    }
    let e = w
        .try_run(file(|f| f.node_id = Some("nope".into())), &ctx(t0()))
        .unwrap_err();
    assert_eq!(e.code, "unknown_node");
    let e = w
        .try_run(
            DeliveryCommand::PostMessage {
                message_id: "msg_1".into(),
                text: "m".repeat(MESSAGE_CHARS_MAX + 1),
                by: cus(),
            },
            &ctx(t0()),
        )
        .unwrap_err();
    assert_eq!(detail(&e, "field"), Some("text"));
}

// ---------------------------------------------------------------------------------------
// stage

#[test]
fn the_standard_manual_stages_follow_the_flow() {
    let mut w = World::started(standard_manual());
    let stage = |w: &World| w.state().stage();
    assert_eq!(stage(&w), Some(Stage::PendingImplementation));
    w.provider(t0());
    w.submit("submit_requirement", t0());
    w.run(
        DeliveryCommand::AssignOperator {
            staff: staff("stf_a", "ops"),
            how: OperatorHow::RuleProviderFirst,
        },
        &sys(t0()),
    );
    assert_eq!(stage(&w), Some(Stage::PendingImplementation));
    let a = Party::Staff("stf_a".into());
    w.complete("start_implementation", a.clone(), t0());
    assert_eq!(stage(&w), Some(Stage::Implementing));
    w.run(DeliveryCommand::Pause { remark: "p".into() }, &ctx(t0()));
    assert_eq!(
        stage(&w),
        Some(Stage::Implementing),
        "a pause keeps the stage"
    );
    w.run(DeliveryCommand::Resume { remark: "r".into() }, &ctx(t0()));
    w.complete("implementation_complete", a, t0());
    assert_eq!(stage(&w), Some(Stage::PendingConfirmation));
    w.complete("confirm_completion", cus(), t0());
    assert_eq!(stage(&w), Some(Stage::Completed));
    assert_eq!(DeliveryState::default().stage(), None);
}

// ---------------------------------------------------------------------------------------
// working days

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// Entering a node with a 2.5-day timeout on Friday 2026-12-04 15:00 Asia/Shanghai. A
/// working day counts 24 h of elapsed time: Friday gives 9 h, so 51 h remain after it.
/// With Saturday, Sunday and a Monday holiday off, Tuesday gives 24 h and Wednesday 24 h,
/// which leaves 3 h for Thursday: Thursday 03:00 (without the holiday it is Wednesday 03:00).
#[test]
fn node_deadlines_in_working_days_follow_the_calendar_table() {
    let friday = at("2026-12-04T15:00:00+08:00");
    // (case, unit, holidays, make-up working days, expected deadline)
    type Row = (
        &'static str,
        TimeoutUnit,
        &'static [&'static str],
        &'static [&'static str],
        &'static str,
    );
    let cases: [Row; 5] = [
        (
            "weekend and a Monday holiday",
            TimeoutUnit::WorkingDays,
            &["2026-12-07"],
            &[],
            "2026-12-10T03:00:00+08:00",
        ),
        (
            "weekend only",
            TimeoutUnit::WorkingDays,
            &[],
            &[],
            "2026-12-09T03:00:00+08:00",
        ),
        (
            "Saturday made up, Monday off",
            TimeoutUnit::WorkingDays,
            &["2026-12-07"],
            &["2026-12-05"],
            "2026-12-09T03:00:00+08:00",
        ),
        (
            "Friday itself a holiday",
            TimeoutUnit::WorkingDays,
            &["2026-12-04"],
            &[],
            "2026-12-09T12:00:00+08:00",
        ),
        (
            "calendar days ignore the calendar",
            TimeoutUnit::CalendarDays,
            &["2026-12-07"],
            &[],
            "2026-12-07T03:00:00+08:00",
        ),
    ];
    for (case, unit, holidays, workdays, expected) in cases {
        let mut calendar = WorkCalendar::new(chrono_tz::Asia::Shanghai);
        calendar
            .set_year(
                2026,
                YearCalendar {
                    holidays: holidays.iter().map(|d| date(d)).collect::<BTreeSet<_>>(),
                    workdays: workdays.iter().map(|d| date(d)).collect::<BTreeSet<_>>(),
                },
            )
            .unwrap();
        let mut flow = standard_manual();
        flow[1].node.timeout = timeout(25, unit, TimeoutAction::None);
        let mut w = World::started(flow);
        let here = Context::with_calendar(friday, Actor::System, Arc::new(calendar));
        let events = w.run(
            DeliveryCommand::AssignProvider {
                org_id: "org_p".into(),
                how: ProviderHow::SellerDefault,
                weight_pick: None,
            },
            &here,
        );
        let DeliveryEvent::NodeEntered(e) = &events[2] else {
            panic!("{case}: {events:?}")
        };
        assert_eq!(e.due_at, Some(at(expected)), "{case}");
    }
}

// ---------------------------------------------------------------------------------------
// The model: random sequences of node actions, timeouts, pauses, changes and refunds.

/// The flow of the model test: every node type, each timeout action, rejectable nodes.
fn model_flow() -> Vec<FlowNode> {
    let cal = TimeoutUnit::CalendarDays;
    flat(vec![
        Node {
            timeout: timeout(10, cal, TimeoutAction::None),
            ..node("ap", NodeType::AssignProvider)
        },
        Node {
            timeout: timeout(20, TimeoutUnit::WorkingDays, TimeoutAction::Advance),
            ..node("submit", NodeType::SubmitRequirement)
        },
        Node {
            children: vec![
                Node {
                    timeout: timeout(10, cal, TimeoutAction::None),
                    ..provider("claim", NodeType::ClaimOrder, "designer")
                },
                Node {
                    timeout: timeout(30, cal, TimeoutAction::Advance),
                    ..provider("design", NodeType::Generic, "designer")
                },
                Node {
                    rejectable: true,
                    timeout: timeout(20, cal, TimeoutAction::None),
                    ..customer_side("check", NodeType::Confirm)
                },
            ],
            ..node("box", NodeType::Container)
        },
        provider("assign_dev", NodeType::AssignOrder, "dev"),
        Node {
            timeout: timeout(15, cal, TimeoutAction::CancelAndRefund),
            ..provider("build", NodeType::Generic, "dev")
        },
        Node {
            rejectable: true,
            timeout: timeout(25, TimeoutUnit::WorkingDays, TimeoutAction::CancelAndRefund),
            ..provider("review", NodeType::Confirm, "designer")
        },
        Node {
            rejectable: true,
            timeout: timeout(50, cal, TimeoutAction::Advance),
            ..node("end", NodeType::CompleteProject)
        },
    ])
}

#[derive(Clone, Debug)]
enum Step {
    Clock(u32),
    Complete(bool),
    Reject(bool),
    Fire(bool),
    Pause,
    Resume,
    Claim(usize),
    AssignOperator(usize),
    AssignProvider(usize),
    ChangeProvider(usize),
    ChangeOperator(usize),
    CancelForRefund,
    Submit,
}

fn step() -> impl Strategy<Value = Step> {
    // Weighted so that most runs walk deep into the flow before a refund or a
    // cancel-and-refund timeout ends them.
    prop_oneof![
        8 => (1..100u32).prop_map(Step::Clock),
        40 => prop::bool::weighted(0.85).prop_map(Step::Complete),
        10 => prop::bool::weighted(0.85).prop_map(Step::Reject),
        6 => any::<bool>().prop_map(Step::Fire),
        4 => Just(Step::Pause),
        8 => Just(Step::Resume),
        12 => (0..4usize).prop_map(Step::Claim),
        10 => (0..3usize).prop_map(Step::AssignOperator),
        10 => (0..3usize).prop_map(Step::AssignProvider),
        2 => (0..3usize).prop_map(Step::ChangeProvider),
        4 => (0..3usize).prop_map(Step::ChangeOperator),
        1 => Just(Step::CancelForRefund),
        12 => Just(Step::Submit),
    ]
}

#[derive(Clone, Debug, PartialEq)]
struct Model {
    now: Timestamp,
    index: usize,
    seq: u32,
    status: DeliveryStatus,
    timed_out: bool,
    due: Option<Timestamp>,
    remaining: Option<i64>,
    operators: BTreeMap<String, String>,
    last_role: Option<String>,
    provider: Option<String>,
}

impl Model {
    fn node<'a>(&self, flow: &'a [FlowNode]) -> &'a Node {
        &flow[self.index].node
    }

    fn enter(&mut self, flow: &[FlowNode], index: usize, calendar: &WorkCalendar) {
        self.index = index;
        self.seq += 1;
        self.timed_out = false;
        self.due = flow[index]
            .node
            .timeout
            .map(|t| calendar.add_days(self.now, t.tenths, t.unit));
    }

    fn advance(&mut self, flow: &[FlowNode], calendar: &WorkCalendar) {
        self.timed_out = false;
        if self.node(flow).node_type == NodeType::CompleteProject || self.index + 1 == flow.len() {
            self.status = DeliveryStatus::Completed;
        } else {
            self.enter(flow, self.index + 1, calendar);
        }
    }

    fn executing(&self) -> bool {
        self.status == DeliveryStatus::Executing
    }

    fn over(&self) -> bool {
        matches!(
            self.status,
            DeliveryStatus::Cancelled | DeliveryStatus::Completed
        )
    }

    /// The party who may act on the current node (`right`), or one who may not.
    fn party(&self, flow: &[FlowNode], right: bool) -> Party {
        if !right {
            return Party::Staff("stf_intruder".into());
        }
        let n = self.node(flow);
        match n.acting_side() {
            Side::Customer => cus(),
            Side::System => Party::System,
            Side::Provider => n
                .role
                .as_ref()
                .and_then(|r| self.operators.get(r))
                .map_or(Party::Staff("stf_nobody".into()), |s| {
                    Party::Staff(s.clone())
                }),
        }
    }

    fn may_act(&self, flow: &[FlowNode], right: bool) -> bool {
        let n = self.node(flow);
        right
            && match n.acting_side() {
                Side::Provider => n
                    .role
                    .as_ref()
                    .is_some_and(|r| self.operators.contains_key(r)),
                Side::Customer | Side::System => true,
            }
    }
}

const STAFF: [&str; 4] = ["stf_0", "stf_1", "stf_2", "stf_3"];
const ORGS: [&str; 3] = ["org_0", "org_1", "org_2"];

/// Runs `step` against the project and the model; returns whether the project accepted it.
fn apply(
    step: &Step,
    events: &mut Vec<DeliveryEvent>,
    m: &mut Model,
    flow: &[FlowNode],
    calendar: &WorkCalendar,
) -> Result<(), TestCaseError> {
    let state = Delivery::fold(events.iter());
    let here = |now| Context::with_calendar(now, Actor::System, Arc::new(calendar.clone()));
    let completable = |n: &Node| {
        matches!(
            n.node_type,
            NodeType::Generic | NodeType::Confirm | NodeType::CompleteProject
        )
    };
    let (command, expect_ok): (DeliveryCommand, bool) = match step {
        Step::Clock(hours) => {
            m.now = m.now.plus_micros(i64::from(*hours) * HOUR_MICROS);
            return Ok(());
        }
        Step::Complete(right) => {
            let n = m.node(flow);
            let ok = m.executing() && completable(n) && m.may_act(flow, *right);
            let cmd = complete(&n.id, m.party(flow, *right));
            if ok {
                m.advance(flow, calendar);
            }
            (cmd, ok)
        }
        Step::Reject(right) => {
            let n = m.node(flow);
            let ok = m.executing()
                && completable(n)
                && n.rejectable
                && m.index > 0
                && m.may_act(flow, *right);
            let cmd = DeliveryCommand::Reject {
                node_id: n.id.clone(),
                by: m.party(flow, *right),
                reason: "redo".into(),
            };
            if ok {
                m.enter(flow, m.index - 1, calendar);
            }
            (cmd, ok)
        }
        Step::Fire(stale) => {
            let seq = if *stale {
                m.seq.saturating_sub(1)
            } else {
                m.seq
            };
            if m.executing() {
                if let Some(due) = m.due {
                    m.now = m.now.max(due);
                }
            }
            let live = !*stale && m.executing() && !m.timed_out && m.due.is_some();
            if live {
                let n = m.node(flow).clone();
                let assignment = matches!(
                    n.node_type,
                    NodeType::AssignProvider | NodeType::ClaimOrder | NodeType::AssignOrder
                );
                match n.timeout.map(|t| t.action) {
                    Some(TimeoutAction::Advance) if !assignment => m.advance(flow, calendar),
                    Some(TimeoutAction::CancelAndRefund) => {
                        // The flag stays: the node did pass its deadline.
                        m.status = DeliveryStatus::Cancelled;
                        m.timed_out = true;
                    }
                    _ => m.timed_out = true,
                }
            }
            (
                DeliveryCommand::TimeOut {
                    deadline_id: node_deadline_id(DLV, seq),
                },
                true,
            )
        }
        Step::Pause => {
            let ok = m.executing();
            if ok {
                m.status = DeliveryStatus::Paused;
                m.remaining = match (m.timed_out, m.due) {
                    (false, Some(due)) => Some(due.micros_since(m.now).max(0)),
                    _ => None,
                };
            }
            (DeliveryCommand::Pause { remark: "p".into() }, ok)
        }
        Step::Resume => {
            let ok = m.status == DeliveryStatus::Paused;
            if ok {
                m.status = DeliveryStatus::Executing;
                if let Some(r) = m.remaining.take() {
                    m.due = Some(m.now.plus_micros(r));
                }
            }
            (DeliveryCommand::Resume { remark: "r".into() }, ok)
        }
        Step::Claim(i) => {
            let roles = if *i == 3 {
                vec!["dev".to_owned()]
            } else {
                vec!["designer".to_owned()]
            };
            let n = m.node(flow);
            let ok = m.executing()
                && n.node_type == NodeType::ClaimOrder
                && !m.operators.contains_key("designer")
                && *i != 3;
            if ok {
                m.operators.insert("designer".into(), STAFF[*i].into());
                m.last_role = Some("designer".into());
                m.advance(flow, calendar);
            }
            (
                DeliveryCommand::Claim {
                    staff: staff(STAFF[*i], "design"),
                    roles,
                },
                ok,
            )
        }
        Step::AssignOperator(i) => {
            let n = m.node(flow);
            let ok = m.executing() && n.node_type == NodeType::AssignOrder;
            if ok {
                let role = n.role.clone().unwrap_or_default();
                m.operators.insert(role.clone(), STAFF[*i].into());
                m.last_role = Some(role);
                m.advance(flow, calendar);
            }
            (
                DeliveryCommand::AssignOperator {
                    staff: staff(STAFF[*i], "dev"),
                    how: OperatorHow::RuleProviderFirst,
                },
                ok,
            )
        }
        Step::AssignProvider(j) => {
            let ok = m.executing() && m.node(flow).node_type == NodeType::AssignProvider;
            if ok {
                m.provider = Some(ORGS[*j].into());
                m.advance(flow, calendar);
            }
            (
                DeliveryCommand::AssignProvider {
                    org_id: ORGS[*j].into(),
                    how: ProviderHow::Dispatched,
                    weight_pick: None,
                },
                ok,
            )
        }
        Step::ChangeProvider(j) => {
            let ok = m.executing() && m.provider.as_deref() != Some(ORGS[*j]);
            if ok {
                m.provider = Some(ORGS[*j].into());
                m.operators.clear();
                m.last_role = None;
                m.enter(flow, 0, calendar);
                m.advance(flow, calendar);
            }
            (
                DeliveryCommand::ChangeProvider {
                    org_id: ORGS[*j].into(),
                    remark: "change".into(),
                },
                ok,
            )
        }
        Step::ChangeOperator(i) => {
            let current_role = m
                .node(flow)
                .role
                .clone()
                .filter(|r| m.operators.contains_key(r));
            let role = current_role.or_else(|| m.last_role.clone());
            let ok = !m.over()
                && role
                    .as_ref()
                    .and_then(|r| m.operators.get(r))
                    .is_some_and(|s| s != STAFF[*i]);
            if ok {
                let role = role.unwrap_or_default();
                m.operators.insert(role.clone(), STAFF[*i].into());
                m.last_role = Some(role);
            }
            (
                DeliveryCommand::ChangeOperator {
                    role: None,
                    staff: staff(STAFF[*i], "ops"),
                    remark: "change".into(),
                },
                ok,
            )
        }
        Step::CancelForRefund => {
            if !m.over() {
                m.status = DeliveryStatus::Cancelled;
            }
            (
                DeliveryCommand::CancelForRefund {
                    refund_id: "rfd_1".into(),
                },
                true,
            )
        }
        Step::Submit => {
            let n = m.node(flow);
            let ok = m.executing() && n.node_type == NodeType::SubmitRequirement;
            let cmd = DeliveryCommand::SubmitRequirement {
                node_id: n.id.clone(),
                by: cus(),
                form: form(),
            };
            if ok {
                m.advance(flow, calendar);
            }
            (cmd, ok)
        }
    };
    let result = Delivery::decide(&state, &command, &here(m.now));
    prop_assert_eq!(result.is_ok(), expect_ok, "{:?} → {:?}", step, result);
    if let Ok(new) = result {
        events.extend(new);
    }
    Ok(())
}

fn agree(events: &[DeliveryEvent], m: &Model) -> Result<(), TestCaseError> {
    let s = Delivery::fold(events.iter());
    prop_assert_eq!(s.current, m.index);
    prop_assert_eq!(s.seq, m.seq);
    prop_assert_eq!(s.status, m.status);
    prop_assert_eq!(s.timed_out, m.timed_out);
    prop_assert_eq!(s.due_at, m.due);
    let operators: BTreeMap<String, String> = s
        .operators
        .iter()
        .map(|(r, o)| (r.clone(), o.staff_id.clone()))
        .collect();
    prop_assert_eq!(&operators, &m.operators);
    prop_assert_eq!(&s.provider_org_id, &m.provider);
    let expected: BTreeMap<String, Timestamp> = match m.due {
        Some(due) if m.executing() && !m.timed_out => {
            BTreeMap::from([(node_deadline_id(DLV, m.seq), due)])
        }
        _ => BTreeMap::new(),
    };
    prop_assert_eq!(fold_deadlines(events), expected);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn state_and_deadlines_agree_with_a_model_of_the_flow(
        steps in prop::collection::vec(step(), 1..120),
    ) {
        let flow = model_flow();
        let mut calendar = WorkCalendar::new(chrono_tz::Asia::Shanghai);
        calendar
            .set_year(2026, YearCalendar {
                holidays: [date("2026-11-27"), date("2026-12-07")].into_iter().collect(),
                workdays: [date("2026-11-29")].into_iter().collect(),
            })
            .unwrap();
        let mut events = Delivery::decide(
            &DeliveryState::default(),
            &start_cmd(flow.clone()),
            &Context::with_calendar(t0(), Actor::System, Arc::new(calendar.clone())),
        )
        .unwrap();
        let mut m = Model {
            now: t0(),
            index: 0,
            seq: 0,
            status: DeliveryStatus::Executing,
            timed_out: false,
            due: None,
            remaining: None,
            operators: BTreeMap::new(),
            last_role: None,
            provider: None,
        };
        m.enter(&flow, 0, &calendar);
        agree(&events, &m)?;
        for s in &steps {
            apply(s, &mut events, &mut m, &flow, &calendar)?;
            agree(&events, &m)?;
        }
    }
}
