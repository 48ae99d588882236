//! The head anchor: a small file beside sled holding the last durable position and its chain
//! hash. A hash chain cannot show that its own tail was cut off or rolled back; the anchor
//! can. It is replaced atomically (temp file, fsync, rename, directory fsync), at least once
//! a second while the head moves and at clean shutdown.
//!
//! Invariant: the anchor only ever names a position that was durable when it was written, so
//! a healthy log always reaches at least the anchor's position with the same chain hash.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::error::LogError;

/// File name of the anchor inside the data dir.
pub const ANCHOR_FILE: &str = "head.anchor";
const HEADER: &str = "marketlog-head-anchor v1";

/// Last durable position and the chain hash of the record there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    pub position: u64,
    pub chain: [u8; 32],
}

impl Anchor {
    fn render(&self) -> String {
        let body = format!(
            "{HEADER}\nposition={}\nchain={}\n",
            self.position,
            hex::encode(self.chain)
        );
        let crc = crc32c::crc32c(body.as_bytes());
        format!("{body}crc={crc:08x}\n")
    }

    fn parse(text: &str) -> Result<Anchor, String> {
        let crc_at = text.rfind("crc=").ok_or("missing crc line")?;
        let (body, crc_line) = text.split_at(crc_at);
        let stored = u32::from_str_radix(crc_line.trim_start_matches("crc=").trim(), 16)
            .map_err(|_| "bad crc line")?;
        if crc32c::crc32c(body.as_bytes()) != stored {
            return Err("anchor checksum mismatch".into());
        }
        let mut lines = body.lines();
        if lines.next() != Some(HEADER) {
            return Err("unknown anchor header".into());
        }
        let mut position = None;
        let mut chain = None;
        for line in lines {
            if let Some(v) = line.strip_prefix("position=") {
                position = Some(v.parse::<u64>().map_err(|_| "bad position")?);
            } else if let Some(v) = line.strip_prefix("chain=") {
                let bytes = hex::decode(v).map_err(|_| "bad chain hex")?;
                chain =
                    Some(<[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| "bad chain length")?);
            }
        }
        Ok(Anchor {
            position: position.ok_or("missing position")?,
            chain: chain.ok_or("missing chain")?,
        })
    }
}

/// Reads the anchor of a data dir; `None` when there is none yet (a new or pre-anchor dir).
pub fn read(data_dir: &Path) -> Result<Option<Anchor>, LogError> {
    let path = data_dir.join(ANCHOR_FILE);
    let damaged = |reason: &str| LogError::Corrupt {
        position: 0,
        reason: format!("head anchor {} is damaged: {reason}", path.display()),
    };
    match fs::read(&path) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes).map_err(|_| damaged("not text"))?;
            Anchor::parse(&text)
                .map(Some)
                .map_err(|reason| damaged(&reason))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Replaces the anchor durably.
pub fn write(data_dir: &Path, anchor: &Anchor) -> Result<(), LogError> {
    crate::files::write_file_durably(data_dir, ANCHOR_FILE, anchor.render().as_bytes())
}

/// Fsyncs a directory so that a rename inside it is durable.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `bytes` to `path` and fsyncs it (helper for the durable-replace dance).
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_round_trips_and_rejects_edits() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        let a = Anchor {
            position: 42,
            chain: [7u8; 32],
        };
        write(dir.path(), &a).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Some(a));
        let path = dir.path().join(ANCHOR_FILE);
        let text = fs::read_to_string(&path)
            .unwrap()
            .replace("position=42", "position=41");
        fs::write(&path, text).unwrap();
        assert!(read(dir.path()).is_err());
    }
}
