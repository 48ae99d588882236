//! What an append asks for and what it answers.

use std::fmt;

use crate::error::AppendError;
use crate::record::{
    validate_stream_id, APPEND_EVENTS_MAX, APPEND_STREAMS_MAX, EVENT_TYPE_BYTES_MAX,
    IDEMPOTENCY_KEY_BYTES_MAX, META_FIELD_BYTES_MAX, PAYLOAD_BYTES_MAX,
};

/// What the writer must find before it appends to a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// Append whatever the stream's version is.
    Any,
    /// The stream must not exist yet (version 0).
    NoStream,
    /// The stream must be exactly at this version (0 = must not exist).
    Exact(u64),
}

impl Expected {
    pub(crate) fn admits(self, current: u64) -> bool {
        match self {
            Expected::Any => true,
            Expected::NoStream => current == 0,
            Expected::Exact(v) => current == v,
        }
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Any => f.write_str("any"),
            Expected::NoStream => f.write_str("no stream"),
            Expected::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// One event to append; the payload is already encoded by the domain codec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub event_type: String,
    pub schema_version: u16,
    pub payload: Vec<u8>,
}

/// The events for one stream within an append. A stream with no events is a pure
/// expectation check (e.g. "the campaign is still at version 7").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamAppend {
    pub stream_id: String,
    pub expected: Expected,
    pub events: Vec<NewEvent>,
}

/// Who did it and why; shared by every event of one append.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// `system` or `<principal id>:<role>`.
    pub actor: String,
    pub correlation_id: String,
    pub causation_id: String,
    /// The caller's clock reading. The writer raises it to the last recorded time if it is
    /// earlier, so recorded-at never goes backwards along positions.
    pub recorded_at_micros: i64,
}

/// An idempotency key plus a fingerprint of the request it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: String,
    pub fingerprint: [u8; 32],
}

/// One atomic append over one or more streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendRequest {
    pub streams: Vec<StreamAppend>,
    pub meta: Metadata,
    pub idempotency: Option<Idempotency>,
}

impl AppendRequest {
    /// Shorthand for the common single-stream append.
    pub fn single(
        stream_id: impl Into<String>,
        expected: Expected,
        events: Vec<NewEvent>,
        meta: Metadata,
    ) -> Self {
        AppendRequest {
            streams: vec![StreamAppend {
                stream_id: stream_id.into(),
                expected,
                events,
            }],
            meta,
            idempotency: None,
        }
    }

    pub fn event_count(&self) -> usize {
        self.streams.iter().map(|s| s.events.len()).sum()
    }

    /// Checks every limit; nothing invalid reaches the writer.
    pub fn validate(&self) -> Result<(), AppendError> {
        let invalid = |m: String| Err(AppendError::Invalid(m));
        if self.streams.is_empty() || self.streams.len() > APPEND_STREAMS_MAX {
            return invalid(format!("an append names 1..={APPEND_STREAMS_MAX} streams"));
        }
        let n = self.event_count();
        if n == 0 || n > APPEND_EVENTS_MAX {
            return invalid(format!(
                "an append carries 1..={APPEND_EVENTS_MAX} events, got {n}"
            ));
        }
        // A set, not a scan of the streams before: an append names up to 1,000 streams.
        let mut named = std::collections::HashSet::with_capacity(self.streams.len());
        for s in &self.streams {
            validate_stream_id(&s.stream_id).map_err(AppendError::Invalid)?;
            if !named.insert(s.stream_id.as_str()) {
                return invalid(format!("stream {} named twice in one append", s.stream_id));
            }
            for e in &s.events {
                if e.event_type.is_empty() || e.event_type.len() > EVENT_TYPE_BYTES_MAX {
                    return invalid(format!(
                        "event type must be 1..={EVENT_TYPE_BYTES_MAX} bytes"
                    ));
                }
                if e.payload.len() > PAYLOAD_BYTES_MAX {
                    return invalid(format!(
                        "payload of {} is {} bytes, more than {PAYLOAD_BYTES_MAX}",
                        e.event_type,
                        e.payload.len()
                    ));
                }
            }
        }
        for (name, v) in [
            ("actor", &self.meta.actor),
            ("correlation_id", &self.meta.correlation_id),
            ("causation_id", &self.meta.causation_id),
        ] {
            if v.len() > META_FIELD_BYTES_MAX {
                return invalid(format!("{name} longer than {META_FIELD_BYTES_MAX} bytes"));
            }
        }
        if let Some(idem) = &self.idempotency {
            if idem.key.is_empty() || idem.key.len() > IDEMPOTENCY_KEY_BYTES_MAX {
                return invalid(format!(
                    "idempotency key must be 1..={IDEMPOTENCY_KEY_BYTES_MAX} bytes"
                ));
            }
        }
        Ok(())
    }
}

/// The version one stream reached.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct StreamVersion {
    pub stream_id: String,
    pub version: u64,
}

/// What a durable append answers.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct AppendResult {
    /// Position of the first event written (for a duplicate: of the original append).
    pub first_position: u64,
    /// Position of the last event written.
    pub last_position: u64,
    /// The recorded-at time given to every event of the append.
    pub recorded_at_micros: i64,
    /// Each stream's version after the append, in request order.
    pub streams: Vec<StreamVersion>,
    /// True when the idempotency key matched an earlier append and nothing was written.
    pub deduplicated: bool,
}

impl AppendResult {
    /// The version a stream reached, if it was part of the append.
    pub fn version_of(&self, stream_id: &str) -> Option<u64> {
        self.streams
            .iter()
            .find(|s| s.stream_id == stream_id)
            .map(|s| s.version)
    }
}
