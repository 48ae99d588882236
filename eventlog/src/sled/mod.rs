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

pub mod chunk;
pub mod keys;
mod known_streams;
mod known_versions;
mod open;
mod reads;
mod syncer;
mod writer;

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use bincode::{Decode, Encode};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use self::known_streams::KnownStreams;
use self::known_versions::KnownVersions;
use self::open::{check_anchor, open_finding, tail_head};
use self::syncer::Syncer;
use self::writer::Writer;
use crate::anchor::{self, Anchor};
use crate::append::{AppendRequest, AppendResult};
use crate::datadir::{DataDirLock, LOG_DIR};
use crate::error::{AppendError, LogError};
use crate::generations::Generations;
use crate::integrity::{self, Finding, FoundBy, IntegrityStatus, ScanState};
use crate::record::{Record, GENESIS_CHAIN};
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

/// Largest encoded idempotency entry: its fingerprint and result, whose stream list names up
/// to `APPEND_STREAMS_MAX` streams (each id ≤ `STREAM_ID_BYTES_MAX` bytes plus its length and
/// version varints, < 16 bytes). An entry over the limit would not decode, so a retry of the
/// widest appends would append again.
pub const IDEMPOTENCY_ENTRY_BYTES_MAX: usize =
    256 + crate::record::APPEND_STREAMS_MAX * (crate::record::STREAM_ID_BYTES_MAX + 16);

/// Encoding of idempotency entries, with a decode limit (corrupt prefixes cannot allocate).
fn idempotency_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<IDEMPOTENCY_ENTRY_BYTES_MAX>()
}
