//! Whole responses to public catalogue queries, kept in memory. Shoppers and distributors ask
//! for the same product pages, category pages and searches over and over, and everyone but
//! staff sees the same thing; serving a stored body skips parsing, validation and resolving
//! every field, which is most of a catalogue request's cost.
//!
//! A response is stored with what it was computed from: the version of every product it read
//! (a change to a product or its stock moves it), the version of the shared taxonomy
//! (categories, brands, audiences) and, when it searched, the search index's generation. Each
//! version is read *before* the data it guards, so a change that lands while the response is
//! computed makes it stale rather than wrong. A stored body is served only while all of them
//! are unchanged; otherwise the request runs as usual and its response replaces the old one.
//!
//! Only queries whose every field is in [`PUBLIC_FIELDS`] are stored, only for callers who
//! are not staff (staff see drafts and cost prices), and only when they succeeded.
use std::{collections::HashMap, sync::Arc};

use axum::body::Bytes;
use parking_lot::Mutex;

use crate::app::AppState;

/// Root fields whose answers depend only on the catalogue, and the types they reach. Fields of
/// these types read products only through the request's loaders (which record their versions)
/// or the taxonomy caches; a field added to any of them must keep to that.
pub const PUBLIC_FIELDS: &[(&str, &[&str])] = &[
    (
        "QueryRoot",
        &[
            "product",
            "products",
            "category",
            "categories",
            "brands",
            "audiences",
            "searchSuggestions",
            "__typename",
        ],
    ),
    ("Product", &[]),
    ("Sku", &[]),
    ("SpecValue", &[]),
    ("Spec", &[]),
    ("PriceRange", &[]),
    ("ProductImage", &[]),
    ("Category", &[]),
    ("Brand", &[]),
    ("Audience", &[]),
    ("ProductConnection", &[]),
    ("ProductEdge", &[]),
    ("PageInfo", &[]),
    ("ProductFacets", &[]),
    ("CategoryCount", &[]),
    ("BrandCount", &[]),
    ("AudienceCount", &[]),
    ("PriceBucketCount", &[]),
];

/// Whether `field` of `type_name` may be part of a stored response (an empty list admits
/// every field of the type).
pub fn is_public_field(type_name: &str, field: &str) -> bool {
    PUBLIC_FIELDS
        .iter()
        .find(|(t, _)| *t == type_name)
        .is_some_and(|(_, fields)| fields.is_empty() || fields.contains(&field))
}

/// What a response read, noted by the loaders and resolvers while it runs.
#[derive(Default)]
pub struct Recorder {
    inner: Mutex<Recorded>,
}

#[derive(Default, Clone)]
struct Recorded {
    products: Vec<(i64, u64)>,
    search_generation: Option<u64>,
    /// Searches to count again when the response is served from memory (hot keywords).
    keywords: Vec<String>,
    /// Something was read that no version guards: the response must not be stored.
    unguarded: bool,
}

impl Recorder {
    /// Product `id` at `version` (read before the product itself).
    pub fn product(&self, id: i64, version: u64) {
        let mut r = self.inner.lock();
        if !r.products.iter().any(|(p, _)| *p == id) {
            r.products.push((id, version));
        }
    }

    /// A search of the index at `generation` (read before searching).
    pub fn search(&self, generation: u64) {
        let mut r = self.inner.lock();
        // Two searches of different generations cannot both be current later.
        match r.search_generation {
            Some(g) if g != generation => r.unguarded = true,
            _ => r.search_generation = Some(generation),
        }
    }

    pub fn keyword(&self, keyword: &str) {
        self.inner.lock().keywords.push(keyword.to_string());
    }
}

/// A stored response.
pub struct Entry {
    pub body: Bytes,
    pub operation_name: Option<String>,
    shared_version: (u64, u64),
    recorded: Recorded,
}

impl Entry {
    fn current(&self, app: &AppState) -> bool {
        app.catalog.shared_version() == self.shared_version
            && self
                .recorded
                .search_generation
                .is_none_or(|g| g == app.search.generation())
            && app.catalog.products_unchanged(&self.recorded.products)
    }
}

/// A response being computed, to be stored when it succeeds.
pub struct Pending {
    pub recorder: Arc<Recorder>,
    shared_version: (u64, u64),
    key: Bytes,
}

/// Two generations of entries: new ones go into `young`; when it is full it becomes `old` and
/// the previous `old` is dropped. Entries read from `old` move back into `young`, so what is
/// asked for keeps its place and what is not ages out, in bounded memory and without
/// per-entry bookkeeping.
#[derive(Default)]
struct Generations {
    young: HashMap<Bytes, Arc<Entry>>,
    young_bytes: usize,
    old: HashMap<Bytes, Arc<Entry>>,
}

pub struct ResponseCache {
    /// Bytes of keys and bodies one generation may hold (0: the cache is off).
    generation_bytes: usize,
    entries: Mutex<Generations>,
}

/// Overhead per entry beyond its key and body (map slot, entry, version list).
const ENTRY_OVERHEAD: usize = 256;

impl ResponseCache {
    /// A cache of at most about `max_bytes` of responses and their keys.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            generation_bytes: max_bytes / 2,
            entries: Mutex::default(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.generation_bytes > 0
    }

    /// The stored response to the request `key` (its raw body), if it is still current. The
    /// searches it made are counted again.
    pub fn get(&self, app: &AppState, key: &[u8]) -> Option<Arc<Entry>> {
        if !self.enabled() {
            return None;
        }
        let entry = {
            let mut g = self.entries.lock();
            match g.young.get(key) {
                Some(e) => e.clone(),
                None => {
                    let (k, e) = g.old.remove_entry(key)?;
                    Self::insert(&mut g, self.generation_bytes, k, e.clone());
                    e
                }
            }
        };
        if !entry.current(app) {
            return None;
        }
        for k in &entry.recorded.keywords {
            app.keywords.record(k);
        }
        Some(entry)
    }

    /// Starts recording a response to `key`; the shared version is read now, before anything
    /// the response shows.
    pub fn begin(&self, app: &AppState, key: &[u8]) -> Option<Pending> {
        self.enabled().then(|| Pending {
            recorder: Arc::default(),
            shared_version: app.catalog.shared_version(),
            // A request body may be a slice of the connection's whole read buffer: keeping it
            // would keep the buffer.
            key: Bytes::copy_from_slice(key),
        })
    }

    /// Stores a successful response (`body` should own exactly its bytes: see `begin`).
    pub fn put(&self, pending: Pending, body: Bytes, operation_name: Option<String>) {
        let recorded = pending.recorder.inner.lock().clone();
        if recorded.unguarded {
            return;
        }
        let entry = Arc::new(Entry {
            body,
            operation_name,
            shared_version: pending.shared_version,
            recorded,
        });
        let mut g = self.entries.lock();
        g.old.remove(&pending.key);
        Self::insert(&mut g, self.generation_bytes, pending.key, entry);
    }

    fn insert(g: &mut Generations, limit: usize, key: Bytes, entry: Arc<Entry>) {
        let key_len = key.len();
        let size = key_len + entry.body.len() + ENTRY_OVERHEAD;
        if size > limit {
            return;
        }
        if g.young_bytes + size > limit {
            g.old = std::mem::take(&mut g.young);
            g.young_bytes = 0;
        }
        g.young_bytes += size;
        if let Some(previous) = g.young.insert(key, entry) {
            g.young_bytes -= key_len + previous.body.len() + ENTRY_OVERHEAD;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(body: &str) -> Arc<Entry> {
        Arc::new(Entry {
            body: Bytes::from(body.to_string()),
            operation_name: None,
            shared_version: (0, 0),
            recorded: Recorded::default(),
        })
    }

    #[test]
    fn only_catalogue_fields_are_public() {
        assert!(is_public_field("QueryRoot", "product"));
        assert!(is_public_field("Sku", "costPrice"));
        assert!(!is_public_field("QueryRoot", "me"));
        assert!(!is_public_field("QueryRoot", "node"));
        assert!(!is_public_field("Order", "id"));
    }

    #[test]
    fn the_generations_keep_what_is_asked_for_within_the_limit() {
        let mut g = Generations::default();
        let limit = 3 * (ENTRY_OVERHEAD + 3);
        for k in ["a", "b", "c"] {
            Generations::insert_for_test(&mut g, limit, k);
        }
        assert_eq!(g.young.len(), 3);
        // The fourth starts a new generation; the first three become old.
        Generations::insert_for_test(&mut g, limit, "d");
        assert_eq!((g.young.len(), g.old.len()), (1, 3));
        // Reading "a" from the old generation moves it back.
        let (k, e) = g.old.remove_entry(b"a".as_slice()).unwrap();
        ResponseCache::insert(&mut g, limit, k, e);
        assert!(g.young.contains_key(b"a".as_slice()));
        // Two more fill the young generation and push out b and c, which nobody asked for.
        Generations::insert_for_test(&mut g, limit, "e");
        Generations::insert_for_test(&mut g, limit, "f");
        assert!(g.young.contains_key(b"f".as_slice()) || g.old.contains_key(b"f".as_slice()));
        assert!(!g.young.contains_key(b"b".as_slice()) && !g.old.contains_key(b"b".as_slice()));
        assert!(g.young.contains_key(b"a".as_slice()) || g.old.contains_key(b"a".as_slice()));
        assert!(g.young_bytes <= limit);
    }

    #[test]
    fn an_entry_larger_than_a_generation_is_not_kept() {
        let mut g = Generations::default();
        ResponseCache::insert(&mut g, 10, Bytes::from_static(b"k"), entry("body"));
        assert!(g.young.is_empty());
    }

    #[test]
    fn replacing_an_entry_counts_its_size_once() {
        let mut g = Generations::default();
        let limit = 10 * ENTRY_OVERHEAD;
        ResponseCache::insert(&mut g, limit, Bytes::from_static(b"k"), entry("12345"));
        ResponseCache::insert(&mut g, limit, Bytes::from_static(b"k"), entry("12"));
        assert_eq!(g.young_bytes, 1 + 2 + ENTRY_OVERHEAD);
    }

    #[test]
    fn a_response_over_two_generations_of_the_index_is_not_kept() {
        let r = Recorder::default();
        r.search(3);
        r.search(3);
        assert!(!r.inner.lock().unguarded);
        r.search(4);
        assert!(r.inner.lock().unguarded);
    }

    impl Generations {
        fn insert_for_test(g: &mut Generations, limit: usize, key: &str) {
            ResponseCache::insert(g, limit, Bytes::from(key.to_string()), entry("xx"));
        }
    }
}
