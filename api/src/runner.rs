//! The one command runner (STYLE.md §3): load the command's stream and every other stream its
//! decision names (`domain::decision`, each folded by its aggregate from `domain::registry`)
//! → build one `Context` (one `now`, the working-day calendar) → decide once → append every
//! stream's events atomically with `Exact(version)` on each loaded stream and `NoStream` on
//! each new one → answer. Commands are serialised per stream (`locks`): a command holds the
//! streams it appends to from its load to its durable append, so an expectation on them
//! cannot fail and a command without `If-Match` never answers `version_conflict` (API.md §1);
//! only a stream it merely guards can move, which it retries (bounded: 503 `busy`). Idempotent
//! retries are answered from the log's idempotency record with the state as of the original
//! append, so the answer is the original one and nothing is appended. No handler writes to
//! the log any other way.

mod locks;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

pub use locks::{Locked, StreamLocks};

use domain::codec::EventCodec;
use domain::decision::{AnyState, Decision, Outcome, Single, States, DECISION_STAGES_MAX};
use domain::history::StoredEvent;
use domain::registry::{aggregate_of, Aggregate};
use domain::{Actor, Clock, Context, Decider, DomainError, WorkCalendar};
use eventlog::generations::Generations;
use eventlog::{
    AppendError, AppendRequest, Direction, EventStore, Expected, Idempotency, Metadata, NewEvent,
    StreamAppend,
};

use crate::error::ApiError;

/// Times one command may find a stream it only guards moved (a product edited while an
/// order of it was decided) before it answers 503 `busy`: far more than a guarded stream
/// changes during one command, so it never answers in practice.
pub const GUARD_CONFLICT_ATTEMPTS_MAX: u64 = 100;
/// Times one command may lock a wider set of streams because its decision appends to
/// streams it did not hold (each round adds at least one stream; a decision that appends
/// beyond its primary needs one).
pub const LOCK_ROUNDS_MAX: u64 = 8;
/// Records read per step while loading a stream.
pub const LOAD_CHUNK_RECORDS: usize = 1_000;
/// Streams whose folded state the runner keeps, per generation (`eventlog::generations`).
pub const STATE_CACHE_STREAMS_MAX: usize = 20_000;

/// Who issues a command and how (headers of API.md §1).
#[derive(Debug, Clone)]
pub struct CommandMeta {
    pub actor: Actor,
    pub correlation_id: String,
    pub causation_id: String,
    /// Already scoped to the principal (`<principal id>:<client key>`), with the request's
    /// fingerprint.
    pub idempotency: Option<Idempotency>,
    pub if_match: Option<u64>,
    /// Name for metrics and logs, e.g. `CreateOrg`.
    pub command: &'static str,
}

/// What a command did.
#[derive(Debug, Clone)]
pub struct Executed<S> {
    /// The state after the command (for a deduplicated retry: after the original).
    pub state: S,
    pub version: u64,
    /// Position of the command's last event (or of the stream's last event for a no-op).
    pub position: u64,
    /// True when nothing was appended because the command changed nothing.
    pub no_op: bool,
    /// True when this was a retry answered from the idempotency record.
    pub deduplicated: bool,
}

/// The runner; cheap to clone.
#[derive(Clone)]
pub struct Runner {
    pub log: Arc<dyn EventStore>,
    pub clock: Arc<dyn Clock>,
    pub tz: chrono_tz::Tz,
    pub states: Arc<StateCache>,
    /// Where the context's working-day calendar comes from (the directory's calendar years).
    pub calendar: Arc<dyn CalendarSource>,
    /// The streams commands hold from load to durable append (`locks`).
    pub locks: Arc<StreamLocks>,
}

/// What one attempt of a command came to.
enum Attempt {
    Done(ExecutedAny),
    /// The outcome appends to these streams, not all held: lock them and decide again.
    Unheld(Vec<String>),
    /// A stream of the append moved since it was loaded.
    Conflict {
        stream_id: String,
        current: u64,
    },
}

/// The working-day calendar as of now, for every decision's `Context`.
pub trait CalendarSource: Send + Sync {
    fn calendar(&self) -> Arc<WorkCalendar>;
}

/// A calendar that never changes (tests, tools).
pub struct FixedCalendar(pub Arc<WorkCalendar>);

impl CalendarSource for FixedCalendar {
    fn calendar(&self) -> Arc<WorkCalendar> {
        Arc::clone(&self.0)
    }
}

/// What a decision did, whatever the aggregate of its primary stream.
pub struct ExecutedAny {
    /// The primary's state after the command (`None` for a deduplicated retry: see `result`).
    pub state: Option<AnyState>,
    pub version: u64,
    pub position: u64,
    pub no_op: bool,
    pub deduplicated: bool,
    /// The original append of a deduplicated retry.
    pub result: Option<eventlog::AppendResult>,
}

impl ExecutedAny {
    fn deduplicated(result: eventlog::AppendResult) -> ExecutedAny {
        ExecutedAny {
            state: None,
            version: 0,
            position: result.last_position,
            no_op: false,
            deduplicated: true,
            result: Some(result),
        }
    }
}

/// The atomic append of a decision's outcome: the primary first (its events, or its
/// version as a guard), then every other stream with events, then the streams it guards;
/// `Exact(version)` on each loaded stream, `NoStream` on each stream the decision creates.
fn append_request(
    meta: &CommandMeta,
    primary: &str,
    states: &States,
    outcome: Outcome,
    ctx: &Context,
) -> AppendRequest {
    let expected = |stream: &str| match states.version(stream) {
        Some(v) => Expected::Exact(v),
        None => Expected::NoStream,
    };
    let to_new = |events: Vec<domain::codec::EncodedEvent>| -> Vec<NewEvent> {
        events
            .into_iter()
            .map(|e| NewEvent {
                event_type: e.type_name.to_owned(),
                schema_version: e.schema_version,
                payload: e.payload,
            })
            .collect()
    };
    let mut streams = vec![StreamAppend {
        stream_id: primary.to_owned(),
        expected: expected(primary),
        events: Vec::new(),
    }];
    for s in outcome.appends {
        if s.stream_id == primary {
            streams[0].events = to_new(s.events);
        } else {
            streams.push(StreamAppend {
                expected: expected(&s.stream_id),
                stream_id: s.stream_id,
                events: to_new(s.events),
            });
        }
    }
    for g in outcome.guards {
        if !streams.iter().any(|s| s.stream_id == g) {
            streams.push(StreamAppend {
                expected: expected(&g),
                stream_id: g,
                events: Vec::new(),
            });
        }
    }
    AppendRequest {
        streams,
        meta: Metadata {
            actor: meta.actor.label(),
            correlation_id: meta.correlation_id.clone(),
            causation_id: meta.causation_id.clone(),
            recorded_at_micros: ctx.now.as_micros(),
        },
        idempotency: meta.idempotency.clone(),
    }
}

/// Folded states of recently loaded streams, so that a load folds only the events after the
/// cached version (a product read by every order placement, an order paid after it was placed).
///
/// Always sound: events are immutable and versions gap-free, so a cached fold is a true
/// prefix of the stream, and the load still reads every event after it; only durable states
/// go in (reads stop at the durable head, appends are answered once durable).
pub struct StateCache {
    streams: Mutex<Generations<String, CachedState>>,
}

impl Default for StateCache {
    fn default() -> Self {
        StateCache {
            streams: Mutex::new(Generations::new(STATE_CACHE_STREAMS_MAX)),
        }
    }
}

struct CachedState {
    version: u64,
    position: u64,
    state: AnyState,
}

impl StateCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Generations<String, CachedState>> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached fold of `stream_id`, copied by `aggregate`.
    fn get_any(&self, stream_id: &str, aggregate: &Aggregate) -> Option<Loaded<AnyState>> {
        let streams = self.lock();
        let c = streams.get(stream_id)?;
        Some(Loaded {
            state: (aggregate.clone_state)(c.state.as_ref())?,
            version: c.version,
            position: c.position,
        })
    }

    /// The cached fold of `stream_id`, if it was cached as an `S`.
    fn get<S: Clone + 'static>(&self, stream_id: &str) -> Option<Loaded<S>> {
        let streams = self.lock();
        let c = streams.get(stream_id)?;
        Some(Loaded {
            state: c.state.downcast_ref::<S>()?.clone(),
            version: c.version,
            position: c.position,
        })
    }

    /// Remembers `state` as the fold of `stream_id` up to `version`, unless a later one is
    /// already there.
    fn put<S: Send + Sync + 'static>(
        &self,
        stream_id: &str,
        version: u64,
        position: u64,
        state: S,
    ) {
        self.put_any(stream_id, version, position, Box::new(state));
    }

    /// Like [`StateCache::put`] for a state already boxed (by its aggregate's entry).
    fn put_any(&self, stream_id: &str, version: u64, position: u64, state: AnyState) {
        let mut streams = self.lock();
        if streams.get(stream_id).is_some_and(|c| c.version >= version) {
            return;
        }
        streams.insert(
            stream_id.to_owned(),
            CachedState {
                version,
                position,
                state,
            },
        );
    }

    /// Streams cached now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// A stream's state folded from its events, with its version and last position.
pub struct Loaded<S> {
    pub state: S,
    pub version: u64,
    pub position: u64,
}

impl Runner {
    /// Loads a stream up to `to_version` (inclusive; `u64::MAX` = all, starting from the
    /// cached fold when there is one).
    pub fn load<D>(&self, stream_id: &str, to_version: u64) -> Result<Loaded<D::State>, ApiError>
    where
        D: Decider,
        D::Event: EventCodec,
    {
        let whole = to_version == u64::MAX;
        let cached = if whole {
            self.states.get::<D::State>(stream_id)
        } else {
            None
        };
        let cached = match cached {
            // A recently written stream: the log knows its durable version without a read.
            Some(c) if self.log.known_version(stream_id) == Some(c.version) => return Ok(c),
            other => other,
        };
        let from_version = cached.as_ref().map_or(0, |c| c.version);
        let loaded = self.fold::<D>(stream_id, cached, to_version)?;
        if whole && loaded.version > from_version {
            self.states.put(
                stream_id,
                loaded.version,
                loaded.position,
                loaded.state.clone(),
            );
        }
        Ok(loaded)
    }

    /// Folds the events of a stream after `start` (or from the beginning) up to `to_version`.
    fn fold<D>(
        &self,
        stream_id: &str,
        start: Option<Loaded<D::State>>,
        to_version: u64,
    ) -> Result<Loaded<D::State>, ApiError>
    where
        D: Decider,
        D::Event: EventCodec,
    {
        let start = start.unwrap_or(Loaded {
            state: D::State::default(),
            version: 0,
            position: 0,
        });
        self.fold_records(stream_id, start, to_version, |state, r| {
            let event = D::Event::decode_payload(&r.event_type, r.schema_version, &r.payload)
                .map_err(|e| e.to_string())?;
            Ok(D::evolve(state, &event))
        })
    }

    /// The one read loop of every load: applies each record of `stream_id` after
    /// `loaded.version`, up to `to_version`, in chunks of [`LOAD_CHUNK_RECORDS`].
    fn fold_records<S>(
        &self,
        stream_id: &str,
        mut loaded: Loaded<S>,
        to_version: u64,
        mut apply: impl FnMut(S, &eventlog::Record) -> Result<S, String>,
    ) -> Result<Loaded<S>, ApiError> {
        loop {
            let chunk = self.log.read_stream(
                stream_id,
                loaded.version + 1,
                Direction::Forward,
                LOAD_CHUNK_RECORDS,
            )?;
            if chunk.is_empty() {
                return Ok(loaded);
            }
            for r in &chunk {
                if r.version > to_version {
                    return Ok(loaded);
                }
                loaded.state = apply(loaded.state, r).map_err(|e| {
                    ApiError::internal(
                        "decoding a stored event",
                        format!("{stream_id}@{}: {e}", r.version),
                    )
                })?;
                loaded.version = r.version;
                loaded.position = r.position;
            }
        }
    }

    /// The context of a decision by `actor`: the time read once, the calendar as of now.
    pub fn context(&self, actor: &Actor) -> Context {
        Context::with_calendar(self.clock.now(), actor.clone(), self.calendar.calendar())
    }

    /// Loads any stream, folded by the aggregate its prefix names in the registry, starting
    /// from the cached fold when there is one. With `lenient`, a stream id the log would
    /// refuse is a stream with no events (a decision then says what is unknown).
    fn load_any(&self, stream_id: &str, lenient: bool) -> Result<Loaded<AnyState>, ApiError> {
        let aggregate = aggregate_of(stream_id).ok_or_else(|| {
            ApiError::internal("loading a stream", format!("no aggregate owns {stream_id}"))
        })?;
        if lenient && eventlog::validate_stream_id(stream_id).is_err() {
            return Ok(Loaded {
                state: (aggregate.initial)(),
                version: 0,
                position: 0,
            });
        }
        let cached = self.states.get_any(stream_id, aggregate);
        let cached = match cached {
            // A recently written stream: the log knows its durable version without a read.
            Some(c) if self.log.known_version(stream_id) == Some(c.version) => return Ok(c),
            other => other,
        };
        let from_version = cached.as_ref().map_or(0, |c| c.version);
        let start = cached.unwrap_or_else(|| Loaded {
            state: (aggregate.initial)(),
            version: 0,
            position: 0,
        });
        let loaded = self.fold_records(stream_id, start, u64::MAX, |state, r| {
            let stored = StoredEvent {
                event_type: &r.event_type,
                schema_version: r.schema_version,
                payload: &r.payload,
            };
            (aggregate.apply)(state, &stored).map_err(|e| e.to_string())
        })?;
        if loaded.version > from_version {
            if let Some(copy) = (aggregate.clone_state)(loaded.state.as_ref()) {
                self.states
                    .put_any(stream_id, loaded.version, loaded.position, copy);
            }
        }
        Ok(loaded)
    }

    /// The outcome `decision` would have now, decided over the same streams as if it ran,
    /// without appending anything: the quote prices a line exactly as placement would.
    pub fn preview(&self, actor: &Actor, decision: &dyn Decision) -> Result<Outcome, ApiError> {
        let (states, _) = self.load_decision(&decision.primary(), decision)?;
        Ok(decision.decide(&states, &self.context(actor))?)
    }

    /// Loads the primary stream of `decision`, then the streams it names, stage by stage.
    /// Returns the states and the primary's last position.
    fn load_decision(
        &self,
        primary: &str,
        decision: &dyn Decision,
    ) -> Result<(States, u64), ApiError> {
        let mut states = States::default();
        let p = self.load_any(primary, false)?;
        states.insert(primary.to_owned(), p.version, p.state);
        for _ in 0..DECISION_STAGES_MAX {
            let mut new = decision.streams(&states);
            new.retain(|s| !states.contains(s));
            if new.is_empty() {
                break;
            }
            for s in new {
                let l = self.load_any(&s, true)?;
                states.insert(s, l.version, l.state);
            }
        }
        Ok((states, p.position))
    }

    /// Runs `command` against one stream.
    pub async fn execute<D>(
        &self,
        meta: &CommandMeta,
        stream_id: &str,
        command: &D::Command,
    ) -> Result<Executed<D::State>, ApiError>
    where
        D: Decider<Error = DomainError> + Send + Sync + 'static,
        D::Event: EventCodec,
        D::Command: Clone + Send + Sync,
    {
        self.decide::<D>(meta, &Single::<D>::new(stream_id, command.clone()))
            .await
    }

    /// Runs a decision whose primary stream is of aggregate `D`, answering with its state.
    pub async fn decide<D>(
        &self,
        meta: &CommandMeta,
        decision: &dyn Decision,
    ) -> Result<Executed<D::State>, ApiError>
    where
        D: Decider,
        D::Event: EventCodec,
    {
        let done = self.run(meta, decision).await?;
        if let Some(result) = &done.result {
            return self.state_as_of::<D>(&decision.primary(), result);
        }
        let state = done
            .state
            .and_then(|s| s.downcast::<D::State>().ok())
            .ok_or_else(|| {
                ApiError::internal(
                    "running a command",
                    format!("{} is not a stream of this aggregate", decision.primary()),
                )
            })?;
        Ok(Executed {
            state: *state,
            version: done.version,
            position: done.position,
            no_op: done.no_op,
            deduplicated: done.deduplicated,
        })
    }

    /// Runs a decision of any aggregate (the scheduler's deadlines), with its metrics.
    pub async fn run(
        &self,
        meta: &CommandMeta,
        decision: &dyn Decision,
    ) -> Result<ExecutedAny, ApiError> {
        let started = domain::clock::monotonic_now();
        let result = self.run_inner(meta, decision).await;
        let outcome = match &result {
            Ok(e) if e.deduplicated => "deduplicated",
            Ok(e) if e.no_op => "no_op",
            Ok(_) => "ok",
            Err(e) => e.code,
        };
        metrics::counter!("marketlog_commands_total", "command" => meta.command, "outcome" => outcome).increment(1);
        metrics::histogram!("marketlog_command_duration_seconds", "command" => meta.command)
            .record(started.elapsed().as_secs_f64());
        result
    }

    async fn run_inner(
        &self,
        meta: &CommandMeta,
        decision: &dyn Decision,
    ) -> Result<ExecutedAny, ApiError> {
        let primary = decision.primary();
        // The primary first; then every stream a decision appends to (`locks`).
        let mut wanted = BTreeSet::from([primary.clone()]);
        let mut guard_conflicts = 0;
        for _ in 0..LOCK_ROUNDS_MAX {
            let held = self.locks.lock(&wanted).await;
            // Under the lock: a concurrent duplicate that appended first is durable now.
            if let Some(result) = self.idempotent_result(meta)? {
                return Ok(ExecutedAny::deduplicated(result));
            }
            loop {
                match self.attempt(meta, decision, &primary, &held).await? {
                    Attempt::Done(done) => return Ok(done),
                    Attempt::Unheld(streams) => {
                        wanted.extend(streams);
                        break;
                    }
                    Attempt::Conflict { stream_id, current } => {
                        if meta.if_match.is_some() && stream_id == primary {
                            return Err(ApiError::version_conflict(current));
                        }
                        guard_conflicts += 1;
                        if guard_conflicts >= GUARD_CONFLICT_ATTEMPTS_MAX {
                            return Err(ApiError::busy(&stream_id, guard_conflicts));
                        }
                    }
                }
            }
        }
        Err(ApiError::busy(&primary, LOCK_ROUNDS_MAX))
    }

    /// Loads, decides and appends once while `held` is locked. Every stream the outcome
    /// appends to must be held (else nothing is appended: the caller locks them and asks
    /// again); a stream only guarded may have moved meanwhile (a conflict to retry).
    async fn attempt(
        &self,
        meta: &CommandMeta,
        decision: &dyn Decision,
        primary: &str,
        held: &Locked<'_>,
    ) -> Result<Attempt, ApiError> {
        let (mut states, primary_position) = self.load_decision(primary, decision)?;
        let version = states.version(primary).unwrap_or(0);
        let ctx = self.context(&meta.actor);
        if let Some(expected) = meta.if_match {
            if expected != version {
                // API.md §1: field rules that need no state answer before 409.
                if let Err(e) = decision.decide(&states, &ctx) {
                    if e.kind == domain::ErrorKind::Validation {
                        return Err(e.into());
                    }
                }
                return Err(ApiError::version_conflict(version));
            }
        }
        let mut outcome = decision.decide(&states, &ctx)?;
        if outcome.is_empty() {
            return Ok(Attempt::Done(ExecutedAny {
                state: states.remove(primary),
                version,
                position: primary_position,
                no_op: true,
                deduplicated: false,
                result: None,
            }));
        }
        let appended = || outcome.appends.iter().map(|s| s.stream_id.as_str());
        if !held.covers(appended()) {
            return Ok(Attempt::Unheld(appended().map(str::to_owned).collect()));
        }
        let own_events = outcome.events_of(primary).len() as u64;
        let after = outcome.primary_state.take();
        // The request is built while the primary's loaded version is still in `states`.
        let request = append_request(meta, primary, &states, outcome, &ctx);
        // Without events of its own the primary is as loaded; with events, only the
        // decision knows its state after them.
        let state = match after {
            Some(after) => Some(after),
            None if own_events == 0 => states.remove(primary),
            None => None,
        };
        match self.log.append(request).await {
            // A concurrent retry with the same key won: answer as it did.
            Ok(r) if r.deduplicated => Ok(Attempt::Done(ExecutedAny::deduplicated(r))),
            Ok(r) => {
                let version = r.version_of(primary).unwrap_or(version);
                // Durable now: the next command on this stream starts from here. The
                // command's stream goes first in the append, so its last event is at
                // first_position + events - 1.
                if own_events > 0 {
                    let copy = state
                        .as_deref()
                        .zip(aggregate_of(primary))
                        .and_then(|(s, a)| (a.clone_state)(s));
                    if let Some(copy) = copy {
                        let own_last = r.first_position + own_events - 1;
                        self.states.put_any(primary, version, own_last, copy);
                    }
                }
                Ok(Attempt::Done(ExecutedAny {
                    state,
                    version,
                    position: r.last_position,
                    no_op: false,
                    deduplicated: false,
                    result: None,
                }))
            }
            Err(AppendError::Conflict {
                current, stream_id, ..
            }) => Ok(Attempt::Conflict { stream_id, current }),
            Err(e) => Err(e.into()),
        }
    }

    /// The original result of a retried request, if its idempotency key was used.
    fn idempotent_result(
        &self,
        meta: &CommandMeta,
    ) -> Result<Option<eventlog::AppendResult>, ApiError> {
        let Some(idem) = &meta.idempotency else {
            return Ok(None);
        };
        let Some((fingerprint, result)) = self.log.idempotency_result(&idem.key)? else {
            return Ok(None);
        };
        if fingerprint != idem.fingerprint {
            return Err(AppendError::IdempotencyKeyReused.into());
        }
        Ok(Some(result))
    }

    /// The state a deduplicated command answers with: its stream as of the original append.
    /// A creation retried with a fresh id finds its original stream in the result.
    fn state_as_of<D>(
        &self,
        stream_id: &str,
        result: &eventlog::AppendResult,
    ) -> Result<Executed<D::State>, ApiError>
    where
        D: Decider,
        D::Event: EventCodec,
    {
        let (stream, version) = match result.version_of(stream_id) {
            Some(v) => (stream_id, v),
            None => result
                .streams
                .first()
                .map(|s| (s.stream_id.as_str(), s.version))
                .unwrap_or((stream_id, 0)),
        };
        let l = self.load::<D>(stream, version)?;
        Ok(Executed {
            state: l.state,
            version,
            position: result.last_position,
            no_op: false,
            deduplicated: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::codec::EventCodec;
    use domain::platform::{
        calendar_stream, Calendar, CalendarCommand, Org, OrgCommand, OrgCreated, OrgEvent,
    };
    use domain::{SimulatedClock, Timestamp};
    use eventlog::SledLog;

    fn meta() -> CommandMeta {
        CommandMeta {
            actor: Actor::System,
            correlation_id: "cor_test".into(),
            causation_id: "req_test".into(),
            idempotency: None,
            if_match: None,
            command: "CreateOrg",
        }
    }

    fn runner_on(log: &SledLog) -> Runner {
        Runner {
            log: Arc::new(log.clone()),
            clock: Arc::new(SimulatedClock::new(
                Timestamp::parse_rfc3339("2026-11-23T09:00:00+08:00").expect("time"),
            )),
            tz: chrono_tz::Asia::Shanghai,
            states: Arc::default(),
            calendar: Arc::new(FixedCalendar(Arc::default())),
            locks: Arc::default(),
        }
    }

    fn set_meta() -> CommandMeta {
        CommandMeta {
            command: "SetCalendar",
            ..meta()
        }
    }

    /// A calendar of 2027 whose one holiday is the `day`-th day of the year: each command
    /// changes the calendar, so each appends one event.
    fn set_2027(day: u64) -> CalendarCommand {
        let holiday =
            chrono::NaiveDate::from_ymd_opt(2027, 1, 1).expect("date") + chrono::Days::new(day);
        CalendarCommand::Set {
            year: 2027,
            holidays: vec![holiday],
            workdays: Vec::new(),
        }
    }

    /// Sets the calendars of 2027 (its primary) and 2028 in one append: a decision that
    /// appends to a stream besides its primary.
    struct SetBoth(u64);

    impl Decision for SetBoth {
        fn primary(&self) -> String {
            calendar_stream(2027)
        }

        fn streams(&self, _loaded: &States) -> Vec<String> {
            vec![calendar_stream(2028)]
        }

        fn decide(&self, states: &States, ctx: &Context) -> Result<Outcome, DomainError> {
            let both = [2027, 2028].map(|year| {
                let holiday = chrono::NaiveDate::from_ymd_opt(year, 1, 1).expect("date")
                    + chrono::Days::new(self.0);
                (year, holiday)
            });
            let mut outcome = Outcome::default();
            for (year, holiday) in both {
                let stream = calendar_stream(year);
                let state = states.get::<Calendar>(&stream)?;
                let command = CalendarCommand::Set {
                    year,
                    holidays: vec![holiday],
                    workdays: Vec::new(),
                };
                let events = Calendar::decide(state, &command, ctx)?;
                outcome.append(&stream, &events)?;
            }
            Ok(outcome)
        }
    }

    /// API.md §1: however many commands race on one stream, none without If-Match answers
    /// `version_conflict`; each appends, one after the other.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sixty_four_racing_commands_on_one_stream_all_append_in_turn() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = SledLog::open(dir.path()).expect("open");
        let runner = runner_on(&log);
        let tasks: Vec<_> = (0..64)
            .map(|day| {
                let runner = runner.clone();
                tokio::spawn(async move {
                    runner
                        .execute::<Calendar>(&set_meta(), &calendar_stream(2027), &set_2027(day))
                        .await
                        .map(|done| (done.version, done.no_op))
                        .map_err(|e| e.code)
                })
            })
            .collect();
        let mut versions = Vec::new();
        for t in tasks {
            let (version, no_op) = t.await.expect("task").expect("every command succeeds");
            assert!(!no_op);
            versions.push(version);
        }
        versions.sort_unstable();
        assert_eq!(versions, (1..=64).collect::<Vec<u64>>());
        assert_eq!(
            log.stream_version(&calendar_stream(2027)).expect("version"),
            64
        );
        assert!(runner.locks.is_empty(), "the lock map keeps no stream");
        log.close().expect("close");
    }

    /// A decision appending beyond its primary locks what it appends to before appending, so
    /// it neither conflicts with single commands on that stream nor waits for them forever.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_decision_over_two_streams_races_single_commands_on_its_second_stream() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = SledLog::open(dir.path()).expect("open");
        let runner = runner_on(&log);
        let mut tasks = Vec::new();
        for day in 0..16 {
            let r = runner.clone();
            tasks.push(tokio::spawn(async move {
                r.run(&set_meta(), &SetBoth(day))
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{} {:?}", e.code, e.details))
            }));
            let r = runner.clone();
            tasks.push(tokio::spawn(async move {
                let command = CalendarCommand::Set {
                    year: 2028,
                    holidays: Vec::new(),
                    workdays: vec![
                        chrono::NaiveDate::from_ymd_opt(2028, 12, 1).expect("date")
                            + chrono::Days::new(day),
                    ],
                };
                r.execute::<Calendar>(&set_meta(), &calendar_stream(2028), &command)
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{} {:?}", e.code, e.details))
            }));
        }
        for t in tasks {
            t.await.expect("task").expect("every command succeeds");
        }
        assert_eq!(log.stream_version(&calendar_stream(2027)).expect("v"), 16);
        assert_eq!(log.stream_version(&calendar_stream(2028)).expect("v"), 32);
        assert!(runner.locks.is_empty());
        log.close().expect("close");
    }

    #[tokio::test]
    async fn an_if_match_that_does_not_match_still_answers_version_conflict() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = SledLog::open(dir.path()).expect("open");
        let runner = runner_on(&log);
        let stream = calendar_stream(2027);
        for day in 0..2 {
            runner
                .execute::<Calendar>(&set_meta(), &stream, &set_2027(day))
                .await
                .expect("set");
        }
        let stale = CommandMeta {
            if_match: Some(1),
            ..set_meta()
        };
        let e = runner
            .execute::<Calendar>(&stale, &stream, &set_2027(9))
            .await
            .expect_err("a stale If-Match is refused");
        assert_eq!((e.status.as_u16(), e.code), (409, "version_conflict"));
        assert_eq!(
            e.details.get("current_version"),
            Some(&serde_json::json!(2))
        );
        let current = CommandMeta {
            if_match: Some(2),
            ..set_meta()
        };
        let done = runner
            .execute::<Calendar>(&current, &stream, &set_2027(9))
            .await
            .expect("a matching If-Match appends");
        assert_eq!(done.version, 3);
        assert!(runner.locks.is_empty());
        log.close().expect("close");
    }

    #[tokio::test]
    async fn a_cached_state_still_folds_every_event_appended_after_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = SledLog::open(dir.path()).expect("open");
        let runner = Runner {
            log: Arc::new(log.clone()),
            clock: Arc::new(SimulatedClock::new(
                Timestamp::parse_rfc3339("2026-11-23T09:00:00+08:00").expect("time"),
            )),
            tz: chrono_tz::Asia::Shanghai,
            states: Arc::default(),
            calendar: Arc::new(FixedCalendar(Arc::default())),
            locks: Arc::default(),
        };
        let create = OrgCommand::Create {
            org_id: "org_1".into(),
            name: "First".into(),
        };
        let done = runner
            .execute::<Org>(&meta(), "org-org_1", &create)
            .await
            .expect("create");
        assert_eq!((done.version, runner.states.len()), (1, 1));

        // An event appended past the runner: the cached fold (version 1) must not hide it.
        let renamed = OrgEvent::OrgCreated(OrgCreated {
            org_id: "org_1".into(),
            name: "Second".into(),
        });
        let request = AppendRequest::single(
            "org-org_1",
            Expected::Exact(1),
            vec![NewEvent {
                event_type: renamed.type_name().into(),
                schema_version: renamed.schema_version(),
                payload: renamed.encode_payload().expect("encode"),
            }],
            Metadata {
                actor: "system".into(),
                correlation_id: "cor_test".into(),
                causation_id: "req_test".into(),
                recorded_at_micros: 0,
            },
        );
        log.append(request).await.expect("append");

        let whole = runner.load::<Org>("org-org_1", u64::MAX).expect("load");
        assert_eq!((whole.version, whole.state.name.as_str()), (2, "Second"));
        // A bounded load never starts from the cache.
        let first = runner.load::<Org>("org-org_1", 1).expect("load");
        assert_eq!((first.version, first.state.name.as_str()), (1, "First"));
        // And the cache moved on to version 2.
        let again = runner.load::<Org>("org-org_1", u64::MAX).expect("load");
        assert_eq!(
            (again.version, again.position),
            (whole.version, whole.position)
        );
        log.close().expect("close");
    }
}
