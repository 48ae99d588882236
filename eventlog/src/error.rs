//! Errors of the log. Messages are lowercase, name the field or rule, and never leak paths
//! of other tenants' data (there are none here: the log knows no tenants).

use std::path::PathBuf;

/// Errors from reading, opening or verifying the log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("data dir in use: {0} is held by another process (is a server running on it?)")]
    InUse(PathBuf),
    #[error("i/o error: {0}")]
    Io(String),
    #[error("store error: {0}")]
    Store(String),
    #[error("corrupt record at position {position}: {reason}")]
    Corrupt { position: u64, reason: String },
    #[error("the log is closed")]
    Closed,
    #[error("the log stopped accepting writes after a storage failure: {0}")]
    Unavailable(String),
    /// The log was found damaged (see `integrity`): appends are refused for good.
    #[error("the event log is damaged at position {position} ({reason}); writes are refused until an operator runs `replay-tool verify` and restores the data dir")]
    Fenced { position: u64, reason: String },
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl From<std::io::Error> for LogError {
    fn from(e: std::io::Error) -> Self {
        LogError::Io(e.to_string())
    }
}

impl From<sled::Error> for LogError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Io(io) => LogError::Io(io.to_string()),
            other => LogError::Store(other.to_string()),
        }
    }
}

/// Why an append was refused. Nothing of a refused append is written.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error(
        "version conflict on stream {stream_id}: expected {expected}, current version is {current}"
    )]
    Conflict {
        stream_id: String,
        expected: crate::Expected,
        current: u64,
    },
    #[error("idempotency key reused with a different request")]
    IdempotencyKeyReused,
    #[error("invalid append: {0}")]
    Invalid(String),
    #[error(transparent)]
    Log(#[from] LogError),
}
