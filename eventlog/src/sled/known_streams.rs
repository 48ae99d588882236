//! The streams that exist, as a Bloom filter, so that a new stream costs no index lookup.
//!
//! Checking `NoStream` (every order placement) and loading a stream that does not exist yet
//! are both a sled point lookup that misses — in sled 0.34 about a third of the writer's CPU
//! under `log_append`, since a lookup materialises the fragmented leaf it lands in. A Bloom
//! filter has no false negatives: when it says "absent", the stream has no event.
//!
//! Invariants:
//! - The writer inserts a stream when it stages the stream's first event, before the group is
//!   applied, so the insert happens before any reader can see the event (readers see only up to
//!   the durable head, which the sync thread moves after the group is durable).
//! - From the log's first append after open (reads alone never need it, so the tools skip it),
//!   a background thread inserts every stream already in the log, then marks the filter
//!   complete; until then nobody trusts an "absent" answer, and everyone does the lookup.
//! - A false positive only costs the lookup the filter would have saved; past its sizing the
//!   filter degrades to more lookups, never to a wrong answer.

use std::sync::atomic::{AtomicBool, Ordering};

use fastbloom::AtomicBloomFilter;

use super::keys;
use crate::error::LogError;

/// Bits in the filter: 8 MiB.
const FILTER_BITS: usize = 1 << 26;
/// Bits set per stream. Each one is an atomic OR on a random word of the 8 MiB, a cache miss
/// on the writer's path: 11 (the optimum for 4M streams) cost ~4 % of the writer's time under
/// `log_append` at 256. With 4, false positives are ~0.001 % at 1M streams, ~0.24 % at 4M and
/// ~5 % at 10M (each costs the one index lookup the filter would have saved).
const FILTER_HASHES: u32 = 4;

pub(crate) struct KnownStreams {
    filter: AtomicBloomFilter,
    complete: AtomicBool,
    stop: AtomicBool,
}

impl KnownStreams {
    pub(crate) fn new() -> KnownStreams {
        KnownStreams {
            filter: AtomicBloomFilter::with_num_bits(FILTER_BITS).hashes(FILTER_HASHES),
            complete: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        }
    }

    /// True only if the stream certainly has no event (and the filter is complete).
    pub(crate) fn surely_absent(&self, stream_id: &str) -> bool {
        self.complete.load(Ordering::Acquire) && !self.filter.contains(stream_id)
    }

    /// Records that the stream exists (the writer, when it stages a stream's first event).
    pub(crate) fn insert(&self, stream_id: &str) {
        self.filter.insert(stream_id);
    }

    /// Whether the fill of the streams already in the log has finished.
    pub(crate) fn is_complete(&self) -> bool {
        self.complete.load(Ordering::Acquire)
    }

    /// Makes a running [`fill`](Self::fill) return early (the log is closing).
    pub(crate) fn stop_filling(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Inserts every stream of the stream index, one seek per stream (the keys of a stream are
    /// `s‖id‖0x00‖version` and ids never contain 0x00 or 0x01, so the next stream starts at or
    /// after `s‖id‖0x01`), then marks the filter complete. Returns the streams found, or
    /// `None` if stopped first. A malformed stream key is an error and leaves the filter
    /// untrusted: the streams after it would be missing from a filter marked complete.
    pub(crate) fn fill(&self, tree: &sled::Tree) -> Result<Option<u64>, LogError> {
        let mut from = vec![keys::STREAM];
        let mut streams = 0u64;
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(None);
            }
            let Some((key, _)) = tree.range(from.as_slice()..).next().transpose()? else {
                break;
            };
            if key.first() != Some(&keys::STREAM) {
                break;
            }
            let Some((id, _)) = keys::split_stream_key(&key) else {
                return Err(LogError::Store(
                    "malformed stream index key; the stream filter stays off".into(),
                ));
            };
            if let Ok(id) = std::str::from_utf8(id) {
                self.filter.insert(id);
            }
            streams += 1;
            from.truncate(1);
            from.extend_from_slice(id);
            from.push(1);
        }
        self.complete.store(true, Ordering::Release);
        Ok(Some(streams))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fill_finds_every_stream_even_when_one_id_prefixes_another() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let tree = db.open_tree("log").unwrap();
        let streams = ["order-1", "order-10", "order-1-a", "product-p", "a"];
        for s in streams {
            for v in 1..=3 {
                tree.insert(keys::stream(s, v), &keys::stream_entry(v, v)[..])
                    .unwrap();
            }
        }
        tree.insert(keys::chunk(1), &b"x"[..]).unwrap();
        tree.insert([keys::META, b'f'], &b"x"[..]).unwrap();
        let known = KnownStreams::new();
        assert!(!known.surely_absent("nothing"), "not complete yet");
        assert_eq!(known.fill(&tree).unwrap(), Some(streams.len() as u64));
        for s in streams {
            assert!(!known.surely_absent(s), "{s} is in the log");
        }
        assert!(known.surely_absent("order-2"));
        assert!(known.surely_absent("order-"));
    }

    #[test]
    fn inserted_streams_are_never_absent_and_others_almost_always_are() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let known = KnownStreams::new();
        assert_eq!(known.fill(&db.open_tree("log").unwrap()).unwrap(), Some(0));
        const STREAMS: usize = 200_000;
        for i in 0..STREAMS {
            known.insert(&format!("order-ord_{i:08}"));
        }
        for i in 0..STREAMS {
            assert!(!known.surely_absent(&format!("order-ord_{i:08}")), "{i}");
        }
        // 4 bits of 2^26 per stream: ~2e-8 false positives at 200k streams.
        let maybe = (0..STREAMS)
            .filter(|i| !known.surely_absent(&format!("order-new_{i:08}")))
            .count();
        assert!(
            maybe <= 2,
            "{maybe} of {STREAMS} unknown streams looked known"
        );
    }

    #[test]
    fn a_malformed_stream_key_fails_the_fill_and_leaves_the_filter_untrusted() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let tree = db.open_tree("log").unwrap();
        tree.insert(keys::stream("order-1", 1), &keys::stream_entry(1, 1)[..])
            .unwrap();
        // Too short for `id ‖ 0x00 ‖ version`, sorted before the stream after it.
        tree.insert(&b"sorder-2"[..], &b"x"[..]).unwrap();
        tree.insert(keys::stream("order-3", 1), &keys::stream_entry(2, 2)[..])
            .unwrap();
        let known = KnownStreams::new();
        assert!(known.fill(&tree).is_err());
        assert!(!known.is_complete());
        assert!(!known.surely_absent("order-3"));
    }

    #[test]
    fn a_stopped_fill_leaves_the_filter_untrusted() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let tree = db.open_tree("log").unwrap();
        tree.insert(keys::stream("order-1", 1), &keys::stream_entry(1, 1)[..])
            .unwrap();
        let known = KnownStreams::new();
        known.stop_filling();
        assert_eq!(known.fill(&tree).unwrap(), None);
        assert!(!known.is_complete());
        assert!(!known.surely_absent("order-2"));
    }
}
