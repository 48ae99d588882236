//! The one registry of aggregates (issue "shape for growth" §2). Each aggregate is one line
//! of [`AGGREGATES`]: its stream prefix, the id kinds that name its streams, its event types
//! (JSON decoding for `/v1/history`, exports and replay-tool; the history fold), the
//! deadlines its events start and stop, and the command each of its deadline rules fires.
//! Everything that meets a stream of any kind — the runner loading the streams a decision
//! names, the event feed, the timer projection, the scheduler, `replay-tool history` — finds
//! the aggregate here by the stream's prefix.

use std::any::Any;

use serde::Serialize;

use crate::codec::{CodecError, EventCodec, JsonValue};
use crate::deadline::{Deadline, DeadlineEffect, DeadlineRule};
use crate::decider::Decider;
use crate::decision::{AnyState, Decision};
use crate::history::{Step, StoredEvent};
use crate::ids::{IdGen, IdKind};

/// What a deadline rule fires: the decision for a due deadline (`ids` for a new id the
/// command needs, e.g. the review a default review creates).
pub type Fire = fn(&Deadline, &dyn IdGen) -> Box<dyn Decision>;

/// One registered aggregate.
pub struct Aggregate {
    /// The stream kind: streams are `<prefix>-<id>`.
    pub prefix: &'static str,
    /// Id kinds whose ids name this aggregate's streams (`ord_…` → `order-ord_…`).
    pub id_kinds: &'static [IdKind],
    /// Every event type name the aggregate stores.
    pub event_types: &'static [&'static str],
    /// A stored event as JSON.
    pub decode_json: fn(&StoredEvent<'_>) -> Result<JsonValue, CodecError>,
    /// A stream's events replayed with the aggregate's `evolve`, the state after each.
    pub replay: fn(&[StoredEvent<'_>]) -> Result<Vec<Step>, CodecError>,
    /// The state before the first event.
    pub initial: fn() -> AnyState,
    /// The state before the first event, as JSON (what `replay-tool history --diff` compares
    /// the first event's state with).
    pub initial_json: fn() -> JsonValue,
    /// The state after one stored event.
    pub apply: fn(AnyState, &StoredEvent<'_>) -> Result<AnyState, CodecError>,
    /// A copy of a state of this aggregate (`None` if it is of another type).
    pub clone_state: fn(&(dyn Any + Send + Sync)) -> Option<AnyState>,
    /// The deadlines a stored event of stream `<prefix>-<id>` starts and stops (given the id).
    pub deadline_effects: fn(&str, &StoredEvent<'_>) -> Result<Vec<DeadlineEffect>, CodecError>,
    /// The deadline rules of this aggregate and the command each fires.
    pub deadline_rules: &'static [(DeadlineRule, Fire)],
}

fn decode_json<E: EventCodec>(e: &StoredEvent<'_>) -> Result<JsonValue, CodecError> {
    E::decode_payload(e.event_type, e.schema_version, e.payload).map(|e| e.payload_json())
}

fn initial<D: Decider>() -> AnyState {
    Box::new(D::State::default())
}

fn initial_json<D>() -> JsonValue
where
    D: Decider,
    D::State: Serialize,
{
    serde_json::to_value(D::State::default()).unwrap_or(JsonValue::Null)
}

fn apply<D>(state: AnyState, e: &StoredEvent<'_>) -> Result<AnyState, CodecError>
where
    D: Decider,
    D::Event: EventCodec,
{
    let event = D::Event::decode_payload(e.event_type, e.schema_version, e.payload)?;
    let state = match state.downcast::<D::State>() {
        Ok(s) => *s,
        // A state of another aggregate cannot reach here: states are created by `initial`
        // of the same entry. Start over rather than panic.
        Err(_) => D::State::default(),
    };
    Ok(Box::new(D::evolve(state, &event)))
}

fn clone_state<D: Decider>(state: &(dyn Any + Send + Sync)) -> Option<AnyState> {
    state
        .downcast_ref::<D::State>()
        .map(|s| Box::new(s.clone()) as AnyState)
}

fn no_deadlines(_id: &str, _e: &StoredEvent<'_>) -> Result<Vec<DeadlineEffect>, CodecError> {
    Ok(Vec::new())
}

impl Aggregate {
    /// The entry of aggregate `D`, whose streams are `<prefix>-<id>` for ids of `id_kinds`.
    pub const fn of<D>(prefix: &'static str, id_kinds: &'static [IdKind]) -> Aggregate
    where
        D: Decider + 'static,
        D::Event: EventCodec + 'static,
        D::State: Serialize,
    {
        Aggregate {
            prefix,
            id_kinds,
            event_types: D::Event::TYPE_NAMES,
            decode_json: decode_json::<D::Event>,
            replay: crate::history::fold::<D>,
            initial: initial::<D>,
            initial_json: initial_json::<D>,
            apply: apply::<D>,
            clone_state: clone_state::<D>,
            deadline_effects: no_deadlines,
            deadline_rules: &[],
        }
    }

    /// With the deadlines its events start and stop and the commands its rules fire.
    pub const fn deadlines(
        mut self,
        effects: fn(&str, &StoredEvent<'_>) -> Result<Vec<DeadlineEffect>, CodecError>,
        rules: &'static [(DeadlineRule, Fire)],
    ) -> Aggregate {
        self.deadline_effects = effects;
        self.deadline_rules = rules;
        self
    }

    /// The stream of this aggregate with id `id`.
    pub fn stream(&self, id: &str) -> String {
        format!("{}-{id}", self.prefix)
    }
}

/// Every aggregate. Adding one is one line here (ARCHITECTURE.md, "How to add").
pub static AGGREGATES: &[Aggregate] = &[
    Aggregate::of::<crate::platform::Org>("org", &[IdKind::Org]),
    Aggregate::of::<crate::platform::Principal>(
        "principal",
        &[IdKind::Principal, IdKind::Customer],
    ),
    Aggregate::of::<crate::platform::Calendar>("calendar", &[]),
    Aggregate::of::<crate::product::Product>("product", &[IdKind::Product]).deadlines(
        crate::product::stored_deadline_effects,
        crate::product::DEADLINE_RULES,
    ),
    Aggregate::of::<crate::purchases::Purchases>("purchases", &[]),
    Aggregate::of::<crate::order::Order>("order", &[IdKind::Order]).deadlines(
        crate::order::stored_deadline_effects,
        crate::order::DEADLINE_RULES,
    ),
    Aggregate::of::<crate::instance::Instance>("instance", &[IdKind::Instance]).deadlines(
        crate::instance::stored_deadline_effects,
        crate::instance::DEADLINE_RULES,
    ),
    Aggregate::of::<crate::platform::SimClock>("clock", &[]),
    Aggregate::of::<crate::coupon::Campaign>("campaign", &[IdKind::Campaign]),
    Aggregate::of::<crate::coupon::CouponStock>("stock", &[]),
    Aggregate::of::<crate::coupon::Wallet>("wallet", &[]),
    Aggregate::of::<crate::coupon::AutoGrantIndex>("autogrant", &[]),
    Aggregate::of::<crate::delivery::project::Delivery>("delivery", &[IdKind::Delivery]).deadlines(
        crate::delivery::project::stored_deadline_effects,
        crate::delivery::project::DEADLINE_RULES,
    ),
    Aggregate::of::<crate::delivery::staff::Staff>("staff", &[IdKind::Staff]),
    Aggregate::of::<crate::delivery::staff::OrgStaff>("orgstaff", &[]),
    Aggregate::of::<crate::delivery::capacity::ProviderLoad>("provload", &[]),
    Aggregate::of::<crate::delivery::queue::DispatchQueue>("dispatchq", &[]),
    Aggregate::of::<crate::delivery::template::Template>("template", &[IdKind::Template]),
    Aggregate::of::<crate::pageview::PageViews>("pageviews", &[IdKind::PageViews]),
];

/// The aggregate that owns `stream_id` (by its prefix).
pub fn aggregate_of(stream_id: &str) -> Option<&'static Aggregate> {
    let (kind, _) = crate::split_stream_id(stream_id);
    AGGREGATES.iter().find(|a| a.prefix == kind)
}

/// The aggregate that stores events of type `type_name`.
pub fn aggregate_of_type(type_name: &str) -> Option<&'static Aggregate> {
    AGGREGATES
        .iter()
        .find(|a| a.event_types.contains(&type_name))
}

/// The stream an auditor means by an id: a bare id of a registered kind (`ord_…`) is its
/// aggregate's stream; anything else is taken as a stream id.
pub fn stream_for(id_or_stream: &str) -> String {
    match IdKind::of(id_or_stream)
        .and_then(|kind| AGGREGATES.iter().find(|a| a.id_kinds.contains(&kind)))
    {
        Some(a) => a.stream(id_or_stream),
        None => id_or_stream.to_owned(),
    }
}

/// The decision a due deadline fires, found by its rule; `None` for a rule no aggregate
/// registers.
pub fn deadline_decision(d: &Deadline, ids: &dyn IdGen) -> Option<Box<dyn Decision>> {
    AGGREGATES
        .iter()
        .flat_map(|a| a.deadline_rules.iter())
        .find(|(rule, _)| *rule == d.rule)
        .map(|(_, fire)| fire(d, ids))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn prefixes_and_event_types_are_unique_and_every_rule_fires_exactly_one_command() {
        let prefixes: BTreeSet<_> = AGGREGATES.iter().map(|a| a.prefix).collect();
        assert_eq!(prefixes.len(), AGGREGATES.len());
        let types: Vec<_> = AGGREGATES.iter().flat_map(|a| a.event_types).collect();
        let unique: BTreeSet<_> = types.iter().collect();
        assert_eq!(unique.len(), types.len());
        let rules: Vec<_> = AGGREGATES
            .iter()
            .flat_map(|a| a.deadline_rules.iter().map(|(r, _)| *r))
            .collect();
        let unique: BTreeSet<_> = rules.iter().collect();
        assert_eq!(unique.len(), rules.len());
        assert_eq!(
            unique.into_iter().copied().collect::<Vec<_>>(),
            DeadlineRule::ALL.to_vec(),
            "every rule has a command and every command a rule"
        );
    }

    #[test]
    fn a_due_deadline_maps_to_the_command_of_its_rule_on_its_stream() {
        let ids = crate::ids::SequentialIdGen::default();
        let d = Deadline {
            id: crate::order::payment_deadline_id("ord_1"),
            due_at: crate::Timestamp::UNIX_EPOCH,
            stream_id: "order-ord_1".into(),
            rule: DeadlineRule::OrderPaymentTimeout,
        };
        let decision = deadline_decision(&d, &ids).expect("registered");
        assert_eq!(decision.primary(), "order-ord_1");
        assert_eq!(stream_for("ins_1x"), "instance-ins_1x");
        assert_eq!(stream_for("cus_1"), "principal-cus_1");
        assert_eq!(aggregate_of("order-ord_1").map(|a| a.prefix), Some("order"));
        assert!(aggregate_of("nothing-1").is_none());
    }
}
