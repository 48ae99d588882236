//! The sled implementation of the log: one writer thread with group commit, cheap range reads,
//! subscriptions, the head anchor.
//!
//! Architecture invariants:
//! - Only the writer thread writes the `log` tree, so positions and the chain are assigned in
//!   one place, in commit order.
//! - A group is one `Batch` on one tree (atomic in sled), then `flush()` and `sync_data()` of
//!   sled's data file; callers are answered only after both.
//! - The writer is a two-stage pipeline: the writer thread checks and applies group N+1 while
//!   the sync thread makes group N durable, when enough appends wait to make that pay; else
//!   the writer makes the group durable itself. The hand-over is a rendezvous, so at most one
//!   applied group waits; groups are made durable, and answered, strictly in order.
//! - Readers never see past the durable head, even though sled shows a batch in memory before
//!   it is flushed.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use bincode::{Decode, Encode};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::anchor::{self, Anchor};
use crate::append::{AppendRequest, AppendResult, StreamVersion};
use crate::datadir::{DataDirLock, LOG_DIR};
use crate::error::{AppendError, LogError};
use crate::generations::Generations;
use crate::integrity::{self, Finding, FoundBy, IntegrityStatus, ScanSource, ScanState};
use crate::known_streams::KnownStreams;
use crate::record::{
    chunk, decode_value, encode_value, keys, Record, RecordBodyRef, GENESIS_CHAIN,
};
use crate::subscription::{RecordSource, Subscription};
use crate::{Direction, EventStore};

/// Appends waiting for the writer; senders wait (back-pressure) when it is full.
pub const APPEND_QUEUE_DEPTH: usize = 8_192;
/// Most appends committed in one group.
pub const GROUP_APPENDS_MAX: usize = 4_096;
/// Most events committed in one group (a group always takes at least one append).
pub const GROUP_EVENTS_MAX: usize = 8_192;
/// Appends waiting that always make the writer hand its group to the sync thread: a next
/// group this big amortises its own flush well, so overlapping pays (see `commit_group`).
pub const HANDOVER_QUEUE_ENOUGH: usize = 64;
/// A group takes no further append once its appends name this many streams.
pub const GROUP_STREAMS_MAX: usize = 8_192;
/// Committed groups kept for live subscribers before a slow one must read the log.
pub const LIVE_GROUPS_MAX: usize = 64;
/// Streams whose version the writer keeps in memory, per generation (see [`Generations`]).
pub const VERSION_CACHE_STREAMS_MAX: usize = 100_000;
/// Recently written or read streams whose durable version readers can ask for without a
/// read (`EventStore::known_version`), per generation.
pub const KNOWN_VERSIONS_MAX: usize = 100_000;
// A group's own staged versions must survive in the writer's cache until it is applied: one
// group never inserts enough streams to push its own entries out of both generations (the
// last append taken may name up to `APPEND_STREAMS_MAX` streams past `GROUP_STREAMS_MAX`).
const _: () =
    assert!(VERSION_CACHE_STREAMS_MAX > GROUP_STREAMS_MAX + crate::record::APPEND_STREAMS_MAX);
/// How often the head anchor is rewritten while the head moves.
pub const ANCHOR_INTERVAL_MS: u64 = 1_000;
/// sled page cache.
pub const CACHE_BYTES: u64 = 256 * 1024 * 1024;
/// Format version written into a new log (2: records in chunks, see ADR 0001).
const FORMAT_VERSION: u64 = 2;

/// The durable head: last durable position, its chain hash and recorded-at time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub position: u64,
    pub chain: [u8; 32],
    pub recorded_at_micros: i64,
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriterStats {
    pub groups: u64,
    pub appends: u64,
    pub events: u64,
}

#[derive(Encode, Decode)]
struct IdempotencyEntry {
    fingerprint: [u8; 32],
    result: AppendResult,
}

struct Job {
    request: AppendRequest,
    reply: oneshot::Sender<Result<AppendResult, AppendError>>,
}

/// Durable versions of streams, in memory, so a reader holding a folded state can skip the
/// read (`EventStore::known_version`).
///
/// Invariant: an entry is never ahead of the stream's durable version, and never behind a
/// durable write made since it was set. The sync thread sets (max) the versions of each group
/// before the head passes it; a forward read that reaches a stream's end sets (max) what it
/// found, unless entries were forgotten since the read began (`epoch`): that read may have
/// started before a write whose entry was forgotten.
struct KnownVersions {
    /// Bumped whenever the map forgets a generation.
    epoch: u64,
    map: Generations<String, u64>,
}

impl Default for KnownVersions {
    fn default() -> Self {
        KnownVersions::with_len_max(KNOWN_VERSIONS_MAX)
    }
}

impl KnownVersions {
    fn with_len_max(len_max: usize) -> KnownVersions {
        KnownVersions {
            epoch: 0,
            map: Generations::new(len_max),
        }
    }

    /// Raises the entry of `stream_id` to at least `version` (an owned id becomes the key
    /// as it is when one is needed).
    fn raise(&mut self, stream_id: impl AsRef<str> + Into<String>, version: u64) {
        if let Some(v) = self.map.young_mut(stream_id.as_ref()) {
            *v = (*v).max(version);
            return;
        }
        let version = self
            .map
            .get(stream_id.as_ref())
            .map_or(version, |v| version.max(*v));
        if self.map.insert(stream_id.into(), version) {
            self.epoch += 1;
        }
    }
}

/// What readers, the writer and subscriptions share.
struct Inner {
    data_dir: PathBuf,
    db: sled::Db,
    tree: sled::Tree,
    head: watch::Sender<Head>,
    stats: Mutex<WriterStats>,
    /// The streams that exist (a Bloom filter): a new stream costs no index lookup.
    known: KnownStreams,
    /// Durable versions of recently written or read streams (see [`KnownVersions`]).
    known_versions: RwLock<KnownVersions>,
    /// The first damage found (see `integrity`): set once, never cleared; appends are refused
    /// from then on.
    integrity: watch::Sender<Option<Finding>>,
    scan: Mutex<ScanState>,
    /// The anchor found at open, which the integrity scan checks the chain against.
    anchor_at_open: Option<Anchor>,
    /// Set by the writer or syncer after a storage failure: every later append is refused.
    storage_failure: watch::Sender<Option<String>>,
    _lock: DataDirLock,
}

/// The owner's side: the queue into the writer and the background threads. Dropping the
/// last handle closes the log (the writer drains its queue first).
struct Handle {
    inner: Arc<Inner>,
    live: Mutex<Option<broadcast::Sender<Arc<[Record]>>>>,
    queue: RwLock<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    anchor_stop: Mutex<Option<std::sync::mpsc::Sender<()>>>,
    anchor_thread: Mutex<Option<JoinHandle<()>>>,
    /// Fills `Inner::known` with the streams already in the log, started by the first append:
    /// a log that is only read (the tools) never pays for the scan.
    known_streams_thread: Mutex<Option<JoinHandle<()>>>,
    filling_started: AtomicBool,
    /// The background integrity scan (a server starts it; tools do not) and its stop flag.
    scan_thread: Mutex<Option<JoinHandle<()>>>,
    scan_stop: Arc<AtomicBool>,
}

/// The event log over sled. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct SledLog {
    handle: Arc<Handle>,
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SledLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledLog")
            .field("data_dir", &self.inner.data_dir)
            .field("head", &self.inner.head.borrow().position)
            .finish()
    }
}

impl SledLog {
    /// Opens (creating) the log in `data_dir`, taking the dir's lock and removing what a
    /// failed earlier run may have left (see [`crate::datadir::remove_stale_files`]).
    ///
    /// What sled cannot open is an error. What is wrong with an opened log (a missing or
    /// damaged head anchor, a corrupt tail record, a log that ends before its anchor or has
    /// another chain hash there) is not: the log opens *fenced* ([`SledLog::integrity`]), so a
    /// server can still serve the intact records and say what is wrong, and refuses appends.
    pub fn open(data_dir: &Path) -> Result<SledLog, LogError> {
        let lock = DataDirLock::acquire(data_dir)?;
        crate::datadir::remove_stale_files(data_dir)?;
        let db = sled::Config::new()
            .path(data_dir.join(LOG_DIR))
            .cache_capacity(CACHE_BYTES)
            .flush_every_ms(None)
            .open()?;
        let tree = db.open_tree("log")?;
        let meta_key = [keys::META, b'f'];
        match tree.get(meta_key)? {
            None if tree.is_empty() => {
                tree.insert(meta_key, &FORMAT_VERSION.to_be_bytes())?;
                db.flush()?;
            }
            None => {
                return Err(LogError::Store(
                    "log tree has data but no format marker".into(),
                ))
            }
            Some(v) if keys::u64_of(&v) == Some(FORMAT_VERSION) => {}
            Some(_) => return Err(LogError::Store("unsupported log format version".into())),
        }
        let mut finding = None;
        let head = match tail_head(&tree) {
            Ok(head) => head,
            Err((readable, e)) => {
                finding = Some(open_finding(e));
                readable
            }
        };
        let anchor_at_open = match anchor::read(data_dir) {
            Ok(a) => a,
            Err(e @ LogError::Corrupt { .. }) => {
                finding = finding.or(Some(open_finding(e)));
                None
            }
            Err(e) => return Err(e),
        };
        if anchor_at_open.is_none() && finding.is_none() {
            if head.position == 0 {
                // An anchor before the first event: from now on a log with events and no
                // anchor is always damage (or a deleted file), never a young log.
                anchor::write(
                    data_dir,
                    &Anchor {
                        position: 0,
                        chain: GENESIS_CHAIN,
                    },
                )?;
            } else {
                finding = Some(Finding {
                    position: 0,
                    reason: format!(
                        "head anchor {} is missing but the log holds {} events",
                        data_dir.join(anchor::ANCHOR_FILE).display(),
                        head.position
                    ),
                    found_by: FoundBy::Open,
                });
            }
        }
        let data_file = File::open(data_dir.join(LOG_DIR).join("db"))?;

        let (head_tx, _) = watch::channel(head);
        let (live_tx, _) = broadcast::channel(LIVE_GROUPS_MAX);
        let (queue_tx, queue_rx) = mpsc::channel(APPEND_QUEUE_DEPTH);
        let inner = Arc::new(Inner {
            data_dir: data_dir.to_path_buf(),
            db,
            tree,
            head: head_tx,
            stats: Mutex::new(WriterStats::default()),
            known: KnownStreams::new(),
            known_versions: RwLock::new(KnownVersions::default()),
            integrity: watch::channel(None).0,
            scan: Mutex::new(ScanState::NotStarted),
            anchor_at_open,
            storage_failure: watch::channel(None).0,
            _lock: lock,
        });
        if let (Some(a), None) = (&anchor_at_open, &finding) {
            if let Err(e) = check_anchor(&inner, head.position, a) {
                finding = Some(open_finding(e));
            }
        }
        if let Some(f) = finding {
            inner.fence(f);
        }
        let handle = Arc::new(Handle {
            inner: Arc::clone(&inner),
            live: Mutex::new(Some(live_tx.clone())),
            queue: RwLock::new(Some(queue_tx)),
            writer: Mutex::new(None),
            anchor_stop: Mutex::new(None),
            anchor_thread: Mutex::new(None),
            known_streams_thread: Mutex::new(None),
            filling_started: AtomicBool::new(false),
            scan_thread: Mutex::new(None),
            scan_stop: Arc::new(AtomicBool::new(false)),
        });

        let syncer = Syncer {
            inner: Arc::clone(&inner),
            live: live_tx,
            data_file,
            blobs_dir: data_dir.join(LOG_DIR).join("blobs"),
            synced_blobs: HashSet::new(),
            finished: 0,
        };
        let syncer_state = Arc::new(Mutex::new(syncer));
        let syncer_done = Arc::new(Condvar::new());
        let (thread_state, thread_done) = (Arc::clone(&syncer_state), Arc::clone(&syncer_done));
        let (to_syncer, applied_rx) = std::sync::mpsc::sync_channel(0);
        let syncer_thread = std::thread::Builder::new()
            .name("eventlog-sync".into())
            .spawn(move || Syncer::run(&thread_state, &thread_done, applied_rx))?;
        let writer = Writer {
            inner: Arc::clone(&inner),
            next_position: head.position + 1,
            chain: head.chain,
            last_recorded_at_micros: head.recorded_at_micros,
            versions: Generations::new(VERSION_CACHE_STREAMS_MAX),
            to_syncer: Some(to_syncer),
            syncer: Some(syncer_thread),
            syncer_state,
            syncer_done,
            handed: 0,
        };
        let writer_thread = std::thread::Builder::new()
            .name("eventlog-writer".into())
            .spawn(move || writer.run(queue_rx))?;
        *lock_unpoisoned(&handle.writer) = Some(writer_thread);

        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let anchor_inner = Arc::clone(&inner);
        let anchor_handle = std::thread::Builder::new()
            .name("eventlog-anchor".into())
            .spawn(move || anchor_loop(&anchor_inner, &stop_rx))?;
        *lock_unpoisoned(&handle.anchor_stop) = Some(stop_tx);
        *lock_unpoisoned(&handle.anchor_thread) = Some(anchor_handle);
        Ok(SledLog { handle, inner })
    }

    /// The data dir this log lives in.
    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// The durable head with its chain hash.
    pub fn durable_head(&self) -> Head {
        *self.inner.head.borrow()
    }

    /// A receiver that changes whenever the durable head moves.
    pub fn watch_head(&self) -> watch::Receiver<Head> {
        self.inner.head.subscribe()
    }

    /// Whether the scan that fills the filter of existing streams has started (the first
    /// append starts it).
    pub fn stream_filter_started(&self) -> bool {
        self.handle.filling_started.load(Ordering::Acquire)
    }

    /// Whether the filter of existing streams has been filled since open (until then every
    /// new stream pays an index lookup; see `known_streams`).
    pub fn stream_filter_complete(&self) -> bool {
        self.inner.known.is_complete()
    }

    pub fn writer_stats(&self) -> WriterStats {
        *lock_unpoisoned(&self.inner.stats)
    }

    /// What is known about the log's integrity: the first damage found, if any (then the log
    /// is fenced: appends answer [`LogError::Fenced`]), and the background scan's progress.
    pub fn integrity(&self) -> IntegrityStatus {
        IntegrityStatus {
            finding: self.inner.integrity.borrow().clone(),
            scan: *lock_unpoisoned(&self.inner.scan),
        }
    }

    /// A receiver that changes when damage is first found.
    pub fn watch_integrity(&self) -> watch::Receiver<Option<Finding>> {
        self.inner.integrity.subscribe()
    }

    /// Why the log stopped accepting writes after a storage failure (a full disk, a file
    /// size limit, an i/o error), if it did.
    pub fn storage_failure(&self) -> Option<String> {
        self.inner.storage_failure.borrow().clone()
    }

    /// A receiver that changes when a storage failure stops the writer.
    pub fn watch_storage_failure(&self) -> watch::Receiver<Option<String>> {
        self.inner.storage_failure.subscribe()
    }

    /// Starts the background integrity scan of every record up to the current head, once
    /// (see `integrity`). A log already fenced at open is not scanned: its first finding
    /// stands.
    pub fn start_integrity_scan(&self) -> Result<(), LogError> {
        let mut thread = lock_unpoisoned(&self.handle.scan_thread);
        if thread.is_some() || *lock_unpoisoned(&self.inner.scan) != ScanState::NotStarted {
            return Ok(());
        }
        if self.inner.integrity.borrow().is_some() {
            *lock_unpoisoned(&self.inner.scan) = ScanState::Finished {
                checked: 0,
                millis: 0,
            };
            return Ok(());
        }
        let inner = Arc::clone(&self.inner);
        let stop = Arc::clone(&self.handle.scan_stop);
        let target = self.inner.head.borrow().position;
        let anchor = self.inner.anchor_at_open;
        *thread = Some(
            std::thread::Builder::new()
                .name("eventlog-scan".into())
                .spawn(move || integrity::scan(inner.as_ref(), target, anchor, &stop))?,
        );
        Ok(())
    }

    /// Raw stored values from `from_position` (durable ones only), for verification and
    /// `include=raw`: (position, stored bytes).
    pub fn read_raw(
        &self,
        from_position: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, LogError> {
        self.inner.read_raw(from_position, limit)
    }

    /// Number of (stream, version) index entries; verify compares it with the record count.
    pub(crate) fn stream_index_len(&self) -> Result<u64, LogError> {
        let mut n = 0u64;
        for kv in self.inner.tree.scan_prefix([keys::STREAM]) {
            kv?;
            n += 1;
        }
        Ok(n)
    }

    /// Position the stream index names for (stream, version), if any.
    pub(crate) fn indexed_position(
        &self,
        stream_id: &str,
        version: u64,
    ) -> Result<Option<u64>, LogError> {
        Ok(self
            .inner
            .tree
            .get(keys::stream(stream_id, version))?
            .and_then(|v| keys::parse_stream_entry(&v))
            .map(|(position, _)| position))
    }

    /// Removes idempotency entries recorded before `before_micros`; returns how many.
    /// Keys are kept at least as long as the caller's retention says (the API: ≥ 24 h).
    pub fn prune_idempotency_keys(&self, before_micros: i64) -> Result<u64, LogError> {
        let mut removed = 0;
        for kv in self.inner.tree.scan_prefix([keys::IDEMPOTENCY]) {
            let (k, v) = kv?;
            let cfg = idempotency_config();
            if let Ok((entry, _)) = bincode::decode_from_slice::<IdempotencyEntry, _>(&v, cfg) {
                if entry.result.recorded_at_micros < before_micros {
                    self.inner.tree.remove(k)?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Stops the writer after the queued appends, writes the anchor and flushes. Appends
    /// after this answer [`LogError::Closed`]. Blocks; idempotent.
    pub fn close(&self) -> Result<(), LogError> {
        self.handle.close()
    }
}

impl Handle {
    /// Starts filling the stream filter with the streams already in the log, once. Until it
    /// is complete, every new stream is checked with an index lookup (as without a filter).
    fn start_filling_once(&self) -> Result<(), LogError> {
        if self.filling_started.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut thread = lock_unpoisoned(&self.known_streams_thread);
        if self.filling_started.load(Ordering::Acquire) {
            return Ok(());
        }
        let inner = Arc::clone(&self.inner);
        *thread = Some(
            std::thread::Builder::new()
                .name("eventlog-streams".into())
                .spawn(move || match inner.known.fill(&inner.tree) {
                    Ok(Some(streams)) => tracing::debug!(streams, "stream filter filled"),
                    Ok(None) => {}
                    // The filter stays untrusted: every new stream keeps its index lookup.
                    Err(e) => tracing::warn!(error = %e, "could not fill the stream filter"),
                })?,
        );
        self.filling_started.store(true, Ordering::Release);
        Ok(())
    }

    fn close(&self) -> Result<(), LogError> {
        self.scan_stop.store(true, Ordering::Relaxed);
        if let Some(h) = lock_unpoisoned(&self.scan_thread).take() {
            let _ = h.join();
        }
        self.inner.known.stop_filling();
        if let Some(h) = lock_unpoisoned(&self.known_streams_thread).take() {
            let _ = h.join();
        }
        // Dropping the last sender lets the writer drain the queue and stop.
        drop(self.queue.write().unwrap_or_else(|e| e.into_inner()).take());
        if let Some(h) = lock_unpoisoned(&self.writer).take() {
            let _ = h.join();
        }
        // With the writer's sender gone too, live subscribers see the end.
        drop(lock_unpoisoned(&self.live).take());
        drop(lock_unpoisoned(&self.anchor_stop).take());
        if let Some(h) = lock_unpoisoned(&self.anchor_thread).take() {
            let _ = h.join();
        }
        self.inner.db.flush()?;
        Ok(())
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::error!(error = %e, "closing the event log failed");
        }
    }
}

impl Inner {
    fn write_anchor(&self) -> Result<(), LogError> {
        let head = *self.head.borrow();
        // A fenced log keeps the anchor it has: rewriting it from a damaged or shortened
        // log would erase the evidence the next open and `verify` need.
        if head.position == 0 || self.integrity.borrow().is_some() {
            return Ok(());
        }
        anchor::write(
            &self.data_dir,
            &Anchor {
                position: head.position,
                chain: head.chain,
            },
        )
    }

    /// Fences the log with `finding` unless it already is (the first finding stands).
    fn fence(&self, finding: Finding) {
        let fenced = self.integrity.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(finding.clone());
            true
        });
        if fenced {
            tracing::error!(
                position = finding.position,
                reason = %finding.reason,
                found_by = finding.found_by.as_str(),
                "the event log is damaged; appends are refused from now on (run `replay-tool verify`)"
            );
        }
    }

    /// The error appends answer once the log is fenced.
    fn fenced_error(&self) -> Option<LogError> {
        self.integrity.borrow().as_ref().map(|f| LogError::Fenced {
            position: f.position,
            reason: f.reason.clone(),
        })
    }

    fn storage_failure(&self) -> Option<String> {
        self.storage_failure.borrow().clone()
    }

    /// Stops the writer for good after a storage failure.
    fn fail_storage(&self, reason: &str) {
        self.storage_failure.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(reason.to_string());
            true
        });
    }

    /// Passes a read's result on, fencing the log first if the read met damage.
    fn noticed<T>(&self, result: Result<T, LogError>) -> Result<T, LogError> {
        if let Err(LogError::Corrupt { position, reason }) = &result {
            self.fence(Finding {
                position: *position,
                reason: reason.clone(),
                found_by: FoundBy::Read,
            });
        }
        result
    }

    fn read_raw(&self, from_position: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, LogError> {
        self.noticed(self.read_raw_unnoticed(from_position, limit))
    }

    fn read_raw_unnoticed(
        &self,
        from_position: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, LogError> {
        let mut out = Vec::new();
        self.scan(from_position, limit, |position, value| {
            out.push((position, value.to_vec()));
            Ok(())
        })?;
        Ok(out)
    }

    /// Calls `f` with (position, stored value) for up to `limit` durable records from
    /// `from_position` on, in position order. Every durable position exists, so a position
    /// missing before the head (or before the limit) is damage, not an end: answering fewer
    /// records would hand a reader the same cursor forever.
    fn scan(
        &self,
        from_position: u64,
        limit: usize,
        mut f: impl FnMut(u64, &[u8]) -> Result<(), LogError>,
    ) -> Result<(), LogError> {
        let head = self.head.borrow().position;
        let from = from_position.max(1);
        if from > head || limit == 0 {
            return Ok(());
        }
        // A chunk holding `from` starts at most RECORDS_MAX - 1 positions before it.
        let lowest = from.saturating_sub(chunk::RECORDS_MAX as u64 - 1).max(1);
        let mut seen = 0;
        let mut expected = from;
        let missing = |expected: u64, found: &str| LogError::Corrupt {
            position: expected,
            reason: format!("record {expected} is missing ({found}; the durable head is {head})"),
        };
        for kv in self.tree.range(keys::chunk(lowest)..=keys::chunk(head)) {
            let (k, v) = kv?;
            let mut done = false;
            for_each_in_chunk(&k, &v, |position, value| {
                if position < from || done {
                    return Ok(());
                }
                if position > head || seen == limit {
                    done = true;
                    return Ok(());
                }
                if position != expected {
                    return Err(missing(expected, &format!("the next record is {position}")));
                }
                expected += 1;
                seen += 1;
                f(position, value)
            })?;
            if done || seen == limit {
                break;
            }
        }
        if seen < limit && expected <= head {
            return Err(missing(expected, "the log ends before it"));
        }
        Ok(())
    }

    fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<Record>, LogError> {
        let read = self.read_stream_unnoticed(stream_id, from_version, direction, limit);
        self.noticed(read)
    }

    fn read_stream_unnoticed(
        &self,
        stream_id: &str,
        from_version: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<Record>, LogError> {
        crate::record::validate_stream_id(stream_id).map_err(LogError::Invalid)?;
        // The epoch of the known versions before the head, the head before the filter: a
        // stream the filter does not know has no event at or below this head (the writer
        // inserts before the head can pass its first event).
        let epoch = self.known_versions_epoch();
        let head = self.head.borrow().position;
        if self.known.surely_absent(stream_id) {
            return Ok(Vec::new());
        }
        // (version, index entry) in the order asked for.
        let iter: Box<dyn Iterator<Item = sled::Result<(u64, sled::IVec)>>> = match direction {
            // Versions are gap-free from 1, so forward reads are point lookups of the next
            // version until one is missing: cheaper than a sled range iterator, which descends
            // the tree for every step anyway (and most runner loads find nothing after the
            // cached version).
            Direction::Forward => {
                let mut version = from_version.max(1);
                Box::new(std::iter::from_fn(move || {
                    let this = version;
                    version = version.checked_add(1)?;
                    self.tree
                        .get(keys::stream(stream_id, this))
                        .transpose()
                        .map(|entry| entry.map(|v| (this, v)))
                }))
            }
            Direction::Backward => Box::new(
                self.tree
                    .range(keys::stream(stream_id, 1)..=keys::stream(stream_id, from_version))
                    .rev()
                    .map(|kv| {
                        kv.map(|(k, v)| (keys::split_stream_key(&k).map_or(0, |(_, ver)| ver), v))
                    }),
            ),
        };
        let mut out: Vec<Record> = Vec::new();
        let mut past_head = false;
        // Consecutive events of a stream often share a chunk: fetch it once.
        let mut cached: Option<(u64, sled::IVec)> = None;
        for kv in iter {
            if out.len() >= limit {
                break;
            }
            let (version, v) = kv?;
            let Some((position, chunk_first)) = keys::parse_stream_entry(&v) else {
                return Err(LogError::Store(format!(
                    "malformed stream index entry for {stream_id}"
                )));
            };
            if position > head {
                match direction {
                    Direction::Forward => {
                        past_head = true;
                        break;
                    }
                    Direction::Backward => continue,
                }
            }
            let missing = || LogError::Corrupt {
                position,
                reason: format!(
                    "stream index names {stream_id}@{version} but the record is missing"
                ),
            };
            let chunk_value = match &cached {
                Some((first, value)) if *first == chunk_first => value.clone(),
                _ => {
                    let value = self
                        .tree
                        .get(keys::chunk(chunk_first))?
                        .ok_or_else(missing)?;
                    cached = Some((chunk_first, value.clone()));
                    value
                }
            };
            let values = split_chunk(chunk_first, &chunk_value)?;
            let value = values
                .get((position - chunk_first) as usize)
                .ok_or_else(missing)?;
            let r = decode_value(position, value)?;
            if r.stream_id != stream_id || r.version != version {
                return Err(LogError::Corrupt {
                    position,
                    reason: format!(
                        "stream index names {stream_id}@{version} but the record is {}@{}",
                        r.stream_id, r.version
                    ),
                });
            }
            out.push(r);
        }
        // A forward read that ran off the end of the stream (not into the limit, not past the
        // head) found the stream's durable version.
        if direction == Direction::Forward && out.len() < limit && !past_head {
            match out.last() {
                Some(r) => self.learn_version(stream_id, r.version, epoch),
                // Nothing after `from_version - 1` (a caller holding that state): one lookup
                // tells whether that version exists, so later loads can skip their read.
                None if from_version > 1 && self.known_version(stream_id).is_none() => {
                    let last = from_version - 1;
                    if let Some(v) = self.tree.get(keys::stream(stream_id, last))? {
                        if keys::parse_stream_entry(&v).is_some_and(|(p, _)| p <= head) {
                            self.learn_version(stream_id, last, epoch);
                        }
                    }
                }
                None => {}
            }
        }
        Ok(out)
    }

    fn known_versions_epoch(&self) -> u64 {
        self.known_versions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .epoch
    }

    fn known_version(&self, stream_id: &str) -> Option<u64> {
        self.known_versions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .map
            .get(stream_id)
            .copied()
    }

    /// Records a durable version found by a read that began in `epoch` (see [`KnownVersions`]).
    fn learn_version(&self, stream_id: &str, version: u64, epoch: u64) {
        if self.known_version(stream_id) >= Some(version) {
            return;
        }
        let mut known = self
            .known_versions
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if known.epoch == epoch {
            known.raise(stream_id, version);
        }
    }

    /// The stream's version counting only events at or below `head`.
    fn stream_version_at_most(&self, stream_id: &str, head: u64) -> Result<u64, LogError> {
        if self.known.surely_absent(stream_id) {
            return Ok(0);
        }
        // A point lookup answers the common question (a new stream) without a reverse scan,
        // which in sled clones tree nodes.
        match self.tree.get(keys::stream(stream_id, 1))? {
            None => return Ok(0),
            Some(v) if keys::parse_stream_entry(&v).is_some_and(|(p, _)| p > head) => return Ok(0),
            Some(_) => {}
        }
        for kv in self.tree.scan_prefix(keys::stream_prefix(stream_id)).rev() {
            let (k, v) = kv?;
            let Some((position, _)) = keys::parse_stream_entry(&v) else {
                return Err(LogError::Store(format!(
                    "malformed stream index entry for {stream_id}"
                )));
            };
            if position <= head {
                return Ok(keys::split_stream_key(&k).map_or(0, |(_, version)| version));
            }
        }
        Ok(0)
    }
}

/// The first position named by a chunk key.
fn chunk_key_position(key: &[u8]) -> Result<u64, LogError> {
    keys::position_of_chunk_key(key).ok_or_else(|| LogError::Corrupt {
        position: 0,
        reason: "malformed chunk key".into(),
    })
}

/// The stored record values of the chunk starting at `first`; broken framing is corruption
/// at that position.
fn split_chunk(first: u64, value: &[u8]) -> Result<Vec<&[u8]>, LogError> {
    chunk::split(value).map_err(|reason| LogError::Corrupt {
        position: first,
        reason,
    })
}

/// Calls `f` with (position, stored value) for every record of one stored chunk.
fn for_each_in_chunk(
    key: &[u8],
    value: &[u8],
    mut f: impl FnMut(u64, &[u8]) -> Result<(), LogError>,
) -> Result<(), LogError> {
    let first = chunk_key_position(key)?;
    for (i, value) in split_chunk(first, value)?.into_iter().enumerate() {
        f(first + i as u64, value)?;
    }
    Ok(())
}

impl RecordSource for Inner {
    fn read_from(&self, from_position: u64, limit: usize) -> Result<Vec<Record>, LogError> {
        let mut out = Vec::with_capacity(limit.min(1024));
        let scanned = self.scan(from_position, limit, |position, value| {
            out.push(decode_value(position, value)?);
            Ok(())
        });
        self.noticed(scanned.map(|()| out))
    }

    fn durable_head(&self) -> u64 {
        self.head.borrow().position
    }
}

impl ScanSource for Inner {
    fn raw(&self, from: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, LogError> {
        // The scan reports what it finds itself (as found by the scan).
        self.read_raw_unnoticed(from, limit)
    }

    fn indexed(&self, stream_id: &str, version: u64) -> Result<Option<u64>, LogError> {
        Ok(self
            .tree
            .get(keys::stream(stream_id, version))?
            .and_then(|v| keys::parse_stream_entry(&v))
            .map(|(position, _)| position))
    }

    fn fence(&self, finding: Finding) {
        Inner::fence(self, finding);
    }

    fn set_scan(&self, state: ScanState) {
        *lock_unpoisoned(&self.scan) = state;
    }
}

/// The head of the log from its last chunk. A tail that cannot be read is damage: the error
/// comes with the head of what can still be read (the records before that chunk).
fn tail_head(tree: &sled::Tree) -> Result<Head, (Head, LogError)> {
    let empty = Head {
        position: 0,
        chain: GENESIS_CHAIN,
        recorded_at_micros: i64::MIN,
    };
    let Some(kv) = tree
        .range(keys::chunk(0)..=keys::chunk(u64::MAX))
        .next_back()
    else {
        return Ok(empty);
    };
    let (k, v) = kv.map_err(|e| (empty, LogError::from(e)))?;
    let first = chunk_key_position(&k).map_err(|e| (empty, e))?;
    let before = Head {
        position: first.saturating_sub(1),
        ..empty
    };
    let values = split_chunk(first, &v).map_err(|e| (before, e))?;
    // `split_chunk` refuses an empty chunk, so there is a last record.
    let position = first + values.len() as u64 - 1;
    let r = decode_value(position, values[values.len() - 1]).map_err(|e| (before, e))?;
    Ok(Head {
        position,
        chain: r.chain,
        recorded_at_micros: r.recorded_at_micros,
    })
}

/// A finding of the checks at open.
fn open_finding(e: LogError) -> Finding {
    match e {
        LogError::Corrupt { position, reason } => Finding {
            position,
            reason,
            found_by: FoundBy::Open,
        },
        other => Finding {
            position: 0,
            reason: other.to_string(),
            found_by: FoundBy::Open,
        },
    }
}

#[async_trait]
impl EventStore for SledLog {
    async fn append(&self, request: AppendRequest) -> Result<AppendResult, AppendError> {
        request.validate()?;
        if let Some(fenced) = self.inner.fenced_error() {
            return Err(fenced.into());
        }
        let sender = self
            .handle
            .queue
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(LogError::Closed)?;
        self.handle.start_filling_once()?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(Job { request, reply })
            .await
            .map_err(|_| LogError::Closed)?;
        drop(sender);
        answer.await.map_err(|_| LogError::Closed)?
    }

    fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<Record>, LogError> {
        self.inner
            .read_stream(stream_id, from_version, direction, limit)
    }

    fn read_all(&self, from_position: u64, limit: usize) -> Result<Vec<Record>, LogError> {
        self.inner.read_from(from_position, limit)
    }

    fn head(&self) -> u64 {
        self.inner.head.borrow().position
    }

    fn stream_version(&self, stream_id: &str) -> Result<u64, LogError> {
        crate::record::validate_stream_id(stream_id).map_err(LogError::Invalid)?;
        let head = self.inner.head.borrow().position;
        self.inner.stream_version_at_most(stream_id, head)
    }

    fn known_version(&self, stream_id: &str) -> Option<u64> {
        self.inner.known_version(stream_id)
    }

    fn idempotency_result(&self, key: &str) -> Result<Option<([u8; 32], AppendResult)>, LogError> {
        let head = self.inner.head.borrow().position;
        let Some(v) = self.inner.tree.get(keys::idempotency(key))? else {
            return Ok(None);
        };
        let (entry, _) =
            bincode::decode_from_slice::<IdempotencyEntry, _>(&v, idempotency_config())
                .map_err(|e| LogError::Store(format!("undecodable idempotency entry: {e}")))?;
        // An entry of a group still being flushed is not an answer yet.
        if entry.result.last_position > head {
            return Ok(None);
        }
        Ok(Some((entry.fingerprint, entry.result)))
    }

    fn subscribe(&self, from_position: u64) -> Subscription {
        let live = match lock_unpoisoned(&self.handle.live).as_ref() {
            Some(tx) => tx.subscribe(),
            // Closed: a receiver whose sender is gone reports Closed after catch-up.
            None => broadcast::channel(1).1,
        };
        let source: Arc<dyn RecordSource> = self.inner.clone();
        Subscription::new(source, live, from_position)
    }
}

impl crate::LogAdmin for SledLog {
    fn prune_idempotency_keys(&self, before_micros: i64) -> Result<u64, LogError> {
        SledLog::prune_idempotency_keys(self, before_micros)
    }

    fn writer_stats(&self) -> WriterStats {
        SledLog::writer_stats(self)
    }

    fn read_raw(&self, from_position: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, LogError> {
        SledLog::read_raw(self, from_position, limit)
    }

    fn durable_head(&self) -> Head {
        SledLog::durable_head(self)
    }

    fn integrity(&self) -> IntegrityStatus {
        SledLog::integrity(self)
    }

    fn watch_integrity(&self) -> watch::Receiver<Option<Finding>> {
        SledLog::watch_integrity(self)
    }

    fn storage_failure(&self) -> Option<String> {
        SledLog::storage_failure(self)
    }

    fn watch_storage_failure(&self) -> watch::Receiver<Option<String>> {
        SledLog::watch_storage_failure(self)
    }

    fn start_integrity_scan(&self) -> Result<(), LogError> {
        SledLog::start_integrity_scan(self)
    }

    fn close(&self) -> Result<(), LogError> {
        SledLog::close(self)
    }
}

/// Checks the log against its head anchor: the log must reach the anchor's position and have
/// the same chain hash there.
fn check_anchor(inner: &Inner, head: u64, a: &Anchor) -> Result<(), LogError> {
    if a.position == 0 {
        // Written before the first event: nothing to compare but the genesis hash.
        if a.chain != GENESIS_CHAIN {
            return Err(LogError::Corrupt {
                position: 0,
                reason: "the head anchor at position 0 does not hold the genesis chain hash".into(),
            });
        }
        return Ok(());
    }
    if head < a.position {
        return Err(LogError::Corrupt {
            position: head + 1,
            reason: format!(
                "the log ends at position {head} but the head anchor says {} was durable: the log was cut short or rolled back",
                a.position
            ),
        });
    }
    let mut found = None;
    inner.scan(a.position, 1, |position, value| {
        found = Some((position, value.to_vec()));
        Ok(())
    })?;
    let value = match found {
        Some((position, value)) if position == a.position => value,
        _ => {
            return Err(LogError::Corrupt {
                position: a.position,
                reason: "record named by the head anchor is missing".into(),
            })
        }
    };
    let r = decode_value(a.position, &value)?;
    if r.chain != a.chain {
        return Err(LogError::Corrupt {
            position: a.position,
            reason: "chain hash differs from the head anchor: the log was rewritten".into(),
        });
    }
    Ok(())
}

fn lock_unpoisoned<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn anchor_loop(inner: &Inner, stop: &std::sync::mpsc::Receiver<()>) {
    let mut written = inner.head.borrow().position;
    loop {
        let stopping = !matches!(
            stop.recv_timeout(Duration::from_millis(ANCHOR_INTERVAL_MS)),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout)
        );
        let head = inner.head.borrow().position;
        if head != written || stopping {
            match inner.write_anchor() {
                Ok(()) => written = head,
                Err(e) => tracing::error!(error = %e, "could not write the head anchor"),
            }
        }
        if stopping {
            return;
        }
    }
}

/// The single writer, first half: takes queued appends, checks them, assigns positions and the
/// chain, and applies each group to sled as one `Batch`. It hands an applied group to the
/// [`Syncer`] and, while that one waits for the disk, stages the next group; or, when too few
/// appends wait for that to pay, makes the group durable itself (see `commit_group`).
struct Writer {
    inner: Arc<Inner>,
    next_position: u64,
    chain: [u8; 32],
    last_recorded_at_micros: i64,
    /// Versions of recently written or checked streams, including the group being staged
    /// (two generations: a group's own entries always survive until it is applied).
    versions: Generations<String, u64>,
    /// Rendezvous with the syncer: at most one group is applied and not yet being synced.
    to_syncer: Option<std::sync::mpsc::SyncSender<Applied>>,
    syncer: Option<JoinHandle<()>>,
    /// The syncer's state: the writer finishes a group itself, once the syncer has finished
    /// every group handed to it, when too few appends wait to overlap (see `commit_group`).
    syncer_state: Arc<Mutex<Syncer>>,
    /// Signalled each time the syncer finishes a group.
    syncer_done: Arc<Condvar>,
    /// Groups handed to the sync thread so far.
    handed: u64,
}

/// The single writer, second half: makes applied groups durable (`flush` + `sync_data` +
/// blobs), in order, and only then moves the durable head, answers the callers and feeds
/// live subscribers.
struct Syncer {
    inner: Arc<Inner>,
    live: broadcast::Sender<Arc<[Record]>>,
    data_file: File,
    /// sled's blob directory and the blob files already fsynced (see `sync_blobs`).
    blobs_dir: PathBuf,
    synced_blobs: HashSet<OsString>,
    /// Groups the sync thread has finished (the writer compares it with what it handed over).
    finished: u64,
}

/// A group applied to sled (visible in memory, not yet durable) on its way to the syncer.
struct Applied {
    /// Whether the group wrote anything (a group of conflicts only needs no sync of its own:
    /// every group before it was made durable before this one is received).
    wrote: bool,
    replies: Vec<(Reply, Result<AppendResult, AppendError>)>,
    /// The group's records for the live feed.
    records: Vec<Record>,
    /// The version each stream of the group reached.
    versions: Vec<(String, u64)>,
    /// The head after this group.
    head: Head,
    events: u64,
}

/// What one group stages before it is written.
#[derive(Default)]
struct Group {
    batch: sled::Batch,
    idempotency: HashMap<String, IdempotencyEntry>,
    records: Vec<Record>,
    versions: Vec<(String, u64)>,
    /// The chunk being filled: its first position, stored values and their total size.
    chunk_first: u64,
    chunk: Vec<Vec<u8>>,
    chunk_bytes: usize,
    writes: usize,
}

impl Group {
    /// Adds the stored value of the record at `position` to the open chunk, sealing that
    /// chunk first if it is full; answers the first position of the chunk it went into.
    fn add_to_chunk(&mut self, position: u64, value: Vec<u8>) -> u64 {
        if !self.chunk.is_empty()
            && (self.chunk.len() == chunk::RECORDS_MAX
                || self.chunk_bytes + value.len() > chunk::BYTES_TARGET)
        {
            self.seal_chunk();
        }
        if self.chunk.is_empty() {
            self.chunk_first = position;
        }
        self.chunk_bytes += value.len();
        self.chunk.push(value);
        self.chunk_first
    }

    /// Puts the open chunk into the batch. Chunks never span groups.
    fn seal_chunk(&mut self) {
        if self.chunk.is_empty() {
            return;
        }
        self.batch.insert(
            &keys::chunk(self.chunk_first)[..],
            chunk::encode(&self.chunk),
        );
        self.chunk.clear();
        self.chunk_bytes = 0;
    }
}

type Reply = oneshot::Sender<Result<AppendResult, AppendError>>;

impl Writer {
    fn run(mut self, mut queue: mpsc::Receiver<Job>) {
        let mut jobs: Vec<Job> = Vec::with_capacity(GROUP_APPENDS_MAX);
        while let Some(first) = queue.blocking_recv() {
            let mut events = first.request.event_count();
            let mut streams = first.request.streams.len();
            jobs.push(first);
            while jobs.len() < GROUP_APPENDS_MAX
                && events < GROUP_EVENTS_MAX
                && streams < GROUP_STREAMS_MAX
            {
                match queue.try_recv() {
                    Ok(job) => {
                        events += job.request.event_count();
                        streams += job.request.streams.len();
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
            self.commit_group(&mut jobs, &queue);
        }
        self.stop_syncer();
    }

    /// Lets the syncer finish the groups handed to it and waits for it.
    fn stop_syncer(&mut self) {
        drop(self.to_syncer.take());
        if let Some(h) = self.syncer.take() {
            let _ = h.join();
        }
    }

    fn commit_group(&mut self, jobs: &mut Vec<Job>, queue: &mpsc::Receiver<Job>) {
        // Checked here, where positions are assigned, so no append is made after a finding.
        if self.inner.integrity.borrow().is_some() {
            for job in jobs.drain(..) {
                let refused = self.inner.fenced_error().unwrap_or(LogError::Closed);
                let _ = job.reply.send(Err(refused.into()));
            }
            return;
        }
        if let Some(reason) = self.inner.storage_failure() {
            for job in jobs.drain(..) {
                let _ = job
                    .reply
                    .send(Err(LogError::Unavailable(reason.clone()).into()));
            }
            return;
        }
        let (start_position, start_chain, start_recorded) =
            (self.next_position, self.chain, self.last_recorded_at_micros);
        let mut group = Group::default();
        let mut replies: Vec<(Reply, Result<AppendResult, AppendError>)> =
            Vec::with_capacity(jobs.len());
        for job in jobs.drain(..) {
            let outcome = self.stage(job.request, &mut group);
            replies.push((job.reply, outcome));
        }
        group.seal_chunk();

        let wrote = group.writes > 0;
        if wrote {
            if let Err(e) = self.inner.tree.apply_batch(group.batch) {
                let e = LogError::from(e);
                tracing::error!(error = %e, "event log write failed; refusing further appends");
                self.inner.fail_storage(&e.to_string());
                (self.next_position, self.chain, self.last_recorded_at_micros) =
                    (start_position, start_chain, start_recorded);
                for (reply, _) in replies {
                    let _ = reply.send(Err(LogError::Unavailable(e.to_string()).into()));
                }
                return;
            }
        }
        let applied = Applied {
            wrote,
            replies,
            records: group.records,
            versions: group.versions,
            head: Head {
                position: self.next_position - 1,
                chain: self.chain,
                recorded_at_micros: self.last_recorded_at_micros,
            },
            events: self.next_position - start_position,
        };
        // Overlap pays only when the next group is ready to be as big as this one (or big
        // anyway): then the writer stages and applies it while the syncer waits for the disk.
        // With fewer appends
        // waiting, a hand-over would split the arrivals into small groups (a flush, a
        // `sync_data` and thread switches each) on a machine whose cores the callers need:
        // finish this group here instead, in order, and let the next one grow meanwhile
        // (ADR 0001, "When the writer hands a group over").
        if queue.len() < applied.replies.len().min(HANDOVER_QUEUE_ENOUGH) {
            let Ok(mut syncer) = self.syncer_state.lock() else {
                return self.fail_group(applied, "the event log's sync thread stopped");
            };
            while syncer.finished != self.handed {
                match self.syncer_done.wait(syncer) {
                    Ok(s) => syncer = s,
                    Err(_) => {
                        return self.fail_group(applied, "the event log's sync thread stopped")
                    }
                }
            }
            syncer.finish(applied);
            return;
        }
        let Some(to_syncer) = &self.to_syncer else {
            return;
        };
        self.handed += 1;
        if let Err(std::sync::mpsc::SendError(applied)) = to_syncer.send(applied) {
            self.fail_group(applied, "the event log's sync thread stopped");
        }
    }

    /// The syncer is gone (it panicked): nothing can be made durable any more. Refuses this
    /// group's appends and every later one.
    fn fail_group(&self, applied: Applied, reason: &str) {
        self.inner.fail_storage(reason);
        for (reply, _) in applied.replies {
            let _ = reply.send(Err(LogError::Unavailable(reason.to_string()).into()));
        }
    }

    /// The version of `stream_id` including staged events. A version read from the log is
    /// remembered too: only this thread writes, so it stays true until this thread stages an
    /// event of that stream, which updates it (a stream that appends only guard, as every
    /// order placement guards its product, costs no lookup after the first).
    fn current_version(&mut self, stream_id: &str) -> Result<u64, LogError> {
        if let Some(v) = self.versions.get(stream_id) {
            return Ok(*v);
        }
        let v = self
            .inner
            .stream_version_at_most(stream_id, self.next_position.saturating_sub(1))?;
        self.versions.insert(stream_id.to_owned(), v);
        Ok(v)
    }

    fn stage(
        &mut self,
        request: AppendRequest,
        group: &mut Group,
    ) -> Result<AppendResult, AppendError> {
        if let Some(idem) = &request.idempotency {
            let earlier = match group.idempotency.get(&idem.key) {
                Some(e) => Some((e.fingerprint, e.result.clone())),
                None => self
                    .inner
                    .tree
                    .get(keys::idempotency(&idem.key))
                    .map_err(LogError::from)?
                    .and_then(|v| {
                        bincode::decode_from_slice::<IdempotencyEntry, _>(&v, idempotency_config())
                            .ok()
                            .map(|(e, _)| (e.fingerprint, e.result))
                    }),
            };
            if let Some((fingerprint, mut result)) = earlier {
                if fingerprint != idem.fingerprint {
                    return Err(AppendError::IdempotencyKeyReused);
                }
                result.deduplicated = true;
                return Ok(result);
            }
        }

        let mut currents = Vec::with_capacity(request.streams.len());
        for s in &request.streams {
            let current = self.current_version(&s.stream_id)?;
            if !s.expected.admits(current) {
                return Err(AppendError::Conflict {
                    stream_id: s.stream_id.clone(),
                    expected: s.expected,
                    current,
                });
            }
            currents.push(current);
        }

        let AppendRequest {
            streams: stream_appends,
            meta,
            idempotency,
        } = request;
        let recorded_at = meta.recorded_at_micros.max(self.last_recorded_at_micros);
        self.last_recorded_at_micros = recorded_at;
        let first_position = self.next_position;
        let mut streams = Vec::with_capacity(stream_appends.len());
        for (s, current) in stream_appends.into_iter().zip(currents) {
            let mut version = current;
            let has_events = !s.events.is_empty();
            if current == 0 && has_events {
                self.inner.known.insert(&s.stream_id);
            }
            for e in s.events {
                version += 1;
                let position = self.next_position;
                let (value, crc32c, chain) = encode_value(
                    &RecordBodyRef {
                        position,
                        stream_id: &s.stream_id,
                        version,
                        event_type: &e.event_type,
                        schema_version: e.schema_version,
                        recorded_at_micros: recorded_at,
                        actor: &meta.actor,
                        correlation_id: &meta.correlation_id,
                        causation_id: &meta.causation_id,
                        payload: &e.payload,
                    },
                    &self.chain,
                );
                let chunk_first = group.add_to_chunk(position, value);
                group.batch.insert(
                    keys::stream(&s.stream_id, version),
                    &keys::stream_entry(position, chunk_first)[..],
                );
                group.writes += 1;
                self.chain = chain;
                self.next_position += 1;
                group.records.push(Record {
                    position,
                    stream_id: s.stream_id.clone(),
                    version,
                    event_type: e.event_type,
                    schema_version: e.schema_version,
                    recorded_at_micros: recorded_at,
                    actor: meta.actor.clone(),
                    correlation_id: meta.correlation_id.clone(),
                    causation_id: meta.causation_id.clone(),
                    payload: e.payload,
                    crc32c,
                    chain,
                });
            }
            if has_events {
                // Usually already there (its version was just checked): no new key.
                match self.versions.young_mut(&s.stream_id) {
                    Some(v) => *v = version,
                    None => {
                        self.versions.insert(s.stream_id.clone(), version);
                    }
                }
                group.versions.push((s.stream_id.clone(), version));
            }
            streams.push(StreamVersion {
                stream_id: s.stream_id,
                version,
            });
        }
        let result = AppendResult {
            first_position,
            last_position: self.next_position - 1,
            recorded_at_micros: recorded_at,
            streams,
            deduplicated: false,
        };
        if let Some(idem) = idempotency {
            let entry = IdempotencyEntry {
                fingerprint: idem.fingerprint,
                result: result.clone(),
            };
            let bytes = bincode::encode_to_vec(&entry, idempotency_config()).unwrap_or_default();
            group.batch.insert(keys::idempotency(&idem.key), bytes);
            group.writes += 1;
            group.idempotency.insert(idem.key, entry);
        }
        Ok(result)
    }
}

impl Syncer {
    fn run(state: &Mutex<Syncer>, done: &Condvar, groups: std::sync::mpsc::Receiver<Applied>) {
        for group in groups {
            let mut syncer = lock_unpoisoned(state);
            syncer.finish(group);
            syncer.finished += 1;
            drop(syncer);
            done.notify_one();
        }
    }

    fn finish(&mut self, group: Applied) {
        let mut failure = self.inner.storage_failure();
        if failure.is_none() && group.wrote {
            if let Err(e) = self.make_durable() {
                tracing::error!(error = %e, "event log sync failed; refusing further appends");
                self.inner.fail_storage(&e.to_string());
                failure = Some(e.to_string());
            }
        }
        if let Some(reason) = failure {
            // We cannot know which part reached the disk: no caller of this group is told
            // it succeeded (restart recovers a prefix, and `verify` checks it).
            for (reply, _) in group.replies {
                let _ = reply.send(Err(LogError::Unavailable(reason.clone()).into()));
            }
            return;
        }
        if !group.versions.is_empty() {
            let mut known = self
                .inner
                .known_versions
                .write()
                .unwrap_or_else(|e| e.into_inner());
            for (stream_id, version) in group.versions {
                known.raise(stream_id, version);
            }
        }
        if group.events > 0 {
            // Head first: a caller answered below can read what it wrote at once.
            self.inner.head.send_replace(group.head);
        }
        let appends = group.replies.len() as u64;
        for (reply, outcome) in group.replies {
            let _ = reply.send(outcome);
        }
        // Bookkeeping after the answers, off the callers' latency.
        {
            let mut stats = lock_unpoisoned(&self.inner.stats);
            stats.groups += 1;
            stats.appends += appends;
            stats.events += group.events;
        }
        // The live feed after the head: a subscriber that sees a gap can read it.
        if !group.records.is_empty() && self.live.receiver_count() > 0 {
            let _ = self.live.send(Arc::from(group.records));
        }
    }

    /// Makes everything applied so far durable: sled's `flush` (which on Linux ends in
    /// `sync_file_range`, not a full sync), then `sync_data` of its data file, then blobs.
    fn make_durable(&mut self) -> Result<(), LogError> {
        self.inner.db.flush()?;
        self.data_file.sync_data()?;
        self.sync_blobs()?;
        Ok(())
    }

    /// sled writes any log message over ~128 KiB (a page holding large records) to a file in
    /// `blobs/` and never fsyncs it. Our chunks keep pages below that, but a single record near
    /// the payload limit can still produce one: fsync every blob file not synced before, then
    /// the directory. One directory read per group; the directory is normally empty.
    fn sync_blobs(&mut self) -> Result<(), LogError> {
        let entries = match std::fs::read_dir(&self.blobs_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let mut present = HashSet::new();
        let mut synced_any = false;
        for entry in entries {
            let name = entry?.file_name();
            if !self.synced_blobs.contains(&name) {
                match File::open(self.blobs_dir.join(&name)) {
                    Ok(f) => f.sync_all()?,
                    // Removed by sled's segment cleaner in the meantime: nothing to keep.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                }
                synced_any = true;
            }
            present.insert(name);
        }
        self.synced_blobs = present;
        if synced_any {
            File::open(&self.blobs_dir)?.sync_all()?;
        }
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Also on unwinding: the syncer finishes what was handed to it and writes the anchor.
        self.stop_syncer();
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        // Last durable state goes into the anchor when the writer stops (clean shutdown).
        let _ = self.inner.write_anchor();
    }
}

/// Encoding of idempotency entries, with a decode limit (corrupt prefixes cannot allocate).
fn idempotency_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<4096>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_versions_never_go_down_and_count_every_forgotten_generation() {
        let mut k = KnownVersions::with_len_max(2);
        k.raise("a", 5);
        k.raise("b", 1);
        assert_eq!(k.epoch, 0);
        // "c" fills a new generation: "a" and "b" move to the old one.
        k.raise("c", 1);
        assert_eq!(k.epoch, 1);
        // A lower version (say, learnt by a read) never lowers the entry, wherever it is.
        k.raise("a", 3);
        assert_eq!(k.map.get("a"), Some(&5));
        k.raise("a", 7);
        assert_eq!(k.map.get("a"), Some(&7));
        // The next generation forgets "b" and counts it.
        k.raise("d", 1);
        assert_eq!(k.epoch, 2);
        assert_eq!(k.map.get("b"), None);
        assert_eq!(k.map.get("a"), Some(&7));
    }
}
