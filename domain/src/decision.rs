//! Decisions: commands whose outcome may span several streams (STYLE §2, issue "shape for
//! growth" §1). A [`Decision`] names the stream it is about (its primary), the other streams
//! it needs to see (in stages: an order names its product and instances), and decides once
//! over all their states with one [`Context`] — one `now` for every stream it writes. The
//! result is an [`Outcome`]: per stream, the events encoded here with [`EventCodec`], plus the
//! streams whose loaded version must still hold when the events are appended.
//!
//! The command runner loads every named stream (by its aggregate, found in
//! [`crate::registry`]), decides, and appends the outcome atomically with `Exact(version)` on
//! each loaded stream and `NoStream` on a stream the decision creates, retrying the whole on
//! a conflict. A single-stream command is the [`Single`] decision of its aggregate.
//!
//! Invariant: deciding is pure — no I/O, no clock, no ids; everything arrives in the states,
//! the decision's own fields and the context.

use std::any::Any;
use std::collections::BTreeMap;

use crate::codec::{EncodedEvent, EventCodec};
use crate::decider::{Context, Decider};
use crate::error::DomainError;

/// A folded state of some aggregate, as the runner holds it without knowing its type.
pub type AnyState = Box<dyn Any + Send + Sync>;

/// Most loading stages a decision may ask for (a placement needs one, a payment one).
pub const DECISION_STAGES_MAX: usize = 4;

/// One loaded stream.
pub struct LoadedState {
    /// The stream's version as loaded (0: no such stream).
    pub version: u64,
    /// The folded state (the stream's aggregate's `State`).
    pub state: AnyState,
}

/// The states of every stream a decision has loaded, by stream id.
#[derive(Default)]
pub struct States {
    streams: BTreeMap<String, LoadedState>,
}

impl States {
    /// Records a loaded stream.
    pub fn insert(&mut self, stream_id: String, version: u64, state: AnyState) {
        self.streams
            .insert(stream_id, LoadedState { version, state });
    }

    /// Whether `stream_id` was loaded.
    pub fn contains(&self, stream_id: &str) -> bool {
        self.streams.contains_key(stream_id)
    }

    /// The loaded version of `stream_id`.
    pub fn version(&self, stream_id: &str) -> Option<u64> {
        self.streams.get(stream_id).map(|s| s.version)
    }

    /// Takes the state of `stream_id` out.
    pub fn remove(&mut self, stream_id: &str) -> Option<AnyState> {
        self.streams.remove(stream_id).map(|s| s.state)
    }

    /// The raw entry of `stream_id`.
    pub fn loaded(&self, stream_id: &str) -> Option<&LoadedState> {
        self.streams.get(stream_id)
    }

    /// The state of `stream_id` as aggregate `D` folded it. A stream the decision did not
    /// name, or of another aggregate, is a bug in the decision: an internal error.
    pub fn get<D: Decider>(&self, stream_id: &str) -> Result<&D::State, DomainError> {
        self.streams
            .get(stream_id)
            .and_then(|s| s.state.downcast_ref::<D::State>())
            .ok_or_else(|| {
                DomainError::internal(format!(
                    "the decision reads {stream_id}, which it did not load as {}",
                    std::any::type_name::<D>()
                ))
            })
    }
}

/// The events a decision appends to one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEvents {
    pub stream_id: String,
    pub events: Vec<EncodedEvent>,
}

/// What a decision decided.
#[derive(Default)]
pub struct Outcome {
    /// Events per stream; the primary's, if any, come first.
    pub appends: Vec<StreamEvents>,
    /// Streams read for the decision that must not have moved when it is appended (the
    /// product a placement priced), though nothing is appended to them.
    pub guards: Vec<String>,
    /// The primary's state after its events (the answer of the command).
    pub primary_state: Option<AnyState>,
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outcome")
            .field("appends", &self.appends)
            .field("guards", &self.guards)
            .finish_non_exhaustive()
    }
}

fn encode_all<E: EventCodec>(events: &[E]) -> Result<Vec<EncodedEvent>, DomainError> {
    events
        .iter()
        .map(|e| {
            e.encode().map_err(|err| {
                DomainError::validation("body", "payload_size", format!("event too large: {err}"))
            })
        })
        .collect()
}

impl Outcome {
    /// The outcome of the primary stream `stream_id` of aggregate `D`: its events (encoded
    /// here) and its state after them, folded with `D::evolve`.
    pub fn primary<D>(
        stream_id: &str,
        before: &D::State,
        events: Vec<D::Event>,
    ) -> Result<Outcome, DomainError>
    where
        D: Decider,
        D::Event: EventCodec,
    {
        let encoded = encode_all(&events)?;
        let after = events.iter().fold(before.clone(), D::evolve);
        Ok(Outcome {
            appends: vec![StreamEvents {
                stream_id: stream_id.to_owned(),
                events: encoded,
            }],
            guards: Vec::new(),
            primary_state: Some(Box::new(after)),
        })
    }

    /// Adds events of another stream.
    pub fn append<E: EventCodec>(
        &mut self,
        stream_id: &str,
        events: &[E],
    ) -> Result<(), DomainError> {
        let encoded = encode_all(events)?;
        match self.appends.iter_mut().find(|s| s.stream_id == stream_id) {
            Some(s) => s.events.extend(encoded),
            None => self.appends.push(StreamEvents {
                stream_id: stream_id.to_owned(),
                events: encoded,
            }),
        }
        Ok(())
    }

    /// Requires `stream_id` to be unchanged since it was loaded.
    pub fn guard(&mut self, stream_id: &str) {
        self.guards.push(stream_id.to_owned());
    }

    /// True when the decision appends nothing.
    pub fn is_empty(&self) -> bool {
        self.appends.iter().all(|s| s.events.is_empty())
    }

    /// The events for `stream_id`, if any.
    pub fn events_of(&self, stream_id: &str) -> &[EncodedEvent] {
        self.appends
            .iter()
            .find(|s| s.stream_id == stream_id)
            .map_or(&[], |s| &s.events)
    }

    /// The events for `stream_id`, decoded as `E` (a preview reading what it would append).
    pub fn decoded<E: EventCodec>(
        &self,
        stream_id: &str,
    ) -> Result<Vec<E>, crate::codec::CodecError> {
        self.events_of(stream_id)
            .iter()
            .map(|e| E::decode_payload(e.type_name, e.schema_version, &e.payload))
            .collect()
    }

    /// The primary's state after the decision, as aggregate `D`'s state.
    pub fn primary_state<D: Decider>(&self) -> Option<&D::State> {
        self.primary_state.as_ref()?.downcast_ref::<D::State>()
    }
}

/// A command that is decided over the states of one or more streams.
pub trait Decision: Send + Sync {
    /// The stream the command is about; its state is the command's answer.
    fn primary(&self) -> String;

    /// Other streams to load, given what is loaded so far (the primary first). Called again
    /// after each stage until it names nothing new (at most [`DECISION_STAGES_MAX`] stages).
    fn streams(&self, _loaded: &States) -> Vec<String> {
        Vec::new()
    }

    /// The outcome over the loaded states, at `ctx.now`.
    fn decide(&self, states: &States, ctx: &Context) -> Result<Outcome, DomainError>;
}

/// A command of one aggregate on one stream, as a decision.
#[derive(Debug, Clone)]
pub struct Single<D: Decider> {
    pub stream_id: String,
    pub command: D::Command,
}

impl<D> Single<D>
where
    D: Decider,
{
    pub fn new(stream_id: impl Into<String>, command: D::Command) -> Single<D> {
        Single {
            stream_id: stream_id.into(),
            command,
        }
    }
}

impl<D> Decision for Single<D>
where
    D: Decider<Error = DomainError> + Send + Sync + 'static,
    D::Event: EventCodec,
    D::Command: Send + Sync,
{
    fn primary(&self) -> String {
        self.stream_id.clone()
    }

    fn decide(&self, states: &States, ctx: &Context) -> Result<Outcome, DomainError> {
        let state = states.get::<D>(&self.stream_id)?;
        let events = D::decide(state, &self.command, ctx)?;
        Outcome::primary::<D>(&self.stream_id, state, events)
    }
}

/// Given / when / then across streams: the states of the streams a decision loads, built
/// from each stream's events with its aggregate's `evolve`.
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    use super::*;

    /// A decision test with the histories of its streams in place.
    #[derive(Default)]
    pub struct DecisionTest {
        states: States,
    }

    impl DecisionTest {
        /// An empty world: every stream not given is new.
        pub fn new() -> DecisionTest {
            DecisionTest::default()
        }

        /// Stream `stream_id` of aggregate `D` with these events.
        pub fn given<D: Decider>(mut self, stream_id: &str, events: &[D::Event]) -> DecisionTest {
            let state = D::fold(events);
            self.states
                .insert(stream_id.to_owned(), events.len() as u64, Box::new(state));
            self
        }

        /// Loads the streams `decision` names, stage by stage, as the runner does (a stream
        /// not given is new: its registered aggregate's initial state), and decides.
        pub fn when(
            mut self,
            decision: &dyn Decision,
            ctx: &Context,
        ) -> Result<Outcome, DomainError> {
            let empty = |stream: &str| -> AnyState {
                match crate::registry::aggregate_of(stream) {
                    Some(a) => (a.initial)(),
                    None => panic!("no aggregate is registered for {stream}"),
                }
            };
            let primary = decision.primary();
            if !self.states.contains(&primary) {
                self.states.insert(primary.clone(), 0, empty(&primary));
            }
            for _ in 0..DECISION_STAGES_MAX {
                let new: Vec<String> = decision
                    .streams(&self.states)
                    .into_iter()
                    .filter(|s| !self.states.contains(s))
                    .collect();
                if new.is_empty() {
                    break;
                }
                for s in new {
                    let state = empty(&s);
                    self.states.insert(s, 0, state);
                }
            }
            decision.decide(&self.states, ctx)
        }
    }

    /// The events an outcome appends to `stream_id`, decoded as `E`.
    pub fn decoded<E: EventCodec>(outcome: &Outcome, stream_id: &str) -> Vec<E> {
        outcome
            .events_of(stream_id)
            .iter()
            .map(|e| {
                E::decode_payload(e.type_name, e.schema_version, &e.payload)
                    .unwrap_or_else(|err| panic!("{stream_id}: {err}"))
            })
            .collect()
    }
}
