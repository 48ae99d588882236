//! Due timers: every started, not yet stopped deadline, ordered by due time. The scheduler
//! reads this to fire deadlines (SPEC.md §9); it is rebuilt from the log like any model.

use std::collections::BTreeSet;
use std::sync::Arc;

use domain::deadline::{effects_of, Deadline, DeadlineEffect, DeadlineRule};
use domain::Timestamp;
use eventlog::Record;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::runtime::{ApplyError, ReadModel};

/// Every pending deadline, by id and in firing order.
///
/// Memory: a deadline's id (`<stream id>/<rule>/<discriminator>`, ~70 bytes) is stored once,
/// shared by both maps, and its stream id is not stored at all when it is the id's prefix,
/// as [`Deadline::id_for`] makes it. With one `String` per map and a separate stream id a
/// pending deadline cost ~670 bytes (measured: 400 MB for the ~600k pending deadlines of 300k
/// paid orders); this layout needs about a third of that.
///
/// Stored (in checkpoints) as the bare list of pending deadlines in firing order: both maps
/// are rebuilt from it on load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimersState {
    pending: foldhash::HashMap<Arc<str>, Pending>,
    /// (due at, deadline id), the firing order.
    by_due: BTreeSet<(Timestamp, Arc<str>)>,
}

/// A pending deadline without its id (the map key).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pending {
    due_at: Timestamp,
    rule: DeadlineRule,
    /// The stream id, only when it is not the id's prefix (never for ids from `id_for`).
    stream_id: Option<Box<str>>,
}

impl Pending {
    fn of(d: &Deadline) -> Pending {
        let stream_id = (stream_prefix(&d.id) != Some(d.stream_id.as_str()))
            .then(|| d.stream_id.as_str().into());
        Pending {
            due_at: d.due_at,
            rule: d.rule,
            stream_id,
        }
    }

    fn stream_id<'a>(&'a self, id: &'a str) -> &'a str {
        match &self.stream_id {
            Some(s) => s,
            None => stream_prefix(id).unwrap_or_default(),
        }
    }

    fn deadline(&self, id: &str) -> Deadline {
        Deadline {
            id: id.to_owned(),
            due_at: self.due_at,
            stream_id: self.stream_id(id).to_owned(),
            rule: self.rule,
        }
    }
}

/// The stream id that [`Deadline::id_for`] puts in front of the first `/`.
fn stream_prefix(id: &str) -> Option<&str> {
    id.split_once('/').map(|(stream, _)| stream)
}

/// A stored deadline, borrowed: the same fields in the same order as [`Deadline`], so the
/// checkpoint bytes are those of a `Vec<Deadline>`.
#[derive(Serialize)]
struct DeadlineRef<'a> {
    id: &'a str,
    due_at: Timestamp,
    stream_id: &'a str,
    rule: DeadlineRule,
}

impl Serialize for TimersState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = serializer.serialize_seq(Some(self.by_due.len()))?;
        for (_, id) in &self.by_due {
            let p = self
                .pending
                .get(id)
                .ok_or_else(|| S::Error::custom(format!("deadline {id} is due but not pending")))?;
            seq.serialize_element(&DeadlineRef {
                id,
                due_at: p.due_at,
                stream_id: p.stream_id(id),
                rule: p.rule,
            })?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for TimersState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The firing order is built in bulk from sorted input (see the orders model).
        let deadlines = Vec::<Deadline>::deserialize(deserializer)?;
        let entries: Vec<(Arc<str>, Pending)> = deadlines
            .iter()
            .map(|d| (Arc::from(d.id.as_str()), Pending::of(d)))
            .collect();
        Ok(TimersState {
            by_due: entries
                .iter()
                .map(|(id, p)| (p.due_at, Arc::clone(id)))
                .collect(),
            pending: entries.into_iter().collect(),
        })
    }
}

impl TimersState {
    /// Deadlines due at or before `now`, earliest first, at most `limit`.
    pub fn due(&self, now: Timestamp, limit: usize) -> Vec<Deadline> {
        self.by_due
            .iter()
            .take_while(|(at, _)| *at <= now)
            .filter_map(|(_, id)| self.pending.get(id).map(|p| p.deadline(id)))
            .take(limit)
            .collect()
    }

    /// The earliest pending due time.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.by_due.iter().next().map(|(at, _)| *at)
    }

    /// How many deadlines are pending.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether no deadline is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    pub fn apply_effect(&mut self, effect: DeadlineEffect) {
        match effect {
            DeadlineEffect::Start(d) => {
                let pending = Pending::of(&d);
                if let Some((id, old)) = self.pending.remove_entry(d.id.as_str()) {
                    self.by_due.remove(&(old.due_at, id));
                }
                let id: Arc<str> = Arc::from(d.id);
                self.by_due.insert((pending.due_at, Arc::clone(&id)));
                self.pending.insert(id, pending);
            }
            DeadlineEffect::Stop { id } => {
                if let Some((id, old)) = self.pending.remove_entry(id.as_str()) {
                    self.by_due.remove(&(old.due_at, id));
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

    #[test]
    fn a_deadline_comes_back_as_it_went_in_and_survives_a_checkpoint() {
        let from_id_for = Deadline {
            id: Deadline::id_for("order-ord_1", DeadlineRule::OrderPaymentTimeout, "1"),
            due_at: Timestamp::from_micros(5),
            stream_id: "order-ord_1".into(),
            rule: DeadlineRule::OrderPaymentTimeout,
        };
        // An id that does not start with its stream id keeps the stream id of its own.
        let other = d("x", 6);
        let mut s = TimersState::default();
        s.apply_effect(DeadlineEffect::Start(from_id_for.clone()));
        s.apply_effect(DeadlineEffect::Start(other.clone()));
        assert_eq!(s.pending[from_id_for.id.as_str()].stream_id, None);
        let due = s.due(Timestamp::from_micros(6), 10);
        assert_eq!(due, vec![from_id_for.clone(), other.clone()]);

        // The checkpoint holds the bytes of the plain list of deadlines, in firing order.
        let config = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(&s, config).unwrap();
        let plain = bincode::serde::encode_to_vec(vec![from_id_for, other], config).unwrap();
        assert_eq!(bytes, plain);
        let (back, _): (TimersState, usize) =
            bincode::serde::decode_from_slice(&bytes, config).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.len(), 2);
    }
}
