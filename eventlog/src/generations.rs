//! A bounded map for caches of recently used streams: two generations of at most `len_max`
//! entries each. Inserts go to the young generation; when it is full it becomes the old one
//! and the previous old generation is dropped. Lookups look in both.
//!
//! Why not empty the cache when full: every stream in use then misses at once (all loads go
//! back to sled together, right after the emptying), while here the entries written or read
//! within the last `len_max` inserts always survive.

use std::borrow::Borrow;
use std::hash::Hash;

/// Keys are stream ids the server makes; hashed with `foldhash` (hashbrown's default), which
/// is several times cheaper than SipHash on ids of 20–60 bytes.
type HashMap<K, V> = foldhash::HashMap<K, V>;

/// A map of at most `2 × len_max` entries that forgets its oldest generation when full.
#[derive(Debug, Clone)]
pub struct Generations<K, V> {
    young: HashMap<K, V>,
    old: HashMap<K, V>,
    len_max: usize,
}

impl<K: Hash + Eq, V> Generations<K, V> {
    /// An empty map whose generations hold at most `len_max` entries each (at least 1).
    pub fn new(len_max: usize) -> Generations<K, V> {
        Generations {
            young: HashMap::default(),
            old: HashMap::default(),
            len_max: len_max.max(1),
        }
    }

    /// The value of `key`, the young generation's if both have one.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.young.get(key).or_else(|| self.old.get(key))
    }

    /// The young generation's value of `key`, to change in place without a new key (a key
    /// only in the old generation has to be inserted again).
    pub fn young_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.young.get_mut(key)
    }

    /// Sets `key` to `value` in the young generation, first making the young generation the
    /// old one if it is full. Answers whether that happened (entries were forgotten).
    pub fn insert(&mut self, key: K, value: V) -> bool {
        if let Some(slot) = self.young.get_mut(&key) {
            *slot = value;
            return false;
        }
        let rotated = self.young.len() >= self.len_max;
        if rotated {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(key, value);
        rotated
    }

    /// Entries held, counting a key held by both generations twice.
    pub fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.young.is_empty() && self.old.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_len_max_inserts_always_survive_and_older_ones_go_a_generation_at_a_time() {
        let mut g = Generations::new(3);
        for i in 0..3 {
            assert!(!g.insert(i, i * 10));
        }
        // The young generation is full: the next new key moves it to the old one.
        assert!(g.insert(3, 30));
        assert_eq!(
            (0..4).map(|i| g.get(&i).copied()).collect::<Vec<_>>(),
            vec![Some(0), Some(10), Some(20), Some(30)]
        );
        // Updating a young key never rotates.
        assert!(!g.insert(3, 31));
        assert!(!g.insert(4, 40));
        assert!(!g.insert(5, 50));
        // A key only in the old generation is shadowed by its newer value.
        assert!(g.insert(0, 1));
        assert_eq!(g.get(&0), Some(&1));
        // 1 and 2 were in the dropped generation; 3..=5 (the previous young one) survive.
        assert_eq!(g.get(&1), None);
        assert_eq!(g.get(&2), None);
        assert_eq!(g.get(&3), Some(&31));
        assert_eq!(g.get(&5), Some(&50));
        assert_eq!(g.len(), 4);
        for i in 0..100 {
            g.insert(100 + i, i);
            assert!(g.len() <= 6);
            assert_eq!(g.get(&(100 + i)), Some(&i));
        }
    }
}
