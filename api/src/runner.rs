//! The one command runner (STYLE.md §3): load the stream → fold `evolve` → `decide` → append
//! with `Exact(version)` → on conflict retry a bounded number of times → answer. Idempotent
//! retries are answered from the log's idempotency record with the state as of the original
//! append, so the answer is the original one and nothing is appended. No handler writes to
//! the log any other way.

use std::any::Any;
use std::sync::{Arc, Mutex};

use domain::codec::EventCodec;
use domain::{Actor, Clock, Context, Decider, DomainError};
use eventlog::generations::Generations;
use eventlog::{
    AppendError, AppendRequest, Direction, EventStore, Expected, Idempotency, Metadata, NewEvent,
    StreamAppend,
};

use crate::error::ApiError;

/// Attempts of one command before it gives up on contention.
pub const COMMAND_ATTEMPTS_MAX: usize = 8;
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
    state: Box<dyn Any + Send + Sync>,
}

impl StateCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Generations<String, CachedState>> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
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
        let mut streams = self.lock();
        if streams.get(stream_id).is_some_and(|c| c.version >= version) {
            return;
        }
        streams.insert(
            stream_id.to_owned(),
            CachedState {
                version,
                position,
                state: Box::new(state),
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
        let mut loaded = start.unwrap_or(Loaded {
            state: D::State::default(),
            version: 0,
            position: 0,
        });
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
                let event = D::Event::decode_payload(&r.event_type, r.schema_version, &r.payload)
                    .map_err(|e| {
                    ApiError::internal(
                        "decoding a stored event",
                        format!("{stream_id}@{}: {e}", r.version),
                    )
                })?;
                loaded.state = D::evolve(loaded.state, &event);
                loaded.version = r.version;
                loaded.position = r.position;
            }
        }
    }

    pub fn context(&self, actor: &Actor) -> Context {
        Context::new(self.clock.now(), actor.clone(), self.tz)
    }

    /// Runs `command` against one stream.
    pub async fn execute<D>(
        &self,
        meta: &CommandMeta,
        stream_id: &str,
        command: &D::Command,
    ) -> Result<Executed<D::State>, ApiError>
    where
        D: Decider<Error = DomainError>,
        D::Event: EventCodec,
        D::Command: Clone,
    {
        self.execute_planned::<D, _>(meta, stream_id, || Ok((command.clone(), Vec::new())))
            .await
    }

    /// Runs a command whose decision depends on other streams too. `plan` is called on every
    /// attempt: it reads what it needs and returns the command plus the other streams'
    /// appends (expectations, with or without events); all are appended atomically with the
    /// command's events, so a decision is never based on a state that moved meanwhile.
    pub async fn execute_planned<D, F>(
        &self,
        meta: &CommandMeta,
        stream_id: &str,
        plan: F,
    ) -> Result<Executed<D::State>, ApiError>
    where
        D: Decider<Error = DomainError>,
        D::Event: EventCodec,
        F: Fn() -> Result<(D::Command, Vec<StreamAppend>), ApiError>,
    {
        let started = domain::clock::monotonic_now();
        let result = self.execute_inner::<D, F>(meta, stream_id, plan).await;
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

    async fn execute_inner<D, F>(
        &self,
        meta: &CommandMeta,
        stream_id: &str,
        plan: F,
    ) -> Result<Executed<D::State>, ApiError>
    where
        D: Decider<Error = DomainError>,
        D::Event: EventCodec,
        F: Fn() -> Result<(D::Command, Vec<StreamAppend>), ApiError>,
    {
        if let Some(answer) = self.replay_idempotent::<D>(meta, stream_id)? {
            return Ok(answer);
        }
        let mut last_version = 0;
        for _ in 0..COMMAND_ATTEMPTS_MAX {
            let loaded = self.load::<D>(stream_id, u64::MAX)?;
            let (command, others) = plan()?;
            let ctx = self.context(&meta.actor);
            if let Some(expected) = meta.if_match {
                if expected != loaded.version {
                    // API.md §1: field rules that need no state answer before 409.
                    if let Err(e) = D::decide(&loaded.state, &command, &ctx) {
                        if e.kind == domain::ErrorKind::Validation {
                            return Err(e.into());
                        }
                    }
                    return Err(ApiError::version_conflict(loaded.version));
                }
            }
            let events = D::decide(&loaded.state, &command, &ctx)?;
            if events.is_empty() {
                return Ok(Executed {
                    state: loaded.state,
                    version: loaded.version,
                    position: loaded.position,
                    no_op: true,
                    deduplicated: false,
                });
            }
            let mut encoded = Vec::with_capacity(events.len());
            for e in &events {
                let enc = e.encode().map_err(|err| {
                    ApiError::validation("body", "payload_size", format!("event too large: {err}"))
                })?;
                encoded.push(NewEvent {
                    event_type: enc.type_name.to_owned(),
                    schema_version: enc.schema_version,
                    payload: enc.payload,
                });
            }
            let mut streams = vec![StreamAppend {
                stream_id: stream_id.to_owned(),
                expected: Expected::Exact(loaded.version),
                events: encoded,
            }];
            streams.extend(others);
            let request = AppendRequest {
                streams,
                meta: Metadata {
                    actor: meta.actor.label(),
                    correlation_id: meta.correlation_id.clone(),
                    causation_id: meta.causation_id.clone(),
                    recorded_at_micros: ctx.now.as_micros(),
                },
                idempotency: meta.idempotency.clone(),
            };
            match self.log.append(request).await {
                Ok(r) if r.deduplicated => {
                    // A concurrent retry with the same key won: answer as it did.
                    return self.state_as_of::<D>(stream_id, &r);
                }
                Ok(r) => {
                    let state = events.iter().fold(loaded.state, D::evolve);
                    let version = r.version_of(stream_id).unwrap_or(loaded.version);
                    // Durable now: the next command on this stream starts from here. The
                    // command's stream goes first in the append, so its last event is at
                    // first_position + events - 1.
                    let own_last = r.first_position + events.len() as u64 - 1;
                    self.states.put(stream_id, version, own_last, state.clone());
                    return Ok(Executed {
                        state,
                        version,
                        position: r.last_position,
                        no_op: false,
                        deduplicated: false,
                    });
                }
                Err(AppendError::Conflict {
                    current,
                    stream_id: conflicted,
                    ..
                }) => {
                    if meta.if_match.is_some() && conflicted == stream_id {
                        return Err(ApiError::version_conflict(current));
                    }
                    last_version = current;
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::version_conflict(last_version).with("attempts", COMMAND_ATTEMPTS_MAX as u64))
    }

    /// Answers a retried request from its idempotency record, if there is one.
    fn replay_idempotent<D>(
        &self,
        meta: &CommandMeta,
        stream_id: &str,
    ) -> Result<Option<Executed<D::State>>, ApiError>
    where
        D: Decider,
        D::Event: EventCodec,
    {
        let Some(idem) = &meta.idempotency else {
            return Ok(None);
        };
        let Some((fingerprint, result)) = self.log.idempotency_result(&idem.key)? else {
            return Ok(None);
        };
        if fingerprint != idem.fingerprint {
            return Err(AppendError::IdempotencyKeyReused.into());
        }
        self.state_as_of::<D>(stream_id, &result).map(Some)
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
    use domain::platform::{Org, OrgCommand, OrgCreated, OrgEvent};
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
