//! Marketlog's append-only event log over sled.
//!
//! Owns: global gap-free positions, per-stream versions, atomic multi-stream appends with
//! expectations and idempotency keys, durable group commit, reads, subscriptions, the
//! integrity chain and its verification, the head anchor, and the content-addressed file
//! store beside the log. Knows bytes, stream ids and versions; knows no domain type.
//!
//! Architecture invariant: an append is acknowledged only after its group is flushed and the
//! data file is `sync_data`ed; readers and subscribers see only durable records.

mod anchor;
mod append;
pub mod datadir;
mod error;
pub mod files;
pub mod generations;
pub mod guard;
pub mod integrity;
mod known_streams;
mod record;
mod sled_log;
mod subscription;
pub mod verify;

use async_trait::async_trait;

pub use anchor::{read as read_anchor, Anchor, ANCHOR_FILE};
pub use append::{
    AppendRequest, AppendResult, Expected, Idempotency, Metadata, NewEvent, StreamAppend,
    StreamVersion,
};
pub use datadir::{DataDirLock, OfflineCopy};
pub use error::{AppendError, LogError};
pub use files::{FileStore, StoredFile, FILE_BYTES_MAX};
pub use integrity::{Finding, FoundBy, IntegrityStatus, ScanState};
pub use record::{
    chain_next, decode_value, split_value, stream_kind, validate_stream_id, Record,
    APPEND_EVENTS_MAX, GENESIS_CHAIN, PAYLOAD_BYTES_MAX, STREAM_ID_BYTES_MAX,
};
pub use sled_log::{Head, SledLog, WriterStats};

/// The on-disk layout of the `log` tree (key builders, chunk framing), for tools that must
/// read or deliberately damage stored bytes, such as the tamper tests. Not for normal reads.
pub mod layout {
    pub use crate::record::{chunk, keys};
}
pub use subscription::{Batch, RecordSource, Subscription};

/// Direction of a stream read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Backward,
}

/// The narrow interface every backend implements; domain and projections use only this.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends atomically, answering only once the events are durable.
    async fn append(&self, request: AppendRequest) -> Result<AppendResult, AppendError>;

    /// Up to `limit` records of one stream from `from_version` (forward), or from
    /// `from_version` down (backward; `u64::MAX` = from the newest).
    fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<Record>, LogError>;

    /// Up to `limit` records of the whole log from `from_position`.
    fn read_all(&self, from_position: u64, limit: usize) -> Result<Vec<Record>, LogError>;

    /// The durable head position (0 for an empty log).
    fn head(&self) -> u64;

    /// A stream's current version (0 if it does not exist).
    fn stream_version(&self, stream_id: &str) -> Result<u64, LogError>;

    /// The stream's durable version if the store has it in memory (a stream written
    /// recently), without touching storage; `None` means "read to find out". Lets a caller
    /// holding a folded state at that version skip the read.
    fn known_version(&self, _stream_id: &str) -> Option<u64> {
        None
    }

    /// Every record from `from_position` on: catch-up, then live.
    fn subscribe(&self, from_position: u64) -> Subscription;

    /// The fingerprint and result of the durable append made with idempotency `key`, if any.
    /// Lets a caller answer a retry before re-deciding against a state that moved on.
    fn idempotency_result(&self, key: &str) -> Result<Option<([u8; 32], AppendResult)>, LogError>;
}
