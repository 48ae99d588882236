//! Due timers: every started, not yet stopped deadline, ordered by due time. The scheduler
//! reads this to fire deadlines (SPEC.md §9); it is rebuilt from the log like any model.

use std::collections::{BTreeMap, BTreeSet};

use domain::deadline::{effects_of, Deadline, DeadlineEffect};
use domain::Timestamp;
use eventlog::Record;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::runtime::{ApplyError, ReadModel};

/// Stored (in checkpoints) as the bare list of pending deadlines: both maps are rebuilt from
/// it on load, so no id is written three times.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimersState {
    pub pending: BTreeMap<String, Deadline>,
    /// (due at, deadline id), the firing order.
    pub by_due: BTreeSet<(Timestamp, String)>,
}

impl Serialize for TimersState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.pending.values())
    }
}

impl<'de> Deserialize<'de> for TimersState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Built in bulk from sorted input, not one insert at a time (see the orders model).
        let deadlines = Vec::<Deadline>::deserialize(deserializer)?;
        Ok(TimersState {
            by_due: deadlines.iter().map(|d| (d.due_at, d.id.clone())).collect(),
            pending: deadlines.into_iter().map(|d| (d.id.clone(), d)).collect(),
        })
    }
}

impl TimersState {
    /// Deadlines due at or before `now`, earliest first, at most `limit`.
    pub fn due(&self, now: Timestamp, limit: usize) -> Vec<Deadline> {
        self.by_due
            .iter()
            .take_while(|(at, _)| *at <= now)
            .filter_map(|(_, id)| self.pending.get(id).cloned())
            .take(limit)
            .collect()
    }

    /// The earliest pending due time.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.by_due.iter().next().map(|(at, _)| *at)
    }

    pub fn apply_effect(&mut self, effect: DeadlineEffect) {
        match effect {
            DeadlineEffect::Start(d) => {
                if let Some(old) = self.pending.remove(&d.id) {
                    self.by_due.remove(&(old.due_at, old.id));
                }
                self.by_due.insert((d.due_at, d.id.clone()));
                self.pending.insert(d.id.clone(), d);
            }
            DeadlineEffect::Stop { id } => {
                if let Some(old) = self.pending.remove(&id) {
                    self.by_due.remove(&(old.due_at, old.id));
                }
            }
        }
    }
}

/// The timer read model.
#[derive(Debug)]
pub struct Timers;

impl ReadModel for Timers {
    const NAME: &'static str = "timers";
    const VERSION: u32 = 2;
    type State = TimersState;

    fn apply(state: &mut TimersState, r: &Record) -> Result<(), ApplyError> {
        let effects = effects_of(&r.stream_id, &r.event_type, r.schema_version, &r.payload)
            .map_err(|e| ApplyError(format!("{} at {}: {e}", r.event_type, r.position)))?;
        for e in effects {
            state.apply_effect(e);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::deadline::DeadlineRule;

    fn d(id: &str, at: i64) -> Deadline {
        Deadline {
            id: id.into(),
            due_at: Timestamp::from_micros(at),
            stream_id: "order-o".into(),
            rule: DeadlineRule::OrderPaymentTimeout,
        }
    }

    #[test]
    fn due_deadlines_come_earliest_first_and_stopped_ones_never() {
        let mut s = TimersState::default();
        s.apply_effect(DeadlineEffect::Start(d("b", 20)));
        s.apply_effect(DeadlineEffect::Start(d("a", 10)));
        s.apply_effect(DeadlineEffect::Start(d("c", 30)));
        s.apply_effect(DeadlineEffect::Stop { id: "b".into() });
        let due: Vec<String> = s
            .due(Timestamp::from_micros(30), 10)
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(due, vec!["a", "c"]);
        assert!(s.due(Timestamp::from_micros(9), 10).is_empty());
        // Restarting a deadline moves it.
        s.apply_effect(DeadlineEffect::Start(d("a", 40)));
        assert_eq!(s.next_due(), Some(Timestamp::from_micros(30)));
        assert_eq!(s.by_due.len(), s.pending.len());
    }
}
