//! Content-addressed file store beside sled (delivery uploads, ≤ 5 MiB each). Files never go
//! into sled or into events: sled stores big values in `blobs/` without fsync, and events
//! stay small. A file is named by the SHA-256 of its bytes, written to a temp name, fsynced,
//! renamed into place and the directory fsynced; on read the hash is checked again.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::anchor::{sync_dir, write_synced};
use crate::error::LogError;

/// Largest file accepted.
pub const FILE_BYTES_MAX: usize = 5 * 1024 * 1024;
/// Directory of the store inside the data dir.
pub const FILES_DIR: &str = "files";

/// A stored file's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub sha256: String,
    pub size: u64,
}

/// The store; cheap to clone.
#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

impl FileStore {
    /// Opens (creating) the store under `data_dir/files`.
    pub fn open(data_dir: &Path) -> Result<FileStore, LogError> {
        let root = data_dir.join(FILES_DIR);
        fs::create_dir_all(root.join("tmp"))?;
        Ok(FileStore { root })
    }

    fn path_of(&self, sha256: &str) -> Option<PathBuf> {
        let valid = sha256.len() == 64
            && sha256
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        valid.then(|| self.root.join(&sha256[..2]).join(sha256))
    }

    /// Stores `bytes` durably and returns their address. Storing the same bytes twice is a
    /// no-op the second time.
    pub fn put(&self, bytes: &[u8]) -> Result<StoredFile, LogError> {
        if bytes.len() > FILE_BYTES_MAX {
            return Err(LogError::Invalid(format!(
                "file of {} bytes is larger than {FILE_BYTES_MAX}",
                bytes.len()
            )));
        }
        let sha256 = hex::encode(Sha256::digest(bytes));
        let stored = StoredFile {
            sha256: sha256.clone(),
            size: bytes.len() as u64,
        };
        let Some(path) = self.path_of(&sha256) else {
            return Err(LogError::Invalid("bad file hash".into()));
        };
        if path.exists() {
            return Ok(stored);
        }
        let shard = path.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&shard)?;
        let tmp = self
            .root
            .join("tmp")
            .join(format!("{sha256}.{}", std::process::id()));
        write_synced(&tmp, bytes)?;
        fs::rename(&tmp, &path)?;
        sync_dir(&shard)?;
        Ok(stored)
    }

    /// Reads a file back, checking its hash.
    pub fn get(&self, sha256: &str) -> Result<Option<Vec<u8>>, LogError> {
        let Some(path) = self.path_of(sha256) else {
            return Ok(None);
        };
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if hex::encode(Sha256::digest(&bytes)) != sha256 {
            return Err(LogError::Corrupt {
                position: 0,
                reason: format!("file {sha256} does not match its hash"),
            });
        }
        Ok(Some(bytes))
    }
}

/// Replaces `dir/name` durably: temp file, fsync, rename, directory fsync.
pub(crate) fn write_file_durably(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), LogError> {
    let tmp = dir.join(format!(".{name}.tmp"));
    write_synced(&tmp, bytes)?;
    fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_content_addressed_and_checked_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        let f = store.put(b"hello").unwrap();
        assert_eq!(
            f.sha256,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(store.put(b"hello").unwrap(), f);
        assert_eq!(store.get(&f.sha256).unwrap().unwrap(), b"hello");
        assert_eq!(store.get(&"0".repeat(64)).unwrap(), None);
        assert_eq!(store.get("../etc/passwd").unwrap(), None);
        let path = dir
            .path()
            .join(FILES_DIR)
            .join(&f.sha256[..2])
            .join(&f.sha256);
        fs::write(&path, b"jello").unwrap();
        assert!(store.get(&f.sha256).is_err());
    }

    #[test]
    fn files_over_the_limit_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        assert!(store.put(&vec![0u8; FILE_BYTES_MAX + 1]).is_err());
        assert!(store.put(&vec![0u8; FILE_BYTES_MAX]).is_ok());
    }
}
