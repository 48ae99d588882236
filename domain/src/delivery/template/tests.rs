//! Given / when / then for flow templates: field rules, the life of a draft, copies and
//! every publish rule of SPEC §8.

use super::*;
use crate::calendar::TimeoutUnit;
use crate::decider::testing::DeciderTest;
use crate::decider::{Actor, Role};
use crate::decision::testing::{decoded, DecisionTest};
use crate::delivery::node::{
    AssignRule, NodeTimeout, Notification, NotifyTrigger, Recipient, TimeoutAction,
};
use crate::error::ErrorKind;
use crate::Timestamp;

const ACME: &str = "org_acme";
const BOLT: &str = "org_bolt";

fn admin_of(org: &str) -> Context {
    Context::new(
        Timestamp::UNIX_EPOCH,
        Actor::Principal {
            id: format!("prn_{org}"),
            role: Role::IsvAdmin,
            org_id: Some(org.into()),
        },
        chrono_tz::Asia::Shanghai,
    )
}

fn node(id: &str, node_type: NodeType) -> Node {
    Node {
        id: id.into(),
        node_type,
        name: id.replace('_', " "),
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

fn assign(id: &str, role: &str) -> Node {
    Node {
        role: Some(role.into()),
        assign_rule: Some(AssignRule::ProviderFirst),
        ..node(id, NodeType::AssignOrder)
    }
}

fn work(id: &str, role: &str) -> Node {
    Node {
        side: Some(Side::Provider),
        role: Some(role.into()),
        ..node(id, NodeType::Generic)
    }
}

/// A publishable flow with a container and a rejectable confirm.
fn flow() -> Vec<Node> {
    vec![
        node("start", NodeType::AssignProvider),
        node("form", NodeType::SubmitRequirement),
        assign("assign", "developer"),
        Node {
            children: vec![
                work("build", "developer"),
                Node {
                    side: Some(Side::Customer),
                    rejectable: true,
                    ..node("check", NodeType::Confirm)
                },
            ],
            ..node("box", NodeType::Container)
        },
        Node {
            timeout: Some(NodeTimeout {
                tenths: 25,
                unit: TimeoutUnit::WorkingDays,
                action: TimeoutAction::Advance,
            }),
            ..node("done", NodeType::CompleteProject)
        },
    ]
}

fn created(nodes: Vec<Node>) -> TemplateEvent {
    TemplateEvent::TemplateCreated(TemplateCreated {
        template_id: "tpl_1".into(),
        org_id: ACME.into(),
        name: "Mine".into(),
        nodes,
        copied_from: None,
    })
}

fn published() -> TemplateEvent {
    TemplateEvent::TemplatePublished(TemplatePublished {})
}

fn create(nodes: Vec<Node>) -> TemplateCommand {
    TemplateCommand::Create {
        template_id: "tpl_1".into(),
        org_id: ACME.into(),
        name: " Mine ".into(),
        nodes,
    }
}

fn field_error(e: &DomainError) -> (String, String) {
    assert_eq!(e.code, "validation_failed", "{e:?}");
    (e.details[0].1.clone(), e.details[1].1.clone())
}

/// The publish refusal of `nodes`: (node id, rule).
fn publish_refusal(nodes: Vec<Node>) -> (Option<String>, String) {
    let e = DeciderTest::<Template>::given([created(nodes)])
        .when(TemplateCommand::Publish, &admin_of(ACME))
        .then_error(|e| e.code == "template_invalid" && e.kind == ErrorKind::Rule);
    let get = |k: &str| {
        e.details
            .iter()
            .find(|(d, _)| *d == k)
            .map(|(_, v)| v.clone())
    };
    (get("node_id"), get("rule").expect("rule"))
}

fn refused_by(nodes: Vec<Node>, node_id: &str, rule: &str) {
    assert_eq!(
        publish_refusal(nodes),
        (Some(node_id.to_owned()), rule.to_owned())
    );
}

#[test]
fn a_template_is_created_as_a_draft_with_its_name_trimmed() {
    let state = DeciderTest::<Template>::given_no_events()
        .when(create(flow()), &admin_of(ACME))
        .then_events(vec![created(flow())]);
    let t = state.template.expect("created");
    assert_eq!(t.status, TemplateStatus::Draft);
    assert_eq!(t.org_id, ACME);
}

#[test]
fn a_draft_is_edited_and_published_once_then_immutable() {
    let edited = TemplateEvent::TemplateEdited(TemplateEdited {
        name: "Renamed".into(),
        nodes: flow(),
    });
    DeciderTest::<Template>::given([created(vec![])])
        .when(
            TemplateCommand::Edit {
                name: "Renamed".into(),
                nodes: flow(),
            },
            &admin_of(ACME),
        )
        .then_events(vec![edited.clone()]);
    let state = DeciderTest::<Template>::given([created(vec![]), edited.clone()])
        .when(TemplateCommand::Publish, &admin_of(ACME))
        .then_events(vec![published()]);
    assert_eq!(
        state.template.map(|t| (t.name, t.status)),
        Some(("Renamed".into(), TemplateStatus::Published))
    );
    for command in [
        TemplateCommand::Publish,
        TemplateCommand::Edit {
            name: "Again".into(),
            nodes: flow(),
        },
    ] {
        let e = DeciderTest::<Template>::given([created(flow()), published()])
            .when(command, &admin_of(ACME))
            .then_error(|e| e.code == "invalid_state");
        assert_eq!(e.details, vec![("state", "published".to_owned())]);
    }
}

#[test]
fn another_orgs_template_is_not_found() {
    for command in [
        TemplateCommand::Publish,
        TemplateCommand::Edit {
            name: "x".into(),
            nodes: vec![],
        },
    ] {
        DeciderTest::<Template>::given([created(flow())])
            .when(command, &admin_of(BOLT))
            .then_error(|e| e.kind == ErrorKind::NotFound);
    }
    DeciderTest::<Template>::given_no_events()
        .when(TemplateCommand::Publish, &admin_of(ACME))
        .then_error(|e| e.kind == ErrorKind::NotFound);
}

#[test]
fn field_rules_name_the_json_path_of_the_node() {
    type Change = fn(&mut Vec<Node>);
    let cases: &[(Change, &str, &str)] = &[
        (|n| n[1].id = "Bad-Id".into(), "nodes[1].id", "format"),
        (|n| n[1].id = "x".repeat(41), "nodes[1].id", "format"),
        (|n| n[1].name = " ".into(), "nodes[1].name", "required"),
        (
            |n| n[1].name = "n".repeat(61),
            "nodes[1].name",
            "max_length",
        ),
        (
            |n| n[2].role = Some("chef".into()),
            "nodes[2].role",
            "one_of",
        ),
        (
            |n| n[1].role = Some("developer".into()),
            "nodes[1].role",
            "not_allowed",
        ),
        (
            |n| {
                n[3].children[0].timeout = Some(NodeTimeout {
                    tenths: 0,
                    unit: TimeoutUnit::CalendarDays,
                    action: TimeoutAction::None,
                })
            },
            "nodes[3].children[0].timeout.days",
            "range",
        ),
        (
            |n| {
                n[4].timeout = Some(NodeTimeout {
                    tenths: TIMEOUT_TENTHS_MAX + 1,
                    unit: TimeoutUnit::CalendarDays,
                    action: TimeoutAction::None,
                })
            },
            "nodes[4].timeout.days",
            "range",
        ),
        (
            |n| n[4].timeout_from_warranty = true,
            "nodes[4].timeout_from_warranty",
            "not_allowed",
        ),
        (
            |n| n[1].labels = vec!["a".into(); LABELS_MAX + 1],
            "nodes[1].labels",
            "max_items",
        ),
        (
            |n| n[1].labels = vec!["l".repeat(LABEL_CHARS_MAX + 1)],
            "nodes[1].labels[0]",
            "max_length",
        ),
        (
            |n| {
                n[1].notifications = vec![
                    Notification {
                        recipient: Recipient::Customer,
                        trigger: NotifyTrigger::Entered,
                        template: "hi".into(),
                    };
                    NOTIFICATIONS_PER_NODE_MAX + 1
                ]
            },
            "nodes[1].notifications",
            "max_items",
        ),
        (
            |n| {
                n[1].notifications = vec![Notification {
                    recipient: Recipient::Customer,
                    trigger: NotifyTrigger::TimedOut,
                    template: "x".repeat(NOTIFICATION_TEMPLATE_CHARS_MAX + 1),
                }]
            },
            "nodes[1].notifications[0].template",
            "max_length",
        ),
        (
            |n| n[1].assign_rule = Some(AssignRule::DepartmentFirst),
            "nodes[1].assign_rule",
            "not_allowed",
        ),
        (
            |n| n[1].children = vec![node("c", NodeType::Generic)],
            "nodes[1].children",
            "not_allowed",
        ),
        (
            |n| n[1].side = Some(Side::Provider),
            "nodes[1].side",
            "fixed",
        ),
        (
            |n| n[3].side = Some(Side::Provider),
            "nodes[3].side",
            "not_allowed",
        ),
        (
            |n| n[3].children[0].side = Some(Side::System),
            "nodes[3].children[0].side",
            "one_of",
        ),
        (
            |n| n[1].rejectable = true,
            "nodes[1].rejectable",
            "not_allowed",
        ),
        (
            |n| n.extend((0..NODES_MAX).map(|i| node(&format!("n{i}"), NodeType::Generic))),
            "nodes",
            "node_count",
        ),
    ];
    for (change, field, rule) in cases {
        let mut nodes = flow();
        change(&mut nodes);
        let e = DeciderTest::<Template>::given_no_events()
            .when(create(nodes), &admin_of(ACME))
            .then_error(|_| true);
        assert_eq!(field_error(&e), ((*field).into(), (*rule).into()));
    }
    let e = DeciderTest::<Template>::given_no_events()
        .when(
            TemplateCommand::Create {
                template_id: "tpl_1".into(),
                org_id: ACME.into(),
                name: "n".repeat(TEMPLATE_NAME_CHARS_MAX + 1),
                nodes: flow(),
            },
            &admin_of(ACME),
        )
        .then_error(|_| true);
    assert_eq!(field_error(&e), ("name".into(), "max_length".into()));
}

#[test]
fn field_rules_answer_before_the_published_state() {
    let e = DeciderTest::<Template>::given([created(flow()), published()])
        .when(
            TemplateCommand::Edit {
                name: "".into(),
                nodes: flow(),
            },
            &admin_of(ACME),
        )
        .then_error(|_| true);
    assert_eq!(e.code, "validation_failed");
}

#[test]
fn publish_rule_node_count_is_2_to_50() {
    assert_eq!(
        publish_refusal(vec![node("start", NodeType::AssignProvider)]),
        (None, "node_count".into())
    );
}

#[test]
fn publish_rule_duplicate_node_id() {
    let mut nodes = flow();
    nodes[3].children[1].id = "form".into();
    refused_by(nodes, "form", "duplicate_node_id");
}

#[test]
fn publish_rule_container_child_type() {
    let mut nodes = flow();
    nodes[3].children.push(node("nested", NodeType::Container));
    refused_by(nodes, "nested", "container_child_type");
}

#[test]
fn publish_rule_first_not_assign_provider() {
    let mut nodes = flow();
    nodes.remove(0);
    refused_by(nodes, "form", "first_not_assign_provider");
}

#[test]
fn publish_rule_assign_provider_not_first() {
    let mut nodes = flow();
    nodes.insert(2, node("again", NodeType::AssignProvider));
    refused_by(nodes, "again", "assign_provider_not_first");
}

#[test]
fn publish_rule_last_not_complete_project() {
    let mut nodes = flow();
    nodes.push(work("after", "developer"));
    refused_by(nodes, "after", "last_not_complete_project");
    let mut nodes = flow();
    nodes.insert(2, node("early_end", NodeType::CompleteProject));
    refused_by(nodes, "early_end", "last_not_complete_project");
}

#[test]
fn publish_rule_role_missing() {
    let mut nodes = flow();
    nodes[3].children[0].role = None;
    refused_by(nodes, "build", "role_missing");
}

#[test]
fn publish_rule_role_not_assigned() {
    let mut nodes = flow();
    nodes[3].children[0].role = Some("designer".into());
    refused_by(nodes, "build", "role_not_assigned");
    // A role assigned only later does not count.
    let mut nodes = flow();
    nodes.insert(2, work("early", "tester"));
    nodes.insert(4, assign("assign_tester", "tester"));
    refused_by(nodes, "early", "role_not_assigned");
}

#[test]
fn publish_rule_after_assignment_rejectable_in_the_flattened_order() {
    let mut nodes = flow();
    // assign → box[check (rejectable), build]: the container's first child is next.
    nodes[3].children.swap(0, 1);
    refused_by(nodes, "check", "after_assignment_rejectable");
}

#[test]
fn a_preset_is_copied_into_a_new_draft_that_remembers_its_source() {
    let copy = CopyTemplate {
        template_id: "tpl_2".into(),
        org_id: BOLT.into(),
        source_id: "tpl_standard_manual".into(),
    };
    let outcome = DecisionTest::new()
        .when(&copy, &admin_of(BOLT))
        .expect("copied");
    let source = presets::preset("tpl_standard_manual").expect("preset");
    assert_eq!(
        decoded::<TemplateEvent>(&outcome, "template-tpl_2"),
        vec![TemplateEvent::TemplateCreated(TemplateCreated {
            template_id: "tpl_2".into(),
            org_id: BOLT.into(),
            name: source.name.into(),
            nodes: source.nodes.clone(),
            copied_from: Some("tpl_standard_manual".into()),
        })]
    );
}

#[test]
fn a_published_template_is_copied_by_its_own_org_only_and_a_draft_not_at_all() {
    let copy = |org: &str| CopyTemplate {
        template_id: "tpl_2".into(),
        org_id: org.into(),
        source_id: "tpl_1".into(),
    };
    let outcome = DecisionTest::new()
        .given::<Template>("template-tpl_1", &[created(flow()), published()])
        .when(&copy(ACME), &admin_of(ACME))
        .expect("copied");
    let events = decoded::<TemplateEvent>(&outcome, "template-tpl_2");
    assert!(matches!(
        &events[..],
        [TemplateEvent::TemplateCreated(c)] if c.copied_from.as_deref() == Some("tpl_1") && c.nodes == flow()
    ));
    let e = DecisionTest::new()
        .given::<Template>("template-tpl_1", &[created(flow()), published()])
        .when(&copy(BOLT), &admin_of(BOLT))
        .expect_err("another org's");
    assert_eq!(e.kind, ErrorKind::NotFound);
    let e = DecisionTest::new()
        .given::<Template>("template-tpl_1", &[created(flow())])
        .when(&copy(ACME), &admin_of(ACME))
        .expect_err("a draft");
    assert_eq!(e.details, vec![("state", "draft".to_owned())]);
    let e = DecisionTest::new()
        .when(
            &CopyTemplate {
                source_id: "nonsense".into(),
                ..copy(ACME)
            },
            &admin_of(ACME),
        )
        .expect_err("no such template");
    assert_eq!(e.kind, ErrorKind::NotFound);
}

#[test]
fn a_product_may_name_a_preset_or_its_own_orgs_published_template() {
    let draft = Template::fold(&[created(flow())]);
    let done = Template::fold(&[created(flow()), published()]);
    assert_eq!(usable_by("tpl_basic", BOLT, None), Ok(()));
    assert_eq!(usable_by("tpl_1", ACME, Some(&done)), Ok(()));
    assert_eq!(usable_by("tpl_1", ACME, Some(&draft)), Err("not_published"));
    assert_eq!(
        usable_by("tpl_1", BOLT, Some(&done)),
        Err("unknown_template")
    );
    assert_eq!(
        usable_by("tpl_1", ACME, Some(&TemplateState::default())),
        Err("unknown_template")
    );
}

fn manual_product(template_id: &str) -> crate::product::CreateProduct {
    crate::product::CreateProduct {
        product_id: "prd_1".into(),
        command: crate::product::ProductCommand::Create {
            product_id: "prd_1".into(),
            seller_org_id: ACME.into(),
            code: "SVC".into(),
            name: "Data migration".into(),
            category: "services".into(),
            delivery: "manual".into(),
            delivery_days: 7,
            warranty_days: 30,
            flow_template_id: Some(template_id.into()),
            specs: vec![crate::product::NewSpec {
                id: "m".into(),
                name: "once".into(),
                duration: 1,
                unit: "once".into(),
                price_cents: 5_000,
                trial: false,
            }],
        },
    }
}

#[test]
fn a_manual_product_names_a_preset_or_a_published_template_of_its_seller() {
    let ok = |t: &str, history: &[TemplateEvent]| {
        DecisionTest::new()
            .given::<Template>("template-tpl_1", history)
            .when(&manual_product(t), &admin_of(ACME))
    };
    assert!(ok("tpl_standard_manual", &[]).is_ok());
    assert!(ok("tpl_1", &[created(flow()), published()]).is_ok());
    let rule =
        |r: Result<crate::decision::Outcome, DomainError>| field_error(&r.expect_err("refused"));
    assert_eq!(
        rule(ok("tpl_1", &[created(flow())])),
        ("flow_template_id".into(), "not_published".into())
    );
    assert_eq!(
        rule(ok("tpl_1", &[])),
        ("flow_template_id".into(), "unknown_template".into())
    );
    assert_eq!(
        rule(ok("not a template", &[])),
        ("flow_template_id".into(), "unknown_template".into())
    );
    let bolts = TemplateEvent::TemplateCreated(TemplateCreated {
        org_id: BOLT.into(),
        template_id: "tpl_1".into(),
        name: "Bolt's".into(),
        nodes: flow(),
        copied_from: None,
    });
    assert_eq!(
        rule(ok("tpl_1", &[bolts, published()])),
        ("flow_template_id".into(), "unknown_template".into())
    );
}
