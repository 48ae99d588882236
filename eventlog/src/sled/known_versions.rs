//! Durable versions of recently written or read streams, kept in memory so that a reader
//! holding a folded state can skip its read (`EventStore::known_version`).

use super::KNOWN_VERSIONS_MAX;
use crate::generations::Generations;

/// Durable versions of streams, in memory, so a reader holding a folded state can skip the
/// read (`EventStore::known_version`).
///
/// Invariant: an entry is never ahead of the stream's durable version, and never behind a
/// durable write made since it was set. The sync thread sets (max) the versions of each group
/// before the head passes it; a forward read that reaches a stream's end sets (max) what it
/// found, unless entries were forgotten since the read began (`epoch`): that read may have
/// started before a write whose entry was forgotten.
pub(super) struct KnownVersions {
    /// Bumped whenever the map forgets a generation.
    pub(super) epoch: u64,
    pub(super) map: Generations<String, u64>,
}

impl Default for KnownVersions {
    fn default() -> Self {
        KnownVersions::with_len_max(KNOWN_VERSIONS_MAX)
    }
}

impl KnownVersions {
    pub(super) fn with_len_max(len_max: usize) -> KnownVersions {
        KnownVersions {
            epoch: 0,
            map: Generations::new(len_max),
        }
    }

    /// Raises the entry of `stream_id` to at least `version` (an owned id becomes the key
    /// as it is when one is needed).
    pub(super) fn raise(&mut self, stream_id: impl AsRef<str> + Into<String>, version: u64) {
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
