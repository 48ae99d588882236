//! Where the commands read the log from. Commands see only [`LogSource`]; the offline
//! implementation ([`crate::offline::OfflineSource`]) reads a private copy of a data dir, the
//! online one ([`crate::online::OnlineSource`]) a running server's
//! `GET /v1/events?include=raw`, decoding every record from its stored bytes.
//!
//! Invariant: a source never changes the log it reads.

use eventlog::verify::VerifyReport;
use eventlog::Record;

use crate::error::ToolError;

/// Records fetched per read; commands walk the log in chunks of this size, never all at once.
pub const READ_CHUNK_RECORDS: usize = 4_096;

/// Why a source could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The log is not reachable (missing dir, dir in use, copy failed): an environment
    /// problem, not a statement about the log.
    #[error("{0}")]
    Unavailable(String),
    /// A record is wrong at `position` (or the log ends before its anchor says it should).
    #[error("corrupt record at position {position}: {reason}")]
    Corrupt { position: u64, reason: String },
    /// The store underneath cannot be read (its files are damaged).
    #[error("store error: {0}")]
    Store(String),
    /// The server answered a non-2xx status (`status` as shown, e.g. `401 Unauthorized`) with
    /// `message` (its `error.message`).
    #[error("server answered {status}: {message}")]
    Server {
        code: u16,
        status: String,
        message: String,
    },
}

/// How big the log is, as far as a source can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogSize {
    /// Bytes the log and its file store take on disk (offline).
    OnDisk(u64),
    /// Sum of the stored record bytes (body, crc32c and chain of every record): what a server
    /// shows over HTTP, where its disk is not visible (online).
    RecordBytes(u64),
}

impl LogSize {
    pub fn bytes(self) -> u64 {
        match self {
            LogSize::OnDisk(n) | LogSize::RecordBytes(n) => n,
        }
    }
}

impl From<SourceError> for ToolError {
    fn from(e: SourceError) -> Self {
        match e {
            SourceError::Unavailable(m) => ToolError::Environment(m),
            // The server failed (5xx): a finding about the log's keeper, exit 1; anything
            // else it refuses (401, 403, 404, other 4xx) is the caller's setup, exit 2.
            server @ SourceError::Server { code, .. } if (500..=599).contains(&code) => {
                ToolError::Server(server.to_string())
            }
            server @ SourceError::Server { .. } => ToolError::Environment(server.to_string()),
            finding @ (SourceError::Corrupt { .. } | SourceError::Store(_)) => {
                ToolError::Finding(format!("the log cannot be read: {finding}"))
            }
        }
    }
}

/// Read access to one log, in position order.
pub trait LogSource {
    /// The last durable position (0 for an empty log).
    fn head(&self) -> Result<u64, SourceError>;

    /// Up to `limit` records from `from_position` on, in position order; empty past the head.
    fn read_from(&self, from_position: u64, limit: usize) -> Result<Vec<Record>, SourceError>;

    /// Up to `limit` records of stream `stream_id` from version `from_version` on, in version
    /// order, each decoded from its stored bytes; empty for a stream the log does not hold
    /// (or an id that cannot name one) and past the stream's last version.
    fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<Record>, SourceError>;

    /// Checks checksums, the chain, gap-free positions and versions, and where the source has
    /// them the stream index and the head anchor, reporting progress as (checked, head).
    fn verify(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport, SourceError>;

    /// The size of the log, if the source can tell (see [`LogSize`] for what is counted).
    fn log_size(&self) -> Result<Option<LogSize>, SourceError>;
}

/// Calls `each` for every record with position in `from..=to` (clamped to the head), one
/// chunk at a time. `each` sees records in position order; on a corrupt record it has seen
/// every record before it, then the walk fails.
pub fn for_each_record(
    source: &dyn LogSource,
    from: u64,
    to: u64,
    each: &mut dyn FnMut(&Record) -> Result<(), ToolError>,
) -> Result<(), ToolError> {
    let mut next = from.max(1);
    while next <= to {
        let chunk = match source.read_from(next, READ_CHUNK_RECORDS) {
            Ok(chunk) => chunk,
            // A source refuses a whole chunk for one bad record; hand over the good records
            // before it, so what is delivered does not depend on the chunk size.
            Err(SourceError::Corrupt { position, reason }) if position > next => {
                let good = usize::try_from(position - next).unwrap_or(READ_CHUNK_RECORDS);
                for record in source.read_from(next, good)?.iter() {
                    if record.position < position && record.position <= to {
                        each(record)?;
                    }
                }
                return Err(SourceError::Corrupt { position, reason }.into());
            }
            Err(e) => return Err(e.into()),
        };
        let Some(last) = chunk.last().map(|r| r.position) else {
            break;
        };
        if last < next {
            // A source that goes backwards would make this loop endless.
            return Err(SourceError::Corrupt {
                position: next,
                reason: format!("the log answered position {last} when asked from {next}"),
            }
            .into());
        }
        for record in chunk.iter().take_while(|r| r.position <= to) {
            each(record)?;
        }
        if last >= to {
            break;
        }
        next = last + 1;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A source over records in memory that answers at most `step` records per read: the
    /// stand-in for any non-sled source, and a way to test chunk boundaries.
    pub(crate) struct MemorySource {
        pub records: Vec<Record>,
        pub step: usize,
    }

    pub(crate) fn record(position: u64, stream_id: &str, version: u64, event_type: &str) -> Record {
        Record {
            position,
            stream_id: stream_id.into(),
            version,
            event_type: event_type.into(),
            schema_version: 1,
            recorded_at_micros: position as i64 * 1_000_000,
            actor: "system".into(),
            correlation_id: String::new(),
            causation_id: String::new(),
            payload: vec![position as u8],
            crc32c: 0,
            chain: [0; 32],
        }
    }

    impl LogSource for MemorySource {
        fn head(&self) -> Result<u64, SourceError> {
            Ok(self.records.last().map_or(0, |r| r.position))
        }

        fn read_from(&self, from: u64, limit: usize) -> Result<Vec<Record>, SourceError> {
            Ok(self
                .records
                .iter()
                .filter(|r| r.position >= from)
                .take(limit.min(self.step))
                .cloned()
                .collect())
        }

        fn read_stream(
            &self,
            stream_id: &str,
            from_version: u64,
            limit: usize,
        ) -> Result<Vec<Record>, SourceError> {
            Ok(self
                .records
                .iter()
                .filter(|r| r.stream_id == stream_id && r.version >= from_version)
                .take(limit.min(self.step))
                .cloned()
                .collect())
        }

        fn verify(&self, _: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport, SourceError> {
            Err(SourceError::Unavailable("not a verifying source".into()))
        }

        fn log_size(&self) -> Result<Option<LogSize>, SourceError> {
            Ok(None)
        }
    }

    fn visited(source: &dyn LogSource, from: u64, to: u64) -> Result<Vec<u64>, ToolError> {
        let mut seen = Vec::new();
        for_each_record(source, from, to, &mut |r| {
            seen.push(r.position);
            Ok(())
        })?;
        Ok(seen)
    }

    #[test]
    fn the_walk_crosses_chunks_and_stops_at_either_bound() {
        let source = MemorySource {
            records: (1..=10)
                .map(|p| record(p, "order-a", p, "Happened"))
                .collect(),
            step: 3,
        };
        assert_eq!(
            visited(&source, 1, u64::MAX).unwrap(),
            (1..=10).collect::<Vec<_>>()
        );
        assert_eq!(visited(&source, 0, 4).unwrap(), vec![1, 2, 3, 4]);
        assert_eq!(visited(&source, 4, 7).unwrap(), vec![4, 5, 6, 7]);
        assert_eq!(visited(&source, 11, u64::MAX).unwrap(), Vec::<u64>::new());
        assert_eq!(visited(&source, 5, 4).unwrap(), Vec::<u64>::new());
    }

    #[test]
    fn a_source_that_goes_backwards_is_a_finding_not_an_endless_loop() {
        /// Answers position 1 whatever it is asked.
        struct Stuck(MemorySource);
        impl LogSource for Stuck {
            fn head(&self) -> Result<u64, SourceError> {
                Ok(3)
            }
            fn read_from(&self, _: u64, limit: usize) -> Result<Vec<Record>, SourceError> {
                self.0.read_from(1, limit)
            }
            fn read_stream(
                &self,
                s: &str,
                v: u64,
                limit: usize,
            ) -> Result<Vec<Record>, SourceError> {
                self.0.read_stream(s, v, limit)
            }
            fn verify(&self, p: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport, SourceError> {
                self.0.verify(p)
            }
            fn log_size(&self) -> Result<Option<LogSize>, SourceError> {
                self.0.log_size()
            }
        }
        let source = Stuck(MemorySource {
            records: vec![record(1, "order-a", 1, "Happened")],
            step: 10,
        });
        let e = visited(&source, 2, u64::MAX).unwrap_err();
        assert!(matches!(e, ToolError::Finding(_)), "{e:?}");
    }
}
