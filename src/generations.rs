//! A map bounded in two generations. New entries go into `young`; when it is full it becomes
//! `old` and the previous `old` is dropped. An entry found in `old` is moved back into `young`,
//! so what is asked for keeps its place and what is not ages out, in bounded memory and
//! without per-entry bookkeeping. Each entry has a size (bytes, or 1 to bound a count); the
//! two generations together hold at most `limit`.
use std::{borrow::Borrow, collections::HashMap, hash::Hash};

pub struct Generations<K, V> {
    young: HashMap<K, (V, usize)>,
    young_size: usize,
    old: HashMap<K, (V, usize)>,
    /// What one generation may hold.
    generation_limit: usize,
}

impl<K: Hash + Eq + Clone, V: Clone> Generations<K, V> {
    /// A map of at most `limit` in all (0: it keeps nothing).
    pub fn new(limit: usize) -> Self {
        Self {
            young: HashMap::new(),
            young_size: 0,
            old: HashMap::new(),
            generation_limit: limit / 2,
        }
    }

    /// The entry for `key`, moved to the young generation if it was old.
    pub fn get<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some((v, _)) = self.young.get(key) {
            return Some(v.clone());
        }
        let (k, (v, size)) = self.old.remove_entry(key)?;
        self.insert(k, v.clone(), size);
        Some(v)
    }

    /// The entry for `key`, left where it is (for readers that hold only a shared lock), and
    /// whether it is old, so that the caller can `get` it later to keep it.
    pub fn peek<Q>(&self, key: &Q) -> Option<(&V, bool)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match self.young.get(key) {
            Some((v, _)) => Some((v, false)),
            None => self.old.get(key).map(|(v, _)| (v, true)),
        }
    }

    /// Keeps `value` under `key` in the young generation, unless `size` is more than a
    /// generation holds.
    pub fn insert(&mut self, key: K, value: V, size: usize) {
        if size > self.generation_limit {
            self.remove(&key);
            return;
        }
        self.old.remove(&key);
        if let Some((_, previous)) = self.young.remove(&key) {
            self.young_size -= previous;
        }
        if self.young_size + size > self.generation_limit {
            self.old = std::mem::take(&mut self.young);
            self.young_size = 0;
        }
        self.young_size += size;
        self.young.insert(key, (value, size));
    }

    pub fn remove<Q>(&mut self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some((_, size)) = self.young.remove(key) {
            self.young_size -= size;
        }
        self.old.remove(key);
    }

    pub fn clear(&mut self) {
        self.young.clear();
        self.old.clear();
        self.young_size = 0;
    }

    pub fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(g: &Generations<&'static str, u32>, key: &str) -> bool {
        g.peek(key).is_some()
    }

    #[test]
    fn keeps_what_is_asked_for_within_the_limit() {
        let mut g = Generations::new(6);
        for k in ["a", "b", "c"] {
            g.insert(k, 1, 1);
        }
        assert_eq!(g.len(), 3);
        // The fourth starts a new generation; the first three become old.
        g.insert("d", 1, 1);
        assert_eq!(g.peek("a"), Some((&1, true)));
        assert_eq!(g.peek("d"), Some((&1, false)));
        // Asking for "a" moves it back.
        assert_eq!(g.get("a"), Some(1));
        assert_eq!(g.peek("a"), Some((&1, false)));
        // Two more fill the young generation and push out b and c, which nobody asked for.
        g.insert("e", 1, 1);
        g.insert("f", 1, 1);
        assert!(has(&g, "a") && has(&g, "f"));
        assert!(!has(&g, "b") && !has(&g, "c"));
        assert!(g.len() <= 6);
    }

    #[test]
    fn sizes_count_once_and_oversized_entries_are_not_kept() {
        let mut g = Generations::new(20);
        g.insert("k", 1, 5);
        g.insert("k", 2, 3);
        assert_eq!(g.young_size, 3);
        assert_eq!(g.get("k"), Some(2));
        g.insert("big", 3, 11);
        assert!(!has(&g, "big"));
        g.insert("k", 4, 11);
        assert!(
            !has(&g, "k"),
            "a replacement too large drops the old value too"
        );
        g.remove("nothing");
        g.insert("x", 5, 2);
        g.clear();
        assert!(g.is_empty());
        let mut off: Generations<&str, u32> = Generations::new(0);
        off.insert("a", 1, 1);
        assert!(off.is_empty());
    }
}
