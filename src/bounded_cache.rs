//! A map bounded by a total size, which evicts by CLOCK (second chance). Each entry has a
//! size (bytes, or 1 to bound a count), and the entries together hold at most the limit, all
//! of it usable: a cache of 10,000 products keeps 10,000 products.
//!
//! Finding an entry only sets its `used` flag, an atomic, so readers need no more than a
//! shared lock. To make room, a hand sweeps the slots in a ring: an entry used since the hand
//! last passed loses its flag and stays, one that was not is dropped. What is asked for again
//! stays; what is not ages out after about one sweep, without per-read bookkeeping.
use std::{
    borrow::Borrow,
    collections::HashMap,
    hash::Hash,
    sync::atomic::{AtomicBool, Ordering},
};

pub struct BoundedCache<K, V> {
    /// Where each key's entry is in `slots`.
    index: HashMap<K, usize>,
    slots: Vec<Option<Slot<K, V>>>,
    /// Empty slots, filled before the ring grows.
    free: Vec<usize>,
    /// The next slot the sweep looks at.
    hand: usize,
    size: usize,
    limit: usize,
}

struct Slot<K, V> {
    key: K,
    value: V,
    size: usize,
    used: AtomicBool,
}

impl<K: Hash + Eq + Clone, V> BoundedCache<K, V> {
    /// A map of at most `limit` in all (0: it keeps nothing).
    pub fn new(limit: usize) -> Self {
        Self {
            index: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            hand: 0,
            size: 0,
            limit,
        }
    }

    /// The entry for `key`, marked as used so the next sweep keeps it.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let slot = self.slot(key)?;
        // Read first: most reads find the flag set, and a store would bounce the cache line
        // between the cores reading the same entry.
        if !slot.used.load(Ordering::Relaxed) {
            slot.used.store(true, Ordering::Relaxed);
        }
        Some(&slot.value)
    }

    /// The entry for `key`, not marked: for a writer updating it, which is no reader's use.
    pub fn peek<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.slot(key).map(|slot| &slot.value)
    }

    fn slot<Q>(&self, key: &Q) -> Option<&Slot<K, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.slots[*self.index.get(key)?].as_ref()
    }

    /// Keeps `value` under `key` (replacing what was there), dropping entries not used
    /// lately to make room; nothing is kept when `size` is more than the whole limit.
    pub fn insert(&mut self, key: K, value: V, size: usize) {
        // A replaced entry keeps its flag: a product whose stock changes with every order is
        // as much in use after the change as before. A new one must be asked for again to
        // outlast the next sweep.
        let used = self
            .index
            .get(&key)
            .copied()
            .and_then(|at| self.take(at))
            .is_some_and(|slot| slot.used.into_inner());
        if size > self.limit {
            return;
        }
        while self.size + size > self.limit && !self.index.is_empty() {
            self.evict_one();
        }
        let slot = Slot {
            key: key.clone(),
            value,
            size,
            used: AtomicBool::new(used),
        };
        let at = match self.free.pop() {
            Some(at) => {
                self.slots[at] = Some(slot);
                at
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        self.index.insert(key, at);
        self.size += size;
    }

    /// Drops the first entry at or after the hand that was not used since the hand last
    /// passed it (at most two turns of the ring: the first clears every flag).
    fn evict_one(&mut self) {
        loop {
            if self.hand >= self.slots.len() {
                self.hand = 0;
            }
            let at = self.hand;
            self.hand += 1;
            let Some(slot) = &self.slots[at] else {
                continue;
            };
            if slot.used.swap(false, Ordering::Relaxed) {
                continue;
            }
            self.take(at);
            return;
        }
    }

    fn take(&mut self, at: usize) -> Option<Slot<K, V>> {
        let slot = self.slots[at].take()?;
        self.index.remove(&slot.key);
        self.size -= slot.size;
        self.free.push(at);
        Some(slot)
    }

    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let at = *self.index.get(key)?;
        self.take(at).map(|slot| slot.value)
    }

    pub fn clear(&mut self) {
        self.index.clear();
        self.slots.clear();
        self.free.clear();
        self.hand = 0;
        self.size = 0;
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(c: &BoundedCache<&'static str, u32>, key: &str) -> bool {
        c.index.contains_key(key)
    }

    #[test]
    fn holds_up_to_the_whole_limit() {
        let mut c = BoundedCache::new(1_000);
        for k in 0..1_000 {
            c.insert(k, k, 1);
        }
        assert_eq!(c.len(), 1_000);
        assert!((0..1_000).all(|k| c.get(&k) == Some(&k)));
        c.insert(1_000, 1_000, 1);
        assert_eq!(c.len(), 1_000, "one out for one in");
    }

    #[test]
    fn what_is_asked_for_stays_and_the_rest_ages_out() {
        let mut c = BoundedCache::new(4);
        for k in ["a", "b", "c", "d"] {
            c.insert(k, 1, 1);
        }
        assert_eq!(c.get("a"), Some(&1));
        assert_eq!(c.get("c"), Some(&1));
        c.insert("e", 1, 1);
        c.insert("f", 1, 1);
        assert!(has(&c, "a") && has(&c, "c"), "used since the sweep began");
        assert!(!has(&c, "b") && !has(&c, "d"), "never asked for again");
        assert!(has(&c, "e") && has(&c, "f"));
        // The survivors lost their flags: unless asked for again, they go next.
        c.get("e");
        c.get("f");
        c.insert("g", 1, 1);
        c.insert("h", 1, 1);
        assert!(!has(&c, "a") && !has(&c, "c"));
        assert!(has(&c, "e") && has(&c, "f") && has(&c, "g") && has(&c, "h"));
    }

    #[test]
    fn a_replaced_entry_stays_as_used_as_it_was() {
        let mut c = BoundedCache::new(2);
        c.insert("hot", 1, 1);
        c.insert("cold", 1, 1);
        c.get("hot");
        c.insert("hot", 2, 1);
        c.insert("new", 1, 1);
        assert!(has(&c, "hot") && has(&c, "new"));
        assert!(!has(&c, "cold"));
        assert_eq!(c.get("hot"), Some(&2));
    }

    #[test]
    fn a_peek_is_not_a_use() {
        let mut c = BoundedCache::new(2);
        c.insert("peeked", 1, 1);
        c.insert("next", 1, 1);
        assert_eq!(c.peek("peeked"), Some(&1));
        c.insert("new", 1, 1);
        assert!(
            !has(&c, "peeked") && has(&c, "next"),
            "the sweep took it first"
        );
    }

    #[test]
    fn sizes_count_once_and_oversized_entries_are_not_kept() {
        let mut c = BoundedCache::new(20);
        c.insert("k", 1, 5);
        c.insert("k", 2, 3);
        assert_eq!(c.size, 3);
        assert_eq!(c.get("k"), Some(&2));
        c.insert("big", 3, 21);
        assert!(!has(&c, "big"));
        c.insert("k", 4, 21);
        assert!(
            !has(&c, "k"),
            "a replacement too large drops the old value too"
        );
        c.insert("x", 5, 15);
        c.insert("y", 6, 10);
        assert!(!has(&c, "x") && has(&c, "y"), "room is made by size");
        assert_eq!(c.size, 10);
        assert_eq!(c.remove("nothing"), None);
        assert_eq!(c.remove("y"), Some(6));
        c.insert("z", 7, 2);
        assert_eq!(c.slots.len(), 1, "a freed slot is filled again");
        c.clear();
        assert!(c.is_empty());
        let mut off: BoundedCache<&str, u32> = BoundedCache::new(0);
        off.insert("a", 1, 1);
        assert!(off.is_empty());
    }
}
