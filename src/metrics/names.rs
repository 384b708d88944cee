//! Fixed-capacity, lock-free table keyed by `&'static str` names (query types, operations).
//!
//! Open addressing over `OnceLock` slots: a lookup hashes the name (FNV-1a, a few ns for our
//! short names), probes linearly and compares — no lock, no allocation. Inserting a new name
//! initialises an empty slot through `OnceLock::get_or_init`, which may briefly block another
//! thread inserting into the *same* slot; that happens once per name for the life of the
//! process. Two threads racing to claim one slot for different names both end up correct: the
//! loser sees the winner's name and probes on. Names are never removed, so an index stays
//! valid forever, which is what lets the pool pack an operation into one atomic word.

use std::sync::OnceLock;

/// Names are code constants, so the set is small and bounded by the source; 128 leaves room.
pub(crate) const DEFAULT_CAPACITY: usize = 128;

struct Slot<T> {
    name: &'static str,
    value: T,
}

/// A grow-only map from `&'static str` to `T` with stable indices.
pub(crate) struct NameTable<T> {
    slots: Box<[OnceLock<Slot<T>>]>,
    mask: usize,
}

fn fnv1a(name: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[inline]
fn same(a: &'static str, b: &'static str) -> bool {
    // The common case is the very same literal; fall back to comparing text.
    (std::ptr::eq(a.as_ptr(), b.as_ptr()) && a.len() == b.len()) || a == b
}

impl<T> NameTable<T> {
    /// A table holding up to `capacity` names (rounded up to a power of two, at least 2).
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(2).next_power_of_two();
        Self {
            slots: (0..capacity).map(|_| OnceLock::new()).collect(),
            mask: capacity - 1,
        }
    }

    /// The entry for `name`, created with `init` if new; `None` only when the table is full.
    #[inline]
    pub(crate) fn get_or_insert_with(&self, name: &'static str, init: impl Fn() -> T) -> Option<(usize, &T)> {
        let start = fnv1a(name) as usize & self.mask;
        for step in 0..self.slots.len() {
            let index = (start + step) & self.mask;
            let slot = self.slots.get(index)?;
            let entry = match slot.get() {
                Some(entry) => entry,
                None => slot.get_or_init(|| Slot { name, value: init() }),
            };
            if same(entry.name, name) {
                return Some((index, &entry.value));
            }
        }
        None
    }

    /// The name stored at `index`, if any.
    pub(crate) fn name(&self, index: usize) -> Option<&'static str> {
        self.slots.get(index)?.get().map(|slot| slot.name)
    }

    /// Every registered entry, in slot order (callers sort by name for display).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'static str, &T)> {
        self.slots
            .iter()
            .filter_map(|slot| slot.get().map(|slot| (slot.name, &slot.value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn same_name_gives_same_entry_and_index() {
        let table: NameTable<AtomicU64> = NameTable::with_capacity(8);
        let (a, counter) = table.get_or_insert_with("a.page", || AtomicU64::new(0)).unwrap();
        counter.fetch_add(1, Ordering::Relaxed);
        // A different literal with the same text is the same name.
        let owned: &'static str = String::from("a.page").leak();
        let (b, counter) = table.get_or_insert_with(owned, || AtomicU64::new(0)).unwrap();
        assert_eq!(a, b);
        assert_eq!(counter.load(Ordering::Relaxed), 1);
        assert_eq!(table.name(a), Some("a.page"));
    }

    #[test]
    fn fills_up_then_refuses() {
        let table: NameTable<()> = NameTable::with_capacity(4);
        let names = ["a", "b", "c", "d"];
        for name in names {
            assert!(table.get_or_insert_with(name, || ()).is_some());
        }
        assert!(table.get_or_insert_with("e", || ()).is_none());
        for name in names {
            assert!(
                table.get_or_insert_with(name, || ()).is_some(),
                "existing names still found"
            );
        }
        let mut listed: Vec<&str> = table.iter().map(|(name, _)| name).collect();
        listed.sort_unstable();
        assert_eq!(listed, names);
    }

    #[test]
    fn concurrent_registration_yields_one_entry_per_name() {
        let table: std::sync::Arc<NameTable<AtomicU64>> = std::sync::Arc::new(NameTable::with_capacity(16));
        const NAMES: [&str; 10] = ["q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9"];
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let table = table.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        let name = NAMES[(i + t) % NAMES.len()];
                        let (_, counter) = table.get_or_insert_with(name, || AtomicU64::new(0)).unwrap();
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let entries: Vec<_> = table.iter().collect();
        assert_eq!(entries.len(), NAMES.len());
        let total: u64 = entries.iter().map(|(_, c)| c.load(Ordering::Relaxed)).sum();
        assert_eq!(total, 4000);
    }
}
