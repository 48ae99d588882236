//! Stand-in for `domain::delivery::flow` until it lands on the integration branch: the same
//! `Step` and an `act` that turns a step into a decision on the project's stream. Claim,
//! change of operator and dispatch read the staff member named (name, department, roles)
//! here; capacity is not kept consistent by this stand-in. Replaced by `flow::act` at the
//! merge (every route already goes through [`act`]).

use domain::delivery::project::{
    delivery_stream, Delivery, DeliveryCommand, Operator, OperatorHow, ProviderHow,
};
use domain::delivery::staff::{staff_stream, Staff, StaffState};
use domain::ids::{is_valid_id, IdKind};
use domain::{Decision, Single};

use crate::error::ApiError;
use crate::state::App;

/// What a route asks of a project.
pub enum Step {
    Command(DeliveryCommand),
    Claim {
        staff_id: String,
    },
    ChangeOperator {
        staff_id: String,
        remark: String,
    },
    Dispatch {
        provider_org_id: Option<String>,
        staff_id: Option<String>,
    },
}

fn staff(app: &App, field: &str, staff_id: &str) -> Result<StaffState, ApiError> {
    let unknown =
        || ApiError::validation(field, "unknown", format!("{field}: no such staff member"));
    if !is_valid_id(IdKind::Staff, staff_id) {
        return Err(unknown());
    }
    let s = app
        .runner
        .load::<Staff>(&staff_stream(staff_id), u64::MAX)?
        .state;
    if !s.created {
        return Err(unknown());
    }
    Ok(s)
}

fn operator(s: &StaffState) -> Operator {
    Operator {
        staff_id: s.staff_id.clone(),
        name: s.name.clone(),
        department: s.department.clone(),
    }
}

/// The decision `step` asks for on project `delivery_id`.
pub fn act(app: &App, delivery_id: &str, step: Step) -> Result<Box<dyn Decision>, ApiError> {
    let command = match step {
        Step::Command(c) => c,
        Step::Claim { staff_id } => {
            let s = staff(app, "staff_id", &staff_id)?;
            DeliveryCommand::Claim {
                staff: operator(&s),
                roles: s.roles.clone(),
            }
        }
        Step::ChangeOperator { staff_id, remark } => {
            let s = staff(app, "staff_id", &staff_id)?;
            DeliveryCommand::ChangeOperator {
                role: None,
                staff: operator(&s),
                remark,
            }
        }
        Step::Dispatch {
            provider_org_id: Some(org_id),
            ..
        } => DeliveryCommand::AssignProvider {
            org_id,
            how: ProviderHow::Dispatched,
            weight_pick: None,
        },
        Step::Dispatch {
            staff_id: Some(staff_id),
            ..
        } => {
            let s = staff(app, "staff_id", &staff_id)?;
            DeliveryCommand::AssignOperator {
                staff: operator(&s),
                how: OperatorHow::Dispatched,
            }
        }
        Step::Dispatch { .. } => {
            return Err(ApiError::validation(
                "provider_org_id",
                "one_of",
                "name either provider_org_id or staff_id",
            ))
        }
    };
    Ok(Box::new(Single::<Delivery>::new(
        delivery_stream(delivery_id),
        command,
    )))
}
