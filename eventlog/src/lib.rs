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
mod record;
mod sled;
mod subscription;
pub mod verify;

use async_trait::async_trait;

pub use self::sled::{Head, SledLog, WriterStats};
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

/// The on-disk layout of the `log` tree (key builders, chunk framing), for tools that must
/// read or deliberately damage stored bytes, such as the tamper tests. Not for normal reads.
pub mod layout {
    pub use crate::sled::{chunk, keys};
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

/// What a server needs of its log besides appends and reads (those are [`EventStore`]):
/// upkeep, figures, the stored bytes for `include=raw`, integrity and storage status, and
/// close. A second backend implements both traits; the server holds the log only through
/// them.
pub trait LogAdmin: Send + Sync + 'static {
    /// Removes idempotency entries recorded before `before_micros`; returns how many.
    fn prune_idempotency_keys(&self, before_micros: i64) -> Result<u64, LogError>;
    /// Counters of the writer for metrics.
    fn writer_stats(&self) -> WriterStats;
    /// Stored values from `from_position` (durable ones only): (position, stored bytes).
    fn read_raw(&self, from_position: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, LogError>;
    /// The durable head with its chain hash and recorded-at time.
    fn durable_head(&self) -> Head;
    /// The first damage found, if any, and the background scan's progress.
    fn integrity(&self) -> IntegrityStatus;
    /// Changes when damage is first found.
    fn watch_integrity(&self) -> tokio::sync::watch::Receiver<Option<Finding>>;
    /// Why the log stopped accepting writes after a storage failure, if it did.
    fn storage_failure(&self) -> Option<String>;
    /// Changes when a storage failure stops the writer.
    fn watch_storage_failure(&self) -> tokio::sync::watch::Receiver<Option<String>>;
    /// Starts the background integrity scan, once.
    fn start_integrity_scan(&self) -> Result<(), LogError>;
    /// Stops the writer after the queued appends, writes the anchor and flushes. Blocks.
    fn close(&self) -> Result<(), LogError>;
}
