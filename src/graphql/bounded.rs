//! A small map shared across requests, bounded in entries: the parsed-document cache and the
//! persisted queries. When it is full an arbitrary entry makes room — the working set of real
//! clients is a handful of queries, and a stream of one-off queries only costs what it would
//! have cost without the map.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

pub struct BoundedMap<K, V> {
    capacity: usize,
    entries: Mutex<HashMap<K, V>>,
}

impl<K: Eq + Hash + Clone, V: Clone> BoundedMap<K, V> {
    /// A map of at most `capacity` entries (0 = it keeps nothing).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(HashMap::with_capacity(capacity.min(1024))),
        }
    }

    /// The most entries kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, V>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A clone of the value of `key` (values are `Arc`s: cheap), when kept.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.capacity == 0 {
            return None;
        }
        self.lock().get(key).cloned()
    }

    /// Keeps `value` under `key`, replacing the key's value or, when full, another entry.
    pub fn insert(&self, key: K, value: V) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.capacity
            && !entries.contains_key(&key)
            && let Some(victim) = entries.keys().next().cloned()
        {
            entries.remove(&victim);
        }
        entries.insert(key, value);
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_holds_more_than_its_capacity_and_keeps_the_latest() {
        let map = BoundedMap::new(3);
        for i in 0..10u32 {
            map.insert(i, i * 2);
            assert!(map.len() <= 3);
            assert_eq!(map.get(&i), Some(i * 2), "the entry just inserted is kept");
        }
        let kept = (0..10u32).filter(|i| map.get(i) == Some(i * 2)).count();
        assert_eq!(kept, 3, "every kept key still maps to its own value");
        map.insert(9, 0);
        assert_eq!(map.get(&9), Some(0), "a key's value is replaced");
        assert_eq!(map.len(), 3);
    }

    #[test]
    fn capacity_zero_keeps_nothing() {
        let map = BoundedMap::new(0);
        map.insert("a".to_owned(), 1);
        assert!(map.is_empty());
        assert_eq!(map.get("a"), None);
    }
}
