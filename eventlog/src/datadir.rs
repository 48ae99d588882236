//! The data directory: layout, the exclusive lock, and read-only access for tools.
//!
//! ```text
//! data/
//!   LOCK          held (flock) by the one process that owns the dir
//!   log/          the sled database of the event log
//!   head.anchor   last durable position + chain hash (see anchor.rs)
//!   files/        content-addressed uploads (see files.rs)
//!   views/        projection state (owned by the projections crate)
//! ```
//!
//! sled has no read-only open and may rewrite files while recovering, so tools that promise
//! not to change a byte work on a copy made while holding the lock ([`OfflineCopy`]).

use std::fs::{self, File, TryLockError};
use std::path::{Path, PathBuf};

use crate::anchor::ANCHOR_FILE;
use crate::error::LogError;

/// Lock file name.
pub const LOCK_FILE: &str = "LOCK";
/// The sled directory of the log.
pub const LOG_DIR: &str = "log";

/// Checkpoints of the read models (written by the projections crate).
pub const VIEWS_DIR: &str = "views";

/// Removes what an interrupted or failed earlier run can leave and what would break the next
/// open: sled's half-written snapshot (`log/snap.<lsn>.generating`: sled writes the snapshot
/// under that name and renames it when complete; a 0-byte one left by a full disk makes every
/// later open fail with "Read corrupted data"), and the temp files of durable replaces
/// (`views/.<name>.snap.tmp`, `.head.anchor.tmp`) and of the file store (`files/tmp/*`).
/// Call only while holding the dir's lock. Answers the paths removed.
pub fn remove_stale_files(data_dir: &Path) -> Result<Vec<PathBuf>, LogError> {
    let mut removed = Vec::new();
    let stale_in = |dir: &Path, is_stale: &dyn Fn(&str) -> bool, removed: &mut Vec<PathBuf>| {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(LogError::from(e)),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if entry.file_type()?.is_file() && is_stale(name) {
                fs::remove_file(entry.path())?;
                removed.push(entry.path());
            }
        }
        Ok(())
    };
    stale_in(
        &data_dir.join(LOG_DIR),
        &|name| name.starts_with("snap.") && name.ends_with(".generating"),
        &mut removed,
    )?;
    stale_in(
        &data_dir.join(VIEWS_DIR),
        &|name| name.starts_with('.') && name.ends_with(".tmp"),
        &mut removed,
    )?;
    stale_in(
        data_dir,
        &|name| name == format!(".{ANCHOR_FILE}.tmp"),
        &mut removed,
    )?;
    stale_in(&data_dir.join("files").join("tmp"), &|_| true, &mut removed)?;
    for path in &removed {
        tracing::warn!(path = %path.display(), "removed a temp file an earlier run left behind");
    }
    Ok(removed)
}

/// Holds the data dir's exclusive lock until dropped.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Takes the lock, creating the dir if needed. Another holder → [`LogError::InUse`],
    /// at once (never waits).
    pub fn acquire(data_dir: &Path) -> Result<DataDirLock, LogError> {
        fs::create_dir_all(data_dir)?;
        let path = data_dir.join(LOCK_FILE);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock { _file: file, path }),
            Err(TryLockError::WouldBlock) => Err(LogError::InUse(data_dir.to_path_buf())),
            Err(TryLockError::Error(e)) => Err(e.into()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A private copy of a data dir's log (and anchor) in a temp dir, for tools that must not
/// change the original. Removed when dropped.
#[derive(Debug)]
pub struct OfflineCopy {
    dir: tempfile::TempDir,
}

impl OfflineCopy {
    /// Copies `data_dir`'s log while holding its lock (so no server starts halfway).
    /// A dir held by a running server → [`LogError::InUse`]; a dir without a log →
    /// [`LogError::Invalid`].
    pub fn take(data_dir: &Path) -> Result<OfflineCopy, LogError> {
        let src_log = data_dir.join(LOG_DIR);
        if !src_log.is_dir() {
            return Err(LogError::Invalid(format!(
                "{} holds no event log (no {LOG_DIR}/ directory)",
                data_dir.display()
            )));
        }
        // Read-only tools must not even create the LOCK file in a foreign dir; when it is
        // missing nobody can hold it, so only an existing one is tried.
        let _lock = if data_dir.join(LOCK_FILE).exists() {
            Some(lock_existing(data_dir)?)
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("marketlog-copy")
            .tempdir()?;
        copy_tree(&src_log, &dir.path().join(LOG_DIR))?;
        let anchor = data_dir.join(ANCHOR_FILE);
        if anchor.exists() {
            fs::copy(&anchor, dir.path().join(ANCHOR_FILE))?;
        }
        Ok(OfflineCopy { dir })
    }

    /// The copy's data dir, to open with [`crate::SledLog::open`].
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Locks an existing LOCK file without creating or truncating it (opened read-only: flock
/// does not need write access).
fn lock_existing(data_dir: &Path) -> Result<File, LogError> {
    let file = File::open(data_dir.join(LOCK_FILE))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(LogError::InUse(data_dir.to_path_buf())),
        Err(TryLockError::Error(e)) => Err(e.into()),
    }
}

fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dst)?;
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let ty = entry.file_type()?;
        let to = dst.join(entry.file_name());
        if ty.is_dir() {
            copy_tree(&entry.path(), &to)?;
        } else if ty.is_file() {
            fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}
