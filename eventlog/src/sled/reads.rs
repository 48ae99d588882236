//! Reads of the `log` tree: raw records by position, stream reads through the stream index,
//! stream versions, the durable versions readers may skip a read with, and what
//! subscriptions and the integrity scan read through.
//!
//! Invariant: no read answers a record past the durable head, and a read that meets a bad or
//! missing record fences the log before it answers the error.

use super::{chunk, keys, lock_unpoisoned, Inner};
use crate::error::LogError;
use crate::integrity::{Finding, FoundBy, ScanSource, ScanState};
use crate::record::{decode_value, Record};
use crate::subscription::RecordSource;
use crate::Direction;

impl Inner {
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

    pub(super) fn read_raw(
        &self,
        from_position: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, LogError> {
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
    pub(super) fn scan(
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

    pub(super) fn read_stream(
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

    pub(super) fn known_version(&self, stream_id: &str) -> Option<u64> {
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
    pub(super) fn stream_version_at_most(
        &self,
        stream_id: &str,
        head: u64,
    ) -> Result<u64, LogError> {
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
pub(super) fn chunk_key_position(key: &[u8]) -> Result<u64, LogError> {
    keys::position_of_chunk_key(key).ok_or_else(|| LogError::Corrupt {
        position: 0,
        reason: "malformed chunk key".into(),
    })
}

/// The stored record values of the chunk starting at `first`; broken framing is corruption
/// at that position.
pub(super) fn split_chunk(first: u64, value: &[u8]) -> Result<Vec<&[u8]>, LogError> {
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

    fn index_entries_upto(&self, target: u64) -> Result<u64, LogError> {
        let mut entries = 0u64;
        for kv in self.tree.scan_prefix([keys::STREAM]) {
            let (_, value) = kv?;
            if keys::parse_stream_entry(&value).is_none_or(|(position, _)| position <= target) {
                entries += 1;
            }
        }
        Ok(entries)
    }

    fn fence(&self, finding: Finding) {
        Inner::fence(self, finding);
    }

    fn set_scan(&self, state: ScanState) {
        *lock_unpoisoned(&self.scan) = state;
    }
}
