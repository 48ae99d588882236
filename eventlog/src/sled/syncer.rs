//! The sync thread: makes applied groups durable (`flush` + `sync_data` + blobs), in order,
//! and only then moves the durable head, answers the callers and feeds live subscribers.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};

use tokio::sync::broadcast;

use super::writer::Applied;
use super::{lock_unpoisoned, Inner};
use crate::error::LogError;
use crate::record::Record;

/// The single writer, second half: makes applied groups durable (`flush` + `sync_data` +
/// blobs), in order, and only then moves the durable head, answers the callers and feeds
/// live subscribers.
pub(super) struct Syncer {
    pub(super) inner: Arc<Inner>,
    pub(super) live: broadcast::Sender<Arc<[Record]>>,
    pub(super) data_file: File,
    /// sled's blob directory and the blob files already fsynced (see `sync_blobs`).
    pub(super) blobs_dir: PathBuf,
    pub(super) synced_blobs: HashSet<OsString>,
    /// Groups the sync thread has finished (the writer compares it with what it handed over).
    pub(super) finished: u64,
}

impl Syncer {
    pub(super) fn run(
        state: &Mutex<Syncer>,
        done: &Condvar,
        groups: std::sync::mpsc::Receiver<Applied>,
    ) {
        for group in groups {
            let mut syncer = lock_unpoisoned(state);
            syncer.finish(group);
            syncer.finished += 1;
            drop(syncer);
            done.notify_one();
        }
    }

    pub(super) fn finish(&mut self, group: Applied) {
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

impl Drop for Syncer {
    fn drop(&mut self) {
        // Last durable state goes into the anchor when the writer stops (clean shutdown).
        let _ = self.inner.write_anchor();
    }
}
