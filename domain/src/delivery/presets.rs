//! The public flow templates of SPEC §8, preset in code: published, read-only, the same for
//! every org. Each has a stable `key` and the id `tpl_<key>`; node ids are stable too (the
//! order-level stages of `standard_manual` are derived from them).
//!
//! Invariant: every preset passes publish validation (tested below).

use std::sync::OnceLock;

use crate::calendar::TimeoutUnit;
use crate::delivery::node::{AssignRule, Node, NodeTimeout, NodeType, Side, TimeoutAction};

/// A public template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicTemplate {
    /// `basic`, `double_check`, `contract`, `step_by_step`, `standard_manual`.
    pub key: &'static str,
    /// `tpl_<key>`.
    pub id: String,
    pub name: &'static str,
    pub nodes: Vec<Node>,
}

/// The role every preset assigns and works as.
const SPECIALIST: &str = "delivery_specialist";
/// 14 days, in tenths.
const FOURTEEN_DAYS_TENTHS: u32 = 140;
/// 15 days, in tenths.
const FIFTEEN_DAYS_TENTHS: u32 = 150;

fn node(id: &str, node_type: NodeType, name: &str) -> Node {
    Node {
        id: id.into(),
        node_type,
        name: name.into(),
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

fn calendar_days(tenths: u32, action: TimeoutAction) -> Option<NodeTimeout> {
    Some(NodeTimeout {
        tenths,
        unit: TimeoutUnit::CalendarDays,
        action,
    })
}

/// assign_provider → submit_requirement (customer) → assign_order (delivery_specialist,
/// provider_first): how every preset starts.
fn start() -> Vec<Node> {
    vec![
        node(
            "assign_provider",
            NodeType::AssignProvider,
            "assign provider",
        ),
        node(
            "submit_requirement",
            NodeType::SubmitRequirement,
            "submit requirement",
        ),
        Node {
            role: Some(SPECIALIST.into()),
            assign_rule: Some(AssignRule::ProviderFirst),
            ..node("assign_order", NodeType::AssignOrder, "assign order")
        },
    ]
}

/// Provider-side work by the delivery specialist.
fn work(id: &str, name: &str) -> Node {
    Node {
        side: Some(Side::Provider),
        role: Some(SPECIALIST.into()),
        ..node(id, NodeType::Generic, name)
    }
}

/// The customer confirms; rejectable.
fn customer_confirms(id: &str, name: &str) -> Node {
    Node {
        side: Some(Side::Customer),
        rejectable: true,
        ..node(id, NodeType::Confirm, name)
    }
}

/// "confirm delivery": the customer confirms, auto-confirmed after 14 calendar days.
fn confirm_delivery(node_type: NodeType, rejectable: bool) -> Node {
    Node {
        side: (node_type == NodeType::Confirm).then_some(Side::Customer),
        rejectable,
        timeout: calendar_days(FOURTEEN_DAYS_TENTHS, TimeoutAction::Advance),
        ..node("confirm_delivery", node_type, "confirm delivery")
    }
}

fn build() -> Vec<PublicTemplate> {
    let preset = |key: &'static str, name: &'static str, rest: Vec<Node>| PublicTemplate {
        key,
        id: format!("tpl_{key}"),
        name,
        nodes: start().into_iter().chain(rest).collect(),
    };
    vec![
        preset(
            "basic",
            "Basic delivery",
            vec![
                work("project_delivery", "project delivery"),
                confirm_delivery(NodeType::CompleteProject, true),
            ],
        ),
        preset(
            "double_check",
            "Delivery with warranty confirmation",
            vec![
                work("project_delivery", "project delivery"),
                confirm_delivery(NodeType::Confirm, true),
                Node {
                    timeout_from_warranty: true,
                    ..node(
                        "confirm_warranty",
                        NodeType::CompleteProject,
                        "confirm warranty",
                    )
                },
            ],
        ),
        preset(
            "contract",
            "Delivery with a contract",
            vec![
                Node {
                    upload_required: true,
                    ..work("upload_contract", "upload contract")
                },
                work("project_delivery", "project delivery"),
                confirm_delivery(NodeType::CompleteProject, true),
            ],
        ),
        preset(
            "step_by_step",
            "Step-by-step delivery",
            vec![
                work("functional_design", "functional design"),
                customer_confirms("confirm_functional_design", "confirm functional design"),
                work("ux_design", "UX design"),
                customer_confirms("confirm_ux_design", "confirm UX design"),
                work("development_and_testing", "development and testing"),
                customer_confirms("inspection_and_acceptance", "inspection and acceptance"),
                confirm_delivery(NodeType::CompleteProject, false),
            ],
        ),
        preset(
            "standard_manual",
            "Standard manual delivery",
            vec![
                Node {
                    timeout: calendar_days(FIFTEEN_DAYS_TENTHS, TimeoutAction::CancelAndRefund),
                    ..work("start_implementation", "start implementation")
                },
                work("implementation_complete", "implementation complete"),
                Node {
                    timeout: calendar_days(FIFTEEN_DAYS_TENTHS, TimeoutAction::Advance),
                    ..node(
                        "confirm_completion",
                        NodeType::CompleteProject,
                        "confirm completion",
                    )
                },
            ],
        ),
    ]
}

/// The five public templates, in the order of SPEC §8.
pub fn presets() -> &'static [PublicTemplate] {
    static PRESETS: OnceLock<Vec<PublicTemplate>> = OnceLock::new();
    PRESETS.get_or_init(build)
}

/// The public template with id `template_id` (`tpl_<key>`).
pub fn preset(template_id: &str) -> Option<&'static PublicTemplate> {
    presets().iter().find(|p| p.id == template_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::template::{check_fields, check_publishable};

    #[test]
    fn every_preset_passes_the_field_rules_and_publish_validation() {
        let keys: Vec<_> = presets().iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "basic",
                "double_check",
                "contract",
                "step_by_step",
                "standard_manual"
            ]
        );
        for p in presets() {
            assert_eq!(p.id, format!("tpl_{}", p.key));
            assert!(crate::ids::is_valid_id(crate::ids::IdKind::Template, &p.id));
            check_fields(p.name, &p.nodes).unwrap_or_else(|e| panic!("{}: {e:?}", p.key));
            check_publishable(&p.nodes).unwrap_or_else(|e| panic!("{}: {e:?}", p.key));
        }
    }

    #[test]
    fn standard_manual_is_exactly_the_other_marketplaces_flow() {
        let p = preset("tpl_standard_manual").expect("preset");
        let ids: Vec<_> = p.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "assign_provider",
                "submit_requirement",
                "assign_order",
                "start_implementation",
                "implementation_complete",
                "confirm_completion"
            ]
        );
        let start = &p.nodes[3];
        assert_eq!(start.node_type, NodeType::Generic);
        assert_eq!(start.acting_side(), Side::Provider);
        assert_eq!(start.role.as_deref(), Some("delivery_specialist"));
        assert_eq!(
            start.timeout,
            Some(NodeTimeout {
                tenths: 150,
                unit: TimeoutUnit::CalendarDays,
                action: TimeoutAction::CancelAndRefund
            })
        );
        assert_eq!(p.nodes[2].assign_rule, Some(AssignRule::ProviderFirst));
        assert_eq!(p.nodes[4].timeout, None);
        let last = &p.nodes[5];
        assert_eq!(last.node_type, NodeType::CompleteProject);
        assert_eq!(last.acting_side(), Side::Customer);
        assert_eq!(
            last.timeout.map(|t| (t.tenths, t.unit, t.action)),
            Some((150, TimeoutUnit::CalendarDays, TimeoutAction::Advance))
        );
    }

    #[test]
    fn double_check_ends_on_the_warranty_and_contract_requires_an_upload() {
        let d = preset("tpl_double_check").expect("preset");
        let last = d.nodes.last().expect("nodes");
        assert!(last.timeout_from_warranty && last.timeout.is_none());
        assert_eq!(d.nodes[d.nodes.len() - 2].node_type, NodeType::Confirm);
        let c = preset("tpl_contract").expect("preset");
        assert!(c
            .nodes
            .iter()
            .any(|n| n.id == "upload_contract" && n.upload_required));
        assert!(preset("tpl_nothing").is_none());
    }
}
