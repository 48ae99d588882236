//! Due timers: every started, not yet stopped deadline, ordered by due time. The scheduler
//! reads this to fire deadlines (SPEC.md §9); it is rebuilt from the log like any model.

use std::collections::BTreeMap;
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
///
/// The rows live in the firing order (`by_due`), so a checkpoint and `due` walk it without a
/// hash lookup per deadline; `pending` only finds a deadline's due time by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimersState {
    /// Deadline id → its due time (its key in `by_due`).
    pending: foldhash::HashMap<Arc<str>, Timestamp>,
    /// (due at, deadline id) → the rest of the deadline, in firing order.
    by_due: BTreeMap<(Timestamp, Arc<str>), Pending>,
}

/// A pending deadline without its id and due time (the keys).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pending {
    rule: DeadlineRule,
    /// The stream id, only when it is not the id's prefix (never for ids from `id_for`).
    stream_id: Option<Box<str>>,
}

impl Pending {
    fn of(d: &Deadline) -> Pending {
        let stream_id = (stream_prefix(&d.id) != Some(d.stream_id.as_str()))
            .then(|| d.stream_id.as_str().into());
        Pending {
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

    fn deadline(&self, id: &str, due_at: Timestamp) -> Deadline {
        Deadline {
            id: id.to_owned(),
            due_at,
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
        if self.by_due.len() != self.pending.len() {
            return Err(S::Error::custom("the timers' two maps disagree"));
        }
        for ((due_at, id), p) in &self.by_due {
            seq.serialize_element(&DeadlineRef {
                id,
                due_at: *due_at,
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
        let ids: Vec<Arc<str>> = deadlines.iter().map(|d| Arc::from(d.id.as_str())).collect();
        Ok(TimersState {
            pending: ids
                .iter()
                .zip(&deadlines)
                .map(|(id, d)| (Arc::clone(id), d.due_at))
                .collect(),
            by_due: ids
                .into_iter()
                .zip(&deadlines)
                .map(|(id, d)| ((d.due_at, id), Pending::of(d)))
                .collect(),
        })
    }
}

impl TimersState {
    /// Deadlines due at or before `now`, earliest first, at most `limit`.
    pub fn due(&self, now: Timestamp, limit: usize) -> Vec<Deadline> {
        self.by_due
            .iter()
            .take_while(|((at, _), _)| *at <= now)
            .map(|((at, id), p)| p.deadline(id, *at))
            .take(limit)
            .collect()
    }

    /// The earliest pending due time.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.by_due.keys().next().map(|(at, _)| *at)
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
                // A restarted deadline keeps its id's allocation and its slot in `pending`.
                let restarted = self
                    .pending
                    .get_key_value(d.id.as_str())
                    .map(|(id, due)| (Arc::clone(id), *due));
                if let Some((id, old)) = restarted {
                    self.by_due.remove(&(old, Arc::clone(&id)));
                    self.by_due.insert((d.due_at, Arc::clone(&id)), pending);
                    self.pending.insert(id, d.due_at);
                    return;
                }
                let id: Arc<str> = Arc::from(d.id);
                self.by_due.insert((d.due_at, Arc::clone(&id)), pending);
                self.pending.insert(id, d.due_at);
            }
            DeadlineEffect::Stop { id } => {
                if let Some((id, due)) = self.pending.remove_entry(id.as_str()) {
                    self.by_due.remove(&(due, id));
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
        let due = s.pending[from_id_for.id.as_str()];
        let key = (due, Arc::from(from_id_for.id.as_str()));
        assert_eq!(s.by_due[&key].stream_id, None);
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
