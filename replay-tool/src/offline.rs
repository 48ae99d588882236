//! The offline [`LogSource`]: a private copy of a stopped server's data dir, opened with
//! sled. sled has no read-only open and may rewrite files while it recovers, so the user's
//! data dir is only ever copied (under its lock) and never opened.
//!
//! Invariants:
//! - Not a byte of the user's data dir changes: it is read by [`OfflineCopy::take`] and by
//!   `stat` for its size, nothing else.
//! - A damaged store is a finding, never a crash: every call into sled runs under
//!   [`guarded`], which turns a panic deep inside the store into [`SourceError::Store`].

use std::fs;
use std::path::{Path, PathBuf};

use eventlog::datadir::LOG_DIR;
pub(crate) use eventlog::guard::guarded;
use eventlog::verify::{verify_log, VerifyReport};
use eventlog::{
    read_anchor, Anchor, Direction, EventStore, LogError, OfflineCopy, Record, SledLog,
};

use crate::source::{LogSize, LogSource, SourceError};

/// The content-addressed file store beside the log (counted in the log size).
const FILES_DIR: &str = "files";
/// Deepest directory nesting walked when summing file sizes (the store uses two levels).
const SIZE_WALK_DEPTH_MAX: usize = 16;

/// A data dir's log, read through a private copy that is removed on drop.
pub struct OfflineSource {
    /// `Some` until drop; dropped (closing sled) before the copy it lives in is removed.
    log: Option<SledLog>,
    anchor: Option<Anchor>,
    data_dir: PathBuf,
    copy_dir: PathBuf,
    _copy: OfflineCopy,
}

impl std::fmt::Debug for OfflineSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfflineSource")
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

impl OfflineSource {
    /// Copies `data_dir`'s log and anchor and opens the copy.
    ///
    /// A missing dir, a dir without a log or a dir held by a running server →
    /// [`SourceError::Unavailable`]; a copy that the store refuses to open (damaged files, a
    /// corrupt tail, a log shorter than its head anchor) → [`SourceError::Corrupt`] or
    /// [`SourceError::Store`].
    pub fn open(data_dir: &Path) -> Result<OfflineSource, SourceError> {
        let shown = data_dir.display();
        match fs::metadata(data_dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(SourceError::Unavailable(format!(
                    "data dir {shown} is not a directory"
                )))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SourceError::Unavailable(format!(
                    "data dir {shown} does not exist"
                )))
            }
            Err(e) => {
                return Err(SourceError::Unavailable(format!(
                    "cannot read data dir {shown}: {e}"
                )))
            }
        }
        let copy = OfflineCopy::take(data_dir).map_err(|e| match e {
            LogError::Io(m) => SourceError::Unavailable(format!(
                "cannot copy the log of {shown} to a temp dir: {m}"
            )),
            LogError::Invalid(m) => SourceError::Unavailable(m),
            other => SourceError::Unavailable(other.to_string()),
        })?;
        let copy_dir = copy.path().to_path_buf();
        let paths = PathRewrite {
            copy: copy_dir.display().to_string(),
            original: data_dir.display().to_string(),
        };
        let anchor = read_anchor(&copy_dir).map_err(|e| paths.finding(e))?;
        let log = guarded(|| SledLog::open(&copy_dir)).map_err(|e| paths.finding(e))?;
        // What the log's own checks found at open (a missing or damaged anchor, a tail that
        // does not match it) is a finding of every command, as when opening refused it.
        if let Some(f) = log.integrity().finding {
            return Err(paths.finding(LogError::Corrupt {
                position: f.position,
                reason: f.reason,
            }));
        }
        Ok(OfflineSource {
            log: Some(log),
            anchor,
            data_dir: data_dir.to_path_buf(),
            copy_dir,
            _copy: copy,
        })
    }

    fn log(&self) -> &SledLog {
        // Only `drop` takes the log out.
        self.log.as_ref().expect("the log is open until drop")
    }

    fn paths(&self) -> PathRewrite {
        PathRewrite {
            copy: self.copy_dir.display().to_string(),
            original: self.data_dir.display().to_string(),
        }
    }
}

impl LogSource for OfflineSource {
    fn head(&self) -> Result<u64, SourceError> {
        guarded(|| Ok(self.log().head())).map_err(|e| self.paths().finding(e))
    }

    fn read_from(&self, from_position: u64, limit: usize) -> Result<Vec<Record>, SourceError> {
        guarded(|| self.log().read_all(from_position, limit)).map_err(|e| self.paths().finding(e))
    }

    fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<Record>, SourceError> {
        if eventlog::validate_stream_id(stream_id).is_err() || limit == 0 {
            return Ok(Vec::new());
        }
        guarded(|| {
            EventStore::read_stream(
                self.log(),
                stream_id,
                from_version.max(1),
                Direction::Forward,
                limit,
            )
        })
        .map_err(|e| self.paths().finding(e))
    }

    fn verify(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport, SourceError> {
        guarded(|| verify_log(self.log(), self.anchor, progress))
            .map_err(|e| self.paths().finding(e))
    }

    fn log_size(&self) -> Result<Option<LogSize>, SourceError> {
        let mut total = 0u64;
        for dir in [LOG_DIR, FILES_DIR] {
            total = total.saturating_add(tree_size_bytes(&self.data_dir.join(dir), 0).map_err(
                |e| {
                    SourceError::Unavailable(format!(
                        "cannot measure {}: {e}",
                        self.data_dir.join(dir).display()
                    ))
                },
            )?);
        }
        Ok(Some(LogSize::OnDisk(total)))
    }
}

impl Drop for OfflineSource {
    fn drop(&mut self) {
        let log = self.log.take();
        // Closing flushes the copy; a damaged copy must not turn the exit into a crash.
        let _ = guarded(move || {
            drop(log);
            Ok(())
        });
    }
}

/// Messages about the copy name the user's data dir instead of a temp path they never saw.
struct PathRewrite {
    copy: String,
    original: String,
}

impl PathRewrite {
    fn text(&self, message: &str) -> String {
        message.replace(&self.copy, &self.original)
    }

    /// Classifies an error of the opened copy: everything the store says about its own
    /// content is a finding.
    fn finding(&self, e: LogError) -> SourceError {
        match e {
            LogError::Corrupt { position, reason } => SourceError::Corrupt {
                position,
                reason: self.text(&reason),
            },
            LogError::Store(m) => SourceError::Store(self.text(&m)),
            other => SourceError::Store(self.text(&other.to_string())),
        }
    }
}

/// Sum of the sizes of the regular files under `dir` (0 if it does not exist); symlinks are
/// not followed.
fn tree_size_bytes(dir: &Path, depth: usize) -> std::io::Result<u64> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut total = 0u64;
    for entry in entries {
        let entry = entry?;
        let meta = fs::symlink_metadata(entry.path())?;
        if meta.is_file() {
            total = total.saturating_add(meta.len());
        } else if meta.is_dir() && depth < SIZE_WALK_DEPTH_MAX {
            total = total.saturating_add(tree_size_bytes(&entry.path(), depth + 1)?);
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_users_dir_not_the_copy() {
        let paths = PathRewrite {
            copy: "/tmp/marketlog-copyX".into(),
            original: "./data".into(),
        };
        let e = paths.finding(LogError::Corrupt {
            position: 0,
            reason: "head anchor /tmp/marketlog-copyX/head.anchor: bad crc line".into(),
        });
        assert_eq!(
            e,
            SourceError::Corrupt {
                position: 0,
                reason: "head anchor ./data/head.anchor: bad crc line".into()
            }
        );
    }
}
