//! Instances (SPEC.md §6): what a customer owns after paying — N per quantity of a new or
//! trial order. Stream `instance-<instance id>`.
//!
//! Status: `opening` (manual products until delivery starts; the delivery issue moves it on)
//! or `active` (automatic products, at payment) → `expired` at expiry → `closed` 7 days later
//! (renewal allowed while expired, not when closed); `released` by a refund with immediate
//! release. Instance ids of a new/trial order are derived from the order id and index, so
//! every command that needs "the instances of this order" knows them without a lookup.

use chrono::Months;
use serde::{Deserialize, Serialize};

use crate::deadline::{Deadline, DeadlineEffect, DeadlineRule};
use crate::decider::{Actor, Context, Decider};
use crate::error::DomainError;
use crate::order::{OrderState, OrderType};
use crate::product::{DeliveryKind, DurationUnit, Spec};
use crate::time::Timestamp;

/// An instance stays `expired` this many days before it closes.
pub const CLOSE_AFTER_EXPIRY_DAYS: u32 = 7;

pub fn instance_stream(instance_id: &str) -> String {
    format!("instance-{instance_id}")
}

/// The id of the `index`-th (1-based) instance opened by `order_id`.
pub fn instance_id_for(order_id: &str, index: u32) -> String {
    let body = order_id.strip_prefix("ord_").unwrap_or(order_id);
    format!("ins_{body}_{index}")
}

/// The instances an order is about: those it opened (new, trial) or the one it names.
pub fn instances_of(order: &OrderState) -> Vec<String> {
    let Some(p) = &order.placed else {
        return Vec::new();
    };
    match (p.order_type, &p.instance_id) {
        (OrderType::New | OrderType::Trial, _) => (1..=p.quantity)
            .map(|i| instance_id_for(&p.order_id, i))
            .collect(),
        (_, Some(id)) => vec![id.clone()],
        (_, None) => Vec::new(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceStatus {
    #[default]
    Opening,
    Active,
    InService,
    Expired,
    Closed,
    Released,
}

impl InstanceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceStatus::Opening => "opening",
            InstanceStatus::Active => "active",
            InstanceStatus::InService => "in_service",
            InstanceStatus::Expired => "expired",
            InstanceStatus::Closed => "closed",
            InstanceStatus::Released => "released",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceOpened {
    pub instance_id: String,
    pub order_id: String,
    pub product_id: String,
    pub seller_org_id: String,
    pub customer_id: String,
    pub spec_id: String,
    pub trial: bool,
    pub status: InstanceStatus,
    pub opened_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceExtended {
    /// The renewal or conversion order.
    pub order_id: String,
    pub spec_id: String,
    pub trial: bool,
    pub old_expires_at: Option<Timestamp>,
    pub new_expires_at: Option<Timestamp>,
    pub status: InstanceStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceUpgraded {
    pub order_id: String,
    pub old_spec_id: String,
    pub new_spec_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceExpired {
    pub at: Timestamp,
    pub deadline_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceClosed {
    pub at: Timestamp,
    pub deadline_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceReleased {
    pub at: Timestamp,
    pub order_id: String,
    pub refund_id: String,
}

crate::event_enum! {
    /// Events of an instance.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum InstanceEvent {
        InstanceOpened(InstanceOpened) version 1,
        InstanceExtended(InstanceExtended) version 1,
        InstanceUpgraded(InstanceUpgraded) version 1,
        InstanceExpired(InstanceExpired) version 1,
        InstanceClosed(InstanceClosed) version 1,
        InstanceReleased(InstanceReleased) version 1,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceState {
    pub opened: Option<InstanceOpened>,
    pub status: InstanceStatus,
    pub spec_id: String,
    pub trial: bool,
    pub expires_at: Option<Timestamp>,
    pub orders: Vec<String>,
    pub expired_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    pub released_at: Option<Timestamp>,
}

impl InstanceState {
    /// May a renewal, conversion or upgrade be ordered for it?
    pub fn usable(&self) -> bool {
        matches!(
            self.status,
            InstanceStatus::Opening
                | InstanceStatus::Active
                | InstanceStatus::InService
                | InstanceStatus::Expired
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceCommand {
    /// Fired at `expires_at`.
    Expire { deadline_id: String },
    /// Fired 7 days after expiry.
    Close { deadline_id: String },
}

#[derive(Debug)]
pub struct Instance;

impl Decider for Instance {
    type State = InstanceState;
    type Command = InstanceCommand;
    type Event = InstanceEvent;
    type Error = DomainError;

    fn decide(
        state: &InstanceState,
        command: &InstanceCommand,
        ctx: &Context,
    ) -> Result<Vec<InstanceEvent>, DomainError> {
        if !matches!(ctx.actor, Actor::System) {
            return Ok(Vec::new());
        }
        match command {
            InstanceCommand::Expire { deadline_id } => {
                let due = state.expires_at.is_some_and(|e| ctx.now >= e);
                let live = matches!(
                    state.status,
                    InstanceStatus::Active | InstanceStatus::InService | InstanceStatus::Opening
                );
                Ok(if due && live {
                    vec![InstanceEvent::InstanceExpired(InstanceExpired {
                        at: ctx.now,
                        deadline_id: deadline_id.clone(),
                    })]
                } else {
                    Vec::new()
                })
            }
            InstanceCommand::Close { deadline_id } => {
                let due = state
                    .expired_at
                    .is_some_and(|e| ctx.now >= e.plus_days(CLOSE_AFTER_EXPIRY_DAYS));
                Ok(if due && state.status == InstanceStatus::Expired {
                    vec![InstanceEvent::InstanceClosed(InstanceClosed {
                        at: ctx.now,
                        deadline_id: deadline_id.clone(),
                    })]
                } else {
                    Vec::new()
                })
            }
        }
    }

    fn evolve(mut state: InstanceState, event: &InstanceEvent) -> InstanceState {
        match event {
            InstanceEvent::InstanceOpened(e) => {
                state.status = e.status;
                state.spec_id = e.spec_id.clone();
                state.trial = e.trial;
                state.expires_at = e.expires_at;
                state.orders.push(e.order_id.clone());
                state.opened = Some(e.clone());
            }
            InstanceEvent::InstanceExtended(e) => {
                state.spec_id = e.spec_id.clone();
                state.trial = e.trial;
                state.expires_at = e.new_expires_at;
                state.status = e.status;
                state.expired_at = None;
                state.orders.push(e.order_id.clone());
            }
            InstanceEvent::InstanceUpgraded(e) => {
                state.spec_id = e.new_spec_id.clone();
                state.orders.push(e.order_id.clone());
            }
            InstanceEvent::InstanceExpired(e) => {
                state.status = InstanceStatus::Expired;
                state.expired_at = Some(e.at);
            }
            InstanceEvent::InstanceClosed(e) => {
                state.status = InstanceStatus::Closed;
                state.closed_at = Some(e.at);
            }
            InstanceEvent::InstanceReleased(e) => {
                state.status = InstanceStatus::Released;
                state.released_at = Some(e.at);
            }
        }
        state
    }
}

/// `start` plus `periods` × the spec's duration (calendar months in `tz`); `None` for `once`.
pub fn expiry(
    start: Timestamp,
    spec_duration: u32,
    unit: DurationUnit,
    periods: u32,
    tz: chrono_tz::Tz,
) -> Option<Timestamp> {
    let months = match unit {
        DurationUnit::Once => return None,
        DurationUnit::Month => spec_duration.saturating_mul(periods),
        DurationUnit::Year => spec_duration.saturating_mul(periods).saturating_mul(12),
    };
    let local = start.to_datetime().with_timezone(&tz);
    local
        .checked_add_months(Months::new(months))
        .map(|d| Timestamp::from_datetime(d.with_timezone(&chrono::Utc)))
}

/// Policy "a payment opens instances": the instance events a payment of `order` causes, at `now`: instances opened for new and
/// trial orders; the named instance extended, converted or upgraded otherwise.
/// `instance` is the named instance's current state (renewal, conversion, upgrade).
pub fn on_payment(
    order: &OrderState,
    spec: &Spec,
    instance: Option<&InstanceState>,
    now: Timestamp,
    tz: chrono_tz::Tz,
) -> Vec<(String, InstanceEvent)> {
    let Some(p) = &order.placed else {
        return Vec::new();
    };
    match p.order_type {
        OrderType::New | OrderType::Trial => (1..=p.quantity)
            .map(|i| {
                let id = instance_id_for(&p.order_id, i);
                let status = if p.delivery == DeliveryKind::Manual {
                    InstanceStatus::Opening
                } else {
                    InstanceStatus::Active
                };
                (
                    id.clone(),
                    InstanceEvent::InstanceOpened(InstanceOpened {
                        instance_id: id,
                        order_id: p.order_id.clone(),
                        product_id: p.product_id.clone(),
                        seller_org_id: p.seller_org_id.clone(),
                        customer_id: p.customer_id.clone(),
                        spec_id: p.spec_id.clone(),
                        trial: p.order_type == OrderType::Trial,
                        status,
                        opened_at: now,
                        expires_at: expiry(now, spec.duration, spec.unit, 1, tz),
                    }),
                )
            })
            .collect(),
        OrderType::Renewal | OrderType::Conversion => {
            let (Some(id), Some(inst)) = (&p.instance_id, instance) else {
                return Vec::new();
            };
            // A renewal extends from the current expiry, or from now if it already passed.
            let base = match (p.order_type, inst.expires_at) {
                (OrderType::Renewal, Some(e)) if e > now => e,
                _ => now,
            };
            let status = if inst.status == InstanceStatus::Expired {
                InstanceStatus::Active
            } else {
                inst.status
            };
            vec![(
                id.clone(),
                InstanceEvent::InstanceExtended(InstanceExtended {
                    order_id: p.order_id.clone(),
                    spec_id: p.spec_id.clone(),
                    trial: false,
                    old_expires_at: inst.expires_at,
                    new_expires_at: expiry(base, spec.duration, spec.unit, p.quantity, tz),
                    status,
                }),
            )]
        }
        OrderType::Upgrade => {
            let (Some(id), Some(inst)) = (&p.instance_id, instance) else {
                return Vec::new();
            };
            vec![(
                id.clone(),
                InstanceEvent::InstanceUpgraded(InstanceUpgraded {
                    order_id: p.order_id.clone(),
                    old_spec_id: inst.spec_id.clone(),
                    new_spec_id: p.spec_id.clone(),
                }),
            )]
        }
    }
}

fn expiry_deadline_id(instance_stream_id: &str) -> String {
    Deadline::id_for(instance_stream_id, DeadlineRule::InstanceExpiry, "expiry")
}

fn close_deadline_id(instance_stream_id: &str) -> String {
    Deadline::id_for(instance_stream_id, DeadlineRule::InstanceClose, "close")
}

/// Deadlines an instance's events start and stop.
pub fn deadline_effects(event: &InstanceEvent, instance_id: &str) -> Vec<DeadlineEffect> {
    let stream = instance_stream(instance_id);
    let expiry_at = |at: Option<Timestamp>| match at {
        Some(due_at) => vec![DeadlineEffect::Start(Deadline {
            id: expiry_deadline_id(&stream),
            due_at,
            stream_id: stream.clone(),
            rule: DeadlineRule::InstanceExpiry,
        })],
        None => vec![DeadlineEffect::Stop {
            id: expiry_deadline_id(&stream),
        }],
    };
    match event {
        InstanceEvent::InstanceOpened(e) => expiry_at(e.expires_at),
        InstanceEvent::InstanceExtended(e) => {
            let mut v = vec![DeadlineEffect::Stop {
                id: close_deadline_id(&stream),
            }];
            v.extend(expiry_at(e.new_expires_at));
            v
        }
        InstanceEvent::InstanceUpgraded(_) => Vec::new(),
        InstanceEvent::InstanceExpired(e) => vec![
            DeadlineEffect::Stop {
                id: expiry_deadline_id(&stream),
            },
            DeadlineEffect::Start(Deadline {
                id: close_deadline_id(&stream),
                due_at: e.at.plus_days(CLOSE_AFTER_EXPIRY_DAYS),
                stream_id: stream.clone(),
                rule: DeadlineRule::InstanceClose,
            }),
        ],
        InstanceEvent::InstanceClosed(_) | InstanceEvent::InstanceReleased(_) => vec![
            DeadlineEffect::Stop {
                id: expiry_deadline_id(&stream),
            },
            DeadlineEffect::Stop {
                id: close_deadline_id(&stream),
            },
        ],
    }
}

/// The deadlines of a stored instance event (registry entry of the instance).
pub fn stored_deadline_effects(
    instance_id: &str,
    e: &crate::history::StoredEvent<'_>,
) -> Result<Vec<DeadlineEffect>, crate::codec::CodecError> {
    use crate::codec::EventCodec;
    let event = InstanceEvent::decode_payload(e.event_type, e.schema_version, e.payload)?;
    Ok(deadline_effects(&event, instance_id))
}

/// The instance's deadline rules and the command each fires.
pub static DEADLINE_RULES: &[(DeadlineRule, crate::registry::Fire)] = &[
    (DeadlineRule::InstanceExpiry, fire_expiry),
    (DeadlineRule::InstanceClose, fire_close),
];

fn fire_expiry(d: &Deadline, _ids: &dyn crate::ids::IdGen) -> Box<dyn crate::Decision> {
    Box::new(crate::Single::<Instance>::new(
        d.stream_id.clone(),
        InstanceCommand::Expire {
            deadline_id: d.id.clone(),
        },
    ))
}

fn fire_close(d: &Deadline, _ids: &dyn crate::ids::IdGen) -> Box<dyn crate::Decision> {
    Box::new(crate::Single::<Instance>::new(
        d.stream_id.clone(),
        InstanceCommand::Close {
            deadline_id: d.id.clone(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn monthly_specs_expire_on_the_same_local_day_months_later_and_once_never() {
        let tz = chrono_tz::Asia::Shanghai;
        assert_eq!(
            expiry(
                at("2026-01-31T10:00:00+08:00"),
                1,
                DurationUnit::Month,
                1,
                tz
            ),
            Some(at("2026-02-28T10:00:00+08:00"))
        );
        assert_eq!(
            expiry(
                at("2026-11-22T09:00:00+08:00"),
                1,
                DurationUnit::Year,
                2,
                tz
            ),
            Some(at("2028-11-22T09:00:00+08:00"))
        );
        assert_eq!(
            expiry(
                at("2026-11-22T09:00:00+08:00"),
                1,
                DurationUnit::Once,
                1,
                tz
            ),
            None
        );
    }

    #[test]
    fn an_instance_expires_then_closes_7_days_later_and_only_when_due() {
        let sys = |t: &str| Context::new(at(t), Actor::System, chrono_tz::Asia::Shanghai);
        let opened = InstanceEvent::InstanceOpened(InstanceOpened {
            instance_id: "ins_1".into(),
            order_id: "ord_1".into(),
            product_id: "prd_1".into(),
            seller_org_id: "org_1".into(),
            customer_id: "cus_1".into(),
            spec_id: "m".into(),
            trial: false,
            status: InstanceStatus::Active,
            opened_at: at("2026-11-22T09:00:00+08:00"),
            expires_at: Some(at("2026-12-22T09:00:00+08:00")),
        });
        let s = Instance::fold(std::slice::from_ref(&opened));
        assert!(Instance::decide(
            &s,
            &InstanceCommand::Expire {
                deadline_id: "d".into()
            },
            &sys("2026-12-22T08:59:59+08:00")
        )
        .unwrap()
        .is_empty());
        let e = Instance::decide(
            &s,
            &InstanceCommand::Expire {
                deadline_id: "d".into(),
            },
            &sys("2026-12-22T09:00:00+08:00"),
        )
        .unwrap();
        let s = Instance::fold(&[opened, e[0].clone()]);
        assert_eq!(s.status, InstanceStatus::Expired);
        assert!(Instance::decide(
            &s,
            &InstanceCommand::Close {
                deadline_id: "c".into()
            },
            &sys("2026-12-29T08:59:59+08:00")
        )
        .unwrap()
        .is_empty());
        assert_eq!(
            Instance::decide(
                &s,
                &InstanceCommand::Close {
                    deadline_id: "c".into()
                },
                &sys("2026-12-29T09:00:00+08:00")
            )
            .unwrap()
            .len(),
            1
        );
        assert_eq!(instance_id_for("ord_01abc", 2), "ins_01abc_2");
    }
}
