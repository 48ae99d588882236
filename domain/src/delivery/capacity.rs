//! Provider capacity per product (SPEC §8: each provider linked to a product has a weight and
//! a maximum number of active projects). Stream `provload-prd_…`, one per product: per
//! provider org, the deliveries of the product it holds.
//!
//! Invariant: a delivery is held by at most one provider org of a product, and, with a cap,
//! a take never makes an org hold more than its cap; taking what is held and releasing what
//! is not append nothing, so `held.len()` is the count a recount from the log gives.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::decider::{Context, Decider};
use crate::error::DomainError;

/// Stream id of a product's provider load.
pub fn provider_load_stream(product_id: &str) -> String {
    format!("provload-{product_id}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderWorkTaken {
    pub org_id: String,
    pub delivery_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderWorkReleased {
    pub org_id: String,
    pub delivery_id: String,
}

crate::event_enum! {
    /// Events of a product's provider load.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum ProviderLoadEvent {
        ProviderWorkTaken(ProviderWorkTaken) version 1,
        ProviderWorkReleased(ProviderWorkReleased) version 1,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderLoadState {
    /// Provider org id → the deliveries of the product it holds.
    pub held: BTreeMap<String, BTreeSet<String>>,
}

impl ProviderLoadState {
    /// Deliveries of the product `org_id` holds now.
    pub fn active(&self, org_id: &str) -> u32 {
        self.held
            .get(org_id)
            .map_or(0, |d| u32::try_from(d.len()).unwrap_or(u32::MAX))
    }

    /// The org holding `delivery_id`, if any.
    pub fn holder(&self, delivery_id: &str) -> Option<&str> {
        self.held
            .iter()
            .find(|(_, d)| d.contains(delivery_id))
            .map(|(org, _)| org.as_str())
    }

    /// Whether `org_id` may take one more delivery under `max_active` (`None`: no cap).
    pub fn has_room(&self, org_id: &str, max_active: Option<u32>) -> bool {
        max_active.is_none_or(|max| self.active(org_id) < max)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderLoadCommand {
    /// `org_id` takes `delivery_id`, capped at `max_active` (`None`: no cap — the seller's
    /// own org when the product names no providers).
    Take {
        org_id: String,
        delivery_id: String,
        max_active: Option<u32>,
    },
    /// Whoever holds `delivery_id` gives it back (nobody → no event).
    Release { delivery_id: String },
}

/// The refusal of a take by a full provider: 409 `provider_unavailable`, reason
/// `capacity_full`.
pub fn provider_full(org_id: &str) -> DomainError {
    DomainError::conflict(
        "provider_unavailable",
        format!("provider {org_id} holds its maximum of active projects"),
    )
    .with("reason", "capacity_full")
    .with("org_id", org_id)
}

#[derive(Debug)]
pub struct ProviderLoad;

impl Decider for ProviderLoad {
    type State = ProviderLoadState;
    type Command = ProviderLoadCommand;
    type Event = ProviderLoadEvent;
    type Error = DomainError;

    fn decide(
        state: &ProviderLoadState,
        command: &ProviderLoadCommand,
        _ctx: &Context,
    ) -> Result<Vec<ProviderLoadEvent>, DomainError> {
        match command {
            ProviderLoadCommand::Take {
                org_id,
                delivery_id,
                max_active,
            } => match state.holder(delivery_id) {
                Some(holder) if holder == org_id => Ok(Vec::new()),
                Some(holder) => Err(DomainError::invalid_state(
                    "held_by_other_provider",
                    format!("delivery {delivery_id} is held by provider {holder}"),
                )),
                None if !state.has_room(org_id, *max_active) => Err(provider_full(org_id)),
                None => Ok(vec![ProviderLoadEvent::ProviderWorkTaken(
                    ProviderWorkTaken {
                        org_id: org_id.clone(),
                        delivery_id: delivery_id.clone(),
                    },
                )]),
            },
            ProviderLoadCommand::Release { delivery_id } => Ok(state
                .holder(delivery_id)
                .map(|org| {
                    ProviderLoadEvent::ProviderWorkReleased(ProviderWorkReleased {
                        org_id: org.to_owned(),
                        delivery_id: delivery_id.clone(),
                    })
                })
                .into_iter()
                .collect()),
        }
    }

    fn evolve(mut state: ProviderLoadState, event: &ProviderLoadEvent) -> ProviderLoadState {
        match event {
            ProviderLoadEvent::ProviderWorkTaken(e) => {
                state
                    .held
                    .entry(e.org_id.clone())
                    .or_default()
                    .insert(e.delivery_id.clone());
            }
            ProviderLoadEvent::ProviderWorkReleased(e) => {
                if let Some(d) = state.held.get_mut(&e.org_id) {
                    d.remove(&e.delivery_id);
                    if d.is_empty() {
                        state.held.remove(&e.org_id);
                    }
                }
            }
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decider::testing::DeciderTest;
    use crate::time::Timestamp;

    fn ctx() -> Context {
        Context::system(Timestamp::from_micros(0), chrono_tz::Asia::Shanghai)
    }

    fn taken(org: &str, dlv: &str) -> ProviderLoadEvent {
        ProviderLoadEvent::ProviderWorkTaken(ProviderWorkTaken {
            org_id: org.into(),
            delivery_id: dlv.into(),
        })
    }

    fn take(org: &str, dlv: &str, max: Option<u32>) -> ProviderLoadCommand {
        ProviderLoadCommand::Take {
            org_id: org.into(),
            delivery_id: dlv.into(),
            max_active: max,
        }
    }

    #[test]
    fn a_provider_below_its_cap_takes_the_delivery() {
        let state = DeciderTest::<ProviderLoad>::given(vec![taken("org_p", "dlv_1")])
            .when(take("org_p", "dlv_2", Some(2)), &ctx())
            .then_events(vec![taken("org_p", "dlv_2")]);
        assert_eq!(state.active("org_p"), 2);
    }

    #[test]
    fn a_provider_at_its_cap_is_refused_provider_unavailable_capacity_full() {
        let e = DeciderTest::<ProviderLoad>::given(vec![
            taken("org_p", "dlv_1"),
            taken("org_p", "dlv_2"),
        ])
        .when(take("org_p", "dlv_3", Some(2)), &ctx())
        .then_error(|e| e.code == "provider_unavailable");
        assert!(e.details.contains(&("reason", "capacity_full".into())));
    }

    #[test]
    fn a_cap_of_one_provider_does_not_count_another_providers_work() {
        DeciderTest::<ProviderLoad>::given(vec![taken("org_q", "dlv_1")])
            .when(take("org_p", "dlv_2", Some(1)), &ctx())
            .then_events(vec![taken("org_p", "dlv_2")]);
    }

    #[test]
    fn without_a_cap_the_sellers_own_org_always_takes() {
        let history: Vec<_> = (0..60)
            .map(|i| taken("org_s", &format!("dlv_{i}")))
            .collect();
        DeciderTest::<ProviderLoad>::given(history)
            .when(take("org_s", "dlv_x", None), &ctx())
            .then_events(vec![taken("org_s", "dlv_x")]);
    }

    #[test]
    fn taking_a_held_delivery_again_appends_nothing_even_when_full() {
        DeciderTest::<ProviderLoad>::given(vec![taken("org_p", "dlv_1")])
            .when(take("org_p", "dlv_1", Some(1)), &ctx())
            .then_events(vec![]);
    }

    #[test]
    fn a_delivery_held_by_another_provider_cannot_be_taken_before_it_is_released() {
        DeciderTest::<ProviderLoad>::given(vec![taken("org_p", "dlv_1")])
            .when(take("org_q", "dlv_1", None), &ctx())
            .then_error(|e| e.code == "invalid_state");
    }

    #[test]
    fn releasing_frees_the_holders_capacity_and_a_second_release_appends_nothing() {
        let released = ProviderLoadEvent::ProviderWorkReleased(ProviderWorkReleased {
            org_id: "org_p".into(),
            delivery_id: "dlv_1".into(),
        });
        let release = ProviderLoadCommand::Release {
            delivery_id: "dlv_1".into(),
        };
        let state = DeciderTest::<ProviderLoad>::given(vec![taken("org_p", "dlv_1")])
            .when(release.clone(), &ctx())
            .then_events(vec![released.clone()]);
        assert_eq!(state.active("org_p"), 0);
        assert!(state.has_room("org_p", Some(1)));
        DeciderTest::<ProviderLoad>::given(vec![taken("org_p", "dlv_1"), released])
            .when(release, &ctx())
            .then_events(vec![]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        /// Provider load against a model: one holder per delivery, a capped take never goes
        /// beyond the cap, and the state folded from the whole stream (a recount) equals the
        /// one built step by step.
        #[test]
        fn provider_load_agrees_with_the_model_and_with_a_recount(
            steps in proptest::collection::vec(
                (proptest::bool::weighted(0.7), 0..3u8, 0..8u8, proptest::option::of(0..3u32)),
                1..60,
            ),
        ) {
            let mut history: Vec<ProviderLoadEvent> = Vec::new();
            let mut state = ProviderLoadState::default();
            let mut model: BTreeMap<String, String> = BTreeMap::new(); // delivery → org
            for (is_take, org, dlv, max) in steps {
                let (org, dlv) = (format!("org_{org}"), format!("dlv_{dlv}"));
                let command = if is_take {
                    take(&org, &dlv, max)
                } else {
                    ProviderLoadCommand::Release { delivery_id: dlv.clone() }
                };
                let result = ProviderLoad::decide(&state, &command, &ctx());
                let count = |m: &BTreeMap<String, String>| m.values().filter(|o| **o == org).count();
                if is_take {
                    let expected = match model.get(&dlv) {
                        Some(holder) if *holder == org => None,
                        Some(_) => Some("invalid_state"),
                        None if max.is_some_and(|m| count(&model) >= m as usize) => {
                            Some("provider_unavailable")
                        }
                        None => {
                            model.insert(dlv.clone(), org.clone());
                            None
                        }
                    };
                    proptest::prop_assert_eq!(result.as_ref().err().map(|e| e.code), expected);
                    if let (Some(m), Ok(events)) = (max, &result) {
                        if !events.is_empty() {
                            proptest::prop_assert!(count(&model) <= m as usize);
                        }
                    }
                } else {
                    model.remove(&dlv);
                }
                let events = result.unwrap_or_default();
                for e in &events {
                    state = ProviderLoad::evolve(state, e);
                }
                history.extend(events);
                let held: BTreeMap<String, String> = state
                    .held
                    .iter()
                    .flat_map(|(o, ds)| ds.iter().map(move |d| (d.clone(), o.clone())))
                    .collect();
                proptest::prop_assert_eq!(&held, &model);
                proptest::prop_assert_eq!(&ProviderLoad::fold(&history), &state);
            }
        }
    }
}
